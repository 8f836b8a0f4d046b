/*
 * test_gp_matern.c
 *		Unit tests of the Matern-5/2 Gaussian-process kernel, without a server:
 *		the state-space likelihood, its gradient, the posterior and the fit,
 *		against a dense O(n^3) reference written here (Cholesky of
 *		K + diag(var)).  Prints TAP; exits non-zero when a check fails.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp_matern.h"
#include "tap.h"
#include "test_rng.h"
#include "kernel_host_test.h"

#define NMAX 64
#define MMAX 96
#define LOG_2PI 1.83787706640934548356013567236413
#define PI 3.14159265358979323846264338327950

/* The kernel allocates nothing; its polls count here and never say stop. */
static TestHost host_counts;
static const KernelHost host = {test_host_alloc, test_host_free, test_host_interrupted,
&host_counts};


static double
log_uniform(double lo, double hi)
{
	return exp(log(lo) + (log(hi) - log(lo)) * uniform());
}

/* ---- the dense reference ---- */

static double
kernel(double a, double l, double dt)
{
	double		s = sqrt(5.0) * fabs(dt) / l;

	return a * (1.0 + s + s * s / 3.0) * exp(-s);
}

/* Lower Cholesky factor of K + diag(var) in c; 0 if not positive definite. */
static int
dense_cholesky(const double *t, const double *var, size_t n, double a, double l,
			   double c[NMAX][NMAX])
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j <= i; j++)
		{
			double		s = kernel(a, l, t[i] - t[j]) + (i == j ? var[i] : 0.0);

			for (size_t k = 0; k < j; k++)
				s -= c[i][k] * c[j][k];
			if (i == j)
			{
				if (!(s > 0.0))
					return 0;
				c[i][i] = sqrt(s);
			}
			else
				c[i][j] = s / c[j][j];
		}
	return 1;
}

/* Solves c z = b (forward substitution). */
static void
forward(double c[NMAX][NMAX], size_t n, const double *b, double *z)
{
	for (size_t i = 0; i < n; i++)
	{
		double		s = b[i];

		for (size_t k = 0; k < i; k++)
			s -= c[i][k] * z[k];
		z[i] = s / c[i][i];
	}
}

static double
dense_lml(const double *t, const double *y, const double *var, size_t n,
		  double a, double l)
{
	static double c[NMAX][NMAX];
	double		z[NMAX],
				lml = -0.5 * (double) n * LOG_2PI;

	if (!dense_cholesky(t, var, n, a, l, c))
		return NAN;
	forward(c, n, y, z);
	for (size_t i = 0; i < n; i++)
		lml -= 0.5 * z[i] * z[i] + log(c[i][i]);
	return lml;
}

/* Posterior mean k*' (K + D)^-1 y and sd sqrt(k(0) - |c^-1 k*|^2). */
static void
dense_predict(const double *t, const double *y, const double *var, size_t n,
			  double a, double l, const double *tq, size_t m,
			  double *mean, double *sd)
{
	static double c[NMAX][NMAX];
	double		z[NMAX],
				alpha[NMAX],
				ks[NMAX],
				v[NMAX];

	dense_cholesky(t, var, n, a, l, c);
	forward(c, n, y, z);
	for (size_t i = n; i-- > 0;)	/* c' alpha = z */
	{
		double		s = z[i];

		for (size_t k = i + 1; k < n; k++)
			s -= c[k][i] * alpha[k];
		alpha[i] = s / c[i][i];
	}
	for (size_t j = 0; j < m; j++)
	{
		double		mu = 0.0,
					q = a;

		for (size_t i = 0; i < n; i++)
		{
			ks[i] = kernel(a, l, tq[j] - t[i]);
			mu += ks[i] * alpha[i];
		}
		forward(c, n, ks, v);
		for (size_t i = 0; i < n; i++)
			q -= v[i] * v[i];
		mean[j] = mu;
		sd[j] = q > 0.0 ? sqrt(q) : 0.0;
	}
}

/* ---- random problems ---- */

typedef struct Problem
{
	size_t		n;
	double		t[NMAX],
				y[NMAX],
				var[NMAX];
	double		a,
				l;
} Problem;

/*
 * n sorted times with ties and gaps log-uniform in [gap_lo, gap_hi], y drawn
 * from the model itself (so fits are meaningful), noise variance a factor
 * 0.01 .. 1 of the amplitude.
 */
static void
random_problem(Problem *p, size_t n, double gap_lo, double gap_hi)
{
	static double c[NMAX][NMAX];
	double		z[NMAX];

	p->n = n;
	p->a = log_uniform(0.1, 100.0);
	p->l = log_uniform(1.0, 20.0);
	p->t[0] = 56000.0 + 100.0 * uniform();
	for (size_t i = 1; i < n; i++)
		p->t[i] = p->t[i - 1] + (uniform() < 0.15 ? 0.0 : log_uniform(gap_lo, gap_hi));
	for (size_t i = 0; i < n; i++)
	{
		p->var[i] = p->a * log_uniform(0.01, 1.0);
		z[i] = normal();
	}
	dense_cholesky(p->t, p->var, n, p->a, p->l, c);
	for (size_t i = 0; i < n; i++)
	{
		p->y[i] = 0.0;
		for (size_t k = 0; k <= i; k++)
			p->y[i] += c[i][k] * z[k];
	}
}

static double
max_abs(const double *v, size_t n)
{
	double		m = 0.0;

	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(v[i]));
	return m;
}

static double
work_buffer[(NMAX + MMAX) * 16];

/* ---- the tests ---- */

static void
test_against_dense(void)
{
	double		worst_lml = 0.0,
				worst_mean = 0.0,
				worst_sd = 0.0;
	int			ok = 1;

	check(gp_matern_work_size(NMAX, MMAX) <= sizeof(work_buffer), "work size of the test buffer");
	for (int rep = 0; rep < 300; rep++)
	{
		Problem		p;
		size_t		n = 1 + (size_t) (uniform() * 60);
		double		lml,
					ref,
					tq[MMAX],
					mean[MMAX],
					sd[MMAX],
					rmean[MMAX],
					rsd[MMAX],
					scale;
		size_t		m = 0;

		if (rep % 3 == 2)
			random_problem(&p, n, 1e-6, 1e4);	/* extreme cadences */
		else
			random_problem(&p, n, 1e-4, 300.0);
		if (gp_matern_log_likelihood(p.t, p.y, p.var, n, p.a, p.l, &lml, NULL, &host) != GP_OK)
			ok = 0;
		ref = dense_lml(p.t, p.y, p.var, n, p.a, p.l);
		worst_lml = fmax(worst_lml, fabs(lml - ref) / fabs(ref));

		/* queries: every data time, before, after, between; shuffled */
		for (size_t i = 0; i < n; i++)
			tq[m++] = p.t[i];
		tq[m++] = p.t[0] - 50.0;
		tq[m++] = p.t[0] - 1e-7;
		tq[m++] = p.t[n - 1] + 1e-7;
		tq[m++] = p.t[n - 1] + 500.0;
		while (m < MMAX - 10 && m < 2 * n + 8)
			tq[m++] = p.t[0] + (p.t[n - 1] - p.t[0] + 2.0) * uniform() - 1.0;
		for (size_t j = m; j-- > 1;)
		{
			size_t		k = (size_t) (uniform() * (j + 1));
			double		x = tq[j];

			tq[j] = tq[k];
			tq[k] = x;
		}
		if (gp_matern_predict(p.t, p.y, p.var, n, p.a, p.l, tq, m, mean, sd, work_buffer, &host) != GP_OK)
			ok = 0;
		dense_predict(p.t, p.y, p.var, n, p.a, p.l, tq, m, rmean, rsd);
		scale = max_abs(p.y, n);
		for (size_t j = 0; j < m; j++)
		{
			worst_mean = fmax(worst_mean, fabs(mean[j] - rmean[j]) / scale);
			worst_sd = fmax(worst_sd, fabs(sd[j] - rsd[j]) / scale);
		}
	}
	printf("# worst relative error vs dense: lml %.2g, mean %.2g, sd %.2g\n",
		   worst_lml, worst_mean, worst_sd);
	check(ok, "300 random problems, n = 1..60: status ok");
	check(worst_lml <= 1e-10, "lml agrees with the dense Cholesky to 1e-10 relative");
	check(worst_mean <= 1e-9, "posterior mean agrees with dense to 1e-9 of max|y|");
	check(worst_sd <= 1e-9, "posterior sd agrees with dense to 1e-9 of max|y|");
}

/*
 * gp_matern_predict_grid: the grid is numpy.linspace's, and the posterior
 * on it is the dense one (a grid step shares one transition).
 */
static void
test_grid(void)
{
	double		worst_grid = 0.0,
				worst_mean = 0.0,
				worst_sd = 0.0;
	int			ok = 1;

	for (int rep = 0; rep < 200; rep++)
	{
		Problem		p;
		size_t		n = 2 + (size_t) (uniform() * 59);
		size_t		m = 2 + (size_t) (uniform() * (MMAX - 2));
		double		grid[MMAX],
					mean[MMAX],
					sd[MMAX],
					rmean[MMAX],
					rsd[MMAX],
					span,
					scale;

		random_problem(&p, n, rep % 2 ? 1e-6 : 1e-4, rep % 2 ? 1e4 : 300.0);
		if (gp_matern_predict_grid(p.t, p.y, p.var, n, p.a, p.l, m, grid, mean, sd,
								   work_buffer, &host) != GP_OK)
			ok = 0;
		span = p.t[n - 1] - p.t[0];
		for (size_t j = 0; j < m; j++)
		{
			double		want = j == m - 1 ? p.t[n - 1] :
				p.t[0] + (double) j * (span / (double) (m - 1));

			worst_grid = fmax(worst_grid, fabs(grid[j] - want));
		}
		dense_predict(p.t, p.y, p.var, n, p.a, p.l, grid, m, rmean, rsd);
		scale = max_abs(p.y, n);
		for (size_t j = 0; j < m; j++)
		{
			worst_mean = fmax(worst_mean, fabs(mean[j] - rmean[j]) / scale);
			worst_sd = fmax(worst_sd, fabs(sd[j] - rsd[j]) / scale);
		}
	}
	printf("# grid: worst |t - linspace| %.2g, relative error vs dense: mean %.2g, sd %.2g\n",
		   worst_grid, worst_mean, worst_sd);
	check(ok, "200 random grids, m = 2..MMAX: status ok");
	check(worst_grid == 0.0, "the grid is numpy.linspace's, bit for bit");
	check(worst_mean <= 1e-9, "grid posterior mean agrees with dense to 1e-9 of max|y|");
	check(worst_sd <= 1e-9, "grid posterior sd agrees with dense to 1e-9 of max|y|");
}

static double
lml_at(const Problem *p, double log_a, double log_l)
{
	double		lml = NAN;

	gp_matern_log_likelihood(p->t, p->y, p->var, p->n, exp(log_a), exp(log_l), &lml, NULL, &host);
	return lml;
}

static void
test_gradient(void)
{
	double		worst = 0.0;
	int			ok = 1;

	for (int rep = 0; rep < 60; rep++)
	{
		Problem		p;
		double		lml,
					g[2],
					th[2],
					h = 1e-3;

		random_problem(&p, 1 + (size_t) (uniform() * 60), rep % 2 ? 1e-6 : 1e-4,
					   rep % 2 ? 1e4 : 300.0);
		if (gp_matern_log_likelihood(p.t, p.y, p.var, p.n, p.a, p.l, &lml, g, &host) != GP_OK)
			ok = 0;
		th[0] = log(p.a);
		th[1] = log(p.l);
		for (int q = 0; q < 2; q++)
		{
			double		f[4],
						fd;

			for (int k = 0; k < 4; k++)
			{
				double		s = (k < 2 ? -1 : 1) * (k == 0 || k == 3 ? 2 : 1) * h;

				f[k] = q == 0 ? lml_at(&p, th[0] + s, th[1]) : lml_at(&p, th[0], th[1] + s);
			}
			/* five-point central difference, error O(h^4) */
			fd = (f[0] - 8.0 * f[1] + 8.0 * f[2] - f[3]) / (12.0 * h);
			worst = fmax(worst, fabs(g[q] - fd) / fmax(1.0, fabs(g[q])));
		}
	}
	printf("# worst gradient error vs central differences: %.2g\n", worst);
	check(ok, "gradient: status ok");
	check(worst <= 1e-7, "analytic gradient agrees with central differences");
}

/*
 * The reference optimum: a dense grid of the dense lml over the box, then a
 * compass search from the best few grid points down to steps of 1e-10.
 */
static double
brute_force_max(const Problem *p, double *a_out, double *l_out)
{
	enum
	{
		GA = 121, GL = 41, STARTS = 4
	};
	const double lo[2] = {log(GP_AMPLITUDE_MIN), log(GP_LENGTH_SCALE_MIN)};
	const double hi[2] = {log(GP_AMPLITUDE_MAX), log(GP_LENGTH_SCALE_MAX)};
	double		best[STARTS][3];
	double		top = -INFINITY;

	for (int s = 0; s < STARTS; s++)
		best[s][2] = -INFINITY;
	for (int i = 0; i < GA; i++)
		for (int j = 0; j < GL; j++)
		{
			double		th0 = lo[0] + (hi[0] - lo[0]) * i / (GA - 1);
			double		th1 = lo[1] + (hi[1] - lo[1]) * j / (GL - 1);
			double		f = dense_lml(p->t, p->y, p->var, p->n, exp(th0), exp(th1));

			/* keep the STARTS best, in order */
			for (int s = 0; s < STARTS; s++)
				if (f > best[s][2])
				{
					memmove(best[s + 1], best[s], (STARTS - 1 - s) * sizeof(best[0]));
					best[s][0] = th0;
					best[s][1] = th1;
					best[s][2] = f;
					break;
				}
		}
	for (int s = 0; s < STARTS; s++)
	{
		double		th[2] = {best[s][0], best[s][1]},
					f = best[s][2],
					step = 0.25;

		while (step > 1e-10)
		{
			int			moved = 0;

			for (int k = 0; k < 4; k++)
			{
				double		c[2] = {th[0], th[1]},
							fc;

				c[k / 2] += (k % 2 ? -step : step);
				c[k / 2] = fmin(fmax(c[k / 2], lo[k / 2]), hi[k / 2]);
				fc = dense_lml(p->t, p->y, p->var, p->n, exp(c[0]), exp(c[1]));
				if (fc > f)
				{
					f = fc;
					th[0] = c[0];
					th[1] = c[1];
					moved = 1;
				}
			}
			if (!moved)
				step /= 2.0;
		}
		if (f > top)
		{
			top = f;
			*a_out = exp(th[0]);
			*l_out = exp(th[1]);
		}
	}
	return top;
}

static void
check_fit(const Problem *p, const char *what)
{
	GpFit		fit;
	double		a = NAN,
				l = NAN,
				ref;
	char		msg[200];
	int			st = gp_matern_fit(p->t, p->y, p->var, p->n, &fit, work_buffer, &host);

	ref = brute_force_max(p, &a, &l);
	printf("# %s: fit A %.6g l %.6g lml %.12g (%d evaluations), brute force A %.6g l %.6g, "
		   "fit - brute force %.2g\n",
		   what, fit.amplitude, fit.length_scale, fit.lml, fit.evaluations, a, l, fit.lml - ref);
	snprintf(msg, sizeof(msg), "fit, %s: not below the brute-force maximum by 1e-8", what);
	check(st == GP_OK && fit.lml >= ref - 1e-8 &&
		  fit.amplitude >= GP_AMPLITUDE_MIN && fit.amplitude <= GP_AMPLITUDE_MAX &&
		  fit.length_scale >= GP_LENGTH_SCALE_MIN && fit.length_scale <= GP_LENGTH_SCALE_MAX &&
		  fabs(fit.lml - dense_lml(p->t, p->y, p->var, p->n, fit.amplitude, fit.length_scale)) <=
		  1e-10 * fabs(fit.lml), msg);
}

static void
test_fit(void)
{
	Problem		p;

	for (int rep = 0; rep < 4; rep++)
	{
		char		what[64];

		random_problem(&p, 10 + (size_t) (uniform() * 40), 1e-3, 30.0);
		snprintf(what, sizeof(what), "random n = %zu", p.n);
		check_fit(&p, what);
	}

	/* a smooth, slow signal sampled densely: l on its upper bound */
	p.n = 40;
	for (size_t i = 0; i < p.n; i++)
	{
		p.t[i] = 3.0 * (double) i;
		p.y[i] = 10.0 * sin(p.t[i] / 40.0);
		p.var[i] = 0.01;
	}
	check_fit(&p, "slow sine, l on its upper bound");

	/* fast, rough variations: l on its lower bound */
	rng_state = 7;
	for (size_t i = 0; i < p.n; i++)
	{
		p.t[i] = 0.5 * (double) i;
		p.y[i] = 5.0 * normal();
		p.var[i] = 0.04;
	}
	check_fit(&p, "white signal, l on its lower bound");

	/* a huge signal with small noise: A on its upper bound */
	for (size_t i = 0; i < p.n; i++)
	{
		p.t[i] = 2.0 * (double) i;
		p.y[i] = 3000.0 * cos(p.t[i] / 9.0) + 2000.0;
		p.var[i] = 1.0;
	}
	check_fit(&p, "huge signal, A on its upper bound");

	/*
	 * The g band of the shipped test light curve FAKE00440: two maxima, on
	 * the bound l = 1 and at l = 8.1 (the better one), the kind the fit's
	 * guard is for.
	 */
	{
		static const double obs[15][3] = {
			{56245.191, -2.493, 4.785}, {56246.234, 3.669, 2.000},
			{56248.207, 0.6491, 1.751}, {56258.242, 4.306, 8.081},
			{56261.215, -1.156, 3.958}, {56274.160, 4.454, 2.035},
			{56282.160, 7.527, 3.408}, {56289.035, 9.209, 11.900},
			{56297.039, 6.202, 1.600}, {56305.094, 7.119, 1.662},
			{56313.047, -12.190, 5.967}, {56321.035, 1.368, 2.917},
			{56333.043, 6.755, 1.823}, {56344.992, -4.653, 4.328},
			{56349.996, -0.1305, 3.964}
		};

		p.n = 15;
		for (size_t i = 0; i < p.n; i++)
		{
			p.t[i] = obs[i][0];
			p.y[i] = obs[i][1];
			p.var[i] = obs[i][2] * obs[i][2];
		}
		check_fit(&p, "FAKE00440 g, two maxima");
	}

	/* noise only, one point: A on its lower bound */
	p.n = 1;
	p.t[0] = 1.0;
	p.y[0] = 0.5;
	p.var[0] = 4.0;
	check_fit(&p, "one point inside the noise, A on its lower bound");
}

static void
test_one_point(void)
{
	const double t[] = {56000.5},
				y[] = {3.0},
				var[] = {0.25},
				tq[] = {56000.5, 56010.5, 55990.0};
	const double a = 2.0,
				l = 5.0;
	double		lml,
				g[2],
				mean[3],
				sd[3],
				want;
	GpFit		fit;
	int			ok = 1;

	check(gp_matern_log_likelihood(t, y, var, 1, a, l, &lml, g, &host) == GP_OK, "one point: ok");
	want = -0.5 * (9.0 / 2.25 + log(2.25) + LOG_2PI);
	check(fabs(lml - want) <= 1e-15 * fabs(want) && g[1] == 0.0 &&
		  fabs(g[0] - 0.5 * a * (9.0 / (2.25 * 2.25) - 1.0 / 2.25)) <= 1e-15,
		  "one point: closed-form lml and gradient, none in l");
	check(gp_matern_predict(t, y, var, 1, a, l, tq, 3, mean, sd, work_buffer, &host) == GP_OK, "one point: predict ok");
	for (int j = 0; j < 3; j++)
	{
		double		k = kernel(a, l, tq[j] - t[0]);

		if (fabs(mean[j] - k * 3.0 / 2.25) > 1e-14 ||
			fabs(sd[j] - sqrt(a - k * k / 2.25)) > 1e-14)
			ok = 0;
	}
	check(ok, "one point: posterior in closed form, at, after and before the point");
	check(gp_matern_fit(t, y, var, 1, &fit, work_buffer, &host) == GP_OK &&
		  fabs(fit.amplitude - (9.0 - 0.25)) <= 1e-7 * 8.75 &&
		  fit.length_scale == exp(log(GP_LENGTH_SCALE_START)),
		  "one point: fitted A = y^2 - var, l stays at its start");
}

/*
 * Gaps of a few units of the smallest double, and -0 beside 0: scaled by
 * lambda they round to 0 (ties) or stay subnormal, and so may the grid's
 * step.  The posterior is still the dense one, on grids and at queries.
 */
static void
test_tiny_gaps(void)
{
	const double t[] = {-0.0, 0.0, 4.9e-324, 1e-323, 2e-310, 0.75, 2.0},
				y[] = {3, 2, 1, -1, 0.5, 2, -2},
				var[] = {1, 0.5, 1, 2, 1, 0.25, 1},
				ls[] = {1.0, 2.0, 4.47, 4.48, 10.0, 20.0},
				tq[] = {4.9e-324, 0.0, 1e-320, -0.0, 0.25, 5.0};
	const size_t first[] = {1, 0, 0},	/* {0, 4.9e-324}, {-0, 0, 4.9e-324}, all */
				count[] = {2, 3, 7},
				ms[] = {2, 3, 50};
	double		worst = 0.0;
	int			ok = 1;

	for (size_t c = 0; c < 3; c++)
		for (size_t k = 0; k < sizeof(ls) / sizeof(ls[0]); k++)
			for (double a = 0.3; a < 100.0; a *= 100.0)
				for (size_t g = 0; g < 4; g++)
				{
					const double *tc = t + first[c],
							   *yc = y + first[c],
							   *vc = var + first[c];
					size_t		n = count[c],
								m = g < 3 ? ms[g] : sizeof(tq) / sizeof(tq[0]);
					double		grid[MMAX],
								mean[MMAX],
								sd[MMAX],
								rmean[MMAX],
								rsd[MMAX];
					GpStatus	st;

					if (g < 3)
						st = gp_matern_predict_grid(tc, yc, vc, n, a, ls[k], m, grid, mean, sd,
													work_buffer, &host);
					else
					{
						memcpy(grid, tq, sizeof(tq));
						st = gp_matern_predict(tc, yc, vc, n, a, ls[k], grid, m, mean, sd,
											   work_buffer, &host);
					}
					if (st != GP_OK)
					{
						ok = 0;
						continue;
					}
					dense_predict(tc, yc, vc, n, a, ls[k], grid, m, rmean, rsd);
					for (size_t j = 0; j < m; j++)
						worst = fmax(worst, fmax(fabs(mean[j] - rmean[j]), fabs(sd[j] - rsd[j])));
				}
	printf("# subnormal gaps: worst |mean, sd - dense| %.2g\n", worst);
	check(ok, "subnormal gaps and grid steps: status ok");
	check(worst <= 1e-12, "subnormal gaps and grid steps: posterior agrees with dense to 1e-12");
}

/*
 * Times more than DBL_MAX apart: the points are independent (the gap's
 * transition is 0), but a grid from the first to the last cannot be laid.
 */
static void
test_huge_span(void)
{
	const double t[] = {-9e307, 9e307},
				y[] = {1.0, -2.0},
				var[] = {0.5, 2.0},
				tq[] = {9e307, -9e307};
	const double a = 3.0,
				l = 2.0;
	double		lml,
				want = 0.0,
				grid[2],
				mean[2],
				sd[2];

	for (int i = 0; i < 2; i++)
		want -= 0.5 * (y[i] * y[i] / (a + var[i]) + log(a + var[i]) + LOG_2PI);
	check(gp_matern_log_likelihood(t, y, var, 2, a, l, &lml, NULL, &host) == GP_OK &&
		  fabs(lml - want) <= 1e-14 * fabs(want),
		  "a span beyond DBL_MAX: the lml of independent points");
	check(gp_matern_predict(t, y, var, 2, a, l, tq, 2, mean, sd, work_buffer, &host) == GP_OK &&
		  fabs(mean[0] - a * y[1] / (a + var[1])) <= 1e-14 &&
		  fabs(mean[1] - a * y[0] / (a + var[0])) <= 1e-14,
		  "a span beyond DBL_MAX: predictions of independent points");
	check(gp_matern_predict_grid(t, y, var, 2, a, l, 2, grid, mean, sd, work_buffer, &host) ==
		  GP_NUMERICAL_FAILURE, "a span beyond DBL_MAX: no grid, GP_NUMERICAL_FAILURE");
}

static void
test_errors(void)
{
	const double t[] = {1, 2, 2, 3},
				bad_t[] = {1, 3, 2, 4},
				nan_t[] = {1, NAN, 2, 3},
				y[] = {0.5, -1, 0.2, 0.1},
				nan_y[] = {0.5, NAN, 0.2, 0.1},
				inf_y[] = {0.5, INFINITY, 0.2, 0.1},
				var[] = {0.1, 0.1, 0.1, 0.1},
				zero_var[] = {0.1, 0.0, 0.1, 0.1},
				neg_var[] = {0.1, 0.1, -0.1, 0.1},
				tq[] = {1.5, NAN};
	double		lml,
				mean[2],
				sd[2];
	GpFit		fit;

	check(gp_matern_log_likelihood(bad_t, y, var, 4, 1, 1, &lml, NULL, &host) == GP_NOT_SORTED &&
		  gp_matern_predict(bad_t, y, var, 4, 1, 1, tq, 1, mean, sd, work_buffer, &host) == GP_NOT_SORTED &&
		  gp_matern_fit(bad_t, y, var, 4, &fit, work_buffer, &host) == GP_NOT_SORTED,
		  "unsorted times: GP_NOT_SORTED");
	check(gp_matern_log_likelihood(t, y, zero_var, 4, 1, 1, &lml, NULL, &host) == GP_INVALID_INPUT &&
		  gp_matern_log_likelihood(t, y, neg_var, 4, 1, 1, &lml, NULL, &host) == GP_INVALID_INPUT &&
		  gp_matern_predict(t, y, zero_var, 4, 1, 1, tq, 1, mean, sd, work_buffer, &host) == GP_INVALID_INPUT &&
		  gp_matern_fit(t, y, neg_var, 4, &fit, work_buffer, &host) == GP_INVALID_INPUT,
		  "var <= 0: GP_INVALID_INPUT");
	check(gp_matern_log_likelihood(nan_t, y, var, 4, 1, 1, &lml, NULL, &host) == GP_INVALID_INPUT &&
		  gp_matern_log_likelihood(t, nan_y, var, 4, 1, 1, &lml, NULL, &host) == GP_INVALID_INPUT &&
		  gp_matern_log_likelihood(t, inf_y, var, 4, 1, 1, &lml, NULL, &host) == GP_INVALID_INPUT &&
		  gp_matern_predict(t, y, var, 4, 1, 1, tq, 2, mean, sd, work_buffer, &host) == GP_INVALID_INPUT &&
		  gp_matern_fit(t, nan_y, var, 4, &fit, work_buffer, &host) == GP_INVALID_INPUT,
		  "NaN or infinite values: GP_INVALID_INPUT");
	check(gp_matern_log_likelihood(t, y, var, 0, 1, 1, &lml, NULL, &host) == GP_INVALID_INPUT &&
		  gp_matern_predict(t, y, var, 0, 1, 1, tq, 1, mean, sd, work_buffer, &host) == GP_INVALID_INPUT &&
		  gp_matern_fit(t, y, var, 0, &fit, work_buffer, &host) == GP_INVALID_INPUT,
		  "n = 0: GP_INVALID_INPUT");
	check(gp_matern_log_likelihood(t, y, var, 4, 0, 1, &lml, NULL, &host) == GP_INVALID_INPUT &&
		  gp_matern_log_likelihood(t, y, var, 4, 1, -1, &lml, NULL, &host) == GP_INVALID_INPUT &&
		  gp_matern_predict(t, y, var, 4, NAN, 1, tq, 1, mean, sd, work_buffer, &host) == GP_INVALID_INPUT,
		  "amplitude or length scale not finite and > 0: GP_INVALID_INPUT");
}

/* Every pass polls the host every KERNEL_POLL_UNITS points and stops when it says so. */
static void
test_interrupt(void)
{
	size_t		n = 3 * KERNEL_POLL_UNITS + 1000;
	double	   *t = malloc(n * sizeof(double));
	double	   *y = malloc(n * sizeof(double));
	double	   *var = malloc(n * sizeof(double));
	void	   *work = malloc(gp_matern_work_size(n, 0));
	double		tq[3] = {1.0, 2.0, 3.0},
				mean[3],
				sd[3],
				lml = 0.0;
	GpFit		fit = {0};
	TestHost	th;
	KernelHost	stopping = test_host(&th);

	for (size_t i = 0; i < n; i++)
	{
		t[i] = 0.1 * (double) i;
		y[i] = normal();
		var[i] = 1.0;
	}
	check(gp_matern_log_likelihood(t, y, var, n, 1.0, 5.0, &lml, NULL, &stopping) == GP_OK &&
		  th.polls == 3, "a pass over 3 * 65536 + 1000 points polls 3 times");
	th.polls = 0;
	th.stop_at = 2;
	lml = 0.0;
	check(gp_matern_log_likelihood(t, y, var, n, 1.0, 5.0, &lml, NULL, &stopping) ==
		  GP_INTERRUPTED && th.polls == 2 && lml == 0.0,
		  "likelihood: the host's stop gives GP_INTERRUPTED, nothing written");
	th.polls = 0;
	check(gp_matern_fit(t, y, var, n, &fit, work, &stopping) == GP_INTERRUPTED &&
		  th.polls == 2 && fit.evaluations == 0, "fit: GP_INTERRUPTED at once, nothing written");
	th.polls = 0;
	th.stop_at = 1;
	check(gp_matern_predict(t, y, var, n, 1.0, 5.0, tq, 3, mean, sd, work, &stopping) ==
		  GP_INTERRUPTED && th.polls == 1, "predict: GP_INTERRUPTED");
	free(t);
	free(y);
	free(var);
	free(work);
}

int
main(void)
{
	test_against_dense();
	test_grid();
	test_gradient();
	test_one_point();
	test_fit();
	test_tiny_gaps();
	test_huge_span();
	test_errors();
	test_interrupt();
	return tap_done();
}
