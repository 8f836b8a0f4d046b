/*
 * band_arrays.h
 *		One band's observations from SQL arrays: the glue every per-band
 *		function over (t float8[], flux float8[], dflux float8[]) shares.
 */
#ifndef ANTARES_BAND_ARRAYS_H
#define ANTARES_BAND_ARRAYS_H

#include "postgres.h"

#include "utils/array.h"

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

#endif							/* ANTARES_BAND_ARRAYS_H */
