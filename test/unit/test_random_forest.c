/*
 * test_random_forest.c
 *		Unit tests of the random-forest kernel, without a server: Gini splits
 *		and importances worked out by hand, the root split against a
 *		brute-force search, separable data, leaf fractions and
 *		min_samples_leaf / max_depth re-checked by walking the training rows,
 *		constant features, probabilities, labels, reproducibility, the
 *		validator against corrupted forests, and the error and memory paths.
 *		Prints TAP; exits non-zero when a check fails.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forest_test_util.h"
#include "random_forest.h"
#include "tap.h"

static int
close_to(double a, double b, double tol)
{
	return fabs(a - b) <= tol * (1.0 + fabs(b));
}

static RandomForestParams
single_tree_params(uint32_t max_features)
{
	RandomForestParams p = rf_default_params(1);

	p.n_trees = 1;
	p.bootstrap = false;
	p.max_features = max_features;
	return p;
}

/* ---- Gini by hand ---- */

static void
test_stump_by_hand(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	double		x[6] = {1, 2, 3, 4, 5, 6};
	int32_t		y[6] = {0, 0, 1, 0, 1, 1};
	RandomForest rf;
	RandomForestParams p = single_tree_params(1);
	const ForestNode *n;

	/*
	 * sum_left n_k^2 / W_left + sum_right n_k^2 / W_right at each boundary:
	 * 1|5: 1 + 13/5 = 3.6;  2|4: 2 + 10/4 = 4.5;  3|3: 5/3 + 5/3 = 3.33;
	 * 4|2: 10/4 + 2 = 4.5;  5|1: 13/5 + 1 = 3.6.  The tie goes to the first,
	 * the threshold midway between 2 and 3; children Gini 0 and
	 * 1 - (1 + 9)/16 = 0.375, decrease 0.5 - (4/6) 0.375 = 0.25.
	 */
	p.max_depth = 1;
	check(rf_train(x, y, 6, 1, &p, &host, &rf) == FOREST_OK && rf.n_nodes == 3,
		  "a depth-1 stump on 6 rows: 3 nodes");
	n = rf.nodes;
	check(n[0].feature == 0 && n[0].threshold == 2.5 && n[0].payload == 2,
		  "best Gini split x <= 2.5 (the first of two equal ones)");
	check(n[1].feature == FOREST_LEAF && n[2].feature == FOREST_LEAF &&
		  rf.leaf_proba[0] == 1.0 && rf.leaf_proba[1] == 0.0 &&
		  rf.leaf_proba[2] == 0.25 && rf.leaf_proba[3] == 0.75,
		  "leaves hold class fractions (1, 0) and (1/4, 3/4)");
	check(rf.importances[0] == 1.0, "one feature: importance 1");
	rf_free(&rf, &host);

	/* min_samples_leaf 3 leaves only 3|3. */
	p.min_samples_leaf = 3;
	check(rf_train(x, y, 6, 1, &p, &host, &rf) == FOREST_OK && rf.nodes[0].threshold == 3.5,
		  "min_samples_leaf 3: only the 3|3 split is allowed, x <= 3.5");
	rf_free(&rf, &host);
	p.min_samples_leaf = 4;
	check(rf_train(x, y, 6, 1, &p, &host, &rf) == FOREST_OK && rf.n_nodes == 1 &&
		  rf.leaf_proba[0] == 0.5 && rf.importances[0] == 0.0,
		  "min_samples_leaf 4 on 6 rows: a single leaf (1/2, 1/2), importances 0");
	rf_free(&rf, &host);
	check(mem.live == 0, "no memory left behind");
}

static void
test_importances_by_hand(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	/* (0,0) x3 class 0, (0,1) class 0, (1,0) x2 class 0, (1,1) x2 class 1 */
	double		x[16] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1};
	int32_t		y[8] = {0, 0, 0, 0, 0, 0, 1, 1};
	RandomForest rf;
	RandomForestParams p = single_tree_params(2);
	const ForestNode *n;

	/*
	 * Root: x0 gives 16/4 + 8/4 = 6, x1 gives 25/5 + 5/3 = 6.67: x1 <= 0.5.
	 * Left (5 rows) is pure; right (1 class 0, 2 class 1) splits on x0.
	 * Root W G = 8 (1 - 40/64) = 3, right W G = 3 (1 - 5/9) = 4/3:
	 * decreases 3 - 4/3 = 5/3 (x1) and 4/3 (x0), importances 4/9 and 5/9.
	 */
	check(rf_train(x, y, 8, 2, &p, &host, &rf) == FOREST_OK && rf.n_nodes == 5,
		  "two features, all searched: a tree of 5 nodes");
	n = rf.nodes;
	check(n[0].feature == 1 && n[0].threshold == 0.5 && n[0].payload == 2 &&
		  n[1].feature == FOREST_LEAF && n[2].feature == 0 && n[2].threshold == 0.5,
		  "root splits x1 <= 0.5, its right child x0 <= 0.5");
	check(close_to(rf.importances[0], 4.0 / 9.0, 1e-15) &&
		  close_to(rf.importances[1], 5.0 / 9.0, 1e-15),
		  "importances 4/9 and 5/9 from the Gini decreases 4/3 and 5/3");
	rf_free(&rf, &host);
}

/* ---- the root split against a brute-force search ---- */

/* The largest weighted Gini decrease of any split of all rows. */
static double
brute_force_best_decrease(const double *x, const int32_t *y, int n, int d, int min_leaf)
{
	double		best = 0.0;

	for (int f = 0; f < d; f++)
		for (int a = 0; a < n; a++)
		{
			double		t = x[a * d + f];
			double		wl = 0,
						wr = 0,
						l1 = 0,
						r1 = 0,
						g,
						gl,
						gr;

			for (int i = 0; i < n; i++)
			{
				if (x[i * d + f] <= t)
				{
					wl++;
					l1 += y[i];
				}
				else
				{
					wr++;
					r1 += y[i];
				}
			}
			if (wl < min_leaf || wr < min_leaf)
				continue;
			g = 1 - ((l1 + r1) * (l1 + r1) + (n - l1 - r1) * (n - l1 - r1)) / ((double) n * n);
			gl = 1 - (l1 * l1 + (wl - l1) * (wl - l1)) / (wl * wl);
			gr = 1 - (r1 * r1 + (wr - r1) * (wr - r1)) / (wr * wr);
			if (n * g - wl * gl - wr * gr > best)
				best = n * g - wl * gl - wr * gr;
		}
	return best;
}

static void
test_root_split_brute_force(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 120, D = 4
	};
	double		x[N * D];
	int32_t		y[N];
	int			ok = 1;

	for (int trial = 0; trial < 40; trial++)
	{
		RandomForest rf;
		RandomForestParams p = single_tree_params(D);
		int			min_leaf = 1 + trial % 7;
		double		w = 0,
					wl = 0,
					c1 = 0,
					l1 = 0,
					g,
					gl,
					gr,
					decrease;

		/* Coarse values (many ties) and labels related to them. */
		for (int i = 0; i < N; i++)
		{
			for (int f = 0; f < D; f++)
				x[i * D + f] = floor(test_uniform() * (trial % 2 ? 6 : 1000));
			y[i] = x[i * D] + x[i * D + 1] + 300 * test_normal() > (trial % 2 ? 5 : 1000);
		}
		p.max_depth = 1;
		p.min_samples_leaf = (uint32_t) min_leaf;
		p.seed = (uint64_t) trial;
		if (rf_train(x, y, N, D, &p, &host, &rf) != FOREST_OK)
		{
			ok = 0;
			continue;
		}
		if (rf.n_nodes == 3)
		{
			/* The kernel's split, re-evaluated on the rows. */
			for (int i = 0; i < N; i++)
			{
				int			left = x[i * D + rf.nodes[0].feature] <= rf.nodes[0].threshold;

				w++;
				c1 += y[i];
				wl += left;
				l1 += left ? y[i] : 0;
			}
			g = 1 - (c1 * c1 + (w - c1) * (w - c1)) / (w * w);
			gl = 1 - (l1 * l1 + (wl - l1) * (wl - l1)) / (wl * wl);
			gr = 1 - ((c1 - l1) * (c1 - l1) + (w - wl - c1 + l1) * (w - wl - c1 + l1)) /
				((w - wl) * (w - wl));
			decrease = w * g - wl * gl - (w - wl) * gr;
			if (!close_to(decrease, brute_force_best_decrease(x, y, N, D, min_leaf), 1e-12) ||
				wl < min_leaf || w - wl < min_leaf)
				ok = 0;
		}
		else if (brute_force_best_decrease(x, y, N, D, min_leaf) > 0.0)
			ok = 0;
		rf_free(&rf, &host);
	}
	check(ok, "40 random data sets, min_samples_leaf 1..7, ties: the root split's Gini "
		  "decrease is the brute-force maximum");
}

/* ---- trained forests re-walked ---- */

/* Noisy 3-class data with ties: x0, x1 informative, x2 coarse, x3 noise. */
static void
make_noisy(double *x, int32_t *y, int n, int d)
{
	for (int i = 0; i < n; i++)
	{
		double		a = test_normal(),
					b = test_normal();

		x[i * d] = a;
		x[i * d + 1] = b;
		x[i * d + 2] = floor(test_uniform() * 4);
		for (int f = 3; f < d; f++)
			x[i * d + f] = test_normal();
		y[i] = a + 0.5 * test_normal() > 0.3 ? 70 : (b + 0.5 * test_normal() > 0 ? -4 : 12);
	}
}

static int
close_to_all(const double *a, const double *b, int n, double tol)
{
	for (int i = 0; i < n; i++)
		if (!close_to(a[i], b[i], tol))
			return 0;
	return 1;
}

static double
gini_of(const double *counts, int k)
{
	double		w = 0.0,
				sq = 0.0;

	for (int c = 0; c < k; c++)
	{
		w += counts[c];
		sq += counts[c] * counts[c];
	}
	return w > 0.0 ? 1.0 - sq / (w * w) : 0.0;
}

/*
 * scikit-learn's feature_importances_ for a forest grown without bootstrap,
 * from scratch: each internal node's W G - W_l G_l - W_r G_r with class
 * counts of the training rows reaching it, per tree divided by the root
 * weight and normalised, averaged over the trees that split, normalised.
 */
static const double *
expected_importances(const RandomForest *rf, const double *x, const int32_t *y, int n, int d)
{
	static double result[16];
	int			k = (int) rf->n_classes;
	int			trees_that_split = 0;
	double		total = 0.0;

	memset(result, 0, sizeof(result));
	for (uint32_t t = 0; t < rf->n_trees; t++)
	{
		const ForestNode *nodes = rf->nodes + rf->tree_start[t];
		uint32_t	size = rf->tree_start[t + 1] - rf->tree_start[t];
		double	   *counts = calloc((size_t) size * k, sizeof(double));
		double		tree[16] = {0},
					tree_total = 0.0;

		if (size == 1)
		{
			free(counts);
			continue;
		}
		for (int i = 0; i < n; i++)
		{
			uint32_t	j = 0;
			int			c = 0;

			while (rf->classes[c] != y[i])
				c++;
			for (;;)
			{
				counts[(size_t) j * k + c] += 1.0;
				if (nodes[j].feature == FOREST_LEAF)
					break;
				j = x[i * d + nodes[j].feature] <= nodes[j].threshold ? j + 1 : nodes[j].payload;
			}
		}
		for (uint32_t j = 0; j < size; j++)
			if (nodes[j].feature != FOREST_LEAF)
			{
				double		w = 0,
							wl = 0,
							wr = 0;
				const double *cn = counts + (size_t) j * k,
						   *cl = counts + (size_t) (j + 1) * k,
						   *cr = counts + (size_t) nodes[j].payload * k;

				for (int c = 0; c < k; c++)
				{
					w += cn[c];
					wl += cl[c];
					wr += cr[c];
				}
				tree[nodes[j].feature] += w * gini_of(cn, k) - wl * gini_of(cl, k) -
					wr * gini_of(cr, k);
			}
		for (int f = 0; f < d; f++)
		{
			tree[f] /= n;
			tree_total += tree[f];
		}
		for (int f = 0; f < d; f++)
			result[f] += tree_total > 0 ? tree[f] / tree_total : tree[f];
		trees_that_split++;
		free(counts);
	}
	for (int f = 0; f < d; f++)
	{
		result[f] /= trees_that_split;
		total += result[f];
	}
	for (int f = 0; f < d; f++)
		result[f] /= total;
	return result;
}

static void
test_leaves_without_bootstrap(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 600, D = 5, K = 3
	};
	static double x[N * D];
	static int32_t y[N];
	RandomForest rf;
	RandomForestParams p = rf_default_params(99);
	int			fractions_ok = 1,
				min_leaf_ok = 1,
				depth_ok = 1;
	uint32_t	deepest = 0;

	make_noisy(x, y, N, D);
	p.n_trees = 20;
	p.bootstrap = false;
	p.min_samples_leaf = 7;
	p.max_depth = 6;
	check(rf_train(x, y, N, D, &p, &host, &rf) == FOREST_OK && rf.n_classes == K &&
		  rf.classes[0] == -4 && rf.classes[1] == 12 && rf.classes[2] == 70,
		  "classes -4, 12, 70 in ascending order");

	for (uint32_t t = 0; t < rf.n_trees; t++)
	{
		uint32_t	size = rf.tree_start[t + 1] - rf.tree_start[t];
		uint32_t   *rows = calloc(size, sizeof(uint32_t));
		uint32_t   *counts = calloc((size_t) size * K, sizeof(uint32_t));

		for (int i = 0; i < N; i++)
		{
			uint32_t	depth;
			uint32_t	leaf = forest_tree_leaf(rf.nodes + rf.tree_start[t], x + i * D, &depth);
			uint32_t	k = y[i] == -4 ? 0 : y[i] == 12 ? 1 : 2;

			rows[leaf]++;
			counts[(size_t) leaf * K + k]++;
			deepest = depth > deepest ? depth : deepest;
			if (depth > 6)
				depth_ok = 0;
		}
		for (uint32_t j = 0; j < size; j++)
		{
			const ForestNode *node = &rf.nodes[rf.tree_start[t] + j];

			if (node->feature != FOREST_LEAF)
				continue;
			if (rows[j] < 7)
				min_leaf_ok = 0;
			for (uint32_t k = 0; k < K; k++)
				if (rf.leaf_proba[(size_t) node->payload * K + k] !=
					(double) counts[(size_t) j * K + k] / rows[j])
					fractions_ok = 0;
		}
		free(rows);
		free(counts);
	}
	check(min_leaf_ok, "min_samples_leaf 7: every leaf holds >= 7 training rows");
	check(close_to_all(rf.importances, expected_importances(&rf, x, y, N, D), D, 1e-12),
		  "importances recomputed from the rows reaching each node: per-tree decreases "
		  "normalised, averaged, normalised");
	check(depth_ok && deepest == 6, "max_depth 6: no row goes deeper, some reach 6");
	check(fractions_ok, "each leaf's probabilities are the class fractions of its rows");
	check(rf_validate(&rf, &host) == FOREST_OK, "the forest passes the validator");
	rf_free(&rf, &host);
}

static void
test_separable(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 400, D = 6
	};
	static double x[N * D];
	static int32_t y[N];
	RandomForest rf;
	RandomForestParams p = rf_default_params(3);
	int			correct = 0,
				pure = 1,
				tree_correct = 1,
				sums_ok = 1,
				batch_ok = 1;
	double		proba[2];
	double	   *batch = malloc(sizeof(double) * 2 * N);

	/* class = x0 + x1 > 0 with a margin; x4 constant, the rest noise */
	for (int i = 0; i < N; i++)
	{
		double		s;

		for (int f = 0; f < D; f++)
			x[i * D + f] = test_normal();
		x[i * D + 4] = 2.5;
		s = x[i * D] + x[i * D + 1];
		x[i * D] += s > 0 ? 0.3 : -0.3;
		y[i] = s > 0 ? 1 : 0;
	}
	check(rf_train(x, y, N, D, &p, &host, &rf) == FOREST_OK, "default forest on separable data");
	for (int i = 0; i < N; i++)
		correct += rf_predict(&rf, x + i * D, proba) == y[i];
	check(correct == N, "100% training accuracy");
	for (uint32_t leaf = 0; leaf < rf.n_leaves; leaf++)
		if (rf.leaf_proba[2 * leaf] != 0.0 && rf.leaf_proba[2 * leaf] != 1.0)
			pure = 0;
	check(pure, "grown to unlimited depth, every leaf is pure");
	check(rf.importances[4] == 0.0, "the constant feature has importance 0");
	check(rf.importances[0] + rf.importances[1] > 0.5,
		  "the two informative features carry most of the importance");
	rf_predict_proba_rows(&rf, x, N, batch);
	for (int i = 0; i < N; i++)
	{
		double		row[2];

		rf_predict_proba(&rf, x + i * D, row);
		if (row[0] != batch[2 * i] || row[1] != batch[2 * i + 1])
			batch_ok = 0;
	}
	check(batch_ok, "rf_predict_proba_rows equals rf_predict_proba row by row");
	rf_free(&rf, &host);

	/* Without bootstrap each tree alone classifies every training row. */
	p.bootstrap = false;
	p.n_trees = 10;
	rf_train(x, y, N, D, &p, &host, &rf);
	for (uint32_t t = 0; t < rf.n_trees; t++)
		for (int i = 0; i < N; i++)
		{
			const ForestNode *leaf = &rf.nodes[rf_tree_leaf(&rf, t, x + i * D)];

			if (rf.leaf_proba[2 * leaf->payload + (uint32_t) y[i]] != 1.0)
				tree_correct = 0;
		}
	check(tree_correct, "without bootstrap, every tree puts every training row in a pure "
		  "leaf of its class");
	rf_free(&rf, &host);

	/* Probabilities of unseen rows sum to 1. */
	p = rf_default_params(4);
	rf_train(x, y, N, D, &p, &host, &rf);
	for (int i = 0; i < 1000; i++)
	{
		double		row[D];

		for (int f = 0; f < D; f++)
			row[f] = 3.0 * test_normal();
		rf_predict_proba(&rf, row, proba);
		if (!(proba[0] >= 0.0 && proba[1] >= 0.0 && fabs(proba[0] + proba[1] - 1.0) < 1e-12))
			sums_ok = 0;
	}
	check(sums_ok, "1000 random rows: probabilities in [0, 1] summing to 1");
	rf_free(&rf, &host);
	free(batch);
	check(mem.live == 0, "no memory left behind");
}

static void
test_constant_features(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 200, D = 9
	};
	static double x[N * D];
	static int32_t y[N];
	RandomForest rf;
	RandomForestParams p = rf_default_params(8);
	int			correct = 0;
	int			only_f5 = 1;
	double		proba[2];

	/* Eight constant features and one that separates: max_features 1 must
	 * keep drawing past the constants. */
	for (int i = 0; i < N; i++)
	{
		for (int f = 0; f < D; f++)
			x[i * D + f] = f;
		x[i * D + 5] = i;
		y[i] = i >= N / 3;
	}
	p.max_features = 1;
	check(rf_train(x, y, N, D, &p, &host, &rf) == FOREST_OK, "train with 8 constant features of 9");
	for (int i = 0; i < N; i++)
		correct += rf_predict(&rf, x + i * D, proba) == y[i];
	for (uint32_t i = 0; i < rf.n_nodes; i++)
		if (rf.nodes[i].feature != FOREST_LEAF && rf.nodes[i].feature != 5)
			only_f5 = 0;
	check(correct == N && only_f5 && rf.importances[5] == 1.0,
		  "every split on the one varying feature, 100% accuracy, its importance 1");
	rf_free(&rf, &host);
}

static void
test_predict_ties(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	ForestNode	nodes[2] = {{0.0, FOREST_LEAF, 0}, {0.0, FOREST_LEAF, 1}};
	uint32_t	starts[3] = {0, 1, 2};
	int32_t		classes[2] = {-1, 5};
	double		proba_rows[4] = {1.0, 0.0, 0.0, 1.0};
	double		importances[1] = {0.0};
	RandomForest rf = {1, 2, 2, 2, 2, classes, starts, nodes, proba_rows, importances};
	double		x[1] = {0.0};
	double		proba[2];

	check(rf_validate(&rf, &host) == FOREST_OK, "hand-built forest of two single leaves is valid");
	check(rf_predict(&rf, x, proba) == -1 && proba[0] == 0.5 && proba[1] == 0.5,
		  "probabilities (1/2, 1/2): predict returns the first class");
}

/* ---- reproducibility ---- */

static int
same_rf(const RandomForest *a, const RandomForest *b, uint32_t trees)
{
	uint32_t	leaves = 0;

	for (uint32_t i = 0; i < a->tree_start[trees]; i++)
		leaves += a->nodes[i].feature == FOREST_LEAF;
	return a->tree_start[trees] == b->tree_start[trees] &&
		memcmp(a->nodes, b->nodes, sizeof(ForestNode) * a->tree_start[trees]) == 0 &&
		memcmp(a->leaf_proba, b->leaf_proba, sizeof(double) * leaves * a->n_classes) == 0;
}

static void
test_reproducible(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 500, D = 5
	};
	static double x[N * D];
	static int32_t y[N];
	RandomForest a,
				b,
				c,
				half;
	RandomForestParams p = rf_default_params(77);
	int			differ = 0;
	double		pa[3],
				pc[3];

	make_noisy(x, y, N, D);
	p.n_trees = 30;
	rf_train(x, y, N, D, &p, &host, &a);
	rf_train(x, y, N, D, &p, &host, &b);
	check(same_rf(&a, &b, 30) &&
		  memcmp(a.importances, b.importances, sizeof(double) * D) == 0,
		  "same seed: identical forests and importances");
	p.seed = 78;
	rf_train(x, y, N, D, &p, &host, &c);
	for (int i = 0; i < N; i++)
	{
		rf_predict_proba(&a, x + i * D, pa);
		rf_predict_proba(&c, x + i * D, pc);
		differ += memcmp(pa, pc, sizeof(pa)) != 0;
	}
	check(!same_rf(&a, &c, 1) && differ > 0, "another seed: different trees and probabilities");
	p.seed = 77;
	p.n_trees = 10;
	rf_train(x, y, N, D, &p, &host, &half);
	check(same_rf(&a, &half, 10), "a tree depends only on (seed, tree number)");
	rf_free(&a, &host);
	rf_free(&b, &host);
	rf_free(&c, &host);
	rf_free(&half, &host);
	check(mem.live == 0, "no memory left behind");
}

/* ---- bootstrap ---- */

/* Trees a and b have the same nodes (leaves compared by position only). */
static int
same_splits(const RandomForest *rf, uint32_t a, uint32_t b)
{
	uint32_t	size = rf->tree_start[a + 1] - rf->tree_start[a];
	const ForestNode *na = rf->nodes + rf->tree_start[a],
			   *nb = rf->nodes + rf->tree_start[b];

	if (size != rf->tree_start[b + 1] - rf->tree_start[b])
		return 0;
	for (uint32_t i = 0; i < size; i++)
		if (na[i].feature != nb[i].feature || na[i].threshold != nb[i].threshold ||
			(na[i].feature != FOREST_LEAF && na[i].payload != nb[i].payload))
			return 0;
	return 1;
}

static void
test_bootstrap(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 100, D = 3, TREES = 2000
	};
	static double x[N * D];
	static int32_t y[N];
	RandomForest rf;
	RandomForestParams p = rf_default_params(21);
	double		mean = 0.0,
				var = 0.0;
	int			like_first;

	for (int i = 0; i < N; i++)
	{
		for (int f = 0; f < D; f++)
			x[i * D + f] = test_normal();
		y[i] = i % 2;
	}

	/*
	 * Trees of one leaf (min_samples_leaf = n): the leaf's class-1 fraction is
	 * that of n draws with replacement, binomial(100, 1/2) / 100, variance
	 * 1/400 (0.0025, estimated from 2000 trees with sd 0.00008).
	 */
	p.n_trees = TREES;
	p.min_samples_leaf = N;
	rf_train(x, y, N, D, &p, &host, &rf);
	for (uint32_t t = 0; t < TREES; t++)
		mean += rf.leaf_proba[2 * t + 1] / TREES;
	for (uint32_t t = 0; t < TREES; t++)
		var += (rf.leaf_proba[2 * t + 1] - mean) * (rf.leaf_proba[2 * t + 1] - mean) / (TREES - 1);
	check(rf.n_nodes == TREES && fabs(mean - 0.5) < 0.005 && fabs(var - 0.0025) < 0.0004,
		  "bootstrap: one-leaf trees' class fractions vary as n draws with replacement");
	rf_free(&rf, &host);

	/*
	 * All features searched and one clean split (x0 > 0): only the bootstrap
	 * can move the threshold (the midpoint of the rows drawn either side).
	 */
	for (int i = 0; i < N; i++)
		y[i] = x[i * D] > 0.0;
	p.min_samples_leaf = 1;
	p.max_features = D;
	p.n_trees = 20;
	rf_train(x, y, N, D, &p, &host, &rf);
	like_first = 0;
	for (uint32_t t = 1; t < 20; t++)
		like_first += same_splits(&rf, 0, t);
	check(like_first < 10, "with bootstrap, most of 20 trees searching every feature differ "
		  "from the first");
	rf_free(&rf, &host);
	p.bootstrap = false;
	rf_train(x, y, N, D, &p, &host, &rf);
	like_first = 0;
	for (uint32_t t = 1; t < 20; t++)
		like_first += same_splits(&rf, 0, t);
	check(rf.tree_start[1] == 3 && like_first == 19, "without bootstrap, all are the same stump");
	rf_free(&rf, &host);
}

/* ---- importances ---- */

static void
test_importances(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 800, D = 8
	};
	static double x[N * D];
	static int32_t y[N];
	RandomForest rf;
	RandomForestParams p = rf_default_params(5);
	double		sum = 0.0;
	int			nonnegative = 1,
				largest_first = 1;

	/* Only x0 matters. */
	for (int i = 0; i < N; i++)
	{
		for (int f = 0; f < D; f++)
			x[i * D + f] = test_normal();
		y[i] = x[i * D] + 0.3 * test_normal() > 0;
	}
	rf_train(x, y, N, D, &p, &host, &rf);
	for (int f = 0; f < D; f++)
	{
		sum += rf.importances[f];
		nonnegative &= rf.importances[f] >= 0.0;
		if (f > 0 && rf.importances[f] >= rf.importances[0])
			largest_first = 0;
	}
	check(close_to(sum, 1.0, 1e-14) && nonnegative, "importances are >= 0 and sum to 1");
	check(largest_first, "the only informative feature has the largest importance");
	rf_free(&rf, &host);
}

/* ---- the validator ---- */

static void
test_validator(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 300, D = 4
	};
	static double x[N * D];
	static int32_t y[N];
	RandomForest good,
				bad;
	RandomForestParams p = rf_default_params(6);
	ForestNode *nodes;
	double	   *proba;
	double	   *importances;
	int32_t    *classes;
	uint32_t   *starts;
	uint32_t	internal = 0,
				leaf = 0;

	make_noisy(x, y, N, D);
	p.n_trees = 5;
	rf_train(x, y, N, D, &p, &host, &good);
	check(rf_validate(&good, &host) == FOREST_OK, "a trained forest is valid");
	nodes = malloc(sizeof(ForestNode) * good.n_nodes);
	proba = malloc(sizeof(double) * good.n_leaves * good.n_classes);
	importances = malloc(sizeof(double) * D);
	classes = malloc(sizeof(int32_t) * good.n_classes);
	starts = malloc(sizeof(uint32_t) * (good.n_trees + 1));
	while (good.nodes[internal].feature == FOREST_LEAF)
		internal++;
	while (good.nodes[leaf].feature != FOREST_LEAF)
		leaf++;

#define RESET() \
	do { \
		bad = good; \
		memcpy(nodes, good.nodes, sizeof(ForestNode) * good.n_nodes); \
		memcpy(proba, good.leaf_proba, sizeof(double) * good.n_leaves * good.n_classes); \
		memcpy(importances, good.importances, sizeof(double) * D); \
		memcpy(classes, good.classes, sizeof(int32_t) * good.n_classes); \
		memcpy(starts, good.tree_start, sizeof(uint32_t) * (good.n_trees + 1)); \
		bad.nodes = nodes; bad.leaf_proba = proba; bad.importances = importances; \
		bad.classes = classes; bad.tree_start = starts; \
	} while (0)

	RESET();
	check(rf_validate(&bad, &host) == FOREST_OK, "an unmodified copy is valid");
	RESET();
	nodes[internal].payload = good.tree_start[1];
	check(rf_validate(&bad, &host) == FOREST_CORRUPT, "validator rejects: right child past the tree");
	RESET();
	nodes[internal].payload = internal;
	check(rf_validate(&bad, &host) == FOREST_CORRUPT, "validator rejects: a node its own child");
	RESET();
	nodes[internal].threshold = NAN;
	check(rf_validate(&bad, &host) == FOREST_CORRUPT, "validator rejects: NaN threshold");
	RESET();
	nodes[internal].feature = D;
	check(rf_validate(&bad, &host) == FOREST_CORRUPT, "validator rejects: feature out of range");
	RESET();
	nodes[leaf].payload = 1;
	check(rf_validate(&bad, &host) == FOREST_CORRUPT,
		  "validator rejects: leaf rows out of storage order");
	RESET();
	bad.n_leaves--;
	check(rf_validate(&bad, &host) == FOREST_CORRUPT, "validator rejects: n_leaves too small");
	RESET();
	proba[0] = NAN;
	check(rf_validate(&bad, &host) == FOREST_CORRUPT, "validator rejects: NaN probability");
	RESET();
	proba[0] += 0.01;
	check(rf_validate(&bad, &host) == FOREST_CORRUPT,
		  "validator rejects: probabilities not summing to 1");
	RESET();
	importances[1] = -importances[1];
	check(rf_validate(&bad, &host) == FOREST_CORRUPT, "validator rejects: negative importance");
	RESET();
	importances[1] *= 2.0;
	check(rf_validate(&bad, &host) == FOREST_CORRUPT,
		  "validator rejects: importances not summing to 1");
	RESET();
	classes[1] = classes[0];
	check(rf_validate(&bad, &host) == FOREST_CORRUPT, "validator rejects: repeated class");
	RESET();
	bad.n_classes = 1;
	check(rf_validate(&bad, &host) == FOREST_CORRUPT, "validator rejects: one class");
	RESET();
	starts[2] = starts[1];
	check(rf_validate(&bad, &host) == FOREST_CORRUPT, "validator rejects: an empty tree");
	RESET();
	bad.n_nodes++;
	check(rf_validate(&bad, &host) == FOREST_CORRUPT,
		  "validator rejects: n_nodes not the last offset");
	check(mem.live == 5, "the validator frees its work buffer on every path");

	/* Random corruption: whatever passes must be safe to predict with. */
	{
		int			safe = 1;
		long		rejected = 0;

		for (int trial = 0; trial < 5000; trial++)
		{
			uint32_t	at = (uint32_t) (test_uniform() * good.n_nodes);
			int			field = (int) (test_uniform() * 4);
			double		pr[3];

			RESET();
			if (field == 0)
				nodes[at].payload = (uint32_t) (test_uniform() * (good.n_nodes + 4));
			else if (field == 1)
				nodes[at].feature = (int32_t) (test_uniform() * (D + 3)) - 2;
			else if (field == 2)
				nodes[at].threshold = test_uniform() < 0.5 ? NAN : test_normal();
			else
				starts[1 + (int) (test_uniform() * good.n_trees)] =
					(uint32_t) (test_uniform() * good.n_nodes);
			if (rf_validate(&bad, &host) == FOREST_OK)
			{
				rf_predict_proba(&bad, x, pr);
				if (!(fabs(pr[0] + pr[1] + pr[2] - 1.0) < 1e-12))
					safe = 0;
			}
			else
				rejected++;
		}
		check(safe && rejected > 1000,
			  "5000 random corruptions: each rejected or still predicting probabilities");
	}
#undef RESET
	free(nodes);
	free(proba);
	free(importances);
	free(classes);
	free(starts);
	rf_free(&good, &host);
}

/* ---- errors, memory, interruption ---- */

static void
test_errors_and_memory(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 60, D = 3
	};
	double		x[N * D];
	int32_t		y[N];
	RandomForest rf;
	RandomForestParams p = rf_default_params(1);
	long		calls;
	int			oom_ok = 1;
	TestProgress prog = {0};

	make_noisy(x, y, N, D);
	{
		int32_t		one[N];

		for (int i = 0; i < N; i++)
			one[i] = 3;
		check(rf_train(x, one, N, D, &p, &host, &rf) == FOREST_SINGLE_CLASS && rf.nodes == NULL,
			  "a single class: refused, output zeroed");
	}
	x[5] = NAN;
	check(rf_train(x, y, N, D, &p, &host, &rf) == FOREST_NONFINITE_INPUT, "NaN in x: refused");
	x[5] = INFINITY;
	check(rf_train(x, y, N, D, &p, &host, &rf) == FOREST_NONFINITE_INPUT, "Inf in x: refused");
	x[5] = 0.0;
	check(rf_train(x, y, 0, D, &p, &host, &rf) == FOREST_INVALID_ARGUMENT, "no rows: invalid");
	check(rf_train(x, y, N, 0, &p, &host, &rf) == FOREST_INVALID_ARGUMENT, "no features: invalid");
	p.n_trees = 0;
	check(rf_train(x, y, N, D, &p, &host, &rf) == FOREST_INVALID_ARGUMENT, "0 trees: invalid");
	p.n_trees = 4;
	p.max_features = D + 1;
	check(rf_train(x, y, N, D, &p, &host, &rf) == FOREST_INVALID_ARGUMENT,
		  "max_features above d: invalid");
	p.max_features = 0;
	p.min_samples_leaf = 0;
	check(rf_train(x, y, N, D, &p, &host, &rf) == FOREST_INVALID_ARGUMENT,
		  "min_samples_leaf 0: invalid");
	p.min_samples_leaf = 1;
	check(mem.live == 0, "no memory left behind by refused calls");

	mem = (TestHost) {0};
	rf_train(x, y, N, D, &p, &host, &rf);
	rf_free(&rf, &host);
	calls = mem.calls;
	for (long k = 1; k <= calls; k++)
	{
		mem = (TestHost) {0};
		mem.fail_at = k;
		if (rf_train(x, y, N, D, &p, &host, &rf) != FOREST_OUT_OF_MEMORY || mem.live != 0 ||
			rf.nodes != NULL)
			oom_ok = 0;
	}
	check(oom_ok, "each allocation failing in turn: out of memory, nothing leaked");

	mem = (TestHost) {0};
	p.progress = test_progress;
	p.progress_arg = &prog;
	check(rf_train(x, y, N, D, &p, &host, &rf) == FOREST_OK && prog.calls == 4 &&
		  prog.last_trees_done == 4, "progress is reported once per tree");
	rf_free(&rf, &host);

	{
		enum
		{
			BIG = 4000
		};
		static double bx[BIG];
		static int32_t by[BIG];

		for (int i = 0; i < BIG; i++)
		{
			bx[i] = test_normal();
			by[i] = test_uniform() < 0.5;	/* noise: deep trees */
		}
		mem = (TestHost) {0};
		p.n_trees = 5;
		check(rf_train(bx, by, BIG, 1, &p, &host, &rf) == FOREST_OK && mem.polls >= 3,
			  "training polls the host every 65536 rows sorted");
		rf_free(&rf, &host);
		mem = (TestHost) {0};
		prog = (TestProgress) {0};
		mem.stop_at = 2;
		check(rf_train(bx, by, BIG, 1, &p, &host, &rf) == FOREST_INTERRUPTED &&
			  mem.polls == 2 && prog.last_trees_done < 5 && mem.live == 0 && rf.nodes == NULL,
			  "the host's stop ends training: FOREST_INTERRUPTED, nothing leaked");
	}
}

/*
 * forest_walk_trees (all of a row's trees in rounds) against
 * forest_tree_leaf (one tree at a time): the same leaf and depth in every
 * tree, for a full round of FOREST_WALK_WIDTH trees and for the few left
 * over, on rows that include NaN (goes right) and values beyond every
 * threshold.
 */
static void
test_walk_rounds(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 300, D = 5
	};
	static double x[N * D];
	static int32_t y[N];
	RandomForest rf;
	RandomForestParams p = rf_default_params(5);
	uint32_t	leaf[FOREST_WALK_WIDTH];
	uint32_t	depth[FOREST_WALK_WIDTH];
	int			same = 1;

	make_noisy(x, y, N, D);
	p.n_trees = FOREST_WALK_WIDTH + 3;
	check(rf_train(x, y, N, D, &p, &host, &rf) == FOREST_OK, "a forest of a full round and 3 trees");
	for (int i = 0; i < N; i++)
	{
		double		row[D];

		for (int f = 0; f < D; f++)
			row[f] = x[i * D + f];
		if (i % 7 == 0)
			row[i % D] = NAN;
		if (i % 11 == 0)
			row[(i + 1) % D] = i % 2 ? 1e300 : -1e300;
		for (uint32_t t0 = 0; t0 < rf.n_trees; t0 += FOREST_WALK_WIDTH)
		{
			uint32_t	count = rf.n_trees - t0 < FOREST_WALK_WIDTH ?
				rf.n_trees - t0 : FOREST_WALK_WIDTH;

			forest_walk_trees(rf.nodes, rf.tree_start + t0, count, row, leaf, depth);
			for (uint32_t j = 0; j < count; j++)
			{
				uint32_t	d1;
				uint32_t	l1 = forest_tree_leaf(rf.nodes + rf.tree_start[t0 + j], row, &d1);

				if (l1 != leaf[j] || d1 != depth[j])
					same = 0;
			}
		}
	}
	check(same, "walking the trees in rounds reaches the leaves and depths of one-by-one walks");
	rf_free(&rf, &host);
}

int
main(void)
{
	test_stump_by_hand();
	test_importances_by_hand();
	test_root_split_brute_force();
	test_leaves_without_bootstrap();
	test_separable();
	test_constant_features();
	test_predict_ties();
	test_reproducible();
	test_bootstrap();
	test_importances();
	test_validator();
	test_errors_and_memory();
	test_walk_rounds();
	return tap_done();
}
