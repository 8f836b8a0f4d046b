/*
 * band_stats.c
 *		Per-band light-curve statistics (see band_stats.h for definitions).
 *
 * Cost: O(n log n) for the sort, everything else O(n) and allocation-free
 * (band_stats_sorted alone is O(n)).
 * The sort is what makes results independent of input order; it also gives
 * min, max and the median directly, and lets the MAD be found without a
 * second sort: around the median the absolute deviations form two ascending
 * runs (walking left and walking right), so their median is a merge walk.
 *
 * Sums use Neumaier's compensated summation, so results are within an ulp or
 * two of the exact value and do not drift with n.  Products are taken on
 * values scaled by powers of two, so any finite input gives a finite answer
 * (or a defined "undefined"), never a silent underflow to zero.
 */
#include "band_stats.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#define Max(a, b) ((a) > (b) ? (a) : (b))

typedef struct CompSum
{
	double		sum;
	double		comp;
} CompSum;

static inline void
comp_add(CompSum *s, double x)
{
	double		t = s->sum + x;

	if (fabs(s->sum) >= fabs(x))
		s->comp += (s->sum - t) + x;
	else
		s->comp += (x - t) + s->sum;
	s->sum = t;
}

static inline double
comp_value(const CompSum *s)
{
	return s->sum + s->comp;
}

int
band_obs_cmp(const void *a, const void *b)
{
	const BandObs *x = a;
	const BandObs *y = b;

	if (x->flux != y->flux)
		return x->flux < y->flux ? -1 : 1;
	if (x->dflux != y->dflux)
		return x->dflux < y->dflux ? -1 : 1;
	return 0;
}

void
band_obs_sort(BandObs *obs, size_t n)
{
	qsort(obs, n, sizeof(BandObs), band_obs_cmp);
}

/* (a + b) / 2, as numpy computes it, without overflowing near DBL_MAX. */
static inline double
midpoint(double a, double b)
{
	double		m = (a + b) / 2.0;

	return isfinite(m) ? m : a / 2.0 + b / 2.0;
}

/* Median of an ascending run of fluxes; mean of the middle two for even n. */
static double
sorted_median(const BandObs *obs, size_t n)
{
	if (n % 2 == 1)
		return obs[n / 2].flux;
	return midpoint(obs[n / 2 - 1].flux, obs[n / 2].flux);
}

/*
 * median(|f - med|) for ascending f.  Left of `split` the deviations med - f
 * grow as we walk left, from `split` on f - med grows as we walk right; merge
 * the two runs up to the middle rank.
 */
static double
sorted_mad(const BandObs *obs, size_t n, double med)
{
	size_t		split = 0;
	size_t		left,
				right;
	size_t		target = n / 2;		/* 0-based rank of the upper middle */
	double		prev = 0.0,
				cur = 0.0;

	while (split < n && obs[split].flux < med)
		split++;
	left = split;				/* next left candidate is obs[left - 1] */
	right = split;

	for (size_t rank = 0; rank <= target; rank++)
	{
		double		dl = left > 0 ? med - obs[left - 1].flux : INFINITY;
		double		dr = right < n ? obs[right].flux - med : INFINITY;

		prev = cur;
		if (dl <= dr)
		{
			cur = dl;
			left--;
		}
		else
		{
			cur = dr;
			right++;
		}
	}
	return n % 2 == 1 ? cur : midpoint(prev, cur);
}

/* The power of two at or just below |x| (x finite, non-zero). */
static inline double
pow2_floor(double x)
{
	return ldexp(1.0, ilogb(x));
}

BandStatus
band_stats(BandObs *obs, size_t n, BandStats *out)
{
	band_obs_sort(obs, n);
	return band_stats_sorted(obs, n, out);
}

BandStatus
band_stats_sorted(const BandObs *obs, size_t n, BandStats *out)
{
	CompSum		sw = {0},
				swf = {0},
				sg = {0},
				sd2 = {0},
				sd3 = {0};
	double		fscale,
				rscale,
				rmax = 0.0,
				gmean,
				gbar,
				sd,
				m2;
	bool		constant;

	out->n = n;
	out->mean = out->std = out->amp = out->mad = out->beyond = out->skew = NAN;
	if (n == 0)
		return BAND_OK;

	constant = obs[0].flux == obs[n - 1].flux;

	/* All fluxes zero: the mean is 0/0, only the MAD (0) is defined. */
	if (constant && obs[0].flux == 0.0)
	{
		out->mad = 0.0;
		return BAND_OK;
	}

	/*
	 * Work on fluxes g = f / fscale and weights (r / rscale)^2, r = f / s,
	 * scaled by powers of two: scaling is exact, so results are those of the
	 * textbook formulas, but no square or cube can under- or overflow.
	 */
	fscale = pow2_floor(Max(fabs(obs[0].flux), fabs(obs[n - 1].flux)));
	for (size_t i = 0; i < n; i++)
		rmax = Max(rmax, fabs(obs[i].flux / obs[i].dflux));
	if (rmax == 0.0 || !isfinite(rmax))
		return BAND_OUT_OF_RANGE;	/* flux/dflux outside double range */
	rscale = pow2_floor(rmax);

	for (size_t i = 0; i < n; i++)
	{
		double		g = obs[i].flux / fscale;
		double		q = (obs[i].flux / obs[i].dflux) / rscale;
		double		w = q * q;

		comp_add(&sw, w);
		comp_add(&swf, g * w);
		comp_add(&sg, g);
	}
	/* For constant fluxes every mean is that flux; rounding must not say 1 ulp off. */
	gbar = constant ? obs[0].flux / fscale : comp_value(&sg) / (double) n;
	gmean = constant ? gbar : comp_value(&swf) / comp_value(&sw);
	for (size_t i = 0; i < n; i++)
	{
		double		d = obs[i].flux / fscale - gbar;

		comp_add(&sd2, d * d);
		comp_add(&sd3, d * d * d);
	}

	out->mean = gmean * fscale;
	out->mad = sorted_mad(obs, n, sorted_median(obs, n));
	if (!isfinite(out->mad))
		return BAND_OUT_OF_RANGE;	/* deviations of fluxes near DBL_MAX */

	/* The normalised statistics and the skewness are free of fscale. */
	if (gmean != 0.0)
		out->amp = (obs[n - 1].flux / fscale - obs[0].flux / fscale) / gmean;
	if (n >= 2)
	{
		size_t		far = 0;

		sd = sqrt(comp_value(&sd2) / (double) (n - 1));
		if (gmean != 0.0)
			out->std = sd / fabs(gmean);
		for (size_t i = 0; i < n; i++)
			if (fabs(obs[i].flux / fscale - gmean) > sd)
				far++;
		out->beyond = (double) far / (double) n;
	}
	m2 = comp_value(&sd2) / (double) n;
	if (!constant && m2 > 0.0)
		out->skew = (comp_value(&sd3) / (double) n) / pow(m2, 1.5);
	return BAND_OK;
}

double
band_color(double mean_x, double mean_y)
{
	double		ratio;

	if (!(isfinite(mean_x) && isfinite(mean_y) && mean_x > 0.0 && mean_y > 0.0))
		return NAN;
	ratio = mean_x / mean_y;
	if (ratio == 1.0)
		return 0.0;				/* not -0 */
	/* The quotient can leave double range where the logarithms do not. */
	if (ratio == 0.0 || !isfinite(ratio))
		return -2.5 * (log10(mean_x) - log10(mean_y));
	return -2.5 * log10(ratio);
}
