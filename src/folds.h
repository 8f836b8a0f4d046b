/*
 * folds.h
 *		Stratified k-fold assignment, exactly as scikit-learn 1.2's
 *		StratifiedKFold(n_splits=k, shuffle=False): a plain-C kernel.
 *
 * Classes are numbered in order of first appearance.  Sorting the rows by
 * that number and dealing them round-robin to the k folds gives how many
 * rows of each class every fold receives; then each class's rows, in input
 * order, fill fold 0 first, then fold 1, and so on (scikit-learn's
 * _make_test_folds).  Fold sizes of a class differ by at most one.
 *
 * Cost: O(n log n) for n rows (one sort), O(n) memory (work buffer).
 */
#ifndef ANTARES_FOLDS_H
#define ANTARES_FOLDS_H

#include <stddef.h>
#include <stdint.h>

typedef enum FoldsStatus
{
	FOLDS_OK = 0,
	FOLDS_BAD_K,				/* k < 2 */
	FOLDS_TOO_FEW_ROWS,			/* k > n */
	FOLDS_TOO_FEW_MEMBERS		/* k > the row count of every class */
} FoldsStatus;

/* Bytes of work buffer stratified_folds needs for n rows (aligned as malloc). */
extern size_t stratified_folds_work_size(size_t n);

/*
 * fold[i] = the test fold (0 .. k-1) of row i of label[0 .. n).  On success
 * *min_members is the row count of the least populated class (scikit-learn
 * warns when it is below k).
 */
extern FoldsStatus stratified_folds(const int32_t *label, size_t n, int k, int32_t *fold,
									size_t *min_members, void *work);

#endif							/* ANTARES_FOLDS_H */
