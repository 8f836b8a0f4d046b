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
			return "a child index not after its parent or outside its tree";
		case GBT_NONFINITE:
			return "a non-finite threshold, leaf value or base margin";
		case GBT_BAD_LEAF:
			return "a leaf with children or a split with a leaf value";
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
		if (n->left <= i || n->right <= i || n->left >= size || n->right >= size)
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

/* The leaf value row xf reaches in one tree. */
static inline float
tree_value(const GbtNode *tree, const float *xf)
{
	const GbtNode *n = tree;

	while (n->feature != GBT_LEAF)
	{
		float		v = xf[n->feature];
		uint32_t	next;

		if (isnan(v))
			next = n->default_left ? n->left : n->right;
		else
			next = v < n->threshold ? n->left : n->right;
		n = tree + next;
	}
	return n->leaf;
}

void
gbt_margins(const GbtModel *m, const double *x, float *xf, double *margin)
{
	uint32_t	groups = gbt_groups(m->n_classes);

	/* XGBoost's DMatrix holds float32: compare as it does */
	for (uint32_t j = 0; j < m->n_features; j++)
		xf[j] = (float) x[j];
	for (uint32_t g = 0; g < groups; g++)
		margin[g] = m->base_margin;
	for (uint32_t t = 0; t < m->n_trees; t++)
		margin[m->tree_group[t]] += tree_value(m->nodes + m->tree_start[t], xf);
}

void
gbt_predict_proba(const GbtModel *m, const double *x, float *xf, double *proba)
{
	uint32_t	k = m->n_classes;
	double		max,
				sum = 0;

	gbt_margins(m, x, xf, proba);
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
gbt_predict(const GbtModel *m, const double *x, float *xf, double *proba)
{
	uint32_t	best = 0;

	gbt_predict_proba(m, x, xf, proba);
	for (uint32_t c = 1; c < m->n_classes; c++)
		if (proba[c] > proba[best])
			best = c;
	return m->classes[best];
}
