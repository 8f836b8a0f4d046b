/*
 * antares.c
 *		Module entry point of the antares extension, and the glue helpers
 *		every SQL-callable function shares (antares.h).
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "antares.h"
#include "gp_matern.h"
#include "svg_plot.h"

PG_MODULE_MAGIC;

bool		antares_verbose = false;
int			antares_svm_cache_kb = 200 * 1024;

void		_PG_init(void);

static void
check_interrupts(void)
{
	CHECK_FOR_INTERRUPTS();
}

void
_PG_init(void)
{
	/* the kernels' long passes stop on a cancel (statement_timeout, Ctrl-C) */
	gp_matern_interrupt = check_interrupts;
	svg_plot_interrupt = check_interrupts;

	DefineCustomBoolVariable("antares.verbose",
							 "Reports the progress of long computations (SVM training) as NOTICE messages.",
							 NULL, &antares_verbose, false, PGC_USERSET, 0,
							 NULL, NULL, NULL);
	/* libsvm's cache_size, scikit-learn's default 200 MB; only speed depends on it */
	DefineCustomIntVariable("antares.svm_cache_size",
							"Memory for cached kernel columns while svm_train trains one pair of classes.",
							NULL, &antares_svm_cache_kb, 200 * 1024, 64, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
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
