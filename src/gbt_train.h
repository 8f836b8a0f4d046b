/*
 * gbt_train.h
 *		Training of a gradient-boosted tree ensemble (gbt.h's layout) by a
 *		histogram algorithm with XGBoost's "hist" semantics.  Plain C, no
 *		PostgreSQL types; memory and interrupt polls through the host
 *		(kernel_host.h).
 *
 * Binning.  Per feature, the sorted non-missing values (NaN = missing).
 * With at most max_bin distinct values, every distinct value but the
 * smallest is a cut; otherwise the cuts are the values at ranks
 * floor(i m / max_bin), i = 1 .. max_bin - 1, of the m sorted values (with
 * repeats, unweighted quantiles), kept when larger than the previous cut
 * and than the smallest value.  A value's bin is the number of cuts <= it;
 * missing values have their own slot after the bins.  Bins are stored
 * row-major (a row's bins contiguous) in bytes when every feature's bins and
 * missing slot fit in 256 codes, else in 16 bits.  Cost O(d n log n) to sort
 * the columns, O(d n log max_bin) to bin.
 *
 * Objective.  Two classes: binary logistic, one tree per round, g = p - y,
 * h = max(p (1 - p), 1e-16) with p = 1 / (1 + exp(-margin)).  K > 2 classes:
 * softmax, one tree per class per round, g = p_k - [y = k], h = max(2 p_k
 * (1 - p_k), 1e-16) (XGBoost's).  Margins start at 0 (XGBoost's base_score
 * 0.5); the gradients of a round come from the margins before it.
 *
 * Trees.  Grown level by level (breadth-first, children appended after
 * their parent) to max_depth.  A node with gradient sums G, H splits at the
 * candidate of largest gain G_L^2/(H_L+lambda) + G_R^2/(H_R+lambda) -
 * G^2/(H+lambda) among those with H_L, H_R >= min_child_weight and a finite
 * gain (lambda = 0 may divide by a sum of 0), if that gain is > 1e-6
 * (XGBoost's kRtEps).  Candidates, per sampled feature: "s
 * bins left" for s = 0 .. cuts (threshold the s-th cut, for s = 0 the
 * feature's smallest value: only the missing values can go left), each with
 * the missing values left and then right (the latter only when the node has
 * rows missing the feature, i.e. the missing slot is not exactly 0).  A bin
 * whose hessian sum is exactly 0 adds no candidate (its split is the
 * previous one).  Ties (equal gains) go to the first candidate: lowest
 * feature, then fewest bins left, then missing left.  A leaf's value is
 * -G / (H + lambda) x learning_rate in float32 (0 when H + lambda is 0).
 * Histograms: sums of (g, h) per bin in double, in row order; at each split
 * the child with fewer rows (the left on ties) is summed, the other is the
 * parent's minus it.  A node's rows are partitioned stably (they stay in
 * increasing row order).  A child's G, H are the split's G_L, H_L and
 * G - G_L, H - H_L.
 *
 * Sampling.  A splitmix64 generator seeded with seed; per round, when
 * subsample < 1, one draw per row in row order (row i is in the round's
 * sample when (draw >> 11) x 2^-53 < subsample), shared by the round's
 * trees; then per tree, when colsample_bytree < 1, m = max(1,
 * floor(colsample_bytree x d)) features by a partial Fisher-Yates shuffle
 * (for i < m: swap position i with i + draw mod (d - i)), used in
 * increasing order.  The rows outside the sample get their margins by a
 * walk of the tree over their bins.
 *
 * Threads.  nthread (at most one per feature) threads: the caller's and
 * workers created with every signal blocked, which call nothing of the
 * host.  They take blocks of rows for the gradients, of a level's nodes for
 * the partitions, and of the used features for histograms and split scans;
 * each block's best split is merged in feature order, so every sum is over
 * the same rows in the same order and the model is the same for any
 * nthread.  The host is polled between phases (after every level and
 * tree), from the caller's thread only; a poll that says stop joins the
 * threads before GBT_TRAIN_INTERRUPTED is returned.
 *
 * Cost: O(rounds x K x (n_sample x d_used x depth / 2 + nodes x d_used x
 * bins)): each level sums at most half its rows into histograms; a split
 * scan visits every bin of every used feature.  Memory O(n d) bytes of bins,
 * O(n K) doubles of margins and gradients, two levels of histograms (nodes x
 * bins x d x 16 bytes).
 */
#ifndef ANTARES_GBT_TRAIN_H
#define ANTARES_GBT_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "gbt.h"
#include "kernel_host.h"

typedef struct GbtTrainParams
{
	uint32_t	rounds;			/* >= 1 */
	uint32_t	max_depth;		/* 1 .. 30 */
	uint32_t	max_bin;		/* 2 .. 65535: bins and the missing slot fit 16 bits */
	uint32_t	nthread;		/* >= 1: threads (see above) */
	double		learning_rate;	/* (0, 1] */
	double		min_child_weight;	/* >= 0, finite */
	double		subsample;		/* (0, 1] */
	double		colsample_bytree;	/* (0, 1] */
	double		lambda;			/* >= 0, finite */
	uint64_t	seed;
} GbtTrainParams;

typedef enum GbtTrainStatus
{
	GBT_TRAIN_OK = 0,
	GBT_TRAIN_BAD_PARAMS,		/* a parameter out of range */
	GBT_TRAIN_BAD_DATA,			/* no rows or features, fewer than 2 classes, a label
								 * >= n_classes, or an infinite value */
	GBT_TRAIN_TOO_LARGE,		/* more than 2^32 - 1 nodes */
	GBT_TRAIN_NO_MEMORY,
	GBT_TRAIN_INTERRUPTED
} GbtTrainStatus;

extern const char *gbt_train_status_message(GbtTrainStatus status);

/*
 * Trains on x (n rows x dim float32, row-major, NaN = missing) and labels y
 * (class indices 0 .. n_classes - 1).  GBT_TRAIN_OK: *m holds the model
 * (n_features, n_classes, n_trees, n_nodes, base_margin, tree_start,
 * tree_group and nodes allocated by host; classes left NULL for the caller
 * to set) and gain[dim] the summed gain of each feature's splits.  Any other
 * status: nothing is kept.  Release with gbt_train_free.
 */
extern GbtTrainStatus gbt_train(const float *x, const uint32_t *y, size_t n, uint32_t dim,
								uint32_t n_classes, const GbtTrainParams *p,
								const KernelHost *host, GbtModel *m, double *gain);

extern void gbt_train_free(GbtModel *m, const KernelHost *host);

#endif							/* ANTARES_GBT_TRAIN_H */
