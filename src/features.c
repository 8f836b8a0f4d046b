/*
 * features.c
 *		lc_features (the whole multi-band light curve as one composite),
 *		feature_vector (the model input) and color.
 *
 * lc_features_final is O(sum over bands of n_b log n_b); feature_vector and
 * color are O(1) in the light curve's size.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/typcache.h"

#include "antares.h"
#include "lc_agg.h"

PG_FUNCTION_INFO_V1(lc_features_final);
PG_FUNCTION_INFO_V1(feature_vector);
PG_FUNCTION_INFO_V1(color);

/*
 * Layout of antares.features: for each band u g r i z y, seven columns
 * <b>_n <b>_mean <b>_std <b>_amp <b>_mad <b>_beyond <b>_skew, then the
 * colours of adjacent bands u-g g-r r-i i-z z-y.
 */
enum
{
	F_N, F_MEAN, F_STD, F_AMP, F_MAD, F_BEYOND, F_SKEW, F_PER_BAND
};
#define F_COLOR0	(LC_NBANDS * F_PER_BAND)
#define F_NATTS		(F_COLOR0 + LC_NBANDS - 1)
#define F_ATT(band, stat)	((band) * F_PER_BAND + (stat))

/* A features row whose shape is not ours means library and SQL disagree. */
static void
check_features_desc(TupleDesc desc)
{
	if (desc->natts != F_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("antares.features has %d columns, this library expects %d",
						desc->natts, F_NATTS),
				 errhint("Run ALTER EXTENSION antares UPDATE, or install the matching library.")));
}

static inline void
set_float(Datum *values, bool *nulls, int att, double v)
{
	values[att] = float8_or_null(v, &nulls[att]);
}

/*
 * The antares.features row of a state, for a function that returns
 * antares.features (sorts the state's bands in place).
 */
Datum
lc_features_datum(LcAggState *state, FunctionCallInfo fcinfo)
{
	TupleDesc	desc = composite_result_desc(fcinfo, F_NATTS, check_features_desc);
	Datum		values[F_NATTS];
	bool		nulls[F_NATTS];
	double		mean[LC_NBANDS];

	for (int b = 0; b < LC_NBANDS; b++)
	{
		BandStats	s;

		lc_band_stats(&state->band[b], &s);
		values[F_ATT(b, F_N)] = Int32GetDatum((int32) Min(s.n, (Size) PG_INT32_MAX));
		nulls[F_ATT(b, F_N)] = false;
		set_float(values, nulls, F_ATT(b, F_MEAN), s.mean);
		set_float(values, nulls, F_ATT(b, F_STD), s.std);
		set_float(values, nulls, F_ATT(b, F_AMP), s.amp);
		set_float(values, nulls, F_ATT(b, F_MAD), s.mad);
		set_float(values, nulls, F_ATT(b, F_BEYOND), s.beyond);
		set_float(values, nulls, F_ATT(b, F_SKEW), s.skew);
		mean[b] = s.mean;
	}
	for (int b = 0; b + 1 < LC_NBANDS; b++)
		set_float(values, nulls, F_COLOR0 + b, band_color(mean[b], mean[b + 1]));

	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

Datum
lc_features_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(lc_features_datum((LcAggState *) PG_GETARG_POINTER(0), fcinfo));
}

/* The band indexes named by `bands`: distinct letters of "ugrizy". */
static int
parse_bands(text *bands, int *index)
{
	const char *p = VARDATA_ANY(bands);
	int			len = VARSIZE_ANY_EXHDR(bands);
	bool		seen[LC_NBANDS] = {false};

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bands must name at least one passband")));
	for (int i = 0; i < len; i++)
	{
		const char *hit = memchr(lc_band_names, p[i], LC_NBANDS);

		if (hit == NULL || seen[hit - lc_band_names])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid bands \"%s\"", text_to_cstring(bands)),
					 errdetail("bands is a string of distinct passbands from \"ugrizy\", such as \"griz\".")));
		index[i] = hit - lc_band_names;
		seen[index[i]] = true;
	}
	return len;
}

/* The statistics a feature vector takes from each band, in output order. */
static const char *const fv_stats[] = {"std", "amp", "mad", "beyond", "skew"};
#define FV_NSTATS	((int) lengthof(fv_stats))
#define FV_MEAN		FV_NSTATS	/* the mean, for colours, comes last */

/* Column numbers of one row type for one band string, kept in fn_extra. */
typedef struct FvColumns
{
	Oid			typid;
	int32		typmod;
	char		bands[LC_NBANDS + 1];
	int			nbands;
	int			att[LC_NBANDS][FV_NSTATS + 1];	/* 0-based, per listed band */
} FvColumns;

static int
column_number(TupleDesc desc, char band, const char *stat)
{
	char		name[NAMEDATALEN];

	snprintf(name, sizeof(name), "%c_%s", band, stat);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
		{
			if (att->atttypid != FLOAT8OID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" must be of type double precision", name)));
			return i;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("feature_vector needs a column \"%s\"", name),
			 errhint("Pass an antares.features value, or a row with its columns.")));
	pg_unreachable();
}

static FvColumns *
fv_columns(FunctionCallInfo fcinfo, TupleDesc desc, text *bands)
{
	FvColumns  *cols = (FvColumns *) fcinfo->flinfo->fn_extra;
	int			len = VARSIZE_ANY_EXHDR(bands);
	int			index[LC_NBANDS];

	if (cols != NULL && cols->typid == desc->tdtypeid &&
		cols->typmod == desc->tdtypmod && len == cols->nbands &&
		memcmp(cols->bands, VARDATA_ANY(bands), len) == 0)
		return cols;

	if (cols == NULL)
		cols = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FvColumns));
	fcinfo->flinfo->fn_extra = NULL;	/* stays unset if a lookup fails */
	cols->nbands = parse_bands(bands, index);
	for (int i = 0; i < cols->nbands; i++)
	{
		char		b = lc_band_names[index[i]];

		cols->bands[i] = b;
		for (int s = 0; s < FV_NSTATS; s++)
			cols->att[i][s] = column_number(desc, b, fv_stats[s]);
		cols->att[i][FV_MEAN] = column_number(desc, b, "mean");
	}
	cols->typid = desc->tdtypeid;
	cols->typmod = desc->tdtypmod;
	fcinfo->flinfo->fn_extra = cols;
	return cols;
}

/*
 * feature_vector(f record, bands text, missing float8): for each band its
 * std, then amp, MAD, beyond and skew, then the colours of consecutive bands;
 * undefined features become `missing` (NULL elements when missing is NULL).
 * Columns are found by name, so a row of a table made with
 * (lc_features(...)).* serves as well as an antares.features value.
 */
Datum
feature_vector(PG_FUNCTION_ARGS)
{
	HeapTupleHeader rec;
	TupleDesc	desc;
	HeapTupleData tuple;
	Datum	   *fields;
	bool	   *fnulls;
	FvColumns  *cols;
	int			nb,
				nout,
				k = 0;
	Datum	   *out;
	bool	   *onulls;
	double		missing;
	bool		missing_null = PG_ARGISNULL(2);
	int			dims[1];
	int			lbs[1] = {1};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bands must not be NULL")));
	missing = missing_null ? 0.0 : PG_GETARG_FLOAT8(2);

	rec = PG_GETARG_HEAPTUPLEHEADER(0);
	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(rec),
								  HeapTupleHeaderGetTypMod(rec));
	cols = fv_columns(fcinfo, desc, PG_GETARG_TEXT_PP(1));
	tuple.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = rec;
	fields = palloc(desc->natts * sizeof(Datum));
	fnulls = palloc(desc->natts * sizeof(bool));
	heap_deform_tuple(&tuple, desc, fields, fnulls);
	ReleaseTupleDesc(desc);

	nb = cols->nbands;
	nout = FV_NSTATS * nb + (nb - 1);
	out = palloc(nout * sizeof(Datum));
	onulls = palloc(nout * sizeof(bool));

	for (int s = 0; s < FV_NSTATS; s++)
		for (int i = 0; i < nb; i++, k++)
		{
			int			att = cols->att[i][s];

			onulls[k] = fnulls[att] && missing_null;
			out[k] = fnulls[att] ? Float8GetDatum(missing) : fields[att];
		}
	for (int i = 0; i + 1 < nb; i++, k++)
	{
		int			ax = cols->att[i][FV_MEAN];
		int			ay = cols->att[i + 1][FV_MEAN];
		double		c = band_color(fnulls[ax] ? NAN : DatumGetFloat8(fields[ax]),
								   fnulls[ay] ? NAN : DatumGetFloat8(fields[ay]));

		onulls[k] = isnan(c) && missing_null;
		out[k] = Float8GetDatum(isnan(c) ? missing : c);
	}

	dims[0] = nout;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(out, onulls, 1, dims, lbs,
											 FLOAT8OID, sizeof(float8),
											 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* color(mean_x, mean_y) = -2.5 log10(mean_x / mean_y), NULL unless both > 0 */
Datum
color(PG_FUNCTION_ARGS)
{
	double		x = PG_GETARG_FLOAT8(0);
	double		y = PG_GETARG_FLOAT8(1);
	double		c;

	check_finite("mean flux", x);
	check_finite("mean flux", y);
	c = band_color(x, y);
	if (isnan(c))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(c);
}
