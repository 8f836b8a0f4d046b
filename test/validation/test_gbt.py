#!/usr/bin/python3
"""Validate antares' gradient-boosted trees against XGBoost and scikit-learn.

Run with Debian's interpreter (it has numpy, scikit-learn, psycopg2 and
python3-xgboost):

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_gbt.py [-v]

The database is reached through the usual PG* environment variables.  If
antares.gbt_predict does not exist yet, the script runs CREATE EXTENSION
antares and drops the extension again at the end; everything else it creates
lives in temporary tables.

Data: the shipped light curves' DSFP features as test_svm.py loads them (100
training objects, 3 classes by objid; 1000 SPCC test supernovae), and
bench/forest.py's problem (Gaussian clusters, 23 features, 4 classes;
benchlib.classification_problem) with 10% of the values missing (NaN).

Check groups (one line each; -v lists every failure; exit status 1 if any
group failed):

  (a) probabilities equal XGBoost's: for each setting, the same rows in the
      order gbt_train trains on (its content order: features
      lexicographically, NaN last, then the label), the same parameters and
      one thread in XGBoost (antares: the default 2 threads in the first
      setting, 1 in the others; hist grows the same trees), xgboost.train (Debian's python3-xgboost 1.7) grows a
      Booster; its predict() on every training and test row (NaN = missing)
      and gbt_predict_proba agree to 1e-6 absolute (XGBoost sums the leaves
      and computes the sigmoid/softmax in float32, antares in double: the
      differences measured are ~1e-7), gbt_predict is the first largest
      probability's label, and gbt_importance equals Booster.get_score:
      'weight' exactly, 'gain' to 1e-5 relative (XGBoost sums float32 gains);
  (b) cross-validation: 5 stratified folds (antares.stratified_fold in objid
      order, scikit-learn's StratifiedKFold on the same order give the same
      folds): cross_validate('gbt') per-fold accuracy equals the accuracy of
      the same folds' XGBoost models exactly; and the mean one-vs-rest ROC
      AUC of gbt_predict_proba on the test folds is within 0.03 of scikit-
      learn's HistGradientBoostingClassifier (100 iterations, depth 6,
      learning rate 0.3, no early stopping) on the same folds;
  (c) models whose checksum is right but whose trees are not (a child
      pointing backwards or past its tree, both children one node, a feature
      out of range, a NaN
      threshold, an infinite leaf, a group out of range, labels out of order,
      a tree count that is not rounds x groups, a negative gain, a payload
      cut short) are refused by the input function with SQLSTATE 22P02.
"""

import json
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import xgboost as xgb
from psycopg2.extras import execute_values
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import test_svm as common  # noqa: E402  (load: one copy)
from benchlib import classification_problem  # noqa: E402
from checks import Group, check_accepted, check_refused, database, seal, summary  # noqa: E402
from dsfp import DATA, read_all  # noqa: E402

PROBA_TOL = 1e-6
GAIN_RTOL = 1e-5
AUC_TOL = 0.03


def training_order(X, y):
    """gbt_train's row order: features lexicographically (NaN after every
    number), then the label."""
    keys = [tuple((bool(np.isnan(v)), 0.0 if np.isnan(v) else float(v)) for v in row) + (int(lab),)
            for row, lab in zip(X, y)]
    return sorted(range(len(y)), key=lambda i: keys[i])


def xgb_params(params, n_classes):
    p = {"tree_method": "hist", "nthread": 1, "seed": params.get("seed", 0),
         "max_depth": params.get("max_depth", 6), "eta": params.get("learning_rate", 0.3),
         "min_child_weight": params.get("min_child_weight", 1), "subsample": params.get("subsample", 1),
         "colsample_bytree": params.get("colsample_bytree", 1), "lambda": params.get("lambda", 1),
         "max_bin": params.get("max_bin", 256), "verbosity": 0}
    if n_classes == 2:
        p["objective"] = "binary:logistic"
    else:
        p["objective"] = "multi:softprob"
        p["num_class"] = n_classes
    return p


def xgb_train(X, y, params):
    """XGBoost's model on the rows in gbt_train's order; labels mapped to 0..K-1."""
    classes = np.unique(y)
    order = training_order(X, y)
    d = xgb.DMatrix(X[order].astype(np.float32), label=np.searchsorted(classes, y[order]), missing=np.nan)
    return xgb.train(xgb_params(params, len(classes)), d, num_boost_round=params.get("n_trees", 100)), classes


def xgb_proba(booster, X, n_classes):
    p = booster.predict(xgb.DMatrix(X.astype(np.float32), missing=np.nan))
    return np.column_stack([1 - p, p]) if n_classes == 2 else p


def put_rows(cur, table, X, y=None):
    """Rows (i, x, y) into a temporary table, i from 0; NaN stays NaN."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (i int, x float8[], y int)")
    cur.execute(f"TRUNCATE {table}")
    execute_values(cur, f"INSERT INTO {table} VALUES %s",
                   [(i, [float(v) for v in row], None if y is None else int(y[i])) for i, row in enumerate(X)],
                   template="(%s, %s::float8[], %s)", page_size=1000)


def check_exact(cur, settings):
    g = Group(f"(a) gbt_predict_proba = XGBoost's predict, to {PROBA_TOL:g}; importances = get_score")
    worst = 0.0
    rows = 0
    for name, X, y, Xeval, params in settings:
        booster, classes = xgb_train(X, y, params)
        put_rows(cur, "gbt_train_rows", X, y)
        put_rows(cur, "gbt_eval_rows", Xeval)
        cur.execute("SELECT antares.gbt_train(x, y, %s)::text FROM gbt_train_rows", (json.dumps(params),))
        text = cur.fetchone()[0]
        cur.execute("""SELECT antares.gbt_predict_proba(m, x), antares.gbt_predict(m, x)
                       FROM gbt_eval_rows, (SELECT %s::antares.gbt_model AS m) s ORDER BY i""", (text,))
        res = cur.fetchall()
        got = np.array([r[0] for r in res])
        pred = np.array([r[1] for r in res])
        want = xgb_proba(booster, Xeval, len(classes))
        diff = float(np.max(np.abs(got - want)))
        worst = max(worst, diff)
        rows += len(Xeval)
        g.check(name, got.shape == want.shape, f"shape {got.shape} vs {want.shape}")
        g.check(name, diff <= PROBA_TOL, f"max |probability difference| {diff:.3g}")
        g.check(name, bool(np.all(pred == classes[np.argmax(got, axis=1)])), "gbt_predict is not the argmax")
        cur.execute("SELECT feature, gain, weight FROM antares.gbt_importance(%s::antares.gbt_model) ORDER BY feature",
                    (text,))
        imp = cur.fetchall()
        weight = booster.get_score(importance_type="weight")
        gain = booster.get_score(importance_type="gain")
        for feature, our_gain, our_weight in imp:
            key = f"f{feature - 1}"
            g.check(f"{name} {key}", our_weight == int(weight.get(key, 0)),
                    f"weight {our_weight} vs {weight.get(key, 0)}")
            theirs = gain.get(key, 0.0)
            g.check(f"{name} {key}", abs(our_gain - theirs) <= GAIN_RTOL * max(abs(theirs), 1e-12),
                    f"gain {our_gain} vs {theirs}")
    g.note(f"{len(settings)} models, {rows} rows, max |difference| {worst:.3g}")
    g.report()


def check_cv(cur, X, y):
    g = Group(f"(b) cross_validate('gbt') = XGBoost per fold; ROC AUC within {AUC_TOL} of HistGradientBoosting")
    params = {"n_trees": 30, "max_depth": 4, "nthread": 1}
    put_rows(cur, "gbt_cv_rows", X, y)
    cur.execute("SELECT accuracy FROM antares.cross_validate('gbt_cv_rows', 'x', 'y', 5, 'gbt', %s, 'i') ORDER BY fold",
                (json.dumps(params),))
    accuracy = [r[0] for r in cur.fetchall()]
    cur.execute("""SELECT i, antares.stratified_fold(y, 5) OVER (ORDER BY i) FROM gbt_cv_rows ORDER BY i""")
    folds = np.array([r[1] for r in cur.fetchall()])
    ours, theirs = [], []
    for k, (tr, te) in enumerate(StratifiedKFold(n_splits=5).split(X, y)):
        g.check(f"fold {k}", set(np.where(folds == k)[0]) == set(te), "folds differ from StratifiedKFold's")
        booster, classes = xgb_train(X[tr], y[tr], params)
        want = xgb_proba(booster, X[te], len(classes))
        xgb_accuracy = float(np.mean(classes[np.argmax(want, axis=1)] == y[te]))
        g.check(f"fold {k}", accuracy[k] == xgb_accuracy, f"accuracy {accuracy[k]} vs XGBoost's {xgb_accuracy}")
        cur.execute("""SELECT antares.gbt_predict_proba(m, r.x) FROM gbt_cv_rows r,
                         (SELECT antares.gbt_train(x, y, %s) AS m FROM gbt_cv_rows
                          WHERE i <> ALL(%s)) s
                       WHERE r.i = ANY(%s) ORDER BY r.i""", (json.dumps(params), te.tolist(), te.tolist()))
        proba = np.array([r[0] for r in cur.fetchall()])
        ours.append(roc_auc_score(y[te], proba, multi_class="ovr"))
        hgb = HistGradientBoostingClassifier(max_iter=100, max_depth=6, learning_rate=0.3, early_stopping=False,
                                             random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hgb.fit(X[tr], y[tr])
        theirs.append(roc_auc_score(y[te], hgb.predict_proba(X[te]), multi_class="ovr"))
    a, b = float(np.mean(ours)), float(np.mean(theirs))
    g.check("mean ROC AUC", abs(a - b) <= AUC_TOL, f"antares {a:.4f}, HistGradientBoosting {b:.4f}")
    g.note(f"mean ROC AUC antares {a:.4f}, HistGradientBoosting {b:.4f}; accuracy {np.mean(accuracy):.4f}")
    g.report()


# ---- the binary layout (src/model.h, src/gbt_sql.c) ----

FIXED = 88      # n_classes, n_trees, n_nodes, n_train, base_margin, the parameters
NODE = 24       # f32 threshold, f32 leaf, i32 feature, u32 left, u32 right, u32 default_left


def check_forged(cur):
    g = Group("(c) gbt models with a right checksum and wrong trees are refused")
    cur.execute("""SELECT antares.gbt_model_send(antares.gbt_train(features, label, '{"n_trees": 3, "max_depth": 2}'))
                   FROM svm_training""")
    raw = bytes(cur.fetchone()[0])
    p = raw[20:]
    n_classes, n_trees, n_nodes = struct.unpack_from("<III", p, 0)
    tree_start_at = FIXED + 4 * n_classes
    group_at = tree_start_at + 4 * (n_trees + 1)
    nodes_at = group_at + 4 * n_trees
    gain_at = nodes_at + NODE * n_nodes
    root = [struct.unpack_from("<ffiIII", p, nodes_at + NODE * i) for i in range(n_nodes)]
    split = next(i for i, n in enumerate(root) if n[2] >= 0)
    leaf = next(i for i, n in enumerate(root) if n[2] < 0)

    def put(at, fmt, *values):
        return p[:at] + struct.pack(fmt, *values) + p[at + struct.calcsize(fmt):]

    def node(i, offset, fmt, value):
        return put(nodes_at + NODE * i + offset, fmt, value)

    cases = {
        "a left child pointing back to its parent": node(split, 12, "<I", split),
        "a right child before its parent": node(split + 1 if root[split + 1][2] >= 0 else split, 16, "<I", 0),
        "a child past its tree": node(split, 16, "<I", 10 ** 6),
        "both children one node": node(split, 16, "<I", root[split][3]),
        "a feature = n_features": node(split, 8, "<i", 23),
        "a negative feature that is not a leaf": node(split, 8, "<i", -7),
        "a NaN threshold": node(split, 0, "<f", float("nan")),
        "an infinite leaf": node(leaf, 4, "<f", float("inf")),
        "a leaf with a child": node(leaf, 12, "<I", 1),
        "a default direction of 2": node(split, 20, "<I", 2),
        "a tree's group out of range": put(group_at, "<I", n_classes),
        "labels out of order": put(FIXED, "<ii", 1, 0),
        "a tree count that is not rounds x groups": put(24, "<i", 4),
        "a first tree not at 0": put(tree_start_at, "<I", 1),
        "a negative gain": put(gain_at, "<d", -1.0),
        "a NaN base margin": put(16, "<d", float("nan")),
        "a learning rate of 0": put(40, "<d", 0.0),
        "one node more than stored": put(8, "<I", n_nodes + 1),
        "a payload cut short": p[:-8],
    }
    for what, payload in cases.items():
        check_refused(g, cur, what, "gbt_model", seal(raw[:12] + struct.pack("<I", len(payload)), payload))
    check_accepted(g, cur, "the untouched model", "gbt_model", seal(raw[:16], p))
    g.report()


def with_missing(X, fraction, seed):
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < fraction] = np.nan
    return X


def main():
    objects = read_all()
    print(f"read {len(objects)} light curves from {DATA}")
    with database("antares.gbt_predict") as (_, cur):
        X, y, Xt, _ = common.load(cur, objects)
        print(f"training set {X.shape[0]} x {X.shape[1]}, test set {Xt.shape[0]} x {Xt.shape[1]}")
        B, by, Bt, _ = classification_problem(2000)
        Bm, Btm = with_missing(B, 0.1, 1), with_missing(Bt[:1000], 0.1, 2)
        dsfp_rows = np.vstack([X, Xt])
        check_exact(cur, [
            ("DSFP features, defaults", X, y, dsfp_rows, {}),
            ("DSFP features, shallow, subsample 0.8", X, y, dsfp_rows,
             {"n_trees": 40, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8, "seed": 7, "nthread": 1}),
            ("Gaussian clusters with 10% missing, 4 classes", Bm, by, np.vstack([Bm, Btm]),
             {"n_trees": 50, "max_depth": 5, "learning_rate": 0.2, "min_child_weight": 2, "lambda": 0.5,
              "max_bin": 64, "colsample_bytree": 0.7, "seed": 3, "nthread": 1}),
            ("Gaussian clusters with 10% missing, 2 classes", Bm, by % 2, np.vstack([Bm, Btm]),
             {"n_trees": 30, "subsample": 0.7, "seed": 11, "nthread": 1}),
        ])
        check_cv(cur, B, by)
        check_forged(cur)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
