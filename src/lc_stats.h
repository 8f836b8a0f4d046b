/*
 * lc_stats.h
 *		Broker-grade statistics of one band of a light curve: a plain-C
 *		kernel, no PostgreSQL types.  docs/lc_stats.md has the table of names
 *		(the light-curve package's, FATS' where it has none).
 *
 * Input: n observations (t_i, m_i, d_i), m the flux and d > 0 its 1-sigma
 * error, sorted by (t, m, d).  Notation:
 *
 *	 <m>	 mean of m;  s = sqrt(sum (m - <m>)^2 / (n - 1)) (ddof 1)
 *	 mw		 weighted mean sum(m / d^2) / sum(1 / d^2)
 *	 z_i	 (m_i - mw) / d_i
 *	 Q(p)	 quantile of m, Hazen's (R-5, numpy's method='hazen', the
 *			 light-curve package's): with m sorted as x_0 <= ... <= x_{n-1}
 *			 and h = n p - 1/2, x_0 if h < 0, x_{n-1} if h >= n - 1, else
 *			 x_k + (h - k)(x_{k+1} - x_k), k = floor(h)
 *	 median	 x_{(n-1)/2}, or the mean of the middle two for even n
 *
 * Outputs (each NaN when undefined; n(min) is the fewest points it needs):
 *
 *	 observation_count	n
 *	 duration			t_{n-1} - t_0										n >= 1
 *	 minimum_time_interval, maximum_time_interval
 *						min, max of t_{i+1} - t_i							n >= 2
 *	 median				median											n >= 1
 *	 mean_variance		s / <m>; undefined when <m> = 0						n >= 2
 *	 percent_amplitude	max(x_{n-1} - median, median - x_0)				n >= 1
 *	 inter_percentile_range_10	Q(0.9) - Q(0.1)							n >= 1
 *	 median_buffer_range_percentage_10
 *						fraction of i with |m_i - median| < 0.1 (x_{n-1} - x_0) / 2
 *																		n >= 1
 *	 flux_percentile_ratio_midK (FATS)
 *						(Q(1/2 + K/200) - Q(1/2 - K/200)) / (Q(0.95) - Q(0.05)),
 *						K = 20, 35, 50, 65, 80; undefined when the
 *						denominator is 0									n >= 1
 *	 kurtosis			excess, unbiased (scipy.stats.kurtosis(bias=False)):
 *						n (n+1) / ((n-1)(n-2)(n-3)) sum (m - <m>)^4 / s^4
 *						- 3 (n-1)^2 / ((n-2)(n-3))						n >= 4
 *	 anderson_darling_normal
 *						(1 + 4/n - 25/n^2) (-n - 1/n sum_{i=0}^{n-1}
 *						((2i+1) ln Phi(y_i) + (2(n-i)-1) ln(1 - Phi(y_i)))),
 *						y_i = (x_i - <m>) / s, Phi the normal CDF			n >= 4
 *	 cusum				(max_j S_j - min_j S_j) / (n s),
 *						S_j = sum_{i<=j} (m_i - <m>), j = 0..n-1			n >= 2
 *	 eta				sum (m_{i+1} - m_i)^2 / ((n-1) s^2)				n >= 2
 *	 eta_e				(t_{n-1} - t_0)^2 / (n-1)^3
 *						* sum ((m_{i+1} - m_i) / (t_{i+1} - t_i))^2 / s^2,
 *						the sum over pairs with t_{i+1} > t_i; undefined
 *						when t_{n-1} = t_0								n >= 2
 *	 excess_variance	(s^2 - mean(d^2)) / <m>^2; undefined when <m> = 0	n >= 2
 *	 chi2				sum z^2 / (n - 1)									n >= 2
 *	 stetson_k			sum |z| / sqrt(n sum z^2)							n >= 2
 *	 maximum_slope		max |(m_{i+1} - m_i) / (t_{i+1} - t_i)| over pairs
 *						with t_{i+1} > t_i; undefined without one			n >= 2
 *	 linear_trend, linear_trend_sigma, linear_trend_noise
 *						ordinary least squares m = a + b t: b, sqrt(S^2 /
 *						sum (t - <t>)^2), S = sqrt(sum r^2 / (n - 2)), r the
 *						residuals; undefined when all t are equal			n >= 3
 *	 linear_fit_slope, linear_fit_slope_sigma, linear_fit_reduced_chi2
 *						weighted (1/d^2) least squares: b, sqrt(1 / sum
 *						(t - tw)^2 / d^2) (tw the weighted mean time; not
 *						scaled by the chi^2), sum (r / d)^2 / (n - 2);
 *						undefined when all t are equal					n >= 3
 *
 * Constant fluxes (s = 0; mw is then that flux, not its rounded weighted
 * mean) leave kurtosis, anderson_darling_normal, cusum, eta, eta_e,
 * stetson_k and the flux percentile ratios undefined (0/0); the rest keep
 * their values (0 for the spreads, chi2 0, the fits' slope 0).
 */
#ifndef ANTARES_LC_STATS_H
#define ANTARES_LC_STATS_H

#include <stddef.h>

#include "kernel_host.h"

/* The FATS flux percentile ratios mid20 .. mid80. */
#define LC_STATS_N_FPR 5

typedef struct LcStats
{
	size_t		observation_count;
	double		duration;
	double		minimum_time_interval;
	double		maximum_time_interval;
	double		median;
	double		mean_variance;
	double		percent_amplitude;
	double		inter_percentile_range_10;
	double		median_buffer_range_percentage_10;
	double		flux_percentile_ratio[LC_STATS_N_FPR];	/* mid20, 35, 50, 65, 80 */
	double		kurtosis;
	double		anderson_darling_normal;
	double		cusum;
	double		eta;
	double		eta_e;
	double		excess_variance;
	double		chi2;
	double		stetson_k;
	double		maximum_slope;
	double		linear_trend;
	double		linear_trend_sigma;
	double		linear_trend_noise;
	double		linear_fit_slope;
	double		linear_fit_slope_sigma;
	double		linear_fit_reduced_chi2;
} LcStats;

typedef enum LcStatsStatus
{
	LC_STATS_OK = 0,
	LC_STATS_OUT_OF_RANGE,		/* a result (or the span of t) beyond double range */
	LC_STATS_NO_MEMORY,
	LC_STATS_INTERRUPTED
} LcStatsStatus;

/*
 * Every statistic of t, flux, dflux[0..n-1]: finite values, dflux > 0,
 * sorted by (t, flux, dflux).  Needs 3 n doubles from the host.  On a status
 * other than LC_STATS_OK *out is undefined and nothing is held.
 */
extern LcStatsStatus lc_stats(const double *t, const double *flux, const double *dflux,
							  size_t n, const KernelHost *host, LcStats *out);

#endif							/* ANTARES_LC_STATS_H */
