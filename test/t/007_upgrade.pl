# Upgrades: values stored by every released version stay readable, and
# ALTER EXTENSION antares UPDATE from every released version gives what a
# fresh install of the current version gives.
#
# 1. Values written by the released code (test/fixtures/values-<version>.copy:
#    models and states in their text form, the MD5 of the bytes their send
#    functions wrote, and what each predicted or computed then) are read by the current code: every value
#    reads, writes the same text and bytes, and computes exactly the same.
# 2. For every released version V (an install script sql/antares--V.sql
#    other than the current one): a database installs V, stores what users
#    store (SVM, isolation- and random-forest models, GP fits, lc_state
#    values, a stream replayed by process_night), runs ALTER EXTENSION antares
#    UPDATE, and then
#      - every stored value reads and computes exactly as before;
#      - the stream goes on: one more night gives the state of a fresh
#        install that processed every night;
#      - the extension's objects equal a fresh install's: functions with
#        signatures, markings, costs and bodies; aggregates; types;
#        operators and operator classes; comments; privileges; the tables'
#        columns, defaults, constraints and indexes; extension configuration.
#
# To write the fixtures of a new release, run this test against a build of
# that release with ANTARES_WRITE_FIXTURES=<directory>.
#
# Run with make prove_installcheck (see 001_parallel_features.pl).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use AntaresTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = antares_node('upgrade');
my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'antares'});
my @released = split /\n/, $node->safe_psql(
	'postgres', q{
SELECT version FROM pg_available_extension_versions
WHERE name = 'antares' AND NOT version = (SELECT default_version FROM pg_available_extensions
                                          WHERE name = 'antares')
ORDER BY string_to_array(version, '.')::int[]});
ok(scalar(@released) >= 1, "released versions before $current: @released");

create_points($node);

# ---------------------------------------------------------------- stored values
# Each value (name, type) with the query of what it computes: $1 is the
# value; pts gives the feature vectors.
my %computes = (
	svm_model => q{SELECT string_agg(antares.svm_predict($1, x) || ' ' || antares.svm_decision($1, x)::text,
	                                 ';' ORDER BY id) FROM pts WHERE id % 3 = 0},
	iforest_model => q{SELECT string_agg(antares.iforest_score($1, x)::text || ' ' || antares.iforest_decision($1, x),
	                                     ';' ORDER BY id) FROM pts WHERE id % 3 = 0},
	rf_model => q{SELECT string_agg(antares.rf_predict($1, x) || ' ' || antares.rf_predict_proba($1, x)::text,
	                                ';' ORDER BY id) FROM pts WHERE id % 3 = 0},
	lc_state => q{SELECT antares.lc_count($1) || ' ' || antares.lc_finalize($1)::text});

# The values of the fixtures: made by this SQL under the released version.
my $values = q{
SELECT 'svm' AS name, 'svm_model' AS type, antares.svm_train(x, y, 1, 0.5 ORDER BY id)::text AS value FROM pts
UNION ALL
SELECT 'svm_binary', 'svm_model', antares.svm_train(x, (y > 1)::int ORDER BY id)::text FROM pts
UNION ALL
SELECT 'iforest', 'iforest_model', antares.iforest_train(x, 20, 128, 5)::text FROM pts
UNION ALL
SELECT 'rf', 'rf_model', antares.rf_train(x, y, 10, NULL, 6, 1, 5)::text FROM pts
UNION ALL
(SELECT 'lc_state ' || objid, 'lc_state', antares.lc_accumulate(pb, flux, dflux)::text
 FROM antares.simulate_survey(6, 7) GROUP BY objid ORDER BY objid)};

# "name type value md5-of-send computed" of the table stored(name, type, value),
# one line each, in order of name.
sub describe_values
{
	my ($db) = @_;
	my @lines;
	for my $type (sort keys %computes)
	{
		(my $compute = $computes{$type}) =~ s/\$1/s.value::antares.$type/g;
		push @lines, split /\n/, $node->safe_psql(
			$db, qq{
SELECT concat_ws(E'\\t', name, type, value::antares.${type}::text,
                 md5(antares.${type}_send(value::antares.$type)),
                 (SELECT c FROM ($compute) AS c(c)))
FROM stored s WHERE type = '$type'});
	}
	return [ sort @lines ];
}

if (my $dir = $ENV{ANTARES_WRITE_FIXTURES})
{
	my $version = $node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'antares'});
	$node->safe_psql('postgres', "CREATE TABLE stored AS $values");
	PostgreSQL::Test::Utils::append_to_file("$dir/values-$version.copy",
		join("\n", @{ describe_values('postgres') }) . "\n");
	note "wrote $dir/values-$version.copy";
}

for my $file (glob "$FindBin::RealBin/../fixtures/values-*.copy")
{
	my ($version) = $file =~ /values-(.*)\.copy$/;
	my @written = sort split /\n/, slurp_file($file);
	$node->safe_psql(
		'postgres', qq{
DROP TABLE IF EXISTS stored;
CREATE TABLE stored (name text, type text, value text, send text, computed text);
COPY stored FROM '$file';
});
	my $read = describe_values('postgres');
	is(scalar(@$read), scalar(@written), "values written by $version: all " . scalar(@written) . ' read');
	my @differ = grep { $read->[$_] ne $written[$_] } 0 .. $#written;
	is(scalar(@differ), 0,
		"values written by $version read back with the same text, bytes and results")
	  or diag('first difference: ' . (split /\t/, $written[ $differ[0] ])[0]);
}

# ---------------------------------------------------------------- updates
# What a database holds: stored values and what they compute, GP fits, the
# stream's tables.
my $stored = q{
SELECT md5(string_agg(m.name || ' ' || m.svm::text || m.forest::text || m.rf::text, ';' ORDER BY m.name)),
       (SELECT md5(string_agg(antares.svm_predict(svm, x) || ' ' || antares.svm_decision(svm, x)::text
                              || ' ' || antares.iforest_score(forest, x) || ' ' || antares.rf_predict(rf, x)
                              || ' ' || antares.rf_predict_proba(rf, x)::text, ';' ORDER BY m.name, id))
        FROM models m, pts),
       (SELECT md5(string_agg(objid || pb || g::text, ';' ORDER BY objid, pb)) FROM gp),
       (SELECT md5(string_agg(objid || s::text || antares.lc_finalize(s)::text, ';' ORDER BY objid)) FROM states)
FROM models m};
my $stream = q{
SELECT (SELECT md5(string_agg(concat_ws('|', objid, antares.lc_merge(state, recent)::text, n_obs, last_t,
                                        features::text, class, anomaly), ';' ORDER BY objid))
        FROM antares.object_state),
       (SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', objid, night_start, class, anomaly, features::text),
                                               ';' ORDER BY objid, night_start)) FROM antares.alerts),
       (SELECT string_agg(concat_ws('|', source, night_start, night_end, objects_updated, alerts), ';'
                          ORDER BY night_start) FROM antares.nights)};
my $setup = q{
CREATE TABLE models AS
SELECT 'a' AS name, antares.svm_train(x, y, 1, 0.5 ORDER BY id) AS svm,
       antares.iforest_train(x, 20, 128, 5) AS forest, antares.rf_train(x, y, 10, NULL, 6, 1, 5) AS rf
FROM pts;
CREATE TABLE phot AS SELECT objid, t, pb, flux, dflux FROM antares.simulate_survey(60, 11);
CREATE TABLE gp AS
SELECT objid, pb, antares.gp_smooth(t, flux, dflux, 20) AS g FROM phot WHERE objid <= 3 GROUP BY objid, pb;
CREATE TABLE states AS
SELECT objid, antares.lc_accumulate(pb, flux, dflux) AS s FROM phot GROUP BY objid;
CREATE TABLE stream_models AS
SELECT antares.svm_train(x, objid::int % 3 ORDER BY objid) AS svm, antares.iforest_train(x, 30, 64, 2) AS forest
FROM (SELECT objid, antares.feature_vector(antares.lc_features(pb, flux, dflux)) AS x
      FROM phot GROUP BY objid) f;
};
my $night = q{SELECT * FROM antares.process_night('phot', %s, %s,
  (SELECT svm FROM stream_models), (SELECT forest FROM stream_models), -0.05, 3)};
my @nights = ([ 60000, 60300 ], [ 60300, 60600 ], [ 60600, 60900 ]);
my @last_night = (60900, 61200);

# The extension's objects, one line each, comparable between databases.
my $catalog = q{
WITH ext AS (SELECT * FROM pg_extension WHERE extname = 'antares'),
member AS (SELECT d.classid, d.objid FROM pg_depend d, ext
           WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e')
SELECT line FROM (
SELECT 'member ' || pg_describe_object(classid, objid, 0) || ' -- '
       || coalesce(obj_description(objid, classid::regclass::text), '(no comment)') AS line
FROM member
UNION ALL
SELECT concat_ws(' ', 'function', p.oid::regprocedure, p.prokind, p.provolatile, p.proisstrict, p.proparallel,
                 p.procost, p.prorows, p.proretset, pg_get_function_result(p.oid),
                 pg_get_function_arguments(p.oid), p.prosecdef, p.proleakproof, p.proconfig::text,
                 p.prosupport::regproc, p.prolang, p.prosrc, p.probin, p.proacl::text)
FROM pg_proc p JOIN member m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
UNION ALL
SELECT concat_ws(' ', 'aggregate', a.aggfnoid::regprocedure, a.aggkind, a.aggnumdirectargs,
                 a.aggtransfn::regprocedure, a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn,
                 a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn, a.aggfinalextra, a.aggmfinalextra,
                 a.aggfinalmodify, a.aggmfinalmodify, a.aggsortop, a.aggtranstype::regtype, a.aggtransspace,
                 a.aggmtranstype::regtype, a.aggmtransspace, a.agginitval, a.aggminitval)
FROM pg_aggregate a JOIN member m ON m.classid = 'pg_proc'::regclass AND m.objid = a.aggfnoid
UNION ALL
SELECT concat_ws(' ', 'type', t.oid::regtype, t.typtype, t.typlen, t.typbyval, t.typcategory, t.typispreferred,
                 t.typdelim, t.typinput, t.typoutput, t.typreceive, t.typsend, t.typmodin, t.typmodout,
                 t.typanalyze, t.typalign, t.typstorage, t.typnotnull, t.typarray::regtype, t.typacl::text)
FROM pg_type t JOIN member m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
UNION ALL
SELECT concat_ws(' ', 'operator', o.oid::regoperator, o.oprkind, o.oprcanmerge, o.oprcanhash,
                 o.oprresult::regtype, o.oprcom::regoperator, o.oprnegate::regoperator, o.oprcode,
                 o.oprrest, o.oprjoin)
FROM pg_operator o JOIN member m ON m.classid = 'pg_operator'::regclass AND m.objid = o.oid
UNION ALL
SELECT concat_ws(' ', 'opclass', c.opcname, am.amname, c.opcintype::regtype, c.opcdefault,
                 c.opckeytype::regtype, f.opfname,
                 (SELECT string_agg(o.amopstrategy || ':' || o.amopopr::regoperator, ',' ORDER BY o.amopstrategy)
                  FROM pg_amop o WHERE o.amopfamily = f.oid),
                 (SELECT string_agg(p.amprocnum || ':' || p.amproc::regprocedure, ',' ORDER BY p.amprocnum)
                  FROM pg_amproc p WHERE p.amprocfamily = f.oid))
FROM pg_opclass c JOIN member m ON m.classid = 'pg_opclass'::regclass AND m.objid = c.oid
JOIN pg_am am ON am.oid = c.opcmethod JOIN pg_opfamily f ON f.oid = c.opcfamily
UNION ALL
SELECT concat_ws(' ', 'column', a.attrelid::regclass, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                 a.attnotnull, a.attidentity, a.attgenerated, a.attstorage, a.attcompression,
                 pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum))
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'antares'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT concat_ws(' ', 'relation', c.oid::regclass, c.relkind, c.relpersistence, c.reloptions::text,
                 c.relacl::text)
FROM pg_class c WHERE c.relnamespace = 'antares'::regnamespace
UNION ALL
SELECT concat_ws(' ', 'constraint', conrelid::regclass, conname, pg_get_constraintdef(oid))
FROM pg_constraint WHERE connamespace = 'antares'::regnamespace
UNION ALL
SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index
WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'antares'::regnamespace)
UNION ALL
SELECT concat_ws(' ', 'extension', extname, extversion, extrelocatable, extnamespace::regnamespace,
                 (SELECT array_agg(c::regclass ORDER BY c::regclass::text) FROM unnest(extconfig) c)::text,
                 extcondition::text)
FROM ext
UNION ALL
SELECT concat_ws(' ', 'schema', nspname, nspacl::text) FROM pg_namespace WHERE nspname = 'antares'
) s ORDER BY line};

# Lines in one list and not the other, marked - and +.
sub difference
{
	my ($have, $want) = @_;
	my (%have, %want);
	$have{$_}++ for @$have;
	$want{$_}++ for @$want;
	return ((map { "- $_" } grep { !$have{$_} } @$want), (map { "+ $_" } grep { !$want{$_} } @$have));
}

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION antares');
create_points($node, 'fresh');
$node->safe_psql('fresh', $setup);
$node->safe_psql('fresh', sprintf($night, @$_)) for (@nights, \@last_night);
my @fresh_catalog = split /\n/, $node->safe_psql('fresh', $catalog);
my $fresh_stream = $node->safe_psql('fresh', $stream);
is(scalar(grep { /\(no comment\)/ } @fresh_catalog), 0, "$current: every object of the extension has a comment");

for my $version (@released)
{
	my $db = "from_$version" =~ s/\./_/gr;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION antares VERSION '$version'");
	create_points($node, $db);
	$node->safe_psql($db, $setup);
	$node->safe_psql($db, sprintf($night, @$_)) for @nights;
	my $before = $node->safe_psql($db, $stored);
	my $stream_before = $node->safe_psql($db, $stream);

	$node->safe_psql($db, 'ALTER EXTENSION antares UPDATE');
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'antares'}),
		$current, "$version: ALTER EXTENSION antares UPDATE reaches $current");
	is($node->safe_psql($db, $stored), $before,
		"$version: stored models, GP fits and states read and compute exactly as before");
	is($node->safe_psql($db, $stream), $stream_before, "$version: the stream's tables are as they were");

	$node->safe_psql($db, sprintf($night, @last_night));
	is($node->safe_psql($db, $stream), $fresh_stream,
		"$version: the next night gives the state of a fresh $current install that processed every night");

	my @diff = difference([ split /\n/, $node->safe_psql($db, $catalog) ], \@fresh_catalog);
	is(scalar(@diff), 0, "$version: after the update the extension's objects equal a fresh install of $current")
	  or diag(join("\n", @diff[ 0 .. ($#diff < 40 ? $#diff : 39) ]));
}

done_testing();
