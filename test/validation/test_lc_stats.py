#!/usr/bin/python3
"""Validate antares.band_statistics against independent computations.

Run with Debian's interpreter (it has numpy, scipy and psycopg2):

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_lc_stats.py

The database is reached through the usual PG* environment variables; the
extension is created if antares.band_statistics is missing (and dropped at
the end).  The shipped light curves are read with test/validation/dsfp.py (a
plain split, not the extension's parser) and sent with COPY; the server
aggregates each band's arrays in whatever order the rows come (array_agg
without ORDER BY), so order independence is exercised on every band.

Every output of every band of all 1100 objects is compared with a reference
computed here from the definitions in src/lc_stats.h:

  scipy      kurtosis: scipy.stats.kurtosis(bias=False); anderson_darling_normal:
             scipy.stats.anderson(dist='norm').statistic * (1 + 4/n - 25/n^2);
             linear_trend, linear_trend_sigma: scipy.stats.linregress
  numpy      quantiles: np.quantile(method='hazen'); median: np.median;
             linear_fit_*: np.polyfit(deg=1, w=1/dflux, cov='unscaled') on t - t_0;
             the rest with np.std(ddof=1), np.cumsum, np.diff etc.

Agreement: both undefined (NULL / None), or |a - b| <= 1e-9 * max(|a|, |b|, scale),
where scale is the size of the terms whose difference the statistic is
(rounding is relative to them, not to the difference): the flux range for
flux-valued quantiles, max|flux| / (Q95 - Q5) for the percentile ratios,
3 (n-1)^2/((n-2)(n-3)) for kurtosis, n for Anderson-Darling (-n - S/n),
(var + mean(dflux^2)) / mean^2 for the excess variance, the slope's sigma for
slopes, and for the fits' residual measures (exact lines) residuals of
1e-6 max|flux|.  observation_count and median_buffer_range_percentage_10 must be equal.
One line per check group; -v lists every failure; exit 1 on a failure.
"""

import io
import math
import sys
from pathlib import Path

import numpy as np
import scipy.stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
from dsfp import read_all  # noqa: E402

REL_TOL = 1e-9
FPR = {"mid20": 0.40, "mid35": 0.325, "mid50": 0.25, "mid65": 0.175, "mid80": 0.10}
RESID = 1e-6    # residuals below RESID * max|flux| are rounding noise (exact lines)
EXACT = ("observation_count", "median_buffer_range_percentage_10")


def reference(t, f, d):
    """{column: (value or None, scale)} from the definitions, numpy/scipy."""
    o = np.lexsort((d, f, t))
    t, f, d = t[o], f[o], d[o]
    n = len(t)
    r = {"observation_count": (n, 0)}

    def put(name, value, scale=0.0):
        r[name] = (None if value is None else float(value), scale)

    names = ["duration", "minimum_time_interval", "maximum_time_interval", "median",
             "mean_variance", "percent_amplitude", "inter_percentile_range_10",
             "median_buffer_range_percentage_10"] + [f"flux_percentile_ratio_{k}" for k in FPR] + [
        "kurtosis", "anderson_darling_normal", "cusum", "eta", "eta_e", "excess_variance", "chi2",
        "stetson_k", "maximum_slope", "linear_trend", "linear_trend_sigma", "linear_trend_noise",
        "linear_fit_slope", "linear_fit_slope_sigma", "linear_fit_reduced_chi2"]
    for name in names:
        put(name, None)
    if n == 0:
        return r
    fmax = np.max(np.abs(f))
    constant = f.min() == f.max()
    q = lambda p: np.quantile(f, p, method="hazen")  # noqa: E731
    put("duration", t[-1] - t[0])
    med = np.median(f)
    put("median", med, fmax)
    put("percent_amplitude", np.max(np.abs(f - med)), fmax)
    put("inter_percentile_range_10", q(0.9) - q(0.1), fmax)
    put("median_buffer_range_percentage_10", np.mean(np.abs(f - med) < 0.1 * 0.5 * (f.max() - f.min())))
    denom = q(0.95) - q(0.05)
    if denom > 0:
        for k, p in FPR.items():
            put(f"flux_percentile_ratio_{k}", (q(1 - p) - q(p)) / denom, fmax / denom)
    if n < 2:
        return r
    dt = np.diff(t)
    put("minimum_time_interval", dt.min())
    put("maximum_time_interval", dt.max())
    mean = f.mean()
    sd = 0.0 if constant else np.std(f, ddof=1)
    var = sd * sd
    if mean != 0:
        put("mean_variance", sd / mean, abs(sd / mean))
        put("excess_variance", (var - np.mean(d ** 2)) / mean ** 2, (var + np.mean(d ** 2)) / mean ** 2)
    w = 1 / d ** 2
    mw = f[0] if constant else np.sum(w * f) / np.sum(w)   # exactly, not rounded
    z = (f - mw) / d
    chi2 = np.sum(z ** 2)
    put("chi2", chi2 / (n - 1))
    if chi2 > 0:
        put("stetson_k", np.sum(np.abs(z)) / np.sqrt(n * chi2))
    pos = dt > 0
    slopes = np.diff(f)[pos] / dt[pos]
    if pos.any():
        put("maximum_slope", np.max(np.abs(slopes)))
    if not constant:
        put("eta", np.sum(np.diff(f) ** 2) / ((n - 1) * var))
        if t[-1] > t[0]:
            put("eta_e", (t[-1] - t[0]) ** 2 * np.sum(slopes ** 2) / ((n - 1) ** 3 * var))
        s = np.cumsum(f - mean)
        put("cusum", (s.max() - s.min()) / (n * sd))
        if n >= 4:
            c = 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))
            put("kurtosis", scipy.stats.kurtosis(f, bias=False), c)
            a2 = scipy.stats.anderson(f, dist="norm").statistic
            put("anderson_darling_normal", a2 * (1 + 4 / n - 25 / n ** 2), n)
    if n >= 3 and t[-1] > t[0]:
        lr = scipy.stats.linregress(t - t[0], f)
        floor = RESID * fmax / np.sqrt(np.sum((t - t.mean()) ** 2))   # sigma of noise RESID * fmax
        put("linear_trend", lr.slope, max(lr.stderr, floor))
        put("linear_trend_sigma", lr.stderr, floor)
        resid = f - (lr.intercept + lr.slope * (t - t[0]))
        put("linear_trend_noise", np.sqrt(np.sum(resid ** 2) / (n - 2)), RESID * fmax)
        p, cov = np.polyfit(t - t[0], f, 1, w=1 / d, cov="unscaled")
        put("linear_fit_slope", p[0], np.sqrt(cov[0, 0]))
        put("linear_fit_slope_sigma", np.sqrt(cov[0, 0]))
        fres = (f - np.polyval(p, t - t[0])) / d
        put("linear_fit_reduced_chi2", np.sum(fres ** 2) / (n - 2), n * (RESID * fmax / d.min()) ** 2)
    return r


class Group(checks.Group):
    """Counts compared values, pairs both undefined, the worst relative difference."""

    def __init__(self, name):
        super().__init__(name)
        self.both_null = 0
        self.worst = (0.0, "")

    def compare(self, where, got, ref):
        """got: the server's row (dict); ref: reference()'s dict."""
        for col, (want, scale) in ref.items():
            have = got[col]
            self.checks += 1
            if want is None or have is None:
                if want is None and have is None:
                    self.both_null += 1
                else:
                    self.fail(where, f"{col}: got {have}, want {want}")
                continue
            if col in EXACT:
                if have != want:
                    self.fail(where, f"{col}: got {have!r}, want {want!r}")
                continue
            bound = max(abs(have), abs(want), scale)
            diff = abs(have - want) / bound if bound > 0 else 0.0
            if diff > self.worst[0]:
                self.worst = (diff, f"{where} {col}")
            if not diff <= REL_TOL:
                self.fail(where, f"{col}: got {have!r}, want {want!r} (rel. {diff:.2e})")

    def parts(self):
        return [f"{self.checks} values", f"{self.both_null} both undefined",
                f"worst {self.worst[0]:.2e} ({self.worst[1] or '-'})"] + self.notes


def load(cur, objects):
    cur.execute("CREATE TEMP TABLE lc_stats_phot (src text, objid int, t float8, pb text,"
                " flux float8, dflux float8)")
    buf = io.StringIO()
    for (src, objid), (t, pb, flux, dflux) in objects.items():
        for i in range(len(t)):
            buf.write(f"{src}\t{objid}\t{t[i]!r}\t{pb[i]}\t{flux[i]!r}\t{dflux[i]!r}\n")
    buf.seek(0)
    cur.copy_expert("COPY lc_stats_phot FROM STDIN", buf)


def server_rows(cur, query, args=None):
    cur.execute(query, args)
    names = [c.name for c in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def stats_of(cur, t, f, d):
    return server_rows(cur, "SELECT * FROM band_statistics(%s::float8[], %s::float8[], %s::float8[])",
                       (list(map(float, t)), list(map(float, f)), list(map(float, d))))[0]


def check_shipped(cur, objects):
    g = Group("every band of the shipped light curves vs numpy/scipy")
    rows = server_rows(cur, """
        SELECT p.src, p.objid, p.pb, s.*
        FROM (SELECT src, objid, pb, array_agg(t) AS t, array_agg(flux) AS f, array_agg(dflux) AS d
              FROM lc_stats_phot GROUP BY src, objid, pb) p, band_statistics(p.t, p.f, p.d) s""")
    bands = 0
    for row in rows:
        t, pb, flux, dflux = objects[(row["src"], row["objid"])]
        m = pb == row["pb"]
        g.compare(f"{row['src']}/{row['objid']} {row['pb']}", row, reference(t[m], flux[m], dflux[m]))
        bands += 1
    want = sum(len(set(v[1])) for v in objects.values())
    g.check("bands", bands == want, f"{bands} bands returned, {want} in the files")
    g.note(f"{bands} bands of {len(objects)} objects")
    g.report()


def check_synthetic(cur):
    g = Group("synthetic edge cases vs numpy/scipy")
    rng = np.random.default_rng(16)
    cases = {
        "n = 0": ([], [], []),
        "n = 1": ([5.0], [3.0], [1.0]),
        "n = 2": ([1.0, 2.0], [3.0, -1.0], [0.5, 2.0]),
        "n = 3": ([1.0, 2.0, 4.0], [3.0, -1.0, 2.0], [0.5, 2.0, 1.0]),
        "n = 4": ([1.0, 2.0, 4.0, 8.0], [3.0, -1.0, 2.0, 7.0], [0.5, 2.0, 1.0, 1.0]),
        "constant fluxes": ([1.0, 2.0, 3.0, 5.0, 8.0], [4.0] * 5, [1.0, 2.0, 1.0, 3.0, 1.0]),
        "constant 0.1 fluxes, unequal errors": ([1.0, 2.0, 3.0], [0.1] * 3, [1.0, 3.0, 7.0]),
        "zero fluxes": ([1.0, 2.0, 3.0, 5.0], [0.0] * 4, [1.0] * 4),
        "one time": ([7.0] * 6, [1.0, 4.0, 2.0, 8.0, 5.0, 7.0], [1.0] * 6),
        "pairs of equal times": ([1.0, 1.0, 2.0, 2.0, 3.0, 3.0], [1.0, 4.0, 2.0, 8.0, 5.0, 7.0], [1.0] * 6),
        "zero mean": ([1.0, 2.0, 3.0, 4.0], [-1.0, 1.0, -2.0, 2.0], [1.0] * 4),
        "exact line": (list(range(10)), [2.0 + 0.5 * i for i in range(10)], [1.0] * 10),
        # Anderson-Darling far in the tails: ln Phi of -63 (the asymptotic
        # series) and of -22 (erfc); scipy's norm.logcdf is log_ndtr
        "a 63-sigma outlier": (list(range(4000)), [1.0] + [0.0] * 3999, [1.0] * 4000),
        "a 22-sigma outlier": (list(range(500)), [1.0] + [0.0] * 499, [1.0] * 500),
        "MJD times, large n": (list(np.sort(59000 + 1000 * rng.random(5000))),
                               list(rng.normal(100, 20, 5000)), list(0.5 + rng.random(5000))),
    }
    for name, (t, f, d) in cases.items():
        t, f, d = np.array(t, float), np.array(f, float), np.array(d, float)
        g.compare(name, stats_of(cur, t, f, d), reference(t, f, d))
    g.report()


def check_scaling(cur):
    """Fluxes and errors times 2^k, times times 2^j: every statistic scales
    by its units exactly (powers of two), also where the squares or fourth
    powers of the values would leave double range."""
    g = Group("huge and tiny magnitudes: exact scaling by powers of two")
    t = np.array([0.0, 1.0, 2.5, 4.0, 7.0, 7.5, 9.0])
    f = np.array([1.0, 3.0, 2.0, 6.0, 4.0, 5.5, 2.5])
    d = np.array([0.5, 1.0, 0.7, 1.2, 0.9, 1.1, 0.6])
    base = stats_of(cur, t, f, d)
    units = {"duration": (0, 1), "minimum_time_interval": (0, 1), "maximum_time_interval": (0, 1),
             "median": (1, 0), "percent_amplitude": (1, 0), "inter_percentile_range_10": (1, 0),
             "linear_trend_noise": (1, 0), "maximum_slope": (1, -1), "linear_trend": (1, -1),
             "linear_trend_sigma": (1, -1), "linear_fit_slope": (1, -1), "linear_fit_slope_sigma": (1, -1)}
    for kf, kt in ((900, 0), (-900, 0), (1000, 3), (-1000, -3), (0, 900), (0, -900), (500, -500)):
        got = stats_of(cur, np.ldexp(t, kt), np.ldexp(f, kf), np.ldexp(d, kf))
        for col, v in base.items():
            uf, ut = units.get(col, (0, 0))
            want = v if v is None or col == "observation_count" else math.ldexp(v, uf * kf + ut * kt)
            g.check(f"2^{kf} flux, 2^{kt} t: {col}", got[col] == want or
                    (want is not None and got[col] is not None and abs(got[col] - want) <= 1e-15 * abs(want)),
                    f"got {got[col]!r}, want {want!r}")
    g.report()


def check_order(cur):
    g = Group("order independence (shuffled arrays, ties in t)")
    rng = np.random.default_rng(7)
    t = np.round(rng.random(200) * 50)       # many equal times
    f = rng.normal(10, 3, 200)
    d = 0.5 + rng.random(200)
    base = stats_of(cur, t, f, d)
    for _ in range(5):
        p = rng.permutation(200)
        g.check("shuffle", stats_of(cur, t[p], f[p], d[p]) == base, "a shuffled band gives another result")
    g.report()


def check_errors(cur):
    g = Group("bad input: SQLSTATEs")
    cases = [
        ("'{1,2}', '{1}', '{1,1}'", "2202E"),
        ("'{1,NULL}', '{1,2}', '{1,1}'", "22004"),
        ("'{1,2}', '{1,NaN}', '{1,1}'", "22023"),
        ("'{1,2}', '{1,Infinity}', '{1,1}'", "22023"),
        ("'{1,2}', '{1,2}', '{1,0}'", "22023"),
        ("'{1,2}', '{1,2}', '{1,-1}'", "22023"),
        ("'{{1,2}}', '{1,2}', '{1,1}'", "2202E"),
        ("'{-1e308,1e308}', '{1,2}', '{1,1}'", "22003"),
        ("'{0,1}', '{1e300,-1e300}', '{1e-300,1e-300}'", "22003"),
    ]
    for args, state in cases:
        cur.execute("SAVEPOINT s")
        try:
            # the first array typed: the aggregate band_statistics(float8, ...) is a candidate too
            typed = args.replace("', ", "'::float8[], ", 1)
            cur.execute(f"SELECT band_statistics({typed})")
            got = "no error"
        except Exception as e:  # psycopg2.Error
            got = getattr(e, "pgcode", None) or str(e)
        cur.execute("ROLLBACK TO SAVEPOINT s")
        g.check(args, got == state, f"got {got}, want {state}")
    g.report()


def main():
    objects = read_all()
    print(f"read {len(objects)} light curves")
    with checks.database("antares.band_statistics") as (conn, cur):
        load(cur, objects)
        check_shipped(cur, objects)
        check_synthetic(cur)
        check_scaling(cur)
        check_order(cur)
        check_errors(cur)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
