/*
 * svg_plot.h
 *		Light-curve plots as standalone SVG documents: a plain-C kernel, no
 *		PostgreSQL types; memory and interrupt polls come from the caller's
 *		host (kernel_host.h), errors are status codes.
 *
 * A plot is a set of series (one per passband): observations drawn as
 * markers with 1-sigma error bars, and optionally a smoothed curve drawn as
 * its mean (a polyline) over a shaded mean +- sd band in the series' colour.
 * Around them: a frame, axes with "nice" ticks (1, 2, 5 times a power of ten)
 * labelled MJD and flux, light grid lines, a legend of the series present
 * and an optional title.
 *
 * Why the output stays small for large inputs:
 *	 - all markers of a series are one <path> of zero-length subpaths with
 *	   round caps ("m dx dy h0": a dot), all its error bars one <path> of
 *	   vertical segments ("m dx dy v dh"), in relative coordinates;
 *	 - coordinates are rounded to 0.01 px and printed without trailing zeros
 *	   (integers in hundredths of a pixel, so relative steps add up exactly);
 *	 - a marker whose centre falls in the same 0.5 px cell as an earlier
 *	   marker of its series, or an error bar whose x and both ends fall in the
 *	   same 0.5 px cells as an earlier bar of its series, is not drawn again:
 *	   it would cover the same pixels.  So the output is bounded by the plot's
 *	   pixel count, not by n.  Measured (test/validation/test_plot.py): a
 *	   synthetic 10^5-point light curve in six bands is 2.45 MB, about 25
 *	   bytes a point (26% of its dots and 3% of its bars left out); the
 *	   shipped light curves (~150 points) 6 to 12 kB.
 *
 * Cost, n observations and m curve points over all series: O(n + m) time
 * (one pass to find the ranges, one to draw, each duplicate test O(1)
 * expected in an open-addressing hash set), O(n_s) extra memory for the hash
 * set of the largest series (8 bytes a slot, fewer than 8 n_s slots), output
 * O(min(n, plot cells) + m).  Ticks are O(1) (at most SVG_MAX_TICKS).
 *
 * Text (title, series names, axis labels) is escaped: & < > " ' become
 * entities, every non-ASCII character a numeric character reference, and
 * characters that XML 1.0 forbids (C0 controls other than tab, newline and
 * carriage return, U+FFFE, U+FFFF, surrogates, invalid UTF-8) as well as
 * DEL and the C1 controls become U+FFFD.  The document is therefore pure
 * ASCII, valid whatever ASCII-compatible encoding carries it.
 */
#ifndef ANTARES_SVG_PLOT_H
#define ANTARES_SVG_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "kernel_host.h"

typedef enum SvgStatus
{
	SVG_OK = 0,
	SVG_INVALID_INPUT,			/* a non-finite value, dflux or sd < 0, a bad
								 * colour, a size out of range */
	SVG_OUT_OF_RANGE,			/* finite values whose range or error bars
								 * exceed double precision */
	SVG_NO_MEMORY,				/* the host's alloc returned NULL */
	SVG_TOO_LARGE,				/* the document would exceed the buffer's
								 * limit */
	SVG_INTERRUPTED				/* the host said stop */
} SvgStatus;

/*
 * A growable byte buffer in the host's memory: a full buffer moves to a
 * block twice its size.  Appends after a failure do nothing and the first
 * failure stays in status, so a long sequence of appends needs one check at
 * the end (a failed allocation keeps the old block).  data is not
 * NUL-terminated; len bytes are valid.  The kernel holds nothing but blocks
 * from the host, so the host's alloc and poll may also not return at all (a
 * longjmp).
 */
typedef struct SvgBuffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		limit;			/* most bytes allowed; 0: no limit */
	const KernelHost *host;
	SvgStatus	status;
} SvgBuffer;

extern void svg_buffer_init(SvgBuffer *buf, const KernelHost *host, size_t limit);
extern void svg_buffer_free(SvgBuffer *buf);
extern SvgStatus svg_buffer_append(SvgBuffer *buf, const char *s, size_t n);
extern SvgStatus svg_buffer_puts(SvgBuffer *buf, const char *s);

/*
 * Appends len bytes of UTF-8 text escaped for XML character data and
 * attribute values (see the header comment).
 */
extern SvgStatus svg_buffer_escaped(SvgBuffer *buf, const char *s, size_t len);

/*
 * Ticks: at most SVG_MAX_TICKS multiples of step in [lo, hi], step = 1, 2 or
 * 5 times a power of ten, chosen so that about `target` ticks fall in the
 * range.  lo < hi, both finite.  Returns the number of ticks.
 */
#define SVG_MAX_TICKS 32
extern int	svg_nice_ticks(double lo, double hi, int target, double *ticks, double *step);

/*
 * A tick label of value for ticks `step` apart: fixed notation with just
 * enough decimals to tell neighbours apart ("56000", "0.25", "-1.5", never
 * "-0"), exponent notation only beyond 1e15 or below 1e-8.  Writes at most
 * size bytes including the NUL; returns the length.
 */
extern int	svg_format_tick(double value, double step, char *out, size_t size);

/*
 * The axis range shown for data in [lo, hi]: 4% of the span added on each
 * side; a degenerate span (hi - lo at most 1e-9 of the values' magnitude:
 * one point, equal values) becomes center +- half, with half =
 * max(degenerate_half, 1e-6 |center|) if degenerate_half > 0, else
 * 10% of |center| (1 when center is 0).  SVG_OUT_OF_RANGE when the result
 * is not finite.
 */
extern SvgStatus svg_axis_range(double lo, double hi, double degenerate_half,
								double *axis_lo, double *axis_hi);

/* One series: observations and an optional smoothed curve. */
typedef struct SvgSeries
{
	const char *name;			/* UTF-8, shown in the legend (escaped) */
	const char *color;			/* "#rrggbb" */
	size_t		n;				/* observations: t, flux, dflux (any order) */
	const double *t;
	const double *flux;
	const double *dflux;		/* >= 0 */
	size_t		m;				/* curve points, drawn in the given order; 0:
								 * no curve */
	const double *curve_t;
	const double *curve_mean;
	const double *curve_sd;		/* >= 0 */
} SvgSeries;

#define SVG_DEFAULT_WIDTH 720
#define SVG_DEFAULT_HEIGHT 440
#define SVG_MIN_SIZE 200
#define SVG_MAX_SIZE 10000

typedef struct SvgPlot
{
	const char *title;			/* UTF-8, or NULL: no title line */
	const char *x_label;		/* NULL: "MJD" */
	const char *y_label;		/* NULL: "flux" */
	int			width;			/* pixels, SVG_MIN_SIZE .. SVG_MAX_SIZE; 0: default */
	int			height;
	size_t		nseries;
	const SvgSeries *series;	/* drawn in this order; the legend lists those
								 * with observations or a curve */
} SvgPlot;

/*
 * Appends the whole document (XML declaration, <svg> root) to out.  The plot
 * area is the <rect class="plot-area"> (its x, y, width, height).  With no
 * observations and no curve at all, the axes span [0, 1].  On an error the
 * buffer holds a partial document.  Polls out's host once every
 * KERNEL_POLL_UNITS observations or curve points of every pass.
 */
extern SvgStatus svg_plot_render(const SvgPlot *plot, SvgBuffer *out);

/*
 * The colour of an LSST passband "u" .. "y" (the DSFP exercise's for g r i z), or NULL
 * for another name.
 */
extern const char *svg_band_color(const char *band);

#endif							/* ANTARES_SVG_PLOT_H */
