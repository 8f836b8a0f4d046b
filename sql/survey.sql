-- Simulated surveys: simulate_survey and simulate_survey_truth.
\i sql/fixtures/error_of.sql
SET search_path = antares, public;
SET extra_float_digits = 0;

-- 2000 objects of seed 42 (a 3-year survey from MJD 60000).
CREATE TEMP TABLE survey AS SELECT * FROM simulate_survey(2000, 42);
SELECT count(*) AS rows, count(DISTINCT objid) AS objects, min(objid), max(objid),
       round(count(*) / 2000.0 / 3, 1) AS obs_per_object_year FROM survey;

-- Reproducible for a seed: the same rows again (and in the same order);
-- another seed gives another survey.
SELECT (SELECT md5(string_agg(concat_ws('|', objid, t, pb, flux, dflux, label), ';'))
        FROM simulate_survey(300, 42))
     = (SELECT md5(string_agg(concat_ws('|', objid, t, pb, flux, dflux, label), ';'))
        FROM simulate_survey(300, 42)) AS same_seed_same_rows,
       (SELECT md5(string_agg(concat_ws('|', objid, t, pb, flux, dflux, label), ';'))
        FROM simulate_survey(300, 42))
     = (SELECT md5(string_agg(concat_ws('|', objid, t, pb, flux, dflux, label), ';'))
        FROM simulate_survey(300, 43)) AS other_seed_same_rows;

-- Any subset reproduces its objects: objids 501..800 alone, and the survey
-- built from ranges of 100 objects, equal the whole survey's rows.
SELECT (SELECT count(*) FROM (SELECT * FROM simulate_survey(300, 42, 501)
                              EXCEPT ALL SELECT * FROM survey WHERE objid BETWEEN 501 AND 800) d) AS subset_extra,
       (SELECT count(*) FROM (SELECT * FROM survey WHERE objid BETWEEN 501 AND 800
                              EXCEPT ALL SELECT * FROM simulate_survey(300, 42, 501)) d) AS subset_missing;
SELECT count(*) AS differences FROM (
  (SELECT s.* FROM generate_series(1, 1901, 100) c, LATERAL simulate_survey(100, 42, c) s
   EXCEPT ALL SELECT * FROM survey)
  UNION ALL
  (SELECT * FROM survey
   EXCEPT ALL SELECT s.* FROM generate_series(1, 1901, 100) c, LATERAL simulate_survey(100, 42, c) s)) d;
-- the two-argument form is the long form with its defaults
SELECT count(*) AS differences FROM (
  SELECT * FROM simulate_survey(200, 42) EXCEPT ALL SELECT * FROM simulate_survey(200, 42, 1, 3, '{1,1,1,1}')) d;

-- In parallel: workers each simulate some of the ranges; the same rows.
CREATE TEMP TABLE ranges (first_objid bigint);
INSERT INTO ranges SELECT generate_series(1, 1901, 100);
ANALYZE ranges;
CREATE TABLE survey_ranges (first_objid bigint) WITH (parallel_workers = 2);
INSERT INTO survey_ranges SELECT * FROM ranges;
ANALYZE survey_ranges;
\i sql/fixtures/force_parallel.sql
EXPLAIN (COSTS OFF)
SELECT s.* FROM survey_ranges c, LATERAL simulate_survey(100, 42, c.first_objid) s;
SELECT count(*) AS differences FROM (
  SELECT s.* FROM survey_ranges c, LATERAL simulate_survey(100, 42, c.first_objid) s
  EXCEPT ALL SELECT * FROM survey) d;
\i sql/fixtures/reset_parallel.sql
DROP TABLE survey_ranges;

-- Class balance: equal weights, about 500 objects of each class.
SELECT label, count(DISTINCT objid) AS objects, abs(count(DISTINCT objid) - 500) < 60 AS near_a_quarter
FROM survey GROUP BY label ORDER BY label;
-- an object has one label
SELECT count(*) AS objects_with_two_labels FROM (
  SELECT objid FROM survey GROUP BY objid HAVING count(DISTINCT label) > 1) o;
-- weights: transients and flaring sources only, 3 to 1
SELECT label, count(*) AS objects FROM simulate_survey_truth(1000, 42, 1, 3, '{3,0,0,1}')
GROUP BY label ORDER BY label;

-- The cadence: six bands, u the rarest and r/i the most observed.
SELECT pb, round(count(*)::numeric / (SELECT count(*) FROM survey), 2) AS share
FROM survey GROUP BY pb ORDER BY share, pb;
-- every visit inside the survey, at night (MJD fraction 0.02 .. 0.40), at
-- most three visits a night, in distinct bands, times increasing
SELECT count(*) FILTER (WHERE t < 60000 OR t >= 60000 + 3 * 365.25) AS outside_survey,
       count(*) FILTER (WHERE t - floor(t) < 0.02 OR t - floor(t) >= 0.40) AS daytime
FROM survey;
SELECT max(visits) AS max_visits_a_night, count(*) FILTER (WHERE bands < visits) AS band_repeated,
       round(avg(visits), 2) AS mean_visits
FROM (SELECT objid, floor(t), count(*) AS visits, count(DISTINCT pb) AS bands
      FROM survey GROUP BY objid, floor(t)) n;
-- seasons: 2 or 3 gaps longer than 100 days per object over 3 years (the
-- survey's start can split a season); between seasons at most 215 days plus
-- nights lost to weather at either edge; nights within a season a few days
-- apart
SELECT long_gaps, count(*) AS objects FROM (
  SELECT objid, count(*) FILTER (WHERE gap > 100) AS long_gaps, max(gap) AS longest
  FROM (SELECT objid, t - lag(t) OVER (PARTITION BY objid ORDER BY t) AS gap FROM survey) g
  GROUP BY objid) o
GROUP BY long_gaps ORDER BY long_gaps;
SELECT max(gap) < 250 AS longest_gap_below_250_days,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap_between_nights
FROM (SELECT round(t - lag(t) OVER (PARTITION BY objid ORDER BY t)) AS gap
      FROM (SELECT DISTINCT objid, floor(t) AS t FROM survey) n) g;
-- a one-year survey: inside its year, at most one gap between seasons
SELECT sum(outside) AS outside_year, max(long_gaps) AS most_long_gaps FROM (
  SELECT objid, count(*) FILTER (WHERE t < 60000 OR t >= 60365.25) AS outside,
         count(*) FILTER (WHERE gap > 100) AS long_gaps
  FROM (SELECT objid, t, t - lag(t) OVER (PARTITION BY objid ORDER BY t) AS gap
        FROM simulate_survey(50, 42, 1, 1)) g
  GROUP BY objid) o;

-- Noise: negative fluxes occur (faint transients far from their peak,
-- flaring M dwarfs in u); every uncertainty positive.
SELECT label, count(*) FILTER (WHERE flux < 0) > 0 AS has_negative_fluxes,
       count(*) FILTER (WHERE NOT dflux > 0) AS bad_uncertainties
FROM survey GROUP BY label ORDER BY label;

-- The truth: the same objects, labels and numbers of rows.
SELECT count(*) AS objects,
       count(*) FILTER (WHERE t.label <> s.label) AS labels_differ,
       count(*) FILTER (WHERE (t.params ->> 'n_obs')::int <> s.n) AS counts_differ
FROM simulate_survey_truth(2000, 42) t
JOIN (SELECT objid, min(label) AS label, count(*) AS n FROM survey GROUP BY objid) s USING (objid);
SELECT class, label, array_agg(DISTINCT k ORDER BY k) AS parameters
FROM simulate_survey_truth(40, 42) t, jsonb_object_keys(params) k
GROUP BY class, label ORDER BY label;
-- periods, time scales and flare counts inside their documented ranges
SELECT count(*) FILTER (WHERE class = 'periodic' AND NOT ((params->>'period')::float8 BETWEEN 0.1 AND 100)) AS bad_period,
       count(*) FILTER (WHERE class = 'stochastic' AND NOT ((params->>'tau')::float8 BETWEEN 5 AND 500)) AS bad_tau,
       count(*) FILTER (WHERE class = 'transient' AND NOT ((params->>'trise')::float8 BETWEEN 1 AND 6
                                                          AND (params->>'tfall')::float8 BETWEEN 15 AND 60)) AS bad_bazin,
       count(*) FILTER (WHERE class = 'flaring' AND jsonb_array_length(params->'flares') > 64) AS too_many_flares
FROM simulate_survey_truth(2000, 42);

-- The planner's estimate: n_objects x 103 x years rows when they are
-- constants, n_objects for the truth, the declared ROWS otherwise.
CREATE FUNCTION pg_temp.plan_rows(query text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
  RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END $$;
SELECT pg_temp.plan_rows('SELECT * FROM antares.simulate_survey(1000, 1)') AS three_years,
       pg_temp.plan_rows('SELECT * FROM antares.simulate_survey(1000, 1, 1, 10)') AS ten_years,
       pg_temp.plan_rows('SELECT * FROM antares.simulate_survey_truth(1000, 1)') AS truth,
       pg_temp.plan_rows('SELECT s.* FROM generate_series(1, 3) g, antares.simulate_survey(g, 1) s') AS per_call_unknown;

-- A NULL argument gives no rows; no objects, no rows.
SELECT (SELECT count(*) FROM simulate_survey(NULL, 1)) AS null_n,
       (SELECT count(*) FROM simulate_survey(10, NULL)) AS null_seed,
       (SELECT count(*) FROM simulate_survey(10, 1, 1, 3, NULL)) AS null_weights,
       (SELECT count(*) FROM simulate_survey(0, 1)) AS no_objects;
-- objids may be anywhere in bigint, up to its last value
SELECT count(DISTINCT objid) AS objects, max(objid) = 9223372036854775807 AS last_bigint
FROM simulate_survey(3, 1, 9223372036854775805);

-- Errors (error_of: sql/fixtures/error_of.sql).
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT * FROM antares.simulate_survey(-1, 1)$$),
  ($$SELECT * FROM antares.simulate_survey(2, 1, 9223372036854775807)$$),
  ($$SELECT * FROM antares.simulate_survey(1, 1, 1, 0)$$),
  ($$SELECT * FROM antares.simulate_survey(1, 1, 1, 100.5)$$),
  ($$SELECT * FROM antares.simulate_survey(1, 1, 1, 'NaN')$$),
  ($$SELECT * FROM antares.simulate_survey(1, 1, 1, 3, '{1,1,1}')$$),
  ($$SELECT * FROM antares.simulate_survey(1, 1, 1, 3, '{{1,1},{1,1}}')$$),
  ($$SELECT * FROM antares.simulate_survey(1, 1, 1, 3, '{1,NULL,1,1}')$$),
  ($$SELECT * FROM antares.simulate_survey(1, 1, 1, 3, '{1,-1,1,1}')$$),
  ($$SELECT * FROM antares.simulate_survey(1, 1, 1, 3, '{0,0,0,0}')$$),
  ($$SELECT * FROM antares.simulate_survey(1, 1, 1, 3, '{1,Infinity,1,1}')$$),
  ($$SELECT * FROM antares.simulate_survey_truth(-5, 1)$$),
  ($$SELECT * FROM antares.simulate_survey_truth(1, 1, 1, -1)$$)) v(q);
