/*
 * obs_buffer.c
 *		Growable arrays of fixed-width observations for aggregate states
 *		(see obs_buffer.h).
 *
 * Cost: append O(1) amortised; sort O(n + k log k) after k appends to a
 * sorted buffer (O(n log n) at worst); merge of two sorted buffers O(n + m),
 * otherwise an O(m) append; remove O(n); serialize O(n) plus a sort if
 * needed; read O(n).  Buffers may exceed 1 GB in memory (huge allocations), but a
 * state passed between processes is limited to 1 GB by its bytea.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "obs_buffer.h"

static void
check_count(Size n, const ObsKind *kind)
{
	if (n > MaxAllocHugeSize / kind->width)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many observations in one group")));
}

static char *
obs_alloc(Size n, const ObsKind *kind, MemoryContext ctx)
{
	check_count(n, kind);
	return MemoryContextAllocHuge(ctx, Max(n, 1) * kind->width);
}

void
obs_init(ObsBuffer *buf)
{
	buf->n = buf->cap = buf->nsorted = 0;
	buf->data = NULL;
}

/* Make room for `extra` more observations, in ctx (the state's context). */
static void
obs_reserve(ObsBuffer *buf, const ObsKind *kind, Size extra, MemoryContext ctx)
{
	Size		need = buf->n + extra;
	Size		cap;

	if (need <= buf->cap)
		return;
	check_count(need, kind);
	cap = Min(Max(buf->cap * 2, Max(need, 16)), MaxAllocHugeSize / kind->width);
	if (buf->data == NULL)
		buf->data = obs_alloc(cap, kind, ctx);
	else
		buf->data = repalloc_huge(buf->data, cap * kind->width);
	buf->cap = cap;
}

void
obs_append(ObsBuffer *buf, const ObsKind *kind, const void *obs, MemoryContext ctx)
{
	obs_reserve(buf, kind, 1, ctx);
	memcpy(OBS_AT(buf, kind, buf->n), obs, kind->width);
	if (buf->nsorted == buf->n &&
		(kind->cmp == NULL || buf->n == 0 || kind->cmp(OBS_AT(buf, kind, buf->n - 1), obs) <= 0))
		buf->nsorted++;
	buf->n++;
}

/*
 * Sorts the tail after the sorted prefix and merges it in from the back,
 * through a copy of the tail (ties keep the prefix first).
 */
static void
merge_tail(ObsBuffer *buf, const ObsKind *kind)
{
	Size		w = kind->width;
	Size		k = buf->n - buf->nsorted;
	char	   *tail = palloc(k * w);
	Size		i = buf->nsorted,	/* prefix elements left */
				j = k,			/* tail elements left */
				out = buf->n;

	memcpy(tail, OBS_AT(buf, kind, buf->nsorted), k * w);
	qsort(tail, k, w, kind->cmp);
	while (j > 0)
	{
		const char *a = i > 0 ? OBS_AT(buf, kind, i - 1) : NULL;
		const char *b = tail + (j - 1) * w;

		out--;
		if (a != NULL && kind->cmp(a, b) > 0)
		{
			memcpy(OBS_AT(buf, kind, out), a, w);
			i--;
		}
		else
		{
			memcpy(OBS_AT(buf, kind, out), b, w);
			j--;
		}
	}
	pfree(tail);
}

void
obs_sort(ObsBuffer *buf, const ObsKind *kind)
{
	if (buf->nsorted < buf->n && kind->cmp != NULL)
	{
		/* a short prefix is not worth keeping */
		if (buf->nsorted < buf->n / 2)
			qsort(buf->data, buf->n, kind->width, kind->cmp);
		else
			merge_tail(buf, kind);
	}
	buf->nsorted = buf->n;
}

bool
obs_remove(ObsBuffer *buf, const ObsKind *kind, const void *obs)
{
	Size		w = kind->width;

	for (Size i = buf->n; i-- > 0;)
	{
		if (memcmp(OBS_AT(buf, kind, i), obs, w) != 0)
			continue;
		memmove(OBS_AT(buf, kind, i), OBS_AT(buf, kind, i + 1), (buf->n - i - 1) * w);
		buf->n--;
		if (i < buf->nsorted)
			buf->nsorted--;
		return true;
	}
	return false;
}

/*
 * Adds `from` to `to`.  Two sorted buffers are merged, so that states the
 * workers sorted reach the final function sorted.
 */
void
obs_merge(ObsBuffer *to, const ObsBuffer *from, const ObsKind *kind, MemoryContext ctx)
{
	Size		w = kind->width;
	char	   *merged,
			   *out;
	Size		i = 0,
				j = 0;

	if (from->n == 0)
		return;
	if (to->n == 0 || kind->cmp == NULL ||
		to->nsorted < to->n || from->nsorted < from->n)
	{
		/* the appended rows extend the sorted prefix only where it was all */
		if (kind->cmp == NULL || to->n == 0)
			to->nsorted = to->nsorted + from->nsorted;
		obs_reserve(to, kind, from->n, ctx);
		memcpy(OBS_AT(to, kind, to->n), from->data, from->n * w);
		to->n += from->n;
		return;
	}

	out = merged = obs_alloc(to->n + from->n, kind, ctx);
	while (i < to->n && j < from->n)
	{
		const char *a = OBS_AT(to, kind, i);
		const char *b = OBS_AT(from, kind, j);

		if (kind->cmp(b, a) < 0)
		{
			memcpy(out, b, w);
			j++;
		}
		else
		{
			memcpy(out, a, w);
			i++;
		}
		out += w;
	}
	memcpy(out, OBS_AT(to, kind, i), (to->n - i) * w);
	out += (to->n - i) * w;
	memcpy(out, OBS_AT(from, kind, j), (from->n - j) * w);
	pfree(to->data);
	to->data = merged;
	to->n = to->cap = to->nsorted = to->n + from->n;
}

Size
obs_serial_size(const ObsBuffer *buf, const ObsKind *kind)
{
	return sizeof(uint64) + buf->n * kind->width;
}

/* Writes buf at dst, sorted (sorting buf in place); returns the end. */
char *
obs_write(ObsBuffer *buf, const ObsKind *kind, char *dst)
{
	uint64		n = buf->n;

	obs_sort(buf, kind);
	memcpy(dst, &n, sizeof(n));
	dst += sizeof(n);
	if (n > 0)
		memcpy(dst, buf->data, n * kind->width);
	return dst + n * kind->width;
}

Size
obs_read(ObsBuffer *buf, const ObsKind *kind, const char *src, Size len, MemoryContext ctx)
{
	uint64		n;

	obs_init(buf);
	if (len < sizeof(n))
		return 0;
	memcpy(&n, src, sizeof(n));
	if (n > (len - sizeof(n)) / kind->width)
		return 0;
	if (n > 0)
	{
		buf->data = obs_alloc(n, kind, ctx);
		memcpy(buf->data, src + sizeof(n), n * kind->width);
	}
	buf->n = buf->cap = buf->nsorted = n;
	for (Size i = 1; kind->cmp != NULL && i < buf->n; i++)
		if (kind->cmp(OBS_AT(buf, kind, i - 1), OBS_AT(buf, kind, i)) > 0)
		{
			buf->nsorted = i;
			break;
		}
	return sizeof(n) + n * kind->width;
}

Size
obs_serial_size_all(const ObsBuffer *bufs, int nbufs, const ObsKind *kind)
{
	Size		size = 0;

	for (int k = 0; k < nbufs; k++)
		size += obs_serial_size(&bufs[k], kind);
	return size;
}

char *
obs_write_all(ObsBuffer *bufs, int nbufs, const ObsKind *kind, char *dst)
{
	for (int k = 0; k < nbufs; k++)
		dst = obs_write(&bufs[k], kind, dst);
	return dst;
}

bool
obs_read_all(ObsBuffer *bufs, int nbufs, const ObsKind *kind, const char *src, Size len,
			 MemoryContext ctx)
{
	for (int k = 0; k < nbufs; k++)
	{
		Size		used = obs_read(&bufs[k], kind, src, len, ctx);

		if (used == 0)
			return false;
		src += used;
		len -= used;
	}
	return len == 0;
}
