-- The Bazin supernova fit: bazin_fit(t[], flux[], dflux[]).
\i sql/fixtures/shipped_data.sql
\i sql/fixtures/error_of.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- A noise-free curve (A 100, B 5, t0 10, tau_rise 4, tau_fall 25, every 3
-- days from -20 to 100): recovered to 1e-6; the peak where the closed form
-- puts it, t0 + tau_rise ln(tau_fall / tau_rise - 1) = 16.6329.
CREATE TEMP TABLE clean AS
SELECT array_agg(t ORDER BY t) AS t,
       array_agg(100 * exp(-(t - 10) / 25) / (1 + exp(-(t - 10) / 4)) + 5 ORDER BY t) AS flux,
       array_agg(1.0::float8 ORDER BY t) AS dflux
FROM generate_series(-20, 100, 3) g, LATERAL (SELECT g::float8 AS t) x;
SELECT round(amplitude::numeric, 6) AS a, round(baseline::numeric, 6) AS b,
       round(reference_time::numeric, 6) AS t0, round(rise_time::numeric, 6) AS rise,
       round(fall_time::numeric, 6) AS fall, reduced_chi2 < 1e-20 AS exact,
       round(peak_time::numeric, 4) AS peak_time, round(peak_flux::numeric, 4) AS peak_flux,
       n, status
FROM clean, bazin_fit(t, flux, dflux);

-- The same curve with noise (a fixed pseudo-random sequence), its error bars,
-- and a reversed and a shuffled copy: the same row.
CREATE TEMP TABLE noisy AS
SELECT array_agg(t ORDER BY t) AS t,
       array_agg(100 * exp(-(t - 10) / 25) / (1 + exp(-(t - 10) / 4)) + 5 + 2 * sin(t * 7.3) ORDER BY t) AS flux,
       array_agg(2 + 0.5 * cos(t) ORDER BY t) AS dflux
FROM generate_series(-20, 100, 3) g, LATERAL (SELECT g::float8 AS t) x;
SELECT round(amplitude::numeric, 4) AS a, round(baseline::numeric, 4) AS b,
       round(reference_time::numeric, 4) AS t0, round(rise_time::numeric, 4) AS rise,
       round(fall_time::numeric, 4) AS fall,
       round(amplitude_err::numeric, 4) AS a_err, round(baseline_err::numeric, 4) AS b_err,
       round(reference_time_err::numeric, 4) AS t0_err, round(rise_time_err::numeric, 4) AS rise_err,
       round(fall_time_err::numeric, 4) AS fall_err, round(reduced_chi2::numeric, 6) AS reduced_chi2,
       round(peak_time::numeric, 4) AS peak_time, round(peak_flux::numeric, 4) AS peak_flux,
       n, status
FROM noisy, bazin_fit(t, flux, dflux);
SELECT bazin_fit(t, flux, dflux) = bazin_fit(array(SELECT x FROM unnest(t) WITH ORDINALITY u(x, i) ORDER BY i DESC),
                                             array(SELECT x FROM unnest(flux) WITH ORDINALITY u(x, i) ORDER BY i DESC),
                                             array(SELECT x FROM unnest(dflux) WITH ORDINALITY u(x, i) ORDER BY i DESC)) AS reversed_same,
       bazin_fit(t, flux, dflux) = (SELECT bazin_fit(array_agg(t ORDER BY k), array_agg(f ORDER BY k), array_agg(s ORDER BY k))
                                    FROM unnest(t, flux, dflux) WITH ORDINALITY u(t, f, s, i),
                                         LATERAL (SELECT (i * 17) % 41 AS k) o) AS shuffled_same
FROM noisy;

-- Degenerate bands: every number NULL, n and status say why.
SELECT label, (r).n, (r).iterations, (r).status,
       num_nulls((r).amplitude, (r).baseline, (r).reference_time, (r).rise_time, (r).fall_time,
                 (r).amplitude_err, (r).baseline_err, (r).reference_time_err, (r).rise_time_err,
                 (r).fall_time_err, (r).reduced_chi2, (r).peak_time, (r).peak_flux) AS null_numbers
FROM (VALUES
  ('empty', bazin_fit('{}', '{}', '{}')),
  ('n = 5', bazin_fit('{1, 2, 3, 4, 5}', '{1, 5, 3, 2, 1}', '{1, 1, 1, 1, 1}')),
  ('constant', bazin_fit('{1, 2, 3, 4, 5, 6, 7}', '{3, 3, 3, 3, 3, 3, 3}', '{1, 2, 1, 2, 1, 2, 1}')),
  ('one time', bazin_fit('{7, 7, 7, 7, 7, 7, 7}', '{1, 5, 3, 2, 1, 0, 4}', '{1, 1, 1, 1, 1, 1, 1}')),
  ('4 times', bazin_fit('{1, 1, 2, 2, 3, 3, 4}', '{1, 5, 3, 2, 1, 0, 4}', '{1, 1, 1, 1, 1, 1, 1}'))
) v(label, r);
-- STRICT: a NULL array gives NULL.
SELECT bazin_fit(NULL, '{1}', '{1}') IS NULL AS null_in_null_out;

-- Bad input (error_of: sql/fixtures/error_of.sql).
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT bazin_fit('{1, 2}', '{1}', '{1, 1}')$$),
  ($$SELECT bazin_fit('{{1, 2}}', '{{1, 2}}', '{{1, 1}}')$$),
  ($$SELECT bazin_fit('{1, NULL}', '{1, 2}', '{1, 1}')$$),
  ($$SELECT bazin_fit('{1, 2}', '{1, 2}', '{1, NULL}')$$),
  ($$SELECT bazin_fit('{1, NaN}', '{1, 2}', '{1, 1}')$$),
  ($$SELECT bazin_fit('{1, 2}', '{-Infinity, 2}', '{1, 1}')$$),
  ($$SELECT bazin_fit('{1, 2, 3}', '{1, 2, 3}', '{1, 0, 1}')$$),
  ($$SELECT bazin_fit('{1, 2, 3}', '{1, 2, 3}', '{1, 1, -2}')$$),
  ($$SELECT bazin_fit('{1, 2, 3}', '{1, 2, 3}', '{1, 1, NaN}')$$)
) t(q);

-- Values beyond what the box can hold (a flux range that is not
-- a double): failed, every number NULL, not an error.
SELECT (r).status, num_nulls((r).amplitude, (r).reduced_chi2, (r).peak_time) AS null_numbers
FROM (VALUES
  (bazin_fit('{1, 2, 3, 4, 5, 6}', '{-1.7e308, 1.7e308, 0, 1, 2, 3}', '{1, 1, 1, 1, 1, 1}'))
) v(r);
-- times spanning more than a double are an ERROR (22003), as for every per-band function
SELECT bazin_fit('{-1.7e308, 1.7e308, 3, 4, 5, 6}', '{1, 5, 3, 2, 1, 0}', '{1, 1, 1, 1, 1, 1}');

-- Every band of the shipped test set: the statuses; a converged band has
-- every number, its parameters in the box (closed: in doubles a logistic map
-- reaches its bound) and the peak at the model's maximum (to rounding: a
-- peak as flat as tau_fall - tau_rise = 0.01 d makes); the others have none.
CREATE FUNCTION pg_temp.bazin(r bazin_fit, t float8) RETURNS float8 LANGUAGE sql AS
$$ SELECT r.amplitude * exp(-(t - r.reference_time) / r.fall_time)
          / (1 + exp(-(t - r.reference_time) / r.rise_time)) + r.baseline $$;
CREATE TEMP TABLE shipped AS
SELECT objid, pb, bazin_fit(array_agg(t), array_agg(flux), array_agg(dflux)) AS r
FROM testphot GROUP BY objid, pb;
SELECT (r).status, count(*) AS bands,
       count(*) FILTER (WHERE num_nulls((r).amplitude, (r).baseline, (r).reference_time, (r).rise_time,
                                         (r).fall_time, (r).reduced_chi2, (r).peak_time,
                                         (r).peak_flux) = 0) AS with_numbers,
       count(*) FILTER (WHERE (r).amplitude_err IS NOT NULL) AS with_errors,
       count(*) FILTER (WHERE (r).amplitude >= 0 AND (r).rise_time >= 0.01
                          AND (r).fall_time >= (r).rise_time + 0.01) AS in_box,
       count(*) FILTER (WHERE (r).peak_flux + 1e-9 * abs((r).peak_flux) >= greatest(
                                  pg_temp.bazin(r, (r).peak_time - 0.01), pg_temp.bazin(r, (r).peak_time + 0.01))) AS peak_is_max
FROM shipped GROUP BY 1 ORDER BY 1;

-- In parallel workers: the same rows.
\i sql/fixtures/force_parallel.sql
CREATE TEMP TABLE shipped_par AS
SELECT objid, pb, bazin_fit(array_agg(t), array_agg(flux), array_agg(dflux)) AS r
FROM testphot GROUP BY objid, pb;
\i sql/fixtures/reset_parallel.sql
SELECT count(*) AS bands,
       (SELECT count(*) FROM (SELECT objid, pb, r::text FROM shipped
                              EXCEPT SELECT objid, pb, r::text FROM shipped_par) d) AS differ
FROM shipped_par;
