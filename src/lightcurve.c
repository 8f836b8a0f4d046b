/*
 * lightcurve.c
 *		SQL functions reading light-curve text: parse_lightcurve,
 *		read_lightcurve and lightcurve_header.
 *
 * Thin glue over the lc_parse kernel: it turns parsed rows into a tuplestore
 * or a jsonb object and the kernel's errors into ereport().  Every function
 * validates the whole input, so they all accept and reject the same texts
 * with the same messages (also those of bin/antares_load).
 */
#include "postgres.h"

#include <sys/stat.h>

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "kernel_host_pg.h"
#include "lc_parse.h"

PG_FUNCTION_INFO_V1(parse_lightcurve);
PG_FUNCTION_INFO_V1(read_lightcurve);
PG_FUNCTION_INFO_V1(lightcurve_header);

#define READ_CHUNK 65536

/* Where parsed rows go: the SRF's tuplestore, through one reused pb datum. */
typedef struct RowSink
{
	Tuplestorestate *store;
	TupleDesc	desc;
	text	   *pb;
	Size		pb_capacity;	/* bytes allocated for pb, header included */
} RowSink;

static int
lc_sqlstate(LcParseErrorKind kind)
{
	switch (kind)
	{
		case LC_PARSE_MALFORMED_LINE:
		case LC_PARSE_MISSING_COLUMN:
		case LC_PARSE_EMPTY_INPUT:
			return ERRCODE_BAD_COPY_FILE_FORMAT;
		case LC_PARSE_INVALID_VALUE:
			return ERRCODE_INVALID_TEXT_REPRESENTATION;
		case LC_PARSE_OUT_OF_RANGE:
			return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
		case LC_PARSE_OUT_OF_MEMORY:
			return ERRCODE_OUT_OF_MEMORY;
		case LC_PARSE_INTERRUPTED:
			return ERRCODE_QUERY_CANCELED;	/* not from pg_kernel_host's poll */
		default:
			return ERRCODE_INTERNAL_ERROR;
	}
}

/* Reports err with the kernel's wording; filename is NULL for text input. */
static void
report_parse_error(const LcParseError *err, const char *filename)
{
	char		buf[512];
	char	   *msg = buf;
	size_t		needed = lc_parse_format_error(err, filename, buf, sizeof(buf));

	if (needed >= sizeof(buf))
	{
		msg = palloc(needed + 1);
		lc_parse_format_error(err, filename, msg, needed + 1);
	}
	ereport(ERROR,
			(errcode(lc_sqlstate(err->kind)),
			 errmsg("%s", msg),
			 err->kind == LC_PARSE_MISSING_COLUMN ?
			 errhint("The column header row must name the columns t, pb, flux and dflux.") : 0));
}

static int
store_row(void *arg, const LcRow *row)
{
	RowSink    *sink = (RowSink *) arg;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	Size		pb_size = VARHDRSZ + row->pb.len;

	/* tuplestore_putvalues copies the row, so one pb buffer serves all */
	if (pb_size > sink->pb_capacity)
	{
		sink->pb_capacity = Max(pb_size, Min(2 * sink->pb_capacity, MaxAllocSize));
		sink->pb = (text *) repalloc(sink->pb, sink->pb_capacity);
	}
	SET_VARSIZE(sink->pb, pb_size);
	memcpy(VARDATA(sink->pb), row->pb.ptr, row->pb.len);

	values[0] = Float8GetDatum(row->t);
	values[1] = PointerGetDatum(sink->pb);
	values[2] = Float8GetDatum(row->flux);
	values[3] = Float8GetDatum(row->dflux);
	tuplestore_putvalues(sink->store, sink->desc, values, nulls);
	return 0;
}

/* Materializes the rows of buf[0..len-1] as the result of an SRF call. */
static void
parse_into_result(FunctionCallInfo fcinfo, const char *buf, size_t len,
				  const char *filename)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RowSink		sink;
	LcParseCallbacks cb;
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);
	LcParseError err;

	InitMaterializedSRF(fcinfo, 0);
	sink.store = rsinfo->setResult;
	sink.desc = rsinfo->setDesc;
	sink.pb_capacity = VARHDRSZ + 16;
	sink.pb = (text *) palloc(sink.pb_capacity);

	cb.header = NULL;
	cb.row = store_row;
	cb.arg = &sink;
	if (lc_parse(buf, len, &cb, &host, &err) != LC_PARSE_OK)
		report_parse_error(&err, filename);
}

Datum
parse_lightcurve(PG_FUNCTION_ARGS)
{
	text	   *content = PG_GETARG_TEXT_PP(0);

	parse_into_result(fcinfo, VARDATA_ANY(content),
					  VARSIZE_ANY_EXHDR(content), NULL);
	return (Datum) 0;
}

/* The rule of COPY FROM 'file': the server's files are not everyone's. */
static void
check_read_permission(void)
{
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser or have privileges of the pg_read_server_files role to read a light curve file"),
				 errhint("Anyone can use antares.parse_lightcurve() on content sent by the client, e.g. loaded with psql's \\copy.")));
}

/*
 * errcode_for_file_access() for a failed open, with the errors it leaves as
 * internal ones classed: a path too long (or with a component too long) is
 * an invalid argument, a symbolic-link loop names no file, a device or
 * socket is not a file.
 */
static int
open_errcode(int err)
{
	switch (err)
	{
		case ENAMETOOLONG:
			return errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		case ELOOP:
			return errcode(ERRCODE_UNDEFINED_FILE);
		case ENXIO:
		case ENODEV:
			return errcode(ERRCODE_WRONG_OBJECT_TYPE);
		default:
			return errcode_for_file_access();
	}
}

/*
 * Reads the whole file: the parser wants one buffer, and light curves are
 * small.  Relative paths are relative to the data directory, as for COPY.
 */
static char *
read_whole_file(const char *path, size_t *len)
{
	FILE	   *file;
	struct stat st;
	StringInfoData buf;

	file = AllocateFile(path, PG_BINARY_R);
	if (file == NULL)
	{
		int			err = errno;

		ereport(ERROR,
				(open_errcode(err),
				 errmsg("could not open file \"%s\" for reading: %m", path)));
	}
	if (fstat(fileno(file), &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	if (S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a directory", path)));

	initStringInfo(&buf);
	for (;;)
	{
		size_t		n;

		CHECK_FOR_INTERRUPTS();
		/* the result must fit in one allocation, like any text value */
		if ((Size) buf.len + READ_CHUNK + 1 > MaxAllocSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("light curve file \"%s\" is too large", path)));
		enlargeStringInfo(&buf, READ_CHUNK);
		n = fread(buf.data + buf.len, 1, READ_CHUNK, file);
		if (ferror(file))
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", path)));
		buf.len += (int) n;
		if (n < READ_CHUNK)
			break;
	}
	buf.data[buf.len] = '\0';

	if (FreeFile(file) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", path)));
	*len = (size_t) buf.len;
	return buf.data;
}

/*
 * pb becomes text, so the file must be valid in the database encoding (as
 * for pg_read_file).  A NUL byte is left to the parser, which names it.
 */
static void
verify_file_encoding(const char *path, const char *data, size_t len)
{
	int			valid = pg_encoding_verifymbstr(GetDatabaseEncoding(), data, (int) len);
	long		lineno = 1;
	int			i;

	if ((size_t) valid >= len || data[valid] == '\0')
		return;
	for (i = 0; i < valid; i++)
		if (data[i] == '\n')
			lineno++;
	ereport(ERROR,
			(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
			 errmsg("light curve file \"%s\" line %ld: invalid byte sequence for encoding \"%s\"",
					path, lineno, GetDatabaseEncodingName())));
}

Datum
read_lightcurve(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *data;
	size_t		len;

	check_read_permission();
	data = read_whole_file(path, &len);
	verify_file_encoding(path, data, len);
	parse_into_result(fcinfo, data, len, path);
	return (Datum) 0;
}

static int
add_header(void *arg, long lineno, LcField key, LcField value)
{
	JsonbParseState **state = (JsonbParseState **) arg;
	JsonbValue	jv;

	/* the strings point into the content, which outlives the object */
	jv.type = jbvString;
	jv.val.string.val = (char *) key.ptr;
	jv.val.string.len = (int) key.len;
	pushJsonbValue(state, WJB_KEY, &jv);

	jv.type = jbvString;
	jv.val.string.val = (char *) value.ptr;
	jv.val.string.len = (int) value.len;
	pushJsonbValue(state, WJB_VALUE, &jv);
	return 0;
}

/*
 * The "#key:value" lines as a jsonb object of strings; a repeated key keeps
 * its last value, as jsonb input does.
 */
Datum
lightcurve_header(PG_FUNCTION_ARGS)
{
	text	   *content = PG_GETARG_TEXT_PP(0);
	JsonbParseState *state = NULL;
	JsonbValue *result;
	LcParseCallbacks cb;
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);
	LcParseError err;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	cb.header = add_header;
	cb.row = NULL;
	cb.arg = &state;
	if (lc_parse(VARDATA_ANY(content), VARSIZE_ANY_EXHDR(content), &cb, &host, &err) != LC_PARSE_OK)
		report_parse_error(&err, NULL);
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);

	PG_RETURN_JSONB_P(JsonbValueToJsonb(result));
}
