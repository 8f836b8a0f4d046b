#!/usr/bin/python3
"""Validate antares' gradient-boosted trees: against a numpy reference of
the same algorithm (gbt_reference.py), and in quality against XGBoost.

Run with Debian's interpreter (it has numpy, scikit-learn, psycopg2 and
python3-xgboost):

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_gbt.py [-v]

The database is reached through the usual PG* environment variables.  If
antares.gbt_predict does not exist yet, the script runs CREATE EXTENSION
antares and drops the extension again at the end; everything else it creates
lives in temporary tables.

Data: the shipped light curves' DSFP features as test_svm.py loads them (100
training objects, 3 classes by objid; 1000 SPCC test supernovae, Ia or not
by their files' sntype, with their host redshift zgal), and bench/forest.py's
problem (Gaussian clusters, 23 features, 4 classes;
benchlib.classification_problem), some with 10% of the values missing (NaN).

Check groups (one line each; -v lists every failure; exit status 1 if any
group failed):

  (a) the same trees as the reference: for each setting (binary and
      multiclass, missing values, subsample and colsample_bytree, duplicated
      values and a constant feature, max_bin below the distinct values, one
      and two threads), gbt_train's model (read from gbt_model_send) and
      gbt_reference.train on the same rows in gbt_train's order (features
      lexicographically, NaN last, then the label) have the same trees: node
      for node the same feature, float32 threshold, children and default
      direction, and leaf values within 1e-9 (float32 both: in practice
      equal); the same per-feature gain within 1e-9 relative and split
      counts exactly (gbt_importance); gbt_predict_proba within 1e-9 of the
      reference's probabilities on every training and test row, and
      gbt_predict their argmax;
  (b) quality against XGBoost 1.7's hist (xgboost.train, the same parameters,
      base_score 0.5): on bench/forest.py's problem (20,000 training and
      20,000 test rows, 100 rounds, depth 6, rate 0.3) test accuracy within
      0.015 and log loss within 2% of XGBoost's; on the SPCC supernovae (Ia
      against non-Ia, the DSFP features with -999 as missing plus zgal, the
      pipeline's parameters: 400 rounds, depth 4, rate 0.05, subsample 0.8,
      colsample_bytree 0.5) the out-of-fold ROC AUC over 5 stratified folds
      within 0.01 of XGBoost's;
  (c) cross-validation: cross_validate('gbt') per fold equals the accuracy
      of the reference's models on the same folds (antares.stratified_fold
      in objid order = scikit-learn's StratifiedKFold), and the mean
      one-vs-rest ROC AUC is within 0.03 of scikit-learn's
      HistGradientBoostingClassifier (100 iterations, depth 6, rate 0.3);
  (d) models whose checksum is right but whose trees are not (a child
      pointing backwards or past its tree, both children one node, a feature
      out of range, a NaN
      threshold, an infinite leaf, a group out of range, labels out of order,
      a tree count that is not rounds x groups, a negative gain, a payload
      cut short) are refused by the input function with SQLSTATE 22P02.
"""

import json
import re
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

import gbt_reference as ref  # noqa: E402

TOL = 1e-9
ACC_TOL = 0.015
LOGLOSS_RTOL = 0.02
SPCC_AUC_TOL = 0.01
AUC_TOL = 0.03


def training_order(X, y):
    """gbt_train's row order: features lexicographically (NaN after every
    number), then the label."""
    keys = [tuple((bool(np.isnan(v)), 0.0 if np.isnan(v) else float(v)) for v in row) + (int(lab),)
            for row, lab in zip(X, y)]
    return sorted(range(len(y)), key=lambda i: keys[i])


def reference_train(X, y, params):
    """The reference's model on the rows in gbt_train's order; labels mapped to 0..K-1."""
    classes = np.unique(y)
    order = training_order(X, y)
    return ref.train(X[order].astype(np.float32), np.searchsorted(classes, y[order]), len(classes), params), classes


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


def xgb_proba(X, y, Xeval, params):
    classes = np.unique(y)
    d = xgb.DMatrix(X.astype(np.float32), label=np.searchsorted(classes, y), missing=np.nan)
    booster = xgb.train(xgb_params(params, len(classes)), d, num_boost_round=params.get("n_trees", 100))
    p = booster.predict(xgb.DMatrix(Xeval.astype(np.float32), missing=np.nan))
    return np.column_stack([1 - p, p]) if len(classes) == 2 else p


def put_rows(cur, table, X, y=None):
    """Rows (i, x, y) into a temporary table, i from 0; NaN stays NaN."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (i int, x float8[], y int)")
    cur.execute(f"TRUNCATE {table}")
    execute_values(cur, f"INSERT INTO {table} VALUES %s",
                   [(i, [float(v) for v in row], None if y is None else int(y[i])) for i, row in enumerate(X)],
                   template="(%s, %s::float8[], %s)", page_size=1000)


def antares_proba(cur, text, table="gbt_eval_rows"):
    cur.execute(f"""SELECT antares.gbt_predict_proba(m, x), antares.gbt_predict(m, x)
                    FROM {table}, (SELECT %s::antares.gbt_model AS m) s ORDER BY i""", (text,))
    res = cur.fetchall()
    return np.array([r[0] for r in res]), np.array([r[1] for r in res])


def read_trees(raw):
    """The trees and gains of a gbt_model_send value (layout below)."""
    p = raw[20:]
    n_classes, n_trees, n_nodes = struct.unpack_from("<III", p, 0)
    tree_start_at = FIXED + 4 * n_classes
    start = struct.unpack_from(f"<{n_trees + 1}I", p, tree_start_at)
    group = struct.unpack_from(f"<{n_trees}I", p, tree_start_at + 4 * (n_trees + 1))
    nodes_at = tree_start_at + 4 * (2 * n_trees + 1)
    nodes = [struct.unpack_from("<ffiIII", p, nodes_at + NODE * i) for i in range(n_nodes)]
    gain_at = nodes_at + NODE * n_nodes
    gain = np.frombuffer(p[gain_at:], dtype="<f8")
    return [nodes[start[t]:start[t + 1]] for t in range(n_trees)], list(group), gain


def same_tree(ours, theirs):
    """'' when node for node equal, else the first difference."""
    if len(ours) != len(theirs):
        return f"{len(ours)} nodes against {len(theirs)}"
    for i, ((thr, leaf, feature, left, right, dl), r) in enumerate(zip(ours, theirs)):
        if feature != r.feature:
            return f"node {i}: feature {feature} against {r.feature}"
        if feature < 0:
            if abs(leaf - float(r.leaf)) > TOL:
                return f"node {i}: leaf {leaf!r} against {float(r.leaf)!r}"
        elif (np.float32(thr) != np.float32(r.threshold) or (left, right, dl) != (r.left, r.right, r.default_left)):
            return (f"node {i}: split ({thr!r}, {left}, {right}, {dl}) against "
                    f"({float(r.threshold)!r}, {r.left}, {r.right}, {r.default_left})")
    return ""


def check_reference(cur, settings):
    g = Group(f"(a) gbt_train's trees = the numpy reference's; probabilities to {TOL:g}")
    worst = 0.0
    rows = trees = 0
    for name, X, y, Xeval, params in settings:
        model, classes = reference_train(X, y, params)
        put_rows(cur, "gbt_train_rows", X, y)
        put_rows(cur, "gbt_eval_rows", Xeval)
        cur.execute("""SELECT m::text, antares.gbt_model_send(m)
                       FROM (SELECT antares.gbt_train(x, y, %s) AS m FROM gbt_train_rows) s""",
                    (json.dumps(params),))
        text, raw = cur.fetchone()
        ours, groups, gain = read_trees(bytes(raw))
        g.check(name, len(ours) == len(model.trees) and groups == model.groups,
                f"{len(ours)} trees against {len(model.trees)}, or other groups")
        for t, (a, b) in enumerate(zip(ours, model.trees)):
            diff = same_tree(a, b)
            g.check(f"{name} tree {t}", diff == "", diff)
        trees += len(ours)
        g.check(name, np.allclose(gain, model.gain, rtol=TOL, atol=0), f"gains {gain} against {model.gain}")
        got, pred = antares_proba(cur, text)
        want = ref.proba(model, Xeval)
        diff = float(np.max(np.abs(got - want)))
        worst = max(worst, diff)
        rows += len(Xeval)
        g.check(name, diff <= TOL, f"max |probability difference| {diff:.3g}")
        g.check(name, bool(np.all(pred == classes[np.argmax(got, axis=1)])), "gbt_predict is not the argmax")
        cur.execute("SELECT weight FROM antares.gbt_importance(%s::antares.gbt_model) ORDER BY feature", (text,))
        weight = [r[0] for r in cur.fetchall()]
        splits = np.zeros(X.shape[1], dtype=int)
        for tree in model.trees:
            for node in tree:
                if node.feature >= 0:
                    splits[node.feature] += 1
        g.check(name, weight == splits.tolist(), f"split counts {weight} against {splits.tolist()}")
    g.note(f"{len(settings)} models, {trees} trees, {rows} rows, max |probability difference| {worst:.3g}")
    g.report()


def log_loss(y, proba):
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-15, 1))))


def auc(y, score):
    """ROC AUC, ties counting one half (the pipeline's Mann-Whitney)."""
    pos, neg = score[y == 1], score[y == 0]
    return float(np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])))


def check_quality(cur, B, by, Bt, byt, spcc_X, spcc_y):
    g = Group(f"(b) quality against XGBoost: accuracy within {ACC_TOL}, log loss {LOGLOSS_RTOL:.0%}, "
              f"SPCC ROC AUC within {SPCC_AUC_TOL}")
    params = {"n_trees": 100, "max_depth": 6, "learning_rate": 0.3}
    put_rows(cur, "gbt_train_rows", B, by)
    put_rows(cur, "gbt_eval_rows", Bt)
    cur.execute("SELECT antares.gbt_train(x, y, %s)::text FROM gbt_train_rows", (json.dumps(params),))
    got, _ = antares_proba(cur, cur.fetchone()[0])
    want = xgb_proba(B, by, Bt, params)
    acc = (float(np.mean(np.argmax(got, 1) == byt)), float(np.mean(np.argmax(want, 1) == byt)))
    ll = (log_loss(byt, got), log_loss(byt, want))
    g.check("bench problem", abs(acc[0] - acc[1]) <= ACC_TOL, f"accuracy {acc[0]:.4f} against {acc[1]:.4f}")
    g.check("bench problem", abs(ll[0] - ll[1]) <= LOGLOSS_RTOL * ll[1], f"log loss {ll[0]:.4f} against {ll[1]:.4f}")
    g.note(f"bench problem {len(by)} rows: accuracy {acc[0]:.4f} (XGBoost {acc[1]:.4f}), "
           f"log loss {ll[0]:.4f} ({ll[1]:.4f})")
    spcc = {"n_trees": 400, "max_depth": 4, "learning_rate": 0.05, "subsample": 0.8, "colsample_bytree": 0.5}
    put_rows(cur, "gbt_spcc_rows", spcc_X, spcc_y)
    ours, theirs = np.zeros(len(spcc_y)), np.zeros(len(spcc_y))
    for k, (tr, te) in enumerate(StratifiedKFold(n_splits=5).split(spcc_X, spcc_y)):
        cur.execute("""SELECT antares.gbt_predict_proba(m, r.x) FROM gbt_spcc_rows r,
                         (SELECT antares.gbt_train(x, y, %s) AS m FROM gbt_spcc_rows WHERE i <> ALL(%s)) s
                       WHERE r.i = ANY(%s) ORDER BY r.i""", (json.dumps(spcc), te.tolist(), te.tolist()))
        ours[te] = [r[0][1] for r in cur.fetchall()]
        theirs[te] = xgb_proba(spcc_X[tr], spcc_y[tr], spcc_X[te], spcc)[:, 1]
    a, b = auc(spcc_y, ours), auc(spcc_y, theirs)
    g.check("SPCC Ia", abs(a - b) <= SPCC_AUC_TOL, f"ROC AUC {a:.4f} against {b:.4f}")
    g.note(f"SPCC Ia against non-Ia, {len(spcc_y)} supernovae: out-of-fold ROC AUC {a:.4f} (XGBoost {b:.4f})")
    g.report()


def check_cv(cur, X, y):
    g = Group(f"(c) cross_validate('gbt') = the reference per fold; ROC AUC within {AUC_TOL} of HistGradientBoosting")
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
        model, classes = reference_train(X[tr], y[tr], params)
        want = ref.proba(model, X[te])
        ref_accuracy = float(np.mean(classes[np.argmax(want, axis=1)] == y[te]))
        g.check(f"fold {k}", accuracy[k] == ref_accuracy, f"accuracy {accuracy[k]} vs the reference's {ref_accuracy}")
        ours.append(roc_auc_score(y[te], want, multi_class="ovr"))
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
    g = Group("(d) gbt models with a right checksum and wrong trees are refused")
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


def spcc_labels():
    """{objid: (is Ia, zgal)} of the SPCC test supernovae, from their files' headers."""
    out = {}
    for path in sorted((DATA / "test").glob("*.dat")):
        head = {}
        with open(path) as fh:
            for line in fh:
                if line.startswith("#") and ":" in line:
                    key, value = line[1:].split(":", 1)
                    head[key.strip()] = value.strip()
        out[int(re.search(r"(\d+)", path.name).group(1))] = (int(head["sntype"] == "Ia"), float(head["zgal"]))
    return out


def duplicated(X, seed):
    """Values rounded to one decimal, a constant feature, a feature of 3 values."""
    X = np.round(X, 1)
    X[:, 0] = 2.5
    X[:, 1] = np.random.default_rng(seed).integers(0, 3, len(X))
    return X


def main():
    objects = read_all()
    print(f"read {len(objects)} light curves from {DATA}")
    with database("antares.gbt_predict") as (_, cur):
        X, y, Xt, test_ids = common.load(cur, objects)
        print(f"training set {X.shape[0]} x {X.shape[1]}, test set {Xt.shape[0]} x {Xt.shape[1]}")
        B, by, Bt, _ = classification_problem(2000)
        Bm, Btm = with_missing(B, 0.1, 1), with_missing(Bt[:1000], 0.1, 2)
        D, Dt = duplicated(B[:600], 4), duplicated(Bt[:300], 5)
        dsfp_rows = np.vstack([X, Xt])
        check_reference(cur, [
            ("DSFP features, defaults", X, y, dsfp_rows, {}),
            ("DSFP features, shallow, subsample 0.8", X, y, dsfp_rows,
             {"n_trees": 40, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8, "seed": 7, "nthread": 1}),
            ("Gaussian clusters with 10% missing, 4 classes", Bm, by, np.vstack([Bm, Btm]),
             {"n_trees": 30, "max_depth": 5, "learning_rate": 0.2, "min_child_weight": 2, "lambda": 0.5,
              "max_bin": 64, "colsample_bytree": 0.7, "seed": 3, "nthread": 2}),
            ("Gaussian clusters with 10% missing, 2 classes", Bm, by % 2, np.vstack([Bm, Btm]),
             {"n_trees": 20, "subsample": 0.7, "seed": 11, "nthread": 1}),
            ("duplicated values, a constant feature, max_bin 16, 3 classes", D, by[:600] % 3, np.vstack([D, Dt]),
             {"n_trees": 15, "max_depth": 4, "max_bin": 16, "min_child_weight": 0, "lambda": 0,
              "subsample": 0.9, "colsample_bytree": 0.5, "seed": 5, "nthread": 2}),
        ])
        labels = spcc_labels()
        spcc_y = np.array([labels[i][0] for i in test_ids])
        spcc_X = np.column_stack([np.where(Xt == -999, np.nan, Xt), [labels[i][1] for i in test_ids]])
        B2, by2, Bt2, byt2 = classification_problem(20000)
        check_quality(cur, B2, by2, Bt2, byt2, spcc_X, spcc_y)
        check_cv(cur, B[:1000], by[:1000])
        check_forged(cur)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
