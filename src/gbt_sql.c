/*
 * gbt_sql.c
 *		Gradient-boosted trees: the gbt_train aggregate (training by our
 *		histogram kernel, gbt_train.c), the antares.gbt_model type,
 *		gbt_predict, gbt_predict_proba, gbt_info and gbt_importance
 *		(prediction by our walker, gbt.c).
 *
 * The aggregate buffers its rows like the forests' (forest_sql.c): content
 * order, sorted in parallel workers, merged by the combine function, so the
 * model depends only on the multiset of rows and the parameters.  The final
 * function hands the kernel a float32 matrix (NaN = missing) and the rows'
 * class indices; the kernel grows the trees straight into gbt.h's layout,
 * in memory of a context deleted afterwards, and polls for a cancel or
 * statement_timeout at least once per tree (a tree of 20,000 rows x 23
 * features takes ~3 ms); the poll returns, so the kernel's threads are
 * joined before the ERROR is raised.  Cost: gbt_train.h.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "antares.h"
#include "gbt.h"
#include "gbt_train.h"
#include "kernel_host_pg.h"
#include "labels.h"
#include "model.h"
#include "obs_buffer.h"

PG_FUNCTION_INFO_V1(gbt_train_accum);
PG_FUNCTION_INFO_V1(gbt_train_accum_params);
PG_FUNCTION_INFO_V1(gbt_train_combine);
PG_FUNCTION_INFO_V1(gbt_train_serialize);
PG_FUNCTION_INFO_V1(gbt_train_deserialize);
PG_FUNCTION_INFO_V1(gbt_train_final);
PG_FUNCTION_INFO_V1(gbt_model_in);
PG_FUNCTION_INFO_V1(gbt_model_out);
PG_FUNCTION_INFO_V1(gbt_model_recv);
PG_FUNCTION_INFO_V1(gbt_model_send);
PG_FUNCTION_INFO_V1(gbt_predict_sql);
PG_FUNCTION_INFO_V1(gbt_predict_proba_sql);
PG_FUNCTION_INFO_V1(gbt_info);
PG_FUNCTION_INFO_V1(gbt_importance);

/* ------------------------------------------------------------ parameters */

/* No padding: states compare parameters with memcmp. */
typedef struct GbtParams
{
	int32		n_trees;		/* boosting rounds */
	int32		max_depth;
	int32		nthread;
	int32		max_bin;
	double		learning_rate;
	double		min_child_weight;
	double		subsample;
	double		colsample_bytree;
	double		lambda;
	int64		seed;
} GbtParams;

static const GbtParams default_params = {100, 6, 2, 256, 0.3, 1.0, 1.0, 1.0, 1.0, 0};

#define GBT_MAX_TREES 100000
#define GBT_MAX_DEPTH 30
#define GBT_MAX_THREADS 256

static const char *const param_names[] = {
	"n_trees", "max_depth", "learning_rate", "min_child_weight", "subsample",
	"colsample_bytree", "lambda", "seed", "nthread", "max_bin"
};

static void
param_error(const char *name, const char *range, double v)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("gbt_train: %s must be %s, got %s", name, range, float8out_internal(v))));
}

static int64
int_param(const char *name, double v, double lo, double hi)
{
	if (!(v >= lo && v <= hi) || v != floor(v))
	{
		char		range[64];

		snprintf(range, sizeof(range), "an integer in [%.0f, %.0f]", lo, hi);
		param_error(name, range, v);
	}
	return (int64) v;
}

/* Stores one parameter; false when the key is not one. */
static bool
set_param(GbtParams *p, const char *key, double v)
{
	if (strcmp(key, "n_trees") == 0)
		p->n_trees = (int32) int_param(key, v, 1, GBT_MAX_TREES);
	else if (strcmp(key, "max_depth") == 0)
		p->max_depth = (int32) int_param(key, v, 1, GBT_MAX_DEPTH);
	else if (strcmp(key, "nthread") == 0)
		p->nthread = (int32) int_param(key, v, 1, GBT_MAX_THREADS);
	else if (strcmp(key, "max_bin") == 0)
		p->max_bin = (int32) int_param(key, v, 2, 65535);
	else if (strcmp(key, "seed") == 0)
		p->seed = int_param(key, v, -9007199254740992.0, 9007199254740992.0);
	else if (strcmp(key, "learning_rate") == 0)
	{
		if (!(v > 0 && v <= 1))
			param_error(key, "in (0, 1]", v);
		p->learning_rate = v;
	}
	else if (strcmp(key, "min_child_weight") == 0 || strcmp(key, "lambda") == 0)
	{
		if (!(v >= 0) || isinf(v))
			param_error(key, "finite and at least 0", v);
		*(key[0] == 'l' ? &p->lambda : &p->min_child_weight) = v;
	}
	else if (strcmp(key, "subsample") == 0 || strcmp(key, "colsample_bytree") == 0)
	{
		if (!(v > 0 && v <= 1))
			param_error(key, "in (0, 1]", v);
		*(key[0] == 's' ? &p->subsample : &p->colsample_bytree) = v;
	}
	else
		return false;
	return true;
}

/* A jsonb object of parameters over the defaults; unknown keys an ERROR. */
static GbtParams
parse_params(Jsonb *params)
{
	GbtParams	p = default_params;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	StringInfoData unknown;

	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("gbt_train: params must be a JSON object")));
	initStringInfo(&unknown);
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (v.type != jbvNumeric)
		{
			bool		known = false;

			for (size_t i = 0; i < lengthof(param_names); i++)
				known |= strcmp(key, param_names[i]) == 0;
			if (known)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("gbt_train: parameter %s must be a number", key)));
			appendStringInfo(&unknown, "%s%s", unknown.len ? ", " : "", key);
			continue;
		}
		if (!set_param(&p, key, DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																	 NumericGetDatum(v.val.numeric)))))
			appendStringInfo(&unknown, "%s%s", unknown.len ? ", " : "", key);
	}
	if (unknown.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("gbt_train: unknown parameter(s): %s", unknown.data),
				 errhint("gbt_train takes n_trees, max_depth, learning_rate, min_child_weight, "
						 "subsample, colsample_bytree, lambda, seed, nthread and max_bin.")));
	return p;
}

/* ---------------------------------------------------------------- state */

/* One buffered row: label, dim, then dim features (NaN = missing). */
typedef struct RowHead
{
	int32		label;
	int32		dim;
} RowHead;

typedef struct GbtState
{
	ObsKind		kind;
	ObsBuffer	rows;
	int32		dim;
	GbtParams	params;
	Jsonb	   *params_seen;	/* the jsonb params were parsed from, or NULL */
} GbtState;

#define GBT_SERIAL_MAGIC 0x47425431 /* "GBT1" */

typedef struct GbtSerialHeader
{
	uint32		magic;
	int32		dim;
	GbtParams	params;
} GbtSerialHeader;

/*
 * Features in lexicographic order (NaN after every number), then the label,
 * then the bytes: a total order, so the sorted buffer depends only on the
 * rows.
 */
static int
gbt_row_cmp(const void *a, const void *b)
{
	const RowHead *ha = a;
	const RowHead *hb = b;
	const double *xa = (const double *) (ha + 1);
	const double *xb = (const double *) (hb + 1);

	for (int32 i = 0; i < ha->dim; i++)
	{
		bool		na = isnan(xa[i]),
					nb = isnan(xb[i]);

		if (na != nb)
			return na ? 1 : -1;
		if (xa[i] < xb[i])
			return -1;
		if (xa[i] > xb[i])
			return 1;
	}
	if (ha->label != hb->label)
		return ha->label < hb->label ? -1 : 1;
	return memcmp(xa, xb, (Size) ha->dim * sizeof(double));
}

static GbtState *
new_state(MemoryContext ctx, int32 dim, const GbtParams *params)
{
	GbtState   *state = MemoryContextAllocZero(ctx, sizeof(GbtState));

	state->kind.width = sizeof(RowHead) + (Size) dim * sizeof(double);
	state->kind.cmp = gbt_row_cmp;
	obs_init(&state->rows);
	state->dim = dim;
	state->params = *params;
	return state;
}

static void
check_same_parameters(const GbtState *state, const GbtParams *params)
{
	if (memcmp(&state->params, params, sizeof(*params)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training parameters must be the same for every row of a group")));
}

/* The parameters of argument argno, parsed once per distinct value. */
static GbtParams
row_params(FunctionCallInfo fcinfo, int argno, GbtState *state)
{
	Jsonb	   *j;

	if (argno < 0 || PG_ARGISNULL(argno))
		return default_params;
	j = PG_GETARG_JSONB_P(argno);
	if (state != NULL && state->params_seen != NULL &&
		VARSIZE(j) == VARSIZE(state->params_seen) &&
		memcmp(j, state->params_seen, VARSIZE(j)) == 0)
		return state->params;
	return parse_params(j);
}

static Datum
accumulate(FunctionCallInfo fcinfo, int params_arg)
{
	MemoryContext aggctx = agg_context(fcinfo, "gbt_train_accum");
	GbtState   *state = STATE_ARG(GbtState, 0);
	GbtParams	params = row_params(fcinfo, params_arg, state);
	int32		dim;
	const double *x;
	char	   *row;
	RowHead		head;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		RETURN_STATE(state);
	x = features_of(PG_GETARG_ARRAYTYPE_P(1), &dim, true);
	if (state == NULL)
		state = new_state(aggctx, dim, &params);
	else
	{
		check_same_dim(state->dim, dim);
		check_same_parameters(state, &params);
	}
	if (params_arg >= 0 && !PG_ARGISNULL(params_arg) && state->params_seen == NULL)
	{
		Jsonb	   *j = PG_GETARG_JSONB_P(params_arg);

		state->params_seen = MemoryContextAlloc(aggctx, VARSIZE(j));
		memcpy(state->params_seen, j, VARSIZE(j));
	}
	head.label = PG_GETARG_INT32(2);
	head.dim = dim;
	row = palloc(state->kind.width);
	memcpy(row, &head, sizeof(head));
	memcpy(row + sizeof(head), x, (Size) dim * sizeof(double));
	obs_append(&state->rows, &state->kind, row, aggctx);
	pfree(row);
	PG_RETURN_POINTER(state);
}

/* gbt_train_accum(state, features, label) */
Datum
gbt_train_accum(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, -1);
}

/* gbt_train_accum(state, features, label, params) */
Datum
gbt_train_accum_params(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, 3);
}

Datum
gbt_train_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "gbt_train_combine");
	GbtState   *a = STATE_ARG(GbtState, 0);
	GbtState   *b = STATE_ARG(GbtState, 1);

	if (b == NULL)
		RETURN_STATE(a);
	/* b lives in per-call memory when deserialized: copy it, never adopt it. */
	if (a == NULL)
		a = new_state(aggctx, b->dim, &b->params);
	else
	{
		check_same_dim(a->dim, b->dim);
		check_same_parameters(a, &b->params);
	}
	obs_merge(&a->rows, &b->rows, &a->kind, aggctx);
	PG_RETURN_POINTER(a);
}

Datum
gbt_train_serialize(PG_FUNCTION_ARGS)
{
	GbtState   *state = (GbtState *) PG_GETARG_POINTER(0);
	GbtSerialHeader hdr;
	Size		size = VARHDRSZ + sizeof(hdr) + obs_serial_size(&state->rows, &state->kind);
	bytea	   *result = state_bytea(size);

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = GBT_SERIAL_MAGIC;
	hdr.dim = state->dim;
	hdr.params = state->params;
	memcpy(VARDATA(result), &hdr, sizeof(hdr));
	obs_write(&state->rows, &state->kind, VARDATA(result) + sizeof(hdr));
	PG_RETURN_BYTEA_P(result);
}

static bool
params_in_range(const GbtParams *p)
{
	return p->n_trees >= 1 && p->n_trees <= GBT_MAX_TREES &&
		p->max_depth >= 1 && p->max_depth <= GBT_MAX_DEPTH &&
		p->nthread >= 1 && p->nthread <= GBT_MAX_THREADS &&
		p->max_bin >= 2 && p->max_bin <= 65535 &&
		p->learning_rate > 0 && p->learning_rate <= 1 &&
		p->min_child_weight >= 0 && isfinite(p->min_child_weight) &&
		p->lambda >= 0 && isfinite(p->lambda) &&
		p->subsample > 0 && p->subsample <= 1 &&
		p->colsample_bytree > 0 && p->colsample_bytree <= 1;
}

/* The result lives in per-call memory; gbt_train_combine copies it. */
Datum
gbt_train_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(data);
	Size		len = VARSIZE_ANY_EXHDR(data);
	GbtSerialHeader hdr;
	GbtState   *state;

	(void) agg_context(fcinfo, "gbt_train_deserialize");
	if (len < sizeof(hdr))
		goto corrupt;
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.magic != GBT_SERIAL_MAGIC || hdr.dim < 1 ||
		hdr.dim > (int32) ((MaxAllocSize - sizeof(RowHead)) / sizeof(double)) ||
		!params_in_range(&hdr.params))
		goto corrupt;
	state = new_state(CurrentMemoryContext, hdr.dim, &hdr.params);
	if (obs_read(&state->rows, &state->kind, p + sizeof(hdr), len - sizeof(hdr),
				 CurrentMemoryContext) != len - sizeof(hdr))
		goto corrupt;
	/* every row must carry the state's dimension: the comparison reads it */
	for (Size i = 0; i < state->rows.n; i++)
		if (((const RowHead *) OBS_AT(&state->rows, &state->kind, i))->dim != hdr.dim)
			goto corrupt;
	PG_RETURN_POINTER(state);

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid serialized gbt training state")));
	pg_unreachable();
}

/* ------------------------------------------------------ decoded model */

typedef struct GbtDecoded
{
	GbtModel	m;
	GbtCompiled c;				/* the walker's form of m */
	GbtParams	params;
	uint32		n_train;
	double	   *gain;			/* per feature: summed loss reduction of its splits */
} GbtDecoded;

/*
 * Checks d->m and compiles it into d->c (arrays in the current memory
 * context): GBT_OK or the first problem.
 */
static GbtStatus
check_and_compile(GbtDecoded *d)
{
	GbtStatus	status = gbt_validate(&d->m);
	uint32		blocks = gbt_blocks(&d->m);
	Size		steps = (Size) d->m.n_nodes + 1;
	uint32	   *scratch;

	if (status != GBT_OK)
		return status;
	d->c.steps = palloc_extended(steps * sizeof(GbtStep), MCXT_ALLOC_HUGE);
	d->c.leaf = palloc_extended(steps * sizeof(float), MCXT_ALLOC_HUGE);
	d->c.root = palloc_extended((Size) blocks * GBT_LANES * sizeof(uint32), MCXT_ALLOC_HUGE);
	d->c.group = palloc_extended((Size) blocks * GBT_LANES * sizeof(uint32), MCXT_ALLOC_HUGE);
	d->c.depth = palloc_extended((Size) blocks * sizeof(uint32), MCXT_ALLOC_HUGE);
	scratch = palloc_extended(2 * (Size) d->m.n_nodes * sizeof(uint32), MCXT_ALLOC_HUGE);
	status = gbt_compile(&d->m, scratch, &d->c);
	pfree(scratch);
	return status;
}

/* ------------------------------------------------------------- training */

/*
 * Grows the model on the float32 matrix x (n x dim) and class indices y
 * (0..K-1) with the kernel (gbt_train.c) into d, whose classes are set.
 * The host's poll returns rather than raising: the kernel's threads are
 * joined before the cancel is raised.
 */
static void
train_model(const float *x, const uint32 *y, Size n, int32 dim, GbtDecoded *d)
{
	const GbtParams *p = &d->params;
	GbtTrainParams tp;
	KernelHost	host = pg_kernel_host_returning(CurrentMemoryContext);
	const int32 *classes = d->m.classes;
	uint32		k = d->m.n_classes;
	GbtTrainStatus status;

	tp.rounds = (uint32) p->n_trees;
	tp.max_depth = (uint32) p->max_depth;
	tp.max_bin = (uint32) p->max_bin;
	tp.nthread = (uint32) p->nthread;
	tp.learning_rate = p->learning_rate;
	tp.min_child_weight = p->min_child_weight;
	tp.subsample = p->subsample;
	tp.colsample_bytree = p->colsample_bytree;
	tp.lambda = p->lambda;
	tp.seed = (uint64) p->seed;
	d->gain = palloc_extended((Size) dim * sizeof(double), MCXT_ALLOC_HUGE);
	status = gbt_train(x, y, n, (uint32) dim, k, &tp, &host, &d->m, d->gain);
	switch (status)
	{
		case GBT_TRAIN_OK:
			break;
		case GBT_TRAIN_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("gbt_train: out of memory for %zu rows of %d features", n, dim)));
			break;
		case GBT_TRAIN_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("gbt_train: the model would have more than %u nodes", UINT32_MAX)));
			break;
		case GBT_TRAIN_INTERRUPTED:
			CHECK_FOR_INTERRUPTS();
			pg_kernel_stopped("gbt_train");
			break;
		case GBT_TRAIN_BAD_PARAMS:
		case GBT_TRAIN_BAD_DATA:
			/* the glue checked both */
			elog(ERROR, "gbt_train: unexpected status: %s", gbt_train_status_message(status));
	}
	d->m.classes = classes;
}

static struct varlena *gbt_encode(const GbtDecoded *d);

Datum
gbt_train_final(PG_FUNCTION_ARGS)
{
	GbtState   *state;
	MemoryContext ctx,
				old;
	GbtDecoded	d;
	int32	   *classes;
	float	   *x;
	uint32	   *y;
	Size		n;
	int32		dim;
	uint32		k;
	GbtStatus	status;
	struct varlena *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (GbtState *) PG_GETARG_POINTER(0);
	n = state->rows.n;
	dim = state->dim;
	if (n > (Size) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gbt_train takes at most %d rows, got %zu", PG_INT32_MAX, n)));
	ctx = AllocSetContextCreate(CurrentMemoryContext, "gbt_train", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ctx);
	obs_sort(&state->rows, &state->kind);

	/* the sorted distinct labels are the classes */
	classes = palloc_extended(n * sizeof(int32), MCXT_ALLOC_HUGE);
	for (Size i = 0; i < n; i++)
		classes[i] = ((const RowHead *) OBS_AT(&state->rows, &state->kind, i))->label;
	k = (uint32) labels_distinct(classes, n);
	if (k < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("gbt_train needs at least two classes, got one")));

	x = palloc_extended(n * dim * sizeof(float), MCXT_ALLOC_HUGE);
	y = palloc_extended(n * sizeof(uint32), MCXT_ALLOC_HUGE);
	for (Size i = 0; i < n; i++)
	{
		const char *row = OBS_AT(&state->rows, &state->kind, i);
		const double *f = (const double *) (row + sizeof(RowHead));

		y[i] = labels_index(classes, k, ((const RowHead *) row)->label);
		for (int32 j = 0; j < dim; j++)
		{
			x[i * dim + j] = (float) f[j];
			/* the walker compares float32, as training does */
			if (isinf(x[i * dim + j]))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("gbt_train: feature %d is %s, outside float4's range", j + 1,
								float8out_internal(f[j]))));
		}
	}
	memset(&d, 0, sizeof(d));
	d.m.n_features = (uint32) dim;
	d.m.n_classes = k;
	d.m.classes = classes;
	d.params = state->params;
	d.n_train = (uint32) n;
	if (antares_verbose)
		ereport(NOTICE,
				(errmsg("gbt_train: %zu rows, %d features, %u classes, %d rounds, %d threads",
						n, dim, k, d.params.n_trees, d.params.nthread)));
	train_model(x, y, n, dim, &d);
	status = check_and_compile(&d);
	if (status != GBT_OK)
		elog(ERROR, "gbt_train: the trained trees are not a valid ensemble: %s",
			 gbt_status_message(status));
	MemoryContextSwitchTo(old);
	result = gbt_encode(&d);
	MemoryContextDelete(ctx);
	PG_RETURN_POINTER(result);
}

/* ----------------------------------------------------- model encoding */

/*
 * gbt payload (after model.h's header, whose dim is n_features):
 *	 u32 n_classes, u32 n_trees, u32 n_nodes, u32 n_train, f64 base_margin,
 *	 parameters: i32 n_trees (rounds), i32 max_depth, i32 nthread, i32 max_bin,
 *	 f64 learning_rate, min_child_weight, subsample, colsample_bytree, lambda,
 *	 i64 seed,
 *	 i32 classes[n_classes], u32 tree_start[n_trees + 1], u32 tree_group[n_trees],
 *	 n_nodes x (f32 threshold, f32 leaf, i32 feature, u32 left, u32 right,
 *	 u32 default_left)	(gbt.h's GbtNode),
 *	 f64 gain[n_features]
 */
#define GBT_FIXED_SIZE (8 * sizeof(uint32) + 6 * sizeof(double) + sizeof(int64))
#define GBT_NODE_SIZE (6 * sizeof(uint32))

static uint64
gbt_payload_size(uint64 n_classes, uint64 n_trees, uint64 n_nodes, uint64 dim)
{
	return GBT_FIXED_SIZE + n_classes * sizeof(int32) + (2 * n_trees + 1) * sizeof(uint32) +
		n_nodes * GBT_NODE_SIZE + dim * sizeof(double);
}

static void
put_f32(ModelWriter *w, float v)
{
	uint32		u;

	memcpy(&u, &v, sizeof(u));
	model_put_u32(w, u);
}

static float
get_f32(ModelReader *r)
{
	uint32		u = model_get_u32(r);
	float		v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

static struct varlena *
gbt_encode(const GbtDecoded *d)
{
	const GbtModel *m = &d->m;
	const GbtParams *p = &d->params;
	ModelWriter w;
	struct varlena *v = model_create(MODEL_GBT, m->n_features,
									 gbt_payload_size(m->n_classes, m->n_trees, m->n_nodes,
													  m->n_features), &w);

	model_put_u32(&w, m->n_classes);
	model_put_u32(&w, m->n_trees);
	model_put_u32(&w, m->n_nodes);
	model_put_u32(&w, d->n_train);
	model_put_f64(&w, m->base_margin);
	model_put_i32(&w, p->n_trees);
	model_put_i32(&w, p->max_depth);
	model_put_i32(&w, p->nthread);
	model_put_i32(&w, p->max_bin);
	model_put_f64(&w, p->learning_rate);
	model_put_f64(&w, p->min_child_weight);
	model_put_f64(&w, p->subsample);
	model_put_f64(&w, p->colsample_bytree);
	model_put_f64(&w, p->lambda);
	model_put_i64(&w, p->seed);
	for (uint32 k = 0; k < m->n_classes; k++)
		model_put_i32(&w, m->classes[k]);
	for (uint32 t = 0; t <= m->n_trees; t++)
		model_put_u32(&w, m->tree_start[t]);
	for (uint32 t = 0; t < m->n_trees; t++)
		model_put_u32(&w, m->tree_group[t]);
	for (uint32 i = 0; i < m->n_nodes; i++)
	{
		const GbtNode *n = &m->nodes[i];

		put_f32(&w, n->threshold);
		put_f32(&w, n->leaf);
		model_put_i32(&w, n->feature);
		model_put_u32(&w, n->left);
		model_put_u32(&w, n->right);
		model_put_u32(&w, n->default_left);
	}
	for (uint32 j = 0; j < m->n_features; j++)
		model_put_f64(&w, d->gain[j]);
	model_seal(v, &w);
	return v;
}

/*
 * Decodes a model into *d (arrays in the current memory context) and
 * validates every count, index and value: an inconsistency is an ERROR with
 * errcode.
 */
static void
gbt_decode(const struct varlena *v, int errcode, GbtDecoded *d)
{
	ModelReader r;
	uint32		dim = model_open(v, MODEL_GBT, errcode, &r);
	GbtModel   *m = &d->m;
	GbtParams  *p = &d->params;
	int32	   *classes;
	uint32	   *tree_start,
			   *tree_group;
	GbtNode    *nodes;
	GbtStatus	status;

	if (model_remaining(&r) < GBT_FIXED_SIZE)
		model_invalid(&r, "truncated payload");
	m->n_features = dim;
	m->n_classes = model_get_u32(&r);
	m->n_trees = model_get_u32(&r);
	m->n_nodes = model_get_u32(&r);
	d->n_train = model_get_u32(&r);
	m->base_margin = model_get_f64(&r);
	p->n_trees = model_get_i32(&r);
	p->max_depth = model_get_i32(&r);
	p->nthread = model_get_i32(&r);
	p->max_bin = model_get_i32(&r);
	p->learning_rate = model_get_f64(&r);
	p->min_child_weight = model_get_f64(&r);
	p->subsample = model_get_f64(&r);
	p->colsample_bytree = model_get_f64(&r);
	p->lambda = model_get_f64(&r);
	p->seed = model_get_i64(&r);
	/* the sizes must add up to the payload before anything is allocated */
	if (m->n_classes < 2 || m->n_trees < 1 || m->n_nodes < m->n_trees ||
		gbt_payload_size(m->n_classes, m->n_trees, m->n_nodes, dim) !=
		model_remaining(&r) + GBT_FIXED_SIZE)
		model_invalid(&r, "sizes (%u classes, %u trees, %u nodes) do not match its length",
					  m->n_classes, m->n_trees, m->n_nodes);
	if (!params_in_range(p) ||
		(uint64) p->n_trees * gbt_groups(m->n_classes) != m->n_trees ||
		d->n_train < m->n_classes)
		model_invalid(&r, "training parameters out of range");
	classes = palloc(m->n_classes * sizeof(int32));
	tree_start = palloc_extended(((Size) m->n_trees + 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	tree_group = palloc_extended((Size) m->n_trees * sizeof(uint32), MCXT_ALLOC_HUGE);
	nodes = palloc_extended((Size) m->n_nodes * sizeof(GbtNode), MCXT_ALLOC_HUGE);
	d->gain = palloc_extended((Size) dim * sizeof(double), MCXT_ALLOC_HUGE);
	for (uint32 k = 0; k < m->n_classes; k++)
		classes[k] = model_get_i32(&r);
	model_get_u32s(&r, tree_start, (Size) m->n_trees + 1);
	model_get_u32s(&r, tree_group, m->n_trees);
	for (uint32 i = 0; i < m->n_nodes; i++)
	{
		nodes[i].threshold = get_f32(&r);
		nodes[i].leaf = get_f32(&r);
		nodes[i].feature = model_get_i32(&r);
		nodes[i].left = model_get_u32(&r);
		nodes[i].right = model_get_u32(&r);
		nodes[i].default_left = model_get_u32(&r);
	}
	model_get_f64s(&r, d->gain, dim);
	model_end(&r);
	m->classes = classes;
	m->tree_start = tree_start;
	m->tree_group = tree_group;
	m->nodes = nodes;
	status = check_and_compile(d);
	if (status != GBT_OK)
		model_invalid(&r, "its trees are not a valid ensemble (%s)", gbt_status_message(status));
	for (uint32 j = 0; j < dim; j++)
		if (!(d->gain[j] >= 0) || isinf(d->gain[j]))
			model_invalid(&r, "gain of feature %u is %g", j + 1, d->gain[j]);
}

/* ----------------------------------------------------------- type I/O */

static void
gbt_validate_value(const struct varlena *v, int errcode)
{
	GbtDecoded	d;

	gbt_decode(v, errcode, &d);
}

Datum
gbt_model_in(PG_FUNCTION_ARGS)
{
	return model_type_in(fcinfo, MODEL_GBT, gbt_validate_value);
}

Datum
gbt_model_out(PG_FUNCTION_ARGS)
{
	return model_type_out(fcinfo, MODEL_GBT);
}

Datum
gbt_model_recv(PG_FUNCTION_ARGS)
{
	return model_type_recv(fcinfo, MODEL_GBT, gbt_validate_value);
}

Datum
gbt_model_send(PG_FUNCTION_ARGS)
{
	return model_type_send(fcinfo, MODEL_GBT);
}

/* ------------------------------------------------------------ prediction */

typedef struct GbtCached
{
	GbtDecoded	d;
	float	   *xf;				/* n_features of scratch */
	double	   *proba;			/* n_classes of scratch */
} GbtCached;

static void *
gbt_cache_build(const struct varlena *v)
{
	GbtCached  *c = palloc0(sizeof(GbtCached));

	gbt_decode(v, ERRCODE_DATA_CORRUPTED, &c->d);
	c->xf = palloc_extended((Size) c->d.m.n_features * sizeof(float), MCXT_ALLOC_HUGE);
	c->proba = palloc(c->d.m.n_classes * sizeof(double));
	return c;
}

/* gbt_predict(m, features) -> the label of the largest probability */
Datum
gbt_predict_sql(PG_FUNCTION_ARGS)
{
	GbtCached  *c = model_cached(fcinfo, 0, gbt_cache_build);
	const double *x = features_for_model(PG_GETARG_ARRAYTYPE_P(1), c->d.m.n_features, true);

	PG_RETURN_INT32(gbt_predict(&c->d.m, &c->d.c, x, c->xf, c->proba));
}

/* gbt_predict_proba(m, features) -> float8[], one per class in label order */
Datum
gbt_predict_proba_sql(PG_FUNCTION_ARGS)
{
	GbtCached  *c = model_cached(fcinfo, 0, gbt_cache_build);
	const double *x = features_for_model(PG_GETARG_ARRAYTYPE_P(1), c->d.m.n_features, true);
	int			n = (int) c->d.m.n_classes;
	Size		size = ARR_OVERHEAD_NONULLS(1) + (Size) n * sizeof(double);
	ArrayType  *a = palloc(size);

	SET_VARSIZE(a, size);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = FLOAT8OID;
	ARR_DIMS(a)[0] = n;
	ARR_LBOUND(a)[0] = 1;
	gbt_predict_proba(&c->d.m, &c->d.c, x, c->xf, (double *) ((char *) a + ARR_OVERHEAD_NONULLS(1)));
	PG_RETURN_ARRAYTYPE_P(a);
}

/* ------------------------------------------------------- info, importance */

/*
 * gbt_info(m) -> jsonb: kind, format version, features, classes, trees (one
 * per class and round, one per round for two classes), nodes, training rows,
 * the base margin and the training parameters.
 */
Datum
gbt_info(PG_FUNCTION_ARGS)
{
	GbtDecoded	d;
	const GbtParams *p = &d.params;
	StringInfoData s;

	gbt_decode(PG_DETOAST_DATUM(PG_GETARG_DATUM(0)), ERRCODE_DATA_CORRUPTED, &d);
	initStringInfo(&s);
	appendStringInfo(&s, "{\"kind\": \"gbt\", \"format_version\": %d, \"n_features\": %u, "
					 "\"n_classes\": %u", MODEL_FORMAT_VERSION, d.m.n_features, d.m.n_classes);
	append_json_int_array(&s, "classes", d.m.classes, d.m.n_classes);
	appendStringInfo(&s, ", \"n_trees\": %u, \"n_nodes\": %u, \"n_train\": %u, \"base_margin\": ",
					 d.m.n_trees, d.m.n_nodes, d.n_train);
	append_json_float(&s, d.m.base_margin);
	appendStringInfo(&s, ", \"params\": {\"n_trees\": %d, \"max_depth\": %d, \"learning_rate\": ",
					 p->n_trees, p->max_depth);
	append_json_float(&s, p->learning_rate);
	appendStringInfoString(&s, ", \"min_child_weight\": ");
	append_json_float(&s, p->min_child_weight);
	appendStringInfoString(&s, ", \"subsample\": ");
	append_json_float(&s, p->subsample);
	appendStringInfoString(&s, ", \"colsample_bytree\": ");
	append_json_float(&s, p->colsample_bytree);
	appendStringInfoString(&s, ", \"lambda\": ");
	append_json_float(&s, p->lambda);
	appendStringInfo(&s, ", \"seed\": " INT64_FORMAT ", \"nthread\": %d, \"max_bin\": %d}}",
					 p->seed, p->nthread, p->max_bin);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

/*
 * gbt_importance(m) -> (feature, gain, weight) for every feature, 1-based:
 * XGBoost's importance types 'gain' (the mean loss reduction of the
 * feature's splits; 0 for an unused feature) and 'weight' (its splits).
 */
Datum
gbt_importance(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	GbtDecoded	d;
	int64	   *splits;

	gbt_decode(PG_DETOAST_DATUM(PG_GETARG_DATUM(0)), ERRCODE_DATA_CORRUPTED, &d);
	splits = palloc0((Size) d.m.n_features * sizeof(int64));
	for (uint32 i = 0; i < d.m.n_nodes; i++)
		if (d.m.nodes[i].feature != GBT_LEAF)
			splits[d.m.nodes[i].feature]++;
	InitMaterializedSRF(fcinfo, 0);
	for (uint32 j = 0; j < d.m.n_features; j++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int32GetDatum((int32) j + 1);
		values[1] = Float8GetDatum(splits[j] > 0 ? d.gain[j] / splits[j] : 0.0);
		values[2] = Int64GetDatum(splits[j]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
