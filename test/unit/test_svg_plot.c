/*
 * test_svg_plot.c
 *		Unit tests of the SVG plot kernel (src/svg_plot.c): ticks, tick labels,
 *		axis ranges, escaping, buffer growth and failure, and whole documents.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "svg_plot.h"
#include "tap.h"
#include "kernel_host_test.h"

/* ------------------------------------------------------------ host */

/* host_counts.live: blocks allocated and not yet freed; .calls: allocations */
static TestHost host_counts;
static const KernelHost host = {test_host_alloc, test_host_free, test_host_interrupted,
&host_counts};

/* The buffer's content as a NUL-terminated string (static storage). */
static const char *
str(const SvgBuffer *b)
{
	static char *copy = NULL;

	free(copy);
	copy = malloc(b->len + 1);
	if (b->len > 0)				/* an empty buffer's data may be NULL */
		memcpy(copy, b->data, b->len);
	copy[b->len] = '\0';
	return copy;
}

static int
count_of(const char *hay, const char *needle)
{
	int			n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static const char *
escaped(const char *s, size_t len)
{
	static SvgBuffer b;

	svg_buffer_free(&b);
	svg_buffer_init(&b, &host, 0);
	svg_buffer_escaped(&b, s, len);
	return str(&b);
}

/* ------------------------------------------------------------ ticks */

static int
ticks_are(double lo, double hi, int target, double want_step, const double *want, int nwant)
{
	double		t[SVG_MAX_TICKS],
				step = 0;
	int			n = svg_nice_ticks(lo, hi, target, t, &step);

	if (n != nwant || fabs(step - want_step) > 1e-12 * fabs(want_step))
	{
		printf("# [%g, %g] target %d: %d ticks, step %.17g\n", lo, hi, target, n, step);
		return 0;
	}
	for (int i = 0; i < n; i++)
		if (fabs(t[i] - want[i]) > 1e-9 * fabs(want_step))
		{
			printf("# tick %d = %.17g, want %.17g\n", i, t[i], want[i]);
			return 0;
		}
	return 1;
}

static int
label_is(double v, double step, const char *want)
{
	char		buf[64];

	svg_format_tick(v, step, buf, sizeof buf);
	if (strcmp(buf, want) != 0)
		printf("# label of %.17g step %g: \"%s\", want \"%s\"\n", v, step, buf, want);
	return strcmp(buf, want) == 0;
}

static void
test_ticks(void)
{
	check(ticks_are(0, 1, 5, 0.2, (double[]) {0, 0.2, 0.4, 0.6, 0.8, 1}, 6),
		  "ticks of [0, 1]: 0, 0.2, ..., 1");
	check(ticks_are(55990.3, 56121.7, 5, 20,
					(double[]) {56000, 56020, 56040, 56060, 56080, 56100, 56120}, 7),
		  "MJD ticks: step 20 from 56000");
	check(ticks_are(-37.5, 412, 5, 100, (double[]) {0, 100, 200, 300, 400}, 5),
		  "a range across zero: 0 is a tick");
	check(ticks_are(-3.2, -1.1, 4, 0.5, (double[]) {-3, -2.5, -2, -1.5}, 4),
		  "a negative range: step 0.5");
	check(ticks_are(0.00012, 0.00047, 3, 0.0001,
					(double[]) {0.0002, 0.0003, 0.0004}, 3), "a small range: step 1e-4");

	/* steps are 1, 2 or 5 times a power of ten for any range */
	{
		int			ok = 1;

		for (int e = -6; e <= 12 && ok; e++)
			for (double m = 1.0; m < 10.0 && ok; m += 0.37)
			{
				double		t[SVG_MAX_TICKS],
							step,
							span = m * pow(10, e);
				int			n = svg_nice_ticks(1000.0 - span, 1000.0 + span, 6, t, &step);
				double		mant = step / pow(10, floor(log10(step) + 1e-9));

				if (n < 2 || n > 16 ||
					!(fabs(mant - 1) < 1e-9 || fabs(mant - 2) < 1e-9 || fabs(mant - 5) < 1e-9))
				{
					printf("# span %g: %d ticks, step %g\n", span, n, step);
					ok = 0;
				}
				for (int i = 0; i < n && ok; i++)
					if (t[i] < 1000.0 - span * (1 + 1e-9) || t[i] > 1000.0 + span * (1 + 1e-9))
					{
						printf("# span %g: tick %.17g outside\n", span, t[i]);
						ok = 0;
					}
			}
		check(ok, "1-2-5 steps, 2 to 16 ticks inside the range, spans 1e-6 .. 1e13 around 1000");
	}
	{
		double		t[SVG_MAX_TICKS],
					step;

		check(svg_nice_ticks(1, 1, 5, t, &step) == 0 && svg_nice_ticks(2, 1, 5, t, &step) == 0 &&
			  svg_nice_ticks(0, INFINITY, 5, t, &step) == 0, "no ticks for an empty or infinite range");
		check(svg_nice_ticks(-1e308, 1e308, 5, t, &step) == 0, "no ticks when the span exceeds double");
		check(svg_nice_ticks(-0.85e308, 0.85e308, 5, t, &step) > 0 && isfinite(step),
			  "ticks for the largest span");
	}

	check(label_is(56000, 20, "56000") && label_is(56020, 20, "56020"),
		  "MJD labels are plain integers");
	check(label_is(0.6000000000000001, 0.2, "0.6") && label_is(0.25, 0.05, "0.25"),
		  "just enough decimals");
	check(label_is(-1e-17, 0.5, "0.0") && label_is(-2.5, 0.5, "-2.5"), "no \"-0\"; negatives");
	check(label_is(56000.5, 0.5, "56000.5"), "a half-day tick");
	check(label_is(2e20, 5e19, "2e+20") && label_is(3e-10, 1e-10, "3e-10"),
		  "exponent notation only for extreme magnitudes");
}

static void
test_ranges(void)
{
	double		a,
				b;

	check(svg_axis_range(10, 20, 1, &a, &b) == SVG_OK && fabs(a - 9.6) < 1e-12 &&
		  fabs(b - 20.4) < 1e-12, "4% padding on each side");
	check(svg_axis_range(56000, 56000, 1, &a, &b) == SVG_OK && a == 55999 && b == 56001,
		  "one time: a day either side");
	check(svg_axis_range(5, 5, 0, &a, &b) == SVG_OK && fabs(a - 4.5) < 1e-12 &&
		  fabs(b - 5.5) < 1e-12, "equal fluxes: 10% either side");
	check(svg_axis_range(-5, -5, 0, &a, &b) == SVG_OK && fabs(a + 5.5) < 1e-12 &&
		  fabs(b + 4.5) < 1e-12, "equal negative fluxes");
	check(svg_axis_range(0, 0, 0, &a, &b) == SVG_OK && a == -1 && b == 1, "zero: -1 .. 1");
	check(svg_axis_range(1e15, 1e15 + 0.125, 1, &a, &b) == SVG_OK && b - a >= 2e9,
		  "values equal to 1e-9 relative count as one value");
	check(svg_axis_range(1e-300, 1e-300, 0, &a, &b) == SVG_OK && a < 1e-300 && b > 1e-300,
		  "a tiny value is padded relative to itself");
	check(svg_axis_range(-1.7e308, 1.7e308, 0, &a, &b) == SVG_OUT_OF_RANGE,
		  "a span beyond double range is SVG_OUT_OF_RANGE");
	check(svg_axis_range(NAN, 1, 0, &a, &b) == SVG_INVALID_INPUT &&
		  svg_axis_range(2, 1, 0, &a, &b) == SVG_INVALID_INPUT, "NaN or lo > hi: invalid");
}

static void
test_escaping(void)
{
	check(strcmp(escaped("a&b<c>d\"e'f", 11), "a&amp;b&lt;c&gt;d&quot;e&apos;f") == 0,
		  "& < > \" ' become entities");
	check(strcmp(escaped("<script>alert(1)</script>", 25),
				 "&lt;script&gt;alert(1)&lt;/script&gt;") == 0, "markup is text");
	check(strcmp(escaped("a\x01" "b\x1f" "c\td\ne\rf", 11), "a&#xFFFD;b&#xFFFD;c\td\ne\rf") == 0,
		  "C0 controls replaced, tab/newline/return kept");
	check(strcmp(escaped("x\0y", 3), "x&#xFFFD;y") == 0, "a NUL byte replaced");
	check(strcmp(escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xad", 14),
				 "caf&#xE9; &#x20AC; &#x1F52D;") == 0, "non-ASCII as character references");
	check(strcmp(escaped("a\xff" "b\xc3", 4), "a&#xFFFD;b&#xFFFD;") == 0,
		  "invalid and truncated UTF-8 replaced");
	check(strcmp(escaped("\xed\xa0\x80|\xc0\xaf|\xef\xbf\xbe", 10),
				 "&#xFFFD;&#xFFFD;&#xFFFD;|&#xFFFD;&#xFFFD;|&#xFFFD;") == 0,
		  "surrogates, overlong forms, U+FFFE replaced");
	check(strcmp(escaped("\x7f\xc2\x85", 3), "&#xFFFD;&#xFFFD;") == 0, "DEL and C1 controls replaced");
	check(strcmp(escaped("", 0), "") == 0, "empty text");
}

static void
test_buffer(void)
{
	SvgBuffer	b;
	int			ok = 1;

	svg_buffer_init(&b, &host, 0);
	host_counts.calls = 0;
	for (int i = 0; i < 100000; i++)
		svg_buffer_append(&b, "0123456789", 10);
	for (size_t i = 0; i < b.len && ok; i++)
		ok = b.data[i] == (char) ('0' + i % 10);
	check(b.status == SVG_OK && b.len == 1000000 && ok, "1 MB appended 10 bytes at a time, intact");
	check(host_counts.calls <= 10 && b.cap < 2 * b.len, "capacity doubles: few resizes, at most half unused");
	svg_buffer_free(&b);
	check(host_counts.live == 0 && b.data == NULL && b.len == 0, "free returns the block");

	svg_buffer_init(&b, &host, 100);
	svg_buffer_append(&b, "0123456789", 10);
	for (int i = 0; i < 9; i++)
		svg_buffer_append(&b, "0123456789", 10);
	check(b.status == SVG_OK && b.len == 100, "exactly the limit fits");
	check(svg_buffer_append(&b, "x", 1) == SVG_TOO_LARGE && b.len == 100,
		  "past the limit: SVG_TOO_LARGE, nothing appended");
	check(svg_buffer_append(&b, "", 0) == SVG_TOO_LARGE, "the failure sticks");
	svg_buffer_free(&b);

	host_counts.calls = 0;
	host_counts.fail_at = 3;	/* two blocks, then none */
	svg_buffer_init(&b, &host, 0);
	for (int i = 0; i < 1000 && b.status == SVG_OK; i++)
		svg_buffer_append(&b, "0123456789", 10);
	check(b.status == SVG_NO_MEMORY && b.len == 8190 && b.cap == 8192,
		  "a failed resize: SVG_NO_MEMORY, the old block kept");
	host_counts.fail_at = 0;
	svg_buffer_free(&b);
	check(host_counts.live == 0, "no block leaked after a failed resize");

	/* nothing to a new buffer: no block, and no memcpy to its NULL data (UBSan) */
	svg_buffer_init(&b, &host, 0);
	check(svg_buffer_append(&b, "", 0) == SVG_OK && svg_buffer_puts(&b, "") == SVG_OK &&
		  svg_buffer_escaped(&b, "", 0) == SVG_OK && b.data == NULL && b.len == 0,
		  "empty appends to a new buffer: SVG_OK, nothing allocated");
	svg_buffer_free(&b);
}

/* ------------------------------------------------------------ documents */

static SvgStatus
render(const SvgPlot *plot, SvgBuffer *b)
{
	svg_buffer_init(b, &host, 0);
	return svg_plot_render(plot, b);
}

/* The value of attribute `name` of the first element starting with `tag`. */
static double
attr_of(const char *doc, const char *tag, const char *name)
{
	const char *p = strstr(doc, tag);
	char		key[32];

	if (p == NULL)
		return NAN;
	snprintf(key, sizeof key, " %s=\"", name);
	p = strstr(p, key);
	return p == NULL ? NAN : atof(p + strlen(key));
}

static void
test_documents(void)
{
	double		t[] = {56010.5, 56020, 56035.25, 56050};
	double		f[] = {12.5, -3.25, 40, 22};
	double		s[] = {1.5, 2, 3, 0.5};
	double		ct[] = {56010.5, 56030, 56050};
	double		cm[] = {10, 20, 15};
	double		cs[] = {2, 3, 2};
	SvgSeries	series[6];
	SvgPlot		plot = {0};
	SvgBuffer	b;
	const char *doc;
	const char *bands = "ugrizy";

	for (int k = 0; k < 6; k++)
	{
		static char names[6][2];

		names[k][0] = bands[k];
		series[k] = (SvgSeries) {names[k], svg_band_color(names[k]), 4, t, f, s, 0, NULL, NULL, NULL};
	}
	series[0].n = 0;			/* no u observations */
	series[2].m = 3;			/* a curve for r */
	series[2].curve_t = ct;
	series[2].curve_mean = cm;
	series[2].curve_sd = cs;
	plot.series = series;
	plot.nseries = 6;
	plot.title = "FAKE010 <b>&";

	check(render(&plot, &b) == SVG_OK, "a five-band plot renders");
	doc = str(&b);
	check(strncmp(doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 78) == 0 &&
		  strcmp(doc + strlen(doc) - 7, "</svg>\n") == 0, "an XML declaration, one <svg> root");
	check(strstr(doc, "#78A5A3") && strstr(doc, "#CE5A57") && strstr(doc, "#E1B16A") &&
		  strstr(doc, "#444C5C") && strstr(doc, "#5E9E3A") && !strstr(doc, "#8E6BBF"),
		  "the DSFP exercise's palette; no colour of a band without points");
	check(strcmp(svg_band_color("u"), "#8E6BBF") == 0 && svg_band_color("w") == NULL &&
		  svg_band_color("") == NULL, "band colours by name");
	check(count_of(doc, "<g data-series=") == 6 && count_of(doc, "class=\"legend\"") == 1 &&
		  count_of(doc, "fill=\"#333\">g</text>") == 1 && count_of(doc, ">u</text>") == 0,
		  "five point groups and one curve group; the legend lists the bands present");
	check(strstr(doc, ">FAKE010 &lt;b&gt;&amp;</text>") != NULL && strstr(doc, "<b>") == NULL,
		  "the title escaped");
	check(strstr(doc, ">MJD</text>") && strstr(doc, ">flux</text>") && strstr(doc, ">56020</text>") &&
		  strstr(doc, ">0</text>"), "axis labels and readable ticks");
	check(strstr(doc, "fill-opacity=\"0.2\"") && count_of(doc, "stroke-width=\"1.5\"") == 2,
		  "the curve: a shaded band and a mean line (and its legend line)");
	for (size_t i = 0; i < b.len; i++)
		if ((unsigned char) b.data[i] >= 0x80 || ((unsigned char) b.data[i] < 0x20 && b.data[i] != '\n'))
		{
			check(0, "pure ASCII output");
			break;
		}
	{
		double		x = attr_of(doc, "<rect class=\"plot-area\"", "x");
		double		w = attr_of(doc, "<rect class=\"plot-area\"", "width");

		check(x == 72 && w == 720 - 72 - 84, "the plot area rect: position and size");
	}
	svg_buffer_free(&b);

	/* degenerate: one point; all t equal; all flux equal with dflux 0; no data */
	{
		double		t1[] = {56000}, f1[] = {-5}, s1[] = {0.5};
		double		t3[] = {56000, 56000, 56000}, f3[] = {1, 2, 3}, s3[] = {0, 0, 0};
		double		f4[] = {7, 7, 7};
		SvgSeries	one = {"g", "#78A5A3", 1, t1, f1, s1, 0, NULL, NULL, NULL};
		SvgPlot		p = {0};

		p.series = &one;
		p.nseries = 1;
		check(render(&p, &b) == SVG_OK && strstr(str(&b), ">56000.0</text>") &&
			  strstr(str(&b), ">-5.0</text>"), "one point: padded axes, ticks at its values");
		svg_buffer_free(&b);
		one = (SvgSeries) {"g", "#78A5A3", 3, t3, f3, s3, 0, NULL, NULL, NULL};
		check(render(&p, &b) == SVG_OK, "all times equal, dflux 0");
		svg_buffer_free(&b);
		one.t = t1[0] == 0 ? NULL : t;
		one.flux = f4;
		check(render(&p, &b) == SVG_OK && strstr(str(&b), ">7.0</text>"), "all fluxes equal");
		svg_buffer_free(&b);
		p.nseries = 0;
		check(render(&p, &b) == SVG_OK && strstr(str(&b), ">0.0</text>") &&
			  strstr(str(&b), ">1.0</text>") && !strstr(str(&b), "data-series"),
			  "no data: empty axes over [0, 1]");
		svg_buffer_free(&b);
	}

	/* invalid input */
	{
		double		bad_t[] = {56000, NAN}, ok_f[] = {1, 2}, ok_s[] = {1, 1}, neg_s[] = {1, -1};
		double		huge_f[] = {1.7e308, 1}, huge_s[] = {1.7e308, 1};
		SvgSeries	one = {"g", "#78A5A3", 2, bad_t, ok_f, ok_s, 0, NULL, NULL, NULL};
		SvgPlot		p = {0};

		p.series = &one;
		p.nseries = 1;
		check(render(&p, &b) == SVG_INVALID_INPUT && b.len == 0, "NaN time: invalid, nothing written");
		svg_buffer_free(&b);
		one.t = t;
		one.dflux = neg_s;
		check(render(&p, &b) == SVG_INVALID_INPUT, "negative dflux: invalid");
		svg_buffer_free(&b);
		one.dflux = ok_s;
		one.color = "red\"/><script>";
		check(render(&p, &b) == SVG_INVALID_INPUT, "a colour that is not #rrggbb: invalid");
		svg_buffer_free(&b);
		one.color = "#78A5A3";
		one.flux = huge_f;
		one.dflux = huge_s;
		check(render(&p, &b) == SVG_OUT_OF_RANGE, "error bars beyond double: out of range");
		svg_buffer_free(&b);
		one.flux = ok_f;
		one.dflux = ok_s;
		p.width = 50;
		check(render(&p, &b) == SVG_INVALID_INPUT, "a width below the minimum: invalid");
		svg_buffer_free(&b);
		p.width = 0;
		host_counts.calls = 0;
		host_counts.fail_at = 1;
		svg_buffer_init(&b, &host, 0);
		check(svg_plot_render(&p, &b) == SVG_NO_MEMORY, "no memory: SVG_NO_MEMORY");
		host_counts.fail_at = 0;
		svg_buffer_free(&b);
		svg_buffer_init(&b, &host, 1000);
		check(svg_plot_render(&p, &b) == SVG_TOO_LARGE && b.len <= 1000, "a limit: SVG_TOO_LARGE");
		svg_buffer_free(&b);
		check(host_counts.live == 0, "no block leaked by failed renderings");
	}
}

static void
test_large(void)
{
	size_t		n = 100000;
	double	   *t = malloc(n * sizeof(double));
	double	   *f = malloc(n * sizeof(double));
	double	   *s = malloc(n * sizeof(double));
	SvgSeries	one = {"r", "#CE5A57", n, t, f, s, 0, NULL, NULL, NULL};
	SvgPlot		p = {0};
	SvgBuffer	b;
	size_t		same_size,
				spread_size;

	p.series = &one;
	p.nseries = 1;
	for (size_t i = 0; i < n; i++)
	{
		t[i] = 56000;
		f[i] = 10;
		s[i] = 1;
	}
	host_counts.polls = 0;
	check(render(&p, &b) == SVG_OK, "10^5 identical points render");
	same_size = b.len;
	/* one marker, and the legend's */
	check(count_of(str(&b), "h0\"") == 2 && count_of(str(&b), "v-") == 1 && same_size < 5000,
		  "identical points: one marker, one bar (duplicates cover the same pixels)");
	check(host_counts.polls >= 2, "the host is polled in long passes");
	svg_buffer_free(&b);
	host_counts.polls = 0;
	host_counts.stop_at = 2;
	check(render(&p, &b) == SVG_INTERRUPTED && host_counts.polls == 2,
		  "the host's stop ends the rendering: SVG_INTERRUPTED");
	host_counts.stop_at = 0;
	svg_buffer_free(&b);
	check(host_counts.live == 0, "no block leaked by an interrupted rendering");

	/* a dense, noisy curve: the output is bounded by the pixels, not by n */
	srand(7);
	for (size_t i = 0; i < n; i++)
	{
		t[i] = 56000 + 1000.0 * i / n;
		f[i] = 100 * sin(t[i] / 50.0) + 10.0 * (rand() / (double) RAND_MAX - 0.5);
		s[i] = 5;
	}
	check(render(&p, &b) == SVG_OK, "10^5 dense noisy points render");
	spread_size = b.len;
	printf("# 10^5 points: %zu bytes (identical points: %zu bytes)\n", spread_size, same_size);
	check(spread_size < 40 * n, "10^5 points: under 40 bytes a point");
	svg_buffer_free(&b);
	free(t);
	free(f);
	free(s);
}

int
main(void)
{
	test_ticks();
	test_ranges();
	test_escaping();
	test_buffer();
	test_documents();
	test_large();
	return tap_done();
}
