/*
 * test_alert_copy.c
 *		What the alert clients share (bin/alert_copy.c): a point's COPY text
 *		line, and the set of point keys sent -- which points it lets through,
 *		the lowest alert_id it keeps, its merge (the stream consumer's keys of
 *		a committed batch) and its emptying at the limit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alert_copy.h"
#include "tap.h"

const char	progname[] = "test_alert_copy";

static AlertPoint
point(int64_t objid, AlertKind kind, int64_t source_id, int64_t alert_id)
{
	AlertPoint	p = {ALERT_RUBIN, kind, alert_id, objid, "", source_id, 60000.5, 'g', 1234.5, 6.25,
	NAN, -12.5};

	return p;
}

static void
test_format(void)
{
	Buffer		b = {0};
	AlertPoint	p = point(42, ALERT_HISTORY, 4200003, 4200007);

	format_point(&b, &p);
	buf_append(&b, "", 1);
	check(strcmp(b.data, "42\t60000.5\tg\t1234.5\t6.25\tdetection\t4200003\t4200007\t\\N\t-12.5\n") == 0,
		  "a history point's line: its stored kind detection, NaN ra as \\N, the columns in ALERT_COLUMNS' order");
	b.len = 0;
	p = point(1, ALERT_UPPER_LIMIT, 7, 9);
	p.flux = 0.1;
	format_point(&b, &p);
	buf_append(&b, "", 1);
	check(strstr(b.data, "\t0.10000000000000001\t") != NULL && strstr(b.data, "\tupper_limit\t") != NULL,
		  "doubles with 17 digits (they survive the text round trip); upper_limit kept");
	b.len = 0;
	/* the binary row: 10 fields, big-endian, ra NULL (length -1) */
	p = point(42, ALERT_HISTORY, 4200003, 4200007);
	format_point_binary(&b, &p);
	{
		static const unsigned char objid[] = {0, 10, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 42};
		static const unsigned char mjd[] = {0, 0, 0, 8, 0x40, 0xed, 0x4c, 0x10, 0, 0, 0, 0};	/* 60000.5 */
		static const unsigned char band[] = {0, 0, 0, 1, 'g'};
		static const unsigned char kind[] = {0, 0, 0, 9, 'd', 'e', 't', 'e', 'c', 't', 'i', 'o', 'n'};
		static const unsigned char ra_null[] = {0xff, 0xff, 0xff, 0xff};
		const unsigned char *row = (const unsigned char *) b.data;
		size_t		kind_at = sizeof(objid) + sizeof(mjd) + sizeof(band) + 2 * 12;
		size_t		ra_at = kind_at + sizeof(kind) + 2 * 12;

		check(b.len == ra_at + 4 + 12 && memcmp(row, objid, sizeof(objid)) == 0 &&
			  memcmp(row + sizeof(objid), mjd, sizeof(mjd)) == 0 &&
			  memcmp(row + sizeof(objid) + sizeof(mjd), band, sizeof(band)) == 0 &&
			  memcmp(row + kind_at, kind, sizeof(kind)) == 0 && memcmp(row + ra_at, ra_null, 4) == 0,
			  "a binary row: 10 fields in ALERT_COLUMNS' order, int8 and float8 big-endian, the stored kind, NaN ra NULL");
	}
	check(memcmp(copy_binary_header, "PGCOPY\n\377\r\n\0", 11) == 0 &&
		  memcmp(copy_binary_trailer, "\377\377", 2) == 0, "COPY's binary header and trailer");
	free(b.data);
}

static void
test_sent_keys(void)
{
	SentKeys	s = {.limit = SENT_KEYS_LIMIT};
	SentKeys	batch = {.limit = SIZE_MAX};
	AlertPoint	det = point(5, ALERT_DETECTION, 500001, 500001);
	AlertPoint	hist = point(5, ALERT_HISTORY, 500001, 500002);
	AlertPoint	forced = point(5, ALERT_FORCED, 500001, 500002);
	AlertPoint	earlier = point(5, ALERT_HISTORY, 500001, 400000);
	int			all = 1;

	check(!sent_keys_covers(&s, &det), "an empty set covers nothing");
	check(sent_keys_add(&s, &det), "a new key is sent");
	check(!sent_keys_add(&s, &hist) && sent_keys_covers(&s, &hist),
		  "its history repeat (a later alert) is not: history is stored as the detection");
	check(sent_keys_add(&s, &forced), "the same source_id as a forced point is another key");
	check(!sent_keys_covers(&s, &earlier) && sent_keys_add(&s, &earlier),
		  "a repeat from an earlier alert (lower alert_id) is sent again");
	check(sent_keys_covers(&s, &det) && !sent_keys_add(&s, &det),
		  "then the lower alert_id is kept: the first one is covered");
	check(s.count == 2, "two keys held");

	/* the consumer: a batch's keys go into the committed set only once it commits */
	for (int i = 0; i < 5000; i++)
	{
		AlertPoint	p = point(1000 + i, ALERT_DETECTION, i, 10 + i);

		all &= sent_keys_add(&batch, &p);
	}
	check(all && batch.count == 5000, "5000 new keys in a batch's set (it grows)");
	sent_keys_merge(&s, &batch);
	all = 1;
	for (int i = 0; i < 5000; i++)
	{
		AlertPoint	p = point(1000 + i, ALERT_DETECTION, i, 10 + i);
		AlertPoint	lower = point(1000 + i, ALERT_DETECTION, i, 9 + i);

		all &= sent_keys_covers(&s, &p) && !sent_keys_covers(&s, &lower);
	}
	check(all && s.count == 5002, "merged: every key covered with its alert_id, none below it");
	sent_keys_clear(&batch);
	check(batch.count == 0 && !sent_keys_covers(&batch, &det), "a cleared set covers nothing");

	/* the limit: the set is emptied, and a key seen before is sent again */
	sent_keys_free(&s);
	s.limit = 3;
	for (int i = 0; i < 3; i++)
	{
		AlertPoint	p = point(7, ALERT_DETECTION, i, 100);

		sent_keys_add(&s, &p);
	}
	check(s.count == 3 && sent_keys_covers(&s, &det) == 0, "three keys, the limit");
	{
		AlertPoint	p = point(7, ALERT_DETECTION, 99, 100);
		AlertPoint	first = point(7, ALERT_DETECTION, 0, 100);

		check(sent_keys_add(&s, &p) && s.count == 1 && sent_keys_add(&s, &first),
			  "a fourth empties the set: a key seen before is sent again");
	}
	sent_keys_free(&s);
	s.limit = 0;
	check(sent_keys_add(&s, &det) && sent_keys_add(&s, &det) && !sent_keys_covers(&s, &det),
		  "limit 0: the set is off, every point is sent");
	sent_keys_free(&s);
	sent_keys_free(&batch);
}

int
main(void)
{
	test_format();
	test_sent_keys();
	return tap_done();
}
