/*
 * test_alert_encode.c
 *		Unit tests of the Rubin-format alert writer, without a server: alerts
 *		written in every framing and read back by the decoding kernel (every
 *		field of every point, histories, forced sources, ids; the cutouts
 *		skipped), many alerts over several container blocks, bad input, a host
 *		out of memory at every allocation, an interrupt.  Prints TAP, the
 *		datum sizes and an encode rate; exits non-zero when a check fails.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert_decode.h"
#include "alert_encode.h"
#include "kernel_host_test.h"
#include "tap.h"

static TestHost counts;
static KernelHost host;

/* Source k of object obj: deterministic values in every band, some fluxes negative. */
static AlertSource
make_source(int64_t obj, int k, int forced)
{
	AlertSource s;

	s.id = (forced ? INT64_C(1000000000000000000) : 0) + obj * 100000 + k;
	s.mjd = 60000.0 + 1.37 * k + obj * 1e-4;
	s.band = "ugrizy"[k % 6];
	s.flux = (k % 5 == 3 ? -1 : 1) * (1234.567 + 98.7654321 * k);
	s.dflux = 10.1 + 0.3 * k;
	s.ra = 150.123456789 + obj * 1e-3;
	s.dec = -30.987654321;
	return s;
}

/* The alert of source k of object obj: history k-n .. k-1 (n = nhist), the same as forced. */
typedef struct TestAlert
{
	AlertSource source;
	AlertSource history[120];
	AlertSource forced[120];
	AlertPacket packet;
} TestAlert;

static void
make_alert(TestAlert *a, int64_t obj, int k, int nhist, int with_forced, const uint8_t *cutout,
		   size_t cutout_len)
{
	int			n = k < nhist ? k : nhist;

	a->source = make_source(obj, k, 0);
	for (int i = 0; i < n; i++)
	{
		a->history[i] = make_source(obj, k - n + i, 0);
		a->forced[i] = make_source(obj, k - n + i, 1);
	}
	a->packet = (AlertPacket) {
		.object_id = obj, .source = &a->source, .history = a->history, .nhistory = (size_t) n,
		.forced = with_forced ? a->forced : NULL, .nforced = with_forced ? (size_t) n : 0,
		.cutout = cutout, .cutout_len = cutout_len
	};
}

/* A decoded point equals the source it was written from (fluxes through float32). */
static int
point_is(const AlertPoint *p, const AlertSource *s, AlertKind kind, int64_t alert_id, int64_t obj)
{
	char		name[ALERT_OBJECT_NAME_SIZE];

	snprintf(name, sizeof(name), "%lld", (long long) obj);
	return p->survey == ALERT_RUBIN && p->kind == kind && p->alert_id == alert_id &&
		p->object_id == obj && strcmp(p->object_name, name) == 0 && p->source_id == s->id &&
		p->mjd == s->mjd && p->band == s->band && p->flux == (double) (float) s->flux &&
		p->dflux == (double) (float) s->dflux && p->ra == s->ra && p->dec == s->dec;
}

/* The points of alert a at r->points[*at ...]: detection, history, forced; *at after them. */
static int
alert_points_ok(const AlertResult *r, size_t *at, const TestAlert *a)
{
	const AlertPacket *p = &a->packet;
	size_t		n = 1 + p->nhistory + p->nforced;
	int			ok;

	if (r->npoints < *at + n)
		return 0;
	ok = point_is(&r->points[*at], p->source, ALERT_DETECTION, p->source->id, p->object_id);
	for (size_t i = 0; i < p->nhistory; i++)
		ok &= point_is(&r->points[*at + 1 + i], &p->history[i], ALERT_HISTORY, p->source->id,
					   p->object_id);
	for (size_t i = 0; i < p->nforced; i++)
		ok &= point_is(&r->points[*at + 1 + p->nhistory + i], &p->forced[i], ALERT_FORCED,
					   p->source->id, p->object_id);
	*at += n;
	return ok;
}

static AlertEncoder *
encoder(AlertFraming framing, int deflate)
{
	AlertEncodeOptions o = {framing, 123456, deflate};
	AlertEncoder *e;
	AlertEncodeError err;

	if (alert_encoder_new(&host, &o, &e, &err) != ALERT_ENCODE_OK)
	{
		fprintf(stderr, "encoder: %s\n", err.message);
		exit(2);
	}
	return e;
}

static char *
schema_text(void)
{
	size_t		n = alert_encode_schema(NULL, 0);
	char	   *s = malloc(n + 1);

	check(alert_encode_schema(s, n + 1) == n && strlen(s) == n && strstr(s, "lsst.v11_0") != NULL,
		  "the writer schema's length as written");
	return s;
}

/* One alert as a message of the given framing; decodes it and checks every point. */
static void
test_message(AlertFraming framing, const char *schema, const char *what)
{
	static const uint8_t cutout[30000] = {0x1f, 0x8b, 8};
	static TestAlert a;
	AlertEncoder *e = encoder(framing, 0);
	AlertEncodeError err;
	AlertDecodeError derr;
	AlertResult r;
	const uint8_t *out;
	size_t		len,
				at = 0;
	int32_t		id = 0;
	char		msg[128];

	make_alert(&a, 4242, 7, 5, 1, cutout, sizeof(cutout));
	check(alert_encode(e, &a.packet, &err) == ALERT_ENCODE_OK &&
		  alert_encoder_take(e, &out, &len, &err) == ALERT_ENCODE_OK && len > 3 * sizeof(cutout),
		  (snprintf(msg, sizeof(msg), "%s: one alert with 5 sources, 5 forced, cutouts", what), msg));
	if (framing == ALERT_CONFLUENT)
		check(out[0] == 0 && alert_confluent_schema_id(out, len, &id) == ALERT_DECODE_OK &&
			  id == 123456, "Confluent: zero byte and the schema id");
	check(alert_decode(&host, NULL, out, len, framing, schema, strlen(schema), &r, &derr) == ALERT_DECODE_OK,
		  (snprintf(msg, sizeof(msg), "%s: decodes", what), msg));
	check(r.nalerts == 1 && r.npoints == 11 && r.nskipped == 0 && alert_points_ok(&r, &at, &a),
		  (snprintf(msg, sizeof(msg), "%s: every field of the 11 points as written", what), msg));
	alert_result_free(&host, &r);
	if (framing != ALERT_CONTAINER)
	{
		check(alert_encode(e, &a.packet, &err) == ALERT_ENCODE_OK &&
			  alert_encode(e, &a.packet, &err) == ALERT_ENCODE_BAD_INPUT &&
			  strstr(err.message, "one alert") != NULL,
			  (snprintf(msg, sizeof(msg), "%s: a second alert in a message is refused", what), msg));
		check(alert_encoder_take(e, &out, &len, &err) == ALERT_ENCODE_OK &&
			  alert_encoder_take(e, &out, &len, &err) == ALERT_ENCODE_BAD_INPUT,
			  (snprintf(msg, sizeof(msg), "%s: taking an empty message is refused", what), msg));
	}
	alert_encoder_free(e);
}

/*
 * 300 objects' alerts of up to 20 history sources in one container (several
 * blocks), then all decoded: every point of every alert, in order.
 */
static void
test_container(int deflate, int with_forced)
{
	static TestAlert a;
	AlertEncoder *e = encoder(ALERT_CONTAINER, deflate);
	AlertEncodeError err;
	AlertDecodeError derr;
	AlertResult r;
	const uint8_t *out;
	size_t		len,
				at = 0,
				npoints = 0;
	int			ok = 1;
	char		msg[128];

	for (int obj = 1; obj <= 300; obj++)
	{
		make_alert(&a, obj, obj % 30, 20, with_forced, NULL, 0);
		ok &= alert_encode(e, &a.packet, &err) == ALERT_ENCODE_OK;
		npoints += 1 + a.packet.nhistory + a.packet.nforced;
	}
	ok &= alert_encoder_take(e, &out, &len, &err) == ALERT_ENCODE_OK;
	snprintf(msg, sizeof(msg), "container (%s%s): 300 alerts written, %zu bytes",
			 deflate ? "deflate" : "null", with_forced ? ", forced" : "", len);
	check(ok, msg);
	check(alert_decode(&host, NULL, out, len, ALERT_CONTAINER, NULL, 0, &r, &derr) == ALERT_DECODE_OK &&
		  r.nalerts == 300 && r.npoints == npoints, "container: 300 alerts decode, every point");
	for (int obj = 1; obj <= 300; obj++)
	{
		make_alert(&a, obj, obj % 30, 20, with_forced, NULL, 0);
		ok &= alert_points_ok(&r, &at, &a);
	}
	check(ok && at == r.npoints, "container: every field of every point as written");
	alert_result_free(&host, &r);
	{
		AlertEncoder *again = encoder(ALERT_CONTAINER, deflate);
		const uint8_t *out2;
		size_t		len2;

		for (int obj = 1; obj <= 300; obj++)
		{
			make_alert(&a, obj, obj % 30, 20, with_forced, NULL, 0);
			ok &= alert_encode(again, &a.packet, &err) == ALERT_ENCODE_OK;
		}
		check(ok && alert_encoder_take(again, &out2, &len2, &err) == ALERT_ENCODE_OK && len2 == len &&
			  memcmp(out, out2, len) == 0, "container: the same alerts give the same bytes");
		alert_encoder_free(again);
	}

	/* The encoder starts a new file after a take; an empty one is a header alone. */
	make_alert(&a, 9, 3, 20, with_forced, NULL, 0);
	check(alert_encode(e, &a.packet, &err) == ALERT_ENCODE_OK &&
		  alert_encoder_take(e, &out, &len, &err) == ALERT_ENCODE_OK &&
		  alert_decode(&host, NULL, out, len, ALERT_CONTAINER, NULL, 0, &r, &derr) == ALERT_DECODE_OK &&
		  r.nalerts == 1 && (at = 0, alert_points_ok(&r, &at, &a)), "container: a new file after a take");
	alert_result_free(&host, &r);
	check(alert_encoder_take(e, &out, &len, &err) == ALERT_ENCODE_OK &&
		  alert_decode(&host, NULL, out, len, ALERT_CONTAINER, NULL, 0, &r, &derr) == ALERT_DECODE_OK &&
		  r.nalerts == 0, "container: an empty file decodes to no alert");
	alert_result_free(&host, &r);
	alert_encoder_free(e);
}

/*
 * A stream of Confluent messages, as a Kafka consumer reads them: each its
 * own alert, all decoded through one schema cache.
 */
static void
test_stream(const char *schema)
{
	static TestAlert a;
	AlertEncoder *e = encoder(ALERT_CONFLUENT, 0);
	AlertSchemaCache *cache = alert_schema_cache_new(&host);
	AlertEncodeError err;
	AlertDecodeError derr;
	AlertResult r;
	const uint8_t *out;
	size_t		len,
				at;
	int			ok = cache != NULL;

	for (int k = 0; ok && k < 50; k++)
	{
		make_alert(&a, 77, k, 20, 1, NULL, 0);
		at = 0;
		ok &= alert_encode(e, &a.packet, &err) == ALERT_ENCODE_OK &&
			alert_encoder_take(e, &out, &len, &err) == ALERT_ENCODE_OK &&
			alert_decode(&host, cache, out, len, ALERT_CONFLUENT, schema, strlen(schema), &r,
						 &derr) == ALERT_DECODE_OK &&
			r.nalerts == 1 && alert_points_ok(&r, &at, &a) && at == r.npoints;
		alert_result_free(&host, &r);
	}
	check(ok, "50 Confluent messages of one object decoded through a schema cache, every point");
	alert_schema_cache_free(cache);
	alert_encoder_free(e);
}

/* prvDiaSources and prvDiaForcedSources null, or empty arrays: no points either way. */
static void
test_no_history(const char *schema)
{
	AlertEncoder *e = encoder(ALERT_BARE, 0);
	AlertSource s = make_source(5, 0, 0);
	AlertPacket p = {.object_id = 5, .source = &s};
	AlertEncodeError err;
	AlertDecodeError derr;
	AlertResult r;
	const uint8_t *out;
	size_t		len;
	int			ok = 1;

	for (int empty = 0; empty <= 1; empty++)
	{
		p.history = p.forced = empty ? &s : NULL;
		ok &= alert_encode(e, &p, &err) == ALERT_ENCODE_OK &&
			alert_encoder_take(e, &out, &len, &err) == ALERT_ENCODE_OK &&
			alert_decode(&host, NULL, out, len, ALERT_BARE, schema, strlen(schema), &r, &derr) == ALERT_DECODE_OK &&
			r.npoints == 1 && point_is(&r.points[0], &s, ALERT_DETECTION, s.id, 5);
		alert_result_free(&host, &r);
	}
	check(ok, "no history: null and empty arrays, the diaSource alone");
	alert_encoder_free(e);
}

/* A source whose error is 0 can be weighed by nothing: skipped, as a negative one. */
static void
test_zero_error(const char *schema)
{
	AlertEncoder *e = encoder(ALERT_BARE, 0);
	AlertSource s = make_source(6, 2, 0);
	AlertSource h[2] = {make_source(6, 0, 0), make_source(6, 1, 0)};
	AlertPacket p = {.object_id = 6, .source = &s, .history = h, .nhistory = 2};
	AlertEncodeError err;
	AlertDecodeError derr;
	AlertResult r;
	const uint8_t *out;
	size_t		len;

	h[0].dflux = 0;
	check(alert_encode(e, &p, &err) == ALERT_ENCODE_OK &&
		  alert_encoder_take(e, &out, &len, &err) == ALERT_ENCODE_OK &&
		  alert_decode(&host, NULL, out, len, ALERT_BARE, schema, strlen(schema), &r, &derr) == ALERT_DECODE_OK &&
		  r.npoints == 2 && r.nskipped == 1 && point_is(&r.points[0], &s, ALERT_DETECTION, s.id, 6) &&
		  point_is(&r.points[1], &h[1], ALERT_HISTORY, s.id, 6),
		  "a history source with psfFluxErr 0 skipped, the others kept");
	alert_result_free(&host, &r);
	alert_encoder_free(e);
}

static void
test_bad_input(void)
{
	AlertEncoder *e = encoder(ALERT_BARE, 0);
	AlertSource good = make_source(1, 1, 0),
				bad;
	AlertPacket p = {.object_id = 1, .source = &bad};
	AlertEncodeError err;
	const uint8_t *out;
	size_t		len;
	static const char *const what[] = {"band 'q'", "a NaN time", "a negative error",
	"a flux beyond float32", "an infinite ra"};
	static const char *const field[] = {"band 'q'", "midpointMjdTai", "psfFluxErr", "psfFlux", "ra or dec"};

	for (int i = 0; i < 5; i++)
	{
		bad = good;
		if (i == 0)
			bad.band = 'q';
		else if (i == 1)
			bad.mjd = NAN;
		else if (i == 2)
			bad.dflux = -1;
		else if (i == 3)
			bad.flux = 1e39;
		else
			bad.ra = INFINITY;
		check(alert_encode(e, &p, &err) == ALERT_ENCODE_BAD_INPUT && err.status == ALERT_ENCODE_BAD_INPUT &&
			  strstr(err.message, field[i]) != NULL && strstr(err.message, "diaSource 100001") != NULL,
			  what[i]);
	}
	bad = good;
	bad.band = 'x';
	p = (AlertPacket) {.object_id = 1, .source = &good, .history = &good, .nhistory = 1, .forced = &bad, .nforced = 1};
	check(alert_encode(e, &p, &err) == ALERT_ENCODE_BAD_INPUT &&
		  strstr(err.message, "prvDiaForcedSources[0]") != NULL, "a bad forced source named by its index");
	p = (AlertPacket) {.object_id = 1, .source = &good, .nhistory = 2};
	check(alert_encode(e, &p, &err) == ALERT_ENCODE_BAD_INPUT, "history count without its array");
	p = (AlertPacket) {.object_id = 1, .source = NULL};
	check(alert_encode(e, &p, &err) == ALERT_ENCODE_BAD_INPUT, "no diaSource");
	p = (AlertPacket) {.object_id = 1, .source = &good, .cutout_len = 10};
	check(alert_encode(e, &p, &err) == ALERT_ENCODE_BAD_INPUT, "cutout length without bytes");
	p = (AlertPacket) {.object_id = 1, .source = &good};
	check(alert_encode(e, &p, &err) == ALERT_ENCODE_OK && alert_encoder_take(e, &out, &len, &err) == ALERT_ENCODE_OK,
		  "after bad input, the encoder writes the next alert");
	alert_encoder_free(e);
	{
		AlertEncodeOptions o = {(AlertFraming) 7, 0, 0};

		check(alert_encoder_new(&host, &o, &e, &err) == ALERT_ENCODE_BAD_INPUT && e == NULL,
			  "an unknown framing is refused");
	}
}

/* The host out of memory at each allocation in turn: a status, nothing held. */
static void
test_no_memory(void)
{
	static TestAlert a;
	int			ok = 1,
				failures = 0;

	for (long at = 1; at < 60; at++)
	{
		AlertEncodeOptions o = {ALERT_CONTAINER, 0, 1};
		AlertEncoder *e;
		AlertEncodeError err;
		AlertEncodeStatus s;
		const uint8_t *out;
		size_t		len;

		counts.calls = 0;
		counts.fail_at = at;
		s = alert_encoder_new(&host, &o, &e, &err);
		for (int k = 0; s == ALERT_ENCODE_OK && k < 40; k++)
		{
			make_alert(&a, 3, k, 100, 1, NULL, 0);
			s = alert_encode(e, &a.packet, &err);
		}
		if (s == ALERT_ENCODE_OK)
			s = alert_encoder_take(e, &out, &len, &err);
		failures += s != ALERT_ENCODE_OK;
		ok &= s == ALERT_ENCODE_OK || s == ALERT_ENCODE_NO_MEMORY;
		alert_encoder_free(e);
		ok &= counts.live == 0;
	}
	counts.fail_at = 0;
	check(ok && failures > 5, "out of memory at each allocation: NO_MEMORY, nothing held");
}

static void
test_interrupt(void)
{
	static TestAlert a;
	AlertEncoder *e = encoder(ALERT_CONTAINER, 0);
	AlertEncodeError err;
	AlertEncodeStatus s = ALERT_ENCODE_OK;
	int			n = 0;

	make_alert(&a, 3, 100, 100, 1, NULL, 0);
	counts.stop_at = counts.polls + 1;
	while (s == ALERT_ENCODE_OK && n < 10000)
		s = alert_encode(e, &a.packet, &err), n++;
	counts.stop_at = 0;
	check(s == ALERT_ENCODE_INTERRUPTED && n > 300 && n < 400,
		  "interrupted at the first poll, after 65536 sources");
	alert_encoder_free(e);
}

/* The bare datum's size of an alert of object 1234567 with nhist history and nforced sources. */
static size_t
datum_size(int nhist, int with_forced)
{
	static TestAlert a;
	AlertEncoder *e = encoder(ALERT_BARE, 0);
	AlertEncodeError err;
	const uint8_t *out;
	size_t		len = 0;

	make_alert(&a, 1234567, nhist, nhist, with_forced, NULL, 0);
	if (alert_encode(e, &a.packet, &err) != ALERT_ENCODE_OK ||
		alert_encoder_take(e, &out, &len, &err) != ALERT_ENCODE_OK)
		len = 0;
	alert_encoder_free(e);
	return len;
}

/*
 * The datum sizes alert_encode.h states, and an encode rate: a bare datum
 * with 20 history sources, and a deflate container of such alerts.
 * ALERT_BENCH_N sets the repetitions (valgrind runs few).
 */
static void
sizes_and_rate(void)
{
	size_t		s0 = datum_size(0, 0),
				s20 = datum_size(20, 0),
				s20f = datum_size(20, 1),
				s100 = datum_size(100, 0);
	size_t		source = (s100 - s0) / 100,
				forced = (s20f - s20) / 20;
	static TestAlert a;
	int			n = getenv("ALERT_BENCH_N") ? atoi(getenv("ALERT_BENCH_N")) : 3000;
	AlertEncoder *bare = encoder(ALERT_BARE, 0),
			   *deflated = encoder(ALERT_CONTAINER, 1);
	AlertEncodeError err;
	const uint8_t *out;
	size_t		len;
	struct timespec t0,
				t1,
				t2;
	int			ok = 1;

	printf("# datum sizes: diaSource %zu B, diaForcedSource %zu B, alert without history %zu B, "
		   "with 20 prvDiaSources %zu B, and 20 forced %zu B, with 100 prvDiaSources %zu B\n",
		   source, forced, s0, s20, s20f, s100);
	check(source >= 300 && source <= 400, "a diaSource is of a real one's size (300-400 bytes)");
	make_alert(&a, 1234567, 20, 20, 0, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++)
		ok &= alert_encode(bare, &a.packet, &err) == ALERT_ENCODE_OK &&
			alert_encoder_take(bare, &out, &len, &err) == ALERT_ENCODE_OK;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int i = 0; i < n; i++)
		ok &= alert_encode(deflated, &a.packet, &err) == ALERT_ENCODE_OK;
	ok &= alert_encoder_take(deflated, &out, &len, &err) == ALERT_ENCODE_OK;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	check(ok, "the 20-source alert encoded again and again");
	{
		double		b = ((t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec)) / n,
					d = ((t2.tv_sec - t1.tv_sec) + 1e-9 * (t2.tv_nsec - t1.tv_nsec)) / n;

		printf("# encode rate: %.0f alerts/s bare datum of 21 sources (%.0f us each); "
			   "%.0f alerts/s into a deflate container (%.0f us each, %.0f B per alert)\n",
			   1 / b, 1e6 * b, 1 / d, 1e6 * d, (double) len / n);
	}
	alert_encoder_free(bare);
	alert_encoder_free(deflated);
}

int
main(void)
{
	char	   *schema;

	alert_decode_init();
	host = test_host(&counts);
	schema = schema_text();
	test_message(ALERT_BARE, schema, "bare");
	test_message(ALERT_CONFLUENT, schema, "Confluent");
	test_message(ALERT_CONTAINER, schema, "container");
	test_container(0, 0);
	test_container(1, 1);
	test_stream(schema);
	test_no_history(schema);
	test_zero_error(schema);
	test_bad_input();
	test_no_memory();
	test_interrupt();
	sizes_and_rate();
	free(schema);
	check(counts.live == 0, "no host memory left");
	return tap_done();
}
