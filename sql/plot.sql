-- Light-curve plots: lc_plot.  The documents are checked by structure (XML
-- parsing and XPath) rather than pinned byte for byte; test/validation/
-- test_plot.py renders them and looks at the pixels.
\i sql/fixtures/shipped_data.sql
\i sql/fixtures/error_of.sql
SET search_path = antares, public;

-- XPath over an SVG document: svg_xpath(path, document) with prefix s.
CREATE FUNCTION public.svg_xpath(path text, doc text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT xpath(path, XMLPARSE(DOCUMENT doc), ARRAY[ARRAY['s', 'http://www.w3.org/2000/svg']])::text[]
$$;

CREATE TEMP TABLE plots AS
SELECT objid, lc_plot(t, pb, flux, dflux) AS raw,
       lc_plot(t, pb, flux, dflux, true) AS smooth,
       lc_plot(t, pb, flux, dflux, false, 'FAKE' || lpad(objid::text, 3, '0')) AS titled
FROM rawphot WHERE objid IN (10, 60, 73) GROUP BY objid;

-- Standalone, well-formed documents with one <svg> root of fixed size.
SELECT objid,
       raw LIKE E'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" %' AS starts_svg,
       raw LIKE E'%</svg>\n' AS ends_svg,
       xml_is_well_formed_document(raw) AND xml_is_well_formed_document(smooth)
         AND xml_is_well_formed_document(titled) AS well_formed,
       svg_xpath('/s:svg/@width', raw) AS width, svg_xpath('/s:svg/@height', raw) AS height,
       raw ~ '^[\n -~]*$' AS ascii_only
FROM plots ORDER BY objid;

-- Each band present: its colour (the DSFP exercise's palette for g r i z), a group of
-- points, a legend entry; no colour of an absent band.
SELECT objid, b.pb, b.color,
       (SELECT count(*) FROM rawphot r WHERE r.objid = p.objid AND r.pb = b.pb) AS n,
       position(b.color IN raw) > 0 AS colour_drawn,
       cardinality(svg_xpath(format('/s:svg/s:g[@class="points"]/s:g[@data-series="%s"]/s:path[@stroke="%s"]',
                                    b.pb, b.color), raw)) AS point_paths,
       cardinality(svg_xpath(format('/s:svg/s:g[@class="legend"]/s:text[text()="%s"]', b.pb), raw)) AS legend_entries
FROM plots p,
     (VALUES ('u', '#8E6BBF'), ('g', '#78A5A3'), ('r', '#CE5A57'), ('i', '#E1B16A'),
             ('z', '#444C5C'), ('y', '#5E9E3A')) b(pb, color)
ORDER BY objid, position(b.pb IN 'ugrizy');

-- Axis labels and readable ticks (FAKE010: MJD 56210 .. 56332, flux -4 .. 188).
SELECT svg_xpath('/s:svg/s:g/s:text[@font-size="13"]/text()', raw) AS axis_labels,
       svg_xpath('/s:svg/s:g[@text-anchor="middle"]/s:text[not(@font-size)]/text()', raw) AS mjd_ticks,
       svg_xpath('/s:svg/s:g[@text-anchor="end"]/s:text/text()', raw) AS flux_ticks
FROM plots WHERE objid = 10;

-- With smooth: per band a shaded +-1 sd band and a mean line in its colour,
-- drawn under the points; without, none.
SELECT objid,
       cardinality(svg_xpath('/s:svg/s:g[@class="curves"]/s:g', smooth)) AS curves,
       cardinality(svg_xpath('/s:svg/s:g[@class="curves"]/s:g/s:path[@fill-opacity="0.2"]', smooth)) AS sd_bands,
       cardinality(svg_xpath('/s:svg/s:g[@class="curves"]/s:g/s:path[@fill="none"]', smooth)) AS mean_lines,
       cardinality(svg_xpath('/s:svg/s:g[@class="curves"]/s:g', raw)) AS curves_without_smooth,
       cardinality(svg_xpath('/s:svg/s:g[@class="points"]/s:g', smooth))
         = cardinality(svg_xpath('/s:svg/s:g[@class="points"]/s:g', raw)) AS same_points,
       svg_xpath('/s:svg/s:text[@class="title"]/text()', titled) AS title,
       svg_xpath('/s:svg/s:text[@class="title"]', raw) AS no_title
FROM plots ORDER BY objid;

-- Text is escaped: a title with markup is text, not elements; control
-- characters XML forbids become U+FFFD; non-ASCII becomes a character reference.
SELECT position('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot; &apos;a&apos;' IN svg) > 0 AS escaped,
       position('<script' IN svg) = 0 AS no_script_tag,
       cardinality(svg_xpath('//s:script', svg)) AS script_elements,
       (SELECT title FROM XMLTABLE(XMLNAMESPACES('http://www.w3.org/2000/svg' AS s),
                                   '/s:svg/s:text[@class="title"]' PASSING XMLPARSE(DOCUMENT svg)
                                   COLUMNS title text PATH '.'))
         = $t$<script>alert(1)</script> & "q" 'a'$t$ AS title_is_the_text
FROM (SELECT lc_plot(t, pb, flux, dflux, false, $t$<script>alert(1)</script> & "q" 'a'$t$) AS svg
      FROM rawphot WHERE objid = 10) s;
SELECT position('>a&#xFFFD;b&#xFFFD;c d&#xE9;</text>' IN svg) > 0 AS replaced_and_referenced,
       xml_is_well_formed_document(svg) AS well_formed
FROM (SELECT lc_plot(t, 'g', f, 1, false, E'a\x01b\x1fc d\u00e9') AS svg
      FROM (VALUES (56000.0::float8, 1.0::float8)) v(t, f)) s;

-- Degenerate curves: one point; all times equal; all fluxes equal; negative
-- fluxes.  The axes are padded around the values.
SELECT name, xml_is_well_formed_document(svg) AS well_formed,
       svg_xpath('/s:svg/s:g[@text-anchor="middle"]/s:text[not(@font-size)]/text()', svg) AS mjd_ticks,
       svg_xpath('/s:svg/s:g[@text-anchor="end"]/s:text/text()', svg) AS flux_ticks
FROM (
  SELECT 'one point' AS name, lc_plot(t, pb, f, s) AS svg
  FROM (VALUES (56000.0::float8, 'r', 5.0::float8, 1.0::float8)) v(t, pb, f, s)
  UNION ALL
  SELECT 'one point, smooth', lc_plot(t, pb, f, s, true)
  FROM (VALUES (56000.0::float8, 'r', 5.0::float8, 1.0::float8)) v(t, pb, f, s)
  UNION ALL
  SELECT 'equal times', lc_plot(t, pb, f, s, true)
  FROM (VALUES (56000.0::float8, 'g', 1.0::float8, 0.5::float8), (56000, 'g', 2, 0.5)) v(t, pb, f, s)
  UNION ALL
  SELECT 'equal fluxes', lc_plot(t, pb, f, s)
  FROM (VALUES (56000.0::float8, 'i', 7.0::float8, 1e-9::float8), (56010, 'i', 7, 1e-9)) v(t, pb, f, s)
  UNION ALL
  SELECT 'negative fluxes', lc_plot(t, pb, f, s)
  FROM (VALUES (56000.0::float8, 'z', -40.0::float8, 3.0::float8), (56030, 'y', -12, 2)) v(t, pb, f, s)
) d ORDER BY name;

-- NULL rows are skipped, no rows give NULL; the document does not depend on
-- the order of the rows.
SELECT (SELECT lc_plot(t, pb, flux, dflux) FROM rawphot WHERE objid = 73)
     = (SELECT lc_plot(t, pb, flux, dflux) FROM (
          SELECT t, pb, flux, dflux FROM rawphot WHERE objid = 73
          UNION ALL VALUES (NULL, 'g', 1, 1), (56000, NULL, 1, 1), (56000, 'g', NULL, 1), (56000, 'g', 1, NULL)) r)
  AS nulls_skipped;
SELECT lc_plot(t, pb, flux, dflux) IS NULL AS no_rows,
       lc_plot(t, pb, flux, dflux, true, 'x') IS NULL AS no_rows_smooth
FROM rawphot WHERE false;
SELECT lc_plot(t, pb, flux, dflux) IS NULL AS only_null_rows
FROM (VALUES (NULL::float8, 'g', 1.0::float8, 1.0::float8)) v(t, pb, flux, dflux);
SELECT (SELECT lc_plot(t, pb, flux, dflux, true) FROM (SELECT * FROM rawphot WHERE objid = 60 ORDER BY t) o)
     = (SELECT lc_plot(t, pb, flux, dflux, true) FROM (SELECT * FROM rawphot WHERE objid = 60 ORDER BY flux DESC) o)
  AS order_free;

-- Parallel query: Partial/Finalize aggregation gives exactly the serial documents.
\i sql/fixtures/force_parallel.sql
SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
SELECT objid, lc_plot(t, pb, flux, dflux, true, 'x') FROM testphot GROUP BY objid;
CREATE TEMP TABLE par AS
SELECT objid, lc_plot(t, pb, flux, dflux, objid % 2 = 0, 'FAKE' || objid) AS svg
FROM testphot WHERE objid <= 200 GROUP BY objid;
RESET ALL;
SET search_path = antares, public;
CREATE TEMP TABLE ser AS
SELECT objid, lc_plot(t, pb, flux, dflux, objid % 2 = 0, 'FAKE' || objid) AS svg
FROM testphot WHERE objid <= 200 GROUP BY objid;
SELECT (SELECT count(*) FROM par) AS plots,
       (SELECT count(*) FROM (SELECT * FROM par EXCEPT SELECT * FROM ser) d) AS par_not_ser,
       (SELECT count(*) FROM (SELECT * FROM ser EXCEPT SELECT * FROM par) d) AS ser_not_par,
       (SELECT bool_and(xml_is_well_formed_document(svg)) FROM par) AS well_formed;

-- Bad input (error_of: sql/fixtures/error_of.sql).
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT lc_plot(t, 'g', 1, s) FROM (VALUES (1.0::float8, 1.0::float8), (2, 0)) v(t, s)$$),
  ($$SELECT lc_plot(t, 'g', 1, 1) FROM (VALUES ('NaN'::float8)) v(t)$$),
  ($$SELECT lc_plot(1, 'g', f, 1) FROM (VALUES ('-Infinity'::float8)) v(f)$$),
  ($$SELECT lc_plot(1, 'g', 1, s) FROM (VALUES ('Infinity'::float8)) v(s)$$),
  ($$SELECT lc_plot(1, 'w', 1, 1)$$),
  ($$SELECT lc_plot(1, 'gr', 1, 1, true)$$),
  ($$SELECT lc_plot(1, 'g', 1, 1, NULL)$$),
  ($$SELECT lc_plot(t, 'g', 1, 1, t > 1) FROM (VALUES (1.0::float8), (2)) v(t)$$),
  ($$SELECT lc_plot(t, 'g', 1, 1, false, 'a' || t) FROM (VALUES (1.0::float8), (2)) v(t)$$),
  ($$SELECT lc_plot(t, 'g', 1, 1, false, CASE WHEN t > 1 THEN 'a' END) FROM (VALUES (1.0::float8), (2)) v(t)$$),
  ($$SELECT lc_plot(t, 'g', f, 1.7e308) FROM (VALUES (1.0::float8, 1.7e308::float8)) v(t, f)$$)
) t(q);

DROP FUNCTION public.svg_xpath(text, text);

-- The smooth curve needs a grid across the times and the variances dflux^2:
-- out of range when they leave double range; without the curve, dflux may be
-- large.
SELECT public.error_of(q) FROM (VALUES
  ($$SELECT lc_plot(t, 'g', 1, 1, true) FROM (VALUES (1e308::float8), (-1e308)) v(t)$$),
  ($$SELECT lc_plot(t, 'g', 1, 1e160, true) FROM (VALUES (1.0::float8), (2)) v(t)$$),
  ($$SELECT length(lc_plot(t, 'g', 1, 1e160)) > 0 FROM (VALUES (1.0::float8), (2)) v(t)$$)
) t(q);
