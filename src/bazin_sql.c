/*
 * bazin_sql.c
 *		SQL glue of the Bazin fit (bazin.c): bazin_fit(t[], flux[], dflux[])
 *		RETURNS antares.bazin_fit.
 *
 * The triples are validated and sorted (band_arrays), so that the result
 * does not depend on their order, and fitted; every NaN of the kernel (the
 * numbers of a fit that did not converge, the error bars of a parameter the
 * data do not fix) becomes SQL NULL.  O(n log n) for the sort, then the
 * fit's cost (bazin.c).
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "band_arrays.h"
#include "bazin.h"
#include "kernel_host_pg.h"

PG_FUNCTION_INFO_V1(bazin_fit_sql);

#define BAZIN_COLUMNS 16

/* A float8 column, NULL when NaN. */
static void
put(Datum *values, bool *nulls, int i, double v)
{
	nulls[i] = isnan(v);
	values[i] = Float8GetDatum(v);
}

/*
 * bazin_fit(t float8[], flux float8[], dflux float8[]) RETURNS
 * antares.bazin_fit: amplitude, baseline, reference_time, rise_time,
 * fall_time, their *_err, reduced_chi2, peak_time, peak_flux, n,
 * iterations, status.
 */
Datum
bazin_fit_sql(PG_FUNCTION_ARGS)
{
	BandArrays	band = band_arrays(PG_GETARG_ARRAYTYPE_P(0), PG_GETARG_ARRAYTYPE_P(1),
								   PG_GETARG_ARRAYTYPE_P(2));
	int			nt = band.n;
	KernelHost	host = pg_kernel_host_returning(CurrentMemoryContext);
	TupleDesc	desc;
	BazinFit	fit;
	BazinStatus status;
	Datum		values[BAZIN_COLUMNS];
	bool		nulls[BAZIN_COLUMNS] = {false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE ||
		desc->natts != BAZIN_COLUMNS)
		elog(ERROR, "bazin_fit must return antares.bazin_fit");

	/* GSL's memory is malloc'd: the kernel polls a host that returns, then frees it. */
	status = bazin_fit(band.t, band.flux, band.dflux, nt, &fit, &host);
	if (status == BAZIN_INTERRUPTED)
	{
		CHECK_FOR_INTERRUPTS();
		pg_kernel_stopped("Bazin fit");
	}
	if (status == BAZIN_NO_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on a Bazin fit of %d observations.", nt)));

	put(values, nulls, 0, fit.amplitude);
	put(values, nulls, 1, fit.baseline);
	put(values, nulls, 2, fit.reference_time);
	put(values, nulls, 3, fit.rise_time);
	put(values, nulls, 4, fit.fall_time);
	put(values, nulls, 5, fit.amplitude_err);
	put(values, nulls, 6, fit.baseline_err);
	put(values, nulls, 7, fit.reference_time_err);
	put(values, nulls, 8, fit.rise_time_err);
	put(values, nulls, 9, fit.fall_time_err);
	put(values, nulls, 10, fit.reduced_chi2);
	put(values, nulls, 11, fit.peak_time);
	put(values, nulls, 12, fit.peak_flux);
	values[13] = Int32GetDatum(nt);
	values[14] = Int32GetDatum(fit.iterations);
	values[15] = CStringGetTextDatum(bazin_outcome_name(fit.outcome));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
