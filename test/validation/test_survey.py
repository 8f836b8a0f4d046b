#!/usr/bin/python3
"""Validate the survey simulator (antares.simulate_survey) statistically, with
numpy, scipy and astropy, against the model documented in src/survey_sim.h.

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_survey.py [-v]

One survey of 3000 objects (seed 2024, three years, ~930,000 rows) and its
truth (simulate_survey_truth: the parameters each object was drawn with)
are fetched; every check recomputes what the documentation says from the
rows, independently of the C code:

  (a) noise: for the classes with a closed form (transient, periodic,
      flaring), the model flux is recomputed here from the documented
      formulae and the drawn parameters; (flux - model) / dflux must be
      N(0, 1): mean within 0.01, standard deviation within 0.01 of 1,
      Kolmogorov-Smirnov p > 0.001.  The sky term implied by each dflux,
      sqrt(dflux^2 - 0.05 max(f, 0) - (0.005 f)^2), gives the visit's
      5-sigma depth m5 = 27.5 - 2.5 log10(5 sky): per band its mean within
      0.02 mag of LSST's m5 and its scatter within 0.02 mag of 0.25;
  (b) periodic variables: astropy's LombScargle on each object's rows (all
      bands together, each divided by its band's median flux; the first 250
      objects with P < 50 d) recovers the true period within 1% for at least
      95% of them, and within 1% or at a harmonic or daily alias for 98%;
  (c) supernova-like transients: scipy's curve_fit of the Bazin law on the
      band with most points around the peak, for objects observed at least
      8 times with S/N > 3 between 20 days before and 60 days after t0:
      median |peak time - true| < 1.5 d, peak flux within 10% of the true
      peak for at least 80% and its median error below 3%;
  (d) damped random walks: for stochastic sources, the magnitudes of the
      points with S/N > 20 (linearised errors) through a Kalman filter of
      the OU process with the true tau and sigma give innovations that are
      N(0, 1) (mean within 0.02, sd within 0.02 of 1); the likelihood over
      tau on a grid from tau / 2.8 to 2.8 tau (sigma true) peaks within a
      factor sqrt(2) of the true tau for at least 90% of the sources with
      tau < 100 d (a discretisation with the wrong time scale, e.g.
      exp(-2 d / tau) for the mean, would put it at a factor 2);
  (e) colours and classes: per class the median over objects of each band's
      colour -2.5 log10(median flux_b / median flux_r), from the rows,
      within 0.05 mag of the documented base colour (periodic and
      stochastic sources: the variability averages out); class shares
      within 0.03 of 1/4; band shares of visits within 0.01 of those the
      cadence implies (u 0.077, g 0.108, r 0.214, i 0.214, z 0.198, y
      0.190: LSST's weights drawn without replacement, computed here by
      enumeration).

Exit status 1 if any group failed.  Leaves nothing behind (creates the
extension if missing and drops it again).
"""

import itertools
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import psycopg2
from astropy.timeseries import LombScargle
from scipy import optimize, stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import Group, summary  # noqa: E402

SEED = 2024
N_OBJECTS = 3000
BANDS = "ugrizy"
M5 = dict(zip(BANDS, (23.70, 24.97, 24.52, 24.13, 23.56, 22.55)))
SCALE = dict(zip(BANDS, (1.3, 1.15, 1.0, 0.9, 0.8, 0.75)))
CONTRAST = dict(zip(BANDS, (5.0, 2.5, 1.0, 0.5, 0.3, 0.2)))
BAND_WEIGHT = dict(zip(BANDS, (0.07, 0.10, 0.22, 0.22, 0.20, 0.19)))
COLOURS = {
    "transient": (0.8, 0.2, 0.0, 0.1, 0.2, 0.3),
    "periodic": (1.2, 0.4, 0.0, -0.15, -0.25, -0.3),
    "stochastic": (0.3, 0.15, 0.0, -0.05, -0.1, -0.15),
    "flaring": (4.0, 1.5, 0.0, -1.0, -1.5, -1.8),
}
GAIN, FLOOR, ZP = 0.05, 0.005, 27.5
PERIODIC_SAMPLE = 250   # periodograms are the slow part: the first 250 periodic objects


def fetch(cur):
    cur.execute("SELECT objid, t, pb, flux, dflux, label FROM antares.simulate_survey(%s, %s) "
                "ORDER BY objid, t", (N_OBJECTS, SEED))
    rows = cur.fetchall()
    cur.execute("SELECT objid, label, class, params FROM antares.simulate_survey_truth(%s, %s)",
                (N_OBJECTS, SEED))
    truth = {r[0]: {"label": r[1], "class": r[2], **r[3]} for r in cur.fetchall()}
    objects = {}
    for objid, group in itertools.groupby(rows, key=lambda r: r[0]):
        g = list(group)
        objects[objid] = {
            "t": np.array([r[1] for r in g]),
            "pb": np.array([r[2] for r in g]),
            "flux": np.array([r[3] for r in g]),
            "dflux": np.array([r[4] for r in g]),
            "label": g[0][5],
        }
    return objects, truth, len(rows)


# ---- the documented models, written again from src/survey_sim.h ----

def bazin(t, a, t0, trise, tfall):
    """a exp(-x/tfall) / (1 + exp(-x/trise)), x = t - t0, without overflow."""
    x = np.asarray(t, dtype=float) - t0
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = a * np.exp(-x[pos] / tfall) / (1.0 + np.exp(-x[pos] / trise))
    xn = x[~pos]
    out[~pos] = a * np.exp(xn / trise - xn / tfall) / (np.exp(xn / trise) + 1.0)
    return out


def model_flux(p, t, pb):
    """The noiseless flux of a transient, periodic or flaring object."""
    f = np.array([p["base_flux"][b] for b in pb])
    b_index = np.array([BANDS.index(b) for b in pb])
    if p["class"] == "transient":
        tfall = p["tfall"] * (1.0 + 0.15 * (b_index - 2))
        return np.array([bazin(np.array([ti]), fi, p["t0"], p["trise"], tf)[0]
                         for ti, fi, tf in zip(t, f, tfall)])
    if p["class"] == "periodic":
        x = t / p["period"] + p["phase"]
        w = 1.0 - 2.0 * (x - np.floor(x)) if p["shape"] == "sawtooth" else np.sin(2 * np.pi * x)
        return f * (1.0 + p["amplitude"] * np.array([SCALE[b] for b in pb]) * w)
    if p["class"] == "flaring":
        s = np.zeros_like(t)
        for fl in p["flares"]:
            x = t - fl["t"]
            rise = (x < 0) & (x >= -fl["rise"])
            s[x >= 0] += fl["amplitude"] * np.exp(-x[x >= 0] / fl["decay"])
            s[rise] += fl["amplitude"] * (x[rise] + fl["rise"]) / fl["rise"]
        return f * (1.0 + np.array([CONTRAST[b] for b in pb]) * s)
    raise ValueError(p["class"])


def check_noise(objects, truth):
    g = Group("(a) (flux - model) / dflux ~ N(0, 1); per-visit depths")
    z, m5 = [], {b: [] for b in BANDS}
    for objid, o in objects.items():
        p = truth[objid]
        if p["class"] == "stochastic":
            continue
        f = model_flux(p, o["t"], o["pb"])
        z.append((o["flux"] - f) / o["dflux"])
        sky2 = o["dflux"] ** 2 - GAIN * np.maximum(f, 0) - (FLOOR * f) ** 2
        g.check(f"object {objid}", np.all(sky2 > 0), "dflux below the source and floor terms")
        sky = np.sqrt(np.maximum(sky2, 1e-300))
        for b in BANDS:
            sel = o["pb"] == b
            m5[b].extend(ZP - 2.5 * np.log10(5 * sky[sel]))
    z = np.concatenate(z)
    ks = stats.kstest(z, "norm")
    g.check("mean", abs(z.mean()) < 0.01, f"mean {z.mean():.4f}")
    g.check("sd", abs(z.std() - 1) < 0.01, f"sd {z.std():.4f}")
    g.check("KS", ks.pvalue > 0.001, f"KS p = {ks.pvalue:.2g}")
    g.note(f"{len(z)} points: mean {z.mean():+.4f}, sd {z.std():.4f}, KS p {ks.pvalue:.2f}")
    worst = 0.0
    for b in BANDS:
        v = np.array(m5[b])
        worst = max(worst, abs(v.mean() - M5[b]))
        g.check(f"m5 {b}", abs(v.mean() - M5[b]) < 0.02, f"mean {v.mean():.3f}, LSST {M5[b]}")
        g.check(f"m5 {b} scatter", abs(v.std() - 0.25) < 0.02, f"scatter {v.std():.3f}")
    g.note(f"m5 means within {worst:.3f} mag of LSST's")
    g.report()


def check_periods(objects, truth):
    g = Group("(b) Lomb-Scargle recovers the periods")
    exact = near = total = 0
    for objid, o in objects.items():
        p = truth[objid]
        if p["class"] != "periodic" or p["period"] >= 50 or total >= PERIODIC_SAMPLE:
            continue
        y = np.empty_like(o["flux"])
        dy = np.empty_like(o["flux"])
        for b in BANDS:
            sel = o["pb"] == b
            if sel.any():
                med = np.median(o["flux"][sel])
                y[sel] = o["flux"][sel] / med - 1
                dy[sel] = o["dflux"][sel] / med
        ls = LombScargle(o["t"], y, dy)
        freq, power = ls.autopower(minimum_frequency=1 / 120, maximum_frequency=1 / 0.09,
                                   samples_per_peak=5, method="fast")
        f_best = freq[np.argmax(power)]
        # refine on a fine grid around the peak (the fast method is approximate)
        fine = np.linspace(f_best * 0.995, f_best * 1.005, 201)
        f_best = fine[np.argmax(ls.power(fine, method="cython"))]
        p_best, p_true = 1 / f_best, p["period"]
        total += 1
        if abs(p_best / p_true - 1) < 0.01:
            exact += 1
            near += 1
        else:
            # a harmonic (P/2, P/3, 2P) or a daily alias |1/P +- k| (k = 1, 2)
            f_true = 1 / p_true
            cands = [f_true * m for m in (2, 3, 0.5)] + [abs(f_true + s * k) for s in (1, -1) for k in (1, 2)]
            near += any(c > 0 and abs(f_best / c - 1) < 0.01 for c in cands)
    g.check("exact", exact >= 0.95 * total, f"{exact} of {total} within 1%")
    g.check("near", near >= 0.98 * total, f"{near} of {total} within 1% or at a harmonic/alias")
    g.note(f"{exact}/{total} = {exact / total:.3f} within 1% of the true period, "
           f"{near / total:.3f} counting harmonics and daily aliases")
    g.report()


def check_bazin(objects, truth):
    g = Group("(c) Bazin fits of the transients")
    dt_peak, rel_flux, fitted = [], [], 0
    candidates = 0
    for objid, o in objects.items():
        p = truth[objid]
        if p["class"] != "transient":
            continue
        win = (o["t"] > p["t0"] - 20) & (o["t"] < p["t0"] + 60) & (o["flux"] > 3 * o["dflux"])
        counts = {b: int(np.sum(win & (o["pb"] == b))) for b in BANDS}
        band = max(counts, key=counts.get)
        if counts[band] < 8:
            continue
        candidates += 1
        sel = (o["pb"] == band) & (o["t"] > p["t0"] - 60) & (o["t"] < p["t0"] + 150)
        t, f, df = o["t"][sel], o["flux"][sel], o["dflux"][sel]
        i_max = np.argmax(f)
        p0 = (2 * f[i_max], t[i_max] - 3, 3.0, 30.0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                popt, _ = optimize.curve_fit(bazin, t, f, p0=p0, sigma=df, absolute_sigma=True,
                                             bounds=((0, t.min() - 50, 0.1, 1), (np.inf, t.max() + 50, 30, 300)),
                                             maxfev=20000)
        except RuntimeError:
            continue
        fitted += 1
        grid = np.linspace(p["t0"] - 30, p["t0"] + 60, 9001)
        b = BANDS.index(band)
        true_curve = bazin(grid, p["base_flux"][band], p["t0"], p["trise"], p["tfall"] * (1 + 0.15 * (b - 2)))
        fit_curve = bazin(grid, *popt)
        dt_peak.append(grid[np.argmax(fit_curve)] - grid[np.argmax(true_curve)])
        rel_flux.append(fit_curve.max() / true_curve.max() - 1)
    dt_peak, rel_flux = np.abs(np.array(dt_peak)), np.abs(np.array(rel_flux))
    g.check("sample", candidates >= 100 and fitted >= 0.95 * candidates,
            f"{fitted} fitted of {candidates} candidates")
    g.check("peak time", np.median(dt_peak) < 1.5, f"median |dt| {np.median(dt_peak):.2f} d")
    g.check("peak flux", np.mean(rel_flux < 0.10) >= 0.80 and np.median(rel_flux) < 0.03,
            f"{np.mean(rel_flux < 0.10):.3f} within 10%, median error {np.median(rel_flux):.3f}")
    g.note(f"{fitted} transients fitted: median |peak time error| {np.median(dt_peak):.2f} d, "
           f"peak flux within 10% for {np.mean(rel_flux < 0.10):.3f} (median error {np.median(rel_flux):.3f})")
    g.report()


def ou_innovations(t, m, r2, tau, sigma):
    """Kalman filter of y (OU, variance sigma^2, time scale tau) observed as m = y + noise(r2):
    the standardised innovations and the log likelihood."""
    mean, var = 0.0, sigma ** 2
    z = np.empty_like(m)
    loglik = 0.0
    for k in range(len(m)):
        if k > 0:
            rho = math.exp(-(t[k] - t[k - 1]) / tau)
            mean *= rho
            var = rho * rho * var + sigma ** 2 * (1 - rho * rho)
        s = var + r2[k]
        v = m[k] - mean
        z[k] = v / math.sqrt(s)
        loglik -= 0.5 * (v * v / s + math.log(2 * math.pi * s))
        gain = var / s
        mean += gain * v
        var *= 1 - gain
    return z, loglik


def check_random_walk(objects, truth):
    g = Group("(d) damped random walks: innovations and time scales")
    z_all, ok_tau, n_tau, used, within_2 = [], 0, 0, 0, []
    factors = 2.0 ** np.arange(-1.5, 1.51, 0.125)
    for objid, o in objects.items():
        p = truth[objid]
        if p["class"] != "stochastic":
            continue
        sel = o["flux"] > 20 * o["dflux"]
        if sel.sum() < 30:
            continue
        used += 1
        t, pb = o["t"][sel], o["pb"][sel]
        base = np.array([p["base_flux"][b] for b in pb])
        s = np.array([SCALE[b] for b in pb])
        m = -2.5 * np.log10(o["flux"][sel] / base) / s
        r2 = (2.5 / math.log(10) * o["dflux"][sel] / o["flux"][sel] / s) ** 2
        z, _ = ou_innovations(t, m, r2, p["tau"], p["sigma"])
        z_all.append(z)
        if p["tau"] < 100:
            n_tau += 1
            ll = [ou_innovations(t, m, r2, p["tau"] * k, p["sigma"])[1] for k in factors]
            best = factors[int(np.argmax(ll))]
            within_2.append(0.5 <= best <= 2.0)
            ok_tau += 2 ** -0.5 <= best <= 2 ** 0.5
    z = np.concatenate(z_all)
    g.check("sources", used >= 300, f"{used} sources with 30 points of S/N > 20")
    g.check("mean", abs(z.mean()) < 0.02, f"mean {z.mean():.4f}")
    g.check("sd", abs(z.std() - 1) < 0.02, f"sd {z.std():.4f}")
    g.check("tau", ok_tau >= 0.90 * n_tau, f"{ok_tau} of {n_tau}")
    g.note(f"{used} sources, {len(z)} innovations: mean {z.mean():+.4f}, sd {z.std():.4f}; "
           f"likelihood peak within a factor sqrt(2) of tau for {ok_tau}/{n_tau} = {ok_tau / max(n_tau, 1):.3f} "
           f"(within 2x: {np.mean(within_2):.3f})")
    g.report()


def band_shares():
    """Share of visits per band when a night draws 1, 2, 3 bands (0.3, 0.5, 0.2)
    without replacement with the weights BAND_WEIGHT: exact enumeration."""
    w = BAND_WEIGHT
    share = {b: 0.0 for b in BANDS}
    mean_visits = 0.0
    for k, pk in ((1, 0.3), (2, 0.5), (3, 0.2)):
        mean_visits += k * pk
        for seq in itertools.permutations(BANDS, k):
            prob, left = 1.0, 1.0
            for b in seq:
                prob *= w[b] / left
                left -= w[b]
            for b in seq:
                share[b] += pk * prob
    return {b: share[b] / mean_visits for b in BANDS}


def check_colours_and_classes(objects, truth):
    g = Group("(e) colours, class shares, band shares")
    colours = {c: {b: [] for b in BANDS} for c in COLOURS}
    classes = {c: 0 for c in COLOURS}
    visits = {b: 0 for b in BANDS}
    for objid, o in objects.items():
        p = truth[objid]
        classes[p["class"]] += 1
        g.check(f"object {objid}", o["label"] == p["label"], "rows' label is not the truth's")
        for b in BANDS:
            visits[b] += int(np.sum(o["pb"] == b))
        r = o["pb"] == "r"
        if r.sum() < 10:
            continue
        med_r = np.median(o["flux"][r])
        for b in BANDS:
            sel = o["pb"] == b
            if sel.sum() >= 10:
                med = np.median(o["flux"][sel])
                if med > 0 and med_r > 0:
                    colours[p["class"]][b].append(-2.5 * math.log10(med / med_r))
    worst = 0.0
    for c in ("periodic", "stochastic"):
        for i, b in enumerate(BANDS):
            got = np.median(colours[c][b])
            worst = max(worst, abs(got - COLOURS[c][i]))
            g.check(f"{c} {b}", abs(got - COLOURS[c][i]) < 0.05,
                    f"median colour {got:.3f}, documented {COLOURS[c][i]}")
    g.note(f"periodic and stochastic median colours within {worst:.3f} mag")
    n = sum(classes.values())
    for c, k in classes.items():
        g.check(f"class {c}", abs(k / n - 0.25) < 0.03, f"share {k / n:.3f}")
    expected = band_shares()
    total = sum(visits.values())
    for b in BANDS:
        g.check(f"band {b}", abs(visits[b] / total - expected[b]) < 0.01,
                f"share {visits[b] / total:.4f}, expected {expected[b]:.4f}")
    g.note("class shares " + " ".join(f"{k / n:.3f}" for k in classes.values())
           + "; band shares " + " ".join(f"{b} {visits[b] / total:.3f}/{expected[b]:.3f}" for b in BANDS))
    g.report()


def main():
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT to_regprocedure('antares.simulate_survey(integer,bigint)') IS NULL, to_regnamespace('antares') IS NULL")
    missing, created_schema = cur.fetchone()
    if missing:
        cur.execute("CREATE EXTENSION antares")
    try:
        objects, truth, nrows = fetch(cur)
        print(f"simulate_survey({N_OBJECTS}, {SEED}): {nrows} rows, {len(objects)} objects with rows")
        check_noise(objects, truth)
        check_periods(objects, truth)
        check_bazin(objects, truth)
        check_random_walk(objects, truth)
        check_colours_and_classes(objects, truth)
    finally:
        if missing:
            cur.execute("DROP EXTENSION antares")
            if created_schema:
                cur.execute("DROP SCHEMA IF EXISTS antares")
        conn.close()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
