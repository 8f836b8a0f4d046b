#!/usr/bin/python3
"""Benchmark: gradient-boosted trees in the database (antares.gbt_train,
gbt_predict, gbt_predict_proba) against XGBoost's Python package (Debian's
python3-xgboost, XGBClassifier) and scikit-learn's
HistGradientBoostingClassifier, on one core and on two.

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 bench/gbt.py [--rows 20000] [--repeat R] [--keep]

The problem is bench/forest.py's: --rows training rows (default 20,000) and as
many test rows, 23 features, 4 classes, overlapping Gaussian clusters
(benchlib.classification_problem, numpy seed 2024), in
antares_bench_gbt.train / .test (id, x float8[], y int).  The same model
everywhere: 100 rounds, depth 6, learning rate 0.3, histogram splits
(256 bins; scikit-learn's 255).

  antares training   CREATE TABLE model AS SELECT gbt_train(x, y, '{"nthread": T}')
                     FROM train (rows read from the table, buffered, sorted,
                     converted to float32, binned and boosted by antares's
                     own trainer, src/gbt_train.c)
  xgboost training   XGBClassifier(n_estimators=100, max_depth=6, learning_rate=0.3,
                     tree_method='hist', n_jobs=T).fit(X, y), which builds its
                     DMatrix from the numpy array
  sklearn training   HistGradientBoostingClassifier(max_iter=100, max_depth=6,
                     learning_rate=0.3, early_stopping=False).fit(X, y) with T
                     OpenMP threads (threadpoolctl)
  antares predict    SELECT sum(gbt_predict((SELECT m FROM model), x)), count(*)
                     FROM test; predict_proba: the sum of every element of
                     gbt_predict_proba(...), in a subquery kept apart by
                     OFFSET 0.  Every output is consumed in the server.  The
                     model as a scalar subquery, not a join with its table:
                     only then does the planner aggregate partially in the
                     workers (joined, the prediction ran in the leader above
                     the Gather).  One core: max_parallel_workers_per_gather
                     = 0; two: 1 (the leader and one worker), parallel costs
                     0.  The per-row cost is the batch's time over its rows.
  python predict     predict(Xt) / predict_proba(Xt) of the fitted models (T
                     threads); and one row per call, predict_proba(Xt[i:i+1])
                     for 1000 rows, the per-call cost of scoring one alert.

Timings are the best of R runs (default 3).  The first antares prediction
query after a model is written also decodes it; later ones find it decoded
in the session (antares.model_cache_size), as the Python models are in
memory.  Test-set accuracy of each model is printed: the three should be
within a point or two.  Do not run it with the full size on a busy machine:
XGBoost's and scikit-learn's OpenMP threads wait for each other at every
parallel step, and a machine whose cores are taken slows two-thread runs by
up to 10x.  Drops its schema unless --keep.
"""

import argparse
import os
import platform
import sys
import time
import warnings

# benchlib before numpy: it sets one BLAS thread
from benchlib import (CLASSES, DIM, best_of, classification_problem, close_bench,
                      open_classification_bench)
import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

SCHEMA = "antares_bench_gbt"
SINGLE_ROWS = 1000


def per_call(fn, rows):
    """Seconds per call of fn on one row, over the first SINGLE_ROWS rows."""
    t0 = time.perf_counter()
    for i in range(min(SINGLE_ROWS, len(rows))):
        fn(rows[i:i + 1])
    return (time.perf_counter() - t0) / min(SINGLE_ROWS, len(rows))


def run_threads(cur, threads, repeat, X, y, Xt, yt):
    """The figures of one thread count: rows (what, antares, xgboost, sklearn, n)."""
    rows = []
    table = f"model_{threads}"

    def an_train():
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} AS SELECT gbt_train(x, y, %s) AS m FROM train",
                    (f'{{"nthread": {threads}}}',))

    t_an, _, _ = best_of(repeat, an_train)
    cur.execute(f"ANALYZE {table}")

    def xgb_fit():
        return xgb.XGBClassifier(n_estimators=100, max_depth=6, learning_rate=0.3, tree_method="hist",
                                 n_jobs=threads, random_state=0).fit(X, y)

    def skl_fit():
        with threadpool_limits(threads, user_api="openmp"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return HistGradientBoostingClassifier(max_iter=100, max_depth=6, learning_rate=0.3,
                                                  early_stopping=False, random_state=0).fit(X, y)

    t_xg, _, xg = best_of(repeat, xgb_fit)
    t_sk, _, sk = best_of(repeat, skl_fit)
    rows.append(("training", t_an, t_xg, t_sk, None))

    if threads == 1:
        cur.execute("SET max_parallel_workers_per_gather = 0")
    else:
        cur.execute("SET max_parallel_workers_per_gather = 1; SET parallel_setup_cost = 0; "
                    "SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0")

    def an_predict():
        cur.execute(f"SELECT sum(gbt_predict((SELECT m FROM {table}), x)), count(*) FROM test")
        return cur.fetchone()

    def an_proba():
        cur.execute("SELECT sum(p[1]), sum(p[2]), sum(p[3]), sum(p[4]), count(*) "
                    f"FROM (SELECT gbt_predict_proba((SELECT m FROM {table}), x) AS p FROM test OFFSET 0) s")
        return cur.fetchone()

    cold = best_of(1, an_predict)[0]
    t_an, _, (_, n) = best_of(repeat, an_predict)
    with threadpool_limits(threads, user_api="openmp"):
        t_xg = best_of(repeat, lambda: xg.predict(Xt))[0]
        t_sk = best_of(repeat, lambda: sk.predict(Xt))[0]
    rows.append(("predict (batch)", t_an, t_xg, t_sk, n))
    t_an, _, sums = best_of(repeat, an_proba)
    with threadpool_limits(threads, user_api="openmp"):
        t_xg = best_of(repeat, lambda: xg.predict_proba(Xt))[0]
        t_sk = best_of(repeat, lambda: sk.predict_proba(Xt))[0]
        one_xg = per_call(xg.predict_proba, Xt)
        one_sk = per_call(sk.predict_proba, Xt)
    rows.append(("predict_proba (batch)", t_an, t_xg, t_sk, sums[-1]))
    rows.append(("predict_proba, one row (per row / per call)", t_an / sums[-1], one_xg, one_sk, None))

    cur.execute(f"SELECT gbt_predict(m, x) FROM test, {table} ORDER BY id")
    an_pred = np.array([r[0] for r in cur.fetchall()])
    accuracy = (float(np.mean(an_pred == yt)), float(np.mean(xg.predict(Xt) == yt)),
                float(np.mean(sk.predict(Xt) == yt)))
    cur.execute("RESET max_parallel_workers_per_gather; RESET parallel_setup_cost; "
                "RESET parallel_tuple_cost; RESET min_parallel_table_scan_size")
    return rows, accuracy, cold


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    X, y, Xt, yt = classification_problem(args.rows)
    conn, cur, created = open_classification_bench("antares.gbt_predict", SCHEMA, X, y, Xt, yt)
    print(f"{platform.node()}: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; PostgreSQL {conn.server_version}; xgboost {xgb.__version__}")
    print(f"problem: {args.rows} training rows, {len(Xt)} test rows, {DIM} features, "
          f"{CLASSES} classes; 100 rounds, depth 6, learning rate 0.3; best of {args.repeat}")

    slower = []
    for threads in (1, 2):
        rows, accuracy, cold = run_threads(cur, threads, args.repeat, X, y, Xt, yt)
        print()
        print(f"{threads} thread{'s' if threads > 1 else ''}: test accuracy antares {accuracy[0]:.4f}, "
              f"xgboost {accuracy[1]:.4f}, sklearn {accuracy[2]:.4f}; the first predict query "
              f"(also decodes the model) {cold:.3f} s")
        print()
        print("| measurement | antares s | xgboost s | sklearn s | xgboost / antares | sklearn / antares |")
        print("|---|---|---|---|---|---|")
        for what, a, xg, sk, n in rows:
            unit = "s" if n is None else f"s ({n / a:,.0f} rows/s)"
            print(f"| {what} | {a:.3g} {unit} | {xg:.3g} | {sk:.3g} | **{xg / a:.1f}x** | **{sk / a:.1f}x** |")
            if a >= xg or a >= sk:
                slower.append(f"{what}, {threads} thread{'s' if threads > 1 else ''}")

    close_bench(conn, cur, SCHEMA, created, args.keep)
    print()
    print("target antares faster than both in every figure: "
          + ("met" if not slower else f"NOT met ({'; '.join(slower)})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
