/*
 * test_alert_decode.c
 *		Unit tests of the alert-packet decoding kernel, without a server:
 *		the two real ZTF packets of test/data/alerts/ztf, Rubin-format and
 *		ZTF 4.x-format packets written here with libavro from writer schemas
 *		of our own, in all three framings, and bad input.  Prints TAP and a
 *		decode rate; exits non-zero when a check fails.  Run from the top
 *		directory (make unitcheck).
 */
#define _POSIX_C_SOURCE 200809L

#include <avro.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert_decode.h"
#include "kernel_host_test.h"
#include "tap.h"

static TestHost counts;
static KernelHost host;

typedef struct Buf
{
	uint8_t    *data;
	size_t		len;
} Buf;

static Buf
read_file(const char *path)
{
	Buf			b = {0};
	FILE	   *f = fopen(path, "rb");

	if (f == NULL)
		return b;
	fseek(f, 0, SEEK_END);
	b.len = (size_t) ftell(f);
	fseek(f, 0, SEEK_SET);
	b.data = malloc(b.len);
	if (fread(b.data, 1, b.len, f) != b.len)
		b.len = 0;
	fclose(f);
	return b;
}

static int
close_rel(double got, double want)
{
	return fabs(got - want) <= 1e-12 * fabs(want);
}

static size_t
count_kind(const AlertResult *r, AlertKind kind)
{
	size_t		n = 0;

	for (size_t i = 0; i < r->npoints; i++)
		n += r->points[i].kind == kind;
	return n;
}

/*
 * Decodes (through cache, or compiling the schema for the call when NULL)
 * and checks that nothing is left allocated whatever the status.
 */
static AlertDecodeStatus
decode_with(AlertSchemaCache *cache, const uint8_t *buf, size_t len, AlertFraming framing,
			const char *schema, AlertResult *r, AlertDecodeError *err)
{
	AlertDecodeStatus s = alert_decode(&host, cache, buf, len, framing, schema,
									   schema ? strlen(schema) : 0, r, err);

	if (s != ALERT_DECODE_OK && (counts.live != 0 || r->points != NULL || r->npoints != 0))
		check(0, "a failed decode holds nothing");
	return s;
}

static AlertDecodeStatus
decode(const uint8_t *buf, size_t len, AlertFraming framing, const char *schema,
	   AlertResult *r, AlertDecodeError *err)
{
	return decode_with(NULL, buf, len, framing, schema, r, err);
}

/*
 * The expected values were read by hand with Debian's python3-avro
 * (avro.datafile.DataFileReader over each file): objectId, candid, jd,
 * magpsf, sigmapsf, isdiffpos, diffmaglim, pid; fluxes computed in Python
 * as 10**(-0.4*(m-31.4)), times as jd-2400000.5.
 */
static void
test_ztf_real(void)
{
	Buf			b = read_file("test/data/alerts/ztf/2019_01_10_739260766315010006.avro");
	AlertResult r;
	AlertDecodeError err;
	const AlertPoint *p;

	check(b.len == 74026, "ZTF 3.2 packet read");
	check(decode(b.data, b.len, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_OK, "ZTF 3.2 decodes");
	check(r.nalerts == 1 && r.npoints == 29 && r.nskipped == 0, "ZTF 3.2: one alert, 29 points");
	check(count_kind(&r, ALERT_DETECTION) == 1 && count_kind(&r, ALERT_HISTORY) == 22 &&
		  count_kind(&r, ALERT_UPPER_LIMIT) == 6, "ZTF 3.2: 1 candidate, 22 detections, 6 upper limits");
	p = &r.points[0];
	check(p->survey == ALERT_ZTF && strcmp(p->object_name, "ZTF17aaacxxf") == 0 &&
		  p->alert_id == 739260766315010006LL && p->source_id == 739260766315010006LL &&
		  p->kind == ALERT_DETECTION && p->band == 'r', "ZTF 3.2 candidate: ids, kind, band");
	check(close_rel(p->mjd, 58493.26076389989) && close_rel(p->flux, -2579565.015155244) &&
		  close_rel(p->dflux, 105709.50496665336), "ZTF 3.2 candidate: mjd, negative flux ('f'), dflux");
	check(p->ra == 75.2007803 && p->dec == 35.3613954, "ZTF 3.2 candidate: ra, dec");
	p = &r.points[1];
	check(p->kind == ALERT_HISTORY && p->source_id == 710243366315015036LL && p->band == 'g' &&
		  close_rel(p->mjd, 58464.24336809991) && close_rel(p->flux, 81470.4684761953) &&
		  close_rel(p->dflux, 11775.642984766439), "ZTF 3.2 first history point ('t')");
	p = &r.points[2];
	check(p->kind == ALERT_UPPER_LIMIT && p->source_id == 710308786315LL && p->band == 'r' &&
		  close_rel(p->mjd, 58464.3087847) && p->flux == 0.0 &&
		  close_rel(p->dflux, 4997.9298714012675) && isnan(p->ra), "ZTF 3.2 upper limit: pid, flux 0, limit / 5");
	p = &r.points[28];
	check(p->kind == ALERT_HISTORY && p->source_id == 739203156315010009LL &&
		  close_rel(p->mjd, 58493.20315970015) && close_rel(p->flux, -249758.24637735874),
		  "ZTF 3.2 last point: isdiffpos '0' is negative");
	check(p->object_id == alert_ztf_object_number("ZTF17aaacxxf", 12), "ZTF object number on every point");
	alert_result_free(&host, &r);
	check(counts.live == 0, "ZTF 3.2: freed");

	free(b.data);
	b = read_file("test/data/alerts/ztf/472263571115115000.avro");
	check(decode(b.data, b.len, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_OK, "ZTF 3.3 decodes");
	check(r.npoints == 12 && count_kind(&r, ALERT_DETECTION) == 1 &&
		  count_kind(&r, ALERT_UPPER_LIMIT) == 11, "ZTF 3.3: 1 candidate, 11 upper limits");
	check(strcmp(r.points[0].object_name, "ZTF17aaajnnn") == 0 &&
		  r.points[0].alert_id == 472263571115115000LL &&
		  close_rel(r.points[0].mjd, 58226.2635764) && close_rel(r.points[0].flux, 164156.24746307964) &&
		  close_rel(r.points[0].dflux, 14218.312366496808), "ZTF 3.3 candidate ('t')");
	check(r.points[1].source_id == 470201231115LL && close_rel(r.points[1].mjd, 58224.20123839984) &&
		  close_rel(r.points[1].dflux, 21241.726670403456) &&
		  r.points[11].source_id == 470332591115LL && close_rel(r.points[11].mjd, 58224.332592600025) &&
		  close_rel(r.points[11].dflux, 23928.211827538616), "ZTF 3.3 first and last upper limits");
	alert_result_free(&host, &r);
	free(b.data);
}

/* ---------------------------------------------------------- writing packets */

static avro_value_t
fld(avro_value_t *rec, const char *name)
{
	avro_value_t f;

	if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
	{
		fprintf(stderr, "no field %s: %s\n", name, avro_strerror());
		exit(2);
	}
	return f;
}

/* The non-null branch (1) of a ["null", t] field, or sets it null. */
static avro_value_t
some(avro_value_t *rec, const char *name)
{
	avro_value_t f = fld(rec, name),
				b;

	avro_value_set_branch(&f, 1, &b);
	return b;
}

static void
set_null(avro_value_t *rec, const char *name)
{
	avro_value_t f = fld(rec, name),
				b;

	avro_value_set_branch(&f, 0, &b);
	avro_value_set_null(&b);
}

static avro_value_t
append(avro_value_t *arr)
{
	avro_value_t e;

	avro_value_append(arr, &e, NULL);
	return e;
}

/*
 * Our own Rubin-format writer schema: field names and types as in Rubin's
 * alert schema 11.0 (lsst.v11_0), fewer fields.  err_name is the name of
 * diaSource's flux error, to make a writer that lacks psfFluxErr.
 */
static const char *
rubin_schema(const char *err_name, char text[4096])
{
	snprintf(text, 4096,
			 "{\"type\":\"record\",\"name\":\"alert\",\"namespace\":\"lsst.v11_0\",\"fields\":["
			 "{\"name\":\"diaSourceId\",\"type\":\"long\"},"
			 "{\"name\":\"observation_reason\",\"type\":[\"null\",\"string\"],\"default\":null},"
			 "{\"name\":\"diaSource\",\"type\":{\"type\":\"record\",\"name\":\"diaSource\",\"fields\":["
			 "{\"name\":\"diaSourceId\",\"type\":\"long\"},{\"name\":\"visit\",\"type\":\"long\"},"
			 "{\"name\":\"diaObjectId\",\"type\":[\"null\",\"long\"]},"
			 "{\"name\":\"midpointMjdTai\",\"type\":\"double\"},"
			 "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
			 "{\"name\":\"psfFlux\",\"type\":[\"null\",\"float\"]},"
			 "{\"name\":\"%s\",\"type\":[\"null\",\"float\"]},"
			 "{\"name\":\"band\",\"type\":[\"null\",\"string\"]}]}},"
			 "{\"name\":\"prvDiaSources\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"lsst.v11_0.diaSource\"}]},"
			 "{\"name\":\"prvDiaForcedSources\",\"type\":[\"null\",{\"type\":\"array\",\"items\":"
			 "{\"type\":\"record\",\"name\":\"diaForcedSource\",\"fields\":["
			 "{\"name\":\"diaForcedSourceId\",\"type\":\"long\"},{\"name\":\"diaObjectId\",\"type\":\"long\"},"
			 "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
			 "{\"name\":\"visit\",\"type\":\"long\"},{\"name\":\"midpointMjdTai\",\"type\":\"double\"},"
			 "{\"name\":\"psfFlux\",\"type\":[\"null\",\"float\"]},"
			 "{\"name\":\"psfFluxErr\",\"type\":[\"null\",\"float\"]},"
			 "{\"name\":\"band\",\"type\":[\"null\",\"string\"]}]}}]},"
			 "{\"name\":\"diaObject\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"diaObject\",\"fields\":["
			 "{\"name\":\"diaObjectId\",\"type\":\"long\"},{\"name\":\"ra\",\"type\":\"double\"}]}],\"default\":null},"
			 "{\"name\":\"cutoutDifference\",\"type\":[\"null\",\"bytes\"],\"default\":null}]}",
			 err_name);
	return text;
}

static void
set_dia_source(avro_value_t src, int64_t id, int has_object, double mjd, const char *band,
			   double flux, double err, const char *err_name)
{
	avro_value_t v;

	v = fld(&src, "diaSourceId"), avro_value_set_long(&v, id);
	v = fld(&src, "visit"), avro_value_set_long(&v, id / 10);
	if (has_object)
		v = some(&src, "diaObjectId"), avro_value_set_long(&v, 77);
	else
		set_null(&src, "diaObjectId");
	v = fld(&src, "midpointMjdTai"), avro_value_set_double(&v, mjd);
	v = fld(&src, "ra"), avro_value_set_double(&v, 150.5);
	v = fld(&src, "dec"), avro_value_set_double(&v, -30.25);
	if (isinf(flux))
		set_null(&src, "psfFlux");
	else
		v = some(&src, "psfFlux"), avro_value_set_float(&v, (float) flux);
	v = some(&src, err_name), avro_value_set_float(&v, (float) err);
	v = some(&src, "band"), avro_value_set_string(&v, band);
}

/*
 * Alert 1 (diaSourceId 1001, object 77): a diaSource in r, three
 * prvDiaSources (one in g; one with a null flux and one with a NaN flux,
 * both skipped), one forced source in i, and a cutout.  Alert 2: a
 * diaSource without diaObjectId and no diaObject (skipped), no history.
 * Alert 3: like 2 but with a diaObject (88), whose id the source takes.
 */
static void
fill_rubin_alert(avro_value_t *a, int which, const char *err_name)
{
	avro_value_t v,
				arr;
	static const uint8_t cutout[64] = {0x1f, 0x8b};

	avro_value_reset(a);
	if (which >= 2)
	{
		v = fld(a, "diaSourceId"), avro_value_set_long(&v, 2001);
		set_null(a, "observation_reason");
		set_dia_source(fld(a, "diaSource"), 2001, 0, 60001.5, "z", 10.0, 1.0, err_name);
		set_null(a, "prvDiaSources");
		set_null(a, "prvDiaForcedSources");
		if (which == 2)
			set_null(a, "diaObject");
		else
		{
			avro_value_t o = some(a, "diaObject");

			v = fld(&o, "diaObjectId"), avro_value_set_long(&v, 88);
			v = fld(&o, "ra"), avro_value_set_double(&v, 150.5);
		}
		set_null(a, "cutoutDifference");
		return;
	}
	set_null(a, "diaObject");
	v = fld(a, "diaSourceId"), avro_value_set_long(&v, 1001);
	v = some(a, "observation_reason"), avro_value_set_string(&v, "survey");
	set_dia_source(fld(a, "diaSource"), 1001, 1, 60000.25, "r", 1234.5, 10.0, err_name);
	arr = some(a, "prvDiaSources");
	set_dia_source(append(&arr), 1000, 1, 59990.125, "g", -50.0, 5.0, err_name);
	set_dia_source(append(&arr), 999, 1, 59980.0, "g", INFINITY, 5.0, err_name);
	set_dia_source(append(&arr), 998, 1, 59970.0, "g", NAN, 5.0, err_name);
	arr = some(a, "prvDiaForcedSources");
	{
		avro_value_t f = append(&arr);

		v = fld(&f, "diaForcedSourceId"), avro_value_set_long(&v, 5001);
		v = fld(&f, "diaObjectId"), avro_value_set_long(&v, 77);
		v = fld(&f, "ra"), avro_value_set_double(&v, 150.5);
		v = fld(&f, "dec"), avro_value_set_double(&v, -30.25);
		v = fld(&f, "visit"), avro_value_set_long(&v, 500);
		v = fld(&f, "midpointMjdTai"), avro_value_set_double(&v, 59995.5);
		v = some(&f, "psfFlux"), avro_value_set_float(&v, 20.0f);
		v = some(&f, "psfFluxErr"), avro_value_set_float(&v, 3.0f);
		v = some(&f, "band"), avro_value_set_string(&v, "i");
	}
	v = some(a, "cutoutDifference"), avro_value_set_bytes(&v, (void *) cutout, sizeof(cutout));
}

/* A writer schema and an empty generic value of it, for the test to fill. */
typedef struct Datum
{
	avro_schema_t schema;
	avro_value_iface_t *iface;
	avro_value_t value;
} Datum;

static Datum
datum_new(const char *text)
{
	Datum		d;

	if (avro_schema_from_json_length(text, strlen(text), &d.schema) != 0)
	{
		fprintf(stderr, "schema: %s\n", avro_strerror());
		exit(2);
	}
	d.iface = avro_generic_class_from_schema(d.schema);
	avro_generic_value_new(d.iface, &d.value);
	return d;
}

static void
datum_free(Datum *d)
{
	avro_value_decref(&d->value);
	avro_value_iface_decref(d->iface);
	avro_schema_decref(d->schema);
}

/* Writes d's value as a bare datum into out[0 .. size), frees d; returns the length. */
static size_t
datum_write_bare(Datum *d, uint8_t *out, size_t size)
{
	avro_writer_t w = avro_writer_memory((char *) out, (int64_t) size);
	size_t		len;

	if (avro_value_write(w, &d->value) != 0)
		exit(2);
	len = (size_t) avro_writer_tell(w);
	avro_writer_free(w);
	datum_free(d);
	return len;
}

/* One bare datum of alert `which` (1 or 2) under schema text; returns its length. */
static size_t
write_bare(const char *text, int which, const char *err_name, uint8_t *out, size_t size)
{
	Datum		d = datum_new(text);

	fill_rubin_alert(&d.value, which, err_name);
	return datum_write_bare(&d, out, size);
}

/* A container file of alerts 1 and 2 (deflate when codec says so). */
static Buf
write_container(const char *text, const char *codec)
{
	Datum		d = datum_new(text);
	avro_file_writer_t fw;
	char		path[] = "/tmp/antares_alert_XXXXXX";
	int			fd = mkstemp(path);
	Buf			b;

	close(fd);
	remove(path);
	if (avro_file_writer_create_with_codec(path, d.schema, &fw, codec, 0) != 0)
	{
		fprintf(stderr, "writer: %s\n", avro_strerror());
		exit(2);
	}
	for (int which = 1; which <= 2; which++)
	{
		fill_rubin_alert(&d.value, which, "psfFluxErr");
		avro_file_writer_append_value(fw, &d.value);
	}
	avro_file_writer_close(fw);
	b = read_file(path);
	remove(path);
	datum_free(&d);
	return b;
}

/* Alert 1's points: detection, history (the null and NaN fluxes skipped), forced. */
static int
rubin_alert1_ok(const AlertResult *r, size_t at)
{
	const AlertPoint *p = &r->points[at];

	return r->npoints >= at + 3 &&
		p[0].survey == ALERT_RUBIN && p[0].kind == ALERT_DETECTION && p[0].alert_id == 1001 &&
		p[0].object_id == 77 && strcmp(p[0].object_name, "77") == 0 && p[0].source_id == 1001 &&
		p[0].mjd == 60000.25 && p[0].band == 'r' && p[0].flux == 1234.5 && p[0].dflux == 10.0 &&
		p[0].ra == 150.5 && p[0].dec == -30.25 &&
		p[1].kind == ALERT_HISTORY && p[1].source_id == 1000 && p[1].band == 'g' &&
		p[1].flux == -50.0 && p[1].dflux == 5.0 && p[1].mjd == 59990.125 && p[1].alert_id == 1001 &&
		p[2].kind == ALERT_FORCED && p[2].source_id == 5001 && p[2].band == 'i' &&
		p[2].flux == 20.0 && p[2].dflux == 3.0 && p[2].mjd == 59995.5;
}

static void
test_rubin(void)
{
	static char schema_text[4096],
				lacking_text[4096];
	const char *schema = rubin_schema("psfFluxErr", schema_text);
	static uint8_t bare[4096],
				framed[4096];
	size_t		len;
	AlertResult r;
	AlertDecodeError err;
	int32_t		id = 0;
	Buf			b;

	b = write_container(schema, "null");
	check(decode(b.data, b.len, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_OK,
		  "Rubin container of two alerts decodes");
	check(r.nalerts == 2 && r.npoints == 3 && r.nskipped == 3 && rubin_alert1_ok(&r, 0),
		  "Rubin container: 3 points, null/NaN flux and null diaObjectId skipped");
	alert_result_free(&host, &r);

	/* Interrupted at the second alert's poll: nothing returned, nothing held. */
	counts.stop_at = counts.polls + 2;
	check(decode(b.data, b.len, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_INTERRUPTED &&
		  err.alert == 2, "Rubin container: interrupted at the second alert");
	counts.stop_at = 0;
	free(b.data);

	b = write_container(schema, "deflate");
	check(decode(b.data, b.len, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_OK &&
		  r.npoints == 3 && rubin_alert1_ok(&r, 0), "Rubin deflate container decodes");
	alert_result_free(&host, &r);
	free(b.data);

	b = write_container(schema, "lzma");
	check(decode(b.data, b.len, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_BAD_FRAMING &&
		  strstr(err.message, "lzma") != NULL, "lzma container: codec not supported, named");
	free(b.data);

	len = write_bare(schema, 1, "psfFluxErr", bare, sizeof(bare));
	check(decode(bare, len, ALERT_BARE, schema, &r, &err) == ALERT_DECODE_OK &&
		  r.nalerts == 1 && r.npoints == 3 && rubin_alert1_ok(&r, 0), "Rubin bare datum decodes");
	alert_result_free(&host, &r);

	len = write_bare(schema, 3, "psfFluxErr", bare, sizeof(bare));
	check(decode(bare, len, ALERT_BARE, schema, &r, &err) == ALERT_DECODE_OK && r.npoints == 1 &&
		  r.points[0].object_id == 88 && strcmp(r.points[0].object_name, "88") == 0 &&
		  r.points[0].source_id == 2001 && r.points[0].band == 'z',
		  "Rubin source without diaObjectId takes the alert's diaObject's id");
	alert_result_free(&host, &r);

	len = write_bare(schema, 1, "psfFluxErr", bare, sizeof(bare));
	framed[0] = 0;
	framed[1] = 0x01, framed[2] = 0x02, framed[3] = 0x03, framed[4] = 0x04;
	memcpy(framed + 5, bare, len);
	check(alert_confluent_schema_id(framed, len + 5, &id) == ALERT_DECODE_OK && id == 0x01020304,
		  "Confluent schema id is big-endian");
	check(decode(framed, len + 5, ALERT_CONFLUENT, schema, &r, &err) == ALERT_DECODE_OK &&
		  r.npoints == 3 && rubin_alert1_ok(&r, 0), "Rubin Confluent message decodes");
	alert_result_free(&host, &r);

	/* Bad input. */
	check(decode(bare, len - 1, ALERT_BARE, schema, &r, &err) == ALERT_DECODE_CORRUPT,
		  "truncated bare datum: corrupt");
	check(decode(bare, len / 2, ALERT_BARE, schema, &r, &err) == ALERT_DECODE_CORRUPT,
		  "half a bare datum: corrupt");
	bare[len] = 0;
	check(decode(bare, len + 1, ALERT_BARE, schema, &r, &err) == ALERT_DECODE_CORRUPT &&
		  strstr(err.message, "after the end") != NULL, "a byte after the datum: corrupt");
	framed[0] = 1;
	check(decode(framed, len + 5, ALERT_CONFLUENT, schema, &r, &err) == ALERT_DECODE_BAD_FRAMING,
		  "Confluent message without its zero byte: bad framing");
	check(decode(framed, 4, ALERT_CONFLUENT, schema, &r, &err) == ALERT_DECODE_BAD_FRAMING,
		  "Confluent header cut short: bad framing");
	check(decode(bare, len, ALERT_BARE, NULL, &r, &err) == ALERT_DECODE_BAD_SCHEMA,
		  "bare datum without a schema: bad schema");
	check(decode(bare, len, ALERT_BARE, "{\"type\":\"record\",", &r, &err) == ALERT_DECODE_BAD_SCHEMA,
		  "writer schema that is not JSON: bad schema");
	check(decode(bare, len, ALERT_BARE,
				 "{\"type\":\"record\",\"name\":\"exposure\",\"fields\":[{\"name\":\"x\",\"type\":\"long\"}]}",
				 &r, &err) == ALERT_DECODE_NOT_AN_ALERT && strstr(err.message, "exposure") != NULL,
		  "a record of another type: not an alert, named");
	check(decode(bare, len, ALERT_BARE, "\"long\"", &r, &err) == ALERT_DECODE_NOT_AN_ALERT,
		  "a writer schema that is not a record: not an alert");

	{
		const char *lacking = rubin_schema("psfFluxSigma", lacking_text);
		static uint8_t other[4096];
		size_t		olen = write_bare(lacking, 1, "psfFluxSigma", other, sizeof(other));

		check(decode(other, olen, ALERT_BARE, lacking, &r, &err) == ALERT_DECODE_MISSING_FIELD &&
			  strstr(err.message, "diaSource.psfFluxErr") != NULL &&
			  strstr(err.message, "lsst.v11_0.diaSource") != NULL,
			  "writer lacking psfFluxErr: missing field, named with its schema");
	}
	{
		/*
		 * A forced source's ra a string: libavro's resolver would crash on
		 * an array's item record that does not resolve (found by
		 * test/fuzz); the decoder refuses the schema before.
		 */
		static char text[4096],
					bad[4096];
		const char *ra = "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
			"{\"name\":\"visit\"";
		char	   *at;

		rubin_schema("psfFluxErr", text);
		at = strstr(text, ra);
		snprintf(bad, sizeof(bad), "%.*s{\"name\":\"ra\",\"type\":\"string\"}%s", (int) (at - text), text,
				 at + strlen("{\"name\":\"ra\",\"type\":\"double\"}"));
		check(decode(bare, len, ALERT_BARE, bad, &r, &err) == ALERT_DECODE_NOT_AN_ALERT &&
			  strstr(err.message, "prvDiaForcedSources.ra") != NULL && strstr(err.message, "string") != NULL,
			  "a forced source's ra a string: not an alert, the field named (no crash in libavro)");
	}
	{
		/* prvDiaSources a union of null and two arrays: refused, not resolved. */
		static char text[4096],
					bad[4096];
		const char *prv = "\"items\":\"lsst.v11_0.diaSource\"}";
		char	   *at;

		rubin_schema("psfFluxErr", text);
		at = strstr(text, prv);
		snprintf(bad, sizeof(bad), "%.*s%s,{\"type\":\"array\",\"items\":\"string\"}%s", (int) (at - text),
				 text, prv, at + strlen(prv));
		check(decode(bare, len, ALERT_BARE, bad, &r, &err) == ALERT_DECODE_NOT_AN_ALERT &&
			  strstr(err.message, "prvDiaSources") != NULL,
			  "prvDiaSources a union of two arrays: not an alert, the field named");
	}

	/*
	 * A string whose length runs past the end: libavro keeps the buffer it
	 * allocated for it, the kernel frees it (glibc's count of bytes in use
	 * grows by ~780 kB over 100 such decodes without that).
	 */
	{
		static uint8_t cut[4096];
		size_t		at = 0,
					before;
		int			ok = 1;

		for (size_t i = 0; i + 2 < len && at == 0; i++)
			if (bare[i] == 0x02 && bare[i + 1] == 0x02 && bare[i + 2] == 'r')
				at = i + 1;		/* diaSource.band: branch 1, length 1, "r" */
		memcpy(cut, bare, at);
		cut[at] = 0xc2, cut[at + 1] = 0x79;	/* length 7777 */
		cut[at + 2] = 'r';
		before = mallinfo2().uordblks;
		for (int i = 0; i < 100; i++)
			ok &= decode(cut, at + 3, ALERT_BARE, schema, &r, &err) == ALERT_DECODE_CORRUPT;
		check(at > 0 && ok && mallinfo2().uordblks < before + 100000,
			  "a string cut short: corrupt, libavro's buffer freed");

		/* A length of 12 GB: refused before libavro asks malloc for it. */
		{
			uint64_t	z = 2 * 12000000000ULL;	/* zig-zag */
			size_t		n = at;

			for (; z >= 0x80; z >>= 7)
				cut[n++] = (uint8_t) (z | 0x80);
			cut[n++] = (uint8_t) z;
			cut[n++] = 'r';
			check(decode(cut, n, ALERT_BARE, schema, &r, &err) == ALERT_DECODE_CORRUPT &&
				  strstr(err.message, "exceeds") != NULL,
				  "a string length of 12 GB in a short datum: corrupt, not out of memory");
		}
	}

	/* Every allocation of the host failing in turn: a status, nothing held. */
	{
		int			ok = 1;
		long		k;

		for (k = 1;; k++)
		{
			AlertDecodeStatus s;

			counts.fail_at = counts.calls + k;
			s = decode(bare, len, ALERT_BARE, schema, &r, &err);
			if (s == ALERT_DECODE_OK)
				break;
			ok &= s == ALERT_DECODE_NO_MEMORY;
		}
		counts.fail_at = 0;
		check(ok && k > 1 && r.npoints == 3, "host out of memory at each allocation: no memory, nothing held");
		alert_result_free(&host, &r);
	}
}

/* Seconds per decode of buf, n times; 0 when a decode failed or leaked. */
static double
time_decode(AlertSchemaCache *cache, const uint8_t *buf, size_t len, AlertFraming framing,
			const char *schema, size_t npoints, int n)
{
	AlertResult r;
	AlertDecodeError err;
	struct timespec t0,
				t1;
	int			ok = 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++)
	{
		ok &= decode_with(cache, buf, len, framing, schema, &r, &err) == ALERT_DECODE_OK &&
			r.npoints == npoints;
		alert_result_free(&host, &r);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!ok || counts.live != 0)
		return 0;
	return ((double) (t1.tv_sec - t0.tv_sec) + 1e-9 * (double) (t1.tv_nsec - t0.tv_nsec)) / n;
}

/*
 * The cost per alert (alert_decode.c, "Cost"): the real ZTF 3.2 packet, and
 * a Rubin bare datum of 3 sources with its small writer schema, each
 * without and with a schema cache.  ALERT_BENCH_N sets the repetitions
 * (valgrind runs few).
 */
static void
bench(void)
{
	Buf			b = read_file("test/data/alerts/ztf/2019_01_10_739260766315010006.avro");
	static char schema_text[4096];
	const char *schema = rubin_schema("psfFluxErr", schema_text);
	static uint8_t bare[4096];
	size_t		len = write_bare(schema, 1, "psfFluxErr", bare, sizeof(bare));
	int			n = getenv("ALERT_BENCH_N") ? atoi(getenv("ALERT_BENCH_N")) : 2000;
	TestHost	cache_counts;
	KernelHost	cache_host = test_host(&cache_counts);
	AlertSchemaCache *cache = alert_schema_cache_new(&cache_host);
	double		ztf = time_decode(NULL, b.data, b.len, ALERT_CONTAINER, NULL, 29, n),
				rubin = time_decode(NULL, bare, len, ALERT_BARE, schema, 3, n),
				ztf_cached = time_decode(cache, b.data, b.len, ALERT_CONTAINER, NULL, 29, 10 * n),
				rubin_cached = time_decode(cache, bare, len, ALERT_BARE, schema, 3, 10 * n);

	alert_schema_cache_free(cache);
	check(ztf > 0 && rubin > 0 && ztf_cached > 0 && rubin_cached > 0 && cache_counts.live == 0,
		  "the packets decoded again and again, nothing left");
	printf("# decode rate, schema compiled per call: %.0f alerts/s ZTF 3.2 container (74 kB, 29 points), "
		   "%.0f alerts/s Rubin bare datum (3 points)\n", 1 / ztf, 1 / rubin);
	printf("# decode rate, schema cached: %.0f alerts/s ZTF 3.2 container, %.0f alerts/s Rubin bare datum\n",
		   1 / ztf_cached, 1 / rubin_cached);
	free(b.data);
}

/*
 * The schema cache: decodes through it equal decodes without; its memory
 * comes from its own host and is all returned when it is freed; more
 * schemas than entries replace the least recently used (a hit allocates
 * nothing from the cache's host, a miss does); a schema that fails to
 * compile is not kept.
 */
static void
test_cache(void)
{
	TestHost	cache_counts;
	KernelHost	cache_host = test_host(&cache_counts);
	AlertSchemaCache *cache = alert_schema_cache_new(&cache_host);
	Buf			ztf = read_file("test/data/alerts/ztf/2019_01_10_739260766315010006.avro");
	static char texts[10][4096];
	static uint8_t bare[4096];
	AlertResult plain,
				r;
	AlertDecodeError err;
	int			same = 1;
	long		calls;
	size_t		len;

	check(decode(ztf.data, ztf.len, ALERT_CONTAINER, NULL, &plain, &err) == ALERT_DECODE_OK, "ZTF decodes");
	for (int i = 0; i < 3; i++)
	{
		same &= decode_with(cache, ztf.data, ztf.len, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_OK &&
			r.npoints == plain.npoints && memcmp(r.points, plain.points, r.npoints * sizeof(AlertPoint)) == 0;
		alert_result_free(&host, &r);
	}
	alert_result_free(&host, &plain);
	check(same && cache_counts.live == 3, "ZTF through the cache: the same points thrice, one schema kept");

	/* Ten texts of one schema (trailing spaces): ten entries' worth, eight kept. */
	for (int i = 0; i < 10; i++)
	{
		rubin_schema("psfFluxErr", texts[i]);
		memset(texts[i] + strlen(texts[i]), ' ', (size_t) i);
		texts[i][strlen(texts[i]) + (size_t) i] = '\0';
	}
	len = write_bare(texts[0], 1, "psfFluxErr", bare, sizeof(bare));
	for (int i = 0; i < 10; i++)
		for (int k = 0; k < 2; k++)
		{
			same &= decode_with(cache, bare, len, ALERT_BARE, texts[i], &r, &err) == ALERT_DECODE_OK &&
				rubin_alert1_ok(&r, 0);
			alert_result_free(&host, &r);
		}
	check(same && cache_counts.live == 1 + 2 * 8, "ten schemas through the cache: right points, eight kept");
	calls = cache_counts.calls;
	same = decode_with(cache, bare, len, ALERT_BARE, texts[9], &r, &err) == ALERT_DECODE_OK;
	alert_result_free(&host, &r);
	check(same && cache_counts.calls == calls, "the most recent schema is a hit");
	same = decode_with(cache, ztf.data, ztf.len, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_OK;
	alert_result_free(&host, &r);
	check(same && cache_counts.calls > calls && cache_counts.live == 1 + 2 * 8,
		  "the least recently used (ZTF's) was replaced, and compiles again");
	rubin_schema("psfFluxSigma", texts[0]);
	calls = cache_counts.live;
	check(decode_with(cache, bare, len, ALERT_BARE, texts[0], &r, &err) == ALERT_DECODE_MISSING_FIELD &&
		  cache_counts.live == calls, "a schema that does not compile is not kept");
	alert_schema_cache_free(cache);
	check(cache_counts.live == 0, "the cache returns all its memory");
	{
		AlertSurvey survey = 0;

		check(alert_schema_survey(&host, texts[1], strlen(texts[1]), &survey, &err) == ALERT_DECODE_OK &&
			  survey == ALERT_RUBIN && counts.live == 0, "alert_schema_survey: a Rubin schema");
		check(alert_schema_survey(&host, texts[0], strlen(texts[0]), &survey, &err) ==
			  ALERT_DECODE_MISSING_FIELD && strstr(err.message, "psfFluxErr") != NULL && counts.live == 0,
			  "alert_schema_survey: a schema lacking a field, named");
	}
	free(ztf.data);
}

/* ------------------------------------------------------- ZTF 4.x written here */

/* A minimal ZTF-format writer schema with forced photometry; isdiffpos of type sign_type. */
static const char *
ztf4_schema(const char *sign_type, char text[4096])
{
	snprintf(text, 4096,
			 "{\"type\":\"record\",\"name\":\"alert\",\"namespace\":\"ztf\",\"fields\":["
			 "{\"name\":\"schemavsn\",\"type\":\"string\"},"
			 "{\"name\":\"objectId\",\"type\":\"string\"},{\"name\":\"candid\",\"type\":\"long\"},"
			 "{\"name\":\"candidate\",\"type\":{\"type\":\"record\",\"name\":\"candidate\",\"namespace\":\"ztf.alert\",\"fields\":["
			 "{\"name\":\"jd\",\"type\":\"double\"},{\"name\":\"fid\",\"type\":\"int\"},"
			 "{\"name\":\"pid\",\"type\":\"long\"},{\"name\":\"diffmaglim\",\"type\":[\"float\",\"null\"]},"
			 "{\"name\":\"candid\",\"type\":\"long\"},{\"name\":\"isdiffpos\",\"type\":%s},"
			 "{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"},"
			 "{\"name\":\"magpsf\",\"type\":\"float\"},{\"name\":\"sigmapsf\",\"type\":\"float\"}]}},"
			 "{\"name\":\"prv_candidates\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"ztf.alert.candidate\"}]},"
			 "{\"name\":\"fp_hists\",\"type\":[\"null\",{\"type\":\"array\",\"items\":"
			 "{\"type\":\"record\",\"name\":\"fp_hist\",\"namespace\":\"ztf.alert\",\"fields\":["
			 "{\"name\":\"field\",\"type\":[\"null\",\"int\"]},{\"name\":\"fid\",\"type\":\"int\"},"
			 "{\"name\":\"pid\",\"type\":\"long\"},{\"name\":\"magzpsci\",\"type\":[\"null\",\"float\"]},"
			 "{\"name\":\"jd\",\"type\":\"double\"},"
			 "{\"name\":\"forcediffimflux\",\"type\":[\"null\",\"float\"]},"
			 "{\"name\":\"forcediffimfluxunc\",\"type\":[\"null\",\"float\"]}]}}]},"
			 "{\"name\":\"cutoutScience\",\"type\":[\"null\",\"bytes\"]}]}",
			 sign_type);
	return text;
}

static void
set_ztf_candidate(avro_value_t c, int64_t candid, double jd, int fid, double mag, const char *sign_s,
				  long sign_i)
{
	avro_value_t v;

	v = fld(&c, "jd"), avro_value_set_double(&v, jd);
	v = fld(&c, "fid"), avro_value_set_int(&v, fid);
	v = fld(&c, "pid"), avro_value_set_long(&v, candid / 1000000);
	{
		avro_value_t u = fld(&c, "diffmaglim");

		avro_value_set_branch(&u, 0, &v);	/* ["float", "null"], as in ZTF 3.x */
		avro_value_set_float(&v, 20.5f);
	}
	v = fld(&c, "candid"), avro_value_set_long(&v, candid);
	v = fld(&c, "isdiffpos");
	if (sign_s)
		avro_value_set_string(&v, sign_s);
	else
		avro_value_set_int(&v, (int32_t) sign_i);
	v = fld(&c, "ra"), avro_value_set_double(&v, 10.0);
	v = fld(&c, "dec"), avro_value_set_double(&v, 20.0);
	v = fld(&c, "magpsf"), avro_value_set_float(&v, (float) mag);
	v = fld(&c, "sigmapsf"), avro_value_set_float(&v, 0.25f);
}

static void
set_fp(avro_value_t f, int64_t pid, double flux)
{
	avro_value_t v;

	set_null(&f, "field");
	v = fld(&f, "fid"), avro_value_set_int(&v, 3);
	v = fld(&f, "pid"), avro_value_set_long(&v, pid);
	v = some(&f, "magzpsci"), avro_value_set_float(&v, 26.0f);
	v = fld(&f, "jd"), avro_value_set_double(&v, 2460000.5);
	v = some(&f, "forcediffimflux"), avro_value_set_float(&v, (float) flux);
	v = some(&f, "forcediffimfluxunc"), avro_value_set_float(&v, 10.0f);
}

/*
 * A 4.x-like packet: candidate with isdiffpos pos, one prv_candidate with
 * neg, two fp_hists (one with ZTF's -99999 "failed" flux, skipped).
 */
static size_t
write_ztf4(const char *text, const char *object, const char *pos_s, const char *neg_s,
		   long pos_i, long neg_i, uint8_t *out, size_t size)
{
	Datum		d = datum_new(text);
	avro_value_t *a = &d.value;
	avro_value_t v,
				arr;

	v = fld(a, "schemavsn"), avro_value_set_string(&v, "4.02");
	v = fld(a, "objectId"), avro_value_set_string(&v, object);
	v = fld(a, "candid"), avro_value_set_long(&v, 2000000000000000001LL);
	set_ztf_candidate(fld(a, "candidate"), 2000000000000000001LL, 2460001.5, 1, 19.0, pos_s, pos_i);
	arr = some(a, "prv_candidates");
	set_ztf_candidate(append(&arr), 1999000000000000001LL, 2460000.75, 3, 20.0, neg_s, neg_i);
	arr = some(a, "fp_hists");
	set_fp(append(&arr), 1234, 100.0);
	set_fp(append(&arr), 1235, -99999.0);
	set_null(a, "cutoutScience");
	return datum_write_bare(&d, out, size);
}

static void
test_ztf4(void)
{
	static uint8_t buf[4096];
	static char str_text[4096],
				int_text[4096];
	const char *str_schema = ztf4_schema("\"string\"", str_text);
	const char *int_schema = ztf4_schema("\"int\"", int_text);
	size_t		len;
	AlertResult r;
	AlertDecodeError err;
	double		f19 = pow(10.0, -0.4 * (19.0 - 31.4)),
				f20 = pow(10.0, -0.4 * (20.0 - 31.4)),
				zp = pow(10.0, -0.4 * (26.0 - 31.4));

	len = write_ztf4(str_schema, "ZTF24abcdefg", "1.0", "-1.0", 0, 0, buf, sizeof(buf));
	check(decode(buf, len, ALERT_BARE, str_schema, &r, &err) == ALERT_DECODE_OK && r.npoints == 3 &&
		  r.nskipped == 1, "ZTF 4.x bare datum: 3 points, the failed forced flux skipped");
	check(r.npoints == 3 && r.points[0].band == 'g' && close_rel(r.points[0].flux, f19) &&
		  close_rel(r.points[0].dflux, f19 * 0.4 * log(10.0) * 0.25) &&
		  r.points[1].band == 'i' && close_rel(r.points[1].flux, -f20) &&
		  r.points[1].kind == ALERT_HISTORY,
		  "isdiffpos '1.0' positive, '-1.0' negative");
	check(r.npoints == 3 && r.points[2].kind == ALERT_FORCED && r.points[2].source_id == 1234 &&
		  r.points[2].band == 'i' && close_rel(r.points[2].flux, 100.0 * zp) &&
		  close_rel(r.points[2].dflux, 10.0 * zp) && r.points[2].mjd == 60000.0 && isnan(r.points[2].ra),
		  "forced photometry at magzpsci 26 in nJy, keyed by pid");
	alert_result_free(&host, &r);

	len = write_ztf4(int_schema, "ZTF24abcdefg", NULL, NULL, 1, 0, buf, sizeof(buf));
	check(decode(buf, len, ALERT_BARE, int_schema, &r, &err) == ALERT_DECODE_OK && r.npoints == 3 &&
		  r.points[0].flux > 0 && r.points[1].flux < 0, "isdiffpos as int 1 / 0");
	alert_result_free(&host, &r);

	len = write_ztf4(str_schema, "ZTF24abcdefg", "t", "maybe", 0, 0, buf, sizeof(buf));
	check(decode(buf, len, ALERT_BARE, str_schema, &r, &err) == ALERT_DECODE_INVALID_VALUE &&
		  strstr(err.message, "maybe") != NULL, "isdiffpos 'maybe': invalid value, named");

	len = write_ztf4(str_schema, "ZTF24ABCDEFG", "t", "f", 0, 0, buf, sizeof(buf));
	check(decode(buf, len, ALERT_BARE, str_schema, &r, &err) == ALERT_DECODE_INVALID_VALUE &&
		  strstr(err.message, "ZTF24ABCDEFG") != NULL, "malformed objectId: invalid value, named");
}

static void
test_ztf_bad(void)
{
	Buf			b = read_file("test/data/alerts/ztf/2019_01_10_739260766315010006.avro");
	AlertResult r;
	AlertDecodeError err;
	int			ok = 1;
	uint8_t    *copy = malloc(b.len + 100);

	/* Every truncation on a 1 kB grid, and the last bytes. */
	for (size_t cut = 0; cut < b.len; cut += cut + 1000 < b.len ? 1000 : 1)
		ok &= decode(b.data, cut, ALERT_CONTAINER, NULL, &r, &err) != ALERT_DECODE_OK;
	check(ok, "every truncated ZTF packet fails, nothing held");
	memcpy(copy, b.data, b.len);
	copy[3] = 2;
	check(decode(copy, b.len, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_BAD_FRAMING,
		  "wrong magic byte: bad framing");
	check(decode(b.data, b.len, ALERT_BARE, NULL, &r, &err) == ALERT_DECODE_BAD_SCHEMA,
		  "container passed as a bare datum without schema: bad schema");
	memcpy(copy, b.data, b.len);
	copy[b.len - 1] ^= 1;
	check(decode(copy, b.len, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_CORRUPT &&
		  strstr(err.message, "sync marker") != NULL, "a block's sync marker changed: corrupt");
	memcpy(copy, b.data, b.len);
	memcpy(copy + b.len, copy + b.len - 200, 100);
	check(decode(copy, b.len + 100, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_CORRUPT,
		  "100 bytes of garbage after the last block: corrupt");

	/* Garbage after the magic, and flipped bytes: a status, never a crash or leak. */
	srand(14);
	memcpy(copy, "Obj\x01", 4);
	for (size_t i = 4; i < 4096; i++)
		copy[i] = (uint8_t) rand();
	check(decode(copy, 4096, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_CORRUPT,
		  "garbage after the magic: corrupt");
	ok = 1;
	for (int trial = 0; trial < 300; trial++)
	{
		memcpy(copy, b.data, b.len);
		for (int k = 0; k < 4; k++)
			copy[4 + (size_t) rand() % 3000] ^= (uint8_t) (1 + rand() % 255);
		if (decode(copy, b.len, ALERT_CONTAINER, NULL, &r, &err) == ALERT_DECODE_OK)
			alert_result_free(&host, &r);
		ok &= counts.live == 0;
	}
	check(ok, "300 packets with flipped header/schema/datum bytes: nothing held");
	free(copy);
	free(b.data);
}

static void
test_object_numbers(void)
{
	char		name[ALERT_OBJECT_NAME_SIZE];
	int64_t		n = alert_ztf_object_number("ZTF17aaacxxf", 12);

	check(n > 0 && alert_ztf_object_name(n, name) == 0 && strcmp(name, "ZTF17aaacxxf") == 0,
		  "ZTF objectId round-trips through its number");
	check(alert_ztf_object_number("ZTF00aaaaaaa", 12) == 0 &&
		  alert_ztf_object_name(alert_ztf_object_number("ZTF99zzzzzzz", 12), name) == 0 &&
		  strcmp(name, "ZTF99zzzzzzz") == 0, "first and last ZTF object numbers");
	check(alert_ztf_object_number("ZTF17aaacxx", 11) == -1 &&
		  alert_ztf_object_number("ZTF1xaaacxxf", 12) == -1 &&
		  alert_ztf_object_number("ZTF17aaaCxxf", 12) == -1 &&
		  alert_ztf_object_name(100LL * 8031810176LL, name) == -1, "malformed ids and numbers rejected");
}

/*
 * The reader's own cases, with datums encoded by hand: every Avro type the
 * alert does not read is skipped (boolean, int, enum, fixed, bytes, a map,
 * an array written in blocks with their byte sizes, a recursive record),
 * fields come in the writer's order, and what a datum may not say is
 * CORRUPT: an int beyond 32 bits, a union branch or enum symbol out of
 * range, a block claiming more items than the datum can hold, nesting
 * beyond the limit.
 */
static const char reader_schema[] =
	"{\"type\":\"record\",\"name\":\"alert\",\"fields\":["
	"{\"name\":\"ok\",\"type\":\"boolean\"},"
	"{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"K\",\"symbols\":[\"a\",\"b\"]}},"
	"{\"name\":\"tag\",\"type\":{\"type\":\"fixed\",\"name\":\"T\",\"size\":3}},"
	"{\"name\":\"meta\",\"type\":{\"type\":\"map\",\"values\":\"int\"}},"
	"{\"name\":\"tree\",\"type\":{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
	"{\"name\":\"v\",\"type\":\"int\"},{\"name\":\"kids\",\"type\":{\"type\":\"array\",\"items\":\"Node\"}}]}},"
	"{\"name\":\"nulls\",\"type\":{\"type\":\"array\",\"items\":\"null\"}},"
	"{\"name\":\"diaSource\",\"type\":{\"type\":\"record\",\"name\":\"diaSource\",\"fields\":["
	"{\"name\":\"band\",\"type\":\"string\"},{\"name\":\"psfFluxErr\",\"type\":\"float\"},"
	"{\"name\":\"psfFlux\",\"type\":\"int\"},{\"name\":\"midpointMjdTai\",\"type\":\"long\"},"
	"{\"name\":\"diaObjectId\",\"type\":\"int\"},{\"name\":\"diaSourceId\",\"type\":\"long\"},"
	"{\"name\":\"ra\",\"type\":\"double\"},{\"name\":\"dec\",\"type\":\"double\"}]}},"
	"{\"name\":\"prvDiaSources\",\"type\":{\"type\":\"array\",\"items\":\"diaSource\"}},"
	"{\"name\":\"diaSourceId\",\"type\":\"long\"},"
	"{\"name\":\"blob\",\"type\":\"bytes\"}]}";

typedef struct Enc
{
	uint8_t		b[4096];
	size_t		n;
} Enc;

static void
enc_long(Enc *e, int64_t x)
{
	uint64_t	u = ((uint64_t) x << 1) ^ (uint64_t) (x >> 63);

	while (u >= 0x80)
	{
		e->b[e->n++] = (uint8_t) (u | 0x80);
		u >>= 7;
	}
	e->b[e->n++] = (uint8_t) u;
}

static void
enc_bytes(Enc *e, const void *p, size_t n)
{
	memcpy(e->b + e->n, p, n);
	e->n += n;
}

static void
enc_string(Enc *e, const char *s)
{
	enc_long(e, (int64_t) strlen(s));
	enc_bytes(e, s, strlen(s));
}

static void
enc_double(Enc *e, double x, int size)
{
	uint8_t		le[8];
	uint64_t	u;

	if (size == 4)
	{
		float		f = (float) x;
		uint32_t	v;

		memcpy(&v, &f, 4);
		u = v;
	}
	else
		memcpy(&u, &x, 8);
	for (int i = 0; i < size; i++)
		le[i] = (uint8_t) (u >> (8 * i));
	enc_bytes(e, le, (size_t) size);
}

/* A diaSource of the schema above: band g, flux err 2.5, flux 40, mjd 60000 (promoted). */
static void
enc_source(Enc *e, int64_t id)
{
	enc_string(e, "g");
	enc_double(e, 2.5, 4);
	enc_long(e, 40);
	enc_long(e, 60000 + id);
	enc_long(e, 77);
	enc_long(e, id);
	enc_double(e, 10.5, 8);
	enc_double(e, -3.25, 8);
}

/*
 * The whole datum; the fields before diaSource as given (bad_* replace
 * one part by what the case under test needs).
 */
typedef enum ReaderCase
{
	R_GOOD, R_WIDE_INT, R_ENUM_RANGE, R_MAP_CUT, R_DEEP, R_HUGE_NULLS, R_BLOCK_SIZE_PAST
} ReaderCase;

static void
enc_reader_datum(Enc *e, ReaderCase c)
{
	e->n = 0;
	e->b[e->n++] = 1;			/* ok */
	enc_long(e, c == R_ENUM_RANGE ? 2 : 1);	/* kind */
	enc_bytes(e, "xyz", 3);		/* tag */
	/* meta: one block of 2 entries written with its byte size, then the end */
	enc_long(e, -2);
	enc_long(e, c == R_MAP_CUT ? 400 : 6);
	enc_string(e, "a");
	enc_long(e, 5);
	enc_string(e, "b");
	enc_long(e, -5);
	enc_long(e, 0);
	/* tree: 7 -> [8 -> [99 -> []]], or nested deeper than the limit */
	for (int depth = 0; depth < (c == R_DEEP ? 200 : 2); depth++)
	{
		enc_long(e, c == R_WIDE_INT ? (int64_t) 1 << 40 : 7 + depth);
		enc_long(e, 1);
	}
	enc_long(e, 99);
	enc_long(e, 0);
	for (int depth = 0; depth < (c == R_DEEP ? 200 : 2); depth++)
		enc_long(e, 0);
	/* nulls: 3 of them, or a claim of 2^40 */
	enc_long(e, c == R_HUGE_NULLS ? (int64_t) 1 << 40 : 3);
	enc_long(e, 0);
	enc_source(e, 11);
	/* prvDiaSources: one block of two with its byte size (read, not skipped) */
	{
		Enc			items = {{0}, 0};

		enc_source(&items, 9);
		enc_source(&items, 10);
		enc_long(e, -2);
		enc_long(e, c == R_BLOCK_SIZE_PAST ? 100000 : (int64_t) items.n);
		enc_bytes(e, items.b, items.n);
		enc_long(e, 0);
	}
	enc_long(e, 11);			/* diaSourceId */
	enc_string(e, "blob");
}

static void
test_reader(void)
{
	static const struct
	{
		ReaderCase	c;
		const char *what;
	}			bad[] = {
		{R_WIDE_INT, "an int of 41 bits"},
		{R_ENUM_RANGE, "enum symbol 2 of 2"},
		{R_MAP_CUT, "a map block's byte size past the datum"},
		{R_DEEP, "a recursive record nested 200 deep"},
		{R_HUGE_NULLS, "2^40 nulls claimed by 60 bytes"},
		{R_BLOCK_SIZE_PAST, "an array block's byte size past the datum"},
	};
	Enc			e;
	AlertResult r;
	AlertDecodeError err;
	AlertDecodeStatus s;
	char		what[512];

	enc_reader_datum(&e, R_GOOD);
	s = decode(e.b, e.n, ALERT_BARE, reader_schema, &r, &err);
	check(s == ALERT_DECODE_OK && r.npoints == 3 && r.points[0].source_id == 11 &&
		  r.points[0].kind == ALERT_DETECTION && r.points[0].alert_id == 11 &&
		  r.points[0].object_id == 77 && r.points[0].band == 'g' && r.points[0].flux == 40.0 &&
		  r.points[0].dflux == 2.5 && r.points[0].mjd == 60011.0 && r.points[0].ra == 10.5 &&
		  r.points[0].dec == -3.25 && r.points[1].source_id == 9 && r.points[1].kind == ALERT_HISTORY &&
		  r.points[2].source_id == 10 && r.points[2].mjd == 60010.0,
		  "reader: every other type skipped, fields in the writer's order, int and long promoted");
	if (s != ALERT_DECODE_OK)
		printf("# %s\n", err.message);
	alert_result_free(&host, &r);
	e.n--;
	s = decode(e.b, e.n, ALERT_BARE, reader_schema, &r, &err);
	check(s == ALERT_DECODE_CORRUPT, "reader: a datum cut short by one byte is corrupt");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		enc_reader_datum(&e, bad[i].c);
		s = decode(e.b, e.n, ALERT_BARE, reader_schema, &r, &err);
		snprintf(what, sizeof(what), "reader: %s is corrupt (%s)", bad[i].what, err.message);
		check(s == ALERT_DECODE_CORRUPT, what);
	}
	/* a union branch out of range: a writer whose top-level diaSourceId is ["null","long"] */
	{
		char		text[sizeof(reader_schema) + 32];
		const char *at = strstr(reader_schema, "{\"name\":\"diaSourceId\",\"type\":\"long\"},{\"name\":\"blob\"");
		size_t		head = (size_t) (at - reader_schema);
		uint8_t    *tail;

		snprintf(text, sizeof(text), "%.*s{\"name\":\"diaSourceId\",\"type\":[\"null\",\"long\"]},%s",
				 (int) head, reader_schema, at + strlen("{\"name\":\"diaSourceId\",\"type\":\"long\"},"));
		enc_reader_datum(&e, R_GOOD);
		/* the datum ends: diaSourceId 11 (1 byte, 0x16), blob "blob" (5 bytes) */
		tail = e.b + e.n - 6;
		memmove(tail + 1, tail, 6);
		tail[0] = 4;			/* branch 2 of 2 */
		e.n++;
		s = decode(e.b, e.n, ALERT_BARE, text, &r, &err);
		snprintf(what, sizeof(what), "reader: union branch 2 of a 2-branch union is corrupt (%s)",
				 err.message);
		check(s == ALERT_DECODE_CORRUPT, what);
		tail[0] = 2;			/* branch 1: long */
		s = decode(e.b, e.n, ALERT_BARE, text, &r, &err);
		check(s == ALERT_DECODE_OK && r.npoints == 3 && r.points[0].alert_id == 11,
			  "reader: the same datum with branch 1 decodes");
		alert_result_free(&host, &r);
	}
}

int
main(void)
{
	alert_decode_init();
	host = test_host(&counts);
	test_ztf_real();
	test_ztf4();
	test_rubin();
	test_cache();
	test_ztf_bad();
	test_reader();
	test_object_numbers();
	bench();
	check(counts.live == 0, "no host memory left");
	return tap_done();
}
