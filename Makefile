# antares: light-curve science inside PostgreSQL (PGXS build)

EXTENSION = antares
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = antares
# src/alert_encode.c (alert packets written, for bin/antares_alertgen and the
# tests) is not part of the server module.
OBJS = $(patsubst %.c,%.o,$(filter-out src/alert_encode.c,$(wildcard src/*.c)))

# Released install scripts are kept as they shipped (sql/antares--0.1.0.sql);
# the current version's is built from sql/antares.sql; upgrade scripts
# sql/antares--A--B.sql lead from every released version to the current one.
DATA = sql/$(EXTENSION)--0.1.0.sql $(wildcard sql/$(EXTENSION)--*--*.sql)
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
EXTRA_CLEAN = bin/antares_load $(UNIT_TESTS) $(UBSAN_TESTS) valgrind-errors.log

# One pg_regress script per topic.  Each also runs alone (make installcheck
# REGRESS=gp): it includes what it needs from sql/fixtures (shipped_data.sql
# loads data/dsfp into tables once per database).
REGRESS = lightcurve band_stats lc_stats broker_features features stream named_streams gp bazin lomb_scargle plot svm forest gbt survey alerts catalog
REGRESS_OPTS = --load-extension=$(EXTENSION)

GSL_CFLAGS := $(shell pkg-config --cflags gsl 2>/dev/null || gsl-config --cflags)
GSL_LIBS := $(shell pkg-config --libs gsl 2>/dev/null || gsl-config --libs)
# Avro's C library (Debian libavro-dev) decodes survey alert packets (src/alert_decode.c);
# zlib inflates their deflate-compressed container blocks.
AVRO_LIBS := $(shell pkg-config --libs avro-c 2>/dev/null || echo -lavro) \
	$(shell pkg-config --libs zlib 2>/dev/null || echo -lz)

# -Wno-unused-parameter: PostgreSQL's own headers have unused parameters.
PG_CFLAGS = -std=c11 -Wall -Wextra -Wno-unused-parameter -Werror
PG_CPPFLAGS = $(GSL_CFLAGS)
SHLIB_LINK = $(GSL_LIBS) $(AVRO_LIBS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The GP kernel is small fixed-size linear algebra in hot loops: -O3 unrolls
# and vectorises it (the fit 1.3x, the prediction 1.6x faster than at -O2;
# bench/gp.py), with the same results (no fast-math).
src/gp_matern.o: override CFLAGS += -O3
# The Lomb-Scargle direct sums: 1.2x faster at -O3 (25 against 30 us for a
# band of 25 points on the default grid of 313 frequencies), same results.
src/lomb_scargle.o: override CFLAGS += -O3

# Every object depends on every header: few files, and a stale struct layout is a crash.
$(OBJS): $(wildcard src/*.h)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

all: bin/antares_load

# The bulk loader is a libpq client that shares the light-curve parser and
# alert decoding kernels; libarchive (Debian libarchive-dev) reads tar archives of alerts.
ARCHIVE_LIBS := $(shell pkg-config --libs libarchive 2>/dev/null || echo -larchive)
# bin/alert_copy.c: what it shares with the stream consumer (a point's COPY text, the keys sent).
bin/antares_load: bin/antares_load.c bin/alert_copy.c bin/cli.c src/lc_parse.c src/alert_decode.c \
		bin/alert_copy.h bin/cli.h $(wildcard src/*.h)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Isrc -I$(shell $(PG_CONFIG) --includedir) \
		-o $@ bin/antares_load.c bin/alert_copy.c bin/cli.c src/lc_parse.c src/alert_decode.c \
		-L$(shell $(PG_CONFIG) --libdir) -lpq $(AVRO_LIBS) $(ARCHIVE_LIBS) -lpthread -lm

# The Kafka alert-stream consumer (docs/streaming-kafka.md): a libpq client
# over librdkafka (Debian librdkafka-dev) sharing the alert decoding kernel.
all: bin/antares_stream
EXTRA_CLEAN += bin/antares_stream
RDKAFKA_CFLAGS := $(shell pkg-config --cflags rdkafka 2>/dev/null)
RDKAFKA_LIBS := $(shell pkg-config --libs rdkafka 2>/dev/null || echo -lrdkafka)
bin/antares_stream: bin/antares_stream.c bin/alert_copy.c bin/cli.c src/alert_decode.c \
		bin/alert_copy.h bin/cli.h $(wildcard src/*.h)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Isrc $(RDKAFKA_CFLAGS) -I$(shell $(PG_CONFIG) --includedir) \
		-o $@ bin/antares_stream.c bin/alert_copy.c bin/cli.c src/alert_decode.c \
		-L$(shell $(PG_CONFIG) --libdir) -lpq $(RDKAFKA_LIBS) $(AVRO_LIBS) -lpthread -lm

# The alert generator writes Rubin-format packets with the alert encoding kernel.
all: bin/antares_alertgen
EXTRA_CLEAN += bin/antares_alertgen
bin/antares_alertgen: bin/antares_alertgen.c bin/cli.c bin/cli.h src/alert_encode.c $(wildcard src/*.h)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Isrc -o $@ bin/antares_alertgen.c bin/cli.c src/alert_encode.c \
		$(AVRO_LIBS) -lm

# The embedded Kafka cluster of the stream tests and benchmark: librdkafka's
# mock cluster (Debian librdkafka-dev) driven by commands on stdin; the alert
# kernel keys messages by object.
all: bin/antares_kafka_mock
EXTRA_CLEAN += bin/antares_kafka_mock
bin/antares_kafka_mock: bin/antares_kafka_mock.c bin/cli.c bin/cli.h src/alert_decode.c $(wildcard src/*.h)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Isrc $(RDKAFKA_CFLAGS) -o $@ bin/antares_kafka_mock.c bin/cli.c src/alert_decode.c \
		$(RDKAFKA_LIBS) $(AVRO_LIBS) -lm

# Kernel unit tests: plain C programs that print TAP, no server needed.
UNIT_TESTS = $(patsubst %.c,%,$(wildcard test/unit/test_*.c))
UNIT_KERNELS = src/band_stats.c src/bazin.c src/lc_stats.c src/lc_parse.c src/gp_matern.c src/gp_peak.c src/svg_plot.c src/forest.c \
	src/iforest.c src/random_forest.c src/svm_smo.c src/folds.c src/survey_sim.c src/alert_decode.c \
	src/alert_encode.c src/lomb_scargle.c src/gbt.c src/gbt_train.c
test/unit/test_%: test/unit/test_%.c $(wildcard test/unit/*.h) $(UNIT_KERNELS) $(wildcard src/*.h)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror $(GSL_CFLAGS) -Isrc -Itest/unit -o $@ $< $(UNIT_KERNELS) \
		$(GSL_LIBS) $(AVRO_LIBS) -lm
# bin/alert_copy.c, shared by the libpq clients, is tested with their headers and libpq.
CLIENT_TEST_FLAGS = -Ibin -I$(shell $(PG_CONFIG) --includedir)
CLIENT_TEST_LIBS = bin/alert_copy.c bin/cli.c src/alert_decode.c -L$(shell $(PG_CONFIG) --libdir) -lpq $(AVRO_LIBS) -lm
test/unit/test_alert_copy: test/unit/test_alert_copy.c bin/alert_copy.c bin/alert_copy.h bin/cli.c bin/cli.h test/unit/tap.h \
		$(wildcard src/*.h)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Isrc -Itest/unit $(CLIENT_TEST_FLAGS) -o $@ $< $(CLIENT_TEST_LIBS)
.PHONY: unitcheck
unitcheck: $(UNIT_TESTS)
	$(PROVE) --exec '' $(UNIT_TESTS)

# Every pg_regress script alone, each in a fresh database: none may depend on
# another's tables.  Results in results/each/NAME/; the failing scripts' diffs
# are gathered in regression.diffs.
.PHONY: installcheck-each
installcheck-each:
	@rm -f regression.diffs; failed=; \
	for t in $(REGRESS); do \
		mkdir -p results/each/$$t; \
		$(pg_regress_installcheck) $(REGRESS_OPTS) --outputdir=results/each/$$t $$t || { \
			failed="$$failed $$t"; cat results/each/$$t/regression.diffs >>regression.diffs; }; \
	done; \
	if [ -n "$$failed" ]; then echo "installcheck-each: failed alone:$$failed (diffs in regression.diffs)"; exit 1; fi

# make ubsancheck: the same tests built with UBSan, stopping at the first
# undefined behaviour (a memcpy from NULL, an overflowing shift, ...).  Optional,
# not part of test/run: about a minute to build.
UBSAN_TESTS = $(addsuffix _ubsan,$(UNIT_TESTS))
test/unit/test_%_ubsan: test/unit/test_%.c $(wildcard test/unit/*.h) $(UNIT_KERNELS) $(wildcard src/*.h)
	$(CC) -std=c11 -O1 -g -fsanitize=undefined -fno-sanitize-recover=all -Wall -Wextra -Werror \
		$(GSL_CFLAGS) -Isrc -Itest/unit -o $@ $< $(UNIT_KERNELS) $(GSL_LIBS) $(AVRO_LIBS) -lm
test/unit/test_alert_copy_ubsan: test/unit/test_alert_copy.c bin/alert_copy.c bin/alert_copy.h \
		test/unit/tap.h $(wildcard src/*.h)
	$(CC) -std=c11 -O1 -g -fsanitize=undefined -fno-sanitize-recover=all -Wall -Wextra -Werror \
		-Isrc -Itest/unit $(CLIENT_TEST_FLAGS) -o $@ $< $(CLIENT_TEST_LIBS)
.PHONY: ubsancheck
ubsancheck: $(UBSAN_TESTS)
	$(PROVE) --exec '' $(UBSAN_TESTS)

# TAP tests (PostgreSQL::Test::Cluster) live in test/t; initdb must not run as root.
PROVE_TESTS = test/t/*.pl
.PHONY: prove_installcheck
prove_installcheck:
	$(prove_installcheck)

# make valgrindcheck: the pg_regress scripts against a throw-away server run
# under valgrind memcheck (test/valgrind.sh; PostgreSQL's own noise is in
# test/valgrind.supp).  Fails on a valgrind error in antares code, reported in
# valgrind-errors.log, or a failing script.  REGRESS=gp runs one (each script
# includes what it needs from sql/fixtures).
# Optional and slow (about 15 minutes for all scripts), not part of test/run;
# needs valgrind, and root or the server's OS user.
.PHONY: valgrindcheck
valgrindcheck:
	PG_CONFIG=$(PG_CONFIG) test/valgrind.sh $(REGRESS)
