-- lc_features, feature_vector and the DSFP exercise's checks on the shipped light
-- curves (rawphot: the 100 training objects, testphot: the 1000 test objects,
-- both from sql/fixtures/shipped_data.sql).
\i sql/fixtures/shipped_data.sql
\i sql/fixtures/error_of.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- The DSFP exercise's features table, one statement.
CREATE TABLE lcfeats AS
SELECT objid, (lc_features(pb, flux, dflux)).* FROM rawphot GROUP BY objid;
SELECT count(*) AS objects, sum(u_n + g_n + r_n + i_n + z_n + y_n) AS observations FROM lcfeats;

-- The DSFP exercise's checks: 9 objects with g amplitude > 2, 2 objects without a g-r
-- colour, FAKE010's mean colours 1.048, -0.191, -0.193.
SELECT count(*) AS g_amp_over_2 FROM lcfeats WHERE g_amp > 2;
SELECT objid AS no_g_minus_r, g_n, r_n, round(g_mean::numeric, 4) AS g_mean, round(r_mean::numeric, 4) AS r_mean
FROM lcfeats WHERE g_minus_r IS NULL ORDER BY objid;
SELECT round(g_minus_r::numeric, 3) AS g_minus_r, round(r_minus_i::numeric, 3) AS r_minus_i,
       round(i_minus_z::numeric, 3) AS i_minus_z
FROM lcfeats WHERE objid = 10;

-- Every feature of three objects (6 decimals).
SELECT objid, b.band,
       (f ->> (b.band || '_n'))::int AS n,
       round((f ->> (b.band || '_mean'))::numeric, 6) AS mean,
       round((f ->> (b.band || '_std'))::numeric, 6) AS std,
       round((f ->> (b.band || '_amp'))::numeric, 6) AS amp,
       round((f ->> (b.band || '_mad'))::numeric, 6) AS mad,
       round((f ->> (b.band || '_beyond'))::numeric, 6) AS beyond,
       round((f ->> (b.band || '_skew'))::numeric, 6) AS skew
FROM (SELECT objid, to_jsonb(l) - 'objid' AS f FROM lcfeats l WHERE objid IN (10, 60, 73)) o,
     unnest(ARRAY['u', 'g', 'r', 'i', 'z', 'y']) WITH ORDINALITY b(band, k)
ORDER BY objid, k;
SELECT objid, round(u_minus_g::numeric, 6) AS u_minus_g, round(g_minus_r::numeric, 6) AS g_minus_r,
       round(r_minus_i::numeric, 6) AS r_minus_i, round(i_minus_z::numeric, 6) AS i_minus_z,
       z_minus_y
FROM lcfeats WHERE objid IN (10, 60, 73) ORDER BY objid;

-- lc_features is exactly the single-band aggregates, band by band.
SELECT count(*) AS bands_compared,
       count(*) FILTER (WHERE (to_jsonb(l) ->> (s.pb || '_mean'))::float8 IS NOT DISTINCT FROM s.mean
                          AND (to_jsonb(l) ->> (s.pb || '_std'))::float8 IS NOT DISTINCT FROM s.std
                          AND (to_jsonb(l) ->> (s.pb || '_amp'))::float8 IS NOT DISTINCT FROM s.amp
                          AND (to_jsonb(l) ->> (s.pb || '_mad'))::float8 IS NOT DISTINCT FROM s.mad
                          AND (to_jsonb(l) ->> (s.pb || '_beyond'))::float8 IS NOT DISTINCT FROM s.beyond
                          AND (to_jsonb(l) ->> (s.pb || '_skew'))::float8 IS NOT DISTINCT FROM s.skew
                          AND (to_jsonb(l) ->> (s.pb || '_n'))::int = s.n) AS identical
FROM (SELECT objid, pb, count(*) AS n, weighted_mean(flux, dflux) AS mean, norm_std(flux, dflux) AS std,
             norm_amplitude(flux, dflux) AS amp, mad(flux) AS mad, beyond_1std(flux, dflux) AS beyond,
             skew(flux) AS skew
      FROM rawphot GROUP BY objid, pb) s
JOIN lcfeats l USING (objid);

-- The DSFP exercise's 23 features, in its order.
SELECT array_length(feature_vector(l), 1) AS n,
       (SELECT array_agg(round(x::numeric, 4)) FROM unnest(feature_vector(l)) x) AS fake010
FROM lcfeats l WHERE objid = 10;
-- Undefined features become `missing` (-999 by default, NULL when asked).
SELECT objid, (feature_vector(l))[17:23] AS skew_and_colours,
       (feature_vector(l, 'griz', NULL))[21:23] AS colours_null,
       (feature_vector(l, 'gr', 0))[9:11] AS gr_skew_and_colour
FROM lcfeats l WHERE g_minus_r IS NULL ORDER BY objid;
-- Any band string: 5 statistics per band, then consecutive colours.
SELECT array_length(feature_vector(l, 'ugrizy'), 1) AS ugrizy,
       array_length(feature_vector(l, 'g'), 1) AS g,
       round((feature_vector(l, 'gz'))[11]::numeric, 6) AS g_minus_z,
       round(color(g_mean, z_mean)::numeric, 6) AS color_g_z
FROM lcfeats l WHERE objid = 10;
SELECT feature_vector(NULL::features) IS NULL AS null_in_null_out;

-- The test set: every object gets features; bands it lacks are NULL.
CREATE TABLE testfeats AS
SELECT objid, (lc_features(pb, flux, dflux)).* FROM testphot GROUP BY objid;
SELECT count(*) AS objects, sum(g_n + r_n + i_n + z_n) AS griz_rows, sum(u_n + y_n) AS uy_rows,
       count(*) FILTER (WHERE g_minus_r IS NULL) AS no_g_minus_r,
       count(*) FILTER (WHERE g_mean < 0) AS negative_g_mean,
       count(*) FILTER (WHERE array_position(feature_vector(t), -999) IS NULL) AS complete_vectors
FROM testfeats t;

-- Parallel query: Partial/Finalize aggregation gives exactly the serial result.
\i sql/fixtures/force_parallel.sql
SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
SELECT objid, lc_features(pb, flux, dflux) FROM testphot GROUP BY objid;
CREATE TEMP TABLE par AS SELECT objid, lc_features(pb, flux, dflux) AS f FROM testphot GROUP BY objid;
RESET ALL;
SET search_path = antares, public;
SET extra_float_digits = 0;
CREATE TEMP TABLE ser AS SELECT objid, lc_features(pb, flux, dflux) AS f FROM testphot GROUP BY objid;
SELECT (SELECT count(*) FROM par) AS objects,
       (SELECT count(*) FROM (SELECT objid, f::text FROM par EXCEPT SELECT objid, f::text FROM ser) d) AS par_not_ser,
       (SELECT count(*) FROM (SELECT objid, f::text FROM ser EXCEPT SELECT objid, f::text FROM par) d) AS ser_not_par;

-- As a window function: the features as of each epoch equal lc_features
-- over the rows up to that time (peers at equal t included), and a moving
-- frame (rows leave it through the inverse transition) equals lc_features
-- over the same rows; 12 objects, every epoch, compared as text.
CREATE TEMP TABLE win_src AS
SELECT objid, t, pb, flux, dflux, row_number() OVER (PARTITION BY objid ORDER BY t, pb, flux) AS k
FROM rawphot WHERE objid % 9 = 1;
SELECT count(*) AS epochs,
       count(*) FILTER (WHERE w.f::text IS DISTINCT FROM
           (SELECT lc_features(pb, flux, dflux)::text FROM win_src s
            WHERE s.objid = w.objid AND s.t <= w.t)) AS running_differs,
       count(*) FILTER (WHERE m.f::text IS DISTINCT FROM
           (SELECT lc_features(pb, flux, dflux)::text FROM win_src s
            WHERE s.objid = m.objid AND s.k BETWEEN m.k - 7 AND m.k)) AS moving_differs
FROM (SELECT objid, t, k, lc_features(pb, flux, dflux) OVER (PARTITION BY objid ORDER BY t) AS f
      FROM win_src) w
JOIN (SELECT objid, k, lc_features(pb, flux, dflux)
             OVER (PARTITION BY objid ORDER BY k ROWS BETWEEN 7 PRECEDING AND CURRENT ROW) AS f
      FROM win_src) m USING (objid, k);
-- A frame that holds no rows gives NULL, as the aggregate over no rows.
SELECT k, (lc_features(pb, flux, dflux) OVER (ORDER BY k ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING)).g_n
FROM (VALUES (1, 'g', 1.0::float8, 1.0::float8), (2, 'g', 2, 1), (3, 'r', 3, 1), (4, 'r', 4, 1)) v(k, pb, flux, dflux);

-- NULL rows are skipped; no rows give NULL.
SELECT (lc_features(pb, flux, dflux)).g_n AS g_n, (lc_features(pb, flux, dflux)).g_mean AS g_mean
FROM (VALUES ('g', 1.0::float8, 1.0::float8), (NULL, 5, 1), ('g', NULL, 1), ('g', 2, NULL), ('q', NULL, 1)) v(pb, flux, dflux);
SELECT lc_features(pb, flux, dflux) IS NULL AS empty_is_null FROM rawphot WHERE false;

-- Bad input (error_of: sql/fixtures/error_of.sql).
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT lc_features(pb, flux, dflux) FROM (VALUES ('g', 1.0::float8, 1.0::float8), ('q', 1, 1)) v(pb, flux, dflux)$$),
  ($$SELECT lc_features('G', 1, 1)$$),
  ($$SELECT lc_features('', 1, 1)$$),
  ($$SELECT lc_features('gr', 1, 1)$$),
  ($$SELECT lc_features('g', 'NaN', 1)$$),
  ($$SELECT lc_features('r', 1, 0)$$),
  ($$SELECT lc_features('i', 1, '-Infinity')$$),
  ($$SELECT feature_vector(l, 'gx') FROM lcfeats l LIMIT 1$$),
  ($$SELECT feature_vector(l, 'gg') FROM lcfeats l LIMIT 1$$),
  ($$SELECT feature_vector(l, '') FROM lcfeats l LIMIT 1$$),
  ($$SELECT feature_vector(l, NULL) FROM lcfeats l LIMIT 1$$),
  ($$SELECT feature_vector(t) FROM (SELECT 1.0::float8 AS g_std) t$$),
  ($$SELECT feature_vector(t, 'g') FROM (SELECT 1 AS g_std) t$$)
) t(q);
-- An error while aggregating leaves nothing behind.
CREATE TABLE feats_fail AS SELECT objid, lc_features(pb, flux, dflux) FROM
  (SELECT * FROM rawphot UNION ALL SELECT 1, 0, 'w', 1, 1) r GROUP BY objid;
SELECT to_regclass('feats_fail') IS NULL AS nothing_created;

DROP TABLE lcfeats, testfeats;
