#!/usr/bin/python3
"""Kafka stream benchmark: bin/antares_stream end to end, from librdkafka's
mock cluster (bin/antares_kafka_mock) to committed points, features,
classes, anomaly scores and published alerts, for Rubin-format alerts with
20 and with 100 history sources; the mock's own delivery rate (kcat) in the
same run; the latency from Kafka timestamp to commit at Rubin's peak rate.

Alerts: Rubin-format, written by bin/antares_alertgen (Confluent framing,
--time-order) from simulate_survey's light curves: of each object its alerts
k = H + 1 .. H + --per-object (history full), the objects' alerts
interleaved in time order as a survey sends them; each stream is preloaded
with the objects' first H points, so an alert's history is stored already
when it arrives, as in a stream running for a while (the de-duplication of
the H history sources is part of the cost); keyed by object, the alerts
spread over the partitions.  For each history length H:

  kcat             kcat -C of the whole topic from the mock (the messages
                   written to a pipe and counted): the rate the mock delivers
                   at, the ceiling of any consumer of it
  antares_stream   a fresh stream (an SVM classifier and an isolation
                   forest trained here, one filter publishing to a topic),
                   antares_stream --once over the topic: alerts/s committed
                   (its summary line, including the start: the group join)
                   and over the wall time from start to exit, and from its
                   first commit to its last (the committed offsets polled
                   every 50 ms: without the start, the figure the targets
                   are read against); the time shares decode / postgres / land /
                   wait / publish it prints

Then the latency: a consumer running, --paced-seconds of 20-source alerts
produced at --rate (default 270/s, Rubin's peak), SIGTERM once all are
committed; the summary's latency_p50_ms and latency_p99_ms (per message,
commit time minus its Kafka timestamp).

Targets (issue 15): >= 10^4 20-source alerts/s, >= 2,700 100-source
alerts/s, p99 < 1 s at 270 alerts/s.  The mock keeps only ~5 MB of each
partition: --partitions (default 64) must hold the alerts (checked: the
low watermarks must stay 0).

Connection: the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
Needs bin/antares_stream, bin/antares_kafka_mock and bin/antares_alertgen
built (make), kcat and python3-avro.  A smoke run:

    PGDATABASE=antares bench/kafka.py --alerts20 1500 --alerts100 300 --paced-seconds 3 --batch 250
"""
import argparse
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time

from alerts import messages, zigzag_long
from benchlib import close_bench, open_bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOCK = os.path.join(ROOT, "bin", "antares_kafka_mock")
STREAM = os.path.join(ROOT, "bin", "antares_stream")
ALERTGEN = os.path.join(ROOT, "bin", "antares_alertgen")
SOURCE_IDS = 100000      # antares_alertgen: diaSourceId = objid * 100000 + k
SCHEMA = "bench_kafka"
SCHEMA_ID = 1


class Mock:
    """bin/antares_kafka_mock, one command a line."""

    def __init__(self, topics, schema_file, log):
        self.proc = subprocess.Popen(
            [MOCK] + [f"--topic={t}" for t in topics] + [f"--schema={SCHEMA_ID}={schema_file}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
        self.bootstrap = self.proc.stdout.readline().strip()

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if not answer.startswith("ok"):
            sys.exit(f"antares_kafka_mock: {line}: {answer}")
        return answer[3:]

    def watermarks(self, topic):
        return [tuple(int(x) for x in w.split(":")) for w in self.command(f"watermarks {topic}").split()]

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()


def make_alerts(cur, tmp, history, n_alerts, per_object, first_objid=0):
    """(schema text, n_alerts Confluent messages, preload table): of
    simulated objects, each object's alerts k = history + 1 .. history +
    per_object (its k-th point, the history full), in time order across the
    objects as a survey sends them (antares_alertgen --time-order); keyed by
    object they spread over the partitions.  The preload table holds every
    object's first `history` points as the packets carry them (32-bit
    fluxes), to be stored before the run: an alert's history is then stored
    already, as in a stream running for a while, and the run pays its
    de-duplication."""
    n_objects = -(-n_alerts // per_object)
    points = (f"SELECT objid + {first_objid} AS objid, t, pb, flux, dflux, k FROM (SELECT *, row_number() "
              f"OVER (PARTITION BY objid ORDER BY t, pb) AS k FROM antares.simulate_survey({n_objects}, 1)) s")
    csv = os.path.join(tmp, f"points{history}.csv")
    with open(csv, "w") as f:
        cur.copy_expert(f"COPY (SELECT objid, t, pb, flux, dflux FROM ({points}) p "
                        f"WHERE k <= {history + per_object} ORDER BY objid, t, pb) TO STDOUT WITH CSV", f)
    preload = f"{SCHEMA}.preload{history}_{first_objid}"
    cur.execute(f"""CREATE TABLE {preload} AS
        SELECT objid, t, pb, flux::real::float8 AS flux, dflux::real::float8 AS dflux, 'detection'::text AS kind,
               objid * {SOURCE_IDS} + k AS source_id, objid * {SOURCE_IDS} + k AS alert_id,
               NULL::float8 AS ra, NULL::float8 AS "dec"
        FROM ({points}) p WHERE k <= {history}""")
    stream = os.path.join(tmp, f"stream{history}.bin")
    schema_file = os.path.join(tmp, "schema.json")
    subprocess.run([ALERTGEN, f"--history={history}", "--time-order", "--framing=confluent",
                    f"--schema-id={SCHEMA_ID}", f"--schema-out={schema_file}", "-o", stream, csv],
                   check=True, stderr=subprocess.DEVNULL)
    kept = [m for m in messages(stream) if zigzag_long(m, 5)[0] % SOURCE_IDS > history][:n_alerts]
    if len(kept) < n_alerts:
        sys.exit(f"only {len(kept)} alerts with {history} history sources")
    return open(schema_file).read(), kept, preload


def write_stream(path, msgs):
    with open(path, "wb") as f:
        for m in msgs:
            f.write(struct.pack(">I", len(m)) + m)


def summary(log):
    """The consumer's summary line as a dict of its fields."""
    text = open(log).read()
    line = [x for x in text.splitlines() if re.match(r"antares_stream: alerts=\d+", x)]
    if not line:
        sys.exit(f"no summary line from antares_stream:\n{text[-2000:]}")
    return dict(re.findall(r"(\w+)=([\d.]+%?)", line[-1]))


def consumer(mock, stream, topic, tmp, once, run, batch):
    log = os.path.join(tmp, f"{stream}-{run}.log")
    with open(log, "w") as f:
        proc = subprocess.Popen(
            [STREAM, "--stream", stream, "-b", mock.bootstrap, "-t", topic, "-g", f"{stream}-{run}",
             "--progress=0", f"--batch={batch}"] + (["--once"] if once else []),
            stdout=subprocess.DEVNULL, stderr=f)
    return proc, log


def make_stream(cur, name, preload):
    """A stream holding the preload's points (stored without models or
    filters, which are not what is measured), then given its models and a
    filter publishing to topic out."""
    cur.execute(f"SELECT antares.stream_create('{name}')")
    # point by point in time order: each a detection later than the stored ones
    cur.execute(f"SELECT max(source_id % {SOURCE_IDS}) FROM {preload}")
    history = cur.fetchone()[0]
    cur.execute(f"CREATE TEMP TABLE preload_batch AS SELECT * FROM {preload} WITH NO DATA")
    for k in range(1, history + 1):
        cur.execute(f"TRUNCATE preload_batch; INSERT INTO preload_batch SELECT * FROM {preload} "
                    f"WHERE source_id % {SOURCE_IDS} = {k}")
        cur.execute(f"SELECT * FROM antares.stream_process('{name}', 'preload_batch')")
    cur.execute("DROP TABLE preload_batch")
    cur.execute(f"""UPDATE antares.streams SET classifier = m.svm, anomaly = m.forest, min_obs = 3
                    FROM {SCHEMA}.models m WHERE name = '{name}'""")
    cur.execute(f"SELECT antares.stream_add_filter('{name}', 'unusual', 'anomaly < 0', 'out')")


def kcat_rate(mock, topic, n):
    """The mock's delivery rate to kcat: messages/s over the whole topic."""
    t0 = time.perf_counter()
    out = subprocess.run(["kcat", "-b", mock.bootstrap, "-C", "-t", topic, "-e", "-q", "-o", "beginning",
                          "-f", "%o\n"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    seconds = time.perf_counter() - t0
    got = out.count(b"\n")
    if got != n:
        sys.exit(f"kcat read {got} messages of {topic}, not {n}")
    return n / seconds


def bench_history(cur, mock, tmp, history, msgs, preload, streams, batch):
    topic = f"alerts{history}"
    path = os.path.join(tmp, f"{topic}.bin")
    write_stream(path, msgs)
    if mock.command(f"produce {topic} {path}") != str(len(msgs)):
        sys.exit(f"not all {len(msgs)} alerts produced")
    if any(low != 0 for _, low, _ in mock.watermarks(topic)):
        sys.exit(f"the mock dropped messages of {topic}: more --partitions")
    r = {"bytes": sum(map(len, msgs)) / len(msgs), "kcat": kcat_rate(mock, topic, len(msgs))}
    name = f"{SCHEMA}_h{history}"
    streams.append(name)
    make_stream(cur, name, preload)
    t0 = time.perf_counter()
    proc, log = consumer(mock, name, topic, tmp, True, 1, batch)
    # the committed count polled: the rate from the first commit to the
    # last, without the start (the group join, ~3 s on the mock)
    first = last = None
    while proc.poll() is None:
        time.sleep(0.05)
        cur.execute(f"SELECT coalesce(sum(next_offset), 0)::bigint FROM {name}.offsets")
        n = cur.fetchone()[0]
        if n > 0 and first is None:
            first = (time.perf_counter(), n)
        if last is None or n > last[1]:
            last = (time.perf_counter(), n)
    if proc.wait() != 0:
        sys.exit(f"antares_stream exited {proc.returncode}:\n{open(log).read()[-2000:]}")
    wall = time.perf_counter() - t0
    s = summary(log)
    cur.execute(f"SELECT sum(next_offset) FROM {name}.offsets")
    committed = cur.fetchone()[0]
    if committed != len(msgs) or s["alerts"] != str(len(msgs)) or s["rejects"] != "0":
        sys.exit(f"{name}: {committed} messages committed, summary {s}")
    steady = (last[1] - first[1]) / (last[0] - first[0]) if first and last[0] > first[0] else float("nan")
    r.update(summary_rate=float(s["alerts_per_s"]), wall_rate=len(msgs) / wall, steady_rate=steady,
             shares=" ".join(f"{k}={s[k]}" for k in ("decode", "postgres", "wait", "land", "publish")))
    return r


def bench_latency(cur, mock, tmp, msgs, preload, rate, streams, batch):
    """p50 and p99 latency (ms) at `rate` alerts/s."""
    topic = "paced"
    path = os.path.join(tmp, "paced.bin")
    write_stream(path, msgs)
    name = f"{SCHEMA}_paced"
    streams.append(name)
    make_stream(cur, name, preload)
    proc, log = consumer(mock, name, topic, tmp, False, 1, batch)
    time.sleep(5)     # the group join, before the first message is sent
    mock.command(f"produce {topic} {path} rate={rate}")
    deadline = time.time() + 120
    committed = 0
    while committed < len(msgs) and time.time() < deadline:
        time.sleep(0.2)
        cur.execute(f"SELECT coalesce(sum(next_offset), 0) FROM {name}.offsets")
        committed = cur.fetchone()[0]
    proc.send_signal(signal.SIGTERM)
    if proc.wait() != 0 or committed != len(msgs):
        sys.exit(f"paced run: exit {proc.returncode}, {committed} of {len(msgs)} committed")
    s = summary(log)
    return float(s["latency_p50_ms"]), float(s["latency_p99_ms"]), s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alerts20", type=int, default=20000, help="alerts with 20 history sources")
    ap.add_argument("--alerts100", type=int, default=5000, help="alerts with 100 history sources")
    ap.add_argument("--partitions", type=int, default=64, help="partitions of each topic")
    ap.add_argument("--per-object", type=int, default=2, help="alerts of an object")
    ap.add_argument("--batch", type=int, default=10000, help="antares_stream --batch (its default)")
    ap.add_argument("--rate", type=int, default=270, help="alerts/s of the latency run")
    ap.add_argument("--paced-seconds", type=float, default=30, help="length of the latency run")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark's schema and streams")
    args = ap.parse_args()

    conn, cur, created = open_bench("antares.stream_create", SCHEMA)
    cur.execute(f"SELECT name FROM antares.streams WHERE name LIKE '{SCHEMA}%'")
    for (name,) in cur.fetchall():
        cur.execute("SELECT antares.stream_drop(%s)", (name,))
    cur.execute(f"CREATE SCHEMA {SCHEMA}")
    cur.execute(f"""CREATE TABLE {SCHEMA}.models AS
        SELECT antares.svm_train(x, label, 1, 0.1 ORDER BY o) AS svm, antares.iforest_train(x, 50, 256, 3) AS forest
        FROM (SELECT objid AS o, antares.feature_vector(antares.lc_features(pb, flux, dflux)) AS x,
                     min(label) AS label
              FROM antares.simulate_survey(300, 5) GROUP BY objid) f""")
    streams = []
    with tempfile.TemporaryDirectory() as tmp:
        alerts, preloads = {}, {}
        for history, n in ((20, args.alerts20), (100, args.alerts100)):
            schema_text, alerts[history], preloads[history] = make_alerts(cur, tmp, history, n, args.per_object)
        schema_file = os.path.join(tmp, "schema.json")
        with open(schema_file, "w") as f:
            f.write(schema_text)
        cur.execute("INSERT INTO antares.alert_schemas VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
                    (SCHEMA_ID, schema_text))
        cur.execute("SELECT schema = %s FROM antares.alert_schemas WHERE id = %s", (schema_text, SCHEMA_ID))
        if not cur.fetchone()[0]:
            sys.exit(f"schema id {SCHEMA_ID} is stored in antares.alert_schemas with another text")
        n_paced = int(args.rate * args.paced_seconds)
        # the paced alerts: of other objects
        _, paced, paced_preload = make_alerts(cur, tmp, 20, n_paced, args.per_object, 10 ** 7)
        with open(os.path.join(tmp, "mock.log"), "w") as log:
            mock = Mock([f"alerts20:{args.partitions}", f"alerts100:{args.partitions}",
                         f"paced:{args.partitions}", "out:16"], schema_file, log)
            results = {h: bench_history(cur, mock, tmp, h, alerts[h], preloads[h], streams, args.batch)
                       for h in alerts}
            p50, p99, s = bench_latency(cur, mock, tmp, paced, paced_preload, args.rate, streams, args.batch)
            mock.close()
    if not args.keep:
        for name in streams:
            cur.execute("SELECT antares.stream_drop(%s)", (name,))
        cur.execute("DELETE FROM antares.alert_schemas WHERE id = %s AND schema = %s", (SCHEMA_ID, schema_text))
    close_bench(conn, cur, SCHEMA, created, args.keep)

    print(f"{'alerts/s':<36}" + "".join(f"{f'{h} history sources':>22}" for h in results))
    print(f"{'(datum bytes)':<36}" + "".join(f"{results[h]['bytes']:>22,.0f}" for h in results))
    print(f"{'mock to kcat (the ceiling)':<36}" + "".join(f"{results[h]['kcat']:>22,.0f}" for h in results))
    print(f"{'antares_stream (its summary)':<36}" + "".join(f"{results[h]['summary_rate']:>22,.0f}" for h in results))
    print(f"{'antares_stream (start to exit)':<36}" + "".join(f"{results[h]['wall_rate']:>22,.0f}" for h in results))
    print(f"{'antares_stream (first to last commit)':<36}"
          + "".join(f"{results[h]['steady_rate']:>22,.0f}" for h in results))
    print(f"{'antares_stream (commits) / kcat':<36}"
          + "".join(f"{results[h]['steady_rate'] / results[h]['kcat']:>21.2f}x" for h in results))
    for h, target in ((20, 10000), (100, 2700)):
        if h in results:
            ok = "met" if results[h]["steady_rate"] >= target else "NOT met"
            print(f"{h} history sources: target >= {target:,} alerts/s: {ok}; time shares {results[h]['shares']}")
    print(f"latency at {args.rate} alerts/s ({len(paced)} alerts): p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"(target p99 < 1000 ms: {'met' if p99 < 1000 else 'NOT met'}); "
          + " ".join(f"{k}={s[k]}" for k in ("decode", "postgres", "wait", "land", "publish")))


if __name__ == "__main__":
    main()
