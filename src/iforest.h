/*
 * iforest.h
 *		Isolation forest (Liu, Ting & Zhou 2008) with scikit-learn 1.2's
 *		IsolationForest semantics: a plain-C kernel, no PostgreSQL types.
 *
 * Training.  Each of n_trees trees is grown on its own sub-sample of
 * max_samples rows (default min(256, n)) drawn without replacement.  At a
 * node, features are drawn in random order until one is not constant on
 * the node's rows (so the feature is uniform among the non-constant ones);
 * the threshold is drawn uniformly in [min, max) of that feature there
 * (a draw that rounds to max becomes min), rows with x <= threshold go left.
 * A node is a leaf when it holds one row, reaches depth
 * ceil(log2(max_samples)), or all its rows are equal in every feature.  This
 * is scikit-learn's ExtraTreeRegressor(max_features=1, splitter="random",
 * max_depth=ceil(log2(max_samples))) on the sub-sample.
 *
 * Scoring.  A row's path length in a tree is the depth of the leaf it
 * reaches plus c(k), k the training rows that leaf holds, with
 * c(1) = 0, c(2) = 1, c(k) = 2 (ln(k - 1) + gamma) - 2 (k - 1) / k
 * (scikit-learn's _average_path_length: ln + Euler's gamma stands for the
 * harmonic number).  score_samples = -2^(-sum_trees h / (n_trees c(max_samples))),
 * in (-1, 0), lower is more anomalous; decision_function = score + 0.5
 * (offset -0.5, contamination="auto"), negative means anomalous.
 *
 * Differences from scikit-learn:
 *	 - values stay double; scikit-learn casts X to float32 before growing and
 *	   scoring, and calls a feature constant when max - min <= 1e-7 (a float32
 *	   allowance); here constant means max == min;
 *	 - random numbers come from GSL's mt19937, one generator per tree seeded
 *	   from (seed, tree number), so the same seed gives the same forest but
 *	   not scikit-learn's forest: agreement is statistical;
 *	 - no feature sub-sampling (scikit-learn's max_features, default 1.0 =
 *	   all features, is the only behaviour), no bootstrap, no sample weights.
 *
 * Storage.  The trees' ForestNode arrays (forest.h) one after another;
 * a leaf's payload is the number of sub-sample rows it holds.
 *
 * Cost, n rows of d features, t trees, s = max_samples:
 *	 iforest_train	O(t s (d + log s)) time after an O(n d) finiteness check,
 *					O(n + s d + t s) memory; at most t (2 s - 1) nodes.
 *	 scoring		O(t log s) per row: the nodes are 16 bytes, a forest of 100
 *					trees of 256 rows ~0.2 MB.
 * Measured on one core of the build machine, 20 000 x 23, 100 trees,
 * scikit-learn 1.2 in the same run: training 3 ms (scikit-learn 93 ms),
 * scoring 2.0e5 rows/s one row at a time, 2.5e5 rows/s through
 * iforest_score_rows (scikit-learn's score_samples: 6.7e4 rows/s).
 */
#ifndef ANTARES_IFOREST_H
#define ANTARES_IFOREST_H

#include "forest.h"

#define IFOREST_DEFAULT_TREES 100
#define IFOREST_DEFAULT_MAX_SAMPLES 256

typedef struct IForestParams
{
	uint32_t	n_trees;		/* >= 1 */
	uint32_t	max_samples;	/* 0: min(256, n); more than n: n; the result
								 * must be >= 2 */
	uint64_t	seed;
	ForestProgressFn progress;	/* may be NULL */
	void	   *progress_arg;
} IForestParams;

typedef struct IForest
{
	uint32_t	n_features;
	uint32_t	n_trees;
	uint32_t	max_samples;	/* the sub-sample size used */
	uint32_t	n_nodes;		/* all trees together */
	uint32_t   *tree_start;		/* n_trees + 1 offsets into nodes: tree t is
								 * nodes[tree_start[t] .. tree_start[t+1]-1] */
	ForestNode *nodes;
} IForest;

/* The defaults: 100 trees, max_samples min(256, n), the given seed, no progress report. */
extern IForestParams iforest_default_params(uint64_t seed);

/*
 * Grows a forest on the n x d row-major matrix x (finite values, n >= 2,
 * 1 <= d <= INT32_MAX, n < 2^32).  On FOREST_OK *out owns tree_start and
 * nodes, allocated by host (release with iforest_free); on any other status
 * *out is zeroed and nothing stays allocated.
 */
extern ForestStatus iforest_train(const double *x, size_t n, size_t d,
								  const IForestParams *params,
								  const KernelHost *host, IForest *out);

extern void iforest_free(IForest *forest, const KernelHost *host);

/*
 * Checks a forest that came from outside (a decoded model): n_features,
 * n_trees >= 1, max_samples >= 2, tree_start from 0 to n_nodes and
 * increasing, each tree valid (forest_check_tree) with leaves no deeper
 * than ceil(log2(max_samples)), leaf counts >= 1 summing to max_samples in
 * every tree.  Uses the host's memory for a work buffer only.  Scoring
 * functions assume a forest that passed.
 */
extern ForestStatus iforest_validate(const IForest *forest, const KernelHost *host);

/* c(k): the average path length of an unsuccessful search in a k-row tree. */
extern double iforest_average_path_length(uint64_t k);

/* The depth limit of trees grown on max_samples rows: ceil(log2(max_samples)). */
extern uint32_t iforest_depth_limit(uint32_t max_samples);

/* sum over trees of (leaf depth + c(leaf count)) for one row of n_features values. */
extern double iforest_path_length_sum(const IForest *forest, const double *x);

/* scikit-learn's score_samples for one row: in (-1, 0), lower = more anomalous. */
extern double iforest_score(const IForest *forest, const double *x);

/* decision_function: iforest_score + 0.5, negative = anomalous. */
extern double iforest_decision(const IForest *forest, const double *x);

/*
 * iforest_score of the n rows of the row-major n x n_features matrix x,
 * identical to it row by row but faster for many rows (trees stay in cache).
 */
extern void iforest_score_rows(const IForest *forest, const double *x, size_t n,
							   double *scores);

#endif							/* ANTARES_IFOREST_H */
