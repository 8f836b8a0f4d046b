#!/usr/bin/python3
"""Alert-packet benchmark: decoding and loading Rubin-format alerts with 20
and with 100 history sources (no cutouts), alerts per second, against
python3-avro and libavro's bare decoding of the same bytes, in one run.

For each history length H, bin/antares_alertgen writes Rubin-format alerts
(the project's writer schema, diaSources of a real alert's size) from
simulate_survey's light curves as Confluent messages; the alerts whose
history is full (H prvDiaSources) are kept, --alerts of them.  The same
datums are then decoded or loaded by:

  python3-avro     Debian's Avro reader (avro.io.DatumReader), each datum
                   into Python objects (on the first --python-alerts only)
  libavro bare     Avro's C library alone: each datum read into a generic
                   value of the writer schema, no resolution, no points
                   (bench/alert_rates.c); the baseline
  kernel           antares's decoding kernel with its schema cache, the
                   points of each message (bench/alert_rates.c): the figure
                   of the decoder a stream consumer embeds
  SQL decode       SELECT over alert_photometry(message) of a table of the
                   messages (schema from alert_schemas), every output used
  SQL into table   INSERT ... SELECT ... ON CONFLICT DO NOTHING into a table
                   keyed (objid, kind, source_id) of alert_points over
                   batches of --batch messages (each point once a batch)
  antares_load     bin/antares_load -j 1 of the same datums as container
                   files of 100 alerts

Everything but the loader runs on one core (the backend with
max_parallel_workers_per_gather = 0, the C and Python decoders in one
process); the loader's reading, decoding and COPY run in threads and the
server, so its figure is per load, not per core.  Each timing is the best
of --runs; the SQL and loader rows are checked against each other (same
points).  Prints rates and ratios: SQL into table / libavro bare (target
>= 0.8), SQL into table / python3-avro (target >= 40).

Cost model: decoding is linear in the datum's bytes (libavro walks every
field, read or skipped); storing is linear in the points.

Connection: the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
Needs bin/antares_alertgen and bin/antares_load built (make) and a C
compiler.

    PGDATABASE=antares bench/alerts.py
"""
import argparse
import io
import os
import struct
import subprocess
import sys
import tempfile
import time

import avro.io
import avro.schema

from benchlib import best_of, close_bench, open_bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALERTGEN = os.path.join(ROOT, "bin", "antares_alertgen")
LOADER = os.path.join(ROOT, "bin", "antares_load")
SCHEMA = "bench_alerts"
SOURCE_IDS = 100000      # antares_alertgen: diaSourceId = objid * 100000 + k


def zigzag_long(data, pos):
    """An Avro long at data[pos:]: (value, next position)."""
    shift = n = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (n >> 1) ^ -(n & 1), pos


def avro_long(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def avro_bytes(b):
    return avro_long(len(b)) + b


def container(schema_text, datums):
    """An Avro object-container file (codec null) of the datums, in blocks of 100."""
    sync = bytes(range(16))
    out = [b"Obj\x01", avro_long(2),
           avro_bytes(b"avro.schema"), avro_bytes(schema_text.encode()),
           avro_bytes(b"avro.codec"), avro_bytes(b"null"), avro_long(0), sync]
    for i in range(0, len(datums), 100):
        block = b"".join(datums[i:i + 100])
        out += [avro_long(len(datums[i:i + 100])), avro_bytes(block), sync]
    return b"".join(out)


def messages(path):
    """The messages of a length-prefixed stream."""
    data = open(path, "rb").read()
    pos, out = 0, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def make_alerts(cur, tmp, history, n_alerts):
    """(schema text, the kept Confluent messages) for history length H: the
    alerts of simulated objects (about 150 points each over three years)
    whose history is full, n_alerts of them."""
    n_objects = n_alerts // (140 - history) + 2
    csv = os.path.join(tmp, f"points{history}.csv")
    with open(csv, "w") as f:
        cur.copy_expert(f"COPY (SELECT objid, t, pb, flux, dflux FROM antares.simulate_survey({n_objects}, 1)) "
                        "TO STDOUT WITH CSV", f)
    stream = os.path.join(tmp, f"stream{history}.bin")
    schema_file = os.path.join(tmp, "schema.json")
    subprocess.run([ALERTGEN, f"--history={history}", "--framing=confluent", "--schema-id=1",
                    f"--schema-out={schema_file}", "-o", stream, csv], check=True)
    kept = []
    for m in messages(stream):
        alert_id, _ = zigzag_long(m, 5)
        if alert_id % SOURCE_IDS >= history:
            kept.append(m)
            if len(kept) == n_alerts:
                break
    if len(kept) < n_alerts:
        sys.exit(f"only {len(kept)} alerts with {history} history sources")
    return open(schema_file).read(), kept


def rate(n, seconds):
    return n / seconds if seconds > 0 else float("inf")


def bench_history(cur, tmp, args, history, alert_rates):
    schema_text, msgs = make_alerts(cur, tmp, history, args.alerts[history])
    size = sum(len(m) for m in msgs) / len(msgs)
    res = {"alerts": len(msgs), "bytes": size}

    # python3-avro on the first --python-alerts datums
    schema = avro.schema.parse(schema_text)
    reader = avro.io.DatumReader(schema, schema)
    sample = msgs[:args.python_alerts]

    def py():
        n = 0
        for m in sample:
            a = reader.read(avro.io.BinaryDecoder(io.BytesIO(m[5:])))
            n += 1 + len(a["prvDiaSources"] or [])
        return n
    t, _, py_points = best_of(args.runs, py)
    res["python3-avro"] = rate(len(sample), t)

    # libavro bare and the kernel, same bytes
    stream = os.path.join(tmp, f"kept{history}.bin")
    with open(stream, "wb") as f:
        for m in msgs:
            f.write(struct.pack(">I", len(m)) + m)
    schema_file = os.path.join(tmp, "schema.json")
    out = subprocess.run([alert_rates, schema_file, stream, str(args.runs)], check=True,
                         capture_output=True, text=True).stdout.split("\n")
    bare = out[0].split()
    kernel = out[1].split()
    res["libavro bare"] = rate(int(bare[1]), float(bare[3]))
    res["kernel"] = rate(int(kernel[1]), float(kernel[3]))
    kernel_points = int(kernel[2])

    # SQL: decode, and into a keyed table
    cur.execute("DELETE FROM antares.alert_schemas WHERE id = 1")
    cur.execute("INSERT INTO antares.alert_schemas (id, schema) VALUES (1, %s)", (schema_text,))
    cur.execute(f"DROP TABLE IF EXISTS {SCHEMA}.msgs")
    cur.execute(f"CREATE TABLE {SCHEMA}.msgs (n int GENERATED ALWAYS AS IDENTITY (MINVALUE 0 START 0), m bytea)")
    cur.execute(f"ALTER TABLE {SCHEMA}.msgs ALTER m SET STORAGE EXTERNAL")
    buf = io.StringIO()
    for m in msgs:
        buf.write("\\\\x" + m.hex() + "\n")
    buf.seek(0)
    cur.copy_expert(f"COPY {SCHEMA}.msgs (m) FROM STDIN", buf)
    cur.execute(f"VACUUM ANALYZE {SCHEMA}.msgs")
    decode_sql = (f"SELECT count(*), sum(p.t), sum(p.flux), sum(p.dflux), sum(p.source_id % 1000), "
                  f"count(p.ra) FROM {SCHEMA}.msgs, antares.alert_photometry(m) p")
    t, _, row = best_of(args.runs, lambda: (cur.execute(decode_sql), cur.fetchone())[1])
    res["SQL decode"] = rate(len(msgs), t)
    sql_points = row[0]

    cur.execute(f"DROP TABLE IF EXISTS {SCHEMA}.pts")
    cur.execute(f"CREATE TABLE {SCHEMA}.pts (objid bigint, t float8, pb text, flux float8, dflux float8, "
                f"kind text, source_id bigint, alert_id bigint, ra float8, dec float8, "
                f"PRIMARY KEY (objid, kind, source_id))")
    insert_sql = (f"INSERT INTO {SCHEMA}.pts SELECT p.* FROM "
                  f"(SELECT array_agg(m ORDER BY n) AS batch FROM {SCHEMA}.msgs GROUP BY n / {args.batch}) b, "
                  f"antares.alert_points(b.batch) p ON CONFLICT DO NOTHING")

    def into_table():
        cur.execute(f"TRUNCATE {SCHEMA}.pts")
        cur.execute("CHECKPOINT")
        t0 = time.perf_counter()
        cur.execute(insert_sql)
        return time.perf_counter() - t0, cur.rowcount
    runs = [into_table() for _ in range(args.runs)]
    res["SQL into table"] = rate(len(msgs), min(r[0] for r in runs))
    stored = runs[-1][1]
    cur.execute(f"SELECT count(*), sum(t), sum(flux) FROM {SCHEMA}.pts")
    sql_table = cur.fetchone()

    # the loader, on the same datums as containers
    cdir = os.path.join(tmp, f"containers{history}")
    os.makedirs(cdir, exist_ok=True)
    datums = [m[5:] for m in msgs]
    for i in range(0, len(datums), 100):
        with open(os.path.join(cdir, f"{i // 100:06d}.avro"), "wb") as f:
            f.write(container(schema_text, datums[i:i + 100]))

    def load():
        cur.execute(f"DROP TABLE IF EXISTS {SCHEMA}.loaded")
        cur.execute("CHECKPOINT")
        t0 = time.perf_counter()
        subprocess.run([LOADER, "-q", "-j", "1", "--create", "-t", f"{SCHEMA}.loaded", cdir], check=True)
        return time.perf_counter() - t0
    res["antares_load -j 1"] = rate(len(msgs), min(load() for _ in range(args.runs)))
    cur.execute(f"SELECT count(*), sum(t), sum(flux) FROM {SCHEMA}.loaded")
    loaded = cur.fetchone()

    same = (kernel_points == sql_points and loaded[0] == sql_table[0] == stored
            and abs(loaded[1] - sql_table[1]) <= 1e-9 * abs(sql_table[1])
            and abs(loaded[2] - sql_table[2]) <= 1e-9 * max(1.0, abs(sql_table[2])))
    res["check"] = (f"{kernel_points} points decoded by the kernel and SQL, {stored} stored by SQL and "
                    f"the loader: {'same' if same else 'DIFFERENT'}; python3-avro read {py_points} sources "
                    f"of {len(sample)} alerts")
    res["ok"] = same
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alerts20", type=int, default=10000, help="alerts with 20 history sources")
    ap.add_argument("--alerts100", type=int, default=3000, help="alerts with 100 history sources")
    ap.add_argument("--python-alerts", type=int, default=300, help="alerts python3-avro decodes")
    ap.add_argument("--batch", type=int, default=1000, help="packets per alert_points batch")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the benchmark's schema")
    args = ap.parse_args()
    args.alerts = {20: args.alerts20, 100: args.alerts100}

    conn, cur, created = open_bench("antares.alert_photometry", SCHEMA)
    cur.execute(f"CREATE SCHEMA {SCHEMA}")
    cur.execute("SET max_parallel_workers_per_gather = 0")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        alert_rates = os.path.join(tmp, "alert_rates")
        subprocess.run(["cc", "-std=c11", "-O2", "-I", os.path.join(ROOT, "src"), "-o", alert_rates,
                        os.path.join(ROOT, "bench", "alert_rates.c"), os.path.join(ROOT, "src", "alert_decode.c"),
                        "-lavro", "-lz", "-lm"], check=True)
        results = {h: bench_history(cur, tmp, args, h, alert_rates) for h in (20, 100)}
    cur.execute("DELETE FROM antares.alert_schemas WHERE id = 1")
    close_bench(conn, cur, SCHEMA, created, args.keep)

    methods = ["python3-avro", "libavro bare", "kernel", "SQL decode", "SQL into table", "antares_load -j 1"]
    print(f"{'alerts/s':<20}" + "".join(f"{f'{h} history sources':>24}" for h in results))
    print(f"{'(datum bytes)':<20}" + "".join(f"{results[h]['bytes']:>24,.0f}" for h in results))
    for m in methods:
        print(f"{m:<20}" + "".join(f"{results[h][m]:>24,.0f}" for h in results))
    for label, num, den, target in (("SQL into table / libavro bare", "SQL into table", "libavro bare", 0.8),
                                    ("SQL into table / python3-avro", "SQL into table", "python3-avro", 40),
                                    ("kernel / libavro bare", "kernel", "libavro bare", None),
                                    ("antares_load / libavro bare", "antares_load -j 1", "libavro bare", None)):
        ratios = [results[h][num] / results[h][den] for h in results]
        mark = "" if target is None else ("  (target >= %g: %s)" % (target, "met" if min(ratios) >= target else "NOT met"))
        print(f"{label:<32}" + "".join(f"{r:>12.2f}x" for r in ratios) + mark)
    for h in results:
        print(f"check, {h} history sources: {results[h]['check']}")
        ok &= results[h]["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
