/*
 * forest_internal.h
 *		Helpers the tree-ensemble kernels share and their callers do not see:
 *		memory through the caller's callbacks, and one GSL random number
 *		generator per tree.
 */
#ifndef ANTARES_FOREST_INTERNAL_H
#define ANTARES_FOREST_INTERNAL_H

#include <gsl/gsl_rng.h>

#include "forest.h"

/* count * size bytes from cb, or NULL when that overflows or alloc fails. */
extern void *forest_alloc_array(const ForestCallbacks *cb, size_t count, size_t size);

/* Frees p through cb; NULL is fine. */
extern void forest_free(const ForestCallbacks *cb, void *p);

/*
 * A Mersenne Twister (gsl_rng_mt19937) whose state lives in cb's memory
 * rather than GSL's malloc, so a non-local exit from a callback leaks
 * nothing.  forest_rng_seed_tree reseeds it for tree number tree of a
 * training run with seed: each tree's draws depend only on (seed, tree),
 * never on the trees trained before it or on the order trees are trained
 * in.  The 64-bit seed and the tree number are mixed (splitmix64) into
 * mt19937's 32-bit seed.
 */
extern gsl_rng *forest_rng_alloc(const ForestCallbacks *cb);
extern void forest_rng_free(const ForestCallbacks *cb, gsl_rng *rng);
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
