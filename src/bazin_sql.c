/*
 * bazin_sql.c
 *		SQL glue of the Bazin fit (bazin.c): bazin_fit(t[], flux[], dflux[])
 *		RETURNS antares.bazin_fit.
 *
 * The triples are validated, sorted by (t, flux, dflux), so that the result
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

#include "bazin.h"
#include "kernel_host_pg.h"

PG_FUNCTION_INFO_V1(bazin_fit_sql);

#define BAZIN_COLUMNS 16

typedef struct BazinObs
{
	double		t;
	double		flux;
	double		dflux;
} BazinObs;

static int
obs_cmp(const void *a, const void *b)
{
	const BazinObs *x = a;
	const BazinObs *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->flux != y->flux)
		return x->flux < y->flux ? -1 : 1;
	if (x->dflux != y->dflux)
		return x->dflux < y->dflux ? -1 : 1;
	return 0;
}

/*
 * The elements of a one-dimensional float8 array, each finite (and > 0 for
 * dflux), else an ERROR naming the array, the position (1-based, as SQL
 * subscripts) and the value.
 */
static Datum *
elements(ArrayType *a, const char *name, bool positive, int *n)
{
	Datum	   *elems;
	bool	   *nulls;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array, got %d dimensions",
						name, ARR_NDIM(a))));
	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, n);
	for (int i = 0; i < *n; i++)
	{
		double		v;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s[%d] must not be NULL", name, i + 1)));
		v = DatumGetFloat8(elems[i]);
		if (!isfinite(v) || (positive && !(v > 0.0)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] must be %s, got %s", name, i + 1,
							positive ? "positive and finite" : "finite",
							float8out_internal(v))));
	}
	return elems;
}

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
	int			nt,
				nf,
				nd;
	Datum	   *t = elements(PG_GETARG_ARRAYTYPE_P(0), "t", false, &nt);
	Datum	   *f = elements(PG_GETARG_ARRAYTYPE_P(1), "flux", false, &nf);
	Datum	   *s = elements(PG_GETARG_ARRAYTYPE_P(2), "dflux", true, &nd);
	KernelHost	host = pg_kernel_host_returning(CurrentMemoryContext);
	TupleDesc	desc;
	BazinObs   *obs;
	double	   *tv,
			   *fv,
			   *sv;
	BazinFit	fit;
	BazinStatus status;
	Datum		values[BAZIN_COLUMNS];
	bool		nulls[BAZIN_COLUMNS] = {false};

	if (nt != nf || nt != nd)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("t, flux and dflux must have the same length, got %d, %d and %d",
						nt, nf, nd)));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE ||
		desc->natts != BAZIN_COLUMNS)
		elog(ERROR, "bazin_fit must return antares.bazin_fit");

	obs = palloc(Max(nt, 1) * sizeof(BazinObs));
	for (int i = 0; i < nt; i++)
	{
		obs[i].t = DatumGetFloat8(t[i]);
		obs[i].flux = DatumGetFloat8(f[i]);
		obs[i].dflux = DatumGetFloat8(s[i]);
	}
	qsort(obs, nt, sizeof(BazinObs), obs_cmp);
	tv = palloc(Max(nt, 1) * sizeof(double));
	fv = palloc(Max(nt, 1) * sizeof(double));
	sv = palloc(Max(nt, 1) * sizeof(double));
	for (int i = 0; i < nt; i++)
	{
		tv[i] = obs[i].t;
		fv[i] = obs[i].flux;
		sv[i] = obs[i].dflux;
	}

	/* GSL's memory is malloc'd: the kernel polls a host that returns, then frees it. */
	status = bazin_fit(tv, fv, sv, nt, &fit, &host);
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
