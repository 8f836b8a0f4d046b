-- The SQL of bin/pipeline, in two steps:
--   psql -v prepare= -f bin/pipeline.sql   before loading: the extension, and
--       no tables left from an earlier run (bin/antares_load appends)
--   psql -f bin/pipeline.sql               after loading rawphot (training set,
--       data/dsfp/training) and testphot (data/dsfp/test), both
--       (objid bigint, t float8, pb text, flux float8, dflux float8):
--       labels, features, GP smoothing, the SVM's and the random forest's
--       5-fold cross-validation, the test set's classes, its most anomalous
--       objects (isolation forest), Ia against non-Ia on the test set's
--       supernovae (random forest, accuracy and ROC AUC; gradient-boosted trees on broker features, ROC AUC
--       without and with the host redshift), and the DSFP exercise's checks; -v root=DIR names the
--       source tree (default: the current directory), whose test light curves
--       are read on the client for their #label headers
-- Ends with an error (psql exit status 3) if one of the DSFP exercise's checks fails.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

\if :{?prepare}
CREATE EXTENSION IF NOT EXISTS antares;
DROP TABLE IF EXISTS rawphot, testphot, labels, lcfeats, testfeats, testgp, testheader, svm_models,
    forest_models, sn_features;
\quit
\endif

\if :{?root}
\else
\set root .
\endif
\pset null '(null)'
\pset footer off

-- Training labels, assigned by objid (data/dsfp/README.md).
DROP TABLE IF EXISTS labels;
CREATE TABLE labels (objid bigint PRIMARY KEY, label int NOT NULL);
INSERT INTO labels
SELECT objid, CASE WHEN objid <= 20 THEN 0 WHEN objid <= 60 THEN 1 ELSE 2 END
FROM generate_series(1, 100) AS objid;

\echo '== Features of the training set'
DROP TABLE IF EXISTS lcfeats;
\timing on
CREATE TABLE lcfeats AS
SELECT objid, (antares.lc_features(pb, flux, dflux)).*
FROM rawphot
GROUP BY objid;
\timing off
ALTER TABLE lcfeats ADD PRIMARY KEY (objid);

\echo '== Features of the test set'
DROP TABLE IF EXISTS testfeats;
\timing on
CREATE TABLE testfeats AS
SELECT objid, (antares.lc_features(pb, flux, dflux)).*
FROM testphot
GROUP BY objid;
\timing off
ALTER TABLE testfeats ADD PRIMARY KEY (objid);

\echo
\echo '== Rows'
SELECT 'rawphot' AS "table", count(*) AS rows, count(DISTINCT objid) AS objects FROM rawphot
UNION ALL
SELECT 'testphot', count(*), count(DISTINCT objid) FROM testphot
UNION ALL
SELECT 'labels', count(*), count(DISTINCT objid) FROM labels
UNION ALL
SELECT 'lcfeats', count(*), count(DISTINCT objid) FROM lcfeats
UNION ALL
SELECT 'testfeats', count(*), count(DISTINCT objid) FROM testfeats;

\echo '== Feature vectors (the DSFP exercise''s 23 features, -999 where undefined)'
SELECT 'training' AS "set", count(*) AS objects,
       count(*) FILTER (WHERE array_position(antares.feature_vector(f), -999) IS NULL) AS complete,
       count(*) FILTER (WHERE g_minus_r IS NULL) AS "no g-r"
FROM lcfeats f
UNION ALL
SELECT 'test', count(*),
       count(*) FILTER (WHERE array_position(antares.feature_vector(f), -999) IS NULL),
       count(*) FILTER (WHERE g_minus_r IS NULL)
FROM testfeats f;
SELECT 'FAKE010' AS object,
       (SELECT array_agg(round(x::numeric, 3)) FROM unnest(antares.feature_vector(f)) x) AS feature_vector
FROM lcfeats f WHERE objid = 10;

\echo '== A few objects: colours and g-band statistics (rounded)'
SELECT 'FAKE' || lpad(f.objid::text, 3, '0') AS object, l.label,
       round(g_minus_r::numeric, 3) AS "g-r",
       round(r_minus_i::numeric, 3) AS "r-i",
       round(i_minus_z::numeric, 3) AS "i-z",
       g_n,
       round(g_mean::numeric, 2) AS g_mean,
       round(g_std::numeric, 3) AS g_std,
       round(g_amp::numeric, 3) AS g_amp,
       round(g_mad::numeric, 2) AS g_mad,
       round(g_beyond::numeric, 3) AS g_beyond,
       round(g_skew::numeric, 3) AS g_skew
FROM lcfeats f JOIN labels l USING (objid)
WHERE f.objid IN (10, 60, 73)
ORDER BY f.objid;

\echo '== Gaussian-process smoothing (Matern-5/2, 200-point grid): FAKE010'
SELECT pb, n, round(amplitude::numeric, 2) AS amplitude, round(length_scale::numeric, 3) AS length_scale,
       round(log_likelihood::numeric, 3) AS log_likelihood,
       round(peak_t::numeric, 2) AS peak_t, round(peak_flux::numeric, 2) AS peak_flux,
       round(mean[100]::numeric, 2) AS "mean[100]", round(sd[100]::numeric, 2) AS "sd[100]"
FROM (SELECT pb, (antares.gp_smooth(t, flux, dflux)).* FROM rawphot WHERE objid = 10 GROUP BY pb) s
ORDER BY position(pb IN 'ugrizy');

\echo '== Gaussian-process smoothing of every band of the 1000 test objects'
DROP TABLE IF EXISTS testgp;
DO $$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    CREATE TABLE testgp AS
    SELECT objid, pb, (antares.gp_smooth(t, flux, dflux)).* FROM testphot GROUP BY objid, pb;
    CREATE TEMP TABLE gp_timing AS
    SELECT extract(epoch FROM clock_timestamp() - started) AS seconds;
END $$;
SELECT count(DISTINCT objid) AS light_curves, count(*) AS bands, sum(n) AS observations,
       round(seconds::numeric, 3) AS seconds,
       round((1000 * seconds / count(DISTINCT objid))::numeric, 3) AS "ms per light curve",
       current_setting('max_parallel_workers_per_gather') AS workers
FROM testgp, gp_timing GROUP BY seconds;

\echo '== SVM (RBF, C = 1, gamma = 0.1) on the DSFP exercise''s 23 features: 5-fold stratified cross-validation'
CREATE TEMP VIEW training AS
SELECT f.objid, antares.feature_vector(f) AS features, l.label
FROM lcfeats f JOIN labels l USING (objid);
CREATE TEMP TABLE cv AS
SELECT * FROM antares.cross_validate('training', 'features', 'label', 5, 'svm',
                                     '{"c": 1, "gamma": 0.1}', 'objid');
SELECT fold, n_train, n_test, accuracy FROM cv ORDER BY fold;
SELECT round(avg(accuracy)::numeric, 3) AS mean_accuracy,
       round(stddev_samp(accuracy)::numeric, 3) AS sd
FROM cv;

\echo '== Random forest (100 trees, seed 1) beside the SVM: the same 5 folds (the DSFP exercise''s 4c-4e)'
CREATE TEMP TABLE cv_rf AS
SELECT * FROM antares.cross_validate('training', 'features', 'label', 5, 'rf',
                                     '{"n_trees": 100, "seed": 1}', 'objid');
SELECT s.fold, s.n_test, s.accuracy AS svm_accuracy, r.accuracy AS rf_accuracy
FROM cv s JOIN cv_rf r USING (fold) ORDER BY fold;
SELECT 'svm' AS model, round(avg(accuracy)::numeric, 3) AS mean_accuracy,
       round(stddev_samp(accuracy)::numeric, 3) AS sd FROM cv
UNION ALL
SELECT 'rf', round(avg(accuracy)::numeric, 3), round(stddev_samp(accuracy)::numeric, 3) FROM cv_rf;

\echo '== SVM trained on the training set: classes of the test set (true: the #label header)'
DROP TABLE IF EXISTS svm_models;
CREATE TABLE svm_models AS
SELECT 'seed'::text AS name, antares.svm_train(features, label, 1, 0.1 ORDER BY objid) AS model
FROM training;
SELECT antares.svm_info(model) - 'rho' AS model FROM svm_models;
DROP TABLE IF EXISTS testheader;
CREATE TABLE testheader (objid bigint, content text);
\set copy_test '\\copy testheader FROM PROGRAM ''sh "' :root '/test/lc_files_copy.sh" "' :root '/data/dsfp/test"'''
:copy_test
CREATE TEMP TABLE test_classes AS
SELECT t.objid, antares.svm_predict(m.model, antares.feature_vector(t)) AS predicted,
       (antares.lightcurve_header(h.content) ->> 'label')::int AS true_label
FROM testfeats t JOIN testheader h USING (objid), svm_models m;
SELECT c.class, count(*) FILTER (WHERE c.class = predicted) AS predicted,
       count(*) FILTER (WHERE c.class = true_label) AS "true"
FROM test_classes, (VALUES (0), (1), (2)) c(class)
GROUP BY c.class ORDER BY c.class;
SELECT count(*) AS test_objects, count(*) FILTER (WHERE predicted = true_label) AS agree
FROM test_classes;

\echo '== Isolation forest (1000 trees, seed 1) on the test set''s 23 DSFP features: the 10 most anomalous (the DSFP exercise''s 6a)'
DROP TABLE IF EXISTS forest_models;
CREATE TABLE forest_models AS
SELECT 'test_anomalies'::text AS name, antares.iforest_train(antares.feature_vector(t), 1000, NULL, 1) AS iforest
FROM testfeats t;
SELECT antares.iforest_info(iforest) - 'average_path_length' AS model FROM forest_models;
CREATE TEMP TABLE anomalies AS
SELECT t.objid, antares.lightcurve_header(h.content) ->> 'sntype' AS sntype,
       antares.iforest_score(m.iforest, antares.feature_vector(t)) AS score,
       antares.iforest_decision(m.iforest, antares.feature_vector(t)) AS decision
FROM testfeats t JOIN testheader h USING (objid), forest_models m;
SELECT 'FAKE' || lpad(objid::text, 5, '0') AS object, sntype, round(score::numeric, 4) AS score,
       round(decision::numeric, 4) AS decision
FROM anomalies ORDER BY score, objid LIMIT 10;
SELECT count(*) AS test_objects, count(*) FILTER (WHERE decision < 0) AS "anomalous (decision < 0)"
FROM anomalies;

\echo '== Ia against non-Ia on the test set''s 1000 supernovae (#sntype): random forest, 5-fold stratified CV'
-- Features: lc_features of g, r, i, z (observations, weighted mean, std,
-- amplitude, MAD, beyond-1-std, skew per band; three colours) and the GP
-- smoothing's peak flux and length scale per band; -999 where undefined.
DROP TABLE IF EXISTS sn_features;
CREATE TABLE sn_features AS
SELECT t.objid,
       (antares.lightcurve_header(h.content) ->> 'sntype' = 'Ia')::int AS is_ia,
       antares.feature_vector(t)
       || ARRAY[coalesce(g_n, 0), coalesce(r_n, 0), coalesce(i_n, 0), coalesce(z_n, 0),
                coalesce(g_mean, -999), coalesce(r_mean, -999), coalesce(i_mean, -999),
                coalesce(z_mean, -999)]::float8[]
       || (SELECT array_agg(coalesce(v, -999) ORDER BY b, k)
           FROM (VALUES (1, 'g'), (2, 'r'), (3, 'i'), (4, 'z')) AS bands(b, pb)
           CROSS JOIN (VALUES (1), (2)) AS which(k)
           LEFT JOIN testgp gp ON gp.objid = t.objid AND gp.pb = bands.pb
           CROSS JOIN LATERAL (SELECT CASE k WHEN 1 THEN gp.peak_flux ELSE gp.length_scale END AS v) AS val)
       AS features
FROM testfeats t JOIN testheader h USING (objid);
ALTER TABLE sn_features ADD PRIMARY KEY (objid);
SELECT count(*) AS supernovae, count(*) FILTER (WHERE is_ia = 1) AS ia,
       min(array_length(features, 1)) AS features
FROM sn_features;
-- Each fold's forest is trained on the other four folds; the out-of-fold
-- probability of Ia (rf_predict_proba's second class, rf_info's classes
-- [0, 1]) gives the ROC AUC: the probability that an Ia scores above a
-- non-Ia, ties counting one half (Mann-Whitney).
CREATE TEMP TABLE sn_folds AS
SELECT objid, is_ia, features, antares.stratified_fold(is_ia, 5) OVER (ORDER BY objid) AS fold
FROM sn_features;
CREATE TEMP TABLE sn_cv AS
WITH models AS (
    SELECT f.fold, antares.rf_train(d.features, d.is_ia, 100, NULL, NULL, NULL, 1) AS m
    FROM generate_series(0, 4) AS f(fold) JOIN sn_folds d ON d.fold <> f.fold
    GROUP BY f.fold
)
SELECT d.objid, d.fold, d.is_ia, antares.rf_predict(m.m, d.features) AS predicted,
       (antares.rf_predict_proba(m.m, d.features))[2] AS p_ia
FROM sn_folds d JOIN models m USING (fold);
CREATE TEMP TABLE sn_auc AS
SELECT p.fold, avg(CASE WHEN p.p_ia > n.p_ia THEN 1.0 WHEN p.p_ia = n.p_ia THEN 0.5 ELSE 0.0 END) AS auc
FROM sn_cv p JOIN sn_cv n ON n.fold = p.fold AND n.is_ia = 0
WHERE p.is_ia = 1
GROUP BY p.fold;
SELECT c.fold, count(*) AS n_test, count(*) FILTER (WHERE c.is_ia = 1) AS ia,
       round(avg((c.predicted = c.is_ia)::int)::numeric, 3) AS accuracy,
       round(a.auc::numeric, 3) AS roc_auc
FROM sn_cv c JOIN sn_auc a USING (fold)
GROUP BY c.fold, a.auc ORDER BY c.fold;
SELECT round(avg(accuracy)::numeric, 3) AS mean_accuracy,
       round((SELECT avg(auc) FROM sn_auc)::numeric, 3) AS mean_roc_auc,
       round((SELECT 1 - avg(is_ia) FROM sn_features)::numeric, 3) AS "accuracy of 'never Ia'"
FROM (SELECT fold, avg((predicted = is_ia)::int) AS accuracy FROM sn_cv GROUP BY fold) s;

\echo '== Ia against non-Ia with broker features: gradient-boosted trees, the same folds, without and with the host redshift'
-- Features (bench/README.md, "Ia against non-Ia: which features", found them):
-- the forest's, undefined as missing (NaN) instead of -999, and the GP's light-curve
-- shape in g, r, i, z from broker_features: each band's flux at the r band's GP
-- peak time T and at T - 10, T + 15 and T + 30 d over the r band's peak flux, its
-- own peak time less T, and the days from half its peak to the peak and back.
-- Then the host redshift (#zgal), which a live stream does not always have.
CREATE TEMP TABLE sn_broker AS
SELECT d.objid, d.is_ia, d.fold,
       array_replace(d.features, -999, 'NaN') || antares.feature_vector(b.f, names.names) AS x,
       (antares.lightcurve_header(h.content) ->> 'zgal')::float8 AS zgal
FROM sn_folds d
JOIN (SELECT objid, antares.broker_features(t, pb, flux, dflux, '{gp}') AS f FROM testphot GROUP BY objid) b
    USING (objid)
JOIN testheader h USING (objid)
CROSS JOIN (SELECT array_agg(k || '_' || pb ORDER BY ki, bi) AS names
            FROM unnest('{gp_flux_ratio, gp_flux_ratio_m10, gp_flux_ratio_p15, gp_flux_ratio_p30, gp_peak_dt,
                          gp_half_rise_time, gp_half_fall_time}'::text[]) WITH ORDINALITY AS f(k, ki),
                 unnest('{g, r, i, z}'::text[]) WITH ORDINALITY AS b(pb, bi)) names;
-- Each fold's model is trained on the other four folds (the forest's folds),
-- 400 trees of depth 4, learning rate 0.05, rows and features subsampled.
CREATE TEMP TABLE sn_gbt AS
WITH models AS (
    SELECT f.fold, z.zgal,
           antares.gbt_train(CASE WHEN z.zgal THEN d.x || d.zgal ELSE d.x END, d.is_ia,
                             '{"n_trees": 400, "max_depth": 4, "learning_rate": 0.05, "subsample": 0.8,
                               "colsample_bytree": 0.5}') AS m
    FROM generate_series(0, 4) AS f(fold) CROSS JOIN (VALUES (false), (true)) AS z(zgal)
    JOIN sn_broker d ON d.fold <> f.fold
    GROUP BY f.fold, z.zgal
)
SELECT d.objid, d.fold, m.zgal, d.is_ia,
       (antares.gbt_predict_proba(m.m, CASE WHEN m.zgal THEN d.x || d.zgal ELSE d.x END))[2] AS p_ia
FROM sn_broker d JOIN models m USING (fold);
CREATE TEMP TABLE sn_gbt_auc AS
SELECT p.zgal, p.fold, avg(CASE WHEN p.p_ia > n.p_ia THEN 1.0 WHEN p.p_ia = n.p_ia THEN 0.5 ELSE 0.0 END) AS auc
FROM sn_gbt p JOIN sn_gbt n ON n.zgal = p.zgal AND n.fold = p.fold AND n.is_ia = 0
WHERE p.is_ia = 1
GROUP BY p.zgal, p.fold;
WITH n AS (SELECT (SELECT array_length(min(features), 1) FROM sn_features) AS n_forest,
                  (SELECT array_length(min(x), 1) FROM sn_broker) AS n_all)
SELECT r.model, r.features, r.roc_auc_by_fold, round(r.mean_auc, 3) AS mean_roc_auc,
       CASE WHEN r.mean_auc >= 0.98 THEN 'yes' ELSE 'no' END AS ">= 0.98 (Lochner et al. 2016)"
FROM (SELECT 0 AS ord, 'random forest' AS model, n_forest || ' (the forest''s)' AS features,
             (SELECT array_agg(round(auc::numeric, 3) ORDER BY fold) FROM sn_auc) AS roc_auc_by_fold,
             (SELECT avg(auc) FROM sn_auc)::numeric AS mean_auc
      FROM n
      UNION ALL
      SELECT 1 + a.zgal::int, 'gradient-boosted trees',
             n_forest || ' + ' || n_all - n_forest || ' GP shape' || CASE WHEN a.zgal THEN ' + zgal' ELSE '' END,
             array_agg(round(a.auc::numeric, 3) ORDER BY a.fold), avg(a.auc)::numeric
      FROM sn_gbt_auc a, n GROUP BY a.zgal, n_forest, n_all) r
ORDER BY r.ord;

\echo '== The DSFP exercise''s checks'
CREATE TEMP TABLE seed_checks AS
SELECT c.ord, c."check", c.expected, c.got, c.got IS NOT DISTINCT FROM c.expected AS pass
FROM (VALUES
    (1, 'training objects with g_amp > 2', '9',
        (SELECT count(*) FROM lcfeats WHERE g_amp > 2)::text),
    (2, 'training objects with g-r undefined', '2',
        (SELECT count(*) FROM lcfeats WHERE g_minus_r IS NULL)::text),
    (3, 'FAKE010 g-r', '1.048',
        (SELECT round(g_minus_r::numeric, 3) FROM lcfeats WHERE objid = 10)::text),
    (4, 'FAKE010 r-i', '-0.191',
        (SELECT round(r_minus_i::numeric, 3) FROM lcfeats WHERE objid = 10)::text),
    (5, 'FAKE010 i-z', '-0.193',
        (SELECT round(i_minus_z::numeric, 3) FROM lcfeats WHERE objid = 10)::text),
    (6, '5-fold CV folds', '5',
        (SELECT count(*) FROM cv)::text),
    (7, 'test objects classified', '1000',
        (SELECT count(predicted) FROM test_classes)::text),
    (8, 'random-forest CV folds', '5',
        (SELECT count(*) FROM cv_rf)::text),
    (9, 'test objects scored by the isolation forest', '1000',
        (SELECT count(score) FROM anomalies)::text),
    (10, 'Ia among the test supernovae', '239',
        (SELECT sum(is_ia) FROM sn_features)::text),
    (11, 'supernovae with an out-of-fold Ia probability', '1000',
        (SELECT count(p_ia) FROM sn_cv)::text),
    (12, 'the same from the boosted trees, without and with zgal', '2000',
        (SELECT count(p_ia) FROM sn_gbt)::text)
) AS c(ord, "check", expected, got);

SELECT "check", expected, got, CASE WHEN pass THEN 'ok' ELSE 'FAILED' END AS result
FROM seed_checks ORDER BY ord;

DO $$
DECLARE
    n int := (SELECT count(*) FROM seed_checks WHERE NOT pass);
BEGIN
    IF n > 0 THEN
        RAISE EXCEPTION '% of the DSFP exercise''s checks failed', n;
    END IF;
END $$;
\echo 'all the DSFP exercise''s checks passed'
