/*
 * forest_test_util.h
 *		What the tree-ensemble unit tests share besides the host
 *		(kernel_host_test.h): a progress report that counts the trees, and a
 *		deterministic generator for test data.  Each test program includes it
 *		once.
 */
#ifndef ANTARES_FOREST_TEST_UTIL_H
#define ANTARES_FOREST_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "forest.h"
#include "kernel_host_test.h"

typedef struct TestProgress
{
	long		calls;
	uint32_t	last_trees_done;
} TestProgress;

static void
test_progress(void *arg, uint32_t trees_done, uint32_t n_trees)
{
	TestProgress *p = arg;

	(void) n_trees;
	p->calls++;
	p->last_trees_done = trees_done;
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
