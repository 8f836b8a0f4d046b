/*
 * iforest.c
 *		Isolation forest training, scoring and validation (see iforest.h for
 *		the semantics and the costs).
 *
 * Each tree copies its sub-sample into a column-major s x d buffer first,
 * so the min/max scans and partitions of a node read contiguous memory; the
 * sub-sample is a partial Fisher-Yates shuffle of a row permutation whose
 * swaps are undone afterwards, so every tree starts from the identity and
 * depends only on its own generator.  Trees grow depth-first with an explicit
 * stack (right child pushed first), which numbers nodes in preorder: the
 * storage order of forest.h, written directly.
 */
#include "iforest.h"
#include "forest_internal.h"

#include <math.h>
#include <string.h>

/* numpy's np.euler_gamma, the constant scikit-learn's c(k) uses. */
#define EULER_GAMMA 0.5772156649015329

IForestParams
iforest_default_params(uint64_t seed)
{
	IForestParams params;

	params.n_trees = IFOREST_DEFAULT_TREES;
	params.max_samples = 0;
	params.seed = seed;
	params.progress = NULL;
	params.progress_arg = NULL;
	return params;
}

double
iforest_average_path_length(uint64_t k)
{
	double		kd;

	if (k <= 1)
		return 0.0;
	if (k == 2)
		return 1.0;
	kd = (double) k;
	return 2.0 * (log(kd - 1.0) + EULER_GAMMA) - 2.0 * (kd - 1.0) / kd;
}

uint32_t
iforest_depth_limit(uint32_t max_samples)
{
	uint32_t	depth = 0;

	/* Exact for every size, unlike a floating-point log2. */
	while (depth < 32 && ((uint64_t) 1 << depth) < max_samples)
		depth++;
	return depth;
}

/* ---- training ---- */

/* A node to grow: rows samples[start..end-1] of the sub-sample. */
typedef struct PendingNode
{
	uint32_t	start;
	uint32_t	end;
	uint32_t	depth;
	uint32_t	right_of;		/* the parent whose right child this is, or
								 * NO_PARENT (left children follow their
								 * parent) */
} PendingNode;

#define NO_PARENT UINT32_MAX

/* Working memory of one training run, all from the caller's allocator. */
typedef struct IForestWork
{
	uint32_t   *row_order;		/* n: the identity between trees */
	uint32_t   *swap_with;		/* s: the partial shuffle's swaps, to undo */
	double	   *sub;			/* s x d, column-major: the tree's rows */
	uint32_t   *samples;		/* s: indices into sub, partitioned by node */
	uint32_t   *features;		/* d: a permutation drawn from */
	PendingNode *stack;			/* depth limit + 2 */
	gsl_rng    *rng;
	size_t		polled;			/* rows visited since the host's last poll */
} IForestWork;

static void
iforest_work_free(IForestWork *w, const KernelHost *host)
{
	host_free(host, w->row_order);
	host_free(host, w->swap_with);
	host_free(host, w->sub);
	host_free(host, w->samples);
	host_free(host, w->features);
	host_free(host, w->stack);
	forest_rng_free(host, w->rng);
	memset(w, 0, sizeof(*w));
}

/* Draws the tree's sub-sample into w->sub and puts row_order back. */
static void
draw_subsample(IForestWork *w, const double *x, uint32_t n, uint32_t d, uint32_t s)
{
	for (uint32_t i = 0; i < s; i++)
	{
		uint32_t	j = i + forest_rng_below(w->rng, n - i);
		uint32_t	row = w->row_order[j];

		w->row_order[j] = w->row_order[i];
		w->row_order[i] = row;
		w->swap_with[i] = j;
	}
	for (uint32_t i = 0; i < s; i++)
	{
		const double *src = x + (size_t) w->row_order[i] * d;

		for (uint32_t f = 0; f < d; f++)
			w->sub[(size_t) f * s + i] = src[f];
	}
	for (uint32_t i = s; i-- > 0;)
	{
		uint32_t	j = w->swap_with[i];
		uint32_t	row = w->row_order[j];

		w->row_order[j] = w->row_order[i];
		w->row_order[i] = row;
	}
}

/*
 * Grows one tree on w->sub into nodes (room for 2 s - 1); returns the node
 * count, or 0 when the host said stop (polled every KERNEL_POLL_UNITS rows
 * visited at the nodes).
 */
static uint32_t
grow_tree(IForestWork *w, uint32_t d, uint32_t s, uint32_t depth_limit,
		  const KernelHost *host, ForestNode *nodes)
{
	uint32_t	n_nodes = 0;
	uint32_t	n_pending = 0;

	for (uint32_t i = 0; i < s; i++)
		w->samples[i] = i;
	w->stack[n_pending++] = (PendingNode) {0, s, 0, NO_PARENT};

	while (n_pending > 0)
	{
		PendingNode node = w->stack[--n_pending];
		uint32_t	id = n_nodes++;
		uint32_t   *rows = w->samples + node.start;
		uint32_t	n_rows = node.end - node.start;
		const double *column = NULL;
		double		lo = 0.0,
					hi = 0.0;
		int32_t		feature = FOREST_LEAF;

		if (node.right_of != NO_PARENT)
			nodes[node.right_of].payload = id;

		if (host_work(host, &w->polled, n_rows))
			return 0;

		if (n_rows >= 2 && node.depth < depth_limit)
		{
			/* Features in random order until one varies on these rows. */
			for (uint32_t left = d; left > 0 && feature == FOREST_LEAF; left--)
			{
				uint32_t	j = forest_rng_below(w->rng, left);
				uint32_t	f = w->features[j];

				w->features[j] = w->features[left - 1];
				w->features[left - 1] = f;

				column = w->sub + (size_t) f * s;
				lo = hi = column[rows[0]];
				for (uint32_t i = 1; i < n_rows; i++)
				{
					double		v = column[rows[i]];

					lo = v < lo ? v : lo;
					hi = v > hi ? v : hi;
				}
				if (hi > lo)
					feature = (int32_t) f;
			}
		}

		if (feature == FOREST_LEAF)
		{
			nodes[id] = (ForestNode) {0.0, FOREST_LEAF, n_rows};
			continue;
		}

		{
			double		u = gsl_rng_uniform(w->rng);
			double		span = hi - lo;
			double		threshold;
			uint32_t	mid = 0;

			/* scikit-learn's rand_uniform: (hi - lo) u + lo, in [lo, hi). */
			threshold = isfinite(span) ? span * u + lo : lo * (1.0 - u) + hi * u;
			if (!(threshold < hi) || threshold < lo)
				threshold = lo;

			for (uint32_t i = 0; i < n_rows; i++)
				if (column[rows[i]] <= threshold)
				{
					uint32_t	r = rows[i];

					rows[i] = rows[mid];
					rows[mid++] = r;
				}

			nodes[id] = (ForestNode) {threshold, feature, 0};
			w->stack[n_pending++] = (PendingNode) {node.start + mid, node.end,
												   node.depth + 1, id};
			w->stack[n_pending++] = (PendingNode) {node.start, node.start + mid,
												   node.depth + 1, NO_PARENT};
		}
	}
	return n_nodes;
}

ForestStatus
iforest_train(const double *x, size_t n, size_t d, const IForestParams *params,
			  const KernelHost *host, IForest *out)
{
	IForestWork w;
	uint32_t	s;
	uint32_t	depth_limit;
	uint64_t	node_capacity;
	uint32_t   *tree_start = NULL;
	ForestNode *all_nodes = NULL;
	ForestNode *nodes = NULL;
	ForestStatus status = FOREST_OK;

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	if (n < 2 || n > UINT32_MAX || d < 1 || d > INT32_MAX || params->n_trees < 1)
		return FOREST_INVALID_ARGUMENT;
	if (params->max_samples == 0)
		s = n < IFOREST_DEFAULT_MAX_SAMPLES ? (uint32_t) n : IFOREST_DEFAULT_MAX_SAMPLES;
	else
		s = params->max_samples < n ? params->max_samples : (uint32_t) n;
	if (s < 2)
		return FOREST_INVALID_ARGUMENT;
	/* Room for every tree at its largest, counted in uint32_t. */
	node_capacity = (uint64_t) params->n_trees * (2 * (uint64_t) s - 1);
	if (node_capacity > UINT32_MAX)
		return FOREST_INVALID_ARGUMENT;
	for (size_t i = 0; i < n * d; i++)
		if (!isfinite(x[i]))
			return FOREST_NONFINITE_INPUT;

	depth_limit = iforest_depth_limit(s);
	w.row_order = host_alloc_array(host, n, sizeof(uint32_t));
	w.swap_with = host_alloc_array(host, s, sizeof(uint32_t));
	w.sub = host_alloc_array(host, (size_t) s * d, sizeof(double));
	w.samples = host_alloc_array(host, s, sizeof(uint32_t));
	w.features = host_alloc_array(host, d, sizeof(uint32_t));
	w.stack = host_alloc_array(host, depth_limit + 2, sizeof(PendingNode));
	w.rng = forest_rng_alloc(host);
	tree_start = host_alloc_array(host, (size_t) params->n_trees + 1, sizeof(uint32_t));
	all_nodes = host_alloc_array(host, node_capacity, sizeof(ForestNode));
	if (!w.row_order || !w.swap_with || !w.sub || !w.samples || !w.features ||
		!w.stack || !w.rng || !tree_start || !all_nodes)
	{
		status = FOREST_OUT_OF_MEMORY;
		goto done;
	}
	for (uint32_t i = 0; i < n; i++)
		w.row_order[i] = i;
	for (uint32_t f = 0; f < d; f++)
		w.features[f] = f;

	tree_start[0] = 0;
	for (uint32_t t = 0; t < params->n_trees; t++)
	{
		uint32_t	grown;

		forest_rng_seed_tree(w.rng, params->seed, t);
		draw_subsample(&w, x, (uint32_t) n, (uint32_t) d, s);
		grown = grow_tree(&w, (uint32_t) d, s, depth_limit, host,
						  all_nodes + tree_start[t]);
		if (grown == 0)
		{
			status = FOREST_INTERRUPTED;
			goto done;
		}
		tree_start[t + 1] = tree_start[t] + grown;
		if (params->progress)
			params->progress(params->progress_arg, t + 1, params->n_trees);
	}

	/* Keep only the nodes used (trees are usually well below 2 s - 1). */
	nodes = host_alloc_array(host, tree_start[params->n_trees], sizeof(ForestNode));
	if (!nodes)
	{
		status = FOREST_OUT_OF_MEMORY;
		goto done;
	}
	memcpy(nodes, all_nodes, (size_t) tree_start[params->n_trees] * sizeof(ForestNode));

	out->n_features = (uint32_t) d;
	out->n_trees = params->n_trees;
	out->max_samples = s;
	out->n_nodes = tree_start[params->n_trees];
	out->tree_start = tree_start;
	out->nodes = nodes;
	tree_start = NULL;

done:
	host_free(host, tree_start);
	host_free(host, all_nodes);
	iforest_work_free(&w, host);
	return status;
}

void
iforest_free(IForest *forest, const KernelHost *host)
{
	host_free(host, forest->tree_start);
	host_free(host, forest->nodes);
	memset(forest, 0, sizeof(*forest));
}

/* ---- validation ---- */

ForestStatus
iforest_validate(const IForest *forest, const KernelHost *host)
{
	uint32_t	largest = 0;
	uint32_t	depth_limit;
	void	   *work;
	ForestStatus status = FOREST_OK;

	if (forest->n_features < 1 || forest->n_features > INT32_MAX ||
		forest->max_samples < 2 || !forest->nodes ||
		forest_check_tree_starts(forest->tree_start, forest->n_trees, forest->n_nodes,
								 &largest) != FOREST_OK)
		return FOREST_CORRUPT;

	work = host_alloc_array(host, 1, forest_check_tree_work_size(largest));
	if (!work)
		return FOREST_OUT_OF_MEMORY;
	depth_limit = iforest_depth_limit(forest->max_samples);
	for (uint32_t t = 0; t < forest->n_trees && status == FOREST_OK; t++)
	{
		const ForestNode *nodes = forest->nodes + forest->tree_start[t];
		uint32_t	size = forest->tree_start[t + 1] - forest->tree_start[t];
		uint32_t	deepest;
		uint64_t	rows = 0;

		status = forest_check_tree(nodes, size, forest->n_features, work, &deepest);
		if (status != FOREST_OK)
			break;
		if (deepest > depth_limit)
			status = FOREST_CORRUPT;
		for (uint32_t i = 0; i < size; i++)
			if (nodes[i].feature == FOREST_LEAF)
			{
				if (nodes[i].payload < 1)
					status = FOREST_CORRUPT;
				rows += nodes[i].payload;
			}
		if (rows != forest->max_samples)
			status = FOREST_CORRUPT;
	}
	host_free(host, work);
	return status;
}

/* ---- scoring ---- */

/* FOREST_WALK_WIDTH trees at a time (forest.h), summed in tree order. */
double
iforest_path_length_sum(const IForest *forest, const double *x)
{
	double		sum = 0.0;
	uint32_t	leaf[FOREST_WALK_WIDTH];
	uint32_t	depth[FOREST_WALK_WIDTH];

	for (uint32_t t0 = 0; t0 < forest->n_trees; t0 += FOREST_WALK_WIDTH)
	{
		uint32_t	count = forest->n_trees - t0 < FOREST_WALK_WIDTH ?
			forest->n_trees - t0 : FOREST_WALK_WIDTH;

		forest_walk_trees(forest->nodes, forest->tree_start + t0, count, x, leaf, depth);
		for (uint32_t j = 0; j < count; j++)
		{
			const ForestNode *nodes = forest->nodes + forest->tree_start[t0 + j];

			/*
			 * scikit-learn adds (nodes on the path) + c(k) - 1.0 per tree, in
			 * that order; so does this, to the last bit.
			 */
			sum += ((double) depth[j] + 1.0 +
					iforest_average_path_length(nodes[leaf[j]].payload)) - 1.0;
		}
	}
	return sum;
}

double
iforest_score(const IForest *forest, const double *x)
{
	double		denominator = (double) forest->n_trees *
		iforest_average_path_length(forest->max_samples);

	return -pow(2.0, -(iforest_path_length_sum(forest, x) / denominator));
}

double
iforest_decision(const IForest *forest, const double *x)
{
	return iforest_score(forest, x) - (-0.5);
}

/*
 * Tree by tree over blocks of rows, so one tree's nodes stay in cache while
 * a block walks it; each row's sum runs in the same tree order as
 * iforest_path_length_sum's, so the scores are identical to iforest_score's.
 */
void
iforest_score_rows(const IForest *forest, const double *x, size_t n, double *scores)
{
	double		denominator = (double) forest->n_trees *
		iforest_average_path_length(forest->max_samples);
	uint32_t	d = forest->n_features;

	for (size_t block = 0; block < n; block += FOREST_ROW_BLOCK)
	{
		size_t		block_end = block + FOREST_ROW_BLOCK < n ? block + FOREST_ROW_BLOCK : n;

		for (size_t i = block; i < block_end; i++)
			scores[i] = 0.0;
		for (uint32_t t = 0; t < forest->n_trees; t++)
		{
			const ForestNode *nodes = forest->nodes + forest->tree_start[t];

			for (size_t i = block; i < block_end; i++)
			{
				uint32_t	depth;
				uint32_t	leaf = forest_tree_leaf(nodes, x + i * d, &depth);

				scores[i] += ((double) depth + 1.0 +
							  iforest_average_path_length(nodes[leaf].payload)) - 1.0;
			}
		}
		for (size_t i = block; i < block_end; i++)
			scores[i] = -pow(2.0, -(scores[i] / denominator));
	}
}
