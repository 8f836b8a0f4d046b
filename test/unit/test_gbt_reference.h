/*
 * test_gbt_reference.h
 *		The reference walk of a gradient-boosted ensemble, one tree after the
 *		other, XGBoost's rule as gbt.h states it: what the unit test and the
 *		fuzzer compare gbt's compiled walk with, bit for bit.
 */
#ifndef ANTARES_TEST_GBT_REFERENCE_H
#define ANTARES_TEST_GBT_REFERENCE_H

#include <math.h>
#include <stdint.h>

#include "gbt.h"

static inline void
reference_margins(const GbtModel *m, const double *x, double *margin)
{
	for (uint32_t g = 0; g < gbt_groups(m->n_classes); g++)
		margin[g] = m->base_margin;
	for (uint32_t t = 0; t < m->n_trees; t++)
	{
		const GbtNode *tree = m->nodes + m->tree_start[t];
		const GbtNode *n = tree;

		while (n->feature != GBT_LEAF)
		{
			float		v = (float) x[n->feature];

			if (isnan(v))
				n = tree + (n->default_left ? n->left : n->right);
			else
				n = tree + (v < n->threshold ? n->left : n->right);
		}
		margin[m->tree_group[t]] += n->leaf;
	}
}

#endif							/* ANTARES_TEST_GBT_REFERENCE_H */
