#!/usr/bin/python3
"""Validate night-by-night processing (process_night) on the shipped test set.

Run with Debian's interpreter:

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_stream.py [-v]

The database is reached through the usual PG* environment variables.  The
script needs antares.object_state, alerts and nights empty (it refuses to run
otherwise) and empties them again at the end; if the extension is missing it
creates it and drops it at the end.

The 1000 test light curves are read with a plain split (dsfp.py) and sent with
COPY.  An SVM (C = 1, gamma = 0.1) and an isolation forest (100 trees, seed 1)
are trained on the training set's DSFP features; then every night of the test
set, in 1-day steps from its first to its last MJD, is processed with alert
threshold 0, each night committed, while a second connection LISTENs on
antares_alerts.

Check groups (one line each; -v lists every failure; exit status 1 if any
group failed):

  (a) every night updated exactly the objects that have rows in it (counted
      here from the files), and raised as many alerts as alerts holds for it;
  (b) after the replay, every object's stored features equal lc_features
      over all its rows (as text, i.e. to the bit), and its whole state,
      lc_merge(state, recent), lc_accumulate's; n_obs and last_t equal the
      files' row count and last time, class and anomaly equal svm_predict
      and iforest_decision of its features;
  (c) the listener received exactly the rows of alerts, as JSON, in order;
  (d) replaying every night again changes nothing (states, update times),
      raises no alert and sends no notification;
  (e) states whose checksum is right but whose contents are not (a
      non-positive or NaN uncertainty, observations out of order, a count
      larger than the payload, a truncated payload, the wrong number of
      bands) are refused with SQLSTATE 22P02.
"""

import io
import json
import math
import select
import struct
import sys
import time
from pathlib import Path

import psycopg2
import psycopg2.extensions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checks import Group, check_refused, seal, summary  # noqa: E402
from dsfp import DATA, read_all  # noqa: E402

THRESHOLD = 0.0


def load(cur, objects):
    cur.execute("CREATE TEMP TABLE stream_phot (objid int, t float8, pb text, flux float8, dflux float8)")
    cur.execute("CREATE TEMP TABLE stream_train (objid int, t float8, pb text, flux float8, dflux float8)")
    for src, table in (("test", "stream_phot"), ("training", "stream_train")):
        buf = io.StringIO()
        for (s, objid), (t, pb, flux, dflux) in objects.items():
            if s != src:
                continue
            for i in range(len(t)):
                buf.write(f"{objid}\t{t[i]!r}\t{pb[i]}\t{flux[i]!r}\t{dflux[i]!r}\n")
        buf.seek(0)
        cur.copy_expert(f"COPY {table} FROM STDIN", buf)
    cur.execute("""
        CREATE TEMP TABLE stream_models AS
        SELECT antares.svm_train(x, label, 1, 0.1 ORDER BY objid) AS svm,
               antares.iforest_train(x, 100, 256, 1) AS forest
        FROM (SELECT objid, antares.feature_vector(antares.lc_features(pb, flux, dflux)) AS x,
                     CASE WHEN objid <= 20 THEN 0 WHEN objid <= 60 THEN 1 ELSE 2 END AS label
              FROM stream_train GROUP BY objid) f""")


def replay(conn, cur, nights):
    """process_night over every night, each committed; {night: (updated, alerts)}."""
    out = {}
    for d in nights:
        cur.execute("""SELECT * FROM antares.process_night('stream_phot', %s, %s,
                           (SELECT svm FROM stream_models), (SELECT forest FROM stream_models), %s)""",
                    (d, d + 1, THRESHOLD))
        out[d] = cur.fetchone()
        conn.commit()
    return out


def drain(listener, wait=0.5):
    """Every notification the listener has, waiting up to `wait` s for stragglers."""
    got = []
    deadline = time.monotonic() + wait
    while True:
        listener.poll()
        while listener.notifies:
            got.append(listener.notifies.pop(0))
        left = deadline - time.monotonic()
        if left <= 0:
            return got
        select.select([listener], [], [], left)


def check_nights(cur, objects, result):
    g = Group("(a) each night updates the objects observed in it")
    per_night = {}
    for (src, objid), (t, *_rest) in objects.items():
        if src == "test":
            for d in {math.floor(x) for x in t}:
                per_night[d] = per_night.get(d, 0) + 1
    cur.execute("SELECT night_start::int, count(*) FROM antares.alerts GROUP BY 1")
    alerts = dict(cur.fetchall())
    for d, (updated, raised) in result.items():
        g.check(f"night {d}", updated == per_night.get(d, 0),
                f"updated {updated}, objects with rows {per_night.get(d, 0)}")
        g.check(f"night {d}", raised == alerts.get(d, 0), f"reported {raised} alerts, alerts holds {alerts.get(d, 0)}")
    g.note(f"{len(result)} nights, {sum(r[0] for r in result.values())} object updates, "
           f"{sum(r[1] for r in result.values())} alerts")
    g.report()


def check_states(cur, objects):
    g = Group("(b) stored features = lc_features over all rows; n_obs, last_t, class, anomaly")
    cur.execute("""
        SELECT o.objid, o.features::text = w.f::text AND antares.lc_merge(o.state, o.recent)::text = w.s::text,
               o.n_obs, o.last_t,
               o.class IS NOT DISTINCT FROM antares.svm_predict((SELECT svm FROM stream_models), antares.feature_vector(w.f)),
               o.anomaly IS NOT DISTINCT FROM antares.iforest_decision((SELECT forest FROM stream_models), antares.feature_vector(w.f))
        FROM antares.object_state o
        JOIN (SELECT objid, antares.lc_features(pb, flux, dflux) AS f, antares.lc_accumulate(pb, flux, dflux) AS s
              FROM stream_phot GROUP BY objid) w
          USING (objid)""")
    rows = {r[0]: r[1:] for r in cur.fetchall()}
    test = {objid: v for (src, objid), v in objects.items() if src == "test"}
    g.check("objects", set(rows) == set(test), f"{len(rows)} stored, {len(test)} in the files")
    for objid, (same, n_obs, last_t, same_class, same_anomaly) in rows.items():
        t = test[objid][0]
        g.check(f"object {objid}", same, "features or lc_merge(state, recent) differ from those of all rows")
        g.check(f"object {objid}", n_obs == len(t), f"n_obs {n_obs}, rows {len(t)}")
        g.check(f"object {objid}", last_t == max(t), f"last_t {last_t!r}, last time {max(t)!r}")
        g.check(f"object {objid}", same_class, "class is not svm_predict of the features")
        g.check(f"object {objid}", same_anomaly, "anomaly is not iforest_decision of the features")
    cur.execute("SELECT class, count(*) FROM antares.object_state GROUP BY 1 ORDER BY 1")
    g.note("final classes " + ", ".join(f"{c}: {n}" for c, n in cur.fetchall()))
    g.report()


def check_notifications(cur, received):
    g = Group("(c) LISTEN antares_alerts receives exactly the rows of alerts")
    cur.execute("SELECT to_jsonb(a)::text FROM antares.alerts a ORDER BY alert_id")
    stored = [json.loads(r[0]) for r in cur.fetchall()]
    got = [json.loads(n.payload) for n in received]
    g.check("channel", all(n.channel == "antares_alerts" for n in received), "another channel")
    g.check("count", len(got) == len(stored), f"received {len(got)}, alerts holds {len(stored)}")
    for i, (a, b) in enumerate(zip(got, stored)):
        g.check(f"notification {i}", a == b, f"payload {a} differs from the row {b}")
    g.note(f"{len(got)} notifications")
    g.report()


def check_idempotent(conn, cur, listener, nights):
    g = Group("(d) the same nights again change nothing")
    snapshot = "SELECT objid, state::text, updated_at FROM antares.object_state ORDER BY objid"
    cur.execute(snapshot)
    before = cur.fetchall()
    cur.execute("SELECT count(*) FROM antares.alerts")
    alerts_before = cur.fetchone()[0]
    again = replay(conn, cur, nights)
    g.check("process_night", all(v == (0, 0) for v in again.values()),
            f"{sum(1 for v in again.values() if v != (0, 0))} nights reported changes")
    cur.execute(snapshot)
    g.check("object_state", cur.fetchall() == before, "states or update times changed")
    cur.execute("SELECT count(*) FROM antares.alerts")
    g.check("alerts", cur.fetchone()[0] == alerts_before, "new alerts")
    late = drain(listener)
    g.check("notifications", not late, f"{len(late)} notifications")
    g.report()


def check_forged(cur):
    g = Group("(e) states with a right checksum and wrong contents are refused")
    cur.execute("""SELECT antares.lc_state_send(antares.lc_accumulate(pb, flux, dflux))
                   FROM (VALUES ('g', 10.0::float8, 1.0::float8), ('g', 11, 1), ('r', 12, 2)) v(pb, flux, dflux)""")
    raw = bytes(cur.fetchone()[0])
    header, payload = raw[:16], raw[20:]
    g.check("round trip", seal(header, payload) == raw, "the CRC-32C here differs from the state's")

    def with_header(payload, nbands=6):
        h = header[:8] + struct.pack("<II", nbands, len(payload))
        return seal(h, payload)

    # payload: per band u g r i z y a uint32 count, then (flux, dflux) pairs
    def state(bands):
        out = b""
        for pairs in bands:
            out += struct.pack("<I", len(pairs)) + b"".join(struct.pack("<dd", f, s) for f, s in pairs)
        return out

    good = state([[], [(10.0, 1.0), (11.0, 1.0)], [(12.0, 2.0)], [], [], []])
    g.check("the state rebuilt here", with_header(good) == raw, "differs from lc_state_send's")
    bad = {
        "zero uncertainty": with_header(state([[], [(10.0, 0.0), (11.0, 1.0)], [], [], [], []])),
        "negative uncertainty": with_header(state([[], [(10.0, -1.0)], [], [], [], []])),
        "NaN flux": with_header(state([[], [(float("nan"), 1.0)], [], [], [], []])),
        "infinite uncertainty": with_header(state([[], [(1.0, float("inf"))], [], [], [], []])),
        "out of order": with_header(state([[], [(11.0, 1.0), (10.0, 1.0)], [], [], [], []])),
        "count beyond the payload": with_header(struct.pack("<I", 0) + struct.pack("<I", 5)
                                                + struct.pack("<dd", 1.0, 1.0) + b"\0" * 16),
        "truncated payload": with_header(good[:-12]),
        "trailing bytes": with_header(good + b"\0" * 8),
        "five bands": with_header(state([[], [(10.0, 1.0)], [], [], []]), nbands=5),
    }
    for what, value in bad.items():
        check_refused(g, cur, what, "lc_state", value)
    g.report()


def main():
    objects = read_all()
    print(f"read {len(objects)} light curves from {DATA}")
    conn = psycopg2.connect("")
    cur = conn.cursor()
    cur.execute("SELECT to_regproc('antares.process_night') IS NULL, to_regnamespace('antares') IS NULL")
    missing, created_schema = cur.fetchone()
    if missing:
        cur.execute("CREATE EXTENSION antares")
        conn.commit()
    cur.execute("SELECT (SELECT count(*) FROM antares.object_state) + (SELECT count(*) FROM antares.alerts)"
                " + (SELECT count(*) FROM antares.nights)")
    if cur.fetchone()[0] != 0:
        print("antares.object_state, alerts or nights is not empty: not touching them")
        return 1
    listener = psycopg2.connect("")
    listener.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    listener.cursor().execute("LISTEN antares_alerts")
    try:
        load(cur, objects)
        conn.commit()
        cur.execute("SELECT floor(min(t))::int, floor(max(t))::int FROM stream_phot")
        first, last = cur.fetchone()
        nights = list(range(first, last + 1))
        t0 = time.perf_counter()
        result = replay(conn, cur, nights)
        seconds = time.perf_counter() - t0
        received = drain(listener)
        print(f"replayed {len(nights)} nights ({first} .. {last + 1}) in {seconds:.2f} s")
        check_nights(cur, objects, result)
        check_states(cur, objects)
        check_notifications(cur, received)
        check_idempotent(conn, cur, listener, nights)
        check_forged(cur)
    finally:
        conn.rollback()
        cur.execute("DROP TABLE IF EXISTS stream_phot, stream_train, stream_models")
        cur.execute("TRUNCATE antares.object_state, antares.alerts, antares.nights")
        if missing:
            cur.execute("DROP EXTENSION antares")
            if created_schema:
                cur.execute("DROP SCHEMA antares")
        conn.commit()
        conn.close()
        listener.close()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
