/*
 * lc_agg.c
 *		Aggregate support for light-curve statistics: transition, combine,
 *		serialize and deserialize functions, and the per-band final functions.
 *
 * The state buffers every (flux, dflux) pair because the median cannot be
 * computed from running sums, and because buffering lets the final function
 * sort: results then do not depend on row order, so serial, parallel and
 * merged aggregations agree to the bit.  Transition and combine are O(1)
 * amortised per row; a final function is O(n log n) in its band's rows.
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

/* Make room for `extra` more observations, in the state's own context. */
static void
band_reserve(LcBand *band, Size extra, MemoryContext ctx)
{
	Size		need = band->n + extra;
	Size		cap;

	if (need <= band->cap)
		return;
	if (need > MaxAllocHugeSize / sizeof(BandObs))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many observations in one band")));
	cap = Max(band->cap * 2, Max(need, 16));
	cap = Min(cap, MaxAllocHugeSize / sizeof(BandObs));
	if (band->obs == NULL)
		band->obs = MemoryContextAllocHuge(ctx, cap * sizeof(BandObs));
	else
		band->obs = repalloc_huge(band->obs, cap * sizeof(BandObs));
	band->cap = cap;
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
	LcBand	   *b;

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
		state = MemoryContextAllocZero(aggctx, sizeof(LcAggState));
	b = &state->band[band];
	band_reserve(b, 1, aggctx);
	b->obs[b->n].flux = flux;
	b->obs[b->n].dflux = dflux;
	b->n++;
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

	/* b may live in a shorter-lived context: copy it, never adopt it. */
	if (a == NULL)
		a = MemoryContextAllocZero(aggctx, sizeof(LcAggState));
	for (int i = 0; i < LC_NBANDS; i++)
	{
		LcBand	   *to = &a->band[i];
		const LcBand *from = &b->band[i];

		if (from->n == 0)
			continue;
		band_reserve(to, from->n, aggctx);
		memcpy(to->obs + to->n, from->obs, from->n * sizeof(BandObs));
		to->n += from->n;
	}
	PG_RETURN_POINTER(a);
}

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
		memcpy(p, state->band[i].obs, state->band[i].n * sizeof(BandObs));
		p += state->band[i].n * sizeof(BandObs);
	}
	PG_RETURN_BYTEA_P(result);
}

Datum
lc_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggctx = agg_context(fcinfo, "lc_deserialize");
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

	state = MemoryContextAllocZero(aggctx, sizeof(LcAggState));
	for (int i = 0; i < LC_NBANDS; i++)
	{
		LcBand	   *b = &state->band[i];

		if (hdr.count[i] == 0)
			continue;
		band_reserve(b, hdr.count[i], aggctx);
		memcpy(b->obs, p, hdr.count[i] * sizeof(BandObs));
		b->n = hdr.count[i];
		p += hdr.count[i] * sizeof(BandObs);
	}
	PG_RETURN_POINTER(state);

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid serialized light-curve state")));
	pg_unreachable();
}

void
lc_band_stats(const LcBand *band, BandStats *out)
{
	BandObs    *work = NULL;

	/* band_stats sorts its input; the aggregate state must not change. */
	if (band->n > 0)
	{
		work = palloc_extended(band->n * sizeof(BandObs), MCXT_ALLOC_HUGE);
		memcpy(work, band->obs, band->n * sizeof(BandObs));
	}
	if (band_stats(work, band->n, out) != BAND_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range in band statistics"),
				 errdetail("A flux/dflux ratio, or a deviation between fluxes, is beyond the range of double precision.")));
	if (work)
		pfree(work);
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
