/*
 * lc_agg.h
 *		The aggregate state shared by lc_features and the per-band aggregates.
 *
 * One state, three uses: the merge of two states (obs_merge) is the combine
 * function of parallel query, lc_merge of stored states night by night
 * (lc_state.c), and, through the same aggregates, shards.
 * The single-band aggregates (weighted_mean, mad, ...) keep their rows in
 * band 0; lc_features keeps each LSST passband in its own slot.
 */
#ifndef ANTARES_LC_AGG_H
#define ANTARES_LC_AGG_H

#include "postgres.h"

#include "band_stats.h"
#include "obs_buffer.h"

#define LC_NBANDS 6
extern const char lc_band_names[LC_NBANDS];	/* "ugrizy", in that order */

/*
 * The index in lc_band_names of passband pb; an ERROR (22023) naming it when
 * it is not one of u g r i z y.
 */
extern int	lc_band_index(text *pb);

/* BandObs buffers, in band_obs_cmp order when sorted. */
extern const ObsKind band_obs_kind;

typedef struct LcAggState
{
	ObsBuffer	band[LC_NBANDS];
} LcAggState;

/* Statistics of one band of a state (sorts the band in place if needed). */
extern void lc_band_stats(ObsBuffer *band, BandStats *out);

/* A new, empty state in ctx. */
extern LcAggState *lc_state_new(MemoryContext ctx);

/* The antares.features row of a state (features.c), for a function returning it. */
extern Datum lc_features_datum(LcAggState *state, FunctionCallInfo fcinfo);

#endif							/* ANTARES_LC_AGG_H */
