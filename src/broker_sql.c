/*
 * broker_sql.c
 *		The broker features of an object in one aggregate: band_statistics
 *		over rows (t, flux, dflux), broker_features over rows (t, pb, flux,
 *		dflux) as one jsonb of named features, feature_vector over such a
 *		jsonb and broker_feature_names (docs/broker_features.md).
 *
 * Both aggregates buffer their rows as gp_smooth and lc_plot do: an
 * ObsBuffer of GpObs per passband (band_statistics uses the first), in
 * gp_obs_kind's order (t, flux, dflux), the order band_arrays sorts the
 * array functions' input in.  Workers sort while serializing, the leader
 * merges sorted runs (O(n)), and the final function sorts at most once and
 * hands each band to the array functions' own code (band_arrays.h): the
 * numbers are those of band_statistics, lomb_scargle and bazin_fit of the
 * band's arrays, to the bit, whatever the row order or the plan.
 *
 * Cost of broker_features' final function, per band of n points: the sort
 * O(n log n); the statistics O(n log n); the periodogram O(n m), m the
 * automatic grid's frequencies (~300 for the shipped bands); the Bazin fit
 * (GSL, up to 500 iterations of O(n)); the GP fit (O(n) per likelihood,
 * ~25 evaluations), its peak and half widths on gp_smooth's 200-point grid
 * (gp_peak.h) and its mean at 4 times around the r band's peak, O(n);
 * the jsonb, built from values, ~0.2 us a key.  The measured shares are in
 * bench/README.md.  broker_features(..., parts) leaves parts out.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "antares.h"
#include "band_arrays.h"
#include "band_stats.h"
#include "gp_peak.h"
#include "gp_sql.h"
#include "kernel_host_pg.h"
#include "lc_agg.h"

PG_FUNCTION_INFO_V1(band_rows_accum);
PG_FUNCTION_INFO_V1(broker_accum);
PG_FUNCTION_INFO_V1(broker_accum_parts);
PG_FUNCTION_INFO_V1(band_rows_combine);
PG_FUNCTION_INFO_V1(band_rows_serialize);
PG_FUNCTION_INFO_V1(band_rows_deserialize);
PG_FUNCTION_INFO_V1(band_statistics_final);
PG_FUNCTION_INFO_V1(broker_features_final);
PG_FUNCTION_INFO_V1(broker_feature_names);
PG_FUNCTION_INFO_V1(broker_feature_names_parts);
PG_FUNCTION_INFO_V1(feature_vector_jsonb);

/*
 * The parts of broker_features a group computes: a set of PART_* bits, the
 * same for every row of a group (all, unless the parts argument says).
 */
#define PART_STATISTICS		0x1
#define PART_PERIODOGRAM	0x2
#define PART_BAZIN			0x4
#define PART_GP				0x8		/* the GP peaks, shapes and the colours */
#define PARTS_ALL			0xF
static const char *const part_names[] = {"statistics", "periodogram", "bazin", "gp"};

/* The rows of a group, by passband (band_statistics: all in band 0). */
typedef struct BandRowsState
{
	ObsBuffer	band[LC_NBANDS];
	uint32		parts;
} BandRowsState;

#define BAND_ROWS_SERIAL_MAGIC 0x42524B32	/* "BRK2" */

/* Serialized form: this header, then each band's buffer (obs_write). */
typedef struct BandRowsSerialHeader
{
	uint32		magic;
	uint32		parts;
} BandRowsSerialHeader;

/*
 * The features of one band, in the order of their keys: band_statistics'
 * 29 columns, lomb_scargle's period and power, bazin_fit's numbers, the GP
 * peak, its shape around the r band's peak and its half widths.  Key
 * "<name>_<band>".
 */
static const char *const band_feature[] = {
	"observation_count", "duration", "minimum_time_interval", "maximum_time_interval",
	"median", "mean_variance", "percent_amplitude", "inter_percentile_range_10",
	"median_buffer_range_percentage_10", "flux_percentile_ratio_mid20",
	"flux_percentile_ratio_mid35", "flux_percentile_ratio_mid50",
	"flux_percentile_ratio_mid65", "flux_percentile_ratio_mid80", "kurtosis",
	"anderson_darling_normal", "cusum", "eta", "eta_e", "excess_variance", "chi2",
	"stetson_k", "maximum_slope", "linear_trend", "linear_trend_sigma",
	"linear_trend_noise", "linear_fit_slope", "linear_fit_slope_sigma",
	"linear_fit_reduced_chi2",
	"period", "period_power",
	"bazin_amplitude", "bazin_baseline", "bazin_reference_time", "bazin_rise_time",
	"bazin_fall_time", "bazin_amplitude_err", "bazin_baseline_err",
	"bazin_reference_time_err", "bazin_rise_time_err", "bazin_fall_time_err",
	"bazin_reduced_chi2", "bazin_peak_time", "bazin_peak_flux",
	"gp_peak_time", "gp_peak_flux", "gp_peak_dt", "gp_flux_ratio", "gp_flux_ratio_m10",
	"gp_flux_ratio_p15", "gp_flux_ratio_p30", "gp_half_rise_time", "gp_half_fall_time"
};

#define N_STATS			29		/* band_statistics' columns, first */
#define F_PERIOD		N_STATS
#define F_BAZIN			(F_PERIOD + 2)
#define F_GP			(F_BAZIN + 13)
#define F_GP_DT			(F_GP + 2)
#define F_GP_RATIO		(F_GP + 3)	/* at T, T - 10, T + 15, T + 30 */
#define F_GP_HALF		(F_GP + 7)	/* rise, fall */
#define N_BAND_FEATURES ((int) lengthof(band_feature))
StaticAssertDecl(F_GP_HALF + 2 == lengthof(band_feature), "GP keys last");
StaticAssertDecl(sizeof(LcStats) == offsetof(LcStats, duration) + (N_STATS - 1) * sizeof(double),
				 "LcStats is observation_count, then one double per other column");

/* The colours of adjacent passbands at the r band's GP peak, last. */
#define PEAK_BAND		2		/* r */
#define N_COLORS		(LC_NBANDS - 1)
#define N_FEATURES		(LC_NBANDS * N_BAND_FEATURES + N_COLORS)

/* The PART_* bit of feature k of broker_feature_names' order. */
static uint32
feature_part(int k)
{
	int			i = k % N_BAND_FEATURES;

	if (k >= LC_NBANDS * N_BAND_FEATURES || i >= F_GP)
		return PART_GP;
	return i < F_PERIOD ? PART_STATISTICS : i < F_BAZIN ? PART_PERIODOGRAM : PART_BAZIN;
}

/*
 * The PART_* set of a parts array: names from part_names, at least one;
 * another name, a NULL or no name is an ERROR.
 */
static uint32
parts_of(ArrayType *a)
{
	Datum	   *names;
	bool	   *nulls;
	int			n;
	uint32		parts = 0;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("parts must be a one-dimensional array, got %d dimensions", ARR_NDIM(a))));
	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &names, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		char	   *name;
		int			p = 0;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("parts must not contain NULL, got NULL at position %d", i + 1)));
		name = TextDatumGetCString(names[i]);
		while (p < (int) lengthof(part_names) && strcmp(name, part_names[p]) != 0)
			p++;
		if (p == (int) lengthof(part_names))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown part \"%s\"", name),
					 errhint("Parts are statistics, periodogram, bazin and gp.")));
		parts |= 1u << p;
	}
	if (parts == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parts must name at least one part")));
	return parts;
}

/* The name of feature k of broker_feature_names' order, in buf. */
static void
feature_name(int k, StringInfo buf)
{
	resetStringInfo(buf);
	if (k < LC_NBANDS * N_BAND_FEATURES)
		appendStringInfo(buf, "%s_%c", band_feature[k % N_BAND_FEATURES],
						 lc_band_names[k / N_BAND_FEATURES]);
	else
	{
		int			b = k - LC_NBANDS * N_BAND_FEATURES;

		appendStringInfo(buf, "color_%c_%c_at_%c_peak", lc_band_names[b],
						 lc_band_names[b + 1], lc_band_names[PEAK_BAND]);
	}
}

/* ---- the state ---- */

static BandRowsState *
state_new(MemoryContext ctx, uint32 parts)
{
	BandRowsState *state = MemoryContextAlloc(ctx, sizeof(BandRowsState));

	for (int b = 0; b < LC_NBANDS; b++)
		obs_init(&state->band[b]);
	state->parts = parts;
	return state;
}

static void
check_same_parts(const BandRowsState *state, uint32 parts)
{
	if (state->parts != parts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parts must be the same for every row of a group")));
}

/* A row's value: NULL is an ERROR (22004), as a NULL element of the arrays. */
static double
row_value(FunctionCallInfo fcinfo, int arg, const char *name, bool positive)
{
	double		v;

	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
	v = PG_GETARG_FLOAT8(arg);
	check_band_value(name, v, positive, 0);
	return v;
}

/* Checks a row (t, flux, dflux) at the arguments given; appends it to band. */
static Datum
accumulate(FunctionCallInfo fcinfo, int band, int t_arg, int flux_arg, int dflux_arg,
		   uint32 parts)
{
	MemoryContext aggctx = agg_context(fcinfo, "band rows transition");
	BandRowsState *state = STATE_ARG(BandRowsState, 0);
	GpObs		o;

	o.t = row_value(fcinfo, t_arg, "t", false);
	o.flux = row_value(fcinfo, flux_arg, "flux", false);
	o.dflux = row_value(fcinfo, dflux_arg, "dflux", true);
	if (state == NULL)
		state = state_new(aggctx, parts);
	else
		check_same_parts(state, parts);
	obs_append(&state->band[band], &gp_obs_kind, &o, aggctx);
	PG_RETURN_POINTER(state);
}

/* band_rows_accum(state, t, flux, dflux): band_statistics' rows */
Datum
band_rows_accum(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, 0, 1, 2, 3, PARTS_ALL);
}

static Datum
broker_row(FunctionCallInfo fcinfo, uint32 parts)
{
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pb must not be NULL")));
	return accumulate(fcinfo, lc_band_index(PG_GETARG_TEXT_PP(2)), 1, 3, 4, parts);
}

/* broker_accum(state, t, pb, flux, dflux) */
Datum
broker_accum(PG_FUNCTION_ARGS)
{
	return broker_row(fcinfo, PARTS_ALL);
}

/* The last parts array a transition function parsed, and its set (fn_extra). */
typedef struct PartsCache
{
	uint32		parts;
	Size		len;
	char		bytes[FLEXIBLE_ARRAY_MEMBER];
} PartsCache;

/*
 * parts_of(a), parsed again only when a differs from the previous row's
 * array: the rows of a query nearly always carry the same constant.
 */
static uint32
cached_parts(FunctionCallInfo fcinfo, ArrayType *a)
{
	PartsCache *c = fcinfo->flinfo->fn_extra;
	Size		len = VARSIZE(a);

	if (c == NULL || c->len != len || memcmp(c->bytes, a, len) != 0)
	{
		uint32		parts = parts_of(a);

		if (c != NULL)
			pfree(c);
		c = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, offsetof(PartsCache, bytes) + len);
		c->parts = parts;
		c->len = len;
		memcpy(c->bytes, a, len);
		fcinfo->flinfo->fn_extra = c;
	}
	return c->parts;
}

/* broker_accum(state, t, pb, flux, dflux, parts) */
Datum
broker_accum_parts(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("parts must not be NULL")));
	return broker_row(fcinfo, cached_parts(fcinfo, PG_GETARG_ARRAYTYPE_P(5)));
}

Datum
band_rows_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "band rows combine");
	BandRowsState *a = STATE_ARG(BandRowsState, 0);
	BandRowsState *b = STATE_ARG(BandRowsState, 1);

	if (b == NULL)
		RETURN_STATE(a);
	/* b lives in per-call memory when deserialized: copy it, never adopt it. */
	if (a == NULL)
		a = state_new(aggctx, b->parts);
	else
		check_same_parts(a, b->parts);
	for (int k = 0; k < LC_NBANDS; k++)
		obs_merge(&a->band[k], &b->band[k], &gp_obs_kind, aggctx);
	PG_RETURN_POINTER(a);
}

/* For parallel query only; sorting here puts that work in the workers. */
Datum
band_rows_serialize(PG_FUNCTION_ARGS)
{
	BandRowsState *state = (BandRowsState *) PG_GETARG_POINTER(0);
	BandRowsSerialHeader hdr = {BAND_ROWS_SERIAL_MAGIC, state->parts};
	bytea	   *result = state_bytea(VARHDRSZ + sizeof(hdr) +
									 obs_serial_size_all(state->band, LC_NBANDS, &gp_obs_kind));

	memcpy(VARDATA(result), &hdr, sizeof(hdr));
	obs_write_all(state->band, LC_NBANDS, &gp_obs_kind, VARDATA(result) + sizeof(hdr));
	PG_RETURN_BYTEA_P(result);
}

/* The result lives in per-call memory; band_rows_combine copies what it keeps. */
Datum
band_rows_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(data);
	Size		left = VARSIZE_ANY_EXHDR(data);
	BandRowsSerialHeader hdr;
	BandRowsState *state;

	(void) agg_context(fcinfo, "band rows deserialize");
	if (left < sizeof(hdr))
		goto corrupt;
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.magic != BAND_ROWS_SERIAL_MAGIC || hdr.parts == 0 || (hdr.parts & ~PARTS_ALL) != 0)
		goto corrupt;
	p += sizeof(hdr);
	left -= sizeof(hdr);
	state = state_new(CurrentMemoryContext, hdr.parts);
	if (!obs_read_all(state->band, LC_NBANDS, &gp_obs_kind, p, left, CurrentMemoryContext))
		goto corrupt;
	PG_RETURN_POINTER(state);

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid serialized band rows state")));
	pg_unreachable();
}

/* Band k of a state, sorted (in place: the state's value does not change). */
static BandArrays
state_band(BandRowsState *state, int k)
{
	ObsBuffer  *buf = &state->band[k];

	if (buf->n > (Size) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many observations in one band: %zu", (size_t) buf->n)));
	obs_sort(buf, &gp_obs_kind);
	return band_arrays_of_obs((const GpObs *) buf->data, (int) buf->n);
}

/* band_statistics(t, flux, dflux) aggregate: the array function's row */
Datum
band_statistics_final(PG_FUNCTION_ARGS)
{
	BandArrays	band;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	band = state_band(STATE_ARG(BandRowsState, 0), 0);
	PG_RETURN_DATUM(band_statistics_datum(&band, fcinfo));
}

/* ---- broker_features ---- */

/* One band's GP: its data and fit, for the peak and the colours. */
typedef struct BandGp
{
	BandArrays	band;
	double	   *var;
	GpFit		fit;
	void	   *work;
} BandGp;

/*
 * Fits the band's GP and writes its peak at f[F_GP], f[F_GP + 1] and its
 * half widths at f[F_GP_HALF], f[F_GP_HALF + 1] (n >= 1).
 */
static void
band_gp_peak(BandGp *gp, double *f)
{
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);
	int			n = gp->band.n;
	double	   *grid = palloc(3 * GP_DEFAULT_GRID * sizeof(double));

	gp->var = palloc_extended(Max(n, 1) * sizeof(double), MCXT_ALLOC_HUGE);
	for (int i = 0; i < n; i++)
		gp->var[i] = gp_variance(gp->band.dflux[i]);
	gp->work = palloc_extended(Max(gp_matern_work_size(n, GP_DEFAULT_GRID), 1), MCXT_ALLOC_HUGE);
	report_gp_status(gp_matern_fit(gp->band.t, gp->band.flux, gp->var, n, &gp->fit, gp->work,
								   &host));
	report_gp_status(gp_peak(gp->band.t, gp->band.flux, gp->var, n, gp->fit.amplitude,
							 gp->fit.length_scale, GP_DEFAULT_GRID, grid,
							 grid + GP_DEFAULT_GRID, grid + 2 * GP_DEFAULT_GRID, gp->work,
							 &host, &f[F_GP], &f[F_GP + 1]));
	gp_half_widths(grid, grid + GP_DEFAULT_GRID, GP_DEFAULT_GRID, f[F_GP], f[F_GP + 1],
				   &f[F_GP_HALF], &f[F_GP_HALF + 1]);
	pfree(grid);
}

/*
 * The GP mean of a band at time t: NaN when the band has no points or t is
 * outside its observed span [t_0, t_{n-1}] (the mean there reverts to the
 * prior's 0, not a flux of the object).
 */
static double
band_gp_at(const BandGp *gp, double t)
{
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);
	const BandArrays *b = &gp->band;
	double		mean,
				sd;

	if (b->n == 0 || isnan(t) || t < b->t[0] || t > b->t[b->n - 1])
		return NAN;
	report_gp_status(gp_matern_predict(b->t, b->flux, gp->var, b->n, gp->fit.amplitude,
									   gp->fit.length_scale, &t, 1, &mean, &sd, gp->work,
									   &host));
	return mean;
}

/*
 * The band's GP mean, divided by the r band's peak flux p, at the r band's
 * peak time t_r, t_r - 10, t_r + 15 and t_r + 30 d into f[F_GP_RATIO ..]
 * (left NaN when the band has no points or p is not > 0).  Outside the
 * band's span the mean reverts to 0: a band that has faded, or not yet
 * risen, has a ratio near 0, which is what the shape says.
 */
static void
band_gp_ratios(const BandGp *gp, double t_r, double p, double *f)
{
	static const double offset[4] = {0.0, -10.0, 15.0, 30.0};	/* the keys' order */
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);
	const BandArrays *b = &gp->band;
	double		t[4],
				mean[4],
				sd[4];

	if (b->n == 0 || !(p > 0.0))
		return;
	for (int j = 0; j < 4; j++)
		t[j] = t_r + offset[j];
	report_gp_status(gp_matern_predict(b->t, b->flux, gp->var, b->n, gp->fit.amplitude,
									   gp->fit.length_scale, t, 4, mean, sd, gp->work, &host));
	for (int j = 0; j < 4; j++)
		f[F_GP_RATIO + j] = mean[j] / p;
}

/*
 * The features of band k of the state's parts into f[0 .. N_BAND_FEATURES - 1]
 * (the others are left alone).
 */
static void
band_features(BandRowsState *state, int k, double *f, BandGp *gp)
{
	BandArrays	band = state_band(state, k);

	if (state->parts & PART_STATISTICS)
	{
		LcStats		s;
		const double *stat = &s.duration;

		band_lc_stats(&band, &s);
		f[0] = (double) s.observation_count;
		for (int i = 1; i < N_STATS; i++)
			f[i] = stat[i - 1];
	}
	if (state->parts & PART_PERIODOGRAM)
	{
		LsGridOptions opt = {0.0, INFINITY, LS_SAMPLES_PER_PEAK, LS_NYQUIST_FACTOR};
		LsPeak		peak;

		band_ls_peak(&band, &opt, LS_AUTO, &peak);
		f[F_PERIOD] = peak.period;
		f[F_PERIOD + 1] = peak.power;
	}
	if (state->parts & PART_BAZIN)
	{
		BazinFit	z;

		band_bazin_fit(&band, &z);
		{
			const double bz[F_GP - F_BAZIN] = {z.amplitude, z.baseline, z.reference_time,
				z.rise_time, z.fall_time, z.amplitude_err, z.baseline_err,
				z.reference_time_err, z.rise_time_err, z.fall_time_err, z.reduced_chi2,
			z.peak_time, z.peak_flux};

			memcpy(&f[F_BAZIN], bz, sizeof(bz));
		}
	}
	gp->band = band;
	if (state->parts & PART_GP)
	{
		for (int i = F_GP; i < N_BAND_FEATURES; i++)
			f[i] = NAN;
		if (band.n > 0)
			band_gp_peak(gp, f);
	}
}

/*
 * The keys, built once a backend: their names, and their order in a jsonb
 * object (shorter keys first, then bytewise), in which features_jsonb
 * pushes them so that jsonb's sort of the keys finds them sorted.
 */
typedef struct FeatureKeys
{
	char	   *name[N_FEATURES];
	int			len[N_FEATURES];
	int			jsonb_order[N_FEATURES];
} FeatureKeys;

static FeatureKeys *feature_keys;

static int
jsonb_key_cmp(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	if (feature_keys->len[x] != feature_keys->len[y])
		return feature_keys->len[x] < feature_keys->len[y] ? -1 : 1;
	return memcmp(feature_keys->name[x], feature_keys->name[y], feature_keys->len[x]);
}

static const FeatureKeys *
get_feature_keys(void)
{
	if (feature_keys == NULL)
	{
		FeatureKeys *keys = MemoryContextAlloc(TopMemoryContext, sizeof(FeatureKeys));
		StringInfoData key;

		initStringInfo(&key);
		for (int k = 0; k < N_FEATURES; k++)
		{
			feature_name(k, &key);
			keys->name[k] = MemoryContextStrdup(TopMemoryContext, key.data);
			keys->len[k] = key.len;
			keys->jsonb_order[k] = k;
		}
		pfree(key.data);
		feature_keys = keys;
		qsort(keys->jsonb_order, N_FEATURES, sizeof(int), jsonb_key_cmp);
	}
	return feature_keys;
}

/*
 * The features of parts as jsonb: NaN is null, a number the numeric of its
 * shortest exact decimal form (what jsonb_in makes of that text).  Built as
 * JsonbValues, not text parsed again: 1 us a key less (the keys' sort and
 * the JSON parse were most of the cost of the statistics part).
 */
static Datum
features_jsonb(const double *f, uint32 parts)
{
	const FeatureKeys *keys = get_feature_keys();
	JsonbParseState *state = NULL;
	JsonbValue *result;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < N_FEATURES; i++)
	{
		int			k = keys->jsonb_order[i];
		JsonbValue	key;
		JsonbValue	value;

		if (!(feature_part(k) & parts))
			continue;
		key.type = jbvString;
		key.val.string.val = keys->name[k];
		key.val.string.len = keys->len[k];
		pushJsonbValue(&state, WJB_KEY, &key);
		if (isnan(f[k]))
			value.type = jbvNull;
		else
		{
			char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

			double_to_shortest_decimal_buf(f[k], buf);
			value.type = jbvNumeric;
			value.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																	CStringGetDatum(buf),
																	ObjectIdGetDatum(InvalidOid),
																	Int32GetDatum(-1)));
		}
		pushJsonbValue(&state, WJB_VALUE, &value);
	}
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(result));
}

/* broker_features(t, pb, flux, dflux[, parts]) aggregate: jsonb */
Datum
broker_features_final(PG_FUNCTION_ARGS)
{
	BandRowsState *state;
	double		f[N_FEATURES];
	BandGp		gp[LC_NBANDS];

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = STATE_ARG(BandRowsState, 0);
	for (int k = 0; k < LC_NBANDS; k++)
		band_features(state, k, &f[k * N_BAND_FEATURES], &gp[k]);
	if (state->parts & PART_GP)
	{
		double		t_peak = f[PEAK_BAND * N_BAND_FEATURES + F_GP];
		double		p_peak = f[PEAK_BAND * N_BAND_FEATURES + F_GP + 1];

		for (int k = 0; k < LC_NBANDS; k++)
		{
			double	   *fk = &f[k * N_BAND_FEATURES];

			fk[F_GP_DT] = fk[F_GP] - t_peak;
			band_gp_ratios(&gp[k], t_peak, p_peak, fk);
		}
		for (int b = 0; b < N_COLORS; b++)
			f[LC_NBANDS * N_BAND_FEATURES + b] = band_color(band_gp_at(&gp[b], t_peak),
															band_gp_at(&gp[b + 1], t_peak));
	}
	PG_RETURN_DATUM(features_jsonb(f, state->parts));
}

/* The keys of parts, in the features' order, as text[]. */
static ArrayType *
feature_names(uint32 parts)
{
	Datum		names[N_FEATURES];
	int			n = 0;
	StringInfoData key;

	initStringInfo(&key);
	for (int k = 0; k < N_FEATURES; k++)
	{
		if (!(feature_part(k) & parts))
			continue;
		feature_name(k, &key);
		names[n++] = CStringGetTextDatum(key.data);
	}
	return construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT);
}

/* broker_feature_names() RETURNS text[]: every key, in the features' order */
Datum
broker_feature_names(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(feature_names(PARTS_ALL));
}

/* broker_feature_names(parts text[]): the keys broker_features(..., parts) gives */
Datum
broker_feature_names_parts(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(feature_names(parts_of(PG_GETARG_ARRAYTYPE_P(0))));
}

/*
 * feature_vector(f jsonb, names text[], missing float8) RETURNS float8[]:
 * f's numbers at names, in their order; JSON null is missing.  A name f
 * does not have, or whose value is not a number or null, is an ERROR
 * (22023): a typo must not become a column of missing values.  O(k log N)
 * for k names of an object of N keys.
 */
Datum
feature_vector_jsonb(PG_FUNCTION_ARGS)
{
	Jsonb	   *f = PG_GETARG_JSONB_P(0);
	ArrayType  *names_array = PG_GETARG_ARRAYTYPE_P(1);
	double		missing = PG_GETARG_FLOAT8(2);
	Datum	   *names;
	bool	   *nulls;
	int			n;
	Datum	   *out;

	if (!JB_ROOT_IS_OBJECT(f))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("f must be a jsonb object of features")));
	if (ARR_NDIM(names_array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("names must be a one-dimensional array, got %d dimensions",
						ARR_NDIM(names_array))));
	deconstruct_array(names_array, TEXTOID, -1, false, TYPALIGN_INT, &names, &nulls, &n);
	out = palloc(Max(n, 1) * sizeof(Datum));
	for (int i = 0; i < n; i++)
	{
		JsonbValue	key;
		JsonbValue *v;
		text	   *name;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("names must not contain NULL, got NULL at position %d", i + 1)));
		name = DatumGetTextPP(names[i]);
		key.type = jbvString;
		key.val.string.val = VARDATA_ANY(name);
		key.val.string.len = VARSIZE_ANY_EXHDR(name);
		v = findJsonbValueFromContainer(&f->root, JB_FOBJECT, &key);
		if (v == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature \"%s\" is not in f", text_to_cstring(name)),
					 errhint("broker_feature_names() lists the features of broker_features.")));
		if (v->type == jbvNull)
			out[i] = Float8GetDatum(missing);
		else if (v->type == jbvNumeric)
			out[i] = DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric));
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature \"%s\" of f is not a number or null", text_to_cstring(name))));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(out, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
										  TYPALIGN_DOUBLE));
}
