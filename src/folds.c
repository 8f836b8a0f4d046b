/*
 * folds.c
 *		Stratified k-fold assignment as scikit-learn's StratifiedKFold
 *		(folds.h).  O(n log n): one sort of (label, row) pairs.
 */
#include "folds.h"

#include <stdlib.h>

typedef struct LabelRow
{
	int32_t		label;
	size_t		row;
} LabelRow;

/* One class: its run in the sorted pairs, and its first row. */
typedef struct ClassRun
{
	size_t		first;			/* = row of its first pair: pairs sort by row */
	size_t		start;
	size_t		count;
} ClassRun;

size_t
stratified_folds_work_size(size_t n)
{
	return (n > 0 ? n : 1) * (sizeof(LabelRow) + sizeof(ClassRun));
}

static int
cmp_label_row(const void *a, const void *b)
{
	const LabelRow *x = a;
	const LabelRow *y = b;

	if (x->label != y->label)
		return x->label < y->label ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

static int
cmp_first(const void *a, const void *b)
{
	const ClassRun *x = a;
	const ClassRun *y = b;

	return (x->first > y->first) - (x->first < y->first);
}

/* How many of the positions 0 .. end-1 are congruent to f modulo k. */
static size_t
dealt(size_t end, size_t f, size_t k)
{
	return end > f ? (end - f + k - 1) / k : 0;
}

FoldsStatus
stratified_folds(const int32_t *label, size_t n, int k, int32_t *fold, size_t *min_members,
				 void *work)
{
	LabelRow   *pairs = work;
	ClassRun   *runs = (ClassRun *) (pairs + (n > 0 ? n : 1));
	size_t		n_class = 0,
				max_members = 0,
				offset = 0;

	if (k < 2)
		return FOLDS_BAD_K;
	if ((size_t) k > n)
		return FOLDS_TOO_FEW_ROWS;

	for (size_t i = 0; i < n; i++)
	{
		pairs[i].label = label[i];
		pairs[i].row = i;
	}
	qsort(pairs, n, sizeof(LabelRow), cmp_label_row);
	for (size_t i = 0; i < n; i++)
	{
		if (i == 0 || pairs[i].label != pairs[i - 1].label)
		{
			runs[n_class].first = pairs[i].row;
			runs[n_class].start = i;
			runs[n_class].count = 0;
			n_class++;
		}
		runs[n_class - 1].count++;
	}
	/* classes in order of first appearance, as scikit-learn encodes them */
	qsort(runs, n_class, sizeof(ClassRun), cmp_first);

	*min_members = n;
	for (size_t c = 0; c < n_class; c++)
	{
		if (runs[c].count < *min_members)
			*min_members = runs[c].count;
		if (runs[c].count > max_members)
			max_members = runs[c].count;
	}
	if ((size_t) k > max_members)
		return FOLDS_TOO_FEW_MEMBERS;

	/*
	 * Class c holds positions [offset, offset + count) of the sorted
	 * encoded labels; fold f receives those congruent to f modulo k.
	 */
	for (size_t c = 0; c < n_class; c++)
	{
		size_t		end = offset + runs[c].count;
		size_t		r = runs[c].start;

		for (int f = 0; f < k; f++)
		{
			size_t		take = dealt(end, f, k) - dealt(offset, f, k);

			for (size_t j = 0; j < take; j++)
				fold[pairs[r++].row] = f;
		}
		offset = end;
	}
	return FOLDS_OK;
}
