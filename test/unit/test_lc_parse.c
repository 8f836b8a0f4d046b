/*
 * test_lc_parse.c
 *		Unit tests of the light-curve text parser kernel, without a server.
 *		Prints TAP; exits non-zero when a check fails.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_host_test.h"
#include "lc_parse.h"
#include "tap.h"

/* The parser's memory (an over-long number's copy) and polls count here. */
static TestHost host_counts;
static const KernelHost host = {test_host_alloc, test_host_free, test_host_interrupted,
&host_counts};


/*
 * Records every callback as text, in the order they come, e.g.
 * "h1:ID=152926;r6:56254.16|i|6.53|4.92;", and the parsed numbers of the
 * rows.  Also checks that every field points into the parsed buffer.
 */
#define MAX_ROWS 64

typedef struct Recorder
{
	const char *buf;
	size_t		len;
	char		log[8192];
	size_t		used;
	int			nheaders;
	int			nrows;
	double		t[MAX_ROWS];
	double		flux[MAX_ROWS];
	double		dflux[MAX_ROWS];
	int			fields_inside;	/* every field lies within [buf, buf + len) */
	int			stop_at_row;	/* return non-zero from the row callback N (1-based) */
	int			stop_at_header; /* likewise for the header callback */
} Recorder;

static void
rec_init(Recorder *r, const char *buf, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
	r->fields_inside = 1;
}

static void
rec_append(Recorder *r, const char *fmt, long lineno, LcField a, LcField b,
		   LcField c, LcField d)
{
	int			n;

	if (r->used >= sizeof(r->log))
		return;
	n = snprintf(r->log + r->used, sizeof(r->log) - r->used, fmt, lineno,
				 (int) a.len, a.ptr, (int) b.len, b.ptr,
				 (int) c.len, c.ptr, (int) d.len, d.ptr);
	if (n > 0)
		r->used += (size_t) n;
}

static int
field_inside(const Recorder *r, LcField f)
{
	return f.ptr >= r->buf && f.len <= r->len &&
		(size_t) (f.ptr - r->buf) <= r->len - f.len;
}

static int
on_header(void *arg, long lineno, LcField key, LcField value)
{
	Recorder   *r = arg;
	LcField		none = {"", 0};

	r->nheaders++;
	if (!field_inside(r, key) || !field_inside(r, value))
		r->fields_inside = 0;
	rec_append(r, "h%ld:%.*s=%.*s;%.*s%.*s", lineno, key, value, none, none);
	return r->stop_at_header == r->nheaders;
}

static int
on_row(void *arg, const LcRow *row)
{
	Recorder   *r = arg;

	if (r->nrows < MAX_ROWS)
	{
		r->t[r->nrows] = row->t;
		r->flux[r->nrows] = row->flux;
		r->dflux[r->nrows] = row->dflux;
	}
	r->nrows++;
	if (!field_inside(r, row->pb) || !field_inside(r, row->t_text) ||
		!field_inside(r, row->flux_text) || !field_inside(r, row->dflux_text) ||
		row->pb.len == 0 || row->t_text.len == 0)
		r->fields_inside = 0;
	rec_append(r, "r%ld:%.*s|%.*s|%.*s|%.*s;", row->lineno, row->t_text,
			   row->pb, row->flux_text, row->dflux_text);
	return r->stop_at_row == r->nrows;
}

static LcParseErrorKind
parse_rec(const char *buf, size_t len, Recorder *r, LcParseError *err)
{
	LcParseCallbacks cb = {on_header, on_row, NULL};

	rec_init(r, buf, len);
	cb.arg = r;
	return lc_parse(buf, len, &cb, &host, err);
}

/* Parses a NUL-terminated string and formats its error, with and without a file. */
static LcParseErrorKind
parse_str(const char *s, LcParseError *err, char *msg, char *fmsg)
{
	Recorder	r;
	LcParseErrorKind rc = parse_rec(s, strlen(s), &r, err);

	lc_parse_format_error(err, NULL, msg, 512);
	lc_parse_format_error(err, "x.dat", fmsg, 512);
	return rc;
}

static const char *const dsfp =
"#ID:152926\n"
"#orig_file:/a/b:c.DAT\n"
"# a comment without a colon\n"
"#  z :  y : w  \n"
"\n"
"\t  t   pb  flux  dflux\n"
"  56254.16   i  6.53  4.92\n"
"# between rows: x\n"
"\n"
"56254.17 g -1.5e-3 0x1p-2\n"
"56255 Y_long 0 1e-310";

static void
test_normal_file(void)
{
	Recorder	r;
	LcParseError err;
	LcParseErrorKind rc = parse_rec(dsfp, strlen(dsfp), &r, &err);

	check(rc == LC_PARSE_OK && err.kind == LC_PARSE_OK && err.lineno == 0 &&
		  err.message[0] == '\0', "DSFP file: ok, error cleared");
	check(strcmp(r.log,
				 "h1:ID=152926;"
				 "h2:orig_file=/a/b:c.DAT;"
				 "h4:z=y : w;"
				 "r7:56254.16|i|6.53|4.92;"
				 "h8:between rows=x;"
				 "r10:56254.17|g|-1.5e-3|0x1p-2;"
				 "r11:56255|Y_long|0|1e-310;") == 0,
		  "headers trimmed, value keeps colons, callbacks in input order");
	check(r.nheaders == 4 && r.nrows == 3, "four header lines, three rows");
	check(r.t[0] == 56254.16 && r.flux[0] == 6.53 && r.dflux[0] == 4.92,
		  "row 1: exact doubles");
	check(r.t[1] == 56254.17 && r.flux[1] == -1.5e-3 && r.dflux[1] == 0.25,
		  "row 2: exponent and hex float");
	check(r.t[2] == 56255.0 && r.flux[2] == 0.0 && r.dflux[2] == 1e-310 &&
		  r.dflux[2] > 0, "row 3: zero and a denormal are accepted");
	check(r.fields_inside, "fields point into the input buffer");
	check(host_counts.polls == 0, "short input (the first parse here): the host is not polled");
}

static void
test_column_order(void)
{
	const char *s =
	"dflux extra flux pb t\n"
	"0.5 ignored 2.25 r 100.5\n"
	"0.25 nan 3 g 101\n";
	Recorder	r;
	LcParseError err;

	check(parse_rec(s, strlen(s), &r, &err) == LC_PARSE_OK,
		  "columns in another order, extra column: ok");
	check(strcmp(r.log, "r2:100.5|r|2.25|0.5;r3:101|g|3|0.25;") == 0 &&
		  r.t[0] == 100.5 && r.flux[0] == 2.25 && r.dflux[0] == 0.5 &&
		  r.t[1] == 101 && r.flux[1] == 3 && r.dflux[1] == 0.25,
		  "fields mapped by name; the extra column (even \"nan\") is ignored");
}

static void
test_crlf(void)
{
	const char *s =
	"#ID : 7 \r\n"
	"t pb flux dflux\r\n"
	"\r\n"
	"1.5 g 2 3\r\n"
	"# note\r\n"
	"2.5 r 4 5\r\n";
	Recorder	r;
	LcParseError err;

	check(parse_rec(s, strlen(s), &r, &err) == LC_PARSE_OK &&
		  strcmp(r.log, "h1:ID=7;r4:1.5|g|2|3;r6:2.5|r|4|5;") == 0 &&
		  r.dflux[1] == 5.0, "CRLF line endings: '\\r' is whitespace");
}

static void
test_no_rows(void)
{
	const char *s = "#ID:1\n  t pb flux dflux  \n\n# done\n";
	Recorder	r;
	LcParseError err;

	check(parse_rec(s, strlen(s), &r, &err) == LC_PARSE_OK && r.nrows == 0 &&
		  strcmp(r.log, "h1:ID=1;") == 0, "header row without data rows: ok, zero rows");
	check(lc_parse("t pb flux dflux", 15, NULL, &host, &err) == LC_PARSE_OK,
		  "header row only, no newline, no callbacks: ok");
}

/* One error case: kind, line, and the exact formatted texts. */
static void
expect_error(const char *input, size_t len, LcParseErrorKind kind, long lineno,
			 const char *msg, const char *fmsg, const char *what)
{
	Recorder	r;
	LcParseError err;
	char		got[512];
	char		fgot[512];
	char		label[256];
	LcParseErrorKind rc = parse_rec(input, len, &r, &err);
	size_t		n1 = lc_parse_format_error(&err, NULL, got, sizeof(got));
	size_t		n2 = lc_parse_format_error(&err, "x.dat", fgot, sizeof(fgot));

	snprintf(label, sizeof(label), "%s: kind and line %ld", what, lineno);
	check(rc == kind && err.kind == kind && err.lineno == lineno, label);
	snprintf(label, sizeof(label), "%s: message \"%s\"", what, msg);
	check(strcmp(got, msg) == 0 && n1 == strlen(msg), label);
	if (strcmp(got, msg) != 0)
		printf("#   got \"%s\"\n", got);
	snprintf(label, sizeof(label), "%s: with a file name", what);
	check(strcmp(fgot, fmsg) == 0 && n2 == strlen(fmsg), label);
	if (strcmp(fgot, fmsg) != 0)
		printf("#   got \"%s\"\n", fgot);
}

#define EXPECT(input, kind, lineno, msg, fmsg, what) \
	expect_error(input, sizeof(input) - 1, kind, lineno, msg, fmsg, what)

static void
test_errors(void)
{
	EXPECT("#ID:1\nt pb flux dflux\n1 g 2 3\n\n# c\n1 g 2\n",
		   LC_PARSE_MALFORMED_LINE, 6,
		   "light curve line 6: expected 4 fields, found 3",
		   "light curve file \"x.dat\" line 6: expected 4 fields, found 3",
		   "short row");
	EXPECT("t pb flux dflux extra\n1 g 2 3 4 5\n",
		   LC_PARSE_MALFORMED_LINE, 2,
		   "light curve line 2: expected 5 fields, found 6",
		   "light curve file \"x.dat\" line 2: expected 5 fields, found 6",
		   "long row");
	EXPECT("\n t pb flux t dflux\n",
		   LC_PARSE_MALFORMED_LINE, 2,
		   "light curve line 2: duplicate column \"t\" in the column header row",
		   "light curve file \"x.dat\" line 2: duplicate column \"t\" in the column header row",
		   "duplicate column");
	EXPECT("t pb flux\n1 g 2\n",
		   LC_PARSE_MISSING_COLUMN, 1,
		   "light curve line 1: missing column \"dflux\" in the column header row",
		   "light curve file \"x.dat\" line 1: missing column \"dflux\" in the column header row",
		   "missing column dflux");
	EXPECT("#x:y\nT PB FLUX DFLUX\n",
		   LC_PARSE_MISSING_COLUMN, 2,
		   "light curve line 2: missing column \"t\" in the column header row",
		   "light curve file \"x.dat\" line 2: missing column \"t\" in the column header row",
		   "column names are case-sensitive");
	EXPECT("t pb flux dflux\n1 g abc 3\n",
		   LC_PARSE_INVALID_VALUE, 2,
		   "light curve line 2: invalid number \"abc\" in column \"flux\"",
		   "light curve file \"x.dat\" line 2: invalid number \"abc\" in column \"flux\"",
		   "non-numeric value");
	EXPECT("t pb flux dflux\n1 g 2 3.5e\n",
		   LC_PARSE_INVALID_VALUE, 2,
		   "light curve line 2: invalid number \"3.5e\" in column \"dflux\"",
		   "light curve file \"x.dat\" line 2: invalid number \"3.5e\" in column \"dflux\"",
		   "partly numeric value");
	EXPECT("t pb flux dflux\n1\x01\xc3\xa9 g 2 3\n",
		   LC_PARSE_INVALID_VALUE, 2,
		   "light curve line 2: invalid number \"1???\" in column \"t\"",
		   "light curve file \"x.dat\" line 2: invalid number \"1???\" in column \"t\"",
		   "non-printable bytes quoted as '?'");
	EXPECT("t pb flux dflux\n1 g 2 3\nnan g 2 3\n",
		   LC_PARSE_INVALID_VALUE, 3,
		   "light curve line 3: non-finite value \"nan\" in column \"t\"",
		   "light curve file \"x.dat\" line 3: non-finite value \"nan\" in column \"t\"",
		   "NaN");
	EXPECT("t pb flux dflux\n1 g -Infinity 3\n",
		   LC_PARSE_INVALID_VALUE, 2,
		   "light curve line 2: non-finite value \"-Infinity\" in column \"flux\"",
		   "light curve file \"x.dat\" line 2: non-finite value \"-Infinity\" in column \"flux\"",
		   "-Infinity");
	EXPECT("t pb flux dflux\n1 g 2 inf\n",
		   LC_PARSE_INVALID_VALUE, 2,
		   "light curve line 2: non-finite value \"inf\" in column \"dflux\"",
		   "light curve file \"x.dat\" line 2: non-finite value \"inf\" in column \"dflux\"",
		   "inf");
	EXPECT("t pb flux dflux\n1 g 2 1e999\n",
		   LC_PARSE_OUT_OF_RANGE, 2,
		   "light curve line 2: value \"1e999\" in column \"dflux\" is out of range for type double precision",
		   "light curve file \"x.dat\" line 2: value \"1e999\" in column \"dflux\" is out of range for type double precision",
		   "overflow 1e999");
	EXPECT("t pb flux dflux\n1 g -1e-999 3\n",
		   LC_PARSE_OUT_OF_RANGE, 2,
		   "light curve line 2: value \"-1e-999\" in column \"flux\" is out of range for type double precision",
		   "light curve file \"x.dat\" line 2: value \"-1e-999\" in column \"flux\" is out of range for type double precision",
		   "underflow to zero -1e-999");
	EXPECT("",
		   LC_PARSE_EMPTY_INPUT, 0,
		   "light curve: input is empty",
		   "light curve file \"x.dat\": input is empty",
		   "empty input");
	EXPECT(" \t\r\n\n  \r\n\v\f",
		   LC_PARSE_EMPTY_INPUT, 0,
		   "light curve: input is empty",
		   "light curve file \"x.dat\": input is empty",
		   "whitespace-only input");
	EXPECT("#ID:1\n# comment\n\n",
		   LC_PARSE_EMPTY_INPUT, 0,
		   "light curve: no column header row",
		   "light curve file \"x.dat\": no column header row",
		   "header lines only");
	EXPECT("t pb flux dflux\n1 g 2 3\n# x\0y\n",
		   LC_PARSE_MALFORMED_LINE, 3,
		   "light curve line 3: unexpected NUL byte",
		   "light curve file \"x.dat\" line 3: unexpected NUL byte",
		   "NUL byte in a comment line");
	EXPECT("\0",
		   LC_PARSE_MALFORMED_LINE, 1,
		   "light curve line 1: unexpected NUL byte",
		   "light curve file \"x.dat\" line 1: unexpected NUL byte",
		   "lone NUL byte");
	EXPECT("t pb flux dflux\n1 g 2 3\n\n\n\0",
		   LC_PARSE_MALFORMED_LINE, 5,
		   "light curve line 5: unexpected NUL byte",
		   "light curve file \"x.dat\" line 5: unexpected NUL byte",
		   "NUL byte after the last newline");

	/* Callbacks run for the lines before the error, none after. */
	{
		const char *s = "#a:1\nt pb flux dflux\n1 g 2 3\n2 g x 3\n#b:2\n3 g 2 3\n";
		Recorder	r;
		LcParseError err;

		check(parse_rec(s, strlen(s), &r, &err) == LC_PARSE_INVALID_VALUE &&
			  strcmp(r.log, "h1:a=1;r3:1|g|2|3;") == 0,
			  "callbacks ran for the lines before the error only");
	}
}

static void
test_format_error(void)
{
	LcParseError err;
	char		out[16];
	char		msg[512],
				fmsg[512];
	size_t		n;

	parse_str("t pb flux dflux\n1 g 2\n", &err, msg, fmsg);
	memset(out, 'Z', sizeof(out));
	n = lc_parse_format_error(&err, NULL, out, 10);
	check(n == strlen("light curve line 2: expected 4 fields, found 3") &&
		  strcmp(out, "light cur") == 0 && out[10] == 'Z',
		  "format_error truncates like snprintf and returns the full length");
	check(lc_parse_format_error(&err, "x.dat", NULL, 0) == strlen(fmsg),
		  "format_error with outsize 0 only measures");
}

static void
test_long_numbers(void)
{
	char		field[300];
	char		line[400];
	Recorder	r;
	LcParseError err;
	char		msg[512],
				fmsg[512];
	static const size_t lens[] = {62, 63, 64, 65, 250};
	int			ok = 1;

	/* "000...01.25" of several lengths around the 64-byte stack buffer */
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
	{
		size_t		n = lens[i];

		memset(field, '0', n - 4);
		memcpy(field + n - 4, "1.25", 4);
		field[n] = '\0';
		snprintf(line, sizeof(line), "t pb flux dflux\n1 g %s 3\n", field);
		if (parse_rec(line, strlen(line), &r, &err) != LC_PARSE_OK ||
			r.nrows != 1 || r.flux[0] != 1.25)
			ok = 0;
	}
	check(ok, "number fields of 62, 63, 64, 65 and 250 bytes parse exactly");
	check(host_counts.live == 0, "the copies of long fields are returned to the host");
	host_counts.calls = 0;
	host_counts.fail_at = 1;
	ok = parse_rec(line, strlen(line), &r, &err) == LC_PARSE_OUT_OF_MEMORY &&
		host_counts.calls == 1 && err.lineno == 2;
	host_counts.fail_at = 0;
	check(ok && host_counts.live == 0, "no memory for the copy of a long field: out of memory");

	/* an over-long invalid field is quoted cut to 40 bytes plus "..." */
	memset(field, '7', 100);
	field[100] = '\0';
	field[50] = 'x';
	snprintf(line, sizeof(line), "t pb flux dflux\n1 g 2 %s\n", field);
	parse_str(line, &err, msg, fmsg);
	check(err.kind == LC_PARSE_INVALID_VALUE && err.lineno == 2 &&
		  strcmp(msg, "light curve line 2: invalid number "
				 "\"7777777777777777777777777777777777777777...\" in column \"dflux\"") == 0,
		  "over-long invalid field: quoted excerpt cut to 40 bytes");

	/* a 100-byte overflow in the malloc'd path */
	memset(field, '9', 100);
	memcpy(field + 95, "e9999", 5);
	field[100] = '\0';
	snprintf(line, sizeof(line), "t pb flux dflux\n%s g 2 3\n", field);
	check(parse_str(line, &err, msg, fmsg) == LC_PARSE_OUT_OF_RANGE &&
		  err.lineno == 2, "over-long overflowing field: out of range");

	/* an over-long column header field and pb field are fine */
	memset(field, 'p', 200);
	field[200] = '\0';
	snprintf(line, sizeof(line), "t pb flux dflux\n1 %s 2 3\n", field);
	check(parse_rec(line, strlen(line), &r, &err) == LC_PARSE_OK && r.nrows == 1,
		  "200-byte pb field returned as written");
}

/*
 * The buffer need not be NUL-terminated: parse prefixes of a larger buffer
 * whose following bytes would change the result if the parser read them.
 * Each prefix is also copied to a heap block of exactly its size, so that
 * valgrind or AddressSanitizer would see a read past its end.
 */
static LcParseErrorKind
parse_prefix(const char *big, size_t len, Recorder *r, LcParseError *err)
{
	char	   *copy = malloc(len ? len : 1);
	LcParseErrorKind rc,
				rc2;
	Recorder	r2;
	LcParseError err2;

	if (copy == NULL)
		abort();
	memcpy(copy, big, len);
	rc2 = parse_rec(copy, len, &r2, &err2);
	free(copy);
	rc = parse_rec(big, len, r, err);
	if (rc != rc2 || strcmp(r->log, r2.log) != 0 || err->lineno != err2.lineno ||
		strcmp(err->message, err2.message) != 0)
		return (LcParseErrorKind) -1;
	return rc;
}

static void
test_not_terminated(void)
{
	static const char big[] =
	"#ID:12" "34\n"
	"t pb flux dflux\n"
	"1 g 2 3" "e999\n"
	"5 g 6 7";
	static const char wide[] = "t pb flux dflux" " extra\n1 g 2 3 4\n";
	const size_t id_end = 6;	/* "#ID:12" */
	const size_t row_end = 9 + 16 + 7;	/* "... 1 g 2 3" */
	Recorder	r;
	LcParseError err;
	char		nul_after[] = "t pb flux dflux\n1 g 2 3\0\0";
	char		no_colon[] = "#ID:x\nt pb flux dflux\n";

	check(parse_prefix(big, id_end, &r, &err) == LC_PARSE_EMPTY_INPUT &&
		  strcmp(r.log, "h1:ID=12;") == 0,
		  "prefix ending mid-header-line: value cut at len");
	check(parse_prefix(big, row_end, &r, &err) == LC_PARSE_OK &&
		  strcmp(r.log, "h1:ID=1234;r3:1|g|2|3;") == 0 && r.dflux[0] == 3.0,
		  "prefix ending mid-number: 3, not 3e999");
	check(parse_prefix(wide, 15, &r, &err) == LC_PARSE_OK && r.nrows == 0,
		  "prefix ending mid-column-header: 4 columns, not 5");
	check(parse_prefix(nul_after, strlen(nul_after), &r, &err) == LC_PARSE_OK &&
		  r.nrows == 1, "NUL bytes after len are not seen");
	check(parse_prefix(no_colon, 3, &r, &err) == LC_PARSE_EMPTY_INPUT &&
		  r.nheaders == 0 && strcmp(err.message, "no column header row") == 0,
		  "prefix \"#ID\": the ':' after len is not seen, a comment");
	check(parse_prefix(big, 0, &r, &err) == LC_PARSE_EMPTY_INPUT,
		  "len 0 of a non-empty buffer: empty input");
}

static void
test_stop(void)
{
	const char *s = "#a:1\nt pb flux dflux\n1 g 2 3\n#b:2\n2 g 2 3\n3 g 2 3\n";
	Recorder	r;
	LcParseCallbacks cb = {on_header, on_row, NULL};
	LcParseError err;
	LcParseErrorKind rc;

	rec_init(&r, s, strlen(s));
	r.stop_at_row = 2;
	cb.arg = &r;
	rc = lc_parse(s, strlen(s), &cb, &host, &err);
	check(rc == LC_PARSE_STOPPED && err.kind == LC_PARSE_STOPPED && err.lineno == 5 &&
		  strcmp(r.log, "h1:a=1;r3:1|g|2|3;h4:b=2;r5:2|g|2|3;") == 0,
		  "row callback returning non-zero stops at its line");

	rec_init(&r, s, strlen(s));
	r.stop_at_header = 2;
	rc = lc_parse(s, strlen(s), &cb, &host, &err);
	check(rc == LC_PARSE_STOPPED && err.lineno == 4 &&
		  strcmp(r.log, "h1:a=1;r3:1|g|2|3;h4:b=2;") == 0,
		  "header callback returning non-zero stops at its line");

	/* NULL callbacks, or no callback struct: the input is still validated */
	{
		LcParseCallbacks none = {NULL, NULL, NULL};
		const char *bad = "t pb flux dflux\n1 g 2 3\n1 g 2 x\n";

		check(lc_parse(s, strlen(s), &none, &host, &err) == LC_PARSE_OK &&
			  lc_parse(bad, strlen(bad), &none, &host, &err) == LC_PARSE_INVALID_VALUE &&
			  err.lineno == 3 &&
			  lc_parse(bad, strlen(bad), NULL, &host, &err) == LC_PARSE_INVALID_VALUE &&
			  err.lineno == 3, "NULL callbacks: the whole input is still validated");
	}
}

/* The host is polled every KERNEL_POLL_UNITS lines, and its stop ends the parse. */
static void
test_host_polls(void)
{
	const char *head = "t pb flux dflux\n";
	const char *row = "1 g 2 3\n";
	size_t		nrows = 3 * KERNEL_POLL_UNITS + 1000;
	size_t		len = strlen(head) + nrows * strlen(row);
	char	   *buf = malloc(len);
	char	   *p = buf;
	Recorder	r;
	LcParseError err;

	if (buf == NULL)
		abort();
	memcpy(p, head, strlen(head));
	p += strlen(head);
	for (size_t i = 0; i < nrows; i++, p += strlen(row))
		memcpy(p, row, strlen(row));

	host_counts.polls = 0;
	check(parse_rec(buf, len, &r, &err) == LC_PARSE_OK && r.nrows == (int) nrows &&
		  host_counts.polls == 3, "3 * 65536 + 1001 lines: the host polled 3 times");

	host_counts.polls = 0;
	host_counts.stop_at = 2;
	check(parse_rec(buf, len, &r, &err) == LC_PARSE_INTERRUPTED &&
		  err.kind == LC_PARSE_INTERRUPTED && err.lineno == 2 * KERNEL_POLL_UNITS &&
		  r.nrows == 2 * KERNEL_POLL_UNITS - 2,
		  "the host's stop ends the parse before that line: LC_PARSE_INTERRUPTED");
	host_counts.stop_at = 0;

	/* blank and comment lines count */
	memset(buf, '\n', len);
	for (size_t i = 0; i < 3000; i++)
		memcpy(buf + 2 * i, "#\n", 2);
	memcpy(buf + len - 24, "t pb flux dflux\n1 g 2 3\n", 24);
	host_counts.polls = 0;
	check(parse_rec(buf, len, &r, &err) == LC_PARSE_OK && r.nrows == 1 &&
		  host_counts.polls >= 1, "blank and comment lines count towards the polls");
	free(buf);
}

/* Deterministic xorshift32, independent of the C library's rand(). */
static unsigned int fuzz_state = 2463534242u;

static unsigned int
fuzz_next(void)
{
	fuzz_state ^= fuzz_state << 13;
	fuzz_state ^= fuzz_state >> 17;
	fuzz_state ^= fuzz_state << 5;
	return fuzz_state;
}

static void
test_fuzz(void)
{
	static const char palette[] = "\n\n  \t\r#:0123456789.eE+-xpnaif gtb";
	const size_t base_len = strlen(dsfp);
	char		work[1024];
	int			iterations = 5000;
	int			ok_rc = 1,
				ok_msg = 1,
				ok_line = 1,
				ok_fields = 1,
				ok_same = 1;
	int			n_ok = 0,
				n_err = 0;

	for (int it = 0; it < iterations; it++)
	{
		size_t		len = base_len;
		int			nmut = 1 + (int) (fuzz_next() % 8);
		char	   *copy;
		Recorder	r;
		LcParseError err,
					err2;
		LcParseErrorKind rc,
					rc2;
		long		nlines = 1;
		char		msg[512];

		memcpy(work, dsfp, base_len);
		for (int m = 0; m < nmut; m++)
		{
			unsigned int op = fuzz_next() % 3;
			size_t		pos = len ? fuzz_next() % (len + 1) : 0;
			char		c = (fuzz_next() % 4 == 0) ? (char) (fuzz_next() & 0xff) :
			palette[fuzz_next() % (sizeof(palette) - 1)];

			if (op == 0 && len < sizeof(work))
			{
				memmove(work + pos + 1, work + pos, len - pos);
				work[pos] = c;
				len++;
			}
			else if (op == 1 && pos < len)
			{
				memmove(work + pos, work + pos + 1, len - pos - 1);
				len--;
			}
			else if (pos < len)
				work[pos] = c;
		}
		/* an exact-size heap copy: a read past len is a detectable error */
		copy = malloc(len ? len : 1);
		if (copy == NULL)
			abort();
		memcpy(copy, work, len);
		for (size_t i = 0; i < len; i++)
			nlines += copy[i] == '\n';

		rc = parse_rec(copy, len, &r, &err);
		rc2 = lc_parse(copy, len, NULL, &host, &err2);

		if (rc == LC_PARSE_OK)
		{
			n_ok++;
			if (err.kind != LC_PARSE_OK || err.message[0] != '\0')
				ok_msg = 0;
		}
		else
		{
			n_err++;
			if (rc < LC_PARSE_MALFORMED_LINE || rc > LC_PARSE_OUT_OF_MEMORY)
				ok_rc = 0;
			if (err.kind != rc || err.message[0] == '\0' ||
				strlen(err.message) >= LC_PARSE_MESSAGE_SIZE ||
				lc_parse_format_error(&err, "f", msg, sizeof(msg)) != strlen(msg) ||
				strlen(msg) <= strlen(err.message))
				ok_msg = 0;
			if (err.lineno < 0 || err.lineno > nlines ||
				(err.lineno == 0) != (rc == LC_PARSE_EMPTY_INPUT))
				ok_line = 0;
		}
		if (!r.fields_inside)
			ok_fields = 0;
		if (rc != rc2 || err.lineno != err2.lineno ||
			strcmp(err.message, err2.message) != 0)
			ok_same = 0;
		free(copy);
	}
	printf("# fuzz: %d mutated inputs, %d ok, %d errors\n", iterations, n_ok, n_err);
	check(ok_rc, "fuzz: always OK or an error kind other than STOPPED");
	check(ok_msg, "fuzz: an error always has a non-empty message, OK an empty one");
	check(ok_line, "fuzz: error line within the input, 0 only for empty input");
	check(ok_fields, "fuzz: every returned field lies within the buffer");
	check(ok_same, "fuzz: same result with and without callbacks");
	check(n_ok > 0 && n_err > 0, "fuzz: mutations produce both outcomes");
}

int
main(void)
{
	test_normal_file();
	test_column_order();
	test_crlf();
	test_no_rows();
	test_errors();
	test_format_error();
	test_long_numbers();
	test_not_terminated();
	test_stop();
	test_host_polls();
	test_fuzz();
	return tap_done();
}
