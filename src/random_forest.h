/*
 * random_forest.h
 *		Random-forest classifier with scikit-learn 1.2's
 *		RandomForestClassifier semantics: a plain-C kernel, no PostgreSQL
 *		types.
 *
 * Training.  Labels are any int32 values; the classes are their distinct
 * values in ascending order (at least two).  Each of n_trees trees is grown
 * on a bootstrap sample (n draws with replacement), kept as the distinct
 * rows drawn with their draw counts as weights, as scikit-learn does: class
 * counts and impurities are weighted, min_samples_leaf counts distinct rows.
 * A node is a leaf when it is pure (Gini impurity <= DBL_EPSILON), holds
 * fewer than max(2, 2 min_samples_leaf) rows, or is at max_depth; otherwise
 * features are drawn in random order without replacement until max_features
 * non-constant ones have been searched (features found constant on a node
 * are remembered for its descendants and do not count; the search goes on
 * past max_features while only constants were drawn), and for each the rows
 * are sorted by value and every boundary between distinct values that leaves
 * >= min_samples_leaf rows on both sides is scored by the Gini decrease.  The
 * best split (the first found on ties) puts the threshold midway between the
 * two values (the lower value when the midpoint rounds up to the upper one);
 * no valid boundary makes the node a leaf.  A leaf stores the weighted class
 * fractions of its rows.
 *
 * Prediction.  predict_proba = mean over trees of the class fractions of the
 * leaf the row reaches; predict = the class of the first largest
 * probability.  Feature importances: per tree, the weighted impurity
 * decrease W_node G_node - W_left G_left - W_right G_right summed over the
 * tree's splits on each feature, divided by the root's weight and normalised
 * to sum 1; averaged over the trees with more than one node, normalised
 * again.
 *
 * Differences from scikit-learn:
 *	 - values stay double; scikit-learn sorts float32 copies and treats values
 *	   within 1e-7 of each other as equal; here only equal values are;
 *	 - random numbers come from GSL's mt19937, one generator per tree seeded
 *	   from (seed, tree number): same seed, same forest, but not
 *	   scikit-learn's forest;
 *	 - when every tree is a single leaf, or no split decreased impurity at
 *	   all, the importances are all 0 (scikit-learn: 0 or NaN);
 *	 - a single class is refused (FOREST_SINGLE_CLASS) rather than fitted.
 *	 Gini sums are kept in integers (weights are draw counts), so split
 *	 scores are exact up to the last division.
 *
 * Storage.  The trees' ForestNode arrays (forest.h) one after another; a
 * leaf's payload is its row in leaf_proba, numbered 0, 1, 2, ... in storage
 * order across the forest.
 *
 * Cost, n rows of d features, t trees, m = max_features, tree depth h:
 *	 rf_train		O(d n log n) once to rank the columns, then O(t m n h): a node
 *					sorts its rows once per feature searched by a radix sort
 *					on the ranks, linear in its size; O(n d + t n) memory:
 *					ranks and values per column, up to 2 n - 1 nodes per tree
 *					(far fewer in practice: ~2 800 for n = 20 000 below).
 *	 prediction		O(t h + t classes) per row.
 * Measured on one core of the build machine, 20 000 x 23 (scikit-learn's
 * make_classification), 100 trees, scikit-learn 1.2 in the same run:
 * training 1.0 s (scikit-learn 7.3 s), same test accuracy (0.935) and node
 * count (2.8e5); predict_proba ~6e4 rows/s one row at a time, ~9e4 rows/s
 * through rf_predict_proba_rows (scikit-learn, batched: 8.8e4 rows/s).
 * rf_predict_proba walks all trees in rounds (forest.h): on 4 overlapping
 * classes (bench/forest.py's data, 9.2e5 nodes) 8e4-1e5 rows/s one row at a
 * time through SQL, against scikit-learn's batched 6e4-7e4.
 */
#ifndef ANTARES_RANDOM_FOREST_H
#define ANTARES_RANDOM_FOREST_H

#include <stdbool.h>

#include "forest.h"

#define RF_DEFAULT_TREES 100

typedef struct RandomForestParams
{
	uint32_t	n_trees;		/* >= 1 */
	uint32_t	max_features;	/* features searched per node, 1..d; 0:
								 * floor(sqrt(d)), at least 1 */
	int32_t		max_depth;		/* <= 0: unlimited */
	uint32_t	min_samples_leaf;	/* >= 1 */
	bool		bootstrap;		/* false: every tree sees every row once */
	uint64_t	seed;
	ForestProgressFn progress;	/* may be NULL */
	void	   *progress_arg;
} RandomForestParams;

typedef struct RandomForest
{
	uint32_t	n_features;
	uint32_t	n_classes;
	uint32_t	n_trees;
	uint32_t	n_nodes;		/* all trees together */
	uint32_t	n_leaves;		/* all trees together */
	int32_t    *classes;		/* n_classes labels, strictly increasing */
	uint32_t   *tree_start;		/* n_trees + 1 offsets into nodes */
	ForestNode *nodes;
	double	   *leaf_proba;		/* n_leaves x n_classes, row-major */
	double	   *importances;	/* n_features, sum 1 (or all 0) */
} RandomForest;

/* The defaults: 100 trees, floor(sqrt(d)) features, unlimited depth,
 * min_samples_leaf 1, bootstrap, the given seed, no progress report. */
extern RandomForestParams rf_default_params(uint64_t seed);

/*
 * Grows a forest on the n x d row-major matrix x (finite values) with
 * labels[i] the class of row i; 1 <= n < 2^31, 1 <= d <= INT32_MAX.  On
 * FOREST_OK *out owns its arrays, allocated by host (release with rf_free);
 * on any other status *out is zeroed and nothing stays allocated.
 */
extern ForestStatus rf_train(const double *x, const int32_t *labels, size_t n, size_t d,
							 const RandomForestParams *params,
							 const KernelHost *host, RandomForest *out);

extern void rf_free(RandomForest *forest, const KernelHost *host);

/*
 * Checks a forest that came from outside (a decoded model): sizes >= 1
 * (n_classes >= 2), classes strictly increasing, tree_start from 0 to
 * n_nodes and increasing, each tree valid (forest_check_tree), leaf
 * payloads numbering the leaves 0 .. n_leaves - 1 in storage order,
 * probabilities finite in [0, 1] with rows summing to 1 (within 1e-9),
 * importances finite, >= 0, summing to 1 (within 1e-9) or all 0.  Uses
 * the host's memory for a work buffer only.  Prediction functions
 * assume a forest that passed.
 */
extern ForestStatus rf_validate(const RandomForest *forest, const KernelHost *host);

/* predict_proba of one row: proba[k] for classes[k], k < n_classes. */
extern void rf_predict_proba(const RandomForest *forest, const double *x, double *proba);

/*
 * predict_proba of the n rows of the row-major n x n_features matrix x into
 * the row-major n x n_classes proba, identical to rf_predict_proba row by
 * row but faster for many rows (trees stay in cache).
 */
extern void rf_predict_proba_rows(const RandomForest *forest, const double *x, size_t n,
								  double *proba);

/*
 * predict of one row: the class with the largest probability, the first on
 * ties.  proba: n_classes doubles of scratch, left holding predict_proba.
 */
extern int32_t rf_predict(const RandomForest *forest, const double *x, double *proba);

/* The index into nodes of the leaf row x reaches in tree t. */
extern uint32_t rf_tree_leaf(const RandomForest *forest, uint32_t t, const double *x);

#endif							/* ANTARES_RANDOM_FOREST_H */
