/*
 * bazin.c
 *		The Bazin supernova model fitted to one band (definitions, bounds and
 *		starting point in bazin.h).
 *
 * Solver: GSL's trust-region gsl_multifit_nlinear with Levenberg-Marquardt
 * steps (trs_lm; Nielsen's update of the damping), Moré's scaling (as in
 * MINPACK, which scipy's curve_fit runs) and a QR solver.  QR rather than
 * Cholesky because the Jacobian is singular wherever A is small (t0 and the
 * times then change nothing), and QR keeps stepping there.  Measured on the
 * 4453 bands of the shipped data with at least 6 points, against curve_fit
 * from the same start: plain LM was better on 334 bands and worse on 141,
 * 158 bands without convergence, 3.2 s in all; the geodesic-accelerated
 * variant (trs_lmaccel) better on 458, worse on 190, 130 without
 * convergence, 5.0 s; the dogleg, double-dogleg and 2D-subspace methods
 * worse on 324-337 bands.  Hence plain LM.
 *
 * Convergence: GSL's small-gradient test (gtol 1e-10: max_k |g_k| max(|u_k|, 1)
 * <= 1e-10 max(chi2 / 2, 1)); or chi2 lowered by at most 1e-10 of itself in
 * each of 3 iterations in a row (MINPACK's ftol test, which GSL lacks, 150
 * times tighter than curve_fit's 1.49e-8: without it a fit crawling towards a
 * bound, where the logistic map flattens, takes hundreds of iterations to
 * gain nothing); or no step lowering chi2 at all (GSL_ENOPROG: a minimum to
 * rounding).  Then, if chi2 went down since the start, the solver starts
 * again from there, until a run gains nothing: Moré's scaling keeps the
 * largest column norm of the Jacobian seen, so once a logistic map flattens
 * its parameter hardly moves, and a fresh start measures the columns anew
 * (on the shipped data this ends 8 fits crawling along a valley, chi2 up to
 * 1.4e-6 above curve_fit's, at 7% more iterations in all).  At most
 * BAZIN_MAX_ITER iterations, restarts included.  Not GSL's small-step test:
 * it compares the last accepted step with u, and a step that Nielsen's
 * damping has made tiny passes it long before the minimum (a 6-point band
 * of the shipped data stopped there after 2 iterations, chi2 101.5 where
 * the minimum is 43.8).
 *
 * Cost: O(n) for the start (one copy sorted for the 10% quantile: O(n log n),
 * n of a band is small), then per iteration O(n p^2) with p = 5 for the QR
 * of the n x 5 Jacobian, and a few O(n) evaluations of the model (each an
 * exp and a log1p per point); on the shipped data a median of 24
 * iterations, 96 at the 90th percentile.  The error bars are one more
 * Jacobian and a QR.
 *
 * GSL's error handler aborts by default: it is switched off for the call and
 * restored, so that every GSL failure becomes a status.  GSL's memory is its
 * own (malloc); it is freed on every path, and nothing leaves this file by a
 * non-local exit while it is held (the host's poll must return, as
 * pg_kernel_host_returning's does).
 */
#include "bazin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>

#define GTOL		1e-10
#define FTOL		1e-10
#define FTOL_ITERATIONS 3
#define COVAR_EPSREL 1e-10
#define START_QUANTILE 0.1

/* Where each parameter may go: p = lo + width * logistic(u). */
typedef struct BazinBox
{
	double		a_width;		/* A in (0, a_width) */
	double		t0_lo,
				t0_width;
	double		tau_width;		/* tau_rise - TAU_MIN and tau_fall - tau_rise - TAU_MIN */
} BazinBox;

/* The data and box the GSL callbacks see. */
typedef struct BazinData
{
	const double *t;
	const double *flux;
	const double *dflux;
	size_t		n;
	BazinBox	box;
} BazinData;

/* Physical parameters: A, B, t0, tau_rise, tau_fall. */
typedef struct BazinParams
{
	double		a,
				b,
				t0,
				rise,
				fall;
} BazinParams;

const char *
bazin_outcome_name(BazinOutcome outcome)
{
	switch (outcome)
	{
		case BAZIN_CONVERGED:
			return "converged";
		case BAZIN_TOO_FEW_POINTS:
			return "too_few_points";
		case BAZIN_TOO_FEW_TIMES:
			return "too_few_times";
		case BAZIN_CONSTANT_FLUX:
			return "constant_flux";
		case BAZIN_MAX_ITERATIONS:
			return "max_iterations";
		case BAZIN_FAILED:
			break;
	}
	return "failed";
}

/* log(1 + e^x) without overflow or loss for large |x|. */
static double
softplus(double x)
{
	return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* 1 / (1 + e^-x) without overflow. */
static double
logistic(double x)
{
	if (x >= 0.0)
		return 1.0 / (1.0 + exp(-x));
	else
	{
		double		e = exp(x);

		return e / (1.0 + e);
	}
}

static double
logit(double q)
{
	return log(q / (1.0 - q));
}

/*
 * The fraction g = e^{-x/tau_fall} / (1 + e^{-x/tau_rise}), x = t - t0, in
 * logs: ln g = -x/tau_fall - softplus(-x/tau_rise), finite for every x, and
 * g < 1 when tau_fall > tau_rise.  *sig gets logistic(-x/tau_rise), the
 * derivative of that softplus.
 */
static double
fraction(double x, double rise, double fall, double *sig)
{
	double		b = -x / rise;

	if (sig)
		*sig = logistic(b);
	return exp(-x / fall - softplus(b));
}

double
bazin_model(double t, double amplitude, double baseline, double reference_time,
			double rise_time, double fall_time)
{
	return amplitude * fraction(t - reference_time, rise_time, fall_time, NULL) + baseline;
}

static BazinParams
params_of(const gsl_vector *u, const BazinBox *box)
{
	BazinParams p;

	p.a = box->a_width * logistic(gsl_vector_get(u, 0));
	p.b = gsl_vector_get(u, 1);
	p.t0 = box->t0_lo + box->t0_width * logistic(gsl_vector_get(u, 2));
	p.rise = BAZIN_TAU_MIN + box->tau_width * logistic(gsl_vector_get(u, 3));
	p.fall = p.rise + BAZIN_TAU_MIN + box->tau_width * logistic(gsl_vector_get(u, 4));
	return p;
}

/* The inverse of params_of for a point strictly inside the box. */
static void
free_params(const BazinParams *p, const BazinBox *box, double *u)
{
	u[0] = logit(p->a / box->a_width);
	u[1] = p->b;
	u[2] = logit((p->t0 - box->t0_lo) / box->t0_width);
	u[3] = logit((p->rise - BAZIN_TAU_MIN) / box->tau_width);
	u[4] = logit((p->fall - p->rise - BAZIN_TAU_MIN) / box->tau_width);
}

/* Weighted residuals (f(t_i) - flux_i) / dflux_i. */
static int
residuals(const gsl_vector *u, void *arg, gsl_vector *r)
{
	const BazinData *d = arg;
	BazinParams p = params_of(u, &d->box);

	for (size_t i = 0; i < d->n; i++)
		gsl_vector_set(r, i, (p.a * fraction(d->t[i] - p.t0, p.rise, p.fall, NULL) + p.b
							  - d->flux[i]) / d->dflux[i]);
	return GSL_SUCCESS;
}

/*
 * Row i of the Jacobian with respect to (A, B, t0, tau_rise, tau_fall):
 * with ln g = -x/tau_fall - softplus(-x/tau_rise) and s = logistic(-x/tau_rise),
 *	 df/dA = g, df/dB = 1, df/dt0 = A g (1/tau_fall - s/tau_rise),
 *	 df/dtau_rise = -A g s x / tau_rise^2, df/dtau_fall = A g x / tau_fall^2,
 * each divided by dflux_i.
 */
static void
jacobian_row(const BazinData *d, const BazinParams *p, size_t i, double *row)
{
	double		x = d->t[i] - p->t0;
	double		s;
	double		g = fraction(x, p->rise, p->fall, &s);
	double		ag = p->a * g;
	double		w = 1.0 / d->dflux[i];

	row[0] = g * w;
	row[1] = w;
	row[2] = ag * (1.0 / p->fall - s / p->rise) * w;
	row[3] = -ag * s * (x / p->rise) / p->rise * w;
	row[4] = ag * (x / p->fall) / p->fall * w;
}

/*
 * The Jacobian with respect to the free parameters: the chain rule through
 * the logistic maps (tau_fall moves with tau_rise too).
 */
static int
jacobian(const gsl_vector *u, void *arg, gsl_matrix *J)
{
	const BazinData *d = arg;
	const BazinBox *box = &d->box;
	BazinParams p = params_of(u, box);
	double		dp[BAZIN_N_PARAMS];

	for (int k = 0; k < BAZIN_N_PARAMS; k++)
	{
		double		s = logistic(gsl_vector_get(u, k));

		dp[k] = s * (1.0 - s);
	}
	dp[0] *= box->a_width;
	dp[1] = 1.0;
	dp[2] *= box->t0_width;
	dp[3] *= box->tau_width;
	dp[4] *= box->tau_width;
	for (size_t i = 0; i < d->n; i++)
	{
		double		row[BAZIN_N_PARAMS];

		jacobian_row(d, &p, i, row);
		gsl_matrix_set(J, i, 0, row[0] * dp[0]);
		gsl_matrix_set(J, i, 1, row[1]);
		gsl_matrix_set(J, i, 2, row[2] * dp[2]);
		gsl_matrix_set(J, i, 3, (row[3] + row[4]) * dp[3]);
		gsl_matrix_set(J, i, 4, row[4] * dp[4]);
	}
	return GSL_SUCCESS;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* numpy.quantile(flux, q) (linear interpolation) of sorted values. */
static double
quantile_sorted(const double *s, size_t n, double q)
{
	double		h = (double) (n - 1) * q;
	size_t		lo = (size_t) floor(h);

	if (lo + 1 >= n)
		return s[n - 1];
	return s[lo] + (h - (double) lo) * (s[lo + 1] - s[lo]);
}

/*
 * The box and the starting point (bazin.h).  scratch holds n doubles.
 * Returns the outcome when the band cannot be fitted, else BAZIN_CONVERGED.
 */
static BazinOutcome
start(const BazinData *d, double *scratch, BazinBox *box, double *u0)
{
	size_t		n = d->n;
	size_t		imax = 0,
				distinct = 1;
	double		fmin = d->flux[0];
	double		margin,
				range,
				g_peak;
	BazinParams p;

	for (size_t i = 1; i < n; i++)
	{
		if (d->flux[i] > d->flux[imax])
			imax = i;
		fmin = fmin < d->flux[i] ? fmin : d->flux[i];
		if (d->t[i] != d->t[i - 1])
			distinct++;
	}
	if (distinct < BAZIN_N_PARAMS)
		return BAZIN_TOO_FEW_TIMES;
	range = d->flux[imax] - fmin;
	if (range == 0.0)
		return BAZIN_CONSTANT_FLUX;

	margin = d->t[n - 1] - d->t[0];
	if (!(margin >= BAZIN_MIN_MARGIN))
		margin = BAZIN_MIN_MARGIN;
	box->a_width = 100.0 * range;
	box->t0_lo = d->t[0] - margin;
	box->t0_width = (d->t[n - 1] + margin) - box->t0_lo;
	box->tau_width = 10.0 * margin;
	if (!isfinite(box->a_width) || !isfinite(box->t0_width) || !isfinite(box->tau_width))
		return BAZIN_FAILED;

	memcpy(scratch, d->flux, n * sizeof(double));
	qsort(scratch, n, sizeof(double), cmp_double);
	p.b = quantile_sorted(scratch, n, START_QUANTILE);
	p.rise = BAZIN_START_RISE;
	p.fall = BAZIN_START_FALL;
	p.t0 = d->t[imax] - p.rise * log(p.fall / p.rise - 1.0);
	g_peak = fraction(p.rise * log(p.fall / p.rise - 1.0), p.rise, p.fall, NULL);
	p.a = d->flux[imax] - p.b;
	if (!(p.a >= range / 100.0))
		p.a = range / 100.0;
	p.a /= g_peak;
	free_params(&p, box, u0);
	for (int k = 0; k < BAZIN_N_PARAMS; k++)
		if (!isfinite(u0[k]))
			return BAZIN_FAILED;
	return BAZIN_CONVERGED;
}

/*
 * The error bars: J with respect to the physical parameters, its columns
 * scaled to unit norm (so that GSL's rank test at COVAR_EPSREL does not
 * depend on the parameters' units), (J^T J)^-1, scaled back.  NaN for all
 * when a column is zero or dependent.  Jbuf holds 5 n doubles.
 */
static void
errors(const BazinData *d, const BazinParams *p, double *Jbuf, double *err)
{
	gsl_matrix_view J = gsl_matrix_view_array(Jbuf, d->n, BAZIN_N_PARAMS);
	double		covbuf[BAZIN_N_PARAMS * BAZIN_N_PARAMS];
	gsl_matrix_view cov = gsl_matrix_view_array(covbuf, BAZIN_N_PARAMS, BAZIN_N_PARAMS);
	double		norm[BAZIN_N_PARAMS] = {0};
	int			ok = 1;

	for (size_t i = 0; i < d->n; i++)
	{
		jacobian_row(d, p, i, Jbuf + i * BAZIN_N_PARAMS);
		for (int k = 0; k < BAZIN_N_PARAMS; k++)
			norm[k] += Jbuf[i * BAZIN_N_PARAMS + k] * Jbuf[i * BAZIN_N_PARAMS + k];
	}
	for (int k = 0; k < BAZIN_N_PARAMS; k++)
	{
		norm[k] = sqrt(norm[k]);
		ok &= norm[k] > 0.0 && isfinite(norm[k]);
	}
	if (ok)
	{
		for (size_t i = 0; i < d->n; i++)
			for (int k = 0; k < BAZIN_N_PARAMS; k++)
				Jbuf[i * BAZIN_N_PARAMS + k] /= norm[k];
		ok = gsl_multifit_nlinear_covar(&J.matrix, COVAR_EPSREL, &cov.matrix) == GSL_SUCCESS;
	}
	for (int k = 0; k < BAZIN_N_PARAMS; k++)
	{
		/* GSL zeroes the row and column of a dependent parameter. */
		double		c = ok ? covbuf[k * BAZIN_N_PARAMS + k] : 0.0;

		err[k] = c > 0.0 ? sqrt(c) / norm[k] : NAN;
	}
	for (int k = 0; k < BAZIN_N_PARAMS; k++)
		if (isnan(err[k]))
			for (int j = 0; j < BAZIN_N_PARAMS; j++)
				err[j] = NAN;
}

/* Every number of a fit NaN: the outcome says why. */
static void
clear_fit(BazinFit *fit, BazinOutcome outcome)
{
	size_t		n = fit->n;
	int			iterations = fit->iterations;

	fit->amplitude = fit->baseline = fit->reference_time = fit->rise_time = fit->fall_time = NAN;
	fit->amplitude_err = fit->baseline_err = fit->reference_time_err = NAN;
	fit->rise_time_err = fit->fall_time_err = NAN;
	fit->chi2 = fit->reduced_chi2 = fit->peak_time = fit->peak_flux = NAN;
	fit->n = n;
	fit->iterations = iterations;
	fit->outcome = outcome;
}

/* ||r||^2 */
static double
sum_squares(const gsl_vector *r)
{
	double		c;

	gsl_blas_ddot(r, r, &c);
	return c;
}

/* The outputs at the optimum u; BAZIN_FAILED unless every one is finite. */
static BazinOutcome
finish(const BazinData *d, const gsl_vector *u, const gsl_vector *r, double *Jbuf,
	   BazinFit *fit)
{
	BazinParams p = params_of(u, &d->box);
	double		err[BAZIN_N_PARAMS];
	double		chi2 = sum_squares(r);

	errors(d, &p, Jbuf, err);
	fit->amplitude = p.a;
	fit->baseline = p.b;
	fit->reference_time = p.t0;
	fit->rise_time = p.rise;
	fit->fall_time = p.fall;
	fit->amplitude_err = err[0];
	fit->baseline_err = err[1];
	fit->reference_time_err = err[2];
	fit->rise_time_err = err[3];
	fit->fall_time_err = err[4];
	fit->chi2 = chi2;
	fit->reduced_chi2 = chi2 / (double) (d->n - BAZIN_N_PARAMS);
	/* tau_fall / tau_rise - 1 from the difference, exact to the last bit. */
	fit->peak_time = p.t0 + p.rise * log((p.fall - p.rise) / p.rise);
	fit->peak_flux = bazin_model(fit->peak_time, p.a, p.b, p.t0, p.rise, p.fall);
	if (!(isfinite(p.a) && isfinite(p.b) && isfinite(p.t0) && isfinite(p.rise) &&
		  isfinite(p.fall) && isfinite(chi2) && isfinite(fit->peak_time) &&
		  isfinite(fit->peak_flux)))
		return BAZIN_FAILED;
	return BAZIN_CONVERGED;
}

/*
 * The iterations: GSL's workspace is allocated here and freed on every path.
 * Returns BAZIN_INTERRUPTED or BAZIN_NO_MEMORY as a status, anything else
 * through fit->outcome.
 */
static BazinStatus
solve(const BazinData *d, double *u0, double *Jbuf, BazinFit *fit, const KernelHost *host)
{
	gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
	gsl_multifit_nlinear_fdf fdf;
	gsl_multifit_nlinear_workspace *w;
	gsl_vector_view x0 = gsl_vector_view_array(u0, BAZIN_N_PARAMS);
	BazinOutcome outcome = BAZIN_MAX_ITERATIONS;
	double		chi2,
				start_chi2;
	int			flat = 0;
	int			status;

	params.trs = gsl_multifit_nlinear_trs_lm;
	params.scale = gsl_multifit_nlinear_scale_more;
	params.solver = gsl_multifit_nlinear_solver_qr;
	memset(&fdf, 0, sizeof(fdf));
	fdf.f = residuals;
	fdf.df = jacobian;
	fdf.n = d->n;
	fdf.p = BAZIN_N_PARAMS;
	fdf.params = (void *) d;

	w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, d->n, BAZIN_N_PARAMS);
	if (w == NULL)
		return BAZIN_NO_MEMORY;
	status = gsl_multifit_nlinear_init(&x0.vector, &fdf, w);
	chi2 = start_chi2 = sum_squares(gsl_multifit_nlinear_residual(w));
	for (int iter = 0; (status == GSL_SUCCESS || status == GSL_ENOPROG) && iter < BAZIN_MAX_ITER;
		 iter++)
	{
		double		prev = chi2;
		int			info;

		/* An iteration is O(n p^2) work: a poll (a flag test) each is noise. */
		if (host_poll(host))
		{
			gsl_multifit_nlinear_free(w);
			return BAZIN_INTERRUPTED;
		}
		status = gsl_multifit_nlinear_iterate(w);
		fit->iterations = iter + 1;
		if (status != GSL_SUCCESS && status != GSL_ENOPROG)
			break;
		chi2 = sum_squares(gsl_multifit_nlinear_residual(w));
		flat = prev - chi2 <= FTOL * prev ? flat + 1 : 0;
		if (status == GSL_ENOPROG || flat == FTOL_ITERATIONS ||
			(gsl_multifit_nlinear_test(0.0, GTOL, 0.0, &info, w) == GSL_SUCCESS && info != 0))
		{
			if (!(start_chi2 - chi2 > FTOL * start_chi2))
			{
				outcome = BAZIN_CONVERGED;
				break;
			}
			/* A restart from here (see above). */
			memcpy(u0, gsl_multifit_nlinear_position(w)->data, sizeof(double) * BAZIN_N_PARAMS);
			status = gsl_multifit_nlinear_init(&x0.vector, &fdf, w);
			start_chi2 = chi2;
			flat = 0;
		}
	}
	if (status == GSL_ENOMEM)
	{
		gsl_multifit_nlinear_free(w);
		return BAZIN_NO_MEMORY;
	}
	else if (status != GSL_SUCCESS && status != GSL_ENOPROG)
		outcome = BAZIN_FAILED;
	if (outcome == BAZIN_CONVERGED)
		outcome = finish(d, gsl_multifit_nlinear_position(w),
						 gsl_multifit_nlinear_residual(w), Jbuf, fit);
	gsl_multifit_nlinear_free(w);
	if (outcome != BAZIN_CONVERGED)
		clear_fit(fit, outcome);
	fit->outcome = outcome;
	return BAZIN_OK;
}

BazinStatus
bazin_fit(const double *t, const double *flux, const double *dflux, size_t n,
		  BazinFit *fit, const KernelHost *host)
{
	BazinData	d = {.t = t, .flux = flux, .dflux = dflux, .n = n};
	double		u0[BAZIN_N_PARAMS];
	double	   *scratch;
	BazinOutcome outcome;
	BazinStatus status;
	gsl_error_handler_t *handler;

	fit->n = n;
	fit->iterations = 0;
	if (n < BAZIN_MIN_POINTS)
	{
		clear_fit(fit, BAZIN_TOO_FEW_POINTS);
		return BAZIN_OK;
	}
	/* The Jacobian of the error bars, 5 n, and the quantile's copy in its first n. */
	scratch = host_alloc_array(host, n, BAZIN_N_PARAMS * sizeof(double));
	if (scratch == NULL)
		return BAZIN_NO_MEMORY;
	outcome = start(&d, scratch, &d.box, u0);
	if (outcome != BAZIN_CONVERGED)
	{
		host_free(host, scratch);
		clear_fit(fit, outcome);
		return BAZIN_OK;
	}
	handler = gsl_set_error_handler_off();
	status = solve(&d, u0, scratch, fit, host);
	gsl_set_error_handler(handler);
	host_free(host, scratch);
	return status;
}
