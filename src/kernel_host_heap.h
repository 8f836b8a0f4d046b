/*
 * kernel_host_heap.h
 *		The kernels' host (kernel_host.h) in programs outside the server
 *		(bin/antares_load, bin/antares_alertgen, bench/alert_rates.c): the C
 *		heap, and nothing to poll (a signal ends the program).
 */
#ifndef ANTARES_KERNEL_HOST_HEAP_H
#define ANTARES_KERNEL_HOST_HEAP_H

#include <stdlib.h>

#include "kernel_host.h"

static inline void *
kernel_heap_alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size);
}

static inline void
kernel_heap_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

static inline int
kernel_heap_never_interrupted(void *ctx)
{
	(void) ctx;
	return 0;
}

static const KernelHost kernel_heap_host = {
	kernel_heap_alloc, kernel_heap_free, kernel_heap_never_interrupted, NULL
};

#endif							/* ANTARES_KERNEL_HOST_HEAP_H */
