/*
 * lc_agg.c
 *		Aggregate support for light-curve statistics: transition, combine,
 *		serialize and deserialize functions, and the per-band final functions.
 *
 * The state buffers every (flux, dflux) pair because the median cannot be
 * computed from running sums, and because buffering lets the statistics be
 * computed on sorted observations: results then do not depend on row order,
 * so serial, parallel and merged aggregations agree to the bit.
 *
 * Cost: transition O(1) amortised per row; inverse transition (moving
 * window frames) O(n).  Under parallel query each worker
 * sorts its part while serializing (O(n log n), in parallel), combine merges
 * sorted runs in O(n), and the final function is then O(n); serially the
 * final function sorts, O(n log n), once per state however many aggregates
 * share it (obs_buffer.c).
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "antares.h"
#include "lc_agg.h"

PG_FUNCTION_INFO_V1(band_accum);
PG_FUNCTION_INFO_V1(band_accum_flux);
PG_FUNCTION_INFO_V1(lc_accum);
PG_FUNCTION_INFO_V1(lc_retract);
PG_FUNCTION_INFO_V1(lc_combine);
PG_FUNCTION_INFO_V1(lc_serialize);
PG_FUNCTION_INFO_V1(lc_deserialize);
PG_FUNCTION_INFO_V1(weighted_mean_final);
PG_FUNCTION_INFO_V1(norm_std_final);
PG_FUNCTION_INFO_V1(norm_amplitude_final);
PG_FUNCTION_INFO_V1(mad_final);
PG_FUNCTION_INFO_V1(beyond_1std_final);
PG_FUNCTION_INFO_V1(skew_final);

const char	lc_band_names[LC_NBANDS] = {'u', 'g', 'r', 'i', 'z', 'y'};

const ObsKind band_obs_kind = {sizeof(BandObs), band_obs_cmp};

/* Serialized form: header, then each band's buffer (obs_write). */
#define LC_SERIAL_MAGIC		0x4C435332	/* "LCS2" */

typedef struct LcSerialHeader
{
	uint32		magic;
	uint32		nbands;
} LcSerialHeader;

LcAggState *
lc_state_new(MemoryContext ctx)
{
	LcAggState *state = MemoryContextAlloc(ctx, sizeof(LcAggState));

	for (int i = 0; i < LC_NBANDS; i++)
		obs_init(&state->band[i]);
	return state;
}

int
lc_band_index(text *pb)
{
	const char *p = VARDATA_ANY(pb);

	if (VARSIZE_ANY_EXHDR(pb) == 1)
	{
		for (int b = 0; b < LC_NBANDS; b++)
			if (p[0] == lc_band_names[b])
				return b;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown passband \"%s\"", text_to_cstring(pb)),
			 errhint("Passbands are u, g, r, i, z and y.")));
	pg_unreachable();
}

/*
 * Common transition step: skip a row with a NULL, validate, append.  The
 * state is created on the first row that counts, so an aggregate over no
 * (or only NULL) rows is NULL, as for the built-in aggregates.
 */
static Datum
accumulate(FunctionCallInfo fcinfo, int band, int flux_arg, int dflux_arg)
{
	MemoryContext aggctx = agg_context(fcinfo, "antares aggregate transition");
	LcAggState *state = STATE_ARG(LcAggState, 0);
	BandObs		obs = {0.0, 1.0};

	if (PG_ARGISNULL(flux_arg) || (dflux_arg > 0 && PG_ARGISNULL(dflux_arg)))
		RETURN_STATE(state);

	obs.flux = PG_GETARG_FLOAT8(flux_arg);
	check_finite("flux", obs.flux);
	if (dflux_arg > 0)
	{
		obs.dflux = PG_GETARG_FLOAT8(dflux_arg);
		check_positive("dflux", obs.dflux);
	}

	if (state == NULL)
		state = lc_state_new(aggctx);
	obs_append(&state->band[band], &band_obs_kind, &obs, aggctx);
	PG_RETURN_POINTER(state);
}

/* band_accum(state, flux, dflux) */
Datum
band_accum(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, 0, 1, 2);
}

/* band_accum(state, flux): statistics that ignore the uncertainty */
Datum
band_accum_flux(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, 0, 1, -1);
}

/* lc_accum(state, pb, flux, dflux) */
Datum
lc_accum(PG_FUNCTION_ARGS)
{
	/* Skip NULL rows before judging the passband. */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		RETURN_STATE(STATE_ARG(LcAggState, 0));
	return accumulate(fcinfo, lc_band_index(PG_GETARG_TEXT_PP(1)), 2, 3);
}

/*
 * lc_retract(state, pb, flux, dflux): the inverse of lc_accum, for window
 * frames that move (a row leaves the frame): removes that row's observation,
 * O(n).  NULL when no observation is left, so that an empty frame gives
 * NULL, as the aggregate over no rows does (PostgreSQL then restarts the
 * aggregation from the frame's rows).
 */
Datum
lc_retract(PG_FUNCTION_ARGS)
{
	LcAggState *state = STATE_ARG(LcAggState, 0);
	BandObs		obs;
	int			band;
	bool		empty = true;

	agg_context(fcinfo, "lc_retract");
	if (state == NULL || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		RETURN_STATE(state);
	band = lc_band_index(PG_GETARG_TEXT_PP(1));
	obs.flux = PG_GETARG_FLOAT8(2);
	obs.dflux = PG_GETARG_FLOAT8(3);
	if (!obs_remove(&state->band[band], &band_obs_kind, &obs))
		elog(ERROR, "lc_retract: the row leaving the window frame is not in its state");
	for (int i = 0; i < LC_NBANDS; i++)
		empty = empty && state->band[i].n == 0;
	if (empty)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(state);
}

Datum
lc_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "lc_combine");
	LcAggState *a = STATE_ARG(LcAggState, 0);
	LcAggState *b = STATE_ARG(LcAggState, 1);

	if (b == NULL)
		RETURN_STATE(a);

	/* b lives in per-call memory when deserialized: copy it, never adopt it. */
	if (a == NULL)
		a = lc_state_new(aggctx);
	for (int i = 0; i < LC_NBANDS; i++)
		obs_merge(&a->band[i], &b->band[i], &band_obs_kind, aggctx);
	PG_RETURN_POINTER(a);
}

/* For parallel query only; sorting here puts that work in the workers. */
Datum
lc_serialize(PG_FUNCTION_ARGS)
{
	LcAggState *state = (LcAggState *) PG_GETARG_POINTER(0);
	LcSerialHeader hdr = {LC_SERIAL_MAGIC, LC_NBANDS};
	bytea	   *result = state_bytea(VARHDRSZ + sizeof(hdr) +
									 obs_serial_size_all(state->band, LC_NBANDS, &band_obs_kind));

	memcpy(VARDATA(result), &hdr, sizeof(hdr));
	obs_write_all(state->band, LC_NBANDS, &band_obs_kind, VARDATA(result) + sizeof(hdr));
	PG_RETURN_BYTEA_P(result);
}

/* The result lives in per-call memory; lc_combine copies what it keeps. */
Datum
lc_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(data);
	Size		len = VARSIZE_ANY_EXHDR(data);
	LcSerialHeader hdr;
	LcAggState *state;

	(void) agg_context(fcinfo, "lc_deserialize");
	if (len < sizeof(hdr))
		goto corrupt;
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.magic != LC_SERIAL_MAGIC || hdr.nbands != LC_NBANDS)
		goto corrupt;
	p += sizeof(hdr);
	len -= sizeof(hdr);
	state = palloc(sizeof(LcAggState));
	if (!obs_read_all(state->band, LC_NBANDS, &band_obs_kind, p, len, CurrentMemoryContext))
		goto corrupt;
	PG_RETURN_POINTER(state);

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid serialized light-curve state")));
	pg_unreachable();
}

void
lc_band_stats(ObsBuffer *band, BandStats *out)
{
	obs_sort(band, &band_obs_kind);
	if (band_stats_sorted((const BandObs *) band->data, band->n, out) != BAND_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range in band statistics"),
				 errdetail("A flux/dflux ratio, or a deviation between fluxes, is beyond the range of double precision.")));
}

/* Final functions of the single-band aggregates: one statistic of band 0. */
#define BAND_FINAL(fname, field) \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	BandStats	stats; \
	\
	if (PG_ARGISNULL(0)) \
		PG_RETURN_NULL(); \
	lc_band_stats(&STATE_ARG(LcAggState, 0)->band[0], &stats); \
	if (isnan(stats.field)) \
		PG_RETURN_NULL(); \
	PG_RETURN_FLOAT8(stats.field); \
}

BAND_FINAL(weighted_mean_final, mean)
BAND_FINAL(norm_std_final, std)
BAND_FINAL(norm_amplitude_final, amp)
BAND_FINAL(mad_final, mad)
BAND_FINAL(beyond_1std_final, beyond)
BAND_FINAL(skew_final, skew)
