/*
 * lomb_scargle.h
 *		The generalised (floating-mean) Lomb-Scargle periodogram of one
 *		passband: a plain-C kernel, no PostgreSQL types.
 *
 * Definitions.  Observations (t_i, y_i, s_i), i = 1..n, sorted by t; weights
 * w_i = s_i^-2 / sum_j s_j^-2 (they sum to 1), the weighted mean
 * ybar = sum w_i y_i and yc_i = y_i - ybar.  At frequency f, with
 * c_i = cos(2 pi f t_i), s_i = sin(2 pi f t_i) and every sum weighted by w:
 *
 *	 C = sum w c,  S = sum w s,  Ch = sum w yc c,	Sh = sum w yc s,
 *	 C2 = sum w cos(4 pi f t),	S2 = sum w sin(4 pi f t),	YY = sum w yc^2
 *	 CC = (1 + C2) / 2 - C^2,  SS = (1 - C2) / 2 - S^2,  CS = S2 / 2 - C S
 *	 D = CC SS - CS^2
 *	 power(f) = (SS Ch^2 + CC Sh^2 - 2 CS Ch Sh) / (D YY)
 *
 * power(f) is the fraction of the weighted variance about the mean that the
 * best fit of a + b cos(2 pi f t) + c sin(2 pi f t) removes, in [0, 1]
 * (Zechmeister & Kuerster 2009, their eq. 20 with the covariances above):
 * astropy's LombScargle(t, y, dy).power(f) with its defaults (fit_mean,
 * center_data, normalization 'standard'), which computes the same quantity
 * in the time-shifted (tau) form from the same six sums.  CC, CS, SS are
 * the weighted covariance matrix of (cos, sin): when its smaller eigenvalue
 * (~D / (CC + SS)) is at most LS_DEGENERATE, below what sums of terms of
 * size 1 resolve (e.g. times on a grid whose phases coincide at f), the fit
 * keeps its one resolved direction: power = (CC Ch^2 + SS Sh^2 + 2 CS Ch Sh)
 * / ((CC + SS)^2 YY), and 0 when CC + SS <= LS_DEGENERATE too (astropy
 * divides by the rounding error there).
 *
 * Undefined (NaN), as a whole: fewer than 4 distinct times (the fit has 3
 * parameters: it is singular for 2 times and exact, power 1 at every
 * frequency, for 3), or all fluxes equal (YY = 0).
 *
 * The frequency grid (astropy's LombScargle.autofrequency): with the
 * baseline T = t_n - t_1,
 *	 df = 1 / T / samples_per_peak
 *	 f_min = 1 / max_period, or df / 2 when max_period is infinite
 *	 f_max = 1 / min_period, or nyquist_factor * n / (2 T) when min_period is 0
 *	 n_frequencies = max(0, 1 + round_half_even((f_max - f_min) / df))
 *	 f_k = f_min + df k,  k = 0 .. n_frequencies - 1
 * Undefined (0 frequencies) when T = 0 (n < 2 or all times equal).
 *
 * The peak: the first k of largest power (numpy.argmax over the defined
 * powers), its frequency, period 1 / f_k and power; period_s_to_n =
 * (power_peak - mean) / sd over the defined powers of the grid, sd with
 * ddof 1 (the light-curve package's period_s_to_n_0); NaN when fewer than
 * two powers are defined or sd = 0.
 *
 * Methods (cost in lomb_scargle.c):
 *	 LS_DIRECT	the sums over the points at each frequency (exact to rounding);
 *	 LS_FAST	Press & Rybicki (1989): each weighted sum extirpolated onto a
 *				regular grid of 2^k >= 5 n_frequencies points (Lagrange weights
 *				of the 4 nearest), one complex FFT per sum, then astropy's tau
 *				form (a term whose CC or SS is 0 counts 0): astropy's method
 *				'fast' (oversampling 5, Mfft 4), an approximation, poor for
 *				short bands (its power can leave [0, 1]);
 *	 LS_AUTO	whichever the cost model (ls_choose) says is faster.
 */
#ifndef ANTARES_LOMB_SCARGLE_H
#define ANTARES_LOMB_SCARGLE_H

#include <float.h>
#include <stddef.h>

#include "kernel_host.h"

typedef enum LsStatus
{
	LS_OK = 0,
	LS_INVALID_INPUT,			/* unsorted t, non-finite values, dflux <= 0,
								 * bad grid options */
	LS_OUT_OF_RANGE,			/* the baseline, or 1 / it, leaves double range */
	LS_TOO_MANY_FREQUENCIES,	/* the grid exceeds LS_MAX_FREQUENCIES */
	LS_NO_MEMORY,
	LS_INTERRUPTED
} LsStatus;

typedef enum LsMethod
{
	LS_AUTO = 0,
	LS_DIRECT,
	LS_FAST
} LsMethod;

/* The largest grid: the fast method's FFT then has 2^23 points (128 MB). */
#define LS_MAX_FREQUENCIES 1000000
#define LS_DEGENERATE (64 * DBL_EPSILON)

/* The defaults: astropy's autofrequency, the whole automatic range. */
#define LS_SAMPLES_PER_PEAK 5.0
#define LS_NYQUIST_FACTOR 5.0

typedef struct LsGridOptions
{
	double		min_period;		/* 0: nyquist_factor decides f_max */
	double		max_period;		/* infinity: f_min = df / 2 */
	double		samples_per_peak;	/* > 0 */
	double		nyquist_factor; /* > 0 */
} LsGridOptions;

typedef struct LsGrid
{
	double		f_min;			/* NaN when T = 0 */
	double		df;				/* NaN when T = 0 */
	size_t		n_frequencies;
} LsGrid;

typedef struct LsPeak
{
	LsGrid		grid;
	LsMethod	method;			/* the one used (LS_AUTO when nothing was
								 * computed) */
	double		frequency;		/* NaN when undefined */
	double		period;
	double		power;
	double		period_s_to_n;
} LsPeak;

/* Options valid: min_period finite >= 0, max_period > min_period (may be
 * infinite), samples_per_peak and nyquist_factor finite > 0. */
extern int	ls_options_valid(const LsGridOptions *opt);

/*
 * The grid of the sorted times t[0..n-1].  LS_OUT_OF_RANGE when T, df or
 * f_max is not a finite positive double, LS_TOO_MANY_FREQUENCIES beyond
 * LS_MAX_FREQUENCIES (grid->n_frequencies is then the count it would have,
 * saturated at SIZE_MAX).
 */
extern LsStatus ls_grid(const double *t, size_t n, const LsGridOptions *opt, LsGrid *grid);

/* The method LS_AUTO picks for n points and m frequencies. */
extern LsMethod ls_choose(size_t n, size_t m);

/*
 * The peak of the periodogram of (t, flux, dflux), sorted by t, on the
 * grid of opt, by method.  Outputs NaN where undefined (see above).
 */
extern LsStatus ls_peak(const double *t, const double *flux, const double *dflux,
						size_t n, const LsGridOptions *opt, LsMethod method,
						LsPeak *peak, const KernelHost *host);

/*
 * power[k] at the m frequencies freq[k] (any order, each finite > 0), by
 * the direct sums: NaN where undefined.
 */
extern LsStatus ls_power(const double *t, const double *flux, const double *dflux,
						 size_t n, const double *freq, size_t m, double *power,
						 const KernelHost *host);

#endif							/* ANTARES_LOMB_SCARGLE_H */
