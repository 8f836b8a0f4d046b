/*
 * gp_matern.h
 *		Gaussian-process regression of one passband with a Matern-5/2 kernel, in
 *		O(n) through the kernel's state-space form: a plain-C kernel, no
 *		PostgreSQL types, no allocation.
 *
 * Model: y_i = f(t_i) + e_i, f a zero-mean GP with covariance
 *
 *	 k(dt) = A (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r),	r = |dt| / l,
 *
 * and independent noise e_i of variance var_i (dflux_i^2).  A is the
 * amplitude (variance), l the length scale, in the units of t.  This is
 * scikit-learn's GaussianProcessRegressor(kernel=ConstantKernel(A) *
 * Matern(length_scale=l, nu=2.5), alpha=dflux**2, normalize_y=False).
 *
 * State-space form (Hartikainen & Sarkka 2010): x = (f, f', f''), lambda =
 * sqrt5 / l, dx = F x dt + noise with F = [[0,1,0],[0,0,1],[-lambda^3,
 * -3 lambda^2, -3 lambda]], stationary covariance Pinf = A [[1,0,-k],[0,k,0],
 * [-k,0,lambda^4]], k = lambda^2 / 3 (the kernel's derivatives at 0), over a
 * gap d transition Phi = expm(F d) and process noise Q = Pinf - Phi Pinf
 * Phi^T, in closed forms that stay exact from d = 0 (ties) to any d (the
 * filter runs in a basis where Phi is triangular; see gp_matern.c).  A
 * Kalman filter gives the log marginal likelihood
 *
 *	 lml = -1/2 sum_i (v_i^2 / S_i + log S_i + log 2 pi)
 *
 * (v_i, S_i the innovations and their variances), equal to the dense
 * -1/2 y^T (K + diag var)^-1 y - 1/2 log det(K + diag var) - n/2 log 2 pi,
 * and forward sensitivity recursions give its exact gradient in
 * theta = (log A, log l).  A smoother gives the posterior of f.
 *
 * Cost, n observations, m query times (measured on the shipped bands, n ~ 25,
 * one core of the build machine, -O3):
 *	 gp_matern_log_likelihood	O(n): ~35 ns per observation, ~80 ns with the gradient
 *	 gp_matern_predict			O((n + m) log m) (the query times are sorted; O(n + m)
 *						when they already are)
 *	 gp_matern_predict_grid		O(n + m): ~6 us for m = 200
 *	 gp_matern_fit				O(n) per evaluation, 25 evaluations on average (median
 *						24, 99% <= 53, max 86): ~31 us a band
 *
 * Inputs: t non-decreasing (ties allowed), everything finite, var_i > 0,
 * n >= 1; amplitude and length scale finite and > 0.  On an error
 * gp_matern_log_likelihood and gp_matern_fit write nothing, gp_matern_predict's outputs are
 * unspecified.
 *
 * Every function polls host (kernel_host.h) once every KERNEL_POLL_UNITS
 * points of every pass over the data, and returns GP_INTERRUPTED when it
 * says stop; it allocates nothing, so a poll may also not return.
 */
#ifndef ANTARES_GP_MATERN_H
#define ANTARES_GP_MATERN_H

#include <stddef.h>

#include "kernel_host.h"

typedef enum GpStatus
{
	GP_OK = 0,
	GP_NOT_SORTED,				/* t decreases somewhere */
	GP_INVALID_INPUT,			/* n == 0, var <= 0, a non-finite value, a
								 * parameter <= 0 */
	GP_NUMERICAL_FAILURE,		/* a non-finite or non-positive intermediate */
	GP_INTERRUPTED				/* the host said stop */
} GpStatus;

/* Bounds of the fit: ConstantKernel's default bounds for A, the set ones for l. */
#define GP_AMPLITUDE_MIN 1e-5
#define GP_AMPLITUDE_MAX 1e5
#define GP_LENGTH_SCALE_MIN 1.0
#define GP_LENGTH_SCALE_MAX 20.0
/* The fit's starting length scale; the amplitude starts at median(dflux)^2 / 2. */
#define GP_LENGTH_SCALE_START 10.0

typedef struct GpFit
{
	double		amplitude;		/* A at the maximum */
	double		length_scale;	/* l at the maximum */
	double		lml;			/* log marginal likelihood there */
	int			iterations;		/* quasi-Newton iterations, all runs */
	int			evaluations;	/* likelihood evaluations, guard included */
} GpFit;

/*
 * Bytes of work buffer gp_matern_fit (m = 0) and gp_matern_predict or
 * gp_matern_predict_grid (m query times) need for n observations: 192 n for
 * gp_matern_fit, 56 (n + m) + 16 m for the predictions (on LP64).  The buffer must be aligned for double (malloc and palloc memory
 * is); gp_matern_log_likelihood needs none, its filter state is O(1).
 */
extern size_t gp_matern_work_size(size_t n, size_t m);

/*
 * Log marginal likelihood of y at times t with noise variances var, and if
 * grad is not NULL its gradient: grad[0] = d lml / d log A, grad[1] =
 * d lml / d log l.
 */
extern GpStatus gp_matern_log_likelihood(const double *t, const double *y,
								  const double *var, size_t n,
								  double amplitude, double length_scale,
								  double *lml, double *grad, const KernelHost *host);

/*
 * Posterior mean and standard deviation of the latent f (without the noise)
 * at the m times t_new, in any order, any value: mean[j], sd[j] belong to
 * t_new[j].  work: gp_matern_work_size(n, m) bytes.
 */
extern GpStatus gp_matern_predict(const double *t, const double *y, const double *var,
						   size_t n, double amplitude, double length_scale,
						   const double *t_new, size_t m,
						   double *mean, double *sd, void *work,
						   const KernelHost *host);

/*
 * gp_matern_predict on the grid of m times evenly spaced from t[0] to
 * t[n - 1] inclusive (numpy.linspace), written to grid: t[0] + j step, the
 * last exactly t[n - 1].  One transition serves every step between two grid
 * points with no observation between them, so most of the grid costs the
 * filter and smoother arithmetic only.  GP_NUMERICAL_FAILURE when t[n - 1]
 * - t[0] overflows.
 */
extern GpStatus gp_matern_predict_grid(const double *t, const double *y,
								const double *var, size_t n,
								double amplitude, double length_scale, size_t m,
								double *grid, double *mean, double *sd, void *work,
								const KernelHost *host);

/*
 * Maximum of the log marginal likelihood over A in [GP_AMPLITUDE_MIN,
 * GP_AMPLITUDE_MAX], l in [GP_LENGTH_SCALE_MIN, GP_LENGTH_SCALE_MAX], in
 * theta = (log A, log l):
 *	 - a bounded limited-memory quasi-Newton run after scikit-learn's L-BFGS-B
 *	   (first step along the projected gradient, the same line-search
 *	   constants), from scikit-learn's start: A = median(dflux)^2 / 2 with
 *	   dflux = sqrt(var) and numpy's median, l = GP_LENGTH_SCALE_START, both
 *	   clipped to the box; converged to a projected gradient of 1e-9 or an
 *	   lml change of 1e-12;
 *	 - a guard against other local maxima: the profile max over A at 5 length
 *	   scales spread over [1, 20] (log-spaced; two Newton steps in log A
 *	   from the first run's A each), and a run from each local maximum of
 *	   that profile that is better than the first run's end or lies in
 *	   another part of the range;
 *	 - the best end point.
 * When all times are equal l does not matter and stays at its start.
 * work: gp_matern_work_size(n, 0) bytes.
 */
extern GpStatus gp_matern_fit(const double *t, const double *y, const double *var,
					   size_t n, GpFit *fit, void *work, const KernelHost *host);

#endif							/* ANTARES_GP_MATERN_H */
