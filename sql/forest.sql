--
-- Tree ensembles: iforest_train, iforest_score, iforest_decision,
-- iforest_info, rf_train, rf_predict, rf_predict_proba, rf_info, the
-- iforest_model and rf_model types and cross_validate(model => 'rf'), on the
-- shipped light curves (rawphot, testphot and lcheader from
-- sql/fixtures/shipped_data.sql) and on small examples.  The validation test
-- compares the same numbers with scikit-learn.
--
\i sql/fixtures/shipped_data.sql
\i sql/fixtures/error_of.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- The DSFP exercise's features (23, -999 where undefined); training labels by objid;
-- the test set's supernova types from the #sntype header.
CREATE TABLE forest_train_set AS
SELECT objid, feature_vector(lc_features(pb, flux, dflux)) AS features,
       CASE WHEN objid <= 20 THEN 0 WHEN objid <= 60 THEN 1 ELSE 2 END AS label
FROM rawphot GROUP BY objid;
CREATE TABLE forest_test_set AS
SELECT t.objid, feature_vector(lc_features(pb, flux, dflux)) AS features,
       min(h.header ->> 'sntype') AS sntype
FROM testphot t JOIN lcheader h ON h.objid = t.objid AND h.dataset = 'test'
GROUP BY t.objid;
SELECT count(*), min(array_length(features, 1)), max(array_length(features, 1)) FROM forest_test_set;

--
-- Isolation forest: the DSFP exercise's question 6a, the most anomalous test objects.
--
CREATE TABLE forest_models (name text PRIMARY KEY, im iforest_model, rm rf_model);
INSERT INTO forest_models (name, im)
SELECT 'test_default', iforest_train(features) FROM forest_test_set;
INSERT INTO forest_models (name, im)
SELECT 'test_1000', iforest_train(features, 1000, NULL, 42) FROM forest_test_set;
SELECT name, iforest_info(im) - 'average_path_length' AS info,
       round((iforest_info(im) ->> 'average_path_length')::numeric, 9) AS c_max_samples
FROM forest_models WHERE im IS NOT NULL ORDER BY name;
SELECT objid, sntype, round(iforest_score(im, features)::numeric, 6) AS score,
       round(iforest_decision(im, features)::numeric, 6) AS decision
FROM forest_test_set, forest_models WHERE name = 'test_1000'
ORDER BY iforest_score(im, features), objid LIMIT 10;
-- decision = score + 0.5; every score in (-1, 0); how many are anomalous
SELECT count(*) AS objects,
       count(*) FILTER (WHERE iforest_decision(im, features) = iforest_score(im, features) + 0.5) AS decision_is_score_plus_half,
       count(*) FILTER (WHERE iforest_score(im, features) > -1 AND iforest_score(im, features) < 0) AS in_range,
       count(*) FILTER (WHERE iforest_decision(im, features) < 0) AS anomalous
FROM forest_test_set, forest_models WHERE name = 'test_1000';
-- The two forests rank the objects alike.
SELECT corr(a.r, b.r) > 0.95 AS ranks_agree
FROM (SELECT objid, rank() OVER (ORDER BY iforest_score(im, features)) AS r
      FROM forest_test_set, forest_models WHERE name = 'test_default') a
JOIN (SELECT objid, rank() OVER (ORDER BY iforest_score(im, features)) AS r
      FROM forest_test_set, forest_models WHERE name = 'test_1000') b USING (objid);

-- A model depends on the rows and the seed only: not on their order, nor on
-- the plan; another seed is another forest.
SELECT (SELECT iforest_train(features ORDER BY objid DESC) FROM forest_test_set)::text =
       (SELECT iforest_train(features ORDER BY objid) FROM forest_test_set)::text AS order_free,
       (SELECT iforest_train(features) FROM forest_test_set)::text = im::text AS same_as_stored,
       (SELECT iforest_train(features, 100, 256, 0) FROM forest_test_set)::text = im::text AS explicit_defaults,
       (SELECT iforest_train(features, 100, 256, 1) FROM forest_test_set)::text <> im::text AS other_seed
FROM forest_models WHERE name = 'test_default';
\i sql/fixtures/force_parallel.sql
EXPLAIN (COSTS OFF) SELECT iforest_train(features) FROM forest_test_set;
SELECT (SELECT iforest_train(features) FROM forest_test_set)::text = im::text AS parallel_same
FROM forest_models WHERE name = 'test_default';
SELECT (SELECT rf_train(features, label, 20, NULL, NULL, NULL, 5) FROM forest_train_set)::text =
       (SELECT rf_train(features, label, 20, NULL, NULL, NULL, 5 ORDER BY objid) FROM forest_train_set)::text
       AS rf_parallel_same;
\i sql/fixtures/reset_parallel.sql

-- Closed forms.  Two rows: every tree splits once, each leaf holds one row,
-- so every path has length 1 = c(2) and every score is -2^-1.  Equal rows:
-- one leaf of max_samples rows, path c(max_samples), score -2^-1 again.
SELECT iforest_score(m, '{0}') AS at_0, iforest_score(m, '{0.5}') AS at_half,
       iforest_score(m, '{-100}') AS far, iforest_decision(m, '{3}') AS decision,
       iforest_info(m) -> 'n_nodes' AS nodes
FROM (SELECT iforest_train(x) AS m FROM (VALUES ('{0}'::float8[]), ('{1}')) v(x)) s;
SELECT iforest_score(m, '{7, 7}') AS at_rows, iforest_score(m, '{0, 0}') AS elsewhere,
       iforest_info(m) -> 'n_nodes' AS nodes
FROM (SELECT iforest_train(x, 10, 5, 3) AS m
      FROM (VALUES ('{7, 7}'::float8[]), ('{7, 7}'), ('{7, 7}'), ('{7, 7}'), ('{7, 7}')) v(x)) s;
-- an outlier scores lower than the bulk; max_samples beyond the rows: all rows
SELECT iforest_score(m, '{100}') < iforest_score(m, '{5}') AS outlier_lower,
       iforest_info(m) -> 'max_samples' AS max_samples
FROM (SELECT iforest_train(x, 50, 500, 1) AS m
      FROM (SELECT ARRAY[g::float8] AS x FROM generate_series(1, 10) g
            UNION ALL SELECT '{100}') v) s;
-- rows with NULL features are skipped; no rows: NULL
SELECT iforest_info(iforest_train(x)) -> 'n_train' AS n_train
FROM (VALUES ('{1}'::float8[]), (NULL), ('{2}'), ('{3}')) v(x);
SELECT iforest_train(x) IS NULL AS no_rows FROM (VALUES ('{1}'::float8[])) v(x) WHERE false;
-- antares."verbose" reports every tenth of the trees
SET antares."verbose" = on;
SELECT iforest_info(iforest_train(x, 5, 2, 0)) -> 'n_trees' AS n_trees
FROM (VALUES ('{0}'::float8[]), ('{1}'), ('{2}')) v(x);
RESET antares."verbose";

--
-- Random forest: the DSFP exercise's classifier comparison (4c-4e).
--
INSERT INTO forest_models (name, rm)
SELECT 'seed', rf_train(features, label) FROM forest_train_set;
SELECT rf_info(rm) - 'feature_importances' AS info,
       (SELECT round(sum(v::numeric), 9) FROM jsonb_array_elements_text(rf_info(rm) -> 'feature_importances') v) AS importance_sum,
       jsonb_array_length(rf_info(rm) -> 'feature_importances') AS importances
FROM forest_models WHERE name = 'seed';
-- the three most important features (of the DSFP exercise's 23: g std, amp, ..., colours)
SELECT i AS feature, round(v::numeric, 4) AS importance
FROM forest_models, jsonb_array_elements_text(rf_info(rm) -> 'feature_importances') WITH ORDINALITY a(v, i)
WHERE name = 'seed' ORDER BY v::float8 DESC, i LIMIT 3;
-- 5-fold stratified cross-validation, the defaults and seed 1
SELECT * FROM cross_validate('forest_train_set', 'features', 'label', 5, 'rf', '{}', 'objid');
SELECT * FROM cross_validate('forest_train_set', 'features', 'label', 5, 'rf',
                             '{"n_trees": 50, "max_depth": 3, "min_samples_leaf": 2, "max_features": 5, "seed": 1}', 'objid');
-- the training set back through the model, and the test set's classes
SELECT label, rf_predict(rm, features) AS predicted, count(*)
FROM forest_train_set, forest_models WHERE name = 'seed'
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT rf_predict(rm, features) AS predicted, count(*)
FROM forest_test_set, forest_models WHERE name = 'seed'
GROUP BY 1 ORDER BY 1;
SELECT objid, rf_predict(rm, features) AS predicted, rf_predict_proba(rm, features) AS proba
FROM forest_train_set, forest_models WHERE name = 'seed' AND objid IN (1, 10, 30, 60, 73, 100)
ORDER BY objid;
-- probabilities sum to 1; the prediction is the first largest
SELECT count(*) AS objects,
       count(*) FILTER (WHERE abs(p[1] + p[2] + p[3] - 1) < 1e-12) AS sum_to_1,
       count(*) FILTER (WHERE rf_predict(rm, features) =
         CASE WHEN p[1] >= p[2] AND p[1] >= p[3] THEN 0 WHEN p[2] >= p[3] THEN 1 ELSE 2 END) AS argmax
FROM forest_test_set, forest_models, LATERAL rf_predict_proba(rm, features) p WHERE name = 'seed';

-- Models are values: text reads back to the same value, the binary form is
-- the text form's base64 payload, and a copy predicts the same.
SELECT name, left(coalesce(im::text, rm::text), 10) AS text_prefix,
       coalesce(im::text::iforest_model::text = im::text, rm::text::rf_model::text = rm::text) AS text_round_trip,
       coalesce(iforest_model_send(im) = decode(substr(im::text, 11), 'base64'),
                rf_model_send(rm) = decode(substr(rm::text, 6), 'base64')) AS binary_is_payload
FROM forest_models ORDER BY name;
INSERT INTO forest_models (name, im, rm)
SELECT 'copy', a.im::text::iforest_model, b.rm::text::rf_model
FROM forest_models a, forest_models b WHERE a.name = 'test_default' AND b.name = 'seed';
SELECT count(*) FILTER (WHERE iforest_score(a.im, features) = iforest_score(c.im, features)) AS same_scores,
       count(*) FILTER (WHERE rf_predict_proba(b.rm, features) = rf_predict_proba(c.rm, features)) AS same_proba
FROM forest_test_set, forest_models a, forest_models b, forest_models c
WHERE a.name = 'test_default' AND b.name = 'seed' AND c.name = 'copy';

-- Decoded models kept for the session: a stored model is decoded by the
-- first query that reads it, found by later ones (hits), decoded anew when
-- the row holds another model, and evicted when antares.model_cache_size
-- shrinks.  Cached or not, the results are the same.
SET antares.model_cache_size = 0;
SELECT count(*) AS held_at_size_0 FROM model_cache();
CREATE TABLE forest_cached (id int, rm rf_model);
INSERT INTO forest_cached SELECT 1, rm FROM forest_models WHERE name = 'seed';
SELECT pg_column_size(rm) > 2032 AS stored_out_of_line FROM forest_cached;
CREATE TABLE forest_uncached AS
SELECT objid, rf_predict_proba(rm, features) AS p FROM forest_test_set, forest_cached;
SELECT count(*) AS held_at_size_0 FROM model_cache();
RESET antares.model_cache_size;
SHOW antares.model_cache_size;
SELECT sum(rf_predict(rm, features)) FROM forest_test_set, forest_cached;
SELECT sum(rf_predict(rm, features)) FROM forest_test_set, forest_cached;
SELECT model_type, hits, stored_bytes = octet_length(rf_model_send(rm)) AS stored_size,
       decoded_bytes > stored_bytes AS decoded_larger
FROM model_cache(), forest_cached;
SELECT count(*) AS differ FROM forest_uncached u JOIN forest_test_set USING (objid), forest_cached
WHERE rf_predict_proba(rm, features) IS DISTINCT FROM u.p;
UPDATE forest_cached SET rm = (SELECT rf_train(features, label, 10, NULL, NULL, NULL, 7) FROM forest_train_set);
SELECT rf_info(rm) -> 'n_trees' AS n_trees, sum(rf_predict(rm, features))
FROM forest_test_set, forest_cached GROUP BY 1;
SELECT model_type, hits FROM model_cache() ORDER BY hits;
SET antares.model_cache_size = '1kB';
SELECT count(*) AS held_at_1kB FROM model_cache();
SELECT sum(rf_predict(rm, features)) FROM forest_test_set, forest_cached;
SELECT count(*) AS held_at_1kB FROM model_cache();
RESET antares.model_cache_size;
DROP TABLE forest_cached, forest_uncached;
-- Ten stored models: one statement that alternates between them row by row,
-- then one statement per model, under a budget of 8 entries and then of
-- 64kB; every prediction equals the uncached one.
CREATE TABLE forest_ten (id int, rm rf_model);
ALTER TABLE forest_ten ALTER rm SET STORAGE external;
INSERT INTO forest_ten
SELECT s, (SELECT rf_train(features, label, 20, NULL, NULL, NULL, s) FROM forest_train_set)
FROM generate_series(1, 10) s;
SET antares.model_cache_size = 0;
CREATE TABLE forest_ten_expected AS
SELECT id, sum(rf_predict(rm, features)) AS s FROM forest_ten, forest_test_set GROUP BY id;
RESET antares.model_cache_size;
SELECT count(*) AS differ FROM (
  SELECT id, sum(rf_predict(rm, features)) AS s
  FROM forest_test_set t,   -- the models inside: every row calls all ten in turn
       LATERAL (SELECT id, rm FROM forest_ten WHERE id + 0 * t.objid > 0 OFFSET 0) m
  GROUP BY id
  EXCEPT SELECT * FROM forest_ten_expected) d;
CREATE TABLE forest_ten_got (budget text, id int, s bigint, held int, held_bytes bigint);
CREATE FUNCTION pg_temp.ten_step(k int) RETURNS SETOF forest_ten_got LANGUAGE sql AS $$
  SELECT current_setting('antares.model_cache_size'), k, sum(rf_predict(rm, features)),
         (SELECT count(*)::int FROM model_cache()), (SELECT sum(decoded_bytes) FROM model_cache())
  FROM forest_test_set, forest_ten WHERE id = k $$;
SELECT format('INSERT INTO forest_ten_got SELECT * FROM pg_temp.ten_step(%s)', id)
FROM forest_ten ORDER BY id \gexec
SET antares.model_cache_size = '64kB';
SELECT format('INSERT INTO forest_ten_got SELECT * FROM pg_temp.ten_step(%s)', id)
FROM forest_ten ORDER BY id \gexec
RESET antares.model_cache_size;
SELECT budget, count(*) AS statements, max(held) AS most_held,
       max(held_bytes) <= pg_size_bytes(budget) AS within_budget,
       count(*) FILTER (WHERE (id, s) NOT IN (SELECT * FROM forest_ten_expected)) AS differ
FROM forest_ten_got GROUP BY budget ORDER BY budget;
DROP FUNCTION pg_temp.ten_step(int);
DROP TABLE forest_ten, forest_ten_expected, forest_ten_got;
-- Models built in the query: one model for all rows (from a subquery), and
-- a new model for every row (a correlated subquery, whose value may land
-- where the last one was): each row is predicted by its own model.
CREATE TABLE forest_seeds AS
SELECT s, (SELECT rf_train(features, label, 5, NULL, NULL, NULL, s) FROM forest_train_set) AS rm
FROM generate_series(1, 4) s;
SELECT count(*) AS rows, count(*) FILTER (WHERE rf_predict_proba(m, features) =
         rf_predict_proba((SELECT rm FROM forest_seeds WHERE s = 1), features)) AS same
FROM forest_test_set, (SELECT rm::text::rf_model AS m FROM forest_seeds WHERE s = 1 OFFSET 0) q;
SELECT count(*) AS rows, count(*) FILTER (WHERE rf_predict_proba(f.rm, t.features) IS DISTINCT FROM
         rf_predict_proba((SELECT rf_train(features, label, 5, NULL, NULL, NULL, f.s) FROM forest_train_set),
                          t.features)) AS differ
FROM forest_seeds f, forest_test_set t WHERE t.objid % 20 = 0;
DROP TABLE forest_seeds;

-- Small problems: labels are any int, classes sorted; rows with a NULL
-- label are skipped; a separable problem is learnt exactly.
SELECT rf_info(m) -> 'classes' AS classes, rf_info(m) -> 'n_train' AS n_train,
       rf_predict(m, '{0.5}') AS at_half, rf_predict(m, '{10.5}') AS at_10_half,
       rf_predict_proba(m, '{0}') AS proba_at_0, rf_predict_proba(m, '{11}') AS proba_at_11,
       rf_info(m) -> 'feature_importances' AS importances
FROM (SELECT rf_train(x, y) AS m
      FROM (VALUES ('{0}'::float8[], 7), ('{1}', 7), ('{10}', -2), ('{11}', -2),
                   ('{5}', NULL), (NULL, 7)) v(x, y)) s;
-- only the second feature separates the classes: it takes all the importance
SELECT rf_info(m) -> 'feature_importances' AS importances, rf_info(m) -> 'max_depth' AS max_depth
FROM (SELECT rf_train(ARRAY[(g % 2)::float8, (g > 50)::int::float8], (g > 50)::int, 10, 2, 4, 1, 0) AS m
      FROM generate_series(1, 100) g) s;
SELECT rf_train(x, y) IS NULL AS no_rows FROM (VALUES ('{1}'::float8[], 1)) v(x, y) WHERE false;
SET antares."verbose" = on;
SELECT rf_info(rf_train(x, y, 2, NULL, NULL, NULL, NULL)) -> 'n_trees' AS n_trees
FROM (VALUES ('{0}'::float8[], 0), ('{1}', 1)) v(x, y);
RESET antares."verbose";

--
-- Bad input (error_of: sql/fixtures/error_of.sql).
--
SELECT public.error_of(q) FROM (VALUES
  -- rows of different dimension
  ($$SELECT iforest_train(x) FROM (VALUES ('{1, 2}'::float8[]), ('{1, 2, 3}')) v(x)$$),
  ($$SELECT rf_train(x, y) FROM (VALUES ('{1, 2}'::float8[], 0), ('{1, 2, 3}', 1)) v(x, y)$$),
  -- non-finite features, NULL elements, empty or two-dimensional arrays
  ($$SELECT iforest_train(x) FROM (VALUES ('{1, 2}'::float8[]), ('{NaN, 2}')) v(x)$$),
  ($$SELECT iforest_train(x) FROM (VALUES ('{1, Infinity}'::float8[])) v(x)$$),
  ($$SELECT rf_train(x, y) FROM (VALUES ('{1, -Infinity}'::float8[], 0)) v(x, y)$$),
  ($$SELECT rf_train(x, y) FROM (VALUES ('{NaN}'::float8[], 0)) v(x, y)$$),
  ($$SELECT iforest_train(x) FROM (VALUES ('{1, NULL}'::float8[])) v(x)$$),
  ($$SELECT rf_train(x, y) FROM (VALUES ('{}'::float8[], 0)) v(x, y)$$),
  ($$SELECT iforest_train(x) FROM (VALUES ('{{1, 2}}'::float8[])) v(x)$$),
  -- too few rows, a single class
  ($$SELECT iforest_train(x) FROM (VALUES ('{1}'::float8[])) v(x)$$),
  ($$SELECT rf_train(x, y) FROM (VALUES ('{1}'::float8[], 3), ('{2}', 3)) v(x, y)$$),
  ($$SELECT rf_train(x, y) FROM (VALUES ('{1}'::float8[], 3)) v(x, y)$$),
  -- parameters out of range or changing within a group
  ($$SELECT iforest_train(x, 0, 256, 1) FROM (VALUES ('{1}'::float8[]), ('{2}')) v(x)$$),
  ($$SELECT iforest_train(x, -5, 256, 1) FROM (VALUES ('{1}'::float8[]), ('{2}')) v(x)$$),
  ($$SELECT iforest_train(x, 10, 1, 1) FROM (VALUES ('{1}'::float8[]), ('{2}')) v(x)$$),
  ($$SELECT iforest_train(x, 10, 0, 1) FROM (VALUES ('{1}'::float8[]), ('{2}')) v(x)$$),
  ($$SELECT iforest_train(x, 10, 256, s) FROM (VALUES ('{1}'::float8[], 1), ('{2}', 2)) v(x, s)$$),
  ($$SELECT rf_train(x, y, 0, NULL, NULL, NULL, 1) FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT rf_train(x, y, 10, 0, NULL, NULL, 1) FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT rf_train(x, y, 10, 2, NULL, NULL, 1) FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT rf_train(x, y, 10, NULL, 0, NULL, 1) FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT rf_train(x, y, 10, NULL, NULL, 0, 1) FROM (VALUES ('{1}'::float8[], 0), ('{2}', 1)) v(x, y)$$),
  ($$SELECT rf_train(x, y, n, NULL, NULL, NULL, 1) FROM (VALUES ('{1}'::float8[], 0, 5), ('{2}', 1, 6)) v(x, y, n)$$),
  -- score or predict with the wrong dimension, or bad features
  ($$SELECT iforest_score(im, '{1, 2, 3}') FROM forest_models WHERE name = 'test_default'$$),
  ($$SELECT iforest_decision(im, array_fill(0::float8, ARRAY[24])) FROM forest_models WHERE name = 'test_default'$$),
  ($$SELECT iforest_score(im, array_fill('NaN'::float8, ARRAY[23])) FROM forest_models WHERE name = 'test_default'$$),
  ($$SELECT rf_predict(rm, '{1}') FROM forest_models WHERE name = 'seed'$$),
  ($$SELECT rf_predict_proba(rm, array_fill(0::float8, ARRAY[22])) FROM forest_models WHERE name = 'seed'$$),
  ($$SELECT rf_predict(rm, array_fill('-Infinity'::float8, ARRAY[23])) FROM forest_models WHERE name = 'seed'$$),
  ($$SELECT rf_predict_proba(rm, array_fill(NULL::float8, ARRAY[23])) FROM forest_models WHERE name = 'seed'$$),
  -- corrupt model text: prefix, version, base64, magic, another kind
  ($$SELECT 'iforest/1:'::iforest_model$$),
  ($$SELECT 'rf/1:'::rf_model$$),
  ($$SELECT 'svm/1:QU5UTQ=='::rf_model$$),
  ($$SELECT 'iforest/2:QU5UTQ=='::iforest_model$$),
  ($$SELECT 'rf/x:QU5UTQ=='::rf_model$$),
  ($$SELECT 'rf/1:not base64!'::rf_model$$),
  ($$SELECT ('rf/1:' || encode(convert_to('NOTANTARESMODELHEADER', 'UTF8'), 'base64'))::rf_model$$),
  ($$SELECT ('rf/1:' || substr(im::text, 11))::rf_model FROM forest_models WHERE name = 'test_default'$$),
  ($$SELECT ('iforest/1:' || substr(rm::text, 6))::iforest_model FROM forest_models WHERE name = 'seed'$$),
  -- one character changed: the checksum no longer matches
  ($$SELECT overlay(im::text placing (CASE WHEN substr(im::text, 300, 1) = 'A' THEN 'B' ELSE 'A' END) from 300 for 1)::iforest_model FROM forest_models WHERE name = 'test_default'$$),
  ($$SELECT overlay(rm::text placing (CASE WHEN substr(rm::text, 300, 1) = 'A' THEN 'B' ELSE 'A' END) from 300 for 1)::rf_model FROM forest_models WHERE name = 'seed'$$),
  -- truncated models
  ($$SELECT left(im::text, 10 + 400)::iforest_model FROM forest_models WHERE name = 'test_default'$$),
  ($$SELECT ('rf/1:' || encode(substr(rf_model_send(rm), 1, 45), 'base64'))::rf_model FROM forest_models WHERE name = 'seed'$$),
  ($$SELECT ('rf/1:' || encode(substr(rf_model_send(rm), 1, 19), 'base64'))::rf_model FROM forest_models WHERE name = 'seed'$$),
  -- cross_validate: unknown rf parameters, values that are not integers or out of range
  ($$SELECT * FROM cross_validate('forest_train_set', 'features', 'label', model => 'rf', params => '{"c": 1}')$$),
  ($$SELECT * FROM cross_validate('forest_train_set', 'features', 'label', model => 'rf', params => '{"n_trees": 1.5}')$$),
  ($$SELECT * FROM cross_validate('forest_train_set', 'features', 'label', model => 'rf', params => '{"seed": "1"}')$$),
  ($$SELECT * FROM cross_validate('forest_train_set', 'features', 'label', model => 'rf', params => '{"n_trees": 0}')$$),
  ($$SELECT * FROM cross_validate('forest_train_set', 'features', 'label', model => 'rf', params => '{"max_features": 24}')$$),
  ($$SELECT * FROM cross_validate('forest_train_set', 'features', 'label', model => 'forest')$$)
) t(q);
-- a corrupt value that reached a table (written with the binary input of
-- another type, bypassing the input functions) is an error when read
CREATE TABLE forest_raw (im bytea, rm bytea);
INSERT INTO forest_raw
SELECT overlay(iforest_model_send(a.im) placing '\xff'::bytea from 100 for 1),
       overlay(rf_model_send(b.rm) placing '\xff'::bytea from 100 for 1)
FROM forest_models a, forest_models b WHERE a.name = 'test_default' AND b.name = 'seed';
CREATE FUNCTION pg_temp.as_iforest(bytea) RETURNS iforest_model
AS 'byteasend' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION pg_temp.as_rf(bytea) RETURNS rf_model
AS 'byteasend' LANGUAGE internal IMMUTABLE STRICT;
SELECT public.error_of($$SELECT iforest_score(pg_temp.as_iforest(im), array_fill(0::float8, ARRAY[23])) FROM forest_raw$$);
SELECT public.error_of($$SELECT rf_predict(pg_temp.as_rf(rm), array_fill(0::float8, ARRAY[23])) FROM forest_raw$$);
SELECT public.error_of($$SELECT rf_info(pg_temp.as_rf(rm)) FROM forest_raw$$);

DROP TABLE forest_train_set, forest_test_set, forest_models, forest_raw;

-- Equality of iforest_model values: their stored bytes (rows 1 and 3, 2 and 4
-- hold the same model; row 5 is NULL).
CREATE TABLE iforest_eq (id int, m iforest_model);
INSERT INTO iforest_eq SELECT id, (SELECT iforest_train(ARRAY[x * (1 + id % 2)::float8, x % 7]) FROM generate_series(1, 50) x) FROM generate_series(1, 4) id;
INSERT INTO iforest_eq VALUES (5, NULL);
\set eq_table iforest_eq
\set eq_type iforest_model
\i sql/fixtures/equality_checks.sql
DROP TABLE iforest_eq;

-- Equality of rf_model values: their stored bytes, whether stored compressed
-- out of line or built in the query (rows 1 and 3, 2 and 4 hold the same model;
-- row 5 is NULL).
CREATE TABLE rf_eq (id int, m rf_model);
INSERT INTO rf_eq SELECT id, (SELECT rf_train(ARRAY[x::float8, x % 7], (x > 100)::int, 100, NULL, NULL, NULL, id % 2) FROM generate_series(1, 400) x) FROM generate_series(1, 4) id;
INSERT INTO rf_eq VALUES (5, NULL);
\set eq_table rf_eq
\set eq_type rf_model
\i sql/fixtures/equality_checks.sql
DROP TABLE rf_eq;

-- A stored model stays decoded for the session while its TOAST pointer and
-- the transaction and place of its first chunk are the same; a value's bytes
-- (header and CRC-32C included) cannot choose these.  VACUUM FULL keeps the
-- pointer (the entry's header would still match) and rewrites the chunks:
-- the model is decoded anew, with the same predictions.
CREATE TABLE forest_rewritten (rm rf_model);
ALTER TABLE forest_rewritten ALTER rm SET STORAGE external;
INSERT INTO forest_rewritten
SELECT rf_train(ARRAY[x::float8, x % 7], (x > 100)::int, 20, NULL, NULL, NULL, 3) FROM generate_series(1, 400) x;
CREATE TABLE forest_before AS SELECT rm::text AS text FROM forest_rewritten;
SELECT sum(rf_predict(rm, ARRAY[x::float8, x % 7])) FROM forest_rewritten, generate_series(1, 400) x;
SELECT sum(rf_predict(rm, ARRAY[x::float8, x % 7])) FROM forest_rewritten, generate_series(1, 400) x;
SELECT model_type, hits FROM model_cache() WHERE stored_bytes = (SELECT octet_length(rf_model_send(rm)) FROM forest_rewritten);
VACUUM FULL forest_rewritten;
SELECT sum(rf_predict(rm, ARRAY[x::float8, x % 7])) FROM forest_rewritten, generate_series(1, 400) x;
SELECT model_type, hits FROM model_cache() WHERE stored_bytes = (SELECT octet_length(rf_model_send(rm)) FROM forest_rewritten);
SELECT rm::text = text AS same_value FROM forest_rewritten, forest_before;
DROP TABLE forest_rewritten, forest_before;
