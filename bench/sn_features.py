#!/usr/bin/python3
"""Ia against non-Ia on the 1000 shipped test supernovae (data/dsfp/test, type
from the #sntype header): which features and which classifier reach a ROC AUC
of 0.98 in 5-fold stratified cross-validation.

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 bench/sn_features.py \
        [--features FILE] [--keep]

The features are computed in the database (schema antares_sn, dropped at the
end unless --keep; the extension is created if missing), per object of the
test set, from what antares has:

  seed     the main job's vector (bin/pipeline.sql, sn_features): the DSFP
           exercise's 23 (feature_vector of lc_features), n and weighted mean
           per band g r i z, the GP smoothing's peak flux and length scale per band
  stats    band_statistics per band (29 each)
  ls       lomb_scargle's period and power per band
  bazin    bazin_fit per band: amplitude, baseline, rise and fall time,
           reduced chi2, peak flux, and the peak time less the r band's
           (every number NULL unless converged)
  colour   from the GP (gp_smooth's hyperparameters, gp_predict): each band's
           flux at the r band's GP peak time T and at T - 10, T + 15, T + 30 d,
           over the r band's GP peak flux (colours at peak without logs, so
           that fluxes near 0 stay defined; for r itself its rise and
           decline), and each band's GP peak time less T
  epoch    g, i, z over r at the same epoch T - 10, T + 15, T + 30 d
  width    on each band's GP curve, the days from half the peak to the peak
           and from the peak to half the peak (NULL when the data do not get
           there); width2 the same at 0.8 and 0.2 of the peak
  zgal     the host redshift (#zgal)

Undefined features are NaN (xgboost and HistGradientBoosting take missing
values; the random forest, which does not, gets -999, as the main job); --fill
-999 gives every classifier -999 instead.  --features FILE saves the matrix
(numpy .npz) after computing it, or reads it if FILE exists.

Then 5-fold stratified cross-validation (StratifiedKFold, shuffled, seed 0 or
--cv-seed; or with --folds antares the main job's, antares.stratified_fold over
objid; the same folds for every row) of xgboost's XGBClassifier, scikit-learn's
HistGradientBoostingClassifier and RandomForestClassifier (fixed seeds) on the
feature sets of SUBSETS, each without and with zgal.  Prints, per row, the
mean of the five per-fold AUCs (what the main job prints: bin/pipeline.sql
averages its folds' AUCs) and the pooled AUC of all out-of-fold
probabilities.
"""

import argparse
import sys
import time
from pathlib import Path

from benchlib import close_bench, open_bench  # noqa: E402  (sets one BLAS thread before numpy)

import numpy as np  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from xgboost import XGBClassifier  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "antares_sn"
BANDS = "griz"
STATS = ("duration", "minimum_time_interval", "maximum_time_interval", "median", "mean_variance",
         "percent_amplitude", "inter_percentile_range_10", "median_buffer_range_percentage_10",
         "flux_percentile_ratio_mid20", "flux_percentile_ratio_mid35", "flux_percentile_ratio_mid50",
         "flux_percentile_ratio_mid65", "flux_percentile_ratio_mid80", "kurtosis",
         "anderson_darling_normal", "cusum", "eta", "eta_e", "excess_variance", "chi2", "stetson_k",
         "maximum_slope", "linear_trend", "linear_trend_sigma", "linear_trend_noise",
         "linear_fit_slope", "linear_fit_slope_sigma", "linear_fit_reduced_chi2", "observation_count")
BAZIN = ("amplitude", "baseline", "rise_time", "fall_time", "reduced_chi2", "peak_flux", "peak_dt")
OFFSETS = (0, -10, 15, 30)      # days from the r band's GP peak


# ---- the features, in SQL ----

def load(cur):
    """The test set's files parsed in the database: phot(objid, t, pb, flux,
    dflux), header(objid, is_ia, zgal), bands(objid, pb, t[], flux[], dflux[])."""
    cur.execute(f"CREATE SCHEMA {SCHEMA}")
    cur.execute(f"SET search_path = {SCHEMA}, antares, public")
    cur.execute("CREATE TABLE lcfile (objid bigint, content text)")
    for path in sorted((ROOT / "data" / "dsfp" / "test").glob("*.dat")):
        cur.execute("INSERT INTO lcfile VALUES (%s, %s)",
                    (int("".join(c for c in path.name if c.isdigit())), path.read_text()))
    cur.execute("CREATE TABLE phot AS SELECT f.objid, p.* FROM lcfile f, parse_lightcurve(f.content) p")
    cur.execute("""CREATE TABLE header AS
                   SELECT objid, (h ->> 'sntype' = 'Ia')::int AS is_ia, (h ->> 'zgal')::float8 AS zgal
                   FROM lcfile, lightcurve_header(content) h""")
    cur.execute("""CREATE TABLE bands AS
                   SELECT objid, pb, array_agg(t ORDER BY t) AS t, array_agg(flux ORDER BY t) AS flux,
                          array_agg(dflux ORDER BY t) AS dflux
                   FROM phot WHERE pb IN ('g', 'r', 'i', 'z') GROUP BY objid, pb""")
    cur.execute("""CREATE TABLE gp AS
                   SELECT objid, pb, (gp_smooth(t, flux, dflux)).* FROM phot
                   WHERE pb IN ('g', 'r', 'i', 'z') GROUP BY objid, pb""")


def per_band(cur, select, columns):
    """{objid: [values of `columns` for g, r, i, z]} from `select`, a query
    with columns objid, pb and then `columns` (NULL -> NaN)."""
    cur.execute(select)
    out = {}
    for row in cur.fetchall():
        objid, pb, vals = row[0], row[1], row[2:]
        arr = out.setdefault(objid, np.full((len(BANDS), len(columns)), np.nan))
        arr[BANDS.index(pb)] = [np.nan if v is None else float(v) for v in vals]
    return {k: v.T.ravel() for k, v in out.items()}


def features(cur):
    """(objids, is_ia, zgal, the main job's folds, {set name: (matrix, column names)})."""
    cur.execute("""SELECT objid, is_ia, zgal, stratified_fold(is_ia, 5) OVER (ORDER BY objid)
                   FROM header ORDER BY objid""")
    rows = cur.fetchall()
    objids = [r[0] for r in rows]
    y = np.array([r[1] for r in rows])
    zgal = np.array([r[2] for r in rows], dtype=float)
    fold = np.array([r[3] for r in rows])
    sets = {}

    # seed: the main job's vector, NULL kept (feature_vector's missing => NULL)
    cur.execute("""SELECT objid, feature_vector(f, 'griz', NULL)
                          || ARRAY[(f).g_n, (f).r_n, (f).i_n, (f).z_n,
                                   (f).g_mean, (f).r_mean, (f).i_mean, (f).z_mean]::float8[]
                   FROM (SELECT objid, lc_features(pb, flux, dflux) AS f FROM phot GROUP BY objid) s""")
    seed = {r[0]: [np.nan if v is None else v for v in r[1]] for r in cur.fetchall()}
    gpcols = per_band(cur, "SELECT objid, pb, peak_flux, length_scale FROM gp", ("peak_flux", "length_scale"))
    names = [f"dsfp{i}" for i in range(23)] + [f"{b}_n" for b in BANDS] + [f"{b}_mean" for b in BANDS] + \
        [f"gp_{c}_{b}" for c in ("peak_flux", "length_scale") for b in BANDS]
    sets["seed"] = (np.array([seed[o] + list(gpcols.get(o, [np.nan] * 8)) for o in objids], dtype=float),
                    names)

    stats = per_band(cur, "SELECT objid, pb, " + ", ".join(f"(s).{c}" for c in STATS) +
                     " FROM (SELECT objid, pb, band_statistics(t, flux, dflux) AS s FROM bands) x", STATS)
    sets["stats"] = (np.array([stats.get(o, [np.nan] * 4 * len(STATS)) for o in objids], dtype=float),
                     [f"{c}_{b}" for c in STATS for b in BANDS])

    ls = per_band(cur, """SELECT objid, pb, l.period, l.power
                          FROM bands, lomb_scargle(t, flux, dflux) l""", ("period", "power"))
    sets["ls"] = (np.array([ls.get(o, [np.nan] * 8) for o in objids], dtype=float),
                  [f"ls_{c}_{b}" for c in ("period", "power") for b in BANDS])

    # Bazin: the peak time relative to the r band's GP peak (absolute times say nothing).
    baz = per_band(cur, """SELECT b.objid, b.pb, z.amplitude, z.baseline, z.rise_time, z.fall_time,
                                  z.reduced_chi2, z.peak_flux, z.peak_time - r.peak_t
                           FROM bands b CROSS JOIN LATERAL bazin_fit(b.t, b.flux, b.dflux) z
                           LEFT JOIN gp r ON r.objid = b.objid AND r.pb = 'r'""", BAZIN)
    sets["bazin"] = (np.array([baz.get(o, [np.nan] * 4 * len(BAZIN)) for o in objids], dtype=float),
                     [f"bazin_{c}_{b}" for c in BAZIN for b in BANDS])

    # Colours at the r peak: every band's GP at T + offsets over the r band's GP at T.
    cur.execute(f"""CREATE TABLE colour AS
                    SELECT b.objid, b.pb, p.t - r.peak_t AS dt, p.mean
                    FROM bands b JOIN gp g USING (objid, pb) JOIN gp r ON r.objid = b.objid AND r.pb = 'r'
                    CROSS JOIN LATERAL gp_predict(b.t, b.flux, b.dflux,
                        ARRAY[{', '.join(f'r.peak_t + {d}' for d in OFFSETS)}]::float8[],
                        g.amplitude, g.length_scale) p""")
    cols = [f"f{d}" for d in OFFSETS]
    col = per_band(cur, f"""SELECT c.objid, c.pb, {', '.join(
                              f"max(c.mean) FILTER (WHERE round(c.dt) = {d}) / nullif(r.peak_flux, 0)"
                              for d in OFFSETS)}
                            FROM colour c JOIN gp r ON r.objid = c.objid AND r.pb = 'r'
                            GROUP BY c.objid, c.pb, r.peak_flux""", cols)
    dt = per_band(cur, """SELECT g.objid, g.pb, g.peak_t - r.peak_t
                          FROM gp g JOIN gp r ON r.objid = g.objid AND r.pb = 'r'""", ("peak_dt",))
    sets["colour"] = (np.array([list(col.get(o, [np.nan] * 16)) + list(dt.get(o, [np.nan] * 4))
                                for o in objids], dtype=float),
                      [f"gp_{c}_over_r_{b}" for c in cols for b in BANDS] + [f"gp_peak_dt_{b}" for b in BANDS])

    # Colours at the same epoch: each band over the r band at T + offsets.
    epoch = per_band(cur, f"""SELECT c.objid, c.pb, {', '.join(
                                f"max(c.mean) FILTER (WHERE round(c.dt) = {d}) / nullif(max(r.mean) FILTER (WHERE round(r.dt) = {d}), 0)"
                                for d in OFFSETS[1:])}
                              FROM colour c JOIN colour r ON r.objid = c.objid AND r.pb = 'r' AND r.dt = c.dt
                              WHERE c.pb <> 'r' GROUP BY c.objid, c.pb""", cols[1:])
    sets["epoch"] = (np.array([epoch.get(o, [np.nan] * 12) for o in objids], dtype=float),
                     [f"gp_{c}_over_r{c[1:]}_{b}" for c in cols[1:] for b in BANDS])

    # Widths: on each band's GP grid, days from the last point below half the
    # peak before it to the peak, and from the peak to the first below half
    # after it (NULL when the curve does not fall that far within the data).
    shape = per_band(cur, """SELECT objid, pb, peak_t - max(tt) FILTER (WHERE tt < peak_t AND m < peak_flux / 2),
                                    min(tt) FILTER (WHERE tt > peak_t AND m < peak_flux / 2) - peak_t
                             FROM gp, unnest(t, mean) AS u(tt, m)
                             GROUP BY objid, pb, peak_t, peak_flux""", ("rise", "fall"))
    sets["width"] = (np.array([shape.get(o, [np.nan] * 8) for o in objids], dtype=float),
                     [f"gp_half_{c}_{b}" for c in ("rise", "fall") for b in BANDS])
    shape = per_band(cur, """SELECT objid, pb, peak_t - max(tt) FILTER (WHERE tt < peak_t AND m < peak_flux * 0.8),
                                    min(tt) FILTER (WHERE tt > peak_t AND m < peak_flux * 0.8) - peak_t,
                                    peak_t - max(tt) FILTER (WHERE tt < peak_t AND m < peak_flux * 0.2),
                                    min(tt) FILTER (WHERE tt > peak_t AND m < peak_flux * 0.2) - peak_t
                             FROM gp, unnest(t, mean) AS u(tt, m)
                             GROUP BY objid, pb, peak_t, peak_flux""", ("rise80", "fall80", "rise20", "fall20"))
    sets["width2"] = (np.array([shape.get(o, [np.nan] * 16) for o in objids], dtype=float),
                      [f"gp_{c}_{b}" for c in ("rise80", "fall80", "rise20", "fall20") for b in BANDS])
    return objids, y, zgal, fold, sets


# ---- cross-validation ----

def classifiers(xgb, hgb):
    """name -> a function of (seed) making the classifier; modest settings,
    xgb and hgb (n_estimators or max_iter, max_depth or max_leaf_nodes,
    learning_rate) for the boosters."""
    return {
        "xgboost": lambda s: XGBClassifier(n_estimators=xgb[0], max_depth=xgb[1], learning_rate=xgb[2],
                                           subsample=0.8, colsample_bytree=0.5, random_state=s,
                                           n_jobs=2, eval_metric="logloss"),
        "hgb": lambda s: HistGradientBoostingClassifier(max_iter=hgb[0], max_leaf_nodes=hgb[1],
                                                        learning_rate=hgb[2], random_state=s),
        "rf": lambda s: RandomForestClassifier(n_estimators=500, max_features="sqrt",
                                               min_samples_leaf=1, random_state=s, n_jobs=2),
    }


def cv_auc(make, X, y, folds, fill_rf):
    """(mean of the per-fold AUCs, pooled AUC of the out-of-fold probabilities)."""
    p = np.zeros(len(y))
    aucs = []
    for k, (tr, te) in enumerate(folds):
        clf = make(k)
        Xtr, Xte = X[tr], X[te]
        if fill_rf:
            Xtr, Xte = np.nan_to_num(Xtr, nan=-999.0), np.nan_to_num(Xte, nan=-999.0)
        clf.fit(Xtr, y[tr])
        p[te] = clf.predict_proba(Xte)[:, 1]
        aucs.append(roc_auc_score(y[te], p[te]))
    return float(np.mean(aucs)), float(roc_auc_score(y, p))


SUBSETS = (("seed", ("seed",)), ("seed+stats", ("seed", "stats")), ("seed+ls", ("seed", "ls")),
           ("seed+bazin", ("seed", "bazin")), ("seed+colour", ("seed", "colour")),
           ("seed+width", ("seed", "width")), ("seed+colour+width", ("seed", "colour", "width")),
           ("seed+bazin+colour+width", ("seed", "bazin", "colour", "width")),
           ("seed+colour+width+epoch", ("seed", "colour", "width", "epoch")),
           ("seed+colour+width+width2", ("seed", "colour", "width", "width2")),
           ("seed+colour+width+epoch+width2", ("seed", "colour", "width", "epoch", "width2")),
           ("all", ("seed", "stats", "ls", "bazin", "colour", "width")))


def settings(text):
    n, depth, rate = text.split(",")
    return int(n), int(depth), float(rate)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--features", help="save the feature matrix here (.npz), or read it if it exists")
    ap.add_argument("--fill", type=float, default=None, help="fill undefined features with this value for every classifier (default NaN)")
    ap.add_argument("--classifiers", default="xgboost,hgb,rf")
    ap.add_argument("--subsets", default=",".join(s for s, _ in SUBSETS))
    ap.add_argument("--xgb", default="400,4,0.05", help="xgboost's n_estimators,max_depth,learning_rate")
    ap.add_argument("--hgb", default="300,15,0.05", help="HistGradientBoosting's max_iter,max_leaf_nodes,learning_rate")
    ap.add_argument("--folds", choices=("sklearn", "antares"), default="sklearn",
                    help="StratifiedKFold's folds, or the main job's (antares.stratified_fold over objid)")
    ap.add_argument("--cv-seed", type=int, default=0, help="StratifiedKFold's shuffle seed (default 0)")
    ap.add_argument("--keep", action="store_true", help="keep schema antares_sn")
    args = ap.parse_args()

    if args.features and Path(args.features).exists():
        z = np.load(args.features, allow_pickle=True)
        y, zgal, fold, sets = z["y"], z["zgal"], z["fold"], z["sets"].item()
    else:
        t0 = time.perf_counter()
        conn, cur, created = open_bench("antares.bazin_fit", SCHEMA)
        load(cur)
        objids, y, zgal, fold, sets = features(cur)
        close_bench(conn, cur, SCHEMA, created, args.keep)
        print(f"features of {len(y)} objects computed in the database in {time.perf_counter() - t0:.1f} s")
        if args.features:
            np.savez(args.features, y=y, zgal=zgal, fold=fold, sets=np.array(sets, dtype=object))
    print(f"{len(y)} supernovae, {int(y.sum())} Ia; features: " +
          ", ".join(f"{k} {v[0].shape[1]}" for k, v in sets.items()) + ", zgal 1")

    if args.folds == "antares":
        folds = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(5)]
    else:
        folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=args.cv_seed)
                     .split(np.zeros(len(y)), y))
    makers = classifiers(settings(args.xgb), settings(args.hgb))
    wanted = args.classifiers.split(",")
    print(f"{'features':<32} {'zgal':<5} {'n':>4} " +
          " ".join(f"{c + ' mean/pooled':>21}" for c in wanted))
    for name, parts in SUBSETS:
        if name not in args.subsets.split(","):
            continue
        base = np.hstack([sets[p][0] for p in parts])
        for with_z in (False, True):
            X = np.hstack([base, zgal[:, None]]) if with_z else base
            if args.fill is not None:
                X = np.nan_to_num(X, nan=args.fill)
            cells = []
            for c in wanted:
                m, pooled = cv_auc(makers[c], X, y, folds, fill_rf=(c == "rf"))
                cells.append(f"{m:.4f} / {pooled:.4f}")
            print(f"{name:<32} {'yes' if with_z else 'no':<5} {X.shape[1]:>4} " +
                  " ".join(f"{c:>21}" for c in cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
