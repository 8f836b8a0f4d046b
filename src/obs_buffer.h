/*
 * obs_buffer.h
 *		Growable arrays of fixed-width observations for aggregate states.
 *
 * Aggregates that need every row (medians, GP fits) buffer them here.  A
 * buffer knows whether it is sorted in its kind's order: appends that arrive
 * in order keep it sorted, serialization sorts (so under parallel query the
 * O(n log n) work happens in the workers), merging two sorted buffers is
 * O(n), and a final function sorts at most once.  The order of a buffer
 * carries no meaning to the aggregates, so sorting in place does not change
 * a state's value; computing on sorted observations is what makes results
 * independent of row order, to the bit.
 *
 * A buffer knows how long its sorted prefix is, so sorting after k appends
 * costs O(k log k + n) (the new rows are sorted and merged in), which keeps a
 * running window aggregate (the final function after every row) O(n) a row.
 *
 * A kind without an order (cmp NULL) keeps the rows in arrival order, for
 * aggregates whose result depends on it (SVM training, as libsvm's): a
 * buffer of such a kind counts as sorted, and merging appends.
 */
#ifndef ANTARES_OBS_BUFFER_H
#define ANTARES_OBS_BUFFER_H

#include "postgres.h"

typedef struct ObsKind
{
	Size		width;			/* bytes per observation */
	int			(*cmp) (const void *a, const void *b);	/* total order, or NULL */
} ObsKind;

typedef struct ObsBuffer
{
	Size		n;
	Size		cap;
	Size		nsorted;		/* the first nsorted are in order */
	char	   *data;
} ObsBuffer;

#define OBS_AT(buf, kind, i)	((buf)->data + (Size) (i) * (kind)->width)

extern void obs_init(ObsBuffer *buf);
extern void obs_append(ObsBuffer *buf, const ObsKind *kind, const void *obs,
					   MemoryContext ctx);
extern void obs_sort(ObsBuffer *buf, const ObsKind *kind);
/* Removes the last observation bytewise equal to obs; false if none is. */
extern bool obs_remove(ObsBuffer *buf, const ObsKind *kind, const void *obs);
extern void obs_merge(ObsBuffer *to, const ObsBuffer *from, const ObsKind *kind,
					  MemoryContext ctx);

/*
 * Serialized form of one buffer: a uint64 count, then the observations,
 * sorted.  obs_read checks the count against the bytes left, copies into ctx
 * and checks the order rather than trusting it; it returns the bytes used,
 * or 0 when the input is malformed.
 */
extern Size obs_serial_size(const ObsBuffer *buf, const ObsKind *kind);
extern char *obs_write(ObsBuffer *buf, const ObsKind *kind, char *dst);
extern Size obs_read(ObsBuffer *buf, const ObsKind *kind, const char *src,
					 Size len, MemoryContext ctx);

/*
 * The same for nbufs buffers one after the other (an aggregate's bands).
 * obs_read_all reads them from exactly len bytes: false when the input is
 * malformed or longer.
 */
extern Size obs_serial_size_all(const ObsBuffer *bufs, int nbufs, const ObsKind *kind);
extern char *obs_write_all(ObsBuffer *bufs, int nbufs, const ObsKind *kind, char *dst);
extern bool obs_read_all(ObsBuffer *bufs, int nbufs, const ObsKind *kind, const char *src,
						 Size len, MemoryContext ctx);

#endif							/* ANTARES_OBS_BUFFER_H */
