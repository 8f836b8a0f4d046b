/*
 * antares_alertgen.c
 *		Rubin-format alert packets from photometric points, for tests,
 *		benchmarks and stream consumers (src/alert_encode.h).
 *
 *	 antares_alertgen [--history N] [--forced] [--time-order] [--cutout BYTES]
 *					  [--framing container|confluent|bare] [--per-file K]
 *					  [--deflate] [--schema-id ID] [--schema-out FILE]
 *					  -o DIR|FILE [CSV_FILE]
 *
 * Input: CSV lines objid,t,pb,flux,dflux (COPY (...) TO STDOUT WITH CSV,
 * with or without its HEADER line), from a file or stdin.  Per object, in
 * time order (ties in input order), every point becomes one alert whose
 * diaSource is that point and whose prvDiaSources are the object's up to N
 * previous points: histories overlap, and all alerts' points de-duplicated
 * on (object, source id, kind) are exactly the input.  Written object by
 * object, or with --time-order all objects' alerts by time (then object), as
 * a survey's stream interleaves them.
 *
 * Ids, stable for the same input: the k-th point (k = 1, 2, ... in time
 * order) of object objid has diaSourceId objid * 100000 + k, so 0 <= objid
 * < 10^13 and k <= 99999; with --forced, each point is also a
 * prvDiaForcedSource of the next N alerts, diaForcedSourceId 10^18 +
 * diaSourceId.  diaObjectId = objid; an alert's id (its diaSourceId) is its
 * diaSource's.  Positions are made up per object (the golden-ratio
 * sequence over the sphere), the same for all its points.
 *
 * Exit status: 0, 1 for an I/O or memory failure, 2 for bad options or
 * bad input (a bad CSV line is named by number, with why).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alert_encode.h"
#include "cli.h"
#include "kernel_host_heap.h"

#define PROGNAME "antares_alertgen"

const char progname[] = PROGNAME;
#define MAX_POINTS_PER_OBJECT 99999
#define MAX_OBJID INT64_C(10000000000000)	/* 10^13 */
#define FORCED_ID_BASE INT64_C(1000000000000000000)	/* 10^18 */

typedef struct Options
{
	int			history;
	int			forced;
	int			time_order;		/* alerts of all objects in time order, not object by object */
	long		cutout;			/* bytes; -1: none */
	AlertFraming framing;
	long		per_file;
	int			deflate;
	int32_t		schema_id;
	const char *schema_out;
	const char *output;
	const char *input;
} Options;

static Options opt = {20, 0, 0, -1, ALERT_CONTAINER, 1, 0, 1, NULL, NULL, NULL};

typedef struct Point
{
	int64_t		objid;
	double		t;
	char		pb;
	double		flux;
	double		dflux;
	size_t		line;			/* input order, for ties */
} Point;

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: " PROGNAME " [OPTION]... -o DIR|FILE [CSV_FILE]\n"
			"Writes Rubin-format (lsst.v11_0) Avro alert packets from photometric points,\n"
			"CSV lines objid,t,pb,flux,dflux (COPY ... TO STDOUT WITH CSV) read from\n"
			"CSV_FILE or stdin: one alert per point, its object's previous points as\n"
			"history.  diaSourceId = objid * 100000 + k for the object's k-th point in\n"
			"time order; diaObjectId = objid; the alert's id is its diaSourceId.\n"
			"\n"
			"      --history=N         up to N previous points as prvDiaSources (default: 20)\n"
			"      --forced            the same previous points also as prvDiaForcedSources\n"
			"                          (diaForcedSourceId = 10^18 + diaSourceId)\n"
			"      --time-order        the alerts of all objects in time order, as a survey\n"
			"                          sends them (default: object by object)\n"
			"      --cutout=BYTES      three cutouts of BYTES bytes each (default: none)\n"
			"      --framing=FRAMING   container (default): Avro object-container files;\n"
			"                          confluent: 0 byte, 4-byte schema id, datum;\n"
			"                          bare: the datum alone\n"
			"      --per-file=K        container: K alerts per file (default: 1)\n"
			"      --deflate           container: deflate codec (default: null)\n"
			"      --schema-id=ID      confluent: the schema id (default: 1)\n"
			"      --schema-out=FILE   write the writer schema (JSON) to FILE\n"
			"  -o, --output=DIR|FILE   container: directory of files DIR/<alertid>.avro, or\n"
			"                          DIR/NNNNNN.avro when K > 1; confluent, bare: FILE\n"
			"                          (- for stdout), a stream of messages each preceded\n"
			"                          by its length (4 bytes, big-endian)\n"
			"  -h, --help              show this help and exit\n"
			"\n"
			"Exit status: 0; 1 I/O or memory failure; 2 bad options or input.\n");
}

/* ------------------------------------------------------------------ options */

static long
number_arg(const char *name, const char *arg, long min, long max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		bad_usage("invalid --%s \"%s\" (%ld to %ld)", name, arg, min, max);
	return v;
}

static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"history", required_argument, NULL, 'H'},
		{"forced", no_argument, NULL, 'F'},
		{"time-order", no_argument, NULL, 'T'},
		{"cutout", required_argument, NULL, 'c'},
		{"framing", required_argument, NULL, 'f'},
		{"per-file", required_argument, NULL, 'k'},
		{"deflate", no_argument, NULL, 'z'},
		{"schema-id", required_argument, NULL, 'i'},
		{"schema-out", required_argument, NULL, 's'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c,
				schema_id_set = 0;

	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'H':
				opt.history = (int) number_arg("history", optarg, 0, MAX_POINTS_PER_OBJECT);
				break;
			case 'F':
				opt.forced = 1;
				break;
			case 'T':
				opt.time_order = 1;
				break;
			case 'c':
				opt.cutout = number_arg("cutout", optarg, 0, 64L << 20);
				break;
			case 'f':
				if (strcmp(optarg, "container") == 0)
					opt.framing = ALERT_CONTAINER;
				else if (strcmp(optarg, "confluent") == 0)
					opt.framing = ALERT_CONFLUENT;
				else if (strcmp(optarg, "bare") == 0)
					opt.framing = ALERT_BARE;
				else
					bad_usage("invalid --framing \"%s\" (container, confluent or bare)", optarg);
				break;
			case 'k':
				opt.per_file = number_arg("per-file", optarg, 1, 100000000);
				break;
			case 'z':
				opt.deflate = 1;
				break;
			case 'i':
				opt.schema_id = (int32_t) number_arg("schema-id", optarg, 0, INT32_MAX);
				schema_id_set = 1;
				break;
			case 's':
				opt.schema_out = optarg;
				break;
			case 'o':
				opt.output = optarg;
				break;
			case 'h':
				usage(stdout);
				exit(0);
			default:
				fprintf(stderr, "Try \"" PROGNAME " --help\".\n");
				exit(2);
		}
	}
	if (optind < argc)
		opt.input = argv[optind++];
	if (optind < argc)
		bad_usage("more than one input file (\"%s\")", argv[optind]);
	if (opt.output == NULL && opt.schema_out == NULL)
		bad_usage("no output (-o DIR|FILE) given");
	if (opt.framing != ALERT_CONTAINER && (opt.per_file != 1 || opt.deflate))
		bad_usage("--per-file and --deflate are for --framing=container");
	if (opt.framing != ALERT_CONFLUENT && schema_id_set)
		bad_usage("--schema-id is for --framing=confluent");
}

/* --------------------------------------------------------------------- input */

/*
 * The next comma-separated field of line at *p, its surrounding double
 * quotes (CSV quoting) removed; NULL when the line has no more fields.
 */
static char *
next_field(char **p)
{
	char	   *f = *p,
			   *end;

	if (f == NULL)
		return NULL;
	end = strchr(f, ',');
	*p = end ? end + 1 : NULL;
	if (end)
		*end = '\0';
	if (f[0] == '"' && strlen(f) >= 2 && f[strlen(f) - 1] == '"')
	{
		f[strlen(f) - 1] = '\0';
		f++;
	}
	return f;
}

static void
bad_line(size_t line, const char *fmt,...)
			__attribute__((format(printf, 2, 3), noreturn));

static void
bad_line(size_t line, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, PROGNAME ": %s, line %zu: ", opt.input ? opt.input : "stdin", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static double
parse_double(const char *name, const char *s, size_t line)
{
	char	   *end;
	double		v;

	if (*s == '\0')
		bad_line(line, "%s is empty (NULL)", name);
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v))
		bad_line(line, "%s \"%s\" is not a finite number", name, s);
	return v;
}

/* One CSV line into *pt; exits with status 2 naming the line and why. */
static void
parse_line(char *text, size_t line, Point *pt)
{
	char	   *p = text,
			   *f[5],
			   *end;
	static const char *const names[] = {"objid", "t", "pb", "flux", "dflux"};

	for (int i = 0; i < 5; i++)
		if ((f[i] = next_field(&p)) == NULL)
			bad_line(line, "%d fields, expected 5 (objid,t,pb,flux,dflux)", i);
	if (p != NULL)
		bad_line(line, "more than 5 fields, expected objid,t,pb,flux,dflux");
	if (*f[0] == '\0')
		bad_line(line, "objid is empty (NULL)");
	errno = 0;
	pt->objid = strtoll(f[0], &end, 10);
	if (errno || *end != '\0' || pt->objid < 0 || pt->objid >= MAX_OBJID)
		bad_line(line, "objid \"%s\" is not an integer from 0 to 10^13 - 1", f[0]);
	pt->t = parse_double(names[1], f[1], line);
	if (strlen(f[2]) != 1 || strchr("ugrizy", f[2][0]) == NULL)
		bad_line(line, "pb \"%s\" is not one of u g r i z y", f[2]);
	pt->pb = f[2][0];
	pt->flux = parse_double(names[3], f[3], line);
	pt->dflux = parse_double(names[4], f[4], line);
	if (fabs(pt->flux) > FLT_MAX)
		bad_line(line, "flux \"%s\" is beyond float32's range", f[3]);
	if (pt->dflux < 0 || pt->dflux > FLT_MAX)
		bad_line(line, "dflux \"%s\" is negative or beyond float32's range", f[4]);
	pt->line = line;
}

/* Every point of the input, in input order. */
static Point *
read_points(size_t *npoints)
{
	FILE	   *in = opt.input && strcmp(opt.input, "-") != 0 ? fopen(opt.input, "r") : stdin;
	char	   *text = NULL;
	size_t		cap = 0,
				n = 0,
				size = 1024,
				line = 0;
	ssize_t		len;
	Point	   *points = xmalloc(size * sizeof(Point));

	if (in == NULL)
		die(1, "could not open \"%s\": %s", opt.input, strerror(errno));
	while ((len = getline(&text, &cap, in)) != -1)
	{
		line++;
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			text[--len] = '\0';
		if (len == 0 || (line == 1 && strcmp(text, "objid,t,pb,flux,dflux") == 0))
			continue;
		if (n == size)
		{
			size *= 2;
			points = xrealloc(points, size * sizeof(Point));
		}
		parse_line(text, line, &points[n++]);
	}
	if (ferror(in))
		die(1, "could not read \"%s\": %s", opt.input ? opt.input : "stdin", strerror(errno));
	if (in != stdin)
		fclose(in);
	free(text);
	*npoints = n;
	return points;
}

static int
point_order(const void *a, const void *b)
{
	const Point *x = a,
			   *y = b;

	if (x->objid != y->objid)
		return x->objid < y->objid ? -1 : 1;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* -------------------------------------------------------------------- output */

typedef struct Writer
{
	AlertEncoder *encoder;
	FILE	   *stream;			/* confluent, bare */
	size_t		in_file;		/* container: alerts in the open file */
	size_t		files;
	size_t		alerts;
	uint64_t	bytes;
	int64_t		first_id;		/* container, K = 1: the file's name */
} Writer;

static void
write_all(FILE *f, const void *p, size_t n, const char *path)
{
	if (n > 0 && fwrite(p, 1, n, f) != n)
		die(1, "could not write \"%s\": %s", path, strerror(errno));
}

/* Ends the open container file: DIR/<alertid>.avro or DIR/NNNNNN.avro. */
static void
close_file(Writer *w)
{
	const uint8_t *out;
	size_t		len;
	AlertEncodeError err;
	char		path[4096];
	FILE	   *f;

	if (w->in_file == 0)
		return;
	if (alert_encoder_take(w->encoder, &out, &len, &err) != ALERT_ENCODE_OK)
		die(1, "%s", err.message);
	w->files++;
	if (opt.per_file == 1)
		snprintf(path, sizeof(path), "%s/%lld.avro", opt.output, (long long) w->first_id);
	else
		snprintf(path, sizeof(path), "%s/%06zu.avro", opt.output, w->files);
	if ((f = fopen(path, "wb")) == NULL)
		die(1, "could not create \"%s\": %s", path, strerror(errno));
	write_all(f, out, len, path);
	if (fclose(f) != 0)
		die(1, "could not write \"%s\": %s", path, strerror(errno));
	w->bytes += len;
	w->in_file = 0;
}

static void
write_alert(Writer *w, const AlertPacket *p)
{
	AlertEncodeError err;
	const uint8_t *out;
	size_t		len;

	if (alert_encode(w->encoder, p, &err) != ALERT_ENCODE_OK)
		die(err.status == ALERT_ENCODE_BAD_INPUT ? 2 : 1, "alert %lld: %s",
			(long long) p->source->id, err.message);
	w->alerts++;
	if (opt.framing == ALERT_CONTAINER)
	{
		if (w->in_file++ == 0)
			w->first_id = p->source->id;
		if (w->in_file == (size_t) opt.per_file)
			close_file(w);
		return;
	}
	if (alert_encoder_take(w->encoder, &out, &len, &err) != ALERT_ENCODE_OK)
		die(1, "%s", err.message);
	{
		uint8_t		head[4] = {(uint8_t) (len >> 24), (uint8_t) (len >> 16), (uint8_t) (len >> 8),
		(uint8_t) len};

		write_all(w->stream, head, 4, opt.output);
		write_all(w->stream, out, len, opt.output);
	}
	w->bytes += 4 + len;
}

/* Made-up position of an object: the golden-ratio sequence, uniform on the sphere. */
static void
object_position(int64_t objid, double *ra, double *dec)
{
	double		u = fmod((double) (objid % 1000000007) * 0.6180339887498949, 1.0),
				v = fmod((double) (objid % 1000000007) * 0.7548776662466927, 1.0);

	*ra = 360.0 * u;
	*dec = asin(2.0 * v - 1.0) * (180.0 / 3.14159265358979323846);
}

/*
 * The sources of the points sorted by object and time, pts[0 .. n): the
 * k-th of an object gets id objid * 100000 + k; rank[i] is k - 1.
 */
static void
make_sources(const Point *pts, size_t n, AlertSource *src, AlertSource *forced, size_t *rank)
{
	double		ra = 0,
				dec = 0;

	for (size_t i = 0; i < n; i++)
	{
		rank[i] = i > 0 && pts[i - 1].objid == pts[i].objid ? rank[i - 1] + 1 : 0;
		if (rank[i] == 0)
			object_position(pts[i].objid, &ra, &dec);
		src[i] = (AlertSource) {
			pts[i].objid * 100000 + (int64_t) (rank[i] + 1), pts[i].t, pts[i].pb, pts[i].flux,
			pts[i].dflux, ra, dec
		};
		forced[i] = src[i];
		forced[i].id += FORCED_ID_BASE;
	}
}

/* The alert of point i: its source, and its object's up to --history previous ones. */
static void
write_point(Writer *w, const Point *pts, size_t i, const AlertSource *src, const AlertSource *forced,
			const size_t *rank, const uint8_t *cutout)
{
	size_t		nprv = rank[i] < (size_t) opt.history ? rank[i] : (size_t) opt.history;
	AlertPacket p = {
		.object_id = pts[i].objid, .source = &src[i], .history = &src[i - nprv], .nhistory = nprv,
		.forced = opt.forced ? &forced[i - nprv] : NULL, .nforced = opt.forced ? nprv : 0,
		.cutout = cutout, .cutout_len = cutout ? (size_t) opt.cutout : 0
	};

	write_alert(w, &p);
}

/* --time-order: indexes of the sorted points by time, then object, then rank. */
static const Point *time_order_points;

static int
time_order_cmp(const void *a, const void *b)
{
	const Point *x = &time_order_points[*(const size_t *) a],
			   *y = &time_order_points[*(const size_t *) b];

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->objid != y->objid)
		return x->objid < y->objid ? -1 : 1;
	return *(const size_t *) a < *(const size_t *) b ? -1 : 1;
}

/* Sorted points' objects: their number; exits when one has more than the ids allow. */
static size_t
count_objects(const Point *pts, size_t n)
{
	size_t		objects = 0;

	for (size_t i = 0, j; i < n; i = j, objects++)
	{
		for (j = i + 1; j < n && pts[j].objid == pts[i].objid; j++)
			;
		if (j - i > MAX_POINTS_PER_OBJECT)
			die(2, "object %lld has %zu points, more than %d", (long long) pts[i].objid, j - i,
				MAX_POINTS_PER_OBJECT);
	}
	return objects;
}

/* Cutout bytes: a gzip magic, then a fixed pseudo-random (incompressible) sequence. */
static uint8_t *
make_cutout(size_t n)
{
	uint8_t    *c = xmalloc(n);
	uint64_t	x = 88172645463325252ULL;

	for (size_t i = 0; i < n; i++)
	{
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		c[i] = (uint8_t) x;
	}
	if (n >= 2)
		c[0] = 0x1f, c[1] = 0x8b;
	return c;
}

static void
write_schema(const char *path)
{
	size_t		n = alert_encode_schema(NULL, 0);
	char	   *text = xmalloc(n + 2);
	FILE	   *f = fopen(path, "w");

	alert_encode_schema(text, n + 1);
	text[n] = '\n';
	if (f == NULL)
		die(1, "could not create \"%s\": %s", path, strerror(errno));
	write_all(f, text, n + 1, path);
	if (fclose(f) != 0)
		die(1, "could not write \"%s\": %s", path, strerror(errno));
	free(text);
}

static void
open_output(Writer *w)
{
	AlertEncodeOptions o = {opt.framing, opt.schema_id, opt.deflate};
	AlertEncodeError err;

	if (alert_encoder_new(&kernel_heap_host, &o, &w->encoder, &err) != ALERT_ENCODE_OK)
		die(1, "%s", err.message);
	if (opt.framing == ALERT_CONTAINER)
	{
		if (strcmp(opt.output, "-") == 0)
			bad_usage("--framing=container writes files into a directory, not stdout");
		if (mkdir(opt.output, 0777) != 0 && errno != EEXIST)
			die(1, "could not create directory \"%s\": %s", opt.output, strerror(errno));
	}
	else if (strcmp(opt.output, "-") == 0)
		w->stream = stdout;
	else if ((w->stream = fopen(opt.output, "wb")) == NULL)
		die(1, "could not create \"%s\": %s", opt.output, strerror(errno));
}

int
main(int argc, char **argv)
{
	Writer		w = {0};
	Point	   *pts;
	AlertSource *src,
			   *forced;
	uint8_t    *cutout = NULL;
	size_t		n,
				objects,
			   *rank,
			   *order;
	struct timespec t0,
				t1;

	parse_options(argc, argv);
	if (opt.schema_out)
		write_schema(opt.schema_out);
	if (opt.output == NULL)
		return 0;
	pts = read_points(&n);
	qsort(pts, n, sizeof(Point), point_order);
	objects = count_objects(pts, n);
	src = xmalloc(n * sizeof(AlertSource));
	forced = xmalloc(n * sizeof(AlertSource));
	rank = xmalloc(n * sizeof(size_t));
	order = xmalloc(n * sizeof(size_t));
	make_sources(pts, n, src, forced, rank);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	if (opt.time_order)
	{
		time_order_points = pts;
		qsort(order, n, sizeof(size_t), time_order_cmp);
	}
	if (opt.cutout >= 0)
		cutout = make_cutout((size_t) opt.cutout);
	open_output(&w);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < n; i++)
		write_point(&w, pts, order[i], src, forced, rank, cutout);
	if (opt.framing == ALERT_CONTAINER)
		close_file(&w);
	else if (w.stream != stdout && fclose(w.stream) != 0)
		die(1, "could not write \"%s\": %s", opt.output, strerror(errno));
	else if (w.stream == stdout && fflush(stdout) != 0)
		die(1, "could not write to stdout: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	{
		double		s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);

		fprintf(stderr, PROGNAME ": %zu alerts of %zu objects, %.1f MB in %zu %s, %.2f s, %.0f alerts/s\n",
				w.alerts, objects, w.bytes / 1e6, opt.framing == ALERT_CONTAINER ? w.files : 1,
				opt.framing == ALERT_CONTAINER ? "files" : "stream", s, s > 0 ? w.alerts / s : 0);
	}
	alert_encoder_free(w.encoder);
	free(cutout);
	free(order);
	free(rank);
	free(forced);
	free(src);
	free(pts);
	return 0;
}
