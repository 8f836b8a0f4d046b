#!/usr/bin/python3
"""Validate antares' light-curve features against independent references.

Run with Debian's interpreter (it has numpy, scipy and psycopg2):

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_features.py

The database is reached through the usual PG* environment variables.  If the
functions antares.lc_features etc. do not exist yet, the script runs CREATE
EXTENSION antares and drops the extension again at the end; the photometry it
loads lives in a temporary table that is dropped too.

Both sides read the shipped light curves independently: this script parses
every file in data/dsfp/training and data/dsfp/test with a plain split and
sends the rows to the server with COPY (the extension's own parser is not
involved), then compares what the extension computes with

  * the DSFP exercise's formulas evaluated with numpy/scipy in float64 (np.sum, np.std
    with ddof=1, np.median, scipy.stats.skew, -2.5*np.log10), and
  * the same definitions evaluated in exact rational arithmetic (fractions),
    rounded once at the end, to show how far both float computations are
    from the true value;

and finally checks synthetic edge cases against closed forms.

Agreement of two floats a, b means: both undefined (SQL NULL / None), or
    a == b  or  |a - b| <= 1e-9 * max(|a|, |b|)
with no absolute floor; counts (n) and missing-value fill-ins must be equal.
Every check group prints one line (values compared, pairs both undefined, the
worst relative difference and where); -v lists every failure.  The exit
status is 1 if any group failed.

Undefined, as in the issue: mean when all fluxes are 0; std when n < 2 or the
mean is 0 or undefined; amp when the mean is 0 or undefined; beyond when
n < 2 or the mean is undefined (with a mean of exactly 0 it is well defined,
|f - 0| > sd, and so computed); skew when m2 = 0, i.e. all fluxes equal (the
reference tests equality itself rather than scipy's relative threshold);
colours unless both means are > 0.
"""

import io
import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import psycopg2
import scipy.stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
from dsfp import DATA, read_all  # noqa: E402  (the shipped files, read independently)

REL_TOL = 1e-9
BANDS = "ugrizy"
STATS = ("mean", "std", "amp", "mad", "beyond", "skew")
VECTOR_STATS = ("std", "amp", "mad", "beyond", "skew")



# --------------------------------------------------------------------------
# Comparison and reporting
# --------------------------------------------------------------------------

def is_nan(x):
    return isinstance(x, float) and math.isnan(x)


def rel_diff(a, b):
    """|a-b| / max(|a|,|b|); 0 when equal (including both zero)."""
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


class Group(checks.Group):
    """Accumulates the comparisons of one check group."""

    def __init__(self, name):
        super().__init__(name)
        self.values = 0         # defined values compared numerically
        self.nulls = 0          # pairs agreeing on "undefined"
        self.exact = 0          # values compared for exact equality
        self.worst = 0.0
        self.worst_at = ""

    def close(self, where, got, want):
        """Float agreement to REL_TOL, or both undefined."""
        if got is None or want is None:
            if got is None and want is None:
                self.nulls += 1
            else:
                self.fail(where, f"got {got!r}, expected {want!r}")
            return
        if is_nan(got) or is_nan(want):
            if is_nan(got) and is_nan(want):
                self.nulls += 1
            else:
                self.fail(where, f"got {got!r}, expected {want!r}")
            return
        self.values += 1
        d = rel_diff(got, want)
        if d > self.worst:
            self.worst, self.worst_at = d, where
        if not (got == want or abs(got - want) <= REL_TOL * max(abs(got), abs(want))):
            self.fail(where, f"got {got!r}, expected {want!r} (rel diff {d:.3g})")

    def equal(self, where, got, want):
        """Exact equality (counts, text forms, fill-in values)."""
        self.exact += 1
        same = got == want or (is_nan(got) and is_nan(want))
        if not same:
            self.fail(where, f"got {got!r}, expected {want!r}")

    def check(self, where, cond, msg="condition failed"):
        self.exact += 1
        if not cond:
            self.fail(where, msg)

    def parts(self):
        parts = []
        if self.values:
            parts.append(f"{self.values} values compared, worst rel diff {self.worst:.3g}"
                         + (f" ({self.worst_at})" if self.worst_at else ""))
        if self.nulls:
            parts.append(f"{self.nulls} both undefined")
        if self.exact:
            parts.append(f"{self.exact} exact checks")
        return parts


# --------------------------------------------------------------------------
# Reading the shipped light curves (independently of the extension)
# --------------------------------------------------------------------------

def ref_band(f, s):
    """Seed statistics of one band; None where undefined."""
    n = len(f)
    out = dict(n=n, mean=None, std=None, amp=None, mad=None, beyond=None, skew=None)
    if n == 0:
        return out
    w = (f / s) ** 2
    if np.sum(w) > 0:
        out["mean"] = float(np.sum(f * w) / np.sum(w))
    m = out["mean"]
    usable = m is not None and m != 0.0
    out["mad"] = float(np.median(np.abs(f - np.median(f))))
    if usable:
        out["amp"] = float((np.max(f) - np.min(f)) / m)
    if n >= 2:
        if usable:
            out["std"] = float(np.std(f / m, ddof=1))
        if m is not None:
            out["beyond"] = float(np.mean(np.abs(f - m) > np.std(f, ddof=1)))
    if not np.all(f == f[0]):           # m2 = 0 exactly iff all fluxes equal
        out["skew"] = float(scipy.stats.skew(f))
    return out


def ref_color(mx, my):
    if mx is None or my is None or not (mx > 0 and my > 0):
        return None
    return float(-2.5 * np.log10(mx / my))


def ref_object(pb, flux, dflux):
    bands = {b: ref_band(flux[pb == b], dflux[pb == b]) for b in BANDS}
    colors = {f"{x}_minus_{y}": ref_color(bands[x]["mean"], bands[y]["mean"])
              for x, y in zip(BANDS, BANDS[1:])}
    return bands, colors


def ref_vector(bands, band_str, missing):
    out = []
    for stat in VECTOR_STATS:
        for b in band_str:
            v = bands[b][stat]
            out.append(missing if v is None else v)
    for x, y in zip(band_str, band_str[1:]):
        c = ref_color(bands[x]["mean"], bands[y]["mean"])
        out.append(missing if c is None else c)
    return out


# --------------------------------------------------------------------------
# Reference 2: the same definitions in exact rational arithmetic
# --------------------------------------------------------------------------

def exact_band(f, s):
    """Definitions evaluated exactly on the double inputs, rounded at the end."""
    n = len(f)
    out = dict(n=n, mean=None, std=None, amp=None, mad=None, beyond=None, skew=None)
    if n == 0:
        return out
    F = [Fraction(x) for x in f]
    S2 = [Fraction(x) ** 2 for x in s]
    sw = sum(x * x / d for x, d in zip(F, S2))
    if sw == 0:
        m = None
    else:
        m = sum(x * x * x / d for x, d in zip(F, S2)) / sw
        out["mean"] = float(m)
    srt = sorted(F)
    med = srt[n // 2] if n % 2 else (srt[n // 2 - 1] + srt[n // 2]) / 2
    dev = sorted(abs(x - med) for x in F)
    out["mad"] = float(dev[n // 2] if n % 2 else (dev[n // 2 - 1] + dev[n // 2]) / 2)
    rng = srt[-1] - srt[0]
    if m is not None and m != 0:
        out["amp"] = float(rng / m)
    fbar = sum(F) / n
    ss2 = sum((x - fbar) ** 2 for x in F)
    ss3 = sum((x - fbar) ** 3 for x in F)
    if n >= 2:
        var = ss2 / (n - 1)
        if m is not None and m != 0:
            out["std"] = math.sqrt(float(var / (m * m)))
        if m is not None:
            # |f - m| > sd  <=>  (f - m)^2 > var, decided exactly
            out["beyond"] = sum(1 for x in F if (x - m) ** 2 > var) / n
    if ss2 > 0:
        m2, m3 = ss2 / n, ss3 / n
        out["skew"] = math.copysign(math.sqrt(float(m3 * m3 / (m2 ** 3))), m3) if m3 else 0.0
    return out


# --------------------------------------------------------------------------
# Database side
# --------------------------------------------------------------------------

def load_photometry(cur, objects):
    cur.execute("CREATE TEMP TABLE antares_validation_phot ("
                " src text, objid int, t float8, pb text, flux float8, dflux float8)")
    buf = io.StringIO()
    for (src, objid), (t, pb, flux, dflux) in objects.items():
        for i in range(len(t)):
            buf.write(f"{src}\t{objid}\t{t[i]!r}\t{pb[i]}\t{flux[i]!r}\t{dflux[i]!r}\n")
    buf.seek(0)
    cur.copy_expert("COPY antares_validation_phot FROM STDIN", buf)
    cur.execute("ANALYZE antares_validation_phot")


def fetch_features(cur, order_by=""):
    cur.execute(f"""
        SELECT src, objid, (f).*
        FROM (SELECT src, objid, antares.lc_features(pb, flux, dflux {order_by}) AS f
              FROM antares_validation_phot GROUP BY src, objid) s""")
    names = [d.name for d in cur.description]
    return {(r[0], r[1]): dict(zip(names[2:], r[2:])) for r in cur.fetchall()}


# --------------------------------------------------------------------------
# Check groups on the shipped data
# --------------------------------------------------------------------------

def check_loaded(cur, objects):
    g = Group("rows loaded by COPY, per object and band")
    cur.execute("SELECT src, objid, pb, count(*) FROM antares_validation_phot GROUP BY 1, 2, 3")
    got = {(r[0], r[1], r[2]): r[3] for r in cur.fetchall()}
    want = {}
    for key, (t, pb, flux, dflux) in objects.items():
        for b, c in zip(*np.unique(pb, return_counts=True)):
            want[key + (str(b),)] = int(c)
    g.equal("number of (object, band) groups", len(got), len(want))
    for k, c in want.items():
        g.equal("/".join(map(str, k)), got.get(k), c)
    g.check("passbands", set(k[2] for k in want) <= set(BANDS), "passband outside ugrizy")
    g.report()


def check_lc_features(feats, refs, label):
    g = Group(f"lc_features, every column of {len(refs)} objects, vs {label}")
    g.equal("number of objects", len(feats), len(refs))
    for key, (bands, colors) in refs.items():
        row = feats.get(key)
        where0 = f"{key[0]}/{key[1]}"
        if row is None:
            g.fail(where0, "object missing from lc_features")
            continue
        for b in BANDS:
            g.equal(f"{where0} {b}_n", row[f"{b}_n"], bands[b]["n"])
            for stat in STATS:
                g.close(f"{where0} {b}_{stat}", row[f"{b}_{stat}"], bands[b][stat])
        if colors is not None:
            for name, c in colors.items():
                g.close(f"{where0} {name}", row[name], c)
    g.report()
    return g


def check_single_band(cur, refs):
    g = Group("single-band aggregates GROUP BY object, pb vs numpy/scipy")
    cur.execute("""
        SELECT src, objid, pb, count(*),
               antares.weighted_mean(flux, dflux), antares.norm_std(flux, dflux),
               antares.norm_amplitude(flux, dflux), antares.mad(flux),
               antares.beyond_1std(flux, dflux), antares.skew(flux)
        FROM antares_validation_phot GROUP BY src, objid, pb""")
    rows = cur.fetchall()
    expected_groups = sum(1 for bands, _ in refs.values() for b in BANDS if bands[b]["n"] > 0)
    g.equal("number of (object, band) groups", len(rows), expected_groups)
    for src, objid, pb, n, *vals in rows:
        ref = refs[(src, objid)][0][pb]
        where = f"{src}/{objid} {pb}"
        g.equal(f"{where} n", n, ref["n"])
        for stat, v in zip(STATS, vals):
            g.close(f"{where} {stat}", v, ref[stat])
    g.report()


def check_color(cur, refs):
    g = Group("color(mean_x, mean_y), every ordered pair of bands vs numpy")
    cur.execute("""
        WITH m AS (SELECT src, objid, pb, antares.weighted_mean(flux, dflux) AS mean
                   FROM antares_validation_phot GROUP BY src, objid, pb)
        SELECT x.src, x.objid, x.pb, y.pb, x.mean, y.mean, antares.color(x.mean, y.mean)
        FROM m x JOIN m y USING (src, objid) WHERE x.pb <> y.pb""")
    for src, objid, px, py, mx, my, c in cur.fetchall():
        bands = refs[(src, objid)][0]
        g.close(f"{src}/{objid} {px}-{py}", c, ref_color(bands[px]["mean"], bands[py]["mean"]))
    # Direct calls: sign rules, STRICT, and the wide-ratio branch.
    cases = [((1.0, 1.0), 0.0), ((10.0, 1.0), -2.5), ((1.0, 100.0), 5.0),
             ((2.0, 0.0), None), ((0.0, 2.0), None), ((-1.0, 2.0), None), ((2.0, -1.0), None),
             ((None, 1.0), None), ((1e300, 1e-300), -2.5 * 600), ((1e-300, 1e300), 2.5 * 600)]
    for (x, y), want in cases:
        cur.execute("SELECT antares.color(%s::float8, %s::float8)", (x, y))
        g.close(f"color({x}, {y})", cur.fetchone()[0], want)
    g.report()


def check_feature_vector(cur, refs):
    variants = [  # (SQL arguments, bands, missing)
        ("", "griz", -999.0),
        (", 'griz', -999", "griz", -999.0),
        (", 'ugrizy', NULL", "ugrizy", None),
        (", 'ugriz', 0", "ugriz", 0.0),
        (", 'gri', 'NaN'", "gri", float("nan")),
        (", 'zy', -1", "zy", -1.0),
        (", 'rg', NULL", "rg", None),
        (", 'u', 12.5", "u", 12.5),
        (", 'yzirgu', -999", "yzirgu", -999.0),
    ]
    g = Group(f"feature_vector, {len(variants)} band strings / missing values vs numpy")
    cols = ", ".join(f"antares.feature_vector(f{args})" for args, _, _ in variants)
    cur.execute(f"""
        SELECT src, objid, {cols}
        FROM (SELECT src, objid, antares.lc_features(pb, flux, dflux) AS f
              FROM antares_validation_phot GROUP BY src, objid) s""")
    rows = cur.fetchall()
    g.equal("number of objects", len(rows), len(refs))
    for src, objid, *vecs in rows:
        bands = refs[(src, objid)][0]
        for (args, band_str, missing), vec in zip(variants, vecs):
            want = ref_vector(bands, band_str, missing)
            where = f"{src}/{objid} feature_vector(f{args})"
            g.equal(f"{where} length", len(vec), 5 * len(band_str) + len(band_str) - 1)
            if len(vec) != len(want):
                continue
            for k, (a, b) in enumerate(zip(vec, want)):
                if b is missing or (missing is not None and b == missing) or is_nan(b):
                    # A fill-in must be exactly `missing`, or a NULL element.
                    g.equal(f"{where}[{k + 1}]", a, b)
                else:
                    g.close(f"{where}[{k + 1}]", a, b)
        g.equal(f"{src}/{objid} feature_vector(f) = feature_vector(f, 'griz', -999)",
                vecs[0], vecs[1])
    # Any row with the features' column names serves as well as the composite.
    cur.execute("""
        CREATE TEMP TABLE antares_validation_feat AS
        SELECT src, objid, (f).*
        FROM (SELECT src, objid, antares.lc_features(pb, flux, dflux) AS f
              FROM antares_validation_phot GROUP BY src, objid) s""")
    cur.execute("""
        SELECT s.src, s.objid,
               antares.feature_vector(s.f) = antares.feature_vector(t),
               antares.feature_vector(s.f, 'ugrizy', NULL) IS NOT DISTINCT FROM
                 antares.feature_vector(t, 'ugrizy', NULL),
               antares.feature_vector(s.f, 'zy', 0) = antares.feature_vector(t, 'zy', 0)
        FROM (SELECT src, objid, antares.lc_features(pb, flux, dflux) AS f
              FROM antares_validation_phot GROUP BY src, objid) s
        JOIN antares_validation_feat t USING (src, objid)""")
    rows = cur.fetchall()
    g.equal("rows of a table made with (lc_features(...)).*", len(rows), len(refs))
    for src, objid, *same in rows:
        g.check(f"{src}/{objid} feature_vector of a table row", all(same),
                "differs from feature_vector of the composite")
    cur.execute("DROP TABLE antares_validation_feat")
    g.report()


def check_row_order(cur):
    g = Group("lc_features independent of row order (text of the composite)")
    base = fetch_features(cur)
    for order in ("ORDER BY t DESC", "ORDER BY flux, dflux DESC", "ORDER BY md5(t::text)"):
        other = fetch_features(cur, order)
        g.equal(f"objects with {order}", len(other), len(base))
        for k, row in base.items():
            g.equal(f"{k} {order}", other.get(k), row)
    g.report()


def check_known_numbers(feats):
    g = Group("known numbers of the exercise (training set)")
    train = {k[1]: v for k, v in feats.items() if k[0] == "training"}
    g.equal("objects", len(train), 100)
    g.equal("objects with g amplitude > 2",
            sum(1 for v in train.values() if v["g_amp"] is not None and v["g_amp"] > 2), 9)
    g.equal("objects without a g-r colour",
            sum(1 for v in train.values() if v["g_minus_r"] is None), 2)
    f10 = train[10]
    for name, want in (("g_minus_r", 1.048), ("r_minus_i", -0.191), ("i_minus_z", -0.193)):
        g.check(f"FAKE010 {name}", f10[name] is not None and round(f10[name], 3) == want,
                f"{f10[name]!r} does not round to {want}")
    g.report()


# --------------------------------------------------------------------------
# Synthetic edge cases against closed forms
# --------------------------------------------------------------------------

def sql_band(cur, rows):
    """count(*) and every single-band aggregate over rows of (flux, dflux)."""
    cur.execute("""
        SELECT count(*), antares.weighted_mean(flux, dflux), antares.norm_std(flux, dflux),
               antares.norm_amplitude(flux, dflux), antares.mad(flux),
               antares.beyond_1std(flux, dflux), antares.skew(flux)
        FROM unnest(%s::float8[], %s::float8[]) AS v(flux, dflux)""",
                ([r[0] for r in rows], [r[1] for r in rows]))
    n, *vals = cur.fetchone()
    return n, dict(zip(STATS, vals))


def run_cases(g, cur, cases):
    """Each case through the single-band aggregates and lc_features' g columns."""
    cur.execute("SELECT (antares.lc_features('g', x, 1)).* FROM (VALUES (1.0::float8)) v(x) LIMIT 0")
    fcols = [d.name for d in cur.description]
    for name, (rows, want) in cases.items():
        n, got = sql_band(cur, rows)
        frow = dict(zip(fcols, f_parse(cur, rows)))
        g.equal(f"{name}: count", n, len(rows))
        g.equal(f"{name}: lc_features g_n", frow["g_n"], len(rows))
        for stat, w in want.items():
            if stat == "n":
                continue
            g.close(f"{name}: {stat}", got[stat], w)
            g.close(f"{name}: lc_features g_{stat}", frow[f"g_{stat}"], w)


def check_edge_cases(cur):
    sqrt2 = math.sqrt(2.0)
    cases = {
        # name: (rows (flux, dflux), closed forms; None = undefined)
        "one point": ([(5.0, 2.0)],
                      dict(mean=5.0, std=None, amp=0.0, mad=0.0, beyond=None, skew=None)),
        "two points": ([(1.0, 1.0), (3.0, 1.0)],   # w = 1, 9: mean 28/10; sd sqrt 2
                       dict(mean=2.8, std=sqrt2 / 2.8, amp=2 / 2.8, mad=1.0, beyond=0.5, skew=0.0)),
        "all-zero fluxes": ([(0.0, 1.0), (0.0, 2.0), (0.0, 3.0)],
                            dict(mean=None, std=None, amp=None, mad=0.0, beyond=None, skew=None)),
        "mean exactly 0": ([(-1.0, 1.0), (1.0, 1.0)],   # sd sqrt 2 > |f - 0| = 1
                           dict(mean=0.0, std=None, amp=None, mad=1.0, beyond=0.0, skew=0.0)),
        # w = 16, 1, 9, 1: mean -92/27; fbar -2, deviations -2, 0, -1, 3
        "negative mean": ([(-4.0, 1.0), (-2.0, 2.0), (-3.0, 1.0), (1.0, 1.0)],
                          dict(mean=-92 / 27, std=math.sqrt(14 / 3) / (92 / 27), amp=5 / (-92 / 27),
                               mad=1.0, beyond=0.25, skew=(18 / 4) / (14 / 4) ** 1.5)),
        # 1 2 3 10 with s 1 1 2 1: w 1 4 9/4 100; fbar 4, deviations -3 -2 -1 6
        "skewed": ([(1.0, 1.0), (2.0, 1.0), (3.0, 2.0), (10.0, 1.0)],
                   dict(mean=(1 + 8 + 27 / 4 + 1000) / (1 + 4 + 9 / 4 + 100),
                        std=math.sqrt(50 / 3) / ((1 + 8 + 27 / 4 + 1000) / (1 + 4 + 9 / 4 + 100)),
                        amp=9 / ((1 + 8 + 27 / 4 + 1000) / (1 + 4 + 9 / 4 + 100)),
                        mad=1.0, beyond=0.75, skew=(180 / 4) / (50 / 4) ** 1.5)),
        "median ties, even n": ([(1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (5.0, 1.0)],
                                dict(mad=0.0)),
        "median of an even count": ([(x, 1.0) for x in (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)],
                                    dict(mad=4.5)),    # median 6; |dev| 2 2 4 5 10 26
        "median ties, odd n": ([(x, 1.0) for x in (3.0, 7.0, 3.0, 3.0, 3.0)], dict(mad=0.0)),
        "ties around the median": ([(x, 1.0) for x in (2.0, 1.0, 2.0, 9.0, 2.0, 10.0)],
                                   dict(mad=0.5)),     # median 2; |dev| 0 0 0 1 7 8
        "median between ties": ([(x, 1.0) for x in (4.0, 4.0, 6.0, 6.0)],
                                dict(mad=1.0)),        # median 5; |dev| 1 1 1 1
    }
    g = Group("edge cases: one and two points, all-zero, mean 0, negative mean, median ties")
    run_cases(g, cur, cases)
    g.report()

    # Constant fluxes: the mean is the flux itself; std, amp, MAD and beyond
    # are 0 and skew is undefined, also where rounding could make the computed
    # weighted mean differ from the flux by an ulp.
    cases = {
        "constant 2 (power of two)": ([(2.0, 1.0), (2.0, 3.0), (2.0, 0.5)],
                                      dict(mean=2.0, std=0.0, amp=0.0, mad=0.0, beyond=0.0, skew=None)),
        "constant 0.1": ([(0.1, 1.0), (0.1, 0.3), (0.1, 0.7)],
                         dict(mean=0.1, std=0.0, amp=0.0, mad=0.0, beyond=0.0, skew=None)),
    }
    for x in (0.1, 0.3, 0.7, 1.1, 3.3, 12.34, -0.7, 1e-5, 123.456):
        for n in range(2, 7):
            cases[f"constant {x:g} x{n}"] = (
                [(x, (2.0, 3.0, 1.0)[k % 3]) for k in range(n)],
                dict(mean=x, std=0.0, amp=0.0, mad=0.0, beyond=0.0, skew=None))
    g = Group("edge cases: constant fluxes")
    run_cases(g, cur, cases)
    g.report()

    # Scale invariance: std, amp, beyond, skew of c*f (c*s) equal those of f;
    # mean and MAD scale by c.
    cases = {}
    base = [(1.0, 0.5), (2.0, 0.25), (4.0, 1.0), (-3.0, 2.0), (7.5, 0.5)]
    ref = exact_band(np.array([r[0] for r in base]), np.array([r[1] for r in base]))
    # Down to 1e-200 every deviation is still a normal double, so the
    # definitions are computable; a kernel that cubes raw deviations underflows.
    for c in (1e100, 1e-100, 2.0 ** 300, 2.0 ** -300, 1e-12, 1e12, 1e-150, 1e-200):
        want = {k: ref[k] for k in ("std", "amp", "beyond", "skew")}
        want["mean"] = ref["mean"] * c
        want["mad"] = ref["mad"] * c
        cases[f"scaled by {c:g}"] = ([(f * c, s * c) for f, s in base], want)
    # Magnitudes far apart in one band: the compensated sums must not lose the small ones.
    big = [(1e8, 1e3)] + [(1.0 + k * 1e-3, 1.0) for k in range(999)]
    cases["one huge flux among 999 small"] = (big, exact_band(np.array([r[0] for r in big]),
                                                              np.array([r[1] for r in big])))
    g = Group("edge cases: huge and small magnitudes")
    run_cases(g, cur, cases)

    # Far beyond that a cube or square overflows: an error is acceptable
    # (documented), a wrong value is not.
    huge = [(f * 1e120, s * 1e120) for f, s in base]
    cur.execute("SAVEPOINT edge")
    try:
        n, got = sql_band(cur, huge)
        for stat in ("std", "amp", "beyond", "skew"):
            g.close(f"scaled by 1e120: {stat} (or an error)", got[stat], ref[stat])
    except psycopg2.errors.NumericValueOutOfRange:
        g.exact += 1
    cur.execute("ROLLBACK TO SAVEPOINT edge")
    g.report()

    # Empty input and NULL rows: NULL aggregates; NULL rows are skipped.
    g = Group("edge cases: empty input, NULL rows, invalid input")
    cur.execute("""SELECT antares.weighted_mean(flux, dflux), antares.mad(flux), antares.skew(flux),
                          antares.lc_features('g', flux, dflux)
                   FROM (VALUES (1.0::float8, 1.0::float8)) v(flux, dflux) WHERE false""")
    g.check("no rows", cur.fetchone() == (None, None, None, None), "aggregates over no rows are not NULL")
    # A NULL pb only matters to lc_features; the band aggregates ignore pb.
    cur.execute("""SELECT antares.weighted_mean(flux, dflux)::text, antares.mad(flux)::text,
                          antares.lc_features(pb, flux, dflux)::text
                   FROM (VALUES ('g', 1.0::float8, 1.0::float8), ('g', NULL, 1), ('g', 2, NULL),
                                (NULL, 5, 1), ('g', 3, 2)) v(pb, flux, dflux)""")
    with_nulls = cur.fetchone()
    # mad(flux) ignores dflux, so only the NULL flux is skipped.
    cur.execute("""SELECT (SELECT antares.weighted_mean(flux, dflux)::text
                           FROM (VALUES (1.0::float8, 1.0::float8), (5, 1), (3, 2)) v(flux, dflux)),
                          (SELECT antares.mad(flux)::text
                           FROM (VALUES (1.0::float8), (2), (5), (3)) v(flux))""")
    g.equal("band aggregates skip rows with a NULL", with_nulls[:2], cur.fetchone())
    cur.execute("""SELECT antares.lc_features(pb, flux, dflux)::text
                   FROM (VALUES ('g', 1.0::float8, 1.0::float8), ('g', 3, 2)) v(pb, flux, dflux)""")
    g.equal("lc_features skips rows with a NULL", with_nulls[2], cur.fetchone()[0])

    # Invalid input is an error, not a silent value.
    for label, sql in (
            ("dflux = 0", "SELECT antares.weighted_mean(1.0, 0.0)"),
            ("dflux < 0", "SELECT antares.lc_features('g', 1.0, -1.0)"),
            ("flux NaN", "SELECT antares.mad('NaN'::float8)"),
            ("flux Infinity", "SELECT antares.weighted_mean('Infinity'::float8, 1.0)"),
            ("passband 'x'", "SELECT antares.lc_features('x', 1.0, 1.0)"),
            ("bands 'gg'", "SELECT antares.feature_vector(antares.lc_features('g', 1.0, 1.0), 'gg')"),
            ("bands ''", "SELECT antares.feature_vector(antares.lc_features('g', 1.0, 1.0), '')"),
            ("color of Infinity", "SELECT antares.color('Infinity'::float8, 1.0)")):
        cur.execute("SAVEPOINT edge")
        try:
            cur.execute(sql)
            cur.fetchall()
            g.fail(label, "no error raised")
        except psycopg2.Error:
            g.exact += 1
        cur.execute("ROLLBACK TO SAVEPOINT edge")
    g.report()


def f_parse(cur, rows):
    """lc_features over one g band, expanded to its columns."""
    cur.execute("""SELECT (f).* FROM (SELECT antares.lc_features('g', flux, dflux) AS f
                   FROM unnest(%s::float8[], %s::float8[]) AS v(flux, dflux)) s""",
                ([r[0] for r in rows], [r[1] for r in rows]))
    return cur.fetchone()


# --------------------------------------------------------------------------

def main():
    objects = read_all()
    nrows = sum(len(v[0]) for v in objects.values())
    print(f"read {len(objects)} light curves, {nrows} rows, from {DATA}")

    refs = {k: ref_object(pb, flux, dflux) for k, (t, pb, flux, dflux) in objects.items()}
    exact = {}
    for k, (t, pb, flux, dflux) in objects.items():
        exact[k] = ({b: exact_band(flux[pb == b], dflux[pb == b]) for b in BANDS}, None)

    conn = psycopg2.connect("")
    conn.set_session(autocommit=False)
    cur = conn.cursor()
    created_extension = False
    cur.execute("SELECT to_regproc('antares.lc_features') IS NULL, to_regnamespace('antares') IS NULL")
    missing, created_schema = cur.fetchone()
    if missing:
        cur.execute("CREATE EXTENSION antares")
        conn.commit()
        created_extension = True
    try:
        load_photometry(cur, objects)
        check_loaded(cur, objects)
        feats = fetch_features(cur)
        check_lc_features(feats, refs, "numpy/scipy")
        check_lc_features(feats, exact, "exact rational arithmetic")
        numpy_vs_exact = Group("numpy/scipy reference itself vs exact rational arithmetic")
        for k, (bands, _) in refs.items():
            for b in BANDS:
                for stat in STATS:
                    numpy_vs_exact.close(f"{k[0]}/{k[1]} {b}_{stat}", bands[b][stat], exact[k][0][b][stat])
        numpy_vs_exact.report()
        check_single_band(cur, refs)
        check_color(cur, refs)
        check_feature_vector(cur, refs)
        check_row_order(cur)
        check_known_numbers(feats)
        check_edge_cases(cur)
    finally:
        conn.rollback()
        cur.execute("DROP TABLE IF EXISTS antares_validation_phot, antares_validation_feat")
        conn.commit()
        if created_extension:
            # CREATE EXTENSION made the schema; DROP EXTENSION leaves it.
            cur.execute("DROP EXTENSION antares")
            if created_schema:
                cur.execute("DROP SCHEMA antares")
            conn.commit()
        conn.close()

    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
