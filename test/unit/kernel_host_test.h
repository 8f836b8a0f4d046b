/*
 * kernel_host_test.h
 *		The kernels' host (kernel_host.h) for the unit tests: malloc and free
 *		with counts, an allocation that can be told to fail (to check that
 *		every status path frees everything) and a poll that can be told to
 *		say stop (to check cancellation).  Each test program includes it once.
 */
#ifndef ANTARES_KERNEL_HOST_TEST_H
#define ANTARES_KERNEL_HOST_TEST_H

#include <stdlib.h>

#include "kernel_host.h"

typedef struct TestHost
{
	long		live;			/* allocations not yet freed */
	long		calls;			/* allocations attempted */
	long		fail_at;		/* the attempt that returns NULL; 0: none */
	long		polls;			/* interrupt polls */
	long		stop_at;		/* the poll that says stop; 0: none */
} TestHost;

static void *
test_host_alloc(void *ctx, size_t size)
{
	TestHost   *h = ctx;

	h->calls++;
	if (h->fail_at != 0 && h->calls == h->fail_at)
		return NULL;
	h->live++;
	return malloc(size);
}

static void
test_host_free(void *ctx, void *ptr)
{
	TestHost   *h = ctx;

	h->live--;
	free(ptr);
}

static int
test_host_interrupted(void *ctx)
{
	TestHost   *h = ctx;

	h->polls++;
	return h->stop_at != 0 && h->polls == h->stop_at;
}

/* A host over h, whose counts start at zero. */
static inline KernelHost
test_host(TestHost *h)
{
	KernelHost	host = {test_host_alloc, test_host_free, test_host_interrupted, h};

	*h = (TestHost) {0};
	return host;
}

#endif							/* ANTARES_KERNEL_HOST_TEST_H */
