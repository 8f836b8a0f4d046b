/*
 * gp_sql.c
 *		SQL glue of the Matern-5/2 Gaussian-process kernel (gp_matern.c):
 *		the gp_smooth aggregates, gp_log_likelihood and gp_predict.
 *
 * gp_smooth buffers (t, flux, dflux) per group in an ObsBuffer ordered by t
 * (then flux, dflux, so that ties have one order and results are
 * bit-identical however the rows arrive); workers sort while serializing and
 * the leader merges.  The final function fits the hyper-parameters and
 * predicts on the grid: O(n log n) for the sort, then O(n) per likelihood
 * evaluation and O(n + n_grid) for the prediction.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "antares.h"
#include "gp_sql.h"
#include "kernel_host_pg.h"

PG_FUNCTION_INFO_V1(gp_accum);
PG_FUNCTION_INFO_V1(gp_accum_grid);
PG_FUNCTION_INFO_V1(gp_combine);
PG_FUNCTION_INFO_V1(gp_serialize);
PG_FUNCTION_INFO_V1(gp_deserialize);
PG_FUNCTION_INFO_V1(gp_smooth_final);
PG_FUNCTION_INFO_V1(gp_log_likelihood);
PG_FUNCTION_INFO_V1(gp_predict);

#define GP_MAX_GRID		100000

static int
gp_obs_cmp(const void *a, const void *b)
{
	const GpObs *x = a;
	const GpObs *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->flux != y->flux)
		return x->flux < y->flux ? -1 : 1;
	if (x->dflux != y->dflux)
		return x->dflux < y->dflux ? -1 : 1;
	return 0;
}

const ObsKind gp_obs_kind = {sizeof(GpObs), gp_obs_cmp};

typedef struct GpAggState
{
	ObsBuffer	obs;
	int32		n_grid;
} GpAggState;

#define GP_SERIAL_MAGIC 0x47505331	/* "GPS1" */

typedef struct GpSerialHeader
{
	uint32		magic;
	int32		n_grid;
} GpSerialHeader;

/* Observations as the kernel takes them: times ascending, variances. */
typedef struct GpData
{
	Size		n;
	double	   *t;
	double	   *y;
	double	   *var;
} GpData;

static void
check_n_grid(int32 n_grid)
{
	if (n_grid < 2 || n_grid > GP_MAX_GRID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_grid must be between 2 and %d, got %d", GP_MAX_GRID, n_grid)));
}

static void
check_obs(const GpObs *o)
{
	check_finite("t", o->t);
	check_finite("flux", o->flux);
	check_positive("dflux", o->dflux);
	(void) gp_variance(o->dflux);
}

/*
 * The kernel takes variances: dflux^2 must be a positive finite double,
 * dflux from about 1.6e-162 to 1.3e154.
 */
double
gp_variance(double dflux)
{
	double		var = dflux * dflux;

	if (!(var > 0.0) || isinf(var))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("dflux out of range for a Gaussian process, got %s",
						float8out_internal(dflux)),
				 errdetail("Its square, the noise variance, must be a positive finite double.")));
	return var;
}

/*
 * The grid of a smooth curve runs from t[0] to t[n - 1] of the sorted
 * times: its span must be a double (as for lc_plot's axis).
 */
void
gp_check_span(const double *t, Size n)
{
	if (n > 1 && isinf(t[n - 1] - t[0]))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("t spans from %s to %s, a range beyond double precision",
						float8out_internal(t[0]), float8out_internal(t[n - 1]))));
}

/*
 * Inputs are validated and sorted before the kernel runs, so only a
 * numerical failure (values whose squares leave double range) or an
 * interruption can remain.
 */
void
report_gp_status(GpStatus status)
{
	if (status == GP_OK)
		return;
	if (status == GP_INTERRUPTED)
		pg_kernel_stopped("Gaussian-process computation");
	ereport(ERROR,
			(errcode(status == GP_NUMERICAL_FAILURE ?
					 ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE : ERRCODE_INTERNAL_ERROR),
			 errmsg("Gaussian-process computation failed: %s",
					status == GP_NUMERICAL_FAILURE ?
					"values beyond the range of double precision" :
					"invalid input reached the kernel")));
}

/* Splits sorted observations into the kernel's arrays. */
static GpData
gp_data(const GpObs *obs, Size n)
{
	GpData		d;

	d.n = n;
	d.t = palloc_extended(Max(n, 1) * sizeof(double), MCXT_ALLOC_HUGE);
	d.y = palloc_extended(Max(n, 1) * sizeof(double), MCXT_ALLOC_HUGE);
	d.var = palloc_extended(Max(n, 1) * sizeof(double), MCXT_ALLOC_HUGE);
	for (Size i = 0; i < n; i++)
	{
		d.t[i] = obs[i].t;
		d.y[i] = obs[i].flux;
		d.var[i] = obs[i].dflux * obs[i].dflux;
	}
	return d;
}

static void *
gp_work(Size n, Size m)
{
	return palloc_extended(Max(gp_matern_work_size(n, m), 1), MCXT_ALLOC_HUGE);
}

/*
 * Common transition step: skip a row with a NULL, validate, append.  The
 * grid size must be the same for every row of a group.
 */
static Datum
accumulate(FunctionCallInfo fcinfo, int32 n_grid)
{
	MemoryContext aggctx = agg_context(fcinfo, "gp_accum");
	GpAggState *state = STATE_ARG(GpAggState, 0);
	GpObs		o;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		RETURN_STATE(state);
	o.t = PG_GETARG_FLOAT8(1);
	o.flux = PG_GETARG_FLOAT8(2);
	o.dflux = PG_GETARG_FLOAT8(3);
	check_obs(&o);

	if (state == NULL)
	{
		check_n_grid(n_grid);
		state = MemoryContextAlloc(aggctx, sizeof(GpAggState));
		obs_init(&state->obs);
		state->n_grid = n_grid;
	}
	else if (state->n_grid != n_grid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_grid must be the same for every row of a group, got %d and %d",
						state->n_grid, n_grid)));
	obs_append(&state->obs, &gp_obs_kind, &o, aggctx);
	PG_RETURN_POINTER(state);
}

/* gp_accum(state, t, flux, dflux) */
Datum
gp_accum(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, GP_DEFAULT_GRID);
}

/* gp_accum(state, t, flux, dflux, n_grid) */
Datum
gp_accum_grid(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("n_grid must not be NULL")));
	return accumulate(fcinfo, PG_GETARG_INT32(4));
}

Datum
gp_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "gp_combine");
	GpAggState *a = STATE_ARG(GpAggState, 0);
	GpAggState *b = STATE_ARG(GpAggState, 1);

	if (b == NULL)
		RETURN_STATE(a);
	/* b lives in per-call memory when deserialized: copy it, never adopt it. */
	if (a == NULL)
	{
		a = MemoryContextAlloc(aggctx, sizeof(GpAggState));
		obs_init(&a->obs);
		a->n_grid = b->n_grid;
	}
	else if (a->n_grid != b->n_grid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_grid must be the same for every row of a group, got %d and %d",
						a->n_grid, b->n_grid)));
	obs_merge(&a->obs, &b->obs, &gp_obs_kind, aggctx);
	PG_RETURN_POINTER(a);
}

Datum
gp_serialize(PG_FUNCTION_ARGS)
{
	GpAggState *state = (GpAggState *) PG_GETARG_POINTER(0);
	GpSerialHeader hdr = {GP_SERIAL_MAGIC, state->n_grid};
	Size		size = VARHDRSZ + sizeof(hdr) + obs_serial_size(&state->obs, &gp_obs_kind);
	bytea	   *result;

	result = state_bytea(size);
	memcpy(VARDATA(result), &hdr, sizeof(hdr));
	obs_write(&state->obs, &gp_obs_kind, VARDATA(result) + sizeof(hdr));
	PG_RETURN_BYTEA_P(result);
}

/* The result lives in per-call memory; gp_combine copies what it keeps. */
Datum
gp_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(data);
	Size		len = VARSIZE_ANY_EXHDR(data);
	GpSerialHeader hdr;
	GpAggState *state = palloc(sizeof(GpAggState));

	(void) agg_context(fcinfo, "gp_deserialize");
	if (len < sizeof(hdr))
		goto corrupt;
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.magic != GP_SERIAL_MAGIC || hdr.n_grid < 2 || hdr.n_grid > GP_MAX_GRID ||
		obs_read(&state->obs, &gp_obs_kind, p + sizeof(hdr), len - sizeof(hdr),
				 CurrentMemoryContext) != len - sizeof(hdr))
		goto corrupt;
	state->n_grid = hdr.n_grid;
	PG_RETURN_POINTER(state);

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid serialized Gaussian-process state")));
	pg_unreachable();
}

/*
 * A one-dimensional float8[] of n elements without NULLs, for the kernel to
 * write into *data (its elements), so that the result is not copied.
 */
static ArrayType *
new_float8_array(int n, double **data)
{
	Size		size = ARR_OVERHEAD_NONULLS(1) + (Size) n * sizeof(float8);
	ArrayType  *a = palloc0(size);

	SET_VARSIZE(a, size);
	a->ndim = 1;
	a->dataoffset = 0;			/* no NULL bitmap */
	a->elemtype = FLOAT8OID;
	ARR_DIMS(a)[0] = n;
	ARR_LBOUND(a)[0] = 1;
	*data = (double *) ((char *) a + ARR_OVERHEAD_NONULLS(1));
	return a;
}

/*
 * gp_curve: n, amplitude, length_scale, log_likelihood, t[], mean[], sd[],
 * peak_t, peak_flux (the maximum of the posterior mean on the grid).
 */
Datum
gp_smooth_final(PG_FUNCTION_ARGS)
{
	GpAggState *state;
	TupleDesc	desc;
	GpData		d;
	GpFit		fit;
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);
	ArrayType  *grid_array,
			   *mean_array,
			   *sd_array;
	double	   *grid,
			   *mean,
			   *sd;
	void	   *work;
	int			m,
				peak = 0;
	Datum		values[9];
	bool		nulls[9] = {false};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (GpAggState *) PG_GETARG_POINTER(0);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE ||
		desc->natts != lengthof(values))
		elog(ERROR, "gp_smooth_final must return antares.gp_curve");

	obs_sort(&state->obs, &gp_obs_kind);
	d = gp_data((const GpObs *) state->obs.data, state->obs.n);
	m = state->n_grid;
	gp_check_span(d.t, d.n);
	work = gp_work(d.n, m);
	report_gp_status(gp_matern_fit(d.t, d.y, d.var, d.n, &fit, work, &host));

	grid_array = new_float8_array(m, &grid);
	mean_array = new_float8_array(m, &mean);
	sd_array = new_float8_array(m, &sd);
	report_gp_status(gp_matern_predict_grid(d.t, d.y, d.var, d.n, fit.amplitude,
											fit.length_scale, m, grid, mean, sd, work,
											&host));
	for (int i = 1; i < m; i++)
		if (mean[i] > mean[peak])
			peak = i;

	values[0] = Int32GetDatum((int32) Min(d.n, (Size) PG_INT32_MAX));
	values[1] = Float8GetDatum(fit.amplitude);
	values[2] = Float8GetDatum(fit.length_scale);
	values[3] = Float8GetDatum(fit.lml);
	values[4] = PointerGetDatum(grid_array);
	values[5] = PointerGetDatum(mean_array);
	values[6] = PointerGetDatum(sd_array);
	values[7] = Float8GetDatum(grid[peak]);
	values[8] = Float8GetDatum(mean[peak]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/* The elements of a one-dimensional float8 array without NULLs. */
static double *
float8_elements(ArrayType *a, const char *name, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	double	   *v;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", name)));
	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, n);
	v = palloc(Max(*n, 1) * sizeof(double));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", name)));
		v[i] = DatumGetFloat8(elems[i]);
	}
	return v;
}

/*
 * The observations of gp_log_likelihood and gp_predict: arrays t, flux,
 * dflux of one length, validated and sorted by time.
 */
static GpData
gp_args(FunctionCallInfo fcinfo, double *amplitude, double *length_scale,
		int amplitude_arg)
{
	int			nt,
				nf,
				nd;
	double	   *t = float8_elements(PG_GETARG_ARRAYTYPE_P(0), "t", &nt);
	double	   *f = float8_elements(PG_GETARG_ARRAYTYPE_P(1), "flux", &nf);
	double	   *s = float8_elements(PG_GETARG_ARRAYTYPE_P(2), "dflux", &nd);
	GpObs	   *obs;

	if (nt != nf || nt != nd)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("t, flux and dflux must have the same length, got %d, %d and %d",
						nt, nf, nd)));
	*amplitude = PG_GETARG_FLOAT8(amplitude_arg);
	*length_scale = PG_GETARG_FLOAT8(amplitude_arg + 1);
	check_positive("amplitude", *amplitude);
	check_positive("length_scale", *length_scale);

	obs = palloc(Max(nt, 1) * sizeof(GpObs));
	for (int i = 0; i < nt; i++)
	{
		obs[i].t = t[i];
		obs[i].flux = f[i];
		obs[i].dflux = s[i];
		check_obs(&obs[i]);
	}
	qsort(obs, nt, sizeof(GpObs), gp_obs_cmp);
	return gp_data(obs, nt);
}

/* gp_log_likelihood(t[], flux[], dflux[], amplitude, length_scale) */
Datum
gp_log_likelihood(PG_FUNCTION_ARGS)
{
	double		amplitude,
				length_scale,
				lml;
	GpData		d = gp_args(fcinfo, &amplitude, &length_scale, 3);
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);

	if (d.n == 0)
		PG_RETURN_NULL();
	report_gp_status(gp_matern_log_likelihood(d.t, d.y, d.var, d.n, amplitude,
											  length_scale, &lml, NULL, &host));
	PG_RETURN_FLOAT8(lml);
}

/*
 * gp_predict(t[], flux[], dflux[], t_new[], amplitude, length_scale):
 * posterior mean and sd of the latent curve at t_new, in t_new's order.
 */
Datum
gp_predict(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	double		amplitude,
				length_scale;
	GpData		d = gp_args(fcinfo, &amplitude, &length_scale, 4);
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);
	int			m;
	double	   *t_new = float8_elements(PG_GETARG_ARRAYTYPE_P(3), "t_new", &m);
	double	   *mean,
			   *sd;

	InitMaterializedSRF(fcinfo, 0);
	if (d.n == 0 || m == 0)
		return (Datum) 0;
	for (int i = 0; i < m; i++)
		check_finite("t_new", t_new[i]);
	mean = palloc(m * sizeof(double));
	sd = palloc(m * sizeof(double));
	report_gp_status(gp_matern_predict(d.t, d.y, d.var, d.n, amplitude, length_scale,
									   t_new, m, mean, sd, gp_work(d.n, m), &host));
	for (int i = 0; i < m; i++)
	{
		Datum		values[3] = {Float8GetDatum(t_new[i]), Float8GetDatum(mean[i]),
		Float8GetDatum(sd[i])};
		bool		nulls[3] = {false, false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
