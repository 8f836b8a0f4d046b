/*
 * gbt.c
 *		The gradient-boosted ensemble's walker and validator (gbt.h).
 */
#include "gbt.h"

#include <math.h>

const char *
gbt_status_message(GbtStatus status)
{
	switch (status)
	{
		case GBT_OK:
			return "no error";
		case GBT_BAD_COUNTS:
			return "class, tree or group counts out of range";
		case GBT_BAD_CLASSES:
			return "class labels not strictly increasing";
		case GBT_BAD_TREE_START:
			return "tree offsets not increasing from 0 to the node count";
		case GBT_BAD_GROUP:
			return "a tree's output group out of range";
		case GBT_BAD_FEATURE:
			return "a split's feature index out of range";
		case GBT_BAD_CHILD:
			return "a child index not after its parent or outside its tree, or both children one node";
		case GBT_NONFINITE:
			return "a non-finite threshold, leaf value or base margin";
		case GBT_BAD_LEAF:
			return "a leaf with children or a split with a leaf value";
		case GBT_NOT_A_TREE:
			return "a node reached twice from its tree's root, or never";
	}
	return "unknown status";
}

static GbtStatus
validate_tree(const GbtNode *tree, uint32_t size, uint32_t n_features)
{
	for (uint32_t i = 0; i < size; i++)
	{
		const GbtNode *n = &tree[i];

		if (!isfinite(n->threshold) || !isfinite(n->leaf))
			return GBT_NONFINITE;
		if (n->feature == GBT_LEAF)
		{
			if (n->left != 0 || n->right != 0 || n->default_left != 0 || n->threshold != 0)
				return GBT_BAD_LEAF;
			continue;
		}
		if (n->feature < 0 || (uint32_t) n->feature >= n_features)
			return GBT_BAD_FEATURE;
		if (n->left <= i || n->right <= i || n->left >= size || n->right >= size ||
			n->left == n->right)
			return GBT_BAD_CHILD;
		if (n->default_left > 1 || n->leaf != 0)
			return GBT_BAD_LEAF;
	}
	return GBT_OK;
}

GbtStatus
gbt_validate(const GbtModel *m)
{
	uint32_t	groups;

	if (m->n_classes < 2 || m->n_trees < 1 || m->n_features < 1)
		return GBT_BAD_COUNTS;
	groups = gbt_groups(m->n_classes);
	if (m->n_trees % groups != 0)
		return GBT_BAD_COUNTS;
	for (uint32_t k = 1; k < m->n_classes; k++)
		if (m->classes[k] <= m->classes[k - 1])
			return GBT_BAD_CLASSES;
	if (!isfinite(m->base_margin))
		return GBT_NONFINITE;
	if (m->tree_start[0] != 0 || m->tree_start[m->n_trees] != m->n_nodes)
		return GBT_BAD_TREE_START;
	for (uint32_t t = 0; t < m->n_trees; t++)
	{
		GbtStatus	s;

		if (m->tree_start[t + 1] <= m->tree_start[t] || m->tree_start[t + 1] > m->n_nodes)
			return GBT_BAD_TREE_START;
		if (m->tree_group[t] >= groups)
			return GBT_BAD_GROUP;
		s = validate_tree(m->nodes + m->tree_start[t], m->tree_start[t + 1] - m->tree_start[t],
						  m->n_features);
		if (s != GBT_OK)
			return s;
	}
	return GBT_OK;
}

/*
 * One tree, breadth-first from steps[base]: order[k] is the tree's node of
 * step base + k, level[i] the depth of the tree's node i (UINT32_MAX until
 * it is placed).  Returns the tree's levels, or -1 when a node is reached
 * twice or never.
 */
static int64_t
compile_tree(const GbtNode *tree, uint32_t size, uint32_t base, uint32_t *order,
			 uint32_t *level, GbtCompiled *c)
{
	uint32_t	placed = 1;
	uint32_t	levels = 0;

	for (uint32_t i = 0; i < size; i++)
		level[i] = UINT32_MAX;
	order[0] = 0;
	level[0] = 0;
	for (uint32_t k = 0; k < placed; k++)
	{
		const GbtNode *n = &tree[order[k]];
		GbtStep    *s = &c->steps[base + k];
		uint32_t	depth = level[order[k]];

		if (n->feature == GBT_LEAF)
		{
			/* NaN: every x < NaN is false, so every row goes "right", onto itself */
			s->threshold = NAN;
			s->feature = GBT_MISSING_RIGHT;
			s->next = base + k - 1;
			c->leaf[base + k] = n->leaf;
			if (depth > levels)
				levels = depth;
			continue;
		}
		/* (gbt_validate refuses left = right; placed stays within the tree) */
		if (level[n->left] != UINT32_MAX || level[n->right] != UINT32_MAX ||
			n->left == n->right || placed + 2 > size)
			return -1;
		level[n->left] = level[n->right] = depth + 1;
		s->threshold = n->threshold;
		s->feature = (uint32_t) n->feature | (n->default_left ? 0 : GBT_MISSING_RIGHT);
		s->next = base + placed;
		c->leaf[base + k] = 0;
		order[placed++] = n->left;
		order[placed++] = n->right;
	}
	return placed == size ? (int64_t) levels : -1;
}

GbtStatus
gbt_compile(const GbtModel *m, uint32_t *scratch, GbtCompiled *c)
{
	uint32_t	padding = m->n_nodes;

	c->n_blocks = gbt_blocks(m);
	c->steps[padding].threshold = NAN;
	c->steps[padding].feature = GBT_MISSING_RIGHT;
	c->steps[padding].next = padding - 1;
	c->leaf[padding] = 0;
	for (uint32_t b = 0; b < c->n_blocks; b++)
		c->depth[b] = 0;
	for (uint32_t t = 0; t < c->n_blocks * GBT_LANES; t++)
	{
		uint32_t	start,
					size;
		int64_t		levels;

		if (t >= m->n_trees)
		{
			c->root[t] = padding;
			c->group[t] = 0;
			continue;
		}
		start = m->tree_start[t];
		size = m->tree_start[t + 1] - start;
		levels = compile_tree(m->nodes + start, size, start, scratch, scratch + m->n_nodes, c);
		if (levels < 0)
			return GBT_NOT_A_TREE;
		c->root[t] = start;
		c->group[t] = m->tree_group[t];
		if ((uint32_t) levels > c->depth[t / GBT_LANES])
			c->depth[t / GBT_LANES] = (uint32_t) levels;
	}
	return GBT_OK;
}

void
gbt_margins(const GbtModel *m, const GbtCompiled *c, const double *x, float *xf, double *margin)
{
	uint32_t	groups = gbt_groups(m->n_classes);

	/* training bins the float32 values: compare as it does */
	for (uint32_t j = 0; j < m->n_features; j++)
		xf[j] = (float) x[j];
	for (uint32_t g = 0; g < groups; g++)
		margin[g] = m->base_margin;
	for (uint32_t b = 0; b < c->n_blocks; b++)
	{
		uint32_t	at[GBT_LANES];
		const uint32_t *root = c->root + (size_t) b * GBT_LANES;
		const uint32_t *group = c->group + (size_t) b * GBT_LANES;

		for (int l = 0; l < GBT_LANES; l++)
			at[l] = root[l];
		for (uint32_t level = 0; level < c->depth[b]; level++)
			for (int l = 0; l < GBT_LANES; l++)
			{
				const GbtStep *s = &c->steps[at[l]];
				float		v = xf[s->feature & ~GBT_MISSING_RIGHT];
				uint32_t	missing = isnan(v);
				uint32_t	right = missing ? s->feature >> 31 : !(v < s->threshold);

				at[l] = s->next + right;
			}
		for (int l = 0; l < GBT_LANES; l++)
			margin[group[l]] += c->leaf[at[l]];
	}
}

void
gbt_predict_proba(const GbtModel *m, const GbtCompiled *c, const double *x, float *xf,
				  double *proba)
{
	uint32_t	k = m->n_classes;
	double		max,
				sum = 0;

	gbt_margins(m, c, x, xf, proba);
	if (k == 2)
	{
		double		p = 1.0 / (1.0 + exp(-proba[0]));

		proba[0] = 1.0 - p;
		proba[1] = p;
		return;
	}
	max = proba[0];
	for (uint32_t c = 1; c < k; c++)
		if (proba[c] > max)
			max = proba[c];
	for (uint32_t c = 0; c < k; c++)
	{
		proba[c] = exp(proba[c] - max);
		sum += proba[c];
	}
	for (uint32_t c = 0; c < k; c++)
		proba[c] /= sum;
}

int32_t
gbt_predict(const GbtModel *m, const GbtCompiled *c, const double *x, float *xf, double *proba)
{
	uint32_t	best = 0;

	gbt_predict_proba(m, c, x, xf, proba);
	for (uint32_t c = 1; c < m->n_classes; c++)
		if (proba[c] > proba[best])
			best = c;
	return m->classes[best];
}
