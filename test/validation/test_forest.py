#!/usr/bin/python3
"""Validate antares' isolation forest and random forest against scikit-learn.

Run with Debian's interpreter (it has numpy, scipy, scikit-learn and psycopg2):

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_forest.py [-v]

The database is reached through the usual PG* environment variables.  If
antares.rf_predict does not exist yet, the script runs CREATE EXTENSION
antares and drops the extension again at the end; everything else it creates
lives in temporary tables.

Features and labels are built as test_svm.py builds them (its `load`): the
shipped light curves, read with a plain split and sent with COPY, the DSFP exercise's
23 features (antares.feature_vector, -999 where undefined), training labels by
objid (1-20 -> 0, 21-60 -> 1, 61-100 -> 2).

Check groups (one line each; -v lists every failure; exit status 1 if any
group failed):

  (a) isolation-forest scores are exact: models trained on the test set's
      features are read from their text form here (base64, then the layout of
      src/forest_sql.c), every test object and 500 random rows are walked
      through those trees in Python, and scikit-learn's formula
      (IsolationForest._compute_score_samples with its _average_path_length)
      gives each score; antares' iforest_score agrees to 1e-12 and
      iforest_decision is score + 0.5;
  (b) random-forest probabilities are exact the same way: rf_predict_proba
      equals the mean of the decoded leaves' class fractions to 1e-12, and
      rf_predict its first largest class;
  (c) statistical agreement: on the test set's features, 1000 trees each,
      the Spearman rank correlation between antares' and scikit-learn's
      IsolationForest scores is >= 0.95;
  (d) rf: mean 5-fold stratified CV accuracy on the training set (rows by
      objid, the same folds for both), averaged over seeds 1..5, within 3
      percentage points of RandomForestClassifier(n_estimators=100)'s over
      random_state 1..5;
  (e) models whose checksum is right but whose trees are not (a child
      pointing backwards, a feature out of range, a NaN threshold, leaf counts
      or probabilities that do not add up, sizes that do not match) are
      refused by the input functions with SQLSTATE 22P02.
"""

import base64
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
from psycopg2.extras import execute_values
from scipy.stats import spearmanr
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.ensemble._iforest import _average_path_length
from sklearn.model_selection import cross_val_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_svm as common  # noqa: E402  (load: one copy)
from checks import Group, check_accepted, check_refused, database, seal, summary  # noqa: E402
from dsfp import DATA, read_all  # noqa: E402

SCORE_TOL = 1e-12
SPEARMAN_MIN = 0.95
CV_TOL = 0.03
SEEDS = (1, 2, 3, 4, 5)


# ---- the binary layout (src/model.h, src/forest_sql.c) ----

HEADER = struct.Struct("<4sHHIII")     # magic, version, kind, dim, payload length, crc
NODE = np.dtype([("threshold", "<f8"), ("feature", "<i4"), ("payload", "<u4")])


def model_bytes(text, prefix):
    assert text.startswith(prefix + "/1:"), text[:20]
    return base64.b64decode(text[len(prefix) + 3:])


def parse_iforest(raw):
    magic, version, kind, dim, length, _ = HEADER.unpack_from(raw, 0)
    assert magic == b"ANTM" and version == 1 and kind == 2 and length == len(raw) - 20
    p = raw[20:]
    n_trees, max_samples, n_nodes, n_train, seed = struct.unpack_from("<IIIIq", p, 0)
    at = 24
    tree_start = np.frombuffer(p, "<u4", n_trees + 1, at)
    at += 4 * (n_trees + 1)
    nodes = np.frombuffer(p, NODE, n_nodes, at)
    assert at + NODE.itemsize * n_nodes == len(p)
    return dict(dim=dim, n_trees=n_trees, max_samples=max_samples, n_train=n_train,
                seed=seed, tree_start=tree_start, nodes=nodes)


def parse_rf(raw):
    magic, version, kind, dim, length, _ = HEADER.unpack_from(raw, 0)
    assert magic == b"ANTM" and version == 1 and kind == 3 and length == len(raw) - 20
    p = raw[20:]
    (n_classes, n_trees, n_nodes, n_leaves, max_features, max_depth, min_samples_leaf,
     _pad, seed) = struct.unpack_from("<IIIIIiIIq", p, 0)
    at = 40
    classes = np.frombuffer(p, "<i4", n_classes, at)
    at += 8 * n_classes                           # classes, then rows per class
    tree_start = np.frombuffer(p, "<u4", n_trees + 1, at)
    at += 4 * (n_trees + 1)
    nodes = np.frombuffer(p, NODE, n_nodes, at)
    at += NODE.itemsize * n_nodes
    proba = np.frombuffer(p, "<f8", n_leaves * n_classes, at).reshape(n_leaves, n_classes)
    at += 8 * n_leaves * n_classes
    importances = np.frombuffer(p, "<f8", dim, at)
    assert at + 8 * dim == len(p)
    return dict(dim=dim, classes=classes, tree_start=tree_start, nodes=nodes, proba=proba,
                importances=importances, n_trees=n_trees)


def leaves(model, X):
    """(leaf index within its tree's nodes, depth) for every tree and row: two arrays n_trees x n_rows."""
    n_trees = len(model["tree_start"]) - 1
    leaf = np.zeros((n_trees, len(X)), dtype=np.int64)
    depth = np.zeros((n_trees, len(X)), dtype=np.int64)
    for t in range(n_trees):
        nodes = model["nodes"][model["tree_start"][t]:model["tree_start"][t + 1]]
        node = np.zeros(len(X), dtype=np.int64)
        for _ in range(len(nodes)):
            feat = nodes["feature"][node]
            inner = feat >= 0
            if not inner.any():
                break
            rows = np.nonzero(inner)[0]
            go_left = X[rows, feat[rows]] <= nodes["threshold"][node[rows]]
            node[rows] = np.where(go_left, node[rows] + 1, nodes["payload"][node[rows]])
            depth[t, rows] += 1
        leaf[t] = model["tree_start"][t] + node
    return leaf, depth


def put_rows(cur, X):
    """The rows of X into the temporary table forest_rows (i, x), i from 0."""
    cur.execute("CREATE TEMP TABLE IF NOT EXISTS forest_rows (i int, x float8[])")
    cur.execute("TRUNCATE forest_rows")
    execute_values(cur, "INSERT INTO forest_rows VALUES %s",
                   [(i, [float(v) for v in row]) for i, row in enumerate(X)], page_size=1000)


def sklearn_scores(model, X):
    """score_samples by scikit-learn's formula from the decoded trees."""
    leaf, depth = leaves(model, X)
    n_samples_leaf = model["nodes"]["payload"][leaf].astype(np.float64)
    depths = np.zeros(len(X), order="f")
    for t in range(model["n_trees"]):
        # decision_path counts the nodes on the path: the leaf's depth + 1
        depths += (depth[t] + 1) + _average_path_length(n_samples_leaf[t]) - 1.0
    denominator = model["n_trees"] * _average_path_length([model["max_samples"]])
    return -(2 ** (-depths / denominator))


def check_iforest_exact(cur, Xt):
    g = Group("(a) iforest_score = scikit-learn's formula on the decoded trees, to 1e-12")
    rng = np.random.default_rng(7)
    lo, hi = Xt.min(axis=0), Xt.max(axis=0)
    extra = rng.uniform(lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo), size=(500, Xt.shape[1]))
    X = np.vstack([Xt, extra])
    worst = 0.0
    for n_trees, max_samples, seed in ((100, None, 0), (37, 64, 11), (200, 1000, -3)):
        cur.execute("""SELECT antares.iforest_train(features, %s, %s, %s)::text
                       FROM svm_set WHERE src = 'test'""", (n_trees, max_samples, seed))
        text = cur.fetchone()[0]
        model = parse_iforest(model_bytes(text, "iforest"))
        where = f"n_trees={n_trees} max_samples={max_samples} seed={seed}"
        g.check(where, model["n_trees"] == n_trees and model["seed"] == seed, "header fields")
        g.check(where, model["max_samples"] == min(max_samples or 256, len(Xt)), f"max_samples {model['max_samples']}")
        want = sklearn_scores(model, X)
        put_rows(cur, X)
        cur.execute("""SELECT antares.iforest_score(m, x), antares.iforest_decision(m, x)
                       FROM forest_rows, (SELECT %s::antares.iforest_model AS m) s ORDER BY i""", (text,))
        got = np.array(cur.fetchall())
        diff = float(np.max(np.abs(got[:, 0] - want)))
        worst = max(worst, diff)
        g.check(where, diff <= SCORE_TOL, f"max |score difference| {diff:.3g}")
        g.check(where, bool(np.all(got[:, 1] == got[:, 0] + 0.5)), "decision != score + 0.5")
        leaf_rows = model["nodes"]["payload"][model["nodes"]["feature"] < 0]
        g.check(where, int(leaf_rows.sum()) == n_trees * model["max_samples"], "leaf counts")
    g.note(f"{len(X)} rows x 3 forests, max |difference| {worst:.3g}")
    g.report()


def check_rf_exact(cur, X, y, Xt):
    g = Group("(b) rf_predict_proba = mean leaf fractions of the decoded trees, to 1e-12")
    cur.execute("SELECT antares.rf_train(features, label, 100, NULL, NULL, NULL, 9)::text FROM svm_training")
    text = cur.fetchone()[0]
    model = parse_rf(model_bytes(text, "rf"))
    rows = np.vstack([X, Xt])
    leaf, _ = leaves(model, rows)
    want = model["proba"][model["nodes"]["payload"][leaf]].mean(axis=0)
    put_rows(cur, rows)
    cur.execute("""SELECT antares.rf_predict_proba(m, x), antares.rf_predict(m, x), antares.rf_info(m)
                   FROM forest_rows, (SELECT %s::antares.rf_model AS m) s ORDER BY i""", (text,))
    res = cur.fetchall()
    got = np.array([r[0] for r in res])
    pred = np.array([r[1] for r in res])
    info = res[0][2]
    diff = float(np.max(np.abs(got - want)))
    g.check("proba", diff <= SCORE_TOL, f"max |difference| {diff:.3g}")
    g.check("predict", bool(np.all(pred == model["classes"][np.argmax(got, axis=1)])), "not the first largest")
    g.check("classes", info["classes"] == list(model["classes"]) == [0, 1, 2], str(info["classes"]))
    g.check("importances", np.allclose(info["feature_importances"], model["importances"], rtol=0, atol=1e-15),
            "rf_info's importances differ from the stored ones")
    g.note(f"{len(rows)} rows, max |difference| {diff:.3g}")
    g.report()


def check_spearman(cur, Xt):
    g = Group("(c) iforest vs scikit-learn's IsolationForest, 1000 trees: Spearman >= 0.95")
    cur.execute("""SELECT antares.iforest_score(m, s.features) FROM svm_set s,
                   (SELECT antares.iforest_train(features, 1000, NULL, 1) AS m FROM svm_set WHERE src = 'test') mm
                   WHERE s.src = 'test' ORDER BY s.objid""")
    ours = np.array([r[0] for r in cur.fetchall()])
    theirs = IsolationForest(n_estimators=1000, random_state=1).fit(Xt).score_samples(Xt)
    rho = float(spearmanr(ours, theirs).correlation)
    g.check("spearman", rho >= SPEARMAN_MIN, f"{rho:.4f} < {SPEARMAN_MIN}")
    top_ours = set(np.argsort(ours)[:10])
    top_theirs = set(np.argsort(theirs)[:10])
    g.note(f"Spearman {rho:.4f} on {len(ours)} objects; {len(top_ours & top_theirs)} of the 10 most anomalous shared")
    g.report()


def check_rf_cv(cur, X, y):
    g = Group("(d) rf 5-fold CV accuracy within 3 points of RandomForestClassifier(100), 5 seeds")
    ours, theirs = [], []
    for seed in SEEDS:
        cur.execute("""SELECT avg(accuracy) FROM antares.cross_validate('svm_training', 'features', 'label', 5,
                       'rf', %s, 'objid')""", (f'{{"n_trees": 100, "seed": {seed}}}',))
        ours.append(float(cur.fetchone()[0]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.append(float(np.mean(cross_val_score(
                RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1), X, y, cv=5))))
    a, b = float(np.mean(ours)), float(np.mean(theirs))
    g.check("mean accuracy", abs(a - b) <= CV_TOL, f"antares {a:.4f}, scikit-learn {b:.4f}")
    g.note(f"antares {a:.4f} ({' '.join(f'{v:.3f}' for v in ours)}), "
           f"scikit-learn {b:.4f} ({' '.join(f'{v:.3f}' for v in theirs)})")
    g.report()


def check_forged(cur):
    g = Group("(e) forest models with a right checksum and wrong trees are refused")
    cur.execute("""SELECT antares.iforest_model_send(antares.iforest_train(features, 5, 16, 1))
                   FROM svm_set WHERE src = 'test'""")
    iraw = bytes(cur.fetchone()[0])
    cur.execute("SELECT antares.rf_model_send(antares.rf_train(features, label, 5, NULL, NULL, NULL, 1)) FROM svm_training")
    rraw = bytes(cur.fetchone()[0])

    def forge(raw, payload):
        header = raw[:12] + struct.pack("<I", len(payload))
        return seal(header, payload)

    def node_at(p, nodes_at, i, field, value):
        off = nodes_at + 16 * i + {"threshold": 0, "feature": 8, "payload": 12}[field]
        fmt = {"threshold": "<d", "feature": "<i", "payload": "<I"}[field]
        return p[:off] + struct.pack(fmt, value) + p[off + struct.calcsize(fmt):]

    ip = iraw[20:]
    i_trees = struct.unpack_from("<I", ip, 0)[0]
    i_nodes_at = 24 + 4 * (i_trees + 1)
    rp = rraw[20:]
    r_classes, r_trees, r_nodes, r_leaves = struct.unpack_from("<IIII", rp, 0)
    r_nodes_at = 40 + 8 * r_classes + 4 * (r_trees + 1)
    r_proba_at = r_nodes_at + 16 * r_nodes
    cases = {
        ("iforest", "a right child pointing back to the root"): node_at(ip, i_nodes_at, 0, "payload", 0),
        ("iforest", "a right child past the tree"): node_at(ip, i_nodes_at, 0, "payload", 10 ** 6),
        ("iforest", "a feature out of range"): node_at(ip, i_nodes_at, 0, "feature", 23),
        ("iforest", "a negative feature that is not a leaf"): node_at(ip, i_nodes_at, 0, "feature", -7),
        ("iforest", "a NaN threshold"): node_at(ip, i_nodes_at, 0, "threshold", float("nan")),
        ("iforest", "max_samples 1"): ip[:4] + struct.pack("<I", 1) + ip[8:],
        ("iforest", "one tree more than stored"): struct.pack("<I", i_trees + 1) + ip[4:],
        ("iforest", "a payload cut short"): ip[:-16],
        ("rf", "a right child pointing backwards"): node_at(rp, r_nodes_at, 1, "payload", 0),
        ("rf", "a feature out of range"): node_at(rp, r_nodes_at, 0, "feature", 1000),
        ("rf", "probabilities that do not sum to 1"): rp[:r_proba_at] + struct.pack("<d", 0.25) + rp[r_proba_at + 8:],
        ("rf", "a negative probability"): rp[:r_proba_at] + struct.pack("<dd", -0.5, 1.5) + rp[r_proba_at + 16:],
        ("rf", "one class"): struct.pack("<I", 1) + rp[4:],
        ("rf", "one leaf fewer than stored"): rp[:12] + struct.pack("<I", r_leaves - 1) + rp[16:],
        ("rf", "a payload cut short"): rp[:-8],
    }
    for (kind, what), payload in cases.items():
        check_refused(g, cur, f"{kind}: {what}", f"{kind}_model",
                      forge(iraw if kind == "iforest" else rraw, payload))
    for kind, raw in (("iforest", iraw), ("rf", rraw)):
        check_accepted(g, cur, f"{kind}: the untouched model", f"{kind}_model", forge(raw, raw[20:]))
    g.report()


def main():
    objects = read_all()
    print(f"read {len(objects)} light curves from {DATA}")
    with database("antares.rf_predict") as (_, cur):
        X, y, Xt, _ = common.load(cur, objects)
        print(f"training set {X.shape[0]} x {X.shape[1]}, test set {Xt.shape[0]} x {Xt.shape[1]}")
        check_iforest_exact(cur, Xt)
        check_rf_exact(cur, X, y, Xt)
        check_spearman(cur, Xt)
        check_rf_cv(cur, X, y)
        check_forged(cur)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
