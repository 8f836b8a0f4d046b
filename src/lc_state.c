/*
 * lc_state.c
 *		antares.lc_state: the state of lc_features as a value that can be
 *		stored, dumped and merged, for night-by-night (streaming) processing.
 *
 * A stored state is the aggregate state (every band's (flux, dflux) pairs)
 * in the model layer's format (model.h: header with format version and
 * checksum; text form "lc_state/1:<base64>").  Payload: for each band u g r
 * i z y a uint32 count, then that many (flux, dflux) pairs in band_obs_cmp
 * order.  Reading validates everything: counts that add up to the length,
 * finite fluxes, positive finite uncertainties, the order.
 *
 * Because features are computed on sorted observations, merging states is
 * exact: lc_finalize(lc_merge(a, b)) is lc_features over the rows of both,
 * to the bit, whatever the order.  The merge is lc_combine's (obs_merge), so
 * the same code serves parallel query, streaming and shards.
 *
 * Cost: encoding O(n) (plus a sort if the state is not sorted), decoding
 * and validating O(n), merging two states O(n + m), lc_finalize O(n).
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/memutils.h"

#include "antares.h"
#include "lc_agg.h"
#include "model.h"

PG_FUNCTION_INFO_V1(lc_state_in);
PG_FUNCTION_INFO_V1(lc_state_out);
PG_FUNCTION_INFO_V1(lc_state_recv);
PG_FUNCTION_INFO_V1(lc_state_send);
PG_FUNCTION_INFO_V1(lc_state_final);
PG_FUNCTION_INFO_V1(lc_merge);
PG_FUNCTION_INFO_V1(lc_merge_accum);
PG_FUNCTION_INFO_V1(lc_finalize);
PG_FUNCTION_INFO_V1(lc_count);

#define PAIR_SIZE	(2 * sizeof(double))

/* The stored form of a state; sorts its bands in place. */
static struct varlena *
lc_state_encode(LcAggState *state)
{
	Size		payload = 0;
	ModelWriter w;
	struct varlena *v;

	for (int b = 0; b < LC_NBANDS; b++)
	{
		obs_sort(&state->band[b], &band_obs_kind);
		if (state->band[b].n > PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many observations in one band for an antares.lc_state")));
		payload += sizeof(uint32) + state->band[b].n * PAIR_SIZE;
	}
	v = model_create(MODEL_LC_STATE, LC_NBANDS, payload, &w);
	for (int b = 0; b < LC_NBANDS; b++)
	{
		const BandObs *obs = (const BandObs *) state->band[b].data;

		model_put_u32(&w, (uint32) state->band[b].n);
		for (Size i = 0; i < state->band[b].n; i++)
		{
			model_put_f64(&w, obs[i].flux);
			model_put_f64(&w, obs[i].dflux);
		}
	}
	model_seal(v, &w);
	return v;
}

/*
 * A state (in ctx) from a stored value; errcode for what is wrong in it (see
 * model_open).
 */
static LcAggState *
lc_state_decode(const struct varlena *v, int errcode, MemoryContext ctx)
{
	ModelReader r;
	LcAggState *state = lc_state_new(ctx);
	uint32		nbands = model_open(v, MODEL_LC_STATE, errcode, &r);

	if (nbands != LC_NBANDS)
		model_invalid(&r, "it holds %u bands, not %d", nbands, LC_NBANDS);
	for (int b = 0; b < LC_NBANDS; b++)
	{
		uint32		n = model_get_u32(&r);
		ObsBuffer  *buf = &state->band[b];
		BandObs    *obs;

		if (n > model_remaining(&r) / PAIR_SIZE)
			model_invalid(&r, "band %c announces %u observations, more than the value holds",
						  lc_band_names[b], n);
		if (n == 0)
			continue;
		buf->data = MemoryContextAllocHuge(ctx, n * sizeof(BandObs));
		buf->n = buf->cap = buf->nsorted = n;
		obs = (BandObs *) buf->data;
		model_get_f64s(&r, (double *) obs, 2 * (Size) n);
		for (uint32 i = 0; i < n; i++)
		{
			if (!isfinite(obs[i].flux) || !isfinite(obs[i].dflux) || !(obs[i].dflux > 0.0))
				model_invalid(&r, "band %c holds an invalid observation (flux %g, dflux %g)",
							  lc_band_names[b], obs[i].flux, obs[i].dflux);
			if (i > 0 && band_obs_cmp(&obs[i - 1], &obs[i]) > 0)
				model_invalid(&r, "the observations of band %c are out of order", lc_band_names[b]);
		}
	}
	model_end(&r);
	return state;
}

static LcAggState *
lc_state_arg(FunctionCallInfo fcinfo, int n, MemoryContext ctx)
{
	return lc_state_decode(PG_DETOAST_DATUM(PG_GETARG_DATUM(n)), ERRCODE_DATA_CORRUPTED, ctx);
}

static void
lc_state_validate(const struct varlena *v, int errcode)
{
	lc_state_decode(v, errcode, CurrentMemoryContext);
}

Datum
lc_state_in(PG_FUNCTION_ARGS)
{
	return model_type_in(fcinfo, MODEL_LC_STATE, lc_state_validate);
}

Datum
lc_state_out(PG_FUNCTION_ARGS)
{
	return model_type_out(fcinfo, MODEL_LC_STATE);
}

Datum
lc_state_recv(PG_FUNCTION_ARGS)
{
	return model_type_recv(fcinfo, MODEL_LC_STATE, lc_state_validate);
}

Datum
lc_state_send(PG_FUNCTION_ARGS)
{
	return model_type_send(fcinfo, MODEL_LC_STATE);
}

/* Final function of lc_accumulate and of the lc_merge aggregate. */
Datum
lc_state_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_POINTER(lc_state_encode((LcAggState *) PG_GETARG_POINTER(0)));
}

/* lc_merge(a, b): the state of the rows of both; NULL is no rows. */
Datum
lc_merge(PG_FUNCTION_ARGS)
{
	LcAggState *a,
			   *b;

	if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(1) || PG_ARGISNULL(0))
	{
		/* validated like any stored value before it is passed on */
		int			n = PG_ARGISNULL(0) ? 1 : 0;

		lc_state_arg(fcinfo, n, CurrentMemoryContext);
		PG_RETURN_DATUM(PG_GETARG_DATUM(n));
	}
	a = lc_state_arg(fcinfo, 0, CurrentMemoryContext);
	b = lc_state_arg(fcinfo, 1, CurrentMemoryContext);
	for (int i = 0; i < LC_NBANDS; i++)
		obs_merge(&a->band[i], &b->band[i], &band_obs_kind, CurrentMemoryContext);
	PG_RETURN_POINTER(lc_state_encode(a));
}

/* Transition of the lc_merge aggregate: merges a stored state into the state. */
Datum
lc_merge_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "lc_merge_accum");
	LcAggState *state = STATE_ARG(LcAggState, 0);
	LcAggState *add;

	if (PG_ARGISNULL(1))
		RETURN_STATE(state);
	add = lc_state_arg(fcinfo, 1, aggctx);
	if (state == NULL)
		PG_RETURN_POINTER(add);
	for (int i = 0; i < LC_NBANDS; i++)
		obs_merge(&state->band[i], &add->band[i], &band_obs_kind, aggctx);
	PG_RETURN_POINTER(state);
}

/*
 * lc_finalize(s): the features of a stored state, as lc_features gives them.
 * lc_finalize(a, b): those of lc_merge(a, b), without building the merged
 * value (NULL is no rows; both NULL gives NULL).
 */
Datum
lc_finalize(PG_FUNCTION_ARGS)
{
	LcAggState *state = NULL;

	for (int i = 0; i < PG_NARGS(); i++)
	{
		LcAggState *s;

		if (PG_ARGISNULL(i))
			continue;
		s = lc_state_arg(fcinfo, i, CurrentMemoryContext);
		if (state == NULL)
			state = s;
		else
			for (int b = 0; b < LC_NBANDS; b++)
				obs_merge(&state->band[b], &s->band[b], &band_obs_kind, CurrentMemoryContext);
	}
	if (state == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(lc_features_datum(state, fcinfo));
}

/* lc_count(s): the number of observations a stored state holds, O(n). */
Datum
lc_count(PG_FUNCTION_ARGS)
{
	LcAggState *state = lc_state_arg(fcinfo, 0, CurrentMemoryContext);
	int64		n = 0;

	for (int b = 0; b < LC_NBANDS; b++)
		n += state->band[b].n;
	PG_RETURN_INT64(n);
}
