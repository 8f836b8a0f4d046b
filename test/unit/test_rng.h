/*
 * test_rng.h
 *		The kernel unit tests' deterministic random numbers: splitmix64,
 *		uniform in (0, 1] (so that log() of it is finite), normal by
 *		Box-Muller.  Each test program includes it once.
 */
#ifndef ANTARES_TEST_RNG_H
#define ANTARES_TEST_RNG_H

#include <math.h>
#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static double
uniform(void)
{
	uint64_t	z = (rng_state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	z ^= z >> 31;
	return (double) ((z >> 11) + 1) * 0x1p-53;
}

static double
normal(void)
{
	double		u = uniform(),
				v = uniform();

	return sqrt(-2.0 * log(u)) * cos(2.0 * 3.14159265358979323846 * v);
}

#endif							/* ANTARES_TEST_RNG_H */
