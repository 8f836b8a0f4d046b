#!/usr/bin/python3
"""Validate alert_photometry against Debian's python3-avro: every field of
every point of real and written alert packets.

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_alerts.py [-v]

python3-avro (the Avro project's own Python implementation, independent of
the C library antares decodes with) reads each packet; the rules README.md
("Alert packets") documents are applied here, in Python, to what it read;
the points must equal alert_photometry's rows in order, field by field:
alert_id, objid, object_name, source_id, kind, t, pb, flux, dflux, ra, dec
(floats within 1e-12 relative; the rules are the same arithmetic, so in
practice they are equal).  The packets:

  (a) ZTF's two real packets (test/data/alerts/ztf, schemas 3.2 and 3.3);
  (b) 80 ZTF 4.02 alerts written here with ZTF's own 4.02 schema
      (test/data/alerts/ztf/schema-4.02): detections with isdiffpos in
      every encoding, upper limits, forced photometry with ZTF's -99999 and
      null zero points, entries the rules skip;
  (c) 200 Rubin-format alerts written here with a writer schema of this
      script's own (Rubin's field names and types, other fields beside
      them): null and NaN fluxes, null bands, sources without diaObjectId
      with and without the alert's diaObject, forced sources, cutouts; in
      a container (null codec), a deflate container, as Confluent messages
      whose schema is found in alert_schemas by id, and as bare datums with
      their writer schema;
  (d) Rubin's published sample packet (schema 11.0), when it is at hand:
      $ANTARES_RUBIN_SAMPLE, or ../shared/data/alerts/rubin-11.0/ beside
      the repository.  It is GPL and not shipped, so CI reports it skipped.
"""

import io
import json
import math
import os
import random
import struct
import sys

import avro.datafile
import avro.io
import avro.schema

from checks import Group, database, summary

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZTF_DIR = os.path.join(ROOT, "test", "data", "alerts", "ztf")
RUBIN_SAMPLE = os.environ.get(
    "ANTARES_RUBIN_SAMPLE",
    os.path.join(ROOT, "..", "shared", "data", "alerts", "rubin-11.0", "fakeAlert.avro"))
REL = 1e-12
CONFLUENT_ID = 4711

# ------------------------------------------------------------------ rules


def njy(mag):
    """AB magnitude to nJy: 31.4 is the AB magnitude of 1 nJy."""
    return math.pow(10.0, -0.4 * (mag - 31.4))


POSITIVE = {"t", "1", "1.0"}
NEGATIVE = {"f", "0", "-1", "-1.0"}


def finite(x):
    return x is not None and math.isfinite(x)


def ztf_points(alert):
    """The points of a ZTF alert as python3-avro read it."""
    name = alert["objectId"]
    objid = int(name[3:5]) * 26 ** 7
    letters = 0
    for c in name[5:]:
        letters = letters * 26 + ord(c) - ord("a")
    objid += letters
    proto = dict(alert_id=alert["candid"], objid=objid, object_name=name)
    points = []

    def source(c, kind):
        band = "gri"[c["fid"] - 1]
        jd = c.get("jd")
        if not finite(jd):
            return
        mag = c.get("magpsf")
        if finite(mag):
            sigma, candid = c.get("sigmapsf"), c.get("candid")
            if not finite(sigma) or sigma < 0 or candid is None:
                return
            s = c["isdiffpos"]
            sign = 1.0 if (s in POSITIVE or s == 1) else -1.0
            assert s in POSITIVE or s in NEGATIVE or s in (0, 1, -1), s
            flux = njy(mag)
            dflux = flux * 0.4 * math.log(10.0) * sigma
            ra, dec = c.get("ra"), c.get("dec")
            if not (finite(ra) and finite(dec)):
                ra = dec = None
            p = dict(proto, source_id=candid, kind=kind, t=jd - 2400000.5, pb=band,
                     flux=flux * sign, dflux=dflux, ra=ra, dec=dec)
        elif kind == "history" and finite(c.get("diffmaglim")) and c.get("pid") is not None:
            p = dict(proto, source_id=c["pid"], kind="upper_limit", t=jd - 2400000.5, pb=band,
                     flux=0.0, dflux=njy(c["diffmaglim"]) / 5.0, ra=None, dec=None)
        else:
            return
        if finite(p["flux"]) and finite(p["dflux"]):
            points.append(p)

    def forced(f):
        band = "gri"[f["fid"] - 1]
        jd, flux, unc, zp = f.get("jd"), f.get("forcediffimflux"), f.get("forcediffimfluxunc"), f.get("magzpsci")
        if not all(finite(x) for x in (jd, flux, unc, zp)) or f.get("pid") is None:
            return
        if -99999.0 in (flux, unc, zp) or unc < 0:
            return
        scale = njy(zp)
        p = dict(proto, source_id=f["pid"], kind="forced", t=jd - 2400000.5, pb=band,
                 flux=flux * scale, dflux=unc * scale, ra=None, dec=None)
        if finite(p["flux"]) and finite(p["dflux"]):
            points.append(p)

    source(alert["candidate"], "detection")
    for c in alert.get("prv_candidates") or []:
        source(c, "history")
    for f in alert.get("fp_hists") or []:
        forced(f)
    return points


def rubin_points(alert):
    """The points of a Rubin alert as python3-avro read it."""
    dia_object = alert.get("diaObject")
    fallback = dia_object["diaObjectId"] if dia_object else None
    points = []

    def source(s, kind, id_name):
        objid = s.get("diaObjectId")
        if objid is None:
            objid = fallback
        if objid is None:
            return
        band, mjd, flux, err = s.get("band"), s.get("midpointMjdTai"), s.get("psfFlux"), s.get("psfFluxErr")
        if band is None or not finite(mjd) or not finite(flux) or not finite(err) or err < 0:
            return
        assert band in "ugrizy" and len(band) == 1, band
        ra, dec = s.get("ra"), s.get("dec")
        if not (finite(ra) and finite(dec)):
            ra = dec = None
        points.append(dict(alert_id=alert["diaSourceId"], objid=objid, object_name=str(objid),
                           source_id=s[id_name], kind=kind, t=mjd, pb=band, flux=flux,
                           dflux=err, ra=ra, dec=dec))

    source(alert["diaSource"], "detection", "diaSourceId")
    for s in alert.get("prvDiaSources") or []:
        source(s, "history", "diaSourceId")
    for s in alert.get("prvDiaForcedSources") or []:
        source(s, "forced", "diaForcedSourceId")
    return points


# ------------------------------------------------------------- comparing

FIELDS = ("alert_id", "objid", "object_name", "source_id", "kind", "t", "pb", "flux", "dflux", "ra", "dec")


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return a == b or abs(a - b) <= REL * max(abs(a), abs(b))
    return a == b


class PacketGroup(Group):
    def __init__(self, name):
        super().__init__(name)
        self.packets = 0
        self.points = 0
        self.kinds = {}

    def compare(self, cur, where, packet, expected, schema=None, framing="auto"):
        cur.execute("SELECT " + ", ".join(f'"{f}"' for f in FIELDS) +
                    " FROM alert_photometry(%s, %s, %s) WITH ORDINALITY ORDER BY ordinality",
                    (packet, schema, framing))
        got = [dict(zip(FIELDS, row)) for row in cur.fetchall()]
        self.packets += 1
        self.check(where, len(got) == len(expected), f"{len(got)} rows, {len(expected)} points expected")
        for i, (g, e) in enumerate(zip(got, expected)):
            self.points += 1
            self.kinds[e["kind"]] = self.kinds.get(e["kind"], 0) + 1
            for f in FIELDS:
                self.check(f"{where} point {i} {f}", same(g[f], e[f]), f"{g[f]!r} != {e[f]!r}")

    def parts(self):
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.kinds.items()))
        return [f"{self.packets} packets, {self.points} points ({kinds}), every field",
                f"{self.checks} checks"] + self.notes


def read_container(data):
    reader = avro.datafile.DataFileReader(io.BytesIO(data), avro.io.DatumReader())
    alerts = list(reader)
    reader.close()
    return alerts


def write_container(schema, alerts, codec="null"):
    buf = io.BytesIO()
    writer = avro.datafile.DataFileWriter(buf, avro.io.DatumWriter(), schema, codec=codec)
    for a in alerts:
        writer.append(a)
    writer.flush()
    data = buf.getvalue()
    writer.close()
    return data


def write_datum(schema, alert):
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(alert, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def read_datum(schema, data):
    return avro.io.DatumReader(schema, schema).read(avro.io.BinaryDecoder(io.BytesIO(data)))


def float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


# ------------------------------------------------------------------ (a) ZTF


def check_ztf_real(cur):
    g = PacketGroup("ZTF's real packets (schemas 3.2, 3.3)")
    for name in sorted(os.listdir(ZTF_DIR)):
        if not name.endswith(".avro"):
            continue
        data = open(os.path.join(ZTF_DIR, name), "rb").read()
        expected = [p for a in read_container(data) for p in ztf_points(a)]
        g.compare(cur, name, data, expected)
    g.report()


# ------------------------------------------------------------- (b) ZTF 4.02


def ztf402_schema():
    """ZTF's 4.02 schema files as one schema: named types inlined where first used."""
    d = os.path.join(ZTF_DIR, "schema-4.02")
    defs = {}
    for n in ("cutout", "candidate", "prv_candidate", "fp_hist"):
        s = json.load(open(os.path.join(d, n + ".avsc")))
        defs[s["namespace"] + "." + s["name"]] = s
    alert = json.load(open(os.path.join(d, "alert.avsc")))
    seen = set()

    def inline(t):
        if isinstance(t, str) and t in defs:
            if t in seen:
                return t
            seen.add(t)
            return defs[t]
        if isinstance(t, list):
            return [inline(x) for x in t]
        if isinstance(t, dict) and t.get("type") == "array":
            return dict(t, items=inline(t["items"]))
        return t

    for f in alert["fields"]:
        f["type"] = inline(f["type"])
    return avro.schema.parse(json.dumps(alert))


def filled(record_schema, values):
    """A record of record_schema: values, the rest null where nullable, else zero."""
    out = {}
    for f in record_schema.fields:
        if f.name in values:
            out[f.name] = values[f.name]
            continue
        t = f.type
        if isinstance(t, avro.schema.UnionSchema) and any(b.type == "null" for b in t.schemas):
            out[f.name] = None
        elif t.type in ("int", "long"):
            out[f.name] = 0
        elif t.type in ("float", "double"):
            out[f.name] = 0.0
        elif t.type == "string":
            out[f.name] = ""
        elif t.type == "boolean":
            out[f.name] = False
        else:
            raise ValueError(f"no default for {f.name}: {t.type}")
    return out


def field_schema(record, name):
    t = record.fields_dict[name].type
    if isinstance(t, avro.schema.UnionSchema):
        t = [b for b in t.schemas if b.type != "null"][0]
    return t.items if t.type == "array" else t


def ztf402_alerts(schema, rng, n):
    cand_s = field_schema(schema, "candidate")
    prv_s = field_schema(schema, "prv_candidates")
    fp_s = field_schema(schema, "fp_hists")
    signs = ["t", "f", "1", "0"]
    alerts = []
    for i in range(n):
        name = "ZTF%02d%s" % (rng.randrange(17, 26), "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)))
        jd0 = 2459000.5 + rng.uniform(0, 1000)
        candid = 2000000000000000000 + i * 1000

        def det(k, jd):
            return dict(jd=jd, fid=rng.randrange(1, 4), pid=candid // 10 ** 6 + k, candid=candid + k,
                        magpsf=float32(rng.uniform(14, 21)), sigmapsf=float32(rng.uniform(0.01, 0.3)),
                        isdiffpos=rng.choice(signs), diffmaglim=float32(rng.uniform(19, 21)),
                        ra=rng.uniform(0, 360), dec=rng.uniform(-30, 90))

        cand = filled(cand_s, det(0, jd0))
        prv = []
        for k in range(1, rng.randrange(1, 25)):
            v = det(k, jd0 - k)
            r = rng.random()
            if r < 0.25:                  # an upper limit: no candid, no magpsf
                v.update(candid=None, magpsf=None, sigmapsf=None, isdiffpos=None, ra=None, dec=None)
            elif r < 0.3:                 # a detection without its error: skipped
                v.update(sigmapsf=None)
            elif r < 0.33:                # neither magnitude nor limit: skipped
                v.update(candid=None, magpsf=None, sigmapsf=None, isdiffpos=None, diffmaglim=None)
            prv.append(filled(prv_s, v))
        fps = []
        for k in range(rng.randrange(0, 15)):
            flux = float32(rng.gauss(0, 300))
            v = dict(jd=jd0 - k - 0.5, fid=rng.randrange(1, 4), pid=candid // 10 ** 6 + 500 + k,
                     forcediffimflux=flux, forcediffimfluxunc=float32(abs(rng.gauss(30, 5))),
                     magzpsci=float32(rng.uniform(25.5, 26.5)), programid=1, rfid=1)
            r = rng.random()
            if r < 0.15:
                v["forcediffimflux"] = -99999.0
            elif r < 0.2:
                v["magzpsci"] = None
            fps.append(filled(fp_s, v))
        alerts.append(filled(schema, dict(schemavsn="4.02", publisher="antares validation", objectId=name,
                                          candid=candid, candidate=cand, prv_candidates=prv or None,
                                          fp_hists=fps or None)))
    return alerts


def check_ztf402(cur, rng):
    g = PacketGroup("ZTF 4.02 packets written with ZTF's schema")
    schema = ztf402_schema()
    for i, alert in enumerate(ztf402_alerts(schema, rng, 80)):
        data = write_container(schema, [alert], codec="deflate" if i % 2 else "null")
        expected = [p for a in read_container(data) for p in ztf_points(a)]
        g.compare(cur, f"alert {i}", data, expected)
    g.report()


# --------------------------------------------------------------- (c) Rubin

RUBIN_SCHEMA = {
    "type": "record", "name": "alert", "namespace": "lsst.v11_0", "fields": [
        {"name": "diaSourceId", "type": "long"},
        {"name": "observation_reason", "type": ["null", "string"], "default": None},
        {"name": "diaSource", "type": {"type": "record", "name": "diaSource", "fields": [
            {"name": "diaSourceId", "type": "long"},
            {"name": "visit", "type": "long"},
            {"name": "detector", "type": "int"},
            {"name": "diaObjectId", "type": ["null", "long"], "default": None},
            {"name": "ssObjectId", "type": ["null", "long"], "default": None},
            {"name": "midpointMjdTai", "type": "double"},
            {"name": "ra", "type": "double"},
            {"name": "raErr", "type": ["null", "float"], "default": None},
            {"name": "dec", "type": "double"},
            {"name": "decErr", "type": ["null", "float"], "default": None},
            {"name": "psfFlux", "type": ["null", "float"], "default": None},
            {"name": "psfFluxErr", "type": ["null", "float"], "default": None},
            {"name": "snr", "type": ["null", "float"], "default": None},
            {"name": "band", "type": ["null", "string"], "default": None},
            {"name": "isDipole", "type": ["null", "boolean"], "default": None}]}},
        {"name": "prvDiaSources", "type": ["null", {"type": "array", "items": "lsst.v11_0.diaSource"}],
         "default": None},
        {"name": "prvDiaForcedSources", "type": ["null", {"type": "array", "items": {
            "type": "record", "name": "diaForcedSource", "fields": [
                {"name": "diaForcedSourceId", "type": "long"},
                {"name": "diaObjectId", "type": "long"},
                {"name": "ra", "type": "double"},
                {"name": "dec", "type": "double"},
                {"name": "visit", "type": "long"},
                {"name": "detector", "type": "int"},
                {"name": "psfFlux", "type": ["null", "float"], "default": None},
                {"name": "psfFluxErr", "type": ["null", "float"], "default": None},
                {"name": "midpointMjdTai", "type": "double"},
                {"name": "band", "type": ["null", "string"], "default": None}]}}], "default": None},
        {"name": "diaObject", "type": ["null", {"type": "record", "name": "diaObject", "fields": [
            {"name": "diaObjectId", "type": "long"},
            {"name": "ra", "type": "double"},
            {"name": "dec", "type": "double"},
            {"name": "nDiaSources", "type": "int"}]}], "default": None},
        {"name": "cutoutDifference", "type": ["null", "bytes"], "default": None},
        {"name": "cutoutScience", "type": ["null", "bytes"], "default": None}]}


def rubin_alerts(rng, n):
    alerts = []
    for i in range(n):
        objid = rng.randrange(1, 2 ** 62)
        mjd0 = 60800 + rng.uniform(0, 365)
        base = 10 ** 17 + i * 1000

        def src(k):
            s = dict(diaSourceId=base + k, visit=rng.randrange(10 ** 9), detector=rng.randrange(189),
                     diaObjectId=objid, ssObjectId=None, midpointMjdTai=mjd0 - k * rng.uniform(0.5, 3),
                     ra=rng.uniform(0, 360), raErr=float32(1e-5), dec=rng.uniform(-90, 30), decErr=None,
                     psfFlux=float32(rng.gauss(1000, 800)), psfFluxErr=float32(abs(rng.gauss(40, 10))),
                     snr=float32(rng.uniform(5, 50)), band=rng.choice("ugrizy"), isDipole=False)
            r = rng.random()
            if r < 0.05:
                s["psfFlux"] = None
            elif r < 0.08:
                s["psfFlux"] = float("nan")
            elif r < 0.1:
                s["band"] = None
            elif r < 0.13:
                s["psfFluxErr"] = float("nan")
            return s

        source = src(0)
        with_object = rng.random() < 0.7
        if rng.random() < 0.2:          # the source names no object: the alert's diaObject's, if any
            source["diaObjectId"] = None
        prv = [src(k) for k in range(1, rng.randrange(1, 30))]
        for s in prv:
            if rng.random() < 0.1:
                s["diaObjectId"] = None
        forced = []
        for k in range(rng.randrange(0, 8)):
            forced.append(dict(diaForcedSourceId=base + 500 + k, diaObjectId=objid, ra=rng.uniform(0, 360),
                               dec=rng.uniform(-90, 30), visit=rng.randrange(10 ** 9), detector=1,
                               psfFlux=float32(rng.gauss(0, 100)) if rng.random() > 0.1 else None,
                               psfFluxErr=float32(abs(rng.gauss(30, 5))), midpointMjdTai=mjd0 - k - 0.25,
                               band=rng.choice("ugrizy")))
        alerts.append(dict(
            diaSourceId=source["diaSourceId"], observation_reason=None, diaSource=source,
            prvDiaSources=prv or None, prvDiaForcedSources=forced or None,
            diaObject=dict(diaObjectId=objid, ra=1.0, dec=2.0, nDiaSources=len(prv) + 1) if with_object else None,
            cutoutDifference=bytes(rng.randrange(256) for _ in range(rng.choice((0, 64, 2000)))) or None,
            cutoutScience=None))
    return alerts


def check_rubin(cur, rng):
    schema = avro.schema.parse(json.dumps(RUBIN_SCHEMA))
    schema_text = json.dumps(RUBIN_SCHEMA)
    alerts = rubin_alerts(rng, 200)
    cur.execute("INSERT INTO alert_schemas (id, schema) VALUES (%s, %s)", (CONFLUENT_ID, schema_text))

    g = PacketGroup("Rubin-format packets written here, in containers")
    for codec in ("null", "deflate"):
        for start in range(0, 100, 25):
            data = write_container(schema, alerts[start:start + 25], codec)
            expected = [p for a in read_container(data) for p in rubin_points(a)]
            g.compare(cur, f"{codec} container of alerts {start}..{start + 24}", data, expected)
    g.report()

    g = PacketGroup("Rubin-format Confluent messages (schema from alert_schemas) and bare datums")
    for i, alert in enumerate(alerts[100:]):
        datum = write_datum(schema, alert)
        expected = rubin_points(read_datum(schema, datum))
        message = b"\x00" + struct.pack(">i", CONFLUENT_ID) + datum
        g.compare(cur, f"Confluent message {i}", message, expected)
        g.compare(cur, f"bare datum {i}", datum, expected, schema=schema_text, framing="bare")
        g.compare(cur, f"Confluent message {i} with its schema", message, expected, schema=schema_text)
    g.report()


# ---------------------------------------------------------- (d) Rubin sample


def check_rubin_sample(cur):
    g = PacketGroup("Rubin's sample packet (schema 11.0)")
    if not os.path.exists(RUBIN_SAMPLE):
        g.note("skipped: not at hand (GPL, not shipped; set ANTARES_RUBIN_SAMPLE)")
        g.report()
        return
    data = open(RUBIN_SAMPLE, "rb").read()
    alerts = read_container(data)
    expected = [p for a in alerts for p in rubin_points(a)]
    g.compare(cur, os.path.basename(RUBIN_SAMPLE), data, expected)
    g.check("sample", len(expected) > 0, "the sample gave no points")
    g.report()


def main():
    rng = random.Random(20261207)
    with database("antares.alert_photometry") as (conn, cur):
        check_ztf_real(cur)
        check_ztf402(cur, rng)
        check_rubin(cur, rng)
        check_rubin_sample(cur)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
