-- Broker features in one aggregate: the band_statistics aggregate,
-- broker_features, feature_vector(jsonb) and broker_feature_names.
SET search_path = antares, public;
\i sql/fixtures/error_of.sql
\i sql/fixtures/shipped_data.sql

-- A hand-made object: g a rise and fall, r a Bazin-like transient, i a few
-- points; z one point, y two (degenerate bands).
CREATE TEMP TABLE obj AS
SELECT 1::bigint AS objid, t, pb, flux, dflux FROM (VALUES
  (0.0::float8, 'g', 1.0::float8, 0.5::float8), (5, 'g', 4, 0.5), (10, 'g', 9, 0.6),
  (15, 'g', 12, 0.7), (20, 'g', 10, 0.6), (25, 'g', 7, 0.5), (30, 'g', 5, 0.5),
  (40, 'g', 3, 0.4), (55, 'g', 2, 0.4),
  (1, 'r', 2, 0.5), (4, 'r', 6, 0.5), (8, 'r', 14, 0.8), (12, 'r', 20, 1.0),
  (16, 'r', 22, 1.0), (19, 'r', 19, 0.9), (23, 'r', 16, 0.8), (28, 'r', 12, 0.7),
  (33, 'r', 9, 0.6), (41, 'r', 6, 0.5), (50, 'r', 4, 0.5), (60, 'r', 3, 0.5),
  (2, 'i', 3, 1), (9, 'i', 11, 1), (17, 'i', 15, 1), (26, 'i', 12, 1), (37, 'i', 7, 1),
  (30, 'z', 8, 1),
  (10, 'y', 5, 1), (20, 'y', 6, 2)) v(t, pb, flux, dflux);
CREATE TEMP TABLE obj_bands AS
SELECT pb, array_agg(t) AS t, array_agg(flux) AS f, array_agg(dflux) AS d
FROM obj GROUP BY pb;
CREATE TEMP TABLE obj_f AS
SELECT broker_features(t, pb, flux, dflux) AS f FROM obj;

-- Every key of broker_feature_names, no other: 6 bands x 53 + 5 colours.
SELECT cardinality(broker_feature_names()) AS names,
       (SELECT count(*) FROM obj_f, jsonb_object_keys(f)) AS keys,
       (SELECT array_agg(k ORDER BY k) FROM obj_f, jsonb_object_keys(f) k)
         = (SELECT array_agg(n ORDER BY n) FROM unnest(broker_feature_names()) n) AS same_keys;
-- Built as jsonb values, the object is what jsonb_in makes of its text.
SELECT f::text::jsonb = f AS same_value, f::text::jsonb::text = f::text AS same_text FROM obj_f;
SELECT (broker_feature_names())[1:3] AS first, (broker_feature_names())[44:55] AS around_g_end,
       (broker_feature_names())[319:323] AS colours;

-- Each band's keys are the array functions' values of its arrays, exactly
-- (jsonb numbers compare numerically; both are the doubles' shortest forms).
SELECT b.pb,
       bool_and(o.f -> (e.key || '_' || b.pb) = e.value) AS statistics_equal,
       count(*) AS statistics
FROM obj_bands b, obj_f o, jsonb_each(to_jsonb(band_statistics(b.t, b.f, b.d))) e
GROUP BY b.pb ORDER BY b.pb;
SELECT b.pb, o.f -> ('period_' || b.pb) = to_jsonb(l.period) AS period_equal,
       o.f -> ('period_power_' || b.pb) = to_jsonb(l.power) AS power_equal
FROM obj_bands b, obj_f o, lomb_scargle(b.t, b.f, b.d) l ORDER BY b.pb;
SELECT b.pb, z.status,
       bool_and(o.f -> ('bazin_' || e.key || '_' || b.pb) = e.value) AS bazin_equal,
       count(*) AS numbers
FROM obj_bands b, obj_f o, bazin_fit(b.t, b.f, b.d) z,
     jsonb_each(to_jsonb(z) - 'n' - 'iterations' - 'status') e
GROUP BY b.pb, z.status ORDER BY b.pb;

-- The GP peak: gp_smooth's fit; the peak at least gp_smooth's grid maximum
-- and within one grid step of its time.  One point: its time, the mean there.
SELECT b.pb, (o.f ->> ('gp_peak_flux_' || b.pb))::float8 >= (c).peak_flux AS at_least_grid_peak,
       abs((o.f ->> ('gp_peak_time_' || b.pb))::float8 - (c).peak_t)
         <= ((c).t[2] - (c).t[1]) AS within_a_step
FROM obj_bands b, obj_f o,
     LATERAL (SELECT gp_smooth(x.t, x.flux, x.dflux) AS c FROM obj x WHERE x.pb = b.pb) g
ORDER BY b.pb;
SELECT f -> 'gp_peak_time_z' AS z_time, round((f ->> 'gp_peak_flux_z')::numeric, 6) AS z_flux,
       f -> 'gp_peak_time_u' AS u_time, f -> 'observation_count_u' AS u_count
FROM obj_f;
-- Colours at the r peak: color() of the two bands' GP means there (gp_predict
-- with gp_smooth's hyper-parameters); null for a band without points (u)
-- or whose span does not hold the r peak time (z, y).
CREATE TEMP TABLE obj_gp AS
SELECT b.pb, b.t, b.f, b.d, min(x.t) AS t_min, max(x.t) AS t_max,
       gp_smooth(x.t, x.flux, x.dflux) AS c
FROM obj_bands b JOIN obj x USING (pb) GROUP BY b.pb, b.t, b.f, b.d;
SELECT b1 || '_' || b2 AS pair,
       round((o.f ->> ('color_' || b1 || '_' || b2 || '_at_r_peak'))::numeric, 9) AS colour,
       round(color(p1.mean, p2.mean)::numeric, 9) AS expected
FROM obj_f o CROSS JOIN LATERAL (SELECT (o.f ->> 'gp_peak_time_r')::float8 AS tr) r
CROSS JOIN (VALUES (1, 'u', 'g'), (2, 'g', 'r'), (3, 'r', 'i'), (4, 'i', 'z'), (5, 'z', 'y')) v(k, b1, b2)
LEFT JOIN obj_gp g1 ON g1.pb = b1 AND r.tr BETWEEN g1.t_min AND g1.t_max
LEFT JOIN obj_gp g2 ON g2.pb = b2 AND r.tr BETWEEN g2.t_min AND g2.t_max
LEFT JOIN LATERAL gp_predict(g1.t, g1.f, g1.d, ARRAY[r.tr], (g1.c).amplitude, (g1.c).length_scale) p1
  ON true
LEFT JOIN LATERAL gp_predict(g2.t, g2.f, g2.d, ARRAY[r.tr], (g2.c).amplitude, (g2.c).length_scale) p2
  ON true
ORDER BY k;
-- The GP shape around the r peak T, P: each band's peak time - T, and its
-- GP mean (gp_predict, gp_smooth's hyper-parameters, outside the band's
-- span too) at T, T - 10, T + 15, T + 30 over P; null for a band without
-- points (u).
SELECT g.pb, o.f -> ('gp_peak_dt_' || g.pb) AS dt,
       (o.f ->> ('gp_peak_time_' || g.pb))::float8 - r.tr AS expected_dt,
       round((o.f ->> ('gp_flux_ratio' || v.suffix || '_' || g.pb))::numeric, 9) AS ratio,
       round((p.mean / r.pr)::numeric, 9) AS expected, v.suffix
FROM obj_f o
CROSS JOIN LATERAL (SELECT (o.f ->> 'gp_peak_time_r')::float8 AS tr,
                           (o.f ->> 'gp_peak_flux_r')::float8 AS pr) r
CROSS JOIN (VALUES (1, '', 0), (2, '_m10', -10), (3, '_p15', 15), (4, '_p30', 30)) v(k, suffix, dt)
CROSS JOIN obj_gp g
CROSS JOIN LATERAL gp_predict(g.t, g.f, g.d, ARRAY[r.tr + v.dt], (g.c).amplitude,
                              (g.c).length_scale) p
ORDER BY g.pb, v.k;
SELECT f -> 'gp_peak_dt_u' AS dt_u, f -> 'gp_flux_ratio_u' AS ratio_u,
       f -> 'gp_flux_ratio_p30_u' AS ratio_p30_u, f -> 'gp_peak_dt_r' AS dt_r,
       round((f ->> 'gp_flux_ratio_r')::numeric, 9) AS ratio_r
FROM obj_f;
-- A peak flux <= 0 has no half and no ratios: r negated (its GP peak < 0),
-- every band's ratios and r's widths null, dt and g's widths still there;
-- no r band: no T, every dt and ratio null.
SELECT x.what, count(*) FILTER (WHERE jsonb_typeof(v) = 'number') AS numbers,
       count(*) FILTER (WHERE jsonb_typeof(v) = 'null') AS nulls,
       string_agg(k, ' ' ORDER BY k) FILTER (WHERE jsonb_typeof(v) = 'number') AS number_keys
FROM (SELECT 'r negated' AS what,
             broker_features(t, pb, CASE WHEN pb = 'r' THEN -flux ELSE flux END, dflux) AS f FROM obj
      UNION ALL
      SELECT 'no r', broker_features(t, pb, flux, dflux) FROM obj WHERE pb <> 'r') x,
     jsonb_each(x.f) e(k, v)
WHERE k ~ '^gp_(peak_dt|flux_ratio|half)'
GROUP BY x.what ORDER BY x.what;
-- The half widths: on gp_smooth's grid, the peak time minus the last grid
-- time before it where the mean is below half the peak flux, and the first
-- one after it minus the peak time; null where the mean stays above half
-- (z one point, y two: no fall to half within the grid).
SELECT g.pb, o.f -> ('gp_half_rise_time_' || g.pb) AS rise,
       e.pt - max(tt) FILTER (WHERE tt < e.pt AND m < e.pf / 2) AS expected_rise,
       o.f -> ('gp_half_fall_time_' || g.pb) AS fall,
       min(tt) FILTER (WHERE tt > e.pt AND m < e.pf / 2) - e.pt AS expected_fall
FROM obj_f o CROSS JOIN obj_gp g
CROSS JOIN LATERAL (SELECT (o.f ->> ('gp_peak_time_' || g.pb))::float8 AS pt,
                           (o.f ->> ('gp_peak_flux_' || g.pb))::float8 AS pf) e
CROSS JOIN LATERAL unnest((g.c).t, (g.c).mean) u(tt, m)
GROUP BY g.pb, o.f, e.pt, e.pf ORDER BY g.pb;

-- Degenerate bands: one point, two points, constant fluxes, one time.
CREATE TEMP TABLE degenerate AS
SELECT * FROM (VALUES
  (2::bigint, 5.0::float8, 'g', 3.0::float8, 1.0::float8),
  (2, 5, 'r', 3, 1), (2, 8, 'r', 4, 1),
  (2, 1, 'i', 7, 1), (2, 2, 'i', 7, 2), (2, 3, 'i', 7, 1), (2, 4, 'i', 7, 1),
  (2, 6, 'z', 1, 1), (2, 6, 'z', 2, 1), (2, 6, 'z', 4, 1)) v(objid, t, pb, flux, dflux);
SELECT key, CASE jsonb_typeof(value) WHEN 'number' THEN round(value::numeric, 9)::float8::text
                ELSE value::text END AS value
FROM (SELECT broker_features(t, pb, flux, dflux) f FROM degenerate) x, jsonb_each(f)
WHERE key ~ '_[griz]$'
  AND left(key, -2) IN ('observation_count', 'duration', 'median', 'kurtosis', 'stetson_k', 'period',
                        'period_power', 'bazin_amplitude', 'gp_peak_time', 'gp_peak_flux',
                        'gp_flux_ratio', 'gp_half_rise_time', 'gp_half_fall_time')
ORDER BY right(key, 1), key;
-- and each band still equals the array functions
SELECT pb, bool_and(f -> (e.key || '_' || pb) = e.value) AS statistics_equal
FROM (SELECT broker_features(t, pb, flux, dflux) f FROM degenerate) o,
     (SELECT pb, array_agg(t) t, array_agg(flux) fl, array_agg(dflux) d FROM degenerate GROUP BY pb) b,
     jsonb_each(to_jsonb(band_statistics(b.t, b.fl, b.d))) e
GROUP BY pb ORDER BY pb;
-- No rows: NULL, as the built-in aggregates.
SELECT broker_features(t, pb, flux, dflux) IS NULL AS no_rows FROM obj WHERE false;

-- Bad input: the array functions' SQLSTATEs.
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT antares.broker_features(t, 'q', flux, dflux) FROM obj$$),
  ($$SELECT antares.broker_features(t, NULL, flux, dflux) FROM obj$$),
  ($$SELECT antares.broker_features(NULL, pb, flux, dflux) FROM obj$$),
  ($$SELECT antares.broker_features(t, pb, CASE WHEN t = 8 THEN NULL ELSE flux END, dflux) FROM obj$$),
  ($$SELECT antares.broker_features(t, pb, 'NaN', dflux) FROM obj$$),
  ($$SELECT antares.broker_features('Infinity', pb, flux, dflux) FROM obj$$),
  ($$SELECT antares.broker_features(t, pb, flux, 0) FROM obj$$),
  ($$SELECT antares.broker_features(t, pb, flux, -dflux) FROM obj$$),
  ($$SELECT antares.broker_features(CASE t WHEN 0 THEN -1e308 WHEN 55 THEN 1e308 ELSE t END, pb, flux, dflux) FROM obj$$),
  ($$SELECT antares.band_statistics(t, flux, NULL) FROM obj$$),
  ($$SELECT antares.band_statistics(t, flux, 'NaN') FROM obj$$)) v(q);

-- Order independence and parallel query: the training set's objects,
-- serially in one order, in parallel in another: the same jsonb.
CREATE TEMP TABLE serial_f AS
SELECT objid, broker_features(t, pb, flux, dflux) AS f
FROM (SELECT * FROM rawphot ORDER BY objid, t, pb) x GROUP BY objid;
CREATE TABLE public.shuffled_phot AS SELECT * FROM rawphot ORDER BY md5(objid || pb || t || flux);
ANALYZE public.shuffled_phot;
\i sql/fixtures/force_parallel.sql
EXPLAIN (COSTS OFF)
SELECT objid, broker_features(t, pb, flux, dflux) FROM public.shuffled_phot GROUP BY objid;
CREATE TEMP TABLE parallel_f AS
SELECT objid, broker_features(t, pb, flux, dflux) AS f FROM public.shuffled_phot GROUP BY objid;
SELECT count(*) AS objects, count(*) FILTER (WHERE s.f = p.f) AS same,
       count(*) FILTER (WHERE s.f::text = p.f::text) AS same_text
FROM serial_f s JOIN parallel_f p USING (objid);

-- The band_statistics aggregate is the array function, on every band,
-- in parallel too.
EXPLAIN (COSTS OFF)
SELECT objid, pb, band_statistics(t, flux, dflux) FROM public.shuffled_phot GROUP BY objid, pb;
SELECT count(*) AS bands, count(*) FILTER (WHERE a.s IS NOT DISTINCT FROM b.s) AS equal
FROM (SELECT objid, pb, band_statistics(t, flux, dflux) s FROM public.shuffled_phot
      GROUP BY objid, pb) a
JOIN (SELECT objid, pb, band_statistics(array_agg(t), array_agg(flux), array_agg(dflux)) s
      FROM rawphot GROUP BY objid, pb) b USING (objid, pb);
-- Only some parts, in parallel too: the full jsonb's values at fewer keys.
SELECT count(*) AS objects,
       count(*) FILTER (WHERE s.f @> p.f AND (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(p.f) k)
                        = (SELECT array_agg(n ORDER BY n)
                           FROM unnest(broker_feature_names('{periodogram,gp}')) n)) AS same
FROM serial_f s
JOIN (SELECT objid, broker_features(t, pb, flux, dflux, '{periodogram,gp}') AS f
      FROM public.shuffled_phot GROUP BY objid) p USING (objid);
\i sql/fixtures/reset_parallel.sql
DROP TABLE public.shuffled_phot;
SELECT p AS parts, cardinality(broker_feature_names(p)) AS keys,
       (SELECT count(*) FROM jsonb_object_keys(f)) AS object_keys,
       (SELECT f FROM obj_f) @> f AS same_values
FROM (VALUES ('{statistics}'::text[]), ('{periodogram}'), ('{bazin}'), ('{gp}'),
             ('{gp,statistics,gp}')) v(p),
     LATERAL (SELECT broker_features(t, pb, flux, dflux, p) f FROM obj) x;
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT antares.broker_features(t, pb, flux, dflux, '{statistics,fourier}') FROM obj$$),
  ($$SELECT antares.broker_features(t, pb, flux, dflux, '{}') FROM obj$$),
  ($$SELECT antares.broker_features(t, pb, flux, dflux, NULL) FROM obj$$),
  ($$SELECT antares.broker_features(t, pb, flux, dflux, '{gp,NULL}') FROM obj$$),
  ($$SELECT antares.broker_features(t, pb, flux, dflux, CASE WHEN t < 9 THEN '{gp}' ELSE '{bazin}' END::text[]) FROM obj$$),
  ($$SELECT antares.broker_feature_names('{bazin,gps}')$$)) v(q);
SELECT band_statistics(t, flux, dflux) IS NULL AS no_rows FROM obj WHERE false;

-- Expanded from a subquery, the aggregate is computed once: the Agg node
-- outputs it once and the columns are taken from that value.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT pb, (s).observation_count, (s).kurtosis, (s).stetson_k
FROM (SELECT pb, band_statistics(t, flux, dflux) s FROM obj GROUP BY pb) x;

-- feature_vector: the named numbers in order, null as missing.
SELECT feature_vector(f, ARRAY['observation_count_r', 'observation_count_u', 'kurtosis_u']) AS v,
       feature_vector(f, ARRAY['observation_count_r', 'kurtosis_u'], -999) AS v_999,
       cardinality(feature_vector(f, broker_feature_names())) AS whole,
       feature_vector(f, '{}') AS none
FROM obj_f;
SELECT feature_vector(f, broker_feature_names()) = (SELECT array_agg(CASE WHEN jsonb_typeof(f -> n) = 'null'
                                                                       THEN 'NaN' ELSE (f ->> n)::float8 END
                                                                  ORDER BY i)
                                                    FROM unnest(broker_feature_names()) WITH ORDINALITY u(n, i))
         AS whole_vector_in_order
FROM obj_f;
SELECT feature_vector('{"a": 1}', ARRAY['a'], NULL) IS NULL AS strict;
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT antares.feature_vector(f, ARRAY['kurtosis_g', 'kurtosis_q']) FROM obj_f$$),
  ($$SELECT antares.feature_vector(f, ARRAY['kurtosis_g', NULL]) FROM obj_f$$),
  ($$SELECT antares.feature_vector('[1, 2]', ARRAY['a'])$$),
  ($$SELECT antares.feature_vector('{"a": "1"}', ARRAY['a'])$$),
  ($$SELECT antares.feature_vector('{"a": 1}', ARRAY[ARRAY['a'], ARRAY['a']])$$)) v(q);
