/*
 * antares_load.c
 *		Bulk loader of light-curve files and survey alert packets into a table.
 *
 *	 antares_load [-j JOBS] [-t TABLE] [--create] [--objid header:KEY]
 *				  [-d CONNSTR] [-q] FILE_OR_DIR...
 *
 * Light-curve files (*.dat) go into (objid bigint, t float8, pb text, flux
 * float8, dflux float8).  Every file (every *.dat file of a directory) is
 * parsed with the kernel the SQL functions use, so a bad file gets the same
 * message as antares.read_lightcurve(), and streamed with COPY FROM STDIN in
 * text format over JOBS connections, one thread each, files balanced by size.
 * All or nothing: each connection loads in its own transaction and none
 * commits until every one has sent all its files without error; then they
 * commit one after the other.  Only a failure between those COMMITs (a
 * crash, a lost connection) could leave part of a load behind.
 *
 * Alert packets (*.avro object-container files, and tar archives of them:
 * *.tar.gz, *.tgz, *.tar, read with libarchive) go into (objid bigint, t
 * float8, pb text, flux float8, dflux float8, kind text, source_id bigint,
 * alert_id bigint, ra float8, dec float8), PRIMARY KEY (objid, kind,
 * source_id), decoded by the alert kernel (src/alert_decode.c).  Every alert
 * repeats its object's history, so a point arrives many times: as its own
 * alert's detection, then as history in later alerts; both are stored as kind
 * 'detection' and the key keeps one.  The main thread reads the inputs (an
 * archive member by member) into a bounded queue; JOBS threads, each with its
 * own connection, decode packets from it and COPY the points into one
 * UNLOGGED staging table made for this load, and commit there; each skips
 * the points it has sent already (see SentKeys in alert_copy.c), so that a 20-source Rubin
 * alert sends 1 point, not 21.  When all succeeded, one transaction inserts
 * the staging table's distinct points into the target, skipping those it
 * holds already (ON CONFLICT DO NOTHING), and drops the staging table: the
 * target changes all at once or not at all.  On a failure or an interruption the staging table is dropped; only
 * a loader killed otherwise, or cut off from the server, leaves it behind.
 *
 * Cost (2,000 copies of the two ZTF packets, 74 and 67 kB, in one archive,
 * into a local server; the shared 2-core development machine, so ranges):
 * a .tar 2,600-4,200 alerts/s, a .tar.gz 1,300-2,500 alerts/s, -j 2 no
 * faster than -j 1: the loader's CPU is 0.16-0.22 ms per alert from a .tar,
 * twice that from a .tar.gz, whose inflate (one stream, read by one thread;
 * the packets' gzipped cutouts do not compress again) bounds the rate.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "alert_copy.h"
#include "alert_decode.h"
#include "kernel_host_heap.h"
#include "libpq-fe.h"
#include "lc_parse.h"

#define PROGNAME "antares_load"

const char progname[] = PROGNAME;

typedef enum InputKind
{
	INPUT_LIGHTCURVE,			/* a light-curve file (*.dat, or any other name) */
	INPUT_AVRO,					/* an Avro object-container file of alerts */
	INPUT_ARCHIVE				/* a tar archive of such files */
} InputKind;

typedef struct InputFile
{
	char	   *path;
	long long	size;
	InputKind	kind;
} InputFile;

/* What one file's parse keeps: rows point into the file's bytes. */
typedef struct Parsed
{
	LcRow	   *rows;
	size_t		nrows;
	size_t		cap;
	const char *objid_key;		/* NULL: objid from the file name */
	LcField		objid_value;
	long		objid_lineno;	/* 0 until the key is seen */
} Parsed;

typedef struct Worker
{
	PGconn	   *conn;
	InputFile **files;
	size_t		nfiles;
	long long	bytes;			/* sum of the sizes of files */
	long long	rows;			/* rows sent (light curves), points sent (alerts) */
	long long	alerts;
	long long	skipped;		/* entries the alert decoder skipped */
	char	   *error;			/* own failure, malloc'd; NULL if none */
	int			cancelled;		/* stopped because another worker failed */
	pthread_t	thread;
} Worker;

typedef struct Options
{
	const char *conninfo;
	const char *table;
	int			jobs;
	int			create;
	const char *objid_key;
	int			quiet;
	size_t		dedup_keys;		/* an alert worker's sent keys: see SentKeys */
} Options;

static Options opt = {NULL, NULL, 1, 0, NULL, 0, 0};
static char *table_sql;			/* opt.table, quoted for SQL */

/* What the workers COPY into: the target, or the alerts' staging table. */
static char *copy_sql;			/* COPY ... FROM STDIN */
static const char *copy_target; /* its name in messages */
static int	loading_alerts;

/* Set by the first worker that fails, so the others stop early. */
static atomic_int load_failed;

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: " PROGNAME " [OPTION]... FILE_OR_DIR...\n"
			"Loads light-curve files or survey alert packets into a table, all or nothing.\n"
			"\n"
			"Light-curve files (*.dat, and any file not named as below) go into a table\n"
			"(objid bigint, t float8, pb text, flux float8, dflux float8).\n"
			"Alert packets (ZTF and Rubin Avro): object-container files *.avro and tar\n"
			"archives of them (*.tar.gz, *.tgz, *.tar) go into a table (objid bigint,\n"
			"t float8, pb text, flux float8, dflux float8, kind text, source_id bigint,\n"
			"alert_id bigint, ra float8, dec float8) with PRIMARY KEY (objid, kind,\n"
			"source_id): t in MJD, flux and dflux in nJy, kind 'detection', 'forced' or\n"
			"'upper_limit'; a point already in the table, or repeated in the load (every\n"
			"alert repeats its object's history), is stored once.  A directory gives its\n"
			"*.dat, or its *.avro, *.tar.gz, *.tgz and *.tar files; one load takes\n"
			"light-curve files or alerts, not both.\n"
			"Alerts are first copied into an UNLOGGED table antares_load_DATE_TIME_PID in\n"
			"the target's schema, dropped at the end of the load, failed, interrupted\n"
			"(SIGINT, SIGTERM, SIGHUP) or not; only a loader killed otherwise, or cut\n"
			"off from the server, leaves it behind: drop it with DROP TABLE.\n"
			"\n"
			"  -d, --dbname=CONNSTR    database name or connection string (default: libpq\n"
			"                          environment, PGHOST, PGDATABASE, ...)\n"
			"  -t, --table=[SCHEMA.]TABLE  target table (default: rawphot for light\n"
			"                          curves, alertphot for alerts)\n"
			"      --create            create the table if it does not exist (for alerts,\n"
			"                          with its primary key)\n"
			"  -j, --jobs=JOBS         load over JOBS connections at once (default: 1)\n"
			"      --objid=SOURCE      \"filename\": the last run of digits in the file's\n"
			"                          name (default); \"header:KEY\": the integer value of\n"
			"                          the file's \"#KEY:value\" header line\n"
			"  -q, --quiet             do not print the summary line\n"
			"  -h, --help              show this help and exit\n"
			"\n"
			"Each job skips the alert points it has sent already, remembering up to\n"
			"ANTARES_LOAD_DEDUP_KEYS of them (default: 3000000, about 128 MB a job at\n"
			"most; 0: none), then forgetting them all and going on.\n");
}

/* ---------------------------------------------------------------------------
 * Input files
 * ------------------------------------------------------------------------- */

static int
has_suffix(const char *name, const char *suffix)
{
	size_t		n = strlen(name);
	size_t		k = strlen(suffix);

	return n > k && strcmp(name + n - k, suffix) == 0;
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static InputKind
input_kind(const char *name)
{
	if (has_suffix(name, ".avro"))
		return INPUT_AVRO;
	if (has_suffix(name, ".tar.gz") || has_suffix(name, ".tgz") || has_suffix(name, ".tar"))
		return INPUT_ARCHIVE;
	return INPUT_LIGHTCURVE;
}

static void
add_file(InputFile **files, size_t *n, size_t *cap, const char *path,
		 long long size)
{
	if (*n == *cap)
	{
		*cap = *cap ? 2 * *cap : 256;
		*files = xrealloc(*files, *cap * sizeof(InputFile));
	}
	(*files)[*n].path = xstrdup(path);
	(*files)[*n].size = size;
	(*files)[*n].kind = input_kind(path);
	(*n)++;
}

/* Adds the *.dat and alert files of dir (see input_kind), in name order; 0 on success. */
static int
add_directory(InputFile **files, size_t *n, size_t *cap, const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	char	  **names = NULL;
	size_t		nnames = 0;
	size_t		i;

	if (d == NULL)
	{
		fprintf(stderr, PROGNAME ": could not open directory \"%s\": %s\n",
				dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL)
	{
		if (!has_suffix(de->d_name, ".dat") && input_kind(de->d_name) == INPUT_LIGHTCURVE)
			continue;
		names = xrealloc(names, (nnames + 1) * sizeof(char *));
		names[nnames++] = xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	qsort(names, nnames, sizeof(char *), compare_strings);

	for (i = 0; i < nnames; i++)
	{
		struct stat st;

		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			add_file(files, n, cap, names[i], (long long) st.st_size);
		free(names[i]);
	}
	free(names);
	return 0;
}

static int
collect_files(char **args, int nargs, InputFile **files, size_t *n)
{
	size_t		cap = 0;
	int			i;

	*files = NULL;
	*n = 0;
	for (i = 0; i < nargs; i++)
	{
		struct stat st;

		if (stat(args[i], &st) != 0)
		{
			fprintf(stderr, PROGNAME ": could not stat \"%s\": %s\n",
					args[i], strerror(errno));
			return -1;
		}
		if (S_ISDIR(st.st_mode))
		{
			if (add_directory(files, n, &cap, args[i]) != 0)
				return -1;
		}
		else
			add_file(files, n, &cap, args[i], (long long) st.st_size);
	}
	return 0;
}

static int
compare_by_size_desc(const void *a, const void *b)
{
	const InputFile *x = *(const InputFile *const *) a;
	const InputFile *y = *(const InputFile *const *) b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Largest file first to the least-loaded worker: near-equal byte totals. */
static void
assign_files(InputFile *files, size_t nfiles, Worker *workers, int jobs)
{
	InputFile **order = xmalloc(nfiles * sizeof(InputFile *));
	size_t		i;
	int			j;

	for (i = 0; i < nfiles; i++)
		order[i] = &files[i];
	qsort(order, nfiles, sizeof(InputFile *), compare_by_size_desc);

	for (j = 0; j < jobs; j++)
		workers[j].files = xmalloc(nfiles * sizeof(InputFile *));
	for (i = 0; i < nfiles; i++)
	{
		Worker	   *least = &workers[0];

		for (j = 1; j < jobs; j++)
			if (workers[j].bytes < least->bytes)
				least = &workers[j];
		least->files[least->nfiles++] = order[i];
		least->bytes += order[i]->size;
	}
	free(order);
}

/* ---------------------------------------------------------------------------
 * One file: read, parse, format as COPY text
 * ------------------------------------------------------------------------- */

static int
read_file(const char *path, Buffer *b, char **error)
{
	FILE	   *f = fopen(path, "rb");
	char		chunk[65536];
	size_t		n;

	b->len = 0;
	if (f == NULL)
	{
		*error = xasprintf("could not open file \"%s\" for reading: %s",
						   path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(b, chunk, n);
	if (ferror(f))
	{
		*error = xasprintf("could not read file \"%s\": %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static int
keep_header(void *arg, long lineno, LcField key, LcField value)
{
	Parsed	   *p = arg;

	/* the last one wins, as in antares.lightcurve_header() */
	if (p->objid_key != NULL && key.len == strlen(p->objid_key) &&
		memcmp(key.ptr, p->objid_key, key.len) == 0)
	{
		p->objid_value = value;
		p->objid_lineno = lineno;
	}
	return 0;
}

static int
keep_row(void *arg, const LcRow *row)
{
	Parsed	   *p = arg;

	if (p->nrows == p->cap)
	{
		p->cap = p->cap ? 2 * p->cap : 512;
		p->rows = xrealloc(p->rows, p->cap * sizeof(LcRow));
	}
	p->rows[p->nrows++] = *row;
	return 0;
}

/* Parses a decimal bigint from s[0..len-1]; 0 on success. */
static int
parse_int64(const char *s, size_t len, long long *out)
{
	unsigned long long v = 0;
	int			negative = 0;
	size_t		i = 0;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		negative = (s[i++] == '-');
	if (i == len)
		return -1;
	for (; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (9223372036854775808ULL - (unsigned) (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned) (s[i] - '0');
	}
	if (v > 9223372036854775807ULL + (unsigned) negative)
		return -1;
	*out = negative ? (long long) (0 - v) : (long long) v;
	return 0;
}

/* The last run of digits in the file's base name. */
static int
objid_from_name(const char *path, long long *objid, char **error)
{
	const char *base = strrchr(path, '/');
	const char *end;
	const char *start;

	base = base ? base + 1 : path;
	end = base + strlen(base);
	while (end > base && (end[-1] < '0' || end[-1] > '9'))
		end--;
	start = end;
	while (start > base && start[-1] >= '0' && start[-1] <= '9')
		start--;
	if (start == end || parse_int64(start, (size_t) (end - start), objid) != 0)
	{
		*error = xasprintf("light curve file \"%s\": no bigint objid in the file name "
						   "(see --objid)", path);
		return -1;
	}
	return 0;
}

static int
objid_from_header(const char *path, const Parsed *p, long long *objid,
				  char **error)
{
	if (p->objid_lineno == 0)
	{
		*error = xasprintf("light curve file \"%s\": no \"#%s:\" header line for the objid",
						   path, p->objid_key);
		return -1;
	}
	if (parse_int64(p->objid_value.ptr, p->objid_value.len, objid) != 0)
	{
		*error = xasprintf("light curve file \"%s\" line %ld: header \"%s\" is not a bigint objid",
						   path, p->objid_lineno, p->objid_key);
		return -1;
	}
	return 0;
}

/* Appends one COPY text line: fields as written, pb's backslashes doubled. */
static void
format_row(Buffer *out, long long objid, const LcRow *row)
{
	char		id[32];
	size_t		i;
	int			n = snprintf(id, sizeof(id), "%lld\t", objid);

	/* whitespace cannot occur inside a field; only '\\' needs escaping */
	buf_reserve(out, (size_t) n + row->t_text.len + 2 * row->pb.len +
				row->flux_text.len + row->dflux_text.len + 4);
	buf_append(out, id, (size_t) n);
	buf_append(out, row->t_text.ptr, row->t_text.len);
	buf_append(out, "\t", 1);
	for (i = 0; i < row->pb.len; i++)
	{
		if (row->pb.ptr[i] == '\\')
			out->data[out->len++] = '\\';
		out->data[out->len++] = row->pb.ptr[i];
	}
	buf_append(out, "\t", 1);
	buf_append(out, row->flux_text.ptr, row->flux_text.len);
	buf_append(out, "\t", 1);
	buf_append(out, row->dflux_text.ptr, row->dflux_text.len);
	buf_append(out, "\n", 1);
}

/*
 * Reads, parses and formats one file into out (replacing its contents);
 * returns its row count, or -1 with *error set.
 */
static long long
prepare_file(const char *path, Buffer *content, Parsed *parsed, Buffer *out,
			 char **error)
{
	LcParseCallbacks cb = {keep_header, keep_row, parsed};
	LcParseError err;
	long long	objid;
	size_t		i;

	if (read_file(path, content, error) != 0)
		return -1;
	parsed->nrows = 0;
	parsed->objid_lineno = 0;
	if (lc_parse(content->data, content->len, &cb, &kernel_heap_host, &err) != LC_PARSE_OK)
	{
		size_t		n = lc_parse_format_error(&err, path, NULL, 0);

		*error = xmalloc(n + 1);
		lc_parse_format_error(&err, path, *error, n + 1);
		return -1;
	}
	if ((parsed->objid_key ? objid_from_header(path, parsed, &objid, error)
		 : objid_from_name(path, &objid, error)) != 0)
		return -1;

	out->len = 0;
	for (i = 0; i < parsed->nrows; i++)
		format_row(out, objid, &parsed->rows[i]);
	return (long long) parsed->nrows;
}

/* ---------------------------------------------------------------------------
 * Workers
 * ------------------------------------------------------------------------- */

static char *
server_error(const char *what, PGconn *conn)
{
	return xasprintf("%s: %s", what, PQerrorMessage(conn));
}

/* Runs sql, expecting a command result; 0 on success. */
static int
run_command(PGconn *conn, const char *sql, char **error)
{
	PGresult   *res = PQexec(conn, sql);
	int			ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok && error != NULL)
		*error = xasprintf("%s failed: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok ? 0 : -1;
}

/* Sends the worker's files; the caller ends the COPY. */
static void
stream_files(Worker *w)
{
	Buffer		content = {0};
	Buffer		out = {0};
	Parsed		parsed = {0};
	size_t		i;

	parsed.objid_key = opt.objid_key;
	for (i = 0; i < w->nfiles && !atomic_load(&load_failed); i++)
	{
		long long	n = prepare_file(w->files[i]->path, &content, &parsed, &out,
									 &w->error);

		if (n < 0)
			break;
		if (send_copy_data(w->conn, out.data, out.len) != 0)
		{
			w->error = server_error("could not send COPY data", w->conn);
			break;
		}
		w->rows += n;
	}
	free(content.data);
	free(out.data);
	free(parsed.rows);
}

static void stream_packets(Worker *w);
static void fail_load(void);

static void *
worker_main(void *arg)
{
	Worker	   *w = arg;
	PGresult   *res;
	int			aborting;

	if (run_command(w->conn, "BEGIN", &w->error) != 0)
		goto done;
	res = PQexec(w->conn, copy_sql);
	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		w->error = xasprintf("%s failed: %s", copy_sql, PQerrorMessage(w->conn));
		PQclear(res);
		goto done;
	}
	PQclear(res);

	if (loading_alerts)
		stream_packets(w);
	else
		stream_files(w);

	/* another worker's failure also cancels this COPY */
	aborting = w->error != NULL || atomic_load(&load_failed);
	if (PQputCopyEnd(w->conn, aborting ? PROGNAME " aborted the load" : NULL) != 1 &&
		w->error == NULL)
		w->error = server_error("could not end COPY", w->conn);
	while ((res = PQgetResult(w->conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !aborting && w->error == NULL)
			w->error = xasprintf("COPY into %s failed: %s", copy_target,
								 PQerrorMessage(w->conn));
		PQclear(res);
	}
	w->cancelled = (w->error == NULL && aborting);

done:
	if (w->error != NULL)
		fail_load();
	return NULL;
}

/* ---------------------------------------------------------------------------
 * Alert packets: a queue from the reader (the main thread) to the workers
 * ------------------------------------------------------------------------- */

/* One input to decode: an .avro file or an archive member, read whole. */
typedef struct Packet
{
	char	   *name;			/* "file \"...\"" or "archive \"...\" member \"...\"" */
	uint8_t    *data;
	size_t		len;
	struct Packet *next;
} Packet;

/*
 * Bounded so that reading a night's archive does not hold it all in memory:
 * at most QUEUE_PACKETS_PER_JOB packets per worker, and QUEUE_BYTES unless
 * the queue is empty (a single big container still passes).
 */
#define QUEUE_PACKETS_PER_JOB 8
#define QUEUE_BYTES (64 << 20)

static struct
{
	pthread_mutex_t lock;
	pthread_cond_t changed;		/* a packet in or out, closed, or the load failed */
	Packet	   *head;
	Packet	   *tail;
	size_t		count;
	size_t		bytes;
	size_t		max_count;
	int			closed;			/* the reader has put its last packet */
} queue = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

/* Marks the load failed and wakes whoever waits on the queue. */
static void
fail_load(void)
{
	pthread_mutex_lock(&queue.lock);
	atomic_store(&load_failed, 1);
	pthread_cond_broadcast(&queue.changed);
	pthread_mutex_unlock(&queue.lock);
}

static void
free_packet(Packet *p)
{
	free(p->name);
	free(p->data);
	free(p);
}

/* Queues p (taking it), waiting for room; frees it once the load has failed. */
static void
queue_put(Packet *p)
{
	pthread_mutex_lock(&queue.lock);
	while (!atomic_load(&load_failed) &&
		   (queue.count >= queue.max_count ||
			(queue.count > 0 && queue.bytes + p->len > QUEUE_BYTES)))
		pthread_cond_wait(&queue.changed, &queue.lock);
	if (atomic_load(&load_failed))
	{
		pthread_mutex_unlock(&queue.lock);
		free_packet(p);
		return;
	}
	p->next = NULL;
	if (queue.tail)
		queue.tail->next = p;
	else
		queue.head = p;
	queue.tail = p;
	queue.count++;
	queue.bytes += p->len;
	pthread_cond_broadcast(&queue.changed);
	pthread_mutex_unlock(&queue.lock);
}

static void
queue_close(void)
{
	pthread_mutex_lock(&queue.lock);
	queue.closed = 1;
	pthread_cond_broadcast(&queue.changed);
	pthread_mutex_unlock(&queue.lock);
}

/* The next packet, or NULL when the reader is done or the load failed. */
static Packet *
queue_take(void)
{
	Packet	   *p = NULL;

	pthread_mutex_lock(&queue.lock);
	while (!atomic_load(&load_failed) && queue.head == NULL && !queue.closed)
		pthread_cond_wait(&queue.changed, &queue.lock);
	if (!atomic_load(&load_failed) && queue.head != NULL)
	{
		p = queue.head;
		queue.head = p->next;
		if (queue.head == NULL)
			queue.tail = NULL;
		queue.count--;
		queue.bytes -= p->len;
		pthread_cond_broadcast(&queue.changed);
	}
	pthread_mutex_unlock(&queue.lock);
	return p;
}

/* Whatever the queue still holds after a failure. */
static void
queue_drain(void)
{
	while (queue.head != NULL)
	{
		Packet	   *p = queue.head;

		queue.head = p->next;
		free_packet(p);
	}
	queue.tail = NULL;
	queue.count = queue.bytes = 0;
}

/*
 * Decodes one packet and sends its points, but those the worker has sent
 * with an alert_id as low (SentKeys, alert_copy.c): the merge's DISTINCT ON
 * ... ORDER BY alert_id would have dropped them, so the stored rows are those
 * of a load without the set; only fewer rows cross the wire and the staging
 * table.  Returns 0, or -1 with w->error set.
 */
static int
send_packet(Worker *w, AlertSchemaCache *cache, SentKeys *sent, const Packet *p, Buffer *out)
{
	AlertResult r;
	AlertDecodeError err;
	AlertDecodeStatus status;
	size_t		i;

	status = alert_decode(&kernel_heap_host, cache, p->data, p->len, ALERT_CONTAINER, NULL, 0,
						  &r, &err);
	if (status != ALERT_DECODE_OK)
	{
		char		alert[32] = "";

		if (err.alert > 0)
			snprintf(alert, sizeof(alert), "alert %zu: ", err.alert);
		w->error = xasprintf("%s: %s%s: %s", p->name, alert,
							 alert_decode_status_name(status), err.message);
		return -1;
	}
	out->len = 0;
	for (i = 0; i < r.npoints; i++)
		if (sent_keys_add(sent, &r.points[i]))
			format_point(out, &r.points[i]);
	w->alerts += (long long) r.nalerts;
	w->rows += (long long) r.npoints;
	w->skipped += (long long) r.nskipped;
	alert_result_free(&kernel_heap_host, &r);
	if (send_copy_data(w->conn, out->data, out->len) != 0)
	{
		w->error = server_error("could not send COPY data", w->conn);
		return -1;
	}
	return 0;
}

/*
 * Sends the points of the packets it takes from the queue; the caller ends
 * the COPY.  The thread's schema cache compiles a writer schema once (ZTF
 * embeds 23 kB of it in every packet), not once per packet.
 */
static void
stream_packets(Worker *w)
{
	AlertSchemaCache *cache = alert_schema_cache_new(&kernel_heap_host);
	SentKeys	sent = {.limit = opt.dedup_keys};
	Buffer		out = {0};
	Packet	   *p;

	if (cache == NULL)
	{
		w->error = xstrdup("out of memory for the alert schema cache");
		return;
	}
	while ((p = queue_take()) != NULL)
	{
		int			failed = send_packet(w, cache, &sent, p, &out);

		free_packet(p);
		if (failed)
			break;
	}
	alert_schema_cache_free(cache);
	sent_keys_free(&sent);
	free(out.data);
}

/* ---------------------------------------------------------------------------
 * Alert packets: the reader
 * ------------------------------------------------------------------------- */

static Packet *
new_packet(char *name, Buffer *content)
{
	Packet	   *p = xmalloc(sizeof(Packet));

	p->name = name;
	p->data = (uint8_t *) content->data;
	p->len = content->len;
	p->next = NULL;
	*content = (Buffer) {0};
	return p;
}

/* Reads the current member of a; 0, or -1 with *error set. */
static int
read_member(struct archive *a, struct archive_entry *entry, Buffer *b,
			const char *name, char **error)
{
	la_ssize_t	n;

	if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0)
		buf_reserve(b, (size_t) archive_entry_size(entry));
	for (;;)
	{
		buf_reserve(b, 65536);
		n = archive_read_data(a, b->data + b->len, b->cap - b->len);
		if (n == 0)
			return 0;
		if (n < 0)
		{
			*error = xasprintf("%s: %s", name, archive_error_string(a));
			return -1;
		}
		b->len += (size_t) n;
	}
}

/* Queues every regular member of a tar archive; 0, or -1 with *error set. */
static int
read_archive(const char *path, char **error)
{
	struct archive *a = archive_read_new();
	struct archive_entry *entry;
	int			status;
	int			rc = 0;

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK)
	{
		*error = xasprintf("archive \"%s\": %s", path, archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	while (!atomic_load(&load_failed) &&
		   (status = archive_read_next_header(a, &entry)) == ARCHIVE_OK)
	{
		char	   *name;
		Buffer		content = {0};

		if (archive_entry_filetype(entry) != AE_IFREG)
			continue;
		name = xasprintf("archive \"%s\" member \"%s\"", path, archive_entry_pathname(entry));
		if (read_member(a, entry, &content, name, error) != 0)
		{
			free(name);
			free(content.data);
			rc = -1;
			break;
		}
		queue_put(new_packet(name, &content));
	}
	if (rc == 0 && !atomic_load(&load_failed) && status != ARCHIVE_EOF)
	{
		*error = xasprintf("archive \"%s\": %s", path, archive_error_string(a));
		rc = -1;
	}
	archive_read_free(a);
	return rc;
}

/*
 * Queues every alert input, then closes the queue; stops early once the load
 * failed.  Returns 0, or -1 with *error set (and the load failed).
 */
static int
read_alert_inputs(InputFile *files, size_t nfiles, char **error)
{
	size_t		i;
	int			rc = 0;

	for (i = 0; i < nfiles && rc == 0 && !atomic_load(&load_failed); i++)
	{
		Buffer		content = {0};

		if (files[i].kind == INPUT_ARCHIVE)
			rc = read_archive(files[i].path, error);
		else if ((rc = read_file(files[i].path, &content, error)) == 0)
			queue_put(new_packet(xasprintf("file \"%s\"", files[i].path), &content));
		else
			free(content.data);
	}
	if (rc != 0)
		fail_load();
	queue_close();
	return rc;
}

/* ---------------------------------------------------------------------------
 * Main
 * ------------------------------------------------------------------------- */

/* [schema.]table, each part quoted as an identifier. */
static char *
quote_table(PGconn *conn, const char *name)
{
	const char *dot = strchr(name, '.');
	char	   *schema;
	char	   *table;
	char	   *result;

	if (dot == NULL)
	{
		table = PQescapeIdentifier(conn, name, strlen(name));
		result = xstrdup(table);
		PQfreemem(table);
		return result;
	}
	schema = PQescapeIdentifier(conn, name, (size_t) (dot - name));
	table = PQescapeIdentifier(conn, dot + 1, strlen(dot + 1));
	result = xasprintf("%s.%s", schema, table);
	PQfreemem(schema);
	PQfreemem(table);
	return result;
}

static PGconn *
connect_db(void)
{
	const char *keywords[] = {"dbname", "fallback_application_name", NULL};
	const char *values[] = {opt.conninfo, PROGNAME, NULL};
	PGconn	   *conn = PQconnectdbParams(keywords, values, 1);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, PROGNAME ": could not connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

#define LC_COLUMNS "objid, t, pb, flux, dflux"
#define LC_COLUMN_TYPES "objid bigint, t float8, pb text, flux float8, dflux float8"

/* Runs sql on conn, printing the error; 0 on success. */
static int
run_or_report(PGconn *conn, const char *sql)
{
	char	   *error = NULL;

	if (run_command(conn, sql, &error) == 0)
		return 0;
	fprintf(stderr, PROGNAME ": %s", error);
	free(error);
	return -1;
}

/* Creates the table unless it exists; 1 if created, 0 if not, -1 on error. */
static int
create_table(PGconn *conn)
{
	const char *param = table_sql;
	PGresult   *res = PQexecParams(conn, "SELECT to_regclass($1) IS NULL",
								   1, NULL, &param, NULL, NULL, 0);
	int			missing;
	char	   *sql;
	int			rc;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, PROGNAME ": %s", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	missing = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!missing)
		return 0;

	sql = loading_alerts
		? xasprintf("CREATE TABLE %s (" ALERT_COLUMN_TYPES ", PRIMARY KEY (" ALERT_KEY "))",
					table_sql)
		: xasprintf("CREATE TABLE %s (" LC_COLUMN_TYPES ")", table_sql);
	rc = run_or_report(conn, sql);
	free(sql);
	return rc == 0 ? 1 : -1;
}

/*
 * Creates the alerts' staging table, UNLOGGED (nothing to WAL: it is dropped
 * at the end of the load) in the target's schema, named by the time and the
 * backend's pid so that loads at once do not collide; sets *staging_sql.
 */
static int
create_staging(PGconn *conn, char **staging_sql)
{
	const char *dot = strchr(opt.table, '.');
	time_t		now = time(NULL);
	struct tm	tm;
	char		stamp[32];
	char	   *name;
	char	   *sql;
	int			rc;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d_%H%M%S", &tm);
	name = xasprintf("%.*s%santares_load_%s_%d", dot ? (int) (dot - opt.table) : 0, opt.table,
					 dot ? "." : "", stamp, PQbackendPID(conn));
	*staging_sql = quote_table(conn, name);
	free(name);
	sql = xasprintf("CREATE UNLOGGED TABLE %s (" ALERT_COLUMN_TYPES ")", *staging_sql);
	rc = run_or_report(conn, sql);
	free(sql);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Alert loads: the end, and an interruption
 * ------------------------------------------------------------------------- */

/* The merge's cancel handle while it runs, under queue.lock. */
static PGcancel *merge_cancel;

static void
set_merge_cancel(PGcancel *cancel)
{
	pthread_mutex_lock(&queue.lock);
	if (merge_cancel != NULL)
		PQfreeCancel(merge_cancel);
	merge_cancel = cancel;
	pthread_mutex_unlock(&queue.lock);
}

/*
 * SIGINT, SIGTERM or SIGHUP stops an alert load like a failure, so that its
 * staging table is dropped: every thread blocks them (the mask is inherited)
 * and this one waits for them, fails the load and cancels a running merge.
 * A second signal ends the loader at once.
 */
static void *
signal_main(void *arg)
{
	const sigset_t *set = arg;
	int			sig;
	char		error[256];

	if (sigwait(set, &sig) != 0)
		return NULL;
	fprintf(stderr, PROGNAME ": %s: stopping the load\n", strsignal(sig));
	fail_load();
	pthread_mutex_lock(&queue.lock);
	if (merge_cancel != NULL)
		PQcancel(merge_cancel, error, sizeof(error));
	pthread_mutex_unlock(&queue.lock);
	if (sigwait(set, &sig) == 0)
		_exit(128 + sig);
	return NULL;
}

static void
start_signal_thread(void)
{
	static sigset_t set;
	pthread_t	thread;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
		pthread_create(&thread, NULL, signal_main, &set) != 0)
	{
		fprintf(stderr, PROGNAME ": could not start a thread\n");
		exit(1);
	}
	pthread_detach(thread);
}

/*
 * One transaction: the staging table's points, one per key (that of the
 * earliest alert), into the target unless there already, and the staging
 * table dropped.  Sets *new_points; 0 on success, else -1, rolled back.
 */
static int
merge_staging(PGconn *conn, const char *staging_sql, long long *new_points)
{
	char	   *sql = xasprintf("INSERT INTO %s (" ALERT_COLUMNS ") "
								"SELECT DISTINCT ON (" ALERT_KEY ") " ALERT_COLUMNS " FROM %s "
								"ORDER BY " ALERT_KEY ", alert_id "
								"ON CONFLICT (" ALERT_KEY ") DO NOTHING",
								table_sql, staging_sql);
	char	   *drop = xasprintf("DROP TABLE %s", staging_sql);
	PGresult   *res;
	int			rc = -1;

	if (run_or_report(conn, "BEGIN") != 0)
		goto done;
	set_merge_cancel(PQgetCancel(conn));
	res = PQexec(conn, sql);
	set_merge_cancel(NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fprintf(stderr, PROGNAME ": inserting the loaded points into %s failed: %s",
				opt.table, PQerrorMessage(conn));
	else if (run_or_report(conn, drop) == 0 && !atomic_load(&load_failed) &&
			 run_or_report(conn, "COMMIT") == 0)
	{
		*new_points = atoll(PQcmdTuples(res));
		rc = 0;
	}
	PQclear(res);
	if (rc != 0)
		run_command(conn, "ROLLBACK", NULL);
done:
	free(sql);
	free(drop);
	return rc;
}

/*
 * The end of an alert load: if ok, the merge; else, or if that failed, the
 * staging table dropped.  Returns whether the load succeeded.
 */
static int
finish_alert_load(PGconn *conn, const char *staging_sql, int ok, long long *new_points)
{
	char	   *drop;

	if (ok && merge_staging(conn, staging_sql, new_points) == 0)
		return 1;
	drop = xasprintf("DROP TABLE %s", staging_sql);
	run_or_report(conn, drop);
	free(drop);
	return 0;
}

/*
 * Light curves or alerts: sets loading_alerts, or refuses a mix (-1).  Alert
 * inputs are told by name, so a light-curve file may have any other name.
 */
static int
choose_mode(const InputFile *files, size_t nfiles)
{
	const char *lc = NULL;
	const char *alert = NULL;
	size_t		i;

	for (i = 0; i < nfiles; i++)
	{
		if (files[i].kind == INPUT_LIGHTCURVE)
			lc = lc ? lc : files[i].path;
		else
			alert = alert ? alert : files[i].path;
	}
	if (lc != NULL && alert != NULL)
	{
		fprintf(stderr, PROGNAME ": light-curve files (\"%s\") and alert packets (\"%s\") "
				"go into different tables: load them separately\n", lc, alert);
		return -1;
	}
	loading_alerts = alert != NULL;
	return 0;
}

/*
 * Commits every worker's transaction if all succeeded, else rolls all back.
 * Returns the number of transactions committed.
 */
static int
finish_transactions(Worker *workers, int jobs, int ok)
{
	int			committed = 0;
	int			j;

	for (j = 0; j < jobs; j++)
	{
		char	   *error = NULL;

		if (ok && run_command(workers[j].conn, "COMMIT", &error) == 0)
		{
			committed++;
			continue;
		}
		if (ok)
		{
			fprintf(stderr, PROGNAME ": job %d: %s", j + 1, error);
			free(error);
			ok = 0;
		}
		run_command(workers[j].conn, "ROLLBACK", NULL);
	}
	return committed;
}

/* Every job fails alike on, say, a missing table: say it once. */
static int
reported_before(const Worker *workers, int j)
{
	int			k;

	for (k = 0; k < j; k++)
		if (workers[k].error != NULL && strcmp(workers[k].error, workers[j].error) == 0)
			return 1;
	return 0;
}

/*
 * opt.dedup_keys: ANTARES_LOAD_DEDUP_KEYS if set (a whole number, 0 turns
 * the sent keys' set off; small ones test its emptying), else the default.
 */
static int
dedup_keys_from_env(void)
{
	const char *env = getenv("ANTARES_LOAD_DEDUP_KEYS");
	long long	n;

	opt.dedup_keys = SENT_KEYS_LIMIT;
	if (env == NULL)
		return 0;
	if (parse_int64(env, strlen(env), &n) != 0 || n < 0)
	{
		fprintf(stderr, PROGNAME ": invalid ANTARES_LOAD_DEDUP_KEYS \"%s\" (0 or more keys)\n", env);
		return -1;
	}
	opt.dedup_keys = (size_t) n;
	return 0;
}

static int
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"table", required_argument, NULL, 't'},
		{"jobs", required_argument, NULL, 'j'},
		{"create", no_argument, NULL, 'C'},
		{"objid", required_argument, NULL, 'O'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	char	   *end;

	while ((c = getopt_long(argc, argv, "d:t:j:qh", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				opt.conninfo = optarg;
				break;
			case 't':
				opt.table = optarg;
				break;
			case 'j':
				errno = 0;
				opt.jobs = (int) strtol(optarg, &end, 10);
				if (errno || *end || opt.jobs < 1 || opt.jobs > 256)
				{
					fprintf(stderr, PROGNAME ": invalid number of jobs \"%s\" (1 to 256)\n", optarg);
					return -1;
				}
				break;
			case 'C':
				opt.create = 1;
				break;
			case 'O':
				if (strncmp(optarg, "header:", 7) == 0 && optarg[7] != '\0')
					opt.objid_key = optarg + 7;
				else if (strcmp(optarg, "filename") == 0)
					opt.objid_key = NULL;
				else
				{
					fprintf(stderr, PROGNAME ": invalid --objid \"%s\" (filename or header:KEY)\n", optarg);
					return -1;
				}
				break;
			case 'q':
				opt.quiet = 1;
				break;
			case 'h':
				usage(stdout);
				exit(0);
			default:
				fprintf(stderr, "Try \"" PROGNAME " --help\".\n");
				return -1;
		}
	}
	if (optind >= argc)
	{
		fprintf(stderr, PROGNAME ": no files or directories given\n");
		fprintf(stderr, "Try \"" PROGNAME " --help\".\n");
		return -1;
	}
	if (opt.table != NULL && opt.table[0] == '\0')
	{
		fprintf(stderr, PROGNAME ": empty table name\n");
		return -1;
	}
	return dedup_keys_from_env();
}

/* For an alert load: with archives every job may get work, else one file is one job's. */
static int
count_jobs(const InputFile *files, size_t nfiles)
{
	size_t		i;

	for (i = 0; loading_alerts && i < nfiles; i++)
		if (files[i].kind == INPUT_ARCHIVE)
			return opt.jobs;
	return (size_t) opt.jobs > nfiles ? (nfiles > 0 ? (int) nfiles : 1) : opt.jobs;
}

int
main(int argc, char **argv)
{
	InputFile  *files;
	size_t		nfiles;
	Worker	   *workers;
	int			jobs;
	int			created = 0;
	int			ok = 1;
	int			committed;
	long long	rows = 0;
	long long	alerts = 0;
	long long	skipped = 0;
	long long	new_points = 0;
	char	   *staging_sql = NULL;
	char	   *read_error = NULL;
	double		start = now_seconds();
	double		seconds;
	int			j;

	if (parse_options(argc, argv) != 0)
		return 2;
	if (collect_files(argv + optind, argc - optind, &files, &nfiles) != 0)
		return 1;
	if (choose_mode(files, nfiles) != 0)
		return 2;
	if (opt.table == NULL)
		opt.table = loading_alerts ? "alertphot" : "rawphot";
	if (loading_alerts)
	{
		alert_decode_init();
		start_signal_thread();
	}

	jobs = count_jobs(files, nfiles);
	workers = calloc((size_t) jobs, sizeof(Worker));
	if (workers == NULL)
		return 1;
	for (j = 0; j < jobs; j++)
	{
		workers[j].conn = connect_db();
		if (workers[j].conn == NULL)
			return 1;
	}
	table_sql = quote_table(workers[0].conn, opt.table);
	if (opt.create && (created = create_table(workers[0].conn)) < 0)
		return 1;

	if (loading_alerts)
	{
		if (create_staging(workers[0].conn, &staging_sql) != 0)
			ok = 0;
		else
		{
			copy_sql = xasprintf("COPY %s (" ALERT_COLUMNS ") FROM STDIN", staging_sql);
			copy_target = staging_sql;
		}
		queue.max_count = (size_t) jobs * QUEUE_PACKETS_PER_JOB;
	}
	else
	{
		copy_sql = xasprintf("COPY %s (" LC_COLUMNS ") FROM STDIN", table_sql);
		copy_target = opt.table;
		assign_files(files, nfiles, workers, jobs);
	}

	if (ok)
	{
		for (j = 0; j < jobs; j++)
			if (pthread_create(&workers[j].thread, NULL, worker_main, &workers[j]) != 0)
			{
				fprintf(stderr, PROGNAME ": could not start a thread\n");
				return 1;
			}
		if (loading_alerts && read_alert_inputs(files, nfiles, &read_error) != 0)
			fprintf(stderr, PROGNAME ": %s\n", read_error);
		for (j = 0; j < jobs; j++)
			pthread_join(workers[j].thread, NULL);
		queue_drain();
	}

	for (j = 0; j < jobs; j++)
	{
		if (workers[j].error != NULL && !reported_before(workers, j))
			fprintf(stderr, PROGNAME ": %s%s", workers[j].error,
					has_suffix(workers[j].error, "\n") ? "" : "\n");
		ok = ok && read_error == NULL && workers[j].error == NULL && !workers[j].cancelled;
		rows += workers[j].rows;
		alerts += workers[j].alerts;
		skipped += workers[j].skipped;
	}

	committed = finish_transactions(workers, jobs, ok);
	ok = ok && committed == jobs;
	if (staging_sql != NULL)
		ok = finish_alert_load(workers[0].conn, staging_sql, ok, &new_points);
	if (!ok && created)
	{
		/* the table is ours: dropping it also undoes a partial commit */
		char	   *sql = xasprintf("DROP TABLE %s", table_sql);

		if (run_command(workers[0].conn, sql, NULL) == 0)
			committed = 0;
		free(sql);
	}
	if (!loading_alerts && committed > 0 && committed < jobs)
		fprintf(stderr, PROGNAME ": partial load: %d of %d transactions committed\n",
				committed, jobs);
	for (j = 0; j < jobs; j++)
	{
		PQfinish(workers[j].conn);
		free(workers[j].files);
		free(workers[j].error);
	}
	free(workers);
	free(table_sql);
	free(staging_sql);
	free(copy_sql);
	free(read_error);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i].path);
	free(files);

	seconds = now_seconds() - start;
	if (!ok)
	{
		if (loading_alerts || committed == 0)
			fprintf(stderr, PROGNAME ": nothing loaded\n");
		return 1;
	}
	if (opt.quiet)
		return 0;
	if (loading_alerts)
		printf(PROGNAME ": %zu file%s, %lld alerts, %lld points decoded, %lld new, "
			   "%lld duplicates, %lld skipped in %.3f s (%.0f alerts/s), %d job%s\n",
			   nfiles, nfiles == 1 ? "" : "s", alerts, rows, new_points, rows - new_points,
			   skipped, seconds, seconds > 0 ? alerts / seconds : 0.0, jobs, jobs == 1 ? "" : "s");
	else
		printf(PROGNAME ": %zu file%s, %lld rows in %.3f s (%.0f rows/s), %d job%s\n",
			   nfiles, nfiles == 1 ? "" : "s", rows, seconds,
			   seconds > 0 ? rows / seconds : 0.0, jobs, jobs == 1 ? "" : "s");
	return 0;
}
