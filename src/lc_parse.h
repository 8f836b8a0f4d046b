/*
 * lc_parse.h
 *		Light-curve text parser: a plain-C kernel, no PostgreSQL types, shared
 *		by the extension's SQL functions and the bin/antares_load client.
 *
 * Format (DSFP/SNANA text):
 *
 *	 #ID:152926					  header line: key and value, both trimmed
 *	 #orig_file:/a/b:c.DAT		  the value runs to the end of the line
 *	 # anything without a colon  comment line, ignored
 *				   t   pb  flux  dflux   column header row
 *	   56254.16   i  6.53  4.92    data rows
 *
 * Lines end with '\n' (a trailing '\r' is whitespace, so CRLF files parse);
 * fields are separated by runs of spaces, tabs, '\r', '\v' or '\f'.  A line
 * whose first non-blank character is '#' is a header line if it contains a
 * ':' and a comment otherwise, wherever it appears: before the table or
 * between its rows, so annotating a file never breaks it.  Blank lines are
 * skipped.  The first other line is the column header row: it must name the
 * columns t, pb, flux and dflux (case-sensitive, in any order, each once);
 * other names are allowed and their fields are ignored.  Every later line is
 * a data row with exactly as many fields as the column header row.  A table
 * with no data rows is a valid, empty light curve.
 *
 * t, flux and dflux are read with strtod() on the field, as float8 input
 * reads text: the whole field must be consumed (hex floats and denormals are
 * accepted); NaN and infinities are rejected (every consumer rejects them
 * and the line number is most useful here), and so are values strtod()
 * reports out of range (overflow, or underflow to zero), as float8 does.
 * strtod() follows LC_NUMERIC: the backend always runs with "C", and a
 * client must not change it.  pb is any field, returned as written.
 *
 * Cost: O(len) time; every byte is examined a bounded number of times (a
 * number field is copied once before strtod()).  Memory: O(1) -- nothing is
 * allocated except a temporary copy of a number field longer than 63 bytes
 * (from the host), released before any callback runs or the host is polled.
 * The parser therefore holds no resources then, and a callback or the
 * host's poll may leave by longjmp() (as the backend's ereport(ERROR) does).  The buffer need not be
 * NUL-terminated and is never read outside [buf, buf + len).  A NUL byte
 * anywhere is an error (text cannot hold one).
 */
#ifndef ANTARES_LC_PARSE_H
#define ANTARES_LC_PARSE_H

#include <stddef.h>

#include "kernel_host.h"

typedef enum LcParseErrorKind
{
	LC_PARSE_OK = 0,
	LC_PARSE_MALFORMED_LINE,	/* wrong field count, duplicate column, NUL */
	LC_PARSE_MISSING_COLUMN,	/* column header row lacks t, pb, flux or dflux */
	LC_PARSE_INVALID_VALUE,		/* non-numeric or non-finite t, flux, dflux */
	LC_PARSE_OUT_OF_RANGE,		/* strtod() overflow or underflow to zero */
	LC_PARSE_EMPTY_INPUT,		/* no column header row at all */
	LC_PARSE_OUT_OF_MEMORY,		/* copy of an over-long number field failed */
	LC_PARSE_STOPPED,			/* a callback returned non-zero */
	LC_PARSE_INTERRUPTED		/* the host said stop */
} LcParseErrorKind;

#define LC_PARSE_MESSAGE_SIZE 256

typedef struct LcParseError
{
	LcParseErrorKind kind;
	long		lineno;			/* 1-based; 0 when no line is to blame */
	char		message[LC_PARSE_MESSAGE_SIZE]; /* without the line number */
} LcParseError;

/* A field of the input: not NUL-terminated, points into the caller's buffer. */
typedef struct LcField
{
	const char *ptr;
	size_t		len;
} LcField;

typedef struct LcRow
{
	long		lineno;
	double		t;
	double		flux;
	double		dflux;
	LcField		pb;
	/* the numbers as written, e.g. to pass them on without reformatting */
	LcField		t_text;
	LcField		flux_text;
	LcField		dflux_text;
} LcRow;

/*
 * The sinks of what the parser finds: data, not host services, so they are
 * the parser's own and not the host's.  They return 0 to go on; anything
 * else stops the parse, which then returns LC_PARSE_STOPPED (the callback
 * keeps its own reason).  Any may be NULL; the whole input is validated
 * regardless.
 */
typedef int (*LcHeaderFn) (void *arg, long lineno, LcField key, LcField value);
typedef int (*LcRowFn) (void *arg, const LcRow *row);

typedef struct LcParseCallbacks
{
	LcHeaderFn	header;
	LcRowFn		row;
	void	   *arg;
} LcParseCallbacks;

/*
 * Parses buf[0..len-1], calling back in input order.  Returns LC_PARSE_OK,
 * or the kind of the first error, also stored in *err (cleared on success).
 * Callbacks have already run for the lines before the error.  host
 * (kernel_host.h) gives the copy of an over-long number field its memory,
 * and is polled once every KERNEL_POLL_UNITS lines, blank and comment lines
 * included (stop: LC_PARSE_INTERRUPTED).
 */
extern LcParseErrorKind lc_parse(const char *buf, size_t len,
								 const LcParseCallbacks *cb, const KernelHost *host,
								 LcParseError *err);

/*
 * Formats err as the one message every consumer reports:
 *	 light curve line 9: expected 4 fields, found 3
 *	 light curve file "x.dat" line 9: expected 4 fields, found 3
 *	 light curve: input is empty
 * filename may be NULL.  Like snprintf(), writes at most outsize bytes
 * (NUL included) and returns the length the whole message needs, so a
 * caller can retry with a larger buffer.
 */
extern size_t lc_parse_format_error(const LcParseError *err, const char *filename,
									char *out, size_t outsize);

#endif							/* ANTARES_LC_PARSE_H */
