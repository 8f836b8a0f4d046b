#!/usr/bin/python3
"""Benchmark: light-curve features in the database against the plain-SQL floor
and against the DSFP exercise's per-object numpy computation.

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 bench/features.py [--copies N] [--repeat R] [--keep]

Builds antares_bench.big from the 1100 shipped light curves (112,629 rows),
copied N times (default 45, 5,068,305 rows) under new objids, then times, best
of R runs (default 3):

  floor       SELECT objid, pb, count(*), avg(flux), stddev(flux) FROM big GROUP BY objid, pb
  bands       the six single-band aggregates GROUP BY objid, pb
  features    antares.lc_features(pb, flux, dflux) GROUP BY objid
  python      the DSFP-exercise-style numpy/scipy computation per object (the formulas of
              test/validation/test_features.py) on the same rows, fetched from the
              database; the fetch and the computation are timed separately

each SQL query serially (max_parallel_workers_per_gather = 0) and with 2 parallel
workers (the plan is checked to be a Gather over a Partial aggregate).  Every
query consumes every output column: it is wrapped as SELECT sum(c1), sum(c2),
... over all columns of the grouped result (for lc_features all 47 columns of
the composite).  Prints seconds, rows/s, and ratios against the floor.  Drops
the schema it creates unless --keep; creates (and drops) the extension if the
database does not have it.
"""

import argparse
import importlib.util
import io
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from benchlib import BANDS, FEATURE_COLUMNS, STATS, best_of, close_bench, open_bench, run_sql

ROOT = Path(__file__).resolve().parents[1]


def load_reference_module():
    """The validation test's reader and numpy/scipy formulas."""
    path = ROOT / "test" / "validation" / "test_features.py"
    spec = importlib.util.spec_from_file_location("antares_validation", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod



PARALLEL = ("SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; "
            "SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0")
SERIAL = "SET max_parallel_workers_per_gather = 0"


def sums(cols):
    return ", ".join(f"sum({c})" for c in cols)


QUERIES = {
    "floor": f"""
        SELECT count(*), {sums(['n', 'a', 's'])}
        FROM (SELECT objid, pb, count(*) AS n, avg(flux) AS a, stddev(flux) AS s
              FROM antares_bench.big GROUP BY objid, pb) q""",
    "bands": f"""
        SELECT count(*), {sums(['n', 'm', 'sd', 'amp', 'mad', 'b', 'sk'])}
        FROM (SELECT objid, pb, count(*) AS n,
                     antares.weighted_mean(flux, dflux) AS m,
                     antares.norm_std(flux, dflux) AS sd,
                     antares.norm_amplitude(flux, dflux) AS amp,
                     antares.mad(flux) AS mad,
                     antares.beyond_1std(flux, dflux) AS b,
                     antares.skew(flux) AS sk
              FROM antares_bench.big GROUP BY objid, pb) q""",
    "features": f"""
        SELECT count(*), {sums(FEATURE_COLUMNS)}
        FROM (SELECT (f).*
              FROM (SELECT objid, antares.lc_features(pb, flux, dflux) AS f
                    FROM antares_bench.big GROUP BY objid) a) q""",
}


def build(cur, mod, copies):
    objects = mod.read_all()
    cur.execute("CREATE SCHEMA antares_bench")
    cur.execute("CREATE TABLE antares_bench.base (objid int, t float8, pb text, flux float8, dflux float8)")
    buf = io.StringIO()
    nobj = 0
    for (src, objid), (t, pb, flux, dflux) in sorted(objects.items()):
        nobj += 1
        for i in range(len(t)):
            buf.write(f"{nobj}\t{t[i]!r}\t{pb[i]}\t{flux[i]!r}\t{dflux[i]!r}\n")
    buf.seek(0)
    cur.copy_expert("COPY antares_bench.base FROM STDIN", buf)
    cur.execute("CREATE TABLE antares_bench.big (objid int, t float8, pb text, flux float8, dflux float8)")
    cur.execute(f"""
        INSERT INTO antares_bench.big
        SELECT objid + k * {nobj}, t, pb, flux, dflux
        FROM generate_series(0, {copies - 1}) k, antares_bench.base
        ORDER BY k, objid, t""")
    cur.execute("VACUUM ANALYZE antares_bench.big")
    cur.execute("SELECT count(*), count(DISTINCT objid), pg_size_pretty(pg_table_size('antares_bench.big')) "
                "FROM antares_bench.big")
    return cur.fetchone()


def plan_of(cur, settings, sql):
    cur.execute(settings)
    cur.execute("EXPLAIN (COSTS OFF) " + sql)
    return "\n".join(r[0] for r in cur.fetchall())


def fetch_rows(cur):
    """All rows, ordered by object and band, into numpy arrays (COPY, CSV)."""
    buf = io.StringIO()
    cur.copy_expert("COPY (SELECT objid, array_position('{u,g,r,i,z,y}'::text[], pb) - 1, flux, dflux "
                    "FROM antares_bench.big ORDER BY objid, pb) TO STDOUT (FORMAT csv)", buf)
    buf.seek(0)
    a = np.loadtxt(buf, delimiter=",", dtype=np.float64)
    return a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].copy(), a[:, 3].copy()


def python_features(mod, objid, band, flux, dflux):
    """Seed-style: per object, per band, the validation test's numpy/scipy formulas.
    Returns the sum of every feature column (NULLs skipped), like the SQL wrappers."""
    totals = dict.fromkeys(FEATURE_COLUMNS, 0.0)
    starts = np.flatnonzero(np.diff(objid)) + 1
    bounds = np.concatenate(([0], starts, [len(objid)]))
    nobj = 0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        nobj += 1
        pb, f, s = band[lo:hi], flux[lo:hi], dflux[lo:hi]
        means = {}
        for bi, b in enumerate(BANDS):
            sel = pb == bi
            r = mod.ref_band(f[sel], s[sel])
            means[b] = r["mean"]
            totals[f"{b}_n"] += r["n"]
            for st in STATS:
                if r[st] is not None:
                    totals[f"{b}_{st}"] += r[st]
        for x, y in zip(BANDS, BANDS[1:]):
            c = mod.ref_color(means[x], means[y])
            if c is not None:
                totals[f"{x}_minus_{y}"] += c
    return nobj, totals


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=45, help="copies of the shipped data (default 45: 5.07M rows)")
    ap.add_argument("--repeat", type=int, default=3, help="timings per measurement, best is reported")
    ap.add_argument("--keep", action="store_true", help="keep schema antares_bench")
    ap.add_argument("--no-python", action="store_true", help="skip the numpy computation")
    args = ap.parse_args()

    mod = load_reference_module()
    conn, cur, created = open_bench("antares.lc_features", "antares_bench")
    # The planner assumes 8 kB per internal aggregate state and group; with a
    # small work_mem the hash aggregates spill.  4GB: nothing spills here.
    cur.execute("SET work_mem = '4GB'")

    try:
        t0 = time.perf_counter()
        nrows, nobj, size = build(cur, mod, args.copies)
        print(f"built antares_bench.big: {nrows} rows, {nobj} objects, {size} "
              f"({time.perf_counter() - t0:.1f} s)")
        cur.execute("SELECT version()")
        print(cur.fetchone()[0].split(" on ")[0], "|", platform.machine(), os.cpu_count(), "CPUs")
        cur.execute("SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) "
                    "FROM pg_settings WHERE name IN ('work_mem', 'shared_buffers', 'jit', "
                    "'max_parallel_workers', 'max_worker_processes')")
        print("settings:", cur.fetchone()[0])

        results = {}
        for name, sql in QUERIES.items():
            for mode, settings in (("serial", SERIAL), ("parallel", PARALLEL)):
                plan = plan_of(cur, settings, sql)
                parallel_plan = ("Gather" in plan and "Partial" in plan and "Finalize" in plan)
                if (mode == "parallel") != parallel_plan:
                    print(f"error: {name} {mode}: unexpected plan\n{plan}", file=sys.stderr)
                    return 1
                if mode == "parallel":
                    cur.execute(settings)
                    cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql)
                    analyzed = "\n".join(r[0] for r in cur.fetchall())
                    launched = [l.strip() for l in analyzed.splitlines() if "Workers Launched" in l]
                    if not launched or launched[0].endswith(": 0"):
                        print(f"error: {name} parallel: no workers launched\n{analyzed}", file=sys.stderr)
                        return 1
                best, times, row = best_of(args.repeat, lambda: run_sql(cur, settings, sql))
                results[(name, mode)] = (best, times, row)
                how = launched[0] if mode == "parallel" else "no workers"
                print(f"  timed {name:9s} {mode:8s} best {best:7.3f} s  runs "
                      + " ".join(f"{t:.3f}" for t in times) + f"  ({how})")
                sys.stdout.flush()
        cur.execute(SERIAL)

        # Serial and parallel runs must agree (the column sums' own order of
        # summation may differ; test/t/001_parallel_features.pl checks the
        # per-object results for exact equality).
        for name in QUERIES:
            ser, par = results[(name, "serial")][2], results[(name, "parallel")][2]
            for a, b in zip(ser, par):
                a, b = (None if a is None else float(a)), (None if b is None else float(b))
                if (a is None) != (b is None) or (a is not None and abs(a - b) > 1e-9 * max(abs(a), abs(b))):
                    print(f"error: {name}: serial and parallel results differ: {ser} {par}", file=sys.stderr)
                    return 1
        feat_row = results[("features", "serial")][2]

        if not args.no_python:
            best_fetch, fetch_times, arrays = best_of(args.repeat, lambda: fetch_rows(cur))
            print(f"  timed python   fetch    best {best_fetch:7.3f} s  runs "
                  + " ".join(f"{t:.3f}" for t in fetch_times))
            sys.stdout.flush()
            best_py, py_times, (py_nobj, totals) = best_of(
                args.repeat, lambda: python_features(mod, *arrays))
            print(f"  timed python   compute  best {best_py:7.3f} s  runs "
                  + " ".join(f"{t:.3f}" for t in py_times))
            # The two computations must have produced the same features.
            worst = 0.0
            sql_totals = dict(zip(FEATURE_COLUMNS, feat_row[1:]))
            for c in FEATURE_COLUMNS:
                a, b = float(sql_totals[c] or 0.0), totals[c]
                if a != b:
                    worst = max(worst, abs(a - b) / max(abs(a), abs(b)))
            print(f"  python vs lc_features: {py_nobj} objects, column sums agree to {worst:.2g} relative")
            if py_nobj != feat_row[0] or worst > 1e-9:
                print("error: python and lc_features disagree", file=sys.stderr)
                return 1

        floor_s = results[("floor", "serial")][0]
        floor_p = results[("floor", "parallel")][0]
        print()
        print(f"{'measurement':32s} {'seconds':>8s} {'Mrows/s':>8s} {'/floor':>7s} {'/floor par':>10s}")
        lines = []
        for name, label in (("floor", "floor count/avg/stddev"),
                            ("bands", "six band aggregates"),
                            ("features", "lc_features")):
            for mode in ("serial", "parallel"):
                lines.append((f"{label}, {mode}", results[(name, mode)][0]))
        if not args.no_python:
            lines += [("python fetch (COPY to numpy)", best_fetch),
                      ("python compute (numpy/scipy)", best_py),
                      ("python fetch + compute", best_fetch + best_py)]
        for label, s in lines:
            print(f"{label:32s} {s:8.3f} {nrows / s / 1e6:8.2f} {s / floor_s:7.2f} {s / floor_p:10.2f}")
        print()
        fs, fp = results[("features", "serial")][0], results[("features", "parallel")][0]
        print(f"lc_features serial / floor serial = {fs / floor_s:.2f} (target <= 2); "
              f"parallel / floor parallel = {fp / floor_p:.2f}; "
              f"serial / parallel = {fs / fp:.2f}")
        if not args.no_python:
            print(f"python compute / lc_features serial = {best_py / fs:.1f}; "
                  f"python fetch+compute / lc_features parallel = {(best_fetch + best_py) / fp:.1f}")
    finally:
        close_bench(conn, cur, "antares_bench", created, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
