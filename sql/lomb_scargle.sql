-- Lomb-Scargle periodograms: lomb_scargle, lomb_scargle_power.
\i sql/fixtures/shipped_data.sql
\i sql/fixtures/error_of.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- A hand-made band (astropy 5.2: LombScargle(t, y, dy).autopower(method='slow')
-- gives period 0.86092715231788, power 0.899407714470148 on 88 frequencies).
SELECT round(period::numeric, 12) AS period, round(power::numeric, 12) AS power,
       round(frequency::numeric, 12) AS frequency, round(period_s_to_n::numeric, 10) AS s_to_n,
       n_frequencies, round(min_frequency::numeric, 15) AS min_frequency,
       round(frequency_step::numeric, 15) AS frequency_step, method
FROM lomb_scargle('{0, 1, 2.5, 4, 7, 9.5, 13}', '{1, 3, 2, 5, 4, 1, 2}', '{1, 1, 1, 0.5, 1, 2, 1}');

-- The grid: df = 1 / 13 / 5, from df / 2 to 5 * 7 / 2 / 13 (rounded to a
-- step); periods between 2 and 20 days from 1/20 to 1/2; a finer grid.
SELECT n_frequencies, min_frequency = 0.5 / 13 / 5 AS starts_at_half_step,
       frequency_step = 1 / 13.0 / 5 AS step
FROM lomb_scargle('{0, 1, 2.5, 4, 7, 9.5, 13}', '{1, 3, 2, 5, 4, 1, 2}', '{1, 1, 1, 0.5, 1, 2, 1}');
SELECT round(period::numeric, 10) AS period, n_frequencies, min_frequency = 1 / 20.0 AS starts_at_max_period
FROM lomb_scargle('{0, 1, 2.5, 4, 7, 9.5, 13}', '{1, 3, 2, 5, 4, 1, 2}', '{1, 1, 1, 0.5, 1, 2, 1}',
                  min_period => 2, max_period => 20);
SELECT n_frequencies, round(period::numeric, 10) AS period
FROM lomb_scargle('{0, 1, 2.5, 4, 7, 9.5, 13}', '{1, 3, 2, 5, 4, 1, 2}', '{1, 1, 1, 0.5, 1, 2, 1}',
                  samples_per_peak => 20, min_period => 1);

-- A noise-free sinusoid of period 3.7 days plus an offset is fitted
-- exactly: power 1 at its frequency, less elsewhere.
WITH b AS (SELECT array_agg(t ORDER BY t) AS t,
                  array_agg(10 + 3 * sin(2 * pi() * t / 3.7) ORDER BY t) AS f,
                  array_agg(1.0::float8) AS d
           FROM (SELECT ((i * 1.37) % 40)::float8 AS t FROM generate_series(1, 30) i) s)
SELECT round(p[1]::numeric, 12) AS at_period, p[2] < 0.9 AS elsewhere_less,
       round((lomb_scargle(t, f, d, max_period => 3.7, min_period => 3.69)).period::numeric, 4) AS found
FROM b, LATERAL (SELECT lomb_scargle_power(t, f, d, ARRAY[1 / 3.7, 1 / 5.1]) AS p) x;

-- Every band of three shipped objects, both methods: fast (astropy's
-- method 'fast') approximates the sums and may pick another of two peaks
-- of nearly equal power.
SELECT objid, pb, n, round((d).period::numeric, 6) AS period, round((d).power::numeric, 9) AS power,
       round((d).period_s_to_n::numeric, 6) AS s_to_n, (d).n_frequencies,
       (f).frequency = (d).frequency AS fast_same_peak,
       round(abs((f).power - (d).power)::numeric, 3) AS fast_power_diff
FROM (SELECT objid, pb, count(*) AS n,
             lomb_scargle(array_agg(t), array_agg(flux), array_agg(dflux), method => 'direct') AS d,
             lomb_scargle(array_agg(t), array_agg(flux), array_agg(dflux), method => 'fast') AS f
      FROM rawphot WHERE objid IN (10, 60, 73) GROUP BY objid, pb) s
ORDER BY objid, pb;

-- auto takes direct for bands of this size; the peak is the maximum of
-- lomb_scargle_power on the same grid (libm's cos and sin at every
-- frequency there, rotations between them in lomb_scargle: equal to 1e-12).
SELECT (l).method, n_frequencies = array_length(p, 1) AS same_grid,
       (SELECT k FROM unnest(p) WITH ORDINALITY u(x, k) ORDER BY x DESC LIMIT 1)
         = round(((l).frequency - (l).min_frequency) / (l).frequency_step) + 1 AS peak_at_max,
       abs((l).power - (SELECT max(x) FROM unnest(p) x)) < 1e-12 AS same_power
FROM (SELECT l, (l).n_frequencies,
             lomb_scargle_power(t, f, d, array(SELECT (l).min_frequency + k * (l).frequency_step
                                               FROM generate_series(0, (l).n_frequencies - 1) k)) AS p
      FROM (SELECT array_agg(t) AS t, array_agg(flux) AS f, array_agg(dflux) AS d,
                   lomb_scargle(array_agg(t), array_agg(flux), array_agg(dflux)) AS l
            FROM rawphot WHERE objid = 60 AND pb = 'r') b) s;

-- The arrays' order does not matter, ties included.
SELECT (SELECT lomb_scargle(array_agg(t ORDER BY t), array_agg(flux ORDER BY t), array_agg(dflux ORDER BY t))::text
        FROM (SELECT * FROM rawphot WHERE objid = 10 AND pb = 'g' ORDER BY t, flux) o)
     = (SELECT lomb_scargle(array_agg(t ORDER BY flux DESC), array_agg(flux ORDER BY flux DESC),
                            array_agg(dflux ORDER BY flux DESC))::text
        FROM rawphot WHERE objid = 10 AND pb = 'g') AS order_free;
SELECT lomb_scargle('{3, 1, 2, 2}', '{1, 5, 2, 4}', '{1, 2, 1, 1}')::text
     = lomb_scargle('{2, 2, 1, 3}', '{4, 2, 5, 1}', '{1, 1, 2, 1}')::text AS ties_order_free,
       lomb_scargle_power('{3, 1, 2, 0}', '{1, 5, 2, 4}', '{1, 2, 1, 1}', '{0.1, 0.3}')
     = lomb_scargle_power('{0, 2, 1, 3}', '{4, 2, 5, 1}', '{1, 1, 2, 1}', '{0.1, 0.3}') AS power_order_free;

-- Degenerate bands: no points, one, all at one time (no grid); two or three
-- distinct times (the 3-parameter fit is singular or exact) or constant
-- fluxes (a grid, no peak); four distinct times have a peak; NULL
-- arguments (STRICT).
SELECT c, n_frequencies, period IS NULL AS no_peak, round(power::numeric, 10) AS power,
       round(period_s_to_n::numeric, 8) AS period_s_to_n, method,
       min_frequency IS NULL AS no_grid
FROM (VALUES ('empty', lomb_scargle('{}', '{}', '{}')),
             ('one point', lomb_scargle('{1}', '{2}', '{1}')),
             ('one time', lomb_scargle('{5, 5, 5}', '{1, 2, 3}', '{1, 1, 1}')),
             ('two times', lomb_scargle('{1, 2, 2}', '{1, 2, 3}', '{1, 1, 1}')),
             ('three times', lomb_scargle('{1, 2, 4, 4}', '{1, 3, 2, 0}', '{1, 1, 1, 2}')),
             ('four times', lomb_scargle('{1, 2, 4, 7}', '{1, 3, 2, 0}', '{1, 1, 1, 2}')),
             ('constant', lomb_scargle('{1, 2, 4, 8}', '{3, 3, 3, 3}', '{1, 2, 1, 1}'))) v(c, l),
     LATERAL (SELECT (l).*) s
ORDER BY c;
SELECT lomb_scargle_power('{1, 2, 2}', '{1, 2, 3}', '{1, 1, 1}', '{0.1, 0.2}') AS two_times,
       lomb_scargle_power('{}', '{}', '{}', '{0.1}') AS empty,
       lomb_scargle_power('{1, 2, 3}', '{1, 2, 0}', '{1, 1, 1}', '{}') AS no_frequencies,
       lomb_scargle(NULL, '{1}', '{1}') IS NULL AS null_array,
       lomb_scargle('{1, 2, 3}', '{1, 2, 0}', '{1, 1, 1}', min_period => NULL) IS NULL AS null_option,
       lomb_scargle_power('{1, 2, 3}', '{1, 2, 0}', '{1, 1, 1}', NULL) IS NULL AS null_frequencies;
-- Integer times at frequency 1: every phase equal, nothing to fit (power 0,
-- not 0/0); at 1/2 the phases are 0 and pi: the fit along cos alone.
SELECT lomb_scargle_power('{0, 1, 2, 3, 5}', '{1, 3, 2, 5, 4}', '{1, 1, 1, 1, 1}', '{1, 0.5}') AS power,
       round(corr(y, c)::numeric ^ 2, 12) AS r_squared_at_half
FROM (VALUES (0, 1, 1), (1, 3, -1), (2, 2, 1), (3, 5, -1), (5, 4, -1)) v(t, y, c);

-- Bad input (error_of: sql/fixtures/error_of.sql).
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT lomb_scargle('{1, 2}', '{1}', '{1, 1}')$$),
  ($$SELECT lomb_scargle('{{1, 2}}', '{{1, 2}}', '{{1, 1}}')$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, NULL, 3}', '{1, 1, 1}')$$),
  ($$SELECT lomb_scargle('{1, NaN, 3}', '{1, 2, 3}', '{1, 1, 1}')$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, 2, -Infinity}', '{1, 1, 1}')$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, 2, 3}', '{1, 0, 1}')$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, 2, 3}', '{1, 1, NaN}')$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', min_period => -1)$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', min_period => 'Infinity')$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', min_period => 5, max_period => 5)$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', max_period => 'NaN')$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', samples_per_peak => 0)$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', samples_per_peak => -5)$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', method => 'slow')$$),
  ($$SELECT lomb_scargle('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', min_period => 1e-6)$$),
  ($$SELECT lomb_scargle('{-1e308, 0, 1e308}', '{1, 2, 3}', '{1, 1, 1}')$$),
  ($$SELECT lomb_scargle('{0, 4.9e-324, 1e-323}', '{1, 2, 3}', '{1, 1, 1}')$$),
  ($$SELECT lomb_scargle_power('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', '{0.1, 0}')$$),
  ($$SELECT lomb_scargle_power('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', '{0.1, NULL}')$$),
  ($$SELECT lomb_scargle_power('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', '{{0.1}}')$$),
  ($$SELECT lomb_scargle_power('{1, 2, 3}', '{1, 2, 3}', '{1, 1, 1}', '{Infinity}')$$)
) t(q);
