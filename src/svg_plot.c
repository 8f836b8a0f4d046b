/*
 * svg_plot.c
 *		Light-curve plots as standalone SVG documents (see svg_plot.h).
 */
#include "svg_plot.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The DSFP exercise's palette for g r i z; u and y in hues far from all four. */
static const struct
{
	const char *band;
	const char *color;
}			band_colors[] = {
	{"u", "#8E6BBF"},
	{"g", "#78A5A3"},
	{"r", "#CE5A57"},
	{"i", "#E1B16A"},
	{"z", "#444C5C"},
	{"y", "#5E9E3A"},
};

const char *
svg_band_color(const char *band)
{
	for (size_t i = 0; i < sizeof(band_colors) / sizeof(band_colors[0]); i++)
		if (strcmp(band, band_colors[i].band) == 0)
			return band_colors[i].color;
	return NULL;
}

/* ---------------------------------------------------------------- buffer */

void
svg_buffer_init(SvgBuffer *buf, const KernelHost *host, size_t limit)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	buf->limit = limit;
	buf->host = host;
	buf->status = SVG_OK;
}

void
svg_buffer_free(SvgBuffer *buf)
{
	host_free(buf->host, buf->data);
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
}

/* Room for `extra` more bytes; false (and status set) when there is none. */
static bool
buffer_reserve(SvgBuffer *buf, size_t extra)
{
	size_t		need,
				cap;
	char	   *p;

	if (buf->status != SVG_OK)
		return false;
	if (extra > SIZE_MAX - buf->len ||
		(buf->limit != 0 && buf->len + extra > buf->limit))
	{
		buf->status = SVG_TOO_LARGE;
		return false;
	}
	need = buf->len + extra;
	if (need <= buf->cap)
		return true;
	/* Doubling: O(1) amortised per byte, at most half the block unused. */
	cap = buf->cap != 0 ? buf->cap : 4096;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (buf->limit != 0 && cap > buf->limit)
		cap = buf->limit;
	p = host_alloc(buf->host, cap);
	if (p == NULL)
	{
		buf->status = SVG_NO_MEMORY;
		return false;
	}
	if (buf->len > 0)
		memcpy(p, buf->data, buf->len);
	host_free(buf->host, buf->data);
	buf->data = p;
	buf->cap = cap;
	return true;
}

SvgStatus
svg_buffer_append(SvgBuffer *buf, const char *s, size_t n)
{
	if (!buffer_reserve(buf, n))
		return buf->status;
	if (n == 0)
		return SVG_OK;			/* data may still be NULL: no memcpy */
	memcpy(buf->data + buf->len, s, n);
	buf->len += n;
	return SVG_OK;
}

SvgStatus
svg_buffer_puts(SvgBuffer *buf, const char *s)
{
	return svg_buffer_append(buf, s, strlen(s));
}

static void
put_char(SvgBuffer *buf, char c)
{
	if (buf->len < buf->cap && buf->status == SVG_OK &&
		(buf->limit == 0 || buf->len < buf->limit))
		buf->data[buf->len++] = c;
	else
		svg_buffer_append(buf, &c, 1);
}

static void
put_fmt_int(SvgBuffer *buf, long long v)
{
	char		tmp[24];
	int			k = snprintf(tmp, sizeof tmp, "%lld", v);

	svg_buffer_append(buf, tmp, (size_t) k);
}

/*
 * v hundredths of a pixel, shortest form: "12", "12.5", "-0.07".  Integers
 * make relative path steps exact: the sum of the printed steps is the
 * rounded absolute position, with no drift over 10^5 points.
 */
static void
put_hundredths(SvgBuffer *buf, long long v)
{
	char		tmp[32];
	char	   *end = tmp + sizeof tmp;
	char	   *p = end;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long) v : (unsigned long long) v;
	unsigned	frac = (unsigned) (u % 100);

	u /= 100;
	if (frac != 0)
	{
		if (frac % 10 != 0)
			*--p = (char) ('0' + frac % 10);
		*--p = (char) ('0' + frac / 10);
		*--p = '.';
	}
	do
	{
		*--p = (char) ('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	svg_buffer_append(buf, p, (size_t) (end - p));
}

/* A pixel coordinate in hundredths (clamped far outside any canvas). */
static long long
hundredths(double px)
{
	if (!(px > -1e9))
		px = -1e9;
	if (px > 1e9)
		px = 1e9;
	return llround(px * 100.0);
}

static void
put_px(SvgBuffer *buf, double px)
{
	put_hundredths(buf, hundredths(px));
}

/* ---------------------------------------------------------------- escaping */

static void
put_char_ref(SvgBuffer *buf, uint32_t cp)
{
	char		tmp[16];
	int			k = snprintf(tmp, sizeof tmp, "&#x%X;", (unsigned) cp);

	svg_buffer_append(buf, tmp, (size_t) k);
}

/* Length of the valid UTF-8 sequence at s (n bytes left) and its code point; 0 if invalid. */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t	c = s[0];
	size_t		len;
	uint32_t	min;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
	{
		len = 2;
		c &= 0x1F;
		min = 0x80;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		len = 3;
		c &= 0x0F;
		min = 0x800;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		len = 4;
		c &= 0x07;
		min = 0x10000;
	}
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

SvgStatus
svg_buffer_escaped(SvgBuffer *buf, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	while (i < len)
	{
		uint32_t	cp;
		size_t		k = utf8_decode(p + i, len - i, &cp);

		if (k == 0)
		{
			/* an invalid byte: one replacement character, resynchronise */
			put_char_ref(buf, 0xFFFD);
			i++;
			continue;
		}
		i += k;
		switch (cp)
		{
			case '&':
				svg_buffer_puts(buf, "&amp;");
				break;
			case '<':
				svg_buffer_puts(buf, "&lt;");
				break;
			case '>':
				svg_buffer_puts(buf, "&gt;");
				break;
			case '"':
				svg_buffer_puts(buf, "&quot;");
				break;
			case '\'':
				svg_buffer_puts(buf, "&apos;");
				break;
			case '\t':
			case '\n':
			case '\r':
				put_char(buf, (char) cp);
				break;
			default:
				if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF)
					put_char_ref(buf, 0xFFFD);	/* not allowed, or invisible controls */
				else if (cp < 0x80)
					put_char(buf, (char) cp);
				else
					put_char_ref(buf, cp);
				break;
		}
	}
	return buf->status;
}

/* ---------------------------------------------------------------- axes */

SvgStatus
svg_axis_range(double lo, double hi, double degenerate_half,
			   double *axis_lo, double *axis_hi)
{
	double		magnitude,
				span,
				a,
				b;

	if (!(isfinite(lo) && isfinite(hi) && lo <= hi))
		return SVG_INVALID_INPUT;
	magnitude = fmax(fabs(lo), fabs(hi));
	span = hi - lo;
	if (!isfinite(span))
		return SVG_OUT_OF_RANGE;
	if (span <= 1e-9 * magnitude)
	{
		/* one value (or values equal but for rounding): a window around it */
		double		center = lo + span / 2;
		double		half;

		if (degenerate_half > 0)
			half = fmax(degenerate_half, 1e-6 * fabs(center));
		else
			half = center != 0 ? 0.1 * fabs(center) : 1.0;
		a = center - half;
		b = center + half;
	}
	else
	{
		a = lo - 0.04 * span;
		b = hi + 0.04 * span;
	}
	if (!(isfinite(a) && isfinite(b) && isfinite(b - a) && a < b))
		return SVG_OUT_OF_RANGE;
	*axis_lo = a;
	*axis_hi = b;
	return SVG_OK;
}

int
svg_nice_ticks(double lo, double hi, int target, double *ticks, double *step_out)
{
	double		raw,
				magnitude,
				norm,
				step,
				first,
				last;
	int			count = 0;

	if (!(isfinite(lo) && isfinite(hi) && lo < hi && isfinite(hi - lo)))
		return 0;
	/* at most 1.5 target + 1 ticks then, below SVG_MAX_TICKS */
	if (target < 1)
		target = 1;
	if (target > 10)
		target = 10;
	raw = (hi - lo) / target;
	magnitude = pow(10.0, floor(log10(raw)));
	norm = raw / magnitude;
	step = (norm < 1.5 ? 1.0 : norm < 3.5 ? 2.0 : norm < 7.5 ? 5.0 : 10.0) * magnitude;
	if (!(step > 0 && isfinite(step)))
		return 0;
	/* integer multiples, so that no error accumulates from tick to tick */
	first = ceil(lo / step);
	last = floor(hi / step);
	for (double k = first; k <= last && count < SVG_MAX_TICKS; k++)
	{
		double		v = k * step;

		ticks[count++] = fabs(v) < step * 1e-9 ? 0.0 : v;
	}
	*step_out = step;
	return count;
}

int
svg_format_tick(double value, double step, char *out, size_t size)
{
	double		a;

	if (fabs(value) < step * 1e-6)
		value = 0.0;			/* never "-0" */
	a = fabs(value);
	if (a < 1e15 && step >= 1e-8)
	{
		int			decimals = step >= 1 ? 0 : (int) ceil(-log10(step) - 1e-9);

		return snprintf(out, size, "%.*f", decimals, value);
	}
	else
	{
		int			digits = (a > 0 ? (int) floor(log10(a)) : 0) -
			(int) floor(log10(step) + 1e-9) + 1;

		if (digits < 1)
			digits = 1;
		if (digits > 17)
			digits = 17;
		return snprintf(out, size, "%.*g", digits, value);
	}
}

/* ---------------------------------------------------------------- drawing */

/* Pixel geometry of the plot area and the data ranges it shows. */
typedef struct Frame
{
	double		left,
				right,
				top,
				bottom;
	double		t_lo,
				t_hi,
				f_lo,
				f_hi;
} Frame;

static double
frame_x(const Frame *f, double t)
{
	return f->left + (t - f->t_lo) / (f->t_hi - f->t_lo) * (f->right - f->left);
}

static double
frame_y(const Frame *f, double v)
{
	return f->bottom - (v - f->f_lo) / (f->f_hi - f->f_lo) * (f->bottom - f->top);
}

/*
 * Polls the host at unit step i; false once it has said stop or after any
 * other failure (appends would do nothing: the pass may as well end).
 */
static bool
poll_interrupt(SvgBuffer *buf, size_t i)
{
	if (buf->status == SVG_OK && host_poll_at(buf->host, i))
		buf->status = SVG_INTERRUPTED;
	return buf->status == SVG_OK;
}

/*
 * Path data in relative coordinates: the pen position is kept in integer
 * hundredths of a pixel, so every step printed is exact.
 */
typedef struct PathWriter
{
	SvgBuffer  *buf;
	long long	x,
				y;
	bool		after_number;
} PathWriter;

static void
path_start(PathWriter *w, SvgBuffer *buf)
{
	w->buf = buf;
	w->x = 0;
	w->y = 0;					/* a first relative moveto is absolute */
	w->after_number = false;
}

static void
path_cmd(PathWriter *w, char c)
{
	put_char(w->buf, c);
	w->after_number = false;
}

/* A number; a minus sign separates it from the previous one by itself. */
static void
path_num(PathWriter *w, long long v)
{
	if (w->after_number && v >= 0)
		put_char(w->buf, ' ');
	put_hundredths(w->buf, v);
	w->after_number = true;
}

/* Relative move or line to (x, y) hundredths: "m dx dy" */
static void
path_to(PathWriter *w, char cmd, long long x, long long y)
{
	if (cmd != 0)
		path_cmd(w, cmd);
	path_num(w, x - w->x);
	path_num(w, y - w->y);
	w->x = x;
	w->y = y;
}

static bool
valid_color(const char *c)
{
	if (c == NULL || c[0] != '#' || strlen(c) != 7)
		return false;
	for (int i = 1; i < 7; i++)
		if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'f') ||
			  (c[i] >= 'A' && c[i] <= 'F')))
			return false;
	return true;
}

/*
 * Open-addressing set of non-zero 64-bit keys (quantized pixel cells), for
 * the duplicate test.  Linear probing at load <= 1/2: O(1) expected.
 */
typedef struct CellSet
{
	uint64_t   *slots;
	size_t		capacity;		/* allocated slots */
	size_t		mask;			/* slots in use - 1 (a power of two) */
} CellSet;

static size_t
cellset_slots_for(size_t entries)
{
	size_t		s = 16;

	while (s < 2 * entries)
		s *= 2;
	return s;
}

/* Clears the set for up to `entries` keys. */
static void
cellset_reset(CellSet *set, size_t entries)
{
	set->mask = cellset_slots_for(entries) - 1;
	memset(set->slots, 0, (set->mask + 1) * sizeof(uint64_t));
}

/* true when key was not in the set (and now is) */
static bool
cellset_add(CellSet *set, uint64_t key)
{
	uint64_t	h = key * UINT64_C(0x9E3779B97F4A7C15);
	size_t		i = (size_t) (h ^ (h >> 29)) & set->mask;

	while (set->slots[i] != 0)
	{
		if (set->slots[i] == key)
			return false;
		i = (i + 1) & set->mask;
	}
	set->slots[i] = key;
	return true;
}

/* A coordinate in 0.5 px cells, 20 bits. */
static uint64_t
cell(double px)
{
	double		c = floor(px * 2.0 + 0.5);

	if (!(c > 0))
		return 0;
	if (c > 0xFFFFF)
		return 0xFFFFF;
	return (uint64_t) c;
}

#define MARKER_KEY(x, y)		((UINT64_C(1) << 61) | ((x) << 20) | (y))
#define BAR_KEY(x, lo, hi)		((UINT64_C(1) << 60) | ((x) << 40) | ((lo) << 20) | (hi))

static void
put_attr_px(SvgBuffer *buf, const char *name, double px)
{
	put_char(buf, ' ');
	svg_buffer_puts(buf, name);
	svg_buffer_puts(buf, "=\"");
	put_px(buf, px);
	put_char(buf, '"');
}

/* <text x=.. y=..[ extra]>escaped</text> */
static void
put_text(SvgBuffer *buf, double x, double y, const char *extra, const char *s, size_t len)
{
	svg_buffer_puts(buf, "<text");
	put_attr_px(buf, "x", x);
	put_attr_px(buf, "y", y);
	if (extra != NULL)
	{
		put_char(buf, ' ');
		svg_buffer_puts(buf, extra);
	}
	put_char(buf, '>');
	svg_buffer_escaped(buf, s, len);
	svg_buffer_puts(buf, "</text>\n");
}

static void
draw_curve(SvgBuffer *buf, const Frame *f, const SvgSeries *s, size_t *polled)
{
	PathWriter	w;

	/* the +-1 sd band: along mean + sd, back along mean - sd */
	svg_buffer_puts(buf, "<path fill=\"");
	svg_buffer_puts(buf, s->color);
	svg_buffer_puts(buf, "\" fill-opacity=\"0.2\" stroke=\"none\" d=\"");
	path_start(&w, buf);
	for (size_t j = 0; j < s->m; j++, (*polled)++)
	{
		if (!poll_interrupt(buf, *polled))
			break;
		path_to(&w, j == 0 ? 'm' : j == 1 ? 'l' : 0,
				hundredths(frame_x(f, s->curve_t[j])),
				hundredths(frame_y(f, s->curve_mean[j] + s->curve_sd[j])));
	}
	for (size_t j = s->m; j-- > 0; (*polled)++)
	{
		if (!poll_interrupt(buf, *polled))
			break;
		path_to(&w, j == s->m - 1 && s->m == 1 ? 'l' : 0,
				hundredths(frame_x(f, s->curve_t[j])),
				hundredths(frame_y(f, s->curve_mean[j] - s->curve_sd[j])));
	}
	path_cmd(&w, 'z');
	svg_buffer_puts(buf, "\"/>\n");

	/* the mean */
	svg_buffer_puts(buf, "<path fill=\"none\" stroke=\"");
	svg_buffer_puts(buf, s->color);
	svg_buffer_puts(buf, "\" stroke-width=\"1.5\" stroke-linejoin=\"round\" d=\"");
	path_start(&w, buf);
	for (size_t j = 0; j < s->m; j++, (*polled)++)
	{
		if (!poll_interrupt(buf, *polled))
			break;
		path_to(&w, j == 0 ? 'm' : j == 1 ? 'l' : 0,
				hundredths(frame_x(f, s->curve_t[j])),
				hundredths(frame_y(f, s->curve_mean[j])));
	}
	if (s->m == 1)
		path_cmd(&w, 'z');		/* one point: a dot, with round caps */
	svg_buffer_puts(buf, "\"/>\n");
}

/*
 * Error bars, then markers, of one series; cells drawn already are skipped
 * (cells: a cleared set with room for 2 n keys).
 */
static void
draw_points(SvgBuffer *buf, const Frame *f, const SvgSeries *s, CellSet *cells,
			size_t *polled)
{
	PathWriter	w;

	cellset_reset(cells, 2 * s->n);
	svg_buffer_puts(buf, "<path fill=\"none\" stroke=\"");
	svg_buffer_puts(buf, s->color);
	svg_buffer_puts(buf, "\" stroke-width=\"1\" d=\"");
	path_start(&w, buf);
	for (size_t i = 0; i < s->n; i++, (*polled)++)
	{
		double		x = frame_x(f, s->t[i]);
		double		y_lo = frame_y(f, s->flux[i] - s->dflux[i]);
		double		y_hi = frame_y(f, s->flux[i] + s->dflux[i]);
		long long	lo;

		if (!poll_interrupt(buf, *polled))
			break;
		if (!cellset_add(cells, BAR_KEY(cell(x), cell(y_lo), cell(y_hi))))
			continue;
		lo = hundredths(y_lo);
		path_to(&w, 'm', hundredths(x), lo);
		path_cmd(&w, 'v');
		w.y = hundredths(y_hi);
		path_num(&w, w.y - lo);
	}
	svg_buffer_puts(buf, "\"/>\n");

	svg_buffer_puts(buf, "<path fill=\"none\" stroke=\"");
	svg_buffer_puts(buf, s->color);
	svg_buffer_puts(buf, "\" stroke-width=\"5\" stroke-linecap=\"round\" d=\"");
	path_start(&w, buf);
	for (size_t i = 0; i < s->n; i++, (*polled)++)
	{
		double		x = frame_x(f, s->t[i]);
		double		y = frame_y(f, s->flux[i]);

		if (!poll_interrupt(buf, *polled))
			break;
		if (!cellset_add(cells, MARKER_KEY(cell(x), cell(y))))
			continue;
		path_to(&w, 'm', hundredths(x), hundredths(y));
		path_cmd(&w, 'h');
		path_num(&w, 0);
	}
	svg_buffer_puts(buf, "\"/>\n");
}

static void
open_series_group(SvgBuffer *buf, const SvgSeries *s)
{
	svg_buffer_puts(buf, "<g data-series=\"");
	svg_buffer_escaped(buf, s->name, strlen(s->name));
	svg_buffer_puts(buf, "\">\n");
}

/* Validates every value and finds the data ranges. */
static SvgStatus
data_ranges(const SvgPlot *plot, const KernelHost *host, double *t_min, double *t_max,
			double *f_min, double *f_max, size_t *max_n, bool *any)
{
	size_t		polled = 0;

	*t_min = *f_min = INFINITY;
	*t_max = *f_max = -INFINITY;
	*max_n = 0;
	*any = false;
	for (size_t k = 0; k < plot->nseries; k++)
	{
		const SvgSeries *s = &plot->series[k];

		if (!valid_color(s->color) || s->name == NULL ||
			(s->n > 0 && (s->t == NULL || s->flux == NULL || s->dflux == NULL)) ||
			(s->m > 0 && (s->curve_t == NULL || s->curve_mean == NULL || s->curve_sd == NULL)))
			return SVG_INVALID_INPUT;
		if (s->n > *max_n)
			*max_n = s->n;
		for (size_t i = 0; i < s->n; i++, polled++)
		{
			double		lo = s->flux[i] - s->dflux[i];
			double		hi = s->flux[i] + s->dflux[i];

			if (host_poll_at(host, polled))
				return SVG_INTERRUPTED;
			if (!isfinite(s->t[i]) || !isfinite(s->flux[i]) ||
				!(isfinite(s->dflux[i]) && s->dflux[i] >= 0))
				return SVG_INVALID_INPUT;
			if (!isfinite(lo) || !isfinite(hi))
				return SVG_OUT_OF_RANGE;
			*t_min = fmin(*t_min, s->t[i]);
			*t_max = fmax(*t_max, s->t[i]);
			*f_min = fmin(*f_min, lo);
			*f_max = fmax(*f_max, hi);
		}
		for (size_t j = 0; j < s->m; j++, polled++)
		{
			double		lo = s->curve_mean[j] - s->curve_sd[j];
			double		hi = s->curve_mean[j] + s->curve_sd[j];

			if (host_poll_at(host, polled))
				return SVG_INTERRUPTED;
			if (!isfinite(s->curve_t[j]) || !isfinite(s->curve_mean[j]) ||
				!(isfinite(s->curve_sd[j]) && s->curve_sd[j] >= 0))
				return SVG_INVALID_INPUT;
			if (!isfinite(lo) || !isfinite(hi))
				return SVG_OUT_OF_RANGE;
			*t_min = fmin(*t_min, s->curve_t[j]);
			*t_max = fmax(*t_max, s->curve_t[j]);
			*f_min = fmin(*f_min, lo);
			*f_max = fmax(*f_max, hi);
		}
		if (s->n > 0 || s->m > 0)
			*any = true;
	}
	return SVG_OK;
}

/* Layout, in pixels: margins around the plot area, legend on the right. */
#define MARGIN_LEFT		72
#define MARGIN_RIGHT	84
#define MARGIN_TOP		40
#define MARGIN_BOTTOM	50
#define LEGEND_ROW		18

static void
draw_axes(SvgBuffer *buf, const Frame *f, const char *x_label, const char *y_label,
		  int height)
{
	double		xt[SVG_MAX_TICKS],
				yt[SVG_MAX_TICKS],
				x_step = 1,
				y_step = 1;
	int			nx = svg_nice_ticks(f->t_lo, f->t_hi, (int) ((f->right - f->left) / 110), xt, &x_step);
	int			ny = svg_nice_ticks(f->f_lo, f->f_hi, (int) ((f->bottom - f->top) / 70), yt, &y_step);
	char		label[64];
	PathWriter	w;

	/* grid lines under the data */
	svg_buffer_puts(buf, "<path fill=\"none\" stroke=\"#e6e6e6\" stroke-width=\"1\" d=\"");
	path_start(&w, buf);
	for (int i = 0; i < nx; i++)
	{
		path_to(&w, 'm', hundredths(frame_x(f, xt[i])), hundredths(f->top));
		path_cmd(&w, 'v');
		path_num(&w, hundredths(f->bottom) - hundredths(f->top));
		w.y = hundredths(f->bottom);
	}
	for (int i = 0; i < ny; i++)
	{
		path_to(&w, 'm', hundredths(f->left), hundredths(frame_y(f, yt[i])));
		path_cmd(&w, 'h');
		path_num(&w, hundredths(f->right) - hundredths(f->left));
		w.x = hundredths(f->right);
	}
	svg_buffer_puts(buf, "\"/>\n");

	/* tick marks */
	svg_buffer_puts(buf, "<path fill=\"none\" stroke=\"#333\" stroke-width=\"1\" d=\"");
	path_start(&w, buf);
	for (int i = 0; i < nx; i++)
	{
		path_to(&w, 'm', hundredths(frame_x(f, xt[i])), hundredths(f->bottom));
		path_cmd(&w, 'v');
		path_num(&w, 500);
		w.y += 500;
	}
	for (int i = 0; i < ny; i++)
	{
		path_to(&w, 'm', hundredths(f->left), hundredths(frame_y(f, yt[i])));
		path_cmd(&w, 'h');
		path_num(&w, -500);
		w.x -= 500;
	}
	svg_buffer_puts(buf, "\"/>\n");

	/* tick labels and axis labels */
	svg_buffer_puts(buf, "<g fill=\"#333\" text-anchor=\"middle\">\n");
	for (int i = 0; i < nx; i++)
	{
		int			k = svg_format_tick(xt[i], x_step, label, sizeof label);

		put_text(buf, frame_x(f, xt[i]), f->bottom + 19, NULL, label, (size_t) k);
	}
	put_text(buf, (f->left + f->right) / 2, height - 10, "font-size=\"13\"",
			 x_label, strlen(x_label));
	svg_buffer_puts(buf, "<text font-size=\"13\" transform=\"translate(16 ");
	put_px(buf, (f->top + f->bottom) / 2);
	svg_buffer_puts(buf, ") rotate(-90)\">");
	svg_buffer_escaped(buf, y_label, strlen(y_label));
	svg_buffer_puts(buf, "</text>\n</g>\n<g fill=\"#333\" text-anchor=\"end\">\n");
	for (int i = 0; i < ny; i++)
	{
		int			k = svg_format_tick(yt[i], y_step, label, sizeof label);

		put_text(buf, f->left - 8, frame_y(f, yt[i]) + 4, NULL, label, (size_t) k);
	}
	svg_buffer_puts(buf, "</g>\n");
}

static void
draw_legend(SvgBuffer *buf, const SvgPlot *plot, const Frame *f)
{
	double		x = f->right + 14;
	double		y = f->top + 10;

	svg_buffer_puts(buf, "<g class=\"legend\">\n");
	for (size_t k = 0; k < plot->nseries; k++)
	{
		const SvgSeries *s = &plot->series[k];

		if (s->n == 0 && s->m == 0)
			continue;
		if (s->m > 0)
		{
			svg_buffer_puts(buf, "<path fill=\"none\" stroke-width=\"1.5\" stroke=\"");
			svg_buffer_puts(buf, s->color);
			svg_buffer_puts(buf, "\" d=\"M");
			put_px(buf, x - 8);
			put_char(buf, ' ');
			put_px(buf, y);
			svg_buffer_puts(buf, "h16\"/>\n");
		}
		if (s->n > 0)
		{
			svg_buffer_puts(buf, "<path fill=\"none\" stroke-width=\"6\" stroke-linecap=\"round\" stroke=\"");
			svg_buffer_puts(buf, s->color);
			svg_buffer_puts(buf, "\" d=\"M");
			put_px(buf, x);
			put_char(buf, ' ');
			put_px(buf, y);
			svg_buffer_puts(buf, "h0\"/>\n");
		}
		put_text(buf, x + 14, y + 4, "fill=\"#333\"", s->name, strlen(s->name));
		y += LEGEND_ROW;
	}
	svg_buffer_puts(buf, "</g>\n");
}

SvgStatus
svg_plot_render(const SvgPlot *plot, SvgBuffer *out)
{
	int			width = plot->width != 0 ? plot->width : SVG_DEFAULT_WIDTH;
	int			height = plot->height != 0 ? plot->height : SVG_DEFAULT_HEIGHT;
	const char *x_label = plot->x_label != NULL ? plot->x_label : "MJD";
	const char *y_label = plot->y_label != NULL ? plot->y_label : "flux";
	double		t_min,
				t_max,
				f_min,
				f_max;
	size_t		max_n,
				polled = 0;
	bool		any;
	Frame		f;
	CellSet		cells = {NULL, 0, 0};
	SvgStatus	status;

	if (width < SVG_MIN_SIZE || width > SVG_MAX_SIZE ||
		height < SVG_MIN_SIZE || height > SVG_MAX_SIZE ||
		(plot->nseries > 0 && plot->series == NULL))
		return SVG_INVALID_INPUT;
	status = data_ranges(plot, out->host, &t_min, &t_max, &f_min, &f_max, &max_n, &any);
	if (status != SVG_OK)
		return status;
	if (!any)
	{
		f.t_lo = f.f_lo = 0.0;
		f.t_hi = f.f_hi = 1.0;
	}
	else if ((status = svg_axis_range(t_min, t_max, 1.0, &f.t_lo, &f.t_hi)) != SVG_OK ||
			 (status = svg_axis_range(f_min, f_max, 0.0, &f.f_lo, &f.f_hi)) != SVG_OK)
		return status;
	f.left = MARGIN_LEFT;
	f.right = width - MARGIN_RIGHT;
	f.top = MARGIN_TOP;
	f.bottom = height - MARGIN_BOTTOM;

	if (max_n > 0)
	{
		/* room for 2 max_n keys: a marker and a bar per observation */
		cells.capacity = cellset_slots_for(2 * max_n);
		cells.slots = host_alloc_array(out->host, cells.capacity, sizeof(uint64_t));
		if (cells.slots == NULL)
			return SVG_NO_MEMORY;
	}

	svg_buffer_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
					"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\"");
	svg_buffer_puts(out, " width=\"");
	put_fmt_int(out, width);
	svg_buffer_puts(out, "\" height=\"");
	put_fmt_int(out, height);
	svg_buffer_puts(out, "\" viewBox=\"0 0 ");
	put_fmt_int(out, width);
	put_char(out, ' ');
	put_fmt_int(out, height);
	svg_buffer_puts(out, "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
					"<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n");
	if (plot->title != NULL)
		put_text(out, width / 2.0, 25, "class=\"title\" text-anchor=\"middle\" font-size=\"15\" fill=\"#222\"",
				 plot->title, strlen(plot->title));

	draw_axes(out, &f, x_label, y_label, height);

	/* curves first, so that no shading covers a point */
	svg_buffer_puts(out, "<g class=\"curves\">\n");
	for (size_t k = 0; k < plot->nseries; k++)
	{
		const SvgSeries *s = &plot->series[k];

		if (s->m == 0)
			continue;
		open_series_group(out, s);
		draw_curve(out, &f, s, &polled);
		svg_buffer_puts(out, "</g>\n");
	}
	svg_buffer_puts(out, "</g>\n<g class=\"points\">\n");
	for (size_t k = 0; k < plot->nseries; k++)
	{
		const SvgSeries *s = &plot->series[k];

		if (s->n == 0)
			continue;
		open_series_group(out, s);
		draw_points(out, &f, s, &cells, &polled);
		svg_buffer_puts(out, "</g>\n");
	}
	svg_buffer_puts(out, "</g>\n");

	svg_buffer_puts(out, "<rect class=\"plot-area\" fill=\"none\" stroke=\"#333\" stroke-width=\"1\"");
	put_attr_px(out, "x", f.left);
	put_attr_px(out, "y", f.top);
	put_attr_px(out, "width", f.right - f.left);
	put_attr_px(out, "height", f.bottom - f.top);
	svg_buffer_puts(out, "/>\n");
	draw_legend(out, plot, &f);
	svg_buffer_puts(out, "</svg>\n");

	host_free(out->host, cells.slots);
	return out->status;
}
