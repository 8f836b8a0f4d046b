/*
 * antares.h
 *		Glue shared by the SQL-callable functions: argument checks and the
 *		conventions of aggregates with an internal state.
 */
#ifndef ANTARES_H
#define ANTARES_H

#include "postgres.h"
#include "fmgr.h"

/* GUCs (antares.c): antares.verbose, antares.svm_cache_size (kB). */
extern bool antares_verbose;
extern int	antares_svm_cache_kb;

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

/* ERROR (22023) naming `what` and the value unless it is finite / > 0. */
extern void check_finite(const char *what, double value);
extern void check_positive(const char *what, double value);

#endif							/* ANTARES_H */
