/*
 * gbt_train.c
 *		Histogram training of gradient-boosted trees (gbt_train.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "gbt_train.h"
#include "splitmix64.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define RT_EPS 1e-6				/* XGBoost's kRtEps: the least gain of a split */
#define MIN_HESS 1e-16			/* XGBoost's floor of a row's hessian */

/* The bins of the training matrix. */
typedef struct Bins
{
	uint32_t   *n_cuts;			/* per feature; its bins are 0 .. n_cuts */
	uint32_t   *cut_start;		/* per feature: its first cut in cuts */
	uint32_t   *slot;			/* per feature: its first histogram slot (n_cuts + 2 slots) */
	float	   *cuts;
	float	   *min_value;		/* per feature: the smallest value (NaN: none) */
	uint32_t	n_slots;
	int			wide;			/* codes are uint16_t, else uint8_t */
	void	   *codes;			/* n x d: bin, or n_cuts + 1 when missing */
} Bins;

/* A split: its feature (-1: none), bins sent left, default, gain, left sums. */
typedef struct Split
{
	int32_t		feature;
	uint32_t	left_bins;
	uint32_t	default_left;
	double		gain,
				GL,
				HL;
} Split;

/* A node being grown: its rows rows[begin, end), sums, histogram and best split. */
typedef struct Work
{
	uint32_t	node;
	uint32_t	begin,
				end;
	double		G,
				H;
	double	   *hist;			/* NULL: a leaf at max_depth */
	const double *parent_hist;
	Split		split;
	uint32_t	mid;			/* after the partition: the first right row */
} Work;

struct Trainer;

/*
 * The threads that share a level's histograms and split scans: thread k of
 * T takes the used features [n_used k / T, n_used (k + 1) / T), every node
 * of the level, so that a bin's sum is over the same rows in the same order
 * whatever T; the best splits of the blocks are merged in block order
 * (strict >), which is the sequential scan's choice.  Thread 0 is the
 * caller's; the others wait on a condition variable between levels, with
 * every signal blocked, and call nothing of the host.
 */
typedef struct Pool
{
	pthread_mutex_t mu;
	pthread_cond_t go,
				done;
	pthread_t  *threads;		/* n_threads - 1 workers */
	uint32_t	n_threads;
	uint32_t	started;		/* workers running */
	uint64_t	generation;		/* phases begun */
	uint32_t	pending;		/* workers still in the phase */
	int			quit;
} Pool;

typedef struct WorkerArg
{
	struct Trainer *t;
	uint32_t	k;
} WorkerArg;

typedef struct Trainer
{
	const GbtTrainParams *p;
	const KernelHost *host;
	size_t		n;
	uint32_t	d;
	uint32_t	K;				/* classes */
	uint32_t	groups;			/* trees per round */
	Bins		b;
	uint64_t	rng;
	size_t		meter;			/* work units since the last poll */

	double	   *margin;			/* n x groups */
	double	   *gh;				/* groups x n x (g, h) */
	const double *tree_gh;		/* the pairs of the tree's group */
	uint32_t   *sample;			/* the round's rows, increasing */
	size_t		n_sample;
	uint32_t   *rows;			/* a tree's rows, partitioned per node */
	uint32_t   *spare;			/* the partition's right side */
	uint8_t    *in_sample;		/* n: row drawn this round */
	uint32_t   *used;			/* the tree's features, increasing */
	uint32_t	n_used;
	uint32_t   *perm;			/* d: the feature shuffle */

	Work	   *cur,
			   *next;			/* a level's nodes, the next level's */
	size_t		n_next;
	enum
	{
		PHASE_GRADIENTS,		/* the round's gradient pairs, by rows */
		PHASE_PARTITION,		/* the level's splits' rows, by nodes */
		PHASE_ROOT,				/* the root's histogram and split, by features */
		PHASE_LEVEL				/* the next level's, by features */
	}			phase;
	const uint32_t *y;			/* the class of each row */
	size_t		n_cur;			/* the level's nodes */
	size_t		level_cap;
	Split	   *block_split;	/* n_threads x level_cap: each block's best splits */
	Pool		pool;
	WorkerArg  *args;
	double	   *cur_hist,
			   *next_hist;		/* level_cap histograms each */

	/* the tree being grown */
	GbtNode    *tree;
	uint32_t   *tree_bins;		/* per node: bins sent left */
	size_t		tree_cap;
	uint32_t	tree_size;

	/* the ensemble */
	GbtNode    *nodes;
	size_t		nodes_cap;
	size_t		n_nodes;
	uint32_t   *tree_start;
	uint32_t   *tree_group;
	double	   *gain;
} Trainer;

const char *
gbt_train_status_message(GbtTrainStatus status)
{
	switch (status)
	{
		case GBT_TRAIN_OK:
			return "no error";
		case GBT_TRAIN_BAD_PARAMS:
			return "a training parameter out of range";
		case GBT_TRAIN_BAD_DATA:
			return "no rows or features, fewer than two classes, a label out of range or an infinite value";
		case GBT_TRAIN_TOO_LARGE:
			return "more than 4294967295 nodes";
		case GBT_TRAIN_NO_MEMORY:
			return "out of memory";
		case GBT_TRAIN_INTERRUPTED:
			return "interrupted";
	}
	return "unknown status";
}

/* ------------------------------------------------------------ helpers */

/* Grows *array (elements of size) to hold at least need; 0 when out of memory. */
static int
reserve(const KernelHost *host, void **array, size_t *cap, size_t need, size_t size)
{
	size_t		new_cap = *cap > 0 ? *cap : 16;
	void	   *bigger;

	if (need <= *cap)
		return 1;
	while (new_cap < need)
		new_cap *= 2;
	bigger = host_alloc_array(host, new_cap, size);
	if (bigger == NULL)
		return 0;
	if (*cap > 0)
		memcpy(bigger, *array, *cap * size);
	host_free(host, *array);
	*array = bigger;
	*cap = new_cap;
	return 1;
}

/* A float's bits as an unsigned key in the floats' order (-0 before +0). */
static inline uint32_t
float_key(float x)
{
	uint32_t	u;

	memcpy(&u, &x, sizeof(u));
	return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

static inline float
key_float(uint32_t k)
{
	uint32_t	u = (k & 0x80000000u) ? k & 0x7FFFFFFFu : ~k;
	float		x;

	memcpy(&x, &u, sizeof(x));
	return x;
}

/*
 * Sorts the non-NaN floats v[0 .. m-1] by their keys: four passes of an
 * 8-bit LSD radix sort through tmp, O(m) (binning 20,000 x 23 takes 32 ms
 * so, 75 ms with qsort).
 */
static void
sort_floats(float *v, uint32_t *keys, uint32_t *tmp, size_t m)
{
	for (size_t i = 0; i < m; i++)
		keys[i] = float_key(v[i]);
	for (int shift = 0; shift < 32; shift += 8)
	{
		size_t		count[257] = {0};
		uint32_t   *swap;

		for (size_t i = 0; i < m; i++)
			count[((keys[i] >> shift) & 0xFF) + 1]++;
		for (int k = 0; k < 256; k++)
			count[k + 1] += count[k];
		for (size_t i = 0; i < m; i++)
			tmp[count[(keys[i] >> shift) & 0xFF]++] = keys[i];
		swap = keys;
		keys = tmp;
		tmp = swap;
	}
	/* an even number of passes: the sorted keys are back in keys */
	for (size_t i = 0; i < m; i++)
		v[i] = key_float(keys[i]);
}

static inline uint32_t
code_at(const Bins *b, size_t row, uint32_t d, uint32_t f)
{
	size_t		i = row * d + f;

	return b->wide ? ((const uint16_t *) b->codes)[i] : ((const uint8_t *) b->codes)[i];
}

/* ------------------------------------------------------------ binning */

/* The cuts of one feature's sorted values v[0 .. m-1] into cuts; their count. */
static uint32_t
feature_cuts(const float *v, size_t m, uint32_t max_bin, float *cuts)
{
	size_t		distinct = 0;
	uint32_t	n = 0;

	for (size_t i = 0; i < m && distinct <= max_bin; i++)
		distinct += i == 0 || v[i] != v[i - 1];
	if (distinct <= max_bin)
	{
		for (size_t i = 1; i < m; i++)
			if (v[i] != v[i - 1])
				cuts[n++] = v[i];
		return n;
	}
	for (uint32_t i = 1; i < max_bin; i++)
	{
		float		c = v[(size_t) ((uint64_t) i * m / max_bin)];

		if (c > (n > 0 ? cuts[n - 1] : v[0]))
			cuts[n++] = c;
	}
	return n;
}

/* The number of cuts <= x (x not NaN). */
static uint32_t
bin_of(const float *cuts, uint32_t n, float x)
{
	uint32_t	lo = 0,
				hi = n;

	while (lo < hi)
	{
		uint32_t	mid = (lo + hi) / 2;

		if (cuts[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static GbtTrainStatus
make_bins(Trainer *t, const float *x)
{
	Bins	   *b = &t->b;
	size_t		n = t->n;
	uint32_t	d = t->d;
	uint32_t	per = (uint32_t) ((size_t) t->p->max_bin - 1 < n ? t->p->max_bin - 1 : n);
	float	   *v = host_alloc_array(t->host, n, sizeof(float));
	uint32_t   *keys = host_alloc_array(t->host, 2 * n, sizeof(uint32_t));
	uint32_t	max_code = 0,
				at = 0;

	b->n_cuts = host_alloc_array(t->host, d, sizeof(uint32_t));
	b->cut_start = host_alloc_array(t->host, d, sizeof(uint32_t));
	b->slot = host_alloc_array(t->host, d, sizeof(uint32_t));
	b->min_value = host_alloc_array(t->host, d, sizeof(float));
	b->cuts = host_alloc_array(t->host, (size_t) d * (per > 0 ? per : 1), sizeof(float));
	if (v == NULL || !keys || !b->n_cuts || !b->cut_start || !b->slot || !b->min_value || !b->cuts)
	{
		host_free(t->host, v);
		host_free(t->host, keys);
		return GBT_TRAIN_NO_MEMORY;
	}
	b->n_slots = 0;
	for (uint32_t f = 0; f < d; f++)
	{
		size_t		m = 0;
		int			missing = 0;

		for (size_t i = 0; i < n; i++)
		{
			float		xi = x[i * d + f];

			if (isnan(xi))
				missing = 1;
			else
				v[m++] = xi;
		}
		sort_floats(v, keys, keys + n, m);
		b->min_value[f] = m > 0 ? v[0] : NAN;
		b->cut_start[f] = at;
		b->n_cuts[f] = m > 0 ? feature_cuts(v, m, t->p->max_bin, b->cuts + at) : 0;
		at += b->n_cuts[f];
		b->slot[f] = b->n_slots;
		b->n_slots += b->n_cuts[f] + 2;
		if (b->n_cuts[f] + (uint32_t) missing > max_code)
			max_code = b->n_cuts[f] + (uint32_t) missing;
		if (host_poll(t->host))
		{
			host_free(t->host, v);
			host_free(t->host, keys);
			return GBT_TRAIN_INTERRUPTED;
		}
	}
	host_free(t->host, v);
	host_free(t->host, keys);
	b->wide = max_code > UINT8_MAX;
	b->codes = host_alloc_array(t->host, n * d, b->wide ? sizeof(uint16_t) : sizeof(uint8_t));
	if (b->codes == NULL)
		return GBT_TRAIN_NO_MEMORY;
	for (size_t i = 0; i < n; i++)
	{
		for (uint32_t f = 0; f < d; f++)
		{
			float		xi = x[i * d + f];
			uint32_t	c = isnan(xi) ? b->n_cuts[f] + 1 :
				bin_of(b->cuts + b->cut_start[f], b->n_cuts[f], xi);

			if (b->wide)
				((uint16_t *) b->codes)[i * d + f] = (uint16_t) c;
			else
				((uint8_t *) b->codes)[i * d + f] = (uint8_t) c;
		}
		if (host_work(t->host, &t->meter, d))
			return GBT_TRAIN_INTERRUPTED;
	}
	return GBT_TRAIN_OK;
}

/* ---------------------------------------------------------- gradients */

/* The gradient pairs of every group from the margins, for sampled rows [s0, s1). */
static void
gradients(Trainer *t, size_t s0, size_t s1)
{
	const uint32_t *y = t->y;
	uint32_t	G = t->groups;

	for (size_t s = s0; s < s1; s++)
	{
		size_t		i = t->sample[s];
		const double *mg = t->margin + i * G;

		if (t->K == 2)
		{
			double		p = 1.0 / (1.0 + exp(-mg[0]));
			double		h = p * (1.0 - p);

			t->gh[2 * i] = p - (double) y[i];
			t->gh[2 * i + 1] = h > MIN_HESS ? h : MIN_HESS;
			continue;
		}
		{
			double		max = mg[0],
						sum = 0;

			for (uint32_t k = 1; k < G; k++)
				if (mg[k] > max)
					max = mg[k];
			for (uint32_t k = 0; k < G; k++)
				sum += exp(mg[k] - max);
			for (uint32_t k = 0; k < G; k++)
			{
				double		p = exp(mg[k] - max) / sum;
				double		h = 2.0 * p * (1.0 - p);
				double	   *o = t->gh + 2 * ((size_t) k * t->n + i);

				o[0] = p - (y[i] == k ? 1.0 : 0.0);
				o[1] = h > MIN_HESS ? h : MIN_HESS;
			}
		}
	}
}

/* --------------------------------------------------------- histograms */

/*
 * Sums the (g, h) of rows into hist over used features [j0, j1) (zeroed
 * here).  The restrict pointers and locals let the compiler keep them in
 * registers under PostgreSQL's -fno-strict-aliasing (without: 15% slower).
 */
static void
build_hist(const Trainer *t, const uint32_t *restrict rows, size_t count, double *restrict hist,
		   uint32_t j0, uint32_t j1)
{
	const Bins *b = &t->b;
	const double *restrict gh = t->tree_gh;
	const uint32_t *restrict slot = b->slot;
	const uint32_t *restrict used = t->used;
	uint32_t	d = t->d;

	for (uint32_t j = j0; j < j1; j++)
	{
		uint32_t	f = used[j];

		memset(hist + 2 * (size_t) slot[f], 0, 2 * ((size_t) b->n_cuts[f] + 2) * sizeof(double));
	}
	if (!b->wide && t->n_used == d)
	{
		/* the common case: every feature (used[j] = j), byte codes */
		const uint8_t *restrict codes = b->codes;

		for (size_t r = 0; r < count; r++)
		{
			const uint8_t *c = codes + (size_t) rows[r] * d;
			double		g = gh[2 * (size_t) rows[r]],
						h = gh[2 * (size_t) rows[r] + 1];

			for (uint32_t f = j0; f < j1; f++)
			{
				double	   *o = hist + 2 * ((size_t) slot[f] + c[f]);

				o[0] += g;
				o[1] += h;
			}
		}
		return;
	}
	for (size_t r = 0; r < count; r++)
	{
		double		g = gh[2 * (size_t) rows[r]],
					h = gh[2 * (size_t) rows[r] + 1];

		for (uint32_t j = j0; j < j1; j++)
		{
			uint32_t	f = used[j];
			double	   *o = hist + 2 * ((size_t) slot[f] + code_at(b, rows[r], d, f));

			o[0] += g;
			o[1] += h;
		}
	}
}

/* big := parent - small, over used features [j0, j1) */
static void
subtract_hist(const Trainer *t, const double *restrict parent, const double *restrict small,
			  double *restrict big, uint32_t j0, uint32_t j1)
{
	const Bins *b = &t->b;

	for (uint32_t j = j0; j < j1; j++)
	{
		uint32_t	f = t->used[j];
		size_t		from = 2 * (size_t) b->slot[f],
					to = from + 2 * ((size_t) b->n_cuts[f] + 2);

		for (size_t i = from; i < to; i++)
			big[i] = parent[i] - small[i];
	}
}

/* ------------------------------------------------------------- splits */

static inline void
try_split(const Trainer *t, const Work *w, Split *best, uint32_t f, uint32_t s,
		  uint32_t default_left, double GL, double HL, double parent_gain)
{
	double		GR = w->G - GL,
				HR = w->H - HL,
				lambda = t->p->lambda,
				mcw = t->p->min_child_weight,
				gain;

	if (!(HL >= mcw && HR >= mcw))
		return;
	gain = GL * GL / (HL + lambda) + GR * GR / (HR + lambda) - parent_gain;
	/* lambda = 0 and a hessian sum of 0 from rounding: an infinite gain is no split */
	if (gain > best->gain && gain < INFINITY)
		*best = (Split) {(int32_t) f, s, default_left, gain, GL, HL};
}

/*
 * The best split of w over used features [j0, j1) from its histogram
 * (feature -1: none), found in a local copy (no aliasing with the
 * histogram to rule out).
 */
static void
find_split(const Trainer *t, const Work *w, uint32_t j0, uint32_t j1, Split *out)
{
	const Bins *b = &t->b;
	double		parent_gain = w->G * w->G / (w->H + t->p->lambda);
	Split		best = {-1, 0, 0, RT_EPS, 0, 0};

	for (uint32_t j = j0; j < j1; j++)
	{
		uint32_t	f = t->used[j];
		uint32_t	nc = b->n_cuts[f];
		const double *restrict h = w->hist + 2 * (size_t) b->slot[f];
		double		Gm = h[2 * ((size_t) nc + 1)],
					Hm = h[2 * ((size_t) nc + 1) + 1];
		int			has_missing = !(Gm == 0 && Hm == 0);
		double		pG = 0,
					pH = 0;

		if (isnan(b->min_value[f]))
			continue;
		for (uint32_t s = 0; s <= nc; s++)
		{
			if (s > 0)
			{
				pG += h[2 * (s - 1)];
				pH += h[2 * (s - 1) + 1];
				if (h[2 * (s - 1) + 1] == 0)
					continue;
			}
			try_split(t, w, &best, f, s, 1, pG + Gm, pH + Hm, parent_gain);
			if (has_missing && s > 0)
				try_split(t, w, &best, f, s, 0, pG, pH, parent_gain);
		}
	}
	*out = best;
}

/* Whether row goes left at a split of feature f. */
static inline int
goes_left(const Bins *b, uint32_t d, size_t row, uint32_t f, uint32_t left_bins,
		  uint32_t default_left)
{
	uint32_t	c = code_at(b, row, d, f);

	return c > b->n_cuts[f] ? (int) default_left : c < left_bins;
}

/*
 * Stable partition of w's rows; the first right one's position.  Every row
 * is written to both sides and the side's count advanced: no branch to
 * mispredict on the ~50% of rows that go each way.
 */
static uint32_t
partition(const Trainer *t, const Work *w)
{
	const Bins *b = &t->b;
	uint32_t	f = (uint32_t) w->split.feature,
				nc = b->n_cuts[f],
				d = t->d,
				left_bins = w->split.left_bins,
				default_left = w->split.default_left,
				count = w->end - w->begin;
	const uint8_t *restrict codes8 = b->wide ? NULL : (const uint8_t *) b->codes + f;
	const uint16_t *restrict codes16 = b->wide ? (const uint16_t *) b->codes + f : NULL;
	uint32_t   *restrict rows = t->rows + w->begin;
	uint32_t   *restrict spare = t->spare + w->begin;	/* each node its own part */
	uint32_t	nl = 0,
				nr = 0;

	for (uint32_t i = 0; i < count; i++)
	{
		uint32_t	r = rows[i],
					c = codes8 != NULL ? codes8[(size_t) r * d] : codes16[(size_t) r * d],
					left = c > nc ? default_left : c < left_bins;

		rows[nl] = r;
		spare[nr] = r;
		nl += left;
		nr += 1 - left;
	}
	memcpy(rows + nl, spare, (size_t) nr * sizeof(uint32_t));
	return w->begin + nl;
}

/* ------------------------------------------------------------- threads */

/*
 * Thread k's share of a phase: a block of the sampled rows' gradients, the
 * partitions of the level's nodes whose first row falls in its block of
 * rows, or its block of features of the root's or the next level's
 * histograms and split scans.
 */
static void
run_block(Trainer *t, uint32_t k)
{
	uint32_t	T = t->pool.n_threads,
				j0 = (uint32_t) ((uint64_t) t->n_used * k / T),
				j1 = (uint32_t) ((uint64_t) t->n_used * (k + 1) / T);
	Split	   *out = t->block_split + (size_t) k * t->level_cap;

	switch (t->phase)
	{
		case PHASE_GRADIENTS:
			gradients(t, t->n_sample * k / T, t->n_sample * (k + 1) / T);
			return;
		case PHASE_PARTITION:
			for (size_t i = 0; i < t->n_cur; i++)
			{
				Work	   *w = &t->cur[i];

				if (w->split.feature >= 0 && (uint64_t) w->begin * T / t->n_sample == k)
					w->mid = partition(t, w);
			}
			return;
		case PHASE_ROOT:
			build_hist(t, t->rows, t->cur[0].end, t->cur[0].hist, j0, j1);
			find_split(t, &t->cur[0], j0, j1, &out[0]);
			return;
		case PHASE_LEVEL:
			break;
	}
	for (size_t i = 0; i < t->n_next; i += 2)
	{
		Work	   *l = &t->next[i],
				   *r = &t->next[i + 1],
				   *small,
				   *big;

		if (l->hist == NULL)
			continue;
		small = l->end - l->begin <= r->end - r->begin ? l : r;
		big = small == l ? r : l;
		build_hist(t, t->rows + small->begin, small->end - small->begin, small->hist, j0, j1);
		subtract_hist(t, l->parent_hist, small->hist, big->hist, j0, j1);
		find_split(t, l, j0, j1, &out[i]);
		find_split(t, r, j0, j1, &out[i + 1]);
	}
}

static void *
worker(void *arg)
{
	WorkerArg  *a = arg;
	Pool	   *pool = &a->t->pool;
	uint64_t	seen = 0;

	for (;;)
	{
		pthread_mutex_lock(&pool->mu);
		while (pool->generation == seen && !pool->quit)
			pthread_cond_wait(&pool->go, &pool->mu);
		if (pool->quit)
		{
			pthread_mutex_unlock(&pool->mu);
			return NULL;
		}
		seen = pool->generation;
		pthread_mutex_unlock(&pool->mu);
		run_block(a->t, a->k);
		pthread_mutex_lock(&pool->mu);
		if (--pool->pending == 0)
			pthread_cond_signal(&pool->done);
		pthread_mutex_unlock(&pool->mu);
	}
}

/* Starts up to nthread - 1 workers, with every signal blocked; fewer if the system has none. */
static GbtTrainStatus
pool_start(Trainer *t, uint32_t nthread)
{
	Pool	   *pool = &t->pool;
	sigset_t	all,
				saved;

	pool->n_threads = 1;
	if (nthread <= 1)
		return GBT_TRAIN_OK;
	pool->threads = host_alloc_array(t->host, nthread - 1, sizeof(pthread_t));
	t->args = host_alloc_array(t->host, nthread - 1, sizeof(WorkerArg));
	if (pool->threads == NULL || t->args == NULL)
		return GBT_TRAIN_NO_MEMORY;
	if (pthread_mutex_init(&pool->mu, NULL) != 0)
		return GBT_TRAIN_NO_MEMORY;
	if (pthread_cond_init(&pool->go, NULL) != 0)
	{
		pthread_mutex_destroy(&pool->mu);
		return GBT_TRAIN_NO_MEMORY;
	}
	if (pthread_cond_init(&pool->done, NULL) != 0)
	{
		pthread_cond_destroy(&pool->go);
		pthread_mutex_destroy(&pool->mu);
		return GBT_TRAIN_NO_MEMORY;
	}
	/* the mutex and conditions exist from here: pool_stop destroys them */
	pool->n_threads = nthread;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	for (uint32_t k = 1; k < nthread; k++)
	{
		t->args[k - 1] = (WorkerArg) {t, k};
		if (pthread_create(&pool->threads[k - 1], NULL, worker, &t->args[k - 1]) != 0)
			break;
		pool->started++;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	pool->n_threads = pool->started + 1;
	return GBT_TRAIN_OK;
}

/* One phase on every thread; returns when all are done. */
static void
pool_run(Trainer *t, int phase)
{
	Pool	   *pool = &t->pool;

	t->phase = phase;
	if (pool->started > 0)
	{
		pthread_mutex_lock(&pool->mu);
		pool->generation++;
		pool->pending = pool->started;
		pthread_cond_broadcast(&pool->go);
		pthread_mutex_unlock(&pool->mu);
	}
	run_block(t, 0);
	if (pool->started > 0)
	{
		pthread_mutex_lock(&pool->mu);
		while (pool->pending > 0)
			pthread_cond_wait(&pool->done, &pool->mu);
		pthread_mutex_unlock(&pool->mu);
	}
}

static void
pool_stop(Trainer *t)
{
	Pool	   *pool = &t->pool;

	if (pool->n_threads > 1 || pool->started > 0)
	{
		pthread_mutex_lock(&pool->mu);
		pool->quit = 1;
		pthread_cond_broadcast(&pool->go);
		pthread_mutex_unlock(&pool->mu);
		for (uint32_t k = 0; k < pool->started; k++)
			pthread_join(pool->threads[k], NULL);
		pthread_cond_destroy(&pool->go);
		pthread_cond_destroy(&pool->done);
		pthread_mutex_destroy(&pool->mu);
	}
	host_free(t->host, pool->threads);
	host_free(t->host, t->args);
}

/*
 * The best split of works[i], i < count, from the blocks' (block order,
 * strict >); none for a node without a histogram (at max_depth).
 */
static void
merge_splits(Trainer *t, Work *works, size_t count)
{
	for (size_t i = 0; i < count; i++)
	{
		Split		best = t->block_split[i];

		if (works[i].hist == NULL)
		{
			works[i].split.feature = -1;
			continue;
		}

		for (uint32_t k = 1; k < t->pool.n_threads; k++)
		{
			const Split *s = &t->block_split[(size_t) k * t->level_cap + i];

			if (s->feature >= 0 && s->gain > best.gain)
				best = *s;
		}
		works[i].split = best;
	}
}

/* ---------------------------------------------------------------- trees */

/* Room for need nodes in each level's arrays; the current level's are kept. */
static GbtTrainStatus
reserve_level(Trainer *t, size_t need)
{
	size_t		cap = t->level_cap;
	size_t		hist_size = 2 * (size_t) t->b.n_slots;
	Work	   *cur,
			   *next;
	double	   *ch,
			   *nh;
	Split	   *bs;

	if (need <= cap)
		return GBT_TRAIN_OK;
	while (cap < need)
		cap = cap > 0 ? 2 * cap : 16;
	cur = host_alloc_array(t->host, cap, sizeof(Work));
	next = host_alloc_array(t->host, cap, sizeof(Work));
	bs = host_alloc_array(t->host, cap * t->pool.n_threads, sizeof(Split));
	ch = cap <= SIZE_MAX / hist_size ? host_alloc_array(t->host, cap * hist_size, sizeof(double)) : NULL;
	nh = cap <= SIZE_MAX / hist_size ? host_alloc_array(t->host, cap * hist_size, sizeof(double)) : NULL;
	if (!cur || !next || !bs || !ch || !nh)
	{
		host_free(t->host, cur);
		host_free(t->host, next);
		host_free(t->host, bs);
		host_free(t->host, ch);
		host_free(t->host, nh);
		return GBT_TRAIN_NO_MEMORY;
	}
	/* the current level's nodes and histograms move; the next level is empty */
	if (t->level_cap > 0)
	{
		memcpy(cur, t->cur, t->level_cap * sizeof(Work));
		memcpy(ch, t->cur_hist, t->level_cap * hist_size * sizeof(double));
		for (size_t i = 0; i < t->level_cap; i++)
			cur[i].hist = cur[i].hist != NULL ? ch + i * hist_size : NULL;
	}
	host_free(t->host, t->cur);
	host_free(t->host, t->next);
	host_free(t->host, t->block_split);
	host_free(t->host, t->cur_hist);
	host_free(t->host, t->next_hist);
	t->cur = cur;
	t->next = next;
	t->block_split = bs;
	t->cur_hist = ch;
	t->next_hist = nh;
	t->level_cap = cap;
	return GBT_TRAIN_OK;
}

/* A new node of the tree, a leaf until made a split; its index, -1: too many, -2: no memory. */
static int64_t
new_node(Trainer *t)
{
	if (t->tree_size == UINT32_MAX)
		return -1;
	if (t->tree_size == t->tree_cap)
	{
		size_t		cap = t->tree_cap > 0 ? 2 * t->tree_cap : 64;
		GbtNode    *tree = host_alloc_array(t->host, cap, sizeof(GbtNode));
		uint32_t   *bins = host_alloc_array(t->host, cap, sizeof(uint32_t));

		if (tree == NULL || bins == NULL)
		{
			host_free(t->host, tree);
			host_free(t->host, bins);
			return -2;
		}
		if (t->tree_size > 0)
		{
			memcpy(tree, t->tree, t->tree_size * sizeof(GbtNode));
			memcpy(bins, t->tree_bins, t->tree_size * sizeof(uint32_t));
		}
		host_free(t->host, t->tree);
		host_free(t->host, t->tree_bins);
		t->tree = tree;
		t->tree_bins = bins;
		t->tree_cap = cap;
	}
	memset(&t->tree[t->tree_size], 0, sizeof(GbtNode));
	t->tree[t->tree_size].feature = GBT_LEAF;
	t->tree_bins[t->tree_size] = 0;
	return t->tree_size++;
}

/* w becomes a leaf: its value, and the margins of its rows. */
static void
make_leaf(Trainer *t, const Work *w, uint32_t group)
{
	double		denom = w->H + t->p->lambda;
	float		value = denom > 0 ? (float) (-w->G / denom * t->p->learning_rate) : 0.0f;

	t->tree[w->node].leaf = value;
	for (uint32_t i = w->begin; i < w->end; i++)
		t->margin[(size_t) t->rows[i] * t->groups + group] += (double) value;
}

/*
 * w's split: its rows partitioned, its node made a split, its children
 * appended to the next level (with histogram slots below max_depth).
 */
static GbtTrainStatus
split_node(Trainer *t, Work *w, uint32_t depth)
{
	const Split *s = &w->split;
	GbtNode    *node;
	Work	   *l,
			   *r;
	uint32_t	mid = w->mid;
	int64_t		li = new_node(t),
				ri = li >= 0 ? new_node(t) : li;
	int			deeper = depth + 1 < t->p->max_depth;
	size_t		hist_size = 2 * (size_t) t->b.n_slots;

	if (li < 0 || ri < 0)
		return li == -1 || ri == -1 ? GBT_TRAIN_TOO_LARGE : GBT_TRAIN_NO_MEMORY;
	node = &t->tree[w->node];
	node->feature = s->feature;
	node->threshold = s->left_bins == 0 ? t->b.min_value[s->feature] :
		t->b.cuts[t->b.cut_start[s->feature] + s->left_bins - 1];
	node->left = (uint32_t) li;
	node->right = (uint32_t) ri;
	node->default_left = s->default_left;
	t->tree_bins[w->node] = s->left_bins;
	t->gain[s->feature] += s->gain;

	l = &t->next[t->n_next];
	r = &t->next[t->n_next + 1];
	*l = (Work) {(uint32_t) li, w->begin, mid, s->GL, s->HL,
		deeper ? t->next_hist + t->n_next * hist_size : NULL, w->hist, {-1, 0, 0, 0, 0, 0}, 0};
	*r = (Work) {(uint32_t) ri, mid, w->end, w->G - s->GL, w->H - s->HL,
		deeper ? t->next_hist + (t->n_next + 1) * hist_size : NULL, w->hist, {-1, 0, 0, 0, 0, 0}, 0};
	t->n_next += 2;
	return GBT_TRAIN_OK;
}

/* A row's leaf by a walk of the tree over its bins. */
static uint32_t
walk(const Trainer *t, size_t row)
{
	uint32_t	at = 0;

	while (t->tree[at].feature != GBT_LEAF)
	{
		const GbtNode *nd = &t->tree[at];

		at = goes_left(&t->b, t->d, row, (uint32_t) nd->feature, t->tree_bins[at],
					   nd->default_left) ? nd->left : nd->right;
	}
	return at;
}

/*
 * One level: its leaves made, its splits' children appended to the next
 * level, whose histograms and best splits the threads then find.
 */
static GbtTrainStatus
grow_level(Trainer *t, size_t n_cur, uint32_t depth, uint32_t group)
{
	size_t		summed = 0;
	GbtTrainStatus status;

	/* before the level: a reallocation moves the current nodes */
	status = reserve_level(t, 2 * n_cur);
	if (status != GBT_TRAIN_OK)
		return status;
	t->n_next = 0;
	t->n_cur = n_cur;
	pool_run(t, PHASE_PARTITION);
	for (size_t i = 0; i < n_cur; i++)
	{
		Work	   *w = &t->cur[i];

		if (w->split.feature < 0)
			make_leaf(t, w, group);
		else if ((status = split_node(t, w, depth)) != GBT_TRAIN_OK)
			return status;
	}
	pool_run(t, PHASE_LEVEL);
	merge_splits(t, t->next, t->n_next);
	for (size_t i = 0; i < t->n_next; i += 2)
		if (t->next[i].hist != NULL)
			summed += t->next[i].end - t->next[i].begin;
	if (host_work(t->host, &t->meter, (summed + t->n_next * t->b.n_slots / 16) * t->n_used))
		return GBT_TRAIN_INTERRUPTED;
	return GBT_TRAIN_OK;
}

/* One tree of output group: grown into t->tree, its leaves added to the margins. */
static GbtTrainStatus
grow_tree(Trainer *t, uint32_t group)
{
	const double *gh = t->gh + 2 * (size_t) group * t->n;
	size_t		n_cur = 1;
	double		G = 0,
				H = 0;
	GbtTrainStatus status;

	t->tree_size = 0;
	if (new_node(t) < 0)
		return GBT_TRAIN_NO_MEMORY;
	memcpy(t->rows, t->sample, t->n_sample * sizeof(uint32_t));
	for (size_t s = 0; s < t->n_sample; s++)
	{
		G += gh[2 * (size_t) t->sample[s]];
		H += gh[2 * (size_t) t->sample[s] + 1];
	}
	status = reserve_level(t, 1);
	if (status != GBT_TRAIN_OK)
		return status;
	t->cur[0] = (Work) {0, 0, (uint32_t) t->n_sample, G, H, t->cur_hist, NULL, {-1, 0, 0, 0, 0, 0}, 0};
	t->tree_gh = gh;
	pool_run(t, PHASE_ROOT);
	merge_splits(t, t->cur, 1);
	for (uint32_t depth = 0; n_cur > 0; depth++)
	{
		Work	   *tw;
		double	   *th;

		status = grow_level(t, n_cur, depth, group);
		if (status != GBT_TRAIN_OK)
			return status;
		tw = t->cur;
		th = t->cur_hist;
		t->cur = t->next;
		t->next = tw;
		t->cur_hist = t->next_hist;
		t->next_hist = th;
		n_cur = t->n_next;
	}
	if (t->n_sample < t->n)
		for (size_t i = 0; i < t->n; i++)
			if (!t->in_sample[i])
				t->margin[i * t->groups + group] += (double) t->tree[walk(t, i)].leaf;
	return host_poll(t->host) ? GBT_TRAIN_INTERRUPTED : GBT_TRAIN_OK;
}

/* The round's rows (all, or a subsample). */
static void
draw_rows(Trainer *t)
{
	t->n_sample = 0;
	for (size_t i = 0; i < t->n; i++)
	{
		int			in = t->p->subsample >= 1.0 ||
			(double) (splitmix64_next(&t->rng) >> 11) * 0x1p-53 < t->p->subsample;

		t->in_sample[i] = (uint8_t) in;
		if (in)
			t->sample[t->n_sample++] = (uint32_t) i;
	}
}

static int
uint32_cmp(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *) a,
				y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

/* The tree's features (all, or colsample_bytree of them). */
static void
draw_features(Trainer *t)
{
	double		want = floor(t->p->colsample_bytree * t->d);
	uint32_t	m = want < 1 ? 1 : (uint32_t) want;

	for (uint32_t f = 0; f < t->d; f++)
		t->perm[f] = f;
	if (t->p->colsample_bytree >= 1.0 || m >= t->d)
	{
		memcpy(t->used, t->perm, t->d * sizeof(uint32_t));
		t->n_used = t->d;
		return;
	}
	for (uint32_t i = 0; i < m; i++)
	{
		uint32_t	j = i + (uint32_t) (splitmix64_next(&t->rng) % (t->d - i));
		uint32_t	tmp = t->perm[i];

		t->perm[i] = t->perm[j];
		t->perm[j] = tmp;
	}
	memcpy(t->used, t->perm, m * sizeof(uint32_t));
	qsort(t->used, m, sizeof(uint32_t), uint32_cmp);
	t->n_used = m;
}

/* Appends t->tree to the ensemble. */
static GbtTrainStatus
append_tree(Trainer *t, uint32_t index, uint32_t group)
{
	if (t->n_nodes + t->tree_size > UINT32_MAX)
		return GBT_TRAIN_TOO_LARGE;
	if (!reserve(t->host, (void **) &t->nodes, &t->nodes_cap, t->n_nodes + t->tree_size,
				 sizeof(GbtNode)))
		return GBT_TRAIN_NO_MEMORY;
	memcpy(t->nodes + t->n_nodes, t->tree, t->tree_size * sizeof(GbtNode));
	t->tree_start[index] = (uint32_t) t->n_nodes;
	t->tree_group[index] = group;
	t->n_nodes += t->tree_size;
	t->tree_start[index + 1] = (uint32_t) t->n_nodes;
	return GBT_TRAIN_OK;
}

static int
params_ok(const GbtTrainParams *p)
{
	return p->rounds >= 1 && p->max_depth >= 1 && p->max_depth <= 30 &&
		p->max_bin >= 2 && p->max_bin <= 65535 && p->nthread >= 1 &&
		p->learning_rate > 0 && p->learning_rate <= 1 &&
		p->min_child_weight >= 0 && isfinite(p->min_child_weight) &&
		p->lambda >= 0 && isfinite(p->lambda) &&
		p->subsample > 0 && p->subsample <= 1 &&
		p->colsample_bytree > 0 && p->colsample_bytree <= 1;
}

static GbtTrainStatus
check_data(const float *x, const uint32_t *y, size_t n, uint32_t d, uint32_t K)
{
	if (n == 0 || d == 0 || K < 2 || n > UINT32_MAX || n > SIZE_MAX / d)
		return GBT_TRAIN_BAD_DATA;
	for (size_t i = 0; i < n; i++)
		if (y[i] >= K)
			return GBT_TRAIN_BAD_DATA;
	for (size_t i = 0; i < n * d; i++)
		if (isinf(x[i]))
			return GBT_TRAIN_BAD_DATA;
	return GBT_TRAIN_OK;
}

static void
trainer_free(Trainer *t)
{
	const KernelHost *host = t->host;

	host_free(host, t->b.n_cuts);
	host_free(host, t->b.cut_start);
	host_free(host, t->b.slot);
	host_free(host, t->b.cuts);
	host_free(host, t->b.min_value);
	host_free(host, t->b.codes);
	host_free(host, t->margin);
	host_free(host, t->gh);
	host_free(host, t->sample);
	host_free(host, t->rows);
	host_free(host, t->spare);
	host_free(host, t->in_sample);
	host_free(host, t->used);
	host_free(host, t->perm);
	host_free(host, t->cur);
	host_free(host, t->next);
	host_free(host, t->block_split);
	host_free(host, t->cur_hist);
	host_free(host, t->next_hist);
	host_free(host, t->tree);
	host_free(host, t->tree_bins);
}

static GbtTrainStatus
boost(Trainer *t)
{
	uint32_t	index = 0;

	for (uint32_t round = 0; round < t->p->rounds; round++)
	{
		draw_rows(t);
		pool_run(t, PHASE_GRADIENTS);
		for (uint32_t g = 0; g < t->groups; g++)
		{
			GbtTrainStatus status;

			draw_features(t);
			status = grow_tree(t, g);
			if (status == GBT_TRAIN_OK)
				status = append_tree(t, index++, g);
			if (status != GBT_TRAIN_OK)
				return status;
		}
	}
	return GBT_TRAIN_OK;
}

GbtTrainStatus
gbt_train(const float *x, const uint32_t *y, size_t n, uint32_t dim, uint32_t n_classes,
		  const GbtTrainParams *p, const KernelHost *host, GbtModel *m, double *gain)
{
	Trainer		t;
	GbtTrainStatus status;
	size_t		n_trees;

	memset(m, 0, sizeof(*m));
	if (!params_ok(p))
		return GBT_TRAIN_BAD_PARAMS;
	status = check_data(x, y, n, dim, n_classes);
	if (status != GBT_TRAIN_OK)
		return status;
	memset(&t, 0, sizeof(t));
	t.p = p;
	t.host = host;
	t.n = n;
	t.d = dim;
	t.K = n_classes;
	t.groups = gbt_groups(n_classes);
	t.rng = p->seed;
	t.gain = gain;
	t.y = y;
	n_trees = (size_t) p->rounds * t.groups;
	if (n_trees >= UINT32_MAX)
		return GBT_TRAIN_TOO_LARGE;
	for (uint32_t f = 0; f < dim; f++)
		gain[f] = 0;
	t.margin = host_alloc_array(host, n * t.groups, sizeof(double));
	t.gh = host_alloc_array(host, 2 * n * t.groups, sizeof(double));
	t.sample = host_alloc_array(host, n, sizeof(uint32_t));
	t.rows = host_alloc_array(host, n, sizeof(uint32_t));
	t.spare = host_alloc_array(host, n, sizeof(uint32_t));
	t.in_sample = host_alloc_array(host, n, sizeof(uint8_t));
	t.used = host_alloc_array(host, dim, sizeof(uint32_t));
	t.perm = host_alloc_array(host, dim, sizeof(uint32_t));
	t.tree_start = host_alloc_array(host, n_trees + 1, sizeof(uint32_t));
	t.tree_group = host_alloc_array(host, n_trees, sizeof(uint32_t));
	if (!t.margin || !t.gh || !t.sample || !t.rows || !t.spare || !t.in_sample || !t.used ||
		!t.perm || !t.tree_start || !t.tree_group)
		status = GBT_TRAIN_NO_MEMORY;
	if (status == GBT_TRAIN_OK)
	{
		memset(t.margin, 0, n * t.groups * sizeof(double));
		status = make_bins(&t, x);
	}
	if (status == GBT_TRAIN_OK)
		status = pool_start(&t, p->nthread < t.d ? p->nthread : t.d);
	if (status == GBT_TRAIN_OK)
		status = boost(&t);
	pool_stop(&t);
	trainer_free(&t);
	if (status != GBT_TRAIN_OK)
	{
		host_free(host, t.nodes);
		host_free(host, t.tree_start);
		host_free(host, t.tree_group);
		return status;
	}
	m->n_features = dim;
	m->n_classes = n_classes;
	m->n_trees = (uint32_t) n_trees;
	m->n_nodes = (uint32_t) t.n_nodes;
	m->base_margin = 0;
	m->tree_start = t.tree_start;
	m->tree_group = t.tree_group;
	m->nodes = t.nodes;
	return GBT_TRAIN_OK;
}

void
gbt_train_free(GbtModel *m, const KernelHost *host)
{
	host_free(host, (void *) m->tree_start);
	host_free(host, (void *) m->tree_group);
	host_free(host, (void *) m->nodes);
	memset(m, 0, sizeof(*m));
}
