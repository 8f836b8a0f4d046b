-- antares 0.1.0 -> 0.2.0: run by ALTER EXTENSION antares UPDATE.
-- Everything here is also in sql/antares.sql, so that an updated database and
-- a fresh install of 0.2.0 hold the same objects (test/t/007_upgrade.pl).

\echo Use "ALTER EXTENSION antares UPDATE TO '0.2.0'" to load this file. \quit
