-- Alert packets: alert_photometry, alert_schemas, ztf_object_id and
-- ztf_object_name on ZTF's two real packets (test/data/alerts/ztf).
\i sql/fixtures/error_of.sql
\i sql/fixtures/alert_packets.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- ZTF17aaacxxf, schema 3.2: the candidate, 22 detections and 6 upper limits
-- in its history; fluxes in nJy (10^(-0.4 (magpsf - 31.4))), the sign from
-- isdiffpos; upper limits flux 0 and dflux the 5-sigma limit's flux / 5.
SELECT kind, count(*), count(DISTINCT source_id) AS sources, min(t), max(t),
       count(*) FILTER (WHERE flux < 0) AS negative, bool_and(ra IS NULL) AS no_position
FROM alert_files, alert_photometry(packet) WHERE name LIKE '2019%'
GROUP BY kind ORDER BY kind;
SELECT alert_id, objid, object_name, source_id, kind, t, pb, flux, dflux, ra, "dec"
FROM alert_files, alert_photometry(packet)
WHERE name LIKE '2019%' AND kind = 'detection';
-- The candidate by hand: magpsf 15.371133804321289 and sigmapsf
-- 0.044493019580841064 (float32 values), isdiffpos 'f'.
SELECT abs(flux + 10 ^ (-0.4 * (15.371133804321289 - 31.4))) < 1e-12 * abs(flux) AS flux_from_magpsf,
       abs(dflux - abs(flux) * 0.4 * ln(10) * 0.044493019580841064) < 1e-12 * dflux AS dflux_propagated
FROM alert_files, alert_photometry(packet) WHERE name LIKE '2019%' AND kind = 'detection';

-- ZTF17aaajnnn, schema 3.3: the candidate and 11 upper limits.
SELECT kind, pb, count(*), min(source_id), max(source_id), round(min(dflux)::numeric, 3) AS min_dflux
FROM alert_files, alert_photometry(packet) WHERE name LIKE '4722%'
GROUP BY kind, pb ORDER BY kind, pb;

-- ZTF object ids and their numbers: both ways, every objid of the packets.
SELECT ztf_object_id('ZTF17aaacxxf') AS id, ztf_object_name(136540824295) AS name,
       ztf_object_id('ZTF00aaaaaaa') AS first, ztf_object_name((100 * 26 ^ 7 - 1)::bigint) AS last;
SELECT bool_and(ztf_object_id(object_name) = objid AND ztf_object_name(objid) = object_name) AS round_trip
FROM alert_files, alert_photometry(packet);

-- Framing: auto finds the container; said explicitly it is the same.
SELECT (SELECT count(*) FROM alert_files, alert_photometry(packet, NULL, 'container'))
     = (SELECT count(*) FROM alert_files, alert_photometry(packet)) AS explicit_container;
-- A NULL packet has no points.
SELECT count(*) AS null_packet FROM alert_photometry(NULL);

-- Loading: alert_points gives a batch's points as a table stores them,
-- each (objid, kind, source_id) once, a history entry as the detection it
-- was, with the lowest alert_id that carried it; with the table's key and
-- ON CONFLICT DO NOTHING, loading again (or a later packet repeating the
-- history) adds nothing.
CREATE TEMP TABLE alertphot (
    objid bigint, t float8, pb text, flux float8, dflux float8,
    kind text, source_id bigint, alert_id bigint, ra float8, "dec" float8,
    PRIMARY KEY (objid, kind, source_id));
INSERT INTO alertphot
SELECT * FROM alert_points(ARRAY(SELECT packet FROM alert_files ORDER BY name)) ON CONFLICT DO NOTHING;
SELECT kind, count(*), count(DISTINCT alert_id) AS alerts FROM alertphot GROUP BY kind ORDER BY kind;
INSERT INTO alertphot
SELECT * FROM alert_points(ARRAY(SELECT packet FROM alert_files)) ON CONFLICT DO NOTHING;
SELECT count(*) AS after_second_load FROM alertphot;
-- The same as alert_photometry's rows with history stored as detection.
SELECT count(*) AS differences FROM (
  (SELECT * FROM alertphot EXCEPT
   SELECT objid, t, pb, flux, dflux, CASE kind WHEN 'history' THEN 'detection' ELSE kind END,
          source_id, alert_id, ra, "dec" FROM alert_files, alert_photometry(packet))
  UNION ALL
  (SELECT objid, t, pb, flux, dflux, CASE kind WHEN 'history' THEN 'detection' ELSE kind END,
          source_id, alert_id, ra, "dec" FROM alert_files, alert_photometry(packet)
   EXCEPT SELECT * FROM alertphot)) d;
-- A packet repeated in a batch, NULL elements, an empty batch, no batch.
SELECT (SELECT count(*) FROM alert_points(ARRAY(SELECT packet FROM alert_files, generate_series(1, 3)))) AS thrice,
       (SELECT count(*) FROM alert_points(ARRAY[NULL, (SELECT packet FROM alert_files WHERE name LIKE '4722%'), NULL])) AS with_nulls,
       (SELECT count(*) FROM alert_points('{}')) AS empty,
       (SELECT count(*) FROM alert_points(NULL)) AS no_batch;
-- Writer schemas by Confluent id: a schema the decoder cannot read is
-- refused when it is added.
SELECT public.error_of(q) FROM (VALUES
  ($$INSERT INTO alert_schemas (id, schema) VALUES (1, 'not json')$$),
  ($$INSERT INTO alert_schemas (id, schema) VALUES (1, '"long"')$$),
  ($$INSERT INTO alert_schemas (id, schema) VALUES (1, '{"type":"record","name":"exposure","fields":[{"name":"x","type":"long"}]}')$$),
  ($$INSERT INTO alert_schemas (id, schema) VALUES (1, '{"type":"record","name":"alert","fields":[{"name":"diaSourceId","type":"long"},{"name":"diaSource","type":{"type":"record","name":"diaSource","fields":[{"name":"diaSourceId","type":"long"}]}}]}')$$),
  -- a history source's ra a string (libavro's resolver would crash on it)
  ($$INSERT INTO alert_schemas (id, schema) VALUES (1, '{"type":"record","name":"alert","fields":[{"name":"diaSourceId","type":"long"},{"name":"diaSource","type":{"type":"record","name":"diaSource","fields":[{"name":"diaSourceId","type":"long"},{"name":"diaObjectId","type":"long"},{"name":"midpointMjdTai","type":"double"},{"name":"band","type":"string"},{"name":"psfFlux","type":"float"},{"name":"psfFluxErr","type":"float"},{"name":"ra","type":"double"},{"name":"dec","type":"double"}]}},{"name":"prvDiaSources","type":{"type":"array","items":{"type":"record","name":"prvDiaSource","fields":[{"name":"diaSourceId","type":"long"},{"name":"diaObjectId","type":"long"},{"name":"midpointMjdTai","type":"double"},{"name":"band","type":"string"},{"name":"psfFlux","type":"float"},{"name":"psfFluxErr","type":"float"},{"name":"ra","type":"string"},{"name":"dec","type":"double"}]}}}]}')$$)
) AS v(q);
-- Bad packets: a clear ERROR with its SQLSTATE, nothing returned.
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT * FROM alert_photometry('\x0102'::bytea)$$),
  ($$SELECT * FROM alert_photometry('\x0000000007aabbcc'::bytea)$$),
  ($$SELECT * FROM alert_photometry('\x4f626a01'::bytea)$$),
  ($$SELECT * FROM alert_photometry('\x0102'::bytea, NULL, 'bare')$$),
  ($$SELECT * FROM alert_photometry('\x0102'::bytea, NULL, 'json')$$),
  ($$SELECT * FROM alert_photometry('\x0102'::bytea, NULL, NULL)$$),
  ($$SELECT * FROM alert_photometry((SELECT packet FROM alert_files WHERE name LIKE '4722%'), '"long"')$$),
  ($$SELECT * FROM alert_photometry(substring((SELECT packet FROM alert_files WHERE name LIKE '4722%') FROM 1 FOR 30000))$$),
  ($$SELECT * FROM alert_photometry((SELECT packet FROM alert_files WHERE name LIKE '4722%') || '\x00'::bytea)$$),
  ($$SELECT * FROM alert_photometry('\x0102'::bytea, '{"type":"record","name":"x","fields":[{"name":"a","type":"long"}]}', 'bare')$$),
  ($$SELECT * FROM alert_points(ARRAY[(SELECT packet FROM alert_files LIMIT 1), '\x0102'::bytea])$$),
  ($$SELECT * FROM alert_points(ARRAY['\x0102'::bytea], NULL, NULL)$$),
  ($$SELECT ztf_object_id('ZTF17aaaCxxf')$$),
  ($$SELECT ztf_object_name(-1)$$)
) AS v(q);

-- Every truncation of a packet (every 499th length) and every 199th byte
-- flipped: an ERROR of the decoder (22P03 corrupt, 22023 invalid value,
-- 42703 missing field, ...) or points, never a crash.
SELECT count(*) AS truncations, count(*) FILTER (WHERE e LIKE '22P03:%') AS corrupt
FROM (SELECT public.error_of(format('SELECT * FROM alert_photometry(substring(%L::bytea FROM 1 FOR %s))',
                                   packet, n)) AS e
      FROM alert_files, generate_series(1, length(packet) - 1, 499) n
      WHERE name LIKE '4722%') s;
SELECT count(*) AS flips, count(*) FILTER (WHERE e = 'no error' OR e ~ '^(22P03|22023|42703|42804):') AS handled
FROM (SELECT public.error_of(format('SELECT * FROM alert_photometry(set_byte(%L::bytea, %s, 255 - get_byte(%L::bytea, %s)))',
                                   packet, n, packet, n)) AS e
      FROM alert_files, generate_series(0, length(packet) - 1, 199) n
      WHERE name LIKE '4722%') s;
