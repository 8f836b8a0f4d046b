--
-- Gradient-boosted trees: gbt_train, gbt_predict, gbt_predict_proba,
-- gbt_info, gbt_importance, the gbt_model type and cross_validate(model =>
-- 'gbt'), on the shipped light curves (rawphot, testphot and lcheader from
-- sql/fixtures/shipped_data.sql) and on small examples.  The validation test
-- (test/validation/test_gbt.py) grows the same trees with a numpy reference.
--
\i sql/fixtures/shipped_data.sql
\i sql/fixtures/error_of.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- The DSFP exercise's features (23, -999 where undefined); training labels by objid.
CREATE TABLE gbt_train_set AS
SELECT objid, feature_vector(lc_features(pb, flux, dflux)) AS features,
       CASE WHEN objid <= 20 THEN 0 WHEN objid <= 60 THEN 1 ELSE 2 END AS label
FROM rawphot GROUP BY objid;
CREATE TABLE gbt_test_set AS
SELECT t.objid, feature_vector(lc_features(pb, flux, dflux)) AS features
FROM testphot t GROUP BY t.objid;

CREATE TABLE gbt_models (name text PRIMARY KEY, m gbt_model);
INSERT INTO gbt_models
SELECT 'default', gbt_train(features, label) FROM gbt_train_set;
INSERT INTO gbt_models
SELECT 'small', gbt_train(features, label, '{"n_trees": 20, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8, "seed": 7}')
FROM gbt_train_set;
-- two classes: one tree per round
INSERT INTO gbt_models
SELECT 'binary', gbt_train(features, (label = 2)::int * 5 - 1, '{"n_trees": 10}') FROM gbt_train_set;
SELECT name, gbt_info(m) - 'n_nodes' AS info, (gbt_info(m) ->> 'n_nodes')::int > 0 AS has_nodes
FROM gbt_models ORDER BY name;

-- A model depends on the rows and the parameters only, not on their order;
-- explicit defaults are the defaults; NULL params are the defaults.
SELECT (SELECT gbt_train(features, label ORDER BY objid DESC) FROM gbt_train_set)::text =
       (SELECT gbt_train(features, label ORDER BY objid) FROM gbt_train_set)::text AS order_free,
       (SELECT gbt_train(features, label, '{"n_trees": 100, "max_depth": 6, "learning_rate": 0.3, "seed": 0, "nthread": 2, "max_bin": 256}')
        FROM gbt_train_set)::text = m::text AS explicit_defaults,
       (SELECT gbt_train(features, label, NULL) FROM gbt_train_set)::text = m::text AS null_params
FROM gbt_models WHERE name = 'default';
-- one thread grows the same trees as two (nthread is kept in gbt_info)
SELECT count(*) FILTER (WHERE gbt_predict_proba(m, features) = gbt_predict_proba(one, features)) AS same_proba,
       count(*) AS objects
FROM gbt_test_set, gbt_models,
     (SELECT gbt_train(features, label, '{"nthread": 1}') AS one FROM gbt_train_set) o
WHERE name = 'default';

-- the training set back through the model, and some probabilities
SELECT label, gbt_predict(m, features) AS predicted, count(*)
FROM gbt_train_set, gbt_models WHERE name = 'small'
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT objid, gbt_predict(m, features) AS predicted,
       (SELECT array_agg(round(p::numeric, 6)) FROM unnest(gbt_predict_proba(m, features)) p) AS proba
FROM gbt_train_set, gbt_models WHERE name = 'small' AND objid IN (1, 10, 30, 60, 73, 100)
ORDER BY objid;
SELECT objid, gbt_predict(m, features) AS predicted,
       (SELECT array_agg(round(p::numeric, 6)) FROM unnest(gbt_predict_proba(m, features)) p) AS proba
FROM gbt_train_set, gbt_models WHERE name = 'binary' AND objid IN (1, 61, 100)
ORDER BY objid;
-- probabilities sum to 1; the prediction is the first largest
SELECT name, count(*) AS objects,
       count(*) FILTER (WHERE abs((SELECT sum(x) FROM unnest(p) x) - 1) < 1e-12) AS sum_to_1,
       count(*) FILTER (WHERE gbt_predict(m, features) =
         ((gbt_info(m) -> 'classes') ->> (SELECT i - 1 FROM unnest(p) WITH ORDINALITY u(x, i)
                                           ORDER BY x DESC, i LIMIT 1)::int)::int) AS argmax
FROM gbt_test_set, gbt_models, LATERAL gbt_predict_proba(m, features) p
GROUP BY name ORDER BY name;

-- Missing values: NaN takes each split's default direction; the same
-- prediction as the reference's (test_gbt.py); a model trained with NaN.
SELECT gbt_predict_proba(m, array_fill('NaN'::float8, ARRAY[23])) =
       gbt_predict_proba(m, array_fill('NaN'::float8, ARRAY[23])) AS nan_is_deterministic,
       (SELECT sum(x) FROM unnest(gbt_predict_proba(m, array_fill('NaN'::float8, ARRAY[23]))) x)
         BETWEEN 0.999999 AND 1.000001 AS nan_sums_to_1
FROM gbt_models WHERE name = 'small';
SELECT gbt_predict(gbt_train(x, y, '{"n_trees": 5}'), '{NaN}') AS nan_goes_with_missing,
       gbt_predict(gbt_train(x, y, '{"n_trees": 5}'), '{1}') AS one,
       gbt_predict(gbt_train(x, y, '{"n_trees": 5}'), '{3}') AS three
FROM (VALUES ('{1}'::float8[], 1), ('{1}', 1), ('{2}', 1), ('{3}', 2), ('{3}', 2), ('{NaN}', 3),
             ('{NaN}', 3), ('{NaN}', 3)) v(x, y);

-- Importances: every feature, XGBoost's gain (mean) and weight (splits)
SELECT count(*) AS features, count(*) FILTER (WHERE weight > 0) AS used,
       bool_and((weight = 0) = (gain = 0)) AS gain_iff_used, min(feature), max(feature)
FROM gbt_models, gbt_importance(m) WHERE name = 'default';
SELECT feature, round(gain::numeric, 3) AS gain, weight
FROM gbt_models, gbt_importance(m) WHERE name = 'small' ORDER BY gain DESC, feature LIMIT 3;

-- 5-fold stratified cross-validation
SELECT * FROM cross_validate('gbt_train_set', 'features', 'label', 5, 'gbt',
                             '{"n_trees": 20, "max_depth": 3}', 'objid');

-- Models are values: text reads back to the same value, the binary form is
-- the text form's base64 payload, equality and hashing, a copy predicts the same.
SELECT name, left(m::text, 6) AS text_prefix,
       m::text::gbt_model OPERATOR(antares.=) m AS text_round_trip,
       gbt_model_send(m) = decode(substr(m::text, 7), 'base64') AS binary_is_payload
FROM gbt_models ORDER BY name;
SELECT count(*) AS distinct_models FROM
  (SELECT DISTINCT m FROM (SELECT m FROM gbt_models UNION ALL SELECT m::text::gbt_model FROM gbt_models) u) d;
SELECT count(*) FILTER (WHERE gbt_predict_proba(a.m, features) = gbt_predict_proba(a.m::text::gbt_model, features)) AS same_proba
FROM gbt_test_set, gbt_models a WHERE a.name = 'default';

-- Parallel training gives the serial model.
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
CREATE TABLE gbt_many AS
SELECT i, ARRAY[sin(i), cos(i * 0.7), (i % 7)::float8] AS x, (i % 3) * 10 AS y
FROM generate_series(1, 3000) i;
SELECT (SELECT gbt_train(x, y, '{"n_trees": 10}') FROM gbt_many)::text =
       (SELECT gbt_train(x, y, '{"n_trees": 10}' ORDER BY i) FROM gbt_many)::text AS parallel_is_serial;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- Bad input: SQLSTATE and message
SELECT q, public.error_of(q) FROM (VALUES
  -- parameters
  ($$SELECT gbt_train(x, y, '{"n_trees": 0}') FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y, '{"n_trees": 1.5}') FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y, '{"max_depth": "3"}') FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y, '{"learning_rate": 0}') FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y, '{"subsample": 1.5}') FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y, '{"lambda": -1}') FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y, '{"max_bin": 1}') FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y, '{"max_bin": 65536}') FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y, '{"eta": 0.1, "depth": 3}') FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y, '[1]') FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y, p::jsonb) FROM (VALUES ('{1}'::float8[], 0, '{}'), ('{2}', 1, '{"seed": 1}')) v(x, y, p)$$),
  -- training rows
  ($$SELECT gbt_train(x, y) FROM (VALUES ('{1}'::float8[], 0), ('{2}', 0)) v(x, y)$$),
  ($$SELECT gbt_train(x, y) FROM (VALUES ('{1}'::float8[], 0), ('{2, 3}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y) FROM (VALUES ('{1}'::float8[], 0), ('{Infinity}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y) FROM (VALUES ('{1}'::float8[], 0), ('{1e300}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y) FROM (VALUES ('{1}'::float8[], 0), ('{NULL}', 1)) v(x, y)$$),
  ($$SELECT gbt_train(x, y) FROM (VALUES ('{}'::float8[], 0)) v(x, y)$$),
  -- predict with the wrong dimension, or bad features
  ($$SELECT gbt_predict(m, '{1}') FROM gbt_models WHERE name = 'default'$$),
  ($$SELECT gbt_predict_proba(m, array_fill(0::float8, ARRAY[24])) FROM gbt_models WHERE name = 'default'$$),
  ($$SELECT gbt_predict(m, array_fill('-Infinity'::float8, ARRAY[23])) FROM gbt_models WHERE name = 'default'$$),
  ($$SELECT gbt_predict_proba(m, array_fill(NULL::float8, ARRAY[23])) FROM gbt_models WHERE name = 'default'$$),
  ($$SELECT gbt_predict(m, array_fill(0::float8, ARRAY[23, 1])) FROM gbt_models WHERE name = 'default'$$),
  -- corrupt model text: prefix, version, base64, another kind
  ($$SELECT 'gbt/1:'::gbt_model$$),
  ($$SELECT 'gbt/2:QU5UTQ=='::gbt_model$$),
  ($$SELECT 'rf/1:QU5UTQ=='::gbt_model$$),
  ($$SELECT 'gbt/1:not base64!'::gbt_model$$),
  ($$SELECT ('rf/1:' || substr(m::text, 7))::rf_model FROM gbt_models WHERE name = 'small'$$),
  -- one character changed: the checksum no longer matches
  ($$SELECT overlay(m::text placing (CASE WHEN substr(m::text, 300, 1) = 'A' THEN 'B' ELSE 'A' END) from 300 for 1)::gbt_model FROM gbt_models WHERE name = 'small'$$),
  -- truncated
  ($$SELECT ('gbt/1:' || encode(substr(gbt_model_send(m), 1, 45), 'base64'))::gbt_model FROM gbt_models WHERE name = 'small'$$),
  -- cross_validate: unknown gbt parameters, values out of range
  ($$SELECT * FROM cross_validate('gbt_train_set', 'features', 'label', model => 'gbt', params => '{"c": 1}')$$),
  ($$SELECT * FROM cross_validate('gbt_train_set', 'features', 'label', model => 'gbt', params => '{"max_depth": 0}')$$),
  ($$SELECT * FROM cross_validate('gbt_train_set', 'features', 'label', model => 'boost')$$)
) t(q);
-- a corrupt value that reached a table (written with the binary input of
-- another type, bypassing the input functions) is an error when read
CREATE TABLE gbt_raw AS
SELECT overlay(gbt_model_send(m) placing '\xff'::bytea from 100 for 1) AS m
FROM gbt_models WHERE name = 'small';
CREATE FUNCTION pg_temp.as_gbt(bytea) RETURNS gbt_model
AS 'byteasend' LANGUAGE internal IMMUTABLE STRICT;
SELECT public.error_of($$SELECT gbt_predict(pg_temp.as_gbt(m), array_fill(0::float8, ARRAY[23])) FROM gbt_raw$$);
SELECT public.error_of($$SELECT gbt_info(pg_temp.as_gbt(m)) FROM gbt_raw$$);
SELECT public.error_of($$SELECT * FROM gbt_importance(pg_temp.as_gbt((SELECT m FROM gbt_raw)))$$);

DROP TABLE gbt_train_set, gbt_test_set, gbt_models, gbt_many, gbt_raw;
