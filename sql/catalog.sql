-- What the extension declares: every function's volatility, strictness and
-- parallel safety, and every aggregate's support functions.  Each marking is
-- deliberate; this script pins them.
SELECT p.oid::regprocedure AS function, p.prokind AS kind,
       p.provolatile AS volatile, p.proisstrict AS strict, p.proparallel AS parallel,
       p.proretset AS set_returning
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
WHERE e.extname = 'antares'
ORDER BY p.oid::regprocedure::text;

-- Every aggregate combines, serializes and deserializes: parallel query,
-- and the partial states of shards, work for all of them.
SELECT a.aggfnoid::regprocedure AS aggregate, a.aggtransspace AS sspace, a.aggcombinefn,
       a.aggserialfn, a.aggdeserialfn, a.aggfinalmodify
FROM pg_aggregate a JOIN pg_depend d ON d.objid = a.aggfnoid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
WHERE e.extname = 'antares'
ORDER BY a.aggfnoid::regprocedure::text;

-- Only superusers and pg_read_server_files may read server files.
SELECT has_function_privilege('public', 'antares.read_lightcurve(text)', 'EXECUTE') AS public_may_read_files,
       has_function_privilege('pg_read_server_files', 'antares.read_lightcurve(text)', 'EXECUTE') AS readers_may;

-- Every object of the extension is documented in the catalog (\df+, \da,
-- \dT+, \dt+ show it): none without a comment.
SELECT pg_describe_object(d.classid, d.objid, 0) AS undocumented
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'antares' AND d.deptype = 'e'
  AND obj_description(d.objid, d.classid::regclass::text) IS NULL
ORDER BY 1;
SELECT d.classid::regclass AS catalog, count(*) AS documented
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'antares' AND d.deptype = 'e'
  AND obj_description(d.objid, d.classid::regclass::text) IS NOT NULL
GROUP BY 1 ORDER BY 1;
