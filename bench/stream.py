#!/usr/bin/python3
"""Benchmark: night-by-night processing (antares.process_night) of a simulated
survey, against Rubin's alert rate.

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 bench/stream.py [--objects N] [--histories 100,1000] [--new 2]

A survey of N objects (default 100,000) with long histories: every object has
a stored state of H observations (--histories, default 100 and 1000; four
bands, a smooth curve with noise-like scatter, one state built once and
stored for every object), and tonight brings `--new` observations (default 2)
of every object.  The SVM and the isolation forest are trained on the shipped
training set's DSFP features.  For each H:

  serial     one process_night over tonight's table (one backend, one core);
  2 sessions tonight's table split by objid into two tables (two shards of
             the survey), processed at the same time by two sessions, each
             its own process_night (object_state is shared; the objects are
             disjoint).

Each run starts from the same stored states (restored, not timed, and the
table VACUUMed and CHECKPOINTed before it, so that every run writes the same);
the best of --repeat runs (default 2) is reported.
Printed: seconds, objects updated per second, and the ratio to Rubin's peak
rate of 10,000 alerts every 37 s (270 per second); the ratio of the night's
time at the longest to the shortest history.

The extension's tables object_state, alerts and nights must be empty; the
script empties them again at the end.  Its own tables live in schema
antares_bench_stream (dropped unless --keep).
"""

import argparse
import importlib.util
import io
import os
import sys
import threading
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "antares_bench_stream"
RUBIN_PER_SECOND = 10000 / 37


def load_training(cur):
    spec = importlib.util.spec_from_file_location("dsfp", ROOT / "test" / "validation" / "dsfp.py")
    dsfp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dsfp)
    buf = io.StringIO()
    for (src, objid), (t, pb, flux, dflux) in dsfp.read_all(("training",)).items():
        for i in range(len(t)):
            buf.write(f"{objid}\t{t[i]!r}\t{pb[i]}\t{flux[i]!r}\t{dflux[i]!r}\n")
    buf.seek(0)
    cur.execute(f"CREATE TABLE {SCHEMA}.training (objid int, t float8, pb text, flux float8, dflux float8)")
    cur.copy_expert(f"COPY {SCHEMA}.training FROM STDIN", buf)
    cur.execute(f"""
        CREATE TABLE {SCHEMA}.models AS
        SELECT antares.svm_train(x, label, 1, 0.1 ORDER BY objid) AS svm,
               antares.iforest_train(x, 100, 256, 1) AS forest
        FROM (SELECT objid, antares.feature_vector(antares.lc_features(pb, flux, dflux)) AS x,
                     CASE WHEN objid <= 20 THEN 0 WHEN objid <= 60 THEN 1 ELSE 2 END AS label
              FROM {SCHEMA}.training GROUP BY objid) f""")


def build_night(cur, n_objects, n_new):
    cur.execute(f"""
        CREATE TABLE {SCHEMA}.tonight AS
        SELECT o AS objid, 60000.0 + k * 0.01 + (o % 97) * 0.001 AS t,
               (ARRAY['g', 'r', 'i', 'z'])[1 + (o + k) % 4] AS pb,
               12 + 4 * sin(o * 0.37 + k) AS flux, 0.8 + (o % 7) * 0.1 AS dflux
        FROM generate_series(1, {n_objects}) o, generate_series(0, {n_new - 1}) k""")
    for part in (0, 1):
        cur.execute(f"CREATE TABLE {SCHEMA}.tonight_{part} AS SELECT * FROM {SCHEMA}.tonight WHERE objid % 2 = {part}")
    cur.execute(f"ANALYZE {SCHEMA}.tonight, {SCHEMA}.tonight_0, {SCHEMA}.tonight_1")


def build_history(cur, n_objects, h):
    """The stored states of the survey before tonight: one H-point state per object."""
    cur.execute(f"DROP TABLE IF EXISTS {SCHEMA}.history")
    cur.execute(f"""
        CREATE TABLE {SCHEMA}.history AS
        SELECT o AS objid, s AS state, {h} AS n_obs, 59999.0 AS last_t, antares.lc_finalize(s) AS features
        FROM (SELECT antares.lc_accumulate((ARRAY['g', 'r', 'i', 'z'])[1 + k % 4],
                                           10 + 5 * sin(k * 0.3) + (k % 11) * 0.2, 0.7 + (k % 5) * 0.15) AS s
              FROM generate_series(1, {h}) k) x, generate_series(1, {n_objects}) o""")


def restore(cur):
    cur.execute("TRUNCATE antares.object_state, antares.alerts, antares.nights")
    cur.execute(f"""INSERT INTO antares.object_state
                    SELECT objid, state, NULL, n_obs, last_t, features, NULL, NULL, now() FROM {SCHEMA}.history""")
    cur.execute("VACUUM ANALYZE antares.object_state")
    cur.execute("CHECKPOINT")


NIGHT = (f"SELECT * FROM antares.process_night(%s, 60000, 60001, (SELECT svm FROM {SCHEMA}.models), "
         f"(SELECT forest FROM {SCHEMA}.models), -0.1)")


def run_serial(cur):
    t0 = time.perf_counter()
    cur.execute(NIGHT, (f"{SCHEMA}.tonight",))
    updated, alerts = cur.fetchone()
    return time.perf_counter() - t0, updated, alerts


def run_two_sessions():
    results = [None, None]

    def worker(part):
        conn = psycopg2.connect("")
        conn.autocommit = True
        c = conn.cursor()
        c.execute(NIGHT, (f"{SCHEMA}.tonight_{part}",))
        results[part] = c.fetchone()
        conn.close()

    threads = [threading.Thread(target=worker, args=(p,)) for p in (0, 1)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.perf_counter() - t0
    return seconds, sum(r[0] for r in results), sum(r[1] for r in results)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=100000)
    ap.add_argument("--histories", default="100,1000", help="history lengths (observations per object)")
    ap.add_argument("--new", type=int, default=2, help="observations per object tonight")
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement, the best is reported")
    ap.add_argument("--keep", action="store_true", help=f"keep schema {SCHEMA}")
    args = ap.parse_args()
    histories = [int(h) for h in args.histories.split(",")]

    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET client_min_messages = warning")
    cur.execute("SELECT (SELECT count(*) FROM antares.object_state) + (SELECT count(*) FROM antares.alerts)"
                " + (SELECT count(*) FROM antares.nights)")
    if cur.fetchone()[0]:
        sys.exit("bench/stream.py: antares.object_state, alerts or nights is not empty: not touching them")
    cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    cur.execute(f"CREATE SCHEMA {SCHEMA}")
    cur.execute("SELECT version()")
    print(cur.fetchone()[0].split(" on ")[0], "|", os.cpu_count(), "CPUs")
    cur.execute("SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings "
                "WHERE name IN ('shared_buffers', 'max_wal_size', 'synchronous_commit', 'work_mem')")
    print("settings:", cur.fetchone()[0])
    rows = []
    try:
        load_training(cur)
        build_night(cur, args.objects, args.new)
        print(f"survey: {args.objects:,} objects, {args.new} new observations each tonight "
              f"({args.objects * args.new:,} rows); histories of {', '.join(map(str, histories))} observations")
        for h in histories:
            t0 = time.perf_counter()
            build_history(cur, args.objects, h)
            cur.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{SCHEMA}.history'))")
            print(f"  history of {h} observations per object: {cur.fetchone()[0]} of states "
                  f"(built in {time.perf_counter() - t0:.1f} s)")
            for mode, fn in (("serial", lambda: run_serial(cur)), ("2 sessions", run_two_sessions)):
                runs = []
                for _ in range(args.repeat):
                    restore(cur)
                    runs.append(fn())
                seconds, updated, alerts = min(runs)
                if updated != args.objects:
                    raise RuntimeError(f"{mode}: {updated} objects updated, expected {args.objects}")
                rows.append((h, mode, seconds, updated, alerts))
                print(f"  timed H={h:5d} {mode:10s} best {seconds:7.2f} s  {updated / seconds:8.0f} objects/s  "
                      f"{alerts} alerts  runs " + " ".join(f"{r[0]:.2f}" for r in runs))
                sys.stdout.flush()
    finally:
        cur.execute("TRUNCATE antares.object_state, antares.alerts, antares.nights")
        if not args.keep:
            cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.close()

    print()
    print(f"{'history':>8s} {'mode':10s} {'seconds':>8s} {'objects/s':>10s} {'÷ Rubin peak':>12s}")
    for h, mode, s, updated, _ in rows:
        rate = updated / s
        print(f"{h:8d} {mode:10s} {s:8.2f} {rate:10.0f} {rate / RUBIN_PER_SECOND:12.1f}")
    for mode in ("serial", "2 sessions"):
        t = {h: s for h, m, s, _, _ in rows if m == mode}
        if len(t) > 1:
            lo, hi = min(t), max(t)
            print(f"{mode}: the night takes {t[hi] / t[lo]:.2f}x as long with histories of {hi} as of {lo} "
                  f"observations ({hi / lo:.0f}x longer)")
    best = max(u / s for _, _, s, u, _ in rows)
    print(f"best: {best:.0f} objects/s = {best / RUBIN_PER_SECOND:.0f}x Rubin's peak of 10,000 alerts per 37 s "
          f"(target >= 10,000 objects/s: {'met' if best >= 1e4 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
