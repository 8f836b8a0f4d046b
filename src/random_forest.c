/*
 * random_forest.c
 *		Random-forest classifier training, prediction and validation (see
 *		random_forest.h for the semantics and the costs).
 *
 * Speed comes from doing at each node only what scikit-learn's BestSplitter
 * does, with less overhead around it:
 *	 - each column of x is ranked once per training run (equal values share
 *	   a rank); a node then sorts 8-byte integer keys (rank << 32 | row)
 *	   instead of (float, index) pairs: by an LSD radix sort on the ranks
 *	   relative to the node's smallest, one 8-bit pass per byte of the
 *	   node's rank range, or insertion sort for small nodes.  Sorting was
 *	   three quarters of the time with a comparison sort.  Ranks give the same
 *	   boundaries and thresholds as the values (the midpoint of the two
 *	   values on either side), and the partition compares ranks;
 *	 - the ranks are column-major, so filling a node's keys for one feature
 *	   reads one column; a feature found constant while filling is never
 *	   sorted;
 *	 - each row's class and bootstrap weight sit together in one 8-byte
 *	   record, looked up once per row;
 *	 - the Gini search keeps weighted class counts and the sums of their
 *	   squares in integers, updated in O(1) per row whatever the number of
 *	   classes: with W the weight of a side and n_k its class weights,
 *	   W * Gini = W - sum_k n_k^2 / W, so the best split maximises
 *	   sum_left n_k^2 / W_left + sum_right n_k^2 / W_right (scikit-learn's
 *	   proxy_impurity_improvement);
 *	 - every buffer is allocated once per training run; node and leaf arrays
 *	   grow geometrically between trees, never inside one.
 * Trees grow depth-first with an explicit stack (right child pushed first),
 * which numbers nodes in preorder, the storage order of forest.h.
 */
#include "random_forest.h"
#include "forest_internal.h"
#include "labels.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

RandomForestParams
rf_default_params(uint64_t seed)
{
	RandomForestParams params;

	params.n_trees = RF_DEFAULT_TREES;
	params.max_features = 0;
	params.max_depth = 0;
	params.min_samples_leaf = 1;
	params.bootstrap = true;
	params.seed = seed;
	params.progress = NULL;
	params.progress_arg = NULL;
	return params;
}

/* ---- sorting (value, row) pairs by value: ranking the columns ---- */

typedef struct SortItem
{
	double		value;
	uint32_t	row;
} SortItem;

static inline void
item_swap(SortItem *a, SortItem *b)
{
	SortItem	t = *a;

	*a = *b;
	*b = t;
}

static void
insertion_sort(SortItem *a, size_t n)
{
	for (size_t i = 1; i < n; i++)
	{
		SortItem	t = a[i];
		size_t		j = i;

		while (j > 0 && a[j - 1].value > t.value)
		{
			a[j] = a[j - 1];
			j--;
		}
		a[j] = t;
	}
}

static void
sift_down(SortItem *a, size_t root, size_t n)
{
	for (;;)
	{
		size_t		child = 2 * root + 1;
		size_t		largest = root;

		if (child < n && a[child].value > a[largest].value)
			largest = child;
		if (child + 1 < n && a[child + 1].value > a[largest].value)
			largest = child + 1;
		if (largest == root)
			return;
		item_swap(&a[root], &a[largest]);
		root = largest;
	}
}

static void
heap_sort(SortItem *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (size_t end = n; end-- > 1;)
	{
		item_swap(&a[0], &a[end]);
		sift_down(a, 0, end);
	}
}

/*
 * Quicksort with a median-of-three pivot and Hoare partitioning (runs of
 * equal values split evenly, so duplicates cost O(n log n), not O(n^2)),
 * insertion sort below 16 items, heapsort past 2 log2(n) levels.
 */
static void
intro_sort(SortItem *a, size_t n, int depth_budget)
{
	while (n > 16)
	{
		size_t		i,
					j;
		double		pivot;

		if (depth_budget-- == 0)
		{
			heap_sort(a, n);
			return;
		}
		/* Order a[0], a[n/2], a[n-1]; the median becomes the pivot. */
		if (a[n / 2].value < a[0].value)
			item_swap(&a[n / 2], &a[0]);
		if (a[n - 1].value < a[n / 2].value)
		{
			item_swap(&a[n - 1], &a[n / 2]);
			if (a[n / 2].value < a[0].value)
				item_swap(&a[n / 2], &a[0]);
		}
		pivot = a[n / 2].value;
		i = 0;
		j = n - 1;
		for (;;)
		{
			while (a[i].value < pivot)
				i++;
			while (a[j].value > pivot)
				j--;
			if (i >= j)
				break;
			item_swap(&a[i], &a[j]);
			i++;
			j--;
		}
		/* a[0..j] <= pivot <= a[j+1..n-1]; recurse into the smaller part. */
		if (j + 1 < n - j - 1)
		{
			intro_sort(a, j + 1, depth_budget);
			a += j + 1;
			n -= j + 1;
		}
		else
		{
			intro_sort(a + j + 1, n - j - 1, depth_budget);
			n = j + 1;
		}
	}
	insertion_sort(a, n);
}

static void
sort_items(SortItem *a, size_t n)
{
	int			budget = 0;

	for (size_t m = n; m > 1; m >>= 1)
		budget += 2;
	intro_sort(a, n, budget);
}

/* ---- sorting a node's (rank << 32 | row) keys ---- */

#define RADIX_MIN_KEYS 64		/* below this, insertion sort is faster */

/*
 * Sorts keys[0..n-1], whose ranks (the high halves) lie in [lo, hi], using
 * spare (n keys) as the other buffer; returns the buffer holding the result.
 */
static uint64_t *
sort_keys(uint64_t *keys, uint64_t *spare, uint32_t n, uint32_t lo, uint32_t hi)
{
	uint32_t	range = hi - lo;

	if (n < RADIX_MIN_KEYS)
	{
		for (uint32_t i = 1; i < n; i++)
		{
			uint64_t	t = keys[i];
			uint32_t	j = i;

			while (j > 0 && keys[j - 1] > t)
			{
				keys[j] = keys[j - 1];
				j--;
			}
			keys[j] = t;
		}
		return keys;
	}
	for (uint32_t shift = 0; shift < 32 && (range >> shift) != 0; shift += 8)
	{
		uint32_t	count[256] = {0};
		uint32_t	sum = 0;

		for (uint32_t i = 0; i < n; i++)
			count[(((uint32_t) (keys[i] >> 32) - lo) >> shift) & 255]++;
		for (uint32_t b = 0; b < 256; b++)
		{
			uint32_t	c = count[b];

			count[b] = sum;
			sum += c;
		}
		for (uint32_t i = 0; i < n; i++)
			spare[count[(((uint32_t) (keys[i] >> 32) - lo) >> shift) & 255]++] = keys[i];

		{
			uint64_t   *t = keys;

			keys = spare;
			spare = t;
		}
	}
	return keys;
}

/* ---- training ---- */

/* A row's class (index into classes) and bootstrap weight (times drawn). */
typedef struct ClassWeight
{
	uint32_t	class_index;
	uint32_t	weight;
} ClassWeight;

/* A node to grow: rows samples[start..end-1]. */
typedef struct PendingNode
{
	uint32_t	start;
	uint32_t	end;
	uint32_t	depth;
	uint32_t	right_of;		/* parent whose right child this is, or
								 * NO_PARENT */
	uint32_t	n_constant;		/* features known constant here: the first
								 * n_constant of constant_features */
} PendingNode;

#define NO_PARENT UINT32_MAX

/* The best split found at a node. */
typedef struct Split
{
	uint32_t	feature;
	uint32_t	last_left_rank; /* rows with a rank <= this go left */
	double		threshold;
	double		score;			/* sum_left n_k^2/W_left + sum_right n_k^2/W_right */
} Split;

/* Everything one training run allocates besides its result. */
typedef struct RfWork
{
	uint32_t	n;
	uint32_t	d;
	uint32_t	n_classes;
	uint32_t	max_features;
	uint32_t	max_depth;		/* UINT32_MAX: unlimited */
	uint32_t	min_samples_leaf;
	uint32_t   *ranks;			/* d x n: ranks[f * n + i], rank of x[i][f] in
								 * its column, 0 = smallest, ties equal */
	double	   *rank_values;	/* d x n: rank_values[f * n + r], the value of
								 * rank r */
	uint64_t   *keys;			/* n: a node's (rank << 32 | row) */
	uint64_t   *spare_keys;		/* n: the radix sort's other buffer */
	ClassWeight *class_weight;	/* n */
	uint32_t   *samples;		/* n: the tree's distinct rows, by node */
	SortItem   *items;			/* n: to rank the columns */
	uint32_t   *features;		/* d: the draw order, constants first */
	uint32_t   *constant_features;	/* d: constants known along the path */
	PendingNode *stack;			/* n + 1 */
	int64_t    *node_counts;	/* n_classes: weights per class at a node */
	int64_t    *left_counts;	/* n_classes */
	int64_t    *right_counts;	/* n_classes */
	double	   *tree_importance;	/* d */
	gsl_rng    *rng;
	size_t		polled;			/* units since the host's last poll */
} RfWork;

static void
rf_work_free(RfWork *w, const KernelHost *host)
{
	host_free(host, w->ranks);
	host_free(host, w->rank_values);
	host_free(host, w->keys);
	host_free(host, w->spare_keys);
	host_free(host, w->class_weight);
	host_free(host, w->samples);
	host_free(host, w->items);
	host_free(host, w->features);
	host_free(host, w->constant_features);
	host_free(host, w->stack);
	host_free(host, w->node_counts);
	host_free(host, w->left_counts);
	host_free(host, w->right_counts);
	host_free(host, w->tree_importance);
	forest_rng_free(host, w->rng);
	memset(w, 0, sizeof(*w));
}

/* Result arrays that grow between trees. */
typedef struct RfGrowing
{
	ForestNode *nodes;
	size_t		node_capacity;
	double	   *leaf_proba;
	size_t		leaf_capacity;	/* in doubles */
} RfGrowing;

/* Makes *array hold at least need elements of size bytes, keeping used. */
static bool
reserve(const KernelHost *host, void **array, size_t *capacity, size_t need,
		size_t used, size_t size)
{
	void	   *bigger;
	size_t		new_capacity;

	if (need <= *capacity)
		return true;
	new_capacity = *capacity * 2 > need ? *capacity * 2 : need;
	bigger = host_alloc_array(host, new_capacity, size);
	if (!bigger)
		return false;
	if (used > 0)
		memcpy(bigger, *array, used * size);
	host_free(host, *array);
	*array = bigger;
	*capacity = new_capacity;
	return true;
}

/* Gini impurity from class weights with sum w and sum of squares sq. */
static inline double
gini(int64_t w, int64_t sq)
{
	return 1.0 - (double) sq / ((double) w * (double) w);
}

/*
 * The best split of rows samples[start..end-1] (class weights node_counts,
 * total weight, sum of squares node_sq), drawing features as scikit-learn's
 * BestSplitter: Fisher-Yates without replacement over features, with
 * features[0..n_known-1] the constants known from the ancestors (drawn but
 * skipped), newly found constants moved next to them.  Returns false when
 * no split is valid; *n_constant becomes the constants known to the
 * children.
 */
static bool
find_split(RfWork *w, uint32_t start, uint32_t end, int64_t node_weight,
		   int64_t node_sq, uint32_t *n_constant, Split *best)
{
	uint32_t	n_known = *n_constant;
	uint32_t	n_found = 0;
	uint32_t	n_drawn_constants = 0;
	uint32_t	n_total = n_known;
	uint32_t	n_visited = 0;
	uint32_t	f_i = w->d;
	uint32_t	n_rows = end - start;
	uint32_t	min_leaf = w->min_samples_leaf;
	const ClassWeight *cw = w->class_weight;
	bool		found = false;

	best->score = -INFINITY;

	while (f_i > n_total &&
		   (n_visited < w->max_features || n_visited <= n_found + n_drawn_constants))
	{
		uint32_t	f_j;
		uint32_t	feature;
		const uint32_t *ranks;
		uint64_t   *sorted;
		uint32_t	lo,
					hi;
		int64_t		left_w = 0,
					left_sq = 0,
					right_w = node_weight,
					right_sq = node_sq;

		n_visited++;
		f_j = n_drawn_constants +
			forest_rng_below(w->rng, f_i - n_found - n_drawn_constants);
		if (f_j < n_known)
		{
			uint32_t	t = w->features[n_drawn_constants];

			w->features[n_drawn_constants] = w->features[f_j];
			w->features[f_j] = t;
			n_drawn_constants++;
			continue;
		}
		f_j += n_found;
		feature = w->features[f_j];

		ranks = w->ranks + (size_t) feature * w->n;
		lo = hi = ranks[w->samples[start]];
		for (uint32_t i = 0; i < n_rows; i++)
		{
			uint32_t	row = w->samples[start + i];
			uint32_t	r = ranks[row];

			w->keys[i] = (uint64_t) r << 32 | row;
			lo = r < lo ? r : lo;
			hi = r > hi ? r : hi;
		}
		if (hi == lo)
		{
			w->features[f_j] = w->features[n_total];
			w->features[n_total] = feature;
			n_found++;
			n_total++;
			continue;
		}
		f_i--;
		w->features[f_j] = w->features[f_i];
		w->features[f_i] = feature;

		sorted = sort_keys(w->keys, w->spare_keys, n_rows, lo, hi);

		memset(w->left_counts, 0, sizeof(int64_t) * w->n_classes);
		memcpy(w->right_counts, w->node_counts, sizeof(int64_t) * w->n_classes);
		for (uint32_t p = 0; p + 1 < n_rows; p++)
		{
			ClassWeight r = cw[(uint32_t) sorted[p]];
			int64_t		wt = r.weight;
			int64_t		nl = w->left_counts[r.class_index];
			int64_t		nr = w->right_counts[r.class_index];
			uint32_t	rank = (uint32_t) (sorted[p] >> 32);
			uint32_t	next_rank = (uint32_t) (sorted[p + 1] >> 32);

			/* (n + w)^2 - n^2 = w (2 n + w); (n - w)^2 - n^2 = w (w - 2 n) */
			left_sq += wt * (2 * nl + wt);
			right_sq += wt * (wt - 2 * nr);
			w->left_counts[r.class_index] = nl + wt;
			w->right_counts[r.class_index] = nr - wt;
			left_w += wt;
			right_w -= wt;

			if (next_rank > rank && p + 1 >= min_leaf && n_rows - p - 1 >= min_leaf)
			{
				double		score = (double) left_sq / (double) left_w +
					(double) right_sq / (double) right_w;

				if (score > best->score)
				{
					const double *values = w->rank_values + (size_t) feature * w->n;
					double		below = values[rank];
					double		above = values[next_rank];
					double		mid = below / 2.0 + above / 2.0;

					best->score = score;
					best->feature = feature;
					best->last_left_rank = rank;
					/* scikit-learn: the lower value when the midpoint is not below above */
					best->threshold = (mid == above || isinf(mid)) ? below : mid;
					found = true;
				}
			}
		}
	}

	/*
	 * Restore the ancestors' constants at the front (the draw permuted them)
	 * and record the new ones after them for the children, as scikit-learn:
	 * constant_features[0..n_known-1] is shared by the whole path.
	 */
	memcpy(w->features, w->constant_features, sizeof(uint32_t) * n_known);
	memcpy(w->constant_features + n_known, w->features + n_known,
		   sizeof(uint32_t) * n_found);
	*n_constant = n_total;
	return found;
}

/*
 * Grows one tree on the rows with weight > 0 into g (room reserved by the
 * caller: 2 n_distinct - 1 nodes and n_distinct leaves after the used ones).
 * Returns false when the host said stop (polled every KERNEL_POLL_UNITS rows
 * sorted at the nodes).
 */
static bool
grow_tree(RfWork *w, uint32_t n_distinct, const KernelHost *host,
		  ForestNode *nodes, uint32_t *n_nodes_out,
		  double *leaf_proba, uint32_t first_leaf, uint32_t *n_leaves_out,
		  double *root_weight)
{
	uint32_t	n_nodes = 0;
	uint32_t	n_leaves = 0;
	uint32_t	n_pending = 0;
	uint32_t	k_classes = w->n_classes;

	for (uint32_t f = 0; f < w->d; f++)
		w->features[f] = f;
	w->stack[n_pending++] = (PendingNode) {0, n_distinct, 0, NO_PARENT, 0};

	while (n_pending > 0)
	{
		PendingNode node = w->stack[--n_pending];
		uint32_t	id = n_nodes++;
		uint32_t	n_rows = node.end - node.start;
		int64_t		weight = 0,
					sq = 0;
		double		impurity;
		bool		leaf;
		Split		split;

		if (node.right_of != NO_PARENT)
			nodes[node.right_of].payload = id;

		/* a node sorts its rows once per feature searched */
		if (host_work(host, &w->polled, (size_t) n_rows * w->max_features))
			return false;

		memset(w->node_counts, 0, sizeof(int64_t) * k_classes);
		for (uint32_t i = node.start; i < node.end; i++)
		{
			ClassWeight r = w->class_weight[w->samples[i]];

			w->node_counts[r.class_index] += r.weight;
		}
		for (uint32_t k = 0; k < k_classes; k++)
		{
			weight += w->node_counts[k];
			sq += w->node_counts[k] * w->node_counts[k];
		}
		impurity = gini(weight, sq);
		if (id == 0)
			*root_weight = (double) weight;

		leaf = node.depth >= w->max_depth || n_rows < 2 ||
			n_rows < 2 * (uint64_t) w->min_samples_leaf || impurity <= DBL_EPSILON;
		if (!leaf)
			leaf = !find_split(w, node.start, node.end, weight, sq,
							   &node.n_constant, &split);

		if (leaf)
		{
			double	   *proba = leaf_proba + (size_t) n_leaves * k_classes;

			for (uint32_t k = 0; k < k_classes; k++)
				proba[k] = (double) w->node_counts[k] / (double) weight;
			nodes[id] = (ForestNode) {0.0, FOREST_LEAF, first_leaf + n_leaves};
			n_leaves++;
			continue;
		}

		{
			const uint32_t *ranks = w->ranks + (size_t) split.feature * w->n;
			uint32_t   *rows = w->samples + node.start;
			uint32_t	mid = 0;
			int64_t		left_weight = 0,
						left_sq = 0,
						right_weight,
						right_sq = 0;

			memset(w->left_counts, 0, sizeof(int64_t) * k_classes);
			for (uint32_t i = 0; i < n_rows; i++)
				if (ranks[rows[i]] <= split.last_left_rank)
				{
					uint32_t	r = rows[i];
					ClassWeight c = w->class_weight[r];

					w->left_counts[c.class_index] += c.weight;
					rows[i] = rows[mid];
					rows[mid++] = r;
				}
			for (uint32_t k = 0; k < k_classes; k++)
			{
				int64_t		right = w->node_counts[k] - w->left_counts[k];

				left_weight += w->left_counts[k];
				left_sq += w->left_counts[k] * w->left_counts[k];
				right_sq += right * right;
			}
			right_weight = weight - left_weight;

			/* scikit-learn's compute_feature_importances, node by node */
			w->tree_importance[split.feature] +=
				(double) weight * impurity -
				(double) left_weight * gini(left_weight, left_sq) -
				(double) right_weight * gini(right_weight, right_sq);

			nodes[id] = (ForestNode) {split.threshold, (int32_t) split.feature, 0};
			w->stack[n_pending++] = (PendingNode) {node.start + mid, node.end,
												   node.depth + 1, id, node.n_constant};
			w->stack[n_pending++] = (PendingNode) {node.start, node.start + mid,
												   node.depth + 1, NO_PARENT,
												   node.n_constant};
		}
	}
	*n_nodes_out = n_nodes;
	*n_leaves_out = n_leaves;
	return true;
}

ForestStatus
rf_train(const double *x, const int32_t *labels, size_t n, size_t d,
		 const RandomForestParams *params, const KernelHost *host,
		 RandomForest *out)
{
	RfWork		w;
	RfGrowing	g;
	int32_t    *classes = NULL;
	uint32_t   *tree_start = NULL;
	double	   *importances = NULL;
	uint32_t	n_classes = 0;
	uint32_t	n_nodes = 0;
	uint32_t	n_leaves = 0;
	uint32_t	trees_with_splits = 0;
	ForestStatus status = FOREST_OK;

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	memset(&g, 0, sizeof(g));
	if (n < 1 || n > INT32_MAX || d < 1 || d > INT32_MAX || params->n_trees < 1 ||
		params->min_samples_leaf < 1 || params->max_features > d)
		return FOREST_INVALID_ARGUMENT;
	for (size_t i = 0; i < n * d; i++)
		if (!isfinite(x[i]))
			return FOREST_NONFINITE_INPUT;

	w.n = (uint32_t) n;
	w.d = (uint32_t) d;
	if (params->max_features > 0)
		w.max_features = params->max_features;
	else
	{
		/* floor(sqrt(d)), exactly, at least 1 */
		uint32_t	m = (uint32_t) sqrt((double) d);

		while ((uint64_t) m * m > d)
			m--;
		while ((uint64_t) (m + 1) * (m + 1) <= d)
			m++;
		w.max_features = m > 0 ? m : 1;
	}
	w.max_depth = params->max_depth > 0 ? (uint32_t) params->max_depth : UINT32_MAX;
	w.min_samples_leaf = params->min_samples_leaf;

	/* The classes: distinct labels, ascending. */
	classes = host_alloc_array(host, n, sizeof(int32_t));
	if (!classes)
		return FOREST_OUT_OF_MEMORY;
	memcpy(classes, labels, n * sizeof(int32_t));
	n_classes = (uint32_t) labels_distinct(classes, n);
	if (n_classes < 2)
	{
		host_free(host, classes);
		return FOREST_SINGLE_CLASS;
	}
	{
		/* Keep n_classes labels, not n, for the model's lifetime. */
		int32_t    *exact = host_alloc_array(host, n_classes, sizeof(int32_t));

		if (!exact)
		{
			host_free(host, classes);
			return FOREST_OUT_OF_MEMORY;
		}
		memcpy(exact, classes, n_classes * sizeof(int32_t));
		host_free(host, classes);
		classes = exact;
	}
	w.n_classes = n_classes;

	w.ranks = host_alloc_array(host, n * d, sizeof(uint32_t));
	w.rank_values = host_alloc_array(host, n * d, sizeof(double));
	w.keys = host_alloc_array(host, n, sizeof(uint64_t));
	w.spare_keys = host_alloc_array(host, n, sizeof(uint64_t));
	w.class_weight = host_alloc_array(host, n, sizeof(ClassWeight));
	w.samples = host_alloc_array(host, n, sizeof(uint32_t));
	w.items = host_alloc_array(host, n, sizeof(SortItem));
	w.features = host_alloc_array(host, d, sizeof(uint32_t));
	w.constant_features = host_alloc_array(host, d, sizeof(uint32_t));
	w.stack = host_alloc_array(host, n + 1, sizeof(PendingNode));
	w.node_counts = host_alloc_array(host, n_classes, sizeof(int64_t));
	w.left_counts = host_alloc_array(host, n_classes, sizeof(int64_t));
	w.right_counts = host_alloc_array(host, n_classes, sizeof(int64_t));
	w.tree_importance = host_alloc_array(host, d, sizeof(double));
	w.rng = forest_rng_alloc(host);
	tree_start = host_alloc_array(host, (size_t) params->n_trees + 1, sizeof(uint32_t));
	importances = host_alloc_array(host, d, sizeof(double));
	if (!w.ranks || !w.rank_values || !w.keys || !w.spare_keys || !w.class_weight || !w.samples || !w.items || !w.features ||
		!w.constant_features || !w.stack || !w.node_counts || !w.left_counts ||
		!w.right_counts || !w.tree_importance || !w.rng || !tree_start || !importances)
	{
		status = FOREST_OUT_OF_MEMORY;
		goto done;
	}

	for (size_t i = 0; i < n; i++)
		w.class_weight[i].class_index = labels_index(classes, n_classes, labels[i]);
	for (size_t f = 0; f < d; f++)
	{
		uint32_t   *ranks = w.ranks + f * n;
		double	   *values = w.rank_values + f * n;
		uint32_t	rank = 0;

		for (size_t i = 0; i < n; i++)
		{
			w.items[i].value = x[i * d + f];
			w.items[i].row = (uint32_t) i;
		}
		sort_items(w.items, n);
		values[0] = w.items[0].value;
		for (size_t i = 0; i < n; i++)
		{
			if (w.items[i].value > values[rank])
				values[++rank] = w.items[i].value;
			ranks[w.items[i].row] = rank;
		}
	}
	memset(importances, 0, d * sizeof(double));

	tree_start[0] = 0;
	for (uint32_t t = 0; t < params->n_trees; t++)
	{
		uint32_t	n_distinct = 0;
		uint32_t	tree_nodes,
					tree_leaves;
		double		root_weight = 0.0,
					total = 0.0;

		forest_rng_seed_tree(w.rng, params->seed, t);
		if (params->bootstrap)
		{
			for (uint32_t i = 0; i < n; i++)
				w.class_weight[i].weight = 0;
			for (uint32_t i = 0; i < n; i++)
				w.class_weight[forest_rng_below(w.rng, (uint32_t) n)].weight++;
		}
		else
			for (uint32_t i = 0; i < n; i++)
				w.class_weight[i].weight = 1;
		for (uint32_t i = 0; i < n; i++)
			if (w.class_weight[i].weight > 0)
				w.samples[n_distinct++] = i;

		if ((uint64_t) n_nodes + 2 * (uint64_t) n_distinct > UINT32_MAX)
		{
			status = FOREST_INVALID_ARGUMENT;	/* a forest beyond 2^32 nodes */
			goto done;
		}
		if (!reserve(host, (void **) &g.nodes, &g.node_capacity,
					 (size_t) n_nodes + 2 * (size_t) n_distinct, n_nodes,
					 sizeof(ForestNode)) ||
			!reserve(host, (void **) &g.leaf_proba, &g.leaf_capacity,
					 ((size_t) n_leaves + n_distinct) * n_classes,
					 (size_t) n_leaves * n_classes, sizeof(double)))
		{
			status = FOREST_OUT_OF_MEMORY;
			goto done;
		}

		memset(w.tree_importance, 0, d * sizeof(double));
		if (!grow_tree(&w, n_distinct, host, g.nodes + n_nodes,
					   &tree_nodes, g.leaf_proba + (size_t) n_leaves * n_classes,
					   n_leaves, &tree_leaves, &root_weight))
		{
			status = FOREST_INTERRUPTED;
			goto done;
		}
		n_nodes += tree_nodes;
		n_leaves += tree_leaves;
		tree_start[t + 1] = n_nodes;
		if (params->progress)
			params->progress(params->progress_arg, t + 1, params->n_trees);

		/* scikit-learn's per-tree feature_importances_, for trees that split */
		if (tree_nodes > 1)
		{
			for (uint32_t f = 0; f < d; f++)
			{
				w.tree_importance[f] /= root_weight;
				total += w.tree_importance[f];
			}
			for (uint32_t f = 0; f < d; f++)
				importances[f] += total > 0.0 ? w.tree_importance[f] / total
					: w.tree_importance[f];
			trees_with_splits++;
		}
	}

	/* Mean over the trees that split, normalised. */
	{
		double		total = 0.0;

		for (uint32_t f = 0; f < d && trees_with_splits > 0; f++)
		{
			importances[f] /= trees_with_splits;
			total += importances[f];
		}
		for (uint32_t f = 0; f < d; f++)
			importances[f] = total > 0.0 ? importances[f] / total : 0.0;
	}

	out->n_features = (uint32_t) d;
	out->n_classes = n_classes;
	out->n_trees = params->n_trees;
	out->n_nodes = n_nodes;
	out->n_leaves = n_leaves;
	out->classes = classes;
	out->tree_start = tree_start;
	out->nodes = g.nodes;
	out->leaf_proba = g.leaf_proba;
	out->importances = importances;
	classes = NULL;
	tree_start = NULL;
	importances = NULL;
	memset(&g, 0, sizeof(g));

done:
	host_free(host, classes);
	host_free(host, tree_start);
	host_free(host, importances);
	host_free(host, g.nodes);
	host_free(host, g.leaf_proba);
	rf_work_free(&w, host);
	return status;
}

void
rf_free(RandomForest *forest, const KernelHost *host)
{
	host_free(host, forest->classes);
	host_free(host, forest->tree_start);
	host_free(host, forest->nodes);
	host_free(host, forest->leaf_proba);
	host_free(host, forest->importances);
	memset(forest, 0, sizeof(*forest));
}

/* ---- validation ---- */

ForestStatus
rf_validate(const RandomForest *forest, const KernelHost *host)
{
	uint32_t	largest = 0;
	uint32_t	next_leaf = 0;
	uint32_t	k_classes = forest->n_classes;
	double		total = 0.0;
	void	   *work;
	ForestStatus status = FOREST_OK;

	if (forest->n_features < 1 || forest->n_features > INT32_MAX ||
		forest->n_classes < 2 || !forest->classes || !forest->nodes ||
		!forest->leaf_proba || !forest->importances ||
		forest_check_tree_starts(forest->tree_start, forest->n_trees, forest->n_nodes,
								 &largest) != FOREST_OK)
		return FOREST_CORRUPT;
	for (uint32_t k = 1; k < k_classes; k++)
		if (forest->classes[k] <= forest->classes[k - 1])
			return FOREST_CORRUPT;
	for (uint32_t f = 0; f < forest->n_features; f++)
	{
		double		v = forest->importances[f];

		if (!isfinite(v) || v < 0.0)
			return FOREST_CORRUPT;
		total += v;
	}
	if (total != 0.0 && fabs(total - 1.0) > 1e-9)
		return FOREST_CORRUPT;

	work = host_alloc_array(host, 1, forest_check_tree_work_size(largest));
	if (!work)
		return FOREST_OUT_OF_MEMORY;
	for (uint32_t t = 0; t < forest->n_trees && status == FOREST_OK; t++)
	{
		const ForestNode *nodes = forest->nodes + forest->tree_start[t];
		uint32_t	size = forest->tree_start[t + 1] - forest->tree_start[t];
		uint32_t	deepest;

		status = forest_check_tree(nodes, size, forest->n_features, work, &deepest);
		for (uint32_t i = 0; i < size && status == FOREST_OK; i++)
			if (nodes[i].feature == FOREST_LEAF)
			{
				if (nodes[i].payload != next_leaf || next_leaf >= forest->n_leaves)
					status = FOREST_CORRUPT;
				next_leaf++;
			}
	}
	host_free(host, work);
	if (status != FOREST_OK)
		return status;
	if (next_leaf != forest->n_leaves)
		return FOREST_CORRUPT;

	for (uint32_t leaf = 0; leaf < forest->n_leaves; leaf++)
	{
		const double *proba = forest->leaf_proba + (size_t) leaf * k_classes;
		double		sum = 0.0;

		for (uint32_t k = 0; k < k_classes; k++)
		{
			if (!isfinite(proba[k]) || proba[k] < 0.0 || proba[k] > 1.0)
				return FOREST_CORRUPT;
			sum += proba[k];
		}
		if (fabs(sum - 1.0) > 1e-9)
			return FOREST_CORRUPT;
	}
	return FOREST_OK;
}

/* ---- prediction ---- */

uint32_t
rf_tree_leaf(const RandomForest *forest, uint32_t t, const double *x)
{
	uint32_t	start = forest->tree_start[t];

	return start + forest_tree_leaf(forest->nodes + start, x, NULL);
}

/*
 * FOREST_WALK_WIDTH trees at a time (forest.h), then their leaves' rows are
 * added in tree order: the same sums, in the same order, as one tree at a
 * time.
 */
void
rf_predict_proba(const RandomForest *forest, const double *x, double *proba)
{
	uint32_t	k_classes = forest->n_classes;
	uint32_t	leaf[FOREST_WALK_WIDTH];

	for (uint32_t k = 0; k < k_classes; k++)
		proba[k] = 0.0;
	for (uint32_t t0 = 0; t0 < forest->n_trees; t0 += FOREST_WALK_WIDTH)
	{
		uint32_t	count = forest->n_trees - t0 < FOREST_WALK_WIDTH ?
			forest->n_trees - t0 : FOREST_WALK_WIDTH;

		forest_walk_trees(forest->nodes, forest->tree_start + t0, count, x, leaf, NULL);
		for (uint32_t j = 0; j < count; j++)
		{
			const ForestNode *node = forest->nodes + forest->tree_start[t0 + j] + leaf[j];
			const double *row = forest->leaf_proba + (size_t) node->payload * k_classes;

			for (uint32_t k = 0; k < k_classes; k++)
				proba[k] += row[k];
		}
	}
	for (uint32_t k = 0; k < k_classes; k++)
		proba[k] /= forest->n_trees;
}

/*
 * Tree by tree over blocks of rows, so one tree's nodes stay in cache while
 * a block walks it; the sums per row run in the same tree order as
 * rf_predict_proba's, so the results are identical.
 */
void
rf_predict_proba_rows(const RandomForest *forest, const double *x, size_t n,
					  double *proba)
{
	uint32_t	k_classes = forest->n_classes;
	uint32_t	d = forest->n_features;

	for (size_t i = 0; i < n * k_classes; i++)
		proba[i] = 0.0;
	for (size_t block = 0; block < n; block += FOREST_ROW_BLOCK)
	{
		size_t		block_end = block + FOREST_ROW_BLOCK < n ? block + FOREST_ROW_BLOCK : n;

		for (uint32_t t = 0; t < forest->n_trees; t++)
		{
			const ForestNode *nodes = forest->nodes + forest->tree_start[t];

			for (size_t i = block; i < block_end; i++)
			{
				const ForestNode *leaf = &nodes[forest_tree_leaf(nodes, x + i * d, NULL)];
				const double *row = forest->leaf_proba + (size_t) leaf->payload * k_classes;

				for (uint32_t k = 0; k < k_classes; k++)
					proba[i * k_classes + k] += row[k];
			}
		}
	}
	for (size_t i = 0; i < n * k_classes; i++)
		proba[i] /= forest->n_trees;
}

int32_t
rf_predict(const RandomForest *forest, const double *x, double *proba)
{
	uint32_t	best = 0;

	rf_predict_proba(forest, x, proba);
	for (uint32_t k = 1; k < forest->n_classes; k++)
		if (proba[k] > proba[best])
			best = k;
	return forest->classes[best];
}
