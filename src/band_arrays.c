/*
 * band_arrays.c
 *		One band's observations from SQL arrays (see band_arrays.h).
 */
#include "band_arrays.h"

#include <math.h>

#include "access/tupmacs.h"
#include "utils/float.h"


const double *
checked_float8_values(ArrayType *a, const char *name, bool positive, int *n)
{
	const double *v;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array, got %d dimensions",
						name, ARR_NDIM(a))));
	*n = ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0];
	if (ARR_HASNULL(a))
		for (int i = 0; i < *n; i++)
			if (att_isnull(i, ARR_NULLBITMAP(a)))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("%s must not contain NULL, got NULL at position %d", name, i + 1)));
	/* ARR_DATA_PTR, spelt out: the macro mixes signedness under -Wextra */
	v = (const double *) ((const char *) a + (ARR_HASNULL(a) ? (Size) a->dataoffset
											  : (Size) ARR_OVERHEAD_NONULLS(1)));
	for (int i = 0; i < *n; i++)
		check_band_value(name, v[i], positive, i + 1);
	return v;
}

void
check_band_value(const char *name, double v, bool positive, int position)
{
	if (isfinite(v) && (!positive || v > 0.0))
		return;
	if (position > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be %s, got %s at position %d", name,
						positive ? "positive and finite" : "finite",
						float8out_internal(v), position)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must be %s, got %s", name,
					positive ? "positive and finite" : "finite", float8out_internal(v))));
}

BandArrays
band_arrays_of_obs(const GpObs *obs, int n)
{
	double	   *block = palloc_extended(Max(3 * (Size) n, 1) * sizeof(double), MCXT_ALLOC_HUGE);
	BandArrays	band = {n, block, block + n, block + 2 * (Size) n};

	for (int i = 0; i < n; i++)
	{
		band.t[i] = obs[i].t;
		band.flux[i] = obs[i].flux;
		band.dflux[i] = obs[i].dflux;
	}
	gp_check_span(band.t, n);
	return band;
}

BandArrays
band_arrays(ArrayType *t_array, ArrayType *flux_array, ArrayType *dflux_array)
{
	int			nt,
				nf,
				nd;
	const double *t = checked_float8_values(t_array, "t", false, &nt);
	const double *flux = checked_float8_values(flux_array, "flux", false, &nf);
	const double *dflux = checked_float8_values(dflux_array, "dflux", true, &nd);
	GpObs	   *obs;
	BandArrays	band;

	if (nt != nf || nt != nd)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("t, flux and dflux must have the same length, got %d, %d and %d",
						nt, nf, nd)));
	/* 24 bytes a point: over 1 GB from 45 million points on */
	obs = palloc_extended(Max(nt, 1) * sizeof(GpObs), MCXT_ALLOC_HUGE);
	for (int i = 0; i < nt; i++)
		obs[i] = (GpObs) {t[i], flux[i], dflux[i]};
	qsort(obs, nt, sizeof(GpObs), gp_obs_kind.cmp);
	band = band_arrays_of_obs(obs, nt);
	pfree(obs);
	return band;
}
