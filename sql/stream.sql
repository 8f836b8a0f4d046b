-- Stored light-curve states: lc_accumulate, lc_merge, lc_finalize.
\i sql/fixtures/shipped_data.sql
\i sql/fixtures/error_of.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- Each training object's rows in three "nights" (by thirds of its time
-- span, so some nights of some objects are empty); states per night.
CREATE TEMP TABLE nights AS
SELECT objid, night, lc_accumulate(pb, flux, dflux) AS s, count(*) AS n
FROM (SELECT r.*, least(2, floor(3 * (t - lo) / nullif(hi - lo, 0)))::int AS night
      FROM rawphot r
      JOIN (SELECT objid, min(t) lo, max(t) hi FROM rawphot GROUP BY objid) b USING (objid)) r
GROUP BY objid, night;
SELECT count(DISTINCT objid) AS objects, count(*) AS states, sum(n) AS rows,
       count(*) FILTER (WHERE lc_count(s) <> n) AS counts_differ FROM nights;

-- Merged state by state (the function) or all at once (the aggregate), in
-- any order, the features are lc_features over all the rows, to the bit.
CREATE TEMP TABLE whole AS
SELECT objid, lc_features(pb, flux, dflux)::text AS f FROM rawphot GROUP BY objid;
WITH merged AS (
  SELECT objid,
         lc_merge(lc_merge((SELECT s FROM nights n WHERE n.objid = o.objid AND night = 0),
                           (SELECT s FROM nights n WHERE n.objid = o.objid AND night = 1)),
                  (SELECT s FROM nights n WHERE n.objid = o.objid AND night = 2)) AS forward,
         lc_merge((SELECT s FROM nights n WHERE n.objid = o.objid AND night = 2),
                  lc_merge((SELECT s FROM nights n WHERE n.objid = o.objid AND night = 1),
                           (SELECT s FROM nights n WHERE n.objid = o.objid AND night = 0))) AS backward,
         (SELECT lc_merge(s ORDER BY night DESC) FROM nights n WHERE n.objid = o.objid) AS aggregated
  FROM (SELECT DISTINCT objid FROM rawphot) o)
SELECT count(*) AS objects,
       count(*) FILTER (WHERE lc_finalize(forward)::text IS DISTINCT FROM w.f) AS forward_differs,
       count(*) FILTER (WHERE lc_finalize(aggregated)::text IS DISTINCT FROM w.f) AS aggregate_differs,
       count(*) FILTER (WHERE lc_finalize(lc_merge(forward, NULL), backward)::text IS DISTINCT FROM
                              lc_finalize(lc_merge(forward, backward))::text) AS two_states_differ,
       count(*) FILTER (WHERE forward::text IS DISTINCT FROM backward::text) AS order_matters,
       count(*) FILTER (WHERE forward::text IS DISTINCT FROM aggregated::text) AS forms_differ
FROM merged JOIN whole w USING (objid);

-- The state of all the rows at once is the same value as the merged one.
SELECT count(*) FILTER (WHERE a.s::text IS DISTINCT FROM m.s::text) AS differ
FROM (SELECT objid, lc_accumulate(pb, flux, dflux) AS s FROM rawphot GROUP BY objid) a
JOIN (SELECT objid, lc_merge(s) AS s FROM nights GROUP BY objid) m USING (objid);

-- Parallel aggregation of states gives the same values.
\i sql/fixtures/force_parallel.sql
CREATE TEMP TABLE par_states AS SELECT objid, lc_accumulate(pb, flux, dflux) AS s FROM rawphot GROUP BY objid;
\i sql/fixtures/reset_parallel.sql
SELECT count(*) FILTER (WHERE p.s::text IS DISTINCT FROM a.s::text) AS parallel_differs
FROM par_states p JOIN (SELECT objid, lc_accumulate(pb, flux, dflux) AS s FROM rawphot GROUP BY objid) a USING (objid);

-- NULL is the state of no rows.
SELECT lc_merge(NULL, NULL) IS NULL AS both_null,
       lc_finalize(NULL, NULL) IS NULL AS finalize_both_null,
       lc_finalize(NULL, s)::text = lc_finalize(s)::text AS finalize_left_null,
       lc_merge(NULL, s)::text = s::text AS left_null,
       lc_merge(s, NULL)::text = s::text AS right_null,
       (SELECT lc_merge(x) FROM (SELECT NULL::lc_state) v(x)) IS NULL AS aggregate_of_nulls,
       (SELECT lc_accumulate(pb, flux, dflux) FROM rawphot WHERE false) IS NULL AS no_rows
FROM nights WHERE objid = 10 AND night = 0;

-- The text form: kind and format version, then base64; it reads back to the
-- same value.
SELECT s::text AS state FROM (SELECT lc_accumulate(pb, flux, dflux) AS s
  FROM (VALUES ('g', 10.0::float8, 1.0::float8), ('r', 12, 2), ('g', 11, 1)) v(pb, flux, dflux)) x;
SELECT count(*) FILTER (WHERE s::text::lc_state::text IS DISTINCT FROM s::text) AS round_trip_differs
FROM nights;
SELECT g_n, g_mean, r_n, r_mean
FROM lc_finalize('lc_state/1:QU5UTQEABAAGAAAASAAAAKjrQUoAAAAAAgAAAAAAAAAAACRAAAAAAAAA8D8AAAAAAAAmQAAAAAAAAPA/AQAAAAAAAAAAAChAAAAAAAAAAEAAAAAAAAAAAAAAAAA=');

-- Corrupt, truncated or foreign values are errors (error_of: sql/fixtures/error_of.sql).
SELECT public.error_of(q) FROM (VALUES
  -- one flux changed: the checksum no longer matches
  ($$SELECT 'lc_state/1:QU5UTQEABAAGAAAASAAAAKjrQUoAAAAAAgAAAAAAAAAAACRAAAAAAAAA8D8AAAAAAAAnQAAAAAAAAPA/AQAAAAAAAAAAAChAAAAAAAAAAEAAAAAAAAAAAAAAAAA='::lc_state$$),
  ($$SELECT 'lc_state/1:QU5UTQEABAAGAAAASAAAAKjrQUoAAAAAAgAAAAAAAAAAACRAAAAAAAAA8D8AAAAAAAAmQAAAAAAAAPA/AQAAAAAA'::lc_state$$),
  ($$SELECT 'lc_state/2:QU5UTQEABAAGAAAASAAAAKjrQUoAAAAAAgAAAAAAAAAAACRAAAAAAAAA8D8AAAAAAAAmQAAAAAAAAPA/AQAAAAAAAAAAAChAAAAAAAAAAEAAAAAAAAAAAAAAAAA='::lc_state$$),
  ($$SELECT 'svm/1:QU5UTQEABAAGAAAASAAAAKjrQUoAAAAAAgAAAAAAAAAAACRAAAAAAAAA8D8AAAAAAAAmQAAAAAAAAPA/AQAAAAAAAAAAAChAAAAAAAAAAEAAAAAAAAAAAAAAAAA='::lc_state$$),
  ($$SELECT 'lc_state/1:not base64!'::lc_state$$),
  ($$SELECT ''::lc_state$$),
  ($$SELECT lc_accumulate(pb, flux, dflux) FROM (VALUES ('w', 1.0::float8, 1.0::float8)) v(pb, flux, dflux)$$),
  ($$SELECT lc_accumulate('g', 1, 0)$$)
) t(q);

DROP TABLE nights, whole, par_states;

-- process_night: 40 test objects replayed night by night (1-day steps), with
-- the SVM trained on the training set and an isolation forest trained on
-- the test set, both on the DSFP exercise's 23 features.
CREATE TEMP TABLE phot40 AS SELECT * FROM testphot WHERE objid <= 40;
CREATE TEMP TABLE models AS
SELECT (SELECT svm_train(feature_vector(f), CASE WHEN objid <= 20 THEN 0 WHEN objid <= 60 THEN 1 ELSE 2 END
                         ORDER BY objid)
        FROM (SELECT objid, lc_features(pb, flux, dflux) f FROM rawphot GROUP BY objid) x) AS svm,
       (SELECT iforest_train(feature_vector(f), 100, 256, 7)
        FROM (SELECT objid, lc_features(pb, flux, dflux) f FROM testphot GROUP BY objid) x) AS forest;
CREATE TEMP TABLE replay AS
SELECT d AS night, r.*
FROM generate_series((SELECT floor(min(t))::int FROM phot40), (SELECT floor(max(t))::int FROM phot40)) d,
     LATERAL process_night('phot40', d, d + 1, (SELECT svm FROM models), (SELECT forest FROM models), -0.05) r;
SELECT count(*) AS nights, count(*) FILTER (WHERE objects_updated > 0) AS nights_with_data,
       sum(objects_updated) AS object_updates, sum(alerts) AS alerts
FROM replay;
-- The stored features are lc_features over all the rows, to the bit; the
-- stored class and anomaly are the models' on them; the alerts are the
-- updates whose decision was below the threshold.
SELECT count(*) AS objects,
       count(*) FILTER (WHERE o.features::text IS DISTINCT FROM w.f::text) AS features_differ,
       count(*) FILTER (WHERE o.n_obs IS DISTINCT FROM w.n) AS n_obs_differ,
       count(*) FILTER (WHERE o.last_t IS DISTINCT FROM w.last_t) AS last_t_differs,
       count(*) FILTER (WHERE o.class IS DISTINCT FROM svm_predict((SELECT svm FROM models), feature_vector(w.f))) AS class_differs,
       count(*) FILTER (WHERE o.anomaly IS DISTINCT FROM iforest_decision((SELECT forest FROM models), feature_vector(w.f))) AS anomaly_differs
FROM object_state o
JOIN (SELECT objid, lc_features(pb, flux, dflux) f, count(*)::int n, max(t) last_t FROM phot40 GROUP BY objid) w
  USING (objid);
SELECT count(*) AS alerts, count(DISTINCT objid) AS objects, bool_and(anomaly < -0.05) AS below_threshold,
       bool_and(features ? 'g_mean') AS features_as_json
FROM alerts;

-- Idempotent: the same nights again change nothing and raise nothing.
CREATE TEMP TABLE before AS SELECT objid, state::text, updated_at FROM object_state;
SELECT sum(objects_updated) AS updated, sum(alerts) AS alerts
FROM generate_series((SELECT floor(min(t))::int FROM phot40), (SELECT floor(max(t))::int FROM phot40)) d,
     LATERAL process_night('phot40', d, d + 1, (SELECT svm FROM models), (SELECT forest FROM models), -0.05);
SELECT (SELECT count(*) FROM (SELECT * FROM before EXCEPT SELECT objid, state::text, updated_at FROM object_state) x) AS changed,
       (SELECT count(*) FROM alerts) AS alerts;

-- min_obs: objects with fewer observations are stored but not classified.
INSERT INTO phot40 VALUES (1001, 70000.5, 'g', 10, 1), (1002, 70000.5, 'g', 10, 1), (1002, 70000.6, 'r', 11, 1);
SELECT * FROM process_night('phot40', 70000, 70001, (SELECT svm FROM models), NULL, 0, 2);
SELECT objid, n_obs, class IS NOT NULL AS classified, anomaly FROM object_state WHERE objid > 1000 ORDER BY objid;
SELECT source, night_start, night_end, objects_updated, alerts FROM nights WHERE night_start >= 70000;

-- Errors.
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT * FROM process_night('phot40', 70000.5, 70002)$$),
  ($$SELECT * FROM process_night('phot40', 2, 1)$$),
  ($$SELECT * FROM process_night('phot40', 1, 'Infinity')$$),
  ($$SELECT * FROM process_night('phot40', 1, 2, NULL, NULL, 'NaN')$$),
  ($$SELECT * FROM process_night('phot40', 1, 2, NULL, NULL, 0, NULL)$$),
  ($$SELECT * FROM process_night('no_such_table', 1, 2)$$),
  ($$SELECT * FROM process_night('phot40', NULL, 2)$$)
) t(q);
-- A model of another dimension fails the night, which leaves no trace.
INSERT INTO phot40 VALUES (1, 80000.5, 'g', 10, 1);
SELECT public.error_of($$SELECT * FROM process_night('phot40', 80000, 80001,
  (SELECT svm_train(ARRAY[x, 1], (x > 0)::int) FROM (VALUES (-1.0::float8), (1)) v(x)))$$);
SELECT count(*) AS nights_logged FROM nights WHERE night_start = 80000;

TRUNCATE object_state, alerts, nights;
DROP TABLE phot40, models, replay, before;

-- Equality of lc_state values: their stored bytes (rows 1 and 3, 2 and 4 hold
-- the same state; row 5 is NULL).
CREATE TABLE lc_state_eq (id int, m lc_state);
INSERT INTO lc_state_eq SELECT id, (SELECT lc_accumulate(pb, flux + id % 2, 1) FROM (VALUES ('g', 1.0::float8), ('r', 2)) v(pb, flux)) FROM generate_series(1, 4) id;
INSERT INTO lc_state_eq VALUES (5, NULL);
\set eq_table lc_state_eq
\set eq_type lc_state
\i sql/fixtures/equality_checks.sql
DROP TABLE lc_state_eq;
