/*
 * kernel_host_pg.c
 *		The kernels' host inside the server (kernel_host_pg.h).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "kernel_host_pg.h"

/* Huge: an SVM kernel-column cache or a forest's nodes may pass 1 GB. */
static void *
pg_host_alloc(void *ctx, size_t size)
{
	return MemoryContextAllocExtended((MemoryContext) ctx, Max(size, 1),
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void
pg_host_free(void *ctx, void *ptr)
{
	pfree(ptr);
}

/* A cancel or statement_timeout raises its ERROR (57014) here. */
static int
pg_host_interrupted(void *ctx)
{
	CHECK_FOR_INTERRUPTS();
	return 0;
}

/* A pending cancel or termination says stop; the glue raises it afterwards. */
static int
pg_host_cancel_pending(void *ctx)
{
	return QueryCancelPending || ProcDiePending;
}

KernelHost
pg_kernel_host_returning(MemoryContext cxt)
{
	KernelHost	host = {pg_host_alloc, pg_host_free, pg_host_cancel_pending, cxt};

	return host;
}

void
pg_kernel_stopped(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("%s was cancelled", what)));
}

KernelHost
pg_kernel_host(MemoryContext cxt)
{
	KernelHost	host = {pg_host_alloc, pg_host_free, pg_host_interrupted, cxt};

	return host;
}
