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
