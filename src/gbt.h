/*
 * gbt.h
 *		Prediction by a gradient-boosted tree ensemble (binary logistic or
 *		softmax; trained by gbt_train.h's kernel), on antares's own tree
 *		layout, and the structural check of a stored ensemble.  Plain C, no
 *		PostgreSQL types, no allocation: the caller owns every array.
 *
 * A tree is an array of GbtNode, node 0 its root; children are indices
 * within the same tree and always greater than their parent's (the trainer
 * appends children after their parent), and every node is reached from the
 * root exactly once: gbt_compile checks it, so no input makes a walk loop,
 * read outside the array or (a node shared by two parents) grow the
 * compiled form.
 *
 * Decision rule (XGBoost's): a row's features are converted to float32; at
 * a split a NaN (missing) goes to the default child, otherwise x < threshold
 * goes left.  The margin of an output group is base_margin plus the leaf
 * values of that group's trees; two classes have one group and
 * P(second class) = sigmoid(margin), more classes one group per class and a
 * softmax.  Sums are in double (XGBoost's predictor sums in float32).
 *
 * Prediction walks a compiled form (GbtCompiled): each tree's nodes
 * breadth-first, so that a split's children are adjacent and the step to
 * the next node is next + (goes right) without a branch; leaves step onto
 * themselves, so GBT_LANES trees are walked side by side for as many steps
 * as the deepest of them has levels, and their loads overlap: 3.9 us a row
 * for 400 trees of depth 6 (100 rounds, 4 classes) against 15.6 us walking
 * one tree after the other (4.5 us with 8 lanes, 3.9 with 16 or 32).
 *
 * Cost: O(trees x depth) per row, after O(n_features) to convert the row;
 * compiling is O(nodes).
 */
#ifndef ANTARES_GBT_H
#define ANTARES_GBT_H

#include <stddef.h>
#include <stdint.h>

#define GBT_LEAF (-1)			/* GbtNode.feature of a leaf */

typedef struct GbtNode
{
	float		threshold;		/* split: x < threshold goes left; leaf: 0 */
	float		leaf;			/* leaf: its value (a margin term); split: 0 */
	int32_t		feature;		/* split: in [0, n_features); leaf: GBT_LEAF */
	uint32_t	left;			/* split: children, indices in the tree; leaf: 0 */
	uint32_t	right;
	uint32_t	default_left;	/* split: 1 when a missing value goes left; else 0 */
} GbtNode;

typedef struct GbtModel
{
	uint32_t	n_features;
	uint32_t	n_classes;		/* >= 2 */
	uint32_t	n_trees;
	uint32_t	n_nodes;
	double		base_margin;	/* added to every group's margin */
	const int32_t *classes;		/* n_classes labels, increasing */
	const uint32_t *tree_start; /* n_trees + 1 offsets into nodes */
	const uint32_t *tree_group; /* n_trees output groups */
	const GbtNode *nodes;
} GbtModel;

typedef enum GbtStatus
{
	GBT_OK = 0,
	GBT_BAD_COUNTS,				/* classes, trees or groups out of range */
	GBT_BAD_CLASSES,			/* labels not strictly increasing */
	GBT_BAD_TREE_START,			/* offsets not increasing or not ending at n_nodes */
	GBT_BAD_GROUP,				/* a tree's group >= the number of groups */
	GBT_BAD_FEATURE,			/* a split's feature outside [0, n_features) */
	GBT_BAD_CHILD,				/* a child not after its parent, outside its tree, or both children one node */
	GBT_NONFINITE,				/* a NaN or infinite threshold, leaf or base margin */
	GBT_BAD_LEAF,				/* a leaf with children or a flag, or a split with a leaf value */
	GBT_NOT_A_TREE				/* a node reached twice from its tree's root, or never */
} GbtStatus;

extern const char *gbt_status_message(GbtStatus status);

/* Output groups: 1 for two classes, one per class beyond. */
static inline uint32_t
gbt_groups(uint32_t n_classes)
{
	return n_classes == 2 ? 1 : n_classes;
}

/*
 * Checks every count, index and value of m, but not that the trees are
 * trees (gbt_compile does): GBT_OK or the first problem.
 */
extern GbtStatus gbt_validate(const GbtModel *m);

/* One node of the compiled form (12 bytes). */
typedef struct GbtStep
{
	float		threshold;		/* split: x < threshold goes left; leaf: NaN */
	uint32_t	feature;		/* bit 31: a missing value goes right; below: the feature */
	uint32_t	next;			/* the left child; the right child is next + 1 */
} GbtStep;

#define GBT_LANES 16			/* trees walked side by side */
#define GBT_MISSING_RIGHT 0x80000000u

typedef struct GbtCompiled
{
	uint32_t	n_blocks;		/* groups of GBT_LANES trees, the last padded */
	GbtStep    *steps;			/* n_nodes + 1: the trees, then the padding leaf */
	float	   *leaf;			/* n_nodes + 1: each step's leaf value, 0 for splits */
	uint32_t   *root;			/* n_blocks x GBT_LANES: each lane's first step */
	uint32_t   *group;			/* n_blocks x GBT_LANES: each lane's output group */
	uint32_t   *depth;			/* n_blocks: steps to walk (the deepest lane's levels) */
} GbtCompiled;

/* The number of blocks of m's trees. */
static inline uint32_t
gbt_blocks(const GbtModel *m)
{
	return (m->n_trees + GBT_LANES - 1) / GBT_LANES;
}

/*
 * Compiles a model gbt_validate accepted into c, whose arrays the caller
 * allocated with the sizes above; scratch holds 2 x n_nodes.
 * GBT_NOT_A_TREE when a node is reached twice or never.
 */
extern GbtStatus gbt_compile(const GbtModel *m, uint32_t *scratch, GbtCompiled *c);

/*
 * The margins of row x (n_features doubles, NaN = missing): one per output
 * group.  xf is scratch for n_features floats.
 */
extern void gbt_margins(const GbtModel *m, const GbtCompiled *c, const double *x, float *xf,
						double *margin);

/*
 * The class probabilities of row x (n_classes, in the order of m->classes);
 * xf as above, proba also serves as the margins' scratch.
 */
extern void gbt_predict_proba(const GbtModel *m, const GbtCompiled *c, const double *x,
							  float *xf, double *proba);

/* The label of the largest probability (the lowest label on ties). */
extern int32_t gbt_predict(const GbtModel *m, const GbtCompiled *c, const double *x, float *xf,
						   double *proba);

#endif							/* ANTARES_GBT_H */
