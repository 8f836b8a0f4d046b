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
    'Stratified k-fold cross-validation of an svm or rf model on a table''s features and label columns (names, not expressions): rows (fold, n_train, n_test, accuracy)';

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
