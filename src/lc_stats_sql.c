/*
 * lc_stats_sql.c
 *		SQL glue of the band statistics kernel (lc_stats.c):
 *		antares.band_statistics(t float8[], flux float8[], dflux float8[]).
 *
 * The arrays arrive in any order; band_arrays checks and sorts them, so
 * that the result does not depend on it.  O(n log n) for that sort and the
 * kernel's.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "antares.h"
#include "band_arrays.h"
#include "kernel_host_pg.h"
#include "lc_stats.h"

PG_FUNCTION_INFO_V1(band_statistics);

/* The columns of antares.band_statistics, in the order of LcStats. */
#define BS_NATTS 29
StaticAssertDecl(sizeof(LcStats) == offsetof(LcStats, duration) + (BS_NATTS - 1) * sizeof(double),
				 "LcStats is observation_count, then one double per other column");

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

void
band_lc_stats(const BandArrays *band, LcStats *s)
{
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);

	report_status(lc_stats(band->t, band->flux, band->dflux, band->n, &host, s));
}

/*
 * The antares.band_statistics row of a band, for a function returning it:
 * the array function and the aggregate's final function.
 */
Datum
band_statistics_datum(const BandArrays *band, FunctionCallInfo fcinfo)
{
	LcStats		s;
	Datum		values[BS_NATTS];
	bool		nulls[BS_NATTS];
	const double *stat;

	band_lc_stats(band, &s);

	values[0] = Int32GetDatum((int32) s.observation_count);
	nulls[0] = false;
	/* every other column is a double of LcStats, in order; NaN is undefined */
	stat = &s.duration;
	for (int i = 1; i < BS_NATTS; i++)
	{
		values[i] = float8_or_null(stat[i - 1], &nulls[i]);
	}
	return HeapTupleGetDatum(heap_form_tuple(composite_result_desc(fcinfo, BS_NATTS, NULL),
											 values, nulls));
}

/* band_statistics(t[], flux[], dflux[]) RETURNS antares.band_statistics */
Datum
band_statistics(PG_FUNCTION_ARGS)
{
	BandArrays	band = band_arrays(PG_GETARG_ARRAYTYPE_P(0), PG_GETARG_ARRAYTYPE_P(1),
								   PG_GETARG_ARRAYTYPE_P(2));

	PG_RETURN_DATUM(band_statistics_datum(&band, fcinfo));
}
