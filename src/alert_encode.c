/*
 * alert_encode.c
 *		Rubin-format alert packets from photometric points through libavro
 *		(see alert_encode.h).
 *
 * The writer schema is generated from the tables below, in the order of
 * Rubin's 11.0 records; a datum is filled by walking the same tables, field
 * index by field index, into one generic libavro value kept by the encoder
 * (reset per alert), and written by libavro into the encoder's buffer.  The
 * container framing (header, blocks, sync markers) is written here, as
 * alert_decode.c reads it.
 *
 * Cost (test_alert_encode's "encode rate" line, -O2, one core of the shared
 * development machine): an alert with 20 prvDiaSources (7.1 kB) 120-135 us
 * as a bare datum, 7,500-8,200 alerts/s; into a deflate container 5,700-
 * 6,300 alerts/s.  perf: libavro 76% -- its generic value is set field by
 * field through function tables (82 fields per diaSource, each a union
 * branch and a value), then walked once more to write it -- this file 14%.
 * (Sizing each datum with avro_value_sizeof before writing it was a third
 * walk: 170 us.)
 */
#include "alert_encode.h"

#include <avro.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------- the schema */

typedef enum FieldType
{
	T_LONG, T_INT, T_DOUBLE, T_FLOAT, T_STRING,
	/* ["null", t] */
	T_OPT_LONG, T_OPT_DOUBLE, T_OPT_FLOAT, T_OPT_BOOL, T_OPT_STRING
} FieldType;

static const char *const type_json[] = {
	"\"long\"", "\"int\"", "\"double\"", "\"float\"", "\"string\"",
	"[\"null\",\"long\"]", "[\"null\",\"double\"]",
	"[\"null\",\"float\"]", "[\"null\",\"boolean\"]", "[\"null\",\"string\"]"
};

/*
 * What a field holds.  V_FIXED: a plausible constant of its type (long
 * 2025120700123, a visit-like number; int 50; float 0.5; boolean false;
 * double: the source's midpointMjdTai, e.g. timeProcessedMjdTai); V_NULL:
 * null.  The diaObject's per-band values are over the alert's diaSource
 * and prvDiaSources in that band: mean psfFlux, its error sqrt(sum err^2) /
 * n, the sample standard deviation, n (null when n is 0; sigma when n < 2).
 */
typedef enum FieldValue
{
	V_FIXED, V_NULL, V_ID, V_OBJECT, V_MJD, V_RA, V_DEC, V_FLUX, V_FLUXERR, V_BAND,
	V_MEAN, V_MEANERR, V_SIGMA, V_NDATA, V_FIRST, V_LAST, V_NSOURCES
} FieldValue;

typedef struct FieldDef
{
	const char *name;
	FieldType	type;
	FieldValue	value;
	int			band;			/* diaObject's per-band fields: index in "ugrizy" */
} FieldDef;

#define F(name, type, value) {name, type, value, 0}
#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* 82 of 11.0's 98 fields: all the measurements and pixel flags, a few of the other flags. */
static const FieldDef dia_source[] = {
	F("diaSourceId", T_LONG, V_ID), F("visit", T_LONG, V_FIXED), F("detector", T_INT, V_FIXED),
	F("diaObjectId", T_OPT_LONG, V_OBJECT), F("ssObjectId", T_OPT_LONG, V_NULL),
	F("parentDiaSourceId", T_OPT_LONG, V_NULL), F("midpointMjdTai", T_DOUBLE, V_MJD),
	F("ra", T_DOUBLE, V_RA), F("raErr", T_OPT_FLOAT, V_FIXED), F("dec", T_DOUBLE, V_DEC),
	F("decErr", T_OPT_FLOAT, V_FIXED), F("ra_dec_Cov", T_OPT_FLOAT, V_FIXED),
	F("x", T_FLOAT, V_FIXED), F("xErr", T_OPT_FLOAT, V_FIXED), F("y", T_FLOAT, V_FIXED),
	F("yErr", T_OPT_FLOAT, V_FIXED), F("centroid_flag", T_OPT_BOOL, V_FIXED),
	F("apFlux", T_OPT_FLOAT, V_FIXED), F("apFluxErr", T_OPT_FLOAT, V_FIXED),
	F("apFlux_flag", T_OPT_BOOL, V_FIXED), F("isNegative", T_OPT_BOOL, V_FIXED),
	F("snr", T_OPT_FLOAT, V_FIXED), F("psfFlux", T_OPT_FLOAT, V_FLUX),
	F("psfFluxErr", T_OPT_FLOAT, V_FLUXERR), F("psfLnL", T_OPT_FLOAT, V_FIXED),
	F("psfChi2", T_OPT_FLOAT, V_FIXED), F("psfNdata", T_INT, V_FIXED),
	F("psfFlux_flag", T_OPT_BOOL, V_FIXED), F("trailFlux", T_OPT_FLOAT, V_FIXED),
	F("trailFluxErr", T_OPT_FLOAT, V_FIXED), F("trailRa", T_OPT_DOUBLE, V_RA),
	F("trailRaErr", T_OPT_FLOAT, V_FIXED), F("trailDec", T_OPT_DOUBLE, V_DEC),
	F("trailDecErr", T_OPT_FLOAT, V_FIXED), F("trailLength", T_OPT_FLOAT, V_FIXED),
	F("trailLengthErr", T_OPT_FLOAT, V_FIXED), F("trailAngle", T_OPT_FLOAT, V_FIXED),
	F("trailAngleErr", T_OPT_FLOAT, V_FIXED), F("trailChi2", T_OPT_FLOAT, V_FIXED),
	F("trailNdata", T_INT, V_FIXED), F("dipoleMeanFlux", T_OPT_FLOAT, V_FIXED),
	F("dipoleMeanFluxErr", T_OPT_FLOAT, V_FIXED), F("dipoleFluxDiff", T_OPT_FLOAT, V_FIXED),
	F("dipoleFluxDiffErr", T_OPT_FLOAT, V_FIXED), F("dipoleLength", T_OPT_FLOAT, V_FIXED),
	F("dipoleAngle", T_OPT_FLOAT, V_FIXED), F("dipoleChi2", T_OPT_FLOAT, V_FIXED),
	F("dipoleNdata", T_INT, V_FIXED), F("scienceFlux", T_OPT_FLOAT, V_FIXED),
	F("scienceFluxErr", T_OPT_FLOAT, V_FIXED), F("templateFlux", T_OPT_FLOAT, V_FIXED),
	F("templateFluxErr", T_OPT_FLOAT, V_FIXED), F("ixx", T_OPT_FLOAT, V_FIXED),
	F("iyy", T_OPT_FLOAT, V_FIXED), F("ixy", T_OPT_FLOAT, V_FIXED),
	F("ixxPSF", T_OPT_FLOAT, V_FIXED), F("iyyPSF", T_OPT_FLOAT, V_FIXED),
	F("ixyPSF", T_OPT_FLOAT, V_FIXED), F("shape_flag", T_OPT_BOOL, V_FIXED),
	F("extendedness", T_OPT_FLOAT, V_FIXED), F("reliability", T_OPT_FLOAT, V_FIXED),
	F("band", T_OPT_STRING, V_BAND), F("isDipole", T_OPT_BOOL, V_FIXED),
	F("timeProcessedMjdTai", T_DOUBLE, V_FIXED), F("timeWithdrawnMjdTai", T_OPT_DOUBLE, V_NULL),
	F("bboxSize", T_INT, V_FIXED), F("pixelFlags", T_OPT_BOOL, V_FIXED),
	F("pixelFlags_bad", T_OPT_BOOL, V_FIXED), F("pixelFlags_cr", T_OPT_BOOL, V_FIXED),
	F("pixelFlags_crCenter", T_OPT_BOOL, V_FIXED), F("pixelFlags_edge", T_OPT_BOOL, V_FIXED),
	F("pixelFlags_nodata", T_OPT_BOOL, V_FIXED), F("pixelFlags_nodataCenter", T_OPT_BOOL, V_FIXED),
	F("pixelFlags_interpolated", T_OPT_BOOL, V_FIXED),
	F("pixelFlags_interpolatedCenter", T_OPT_BOOL, V_FIXED),
	F("pixelFlags_offimage", T_OPT_BOOL, V_FIXED), F("pixelFlags_saturated", T_OPT_BOOL, V_FIXED),
	F("pixelFlags_saturatedCenter", T_OPT_BOOL, V_FIXED), F("pixelFlags_suspect", T_OPT_BOOL, V_FIXED),
	F("pixelFlags_suspectCenter", T_OPT_BOOL, V_FIXED), F("pixelFlags_streak", T_OPT_BOOL, V_FIXED),
	F("pixelFlags_streakCenter", T_OPT_BOOL, V_FIXED)
};

/* All of 11.0's diaForcedSource. */
static const FieldDef dia_forced_source[] = {
	F("diaForcedSourceId", T_LONG, V_ID), F("diaObjectId", T_LONG, V_OBJECT),
	F("ra", T_DOUBLE, V_RA), F("dec", T_DOUBLE, V_DEC), F("visit", T_LONG, V_FIXED),
	F("detector", T_INT, V_FIXED), F("psfFlux", T_OPT_FLOAT, V_FLUX),
	F("psfFluxErr", T_OPT_FLOAT, V_FLUXERR), F("midpointMjdTai", T_DOUBLE, V_MJD),
	F("scienceFlux", T_OPT_FLOAT, V_FIXED), F("scienceFluxErr", T_OPT_FLOAT, V_FIXED),
	F("band", T_OPT_STRING, V_BAND), F("timeProcessedMjdTai", T_DOUBLE, V_FIXED),
	F("timeWithdrawnMjdTai", T_OPT_DOUBLE, V_NULL)
};

#define B(b, i) {#b "_psfFluxMean", T_OPT_FLOAT, V_MEAN, i}, \
	{#b "_psfFluxMeanErr", T_OPT_FLOAT, V_MEANERR, i}, \
	{#b "_psfFluxSigma", T_OPT_FLOAT, V_SIGMA, i}, {#b "_psfFluxNdata", T_INT, V_NDATA, i}

/* 34 of 11.0's 82 diaObject fields. */
static const FieldDef dia_object[] = {
	F("diaObjectId", T_LONG, V_OBJECT), F("validityStartMjdTai", T_DOUBLE, V_FIRST),
	F("ra", T_DOUBLE, V_RA), F("raErr", T_OPT_FLOAT, V_FIXED), F("dec", T_DOUBLE, V_DEC),
	F("decErr", T_OPT_FLOAT, V_FIXED), F("ra_dec_Cov", T_OPT_FLOAT, V_FIXED),
	B(u, 0), B(g, 1), B(r, 2), B(i, 3), B(z, 4), B(y, 5),
	F("firstDiaSourceMjdTai", T_OPT_DOUBLE, V_FIRST), F("lastDiaSourceMjdTai", T_OPT_DOUBLE, V_LAST),
	F("nDiaSources", T_INT, V_NSOURCES)
};

/* Never written (always null here), declared with 11.0's first fields. */
static const FieldDef ss_source[] = {
	F("diaSourceId", T_LONG, V_NULL), F("ssObjectId", T_LONG, V_NULL),
	F("designation", T_OPT_STRING, V_NULL)
};
static const FieldDef mpc_orbits[] = {
	F("id", T_INT, V_NULL), F("designation", T_STRING, V_NULL)
};

enum
{
	A_ID, A_REASON, A_TARGET, A_SOURCE, A_PRV, A_FORCED, A_OBJECT, A_SS, A_MPC, A_CUTOUTS
};

/* Appends printf output at *len when it fits in size (snprintf's contract over pieces). */
static void put(char *buf, size_t size, size_t *len, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

static void
put(char *buf, size_t size, size_t *len, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(*len < size ? buf + *len : NULL, *len < size ? size - *len : 0, fmt, ap);
	va_end(ap);
	*len += (size_t) n;
}

static void
put_record(char *buf, size_t size, size_t *len, const char *name, const FieldDef *defs, size_t n)
{
	put(buf, size, len, "{\"type\":\"record\",\"name\":\"%s\",\"fields\":[", name);
	for (size_t i = 0; i < n; i++)
		put(buf, size, len, "%s{\"name\":\"%s\",\"type\":%s}", i ? "," : "", defs[i].name,
			type_json[defs[i].type]);
	put(buf, size, len, "]}");
}

size_t
alert_encode_schema(char *buf, size_t size)
{
	static const char *const cutouts[] = {"cutoutDifference", "cutoutScience", "cutoutTemplate"};
	size_t		len = 0;

	put(buf, size, &len, "{\"type\":\"record\",\"name\":\"alert\",\"namespace\":\"lsst.v11_0\",\"fields\":["
		"{\"name\":\"diaSourceId\",\"type\":\"long\"},"
		"{\"name\":\"observation_reason\",\"type\":[\"null\",\"string\"],\"default\":null},"
		"{\"name\":\"target_name\",\"type\":[\"null\",\"string\"],\"default\":null},"
		"{\"name\":\"diaSource\",\"type\":");
	put_record(buf, size, &len, "diaSource", dia_source, NFIELDS(dia_source));
	put(buf, size, &len, "},{\"name\":\"prvDiaSources\",\"type\":[\"null\",{\"type\":\"array\","
		"\"items\":\"lsst.v11_0.diaSource\"}],\"default\":null},"
		"{\"name\":\"prvDiaForcedSources\",\"type\":[\"null\",{\"type\":\"array\",\"items\":");
	put_record(buf, size, &len, "diaForcedSource", dia_forced_source, NFIELDS(dia_forced_source));
	put(buf, size, &len, "}],\"default\":null},{\"name\":\"diaObject\",\"type\":[\"null\",");
	put_record(buf, size, &len, "diaObject", dia_object, NFIELDS(dia_object));
	put(buf, size, &len, "],\"default\":null},{\"name\":\"ssSource\",\"type\":[\"null\",");
	put_record(buf, size, &len, "ssSource", ss_source, NFIELDS(ss_source));
	put(buf, size, &len, "],\"default\":null},{\"name\":\"mpc_orbits\",\"type\":[\"null\",");
	put_record(buf, size, &len, "mpc_orbits", mpc_orbits, NFIELDS(mpc_orbits));
	put(buf, size, &len, "],\"default\":null}");
	for (int i = 0; i < 3; i++)
		put(buf, size, &len, ",{\"name\":\"%s\",\"type\":[\"null\",\"bytes\"],\"default\":null}", cutouts[i]);
	put(buf, size, &len, "]}");
	return len;
}

/* ------------------------------------------------------------- the values */

#define FIXED_LONG INT64_C(2025120700123)
#define FIXED_INT 50
#define FIXED_FLOAT 0.5
static const char *const band_names[] = {"u", "g", "r", "i", "z", "y"};

/* Per-band running statistics of the diaObject (Welford's). */
typedef struct ObjectStats
{
	size_t		n[6];
	double		mean[6];
	double		m2[6];
	double		err2[6];
	double		first;
	double		last;
	size_t		nsources;
} ObjectStats;

static int
band_index(char band)
{
	const char *p = band ? strchr("ugrizy", band) : NULL;

	return p ? (int) (p - "ugrizy") : -1;
}

static void
stats_add(ObjectStats *st, const AlertSource *s)
{
	int			b = band_index(s->band);
	double		delta = s->flux - st->mean[b];

	st->n[b]++;
	st->mean[b] += delta / (double) st->n[b];
	st->m2[b] += delta * (s->flux - st->mean[b]);
	st->err2[b] += s->dflux * s->dflux;
	if (st->nsources == 0 || s->mjd < st->first)
		st->first = s->mjd;
	if (st->nsources == 0 || s->mjd > st->last)
		st->last = s->mjd;
	st->nsources++;
}

/* What the fields of one record are filled from. */
typedef struct Fill
{
	const AlertSource *src;		/* the source, or the diaObject's triggering source */
	int64_t		object_id;
	const ObjectStats *st;		/* the diaObject's */
} Fill;

/* A field's value: is_null, or l (long, int, boolean), d (double, float) or s. */
typedef struct Scalar
{
	int			is_null;
	int64_t		l;
	double		d;
	const char *s;
} Scalar;

static Scalar
field_value(const FieldDef *f, const Fill *c)
{
	Scalar		v = {0};
	int			b = f->band;

	switch (f->value)
	{
		case V_FIXED:
			v.l = f->type == T_INT ? FIXED_INT : f->type == T_OPT_BOOL ? 0 : FIXED_LONG;
			v.d = f->type == T_FLOAT || f->type == T_OPT_FLOAT ? FIXED_FLOAT : c->src->mjd;
			break;
		case V_NULL:
			v.is_null = 1;
			break;
		case V_ID:
			v.l = c->src->id;
			break;
		case V_OBJECT:
			v.l = c->object_id;
			break;
		case V_MJD:
			v.d = c->src->mjd;
			break;
		case V_RA:
			v.d = c->src->ra;
			break;
		case V_DEC:
			v.d = c->src->dec;
			break;
		case V_FLUX:
			v.d = c->src->flux;
			break;
		case V_FLUXERR:
			v.d = c->src->dflux;
			break;
		case V_BAND:
			v.s = band_names[band_index(c->src->band)];
			break;
		case V_MEAN:
			v.is_null = c->st->n[b] == 0;
			v.d = c->st->mean[b];
			break;
		case V_MEANERR:
			v.is_null = c->st->n[b] == 0;
			v.d = v.is_null ? 0 : sqrt(c->st->err2[b]) / (double) c->st->n[b];
			break;
		case V_SIGMA:
			v.is_null = c->st->n[b] < 2;
			v.d = v.is_null ? 0 : sqrt(c->st->m2[b] / (double) (c->st->n[b] - 1));
			break;
		case V_NDATA:
			v.l = (int64_t) c->st->n[b];
			break;
		case V_FIRST:
			v.d = c->st->first;
			break;
		case V_LAST:
			v.d = c->st->last;
			break;
		case V_NSOURCES:
			v.l = (int64_t) c->st->nsources;
			break;
	}
	return v;
}

/* Sets field f (a union's branch for the ["null", t] types); a libavro error code. */
static int
set_field(avro_value_t *f, FieldType type, const Scalar *v)
{
	avro_value_t branch;
	int			rc;

	if (type >= T_OPT_LONG)
	{
		if ((rc = avro_value_set_branch(f, v->is_null ? 0 : 1, &branch)) != 0)
			return rc;
		if (v->is_null)
			return avro_value_set_null(&branch);
		f = &branch;
	}
	switch (type)
	{
		case T_LONG:
		case T_OPT_LONG:
			return avro_value_set_long(f, v->l);
		case T_INT:
			return avro_value_set_int(f, (int32_t) v->l);
		case T_DOUBLE:
		case T_OPT_DOUBLE:
			return avro_value_set_double(f, v->d);
		case T_FLOAT:
		case T_OPT_FLOAT:
			return avro_value_set_float(f, (float) v->d);
		case T_OPT_BOOL:
			return avro_value_set_boolean(f, (int) v->l);
		case T_STRING:
		case T_OPT_STRING:
			return avro_value_set_string(f, v->s);
	}
	return EINVAL;
}

static int
fill_record(avro_value_t *rec, const FieldDef *defs, size_t n, const Fill *c)
{
	for (size_t i = 0; i < n; i++)
	{
		avro_value_t f;
		Scalar		v = field_value(&defs[i], c);
		int			rc;

		if ((rc = avro_value_get_by_index(rec, i, &f, NULL)) != 0 ||
			(rc = set_field(&f, defs[i].type, &v)) != 0)
			return rc;
	}
	return 0;
}

/* Sets union field `index` of rec to null, or to its branch 1 in *branch. */
static int
set_union(avro_value_t *rec, int index, int present, avro_value_t *branch)
{
	avro_value_t f;
	int			rc;

	if ((rc = avro_value_get_by_index(rec, (size_t) index, &f, NULL)) != 0 ||
		(rc = avro_value_set_branch(&f, present ? 1 : 0, branch)) != 0)
		return rc;
	return present ? 0 : avro_value_set_null(branch);
}

/* An array field: null when list is NULL, else its n sources. */
static int
fill_sources(avro_value_t *alert, int index, const AlertSource *list, size_t n,
			 const FieldDef *defs, size_t ndefs, int64_t object_id)
{
	avro_value_t arr;
	int			rc;

	if ((rc = set_union(alert, index, list != NULL, &arr)) != 0 || list == NULL)
		return rc;
	for (size_t i = 0; i < n; i++)
	{
		avro_value_t e;
		Fill		c = {&list[i], object_id, NULL};

		if ((rc = avro_value_append(&arr, &e, NULL)) != 0 ||
			(rc = fill_record(&e, defs, ndefs, &c)) != 0)
			return rc;
	}
	return 0;
}

static int
fill_alert(avro_value_t *a, const AlertPacket *p)
{
	ObjectStats st = {0};
	Fill		c = {p->source, p->object_id, &st};
	avro_value_t f;
	int			rc;

	stats_add(&st, p->source);
	for (size_t i = 0; p->history && i < p->nhistory; i++)
		stats_add(&st, &p->history[i]);
	avro_value_reset(a);
	if ((rc = avro_value_get_by_index(a, A_ID, &f, NULL)) != 0 ||
		(rc = avro_value_set_long(&f, p->source->id)) != 0 ||
		(rc = set_union(a, A_REASON, 0, &f)) != 0 ||
		(rc = set_union(a, A_TARGET, 0, &f)) != 0 ||
		(rc = avro_value_get_by_index(a, A_SOURCE, &f, NULL)) != 0 ||
		(rc = fill_record(&f, dia_source, NFIELDS(dia_source), &c)) != 0 ||
		(rc = fill_sources(a, A_PRV, p->history, p->nhistory, dia_source, NFIELDS(dia_source),
						   p->object_id)) != 0 ||
		(rc = fill_sources(a, A_FORCED, p->forced, p->nforced, dia_forced_source,
						   NFIELDS(dia_forced_source), p->object_id)) != 0 ||
		(rc = set_union(a, A_OBJECT, 1, &f)) != 0 ||
		(rc = fill_record(&f, dia_object, NFIELDS(dia_object), &c)) != 0 ||
		(rc = set_union(a, A_SS, 0, &f)) != 0 ||
		(rc = set_union(a, A_MPC, 0, &f)) != 0)
		return rc;
	for (int i = 0; i < 3; i++)
		if ((rc = set_union(a, A_CUTOUTS + i, p->cutout != NULL, &f)) != 0 ||
			(p->cutout && (rc = avro_value_set_bytes(&f, (void *) p->cutout, p->cutout_len)) != 0))
			return rc;
	return 0;
}

/* ---------------------------------------------------------------- checks */

static AlertEncodeStatus fail(AlertEncodeError *err, AlertEncodeStatus status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static AlertEncodeStatus
fail(AlertEncodeError *err, AlertEncodeStatus status, const char *fmt,...)
{
	va_list		ap;

	err->status = status;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return status;
}

/* libavro's error code rc as a status. */
static AlertEncodeStatus
fail_avro(AlertEncodeError *err, int rc, const char *what)
{
	if (rc == ENOMEM)
		return fail(err, ALERT_ENCODE_NO_MEMORY, "out of memory %s", what);
	return fail(err, ALERT_ENCODE_FAILED, "%s: %s", what, avro_strerror());
}

/* One source's values in their domains; `what` and i name it in the message. */
static AlertEncodeStatus
check_source(const AlertSource *s, const char *what, size_t i, AlertEncodeError *err)
{
	const char *bad = NULL;
	double		value = 0;
	char		where[64];

	if (i == SIZE_MAX)
		snprintf(where, sizeof(where), "%s %lld", what, (long long) s->id);
	else
		snprintf(where, sizeof(where), "%s[%zu] (id %lld)", what, i, (long long) s->id);
	if (band_index(s->band) < 0)
		return fail(err, ALERT_ENCODE_BAD_INPUT, "%s: band '%c' is not one of u g r i z y", where,
					s->band ? s->band : '?');
	if (!isfinite(s->mjd))
		bad = "midpointMjdTai is not finite", value = s->mjd;
	else if (!isfinite(s->ra) || !isfinite(s->dec))
		bad = "ra or dec is not finite", value = isfinite(s->ra) ? s->dec : s->ra;
	else if (!(fabs(s->flux) <= FLT_MAX))
		bad = "psfFlux is not a finite float32", value = s->flux;
	else if (!(s->dflux >= 0 && s->dflux <= FLT_MAX))
		bad = "psfFluxErr is not a finite float32 >= 0", value = s->dflux;
	if (bad)
		return fail(err, ALERT_ENCODE_BAD_INPUT, "%s: %s: %g", where, bad, value);
	return ALERT_ENCODE_OK;
}

static AlertEncodeStatus
check_list(const AlertSource *list, size_t n, const char *what, AlertEncodeError *err)
{
	AlertEncodeStatus s = ALERT_ENCODE_OK;

	if (list == NULL && n > 0)
		return fail(err, ALERT_ENCODE_BAD_INPUT, "%s: %zu entries but no array", what, n);
	for (size_t i = 0; i < n && s == ALERT_ENCODE_OK; i++)
		s = check_source(&list[i], what, i, err);
	return s;
}

static AlertEncodeStatus
check_alert(const AlertPacket *p, AlertEncodeError *err)
{
	AlertEncodeStatus s;

	if (p->source == NULL)
		return fail(err, ALERT_ENCODE_BAD_INPUT, "an alert needs its diaSource");
	if (p->cutout == NULL && p->cutout_len > 0)
		return fail(err, ALERT_ENCODE_BAD_INPUT, "cutout of %zu bytes but no bytes", p->cutout_len);
	if ((s = check_source(p->source, "diaSource", SIZE_MAX, err)) != ALERT_ENCODE_OK ||
		(s = check_list(p->history, p->nhistory, "prvDiaSources", err)) != ALERT_ENCODE_OK)
		return s;
	return check_list(p->forced, p->nforced, "prvDiaForcedSources", err);
}

/* --------------------------------------------------------------- framings */

/* A growing byte buffer in host memory. */
typedef struct Bytes
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
} Bytes;

struct AlertEncoder
{
	const KernelHost *host;
	AlertEncodeOptions options;
	char	   *schema_text;	/* host memory, for the container header */
	size_t		schema_len;
	avro_schema_t schema;
	avro_value_iface_t *iface;
	avro_value_t value;
	int			have_value;
	avro_writer_t writer;		/* a memory writer pointed at each datum's place */
	Bytes		out;			/* the current file or message */
	Bytes		block;			/* a container's open block of datums */
	Bytes		deflated;
	size_t		block_count;
	size_t		nalerts;		/* in the current output */
	int			taken;			/* out was returned: the next alert starts anew */
	size_t		meter;
};

/* A container block is written once its datums reach this size (libavro's is 16 kB). */
#define BLOCK_BYTES 65536
#define SYNC_SIZE 16
static const uint8_t sync_marker[SYNC_SIZE] = {
	0x5a, 0x1f, 0xc3, 0x8e, 0x27, 0xb4, 0x90, 0x6d, 0xe1, 0x3a, 0x78, 0x0c, 0xd5, 0x62, 0x9b, 0xf4
};

/* Room for extra more bytes; -1 when the host has none (b unchanged). */
static int
bytes_reserve(const KernelHost *host, Bytes *b, size_t extra)
{
	size_t		cap = b->cap ? b->cap : 4096;
	uint8_t    *grown;

	if (extra <= b->cap - b->len)
		return 0;
	if (extra > SIZE_MAX / 2 - b->len)
		return -1;
	while (cap - b->len < extra)
		cap *= 2;
	if ((grown = host_alloc(host, cap)) == NULL)
		return -1;
	if (b->len > 0)
		memcpy(grown, b->data, b->len);
	host_free(host, b->data);
	b->data = grown;
	b->cap = cap;
	return 0;
}

/* Appends to b, which has room (bytes_reserve). */
static void
bytes_put(Bytes *b, const void *p, size_t n)
{
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* A zig-zag varint long, at most 10 bytes, into b, which has room. */
static void
bytes_put_long(Bytes *b, int64_t v)
{
	uint64_t	u = ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);

	while (u >= 0x80)
	{
		b->data[b->len++] = (uint8_t) (u | 0x80);
		u >>= 7;
	}
	b->data[b->len++] = (uint8_t) u;
}

/* Magic, the metadata map (avro.schema, avro.codec), the sync marker. */
static AlertEncodeStatus
write_header(AlertEncoder *e, AlertEncodeError *err)
{
	const char *codec = e->options.deflate ? "deflate" : "null";

	if (bytes_reserve(e->host, &e->out, 4 + 4 * 10 + 22 + e->schema_len + 7 + SYNC_SIZE) != 0)
		return fail(err, ALERT_ENCODE_NO_MEMORY, "out of memory writing a container header");
	bytes_put(&e->out, "Obj\x01", 4);
	bytes_put_long(&e->out, 2);
	bytes_put_long(&e->out, 11);
	bytes_put(&e->out, "avro.schema", 11);
	bytes_put_long(&e->out, (int64_t) e->schema_len);
	bytes_put(&e->out, e->schema_text, e->schema_len);
	bytes_put_long(&e->out, 10);
	bytes_put(&e->out, "avro.codec", 10);
	bytes_put_long(&e->out, (int64_t) strlen(codec));
	bytes_put(&e->out, codec, strlen(codec));
	bytes_put_long(&e->out, 0);
	bytes_put(&e->out, sync_marker, SYNC_SIZE);
	return ALERT_ENCODE_OK;
}

/* Raw deflate (RFC 1951, as Avro's codec) of the open block into e->deflated. */
static AlertEncodeStatus
deflate_block(AlertEncoder *e, AlertEncodeError *err)
{
	z_stream	z = {0};
	int			rc;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return fail(err, ALERT_ENCODE_NO_MEMORY, "out of memory deflating a block");
	e->deflated.len = 0;
	if (bytes_reserve(e->host, &e->deflated, deflateBound(&z, e->block.len)) != 0)
	{
		deflateEnd(&z);
		return fail(err, ALERT_ENCODE_NO_MEMORY, "out of memory deflating a block");
	}
	z.next_in = e->block.data;
	z.avail_in = (uInt) e->block.len;
	z.next_out = e->deflated.data;
	z.avail_out = (uInt) e->deflated.cap;
	rc = deflate(&z, Z_FINISH);
	e->deflated.len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END)
		return fail(err, ALERT_ENCODE_FAILED, "deflate failed (zlib status %d)", rc);
	return ALERT_ENCODE_OK;
}

/* Writes the open block (count, size, data, sync) to out; on failure both are as they were. */
static AlertEncodeStatus
flush_block(AlertEncoder *e, AlertEncodeError *err)
{
	const Bytes *data = &e->block;
	AlertEncodeStatus s;

	if (e->block_count == 0)
		return ALERT_ENCODE_OK;
	if (e->options.deflate)
	{
		if ((s = deflate_block(e, err)) != ALERT_ENCODE_OK)
			return s;
		data = &e->deflated;
	}
	if (bytes_reserve(e->host, &e->out, 20 + data->len + SYNC_SIZE) != 0)
		return fail(err, ALERT_ENCODE_NO_MEMORY, "out of memory writing a container block");
	bytes_put_long(&e->out, (int64_t) e->block_count);
	bytes_put_long(&e->out, (int64_t) data->len);
	bytes_put(&e->out, data->data, data->len);
	bytes_put(&e->out, sync_marker, SYNC_SIZE);
	e->block.len = 0;
	e->block_count = 0;
	return ALERT_ENCODE_OK;
}

/*
 * The filled value written by libavro as a datum at b->data + b->len +
 * prefix; its length in *size.  Written into the room there is, and again
 * into twice as much when libavro says it is too small: sizing the datum
 * first (avro_value_sizeof) would walk the value twice for every alert.
 */
static AlertEncodeStatus
write_datum(AlertEncoder *e, Bytes *b, size_t prefix, size_t *size, AlertEncodeError *err)
{
	size_t		room = 65536;
	int			rc;

	for (;;)
	{
		if (bytes_reserve(e->host, b, prefix + room) != 0)
			return fail(err, ALERT_ENCODE_NO_MEMORY, "out of memory for an alert of over %zu bytes", room);
		room = b->cap - b->len - prefix;
		avro_writer_memory_set_dest(e->writer, (const char *) b->data + b->len + prefix, (int64_t) room);
		if ((rc = avro_value_write(e->writer, &e->value)) == 0)
			break;
		if (rc != ENOSPC)
			return fail_avro(err, rc, "writing an alert");
		room *= 2;
	}
	*size = (size_t) avro_writer_tell(e->writer);
	return ALERT_ENCODE_OK;
}

/* The datum, with its framing, appended to the current output. */
static AlertEncodeStatus
append_alert(AlertEncoder *e, AlertEncodeError *err)
{
	AlertEncodeStatus s;
	size_t		before = e->block.len,
				size;

	if (e->options.framing != ALERT_CONTAINER)
	{
		int			confluent = e->options.framing == ALERT_CONFLUENT;
		uint32_t	id = (uint32_t) e->options.schema_id;
		uint8_t		head[5] = {0, (uint8_t) (id >> 24), (uint8_t) (id >> 16), (uint8_t) (id >> 8), (uint8_t) id};

		if ((s = write_datum(e, &e->out, confluent ? 5 : 0, &size, err)) != ALERT_ENCODE_OK)
			return s;
		bytes_put(&e->out, head, confluent ? 5 : 0);
		e->out.len += size;
		return ALERT_ENCODE_OK;
	}
	if (e->out.len == 0 && (s = write_header(e, err)) != ALERT_ENCODE_OK)
		return s;
	if ((s = write_datum(e, &e->block, 0, &size, err)) != ALERT_ENCODE_OK)
		return s;
	e->block.len += size;
	e->block_count++;
	if (e->block.len >= BLOCK_BYTES && (s = flush_block(e, err)) != ALERT_ENCODE_OK)
	{
		e->block.len = before;
		e->block_count--;
	}
	return s;
}

/* ------------------------------------------------------------ the encoder */

/* After a take, the next call begins a new file or message. */
static void
start_output(AlertEncoder *e)
{
	if (e->taken)
	{
		e->out.len = 0;
		e->nalerts = 0;
		e->taken = 0;
	}
}

AlertEncodeStatus
alert_encoder_new(const KernelHost *host, const AlertEncodeOptions *options, AlertEncoder **encoder,
				  AlertEncodeError *err)
{
	static char dummy[1];
	AlertEncoder *e;
	int			rc;

	*encoder = NULL;
	*err = (AlertEncodeError) {0};
	if (options->framing != ALERT_CONTAINER && options->framing != ALERT_CONFLUENT &&
		options->framing != ALERT_BARE)
		return fail(err, ALERT_ENCODE_BAD_INPUT, "unknown framing %d", (int) options->framing);
	if ((e = host_alloc(host, sizeof(*e))) == NULL)
		return fail(err, ALERT_ENCODE_NO_MEMORY, "out of memory for an alert encoder");
	*e = (AlertEncoder) {0};
	e->host = host;
	e->options = *options;
	e->schema_len = alert_encode_schema(NULL, 0);
	if ((e->schema_text = host_alloc(host, e->schema_len + 1)) == NULL)
	{
		alert_encoder_free(e);
		return fail(err, ALERT_ENCODE_NO_MEMORY, "out of memory for the writer schema");
	}
	alert_encode_schema(e->schema_text, e->schema_len + 1);
	if ((rc = avro_schema_from_json_length(e->schema_text, e->schema_len, &e->schema)) == 0 &&
		(e->iface = avro_generic_class_from_schema(e->schema)) != NULL &&
		(rc = avro_generic_value_new(e->iface, &e->value)) == 0)
	{
		e->have_value = 1;
		e->writer = avro_writer_memory(dummy, sizeof(dummy));
	}
	if (e->writer == NULL)
	{
		alert_encoder_free(e);
		return fail_avro(err, rc ? rc : ENOMEM, "building the writer schema");
	}
	*encoder = e;
	return ALERT_ENCODE_OK;
}

AlertEncodeStatus
alert_encode(AlertEncoder *e, const AlertPacket *p, AlertEncodeError *err)
{
	AlertEncodeStatus s;
	int			rc;

	*err = (AlertEncodeError) {0};
	if ((s = check_alert(p, err)) != ALERT_ENCODE_OK)
		return s;
	start_output(e);
	if (e->options.framing != ALERT_CONTAINER && e->nalerts > 0)
		return fail(err, ALERT_ENCODE_BAD_INPUT,
					"a Confluent or bare message holds one alert: take it before the next");
	if (host_work(e->host, &e->meter, 1 + p->nhistory + p->nforced))
		return fail(err, ALERT_ENCODE_INTERRUPTED, "interrupted");
	if ((rc = fill_alert(&e->value, p)) != 0)
		return fail_avro(err, rc, "filling an alert");
	if ((s = append_alert(e, err)) != ALERT_ENCODE_OK)
		return s;
	e->nalerts++;
	return ALERT_ENCODE_OK;
}

AlertEncodeStatus
alert_encoder_take(AlertEncoder *e, const uint8_t **out, size_t *len, AlertEncodeError *err)
{
	AlertEncodeStatus s;

	*err = (AlertEncodeError) {0};
	*out = NULL;
	*len = 0;
	start_output(e);
	if (e->options.framing != ALERT_CONTAINER && e->nalerts == 0)
		return fail(err, ALERT_ENCODE_BAD_INPUT, "no alert encoded for this message");
	if (e->options.framing == ALERT_CONTAINER &&
		((e->out.len == 0 && (s = write_header(e, err)) != ALERT_ENCODE_OK) ||
		 (s = flush_block(e, err)) != ALERT_ENCODE_OK))
		return s;
	e->taken = 1;
	*out = e->out.data;
	*len = e->out.len;
	return ALERT_ENCODE_OK;
}

void
alert_encoder_free(AlertEncoder *e)
{
	if (e == NULL)
		return;
	if (e->writer)
		avro_writer_free(e->writer);
	if (e->have_value)
		avro_value_decref(&e->value);
	if (e->iface)
		avro_value_iface_decref(e->iface);
	if (e->schema)
		avro_schema_decref(e->schema);
	host_free(e->host, e->schema_text);
	host_free(e->host, e->out.data);
	host_free(e->host, e->block.data);
	host_free(e->host, e->deflated.data);
	host_free(e->host, e);
}

const char *
alert_encode_status_name(AlertEncodeStatus status)
{
	switch (status)
	{
		case ALERT_ENCODE_OK:
			return "ok";
		case ALERT_ENCODE_BAD_INPUT:
			return "bad input";
		case ALERT_ENCODE_NO_MEMORY:
			return "out of memory";
		case ALERT_ENCODE_FAILED:
			return "failed";
		case ALERT_ENCODE_INTERRUPTED:
			return "interrupted";
	}
	return "unknown status";
}
