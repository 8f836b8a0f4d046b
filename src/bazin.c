/*
 * bazin.c
 *		The Bazin supernova model fitted to one band (definitions, bounds and
 *		starting point in bazin.h).
 *
 * Solver: GSL's trust-region gsl_multifit_nlinear with Levenberg-Marquardt
 * steps (trs_lm; Nielsen's update of the damping) and Moré's scaling (as in
 * MINPACK, which scipy's curve_fit runs).  Measured on the 4453 bands of the
 * shipped data with at least 6 points, against curve_fit from the same
 * start: plain LM was better on 334 bands and worse on 141, 158 bands
 * without convergence, 3.2 s in all; the geodesic-accelerated variant
 * (trs_lmaccel) better on 458, worse on 190, 130 without convergence,
 * 5.0 s; the dogleg, double-dogleg and 2D-subspace methods worse on 324-337
 * bands.  Hence plain LM.  The scaling and the linear solver are GSL's
 * methods rewritten for p = 5 (bazin_scale_more, bazin_solver_normal): the
 * step from the normal equations by Cholesky, as GSL's cholesky solver,
 * which the damping keeps positive definite where J is singular (A near 0,
 * where t0 and the times change nothing).  Against GSL's QR solver, which
 * this kernel used first: better 338 / equal 3800 / worse 134 against
 * curve_fit where QR gave 339 / 3800 / 133, 168 bands without convergence
 * where QR had 169 (different local minima by rounding, each way), at 2.7
 * times fewer instructions per fit.
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
 * n of a band is small), then per iteration O(n p^2) with p = 5 for J^T J
 * and J^T f, and per tried step one O(n) evaluation of the model (two exps
 * per point; the Jacobian reuses them); on the shipped data a median of 24
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

/*
 * The data and box the GSL callbacks see, and what the last residuals left
 * for the Jacobian: GSL asks for J only at the point whose residuals it has
 * just accepted, so the fraction g_i and the logistic s_i of each point
 * (two exps) are kept and not computed again (half the exps of a fit).
 */
typedef struct BazinData
{
	const double *t;
	const double *flux;
	const double *dflux;
	size_t		n;
	BazinBox	box;
	double	   *g;				/* n: g_i at cached_u */
	double	   *s;				/* n: s_i at cached_u */
	double		cached_u[BAZIN_N_PARAMS];
	int			cached;			/* g and s hold the values at cached_u */
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
 * The fraction g = e^{-x/tau_fall} / (1 + e^{-x/tau_rise}), x = t - t0, with
 * two exps and no overflow: with b = -x/tau_rise, for b <= 0 as written
 * (-x/tau_fall <= 0), for b > 0 as e^{-x/tau_fall - b} / (e^{-b} + 1), whose
 * exponent x (1/tau_rise - 1/tau_fall) is negative when tau_fall > tau_rise.
 * So g < 1 for every x then.  *sig gets s = logistic(b), which the Jacobian
 * needs.
 */
static double
fraction(double x, double rise, double fall, double *sig)
{
	double		b = -x / rise;
	double		e;

	if (b <= 0.0)
	{
		e = exp(b);
		*sig = e / (1.0 + e);
		return exp(-x / fall) / (1.0 + e);
	}
	e = exp(-b);
	*sig = 1.0 / (1.0 + e);
	return exp(-x / fall - b) / (1.0 + e);
}

double
bazin_model(double t, double amplitude, double baseline, double reference_time,
			double rise_time, double fall_time)
{
	double		s;

	return amplitude * fraction(t - reference_time, rise_time, fall_time, &s) + baseline;
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

/* Weighted residuals (f(t_i) - flux_i) / dflux_i; g_i and s_i kept. */
static int
residuals(const gsl_vector *u, void *arg, gsl_vector *r)
{
	BazinData  *d = arg;
	BazinParams p = params_of(u, &d->box);

	for (size_t i = 0; i < d->n; i++)
	{
		d->g[i] = fraction(d->t[i] - p.t0, p.rise, p.fall, &d->s[i]);
		r->data[i * r->stride] = (p.a * d->g[i] + p.b - d->flux[i]) / d->dflux[i];
	}
	for (int k = 0; k < BAZIN_N_PARAMS; k++)
		d->cached_u[k] = gsl_vector_get(u, k);
	d->cached = 1;
	return GSL_SUCCESS;
}

/*
 * Row i of the Jacobian with respect to (A, B, t0, tau_rise, tau_fall),
 * given g = g_i and s = logistic(-x/tau_rise) (fraction()):
 *	 df/dA = g, df/dB = 1, df/dt0 = A g (1/tau_fall - s/tau_rise),
 *	 df/dtau_rise = -A g s x / tau_rise^2, df/dtau_fall = A g x / tau_fall^2,
 * each divided by dflux_i.
 */
static void
jacobian_row(const BazinData *d, const BazinParams *p, size_t i, double g, double s,
			 double *row)
{
	double		x = d->t[i] - p->t0;
	double		ag = p->a * g;
	double		w = 1.0 / d->dflux[i];

	row[0] = g * w;
	row[1] = w;
	row[2] = ag * (1.0 / p->fall - s / p->rise) * w;
	row[3] = -ag * s * (x / p->rise) / p->rise * w;
	row[4] = ag * (x / p->fall) / p->fall * w;
}

/* Row i at p, g_i and s_i computed. */
static void
jacobian_row_at(const BazinData *d, const BazinParams *p, size_t i, double *row)
{
	double		s;
	double		g = fraction(d->t[i] - p->t0, p->rise, p->fall, &s);

	jacobian_row(d, p, i, g, s, row);
}

/*
 * The Jacobian with respect to the free parameters: the chain rule through
 * the logistic maps (tau_fall moves with tau_rise too).  g_i and s_i come
 * from the last residuals when they were taken at u (GSL's order: always).
 */
static int
jacobian(const gsl_vector *u, void *arg, gsl_matrix *J)
{
	const BazinData *d = arg;
	const BazinBox *box = &d->box;
	BazinParams p = params_of(u, box);
	double		dp[BAZIN_N_PARAMS];
	int			cached = d->cached;

	for (int k = 0; k < BAZIN_N_PARAMS; k++)
	{
		double		s = logistic(gsl_vector_get(u, k));

		dp[k] = s * (1.0 - s);
		cached &= d->cached_u[k] == gsl_vector_get(u, k);
	}
	dp[0] *= box->a_width;
	dp[1] = 1.0;
	dp[2] *= box->t0_width;
	dp[3] *= box->tau_width;
	dp[4] *= box->tau_width;
	for (size_t i = 0; i < d->n; i++)
	{
		double		row[BAZIN_N_PARAMS];
		double	   *Ji = J->data + i * J->tda;

		if (cached)
			jacobian_row(d, &p, i, d->g[i], d->s[i], row);
		else
			jacobian_row_at(d, &p, i, row);
		Ji[0] = row[0] * dp[0];
		Ji[1] = row[1];
		Ji[2] = row[2] * dp[2];
		Ji[3] = (row[3] + row[4]) * dp[3];
		Ji[4] = row[4] * dp[4];
	}
	return GSL_SUCCESS;
}

/*
 * Moré's scaling, as GSL's gsl_multifit_nlinear_scale_more (D_k the largest
 * norm of column k of J seen, 1 for a zero column), with the five column
 * norms summed in one pass over J where GSL's takes a strided,
 * overflow-safe BLAS dnrm2 per column.  A Jacobian entry is a weighted flux
 * derivative, far from the range where a plain sum of squares would
 * overflow.
 */
static void
column_norms(const gsl_matrix *J, double *norm)
{
	double		s0 = 0.0,
				s1 = 0.0,
				s2 = 0.0,
				s3 = 0.0,
				s4 = 0.0;

	for (size_t i = 0; i < J->size1; i++)
	{
		const double *r = J->data + i * J->tda;

		s0 += r[0] * r[0];
		s1 += r[1] * r[1];
		s2 += r[2] * r[2];
		s3 += r[3] * r[3];
		s4 += r[4] * r[4];
	}
	norm[0] = s0;
	norm[1] = s1;
	norm[2] = s2;
	norm[3] = s3;
	norm[4] = s4;
	for (int k = 0; k < BAZIN_N_PARAMS; k++)
		norm[k] = norm[k] > 0.0 ? sqrt(norm[k]) : 1.0;
}

static int
more_init(const gsl_matrix *J, gsl_vector *diag)
{
	double		norm[BAZIN_N_PARAMS];

	column_norms(J, norm);
	for (int k = 0; k < BAZIN_N_PARAMS; k++)
		gsl_vector_set(diag, k, norm[k]);
	return GSL_SUCCESS;
}

static int
more_update(const gsl_matrix *J, gsl_vector *diag)
{
	double		norm[BAZIN_N_PARAMS];

	column_norms(J, norm);
	for (int k = 0; k < BAZIN_N_PARAMS; k++)
		if (norm[k] > gsl_vector_get(diag, k))
			gsl_vector_set(diag, k, norm[k]);
	return GSL_SUCCESS;
}

static const gsl_multifit_nlinear_scale bazin_scale_more = {"more", more_init, more_update};

/*
 * The linear solver of the LM steps: the normal equations
 * (J^T J + mu D^2) dx = -J^T f by Cholesky, as GSL's
 * gsl_multifit_nlinear_solver_cholesky, for p = 5 in registers: J^T J in
 * one pass over J per Jacobian, a 5 x 5 Cholesky per mu, -J^T f and two
 * triangular solves per step (GSL's general code spends more in BLAS calls
 * on 5-vectors than in the sums).  mu D^2 > 0 makes the matrix positive
 * definite however singular J is (A near 0); a pivot that rounding makes
 * non-positive fails the step (GSL_EDOM: the fit's status "failed").
 */
typedef struct NormalEquations
{
	double		jtj[BAZIN_N_PARAMS][BAZIN_N_PARAMS];	/* lower triangle */
	double		l[BAZIN_N_PARAMS][BAZIN_N_PARAMS];	/* Cholesky factor, lower */
} NormalEquations;

static void *
normal_alloc(const size_t n, const size_t p)
{
	(void) n;
	return p == BAZIN_N_PARAMS ? calloc(1, sizeof(NormalEquations)) : NULL;
}

static void
normal_free(void *state)
{
	free(state);
}

static int
normal_init(const void *trust, void *state)
{
	const gsl_matrix *J = ((const gsl_multifit_nlinear_trust_state *) trust)->J;
	NormalEquations *ne = state;
	double		s00 = 0.0,
				s10 = 0.0,
				s11 = 0.0,
				s20 = 0.0,
				s21 = 0.0,
				s22 = 0.0,
				s30 = 0.0,
				s31 = 0.0,
				s32 = 0.0,
				s33 = 0.0,
				s40 = 0.0,
				s41 = 0.0,
				s42 = 0.0,
				s43 = 0.0,
				s44 = 0.0;

	/* Fifteen sums in registers: through ne->jtj, every update would be a store. */
	for (size_t i = 0; i < J->size1; i++)
	{
		const double *r = J->data + i * J->tda;

		s00 += r[0] * r[0];
		s10 += r[1] * r[0];
		s11 += r[1] * r[1];
		s20 += r[2] * r[0];
		s21 += r[2] * r[1];
		s22 += r[2] * r[2];
		s30 += r[3] * r[0];
		s31 += r[3] * r[1];
		s32 += r[3] * r[2];
		s33 += r[3] * r[3];
		s40 += r[4] * r[0];
		s41 += r[4] * r[1];
		s42 += r[4] * r[2];
		s43 += r[4] * r[3];
		s44 += r[4] * r[4];
	}
	ne->jtj[0][0] = s00;
	ne->jtj[1][0] = s10;
	ne->jtj[1][1] = s11;
	ne->jtj[2][0] = s20;
	ne->jtj[2][1] = s21;
	ne->jtj[2][2] = s22;
	ne->jtj[3][0] = s30;
	ne->jtj[3][1] = s31;
	ne->jtj[3][2] = s32;
	ne->jtj[3][3] = s33;
	ne->jtj[4][0] = s40;
	ne->jtj[4][1] = s41;
	ne->jtj[4][2] = s42;
	ne->jtj[4][3] = s43;
	ne->jtj[4][4] = s44;
	return GSL_SUCCESS;
}

static int
normal_presolve(const double mu, const void *trust, void *state)
{
	const gsl_vector *diag = ((const gsl_multifit_nlinear_trust_state *) trust)->diag;
	NormalEquations *ne = state;

	for (int a = 0; a < BAZIN_N_PARAMS; a++)
		for (int b = 0; b <= a; b++)
		{
			double		v = ne->jtj[a][b];

			for (int k = 0; k < b; k++)
				v -= ne->l[a][k] * ne->l[b][k];
			if (a != b)
				ne->l[a][b] = v / ne->l[b][b];
			else
			{
				double		dk = gsl_vector_get(diag, a);

				v += mu * dk * dk;
				if (!(v > 0.0))
					return GSL_EDOM;
				ne->l[a][a] = sqrt(v);
			}
		}
	return GSL_SUCCESS;
}

static int
normal_solve(const gsl_vector *f, gsl_vector *x, const void *trust, void *state)
{
	const gsl_matrix *J = ((const gsl_multifit_nlinear_trust_state *) trust)->J;
	NormalEquations *ne = state;
	double		g0 = 0.0,
				g1 = 0.0,
				g2 = 0.0,
				g3 = 0.0,
				g4 = 0.0;
	double		y[BAZIN_N_PARAMS];

	for (size_t i = 0; i < J->size1; i++)
	{
		const double *r = J->data + i * J->tda;
		double		fi = f->data[i * f->stride];

		g0 += r[0] * fi;
		g1 += r[1] * fi;
		g2 += r[2] * fi;
		g3 += r[3] * fi;
		g4 += r[4] * fi;
	}
	y[0] = -g0;
	y[1] = -g1;
	y[2] = -g2;
	y[3] = -g3;
	y[4] = -g4;
	/* L L^T x = y */
	for (int a = 0; a < BAZIN_N_PARAMS; a++)
	{
		for (int k = 0; k < a; k++)
			y[a] -= ne->l[a][k] * y[k];
		y[a] /= ne->l[a][a];
	}
	for (int a = BAZIN_N_PARAMS - 1; a >= 0; a--)
	{
		for (int k = a + 1; k < BAZIN_N_PARAMS; k++)
			y[a] -= ne->l[k][a] * y[k];
		y[a] /= ne->l[a][a];
	}
	for (int a = 0; a < BAZIN_N_PARAMS; a++)
		gsl_vector_set(x, a, y[a]);
	return GSL_SUCCESS;
}

/* Only gsl_multifit_nlinear_rcond asks, and the fit does not. */
static int
normal_rcond(double *rcond, void *state)
{
	(void) state;
	*rcond = NAN;
	return GSL_EUNIMPL;
}

static const gsl_multifit_nlinear_solver bazin_solver_normal = {
	"bazin-cholesky", normal_alloc, normal_init, normal_presolve, normal_solve, normal_rcond,
	normal_free
};

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
	g_peak = bazin_model(p.rise * log(p.fall / p.rise - 1.0), 1.0, 0.0, 0.0, p.rise, p.fall);
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
		jacobian_row_at(d, p, i, Jbuf + i * BAZIN_N_PARAMS);
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
	params.scale = &bazin_scale_more;
	params.solver = &bazin_solver_normal;
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
	/*
	 * The Jacobian of the error bars, 5 n (the quantile's copy in its first
	 * n), then g_i and s_i of the last residuals, n each.
	 */
	scratch = host_alloc_array(host, n, (BAZIN_N_PARAMS + 2) * sizeof(double));
	if (scratch == NULL)
		return BAZIN_NO_MEMORY;
	d.g = scratch + BAZIN_N_PARAMS * n;
	d.s = d.g + n;
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
