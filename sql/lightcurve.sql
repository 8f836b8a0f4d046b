--
-- Reading light curves: parse_lightcurve, lightcurve_header, read_lightcurve,
-- and the shipped data as sql/fixtures/shipped_data.sql loads it.
--

-- Header lines, a comment, blank lines, CRLF line ends, tabs, the columns
-- in another order with an extra one, a '#' line inside the table, and no
-- newline after the last row.
SELECT * FROM antares.parse_lightcurve(
  E'#ID:7\n#note: a comment follows\n# just a comment\n\n'
  '  pb  t\textra  dflux  flux\r\n'
  '  g  56000.5  x  0.5  12.25\r\n'
  '\n#late:1\n'
  '  r  56001.0  y  1e-1  -3');

-- Numbers are read as float8 input reads them.
SELECT t, pb, flux, dflux, flux = '4.9e-324'::float8 AS denormal
FROM antares.parse_lightcurve(
  E't pb flux dflux\n'
  '+1.5 g 1E3 0x10\n'
  '-0 r 4.9e-324 .5\n'
  '56000 long_passband_name -1.25e+2 7.\n');

-- A column header row and no rows is an empty light curve; NULL gives
-- nothing (STRICT).
SELECT count(*) FROM antares.parse_lightcurve(E'#ID:1\n t pb flux dflux\n\n');
SELECT count(*) FROM antares.parse_lightcurve(NULL);

-- Header values are strings, trimmed; a value may hold colons; '#' lines
-- without a colon are comments; a repeated key keeps its last value.
SELECT antares.lightcurve_header(
  E'#orig_file:/mnt/a:b.DAT\n#  ID :  152926  \n#type:-9\n# comment\n'
  '#empty:\n#type:Ia\n t pb flux dflux\n1 g 2 3\n#late: after a row\n');
SELECT antares.lightcurve_header(E't pb flux dflux\n');

--
-- Bad input: every error names the line (22P04: bad_copy_file_format,
-- 22P02: invalid_text_representation, 22003: numeric_value_out_of_range).
--
-- malformed lines
SELECT * FROM antares.parse_lightcurve(E'#ID:1\nt pb flux dflux\n1 g 2 3\n4 r 5\n');
SELECT * FROM antares.parse_lightcurve(E't pb flux dflux\n1 g 2 3 4\n');
SELECT * FROM antares.parse_lightcurve(E't pb flux flux dflux\n');
-- missing columns; data before any column header row
SELECT * FROM antares.parse_lightcurve(E'#ID:1\n\n t pb flux sigma\n1 g 2 3\n');
SELECT * FROM antares.parse_lightcurve(E'56000.5 g 12.25 0.5\n');
-- non-numeric values, quoted (cut to 40 bytes; bytes outside
-- printable ASCII shown as '?')
SELECT * FROM antares.parse_lightcurve(E't pb flux dflux\n1 g 2 3\n2 g abc 3\n');
SELECT * FROM antares.parse_lightcurve(E't pb flux dflux\n1,5 g 2 3\n');
SELECT * FROM antares.parse_lightcurve(E't pb flux dflux\n1 g 2 3e\n');
SELECT * FROM antares.parse_lightcurve(E't pb flux dflux\n1 g 2 3\x01\n');
SELECT * FROM antares.parse_lightcurve(
  E't pb flux dflux\n1 g 2 ' || repeat('9', 60) || E'x\n');
-- non-finite values
SELECT * FROM antares.parse_lightcurve(E't pb flux dflux\n1 g NaN 3\n');
SELECT * FROM antares.parse_lightcurve(E't pb flux dflux\n1 g 2 Infinity\n');
SELECT * FROM antares.parse_lightcurve(E't pb flux dflux\n-inf g 2 3\n');
-- out of range, as for float8
SELECT * FROM antares.parse_lightcurve(E't pb flux dflux\n1 g 1e999 3\n');
SELECT * FROM antares.parse_lightcurve(E't pb flux dflux\n1 g 1e-400 3\n');
-- empty input
SELECT * FROM antares.parse_lightcurve('');
SELECT * FROM antares.parse_lightcurve(E'  \n\t\n');
SELECT * FROM antares.parse_lightcurve(E'#ID:1\n# no table\n');
-- lightcurve_header validates the whole text too
SELECT antares.lightcurve_header(E'#ID:1\nt pb flux dflux\n1 g x 3\n');
SELECT antares.lightcurve_header('');

-- The SQLSTATE of each kind of error.
CREATE FUNCTION pg_temp.sqlstate_of(content text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM count(*) FROM antares.parse_lightcurve(content);
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
SELECT kind, pg_temp.sqlstate_of(content) AS sqlstate
FROM (VALUES
  ('malformed line', E't pb flux dflux\n1 g 2\n'),
  ('duplicate column', E't t pb flux dflux\n'),
  ('missing column', E't pb flux\n'),
  ('non-numeric', E't pb flux dflux\n1 g 2 x\n'),
  ('non-finite', E't pb flux dflux\n1 g 2 nan\n'),
  ('out of range', E't pb flux dflux\n1 g 2 1e400\n'),
  ('empty input', ''),
  ('valid', E't pb flux dflux\n1 g 2 3\n')) v(kind, content);

-- A failed statement leaves nothing half-inserted: the first light curve is
-- fine, the second fails on its line 3.
CREATE TABLE lc_scratch (objid bigint, t float8, pb text, flux float8, dflux float8);
INSERT INTO lc_scratch
SELECT v.objid, p.*
FROM (VALUES (1, E't pb flux dflux\n1 g 2 3\n2 r 4 5\n'),
             (2, E't pb flux dflux\n1 g 2 3\n2 r 4\n')) v(objid, content),
     antares.parse_lightcurve(v.content) p;
SELECT count(*) FROM lc_scratch;
DROP TABLE lc_scratch;

--
-- read_lightcurve: the server reads the file.  The test writes its files
-- into the data directory, where relative paths point (as for COPY).
--
COPY (SELECT line FROM (VALUES
  (1, '#ID:42'), (2, '#type:Ia'), (3, '   t  pb  flux  dflux'),
  (4, '56000.5  g  12.25  0.5'), (5, '56001  r  -3  0.1')) v(n, line)
  ORDER BY n) TO PROGRAM 'cat > antares_regress_lc.dat';
COPY (SELECT line FROM (VALUES
  (1, '#ID:43'), (2, '   t  pb  flux  dflux'),
  (3, '56000.5  g  12.25  0.5'), (4, '56001  r  -3  0..1')) v(n, line)
  ORDER BY n) TO PROGRAM 'cat > antares_regress_bad.dat';
COPY (SELECT 1 WHERE false)
  TO PROGRAM 'printf ''t pb flux dflux\n1 g 2 3\n4 r\000 5 6\n'' > antares_regress_nul.dat';

SELECT * FROM antares.read_lightcurve('antares_regress_lc.dat');
SELECT count(*) FROM antares.read_lightcurve(
  current_setting('data_directory') || '/antares_regress_lc.dat');
-- errors name the file and the line
SELECT * FROM antares.read_lightcurve('antares_regress_bad.dat');
SELECT * FROM antares.read_lightcurve('antares_regress_nul.dat');
SELECT * FROM antares.read_lightcurve('antares_regress_missing.dat');
SELECT * FROM antares.read_lightcurve('base');

-- Reading the server's files is for superusers and pg_read_server_files
-- members, as for COPY FROM a file; EXECUTE is also revoked from PUBLIC.
CREATE ROLE regress_antares_reader;
GRANT USAGE ON SCHEMA antares TO regress_antares_reader;
SET ROLE regress_antares_reader;
SELECT * FROM antares.read_lightcurve('antares_regress_lc.dat');
SELECT count(*) FROM antares.parse_lightcurve(E't pb flux dflux\n1 g 2 3\n');
RESET ROLE;
GRANT EXECUTE ON FUNCTION antares.read_lightcurve(text) TO regress_antares_reader;
SET ROLE regress_antares_reader;
SELECT * FROM antares.read_lightcurve('antares_regress_lc.dat');
RESET ROLE;
GRANT pg_read_server_files TO regress_antares_reader;
SET ROLE regress_antares_reader;
SELECT count(*) FROM antares.read_lightcurve('antares_regress_lc.dat');
RESET ROLE;
DROP OWNED BY regress_antares_reader;
DROP ROLE regress_antares_reader;

COPY (SELECT 1 WHERE false) TO PROGRAM 'rm -f antares_regress_lc.dat antares_regress_bad.dat antares_regress_nul.dat';
SELECT * FROM antares.read_lightcurve('antares_regress_lc.dat');

--
-- The shipped data (sql/fixtures/shipped_data.sql): lcfile holds every file,
-- parse_lightcurve made rawphot and testphot, lightcurve_header lcheader.
--
\i sql/fixtures/shipped_data.sql
SELECT dataset, count(*) AS files, min(objid), max(objid)
FROM lcfile GROUP BY dataset ORDER BY dataset;

-- Every line that starts with a number became a row.
SELECT f.dataset, sum(n) AS data_lines
FROM lcfile f,
     LATERAL (SELECT count(*) AS n
              FROM regexp_split_to_table(f.content, E'\n') l
              WHERE l ~ '^\s*[-+0-9.]') c
GROUP BY f.dataset ORDER BY f.dataset;
SELECT 'rawphot' AS tbl, count(*) AS rows, count(DISTINCT objid) AS objects,
       sum(flux::numeric) AS sum_flux, sum(dflux::numeric) AS sum_dflux
FROM rawphot
UNION ALL
SELECT 'testphot', count(*), count(DISTINCT objid),
       sum(flux::numeric), sum(dflux::numeric)
FROM testphot;
SELECT min(n), max(n) FROM (SELECT count(*) AS n FROM rawphot GROUP BY objid) s;
SELECT pb, count(*) FROM rawphot GROUP BY pb ORDER BY pb;
SELECT * FROM rawphot WHERE objid = 1 ORDER BY t, pb LIMIT 3;
SELECT * FROM testphot WHERE objid = 1000 ORDER BY t, pb LIMIT 3;

-- Headers: every file has ID, type, zgal, zgalerr (and orig_file); the test
-- set also has label and sntype.
SELECT header FROM lcheader WHERE dataset = 'training' AND objid = 1;
SELECT key, count(*) FROM lcheader, jsonb_object_keys(header) key
GROUP BY key ORDER BY key;
SELECT header->>'sntype' AS sntype, count(*) FROM lcheader
WHERE dataset = 'test' GROUP BY 1 ORDER BY 2 DESC, 1;

-- A file name too long for the file system (in all, or one component) is
-- the caller's error.
\i sql/fixtures/error_of.sql
SELECT length(n) AS name_length,
       split_part(error_of(format('SELECT count(*) FROM antares.read_lightcurve(%L)', n)), ':', 1) AS sqlstate
FROM (VALUES (repeat('x', 5000)), ('base/' || repeat('x', 300))) v(n);
