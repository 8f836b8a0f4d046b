/*
 * alert_copy.h
 *		What the libpq clients that send alert points share (bin/antares_load,
 *		bin/antares_stream): the COPY text line and binary row of an
 *		AlertPoint, and the bounded set of point keys already sent.
 */
#ifndef ANTARES_ALERT_COPY_H
#define ANTARES_ALERT_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "alert_decode.h"
#include "cli.h"
#include "libpq-fe.h"

/* The alert points' columns, in the order format_point writes them. */
#define ALERT_COLUMNS "objid, t, pb, flux, dflux, kind, source_id, alert_id, ra, dec"
#define ALERT_COLUMN_TYPES "objid bigint, t float8, pb text, flux float8, dflux float8" \
	", kind text, source_id bigint, alert_id bigint, ra float8, dec float8"
#define ALERT_KEY "objid, kind, source_id"

/*
 * Appends one COPY text line of p in ALERT_COLUMNS' order: doubles with 17
 * significant digits (they survive the text round trip), NaN as NULL, the
 * stored kind (alert_stored_kind: history is the detection it repeats).
 */
extern void format_point(Buffer *out, const AlertPoint *p);

/*
 * The same row in COPY's binary format (COPY ... WITH (FORMAT binary)),
 * for a table of ALERT_COLUMN_TYPES exactly: numbers as they are, no text
 * to print or parse (in a profile of the stream consumer, printing doubles
 * took about as much of its CPU as decoding the packets).  The COPY data
 * is copy_binary_header, the rows, copy_binary_trailer.
 */
extern void format_point_binary(Buffer *out, const AlertPoint *p);

#define COPY_BINARY_HEADER_SIZE 19
#define COPY_BINARY_TRAILER_SIZE 2
extern const char copy_binary_header[COPY_BINARY_HEADER_SIZE];
extern const char copy_binary_trailer[COPY_BINARY_TRAILER_SIZE];

/* PQputCopyData takes an int length: sends data in pieces; 0, or -1. */
extern int	send_copy_data(PGconn *conn, const char *data, size_t len);

/*
 * The keys (objid, stored kind, source_id) of points sent, each with the
 * lowest alert_id sent with it; see alert_copy.c.
 */
typedef struct SentKey
{
	int64_t		objid;
	int64_t		source_id;
	int64_t		alert_id;		/* the lowest sent with this key */
	uint8_t		kind;			/* stored AlertKind + 1; 0: an empty slot */
} SentKey;

typedef struct SentKeys
{
	SentKey    *slots;
	size_t		mask;			/* number of slots - 1; slots NULL: 0 */
	size_t		count;
	size_t		limit;			/* emptied when count reaches it */
} SentKeys;

/* The default limit: 2^22 slots, 128 MB, at most. */
#define SENT_KEYS_LIMIT 3000000

/*
 * Whether point p must be sent: its key is new to s, or was sent with a
 * higher alert_id; either way s then holds p's key with p's alert_id.
 */
extern int	sent_keys_add(SentKeys *s, const AlertPoint *p);

/* Whether s holds p's key with an alert_id <= p's (p need not be sent). */
extern int	sent_keys_covers(const SentKeys *s, const AlertPoint *p);

/* Adds every key of from to into (keeping the lower alert_id of each). */
extern void sent_keys_merge(SentKeys *into, const SentKeys *from);

/* Forgets every key (keeps the array). */
extern void sent_keys_clear(SentKeys *s);

extern void sent_keys_free(SentKeys *s);

#endif							/* ANTARES_ALERT_COPY_H */
