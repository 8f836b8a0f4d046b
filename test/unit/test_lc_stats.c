/*
 * test_lc_stats.c
 *		Unit tests of the band statistics kernel (lc_stats.c), without a
 *		server: closed forms, the degenerate bands, huge and tiny values,
 *		and the host's failures.  Prints TAP; exits non-zero when a check fails.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernel_host_test.h"
#include "lc_stats.h"
#include "tap.h"

static int
close_to(double got, double want, double rel)
{
	return got == want || fabs(got - want) <= rel * fabs(want);
}

/* Every output of lc_stats, by name, to compare whole results. */
static const double *
values_of(const LcStats *s, size_t *count)
{
	*count = (sizeof(LcStats) - offsetof(LcStats, duration)) / sizeof(double);
	return &s->duration;
}

static LcStatsStatus
run(const double *t, const double *f, const double *d, size_t n, LcStats *out)
{
	TestHost	th;
	KernelHost	host = test_host(&th);
	LcStatsStatus st = lc_stats(t, f, d, n, &host, out);

	check(th.live == 0, "the kernel holds no memory when it returns");
	return st;
}

/* t 1..5, fluxes a permutation of 1..5: closed forms. */
static void
test_five_points(void)
{
	const double t[] = {1, 2, 3, 4, 5},
				f[] = {1, 3, 2, 5, 4},
				d[] = {1, 1, 2, 1, 1};
	LcStats		s;

	check(run(t, f, d, 5, &s) == LC_STATS_OK, "five points: OK");
	check(s.observation_count == 5 && s.duration == 4, "five points: count and duration");
	check(s.minimum_time_interval == 1 && s.maximum_time_interval == 1, "five points: intervals");
	check(s.median == 3 && s.percent_amplitude == 2, "five points: median, percent amplitude");
	/* Hazen: Q(0.1) at h = 0, x_0 = 1; Q(0.9) at h = 4, x_4 = 5 */
	check(s.inter_percentile_range_10 == 4, "five points: Q(0.9) - Q(0.1) = 4");
	/* |f - 3| < 0.1 * 2 only for f = 3 */
	check(s.median_buffer_range_percentage_10 == 0.2, "five points: median buffer range 1/5");
	/* Q(0.6) - Q(0.4) at h = 2.5, 1.5: 3.5 - 2.5; Q(0.95) - Q(0.05) = 5 - 1 */
	check(close_to(s.flux_percentile_ratio[0], 0.25, 1e-15), "five points: mid20 = 1/4");
	check(close_to(s.kurtosis, -1.2, 1e-14), "five points: kurtosis of 1..5 is -1.2");
	check(close_to(s.eta, 1.5, 1e-15) && close_to(s.eta_e, 1.5, 1e-15), "five points: eta = eta_e = 1.5");
	check(close_to(s.cusum, 3.0 / (5.0 * sqrt(2.5)), 1e-15), "five points: cusum 3 / (5 sqrt 2.5)");
	check(close_to(s.mean_variance, sqrt(2.5) / 3.0, 1e-15), "five points: mean variance s / 3");
	/* var 2.5, mean d^2 (1+1+4+1+1)/5 = 1.6: (2.5 - 1.6) / 9 */
	check(close_to(s.excess_variance, 0.1, 1e-14), "five points: excess variance 0.1");
	check(s.maximum_slope == 3, "five points: maximum slope 3");
	check(close_to(s.linear_trend, 0.8, 1e-15), "five points: linear trend 8/10");
	/* residuals -0.6, 0.6, -1.2, 1.0, 0.2: sum r^2 = 3.6, noise^2 = 1.2, sigma^2 = 1.2 / 10 */
	check(close_to(s.linear_trend_noise, sqrt(1.2), 1e-14), "five points: noise sqrt 1.2");
	check(close_to(s.linear_trend_sigma, sqrt(0.12), 1e-14), "five points: trend sigma sqrt 0.12");
	/* weights 1,1,1/4,1,1: mw = (1+3+0.5+5+4)/4.25 */
	{
		double		mw = 13.5 / 4.25,
					chi2 = 0.0,
					sabs = 0.0;

		for (int i = 0; i < 5; i++)
		{
			double		z = (f[i] - mw) / d[i];

			chi2 += z * z;
			sabs += fabs(z);
		}
		check(close_to(s.chi2, chi2 / 4.0, 1e-14), "five points: chi2 about the weighted mean");
		check(close_to(s.stetson_k, sabs / sqrt(5.0 * chi2), 1e-14), "five points: Stetson K");
	}
}

/* Anderson-Darling of a symmetric sample against the formula with erfc. */
static void
test_anderson_darling(void)
{
	const double t[] = {1, 2, 3, 4, 5, 6},
				f[] = {-2, -1, -0.5, 0.5, 1, 2},
				d[] = {1, 1, 1, 1, 1, 1};
	double		s2 = (4 + 1 + 0.25) * 2 / 5.0,
				sum = 0.0,
				a2;
	LcStats		s;

	for (int i = 0; i < 6; i++)
	{
		double		y = f[i] / sqrt(s2);
		double		phi = 0.5 * erfc(-y / sqrt(2.0));

		sum += (2 * i + 1) * log(phi) + (2 * (6 - i) - 1) * log(1 - phi);
	}
	a2 = (1 + 4 / 6.0 - 25 / 36.0) * (-6 - sum / 6);
	check(run(t, f, d, 6, &s) == LC_STATS_OK && close_to(s.anderson_darling_normal, a2, 1e-13),
		  "Anderson-Darling: six symmetric points");
}

/* A standardised value beyond erfc's range: ln Phi from the asymptotic series. */
static void
test_anderson_darling_far_tail(void)
{
	enum
	{
		N = 4000
	};
	static double t[N],
				f[N],
				d[N];
	LcStats		s;

	/* one outlier of about sqrt(N) = 63 sigma: Phi(-63) = 1e-866 */
	for (int i = 0; i < N; i++)
	{
		t[i] = i;
		f[i] = i == 0 ? 1.0 : 0.0;
		d[i] = 1.0;
	}
	check(run(t, f, d, N, &s) == LC_STATS_OK && isfinite(s.anderson_darling_normal)
		  && s.anderson_darling_normal > 0, "Anderson-Darling: a 63-sigma outlier gives a finite value");
}

static void
test_degenerate(void)
{
	const double one_t[] = {7, 7, 7, 7},
				f[] = {1, 4, 2, 8},
				c[] = {4, 4, 4, 4},
				d[] = {1, 1, 1, 1},
				t[] = {1, 2, 3, 5};
	LcStats		s;
	size_t		count;
	const double *v;
	int			all_nan = 1;

	check(run(NULL, NULL, NULL, 0, &s) == LC_STATS_OK && s.observation_count == 0, "n = 0: OK, count 0");
	v = values_of(&s, &count);
	for (size_t i = 0; i < count; i++)
		all_nan &= isnan(v[i]);
	check(all_nan, "n = 0: every statistic undefined");

	check(run(t, f, d, 1, &s) == LC_STATS_OK && s.duration == 0 && s.median == 1
		  && s.percent_amplitude == 0 && s.median_buffer_range_percentage_10 == 0
		  && isnan(s.minimum_time_interval) && isnan(s.chi2) && isnan(s.flux_percentile_ratio[0]),
		  "n = 1: duration 0, median the flux, intervals and chi2 undefined");

	check(run(t, f, d, 2, &s) == LC_STATS_OK && s.eta == 2.0 && isnan(s.linear_trend)
		  && isnan(s.kurtosis) && s.maximum_slope == 3,
		  "n = 2: eta 2 (one difference over var / 1), no fits, no kurtosis");

	check(run(t, c, d, 4, &s) == LC_STATS_OK && s.chi2 == 0 && s.mean_variance == 0
		  && s.linear_trend == 0 && s.linear_fit_slope == 0 && s.inter_percentile_range_10 == 0
		  && isnan(s.kurtosis) && isnan(s.anderson_darling_normal) && isnan(s.eta)
		  && isnan(s.eta_e) && isnan(s.cusum) && isnan(s.stetson_k) && isnan(s.flux_percentile_ratio[2]),
		  "constant fluxes: spreads 0, shape statistics undefined");

	{
		/* weights 1, 1/9, 1/49: sum(w 0.1) / sum(w) rounds to 0.1 - 1.4e-17 */
		const double tenth[] = {0.1, 0.1, 0.1},
					d137[] = {1, 3, 7};

		check(run(t, tenth, d137, 3, &s) == LC_STATS_OK && s.chi2 == 0 && isnan(s.stetson_k)
			  && s.linear_fit_slope == 0 && s.linear_fit_reduced_chi2 == 0,
			  "constant fluxes of 0.1, unequal errors: chi2 0, Stetson K undefined");
	}
	check(run(one_t, f, d, 4, &s) == LC_STATS_OK && s.duration == 0 && s.minimum_time_interval == 0
		  && isnan(s.eta_e) && isnan(s.maximum_slope) && isnan(s.linear_trend)
		  && isnan(s.linear_fit_slope) && isfinite(s.eta) && isfinite(s.kurtosis),
		  "all points at one time: time statistics undefined, flux statistics defined");
}

/* Values scaled by 2^k give results scaled exactly by their units. */
static void
test_scaling(void)
{
	const double t[] = {0, 1, 2.5, 4, 7, 7.5, 9},
				f[] = {1, 3, 2, 6, 4, 5.5, 2.5},
				d[] = {0.5, 1, 0.7, 1.2, 0.9, 1.1, 0.6};
	/* slopes scale by 2^(kf - kt): up to 2^900 */
	const int	kf[] = {1000, -1000, 600, 0, -300, 500},
				kt[] = {0, 0, 600, 900, -900, -400};
	double		ts[7],
				fs[7],
				ds[7];
	LcStats		base,
				s;

	run(t, f, d, 7, &base);
	for (int k = 0; k < 6; k++)
	{
		char		what[128];
		int			ok;

		for (int i = 0; i < 7; i++)
		{
			ts[i] = ldexp(t[i], kt[k]);
			fs[i] = ldexp(f[i], kf[k]);
			ds[i] = ldexp(d[i], kf[k]);
		}
		ok = run(ts, fs, ds, 7, &s) == LC_STATS_OK;
		ok &= s.duration == ldexp(base.duration, kt[k]);
		ok &= s.median == ldexp(base.median, kf[k]);
		ok &= s.linear_trend_noise == ldexp(base.linear_trend_noise, kf[k]);
		ok &= close_to(s.linear_fit_slope, ldexp(base.linear_fit_slope, kf[k] - kt[k]), 1e-15);
		ok &= close_to(s.maximum_slope, ldexp(base.maximum_slope, kf[k] - kt[k]), 1e-15);
		ok &= s.kurtosis == base.kurtosis && s.chi2 == base.chi2 && s.stetson_k == base.stetson_k;
		ok &= s.eta_e == base.eta_e && s.excess_variance == base.excess_variance;
		ok &= s.anderson_darling_normal == base.anderson_darling_normal;
		snprintf(what, sizeof(what), "fluxes x 2^%d, times x 2^%d: results scale exactly", kf[k], kt[k]);
		check(ok, what);
	}
}

/*
 * A slope of 2^1010 from fluxes of 2^1000 over a span of 2^40 days: in the
 * kernel's units the slope is 2^50 and the flux scale 2^1000, whose product
 * alone would overflow.
 */
static void
test_steep_slope(void)
{
	const double t[] = {0, ldexp(1, -10), ldexp(1, 40)},
				f[] = {0, ldexp(1, 1000), ldexp(1, 1000)},
				d[] = {ldexp(1, 999), ldexp(1, 999), ldexp(1, 999)};
	LcStats		s;

	check(run(t, f, d, 3, &s) == LC_STATS_OK && s.maximum_slope == ldexp(1, 1010),
		  "maximum slope 2^1010 from a flux scale of 2^1000 and a span of 2^40");
}

static void
test_out_of_range(void)
{
	const double wide[] = {-1e308, 1e308},
				t[] = {0, 1},
				f[] = {1e300, -1e300},
				tiny[] = {1e-300, 1e-300},
				d[] = {1, 1};
	LcStats		s;

	check(run(wide, d, d, 2, &s) == LC_STATS_OUT_OF_RANGE, "a span of t beyond double range");
	check(run(t, f, tiny, 2, &s) == LC_STATS_OUT_OF_RANGE, "chi2 of (1e300 / 1e-300)^2 is beyond range");
}

static void
test_host_failures(void)
{
	const double t[] = {1, 2, 3},
				f[] = {1, 2, 4},
				d[] = {1, 1, 1};
	LcStats		s;
	TestHost	th;
	KernelHost	host = test_host(&th);

	th.fail_at = 1;
	check(lc_stats(t, f, d, 3, &host, &s) == LC_STATS_NO_MEMORY && th.live == 0,
		  "no memory: LC_STATS_NO_MEMORY, nothing held");
	host = test_host(&th);
	th.stop_at = 1;
	/* every poll reaches the host once the meter is full */
	{
		enum
		{
			N = 70000
		};
		static double tt[N],
					ff[N],
					dd[N];

		for (int i = 0; i < N; i++)
		{
			tt[i] = i;
			ff[i] = i % 7;
			dd[i] = 1;
		}
		check(lc_stats(tt, ff, dd, N, &host, &s) == LC_STATS_INTERRUPTED && th.live == 0,
			  "interrupted: LC_STATS_INTERRUPTED, nothing held");
	}
}

int
main(void)
{
	test_five_points();
	test_anderson_darling();
	test_anderson_darling_far_tail();
	test_degenerate();
	test_scaling();
	test_steep_slope();
	test_out_of_range();
	test_host_failures();
	return tap_done();
}
