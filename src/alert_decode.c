/*
 * alert_decode.c
 *		ZTF and Rubin Avro alert packets to photometric points (see
 *		alert_decode.h for the framings, the points and the rules).
 *
 * Plain C, no PostgreSQL headers; libavro only parses writer schemas.
 * Errors come back as an AlertDecodeError that the caller turns into its
 * own kind of report.
 *
 * Cost (test_alert_decode's "decode rate" lines and bench/alerts.py, -O2,
 * one core of the shared development machine).  Per call with the schema
 * compiled each time: the real ZTF 3.2 packet (74 kB, 29 points, three
 * ~20 kB cutouts skipped) ~0.7 ms, 1,450 alerts/s, nearly all of it
 * parsing the 23 kB schema; a Rubin bare datum of 3 sources ~70 us.  With
 * the schema cached: the ZTF packet ~18 us, 56,000 alerts/s (comparing its
 * schema text with the cached one; a cutout is skipped by its length); the
 * Rubin datum ~0.9 us; a Rubin-format alert of 20 full-size sources (7 kB)
 * ~17 us, 59,000 alerts/s, and of 100 (33 kB) ~82 us: 5.0-5.2 times
 * libavro decoding the same bytes into a generic value of the writer
 * schema (this kernel did no better when libavro's resolver read the
 * datum for it).
 * Per alert, then, the cost is linear in the datum's bytes (every field is
 * walked, read or skipped: ~2.5 ns a byte) plus ~0.2 us per point kept.
 */
#include "alert_decode.h"

#include <avro.h>
#include <errno.h>
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
 * libavro parses writer schemas (JSON, through jansson) and nothing else:
 * datums are read by the kernel's own reader below.  libavro has leaked on
 * error paths of its own (found by test/fuzz), so the kernel cannot free
 * everything by releasing the objects it holds.  Instead libavro allocates
 * through this allocator (alert_decode_init), which links every block of
 * the calling thread's current compile into a list; once the compile ends,
 * whatever the status, its schema objects are released and the blocks
 * still in the list -- libavro's leaks -- are freed.  Outside a compile (a
 * program writing packets with libavro) blocks are not linked.  Cost: 16
 * bytes and two pointer updates per libavro allocation.
 */
typedef struct AvroBlock
{
	struct AvroBlock *prev;
	struct AvroBlock *next;
} AvroBlock;

/* The current compile's list (a ring with a head), or NULL outside one. */
static _Thread_local AvroBlock *avro_blocks;

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
	(void) osize;
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

/* Frees the blocks libavro left in the list of the compile that ends. */
static void
blocks_free_rest(AvroBlock *head)
{
	while (head->next != head)
	{
		AvroBlock  *b = head->next;

		block_unlink(b);
		free(b);
	}
}

/* ------------------------------------------------------- compiled schemas */

/*
 * A writer schema compiled into a tree of steps, one a writer type, that
 * the reader walks in step with a datum's bytes (Avro's binary encoding
 * has no tags: the writer schema says what comes next).  A step the alert
 * needs carries the field slot it fills in the record being read and the
 * type it becomes (Avro's promotions: int to long, int, long and float to
 * double); every other step only skips its bytes.  A read record carries
 * the RecordSpec whose fields its slots are, so the rules below see any
 * writer version of a record -- fields in any order, with any others, each
 * nullable or not -- as the spec's fields in the spec's order.
 *
 * Skipped named records are compiled once per schema node and shared, so
 * a recursive writer type is a cycle of steps, not an endless compile
 * (the reader bounds the datum's nesting instead).
 */
typedef enum StepOp
{
	OP_NULL,
	OP_BOOLEAN,
	OP_INT,
	OP_LONG,
	OP_FLOAT,
	OP_DOUBLE,
	OP_BYTES,					/* and string */
	OP_FIXED,
	OP_ENUM,
	OP_UNION,
	OP_ARRAY,
	OP_MAP,
	OP_RECORD
} StepOp;

typedef struct Decoder Decoder;

typedef struct Step
{
	StepOp		op;
	int			slot;			/* field of the record being read it fills; -1: skipped */
	FieldType	as;				/* what a read scalar is */
	int64_t		size;			/* bytes of OP_FLOAT, OP_DOUBLE, OP_FIXED; OP_ENUM symbols */
	int			nsub;
	int			sub;			/* subs[sub .. sub + nsub): union branches, record fields in
								 * writer order, array or map items */
	const RecordSpec *spec;		/* a read record's fields; NULL: skipped */
} Step;

/* One host block: this header, then steps[nsteps], then subs[nsubs]; steps[0] the alert. */
typedef struct CompiledSchema
{
	AlertSurvey survey;
	const Step *steps;
	const int  *subs;
} CompiledSchema;

/* A skipped writer record and its step. */
typedef struct Memo
{
	avro_schema_t schema;
	int			step;
} Memo;

/*
 * What one compile builds and needs: growing arrays of steps, of their
 * children's indexes, and of the skipped records met so far.
 */
typedef struct Compile
{
	const KernelHost *host;
	Decoder    *d;
	AlertSurvey survey;
	Step	   *steps;
	size_t		nsteps,
				steps_capacity;
	int		   *subs;
	size_t		nsubs,
				subs_capacity;
	Memo	   *memo;
	size_t		nmemo,
				memo_capacity;
} Compile;

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

/*
 * A datum's values as read: each read record is spec->nfields consecutive
 * Values of Decoder.values (field i of the spec at offset i), the top-level
 * alert at offset 0.  A record-valued field holds its record's offset, an
 * array its first item's offset and the item count; the items of a read
 * array are consecutive records because every array the specs read is of
 * records of scalars.  Strings point into the datum's bytes.
 */
typedef enum ValueType
{
	V_NULL,						/* null, or absent from the writer */
	V_LONG,
	V_DOUBLE,
	V_STRING,
	V_RECORD,
	V_ARRAY
} ValueType;

typedef struct Value
{
	ValueType	type;
	union
	{
		int64_t		l;
		double		d;
		struct
		{
			const char *p;
			size_t		len;
		}			s;
		struct
		{
			size_t		first;
			size_t		count;
			size_t		stride;
		}			rec;
	}			u;
} Value;

/* Everything one call holds; decode_release() frees whatever is set. */
struct Decoder
{
	const KernelHost *host;
	AlertSchemaCache *cache;	/* NULL: compile for this call only */
	AlertDecodeError *err;
	AlertResult *result;
	size_t		capacity;
	const CompiledSchema *schema;
	CompiledSchema *owned;		/* compiled for this call, no cache */
	Value	   *values;			/* the datum being read, from the host */
	size_t		nvalues;
	size_t		values_capacity;
	uint64_t	items_left;		/* array and map items the datum may still hold */
	int64_t		alert_object;	/* Rubin: the alert's diaObject's id */
	int			have_alert_object;
	uint8_t    *inflated;		/* a deflate block, from the host */
	size_t		inflated_size;
};

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
 * types is refused (NULL): which branch holds the alert's record would be
 * a guess.
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

/* Whether a writer primitive reads as t (Avro's promotions). */
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

/* Whether a writer scalar field (a primitive, or a union of null and primitives) reads as t. */
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

/* Room for one more of *n elements of size in *array; 0 when out of memory. */
static int
grow(const KernelHost *host, void **array, size_t n, size_t *capacity, size_t size, size_t more)
{
	size_t		cap = *capacity ? *capacity : 64;
	void	   *grown;

	if (*capacity - n >= more)
		return 1;
	while (cap - n < more)
		cap *= 2;
	if ((grown = host_alloc_array(host, cap, size)) == NULL)
		return 0;
	if (n > 0)
		memcpy(grown, *array, n * size);
	host_free(host, *array);
	*array = grown;
	*capacity = cap;
	return 1;
}

#define NO_MEMORY_COMPILING(d) fail(d, ALERT_DECODE_NO_MEMORY, "out of memory compiling the writer schema")

/* A new step with nsub children to come (-1 each); its index, or -1 when out of memory. */
static int
step_new(Compile *cp, StepOp op, int slot, FieldType as, int nsub)
{
	if (!grow(cp->host, (void **) &cp->steps, cp->nsteps, &cp->steps_capacity, sizeof(Step), 1) ||
		!grow(cp->host, (void **) &cp->subs, cp->nsubs, &cp->subs_capacity, sizeof(int), (size_t) nsub) ||
		cp->nsteps >= INT32_MAX || cp->nsubs >= INT32_MAX - (size_t) nsub)
		return -1;
	cp->steps[cp->nsteps] = (Step) {.op = op, .slot = slot, .as = as, .nsub = nsub,
	.sub = (int) cp->nsubs};
	for (int i = 0; i < nsub; i++)
		cp->subs[cp->nsubs++] = -1;
	return (int) cp->nsteps++;
}

static AlertDecodeStatus compile_type(Compile *cp, avro_schema_t w, int slot, FieldType as,
									  const RecordSpec *spec, const char *path, int *out);

/* A skipped record, shared by every use of the same writer record. */
static AlertDecodeStatus
compile_skipped_record(Compile *cp, avro_schema_t w, int *out)
{
	int			n = (int) avro_schema_record_size(w);
	int			s,
				child;
	AlertDecodeStatus status;

	for (size_t i = 0; i < cp->nmemo; i++)
		if (cp->memo[i].schema == w)
			return (*out = cp->memo[i].step), ALERT_DECODE_OK;
	if (!grow(cp->host, (void **) &cp->memo, cp->nmemo, &cp->memo_capacity, sizeof(Memo), 1) ||
		(s = step_new(cp, OP_RECORD, -1, F_RECORD, n)) < 0)
		return NO_MEMORY_COMPILING(cp->d);
	cp->memo[cp->nmemo++] = (Memo) {w, s};
	for (int i = 0; i < n; i++)
	{
		if ((status = compile_type(cp, avro_schema_record_field_get_by_index(w, i), -1, F_RECORD,
								   NULL, "", &child)) != ALERT_DECODE_OK)
			return status;
		cp->subs[cp->steps[s].sub + i] = child;
	}
	*out = s;
	return ALERT_DECODE_OK;
}

/* Whether writer field type wtype can be read as spec field f; path names it in the message. */
static AlertDecodeStatus
check_field(Compile *cp, avro_schema_t wtype, const FieldSpec *f, const char *path)
{
	if (f->type == F_RECORD || f->type == F_ARRAY)
	{
		if (writer_record(wtype, f->type == F_ARRAY) == NULL)
			return fail(cp->d, ALERT_DECODE_NOT_AN_ALERT, "field \"%s\" of the writer schema is not %s",
						path, f->type == F_ARRAY ? "an array of records" : "a record");
	}
	else if (!writer_fits(wtype, f->type))
		return fail(cp->d, ALERT_DECODE_NOT_AN_ALERT, "field \"%s\" of the writer schema has type %s, not %s",
					path, avro_schema_type_name(unlink_schema(wtype)),
					f->type == F_STRING ? "string" : f->type == F_LONG ? "an integer type" : "a number type");
	return ALERT_DECODE_OK;
}

/*
 * A read record: writer record w seen through spec, its slots filled by
 * the writer's fields the spec names.  The message of a missing field
 * names it by its path from the alert and the writer record's full name.
 */
static AlertDecodeStatus
compile_read_record(Compile *cp, avro_schema_t w, int slot, const RecordSpec *spec,
					const char *path, int *out)
{
	int			n = (int) avro_schema_record_size(w);
	int			s = step_new(cp, OP_RECORD, slot, F_RECORD, n),
				child;
	AlertDecodeStatus status;

	if (s < 0)
		return NO_MEMORY_COMPILING(cp->d);
	cp->steps[s].spec = spec;
	for (int k = 0; k < spec->nfields; k++)
		if (field_type(w, spec->fields[k].name) == NULL && !spec->fields[k].optional)
		{
			const char *ns = avro_schema_namespace(w);

			return fail(cp->d, ALERT_DECODE_MISSING_FIELD,
						"writer schema record \"%s%s%s\" lacks the field \"%s%s%s\"",
						ns ? ns : "", ns ? "." : "", avro_schema_name(w), path, *path ? "." : "",
						spec->fields[k].name);
		}
	for (int i = 0; i < n; i++)
	{
		const char *name = avro_schema_record_field_name(w, i);
		avro_schema_t wtype = avro_schema_record_field_get_by_index(w, i);
		int			k = 0;
		char		fpath[128];

		while (k < spec->nfields && strcmp(spec->fields[k].name, name) != 0)
			k++;
		if (k == spec->nfields)
			status = compile_type(cp, wtype, -1, F_RECORD, NULL, "", &child);
		else
		{
			snprintf(fpath, sizeof(fpath), "%s%s%s", path, *path ? "." : "", name);
			if ((status = check_field(cp, wtype, &spec->fields[k], fpath)) == ALERT_DECODE_OK)
				status = compile_type(cp, wtype, k, spec->fields[k].type, spec->fields[k].sub, fpath,
									  &child);
		}
		if (status != ALERT_DECODE_OK)
			return status;
		cp->subs[cp->steps[s].sub + i] = child;
	}
	*out = s;
	return ALERT_DECODE_OK;
}

/* The scalar steps of Avro's primitive types and fixed and enum; -1 for the others. */
static int
scalar_op(avro_type_t type)
{
	switch (type)
	{
		case AVRO_NULL:
			return OP_NULL;
		case AVRO_BOOLEAN:
			return OP_BOOLEAN;
		case AVRO_INT32:
			return OP_INT;
		case AVRO_INT64:
			return OP_LONG;
		case AVRO_FLOAT:
			return OP_FLOAT;
		case AVRO_DOUBLE:
			return OP_DOUBLE;
		case AVRO_STRING:
		case AVRO_BYTES:
			return OP_BYTES;
		case AVRO_FIXED:
			return OP_FIXED;
		case AVRO_ENUM:
			return OP_ENUM;
		default:
			return -1;
	}
}

/*
 * The step of writer type w.  slot >= 0: the value fills that field of the
 * record being read, as type as (spec: the record a read record or array
 * holds); slot -1: skipped.
 */
static AlertDecodeStatus
compile_type(Compile *cp, avro_schema_t w, int slot, FieldType as, const RecordSpec *spec,
			 const char *path, int *out)
{
	int			s,
				op,
				child;
	AlertDecodeStatus status;

	if ((w = unlink_schema(w)) == NULL)
		return fail(cp->d, ALERT_DECODE_BAD_SCHEMA, "the writer schema names a type it does not define");
	if ((op = scalar_op(avro_typeof(w))) >= 0)
	{
		if ((s = step_new(cp, (StepOp) op, op == OP_NULL ? -1 : slot, as, 0)) < 0)
			return NO_MEMORY_COMPILING(cp->d);
		cp->steps[s].size = op == OP_FIXED ? avro_schema_fixed_size(w)
			: op == OP_ENUM ? avro_schema_enum_number_of_symbols(w)
			: op == OP_FLOAT ? 4 : op == OP_DOUBLE ? 8 : 0;
		return (*out = s), ALERT_DECODE_OK;
	}
	switch (avro_typeof(w))
	{
		case AVRO_UNION:
			{
				int			n = (int) avro_schema_union_size(w);

				if ((s = step_new(cp, OP_UNION, slot, as, n)) < 0)
					return NO_MEMORY_COMPILING(cp->d);
				for (int i = 0; i < n; i++)
				{
					if ((status = compile_type(cp, avro_schema_union_branch(w, i), slot, as, spec, path,
											   &child)) != ALERT_DECODE_OK)
						return status;
					cp->subs[cp->steps[s].sub + i] = child;
				}
				return (*out = s), ALERT_DECODE_OK;
			}
		case AVRO_ARRAY:
		case AVRO_MAP:
			{
				int			array = avro_typeof(w) == AVRO_ARRAY;
				avro_schema_t items = array ? avro_schema_array_items(w) : avro_schema_map_values(w);

				if ((s = step_new(cp, array ? OP_ARRAY : OP_MAP, slot, as, 1)) < 0)
					return NO_MEMORY_COMPILING(cp->d);
				cp->steps[s].spec = spec;
				/* check_field saw that a read array's items are a record, not a union */
				status = spec != NULL && slot >= 0
					? compile_read_record(cp, unlink_schema(items), -1, spec, path, &child)
					: compile_type(cp, items, -1, F_RECORD, NULL, "", &child);
				if (status != ALERT_DECODE_OK)
					return status;
				cp->subs[cp->steps[s].sub] = child;
				return (*out = s), ALERT_DECODE_OK;
			}
		case AVRO_RECORD:
			return spec != NULL && slot >= 0 ? compile_read_record(cp, w, slot, spec, path, out)
				: compile_skipped_record(cp, w, out);
		default:
			return fail(cp->d, ALERT_DECODE_BAD_SCHEMA, "the writer schema has a type of unknown kind %d",
						(int) avro_typeof(w));
	}
}

/* The compile's steps packed into one host block; NULL when out of memory. */
static CompiledSchema *
compiled_pack(Compile *cp)
{
	size_t		steps_bytes = cp->nsteps * sizeof(Step);
	CompiledSchema *c = host_alloc(cp->host, sizeof(CompiledSchema) + steps_bytes +
								   cp->nsubs * sizeof(int));
	Step	   *steps;

	if (c == NULL)
		return NULL;
	steps = (Step *) (c + 1);
	memcpy(steps, cp->steps, steps_bytes);
	if (cp->nsubs > 0)
		memcpy((char *) steps + steps_bytes, cp->subs, cp->nsubs * sizeof(int));
	*c = (CompiledSchema) {cp->survey, steps, (const int *) ((char *) steps + steps_bytes)};
	return c;
}

/* Parses the writer schema text (libavro) and compiles its steps, the alert's first. */
static AlertDecodeStatus
compile_into(Compile *cp, const char *text, size_t len, avro_schema_t *parsed)
{
	const RecordSpec *spec;
	avro_schema_t w;
	int			root,
				rval = avro_schema_from_json_length(text, len, parsed);

	if (rval != 0)
	{
		*parsed = NULL;
		if (rval == ENOMEM)
			return fail(cp->d, ALERT_DECODE_NO_MEMORY, "out of memory parsing the writer schema");
		return fail(cp->d, ALERT_DECODE_BAD_SCHEMA, "parsing the writer schema: %s", avro_strerror());
	}
	w = unlink_schema(*parsed);
	if (!is_avro_record(w))
		return fail(cp->d, ALERT_DECODE_NOT_AN_ALERT, "the writer schema is a %s, not an alert record",
					w ? avro_schema_type_name(w) : "nothing");
	if (field_type(w, "candidate") != NULL)
		cp->survey = ALERT_ZTF, spec = &ztf_alert;
	else if (field_type(w, "diaSource") != NULL)
		cp->survey = ALERT_RUBIN, spec = &rubin_alert;
	else
		return fail(cp->d, ALERT_DECODE_NOT_AN_ALERT,
					"writer schema record \"%s\" has neither \"candidate\" (ZTF) nor \"diaSource\" (Rubin)",
					avro_schema_name(w));
	return compile_read_record(cp, w, -1, spec, "", &root);
}

/*
 * A compiled schema from host's memory, or NULL and d->err set.  Every
 * libavro object is released before it returns (the steps are the kernel's
 * own), and whatever libavro leaked freed.
 */
static CompiledSchema *
compile(Decoder *d, const KernelHost *host, const char *text, size_t len)
{
	AvroBlock	head = {&head, &head};
	Compile		cp = {.host = host, .d = d};
	avro_schema_t parsed = NULL;
	AlertDecodeStatus status;
	CompiledSchema *c = NULL;

	avro_blocks = &head;
	status = compile_into(&cp, text, len, &parsed);
	if (parsed != NULL)
		avro_schema_decref(parsed);
	blocks_free_rest(&head);
	avro_blocks = NULL;
	if (status == ALERT_DECODE_OK && (c = compiled_pack(&cp)) == NULL)
		NO_MEMORY_COMPILING(d);
	host_free(host, cp.steps);
	host_free(host, cp.subs);
	host_free(host, cp.memo);
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
		host_free(&cache->host, c);
		fail(d, ALERT_DECODE_NO_MEMORY, "out of memory caching the writer schema");
		return NULL;
	}
	memcpy(copy, text, len);
	if (victim->text != NULL)
	{
		host_free(&cache->host, victim->text);
		host_free(&cache->host, victim->schema);
	}
	*victim = (CacheEntry) {copy, len, hash, ++cache->clock, c};
	return c;
}

/* The compiled writer schema of the call. */
static AlertDecodeStatus
prepare(Decoder *d, const char *text, size_t len)
{
	if (d->cache)
		d->schema = cache_lookup(d, d->cache, text, len);
	else
		d->schema = d->owned = compile(d, d->host, text, len);
	return d->schema == NULL ? d->err->status : ALERT_DECODE_OK;
}

static void
decode_release(Decoder *d)
{
	host_free(d->host, d->inflated);
	host_free(d->host, d->values);
	host_free(d->host, d->owned);
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
			host_free(&host, cache->entries[i].schema);
		}
	host_free(&host, cache);
}

/* ------------------------------------------------------------ the reader */

/*
 * Avro's binary encoding (specification 1.11, "Binary Encoding"), read with
 * a bounds check before every byte.  Nothing a datum says is trusted: a
 * length or a count beyond the bytes left, a union branch or enum symbol
 * out of range, an int beyond 32 bits, nesting deeper than MAX_NESTING
 * (a recursive writer type) are CORRUPT.  Arrays and maps of items that
 * take no bytes (nulls, empty records) cannot be bounded by the bytes left,
 * so a datum of n bytes may hold at most 64 n + 65536 items in all.
 * Cost: O(bytes of the datum); an array or map block written with its byte
 * size is skipped in O(1) when nothing in it is read.
 */
#define MAX_NESTING 64

typedef struct Reader
{
	const uint8_t *p;
	const uint8_t *end;
} Reader;

static AlertDecodeStatus
cut_short(Decoder *d)
{
	return fail(d, ALERT_DECODE_CORRUPT, "the datum is cut short or a length in it exceeds it");
}

/* A zig-zag varint of at most 10 bytes; 0 when cut short or longer. */
static inline int
reader_long(Reader *r, int64_t *out)
{
	uint64_t	u = 0;

	for (int shift = 0; shift < 70 && r->p < r->end; shift += 7)
	{
		uint8_t		b = *r->p++;

		u |= (uint64_t) (b & 0x7f) << shift;
		if (!(b & 0x80))
		{
			*out = (int64_t) (u >> 1) ^ -(int64_t) (u & 1);
			return 1;
		}
	}
	return 0;
}

/* Little-endian IEEE 754, whatever the host's byte order. */
static inline double
reader_double(const uint8_t *p, int size)
{
	uint64_t	u = 0;

	for (int i = size - 1; i >= 0; i--)
		u = u << 8 | p[i];
	if (size == 4)
	{
		uint32_t	u32 = (uint32_t) u;
		float		f;

		memcpy(&f, &u32, sizeof(f));
		return f;
	}
	{
		double		x;

		memcpy(&x, &u, sizeof(x));
		return x;
	}
}

/* A new read record of spec at the end of d->values, all null; its offset or (size_t) -1. */
static size_t
values_add_record(Decoder *d, const RecordSpec *spec)
{
	size_t		first = d->nvalues;
	size_t		n = (size_t) spec->nfields;

	if (d->values_capacity - d->nvalues < n)
	{
		size_t		cap = d->values_capacity ? 2 * d->values_capacity : 256;
		Value	   *grown;

		while (cap - d->nvalues < n)
			cap *= 2;
		if ((grown = host_alloc_array(d->host, cap, sizeof(Value))) == NULL)
			return (size_t) -1;
		if (d->nvalues > 0)
			memcpy(grown, d->values, d->nvalues * sizeof(Value));
		host_free(d->host, d->values);
		d->values = grown;
		d->values_capacity = cap;
	}
	for (size_t i = 0; i < n; i++)
		d->values[first + i].type = V_NULL;
	d->nvalues += n;
	return first;
}

static AlertDecodeStatus read_step(Decoder *d, Reader *r, const Step *s, size_t rec, int depth);

/* Child i of step s. */
static inline const Step *
sub_step(const Decoder *d, const Step *s, int i)
{
	return &d->schema->steps[d->schema->subs[s->sub + i]];
}

/* Array or map blocks: (count, [byte size when count < 0], items) until a count of 0. */
static AlertDecodeStatus
read_blocks(Decoder *d, Reader *r, const Step *s, size_t rec, int depth)
{
	size_t		first = d->nvalues,
				count = 0;
	int64_t		n,
				size;
	AlertDecodeStatus status;

	for (;;)
	{
		if (!reader_long(r, &n))
			return cut_short(d);
		if (n == 0)
			break;
		if (n < 0)
		{
			if (n == INT64_MIN || !reader_long(r, &size) || size < 0 || size > r->end - r->p)
				return cut_short(d);
			n = -n;
			if (s->slot < 0)
			{
				r->p += size;	/* nothing in it is read */
				continue;
			}
		}
		if ((uint64_t) n > d->items_left)
			return fail(d, ALERT_DECODE_CORRUPT, "an array or map block claims %lld items, more than the "
						"datum can hold", (long long) n);
		d->items_left -= (uint64_t) n;
		for (int64_t i = 0; i < n; i++)
		{
			if (s->op == OP_MAP)
			{
				if (!reader_long(r, &size) || size < 0 || size > r->end - r->p)
					return cut_short(d);
				r->p += size;	/* the key */
			}
			if ((status = read_step(d, r, sub_step(d, s, 0), rec, depth + 1)) != ALERT_DECODE_OK)
				return status;
		}
		count += (size_t) n;
	}
	if (s->slot >= 0)
		d->values[rec + (size_t) s->slot] = (Value) {V_ARRAY, .u.rec = {first, count,
		(size_t) s->spec->nfields}};
	return ALERT_DECODE_OK;
}

/* A read record: its values added, its slot in the parent set, its fields read. */
static AlertDecodeStatus
read_record(Decoder *d, Reader *r, const Step *s, size_t rec, int depth)
{
	size_t		first = rec;
	AlertDecodeStatus status;

	if (s->spec != NULL)
	{
		if ((first = values_add_record(d, s->spec)) == (size_t) -1)
			return fail(d, ALERT_DECODE_NO_MEMORY, "out of memory reading the datum");
		if (s->slot >= 0)
			d->values[rec + (size_t) s->slot] = (Value) {V_RECORD, .u.rec = {first, 1, 0}};
	}
	for (int i = 0; i < s->nsub; i++)
		if ((status = read_step(d, r, sub_step(d, s, i), first, depth + 1)) != ALERT_DECODE_OK)
			return status;
	return ALERT_DECODE_OK;
}

/* One datum of step s; a read value goes to field s->slot of the record at offset rec. */
static AlertDecodeStatus
read_step(Decoder *d, Reader *r, const Step *s, size_t rec, int depth)
{
	int64_t		l;
	Value	   *v;

	if (depth > MAX_NESTING)
		return fail(d, ALERT_DECODE_CORRUPT, "the datum nests deeper than %d levels", MAX_NESTING);
	switch (s->op)
	{
		case OP_NULL:
			return ALERT_DECODE_OK;
		case OP_BOOLEAN:
			if (r->p >= r->end)
				return cut_short(d);
			r->p++;
			return ALERT_DECODE_OK;
		case OP_INT:
		case OP_LONG:
		case OP_ENUM:
			if (!reader_long(r, &l))
				return cut_short(d);
			if (s->op != OP_LONG && (l < INT32_MIN || l > INT32_MAX))
				return fail(d, ALERT_DECODE_CORRUPT, "an int of the datum exceeds 32 bits");
			if (s->op == OP_ENUM && (l < 0 || l >= s->size))
				return fail(d, ALERT_DECODE_CORRUPT, "enum symbol %lld of %lld", (long long) l,
							(long long) s->size);
			if (s->slot >= 0)
			{
				v = &d->values[rec + (size_t) s->slot];
				if (s->as == F_DOUBLE)
					*v = (Value) {V_DOUBLE, .u.d = (double) l};
				else
					*v = (Value) {V_LONG, .u.l = l};
			}
			return ALERT_DECODE_OK;
		case OP_FLOAT:
		case OP_DOUBLE:
			if (r->end - r->p < s->size)
				return cut_short(d);
			if (s->slot >= 0)
				d->values[rec + (size_t) s->slot] = (Value) {V_DOUBLE,
				.u.d = reader_double(r->p, (int) s->size)};
			r->p += s->size;
			return ALERT_DECODE_OK;
		case OP_BYTES:
			if (!reader_long(r, &l) || l < 0 || l > r->end - r->p)
				return cut_short(d);
			if (s->slot >= 0)
				d->values[rec + (size_t) s->slot] = (Value) {V_STRING,
				.u.s = {(const char *) r->p, (size_t) l}};
			r->p += l;
			return ALERT_DECODE_OK;
		case OP_FIXED:
			if (r->end - r->p < s->size)
				return cut_short(d);
			r->p += s->size;
			return ALERT_DECODE_OK;
		case OP_UNION:
			if (!reader_long(r, &l))
				return cut_short(d);
			if (l < 0 || l >= s->nsub)
				return fail(d, ALERT_DECODE_CORRUPT, "union branch %lld of %d", (long long) l, s->nsub);
			return read_step(d, r, sub_step(d, s, (int) l), rec, depth);
		case OP_ARRAY:
		case OP_MAP:
			return read_blocks(d, r, s, rec, depth);
		case OP_RECORD:
			return read_record(d, r, s, rec, depth);
	}
	return fail(d, ALERT_DECODE_CORRUPT, "unknown step %d", (int) s->op);
}

/* One alert datum at r into d->values; the top-level record at offset 0. */
static AlertDecodeStatus
read_datum(Decoder *d, Reader *r)
{
	d->nvalues = 0;
	d->items_left = 64 * (uint64_t) (r->end - r->p) + 65536;
	return read_record(d, r, &d->schema->steps[0], 0, 0);
}

/* ----------------------------------------------------------------- values */

/* The field idx of the read record rec if it has type t, else NULL. */
static inline const Value *
value_of(const Value *rec, int idx, ValueType t)
{
	return rec[idx].type == t ? &rec[idx] : NULL;
}

static int
get_long(const Value *rec, int idx, int64_t *v)
{
	const Value *f = value_of(rec, idx, V_LONG);

	return f && ((*v = f->u.l), 1);
}

/* A finite double, or 0. */
static int
get_double(const Value *rec, int idx, double *v)
{
	const Value *f = value_of(rec, idx, V_DOUBLE);

	return f && isfinite(f->u.d) && ((*v = f->u.d), 1);
}

/* A string (not NUL-terminated), or 0. */
static int
get_string(const Value *rec, int idx, const char **s, size_t *len)
{
	const Value *f = value_of(rec, idx, V_STRING);

	return f && ((*s = f->u.s.p), (*len = f->u.s.len), 1);
}

/* The record in field idx of rec, or NULL when it is null or absent. */
static const Value *
get_record(const Decoder *d, const Value *rec, int idx)
{
	const Value *f = value_of(rec, idx, V_RECORD);

	return f ? d->values + f->u.rec.first : NULL;
}

static int
span_is(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
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
ztf_band(Decoder *d, const Value *rec, int idx, const char *path, char *band)
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
ztf_sign(Decoder *d, const Value *rec, const char *path, double *sign)
{
	const Value *v = &rec[ZS_ISDIFFPOS];
	double		x;

	if (v->type == V_STRING)
	{
		static const char *const pos[] = {"t", "1", "1.0"};
		static const char *const neg[] = {"f", "0", "-1", "-1.0"};
		const uint8_t *s = (const uint8_t *) v->u.s.p;

		for (size_t i = 0; i < 3; i++)
			if (span_is(s, v->u.s.len, pos[i]))
				return (*sign = 1.0), ALERT_DECODE_OK;
		for (size_t i = 0; i < 4; i++)
			if (span_is(s, v->u.s.len, neg[i]))
				return (*sign = -1.0), ALERT_DECODE_OK;
		return fail(d, ALERT_DECODE_INVALID_VALUE, "%s.isdiffpos \"%.*s\" is not t, f, 1, 0, 1.0 or -1.0",
					path, (int) (v->u.s.len < 32 ? v->u.s.len : 32), v->u.s.p);
	}
	if (v->type == V_NULL)
		return fail(d, ALERT_DECODE_INVALID_VALUE, "%s.isdiffpos is null beside a magpsf", path);
	x = v->type == V_LONG ? (double) v->u.l : v->u.d;
	if (x == 1.0 || x == 0.0 || x == -1.0)
		return (*sign = x == 1.0 ? 1.0 : -1.0), ALERT_DECODE_OK;
	return fail(d, ALERT_DECODE_INVALID_VALUE, "%s.isdiffpos %g is not 1, 0 or -1", path, x);
}

/* One candidate or prv_candidate entry; kind DETECTION or HISTORY. */
static AlertDecodeStatus
ztf_source_point(Decoder *d, const Value *rec, AlertPoint *p, AlertKind kind,
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
ztf_forced_point(Decoder *d, const Value *rec, AlertPoint *p, AlertKind kind,
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
typedef AlertDecodeStatus (*EntryFn) (Decoder *d, const Value *rec, AlertPoint *p,
									  AlertKind kind, const char *path);

static AlertDecodeStatus
each_entry(Decoder *d, const Value *alert, int idx, const AlertPoint *proto,
		   AlertKind kind, const char *path, EntryFn fn)
{
	const Value *arr = value_of(alert, idx, V_ARRAY);

	for (size_t i = 0; arr != NULL && i < arr->u.rec.count; i++)
	{
		AlertPoint	p = *proto;
		AlertDecodeStatus status;

		if ((status = fn(d, d->values + arr->u.rec.first + i * arr->u.rec.stride, &p, kind,
						 path)) != ALERT_DECODE_OK)
			return status;
	}
	return ALERT_DECODE_OK;
}

static AlertDecodeStatus
ztf_alert_points(Decoder *d, const Value *alert)
{
	AlertPoint	proto = {.survey = ALERT_ZTF};
	const Value *cand;
	const char *name;
	size_t		len;
	AlertDecodeStatus status;

	if (!get_string(alert, ZA_OBJECTID, &name, &len))
		return fail(d, ALERT_DECODE_INVALID_VALUE, "objectId is null");
	proto.object_id = alert_ztf_object_number(name, len);
	if (proto.object_id < 0)
		return fail(d, ALERT_DECODE_INVALID_VALUE, "objectId \"%.*s\" is not ZTF, two digits, seven letters a-z",
					(int) (len < 32 ? len : 32), name);
	memcpy(proto.object_name, name, len);
	proto.object_name[len] = '\0';
	if (!get_long(alert, ZA_CANDID, &proto.alert_id))
		return fail(d, ALERT_DECODE_INVALID_VALUE, "candid is null");
	if ((cand = get_record(d, alert, ZA_CANDIDATE)) == NULL)
		return fail(d, ALERT_DECODE_INVALID_VALUE, "candidate is null");
	{
		AlertPoint	p = proto;

		if ((status = ztf_source_point(d, cand, &p, ALERT_DETECTION, "candidate")) != ALERT_DECODE_OK)
			return status;
	}
	if ((status = each_entry(d, alert, ZA_PRV, &proto, ALERT_HISTORY,
							 "prv_candidates", ztf_source_point)) != ALERT_DECODE_OK)
		return status;
	return each_entry(d, alert, ZA_FP, &proto, ALERT_FORCED, "fp_hists",
					  ztf_forced_point);
}

/* ------------------------------------------------------------------- Rubin */

static AlertDecodeStatus
rubin_point(Decoder *d, const Value *rec, AlertPoint *p, AlertKind kind,
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
rubin_alert_points(Decoder *d, const Value *alert)
{
	AlertPoint	proto = {.survey = ALERT_RUBIN};
	const Value *src,
			   *object = get_record(d, alert, RA_OBJECT);
	AlertDecodeStatus status;

	d->have_alert_object = object != NULL && get_long(object, 0, &d->alert_object);

	if (!get_long(alert, RA_ID, &proto.alert_id))
		return fail(d, ALERT_DECODE_INVALID_VALUE, "diaSourceId is null");
	if ((src = get_record(d, alert, RA_SOURCE)) == NULL)
		return fail(d, ALERT_DECODE_INVALID_VALUE, "diaSource is null");
	{
		AlertPoint	p = proto;

		if ((status = rubin_point(d, src, &p, ALERT_DETECTION, "diaSource")) != ALERT_DECODE_OK)
			return status;
	}
	if ((status = each_entry(d, alert, RA_PRV, &proto, ALERT_HISTORY,
							 "prvDiaSources", rubin_point)) != ALERT_DECODE_OK)
		return status;
	return each_entry(d, alert, RA_FORCED, &proto, ALERT_FORCED,
					  "prvDiaForcedSources", rubin_point);
}

/* One alert datum at r, and its points; polls the host first. */
static AlertDecodeStatus
alert_points(Decoder *d, Reader *r)
{
	AlertDecodeStatus status;

	if (host_poll(d->host))
		return fail(d, ALERT_DECODE_INTERRUPTED, "interrupted");
	if ((status = read_datum(d, r)) != ALERT_DECODE_OK)
		return status;
	d->result->nalerts++;
	return d->schema->survey == ALERT_ZTF ? ztf_alert_points(d, d->values)
		: rubin_alert_points(d, d->values);
}

/* --------------------------------------------------------------- framings */

/*
 * The object-container framing (Avro 1.x spec, "Object Container Files"):
 * the magic, a metadata map of bytes (avro.schema, avro.codec), a 16-byte
 * sync marker, then blocks of (count, size, data, sync), read with bounds
 * checks.  Codecs: null and deflate (zlib).
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
	return ALERT_DECODE_OK;
}

/* count datums filling data[0 .. n) exactly. */
static AlertDecodeStatus
decode_block(Decoder *d, const uint8_t *data, size_t n, int64_t count)
{
	Reader		r = {data, data + n};
	AlertDecodeStatus status = ALERT_DECODE_OK;

	for (int64_t i = 0; i < count && status == ALERT_DECODE_OK; i++)
	{
		d->err->alert = d->result->nalerts + 1;
		status = alert_points(d, &r);
	}
	if (status == ALERT_DECODE_OK && r.p != r.end)
		status = fail(d, ALERT_DECODE_CORRUPT, "bytes after the last alert of a block");
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
	Reader		r = {buf, buf + len};
	AlertDecodeStatus status;

	if (schema == NULL)
		return fail(d, ALERT_DECODE_BAD_SCHEMA, "a bare or Confluent-framed datum needs its writer schema");
	if ((status = prepare(d, schema, schema_len)) != ALERT_DECODE_OK)
		return status;
	if ((status = alert_points(d, &r)) == ALERT_DECODE_OK && r.p != r.end)
		status = fail(d, ALERT_DECODE_CORRUPT, "bytes after the end of the datum");
	return status;
}

AlertDecodeStatus
alert_schema_survey(const KernelHost *host, const char *schema, size_t len, AlertSurvey *survey,
					AlertDecodeError *err)
{
	Decoder		d = {.host = host, .err = err};
	CompiledSchema *c;

	*err = (AlertDecodeError) {0};
	c = compile(&d, host, schema, len);
	if (c == NULL)
		return err->status;
	*survey = c->survey;
	host_free(host, c);
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
