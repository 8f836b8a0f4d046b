/*
 * obs_buffer.c
 *		Growable arrays of fixed-width observations for aggregate states
 *		(see obs_buffer.h).
 *
 * Cost: append O(1) amortised; sort O(n log n); merge of two sorted buffers
 * O(n + m), otherwise an O(m) append; serialize O(n) plus a sort if needed;
 * read O(n).  Buffers may exceed 1 GB in memory (huge allocations), but a
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
	buf->n = buf->cap = 0;
	buf->sorted = true;
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
	if (kind->cmp != NULL && buf->n > 0 && kind->cmp(OBS_AT(buf, kind, buf->n - 1), obs) > 0)
		buf->sorted = false;
	memcpy(OBS_AT(buf, kind, buf->n), obs, kind->width);
	buf->n++;
}

void
obs_sort(ObsBuffer *buf, const ObsKind *kind)
{
	if (!buf->sorted && kind->cmp != NULL)
		qsort(buf->data, buf->n, kind->width, kind->cmp);
	buf->sorted = true;
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
	if (to->n == 0 || kind->cmp == NULL || !(to->sorted && from->sorted))
	{
		bool		sorted = kind->cmp == NULL || (to->n == 0 && from->sorted);

		obs_reserve(to, kind, from->n, ctx);
		memcpy(OBS_AT(to, kind, to->n), from->data, from->n * w);
		to->n += from->n;
		to->sorted = sorted;
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
	to->n = to->cap = to->n + from->n;
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
	buf->n = buf->cap = n;
	for (Size i = 1; kind->cmp != NULL && i < buf->n && buf->sorted; i++)
		buf->sorted = kind->cmp(OBS_AT(buf, kind, i - 1), OBS_AT(buf, kind, i)) <= 0;
	return sizeof(n) + n * kind->width;
}
