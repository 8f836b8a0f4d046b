"""What the benchmarks share: one BLAS thread for the Python baselines,
timing the best of several runs, running a query under settings, opening
and closing the benchmark's database, and the synthetic classification
problem of the model benchmarks (bench/svm.py, bench/forest.py).  Import it
before numpy: the thread count is read when numpy loads."""

import io
import os
import time

# scikit-learn is timed on one core: no BLAS threads.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import numpy as np  # noqa: E402
import psycopg2  # noqa: E402

DIM = 23        # features, as the DSFP exercise's
CLASSES = 4


# lc_features' output columns, in its order: n and the six statistics per
# band, then the colours of consecutive bands.
BANDS = "ugrizy"
STATS = ("mean", "std", "amp", "mad", "beyond", "skew")
FEATURE_COLUMNS = [f"{b}_{s}" for b in BANDS for s in ("n",) + STATS] + \
    [f"{x}_minus_{y}" for x, y in zip(BANDS, BANDS[1:])]


def features_query(table):
    """lc_features of every object of `table` (a qualified name), every
    output read: the row count and the sum of each feature column."""
    sums = ", ".join(f"sum((f).{c})" for c in FEATURE_COLUMNS)
    return (f"SELECT count(*), {sums} FROM (SELECT objid, antares.lc_features(pb, flux, dflux) AS f "
            f"FROM {table} GROUP BY objid) g")


def same_sums(a, b, rel=1e-9):
    """Two result rows of sums agree: NULL where the other is NULL, integers
    exactly, other numbers within `rel` relative."""
    for x, y in zip(a, b):
        if (x is None) != (y is None):
            return False
        if x is None:
            continue
        if isinstance(x, int) and isinstance(y, int):
            if x != y:
                return False
            continue
        x, y = float(x), float(y)
        if x != y and abs(x - y) > rel * max(abs(x), abs(y)):
            return False
    return True


def best_of(repeat, fn):
    """(best seconds, every run's seconds, the last result) of `repeat` runs."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, result


def run_sql(cur, settings, sql):
    """The first row of sql, run after the SET statements in settings."""
    cur.execute(settings)
    cur.execute(sql)
    return cur.fetchone()


def classification_problem(rows, seed=2024):
    """Training and test sets of `rows` rows each: DIM features, CLASSES
    classes, two Gaussian clusters per class (unit spread) around centres
    drawn in a small box, so that the classes overlap; deterministic."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-0.6, 0.6, size=(2 * CLASSES, DIM))

    def draw(n):
        cluster = rng.integers(0, 2 * CLASSES, size=n)
        return centres[cluster] + rng.normal(size=(n, DIM)), cluster % CLASSES

    X, y = draw(rows)
    Xt, yt = draw(rows)
    return X, y, Xt, yt


def copy_rows(cur, table, X, y):
    """COPY (id, x float8[], y int) rows into table, ids from 1."""
    buf = io.StringIO()
    for i in range(len(y)):
        buf.write(f"{i + 1}\t{{{','.join(repr(float(v)) for v in X[i])}}}\t{int(y[i])}\n")
    buf.seek(0)
    cur.copy_expert(f"COPY {table} FROM STDIN", buf)


def open_bench(probe, schema):
    """An autocommit connection and cursor to the database the PG* variables
    name, with the extension (created if the function `probe`, a name or with
    argument types a signature, is missing) and
    no schema `schema` left from an earlier run.  Returns conn, cur and what
    was created, for close_bench."""
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    lookup = "to_regprocedure" if "(" in probe else "to_regproc"
    cur.execute(f"SELECT {lookup}(%s) IS NULL, to_regnamespace('antares') IS NULL", (probe,))
    created = cur.fetchone()
    if created[0]:
        cur.execute("CREATE EXTENSION antares")
    cur.execute("SET client_min_messages = warning")
    cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return conn, cur, created


def open_classification_bench(probe, schema, X, y, Xt, yt):
    """open_bench, then schema `schema` (the search path, before antares)
    with tables train and test (id, x float8[], y int) holding the problem's
    rows, analyzed, and the extension's library loaded.  Everything runs on
    one core (max_parallel_workers_per_gather = 0)."""
    conn, cur, created = open_bench(probe, schema)
    cur.execute(f"CREATE SCHEMA {schema}")
    cur.execute(f"SET search_path = {schema}, antares")
    cur.execute("SET max_parallel_workers_per_gather = 0")
    for table, rows, labels in (("train", X, y), ("test", Xt, yt)):
        cur.execute(f"CREATE TABLE {table} (id int, x float8[], y int)")
        copy_rows(cur, table, rows, labels)
        cur.execute(f"VACUUM ANALYZE {table}")
    cur.execute("SELECT antares.color(1, 1)")   # loads the library
    return conn, cur, created


def close_bench(conn, cur, schema, created, keep):
    """Drops the benchmark's schema, and the extension if open_bench created
    it, unless keep; closes the connection."""
    cur.execute("SET client_min_messages = warning")
    if not keep:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        if created[0]:
            # the session's temporary tables (stream_process's) may use the extension's types
            cur.execute("DISCARD TEMP")
            # CREATE EXTENSION made the schema; DROP EXTENSION leaves it.
            cur.execute("DROP EXTENSION antares")
            if created[1]:
                cur.execute("DROP SCHEMA antares")
    conn.close()
