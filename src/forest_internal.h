/*
 * forest_internal.h
 *		Helpers the tree-ensemble kernels share and their callers do not see:
 *		one GSL random number generator per tree, in the host's memory.
 */
#ifndef ANTARES_FOREST_INTERNAL_H
#define ANTARES_FOREST_INTERNAL_H

#include <gsl/gsl_rng.h>

#include "forest.h"

/*
 * A Mersenne Twister (gsl_rng_mt19937) whose state lives in the host's memory
 * rather than GSL's malloc, so a non-local exit from the host leaks
 * nothing.  forest_rng_seed_tree reseeds it for tree number tree of a
 * training run with seed: each tree's draws depend only on (seed, tree),
 * never on the trees trained before it or on the order trees are trained
 * in.  The 64-bit seed and the tree number are mixed (splitmix64) into
 * mt19937's 32-bit seed.
 */
extern gsl_rng *forest_rng_alloc(const KernelHost *host);
extern void forest_rng_free(const KernelHost *host, gsl_rng *rng);
extern void forest_rng_seed_tree(gsl_rng *rng, uint64_t seed, uint32_t tree);

/*
 * A uniform integer in [0, n), 1 <= n <= 2^32 - 1: gsl_rng_uniform_int's
 * draw, whose own range check (an abort through GSL's error handler) the
 * callers' bounds make unreachable.
 */
static inline uint32_t
forest_rng_below(const gsl_rng *rng, uint32_t n)
{
	return (uint32_t) gsl_rng_uniform_int(rng, n);
}

#endif							/* ANTARES_FOREST_INTERNAL_H */
