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

#include "antares.h"
#include "band_arrays.h"
#include "bazin.h"
#include "kernel_host_pg.h"

PG_FUNCTION_INFO_V1(bazin_fit_sql);

void
band_bazin_fit(const BandArrays *band, BazinFit *fit)
{
	KernelHost	host = pg_kernel_host_returning(CurrentMemoryContext);
	BazinStatus status;

	/* GSL's memory is malloc'd: the kernel polls a host that returns, then frees it. */
	status = bazin_fit(band->t, band->flux, band->dflux, band->n, fit, &host);
	if (status == BAZIN_INTERRUPTED)
	{
		CHECK_FOR_INTERRUPTS();
		pg_kernel_stopped("Bazin fit");
	}
	if (status == BAZIN_NO_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on a Bazin fit of %d observations.", band->n)));
}

#define BAZIN_COLUMNS 16

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
	TupleDesc	desc = composite_result_desc(fcinfo, BAZIN_COLUMNS, NULL);
	BazinFit	fit;
	Datum		values[BAZIN_COLUMNS];
	bool		nulls[BAZIN_COLUMNS] = {false};

	band_bazin_fit(&band, &fit);

	values[0] = float8_or_null(fit.amplitude, &nulls[0]);
	values[1] = float8_or_null(fit.baseline, &nulls[1]);
	values[2] = float8_or_null(fit.reference_time, &nulls[2]);
	values[3] = float8_or_null(fit.rise_time, &nulls[3]);
	values[4] = float8_or_null(fit.fall_time, &nulls[4]);
	values[5] = float8_or_null(fit.amplitude_err, &nulls[5]);
	values[6] = float8_or_null(fit.baseline_err, &nulls[6]);
	values[7] = float8_or_null(fit.reference_time_err, &nulls[7]);
	values[8] = float8_or_null(fit.rise_time_err, &nulls[8]);
	values[9] = float8_or_null(fit.fall_time_err, &nulls[9]);
	values[10] = float8_or_null(fit.reduced_chi2, &nulls[10]);
	values[11] = float8_or_null(fit.peak_time, &nulls[11]);
	values[12] = float8_or_null(fit.peak_flux, &nulls[12]);
	values[13] = Int32GetDatum(nt);
	values[14] = Int32GetDatum(fit.iterations);
	values[15] = CStringGetTextDatum(bazin_outcome_name(fit.outcome));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
