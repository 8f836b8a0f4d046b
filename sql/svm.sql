--
-- Support-vector machines: svm_train, svm_predict, svm_decision, svm_info,
-- the svm_model type, stratified_fold and cross_validate, on the shipped
-- light curves (rawphot, testphot and lcheader from
-- sql/fixtures/shipped_data.sql) and on small examples.  The validation test
-- compares the same numbers with scikit-learn.
--
\i sql/fixtures/shipped_data.sql
\i sql/fixtures/error_of.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- The DSFP exercise's problem: 23 features (-999 where undefined), labels by objid.
CREATE TABLE svm_train_set AS
SELECT objid, feature_vector(lc_features(pb, flux, dflux)) AS features,
       CASE WHEN objid <= 20 THEN 0 WHEN objid <= 60 THEN 1 ELSE 2 END AS label
FROM rawphot GROUP BY objid;
CREATE TABLE svm_test_set AS
SELECT objid, feature_vector(lc_features(pb, flux, dflux)) AS features
FROM testphot GROUP BY objid;
SELECT count(*), min(array_length(features, 1)), max(array_length(features, 1)) FROM svm_train_set;

-- The DSFP exercise's model: C = 1, gamma = 0.1, rows in objid order.
CREATE TABLE svm_models (name text PRIMARY KEY, m svm_model);
INSERT INTO svm_models
SELECT 'seed', svm_train(features, label, 1, 0.1 ORDER BY objid) FROM svm_train_set;
SELECT svm_info(m) - 'rho' AS info,
       (SELECT array_agg(round(r::numeric, 6)) FROM jsonb_array_elements_text(svm_info(m) -> 'rho') r) AS rho
FROM svm_models WHERE name = 'seed';

-- 5-fold stratified cross-validation (scikit-learn: 0.4 0.45 0.5 0.45 0.4).
SELECT * FROM cross_validate('svm_train_set', 'features', 'label', 5, 'svm',
                             '{"c": 1, "gamma": 0.1}', 'objid');
-- sklearn's defaults, C = 1 and gamma = 'scale'; another C; 3 folds
SELECT * FROM cross_validate('svm_train_set', 'features', 'label', order_by => 'objid');
SELECT * FROM cross_validate('svm_train_set', 'features', 'label', 3, 'svm', '{"c": 10}', 'objid');

-- The training set back through the model, and the test set's classes.
SELECT label, svm_predict(m, features) AS predicted, count(*)
FROM svm_train_set, svm_models WHERE name = 'seed'
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT svm_predict(m, features) AS predicted, count(*)
FROM svm_test_set, svm_models WHERE name = 'seed'
GROUP BY 1 ORDER BY 1;
-- Decision values: one per pair (0,1), (0,2), (1,2); > 0 votes for the first.
SELECT objid, svm_predict(m, features) AS predicted,
       (SELECT array_agg(round(d::numeric, 6)) FROM unnest(svm_decision(m, features)) d) AS decision
FROM svm_train_set, svm_models WHERE name = 'seed' AND objid IN (1, 10, 30, 60, 73, 100)
ORDER BY objid;
-- The vote agrees with the decision values.
SELECT count(*) AS objects,
       count(*) FILTER (WHERE svm_predict(m, features) =
         CASE WHEN d[1] > 0 AND d[2] > 0 THEN 0
              WHEN d[1] <= 0 AND d[3] > 0 THEN 1
              WHEN d[2] <= 0 AND d[3] <= 0 THEN 2
              ELSE 0 END) AS vote_matches
FROM svm_test_set, svm_models, LATERAL svm_decision(m, features) d WHERE name = 'seed';

-- The model is a value: its text form reads back to the same value, its
-- binary form is the base64 payload of the text form, and it survives a
-- table round trip.
SELECT left(m::text, 6) AS text_prefix,
       m::text::svm_model::text = m::text AS text_round_trip,
       svm_model_send(m) = decode(substr(m::text, 7), 'base64') AS binary_is_payload
FROM svm_models WHERE name = 'seed';
INSERT INTO svm_models SELECT 'copy', m::text::svm_model FROM svm_models WHERE name = 'seed';
SELECT count(*) FILTER (WHERE svm_predict(a.m, features) = svm_predict(b.m, features)) AS same
FROM svm_test_set, svm_models a, svm_models b WHERE a.name = 'seed' AND b.name = 'copy';

-- Small problems.  Two points far apart: both are free support vectors
-- (alpha < C), so the decision values are exactly -1 and +1 at them; the
-- classes sort as (-2, 7), and > 0 votes for -2.
SELECT svm_info(m) ->> 'support_vectors' AS sv, svm_info(m) -> 'rho' AS rho,
       svm_decision(m, '{0, 0}') AS at_first, svm_decision(m, '{3, 4}') AS at_second,
       svm_predict(m, '{0.1, 0.1}') AS near_first, svm_predict(m, '{2.9, 4}') AS near_second
FROM (SELECT svm_train(x, y, 10, 0.5) AS m
      FROM (VALUES ('{0, 0}'::float8[], 7), ('{3, 4}', -2)) v(x, y)) s;
-- labels are any int; classes sorted; rows with a NULL are skipped; no rows
SELECT svm_info(m) -> 'classes' AS classes, svm_info(m) -> 'n_train' AS n_train,
       svm_predict(m, '{-1}') AS at_minus_1, svm_predict(m, '{5}') AS at_5,
       svm_predict(m, '{11}') AS at_11
FROM (SELECT svm_train(x, y, 100, 1) AS m
      FROM (VALUES ('{0}'::float8[], 5), ('{1}', 5), ('{5}', -3), ('{6}', -3), ('{10}', 40),
                   ('{11}', 40), (NULL, 1), ('{2}', NULL)) v(x, y)) s;
SELECT svm_train(x, y) IS NULL AS no_rows
FROM (VALUES ('{1}'::float8[], 1)) v(x, y) WHERE false;
-- gamma 'scale' = 1 / (d var(X)): here var = 1.25, d = 2
SELECT svm_info(svm_train(x, y)) -> 'gamma' AS gamma_scale
FROM (VALUES ('{0, 0}'::float8[], 0), ('{0, 3}', 1), ('{1, 2}', 0), ('{2, 2}', 1)) v(x, y);
-- antares."verbose" (VERBOSE is a keyword: quote it) reports each pair
SET antares."verbose" = on;
SELECT svm_info(svm_train(x, y, 1, 1)) -> 'iterations' AS iterations
FROM (VALUES ('{0}'::float8[], 0), ('{1}', 1), ('{2}', 2)) v(x, y);
RESET antares."verbose";

--
-- stratified_fold: scikit-learn's StratifiedKFold(k).split(X, y), test folds.
--
SELECT array_agg(f ORDER BY i) AS folds
FROM (SELECT i, stratified_fold(y, 3) OVER (ORDER BY i) AS f
      FROM unnest('{0,0,0,1,1,1,0,1,1,2,2,2}'::int[]) WITH ORDINALITY u(y, i)) s;
SELECT i, y, stratified_fold(y, 2) OVER (ORDER BY i) AS fold
FROM unnest('{5,-1,5,NULL,-1,5,5}'::int[]) WITH ORDINALITY u(y, i) ORDER BY i;
-- per partition; the folds of the training set by class
SELECT p, array_agg(f ORDER BY i) AS folds
FROM (SELECT i, i % 2 AS p, stratified_fold(y, 2) OVER (PARTITION BY i % 2 ORDER BY i) AS f
      FROM unnest('{1,1,2,2,1,1,2,2}'::int[]) WITH ORDINALITY u(y, i)) s
GROUP BY p ORDER BY p;
SELECT label, fold, count(*)
FROM (SELECT label, stratified_fold(label, 5) OVER (ORDER BY objid) AS fold FROM svm_train_set) s
GROUP BY 1, 2 ORDER BY 1, 2;
-- a class with fewer rows than k: a warning, as scikit-learn warns
SELECT array_agg(f ORDER BY i) AS folds
FROM (SELECT i, stratified_fold(y, 3) OVER (ORDER BY i) AS f
      FROM unnest('{0,0,0,1}'::int[]) WITH ORDINALITY u(y, i)) s;

--
-- Bad input (error_of: sql/fixtures/error_of.sql).
--
SELECT public.error_of(q) FROM (VALUES
  -- rows of different dimension
  ($$SELECT svm_train(x, y) FROM (VALUES ('{1, 2}'::float8[], 0), ('{1, 2, 3}', 1)) v(x, y)$$),
  -- non-finite features, NULL elements, empty or two-dimensional arrays
  ($$SELECT svm_train(x, y) FROM (VALUES ('{1, 2}'::float8[], 0), ('{NaN, 2}', 1)) v(x, y)$$),
  ($$SELECT svm_train(x, y) FROM (VALUES ('{1, Infinity}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y) FROM (VALUES ('{1, -Infinity}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y) FROM (VALUES ('{1, NULL}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y) FROM (VALUES ('{}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y) FROM (VALUES ('{{1, 2}}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y) FROM (VALUES ('{1e200, 1e200}'::float8[], 0), ('{0, 0}', 1)) v(x, y)$$),
  -- fewer than two classes
  ($$SELECT svm_train(x, y) FROM (VALUES ('{1}'::float8[], 3), ('{2}', 3)) v(x, y)$$),
  ($$SELECT svm_train(x, y, 1, 0.1) FROM (VALUES ('{1}'::float8[], 3)) v(x, y)$$),
  -- C <= 0, gamma <= 0, NaN or NULL parameters, parameters that change
  ($$SELECT svm_train(x, y, 0, 0.1) FROM (VALUES ('{1}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y, -1) FROM (VALUES ('{1}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y, 1, 0) FROM (VALUES ('{1}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y, 1, -0.5) FROM (VALUES ('{1}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y, 'NaN', 1) FROM (VALUES ('{1}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y, 1, 'Infinity') FROM (VALUES ('{1}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y, NULL, 1) FROM (VALUES ('{1}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y, 1, NULL) FROM (VALUES ('{1}'::float8[], 0)) v(x, y)$$),
  ($$SELECT svm_train(x, y, c, 1) FROM (VALUES ('{1}'::float8[], 0, 1.0::float8), ('{2}', 1, 2)) v(x, y, c)$$),
  -- predict with the wrong dimension, or bad features
  ($$SELECT svm_predict(m, '{1, 2, 3}') FROM svm_models WHERE name = 'seed'$$),
  ($$SELECT svm_decision(m, array_fill(0::float8, ARRAY[24])) FROM svm_models WHERE name = 'seed'$$),
  ($$SELECT svm_predict(m, array_fill('NaN'::float8, ARRAY[23])) FROM svm_models WHERE name = 'seed'$$),
  ($$SELECT svm_predict(m, array_fill(NULL::float8, ARRAY[23])) FROM svm_models WHERE name = 'seed'$$),
  -- corrupt model text
  ($$SELECT 'svm/1:'::svm_model$$),
  ($$SELECT 'rf/1:QU5UTQ=='::svm_model$$),
  ($$SELECT 'svm/2:QU5UTQ=='::svm_model$$),
  ($$SELECT 'svm/x:QU5UTQ=='::svm_model$$),
  ($$SELECT 'svm/1:not base64!'::svm_model$$),
  ($$SELECT ('svm/1:' || encode(convert_to('NOTANTARESMODELHEADER', 'UTF8'), 'base64'))::svm_model$$),
  -- a model whose text changed in one place: the checksum no longer matches
  ($$SELECT overlay(m::text placing (CASE WHEN substr(m::text, 500, 1) = 'A' THEN 'B' ELSE 'A' END) from 500 for 1)::svm_model FROM svm_models WHERE name = 'seed'$$),
  -- truncated models
  ($$SELECT left(m::text, 6 + 400)::svm_model FROM svm_models WHERE name = 'seed'$$),
  ($$SELECT left(m::text, 6 + 401)::svm_model FROM svm_models WHERE name = 'seed'$$),
  ($$SELECT ('svm/1:' || encode(substr(svm_model_send(m), 1, 30), 'base64'))::svm_model FROM svm_models WHERE name = 'seed'$$),
  ($$SELECT ('svm/1:' || encode(substr(svm_model_send(m), 1, 19), 'base64'))::svm_model FROM svm_models WHERE name = 'seed'$$),
  -- stratified_fold
  ($$SELECT stratified_fold(y, 1) OVER () FROM (VALUES (1), (2)) v(y)$$),
  ($$SELECT stratified_fold(y, NULL) OVER () FROM (VALUES (1), (2)) v(y)$$),
  ($$SELECT stratified_fold(y, 3) OVER () FROM (VALUES (1), (2)) v(y)$$),
  ($$SELECT stratified_fold(y, 3) OVER () FROM (VALUES (1), (2), (3), (4)) v(y)$$),
  ($$SELECT stratified_fold(y, k) OVER () FROM (VALUES (1, 2), (2, 3)) v(y, k)$$),
  -- cross_validate: unknown model or parameter, names that are not columns
  ($$SELECT * FROM cross_validate('svm_train_set', 'features', 'label', model => 'knn')$$),
  ($$SELECT * FROM cross_validate('svm_train_set', 'features', 'label', params => '{"C": 1}')$$),
  ($$SELECT * FROM cross_validate('svm_train_set', 'features', 'label', params => '[1]')$$),
  ($$SELECT * FROM cross_validate('svm_train_set', 'features', 'label', params => '{"c": 0}')$$),
  ($$SELECT * FROM cross_validate('svm_train_set', 'features', NULL)$$),
  ($$SELECT * FROM cross_validate('svm_train_set', 'features', 'label', 1)$$),
  ($$SELECT * FROM cross_validate('svm_train_set', 'Features', 'label')$$),
  ($$SELECT * FROM cross_validate('svm_train_set', 'features', 'label) FROM pg_class; --')$$),
  ($$SELECT * FROM cross_validate('svm_train_set', 'features', 'label', order_by => 'objid DESC')$$)
) t(q);
-- a corrupt value that reached a table (written with the binary input of
-- another type, bypassing svm_model_in) is an error when read, not a crash
CREATE TABLE svm_raw (m bytea);
INSERT INTO svm_raw SELECT overlay(svm_model_send(m) placing '\xff'::bytea from 100 for 1)
FROM svm_models WHERE name = 'seed';
CREATE FUNCTION pg_temp.as_model(bytea) RETURNS svm_model
AS 'byteasend' LANGUAGE internal IMMUTABLE STRICT;
SELECT public.error_of($$SELECT svm_predict(pg_temp.as_model(m), array_fill(0::float8, ARRAY[23])) FROM svm_raw$$);

DROP TABLE svm_train_set, svm_test_set, svm_models, svm_raw;

-- Decoded models are told apart by their bytes, not by address and header:
-- two valid models with one header (b has a's opposite coefficients, and
-- 4 low mantissa bytes of its gamma chosen so that its CRC-32C is a's), cast
-- from text row by row so that each lands where the last one was, each
-- predict as themselves.
CREATE TABLE svm_forged (name text, t text);
INSERT INTO svm_forged VALUES
  ('a', 'svm/1:QU5UTQEAAQABAAAAYAAAALEUvAYCAAAAAgAAAAAAAAAAAPA/AAAAAAAA8D8AAAAAAQAAAAEAAAABAAAAAQAAAAEAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAA8D8AAAAAAADwvwAAAAAAAAAAAAAAAAAA8D8='),
  ('b', 'svm/1:QU5UTQEAAQABAAAAYAAAALEUvAYCAAAAAgAAAAAAAAAAAPA/mnnlmQAA8D8AAAAAAQAAAAEAAAABAAAAAQAAAAEAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAA8L8AAAAAAADwPwAAAAAAAAAAAAAAAAAA8D8=');
SELECT a.t <> b.t AS differ,
       substr(svm_model_send(a.t::svm_model), 1, 20) = substr(svm_model_send(b.t::svm_model), 1, 20) AS same_header
FROM svm_forged a, svm_forged b WHERE a.name = 'a' AND b.name = 'b';
SELECT name, x, svm_predict(t::svm_model, ARRAY[x]) AS predicted,
       round((svm_decision(t::svm_model, ARRAY[x]))[1]::numeric, 6) AS decision
FROM svm_forged, (VALUES (0::float8), (1)) v(x) ORDER BY x, name;
DROP TABLE svm_forged;

-- svm_info gives per-pair detail up to 1000 pairs (45 classes), totals beyond.
WITH m AS (SELECT svm_train(ARRAY[i::float8], i) AS m FROM generate_series(1, 45) i)
SELECT svm_info(m) -> 'n_pairs' AS n_pairs, svm_info(m) -> 'pair_detail' AS detail,
       jsonb_array_length(svm_info(m) -> 'pairs') AS pairs, jsonb_array_length(svm_info(m) -> 'rho') AS rho,
       jsonb_array_length(svm_info(m) -> 'iterations') AS iterations
FROM m;
WITH m AS (SELECT svm_train(ARRAY[i::float8], i) AS m FROM generate_series(1, 46) i)
SELECT svm_info(m) - 'classes' - 'n_train' - 'support_vectors' - 'gamma' AS info,
       length(svm_info(m)::text) < 1000 AS bounded
FROM m;

-- A huge C on contradictory points (one feature, both labels): the solver
-- stops at libsvm's limit of max(10^7, 100 l) iterations and says so.
SELECT svm_info(m) -> 'iterations' AS iterations, svm_info(m) -> 'pairs_at_iteration_limit' AS at_limit,
       svm_predict(m, '{0}') AS predicted
FROM (SELECT svm_train(x, y, 1e20, 1) AS m
      FROM (VALUES ('{0}'::float8[], 0), ('{0}', 1), ('{1}', 0), ('{1}', 1)) v(x, y)) t;

-- Equality: models are equal when their stored bytes are (=, <>, a hash
-- operator class): DISTINCT, GROUP BY, IN, UNION and hash joins.  Rows 1 and
-- 3, 2 and 4 hold the same model; row 5 is NULL.
CREATE TABLE svm_eq (id int, m svm_model);
INSERT INTO svm_eq SELECT id, (SELECT svm_train(ARRAY[x::float8], (x > 0)::int, 1 + id % 2, 1) FROM generate_series(-2, 2) x) FROM generate_series(1, 4) id;
INSERT INTO svm_eq VALUES (5, NULL);
\set eq_table svm_eq
\set eq_type svm_model
\i sql/fixtures/equality_checks.sql
DROP TABLE svm_eq;
