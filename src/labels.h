/*
 * labels.h
 *		The classes of a classifier's training labels: the distinct labels in
 *		increasing order, and a label's index among them.  Plain C, shared
 *		by the SVM, forest and boosted-tree trainers.
 */
#ifndef ANTARES_LABELS_H
#define ANTARES_LABELS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline int
labels_cmp(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a;
	int32_t		y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

/*
 * Sorts labels[0 .. n) and keeps each value once at the front: returns how
 * many (the classes).  O(n log n).
 */
static inline size_t
labels_distinct(int32_t *labels, size_t n)
{
	size_t		k = 0;

	qsort(labels, n, sizeof(int32_t), labels_cmp);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || labels[i] != labels[k - 1])
			labels[k++] = labels[i];
	return k;
}

/* The index of label among classes[0 .. k), which holds it: a binary search. */
static inline uint32_t
labels_index(const int32_t *classes, size_t k, int32_t label)
{
	size_t		lo = 0,
				hi = k - 1;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (classes[mid] < label)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t) lo;
}

#endif							/* ANTARES_LABELS_H */
