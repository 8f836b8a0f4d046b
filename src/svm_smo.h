/*
 * svm_smo.h
 *		C-support-vector classification with an RBF kernel, trained by SMO as
 *		libsvm (and so scikit-learn's SVC) trains it: a plain-C kernel, no
 *		PostgreSQL types; memory and interrupt polls come from the caller's host
 *		(kernel_host.h).
 *
 * Model: for every pair of classes (a, b), a < b in label order, the dual
 *
 *	 min_alpha 1/2 alpha^T Q alpha - e^T alpha,	 y^T alpha = 0,	 0 <= alpha_i <= C,
 *
 * over the rows of classes a (y = +1) and b (y = -1), Q_ij = y_i y_j K(x_i, x_j),
 * K(x, z) = exp(-gamma |x - z|^2).  Its decision value at x is
 * sum_i y_i alpha_i K(x_i, x) - rho; > 0 votes for a, otherwise for b, and the
 * class with most votes wins (a tie goes to the lowest label): libsvm's
 * one-vs-one scheme with sorted labels, as scikit-learn builds it.
 *
 * Solver (libsvm's Solver, Fan, Chen & Lin, JMLR 6 (2005) 1889-1918):
 * second-order working-set selection (WSS2), stop when the maximal violation
 * m(alpha) - M(alpha) < eps (1e-3), shrinking every min(l, 1000) iterations,
 * and an LRU cache of kernel columns stored in single precision, as libsvm
 * stores them.  Rows keep their order (class a's rows, then class b's, each
 * in input order), so that ties are broken as libsvm breaks them and the
 * solution is libsvm's to rounding.
 *
 * Cost, l rows in a pair, d features: one kernel column is O(l d) plus l
 * exp(); an iteration is O(l) (fewer once shrinking has removed bounded
 * variables) plus at most two columns when they are not cached; iterations
 * grow roughly like l to l^2 with the difficulty of the problem.  Memory:
 * O(l d) for the rows, O(l) work arrays, and at most cache_bytes of columns.
 * Prediction: O(n_sv d) per row, n_sv exp().
 */
#ifndef ANTARES_SVM_SMO_H
#define ANTARES_SVM_SMO_H

#include <stddef.h>
#include <stdint.h>

#include "kernel_host.h"

typedef enum SvmStatus
{
	SVM_OK = 0,
	SVM_INVALID_INPUT,			/* n < 1, dim < 1, C or gamma not finite > 0,
								 * a non-finite feature */
	SVM_TOO_FEW_CLASSES,		/* fewer than two distinct labels */
	SVM_NO_MEMORY,				/* the host's alloc returned NULL */
	SVM_CANCELLED				/* the host said stop */
} SvmStatus;

/* Where the solver is, passed to the progress callback. */
typedef struct SvmProgress
{
	int			pair;			/* 0 .. n_pairs - 1 */
	int			n_pairs;
	int32_t		label_a;		/* the pair's classes */
	int32_t		label_b;
	int			l;				/* rows in the pair */
	int			active_size;	/* rows not shrunk */
	int64_t		iterations;		/* so far, in this pair */
	int			finished;		/* 1 once the pair is solved: then n_sv, rho, obj */
	int			at_limit;		/* with finished: stopped at svm_smo_max_iterations(l),
								 * not at eps (libsvm's "reaching max number of
								 * iterations"); the pair's solution is then approximate */
	int			n_sv;
	double		rho;
	double		obj;
} SvmProgress;

/*
 * Progress reports, data only: called during training once per iteration
 * and per kernel column of a gradient reconstruction, and once per pair
 * when it is solved.  It may also never return (longjmp): the solver holds
 * no resources but the host's memory.  Stopping is the host's (its poll).
 */
typedef void (*SvmCallback) (void *arg, const SvmProgress *progress);

typedef struct SvmParams
{
	double		C;				/* > 0 */
	double		gamma;			/* > 0 */
	double		eps;			/* stopping tolerance, libsvm's 1e-3 */
	size_t		cache_bytes;	/* kernel-column cache; at least two columns are kept */
	int			shrinking;		/* libsvm's -h 1 */
	SvmCallback progress;		/* may be NULL */
	void	   *progress_arg;
} SvmParams;

#define SVM_DEFAULT_EPS 1e-3
#define SVM_DEFAULT_CACHE_BYTES ((size_t) 200 << 20)	/* scikit-learn's 200 MB */

/*
 * A trained model, libsvm's layout.  Support vectors are grouped by class in
 * label order, each group in input order.  coef is (n_class - 1) x n_sv,
 * row-major: for the pair (a, b), the coefficients y_i alpha_i of a's
 * support vectors are in row b - 1, those of b's in row a.  Pair p runs
 * (0,1), (0,2), ..., (0,k-1), (1,2), ...
 */
typedef struct SvmModel
{
	int			n_class;
	int			dim;
	int			n_sv;
	double		C;
	double		gamma;
	int32_t    *label;			/* n_class, strictly increasing */
	int32_t    *n_sv_class;		/* n_class, summing to n_sv */
	int32_t    *count;			/* training rows per class */
	double	   *rho;			/* n_pairs */
	int64_t    *iterations;		/* n_pairs */
	double	   *coef;			/* (n_class - 1) * n_sv */
	double	   *sv;				/* n_sv * dim, row-major */
} SvmModel;

/*
 * libsvm's bound on a pair's iterations: max(10^7, 100 l), at most INT_MAX.
 * A pair that reaches it (a huge C on classes that overlap, whose
 * iterations grow with C) stops there, as libsvm stops, with the rho and
 * alphas it has; SvmProgress.at_limit says so.
 */
static inline int64_t
svm_smo_max_iterations(int l)
{
	int64_t		m = l > INT32_MAX / 100 ? INT32_MAX : (int64_t) 100 * l;

	return m > 10000000 ? m : 10000000;
}

static inline int
svm_n_pairs(int n_class)
{
	return n_class * (n_class - 1) / 2;
}

/*
 * Trains on n rows x (row-major, n * dim) with labels y.  On SVM_OK *model's
 * arrays come from the host (svm_smo_free_model returns them); on an error
 * nothing is left allocated.  Polls the host once every KERNEL_POLL_UNITS
 * units of work, an iteration or a column of a gradient reconstruction
 * counting its active rows times dim (the cost of a kernel column).
 */
extern SvmStatus svm_smo_train(const double *x, const int32_t *y, int n, int dim,
							   const SvmParams *params, const KernelHost *host,
							   SvmModel *model);
extern void svm_smo_free_model(SvmModel *model, const KernelHost *host);

/*
 * scikit-learn's gamma = 'scale': 1 / (dim * var(x)) over all n * dim
 * values (population variance), 1 when the variance is 0.
 */
extern double svm_smo_scale_gamma(const double *x, int n, int dim);

/*
 * Decision values (n_pairs of them, libsvm's pair order and sign) and the
 * index of the predicted class, for one row x of dim values.  svt is the
 * support vectors feature-major (dim x n_sv, svm_smo_transpose_sv), work
 * holds n_sv doubles and votes n_class ints.  O(n_sv dim).
 */
extern int	svm_smo_decision(const SvmModel *model, const double *svt, const double *x,
							 double *dec, double *work, int *votes);
extern void svm_smo_transpose_sv(const SvmModel *model, double *svt);

/* libsvm's vote on decision values: > 0 votes for the pair's first class. */
extern int	svm_smo_vote(int n_class, const double *dec, int *votes);

#endif							/* ANTARES_SVM_SMO_H */
