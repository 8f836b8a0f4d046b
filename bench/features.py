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
  band_statistics
              the antares.band_statistics(t, flux, dflux) aggregate GROUP BY objid, pb
              (all 29 columns)
  python      the DSFP-exercise-style numpy/scipy computation per object (the formulas of
              test/validation/test_features.py) on the same rows, fetched from the
              database; the fetch and the computation are timed separately

each SQL query serially (max_parallel_workers_per_gather = 0) and with 2 parallel
workers (the plan is checked to be a Gather over a Partial aggregate).  Every
query consumes every output column: it is wrapped as SELECT sum(c1), sum(c2),
... over all columns of the grouped result (for lc_features all 47 columns of
the composite).  Prints seconds, rows/s, and ratios against the floor.

Then the broker features (docs/broker_features.md) of --broker-objects light
curves (default 10,000: the 1100 shipped objects copied under new objids),
best of --broker-repeat runs (default 1):

  parts       per band, serially, over the bands' arrays: band_statistics,
              lomb_scargle (period, power), bazin_fit, and gp_smooth over the rows
              (the GP fit and a 200-point prediction, as broker_features' peak
              search), each with its share of broker_features' serial time
  broker      antares.broker_features(t, pb, flux, dflux) GROUP BY objid, every
              object's whole vector read (feature_vector(f, broker_feature_names())):
              serially; with 2 workers on the plain table (workers buffer and sort,
              the leader runs every final function); and with 2 workers on the same
              rows in a table hash-partitioned by objid (16 partitions, as bench/gp.py,
              enable_partitionwise_aggregate: each partition aggregated whole by one
              process, the final functions in the workers); the last also without
              the Bazin fit (parts statistics, periodogram, gp); the verdict against
              10 s for 10,000 light curves

Drops the schema it creates unless --keep; creates (and drops) the extension
if the database does not have it.
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

# antares.band_statistics' columns, in its order.
BAND_STATISTICS_COLUMNS = [
    "observation_count", "duration", "minimum_time_interval", "maximum_time_interval", "median",
    "mean_variance", "percent_amplitude", "inter_percentile_range_10",
    "median_buffer_range_percentage_10"] + [
    f"flux_percentile_ratio_mid{k}" for k in (20, 35, 50, 65, 80)] + [
    "kurtosis", "anderson_darling_normal", "cusum", "eta", "eta_e", "excess_variance", "chi2",
    "stetson_k", "maximum_slope", "linear_trend", "linear_trend_sigma", "linear_trend_noise",
    "linear_fit_slope", "linear_fit_slope_sigma", "linear_fit_reduced_chi2"]

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
    # expanded from a subquery: the aggregate once, not once per column
    "band_statistics": f"""
        SELECT count(*), {sums(BAND_STATISTICS_COLUMNS)}
        FROM (SELECT (s).*
              FROM (SELECT objid, pb, antares.band_statistics(t, flux, dflux) AS s
                    FROM antares_bench.big GROUP BY objid, pb) a) q""",
}

BROKER_VECTOR = "sum(cardinality(antares.feature_vector(f, antares.broker_feature_names())))"
BROKER_PARTS = {
    "statistics": """
        SELECT count(*), sum(s.kurtosis), sum(s.stetson_k)
        FROM antares_bench.broker_bands b, antares.band_statistics(b.t, b.f, b.d) s""",
    "periodogram": """
        SELECT count(*), sum(l.period), sum(l.power)
        FROM antares_bench.broker_bands b, antares.lomb_scargle(b.t, b.f, b.d) l""",
    "bazin": """
        SELECT count(*), sum(z.amplitude), sum(z.peak_time)
        FROM antares_bench.broker_bands b, antares.bazin_fit(b.t, b.f, b.d) z""",
    "gp": """
        SELECT count(*), sum((c).peak_t), sum((c).peak_flux)
        FROM (SELECT objid, pb, antares.gp_smooth(t, flux, dflux) c
              FROM antares_bench.broker GROUP BY objid, pb) q""",
}
BROKER_QUERIES = {
    "serial": (SERIAL, f"""
        SELECT count(*), {BROKER_VECTOR}
        FROM (SELECT objid, antares.broker_features(t, pb, flux, dflux) f
              FROM antares_bench.broker GROUP BY objid) q"""),
    "parallel": (PARALLEL, f"""
        SELECT count(*), {BROKER_VECTOR}
        FROM (SELECT objid, antares.broker_features(t, pb, flux, dflux) f
              FROM antares_bench.broker GROUP BY objid) q"""),
    "partitioned": (PARALLEL + "; SET enable_partitionwise_aggregate = on", f"""
        SELECT count(*), {BROKER_VECTOR}
        FROM (SELECT objid, antares.broker_features(t, pb, flux, dflux) f
              FROM antares_bench.broker_part GROUP BY objid) q"""),
    # every part but the Bazin fit, the features' vector of those parts
    "no_bazin": (PARALLEL + "; SET enable_partitionwise_aggregate = on", f"""
        SELECT count(*), {BROKER_VECTOR.replace("broker_feature_names()", "broker_feature_names(p.parts)")}
        FROM (SELECT '{{statistics,periodogram,gp}}'::text[] AS parts) p,
             LATERAL (SELECT objid, antares.broker_features(t, pb, flux, dflux, p.parts) f
                      FROM antares_bench.broker_part GROUP BY objid) q"""),
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


def build_broker(cur, nobj):
    """antares_bench.broker: nobj light curves, the shipped ones (base) in
    turn under new objids; broker_part, the same rows hash-partitioned by
    objid; broker_bands, each band's arrays."""
    cur.execute("SELECT max(objid) FROM antares_bench.base")
    nbase = cur.fetchone()[0]
    cols = "(objid int, t float8, pb text, flux float8, dflux float8)"
    cur.execute(f"CREATE TABLE antares_bench.broker {cols}")
    cur.execute(f"""
        INSERT INTO antares_bench.broker
        SELECT objid + k * {nbase}, t, pb, flux, dflux
        FROM generate_series(0, {(nobj - 1) // nbase}) k, antares_bench.base
        WHERE objid + k * {nbase} <= {nobj}
        ORDER BY k, objid, t""")
    cur.execute(f"CREATE TABLE antares_bench.broker_part {cols} PARTITION BY HASH (objid)")
    for r in range(16):
        cur.execute(f"CREATE TABLE antares_bench.broker_part_{r} PARTITION OF antares_bench.broker_part "
                    f"FOR VALUES WITH (MODULUS 16, REMAINDER {r})")
    cur.execute("INSERT INTO antares_bench.broker_part SELECT * FROM antares_bench.broker")
    cur.execute("""
        CREATE TABLE antares_bench.broker_bands AS
        SELECT objid, pb, array_agg(t ORDER BY t) t, array_agg(flux ORDER BY t) f, array_agg(dflux ORDER BY t) d
        FROM antares_bench.broker GROUP BY objid, pb""")
    for table in ("broker", "broker_part", "broker_bands"):
        cur.execute(f"VACUUM ANALYZE antares_bench.{table}")
    cur.execute("SELECT count(*), count(DISTINCT objid), count(DISTINCT (objid, pb)) FROM antares_bench.broker")
    return cur.fetchone()


def broker_bench(cur, nobj, repeat):
    """The broker features' parts and end to end (see the module's doc)."""
    t0 = time.perf_counter()
    nrows, nlc, nbands = build_broker(cur, nobj)
    print(f"\nbuilt antares_bench.broker: {nrows} rows, {nlc} light curves, {nbands} bands "
          f"({time.perf_counter() - t0:.1f} s)")
    times = {}
    rows = {}
    for name, (settings, sql) in BROKER_QUERIES.items():
        plan = plan_of(cur, settings, sql)
        if name != "serial" and "Workers Planned: 2" not in plan:
            print(f"error: broker_features {name}: no parallel plan\n{plan}", file=sys.stderr)
            return 1
        if name in ("partitioned", "no_bazin") and "Parallel Append" not in plan:
            print(f"error: broker_features partitioned: not a Parallel Append\n{plan}", file=sys.stderr)
            return 1
        best, runs, row = best_of(repeat, lambda: run_sql(cur, settings, sql))
        times[name], rows[name] = best, row
        print(f"  timed broker_features {name:11s} best {best:7.3f} s  runs " + " ".join(f"{t:.3f}" for t in runs))
        sys.stdout.flush()
    if len({tuple(r) for n, r in rows.items() if n != "no_bazin"}) != 1 or rows["serial"][0] != nlc \
            or rows["no_bazin"][0] != nlc:
        print(f"error: broker_features: the runs disagree: {rows}", file=sys.stderr)
        return 1
    for name, sql in BROKER_PARTS.items():
        best, runs, _ = best_of(repeat, lambda: run_sql(cur, SERIAL, sql))
        times[name] = best
        print(f"  timed {name:27s} best {best:7.3f} s  runs " + " ".join(f"{t:.3f}" for t in runs))
        sys.stdout.flush()
    cur.execute("RESET enable_partitionwise_aggregate")
    cur.execute(SERIAL)

    serial = times["serial"]
    print()
    print(f"{'broker features, ' + str(nlc) + ' light curves':44s} {'seconds':>8s} {'ms/curve':>8s} "
          f"{'us/band':>8s} {'share':>6s}")
    for name, label in (("statistics", "band_statistics (array function), serial"),
                        ("periodogram", "lomb_scargle, serial"),
                        ("bazin", "bazin_fit, serial"),
                        ("gp", "gp_smooth (fit + 200 points), serial"),
                        ("serial", "broker_features end to end, serial"),
                        ("parallel", "broker_features, 2 workers"),
                        ("partitioned", "broker_features, 2 workers, partitioned"),
                        ("no_bazin", "the same without the Bazin fit")):
        t = times[name]
        print(f"{label:44s} {t:8.3f} {1e3 * t / nlc:8.3f} {1e6 * t / nbands:8.1f} {t / serial:6.1%}")
    best = min(times["parallel"], times["partitioned"])
    for label, t in (("broker_features, 2 workers", best),
                     ("without the Bazin fit", times["no_bazin"])):
        per_10k = t * 10000 / nlc
        print(f"{label}: {t:.3f} s for {nlc} light curves, {per_10k:.1f} s per 10,000 "
              f"(target < 10 s: {'met' if per_10k < 10 else 'NOT met'})")
    return 0


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
    ap.add_argument("--broker-objects", type=int, default=10000,
                    help="light curves of the broker features' timing (default 10000; 0 skips it)")
    ap.add_argument("--broker-repeat", type=int, default=1, help="timings of the broker features' queries")
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
        print(f"{'measurement':36s} {'seconds':>8s} {'Mrows/s':>8s} {'/floor':>7s} {'/floor par':>10s}")
        lines = []
        for name, label in (("floor", "floor count/avg/stddev"),
                            ("bands", "six band aggregates"),
                            ("features", "lc_features"),
                            ("band_statistics", "band_statistics aggregate")):
            for mode in ("serial", "parallel"):
                lines.append((f"{label}, {mode}", results[(name, mode)][0]))
        if not args.no_python:
            lines += [("python fetch (COPY to numpy)", best_fetch),
                      ("python compute (numpy/scipy)", best_py),
                      ("python fetch + compute", best_fetch + best_py)]
        for label, s in lines:
            print(f"{label:36s} {s:8.3f} {nrows / s / 1e6:8.2f} {s / floor_s:7.2f} {s / floor_p:10.2f}")
        print()
        fs, fp = results[("features", "serial")][0], results[("features", "parallel")][0]
        print(f"lc_features serial / floor serial = {fs / floor_s:.2f} (target <= 2); "
              f"parallel / floor parallel = {fp / floor_p:.2f}; "
              f"serial / parallel = {fs / fp:.2f}")
        if not args.no_python:
            print(f"python compute / lc_features serial = {best_py / fs:.1f}; "
                  f"python fetch+compute / lc_features parallel = {(best_fetch + best_py) / fp:.1f}")
        bs, bp = results[("band_statistics", "serial")][0], results[("band_statistics", "parallel")][0]
        print(f"band_statistics aggregate serial / floor serial = {bs / floor_s:.2f} (target <= 2); "
              f"parallel / floor parallel = {bp / floor_p:.2f}")
        if args.broker_objects > 0 and broker_bench(cur, args.broker_objects, args.broker_repeat) != 0:
            return 1
    finally:
        close_bench(conn, cur, "antares_bench", created, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
