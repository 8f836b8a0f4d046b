/*
 * lomb_scargle_sql.c
 *		SQL glue of the Lomb-Scargle kernel (lomb_scargle.c): lomb_scargle,
 *		the peak of a band's periodogram on the automatic frequency grid, and
 *		lomb_scargle_power, the periodogram at given frequencies.
 *
 * The arrays arrive in any order: band_arrays checks and sorts them, so
 * that the result does not depend on it (O(n log n)); the kernel's cost
 * follows (lomb_scargle.c).
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "antares.h"
#include "band_arrays.h"
#include "kernel_host_pg.h"
#include "lomb_scargle.h"

PG_FUNCTION_INFO_V1(lomb_scargle);
PG_FUNCTION_INFO_V1(lomb_scargle_power);

/*
 * Inputs are validated before the kernel runs: what remains is a grid that
 * cannot be built, memory, or an interruption.
 */
static void
report_ls_status(LsStatus status, const BandArrays *band, const LsGrid *grid)
{
	switch (status)
	{
		case LS_OK:
			return;
		case LS_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("a frequency grid over t from %s to %s is beyond double precision",
							float8out_internal(band->t[0]),
							float8out_internal(band->t[band->n - 1]))));
			break;
		case LS_TOO_MANY_FREQUENCIES:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the frequency grid would have %.0f frequencies, more than %d",
							(double) grid->n_frequencies, LS_MAX_FREQUENCIES),
					 errhint("Raise min_period or lower samples_per_peak.")));
			break;
		case LS_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory for a Lomb-Scargle periodogram of %d points", band->n)));
			break;
		case LS_INTERRUPTED:
			pg_kernel_stopped("Lomb-Scargle periodogram");
			break;
		case LS_INVALID_INPUT:
			break;
	}
	elog(ERROR, "Lomb-Scargle kernel refused validated input");
}

void
band_ls_peak(const BandArrays *band, const LsGridOptions *opt, LsMethod method, LsPeak *peak)
{
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);

	report_ls_status(ls_peak(band->t, band->flux, band->dflux, band->n, opt, method, peak,
							 &host), band, &peak->grid);
}

static LsGridOptions
ls_options(FunctionCallInfo fcinfo)
{
	LsGridOptions opt;

	opt.min_period = PG_GETARG_FLOAT8(3);
	opt.max_period = PG_GETARG_FLOAT8(4);
	opt.samples_per_peak = PG_GETARG_INT32(5);
	opt.nyquist_factor = LS_NYQUIST_FACTOR;
	if (!(isfinite(opt.min_period) && opt.min_period >= 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_period must be finite and >= 0, got %s",
						float8out_internal(opt.min_period))));
	if (!(opt.max_period > opt.min_period))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_period must be greater than min_period, got %s and %s",
						float8out_internal(opt.max_period),
						float8out_internal(opt.min_period))));
	if (PG_GETARG_INT32(5) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("samples_per_peak must be at least 1, got %d", PG_GETARG_INT32(5))));
	Assert(ls_options_valid(&opt));
	return opt;
}

static LsMethod
ls_method(text *name)
{
	char	   *s = text_to_cstring(name);

	if (strcmp(s, "auto") == 0)
		return LS_AUTO;
	if (strcmp(s, "direct") == 0)
		return LS_DIRECT;
	if (strcmp(s, "fast") == 0)
		return LS_FAST;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("method must be auto, direct or fast, got \"%s\"", s)));
	pg_unreachable();
}

/*
 * lomb_scargle(t[], flux[], dflux[], min_period, max_period,
 * samples_per_peak, method) -> antares.lomb_scargle:
 * period, power, frequency, period_s_to_n, n_frequencies, min_frequency,
 * frequency_step, method.
 */
Datum
lomb_scargle(PG_FUNCTION_ARGS)
{
	BandArrays	band = band_arrays(PG_GETARG_ARRAYTYPE_P(0), PG_GETARG_ARRAYTYPE_P(1),
								   PG_GETARG_ARRAYTYPE_P(2));
	LsGridOptions opt = ls_options(fcinfo);
	LsMethod	method = ls_method(PG_GETARG_TEXT_PP(6));
	LsPeak		peak;
	Datum		values[8];
	bool		nulls[8] = {false};
	TupleDesc	desc = composite_result_desc(fcinfo, lengthof(values), NULL);

	band_ls_peak(&band, &opt, method, &peak);

	values[0] = float8_or_null(peak.period, &nulls[0]);
	values[1] = float8_or_null(peak.power, &nulls[1]);
	values[2] = float8_or_null(peak.frequency, &nulls[2]);
	values[3] = float8_or_null(peak.period_s_to_n, &nulls[3]);
	values[4] = Int32GetDatum((int32) peak.grid.n_frequencies);
	values[5] = float8_or_null(peak.grid.f_min, &nulls[5]);
	values[6] = float8_or_null(peak.grid.df, &nulls[6]);
	values[7] = CStringGetTextDatum(peak.method == LS_FAST ? "fast" : "direct");
	nulls[7] = peak.method == LS_AUTO;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/*
 * lomb_scargle_power(t[], flux[], dflux[], frequency[]) -> float8[]: the
 * power at each frequency, in its order, by the direct sums; NULL elements
 * where it is undefined.
 */
Datum
lomb_scargle_power(PG_FUNCTION_ARGS)
{
	BandArrays	band = band_arrays(PG_GETARG_ARRAYTYPE_P(0), PG_GETARG_ARRAYTYPE_P(1),
								   PG_GETARG_ARRAYTYPE_P(2));
	int			m;
	const double *freq = checked_float8_values(PG_GETARG_ARRAYTYPE_P(3), "frequency", true, &m);
	double	   *power = palloc(Max(m, 1) * sizeof(double));
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);
	Datum	   *elems = palloc(Max(m, 1) * sizeof(Datum));
	bool	   *nulls = palloc(Max(m, 1) * sizeof(bool));
	int			dims[1] = {m};
	int			lbs[1] = {1};

	report_ls_status(ls_power(band.t, band.flux, band.dflux, band.n, freq, m, power, &host),
					 &band, NULL);
	for (int k = 0; k < m; k++)
		elems[k] = float8_or_null(power[k], &nulls[k]);
	PG_RETURN_ARRAYTYPE_P(construct_md_array(elems, nulls, m > 0 ? 1 : 0, dims, lbs, FLOAT8OID,
											 sizeof(float8), FLOAT8PASSBYVAL,
											 TYPALIGN_DOUBLE));
}
