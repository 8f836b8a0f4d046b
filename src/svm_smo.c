/*
 * svm_smo.c
 *		SMO training and prediction of an RBF C-SVC, one-vs-one (svm_smo.h).
 *
 * The solver follows libsvm 3.x's Solver as scikit-learn ships it (C_SVC,
 * one C for every row, capped iterations): the same working-set selection,
 * update, shrinking, gradient reconstruction, rho and cache policy, in the
 * same order of floating-point operations, so that a model equals
 * scikit-learn's SVC(kernel='rbf') to rounding.  What differs is how kernel
 * columns are computed: the rows of a pair are kept feature-major, so a
 * column is d passes of a vectorisable multiply-add over the rows (each dot
 * product still summed in feature order, as libsvm sums it) followed by the
 * exp() calls, in blocks that stay in the L1 cache.
 *
 * Cost: see svm_smo.h.  Everything the solver allocates goes through a
 * private list, so an error (or a cancellation) frees all of it.
 */
#include "svm_smo.h"
#include "labels.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TAU 1e-12
#define BLOCK 256				/* rows per block of a kernel column */

enum
{
	LOWER_BOUND,
	UPPER_BOUND,
	FREE
};

/* ---------------------------------------------------------------- memory */

/* Temporary allocations, linked so that one call frees them all. */
typedef struct TmpHeader
{
	struct TmpHeader *prev;
	struct TmpHeader *next;
	double		align;			/* keeps the payload aligned for double */
} TmpHeader;

typedef struct Tmp
{
	const KernelHost *host;
	TmpHeader	list;			/* circular, sentinel */
} Tmp;

static void
tmp_init(Tmp *t, const KernelHost *host)
{
	t->host = host;
	t->list.prev = t->list.next = &t->list;
}

static void *
tmp_alloc(Tmp *t, size_t size)
{
	TmpHeader  *h;

	if (size > SIZE_MAX - sizeof(TmpHeader))
		return NULL;
	h = host_alloc(t->host, sizeof(TmpHeader) + size);
	if (h == NULL)
		return NULL;
	h->next = t->list.next;
	h->prev = &t->list;
	h->next->prev = h;
	t->list.next = h;
	return h + 1;
}

/* n elements of size bytes, NULL on overflow or failure */
static void *
tmp_array(Tmp *t, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size / 2)
		return NULL;
	return tmp_alloc(t, n * size);
}

static void
tmp_free(Tmp *t, void *p)
{
	TmpHeader  *h;

	if (p == NULL)
		return;
	h = (TmpHeader *) p - 1;
	h->prev->next = h->next;
	h->next->prev = h->prev;
	host_free(t->host, h);
}

static void
tmp_free_all(Tmp *t)
{
	while (t->list.next != &t->list)
		tmp_free(t, t->list.next + 1);
}

/* ----------------------------------------------------------------- cache */

/*
 * libsvm's kernel cache: column i holds Q[0 .. len) of column i in the
 * current (swapped) index order; least recently used columns are dropped
 * when the budget (counted in floats) runs out.
 */
typedef struct CacheHead
{
	struct CacheHead *prev;
	struct CacheHead *next;
	float	   *data;
	int			len;
} CacheHead;

typedef struct Cache
{
	int			l;
	long		size;			/* floats still free */
	CacheHead  *head;
	CacheHead	lru;
	Tmp		   *tmp;
} Cache;

static bool
cache_init(Cache *c, Tmp *tmp, int l, size_t bytes)
{
	long		size = (long) (bytes / sizeof(float));

	c->l = l;
	c->tmp = tmp;
	c->head = tmp_array(tmp, l, sizeof(CacheHead));
	if (c->head == NULL)
		return false;
	memset(c->head, 0, (size_t) l * sizeof(CacheHead));
	size -= (long) ((size_t) l * sizeof(CacheHead) / sizeof(float));
	if (size < 2 * (long) l)
		size = 2 * (long) l;	/* room for two columns, as libsvm */
	c->size = size;
	c->lru.next = c->lru.prev = &c->lru;
	return true;
}

static void
lru_delete(CacheHead *h)
{
	h->prev->next = h->next;
	h->next->prev = h->prev;
}

static void
lru_insert(Cache *c, CacheHead *h)
{
	h->next = &c->lru;
	h->prev = c->lru.prev;
	h->prev->next = h;
	h->next->prev = h;
}

static void
cache_drop(Cache *c, CacheHead *h)
{
	lru_delete(h);
	tmp_free(c->tmp, h->data);
	c->size += h->len;
	h->data = NULL;
	h->len = 0;
}

/*
 * Column `index` with room for len values; returns the position from which
 * values must be computed (len if none), or -1 when memory ran out.
 */
static int
cache_get(Cache *c, int index, float **data, int len)
{
	CacheHead  *h = &c->head[index];
	int			more;

	if (h->len)
		lru_delete(h);
	more = len - h->len;
	if (more > 0)
	{
		float	   *grown;
		int			old = h->len;

		while (c->size < more)
			cache_drop(c, c->lru.next);
		grown = tmp_array(c->tmp, len, sizeof(float));
		if (grown == NULL)
		{
			/* h is out of the list: forget it entirely */
			tmp_free(c->tmp, h->data);
			c->size += h->len;
			h->data = NULL;
			h->len = 0;
			return -1;
		}
		if (old > 0)
			memcpy(grown, h->data, (size_t) old * sizeof(float));
		tmp_free(c->tmp, h->data);
		h->data = grown;
		c->size -= more;
		h->len = len;
		len = old;
	}
	lru_insert(c, h);
	*data = h->data;
	return len;
}

static void
cache_swap(Cache *c, int i, int j)
{
	CacheHead  *h;
	float	   *td;
	int			tl;

	if (i == j)
		return;
	if (c->head[i].len)
		lru_delete(&c->head[i]);
	if (c->head[j].len)
		lru_delete(&c->head[j]);
	td = c->head[i].data;
	c->head[i].data = c->head[j].data;
	c->head[j].data = td;
	tl = c->head[i].len;
	c->head[i].len = c->head[j].len;
	c->head[j].len = tl;
	if (c->head[i].len)
		lru_insert(c, &c->head[i]);
	if (c->head[j].len)
		lru_insert(c, &c->head[j]);

	if (i > j)
	{
		int			t = i;

		i = j;
		j = t;
	}
	for (h = c->lru.next; h != &c->lru;)
	{
		CacheHead  *next = h->next;

		if (h->len > i)
		{
			if (h->len > j)
			{
				float		t = h->data[i];

				h->data[i] = h->data[j];
				h->data[j] = t;
			}
			else
				cache_drop(c, h);	/* give up, as libsvm */
		}
		h = next;
	}
}

/* ---------------------------------------------------------------- kernel */

/* Q of one pair: Q_ij = y_i y_j exp(-gamma |x_i - x_j|^2). */
typedef struct Kernel
{
	int			l;
	int			dim;
	double		gamma;
	double	   *xt;				/* dim x l, feature-major */
	double	   *xsq;			/* |x_i|^2 */
	signed char *y;
	double	   *qd;				/* Q_ii */
	double	   *acc;			/* BLOCK dot products */
	double	   *xi;				/* dim: the column's row */
	Cache		cache;
} Kernel;

/*
 * Q[start .. len) of column i: libsvm's kernel_rbf,
 * exp(-gamma * (|x_i|^2 + |x_j|^2 - 2 x_i.x_j)), the dot product summed in
 * feature order, rounded to float.
 */
static void
kernel_column(Kernel *k, int i, int start, int len, float *out)
{
	const int	l = k->l;
	const int	dim = k->dim;
	const double ng = -k->gamma;
	const double xsqi = k->xsq[i];
	const int	yi = k->y[i];
	double	   *acc = k->acc;

	for (int f = 0; f < dim; f++)
		k->xi[f] = k->xt[(size_t) f * l + i];

	for (int b = start; b < len; b += BLOCK)
	{
		int			n = len - b < BLOCK ? len - b : BLOCK;

		for (int j = 0; j < n; j++)
			acc[j] = 0.0;
		for (int f = 0; f < dim; f++)
		{
			const double a = k->xi[f];
			const double *col = k->xt + (size_t) f * l + b;

			for (int j = 0; j < n; j++)
				acc[j] += a * col[j];
		}
		for (int j = 0; j < n; j++)
			out[b + j] = (float) (yi * k->y[b + j] *
								  exp(ng * (xsqi + k->xsq[b + j] - 2 * acc[j])));
	}
}

/* Column i of Q, at least [0, len); NULL when memory ran out. */
static const float *
get_Q(Kernel *k, int i, int len)
{
	float	   *data;
	int			start = cache_get(&k->cache, i, &data, len);

	if (start < 0)
		return NULL;
	if (start < len)
		kernel_column(k, i, start, len, data);
	return data;
}

static void
kernel_swap(Kernel *k, int i, int j)
{
	const int	l = k->l;

	cache_swap(&k->cache, i, j);
	for (int f = 0; f < k->dim; f++)
	{
		double	   *col = k->xt + (size_t) f * l;
		double		t = col[i];

		col[i] = col[j];
		col[j] = t;
	}
	{
		double		t = k->xsq[i];

		k->xsq[i] = k->xsq[j];
		k->xsq[j] = t;
		t = k->qd[i];
		k->qd[i] = k->qd[j];
		k->qd[j] = t;
	}
	{
		signed char t = k->y[i];

		k->y[i] = k->y[j];
		k->y[j] = t;
	}
}

/* ---------------------------------------------------------------- solver */

typedef struct Solver
{
	int			l;
	int			active_size;
	double		C;
	double		eps;
	bool		unshrink;
	Kernel	   *Q;
	signed char *y;				/* Q->y: one array, swapped once */
	double	   *alpha;
	double	   *G;
	double	   *G_bar;
	char	   *status;
	int		   *active_set;
	SvmProgress progress;
	const SvmParams *params;
	const KernelHost *host;
	size_t		polled;			/* units of work since the last poll */
} Solver;

#define P_I -1.0				/* the linear term p_i: -1 for every row */

static inline bool
is_upper(const Solver *s, int i)
{
	return s->status[i] == UPPER_BOUND;
}

static inline bool
is_lower(const Solver *s, int i)
{
	return s->status[i] == LOWER_BOUND;
}

static inline bool
is_free(const Solver *s, int i)
{
	return s->status[i] == FREE;
}

static void
update_status(Solver *s, int i)
{
	if (s->alpha[i] >= s->C)
		s->status[i] = UPPER_BOUND;
	else if (s->alpha[i] <= 0)
		s->status[i] = LOWER_BOUND;
	else
		s->status[i] = FREE;
}

/*
 * Reports progress, then counts the step's units of work towards the host's
 * poll; true when the host says stop.  An iteration or a column of a
 * gradient reconstruction may compute a kernel column, active rows x dim
 * features: counting that bound polls at least as often as kernel_host.h
 * asks when columns come from the cache (O(active) steps).
 */
static bool
report(Solver *s)
{
	if (s->params->progress != NULL)
	{
		s->progress.active_size = s->active_size;
		s->params->progress(s->params->progress_arg, &s->progress);
	}
	return host_work(s->host, &s->polled, (size_t) s->active_size * (size_t) s->Q->dim);
}

static void
swap_index(Solver *s, int i, int j)
{
	double		t;
	char		c;
	int			a;

	kernel_swap(s->Q, i, j);	/* also swaps y */
	t = s->G[i], s->G[i] = s->G[j], s->G[j] = t;
	c = s->status[i], s->status[i] = s->status[j], s->status[j] = c;
	t = s->alpha[i], s->alpha[i] = s->alpha[j], s->alpha[j] = t;
	a = s->active_set[i], s->active_set[i] = s->active_set[j], s->active_set[j] = a;
	t = s->G_bar[i], s->G_bar[i] = s->G_bar[j], s->G_bar[j] = t;
}

/* Inactive elements of G from G_bar and the free variables. */
static SvmStatus
reconstruct_gradient(Solver *s)
{
	const int	l = s->l;
	const int	active = s->active_size;
	int			nr_free = 0;

	if (active == l)
		return SVM_OK;
	for (int j = active; j < l; j++)
		s->G[j] = s->G_bar[j] + P_I;
	for (int j = 0; j < active; j++)
		if (is_free(s, j))
			nr_free++;

	if ((double) nr_free * l > 2.0 * active * (l - active))
	{
		for (int i = active; i < l; i++)
		{
			const float *Q_i = get_Q(s->Q, i, active);

			if (Q_i == NULL)
				return SVM_NO_MEMORY;
			for (int j = 0; j < active; j++)
				if (is_free(s, j))
					s->G[i] += s->alpha[j] * Q_i[j];
			if (report(s))
				return SVM_CANCELLED;
		}
	}
	else
	{
		for (int i = 0; i < active; i++)
			if (is_free(s, i))
			{
				const float *Q_i = get_Q(s->Q, i, l);
				double		alpha_i = s->alpha[i];

				if (Q_i == NULL)
					return SVM_NO_MEMORY;
				for (int j = active; j < l; j++)
					s->G[j] += alpha_i * Q_i[j];
				if (report(s))
					return SVM_CANCELLED;
			}
	}
	return SVM_OK;
}

/*
 * WSS2: i maximises -y_i G_i over I_up, j minimises the second-order
 * decrease among I_low rows that violate with i.  Sets *done when the
 * maximal violation is below eps.
 */
static SvmStatus
select_working_set(Solver *s, int *out_i, int *out_j, bool *done)
{
	const double *QD = s->Q->qd;
	const signed char *y = s->y;
	const double *G = s->G;
	double		Gmax = -HUGE_VAL;
	double		Gmax2 = -HUGE_VAL;
	int			Gmax_idx = -1;
	int			Gmin_idx = -1;
	double		obj_diff_min = HUGE_VAL;
	const float *Q_i = NULL;
	int			i;

	for (int t = 0; t < s->active_size; t++)
	{
		if (y[t] == +1)
		{
			if (!is_upper(s, t) && -G[t] >= Gmax)
			{
				Gmax = -G[t];
				Gmax_idx = t;
			}
		}
		else if (!is_lower(s, t) && G[t] >= Gmax)
		{
			Gmax = G[t];
			Gmax_idx = t;
		}
	}

	i = Gmax_idx;
	if (i != -1)
	{
		Q_i = get_Q(s->Q, i, s->active_size);
		if (Q_i == NULL)
			return SVM_NO_MEMORY;
	}

	for (int j = 0; j < s->active_size; j++)
	{
		if (y[j] == +1)
		{
			if (!is_lower(s, j))
			{
				double		grad_diff = Gmax + G[j];

				if (G[j] >= Gmax2)
					Gmax2 = G[j];
				if (grad_diff > 0)
				{
					double		obj_diff;
					double		quad_coef = QD[i] + QD[j] - 2.0 * y[i] * Q_i[j];

					if (quad_coef > 0)
						obj_diff = -(grad_diff * grad_diff) / quad_coef;
					else
						obj_diff = -(grad_diff * grad_diff) / TAU;
					if (obj_diff <= obj_diff_min)
					{
						Gmin_idx = j;
						obj_diff_min = obj_diff;
					}
				}
			}
		}
		else
		{
			if (!is_upper(s, j))
			{
				double		grad_diff = Gmax - G[j];

				if (-G[j] >= Gmax2)
					Gmax2 = -G[j];
				if (grad_diff > 0)
				{
					double		obj_diff;
					double		quad_coef = QD[i] + QD[j] + 2.0 * y[i] * Q_i[j];

					if (quad_coef > 0)
						obj_diff = -(grad_diff * grad_diff) / quad_coef;
					else
						obj_diff = -(grad_diff * grad_diff) / TAU;
					if (obj_diff <= obj_diff_min)
					{
						Gmin_idx = j;
						obj_diff_min = obj_diff;
					}
				}
			}
		}
	}

	*done = Gmax + Gmax2 < s->eps || Gmin_idx == -1;
	*out_i = Gmax_idx;
	*out_j = Gmin_idx;
	return SVM_OK;
}

static bool
be_shrunk(const Solver *s, int i, double Gmax1, double Gmax2)
{
	if (is_upper(s, i))
		return s->y[i] == +1 ? -s->G[i] > Gmax1 : -s->G[i] > Gmax2;
	if (is_lower(s, i))
		return s->y[i] == +1 ? s->G[i] > Gmax2 : s->G[i] > Gmax1;
	return false;
}

static SvmStatus
do_shrinking(Solver *s)
{
	double		Gmax1 = -HUGE_VAL;	/* max -y_i G_i over I_up */
	double		Gmax2 = -HUGE_VAL;	/* max y_i G_i over I_low */
	const double *G = s->G;

	for (int i = 0; i < s->active_size; i++)
	{
		if (s->y[i] == +1)
		{
			if (!is_upper(s, i) && -G[i] >= Gmax1)
				Gmax1 = -G[i];
			if (!is_lower(s, i) && G[i] >= Gmax2)
				Gmax2 = G[i];
		}
		else
		{
			if (!is_upper(s, i) && -G[i] >= Gmax2)
				Gmax2 = -G[i];
			if (!is_lower(s, i) && G[i] >= Gmax1)
				Gmax1 = G[i];
		}
	}

	if (!s->unshrink && Gmax1 + Gmax2 <= s->eps * 10)
	{
		SvmStatus	st;

		s->unshrink = true;
		if ((st = reconstruct_gradient(s)) != SVM_OK)
			return st;
		s->active_size = s->l;
	}

	for (int i = 0; i < s->active_size; i++)
		if (be_shrunk(s, i, Gmax1, Gmax2))
		{
			s->active_size--;
			while (s->active_size > i)
			{
				if (!be_shrunk(s, s->active_size, Gmax1, Gmax2))
				{
					swap_index(s, i, s->active_size);
					break;
				}
				s->active_size--;
			}
		}
	return SVM_OK;
}

static double
calculate_rho(const Solver *s)
{
	int			nr_free = 0;
	double		ub = HUGE_VAL,
				lb = -HUGE_VAL,
				sum_free = 0;

	for (int i = 0; i < s->active_size; i++)
	{
		double		yG = s->y[i] * s->G[i];

		if (is_upper(s, i))
		{
			if (s->y[i] == -1)
				ub = fmin(ub, yG);
			else
				lb = fmax(lb, yG);
		}
		else if (is_lower(s, i))
		{
			if (s->y[i] == +1)
				ub = fmin(ub, yG);
			else
				lb = fmax(lb, yG);
		}
		else
		{
			++nr_free;
			sum_free += yG;
		}
	}
	return nr_free > 0 ? sum_free / nr_free : (ub + lb) / 2;
}

/* The two-variable update of libsvm, bounds handled as it handles them. */
static void
update_pair(Solver *s, int i, int j, const float *Q_i)
{
	const double *QD = s->Q->qd;
	const double C = s->C;
	double	   *alpha = s->alpha;
	const double *G = s->G;

	if (s->y[i] != s->y[j])
	{
		double		quad_coef = QD[i] + QD[j] + 2 * Q_i[j];
		double		delta,
					diff;

		if (quad_coef <= 0)
			quad_coef = TAU;
		delta = (-G[i] - G[j]) / quad_coef;
		diff = alpha[i] - alpha[j];
		alpha[i] += delta;
		alpha[j] += delta;
		if (diff > 0)
		{
			if (alpha[j] < 0)
			{
				alpha[j] = 0;
				alpha[i] = diff;
			}
		}
		else if (alpha[i] < 0)
		{
			alpha[i] = 0;
			alpha[j] = -diff;
		}
		if (diff > 0)		/* C_i - C_j: one C for all rows */
		{
			if (alpha[i] > C)
			{
				alpha[i] = C;
				alpha[j] = C - diff;
			}
		}
		else if (alpha[j] > C)
		{
			alpha[j] = C;
			alpha[i] = C + diff;
		}
	}
	else
	{
		double		quad_coef = QD[i] + QD[j] - 2 * Q_i[j];
		double		delta,
					sum;

		if (quad_coef <= 0)
			quad_coef = TAU;
		delta = (G[i] - G[j]) / quad_coef;
		sum = alpha[i] + alpha[j];
		alpha[i] -= delta;
		alpha[j] += delta;
		if (sum > C)
		{
			if (alpha[i] > C)
			{
				alpha[i] = C;
				alpha[j] = sum - C;
			}
		}
		else if (alpha[j] < 0)
		{
			alpha[j] = 0;
			alpha[i] = sum;
		}
		if (sum > C)
		{
			if (alpha[j] > C)
			{
				alpha[j] = C;
				alpha[i] = sum - C;
			}
		}
		else if (alpha[i] < 0)
		{
			alpha[i] = 0;
			alpha[j] = sum;
		}
	}
}

/* G_bar += or -= C Q_i when row i enters or leaves the upper bound. */
static SvmStatus
update_G_bar(Solver *s, int i, bool was_upper)
{
	const float *Q_i;
	const double C = s->C;

	if (was_upper == is_upper(s, i))
		return SVM_OK;
	Q_i = get_Q(s->Q, i, s->l);
	if (Q_i == NULL)
		return SVM_NO_MEMORY;
	if (was_upper)
		for (int k = 0; k < s->l; k++)
			s->G_bar[k] -= C * Q_i[k];
	else
		for (int k = 0; k < s->l; k++)
			s->G_bar[k] += C * Q_i[k];
	return SVM_OK;
}

/* One iteration on the working set (i, j). */
static SvmStatus
iterate(Solver *s, int i, int j)
{
	const float *Q_i = get_Q(s->Q, i, s->active_size);
	const float *Q_j;
	double		old_i = s->alpha[i],
				old_j = s->alpha[j],
				d_i,
				d_j;
	bool		ui,
				uj;
	SvmStatus	st;

	if (Q_i == NULL)
		return SVM_NO_MEMORY;
	Q_j = get_Q(s->Q, j, s->active_size);
	if (Q_j == NULL)
		return SVM_NO_MEMORY;

	update_pair(s, i, j, Q_i);
	d_i = s->alpha[i] - old_i;
	d_j = s->alpha[j] - old_j;
	for (int k = 0; k < s->active_size; k++)
		s->G[k] += Q_i[k] * d_i + Q_j[k] * d_j;

	ui = is_upper(s, i);
	uj = is_upper(s, j);
	update_status(s, i);
	update_status(s, j);
	if ((st = update_G_bar(s, i, ui)) != SVM_OK)
		return st;
	return update_G_bar(s, j, uj);
}

/*
 * Solves one pair's dual from alpha = 0; alpha_out[r] = y_r alpha_r in the
 * pair's row order.
 */
static SvmStatus
solve(Solver *s, double *alpha_out)
{
	const int	l = s->l;
	int			counter = (l < 1000 ? l : 1000) + 1;
	const int64_t max_iter = svm_smo_max_iterations(l);
	SvmStatus	st;

	for (int i = 0; i < l; i++)
	{
		s->alpha[i] = 0;
		s->G[i] = P_I;
		s->G_bar[i] = 0;
		s->active_set[i] = i;
		update_status(s, i);
	}
	s->active_size = l;
	s->unshrink = false;
	s->progress.iterations = 0;
	s->progress.at_limit = 0;

	for (;;)
	{
		int			i,
					j;
		bool		done;

		if (s->progress.iterations >= max_iter)
		{
			/* libsvm's end at the limit: rho from the whole gradient */
			if ((st = reconstruct_gradient(s)) != SVM_OK)
				return st;
			s->active_size = l;
			s->progress.at_limit = 1;
			break;
		}
		if (--counter == 0)
		{
			counter = l < 1000 ? l : 1000;
			if (s->params->shrinking && (st = do_shrinking(s)) != SVM_OK)
				return st;
		}
		if ((st = select_working_set(s, &i, &j, &done)) != SVM_OK)
			return st;
		if (done)
		{
			if ((st = reconstruct_gradient(s)) != SVM_OK)
				return st;
			s->active_size = l;
			if ((st = select_working_set(s, &i, &j, &done)) != SVM_OK)
				return st;
			if (done)
				break;
			counter = 1;		/* shrink at the next iteration */
		}
		s->progress.iterations++;
		if ((st = iterate(s, i, j)) != SVM_OK)
			return st;
		if (report(s))
			return SVM_CANCELLED;
	}

	s->progress.rho = calculate_rho(s);
	{
		double		v = 0;

		for (int i = 0; i < l; i++)
			v += s->alpha[i] * (s->G[i] + P_I);
		s->progress.obj = v / 2;
	}
	for (int i = 0; i < l; i++)
		alpha_out[s->active_set[i]] = s->alpha[i] * s->y[i];
	return SVM_OK;
}

/* ------------------------------------------------------------ multiclass */

/* Classes in label order: labels, counts, and rows grouped by class. */
typedef struct Groups
{
	int			n_class;
	int32_t    *label;
	int		   *count;
	int		   *start;
	int		   *perm;			/* row indices, grouped, input order within */
} Groups;

static SvmStatus
group_classes(Tmp *t, const int32_t *y, int n, Groups *g)
{
	int32_t    *sorted = tmp_array(t, n, sizeof(int32_t));
	int		   *cls = tmp_array(t, n, sizeof(int));
	int			k;

	g->perm = tmp_array(t, n, sizeof(int));
	if (sorted == NULL || cls == NULL || g->perm == NULL)
		return SVM_NO_MEMORY;
	memcpy(sorted, y, (size_t) n * sizeof(int32_t));
	k = (int) labels_distinct(sorted, (size_t) n);
	g->n_class = k;
	if (k < 2)
		return SVM_TOO_FEW_CLASSES;
	g->label = sorted;
	g->count = tmp_array(t, k, sizeof(int));
	g->start = tmp_array(t, k, sizeof(int));
	if (g->count == NULL || g->start == NULL)
		return SVM_NO_MEMORY;
	memset(g->count, 0, (size_t) k * sizeof(int));
	for (int i = 0; i < n; i++)
	{
		cls[i] = (int) labels_index(g->label, (size_t) k, y[i]);
		g->count[cls[i]]++;
	}
	g->start[0] = 0;
	for (int c = 1; c < k; c++)
		g->start[c] = g->start[c - 1] + g->count[c - 1];
	{
		int		   *next = tmp_array(t, k, sizeof(int));

		if (next == NULL)
			return SVM_NO_MEMORY;
		memcpy(next, g->start, (size_t) k * sizeof(int));
		for (int i = 0; i < n; i++)
			g->perm[next[cls[i]]++] = i;
		tmp_free(t, next);
	}
	tmp_free(t, cls);
	return SVM_OK;
}

/* The kernel and solver of the pair (a, b): a's rows (y = +1), then b's. */
static SvmStatus
setup_pair(Tmp *t, const double *x, int dim, const Groups *g, int a, int b,
		   const SvmParams *params, Kernel *k, Solver *s)
{
	const int	l = g->count[a] + g->count[b];

	k->l = l;
	k->dim = dim;
	k->gamma = params->gamma;
	k->xt = tmp_array(t, (size_t) l * dim, sizeof(double));
	k->xsq = tmp_array(t, l, sizeof(double));
	k->y = tmp_array(t, l, 1);
	k->qd = tmp_array(t, l, sizeof(double));
	k->acc = tmp_array(t, BLOCK, sizeof(double));
	k->xi = tmp_array(t, dim, sizeof(double));
	s->alpha = tmp_array(t, l, sizeof(double));
	s->G = tmp_array(t, l, sizeof(double));
	s->G_bar = tmp_array(t, l, sizeof(double));
	s->status = tmp_array(t, l, 1);
	s->active_set = tmp_array(t, l, sizeof(int));
	if (!k->xt || !k->xsq || !k->y || !k->qd || !k->acc || !k->xi || !s->alpha ||
		!s->G || !s->G_bar || !s->status || !s->active_set ||
		!cache_init(&k->cache, t, l, params->cache_bytes))
		return SVM_NO_MEMORY;

	for (int r = 0; r < l; r++)
	{
		int			row = r < g->count[a] ? g->perm[g->start[a] + r]
		: g->perm[g->start[b] + r - g->count[a]];
		const double *xr = x + (size_t) row * dim;
		double		sq = 0;

		for (int f = 0; f < dim; f++)
		{
			k->xt[(size_t) f * l + r] = xr[f];
			sq += xr[f] * xr[f];
		}
		if (!isfinite(sq))
			return SVM_INVALID_INPUT;	/* |x|^2 beyond double range */
		k->xsq[r] = sq;
		k->y[r] = r < g->count[a] ? +1 : -1;
	}
	/* libsvm's QD[i] = kernel_rbf(i, i): exp(-gamma * 0) */
	for (int r = 0; r < l; r++)
		k->qd[r] = exp(-k->gamma * (k->xsq[r] + k->xsq[r] - 2 * k->xsq[r]));

	s->l = l;
	s->C = params->C;
	s->eps = params->eps;
	s->Q = k;
	s->y = k->y;
	s->params = params;
	return SVM_OK;
}

/* Frees a pair's kernel and solver arrays (the alphas stay). */
static void
free_pair(Tmp *t, Kernel *k, Solver *s)
{
	for (CacheHead *h = k->cache.lru.next; h != &k->cache.lru;)
	{
		CacheHead  *next = h->next;

		tmp_free(t, h->data);
		h = next;
	}
	tmp_free(t, k->cache.head);
	tmp_free(t, k->xt);
	tmp_free(t, k->xsq);
	tmp_free(t, k->y);
	tmp_free(t, k->qd);
	tmp_free(t, k->acc);
	tmp_free(t, k->xi);
	tmp_free(t, s->G);
	tmp_free(t, s->G_bar);
	tmp_free(t, s->status);
	tmp_free(t, s->active_set);
	tmp_free(t, s->alpha);
}

/* libsvm's model: SVs = rows with a non-zero alpha in some pair. */
static SvmStatus
build_model(const double *x, int dim, const Groups *g, double *const *pair_alpha,
			const SvmParams *params, const KernelHost *host, SvmModel *m)
{
	const int	k = g->n_class;
	int			n = g->start[k - 1] + g->count[k - 1];
	char	   *nonzero = host_alloc(host, n);
	int		   *nz_start;
	int			p = 0,
				q;

	if (nonzero == NULL)
		return SVM_NO_MEMORY;
	memset(nonzero, 0, n);
	for (int a = 0; a < k; a++)
		for (int b = a + 1; b < k; b++, p++)
		{
			for (int r = 0; r < g->count[a]; r++)
				if (pair_alpha[p][r] != 0)
					nonzero[g->start[a] + r] = 1;
			for (int r = 0; r < g->count[b]; r++)
				if (pair_alpha[p][g->count[a] + r] != 0)
					nonzero[g->start[b] + r] = 1;
		}

	m->n_class = k;
	m->dim = dim;
	m->C = params->C;
	m->gamma = params->gamma;
	m->n_sv = 0;
	m->label = host_alloc_array(host, k, sizeof(int32_t));
	m->n_sv_class = host_alloc_array(host, k, sizeof(int32_t));
	m->count = host_alloc_array(host, k, sizeof(int32_t));
	nz_start = host_alloc(host, (size_t) k * sizeof(int));
	if (!m->label || !m->n_sv_class || !m->count || !nz_start)
	{
		host_free(host, nonzero);
		host_free(host, nz_start);
		return SVM_NO_MEMORY;
	}
	for (int c = 0; c < k; c++)
	{
		int			nsv = 0;

		for (int r = 0; r < g->count[c]; r++)
			nsv += nonzero[g->start[c] + r];
		m->label[c] = g->label[c];
		m->count[c] = g->count[c];
		m->n_sv_class[c] = nsv;
		nz_start[c] = m->n_sv;
		m->n_sv += nsv;
	}
	m->coef = host_alloc_array(host, (size_t) (k - 1) * m->n_sv, sizeof(double));
	m->sv = host_alloc_array(host, (size_t) m->n_sv * dim, sizeof(double));
	if (!m->coef || !m->sv)
	{
		host_free(host, nonzero);
		host_free(host, nz_start);
		return SVM_NO_MEMORY;
	}
	memset(m->coef, 0, (size_t) (k - 1) * m->n_sv * sizeof(double));

	q = 0;
	for (int i = 0; i < n; i++)
		if (nonzero[i])
			memcpy(m->sv + (size_t) q++ * dim, x + (size_t) g->perm[i] * dim,
				   (size_t) dim * sizeof(double));
	p = 0;
	for (int a = 0; a < k; a++)
		for (int b = a + 1; b < k; b++, p++)
		{
			q = nz_start[a];
			for (int r = 0; r < g->count[a]; r++)
				if (nonzero[g->start[a] + r])
					m->coef[(size_t) (b - 1) * m->n_sv + q++] = pair_alpha[p][r];
			q = nz_start[b];
			for (int r = 0; r < g->count[b]; r++)
				if (nonzero[g->start[b] + r])
					m->coef[(size_t) a * m->n_sv + q++] = pair_alpha[p][g->count[a] + r];
		}
	host_free(host, nonzero);
	host_free(host, nz_start);
	return SVM_OK;
}

void
svm_smo_free_model(SvmModel *m, const KernelHost *host)
{
	void	   *arrays[] = {m->label, m->n_sv_class, m->count, m->rho, m->iterations,
	m->coef, m->sv};

	for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
		host_free(host, arrays[i]);
	memset(m, 0, sizeof(*m));
}

static bool
valid_input(const double *x, int n, int dim, const SvmParams *params)
{
	if (n < 1 || dim < 1 || !(isfinite(params->C) && params->C > 0) ||
		!(isfinite(params->gamma) && params->gamma > 0) ||
		!(isfinite(params->eps) && params->eps > 0))
		return false;
	for (size_t i = 0; i < (size_t) n * dim; i++)
		if (!isfinite(x[i]))
			return false;
	return true;
}

/* Solves every pair; pair_alpha[p] gets the pair's y alpha. */
static SvmStatus
train_pairs(Tmp *t, const double *x, int dim, const Groups *g, const SvmParams *params,
			double **pair_alpha, SvmModel *model)
{
	const int	k = g->n_class;
	int			p = 0;

	for (int a = 0; a < k; a++)
		for (int b = a + 1; b < k; b++, p++)
		{
			Kernel		kern;
			Solver		s;
			SvmStatus	st;

			memset(&kern, 0, sizeof(kern));
			memset(&s, 0, sizeof(s));
			s.host = t->host;
			s.progress.pair = p;
			s.progress.n_pairs = svm_n_pairs(k);
			s.progress.label_a = g->label[a];
			s.progress.label_b = g->label[b];
			s.progress.l = g->count[a] + g->count[b];
			pair_alpha[p] = tmp_array(t, s.progress.l, sizeof(double));
			if (pair_alpha[p] == NULL)
				return SVM_NO_MEMORY;
			if ((st = setup_pair(t, x, dim, g, a, b, params, &kern, &s)) != SVM_OK)
				return st;
			if ((st = solve(&s, pair_alpha[p])) != SVM_OK)
				return st;
			model->rho[p] = s.progress.rho;
			model->iterations[p] = s.progress.iterations;
			s.progress.finished = 1;
			s.progress.n_sv = 0;
			for (int r = 0; r < s.l; r++)
				s.progress.n_sv += pair_alpha[p][r] != 0;
			free_pair(t, &kern, &s);
			if (params->progress)
				params->progress(params->progress_arg, &s.progress);
		}
	return SVM_OK;
}

SvmStatus
svm_smo_train(const double *x, const int32_t *y, int n, int dim,
			  const SvmParams *params, const KernelHost *host, SvmModel *model)
{
	Tmp			t;
	Groups		g;
	double	  **pair_alpha;
	SvmStatus	st;

	memset(model, 0, sizeof(*model));
	if (!valid_input(x, n, dim, params))
		return SVM_INVALID_INPUT;
	tmp_init(&t, host);
	memset(&g, 0, sizeof(g));
	if ((st = group_classes(&t, y, n, &g)) != SVM_OK)
		goto done;

	st = SVM_NO_MEMORY;
	pair_alpha = tmp_array(&t, svm_n_pairs(g.n_class), sizeof(double *));
	model->rho = host_alloc_array(host, svm_n_pairs(g.n_class), sizeof(double));
	model->iterations = host_alloc_array(host, svm_n_pairs(g.n_class), sizeof(int64_t));
	if (pair_alpha == NULL || model->rho == NULL || model->iterations == NULL)
		goto done;
	if ((st = train_pairs(&t, x, dim, &g, params, pair_alpha, model)) != SVM_OK)
		goto done;
	st = build_model(x, dim, &g, pair_alpha, params, host, model);

done:
	tmp_free_all(&t);
	if (st != SVM_OK)
		svm_smo_free_model(model, host);
	return st;
}

/* ------------------------------------------------------------ prediction */

double
svm_smo_scale_gamma(const double *x, int n, int dim)
{
	size_t		N = (size_t) n * dim;
	double		mean = 0,
				var = 0,
				comp = 0;

	/* two passes, compensated sums, as numpy's X.var() up to rounding */
	for (size_t i = 0; i < N; i++)
	{
		double		y = x[i] - comp;
		double		s = mean + y;

		comp = (s - mean) - y;
		mean = s;
	}
	mean /= (double) N;
	comp = 0;
	for (size_t i = 0; i < N; i++)
	{
		double		d = x[i] - mean;
		double		y = d * d - comp;
		double		s = var + y;

		comp = (s - var) - y;
		var = s;
	}
	var /= (double) N;
	return var != 0 ? 1.0 / (dim * var) : 1.0;
}

void
svm_smo_transpose_sv(const SvmModel *m, double *svt)
{
	for (int s = 0; s < m->n_sv; s++)
		for (int f = 0; f < m->dim; f++)
			svt[(size_t) f * m->n_sv + s] = m->sv[(size_t) s * m->dim + f];
}

int
svm_smo_vote(int n_class, const double *dec, int *votes)
{
	int			p = 0,
				best = 0;

	for (int c = 0; c < n_class; c++)
		votes[c] = 0;
	for (int a = 0; a < n_class; a++)
		for (int b = a + 1; b < n_class; b++, p++)
			votes[dec[p] > 0 ? a : b]++;
	for (int c = 1; c < n_class; c++)
		if (votes[c] > votes[best])
			best = c;
	return best;
}

int
svm_smo_decision(const SvmModel *m, const double *svt, const double *x, double *dec,
				 double *kv, int *votes)
{
	const int	n_sv = m->n_sv;
	const int	k = m->n_class;
	const double ng = -m->gamma;
	int			p = 0;
	int			start_a = 0;

	/* libsvm's k_function: sum of (x_f - sv_f)^2 in feature order */
	for (int s = 0; s < n_sv; s++)
		kv[s] = 0.0;
	for (int f = 0; f < m->dim; f++)
	{
		const double xf = x[f];
		const double *col = svt + (size_t) f * n_sv;

		for (int s = 0; s < n_sv; s++)
		{
			double		d = xf - col[s];

			kv[s] += d * d;
		}
	}
	/*
	 * exp of anything below -746 is +0; glibc reaches it through its
	 * underflow handler (errno), which cost as much as the distances here
	 * with unscaled features, where most support vectors are far
	 */
	for (int s = 0; s < n_sv; s++)
	{
		double		e = ng * kv[s];

		kv[s] = e < -746.0 ? 0.0 : exp(e);
	}

	for (int a = 0; a < k; a++)
	{
		int			start_b = start_a + m->n_sv_class[a];

		for (int b = a + 1; b < k; b++, p++)
		{
			const double *coef1 = m->coef + (size_t) (b - 1) * n_sv;
			const double *coef2 = m->coef + (size_t) a * n_sv;
			double		sum = 0;

			for (int r = 0; r < m->n_sv_class[a]; r++)
				sum += coef1[start_a + r] * kv[start_a + r];
			for (int r = 0; r < m->n_sv_class[b]; r++)
				sum += coef2[start_b + r] * kv[start_b + r];
			dec[p] = sum - m->rho[p];
			start_b += m->n_sv_class[b];
		}
		start_a += m->n_sv_class[a];
	}
	return svm_smo_vote(k, dec, votes);
}
