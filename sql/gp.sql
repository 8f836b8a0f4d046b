-- Gaussian-process smoothing: gp_smooth, gp_log_likelihood, gp_predict.
\i sql/fixtures/shipped_data.sql
\i sql/fixtures/error_of.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- One band of one light curve, smoothed on the default 200-point grid.
SELECT n, round(amplitude::numeric, 3) AS amplitude, round(length_scale::numeric, 4) AS length_scale,
       round(log_likelihood::numeric, 6) AS log_likelihood,
       array_length(t, 1) AS grid, t[1] = min_t AND t[200] = max_t AS grid_spans_data,
       round(peak_t::numeric, 3) AS peak_t, round(peak_flux::numeric, 3) AS peak_flux,
       peak_flux = (SELECT max(x) FROM unnest(mean) x) AS peak_is_max,
       (SELECT bool_and(x > 0) FROM unnest(sd) x) AS sd_positive
FROM (SELECT (gp_smooth(t, flux, dflux)).*, min(t) AS min_t, max(t) AS max_t
      FROM rawphot WHERE objid = 10 AND pb = 'g') s;

-- Every band of three objects, with a 50-point grid.
SELECT objid, pb, n, round(amplitude::numeric, 3) AS amplitude,
       round(length_scale::numeric, 4) AS length_scale,
       round(log_likelihood::numeric, 6) AS log_likelihood, array_length(mean, 1) AS grid,
       round(peak_t::numeric, 2) AS peak_t, round(peak_flux::numeric, 2) AS peak_flux
FROM (SELECT objid, pb, (gp_smooth(t, flux, dflux, 50)).* FROM rawphot
      WHERE objid IN (10, 60, 73) GROUP BY objid, pb) s
ORDER BY objid, pb;

-- The fixed-parameter building blocks against closed forms.  One point:
-- lml = -(y^2/(A+v) + log(2 pi (A+v)))/2; the posterior at the point has mean
-- y A/(A+v) and variance A v/(A+v); far away it returns to the prior.
SELECT abs(gp_log_likelihood('{5}', '{3}', '{2}', 4, 10)
           - (-(9.0 / 8 + ln(2 * pi() * 8)) / 2)) < 1e-14 AS one_point_lml;
SELECT t, round(mean::numeric, 12) AS mean, round(sd::numeric, 12) AS sd
FROM gp_predict('{5}', '{3}', '{2}', '{5, 1e6}', 4, 10);
-- Two points: the 2x2 Gaussian, k = A (1 + s + s^2/3) exp(-s), s = sqrt5 |dt| / l.
WITH k AS (SELECT 4 * (1 + s + s * s / 3) * exp(-s) AS k12
           FROM (SELECT sqrt(5) * 3 / 10.0 AS s) x),
     m AS (SELECT 4 + 1 AS a, k12 AS b, 4 + 2.25 AS d FROM k)
SELECT abs(gp_log_likelihood('{0, 3}', '{1, -2}', '{1, 1.5}', 4, 10)
           - (-0.5 * ((d * 1 - 2 * b * 1 * -2 + a * 4) / (a * d - b * b))
              - 0.5 * ln(a * d - b * b) - ln(2 * pi()))) < 1e-13 AS two_point_lml
FROM m;
-- Input order does not matter; times may repeat.
SELECT gp_log_likelihood('{3, 0, 3}', '{-2, 1, 4}', '{1.5, 1, 2}', 4, 10)
     = gp_log_likelihood('{0, 3, 3}', '{1, -2, 4}', '{1, 1.5, 2}', 4, 10) AS order_free;
SELECT gp_log_likelihood('{}', '{}', '{}', 4, 10) IS NULL AS empty_is_null;

-- One observation is a valid fit: A = y^2 - dflux^2 maximises the likelihood.
SELECT n, round(amplitude::numeric, 6) AS amplitude, length_scale, array_length(t, 1) AS grid,
       t[1] = t[200] AS one_time
FROM (SELECT (gp_smooth(t, flux, dflux)).* FROM (VALUES (56000.0::float8, 5.0::float8, 1.0::float8)) v(t, flux, dflux)) s;

-- NULL rows are skipped, no rows give NULL, and the result does not depend
-- on the order of the rows.
SELECT (gp_smooth(t, flux, dflux)).n FROM (VALUES (1.0::float8, 2.0::float8, 1.0::float8),
  (2, NULL, 1), (NULL, 2, 1), (3, 1, NULL), (4, 3, 1)) v(t, flux, dflux);
SELECT gp_smooth(t, flux, dflux) IS NULL AS empty_is_null FROM rawphot WHERE false;
SELECT (SELECT gp_smooth(t, flux, dflux)::text FROM (SELECT * FROM rawphot WHERE objid = 60 AND pb = 'r' ORDER BY t) o)
     = (SELECT gp_smooth(t, flux, dflux)::text FROM (SELECT * FROM rawphot WHERE objid = 60 AND pb = 'r' ORDER BY flux DESC) o)
  AS order_free;

-- Parallel query: Partial/Finalize aggregation gives exactly the serial result.
\i sql/fixtures/force_parallel.sql
SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
SELECT objid, pb, gp_smooth(t, flux, dflux, 20) FROM testphot GROUP BY objid, pb;
CREATE TEMP TABLE par AS
SELECT objid, pb, gp_smooth(t, flux, dflux, 20) AS g FROM testphot WHERE objid <= 300 GROUP BY objid, pb;
RESET ALL;
SET search_path = antares, public;
SET extra_float_digits = 0;
CREATE TEMP TABLE ser AS
SELECT objid, pb, gp_smooth(t, flux, dflux, 20) AS g FROM testphot WHERE objid <= 300 GROUP BY objid, pb;
SELECT (SELECT count(*) FROM par) AS bands,
       (SELECT count(*) FROM (SELECT objid, pb, g::text FROM par EXCEPT SELECT objid, pb, g::text FROM ser) d) AS par_not_ser,
       (SELECT count(*) FROM (SELECT objid, pb, g::text FROM ser EXCEPT SELECT objid, pb, g::text FROM par) d) AS ser_not_par;

-- Bad input (error_of: sql/fixtures/error_of.sql).
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT gp_smooth(t, flux, dflux) FROM (VALUES (1.0::float8, 1.0::float8, 0.0::float8)) v(t, flux, dflux)$$),
  ($$SELECT gp_smooth(t, flux, dflux) FROM (VALUES ('NaN'::float8, 1.0::float8, 1.0::float8)) v(t, flux, dflux)$$),
  ($$SELECT gp_smooth(t, flux, dflux) FROM (VALUES (1.0::float8, 'Infinity'::float8, 1.0::float8)) v(t, flux, dflux)$$),
  ($$SELECT gp_smooth(1, 1, 1, 1)$$),
  ($$SELECT gp_smooth(1, 1, 1, 1000000)$$),
  ($$SELECT gp_smooth(1, 1, 1, NULL)$$),
  ($$SELECT gp_smooth(t, 1, 1, n) FROM (VALUES (1.0::float8, 10), (2, 20)) v(t, n)$$),
  ($$SELECT gp_log_likelihood('{1, 2}', '{1}', '{1, 1}', 1, 10)$$),
  ($$SELECT gp_log_likelihood('{1, 2}', '{1, NULL}', '{1, 1}', 1, 10)$$),
  ($$SELECT gp_log_likelihood('{{1, 2}}', '{{1, 2}}', '{{1, 1}}', 1, 10)$$),
  ($$SELECT gp_log_likelihood('{1, 2}', '{1, 2}', '{1, -1}', 1, 10)$$),
  ($$SELECT gp_log_likelihood('{1, 2}', '{1, 2}', '{1, 1}', 0, 10)$$),
  ($$SELECT gp_log_likelihood('{1, 2}', '{1, 2}', '{1, 1}', 1, 'NaN')$$),
  ($$SELECT * FROM gp_predict('{1, 2}', '{1, 2}', '{1, 1}', '{1, 2}', 1, -3)$$),
  ($$SELECT * FROM gp_predict('{1, 2}', '{1, 2}', '{1, 1}', '{1, Infinity}', 1, 10)$$),
  ($$SELECT * FROM gp_predict('{1, 2, 3}', '{1, 2}', '{1, 1}', '{1}', 1, 10)$$)
) t(q);

-- Times a subnormal apart are ties to the GP (lambda times the gap, and the
-- grid's step, underflow to 0): the same curve as exact ties.
SELECT ties, array(SELECT round(x::numeric, 9) FROM unnest((g).mean) x) AS mean,
       array(SELECT round(x::numeric, 9) FROM unnest((g).sd) x) AS sd
FROM (SELECT ties, gp_smooth(t, f, 1, 2) AS g
      FROM (VALUES ('subnormal', '4.9e-324'::float8, 1::float8), ('subnormal', 0, 2),
                   ('subnormal and -0', '4.9e-324', 1), ('subnormal and -0', 0, 2),
                   ('subnormal and -0', '-0', 3),
                   ('exact', 0, 1), ('exact', 0, 2)) v(ties, t, f)
      GROUP BY ties) s
ORDER BY ties;
-- Points more than DBL_MAX apart are independent; a grid across them is not
-- a double.  dflux whose square leaves double range is out of range.
SELECT round(gp_log_likelihood('{-1e308, 1e308}', '{1, 2}', '{1, 1}', 1, 1)::numeric, 12) AS independent;
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT gp_smooth(t, 1, 1) FROM (VALUES (9e307::float8), (-9e307)) v(t)$$),
  ($$SELECT gp_log_likelihood('{1, 2, 3}', '{1, 2, 3}', '{4.9e-324, 1, 1}', 1, 1)$$),
  ($$SELECT gp_log_likelihood('{1, 2, 3}', '{1, 2, 3}', '{1, 1e160, 1}', 1, 1)$$),
  ($$SELECT * FROM gp_predict('{1, 2}', '{1, 2}', '{1e155, 1}', '{1.5}', 1, 1)$$),
  ($$SELECT gp_smooth(t, 1, 1e160) FROM (VALUES (1.0::float8), (2)) v(t)$$)
) t(q);
