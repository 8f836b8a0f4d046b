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
