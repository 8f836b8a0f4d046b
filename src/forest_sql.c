/*
 * forest_sql.c
 *		SQL glue of the tree-ensemble kernels (iforest.c, random_forest.c):
 *		the iforest_train and rf_train aggregates, the antares.iforest_model
 *		and antares.rf_model types, iforest_score, iforest_decision,
 *		iforest_info, rf_predict, rf_predict_proba and rf_info.
 *
 * Both aggregates buffer their rows in one state type, an ObsBuffer whose
 * order is the rows' content (features, then label): serialization sorts in
 * the workers, combine merges, and the final function trains on the rows in
 * that order.  Row order decides which rows a seed's draws pick (the
 * sub-samples, the bootstrap), so sorting makes a model a function of the
 * multiset of rows and the seed alone: the same model from a serial or a
 * parallel plan, whatever order the table returns rows in.  Transition is
 * O(d) per row; the final function sorts (O(n log n) comparisons of rows)
 * and trains (iforest.h, random_forest.h give the costs).
 *
 * Parameters are taken on every row and must not change within a group; a
 * NULL parameter means its default.  The default seed is 0: with no seed
 * the same rows give the same model, as an IMMUTABLE aggregate must
 * (scikit-learn's random_state=None draws a fresh seed instead).
 *
 * Scoring and prediction decode a model once per distinct value
 * (model_cached) and then walk its trees for each row.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "antares.h"
#include "iforest.h"
#include "kernel_host_pg.h"
#include "model.h"
#include "obs_buffer.h"
#include "random_forest.h"

PG_FUNCTION_INFO_V1(iforest_train_accum);
PG_FUNCTION_INFO_V1(iforest_train_accum_params);
PG_FUNCTION_INFO_V1(rf_train_accum);
PG_FUNCTION_INFO_V1(rf_train_accum_params);
PG_FUNCTION_INFO_V1(forest_train_combine);
PG_FUNCTION_INFO_V1(forest_train_serialize);
PG_FUNCTION_INFO_V1(forest_train_deserialize);
PG_FUNCTION_INFO_V1(iforest_train_final);
PG_FUNCTION_INFO_V1(rf_train_final);
PG_FUNCTION_INFO_V1(iforest_model_in);
PG_FUNCTION_INFO_V1(iforest_model_out);
PG_FUNCTION_INFO_V1(iforest_model_recv);
PG_FUNCTION_INFO_V1(iforest_model_send);
PG_FUNCTION_INFO_V1(rf_model_in);
PG_FUNCTION_INFO_V1(rf_model_out);
PG_FUNCTION_INFO_V1(rf_model_recv);
PG_FUNCTION_INFO_V1(rf_model_send);
PG_FUNCTION_INFO_V1(iforest_score_sql);
PG_FUNCTION_INFO_V1(iforest_decision_sql);
PG_FUNCTION_INFO_V1(iforest_info);
PG_FUNCTION_INFO_V1(rf_predict_sql);
PG_FUNCTION_INFO_V1(rf_predict_proba_sql);
PG_FUNCTION_INFO_V1(rf_info);

/* ---------------------------------------------------------------- state */

/*
 * Training parameters as given (0 = the default; max_depth 0 = unlimited).
 * The isolation forest uses n_trees, max_samples and seed; the random
 * forest all but max_samples.
 */
typedef struct ForestTrainParams
{
	int32		n_trees;
	int32		max_samples;
	int32		max_features;
	int32		max_depth;
	int32		min_samples_leaf;
	int32		padding;		/* zero: the struct is compared with memcmp */
	int64		seed;
} ForestTrainParams;

/*
 * One buffered row: int32 label (0 for the isolation forest), int32 dim,
 * then dim features; dim is in every row because an ObsKind's comparison
 * sees only the two rows.
 */
typedef struct RowHead
{
	int32		label;
	int32		dim;
} RowHead;

typedef struct ForestState
{
	ObsKind		kind;			/* width 8 + 8 dim, ordered by forest_row_cmp */
	ObsBuffer	rows;
	int32		dim;
	bool		labelled;		/* rf_train */
	ForestTrainParams params;
} ForestState;

#define FOREST_SERIAL_MAGIC 0x46525431	/* "FRT1" */

typedef struct ForestSerialHeader
{
	uint32		magic;
	int32		dim;
	int32		labelled;
	int32		padding;
	ForestTrainParams params;
} ForestSerialHeader;

/*
 * Features in lexicographic order, then the label; rows equal as numbers
 * (0.0 and -0.0) are ordered by their bytes, so the order is total and the
 * sorted buffer, hence the model, depends only on the rows.
 */
static int
forest_row_cmp(const void *a, const void *b)
{
	const RowHead *ha = a;
	const RowHead *hb = b;
	const double *xa = (const double *) (ha + 1);
	const double *xb = (const double *) (hb + 1);

	for (int32 i = 0; i < ha->dim; i++)
	{
		if (xa[i] < xb[i])
			return -1;
		if (xa[i] > xb[i])
			return 1;
	}
	if (ha->label != hb->label)
		return ha->label < hb->label ? -1 : 1;
	return memcmp(xa, xb, (Size) ha->dim * sizeof(double));
}

static Size
row_width(int32 dim)
{
	return sizeof(RowHead) + (Size) dim * sizeof(double);
}

static ForestState *
new_state(MemoryContext ctx, int32 dim, bool labelled, const ForestTrainParams *params)
{
	ForestState *state = MemoryContextAllocZero(ctx, sizeof(ForestState));

	state->kind.width = row_width(dim);
	state->kind.cmp = forest_row_cmp;
	obs_init(&state->rows);
	state->dim = dim;
	state->labelled = labelled;
	state->params = *params;
	return state;
}

static void
check_same_parameters(const ForestState *state, const ForestTrainParams *params)
{
	if (memcmp(&state->params, params, sizeof(*params)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training parameters must be the same for every row of a group")));
}

/* An int parameter: NULL is the default (0 here), otherwise >= min. */
static int32
int_param(FunctionCallInfo fcinfo, int argno, const char *name, int32 min)
{
	int32		v;

	if (PG_ARGISNULL(argno))
		return 0;
	v = PG_GETARG_INT32(argno);
	if (v < min)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at least %d, got %d", name, min, v)));
	return v;
}

/*
 * Transition: skip a row with NULL features (or label), validate, append.
 * params_arg is the first parameter's argument number, or -1 for the forms
 * without parameters.
 */
static Datum
accumulate(FunctionCallInfo fcinfo, bool labelled, int params_arg)
{
	MemoryContext aggctx = agg_context(fcinfo, labelled ? "rf_train_accum" : "iforest_train_accum");
	ForestState *state = STATE_ARG(ForestState, 0);
	ForestTrainParams params;
	int32		dim;
	const double *x;
	char	   *row;
	RowHead		head;

	memset(&params, 0, sizeof(params));
	if (params_arg >= 0 && !labelled)
	{
		params.n_trees = int_param(fcinfo, params_arg, "n_trees", 1);
		params.max_samples = int_param(fcinfo, params_arg + 1, "max_samples", 2);
		params.seed = PG_ARGISNULL(params_arg + 2) ? 0 : PG_GETARG_INT64(params_arg + 2);
	}
	else if (params_arg >= 0)
	{
		params.n_trees = int_param(fcinfo, params_arg, "n_trees", 1);
		params.max_features = int_param(fcinfo, params_arg + 1, "max_features", 1);
		params.max_depth = int_param(fcinfo, params_arg + 2, "max_depth", 1);
		params.min_samples_leaf = int_param(fcinfo, params_arg + 3, "min_samples_leaf", 1);
		params.seed = PG_ARGISNULL(params_arg + 4) ? 0 : PG_GETARG_INT64(params_arg + 4);
	}
	if (PG_ARGISNULL(1) || (labelled && PG_ARGISNULL(2)))
		RETURN_STATE(state);
	x = features_of(PG_GETARG_ARRAYTYPE_P(1), &dim, false);
	if (params.max_features > dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_features must be at most the number of features, %d, got %d",
						dim, params.max_features)));

	if (state == NULL)
		state = new_state(aggctx, dim, labelled, &params);
	else
	{
		check_same_dim(state->dim, dim);
		check_same_parameters(state, &params);
	}
	head.label = labelled ? PG_GETARG_INT32(2) : 0;
	head.dim = dim;
	row = palloc(state->kind.width);
	memcpy(row, &head, sizeof(head));
	memcpy(row + sizeof(head), x, (Size) dim * sizeof(double));
	obs_append(&state->rows, &state->kind, row, aggctx);
	pfree(row);
	PG_RETURN_POINTER(state);
}

/* iforest_train_accum(state, features) */
Datum
iforest_train_accum(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, false, -1);
}

/* iforest_train_accum(state, features, n_trees, max_samples, seed) */
Datum
iforest_train_accum_params(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, false, 2);
}

/* rf_train_accum(state, features, label) */
Datum
rf_train_accum(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, true, -1);
}

/* rf_train_accum(state, features, label, n_trees, max_features, max_depth,
 * min_samples_leaf, seed) */
Datum
rf_train_accum_params(PG_FUNCTION_ARGS)
{
	return accumulate(fcinfo, true, 3);
}

Datum
forest_train_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "forest_train_combine");
	ForestState *a = STATE_ARG(ForestState, 0);
	ForestState *b = STATE_ARG(ForestState, 1);

	if (b == NULL)
		RETURN_STATE(a);
	/* b lives in per-call memory when deserialized: copy it, never adopt it. */
	if (a == NULL)
		a = new_state(aggctx, b->dim, b->labelled, &b->params);
	else
	{
		check_same_dim(a->dim, b->dim);
		check_same_parameters(a, &b->params);
	}
	obs_merge(&a->rows, &b->rows, &a->kind, aggctx);
	PG_RETURN_POINTER(a);
}

Datum
forest_train_serialize(PG_FUNCTION_ARGS)
{
	ForestState *state = (ForestState *) PG_GETARG_POINTER(0);
	ForestSerialHeader hdr;
	Size		size = VARHDRSZ + sizeof(hdr) + obs_serial_size(&state->rows, &state->kind);
	bytea	   *result = state_bytea(size);

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = FOREST_SERIAL_MAGIC;
	hdr.dim = state->dim;
	hdr.labelled = state->labelled;
	hdr.params = state->params;
	memcpy(VARDATA(result), &hdr, sizeof(hdr));
	obs_write(&state->rows, &state->kind, VARDATA(result) + sizeof(hdr));
	PG_RETURN_BYTEA_P(result);
}

/* The result lives in per-call memory; forest_train_combine copies it. */
Datum
forest_train_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(data);
	Size		len = VARSIZE_ANY_EXHDR(data);
	ForestSerialHeader hdr;
	ForestState *state;

	(void) agg_context(fcinfo, "forest_train_deserialize");
	if (len < sizeof(hdr))
		goto corrupt;
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.magic != FOREST_SERIAL_MAGIC || hdr.dim < 1 ||
		hdr.dim > (int32) ((MaxAllocSize - sizeof(RowHead)) / sizeof(double)) ||
		(hdr.labelled != 0 && hdr.labelled != 1) ||
		hdr.params.n_trees < 0 || hdr.params.max_samples < 0 ||
		hdr.params.max_features < 0 || hdr.params.max_features > hdr.dim ||
		hdr.params.max_depth < 0 || hdr.params.min_samples_leaf < 0 ||
		hdr.params.padding != 0)
		goto corrupt;
	state = new_state(CurrentMemoryContext, hdr.dim, hdr.labelled, &hdr.params);
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
			 errmsg("invalid serialized forest training state")));
	pg_unreachable();
}

/* ------------------------------------------------------------- training */

/*
 * A training run's glue: the context of the kernel's memory (its host's),
 * and what progress reports name.
 */
typedef struct ForestGlue
{
	MemoryContext ctx;
	const char *what;
	uint32		reported_tenths;
} ForestGlue;

/*
 * Called after each tree: with antares.verbose on, reports every tenth of
 * the trees.  (Cancels reach training through the kernel's host.)
 */
static void
forest_progress(void *arg, uint32_t trees_done, uint32_t n_trees)
{
	ForestGlue *glue = arg;
	uint32		tenths;

	if (!antares_verbose)
		return;
	tenths = (uint32) ((uint64) trees_done * 10 / n_trees);
	if (tenths > glue->reported_tenths)
	{
		glue->reported_tenths = tenths;
		ereport(NOTICE,
				(errmsg("%s: %u of %u trees grown", glue->what, trees_done, n_trees)));
	}
}

static void
check_validation(ModelReader *r, ForestStatus status, const char *what)
{
	if (status == FOREST_OUT_OF_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while checking %s", model_type_name(r->kind))));
	if (status != FOREST_OK)
		model_invalid(r, "its trees are not a valid %s (%s)", what,
					  forest_status_message(status));
}

static void
report_forest_status(ForestStatus status, const char *what, Size n_rows)
{
	switch (status)
	{
		case FOREST_OK:
			return;
		case FOREST_INVALID_ARGUMENT:
			if (n_rows < 2)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s needs at least 2 rows, got %zu", what, n_rows)));
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s: the forest would be too large (%zu rows; at most 2^32 nodes in all)",
							what, n_rows)));
			break;
		case FOREST_NONFINITE_INPUT:
			/* the transition rejected them: a corrupt state */
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("%s: non-finite features in the training state", what)));
			break;
		case FOREST_SINGLE_CLASS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s needs at least two classes, got one", what)));
			break;
		case FOREST_OUT_OF_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while growing a forest (%s)", what)));
			break;
		case FOREST_INTERRUPTED:
			pg_kernel_stopped(what);
		case FOREST_CORRUPT:
			elog(ERROR, "%s: unexpected status %s", what, forest_status_message(status));
			break;
	}
}

/*
 * The state's rows in their (content) order as a row-major n x dim matrix
 * and, when labels is not NULL, their labels; both in the current context.
 */
static void
state_matrix(ForestState *state, double **x, int32 **labels)
{
	Size		n = state->rows.n;
	int32		dim = state->dim;

	obs_sort(&state->rows, &state->kind);
	*x = palloc_extended(Max(n * dim, 1) * sizeof(double), MCXT_ALLOC_HUGE);
	if (labels)
		*labels = palloc_extended(Max(n, 1) * sizeof(int32), MCXT_ALLOC_HUGE);
	for (Size i = 0; i < n; i++)
	{
		const char *row = OBS_AT(&state->rows, &state->kind, i);

		if (labels)
			(*labels)[i] = ((const RowHead *) row)->label;
		memcpy(*x + i * dim, row + sizeof(RowHead), (Size) dim * sizeof(double));
	}
}

/* ------------------------------------------------ iforest model encoding */

/*
 * iforest payload (after model.h's header, whose dim is n_features):
 *	 u32 n_trees, u32 max_samples, u32 n_nodes, u32 n_train, i64 seed,
 *	 u32 tree_start[n_trees + 1],
 *	 n_nodes x (f64 threshold, i32 feature, u32 payload)	(forest.h's ForestNode)
 */
#define IFOREST_FIXED_SIZE (4 * sizeof(uint32) + sizeof(int64))
#define NODE_SIZE (sizeof(double) + 2 * sizeof(uint32))

static uint64
iforest_payload_size(uint64 n_trees, uint64 n_nodes)
{
	return IFOREST_FIXED_SIZE + (n_trees + 1) * sizeof(uint32) + n_nodes * NODE_SIZE;
}

static void
put_nodes(ModelWriter *w, const ForestNode *nodes, uint32 n)
{
	for (uint32 i = 0; i < n; i++)
	{
		model_put_f64(w, nodes[i].threshold);
		model_put_i32(w, nodes[i].feature);
		model_put_u32(w, nodes[i].payload);
	}
}

/*
 * size bytes starting on a cache line, for the arrays a walk reads at
 * random: palloc aligns for double only, so a 16-byte node or a row of
 * probabilities could straddle two lines and cost two loads where one
 * suffices (measured: 25% of rf_predict's time).  The slack goes with the
 * memory context.
 */
static void *
palloc_cache_aligned(Size size)
{
	char	   *p = palloc_extended(size + PG_CACHE_LINE_SIZE, MCXT_ALLOC_HUGE);

	return (void *) TYPEALIGN(PG_CACHE_LINE_SIZE, p);
}

static void
get_nodes(ModelReader *r, ForestNode *nodes, uint32 n)
{
#ifndef WORDS_BIGENDIAN
	StaticAssertStmt(sizeof(ForestNode) == NODE_SIZE, "ForestNode is stored as is");
	if ((uint64) n * NODE_SIZE > model_remaining(r))
		model_invalid(r, "truncated payload");
	memcpy(nodes, r->p, (Size) n * NODE_SIZE);
	r->p += (Size) n * NODE_SIZE;
#else
	for (uint32 i = 0; i < n; i++)
	{
		nodes[i].threshold = model_get_f64(r);
		nodes[i].feature = model_get_i32(r);
		nodes[i].payload = model_get_u32(r);
	}
#endif
}

typedef struct IForestModel
{
	IForest		f;
	uint32		n_train;
	int64		seed;
} IForestModel;

static struct varlena *
iforest_encode(const IForestModel *m)
{
	ModelWriter w;
	struct varlena *v = model_create(MODEL_IFOREST, m->f.n_features,
									 iforest_payload_size(m->f.n_trees, m->f.n_nodes), &w);

	model_put_u32(&w, m->f.n_trees);
	model_put_u32(&w, m->f.max_samples);
	model_put_u32(&w, m->f.n_nodes);
	model_put_u32(&w, m->n_train);
	model_put_i64(&w, m->seed);
	for (uint32 t = 0; t <= m->f.n_trees; t++)
		model_put_u32(&w, m->f.tree_start[t]);
	put_nodes(&w, m->f.nodes, m->f.n_nodes);
	model_seal(v, &w);
	return v;
}

/*
 * Decodes a model into *m (arrays in the current memory context) and runs
 * the kernel's validator: any inconsistency is an ERROR with errcode.
 */
static void
iforest_decode(const struct varlena *v, int errcode, IForestModel *m)
{
	ModelReader r;
	uint32		dim = model_open(v, MODEL_IFOREST, errcode, &r);
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);

	if (model_remaining(&r) < IFOREST_FIXED_SIZE)
		model_invalid(&r, "truncated payload");
	m->f.n_features = dim;
	m->f.n_trees = model_get_u32(&r);
	m->f.max_samples = model_get_u32(&r);
	m->f.n_nodes = model_get_u32(&r);
	m->n_train = model_get_u32(&r);
	m->seed = model_get_i64(&r);
	/* the sizes must add up to the payload before anything is allocated */
	if (m->f.n_trees < 1 || m->f.n_nodes < m->f.n_trees ||
		iforest_payload_size(m->f.n_trees, m->f.n_nodes) !=
		model_remaining(&r) + IFOREST_FIXED_SIZE)
		model_invalid(&r, "sizes (%u trees, %u nodes) do not match its length",
					  m->f.n_trees, m->f.n_nodes);
	if (m->f.max_samples < 2 || m->n_train < m->f.max_samples)
		model_invalid(&r, "max_samples %u of %u training rows", m->f.max_samples, m->n_train);
	m->f.tree_start = palloc_extended(((Size) m->f.n_trees + 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	m->f.nodes = palloc_cache_aligned((Size) m->f.n_nodes * sizeof(ForestNode));
	model_get_u32s(&r, m->f.tree_start, (Size) m->f.n_trees + 1);
	get_nodes(&r, m->f.nodes, m->f.n_nodes);
	model_end(&r);
	check_validation(&r, iforest_validate(&m->f, &host), "isolation forest");
}

Datum
iforest_train_final(PG_FUNCTION_ARGS)
{
	ForestState *state;
	MemoryContext old;
	ForestGlue	glue = {NULL, "iforest_train", 0};
	KernelHost	host;
	double	   *x;
	IForestParams params;
	IForestModel model;
	ForestStatus status;
	struct varlena *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (ForestState *) PG_GETARG_POINTER(0);
	glue.ctx = AllocSetContextCreate(CurrentMemoryContext, "iforest_train",
									 ALLOCSET_DEFAULT_SIZES);
	host = pg_kernel_host(glue.ctx);
	old = MemoryContextSwitchTo(glue.ctx);
	state_matrix(state, &x, NULL);
	params = iforest_default_params((uint64) state->params.seed);
	params.progress = forest_progress;
	params.progress_arg = &glue;
	if (state->params.n_trees > 0)
		params.n_trees = state->params.n_trees;
	params.max_samples = state->params.max_samples;	/* 0: min(256, n) */
	if (antares_verbose)
		ereport(NOTICE,
				(errmsg("iforest_train: %zu rows, %d features, %u trees, seed " INT64_FORMAT,
						state->rows.n, state->dim, params.n_trees, state->params.seed)));
	status = iforest_train(x, state->rows.n, state->dim, &params, &host, &model.f);
	report_forest_status(status, "iforest_train", state->rows.n);
	model.n_train = (uint32) state->rows.n;
	model.seed = state->params.seed;

	MemoryContextSwitchTo(old);
	result = iforest_encode(&model);
	MemoryContextDelete(glue.ctx);
	PG_RETURN_POINTER(result);
}

/* ----------------------------------------------------- rf model encoding */

/*
 * rf payload (after model.h's header, whose dim is n_features):
 *	 u32 n_classes, u32 n_trees, u32 n_nodes, u32 n_leaves, u32 max_features
 *	 (used), i32 max_depth (0: unlimited), u32 min_samples_leaf, u32 padding
 *	 (0), i64 seed,
 *	 i32 classes[n_classes], u32 class_rows[n_classes] (training rows per class),
 *	 u32 tree_start[n_trees + 1],
 *	 n_nodes x (f64 threshold, i32 feature, u32 payload),
 *	 f64 leaf_proba[n_leaves x n_classes], f64 importances[n_features]
 */
#define RF_FIXED_SIZE (8 * sizeof(uint32) + sizeof(int64))

typedef struct RfModel
{
	RandomForest f;
	uint32		max_features;
	int32		max_depth;
	uint32		min_samples_leaf;
	int64		seed;
	uint32	   *class_rows;
} RfModel;

static uint64
rf_payload_size(uint64 n_classes, uint64 n_trees, uint64 n_nodes, uint64 n_leaves,
				uint64 dim)
{
	return RF_FIXED_SIZE + 2 * n_classes * sizeof(uint32) + (n_trees + 1) * sizeof(uint32) +
		n_nodes * NODE_SIZE + (n_leaves * n_classes + dim) * sizeof(double);
}

static struct varlena *
rf_encode(const RfModel *m)
{
	const RandomForest *f = &m->f;
	ModelWriter w;
	struct varlena *v = model_create(MODEL_RF, f->n_features,
									 rf_payload_size(f->n_classes, f->n_trees, f->n_nodes,
													 f->n_leaves, f->n_features), &w);

	model_put_u32(&w, f->n_classes);
	model_put_u32(&w, f->n_trees);
	model_put_u32(&w, f->n_nodes);
	model_put_u32(&w, f->n_leaves);
	model_put_u32(&w, m->max_features);
	model_put_i32(&w, m->max_depth);
	model_put_u32(&w, m->min_samples_leaf);
	model_put_u32(&w, 0);
	model_put_i64(&w, m->seed);
	for (uint32 k = 0; k < f->n_classes; k++)
		model_put_i32(&w, f->classes[k]);
	for (uint32 k = 0; k < f->n_classes; k++)
		model_put_u32(&w, m->class_rows[k]);
	for (uint32 t = 0; t <= f->n_trees; t++)
		model_put_u32(&w, f->tree_start[t]);
	put_nodes(&w, f->nodes, f->n_nodes);
	for (Size i = 0; i < (Size) f->n_leaves * f->n_classes; i++)
		model_put_f64(&w, f->leaf_proba[i]);
	for (uint32 j = 0; j < f->n_features; j++)
		model_put_f64(&w, f->importances[j]);
	model_seal(v, &w);
	return v;
}

static void
rf_decode(const struct varlena *v, int errcode, RfModel *m)
{
	ModelReader r;
	uint32		dim = model_open(v, MODEL_RF, errcode, &r);
	RandomForest *f = &m->f;
	KernelHost	host = pg_kernel_host(CurrentMemoryContext);
	uint32		padding;

	if (model_remaining(&r) < RF_FIXED_SIZE)
		model_invalid(&r, "truncated payload");
	f->n_features = dim;
	f->n_classes = model_get_u32(&r);
	f->n_trees = model_get_u32(&r);
	f->n_nodes = model_get_u32(&r);
	f->n_leaves = model_get_u32(&r);
	m->max_features = model_get_u32(&r);
	m->max_depth = model_get_i32(&r);
	m->min_samples_leaf = model_get_u32(&r);
	padding = model_get_u32(&r);
	m->seed = model_get_i64(&r);
	/* the sizes must add up to the payload before anything is allocated */
	if (f->n_classes < 2 || f->n_trees < 1 || f->n_nodes < f->n_trees ||
		f->n_leaves < f->n_trees || f->n_leaves > f->n_nodes ||
		rf_payload_size(f->n_classes, f->n_trees, f->n_nodes, f->n_leaves, dim) !=
		model_remaining(&r) + RF_FIXED_SIZE)
		model_invalid(&r, "sizes (%u classes, %u trees, %u nodes, %u leaves) do not match its length",
					  f->n_classes, f->n_trees, f->n_nodes, f->n_leaves);
	if (m->max_features < 1 || m->max_features > dim || m->max_depth < 0 ||
		m->min_samples_leaf < 1 || padding != 0)
		model_invalid(&r, "training parameters out of range");
	f->classes = palloc(f->n_classes * sizeof(int32));
	m->class_rows = palloc(f->n_classes * sizeof(uint32));
	for (uint32 k = 0; k < f->n_classes; k++)
		f->classes[k] = model_get_i32(&r);
	model_get_u32s(&r, m->class_rows, f->n_classes);
	for (uint32 k = 0; k < f->n_classes; k++)
		if (m->class_rows[k] < 1)
			model_invalid(&r, "class %d has no training rows", f->classes[k]);
	f->tree_start = palloc_extended(((Size) f->n_trees + 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	f->nodes = palloc_cache_aligned((Size) f->n_nodes * sizeof(ForestNode));
	f->leaf_proba = palloc_cache_aligned((Size) f->n_leaves * f->n_classes * sizeof(double));
	f->importances = palloc_extended((Size) dim * sizeof(double), MCXT_ALLOC_HUGE);
	model_get_u32s(&r, f->tree_start, (Size) f->n_trees + 1);
	get_nodes(&r, f->nodes, f->n_nodes);
	model_get_f64s(&r, f->leaf_proba, (Size) f->n_leaves * f->n_classes);
	model_get_f64s(&r, f->importances, dim);
	model_end(&r);
	check_validation(&r, rf_validate(f, &host), "random forest");
}

/* floor(sqrt(d)), at least 1: the kernel's default max_features */
static uint32
floor_sqrt(uint32 d)
{
	uint32		m = (uint32) sqrt((double) d);

	while ((uint64) m * m > d)
		m--;
	while ((uint64) (m + 1) * (m + 1) <= d)
		m++;
	return Max(m, 1);
}

Datum
rf_train_final(PG_FUNCTION_ARGS)
{
	ForestState *state;
	MemoryContext old;
	ForestGlue	glue = {NULL, "rf_train", 0};
	KernelHost	host;
	double	   *x;
	int32	   *labels;
	RandomForestParams params;
	RfModel		model;
	ForestStatus status;
	struct varlena *result;
	Size		n;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (ForestState *) PG_GETARG_POINTER(0);
	n = state->rows.n;
	if (n > (Size) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("rf_train takes at most %d rows, got %zu", PG_INT32_MAX, n)));
	glue.ctx = AllocSetContextCreate(CurrentMemoryContext, "rf_train",
									 ALLOCSET_DEFAULT_SIZES);
	host = pg_kernel_host(glue.ctx);
	old = MemoryContextSwitchTo(glue.ctx);
	state_matrix(state, &x, &labels);
	params = rf_default_params((uint64) state->params.seed);
	params.progress = forest_progress;
	params.progress_arg = &glue;
	if (state->params.n_trees > 0)
		params.n_trees = state->params.n_trees;
	params.max_features = state->params.max_features;	/* 0: floor(sqrt(d)) */
	params.max_depth = state->params.max_depth; /* 0: unlimited */
	if (state->params.min_samples_leaf > 0)
		params.min_samples_leaf = state->params.min_samples_leaf;
	if (antares_verbose)
		ereport(NOTICE,
				(errmsg("rf_train: %zu rows, %d features, %u trees, seed " INT64_FORMAT,
						n, state->dim, params.n_trees, state->params.seed)));
	status = rf_train(x, labels, n, state->dim, &params, &host, &model.f);
	report_forest_status(status, "rf_train", n);

	model.max_features = params.max_features > 0 ? params.max_features :
		floor_sqrt((uint32) state->dim);
	model.max_depth = params.max_depth;
	model.min_samples_leaf = params.min_samples_leaf;
	model.seed = state->params.seed;
	model.class_rows = palloc0(model.f.n_classes * sizeof(uint32));
	for (Size i = 0; i < n; i++)
	{
		/* the class of row i: a binary search of the sorted classes */
		uint32		lo = 0,
					hi = model.f.n_classes;

		while (hi - lo > 1)
		{
			uint32		mid = (lo + hi) / 2;

			if (model.f.classes[mid] <= labels[i])
				lo = mid;
			else
				hi = mid;
		}
		model.class_rows[lo]++;
	}

	MemoryContextSwitchTo(old);
	result = rf_encode(&model);
	MemoryContextDelete(glue.ctx);
	PG_RETURN_POINTER(result);
}

/* ----------------------------------------------------------- type I/O */

/* Every input is decoded and validated in full: a value of a type is valid. */
static void
iforest_validate_value(const struct varlena *v, int errcode)
{
	IForestModel m;

	iforest_decode(v, errcode, &m);
}

static void
rf_validate_value(const struct varlena *v, int errcode)
{
	RfModel		m;

	rf_decode(v, errcode, &m);
}

Datum
iforest_model_in(PG_FUNCTION_ARGS)
{
	return model_type_in(fcinfo, MODEL_IFOREST, iforest_validate_value);
}

Datum
iforest_model_out(PG_FUNCTION_ARGS)
{
	return model_type_out(fcinfo, MODEL_IFOREST);
}

Datum
iforest_model_recv(PG_FUNCTION_ARGS)
{
	return model_type_recv(fcinfo, MODEL_IFOREST, iforest_validate_value);
}

Datum
iforest_model_send(PG_FUNCTION_ARGS)
{
	return model_type_send(fcinfo, MODEL_IFOREST);
}

Datum
rf_model_in(PG_FUNCTION_ARGS)
{
	return model_type_in(fcinfo, MODEL_RF, rf_validate_value);
}

Datum
rf_model_out(PG_FUNCTION_ARGS)
{
	return model_type_out(fcinfo, MODEL_RF);
}

Datum
rf_model_recv(PG_FUNCTION_ARGS)
{
	return model_type_recv(fcinfo, MODEL_RF, rf_validate_value);
}

Datum
rf_model_send(PG_FUNCTION_ARGS)
{
	return model_type_send(fcinfo, MODEL_RF);
}

/* ------------------------------------------------- scoring, prediction */

/*
 * Decoded models for model_cached.  A value that reached a table without
 * its input function (a forged binary cast) is checked here too, with
 * ERRCODE_DATA_CORRUPTED.
 */
static void *
iforest_cache_build(const struct varlena *v)
{
	IForestModel *m = palloc0(sizeof(IForestModel));

	iforest_decode(v, ERRCODE_DATA_CORRUPTED, m);
	return m;
}

typedef struct RfCached
{
	RfModel		m;
	double	   *proba;			/* n_classes of scratch */
} RfCached;

static void *
rf_cache_build(const struct varlena *v)
{
	RfCached   *c = palloc0(sizeof(RfCached));

	rf_decode(v, ERRCODE_DATA_CORRUPTED, &c->m);
	c->proba = palloc(c->m.f.n_classes * sizeof(double));
	return c;
}

/* iforest_score(m, features) -> scikit-learn's score_samples */
Datum
iforest_score_sql(PG_FUNCTION_ARGS)
{
	IForestModel *m = model_cached(fcinfo, 0, iforest_cache_build);
	const double *x = features_for_model(PG_GETARG_ARRAYTYPE_P(1), m->f.n_features, false);

	PG_RETURN_FLOAT8(iforest_score(&m->f, x));
}

/* iforest_decision(m, features) -> score + 0.5, negative = anomalous */
Datum
iforest_decision_sql(PG_FUNCTION_ARGS)
{
	IForestModel *m = model_cached(fcinfo, 0, iforest_cache_build);
	const double *x = features_for_model(PG_GETARG_ARRAYTYPE_P(1), m->f.n_features, false);

	PG_RETURN_FLOAT8(iforest_decision(&m->f, x));
}

/* rf_predict(m, features) -> the class of the largest probability */
Datum
rf_predict_sql(PG_FUNCTION_ARGS)
{
	RfCached   *c = model_cached(fcinfo, 0, rf_cache_build);
	const double *x = features_for_model(PG_GETARG_ARRAYTYPE_P(1), c->m.f.n_features, false);

	PG_RETURN_INT32(rf_predict(&c->m.f, x, c->proba));
}

/*
 * rf_predict_proba(m, features) -> float8[], one per class in rf_info's
 * order.  The array is built in place: a header and the doubles.
 */
Datum
rf_predict_proba_sql(PG_FUNCTION_ARGS)
{
	RfCached   *c = model_cached(fcinfo, 0, rf_cache_build);
	const double *x = features_for_model(PG_GETARG_ARRAYTYPE_P(1), c->m.f.n_features, false);
	int			n = (int) c->m.f.n_classes;
	Size		size = ARR_OVERHEAD_NONULLS(1) + (Size) n * sizeof(double);
	ArrayType  *a = palloc(size);

	SET_VARSIZE(a, size);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = FLOAT8OID;
	ARR_DIMS(a)[0] = n;
	ARR_LBOUND(a)[0] = 1;
	rf_predict_proba(&c->m.f, x, (double *) ((char *) a + ARR_OVERHEAD_NONULLS(1)));
	PG_RETURN_ARRAYTYPE_P(a);
}

/* ------------------------------------------------------------ info */

static void
append_json_float_array(StringInfo s, const char *key, const double *v, Size n)
{
	appendStringInfo(s, ", \"%s\": [", key);
	for (Size i = 0; i < n; i++)
	{
		if (i)
			appendStringInfoString(s, ", ");
		append_json_float(s, v[i]);
	}
	appendStringInfoChar(s, ']');
}

/*
 * iforest_info(m) -> jsonb: kind, format version, dimension, trees,
 * max_samples, training rows, seed, nodes, the depth limit, c(max_samples)
 * and the decision offset.
 */
Datum
iforest_info(PG_FUNCTION_ARGS)
{
	IForestModel m;
	StringInfoData s;

	iforest_decode(PG_DETOAST_DATUM(PG_GETARG_DATUM(0)), ERRCODE_DATA_CORRUPTED, &m);
	initStringInfo(&s);
	appendStringInfo(&s, "{\"kind\": \"iforest\", \"format_version\": %d, \"dimension\": %u, "
					 "\"n_trees\": %u, \"max_samples\": %u, \"n_train\": %u, \"seed\": " INT64_FORMAT ", "
					 "\"n_nodes\": %u, \"depth_limit\": %u, \"average_path_length\": ",
					 MODEL_FORMAT_VERSION, m.f.n_features, m.f.n_trees, m.f.max_samples,
					 m.n_train, m.seed, m.f.n_nodes, iforest_depth_limit(m.f.max_samples));
	append_json_float(&s, iforest_average_path_length(m.f.max_samples));
	appendStringInfoString(&s, ", \"offset\": -0.5}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

/*
 * rf_info(m) -> jsonb: kind, format version, dimension, classes (the order
 * of rf_predict_proba), training rows per class, trees, nodes, leaves,
 * max_features, max_depth (null: unlimited), min_samples_leaf, seed and the
 * impurity-based feature importances.
 */
Datum
rf_info(PG_FUNCTION_ARGS)
{
	RfModel		m;
	StringInfoData s;

	rf_decode(PG_DETOAST_DATUM(PG_GETARG_DATUM(0)), ERRCODE_DATA_CORRUPTED, &m);
	initStringInfo(&s);
	appendStringInfo(&s, "{\"kind\": \"rf\", \"format_version\": %d, \"dimension\": %u",
					 MODEL_FORMAT_VERSION, m.f.n_features);
	append_json_int_array(&s, "classes", m.f.classes, m.f.n_classes);
	append_json_int_array(&s, "n_train", (const int32 *) m.class_rows, m.f.n_classes);
	appendStringInfo(&s, ", \"n_trees\": %u, \"n_nodes\": %u, \"n_leaves\": %u, "
					 "\"max_features\": %u, \"max_depth\": ",
					 m.f.n_trees, m.f.n_nodes, m.f.n_leaves, m.max_features);
	if (m.max_depth > 0)
		appendStringInfo(&s, "%d", m.max_depth);
	else
		appendStringInfoString(&s, "null");
	appendStringInfo(&s, ", \"min_samples_leaf\": %u, \"seed\": " INT64_FORMAT,
					 m.min_samples_leaf, m.seed);
	append_json_float_array(&s, "feature_importances", m.f.importances, m.f.n_features);
	appendStringInfoChar(&s, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}
