#!/usr/bin/python3
"""Validate antares' SVM and stratified folds against scikit-learn.

Run with Debian's interpreter (it has numpy, scikit-learn and psycopg2):

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_svm.py [-v]

The database is reached through the usual PG* environment variables.  If
antares.svm_train does not exist yet, the script runs CREATE EXTENSION antares
and drops the extension again at the end; everything else it creates lives in
temporary tables.

The shipped light curves are read with a plain split (dsfp.py) and sent with
COPY; the features are the DSFP exercise's 23, antares.feature_vector with -999 for
undefined values (their values are validated by test_features.py), fetched
once and given to scikit-learn as they are.  Training labels by objid:
1-20 -> 0, 21-60 -> 1, 61-100 -> 2.

Check groups (one line each; -v lists every failure; exit status 1 if any
group failed):

  (a) 5-fold cross_validate(C = 1, gamma = 0.1, rows by objid) accuracy per
      fold equals cross_val_score(SVC(C=1, gamma=0.1), X, y, cv=5) exactly,
      and so do other settings (gamma 'scale', C = 10, 3 and 4 folds);
  (b) trained on the 100 training objects: predictions of all 1000 test
      objects agree with SVC.predict on at least 99.5% of them, and the
      one-vs-one decision values (decision_function_shape='ovo') agree to
      1e-3; support vectors per class and rho (= -intercept_) agree too;
  (c) stratified_fold(label, k) OVER (ORDER BY i) equals the test folds of
      StratifiedKFold(n_splits=k) on 200 random label sequences (k 2..7, up to
      6 classes, any int labels, sorted and unsorted), and raises an error
      exactly where scikit-learn raises ValueError;
  (d) a model whose checksum is right but whose contents are not (counts
      that do not add up, unsorted labels, a non-finite value, a truncated
      payload) is refused by svm_model_in with SQLSTATE 22P02.
"""

import io
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import psycopg2
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import SVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import Group, check_accepted, check_refused, database, seal, summary  # noqa: E402
from dsfp import DATA, read_all  # noqa: E402  (the shipped files, read independently)

AGREEMENT_MIN = 0.995       # share of test objects whose class agrees
DECISION_TOL = 1e-3         # |decision value difference|
RHO_TOL = 1e-3

def label_of(objid):
    return 0 if objid <= 20 else 1 if objid <= 60 else 2


def load(cur, objects):
    """Photometry and feature vectors, in temporary tables."""
    cur.execute("CREATE TEMP TABLE svm_phot (src text, objid int, t float8, pb text, flux float8, dflux float8)")
    buf = io.StringIO()
    for (src, objid), (t, pb, flux, dflux) in objects.items():
        for i in range(len(t)):
            buf.write(f"{src}\t{objid}\t{t[i]!r}\t{pb[i]}\t{flux[i]!r}\t{dflux[i]!r}\n")
    buf.seek(0)
    cur.copy_expert("COPY svm_phot FROM STDIN", buf)
    cur.execute("""
        CREATE TEMP TABLE svm_set AS
        SELECT src, objid, antares.feature_vector(antares.lc_features(pb, flux, dflux)) AS features,
               CASE WHEN src = 'test' THEN NULL
                    WHEN objid <= 20 THEN 0 WHEN objid <= 60 THEN 1 ELSE 2 END AS label
        FROM svm_phot GROUP BY src, objid""")
    cur.execute("CREATE TEMP VIEW svm_training AS SELECT objid, features, label FROM svm_set WHERE src = 'training'")
    cur.execute("SELECT src, objid, features, label FROM svm_set ORDER BY src, objid")
    rows = cur.fetchall()
    train = [(r[1], r[2], r[3]) for r in rows if r[0] == "training"]
    test = [(r[1], r[2]) for r in rows if r[0] == "test"]
    X = np.array([r[1] for r in train])
    y = np.array([r[2] for r in train])
    ids = np.array([r[0] for r in train])
    assert list(ids) == sorted(ids) and all(y == [label_of(i) for i in ids])
    Xt = np.array([r[1] for r in test])
    return X, y, Xt, [r[0] for r in test]


def check_cross_validation(cur, X, y):
    g = Group("(a) cross_validate = cross_val_score, per fold, exactly")
    settings = [
        (5, {"c": 1, "gamma": 0.1}, SVC(C=1, gamma=0.1)),
        (5, {}, SVC()),
        (3, {"c": 10}, SVC(C=10)),
        (4, {"c": 0.5, "gamma": 1e-6}, SVC(C=0.5, gamma=1e-6)),
    ]
    import json
    for k, params, svc in settings:
        cur.execute("SELECT fold, n_train, n_test, accuracy FROM antares.cross_validate("
                    "'svm_training', 'features', 'label', %s, 'svm', %s, 'objid') ORDER BY fold",
                    (k, json.dumps(params)))
        got = cur.fetchall()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = cross_val_score(svc, X, y, cv=k)
        where = f"k={k} params={params}"
        g.check(where, len(got) == k, f"{len(got)} folds")
        g.check(where, [r[3] for r in got] == list(want),
                f"antares {[r[3] for r in got]}, scikit-learn {list(want)}")
        g.check(where, all(r[1] + r[2] == len(y) for r in got), "train + test != rows")
        if k == 5 and params.get("gamma") == 0.1:
            g.note("seed setting: " + " ".join(f"{a:g}" for a in want) + " in both")
    g.report()


def check_test_predictions(cur, X, y, Xt, test_ids):
    g = Group("(b) trained on the training set: test-set predictions and decision values")
    cur.execute("""CREATE TEMP TABLE svm_model_seed AS
                   SELECT antares.svm_train(features, label, 1, 0.1 ORDER BY objid) AS m
                   FROM svm_training""")
    cur.execute("""SELECT s.objid, antares.svm_predict(m, s.features), antares.svm_decision(m, s.features)
                   FROM svm_set s, svm_model_seed WHERE s.src = 'test' ORDER BY s.objid""")
    rows = cur.fetchall()
    g.check("rows", [r[0] for r in rows] == test_ids, "test objects differ")
    pred = np.array([r[1] for r in rows])
    dec = np.array([r[2] for r in rows])
    svc = SVC(C=1, gamma=0.1, decision_function_shape="ovo").fit(X, y)
    want_pred = svc.predict(Xt)
    want_dec = svc.decision_function(Xt)
    agree = float(np.mean(pred == want_pred))
    diff = float(np.max(np.abs(dec - want_dec)))
    g.check("agreement", agree >= AGREEMENT_MIN, f"{agree:.4f} < {AGREEMENT_MIN}")
    g.check("decision values", diff <= DECISION_TOL, f"max |difference| {diff:.3g} > {DECISION_TOL}")
    g.note(f"{len(pred)} test objects, agreement {100 * agree:.2f}%, max |decision difference| {diff:.3g}")
    cur.execute("SELECT antares.svm_info(m) FROM svm_model_seed")
    info = cur.fetchone()[0]
    g.check("classes", info["classes"] == [0, 1, 2], str(info["classes"]))
    g.check("support vectors per class", info["support_vectors"] == list(svc.n_support_),
            f"{info['support_vectors']} vs {list(svc.n_support_)}")
    rho_diff = float(np.max(np.abs(np.array(info["rho"]) + svc.intercept_)))
    g.check("rho", rho_diff <= RHO_TOL, f"max |rho + intercept_| {rho_diff:.3g}")
    g.note(f"support vectors {info['support_vectors']} in both, max |rho difference| {rho_diff:.3g}")
    # and the training rows through the model, against scikit-learn
    cur.execute("""SELECT antares.svm_decision(m, features) FROM svm_training, svm_model_seed ORDER BY objid""")
    tdec = np.array([r[0] for r in cur.fetchall()])
    tdiff = float(np.max(np.abs(tdec - svc.decision_function(X))))
    g.check("training decision values", tdiff <= DECISION_TOL, f"{tdiff:.3g}")
    g.report()


def sklearn_folds(y, k):
    """Test fold of each row, or None when scikit-learn raises ValueError."""
    tf = np.empty(len(y), dtype=int)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, (_, test) in enumerate(StratifiedKFold(n_splits=k).split(np.zeros(len(y)), y)):
                tf[test] = i
    except ValueError:
        return None
    return list(tf)


def check_folds(cur):
    g = Group("(c) stratified_fold = StratifiedKFold test folds")
    rng = np.random.default_rng(20240405)
    errors = 0
    for trial in range(200):
        n = int(rng.integers(2, 80))
        k = int(rng.integers(2, 8))
        n_labels = int(rng.integers(1, 7))
        pool = rng.choice(np.arange(-50, 50), size=n_labels, replace=False)
        y = rng.choice(pool, size=n)
        if trial % 3 == 0:
            y = np.sort(y)
        want = sklearn_folds(y, k)
        cur.execute("SAVEPOINT folds")
        try:
            cur.execute("""SELECT stratified_fold(y, %s) OVER (ORDER BY i)
                           FROM unnest(%s::int[]) WITH ORDINALITY u(y, i) ORDER BY i""",
                        (k, [int(v) for v in y]))
            got = [r[0] for r in cur.fetchall()]
        except psycopg2.Error:
            got = None
            cur.execute("ROLLBACK TO SAVEPOINT folds")
        if want is None:
            errors += 1
        g.check(f"k={k} y={list(y)}", got == want, f"antares {got}, scikit-learn {want}")
    g.note(f"{errors} of the sequences are errors in both")
    g.report()


def check_forged(cur):
    g = Group("(d) models with a right checksum and wrong contents are refused")
    cur.execute("SELECT antares.svm_model_send(m) FROM svm_model_seed")
    raw = bytes(cur.fetchone()[0])
    header, payload = raw[:16], raw[20:]
    g.check("round trip", seal(header, payload) == raw, "the CRC-32C here differs from the model's")
    n_class, n_sv = struct.unpack_from("<II", payload, 0)
    labels_at = 8 + 16
    nsv_at = labels_at + 4 * n_class
    rho_at = nsv_at + 8 * n_class
    sv_end = len(payload)

    def with_u32(p, at, v):
        return p[:at] + struct.pack("<I", v) + p[at + 4:]

    def with_f64(p, at, v):
        return p[:at] + struct.pack("<d", v) + p[at + 8:]

    def set_len(h, n):
        return h[:12] + struct.pack("<I", n)

    cases = {
        "one support vector fewer in the count": (header, with_u32(payload, 4, n_sv - 1)),
        "class counts that do not add up": (header, with_u32(payload, nsv_at, 3)),
        "labels not increasing": (header, with_u32(payload, labels_at, 7)),
        "a NaN rho": (header, with_f64(payload, rho_at, float("nan"))),
        "an infinite support-vector value": (header, with_f64(payload, sv_end - 8, float("inf"))),
        "C = 0": (header, with_f64(payload, 8, 0.0)),
        "one class": (header, with_u32(payload, 0, 1)),
        "a payload cut short": (set_len(header, len(payload) - 8), payload[:-8]),
        "a dimension of 0": (header[:8] + struct.pack("<I", 0) + header[12:], payload),
    }
    for what, (h, p) in cases.items():
        check_refused(g, cur, what, "svm_model", seal(h, p))
    check_accepted(g, cur, "the untouched model", "svm_model", seal(header, payload))
    g.report()


def main():
    objects = read_all()
    print(f"read {len(objects)} light curves from {DATA}")
    with database("antares.svm_predict") as (_, cur):
        X, y, Xt, test_ids = load(cur, objects)
        print(f"training set {X.shape[0]} x {X.shape[1]}, test set {Xt.shape[0]} x {Xt.shape[1]}")
        check_cross_validation(cur, X, y)
        check_test_predictions(cur, X, y, Xt, test_ids)
        check_folds(cur)
        check_forged(cur)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
