/*
 * lc_parse.c
 *		Light-curve text parser kernel (see lc_parse.h for the format).
 *
 * Plain C: no PostgreSQL headers, no palloc, no ereport.  Errors come back
 * as an LcParseError that the caller turns into its own kind of report.
 */
#include "lc_parse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The four columns every light curve must have, in message order. */
enum
{
	COL_T, COL_PB, COL_FLUX, COL_DFLUX, NCOLS
};

static const char *const column_names[NCOLS] = {"t", "pb", "flux", "dflux"};

/* Where the four columns sit in a data row; filled from the header row. */
typedef struct ColumnMap
{
	long		index[NCOLS];
	long		nfields;
} ColumnMap;

/* Quoted excerpts of input in messages are cut to this many bytes. */
#define EXCERPT_MAX 40

/* Number fields up to this length are copied to the stack for strtod(). */
#define NUMBUF_SIZE 64

/*
 * Not isspace(): that follows the locale, and the format must not.  '\n'
 * is absent because lines are split before fields are.
 */
static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

#if defined(__GNUC__)
#define LC_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define LC_PRINTF_LIKE(f, a)
#endif

static LcParseErrorKind set_error(LcParseError *err, LcParseErrorKind kind,
								  long lineno, const char *fmt,...) LC_PRINTF_LIKE(4, 5);

static LcParseErrorKind
set_error(LcParseError *err, LcParseErrorKind kind, long lineno,
		  const char *fmt,...)
{
	va_list		ap;

	err->kind = kind;
	err->lineno = lineno;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return kind;
}

/*
 * Copies a field into out for quoting in a message.  Bytes outside printable
 * ASCII become '?': the message must be valid in any encoding even when the
 * excerpt cuts a multibyte character or the input is not text at all.
 */
static const char *
excerpt(LcField f, char *out)
{
	size_t		n = f.len < EXCERPT_MAX ? f.len : EXCERPT_MAX;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) f.ptr[i];

		out[i] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
	}
	if (f.len > EXCERPT_MAX)
	{
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

static int
field_is(LcField f, const char *name)
{
	size_t		n = strlen(name);

	return f.len == n && memcmp(f.ptr, name, n) == 0;
}

static LcField
trimmed(const char *start, const char *stop)
{
	LcField		f;

	while (start < stop && is_blank(*start))
		start++;
	while (stop > start && is_blank(stop[-1]))
		stop--;
	f.ptr = start;
	f.len = (size_t) (stop - start);
	return f;
}

/*
 * Returns the next field at or after *pos before stop, advancing *pos past
 * it; a field of length 0 means the line is exhausted.
 */
static LcField
next_field(const char **pos, const char *stop)
{
	const char *s = *pos;
	LcField		f;

	while (s < stop && is_blank(*s))
		s++;
	f.ptr = s;
	while (s < stop && !is_blank(*s))
		s++;
	f.len = (size_t) (s - f.ptr);
	*pos = s;
	return f;
}

/* Converts a t, flux or dflux field the way float8 input reads text. */
static LcParseErrorKind
parse_number(LcField f, int col, long lineno, double *out, const KernelHost *host,
			 LcParseError *err)
{
	char		stackbuf[NUMBUF_SIZE];
	char		quoted[EXCERPT_MAX + 4];
	char	   *copy = stackbuf;
	char	   *endp;
	int			consumed;
	int			range_error;
	double		val;

	/* strtod() wants a terminated string; the field is not one. */
	if (f.len >= sizeof(stackbuf))
	{
		copy = host_alloc(host, f.len + 1);
		if (copy == NULL)
			return set_error(err, LC_PARSE_OUT_OF_MEMORY, lineno,
							 "out of memory");
	}
	memcpy(copy, f.ptr, f.len);
	copy[f.len] = '\0';

	errno = 0;
	val = strtod(copy, &endp);
	consumed = (endp != copy && endp == copy + f.len);
	range_error = (errno == ERANGE);
	if (copy != stackbuf)
		host_free(host, copy);

	if (!consumed)
		return set_error(err, LC_PARSE_INVALID_VALUE, lineno,
						 "invalid number \"%s\" in column \"%s\"",
						 excerpt(f, quoted), column_names[col]);
	/* float8 input's rule: a denormal is fine, overflow or zero is not */
	if (range_error && (val == 0.0 || isinf(val)))
		return set_error(err, LC_PARSE_OUT_OF_RANGE, lineno,
						 "value \"%s\" in column \"%s\" is out of range for type double precision",
						 excerpt(f, quoted), column_names[col]);
	if (!isfinite(val))
		return set_error(err, LC_PARSE_INVALID_VALUE, lineno,
						 "non-finite value \"%s\" in column \"%s\"",
						 excerpt(f, quoted), column_names[col]);
	*out = val;
	return LC_PARSE_OK;
}

/* "#key:value" is a header; '#' without a ':' is a comment. */
static LcParseErrorKind
parse_header_line(const char *hash, const char *stop, long lineno,
				  const LcParseCallbacks *cb, LcParseError *err)
{
	const char *colon = memchr(hash + 1, ':', (size_t) (stop - (hash + 1)));

	if (colon == NULL || cb == NULL || cb->header == NULL)
		return LC_PARSE_OK;
	if (cb->header(cb->arg, lineno, trimmed(hash + 1, colon),
				   trimmed(colon + 1, stop)) != 0)
		return set_error(err, LC_PARSE_STOPPED, lineno, "stopped by the caller");
	return LC_PARSE_OK;
}

static LcParseErrorKind
parse_column_header(const char *s, const char *stop, long lineno,
					ColumnMap *map, LcParseError *err)
{
	LcField		f;
	char		quoted[EXCERPT_MAX + 4];
	int			col;

	for (col = 0; col < NCOLS; col++)
		map->index[col] = -1;
	map->nfields = 0;

	while ((f = next_field(&s, stop)).len > 0)
	{
		for (col = 0; col < NCOLS; col++)
		{
			if (!field_is(f, column_names[col]))
				continue;
			if (map->index[col] >= 0)
				return set_error(err, LC_PARSE_MALFORMED_LINE, lineno,
								 "duplicate column \"%s\" in the column header row",
								 excerpt(f, quoted));
			map->index[col] = map->nfields;
		}
		map->nfields++;
	}

	for (col = 0; col < NCOLS; col++)
		if (map->index[col] < 0)
			return set_error(err, LC_PARSE_MISSING_COLUMN, lineno,
							 "missing column \"%s\" in the column header row",
							 column_names[col]);
	return LC_PARSE_OK;
}

static LcParseErrorKind
parse_data_row(const char *s, const char *stop, long lineno,
			   const ColumnMap *map, const LcParseCallbacks *cb,
			   const KernelHost *host, LcParseError *err)
{
	LcField		fields[NCOLS] = {{0}};
	LcField		f;
	LcRow		row;
	long		nfields = 0;
	int			col;

	/* Count every field first: a short row is reported as such. */
	while ((f = next_field(&s, stop)).len > 0)
	{
		for (col = 0; col < NCOLS; col++)
			if (map->index[col] == nfields)
				fields[col] = f;
		nfields++;
	}
	if (nfields != map->nfields)
		return set_error(err, LC_PARSE_MALFORMED_LINE, lineno,
						 "expected %ld fields, found %ld",
						 map->nfields, nfields);

	row.lineno = lineno;
	row.pb = fields[COL_PB];
	row.t_text = fields[COL_T];
	row.flux_text = fields[COL_FLUX];
	row.dflux_text = fields[COL_DFLUX];
	if (parse_number(row.t_text, COL_T, lineno, &row.t, host, err) != LC_PARSE_OK ||
		parse_number(row.flux_text, COL_FLUX, lineno, &row.flux, host, err) != LC_PARSE_OK ||
		parse_number(row.dflux_text, COL_DFLUX, lineno, &row.dflux, host, err) != LC_PARSE_OK)
		return err->kind;

	if (cb != NULL && cb->row != NULL && cb->row(cb->arg, &row) != 0)
		return set_error(err, LC_PARSE_STOPPED, lineno, "stopped by the caller");
	return LC_PARSE_OK;
}

LcParseErrorKind
lc_parse(const char *buf, size_t len, const LcParseCallbacks *cb,
		 const KernelHost *host, LcParseError *err)
{
	const char *p = buf;
	const char *end = buf + len;
	long		lineno = 0;
	int			have_table = 0;
	int			have_header_lines = 0;
	ColumnMap	map = {{-1, -1, -1, -1}, 0};
	LcParseErrorKind rc;

	err->kind = LC_PARSE_OK;
	err->lineno = 0;
	err->message[0] = '\0';

	while (p < end)
	{
		const char *eol = memchr(p, '\n', (size_t) (end - p));
		const char *stop = eol ? eol : end;
		const char *s = p;

		lineno++;
		p = eol ? eol + 1 : end;

		if (host_poll_at(host, (size_t) lineno - 1))
			return set_error(err, LC_PARSE_INTERRUPTED, lineno, "interrupted");

		if (memchr(s, '\0', (size_t) (stop - s)) != NULL)
			return set_error(err, LC_PARSE_MALFORMED_LINE, lineno,
							 "unexpected NUL byte");
		while (s < stop && is_blank(*s))
			s++;
		if (s == stop)
			continue;

		if (*s == '#')
		{
			have_header_lines = 1;
			rc = parse_header_line(s, stop, lineno, cb, err);
		}
		else if (!have_table)
		{
			have_table = 1;
			rc = parse_column_header(s, stop, lineno, &map, err);
		}
		else
			rc = parse_data_row(s, stop, lineno, &map, cb, host, err);
		if (rc != LC_PARSE_OK)
			return rc;
	}

	if (!have_table)
		return set_error(err, LC_PARSE_EMPTY_INPUT, 0,
						 have_header_lines ? "no column header row" : "input is empty");
	return LC_PARSE_OK;
}

size_t
lc_parse_format_error(const LcParseError *err, const char *filename,
					  char *out, size_t outsize)
{
	int			n;

	if (filename != NULL && err->lineno > 0)
		n = snprintf(out, outsize, "light curve file \"%s\" line %ld: %s",
					 filename, err->lineno, err->message);
	else if (filename != NULL)
		n = snprintf(out, outsize, "light curve file \"%s\": %s",
					 filename, err->message);
	else if (err->lineno > 0)
		n = snprintf(out, outsize, "light curve line %ld: %s",
					 err->lineno, err->message);
	else
		n = snprintf(out, outsize, "light curve: %s", err->message);
	return n < 0 ? 0 : (size_t) n;
}
