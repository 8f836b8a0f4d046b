/*
 * band_arrays.h
 *		One band's observations from SQL arrays: the glue every per-band
 *		function over (t float8[], flux float8[], dflux float8[]) shares.
 */
#ifndef ANTARES_BAND_ARRAYS_H
#define ANTARES_BAND_ARRAYS_H

#include "postgres.h"

#include "utils/array.h"

#include "bazin.h"
#include "gp_sql.h"
#include "lc_stats.h"
#include "lomb_scargle.h"

/* A band sorted by (t, flux, dflux): three arrays of n, in one palloc'd block. */
typedef struct BandArrays
{
	int			n;
	double	   *t;
	double	   *flux;
	double	   *dflux;
} BandArrays;

/*
 * The arrays as one band, checked and sorted, so that a function's result
 * does not depend on the order of its input.  ERRORs name the array and
 * the 1-based position: more than one dimension or different lengths
 * (2202E), a NULL element (22004), NaN or infinity, dflux <= 0 (22023), a
 * span of t beyond double range (22003).  Cost: O(n log n), 48 bytes a
 * point (a sorted copy, then the three arrays).
 */
extern BandArrays band_arrays(ArrayType *t, ArrayType *flux, ArrayType *dflux);

/*
 * The elements of a float8 array named name, checked as above: one
 * dimension (or none), no NULL, finite, > 0 if positive.  A pointer into
 * the array (float8 elements without NULLs are contiguous: nothing is
 * copied); *n its length.
 */
extern const double *checked_float8_values(ArrayType *a, const char *name, bool positive, int *n);

/*
 * ERROR unless v, the value of name, is finite (and > 0 if positive): 22023,
 * naming the 1-based position when position > 0.  The per-row check of the
 * aggregates over (t, flux, dflux) rows, the per-element one of the arrays.
 */
extern void check_band_value(const char *name, double v, bool positive, int position);

/*
 * n observations sorted by gp_obs_kind's order as a band: the split into
 * three arrays, and the ERROR (22003) for a span of t beyond a double.
 */
extern BandArrays band_arrays_of_obs(const GpObs *obs, int n);

/*
 * A band's results as the array functions compute them (band_statistics,
 * lomb_scargle with opt and method, bazin_fit), with their ERRORs; shared
 * with the aggregates over rows so that both give the same numbers.
 */
extern void band_lc_stats(const BandArrays *band, LcStats *s);
/* The antares.band_statistics row of a band, for a function returning it. */
extern Datum band_statistics_datum(const BandArrays *band, FunctionCallInfo fcinfo);
extern void band_ls_peak(const BandArrays *band, const LsGridOptions *opt, LsMethod method,
						 LsPeak *peak);
extern void band_bazin_fit(const BandArrays *band, BazinFit *fit);

#endif							/* ANTARES_BAND_ARRAYS_H */
