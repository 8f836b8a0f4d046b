/*
 * test_iforest.c
 *		Unit tests of the isolation-forest kernel, without a server: c(k)
 *		against its closed form, scores of a hand-built forest, trained trees
 *		re-walked by an independent recursive checker, an outlier, the
 *		distributions of the random choices, reproducibility, the validator
 *		against corrupted forests, and the error and memory paths.  Prints
 *		TAP; exits non-zero when a check fails.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forest_test_util.h"
#include "iforest.h"
#include "tap.h"

#define EULER 0.5772156649015329

static int
close_to(double a, double b, double tol)
{
	return fabs(a - b) <= tol * (1.0 + fabs(b));
}

/* ---- c(k) and the depth limit ---- */

static void
test_average_path_length(void)
{
	double		harmonic = 0.0;
	int			ok = 1;

	check(iforest_average_path_length(0) == 0.0 && iforest_average_path_length(1) == 0.0,
		  "c(0) = c(1) = 0");
	check(iforest_average_path_length(2) == 1.0, "c(2) = 1");
	check(close_to(iforest_average_path_length(3), 2.0 * (log(2.0) + EULER) - 4.0 / 3.0, 1e-15),
		  "c(3) = 2 (ln 2 + gamma) - 4/3");
	check(close_to(iforest_average_path_length(256),
				   2.0 * (log(255.0) + EULER) - 2.0 * 255.0 / 256.0, 1e-15),
		  "c(256) = 2 (ln 255 + gamma) - 510/256");
	/* scikit-learn 1.2's _average_path_length([256]), [3], [8], printed with repr() */
	check(close_to(iforest_average_path_length(256), 10.244770920119917, 1e-15) &&
		  close_to(iforest_average_path_length(3), 1.207392357589623, 1e-15) &&
		  close_to(iforest_average_path_length(8), 3.2962516279136924, 1e-15),
		  "c(256), c(3), c(8) as scikit-learn's _average_path_length prints them");

	/* ln(k-1) + gamma stands for H(k-1); the two agree to O(1/k). */
	for (uint64_t k = 2; k <= 100000; k++)
	{
		harmonic += 1.0 / (double) (k - 1);
		if (k >= 3)
		{
			double		exact = 2.0 * harmonic - 2.0 * (double) (k - 1) / (double) k;

			if (fabs(iforest_average_path_length(k) - exact) > 1.01 / (double) (k - 1))
				ok = 0;
		}
	}
	check(ok, "c(k) is within 1/(k-1) of 2 H(k-1) - 2 (k-1)/k for k = 3..100000");

	check(iforest_depth_limit(2) == 1 && iforest_depth_limit(3) == 2 &&
		  iforest_depth_limit(4) == 2 && iforest_depth_limit(5) == 3 &&
		  iforest_depth_limit(256) == 8 && iforest_depth_limit(257) == 9 &&
		  iforest_depth_limit(UINT32_MAX) == 32,
		  "depth limit ceil(log2(max_samples)) at 2, 3, 4, 5, 256, 257, 2^32-1");
}

/* ---- a forest built by hand ---- */

/*
 * Tree 0 (max_samples 8):  x0 <= 0.5 ? leaf(1) : (x1 <= 0 ? leaf(2) : leaf(5))
 * Tree 1:                  leaf(8)
 */
static ForestNode hand_nodes[6] = {
	{0.5, 0, 2},
	{0.0, FOREST_LEAF, 1},
	{0.0, 1, 4},
	{0.0, FOREST_LEAF, 2},
	{0.0, FOREST_LEAF, 5},
	{0.0, FOREST_LEAF, 8},
};
static uint32_t hand_starts[3] = {0, 5, 6};

static IForest
hand_forest(ForestNode *nodes, uint32_t *starts)
{
	IForest		f;

	memcpy(nodes, hand_nodes, sizeof(hand_nodes));
	memcpy(starts, hand_starts, sizeof(hand_starts));
	f.n_features = 2;
	f.n_trees = 2;
	f.max_samples = 8;
	f.n_nodes = 6;
	f.tree_start = starts;
	f.nodes = nodes;
	return f;
}

static void
test_hand_forest(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	ForestNode	nodes[6];
	uint32_t	starts[3];
	IForest		f = hand_forest(nodes, starts);
	double		c8 = 2.0 * (log(7.0) + EULER) - 2.0 * 7.0 / 8.0;
	double		c5 = 2.0 * (log(4.0) + EULER) - 2.0 * 4.0 / 5.0;
	double		a[2] = {0.0, 0.0},
				b[2] = {1.0, -1.0},
				c[2] = {1.0, 1.0},
				on_root[2] = {0.5, 5.0},
				on_second[2] = {1.0, 0.0};

	check(iforest_validate(&f, &host) == FOREST_OK && mem.live == 0,
		  "hand-built forest passes the validator, which frees its work");
	check(close_to(iforest_path_length_sum(&f, a), 1.0 + c8, 1e-15),
		  "x = (0, 0): paths 1 + c(1) and 0 + c(8)");
	check(close_to(iforest_path_length_sum(&f, b), 2.0 + 1.0 + c8, 1e-15),
		  "x = (1, -1): paths 2 + c(2) and 0 + c(8)");
	check(close_to(iforest_path_length_sum(&f, c), 2.0 + c5 + c8, 1e-15),
		  "x = (1, 1): paths 2 + c(5) and 0 + c(8)");
	check(close_to(iforest_path_length_sum(&f, on_root), 1.0 + c8, 1e-15) &&
		  close_to(iforest_path_length_sum(&f, on_second), 2.0 + 1.0 + c8, 1e-15),
		  "x <= threshold goes left: (0.5, 5) and (1, 0) on the thresholds");
	check(close_to(iforest_score(&f, a), -pow(2.0, -(1.0 + c8) / (2.0 * c8)), 1e-15),
		  "score = -2^(-sum h / (n_trees c(max_samples)))");
	check(iforest_decision(&f, c) == iforest_score(&f, c) + 0.5,
		  "decision = score + 0.5");
	check(iforest_score(&f, a) < iforest_score(&f, b) && iforest_score(&f, b) < iforest_score(&f, c),
		  "shorter paths score lower (more anomalous)");
}

/* ---- an independent walk of a trained tree ---- */

/*
 * Re-walks the subtree at node i holding rows[0..n_rows-1] of x (n x d) and
 * returns the index after it, clearing *ok on any violation: thresholds in
 * [min, max) of the node's rows, leaf counts equal to the rows reaching the
 * leaf, leaves no deeper than the limit, and a leaf above the limit only
 * when its rows are identical.
 */
static uint32_t
walk_subtree(const ForestNode *nodes, uint32_t i, const double *x, uint32_t d,
			 const uint32_t *rows, uint32_t n_rows, uint32_t depth, uint32_t limit,
			 int *ok)
{
	const ForestNode *node = &nodes[i];

	if (node->feature == FOREST_LEAF)
	{
		if (node->payload != n_rows || depth > limit)
			*ok = 0;
		if (n_rows > 1 && depth < limit)
			for (uint32_t r = 1; r < n_rows; r++)
				if (memcmp(x + (size_t) rows[r] * d, x + (size_t) rows[0] * d,
						   d * sizeof(double)) != 0)
					*ok = 0;
		return i + 1;
	}
	else
	{
		uint32_t	f = (uint32_t) node->feature;
		double		lo = INFINITY,
					hi = -INFINITY;
		uint32_t   *left = malloc(sizeof(uint32_t) * n_rows);
		uint32_t   *right = malloc(sizeof(uint32_t) * n_rows);
		uint32_t	n_left = 0,
					n_right = 0,
					end;

		for (uint32_t r = 0; r < n_rows; r++)
		{
			double		v = x[(size_t) rows[r] * d + f];

			lo = fmin(lo, v);
			hi = fmax(hi, v);
			if (v <= node->threshold)
				left[n_left++] = rows[r];
			else
				right[n_right++] = rows[r];
		}
		if (!(node->threshold >= lo && node->threshold < hi) || depth >= limit)
			*ok = 0;
		end = walk_subtree(nodes, i + 1, x, d, left, n_left, depth + 1, limit, ok);
		if (node->payload != end)
			*ok = 0;
		end = walk_subtree(nodes, node->payload, x, d, right, n_right, depth + 1, limit, ok);
		free(left);
		free(right);
		return end;
	}
}

static void
test_trained_trees_by_hand(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 200, D = 3
	};
	static double x[N * D];
	uint32_t	rows[N];
	IForest		f;
	IForestParams p = iforest_default_params(7);
	int			ok = 1;
	int			sums_ok = 1;

	/* Duplicated rows and a constant feature, so leaves above the limit occur. */
	for (int i = 0; i < N; i++)
	{
		int			src = i % 50 == 49 ? i - 1 : i;

		x[i * D + 0] = src < i ? x[src * D + 0] : floor(test_uniform() * 8.0);
		x[i * D + 1] = 3.25;
		x[i * D + 2] = src < i ? x[src * D + 2] : test_normal();
		rows[i] = (uint32_t) i;
	}
	p.n_trees = 50;
	p.max_samples = N;			/* the sub-sample is every row */
	check(iforest_train(x, N, D, &p, &host, &f) == FOREST_OK, "train 50 trees on all 200 rows");
	for (uint32_t t = 0; t < f.n_trees; t++)
	{
		const ForestNode *nodes = f.nodes + f.tree_start[t];
		uint32_t	end = walk_subtree(nodes, 0, x, D, rows, N, 0,
									   iforest_depth_limit(N), &ok);

		if (end != f.tree_start[t + 1] - f.tree_start[t])
			ok = 0;
		for (uint32_t i = 0; i + 1 < end; i++)
			if (nodes[i].feature == 1)
				ok = 0;			/* the constant feature never splits */
	}
	check(ok, "every tree re-walked: thresholds in [min, max) of the node's rows, leaf counts = "
		  "rows reaching the leaf, depth <= 8, leaves above it hold identical rows, "
		  "the constant feature never used");

	/* The path length sum equals the sum of (leaf depth + c(leaf count)). */
	for (int i = 0; i < N; i++)
	{
		double		expect = 0.0;

		for (uint32_t t = 0; t < f.n_trees; t++)
		{
			const ForestNode *nodes = f.nodes + f.tree_start[t];
			uint32_t	j = 0,
						depth = 0;

			while (nodes[j].feature != FOREST_LEAF)
			{
				j = x[i * D + nodes[j].feature] <= nodes[j].threshold ? j + 1 : nodes[j].payload;
				depth++;
			}
			expect += depth + iforest_average_path_length(nodes[j].payload);
		}
		if (!close_to(iforest_path_length_sum(&f, x + i * D), expect, 1e-13))
			sums_ok = 0;
	}
	check(sums_ok, "path length sums of the training rows match a separate walk");
	check(iforest_validate(&f, &host) == FOREST_OK, "trained forest passes the validator");
	iforest_free(&f, &host);
	check(mem.live == 0, "iforest_free releases everything");
}

/* ---- an outlier ---- */

static void
test_outlier(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 501, D = 2
	};
	static double x[N * D];
	double		scores[N];
	IForest		f;
	IForestParams p = iforest_default_params(2024);
	int			lowest = 1;
	int			inliers_positive = 0;

	for (int i = 0; i < N - 1; i++)
	{
		x[i * D] = test_normal();
		x[i * D + 1] = test_normal();
	}
	x[(N - 1) * D] = 8.0;
	x[(N - 1) * D + 1] = 8.0;
	check(iforest_train(x, N, D, &p, &host, &f) == FOREST_OK && f.max_samples == 256,
		  "train the default forest: max_samples = min(256, n) = 256");
	iforest_score_rows(&f, x, N, scores);
	for (int i = 0; i < N - 1; i++)
	{
		if (scores[i] <= scores[N - 1])
			lowest = 0;
		inliers_positive += scores[i] + 0.5 > 0.0;
	}
	check(lowest, "the outlier at (8, 8) scores lowest of 501");
	check(iforest_decision(&f, x + (N - 1) * D) < -0.1, "its decision is clearly negative");
	check(inliers_positive > (N - 1) * 3 / 4, "most inliers have a positive decision");
	check(scores[N - 1] > -1.0 && scores[0] < 0.0, "scores lie in (-1, 0)");
	iforest_free(&f, &host);
}

/* ---- the random choices ---- */

static void
test_random_choices(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 64, D = 3, TREES = 4000
	};
	static double x[N * D];
	IForest		f;
	IForestParams p = iforest_default_params(11);
	long		root_f0 = 0,
				root_f2 = 0,
				root_f1 = 0;
	double		threshold_sum = 0.0;
	long		below_quarter = 0;

	/* f0 in {0, 1}, f1 constant, f2 spread: the root draws f0 or f2 with p = 1/2. */
	for (int i = 0; i < N; i++)
	{
		x[i * D] = i % 2;
		x[i * D + 1] = -1.0;
		x[i * D + 2] = i;
	}
	p.n_trees = TREES;
	p.max_samples = N;
	check(iforest_train(x, N, D, &p, &host, &f) == FOREST_OK, "train 4000 trees");
	for (uint32_t t = 0; t < f.n_trees; t++)
	{
		const ForestNode *root = f.nodes + f.tree_start[t];

		root_f0 += root->feature == 0;
		root_f1 += root->feature == 1;
		root_f2 += root->feature == 2;
		if (root->feature == 0)
		{
			threshold_sum += root->threshold;
			below_quarter += root->threshold < 0.25;
		}
	}
	/* binomial(4000, 1/2): sd 32 */
	check(root_f1 == 0 && labs(root_f0 - TREES / 2) < 160,
		  "root feature uniform among the non-constant ones, never the constant one");
	/* uniform [0, 1): mean sd 0.29 / sqrt(2000) = 0.0065; P(< 1/4) sd 0.0097 */
	check(fabs(threshold_sum / root_f0 - 0.5) < 0.033 &&
		  fabs((double) below_quarter / root_f0 - 0.25) < 0.05,
		  "root thresholds on {0, 1} uniform in [0, 1)");
	iforest_free(&f, &host);
	(void) root_f2;
}

/* Two rows one ulp apart: draws that round up to max must become min. */
static void
test_adjacent_values(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	double		x[2] = {1.0, nextafter(1.0, 2.0)};
	IForest		f;
	IForestParams p = iforest_default_params(13);
	int			ok = 1;

	p.n_trees = 200;
	check(iforest_train(x, 2, 1, &p, &host, &f) == FOREST_OK, "train on two rows one ulp apart");
	for (uint32_t t = 0; t < f.n_trees; t++)
	{
		const ForestNode *nodes = f.nodes + f.tree_start[t];

		if (f.tree_start[t + 1] - f.tree_start[t] != 3 || nodes[0].threshold != 1.0 ||
			nodes[1].payload != 1 || nodes[2].payload != 1)
			ok = 0;
	}
	check(ok, "every root splits them at the lower value (a draw rounding to the upper one "
		  "falls back to it)");
	iforest_free(&f, &host);
}

/* ---- reproducibility ---- */

static int
same_forest(const IForest *a, const IForest *b, uint32_t trees)
{
	return a->tree_start[trees] == b->tree_start[trees] &&
		memcmp(a->tree_start, b->tree_start, sizeof(uint32_t) * (trees + 1)) == 0 &&
		memcmp(a->nodes, b->nodes, sizeof(ForestNode) * a->tree_start[trees]) == 0;
}

static void
test_reproducible(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 1000, D = 5
	};
	static double x[N * D];
	IForest		a,
				b,
				c,
				half;
	IForestParams p = iforest_default_params(0x123456789abcdefu);

	for (int i = 0; i < N * D; i++)
		x[i] = test_normal();
	iforest_train(x, N, D, &p, &host, &a);
	iforest_train(x, N, D, &p, &host, &b);
	check(same_forest(&a, &b, a.n_trees), "same seed: identical forests");
	p.seed ^= 1;
	iforest_train(x, N, D, &p, &host, &c);
	check(!same_forest(&a, &c, 1) && iforest_score(&a, x) != iforest_score(&c, x),
		  "seeds differing in one bit: different trees and scores");
	p.seed ^= 1;
	p.n_trees = 50;
	iforest_train(x, N, D, &p, &host, &half);
	check(same_forest(&a, &half, 50),
		  "a tree depends only on (seed, tree number): 50 trees = the first 50 of 100");
	iforest_free(&a, &host);
	iforest_free(&b, &host);
	iforest_free(&c, &host);
	iforest_free(&half, &host);
	check(mem.live == 0, "no memory left behind");
}

/* ---- the validator ---- */

static void
test_validator(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	ForestNode	nodes[6];
	uint32_t	starts[3];
	IForest		f;
	struct
	{
		const char *what;
		int			node;
		int			field;		/* 0 threshold, 1 feature, 2 payload */
		double		value;
	}			node_faults[] = {
		{"right child past the tree", 0, 2, 5},
		{"right child on the left child", 0, 2, 1},
		{"right child on itself", 2, 2, 2},
		{"right child before the node", 2, 2, 1},
		{"right child skipping a node", 0, 2, 3},
		{"NaN threshold", 0, 0, NAN},
		{"infinite threshold", 2, 0, INFINITY},
		{"feature = n_features", 0, 1, 2},
		{"feature < -1", 2, 1, -2},
		{"leaf with a threshold", 1, 0, 0.25},
		{"leaf count 0", 1, 2, 0},
		{"leaf counts not summing to max_samples", 4, 2, 6},
		{"a leaf turned internal", 4, 1, 0},
		{"an internal node turned leaf", 2, 1, FOREST_LEAF},
	};

	for (size_t k = 0; k < sizeof(node_faults) / sizeof(node_faults[0]); k++)
	{
		ForestNode *node;
		char		what[128];

		f = hand_forest(nodes, starts);
		node = &nodes[node_faults[k].node];
		if (node_faults[k].field == 0)
			node->threshold = node_faults[k].value;
		else if (node_faults[k].field == 1)
			node->feature = (int32_t) node_faults[k].value;
		else
			node->payload = (uint32_t) node_faults[k].value;
		snprintf(what, sizeof(what), "validator rejects: %s", node_faults[k].what);
		check(iforest_validate(&f, &host) == FOREST_CORRUPT, what);
	}

	f = hand_forest(nodes, starts);
	f.tree_start[1] = 6;
	check(iforest_validate(&f, &host) == FOREST_CORRUPT, "validator rejects: an empty tree");
	f = hand_forest(nodes, starts);
	f.tree_start[1] = 4;
	check(iforest_validate(&f, &host) == FOREST_CORRUPT,
		  "validator rejects: a tree boundary inside a tree");
	f = hand_forest(nodes, starts);
	f.n_nodes = 5;
	check(iforest_validate(&f, &host) == FOREST_CORRUPT,
		  "validator rejects: n_nodes not the last offset");
	f = hand_forest(nodes, starts);
	f.max_samples = 9;
	check(iforest_validate(&f, &host) == FOREST_CORRUPT,
		  "validator rejects: max_samples not the leaf total");
	f = hand_forest(nodes, starts);
	f.max_samples = 1;
	check(iforest_validate(&f, &host) == FOREST_CORRUPT, "validator rejects: max_samples 1");
	f = hand_forest(nodes, starts);
	f.n_features = 0;
	check(iforest_validate(&f, &host) == FOREST_CORRUPT, "validator rejects: no features");

	/* Deeper than ceil(log2(4)) = 2: a chain of three splits over 4 rows. */
	{
		ForestNode	chain[7] = {
			{0.5, 0, 6}, {0.5, 0, 5}, {0.5, 0, 4},
			{0.0, FOREST_LEAF, 1}, {0.0, FOREST_LEAF, 1},
			{0.0, FOREST_LEAF, 1}, {0.0, FOREST_LEAF, 1}
		};
		uint32_t	chain_starts[2] = {0, 7};
		IForest		deep = {1, 1, 4, 7, chain_starts, chain};

		check(iforest_validate(&deep, &host) == FOREST_CORRUPT,
			  "validator rejects: a leaf below the depth limit");
		deep.max_samples = 8;
		deep.nodes[6].payload = 5;
		check(iforest_validate(&deep, &host) == FOREST_OK,
			  "the same chain passes with max_samples 8 (limit 3)");
	}
	check(mem.live == 0, "the validator frees its work buffer on every path");

	/* Random corruption: whatever passes must be safe to score. */
	{
		enum
		{
			N = 300, D = 4
		};
		static double x[N * D];
		IForest		good;
		IForestParams p = iforest_default_params(5);
		ForestNode *copy;
		uint32_t   *copy_starts;
		int			safe = 1;
		long		rejected = 0;

		for (int i = 0; i < N * D; i++)
			x[i] = test_normal();
		p.n_trees = 10;
		p.max_samples = 64;
		iforest_train(x, N, D, &p, &host, &good);
		copy = malloc(sizeof(ForestNode) * good.n_nodes);
		copy_starts = malloc(sizeof(uint32_t) * (good.n_trees + 1));
		for (int trial = 0; trial < 5000; trial++)
		{
			IForest		bad = good;
			uint32_t	at = (uint32_t) (test_uniform() * good.n_nodes);
			int			field = (int) (test_uniform() * 4);

			memcpy(copy, good.nodes, sizeof(ForestNode) * good.n_nodes);
			memcpy(copy_starts, good.tree_start, sizeof(uint32_t) * (good.n_trees + 1));
			bad.nodes = copy;
			bad.tree_start = copy_starts;
			if (field == 0)
				copy[at].payload = (uint32_t) (test_uniform() * (good.n_nodes + 4));
			else if (field == 1)
				copy[at].feature = (int32_t) (test_uniform() * (D + 3)) - 2;
			else if (field == 2)
				copy[at].threshold = test_uniform() < 0.5 ? NAN : test_normal();
			else
				copy_starts[1 + (int) (test_uniform() * good.n_trees)] =
					(uint32_t) (test_uniform() * good.n_nodes);
			if (iforest_validate(&bad, &host) == FOREST_OK)
			{
				double		s = iforest_score(&bad, x);

				if (!(s > -1.0 && s < 0.0))
					safe = 0;
			}
			else
				rejected++;
		}
		check(safe && rejected > 1000,
			  "5000 random corruptions: each rejected or still scoring in (-1, 0)");
		free(copy);
		free(copy_starts);
		iforest_free(&good, &host);
	}
}

/* ---- errors, memory, interruption ---- */

static void
test_errors_and_memory(void)
{
	TestHost	mem;
	KernelHost	host = test_host(&mem);
	enum
	{
		N = 40, D = 2
	};
	double		x[N * D];
	IForest		f;
	IForestParams p = iforest_default_params(1);
	long		calls;
	int			oom_ok = 1;
	TestProgress prog = {0};

	for (int i = 0; i < N * D; i++)
		x[i] = test_normal();

	check(iforest_train(x, 1, D, &p, &host, &f) == FOREST_INVALID_ARGUMENT && f.nodes == NULL,
		  "one row: invalid argument, output zeroed");
	check(iforest_train(x, N, 0, &p, &host, &f) == FOREST_INVALID_ARGUMENT, "no features: invalid");
	p.n_trees = 0;
	check(iforest_train(x, N, D, &p, &host, &f) == FOREST_INVALID_ARGUMENT, "0 trees: invalid");
	p.n_trees = 3;
	p.max_samples = 1;
	check(iforest_train(x, N, D, &p, &host, &f) == FOREST_INVALID_ARGUMENT, "max_samples 1: invalid");
	p.max_samples = 1000;
	check(iforest_train(x, N, D, &p, &host, &f) == FOREST_OK && f.max_samples == N,
		  "max_samples above n becomes n");
	iforest_free(&f, &host);
	p.max_samples = 0;
	x[17] = NAN;
	check(iforest_train(x, N, D, &p, &host, &f) == FOREST_NONFINITE_INPUT, "NaN in x: refused");
	x[17] = -INFINITY;
	check(iforest_train(x, N, D, &p, &host, &f) == FOREST_NONFINITE_INPUT, "-Inf in x: refused");
	x[17] = 0.0;
	check(mem.live == 0, "no memory left behind by refused calls");

	/* Every allocation failing in turn. */
	mem = (TestHost) {0};
	iforest_train(x, N, D, &p, &host, &f);
	iforest_free(&f, &host);
	calls = mem.calls;
	for (long k = 1; k <= calls; k++)
	{
		mem = (TestHost) {0};
		mem.fail_at = k;
		if (iforest_train(x, N, D, &p, &host, &f) != FOREST_OUT_OF_MEMORY || mem.live != 0 ||
			f.nodes != NULL)
			oom_ok = 0;
	}
	check(oom_ok, "each allocation failing in turn: out of memory, nothing leaked");

	mem = (TestHost) {0};
	p.n_trees = 7;
	p.progress = test_progress;
	p.progress_arg = &prog;
	check(iforest_train(x, N, D, &p, &host, &f) == FOREST_OK && prog.calls == 7 &&
		  prog.last_trees_done == 7, "progress is reported once per tree");
	iforest_free(&f, &host);

	/* 10 trees of 5000 rows, ~13 levels: ~6.5e5 rows visited, ~10 polls. */
	{
		static double big[5000];

		for (int i = 0; i < 5000; i++)
			big[i] = test_normal();
		mem = (TestHost) {0};
		prog = (TestProgress) {0};
		p.n_trees = 10;
		p.max_samples = 5000;
		check(iforest_train(big, 5000, 1, &p, &host, &f) == FOREST_OK && mem.polls >= 5,
			  "training polls the host every 65536 rows visited");
		iforest_free(&f, &host);
		mem = (TestHost) {0};
		prog = (TestProgress) {0};
		mem.stop_at = 2;
		check(iforest_train(big, 5000, 1, &p, &host, &f) == FOREST_INTERRUPTED &&
			  mem.polls == 2 && prog.last_trees_done < 10 && mem.live == 0 && f.nodes == NULL,
			  "the host's stop ends training: FOREST_INTERRUPTED, nothing leaked");
	}
	check(strcmp(forest_status_message(FOREST_OUT_OF_MEMORY), "out of memory") == 0,
		  "status messages");
}

int
main(void)
{
	test_average_path_length();
	test_hand_forest();
	test_trained_trees_by_hand();
	test_outlier();
	test_random_choices();
	test_adjacent_values();
	test_reproducible();
	test_validator();
	test_errors_and_memory();
	return tap_done();
}
