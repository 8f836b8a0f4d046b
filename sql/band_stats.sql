-- Per-band statistics: the single-band aggregates and color().
SET search_path = antares, public;
SET extra_float_digits = 0;

CREATE TEMP TABLE obs (band text, flux float8, dflux float8);
INSERT INTO obs VALUES
  ('a', 1, 1), ('a', 2, 1), ('a', 3, 2), ('a', 10, 1),      -- skewed
  ('b', 5, 1),                                              -- one point
  ('c', 2, 1), ('c', 2, 3), ('c', 2, 0.5),                  -- constant
  ('d', 0, 1), ('d', 0, 2),                                 -- all zero
  ('e', -1, 1), ('e', 1, 1),                                -- mean exactly 0
  ('f', -4, 1), ('f', -2, 2), ('f', -3, 1), ('f', 1, 1);    -- negative mean

SELECT band, count(*) AS n,
       round(weighted_mean(flux, dflux)::numeric, 10) AS mean,
       round(norm_std(flux, dflux)::numeric, 10) AS std,
       round(norm_amplitude(flux, dflux)::numeric, 10) AS amp,
       round(mad(flux)::numeric, 10) AS mad,
       round(beyond_1std(flux, dflux)::numeric, 10) AS beyond,
       round(skew(flux)::numeric, 10) AS skew
FROM obs GROUP BY band ORDER BY band;

-- Closed forms for band a: mean = (1+8+27/4+1000)/(1+4+9/4+100)
SELECT weighted_mean(flux, dflux) = (1 + 8 + 27.0/4 + 1000) / (1 + 4 + 9.0/4 + 100) AS mean_exact,
       mad(flux) = 1 AS mad_exact
FROM obs WHERE band = 'a';

-- Median of an even count is the mean of the middle two; ties are fine.
SELECT mad(x) FROM (VALUES (1.0::float8), (1), (1), (5)) v(x);
SELECT mad(x) FROM (VALUES (1.0::float8), (2), (4), (8), (16), (32)) v(x);

-- The result does not depend on the order of the rows.
SELECT band,
       (SELECT row(weighted_mean(flux, dflux), norm_std(flux, dflux), norm_amplitude(flux, dflux),
                   mad(flux), beyond_1std(flux, dflux), skew(flux))::text
        FROM (SELECT * FROM obs o WHERE o.band = b.band ORDER BY flux, dflux) x)
     = (SELECT row(weighted_mean(flux, dflux), norm_std(flux, dflux), norm_amplitude(flux, dflux),
                   mad(flux), beyond_1std(flux, dflux), skew(flux))::text
        FROM (SELECT * FROM obs o WHERE o.band = b.band ORDER BY flux DESC, dflux DESC) x) AS same
FROM (SELECT DISTINCT band FROM obs) b ORDER BY band;

-- Tiny or huge magnitudes: nothing underflows, normalised statistics are scale-free.
SELECT scale, weighted_mean(flux * scale, dflux * scale) / scale AS mean_over_scale,
       norm_std(flux * scale, dflux * scale) = norm_std(flux, dflux) AS same_std,
       skew(flux * scale) = skew(flux) AS same_skew
FROM obs, (VALUES (power(2::float8, -600)), (0.125), (power(2::float8, 600))) v(scale)
WHERE band = 'a' GROUP BY scale ORDER BY scale;
SELECT mad(x) AS mad_near_dbl_max FROM (VALUES (1.7e308::float8), (1.7e308), (-1.7e308), (-1.7e308)) v(x);

-- NULL rows are skipped; no rows, or only NULL rows, give NULL.
SELECT weighted_mean(flux, dflux), mad(flux)
FROM (VALUES (1.0::float8, 1.0::float8), (NULL, 1), (3, NULL), (2, 1)) v(flux, dflux);
SELECT weighted_mean(flux, dflux) IS NULL AS empty_is_null FROM obs WHERE false;
SELECT skew(flux) IS NULL AS null_rows_is_null FROM (VALUES (NULL::float8)) v(flux);

-- Colours.
SELECT color(100, 10) AS minus_2_5, color(10, 10) AS zero,
       color(-1, 10) AS neg_x, color(10, 0) AS zero_y, color(NULL, 1) AS null_x;
SELECT color(1e-300, 1e300) AS tiny_over_huge;

-- Bad input is an error that names the value.  error_of shows the SQLSTATE
-- and message of a failing query.
\i sql/fixtures/error_of.sql
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT weighted_mean(flux, dflux) FROM (VALUES (1.0::float8, 1.0::float8), ('NaN', 1)) v(flux, dflux)$$),
  ($$SELECT weighted_mean(flux, dflux) FROM (VALUES (1.0::float8, 'Infinity'::float8)) v(flux, dflux)$$),
  ($$SELECT norm_std(flux, dflux) FROM (VALUES (1.0::float8, 0.0::float8)) v(flux, dflux)$$),
  ($$SELECT beyond_1std(flux, dflux) FROM (VALUES (1.0::float8, -0.5::float8)) v(flux, dflux)$$),
  ($$SELECT norm_amplitude(flux, dflux) FROM (VALUES (1.0::float8, 'NaN'::float8)) v(flux, dflux)$$),
  ($$SELECT mad(flux) FROM (VALUES ('-Infinity'::float8)) v(flux)$$),
  ($$SELECT skew(flux) FROM (VALUES ('NaN'::float8)) v(flux)$$),
  ($$SELECT color('NaN', 1)$$),
  ($$SELECT color(1, 'Infinity')$$),
  -- a flux/dflux ratio beyond double range is an error, not a silent NULL
  ($$SELECT weighted_mean(flux, dflux) FROM (VALUES (1e300::float8, 1e-300::float8)) v(flux, dflux)$$),
  ($$SELECT weighted_mean(flux, dflux) FROM (VALUES (1e-300::float8, 1e300::float8)) v(flux, dflux)$$)
) t(q);
