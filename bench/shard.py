#!/usr/bin/python3
"""Benchmark: the features query sharded over postgres_fdw against the same
query on one server, on this machine.

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 bench/shard.py [--rows 10000000] [--repeat 3] [--keep]

The shards are two more databases of the same server (antares_bench_shard_1
and _2, each with antares): a real postgres_fdw set-up, each shard its own
backend reached over a connection, but on the same two cores, so the figures
measure what sharding costs (connections, the remote query, rows of features
sent as text) rather than what more machines would add.

  survey      antares.simulate_survey(N objects, seed 1) with N = rows / 309
              (three years, ~309 rows an object, default 10^7 rows); each
              shard simulates the survey and keeps the objects of its hash
              partition (satisfies_hash_partition on a template partitioned
              like the coordinator's table), so nothing is copied between
              servers; the coordinator holds the same rows in a plain table
              (one server) and in a table hash-partitioned by objid into two
              local partitions (one server, two processes);
  query       SELECT objid, lc_features(pb, flux, dflux) ... GROUP BY objid,
              all 47 columns summed (every output consumed);
  one server  serial (max_parallel_workers_per_gather = 0), and partitionwise
              with 2 workers over the two local partitions (a Parallel Append
              of whole partitions: the same split as the shards);
  sharded     the coordinator's table of two foreign partitions (server
              options extensions 'antares', async_capable 'true', fetch_size
              10000), enable_partitionwise_aggregate = on: each shard
              aggregates its objects (checked with EXPLAIN VERBOSE: the
              aggregate inside both Remote SQLs, Async Foreign Scans), the
              coordinator sums what comes back.
The three results must agree (sums of floats to 1e-9 relative).  Prints the
times, the overhead ratio sharded / one server (2 processes) and sharded /
serial, and the sharded rows per second.  Best of --repeat runs.  Drops what
it creates unless --keep.
"""

import argparse
import os
import sys
import time

import psycopg2

from benchlib import best_of, features_query, run_sql, same_sums

SCHEMA = "antares_bench_shard"
SHARD_DBS = ("antares_bench_shard_1", "antares_bench_shard_2")
ROWS_PER_OBJECT = 309


def connect(dbname=None):
    conn = psycopg2.connect("" if dbname is None else f"dbname={dbname}")
    conn.autocommit = True
    return conn


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    n_objects = max(2, round(args.rows / ROWS_PER_OBJECT))

    conn = connect()
    cur = conn.cursor()
    cur.execute("SET client_min_messages = warning")
    cur.execute("SELECT to_regprocedure('antares.simulate_survey(integer,bigint)') IS NULL, "
                "to_regnamespace('antares') IS NULL, "
                "(SELECT count(*) = 0 FROM pg_extension WHERE extname = 'postgres_fdw'), "
                "current_setting('port'), current_setting('unix_socket_directories'), "
                "current_setting('listen_addresses')")
    created_extension, created_schema, created_fdw, port, sockets, listen = cur.fetchone()
    host = os.environ.get("PGHOST") or (sockets.split(",")[0].strip() if sockets else listen.split(",")[0])
    if created_extension:
        cur.execute("CREATE EXTENSION antares")
    if created_fdw:
        cur.execute("CREATE EXTENSION postgres_fdw")
    cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    for db in SHARD_DBS:
        cur.execute(f"DROP DATABASE IF EXISTS {db}")
    cur.execute("SET work_mem = '1GB'")
    try:
        t0 = time.perf_counter()
        for k, db in enumerate(SHARD_DBS):
            cur.execute(f"CREATE DATABASE {db}")
            sconn = connect(db)
            s = sconn.cursor()
            s.execute("CREATE EXTENSION antares")
            s.execute("CREATE TABLE hash_template (objid bigint) PARTITION BY HASH (objid)")
            s.execute(f"""
                CREATE UNLOGGED TABLE phot_shard AS
                SELECT s.objid, s.t, s.pb, s.flux, s.dflux, s.label
                FROM antares.simulate_survey({n_objects}, 1) s
                WHERE satisfies_hash_partition('hash_template'::regclass, 2, {k}, s.objid)""")
            s.execute("VACUUM ANALYZE phot_shard")
            sconn.close()
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
        cur.execute(f"CREATE UNLOGGED TABLE {SCHEMA}.phot AS SELECT * FROM antares.simulate_survey({n_objects}, 1)")
        cur.execute(f"CREATE TABLE {SCHEMA}.phot_local (LIKE {SCHEMA}.phot) PARTITION BY HASH (objid)")
        cur.execute(f"CREATE TABLE {SCHEMA}.phot_sharded (LIKE {SCHEMA}.phot) PARTITION BY HASH (objid)")
        for k, db in enumerate(SHARD_DBS):
            cur.execute(f"CREATE UNLOGGED TABLE {SCHEMA}.phot_local_{k} PARTITION OF {SCHEMA}.phot_local "
                        f"FOR VALUES WITH (MODULUS 2, REMAINDER {k}) WITH (parallel_workers = 0)")
            server = f"{SCHEMA}_{k}"
            cur.execute(f"DROP SERVER IF EXISTS {server} CASCADE")
            cur.execute(f"""CREATE SERVER {server} FOREIGN DATA WRAPPER postgres_fdw
                            OPTIONS (host %s, port %s, dbname %s, extensions 'antares',
                                     async_capable 'true', fetch_size '10000')""", (host, port, db))
            cur.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {server}")
            cur.execute(f"CREATE FOREIGN TABLE {SCHEMA}.phot_sharded_{k} PARTITION OF {SCHEMA}.phot_sharded "
                        f"FOR VALUES WITH (MODULUS 2, REMAINDER {k}) SERVER {server} "
                        f"OPTIONS (schema_name 'public', table_name 'phot_shard')")
        cur.execute(f"INSERT INTO {SCHEMA}.phot_local SELECT * FROM {SCHEMA}.phot")
        cur.execute(f"VACUUM ANALYZE {SCHEMA}.phot")
        cur.execute(f"VACUUM ANALYZE {SCHEMA}.phot_local")
        cur.execute(f"ANALYZE {SCHEMA}.phot_sharded")
        cur.execute(f"SELECT (SELECT count(*) FROM {SCHEMA}.phot), (SELECT count(*) FROM {SCHEMA}.phot_sharded_0), "
                    f"(SELECT count(*) FROM {SCHEMA}.phot_sharded_1), "
                    f"(SELECT count(*) FROM (SELECT * FROM {SCHEMA}.phot EXCEPT ALL "
                    f"SELECT * FROM {SCHEMA}.phot_sharded) d)")
        rows, rows0, rows1, missing = cur.fetchone()
        if rows0 + rows1 != rows or missing != 0:
            raise RuntimeError(f"the shards hold {rows0} + {rows1} rows, one server {rows}, {missing} missing")
        print(f"{rows:,} rows, {n_objects:,} objects; shards {rows0:,} and {rows1:,} rows "
              f"(built in {time.perf_counter() - t0:.0f} s); fdw host {host} port {port}")

        serial = "SET max_parallel_workers_per_gather = 0; SET enable_partitionwise_aggregate = off"
        local2 = ("SET max_parallel_workers_per_gather = 2; SET min_parallel_table_scan_size = 0; "
                  "SET parallel_setup_cost = 0; SET enable_partitionwise_aggregate = on")
        sharded = "SET max_parallel_workers_per_gather = 0; SET enable_partitionwise_aggregate = on"

        cur.execute(sharded)
        cur.execute("EXPLAIN (VERBOSE, COSTS OFF) " + features_query(f"{SCHEMA}.phot_sharded"))
        plan = "\n".join(r[0] for r in cur.fetchall())
        remote = [l.strip() for l in plan.splitlines() if "Remote SQL:" in l]
        if (len(remote) != 2 or not all("antares.lc_features(" in r and "GROUP BY" in r for r in remote)
                or plan.count("Async Foreign Scan") != 2):
            raise RuntimeError(f"the aggregate is not pushed down to both shards:\n{plan}")
        print("sharded plan:", remote[0])
        cur.execute(local2)
        cur.execute("EXPLAIN (COSTS OFF) " + features_query(f"{SCHEMA}.phot_local"))
        local_plan = "\n".join(r[0] for r in cur.fetchall())
        if "Parallel Append" not in local_plan:
            print("note: one server, 2 workers: the planner did not choose a Parallel Append:\n" + local_plan)

        results = {}
        for label, settings, table in (("one server, serial", serial, "phot"),
                                       ("one server, 2 workers, 2 partitions", local2, "phot_local"),
                                       ("sharded, 2 shards (postgres_fdw)", sharded, "phot_sharded")):
            sql = features_query(f"{SCHEMA}.{table}")
            cur.execute(settings)
            cur.execute(sql)     # warm-up
            best, times, res = best_of(args.repeat, lambda: run_sql(cur, settings, sql))
            results[label] = (best, res)
            print(f"  {label:38s} best {best:7.3f} s  runs " + " ".join(f"{t:.3f}" for t in times))
            sys.stdout.flush()
        ref = results["one server, serial"][1]
        for label, (_, res) in results.items():
            if not same_sums(ref, res):
                raise RuntimeError(f"{label} disagrees with the serial result: {res} {ref}")
        s_serial = results["one server, serial"][0]
        s_local2 = results["one server, 2 workers, 2 partitions"][0]
        s_shard = results["sharded, 2 shards (postgres_fdw)"][0]
        print()
        print(f"{'features GROUP BY objid':38s} {'seconds':>8s} {'Mrows/s':>8s} {'÷ serial':>9s}")
        for label, (best, _) in results.items():
            print(f"{label:38s} {best:8.3f} {rows / best / 1e6:8.2f} {best / s_serial:9.2f}")
        print(f"overhead of sharding: sharded / one server with the same 2 processes = {s_shard / s_local2:.2f}; "
              f"sharded / serial = {s_shard / s_serial:.2f}")
    finally:
        cur.execute("SET client_min_messages = warning")
        if not args.keep:
            cur.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            for k in range(len(SHARD_DBS)):
                cur.execute(f"DROP SERVER IF EXISTS {SCHEMA}_{k} CASCADE")
            for db in SHARD_DBS:
                cur.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            if created_fdw:
                cur.execute("DROP EXTENSION postgres_fdw")
            if created_extension:
                cur.execute("DROP EXTENSION antares")
                if created_schema:
                    cur.execute("DROP SCHEMA antares")
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
