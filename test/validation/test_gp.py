#!/usr/bin/python3
"""Validate antares' Gaussian-process smoothing against scikit-learn.

Run with Debian's interpreter (it has numpy, scipy, scikit-learn and psycopg2):

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_gp.py [-v]

The database is reached through the usual PG* environment variables.  If
antares.gp_smooth does not exist yet, the script runs CREATE EXTENSION antares
and drops the extension again at the end; everything else it creates lives in
temporary tables that it drops.

The model (per band): a zero-mean GP with kernel A * Matern52(dt; l),
heteroscedastic noise alpha = dflux**2, normalize_y=False; initial A =
0.5 * median(dflux)^2, l = 10; bounds A in [1e-5, 1e5], l in [1, 20]; sklearn's
L-BFGS-B without restarts.  The reference is sklearn's GaussianProcessRegressor
with ConstantKernel * Matern(nu=2.5) and exactly those settings.

Both sides read the shipped light curves independently: this script parses
every file of data/dsfp/training and data/dsfp/test with a plain split and sends
the rows with COPY (the extension's parser is not involved).  Every g, r, i and
z band of the 1100 objects is checked (4400 bands; the u bands of the training
set are not part of the issue).  sklearn fits them all in about 20 s on one
core, so the whole set is the default; there is no subset.

Check groups (one line each: counts and worst differences; -v lists every
failure; exit status 1 if any group failed):

  (a) at fixed hyper-parameters, sklearn's fitted ones and the initial ones:
      gp_log_likelihood = log_marginal_likelihood(theta) to 1e-8 relative;
      gp_predict's mean and sd on the 200-point grid = predict(return_std=True)
      to 1e-6 of the band's max|flux| (and its t column = the t_new given);
  (b) gp_smooth: n, the grid (n_grid points, min(t) .. max(t), evenly spaced),
      hyper-parameters within the bounds, and its reported log likelihood, mean
      and sd equal to sklearn's at gp_smooth's own hyper-parameters (1e-8
      relative, 1e-6 of max|flux|), peak = the largest mean of the grid;
      its optimum is never below sklearn's by more than 1e-6 (absolute): bands
      where ours is higher / equal are counted; where both optima coincide
      (both hyper-parameters within 1e-3 relative) the smoothed means agree to
      1e-3 of max|flux|;
  (c) gp_smooth(t, flux, dflux, n_grid) for other grid sizes; gp_smooth does
      not depend on row order nor on a parallel plan;
  (d) bad input (dflux <= 0, NaN or infinite values, arrays of different
      lengths, n_grid < 2, invalid hyper-parameters) raises an error of SQLSTATE
      class 22 (data exception); the exact messages are pinned by pg_regress.
"""

import io
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import psycopg2
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
from dsfp import DATA, read_all  # noqa: E402  (the shipped files, read independently)

BANDS = "griz"
N_GRID = 200
A_BOUNDS = (1e-5, 1e5)
L_BOUNDS = (1.0, 20.0)
L_INITIAL = 10.0

LML_REL_TOL = 1e-8        # log likelihood at fixed hyper-parameters, relative
PRED_TOL = 1e-6           # mean and sd at fixed hyper-parameters, of max|flux|
OPT_ABS_TOL = 1e-6        # our optimum may be below sklearn's by at most this
SAME_HP_REL = 1e-3        # hyper-parameters this close: "the same optimum"
SAME_OPT_MEAN_TOL = 1e-3  # smoothed means at the same optimum, of max|flux|
GRID_REL_TOL = 1e-12      # grid points vs numpy.linspace, of the span




# --------------------------------------------------------------------------
# Comparison and reporting
# --------------------------------------------------------------------------

class Group(checks.Group):
    """Accumulates the comparisons of one check group: named metrics (worst
    value and where), exact checks and counters."""

    def __init__(self, name):
        super().__init__(name)
        self.metrics = {}       # label -> [count, worst, where, tol]
        self.exact = 0
        self.counters = {}      # label -> count (reported as is)

    def metric(self, label, where, diff, tol):
        """A non-negative difference that must not exceed tol (NaN fails)."""
        m = self.metrics.setdefault(label, [0, 0.0, "", tol])
        m[0] += 1
        if not math.isnan(m[1]) and (math.isnan(diff) or diff > m[1]):
            m[1], m[2] = diff, where
        if math.isnan(diff) or diff > tol:
            self.fail(where, f"{label} = {diff:.3g} > {tol:g}")

    def rel(self, label, where, got, want, tol):
        if got is None or want is None:
            self.fail(where, f"{label}: got {got!r}, expected {want!r}")
            return
        d = 0.0 if got == want else abs(got - want) / max(abs(got), abs(want))
        self.metric(label, where, d, tol)

    def equal(self, where, got, want):
        self.exact += 1
        if got != want:
            self.fail(where, f"got {got!r}, expected {want!r}")

    def check(self, where, cond, msg="condition failed"):
        self.exact += 1
        if not cond:
            self.fail(where, msg)

    def count(self, label, k=1):
        self.counters[label] = self.counters.get(label, 0) + k

    def parts(self):
        parts = []
        for label, (n, worst, where, tol) in self.metrics.items():
            parts.append(f"{label}: {n} compared, worst {worst:.3g}" + (f" ({where})" if where else "")
                         + f", tol {tol:g}")
        parts += [f"{label} {n}" for label, n in self.counters.items()]
        if self.exact:
            parts.append(f"{self.exact} exact checks")
        return parts


def max_abs_diff(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return math.inf
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.nan
    return float(np.max(np.abs(a - b))) if a.size else 0.0


# --------------------------------------------------------------------------
# Reading the shipped light curves (independently of the extension)
# --------------------------------------------------------------------------

def read_bands(sources=("training", "test")):
    """{(src, objid, pb): (t, flux, dflux)} for every g, r, i, z band, file order."""
    bands = {}
    for (src, objid), (t, pb, flux, dflux) in read_all(sources).items():
        for b in BANDS:
            sel = pb == b
            if sel.any():
                bands[(src, objid, b)] = (t[sel], flux[sel], dflux[sel])
    return bands


# --------------------------------------------------------------------------
# The reference: scikit-learn
# --------------------------------------------------------------------------

def kernel(amplitude, length_scale):
    return (ConstantKernel(amplitude, constant_value_bounds=A_BOUNDS)
            * Matern(length_scale=length_scale, length_scale_bounds=L_BOUNDS, nu=2.5))


def initial_hp(dflux):
    return 0.5 * float(np.median(dflux)) ** 2, L_INITIAL


def grid_of(t, n=N_GRID):
    return np.linspace(t.min(), t.max(), n)


def sk_fit(t, flux, dflux):
    """sklearn's fit: GaussianProcessRegressor with the issue's settings."""
    gp = GaussianProcessRegressor(kernel=kernel(*initial_hp(dflux)), alpha=dflux ** 2,
                                  normalize_y=False, n_restarts_optimizer=0)
    gp.fit(t[:, None], flux)
    return gp


def sk_fixed(t, flux, dflux, amplitude, length_scale):
    """The posterior at fixed hyper-parameters (no optimisation)."""
    gp = GaussianProcessRegressor(kernel=kernel(amplitude, length_scale), alpha=dflux ** 2,
                                  normalize_y=False, optimizer=None)
    gp.fit(t[:, None], flux)
    return gp


def hp_of(gp):
    return float(gp.kernel_.k1.constant_value), float(gp.kernel_.k2.length_scale)


def reference(bands):
    """Per band: sklearn's fitted and initial hyper-parameters, the log marginal
    likelihood at both, and predict(return_std=True) on the 200-point grid."""
    refs = {}
    warned = {"bound": 0, "convergence": 0}
    for key, (t, flux, dflux) in bands.items():
        grid = grid_of(t)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gp = sk_fit(t, flux, dflux)
            fit_hp = hp_of(gp)
            fit_mean, fit_sd = gp.predict(grid[:, None], return_std=True)
            fit_lml = float(gp.log_marginal_likelihood(gp.kernel_.theta))
            init_hp = initial_hp(dflux)
            gp0 = sk_fixed(t, flux, dflux, *init_hp)
            init_mean, init_sd = gp0.predict(grid[:, None], return_std=True)
            init_lml = float(gp0.log_marginal_likelihood(gp0.kernel_.theta))
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                warned["bound" if "close to the specified" in str(w.message) else "convergence"] += 1
        refs[key] = dict(
            gp=gp, grid=grid, scale=float(np.max(np.abs(flux))),
            opt_lml=float(gp.log_marginal_likelihood_value_),
            fitted=dict(hp=fit_hp, lml=fit_lml, mean=fit_mean, sd=fit_sd),
            initial=dict(hp=init_hp, lml=init_lml, mean=init_mean, sd=init_sd))
    return refs, warned


# --------------------------------------------------------------------------
# Database side
# --------------------------------------------------------------------------

def arr(x):
    return "{" + ",".join(repr(float(v)) for v in x) + "}"


def load(cur, bands):
    """The rows, for the aggregate.  A regular table (committed, dropped at the
    end): PostgreSQL never scans a temporary table in parallel."""
    cur.execute("DROP TABLE IF EXISTS antares_gp_validation_phot")
    cur.execute("CREATE TABLE antares_gp_validation_phot ("
                " src text, objid int, pb text, t float8, flux float8, dflux float8)")
    buf = io.StringIO()
    for (src, objid, pb), (t, flux, dflux) in bands.items():
        for i in range(len(t)):
            buf.write(f"{src}\t{objid}\t{pb}\t{t[i]!r}\t{flux[i]!r}\t{dflux[i]!r}\n")
    buf.seek(0)
    cur.copy_expert("COPY antares_gp_validation_phot FROM STDIN", buf)
    cur.connection.commit()
    cur.execute("ANALYZE antares_gp_validation_phot")


def load_cases(cur, bands, cases):
    """One row per band and hyper-parameter set, arrays in file order, for the
    array functions.  cases: {(src, objid, pb, label): (amplitude, length_scale, t_new)}."""
    cur.execute("CREATE TEMP TABLE antares_gp_case ("
                " src text, objid int, pb text, label text, t float8[], flux float8[], dflux float8[],"
                " amplitude float8, length_scale float8, t_new float8[])")
    buf = io.StringIO()
    for (src, objid, pb, label), (a, l, t_new) in cases.items():
        t, flux, dflux = bands[(src, objid, pb)]
        buf.write(f"{src}\t{objid}\t{pb}\t{label}\t{arr(t)}\t{arr(flux)}\t{arr(dflux)}\t"
                  f"{a!r}\t{l!r}\t{arr(t_new)}\n")
    buf.seek(0)
    cur.copy_expert("COPY antares_gp_case FROM STDIN", buf)


def fetch_fixed(cur):
    """gp_log_likelihood and gp_predict of every case."""
    cur.execute("""
        SELECT c.src, c.objid, c.pb, c.label,
               antares.gp_log_likelihood(c.t, c.flux, c.dflux, c.amplitude, c.length_scale),
               p.t, p.mean, p.sd
        FROM antares_gp_case c,
             LATERAL (SELECT array_agg(q.t ORDER BY q.k) AS t, array_agg(q.mean ORDER BY q.k) AS mean,
                             array_agg(q.sd ORDER BY q.k) AS sd
                      FROM antares.gp_predict(c.t, c.flux, c.dflux, c.t_new, c.amplitude, c.length_scale)
                           WITH ORDINALITY AS q(t, mean, sd, k)) p""")
    return {(r[0], r[1], r[2], r[3]): r[4:] for r in cur.fetchall()}


SMOOTH_COLUMNS = ("n", "amplitude", "length_scale", "log_likelihood", "t", "mean", "sd",
                  "peak_t", "peak_flux")


def fetch_smooth(cur, args="t, flux, dflux", where="true"):
    cur.execute(f"""
        SELECT src, objid, pb, (antares.gp_smooth({args})).*
        FROM antares_gp_validation_phot WHERE {where} GROUP BY src, objid, pb""")
    names = [d.name for d in cur.description][3:]
    if tuple(names) != SMOOTH_COLUMNS:
        raise RuntimeError(f"gp_smooth's columns are {names}, expected {list(SMOOTH_COLUMNS)}")
    return {(r[0], r[1], r[2]): dict(zip(names, r[3:])) for r in cur.fetchall()}


# --------------------------------------------------------------------------
# Check groups
# --------------------------------------------------------------------------

def check_loaded(cur, bands):
    g = Group("rows loaded by COPY, per band")
    cur.execute("SELECT src, objid, pb, count(*) FROM antares_gp_validation_phot GROUP BY 1, 2, 3")
    got = {(r[0], r[1], r[2]): r[3] for r in cur.fetchall()}
    g.equal("number of bands", len(got), len(bands))
    for k, (t, _, _) in bands.items():
        g.equal("/".join(map(str, k)), got.get(k), len(t))
    g.report()


def check_fixed(fixed, refs, label):
    """(a): gp_log_likelihood and gp_predict at sklearn's hyper-parameters."""
    g = Group(f"gp_log_likelihood at sklearn's {label} hyper-parameters vs log_marginal_likelihood")
    p = Group(f"gp_predict on the 200-point grid at sklearn's {label} hyper-parameters vs predict")
    for key, ref in refs.items():
        where = "/".join(map(str, key))
        row = fixed.get(key + (label,))
        if row is None:
            g.fail(where, "no result")
            continue
        lml, t, mean, sd = row
        r = ref[label]
        g.rel("rel diff", where, lml, r["lml"], LML_REL_TOL)
        p.equal(f"{where} t = t_new", t, [float(x) for x in ref["grid"]])
        if mean is None or sd is None or len(mean) != len(ref["grid"]) or len(sd) != len(ref["grid"]):
            p.fail(where, f"expected {len(ref['grid'])} predictions")
            continue
        p.metric("mean |diff|/max|flux|", where, max_abs_diff(mean, r["mean"]) / ref["scale"], PRED_TOL)
        p.metric("sd |diff|/max|flux|", where, max_abs_diff(sd, r["sd"]) / ref["scale"], PRED_TOL)
    g.report()
    p.report()


def check_smooth_self(smooth, bands, refs):
    """(b), first half: gp_smooth's outputs are those of its own hyper-parameters."""
    g = Group("gp_smooth: n, grid, bounds, peak; log likelihood, mean, sd = sklearn's at gp_smooth's "
              "hyper-parameters")
    g.equal("number of bands", len(smooth), len(bands))
    for key, (t, flux, dflux) in bands.items():
        where = "/".join(map(str, key))
        row = smooth.get(key)
        if row is None:
            g.fail(where, "band missing from gp_smooth")
            continue
        ref = refs[key]
        check_curve(g, where, row, t, flux, dflux, N_GRID, ref["scale"])
    g.report()


def in_bounds(x, bounds):
    """Within bounds, up to the rounding of exp(log(bound)) (sklearn optimises
    log hyper-parameters: its upper amplitude bound comes back as 100000.00000000003)."""
    return x is not None and bounds[0] * (1 - 1e-12) <= x <= bounds[1] * (1 + 1e-12)


def check_curve(g, where, row, t, flux, dflux, n_grid, scale):
    """One gp_smooth result against sklearn at its own hyper-parameters."""
    g.equal(f"{where} n", row["n"], len(t))
    a, l = row["amplitude"], row["length_scale"]
    g.check(f"{where} amplitude in bounds", in_bounds(a, A_BOUNDS), f"amplitude {a!r} outside {A_BOUNDS}")
    g.check(f"{where} length_scale in bounds", in_bounds(l, L_BOUNDS),
            f"length_scale {l!r} outside {L_BOUNDS}")
    tg, mean, sd = row["t"], row["mean"], row["sd"]
    ok = all(x is not None and len(x) == n_grid for x in (tg, mean, sd))
    g.check(f"{where} array lengths", ok, f"t, mean, sd do not all have {n_grid} elements")
    if not ok or a is None or l is None or not (a > 0 and l > 0):
        return
    tg = np.array(tg)
    g.check(f"{where} grid endpoints", tg[0] == t.min() and tg[-1] == t.max(),
            f"grid runs from {tg[0]!r} to {tg[-1]!r}, not {t.min()!r} to {t.max()!r}")
    span = t.max() - t.min()
    g.metric("grid |t - linspace|/span", where, max_abs_diff(tg, grid_of(t, n_grid)) / span, GRID_REL_TOL)
    gp = sk_fixed(t, flux, dflux, a, l)
    g.rel("log likelihood rel diff", where, row["log_likelihood"],
          float(gp.log_marginal_likelihood(gp.kernel_.theta)), LML_REL_TOL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk_mean, sk_sd = gp.predict(tg[:, None], return_std=True)
    g.metric("mean |diff|/max|flux|", where, max_abs_diff(mean, sk_mean) / scale, PRED_TOL)
    g.metric("sd |diff|/max|flux|", where, max_abs_diff(sd, sk_sd) / scale, PRED_TOL)
    k = int(np.argmax(mean))
    g.check(f"{where} peak", row["peak_flux"] == mean[k] and row["peak_t"] == tg[k],
            f"peak ({row['peak_t']!r}, {row['peak_flux']!r}) is not the largest mean of the grid "
            f"({tg[k]!r}, {mean[k]!r})")


def check_optimum(smooth, refs):
    """(b), second half: our optimum against sklearn's."""
    g = Group("gp_smooth's optimum vs sklearn's fit")
    higher = equal = lower = same_hp = 0
    best_gain, best_gain_at = 0.0, ""
    for key, ref in refs.items():
        where = "/".join(map(str, key))
        row = smooth.get(key)
        if row is None or row["log_likelihood"] is None:
            g.fail(where, "no result")
            continue
        d = row["log_likelihood"] - ref["opt_lml"]
        if d > OPT_ABS_TOL:
            higher += 1
            if d > best_gain:
                best_gain, best_gain_at = d, where
        elif d >= -OPT_ABS_TOL:
            equal += 1
        else:
            lower += 1
        g.metric("ours below sklearn's optimum", where, max(0.0, -d), OPT_ABS_TOL)
        a, l = ref["fitted"]["hp"]
        if (abs(row["amplitude"] - a) <= SAME_HP_REL * a
                and abs(row["length_scale"] - l) <= SAME_HP_REL * l):
            same_hp += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sk_mean = ref["gp"].predict(np.array(row["t"])[:, None])
            g.metric("same optimum: mean |diff|/max|flux|", where,
                     max_abs_diff(row["mean"], sk_mean) / ref["scale"], SAME_OPT_MEAN_TOL)
    g.count("bands: ours higher", higher)
    g.count(f"equal (within {OPT_ABS_TOL:g})", equal)
    g.count("lower", lower)
    g.count(f"same hyper-parameters (within {SAME_HP_REL:g} rel)", same_hp)
    g.report()
    if higher:
        print(f"       largest gain over sklearn: {best_gain:.4g} ({best_gain_at})")


def check_n_grid(cur, smooth, bands, refs):
    """(c): other grid sizes on a deterministic part of the bands."""
    g = Group("gp_smooth(t, flux, dflux, n_grid), n_grid 2, 3, 17, 200, 1000 (every 10th band)")
    keys = sorted(bands)[::10]
    cur.execute("CREATE TEMP TABLE antares_gp_pick (src text, objid int, pb text)")
    cur.executemany("INSERT INTO antares_gp_pick VALUES (%s, %s, %s)", keys)
    cur.execute("""CREATE TEMP TABLE antares_gp_sub AS
                   SELECT p.* FROM antares_gp_validation_phot p JOIN antares_gp_pick USING (src, objid, pb)""")
    for n in (2, 3, 17, 200, 1000):
        cur.execute(f"""
            SELECT src, objid, pb, (antares.gp_smooth(t, flux, dflux, {n})).*
            FROM antares_gp_sub GROUP BY src, objid, pb""")
        names = [d.name for d in cur.description][3:]
        rows = {(r[0], r[1], r[2]): dict(zip(names, r[3:])) for r in cur.fetchall()}
        g.equal(f"n_grid {n}: number of bands", len(rows), len(keys))
        for key in keys:
            where = f"{'/'.join(map(str, key))} n_grid {n}"
            row, base = rows.get(key), smooth.get(key)
            if row is None or base is None:
                g.fail(where, "no result")
                continue
            # The fit does not depend on the grid.
            g.equal(f"{where} hyper-parameters as with the default grid",
                    (row["n"], row["amplitude"], row["length_scale"], row["log_likelihood"]),
                    (base["n"], base["amplitude"], base["length_scale"], base["log_likelihood"]))
            if n == N_GRID:
                g.equal(f"{where} = gp_smooth(t, flux, dflux)", row, base)
            t, flux, dflux = bands[key]
            check_curve(g, where, row, t, flux, dflux, n, refs[key]["scale"])
    cur.execute("DROP TABLE antares_gp_pick, antares_gp_sub")
    g.report()


def check_order_and_plan(cur, smooth):
    g = Group("gp_smooth independent of row order and of a parallel plan")

    def compare(label, other):
        g.equal(f"{label}: number of bands", len(other), len(smooth))
        for key, base in smooth.items():
            row = other.get(key)
            where = f"{'/'.join(map(str, key))} {label}"
            if row is None:
                g.fail(where, "no result")
                continue
            g.equal(f"{where} n", row["n"], base["n"])
            for c in ("amplitude", "length_scale", "log_likelihood", "peak_t", "peak_flux"):
                g.rel(f"{c} rel diff", where, row[c], base[c], 1e-9)
            scale = max(abs(x) for x in base["mean"]) or 1.0
            for c in ("t", "mean", "sd"):
                g.metric(f"{c} |diff|", where, max_abs_diff(row[c], base[c]) / scale, 1e-9)

    for order in ("ORDER BY t DESC", "ORDER BY md5(t::text)"):
        compare(order, fetch_smooth(cur, f"t, flux, dflux {order}"))
    cur.execute("SET LOCAL max_parallel_workers_per_gather = 2")
    cur.execute("SET LOCAL parallel_setup_cost = 0")
    cur.execute("SET LOCAL parallel_tuple_cost = 0")
    cur.execute("SET LOCAL min_parallel_table_scan_size = 0")
    cur.execute("EXPLAIN (COSTS OFF) SELECT src, objid, pb, (antares.gp_smooth(t, flux, dflux)).* "
                "FROM antares_gp_validation_phot GROUP BY src, objid, pb")
    plan = "\n".join(r[0] for r in cur.fetchall())
    g.check("parallel plan", "Gather" in plan and "Partial" in plan,
            "no Gather over a Partial aggregate:\n" + plan)
    compare("parallel plan", fetch_smooth(cur))
    cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    g.report()


def check_bad_input(cur):
    g = Group("bad input raises an error of SQLSTATE class 22")
    a3 = "ARRAY[1, 2, 3]::float8[]"
    one = "FROM (VALUES (1::float8, 1::float8, 1::float8), (2, 2, 1), (3, 1, 1)) v(t, flux, dflux)"

    nan, inf, ninf = "'NaN'", "'Infinity'", "'-Infinity'"

    def with_row(t, f, s):
        return (f"FROM (VALUES (1::float8, 1::float8, 1::float8), (2, 2, 1), "
                f"({t}::float8, {f}::float8, {s}::float8)) v(t, flux, dflux)")

    cases = [
        ("gp_smooth dflux = 0", f"SELECT antares.gp_smooth(t, flux, dflux) {with_row(3, 1, 0)}"),
        ("gp_smooth dflux < 0", f"SELECT antares.gp_smooth(t, flux, dflux) {with_row(3, 1, -1)}"),
        ("gp_smooth t NaN", f"SELECT antares.gp_smooth(t, flux, dflux) {with_row(nan, 1, 1)}"),
        ("gp_smooth flux NaN", f"SELECT antares.gp_smooth(t, flux, dflux) {with_row(3, nan, 1)}"),
        ("gp_smooth dflux NaN", f"SELECT antares.gp_smooth(t, flux, dflux) {with_row(3, 1, nan)}"),
        ("gp_smooth flux Infinity",
         f"SELECT antares.gp_smooth(t, flux, dflux) {with_row(3, inf, 1)}"),
        ("gp_smooth t -Infinity",
         f"SELECT antares.gp_smooth(t, flux, dflux) {with_row(ninf, 1, 1)}"),
        ("gp_smooth n_grid 1", f"SELECT antares.gp_smooth(t, flux, dflux, 1) {one}"),
        ("gp_smooth n_grid 0", f"SELECT antares.gp_smooth(t, flux, dflux, 0) {one}"),
        ("gp_smooth n_grid -5", f"SELECT antares.gp_smooth(t, flux, dflux, -5) {one}"),
        ("gp_log_likelihood dflux 0",
         f"SELECT antares.gp_log_likelihood({a3}, {a3}, ARRAY[1, 0, 1]::float8[], 1, 10)"),
        ("gp_log_likelihood dflux < 0",
         f"SELECT antares.gp_log_likelihood({a3}, {a3}, ARRAY[1, -2, 1]::float8[], 1, 10)"),
        ("gp_log_likelihood flux NaN",
         f"SELECT antares.gp_log_likelihood({a3}, ARRAY[1, 'NaN', 1]::float8[], {a3}, 1, 10)"),
        ("gp_log_likelihood t NaN",
         f"SELECT antares.gp_log_likelihood(ARRAY[1, 2, 'NaN']::float8[], {a3}, {a3}, 1, 10)"),
        ("gp_log_likelihood lengths 3, 2, 3",
         f"SELECT antares.gp_log_likelihood({a3}, ARRAY[1, 2]::float8[], {a3}, 1, 10)"),
        ("gp_log_likelihood lengths 3, 3, 4",
         f"SELECT antares.gp_log_likelihood({a3}, {a3}, ARRAY[1, 1, 1, 1]::float8[], 1, 10)"),
        ("gp_log_likelihood amplitude < 0",
         f"SELECT antares.gp_log_likelihood({a3}, {a3}, {a3}, -1, 10)"),
        ("gp_log_likelihood amplitude NaN",
         f"SELECT antares.gp_log_likelihood({a3}, {a3}, {a3}, 'NaN', 10)"),
        ("gp_log_likelihood length_scale 0",
         f"SELECT antares.gp_log_likelihood({a3}, {a3}, {a3}, 1, 0)"),
        ("gp_log_likelihood length_scale < 0",
         f"SELECT antares.gp_log_likelihood({a3}, {a3}, {a3}, 1, -3)"),
        ("gp_predict dflux 0",
         f"SELECT * FROM antares.gp_predict({a3}, {a3}, ARRAY[0, 1, 1]::float8[], {a3}, 1, 10)"),
        ("gp_predict flux NaN",
         f"SELECT * FROM antares.gp_predict({a3}, ARRAY['NaN', 1, 1]::float8[], {a3}, {a3}, 1, 10)"),
        ("gp_predict t_new NaN",
         f"SELECT * FROM antares.gp_predict({a3}, {a3}, {a3}, ARRAY[1, 'NaN']::float8[], 1, 10)"),
        ("gp_predict lengths 2, 3, 3",
         f"SELECT * FROM antares.gp_predict(ARRAY[1, 2]::float8[], {a3}, {a3}, {a3}, 1, 10)"),
        ("gp_predict lengths 3, 3, 1",
         f"SELECT * FROM antares.gp_predict({a3}, {a3}, ARRAY[1]::float8[], {a3}, 1, 10)"),
        ("gp_predict length_scale 0",
         f"SELECT * FROM antares.gp_predict({a3}, {a3}, {a3}, {a3}, 1, 0)"),
    ]
    codes = {}
    for label, sql in cases:
        cur.execute("SAVEPOINT bad")
        try:
            cur.execute(sql)
            cur.fetchall()
            g.fail(label, "no error raised")
        except psycopg2.Error as e:
            codes[e.pgcode] = codes.get(e.pgcode, 0) + 1
            g.check(label, e.pgcode is not None and e.pgcode.startswith("22"),
                    f"SQLSTATE {e.pgcode}: {str(e).strip().splitlines()[0]}")
        cur.execute("ROLLBACK TO SAVEPOINT bad")
    g.report()
    print("       SQLSTATEs: " + ", ".join(f"{c} x{n}" for c, n in sorted(codes.items(), key=str)))


# --------------------------------------------------------------------------

def main():
    t_start = time.perf_counter()
    bands = read_bands()
    nrows = sum(len(v[0]) for v in bands.values())
    ntrain = sum(1 for k in bands if k[0] == "training")
    print(f"read {len(bands)} g/r/i/z bands ({ntrain} training, {len(bands) - ntrain} test), "
          f"{nrows} rows, from {DATA}")
    sys.stdout.flush()

    t0 = time.perf_counter()
    refs, warned = reference(bands)
    t_sk = time.perf_counter() - t0
    print(f"sklearn: fitted and predicted {len(refs)} bands in {t_sk:.1f} s "
          f"(optimum at a bound, by sklearn's warning: {warned['bound']}; "
          f"L-BFGS-B convergence warnings: {warned['convergence']})")
    sys.stdout.flush()

    conn = psycopg2.connect("")
    conn.set_session(autocommit=False)
    cur = conn.cursor()
    created_extension = False
    cur.execute("SELECT to_regproc('antares.gp_log_likelihood') IS NULL, to_regnamespace('antares') IS NULL")
    missing, created_schema = cur.fetchone()
    if missing:
        cur.execute("CREATE EXTENSION antares")
        conn.commit()
        created_extension = True
    try:
        t0 = time.perf_counter()
        load(cur, bands)
        check_loaded(cur, bands)
        cases = {}
        for key, ref in refs.items():
            for label in ("fitted", "initial"):
                cases[key + (label,)] = ref[label]["hp"] + (ref["grid"],)
        load_cases(cur, bands, cases)
        fixed = fetch_fixed(cur)
        check_fixed(fixed, refs, "fitted")
        check_fixed(fixed, refs, "initial")
        smooth = fetch_smooth(cur)
        check_smooth_self(smooth, bands, refs)
        check_optimum(smooth, refs)
        check_n_grid(cur, smooth, bands, refs)
        check_order_and_plan(cur, smooth)
        check_bad_input(cur)
        print(f"database side and comparisons: {time.perf_counter() - t0:.1f} s")
    finally:
        conn.rollback()
        cur.execute("DROP TABLE IF EXISTS antares_gp_validation_phot, antares_gp_case, antares_gp_pick, "
                    "antares_gp_sub")
        conn.commit()
        if created_extension:
            # CREATE EXTENSION made the schema; DROP EXTENSION leaves it.
            cur.execute("DROP EXTENSION antares")
            if created_schema:
                cur.execute("DROP SCHEMA antares")
            conn.commit()
        conn.close()

    print(f"total {time.perf_counter() - t_start:.1f} s")
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
