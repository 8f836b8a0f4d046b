/*
 * lc_stats.c
 *		Broker-grade statistics of one band (definitions in lc_stats.h).
 *
 * Cost: one sort of a copy of the fluxes, O(n log n), for the quantiles and
 * the Anderson-Darling sum; the rest is five O(n) passes without allocation
 * (time order: moments, cusum, eta, slopes; the weighted mean and its
 * residuals; the two straight-line fits).  Memory: 3 n doubles, taken once.
 *
 * Scaling.  Fluxes and errors are divided by fscale, and times (minus t_0)
 * by tscale, powers of two near their magnitudes: exact, so results are
 * those of the formulas, but no square or fourth power of a finite input
 * under- or overflows on the way.  Results with units are scaled back at the
 * end; one that leaves double range there is beyond range in truth
 * (LC_STATS_OUT_OF_RANGE).  Sums of squares of z = (m - mw)/d and of the
 * fits' normalised residuals, whose size the inputs do not bound, are taken
 * on z / max|z| for the same reason.
 */
#include "lc_stats.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#define Max(a, b) ((a) > (b) ? (a) : (b))
#define Min(a, b) ((a) < (b) ? (a) : (b))

/* Numerator quantiles of the FATS flux percentile ratios mid20 .. mid80. */
static const double fpr_low[LC_STATS_N_FPR] = {0.40, 0.325, 0.25, 0.175, 0.10};

/* The power of two at or just below |x| (x finite, non-zero). */
static inline double
pow2_floor(double x)
{
	return ldexp(1.0, ilogb(x));
}

/* Hazen's quantile p of ascending x[0..n-1] (lc_stats.h). */
static double
quantile(const double *x, size_t n, double p)
{
	double		h = (double) n * p - 0.5;
	double		k;

	if (h < 0.0)
		return x[0];
	k = floor(h);
	if (k >= (double) (n - 1))
		return x[n - 1];
	return x[(size_t) k] + (h - k) * (x[(size_t) k + 1] - x[(size_t) k]);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * Sorts x ascending.  A band has a few dozen points: insertion sort there
 * (glibc's qsort is a merge sort through a comparator call, 3-4x slower at
 * n = 24), qsort beyond.
 */
static void
sort_doubles(double *x, size_t n)
{
	if (n > 32)
	{
		qsort(x, n, sizeof(double), cmp_double);
		return;
	}
	for (size_t i = 1; i < n; i++)
	{
		double		v = x[i];
		size_t		j = i;

		for (; j > 0 && x[j - 1] > v; j--)
			x[j] = x[j - 1];
		x[j] = v;
	}
}

/*
 * ln Phi(y) and ln(1 - Phi(y)) = ln Phi(-y), the logs of the normal CDF at
 * y and -y, from one erfc: the smaller of the two probabilities is the tail
 * e = erfc(|y|/sqrt2)/2, which erfc gives to full relative precision, and
 * the larger is 1 - e (log1p).  Beyond |y|/sqrt2 = 26, where erfc nears
 * underflow (1e-296), ln e comes from the asymptotic series
 * ln erfc(x) = -x^2 - ln(x sqrt(pi)) + ln(1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6)),
 * whose next term is below 1e-11 there; 1 - e is then 1.
 */
static void
log_normal_cdfs(double y, double *log_cdf, double *log_sf)
{
	const double sqrt2 = 1.41421356237309504880,
				sqrt_pi = 1.77245385090551602730,
				ln2 = 0.69314718055994530942;
	double		x = fabs(y) / sqrt2;
	double		log_tail,
				log_body;

	if (x < 26.0)
	{
		double		tail = 0.5 * erfc(x);

		log_tail = log(tail);
		log_body = log1p(-tail);
	}
	else
	{
		double		x2 = x * x;

		log_tail = -x2 - log(x * sqrt_pi) - ln2
			+ log1p(-1.0 / (2.0 * x2) + 3.0 / (4.0 * x2 * x2) - 15.0 / (8.0 * x2 * x2 * x2));
		log_body = 0.0;
	}
	*log_cdf = y < 0.0 ? log_tail : log_body;
	*log_sf = y < 0.0 ? log_body : log_tail;
}

/* sum z^2 and sum |z| over z[0..n-1], the squares taken on z / max|z|. */
static void
sum_squares(const double *z, size_t n, double *sumsq, double *sumabs)
{
	double		zmax = 0.0,
				sq = 0.0,
				ab = 0.0;

	for (size_t i = 0; i < n; i++)
		zmax = Max(zmax, fabs(z[i]));
	if (zmax == 0.0 || !isfinite(zmax))
	{
		*sumsq = zmax;
		*sumabs = zmax;
		return;
	}
	for (size_t i = 0; i < n; i++)
	{
		double		q = z[i] / zmax;

		sq += q * q;
		ab += fabs(q);
	}
	*sumsq = sq * zmax * zmax;
	*sumabs = ab * zmax;
}

/* Statistics of the ascending scaled fluxes x (flux-valued ones in units of x). */
static void
order_stats(const double *x, size_t n, double mean, double sd, LcStats *out)
{
	double		med = n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
	double		threshold = 0.1 * 0.5 * (x[n - 1] - x[0]);
	double		denom = quantile(x, n, 0.95) - quantile(x, n, 0.05);
	size_t		inside = 0;

	out->median = med;
	out->percent_amplitude = Max(x[n - 1] - med, med - x[0]);
	out->inter_percentile_range_10 = quantile(x, n, 0.9) - quantile(x, n, 0.1);
	for (size_t i = 0; i < n; i++)
		inside += fabs(x[i] - med) < threshold;
	out->median_buffer_range_percentage_10 = (double) inside / (double) n;
	if (denom > 0.0)
		for (int k = 0; k < LC_STATS_N_FPR; k++)
			out->flux_percentile_ratio[k] =
				(quantile(x, n, 1.0 - fpr_low[k]) - quantile(x, n, fpr_low[k])) / denom;

	if (n >= 4 && sd > 0.0)
	{
		double		nn = (double) n,
					sum = 0.0;

		for (size_t i = 0; i < n; i++)
		{
			double		log_cdf,
						log_sf;

			log_normal_cdfs((x[i] - mean) / sd, &log_cdf, &log_sf);
			sum += (2.0 * (double) i + 1.0) * log_cdf + (2.0 * (double) (n - i) - 1.0) * log_sf;
		}
		out->anderson_darling_normal = (1.0 + 4.0 / nn - 25.0 / (nn * nn)) * (-nn - sum / nn);
	}
}

/*
 * Moments and time-order statistics of g (scaled fluxes) at u (scaled times
 * from t_0): kurtosis, cusum, eta, eta_e, maximum_slope, in units of g and u.
 */
static void
moment_stats(const double *u, const double *g, size_t n, double mean, double m2,
			 LcStats *out)
{
	double		m4 = 0.0,
				cum = 0.0,
				cmin = INFINITY,
				cmax = -INFINITY,
				dg2 = 0.0,
				slope2 = 0.0,
				slope_max = -1.0;
	double		nn = (double) n;

	for (size_t i = 0; i < n; i++)
	{
		double		d = g[i] - mean;

		m4 += d * d * d * d;
		cum += d;
		cmin = Min(cmin, cum);
		cmax = Max(cmax, cum);
		if (i + 1 < n)
		{
			double		dg = g[i + 1] - g[i];
			double		du = u[i + 1] - u[i];

			dg2 += dg * dg;
			if (du > 0.0)
			{
				double		slope = dg / du;

				slope2 += slope * slope;
				slope_max = Max(slope_max, fabs(slope));
			}
		}
	}
	if (slope_max >= 0.0)
		out->maximum_slope = slope_max;
	if (m2 == 0.0)
		return;					/* constant fluxes */

	{
		double		var = m2 / (nn - 1.0);
		double		span = u[n - 1] - u[0];

		if (n >= 4)
			out->kurtosis = nn * (nn + 1.0) / ((nn - 1.0) * (nn - 2.0) * (nn - 3.0)) * m4 / (var * var)
				- 3.0 * (nn - 1.0) * (nn - 1.0) / ((nn - 2.0) * (nn - 3.0));
		out->cusum = (cmax - cmin) / (nn * sqrt(var));
		out->eta = dg2 / ((nn - 1.0) * var);
		if (span > 0.0)
			out->eta_e = span * span * slope2 / ((nn - 1.0) * (nn - 1.0) * (nn - 1.0) * var);
	}
}

/*
 * The weighted statistics: chi2 and stetson_k about the weighted mean, and
 * the weighted straight line.  w_i = (dmin / d_i)^2 are relative weights (at
 * most 1, so never overflowing); e = d / fscale the scaled errors; z scratch.
 */
static void
weighted_stats(const double *u, const double *g, const double *dflux, size_t n,
			   double fscale, bool constant, double *z, LcStats *out)
{
	double		dmin = dflux[0],
				sw = 0.0,
				swg = 0.0,
				swu = 0.0,
				stt = 0.0,
				sty = 0.0,
				gw,
				uw,
				sumsq,
				sumabs;

	for (size_t i = 1; i < n; i++)
		dmin = Min(dmin, dflux[i]);
	for (size_t i = 0; i < n; i++)
	{
		double		r = dmin / dflux[i];
		double		w = r * r;

		sw += w;
		swg += w * g[i];
		swu += w * u[i];
	}
	/* equal fluxes: their weighted mean, rounded, may be 1 ulp off them */
	gw = constant ? g[0] : swg / sw;
	uw = swu / sw;
	for (size_t i = 0; i < n; i++)
		z[i] = (g[i] - gw) / (dflux[i] / fscale);
	sum_squares(z, n, &sumsq, &sumabs);
	out->chi2 = sumsq / (double) (n - 1);
	if (sumsq > 0.0)
		out->stetson_k = sumabs / sqrt((double) n * sumsq);

	if (n < 3)
		return;
	for (size_t i = 0; i < n; i++)
	{
		double		r = dmin / dflux[i];
		double		du = u[i] - uw;

		stt += r * r * du * du;
		sty += r * r * du * (g[i] - gw);
	}
	if (stt == 0.0)
		return;					/* all points at one time */
	{
		double		b = sty / stt;

		for (size_t i = 0; i < n; i++)
			z[i] = (g[i] - gw - b * (u[i] - uw)) / (dflux[i] / fscale);
		sum_squares(z, n, &sumsq, &sumabs);
		out->linear_fit_slope = b;
		/*
		 * sigma^2 = 1 / sum (t - tw)^2 / d^2 = dmin^2 / (tscale^2 stt): kept
		 * as dmin / sqrt(stt), in units of flux / u, for unscale
		 */
		out->linear_fit_slope_sigma = dmin / sqrt(stt);
		out->linear_fit_reduced_chi2 = sumsq / (double) (n - 2);
	}
}

/* Ordinary least squares g = a + b u: linear_trend, its sigma and noise. */
static void
trend_stats(const double *u, const double *g, size_t n, double gmean, LcStats *out)
{
	double		umean = 0.0,
				stt = 0.0,
				sty = 0.0,
				ss = 0.0,
				b,
				noise2;

	for (size_t i = 0; i < n; i++)
		umean += u[i];
	umean /= (double) n;
	for (size_t i = 0; i < n; i++)
	{
		stt += (u[i] - umean) * (u[i] - umean);
		sty += (u[i] - umean) * (g[i] - gmean);
	}
	if (stt == 0.0)
		return;
	b = sty / stt;
	for (size_t i = 0; i < n; i++)
	{
		double		r = g[i] - gmean - b * (u[i] - umean);

		ss += r * r;
	}
	noise2 = ss / (double) (n - 2);
	out->linear_trend = b;
	out->linear_trend_sigma = sqrt(noise2 / stt);
	out->linear_trend_noise = sqrt(noise2);
}

/*
 * The outputs back in the units of t and flux (fscale = 2^fexp, tscale =
 * 2^texp: ldexp is exact); false when one leaves double range.
 */
static bool
unscale(LcStats *s, int fexp, int texp)
{
	double	   *flux_valued[] = {&s->median, &s->percent_amplitude,
		&s->inter_percentile_range_10, &s->linear_trend_noise};
	double	   *slopes[] = {&s->maximum_slope, &s->linear_trend, &s->linear_trend_sigma,
		&s->linear_fit_slope};
	double	   *all = &s->duration;
	size_t		n_all = (sizeof(LcStats) - offsetof(LcStats, duration)) / sizeof(double);

	for (size_t i = 0; i < sizeof(flux_valued) / sizeof(flux_valued[0]); i++)
		*flux_valued[i] = ldexp(*flux_valued[i], fexp);
	for (size_t i = 0; i < sizeof(slopes) / sizeof(slopes[0]); i++)
		*slopes[i] = ldexp(*slopes[i], fexp - texp);
	s->linear_fit_slope_sigma = ldexp(s->linear_fit_slope_sigma, -texp);
	for (size_t i = 0; i < n_all; i++)
		if (isinf(all[i]))
			return false;
	return true;
}

/* Polls after a pass of n steps; true when the host says stop. */
static inline bool
stop_after(const KernelHost *host, size_t *meter, size_t n)
{
	return host_work(host, meter, n) != 0;
}

LcStatsStatus
lc_stats(const double *t, const double *flux, const double *dflux, size_t n,
		 const KernelHost *host, LcStats *out)
{
	double		fscale = 0.0,
				span,
				tscale,
				mean = 0.0,
				m2 = 0.0,
				sd = 0.0;
	double	   *buf,
			   *g,
			   *u,
			   *x;
	size_t		meter = 0;
	bool		constant,
				ok;

	*out = (LcStats) {.observation_count = n};
	for (double *p = &out->duration; p <= &out->linear_fit_reduced_chi2; p++)
		*p = NAN;
	if (n == 0)
		return LC_STATS_OK;

	span = t[n - 1] - t[0];
	if (!isfinite(span))
		return LC_STATS_OUT_OF_RANGE;
	out->duration = span;
	for (size_t i = 0; i < n; i++)
		fscale = Max(fscale, fabs(flux[i]));
	fscale = fscale > 0.0 ? pow2_floor(fscale) : 1.0;
	tscale = span > 0.0 ? pow2_floor(span) : 1.0;

	buf = host_alloc_array(host, 3 * n, sizeof(double));
	if (buf == NULL)
		return LC_STATS_NO_MEMORY;
	g = buf;
	u = buf + n;
	x = buf + 2 * n;

	/* time order: scaled fluxes and times, the intervals, the mean */
	for (size_t i = 0; i < n; i++)
	{
		g[i] = flux[i] / fscale;
		u[i] = (t[i] - t[0]) / tscale;
		mean += g[i];
		x[i] = g[i];
		if (i == 1)
			out->minimum_time_interval = out->maximum_time_interval = t[1] - t[0];
		else if (i > 1)
		{
			out->minimum_time_interval = Min(out->minimum_time_interval, t[i] - t[i - 1]);
			out->maximum_time_interval = Max(out->maximum_time_interval, t[i] - t[i - 1]);
		}
	}
	mean /= (double) n;
	sort_doubles(x, n);
	if (stop_after(host, &meter, n))
		goto interrupted;

	constant = x[0] == x[n - 1];
	if (constant)
		mean = x[0];			/* rounding must not leave a spread of 1 ulp */
	else
		for (size_t i = 0; i < n; i++)
			m2 += (g[i] - mean) * (g[i] - mean);
	if (n >= 2)
		sd = sqrt(m2 / (double) (n - 1));

	order_stats(x, n, mean, sd, out);
	moment_stats(u, g, n, mean, m2, out);
	if (stop_after(host, &meter, 2 * n))
		goto interrupted;
	if (n >= 2)
	{
		double		e2 = 0.0;

		for (size_t i = 0; i < n; i++)
		{
			double		e = dflux[i] / fscale;

			e2 += e * e;
		}
		if (mean != 0.0)
		{
			out->mean_variance = sd / mean;
			out->excess_variance = (sd * sd - e2 / (double) n) / (mean * mean);
		}
		/* x, sorted, is no longer needed: the scratch of the weighted sums */
		weighted_stats(u, g, dflux, n, fscale, constant, x, out);
	}
	if (n >= 3)
		trend_stats(u, g, n, mean, out);
	if (stop_after(host, &meter, 3 * n))
		goto interrupted;

	host_free(host, buf);
	ok = unscale(out, ilogb(fscale), ilogb(tscale));
	return ok ? LC_STATS_OK : LC_STATS_OUT_OF_RANGE;

interrupted:
	host_free(host, buf);
	return LC_STATS_INTERRUPTED;
}
