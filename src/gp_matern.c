/*
 * gp_matern.c
 *		Matern-5/2 Gaussian-process regression in state-space form (see
 *		gp_matern.h for the model and the costs).
 *
 * State.  The filter runs on w = (f, f + f'/lambda, f + 2 f'/lambda +
 * f''/lambda^2), the Jordan basis of the model's drift, in which the model
 * depends on lambda only through the scaled gap x = lambda d and every
 * matrix is simple:
 *
 *	 the drift is lambda (J - I), J the upper shift ([[0,1,0],[0,0,1],[0,0,0]]),
 *	 Phi(x) = exp(-x) T(x),  T(x) = I + J x + J^2 x^2 / 2 (unit upper
 *			  triangular Toeplitz: 1, x, x^2/2),
 *	 Pinf = A C0,  C0 = [[1, 1, 2/3], [1, 4/3, 4/3], [2/3, 4/3, 8/3]],
 *	 Q(x) = A G(x),  G(x) = C0 - Phi C0 Phi^T.
 *
 * f is the first component, so the observation picks w_0 as in the usual
 * basis (f, f', f'') and the likelihood and the posterior of f are those of
 * that model; but Phi P Phi^T costs 12 multiply-adds and a scaling instead
 * of 45.  The white noise enters along e3, so G'(x) = 16/3 phi3 phi3^T with
 * phi3 = Phi e3 = exp(-x) (x^2/2, x, 1): every entry of G(x) = 16/3
 * int_0^x phi3 phi3^T ds is a positive multiple of one gamma_k(x) = int_0^x
 * s^k exp(-2s) ds, k = 0..4.  Those are computed without cancellation (a
 * series for gamma_4 at small x, the closed form at larger x, then the
 * downward recurrence gamma_{k-1} = (2 gamma_k + x^k exp(-2x)) / k, a sum
 * of positive terms), so Q is accurate to rounding in every entry, from
 * Q ~ x^5 at tiny gaps to Q = Pinf at huge ones, instead of the difference
 * Pinf - Phi Pinf Phi^T.
 *
 * Gradient.  In theta = (log A, log l): d/d log A leaves Phi alone and scales
 * Pinf and Q; d/d log l changes only x, dx/d log l = -x, so dPhi = -x (J - I)
 * Phi and dQ = -x A G'(x); the initial covariance A C0 does not depend on l.
 * The sensitivities of the filter's mean and covariance are propagated
 * alongside them (forward mode).
 *
 * Update.  With p = P e1 and S = p_0 + var, the covariance update is the
 * Joseph form worked out for H = e1: the first row and column scale by
 * var / S (so the variance of f stays >= 0), the rest is the Schur
 * complement P_ij - p_i p_j / S; symmetric by construction (only the upper
 * triangle is stored).  A predicted variance of f below 0, which only
 * rounding can give, counts as 0.
 *
 * Smoother.  Predictions use the modified Bryson-Frazier form (the
 * Durbin-Koopman state smoother): a backward pass of an adjoint vector r and
 * matrix W, needing no covariance inverse, so ties (Phi = I, Q = 0) and
 * near-singular covariances are harmless:
 *	 at an observation		r <- e1 v/S + (I - K e1^T)^T r,
 *							W <- e1 e1^T / S + (I - K e1^T)^T W (I - K e1^T)
 *	 at a query point		mean = m0 + (P r)_0, var = P00 - (P W P)_00
 *							(m, P the filter's prediction there)
 *	 between points			r <- Phi^T r, W <- Phi^T W Phi.
 */
#include "gp_matern.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SQRT5		2.23606797749978969640917366873128
#define LOG_2PI		1.83787706640934548356013567236413

/* Past this scaled gap exp(-x) and exp(-2x) x^4 are zero in double. */
#define X_FAR		800.0

/* Packed symmetric 3x3 matrices: the upper triangle by rows. */
enum
{
	S00, S01, S02, S11, S12, S22
};

static const double C0[6] = {1.0, 1.0, 2.0 / 3.0, 4.0 / 3.0, 4.0 / 3.0, 8.0 / 3.0};

/* Phi(x) = e T(x) with T's entries 1, x, h = x^2/2; far: Phi = 0, G = C0 */
typedef struct Transition
{
	double		e,
				x,
				h;
	double		g[6];			/* G(x) = Q / A */
	double		xgd[6];			/* x G'(x), when asked for */
} Transition;

/* 5! / (5 + i)!, the coefficients of the series of gamma_4 */
static const double GAMMA4_SERIES[24] = {
	1.0, 0.16666666666666666, 0.023809523809523808, 0.002976190476190476,
	0.00033068783068783067, 3.3068783068783071e-05, 3.0062530062530061e-06,
	2.5052108385441718e-07, 1.9270852604185938e-08, 1.3764894717275669e-09,
	9.1765964781837796e-11, 5.7353727988648623e-12, 3.373748705214625e-13,
	1.8743048362303472e-14, 9.8647622959491963e-16, 4.932381147974598e-17,
	2.3487529276069512e-18, 1.0676149670940688e-19, 4.6418042047568207e-21,
	1.9340850853153419e-22, 7.7363403412613677e-24, 2.9755155158697569e-25,
	1.1020427836554655e-26, 3.9358670844838056e-28
};

#define THIRD		0.33333333333333333333333333333333

/*
 * gamma_k(x) = int_0^x s^k exp(-2s) ds for k = 0..4, e2 = exp(-2x).
 * gamma_4 = 3/4 P(5, y), y = 2x (the regularised incomplete gamma function):
 * for y <= 2 its series exp(-y) y^5/5! sum_i 5! y^i / (5 + i)!, cut where the
 * terms fall below 1e-17 of the sum and evaluated as four interleaved Horner
 * chains in y^4; else 1 - exp(-y) T_4(y) with P(5, y) >= 0.05.  Either way
 * gamma_4 is within a few units of rounding, and so are the others.
 */
static void
gammas(double x, double e2, double gam[5])
{
	double		y = 2.0 * x;
	double		x2 = x * x;

	if (y <= 2.0)
	{
		int			rows = y <= 0.0625 ? 2 : y <= 0.25 ? 3 : y <= 1.0 ? 4 : 6;
		const double *c = GAMMA4_SERIES + 4 * (rows - 1);
		double		y2 = y * y,
					y4 = y2 * y2;
		double		h0 = c[0],
					h1 = c[1],
					h2 = c[2],
					h3 = c[3];

		for (int r = rows - 1; r > 0; r--)
		{
			c -= 4;
			h0 = h0 * y4 + c[0];
			h1 = h1 * y4 + c[1];
			h2 = h2 * y4 + c[2];
			h3 = h3 * y4 + c[3];
		}
		gam[4] = (0.75 / 120.0) * e2 * (y4 * y) * ((h0 + y * h1) + y2 * (h2 + y * h3));
	}
	else
		gam[4] = 0.75 * (1.0 - e2 * (1.0 + y * (1.0 + 0.5 * y * (1.0 + THIRD * y * (1.0 + 0.25 * y)))));

	gam[3] = 0.5 * gam[4] + 0.25 * x2 * x2 * e2;
	gam[2] = THIRD * (2.0 * gam[3] + x2 * x * e2);
	gam[1] = gam[2] + 0.5 * x2 * e2;
	gam[0] = 2.0 * gam[1] + x * e2;
}

/* Phi(x) for a scaled gap x > 0; true unless x is so large that Phi = 0. */
static bool
transition_phi(double x, Transition *tr)
{
	if (!(x < X_FAR))
	{
		tr->e = tr->x = tr->h = 0.0;
		return false;
	}
	tr->e = exp(-x);
	tr->x = x;
	tr->h = 0.5 * x * x;
	return true;
}

/* Phi(x), G(x) and, if grad, x G'(x), for a scaled gap x > 0. */
static void
transition(double x, bool grad, Transition *tr)
{
	double		gam[5],
				e2;

	if (!transition_phi(x, tr))
	{
		memcpy(tr->g, C0, sizeof(C0));
		memset(tr->xgd, 0, sizeof(tr->xgd));
		return;
	}
	e2 = tr->e * tr->e;
	gammas(x, e2, gam);
	tr->g[S00] = (4.0 / 3.0) * gam[4];
	tr->g[S01] = (8.0 / 3.0) * gam[3];
	tr->g[S02] = (8.0 / 3.0) * gam[2];
	tr->g[S11] = (16.0 / 3.0) * gam[2];
	tr->g[S12] = (16.0 / 3.0) * gam[1];
	tr->g[S22] = (16.0 / 3.0) * gam[0];

	if (grad)
	{
		double		c = (16.0 / 3.0) * x * e2;
		double		h = tr->h;

		tr->xgd[S00] = c * h * h;
		tr->xgd[S01] = c * h * x;
		tr->xgd[S02] = c * h;
		tr->xgd[S11] = c * x * x;
		tr->xgd[S12] = c * x;
		tr->xgd[S22] = c;
	}
}

/* out = Phi P Phi^T = e^2 T P T^T (packed symmetric); out may be P. */
static inline void
sandwich(const Transition *tr, const double *p, double *out)
{
	double		x = tr->x,
				h = tr->h,
				e2 = tr->e * tr->e;
	/* B = T P: rows 0 and 1 where needed, row 2 is P's */
	double		b00 = p[S00] + x * p[S01] + h * p[S02],
				b01 = p[S01] + x * p[S11] + h * p[S12],
				b02 = p[S02] + x * p[S12] + h * p[S22],
				b11 = p[S11] + x * p[S12],
				b12 = p[S12] + x * p[S22],
				b22 = p[S22];

	/* B T^T, upper triangle */
	out[S00] = e2 * (b00 + x * b01 + h * b02);
	out[S01] = e2 * (b01 + x * b02);
	out[S02] = e2 * b02;
	out[S11] = e2 * (b11 + x * b12);
	out[S12] = e2 * b12;
	out[S22] = e2 * b22;
}

/* out = Phi^T W Phi = e^2 T^T W T (packed symmetric); out may be W. */
static inline void
sandwich_t(const Transition *tr, const double *w, double *out)
{
	double		x = tr->x,
				h = tr->h,
				e2 = tr->e * tr->e;
	/* A = T^T W: row 0 is W's */
	double		a00 = w[S00],
				a01 = w[S01],
				a02 = w[S02],
				a10 = x * w[S00] + w[S01],
				a11 = x * w[S01] + w[S11],
				a12 = x * w[S02] + w[S12],
				a20 = h * w[S00] + x * w[S01] + w[S02],
				a21 = h * w[S01] + x * w[S11] + w[S12],
				a22 = h * w[S02] + x * w[S12] + w[S22];

	/* A T, upper triangle */
	out[S00] = e2 * a00;
	out[S01] = e2 * (x * a00 + a01);
	out[S02] = e2 * (h * a00 + x * a01 + a02);
	out[S11] = e2 * (x * a10 + a11);
	out[S12] = e2 * (h * a10 + x * a11 + a12);
	out[S22] = e2 * (h * a20 + x * a21 + a22);
}

/* out = Phi v; out may be v. */
static inline void
mat_vec(const Transition *tr, const double *v, double *out)
{
	double		a = v[0],
				b = v[1],
				c = v[2];

	out[0] = tr->e * (a + tr->x * b + tr->h * c);
	out[1] = tr->e * (b + tr->x * c);
	out[2] = tr->e * c;
}

/* out = Phi^T v; out may be v. */
static inline void
mat_t_vec(const Transition *tr, const double *v, double *out)
{
	double		a = v[0],
				b = v[1],
				c = v[2];

	out[0] = tr->e * a;
	out[1] = tr->e * (tr->x * a + b);
	out[2] = tr->e * (tr->h * a + tr->x * b + c);
}

/* The Kalman filter's state: mean, covariance, and their sensitivities. */
typedef struct Filter
{
	double		m[3];
	double		p[6];
	double		dm[2][3];		/* d m / d log A, d m / d log l */
	double		dp[2][6];
} Filter;

/*
 * Sums of the likelihood: v^2 / S, log S as the log of a product of S kept
 * within [2^-400, 2^400] by frexp (one log per evaluation, not per point;
 * S outside that range goes to a sum of logs), and the derivatives.
 */
typedef struct Sums
{
	double		quad;
	double		prod;
	int			exp2;
	double		logs;
	double		d[2];
} Sums;

#define PROD_MAX	0x1p400
#define PROD_MIN	0x1p-400
#define LN2			0.69314718055994530941723212145818

/* ng: how many derivatives to carry, 0, 1 (log A) or 2 (log A, log l) */
static void
filter_start(Filter *f, double amplitude, int ng)
{
	memset(f, 0, sizeof(Filter));
	for (int k = 0; k < 6; k++)
		f->p[k] = amplitude * C0[k];
	if (ng > 0)
		memcpy(f->dp[0], f->p, sizeof(f->p));
}

/* The prediction over a gap with its transition tr (x G'(x) too if ng > 1). */
static void
filter_predict(Filter *f, double amplitude, int ng, const Transition *tr)
{
	double		mp[3],
				mm[6],
				x = tr->x;		/* 0 when far: Phi = 0, G' = 0 */

	mat_vec(tr, f->m, mp);
	sandwich(tr, f->p, mm);
	for (int k = 0; k < 6; k++)
		f->p[k] = mm[k] + amplitude * tr->g[k];
	memcpy(f->m, mp, sizeof(mp));
	if (ng < 1)
		return;

	/* log A: Phi fixed, Q scales with A */
	mat_vec(tr, f->dm[0], f->dm[0]);
	sandwich(tr, f->dp[0], f->dp[0]);
	for (int k = 0; k < 6; k++)
		f->dp[0][k] += amplitude * tr->g[k];
	if (ng < 2)
		return;

	/*
	 * log l: dPhi = -x F1 Phi with F1 = J - I, dQ = -x A G'; the terms
	 * F1 M + M F1^T for M = Phi P Phi^T and F1 m for m = Phi m
	 */
	mat_vec(tr, f->dm[1], f->dm[1]);
	sandwich(tr, f->dp[1], f->dp[1]);
	{
		double		s[6];

		s[S00] = 2.0 * (mm[S01] - mm[S00]);
		s[S01] = mm[S11] + mm[S02] - 2.0 * mm[S01];
		s[S02] = mm[S12] - 2.0 * mm[S02];
		s[S11] = 2.0 * (mm[S12] - mm[S11]);
		s[S12] = mm[S22] - 2.0 * mm[S12];
		s[S22] = -2.0 * mm[S22];
		for (int k = 0; k < 6; k++)
			f->dp[1][k] -= x * s[k] + amplitude * tr->xgd[k];
		f->dm[1][0] -= x * (mp[1] - mp[0]);
		f->dm[1][1] -= x * (mp[2] - mp[1]);
		f->dm[1][2] += x * mp[2];
	}
}

/*
 * The update with observation y of variance var.  Adds to sums (if not
 * NULL; it must not be with ng > 0) and the ng derivatives; returns false on a non-finite or
 * non-positive S.  The innovation, its variance and the gain go to *v_out,
 * *s_out, gain if v_out is not NULL (the smoother keeps them).
 */
static bool
filter_update(Filter *f, double y, double var, int ng, Sums *sums,
			  double *v_out, double *s_out, double *gain)
{
	double		p0 = f->p[S00] > 0.0 ? f->p[S00] : 0.0;	/* rounding only */
	double		pv[3] = {p0, f->p[S01], f->p[S02]};
	double		s = p0 + var;
	double		is,
				v,
				k[3];

	if (!(s > 0.0) || !isfinite(s))
		return false;
	is = 1.0 / s;
	v = y - f->m[0];
	for (int i = 0; i < 3; i++)
		k[i] = pv[i] * is;
	if (sums)
	{
		sums->quad += v * v * is;
		if (s >= PROD_MIN && s <= PROD_MAX)
		{
			sums->prod *= s;
			if (!(sums->prod >= PROD_MIN && sums->prod <= PROD_MAX))
			{
				int			e;

				sums->prod = frexp(sums->prod, &e);
				sums->exp2 += e;
			}
		}
		else
			sums->logs += log(s);
	}

	for (int q = 0; q < ng; q++)
	{
		double	   *dp = f->dp[q];
		double	   *dm = f->dm[q];
		double		ds = dp[S00],
					dv = -dm[0];
		double		dk[3],
					dpv[3] = {dp[S00], dp[S01], dp[S02]};

		sums->d[q] += (2.0 * v * dv - v * v * ds * is + ds) * is;
		for (int i = 0; i < 3; i++)
		{
			dk[i] = (dpv[i] - k[i] * ds) * is;
			dm[i] += dk[i] * v + k[i] * dv;
		}
		dp[S00] -= dk[0] * pv[0] + k[0] * dpv[0];
		dp[S01] -= dk[0] * pv[1] + k[0] * dpv[1];
		dp[S02] -= dk[0] * pv[2] + k[0] * dpv[2];
		dp[S11] -= dk[1] * pv[1] + k[1] * dpv[1];
		dp[S12] -= dk[1] * pv[2] + k[1] * dpv[2];
		dp[S22] -= dk[2] * pv[2] + k[2] * dpv[2];
	}

	for (int i = 0; i < 3; i++)
		f->m[i] += k[i] * v;
	f->p[S00] = var * k[0];
	f->p[S01] = var * k[1];
	f->p[S02] = var * k[2];
	f->p[S11] -= k[1] * pv[1];
	f->p[S12] -= k[1] * pv[2];
	f->p[S22] -= k[2] * pv[2];

	if (v_out)
	{
		*v_out = v;
		*s_out = s;
		memcpy(gain, k, sizeof(k));
	}
	return true;
}

static GpStatus
check_data(const double *t, const double *y, const double *var, size_t n)
{
	if (n == 0 || t == NULL || y == NULL || var == NULL)
		return GP_INVALID_INPUT;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(t[i]) || !isfinite(y[i]) || !isfinite(var[i]) || !(var[i] > 0.0))
			return GP_INVALID_INPUT;
	for (size_t i = 1; i < n; i++)
		if (t[i] < t[i - 1])
			return GP_NOT_SORTED;
	return GP_OK;
}

static GpStatus
check_params(double amplitude, double length_scale)
{
	if (!isfinite(amplitude) || !(amplitude > 0.0) ||
		!isfinite(length_scale) || !(length_scale > 0.0))
		return GP_INVALID_INPUT;
	return GP_OK;
}

/*
 * The transitions (with x G'(x)) over the gaps of t at lambda: trs[i] for
 * the gap before t[i], i > 0 and t[i] > t[i - 1].  They depend on the length
 * scale only, so evaluations that change only the amplitude share them.
 * false when the host said stop.
 */
static bool
transitions_fill(const double *t, size_t n, double lambda, Transition *trs,
				 const KernelHost *host)
{
	for (size_t i = 1; i < n; i++)
	{
		if (host_poll_at(host, i))
			return false;
		if (t[i] > t[i - 1])
			transition(lambda * (t[i] - t[i - 1]), true, &trs[i]);
	}
	return true;
}

/*
 * The filter over checked data: lml and, with ng > 0, the first ng entries
 * of its gradient in (log A, log l) in dlml.  trs: the transitions of
 * transitions_fill at this length scale, or NULL to compute them on the way.
 */
static GpStatus
likelihood(const double *t, const double *y, const double *var, size_t n,
		   double amplitude, double length_scale, int ng, const Transition *trs,
		   double *lml, double *dlml, const KernelHost *host)
{
	double		lambda = SQRT5 / length_scale;
	Sums		sums = {0.0, 1.0, 0, 0.0, {0.0, 0.0}};
	Filter		f;
	Transition	tr;

	filter_start(&f, amplitude, ng);
	for (size_t i = 0; i < n; i++)
	{
		if (host_poll_at(host, i))
			return GP_INTERRUPTED;
		if (i > 0 && t[i] > t[i - 1])
		{
			if (trs == NULL)
				transition(lambda * (t[i] - t[i - 1]), ng > 1, &tr);
			filter_predict(&f, amplitude, ng, trs ? &trs[i] : &tr);
		}
		if (!filter_update(&f, y[i], var[i], ng, &sums, NULL, NULL, NULL))
			return GP_NUMERICAL_FAILURE;
	}
	*lml = -0.5 * (sums.quad + (log(sums.prod) + sums.exp2 * LN2 + sums.logs) +
				   (double) n * LOG_2PI);
	if (!isfinite(*lml))
		return GP_NUMERICAL_FAILURE;
	for (int q = 0; q < ng; q++)
	{
		dlml[q] = -0.5 * sums.d[q];
		if (!isfinite(dlml[q]))
			return GP_NUMERICAL_FAILURE;
	}
	return GP_OK;
}

GpStatus
gp_matern_log_likelihood(const double *t, const double *y, const double *var, size_t n,
				  double amplitude, double length_scale,
				  double *lml, double *grad, const KernelHost *host)
{
	GpStatus	st;
	double		l,
				g[2];

	if ((st = check_data(t, y, var, n)) != GP_OK)
		return st;
	if ((st = check_params(amplitude, length_scale)) != GP_OK || lml == NULL)
		return GP_INVALID_INPUT;
	if ((st = likelihood(t, y, var, n, amplitude, length_scale, grad ? 2 : 0, NULL,
						 &l, g, host)) != GP_OK)
		return st;
	*lml = l;
	if (grad)
	{
		grad[0] = g[0];
		grad[1] = g[1];
	}
	return GP_OK;
}

/* ---- prediction ---- */

typedef struct QueryKey
{
	double		t;
	size_t		i;
} QueryKey;

/* One point of the merged sequence, as the smoother's backward pass needs it. */
typedef struct SmoothRec
{
	double		x;				/* scaled gap from the previous point */
	double		a[5];			/* observation: gain K[3], v, S; query: m0,
								 * P00, P01, P02 of the prediction */
	size_t		query;			/* index into t_new, or SIZE_MAX */
} SmoothRec;

size_t
gp_matern_work_size(size_t n, size_t m)
{
	size_t		fit,
				pred;

	if (n > SIZE_MAX / 256 || m > SIZE_MAX / 256)
		return SIZE_MAX;
	fit = n * (sizeof(double) + sizeof(Transition));
	pred = m * sizeof(QueryKey) + (n + m) * sizeof(SmoothRec);
	return fit > pred ? fit : pred;
}

static int
query_cmp(const void *a, const void *b)
{
	const QueryKey *x = a,
			   *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

/*
 * The smoother over the observations and the sorted queries q: mean and sd
 * of each query.  step > 0 says the queries are evenly spaced by step (a
 * grid): between two queries with no observation between them the scaled gap
 * is then lambda step, so one transition serves all those steps.  Checked
 * data and parameters; rec: n + m records.
 */
static GpStatus
smooth(const double *t, const double *y, const double *var, size_t n,
	   double amplitude, double length_scale, const QueryKey *q, size_t m,
	   double step, double *mean, double *sd, SmoothRec *rec, const KernelHost *host)
{
	Filter		f;
	Transition	tr,
				ts;				/* the transition of the grid step */
	double		lambda = SQRT5 / length_scale;
	/* -1 (no gap has it) without a step, or when it underflows to 0 (ties) */
	double		xs = lambda * step > 0.0 ? lambda * step : -1.0;
	double		tprev = 0.0;
	double		r[3] = {0.0, 0.0, 0.0},
				w[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
	bool		prev_query = false;
	size_t		i = 0,
				j = 0,
				k = 0;

	if (xs > 0.0)
		transition(xs, false, &ts);

	/* forward: filter over the merged times, observations first at ties */
	filter_start(&f, amplitude, 0);
	while (i < n || j < m)
	{
		bool		obs = i < n && (j == m || t[i] <= q[j].t);
		double		tk = obs ? t[i] : q[j].t;
		SmoothRec  *rc = &rec[k];

		if (host_poll_at(host, k))
			return GP_INTERRUPTED;
		if (!obs && prev_query && xs > 0.0)
			rc->x = xs;
		else
			rc->x = (k > 0 && tk > tprev) ? lambda * (tk - tprev) : 0.0;
		if (rc->x == xs)
			filter_predict(&f, amplitude, 0, &ts);
		else if (rc->x > 0.0)
		{
			transition(rc->x, false, &tr);
			filter_predict(&f, amplitude, 0, &tr);
		}
		if (obs)
		{
			rc->query = SIZE_MAX;
			if (!filter_update(&f, y[i], var[i], 0, NULL,
							   &rc->a[3], &rc->a[4], rc->a))
				return GP_NUMERICAL_FAILURE;
			i++;
		}
		else
		{
			rc->query = q[j].i;
			rc->a[0] = f.m[0];
			rc->a[1] = f.p[S00];
			rc->a[2] = f.p[S01];
			rc->a[3] = f.p[S02];
			j++;
		}
		prev_query = !obs;
		tprev = tk;
		k++;
	}

	/* backward: the adjoint r, W of the observations after each point */
	while (k-- > 0)
	{
		SmoothRec  *rc = &rec[k];
		const double *a = rc->a;

		if (host_poll_at(host, k))
			return GP_INTERRUPTED;
		if (rc->query == SIZE_MAX)
		{
			double		is = 1.0 / a[4];
			double		u0 = w[S00] * a[0] + w[S01] * a[1] + w[S02] * a[2];
			double		u1 = w[S01] * a[0] + w[S11] * a[1] + w[S12] * a[2];
			double		u2 = w[S02] * a[0] + w[S12] * a[1] + w[S22] * a[2];
			double		c = a[0] * u0 + a[1] * u1 + a[2] * u2;

			w[S00] += c - 2.0 * u0 + is;
			w[S01] -= u1;
			w[S02] -= u2;
			r[0] += a[3] * is - (a[0] * r[0] + a[1] * r[1] + a[2] * r[2]);
		}
		else
		{
			double		wp0 = w[S00] * a[1] + w[S01] * a[2] + w[S02] * a[3];
			double		wp1 = w[S01] * a[1] + w[S11] * a[2] + w[S12] * a[3];
			double		wp2 = w[S02] * a[1] + w[S12] * a[2] + w[S22] * a[3];
			double		v = a[1] - (a[1] * wp0 + a[2] * wp1 + a[3] * wp2);
			double		mu = a[0] + a[1] * r[0] + a[2] * r[1] + a[3] * r[2];

			if (!isfinite(mu) || !isfinite(v))
				return GP_NUMERICAL_FAILURE;
			mean[rc->query] = mu;
			sd[rc->query] = v > 0.0 ? sqrt(v) : 0.0;	/* rounding only */
		}
		if (rc->x > 0.0 && k > 0)
		{
			const Transition *tp = &ts;

			if (rc->x != xs)
			{
				transition_phi(rc->x, &tr);
				tp = &tr;
			}
			mat_t_vec(tp, r, r);
			sandwich_t(tp, w, w);
		}
	}
	return GP_OK;
}

/* Checks shared by the predictions; *done when there is nothing to do. */
static GpStatus
check_predict(const double *t, const double *y, const double *var, size_t n,
			  double amplitude, double length_scale, size_t m,
			  const void *out, double *mean, double *sd, void *work)
{
	GpStatus	st;

	if ((st = check_data(t, y, var, n)) != GP_OK)
		return st;
	if (check_params(amplitude, length_scale) != GP_OK)
		return GP_INVALID_INPUT;
	if (m > 0 && (out == NULL || mean == NULL || sd == NULL || work == NULL))
		return GP_INVALID_INPUT;
	return GP_OK;
}

GpStatus
gp_matern_predict(const double *t, const double *y, const double *var, size_t n,
		   double amplitude, double length_scale,
		   const double *t_new, size_t m, double *mean, double *sd, void *work,
		   const KernelHost *host)
{
	GpStatus	st;
	QueryKey   *q = work;
	bool		sorted = true;

	if ((st = check_predict(t, y, var, n, amplitude, length_scale, m,
							t_new, mean, sd, work)) != GP_OK || m == 0)
		return st;
	for (size_t j = 0; j < m; j++)
	{
		if (!isfinite(t_new[j]))
			return GP_INVALID_INPUT;
		q[j].t = t_new[j];
		q[j].i = j;
		if (j > 0 && t_new[j] < t_new[j - 1])
			sorted = false;
	}
	if (!sorted)
		qsort(q, m, sizeof(QueryKey), query_cmp);
	return smooth(t, y, var, n, amplitude, length_scale, q, m, 0.0,
				  mean, sd, (SmoothRec *) (q + m), host);
}

GpStatus
gp_matern_predict_grid(const double *t, const double *y, const double *var, size_t n,
				double amplitude, double length_scale, size_t m,
				double *grid, double *mean, double *sd, void *work,
				const KernelHost *host)
{
	GpStatus	st;
	QueryKey   *q = work;
	double		lo,
				step;

	if ((st = check_predict(t, y, var, n, amplitude, length_scale, m,
							grid, mean, sd, work)) != GP_OK || m == 0)
		return st;
	lo = t[0];
	if (isinf(t[n - 1] - lo))
		return GP_NUMERICAL_FAILURE;	/* the grid's span is not a double */
	step = m > 1 ? (t[n - 1] - lo) / (double) (m - 1) : 0.0;
	for (size_t j = 0; j < m; j++)
	{
		grid[j] = j > 0 && j == m - 1 ? t[n - 1] : lo + (double) j * step;
		q[j].t = grid[j];
		q[j].i = j;
	}
	return smooth(t, y, var, n, amplitude, length_scale, q, m, step,
				  mean, sd, (SmoothRec *) (q + m), host);
}

/* ---- fit ---- */

#define GTOL		1e-9		/* projected gradient, lml per unit log param */
#define FTOL		1e-12		/* lml change that ends a run */
#define MAX_ITER	100
#define MAX_STEP	5.0			/* profile steps, in log units */
#define ARMIJO		1e-3		/* sufficient decrease, as L-BFGS-B's */
#define CURVATURE	0.9			/* the step is stretched while f' < 0.9 f'(0) */
#define MEMORY		10
#define PROFILE_POINTS 5
#define PROFILE_GTOL 1e-3		/* d f / d log A that ends a profile point */
#define PROFILE_STEPS 2			/* Newton steps at most per profile point */

typedef struct Objective
{
	const double *t,
			   *y,
			   *var;
	size_t		n;
	int			evaluations;
	Transition *trs;			/* n transitions at length scale trs_l */
	double		trs_l;			/* 0 while there are none */
	const KernelHost *host;
	bool		interrupted;	/* the host said stop: every evaluation fails */
} Objective;

/* A point theta = (log A, log l) with f = -lml and g = its gradient. */
typedef struct Point
{
	double		th[2];
	double		f;
	double		g[2];
} Point;

static inline double
clamp(double v, double lo, double hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

/* exp(th) within [lo, hi], exactly lo or hi on a bound (exp(log(x)) may not be x). */
static double
from_log(double th, double lo, double hi)
{
	if (th <= log(lo))
		return lo;
	if (th >= log(hi))
		return hi;
	return clamp(exp(th), lo, hi);
}

static double
amplitude_of(const Point *p)
{
	return from_log(p->th[0], GP_AMPLITUDE_MIN, GP_AMPLITUDE_MAX);
}

static double
length_scale_of(const Point *p)
{
	return from_log(p->th[1], GP_LENGTH_SCALE_MIN, GP_LENGTH_SCALE_MAX);
}

/*
 * f at p->th and the first ng entries of g; false if the likelihood is not
 * finite there, or once the host has said stop (ob->interrupted).
 */
static bool
evaluate(Objective *ob, Point *p, int ng)
{
	double		lml,
				d[2];

	double		l = length_scale_of(p);
	GpStatus	st;

	if (ob->interrupted)
		return false;
	ob->evaluations++;
	if (l != ob->trs_l)
	{
		if (!transitions_fill(ob->t, ob->n, SQRT5 / l, ob->trs, ob->host))
		{
			ob->interrupted = true;
			return false;
		}
		ob->trs_l = l;
	}
	st = likelihood(ob->t, ob->y, ob->var, ob->n, amplitude_of(p), l,
					ng, ob->trs, &lml, d, ob->host);
	ob->interrupted = st == GP_INTERRUPTED;
	if (st != GP_OK)
		return false;
	p->f = -lml;
	for (int q = 0; q < ng; q++)
		p->g[q] = -d[q];
	return true;
}

/* The (s, y) pairs of the last MEMORY steps, as L-BFGS-B keeps them. */
typedef struct Memory
{
	int			count;
	double		s[MEMORY][2];
	double		y[MEMORY][2];
} Memory;

static void
memory_add(Memory *mem, const double s[2], const double y[2])
{
	double		sy = s[0] * y[0] + s[1] * y[1];
	double		yy = y[0] * y[0] + y[1] * y[1];

	if (!(sy > DBL_EPSILON * yy))
		return;					/* no positive curvature: skipped */
	if (mem->count == MEMORY)
	{
		memmove(mem->s, mem->s + 1, (MEMORY - 1) * sizeof(mem->s[0]));
		memmove(mem->y, mem->y + 1, (MEMORY - 1) * sizeof(mem->y[0]));
		mem->count--;
	}
	memcpy(mem->s[mem->count], s, sizeof(mem->s[0]));
	memcpy(mem->y[mem->count], y, sizeof(mem->y[0]));
	mem->count++;
}

/*
 * The limited-memory BFGS matrix b = (b00, b01, b11): theta I with theta =
 * y'y / s'y of the newest pair, updated by every pair, oldest first (the
 * matrix L-BFGS-B's compact form represents); I before the first pair.
 */
static void
memory_matrix(const Memory *mem, double b[3])
{
	double		theta = 1.0;

	if (mem->count > 0)
	{
		const double *s = mem->s[mem->count - 1],
				   *y = mem->y[mem->count - 1];

		theta = (y[0] * y[0] + y[1] * y[1]) / (s[0] * y[0] + s[1] * y[1]);
	}
	b[0] = b[2] = theta;
	b[1] = 0.0;
	for (int k = 0; k < mem->count; k++)
	{
		const double *s = mem->s[k],
				   *y = mem->y[k];
		double		sy = s[0] * y[0] + s[1] * y[1];
		double		bs0 = b[0] * s[0] + b[1] * s[1],
					bs1 = b[1] * s[0] + b[2] * s[1];
		double		sbs = s[0] * bs0 + s[1] * bs1;

		b[0] += y[0] * y[0] / sy - bs0 * bs0 / sbs;
		b[1] += y[0] * y[1] / sy - bs0 * bs1 / sbs;
		b[2] += y[1] * y[1] / sy - bs1 * bs1 / sbs;
	}
}

/*
 * The minimiser in (0, alpha) of the cubic through phi(0) = f0, phi'(0) = d0
 * < 0, phi(alpha) = fa, phi'(alpha) = da, kept within [alpha/10, alpha/2].
 */
static double
cubic_step(double alpha, double f0, double d0, double fa, double da)
{
	double		d1 = d0 + da - 3.0 * (fa - f0) / alpha;
	double		disc = d1 * d1 - d0 * da;
	double		next = 0.5 * alpha;

	if (disc >= 0.0)
	{
		double		d2 = sqrt(disc);
		double		den = da - d0 + 2.0 * d2;

		if (den != 0.0)
			next = alpha - alpha * (da + d2 - d1) / den;
	}
	if (!(next >= 0.1 * alpha))
		next = 0.1 * alpha;
	if (!(next <= 0.5 * alpha))
		next = 0.5 * alpha;
	return next;
}

/*
 * A projected limited-memory quasi-Newton descent of f from p (evaluated
 * with its gradient) within [lo, hi], after L-BFGS-B: the first step goes to
 * the projection of p - g, later ones to the projection of the quasi-Newton
 * point on the variables not held at a bound, each followed by a
 * backtracking search along the segment (sufficient decrease, cubic
 * interpolation).  Ends at a projected gradient of GTOL, a decrease of at
 * most FTOL, or when no decrease is found.  p becomes the end point;
 * returns the number of iterations.
 */
static int
local_min(Objective *ob, Point *p, const double lo[2], const double hi[2],
		  double *curv)
{
	Memory		mem = {0};
	double		b[3];
	int			it;

	for (it = 0; it < MAX_ITER; it++)
	{
		bool		fixed[2];
		double		d[2] = {0.0, 0.0},
					pg = 0.0,
					alpha = 1.0,
					amax,
					gd,
					s[2],
					yv[2],
					decrease;
		Point		trial;
		bool		accepted = false;

		/* bounds the gradient pushes against are held */
		for (int i = 0; i < 2; i++)
		{
			fixed[i] = (p->th[i] <= lo[i] && p->g[i] > 0.0) ||
				(p->th[i] >= hi[i] && p->g[i] < 0.0);
			if (!fixed[i])
				pg = fmax(pg, fabs(p->g[i]));
		}
		if (pg <= GTOL)
			break;

		/* the quasi-Newton step on the free variables, projected */
		memory_matrix(&mem, b);
		if (!fixed[0] && !fixed[1])
		{
			double		det = b[0] * b[2] - b[1] * b[1];

			d[0] = -(b[2] * p->g[0] - b[1] * p->g[1]) / det;
			d[1] = -(b[0] * p->g[1] - b[1] * p->g[0]) / det;
		}
		else
		{
			d[0] = fixed[0] ? 0.0 : -p->g[0] / b[0];
			d[1] = fixed[1] ? 0.0 : -p->g[1] / b[2];
		}
		for (int i = 0; i < 2; i++)
			d[i] = clamp(p->th[i] + d[i], lo[i], hi[i]) - p->th[i];
		gd = p->g[0] * d[0] + p->g[1] * d[1];
		if (!(gd < 0.0))
		{
			/* not a descent direction: the projected gradient step */
			for (int i = 0; i < 2; i++)
				d[i] = clamp(p->th[i] - p->g[i], lo[i], hi[i]) - p->th[i];
			gd = p->g[0] * d[0] + p->g[1] * d[1];
			if (!(gd < 0.0))
				break;
		}

		/*
		 * the line search: backtracking by cubic interpolation until f
		 * decreases enough; a step after which f still falls steeply is
		 * stretched (x4, up to the box) while f keeps decreasing
		 */
		amax = INFINITY;
		for (int i = 0; i < 2; i++)
		{
			if (d[i] > 0.0)
				amax = fmin(amax, (hi[i] - p->th[i]) / d[i]);
			else if (d[i] < 0.0)
				amax = fmin(amax, (lo[i] - p->th[i]) / d[i]);
		}
		for (int ls = 0; ls < 40; ls++)
		{
			Point		q;
			bool		ok;

			q.th[0] = clamp(p->th[0] + alpha * d[0], lo[0], hi[0]);
			q.th[1] = clamp(p->th[1] + alpha * d[1], lo[1], hi[1]);
			if (q.th[0] == p->th[0] && q.th[1] == p->th[1])
				break;
			ok = evaluate(ob, &q, 2);
			if (ok && q.f <= p->f + ARMIJO * alpha * gd && (!accepted || q.f < trial.f))
			{
				trial = q;
				accepted = true;
				if (q.g[0] * d[0] + q.g[1] * d[1] < CURVATURE * gd && alpha < amax)
				{
					alpha = fmin(4.0 * alpha, amax);
					continue;
				}
				break;
			}
			if (accepted)
				break;
			alpha = ok ? cubic_step(alpha, p->f, gd, q.f, q.g[0] * d[0] + q.g[1] * d[1])
				: 0.25 * alpha;
		}
		if (!accepted)
			break;

		s[0] = trial.th[0] - p->th[0];
		s[1] = trial.th[1] - p->th[1];
		yv[0] = trial.g[0] - p->g[0];
		yv[1] = trial.g[1] - p->g[1];
		memory_add(&mem, s, yv);
		decrease = p->f - trial.f;
		*p = trial;
		if (decrease <= FTOL)
		{
			it++;
			break;
		}
	}
	memory_matrix(&mem, b);
	if (curv && b[0] > 0.0 && isfinite(b[0]))
		*curv = b[0];
	return it;
}

static int
double_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * The profile of f over log A at fixed log l = ll: safeguarded Newton steps
 * on d f / d log A from log A = a, the curvature from secants (*c > 0 the
 * first guess, the last estimate on return), to |d f / d log A| <=
 * PROFILE_GTOL or PROFILE_STEPS steps.  Only d f / d log A is computed:
 * p->g[1] is not set.  The profile only has to tell basins apart, not to
 * locate them (the runs from it do): on the 4400 shipped g/r/i/z bands, more
 * steps change no fit.  All evaluations share the transitions of ll.
 */
static void
profile_point(Objective *ob, double ll, double a, double *c,
			  const double lo[2], const double hi[2], Point *p)
{
	p->th[0] = a;
	p->th[1] = ll;
	if (!evaluate(ob, p, 1))
	{
		p->f = INFINITY;
		return;
	}
	for (int it = 0; it < PROFILE_STEPS && fabs(p->g[0]) > PROFILE_GTOL; it++)
	{
		Point		q = *p;
		double		cs;

		q.th[0] = clamp(p->th[0] - clamp(p->g[0] / *c, -MAX_STEP, MAX_STEP), lo[0], hi[0]);
		if (q.th[0] == p->th[0] || !evaluate(ob, &q, 1))
			break;
		cs = (q.g[0] - p->g[0]) / (q.th[0] - p->th[0]);
		if (cs > 0.0)
			*c = cs;
		else
			*c *= 4.0;
		if (q.f < p->f)
			*p = q;
	}
}

GpStatus
gp_matern_fit(const double *t, const double *y, const double *var, size_t n,
	   GpFit *fit, void *work, const KernelHost *host)
{
	const double lo[2] = {log(GP_AMPLITUDE_MIN), log(GP_LENGTH_SCALE_MIN)};
	const double hi[2] = {log(GP_AMPLITUDE_MAX), log(GP_LENGTH_SCALE_MAX)};
	const double spacing = (hi[1] - lo[1]) / (PROFILE_POINTS - 1);
	Objective	ob = {t, y, var, n, 0, NULL, 0.0, host, false};
	Point		start,
				best,
				first,
				prof[PROFILE_POINTS];
	double	   *dflux = work;
	double		med,
				curv = 1.0;
	int			iterations = 0;
	GpStatus	st;

	if ((st = check_data(t, y, var, n)) != GP_OK)
		return st;
	if (fit == NULL || work == NULL)
		return GP_INVALID_INPUT;
	ob.trs = (Transition *) (dflux + n);

	/* scikit-learn's start: A = median(dflux)^2 / 2, l = 10 */
	for (size_t i = 0; i < n; i++)
		dflux[i] = sqrt(var[i]);
	qsort(dflux, n, sizeof(double), double_cmp);
	med = n % 2 ? dflux[n / 2] : (dflux[n / 2 - 1] + dflux[n / 2]) / 2.0;
	start.th[0] = clamp(log(0.5 * (med * med)), lo[0], hi[0]);
	start.th[1] = clamp(log(GP_LENGTH_SCALE_START), lo[1], hi[1]);

	if (evaluate(&ob, &start, 2))
	{
		first = start;
		iterations += local_min(&ob, &first, lo, hi, &curv);
	}
	else
	{
		first = start;
		first.f = INFINITY;
	}
	best = first;

	/*
	 * The guard: the profile of f over log A at PROFILE_POINTS length scales
	 * spread over the box, each from the first run's A (at a fixed l, f can
	 * have a local minimum at the lower bound of A, noise only, besides an
	 * interior one: a first run that ended on that bound restarts the
	 * profile from the starting A); then a run from each local minimum of the
	 * profile that is better than the first run's end or at least one
	 * profile step (in log l) away from it.  When all times are equal l does
	 * not matter: no guard, l stays where it started.
	 */
	for (int j = 0; j < PROFILE_POINTS && t[n - 1] > t[0]; j++)
	{
		double		c = curv;

		profile_point(&ob, j == PROFILE_POINTS - 1 ? hi[1] : lo[1] + spacing * j,
					  isfinite(first.f) && first.th[0] > lo[0] ? first.th[0] : start.th[0],
					  &c, lo, hi, &prof[j]);
	}
	for (int j = 0; j < PROFILE_POINTS && t[n - 1] > t[0]; j++)
	{
		Point		p = prof[j];

		if (!isfinite(p.f) ||
			(j > 0 && prof[j - 1].f < p.f) ||
			(j < PROFILE_POINTS - 1 && prof[j + 1].f < p.f))
			continue;
		if (isfinite(first.f) && p.f >= first.f &&
			fabs(p.th[1] - first.th[1]) < spacing)
			continue;
		if (!evaluate(&ob, &p, 2))
			continue;
		iterations += local_min(&ob, &p, lo, hi, NULL);
		if (!(p.f >= best.f))
			best = p;
	}
	if (ob.interrupted)
		return GP_INTERRUPTED;
	if (!isfinite(best.f))
		return GP_NUMERICAL_FAILURE;

	fit->amplitude = amplitude_of(&best);
	fit->length_scale = length_scale_of(&best);
	fit->lml = -best.f;
	fit->iterations = iterations;
	fit->evaluations = ob.evaluations;
	return GP_OK;
}
