/*
 * antares.h
 *		Glue shared by the SQL-callable functions: argument checks and the
 *		conventions of aggregates with an internal state.
 */
#ifndef ANTARES_H
#define ANTARES_H

#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "utils/array.h"

/* GUCs (antares.c): antares.verbose, antares.svm_cache_size and
 * antares.model_cache_size (kB). */
extern bool antares_verbose;
extern int	antares_svm_cache_kb;
extern int	antares_model_cache_kb;

/* An internal state is returned as SQL NULL while there is none. */
#define RETURN_STATE(state) \
	do { \
		if ((state) == NULL) \
			PG_RETURN_NULL(); \
		PG_RETURN_POINTER(state); \
	} while (0)

#define STATE_ARG(type, n) \
	(PG_ARGISNULL(n) ? NULL : (type *) PG_GETARG_POINTER(n))

/* The aggregate's memory context; an ERROR outside an aggregate. */
extern MemoryContext agg_context(FunctionCallInfo fcinfo, const char *fname);

/*
 * A bytea of `size` bytes (header included) for a serialized aggregate state,
 * or an ERROR when the state is too large to pass between processes.
 */
extern bytea *state_bytea(Size size);

/*
 * The blessed descriptor of the composite the function returns, checked to
 * have natts columns (and by check, if given, the first time), kept in
 * fn_extra for the rest of the query.  The function must not use fn_extra
 * otherwise.
 */
extern TupleDesc composite_result_desc(FunctionCallInfo fcinfo, int natts,
									   void (*check) (TupleDesc desc));

/* A float8 column: NaN, an undefined value, is SQL NULL. */
static inline Datum
float8_or_null(double v, bool *isnull)
{
	*isnull = isnan(v);
	return Float8GetDatum(*isnull ? 0.0 : v);
}

/* ERROR (22023) naming `what` and the value unless it is finite / > 0. */
extern void check_finite(const char *what, double value);
extern void check_positive(const char *what, double value);

/*
 * The values of a features array (float8[]): one-dimensional, not empty, no
 * NULL, finite (or NaN, where nan_is_missing: gbt's missing value), else an
 * ERROR naming the problem.  Returns a pointer into the array (float8
 * elements without NULLs are contiguous), *dim the length.
 */
extern const double *features_of(ArrayType *a, int32 *dim, bool nan_is_missing);

/* The same for a model of dimension model_dim: another length is an ERROR. */
extern const double *features_for_model(ArrayType *a, int32 model_dim, bool nan_is_missing);

/* ERROR unless a row has the dimension of the group's first row. */
extern void check_same_dim(int32 have, int32 got);

/* JSON text: ", \"key\": [v, ...]" and a float's shortest exact form. */
extern void append_json_int_array(StringInfo s, const char *key, const int32 *v, int n);
extern void append_json_float(StringInfo s, double v);

#endif							/* ANTARES_H */
