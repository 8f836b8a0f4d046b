/*
 * antares_stream.c
 *		Kafka consumer of survey alert packets into a named stream, exactly
 *		once (docs/streaming-kafka.md is its reference).
 *
 *	 antares_stream --stream NAME -b BROKERS -t TOPIC [-t TOPIC]... [-g GROUP]
 *					[-d CONNSTR] [--batch N] [--linger MS]
 *					[--framing auto|container|confluent|bare] [--writer-schema FILE]
 *					[--schema ID=FILE]... [-X key=value]... [-F FILE] [--once]
 *					[--progress SECONDS] [--no-publish]
 *
 * Messages are taken in micro-batches (up to --batch messages, or what came
 * within --linger ms of the batch's first), decoded with the alert kernel
 * (src/alert_decode.c), and in ONE PostgreSQL transaction: their points
 * COPYed into a temporary table and merged by antares.stream_process, the
 * corrupt packets kept by antares.stream_reject, and the partitions' next
 * offsets moved by antares.stream_advance.  Kafka's own offset commits are
 * not used: on every assignment, and after every failure, the consumer seeks
 * to the offsets stored in the stream, so whatever is killed and when, each
 * message is applied once.  stream_advance checks that the stored offsets
 * are those this consumer started the batch from (SQLSTATE 40001 if another
 * consumer moved them: the batch is dropped and the partitions sought
 * again).  The transaction runs on a thread of its own while the main
 * thread takes and decodes the next batch (one batch in flight at a time:
 * Flight).  After each commit the stream's outbox is published by a
 * producer (idempotent, acks=all) over a second connection, while the next
 * batch is in flight, rows deleted only once every delivery is reported.
 *
 * Points are de-duplicated before they are sent: every alert repeats its
 * object's history, so a key (objid, kind, source_id) committed already, with
 * an alert_id as low, is not sent again (SentKeys, bin/alert_copy.c; the set
 * is bounded, and a key enters it only once its batch committed, so a batch
 * rolled back sends its points again).  stream_process is idempotent
 * anyway: the set only saves the wire and the merge their work.
 *
 * Exit status: 0 after SIGTERM or SIGINT (the batch in hand committed and
 * published first), or with --once when every assigned partition is at its
 * end and the outbox is empty; 2 on a message whose Confluent schema id is
 * in no --schema and not in antares.alert_schemas (what came before it is
 * committed, nothing after); 1 on bad usage or a fatal error.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE			/* sysconf's _SC_NPROCESSORS_ONLN */

#include <errno.h>
#include <pthread.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "alert_copy.h"
#include "alert_decode.h"
#include "kernel_host_heap.h"
#include "libpq-fe.h"

#define PROGNAME "antares_stream"

const char	progname[] = PROGNAME;

#define EXIT_FATAL 1
#define EXIT_UNKNOWN_SCHEMA 2

#define FRAMING_AUTO (-1)
#define POLL_MS 100				/* the longest a poll blocks: signals are seen within it */
#define STOP_GRACE_SECONDS 5.0	/* after a stop, the longest a publication waits for Kafka */
#define OUTBOX_ROWS 10000		/* published per transaction */
#define BACKOFF_MIN 0.1			/* seconds, doubled up to BACKOFF_MAX */
#define BACKOFF_MAX 10.0

typedef struct KafkaSetting
{
	char	   *key;
	char	   *value;
} KafkaSetting;

typedef struct SchemaFile
{
	int32_t		id;
	const char *path;
} SchemaFile;

static struct
{
	const char *stream;
	const char *brokers;
	const char **topics;
	int			ntopics;
	const char *group;
	const char *conninfo;
	long		batch;
	long		linger_ms;
	int			framing;		/* an AlertFraming, or FRAMING_AUTO */
	const char *writer_schema_file;
	SchemaFile *schemas;
	int			nschemas;
	KafkaSetting *settings;
	int			nsettings;
	int			once;
	double		progress;		/* seconds between progress lines; 0: none */
	int			publish;
	size_t		dedup_keys;
	int			jobs;			/* decoding threads */
} opt = {.batch = 10000, .linger_ms = 200, .framing = FRAMING_AUTO, .progress = 10, .publish = 1};

/* Set by SIGTERM and SIGINT: finish the batch, commit, publish, exit. */
static volatile sig_atomic_t stop_requested;

/* ---------------------------------------------------------------------------
 * Partitions
 * ------------------------------------------------------------------------- */

typedef struct Part
{
	char	   *topic;
	int32_t		partition;
	int64_t		stored;			/* next_offset in the stream's offsets; -1: none */
	int			assigned;
	int			at_eof;			/* the consumer reported the partition's end at position */
	int64_t		position;		/* the next offset to take; -1: any (none stored) */
	int64_t		batch_to;		/* the batch's next offset; -1: not in the batch */
} Part;

static Part *parts;
static size_t nparts;

static Part *
part_find(const char *topic, int32_t partition, int create)
{
	for (size_t i = 0; i < nparts; i++)
		if (parts[i].partition == partition && strcmp(parts[i].topic, topic) == 0)
			return &parts[i];
	if (!create)
		return NULL;
	parts = xrealloc(parts, (nparts + 1) * sizeof(Part));
	parts[nparts] = (Part) {xstrdup(topic), partition, -1, 0, 0, -1, -1};
	return &parts[nparts++];
}

static size_t
parts_assigned(void)
{
	size_t		n = 0;

	for (size_t i = 0; i < nparts; i++)
		n += parts[i].assigned;
	return n;
}

/* ---------------------------------------------------------------------------
 * Statistics
 * ------------------------------------------------------------------------- */

/*
 * Latencies (Kafka timestamp to commit) in a histogram of buckets 2% wide
 * (bucket 0: under 1 ms), so that a night's 10^7 messages cost 16 kB: the
 * percentiles are the buckets' geometric middles, within 1%.
 */
#define LATENCY_BUCKETS 2048
#define LATENCY_RATIO 1.02

static struct
{
	long long	alerts;			/* messages committed, rejects included */
	long long	rejects;
	long long	points;			/* decoded, of the messages committed */
	long long	sent;			/* of them, COPYed (not known to be stored) */
	long long	new_points;		/* stream_process's points_new */
	long long	batches;
	long long	published;
	long long	latency[LATENCY_BUCKETS];
	long long	nlatency;
	double		decode;			/* seconds decoding */
	double		wait;			/* seconds in the consumer's poll */
	double		publish;		/* seconds waiting for delivery reports */
	double		land;			/* seconds waiting for a batch in flight */
	double		start;
	double		last_batch_latency; /* first message taken to commit, seconds */
} stats;

static void
latency_add(double ms)
{
	int			b = ms < 1 ? 0 : 1 + (int) (log(ms) / log(LATENCY_RATIO));

	stats.latency[b < LATENCY_BUCKETS ? b : LATENCY_BUCKETS - 1]++;
	stats.nlatency++;
}

/* The q-quantile of the latencies in ms; 0 with none. */
static double
latency_quantile(double q)
{
	long long	rank = (long long) ceil(q * (double) stats.nlatency);
	long long	seen = 0;

	for (int b = 0; b < LATENCY_BUCKETS && stats.nlatency > 0; b++)
	{
		seen += stats.latency[b];
		if (seen >= rank && stats.latency[b] > 0)
			return b == 0 ? 0.5 : pow(LATENCY_RATIO, b - 0.5);
	}
	return 0;
}

static double
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* postgres: seconds in PostgreSQL calls, the committer thread's included. */
static void
print_summary(double postgres)
{
	double		seconds = now_seconds() - stats.start;
	double		share = seconds > 0 ? 100 / seconds : 0;

	fprintf(stderr, PROGNAME ": alerts=%lld rejects=%lld points=%lld sent=%lld new=%lld "
			"batches=%lld published=%lld seconds=%.3f alerts_per_s=%.0f "
			"latency_p50_ms=%.1f latency_p99_ms=%.1f decode=%.1f%% postgres=%.1f%% wait=%.1f%% "
			"land=%.1f%% publish=%.1f%%\n",
			stats.alerts, stats.rejects, stats.points, stats.sent, stats.new_points,
			stats.batches, stats.published, seconds, seconds > 0 ? stats.alerts / seconds : 0,
			latency_quantile(0.50), latency_quantile(0.99), stats.decode * share,
			postgres * share, stats.wait * share, stats.land * share,
			stats.publish * share);
}

/* ---------------------------------------------------------------------------
 * PostgreSQL
 * ------------------------------------------------------------------------- */

static char *stream_sql;		/* the stream's schema name, quoted */

typedef enum DbFailure
{
	DB_OK,
	DB_TRANSIENT,				/* connection lost, server shutting down, ...: reconnect */
	DB_CONFLICT,				/* 40001 from stream_advance: re-read offsets, seek */
	DB_FATAL					/* anything else: a bug or a broken stream */
} DbFailure;

/*
 * A connection and its last failure.  Two: `db` takes the batches (from
 * the committer thread while a batch is in flight, from the main thread
 * only when none is) and reads offsets and schemas; `pub` publishes the
 * outbox from the main thread while the next batch is in flight.
 */
typedef struct Db
{
	PGconn	   *conn;
	DbFailure	failure;
	char	   *error;			/* the last failure's message */
	double		seconds;		/* in PostgreSQL calls */
} Db;

static Db	db;
static Db	pub;

static void
db_fail(Db *d, const char *what, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	free(d->error);
	d->error = xasprintf("%s: %s", what, PQerrorMessage(d->conn));
	if (state != NULL && strcmp(state, "40001") == 0)
		d->failure = DB_CONFLICT;
	else if (PQstatus(d->conn) != CONNECTION_OK || state == NULL ||
			 strncmp(state, "08", 2) == 0 || strncmp(state, "40", 2) == 0 ||
			 strncmp(state, "53", 2) == 0 || strncmp(state, "57", 2) == 0 ||
			 strncmp(state, "58", 2) == 0)
		d->failure = DB_TRANSIENT;
	else
		d->failure = DB_FATAL;
}

/*
 * Runs sql with text parameters (formats NULL) or the given formats; the
 * result if its status is expect, else NULL with d's failure set.
 */
static PGresult *
db_exec(Db *d, const char *sql, int nparams, const char *const *values, const int *lengths,
		const int *formats, ExecStatusType expect)
{
	double		t0 = now_seconds();
	PGresult   *res = PQexecParams(d->conn, sql, nparams, NULL, values, lengths, formats, 0);

	d->seconds += now_seconds() - t0;
	if (PQresultStatus(res) == expect)
		return res;
	db_fail(d, sql, res);
	PQclear(res);
	return NULL;
}

static int
db_command(Db *d, const char *sql)
{
	PGresult   *res = db_exec(d, sql, 0, NULL, NULL, NULL, PGRES_COMMAND_OK);

	PQclear(res);
	return res ? 0 : -1;
}

/* After a failure inside a transaction; harmless outside one. */
static void
db_rollback(Db *d)
{
	if (PQstatus(d->conn) == CONNECTION_OK)
		PQclear(PQexec(d->conn, "ROLLBACK"));
}

#define BATCH_TABLE "antares_stream_batch"

/* d connected (again); 0, or -1 with d's failure set. */
static int
db_connect(Db *d)
{
	const char *keywords[] = {"dbname", "fallback_application_name", NULL};
	const char *values[] = {opt.conninfo, PROGNAME, NULL};

	PQfinish(d->conn);
	d->conn = PQconnectdbParams(keywords, values, 1);
	if (PQstatus(d->conn) == CONNECTION_OK)
		return 0;
	free(d->error);
	d->error = xasprintf("could not connect: %s", PQerrorMessage(d->conn));
	d->failure = DB_TRANSIENT;
	return -1;
}

/* Both connections, and db's temporary table; 0, or -1 with the failed one's failure in db. */
static int
db_connect_both(void)
{
	if (db_connect(&db) != 0 ||
		db_command(&db, "CREATE TEMP TABLE IF NOT EXISTS " BATCH_TABLE " (" ALERT_COLUMN_TYPES
				   ") ON COMMIT DELETE ROWS") != 0)
		return -1;
	if (!opt.publish || db_connect(&pub) == 0)
		return 0;
	free(db.error);
	db.error = xstrdup(pub.error);
	db.failure = pub.failure;
	return -1;
}

/* Sleeps up to seconds, waking early on a stop request. */
static void
sleep_unless_stopped(double seconds)
{
	double		end = now_seconds() + seconds;

	while (!stop_requested && now_seconds() < end)
	{
		struct timespec ts = {0, 20 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
}

/* The wait before the next reconnection: 0 after a commit, then 0.1 s doubling to 10 s. */
static double db_backoff;

/* need_db after a transient failure; fatal (exit 1) after any other. */
static int	need_db;
static int	db_fatal;

/*
 * Connects again, the first time after a commit at once, then backing off:
 * a server that fails every batch is not hammered.  -1 if stopped first,
 * or if the connection's setup failed beyond retrying (db_fatal).
 */
static int
db_reconnect(void)
{
	for (;;)
	{
		if (db_backoff > 0)
		{
			fprintf(stderr, PROGNAME ": reconnecting to PostgreSQL in %.1f s\n", db_backoff);
			sleep_unless_stopped(db_backoff);
		}
		if (stop_requested)
			return -1;
		db_backoff = db_backoff > 0 ? db_backoff * 2 : BACKOFF_MIN;
		db_backoff = db_backoff < BACKOFF_MAX ? db_backoff : BACKOFF_MAX;
		if (db_connect_both() == 0)
			return 0;
		fprintf(stderr, PROGNAME ": %s", db.error);
		if (db.failure == DB_FATAL)
		{
			db_fatal = 1;
			return -1;
		}
	}
}

static void
db_failed(const Db *d)
{
	fprintf(stderr, PROGNAME ": %s", d->error);
	if (d->failure == DB_FATAL)
		db_fatal = 1;
	else
		need_db = 1;
}

static int	land(void);

/* Every partition's stored next offset; 0, or -1 with db's failure set. */
static int
read_offsets(void)
{
	char	   *sql = xasprintf("SELECT topic, partition, next_offset FROM %s.offsets", stream_sql);
	PGresult   *res;

	land();						/* db is free; a failed batch leaves offsets as they were */
	res = db_exec(&db, sql, 0, NULL, NULL, NULL, PGRES_TUPLES_OK);
	free(sql);
	if (res == NULL)
		return -1;
	for (size_t i = 0; i < nparts; i++)
		parts[i].stored = -1;
	for (int r = 0; r < PQntuples(res); r++)
	{
		Part	   *p = part_find(PQgetvalue(res, r, 0), (int32_t) atol(PQgetvalue(res, r, 1)), 1);

		p->stored = PQgetisnull(res, r, 2) ? -1 : atoll(PQgetvalue(res, r, 2));
	}
	PQclear(res);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Writer schemas
 * ------------------------------------------------------------------------- */

typedef struct Schema
{
	int32_t		id;
	char	   *text;
	size_t		len;
} Schema;

static Schema *schemas;
static int	nschemas;
static unsigned schemas_loaded; /* load_schemas calls: their texts are freed by the next */
static Buffer writer_schema;	/* --writer-schema's text, for bare messages */

/* Reads a whole file, NUL-terminated; 0, or -1 with a message printed. */
static int
read_text_file(const char *path, Buffer *b)
{
	FILE	   *f = fopen(path, "rb");
	char		chunk[65536];
	size_t		n;

	b->len = 0;
	if (f == NULL)
	{
		fprintf(stderr, PROGNAME ": could not open file \"%s\": %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(b, chunk, n);
	if (ferror(f))
	{
		fprintf(stderr, PROGNAME ": could not read file \"%s\": %s\n", path, strerror(errno));
		fclose(f);
		return -1;
	}
	fclose(f);
	buf_append(b, "", 1);
	b->len--;
	return 0;
}

/* antares.alert_schemas into schemas; 0, or -1 with db's failure set. */
static int
load_schemas(void)
{
	PGresult   *res;

	land();
	res = db_exec(&db, "SELECT id, schema FROM antares.alert_schemas", 0, NULL, NULL, NULL,
				  PGRES_TUPLES_OK);
	if (res == NULL)
		return -1;
	for (int i = 0; i < nschemas; i++)
		free(schemas[i].text);
	schemas_loaded++;
	nschemas = PQntuples(res);
	schemas = xrealloc(schemas, (size_t) nschemas * sizeof(Schema));
	for (int i = 0; i < nschemas; i++)
	{
		schemas[i].id = (int32_t) atol(PQgetvalue(res, i, 0));
		schemas[i].text = xstrdup(PQgetvalue(res, i, 1));
		schemas[i].len = (size_t) PQgetlength(res, i, 1);
	}
	PQclear(res);
	return 0;
}

static const Schema *
find_schema(int32_t id)
{
	for (int i = 0; i < nschemas; i++)
		if (schemas[i].id == id)
			return &schemas[i];
	return NULL;
}

/*
 * --schema ID=FILE: stored unless the id is stored with this text already;
 * the id stored with another text is an error.  0, or -1 with a message.
 */
static int
register_schemas(void)
{
	for (int i = 0; i < opt.nschemas; i++)
	{
		Buffer		text = {0};
		char		id[16];
		const char *values[2] = {id, NULL};
		PGresult   *res;
		int			same;

		if (read_text_file(opt.schemas[i].path, &text) != 0)
			return -1;
		snprintf(id, sizeof(id), "%d", (int) opt.schemas[i].id);
		values[1] = text.data;
		/*
		 * Two statements: a consumer inserting the same id at the same time
		 * makes this INSERT wait and do nothing, and only a later snapshot
		 * sees its row.
		 */
		res = db_exec(&db, "INSERT INTO antares.alert_schemas (id, schema) VALUES ($1, $2) "
					  "ON CONFLICT (id) DO NOTHING",
					  2, values, NULL, NULL, PGRES_COMMAND_OK);
		if (res != NULL)
		{
			PQclear(res);
			res = db_exec(&db, "SELECT schema = $2 FROM antares.alert_schemas WHERE id = $1",
						  2, values, NULL, NULL, PGRES_TUPLES_OK);
		}
		free(text.data);
		if (res == NULL)
		{
			fprintf(stderr, PROGNAME ": --schema %d=%s: %s", (int) opt.schemas[i].id,
					opt.schemas[i].path, PQerrorMessage(db.conn));
			return -1;
		}
		same = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (!same)
		{
			fprintf(stderr, PROGNAME ": --schema %d=%s: schema id %d is stored in "
					"antares.alert_schemas with another text\n", (int) opt.schemas[i].id,
					opt.schemas[i].path, (int) opt.schemas[i].id);
			return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Kafka
 * ------------------------------------------------------------------------- */

static rd_kafka_t *consumer;
static rd_kafka_t *producer;
static volatile sig_atomic_t kafka_fatal;

/* Set from the rebalance callback: the batch in hand is dropped and every
 * assigned partition sought to its stored offset. */
static int	need_reseek;

static int
is_secret(const char *key)
{
	return strstr(key, "password") != NULL || strstr(key, "secret") != NULL ||
		strstr(key, "sasl.oauthbearer.config") != NULL;
}

static void
kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void) rk;
	(void) level;
	fprintf(stderr, PROGNAME ": kafka %s: %s\n", fac, buf);
}

static void
kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	char		fatal[512];

	(void) opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL)
	{
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		fprintf(stderr, PROGNAME ": kafka: fatal error: %s\n", fatal);
		kafka_fatal = 1;
		return;
	}
	fprintf(stderr, PROGNAME ": kafka: %s (%s)\n", reason,
			rd_kafka_err2name((rd_kafka_resp_err_t) err));
}

/*
 * Assignments: each partition starts at its stored offset (the beginning
 * when none is stored), read from the stream now, so that a partition moved
 * here from another consumer resumes where that one committed.  Any
 * rebalance drops the batch in hand (its messages are taken again).
 */
static void
kafka_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
				rd_kafka_topic_partition_list_t *list, void *opaque)
{
	int			cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

	(void) opaque;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
	{
		if (!need_db && read_offsets() != 0)
			db_failed(&db);
		for (int i = 0; i < list->cnt; i++)
		{
			Part	   *p = part_find(list->elems[i].topic, list->elems[i].partition, 1);

			p->assigned = 1;
			list->elems[i].offset = p->stored >= 0 ? p->stored : RD_KAFKA_OFFSET_BEGINNING;
		}
		if (cooperative)
			error = rd_kafka_incremental_assign(rk, list);
		else
			e = rd_kafka_assign(rk, list);
	}
	else
	{
		if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
			fprintf(stderr, PROGNAME ": kafka: rebalance failed: %s\n", rd_kafka_err2str(err));
		for (int i = 0; i < list->cnt; i++)
		{
			Part	   *p = part_find(list->elems[i].topic, list->elems[i].partition, 0);

			if (p != NULL)
				p->assigned = 0;
		}
		if (cooperative && err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
			error = rd_kafka_incremental_unassign(rk, list);
		else
			e = rd_kafka_assign(rk, NULL);
	}
	if (error != NULL)
	{
		fprintf(stderr, PROGNAME ": kafka: assignment failed: %s\n", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
	else if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		fprintf(stderr, PROGNAME ": kafka: assignment failed: %s\n", rd_kafka_err2str(e));
	need_reseek = 1;
}

/* Delivery reports of one outbox transaction. */
static struct
{
	long		pending;
	long		failed;
	char		error[256];
} delivery;

static void
kafka_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void) rk;
	(void) opaque;
	delivery.pending--;
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && delivery.failed++ == 0)
		snprintf(delivery.error, sizeof(delivery.error), "%s", rd_kafka_err2str(m->err));
}

static int
conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
		return 0;
	if (is_secret(key))
		fprintf(stderr, PROGNAME ": invalid Kafka setting %s (value not shown)\n", key);
	else
		fprintf(stderr, PROGNAME ": invalid Kafka setting %s=%s: %s\n", key, value, errstr);
	return -1;
}

/* librdkafka's table of properties (rd_kafka_conf_properties_show), read once. */
static char *property_table;

/*
 * The table's C/P column for key: 'C' a consumer's property only, 'P' a
 * producer's only, '*' both's (also for a key not in the table: librdkafka
 * then refuses it).
 */
static char
property_scope(const char *key)
{
	size_t		klen = strlen(key);

	if (property_table == NULL)
	{
		size_t		size;
		FILE	   *f = open_memstream(&property_table, &size);

		if (f == NULL)
			return '*';
		rd_kafka_conf_properties_show(f);
		fclose(f);
	}
	for (const char *line = property_table; line != NULL && *line != '\0';
		 line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
	{
		const char *bar;

		if (strncmp(line, key, klen) != 0 || (line[klen] != ' ' && line[klen] != '|') ||
			(bar = strchr(line, '|')) == NULL)
			continue;
		while (*++bar == ' ')
			;
		return *bar;
	}
	return '*';
}

/*
 * A client's configuration: -X and -F settings in order, each to the clients
 * it is for (property_scope; "consumer.KEY" and "producer.KEY" to that
 * client only); then what exactly-once needs, which no setting overrides.
 * NULL after a message.
 */
static rd_kafka_conf_t *
kafka_conf(int is_consumer)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char *own = is_consumer ? "consumer." : "producer.";
	const char *other = is_consumer ? "producer." : "consumer.";
	int			rc = 0;

	rc |= conf_set(conf, "bootstrap.servers", opt.brokers);
	rc |= conf_set(conf, "log.connection.close", "false");
	/*
	 * A batch of 10,000 Rubin alerts with histories is 70-330 MB: librdkafka's
	 * default prefetch (64 MB) would have the consumer wait for every batch.
	 */
	if (is_consumer)
		rc |= conf_set(conf, "queued.max.messages.kbytes", "524288");
	/*
	 * The broker holds a fetch with nothing new up to fetch.wait.max.ms: at
	 * librdkafka's 500 ms, alerts arriving at Rubin's pace (270/s, mock
	 * cluster) waited 497 ms to commit at the median, at 100 ms 234 ms.
	 */
	if (is_consumer)
		rc |= conf_set(conf, "fetch.wait.max.ms", "100");
	for (int i = 0; i < opt.nsettings && rc == 0; i++)
	{
		const char *key = opt.settings[i].key;

		if (strncmp(key, other, strlen(other)) == 0)
			continue;
		if (strncmp(key, own, strlen(own)) == 0)
			key += strlen(own);
		else if (property_scope(key) == (is_consumer ? 'P' : 'C'))
			continue;
		rc |= conf_set(conf, key, opt.settings[i].value);
	}
	if (is_consumer)
	{
		rc |= conf_set(conf, "group.id", opt.group);
		rc |= conf_set(conf, "enable.auto.commit", "false");
		rc |= conf_set(conf, "enable.auto.offset.store", "false");
		rc |= conf_set(conf, "enable.partition.eof", "true");
		rc |= conf_set(conf, "auto.offset.reset", "earliest");
		rd_kafka_conf_set_rebalance_cb(conf, kafka_rebalance);
	}
	else
	{
		rc |= conf_set(conf, "enable.idempotence", "true");
		rc |= conf_set(conf, "acks", "all");
		rd_kafka_conf_set_dr_msg_cb(conf, kafka_delivered);
	}
	rd_kafka_conf_set_log_cb(conf, kafka_log);
	rd_kafka_conf_set_error_cb(conf, kafka_error);
	if (rc != 0)
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

static rd_kafka_t *
kafka_new(int is_consumer)
{
	rd_kafka_conf_t *conf = kafka_conf(is_consumer);
	char		errstr[512];
	rd_kafka_t *rk;

	if (conf == NULL)
		return NULL;
	rk = rd_kafka_new(is_consumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, conf, errstr,
					  sizeof(errstr));
	if (rk == NULL)
	{
		fprintf(stderr, PROGNAME ": could not create the Kafka %s: %s\n",
				is_consumer ? "consumer" : "producer", errstr);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

static int
kafka_subscribe(void)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(opt.ntopics);
	rd_kafka_resp_err_t err;

	for (int i = 0; i < opt.ntopics; i++)
		rd_kafka_topic_partition_list_add(list, opt.topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_poll_set_consumer(consumer);
	err = rd_kafka_subscribe(consumer, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		fprintf(stderr, PROGNAME ": could not subscribe: %s\n", rd_kafka_err2str(err));
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * The batch in hand
 * ------------------------------------------------------------------------- */

static rd_kafka_message_t **batch;
static size_t nbatch;
static double batch_first;		/* when its first message was taken */

static SentKeys sent;			/* keys committed */
static SentKeys pending;		/* keys of the batch in hand, not yet committed */
static Buffer copy_rows;

/* A corrupt packet of the batch, for antares.stream_reject. */
typedef struct Reject
{
	char	   *topic;
	int32_t		partition;
	int64_t		offset;
	char	   *error;
	char	   *payload;
	size_t		len;
} Reject;

static Reject *rejects;
static size_t nrejects;

/* The batch's points decoded and sent, counted in stats once committed. */
static long long batch_points;
static long long batch_sent;

/*
 * The batch in flight: committed by a thread of its own on connection
 * `db` while the main thread takes and decodes the next one, so that
 * PostgreSQL's work on a batch overlaps Kafka's and the decoding of the
 * next.  It owns everything the transaction needs (the COPY rows, the
 * rejects, stream_advance's arguments), so the messages are freed when it
 * leaves; land() waits for it and books its outcome.  The next batch is
 * decoded as if the one in flight commits (its keys count as sent); if it
 * fails, both are dropped and the partitions sought again.
 */
typedef struct Flight
{
	int			airborne;
	pthread_t	thread;
	size_t		n;				/* messages */
	Buffer		copy;
	Reject	   *rejects;
	size_t		nrejects;
	char	   *advance[4];		/* stream_advance's topics, partitions, from, to */
	int64_t    *timestamps;		/* the messages' Kafka timestamps, ms; -1: none */
	SentKeys	keys;			/* its points' keys */
	long long	points,
				sent;
	double		first;			/* when its first message was taken */
	/* set by the thread */
	int			failed;
	double		committed;		/* now_seconds() at COMMIT */
	double		committed_ms;	/* the wall clock then, for the latencies */
	long long	new_points;
} Flight;

static Flight flight;

static void
rejects_free(Reject *r, size_t *n)
{
	for (size_t k = 0; k < *n; k++)
	{
		free(r[k].topic);
		free(r[k].error);
		free(r[k].payload);
	}
	*n = 0;
}

/* Drops the batch in hand: its messages are taken again after the seek. */
static void
drop_batch(void)
{
	for (size_t i = 0; i < nbatch; i++)
		rd_kafka_message_destroy(batch[i]);
	nbatch = 0;
	sent_keys_clear(&pending);
	rejects_free(rejects, &nrejects);
}

/*
 * Drops the batch, reads the stored offsets and seeks every assigned
 * partition there; 0, or -1 if PostgreSQL failed (db_failed) or the seek.
 */
static int
reseek(void)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_error_t *error;
	int			rc = 0;

	drop_batch();
	if (read_offsets() != 0)
	{
		db_failed(&db);
		return -1;
	}
	list = rd_kafka_topic_partition_list_new((int) nparts);
	for (size_t i = 0; i < nparts; i++)
	{
		Part	   *p = &parts[i];

		p->position = p->stored;
		p->at_eof = 0;
		if (p->assigned)
			rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset =
				p->stored >= 0 ? p->stored : RD_KAFKA_OFFSET_BEGINNING;
	}
	if (list->cnt > 0 && (error = rd_kafka_seek_partitions(consumer, list, 10000)) != NULL)
	{
		fprintf(stderr, PROGNAME ": kafka: seek failed: %s\n", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		rc = -1;
	}
	for (int i = 0; rc == 0 && i < list->cnt; i++)
		if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			fprintf(stderr, PROGNAME ": kafka: seek of %s [%d] failed: %s\n", list->elems[i].topic,
					(int) list->elems[i].partition, rd_kafka_err2str(list->elems[i].err));
			rc = -1;
		}
	rd_kafka_topic_partition_list_destroy(list);
	need_reseek = rc != 0;
	return rc;
}

/*
 * With --once: every assigned partition is at its end, as the consumer
 * reported (enable.partition.eof; again after every seek).  ask_broker: a
 * partition not reported is at its end if the broker's high watermark is
 * the position (a round trip per partition, ~0.5 s on the mock cluster: so
 * only after a long idle, for ends the consumer does not report, such as a
 * transaction's control records).
 */
static int
all_at_end(int ask_broker)
{
	if (parts_assigned() == 0)
		return 0;
	for (size_t i = 0; i < nparts; i++)
	{
		Part	   *p = &parts[i];
		int64_t		low,
					high;

		if (!p->assigned || p->at_eof)
			continue;
		if (!ask_broker ||
			rd_kafka_query_watermark_offsets(consumer, p->topic, p->partition, &low, &high,
											 1000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
			(p->position >= 0 ? p->position : low) < high)
			return 0;
	}
	return 1;
}

static void progress_maybe(void);

/*
 * Takes messages into the batch until it is full, --linger ms passed since
 * its first, a stop is requested, a rebalance or failure needs a seek,
 * (--once) nothing is left, or, with none taken, publish_due (an outbox
 * that failed to publish is tried again) passed.
 */
#define ONCE_IDLE_ASK 5.0			/* seconds idle before all_at_end asks the broker */

static void
collect(double publish_due)
{
	double		idle_since = now_seconds();

	while (nbatch < (size_t) opt.batch && !stop_requested && !need_reseek && !need_db &&
		   !db_fatal && !kafka_fatal)
	{
		int			timeout = POLL_MS;
		rd_kafka_message_t *m;
		Part	   *p;
		double		t0;

		if (nbatch > 0)
		{
			double		left = opt.linger_ms - (now_seconds() - batch_first) * 1e3;

			if (left <= 0)
				break;
			timeout = left < POLL_MS ? (int) ceil(left) : POLL_MS;
		}
		progress_maybe();
		t0 = now_seconds();
		m = rd_kafka_consumer_poll(consumer, timeout);
		stats.wait += now_seconds() - t0;
		if (m == NULL)
		{
			int			ask = now_seconds() - idle_since >= ONCE_IDLE_ASK;

			if (nbatch == 0 && (now_seconds() >= publish_due || (opt.once && all_at_end(ask))))
				break;
			if (ask)
				idle_since = now_seconds();
			continue;
		}
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			{
				p = part_find(rd_kafka_topic_name(m->rkt), m->partition, 0);
				if (p != NULL && (p->position < 0 || m->offset >= p->position))
					p->at_eof = 1;
			}
			else
				fprintf(stderr, PROGNAME ": kafka: %s\n", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		p = part_find(rd_kafka_topic_name(m->rkt), m->partition, 0);
		if (p == NULL || !p->assigned || (p->position >= 0 && m->offset < p->position))
		{
			/* fetched before a seek, or taken already */
			rd_kafka_message_destroy(m);
			continue;
		}
		if (p->position >= 0 && m->offset > p->position)
			fprintf(stderr, PROGNAME ": warning: %s [%d]: offsets %lld to %lld were not delivered "
					"(deleted by retention before they were consumed? a transactional producer's "
					"markers skip offsets too)\n", p->topic, (int) p->partition,
					(long long) p->position, (long long) m->offset - 1);
		p->position = m->offset + 1;
		p->at_eof = 0;
		idle_since = now_seconds();
		if (nbatch == 0)
		{
			batch = batch ? batch : xmalloc((size_t) opt.batch * sizeof(*batch));
			batch_first = now_seconds();
		}
		batch[nbatch++] = m;
	}
}

/* ---------------------------------------------------------------------------
 * Decoding
 * ------------------------------------------------------------------------- */

/* What stopped the batch: a message whose schema id is unknown. */
static struct
{
	char	   *topic;
	int32_t		partition;
	int64_t		offset;
	int32_t		id;
} unknown_schema;

static int
framing_of(const uint8_t *buf, size_t len)
{
	if (opt.framing != FRAMING_AUTO)
		return opt.framing;
	if (len >= 4 && memcmp(buf, "Obj\x01", 4) == 0)
		return ALERT_CONTAINER;
	if (len >= 5 && buf[0] == 0)
		return ALERT_CONFLUENT;
	return ALERT_BARE;
}

/*
 * Decoding runs in --jobs threads, a chunk of the batch at a time: the
 * main thread first finds each message's writer schema (reading
 * antares.alert_schemas again for an id not known), the threads decode
 * (libavro and the kernel; each its own schema cache), and the main thread
 * then takes the results in message order: rejects, and the points not
 * sent before into the COPY rows.  Cost: the decoding divided among the
 * jobs; memory: one chunk's points.
 */
#define DECODE_CHUNK 1024
#define MAX_JOBS 16

typedef struct Decoded
{
	int			framing;
	const char *schema;			/* writer schema text, NULL for a container */
	size_t		schema_len;
	AlertDecodeStatus status;
	AlertDecodeError err;
	AlertResult result;
} Decoded;

static Decoded *decoded;		/* DECODE_CHUNK of them */
static AlertSchemaCache **schema_caches;	/* one a job */

typedef struct DecodeJob
{
	size_t		first;			/* batch index of decoded[0] */
	size_t		n;				/* messages in the chunk */
	int			job;
	int			njobs;
} DecodeJob;

/* A thread's share of a chunk: messages job, job + njobs, ... */
static void *
decode_job(void *arg)
{
	const DecodeJob *j = arg;

	for (size_t k = (size_t) j->job; k < j->n; k += (size_t) j->njobs)
	{
		const rd_kafka_message_t *m = batch[j->first + k];
		Decoded    *d = &decoded[k];

		memset(&d->err, 0, sizeof(d->err));
		if (d->framing == ALERT_BARE && d->schema == NULL)
		{
			d->status = ALERT_DECODE_BAD_SCHEMA;
			snprintf(d->err.message, sizeof(d->err.message),
					 "a bare message needs a writer schema (--writer-schema)");
		}
		else
			d->status = alert_decode(&kernel_heap_host, schema_caches[j->job], m->payload, m->len,
									 (AlertFraming) d->framing, d->schema, d->schema_len, &d->result,
									 &d->err);
	}
	return NULL;
}

typedef enum SchemaOutcome
{
	SCHEMA_FOUND,
	SCHEMA_UNKNOWN,
	SCHEMA_DB_FAILED			/* re-reading the schemas failed */
} SchemaOutcome;

/*
 * The framing and writer schema of message i into *d; a Confluent id not
 * known is looked up once more in antares.alert_schemas.  The schema texts
 * stay valid until the next load_schemas (decode_batch finds a chunk's
 * again after one).
 */
static SchemaOutcome
find_message_schema(size_t i, Decoded *d)
{
	const rd_kafka_message_t *m = batch[i];
	int32_t		id;
	const Schema *s;

	d->framing = framing_of(m->payload, m->len);
	d->schema = NULL;
	d->schema_len = 0;
	if (d->framing == ALERT_BARE && writer_schema.data != NULL)
	{
		d->schema = writer_schema.data;
		d->schema_len = writer_schema.len;
	}
	if (d->framing != ALERT_CONFLUENT ||
		alert_confluent_schema_id(m->payload, m->len, &id) != ALERT_DECODE_OK)
		return SCHEMA_FOUND;	/* the decoder says what is wrong */
	if ((s = find_schema(id)) == NULL)
	{
		if (load_schemas() != 0)
			return SCHEMA_DB_FAILED;
		if ((s = find_schema(id)) == NULL)
		{
			free(unknown_schema.topic);
			unknown_schema.topic = xstrdup(rd_kafka_topic_name(m->rkt));
			unknown_schema.partition = m->partition;
			unknown_schema.offset = m->offset;
			unknown_schema.id = id;
			return SCHEMA_UNKNOWN;
		}
	}
	d->schema = s->text;
	d->schema_len = s->len;
	return SCHEMA_FOUND;
}

/*
 * Message i's decoding taken: a reject, or its points not sent before
 * (committed, or in the batch in flight) into copy_rows.
 */
static void
take_decoded(size_t i, Decoded *d)
{
	if (d->status != ALERT_DECODE_OK)
	{
		const rd_kafka_message_t *m = batch[i];
		char		alert[32] = "";

		if (d->err.alert > 0)
			snprintf(alert, sizeof(alert), "alert %zu: ", d->err.alert);
		rejects = xrealloc(rejects, (nrejects + 1) * sizeof(Reject));
		rejects[nrejects++] = (Reject) {
			xstrdup(rd_kafka_topic_name(m->rkt)), m->partition, m->offset,
			xasprintf("%s%s: %s", alert, alert_decode_status_name(d->status), d->err.message),
			memcpy(xmalloc(m->len + 1), m->payload ? m->payload : "", m->len), m->len
		};
		return;
	}
	for (size_t k = 0; k < d->result.npoints; k++)
		if (!sent_keys_covers(&sent, &d->result.points[k]) &&
			!sent_keys_covers(&flight.keys, &d->result.points[k]) &&
			sent_keys_add(&pending, &d->result.points[k]))
		{
			format_point_binary(&copy_rows, &d->result.points[k]);
			batch_sent++;
		}
	batch_points += (long long) d->result.npoints;
	alert_result_free(&kernel_heap_host, &d->result);
}

/* The jobs' schema caches and the chunk's results; -1 if out of memory. */
static int
start_decoding(void)
{
	if (opt.jobs == 0)
	{
		long		cpus = sysconf(_SC_NPROCESSORS_ONLN);

		opt.jobs = cpus < 1 ? 1 : cpus > MAX_JOBS ? MAX_JOBS : (int) cpus;
	}
	decoded = xmalloc(DECODE_CHUNK * sizeof(Decoded));
	schema_caches = xmalloc((size_t) opt.jobs * sizeof(AlertSchemaCache *));
	for (int j = 0; j < opt.jobs; j++)
		if ((schema_caches[j] = alert_schema_cache_new(&kernel_heap_host)) == NULL)
		{
			fprintf(stderr, PROGNAME ": out of memory\n");
			return -1;
		}
	return 0;
}

/*
 * Decodes the batch's messages [0, *n): *n is cut at a message whose schema
 * id is unknown (SCHEMA_UNKNOWN).  SCHEMA_DB_FAILED if PostgreSQL failed.
 */
static SchemaOutcome
decode_batch(size_t *n)
{
	pthread_t	threads[MAX_JOBS];
	DecodeJob	jobs[MAX_JOBS];

	for (size_t first = 0; first < *n; first += DECODE_CHUNK)
	{
		size_t		chunk = *n - first < DECODE_CHUNK ? *n - first : DECODE_CHUNK;
		SchemaOutcome outcome = SCHEMA_FOUND;
		unsigned	loaded;
		int			started = 0;

		/* again if the schemas were read again: the texts found before are gone */
		do
		{
			loaded = schemas_loaded;
			for (size_t k = 0; k < chunk; k++)
			{
				SchemaOutcome o = find_message_schema(first + k, &decoded[k]);

				if (o != SCHEMA_FOUND)
				{
					outcome = o;
					chunk = k;
				}
			}
			if (outcome == SCHEMA_DB_FAILED)
				return outcome;
		} while (loaded != schemas_loaded);
		for (int j = 0; j < opt.jobs; j++)
		{
			jobs[j] = (DecodeJob) {first, chunk, j, opt.jobs};
			if (j == 0 || pthread_create(&threads[j], NULL, decode_job, &jobs[j]) != 0)
				continue;
			started |= 1 << j;
		}
		/* the main thread is job 0, and does the share of a job that did not start */
		for (int j = 0; j < opt.jobs; j++)
			if (!(started & (1 << j)))
				decode_job(&jobs[j]);
		for (int j = 1; j < opt.jobs; j++)
			if (started & (1 << j))
				pthread_join(threads[j], NULL);
		for (size_t k = 0; k < chunk; k++)
			take_decoded(first + k, &decoded[k]);
		if (outcome != SCHEMA_FOUND)
		{
			*n = first + chunk;
			return outcome;
		}
	}
	return SCHEMA_FOUND;
}

/* ---------------------------------------------------------------------------
 * One batch, one transaction, in flight
 * ------------------------------------------------------------------------- */

/* Appends a text[] element, double-quoted. */
static void
append_array_text(Buffer *b, const char *s)
{
	buf_append(b, "\"", 1);
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			buf_append(b, "\\", 1);
		buf_append(b, s, 1);
	}
	buf_append(b, "\"", 1);
}

static void
append_number(Buffer *b, long long x)
{
	char		text[32];

	if (x < 0)
		buf_append(b, "NULL", 4);
	else
		buf_append(b, text, (size_t) snprintf(text, sizeof(text), "%lld", x));
}

/*
 * stream_advance's arrays for the partitions with messages among the first
 * n of the batch, from their stored offsets to after their last message.
 */
static void
advance_arguments(size_t n, char *out[4])
{
	Buffer		arrays[4] = {{0}};

	for (size_t i = 0; i < nparts; i++)
		parts[i].batch_to = -1;
	for (size_t i = 0; i < n; i++)
	{
		Part	   *p = part_find(rd_kafka_topic_name(batch[i]->rkt), batch[i]->partition, 0);

		if (batch[i]->offset + 1 > p->batch_to)
			p->batch_to = batch[i]->offset + 1;
	}
	for (int a = 0; a < 4; a++)
		buf_append(&arrays[a], "{", 1);
	for (size_t i = 0; i < nparts; i++)
	{
		if (parts[i].batch_to < 0)
			continue;
		if (arrays[0].len > 1)
			for (int a = 0; a < 4; a++)
				buf_append(&arrays[a], ",", 1);
		append_array_text(&arrays[0], parts[i].topic);
		append_number(&arrays[1], parts[i].partition);
		append_number(&arrays[2], parts[i].stored);
		append_number(&arrays[3], parts[i].batch_to);
	}
	for (int a = 0; a < 4; a++)
	{
		buf_append(&arrays[a], "}", 2);
		out[a] = arrays[a].data;
	}
}

/* The batch's points (COPY's binary rows) into the temporary table. */
static int
copy_points(const Buffer *rows)
{
	PGresult   *res;
	double		t0;
	int			failed = 0;

	if (rows->len == 0)
		return 0;
	res = db_exec(&db, "COPY " BATCH_TABLE " (" ALERT_COLUMNS ") FROM STDIN WITH (FORMAT binary)", 0,
				  NULL, NULL, NULL, PGRES_COPY_IN);
	if (res == NULL)
		return -1;
	PQclear(res);
	t0 = now_seconds();
	if (send_copy_data(db.conn, copy_binary_header, COPY_BINARY_HEADER_SIZE) != 0 ||
		send_copy_data(db.conn, rows->data, rows->len) != 0 ||
		send_copy_data(db.conn, copy_binary_trailer, COPY_BINARY_TRAILER_SIZE) != 0 ||
		PQputCopyEnd(db.conn, NULL) != 1)
	{
		db_fail(&db, "COPY " BATCH_TABLE, NULL);
		failed = 1;
	}
	while ((res = PQgetResult(db.conn)) != NULL)
	{
		if (!failed && PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			db_fail(&db, "COPY " BATCH_TABLE, res);
			failed = 1;
		}
		PQclear(res);
	}
	db.seconds += now_seconds() - t0;
	return failed ? -1 : 0;
}

static int
reject_messages(const Flight *f, const char *stream_param)
{
	for (size_t k = 0; k < f->nrejects; k++)
	{
		const Reject *r = &f->rejects[k];
		char		partition[16];
		char		offset[32];
		const char *values[6] = {stream_param, r->topic, partition, offset, r->error, r->payload};
		int			lengths[6] = {0, 0, 0, 0, 0, (int) r->len};
		int			formats[6] = {0, 0, 0, 0, 0, 1};
		PGresult   *res;

		snprintf(partition, sizeof(partition), "%d", (int) r->partition);
		snprintf(offset, sizeof(offset), "%lld", (long long) r->offset);
		res = db_exec(&db, "SELECT antares.stream_reject($1, $2, $3::int, $4::bigint, $5, $6::bytea)",
					  6, values, lengths, formats, PGRES_TUPLES_OK);
		if (res == NULL)
			return -1;
		PQclear(res);
	}
	return 0;
}

/*
 * The flight's transaction, on the committer thread: BEGIN, COPY,
 * stream_process, rejects, stream_advance, COMMIT; rolled back on a
 * failure (db's failure says why).  Touches nothing but the flight and db.
 */
static void *
flight_commit(void *arg)
{
	Flight	   *f = arg;
	const char *stream_param = opt.stream;
	const char *process = "SELECT points_new FROM antares.stream_process($1, '" BATCH_TABLE "')";
	const char *advance[5] = {stream_param, f->advance[0], f->advance[1], f->advance[2], f->advance[3]};
	PGresult   *res = NULL;
	PGresult   *moved = NULL;

	f->failed = db_command(&db, "BEGIN") != 0 || copy_points(&f->copy) != 0 ||
		(res = db_exec(&db, process, 1, &stream_param, NULL, NULL, PGRES_TUPLES_OK)) == NULL ||
		reject_messages(f, stream_param) != 0 ||
		(moved = db_exec(&db, "SELECT antares.stream_advance($1, $2::text[], $3::int[], $4::bigint[], "
						 "$5::bigint[])", 5, advance, NULL, NULL, PGRES_TUPLES_OK)) == NULL ||
		db_command(&db, "COMMIT") != 0;
	if (f->failed)
		db_rollback(&db);
	else
	{
		f->committed = now_seconds();
		f->committed_ms = wall_ms();
		f->new_points = atoll(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	PQclear(moved);
	return NULL;
}

/* The flight's memory freed; it holds nothing after. */
static void
flight_clear(Flight *f)
{
	f->copy.len = 0;
	rejects_free(f->rejects, &f->nrejects);
	for (int a = 0; a < 4; a++)
	{
		free(f->advance[a]);
		f->advance[a] = NULL;
	}
	sent_keys_clear(&f->keys);
	f->n = 0;
}

/*
 * The first n messages of the batch in hand take off (the caller landed
 * the flight before): their COPY rows, rejects and keys move into the
 * flight, the whole batch is dropped, and the committer thread starts
 * (SIGTERM and SIGINT stay with the main thread).  If the thread cannot
 * start, the transaction runs here.
 */
static void
take_off(size_t n)
{
	Flight	   *f = &flight;
	Buffer		copy = f->copy;
	Reject	   *r = f->rejects;
	SentKeys	keys = f->keys;
	sigset_t	block,
				old;

	f->n = n;
	f->copy = copy_rows;
	copy_rows = copy;
	f->rejects = rejects;
	f->nrejects = nrejects;
	rejects = r;
	nrejects = 0;
	f->keys = pending;
	pending = keys;
	f->points = batch_points;
	f->sent = batch_sent;
	f->first = batch_first;
	advance_arguments(n, f->advance);
	f->timestamps = xrealloc(f->timestamps, (n > 0 ? n : 1) * sizeof(int64_t));
	for (size_t i = 0; i < n; i++)
	{
		rd_kafka_timestamp_type_t type;

		f->timestamps[i] = rd_kafka_message_timestamp(batch[i], &type);
	}
	drop_batch();
	f->airborne = 1;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (pthread_create(&f->thread, NULL, flight_commit, f) != 0)
	{
		flight_commit(f);
		f->airborne = 2;		/* landed already, nothing to join */
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/*
 * Waits for the flight and books its outcome: 0 when it committed (or
 * none was in flight); -1 when it failed: rolled back, need_reseek (and
 * need_db or db_fatal) set, so the batch in hand, decoded as if the flight
 * committed, is dropped too (by reseek, or by process_batch).
 */
static int
land(void)
{
	Flight	   *f = &flight;
	double		t0 = now_seconds();

	if (!f->airborne)
		return 0;
	if (f->airborne == 1)
		pthread_join(f->thread, NULL);
	f->airborne = 0;
	stats.land += now_seconds() - t0;
	if (f->failed)
	{
		if (db.failure == DB_CONFLICT)
			fprintf(stderr, PROGNAME ": stream %s's offsets were moved by another consumer "
					"(40001): batch dropped, seeking to the stored offsets\n", opt.stream);
		else
			db_failed(&db);
		flight_clear(f);
		need_reseek = 1;
		return -1;
	}
	for (size_t i = 0; i < f->n; i++)
		if (f->timestamps[i] >= 0)
			latency_add(f->committed_ms - (double) f->timestamps[i] > 0
						? f->committed_ms - (double) f->timestamps[i] : 0);
	for (size_t i = 0; i < nparts; i++)
		if (parts[i].batch_to >= 0)
			parts[i].stored = parts[i].batch_to;
	sent_keys_merge(&sent, &f->keys);
	stats.alerts += (long long) f->n;
	stats.points += f->points;
	stats.sent += f->sent;
	stats.new_points += f->new_points;
	stats.rejects += (long long) f->nrejects;
	stats.batches++;
	stats.last_batch_latency = f->committed - f->first;
	db_backoff = 0;
	flight_clear(f);
	return 0;
}

/*
 * Decodes the batch in hand, up to a message of unknown schema, and sends
 * that much off (after the flight before it landed).  SCHEMA_UNKNOWN: the
 * messages before it took off, unknown_schema names it; SCHEMA_DB_FAILED:
 * the batch is dropped, need_reseek set (need_db or db_fatal too when
 * PostgreSQL failed).
 */
static SchemaOutcome
process_batch(void)
{
	size_t		n = nbatch;
	double		t0 = now_seconds();
	double		land_before = stats.land;
	SchemaOutcome outcome;

	copy_rows.len = 0;
	batch_points = batch_sent = 0;
	sent_keys_clear(&pending);
	outcome = decode_batch(&n);
	stats.decode += now_seconds() - t0 - (stats.land - land_before);
	if (outcome == SCHEMA_DB_FAILED)
		db_failed(&db);
	/* a flight that failed, landing now or while the schemas were read, drops this batch too */
	if (land() != 0 || outcome == SCHEMA_DB_FAILED || need_reseek || need_db)
	{
		drop_batch();
		need_reseek = 1;
		return SCHEMA_DB_FAILED;
	}
	if (n > 0)
		take_off(n);
	else
		drop_batch();
	return outcome;
}

/* ---------------------------------------------------------------------------
 * Publishing the outbox
 * ------------------------------------------------------------------------- */

/* Sends one row; waits for room in the producer's queue. */
static void
produce_row(PGresult *res, int r)
{
	const char *topic = PQgetvalue(res, r, 1);
	const char *key = PQgetvalue(res, r, 2);
	int			tombstone = PQgetisnull(res, r, 3);
	const char *value = tombstone ? NULL : PQgetvalue(res, r, 3);
	size_t		value_len = tombstone ? 0 : (size_t) PQgetlength(res, r, 3);
	rd_kafka_resp_err_t err;

	delivery.pending++;
	while ((err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
									RD_KAFKA_V_KEY(key, strlen(key)),
									RD_KAFKA_V_VALUE((void *) value, value_len),
									RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
									RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		rd_kafka_poll(producer, POLL_MS);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		delivery.pending--;
		if (delivery.failed++ == 0)
			snprintf(delivery.error, sizeof(delivery.error), "%s", rd_kafka_err2str(err));
	}
}

/*
 * Sends the outbox, OUTBOX_ROWS rows a transaction, deleting the rows once
 * every delivery is reported (a crash before that sends them again: at
 * least once).  1 when the outbox is empty, 0 when a delivery failed (tried
 * again later), -1 when PostgreSQL failed (db_failed).
 */
static int
publish(void)
{
	char	   *select = xasprintf("SELECT seq, topic, key, payload::text FROM %s.outbox "
								   "ORDER BY seq LIMIT %d FOR UPDATE SKIP LOCKED",
								   stream_sql, OUTBOX_ROWS);
	char	   *delete = xasprintf("DELETE FROM %s.outbox WHERE seq = ANY($1::bigint[])",
								   stream_sql);
	int			rc = -1;

	for (;;)
	{
		PGresult   *res;
		PGresult   *done;
		Buffer		seqs = {0};
		int			rows;
		double		t0;

		if (db_command(&pub, "BEGIN") != 0 ||
			(res = db_exec(&pub, select, 0, NULL, NULL, NULL, PGRES_TUPLES_OK)) == NULL)
			break;
		rows = PQntuples(res);
		delivery.pending = delivery.failed = 0;
		buf_append(&seqs, "{", 1);
		for (int r = 0; r < rows; r++)
		{
			produce_row(res, r);
			if (r > 0)
				buf_append(&seqs, ",", 1);
			buf_append(&seqs, PQgetvalue(res, r, 0), (size_t) PQgetlength(res, r, 0));
		}
		buf_append(&seqs, "}", 2);
		PQclear(res);
		t0 = now_seconds();
		while (delivery.pending > 0)
		{
			rd_kafka_poll(producer, POLL_MS);
			progress_maybe();
			/*
			 * Kafka down: a stop is not held up for message.timeout.ms; the
			 * rows stay in the outbox, and whatever librdkafka still
			 * delivers is sent again (at least once).
			 */
			if (stop_requested && now_seconds() - t0 > STOP_GRACE_SECONDS)
			{
				delivery.failed += delivery.pending;
				snprintf(delivery.error, sizeof(delivery.error), "stopping before Kafka acknowledged them");
				break;
			}
		}
		stats.publish += now_seconds() - t0;
		if (delivery.failed > 0)
		{
			fprintf(stderr, PROGNAME ": publishing %s's outbox: %ld of %d deliveries failed (%s); "
					"sent again later\n", opt.stream, delivery.failed, rows, delivery.error);
			db_rollback(&pub);
			free(seqs.data);
			rc = 0;
			break;
		}
		done = rows == 0 ? NULL : db_exec(&pub, delete, 1, (const char *const *) &seqs.data, NULL, NULL,
										  PGRES_COMMAND_OK);
		free(seqs.data);
		if ((rows > 0 && done == NULL) || db_command(&pub, "COMMIT") != 0)
		{
			PQclear(done);
			break;
		}
		PQclear(done);
		stats.published += rows;
		if (rows < OUTBOX_ROWS)
		{
			rc = 1;
			break;
		}
	}
	if (rc < 0)
	{
		db_rollback(&pub);
		db_failed(&pub);
	}
	free(select);
	free(delete);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Progress
 * ------------------------------------------------------------------------- */

static void
progress_maybe(void)
{
	static double last;
	static long long last_alerts,
				last_points;
	double		now = now_seconds();
	Buffer		lag = {0};

	if (opt.progress <= 0)
		return;
	if (last == 0)
		last = stats.start;
	if (now - last < opt.progress)
		return;
	for (size_t i = 0; i < nparts; i++)
	{
		int64_t		low,
					high;
		char	   *item;

		if (!parts[i].assigned ||
			rd_kafka_get_watermark_offsets(consumer, parts[i].topic, parts[i].partition,
										   &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR || high < 0)
			continue;
		item = xasprintf(" %s/%d:%lld", parts[i].topic, (int) parts[i].partition,
						 (long long) (high - (parts[i].stored >= 0 ? parts[i].stored : low)));
		buf_append(&lag, item, strlen(item));
		free(item);
	}
	buf_append(&lag, "", 1);
	fprintf(stderr, PROGNAME ": progress: alerts=%lld alerts_per_s=%.0f points_per_s=%.0f "
			"batch_latency_ms=%.0f lag:%s\n", stats.alerts,
			(stats.alerts - last_alerts) / (now - last), (stats.points - last_points) / (now - last),
			stats.last_batch_latency * 1e3, lag.len > 1 ? lag.data : " -");
	free(lag.data);
	last = now;
	last_alerts = stats.alerts;
	last_points = stats.points;
}

/* ---------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------- */

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: " PROGNAME " --stream NAME -b BROKERS -t TOPIC [OPTION]...\n"
			"Consumes survey alert packets (ZTF and Rubin Avro) from Kafka into the stream\n"
			"NAME (antares.stream_create), exactly once: each micro-batch's points, object\n"
			"updates, alerts and Kafka offsets are committed in one transaction, and every\n"
			"partition resumes from the offset stored in the stream.  Alerts of the stream's\n"
			"filters are published from its outbox.\n"
			"\n"
			"  -s, --stream=NAME         the stream (required)\n"
			"  -b, --brokers=BROKERS     Kafka bootstrap servers, host:port[,...] (required)\n"
			"  -t, --topic=TOPIC         a topic to consume (required; repeat for more)\n"
			"  -g, --group=GROUP         consumer group (default: antares_stream.NAME)\n"
			"  -d, --dbname=CONNSTR      database name or connection string (default: libpq\n"
			"                            environment, PGHOST, PGDATABASE, ...)\n"
			"      --batch=N             at most N messages a batch (default: 10000)\n"
			"      --linger=MS           a batch ends MS ms after its first message (default: 200)\n"
			"  -j, --jobs=N              decoding threads (default: the processors, at most 16)\n"
			"      --framing=FRAMING     auto (default): \"Obj\\x01\" a container, a zero byte\n"
			"                            and a schema id Confluent, else bare; or container,\n"
			"                            confluent, bare for every message\n"
			"      --writer-schema=FILE  the writer schema (JSON) of bare messages\n"
			"      --schema=ID=FILE      store FILE as schema ID in antares.alert_schemas (the\n"
			"                            writer schemas of Confluent messages; repeatable)\n"
			"  -X, --setting=KEY=VALUE   a librdkafka setting, for the consumer, the producer\n"
			"                            or both as librdkafka's table says; consumer.KEY or\n"
			"                            producer.KEY for one only (repeatable)\n"
			"  -F, --config=FILE         KEY=VALUE lines as -X (# comments)\n"
			"      --once                exit when every partition is consumed and the outbox\n"
			"                            is empty\n"
			"      --progress=SECONDS    a progress line every SECONDS s (default: 10; 0: none)\n"
			"      --no-publish          leave the outbox to another publisher\n"
			"  -h, --help                show this help and exit\n"
			"\n"
			"Exit status: 0 after SIGTERM or SIGINT (the batch in hand committed first) or\n"
			"with --once; 2 on a message with an unknown schema id (what came before it is\n"
			"committed); 1 on bad usage or a fatal error.\n");
}

static int
add_setting(const char *arg, const char *where)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg)
	{
		fprintf(stderr, PROGNAME ": %s: invalid Kafka setting \"%.*s\" (KEY=VALUE)\n", where,
				is_secret(arg) ? 0 : (int) strlen(arg), arg);
		return -1;
	}
	opt.settings = xrealloc(opt.settings, (size_t) (opt.nsettings + 1) * sizeof(KafkaSetting));
	opt.settings[opt.nsettings].key = xasprintf("%.*s", (int) (eq - arg), arg);
	opt.settings[opt.nsettings++].value = xstrdup(eq + 1);
	return 0;
}

/* -F FILE: KEY=VALUE lines; blank lines and # comments skipped. */
static int
read_config(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		n;
	int			lineno = 0;
	int			rc = 0;

	if (f == NULL)
	{
		fprintf(stderr, PROGNAME ": could not open file \"%s\": %s\n", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0)
	{
		char		where[64];
		char	   *s = line;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		snprintf(where, sizeof(where), "line %d of -F", lineno);
		rc = add_setting(s, where);
	}
	free(line);
	fclose(f);
	return rc;
}

static int
parse_long(const char *arg, const char *what, long min, long max, long *out)
{
	char	   *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	if (errno || end == arg || *end || *out < min || *out > max)
	{
		fprintf(stderr, PROGNAME ": invalid %s \"%s\" (%ld to %ld)\n", what, arg, min, max);
		return -1;
	}
	return 0;
}

static int
parse_option(int c, const char *arg)
{
	long		v = 0;
	char	   *end;

	switch (c)
	{
		case 's':
			opt.stream = arg;
			return 0;
		case 'b':
			opt.brokers = arg;
			return 0;
		case 't':
			opt.topics = xrealloc(opt.topics, (size_t) (opt.ntopics + 1) * sizeof(char *));
			opt.topics[opt.ntopics++] = arg;
			return 0;
		case 'g':
			opt.group = arg;
			return 0;
		case 'd':
			opt.conninfo = arg;
			return 0;
		case 'B':
			return parse_long(arg, "--batch", 1, 1000000, &opt.batch);
		case 'L':
			return parse_long(arg, "--linger", 0, 3600000, &opt.linger_ms);
		case 'j':
			if (parse_long(arg, "--jobs", 1, MAX_JOBS, &v) != 0)
				return -1;
			opt.jobs = (int) v;
			return 0;
		case 'f':
			if (strcmp(arg, "auto") == 0)
				opt.framing = FRAMING_AUTO;
			else if (strcmp(arg, "container") == 0)
				opt.framing = ALERT_CONTAINER;
			else if (strcmp(arg, "confluent") == 0)
				opt.framing = ALERT_CONFLUENT;
			else if (strcmp(arg, "bare") == 0)
				opt.framing = ALERT_BARE;
			else
			{
				fprintf(stderr, PROGNAME ": invalid --framing \"%s\" (auto, container, confluent "
						"or bare)\n", arg);
				return -1;
			}
			return 0;
		case 'W':
			opt.writer_schema_file = arg;
			return 0;
		case 'S':
			if (strchr(arg, '=') == NULL)
				end = (char *) arg;
			else
			{
				errno = 0;
				v = strtol(arg, &end, 10);
			}
			if (end == arg || *end != '=' || end[1] == '\0' || errno || v < 0 || v > INT32_MAX)
			{
				fprintf(stderr, PROGNAME ": invalid --schema \"%s\" (ID=FILE, ID 0 to %d)\n", arg,
						INT32_MAX);
				return -1;
			}
			opt.schemas = xrealloc(opt.schemas, (size_t) (opt.nschemas + 1) * sizeof(SchemaFile));
			opt.schemas[opt.nschemas++] = (SchemaFile) {(int32_t) v, end + 1};
			return 0;
		case 'X':
			return add_setting(arg, "-X");
		case 'F':
			return read_config(arg);
		case 'O':
			opt.once = 1;
			return 0;
		case 'P':
			opt.progress = strtod(arg, &end);
			if (end == arg || *end || !(opt.progress >= 0))
			{
				fprintf(stderr, PROGNAME ": invalid --progress \"%s\" (seconds, 0: none)\n", arg);
				return -1;
			}
			return 0;
		case 'N':
			opt.publish = 0;
			return 0;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
	}
}

static int
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"stream", required_argument, NULL, 's'},
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"group", required_argument, NULL, 'g'},
		{"dbname", required_argument, NULL, 'd'},
		{"batch", required_argument, NULL, 'B'},
		{"linger", required_argument, NULL, 'L'},
		{"jobs", required_argument, NULL, 'j'},
		{"framing", required_argument, NULL, 'f'},
		{"writer-schema", required_argument, NULL, 'W'},
		{"schema", required_argument, NULL, 'S'},
		{"setting", required_argument, NULL, 'X'},
		{"config", required_argument, NULL, 'F'},
		{"once", no_argument, NULL, 'O'},
		{"progress", required_argument, NULL, 'P'},
		{"no-publish", no_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	const char *env = getenv("ANTARES_STREAM_DEDUP_KEYS");
	int			c;

	while ((c = getopt_long(argc, argv, "s:b:t:g:d:j:X:F:h", longopts, NULL)) != -1)
		if (parse_option(c, optarg) != 0)
		{
			fprintf(stderr, "Try \"" PROGNAME " --help\".\n");
			return -1;
		}
	if (optind < argc || opt.stream == NULL || opt.brokers == NULL || opt.ntopics == 0)
	{
		fprintf(stderr, PROGNAME ": %s\nTry \"" PROGNAME " --help\".\n",
				optind < argc ? "too many arguments" : "--stream, -b and -t are required");
		return -1;
	}
	if (opt.group == NULL)
		opt.group = xasprintf(PROGNAME ".%s", opt.stream);
	opt.dedup_keys = SENT_KEYS_LIMIT;
	if (env != NULL)
	{
		long		n;

		if (parse_long(env, "ANTARES_STREAM_DEDUP_KEYS", 0, 1000000000, &n) != 0)
			return -1;
		opt.dedup_keys = (size_t) n;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Main
 * ------------------------------------------------------------------------- */

static void
on_signal(int sig)
{
	(void) sig;
	stop_requested = 1;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND; /* a second signal ends the consumer at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* Connects, checks the stream, stores --schema, loads schemas; 0 or -1. */
static int
start_database(void)
{
	char	   *quoted;

	if (db_connect_both() != 0)
	{
		fprintf(stderr, PROGNAME ": %s", db.error);
		return -1;
	}
	quoted = PQescapeIdentifier(db.conn, opt.stream, strlen(opt.stream));
	stream_sql = xstrdup(quoted);
	PQfreemem(quoted);
	if (read_offsets() != 0)
	{
		fprintf(stderr, PROGNAME ": stream \"%s\" not readable (made by antares.stream_create?): %s",
				opt.stream, db.error);
		return -1;
	}
	if (register_schemas() != 0)
		return -1;
	if (load_schemas() != 0)
	{
		fprintf(stderr, PROGNAME ": %s", db.error);
		return -1;
	}
	return 0;
}

/* The bare messages' writer schema, checked now rather than per message. */
static int
read_writer_schema(void)
{
	AlertSurvey survey;
	AlertDecodeError err;

	if (opt.writer_schema_file == NULL)
		return 0;
	if (read_text_file(opt.writer_schema_file, &writer_schema) != 0)
		return -1;
	if (alert_schema_survey(&kernel_heap_host, writer_schema.data, writer_schema.len, &survey,
							&err) != ALERT_DECODE_OK)
	{
		fprintf(stderr, PROGNAME ": --writer-schema %s: %s\n", opt.writer_schema_file, err.message);
		return -1;
	}
	return 0;
}

/* The consumer's loop; returns the exit status. */
static int
run(void)
{
	double		publish_backoff = 0;
	double		publish_after = 0;
	int			outbox_empty = !opt.publish;

	for (;;)
	{
		SchemaOutcome outcome;

		if (kafka_fatal || db_fatal)
			return EXIT_FATAL;
		if (need_db)
		{
			land();
			drop_batch();
			if (db_reconnect() != 0)
				return db_fatal ? EXIT_FATAL : 0;
			need_db = 0;
			need_reseek = 1;
		}
		if (need_reseek && reseek() != 0)
		{
			if (!need_db && !db_fatal)
				sleep_unless_stopped(BACKOFF_MIN);	/* the seek failed */
			if (stop_requested)
				return 0;
			continue;
		}
		/* the outbox of the batches landed, while the next one is in flight */
		if (opt.publish && now_seconds() >= publish_after)
		{
			int			p = publish();

			outbox_empty = p == 1;
			if (p < 0)
				continue;
			publish_backoff = p == 0 ? (publish_backoff > 0 ? publish_backoff * 2 : BACKOFF_MIN) : 0;
			publish_backoff = publish_backoff < BACKOFF_MAX ? publish_backoff : BACKOFF_MAX;
			publish_after = now_seconds() + publish_backoff;
		}
		if (stop_requested)
		{
			if (land() == 0 && opt.publish)
				publish();
			return 0;
		}
		if (opt.once && nbatch == 0 && !flight.airborne && outbox_empty && all_at_end(0))
			return 0;

		/* idle with a batch in flight: back within a poll, to land it and publish */
		collect(flight.airborne ? 0 : outbox_empty ? HUGE_VAL : publish_after);
		if (need_reseek || need_db || db_fatal || kafka_fatal)
			continue;
		if (nbatch == 0)
		{
			land();
			continue;
		}
		outcome = process_batch();
		if (outcome == SCHEMA_DB_FAILED)
			continue;
		if (outcome == SCHEMA_UNKNOWN)
		{
			if (land() != 0)
				continue;
			if (opt.publish)
				publish();
			fprintf(stderr, PROGNAME ": topic %s partition %d offset %lld: unknown schema id %d "
					"(not in antares.alert_schemas; add it with --schema %d=FILE); stopped, the "
					"messages before it committed\n", unknown_schema.topic,
					(int) unknown_schema.partition, (long long) unknown_schema.offset,
					(int) unknown_schema.id, (int) unknown_schema.id);
			return EXIT_UNKNOWN_SCHEMA;
		}
		publish_after = 0;
	}
}

int
main(int argc, char **argv)
{
	int			status;

	stats.start = now_seconds();
	if (parse_options(argc, argv) != 0)
		return EXIT_FATAL;
	alert_decode_init();
	if (start_decoding() != 0 || read_writer_schema() != 0 || start_database() != 0)
		return EXIT_FATAL;
	sent.limit = opt.dedup_keys;
	pending.limit = flight.keys.limit = SIZE_MAX;
	install_signals();
	if ((consumer = kafka_new(1)) == NULL ||
		(opt.publish && (producer = kafka_new(0)) == NULL) || kafka_subscribe() != 0)
		return EXIT_FATAL;

	status = run();

	land();
	drop_batch();
	rd_kafka_consumer_close(consumer);
	rd_kafka_destroy(consumer);
	if (producer != NULL)
	{
		rd_kafka_flush(producer, (int) (STOP_GRACE_SECONDS * 1000));
		rd_kafka_destroy(producer);
	}
	print_summary(db.seconds + pub.seconds);
	PQfinish(db.conn);
	PQfinish(pub.conn);
	for (int j = 0; j < opt.jobs; j++)
		alert_schema_cache_free(schema_caches[j]);
	free(schema_caches);
	free(decoded);
	sent_keys_free(&sent);
	sent_keys_free(&pending);
	sent_keys_free(&flight.keys);
	free(flight.copy.data);
	free(flight.rejects);
	free(flight.timestamps);
	free(copy_rows.data);
	free(writer_schema.data);
	free(batch);
	free(rejects);
	free(db.error);
	free(pub.error);
	free(stream_sql);
	free(unknown_schema.topic);
	for (int i = 0; i < nschemas; i++)
		free(schemas[i].text);
	free(schemas);
	for (size_t i = 0; i < nparts; i++)
		free(parts[i].topic);
	free(parts);
	for (int i = 0; i < opt.nsettings; i++)
	{
		free(opt.settings[i].key);
		free(opt.settings[i].value);
	}
	free(opt.settings);
	free(property_table);
	free(opt.schemas);
	free(opt.topics);
	return status;
}
