#!/usr/bin/python3
"""Benchmark: antares at scale on a simulated survey, with 0, 1 and 2 parallel
workers, and how the time grows with the number of rows.

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 bench/scale.py [--rows 10000000] [--growth 100000,1000000] [--repeat 3] [--keep]

1. The survey: antares.simulate_survey (seed 1, three years, ~309 rows per
   object) until --rows rows (default 10^7, ~32,400 objects), generated in
   parallel (a table of objid ranges scanned by parallel workers, LATERAL
   simulate_survey over each range) into an UNLOGGED table phot, and the same
   rows into phot_part, hash-partitioned by objid into 16 partitions (each
   with parallel_workers = 0, so that a partition is never split between
   workers).  Smaller surveys for the growth part are the first objects of
   the same survey (--growth, default 10^5 and 10^6 rows).
2. Three workloads, each with max_parallel_workers_per_gather = 0, 1, 2:
     features   SELECT objid, lc_features(pb, flux, dflux) ... GROUP BY objid,
                all 47 columns summed (every output consumed); on the plain
                table (Partial/Finalize plan: workers collect, the leader
                computes every group's features) and on phot_part
                (partitionwise: complete per-partition aggregation under a
                Parallel Append, the final functions in the workers);
     gp         SELECT objid, pb, gp_smooth(t, flux, dflux) ... GROUP BY objid,
                pb on phot_part (partitionwise, the fits in the workers), every
                output consumed (scalars summed, arrays through hash_array);
     scoring    svm_predict, iforest_decision and rf_predict of every object's
                23 DSFP features (feature_vector) in one query, the feature
                vectors repeated --score-copies times (default 10) so that
                the scan lasts long enough to be timed; models trained on the
                first 2000 objects with their simulated labels (SVM C = 1,
                gamma 'scale'; 100 trees each).
   Each plan is checked with EXPLAIN (a Gather with the planned workers over
   a Partial aggregate or a Parallel Append; none at 0) and EXPLAIN ANALYZE
   (workers launched), and every parallel result must equal the serial one
   (sums of integers and hashes exactly; sums of floats to 1e-9 relative,
   their order of addition differs).  Speed-up = serial time / parallel time
   (target 1.6x with 2 workers on 2 cores).
3. Growth: the features (serial and 2 workers, partitionwise) and the GP
   (2 workers, partitionwise) on the first objects of the survey at --growth
   sizes and at --rows: microseconds per row at each size, and the ratio of
   the largest to the smallest (1.00 = linear).

Timings are the best of --repeat runs (default 3; 1 for the GP at the full
size, --repeat-large).  Work_mem is set to 1GB for the session.  Drops its
schema unless --keep; creates (and drops) the extension if missing.
"""

import argparse
import os
import platform
import sys
import time


from benchlib import best_of, close_bench, features_query, open_bench, run_sql, same_sums

SCHEMA = "antares_bench_scale"
PARTITIONS = 16
NOTES = []      # plans the planner chose otherwise than asked
OBJECTS_PER_RANGE = 100
ROWS_PER_OBJECT = 309   # simulate_survey's mean for three years (SURVEY_OBS_PER_YEAR x 3)


def workers_settings(k):
    """k parallel workers: any scan may be parallel and starting workers costs
    nothing (the queries last seconds); moving a row through a Gather keeps
    its default cost, so that the planner aggregates whole partitions in the
    workers rather than moving partial states (it does not see the cost of
    the final functions, where the work is)."""
    return (f"SET max_parallel_workers_per_gather = {k}; SET min_parallel_table_scan_size = 0; "
            "SET parallel_setup_cost = 0; RESET parallel_tuple_cost")


def gp_query(table):
    return (f"SELECT count(*), sum((c).n), sum((c).amplitude), sum((c).length_scale), "
            f"sum((c).log_likelihood), sum((c).peak_t), sum((c).peak_flux), "
            f"sum(hash_array((c).t)), sum(hash_array((c).mean)), sum(hash_array((c).sd)) "
            f"FROM (SELECT objid, pb, antares.gp_smooth(t, flux, dflux) AS c "
            f"FROM {SCHEMA}.{table} GROUP BY objid, pb) g")


def scoring_query():
    # the models as InitPlans: evaluated once by the leader, passed to the workers
    m = f"FROM {SCHEMA}.models"
    return (f"SELECT count(*), sum(antares.svm_predict((SELECT svm {m}), x)), "
            f"sum(antares.iforest_decision((SELECT forest {m}), x)), "
            f"sum(antares.rf_predict((SELECT rf {m}), x)) FROM {SCHEMA}.scored")


def timed(cur, sql):
    t0 = time.perf_counter()
    cur.execute(sql)
    result = cur.fetchone()
    return time.perf_counter() - t0, result


def check_plan(cur, settings, sql, k, expect):
    """EXPLAIN: a Gather with k workers over `expect` (Partial aggregation or
    a Parallel Append of whole-group aggregates), or no Gather at all for k = 0;
    EXPLAIN ANALYZE: k workers launched.  Returns a one-line shape."""
    cur.execute(settings)
    cur.execute("EXPLAIN (COSTS OFF) " + sql)
    lines = [r[0] for r in cur.fetchall()]
    plan = "\n".join(lines)
    if k == 0:
        if "Gather" in plan or "Parallel" in plan:
            raise RuntimeError(f"a parallel plan with 0 workers:\n{plan}")
    else:
        group_aggs = [lines[i - 1].strip().lstrip("->").strip() for i, l in enumerate(lines) if "Group Key" in l]
        ok = f"Workers Planned: {k}" in plan
        if expect == "partial":
            ok = ok and any(a.startswith("Partial") for a in group_aggs)
        elif expect == "partitionwise":
            ok = ok and "Parallel Append" in plan and group_aggs and \
                not any(a.startswith(("Partial", "Finalize")) for a in group_aggs)
        elif expect == "scan":
            ok = ok and "Parallel Seq Scan on scored" in plan
        if not ok and expect == "partitionwise" and "Gather" not in plan:
            # The planner spreads whole partitions over the workers only (not
            # the leader), so with one worker it sees no gain and stays serial.
            NOTES.append(f"{k} worker(s), partitionwise: the planner kept the serial plan")
        elif not ok:
            raise RuntimeError(f"unexpected plan for {k} workers ({expect}):\n{plan}")
    if "Gather" in plan:
        cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql)
        analyzed = "\n".join(r[0] for r in cur.fetchall())
        launched = [l.strip() for l in analyzed.splitlines() if "Workers Launched" in l]
        if not launched or launched[0] != f"Workers Launched: {k}":
            raise RuntimeError(f"{k} workers planned, {launched} launched:\n{analyzed}")
    nodes = [lines[0].strip()] + [l.strip()[2:].strip() for l in lines if l.strip().startswith("->")]
    shape, seen = [], set()
    for n in nodes:
        key = n.split(" on ")[0]
        if key not in seen:
            seen.add(key)
            shape.append(key)
    return " -> ".join(shape)


def build(cur, rows, growth, copies):
    n_objects = max(1, round(rows / ROWS_PER_OBJECT))
    n_objects += (-n_objects) % OBJECTS_PER_RANGE
    cur.execute(f"CREATE SCHEMA {SCHEMA}")
    cur.execute(f"CREATE TABLE {SCHEMA}.ranges (first_objid bigint) WITH (parallel_workers = 2)")
    cur.execute(f"INSERT INTO {SCHEMA}.ranges SELECT generate_series(1, {n_objects}, {OBJECTS_PER_RANGE})")
    cur.execute(f"ANALYZE {SCHEMA}.ranges")
    # The leader inserts every row: the Gather's per-row cost would keep the
    # generation serial, though the workers simulate faster than it inserts.
    cur.execute(workers_settings(2) + "; SET parallel_tuple_cost = 0")
    gen_sql = (f"CREATE UNLOGGED TABLE {SCHEMA}.phot AS SELECT s.objid, s.t, s.pb, s.flux, s.dflux, s.label "
               f"FROM {SCHEMA}.ranges r, LATERAL antares.simulate_survey({OBJECTS_PER_RANGE}, 1, r.first_objid) s")
    cur.execute("EXPLAIN (COSTS OFF) " + gen_sql)
    gen_plan = " -> ".join(r[0].strip().lstrip("->").strip() for r in cur.fetchall())
    t_gen, _ = timed(cur, gen_sql + " ; SELECT 1")
    cur.execute("RESET parallel_tuple_cost")
    cur.execute(f"VACUUM ANALYZE {SCHEMA}.phot")
    cur.execute(f"SELECT count(*), count(DISTINCT objid), pg_size_pretty(pg_table_size('{SCHEMA}.phot')) "
                f"FROM {SCHEMA}.phot")
    total, objects, size = cur.fetchone()
    print(f"simulated {total:,} rows, {objects:,} objects ({size}) in {t_gen:.1f} s "
          f"({total / t_gen / 1e6:.2f} Mrows/s) with plan: {gen_plan}")

    sizes = {}
    for g in growth:
        k = max(1, round(g / ROWS_PER_OBJECT))
        sizes[g] = (f"phot_{g}", k)
    sizes[rows] = ("phot", objects)
    for name, k in sizes.values():
        if name != "phot":
            cur.execute(f"CREATE UNLOGGED TABLE {SCHEMA}.{name} AS SELECT * FROM {SCHEMA}.phot WHERE objid <= {k}")
        cur.execute(f"CREATE TABLE {SCHEMA}.{name}_part (LIKE {SCHEMA}.phot) PARTITION BY HASH (objid)")
        for i in range(PARTITIONS):
            cur.execute(f"CREATE UNLOGGED TABLE {SCHEMA}.{name}_part_{i} PARTITION OF {SCHEMA}.{name}_part "
                        f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {i}) WITH (parallel_workers = 0)")
        cur.execute(f"INSERT INTO {SCHEMA}.{name}_part SELECT * FROM {SCHEMA}.{name}")
        cur.execute(f"VACUUM ANALYZE {SCHEMA}.{name}")
        cur.execute(f"VACUUM ANALYZE {SCHEMA}.{name}_part")

    # models on the first 2000 objects; every object's feature vector, copies times
    cur.execute(workers_settings(2))
    cur.execute(f"""
        CREATE UNLOGGED TABLE {SCHEMA}.fv AS
        SELECT objid, min(label) AS label, antares.feature_vector(antares.lc_features(pb, flux, dflux)) AS x
        FROM {SCHEMA}.phot GROUP BY objid""")
    cur.execute(f"""
        CREATE TABLE {SCHEMA}.models AS
        SELECT antares.svm_train(x, label ORDER BY objid) AS svm, antares.iforest_train(x) AS forest,
               antares.rf_train(x, label) AS rf
        FROM {SCHEMA}.fv WHERE objid <= 2000""")
    cur.execute(f"CREATE UNLOGGED TABLE {SCHEMA}.scored AS SELECT f.* FROM generate_series(1, {copies}) c, "
                f"{SCHEMA}.fv f")
    cur.execute(f"VACUUM ANALYZE {SCHEMA}.scored")
    # one row: never the table the workers divide between them
    cur.execute(f"ALTER TABLE {SCHEMA}.models SET (parallel_workers = 0)")
    cur.execute(f"ANALYZE {SCHEMA}.models")
    cur.execute(f"SELECT count(*) FROM {SCHEMA}.scored")
    scored = cur.fetchone()[0]
    cur.execute(f"SELECT (antares.svm_info(svm) ->> 'n_support_vectors')::int FROM {SCHEMA}.models")
    svs = cur.fetchone()[0]
    print(f"scoring: {scored:,} feature vectors ({copies} x {objects:,} objects); SVM with {svs} support vectors")
    return sizes, total, scored


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--growth", default="100000,1000000", help="smaller sizes, rows (default 10^5, 10^6)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repeat-large", type=int, default=1, help="runs of the GP at --rows (default 1)")
    ap.add_argument("--score-copies", type=int, default=10)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    growth = [int(g) for g in args.growth.split(",") if g]

    t_start = time.perf_counter()
    conn, cur, created = open_bench("antares.simulate_survey(integer,bigint)", SCHEMA)
    cur.execute("SET work_mem = '1GB'")
    try:
        cur.execute("SELECT version()")
        print(cur.fetchone()[0].split(" on ")[0], "|", platform.machine(), os.cpu_count(), "CPUs")
        cur.execute("SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) "
                    "FROM pg_settings WHERE name IN ('work_mem', 'shared_buffers', 'jit', "
                    "'max_parallel_workers', 'max_worker_processes', 'parallel_leader_participation')")
        print("settings:", cur.fetchone()[0])
        sys.stdout.flush()
        sizes, total, scored = build(cur, args.rows, growth, args.score_copies)
        sys.stdout.flush()

        workloads = [
            ("features, plain table", "features", features_query(f"{SCHEMA}.phot"), "partial", total),
            ("features, 16 partitions", "features", features_query(f"{SCHEMA}.phot_part"), "partitionwise", total),
            ("gp_smooth, 16 partitions", "gp", gp_query("phot_part"), "partitionwise", total),
            ("scoring (svm, iforest, rf)", "scoring", scoring_query(), "scan", scored),
        ]
        speedups = []
        for label, kind, sql, expect, n in workloads:
            res = {}
            for k in (0, 1, 2):
                settings = workers_settings(k) + ("; SET enable_partitionwise_aggregate = on"
                                                  if expect == "partitionwise" else
                                                  "; SET enable_partitionwise_aggregate = off")
                shape = check_plan(cur, settings, sql, k, expect)
                repeat = args.repeat_large if kind == "gp" else args.repeat
                best, times, r = best_of(repeat, lambda: run_sql(cur, settings, sql))
                res[k] = (best, r)
                print(f"  {label:28s} {k} workers  best {best:8.3f} s  runs "
                      + " ".join(f"{t:.3f}" for t in times) + f"  | {shape}")
                sys.stdout.flush()
            for k in (1, 2):
                if not same_sums(res[0][1], res[k][1]):
                    raise RuntimeError(f"{label}: {k} workers disagree with serial: {res[0][1]} {res[k][1]}")
            speedups.append((label, n, res))

        # growth: the first objects of the same survey
        growth_rows = []
        for size in sorted(sizes):
            name, _ = sizes[size]
            cur.execute(f"SELECT count(*) FROM {SCHEMA}.{name}")
            n = cur.fetchone()[0]
            line = [size, n]
            for sql, k, expect, repeat in (
                    (features_query(f"{SCHEMA}.{name}_part"), 0, "partitionwise", args.repeat),
                    (features_query(f"{SCHEMA}.{name}_part"), 2, "partitionwise", args.repeat),
                    (gp_query(f"{name}_part"), 2, "partitionwise", args.repeat if size < args.rows else 1)):
                settings = workers_settings(k) + "; SET enable_partitionwise_aggregate = on"
                if size == args.rows:
                    # measured above
                    line.append(None)
                    continue
                check_plan(cur, settings, sql, k, expect)
                best, _, _ = best_of(repeat, lambda: run_sql(cur, settings, sql))
                line.append(best)
            growth_rows.append(line)
        full = {("features, 16 partitions", 0), ("features, 16 partitions", 2), ("gp_smooth, 16 partitions", 2)}
        measured = {(label, k): res[k][0] for label, _, res in speedups for k in res if (label, k) in full}
        growth_rows[-1][2:] = [measured[("features, 16 partitions", 0)], measured[("features, 16 partitions", 2)],
                               measured[("gp_smooth, 16 partitions", 2)]]

        print()
        print(f"{'workload':28s} {'rows':>12s} {'0 workers s':>12s} {'1 worker s':>11s} {'2 workers s':>12s} "
              f"{'1w speed-up':>11s} {'2w speed-up':>11s}  target 1.6x")
        for label, n, res in speedups:
            s0, s1, s2 = res[0][0], res[1][0], res[2][0]
            print(f"{label:28s} {n:12,d} {s0:12.3f} {s1:11.3f} {s2:12.3f} {s0 / s1:10.2f}x {s0 / s2:10.2f}x  "
                  f"{'met' if s0 / s2 >= 1.6 else 'MISSED'}")
        print()
        print(f"{'growth (first objects)':24s} {'rows':>12s} {'features 0w us/row':>19s} "
              f"{'features 2w us/row':>19s} {'gp 2w us/row':>13s}")
        for size, n, f0, f2, g2 in growth_rows:
            print(f"{size:24,d} {n:12,d} {f0 / n * 1e6:19.4f} {f2 / n * 1e6:19.4f} {g2 / n * 1e6:13.4f}")
        first, last = growth_rows[0], growth_rows[-1]
        print("per-row time at the largest size / at the smallest: "
              f"features 0w {last[2] / last[1] / (first[2] / first[1]):.2f}, "
              f"features 2w {last[3] / last[1] / (first[3] / first[1]):.2f}, "
              f"gp 2w {last[4] / last[1] / (first[4] / first[1]):.2f} (1.00 = linear)")
        for n in dict.fromkeys(NOTES):
            print("note:", n)
        print(f"total run time {time.perf_counter() - t_start:.0f} s")
    finally:
        close_bench(conn, cur, SCHEMA, created, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
