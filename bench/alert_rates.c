/*
 * alert_rates.c
 *		bench/alerts.py's C side: decoding rates of a stream of Confluent
 *		messages, each preceded by its 4-byte big-endian length (what
 *		bin/antares_alertgen --framing=confluent writes), on one core:
 *
 *	 bare    libavro alone: each datum read into a generic value of the
 *			 writer schema (avro_value_read; no schema resolution, no
 *			 points), the baseline the issue names;
 *	 kernel  antares's decoding kernel (alert_decode, ALERT_CONFLUENT, one
 *			 schema cache): the points, as the SQL function and the loader
 *			 get them.
 *
 *	 alert_rates SCHEMA_FILE STREAM_FILE REPEAT
 *
 * Prints one line per mode: "mode alerts points best_seconds"; the best of
 * REPEAT passes over all messages.  Exit status 2 on bad input.
 */
#define _POSIX_C_SOURCE 200809L

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert_decode.h"
#include "kernel_host_heap.h"

typedef struct Bytes
{
	uint8_t    *data;
	size_t		len;
} Bytes;

static Bytes
read_all(const char *path)
{
	Bytes		b = {0};
	FILE	   *f = fopen(path, "rb");
	long		n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
	{
		fprintf(stderr, "alert_rates: cannot read %s\n", path);
		exit(2);
	}
	b.len = (size_t) n;
	b.data = malloc(b.len + 1);
	if (b.data == NULL || fread(b.data, 1, b.len, f) != b.len)
	{
		fprintf(stderr, "alert_rates: cannot read %s\n", path);
		exit(2);
	}
	b.data[b.len] = 0;
	fclose(f);
	return b;
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static double
shorter(double a, double b)
{
	return a < b ? a : b;
}

/* The messages of the stream: offsets and lengths into it. */
typedef struct Messages
{
	size_t		n;
	size_t	   *at;
	size_t	   *len;
} Messages;

static Messages
split(const Bytes *s)
{
	Messages	m = {0};
	size_t		cap = 1024,
				pos = 0;

	m.at = malloc(cap * sizeof(size_t));
	m.len = malloc(cap * sizeof(size_t));
	while (pos + 4 <= s->len)
	{
		size_t		len = ((size_t) s->data[pos] << 24) | ((size_t) s->data[pos + 1] << 16) |
			((size_t) s->data[pos + 2] << 8) | s->data[pos + 3];

		if (len < 5 || pos + 4 + len > s->len)
			break;
		if (m.n == cap)
		{
			cap *= 2;
			m.at = realloc(m.at, cap * sizeof(size_t));
			m.len = realloc(m.len, cap * sizeof(size_t));
		}
		m.at[m.n] = pos + 4;
		m.len[m.n++] = len;
		pos += 4 + len;
	}
	if (pos != s->len || m.n == 0)
	{
		fprintf(stderr, "alert_rates: the stream is not length-prefixed messages\n");
		exit(2);
	}
	return m;
}

int
main(int argc, char **argv)
{
	Bytes		schema_text,
				stream;
	Messages	m;
	avro_schema_t schema;
	avro_value_iface_t *iface;
	avro_value_t value;
	const KernelHost *host = &kernel_heap_host;
	AlertSchemaCache *cache;
	int			repeat;
	double		best_bare = 1e300,
				best_kernel = 1e300;
	size_t		points = 0;

	if (argc != 4 || (repeat = atoi(argv[3])) < 1)
	{
		fprintf(stderr, "usage: alert_rates SCHEMA_FILE STREAM_FILE REPEAT\n");
		return 2;
	}
	schema_text = read_all(argv[1]);
	stream = read_all(argv[2]);
	m = split(&stream);
	alert_decode_init();
	if (avro_schema_from_json_length((const char *) schema_text.data, schema_text.len, &schema) != 0)
	{
		fprintf(stderr, "alert_rates: %s\n", avro_strerror());
		return 2;
	}
	iface = avro_generic_class_from_schema(schema);
	avro_generic_value_new(iface, &value);
	cache = alert_schema_cache_new(host);

	for (int r = 0; r < repeat; r++)
	{
		double		t0 = now();

		for (size_t i = 0; i < m.n; i++)
		{
			avro_reader_t reader = avro_reader_memory((const char *) stream.data + m.at[i] + 5,
													  (int64_t) (m.len[i] - 5));

			avro_value_reset(&value);
			if (avro_value_read(reader, &value) != 0)
			{
				fprintf(stderr, "alert_rates: message %zu: %s\n", i, avro_strerror());
				return 2;
			}
			avro_reader_free(reader);
		}
		best_bare = shorter(best_bare, now() - t0);

		t0 = now();
		points = 0;
		for (size_t i = 0; i < m.n; i++)
		{
			AlertResult res;
			AlertDecodeError err;

			if (alert_decode(host, cache, stream.data + m.at[i], m.len[i], ALERT_CONFLUENT,
							 (const char *) schema_text.data, schema_text.len, &res, &err) != ALERT_DECODE_OK)
			{
				fprintf(stderr, "alert_rates: message %zu: %s\n", i, err.message);
				return 2;
			}
			points += res.npoints;
			alert_result_free(host, &res);
		}
		best_kernel = shorter(best_kernel, now() - t0);
	}
	printf("bare %zu 0 %.6f\n", m.n, best_bare);
	printf("kernel %zu %zu %.6f\n", m.n, points, best_kernel);
	avro_value_decref(&value);
	avro_value_iface_decref(iface);
	avro_schema_decref(schema);
	alert_schema_cache_free(cache);
	free(stream.data);
	free(schema_text.data);
	free(m.at);
	free(m.len);
	return 0;
}
