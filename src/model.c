/*
 * model.c
 *		The shared serialisation layer of model values (model.h): header,
 *		checksum, bounds-checked little-endian reads and writes, and the text
 *		and binary forms of every model type.
 */
#include "postgres.h"

#include "common/base64.h"
#include "port/pg_bswap.h"
#include "port/pg_crc32c.h"
#include "utils/memutils.h"

#include "model.h"

#define MODEL_MAGIC "ANTM"

/* The text form's prefix and the SQL type of each kind. */
static const char *const kind_names[] = {
	[MODEL_SVM] = "svm",
	[MODEL_IFOREST] = "iforest",
	[MODEL_RF] = "rf",
	[MODEL_LC_STATE] = "lc_state",
};
static const char *const type_names[] = {
	[MODEL_SVM] = "antares.svm_model",
	[MODEL_IFOREST] = "antares.iforest_model",
	[MODEL_RF] = "antares.rf_model",
	[MODEL_LC_STATE] = "antares.lc_state",
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
	v16 = (uint16) MODEL_FORMAT_VERSION;
#ifdef WORDS_BIGENDIAN
	v16 = pg_bswap16(v16);
#endif
	memcpy(p + 4, &v16, 2);
	v16 = (uint16) kind;
#ifdef WORDS_BIGENDIAN
	v16 = pg_bswap16(v16);
#endif
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
#ifdef WORDS_BIGENDIAN
	version = pg_bswap16(version);
	stored_kind = pg_bswap16(stored_kind);
#endif
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

typedef struct ModelCache
{
	MemoryContext ctx;			/* holds key and decoded; NULL before the first */
	struct varlena *key;		/* the raw argument; NULL while none is valid */
	void	   *decoded;
} ModelCache;

static bool
same_raw_value(const struct varlena *key, const struct varlena *raw, Size raw_size)
{
	Size		head = Min(raw_size, (Size) (VARHDRSZ + MODEL_HEADER_SIZE));

	return VARSIZE_ANY(key) == raw_size &&
		memcmp(key, raw, head) == 0 &&
		memcmp((const char *) key + head, (const char *) raw + head, raw_size - head) == 0;
}

void *
model_cached(FunctionCallInfo fcinfo, int argno, ModelBuildFn build)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(argno));
	Size		raw_size = VARSIZE_ANY(raw);
	ModelCache *c = fcinfo->flinfo->fn_extra;
	MemoryContext old;

	if (c != NULL && c->key != NULL && same_raw_value(c->key, raw, raw_size))
		return c->decoded;
	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ModelCache));
		fcinfo->flinfo->fn_extra = c;
	}
	if (c->ctx != NULL)
		MemoryContextDelete(c->ctx);
	c->key = NULL;
	c->decoded = NULL;
	c->ctx = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "antares model",
								   ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(c->ctx);
	c->decoded = build(PG_DETOAST_DATUM(PG_GETARG_DATUM(argno)));
	c->key = palloc(raw_size);
	memcpy(c->key, raw, raw_size);
	MemoryContextSwitchTo(old);
	return c->decoded;
}
