/*
 * test_gbt.c
 *		Unit tests of the gradient-boosted ensemble's walker and validator
 *		(src/gbt.c), without a server or XGBoost: hand-built trees whose
 *		margins are worked out by hand (missing values and the default
 *		direction, a feature equal to a float32 threshold, a double that
 *		rounds onto it), the sigmoid of two classes and the softmax of three,
 *		ties, and the validator against corrupted ensembles (children out of
 *		range or pointing backwards, cycles, feature indices, non-finite
 *		values, leaf flags, offsets, groups, class order).  Prints TAP; exits
 *		non-zero when a check fails.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gbt.h"
#include "tap.h"

static int
close_to(double a, double b, double tol)
{
	return fabs(a - b) <= tol;
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
	float		xf[2];
	double		margin[2],
				proba[2];
	double		x[2];

	check(gbt_validate(&m) == GBT_OK, "hand-built binary ensemble is valid");

	x[0] = 0.0, x[1] = 1.0;
	gbt_margins(&m, x, xf, margin);
	check(margin[0] == 1.0 + 0.25, "x0 < t, x1 < 2, x1 >= 0: 1 + 0.25");
	x[0] = NAN, x[1] = 3.0;
	gbt_margins(&m, x, xf, margin);
	check(margin[0] == 0.5 + 0.25, "missing x0 takes its default (right)");
	x[0] = -1.0, x[1] = NAN;
	gbt_margins(&m, x, xf, margin);
	check(margin[0] == 1.0 - 0.25, "missing x1 takes its default (left) in both trees");

	/* 0.1 as a double is above 0.1f; as float32 it equals the threshold */
	x[0] = 0.1, x[1] = 5.0;
	gbt_margins(&m, x, xf, margin);
	check(margin[0] == 0.5 + 0.25, "x equal to the float32 threshold goes right (x < t is false)");
	x[0] = nextafter((double) 0.1f, 0.0), x[1] = 5.0;
	gbt_margins(&m, x, xf, margin);
	check(margin[0] == 0.5 + 0.25,
		  "a double just below the float32 threshold rounds onto it and goes right");
	x[0] = (double) nextafterf(0.1f, 0.0f), x[1] = 5.0;
	gbt_margins(&m, x, xf, margin);
	check(margin[0] == -1.0 + 0.25, "the float32 below the threshold goes left");

	m.base_margin = -0.5;
	x[0] = 0.0, x[1] = 1.0;
	gbt_predict_proba(&m, x, xf, proba);
	check(close_to(proba[1], sigmoid(1.25 - 0.5), 1e-15) &&
		  close_to(proba[0], 1.0 - sigmoid(0.75), 1e-15),
		  "binary probabilities: [1 - sigmoid(margin), sigmoid(margin)] with the base margin");
	check(gbt_predict(&m, x, xf, proba) == 7, "binary prediction is the second label when p > 0.5");
	x[0] = 0.0, x[1] = 3.0;		/* margin -1 + 0.25 - 0.5 = -1.25 */
	check(gbt_predict(&m, x, xf, proba) == -3, "binary prediction is the first label when p < 0.5");
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
	float		xf[1];
	double		proba[3];
	double		x[1] = {0.0};
	double		e0 = exp(2.5),
				e1 = exp(1.5),
				e2 = exp(0.5),
				s = e0 + e1 + e2;

	check(gbt_validate(&m) == GBT_OK, "hand-built three-class ensemble is valid");
	gbt_predict_proba(&m, x, xf, proba);
	check(close_to(proba[0], e0 / s, 1e-15) && close_to(proba[1], e1 / s, 1e-15) &&
		  close_to(proba[2], e2 / s, 1e-15), "softmax of the group margins (+ base margin)");
	check(close_to(proba[0] + proba[1] + proba[2], 1.0, 1e-15), "softmax sums to 1");
	check(gbt_predict(&m, x, xf, proba) == 1, "x0 < 1: the first class");
	x[0] = 2.0;
	check(gbt_predict(&m, x, xf, proba) == 10, "x0 >= 1: the third class");
	x[0] = NAN;					/* group 0 goes left (2), group 2 right (3) */
	check(gbt_predict(&m, x, xf, proba) == 10, "missing: each tree's own default");

	/* ties: equal margins give equal probabilities and the lowest label */
	multi_nodes[1].leaf = 1.0f;
	x[0] = 0.0;					/* margins 1.5, 1.5, 0.5 */
	gbt_predict_proba(&m, x, xf, proba);
	check(proba[0] == proba[1] && gbt_predict(&m, x, xf, proba) == 1,
		  "a tie goes to the lowest label");
	multi_nodes[1].leaf = 2.0f;
}

static void
expect(GbtModel *m, GbtStatus want, const char *what)
{
	char		msg[160];
	GbtStatus	got = gbt_validate(m);

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
#undef RESET
}

int
main(void)
{
	test_binary_walk();
	test_softmax();
	test_validator();
	return tap_done();
}
