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
 * Cost: transition O(1) amortised per row.  Under parallel query each worker
 * sorts its part while serializing (O(n log n), in parallel), combine merges
 * sorted runs in O(n), and the final function is then O(n); serially the
 * final function sorts, O(n log n), once per state however many aggregates
 * share it.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "lc_agg.h"

PG_FUNCTION_INFO_V1(band_accum);
PG_FUNCTION_INFO_V1(band_accum_flux);
PG_FUNCTION_INFO_V1(lc_accum);
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

/* Serialized form: header, then each band's pairs in band order. */
#define LC_SERIAL_MAGIC		0x4C435331	/* "LCS1" */
#define LC_SERIAL_VERSION	1

typedef struct LcSerialHeader
{
	uint32		magic;
	uint16		version;
	uint16		nbands;
	uint64		count[LC_NBANDS];
} LcSerialHeader;

/* An internal state is returned as SQL NULL while there is none. */
#define RETURN_STATE(state) \
	do { \
		if ((state) == NULL) \
			PG_RETURN_NULL(); \
		PG_RETURN_POINTER(state); \
	} while (0)

#define STATE_ARG(n) \
	(PG_ARGISNULL(n) ? NULL : (LcAggState *) PG_GETARG_POINTER(n))

static MemoryContext
agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggctx;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return aggctx;
}

static LcAggState *
state_new(MemoryContext ctx)
{
	LcAggState *state = MemoryContextAllocZero(ctx, sizeof(LcAggState));

	for (int i = 0; i < LC_NBANDS; i++)
		state->band[i].sorted = true;
	return state;
}

#define LC_MAX_OBS	(MaxAllocHugeSize / sizeof(BandObs))

static void
check_obs_count(Size n)
{
	if (n > LC_MAX_OBS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many observations in one band")));
}

static BandObs *
obs_alloc(Size n, MemoryContext ctx)
{
	check_obs_count(n);
	return MemoryContextAllocHuge(ctx, n * sizeof(BandObs));
}

/* Make room for `extra` more observations, in the state's own context. */
static void
band_reserve(LcBand *band, Size extra, MemoryContext ctx)
{
	Size		need = band->n + extra;
	Size		cap;

	if (need <= band->cap)
		return;
	check_obs_count(need);
	cap = Min(Max(band->cap * 2, Max(need, 16)), LC_MAX_OBS);
	if (band->obs == NULL)
		band->obs = obs_alloc(cap, ctx);
	else
		band->obs = repalloc_huge(band->obs, cap * sizeof(BandObs));
	band->cap = cap;
}

static void
band_append(LcBand *band, double flux, double dflux, MemoryContext ctx)
{
	BandObs		o = {flux, dflux};

	band_reserve(band, 1, ctx);
	if (band->n > 0 && band_obs_cmp(&band->obs[band->n - 1], &o) > 0)
		band->sorted = false;
	band->obs[band->n++] = o;
}

static void
band_sort(LcBand *band)
{
	if (!band->sorted)
		band_obs_sort(band->obs, band->n);
	band->sorted = true;
}

/*
 * Adds `from` to `to`.  Two sorted runs are merged, in O(n), so that states
 * sorted by the workers reach the final function sorted.
 */
static void
band_merge(LcBand *to, const LcBand *from, MemoryContext ctx)
{
	BandObs    *merged;
	Size		i = 0,
				j = 0,
				k = 0;

	if (from->n == 0)
		return;
	if (!(to->sorted && from->sorted) || to->n == 0)
	{
		bool		sorted = to->n == 0 ? from->sorted : false;

		band_reserve(to, from->n, ctx);
		memcpy(to->obs + to->n, from->obs, from->n * sizeof(BandObs));
		to->n += from->n;
		to->sorted = sorted;
		return;
	}

	merged = obs_alloc(to->n + from->n, ctx);
	while (i < to->n && j < from->n)
		merged[k++] = band_obs_cmp(&from->obs[j], &to->obs[i]) < 0 ?
			from->obs[j++] : to->obs[i++];
	memcpy(merged + k, to->obs + i, (to->n - i) * sizeof(BandObs));
	k += to->n - i;
	memcpy(merged + k, from->obs + j, (from->n - j) * sizeof(BandObs));
	pfree(to->obs);
	to->obs = merged;
	to->n = to->cap = to->n + from->n;
}

static void
check_flux(double flux)
{
	if (!isfinite(flux))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("flux must be finite, got %s", float8out_internal(flux))));
}

static void
check_dflux(double dflux)
{
	if (!(isfinite(dflux) && dflux > 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dflux must be positive and finite, got %s",
						float8out_internal(dflux))));
}

static int
band_index(text *pb)
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
	LcAggState *state = STATE_ARG(0);
	double		flux;
	double		dflux = 1.0;

	if (PG_ARGISNULL(flux_arg) || (dflux_arg > 0 && PG_ARGISNULL(dflux_arg)))
		RETURN_STATE(state);

	flux = PG_GETARG_FLOAT8(flux_arg);
	check_flux(flux);
	if (dflux_arg > 0)
	{
		dflux = PG_GETARG_FLOAT8(dflux_arg);
		check_dflux(dflux);
	}

	if (state == NULL)
		state = state_new(aggctx);
	band_append(&state->band[band], flux, dflux, aggctx);
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
		RETURN_STATE(STATE_ARG(0));
	return accumulate(fcinfo, band_index(PG_GETARG_TEXT_PP(1)), 2, 3);
}

Datum
lc_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "lc_combine");
	LcAggState *a = STATE_ARG(0);
	LcAggState *b = STATE_ARG(1);

	if (b == NULL)
		RETURN_STATE(a);

	/* b lives in per-call memory when deserialized: copy it, never adopt it. */
	if (a == NULL)
		a = state_new(aggctx);
	for (int i = 0; i < LC_NBANDS; i++)
		band_merge(&a->band[i], &b->band[i], aggctx);
	PG_RETURN_POINTER(a);
}

/*
 * Serialized form, for parallel query only: the header, then each band's
 * pairs, sorted.  Sorting here puts the O(n log n) work in the workers.
 */
Datum
lc_serialize(PG_FUNCTION_ARGS)
{
	LcAggState *state = (LcAggState *) PG_GETARG_POINTER(0);
	LcSerialHeader hdr;
	Size		size = VARHDRSZ + sizeof(hdr);
	bytea	   *result;
	char	   *p;

	hdr.magic = LC_SERIAL_MAGIC;
	hdr.version = LC_SERIAL_VERSION;
	hdr.nbands = LC_NBANDS;
	for (int i = 0; i < LC_NBANDS; i++)
	{
		hdr.count[i] = state->band[i].n;
		size += state->band[i].n * sizeof(BandObs);
	}
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("light-curve state of %zu bytes is too large to pass between processes",
						size),
				 errhint("Aggregate fewer rows per group, or disable parallel query for this query.")));

	result = palloc(size);
	SET_VARSIZE(result, size);
	p = VARDATA(result);
	memcpy(p, &hdr, sizeof(hdr));
	p += sizeof(hdr);
	for (int i = 0; i < LC_NBANDS; i++)
	{
		band_sort(&state->band[i]);
		memcpy(p, state->band[i].obs, state->band[i].n * sizeof(BandObs));
		p += state->band[i].n * sizeof(BandObs);
	}
	PG_RETURN_BYTEA_P(result);
}

/*
 * The result lives in the current (per-call) memory context; lc_combine
 * copies what it keeps.  Sortedness is checked, not trusted.
 */
Datum
lc_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(data);
	Size		len = VARSIZE_ANY_EXHDR(data);
	Size		expect = sizeof(LcSerialHeader);
	LcSerialHeader hdr;
	LcAggState *state;

	if (len < sizeof(hdr))
		goto corrupt;
	memcpy(&hdr, p, sizeof(hdr));
	p += sizeof(hdr);
	if (hdr.magic != LC_SERIAL_MAGIC || hdr.version != LC_SERIAL_VERSION ||
		hdr.nbands != LC_NBANDS)
		goto corrupt;
	for (int i = 0; i < LC_NBANDS; i++)
	{
		if (hdr.count[i] > (len - sizeof(hdr)) / sizeof(BandObs))
			goto corrupt;
		expect += hdr.count[i] * sizeof(BandObs);
	}
	if (expect != len)
		goto corrupt;

	(void) agg_context(fcinfo, "lc_deserialize");
	state = state_new(CurrentMemoryContext);
	for (int i = 0; i < LC_NBANDS; i++)
	{
		LcBand	   *b = &state->band[i];

		if (hdr.count[i] == 0)
			continue;
		b->n = b->cap = hdr.count[i];
		b->obs = obs_alloc(b->n, CurrentMemoryContext);
		memcpy(b->obs, p, b->n * sizeof(BandObs));
		p += b->n * sizeof(BandObs);
		for (Size j = 1; j < b->n && b->sorted; j++)
			b->sorted = band_obs_cmp(&b->obs[j - 1], &b->obs[j]) <= 0;
	}
	PG_RETURN_POINTER(state);

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid serialized light-curve state")));
	pg_unreachable();
}

void
lc_band_stats(LcBand *band, BandStats *out)
{
	band_sort(band);
	if (band_stats_sorted(band->obs, band->n, out) != BAND_OK)
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
	lc_band_stats(&STATE_ARG(0)->band[0], &stats); \
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
