/*
 * forest.c
 *		The tree-ensemble kernels' shared parts (see forest.h and
 *		forest_internal.h): the structural check of a stored tree, status
 *		messages, per-tree generators in the host's memory.
 */
#include "forest.h"
#include "forest_internal.h"
#include "splitmix64.h"

#include <math.h>
#include <stdbool.h>

const char *
forest_status_message(ForestStatus status)
{
	switch (status)
	{
		case FOREST_OK:
			return "ok";
		case FOREST_INVALID_ARGUMENT:
			return "invalid argument";
		case FOREST_NONFINITE_INPUT:
			return "non-finite value in the training data";
		case FOREST_SINGLE_CLASS:
			return "the labels hold a single class";
		case FOREST_OUT_OF_MEMORY:
			return "out of memory";
		case FOREST_INTERRUPTED:
			return "interrupted";
		case FOREST_CORRUPT:
			return "corrupt model";
	}
	return "unknown status";
}

/* ---- the structural check ---- */

/* A right child not yet reached, and its depth. */
typedef struct PendingRight
{
	uint32_t	node;
	uint32_t	depth;
} PendingRight;

size_t
forest_check_tree_work_size(uint32_t n_nodes)
{
	/* At most one pending right child per internal node, < n_nodes / 2 + 1. */
	return ((size_t) n_nodes / 2 + 1) * sizeof(PendingRight);
}

/*
 * Walks the nodes in array order, which for a valid tree is preorder, while
 * keeping the right children whose subtrees are still to come on a stack.
 * After a leaf the next node must be the most recently promised right child
 * (the end of the left subtree it follows is exactly there), and the last
 * node must be a leaf that leaves nothing promised; so each node is reached
 * exactly once, from its one parent, and no index points backwards.
 */
ForestStatus
forest_check_tree(const ForestNode *nodes, uint32_t n_nodes, uint32_t n_features,
				  void *work, uint32_t *max_leaf_depth)
{
	PendingRight *pending = work;
	size_t		n_pending = 0;
	size_t		capacity = forest_check_tree_work_size(n_nodes) / sizeof(PendingRight);
	uint32_t	depth = 0;
	uint32_t	deepest = 0;

	if (n_nodes == 0)
		return FOREST_CORRUPT;
	for (uint32_t i = 0; i < n_nodes; i++)
	{
		const ForestNode *node = &nodes[i];

		if (node->feature == FOREST_LEAF)
		{
			if (node->threshold != 0.0)
				return FOREST_CORRUPT;
			if (depth > deepest)
				deepest = depth;
			if (i + 1 == n_nodes)
			{
				if (n_pending != 0)
					return FOREST_CORRUPT;	/* a right subtree is missing */
				break;
			}
			if (n_pending == 0)
				return FOREST_CORRUPT;	/* nodes after the tree's end */
			n_pending--;
			if (pending[n_pending].node != i + 1)
				return FOREST_CORRUPT;
			depth = pending[n_pending].depth;
		}
		else
		{
			if (node->feature < 0 || (uint32_t) node->feature >= n_features)
				return FOREST_CORRUPT;
			if (!isfinite(node->threshold))
				return FOREST_CORRUPT;
			/* The left child is i + 1 and needs at least one node. */
			if (node->payload <= (uint64_t) i + 1 || node->payload >= n_nodes)
				return FOREST_CORRUPT;
			if (n_pending == capacity)
				return FOREST_CORRUPT;	/* cannot happen in a valid tree */
			depth++;
			pending[n_pending].node = node->payload;
			pending[n_pending].depth = depth;
			n_pending++;
		}
	}
	*max_leaf_depth = deepest;
	return FOREST_OK;
}

/* ---- per-tree generators ---- */

gsl_rng *
forest_rng_alloc(const KernelHost *host)
{
	gsl_rng    *rng = host_alloc_array(host, 1, sizeof(gsl_rng));

	if (!rng)
		return NULL;
	rng->type = gsl_rng_mt19937;
	rng->state = host_alloc_array(host, 1, gsl_rng_mt19937->size);
	if (!rng->state)
	{
		host_free(host, rng);
		return NULL;
	}
	gsl_rng_set(rng, 1);
	return rng;
}

void
forest_rng_free(const KernelHost *host, gsl_rng *rng)
{
	if (rng)
	{
		host_free(host, rng->state);
		host_free(host, rng);
	}
}

void
forest_rng_seed_tree(gsl_rng *rng, uint64_t seed, uint32_t tree)
{
	uint64_t	mixed = splitmix64(splitmix64(seed) ^ (uint64_t) tree);

	/*
	 * mt19937 takes 32 bits and maps seed 0 to its default 4357; fold the
	 * halves and keep 0 away so two trees never share a stream by that
	 * mapping.
	 */
	uint32_t	folded = (uint32_t) (mixed ^ (mixed >> 32));

	gsl_rng_set(rng, folded != 0 ? folded : 0x6a09e667u);
}

ForestStatus
forest_check_tree_starts(const uint32_t *tree_start, uint32_t n_trees, uint32_t n_nodes,
						 uint32_t *largest)
{
	*largest = 0;
	if (n_trees < 1 || tree_start == NULL || tree_start[0] != 0 || tree_start[n_trees] != n_nodes)
		return FOREST_CORRUPT;
	for (uint32_t t = 0; t < n_trees; t++)
	{
		uint32_t	size;

		if (tree_start[t + 1] <= tree_start[t])
			return FOREST_CORRUPT;
		size = tree_start[t + 1] - tree_start[t];
		*largest = size > *largest ? size : *largest;
	}
	return FOREST_OK;
}
