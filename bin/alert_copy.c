/*
 * alert_copy.c
 *		What the clients that send alert points share: see alert_copy.h.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert_copy.h"

/* Appends a double that survives the text round trip (17 digits), NaN as NULL. */
static void
append_double(Buffer *out, double x, const char *end)
{
	char		text[40];
	int			n = isnan(x) ? snprintf(text, sizeof(text), "\\N%s", end)
		: snprintf(text, sizeof(text), "%.17g%s", x, end);

	buf_append(out, text, (size_t) n);
}

/* No field needs escaping: numbers, a band letter and a kind name. */
void
format_point(Buffer *out, const AlertPoint *p)
{
	char		text[96];
	int			n;

	n = snprintf(text, sizeof(text), "%lld\t", (long long) p->object_id);
	buf_append(out, text, (size_t) n);
	append_double(out, p->mjd, "\t");
	n = snprintf(text, sizeof(text), "%c\t", p->band);
	buf_append(out, text, (size_t) n);
	append_double(out, p->flux, "\t");
	append_double(out, p->dflux, "\t");
	n = snprintf(text, sizeof(text), "%s\t%lld\t%lld\t", alert_kind_name(alert_stored_kind(p->kind)),
				 (long long) p->source_id, (long long) p->alert_id);
	buf_append(out, text, (size_t) n);
	append_double(out, p->ra, "\t");
	append_double(out, p->dec, "\n");
}

/* COPY's binary format (PostgreSQL's "COPY", "Binary Format"): signature, flags 0, no extension. */
const char copy_binary_header[COPY_BINARY_HEADER_SIZE] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
const char copy_binary_trailer[COPY_BINARY_TRAILER_SIZE] = "\377\377";

/* Big-endian, as COPY's binary format and the wire protocol have it. */
static void
append_be(Buffer *out, uint64_t x, int bytes)
{
	char		b[8];

	for (int i = bytes - 1; i >= 0; i--, x >>= 8)
		b[i] = (char) (x & 0xff);
	buf_append(out, b, (size_t) bytes);
}

static void
append_binary_int8(Buffer *out, int64_t x)
{
	append_be(out, 8, 4);
	append_be(out, (uint64_t) x, 8);
}

/* A float8 field, NaN as NULL (a length of -1). */
static void
append_binary_float8(Buffer *out, double x)
{
	uint64_t	bits;

	if (isnan(x))
	{
		append_be(out, UINT32_MAX, 4);
		return;
	}
	memcpy(&bits, &x, sizeof(bits));
	append_be(out, 8, 4);
	append_be(out, bits, 8);
}

static void
append_binary_text(Buffer *out, const char *s, size_t len)
{
	append_be(out, len, 4);
	buf_append(out, s, len);
}

void
format_point_binary(Buffer *out, const AlertPoint *p)
{
	const char *kind = alert_kind_name(alert_stored_kind(p->kind));

	append_be(out, 10, 2);
	append_binary_int8(out, p->object_id);
	append_binary_float8(out, p->mjd);
	append_binary_text(out, &p->band, 1);
	append_binary_float8(out, p->flux);
	append_binary_float8(out, p->dflux);
	append_binary_text(out, kind, strlen(kind));
	append_binary_int8(out, p->source_id);
	append_binary_int8(out, p->alert_id);
	append_binary_float8(out, p->ra);
	append_binary_float8(out, p->dec);
}

int
send_copy_data(PGconn *conn, const char *data, size_t len)
{
	while (len > 0)
	{
		size_t		n = len < (1 << 20) ? len : (1 << 20);

		if (PQputCopyData(conn, data, (int) n) != 1)
			return -1;
		data += n;
		len -= n;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * The keys sent
 *
 * Every alert repeats its object's history, so most points a client decodes
 * (20 of 21 for 20-source Rubin alerts) were sent already, in an earlier
 * alert.  A SentKeys keeps the keys (objid, stored kind, source_id) sent,
 * with the lowest alert_id sent for each: a point whose key went with an
 * alert_id <= its own need not be sent (the receiving side keeps one row per
 * key, the lowest alert_id's); a point of an earlier alert, arriving later,
 * is sent, and its alert_id kept.
 *
 * Open addressing with linear probing over a power-of-two array of 32-byte
 * slots, at most 3/4 full (grown by doubling): 43 to 85 bytes per key.
 * When the set reaches its limit (0 turns it off) it is emptied (one memset)
 * and fills again: points skipped before are sent again, once, and the
 * receiving side drops them, so the result is the same.
 * ------------------------------------------------------------------------- */

#define SENT_KEYS_MIN_SLOTS 1024

/* splitmix64's finalizer over the key: every input bit moves every output bit. */
static size_t
sent_key_hash(int64_t objid, int64_t source_id, uint8_t kind)
{
	uint64_t	h = (uint64_t) objid * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t) source_id ^
		((uint64_t) kind << 62);

	h = (h ^ (h >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	h = (h ^ (h >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (size_t) (h ^ (h >> 31));
}

/* The slot holding the key, or the empty slot where it goes. */
static SentKey *
sent_key_slot(SentKey *slots, size_t mask, int64_t objid, int64_t source_id, uint8_t kind)
{
	size_t		i = sent_key_hash(objid, source_id, kind) & mask;

	while (slots[i].kind != 0 &&
		   (slots[i].objid != objid || slots[i].source_id != source_id || slots[i].kind != kind))
		i = (i + 1) & mask;
	return &slots[i];
}

/* Doubles the array (or makes the first), moving every key. */
static void
sent_keys_grow(SentKeys *s)
{
	size_t		nslots = s->slots == NULL ? SENT_KEYS_MIN_SLOTS : 2 * (s->mask + 1);
	SentKey    *slots = calloc(nslots, sizeof(SentKey));

	if (slots == NULL)
	{
		fprintf(stderr, "%s: out of memory (%zu bytes)\n", progname, nslots * sizeof(SentKey));
		exit(1);
	}
	for (size_t i = 0; s->slots != NULL && i <= s->mask; i++)
		if (s->slots[i].kind != 0)
			*sent_key_slot(slots, nslots - 1, s->slots[i].objid, s->slots[i].source_id,
						   s->slots[i].kind) = s->slots[i];
	free(s->slots);
	s->slots = slots;
	s->mask = nslots - 1;
}

/* sent_keys_add of a key: whether it was new or its alert_id lowered. */
static int
sent_keys_put(SentKeys *s, const SentKey *k)
{
	SentKey    *e;

	if (s->count >= s->limit)
	{
		sent_keys_clear(s);
		if (s->limit == 0)
			return 1;
	}
	if (s->slots == NULL || 4 * (s->count + 1) > 3 * (s->mask + 1))
		sent_keys_grow(s);
	e = sent_key_slot(s->slots, s->mask, k->objid, k->source_id, k->kind);
	if (e->kind != 0)
	{
		if (e->alert_id <= k->alert_id)
			return 0;
		e->alert_id = k->alert_id;
		return 1;
	}
	*e = *k;
	s->count++;
	return 1;
}

static SentKey
point_key(const AlertPoint *p)
{
	SentKey		k = {p->object_id, p->source_id, p->alert_id,
	(uint8_t) (alert_stored_kind(p->kind) + 1)};

	return k;
}

/* Cost: one hash and a probe or two. */
int
sent_keys_add(SentKeys *s, const AlertPoint *p)
{
	SentKey		k = point_key(p);

	return sent_keys_put(s, &k);
}

int
sent_keys_covers(const SentKeys *s, const AlertPoint *p)
{
	SentKey		k = point_key(p);
	const SentKey *e;

	if (s->slots == NULL || s->count == 0)
		return 0;
	e = sent_key_slot(s->slots, s->mask, k.objid, k.source_id, k.kind);
	return e->kind != 0 && e->alert_id <= k.alert_id;
}

void
sent_keys_merge(SentKeys *into, const SentKeys *from)
{
	for (size_t i = 0; from->slots != NULL && i <= from->mask; i++)
		if (from->slots[i].kind != 0)
			sent_keys_put(into, &from->slots[i]);
}

void
sent_keys_clear(SentKeys *s)
{
	if (s->slots != NULL)
		memset(s->slots, 0, (s->mask + 1) * sizeof(SentKey));
	s->count = 0;
}

void
sent_keys_free(SentKeys *s)
{
	free(s->slots);
	s->slots = NULL;
	s->mask = 0;
	s->count = 0;
}
