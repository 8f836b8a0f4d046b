/*
 * test_gbt.c
 *		Unit tests of the gradient-boosted ensemble's walker and validator
 *		(src/gbt.c), without a server or XGBoost: hand-built trees whose
 *		margins are worked out by hand (missing values and the default
 *		direction, a feature equal to a float32 threshold, a double that
 *		rounds onto it), the sigmoid of two classes and the softmax of three,
 *		ties, and the validator against corrupted ensembles (children out of
 *		range or pointing backwards, cycles, feature indices, non-finite
 *		values, leaf flags, offsets, groups, class order).  And the trainer
 *		(src/gbt_train.c): a stump on four rows against its closed form, a
 *		split of the missing values from the present ones, the statuses of
 *		bad input, and every failed allocation and a cancel freeing all.
 *		Prints TAP; exits non-zero when a check fails.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gbt.h"
#include "gbt_train.h"
#include "kernel_host_test.h"
#include "test_gbt_reference.h"
#include "tap.h"

static int
close_to(double a, double b, double tol)
{
	return fabs(a - b) <= tol;
}

/* Compiled forms of the test models: static arrays large enough for all. */
#define MAX_NODES 4096
#define MAX_BLOCKS (MAX_NODES / GBT_LANES + 1)
static GbtStep steps[MAX_NODES + 1];
static float leaves[MAX_NODES + 1];
static uint32_t roots[MAX_BLOCKS * GBT_LANES];
static uint32_t groups[MAX_BLOCKS * GBT_LANES];
static uint32_t depths[MAX_BLOCKS];
static uint32_t scratch[2 * MAX_NODES];

static GbtStatus
compile(const GbtModel *m, GbtCompiled *c)
{
	GbtStatus	s = gbt_validate(m);

	c->steps = steps;
	c->leaf = leaves;
	c->root = roots;
	c->group = groups;
	c->depth = depths;
	return s != GBT_OK ? s : gbt_compile(m, scratch, c);
}

#define SPLIT(f, thr, l, r, dl) {(thr), 0.0f, (f), (l), (r), (dl)}
#define LEAF(v) {0.0f, (v), GBT_LEAF, 0, 0, 0}

/*
 * Two trees of one group (two classes):
 *	 tree 0: x0 < 0.1f ? (x1 < 2 ? 1.0 : -1.0) : 0.5; missing x0 goes right,
 *			 missing x1 left.
 *	 tree 1: x1 < 0 ? -0.25 : 0.25; missing goes left.
 */
static GbtNode binary_nodes[] = {
	SPLIT(0, 0.1f, 1, 2, 0), SPLIT(1, 2.0f, 3, 4, 1), LEAF(0.5f), LEAF(1.0f), LEAF(-1.0f),
	SPLIT(1, 0.0f, 1, 2, 1), LEAF(-0.25f), LEAF(0.25f)
};
static const int32_t binary_classes[] = {-3, 7};
static const uint32_t binary_start[] = {0, 5, 8};
static const uint32_t binary_group[] = {0, 0};

static GbtModel
binary_model(void)
{
	GbtModel	m = {2, 2, 2, 8, 0.0, binary_classes, binary_start, binary_group, binary_nodes};

	return m;
}

static double
sigmoid(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

static void
test_binary_walk(void)
{
	GbtModel	m = binary_model();
	GbtCompiled c;
	float		xf[2];
	double		margin[2],
				proba[2];
	double		x[2];

	check(compile(&m, &c) == GBT_OK, "hand-built binary ensemble is valid");

	x[0] = 0.0, x[1] = 1.0;
	gbt_margins(&m, &c, x, xf, margin);
	check(margin[0] == 1.0 + 0.25, "x0 < t, x1 < 2, x1 >= 0: 1 + 0.25");
	x[0] = NAN, x[1] = 3.0;
	gbt_margins(&m, &c, x, xf, margin);
	check(margin[0] == 0.5 + 0.25, "missing x0 takes its default (right)");
	x[0] = -1.0, x[1] = NAN;
	gbt_margins(&m, &c, x, xf, margin);
	check(margin[0] == 1.0 - 0.25, "missing x1 takes its default (left) in both trees");

	/* 0.1 as a double is above 0.1f; as float32 it equals the threshold */
	x[0] = 0.1, x[1] = 5.0;
	gbt_margins(&m, &c, x, xf, margin);
	check(margin[0] == 0.5 + 0.25, "x equal to the float32 threshold goes right (x < t is false)");
	x[0] = nextafter((double) 0.1f, 0.0), x[1] = 5.0;
	gbt_margins(&m, &c, x, xf, margin);
	check(margin[0] == 0.5 + 0.25,
		  "a double just below the float32 threshold rounds onto it and goes right");
	x[0] = (double) nextafterf(0.1f, 0.0f), x[1] = 5.0;
	gbt_margins(&m, &c, x, xf, margin);
	check(margin[0] == -1.0 + 0.25, "the float32 below the threshold goes left");

	m.base_margin = -0.5;
	x[0] = 0.0, x[1] = 1.0;
	gbt_predict_proba(&m, &c, x, xf, proba);
	check(close_to(proba[1], sigmoid(1.25 - 0.5), 1e-15) &&
		  close_to(proba[0], 1.0 - sigmoid(0.75), 1e-15),
		  "binary probabilities: [1 - sigmoid(margin), sigmoid(margin)] with the base margin");
	check(gbt_predict(&m, &c, x, xf, proba) == 7, "binary prediction is the second label when p > 0.5");
	x[0] = 0.0, x[1] = 3.0;		/* margin -1 + 0.25 - 0.5 = -1.25 */
	check(gbt_predict(&m, &c, x, xf, proba) == -3, "binary prediction is the first label when p < 0.5");
}

/*
 * Three classes, one round, one tree per group: group 0 x0 < 1 ? 2 : 0
 * (missing left), group 1 a leaf 1, group 2 x0 < 1 ? 0 : 3 (missing right).
 */
static GbtNode multi_nodes[] = {
	SPLIT(0, 1.0f, 1, 2, 1), LEAF(2.0f), LEAF(0.0f),
	LEAF(1.0f),
	SPLIT(0, 1.0f, 1, 2, 0), LEAF(0.0f), LEAF(3.0f)
};
static const int32_t multi_classes[] = {1, 2, 10};
static const uint32_t multi_start[] = {0, 3, 4, 7};
static const uint32_t multi_group[] = {0, 1, 2};

static void
test_softmax(void)
{
	GbtModel	m = {1, 3, 3, 7, 0.5, multi_classes, multi_start, multi_group, multi_nodes};
	GbtCompiled c;
	float		xf[1];
	double		proba[3];
	double		x[1] = {0.0};
	double		e0 = exp(2.5),
				e1 = exp(1.5),
				e2 = exp(0.5),
				s = e0 + e1 + e2;

	check(compile(&m, &c) == GBT_OK, "hand-built three-class ensemble is valid");
	gbt_predict_proba(&m, &c, x, xf, proba);
	check(close_to(proba[0], e0 / s, 1e-15) && close_to(proba[1], e1 / s, 1e-15) &&
		  close_to(proba[2], e2 / s, 1e-15), "softmax of the group margins (+ base margin)");
	check(close_to(proba[0] + proba[1] + proba[2], 1.0, 1e-15), "softmax sums to 1");
	check(gbt_predict(&m, &c, x, xf, proba) == 1, "x0 < 1: the first class");
	x[0] = 2.0;
	check(gbt_predict(&m, &c, x, xf, proba) == 10, "x0 >= 1: the third class");
	x[0] = NAN;					/* group 0 goes left (2), group 2 right (3) */
	check(gbt_predict(&m, &c, x, xf, proba) == 10, "missing: each tree's own default");

	/* ties: equal margins give equal probabilities and the lowest label */
	multi_nodes[1].leaf = 1.0f;
	check(compile(&m, &c) == GBT_OK, "recompiled");
	x[0] = 0.0;					/* margins 1.5, 1.5, 0.5 */
	gbt_predict_proba(&m, &c, x, xf, proba);
	check(proba[0] == proba[1] && gbt_predict(&m, &c, x, xf, proba) == 1,
		  "a tie goes to the lowest label");
	multi_nodes[1].leaf = 2.0f;
}

static void
expect(GbtModel *m, GbtStatus want, const char *what)
{
	char		msg[160];
	GbtCompiled c;
	GbtStatus	got = compile(m, &c);

	snprintf(msg, sizeof(msg), "validator: %s (%s)", what, gbt_status_message(got));
	check(got == want, msg);
}

static void
test_validator(void)
{
	GbtNode		nodes[8];
	uint32_t	start[3];
	uint32_t	group[2];
	int32_t		classes[3];
	GbtModel	m;

#define RESET() do { \
		memcpy(nodes, binary_nodes, sizeof(nodes)); \
		memcpy(start, binary_start, sizeof(start)); \
		memcpy(group, binary_group, sizeof(group)); \
		memcpy(classes, binary_classes, 2 * sizeof(int32_t)); \
		m = binary_model(); \
		m.nodes = nodes; m.tree_start = start; m.tree_group = group; m.classes = classes; \
	} while (0)

	RESET();
	expect(&m, GBT_OK, "the copy is valid");
	RESET();
	nodes[1].left = 5;
	expect(&m, GBT_BAD_CHILD, "a child past its tree");
	RESET();
	nodes[1].right = 1;
	expect(&m, GBT_BAD_CHILD, "a child that is its parent (a cycle)");
	RESET();
	nodes[1].left = 0;
	expect(&m, GBT_BAD_CHILD, "a child before its parent (a cycle)");
	RESET();
	nodes[1].right = 3;			/* both children node 3 */
	expect(&m, GBT_BAD_CHILD, "both children the same node");
	RESET();
	nodes[5].right = 100;
	expect(&m, GBT_BAD_CHILD, "a child index far out of range");
	RESET();
	nodes[0].feature = 2;
	expect(&m, GBT_BAD_FEATURE, "feature index = n_features");
	RESET();
	nodes[0].feature = -2;
	expect(&m, GBT_BAD_FEATURE, "a negative feature index other than the leaf mark");
	RESET();
	nodes[0].threshold = NAN;
	expect(&m, GBT_NONFINITE, "a NaN threshold");
	RESET();
	nodes[3].leaf = INFINITY;
	expect(&m, GBT_NONFINITE, "an infinite leaf");
	RESET();
	m.base_margin = NAN;
	expect(&m, GBT_NONFINITE, "a NaN base margin");
	RESET();
	nodes[2].left = 3;
	expect(&m, GBT_BAD_LEAF, "a leaf with a child");
	RESET();
	nodes[0].default_left = 2;
	expect(&m, GBT_BAD_LEAF, "a default direction other than 0 or 1");
	RESET();
	start[1] = 9;
	expect(&m, GBT_BAD_TREE_START, "a tree starting past the nodes");
	RESET();
	start[1] = 0;
	expect(&m, GBT_BAD_TREE_START, "an empty tree");
	RESET();
	m.n_nodes = 7;
	expect(&m, GBT_BAD_TREE_START, "offsets not ending at the node count");
	RESET();
	group[1] = 1;
	expect(&m, GBT_BAD_GROUP, "a group >= 1 for two classes");
	RESET();
	classes[1] = -3;
	expect(&m, GBT_BAD_CLASSES, "equal labels");
	RESET();
	m.n_classes = 1;
	expect(&m, GBT_BAD_COUNTS, "one class");
	RESET();
	m.n_classes = 3;			/* 3 groups, 2 trees */
	expect(&m, GBT_BAD_COUNTS, "trees not a multiple of the groups");
	RESET();
	nodes[1].left = 2;			/* node 2 is the root's right child too */
	expect(&m, GBT_NOT_A_TREE, "a node with two parents");
	RESET();
	nodes[0] = (GbtNode) SPLIT(0, 0.1f, 2, 4, 0);	/* node 1 and its subtree unreached */
	nodes[1] = (GbtNode) LEAF(0.0f);
	expect(&m, GBT_NOT_A_TREE, "a node never reached");
#undef RESET
}

static uint64_t rng_state = 88172645463325252ULL;

static uint32_t
rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t) (rng_state % n);
}

/* A random tree of up to `budget` nodes (depth-first ids), at `at` in nodes. */
static uint32_t
random_tree(GbtNode *nodes, uint32_t at, uint32_t self, uint32_t budget, uint32_t n_features,
			int depth)
{
	GbtNode    *n = &nodes[at + self];

	if (depth == 0 || budget < 3 || rnd(4) == 0)
	{
		*n = (GbtNode) LEAF((float) rnd(1000) / 100.0f - 5.0f);
		return 1;
	}
	else
	{
		uint32_t	left = self + 1,
					used;

		/* the left child right after its parent, the right after its subtree */
		n->feature = (int32_t) rnd(n_features);
		n->threshold = (float) rnd(200) / 100.0f - 1.0f;
		n->leaf = 0;
		n->default_left = rnd(2);
		n->left = left;
		used = random_tree(nodes, at, left, (budget - 1) / 2, n_features, depth - 1);
		n = &nodes[at + self];
		n->right = left + used;
		return 1 + used + random_tree(nodes, at, left + used, (budget - 1) / 2, n_features, depth - 1);
	}
}

static void
test_against_reference(void)
{
	static GbtNode nodes[MAX_NODES];
	static uint32_t start[300],
				group[300];
	int32_t		classes[4] = {0, 1, 2, 3};
	int			worst_ok = 1,
				models = 0;

	for (uint32_t k = 2; k <= 4; k++)
		for (uint32_t rounds = 1; rounds <= 19; rounds += 6)
		{
			uint32_t	n_trees = rounds * gbt_groups(k),
						at = 0;
			GbtModel	m;
			GbtCompiled c;

			for (uint32_t t = 0; t < n_trees; t++)
			{
				start[t] = at;
				group[t] = t % gbt_groups(k);
				at += random_tree(nodes, at, 0, 63, 5, 7);
			}
			start[n_trees] = at;
			m = (GbtModel) {5, k, n_trees, at, 0.25, classes, start, group, nodes};
			if (compile(&m, &c) != GBT_OK)
			{
				worst_ok = 0;
				continue;
			}
			models++;
			for (int row = 0; row < 500; row++)
			{
				double		x[5],
							want[4],
							got[4];
				float		xf[5];

				for (int j = 0; j < 5; j++)
					x[j] = rnd(10) == 0 ? NAN : (double) rnd(220) / 100.0 - 1.1;
				/* now and then a value exactly at a threshold */
				if (row % 7 == 0)
					x[rnd(5)] = (double) ((float) rnd(200) / 100.0f - 1.0f);
				reference_margins(&m, x, want);
				gbt_margins(&m, &c, x, xf, got);
				for (uint32_t g = 0; g < gbt_groups(k); g++)
					worst_ok &= want[g] == got[g];
			}
		}
	check(worst_ok && models == 12,
		  "compiled walk = the reference walk, to the bit, on 12 random ensembles x 500 rows (NaN, ties)");
}

static const GbtTrainParams stump_params = {1, 1, 256, 1, 0.3, 0.0, 1.0, 1.0, 1.0, 0};

/*
 * x = 1, 2, 3, 4 and y = 0, 0, 1, 1, one round of depth 1: margins 0, p =
 * 1/2, g = 1/2, 1/2, -1/2, -1/2, h = 1/4.  Cuts 2, 3, 4; the best split is
 * x < 3 (G_L = 1, H_L = 1/2; G_R = -1, H_R = 1/2): gain 1/1.5 + 1/1.5 - 0,
 * leaves -+1/1.5 x 0.3.  No value is missing: the default is left.
 */
static void
test_train_stump(void)
{
	const float x[] = {1, 2, 3, 4};
	const uint32_t y[] = {0, 0, 1, 1};
	TestHost	th;
	KernelHost	host = test_host(&th);
	GbtModel	m;
	double		gain[1];
	GbtTrainStatus s = gbt_train(x, y, 4, 1, 2, &stump_params, &host, &m, gain);

	check(s == GBT_TRAIN_OK && m.n_trees == 1 && m.n_nodes == 3 && m.tree_start[1] == 3 &&
		  m.base_margin == 0, "a stump: one tree of three nodes, base margin 0");
	if (s != GBT_TRAIN_OK)
		return;
	check(m.nodes[0].feature == 0 && m.nodes[0].threshold == 3.0f && m.nodes[0].left == 1 &&
		  m.nodes[0].right == 2 && m.nodes[0].default_left == 1,
		  "its split is x < 3, missing values left");
	check(m.nodes[1].feature == GBT_LEAF && m.nodes[1].leaf == (float) (-1.0 / 1.5 * 0.3) &&
		  m.nodes[2].leaf == (float) (1.0 / 1.5 * 0.3), "its leaves are -+G / (H + lambda) x rate");
	check(close_to(gain[0], 2.0 / 1.5, 1e-15), "its gain is G_L^2/(H_L+1) + G_R^2/(H_R+1) - G^2/(H+1)");
	gbt_train_free(&m, &host);
	check(th.live == 0, "gbt_train_free returns everything");
}

/* Missing values against present ones: the split at the smallest value, missing left. */
static void
test_train_missing(void)
{
	const float x[] = {NAN, NAN, 5, 7, 9, NAN};
	const uint32_t y[] = {1, 1, 0, 0, 0, 1};
	TestHost	th;
	KernelHost	host = test_host(&th);
	GbtModel	m;
	double		gain[1];
	GbtTrainStatus s = gbt_train(x, y, 6, 1, 2, &stump_params, &host, &m, gain);

	check(s == GBT_TRAIN_OK && m.n_nodes == 3 && m.nodes[0].threshold == 5.0f &&
		  m.nodes[0].default_left == 1 && m.nodes[1].leaf > 0 && m.nodes[2].leaf < 0,
		  "missing against present: x < 5 (none) or missing goes left, to the class-1 leaf");
	if (s == GBT_TRAIN_OK)
		gbt_train_free(&m, &host);
	check(th.live == 0, "and everything is returned");
}

static void
test_train_statuses(void)
{
	const float x[] = {1, 2, 3, 4};
	const float inf_x[] = {1, INFINITY, 3, 4};
	const uint32_t y[] = {0, 0, 1, 1};
	const uint32_t bad_y[] = {0, 0, 1, 2};
	GbtTrainParams p = stump_params;
	TestHost	th;
	KernelHost	host = test_host(&th);
	GbtModel	m;
	double		gain[1];

	check(gbt_train(x, bad_y, 4, 1, 2, &p, &host, &m, gain) == GBT_TRAIN_BAD_DATA,
		  "a label >= n_classes: GBT_TRAIN_BAD_DATA");
	check(gbt_train(x, y, 4, 1, 1, &p, &host, &m, gain) == GBT_TRAIN_BAD_DATA,
		  "one class: GBT_TRAIN_BAD_DATA");
	check(gbt_train(inf_x, y, 4, 1, 2, &p, &host, &m, gain) == GBT_TRAIN_BAD_DATA,
		  "an infinite value: GBT_TRAIN_BAD_DATA");
	check(gbt_train(x, y, 0, 1, 2, &p, &host, &m, gain) == GBT_TRAIN_BAD_DATA,
		  "no rows: GBT_TRAIN_BAD_DATA");
	p.max_depth = 0;
	check(gbt_train(x, y, 4, 1, 2, &p, &host, &m, gain) == GBT_TRAIN_BAD_PARAMS,
		  "max_depth 0: GBT_TRAIN_BAD_PARAMS");
	p = stump_params;
	p.max_bin = 65536;
	check(gbt_train(x, y, 4, 1, 2, &p, &host, &m, gain) == GBT_TRAIN_BAD_PARAMS,
		  "max_bin 65536 (its missing slot would not fit 16 bits): GBT_TRAIN_BAD_PARAMS");
	p = stump_params;
	p.subsample = 0;
	check(gbt_train(x, y, 4, 1, 2, &p, &host, &m, gain) == GBT_TRAIN_BAD_PARAMS,
		  "subsample 0: GBT_TRAIN_BAD_PARAMS");
	check(th.live == 0 && th.calls == 0, "bad input allocates nothing");
}

/* Every allocation failing in turn, and a cancel at every poll: a status, nothing kept. */
static void
test_train_failures(void)
{
	enum {N = 300, D = 3};
	static float x[N * D];
	static uint32_t y[N];
	GbtTrainParams p = {4, 3, 16, 2, 0.3, 1.0, 0.7, 0.7, 1.0, 5};
	TestHost	th;
	KernelHost	host = test_host(&th);
	GbtModel	m;
	double		gain[D];
	long		calls,
				polls;
	int			all_ok = 1;

	for (int i = 0; i < N; i++)
	{
		for (int j = 0; j < D; j++)
			x[i * D + j] = (i * 7 + j * 13) % 11 == 0 ? NAN : (float) ((i * (j + 3)) % 17);
		y[i] = (uint32_t) (i % 3);
	}
	if (gbt_train(x, y, N, D, 3, &p, &host, &m, gain) != GBT_TRAIN_OK)
	{
		check(0, "the failure model trains");
		return;
	}
	gbt_train_free(&m, &host);
	calls = th.calls;
	polls = th.polls;
	for (long at = 1; at <= calls; at++)
	{
		host = test_host(&th);
		th.fail_at = at;
		all_ok &= gbt_train(x, y, N, D, 3, &p, &host, &m, gain) == GBT_TRAIN_NO_MEMORY && th.live == 0;
	}
	check(all_ok, "each of its allocations failing: GBT_TRAIN_NO_MEMORY, nothing kept");
	all_ok = polls > 0;
	for (long at = 1; at <= polls; at++)
	{
		host = test_host(&th);
		th.stop_at = at;
		all_ok &= gbt_train(x, y, N, D, 3, &p, &host, &m, gain) == GBT_TRAIN_INTERRUPTED && th.live == 0;
	}
	check(all_ok, "a cancel at each of its polls: GBT_TRAIN_INTERRUPTED, nothing kept");
}

/*
 * 16-bit bins at the largest max_bin: 72,000 distinct values (more than
 * max_bin: quantile cuts), every tenth row missing and of class 1; the
 * stump must split the missing rows off (their slot is code 65,535; with
 * max_bin 65,536 it was 65,536, which wrapped to bin 0).
 */
static void
test_train_wide_bins(void)
{
	enum {N = 80000};
	static float x[N];
	static uint32_t y[N];
	GbtTrainParams p = stump_params;
	TestHost	th;
	KernelHost	host = test_host(&th);
	GbtModel	m;
	double		gain[1];
	GbtTrainStatus s;

	for (int i = 0; i < N; i++)
	{
		x[i] = i % 10 == 0 ? NAN : (float) i;
		y[i] = i % 10 == 0;
	}
	p.max_bin = 65535;
	s = gbt_train(x, y, N, 1, 2, &p, &host, &m, gain);
	check(s == GBT_TRAIN_OK && m.n_nodes == 3 && m.nodes[0].threshold == 1.0f &&
		  m.nodes[0].default_left == 1 && m.nodes[1].leaf > 0 && m.nodes[2].leaf < 0,
		  "max_bin 65535, 16-bit bins: the missing rows split off at the smallest value");
	if (s == GBT_TRAIN_OK)
		gbt_train_free(&m, &host);
}

/* Threads share out the features: 1, 2 and 3 threads grow the same model, bit for bit. */
static void
test_train_threads(void)
{
	enum {N = 2000, D = 7};
	static float x[N * D];
	static uint32_t y[N];
	GbtTrainParams p = {10, 5, 32, 1, 0.3, 1.0, 0.8, 0.9, 1.0, 9};
	TestHost	th;
	KernelHost	host = test_host(&th);
	GbtModel	one,
				more;
	double		gain1[D],
				gain[D];
	int			same = 1;

	for (int i = 0; i < N; i++)
	{
		for (int j = 0; j < D; j++)
			x[i * D + j] = (i * 31 + j * 17) % 23 == 0 ? NAN : (float) sin(i * 0.37 + j);
		y[i] = (uint32_t) ((x[i * D] > 0) + (x[i * D + 1] > 0.5f) + (i % 7 == 0)) % 3;
	}
	if (gbt_train(x, y, N, D, 3, &p, &host, &one, gain1) != GBT_TRAIN_OK)
	{
		check(0, "the thread model trains");
		return;
	}
	for (uint32_t threads = 2; threads <= 3; threads++)
	{
		p.nthread = threads;
		if (gbt_train(x, y, N, D, 3, &p, &host, &more, gain) != GBT_TRAIN_OK)
		{
			same = 0;
			continue;
		}
		same &= more.n_nodes == one.n_nodes &&
			memcmp(more.nodes, one.nodes, one.n_nodes * sizeof(GbtNode)) == 0 &&
			memcmp(more.tree_start, one.tree_start, (one.n_trees + 1) * sizeof(uint32_t)) == 0 &&
			memcmp(gain, gain1, sizeof(gain)) == 0;
		gbt_train_free(&more, &host);
	}
	check(same && one.n_nodes > 10 * one.n_trees, "1, 2 and 3 threads: the same trees and gains, to the bit");
	gbt_train_free(&one, &host);
	check(th.live == 0, "and everything is returned");
}

int
main(void)
{
	test_binary_walk();
	test_softmax();
	test_validator();
	test_against_reference();
	test_train_stump();
	test_train_missing();
	test_train_statuses();
	test_train_failures();
	test_train_threads();
	test_train_wide_bins();
	return tap_done();
}
