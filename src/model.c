/*
 * model.c
 *		The shared serialisation layer of model values (model.h): header,
 *		checksum, bounds-checked little-endian reads and writes, and the text
 *		and binary forms of every model type.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/toast_internals.h"
#include "access/xact.h"
#include "common/base64.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "nodes/primnodes.h"
#include "port/pg_bswap.h"
#include "port/pg_crc32c.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "antares.h"
#include "model.h"

#define MODEL_MAGIC "ANTM"

/* The text form's prefix and the SQL type of each kind. */
static const char *const kind_names[] = {
	[MODEL_SVM] = "svm",
	[MODEL_IFOREST] = "iforest",
	[MODEL_RF] = "rf",
	[MODEL_LC_STATE] = "lc_state",
	[MODEL_GBT] = "gbt",
};
static const char *const type_names[] = {
	[MODEL_SVM] = "antares.svm_model",
	[MODEL_IFOREST] = "antares.iforest_model",
	[MODEL_RF] = "antares.rf_model",
	[MODEL_LC_STATE] = "antares.lc_state",
	[MODEL_GBT] = "antares.gbt_model",
};

const char *
model_type_name(ModelKind kind)
{
	return kind >= 1 && kind <= MODEL_KIND_MAX ? type_names[kind] : "antares model";
}

/* ------------------------------------------------------ little-endian I/O */

static inline uint32
to_le32(uint32 v)
{
#ifdef WORDS_BIGENDIAN
	return pg_bswap32(v);
#else
	return v;
#endif
}

static inline uint16
to_le16(uint16 v)
{
#ifdef WORDS_BIGENDIAN
	return pg_bswap16(v);
#else
	return v;
#endif
}

static inline uint64
to_le64(uint64 v)
{
#ifdef WORDS_BIGENDIAN
	return pg_bswap64(v);
#else
	return v;
#endif
}

static void
put_bytes(ModelWriter *w, const void *src, Size n)
{
	if (n > (Size) (w->end - w->p))
		elog(ERROR, "model payload overflows its announced length");
	memcpy(w->p, src, n);
	w->p += n;
}

void
model_put_u32(ModelWriter *w, uint32 v)
{
	v = to_le32(v);
	put_bytes(w, &v, sizeof(v));
}

void
model_put_i32(ModelWriter *w, int32 v)
{
	model_put_u32(w, (uint32) v);
}

void
model_put_i64(ModelWriter *w, int64 v)
{
	uint64		u = to_le64((uint64) v);

	put_bytes(w, &u, sizeof(u));
}

void
model_put_f64(ModelWriter *w, double v)
{
	uint64		u;

	memcpy(&u, &v, sizeof(u));
	u = to_le64(u);
	put_bytes(w, &u, sizeof(u));
}

void
model_invalid(const ModelReader *r, const char *fmt,...)
{
	char		detail[256];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	ereport(ERROR,
			(errcode(r->errcode),
			 errmsg("invalid %s value: %s", model_type_name(r->kind), detail)));
	pg_unreachable();
}

static void
get_bytes(ModelReader *r, void *dst, Size n)
{
	if (n > (Size) (r->end - r->p))
		model_invalid(r, "truncated payload");
	memcpy(dst, r->p, n);
	r->p += n;
}

uint32
model_get_u32(ModelReader *r)
{
	uint32		v;

	get_bytes(r, &v, sizeof(v));
	return to_le32(v);
}

int32
model_get_i32(ModelReader *r)
{
	return (int32) model_get_u32(r);
}

int64
model_get_i64(ModelReader *r)
{
	uint64		v;

	get_bytes(r, &v, sizeof(v));
	return (int64) to_le64(v);
}

double
model_get_f64(ModelReader *r)
{
	uint64		u;
	double		v;

	get_bytes(r, &u, sizeof(u));
	u = to_le64(u);
	memcpy(&v, &u, sizeof(v));
	return v;
}

void
model_get_f64s(ModelReader *r, double *dst, Size n)
{
	if (n > (Size) (r->end - r->p) / sizeof(double))
		model_invalid(r, "truncated payload");
#ifdef WORDS_BIGENDIAN
	for (Size i = 0; i < n; i++)
		dst[i] = model_get_f64(r);
#else
	memcpy(dst, r->p, n * sizeof(double));
	r->p += n * sizeof(double);
#endif
}

void
model_get_u32s(ModelReader *r, uint32 *dst, Size n)
{
	if (n > (Size) (r->end - r->p) / sizeof(uint32))
		model_invalid(r, "truncated payload");
#ifdef WORDS_BIGENDIAN
	for (Size i = 0; i < n; i++)
		dst[i] = model_get_u32(r);
#else
	memcpy(dst, r->p, n * sizeof(uint32));
	r->p += n * sizeof(uint32);
#endif
}

Size
model_remaining(const ModelReader *r)
{
	return (Size) (r->end - r->p);
}

void
model_end(ModelReader *r)
{
	if (r->p != r->end)
		model_invalid(r, "%zu bytes after the payload", model_remaining(r));
}

/* --------------------------------------------------------- header, CRC */

static pg_crc32c
model_crc(const char *data, Size payload_len)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data, 16);
	COMP_CRC32C(crc, data + MODEL_HEADER_SIZE, payload_len);
	FIN_CRC32C(crc);
	return crc;
}

struct varlena *
model_create(ModelKind kind, uint32 dim, Size payload_len, ModelWriter *w)
{
	Size		size;
	struct varlena *model;
	uint16		v16;
	uint32		v32;
	char	   *p;

	if (payload_len > MaxAllocSize - VARHDRSZ - MODEL_HEADER_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of %zu bytes exceeds the 1 GB limit of a value",
						model_type_name(kind), payload_len)));
	size = VARHDRSZ + MODEL_HEADER_SIZE + payload_len;
	model = palloc0(size);
	SET_VARSIZE(model, size);
	p = VARDATA(model);
	memcpy(p, MODEL_MAGIC, 4);
	v16 = to_le16((uint16) MODEL_FORMAT_VERSION);
	memcpy(p + 4, &v16, 2);
	v16 = to_le16((uint16) kind);
	memcpy(p + 6, &v16, 2);
	v32 = to_le32(dim);
	memcpy(p + 8, &v32, 4);
	v32 = to_le32((uint32) payload_len);
	memcpy(p + 12, &v32, 4);
	w->p = p + MODEL_HEADER_SIZE;
	w->end = w->p + payload_len;
	return model;
}

void
model_seal(struct varlena *model, ModelWriter *w)
{
	char	   *p = VARDATA(model);
	Size		payload_len = VARSIZE(model) - VARHDRSZ - MODEL_HEADER_SIZE;
	uint32		crc;

	if (w->p != w->end)
		elog(ERROR, "model payload is shorter than its announced length");
	crc = to_le32(model_crc(p, payload_len));
	memcpy(p + 16, &crc, 4);
}

uint32
model_open(const struct varlena *model, ModelKind kind, int errcode, ModelReader *r)
{
	const char *p = VARDATA_ANY(model);
	Size		len = VARSIZE_ANY_EXHDR(model);
	uint16		version,
				stored_kind;
	uint32		dim,
				payload_len,
				crc;

	r->kind = kind;
	r->errcode = errcode;
	if (len < MODEL_HEADER_SIZE)
		model_invalid(r, "%zu bytes is shorter than the %d-byte header", len,
					  MODEL_HEADER_SIZE);
	if (memcmp(p, MODEL_MAGIC, 4) != 0)
		model_invalid(r, "not an antares model (bad magic number)");
	memcpy(&version, p + 4, 2);
	memcpy(&stored_kind, p + 6, 2);
	version = to_le16(version);
	stored_kind = to_le16(stored_kind);
	if (version != MODEL_FORMAT_VERSION)
		model_invalid(r, "format version %u is not supported (this build reads version %d)",
					  version, MODEL_FORMAT_VERSION);
	if (stored_kind != kind)
		model_invalid(r, "it holds a model of another kind (%u)", stored_kind);
	memcpy(&dim, p + 8, 4);
	memcpy(&payload_len, p + 12, 4);
	memcpy(&crc, p + 16, 4);
	dim = to_le32(dim);
	payload_len = to_le32(payload_len);
	crc = to_le32(crc);
	if (payload_len != len - MODEL_HEADER_SIZE)
		model_invalid(r, "truncated or padded: the header announces %u payload bytes, there are %zu",
					  payload_len, len - MODEL_HEADER_SIZE);
	if (crc != model_crc(p, payload_len))
		model_invalid(r, "checksum mismatch");
	if (dim < 1 || dim > PG_INT32_MAX)
		model_invalid(r, "dimension %u", dim);
	r->p = p + MODEL_HEADER_SIZE;
	r->end = r->p + payload_len;
	return dim;
}

/* -------------------------------------------------------- text, binary */

/* "<kind>/<version>:<base64>" */
struct varlena *
model_from_text(const char *text, ModelKind kind)
{
	const char *name = kind_names[kind];
	size_t		name_len = strlen(name);
	const char *b64;
	char	   *end;
	long		version;
	int			b64_len,
				max_len,
				len;
	struct varlena *model;
	ModelReader r = {NULL, NULL, kind, ERRCODE_INVALID_TEXT_REPRESENTATION};

	if (strncmp(text, name, name_len) != 0 || text[name_len] != '/')
		model_invalid(&r, "the text does not start with \"%s/\"", name);
	errno = 0;
	version = strtol(text + name_len + 1, &end, 10);
	if (end == text + name_len + 1 || *end != ':' || errno != 0)
		model_invalid(&r, "expected \"%s/<format version>:\" at its start", name);
	if (version != MODEL_FORMAT_VERSION)
		model_invalid(&r, "format version %ld is not supported (this build reads version %d)",
					  version, MODEL_FORMAT_VERSION);
	b64 = end + 1;
	if (strlen(b64) > (size_t) (MaxAllocSize / 4 * 3 - VARHDRSZ))
		model_invalid(&r, "the text is too long");
	b64_len = (int) strlen(b64);
	max_len = pg_b64_dec_len(b64_len);
	model = palloc(VARHDRSZ + Max(max_len, 1));
	len = pg_b64_decode(b64, b64_len, VARDATA(model), max_len);
	if (len < 0)
		model_invalid(&r, "invalid base64 data");
	SET_VARSIZE(model, VARHDRSZ + len);
	(void) model_open(model, kind, ERRCODE_INVALID_TEXT_REPRESENTATION, &r);
	return model;
}

char *
model_to_text(const struct varlena *model, ModelKind kind)
{
	ModelReader r;
	const char *data = VARDATA_ANY(model);
	int			len = (int) VARSIZE_ANY_EXHDR(model);
	int			enc_len;
	StringInfoData out;

	(void) model_open(model, kind, ERRCODE_DATA_CORRUPTED, &r);
	enc_len = pg_b64_enc_len(len);
	initStringInfo(&out);
	appendStringInfo(&out, "%s/%d:", kind_names[kind], MODEL_FORMAT_VERSION);
	enlargeStringInfo(&out, enc_len + 1);
	enc_len = pg_b64_encode(data, len, out.data + out.len, enc_len + 1);
	if (enc_len < 0)
		elog(ERROR, "could not encode a model in base64");
	out.len += enc_len;
	out.data[out.len] = '\0';
	return out.data;
}

struct varlena *
model_from_binary(StringInfo buf, ModelKind kind)
{
	int			len = buf->len - buf->cursor;
	struct varlena *model = palloc(VARHDRSZ + Max(len, 1));
	ModelReader r;

	SET_VARSIZE(model, VARHDRSZ + len);
	memcpy(VARDATA(model), buf->data + buf->cursor, len);
	buf->cursor = buf->len;
	(void) model_open(model, kind, ERRCODE_INVALID_BINARY_REPRESENTATION, &r);
	return model;
}

bytea *
model_to_binary(const struct varlena *model, ModelKind kind)
{
	ModelReader r;
	Size		len = VARSIZE_ANY_EXHDR(model);
	bytea	   *out = palloc(VARHDRSZ + len);

	(void) model_open(model, kind, ERRCODE_DATA_CORRUPTED, &r);
	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), VARDATA_ANY(model), len);
	return out;
}

/* ------------------------------------------------------- type functions */

Datum
model_type_in(FunctionCallInfo fcinfo, ModelKind kind, ModelValidateFn validate)
{
	struct varlena *v = model_from_text(PG_GETARG_CSTRING(0), kind);

	validate(v, ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_POINTER(v);
}

Datum
model_type_out(FunctionCallInfo fcinfo, ModelKind kind)
{
	PG_RETURN_CSTRING(model_to_text(PG_DETOAST_DATUM(PG_GETARG_DATUM(0)), kind));
}

Datum
model_type_recv(FunctionCallInfo fcinfo, ModelKind kind, ModelValidateFn validate)
{
	struct varlena *v = model_from_binary((StringInfo) PG_GETARG_POINTER(0), kind);

	validate(v, ERRCODE_INVALID_BINARY_REPRESENTATION);
	PG_RETURN_POINTER(v);
}

Datum
model_type_send(FunctionCallInfo fcinfo, ModelKind kind)
{
	PG_RETURN_BYTEA_P(model_to_binary(PG_DETOAST_DATUM(PG_GETARG_DATUM(0)), kind));
}

/* ---------------------------------------------------- decoded-model cache */

/*
 * Two levels.  Each call site (its FmgrInfo, one per query) remembers the
 * last value it saw and that value's decoded form, so the rows of a query
 * pay one comparison each.  Behind it, a model stored out of line (a model
 * read from a table, unless it is tiny) stays decoded for the session, up
 * to antares.model_cache_size: a broker scores every batch of alerts with
 * the same stored models, and decoding a 30 MB random forest (detoasting,
 * checksum, validation) takes ~70 ms, as long as scoring 5 000 rows.
 *
 * A stored value is recognised by its TOAST pointer, which names one value
 * of one TOAST table for as long as that value exists.  The value's OID may
 * be reused once it is deleted and its chunks pruned, and whoever writes the
 * new value chooses its bytes, header and CRC-32C included: so an entry
 * found for a new query is checked against what no value's bytes can set,
 * the transaction that wrote the value's first chunk (its xmin) and where
 * that chunk is (its TID), read with one index probe.  A reused OID would
 * need the same TID and a transaction id that recurs only after 2^32 more
 * transactions.
 * An entry used by the running statement is never evicted, so the decoded
 * forms call sites hold stay valid; an eviction bumps session_evictions,
 * after which call sites that borrowed an entry look it up again.
 */
#define SESSION_MODELS 8

typedef struct SessionModel
{
	MemoryContext ctx;			/* holds decoded; NULL: a free slot */
	char		pointer[TOAST_POINTER_SIZE];	/* the stored value's TOAST pointer */
	TransactionId xmin;			/* the stored value's first chunk: its writer */
	ItemPointerData tid;		/* and its place */
	char		header[MODEL_HEADER_SIZE];	/* the value's first bytes */
	ModelBuildFn build;
	void	   *decoded;
	Size		bytes;			/* memory held by ctx */
	TimestampTz statement;		/* start of the last statement that used it */
	uint64		last_use;		/* session_tick then */
	uint64		hits;			/* queries (call sites) that found it decoded */
} SessionModel;

static SessionModel session_models[SESSION_MODELS];
static MemoryContext session_context;
static uint64 session_tick;
static uint64 session_evictions;

typedef struct ModelCache
{
	struct varlena *key;		/* the raw argument; NULL while none is valid */
	const void *seen;			/* where the argument was when it last matched */
	bool		constant;		/* the argument is a Const of the plan */
	void	   *decoded;
	MemoryContext ctx;			/* owns key and decoded; NULL: decoded is a
								 * session entry's, key is in fn_mcxt */
	uint64		evictions;		/* session_evictions when borrowed */
} ModelCache;

/*
 * Whether the argument is the call site's key.  A TOAST pointer is compared
 * whole (18 bytes).  A value in memory is compared whole (a 30 MB model
 * costs ~2 ms a row), except a constant of the plan seen again where it was:
 * a Const's value lives, unchanged, as long as the expression that holds
 * it.  Neither the address nor the header can stand for the value anywhere
 * else: another value does come to the same address (a correlated subquery
 * that trains one model per row: in sql/forest.sql, 32 of 200 rows would get
 * the last row's model by address alone), and the header's CRC-32C is no
 * defence against a value made to match it (4 bytes chosen by solving a
 * linear system over GF(2): sql/svm.sql holds two such models).
 */
static bool
same_raw_value(ModelCache *c, const struct varlena *raw, Size raw_size)
{
	Size		head = Min(raw_size, (Size) (VARHDRSZ + MODEL_HEADER_SIZE));

	if (VARSIZE_ANY(c->key) != raw_size || memcmp(c->key, raw, head) != 0)
		return false;
	if (raw == c->seen && c->constant && !VARATT_IS_EXTERNAL(raw))
		return true;
	if (memcmp((const char *) c->key + head, (const char *) raw + head, raw_size - head) != 0)
		return false;
	c->seen = raw;
	return true;
}

/* Whether argument argno of the call is a Const of the plan. */
static bool
constant_argument(FunctionCallInfo fcinfo, int argno)
{
	Node	   *expr = fcinfo->flinfo->fn_expr;
	List	   *args;

	if (expr == NULL)
		return false;
	if (IsA(expr, FuncExpr))
		args = ((FuncExpr *) expr)->args;
	else if (IsA(expr, OpExpr))
		args = ((OpExpr *) expr)->args;
	else
		return false;
	return argno < list_length(args) && IsA(list_nth(args, argno), Const);
}

static void
session_evict(SessionModel *s)
{
	MemoryContextDelete(s->ctx);
	memset(s, 0, sizeof(SessionModel));
	session_evictions++;
}

/*
 * Evicts least recently used entries the running statement has not used
 * until `incoming` more bytes and, when incoming > 0, one more entry fit in
 * budget bytes; false when they cannot.
 */
static bool
session_make_room(Size incoming, Size budget)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();

	for (;;)
	{
		SessionModel *victim = NULL;
		Size		held = 0;
		int			used = 0;

		for (int i = 0; i < SESSION_MODELS; i++)
		{
			SessionModel *s = &session_models[i];

			if (s->ctx == NULL)
				continue;
			held += s->bytes;
			used++;
			if (s->statement != now && (victim == NULL || s->last_use < victim->last_use))
				victim = s;
		}
		if (held + incoming <= budget && (incoming == 0 || used < SESSION_MODELS))
			return true;
		if (victim == NULL)
			return false;
		session_evict(victim);
	}
}

static Size
session_budget(void)
{
	return (Size) antares_model_cache_kb * 1024;
}

/* antares.model_cache_size's assign hook: a lower size applies at once. */
void
model_cache_resize(int kb)
{
	(void) session_make_room(0, (Size) kb * 1024);
}

/*
 * The xmin and TID of a stored value's first chunk; false when the value is
 * not found (then no entry can be its).
 */
static bool
stored_chunk_identity(const struct varlena *raw, TransactionId *xmin, ItemPointer tid)
{
	struct varatt_external ext;
	Relation	toastrel;
	Relation   *toastidxs;
	int			num_indexes;
	int			valid;
	ScanKeyData key;
	SnapshotData snapshot;
	SysScanDesc scan;
	HeapTuple	chunk;

	VARATT_EXTERNAL_GET_POINTER(ext, raw);
	toastrel = table_open(ext.va_toastrelid, AccessShareLock);
	valid = toast_open_indexes(toastrel, AccessShareLock, &toastidxs, &num_indexes);
	ScanKeyInit(&key, (AttrNumber) 1, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext.va_valueid));
	init_toast_snapshot(&snapshot);
	scan = systable_beginscan_ordered(toastrel, toastidxs[valid], &snapshot, 1, &key);
	chunk = systable_getnext_ordered(scan, ForwardScanDirection);
	if (chunk != NULL)
	{
		*xmin = HeapTupleHeaderGetRawXmin(chunk->t_data);
		*tid = chunk->t_self;
	}
	systable_endscan_ordered(scan);
	toast_close_indexes(toastidxs, num_indexes, AccessShareLock);
	table_close(toastrel, AccessShareLock);
	return chunk != NULL;
}

/* The session's entry for a stored value, checked against its first chunk. */
static SessionModel *
session_lookup(struct varlena *raw, ModelBuildFn build)
{
	for (int i = 0; i < SESSION_MODELS; i++)
	{
		SessionModel *s = &session_models[i];
		TransactionId xmin;
		ItemPointerData tid;

		if (s->ctx == NULL || s->build != build ||
			memcmp(s->pointer, raw, TOAST_POINTER_SIZE) != 0)
			continue;
		if (stored_chunk_identity(raw, &xmin, &tid) &&
			TransactionIdEquals(xmin, s->xmin) && ItemPointerEquals(&tid, &s->tid))
			return s;
		session_evict(s);		/* the OID now names another value */
		return NULL;
	}
	return NULL;
}

/*
 * Decodes the argument into a new context under fn_mcxt.  A build that
 * ERRORs leaves the context to be freed with the query.
 */
static MemoryContext
decode_argument(FunctionCallInfo fcinfo, int argno, ModelBuildFn build, void **decoded,
				char *header)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(argno));
	MemoryContext ctx = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "antares model",
											  ALLOCSET_DEFAULT_SIZES);
	struct varlena *v = pg_detoast_datum(raw);
	MemoryContext old = MemoryContextSwitchTo(ctx);

	*decoded = build(v);
	MemoryContextSwitchTo(old);
	memcpy(header, VARDATA_ANY(v), MODEL_HEADER_SIZE);	/* build checked the length */
	if (v != raw)
		pfree(v);
	return ctx;
}

/* Makes a decoded stored value a session entry; false when it does not fit. */
static SessionModel *
session_insert(MemoryContext ctx, void *decoded, const struct varlena *raw,
			   const char *header, ModelBuildFn build)
{
	Size		bytes = MemoryContextMemAllocated(ctx, true);
	SessionModel *s;
	TransactionId xmin;
	ItemPointerData tid;

	if (!session_make_room(bytes, session_budget()) ||
		!stored_chunk_identity(raw, &xmin, &tid))
		return NULL;
	for (s = session_models; s->ctx != NULL; s++)
		;
	if (session_context == NULL)
		session_context = AllocSetContextCreate(TopMemoryContext, "antares session models",
												ALLOCSET_SMALL_SIZES);
	MemoryContextSetParent(ctx, session_context);
	s->ctx = ctx;
	memcpy(s->pointer, raw, TOAST_POINTER_SIZE);
	s->xmin = xmin;
	s->tid = tid;
	memcpy(s->header, header, MODEL_HEADER_SIZE);
	s->build = build;
	s->decoded = decoded;
	s->bytes = bytes;
	return s;
}

/* The call site's key: a copy of the raw argument in cxt. */
static void
remember_key(ModelCache *c, const struct varlena *raw, Size raw_size, MemoryContext cxt)
{
	c->key = MemoryContextAlloc(cxt, raw_size);
	memcpy(c->key, raw, raw_size);
	c->seen = raw;
}

void *
model_cached(FunctionCallInfo fcinfo, int argno, ModelBuildFn build)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(argno));
	Size		raw_size = VARSIZE_ANY(raw);
	bool		stored = VARATT_IS_EXTERNAL_ONDISK(raw) && raw_size == TOAST_POINTER_SIZE;
	ModelCache *c = fcinfo->flinfo->fn_extra;
	SessionModel *s = NULL;

	if (c != NULL && c->key != NULL && (c->ctx != NULL || c->evictions == session_evictions) &&
		same_raw_value(c, raw, raw_size))
		return c->decoded;
	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ModelCache));
		c->constant = constant_argument(fcinfo, argno);
		fcinfo->flinfo->fn_extra = c;
	}
	if (c->ctx != NULL)
		MemoryContextDelete(c->ctx);
	else if (c->key != NULL)
		pfree(c->key);
	c->key = NULL;
	c->ctx = NULL;

	if (stored)
		s = session_lookup(raw, build);
	if (s == NULL)
	{
		char		header[MODEL_HEADER_SIZE];
		void	   *decoded;
		MemoryContext ctx = decode_argument(fcinfo, argno, build, &decoded, header);

		if (stored)
			s = session_insert(ctx, decoded, raw, header, build);
		if (s == NULL)
		{
			/* not stored, or no room: the call site keeps it for the query */
			c->ctx = ctx;
			c->decoded = decoded;
			remember_key(c, raw, raw_size, ctx);
			return decoded;
		}
	}
	else
		s->hits++;
	s->statement = GetCurrentStatementStartTimestamp();
	s->last_use = ++session_tick;
	c->decoded = s->decoded;
	c->evictions = session_evictions;
	remember_key(c, raw, raw_size, fcinfo->flinfo->fn_mcxt);
	return c->decoded;
}

/*
 * model_cache() -> the session's decoded stored models: type, memory held,
 * stored size (header and payload), and how many queries found each one
 * decoded (counted once per call site and query).
 */
PG_FUNCTION_INFO_V1(model_cache);

Datum
model_cache(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < SESSION_MODELS; i++)
	{
		const SessionModel *s = &session_models[i];
		uint16		kind;
		uint32		payload;
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		if (s->ctx == NULL)
			continue;
		memcpy(&kind, s->header + 6, sizeof(kind));
		memcpy(&payload, s->header + 12, sizeof(payload));
		values[0] = CStringGetTextDatum(model_type_name((ModelKind) to_le16(kind)));
		values[1] = Int64GetDatum((int64) s->bytes);
		values[2] = Int64GetDatum((int64) MODEL_HEADER_SIZE + to_le32(payload));
		values[3] = Int64GetDatum((int64) s->hits);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ------------------------------------------------------- byte equality */

/*
 * Equality and hashing of model values (every model type and lc_state):
 * two values are equal when their stored bytes are (header, checksum and
 * payload), so that DISTINCT, GROUP BY, UNION, IN and hash joins work on
 * model columns.  A value is not decoded nor validated here: equal bytes are
 * one value whatever they hold.  Cost: O(size); values of different length
 * are unequal without being detoasted.
 */
PG_FUNCTION_INFO_V1(model_eq);
PG_FUNCTION_INFO_V1(model_ne);
PG_FUNCTION_INFO_V1(model_hash);
PG_FUNCTION_INFO_V1(model_hash_extended);

static bool
model_bytes_equal(FunctionCallInfo fcinfo)
{
	Datum		a = PG_GETARG_DATUM(0);
	Datum		b = PG_GETARG_DATUM(1);
	struct varlena *va,
			   *vb;
	bool		equal;

	if (toast_raw_datum_size(a) != toast_raw_datum_size(b))
		return false;
	va = PG_DETOAST_DATUM_PACKED(a);
	vb = PG_DETOAST_DATUM_PACKED(b);
	equal = VARSIZE_ANY_EXHDR(va) == VARSIZE_ANY_EXHDR(vb) &&
		memcmp(VARDATA_ANY(va), VARDATA_ANY(vb), VARSIZE_ANY_EXHDR(va)) == 0;
	PG_FREE_IF_COPY(va, 0);
	PG_FREE_IF_COPY(vb, 1);
	return equal;
}

Datum
model_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(model_bytes_equal(fcinfo));
}

Datum
model_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!model_bytes_equal(fcinfo));
}

Datum
model_hash(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_VARLENA_PP(0);
	Datum		h = hash_any((const unsigned char *) VARDATA_ANY(v), (int) VARSIZE_ANY_EXHDR(v));

	PG_FREE_IF_COPY(v, 0);
	return h;
}

Datum
model_hash_extended(PG_FUNCTION_ARGS)
{
	struct varlena *v = PG_GETARG_VARLENA_PP(0);
	Datum		h = hash_any_extended((const unsigned char *) VARDATA_ANY(v),
									  (int) VARSIZE_ANY_EXHDR(v), PG_GETARG_INT64(1));

	PG_FREE_IF_COPY(v, 0);
	return h;
}
