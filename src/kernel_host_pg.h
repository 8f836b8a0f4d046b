/*
 * kernel_host_pg.h
 *		The kernels' host (kernel_host.h) inside the server.
 */
#ifndef ANTARES_KERNEL_HOST_PG_H
#define ANTARES_KERNEL_HOST_PG_H

#include "postgres.h"

#include "kernel_host.h"

/*
 * A host whose memory comes from cxt (palloc that returns NULL when the
 * context is full, so the kernel's status names the failure and the glue
 * raises the ERROR, 53200) and whose poll is CHECK_FOR_INTERRUPTS: a cancel
 * or statement_timeout leaves the kernel by longjmp, the poll never says
 * stop.  The kernel's memory goes with cxt on an ERROR.
 */
extern KernelHost pg_kernel_host(MemoryContext cxt);

/*
 * pg_kernel_host, but whose poll returns: it says stop when a cancel or a
 * termination is pending, and leaves the raising to the glue.  For kernels
 * holding what an ERROR's longjmp would not free (libavro's objects): the
 * kernel releases them and returns its "interrupted" status, then the glue
 * calls CHECK_FOR_INTERRUPTS (or pg_kernel_stopped).
 */
extern KernelHost pg_kernel_host_returning(MemoryContext cxt);

/*
 * The ERROR (57014) for a kernel's "interrupted" status.  pg_kernel_host's
 * poll never returns one (CHECK_FOR_INTERRUPTS raises the cancel itself), so
 * the glue's switch over statuses ends here only for another host.
 */
extern void pg_kernel_stopped(const char *what) pg_attribute_noreturn();

#endif							/* ANTARES_KERNEL_HOST_PG_H */
