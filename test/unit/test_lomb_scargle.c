/*
 * test_lomb_scargle.c
 *		Unit tests of the Lomb-Scargle kernel, without a server: the power
 *		against its definition (the weighted least-squares fit of an offset and
 *		a sinusoid, solved here by its 3x3 normal equations), closed forms, the
 *		frequency grid, the fast method against the direct one, degenerate
 *		bands, scale invariance, and the host's memory and interrupt paths.
 *		Prints TAP; exits non-zero when a check fails.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lomb_scargle.h"
#include "tap.h"
#include "test_rng.h"
#include "kernel_host_test.h"

#define PI 3.14159265358979323846264338327950
#define NMAX 400

static TestHost counts;
static KernelHost host;


static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* A band like the shipped ones: n sorted times over span days, a sinusoid
 * of the given period plus noise of sd sigma around a level. */
static void
make_band(size_t n, double span, double period, double sigma, double *t, double *y,
		  double *dy)
{
	for (size_t i = 0; i < n; i++)
		t[i] = 56000.0 + span * uniform();
	qsort(t, n, sizeof(double), cmp_double);
	for (size_t i = 0; i < n; i++)
	{
		dy[i] = sigma * (0.5 + uniform());
		y[i] = 100.0 + 30.0 * sin(2.0 * PI * t[i] / period + 0.3) + dy[i] * normal();
	}
}

/* ---- the reference: the fit itself ---- */

/* Solves the 3x3 system a x = b by Gaussian elimination with pivoting. */
static void
solve3(double a[3][3], double b[3], double x[3])
{
	for (int c = 0; c < 3; c++)
	{
		int			p = c;

		for (int r = c + 1; r < 3; r++)
			if (fabs(a[r][c]) > fabs(a[p][c]))
				p = r;
		for (int k = 0; k < 3; k++)
		{
			double		tmp = a[c][k];

			a[c][k] = a[p][k];
			a[p][k] = tmp;
		}
		{
			double		tmp = b[c];

			b[c] = b[p];
			b[p] = tmp;
		}
		for (int r = c + 1; r < 3; r++)
		{
			double		f = a[r][c] / a[c][c];

			for (int k = c; k < 3; k++)
				a[r][k] -= f * a[c][k];
			b[r] -= f * b[c];
		}
	}
	for (int c = 2; c >= 0; c--)
	{
		double		s = b[c];

		for (int k = c + 1; k < 3; k++)
			s -= a[c][k] * x[k];
		x[c] = s / a[c][c];
	}
}

/*
 * 1 - chi2(best a + b cos + c sin) / chi2(best constant), weights 1/dy^2:
 * the definition of the generalised periodogram's standard power.
 */
static double
ref_power(const double *t, const double *y, const double *dy, size_t n, double f)
{
	double		a[3][3] = {{0}},
				b[3] = {0},
				x[3],
				sw = 0,
				swy = 0,
				mean,
				chi0 = 0,
				chi = 0;

	for (size_t i = 0; i < n; i++)
	{
		double		w = 1.0 / (dy[i] * dy[i]),
					ph = 2.0 * PI * f * (t[i] - t[0]),
					v[3] = {1.0, cos(ph), sin(ph)};

		for (int r = 0; r < 3; r++)
		{
			for (int c = 0; c < 3; c++)
				a[r][c] += w * v[r] * v[c];
			b[r] += w * v[r] * y[i];
		}
		sw += w;
		swy += w * y[i];
	}
	solve3(a, b, x);
	mean = swy / sw;
	for (size_t i = 0; i < n; i++)
	{
		double		w = 1.0 / (dy[i] * dy[i]),
					ph = 2.0 * PI * f * (t[i] - t[0]),
					r = y[i] - (x[0] + x[1] * cos(ph) + x[2] * sin(ph));

		chi += w * r * r;
		chi0 += w * (y[i] - mean) * (y[i] - mean);
	}
	return 1.0 - chi / chi0;
}

static double
rel(double a, double b)
{
	return a == b ? 0.0 : fabs(a - b) / fmax(fabs(a), fabs(b));
}

static const LsGridOptions defaults = {0.0, INFINITY, LS_SAMPLES_PER_PEAK, LS_NYQUIST_FACTOR};

/* ---- the tests ---- */

static void
test_grid(void)
{
	double		t[4] = {0.0, 1.0, 3.0, 10.0};
	LsGrid		g;
	LsGridOptions o = defaults;

	/* T = 10, n = 4: df = 1/50, f_min = 1/100, f_max = 5 * 4 / 20 = 1 */
	check(ls_grid(t, 4, &o, &g) == LS_OK && g.df == 1.0 / 10.0 / 5.0 &&
		  g.f_min == 0.5 * g.df && g.n_frequencies == 1 + 50, "grid: astropy's autofrequency");
	o.min_period = 0.5;
	o.max_period = 20.0;
	check(ls_grid(t, 4, &o, &g) == LS_OK && g.f_min == 0.05 && g.n_frequencies == 1 + 98,
		  "grid: from min_period and max_period");
	/* (0.2 - 0.01) / 0.02 = 9.5 rounds half to even: 10 steps */
	o = defaults;
	o.min_period = 5.0;
	check(ls_grid(t, 4, &o, &g) == LS_OK && g.n_frequencies == 11, "grid: round half to even");
	o.min_period = 1000.0;
	check(ls_grid(t, 4, &o, &g) == LS_OK && g.n_frequencies == 1,
		  "grid: f_max below f_min gives one frequency (astropy's count)");
	o = defaults;
	check(ls_grid(t, 1, &o, &g) == LS_OK && g.n_frequencies == 0 && isnan(g.df),
		  "grid: one point has none");
	{
		double		same[3] = {5.0, 5.0, 5.0};

		check(ls_grid(same, 3, &o, &g) == LS_OK && g.n_frequencies == 0,
			  "grid: all times equal has none");
	}
	o.min_period = 1e-6;
	check(ls_grid(t, 4, &o, &g) == LS_TOO_MANY_FREQUENCIES && g.n_frequencies > LS_MAX_FREQUENCIES,
		  "grid: beyond LS_MAX_FREQUENCIES is refused");
	{
		double		tiny[3] = {0.0, 1e-310, 2e-310};

		check(ls_grid(tiny, 3, &defaults, &g) == LS_OUT_OF_RANGE,
			  "grid: 1 / baseline beyond double range");
	}
	{
		LsGridOptions bad[] = {
			{-1.0, INFINITY, 5, 5}, {NAN, INFINITY, 5, 5}, {INFINITY, INFINITY, 5, 5},
			{2.0, 1.0, 5, 5}, {1.0, 1.0, 5, 5}, {0.0, NAN, 5, 5}, {0.0, INFINITY, 0, 5},
			{0.0, INFINITY, INFINITY, 5}, {0.0, INFINITY, 5, -1}, {0.0, INFINITY, 5, NAN}};
		int			refused = 1;

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			refused &= !ls_options_valid(&bad[i]) && ls_grid(t, 4, &bad[i], &g) == LS_INVALID_INPUT;
		check(refused, "grid: invalid options are refused");
	}
}

/* The direct method's grid against the fit, on bands of several sizes. */
static void
test_definition(void)
{
	static double t[NMAX],
				y[NMAX],
				dy[NMAX],
				freq[5000],
				power[5000];
	double		worst = 0.0;
	int			ok = 1;

	for (size_t n = 4; n <= 200; n = n * 2 + 1)
	{
		LsPeak		pk;

		make_band(n, 300.0, 7.3, 5.0, t, y, dy);
		ok &= ls_peak(t, y, dy, n, &defaults, LS_DIRECT, &pk, &host) == LS_OK;
		if (pk.grid.n_frequencies > 5000)
			break;
		for (size_t k = 0; k < pk.grid.n_frequencies; k++)
			freq[k] = pk.grid.f_min + pk.grid.df * (double) k;
		ok &= ls_power(t, y, dy, n, freq, pk.grid.n_frequencies, power, &host) == LS_OK;
		for (size_t k = 0; k < pk.grid.n_frequencies; k++)
		{
			double		r = ref_power(t, y, dy, n, freq[k]);

			/* the normal equations lose digits where the fit is poor: absolute */
			worst = fmax(worst, fabs(power[k] - r));
			ok &= power[k] >= -1e-12 && power[k] <= 1.0 + 1e-12;
		}
	}
	check(ok && worst < 1e-9, "ls_power equals the weighted least-squares fit's variance reduction");
	printf("# worst |power - fit| %.3g\n", worst);
}

/* The direct grid (rotations) against ls_power (libm at every frequency). */
static void
test_direct_grid(void)
{
	static double t[NMAX],
				y[NMAX],
				dy[NMAX],
				freq[20000],
				power[20000];
	LsPeak		pk;
	LsGridOptions o = defaults;
	double		worst = 0.0,
				best = -1.0;
	size_t		at = 0;

	make_band(60, 1000.0, 2.7, 3.0, t, y, dy);
	o.min_period = 0.1;			/* ~10000 frequencies: many resyncs */
	o.samples_per_peak = 1.0;
	check(ls_peak(t, y, dy, 60, &o, LS_DIRECT, &pk, &host) == LS_OK &&
		  pk.grid.n_frequencies <= 20000 && pk.method == LS_DIRECT, "direct peak on 20000 frequencies");
	for (size_t k = 0; k < pk.grid.n_frequencies; k++)
		freq[k] = pk.grid.f_min + pk.grid.df * (double) k;
	check(ls_power(t, y, dy, 60, freq, pk.grid.n_frequencies, power, &host) == LS_OK,
		  "ls_power on the same grid");
	for (size_t k = 0; k < pk.grid.n_frequencies; k++)
		if (power[k] > best)
			best = power[k], at = k;
	worst = rel(pk.power, best);
	check(pk.frequency == freq[at] && worst < 1e-12 && fabs(pk.period - 1.0 / freq[at]) == 0.0,
		  "direct peak is ls_power's maximum");
	check(fabs(pk.period - 2.7) < 0.01, "the peak finds the sinusoid's period");
	printf("# peak period %.6f power %.6f s_to_n %.3f\n", pk.period, pk.power, pk.period_s_to_n);
	{
		double		mean = 0,
					var = 0;
		size_t		m = pk.grid.n_frequencies;

		for (size_t k = 0; k < m; k++)
			mean += power[k] / (double) m;
		for (size_t k = 0; k < m; k++)
			var += (power[k] - mean) * (power[k] - mean) / (double) (m - 1);
		check(rel(pk.period_s_to_n, (best - mean) / sqrt(var)) < 1e-9,
			  "period_s_to_n is (peak - mean) / sd(ddof 1)");
	}
}

/* A noise-free sinusoid is fitted exactly: power 1 at its frequency. */
static void
test_closed_forms(void)
{
	double		t[7] = {0.0, 0.7, 1.9, 3.1, 4.0, 5.5, 8.25},
				y[7],
				dy[7] = {1, 2, 1, 0.5, 1, 3, 1},
				f = 0.37,
				p,
				q[2];

	for (int i = 0; i < 7; i++)
		y[i] = 4.0 - 2.0 * cos(2.0 * PI * f * t[i]) + 0.5 * sin(2.0 * PI * f * t[i]);
	check(ls_power(t, y, dy, 7, &f, 1, &p, &host) == LS_OK && fabs(p - 1.0) < 1e-12,
		  "a pure sinusoid has power 1 at its frequency");
	{
		double		tt[7],
					fr[2] = {0.37, 0.11};

		for (int i = 0; i < 7; i++)
			tt[i] = t[i] + 1e5;
		check(ls_power(tt, y, dy, 7, &fr[0], 1, &q[0], &host) == LS_OK && fabs(q[0] - 1.0) < 1e-9,
			  "... at any time origin");
		(void) ls_power(t, y, dy, 7, fr, 2, q, &host);
		p = ref_power(t, y, dy, 7, 0.11);
		check(fabs(q[1] - p) < 1e-12 && q[1] < 1.0, "... and less elsewhere");
	}
	/* times on integers and f = 1: every phase equal, nothing to fit */
	{
		double		ti[5] = {0, 1, 2, 3, 5},
					yi[5] = {1, 3, 2, 5, 4},
					di[5] = {1, 1, 1, 1, 1},
					fi = 1.0;

		check(ls_power(ti, yi, di, 5, &fi, 1, &p, &host) == LS_OK && p == 0.0,
			  "coinciding phases give power 0, not 0/0");
		/* at f = 1/2 the phases are 0 and pi: the fit along cos, R^2 = 0.75 */
		fi = 0.5;
		check(ls_power(ti, yi, di, 5, &fi, 1, &p, &host) == LS_OK && fabs(p - 0.75) < 1e-12,
			  "collinear phases: the fit of the one direction (R^2 of y on cos)");
	}
}

static void
test_degenerate(void)
{
	double		t[5] = {1.0, 2.0, 2.0, 4.0, 7.0},
				y[5] = {3.0, 3.0, 3.0, 3.0, 3.0},
				dy[5] = {1.0, 1.0, 1.0, 1.0, 1.0},
				f[2] = {0.1, 0.3},
				p[2];
	LsPeak		pk;

	check(ls_peak(t, y, dy, 0, &defaults, LS_AUTO, &pk, &host) == LS_OK &&
		  pk.grid.n_frequencies == 0 && isnan(pk.period) && isnan(pk.grid.df), "n = 0: nothing");
	check(ls_peak(t, y, dy, 1, &defaults, LS_AUTO, &pk, &host) == LS_OK &&
		  pk.grid.n_frequencies == 0 && isnan(pk.power), "n = 1: nothing");
	check(ls_peak(t, y, dy, 2, &defaults, LS_AUTO, &pk, &host) == LS_OK &&
		  pk.grid.n_frequencies > 0 && isnan(pk.power) && pk.method == LS_AUTO,
		  "n = 2: a grid, no peak");
	check(ls_peak(t + 1, y, dy, 2, &defaults, LS_AUTO, &pk, &host) == LS_OK &&
		  pk.grid.n_frequencies == 0, "all times equal: no grid");
	check(ls_peak(t, y, dy, 5, &defaults, LS_DIRECT, &pk, &host) == LS_OK &&
		  pk.grid.n_frequencies > 0 && isnan(pk.power) && isnan(pk.period_s_to_n),
		  "constant fluxes: no peak");
	y[1] = 4.0;
	check(ls_peak(t, y, dy, 3, &defaults, LS_DIRECT, &pk, &host) == LS_OK && isnan(pk.power),
		  "two distinct times of three points: no peak");
	check(ls_power(t, y, dy, 3, f, 2, p, &host) == LS_OK && isnan(p[0]) && isnan(p[1]),
		  "two distinct times: ls_power undefined");
	check(ls_peak(t, y, dy, 4, &defaults, LS_DIRECT, &pk, &host) == LS_OK && isnan(pk.power) &&
		  ls_power(t, y, dy, 4, f, 2, p, &host) == LS_OK && isnan(p[0]),
		  "three distinct times (fitted exactly at every frequency): undefined");
	check(ls_peak(t, y, dy, 5, &defaults, LS_DIRECT, &pk, &host) == LS_OK && !isnan(pk.power),
		  "four distinct times: a peak");
	check(ls_power(t, y, dy, 0, f, 2, p, &host) == LS_OK && isnan(p[0]) && isnan(p[1]),
		  "ls_power of no points is undefined");
	check(counts.live == 0, "no memory left behind");
}

static void
test_bad_input(void)
{
	double		t[3] = {1.0, 2.0, 3.0},
				y[3] = {1.0, 2.0, 0.0},
				dy[3] = {1.0, 1.0, 1.0},
				f = 0.1,
				p;
	LsPeak		pk;
	int			ok = 1;

	t[1] = 0.5;
	ok &= ls_peak(t, y, dy, 3, &defaults, LS_AUTO, &pk, &host) == LS_INVALID_INPUT;
	t[1] = 2.0;
	dy[2] = 0.0;
	ok &= ls_peak(t, y, dy, 3, &defaults, LS_AUTO, &pk, &host) == LS_INVALID_INPUT;
	dy[2] = 1.0;
	y[0] = NAN;
	ok &= ls_power(t, y, dy, 3, &f, 1, &p, &host) == LS_INVALID_INPUT;
	y[0] = 1.0;
	f = 0.0;
	ok &= ls_power(t, y, dy, 3, &f, 1, &p, &host) == LS_INVALID_INPUT;
	f = INFINITY;
	ok &= ls_power(t, y, dy, 3, &f, 1, &p, &host) == LS_INVALID_INPUT;
	t[0] = -DBL_MAX;
	t[2] = DBL_MAX;
	ok &= ls_peak(t, y, dy, 3, &defaults, LS_AUTO, &pk, &host) == LS_OUT_OF_RANGE;
	check(ok && counts.live == 0, "unsorted, non-finite, dflux <= 0, bad frequencies, overflowing span");
}

/* The power does not depend on the flux unit, the dflux scale or the origin. */
static void
test_scales(void)
{
	static double t[50],
				y[50],
				dy[50],
				t2[50],
				y2[50],
				dy2[50];
	LsPeak		a,
				b;
	int			ok = 1;
	double		scales[][3] = {{1e300, 1.0, 0.0}, {1e-300, 1e-300, 0.0}, {1.0, 1e150, 0.0},
	{1.0, 1e-150, 0.0}, {7.0, 3.0, 1024.0}};

	make_band(50, 200.0, 11.0, 4.0, t, y, dy);
	ok &= ls_peak(t, y, dy, 50, &defaults, LS_DIRECT, &a, &host) == LS_OK;
	for (size_t s = 0; s < sizeof(scales) / sizeof(scales[0]); s++)
	{
		for (int i = 0; i < 50; i++)
		{
			y2[i] = y[i] * scales[s][0];
			dy2[i] = dy[i] * scales[s][1];
			t2[i] = t[i] + scales[s][2];
		}
		ok &= ls_peak(t2, y2, dy2, 50, &defaults, LS_DIRECT, &b, &host) == LS_OK;
		ok &= b.frequency == a.frequency && rel(b.power, a.power) < 1e-13;
	}
	check(ok, "power independent of flux unit (1e-300 .. 1e300), dflux scale and time origin");
	/* one point carries almost all the weight: the sums lose digits */
	memcpy(dy2, dy, sizeof(dy));
	dy2[7] = dy[7] / 4000.0;
	check(ls_peak(t, y, dy2, 50, &defaults, LS_DIRECT, &b, &host) == LS_OK &&
		  fabs(b.power - ref_power(t, y, dy2, 50, b.frequency)) < 1e-6,
		  "one point of 1/4000 the others' dflux: power within 1e-6 of the fit");
	dy2[7] = 1e-200;
	check(ls_peak(t, y, dy2, 50, &defaults, LS_DIRECT, &b, &host) == LS_OK && isnan(b.power),
		  "one point whose weight leaves the others' 0: undefined");
}

/*
 * The fast method against the exact power at the frequency it picks; the
 * same peak as the direct method once the band is long enough for the
 * approximation (astropy's: it is poor for short bands).
 */
static void
test_fast(void)
{
	static double t[NMAX],
				y[NMAX],
				dy[NMAX];
	size_t		sizes[] = {10, 25, 100, 400};
	double		worst = 0.0;
	int			ok = 1;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	{
		LsPeak		d,
					f;
		double		exact;

		make_band(sizes[s], 500.0, 3.3, 5.0, t, y, dy);
		ok &= ls_peak(t, y, dy, sizes[s], &defaults, LS_DIRECT, &d, &host) == LS_OK;
		ok &= ls_peak(t, y, dy, sizes[s], &defaults, LS_FAST, &f, &host) == LS_OK &&
			f.method == LS_FAST;
		ok &= ls_power(t, y, dy, sizes[s], &f.frequency, 1, &exact, &host) == LS_OK;
		worst = fmax(worst, fabs(f.power - exact));
		if (sizes[s] >= 100)
			ok &= f.frequency == d.frequency;
		printf("# n %zu m %zu direct %.9f (%.6f d) fast %.9f (%.6f d, exact there %.9f)\n",
			   sizes[s], d.grid.n_frequencies, d.power, d.period, f.power, f.period, exact);
	}
	check(ok, "fast finds the direct method's peak from 100 points");
	check(worst < 0.05, "fast power within 0.05 of the exact power at its frequency");
	check(counts.live == 0, "no memory left behind");
}

static void
test_host_paths(void)
{
	static double t[NMAX],
				y[NMAX],
				dy[NMAX];
	LsPeak		pk;
	LsGridOptions o = defaults;
	int			nomem = 1,
				stopped = 1;

	make_band(100, 500.0, 3.3, 5.0, t, y, dy);
	for (LsMethod m = LS_DIRECT; m <= LS_FAST; m++)
	{
		for (long k = 1; k <= 3; k++)
		{
			host = test_host(&counts);
			counts.fail_at = k;
			nomem &= ls_peak(t, y, dy, 100, &o, m, &pk, &host) == LS_NO_MEMORY && counts.live == 0;
		}
		host = test_host(&counts);
		counts.stop_at = 1;
		stopped &= ls_peak(t, y, dy, 100, &o, m, &pk, &host) == LS_INTERRUPTED && counts.live == 0;
	}
	check(nomem, "every allocation failure returns LS_NO_MEMORY and frees everything");
	check(stopped, "the host's stop returns LS_INTERRUPTED and frees everything");
	host = test_host(&counts);
	check(ls_choose(25, 313) == LS_DIRECT && ls_choose(5000, 62500) == LS_FAST,
		  "auto: direct for a shipped band, fast for thousands of points");
}

int
main(void)
{
	host = test_host(&counts);
	test_grid();
	test_definition();
	test_direct_grid();
	test_closed_forms();
	test_degenerate();
	test_bad_input();
	test_scales();
	test_fast();
	test_host_paths();
	return tap_done();
}
