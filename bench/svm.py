#!/usr/bin/python3
"""Benchmark: SVM training and prediction in the database (antares.svm_train,
antares.svm_predict) against scikit-learn's SVC, measured in the same run.

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 bench/svm.py [--rows 20000] [--repeat R] [--keep]

The problem: --rows training rows (default 20,000) and as many test rows, 23
features, 4 classes: Gaussian clusters (two per class, random centres in a
23-dimensional box, unit spread) that overlap, so a fair share of the rows
become support vectors, as on real features.  Deterministic (numpy seed 2024).
The rows go into table antares_bench_svm.train / .test (id, x float8[], y int).

  antares training  SELECT antares.svm_train(x, y ORDER BY id) FROM train: C = 1,
                    gamma = 'scale', rows in id order (read from the table,
                    buffered, trained); the model goes into a table (its text
                    form is not sent to the client);
  sklearn training  SVC().fit(X, y): C = 1, gamma = 'scale', the same rows in the
                    same order, already in memory, one core (cache_size 200 MB,
                    the default, as antares.svm_cache_size);
  antares predict   SELECT sum(antares.svm_predict(m, x)), count(*) FROM test,
                    model: every prediction is consumed (summed) in the server;
  sklearn predict   SVC.predict(Xt).
Both sides use one core (max_parallel_workers_per_gather = 0).

Checks and reports: the support vectors per class of both models, agreement
of the test-set predictions (target >= 99.5%), the max difference of the
decision values on the first 2000 test rows, the training time ratio
antares / sklearn (target <= 1.0) and prediction rows/s of both.  Timings are
the best of R runs (default 3).  Drops its schema unless --keep.
"""

import argparse
import os
import platform
import sys

# benchlib before numpy: it sets one BLAS thread (scikit-learn is timed on one core)
from benchlib import (CLASSES, DIM, best_of, classification_problem, close_bench,
                      open_classification_bench)
import numpy as np  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

SCHEMA = "antares_bench_svm"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    X, y, Xt, _ = classification_problem(args.rows)

    conn, cur, created = open_classification_bench("antares.svm_predict", SCHEMA, X, y, Xt,
                                                   np.zeros(len(Xt), dtype=int))
    cur.execute("SHOW antares.svm_cache_size")
    cache = cur.fetchone()[0]

    print(f"{platform.node()}: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; PostgreSQL {conn.server_version}; antares.svm_cache_size = {cache}")
    print(f"problem: {args.rows} training rows, {args.rows} test rows, {DIM} features, "
          f"{CLASSES} classes; best of {args.repeat}")

    def antares_train():
        cur.execute("DROP TABLE IF EXISTS model")
        cur.execute("CREATE TABLE model AS SELECT svm_train(x, y ORDER BY id) AS m FROM train")

    def sklearn_train():
        return SVC(cache_size=200).fit(X, y)

    t_sk, _, svc = best_of(args.repeat, sklearn_train)
    t_an, _, _ = best_of(args.repeat, antares_train)
    cur.execute("SELECT svm_info(m) FROM model")
    info = cur.fetchone()[0]

    def antares_predict():
        cur.execute("SELECT sum(svm_predict(m, x)), count(*) FROM test, model")
        return cur.fetchone()

    p_an, _, (total, count) = best_of(args.repeat, antares_predict)
    p_sk, _, pred_sk = best_of(args.repeat, lambda: svc.predict(Xt))

    cur.execute("SELECT svm_predict(m, x) FROM test, model ORDER BY id")
    pred_an = np.array([r[0] for r in cur.fetchall()])
    cur.execute("SELECT svm_decision(m, x) FROM test, model WHERE id <= 2000 ORDER BY id")
    dec_an = np.array([r[0] for r in cur.fetchall()])
    svc_ovo = SVC(cache_size=200, decision_function_shape="ovo").fit(X, y)
    dec_sk = svc_ovo.decision_function(Xt[:2000])
    agree = float(np.mean(pred_an == pred_sk))
    ddiff = float(np.max(np.abs(dec_an - dec_sk)))

    print(f"support vectors per class: antares {info['support_vectors']}, "
          f"sklearn {list(svc.n_support_)}; solver iterations {info['iterations']}")
    print(f"test-set agreement {100 * agree:.2f}% ({int(np.sum(pred_an == pred_sk))} of {len(pred_an)}); "
          f"max |decision difference| (2000 rows) {ddiff:.3g}; sum of predictions {total} = {int(pred_sk.sum())}: "
          f"{total == int(pred_sk.sum())}")
    print()
    print("| measurement | seconds | rows/s | ratio |")
    print("|---|---|---|---|")
    print(f"| scikit-learn `SVC().fit`, {args.rows} rows | {t_sk:.2f} | {args.rows / t_sk:,.0f} | 1.00 |")
    print(f"| antares `svm_train(x, y ORDER BY id)` | {t_an:.2f} | {args.rows / t_an:,.0f} | **{t_an / t_sk:.2f}** |")
    print(f"| scikit-learn `SVC.predict`, {len(Xt)} rows | {p_sk:.2f} | {len(Xt) / p_sk:,.0f} | 1.00 |")
    print(f"| antares `sum(svm_predict(m, x))` | {p_an:.2f} | {count / p_an:,.0f} | {p_an / p_sk:.2f} |")

    close_bench(conn, cur, SCHEMA, created, args.keep)
    ok = agree >= 0.995 and count == len(Xt)
    print("agreement target (>= 99.5%): " + ("met" if agree >= 0.995 else "NOT met"))
    print("training time target (<= 1.0 x sklearn): " + ("met" if t_an <= t_sk else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
