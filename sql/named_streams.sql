-- Named streams: stream_create, filters, stream_process, stream_advance,
-- stream_reject.  What a stream stores must not depend on how its points
-- were cut into batches or in which order they came.
\i sql/fixtures/error_of.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- 60 simulated objects over their first 400 days, every point a detection
-- with its own source id; models trained on their whole light curves.
CREATE TEMP TABLE sim AS
SELECT objid, t, pb, flux, dflux, 'detection'::text AS kind,
       objid * 100000 + row_number() OVER (PARTITION BY objid ORDER BY t) AS source_id,
       objid * 100000 + row_number() OVER (PARTITION BY objid ORDER BY t) AS alert_id,
       NULL::float8 AS ra, NULL::float8 AS "dec", label
FROM simulate_survey(60, 11) WHERE t < 60400;
CREATE TEMP TABLE models AS
SELECT svm_train(x, label) AS svm, iforest_train(x) AS forest
FROM (SELECT feature_vector(lc_features(pb, flux, dflux)) AS x, min(label) AS label
      FROM sim GROUP BY objid) s;
SELECT count(*) AS points, count(DISTINCT objid) AS objects FROM sim;

-- Bad streams.
SELECT q, error_of(q) FROM (VALUES
  ($$SELECT stream_create('Bad')$$),
  ($$SELECT stream_create('a-b')$$),
  ($$SELECT stream_create('pg_x')$$),
  ($$SELECT stream_create(NULL)$$),
  ($$SELECT stream_create('s', min_obs => 0)$$),
  ($$SELECT stream_create('public')$$),
  ($$SELECT stream_create('s', (SELECT svm_train(ARRAY[x, x * x], (x > 0.5)::int) FROM generate_series(0, 1, 0.1) x))$$),
  ($$SELECT stream_drop('nosuch')$$)) AS v(q);
SELECT count(*) AS streams_left FROM streams;

-- Three streams of the same points: in one batch, in 10-day windows in
-- time order, and in batches of 300 points in a random order.
SELECT stream_create(n, (SELECT svm FROM models), (SELECT forest FROM models), 3)
FROM unnest(ARRAY['st_one', 'st_windows', 'st_shuffled']) AS n;
SELECT name, classifier IS NOT NULL AS classifier, anomaly IS NOT NULL AS anomaly, min_obs
FROM streams ORDER BY name;
-- models of another dimension are refused when stored, as by stream_create
SELECT error_of($$UPDATE streams SET classifier = (SELECT svm_train(ARRAY[x, x * x], (x > 0.5)::int)
                                                   FROM generate_series(0, 1, 0.1) x)
                  WHERE name = 'st_one'$$);
SELECT stream_add_filter(n, 'unusual', 'anomaly < 0 AND n_obs >= 5', 'unusual-out'),
       stream_add_filter(n, 'red', 'class = 1 AND g_minus_r > 0.2', channel => 'red_alerts')
FROM unnest(ARRAY['st_one', 'st_windows', 'st_shuffled']) AS n;
SELECT name, predicate, topic, channel FROM st_one.filters ORDER BY name;

-- Bad filters are refused when added.
SELECT q, error_of(q) FROM (VALUES
  ($$SELECT stream_add_filter('nosuch', 'f', 'true')$$),
  ($$SELECT stream_add_filter('st_one', 'F', 'true')$$),
  ($$SELECT stream_add_filter('st_one', 'f', NULL)$$),
  ($$SELECT stream_add_filter('st_one', 'f', '  ')$$),
  ($$SELECT stream_add_filter('st_one', 'f', 'true); DROP TABLE sim; SELECT (true')$$),
  ($$SELECT stream_add_filter('st_one', 'f', 'no_such_feature > 1')$$),
  ($$SELECT stream_add_filter('st_one', 'f', 'anomaly +')$$),
  ($$SELECT stream_add_filter('st_one', 'f', 'anomaly + 1')$$),
  ($$SELECT stream_add_filter('st_one', 'f', 'true', 'bad topic')$$),
  ($$SELECT stream_add_filter('st_one', 'f', 'true', channel => '')$$),
  ($$SELECT stream_add_filter('st_one', 'unusual', 'true')$$),
  ($$SELECT stream_drop_filter('st_one', 'nosuch')$$)) AS v(q);
SELECT count(*) AS filters FROM st_one.filters;

CREATE TEMP TABLE batch (LIKE sim);
ALTER TABLE batch DROP COLUMN label;

INSERT INTO batch SELECT objid, t, pb, flux, dflux, kind, source_id, alert_id, ra, "dec" FROM sim;
SELECT * FROM stream_process('st_one', 'batch');
-- the same points again change nothing
SELECT * FROM stream_process('st_one', 'batch');

DO $$
DECLARE d float8;
BEGIN
  FOR d IN SELECT generate_series(60000, 60390, 10) LOOP
    DELETE FROM batch;
    INSERT INTO batch SELECT objid, t, pb, flux, dflux, kind, source_id, alert_id, ra, "dec"
    FROM sim WHERE t >= d AND t < d + 10;
    PERFORM stream_process('st_windows', 'batch');
  END LOOP;
END $$;

CREATE TEMP TABLE shuffled AS
SELECT *, (row_number() OVER (ORDER BY md5(source_id::text)) - 1) / 300 AS part FROM sim;
DO $$
DECLARE k bigint;
BEGIN
  FOR k IN SELECT DISTINCT part FROM shuffled ORDER BY 1 LOOP
    DELETE FROM batch;
    INSERT INTO batch SELECT objid, t, pb, flux, dflux, kind, source_id, alert_id, ra, "dec"
    FROM shuffled WHERE part = k;
    PERFORM stream_process('st_shuffled', 'batch');
  END LOOP;
END $$;

-- Every stream has every point once, and every detection evaluated.
SELECT 'st_one' AS s, (SELECT count(*) FROM st_one.points) AS points,
       (SELECT count(*) FROM st_one.objects) AS objects, (SELECT count(*) FROM st_one.batches) AS batches
UNION ALL
SELECT 'st_windows', (SELECT count(*) FROM st_windows.points), (SELECT count(*) FROM st_windows.objects),
       (SELECT count(*) FROM st_windows.batches)
UNION ALL
SELECT 'st_shuffled', (SELECT count(*) FROM st_shuffled.points), (SELECT count(*) FROM st_shuffled.objects),
       (SELECT count(*) FROM st_shuffled.batches);
SELECT 'st_windows' AS s, sum(points_in) AS points_in, sum(points_new) AS points_new, sum(evaluations) AS evaluations
FROM st_windows.batches
UNION ALL
SELECT 'st_shuffled', sum(points_in), sum(points_new), sum(evaluations) FROM st_shuffled.batches;

-- The objects are their points' lc_features, and the same in every stream.
SELECT count(*) AS objects,
       count(*) FILTER (WHERE o.features IS DISTINCT FROM w.f) AS features_differ,
       count(*) FILTER (WHERE o.n_obs <> w.n) AS counts_differ,
       count(*) FILTER (WHERE o.class IS NULL) AS unclassified
FROM st_one.objects o
JOIN (SELECT objid, lc_features(pb, flux, dflux) AS f, count(*) AS n FROM sim GROUP BY objid) w USING (objid);
SELECT count(*) FILTER (WHERE (a.features, a.class, a.anomaly, a.n_obs, a.last_t)
                              IS DISTINCT FROM (b.features, b.class, b.anomaly, b.n_obs, b.last_t)) AS windows_differ,
       count(*) FILTER (WHERE (a.features, a.class, a.anomaly, a.n_obs, a.last_t)
                              IS DISTINCT FROM (c.features, c.class, c.anomaly, c.n_obs, c.last_t)) AS shuffled_differ,
       count(*) FILTER (WHERE lc_merge(a.state, a.recent) <> lc_merge(c.state, c.recent)) AS states_differ
FROM st_one.objects a JOIN st_windows.objects b USING (objid) JOIN st_shuffled.objects c USING (objid);

-- An alert is its detection evaluated on the object's points up to its
-- time: the same alerts whatever the batches.
CREATE TEMP VIEW alert_rows AS
SELECT 'st_one' AS s, filter, objid, source_id, t, n_obs, class, anomaly, features FROM st_one.alerts
UNION ALL SELECT 'st_windows', filter, objid, source_id, t, n_obs, class, anomaly, features FROM st_windows.alerts
UNION ALL SELECT 'st_shuffled', filter, objid, source_id, t, n_obs, class, anomaly, features FROM st_shuffled.alerts;
SELECT filter, count(*) FILTER (WHERE s = 'st_one') AS one,
       count(*) FILTER (WHERE s = 'st_windows') AS windows,
       count(*) FILTER (WHERE s = 'st_shuffled') AS shuffled
FROM alert_rows GROUP BY filter ORDER BY filter;
SELECT count(*) AS alerts_not_in_all_three
FROM (SELECT filter, objid, source_id, t, n_obs, class, anomaly, features, count(*) AS n
      FROM alert_rows GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) g WHERE n <> 3;
-- checked against a recomputation from the points
SELECT count(*) AS alerts,
       count(*) FILTER (WHERE a.features IS DISTINCT FROM
                              (SELECT lc_features(p.pb, p.flux, p.dflux) FROM sim p
                               WHERE p.objid = a.objid AND p.t <= a.t)) AS features_differ,
       count(*) FILTER (WHERE a.anomaly IS DISTINCT FROM
                              iforest_decision((SELECT forest FROM models), feature_vector(a.features))) AS anomaly_differs,
       count(*) FILTER (WHERE NOT (a.anomaly < 0 AND a.n_obs >= 5)) AS fail_the_filter
FROM st_one.alerts a WHERE filter = 'unusual';
SELECT count(*) AS missed
FROM sim d
CROSS JOIN LATERAL (SELECT lc_features(p.pb, p.flux, p.dflux) AS f, count(*) AS n
                    FROM sim p WHERE p.objid = d.objid AND p.t <= d.t) e
WHERE e.n >= 5 AND iforest_decision((SELECT forest FROM models), feature_vector(e.f)) < 0
  AND NOT EXISTS (SELECT FROM st_one.alerts a WHERE a.filter = 'unusual' AND a.source_id = d.source_id);

-- Outbox: the topic's filter only; one message per change, the last one
-- per key live exactly for the alerts there are.  In time order nothing is
-- retracted; in a random order earlier evaluations are.
SELECT 'st_windows' AS s, count(*) AS messages, count(DISTINCT key) AS keys, count(*) FILTER (WHERE payload IS NULL) AS retractions,
       count(DISTINCT topic) AS topics FROM st_windows.outbox
UNION ALL
SELECT 'st_shuffled', count(*), count(DISTINCT key), count(*) FILTER (WHERE payload IS NULL), count(DISTINCT topic)
FROM st_shuffled.outbox;
SELECT count(*) FILTER (WHERE l.payload IS NOT NULL AND a.key IS NULL) AS live_without_alert,
       count(*) FILTER (WHERE l.payload IS NULL AND a.key IS NOT NULL) AS retracted_alert_exists,
       count(*) FILTER (WHERE l.payload IS NOT NULL AND l.payload::jsonb <> jsonb_build_object(
           'key', a.key, 'stream', 'st_shuffled', 'filter', a.filter, 'objid', a.objid, 'source_id', a.source_id,
           't', a.t, 'n_obs', a.n_obs, 'class', a.class, 'anomaly', a.anomaly, 'features', to_jsonb(a.features)))
         AS payload_differs
FROM (SELECT DISTINCT ON (key) key, payload FROM st_shuffled.outbox ORDER BY key, seq DESC) l
FULL JOIN (SELECT * FROM st_shuffled.alerts WHERE filter = 'unusual') a USING (key);
SELECT key, payload->'objid' AS objid, payload->'n_obs' AS n_obs, payload->'class' AS class
FROM st_windows.outbox ORDER BY seq LIMIT 3;

-- A late point (before the last detections) re-evaluates the detections at
-- or after it; an upper limit is stored but measures nothing.
SELECT count(*) AS detections_after FROM st_windows.points WHERE objid = 7 AND t >= 60100;
DELETE FROM batch;
INSERT INTO batch VALUES (7, 60100, 'g', 5e5, 10, 'forced', 1, NULL, NULL, NULL),
                         (7, 60398, 'r', 0, 40, 'upper_limit', 2, NULL, NULL, NULL),
                         (8, 60399, 'r', 0, 40, 'upper_limit', 2, NULL, NULL, NULL);
SELECT * FROM stream_process('st_windows', 'batch');
SELECT n_obs, (features).g_n AS g_n FROM st_windows.objects WHERE objid = 7;
SELECT count(*) AS features_differ
FROM st_windows.alerts a
WHERE a.objid = 7 AND a.features IS DISTINCT FROM
      (SELECT lc_features(p.pb, p.flux, p.dflux) FROM st_windows.points p
       WHERE p.objid = 7 AND p.t <= a.t AND p.kind <> 'upper_limit');
SELECT kind, count(*) FROM st_windows.points WHERE objid IN (7, 8) GROUP BY kind ORDER BY kind;
-- A point carried by several alerts keeps the lowest alert_id, whichever
-- came first; it is not new again.
TRUNCATE batch;
INSERT INTO batch VALUES (8, 60399, 'r', 0, 40, 'upper_limit', 2, 500, NULL, NULL);
SELECT points_new FROM stream_process('st_windows', 'batch');
UPDATE batch SET alert_id = 400;
SELECT points_new FROM stream_process('st_windows', 'batch');
UPDATE batch SET alert_id = 450;
SELECT points_new FROM stream_process('st_windows', 'batch');
SELECT alert_id FROM st_windows.points WHERE objid = 8 AND kind = 'upper_limit';

-- Bad rows in a batch: the batch is an error and nothing of it stays.
CREATE FUNCTION pg_temp.batch_of(row_values text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM batch;
  EXECUTE 'INSERT INTO batch VALUES ' || row_values;
  RETURN error_of($q$SELECT stream_process('st_windows', 'batch')$q$);
END $$;
SELECT r, pg_temp.batch_of(r) FROM (VALUES
  ($$(1, 60000, 'g', 1, 1, 'bogus', 9, NULL, NULL, NULL)$$),
  ($$(1, 60000, 'x', 1, 1, 'detection', 9, NULL, NULL, NULL)$$),
  ($$(1, 60000, 'g', 1, 0, 'detection', 9, NULL, NULL, NULL)$$),
  ($$(1, 60000, 'g', 'NaN', 1, 'detection', 9, NULL, NULL, NULL)$$),
  ($$(1, 'Infinity', 'g', 1, 1, 'detection', 9, NULL, NULL, NULL)$$),
  ($$(1, 60000, 'g', 1, 1, 'detection', NULL, NULL, NULL, NULL)$$)) AS v(r);
SELECT count(*) AS points FROM st_windows.points WHERE objid = 1 AND source_id = 9;
SELECT q, error_of(q) FROM (VALUES
  ($$SELECT stream_process('nosuch', 'batch')$$),
  ($$SELECT stream_process('st_one', 'models')$$),
  ($$SELECT stream_process('st_one', 'no_such_table')$$)) AS v(q);

-- Offsets move only from where the caller read them.
SELECT stream_advance('st_one', ARRAY['alerts', 'alerts'], ARRAY[0, 1], ARRAY[NULL, NULL]::bigint[], ARRAY[10, 4]);
SELECT stream_advance('st_one', ARRAY['alerts'], ARRAY[0], ARRAY[10], ARRAY[25]);
SELECT q, error_of(q) FROM (VALUES
  ($$SELECT stream_advance('st_one', ARRAY['alerts'], ARRAY[0], ARRAY[NULL]::bigint[], ARRAY[30])$$),
  ($$SELECT stream_advance('st_one', ARRAY['alerts'], ARRAY[1], ARRAY[3], ARRAY[30])$$),
  ($$SELECT stream_advance('st_one', ARRAY['alerts'], ARRAY[1], ARRAY[4], ARRAY[3])$$),
  ($$SELECT stream_advance('st_one', ARRAY['alerts'], ARRAY[0, 1], ARRAY[25], ARRAY[30])$$),
  ($$SELECT stream_advance('st_one', ARRAY['alerts'], ARRAY[1], ARRAY[4], NULL)$$),
  ($$SELECT stream_advance('nosuch', ARRAY['alerts'], ARRAY[1], ARRAY[4], ARRAY[5])$$)) AS v(q);
SELECT topic, partition, next_offset FROM st_one.offsets ORDER BY 1, 2;
SELECT count(*) AS other_streams_offsets FROM st_windows.offsets;

-- Rejected packets: the same offset again overwrites.
SELECT stream_reject('st_one', 'alerts', 0, 17, 'corrupt: truncated datum', '\x00ff');
SELECT stream_reject('st_one', 'alerts', 0, 17, 'corrupt: trailing bytes', '\x00ffee');
SELECT topic, partition, "offset", error, packet FROM st_one.rejects;

-- Dropping a filter drops its alerts; dropping a stream drops its schema.
SELECT stream_drop_filter('st_one', 'red');
SELECT filter, count(*) FROM st_one.alerts GROUP BY filter;
SET client_min_messages = warning;
SELECT stream_drop(n) FROM unnest(ARRAY['st_one', 'st_windows', 'st_shuffled']) AS n;
SELECT count(*) AS streams, (SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'st\_%') AS schemas FROM streams;
