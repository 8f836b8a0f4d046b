/*
 * antares_kafka_mock.c
 *		An embedded Kafka cluster for tests and benchmarks: librdkafka's mock
 *		cluster (rdkafka_mock.h) speaking the Kafka protocol on loopback TCP,
 *		driven by one-line commands on stdin.
 *
 *	 antares_kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...
 *						[--schema ID=FILE]...
 *
 * The first stdout line is the bootstrap address; then each command line
 * gets one answer line, "ok ..." or "error ...":
 *	 produce TOPIC FILE [key=object|none] [rate=MSGS_PER_S]
 *	 down ID | up ID
 *	 consume TOPIC FILE
 *	 watermarks TOPIC
 *	 quit (or the end of stdin)
 * (usage() says what each does.)
 *
 * The mock's limits: it keeps only the most recent ~5 MB or 100,000
 * message sets of each partition and drops the older ones without a word
 * (the low watermark moves: 10,000 alerts of 1,664 bytes into one partition
 * left the last 2,822, 4.7 MB), so a test produces into enough partitions,
 * or paces the producer (rate=) behind its consumer; a message "lost" beyond
 * that is the mock's doing.  bench/kafka.py measures its delivery rate
 * (to kcat) beside the consumer's.
 *
 * key=object decodes every message with the alert kernel (src/alert_decode.c)
 * to key it by its object id, so that an object's alerts stay in one
 * partition, in order (librdkafka's default partitioner hashes the key).
 * The whole file is checked and keyed before the first message is sent:
 * a bad file sends nothing.  The file is mapped, not copied: the producer
 * sends from the mapping, which stays until every delivery report is in.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "alert_decode.h"
#include "cli.h"
#include "kernel_host_heap.h"

#define PROGNAME "antares_kafka_mock"
#define MAX_SCHEMAS 64
#define MAX_TOPICS 64
#define MAX_BROKERS 101			/* ids 1..100 */
#define TIMEOUT_MS 10000		/* a metadata or watermark query, a quiet consume */

const char progname[] = PROGNAME;

typedef struct Schema
{
	int32_t		id;
	char	   *text;
	size_t		len;
} Schema;

static Schema schemas[MAX_SCHEMAS];
static int	nschemas;
static const char *topics[MAX_TOPICS];	/* NAME:PARTITIONS */
static int	ntopics;

static rd_kafka_t *mock_rk;		/* owns the mock cluster */
static rd_kafka_mock_cluster_t *mcluster;
static rd_kafka_t *producer;
static rd_kafka_t *consumer;	/* made at the first consume */
static char bootstrap[1024];
static int	nbrokers = 1;
static int	broker_down[MAX_BROKERS];

/* Delivery reports of the current produce command. */
static long delivered,
			failed;
static char first_failure[256];

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: " PROGNAME " [--brokers N] [--topic NAME:PARTITIONS]... [--schema ID=FILE]...\n"
			"Starts librdkafka's mock Kafka cluster (loopback TCP, the Kafka protocol),\n"
			"creates the topics, prints the bootstrap address as the first stdout line,\n"
			"then answers each command on stdin with one line \"ok ...\" or \"error ...\":\n"
			"\n"
			"  produce TOPIC FILE [key=object|none] [rate=MSGS_PER_S]\n"
			"      FILE holds messages each preceded by its length (4 bytes, big-endian),\n"
			"      as antares_alertgen --framing confluent|bare writes them; key=object\n"
			"      (default) keys each by its alert's object id (decimal text; Confluent\n"
			"      framing with a --schema id, bare with the only --schema, or an Avro\n"
			"      container), so one object's alerts stay in one partition, in order;\n"
			"      rate= paces the sending; answers \"ok N\" once all N are delivered.\n"
			"      The whole file is checked first: a bad one sends nothing.\n"
			"  down ID, up ID\n"
			"      broker ID (1..N) down (connections closed and refused) or up again.\n"
			"  consume TOPIC FILE\n"
			"      every message now in TOPIC (each partition from its low to its high\n"
			"      watermark) to FILE as lines partition<TAB>offset<TAB>key<TAB>value, key\n"
			"      and value escaped as in COPY's text format, \\N for none (a value \\N\n"
			"      is a tombstone); answers \"ok N\".\n"
			"  watermarks TOPIC\n"
			"      \"ok p:low:high ...\", one per partition.\n"
			"  (produce, consume and watermarks refuse a topic whose partition leader is\n"
			"  down: they would wait for it.)\n"
			"  quit, or the end of stdin: exit 0.\n"
			"\n"
			"      --brokers=N            brokers (default: 1)\n"
			"      --topic=NAME:PARTS     a topic of PARTS partitions (repeatable)\n"
			"      --schema=ID=FILE       writer schema (JSON) of Confluent schema id ID\n"
			"  -h, --help                 show this help and exit\n"
			"\n"
			"Limits of the mock: each partition keeps only its most recent ~5 MB or\n"
			"100,000 message sets, older messages are dropped silently (the low\n"
			"watermark moves): produce into enough partitions, or pace the producer\n"
			"with rate= behind the consumer.  Other topics are created on first use\n"
			"with the mock's default partition count.\n"
			"\n"
			"Exit status: 0; 1 the cluster could not start; 2 bad options.\n");
}

/* The answer to a command: one line on stdout. */
static void
answer(const char *fmt,...)
			__attribute__((format(printf, 1, 2)));

static void
answer(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static long
number(const char *s, long min, long max, int *ok)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	*ok = !(errno || end == s || *end || v < min || v > max);
	return v;
}

/* ------------------------------------------------------------------ setup */

static char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
		bad_usage("cannot read \"%s\": %s", path, strerror(errno));
	buf = xmalloc(size + 1);
	if (fread(buf, 1, size, f) != (size_t) size)
		bad_usage("cannot read \"%s\"", path);
	buf[size] = '\0';
	fclose(f);
	*len = size;
	return buf;
}

static void
add_schema(const char *arg)
{
	const char *eq = strchr(arg, '=');
	char		idtext[16];
	int			ok;
	long		id;
	AlertSurvey survey;
	AlertDecodeError err;

	if (eq == NULL || eq == arg || (size_t) (eq - arg) >= sizeof(idtext))
		bad_usage("invalid --schema \"%s\" (ID=FILE)", arg);
	memcpy(idtext, arg, eq - arg);
	idtext[eq - arg] = '\0';
	id = number(idtext, 0, INT32_MAX, &ok);
	if (!ok)
		bad_usage("invalid schema id \"%s\" (0 to %d)", idtext, INT32_MAX);
	if (nschemas == MAX_SCHEMAS)
		bad_usage("more than %d schemas", MAX_SCHEMAS);
	for (int i = 0; i < nschemas; i++)
		if (schemas[i].id == id)
			bad_usage("schema id %ld given twice", id);
	schemas[nschemas].id = (int32_t) id;
	schemas[nschemas].text = read_file(eq + 1, &schemas[nschemas].len);
	if (alert_schema_survey(&kernel_heap_host, schemas[nschemas].text, schemas[nschemas].len,
							&survey, &err) != ALERT_DECODE_OK)
		bad_usage("schema \"%s\": %s", eq + 1, err.message);
	nschemas++;
}

static void
make_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		die(1, "%s=%s: %s", key, value, errstr);
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void) rk;
	(void) opaque;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		delivered++;
	else if (failed++ == 0)
		snprintf(first_failure, sizeof(first_failure), "%s", rd_kafka_err2str(m->err));
}

static rd_kafka_t *
new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
	char		errstr[512];
	rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));

	if (rk == NULL)
		die(1, "%s", errstr);
	return rk;
}

static void
start_cluster(int brokers)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	/* This handle only hosts the cluster: no "no bootstrap.servers" notice. */
	make_conf_set(conf, "log_level", "4");
	mock_rk = new_client(RD_KAFKA_PRODUCER, conf);
	mcluster = rd_kafka_mock_cluster_new(mock_rk, brokers);
	if (mcluster == NULL)
		die(1, "the mock cluster did not start");
	snprintf(bootstrap, sizeof(bootstrap), "%s", rd_kafka_mock_cluster_bootstraps(mcluster));

	conf = rd_kafka_conf_new();
	make_conf_set(conf, "bootstrap.servers", bootstrap);
	/* A lost connection (a broker set down) is expected here, not news. */
	make_conf_set(conf, "log.connection.close", "false");
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	producer = new_client(RD_KAFKA_PRODUCER, conf);
}

static void
create_topic(const char *arg)
{
	const char *colon = strrchr(arg, ':');
	char		name[256];
	int			ok;
	long		parts;
	rd_kafka_resp_err_t err;

	if (colon == NULL || colon == arg || (size_t) (colon - arg) >= sizeof(name))
		bad_usage("invalid --topic \"%s\" (NAME:PARTITIONS)", arg);
	parts = number(colon + 1, 1, 100000, &ok);
	if (!ok)
		bad_usage("invalid partition count in --topic \"%s\" (1 to 100000)", arg);
	memcpy(name, arg, colon - arg);
	name[colon - arg] = '\0';
	err = rd_kafka_mock_topic_create(mcluster, name, (int) parts, 1);
	if (err)
		die(1, "topic \"%s\": %s", name, rd_kafka_err2str(err));
}

/* ------------------------------------------------------------------ produce */

static int	partition_count(const char *topic, char *why, size_t whylen);

typedef struct MappedFile
{
	uint8_t    *data;
	size_t		len;
} MappedFile;

static int
map_file(const char *path, MappedFile *mf, char *why, size_t whylen)
{
	int			fd = open(path, O_RDONLY);
	struct stat st;

	mf->data = NULL;
	mf->len = 0;
	if (fd < 0 || fstat(fd, &st) != 0)
	{
		snprintf(why, whylen, "cannot open \"%s\": %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	mf->len = st.st_size;
	if (mf->len > 0)
	{
		mf->data = mmap(NULL, mf->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (mf->data == MAP_FAILED)
		{
			snprintf(why, whylen, "cannot map \"%s\": %s", path, strerror(errno));
			mf->data = NULL;
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

static void
unmap_file(MappedFile *mf)
{
	if (mf->data != NULL)
		munmap(mf->data, mf->len);
	mf->data = NULL;
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
 * The object id of one message, or -1 and why.  Confluent framing when the
 * message says a schema id we have; else an Avro container; else a bare
 * datum of the only schema.
 */
static int64_t
message_object(AlertSchemaCache *cache, const uint8_t *msg, size_t len, char *why, size_t whylen)
{
	AlertFraming framing;
	const Schema *schema = NULL;
	int32_t		id;
	AlertResult result;
	AlertDecodeError err;
	int64_t		objid;

	if (alert_confluent_schema_id(msg, len, &id) == ALERT_DECODE_OK && (schema = find_schema(id)) != NULL)
		framing = ALERT_CONFLUENT;
	else if (len >= 4 && memcmp(msg, "Obj\x01", 4) == 0)
		framing = ALERT_CONTAINER;
	else if (nschemas == 1 && (len == 0 || msg[0] != 0))
	{
		framing = ALERT_BARE;
		schema = &schemas[0];
	}
	else
	{
		if (alert_confluent_schema_id(msg, len, &id) == ALERT_DECODE_OK)
			snprintf(why, whylen, "unknown schema id %" PRId32 " (give it with --schema)", id);
		else
			snprintf(why, whylen, "neither Confluent framing, an Avro container, nor a bare datum of one --schema");
		return -1;
	}
	if (alert_decode(&kernel_heap_host, cache, msg, len, framing,
					 schema ? schema->text : NULL, schema ? schema->len : 0,
					 &result, &err) != ALERT_DECODE_OK)
	{
		snprintf(why, whylen, "%s", err.message);
		return -1;
	}
	objid = result.npoints > 0 ? result.points[0].object_id : -1;
	alert_result_free(&kernel_heap_host, &result);
	if (objid < 0)
		snprintf(why, whylen, "the alert has no point to take its object from");
	return objid;
}

/*
 * Splits the file into messages (offsets into it) and keys them; returns
 * the count, or -1 with why (message numbers 1-based).
 */
static long
split_messages(const MappedFile *mf, int key_object, size_t **starts, int64_t **objids,
			   char *why, size_t whylen)
{
	size_t		pos = 0,
				cap = 1024;
	long		n = 0;
	AlertSchemaCache *cache = NULL;

	*starts = xmalloc(cap * sizeof(size_t));
	*objids = key_object ? xmalloc(cap * sizeof(int64_t)) : NULL;
	if (key_object && (cache = alert_schema_cache_new(&kernel_heap_host)) == NULL)
		die(1, "out of memory");
	while (pos < mf->len)
	{
		uint32_t	len;
		char		decode_why[300];

		if (mf->len - pos < 4)
		{
			snprintf(why, whylen, "message %ld: a length cut short at the end of the file", n + 1);
			n = -1;
			break;
		}
		len = (uint32_t) mf->data[pos] << 24 | (uint32_t) mf->data[pos + 1] << 16 |
			(uint32_t) mf->data[pos + 2] << 8 | mf->data[pos + 3];
		if (len > mf->len - pos - 4)
		{
			snprintf(why, whylen, "message %ld: length %" PRIu32 " past the end of the file", n + 1, len);
			n = -1;
			break;
		}
		if ((size_t) n == cap)
		{
			cap *= 2;
			*starts = xrealloc(*starts, cap * sizeof(size_t));
			if (key_object)
				*objids = xrealloc(*objids, cap * sizeof(int64_t));
		}
		(*starts)[n] = pos;
		if (key_object &&
			((*objids)[n] = message_object(cache, mf->data + pos + 4, len,
										   decode_why, sizeof(decode_why))) < 0)
		{
			snprintf(why, whylen, "message %ld: %s", n + 1, decode_why);
			n = -1;
			break;
		}
		pos += 4 + (size_t) len;
		n++;
	}
	if (cache != NULL)
		alert_schema_cache_free(cache);
	return n;
}

static void
cmd_produce(char **args, int nargs)
{
	const char *topic,
			   *path;
	int			key_object = 1,
				ok;
	double		rate = 0,
				start;
	MappedFile	mf;
	size_t	   *starts = NULL;
	int64_t    *objids = NULL;
	long		n;
	char		why[512];

	if (nargs < 2)
	{
		answer("error usage: produce TOPIC FILE [key=object|none] [rate=MSGS_PER_S]");
		return;
	}
	topic = args[0];
	path = args[1];
	for (int i = 2; i < nargs; i++)
	{
		if (strcmp(args[i], "key=object") == 0)
			key_object = 1;
		else if (strcmp(args[i], "key=none") == 0)
			key_object = 0;
		else if (strncmp(args[i], "rate=", 5) == 0 &&
				 (rate = number(args[i] + 5, 1, 100000000, &ok), ok))
			;
		else
		{
			answer("error invalid argument \"%s\" (key=object|none, rate=1..100000000)", args[i]);
			return;
		}
	}
	if (map_file(path, &mf, why, sizeof(why)) != 0)
	{
		answer("error %s", why);
		return;
	}
	/* Delivery to a down leader would wait, and this command with it. */
	if (partition_count(topic, why, sizeof(why)) < 0)
	{
		answer("error %s (nothing sent)", why);
		goto done;
	}
	n = split_messages(&mf, key_object, &starts, &objids, why, sizeof(why));
	if (n < 0)
	{
		answer("error %s: %s (nothing sent)", path, why);
		goto done;
	}

	delivered = failed = 0;
	start = now_seconds();
	for (long i = 0; i < n; i++)
	{
		const uint8_t *msg = mf.data + starts[i];
		size_t		len = (uint32_t) msg[0] << 24 | (uint32_t) msg[1] << 16 |
			(uint32_t) msg[2] << 8 | msg[3];
		char		key[24];
		size_t		keylen = 0;
		rd_kafka_resp_err_t err;

		if (rate > 0)
		{
			/* message i leaves at start + i / rate, not before */
			double		wait = start + i / rate - now_seconds();

			while (wait > 0)
			{
				rd_kafka_poll(producer, wait >= 0.001 ? (int) (wait * 1000) : 0);
				if (wait < 0.001)
				{
					struct timespec ts = {0, (long) (wait * 1e9)};

					nanosleep(&ts, NULL);
				}
				wait = start + i / rate - now_seconds();
			}
		}
		if (key_object)
			keylen = snprintf(key, sizeof(key), "%" PRId64, objids[i]);
		/* No copy: the mapping outlives every delivery (flush below). */
		while ((err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
										RD_KAFKA_V_VALUE((void *) (msg + 4), len),
										RD_KAFKA_V_KEY(key_object ? key : NULL, keylen),
										RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(producer, 100);
		if (err)
		{
			snprintf(first_failure, sizeof(first_failure), "%s", rd_kafka_err2str(err));
			failed += n - i;
			break;
		}
		rd_kafka_poll(producer, 0);
	}
	while (rd_kafka_outq_len(producer) > 0)
		rd_kafka_poll(producer, 100);
	if (failed > 0)
		answer("error %ld of %ld messages not delivered: %s", failed, n, first_failure);
	else
		answer("ok %ld", delivered);
done:
	unmap_file(&mf);
	free(starts);
	free(objids);
}

/* ------------------------------------------------------------------ topics */

/*
 * The partition count of topic, or -1 with why; also -1 when a partition's
 * leader is down: librdkafka before 2.3 waits in
 * rd_kafka_query_watermark_offsets for a down leader past its timeout, for
 * ever (librdkafka issue 2588).
 */
static int
partition_count(const char *topic, char *why, size_t whylen)
{
	rd_kafka_topic_t *rkt;
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;
	int			n = -1,
				up = 0;

	for (int id = 1; id <= nbrokers; id++)
		up += !broker_down[id];
	if (up == 0)
	{
		/* the metadata request would wait its whole timeout */
		snprintf(why, whylen, "every broker is down");
		return -1;
	}
	rkt = rd_kafka_topic_new(producer, topic, NULL);
	err = rd_kafka_metadata(producer, 0, rkt, &md, TIMEOUT_MS);
	rd_kafka_topic_destroy(rkt);
	if (err)
	{
		snprintf(why, whylen, "metadata of \"%s\": %s", topic, rd_kafka_err2str(err));
		return -1;
	}
	if (md->topic_cnt != 1 || md->topics[0].err)
		snprintf(why, whylen, "topic \"%s\": %s", topic,
				 md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not found");
	else
	{
		n = md->topics[0].partition_cnt;
		for (int p = 0; p < n; p++)
		{
			int32_t		leader = md->topics[0].partitions[p].leader;

			if (leader >= 0 && leader < MAX_BROKERS && broker_down[leader])
			{
				snprintf(why, whylen, "partition %d of \"%s\": its leader, broker %d, is down",
						 md->topics[0].partitions[p].id, topic, (int) leader);
				n = -1;
				break;
			}
		}
	}
	rd_kafka_metadata_destroy(md);
	return n;
}

/* Every partition's watermarks into low[], high[] (malloc'd); count or -1. */
static int
watermarks(const char *topic, int64_t **low, int64_t **high, char *why, size_t whylen)
{
	int			n = partition_count(topic, why, whylen);

	if (n < 0)
		return -1;
	*low = xmalloc(n * sizeof(int64_t));
	*high = xmalloc(n * sizeof(int64_t));
	for (int p = 0; p < n; p++)
	{
		rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(producer, topic, p, &(*low)[p],
																   &(*high)[p], TIMEOUT_MS);

		if (err)
		{
			snprintf(why, whylen, "watermarks of \"%s\" [%d]: %s", topic, p, rd_kafka_err2str(err));
			free(*low);
			free(*high);
			return -1;
		}
	}
	return n;
}

static void
cmd_watermarks(char **args, int nargs)
{
	int64_t    *low,
			   *high;
	char		why[512];
	int			n;

	if (nargs != 1)
	{
		answer("error usage: watermarks TOPIC");
		return;
	}
	if ((n = watermarks(args[0], &low, &high, why, sizeof(why))) < 0)
	{
		answer("error %s", why);
		return;
	}
	printf("ok");
	for (int p = 0; p < n; p++)
		printf(" %d:%" PRId64 ":%" PRId64, p, low[p], high[p]);
	answer("%s", "");
	free(low);
	free(high);
}

/* ------------------------------------------------------------------ consume */

/* bytes as a field of COPY's text format; NULL as \N. */
static void
write_field(FILE *out, const void *bytes, size_t len)
{
	const unsigned char *s = bytes;

	if (bytes == NULL)
	{
		fputs("\\N", out);
		return;
	}
	for (size_t i = 0; i < len; i++)
	{
		switch (s[i])
		{
			case '\\':
				fputs("\\\\", out);
				break;
			case '\t':
				fputs("\\t", out);
				break;
			case '\n':
				fputs("\\n", out);
				break;
			case '\r':
				fputs("\\r", out);
				break;
			default:
				if (s[i] < 0x20 || s[i] == 0x7f)
					fprintf(out, "\\%03o", s[i]);
				else
					fputc(s[i], out);
		}
	}
}

static rd_kafka_t *
the_consumer(void)
{
	if (consumer == NULL)
	{
		rd_kafka_conf_t *conf = rd_kafka_conf_new();

		make_conf_set(conf, "bootstrap.servers", bootstrap);
		/* assign() needs a group; nothing is committed to it. */
		make_conf_set(conf, "group.id", PROGNAME);
		make_conf_set(conf, "enable.auto.commit", "false");
		make_conf_set(conf, "enable.auto.offset.store", "false");
		make_conf_set(conf, "enable.partition.eof", "true");
		make_conf_set(conf, "auto.offset.reset", "earliest");
		make_conf_set(conf, "log.connection.close", "false");
		consumer = new_client(RD_KAFKA_CONSUMER, conf);
		rd_kafka_poll_set_consumer(consumer);
	}
	return consumer;
}

/*
 * Reads [low, high) of every partition.  Offsets are consecutive in the
 * mock, but a partition is also done at its end-of-partition event (a gap
 * left by a transaction's control record).
 */
static long
consume_range(rd_kafka_t *rk, const char *topic, int n, const int64_t *low, const int64_t *high,
			  FILE *out, char *why, size_t whylen)
{
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
	int64_t    *next = xmalloc(n * sizeof(int64_t));
	int			left = 0;
	long		written = 0;
	double		last_progress = now_seconds();

	for (int p = 0; p < n; p++)
	{
		next[p] = low[p];
		if (low[p] < high[p])
		{
			rd_kafka_topic_partition_list_add(parts, topic, p)->offset = low[p];
			left++;
		}
	}
	if (left > 0)
		rd_kafka_assign(rk, parts);
	while (left > 0)
	{
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		int			p;

		if (m == NULL)
		{
			if (now_seconds() - last_progress > TIMEOUT_MS / 1000.0)
			{
				snprintf(why, whylen, "no message for %d s with %d partitions unread", TIMEOUT_MS / 1000, left);
				written = -1;
				break;
			}
			continue;
		}
		p = m->partition;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
		{
			if (m->rkt && strcmp(rd_kafka_topic_name(m->rkt), topic) == 0 && p >= 0 && p < n &&
				next[p] < high[p] && m->offset >= high[p])
			{
				next[p] = high[p];
				left--;
			}
		}
		else if (m->err)
		{
			/* transient (a broker down): librdkafka retries, the timeout decides */
			if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT && m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
				fprintf(stderr, PROGNAME ": consume %s: %s\n", topic, rd_kafka_message_errstr(m));
		}
		else if (p >= 0 && p < n && m->offset >= next[p] && m->offset < high[p])
		{
			fprintf(out, "%d\t%" PRId64 "\t", p, m->offset);
			write_field(out, m->key, m->key_len);
			fputc('\t', out);
			write_field(out, m->payload, m->len);
			fputc('\n', out);
			written++;
			next[p] = m->offset + 1;
			if (next[p] >= high[p])
				left--;
			last_progress = now_seconds();
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_assign(rk, NULL);
	rd_kafka_topic_partition_list_destroy(parts);
	free(next);
	return written;
}

static void
cmd_consume(char **args, int nargs)
{
	int64_t    *low,
			   *high;
	char		why[512];
	int			n;
	long		written;
	FILE	   *out;

	if (nargs != 2)
	{
		answer("error usage: consume TOPIC FILE");
		return;
	}
	if ((n = watermarks(args[0], &low, &high, why, sizeof(why))) < 0)
	{
		answer("error %s", why);
		return;
	}
	if ((out = fopen(args[1], "w")) == NULL)
	{
		answer("error cannot write \"%s\": %s", args[1], strerror(errno));
		free(low);
		free(high);
		return;
	}
	written = consume_range(the_consumer(), args[0], n, low, high, out, why, sizeof(why));
	if (fclose(out) != 0 && written >= 0)
	{
		snprintf(why, sizeof(why), "cannot write \"%s\": %s", args[1], strerror(errno));
		written = -1;
	}
	if (written < 0)
		answer("error %s", why);
	else
		answer("ok %ld", written);
	free(low);
	free(high);
}

/* ------------------------------------------------------------------ brokers */

static void
cmd_broker(char **args, int nargs, int up)
{
	int			ok;
	long		id = nargs == 1 ? number(args[0], 0, MAX_BROKERS - 1, &ok) : 0;
	rd_kafka_resp_err_t err;

	if (nargs != 1 || !ok)
	{
		answer("error usage: %s BROKER_ID", up ? "up" : "down");
		return;
	}
	err = up ? rd_kafka_mock_broker_set_up(mcluster, (int32_t) id)
		: rd_kafka_mock_broker_set_down(mcluster, (int32_t) id);
	if (err)
		answer("error broker %ld: %s", id, rd_kafka_err2str(err));
	else
	{
		broker_down[id] = !up;
		answer("ok");
	}
}

/* ------------------------------------------------------------------ main */

static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"schema", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c,
				ok;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'b':
				nbrokers = (int) number(optarg, 1, MAX_BROKERS - 1, &ok);
				if (!ok)
					bad_usage("invalid --brokers \"%s\" (1 to 100)", optarg);
				break;
			case 't':
				if (ntopics == MAX_TOPICS)
					bad_usage("more than %d topics", MAX_TOPICS);
				topics[ntopics++] = optarg; /* created once the cluster runs */
				break;
			case 's':
				add_schema(optarg);
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
		bad_usage("unexpected argument \"%s\"", argv[optind]);
}

int
main(int argc, char **argv)
{
	char	   *line = NULL;
	size_t		cap = 0;

	alert_decode_init();
	parse_options(argc, argv);
	start_cluster(nbrokers);
	for (int i = 0; i < ntopics; i++)
		create_topic(topics[i]);
	answer("%s", bootstrap);

	while (getline(&line, &cap, stdin) >= 0)
	{
		char	   *args[8];
		int			nargs = 0;
		char	   *save,
				   *tok;

		for (tok = strtok_r(line, " \t\r\n", &save); tok && nargs < 8; tok = strtok_r(NULL, " \t\r\n", &save))
			args[nargs++] = tok;
		if (nargs == 0)
			continue;
		if (strcmp(args[0], "quit") == 0)
			break;
		else if (strcmp(args[0], "produce") == 0)
			cmd_produce(args + 1, nargs - 1);
		else if (strcmp(args[0], "consume") == 0)
			cmd_consume(args + 1, nargs - 1);
		else if (strcmp(args[0], "watermarks") == 0)
			cmd_watermarks(args + 1, nargs - 1);
		else if (strcmp(args[0], "down") == 0)
			cmd_broker(args + 1, nargs - 1, 0);
		else if (strcmp(args[0], "up") == 0)
			cmd_broker(args + 1, nargs - 1, 1);
		else
			answer("error unknown command \"%s\" (produce, consume, watermarks, down, up, quit)", args[0]);
	}
	free(line);
	if (consumer != NULL)
	{
		rd_kafka_consumer_close(consumer);
		rd_kafka_destroy(consumer);
	}
	rd_kafka_destroy(producer);
	rd_kafka_mock_cluster_destroy(mcluster);
	rd_kafka_destroy(mock_rk);
	return 0;
}
