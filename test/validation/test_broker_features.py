#!/usr/bin/python3
"""Validate antares.broker_features and the band_statistics aggregate.

Run with Debian's interpreter (numpy, scikit-learn, psycopg2):

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_broker_features.py [-v]

The database is reached through the PG* variables; the extension is created
if antares.broker_features is missing (and dropped at the end).  The shipped
light curves (all 1100 objects, every band) are read with dsfp.py (a plain
split, not the extension's parser) and sent with COPY in file order into a
regular table (temporary tables are never scanned in parallel).

Check groups (one line each; -v lists every failure; exit 1 on a failure):

  (a) every per-band key of broker_features (GROUP BY object, a parallel plan
      forced) equals, exactly, the value of the array function it comes from
      on the band's arrays in file order: band_statistics' 29 columns,
      lomb_scargle's period and power, bazin_fit's 13 numbers (null on both
      sides counts as equal); the keys are broker_feature_names(), no other;
  (b) the GP peak of every band against an independent dense GP: scikit-learn's
      GaussianProcessRegressor (test_gp.py's sk_fixed, Matern-5/2, alpha =
      dflux^2) with gp_smooth's hyper-parameters for the band, predicted on
      numpy.linspace(min t, max t, 200), the argmax refined as
      docs/broker_features.md says (the parabola's vertex through the argmax
      and its neighbours, kept when the mean there is not lower): peak flux to
      1e-8 of the band's max|flux|, peak time to 1e-4 of the grid step
      (measured: 2.3e-11 and 6.9e-10 at worst; the state-space and the dense
      GP agree far below test_gp.py's 1e-6);
  (c) the colours at the r band's GP peak: each band of the pair predicted by
      scikit-learn at broker_features' gp_peak_time_r (null outside the band's
      span [min t, max t] or without points), -2.5 log10(fx / fy), null unless
      both are > 0: equal null-ness, values to 2.5 / ln 10 * 1e-8 magnitudes
      times (max|flux_x| / |fx| + max|flux_y| / |fy|) (the peak's flux
      tolerance propagated); pairs with a flux within that tolerance of 0
      (its sign undecided) are counted, not compared;
  (d) the GP shape around the r peak (T = gp_peak_time_r): gp_peak_dt_<b> is
      gp_peak_time_<b> - T exactly, null with either; the flux ratios: each
      band's scikit-learn mean at T, T - 10, T + 15, T + 30 d (extrapolated
      outside the band's span) over the reference r peak flux P, to 1e-8
      times (max|flux_b| + |ratio| max|flux_r|) / P (the peak's flux
      tolerance propagated); null when P <= 0 or the band has no points;
      objects whose P is within that tolerance of 0 are counted, not compared;
  (e) the half rise and fall times against the documented rule on the dense
      GP's mean on the same grid at its refined peak: the grid time they
      name (peak time - rise, peak time + fall) to 1e-9 d, null-ness equal;
      where the two name different grid times (or one is null), the
      reference mean at them must be within the peak's flux tolerance of
      half the peak (a crossing the tolerance cannot decide; counted);
  (f) the band_statistics aggregate (GROUP BY object, band; serial and a
      parallel plan) equals band_statistics(t[], flux[], dflux[]) on every
      band, exactly.
"""

import io
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
from dsfp import read_all  # noqa: E402
from test_gp import Group, grid_of, sk_fixed  # noqa: E402  (the dense reference GP)

BANDS = "ugrizy"
PEAK_FLUX_TOL = 1e-8     # of the band's max|flux| (measured worst 2.3e-11)
PEAK_TIME_TOL = 1e-4     # of the grid step (measured worst 6.9e-10)
HALF_TIME_TOL = 1e-9     # days, the grid time a half width names
RATIO_OFFSETS = {"": 0.0, "_m10": -10.0, "_p15": 15.0, "_p30": 30.0}
COLOR_TOL = 1.0857362047581294 * PEAK_FLUX_TOL   # 2.5 / ln 10 times the flux error
TABLE = "antares_broker_validation_phot"
FORCE_PARALLEL = ("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
                  "SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2")
SERIAL = "SET max_parallel_workers_per_gather = 0"


def load(cur, objects):
    cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
    cur.execute(f"CREATE TABLE {TABLE} (src text, objid int, t float8, pb text, flux float8, dflux float8)")
    buf = io.StringIO()
    for (src, objid), (t, pb, flux, dflux) in objects.items():
        for i in range(len(t)):
            buf.write(f"{src}\t{objid}\t{t[i]!r}\t{pb[i]}\t{flux[i]!r}\t{dflux[i]!r}\n")
    buf.seek(0)
    cur.copy_expert(f"COPY {TABLE} FROM STDIN", buf)
    cur.connection.commit()
    cur.execute(f"ANALYZE {TABLE}")


def fetch_features(cur):
    """{(src, objid): dict} of broker_features, in a parallel plan."""
    cur.execute(FORCE_PARALLEL)
    cur.execute(f"EXPLAIN SELECT src, objid, broker_features(t, pb, flux, dflux) FROM {TABLE} GROUP BY 1, 2")
    plan = "\n".join(r[0] for r in cur.fetchall())
    cur.execute(f"SELECT src, objid, broker_features(t, pb, flux, dflux) FROM {TABLE} GROUP BY 1, 2")
    feats = {(r[0], r[1]): r[2] for r in cur.fetchall()}
    cur.execute("RESET ALL; SET search_path = antares, public")
    return feats, "Partial" in plan


def fetch_array_functions(cur):
    """{(src, objid, pb): {key without band: value}} of the array functions on
    the band's arrays in file order (COPY's order, a serial scan)."""
    cur.execute(SERIAL)
    cur.execute(f"""
        SELECT b.src, b.objid, b.pb, to_jsonb(s), l.period, l.power, to_jsonb(z)
        FROM (SELECT src, objid, pb, array_agg(t) t, array_agg(flux) f, array_agg(dflux) d
              FROM {TABLE} GROUP BY 1, 2, 3) b,
             band_statistics(b.t, b.f, b.d) s, lomb_scargle(b.t, b.f, b.d) l,
             bazin_fit(b.t, b.f, b.d) z""")
    out = {}
    for src, objid, pb, stats, period, power, bazin in cur.fetchall():
        v = dict(stats)
        v["period"], v["period_power"] = period, power
        for k, x in bazin.items():
            if k not in ("n", "iterations", "status"):
                v["bazin_" + k] = x
        out[(src, objid, pb)] = v
    cur.execute("RESET ALL; SET search_path = antares, public")
    return out


def check_keys_equal(cur, objects, feats, arrays, parallel):
    g = Group("(a) per-band keys = the array functions' values, exactly")
    cur.execute("SELECT broker_feature_names()")
    names = cur.fetchone()[0]
    g.check("plan", parallel, "broker_features was not planned in parallel")
    g.equal("objects", len(feats), len(objects))
    per_band = None
    for (src, objid), f in feats.items():
        g.check(f"{src}/{objid} keys", sorted(f) == sorted(names), "keys are not broker_feature_names()")
        for pb in BANDS:
            ref = arrays.get((src, objid, pb))
            if ref is None:
                g.equal(f"{src}/{objid} {pb} observation_count", f[f"observation_count_{pb}"], 0)
                continue
            if per_band is None:
                per_band = len(ref)
            for k, want in ref.items():
                g.equal(f"{src}/{objid} {k}_{pb}", f[f"{k}_{pb}"], want)
    g.count("bands", len(arrays))
    g.count("keys per band compared", per_band or 0)
    g.report()


def refined_peak(gp, grid):
    """The documented rule on a dense GP: argmax of the grid, the parabola's
    vertex through it and its neighbours, kept if the mean there is not lower."""
    mean = gp.predict(grid[:, None])
    k = int(np.argmax(mean))
    if k == 0 or k == len(grid) - 1 or not (grid[k - 1] < grid[k] < grid[k + 1]):
        return grid[k], mean[k], mean
    x0, x1, x2 = grid[k - 1:k + 2]
    y0, y1, y2 = mean[k - 1:k + 2]
    a, b = (x1 - x0) * (y1 - y2), (x1 - x2) * (y1 - y0)
    if a - b == 0:
        return grid[k], mean[k], mean
    tv = min(max(x1 - 0.5 * ((x1 - x0) * a - (x1 - x2) * b) / (a - b), x0), x2)
    mv = gp.predict(np.array([[tv]]))[0]
    return (tv, mv, mean) if mv >= mean[k] else (grid[k], mean[k], mean)


def half_times(grid, mean, tp, mp):
    """The grid times the documented half widths name (the last one before
    tp, the first one after it, where the mean is below mp / 2), None when
    there is none or mp <= 0."""
    if not mp > 0:
        return None, None
    below = mean < mp / 2
    before, after = grid[below & (grid < tp)], grid[below & (grid > tp)]
    return (before.max() if before.size else None), (after.min() if after.size else None)


def check_gp(cur, objects, feats):
    g = Group("(b) GP peak vs scikit-learn's dense GP at gp_smooth's hyper-parameters")
    gc = Group("(c) colours at the r peak vs scikit-learn's predictions")
    gr = Group("(d) gp_peak_dt and the flux ratios at the r peak vs scikit-learn")
    gh = Group("(e) half rise and fall times vs the rule on scikit-learn's grid mean")
    cur.execute(f"SELECT src, objid, pb, (c).amplitude, (c).length_scale FROM "
                f"(SELECT src, objid, pb, gp_smooth(t, flux, dflux) c FROM {TABLE} GROUP BY 1, 2, 3) x")
    hp = {(r[0], r[1], r[2]): (r[3], r[4]) for r in cur.fetchall()}
    for (src, objid), (t, pb, flux, dflux) in objects.items():
        f = feats[(src, objid)]
        gps, refs = {}, {}
        for b in BANDS:
            m = pb == b
            where = f"{src}/{objid} {b}"
            if not m.any():
                g.check(where, f[f"gp_peak_time_{b}"] is None and f[f"gp_peak_flux_{b}"] is None,
                        "a band without points has a GP peak")
                continue
            tb, fb, db = t[m], flux[m], dflux[m]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gp = sk_fixed(tb, fb, db, *hp[(src, objid, b)])
            gps[b] = (gp, tb.min(), tb.max(), float(np.max(np.abs(fb))))
            grid = grid_of(tb)
            tp, mp, mean = refined_peak(gp, grid)
            scale = gps[b][3]
            refs[b] = (grid, mean, tp, mp)
            step = (grid[-1] - grid[0]) / (len(grid) - 1)
            g.metric("peak flux / max|flux|", where, abs(f[f"gp_peak_flux_{b}"] - mp) / scale, PEAK_FLUX_TOL)
            if step > 0:
                g.metric("peak time / grid step", where, abs(f[f"gp_peak_time_{b}"] - tp) / step, PEAK_TIME_TOL)
            else:
                g.equal(where + " peak time (one time)", f[f"gp_peak_time_{b}"], tp)
        tr = f["gp_peak_time_r"]
        for x, y in zip(BANDS, BANDS[1:]):
            key = f"color_{x}_{y}_at_r_peak"
            where = f"{src}/{objid} {key}"
            got = f[key]
            fx = fy = None
            if tr is not None and x in gps and y in gps:
                (gx, lox, hix, sx), (gy, loy, hiy, sy) = gps[x], gps[y]
                if lox <= tr <= hix and loy <= tr <= hiy:
                    fx = gx.predict(np.array([[tr]]))[0]
                    fy = gy.predict(np.array([[tr]]))[0]
            if fx is None or fy is None:
                gc.check(where, got is None, f"got {got!r} where a band is undefined")
                gc.count("undefined (band without points, or r peak outside its span)")
                continue
            tol_x, tol_y = PEAK_FLUX_TOL * sx, PEAK_FLUX_TOL * sy
            if abs(fx) <= tol_x or abs(fy) <= tol_y:
                gc.count("skipped: a flux within the tolerance of 0")
                continue
            if fx <= 0 or fy <= 0:
                gc.check(where, got is None, f"got {got!r}, expected null (flux <= 0)")
                gc.count("null (a flux <= 0)")
                continue
            want = -2.5 * math.log10(fx / fy)
            if got is None:
                gc.fail(where, f"got null, expected {want!r}")
                continue
            tol = COLOR_TOL * (sx / abs(fx) + sy / abs(fy))
            gc.metric("|colour - numpy| / tolerance", where, abs(got - want) / tol, 1.0)
        check_ratios(gr, f"{src}/{objid}", f, gps, refs)
        for b, ref in refs.items():
            check_half_widths(gh, f"{src}/{objid} {b}", f, b, gps[b][3], *ref)
    g.report()
    gc.report()
    gr.report()
    gh.report()


def check_ratios(g, where, f, gps, refs):
    """(d): gp_peak_dt and the flux ratios of one object's bands."""
    tr = f["gp_peak_time_r"]
    for b in BANDS:
        dt = f[f"gp_peak_dt_{b}"]
        tb = f[f"gp_peak_time_{b}"]
        g.equal(f"{where} gp_peak_dt_{b}", dt, None if tb is None or tr is None else tb - tr)
    if "r" not in refs:
        g.check(where, all(f[f"gp_flux_ratio{k}_{b}"] is None for k in RATIO_OFFSETS for b in BANDS),
                "a ratio without an r band")
        g.count("objects without r: all ratios null")
        return
    p, sr = refs["r"][3], gps["r"][3]
    if abs(p) <= PEAK_FLUX_TOL * sr:
        g.count("objects skipped: r peak flux within the tolerance of 0")
        return
    for b in BANDS:
        for k, off in RATIO_OFFSETS.items():
            key = f"gp_flux_ratio{k}_{b}"
            got = f[key]
            if p < 0 or b not in gps:
                g.check(f"{where} {key}", got is None, f"got {got!r}, expected null")
                continue
            want = gps[b][0].predict(np.array([[tr + off]]))[0] / p
            if got is None:
                g.fail(f"{where} {key}", f"got null, expected {want!r}")
                continue
            tol = PEAK_FLUX_TOL * (gps[b][3] + abs(want) * sr) / p
            g.metric("|ratio - numpy| / tolerance", f"{where} {key}", abs(got - want) / tol, 1.0)


def check_half_widths(g, where, f, b, scale, grid, mean, tp, mp):
    """(e): one band's half rise and fall times."""
    pt = f[f"gp_peak_time_{b}"]
    tol = PEAK_FLUX_TOL * scale
    if abs(mp) <= tol:
        g.count("bands skipped: peak flux within the tolerance of 0")
        return
    want = half_times(grid, mean, tp, mp)
    got_rise, got_fall = f[f"gp_half_rise_time_{b}"], f[f"gp_half_fall_time_{b}"]
    got = (None if got_rise is None else pt - got_rise, None if got_fall is None else pt + got_fall)
    for side, x, y in zip(("rise", "fall"), got, want):
        if x is not None and y is not None and abs(x - y) <= HALF_TIME_TOL:
            g.metric("|grid time - numpy| (d)", f"{where} {side}", abs(x - y), HALF_TIME_TOL)
            continue
        if x is None and y is None:
            g.count(f"{side}: both null")
            continue
        # different grid times: each must be a crossing the tolerance cannot decide
        near = [abs(np.interp(z, grid, mean) - mp / 2) <= tol for z in (x, y) if z is not None]
        g.check(f"{where} {side}", all(near), f"got grid time {x!r}, expected {y!r}")
        g.count(f"{side}: undecidable crossings")


def check_band_statistics_aggregate(cur):
    g = Group("(f) band_statistics aggregate = the array function, every band")
    for label, setting in (("serial", SERIAL), ("parallel", FORCE_PARALLEL)):
        cur.execute(setting)
        cur.execute(f"""
            SELECT count(*), count(*) FILTER (WHERE a.s IS NOT DISTINCT FROM b.s)
            FROM (SELECT src, objid, pb, band_statistics(t, flux, dflux) s FROM {TABLE} GROUP BY 1, 2, 3) a
            JOIN (SELECT src, objid, pb, band_statistics(array_agg(t), array_agg(flux), array_agg(dflux)) s
                  FROM {TABLE} GROUP BY 1, 2, 3) b USING (src, objid, pb)""")
        n, same = cur.fetchone()
        g.check(label, n > 4000 and same == n, f"{same} of {n} bands equal")
        g.count(f"{label}: bands equal", same)
        cur.execute("RESET ALL; SET search_path = antares, public")
    g.report()


def main():
    t_start = time.perf_counter()
    objects = read_all()
    print(f"read {len(objects)} light curves")
    with checks.database("antares.broker_features") as (conn, cur):
        try:
            load(cur, objects)
            t0 = time.perf_counter()
            feats, parallel = fetch_features(cur)
            print(f"broker_features of {len(feats)} objects (2 workers): {time.perf_counter() - t0:.1f} s")
            arrays = fetch_array_functions(cur)
            check_keys_equal(cur, objects, feats, arrays, parallel)
            check_gp(cur, objects, feats)
            check_band_statistics_aggregate(cur)
        finally:
            conn.rollback()
            cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
            conn.commit()
    print(f"total {time.perf_counter() - t_start:.1f} s")
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
