#!/usr/bin/python3
"""Validate antares.lomb_scargle and antares.lomb_scargle_power against astropy.

Run with Debian's interpreter (numpy, astropy, psycopg2) against a running
server named by the PG* environment variables:

    /usr/bin/python3 test/validation/test_lomb_scargle.py [-v]

If antares.lomb_scargle does not exist, CREATE EXTENSION antares first and
drop it at the end (checks.database).  The shipped light curves are read
here (dsfp.py, plain splitting) and sent with COPY; every band of all 1100
objects is then compared with astropy.timeseries.LombScargle(t, flux, dflux)
(its defaults: fit_mean, center_data, normalization 'standard'):

  * the grid: n_frequencies, min_frequency and frequency_step equal to
    astropy's autofrequency() (exact: the same operations);
  * lomb_scargle_power on that grid against astropy's method='slow', and
    lomb_scargle(method => 'direct') against the slow periodogram's peak:
    the power to REL_TOL = 1e-9 relative at every frequency; where the two
    differ by more, the fit is ill-conditioned (kappa, the ratio of the
    eigenvalues of the weighted covariance of cos and sin, is large: a few
    points, or points a few minutes apart among others years apart) and
    antares must be within max(1e-9, 4096 eps kappa) of a long-double
    evaluation of the definition (centred two-pass sums in numpy.longdouble);
    the errors of both, in units of eps kappa, are printed.  The peak: the
    same frequency as the long-double maximum (or one whose power ties it to
    1e-9), its power and period_s_to_n the same way;
  * lomb_scargle(method => 'fast') against astropy's method='fast' (the same
    Press & Rybicki algorithm, oversampling 5, Mfft 4, the same finish): the
    same peak frequency and its power to FAST_REL_TOL = 1e-9 (or 4096 eps
    kappa: the FFTs' rounding differs, amplified by kappa); its distance
    from the exact power at that frequency is printed (the approximation's
    error, astropy's as well; large for bands of a few points);
  * the default method is direct for every shipped band;
  * grid options (min_period, max_period, samples_per_peak) on the training
    set, synthetic degenerate and extreme bands, order independence, and
    errors with their SQLSTATE.

One line per check group; exit status 1 if any group failed.
"""

import io
import math
import sys
from pathlib import Path

import numpy as np
import psycopg2
from astropy.timeseries import LombScargle

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
from dsfp import read_all  # noqa: E402

REL_TOL = 1e-9
FAST_REL_TOL = 1e-9
EPS = np.finfo(float).eps
# A few ulps per operation amplified by kappa, and up to 64 rotations of the
# direct grid's (versine, sine) between exact recomputations (LS_RESYNC).
KAPPA_ULPS = 4096
COLUMNS = ("period", "power", "frequency", "period_s_to_n", "n_frequencies",
           "min_frequency", "frequency_step", "method")


def rel(a, b):
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


class Group(checks.Group):
    """Counts values compared and the worst relative difference."""

    def __init__(self, name):
        super().__init__(name)
        self.values = 0
        self.worst = 0.0
        self.worst_at = ""

    def close(self, where, got, want, tol=REL_TOL):
        self.checks += 1
        if got is None or want is None:
            if not (got is None and want is None):
                self.fail(where, f"got {got!r}, expected {want!r}")
            return
        self.values += 1
        d = rel(got, want)
        if d > self.worst:
            self.worst, self.worst_at = d, where
        if d > tol:
            self.fail(where, f"got {got!r}, expected {want!r} (rel diff {d:.3g})")

    def parts(self):
        out = [f"{self.checks} checks"]
        if self.values:
            out.append(f"{self.values} values, worst rel diff {self.worst:.3g} ({self.worst_at})")
        return out + self.notes


def load(cur, objects):
    cur.execute("CREATE TEMP TABLE ls_validation_phot"
                " (src text, objid int, t float8, pb text, flux float8, dflux float8)")
    buf = io.StringIO()
    for (src, objid), (t, pb, flux, dflux) in objects.items():
        for i in range(len(t)):
            buf.write(f"{src}\t{objid}\t{t[i]!r}\t{pb[i]}\t{flux[i]!r}\t{dflux[i]!r}\n")
    buf.seek(0)
    cur.copy_expert("COPY ls_validation_phot FROM STDIN", buf)


def bands_of(objects):
    """{(src, objid, pb): (t, flux, dflux)} in file order."""
    out = {}
    for (src, objid), (t, pb, flux, dflux) in objects.items():
        for b in np.unique(pb):
            m = pb == b
            out[(src, objid, str(b))] = (t[m], flux[m], dflux[m])
    return out


def fetch(cur, where="", args=""):
    """Every band's lomb_scargle (direct, fast, auto) and lomb_scargle_power on
    its grid.  MATERIALIZED: each call once per band (a flattened subquery
    would call lomb_scargle again for every field and grid point)."""
    cur.execute(f"""
        WITH b AS MATERIALIZED (
            SELECT src, objid, pb, array_agg(t) AS t, array_agg(flux) AS fl, array_agg(dflux) AS df
            FROM ls_validation_phot {where} GROUP BY src, objid, pb),
        l AS MATERIALIZED (
            SELECT src, objid, pb, t, fl, df,
                   lomb_scargle(t, fl, df{args}, method => 'direct') AS d,
                   lomb_scargle(t, fl, df{args}, method => 'fast') AS f,
                   lomb_scargle(t, fl, df{args}) AS a
            FROM b)
        SELECT src, objid, pb, (d).*, (f).frequency, (f).power, (f).method, (a).method,
               lomb_scargle_power(t, fl, df, array(SELECT (d).min_frequency + k * (d).frequency_step
                                                   FROM generate_series(0, (d).n_frequencies - 1) k))
        FROM l""")
    out = {}
    for r in cur.fetchall():
        row = dict(zip(COLUMNS, r[3:11]))
        row.update(fast_frequency=r[11], fast_power=r[12], fast_method=r[13], auto_method=r[14],
                   curve=r[15])
        out[(r[0], r[1], r[2])] = row
    return out


def reference(t, y, dy, grid):
    """The definition in long double (centred times, two-pass centred sums),
    and the condition number kappa = (CC + SS) / smaller eigenvalue of the
    weighted covariance of (cos, sin) at each frequency."""
    L = np.longdouble
    t, y, w = t.astype(L), y.astype(L), 1 / dy.astype(L) ** 2
    w /= w.sum()
    tc = t - (w * t).sum()
    yc = y - (w * y).sum()
    th = 2 * L(np.pi) * grid.astype(L)[:, None] * tc[None, :]
    c, s = np.cos(th), np.sin(th)
    c -= (w * c).sum(1)[:, None]
    s -= (w * s).sum(1)[:, None]
    cc, ss, cs = (w * c * c).sum(1), (w * s * s).sum(1), (w * c * s).sum(1)
    ch, sh, yy = (w * yc * c).sum(1), (w * yc * s).sum(1), (w * yc * yc).sum()
    tr, det = cc + ss, cc * ss - cs * cs
    kappa = tr / (tr / 2 - np.sqrt(tr * tr / 4 - det))
    return (ss * ch * ch + cc * sh * sh - 2 * cs * ch * sh) / (det * yy), kappa.astype(float)


def agree(g, where, got, astro, ref, kappa):
    """got within REL_TOL of astropy's value; where they differ by more (an
    ill-conditioned fit), within max(REL_TOL, KAPPA_ULPS eps kappa) of the
    long-double value."""
    g.checks += 1
    g.values += 1
    d = rel(got, astro)
    if d <= REL_TOL:
        if d > g.worst:
            g.worst, g.worst_at = d, where
        return
    ea, es = rel(got, float(ref)), rel(astro, float(ref))
    g.off.append((ea / (EPS * kappa), es / (EPS * kappa), kappa))
    if ea > max(REL_TOL, KAPPA_ULPS * EPS * kappa):
        g.fail(where, f"got {got!r}, astropy {astro!r}, long double {float(ref)!r}, "
                      f"kappa {kappa:.3g}")


def check_band(gs, key, row, t, y, dy, grid_kw, fast=True):
    """Compare one band's results with astropy; gs: the groups by name."""
    where = "/".join(map(str, key))
    ls = LombScargle(t, y, dy)
    grid = ls.autofrequency(**grid_kw)
    g = gs["grid"]
    g.check(f"{where} n_frequencies", row["n_frequencies"] == len(grid),
            f"{row['n_frequencies']} against astropy's {len(grid)}")
    if len(grid) == 0:
        return
    g.check(f"{where} min_frequency", row["min_frequency"] == grid[0],
            f"{row['min_frequency']!r} against {grid[0]!r}")
    if len(grid) > 1:
        g.close(f"{where} frequency_step", row["frequency_step"], grid[1] - grid[0], 1e-12)

    curve = row["curve"]
    if len(np.unique(t)) < 4 or np.all(y == y[0]):
        g = gs["undefined"]
        g.check(f"{where} NULL peak", row["power"] is None and row["period"] is None
                and row["period_s_to_n"] is None and row["method"] is None, repr(row))
        g.check(f"{where} NULL powers", all(x is None for x in curve))
        return
    slow = ls.power(grid, method="slow")
    ref, kappa = reference(t, y, dy, grid)
    g = gs["power"]
    g.check(f"{where} curve length", len(curve) == len(grid) and None not in curve)
    if len(curve) != len(grid) or None in curve:
        return
    # numpy first: only the powers that differ by more than REL_TOL one by one
    a = np.array(curve)
    d = np.where(a == slow, 0.0, np.abs(a - slow) / np.maximum(np.abs(a), np.abs(slow)))
    close = d <= REL_TOL
    g.checks += int(close.sum())
    g.values += int(close.sum())
    if close.any() and d[close].max() > g.worst:
        g.worst, g.worst_at = float(d[close].max()), f"{where} f[{int(np.argmax(np.where(close, d, -1)))}]"
    for k in np.flatnonzero(~close):
        agree(g, f"{where} f[{k}]", curve[k], float(slow[k]), ref[k], kappa[k])

    g = gs["peak"]
    best = int(np.argmax(ref))
    k = int(np.argmin(abs(grid - row["frequency"])))
    g.check(f"{where} peak frequency", row["frequency"] == grid[best] or
            rel(float(ref[best]), float(ref[k])) <= REL_TOL,
            f"{row['frequency']!r} against the maximum at {grid[best]!r}")
    agree(g, f"{where} power", row["power"], float(slow[k]), ref[k], kappa[k])
    g.check(f"{where} period", row["period"] == 1.0 / row["frequency"])
    sn = lambda p: (p[k] - p.mean()) / p.std(ddof=1)
    agree(g, f"{where} period_s_to_n", row["period_s_to_n"], float(sn(slow)), sn(ref), kappa.max())
    gs["auto"].check(f"{where} auto method", row["auto_method"] == "direct", row["auto_method"])

    if not fast:
        return
    g = gs["fast"]
    pf = ls.power(grid, method="fast")
    fbest = int(np.argmax(pf))
    g.check(f"{where} fast method", row["fast_method"] == "fast")
    g.check(f"{where} fast peak frequency", row["fast_frequency"] == grid[fbest],
            f"{row['fast_frequency']!r} against astropy's {grid[fbest]!r}")
    k = int(np.argmin(abs(grid - row["fast_frequency"])))
    # the same sums up to rounding (GSL's FFT against numpy's), amplified by kappa
    g.close(f"{where} fast power", row["fast_power"], float(pf[fbest]),
            max(FAST_REL_TOL, KAPPA_ULPS * EPS * kappa[k]))
    ge = gs["fast_exact"]
    ge.checks += 1
    ge.errors.append(abs(row["fast_power"] - float(ref[k])))
    ge.n.append(len(t))
    ge.same_peak += row["fast_frequency"] == row["frequency"]


class FastExact(checks.Group):
    """Not a check: how far the approximation is from the exact power."""

    def __init__(self, name):
        super().__init__(name)
        self.errors = []
        self.n = []
        self.same_peak = 0

    def parts(self):
        e, n = np.array(self.errors or [0.0]), np.array(self.n or [0])
        big = e[n >= 50] if (n >= 50).any() else np.array([0.0])
        return [f"{self.checks} bands", f"|fast - exact| at its peak: median {np.median(e):.2g}, "
                f"99% {np.quantile(e, 0.99):.2g}, max {e.max():.3g}; bands of >= 50 points max "
                f"{big.max():.3g}", f"same peak as direct in {self.same_peak} of {self.checks}"]


class Agree(Group):
    """Group that also reports the values where antares and astropy differ by
    more than REL_TOL: both one's and the other's error against the
    long-double value there."""

    def __init__(self, name):
        super().__init__(name)
        self.off = []

    def parts(self):
        if not self.off:
            return super().parts()
        a = np.array(self.off)
        ea, es = a[:, 0] * EPS * a[:, 2], a[:, 1] * EPS * a[:, 2]
        big = a[ea > REL_TOL, 0]
        return super().parts() + [
            f"{len(a)} values more than {REL_TOL:g} from astropy (kappa {a[:, 2].min():.2g} to "
            f"{a[:, 2].max():.2g}); against long double: antares' worst rel error {ea.max():.2g}, "
            f"{len(big)} beyond {REL_TOL:g}"
            + (f" (at most {big.max():.3g} eps kappa)" if len(big) else "")
            + f"; astropy's worst {es.max():.2g}, {int((es > REL_TOL).sum())} beyond {REL_TOL:g}"]


def groups(label):
    return {
        "grid": Group(f"{label}: grid equals astropy's autofrequency"),
        "power": Agree(f"{label}: lomb_scargle_power on the grid vs astropy method='slow'"),
        "peak": Agree(f"{label}: lomb_scargle direct peak, period, period_s_to_n vs astropy slow"),
        "undefined": Group(f"{label}: fewer than 4 distinct times or constant flux: NULL"),
        "auto": Group(f"{label}: the default method is direct"),
        "fast": Group(f"{label}: lomb_scargle fast vs astropy method='fast'"),
        "fast_exact": FastExact(f"{label}: lomb_scargle fast vs the exact periodogram"),
    }


def check_shipped(cur, bands):
    gs = groups(f"every band of the shipped objects ({len(bands)} bands)")
    got = fetch(cur)
    gs["grid"].check("number of bands", len(got) == len(bands), f"{len(got)} of {len(bands)}")
    for key, (t, y, dy) in bands.items():
        row = got.get(key)
        if row is None:
            gs["grid"].fail("/".join(map(str, key)), "band missing")
            continue
        check_band(gs, key, row, t, y, dy, {})
    for g in gs.values():
        g.report()


def check_options(cur, bands):
    variants = [
        (", min_period => 1, max_period => 100", dict(minimum_frequency=1 / 100, maximum_frequency=1.0)),
        (", samples_per_peak => 10", dict(samples_per_peak=10)),
        (", min_period => 2", dict(maximum_frequency=1 / 2)),
        (", max_period => 30, samples_per_peak => 3", dict(minimum_frequency=1 / 30, samples_per_peak=3)),
    ]
    for args, kw in variants:
        gs = groups(f"training set with{args[1:]}")
        del gs["fast"], gs["fast_exact"]
        got = fetch(cur, "WHERE src = 'training'", args)
        for key, row in got.items():
            check_band(gs, key, row, *bands[key], kw, fast=False)
        for g in gs.values():
            g.report()


def ls_row(cur, t, y, dy, args=""):
    cur.execute(f"SELECT (l).* FROM (SELECT lomb_scargle(%s::float8[], %s::float8[], %s::float8[]{args}) l) s",
                (list(t), list(y), list(dy)))
    return dict(zip(COLUMNS, cur.fetchone()))


def check_synthetic(cur):
    g = Group("synthetic bands: degenerate, extreme magnitudes, order, errors")
    # degenerate: (t, y, dy, n_frequencies expected or None for "astropy's", peak defined)
    cases = {
        "empty": ([], [], [], 0, False),
        "one point": ([5.0], [1.0], [1.0], 0, False),
        "all at one time": ([3.0] * 4, [1.0, 2.0, 3.0, 4.0], [1.0] * 4, 0, False),
        "two points": ([1.0, 4.0], [1.0, 2.0], [1.0, 1.0], None, False),
        "two distinct times": ([1.0, 4.0, 4.0, 1.0], [1.0, 2.0, 3.0, 0.0], [1.0] * 4, None, False),
        "constant flux": ([1.0, 2.0, 5.0, 9.0], [0.1] * 4, [1.0, 2.0, 0.5, 1.0], None, False),
        "three distinct times": ([1.0, 2.0, 5.0, 5.0], [1.0, 3.0, 2.0, 0.0], [1.0] * 4, None, False),
        "four distinct times": ([1.0, 2.0, 5.0, 7.0], [1.0, 3.0, 2.0, 0.0], [1.0] * 4, None, True),
    }
    for name, (t, y, dy, nf, defined) in cases.items():
        row = ls_row(cur, t, y, dy)
        want_nf = nf if nf is not None else len(LombScargle(t, y, dy).autofrequency())
        g.check(f"{name}: n_frequencies", row["n_frequencies"] == want_nf,
                f"{row['n_frequencies']} against {want_nf}")
        g.check(f"{name}: peak {'defined' if defined else 'NULL'}",
                (row["power"] is not None) == defined and (row["period"] is not None) == defined
                and (row["method"] is not None) == defined, repr(row))
    # The power does not depend on units: fluxes and uncertainties scaled far
    # beyond what astropy's squares survive equal astropy on the unscaled band.
    rng = np.random.default_rng(16)
    t = np.sort(rng.uniform(0, 300, 40))
    dy = rng.uniform(0.5, 2, 40)
    y = 10 + 5 * np.sin(2 * np.pi * t / 7.7) + rng.normal(0, 1, 40) * dy
    ls = LombScargle(t, y, dy)
    grid = ls.autofrequency()
    slow = ls.power(grid, method="slow")
    for fs, ds in ((1e300, 1e300), (1e-300, 1e-300), (1.0, 1e150), (1e200, 1e-100)):
        row = ls_row(cur, t, y * fs, dy * ds)
        g.close(f"flux x {fs:g}, dflux x {ds:g}: power", row["power"], float(slow.max()))
        g.check(f"flux x {fs:g}, dflux x {ds:g}: frequency", row["frequency"] == grid[np.argmax(slow)])
    row = ls_row(cur, t + 1024, y, dy)
    g.close("t + 1024: power", row["power"], float(slow.max()))
    # order: shuffled arrays give the same composite
    perm = rng.permutation(40)
    cur.execute("SELECT lomb_scargle(%s::float8[], %s::float8[], %s::float8[])::text",
                (list(t), list(y), list(dy)))
    a = cur.fetchone()[0]
    cur.execute("SELECT lomb_scargle(%s::float8[], %s::float8[], %s::float8[])::text",
                (list(t[perm]), list(y[perm]), list(dy[perm])))
    g.check("shuffled arrays: the same result", cur.fetchone()[0] == a)
    # a long band: auto takes fast, as docs/lomb_scargle.md says
    t = np.sort(rng.uniform(0, 3000, 2000))
    y = np.sin(2 * np.pi * t / 0.91) + rng.normal(0, 1, 2000)
    dy = np.ones(2000)
    row = ls_row(cur, t, y, dy)
    pf = LombScargle(t, y, dy).autopower(method="fast")
    g.check("2000 points: auto takes fast", row["method"] == "fast", row["method"])
    g.close("2000 points: fast power vs astropy's", row["power"], float(pf[1].max()), FAST_REL_TOL)
    # errors
    errors = [
        ("SELECT lomb_scargle('{1,2}', '{1}', '{1,1}')", "2202E"),
        ("SELECT lomb_scargle('{1,2,3}', '{1,NULL,3}', '{1,1,1}')", "22004"),
        ("SELECT lomb_scargle('{1,2,3}', '{1,2,3}', '{1,-1,1}')", "22023"),
        ("SELECT lomb_scargle('{1,2,3}', '{1,2,3}', '{1,1,1}', min_period => -1)", "22023"),
        ("SELECT lomb_scargle('{1,2,3}', '{1,2,3}', '{1,1,1}', samples_per_peak => 0)", "22023"),
        ("SELECT lomb_scargle('{1,2,3}', '{1,2,3}', '{1,1,1}', method => 'x')", "22023"),
        ("SELECT lomb_scargle_power('{1,2,3}', '{1,2,3}', '{1,1,1}', '{-0.5}')", "22023"),
    ]
    for sql, state in errors:
        cur.execute("SAVEPOINT e")
        try:
            cur.execute(sql)
            g.fail(sql, "no error")
        except psycopg2.Error as e:
            g.check(sql, e.pgcode == state, f"SQLSTATE {e.pgcode}, expected {state}")
        cur.execute("ROLLBACK TO SAVEPOINT e")
    g.report()


def main():
    objects = read_all()
    bands = bands_of(objects)
    with checks.database("antares.lomb_scargle") as (conn, cur):
        load(cur, objects)
        check_shipped(cur, bands)
        check_options(cur, bands)
        check_synthetic(cur)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
