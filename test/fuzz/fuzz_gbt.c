/*
 * fuzz_gbt.c
 *		libFuzzer harness of the gradient-boosted ensemble's validator,
 *		compiler and walker (src/gbt.c; test/fuzz/run_gbt.sh builds and runs
 *		it; not part of CI).  The input is read as an ensemble: counts from its
 *		first bytes, then 8 bytes a node (leaf or split, feature index, child
 *		offsets that may point backwards or past the tree, the missing
 *		direction, a float's raw bits, NaN and infinities included), tree
 *		groups and labels that may be out of range or order.  Every input must
 *		be rejected by gbt_validate or gbt_compile, or else walk: then the
 *		compiled walk of rows built from the input (NaN included) must equal a
 *		reference walk, one tree after the other, bit for bit.  ASan and UBSan
 *		catch any read outside the arrays; an endless walk is a timeout.
 *
 * The stored payload reaches these functions through model.c's bounds-checked
 * reader, which only copies counts and arrays: what it hands on is exactly
 * what this harness builds from arbitrary bytes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gbt.h"
#include "test_gbt_reference.h"

#define MAX_TREES 40
#define MAX_TREE 64

static float
float_at(const uint8_t *p)
{
	float		v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int
same(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static GbtNode nodes[MAX_TREES * MAX_TREE];
	static uint32_t tree_start[MAX_TREES + 1],
				tree_group[MAX_TREES],
				scratch[2 * MAX_TREES * MAX_TREE];
	static int32_t classes[5];
	const uint8_t *end = data + size;
	GbtModel	m;
	GbtCompiled c;
	uint32_t	at = 0;
	double		x[16],
				want[5],
				got[5];
	float		xf[16];

	if (size < 4)
		return 0;
	m.n_features = 1 + data[0] % 16;
	m.n_classes = 2 + data[1] % 4;
	m.n_trees = 1 + data[2] % MAX_TREES;
	m.base_margin = (data[3] & 1) ? NAN : (double) (int8_t) data[3] / 16.0;
	data += 4;
	for (uint32_t k = 0; k < m.n_classes; k++)
		classes[k] = (int32_t) k * 3 - (data < end && (*data & 0x40) && k == 1 ? 4 : 0);
	for (uint32_t t = 0; t < m.n_trees; t++)
	{
		uint32_t	tree_size;

		if (data + 2 > end)
			return 0;
		tree_size = 1 + data[0] % MAX_TREE;
		tree_group[t] = data[1] % 8 == 7 ? 5 : t % gbt_groups(m.n_classes);
		data += 2;
		tree_start[t] = at;
		for (uint32_t i = 0; i < tree_size; i++, at++)
		{
			GbtNode    *n = &nodes[at];

			if (data + 8 > end)
				return 0;
			memset(n, 0, sizeof(*n));
			if (data[0] & 0x80)
			{
				n->feature = GBT_LEAF;
				n->leaf = float_at(data + 4);
				if ((data[3] & 0x0f) == 0x0f)
					n->left = data[1];	/* a leaf with a child */
			}
			else
			{
				n->feature = (int32_t) (data[0] % (m.n_features + 1)) - (data[0] == 0x7f);
				n->left = i + data[1] % 8;
				n->right = i + data[2] % 8;
				n->default_left = data[3] % 3;
				n->threshold = float_at(data + 4);
			}
			data += 8;
		}
	}
	tree_start[m.n_trees] = at;
	m.n_nodes = at;
	m.classes = classes;
	m.tree_start = tree_start;
	m.tree_group = tree_group;
	m.nodes = nodes;

	if (gbt_validate(&m) != GBT_OK)
		return 0;
	c.steps = malloc(((size_t) m.n_nodes + 1) * sizeof(GbtStep));
	c.leaf = malloc(((size_t) m.n_nodes + 1) * sizeof(float));
	c.root = malloc((size_t) gbt_blocks(&m) * GBT_LANES * sizeof(uint32_t));
	c.group = malloc((size_t) gbt_blocks(&m) * GBT_LANES * sizeof(uint32_t));
	c.depth = malloc((size_t) gbt_blocks(&m) * sizeof(uint32_t));
	if (gbt_compile(&m, scratch, &c) == GBT_OK)
	{
		/* rows from what the input left, or from its counts */
		for (int row = 0; row < 4; row++)
		{
			for (uint32_t j = 0; j < m.n_features; j++)
			{
				if (data + 4 <= end)
				{
					x[j] = float_at(data);
					data += 4;
				}
				else
					x[j] = (row + j) % 5 == 0 ? NAN : (double) row - (double) j / 3.0;
			}
			reference_margins(&m, x, want);
			gbt_margins(&m, &c, x, xf, got);
			for (uint32_t g = 0; g < gbt_groups(m.n_classes); g++)
				if (!same(want[g], got[g]))
					abort();
			(void) gbt_predict(&m, &c, x, xf, got);
		}
	}
	free(c.steps);
	free(c.leaf);
	free(c.root);
	free(c.group);
	free(c.depth);
	return 0;
}
