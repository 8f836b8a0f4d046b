/*
 * lc_stats_sql.c
 *		SQL glue of the band statistics kernel (lc_stats.c):
 *		antares.band_statistics(t float8[], flux float8[], dflux float8[]).
 *
 * The arrays arrive in any order; the triples are sorted by (t, flux, dflux)
 * (the order of gp_smooth's buffer) so that the result does not depend on
 * it.  O(n log n) for that sort and the kernel's.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "gp_sql.h"
#include "kernel_host_pg.h"
#include "lc_stats.h"

PG_FUNCTION_INFO_V1(band_statistics);

/* The columns of antares.band_statistics, in the order of LcStats. */
#define BS_NATTS 29
StaticAssertDecl(sizeof(LcStats) == offsetof(LcStats, duration) + (BS_NATTS - 1) * sizeof(double),
				 "LcStats is observation_count, then one double per other column");

/*
 * The elements of a one-dimensional float8 array, checked: no NULL, finite.
 * A pointer into the array (float8 elements without NULLs are contiguous);
 * *n its length.
 */
static const double *
array_values(ArrayType *a, const char *name, int *n)
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
		if (!isfinite(v[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be finite, got %s at position %d",
							name, float8out_internal(v[i]), i + 1)));
	return v;
}

static void
report_status(LcStatsStatus status)
{
	if (status == LC_STATS_OK)
		return;
	if (status == LC_STATS_INTERRUPTED)
		pg_kernel_stopped("band statistics");
	if (status == LC_STATS_NO_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory for band statistics")));
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("band statistics out of range: a result or the span of t is beyond double precision")));
}

/* The blessed descriptor of antares.band_statistics, kept for the query. */
static TupleDesc
result_desc(FunctionCallInfo fcinfo)
{
	TupleDesc	desc = (TupleDesc) fcinfo->flinfo->fn_extra;

	if (desc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE ||
			desc->natts != BS_NATTS)
			elog(ERROR, "band_statistics must return antares.band_statistics of %d columns",
				 BS_NATTS);
		desc = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = desc;
	}
	return desc;
}

/* band_statistics(t[], flux[], dflux[]) RETURNS antares.band_statistics */
Datum
band_statistics(PG_FUNCTION_ARGS)
{
	int			nt,
				nf,
				nd;
	const double *t = array_values(PG_GETARG_ARRAYTYPE_P(0), "t", &nt);
	const double *flux = array_values(PG_GETARG_ARRAYTYPE_P(1), "flux", &nf);
	const double *dflux = array_values(PG_GETARG_ARRAYTYPE_P(2), "dflux", &nd);
	GpObs	   *obs;
	double	   *sorted;
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);
	LcStats		s;
	Datum		values[BS_NATTS];
	bool		nulls[BS_NATTS];
	const double *stat;

	if (nt != nf || nt != nd)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("t, flux and dflux must have the same length, got %d, %d and %d",
						nt, nf, nd)));
	/* 24 bytes a point: over 1 GB from 45 million points on */
	obs = palloc_extended(Max(nt, 1) * sizeof(GpObs), MCXT_ALLOC_HUGE);
	for (int i = 0; i < nt; i++)
	{
		if (!(dflux[i] > 0.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("dflux must be positive, got %s at position %d",
							float8out_internal(dflux[i]), i + 1)));
		obs[i].t = t[i];
		obs[i].flux = flux[i];
		obs[i].dflux = dflux[i];
	}
	qsort(obs, nt, sizeof(GpObs), gp_obs_kind.cmp);
	/* the kernel's arrays: t, flux, dflux in the sorted order */
	sorted = palloc_extended(Max(3 * (Size) nt, 1) * sizeof(double), MCXT_ALLOC_HUGE);
	for (int i = 0; i < nt; i++)
	{
		sorted[i] = obs[i].t;
		sorted[nt + i] = obs[i].flux;
		sorted[2 * nt + i] = obs[i].dflux;
	}
	report_status(lc_stats(sorted, sorted + nt, sorted + 2 * nt, nt, &host, &s));

	values[0] = Int32GetDatum((int32) s.observation_count);
	nulls[0] = false;
	/* every other column is a double of LcStats, in order; NaN is undefined */
	stat = &s.duration;
	for (int i = 1; i < BS_NATTS; i++)
	{
		nulls[i] = isnan(stat[i - 1]);
		values[i] = Float8GetDatum(nulls[i] ? 0.0 : stat[i - 1]);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc(fcinfo), values, nulls)));
}
