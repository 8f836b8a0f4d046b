/*
 * forest.h
 *		What the tree-ensemble kernels (iforest.h, random_forest.h) share: the
 *		flat node array every tree is stored in, the progress report of
 *		training, status codes, and the structural check of one stored tree.
 *		Plain C, no PostgreSQL types; memory and interrupt polls come from the
 *		caller's host (kernel_host.h).
 *
 * A tree is an array of ForestNode in preorder: node 0 is the root, the left
 * child of an internal node i is node i + 1, its right child is the node its
 * payload names (an index within the same tree), and a leaf's payload is the
 * kernel's leaf datum (a training-sample count for the isolation forest, a
 * row of the probability table for the random forest).  A forest is the
 * trees' node arrays one after another plus the offset at which each tree
 * starts.  The layout has fixed-width fields and no pointers, so a model
 * value can store it as is and a decoder can check it with forest_check_tree
 * before any traversal: indices only point forward, inside the tree, and
 * every node is reached exactly once, so no input makes a walk loop or read
 * outside the array.
 *
 * Decision rule (as scikit-learn's trees): at an internal node a row goes
 * left when x[feature] <= threshold, right otherwise; a NaN goes right.
 */
#ifndef ANTARES_FOREST_H
#define ANTARES_FOREST_H

#include <stddef.h>
#include <stdint.h>

#include "kernel_host.h"

#define FOREST_LEAF (-1)		/* ForestNode.feature of a leaf */

typedef struct ForestNode
{
	double		threshold;		/* internal: the split; leaf: 0 */
	int32_t		feature;		/* internal: in [0, n_features); leaf: FOREST_LEAF */
	uint32_t	payload;		/* internal: index of the right child in the
								 * tree; leaf: the kernel's leaf datum */
} ForestNode;

typedef enum ForestStatus
{
	FOREST_OK = 0,
	FOREST_INVALID_ARGUMENT,	/* a size or parameter out of range */
	FOREST_NONFINITE_INPUT,		/* NaN or infinity in the training matrix */
	FOREST_SINGLE_CLASS,		/* a classifier's labels hold one class */
	FOREST_OUT_OF_MEMORY,		/* the host's alloc returned NULL */
	FOREST_INTERRUPTED,			/* the host said stop */
	FOREST_CORRUPT				/* a validator rejected a model */
} ForestStatus;

/*
 * The kernels' host: every byte a kernel holds comes from its alloc (NULL
 * fails the call with FOREST_OUT_OF_MEMORY after freeing everything), and
 * training polls it once every KERNEL_POLL_UNITS units of work, a row at an
 * isolation-forest node or a row times a feature searched at a random-forest
 * node (stop: FOREST_INTERRUPTED after freeing everything).  Both may also
 * leave by a non-local exit when the host reclaims its memory another way.
 *
 * A progress report, data only: if the training parameters name one, it
 * runs after each tree with the number of trees grown so far.
 */
typedef void (*ForestProgressFn) (void *arg, uint32_t trees_done, uint32_t n_trees);

/* Rows the batch scoring functions walk through one tree before the next. */
#define FOREST_ROW_BLOCK 256

/* A message for a status, "out of memory" and the like. */
extern const char *forest_status_message(ForestStatus status);

/*
 * Checks that nodes[0..n_nodes-1] is one tree as described above: n_nodes
 * >= 1, internal nodes with a feature in [0, n_features), a finite threshold
 * and a right child after the end of their left subtree and inside the
 * array, leaves with threshold 0, every node reached exactly once.  work
 * holds forest_check_tree_work_size(n_nodes) bytes, aligned for uint32_t.
 * On success *max_leaf_depth is the depth of the deepest leaf (root = 0).
 * Leaf payloads are the caller's to check.
 */
extern size_t forest_check_tree_work_size(uint32_t n_nodes);

/*
 * Checks the offsets of n_trees >= 1 trees in n_nodes nodes: tree_start[0]
 * = 0, strictly increasing, tree_start[n_trees] = n_nodes; on success
 * *largest is the size of the largest tree.
 */
extern ForestStatus forest_check_tree_starts(const uint32_t *tree_start, uint32_t n_trees,
											 uint32_t n_nodes, uint32_t *largest);
extern ForestStatus forest_check_tree(const ForestNode *nodes, uint32_t n_nodes,
									  uint32_t n_features, void *work,
									  uint32_t *max_leaf_depth);

/*
 * The leaf a row x (n_features values) reaches in a valid tree, as an index
 * into nodes; its depth in *depth when depth is not NULL.
 */
static inline uint32_t
forest_tree_leaf(const ForestNode *nodes, const double *x, uint32_t *depth)
{
	uint32_t	i = 0;
	uint32_t	level = 0;

	while (nodes[i].feature != FOREST_LEAF)
	{
		i = x[nodes[i].feature] <= nodes[i].threshold ? i + 1 : nodes[i].payload;
		level++;
	}
	if (depth)
		*depth = level;
	return i;
}

/*
 * Trees walked side by side for one row (forest_walk_trees).  A walk is a
 * chain of dependent loads, and a random forest of ~10^6 nodes (15 MB) lives
 * in L3 or DRAM: one tree at a time, a row waits for every node in turn.
 * Walking up to FOREST_WALK_WIDTH trees in rounds, one node of each per
 * round, issues that many independent loads at once, and prefetching both
 * children of each node starts the next round's loads one round early.  A
 * tree leaves the round list when it reaches its leaf, so a round costs the
 * trees still walking and a row costs the sum of its path lengths, not the
 * longest path times the trees.  The only branch is a tree's arrival at its
 * leaf, once per tree; the child is chosen with masks (a conditional that
 * the compiler turned into a jump made the walk 2-4x slower).  Measured on the build machine, one row at
 * a time through bench/forest.py's random forest (100 trees, 9.2e5 nodes,
 * mean path 14.6, longest 34), outside the server: 20 000 rows/s one tree at
 * a time, 39 000 with 16 trees in lockstep, 90 000-100 000 with 32 trees in
 * lockstep plus the prefetches, 110 000-125 000 with all 100 trees in rounds
 * (this code).  Isolation forests (~0.1 MB, in L2) score at the same speed
 * either way.
 */
#define FOREST_WALK_WIDTH 128

/*
 * The leaves row x reaches in the count <= FOREST_WALK_WIDTH trees that
 * start at nodes + tree_start[0], ..., nodes + tree_start[count - 1]:
 * leaf[j] is an index into tree j's nodes, depth[j] (when depth is not NULL)
 * its depth.  The same leaves as forest_tree_leaf's.
 */
static inline void
forest_walk_trees(const ForestNode *nodes, const uint32_t *tree_start, uint32_t count,
				  const double *x, uint32_t *leaf, uint32_t *depth)
{
	uint32_t	pos[FOREST_WALK_WIDTH];
	uint32_t	level[FOREST_WALK_WIDTH];
	uint8_t		walking[FOREST_WALK_WIDTH];
	uint32_t	n_walking = count;

	for (uint32_t j = 0; j < count; j++)
	{
		pos[j] = 0;
		level[j] = 0;
		walking[j] = (uint8_t) j;
	}
	while (n_walking > 0)
	{
		uint32_t	still = 0;

		for (uint32_t q = 0; q < n_walking; q++)
		{
			uint32_t	j = walking[q];
			const ForestNode *tree = nodes + tree_start[j];
			const ForestNode *node = tree + pos[j];
			uint32_t	right = node->payload;
			uint32_t	go_right;

			if (node->feature == FOREST_LEAF)
				continue;		/* the tree leaves the list */
			__builtin_prefetch(tree + right);	/* the next round's loads */
			__builtin_prefetch(node + 1);
			/* NaN goes right; masks, not a jump, pick the child */
			go_right = !(x[node->feature] <= node->threshold);
			pos[j] = (right & (0u - go_right)) | ((pos[j] + 1) & (go_right - 1u));
			level[j]++;
			walking[still++] = (uint8_t) j;
		}
		n_walking = still;
	}
	for (uint32_t j = 0; j < count; j++)
	{
		leaf[j] = pos[j];
		if (depth)
			depth[j] = level[j];
	}
}

#endif							/* ANTARES_FOREST_H */
