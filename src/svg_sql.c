/*
 * svg_sql.c
 *		SQL glue of the SVG plot kernel (svg_plot.c): the lc_plot aggregates,
 *		a multi-band light curve as a standalone SVG document.
 *
 * The state buffers each LSST band's (t, flux, dflux) in an ObsBuffer, in
 * gp_smooth's order (t, then flux, dflux), with the options of the group:
 * smooth and the title.  Workers sort while serializing and the leader
 * merges, as for the other aggregates.  The final function sorts each band
 * (O(n log n)), fits and predicts its GP when asked (O(n) per likelihood
 * evaluation, O(n + 200) for the curve), and renders in O(n + curve points)
 * (svg_plot.h).  Sorting makes the document independent of the row order,
 * byte for byte.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "antares.h"
#include "gp_sql.h"
#include "kernel_host_pg.h"
#include "lc_agg.h"
#include "svg_plot.h"

PG_FUNCTION_INFO_V1(plot_accum);
PG_FUNCTION_INFO_V1(plot_accum_smooth);
PG_FUNCTION_INFO_V1(plot_accum_title);
PG_FUNCTION_INFO_V1(plot_combine);
PG_FUNCTION_INFO_V1(plot_serialize);
PG_FUNCTION_INFO_V1(plot_deserialize);
PG_FUNCTION_INFO_V1(lc_plot_final);

/* Points of each band's GP curve: smooth at the plot's width (~560 px). */
#define PLOT_GRID 200

static const char *const band_label[LC_NBANDS] = {"u", "g", "r", "i", "z", "y"};

typedef struct PlotAggState
{
	ObsBuffer	band[LC_NBANDS];
	bool		smooth;
	char	   *title;			/* NUL-terminated, server encoding; NULL: none */
	Size		title_len;
} PlotAggState;

#define PLOT_SERIAL_MAGIC 0x504C5431	/* "PLT1" */
#define PLOT_SMOOTH		0x1
#define PLOT_HAS_TITLE	0x2

/* Serialized form: this header, the title's bytes, then each band's buffer. */
typedef struct PlotSerialHeader
{
	uint32		magic;
	uint32		flags;
	uint64		title_len;
} PlotSerialHeader;

static PlotAggState *
state_new(MemoryContext ctx, bool smooth, const char *title, Size title_len)
{
	PlotAggState *state = MemoryContextAlloc(ctx, sizeof(PlotAggState));

	for (int b = 0; b < LC_NBANDS; b++)
		obs_init(&state->band[b]);
	state->smooth = smooth;
	state->title = NULL;
	state->title_len = 0;
	if (title != NULL)
	{
		state->title = MemoryContextAlloc(ctx, title_len + 1);
		memcpy(state->title, title, title_len);
		state->title[title_len] = '\0';
		state->title_len = title_len;
	}
	return state;
}

/*
 * One plot per group: a row (or a partial state) whose options differ from
 * the group's is an error rather than a silent choice of one of them.
 */
static void
check_same_options(const PlotAggState *state, bool smooth, const char *title,
				   Size title_len)
{
	if (state->smooth != smooth)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("smooth must be the same for every row of a group")));
	if ((state->title == NULL) != (title == NULL) ||
		(title != NULL && (state->title_len != title_len ||
						   memcmp(state->title, title, title_len) != 0)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("title must be the same for every row of a group")));
}

/*
 * Common transition step: skip a row with a NULL observation, validate,
 * append to its band.  The state is created on the first row that counts,
 * so no rows (or only NULL rows) give NULL.
 */
static Datum
accumulate(FunctionCallInfo fcinfo, bool smooth, text *title)
{
	MemoryContext aggctx = agg_context(fcinfo, "plot_accum");
	PlotAggState *state = STATE_ARG(PlotAggState, 0);
	const char *title_data = title != NULL ? VARDATA_ANY(title) : NULL;
	Size		title_len = title != NULL ? VARSIZE_ANY_EXHDR(title) : 0;
	GpObs		o;
	int			band;

	for (int i = 1; i <= 4; i++)
		if (PG_ARGISNULL(i))
			RETURN_STATE(state);
	o.t = PG_GETARG_FLOAT8(1);
	band = lc_band_index(PG_GETARG_TEXT_PP(2));
	o.flux = PG_GETARG_FLOAT8(3);
	o.dflux = PG_GETARG_FLOAT8(4);
	check_finite("t", o.t);
	check_finite("flux", o.flux);
	check_positive("dflux", o.dflux);

	if (state == NULL)
		state = state_new(aggctx, smooth, title_data, title_len);
	else
		check_same_options(state, smooth, title_data, title_len);
	obs_append(&state->band[band], &gp_obs_kind, &o, aggctx);
	PG_RETURN_POINTER(state);
}

static bool
smooth_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("smooth must not be NULL")));
	return PG_GETARG_BOOL(5);
}

/* plot_accum(state, t, pb, flux, dflux) */
Datum
plot_accum(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, false, NULL);
}

/* plot_accum(state, t, pb, flux, dflux, smooth) */
Datum
plot_accum_smooth(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, smooth_arg(fcinfo), NULL);
}

/* plot_accum(state, t, pb, flux, dflux, smooth, title): a NULL title is no title */
Datum
plot_accum_title(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, smooth_arg(fcinfo),
					  PG_ARGISNULL(6) ? NULL : PG_GETARG_TEXT_PP(6));
}

Datum
plot_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "plot_combine");
	PlotAggState *a = STATE_ARG(PlotAggState, 0);
	PlotAggState *b = STATE_ARG(PlotAggState, 1);

	if (b == NULL)
		RETURN_STATE(a);
	/* b lives in per-call memory when deserialized: copy it, never adopt it. */
	if (a == NULL)
		a = state_new(aggctx, b->smooth, b->title, b->title_len);
	else
		check_same_options(a, b->smooth, b->title, b->title_len);
	for (int k = 0; k < LC_NBANDS; k++)
		obs_merge(&a->band[k], &b->band[k], &gp_obs_kind, aggctx);
	PG_RETURN_POINTER(a);
}

Datum
plot_serialize(PG_FUNCTION_ARGS)
{
	PlotAggState *state = (PlotAggState *) PG_GETARG_POINTER(0);
	PlotSerialHeader hdr;
	Size		size = VARHDRSZ + sizeof(hdr) + state->title_len;
	bytea	   *result;
	char	   *p;

	size += obs_serial_size_all(state->band, LC_NBANDS, &gp_obs_kind);
	hdr.magic = PLOT_SERIAL_MAGIC;
	hdr.flags = (state->smooth ? PLOT_SMOOTH : 0) | (state->title != NULL ? PLOT_HAS_TITLE : 0);
	hdr.title_len = state->title_len;
	result = state_bytea(size);
	p = VARDATA(result);
	memcpy(p, &hdr, sizeof(hdr));
	p += sizeof(hdr);
	memcpy(p, state->title != NULL ? state->title : "", state->title_len);
	p += state->title_len;
	obs_write_all(state->band, LC_NBANDS, &gp_obs_kind, p);
	PG_RETURN_BYTEA_P(result);
}

/* The result lives in per-call memory; plot_combine copies what it keeps. */
Datum
plot_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(data);
	Size		left = VARSIZE_ANY_EXHDR(data);
	PlotSerialHeader hdr;
	PlotAggState *state;

	(void) agg_context(fcinfo, "plot_deserialize");
	if (left < sizeof(hdr))
		goto corrupt;
	memcpy(&hdr, p, sizeof(hdr));
	p += sizeof(hdr);
	left -= sizeof(hdr);
	if (hdr.magic != PLOT_SERIAL_MAGIC || (hdr.flags & ~(PLOT_SMOOTH | PLOT_HAS_TITLE)) != 0 ||
		hdr.title_len > left || (!(hdr.flags & PLOT_HAS_TITLE) && hdr.title_len != 0))
		goto corrupt;
	state = state_new(CurrentMemoryContext, (hdr.flags & PLOT_SMOOTH) != 0,
					  (hdr.flags & PLOT_HAS_TITLE) ? p : NULL, (Size) hdr.title_len);
	p += hdr.title_len;
	left -= hdr.title_len;
	if (!obs_read_all(state->band, LC_NBANDS, &gp_obs_kind, p, left, CurrentMemoryContext))
		goto corrupt;
	PG_RETURN_POINTER(state);

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid serialized light-curve plot state")));
	pg_unreachable();
}

static double *
huge_doubles(Size n)
{
	return palloc_extended(Max(n, 1) * sizeof(double), MCXT_ALLOC_HUGE);
}

/* Fits band's GP and predicts PLOT_GRID points into series' curve arrays. */
static void
smooth_band(SvgSeries *series)
{
	Size		n = series->n;
	double	   *var = huge_doubles(n);
	void	   *work = palloc_extended(Max(gp_matern_work_size(n, PLOT_GRID), 1),
									   MCXT_ALLOC_HUGE);
	double	   *grid = palloc(PLOT_GRID * sizeof(double));
	double	   *mean = palloc(PLOT_GRID * sizeof(double));
	double	   *sd = palloc(PLOT_GRID * sizeof(double));
	GpFit		fit;
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);

	gp_check_span(series->t, n);
	for (Size i = 0; i < n; i++)
		var[i] = gp_variance(series->dflux[i]);
	report_gp_status(gp_matern_fit(series->t, series->flux, var, n, &fit, work, &host));
	report_gp_status(gp_matern_predict_grid(series->t, series->flux, var, n,
											fit.amplitude, fit.length_scale,
											PLOT_GRID, grid, mean, sd, work, &host));
	series->m = PLOT_GRID;
	series->curve_t = grid;
	series->curve_mean = mean;
	series->curve_sd = sd;
	pfree(work);
	pfree(var);
}

static void
report_svg_status(SvgStatus status, Size len)
{
	switch (status)
	{
		case SVG_OK:
			return;
		case SVG_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("cannot plot: flux +- dflux or the range of the data is beyond double precision")));
			break;
		case SVG_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Failed while rendering a light-curve plot of %zu bytes.", len)));
			break;
		case SVG_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("light-curve plot exceeds the maximum size of a text value")));
			break;
		case SVG_INTERRUPTED:
			pg_kernel_stopped("light-curve plot");
		case SVG_INVALID_INPUT:
			/* the glue validated every value: a bug, not the user's input */
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("invalid input reached the plot kernel")));
}

/* lc_plot_final(state): the SVG document, or NULL for no rows */
Datum
lc_plot_final(PG_FUNCTION_ARGS)
{
	PlotAggState *state;
	SvgSeries	series[LC_NBANDS];
	SvgPlot		plot = {0};
	SvgBuffer	buf;
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);
	SvgStatus	status;
	text	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (PlotAggState *) PG_GETARG_POINTER(0);

	for (int k = 0; k < LC_NBANDS; k++)
	{
		ObsBuffer  *band = &state->band[k];
		const GpObs *obs;
		SvgSeries  *s = &series[k];
		double	   *t,
				   *flux,
				   *dflux;

		memset(s, 0, sizeof(*s));
		s->name = band_label[k];
		s->color = svg_band_color(band_label[k]);
		if (band->n == 0)
			continue;
		obs_sort(band, &gp_obs_kind);
		obs = (const GpObs *) band->data;
		t = huge_doubles(band->n);
		flux = huge_doubles(band->n);
		dflux = huge_doubles(band->n);
		for (Size i = 0; i < band->n; i++)
		{
			t[i] = obs[i].t;
			flux[i] = obs[i].flux;
			dflux[i] = obs[i].dflux;
		}
		s->n = band->n;
		s->t = t;
		s->flux = flux;
		s->dflux = dflux;
		/* one point is a valid fit too (gp_smooth): its curve is a dot */
		if (state->smooth)
			smooth_band(s);
	}

	plot.series = series;
	plot.nseries = LC_NBANDS;
	/* the kernel takes UTF-8; it writes non-ASCII as character references */
	if (state->title != NULL)
		plot.title = pg_server_to_any(state->title, (int) state->title_len, PG_UTF8);

	svg_buffer_init(&buf, &host, MaxAllocSize - VARHDRSZ);
	status = svg_plot_render(&plot, &buf);
	report_svg_status(status, buf.len);

	/* ASCII only: valid text in every server encoding */
	result = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	svg_buffer_free(&buf);
	PG_RETURN_TEXT_P(result);
}
