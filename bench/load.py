#!/usr/bin/python3
"""Loading benchmark: the ways to get light-curve files into a table.

Loads the shipped light curves (data/dsfp/training and data/dsfp/test, 1100
files, 112,629 rows), repeated --repeat times under new objids, into a fresh
table (objid bigint, t float8, pb text, flux float8, dflux float8) with:

  row-by-row INSERT   one INSERT statement per row, one transaction
  multi-row INSERT    --batch rows per INSERT statement, one transaction
  antares_load -j 1   one COPY stream (bin/antares_load)
  antares_load -j N   N COPY streams at once, for each N of --jobs

and prints rows/s and the speed-up over row-by-row INSERT.  The INSERT
methods get rows already parsed in Python (their parse time is not counted);
antares_load's times include starting it, reading and parsing the files,
connecting and committing; they are short, so each loader run is repeated
--runs times and the best kept.  Every run starts with a CHECKPOINT (when
allowed) so that writing out the previous run's data does not count, and is
checked: row count and sums against the first.

Connection: the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE, ...),
for psycopg2 and the loader alike.  Needs bin/antares_load built (make).

    PGDATABASE=antares bench/load.py --repeat 4
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import psycopg2
import psycopg2.extras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIRS = [os.path.join(ROOT, "data", "dsfp", d) for d in ("training", "test")]
LOADER = os.path.join(ROOT, "bin", "antares_load")
TABLE = "bench_load"


def parse_file(path):
    """The rows of one light curve: (t, pb, flux, dflux) tuples."""
    rows, cols = [], None
    with open(path) as f:
        for line in f:
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if cols is None:
                cols = [fields.index(c) for c in ("t", "pb", "flux", "dflux")]
                continue
            t, pb, flux, dflux = (fields[i] for i in cols)
            rows.append((float(t), pb, float(flux), float(dflux)))
    return rows


def build_input(workdir, repeat):
    """Links every shipped file `repeat` times as lcNNNNNNN.dat (objid NNNNNNN).

    Returns the rows, with objids, for the INSERT methods."""
    files = sorted(os.path.join(d, f) for d in DATA_DIRS
                   for f in os.listdir(d) if f.endswith(".dat"))
    parsed = {path: parse_file(path) for path in files}
    rows = []
    objid = 0
    for _ in range(repeat):
        for path in files:
            objid += 1
            os.symlink(path, os.path.join(workdir, "lc%07d.dat" % objid))
            rows.extend((objid,) + r for r in parsed[path])
    return objid, rows


def fresh_table(conn):
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS %s" % TABLE)
        cur.execute("CREATE TABLE %s (objid bigint, t float8, pb text, "
                    "flux float8, dflux float8)" % TABLE)
    conn.commit()
    try:
        with conn.cursor() as cur:
            cur.execute("CHECKPOINT")
    except psycopg2.Error:
        pass                    # not superuser nor pg_checkpoint: skip it
    conn.rollback()


def checksum(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), sum(objid), sum(flux::numeric), "
                    "sum(dflux::numeric), sum(t::numeric), "
                    "sum(length(pb)) FROM %s" % TABLE)
        return cur.fetchone()


def insert_row_by_row(conn, rows):
    sql = "INSERT INTO %s VALUES (%%s, %%s, %%s, %%s, %%s)" % TABLE
    with conn.cursor() as cur:
        for row in rows:
            cur.execute(sql, row)
    conn.commit()


def insert_multi_row(conn, rows, batch):
    with conn.cursor() as cur:
        psycopg2.extras.execute_values(
            cur, "INSERT INTO %s VALUES %%s" % TABLE, rows, page_size=batch)
    conn.commit()


def run_loader(workdir, jobs):
    subprocess.run([LOADER, "-q", "-j", str(jobs), "-t", TABLE, workdir],
                   check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=4,
                    help="copies of the 1100 shipped files (default 4)")
    ap.add_argument("--batch", type=int, default=1000,
                    help="rows per multi-row INSERT (default 1000)")
    ap.add_argument("--jobs", type=int, nargs="+", default=[2, 4],
                    help="parallel loader job counts besides 1 (default 2 4)")
    ap.add_argument("--runs", type=int, default=3,
                    help="runs of each loader variant, best kept (default 3)")
    args = ap.parse_args()
    if not os.access(LOADER, os.X_OK):
        sys.exit("%s not found: run make first" % LOADER)

    conn = psycopg2.connect("")
    with tempfile.TemporaryDirectory(prefix="antares_bench_") as workdir:
        nfiles, rows = build_input(workdir, args.repeat)
        print("%d files, %d rows; server %s, %d CPUs here" % (
            nfiles, len(rows), conn.server_version, os.cpu_count()))

        methods = [
            ("row-by-row INSERT", 1, lambda: insert_row_by_row(conn, rows)),
            ("multi-row INSERT (%d/stmt)" % args.batch, 1,
             lambda: insert_multi_row(conn, rows, args.batch)),
        ] + [("antares_load -j %d" % j, args.runs,
              lambda j=j: run_loader(workdir, j)) for j in [1] + args.jobs]

        results, reference = [], None
        for name, runs, load in methods:
            best = None
            for _ in range(runs):
                fresh_table(conn)
                start = time.perf_counter()
                load()
                seconds = time.perf_counter() - start
                check = checksum(conn)
                if check[0] != len(rows):
                    sys.exit("%s: %d rows loaded, expected %d"
                             % (name, check[0], len(rows)))
                if reference is None:
                    reference = check
                elif check != reference:
                    sys.exit("%s: loaded data differ: %r != %r"
                             % (name, check, reference))
                best = seconds if best is None else min(best, seconds)
            results.append((name, runs, best))

        with conn.cursor() as cur:
            cur.execute("DROP TABLE %s" % TABLE)
        conn.commit()

    base = len(rows) / results[0][2]
    print("%-28s %5s %9s %10s %9s" % ("method", "runs", "seconds", "rows/s", "speed-up"))
    for name, runs, seconds in results:
        rate = len(rows) / seconds
        print("%-28s %5d %9.2f %10.0f %8.1fx" % (name, runs, seconds, rate, rate / base))


if __name__ == "__main__":
    main()
