/*
 * splitmix64.h
 *		Steele, Lea and Flood's splitmix64 (2014): a 64-bit mix that seeds the
 *		kernels' generators and draws the boosted trees' samples.  Plain C.
 */
#ifndef ANTARES_SPLITMIX64_H
#define ANTARES_SPLITMIX64_H

#include <stdint.h>

#define SPLITMIX64_GAMMA 0x9e3779b97f4a7c15ULL

/* The output of a splitmix64 stream whose state is z. */
static inline uint64_t
splitmix64(uint64_t z)
{
	z += SPLITMIX64_GAMMA;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The next output of the stream *state, which it advances. */
static inline uint64_t
splitmix64_next(uint64_t *state)
{
	uint64_t	z = splitmix64(*state);

	*state += SPLITMIX64_GAMMA;
	return z;
}

#endif							/* ANTARES_SPLITMIX64_H */
