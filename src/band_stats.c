/*
 * band_stats.c
 *		Per-band light-curve statistics (see band_stats.h for definitions).
 *
 * Cost: O(n log n) for the sort, everything else O(n) and allocation-free.
 * The sort is what makes results independent of input order; it also gives
 * min, max and the median directly, and lets the MAD be found without a
 * second sort: around the median the absolute deviations form two ascending
 * runs (walking left and walking right), so their median is a merge walk.
 *
 * Sums use Neumaier's compensated summation, so results are within an ulp or
 * two of the exact value and do not drift with n.
 */
#include "band_stats.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

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

static int
cmp_obs(const void *a, const void *b)
{
	const BandObs *x = a;
	const BandObs *y = b;

	if (x->flux != y->flux)
		return x->flux < y->flux ? -1 : 1;
	if (x->dflux != y->dflux)
		return x->dflux < y->dflux ? -1 : 1;
	return 0;
}

/* Median of an ascending run of fluxes; mean of the middle two for even n. */
static double
sorted_median(const BandObs *obs, size_t n)
{
	if (n % 2 == 1)
		return obs[n / 2].flux;
	return (obs[n / 2 - 1].flux + obs[n / 2].flux) / 2.0;
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
	return n % 2 == 1 ? cur : (prev + cur) / 2.0;
}

BandStatus
band_stats(BandObs *obs, size_t n, BandStats *out)
{
	CompSum		sw = {0},
				swf = {0},
				sf = {0},
				sd2 = {0},
				sd3 = {0};
	double		mean,
				fbar,
				sd,
				m2,
				m3,
				range;
	bool		mean_usable;
	size_t		far = 0;

	out->n = n;
	out->mean = out->std = out->amp = out->mad = out->beyond = out->skew = NAN;
	if (n == 0)
		return BAND_OK;

	qsort(obs, n, sizeof(BandObs), cmp_obs);

	for (size_t i = 0; i < n; i++)
	{
		double		ratio = obs[i].flux / obs[i].dflux;
		double		w = ratio * ratio;

		comp_add(&sw, w);
		comp_add(&swf, obs[i].flux * w);
		comp_add(&sf, obs[i].flux);
	}
	fbar = comp_value(&sf) / (double) n;
	for (size_t i = 0; i < n; i++)
	{
		double		d = obs[i].flux - fbar;

		comp_add(&sd2, d * d);
		comp_add(&sd3, d * d * d);
	}
	range = obs[n - 1].flux - obs[0].flux;
	if (!isfinite(comp_value(&sw)) || !isfinite(comp_value(&swf)) ||
		!isfinite(fbar) || !isfinite(comp_value(&sd2)) ||
		!isfinite(comp_value(&sd3)) || !isfinite(range))
		return BAND_OVERFLOW;

	/* All fluxes zero (or underflowing weights): the mean is 0/0. */
	mean = comp_value(&sw) > 0.0 ? comp_value(&swf) / comp_value(&sw) : NAN;
	mean_usable = !isnan(mean) && mean != 0.0;
	out->mean = mean;

	out->mad = sorted_mad(obs, n, sorted_median(obs, n));
	if (mean_usable)
		out->amp = range / mean;

	if (n >= 2)
	{
		sd = sqrt(comp_value(&sd2) / (double) (n - 1));
		if (mean_usable)
			out->std = sd / fabs(mean);
		if (!isnan(mean))
		{
			for (size_t i = 0; i < n; i++)
				if (fabs(obs[i].flux - mean) > sd)
					far++;
			out->beyond = (double) far / (double) n;
		}
	}

	/* Constant fluxes have no skewness (m2 = 0). */
	m2 = comp_value(&sd2) / (double) n;
	m3 = comp_value(&sd3) / (double) n;
	if (range > 0.0 && m2 > 0.0)
		out->skew = m3 / pow(m2, 1.5);
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
