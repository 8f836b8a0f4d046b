/*
 * alert_decode.c
 *		ZTF and Rubin Avro alert packets to photometric points (see
 *		alert_decode.h for the framings, the points and the rules).
 *
 * Plain C over libavro: no PostgreSQL headers.  Errors come back as an
 * AlertDecodeError that the caller turns into its own kind of report.
 *
 * Cost (test_alert_decode's "decode rate" lines, -O2, one core of the
 * shared development machine).  Per call with the schema compiled each
 * time: the real ZTF 3.2 packet (74 kB, 29 points, three ~20 kB cutouts
 * skipped) ~0.8 ms, 1,200 alerts/s; a Rubin bare datum of 3 sources ~0.13
 * ms.  With the schema cached: the ZTF packet ~0.11 ms, 8,000-9,000
 * alerts/s (comparing its 23 kB schema text with the cached one, skipping
 * the cutouts' bytes); the Rubin datum ~7 us, 130,000-140,000 alerts/s; a
 * Rubin-format alert of 20 full-size sources (7 kB) ~87 us, as fast as
 * libavro decoding it into a generic value without resolution
 * (bench/alerts.py).  Per alert, then, the cost is linear in the datum's
 * bytes (libavro walks every field, read or skipped) plus ~0.2 us per
 * point kept.
 */
#include "alert_decode.h"

#include <avro.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/*
 * The reader schemas, as tables: the fields the decoder reads, in the order
 * it reads them.  Every scalar is read through a union with null (a writer's
 * plain long resolves into ["null", "long"], a nullable one branch by
 * branch; float promotes to double, int to long).
 */
typedef enum FieldType
{
	F_LONG,
	F_DOUBLE,
	F_STRING,
	F_SIGN,						/* ZTF isdiffpos: string, int or double */
	F_RECORD,
	F_ARRAY						/* of records */
} FieldType;

typedef struct RecordSpec RecordSpec;

typedef struct FieldSpec
{
	const char *name;
	FieldType	type;
	int			optional;		/* may be absent from the writer (top level only) */
	const RecordSpec *sub;		/* F_RECORD, F_ARRAY */
} FieldSpec;

struct RecordSpec
{
	const FieldSpec *fields;
	int			nfields;
};

#define SPEC(fields) {fields, (int) (sizeof(fields) / sizeof(fields[0]))}
#define FIELD(name, type) {name, type, 0, NULL}

/* ZTF candidate and prv_candidate: one layout. */
enum
{
	ZS_CANDID, ZS_PID, ZS_JD, ZS_FID, ZS_MAGPSF, ZS_SIGMAPSF, ZS_ISDIFFPOS,
	ZS_DIFFMAGLIM, ZS_RA, ZS_DEC
};
static const FieldSpec ztf_source_fields[] = {
	FIELD("candid", F_LONG), FIELD("pid", F_LONG), FIELD("jd", F_DOUBLE), FIELD("fid", F_LONG),
	FIELD("magpsf", F_DOUBLE), FIELD("sigmapsf", F_DOUBLE), FIELD("isdiffpos", F_SIGN),
	FIELD("diffmaglim", F_DOUBLE), FIELD("ra", F_DOUBLE), FIELD("dec", F_DOUBLE)
};
static const RecordSpec ztf_source = SPEC(ztf_source_fields);

enum
{
	ZF_PID, ZF_JD, ZF_FID, ZF_FLUX, ZF_FLUXUNC, ZF_MAGZP
};
static const FieldSpec ztf_forced_fields[] = {
	FIELD("pid", F_LONG), FIELD("jd", F_DOUBLE), FIELD("fid", F_LONG),
	FIELD("forcediffimflux", F_DOUBLE), FIELD("forcediffimfluxunc", F_DOUBLE), FIELD("magzpsci", F_DOUBLE)
};
static const RecordSpec ztf_forced = SPEC(ztf_forced_fields);

enum
{
	ZA_OBJECTID, ZA_CANDID, ZA_CANDIDATE, ZA_PRV, ZA_FP
};
static const FieldSpec ztf_alert_fields[] = {
	FIELD("objectId", F_STRING), FIELD("candid", F_LONG), {"candidate", F_RECORD, 0, &ztf_source},
	{"prv_candidates", F_ARRAY, 1, &ztf_source}, {"fp_hists", F_ARRAY, 1, &ztf_forced}
};
static const RecordSpec ztf_alert = SPEC(ztf_alert_fields);

/* Rubin diaSource and diaForcedSource: one layout but for the id's name. */
enum
{
	RS_ID, RS_OBJECT, RS_MJD, RS_BAND, RS_FLUX, RS_FLUXERR, RS_RA, RS_DEC
};
static const FieldSpec rubin_source_fields[] = {
	FIELD("diaSourceId", F_LONG), FIELD("diaObjectId", F_LONG), FIELD("midpointMjdTai", F_DOUBLE),
	FIELD("band", F_STRING), FIELD("psfFlux", F_DOUBLE), FIELD("psfFluxErr", F_DOUBLE),
	FIELD("ra", F_DOUBLE), FIELD("dec", F_DOUBLE)
};
static const RecordSpec rubin_source = SPEC(rubin_source_fields);
static const FieldSpec rubin_forced_fields[] = {
	FIELD("diaForcedSourceId", F_LONG), FIELD("diaObjectId", F_LONG), FIELD("midpointMjdTai", F_DOUBLE),
	FIELD("band", F_STRING), FIELD("psfFlux", F_DOUBLE), FIELD("psfFluxErr", F_DOUBLE),
	FIELD("ra", F_DOUBLE), FIELD("dec", F_DOUBLE)
};
static const RecordSpec rubin_forced = SPEC(rubin_forced_fields);

/* The alert's diaObject: the object of sources whose own diaObjectId is null. */
static const FieldSpec rubin_object_fields[] = {
	FIELD("diaObjectId", F_LONG)
};
static const RecordSpec rubin_object = SPEC(rubin_object_fields);

enum
{
	RA_ID, RA_SOURCE, RA_PRV, RA_FORCED, RA_OBJECT
};
static const FieldSpec rubin_alert_fields[] = {
	FIELD("diaSourceId", F_LONG), {"diaSource", F_RECORD, 0, &rubin_source},
	{"prvDiaSources", F_ARRAY, 1, &rubin_source},
	{"prvDiaForcedSources", F_ARRAY, 1, &rubin_forced},
	{"diaObject", F_RECORD, 1, &rubin_object}
};
static const RecordSpec rubin_alert = SPEC(rubin_alert_fields);

/* ------------------------------------------------------ libavro's memory */

/*
 * libavro leaks on some error paths of its own (a string or bytes value cut
 * short by the end of the buffer keeps the buffer it allocated for it; found
 * by test/fuzz), so the kernel cannot free everything by releasing the
 * objects it holds.  Instead libavro allocates through this allocator
 * (alert_decode_init), which links every block of the calling thread's
 * current decode into a list; at the end of alert_decode, whatever the
 * status, the blocks still in the list -- libavro's leaks -- are freed.
 * Outside a decode (a program writing packets with libavro) blocks are not
 * linked.  Cost: 16 bytes and two pointer updates per libavro allocation.
 *
 * libavro also allocates a string or bytes value as long as the length the
 * datum claims before it reads it: a corrupt length asks for gigabytes.  No
 * value decoded from n bytes needs more than ~32 n (a generic record of a
 * dozen fields per few bytes of datum, doubled as an array grows), so inside
 * a decode a libavro allocation above 256 n + 1 MB (n: the packet, or its
 * largest inflated block, plus the schema text) is refused, and the decode
 * fails as CORRUPT rather than NO_MEMORY.
 */
typedef struct AvroBlock
{
	struct AvroBlock *prev;
	struct AvroBlock *next;
} AvroBlock;

/* The current decode's list (a ring with a head), or NULL outside a decode. */
static _Thread_local AvroBlock *avro_blocks;
static _Thread_local size_t avro_alloc_limit;
static _Thread_local int avro_alloc_refused;

/* The allocation limit of a decode of n bytes (see above). */
static void
set_alloc_limit(size_t n)
{
	size_t		limit = n > (SIZE_MAX - (1 << 20)) / 256 ? SIZE_MAX : 256 * n + (1 << 20);

	if (limit > avro_alloc_limit)
		avro_alloc_limit = limit;
}

/* A call's start: the limit of n bytes, nothing refused yet. */
static void
reset_alloc_limit(size_t n)
{
	avro_alloc_limit = 0;
	avro_alloc_refused = 0;
	set_alloc_limit(n);
}

static void
block_unlink(AvroBlock *b)
{
	b->prev->next = b->next;
	b->next->prev = b->prev;
}

static void
block_link(AvroBlock *b)
{
	if (avro_blocks == NULL)
		b->prev = b->next = b;
	else
	{
		b->prev = avro_blocks;
		b->next = avro_blocks->next;
		b->next->prev = b;
		avro_blocks->next = b;
	}
}

static void *
tracking_allocator(void *user_data, void *ptr, size_t osize, size_t nsize)
{
	AvroBlock  *b = ptr ? (AvroBlock *) ptr - 1 : NULL,
			   *grown;

	(void) user_data;
	if (nsize > osize && avro_blocks != NULL && nsize > avro_alloc_limit)
	{
		avro_alloc_refused = 1;
		return NULL;
	}
	if (b)
		block_unlink(b);
	if (nsize == 0)
	{
		free(b);
		return NULL;
	}
	grown = nsize > SIZE_MAX - sizeof(AvroBlock) ? NULL : realloc(b, sizeof(AvroBlock) + nsize);
	if (grown == NULL)
	{
		if (b)
			block_link(b);
		return NULL;
	}
	block_link(grown);
	return grown + 1;
}

void
alert_decode_init(void)
{
	avro_set_allocator(tracking_allocator, NULL);
}

/* Frees the blocks libavro left in the list of the decode that ends. */
static void
blocks_free_rest(AvroBlock *head)
{
	while (head->next != head)
	{
		AvroBlock  *b = head->next;

		block_unlink(b);
		free(b);
	}
	avro_blocks = NULL;
}

/*
 * Blocks allocated while a writer schema is compiled belong to the compiled
 * schema, which may outlive the decode (a cache keeps it): they are taken
 * off the list, each linked to itself, so that blocks_free_rest leaves them
 * and a later free unlinks nothing.
 */
static void
blocks_detach(AvroBlock *head)
{
	while (head->next != head)
	{
		AvroBlock  *b = head->next;

		block_unlink(b);
		b->prev = b->next = b;
	}
}

/*
 * A writer schema compiled for decoding: the parsed writer, the reader
 * schema built for it, the reader's generic class and the resolver from one
 * to the other.  Immutable once built (libavro sizes a resolver's values
 * when it makes the resolver), so a cache may hand it to decode after decode.
 */
typedef struct CompiledSchema
{
	AlertSurvey survey;
	int			top_index[5];	/* reader index of each top-level field; -1: absent */
	avro_schema_t parsed;
	avro_schema_t reader;
	avro_value_iface_t *reader_iface;
	avro_value_iface_t *resolver;
} CompiledSchema;

/*
 * The cache: a few compiled schemas keyed by their text, least recently
 * used replaced.  A survey's stream or archive has one schema, a registry a
 * handful, so a linear scan over 8 entries is enough.  A lookup compares
 * the text with the most recent entry's copy, then hashes it (FNV-1a, ~1 ns
 * a byte: ~25 us for ZTF's 23 kB schema, against ~0.6 ms to compile it) and
 * compares it with the entry of the same hash.
 */
#define SCHEMA_CACHE_SIZE 8

typedef struct CacheEntry
{
	char	   *text;			/* from the cache's host; NULL: empty entry */
	size_t		len;
	uint64_t	hash;
	uint64_t	last_use;
	CompiledSchema *schema;
} CacheEntry;

struct AlertSchemaCache
{
	KernelHost	host;
	uint64_t	clock;
	CacheEntry	entries[SCHEMA_CACHE_SIZE];
};

/* Everything one call holds; decode_release() frees whatever is set. */
typedef struct Decoder
{
	const KernelHost *host;
	AlertSchemaCache *cache;	/* NULL: compile for this call only */
	AlertDecodeError *err;
	AlertResult *result;
	size_t		capacity;
	const CompiledSchema *schema;
	CompiledSchema *owned;		/* compiled for this call, no cache */
	avro_value_t value;			/* a reader-schema value */
	avro_value_t resolved;		/* the resolver's view of it */
	int			have_value;
	int			have_resolved;
	int64_t		alert_object;	/* Rubin: the alert's diaObject's id */
	int			have_alert_object;
	uint8_t    *inflated;		/* a deflate block, from the host */
	size_t		inflated_size;
} Decoder;

static AlertDecodeStatus fail(Decoder *d, AlertDecodeStatus status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static AlertDecodeStatus
fail(Decoder *d, AlertDecodeStatus status, const char *fmt,...)
{
	va_list		ap;

	d->err->status = status;
	va_start(ap, fmt);
	vsnprintf(d->err->message, sizeof(d->err->message), fmt, ap);
	va_end(ap);
	return status;
}

/*
 * A libavro failure: an allocation refused for its size is a corrupt length
 * (CORRUPT), ENOMEM otherwise NO_MEMORY, anything else the given status.
 */
static AlertDecodeStatus
fail_avro(Decoder *d, int rval, AlertDecodeStatus status, const char *what)
{
	if (avro_alloc_refused)
		return fail(d, ALERT_DECODE_CORRUPT, "%s: a length in the packet exceeds its size", what);
	if (rval == ENOMEM)
		return fail(d, ALERT_DECODE_NO_MEMORY, "out of memory %s", what);
	return fail(d, status, "%s: %s", what, avro_strerror());
}

/* ---------------------------------------------------------------- schemas */

static avro_schema_t
unlink_schema(avro_schema_t s)
{
	while (s != NULL && is_avro_link(s))
		s = avro_schema_link_target(s);
	return s;
}

/*
 * The record a writer field holds: itself, or the one non-null branch of a
 * union; an array's items when array.  A union of null and several other
 * types is refused (NULL): libavro would resolve every branch, and its
 * resolver crashes on an array branch whose items do not resolve.
 */
static avro_schema_t
writer_record(avro_schema_t s, int array)
{
	s = unlink_schema(s);
	if (is_avro_union(s))
	{
		size_t		n = avro_schema_union_size(s);
		avro_schema_t only = NULL;

		for (size_t i = 0; i < n; i++)
		{
			avro_schema_t b = unlink_schema(avro_schema_union_branch(s, (int) i));

			if (is_avro_null(b))
				continue;
			if (only != NULL)
				return NULL;
			only = b;
		}
		s = only;
	}
	if (array)
		s = s != NULL && is_avro_array(s) ? unlink_schema(avro_schema_array_items(s)) : NULL;
	return s != NULL && is_avro_record(s) ? s : NULL;
}

/*
 * The type of field name of record rec, or NULL.  (libavro's
 * avro_schema_record_field_get reads an unset pointer for a name the record
 * lacks; the index lookup says -1.)
 */
static avro_schema_t
field_type(avro_schema_t rec, const char *name)
{
	int			i = avro_schema_record_field_get_index(rec, name);

	return i < 0 ? NULL : avro_schema_record_field_get_by_index(rec, i);
}

/* ["null", t], consuming the caller's reference to t; NULL when out of memory. */
static avro_schema_t
nullable(avro_schema_t t)
{
	avro_schema_t u = t ? avro_schema_union() : NULL;
	avro_schema_t null = u ? avro_schema_null() : NULL;
	int			ok = null && avro_schema_union_append(u, null) == 0 &&
		avro_schema_union_append(u, t) == 0;

	if (null)
		avro_schema_decref(null);
	if (t)
		avro_schema_decref(t);
	if (!ok && u)
	{
		avro_schema_decref(u);
		u = NULL;
	}
	return u;
}

/* The isdiffpos union: ["null", "string", "long", "double"]. */
static avro_schema_t
sign_schema(void)
{
	avro_schema_t u = nullable(avro_schema_string());
	avro_schema_t l = u ? avro_schema_long() : NULL;
	avro_schema_t f = l ? avro_schema_double() : NULL;
	int			ok = f && avro_schema_union_append(u, l) == 0 &&
		avro_schema_union_append(u, f) == 0;

	if (l)
		avro_schema_decref(l);
	if (f)
		avro_schema_decref(f);
	if (!ok && u)
	{
		avro_schema_decref(u);
		u = NULL;
	}
	return u;
}

static AlertDecodeStatus build_record(Decoder *d, avro_schema_t wrec, const RecordSpec *spec,
									  const char *path, int *index, avro_schema_t *out);

/* Whether a writer primitive resolves into the reader type of t (Avro's promotions). */
static int
primitive_fits(avro_schema_t w, FieldType t)
{
	switch (t)
	{
		case F_LONG:
			return is_avro_int32(w) || is_avro_int64(w);
		case F_DOUBLE:
			return is_avro_int32(w) || is_avro_int64(w) || is_avro_float(w) || is_avro_double(w);
		case F_STRING:
			return is_avro_string(w);
		case F_SIGN:
			return is_avro_string(w) || is_avro_int32(w) || is_avro_int64(w) || is_avro_float(w) ||
				is_avro_double(w);
		default:
			return 0;
	}
}

/*
 * Whether a writer scalar field (a primitive, or a union of null and
 * primitives) resolves into the reader type of t.  Checked before libavro
 * builds the resolver, because libavro's resolver crashes (a NULL
 * dereference in try_array's clean-up, libavro 1.11) when an array's item
 * record has a field that does not resolve -- a string where a double is
 * read -- instead of failing; found by test/fuzz.
 */
static int
writer_fits(avro_schema_t w, FieldType t)
{
	w = unlink_schema(w);
	if (is_avro_union(w))
	{
		size_t		n = avro_schema_union_size(w);

		for (size_t i = 0; i < n; i++)
		{
			avro_schema_t b = unlink_schema(avro_schema_union_branch(w, (int) i));

			if (!is_avro_null(b) && !primitive_fits(b, t))
				return 0;
		}
		return 1;
	}
	return primitive_fits(w, t);
}

/* The reader type of one field; path names it in messages ("candidate.jd"). */
static AlertDecodeStatus
build_field(Decoder *d, avro_schema_t wtype, const FieldSpec *f, const char *path,
			avro_schema_t *out)
{
	avro_schema_t sub;
	AlertDecodeStatus status;

	if (f->type != F_RECORD && f->type != F_ARRAY && !writer_fits(wtype, f->type))
		return fail(d, ALERT_DECODE_NOT_AN_ALERT, "field \"%s\" of the writer schema has type %s, not %s",
					path, avro_schema_type_name(unlink_schema(wtype)),
					f->type == F_STRING ? "string" : f->type == F_LONG ? "an integer type" : "a number type");
	switch (f->type)
	{
		case F_LONG:
			*out = nullable(avro_schema_long());
			break;
		case F_DOUBLE:
			*out = nullable(avro_schema_double());
			break;
		case F_STRING:
			*out = nullable(avro_schema_string());
			break;
		case F_SIGN:
			*out = sign_schema();
			break;
		case F_RECORD:
		case F_ARRAY:
			{
				avro_schema_t wrec = writer_record(wtype, f->type == F_ARRAY);

				if (wrec == NULL)
					return fail(d, ALERT_DECODE_NOT_AN_ALERT,
								"field \"%s\" of the writer schema is not %s", path,
								f->type == F_ARRAY ? "an array of records" : "a record");
				status = build_record(d, wrec, f->sub, path, NULL, &sub);
				if (status != ALERT_DECODE_OK)
					return status;
				if (f->type == F_ARRAY)
				{
					avro_schema_t arr = avro_schema_array(sub);

					avro_schema_decref(sub);
					sub = arr;
				}
				*out = nullable(sub);
				break;
			}
	}
	if (*out == NULL)
		return fail(d, ALERT_DECODE_NO_MEMORY, "out of memory building the reader schema");
	return ALERT_DECODE_OK;
}

/*
 * A reader record named as the writer's record wrec, with spec's fields;
 * index[i] gets the reader position of spec field i (-1 when an optional
 * field is absent from the writer).  The message of a missing field names
 * it by its path from the alert and the writer record's full name.
 */
static AlertDecodeStatus
build_record(Decoder *d, avro_schema_t wrec, const RecordSpec *spec, const char *path,
			 int *index, avro_schema_t *out)
{
	avro_schema_t rec = avro_schema_record(avro_schema_name(wrec), avro_schema_namespace(wrec));
	int			next = 0;

	if (rec == NULL)
		return fail(d, ALERT_DECODE_NO_MEMORY, "out of memory building the reader schema");
	for (int i = 0; i < spec->nfields; i++)
	{
		const FieldSpec *f = &spec->fields[i];
		avro_schema_t wtype = field_type(wrec, f->name);
		avro_schema_t rtype = NULL;
		char		fpath[128];
		AlertDecodeStatus status;
		int			rval;

		snprintf(fpath, sizeof(fpath), "%s%s%s", path, *path ? "." : "", f->name);
		if (index)
			index[i] = -1;
		if (wtype == NULL && f->optional)
			continue;
		if (wtype == NULL)
		{
			const char *ns = avro_schema_namespace(wrec);

			avro_schema_decref(rec);
			return fail(d, ALERT_DECODE_MISSING_FIELD,
						"writer schema record \"%s%s%s\" lacks the field \"%s\"",
						ns ? ns : "", ns ? "." : "", avro_schema_name(wrec), fpath);
		}
		status = build_field(d, wtype, f, fpath, &rtype);
		if (status != ALERT_DECODE_OK)
		{
			avro_schema_decref(rec);
			return status;
		}
		rval = avro_schema_record_field_append(rec, f->name, rtype);
		avro_schema_decref(rtype);
		if (rval != 0)
		{
			avro_schema_decref(rec);
			return fail_avro(d, rval, ALERT_DECODE_BAD_SCHEMA, "building the reader schema");
		}
		if (index)
			index[i] = next;
		next++;
	}
	*out = rec;
	return ALERT_DECODE_OK;
}

static void
compiled_free(const KernelHost *host, CompiledSchema *c)
{
	if (c == NULL)
		return;
	if (c->resolver)
		avro_value_iface_decref(c->resolver);
	if (c->reader_iface)
		avro_value_iface_decref(c->reader_iface);
	if (c->reader)
		avro_schema_decref(c->reader);
	if (c->parsed)
		avro_schema_decref(c->parsed);
	host_free(host, c);
}

/* Parses the writer schema text and builds its reader and resolver into c. */
static AlertDecodeStatus
compile_into(Decoder *d, const char *text, size_t len, CompiledSchema *c)
{
	const RecordSpec *spec;
	avro_schema_t w;
	AlertDecodeStatus status;
	int			rval;

	if ((rval = avro_schema_from_json_length(text, len, &c->parsed)) != 0)
	{
		c->parsed = NULL;
		return fail_avro(d, rval, ALERT_DECODE_BAD_SCHEMA, "parsing the writer schema");
	}
	w = unlink_schema(c->parsed);
	if (!is_avro_record(w))
		return fail(d, ALERT_DECODE_NOT_AN_ALERT, "the writer schema is a %s, not an alert record",
					w ? avro_schema_type_name(w) : "nothing");
	if (field_type(w, "candidate") != NULL)
		c->survey = ALERT_ZTF, spec = &ztf_alert;
	else if (field_type(w, "diaSource") != NULL)
		c->survey = ALERT_RUBIN, spec = &rubin_alert;
	else
		return fail(d, ALERT_DECODE_NOT_AN_ALERT,
					"writer schema record \"%s\" has neither \"candidate\" (ZTF) nor \"diaSource\" (Rubin)",
					avro_schema_name(w));
	status = build_record(d, w, spec, "", c->top_index, &c->reader);
	if (status != ALERT_DECODE_OK)
		return status;
	c->reader_iface = avro_generic_class_from_schema(c->reader);
	if (c->reader_iface == NULL)
		return fail_avro(d, 0, ALERT_DECODE_NO_MEMORY, "building the reader");
	c->resolver = avro_resolved_writer_new(w, c->reader);
	if (c->resolver == NULL)
		return fail(d, ALERT_DECODE_MISSING_FIELD,
					"writer schema \"%s\" does not resolve into the %s reader: %s",
					avro_schema_name(w), c->survey == ALERT_ZTF ? "ZTF" : "Rubin", avro_strerror());
	return ALERT_DECODE_OK;
}

/*
 * A compiled schema from host's memory, or NULL and d->err set.  libavro's
 * blocks are tracked on a list of the compile's own: kept (detached) when
 * it succeeds, freed with whatever libavro leaked when it fails.
 */
static CompiledSchema *
compile(Decoder *d, const KernelHost *host, const char *text, size_t len)
{
	AvroBlock  *outer = avro_blocks;
	AvroBlock	head = {&head, &head};
	CompiledSchema *c = host_alloc(host, sizeof(CompiledSchema));
	AlertDecodeStatus status;

	if (c == NULL)
	{
		fail(d, ALERT_DECODE_NO_MEMORY, "out of memory compiling the writer schema");
		return NULL;
	}
	*c = (CompiledSchema) {0};
	avro_blocks = &head;
	status = compile_into(d, text, len, c);
	if (status != ALERT_DECODE_OK)
	{
		compiled_free(host, c);
		c = NULL;
		blocks_free_rest(&head);
	}
	else
		blocks_detach(&head);
	avro_blocks = outer;
	return c;
}

static uint64_t
text_hash(const char *text, size_t len)
{
	uint64_t	h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t) text[i]) * 1099511628211ULL;
	return h;
}

/*
 * The cache's compiled schema of text, compiling and keeping it on a miss.
 * The most recently used entry is compared first, without hashing: a
 * stream of one schema costs a memcmp of its text per call (~1 us for
 * 20 kB, where hashing it byte by byte costs ~20 us).
 */
static const CompiledSchema *
cache_lookup(Decoder *d, AlertSchemaCache *cache, const char *text, size_t len)
{
	uint64_t	hash;
	CacheEntry *victim = &cache->entries[0],
			   *recent = NULL;
	CompiledSchema *c;
	char	   *copy;

	for (int i = 0; i < SCHEMA_CACHE_SIZE; i++)
		if (cache->entries[i].text != NULL &&
			(recent == NULL || cache->entries[i].last_use > recent->last_use))
			recent = &cache->entries[i];
	if (recent != NULL && recent->len == len && memcmp(recent->text, text, len) == 0)
	{
		recent->last_use = ++cache->clock;
		return recent->schema;
	}
	hash = text_hash(text, len);
	for (int i = 0; i < SCHEMA_CACHE_SIZE; i++)
	{
		CacheEntry *e = &cache->entries[i];

		if (e->text != NULL && e->hash == hash && e->len == len && memcmp(e->text, text, len) == 0)
		{
			e->last_use = ++cache->clock;
			return e->schema;
		}
		if (e->text == NULL || (victim->text != NULL && e->last_use < victim->last_use))
			victim = e;
	}
	if ((c = compile(d, &cache->host, text, len)) == NULL)
		return NULL;
	if ((copy = host_alloc(&cache->host, len + 1)) == NULL)
	{
		compiled_free(&cache->host, c);
		fail(d, ALERT_DECODE_NO_MEMORY, "out of memory caching the writer schema");
		return NULL;
	}
	memcpy(copy, text, len);
	if (victim->text != NULL)
	{
		host_free(&cache->host, victim->text);
		compiled_free(&cache->host, victim->schema);
	}
	*victim = (CacheEntry) {copy, len, hash, ++cache->clock, c};
	return c;
}

/* The compiled writer schema and fresh values to read into. */
static AlertDecodeStatus
prepare(Decoder *d, const char *text, size_t len)
{
	int			rval;

	if (d->cache)
		d->schema = cache_lookup(d, d->cache, text, len);
	else
		d->schema = d->owned = compile(d, d->host, text, len);
	if (d->schema == NULL)
		return d->err->status;
	if ((rval = avro_generic_value_new(d->schema->reader_iface, &d->value)) != 0)
		return fail_avro(d, rval, ALERT_DECODE_NO_MEMORY, "making the reader value");
	d->have_value = 1;
	if ((rval = avro_resolved_writer_new_value(d->schema->resolver, &d->resolved)) != 0)
		return fail_avro(d, rval, ALERT_DECODE_NO_MEMORY, "making the resolver value");
	d->have_resolved = 1;
	avro_resolved_writer_set_dest(&d->resolved, &d->value);
	return ALERT_DECODE_OK;
}

static void
decode_release(Decoder *d)
{
	host_free(d->host, d->inflated);
	if (d->have_resolved)
		avro_value_decref(&d->resolved);
	if (d->have_value)
		avro_value_decref(&d->value);
	compiled_free(d->host, d->owned);
}

AlertSchemaCache *
alert_schema_cache_new(const KernelHost *host)
{
	AlertSchemaCache *cache = host_alloc(host, sizeof(AlertSchemaCache));

	if (cache != NULL)
		*cache = (AlertSchemaCache) {.host = *host};
	return cache;
}

void
alert_schema_cache_free(AlertSchemaCache *cache)
{
	KernelHost	host;

	if (cache == NULL)
		return;
	host = cache->host;
	for (int i = 0; i < SCHEMA_CACHE_SIZE; i++)
		if (cache->entries[i].text != NULL)
		{
			host_free(&host, cache->entries[i].text);
			compiled_free(&host, cache->entries[i].schema);
		}
	host_free(&host, cache);
}

/* ----------------------------------------------------------------- values */

/* The non-null branch of field idx of rec, or 0 when it is null or absent. */
static int
field(const avro_value_t *rec, int idx, avro_value_t *branch, int *which)
{
	avro_value_t f;
	int			disc;

	if (idx < 0 || avro_value_get_by_index(rec, (size_t) idx, &f, NULL) != 0 ||
		avro_value_get_discriminant(&f, &disc) != 0 || disc == 0 ||
		avro_value_get_current_branch(&f, branch) != 0)
		return 0;
	if (which)
		*which = disc;
	return 1;
}

static int
get_long(const avro_value_t *rec, int idx, int64_t *v)
{
	avro_value_t b;

	return field(rec, idx, &b, NULL) && avro_value_get_long(&b, v) == 0;
}

/* A finite double, or 0. */
static int
get_double(const avro_value_t *rec, int idx, double *v)
{
	avro_value_t b;

	return field(rec, idx, &b, NULL) && avro_value_get_double(&b, v) == 0 && isfinite(*v);
}

/* A string without its NUL, or 0. */
static int
get_string(const avro_value_t *rec, int idx, const char **s, size_t *len)
{
	avro_value_t b;
	size_t		size;

	if (!field(rec, idx, &b, NULL) || avro_value_get_string(&b, s, &size) != 0)
		return 0;
	*len = size > 0 ? size - 1 : 0;
	return 1;
}

static AlertDecodeStatus
push(Decoder *d, const AlertPoint *p)
{
	AlertResult *r = d->result;

	if (r->npoints == d->capacity)
	{
		size_t		cap = d->capacity ? 2 * d->capacity : 64;
		AlertPoint *grown = host_alloc_array(d->host, cap, sizeof(AlertPoint));

		if (grown == NULL)
			return fail(d, ALERT_DECODE_NO_MEMORY, "out of memory for %zu points", cap);
		if (r->npoints > 0)
			memcpy(grown, r->points, r->npoints * sizeof(AlertPoint));
		host_free(d->host, r->points);
		r->points = grown;
		d->capacity = cap;
	}
	r->points[r->npoints++] = *p;
	return ALERT_DECODE_OK;
}

/* ---------------------------------------------------------------------- ZTF */

/* flux in nJy of an AB magnitude: 31.4 is the AB magnitude of 1 nJy. */
static double
mag_to_njy(double m)
{
	return pow(10.0, -0.4 * (m - 31.4));
}

/* g, r or i from the fid field idx of rec. */
static AlertDecodeStatus
ztf_band(Decoder *d, const avro_value_t *rec, int idx, const char *path, char *band)
{
	int64_t		fid;

	if (!get_long(rec, idx, &fid))
		return fail(d, ALERT_DECODE_INVALID_VALUE, "%s.fid is null", path);
	if (fid < 1 || fid > 3)
		return fail(d, ALERT_DECODE_INVALID_VALUE, "%s.fid %lld is not 1, 2 or 3 (g, r, i)",
					path, (long long) fid);
	*band = "gri"[fid - 1];
	return ALERT_DECODE_OK;
}

/* +1 or -1 from isdiffpos in any of its encodings. */
static AlertDecodeStatus
ztf_sign(Decoder *d, const avro_value_t *rec, const char *path, double *sign)
{
	avro_value_t b;
	int			which;
	const char *s;
	size_t		size;
	int64_t		l;
	double		x;

	if (field(rec, ZS_ISDIFFPOS, &b, &which))
	{
		if (which == 1 && avro_value_get_string(&b, &s, &size) == 0)
		{
			static const char *const pos[] = {"t", "1", "1.0"};
			static const char *const neg[] = {"f", "0", "-1", "-1.0"};

			for (size_t i = 0; i < 3; i++)
				if (strcmp(s, pos[i]) == 0)
					return (*sign = 1.0), ALERT_DECODE_OK;
			for (size_t i = 0; i < 4; i++)
				if (strcmp(s, neg[i]) == 0)
					return (*sign = -1.0), ALERT_DECODE_OK;
			return fail(d, ALERT_DECODE_INVALID_VALUE, "%s.isdiffpos \"%.32s\" is not t, f, 1, 0, 1.0 or -1.0",
						path, s);
		}
		if (which == 2 && avro_value_get_long(&b, &l) == 0)
			x = (double) l;
		else if (which == 3 && avro_value_get_double(&b, &x) == 0)
			;
		else
			x = NAN;
		if (x == 1.0 || x == 0.0 || x == -1.0)
			return (*sign = x == 1.0 ? 1.0 : -1.0), ALERT_DECODE_OK;
		return fail(d, ALERT_DECODE_INVALID_VALUE, "%s.isdiffpos %g is not 1, 0 or -1", path, x);
	}
	return fail(d, ALERT_DECODE_INVALID_VALUE, "%s.isdiffpos is null beside a magpsf", path);
}

/* One candidate or prv_candidate entry; kind DETECTION or HISTORY. */
static AlertDecodeStatus
ztf_source_point(Decoder *d, const avro_value_t *rec, AlertPoint *p, AlertKind kind,
				 const char *path)
{
	double		jd, mag, sigma, sign = 1.0;
	AlertDecodeStatus status;

	p->kind = kind;
	p->ra = p->dec = NAN;
	if ((status = ztf_band(d, rec, ZS_FID, path, &p->band)) != ALERT_DECODE_OK)
		return status;
	if (!get_double(rec, ZS_JD, &jd))
		goto skip;
	p->mjd = jd - 2400000.5;
	if (get_double(rec, ZS_MAGPSF, &mag))
	{
		if (!get_double(rec, ZS_SIGMAPSF, &sigma) || !(sigma > 0) ||
			!get_long(rec, ZS_CANDID, &p->source_id))
			goto skip;
		if ((status = ztf_sign(d, rec, path, &sign)) != ALERT_DECODE_OK)
			return status;
		p->flux = mag_to_njy(mag);
		p->dflux = p->flux * 0.4 * log(10.0) * sigma;
		p->flux *= sign;
		if (!get_double(rec, ZS_RA, &p->ra) || !get_double(rec, ZS_DEC, &p->dec))
			p->ra = p->dec = NAN;
	}
	else if (kind == ALERT_HISTORY && get_double(rec, ZS_DIFFMAGLIM, &mag) &&
			 get_long(rec, ZS_PID, &p->source_id))
	{
		p->kind = ALERT_UPPER_LIMIT;
		p->flux = 0.0;
		p->dflux = mag_to_njy(mag) / 5.0;
	}
	else
		goto skip;
	if (!isfinite(p->flux) || !isfinite(p->dflux))
		goto skip;
	return push(d, p);
skip:
	d->result->nskipped++;
	return ALERT_DECODE_OK;
}

/* One fp_hists entry; kind FORCED. */
static AlertDecodeStatus
ztf_forced_point(Decoder *d, const avro_value_t *rec, AlertPoint *p, AlertKind kind,
				 const char *path)
{
	double		jd, flux, unc, zp, scale;
	AlertDecodeStatus status;

	p->kind = kind;
	p->ra = p->dec = NAN;
	if ((status = ztf_band(d, rec, ZF_FID, path, &p->band)) != ALERT_DECODE_OK)
		return status;
	if (!get_double(rec, ZF_JD, &jd) || !get_double(rec, ZF_FLUX, &flux) ||
		!get_double(rec, ZF_FLUXUNC, &unc) || !get_double(rec, ZF_MAGZP, &zp) ||
		!get_long(rec, ZF_PID, &p->source_id) ||
		flux == -99999.0 || unc == -99999.0 || zp == -99999.0 || !(unc > 0))
	{
		d->result->nskipped++;
		return ALERT_DECODE_OK;
	}
	scale = mag_to_njy(zp);
	p->mjd = jd - 2400000.5;
	p->flux = flux * scale;
	p->dflux = unc * scale;
	if (!isfinite(p->flux) || !isfinite(p->dflux))
	{
		d->result->nskipped++;
		return ALERT_DECODE_OK;
	}
	return push(d, p);
}

/* Each entry of the array field idx of alert, through fn. */
typedef AlertDecodeStatus (*EntryFn) (Decoder *d, const avro_value_t *rec, AlertPoint *p,
									  AlertKind kind, const char *path);

static AlertDecodeStatus
each_entry(Decoder *d, const avro_value_t *alert, int idx, const AlertPoint *proto,
		   AlertKind kind, const char *path, EntryFn fn)
{
	avro_value_t arr;
	size_t		n = 0;

	if (!field(alert, idx, &arr, NULL) || avro_value_get_size(&arr, &n) != 0)
		return ALERT_DECODE_OK;
	for (size_t i = 0; i < n; i++)
	{
		avro_value_t rec;
		AlertPoint	p = *proto;
		AlertDecodeStatus status;

		if (avro_value_get_by_index(&arr, i, &rec, NULL) != 0)
			return fail(d, ALERT_DECODE_CORRUPT, "%s[%zu] unreadable", path, i);
		if ((status = fn(d, &rec, &p, kind, path)) != ALERT_DECODE_OK)
			return status;
	}
	return ALERT_DECODE_OK;
}

static AlertDecodeStatus
ztf_alert_points(Decoder *d, const avro_value_t *alert)
{
	AlertPoint	proto = {.survey = ALERT_ZTF};
	avro_value_t cand;
	const char *name;
	size_t		len;
	AlertDecodeStatus status;

	if (!get_string(alert, d->schema->top_index[ZA_OBJECTID], &name, &len))
		return fail(d, ALERT_DECODE_INVALID_VALUE, "objectId is null");
	proto.object_id = alert_ztf_object_number(name, len);
	if (proto.object_id < 0)
		return fail(d, ALERT_DECODE_INVALID_VALUE, "objectId \"%.32s\" is not ZTF, two digits, seven letters a-z",
					name);
	memcpy(proto.object_name, name, len + 1);
	if (!get_long(alert, d->schema->top_index[ZA_CANDID], &proto.alert_id))
		return fail(d, ALERT_DECODE_INVALID_VALUE, "candid is null");
	if (!field(alert, d->schema->top_index[ZA_CANDIDATE], &cand, NULL))
		return fail(d, ALERT_DECODE_INVALID_VALUE, "candidate is null");
	{
		AlertPoint	p = proto;

		if ((status = ztf_source_point(d, &cand, &p, ALERT_DETECTION, "candidate")) != ALERT_DECODE_OK)
			return status;
	}
	if ((status = each_entry(d, alert, d->schema->top_index[ZA_PRV], &proto, ALERT_HISTORY,
							 "prv_candidates", ztf_source_point)) != ALERT_DECODE_OK)
		return status;
	return each_entry(d, alert, d->schema->top_index[ZA_FP], &proto, ALERT_FORCED, "fp_hists",
					  ztf_forced_point);
}

/* ------------------------------------------------------------------- Rubin */

static AlertDecodeStatus
rubin_point(Decoder *d, const avro_value_t *rec, AlertPoint *p, AlertKind kind,
			const char *path)
{
	const char *band;
	size_t		len;

	p->kind = kind;
	if (!get_long(rec, RS_OBJECT, &p->object_id))
	{
		if (!d->have_alert_object)
			goto skip;
		p->object_id = d->alert_object;
	}
	if (!get_string(rec, RS_BAND, &band, &len) || !get_long(rec, RS_ID, &p->source_id) ||
		!get_double(rec, RS_MJD, &p->mjd) || !get_double(rec, RS_FLUX, &p->flux) ||
		!get_double(rec, RS_FLUXERR, &p->dflux) || !(p->dflux > 0))
		goto skip;
	if (len != 1 || strchr("ugrizy", band[0]) == NULL)
		return fail(d, ALERT_DECODE_INVALID_VALUE, "%s.band \"%.16s\" is not one of u g r i z y",
					path, band);
	p->band = band[0];
	snprintf(p->object_name, sizeof(p->object_name), "%lld", (long long) p->object_id);
	if (!get_double(rec, RS_RA, &p->ra) || !get_double(rec, RS_DEC, &p->dec))
		p->ra = p->dec = NAN;
	return push(d, p);
skip:
	d->result->nskipped++;
	return ALERT_DECODE_OK;
}

static AlertDecodeStatus
rubin_alert_points(Decoder *d, const avro_value_t *alert)
{
	AlertPoint	proto = {.survey = ALERT_RUBIN};
	avro_value_t src,
				object;
	AlertDecodeStatus status;

	d->have_alert_object = field(alert, d->schema->top_index[RA_OBJECT], &object, NULL) &&
		get_long(&object, 0, &d->alert_object);

	if (!get_long(alert, d->schema->top_index[RA_ID], &proto.alert_id))
		return fail(d, ALERT_DECODE_INVALID_VALUE, "diaSourceId is null");
	if (!field(alert, d->schema->top_index[RA_SOURCE], &src, NULL))
		return fail(d, ALERT_DECODE_INVALID_VALUE, "diaSource is null");
	{
		AlertPoint	p = proto;

		if ((status = rubin_point(d, &src, &p, ALERT_DETECTION, "diaSource")) != ALERT_DECODE_OK)
			return status;
	}
	if ((status = each_entry(d, alert, d->schema->top_index[RA_PRV], &proto, ALERT_HISTORY,
							 "prvDiaSources", rubin_point)) != ALERT_DECODE_OK)
		return status;
	return each_entry(d, alert, d->schema->top_index[RA_FORCED], &proto, ALERT_FORCED,
					  "prvDiaForcedSources", rubin_point);
}

/* The points of the alert just read into d->value; polls the host first. */
static AlertDecodeStatus
alert_points(Decoder *d)
{
	if (host_poll(d->host))
		return fail(d, ALERT_DECODE_INTERRUPTED, "interrupted");
	d->result->nalerts++;
	return d->schema->survey == ALERT_ZTF ? ztf_alert_points(d, &d->value)
		: rubin_alert_points(d, &d->value);
}

/* --------------------------------------------------------------- framings */

/*
 * The object-container framing (Avro 1.x spec, "Object Container Files"):
 * the magic, a metadata map of bytes (avro.schema, avro.codec), a 16-byte
 * sync marker, then blocks of (count, size, data, sync).  The kernel reads
 * this framing itself, with bounds checks, and gives each block's datums to
 * libavro: libavro's file reader takes a FILE only and leaks what it
 * allocated when a header is corrupt.  Codecs: null and deflate (zlib).
 */
#define SYNC_SIZE 16

/* A zig-zag varint long at *pos; 0 when cut short or longer than 10 bytes. */
static int
read_long(const uint8_t *buf, size_t len, size_t *pos, int64_t *out)
{
	uint64_t	u = 0;

	for (int shift = 0; shift < 70; shift += 7)
	{
		uint8_t		b;

		if (*pos >= len)
			return 0;
		b = buf[(*pos)++];
		u |= (uint64_t) (b & 0x7f) << shift;
		if (!(b & 0x80))
		{
			*out = (int64_t) (u >> 1) ^ -(int64_t) (u & 1);
			return 1;
		}
	}
	return 0;
}

/* A length-prefixed byte string that fits in the buffer. */
static int
read_span(const uint8_t *buf, size_t len, size_t *pos, const uint8_t **p, size_t *n)
{
	int64_t		l;

	if (!read_long(buf, len, pos, &l) || l < 0 || (uint64_t) l > len - *pos)
		return 0;
	*p = buf + *pos;
	*n = (size_t) l;
	*pos += *n;
	return 1;
}

static int
span_is(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* The header: writer schema and codec spans, sync marker; *pos after it. */
static AlertDecodeStatus
read_header(Decoder *d, const uint8_t *buf, size_t len, size_t *pos, const uint8_t **schema,
			size_t *schema_len, int *deflate, const uint8_t **sync)
{
	int64_t		count,
				size;

	*schema = NULL;
	*deflate = 0;
	*pos = 4;
	for (;;)
	{
		if (!read_long(buf, len, pos, &count) || count == INT64_MIN ||
			(count < 0 && !read_long(buf, len, pos, &size)))
			return fail(d, ALERT_DECODE_CORRUPT, "container header cut short");
		if (count == 0)
			break;
		for (int64_t i = 0; i < (count < 0 ? -count : count); i++)
		{
			const uint8_t *k,
					   *v;
			size_t		kn,
						vn;

			if (!read_span(buf, len, pos, &k, &kn) || !read_span(buf, len, pos, &v, &vn))
				return fail(d, ALERT_DECODE_CORRUPT, "container header cut short");
			if (span_is(k, kn, "avro.schema"))
				*schema = v, *schema_len = vn;
			else if (span_is(k, kn, "avro.codec") && span_is(v, vn, "deflate"))
				*deflate = 1;
			else if (span_is(k, kn, "avro.codec") && !span_is(v, vn, "null"))
				return fail(d, ALERT_DECODE_BAD_FRAMING, "container codec \"%.*s\" is not null or deflate",
							(int) (vn < 32 ? vn : 32), (const char *) v);
		}
	}
	if (*schema == NULL)
		return fail(d, ALERT_DECODE_BAD_SCHEMA, "container header has no avro.schema");
	if (len - *pos < SYNC_SIZE)
		return fail(d, ALERT_DECODE_CORRUPT, "container header cut short");
	*sync = buf + *pos;
	*pos += SYNC_SIZE;
	return ALERT_DECODE_OK;
}

/* A deflate block inflated into d->inflated (host memory, grown as needed). */
static AlertDecodeStatus
inflate_block(Decoder *d, const uint8_t *data, size_t n, size_t *out_len)
{
	z_stream	z = {0};
	int			rc;

	if (inflateInit2(&z, -15) != Z_OK)
		return fail(d, ALERT_DECODE_NO_MEMORY, "out of memory inflating a block");
	z.next_in = (Bytef *) data;
	z.avail_in = (uInt) n;
	*out_len = 0;
	do
	{
		if (*out_len == d->inflated_size)
		{
			size_t		size = d->inflated_size ? 2 * d->inflated_size : 4 * n + 1024;
			uint8_t    *grown = size > UINT32_MAX ? NULL : host_alloc(d->host, size);

			if (grown == NULL)
			{
				inflateEnd(&z);
				return fail(d, ALERT_DECODE_NO_MEMORY, "out of memory inflating a block");
			}
			if (*out_len > 0)
				memcpy(grown, d->inflated, *out_len);
			host_free(d->host, d->inflated);
			d->inflated = grown;
			d->inflated_size = size;
		}
		z.next_out = d->inflated + *out_len;
		z.avail_out = (uInt) (d->inflated_size - *out_len);
		rc = inflate(&z, Z_NO_FLUSH);
		*out_len = d->inflated_size - z.avail_out;
	} while (rc == Z_OK);
	inflateEnd(&z);
	if (rc != Z_STREAM_END)
		return fail(d, ALERT_DECODE_CORRUPT, "deflate block is corrupt");
	set_alloc_limit(*out_len);
	return ALERT_DECODE_OK;
}

/* count datums filling data[0 .. n) exactly. */
static AlertDecodeStatus
decode_block(Decoder *d, const uint8_t *data, size_t n, int64_t count)
{
	AlertDecodeStatus status = ALERT_DECODE_OK;
	char		extra;
	avro_reader_t r = avro_reader_memory((const char *) data, (int64_t) n);

	if (r == NULL)
		return fail(d, ALERT_DECODE_NO_MEMORY, "out of memory reading a block");
	for (int64_t i = 0; i < count && status == ALERT_DECODE_OK; i++)
	{
		int			rval = avro_value_read(r, &d->resolved);

		d->err->alert = d->result->nalerts + 1;
		status = rval != 0 ? fail_avro(d, rval, ALERT_DECODE_CORRUPT, "reading an alert")
			: alert_points(d);
	}
	if (status == ALERT_DECODE_OK && avro_read(r, &extra, 1) == 0)
		status = fail(d, ALERT_DECODE_CORRUPT, "bytes after the last alert of a block");
	avro_reader_free(r);
	return status;
}

static AlertDecodeStatus
decode_container(Decoder *d, const uint8_t *buf, size_t len)
{
	const uint8_t *schema = NULL,
			   *sync = NULL;
	size_t		schema_len = 0,
				pos = 0;
	int			deflate;
	AlertDecodeStatus status;

	if (len < 4 || memcmp(buf, "Obj\x01", 4) != 0)
		return fail(d, ALERT_DECODE_BAD_FRAMING, "not an Avro object-container file (no \"Obj\\x01\" magic)");
	if ((status = read_header(d, buf, len, &pos, &schema, &schema_len, &deflate, &sync)) != ALERT_DECODE_OK)
		return status;
	if ((status = prepare(d, (const char *) schema, schema_len)) != ALERT_DECODE_OK)
		return status;
	while (pos < len)
	{
		int64_t		count;
		const uint8_t *data;
		size_t		n;

		if (!read_long(buf, len, &pos, &count) || count < 0 || !read_span(buf, len, &pos, &data, &n) ||
			len - pos < SYNC_SIZE)
			return fail(d, ALERT_DECODE_CORRUPT, "container block cut short");
		if (memcmp(buf + pos, sync, SYNC_SIZE) != 0)
			return fail(d, ALERT_DECODE_CORRUPT, "container block without its sync marker");
		pos += SYNC_SIZE;
		if (deflate && (status = inflate_block(d, data, n, &n)) != ALERT_DECODE_OK)
			return status;
		if ((status = decode_block(d, deflate ? d->inflated : data, n, count)) != ALERT_DECODE_OK)
			return status;
	}
	return ALERT_DECODE_OK;
}

static AlertDecodeStatus
decode_bare(Decoder *d, const uint8_t *buf, size_t len, const char *schema, size_t schema_len)
{
	avro_reader_t r;
	AlertDecodeStatus status;
	int			rval;
	char		extra;

	if (schema == NULL)
		return fail(d, ALERT_DECODE_BAD_SCHEMA, "a bare or Confluent-framed datum needs its writer schema");
	if ((status = prepare(d, schema, schema_len)) != ALERT_DECODE_OK)
		return status;
	r = avro_reader_memory((const char *) buf, (int64_t) len);
	if (r == NULL)
		return fail(d, ALERT_DECODE_NO_MEMORY, "out of memory opening the datum");
	rval = avro_value_read(r, &d->resolved);
	if (rval != 0)
		status = fail_avro(d, rval, ALERT_DECODE_CORRUPT, "reading the datum");
	else if (avro_read(r, &extra, 1) == 0)	/* avro_reader_is_eof knows files only */
		status = fail(d, ALERT_DECODE_CORRUPT, "bytes after the end of the datum");
	else
		status = alert_points(d);
	avro_reader_free(r);
	return status;
}

AlertDecodeStatus
alert_schema_survey(const KernelHost *host, const char *schema, size_t len, AlertSurvey *survey,
					AlertDecodeError *err)
{
	Decoder		d = {.host = host, .err = err};
	CompiledSchema *c;

	*err = (AlertDecodeError) {0};
	reset_alloc_limit(len);
	c = compile(&d, host, schema, len);
	if (c == NULL)
		return err->status;
	*survey = c->survey;
	compiled_free(host, c);
	return ALERT_DECODE_OK;
}

AlertDecodeStatus
alert_confluent_schema_id(const uint8_t *buf, size_t len, int32_t *schema_id)
{
	if (len < 5 || buf[0] != 0)
		return ALERT_DECODE_BAD_FRAMING;
	*schema_id = (int32_t) (((uint32_t) buf[1] << 24) | ((uint32_t) buf[2] << 16) |
							((uint32_t) buf[3] << 8) | buf[4]);
	return ALERT_DECODE_OK;
}

AlertDecodeStatus
alert_decode(const KernelHost *host, AlertSchemaCache *cache, const uint8_t *buf, size_t len,
			 AlertFraming framing, const char *writer_schema, size_t schema_len,
			 AlertResult *result, AlertDecodeError *err)
{
	Decoder		d = {.host = host, .cache = cache, .err = err, .result = result};
	AlertDecodeStatus status;
	int32_t		id;
	AvroBlock	head = {&head, &head};

	avro_blocks = &head;
	reset_alloc_limit(len + schema_len);
	*result = (AlertResult) {0};
	*err = (AlertDecodeError) {0};
	switch (framing)
	{
		case ALERT_CONTAINER:
			status = decode_container(&d, buf, len);
			break;
		case ALERT_CONFLUENT:
			if (alert_confluent_schema_id(buf, len, &id) != ALERT_DECODE_OK)
				status = fail(&d, ALERT_DECODE_BAD_FRAMING,
							  "not a Confluent-framed message (a zero byte and a 4-byte schema id)");
			else
				status = decode_bare(&d, buf + 5, len - 5, writer_schema, schema_len);
			break;
		case ALERT_BARE:
			status = decode_bare(&d, buf, len, writer_schema, schema_len);
			break;
		default:
			status = fail(&d, ALERT_DECODE_BAD_FRAMING, "unknown framing %d", (int) framing);
	}
	decode_release(&d);
	blocks_free_rest(&head);
	if (status != ALERT_DECODE_OK)
		alert_result_free(host, result);
	else
		err->alert = 0;
	return status;
}

void
alert_result_free(const KernelHost *host, AlertResult *result)
{
	host_free(host, result->points);
	*result = (AlertResult) {0};
}

/* ---------------------------------------------------------------- ids */

#define ZTF_LETTERS 7

int64_t
alert_ztf_object_number(const char *name, size_t len)
{
	int64_t		n;

	if (len != 5 + ZTF_LETTERS || memcmp(name, "ZTF", 3) != 0 ||
		name[3] < '0' || name[3] > '9' || name[4] < '0' || name[4] > '9')
		return -1;
	n = (name[3] - '0') * 10 + (name[4] - '0');
	for (int i = 5; i < 5 + ZTF_LETTERS; i++)
	{
		if (name[i] < 'a' || name[i] > 'z')
			return -1;
		n = n * 26 + (name[i] - 'a');
	}
	return n;
}

int
alert_ztf_object_name(int64_t number, char name[ALERT_OBJECT_NAME_SIZE])
{
	int64_t		letters = 1;

	for (int i = 0; i < ZTF_LETTERS; i++)
		letters *= 26;
	if (number < 0 || number >= 100 * letters)
		return -1;
	memcpy(name, "ZTF", 3);
	name[3] = (char) ('0' + number / letters / 10);
	name[4] = (char) ('0' + number / letters % 10);
	for (int i = 4 + ZTF_LETTERS; i >= 5; i--, number /= 26)
		name[i] = (char) ('a' + number % 26);
	name[5 + ZTF_LETTERS] = '\0';
	return 0;
}

const char *
alert_decode_status_name(AlertDecodeStatus status)
{
	switch (status)
	{
		case ALERT_DECODE_OK:
			return "ok";
		case ALERT_DECODE_BAD_FRAMING:
			return "bad framing";
		case ALERT_DECODE_BAD_SCHEMA:
			return "bad writer schema";
		case ALERT_DECODE_NOT_AN_ALERT:
			return "not an alert";
		case ALERT_DECODE_MISSING_FIELD:
			return "missing field";
		case ALERT_DECODE_CORRUPT:
			return "corrupt packet";
		case ALERT_DECODE_INVALID_VALUE:
			return "invalid value";
		case ALERT_DECODE_NO_MEMORY:
			return "out of memory";
		case ALERT_DECODE_INTERRUPTED:
			return "interrupted";
	}
	return "unknown status";
}

AlertKind
alert_stored_kind(AlertKind kind)
{
	return kind == ALERT_HISTORY ? ALERT_DETECTION : kind;
}

const char *
alert_kind_name(AlertKind kind)
{
	switch (kind)
	{
		case ALERT_DETECTION:
			return "detection";
		case ALERT_HISTORY:
			return "history";
		case ALERT_FORCED:
			return "forced";
		case ALERT_UPPER_LIMIT:
			return "upper_limit";
	}
	return "unknown";
}
