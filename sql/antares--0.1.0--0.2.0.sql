-- antares 0.1.0 -> 0.2.0: run by ALTER EXTENSION antares UPDATE.
-- Everything here is also in sql/antares.sql, so that an updated database and
-- a fresh install of 0.2.0 hold the same objects (test/t/007_upgrade.pl).

\echo Use "ALTER EXTENSION antares UPDATE TO '0.2.0'" to load this file. \quit

-- Equality of models and states: byte equality of the stored values (header,
-- checksum and payload), with a default hash operator class, so that
-- DISTINCT, GROUP BY, UNION, IN and hash joins work on their columns.  No
-- btree class: models have no order worth sorting by (ORDER BY m stays an
-- error; count(DISTINCT m) and ordered aggregates grouped by m, which sort,
-- are written over SELECT DISTINCT m or grouped by md5(m::text)).

CREATE FUNCTION svm_model_eq(svm_model, svm_model) RETURNS bool
AS 'MODULE_PATHNAME', 'model_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION svm_model_ne(svm_model, svm_model) RETURNS bool
AS 'MODULE_PATHNAME', 'model_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION svm_model_hash(svm_model) RETURNS int
AS 'MODULE_PATHNAME', 'model_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION svm_model_hash_extended(svm_model, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'model_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR = (
    LEFTARG = svm_model, RIGHTARG = svm_model, FUNCTION = svm_model_eq,
    COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR <> (
    LEFTARG = svm_model, RIGHTARG = svm_model, FUNCTION = svm_model_ne,
    COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR CLASS svm_model_hash_ops DEFAULT FOR TYPE svm_model USING hash AS
    OPERATOR 1 = (svm_model, svm_model),
    FUNCTION 1 svm_model_hash(svm_model),
    FUNCTION 2 svm_model_hash_extended(svm_model, bigint);
COMMENT ON FUNCTION svm_model_eq(svm_model, svm_model) IS 'true when the two models have the same stored bytes; NULL if either is NULL';
COMMENT ON FUNCTION svm_model_ne(svm_model, svm_model) IS 'true when the two models differ in their stored bytes; NULL if either is NULL';
COMMENT ON FUNCTION svm_model_hash(svm_model) IS 'hash of the model''s stored bytes (the hash operator class''s); NULL for NULL';
COMMENT ON FUNCTION svm_model_hash_extended(svm_model, bigint) IS '64-bit hash of the model''s stored bytes with a seed (the hash operator class''s); NULL for NULL';
COMMENT ON OPERATOR = (svm_model, svm_model) IS 'same stored bytes; NULL if either is NULL';
COMMENT ON OPERATOR <> (svm_model, svm_model) IS 'different stored bytes; NULL if either is NULL';
COMMENT ON OPERATOR CLASS svm_model_hash_ops USING hash IS 'default hash operator class of svm_model: byte equality (DISTINCT, GROUP BY, hash joins)';
COMMENT ON OPERATOR FAMILY svm_model_hash_ops USING hash IS 'hash operator family of svm_model: byte equality';

CREATE FUNCTION iforest_model_eq(iforest_model, iforest_model) RETURNS bool
AS 'MODULE_PATHNAME', 'model_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION iforest_model_ne(iforest_model, iforest_model) RETURNS bool
AS 'MODULE_PATHNAME', 'model_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION iforest_model_hash(iforest_model) RETURNS int
AS 'MODULE_PATHNAME', 'model_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION iforest_model_hash_extended(iforest_model, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'model_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR = (
    LEFTARG = iforest_model, RIGHTARG = iforest_model, FUNCTION = iforest_model_eq,
    COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR <> (
    LEFTARG = iforest_model, RIGHTARG = iforest_model, FUNCTION = iforest_model_ne,
    COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR CLASS iforest_model_hash_ops DEFAULT FOR TYPE iforest_model USING hash AS
    OPERATOR 1 = (iforest_model, iforest_model),
    FUNCTION 1 iforest_model_hash(iforest_model),
    FUNCTION 2 iforest_model_hash_extended(iforest_model, bigint);
COMMENT ON FUNCTION iforest_model_eq(iforest_model, iforest_model) IS 'true when the two models have the same stored bytes; NULL if either is NULL';
COMMENT ON FUNCTION iforest_model_ne(iforest_model, iforest_model) IS 'true when the two models differ in their stored bytes; NULL if either is NULL';
COMMENT ON FUNCTION iforest_model_hash(iforest_model) IS 'hash of the model''s stored bytes (the hash operator class''s); NULL for NULL';
COMMENT ON FUNCTION iforest_model_hash_extended(iforest_model, bigint) IS '64-bit hash of the model''s stored bytes with a seed (the hash operator class''s); NULL for NULL';
COMMENT ON OPERATOR = (iforest_model, iforest_model) IS 'same stored bytes; NULL if either is NULL';
COMMENT ON OPERATOR <> (iforest_model, iforest_model) IS 'different stored bytes; NULL if either is NULL';
COMMENT ON OPERATOR CLASS iforest_model_hash_ops USING hash IS 'default hash operator class of iforest_model: byte equality (DISTINCT, GROUP BY, hash joins)';
COMMENT ON OPERATOR FAMILY iforest_model_hash_ops USING hash IS 'hash operator family of iforest_model: byte equality';

CREATE FUNCTION rf_model_eq(rf_model, rf_model) RETURNS bool
AS 'MODULE_PATHNAME', 'model_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION rf_model_ne(rf_model, rf_model) RETURNS bool
AS 'MODULE_PATHNAME', 'model_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION rf_model_hash(rf_model) RETURNS int
AS 'MODULE_PATHNAME', 'model_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION rf_model_hash_extended(rf_model, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'model_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR = (
    LEFTARG = rf_model, RIGHTARG = rf_model, FUNCTION = rf_model_eq,
    COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR <> (
    LEFTARG = rf_model, RIGHTARG = rf_model, FUNCTION = rf_model_ne,
    COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR CLASS rf_model_hash_ops DEFAULT FOR TYPE rf_model USING hash AS
    OPERATOR 1 = (rf_model, rf_model),
    FUNCTION 1 rf_model_hash(rf_model),
    FUNCTION 2 rf_model_hash_extended(rf_model, bigint);
COMMENT ON FUNCTION rf_model_eq(rf_model, rf_model) IS 'true when the two models have the same stored bytes; NULL if either is NULL';
COMMENT ON FUNCTION rf_model_ne(rf_model, rf_model) IS 'true when the two models differ in their stored bytes; NULL if either is NULL';
COMMENT ON FUNCTION rf_model_hash(rf_model) IS 'hash of the model''s stored bytes (the hash operator class''s); NULL for NULL';
COMMENT ON FUNCTION rf_model_hash_extended(rf_model, bigint) IS '64-bit hash of the model''s stored bytes with a seed (the hash operator class''s); NULL for NULL';
COMMENT ON OPERATOR = (rf_model, rf_model) IS 'same stored bytes; NULL if either is NULL';
COMMENT ON OPERATOR <> (rf_model, rf_model) IS 'different stored bytes; NULL if either is NULL';
COMMENT ON OPERATOR CLASS rf_model_hash_ops USING hash IS 'default hash operator class of rf_model: byte equality (DISTINCT, GROUP BY, hash joins)';
COMMENT ON OPERATOR FAMILY rf_model_hash_ops USING hash IS 'hash operator family of rf_model: byte equality';

CREATE FUNCTION lc_state_eq(lc_state, lc_state) RETURNS bool
AS 'MODULE_PATHNAME', 'model_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION lc_state_ne(lc_state, lc_state) RETURNS bool
AS 'MODULE_PATHNAME', 'model_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION lc_state_hash(lc_state) RETURNS int
AS 'MODULE_PATHNAME', 'model_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lc_state_hash_extended(lc_state, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'model_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR = (
    LEFTARG = lc_state, RIGHTARG = lc_state, FUNCTION = lc_state_eq,
    COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR <> (
    LEFTARG = lc_state, RIGHTARG = lc_state, FUNCTION = lc_state_ne,
    COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR CLASS lc_state_hash_ops DEFAULT FOR TYPE lc_state USING hash AS
    OPERATOR 1 = (lc_state, lc_state),
    FUNCTION 1 lc_state_hash(lc_state),
    FUNCTION 2 lc_state_hash_extended(lc_state, bigint);
COMMENT ON FUNCTION lc_state_eq(lc_state, lc_state) IS 'true when the two states have the same stored bytes; NULL if either is NULL';
COMMENT ON FUNCTION lc_state_ne(lc_state, lc_state) IS 'true when the two states differ in their stored bytes; NULL if either is NULL';
COMMENT ON FUNCTION lc_state_hash(lc_state) IS 'hash of the state''s stored bytes (the hash operator class''s); NULL for NULL';
COMMENT ON FUNCTION lc_state_hash_extended(lc_state, bigint) IS '64-bit hash of the state''s stored bytes with a seed (the hash operator class''s); NULL for NULL';
COMMENT ON OPERATOR = (lc_state, lc_state) IS 'same stored bytes; NULL if either is NULL';
COMMENT ON OPERATOR <> (lc_state, lc_state) IS 'different stored bytes; NULL if either is NULL';
COMMENT ON OPERATOR CLASS lc_state_hash_ops USING hash IS 'default hash operator class of lc_state: byte equality (DISTINCT, GROUP BY, hash joins)';
COMMENT ON OPERATOR FAMILY lc_state_hash_ops USING hash IS 'hash operator family of lc_state: byte equality';

------------------------------------------------------------------------------
-- Documentation in the catalog: one line for every object, shown by \df+,
-- \da, \dT+ and \dt+ (sql/catalog.sql fails when an object has none).
-- Support functions of aggregates and types say whose they are.
------------------------------------------------------------------------------

-- Reading light curves
COMMENT ON FUNCTION parse_lightcurve(text) IS
    'Rows (t, pb, flux, dflux) of a light curve in the DSFP text format: #key:value header lines, a column header row naming t pb flux dflux, then rows; NULL gives no rows; malformed text is an ERROR naming the line';
COMMENT ON FUNCTION read_lightcurve(text) IS
    'Rows (t, pb, flux, dflux) of a DSFP light-curve file read by the server (path relative to the data directory); superusers and pg_read_server_files only';
COMMENT ON FUNCTION lightcurve_header(text) IS
    'The #key:value header lines of a DSFP light curve as a jsonb object of strings (a repeated key keeps its last value); NULL for NULL';

-- Per-band statistics and colours
COMMENT ON AGGREGATE weighted_mean(float8, float8) IS
    'Weighted mean flux of one band, sum(f (f/s)^2) / sum((f/s)^2), in the flux unit; NULL when all fluxes are 0 or there are no rows; rows with a NULL are skipped';
COMMENT ON AGGREGATE norm_std(float8, float8) IS
    'Sample standard deviation (ddof 1) of flux / weighted_mean for one band, unitless; NULL for fewer than 2 rows or an undefined or zero mean';
COMMENT ON AGGREGATE norm_amplitude(float8, float8) IS
    '(max flux - min flux) / weighted_mean for one band, unitless; NULL for an undefined or zero mean';
COMMENT ON AGGREGATE mad(float8) IS
    'Median absolute deviation from the median flux (unscaled), in the flux unit; NULL for no rows';
COMMENT ON AGGREGATE beyond_1std(float8, float8) IS
    'Fraction of fluxes farther than one sample standard deviation from the weighted mean, 0..1; NULL for fewer than 2 rows or an undefined mean';
COMMENT ON AGGREGATE skew(float8) IS
    'Biased Fisher-Pearson skewness m3 / m2^1.5 of the fluxes (scipy.stats.skew); NULL for constant fluxes or no rows';
COMMENT ON FUNCTION color(float8, float8) IS
    'Colour in magnitudes, -2.5 log10(mean_x / mean_y); NULL unless both means are > 0 (STRICT)';
COMMENT ON FUNCTION band_accum(internal, float8, float8) IS
    'Transition function of the per-band statistics aggregates (weighted_mean, norm_std, norm_amplitude, beyond_1std)';
COMMENT ON FUNCTION band_accum(internal, float8) IS
    'Transition function of the per-band statistics aggregates that take flux only (mad, skew)';
COMMENT ON FUNCTION lc_accum(internal, text, float8, float8) IS
    'Transition function of lc_features and lc_accumulate: buffers each band''s (flux, dflux)';
COMMENT ON FUNCTION lc_combine(internal, internal) IS
    'Combine function of the statistics, lc_features, lc_accumulate and lc_merge aggregates (merges buffered observations)';
COMMENT ON FUNCTION lc_serialize(internal) IS
    'Serial function of the statistics, lc_features, lc_accumulate and lc_merge aggregates';
COMMENT ON FUNCTION lc_deserialize(bytea, internal) IS
    'Deserial function of the statistics, lc_features, lc_accumulate and lc_merge aggregates';
COMMENT ON FUNCTION weighted_mean_final(internal) IS 'Final function of weighted_mean';
COMMENT ON FUNCTION norm_std_final(internal) IS 'Final function of norm_std';
COMMENT ON FUNCTION norm_amplitude_final(internal) IS 'Final function of norm_amplitude';
COMMENT ON FUNCTION mad_final(internal) IS 'Final function of mad';
COMMENT ON FUNCTION beyond_1std_final(internal) IS 'Final function of beyond_1std';
COMMENT ON FUNCTION skew_final(internal) IS 'Final function of skew';

-- Whole light curves
COMMENT ON TYPE features IS
    'Features of a multi-band light curve: for each band u g r i z y its count <b>_n and <b>_mean, _std, _amp, _mad, _beyond, _skew (NULL where undefined), and the adjacent colours u_minus_g .. z_minus_y in magnitudes';
COMMENT ON AGGREGATE lc_features(text, float8, float8) IS
    'The features of a multi-band light curve (pb in u g r i z y, any other is an ERROR); a band without rows has <b>_n = 0 and NULL statistics; NULL for no rows; also a window function';
COMMENT ON FUNCTION lc_features_final(internal) IS 'Final function of lc_features';
COMMENT ON FUNCTION lc_retract(internal, text, float8, float8) IS
    'Inverse transition function of lc_features as a window function over moving frames';
COMMENT ON FUNCTION feature_vector(record, text, float8) IS
    'Model input from features (or a row with their column names): per band of bands its std, amp, mad, beyond, skew, then consecutive colours; undefined values become missing (NULL keeps NULLs); 23 values for griz';

-- Stored light-curve states
COMMENT ON TYPE lc_state IS
    'A stored light-curve state: every band''s (flux, dflux) pairs, versioned and checksummed (text form lc_state/1:<base64>); lc_finalize(lc_merge(a, b)) equals lc_features over the rows of both';
COMMENT ON FUNCTION lc_state_in(cstring) IS 'Input function of type lc_state (validates the value)';
COMMENT ON FUNCTION lc_state_out(lc_state) IS 'Output function of type lc_state';
COMMENT ON FUNCTION lc_state_recv(internal) IS 'Binary input function of type lc_state (validates the value)';
COMMENT ON FUNCTION lc_state_send(lc_state) IS 'Binary output function of type lc_state';
COMMENT ON AGGREGATE lc_accumulate(text, float8, float8) IS
    'The lc_state of the rows (pb, flux, dflux), to store and merge later; NULL for no rows';
COMMENT ON FUNCTION lc_state_final(internal) IS 'Final function of lc_accumulate and of the lc_merge aggregate';
COMMENT ON FUNCTION lc_merge(lc_state, lc_state) IS
    'The state of the rows of both states; NULL is the state of no rows, so lc_merge(NULL, s) = s';
COMMENT ON AGGREGATE lc_merge(lc_state) IS
    'The merge of many stored states (NULLs skipped); NULL when every state is NULL';
COMMENT ON FUNCTION lc_merge_accum(internal, lc_state) IS 'Transition function of the lc_merge aggregate';
COMMENT ON FUNCTION lc_finalize(lc_state) IS
    'The features of a stored state, equal to lc_features over its rows; NULL for NULL';
COMMENT ON FUNCTION lc_finalize(lc_state, lc_state) IS
    'lc_finalize(lc_merge(a, b)) without building the merged state; NULL when both are NULL';
COMMENT ON FUNCTION lc_count(lc_state) IS 'The number of observations in a stored state; NULL for NULL';

-- Gaussian-process smoothing
COMMENT ON TYPE gp_curve IS
    'A GP fit of one band: n, amplitude A (flux^2), length_scale l (days), log_likelihood, the grid t[] (days), posterior mean[] and sd[] (flux), peak_t and peak_flux of the mean on the grid';
COMMENT ON AGGREGATE gp_smooth(float8, float8, float8) IS
    'Maximum-likelihood Matern-5/2 GP fit of one band (t in days, flux, dflux > 0) and its posterior on 200 grid points from min(t) to max(t); NULL for no rows';
COMMENT ON AGGREGATE gp_smooth(float8, float8, float8, integer) IS
    'gp_smooth with n_grid grid points (2 .. 100000, the same on every row)';
COMMENT ON FUNCTION gp_accum(internal, float8, float8, float8) IS 'Transition function of gp_smooth';
COMMENT ON FUNCTION gp_accum(internal, float8, float8, float8, integer) IS 'Transition function of gp_smooth with n_grid';
COMMENT ON FUNCTION gp_combine(internal, internal) IS 'Combine function of gp_smooth';
COMMENT ON FUNCTION gp_serialize(internal) IS 'Serial function of gp_smooth';
COMMENT ON FUNCTION gp_deserialize(bytea, internal) IS 'Deserial function of gp_smooth';
COMMENT ON FUNCTION gp_smooth_final(internal) IS 'Final function of gp_smooth: the fit and the posterior on the grid';
COMMENT ON FUNCTION gp_log_likelihood(float8[], float8[], float8[], float8, float8) IS
    'Log marginal likelihood of a Matern-5/2 GP with amplitude A (flux^2) and length_scale l (days) at the observations (arrays of one length, any order); NULL for empty arrays';
COMMENT ON FUNCTION gp_predict(float8[], float8[], float8[], float8[], float8, float8) IS
    'Rows (t, mean, sd): the GP posterior of the curve (without noise) at t_new, in its order, for fixed amplitude and length_scale';

-- Support-vector machines
COMMENT ON TYPE svm_model IS
    'An RBF support-vector classifier trained by svm_train (libsvm''s C-SVC, one-vs-one); text form svm/1:<base64>, validated when read';
COMMENT ON FUNCTION svm_model_in(cstring) IS 'Input function of type svm_model (validates the value)';
COMMENT ON FUNCTION svm_model_out(svm_model) IS 'Output function of type svm_model';
COMMENT ON FUNCTION svm_model_recv(internal) IS 'Binary input function of type svm_model (validates the value)';
COMMENT ON FUNCTION svm_model_send(svm_model) IS 'Binary output function of type svm_model';
COMMENT ON AGGREGATE svm_train(float8[], integer) IS
    'Trains an RBF SVM on (features, label) rows with C = 1 and gamma = ''scale''; rows with a NULL are skipped; fewer than two classes is an ERROR';
COMMENT ON AGGREGATE svm_train(float8[], integer, float8) IS
    'svm_train with C > 0 and gamma = ''scale'' (1 / (d var(features)))';
COMMENT ON AGGREGATE svm_train(float8[], integer, float8, float8) IS
    'svm_train with C > 0 and gamma > 0';
COMMENT ON FUNCTION svm_train_accum(internal, float8[], integer) IS 'Transition function of svm_train';
COMMENT ON FUNCTION svm_train_accum(internal, float8[], integer, float8) IS 'Transition function of svm_train with C';
COMMENT ON FUNCTION svm_train_accum(internal, float8[], integer, float8, float8) IS 'Transition function of svm_train with C and gamma';
COMMENT ON FUNCTION svm_train_combine(internal, internal) IS 'Combine function of svm_train';
COMMENT ON FUNCTION svm_train_serialize(internal) IS 'Serial function of svm_train';
COMMENT ON FUNCTION svm_train_deserialize(bytea, internal) IS 'Deserial function of svm_train';
COMMENT ON FUNCTION svm_train_final(internal) IS 'Final function of svm_train: runs the solver';
COMMENT ON FUNCTION svm_predict(svm_model, float8[]) IS
    'The class of a feature vector by libsvm''s one-vs-one vote (a tie goes to the lowest label); NULL for a NULL argument';
COMMENT ON FUNCTION svm_decision(svm_model, float8[]) IS
    'One decision value per class pair (a, b), a < b, in the order (0,1), (0,2), .., (1,2), ..; > 0 votes for a';
COMMENT ON FUNCTION svm_info(svm_model) IS
    'A jsonb summary of an SVM model: classes, rows and support vectors per class, C, gamma, dimension, pairs at the iteration limit, and rho and iterations per class pair (up to 1000 pairs; totals beyond)';

-- Tree ensembles
COMMENT ON TYPE iforest_model IS
    'An isolation forest trained by iforest_train (scikit-learn''s IsolationForest); text form iforest/1:<base64>, validated when read';
COMMENT ON TYPE rf_model IS
    'A random-forest classifier trained by rf_train (scikit-learn''s RandomForestClassifier); text form rf/1:<base64>, validated when read';
COMMENT ON FUNCTION iforest_model_in(cstring) IS 'Input function of type iforest_model (validates the value)';
COMMENT ON FUNCTION iforest_model_out(iforest_model) IS 'Output function of type iforest_model';
COMMENT ON FUNCTION iforest_model_recv(internal) IS 'Binary input function of type iforest_model (validates the value)';
COMMENT ON FUNCTION iforest_model_send(iforest_model) IS 'Binary output function of type iforest_model';
COMMENT ON FUNCTION rf_model_in(cstring) IS 'Input function of type rf_model (validates the value)';
COMMENT ON FUNCTION rf_model_out(rf_model) IS 'Output function of type rf_model';
COMMENT ON FUNCTION rf_model_recv(internal) IS 'Binary input function of type rf_model (validates the value)';
COMMENT ON FUNCTION rf_model_send(rf_model) IS 'Binary output function of type rf_model';
COMMENT ON AGGREGATE iforest_train(float8[]) IS
    'Trains an isolation forest of 100 trees on min(256, rows) rows each, seed 0; at least 2 rows; NULL rows skipped; NULL for no rows';
COMMENT ON AGGREGATE iforest_train(float8[], integer, integer, bigint) IS
    'iforest_train with n_trees >= 1, max_samples >= 2 and a seed (NULL: the default)';
COMMENT ON AGGREGATE rf_train(float8[], integer) IS
    'Trains a random forest of 100 bootstrap Gini trees, max_features floor(sqrt(d)), unlimited depth, seed 0; at least two classes; NULL for no rows';
COMMENT ON AGGREGATE rf_train(float8[], integer, integer, integer, integer, integer, bigint) IS
    'rf_train with n_trees, max_features, max_depth, min_samples_leaf and seed (NULL: the default)';
COMMENT ON FUNCTION iforest_train_accum(internal, float8[]) IS 'Transition function of iforest_train';
COMMENT ON FUNCTION iforest_train_accum(internal, float8[], integer, integer, bigint) IS 'Transition function of iforest_train with parameters';
COMMENT ON FUNCTION rf_train_accum(internal, float8[], integer) IS 'Transition function of rf_train';
COMMENT ON FUNCTION rf_train_accum(internal, float8[], integer, integer, integer, integer, integer, bigint) IS 'Transition function of rf_train with parameters';
COMMENT ON FUNCTION forest_train_combine(internal, internal) IS 'Combine function of iforest_train and rf_train';
COMMENT ON FUNCTION forest_train_serialize(internal) IS 'Serial function of iforest_train and rf_train';
COMMENT ON FUNCTION forest_train_deserialize(bytea, internal) IS 'Deserial function of iforest_train and rf_train';
COMMENT ON FUNCTION iforest_train_final(internal) IS 'Final function of iforest_train: grows the forest';
COMMENT ON FUNCTION rf_train_final(internal) IS 'Final function of rf_train: grows the forest';
COMMENT ON FUNCTION iforest_score(iforest_model, float8[]) IS
    'Anomaly score in (-1, 0), -2^(-mean path length / c(max_samples)) (scikit-learn''s score_samples); lower is more anomalous';
COMMENT ON FUNCTION iforest_decision(iforest_model, float8[]) IS
    'iforest_score + 0.5 (scikit-learn''s decision_function, contamination ''auto''); below 0 is anomalous';
COMMENT ON FUNCTION iforest_info(iforest_model) IS
    'A jsonb summary of an isolation forest: trees, max_samples, training rows, seed, nodes, depth limit, c(max_samples)';
COMMENT ON FUNCTION rf_predict(rf_model, float8[]) IS
    'The class of the largest mean leaf probability (the lowest label on ties)';
COMMENT ON FUNCTION rf_predict_proba(rf_model, float8[]) IS
    'One probability per class, in the order of rf_info''s classes (scikit-learn''s predict_proba)';
COMMENT ON FUNCTION rf_info(rf_model) IS
    'A jsonb summary of a random forest: classes, training rows per class, trees, nodes, leaves, parameters, seed, impurity-based feature importances';
COMMENT ON FUNCTION model_cache() IS
    'The decoded models this session keeps (antares.model_cache_size): type, decoded and stored bytes, hits';

-- Cross-validation
COMMENT ON FUNCTION stratified_fold(integer, integer) IS
    'Window function: the test fold 0..k-1 of each row as scikit-learn''s StratifiedKFold(k, shuffle=False) assigns it in the window''s order; NULL for a NULL label';
COMMENT ON FUNCTION cross_validate(regclass, text, text, integer, text, jsonb, text) IS
    'Stratified k-fold cross-validation of an svm, rf or gbt model on a table''s features and label columns (names, not expressions): rows (fold, n_train, n_test, accuracy)';

-- Plots
COMMENT ON AGGREGATE lc_plot(float8, text, float8, float8) IS
    'A standalone SVG document (text) of a multi-band light curve: markers with 1-sigma error bars per band, legend, axes MJD and flux; NULL for no rows';
COMMENT ON AGGREGATE lc_plot(float8, text, float8, float8, boolean) IS
    'lc_plot with, when smooth is true, each band''s GP posterior mean and +-1 sd';
COMMENT ON AGGREGATE lc_plot(float8, text, float8, float8, boolean, text) IS
    'lc_plot with a GP overlay choice and a title line (NULL: none)';
COMMENT ON FUNCTION plot_accum(internal, float8, text, float8, float8) IS 'Transition function of lc_plot';
COMMENT ON FUNCTION plot_accum(internal, float8, text, float8, float8, boolean) IS 'Transition function of lc_plot with smooth';
COMMENT ON FUNCTION plot_accum(internal, float8, text, float8, float8, boolean, text) IS 'Transition function of lc_plot with smooth and title';
COMMENT ON FUNCTION plot_combine(internal, internal) IS 'Combine function of lc_plot';
COMMENT ON FUNCTION plot_serialize(internal) IS 'Serial function of lc_plot';
COMMENT ON FUNCTION plot_deserialize(bytea, internal) IS 'Deserial function of lc_plot';
COMMENT ON FUNCTION lc_plot_final(internal) IS 'Final function of lc_plot: draws the document';

-- Night-by-night processing
COMMENT ON TABLE object_state IS
    'One row per object processed by process_night: its stored state (state merged with recent), features, class and anomaly decision as of the last night';
COMMENT ON TABLE alerts IS
    'One row per alert raised by process_night (anomaly decision below the threshold), also sent on channel antares_alerts';
COMMENT ON SEQUENCE alerts_alert_id_seq IS 'Identity of alerts.alert_id';
COMMENT ON TABLE nights IS
    'The nights process_night has done, per photometry table: a night done again changes nothing';
COMMENT ON FUNCTION process_night(regclass, float8, float8, svm_model, iforest_model, float8, integer) IS
    'Merges the photometry rows with night_start <= t < night_end into object_state, classifies and scores the updated objects and raises alerts; rows (objects_updated, alerts); a night already done changes nothing';

-- Simulated surveys
COMMENT ON FUNCTION simulate_survey(integer, bigint) IS
    'Rows (objid, t, pb, flux, dflux, label) of objects 1..n_objects of a simulated 3-year LSST-like survey (fluxes in FLUXCAL, zero point 27.5), reproducible for a seed';
COMMENT ON FUNCTION simulate_survey(integer, bigint, bigint, float8, float8[]) IS
    'simulate_survey of objects first_objid.. over years (0 < years <= 100) with class_weights (transient, periodic, stochastic, flaring)';
COMMENT ON FUNCTION simulate_survey_truth(integer, bigint, bigint, float8, float8[]) IS
    'Rows (objid, label, class, params): the parameters each object of simulate_survey with the same arguments was drawn with';
COMMENT ON FUNCTION simulate_survey_support(internal) IS 'Planner support function of simulate_survey (row estimates)';
COMMENT ON FUNCTION simulate_survey_truth_support(internal) IS 'Planner support function of simulate_survey_truth (row estimates)';

-- Survey alert packets (ZTF and Rubin Avro) to photometry (alert_sql.c,
-- alert_decode.c).  Fluxes in nJy, bands u g r i z y, times in MJD, for
-- both surveys; the rules are in README.md, "Alert packets".

CREATE FUNCTION alert_schema_survey(writer_schema text) RETURNS text
AS 'MODULE_PATHNAME', 'pg_alert_schema_survey' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Writer schemas by Confluent schema id, as the schema registry serves
-- them: a Confluent-framed message without a writer_schema argument takes
-- its schema from here.  The CHECK refuses a schema the decoder cannot read
-- when it is added, not when its first message arrives.
CREATE TABLE alert_schemas (
    id integer PRIMARY KEY,
    schema text NOT NULL CHECK (alert_schema_survey(schema) IS NOT NULL),
    added timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('alert_schemas', '');

CREATE FUNCTION alert_photometry(packet bytea, writer_schema text DEFAULT NULL,
                                 framing text DEFAULT 'auto')
RETURNS TABLE(alert_id bigint, objid bigint, object_name text, source_id bigint, kind text,
              t float8, pb text, flux float8, dflux float8, ra float8, "dec" float8)
AS 'MODULE_PATHNAME', 'alert_photometry'
LANGUAGE C STABLE PARALLEL SAFE COST 1000 ROWS 30;

CREATE FUNCTION alert_points(packets bytea[], writer_schema text DEFAULT NULL,
                             framing text DEFAULT 'auto')
RETURNS TABLE(objid bigint, t float8, pb text, flux float8, dflux float8, kind text,
              source_id bigint, alert_id bigint, ra float8, "dec" float8)
AS 'MODULE_PATHNAME', 'alert_points'
LANGUAGE C STABLE PARALLEL SAFE COST 10000 ROWS 1000;

CREATE FUNCTION ztf_object_id(name text) RETURNS bigint
AS 'MODULE_PATHNAME', 'ztf_object_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ztf_object_name(objid bigint) RETURNS text
AS 'MODULE_PATHNAME', 'ztf_object_name' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION alert_schema_survey(text) IS
    'ztf or rubin: the survey of an Avro writer schema the alert decoder can read; an ERROR naming what is missing otherwise';
COMMENT ON TABLE alert_schemas IS
    'Avro writer schemas by Confluent schema id (from the schema registry), for alert_photometry of Confluent-framed messages';
COMMENT ON FUNCTION alert_photometry(bytea, text, text) IS
    'Rows (alert_id, objid, object_name, source_id, kind, t, pb, flux, dflux, ra, dec) of a ZTF or Rubin alert packet: an Avro container file, a Confluent-framed message or a bare datum (framing auto, container, confluent or bare); fluxes in nJy, t in MJD, kind detection, history, forced or upper_limit';
COMMENT ON FUNCTION alert_points(bytea[], text, text) IS
    'Rows (objid, t, pb, flux, dflux, kind, source_id, alert_id, ra, dec) of a batch of alert packets as a photometry table stores them: each (objid, kind, source_id) once, a history entry as the detection it was, with the lowest alert_id that carried it';
COMMENT ON FUNCTION ztf_object_id(text) IS
    'The number of a ZTF object id (ZTFyyabcdefg: yy * 26^7 + the letters in base 26), the objid alert_photometry gives ZTF objects';
COMMENT ON FUNCTION ztf_object_name(bigint) IS
    'The ZTF object id (ZTFyyabcdefg) of a number from ztf_object_id';

------------------------------------------------------------------------------
-- Named streams: alert streams processed in micro-batches, exactly once.
-- stream_create(name) makes a schema `name` holding the stream's tables
-- (points, objects, filters, alerts, outbox, offsets, batches, rejects), so
-- that several streams (ZTF and Rubin, production and test) live in one
-- database without seeing each other's rows; antares.streams lists them and
-- their models.  A consumer (bin/antares_stream) runs, per batch and in ONE
-- transaction: COPY of the batch's points into a table, stream_process,
-- stream_reject for packets that do not decode, stream_advance for the Kafka
-- offsets consumed.  Whatever is killed and when, the end state is an
-- uninterrupted run's: points are de-duplicated by (objid, kind, source_id),
-- an object's features depend only on its set of points, and an alert is a
-- detection evaluated on its object's points with t <= the detection's t,
-- so that neither batch boundaries nor arrival order change what is stored.
------------------------------------------------------------------------------

-- The models take feature_vector's 23 features, checked when a row is
-- written (stream_create checks first, for a clearer message).
CREATE TABLE streams (
    name text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]{0,47}$'),
    classifier svm_model CHECK ((svm_info(classifier)->>'dimension')::int = 23),
    anomaly iforest_model CHECK ((iforest_info(anomaly)->>'dimension')::int = 23),
    min_obs int NOT NULL DEFAULT 1 CHECK (min_obs >= 1),
    created_at timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('streams', '');

-- The row of streams of a stream, or an error naming it.
CREATE FUNCTION stream_config(stream text)
RETURNS streams
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cfg @extschema@.streams;
BEGIN
    SELECT * INTO cfg FROM @extschema@.streams s WHERE s.name = stream;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stream "%" does not exist', stream USING ERRCODE = 'undefined_object';
    END IF;
    RETURN cfg;
END
$fn$;

-- The evaluation of a detection as filters see it: these columns and every
-- column of antares.features, as the filter function's named parameters.
CREATE FUNCTION stream_filter_parameters(call boolean)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT string_agg(CASE WHEN NOT call THEN format('%I %s', c.name, c.type)
                               WHEN c.ord <= 6 THEN format('e.%I', c.name)
                               ELSE format('(e.features).%I', c.name) END,
                          ', ' ORDER BY c.ord)
        FROM (VALUES (1, 'objid', 'bigint'), (2, 'source_id', 'bigint'), (3, 't', 'float8'),
                     (4, 'n_obs', 'int'), (5, 'class', 'int'), (6, 'anomaly', 'float8')
              UNION ALL
              SELECT 6 + a.attnum, a.attname::text, format_type(a.atttypid, a.atttypmod)
              FROM pg_attribute a
              WHERE a.attrelid = '@extschema@.features'::regclass AND a.attnum > 0 AND NOT a.attisdropped)
             AS c(ord, name, type));

CREATE FUNCTION stream_create(name text, classifier svm_model DEFAULT NULL,
                              anomaly iforest_model DEFAULT NULL, min_obs int DEFAULT 1)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name IS NULL OR name !~ '^[a-z_][a-z0-9_]{0,47}$' OR name LIKE 'pg\_%' THEN
        RAISE EXCEPTION 'invalid stream name "%"', name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A stream is a schema: a lower-case identifier of at most 48 characters, not starting with pg_.';
    END IF;
    IF min_obs IS NULL OR min_obs < 1 THEN
        RAISE EXCEPTION 'invalid min_obs % for stream %', min_obs, name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (@extschema@.svm_info(classifier)->>'dimension')::int <> 23
       OR (@extschema@.iforest_info(anomaly)->>'dimension')::int <> 23 THEN
        RAISE EXCEPTION 'the models of stream % must take the 23 features of feature_vector', name
            USING ERRCODE = 'data_exception',
                  DETAIL = format('classifier dimension %s, anomaly dimension %s',
                                  @extschema@.svm_info(classifier)->>'dimension',
                                  @extschema@.iforest_info(anomaly)->>'dimension');
    END IF;
    INSERT INTO @extschema@.streams (name, classifier, anomaly, min_obs)
    VALUES (stream_create.name, stream_create.classifier, stream_create.anomaly, stream_create.min_obs);

    EXECUTE format($ddl$
        CREATE SCHEMA %1$I;
        -- the points as stored (alert_points' columns); history entries are the
        -- detections they repeat
        CREATE TABLE %1$I.points (
            objid bigint NOT NULL,
            t float8 NOT NULL CHECK (t > '-Infinity' AND t < 'Infinity'),
            pb text NOT NULL CHECK (pb IN ('u', 'g', 'r', 'i', 'z', 'y')),
            flux float8 NOT NULL CHECK (flux > '-Infinity' AND flux < 'Infinity'),
            dflux float8 NOT NULL CHECK (dflux > 0 AND dflux < 'Infinity'),
            kind text NOT NULL CHECK (kind IN ('detection', 'forced', 'upper_limit')),
            source_id bigint NOT NULL,
            alert_id bigint,
            ra float8,
            "dec" float8,
            PRIMARY KEY (objid, kind, source_id));
        CREATE TABLE %1$I.objects (
            objid bigint PRIMARY KEY,
            state %2$s.lc_state NOT NULL,
            recent %2$s.lc_state,
            n_obs int NOT NULL,
            last_t float8 NOT NULL,
            features %2$s.features NOT NULL,
            class int,
            anomaly float8,
            updated_at timestamptz NOT NULL);
        CREATE TABLE %1$I.filters (
            name text PRIMARY KEY,
            predicate text NOT NULL,
            topic text,
            channel text,
            created_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE %1$I.alerts (
            filter text NOT NULL REFERENCES %1$I.filters ON DELETE CASCADE,
            objid bigint NOT NULL,
            source_id bigint NOT NULL,
            key text NOT NULL GENERATED ALWAYS AS (%1$L || '/' || filter || '/' || objid::text || '/' || source_id::text) STORED,
            t float8 NOT NULL,
            n_obs int NOT NULL,
            class int,
            anomaly float8,
            features %2$s.features NOT NULL,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (filter, objid, source_id));
        CREATE TABLE %1$I.outbox (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            topic text NOT NULL,
            key text NOT NULL,
            -- json, not jsonb: kept as rendered, the text the publisher
            -- sends; to_json renders an alert in half to_jsonb's time
            payload json,
            created_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE %1$I.offsets (
            topic text NOT NULL,
            partition int NOT NULL CHECK (partition >= 0),
            next_offset bigint NOT NULL CHECK (next_offset >= 0),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (topic, partition));
        CREATE TABLE %1$I.batches (
            batch_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            points_in bigint NOT NULL,
            points_new bigint NOT NULL,
            objects_updated int NOT NULL,
            evaluations int NOT NULL,
            alerts_changed int NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE %1$I.rejects (
            topic text NOT NULL,
            partition int NOT NULL,
            "offset" bigint NOT NULL,
            error text NOT NULL,
            packet bytea,
            rejected_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (topic, partition, "offset"));
    $ddl$, name, '@extschema@');
END
$fn$;

CREATE FUNCTION stream_drop(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    DELETE FROM @extschema@.streams s WHERE s.name = stream_drop.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stream "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('DROP SCHEMA %I CASCADE', name);
END
$fn$;

-- A filter is a SQL boolean expression over a detection's evaluation:
-- objid, source_id, t, n_obs, class, anomaly and the columns of
-- antares.features (g_minus_r, r_std, ...).  It becomes the function
-- <stream>.filter_<name>, whose body PostgreSQL parses now: a predicate
-- that does not parse, is not boolean or names an unknown column is an
-- error here, not when the first alert arrives.  No semicolons: the
-- predicate is one expression.  Filters run with the rights of whoever
-- runs stream_process, as a view's query would.
CREATE FUNCTION stream_add_filter(stream text, name text, predicate text,
                                  topic text DEFAULT NULL, channel text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@.stream_config(stream);
    IF name IS NULL OR name !~ '^[a-z_][a-z0-9_]{0,47}$' THEN
        RAISE EXCEPTION 'invalid filter name "%"', name
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A lower-case identifier of at most 48 characters.';
    END IF;
    IF predicate IS NULL OR predicate ~ '^\s*$' OR strpos(predicate, ';') > 0 THEN
        RAISE EXCEPTION 'invalid predicate for filter "%": %', name, coalesce(quote_literal(predicate), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'One boolean SQL expression, without semicolons.';
    END IF;
    IF topic !~ '^[A-Za-z0-9._-]{1,249}$' THEN
        RAISE EXCEPTION 'invalid Kafka topic name "%"', topic
            USING ERRCODE = 'invalid_parameter_value', HINT = '1 to 249 characters among A-Z a-z 0-9 . _ -';
    END IF;
    IF channel IS NOT NULL AND (channel = '' OR octet_length(channel) > 63) THEN
        RAISE EXCEPTION 'invalid notification channel "%"', channel USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('INSERT INTO %I.filters (name, predicate, topic, channel) VALUES ($1, $2, $3, $4)', stream)
    USING name, predicate, topic, channel;
    BEGIN
        EXECUTE format('CREATE FUNCTION %I.%I(%s) RETURNS boolean LANGUAGE sql STABLE RETURN (%s)',
                       stream, 'filter_' || name, @extschema@.stream_filter_parameters(false), predicate);
    EXCEPTION WHEN syntax_error_or_access_rule_violation OR data_exception OR invalid_function_definition THEN
        RAISE EXCEPTION 'invalid predicate for filter "%" of stream %: %', name, stream, SQLERRM
            USING ERRCODE = SQLSTATE,
                  HINT = 'A boolean expression over objid, source_id, t, n_obs, class, anomaly and the columns of antares.features.';
    END;
END
$fn$;

CREATE FUNCTION stream_drop_filter(stream text, name text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n int;
BEGIN
    PERFORM @extschema@.stream_config(stream);
    EXECUTE format('DELETE FROM %I.filters WHERE name = $1', stream) USING name;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RAISE EXCEPTION 'filter "%" of stream % does not exist', name, stream USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('DROP FUNCTION %I.%I', stream, 'filter_' || name);
END
$fn$;

-- A micro-batch: the rows of `batch` (objid, t, pb, flux, dflux, kind,
-- source_id, alert_id, ra, dec: alert_points' columns; kind detection,
-- forced or upper_limit) into the stream.  In one statement each:
--  1. the points not yet stored are inserted (one per (objid, kind,
--     source_id); a stored point keeps the lowest alert_id that carried
--     it), and only those go on;
--  2. each object with new points (detections or forced; upper limits are
--     stored, not measured) merges them into its state as process_night
--     does (state + recent, folded at max(64, n_obs / 8)): its features,
--     class and anomaly decision over all its points;
--  3. the detections to evaluate: the new ones, and, for an object whose
--     new points are not all later than its stored ones, every stored
--     detection at or after the earliest new point (a late point changes
--     them).  A detection is evaluated on its object's points with t <= its
--     t: the object's features when it is the latest, else lc_features over
--     those points.  Class and anomaly as above (none below min_obs);
--  4. per filter, the evaluations that pass are upserted into alerts; an
--     alert whose values changed, or a stored one that no longer passes
--     (deleted; payload NULL, a retraction), goes to the outbox if the
--     filter has a topic and is notified on its channel if it has one.
-- The same batch again changes nothing; batches of one stream serialise on
-- an advisory lock.  Cost: O(new points) writes; reads O(history) of each
-- object with new points (its state; its points for a detection that is
-- not the latest); the evaluations' features, models and filters.
CREATE FUNCTION stream_process(stream text, batch regclass)
RETURNS TABLE(points_new bigint, objects_updated int, evaluations int, alerts_changed int)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
-- the batch's tables have no statistics: estimates of 10^6 would compile each
-- statement with JIT, 0.4 s a batch for nothing
SET jit = off
AS $fn$
DECLARE
    cfg @extschema@.streams;
    n_in bigint;
    n_new bigint;
    n_objects int;
    n_evaluations int;
    n_changed int := 0;
    n int;
    notes text[];
    any_late boolean;
    filter_args text;
    f record;
BEGIN
    cfg := @extschema@.stream_config(stream);
    PERFORM pg_advisory_xact_lock(hashtext('antares.stream'), hashtext(stream));

    IF to_regclass('pg_temp.antares_stream_new') IS NULL THEN
        CREATE TEMP TABLE antares_stream_new (objid bigint, t float8, pb text, flux float8, dflux float8,
                                              kind text, source_id bigint) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE antares_stream_touched (objid bigint, t_min float8, late boolean, last_t float8,
                                                  n_obs int, class int, anomaly float8,
                                                  features @extschema@.features, old_state @extschema@.lc_state,
                                                  old_recent @extschema@.lc_state) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE antares_stream_evaluated (objid bigint, source_id bigint, t float8, n_obs int,
                                                    class int, anomaly float8, features @extschema@.features)
            ON COMMIT DELETE ROWS;
    ELSE
        DELETE FROM pg_temp.antares_stream_new;
        DELETE FROM pg_temp.antares_stream_touched;
        DELETE FROM pg_temp.antares_stream_evaluated;
    END IF;

    -- 1. new points
    EXECUTE format($q$
        WITH inserted AS (
            INSERT INTO %1$I.points AS p
            SELECT DISTINCT ON (objid, kind, source_id) objid, t, pb, flux, dflux, kind, source_id, alert_id, ra, "dec"
            FROM %2$s b
            -- a point stored with an alert_id as low changes nothing: left out
            -- before the sort and the conflict (a batch of alerts repeating
            -- stored histories: a fifth less time).  The redundant IN keeps the
            -- anti-join to the batch's objects' points: a hash of every stored
            -- point, the plan without it, grows with the stream's history
            WHERE NOT EXISTS (SELECT FROM %1$I.points s WHERE s.objid = b.objid AND s.kind = b.kind
                              AND s.source_id = b.source_id AND s.alert_id <= b.alert_id
                              AND s.objid IN (SELECT objid FROM %2$s))
            ORDER BY objid, kind, source_id, alert_id
            -- a stored point keeps the lowest alert_id that carried it,
            -- whatever the order the alerts came in
            ON CONFLICT (objid, kind, source_id) DO UPDATE SET alert_id = EXCLUDED.alert_id
            WHERE EXCLUDED.alert_id < p.alert_id OR (p.alert_id IS NULL AND EXCLUDED.alert_id IS NOT NULL)
            -- xmax = 0: the row was inserted, not updated
            RETURNING p.objid, p.t, p.pb, p.flux, p.dflux, p.kind, p.source_id, p.xmax = 0 AS is_new
        ), kept AS (
            INSERT INTO pg_temp.antares_stream_new
            SELECT objid, t, pb, flux, dflux, kind, source_id FROM inserted WHERE is_new RETURNING 1
        )
        SELECT (SELECT count(*) FROM %2$s), (SELECT count(*) FROM kept)
    $q$, stream, batch) INTO n_in, n_new;

    -- 2. the objects with new measurements
    EXECUTE format($q$
        WITH fresh AS (
            SELECT objid, @extschema@.lc_accumulate(pb, flux, dflux) AS s, min(t) AS t_min, max(t) AS t_max
            FROM pg_temp.antares_stream_new WHERE kind <> 'upper_limit' GROUP BY objid
        ), merged AS (
            -- OFFSET 0: each subquery's O(history) function evaluated once
            SELECT n.objid, n.t_min, o.last_t AS old_last_t, o.state AS old_state, o.recent AS old_recent, r.recent,
                   greatest(o.last_t, n.t_max) AS last_t, ff.f, ff.x
            FROM fresh n
            LEFT JOIN %1$I.objects o ON o.objid = n.objid
            CROSS JOIN LATERAL (SELECT @extschema@.lc_merge(o.recent, n.s) AS recent OFFSET 0) r
            CROSS JOIN LATERAL (SELECT f, @extschema@.feature_vector(f) AS x
                                FROM (SELECT @extschema@.lc_finalize(o.state, r.recent) AS f OFFSET 0) f0) ff
        ), counted AS (
            SELECT m.*, (f).u_n + (f).g_n + (f).r_n + (f).i_n + (f).z_n + (f).y_n AS n_obs
            FROM merged m
        ), scored AS (
            -- a new object starts with its whole state; recent is folded in
            -- when it has grown to max(64, n_obs / 8) observations
            SELECT c.*, (c.old_state IS NULL OR @extschema@.lc_count(c.recent) >= greatest(64, c.n_obs / 8)) AS fold,
                   CASE WHEN n_obs >= $1 THEN @extschema@.svm_predict($2, x) END AS class,
                   CASE WHEN n_obs >= $1 THEN @extschema@.iforest_decision($3, x) END AS anomaly
            FROM counted c
        ), upserted AS (
            INSERT INTO %1$I.objects AS o
                (objid, state, recent, n_obs, last_t, features, class, anomaly, updated_at)
            SELECT objid, CASE WHEN fold THEN @extschema@.lc_merge(old_state, recent) ELSE old_state END,
                   CASE WHEN fold THEN NULL ELSE recent END,
                   n_obs, last_t, f, class, anomaly, now()
            FROM scored ORDER BY objid
            ON CONFLICT (objid) DO UPDATE
            SET state = EXCLUDED.state, recent = EXCLUDED.recent, n_obs = EXCLUDED.n_obs, last_t = EXCLUDED.last_t,
                features = EXCLUDED.features, class = EXCLUDED.class, anomaly = EXCLUDED.anomaly,
                updated_at = EXCLUDED.updated_at
            RETURNING 1
        ), touched AS (
            INSERT INTO pg_temp.antares_stream_touched
            SELECT objid, t_min, (t_min <= old_last_t) IS TRUE, last_t, n_obs, class, anomaly, f, old_state, old_recent
            FROM scored
        )
        SELECT count(*)::int FROM upserted
    $q$, stream) INTO n_objects USING cfg.min_obs, cfg.classifier, cfg.anomaly;

    -- 3. the detections to evaluate, each on its points up to its time
    EXECUTE format($q$
        WITH due AS (
            SELECT n.objid, n.source_id, n.t
            FROM pg_temp.antares_stream_new n JOIN pg_temp.antares_stream_touched u USING (objid)
            WHERE n.kind = 'detection' AND NOT u.late
            UNION
            SELECT p.objid, p.source_id, p.t
            FROM pg_temp.antares_stream_touched u
            -- an index scan per late object whatever the estimates (OFFSET 0
            -- keeps the planner from turning it into a scan of all points)
            CROSS JOIN LATERAL (SELECT p.objid, p.source_id, p.t FROM %1$I.points p
                                WHERE p.objid = u.objid AND p.kind = 'detection' AND p.t >= u.t_min
                                OFFSET 0) p
            WHERE u.late
        ), since AS (
            -- an object without a late point stored only points before the
            -- batch's: a detection's points up to it are then the object's
            -- state before the batch and the batch's new points up to it,
            -- with no scan of the stored points (their pages are scattered:
            -- the scan cost three quarters of an evaluation)
            SELECT d.objid, d.source_id, d.t, @extschema@.lc_accumulate(n.pb, n.flux, n.dflux) AS s
            FROM due d JOIN pg_temp.antares_stream_touched u USING (objid)
            JOIN pg_temp.antares_stream_new n ON n.objid = d.objid AND n.t <= d.t AND n.kind <> 'upper_limit'
            WHERE d.t < u.last_t AND NOT u.late
            GROUP BY d.objid, d.source_id, d.t
        ), earlier AS MATERIALIZED (
            -- MATERIALIZED: the features once a row, not once a reference
            SELECT s.objid, s.source_id, s.t,
                   @extschema@.lc_finalize(u.old_state, @extschema@.lc_merge(u.old_recent, s.s)) AS f
            FROM since s JOIN pg_temp.antares_stream_touched u USING (objid)
            UNION ALL
            SELECT d.objid, d.source_id, d.t,
                   (SELECT @extschema@.lc_features(p.pb, p.flux, p.dflux) FROM %1$I.points p
                    WHERE p.objid = d.objid AND p.t <= d.t AND p.kind <> 'upper_limit')
            FROM due d JOIN pg_temp.antares_stream_touched u USING (objid)
            WHERE d.t < u.last_t AND u.late
        ), counted AS (
            SELECT e.*, (f).u_n + (f).g_n + (f).r_n + (f).i_n + (f).z_n + (f).y_n AS n_obs,
                   @extschema@.feature_vector(f) AS x
            FROM earlier e
        )
        INSERT INTO pg_temp.antares_stream_evaluated
        -- the latest detection is the object as stored
        SELECT d.objid, d.source_id, d.t, u.n_obs, u.class, u.anomaly, u.features
        FROM due d JOIN pg_temp.antares_stream_touched u USING (objid)
        WHERE d.t >= u.last_t
        UNION ALL
        SELECT objid, source_id, t, n_obs,
               CASE WHEN n_obs >= $1 THEN @extschema@.svm_predict($2, x) END,
               CASE WHEN n_obs >= $1 THEN @extschema@.iforest_decision($3, x) END,
               f
        FROM counted
    $q$, stream) USING cfg.min_obs, cfg.classifier, cfg.anomaly;
    GET DIAGNOSTICS n_evaluations = ROW_COUNT;

    -- 4. each filter's alerts, changes to the outbox and channel
    SELECT coalesce(bool_or(late), false) INTO any_late FROM pg_temp.antares_stream_touched;
    filter_args := @extschema@.stream_filter_parameters(true);
    FOR f IN EXECUTE format('SELECT name, topic, channel FROM %I.filters ORDER BY name', stream) LOOP
        EXECUTE format($q$
            WITH passed AS (
                SELECT e.* FROM pg_temp.antares_stream_evaluated e WHERE %1$I.%2$I(%3$s)
            ), changed AS (
                INSERT INTO %1$I.alerts AS a (filter, objid, source_id, t, n_obs, class, anomaly, features, updated_at)
                SELECT $1, objid, source_id, t, n_obs, class, anomaly, features, now()
                FROM passed ORDER BY objid, source_id
                ON CONFLICT (filter, objid, source_id) DO UPDATE
                SET t = EXCLUDED.t, n_obs = EXCLUDED.n_obs, class = EXCLUDED.class, anomaly = EXCLUDED.anomaly,
                    features = EXCLUDED.features, updated_at = EXCLUDED.updated_at
                WHERE (a.t, a.n_obs, a.class, a.anomaly, a.features)
                      IS DISTINCT FROM (EXCLUDED.t, EXCLUDED.n_obs, EXCLUDED.class, EXCLUDED.anomaly, EXCLUDED.features)
                RETURNING a.key, a.objid, a.source_id,
                          json_build_object('key', a.key, 'stream', %4$L, 'filter', a.filter, 'objid', a.objid,
                                            'source_id', a.source_id, 't', a.t, 'n_obs', a.n_obs, 'class', a.class,
                                            'anomaly', a.anomaly, 'features', to_json(a.features)) AS payload
            ), retracted AS (
                -- only a detection evaluated before can have an alert: none
                -- unless an object had a late point ($3), and then no scan
                DELETE FROM %1$I.alerts a
                USING pg_temp.antares_stream_evaluated e
                WHERE $3 AND a.filter = $1 AND a.objid = e.objid AND a.source_id = e.source_id
                  AND NOT EXISTS (SELECT FROM passed p WHERE p.objid = e.objid AND p.source_id = e.source_id)
                RETURNING a.key, a.objid, a.source_id, NULL::json AS payload
            ), messages AS (
                SELECT * FROM changed UNION ALL SELECT * FROM retracted
            ), queued AS (
                INSERT INTO %1$I.outbox (topic, key, payload)
                SELECT $2, key, payload FROM messages WHERE $2 IS NOT NULL ORDER BY objid, source_id
            )
            -- the notes' text only for a filter with a channel ($4)
            SELECT count(*)::int,
                   array_agg(coalesce(payload, json_build_object('key', key, 'retracted', true))::text
                             ORDER BY objid, source_id) FILTER (WHERE $4)
            FROM messages
        $q$, stream, 'filter_' || f.name, filter_args, stream)
        INTO n, notes USING f.name, f.topic, any_late, f.channel IS NOT NULL;
        IF f.channel IS NOT NULL THEN
            PERFORM pg_notify(f.channel, note) FROM unnest(notes) AS note;
        END IF;
        n_changed := n_changed + n;
    END LOOP;

    EXECUTE format('INSERT INTO %I.batches (points_in, points_new, objects_updated, evaluations, alerts_changed)
                    VALUES ($1, $2, $3, $4, $5)', stream)
    USING n_in, n_new, n_objects, n_evaluations, n_changed;
    RETURN QUERY SELECT n_new, n_objects, n_evaluations, n_changed;
END
$fn$;

-- The Kafka offsets a batch consumed, in the batch's transaction: for each
-- (topic, partition) the stored next offset moves from from_offsets (NULL:
-- none stored yet) to to_offsets.  If another consumer has moved it since
-- this one read it, nothing is written and the error is a serialization
-- failure (40001): the batch rolls back and the consumer re-reads the
-- offsets and seeks.  Concurrent callers serialise on the offset rows.
CREATE FUNCTION stream_advance(stream text, topics text[], partitions int[],
                               from_offsets bigint[], to_offsets bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    i int;
    n int;
BEGIN
    PERFORM @extschema@.stream_config(stream);
    IF topics IS NULL OR partitions IS NULL OR from_offsets IS NULL OR to_offsets IS NULL
       OR cardinality(topics) <> cardinality(partitions) OR cardinality(topics) <> cardinality(from_offsets)
       OR cardinality(topics) <> cardinality(to_offsets) THEN
        RAISE EXCEPTION 'stream_advance needs four arrays of one length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. cardinality(topics) LOOP
        IF topics[i] IS NULL OR partitions[i] IS NULL OR to_offsets[i] IS NULL OR to_offsets[i] < 0
           OR to_offsets[i] < from_offsets[i] THEN
            RAISE EXCEPTION 'invalid offsets for %/%: from % to %', topics[i], partitions[i], from_offsets[i], to_offsets[i]
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF from_offsets[i] IS NULL THEN
            EXECUTE format('INSERT INTO %I.offsets (topic, partition, next_offset) VALUES ($1, $2, $3)
                            ON CONFLICT DO NOTHING', stream)
            USING topics[i], partitions[i], to_offsets[i];
        ELSE
            EXECUTE format('UPDATE %I.offsets SET next_offset = $4, updated_at = now()
                            WHERE topic = $1 AND partition = $2 AND next_offset = $3', stream)
            USING topics[i], partitions[i], from_offsets[i], to_offsets[i];
        END IF;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n <> 1 THEN
            RAISE EXCEPTION 'the offset of %/% in stream % is no longer %', topics[i], partitions[i], stream,
                            coalesce(from_offsets[i]::text, 'unset')
                USING ERRCODE = 'serialization_failure',
                      HINT = 'Another consumer moved it: roll back, read the stored offsets and seek to them.';
        END IF;
    END LOOP;
END
$fn$;

-- A message that is not an alert the decoder can read: kept with its place
-- and error, in the batch's transaction (the same offset again overwrites).
CREATE FUNCTION stream_reject(stream text, topic text, partition int, "offset" bigint,
                              error text, packet bytea)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@.stream_config(stream);
    EXECUTE format('INSERT INTO %I.rejects (topic, partition, "offset", error, packet) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (topic, partition, "offset")
                    DO UPDATE SET error = EXCLUDED.error, packet = EXCLUDED.packet, rejected_at = now()', stream)
    USING topic, partition, "offset", error, packet;
END
$fn$;

-- Named streams
COMMENT ON TABLE streams IS
    'The named streams (stream_create): each a schema of that name with its points, objects, filters, alerts, outbox, offsets, batches and rejects; the classifier, anomaly model and min_obs its batches use';
COMMENT ON FUNCTION stream_config(text) IS
    'The row of streams of a stream (its classifier, anomaly model and min_obs); an error if there is no such stream';
COMMENT ON FUNCTION stream_filter_parameters(boolean) IS
    'The columns a stream filter sees (objid, source_id, t, n_obs, class, anomaly and those of antares.features): as parameter declarations, or as the arguments of a call on an evaluation e (used by stream_add_filter and stream_process)';
COMMENT ON FUNCTION stream_create(text, svm_model, iforest_model, integer) IS
    'Creates the stream `name`: a schema of that name with tables points, objects, filters, alerts, outbox, offsets, batches and rejects; the models take feature_vector''s 23 features';
COMMENT ON FUNCTION stream_drop(text) IS
    'Drops a stream: its schema with everything in it, and its row in streams';
COMMENT ON FUNCTION stream_add_filter(text, text, text, text, text) IS
    'Adds a filter to a stream: a boolean SQL expression over a detection''s evaluation (objid, source_id, t, n_obs, class, anomaly, the features), checked now; its alerts go to a Kafka topic (the outbox) and/or a NOTIFY channel';
COMMENT ON FUNCTION stream_drop_filter(text, text) IS
    'Drops a filter of a stream and its alerts';
COMMENT ON FUNCTION stream_process(text, regclass) IS
    'A micro-batch into a stream: the new points of the batch table (alert_points'' columns), the objects'' states, features, classes and anomaly decisions, the detections evaluated as of their time, each filter''s alerts and outbox messages; rows (points_new, objects_updated, evaluations, alerts_changed); the same batch again changes nothing';
COMMENT ON FUNCTION stream_advance(text, text[], integer[], bigint[], bigint[]) IS
    'Moves a stream''s stored Kafka offsets of (topic, partition) from from_offsets (NULL: none) to to_offsets in the batch''s transaction; a serialization failure (40001) when another consumer moved one';
COMMENT ON FUNCTION stream_reject(text, text, integer, bigint, text, bytea) IS
    'Keeps a message that did not decode in the stream''s rejects table with its topic, partition, offset and error';

-- Bazin supernova fit (bazin_sql.c, bazin.c): one band's observations fitted
-- with f(t) = A e^{-(t - t0)/tau_fall} / (1 + e^{-(t - t0)/tau_rise}) + B by
-- weighted nonlinear least squares (GSL's trust-region Levenberg-Marquardt);
-- bounds, starting point and outcomes in docs/bazin.md.  Columns named as
-- the light-curve package's BazinFit features (bazin_fit_amplitude, ...).
CREATE TYPE bazin_fit AS (
    amplitude float8,           -- A
    baseline float8,            -- B
    reference_time float8,      -- t0, days
    rise_time float8,           -- tau_rise, days
    fall_time float8,           -- tau_fall, days
    amplitude_err float8,       -- 1-sigma errors, from (J^T W J)^-1, not scaled by reduced_chi2
    baseline_err float8,
    reference_time_err float8,
    rise_time_err float8,
    fall_time_err float8,
    reduced_chi2 float8,        -- chi2 / (n - 5)
    peak_time float8,           -- t0 + tau_rise ln(tau_fall / tau_rise - 1)
    peak_flux float8,           -- f(peak_time)
    n int,                      -- observations
    iterations int,             -- solver iterations
    status text                 -- converged, too_few_points, too_few_times, constant_flux, max_iterations or failed
);

CREATE FUNCTION bazin_fit(t float8[], flux float8[], dflux float8[]) RETURNS bazin_fit
AS 'MODULE_PATHNAME', 'bazin_fit_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON TYPE bazin_fit IS
    'A Bazin fit of one band (bazin_fit): A, B, t0, tau_rise, tau_fall, their errors, reduced chi2, peak time and flux, n, iterations and status; every number NULL unless status is converged';
COMMENT ON COLUMN bazin_fit.amplitude IS 'A, in flux units: 0 < A < 100 (max(flux) - min(flux))';
COMMENT ON COLUMN bazin_fit.baseline IS 'B, in flux units (unbounded)';
COMMENT ON COLUMN bazin_fit.reference_time IS 't0, days: within max(span, 50 d) of the first and last times';
COMMENT ON COLUMN bazin_fit.rise_time IS 'tau_rise, days: 0.01 d < tau_rise < 0.01 d + 10 max(span, 50 d)';
COMMENT ON COLUMN bazin_fit.fall_time IS 'tau_fall, days: tau_rise + 0.01 d < tau_fall < tau_rise + 0.01 d + 10 max(span, 50 d)';
COMMENT ON COLUMN bazin_fit.amplitude_err IS '1-sigma error of A: sqrt of the diagonal of (J^T W J)^-1, W = 1/dflux^2, not scaled by reduced_chi2; NULL (all five) when the data do not fix every parameter';
COMMENT ON COLUMN bazin_fit.baseline_err IS '1-sigma error of B (as amplitude_err)';
COMMENT ON COLUMN bazin_fit.reference_time_err IS '1-sigma error of t0, days (as amplitude_err)';
COMMENT ON COLUMN bazin_fit.rise_time_err IS '1-sigma error of tau_rise, days (as amplitude_err)';
COMMENT ON COLUMN bazin_fit.fall_time_err IS '1-sigma error of tau_fall, days (as amplitude_err)';
COMMENT ON COLUMN bazin_fit.reduced_chi2 IS 'sum(((f(t) - flux) / dflux)^2) / (n - 5) at the optimum';
COMMENT ON COLUMN bazin_fit.peak_time IS 'the model''s maximum: t0 + tau_rise ln(tau_fall / tau_rise - 1), days';
COMMENT ON COLUMN bazin_fit.peak_flux IS 'the model at peak_time';
COMMENT ON COLUMN bazin_fit.n IS 'the observations given';
COMMENT ON COLUMN bazin_fit.iterations IS 'trust-region iterations the solver took (at most 500)';
COMMENT ON COLUMN bazin_fit.status IS 'converged; or, every number NULL: too_few_points (n < 6), too_few_times (fewer than 5 distinct times), constant_flux, max_iterations (500 without converging) or failed (a non-finite result)';
COMMENT ON FUNCTION bazin_fit(float8[], float8[], float8[]) IS
    'The Bazin function A e^{-(t-t0)/tau_fall} / (1 + e^{-(t-t0)/tau_rise}) + B fitted to one band''s (t, flux, dflux) by weighted least squares, in any order: parameters, errors, reduced chi2, peak; status says whether it converged';

-- Broker-grade statistics of one band (lc_stats.c; definitions in
-- src/lc_stats.h and docs/lc_stats.md): the light-curve package's features
-- by its names, FATS' flux percentile ratios.  Arrays in any order, of one
-- length; an undefined statistic is NULL.
CREATE TYPE band_statistics AS (
    observation_count integer,
    duration float8,
    minimum_time_interval float8,
    maximum_time_interval float8,
    median float8,
    mean_variance float8,
    percent_amplitude float8,
    inter_percentile_range_10 float8,
    median_buffer_range_percentage_10 float8,
    flux_percentile_ratio_mid20 float8,
    flux_percentile_ratio_mid35 float8,
    flux_percentile_ratio_mid50 float8,
    flux_percentile_ratio_mid65 float8,
    flux_percentile_ratio_mid80 float8,
    kurtosis float8,
    anderson_darling_normal float8,
    cusum float8,
    eta float8,
    eta_e float8,
    excess_variance float8,
    chi2 float8,
    stetson_k float8,
    maximum_slope float8,
    linear_trend float8,
    linear_trend_sigma float8,
    linear_trend_noise float8,
    linear_fit_slope float8,
    linear_fit_slope_sigma float8,
    linear_fit_reduced_chi2 float8
);

CREATE FUNCTION band_statistics(t float8[], flux float8[], dflux float8[])
RETURNS band_statistics
AS 'MODULE_PATHNAME', 'band_statistics' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON TYPE band_statistics IS
    'The statistics of one band (band_statistics): the light-curve package''s features by its names, FATS'' flux percentile ratios; NULL where undefined';
COMMENT ON FUNCTION band_statistics(float8[], float8[], float8[]) IS
    'Statistics and time sampling of one band''s observations (t, flux, dflux > 0; arrays of one length in any order): docs/lc_stats.md; NULL where undefined, O(n log n)';
COMMENT ON COLUMN band_statistics.observation_count IS 'n, the number of observations';
COMMENT ON COLUMN band_statistics.duration IS 't_max - t_min (n >= 1)';
COMMENT ON COLUMN band_statistics.minimum_time_interval IS 'The shortest interval between consecutive times (n >= 2; 0 when two share a time)';
COMMENT ON COLUMN band_statistics.maximum_time_interval IS 'The longest interval between consecutive times (n >= 2)';
COMMENT ON COLUMN band_statistics.median IS 'The median flux (n >= 1)';
COMMENT ON COLUMN band_statistics.mean_variance IS 'std (ddof 1) / mean of the fluxes (n >= 2, mean <> 0)';
COMMENT ON COLUMN band_statistics.percent_amplitude IS 'The largest |flux - median| (n >= 1)';
COMMENT ON COLUMN band_statistics.inter_percentile_range_10 IS 'Q(0.9) - Q(0.1), Hazen quantiles of the fluxes (n >= 1)';
COMMENT ON COLUMN band_statistics.median_buffer_range_percentage_10 IS 'The fraction of fluxes with |flux - median| < 0.1 (max - min) / 2 (n >= 1)';
COMMENT ON COLUMN band_statistics.flux_percentile_ratio_mid20 IS 'FATS FluxPercentileRatioMid20: (Q(0.6) - Q(0.4)) / (Q(0.95) - Q(0.05)); NULL when the denominator is 0';
COMMENT ON COLUMN band_statistics.flux_percentile_ratio_mid35 IS 'FATS FluxPercentileRatioMid35: (Q(0.675) - Q(0.325)) / (Q(0.95) - Q(0.05)); NULL when the denominator is 0';
COMMENT ON COLUMN band_statistics.flux_percentile_ratio_mid50 IS 'FATS FluxPercentileRatioMid50: (Q(0.75) - Q(0.25)) / (Q(0.95) - Q(0.05)); NULL when the denominator is 0';
COMMENT ON COLUMN band_statistics.flux_percentile_ratio_mid65 IS 'FATS FluxPercentileRatioMid65: (Q(0.825) - Q(0.175)) / (Q(0.95) - Q(0.05)); NULL when the denominator is 0';
COMMENT ON COLUMN band_statistics.flux_percentile_ratio_mid80 IS 'FATS FluxPercentileRatioMid80: (Q(0.9) - Q(0.1)) / (Q(0.95) - Q(0.05)); NULL when the denominator is 0';
COMMENT ON COLUMN band_statistics.kurtosis IS 'Unbiased excess kurtosis, scipy.stats.kurtosis(bias=False) (n >= 4, fluxes not all equal)';
COMMENT ON COLUMN band_statistics.anderson_darling_normal IS 'Anderson-Darling normality statistic with the small-sample factor 1 + 4/n - 25/n^2 (n >= 4, fluxes not all equal)';
COMMENT ON COLUMN band_statistics.cusum IS 'Range of the cumulative sums of flux - mean in time order, over n std (n >= 2, fluxes not all equal)';
COMMENT ON COLUMN band_statistics.eta IS 'von Neumann eta: sum of squared successive differences / ((n - 1) var) (n >= 2, fluxes not all equal)';
COMMENT ON COLUMN band_statistics.eta_e IS 'eta_e, the light-curve package''s eta with times (n >= 2, fluxes not all equal, two distinct times)';
COMMENT ON COLUMN band_statistics.excess_variance IS '(var - mean(dflux^2)) / mean^2 (n >= 2, mean <> 0)';
COMMENT ON COLUMN band_statistics.chi2 IS 'Reduced chi^2 about the weighted mean: sum ((flux - weighted mean) / dflux)^2 / (n - 1) (n >= 2)';
COMMENT ON COLUMN band_statistics.stetson_k IS 'Stetson K about the weighted mean (n >= 2, fluxes not all equal)';
COMMENT ON COLUMN band_statistics.maximum_slope IS 'The largest |dflux/dt| between consecutive observations at distinct times (n >= 2)';
COMMENT ON COLUMN band_statistics.linear_trend IS 'Slope of the unweighted least-squares line (n >= 3, two distinct times)';
COMMENT ON COLUMN band_statistics.linear_trend_sigma IS 'Error of linear_trend, from the residual noise (n >= 3, two distinct times)';
COMMENT ON COLUMN band_statistics.linear_trend_noise IS 'Residual standard deviation of the unweighted line, n - 2 degrees of freedom (n >= 3, two distinct times)';
COMMENT ON COLUMN band_statistics.linear_fit_slope IS 'Slope of the least-squares line weighted by 1/dflux^2 (n >= 3, two distinct times)';
COMMENT ON COLUMN band_statistics.linear_fit_slope_sigma IS 'Error of linear_fit_slope from the dflux alone (not scaled by the chi^2) (n >= 3, two distinct times)';
COMMENT ON COLUMN band_statistics.linear_fit_reduced_chi2 IS 'Reduced chi^2 of the weighted line, n - 2 degrees of freedom (n >= 3, two distinct times)';

------------------------------------------------------------------------------
-- Periodograms: the generalised (floating-mean) Lomb-Scargle periodogram of
-- one band with weights 1/dflux^2 and the standard normalisation, what
-- astropy's LombScargle(t, flux, dflux).power computes by default, on
-- astropy's automatic frequency grid (docs/lomb_scargle.md).
------------------------------------------------------------------------------

CREATE TYPE lomb_scargle AS (
    period float8,          -- 1 / frequency, days
    power float8,           -- the largest power on the grid, in [0, 1]
    frequency float8,       -- where it is, 1/day
    period_s_to_n float8,   -- (power - mean) / sd of the grid's powers
    n_frequencies int,      -- the grid: min_frequency + k frequency_step, k < n_frequencies
    min_frequency float8,
    frequency_step float8,
    method text             -- direct or fast
);

-- Arrays in any order, of one length.  min_period 0: the grid reaches 5
-- times the average Nyquist frequency (astropy's nyquist_factor);
-- max_period Infinity: it starts at half a step.
CREATE FUNCTION lomb_scargle(t float8[], flux float8[], dflux float8[],
                             min_period float8 DEFAULT 0,
                             max_period float8 DEFAULT 'Infinity',
                             samples_per_peak int DEFAULT 5,
                             method text DEFAULT 'auto')
RETURNS lomb_scargle
AS 'MODULE_PATHNAME', 'lomb_scargle'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION lomb_scargle_power(t float8[], flux float8[], dflux float8[], frequency float8[])
RETURNS float8[]
AS 'MODULE_PATHNAME', 'lomb_scargle_power'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON TYPE lomb_scargle IS
    'The peak of a band''s generalised Lomb-Scargle periodogram (astropy''s LombScargle(t, flux, dflux) defaults): period, power, frequency, period_s_to_n, and the grid searched';
COMMENT ON COLUMN lomb_scargle.period IS
    'The period of the largest power, 1 / frequency (days; light-curve''s period_0, FATS'' PeriodLS); NULL when undefined';
COMMENT ON COLUMN lomb_scargle.power IS
    'The largest power on the grid: the fraction of the weighted variance a sinusoid plus offset removes, in [0, 1]';
COMMENT ON COLUMN lomb_scargle.frequency IS 'The frequency of the largest power (1/day)';
COMMENT ON COLUMN lomb_scargle.period_s_to_n IS
    '(power - mean) / sd (ddof 1) of the powers on the grid (light-curve''s period_s_to_n_0); NULL if sd = 0';
COMMENT ON COLUMN lomb_scargle.n_frequencies IS 'The number of frequencies of the grid; 0 when the times span no time';
COMMENT ON COLUMN lomb_scargle.min_frequency IS 'The first frequency of the grid (1/day)';
COMMENT ON COLUMN lomb_scargle.frequency_step IS
    'The step of the grid, 1 / (max(t) - min(t)) / samples_per_peak (1/day)';
COMMENT ON COLUMN lomb_scargle.method IS
    'direct (the sums, O(n n_frequencies)) or fast (Press & Rybicki''s FFT, approximate); NULL when nothing was computed';
COMMENT ON FUNCTION lomb_scargle(float8[], float8[], float8[], float8, float8, integer, text) IS
    'The peak of the generalised Lomb-Scargle periodogram of one band (t days, flux, dflux > 0; arrays in any order) on astropy''s automatic grid, periods from min_period (0: 5 times the average Nyquist frequency) to max_period, samples_per_peak per peak; method auto, direct or fast';
COMMENT ON FUNCTION lomb_scargle_power(float8[], float8[], float8[], float8[]) IS
    'The generalised Lomb-Scargle power of one band at each frequency (1/day, > 0) of an array, in its order, by the direct sums; NULL elements where undefined';

------------------------------------------------------------------------------
-- Broker features of an object in one aggregate (broker_sql.c,
-- docs/broker_features.md).  The aggregates buffer their rows per passband,
-- sorted as the array functions sort theirs, so that their numbers are the
-- array functions' of each band's arrays, whatever the row order or the
-- plan.  A NULL in a row is an ERROR (22004), as a NULL element of the
-- arrays; NaN, infinity or dflux <= 0 an ERROR (22023).
------------------------------------------------------------------------------

CREATE FUNCTION band_rows_accum(internal, t float8, flux float8, dflux float8)
RETURNS internal AS 'MODULE_PATHNAME', 'band_rows_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION broker_accum(internal, t float8, pb text, flux float8, dflux float8)
RETURNS internal AS 'MODULE_PATHNAME', 'broker_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION broker_accum(internal, t float8, pb text, flux float8, dflux float8, parts text[])
RETURNS internal AS 'MODULE_PATHNAME', 'broker_accum_parts' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION band_rows_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'band_rows_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION band_rows_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'band_rows_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION band_rows_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'band_rows_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION band_statistics_final(internal)
RETURNS band_statistics AS 'MODULE_PATHNAME', 'band_statistics_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION broker_features_final(internal)
RETURNS jsonb AS 'MODULE_PATHNAME', 'broker_features_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- band_statistics over one band's rows (GROUP BY objid, pb): the array
-- function's row.  Expand it from a subquery, (s).*, not as
-- (band_statistics(...)).* (docs/broker_features.md).
CREATE AGGREGATE band_statistics(t float8, flux float8, dflux float8) (
    SFUNC = band_rows_accum, STYPE = internal, SSPACE = 2048,
    FINALFUNC = band_statistics_final,
    COMBINEFUNC = band_rows_combine, SERIALFUNC = band_rows_serialize,
    DESERIALFUNC = band_rows_deserialize, PARALLEL = SAFE);

-- Every feature of an object's bands (GROUP BY objid) as one jsonb.
CREATE AGGREGATE broker_features(t float8, pb text, flux float8, dflux float8) (
    SFUNC = broker_accum, STYPE = internal, SSPACE = 8192,
    FINALFUNC = broker_features_final,
    COMBINEFUNC = band_rows_combine, SERIALFUNC = band_rows_serialize,
    DESERIALFUNC = band_rows_deserialize, PARALLEL = SAFE);

-- Only some parts: any of statistics, periodogram, bazin, gp (the GP peaks,
-- flux ratios, half widths and the colours); the keys of the others are left out.
CREATE AGGREGATE broker_features(t float8, pb text, flux float8, dflux float8, parts text[]) (
    SFUNC = broker_accum, STYPE = internal, SSPACE = 8192,
    FINALFUNC = broker_features_final,
    COMBINEFUNC = band_rows_combine, SERIALFUNC = band_rows_serialize,
    DESERIALFUNC = band_rows_deserialize, PARALLEL = SAFE);

CREATE FUNCTION broker_feature_names() RETURNS text[]
AS 'MODULE_PATHNAME', 'broker_feature_names' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION broker_feature_names(parts text[]) RETURNS text[]
AS 'MODULE_PATHNAME', 'broker_feature_names_parts' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION feature_vector(f jsonb, names text[], missing float8 DEFAULT 'NaN')
RETURNS float8[]
AS 'MODULE_PATHNAME', 'feature_vector_jsonb' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON AGGREGATE band_statistics(float8, float8, float8) IS
    'band_statistics(t[], flux[], dflux[]) of one band''s rows (t, flux, dflux > 0) in any order, parallel safe: the same row and ERRORs; NULL for no rows';
COMMENT ON AGGREGATE broker_features(float8, text, float8, float8) IS
    'Every broker feature of an object''s rows (t, pb in u g r i z y, flux, dflux > 0) as jsonb, the keys of broker_feature_names(): per band band_statistics, the Lomb-Scargle peak, the Bazin fit, the GP peak, the GP flux ratios around the r band''s GP peak and the GP half rise and fall times; colours at the r band''s GP peak; null where undefined';
COMMENT ON AGGREGATE broker_features(float8, text, float8, float8, text[]) IS
    'broker_features of only the named parts (statistics, periodogram, bazin, gp: the GP peaks, flux ratios, half widths and the colours), the same for every row of a group; the other parts'' keys are left out';
COMMENT ON FUNCTION broker_feature_names(text[]) IS
    'The keys broker_features(t, pb, flux, dflux, parts) gives, in broker_feature_names() order';
COMMENT ON FUNCTION broker_feature_names() IS
    'Every key of broker_features, in its documented order (band by band u g r i z y, then the colours): feature_vector(f, broker_feature_names()) is the whole vector';
COMMENT ON FUNCTION feature_vector(jsonb, text[], float8) IS
    'The numbers of a broker_features jsonb at the given names, in their order; JSON null is missing (NaN by default); a name not in f is an ERROR';
COMMENT ON FUNCTION band_rows_accum(internal, float8, float8, float8) IS 'Transition function of the band_statistics aggregate';
COMMENT ON FUNCTION broker_accum(internal, float8, text, float8, float8) IS 'Transition function of broker_features';
COMMENT ON FUNCTION broker_accum(internal, float8, text, float8, float8, text[]) IS 'Transition function of broker_features with parts';
COMMENT ON FUNCTION band_rows_combine(internal, internal) IS 'Combine function of the band_statistics aggregate and broker_features';
COMMENT ON FUNCTION band_rows_serialize(internal) IS 'Serial function of the band_statistics aggregate and broker_features';
COMMENT ON FUNCTION band_rows_deserialize(bytea, internal) IS 'Deserial function of the band_statistics aggregate and broker_features';
COMMENT ON FUNCTION band_statistics_final(internal) IS 'Final function of the band_statistics aggregate';
COMMENT ON FUNCTION broker_features_final(internal) IS 'Final function of broker_features: each band''s features, the GP peaks, flux ratios, half widths and the colours';

-- Gradient-boosted trees: binary logistic (two classes) and softmax (more)
-- classifiers, trained by antares's own histogram trainer (XGBoost's hist
-- algorithm, src/gbt_train.c) and kept as values of type gbt_model
-- ("gbt/1:<base64>", the serialisation layer of the other models) in
-- antares's own tree layout; prediction walks those trees.  Every input is
-- validated in full.  In features, NaN is a missing value (a default
-- direction learnt at each split); NULL elements and infinities are errors.
-- The training aggregate buffers and sorts its rows like rf_train, so a model
-- depends only on the set of rows and the parameters; it is PARALLEL SAFE.
-- Training checks for interrupts after every tree and level.
------------------------------------------------------------------------------

CREATE TYPE gbt_model;

CREATE FUNCTION gbt_model_in(cstring) RETURNS gbt_model
AS 'MODULE_PATHNAME', 'gbt_model_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbt_model_out(gbt_model) RETURNS cstring
AS 'MODULE_PATHNAME', 'gbt_model_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbt_model_recv(internal) RETURNS gbt_model
AS 'MODULE_PATHNAME', 'gbt_model_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbt_model_send(gbt_model) RETURNS bytea
AS 'MODULE_PATHNAME', 'gbt_model_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE gbt_model (
    INPUT = gbt_model_in, OUTPUT = gbt_model_out,
    RECEIVE = gbt_model_recv, SEND = gbt_model_send,
    INTERNALLENGTH = VARIABLE, STORAGE = extended);

CREATE FUNCTION gbt_train_accum(internal, features float8[], label int)
RETURNS internal
AS 'MODULE_PATHNAME', 'gbt_train_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION gbt_train_accum(internal, features float8[], label int, params jsonb)
RETURNS internal
AS 'MODULE_PATHNAME', 'gbt_train_accum_params'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION gbt_train_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'gbt_train_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION gbt_train_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'gbt_train_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gbt_train_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'gbt_train_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Boost the trees; NULL when there were no rows.
CREATE FUNCTION gbt_train_final(internal) RETURNS gbt_model
AS 'MODULE_PATHNAME', 'gbt_train_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- 100 rounds, max_depth 6, learning_rate 0.3, min_child_weight 1, subsample 1,
-- colsample_bytree 1, lambda 1, seed 0, nthread 2, max_bin 256.  Labels are
-- any int; at least two classes.
CREATE AGGREGATE gbt_train(features float8[], label int) (
    SFUNC = gbt_train_accum, STYPE = internal, SSPACE = 200000,
    FINALFUNC = gbt_train_final,
    COMBINEFUNC = gbt_train_combine, SERIALFUNC = gbt_train_serialize,
    DESERIALFUNC = gbt_train_deserialize, PARALLEL = SAFE);

-- params: a jsonb object of the parameters above (n_trees is the number of
-- rounds); other keys are errors; NULL: the defaults.
CREATE AGGREGATE gbt_train(features float8[], label int, params jsonb) (
    SFUNC = gbt_train_accum, STYPE = internal, SSPACE = 200000,
    FINALFUNC = gbt_train_final,
    COMBINEFUNC = gbt_train_combine, SERIALFUNC = gbt_train_serialize,
    DESERIALFUNC = gbt_train_deserialize, PARALLEL = SAFE);

-- The label of the largest probability (the lowest label on ties).
CREATE FUNCTION gbt_predict(m gbt_model, features float8[])
RETURNS int
AS 'MODULE_PATHNAME', 'gbt_predict_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- predict_proba: one probability per class, labels in increasing order.
CREATE FUNCTION gbt_predict_proba(m gbt_model, features float8[])
RETURNS float8[]
AS 'MODULE_PATHNAME', 'gbt_predict_proba_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- features, classes, trees, nodes, training rows, base margin, parameters.
CREATE FUNCTION gbt_info(m gbt_model)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'gbt_info'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- XGBoost's 'gain' and 'weight' importances of every feature (1-based).
CREATE FUNCTION gbt_importance(m gbt_model)
RETURNS TABLE(feature int, gain float8, weight bigint)
AS 'MODULE_PATHNAME', 'gbt_importance'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 30;

CREATE FUNCTION gbt_model_eq(gbt_model, gbt_model) RETURNS bool
AS 'MODULE_PATHNAME', 'model_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION gbt_model_ne(gbt_model, gbt_model) RETURNS bool
AS 'MODULE_PATHNAME', 'model_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION gbt_model_hash(gbt_model) RETURNS int
AS 'MODULE_PATHNAME', 'model_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gbt_model_hash_extended(gbt_model, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'model_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR = (
    LEFTARG = gbt_model, RIGHTARG = gbt_model, FUNCTION = gbt_model_eq,
    COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES);
CREATE OPERATOR <> (
    LEFTARG = gbt_model, RIGHTARG = gbt_model, FUNCTION = gbt_model_ne,
    COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR CLASS gbt_model_hash_ops DEFAULT FOR TYPE gbt_model USING hash AS
    OPERATOR 1 = (gbt_model, gbt_model),
    FUNCTION 1 gbt_model_hash(gbt_model),
    FUNCTION 2 gbt_model_hash_extended(gbt_model, bigint);

COMMENT ON TYPE gbt_model IS
    'A gradient-boosted tree classifier trained by gbt_train (histogram trees, binary logistic or softmax) in antares''s own tree layout; text form gbt/1:<base64>, validated when read';
COMMENT ON FUNCTION gbt_model_in(cstring) IS 'Input function of type gbt_model (validates the value)';
COMMENT ON FUNCTION gbt_model_out(gbt_model) IS 'Output function of type gbt_model';
COMMENT ON FUNCTION gbt_model_recv(internal) IS 'Binary input function of type gbt_model (validates the value)';
COMMENT ON FUNCTION gbt_model_send(gbt_model) IS 'Binary output function of type gbt_model';
COMMENT ON AGGREGATE gbt_train(float8[], integer) IS
    'Trains gradient-boosted trees with XGBoost''s hist algorithm (100 rounds, max_depth 6, learning_rate 0.3, seed 0, 2 threads); NaN features are missing; at least two classes; NULL for no rows';
COMMENT ON AGGREGATE gbt_train(float8[], integer, jsonb) IS
    'gbt_train with a jsonb object of n_trees, max_depth, learning_rate, min_child_weight, subsample, colsample_bytree, lambda, seed, nthread, max_bin (NULL: the defaults)';
COMMENT ON FUNCTION gbt_train_accum(internal, float8[], integer) IS 'Transition function of gbt_train';
COMMENT ON FUNCTION gbt_train_accum(internal, float8[], integer, jsonb) IS 'Transition function of gbt_train with parameters';
COMMENT ON FUNCTION gbt_train_combine(internal, internal) IS 'Combine function of gbt_train';
COMMENT ON FUNCTION gbt_train_serialize(internal) IS 'Serial function of gbt_train';
COMMENT ON FUNCTION gbt_train_deserialize(bytea, internal) IS 'Deserial function of gbt_train';
COMMENT ON FUNCTION gbt_train_final(internal) IS 'Final function of gbt_train: boosts the trees';
COMMENT ON FUNCTION gbt_predict(gbt_model, float8[]) IS
    'The label of the largest probability (the lowest label on ties); NaN features are missing';
COMMENT ON FUNCTION gbt_predict_proba(gbt_model, float8[]) IS
    'One probability per class, labels in increasing order (XGBoost''s predict_proba); NaN features are missing';
COMMENT ON FUNCTION gbt_info(gbt_model) IS
    'A jsonb summary of a gradient-boosted model: features, classes, trees, nodes, training rows, base margin, parameters';
COMMENT ON FUNCTION gbt_importance(gbt_model) IS
    'Per feature (1-based): XGBoost''s ''gain'' (mean loss reduction of its splits, 0 if unused) and ''weight'' (its splits) importances';
COMMENT ON FUNCTION gbt_model_eq(gbt_model, gbt_model) IS 'true when the two models have the same stored bytes; NULL if either is NULL';
COMMENT ON FUNCTION gbt_model_ne(gbt_model, gbt_model) IS 'true when the two models differ in their stored bytes; NULL if either is NULL';
COMMENT ON FUNCTION gbt_model_hash(gbt_model) IS 'hash of the model''s stored bytes (the hash operator class''s); NULL for NULL';
COMMENT ON FUNCTION gbt_model_hash_extended(gbt_model, bigint) IS '64-bit hash of the model''s stored bytes with a seed (the hash operator class''s); NULL for NULL';
COMMENT ON OPERATOR = (gbt_model, gbt_model) IS 'same stored bytes; NULL if either is NULL';
COMMENT ON OPERATOR <> (gbt_model, gbt_model) IS 'different stored bytes; NULL if either is NULL';
COMMENT ON OPERATOR CLASS gbt_model_hash_ops USING hash IS 'default hash operator class of gbt_model: byte equality (DISTINCT, GROUP BY, hash joins)';
COMMENT ON OPERATOR FAMILY gbt_model_hash_ops USING hash IS 'hash operator family of gbt_model: byte equality';

-- cross_validate gains model 'gbt'.
-- k-fold stratified cross-validation of a model on the rows of `data` (a
-- table or view) whose `features` and `label` are not NULL:
--   * features, label and order_by are column NAMES, exactly as stored
--     (case-sensitive, not SQL expressions): they are quoted with %I, so no
--     text can reach the query as SQL.  features must cast to float8[],
--     label to int; for computed columns make a view.  `data` is a
--     regclass, quoted by its output function.
--   * rows are ordered by the order_by column (ascending; NULL: the order
--     the table is read in), folds are stratified_fold(label, k) in that
--     order, and each model is trained on the other folds' rows in that
--     order: scikit-learn's cross_val_score(model, X, y, cv=k) on rows
--     sorted the same way.
--   * model 'svm': params {"c": C (default 1), "gamma": gamma (default
--     'scale')}; model 'rf': params {"n_trees" (default 100), "max_features"
--     (floor(sqrt(d))), "max_depth" (unlimited), "min_samples_leaf" (1),
--     "seed" (0)}, integers, as rf_train takes them (each fold's forest is
--     grown with the same seed); model 'gbt': params as gbt_train takes
--     them ({"n_trees", "max_depth", "learning_rate", "min_child_weight",
--     "subsample", "colsample_bytree", "lambda", "seed", "nthread",
--     "max_bin"}); other keys, or another model, are errors.
--     Parameter values reach the query as parameters, never as text.
-- Returns per fold the training and test row counts and the fraction of the
-- test rows whose predicted label equals the label.
-- STABLE: it only reads.  PARALLEL RESTRICTED: `data` may be a temporary
-- table, which parallel workers cannot read.  A fixed search_path: only
-- pg_catalog and the extension's own (qualified) functions are called.
CREATE OR REPLACE FUNCTION cross_validate(data regclass, features text, label text, k int DEFAULT 5,
                               model text DEFAULT 'svm', params jsonb DEFAULT '{}',
                               order_by text DEFAULT NULL)
RETURNS TABLE(fold int, n_train int, n_test int, accuracy float8)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $cv$
DECLARE
    train text;         -- the training aggregate over rows d of a fold's other folds
    predict text;       -- the prediction of row d by model m.model
    unknown text;
    c float8;
    gamma float8;
    rf int[];           -- n_trees, max_features, max_depth, min_samples_leaf
    seed bigint;
    bad text;
BEGIN
    IF data IS NULL OR features IS NULL OR label IS NULL OR k IS NULL OR model IS NULL
       OR params IS NULL THEN
        RAISE EXCEPTION 'cross_validate: only order_by may be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(params) <> 'object' THEN
        RAISE EXCEPTION 'cross_validate: params must be a JSON object, got %', params
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    CASE model
    WHEN 'svm' THEN
        SELECT string_agg(key, ', ' ORDER BY key) INTO unknown
        FROM jsonb_object_keys(params) AS key WHERE key NOT IN ('c', 'gamma');
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'cross_validate: unknown svm parameter(s): %', unknown
                USING ERRCODE = 'invalid_parameter_value', HINT = 'svm takes c and gamma.';
        END IF;
        c := coalesce((params ->> 'c')::float8, 1.0);
        gamma := (params ->> 'gamma')::float8;
        train := CASE WHEN gamma IS NULL
                      THEN '@extschema@.svm_train(d.x, d.y, $2 ORDER BY d.rn)'
                      ELSE '@extschema@.svm_train(d.x, d.y, $2, $3 ORDER BY d.rn)' END;
        predict := '@extschema@.svm_predict(m.model, d.x)';
    WHEN 'rf' THEN
        SELECT string_agg(key, ', ' ORDER BY key) INTO unknown
        FROM jsonb_object_keys(params) AS key
        WHERE key NOT IN ('n_trees', 'max_features', 'max_depth', 'min_samples_leaf', 'seed');
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'cross_validate: unknown rf parameter(s): %', unknown
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'rf takes n_trees, max_features, max_depth, min_samples_leaf and seed.';
        END IF;
        SELECT string_agg(key, ', ' ORDER BY key) INTO bad
        FROM jsonb_each(params) AS p(key, value)
        WHERE jsonb_typeof(value) <> 'number' OR value::text !~ '^-?[0-9]+$';
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'cross_validate: rf parameter(s) % must be integers', bad
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- out-of-range values are rf_train's errors
        rf := ARRAY[(params ->> 'n_trees')::int, (params ->> 'max_features')::int,
                    (params ->> 'max_depth')::int, (params ->> 'min_samples_leaf')::int];
        seed := (params ->> 'seed')::bigint;
        train := '@extschema@.rf_train(d.x, d.y, $4[1], $4[2], $4[3], $4[4], $5)';
        predict := '@extschema@.rf_predict(m.model, d.x)';
    WHEN 'gbt' THEN
        SELECT string_agg(key, ', ' ORDER BY key) INTO unknown
        FROM jsonb_object_keys(params) AS key
        WHERE key NOT IN ('n_trees', 'max_depth', 'learning_rate', 'min_child_weight', 'subsample',
                          'colsample_bytree', 'lambda', 'seed', 'nthread', 'max_bin');
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'cross_validate: unknown gbt parameter(s): %', unknown
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'gbt takes n_trees, max_depth, learning_rate, min_child_weight, subsample, colsample_bytree, lambda, seed, nthread and max_bin.';
        END IF;
        -- values of the wrong type or out of range are gbt_train's errors
        train := '@extschema@.gbt_train(d.x, d.y, $6)';
        predict := '@extschema@.gbt_predict(m.model, d.x)';
    ELSE
        RAISE EXCEPTION 'cross_validate: unknown model "%"', model
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Known models: svm, rf, gbt.';
    END CASE;

    RETURN QUERY EXECUTE format($q$
        WITH d AS MATERIALIZED (
            SELECT row_number() OVER w AS rn, %1$I::float8[] AS x, %2$I::int AS y,
                   @extschema@.stratified_fold(%2$I::int, $1) OVER w AS fold
            FROM %3$s
            WHERE %1$I IS NOT NULL AND %2$I IS NOT NULL
            WINDOW w AS (%4$s)
        ), m AS (
            SELECT f.fold, %5$s AS model
            FROM generate_series(0, $1 - 1) AS f(fold) JOIN d ON d.fold <> f.fold
            GROUP BY f.fold
        )
        SELECT m.fold::int, t.n_train::int, t.n_test::int, t.correct::float8 / t.n_test
        FROM m, LATERAL (
            SELECT count(*) FILTER (WHERE d.fold <> m.fold) AS n_train,
                   count(*) FILTER (WHERE d.fold = m.fold) AS n_test,
                   count(*) FILTER (WHERE CASE WHEN d.fold = m.fold THEN %6$s = d.y END) AS correct
            FROM d) AS t
        ORDER BY m.fold
        $q$,
        features, label, data,
        CASE WHEN order_by IS NULL THEN '' ELSE format('ORDER BY %I', order_by) END,
        train, predict)
    USING k, c, gamma, rf, seed, params;
END
$cv$;
