/*
 * survey_sql.c
 *		SQL glue of the survey simulator (survey_sim.c): simulate_survey, its
 *		truth (simulate_survey_truth) and the planner's row estimate.
 *
 * simulate_survey is a value-per-call set-returning function: it keeps one
 * object's observations (room for survey_max_obs(years), ~130 kB for three
 * years) and returns them a row at a time, so in a select list it streams
 * any number of rows in constant memory (in FROM, PostgreSQL collects the
 * rows of a call in a tuplestore that spills to disk beyond work_mem).
 * Objects are first_objid, first_objid + 1, ...; each object's rows depend
 * only on (seed, objid), so calls over disjoint objid ranges, in any
 * processes, make one survey: a table of range starts scanned in parallel
 * with LATERAL simulate_survey(chunk, seed, start) generates in parallel.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/supportnodes.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

#include "antares.h"
#include "kernel_host_pg.h"
#include "survey_sim.h"

PG_FUNCTION_INFO_V1(simulate_survey);
PG_FUNCTION_INFO_V1(simulate_survey_truth);
PG_FUNCTION_INFO_V1(simulate_survey_support);
PG_FUNCTION_INFO_V1(simulate_survey_truth_support);

static const char *const class_names[SURVEY_NCLASSES] = {
	"transient", "periodic", "stochastic", "flaring"
};

/* The arguments (n_objects, seed [, first_objid, years, class_weights]). */
typedef struct SurveyArgs
{
	SurveyConfig cfg;
	int32		n_objects;
	int64		first_objid;
} SurveyArgs;

static SurveyArgs
survey_args(FunctionCallInfo fcinfo)
{
	SurveyArgs	a;
	int64		last;

	a.n_objects = PG_GETARG_INT32(0);
	survey_default_config(&a.cfg, (uint64) PG_GETARG_INT64(1));
	a.first_objid = PG_NARGS() > 2 ? PG_GETARG_INT64(2) : 1;
	if (a.n_objects < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_objects must not be negative, got %d", a.n_objects)));
	if (a.n_objects > 0 && pg_add_s64_overflow(a.first_objid, (int64) a.n_objects - 1, &last))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("objids from %lld for %d objects are out of range for type bigint",
						(long long) a.first_objid, a.n_objects)));
	if (PG_NARGS() > 3)
		a.cfg.years = PG_GETARG_FLOAT8(3);
	if (PG_NARGS() > 4)
	{
		ArrayType  *w = PG_GETARG_ARRAYTYPE_P(4);
		const double *v;

		if (ARR_NDIM(w) != 1 || ARR_DIMS(w)[0] != SURVEY_NCLASSES)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("class_weights must be a one-dimensional array of %d weights",
							SURVEY_NCLASSES),
					 errdetail("One weight per class: transient, periodic, stochastic, flaring.")));
		if (ARR_HASNULL(w) && array_contains_nulls(w))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("class_weights must not contain NULL")));
		/* ARR_DATA_PTR, spelt out as in antares.c: the macro mixes signedness under -Wextra */
		v = (const double *) ((const char *) w + (ARR_HASNULL(w) ? (Size) w->dataoffset
												  : (Size) ARR_OVERHEAD_NONULLS(1)));
		for (int c = 0; c < SURVEY_NCLASSES; c++)
			a.cfg.class_weights[c] = v[c];
	}
	switch (survey_check_config(&a.cfg))
	{
		case SURVEY_OK:
			break;
		case SURVEY_BAD_YEARS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("years must be greater than 0 and at most %g, got %s",
							SURVEY_MAX_YEARS, float8out_internal(a.cfg.years))));
			break;
		case SURVEY_BAD_START:
			elog(ERROR, "survey start is not finite");	/* no SQL argument sets it */
			break;
		case SURVEY_BAD_WEIGHTS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("class_weights must be finite and non-negative, and not all 0")));
			break;
		case SURVEY_INTERRUPTED:
			break;				/* the simulation's status, not the check's */
	}
	return a;
}

static void
check_simulated(SurveyStatus status)
{
	if (status == SURVEY_INTERRUPTED)
		pg_kernel_stopped("survey simulation");
}

/* What simulate_survey keeps between calls. */
typedef struct SurveyScan
{
	SurveyArgs	args;
	int32		objects_done;	/* objects simulated so far */
	int64		objid;			/* the current object */
	int32		label;
	SurveyObs  *obs;			/* its observations */
	KernelHost	host;
	size_t		n_obs;
	size_t		next;			/* the next one to return */
	Datum		band_text[SURVEY_NBANDS];	/* "u" .. "y", made once */
} SurveyScan;

/*
 * simulate_survey(n_objects, seed [, first_objid, years, class_weights]):
 * TABLE(objid, t, pb, flux, dflux, label), object by object, each in
 * increasing t.
 */
Datum
simulate_survey(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	SurveyScan *scan;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		TupleDesc	desc;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "simulate_survey must return a row type");
		funcctx->tuple_desc = BlessTupleDesc(desc);
		scan = palloc0(sizeof(SurveyScan));
		scan->args = survey_args(fcinfo);
		scan->host = pg_kernel_host(funcctx->multi_call_memory_ctx);
		scan->obs = palloc_extended(survey_max_obs(scan->args.cfg.years) * sizeof(SurveyObs),
									MCXT_ALLOC_HUGE);
		for (int b = 0; b < SURVEY_NBANDS; b++)
		{
			char		name[2] = {survey_band_names[b], '\0'};

			scan->band_text[b] = CStringGetTextDatum(name);
		}
		funcctx->user_fctx = scan;
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	scan = funcctx->user_fctx;

	/* the next object with observations, if the current one is used up */
	while (scan->next >= scan->n_obs)
	{
		SurveyTruth truth;

		if (scan->objects_done >= scan->args.n_objects)
			SRF_RETURN_DONE(funcctx);
		scan->objid = scan->args.first_objid + scan->objects_done;
		check_simulated(survey_simulate_object(&scan->args.cfg, (uint64) scan->objid,
											   &scan->host, scan->obs, &scan->n_obs, &truth));
		scan->label = (int32) truth.label;
		scan->next = 0;
		scan->objects_done++;
	}

	{
		const SurveyObs *o = &scan->obs[scan->next++];
		Datum		values[6] = {
			Int64GetDatum(scan->objid), Float8GetDatum(o->t), scan->band_text[o->band],
			Float8GetDatum(o->flux), Float8GetDatum(o->dflux), Int32GetDatum(scan->label)
		};
		bool		nulls[6] = {false, false, false, false, false, false};

		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc,
																	values, nulls)));
	}
}

static void
append_band_object(StringInfo s, const char *key, const double *v)
{
	appendStringInfo(s, ", \"%s\": {", key);
	for (int b = 0; b < SURVEY_NBANDS; b++)
	{
		appendStringInfo(s, "%s\"%c\": ", b ? ", " : "", survey_band_names[b]);
		append_json_float(s, v[b]);
	}
	appendStringInfoChar(s, '}');
}

static void
append_key_float(StringInfo s, const char *key, double v)
{
	appendStringInfo(s, ", \"%s\": ", key);
	append_json_float(s, v);
}

/* An object's parameters as a JSON object (every float in its exact shortest form). */
static Datum
truth_jsonb(const SurveyTruth *truth, size_t n_obs)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"n_obs\": %zu", n_obs);
	append_key_float(&s, "season_start", truth->season_start);
	append_key_float(&s, "season_length", truth->season_length);
	append_band_object(&s, "colour", truth->colour);
	append_band_object(&s, "base_flux", truth->base_flux);
	switch (truth->label)
	{
		case SURVEY_TRANSIENT:
			append_key_float(&s, "t0", truth->t0);
			append_key_float(&s, "trise", truth->trise);
			append_key_float(&s, "tfall", truth->tfall);
			break;
		case SURVEY_PERIODIC:
			append_key_float(&s, "period", truth->period);
			append_key_float(&s, "phase", truth->phase);
			append_key_float(&s, "amplitude", truth->amplitude);
			appendStringInfo(&s, ", \"shape\": \"%s\"", truth->sawtooth ? "sawtooth" : "sinusoid");
			break;
		case SURVEY_STOCHASTIC:
			append_key_float(&s, "tau", truth->tau);
			append_key_float(&s, "sigma", truth->sigma);
			break;
		case SURVEY_FLARING:
			append_key_float(&s, "flare_rate", truth->flare_rate);
			appendStringInfoString(&s, ", \"flares\": [");
			for (int j = 0; j < truth->n_flares; j++)
			{
				appendStringInfo(&s, "%s{\"t\": ", j ? ", " : "");
				append_json_float(&s, truth->flare_t[j]);
				append_key_float(&s, "amplitude", truth->flare_amp[j]);
				append_key_float(&s, "rise", truth->flare_rise[j]);
				append_key_float(&s, "decay", truth->flare_decay[j]);
				appendStringInfoChar(&s, '}');
			}
			appendStringInfoChar(&s, ']');
			break;
	}
	appendStringInfoChar(&s, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
}

/*
 * simulate_survey_truth(n_objects, seed, first_objid, years, class_weights):
 * TABLE(objid, label, class, params): the parameters each object of
 * simulate_survey with the same arguments was made from.
 */
Datum
simulate_survey_truth(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SurveyArgs	args = survey_args(fcinfo);
	SurveyObs  *obs = palloc_extended(survey_max_obs(args.cfg.years) * sizeof(SurveyObs),
									  MCXT_ALLOC_HUGE);
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);

	InitMaterializedSRF(fcinfo, 0);
	for (int32 i = 0; i < args.n_objects; i++)
	{
		SurveyTruth truth;
		int64		objid = args.first_objid + i;
		size_t		n;
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		check_simulated(survey_simulate_object(&args.cfg, (uint64) objid, &host, obs, &n, &truth));
		values[0] = Int64GetDatum(objid);
		values[1] = Int32GetDatum((int32) truth.label);
		values[2] = CStringGetTextDatum(class_names[truth.label]);
		values[3] = truth_jsonb(&truth, n);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * The planner's row estimate when n_objects (and years) are constants:
 * n_objects x rows_per_object(years); NULL (the declared ROWS) otherwise.
 */
static Node *
survey_rows(Node *rawreq, bool per_observation)
{
	SupportRequestRows *req;
	FuncExpr   *fexpr;
	Node	   *n_arg;
	double		years = 3.0;

	if (!IsA(rawreq, SupportRequestRows))
		return NULL;
	req = (SupportRequestRows *) rawreq;
	if (!IsA(req->node, FuncExpr))
		return NULL;
	fexpr = (FuncExpr *) req->node;
	n_arg = linitial(fexpr->args);
	if (!IsA(n_arg, Const) || ((Const *) n_arg)->constisnull)
		return NULL;
	if (list_length(fexpr->args) > 3)
	{
		Node	   *y = list_nth(fexpr->args, 3);

		if (!IsA(y, Const) || ((Const *) y)->constisnull)
			return NULL;
		years = DatumGetFloat8(((Const *) y)->constvalue);
		if (!(years > 0.0 && years <= SURVEY_MAX_YEARS))
			return NULL;		/* the call will fail */
	}
	req->rows = Max(1.0, (double) DatumGetInt32(((Const *) n_arg)->constvalue));
	if (per_observation)
		req->rows *= SURVEY_OBS_PER_YEAR * years;
	return (Node *) req;
}

/* simulate_survey: n_objects x SURVEY_OBS_PER_YEAR x years rows. */
Datum
simulate_survey_support(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(survey_rows((Node *) PG_GETARG_POINTER(0), true));
}

/* simulate_survey_truth: n_objects rows. */
Datum
simulate_survey_truth_support(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(survey_rows((Node *) PG_GETARG_POINTER(0), false));
}
