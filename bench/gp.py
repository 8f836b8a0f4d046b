#!/usr/bin/python3
"""Benchmark: Gaussian-process smoothing in the database (antares.gp_smooth)
against scikit-learn, and at scale with parallel workers.

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 bench/gp.py [--repeat R] [--sizes 10000,100000] [--keep]

1. The shipped light curves: every g, r, i and z band of the 1100 objects of
   data/dsfp (4400 bands, 110,101 rows), in table antares_bench_gp.base.
     antares   SELECT objid, pb, antares.gp_smooth(t, flux, dflux) ... GROUP BY
               objid, pb, serially (max_parallel_workers_per_gather = 0): per band
               the fit and the 200-point prediction; every output is consumed
               (sums of all scalar columns and of hash_array of t, mean, sd);
     scalars   the same query summing only the scalar columns: the arrays are
               computed but not read (the cost of the smoothing alone);
     sklearn   GaussianProcessRegressor fit + predict(return_std=True) on the
               200-point grid per band, the settings of the issue (the reference
               of test/validation/test_gp.py), in this process on one core
               (OPENBLAS/OMP/MKL threads = 1), data already in memory.
   Reported per light curve (all four bands) and as the ratio sklearn / antares
   (targets: under 1 ms per light curve, at least 100x sklearn).
2. At scale: copies of the 1000 shipped test objects under new objids, 10^4 and
   10^5 light curves (--sizes), the same query
     serial       max_parallel_workers_per_gather = 0;
     partial      2 parallel workers, PostgreSQL's default parallel plan for a
                  plain table: Finalize aggregate over Gather over a Partial
                  aggregate.  The workers only collect each band's observations;
                  every final function, i.e. every GP fit, runs in the leader;
     partitionwise  2 parallel workers on a copy of the table hash-partitioned by
                  objid (16 partitions, each with parallel_workers = 0) with
                  enable_partitionwise_aggregate = on and PostgreSQL's default
                  parallel costs: Gather over a Parallel
                  Append of complete per-partition aggregates, so the fits
                  themselves run in the workers (and the leader).
   Each plan is checked with EXPLAIN (and EXPLAIN ANALYZE: workers launched);
   the three results must agree.

Timings are the best of R runs (default 3; --repeat-large, default 1, for
10^5 light curves and more).  Drops the schema it creates unless
--keep; creates (and drops) the extension if the database does not have it.
"""

import argparse
import importlib.util
import io
import os
import platform
import sys
import time
import warnings
from pathlib import Path

# benchlib before numpy: it sets one BLAS thread (scikit-learn is timed on one core)
from benchlib import best_of, close_bench, open_bench, run_sql, same_sums

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "antares_bench_gp"

PARALLEL = ("SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; "
            "SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0")
SERIAL = "SET max_parallel_workers_per_gather = 0; SET enable_partitionwise_aggregate = off"
PARALLEL += "; SET enable_partitionwise_aggregate = off"
# With parallel_tuple_cost = 0 the planner prefers a partial aggregation over
# the Parallel Append for 10^5 light curves (moving 400,000 partial states
# through the Gather costs nothing then); at the default costs it picks the
# partitionwise plan.
PARTITIONWISE = ("SET max_parallel_workers_per_gather = 2; RESET parallel_setup_cost; "
                 "RESET parallel_tuple_cost; RESET min_parallel_table_scan_size; "
                 "SET enable_partitionwise_aggregate = on")
PARTITIONS = 16


def load_reference_module():
    """The validation test's reader and sklearn reference."""
    path = ROOT / "test" / "validation" / "test_gp.py"
    spec = importlib.util.spec_from_file_location("antares_gp_validation", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def consume(source):
    """Sums of every output of gp_smooth over the rows of source (column c).
    Each array is read whole by hash_array (PostgreSQL's hash of every
    element, in C: a few ns per element), so the query uses every output
    without timing an SQL-level loop over 600 elements per band."""
    return f"""
        SELECT count(*), sum((c).n), sum((c).amplitude), sum((c).length_scale),
               sum((c).log_likelihood), sum((c).peak_t), sum((c).peak_flux),
               sum(hash_array((c).t)), sum(hash_array((c).mean)), sum(hash_array((c).sd))
        FROM {source}"""


def scalars(source):
    """Sums of the scalar outputs only (the arrays are computed, not read)."""
    return f"""
        SELECT count(*), sum((c).n), sum((c).amplitude), sum((c).length_scale),
               sum((c).log_likelihood), sum((c).peak_t), sum((c).peak_flux)
        FROM {source}"""


def grouped(table):
    return f"(SELECT objid, pb, antares.gp_smooth(t, flux, dflux) AS c FROM {SCHEMA}.{table} GROUP BY objid, pb) g"


def smooth_query(table):
    return consume(grouped(table))


def build(cur, mod, sizes):
    """base: the shipped g/r/i/z bands (test objects 1..1000, training 1001..1100);
    lc<N>: N / 1000 copies of the test objects under new objids."""
    bands = mod.read_bands()
    cur.execute(f"CREATE SCHEMA {SCHEMA}")
    cur.execute(f"CREATE UNLOGGED TABLE {SCHEMA}.base (objid int, t float8, pb text, flux float8, dflux float8)")
    buf = io.StringIO()
    for (src, objid, pb), (t, flux, dflux) in sorted(bands.items()):
        oid = objid if src == "test" else 1000 + objid
        for i in range(len(t)):
            buf.write(f"{oid}\t{t[i]!r}\t{pb}\t{flux[i]!r}\t{dflux[i]!r}\n")
    buf.seek(0)
    cur.copy_expert(f"COPY {SCHEMA}.base FROM STDIN", buf)
    cur.execute(f"VACUUM ANALYZE {SCHEMA}.base")
    tables = {}
    for size in sizes:
        copies = size // 1000
        name = f"lc{size}"
        cur.execute(f"CREATE UNLOGGED TABLE {SCHEMA}.{name} (objid int, t float8, pb text, flux float8, dflux float8)")
        cur.execute(f"""
            INSERT INTO {SCHEMA}.{name}
            SELECT objid + k * 1000, t, pb, flux, dflux
            FROM generate_series(0, {copies - 1}) k, {SCHEMA}.base WHERE objid <= 1000
            ORDER BY k, objid, pb, t""")
        cur.execute(f"VACUUM ANALYZE {SCHEMA}.{name}")
        cur.execute(f"CREATE TABLE {SCHEMA}.{name}_part (objid int, t float8, pb text, flux float8, dflux float8) "
                    f"PARTITION BY HASH (objid)")
        for i in range(PARTITIONS):
            # parallel_workers = 0: a partition is never split between workers
            # (which would make the planner aggregate it partially).
            cur.execute(f"CREATE UNLOGGED TABLE {SCHEMA}.{name}_part_{i} PARTITION OF {SCHEMA}.{name}_part "
                        f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {i}) WITH (parallel_workers = 0)")
        cur.execute(f"INSERT INTO {SCHEMA}.{name}_part SELECT * FROM {SCHEMA}.{name}")
        cur.execute(f"VACUUM ANALYZE {SCHEMA}.{name}_part")
        cur.execute(f"SELECT count(*), count(DISTINCT objid), pg_size_pretty(pg_table_size('{SCHEMA}.{name}')) "
                    f"FROM {SCHEMA}.{name}")
        tables[size] = (name,) + cur.fetchone()
    return bands, tables


def check_plan(cur, settings, sql, partitionwise):
    """A parallel plan: a Gather, and either Partial aggregation of gp_smooth or
    (partitionwise) complete aggregation of each partition under a Parallel
    Append; EXPLAIN ANALYZE must launch workers (this is also the warm-up)."""
    cur.execute(settings)
    cur.execute("EXPLAIN (COSTS OFF) " + sql)
    lines = [r[0] for r in cur.fetchall()]
    plan = "\n".join(lines)
    # The outer sums are aggregated too: the group aggregates are those with a Group Key.
    group_aggs = [lines[i - 1].strip().lstrip("->").strip() for i, l in enumerate(lines)
                  if "Group Key" in l]
    if partitionwise:
        ok = ("Gather" in plan and "Parallel Append" in plan and group_aggs
              and not any(a.startswith("Partial") or a.startswith("Finalize") for a in group_aggs))
    else:
        ok = ("Gather" in plan and any(a.startswith("Partial") for a in group_aggs)
              and any(a.startswith("Finalize") for a in group_aggs))
    if not ok and partitionwise:
        # The planner does not cost the fits (the final functions), so on large
        # tables it may still prefer partial aggregation; time what it chose.
        print("  note: the planner chose partial aggregation over the partitions, "
              "so the fits run in the leader")
    elif not ok:
        raise RuntimeError(f"unexpected plan (partial):\n{plan}")
    cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql)
    analyzed = "\n".join(r[0] for r in cur.fetchall())
    launched = [l.strip() for l in analyzed.splitlines() if "Workers Launched" in l]
    if not launched or launched[0].endswith(": 0"):
        raise RuntimeError(f"no workers launched:\n{analyzed}")
    nodes = [lines[0].strip()] + [l.strip()[2:].strip() for l in lines if l.strip().startswith("->")]
    # One partition's subtree stands for all of them.
    shape, seen = [], set()
    for n in nodes:
        key = n.split(" on ")[0]
        if key not in seen:
            seen.add(key)
            shape.append(n)
    return launched[0], " -> ".join(shape)


def sklearn_all(mod, bands):
    """Fit + 200-point prediction of every band; returns the sum of optima."""
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t, flux, dflux in bands.values():
            gp = mod.sk_fit(t, flux, dflux)
            mean, sd = gp.predict(mod.grid_of(t)[:, None], return_std=True)
            total += gp.log_marginal_likelihood_value_
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="timings per measurement, best is reported")
    ap.add_argument("--repeat-large", type=int, default=1,
                    help="timings per measurement for 10^5 light curves and more (default 1)")
    ap.add_argument("--sklearn-repeat", type=int, default=1, help="timings of the sklearn baseline (default 1)")
    ap.add_argument("--sizes", default="10000,100000",
                    help="light curves at scale, multiples of 1000 (default 10000,100000)")
    ap.add_argument("--keep", action="store_true", help=f"keep schema {SCHEMA}")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if any(s <= 0 or s % 1000 for s in sizes):
        ap.error("--sizes: positive multiples of 1000")

    t_start = time.perf_counter()
    mod = load_reference_module()
    conn, cur, created = open_bench("antares.gp_log_likelihood", SCHEMA)
    cur.execute("SET work_mem = '4GB'")

    try:
        t0 = time.perf_counter()
        bands, tables = build(cur, mod, sizes)
        nlc = len({(k[0], k[1]) for k in bands})
        nrows = sum(len(v[0]) for v in bands.values())
        print(f"built {SCHEMA}.base: {nlc} light curves, {len(bands)} g/r/i/z bands, {nrows} rows; "
              + "; ".join(f"{name}: {n} rows, {o} light curves, {size}" for name, n, o, size in tables.values())
              + f" ({time.perf_counter() - t0:.1f} s)")
        cur.execute("SELECT version()")
        print(cur.fetchone()[0].split(" on ")[0], "|", platform.machine(), os.cpu_count(), "CPUs")
        cur.execute("SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) "
                    "FROM pg_settings WHERE name IN ('work_mem', 'shared_buffers', 'jit', "
                    "'max_parallel_workers', 'max_worker_processes')")
        print("settings:", cur.fetchone()[0])
        sys.stdout.flush()

        rows = []   # (label, light curves, seconds, note)

        # -- 1. the shipped light curves: antares serial, the consuming part, sklearn
        sql = smooth_query("base")
        run_sql(cur, SERIAL, sql)      # warm-up
        best_a, times, res_a = best_of(args.repeat, lambda: run_sql(cur, SERIAL, sql))
        print(f"  timed antares  shipped  serial   best {best_a:7.3f} s  runs " + " ".join(f"{t:.3f}" for t in times))
        if res_a[0] != len(bands) or res_a[1] != nrows:
            raise RuntimeError(f"gp_smooth smoothed {res_a[0]} bands of {res_a[1]} rows, "
                               f"expected {len(bands)} and {nrows}")
        ssql = scalars(grouped("base"))
        best_c, times, res_c = best_of(args.repeat, lambda: run_sql(cur, SERIAL, ssql))
        print(f"  timed antares  shipped  scalars  best {best_c:7.3f} s  runs " + " ".join(f"{t:.3f}" for t in times))
        if not same_sums(res_a[:7], res_c, 0.0):
            raise RuntimeError(f"scalar outputs differ between the queries: {res_a} {res_c}")
        sys.stdout.flush()
        best_s, times, sk_lml = best_of(args.sklearn_repeat, lambda: sklearn_all(mod, bands))
        print(f"  timed sklearn  shipped  1 core   best {best_s:7.3f} s  runs " + " ".join(f"{t:.3f}" for t in times))
        sys.stdout.flush()
        rows.append(("sklearn fit + predict, 1 process", nlc, best_s, ""))
        rows.append(("antares gp_smooth, serial", nlc, best_a, "all outputs consumed"))
        rows.append(("  scalar columns only", nlc, best_c, "arrays computed, not read"))

        # -- 2. at scale
        scale = {}
        for size, (name, n, o, _) in tables.items():
            repeat = args.repeat if size < 100000 else args.repeat_large
            res = {}
            for mode, settings, table in (("serial", SERIAL, name), ("partial", PARALLEL, name),
                                          ("partitionwise", PARTITIONWISE, f"{name}_part")):
                sql = smooth_query(table)
                if mode == "serial":
                    run_sql(cur, settings, f"SELECT count(*) FROM {SCHEMA}.{table}")   # warm the cache
                    workers = 0
                else:
                    launched, shape = check_plan(cur, settings, sql, mode == "partitionwise")
                    print(f"  plan {mode:13s} {shape}; {launched}")
                    workers = int(launched.split(":")[1])
                    if workers < 2:
                        print(f"  warning: only {workers} parallel worker launched; max_worker_processes "
                              f"counts background workers too (the logical replication launcher): "
                              f"set it to at least 3 for 2 parallel workers")
                best, times, r = best_of(repeat, lambda: run_sql(cur, settings, sql))
                res[mode] = (best, r, workers)
                print(f"  timed antares  {table:10s} {mode:13s} best {best:7.3f} s  runs "
                      + " ".join(f"{t:.3f}" for t in times))
                sys.stdout.flush()
            if res["serial"][1][0] != 4 * o:
                raise RuntimeError(f"{name}: {res['serial'][1][0]} bands smoothed, expected {4 * o}")
            for mode in ("partial", "partitionwise"):
                if not same_sums(res["serial"][1], res[mode][1]):
                    raise RuntimeError(f"{name}: serial and {mode} results differ: "
                                       f"{res['serial'][1]} {res[mode][1]}")
            scale[size] = res
            ser = res["serial"][0]
            rows.append((f"antares, {o:,} light curves, serial", o, ser, ""))
            rows.append(("  2 workers, Partial/Finalize plan", o, res["partial"][0],
                         f"{ser / res['partial'][0]:.2f}x serial; fits in the leader; "
                         f"{res['partial'][2]} launched"))
            rows.append((f"  2 workers, partitionwise ({PARTITIONS} partitions)", o, res["partitionwise"][0],
                         f"{ser / res['partitionwise'][0]:.2f}x serial; fits in the workers; "
                         f"{res['partitionwise'][2]} launched"))
        cur.execute(SERIAL)

        print()
        print(f"{'measurement':42s} {'light curves':>12s} {'seconds':>9s} {'ms / curve':>10s} "
              f"{'sklearn /':>9s}  note")
        sk_ms = best_s / nlc * 1e3
        for label, n, s, note in rows:
            ms = s / n * 1e3
            print(f"{label:42s} {n:12,d} {s:9.3f} {ms:10.4f} {sk_ms / ms:9.1f}  {note}")
        print()
        a_ms = best_a / nlc * 1e3
        ratio = best_s / best_a
        print(f"antares per light curve (4 bands: fit + 200-point prediction, serial): {a_ms:.3f} ms "
              f"(target < 1 ms: {'met' if a_ms < 1 else 'MISSED'}); "
              f"{best_c / nlc * 1e3:.3f} ms without reading the arrays ({best_s / best_c:.0f}x sklearn)")
        print(f"sklearn per light curve: {sk_ms:.2f} ms; sklearn / antares = {ratio:.0f}x "
              f"(target >= 100x: {'met' if ratio >= 100 else 'MISSED'})")
        print(f"sum of log marginal likelihoods over the {len(bands)} bands: antares {res_a[4]:.6f}, "
              f"sklearn {sk_lml:.6f} (difference {res_a[4] - sk_lml:+.6f})")
        for size, res in scale.items():
            print(f"{size:,} light curves with 2 parallel workers: {res['partial'][0]:.2f} s with the default "
                  f"Partial/Finalize plan, {res['partitionwise'][0]:.2f} s partitionwise "
                  f"({res['partitionwise'][0] / size * 1e3:.3f} ms per light curve); serial {res['serial'][0]:.2f} s")
        print(f"total run time {time.perf_counter() - t_start:.0f} s")
    finally:
        close_bench(conn, cur, SCHEMA, created, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
