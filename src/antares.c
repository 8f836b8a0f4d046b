/*
 * antares.c
 *		Module entry point of the antares extension, and the glue helpers
 *		every SQL-callable function shares (antares.h).
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "common/shortest_dec.h"
#include "utils/array.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "alert_decode.h"
#include "antares.h"
#include "model.h"

PG_MODULE_MAGIC;

bool		antares_verbose = false;
int			antares_svm_cache_kb = 200 * 1024;
int			antares_model_cache_kb = 256 * 1024;

void		_PG_init(void);

static void
model_cache_assign(int newval, void *extra)
{
	model_cache_resize(newval);
}

void
_PG_init(void)
{
	/* libavro allocates through the alert decoder, which frees its leaks */
	alert_decode_init();
	DefineCustomBoolVariable("antares.verbose",
							 "Reports the progress of long computations (SVM training) as NOTICE messages.",
							 NULL, &antares_verbose, false, PGC_USERSET, 0,
							 NULL, NULL, NULL);
	/* libsvm's cache_size, scikit-learn's default 200 MB; only speed depends on it */
	DefineCustomIntVariable("antares.svm_cache_size",
							"Memory for cached kernel columns while svm_train trains one pair of classes.",
							NULL, &antares_svm_cache_kb, 200 * 1024, 64, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	/* decoded stored models kept for the session (model.c) */
	DefineCustomIntVariable("antares.model_cache_size",
							"Memory for decoded models read from tables, kept from one query to the next.",
							"0 decodes every model again in every query.",
							&antares_model_cache_kb, 256 * 1024, 0, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB, NULL, model_cache_assign, NULL);
	MarkGUCPrefixReserved("antares");
}

MemoryContext
agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggctx;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return aggctx;
}

bytea *
state_bytea(Size size)
{
	bytea	   *result;

	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("aggregate state of %zu bytes is too large to pass between processes",
						size),
				 errhint("Aggregate fewer rows per group, or disable parallel query for this query.")));
	result = palloc(size);
	SET_VARSIZE(result, size);
	return result;
}

void
check_finite(const char *what, double value)
{
	if (!isfinite(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite, got %s", what, float8out_internal(value))));
}

void
check_positive(const char *what, double value)
{
	if (!(isfinite(value) && value > 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive and finite, got %s", what,
						float8out_internal(value))));
}

TupleDesc
composite_result_desc(FunctionCallInfo fcinfo, int natts, void (*check) (TupleDesc desc))
{
	TupleDesc	desc = (TupleDesc) fcinfo->flinfo->fn_extra;
	MemoryContext old;

	if (desc != NULL)
		return desc;
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "function %u must return a composite type", fcinfo->flinfo->fn_oid);
	if (check != NULL)
		check(desc);
	if (desc->natts != natts)
		elog(ERROR, "function %u returns %d columns, this library writes %d",
			 fcinfo->flinfo->fn_oid, desc->natts, natts);
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	desc = BlessTupleDesc(CreateTupleDescCopy(desc));
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = desc;
	return desc;
}

void
check_same_dim(int32 have, int32 got)
{
	if (have != got)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("features must have the same number of elements on every row, got %d and %d",
						have, got)));
}

const double *
features_of(ArrayType *a, int32 *dim, bool nan_is_missing)
{
	const double *v;

	if (ARR_NDIM(a) != 1)
		ereport(ERROR,
				(errcode(ARR_NDIM(a) == 0 ? ERRCODE_INVALID_PARAMETER_VALUE
						 : ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg(ARR_NDIM(a) == 0 ? "features must not be empty"
						: "features must be a one-dimensional array")));
	if (ARR_HASNULL(a) && array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("features must not contain NULL"),
				 nan_is_missing ? errhint("gbt takes NaN as a missing value.")
				 : errhint("feature_vector() replaces undefined features with its missing value, -999 by default.")));
	*dim = ARR_DIMS(a)[0];
	/* ARR_DATA_PTR, spelt out: the macro mixes signedness under -Wextra */
	v = (const double *) ((const char *) a + (ARR_HASNULL(a) ? (Size) a->dataoffset
											  : (Size) ARR_OVERHEAD_NONULLS(1)));
	for (int32 i = 0; i < *dim; i++)
		if (!isfinite(v[i]) && !(nan_is_missing && isnan(v[i])))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg(nan_is_missing ? "features must be finite or NaN (missing), got %s at position %d"
							: "features must be finite, got %s at position %d",
							float8out_internal(v[i]), i + 1)));
	return v;
}

const double *
features_for_model(ArrayType *a, int32 model_dim, bool nan_is_missing)
{
	int32		dim;
	const double *x = features_of(a, &dim, nan_is_missing);

	if (dim != model_dim)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("features have %d elements, the model takes %d", dim, model_dim)));
	return x;
}

void
append_json_int_array(StringInfo s, const char *key, const int32 *v, int n)
{
	appendStringInfo(s, ", \"%s\": [", key);
	for (int i = 0; i < n; i++)
		appendStringInfo(s, "%s%d", i ? ", " : "", v[i]);
	appendStringInfoChar(s, ']');
}

/* A float in JSON: the shortest text that reads back exactly. */
void
append_json_float(StringInfo s, double v)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(v, buf);
	appendStringInfoString(s, buf);
}
