/*
 * test_svm_smo.c
 *		Unit tests of the SVM kernel (svm_smo.c) and of stratified folds
 *		(folds.c), without a server: a two-point problem in closed form, the
 *		KKT conditions at the solution of random problems, separable toy sets,
 *		a cache of two columns giving the same model bit for bit, libsvm's
 *		vote, cancellation and allocation failures leaving nothing allocated,
 *		and scikit-learn's StratifiedKFold folds of a few label sequences.
 *		Prints TAP; exits non-zero when a check fails.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folds.h"
#include "svm_smo.h"
#include "tap.h"
#include "test_rng.h"
#include "kernel_host_test.h"


/* ---- the host: counts allocations, can fail one or say stop ---- */

static TestHost counter;
static const KernelHost mem = {test_host_alloc, test_host_free, test_host_interrupted, &counter};

static SvmParams
params(double C, double gamma)
{
	SvmParams	p = {C, gamma, SVM_DEFAULT_EPS, SVM_DEFAULT_CACHE_BYTES, 1, NULL, NULL};

	return p;
}

/* Decision values and predicted label of one row. */
static int32_t
predict(const SvmModel *m, const double *x, double *dec)
{
	double	   *svt = malloc(sizeof(double) * (m->n_sv * m->dim + 1));
	double	   *work = malloc(sizeof(double) * (m->n_sv + 1));
	int		   *votes = malloc(sizeof(int) * m->n_class);
	int			k;

	svm_smo_transpose_sv(m, svt);
	k = svm_smo_decision(m, svt, x, dec, work, votes);
	free(svt);
	free(work);
	free(votes);
	return m->label[k];
}

/* ---- a two-point problem in closed form ---- */

/*
 * Rows x1 (label 3) and x2 (label 8), K = exp(-gamma |x1 - x2|^2).  The dual
 * is min alpha^2 (1 - K) - 2 alpha over 0 <= alpha <= C: alpha = min(C,
 * 1 / (1 - K)), rho = 0 by symmetry, decision at x1 = alpha (1 - K).
 * libsvm (and so the solver) keeps Q in single precision, so the free
 * alpha agrees to float precision only: 1e-6 relative.
 */
static void
test_two_points(double C)
{
	double		x[4] = {0.5, -1.0, 1.5, 0.0};
	int32_t		y[2] = {8, 3};	/* labels in any order: classes sort */
	double		gamma = 0.3;
	double		K = exp(-gamma * 2.0);
	double		alpha = fmin(C, 1.0 / (1.0 - K));
	SvmParams	p = params(C, gamma);
	SvmModel	m;
	double		dec;
	char		what[160];
	SvmStatus	st = svm_smo_train(x, y, 2, 2, &p, &mem, &m);

	snprintf(what, sizeof(what), "two points, C = %g: trained, classes 3 and 8, one SV each", C);
	check(st == SVM_OK && m.n_class == 2 && m.label[0] == 3 && m.label[1] == 8 &&
		  m.n_sv == 2 && m.n_sv_class[0] == 1 && m.n_sv_class[1] == 1, what);
	if (st != SVM_OK)
		return;
	snprintf(what, sizeof(what), "two points, C = %g: coefficients +-%.6f, rho 0", C, alpha);
	check(fabs(m.coef[0] - alpha) < 1e-6 * alpha && fabs(m.coef[1] + alpha) < 1e-6 * alpha &&
		  fabs(m.rho[0]) < 1e-12, what);
	/* the SVs are grouped by class: class 3's row (x[2..3]) first */
	check(m.sv[0] == 1.5 && m.sv[1] == 0.0 && m.sv[2] == 0.5 && m.sv[3] == -1.0,
		  "two points: support vectors grouped by class in label order");
	snprintf(what, sizeof(what), "two points, C = %g: decision at x1 = alpha (1 - K), at x2 its negative", C);
	check(predict(&m, x + 2, &dec) == 3 && fabs(dec - alpha * (1 - K)) < 1e-6 &&
		  predict(&m, x, &dec) == 8 && fabs(dec + alpha * (1 - K)) < 1e-6, what);
	svm_smo_free_model(&m, &mem);
}

/* ---- KKT conditions on random problems ---- */

static void
random_problem(double *x, int32_t *y, int n, int dim, int classes, double noise)
{
	for (int i = 0; i < n; i++)
	{
		int			c = i % classes;

		y[i] = 10 * c - 5;
		for (int f = 0; f < dim; f++)
			x[i * dim + f] = (f == c % dim ? 1.5 : 0.0) + noise * normal();
	}
}

/*
 * For a binary model trained on (x, y): with alpha_i = |coef| of row i (0
 * when not a support vector) and f its decision value, y_i f(x_i) >= 1 - tol
 * when alpha_i = 0, = 1 +- tol when 0 < alpha_i < C, <= 1 + tol when
 * alpha_i = C; sum y_i alpha_i = 0; 0 <= alpha_i <= C.
 */
static void
check_kkt(const SvmModel *m, const double *x, const int32_t *y, int n, double tol,
		  const char *name)
{
	int			violations = 0,
				bounded = 0,
				free_sv = 0,
				matched = 0;
	double		sum = 0,
				worst = 0;
	char		what[200];

	for (int s = 0; s < m->n_sv; s++)
	{
		sum += m->coef[s];
		if (fabs(m->coef[s]) > m->C)
			violations++;
	}
	for (int i = 0; i < n; i++)
	{
		double		alpha = 0,
					dec,
					yf;
		int			sign = y[i] == m->label[0] ? +1 : -1;

		for (int s = 0; s < m->n_sv; s++)
			if (memcmp(m->sv + (size_t) s * m->dim, x + (size_t) i * m->dim,
					   sizeof(double) * m->dim) == 0)
			{
				alpha = fabs(m->coef[s]);
				matched++;
			}
		predict(m, x + (size_t) i * m->dim, &dec);
		yf = sign * dec;
		if (alpha == 0)
			worst = fmax(worst, 1 - yf);
		else if (alpha >= m->C)
		{
			worst = fmax(worst, yf - 1);
			bounded++;
		}
		else
		{
			worst = fmax(worst, fabs(yf - 1));
			free_sv++;
		}
	}
	snprintf(what, sizeof(what),
			 "%s: KKT within %g at all %d rows (%d free, %d bounded SVs; worst %.2e), sum y alpha = 0, 0 <= alpha <= C",
			 name, tol, n, free_sv, bounded, worst);
	check(worst <= tol && violations == 0 && matched == m->n_sv &&
		  fabs(sum) < 1e-9 * m->C * n, what);
}

static void
test_kkt(void)
{
	enum
	{
		N = 300, DIM = 5
	};
	double	   *x = malloc(sizeof(double) * N * DIM);
	int32_t		y[N];
	SvmModel	m;
	SvmParams	p;

	/* overlapping classes: free and bounded support vectors */
	random_problem(x, y, N, DIM, 2, 1.0);
	for (int shrinking = 0; shrinking <= 1; shrinking++)
	{
		p = params(1.0, 0.2);
		p.shrinking = shrinking;
		check(svm_smo_train(x, y, N, DIM, &p, &mem, &m) == SVM_OK,
			  shrinking ? "random problem, shrinking: trained" : "random problem, no shrinking: trained");
		/* libsvm stops when m(alpha) - M(alpha) < eps: each row within eps */
		check_kkt(&m, x, y, N, 1.001e-3, shrinking ? "shrinking" : "no shrinking");
		svm_smo_free_model(&m, &mem);
	}
	p = params(50.0, 1.0);
	check(svm_smo_train(x, y, N, DIM, &p, &mem, &m) == SVM_OK, "C = 50, gamma = 1: trained");
	check_kkt(&m, x, y, N, 1.001e-3, "C = 50, gamma = 1");
	svm_smo_free_model(&m, &mem);
	free(x);
}

/* ---- separable toy sets ---- */

static void
test_separable(void)
{
	enum
	{
		N = 240, DIM = 4, K = 4
	};
	double		x[N * DIM];
	int32_t		y[N];
	SvmParams	p = params(10.0, 0.5);
	SvmModel	m;
	int			right = 0;
	double		dec[6];

	random_problem(x, y, N, DIM, K, 0.05);
	check(svm_smo_train(x, y, N, DIM, &p, &mem, &m) == SVM_OK && m.n_class == K &&
		  m.label[0] == -5 && m.label[3] == 25,
		  "four separable blobs: trained, labels -5, 5, 15, 25 in order");
	for (int i = 0; i < N; i++)
		right += predict(&m, x + i * DIM, dec) == y[i];
	check(right == N, "four separable blobs: every training row classified right");
	check(m.n_sv < N / 2, "four separable blobs: few support vectors");
	{
		int64_t		iters = 0;

		for (int q = 0; q < svm_n_pairs(K); q++)
			iters += m.iterations[q];
		check(iters > 0 && m.rho != NULL, "iterations are counted per pair");
	}
	svm_smo_free_model(&m, &mem);
}

/* ---- the cache changes speed, never results ---- */

static void
test_cache(void)
{
	enum
	{
		N = 400, DIM = 4
	};
	double	   *x = malloc(sizeof(double) * N * DIM);
	int32_t		y[N];
	SvmParams	big = params(1.0, 0.5),
				tiny = params(1.0, 0.5);
	SvmModel	a,
				b;
	int			same;

	random_problem(x, y, N, DIM, 3, 1.0);
	tiny.cache_bytes = 0;		/* two columns */
	check(svm_smo_train(x, y, N, DIM, &big, &mem, &a) == SVM_OK &&
		  svm_smo_train(x, y, N, DIM, &tiny, &mem, &b) == SVM_OK, "trained with 200 MB and with a two-column cache");
	same = a.n_sv == b.n_sv &&
		memcmp(a.coef, b.coef, sizeof(double) * (a.n_class - 1) * a.n_sv) == 0 &&
		memcmp(a.rho, b.rho, sizeof(double) * svm_n_pairs(a.n_class)) == 0 &&
		memcmp(a.iterations, b.iterations, sizeof(int64_t) * svm_n_pairs(a.n_class)) == 0;
	check(same, "a two-column cache gives the same model, bit for bit");
	svm_smo_free_model(&a, &mem);
	svm_smo_free_model(&b, &mem);
	free(x);
}

/* ---- libsvm's vote ---- */

static void
test_vote(void)
{
	int			votes[4];
	double		cycle[3] = {1.0, -1.0, 1.0};	/* 0 beats 1, 2 beats 0, 1 beats 2 */
	double		zero[1] = {0.0};
	double		four[6] = {-1, -1, -1, 1, 1, -1};

	check(svm_smo_vote(3, cycle, votes) == 0 && votes[0] == 1 && votes[1] == 1 && votes[2] == 1,
		  "a three-way tie goes to the first class");
	check(svm_smo_vote(2, zero, votes) == 1, "a decision value of 0 votes for the second class");
	/* (0,1) -> 1, (0,2) -> 2, (0,3) -> 3, (1,2) -> 1, (1,3) -> 1, (2,3) -> 3 */
	check(svm_smo_vote(4, four, votes) == 1 && votes[1] == 3 && votes[3] == 2,
		  "four classes: pair order (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)");
}

/* ---- errors, cancellation, memory ---- */

/* Counts the pairs reported solved. */
static void
count_solved(void *arg, const SvmProgress *p)
{
	*(int *) arg += p->finished;
}

/* Enough work for several polls: ~10^6 units (rows of iterations). */
static void
test_cancel(void)
{
	enum
	{
		N = 1500, DIM = 3
	};
	static double x[N * DIM];
	int32_t		y[N];
	SvmParams	p = params(1.0, 0.5);
	SvmModel	m;
	SvmStatus	st;
	int			solved = 0;

	random_problem(x, y, N, DIM, 3, 1.0);
	p.progress = count_solved;
	p.progress_arg = &solved;
	counter.polls = 0;
	st = svm_smo_train(x, y, N, DIM, &p, &mem, &m);
	check(st == SVM_OK && solved == 3 && counter.polls > 2,
		  "progress reports each of the 3 pairs solved; the host is polled");
	if (st == SVM_OK)
		svm_smo_free_model(&m, &mem);
	counter.polls = 0;
	counter.stop_at = 2;
	st = svm_smo_train(x, y, N, DIM, &p, &mem, &m);
	counter.stop_at = 0;
	check(st == SVM_CANCELLED && counter.polls == 2, "the host's stop ends training: SVM_CANCELLED");
	if (st == SVM_OK)
		svm_smo_free_model(&m, &mem);
	check(counter.live == 0, "after cancellation nothing is left allocated");
}

static void
test_errors(void)
{
	enum
	{
		N = 200, DIM = 3
	};
	double		x[N * DIM];
	int32_t		y[N];
	SvmParams	p = params(1.0, 0.5);
	SvmModel	m;
	int			ok_oom = 1;

	random_problem(x, y, N, DIM, 3, 1.0);
	for (int i = 0; i < N; i++)
		y[i] = 4;
	check(svm_smo_train(x, y, N, DIM, &p, &mem, &m) == SVM_TOO_FEW_CLASSES,
		  "one class: SVM_TOO_FEW_CLASSES");
	random_problem(x, y, N, DIM, 3, 1.0);
	p.C = 0;
	check(svm_smo_train(x, y, N, DIM, &p, &mem, &m) == SVM_INVALID_INPUT, "C = 0: SVM_INVALID_INPUT");
	p = params(1.0, -1.0);
	check(svm_smo_train(x, y, N, DIM, &p, &mem, &m) == SVM_INVALID_INPUT, "gamma < 0: SVM_INVALID_INPUT");
	p = params(1.0, 0.5);
	x[7] = NAN;
	check(svm_smo_train(x, y, N, DIM, &p, &mem, &m) == SVM_INVALID_INPUT, "a NaN feature: SVM_INVALID_INPUT");
	x[7] = 1e300;
	check(svm_smo_train(x, y, N, DIM, &p, &mem, &m) == SVM_INVALID_INPUT,
		  "a squared norm beyond double range: SVM_INVALID_INPUT");
	random_problem(x, y, N, DIM, 3, 1.0);

	for (long k = 1; k <= 40; k++)
	{
		SvmStatus	st;

		counter.calls = 0;
		counter.fail_at = k;
		st = svm_smo_train(x, y, N, DIM, &p, &mem, &m);
		counter.fail_at = 0;
		if (st == SVM_OK)
			svm_smo_free_model(&m, &mem);
		else if (st != SVM_NO_MEMORY)
			ok_oom = 0;
		if (counter.live != 0)
			ok_oom = 0;
	}
	check(ok_oom, "an allocation failing at any point: SVM_NO_MEMORY, nothing left allocated");
}

static void
test_scale_gamma(void)
{
	double		x[8] = {0, 0, 0, 3, 1, 2, 2, 2};	/* mean 1.25, var 1.1875 */
	double		same[4] = {2, 2, 2, 2};

	check(fabs(svm_smo_scale_gamma(x, 4, 2) - 1.0 / (2 * 1.1875)) < 1e-15,
		  "gamma 'scale' = 1 / (d var(X))");
	check(svm_smo_scale_gamma(same, 2, 2) == 1.0, "gamma 'scale' of constant features is 1");
}

/* ---- stratified folds: scikit-learn 1.2's StratifiedKFold(k) ---- */

static void
check_folds(const int32_t *label, size_t n, int k, const int32_t *want, const char *what)
{
	int32_t		fold[32];
	size_t		min_members;
	void	   *work = malloc(stratified_folds_work_size(n));
	FoldsStatus st = stratified_folds(label, n, k, fold, &min_members, work);

	check(st == FOLDS_OK && memcmp(fold, want, n * sizeof(int32_t)) == 0, what);
	free(work);
}

static void
test_folds(void)
{
	/* the folds scikit-learn gives (test_folds of _make_test_folds) */
	const int32_t l1[] = {0, 0, 0, 1, 1, 1, 0, 1, 1, 2, 2, 2};
	const int32_t f1[] = {0, 0, 1, 0, 1, 1, 2, 2, 2, 0, 1, 2};
	const int32_t l2[] = {5, -1, 5, -1, 5, 5};
	const int32_t f2[] = {0, 0, 0, 1, 1, 1};
	const int32_t l3[] = {2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1};
	const int32_t f3[] = {0, 0, 1, 2, 3, 0, 1, 1, 2, 2, 3, 3};
	const int32_t l4[] = {0, 0, 0, 1};
	const int32_t f4[] = {0, 1, 2, 0};
	int32_t		fold[4];
	size_t		min_members;
	char		work[256];

	check_folds(l1, 12, 3, f1, "folds of 0 0 0 1 1 1 0 1 1 2 2 2, k = 3");
	check_folds(l2, 6, 2, f2, "folds of 5 -1 5 -1 5 5, k = 2 (classes in order of appearance)");
	check_folds(l3, 12, 4, f3, "folds of five 2s then seven 1s, k = 4");
	check_folds(l4, 4, 3, f4, "folds of 0 0 0 1, k = 3 (a class smaller than k)");
	check(stratified_folds(l4, 4, 3, fold, &min_members, work) == FOLDS_OK && min_members == 1,
		  "the least populated class is reported");
	check(stratified_folds(l4, 4, 1, fold, &min_members, work) == FOLDS_BAD_K, "k = 1 is refused");
	check(stratified_folds(l4, 4, 5, fold, &min_members, work) == FOLDS_TOO_FEW_ROWS, "k > n is refused");
	check(stratified_folds(l2, 4, 3, fold, &min_members, work) == FOLDS_TOO_FEW_MEMBERS,
		  "k greater than every class is refused");
}

int
main(void)
{
	test_two_points(10.0);		/* alpha = 1 / (1 - K) < C: both free */
	test_two_points(0.5);		/* alpha = C: both bounded */
	test_kkt();
	test_separable();
	test_cache();
	test_vote();
	test_errors();
	test_cancel();
	test_scale_gamma();
	test_folds();
	check(counter.live == 0, "every allocation was freed");
	return tap_done();
}
