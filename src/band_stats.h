/*
 * band_stats.h
 *		Per-band light-curve statistics: a plain-C kernel, no PostgreSQL types.
 *
 * The definitions are the LSST DSFP "miniANTARES" exercise's, for one passband
 * with fluxes f_i and 1-sigma uncertainties s_i:
 *
 *	 mean	 weighted mean  sum(f (f/s)^2) / sum((f/s)^2)
 *	 std	 sample std (ddof 1) of f / mean
 *	 amp	 (max f - min f) / mean
 *	 mad	 median(|f - median(f)|), unscaled
 *	 beyond	 fraction of f with |f - mean| > std(f, ddof 1)
 *	 skew	 biased Fisher-Pearson skewness m3 / m2^1.5
 *
 * An undefined statistic (too few points, a zero or undefined mean, constant
 * fluxes for skew) is NaN; since inputs must be finite, NaN in a result only
 * ever means "undefined".
 */
#ifndef ANTARES_BAND_STATS_H
#define ANTARES_BAND_STATS_H

#include <stddef.h>

typedef struct BandObs
{
	double		flux;
	double		dflux;
} BandObs;

typedef struct BandStats
{
	size_t		n;
	double		mean;
	double		std;
	double		amp;
	double		mad;
	double		beyond;
	double		skew;
} BandStats;

typedef enum BandStatus
{
	BAND_OK = 0,
	BAND_OUT_OF_RANGE			/* flux/dflux, or the MAD, beyond double range */
} BandStatus;

/*
 * Observations are ordered by flux, then dflux.  Statistics are computed on
 * that order, so they do not depend on the order rows arrived in: serial,
 * parallel and merged states give bit-identical answers.
 */
extern int	band_obs_cmp(const void *a, const void *b);	/* qsort-compatible */
extern void band_obs_sort(BandObs *obs, size_t n);

/* Every statistic of obs[0..n-1], which must be in band_obs_cmp order. */
extern BandStatus band_stats_sorted(const BandObs *obs, size_t n, BandStats *out);

/* The same for observations in any order: sorts obs in place first. */
extern BandStatus band_stats(BandObs *obs, size_t n, BandStats *out);

/* -2.5 log10(mean_x / mean_y); NaN unless both means are finite and > 0. */
extern double band_color(double mean_x, double mean_y);

#endif							/* ANTARES_BAND_STATS_H */
