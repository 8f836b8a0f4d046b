/*
 * model.h
 *		One serialisation layer for every model type (svm_model, iforest_model,
 *		rf_model, gbt_model) and for stored light-curve states (lc_state): the binary
 *		envelope, the text and binary type I/O, and the cache of decoded
 *		models.
 *
 * A model value is a varlena whose data is a fixed header, then the
 * kind-specific payload, every number little-endian whatever the machine:
 *
 *	 offset	 size  field
 *	 0		 4	   magic "ANTM"
 *	 4		 2	   format version (MODEL_FORMAT_VERSION)
 *	 6		 2	   kind (ModelKind)
 *	 8		 4	   dim: the number of features the model takes
 *	 12		 4	   payload length in bytes
 *	 16		 4	   CRC-32C of bytes 0..15 and of the payload
 *	 20		 ...   payload
 *
 * The same bytes are the binary (send/recv) form, and, in base64 behind a
 * "<kind>/<version>:" prefix, the text form (what pg_dump writes), e.g.
 * "svm/1:QU5UTQEAAQAXAAAA...", "iforest/1:...", "rf/1:...", "gbt/1:...".  model_open is the one validator: every
 * input function and every function that reads a stored model calls it, and
 * readers then fetch the payload through ModelReader, whose every read is
 * bounds-checked, so a corrupt or truncated value is an ERROR, never a read
 * past its end.  Kind-specific code validates what it decodes (counts,
 * indices, finiteness).
 *
 * Cost: O(size) to validate (the checksum) and to encode or decode.
 */
#ifndef ANTARES_MODEL_H
#define ANTARES_MODEL_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"

#define MODEL_FORMAT_VERSION 1
#define MODEL_HEADER_SIZE 20

typedef enum ModelKind
{
	MODEL_SVM = 1,
	MODEL_IFOREST = 2,
	MODEL_RF = 3,
	MODEL_LC_STATE = 4,			/* not a model: a stored aggregate state */
	MODEL_GBT = 5
} ModelKind;

#define MODEL_KIND_MAX MODEL_GBT

/* Writes the payload of a model being built. */
typedef struct ModelWriter
{
	char	   *p;
	char	   *end;
} ModelWriter;

/* Reads a validated payload; ereports with errcode on a short read. */
typedef struct ModelReader
{
	const char *p;
	const char *end;
	ModelKind	kind;
	int			errcode;
} ModelReader;

/*
 * A model value of `kind` with room for payload_len bytes; fill it through
 * *w, then model_seal (which checks that exactly payload_len were written
 * and sets the checksum).
 */
extern struct varlena *model_create(ModelKind kind, uint32 dim, Size payload_len,
									ModelWriter *w);
extern void model_seal(struct varlena *model, ModelWriter *w);

extern void model_put_u32(ModelWriter *w, uint32 v);
extern void model_put_i32(ModelWriter *w, int32 v);
extern void model_put_i64(ModelWriter *w, int64 v);
extern void model_put_f64(ModelWriter *w, double v);

/*
 * Validates the header and the checksum of a detoasted model of `kind`
 * (ERROR with errcode otherwise: ERRCODE_INVALID_TEXT_REPRESENTATION from
 * text input, ERRCODE_INVALID_BINARY_REPRESENTATION from binary input,
 * ERRCODE_DATA_CORRUPTED for a stored value) and positions *r on its
 * payload; returns dim.
 */
extern uint32 model_open(const struct varlena *model, ModelKind kind, int errcode,
						 ModelReader *r);

extern uint32 model_get_u32(ModelReader *r);
extern int32 model_get_i32(ModelReader *r);
extern int64 model_get_i64(ModelReader *r);
extern double model_get_f64(ModelReader *r);
extern void model_get_f64s(ModelReader *r, double *dst, Size n);
extern void model_get_u32s(ModelReader *r, uint32 *dst, Size n);
extern Size model_remaining(const ModelReader *r);
/* ERROR unless the whole payload was read. */
extern void model_end(ModelReader *r);

/* ERROR (r's errcode) naming the model type and the problem. */
extern void model_invalid(const ModelReader *r, const char *fmt,...)
			pg_attribute_printf(2, 3) pg_attribute_noreturn();

/* The SQL name of a kind's type, for messages: "antares.svm_model". */
extern const char *model_type_name(ModelKind kind);

/* Type I/O shared by the model types. */
extern struct varlena *model_from_text(const char *text, ModelKind kind);
extern char *model_to_text(const struct varlena *model, ModelKind kind);
extern struct varlena *model_from_binary(StringInfo buf, ModelKind kind);
extern bytea *model_to_binary(const struct varlena *model, ModelKind kind);

/*
 * A kind's full check of a value whose envelope model_open accepted:
 * decodes everything and ERRORs (with errcode) on any inconsistency.
 */
typedef void (*ModelValidateFn) (const struct varlena *model, int errcode);

/*
 * The four I/O functions of a model type, to be returned from its
 * PG_FUNCTION_INFO_V1 wrappers: input (text or binary) runs the envelope
 * check and then `validate` with the input's SQLSTATE, so no value a type
 * holds was ever unchecked; output re-checks the envelope.
 */
extern Datum model_type_in(FunctionCallInfo fcinfo, ModelKind kind, ModelValidateFn validate);
extern Datum model_type_out(FunctionCallInfo fcinfo, ModelKind kind);
extern Datum model_type_recv(FunctionCallInfo fcinfo, ModelKind kind, ModelValidateFn validate);
extern Datum model_type_send(FunctionCallInfo fcinfo, ModelKind kind);

/*
 * The decoded form of model argument `argno`: `build` receives the
 * detoasted value and returns its decoded form, allocated in the current
 * memory context (a context of the cache's own).  Each call site keeps the
 * last value it saw, keyed by the argument's raw bytes: a TOAST pointer for
 * a stored model, the value itself otherwise, compared whole (a constant of
 * the plan only by address: model.c says why nothing less is sound).  A
 * stored model also stays decoded for the session, up to
 * antares.model_cache_size, while its TOAST pointer and its first chunk's
 * writing transaction and place are the same (model.c says why).  A build
 * that ERRORs leaves nothing behind.
 */
typedef void *(*ModelBuildFn) (const struct varlena *model);
extern void *model_cached(FunctionCallInfo fcinfo, int argno, ModelBuildFn build);

/* antares.model_cache_size's assign hook: evicts down to kb kilobytes. */
extern void model_cache_resize(int kb);

#endif							/* ANTARES_MODEL_H */
