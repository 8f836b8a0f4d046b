/*
 * alert_decode.h
 *		Survey alert packets (ZTF and Rubin Avro) to photometric points: a
 *		plain-C kernel (libavro parses the writer schemas), no PostgreSQL types,
 *		to be shared by the extension, the bulk loader and a stream consumer.
 *
 * Input, one of three framings:
 *	 - ALERT_CONTAINER: an Avro object-container file (magic "Obj\x01"), one
 *	   or many alerts, the writer schema embedded (ZTF's archives and stream);
 *	 - ALERT_CONFLUENT: a zero byte, a 4-byte big-endian schema id, then one
 *	   bare datum (Rubin's Kafka messages); the caller finds the writer schema
 *	   by that id (alert_confluent_schema_id) and passes its text;
 *	 - ALERT_BARE: one bare datum and its writer schema text.
 * A datum must end exactly at the end of the buffer, a container's blocks
 * exactly at their sync markers.  The container framing (header map, block
 * counts and sizes, sync markers; codecs null and deflate) is read by the
 * kernel with bounds checks, and so is every datum (Avro's binary encoding).
 *
 * Schema resolution.  The decoder reads the fields it needs (tables in
 * alert_decode.c) by name from whatever writer schema the datum was written
 * with: libavro parses the writer schema's JSON, and the kernel compiles it
 * into steps that read those fields and skip every other byte (cutouts,
 * diaObject's hundred columns, ...) without materialising them.  So any
 * schema version that has those fields, in any order, with any others, and
 * each nullable or not, decodes; values are promoted as Avro's resolution
 * rules say (int to long, int, long and float to double).  The survey is
 * told by the writer's top-level record: a field "candidate" is ZTF,
 * "diaSource" Rubin.  A writer lacking a needed field is
 * ALERT_DECODE_MISSING_FIELD, whose message names the field and the writer
 * schema; the optional parts -- ZTF's prv_candidates and fp_hists, Rubin's
 * prvDiaSources, prvDiaForcedSources and diaObject -- may be absent.
 *
 * Points (AlertPoint).  One unit and one band vocabulary for both surveys:
 * time in MJD, band one of u g r i z y, flux and its 1-sigma error in nJy.
 *	 ZTF: alert_id = candid; object_name = objectId ("ZTF17aaacxxf") and
 *	   object_id its reversible number (alert_ztf_object_number); mjd =
 *	   jd - 2400000.5; band from fid 1/2/3 = g/r/i.
 *	   - candidate: kind DETECTION, source_id = candidate.candid;
 *	   - prv_candidates with magpsf: HISTORY, source_id = candid;
 *	   - prv_candidates without magpsf but with diffmaglim: UPPER_LIMIT,
 *		 source_id = pid (such entries have no candid; pid, the exposure and
 *		 CCD quadrant's processing id, is < 10^13 while candids are ~10^17);
 *		 flux 0 and dflux = the limit's flux / 5 (diffmaglim is a 5-sigma
 *		 limit: the point says "no flux, with this noise", which every
 *		 consumer of (flux, dflux) can weigh);
 *	   - fp_hists (schema 4.x): FORCED, source_id = pid; flux =
 *		 forcediffimflux * 10^(-0.4 (magzpsci - 31.4)), dflux likewise from
 *		 forcediffimfluxunc; entries with a null or -99999 (ZTF's "failed")
 *		 flux, error or zero point are skipped.
 *	   Magnitudes: flux = 10^(-0.4 (magpsf - 31.4)) nJy (AB), dflux = flux *
 *	   0.4 ln(10) sigmapsf, negated when isdiffpos says the difference is
 *	   negative: 'f', '0', '-1', '-1.0' (strings) or 0, -1 (numbers); 't',
 *	   '1', '1.0' and 1 are positive; anything else is INVALID_VALUE.
 *	 Rubin: alert_id = the alert's diaSourceId; object_id = diaObjectId,
 *	   object_name its decimal text; fluxes psfFlux, psfFluxErr as they are.
 *	   - diaSource: DETECTION, source_id = diaSourceId;
 *	   - prvDiaSources: HISTORY, source_id = diaSourceId;
 *	   - prvDiaForcedSources: FORCED, source_id = diaForcedSourceId.
 * Every alert repeats its object's history, so a point arrives in many
 * alerts, first as an alert's DETECTION, then as HISTORY in the object's
 * later ones: (object_id, source_id, alert_stored_kind(kind)) identifies a
 * point across alerts, the key to de-duplicate and store it on.
 * ra and dec (degrees) are NaN where the entry has none (upper limits,
 * ZTF forced photometry).
 *
 * Skipped, never a NaN: an entry whose time, flux or error is null or not
 * finite, whose error is not positive (0 weighs nothing), or (Rubin) whose band is null or that
 * has no object (a solar-system source without a diaObject).  Skipping is counted
 * (AlertResult.nskipped).  An unknown fid or band string is INVALID_VALUE.
 *
 * Memory.  Every byte the kernel keeps comes from the host (compiled
 * schemas, the values of the datum being read, the points, an inflated
 * deflate block; alert_result_free frees the points); libavro (a schema
 * while it is compiled) and zlib (an inflate state) allocate with their own
 * allocators, and the kernel frees all of that before it returns, whatever
 * the status: nothing is half-returned.  libavro has leaked on error paths
 * of its own, so a process calls alert_decode_init() once, before any other
 * use of libavro: libavro then allocates through the kernel, which frees at
 * the end of each compile what libavro left behind (per thread; the unit
 * test and the fuzz harness run clean under valgrind --leak-check=full and
 * LeakSanitizer).  The host is polled once per alert and its alloc called
 * while libavro objects are held, so a host must return from both (a stop,
 * or NULL): a server glue polls InterruptPending without leaving and calls
 * CHECK_FOR_INTERRUPTS after the kernel returned.
 *
 * Schema cache.  Most of a call's cost is per writer schema, not per
 * alert: parsing the schema's JSON (ZTF embeds 23 kB of it in every packet)
 * and compiling it -- most of it in jansson and libavro.  An
 * AlertSchemaCache keeps the compiled schemas of the last 8 schema texts
 * seen (one cache per thread; its memory from the host it was made with),
 * so a stream or archive of one schema compiles it once.
 *
 * Cost: see alert_decode.c, "Cost".
 */
#ifndef ANTARES_ALERT_DECODE_H
#define ANTARES_ALERT_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "kernel_host.h"

typedef enum AlertFraming
{
	ALERT_CONTAINER,
	ALERT_CONFLUENT,
	ALERT_BARE
} AlertFraming;

typedef enum AlertSurvey
{
	ALERT_ZTF = 1,
	ALERT_RUBIN = 2
} AlertSurvey;

typedef enum AlertKind
{
	ALERT_DETECTION,
	ALERT_HISTORY,
	ALERT_FORCED,
	ALERT_UPPER_LIMIT
} AlertKind;

typedef enum AlertDecodeStatus
{
	ALERT_DECODE_OK = 0,
	ALERT_DECODE_BAD_FRAMING,	/* wrong magic, short Confluent header, codec */
	ALERT_DECODE_BAD_SCHEMA,	/* writer schema missing or not valid Avro */
	ALERT_DECODE_NOT_AN_ALERT,	/* writer schema is neither ZTF nor Rubin */
	ALERT_DECODE_MISSING_FIELD, /* writer lacks a field the reader needs */
	ALERT_DECODE_CORRUPT,		/* truncated, garbage, trailing bytes, huge lengths */
	ALERT_DECODE_INVALID_VALUE, /* unknown fid or band, bad isdiffpos or objectId */
	ALERT_DECODE_NO_MEMORY,		/* the host or libavro had none */
	ALERT_DECODE_INTERRUPTED	/* the host said stop */
} AlertDecodeStatus;

/* "ZTF" + 2-digit year + 7 lowercase letters, and a NUL; Rubin's decimal ids fit. */
#define ALERT_OBJECT_NAME_SIZE 24

typedef struct AlertPoint
{
	AlertSurvey survey;
	AlertKind	kind;
	int64_t		alert_id;
	int64_t		object_id;
	char		object_name[ALERT_OBJECT_NAME_SIZE];
	int64_t		source_id;
	double		mjd;
	char		band;			/* 'u', 'g', 'r', 'i', 'z' or 'y' */
	double		flux;			/* nJy, finite */
	double		dflux;			/* nJy, finite, >= 0 */
	double		ra;				/* degrees, NaN when absent */
	double		dec;
} AlertPoint;

typedef struct AlertResult
{
	AlertPoint *points;			/* from the host; NULL when npoints is 0 */
	size_t		npoints;
	size_t		nalerts;
	size_t		nskipped;		/* entries skipped by the rules above */
} AlertResult;

#define ALERT_DECODE_MESSAGE_SIZE 256

typedef struct AlertDecodeError
{
	AlertDecodeStatus status;
	size_t		alert;			/* 1-based alert of a container; 0: none to blame */
	char		message[ALERT_DECODE_MESSAGE_SIZE];
} AlertDecodeError;

typedef struct AlertSchemaCache AlertSchemaCache;

/*
 * Decodes buf[0 .. len) in the given framing into *result (zeroed first).
 * writer_schema (JSON text, schema_len bytes, need not be NUL-terminated) is
 * required for ALERT_CONFLUENT and ALERT_BARE and ignored for a container.
 * cache may be NULL (the schema is compiled for this call only).  On any
 * status but OK, *result is empty and err says why.
 */
extern AlertDecodeStatus alert_decode(const KernelHost *host, AlertSchemaCache *cache,
									  const uint8_t *buf, size_t len, AlertFraming framing,
									  const char *writer_schema, size_t schema_len,
									  AlertResult *result, AlertDecodeError *err);

/*
 * A cache of compiled writer schemas, its memory from host (which must
 * outlive it); NULL when out of memory.  Not shared between threads.
 */
extern AlertSchemaCache *alert_schema_cache_new(const KernelHost *host);
extern void alert_schema_cache_free(AlertSchemaCache *cache);

/*
 * Routes libavro's allocations through the kernel (see alert_decode.c:
 * libavro leaks on some corrupt input, and the kernel frees what it
 * leaked).  Call once per process, before any other use of libavro.
 */
extern void alert_decode_init(void);

/* Frees what alert_decode returned and empties *result. */
extern void alert_result_free(const KernelHost *host, AlertResult *result);

/*
 * Whether the writer schema text compiles into a reader (what a decode
 * with it would check first): OK and *survey, or the status and err.
 */
extern AlertDecodeStatus alert_schema_survey(const KernelHost *host, const char *schema,
											 size_t len, AlertSurvey *survey,
											 AlertDecodeError *err);

/* The schema id of a Confluent-framed message, or BAD_FRAMING. */
extern AlertDecodeStatus alert_confluent_schema_id(const uint8_t *buf, size_t len,
												   int32_t *schema_id);

/*
 * ZTF object ids as numbers: "ZTFyyabcdefg" <-> yy * 26^7 + the letters in
 * base 26 ('a' = 0), so 0 <= number < 100 * 26^7.  Returns -1 when name is
 * not of that form; alert_ztf_object_name writes the 12 characters and a
 * NUL, and returns 0, or -1 for a number out of range.
 */
extern int64_t alert_ztf_object_number(const char *name, size_t len);
extern int	alert_ztf_object_name(int64_t number, char name[ALERT_OBJECT_NAME_SIZE]);

/* The kind a point is stored under: HISTORY is the DETECTION it repeats. */
extern AlertKind alert_stored_kind(AlertKind kind);

extern const char *alert_decode_status_name(AlertDecodeStatus status);
extern const char *alert_kind_name(AlertKind kind);

#endif							/* ANTARES_ALERT_DECODE_H */
