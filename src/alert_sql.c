/*
 * alert_sql.c
 *		SQL glue of the alert-packet decoder (alert_decode.c):
 *		alert_photometry, alert_points, alert_schema_survey, ztf_object_id
 *		and ztf_object_name.
 *
 * Thin: it picks the framing, finds a Confluent message's writer schema in
 * alert_schemas, runs the kernel and turns its points into rows and its
 * statuses into SQLSTATEs.  libavro's objects live outside PostgreSQL's
 * memory contexts, so the kernel must never be left by a longjmp: its host
 * allocates with palloc that returns NULL, and its poll returns (a pending
 * cancel says stop); the kernel frees everything it holds, returns, and
 * only then does the glue raise.  Each backend keeps one cache of compiled
 * writer schemas (alert_decode.h), in its own memory context under
 * TopMemoryContext: a stream of one schema compiles it once per backend.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "alert_decode.h"
#include "kernel_host_pg.h"

PG_FUNCTION_INFO_V1(alert_photometry);
PG_FUNCTION_INFO_V1(alert_points);
PG_FUNCTION_INFO_V1(pg_alert_schema_survey);
PG_FUNCTION_INFO_V1(ztf_object_id);
PG_FUNCTION_INFO_V1(ztf_object_name);

#define ALERT_PHOTOMETRY_COLS 11

static MemoryContext schema_cache_cxt;
static KernelHost schema_cache_host;
static AlertSchemaCache *schema_cache;

/* The backend's schema cache, made on first use. */
static AlertSchemaCache *
backend_schema_cache(void)
{
	if (schema_cache == NULL)
	{
		if (schema_cache_cxt == NULL)
			schema_cache_cxt = AllocSetContextCreate(TopMemoryContext, "antares alert schemas",
													 ALLOCSET_SMALL_SIZES);
		schema_cache_host = pg_kernel_host(schema_cache_cxt);
		schema_cache = alert_schema_cache_new(&schema_cache_host);
		if (schema_cache == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory for the alert schema cache")));
	}
	return schema_cache;
}

static int
alert_sqlstate(AlertDecodeStatus status)
{
	switch (status)
	{
		case ALERT_DECODE_BAD_FRAMING:
		case ALERT_DECODE_CORRUPT:
			return ERRCODE_INVALID_BINARY_REPRESENTATION;
		case ALERT_DECODE_BAD_SCHEMA:
		case ALERT_DECODE_INVALID_VALUE:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case ALERT_DECODE_NOT_AN_ALERT:
			return ERRCODE_DATATYPE_MISMATCH;
		case ALERT_DECODE_MISSING_FIELD:
			return ERRCODE_UNDEFINED_COLUMN;
		case ALERT_DECODE_NO_MEMORY:
			return ERRCODE_OUT_OF_MEMORY;
		default:
			return ERRCODE_INTERNAL_ERROR;
	}
}

/* Raises the kernel's failure; a stop is the pending cancel's own ERROR. */
static void
report_alert_error(const AlertDecodeError *err)
{
	if (err->status == ALERT_DECODE_INTERRUPTED)
	{
		CHECK_FOR_INTERRUPTS();
		pg_kernel_stopped("decoding alert packets");
	}
	ereport(ERROR,
			(errcode(alert_sqlstate(err->status)),
			 errmsg("%s: %s", alert_decode_status_name(err->status), err->message),
			 err->alert > 0 ? errcontext("alert %zu of the container", err->alert) : 0));
}

/* alert_points' error context: the packet's place in the array. */
static void
packet_error_context(void *arg)
{
	int			current = *(int *) arg;

	if (current > 0)
		errcontext("packet %d of the array", current);
}

/* The last schema alert_schemas gave this call site, kept for the query. */
typedef struct SchemaLookup
{
	int32		id;
	text	   *schema;			/* NULL: none looked up yet */
} SchemaLookup;

/*
 * The writer schema registered under id in alert_schemas of the function's
 * own schema.  One SPI query (~30 us) per change of id: a query over
 * messages of one schema asks once.
 */
static text *
registered_schema(FunctionCallInfo fcinfo, int32 id)
{
	SchemaLookup *last = fcinfo->flinfo->fn_extra;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(id)};
	char	   *nsp;
	bool		isnull;
	Datum		found;

	if (last == NULL)
		last = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SchemaLookup));
	if (last->schema != NULL && last->id == id)
		return last->schema;
	nsp = get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid));
	SPI_connect();
	if (SPI_execute_with_args(psprintf("SELECT schema FROM %s.alert_schemas WHERE id = $1",
									   quote_identifier(nsp)),
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "looking up writer schema %d failed", id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no writer schema with id %d in %s.alert_schemas", id, nsp),
				 errhint("Add the schema registry's schema %d: INSERT INTO alert_schemas (id, schema) VALUES (%d, '...').",
						 id, id)));
	/* a schema of a few kB is stored compressed: detoast, then keep a copy */
	found = PointerGetDatum(DatumGetTextPP(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1, &isnull)));
	if (last->schema != NULL)
		pfree(last->schema);
	last->schema = (text *) MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
											   VARSIZE_ANY(DatumGetPointer(found)));
	memcpy(last->schema, DatumGetPointer(found), VARSIZE_ANY(DatumGetPointer(found)));
	last->id = id;
	SPI_finish();
	return last->schema;
}

/* The framing argument: auto, container, confluent or bare. */
static AlertFraming
packet_framing(const char *name, const uint8 *buf, size_t len, bool have_schema)
{
	if (strcmp(name, "container") == 0)
		return ALERT_CONTAINER;
	if (strcmp(name, "confluent") == 0)
		return ALERT_CONFLUENT;
	if (strcmp(name, "bare") == 0)
		return ALERT_BARE;
	if (strcmp(name, "auto") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("framing \"%s\" is not auto, container, confluent or bare", name)));
	if (len >= 4 && memcmp(buf, "Obj\x01", 4) == 0)
		return ALERT_CONTAINER;
	if (len >= 5 && buf[0] == 0)
		return ALERT_CONFLUENT;
	if (!have_schema)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("packet is neither an Avro container file nor a Confluent-framed message"),
				 errhint("A bare datum needs its writer schema and framing => 'bare'.")));
	return ALERT_BARE;
}

static void
put_points(ReturnSetInfo *rsinfo, const AlertResult *r)
{
	for (size_t i = 0; i < r->npoints; i++)
	{
		const AlertPoint *p = &r->points[i];
		Datum		values[ALERT_PHOTOMETRY_COLS];
		bool		nulls[ALERT_PHOTOMETRY_COLS] = {0};
		char		band[2] = {p->band, '\0'};

		values[0] = Int64GetDatum(p->alert_id);
		values[1] = Int64GetDatum(p->object_id);
		values[2] = CStringGetTextDatum(p->object_name);
		values[3] = Int64GetDatum(p->source_id);
		values[4] = CStringGetTextDatum(alert_kind_name(p->kind));
		values[5] = Float8GetDatum(p->mjd);
		values[6] = CStringGetTextDatum(band);
		values[7] = Float8GetDatum(p->flux);
		values[8] = Float8GetDatum(p->dflux);
		values[9] = Float8GetDatum(p->ra);
		values[10] = Float8GetDatum(p->dec);
		nulls[9] = isnan(p->ra);
		nulls[10] = isnan(p->dec);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * Decodes one packet into *result (memory from host): the framing by name
 * (or found, for auto), the writer schema from the argument or, for a
 * Confluent message without one, from alert_schemas.  Raises the kernel's
 * failure.
 */
static void
decode_packet(FunctionCallInfo fcinfo, const uint8 *buf, size_t len, text *schema,
			  const char *framing_name, const KernelHost *host, AlertResult *result)
{
	AlertFraming framing = packet_framing(framing_name, buf, len, schema != NULL);
	AlertDecodeError err;

	if (framing == ALERT_CONTAINER && schema != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an Avro container file carries its own writer schema"),
				 errhint("Pass writer_schema NULL for a container file.")));
	if (framing == ALERT_CONFLUENT && schema == NULL)
	{
		int32		id;

		if (alert_confluent_schema_id(buf, len, &id) != ALERT_DECODE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("not a Confluent-framed message (a zero byte and a 4-byte schema id)")));
		schema = registered_schema(fcinfo, id);
	}
	if (alert_decode(host, backend_schema_cache(), buf, len, framing,
					 schema ? VARDATA_ANY(schema) : NULL,
					 schema ? VARSIZE_ANY_EXHDR(schema) : 0, result, &err) != ALERT_DECODE_OK)
		report_alert_error(&err);
}

/* The framing argument (argument 2), which must not be NULL. */
static char *
framing_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("framing must not be NULL")));
	return text_to_cstring(PG_GETARG_TEXT_PP(2));
}

/*
 * alert_photometry(packet bytea, writer_schema text DEFAULT NULL,
 *					framing text DEFAULT 'auto')
 *	 RETURNS TABLE (alert_id, objid, object_name, source_id, kind, t, pb,
 *					flux, dflux, ra, dec)
 * One row per photometric point of the packet (alert_decode.h has the
 * rules).  A NULL packet gives no rows.
 */
Datum
alert_photometry(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *schema = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	bytea	   *packet;
	char	   *framing;
	MemoryContext decode_cxt,
				old;
	KernelHost	host;
	AlertResult result;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	framing = framing_arg(fcinfo);
	packet = PG_GETARG_BYTEA_PP(0);
	decode_cxt = AllocSetContextCreate(CurrentMemoryContext, "alert_photometry",
									   ALLOCSET_DEFAULT_SIZES);
	host = pg_kernel_host_returning(decode_cxt);
	decode_packet(fcinfo, (const uint8 *) VARDATA_ANY(packet), VARSIZE_ANY_EXHDR(packet), schema,
				  framing, &host, &result);
	old = MemoryContextSwitchTo(decode_cxt);
	put_points(rsinfo, &result);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(decode_cxt);
	return (Datum) 0;
}

/*
 * alert_points' de-duplication key (alert_decode.h: the stored kind).
 * Zeroed before it is filled, since the hash table hashes its bytes,
 * padding included.
 */
typedef struct PointKey
{
	int64		objid;
	int64		source_id;
	int32		kind;
} PointKey;

typedef struct PointEntry
{
	PointKey	key;
	size_t		index;			/* into the points kept */
} PointEntry;

/* The points kept, in order of first appearance; grown by doubling. */
typedef struct KeptPoints
{
	AlertPoint *points;
	size_t		n;
	size_t		capacity;
} KeptPoints;

/*
 * Keeps each point of r whose key is new; of a point seen again, the copy
 * of the lowest alert_id (the first alert that carried it, whatever the
 * order of the packets).  One hash lookup per point.
 */
static void
keep_new_points(HTAB *seen, KeptPoints *kept, const AlertResult *r)
{
	for (size_t i = 0; i < r->npoints; i++)
	{
		AlertPoint	p = r->points[i];
		PointKey	key;
		PointEntry *e;
		bool		found;

		p.kind = alert_stored_kind(p.kind);
		memset(&key, 0, sizeof(key));
		key.objid = p.object_id;
		key.source_id = p.source_id;
		key.kind = (int32) p.kind;
		e = hash_search(seen, &key, HASH_ENTER, &found);
		if (found)
		{
			if (p.alert_id < kept->points[e->index].alert_id)
				kept->points[e->index] = p;
			continue;
		}
		if (kept->n == kept->capacity)
		{
			kept->capacity *= 2;
			kept->points = repalloc_huge(kept->points, kept->capacity * sizeof(AlertPoint));
		}
		e->index = kept->n;
		kept->points[kept->n++] = p;
	}
}

static void
put_kept_points(ReturnSetInfo *rsinfo, const KeptPoints *kept)
{
	for (size_t i = 0; i < kept->n; i++)
	{
		const AlertPoint *p = &kept->points[i];
		Datum		values[10];
		bool		nulls[10] = {0};
		char		band[2] = {p->band, '\0'};

		values[0] = Int64GetDatum(p->object_id);
		values[1] = Float8GetDatum(p->mjd);
		values[2] = CStringGetTextDatum(band);
		values[3] = Float8GetDatum(p->flux);
		values[4] = Float8GetDatum(p->dflux);
		values[5] = CStringGetTextDatum(alert_kind_name(p->kind));
		values[6] = Int64GetDatum(p->source_id);
		values[7] = Int64GetDatum(p->alert_id);
		values[8] = Float8GetDatum(p->ra);
		values[9] = Float8GetDatum(p->dec);
		nulls[8] = isnan(p->ra);
		nulls[9] = isnan(p->dec);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		pfree(DatumGetPointer(values[2]));
		pfree(DatumGetPointer(values[5]));
	}
}

/*
 * alert_points(packets bytea[], writer_schema text DEFAULT NULL,
 *				framing text DEFAULT 'auto')
 *	 RETURNS TABLE (objid, t, pb, flux, dflux, kind, source_id, alert_id,
 *					ra, dec)
 * The points of a batch of packets as a photometry table stores them: each
 * (objid, kind, source_id) once, a history entry as the detection it was
 * (kind detection, forced or upper_limit), with the lowest alert_id that
 * carried it.  Every alert repeats its object's history, so a batch of a
 * stream gives about one new point an alert where alert_photometry gives
 * the whole history: the rows an INSERT must probe fall twentyfold for
 * Rubin's alerts.  Cost: the decoding, one hash lookup a point, a row a
 * point kept.  NULL elements are skipped; a packet that fails is the
 * ERROR, naming its place in the array.
 */
Datum
alert_points(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *schema = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	ArrayType  *packets;
	char	   *framing;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	HASHCTL		ctl;
	HTAB	   *seen;
	KeptPoints	kept;
	MemoryContext decode_cxt;
	KernelHost	host;
	ErrorContextCallback errcb;
	int			current = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	framing = framing_arg(fcinfo);
	packets = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(packets, BYTEAOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &nelems);

	ctl.keysize = sizeof(PointKey);
	ctl.entrysize = sizeof(PointEntry);
	ctl.hcxt = CurrentMemoryContext;
	seen = hash_create("alert_points keys", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	kept.capacity = 1024;
	kept.n = 0;
	kept.points = palloc(kept.capacity * sizeof(AlertPoint));
	decode_cxt = AllocSetContextCreate(CurrentMemoryContext, "alert_points",
									   ALLOCSET_DEFAULT_SIZES);
	host = pg_kernel_host_returning(decode_cxt);

	errcb.callback = packet_error_context;
	errcb.arg = &current;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	for (int i = 0; i < nelems; i++)
	{
		bytea	   *packet;
		AlertResult result;

		CHECK_FOR_INTERRUPTS();
		if (elem_nulls[i])
			continue;
		current = i + 1;
		packet = DatumGetByteaPP(elems[i]);
		decode_packet(fcinfo, (const uint8 *) VARDATA_ANY(packet), VARSIZE_ANY_EXHDR(packet), schema,
					  framing, &host, &result);
		keep_new_points(seen, &kept, &result);
		MemoryContextReset(decode_cxt);
	}
	error_context_stack = errcb.previous;
	put_kept_points(rsinfo, &kept);
	return (Datum) 0;
}

/*
 * alert_schema_survey(writer_schema text) RETURNS text: 'ztf' or 'rubin'
 * when the schema compiles into a reader, else the decoder's ERROR.
 * alert_schemas' CHECK, so that a schema is refused when it is registered,
 * not when its first message arrives.
 */
Datum
pg_alert_schema_survey(PG_FUNCTION_ARGS)
{
	text	   *schema = PG_GETARG_TEXT_PP(0);
	KernelHost	host = pg_kernel_host_returning(CurrentMemoryContext);
	AlertSurvey survey;
	AlertDecodeError err;

	if (alert_schema_survey(&host, VARDATA_ANY(schema), VARSIZE_ANY_EXHDR(schema), &survey,
							&err) != ALERT_DECODE_OK)
		report_alert_error(&err);
	PG_RETURN_TEXT_P(cstring_to_text(survey == ALERT_ZTF ? "ztf" : "rubin"));
}

/* ztf_object_id(name text) RETURNS bigint: "ZTFyyabcdefg" as a number. */
Datum
ztf_object_id(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	int64		n = alert_ztf_object_number(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("\"%s\" is not a ZTF object id (ZTF, two digits, seven letters a-z)",
						text_to_cstring(name))));
	PG_RETURN_INT64(n);
}

/* ztf_object_name(objid bigint) RETURNS text: the inverse of ztf_object_id. */
Datum
ztf_object_name(PG_FUNCTION_ARGS)
{
	int64		n = PG_GETARG_INT64(0);
	char		name[ALERT_OBJECT_NAME_SIZE];

	if (alert_ztf_object_name(n, name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%lld is not a ZTF object number (0 to 100 * 26^7 - 1)", (long long) n)));
	PG_RETURN_TEXT_P(cstring_to_text(name));
}
