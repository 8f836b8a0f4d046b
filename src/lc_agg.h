/*
 * lc_agg.h
 *		The aggregate state shared by lc_features and the per-band aggregates.
 *
 * One state, three uses: the combine function that merges two partial states
 * serves parallel query now, and will serve night-by-night merging and shards.
 * The single-band aggregates (weighted_mean, mad, ...) keep their rows in
 * band 0; lc_features keeps each LSST passband in its own slot.
 */
#ifndef ANTARES_LC_AGG_H
#define ANTARES_LC_AGG_H

#include "postgres.h"
#include "fmgr.h"

#include "band_stats.h"

#define LC_NBANDS 6
extern const char lc_band_names[LC_NBANDS];	/* "ugrizy", in that order */

/*
 * A band's observations.  `sorted` says obs is in band_obs_cmp order: rows
 * that arrive in order keep it, and the final or serialize function sorts in
 * place once (the order of the buffer carries no meaning, so reordering it
 * does not change the state's value).
 */
typedef struct LcBand
{
	Size		n;
	Size		cap;
	bool		sorted;
	BandObs    *obs;
} LcBand;

typedef struct LcAggState
{
	LcBand		band[LC_NBANDS];
} LcAggState;

/* Statistics of one band of a state (sorts the band in place if needed). */
extern void lc_band_stats(LcBand *band, BandStats *out);

#endif							/* ANTARES_LC_AGG_H */
