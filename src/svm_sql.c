/*
 * svm_sql.c
 *		SQL glue of the SVM kernel (svm_smo.c) and of stratified folds
 *		(folds.c): the svm_train aggregates, the antares.svm_model type,
 *		svm_predict, svm_decision, svm_info and the stratified_fold window
 *		function.
 *
 * svm_train buffers (label, features) rows in arrival order in an ObsBuffer
 * of an unordered kind (libsvm's solution depends on the order of the rows
 * at the level of its tolerance, and scikit-learn keeps the order it is
 * given); combine appends, so the aggregate runs under parallel query, and
 * svm_train(x, y ORDER BY key) fixes the order.  Transition is O(d) per
 * row; the final function trains (svm_smo.h gives the cost).
 *
 * Prediction decodes a model once per distinct value and keeps it in
 * fn_extra with its support vectors feature-major, so a query that applies
 * one model to many rows pays O(n_sv d) per row and not the decoding.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "windowapi.h"

#include "antares.h"
#include "folds.h"
#include "kernel_host_pg.h"
#include "model.h"
#include "obs_buffer.h"
#include "svm_smo.h"

PG_FUNCTION_INFO_V1(svm_train_accum);
PG_FUNCTION_INFO_V1(svm_train_accum_c);
PG_FUNCTION_INFO_V1(svm_train_accum_c_gamma);
PG_FUNCTION_INFO_V1(svm_train_combine);
PG_FUNCTION_INFO_V1(svm_train_serialize);
PG_FUNCTION_INFO_V1(svm_train_deserialize);
PG_FUNCTION_INFO_V1(svm_train_final);
PG_FUNCTION_INFO_V1(svm_model_in);
PG_FUNCTION_INFO_V1(svm_model_out);
PG_FUNCTION_INFO_V1(svm_model_recv);
PG_FUNCTION_INFO_V1(svm_model_send);
PG_FUNCTION_INFO_V1(svm_predict);
PG_FUNCTION_INFO_V1(svm_decision);
PG_FUNCTION_INFO_V1(svm_info);
PG_FUNCTION_INFO_V1(stratified_fold);

/* The 'scale' gamma of scikit-learn, 1 / (d var(X)), is stored as 0. */
#define GAMMA_SCALE 0.0
#define DEFAULT_C 1.0

/* ---------------------------------------------------------------- state */

/*
 * One buffered row: the label in the first 8 bytes (so that the features
 * stay aligned), then dim features.
 */
typedef struct SvmState
{
	ObsKind		kind;			/* width 8 + 8 dim, no order */
	ObsBuffer	rows;
	int32		dim;
	double		c;
	double		gamma;			/* GAMMA_SCALE: from the data */
} SvmState;

#define SVM_SERIAL_MAGIC 0x53564d31 /* "SVM1" */

typedef struct SvmSerialHeader
{
	uint32		magic;
	int32		dim;
	double		c;
	double		gamma;
} SvmSerialHeader;

static Size
row_width(int32 dim)
{
	return sizeof(int64) + (Size) dim * sizeof(double);
}

static SvmState *
new_state(MemoryContext ctx, int32 dim, double c, double gamma)
{
	SvmState   *state = MemoryContextAlloc(ctx, sizeof(SvmState));

	state->kind.width = row_width(dim);
	state->kind.cmp = NULL;
	obs_init(&state->rows);
	state->dim = dim;
	state->c = c;
	state->gamma = gamma;
	return state;
}

static void
check_same_parameters(const SvmState *state, double c, double gamma)
{
	if (state->c != c || state->gamma != gamma)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("c and gamma must be the same for every row of a group")));
}

static void
check_c_gamma(FunctionCallInfo fcinfo, int c_arg, int gamma_arg, double *c, double *gamma)
{
	*c = DEFAULT_C;
	*gamma = GAMMA_SCALE;
	if (c_arg >= 0)
	{
		if (PG_ARGISNULL(c_arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("c must not be NULL")));
		*c = PG_GETARG_FLOAT8(c_arg);
		check_positive("c", *c);
	}
	if (gamma_arg >= 0)
	{
		if (PG_ARGISNULL(gamma_arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("gamma must not be NULL")));
		*gamma = PG_GETARG_FLOAT8(gamma_arg);
		check_positive("gamma", *gamma);
	}
}

/*
 * Transition: skip a row with a NULL features or label, validate, append.
 * c_arg / gamma_arg are -1 for the forms without them.
 */
static Datum
accumulate(FunctionCallInfo fcinfo, int c_arg, int gamma_arg)
{
	MemoryContext aggctx = agg_context(fcinfo, "svm_train_accum");
	SvmState   *state = STATE_ARG(SvmState, 0);
	double		c,
				gamma;
	int32		dim;
	const double *x;
	char	   *row;

	check_c_gamma(fcinfo, c_arg, gamma_arg, &c, &gamma);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		RETURN_STATE(state);
	x = features_of(PG_GETARG_ARRAYTYPE_P(1), &dim, false);

	if (state == NULL)
		state = new_state(aggctx, dim, c, gamma);
	else
	{
		check_same_dim(state->dim, dim);
		check_same_parameters(state, c, gamma);
	}
	row = palloc(state->kind.width);
	*(int64 *) row = PG_GETARG_INT32(2);
	memcpy(row + sizeof(int64), x, (Size) dim * sizeof(double));
	obs_append(&state->rows, &state->kind, row, aggctx);
	pfree(row);
	PG_RETURN_POINTER(state);
}

/* svm_train_accum(state, features, label) */
Datum
svm_train_accum(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, -1, -1);
}

/* svm_train_accum(state, features, label, c) */
Datum
svm_train_accum_c(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, 3, -1);
}

/* svm_train_accum(state, features, label, c, gamma) */
Datum
svm_train_accum_c_gamma(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, 3, 4);
}

Datum
svm_train_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "svm_train_combine");
	SvmState   *a = STATE_ARG(SvmState, 0);
	SvmState   *b = STATE_ARG(SvmState, 1);

	if (b == NULL)
		RETURN_STATE(a);
	/* b lives in per-call memory when deserialized: copy it, never adopt it. */
	if (a == NULL)
		a = new_state(aggctx, b->dim, b->c, b->gamma);
	else
	{
		check_same_dim(a->dim, b->dim);
		check_same_parameters(a, b->c, b->gamma);
	}
	obs_merge(&a->rows, &b->rows, &a->kind, aggctx);
	PG_RETURN_POINTER(a);
}

Datum
svm_train_serialize(PG_FUNCTION_ARGS)
{
	SvmState   *state = (SvmState *) PG_GETARG_POINTER(0);
	SvmSerialHeader hdr = {SVM_SERIAL_MAGIC, state->dim, state->c, state->gamma};
	Size		size = VARHDRSZ + sizeof(hdr) + obs_serial_size(&state->rows, &state->kind);
	bytea	   *result = state_bytea(size);

	memcpy(VARDATA(result), &hdr, sizeof(hdr));
	obs_write(&state->rows, &state->kind, VARDATA(result) + sizeof(hdr));
	PG_RETURN_BYTEA_P(result);
}

/* The result lives in per-call memory; svm_train_combine copies it. */
Datum
svm_train_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(data);
	Size		len = VARSIZE_ANY_EXHDR(data);
	SvmSerialHeader hdr;
	SvmState   *state;

	(void) agg_context(fcinfo, "svm_train_deserialize");
	if (len < sizeof(hdr))
		goto corrupt;
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.magic != SVM_SERIAL_MAGIC || hdr.dim < 1 ||
		!(isfinite(hdr.c) && hdr.c > 0) || !(isfinite(hdr.gamma) && hdr.gamma >= 0))
		goto corrupt;
	state = new_state(CurrentMemoryContext, hdr.dim, hdr.c, hdr.gamma);
	if (obs_read(&state->rows, &state->kind, p + sizeof(hdr), len - sizeof(hdr),
				 CurrentMemoryContext) != len - sizeof(hdr))
		goto corrupt;
	PG_RETURN_POINTER(state);

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid serialized svm_train state")));
	pg_unreachable();
}

/* ------------------------------------------------------------- training */

typedef struct Progress
{
	int64		last_reported;	/* iterations at the last progress NOTICE */
	int			last_pair;
} Progress;

#define PROGRESS_EVERY 10000	/* iterations between progress NOTICEs */

/*
 * Called by the solver at every iteration: says when a pair stopped at the
 * iteration limit, and reports progress when antares.verbose is on.
 * (Cancels reach the solver through its host.)
 */
static void
svm_progress(void *arg, const SvmProgress *p)
{
	Progress   *pr = arg;

	if (p->finished && p->at_limit)
		ereport(NOTICE,
				(errmsg("svm_train: classes %d and %d stopped at the limit of " INT64_FORMAT " iterations before converging",
						p->label_a, p->label_b, p->iterations),
				 errdetail("The pair's solution is approximate, as libsvm's is when it reaches its maximum number of iterations."),
				 errhint("A lower c, or classes that overlap less, converge sooner.")));
	if (!antares_verbose)
		return;
	if (p->pair != pr->last_pair)
	{
		pr->last_pair = p->pair;
		pr->last_reported = 0;
	}
	if (p->finished)
		ereport(NOTICE,
				(errmsg("svm_train: classes %d and %d (pair %d of %d): %d rows, " INT64_FORMAT " iterations, %d support vectors, rho = %.6g, objective = %.6g",
						p->label_a, p->label_b, p->pair + 1, p->n_pairs, p->l,
						p->iterations, p->n_sv, p->rho, p->obj)));
	else if (p->iterations >= pr->last_reported + PROGRESS_EVERY)
	{
		pr->last_reported = p->iterations;
		ereport(NOTICE,
				(errmsg("svm_train: classes %d and %d (pair %d of %d): " INT64_FORMAT " iterations, %d of %d rows active",
						p->label_a, p->label_b, p->pair + 1, p->n_pairs, p->iterations,
						p->active_size, p->l)));
	}
}

static void
report_svm_status(SvmStatus status, int n_class)
{
	switch (status)
	{
		case SVM_OK:
			return;
		case SVM_TOO_FEW_CLASSES:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("svm_train needs at least two classes, got %d", n_class)));
			break;
		case SVM_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while training an SVM"),
					 errhint("Lower antares.svm_cache_size, or train on fewer rows.")));
			break;
		case SVM_INVALID_INPUT:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("features are too large: their squared norm is beyond the range of double precision")));
			break;
		case SVM_CANCELLED:
			pg_kernel_stopped("SVM training");
	}
}

/* Payload bytes of a model (model.h) with these sizes. */
static Size
svm_payload_size(uint64 n_class, uint64 n_sv, uint64 dim)
{
	uint64		n_pairs = n_class * (n_class - 1) / 2;

	return 2 * sizeof(uint32) + 2 * sizeof(double) + 3 * 4 * n_class +
		n_pairs * (sizeof(double) + sizeof(int64)) +
		(n_class - 1) * n_sv * sizeof(double) + n_sv * dim * sizeof(double);
}

/*
 * The model value: n_class, n_sv, C, gamma, label[], n_sv_class[], count[],
 * rho[], iterations[], coef[], sv[] (svm_smo.h's layout).
 */
static struct varlena *
svm_encode(const SvmModel *m)
{
	int			n_pairs = svm_n_pairs(m->n_class);
	ModelWriter w;
	struct varlena *v = model_create(MODEL_SVM, m->dim,
									 svm_payload_size(m->n_class, m->n_sv, m->dim), &w);

	model_put_u32(&w, m->n_class);
	model_put_u32(&w, m->n_sv);
	model_put_f64(&w, m->C);
	model_put_f64(&w, m->gamma);
	for (int c = 0; c < m->n_class; c++)
		model_put_i32(&w, m->label[c]);
	for (int c = 0; c < m->n_class; c++)
		model_put_i32(&w, m->n_sv_class[c]);
	for (int c = 0; c < m->n_class; c++)
		model_put_i32(&w, m->count[c]);
	for (int p = 0; p < n_pairs; p++)
		model_put_f64(&w, m->rho[p]);
	for (int p = 0; p < n_pairs; p++)
		model_put_i64(&w, m->iterations[p]);
	for (size_t i = 0; i < (size_t) (m->n_class - 1) * m->n_sv; i++)
		model_put_f64(&w, m->coef[i]);
	for (size_t i = 0; i < (size_t) m->n_sv * m->dim; i++)
		model_put_f64(&w, m->sv[i]);
	model_seal(v, &w);
	return v;
}

Datum
svm_train_final(PG_FUNCTION_ARGS)
{
	SvmState   *state;
	MemoryContext train_ctx,
				old;
	Size		n;
	double	   *x;
	int32	   *y;
	SvmParams	params;
	KernelHost	host;
	SvmModel	model;
	Progress	progress = {0, -1};
	SvmStatus	status;
	struct varlena *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (SvmState *) PG_GETARG_POINTER(0);
	n = state->rows.n;
	if (n > (Size) PG_INT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("svm_train takes at most %d rows, got %zu", PG_INT32_MAX / 2, n)));

	train_ctx = AllocSetContextCreate(CurrentMemoryContext, "svm_train",
									  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(train_ctx);
	x = palloc_extended(n * state->dim * sizeof(double), MCXT_ALLOC_HUGE);
	y = palloc_extended(n * sizeof(int32), MCXT_ALLOC_HUGE);
	for (Size i = 0; i < n; i++)
	{
		const char *row = OBS_AT(&state->rows, &state->kind, i);

		y[i] = (int32) *(const int64 *) row;
		memcpy(x + i * state->dim, row + sizeof(int64), state->dim * sizeof(double));
	}

	params.C = state->c;
	params.gamma = state->gamma == GAMMA_SCALE ?
		svm_smo_scale_gamma(x, (int) n, state->dim) : state->gamma;
	params.eps = SVM_DEFAULT_EPS;
	params.cache_bytes = (size_t) antares_svm_cache_kb * 1024;
	params.shrinking = 1;
	params.progress = svm_progress;
	params.progress_arg = &progress;
	host = pg_kernel_host(train_ctx);

	if (antares_verbose)
		ereport(NOTICE,
				(errmsg("svm_train: %zu rows, %d features, C = %g, gamma = %g",
						n, state->dim, params.C, params.gamma)));
	status = svm_smo_train(x, y, (int) n, state->dim, &params, &host, &model);
	report_svm_status(status, 1);

	MemoryContextSwitchTo(old);
	result = svm_encode(&model);
	MemoryContextDelete(train_ctx);
	PG_RETURN_POINTER(result);
}

/* ------------------------------------------------------ decoding a model */

/*
 * Decodes and validates a model's payload into *m (arrays in the current
 * memory context).  Any inconsistency is an ERROR with r's errcode.
 */
static void
svm_decode(const struct varlena *v, int errcode, SvmModel *m)
{
	ModelReader r;
	uint32		dim = model_open(v, MODEL_SVM, errcode, &r);
	uint32		n_class,
				n_sv;
	int			n_pairs;
	int64		sv_total = 0;

	n_class = model_get_u32(&r);
	n_sv = model_get_u32(&r);
	/* the sizes must add up to the payload before anything is allocated */
	if (n_class < 2 || n_class > model_remaining(&r) / 12 ||
		n_sv > model_remaining(&r) / sizeof(double) ||
		svm_payload_size(n_class, n_sv, dim) != model_remaining(&r) + 2 * sizeof(uint32))
		model_invalid(&r, "sizes (%u classes, %u support vectors, dimension %u) do not match its length",
					  n_class, n_sv, dim);
	n_pairs = svm_n_pairs(n_class);
	m->n_class = n_class;
	m->n_sv = n_sv;
	m->dim = dim;
	m->C = model_get_f64(&r);
	m->gamma = model_get_f64(&r);
	if (!(isfinite(m->C) && m->C > 0 && isfinite(m->gamma) && m->gamma > 0))
		model_invalid(&r, "C and gamma must be positive and finite");
	m->label = palloc(n_class * sizeof(int32));
	m->n_sv_class = palloc(n_class * sizeof(int32));
	m->count = palloc(n_class * sizeof(int32));
	for (uint32 c = 0; c < n_class; c++)
	{
		m->label[c] = model_get_i32(&r);
		if (c > 0 && m->label[c] <= m->label[c - 1])
			model_invalid(&r, "class labels are not strictly increasing");
	}
	for (uint32 c = 0; c < n_class; c++)
		m->n_sv_class[c] = model_get_i32(&r);
	for (uint32 c = 0; c < n_class; c++)
	{
		m->count[c] = model_get_i32(&r);
		if (m->n_sv_class[c] < 0 || m->count[c] < 1 || m->n_sv_class[c] > m->count[c])
			model_invalid(&r, "class %d: %d support vectors of %d rows",
						  m->label[c], m->n_sv_class[c], m->count[c]);
		sv_total += m->n_sv_class[c];
	}
	if (sv_total != n_sv)
		model_invalid(&r, "support vectors per class add up to " INT64_FORMAT ", not %u",
					  sv_total, n_sv);
	m->rho = palloc(n_pairs * sizeof(double));
	m->iterations = palloc(n_pairs * sizeof(int64));
	model_get_f64s(&r, m->rho, n_pairs);
	for (int p = 0; p < n_pairs; p++)
		if ((m->iterations[p] = model_get_i64(&r)) < 0)
			model_invalid(&r, "negative iteration count");
	m->coef = palloc_extended(Max((Size) (n_class - 1) * n_sv, 1) * sizeof(double), MCXT_ALLOC_HUGE);
	m->sv = palloc_extended(Max((Size) n_sv * dim, 1) * sizeof(double), MCXT_ALLOC_HUGE);
	model_get_f64s(&r, m->coef, (Size) (n_class - 1) * n_sv);
	model_get_f64s(&r, m->sv, (Size) n_sv * dim);
	model_end(&r);
	for (int p = 0; p < n_pairs; p++)
		if (!isfinite(m->rho[p]))
			model_invalid(&r, "a non-finite rho");
	for (Size i = 0; i < (Size) (n_class - 1) * n_sv; i++)
		if (!isfinite(m->coef[i]))
			model_invalid(&r, "a non-finite coefficient");
	for (Size i = 0; i < (Size) n_sv * dim; i++)
		if (!isfinite(m->sv[i]))
			model_invalid(&r, "a non-finite support vector");
}

/* A decoded model and the buffers prediction needs (model_cached keeps it). */
typedef struct SvmCached
{
	SvmModel	m;
	double	   *svt;			/* support vectors, feature-major */
	double	   *work;			/* n_sv */
	int		   *votes;			/* n_class */
	double	   *dec;			/* n_pairs */
} SvmCached;

static void *
svm_cache_build(const struct varlena *v)
{
	SvmCached  *c = palloc0(sizeof(SvmCached));

	svm_decode(v, ERRCODE_DATA_CORRUPTED, &c->m);
	c->svt = palloc_extended(Max((Size) c->m.n_sv * c->m.dim, 1) * sizeof(double),
							 MCXT_ALLOC_HUGE);
	svm_smo_transpose_sv(&c->m, c->svt);
	c->work = palloc_extended(Max((Size) c->m.n_sv, 1) * sizeof(double), MCXT_ALLOC_HUGE);
	c->votes = palloc(c->m.n_class * sizeof(int));
	c->dec = palloc(svm_n_pairs(c->m.n_class) * sizeof(double));
	return c;
}

static SvmCached *
svm_model_arg(FunctionCallInfo fcinfo, int argno)
{
	return model_cached(fcinfo, argno, svm_cache_build);
}

/* Decision values of one row (c->dec); returns the predicted class index. */
static int
svm_decide(SvmCached *c, ArrayType *features)
{
	const double *x = features_for_model(features, c->m.dim, false);

	return svm_smo_decision(&c->m, c->svt, x, c->dec, c->work, c->votes);
}

/* svm_predict(m svm_model, features float8[]) -> the predicted label */
Datum
svm_predict(PG_FUNCTION_ARGS)
{
	SvmCached  *c = svm_model_arg(fcinfo, 0);
	int			k = svm_decide(c, PG_GETARG_ARRAYTYPE_P(1));

	PG_RETURN_INT32(c->m.label[k]);
}

/* svm_decision(m, features) -> one decision value per class pair */
Datum
svm_decision(PG_FUNCTION_ARGS)
{
	SvmCached  *c = svm_model_arg(fcinfo, 0);
	int			n_pairs = svm_n_pairs(c->m.n_class);
	Datum	   *d = palloc(n_pairs * sizeof(Datum));

	(void) svm_decide(c, PG_GETARG_ARRAYTYPE_P(1));
	for (int p = 0; p < n_pairs; p++)
		d[p] = Float8GetDatum(c->dec[p]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, n_pairs, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* ----------------------------------------------------------- type I/O */

/* Every input is decoded in full: a value of the type is always valid. */
static void
svm_validate(const struct varlena *v, int errcode)
{
	SvmModel	m;

	svm_decode(v, errcode, &m);
}

Datum
svm_model_in(PG_FUNCTION_ARGS)
{
	return model_type_in(fcinfo, MODEL_SVM, svm_validate);
}

Datum
svm_model_out(PG_FUNCTION_ARGS)
{
	return model_type_out(fcinfo, MODEL_SVM);
}

Datum
svm_model_recv(PG_FUNCTION_ARGS)
{
	return model_type_recv(fcinfo, MODEL_SVM, svm_validate);
}

Datum
svm_model_send(PG_FUNCTION_ARGS)
{
	return model_type_send(fcinfo, MODEL_SVM);
}

/* ------------------------------------------------------------- svm_info */

/*
 * Per-pair detail (pairs, rho, iterations) up to this many pairs (45
 * classes); beyond it, totals.  A model with k classes has k(k-1)/2 pairs:
 * 3 000 one-row classes make 4.5 M, whose detail would be a ~200 MB JSON
 * text and gigabytes of jsonb.
 */
#define SVM_INFO_MAX_PAIRS 1000

/* The pairs' fields: their detail, or totals when there are too many. */
static void
append_svm_pairs(StringInfo s, const SvmModel *m)
{
	int			n_pairs = svm_n_pairs(m->n_class);
	bool		detail = n_pairs <= SVM_INFO_MAX_PAIRS;
	int64		at_limit = 0,
				total = 0,
				most = 0;
	double		rho_min = m->rho[0],
				rho_max = m->rho[0];

	for (int a = 0, p = 0; a < m->n_class; a++)
	{
		CHECK_FOR_INTERRUPTS();
		for (int b = a + 1; b < m->n_class; b++, p++)
		{
			at_limit += m->iterations[p] >=
				svm_smo_max_iterations(m->count[a] + m->count[b]);
			total += m->iterations[p];
			most = Max(most, m->iterations[p]);
			rho_min = Min(rho_min, m->rho[p]);
			rho_max = Max(rho_max, m->rho[p]);
		}
	}
	appendStringInfo(s, ", \"n_pairs\": %d, \"pairs_at_iteration_limit\": " INT64_FORMAT
					 ", \"pair_detail\": %s", n_pairs, at_limit, detail ? "true" : "false");
	if (!detail)
	{
		appendStringInfo(s, ", \"iterations_total\": " INT64_FORMAT ", \"iterations_max\": "
						 INT64_FORMAT ", \"rho_min\": ", total, most);
		append_json_float(s, rho_min);
		appendStringInfoString(s, ", \"rho_max\": ");
		append_json_float(s, rho_max);
		return;
	}
	appendStringInfoString(s, ", \"pairs\": [");
	for (int a = 0, p = 0; a < m->n_class; a++)
		for (int b = a + 1; b < m->n_class; b++, p++)
			appendStringInfo(s, "%s[%d, %d]", p ? ", " : "", m->label[a], m->label[b]);
	appendStringInfoString(s, "], \"rho\": [");
	for (int p = 0; p < n_pairs; p++)
	{
		if (p)
			appendStringInfoString(s, ", ");
		append_json_float(s, m->rho[p]);
	}
	appendStringInfoString(s, "], \"iterations\": [");
	for (int p = 0; p < n_pairs; p++)
		appendStringInfo(s, "%s" INT64_FORMAT, p ? ", " : "", m->iterations[p]);
	appendStringInfoChar(s, ']');
}

/*
 * svm_info(m) -> jsonb: kind, format version, dimension, c, gamma, classes,
 * rows and support vectors per class, their total, the number of class
 * pairs, how many stopped at the iteration limit, and, up to
 * SVM_INFO_MAX_PAIRS pairs, the pairs in decision order with each one's rho
 * and solver iterations ("pair_detail": true); beyond it, the iterations'
 * total and maximum and rho's range ("pair_detail": false).  O(k^2) time
 * for k classes, interruptible; O(k) output beyond the bound.
 */
Datum
svm_info(PG_FUNCTION_ARGS)
{
	SvmModel	m;
	StringInfoData s;

	svm_decode(PG_DETOAST_DATUM(PG_GETARG_DATUM(0)), ERRCODE_DATA_CORRUPTED, &m);
	initStringInfo(&s);
	appendStringInfo(&s, "{\"kind\": \"svm\", \"format_version\": %d, \"kernel\": \"rbf\", \"dimension\": %d, \"c\": ",
					 MODEL_FORMAT_VERSION, m.dim);
	append_json_float(&s, m.C);
	appendStringInfoString(&s, ", \"gamma\": ");
	append_json_float(&s, m.gamma);
	append_json_int_array(&s, "classes", m.label, m.n_class);
	append_json_int_array(&s, "n_train", m.count, m.n_class);
	append_json_int_array(&s, "support_vectors", m.n_sv_class, m.n_class);
	appendStringInfo(&s, ", \"n_support_vectors\": %d", m.n_sv);
	append_svm_pairs(&s, &m);
	appendStringInfoChar(&s, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

/* ------------------------------------------------------ stratified_fold */

/*
 * The folds of one window partition: computed at its first row from every
 * row's label, in the window's order; rows with a NULL label get NULL and
 * take no part.
 */
typedef struct FoldPartition
{
	bool		computed;
	int32		k;
	int32		fold[FLEXIBLE_ARRAY_MEMBER];	/* -1: NULL label */
} FoldPartition;

static void
check_k(int32 k)
{
	if (k < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 2, got %d", k)));
}

static void
compute_folds(WindowObject win, FoldPartition *part, int64 n)
{
	int32	   *label = palloc_extended(Max(n, 1) * sizeof(int32), MCXT_ALLOC_HUGE);
	int64	   *row = palloc_extended(Max(n, 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	int32	   *fold = palloc_extended(Max(n, 1) * sizeof(int32), MCXT_ALLOC_HUGE);
	int64		m = 0;
	size_t		min_members;
	FoldsStatus st;

	for (int64 i = 0; i < n; i++)
	{
		bool		isnull,
					isout;
		Datum		d = WinGetFuncArgInPartition(win, 0, i, WINDOW_SEEK_HEAD, false,
												 &isnull, &isout);

		part->fold[i] = -1;
		if (!isnull)
		{
			label[m] = DatumGetInt32(d);
			row[m++] = i;
		}
	}
	st = stratified_folds(label, m, part->k, fold, &min_members,
						  palloc_extended(stratified_folds_work_size(m), MCXT_ALLOC_HUGE));
	if (st == FOLDS_TOO_FEW_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k = %d is greater than the number of rows with a label, " INT64_FORMAT,
						part->k, m)));
	if (st == FOLDS_TOO_FEW_MEMBERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k = %d is greater than the number of rows of every class", part->k)));
	if (min_members < (size_t) part->k)
		ereport(WARNING,
				(errmsg("the least populated class has only %zu rows, fewer than k = %d",
						min_members, part->k)));
	for (int64 i = 0; i < m; i++)
		part->fold[row[i]] = fold[i];
}

/* stratified_fold(label int, k int) OVER (...) -> 0 .. k-1 */
Datum
stratified_fold(PG_FUNCTION_ARGS)
{
	WindowObject win = PG_WINDOW_OBJECT();
	int64		n = WinGetPartitionRowCount(win);
	FoldPartition *part;
	bool		isnull;
	int32		k;
	int64		pos;

	if ((uint64) n > (MaxAllocSize - offsetof(FoldPartition, fold)) / sizeof(int32))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("window partition of " INT64_FORMAT " rows is too large", n)));
	part = WinGetPartitionLocalMemory(win, offsetof(FoldPartition, fold) + n * sizeof(int32));
	k = DatumGetInt32(WinGetFuncArgCurrent(win, 1, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("k must not be NULL")));
	if (!part->computed)
	{
		check_k(k);
		part->k = k;
		compute_folds(win, part, n);
		part->computed = true;
	}
	else if (k != part->k)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be the same for every row of a partition, got %d and %d",
						part->k, k)));
	pos = WinGetCurrentPosition(win);
	if (part->fold[pos] < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(part->fold[pos]);
}
