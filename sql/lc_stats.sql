-- band_statistics: the broker-grade statistics of one band (lc_stats.c).
\i sql/fixtures/shipped_data.sql
\i sql/fixtures/error_of.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- Five points, every column: t 1..5, fluxes a permutation of 1..5.
\x on
SELECT * FROM band_statistics('{1,2,3,4,5}'::float8[], '{1,3,2,5,4}', '{1,1,2,1,1}');
\x off

-- Closed forms for it.  Kurtosis of 1..5: -1.2.  eta: successive
-- differences 2,-1,3,-1 over (n-1) var = 4 * 2.5; eta_e the same (dt = 1,
-- (t_4 - t_0)^2 / (n-1)^3 = 1/4).  linear_trend: sum (t-3)(f-3) / sum (t-3)^2
-- = 8/10.  percent_amplitude: max |f - 3| = 2.  cusum: partial sums of
-- f - 3 are -2, -2, -3, -1, 0: range 3 over n s = 5 sqrt(2.5).
SELECT abs(kurtosis + 1.2) < 1e-15 AS kurtosis, eta = 1.5 AS eta, eta_e = 1.5 AS eta_e,
       abs(linear_trend - 0.8) < 1e-15 AS linear_trend, percent_amplitude = 2 AS percent_amplitude,
       abs(cusum - 3 / (5 * sqrt(2.5))) < 1e-15 AS cusum, median = 3 AS median,
       duration = 4 AS duration, maximum_slope = 3 AS maximum_slope
FROM band_statistics('{1,2,3,4,5}'::float8[], '{1,3,2,5,4}', '{1,1,2,1,1}');

-- The order of the arrays does not matter (the triples are sorted by t, flux, dflux).
SELECT band_statistics('{1,2,3,4,5}'::float8[], '{1,3,2,5,4}', '{1,1,2,1,1}')
     = band_statistics('{5,3,1,4,2}'::float8[], '{4,2,1,5,3}', '{1,2,1,1,1}') AS same_row;

-- Degenerate bands: the columns defined for few points, the columns
-- undefined for constant fluxes, points at one time, a mean of 0.
SELECT name, s.observation_count AS n,
       (SELECT string_agg(key, E'\n' ORDER BY key) FROM jsonb_each(to_jsonb(s))
        WHERE (value = 'null'::jsonb) = (n > 2)) AS columns
FROM (VALUES ('empty', '{}'::float8[], '{}'::float8[], '{}'::float8[]),
             ('one point', '{5}', '{3}', '{1}'),
             ('two points', '{1,2}', '{3,-1}', '{0.5,2}'),
             ('constant fluxes', '{1,2,3,5,8}', '{4,4,4,4,4}', '{1,2,1,3,1}'),
             ('all at one time', '{7,7,7,7,7,7}', '{1,4,2,8,5,7}', '{1,1,1,1,1,1}'),
             ('zero mean', '{1,2,3,4}', '{-1,1,-2,2}', '{1,1,1,1}')) v(name, t, f, d),
     band_statistics(t, f, d) s, LATERAL (SELECT s.observation_count AS n) c
ORDER BY n, name;

-- Constant fluxes: the spreads are 0, chi2 and the fits' slopes too.
SELECT percent_amplitude, inter_percentile_range_10, median_buffer_range_percentage_10,
       mean_variance, chi2, linear_trend, linear_fit_slope, linear_fit_reduced_chi2,
       excess_variance = -(1 + 4 + 1 + 9 + 1) / 5.0 / 16 AS excess_variance
FROM band_statistics('{1,2,3,5,8}'::float8[], '{4,4,4,4,4}', '{1,2,1,3,1}');

-- Equal times: their pairs are left out of eta_e and maximum_slope.
SELECT minimum_time_interval, maximum_time_interval, maximum_slope,
       round(eta_e::numeric, 12) AS eta_e
FROM band_statistics('{1,1,2,2}'::float8[], '{1,4,2,8}', '{1,1,1,1}');

-- One band of the shipped data (training object 10, g).
\x on
SELECT observation_count, round(duration::numeric, 6) AS duration,
       round(median::numeric, 6) AS median, round(kurtosis::numeric, 9) AS kurtosis,
       round(anderson_darling_normal::numeric, 9) AS anderson_darling_normal,
       round(stetson_k::numeric, 9) AS stetson_k, round(eta_e::numeric, 9) AS eta_e,
       round(chi2::numeric, 6) AS chi2, round(linear_fit_slope::numeric, 9) AS linear_fit_slope,
       round(flux_percentile_ratio_mid50::numeric, 9) AS flux_percentile_ratio_mid50
FROM (SELECT array_agg(t) AS t, array_agg(flux) AS f, array_agg(dflux) AS d
      FROM rawphot WHERE objid = 10 AND pb = 'g') p, band_statistics(p.t, p.f, p.d) s;
\x off

-- STRICT: a NULL array gives NULL.
SELECT band_statistics(NULL::float8[], '{1}', '{1}') IS NULL AS null_array;

-- Bad input (error_of: sql/fixtures/error_of.sql).
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT band_statistics('{1,2}'::float8[], '{1}', '{1,1}')$$),
  ($$SELECT band_statistics('{{1,2},{3,4}}'::float8[], '{1,2,3,4}', '{1,1,1,1}')$$),
  ($$SELECT band_statistics('{1,NULL}'::float8[], '{1,2}', '{1,1}')$$),
  ($$SELECT band_statistics('{1,2}'::float8[], '{1,NaN}', '{1,1}')$$),
  ($$SELECT band_statistics('{1,-Infinity}'::float8[], '{1,2}', '{1,1}')$$),
  ($$SELECT band_statistics('{1,2}'::float8[], '{1,2}', '{1,0}')$$),
  ($$SELECT band_statistics('{1,2}'::float8[], '{1,2}', '{-0.5,1}')$$),
  ($$SELECT band_statistics('{-1e308,1e308}'::float8[], '{1,2}', '{1,1}')$$),
  ($$SELECT band_statistics('{0,1}'::float8[], '{1e300,-1e300}', '{1e-300,1e-300}')$$)
) v(q);
