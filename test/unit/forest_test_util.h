/*
 * forest_test_util.h
 *		What the tree-ensemble unit tests share: a counting allocator that can
 *		be told to fail (to check that every status path frees everything), a
 *		progress callback that can be told to stop, and a deterministic
 *		generator for test data.  Each test program includes it once.
 */
#ifndef ANTARES_FOREST_TEST_UTIL_H
#define ANTARES_FOREST_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "forest.h"

typedef struct TestMemory
{
	long		live;			/* allocations not yet freed */
	long		calls;			/* allocations attempted */
	long		fail_at;		/* the attempt that returns NULL; 0: none */
	long		progress_calls;
	long		stop_at;		/* the progress call that returns 1; 0: none */
	uint32_t	last_trees_done;
} TestMemory;

static void *
test_alloc(void *arg, size_t size)
{
	TestMemory *m = arg;

	m->calls++;
	if (m->fail_at != 0 && m->calls == m->fail_at)
		return NULL;
	m->live++;
	return malloc(size);
}

static void
test_free(void *arg, void *p)
{
	TestMemory *m = arg;

	m->live--;
	free(p);
}

static int
test_progress(void *arg, uint32_t trees_done, uint32_t n_trees)
{
	TestMemory *m = arg;

	(void) n_trees;
	m->progress_calls++;
	m->last_trees_done = trees_done;
	return m->stop_at != 0 && m->progress_calls == m->stop_at;
}

static ForestCallbacks
test_callbacks(TestMemory *m)
{
	ForestCallbacks cb = {test_alloc, test_free, test_progress, m};

	*m = (TestMemory) {0};
	return cb;
}

/* ---- splitmix64 test data ---- */

static uint64_t test_rng_state = 0x243f6a8885a308d3u;

static double
test_uniform(void)
{
	uint64_t	z = (test_rng_state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	z ^= z >> 31;
	return (double) (z >> 11) * 0x1p-53;
}

static double
test_normal(void)
{
	double		u = test_uniform(),
				v = test_uniform();

	return sqrt(-2.0 * log(u + 0x1p-60)) * cos(6.283185307179586 * v);
}

#endif							/* ANTARES_FOREST_TEST_UTIL_H */
