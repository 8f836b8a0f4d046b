-- antares: light-curve science inside PostgreSQL.
-- The one canonical install script; the build copies it to antares--<version>.sql.

\echo Use "CREATE EXTENSION antares" to load this file. \quit

-- CREATE EXTENSION creates the schema; everyone may use what is in it (the
-- server-file reader below is revoked from PUBLIC on its own).
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

------------------------------------------------------------------------------
-- Reading light curves (DSFP/SNANA text: "#key:value" header lines, then a
-- whitespace table whose header row names the columns t, pb, flux, dflux).
------------------------------------------------------------------------------

CREATE FUNCTION parse_lightcurve(content text)
RETURNS TABLE(t float8, pb text, flux float8, dflux float8)
AS 'MODULE_PATHNAME', 'parse_lightcurve'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 200;

-- Volatile: the file can change between calls.  Permission is checked in C
-- (superuser or pg_read_server_files, the rule of COPY FROM 'file').
CREATE FUNCTION read_lightcurve(path text)
RETURNS TABLE(t float8, pb text, flux float8, dflux float8)
AS 'MODULE_PATHNAME', 'read_lightcurve'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE ROWS 200;

REVOKE ALL ON FUNCTION read_lightcurve(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION read_lightcurve(text) TO pg_read_server_files;

CREATE FUNCTION lightcurve_header(content text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'lightcurve_header'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

------------------------------------------------------------------------------
-- Per-band statistics.  All aggregates below share one transition state: the
-- observations of each band, buffered (the median needs them all), so that
-- one combine/serialize/deserialize set serves parallel query for every one.
-- SSPACE is the typical size of a state (a band of ~40 observations, or a
-- light curve of ~150), so that hash aggregation is planned with real sizes.
-- Transition functions skip rows with a NULL argument and reject NaN/Inf
-- values and non-positive uncertainties.
------------------------------------------------------------------------------

CREATE FUNCTION band_accum(internal, flux float8, dflux float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'band_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION band_accum(internal, flux float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'band_accum_flux'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION lc_accum(internal, pb text, flux float8, dflux float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'lc_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION lc_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'lc_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION lc_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'lc_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION lc_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'lc_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION weighted_mean_final(internal) RETURNS float8
AS 'MODULE_PATHNAME', 'weighted_mean_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION norm_std_final(internal) RETURNS float8
AS 'MODULE_PATHNAME', 'norm_std_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION norm_amplitude_final(internal) RETURNS float8
AS 'MODULE_PATHNAME', 'norm_amplitude_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION mad_final(internal) RETURNS float8
AS 'MODULE_PATHNAME', 'mad_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION beyond_1std_final(internal) RETURNS float8
AS 'MODULE_PATHNAME', 'beyond_1std_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION skew_final(internal) RETURNS float8
AS 'MODULE_PATHNAME', 'skew_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- sum(f (f/s)^2) / sum((f/s)^2)
CREATE AGGREGATE weighted_mean(flux float8, dflux float8) (
    SFUNC = band_accum, STYPE = internal, SSPACE = 1024, FINALFUNC = weighted_mean_final,
    COMBINEFUNC = lc_combine, SERIALFUNC = lc_serialize,
    DESERIALFUNC = lc_deserialize, PARALLEL = SAFE);

-- sample std (ddof 1) of flux / weighted_mean
CREATE AGGREGATE norm_std(flux float8, dflux float8) (
    SFUNC = band_accum, STYPE = internal, SSPACE = 1024, FINALFUNC = norm_std_final,
    COMBINEFUNC = lc_combine, SERIALFUNC = lc_serialize,
    DESERIALFUNC = lc_deserialize, PARALLEL = SAFE);

-- (max - min) / weighted_mean
CREATE AGGREGATE norm_amplitude(flux float8, dflux float8) (
    SFUNC = band_accum, STYPE = internal, SSPACE = 1024, FINALFUNC = norm_amplitude_final,
    COMBINEFUNC = lc_combine, SERIALFUNC = lc_serialize,
    DESERIALFUNC = lc_deserialize, PARALLEL = SAFE);

-- median(|flux - median(flux)|), unscaled
CREATE AGGREGATE mad(flux float8) (
    SFUNC = band_accum, STYPE = internal, SSPACE = 1024, FINALFUNC = mad_final,
    COMBINEFUNC = lc_combine, SERIALFUNC = lc_serialize,
    DESERIALFUNC = lc_deserialize, PARALLEL = SAFE);

-- fraction of fluxes farther than one sample std from the weighted mean
CREATE AGGREGATE beyond_1std(flux float8, dflux float8) (
    SFUNC = band_accum, STYPE = internal, SSPACE = 1024, FINALFUNC = beyond_1std_final,
    COMBINEFUNC = lc_combine, SERIALFUNC = lc_serialize,
    DESERIALFUNC = lc_deserialize, PARALLEL = SAFE);

-- biased Fisher-Pearson skewness m3 / m2^1.5
CREATE AGGREGATE skew(flux float8) (
    SFUNC = band_accum, STYPE = internal, SSPACE = 1024, FINALFUNC = skew_final,
    COMBINEFUNC = lc_combine, SERIALFUNC = lc_serialize,
    DESERIALFUNC = lc_deserialize, PARALLEL = SAFE);

-- -2.5 log10(mean_x / mean_y); NULL unless both means are > 0
CREATE FUNCTION color(mean_x float8, mean_y float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'color'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

------------------------------------------------------------------------------
-- Whole multi-band light curves: one aggregate, one composite of features.
------------------------------------------------------------------------------

CREATE TYPE features AS (
    u_n int, u_mean float8, u_std float8, u_amp float8, u_mad float8, u_beyond float8, u_skew float8,
    g_n int, g_mean float8, g_std float8, g_amp float8, g_mad float8, g_beyond float8, g_skew float8,
    r_n int, r_mean float8, r_std float8, r_amp float8, r_mad float8, r_beyond float8, r_skew float8,
    i_n int, i_mean float8, i_std float8, i_amp float8, i_mad float8, i_beyond float8, i_skew float8,
    z_n int, z_mean float8, z_std float8, z_amp float8, z_mad float8, z_beyond float8, z_skew float8,
    y_n int, y_mean float8, y_std float8, y_amp float8, y_mad float8, y_beyond float8, y_skew float8,
    u_minus_g float8, g_minus_r float8, r_minus_i float8, i_minus_z float8, z_minus_y float8
);

CREATE FUNCTION lc_features_final(internal) RETURNS features
AS 'MODULE_PATHNAME', 'lc_features_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Passbands u g r i z y; any other passband is an error.
CREATE AGGREGATE lc_features(pb text, flux float8, dflux float8) (
    SFUNC = lc_accum, STYPE = internal, SSPACE = 4096, FINALFUNC = lc_features_final,
    COMBINEFUNC = lc_combine, SERIALFUNC = lc_serialize,
    DESERIALFUNC = lc_deserialize, PARALLEL = SAFE);

-- The model input: for each band of `bands` its std, then amp, MAD, beyond
-- and skew, then the colours of consecutive bands; NULL becomes `missing`.
-- For 'griz' these are the seed's 23 features in the seed's order.  `f` is
-- an antares.features value or any row with its column names (a row of a
-- table made with (lc_features(...)).*).
-- Not STRICT: a NULL `missing` keeps undefined features as NULL elements.
CREATE FUNCTION feature_vector(f record, bands text DEFAULT 'griz',
                               missing float8 DEFAULT -999)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'feature_vector'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

------------------------------------------------------------------------------
-- Gaussian-process smoothing: a zero-mean GP per band with kernel
-- A * Matern52(dt; l) and noise dflux^2, fitted by maximum likelihood over
-- A in [1e-5, 1e5], l in [1, 20] days, in O(n) per likelihood evaluation
-- with the kernel's exact state-space form (Kalman filter, RTS smoother).
------------------------------------------------------------------------------

CREATE TYPE gp_curve AS (
    n int,                  -- observations
    amplitude float8,       -- A
    length_scale float8,    -- l, days
    log_likelihood float8,  -- at the optimum
    t float8[],             -- the grid: n_grid times from min(t) to max(t)
    mean float8[],          -- posterior mean of the curve on the grid
    sd float8[],            -- its posterior standard deviation
    peak_t float8,          -- where the posterior mean is largest on the grid
    peak_flux float8        -- and that mean
);

CREATE FUNCTION gp_accum(internal, t float8, flux float8, dflux float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'gp_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION gp_accum(internal, t float8, flux float8, dflux float8, n_grid int)
RETURNS internal
AS 'MODULE_PATHNAME', 'gp_accum_grid'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION gp_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'gp_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION gp_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'gp_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gp_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'gp_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gp_smooth_final(internal) RETURNS gp_curve
AS 'MODULE_PATHNAME', 'gp_smooth_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- One band of one object per group; the grid has 200 points.
CREATE AGGREGATE gp_smooth(t float8, flux float8, dflux float8) (
    SFUNC = gp_accum, STYPE = internal, SSPACE = 2048, FINALFUNC = gp_smooth_final,
    COMBINEFUNC = gp_combine, SERIALFUNC = gp_serialize,
    DESERIALFUNC = gp_deserialize, PARALLEL = SAFE);

-- The same with n_grid grid points (2 .. 100000; the same on every row).
CREATE AGGREGATE gp_smooth(t float8, flux float8, dflux float8, n_grid int) (
    SFUNC = gp_accum, STYPE = internal, SSPACE = 2048, FINALFUNC = gp_smooth_final,
    COMBINEFUNC = gp_combine, SERIALFUNC = gp_serialize,
    DESERIALFUNC = gp_deserialize, PARALLEL = SAFE);

-- The fixed-parameter building blocks; arrays in any order, of one length.
CREATE FUNCTION gp_log_likelihood(t float8[], flux float8[], dflux float8[],
                                  amplitude float8, length_scale float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'gp_log_likelihood'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gp_predict(t float8[], flux float8[], dflux float8[], t_new float8[],
                           amplitude float8, length_scale float8)
RETURNS TABLE(t float8, mean float8, sd float8)
AS 'MODULE_PATHNAME', 'gp_predict'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 200;

------------------------------------------------------------------------------
-- Plots: a multi-band light curve as a standalone SVG document (text), for
-- psql -Atc "SELECT antares.lc_plot(...) FROM ..." > file.svg.  Markers
-- with 1-sigma error bars in one colour per band (the seed's g r i z
-- palette), a legend, axes labelled MJD and flux; with smooth, each band's GP
-- (gp_smooth's fit, 200 points) as its posterior mean over a shaded +-1 sd
-- band; an optional title line.  Passbands u g r i z y; rows with a NULL are
-- skipped, no rows give NULL; NaN/Inf values and dflux <= 0 are errors.
-- smooth and title must be the same on every row of a group (a NULL title is
-- no title).  Text is escaped, so the document carries no markup but ours.
------------------------------------------------------------------------------

CREATE FUNCTION plot_accum(internal, t float8, pb text, flux float8, dflux float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'plot_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION plot_accum(internal, t float8, pb text, flux float8, dflux float8,
                           smooth boolean)
RETURNS internal
AS 'MODULE_PATHNAME', 'plot_accum_smooth'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION plot_accum(internal, t float8, pb text, flux float8, dflux float8,
                           smooth boolean, title text)
RETURNS internal
AS 'MODULE_PATHNAME', 'plot_accum_title'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION plot_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'plot_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION plot_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'plot_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION plot_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'plot_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION lc_plot_final(internal) RETURNS text
AS 'MODULE_PATHNAME', 'lc_plot_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The observations only.
CREATE AGGREGATE lc_plot(t float8, pb text, flux float8, dflux float8) (
    SFUNC = plot_accum, STYPE = internal, SSPACE = 4096, FINALFUNC = lc_plot_final,
    COMBINEFUNC = plot_combine, SERIALFUNC = plot_serialize,
    DESERIALFUNC = plot_deserialize, PARALLEL = SAFE);

-- With smooth = true, each band's GP over its observations.
CREATE AGGREGATE lc_plot(t float8, pb text, flux float8, dflux float8, smooth boolean) (
    SFUNC = plot_accum, STYPE = internal, SSPACE = 4096, FINALFUNC = lc_plot_final,
    COMBINEFUNC = plot_combine, SERIALFUNC = plot_serialize,
    DESERIALFUNC = plot_deserialize, PARALLEL = SAFE);

-- And a title line.
CREATE AGGREGATE lc_plot(t float8, pb text, flux float8, dflux float8, smooth boolean,
                         title text) (
    SFUNC = plot_accum, STYPE = internal, SSPACE = 4096, FINALFUNC = lc_plot_final,
    COMBINEFUNC = plot_combine, SERIALFUNC = plot_serialize,
    DESERIALFUNC = plot_deserialize, PARALLEL = SAFE);
