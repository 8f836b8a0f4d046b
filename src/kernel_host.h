/*
 * kernel_host.h
 *		The one way a plain-C kernel reaches its host: memory and a poll for
 *		"stop now".  No PostgreSQL types; the extension's implementation is
 *		pg_kernel_host() (kernel_host_pg.h), the unit tests' kernel_host_test.h.
 *
 * Services only.  Callbacks that deliver data (the parser's row and header
 * sinks, SVM and forest progress reports shown with antares.verbose) stay
 * the kernels' own: they say what the kernel found, not what it needs.
 *
 * Contract, for every kernel that takes a host:
 *	 - alloc returns memory aligned for double, or NULL: the kernel then frees
 *	   what it holds and returns its *_NO_MEMORY / *_OUT_OF_MEMORY status.
 *	   Every byte a kernel keeps comes from alloc, so a host may also leave
 *	   alloc by a non-local exit (longjmp) when it reclaims its memory another
 *	   way (a memory context).  host_alloc never asks for 0 bytes.
 *	 - interrupted returns non-zero to stop the kernel, which then frees what
 *	   it holds and returns its *_INTERRUPTED / *_CANCELLED status; or it does
 *	   not return at all (PostgreSQL's CHECK_FOR_INTERRUPTS, a longjmp), which
 *	   a kernel allows by holding nothing but host memory and the caller's
 *	   buffers while it polls.
 *
 * How often a kernel polls: once every KERNEL_POLL_UNITS units of work, a
 * unit being an O(1) step of ~10-100 ns (a point of a GP or plot pass, a
 * parsed line, a row visited at an isolation-forest node, a row times a
 * feature at a random-forest node or in an SMO kernel column).  65536 units
 * are ~0.7-7 ms, so a cancel is felt within milliseconds, while a poll (an
 * indirect call; in PostgreSQL a test of InterruptPending, ~2 ns) costs
 * under 0.001% of the work between polls.  Counting a step at its largest
 * cost only polls more often, which is harmless.  A loop whose steps are
 * one unit each polls with host_poll_at(host, i); a loop whose steps vary in
 * size adds each step's units to a meter with host_work(host, &meter,
 * units).  (The survey simulator polls once per object, fewer than 65536
 * units: survey_sim.h.)  Kernels that allocate nothing and do O(n log n)
 * work over rows the executor has just read, polling between them (band
 * statistics, folds), take no host.
 */
#ifndef ANTARES_KERNEL_HOST_H
#define ANTARES_KERNEL_HOST_H

#include <stddef.h>
#include <stdint.h>

typedef struct KernelHost
{
	void	   *(*alloc) (void *ctx, size_t size);
	void		(*free) (void *ctx, void *ptr);
	int			(*interrupted) (void *ctx);
	void	   *ctx;
} KernelHost;

/* A power of two, so that host_poll_at is a mask. */
#define KERNEL_POLL_UNITS 65536

/* size bytes (at least 1) from the host, or NULL. */
static inline void *
host_alloc(const KernelHost *host, size_t size)
{
	return host->alloc(host->ctx, size > 0 ? size : 1);
}

/* count * size bytes, or NULL when that overflows or the host has none. */
static inline void *
host_alloc_array(const KernelHost *host, size_t count, size_t size)
{
	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	return host_alloc(host, count * size);
}

/* Returns ptr to the host; NULL is fine. */
static inline void
host_free(const KernelHost *host, void *ptr)
{
	if (ptr != NULL)
		host->free(host->ctx, ptr);
}

/* Non-zero when the host says stop. */
static inline int
host_poll(const KernelHost *host)
{
	return host->interrupted(host->ctx) != 0;
}

/* Polls at the last step of every KERNEL_POLL_UNITS: for unit steps i = 0, 1, ... */
static inline int
host_poll_at(const KernelHost *host, size_t i)
{
	return (i & (KERNEL_POLL_UNITS - 1)) == KERNEL_POLL_UNITS - 1 && host_poll(host);
}

/* Adds units to *meter and polls once it reaches KERNEL_POLL_UNITS. */
static inline int
host_work(const KernelHost *host, size_t *meter, size_t units)
{
	*meter += units;
	if (*meter < KERNEL_POLL_UNITS)
		return 0;
	*meter = 0;
	return host_poll(host);
}

#endif							/* ANTARES_KERNEL_HOST_H */
