# Alert packets of 10,000 objects with overlapping histories: every alert
# repeats its object's previous points (up to 20) as prvDiaSources and again as
# prvDiaForcedSources, so each point arrives in up to 21 packets.  Loaded
# by bin/antares_load and by alert_points in SQL, each point is stored
# once, the two tables are the same, and every object's lc_features over
# its stored detections equals lc_features over the de-duplicated points
# (the simulated ones, rounded to float32 as Rubin's psfFlux is), exactly.
# Also: a container of many alerts is stopped by statement_timeout between
# two alerts, long before its end, and the backend decodes as before
# afterwards; alert_schemas' rows survive pg_dump and pg_restore.
#
# The packets are written by bin/antares_alertgen from simulate_survey's
# points (Rubin's format, the project's own writer schema).  Needs
# bin/antares_load and bin/antares_alertgen built (make); run with make
# prove_installcheck (see 001_parallel_features.pl).

use strict;
use warnings;

use Cwd qw(abs_path);
use IPC::Run;
use Time::HiRes ();
use FindBin;
use lib "$FindBin::RealBin/../lib";
use AntaresTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = abs_path("$FindBin::RealBin/../..");
my $tmp = PostgreSQL::Test::Utils::tempdir;
my $node = antares_node('alert_objects', "max_parallel_workers_per_gather = 0\n");
my $connstr = $node->connstr('postgres');

sub sql { return $node->safe_psql('postgres', "SET search_path = public, antares; $_[0]"); }

# The points: the first 8 of each of the first 10,000 objects observed in a
# quarter of a year.
sql(q{CREATE TABLE truth AS
SELECT objid, t, pb, flux, dflux
FROM (SELECT *, row_number() OVER (PARTITION BY objid ORDER BY t) AS k,
             dense_rank() OVER (ORDER BY objid) AS o
      FROM simulate_survey(16000, 7, 1, 0.25)) s
WHERE k <= 8 AND o <= 10000});
my ($points, $objects) = split /\|/, sql('SELECT count(*), count(DISTINCT objid) FROM truth');
ok($objects == 10000 && $points > 7 * $objects, "$points points of $objects objects");
$node->safe_psql('postgres',
	"COPY (SELECT objid, t, pb, flux, dflux FROM truth) TO '$tmp/points.csv' WITH CSV");

# One alert per point, 1000 alerts a container file.
my ($out, $err) = ('', '');
ok( IPC::Run::run(
		[ "$root/bin/antares_alertgen", '--history=20', '--forced', '--per-file=1000',
			'-o', "$tmp/packets", "$tmp/points.csv" ],
		'>', \$out, '2>', \$err),
	'antares_alertgen writes the packets')
  or diag($err);
my @files = glob("$tmp/packets/*.avro");
ok(@files >= $points / 1000, scalar(@files) . ' container files');

# The loader, two jobs.
ok( IPC::Run::run(
		[ "$root/bin/antares_load", '-d', $connstr, '-j', '2', '--create', '-t', 'by_loader',
			"$tmp/packets" ],
		'>', \$out, '2>', \$err),
	'antares_load loads them')
  or diag($err);
like($out, qr/\b$points alerts\b/, "the loader read $points alerts");

# SQL: the same files as bytea, then one INSERT ... ON CONFLICT DO NOTHING.
sql(q{CREATE TABLE packets (name text, packet bytea);
CREATE TABLE by_sql (LIKE by_loader INCLUDING ALL)});
for my $f (@files)
{
	my $name = $f =~ s{.*/}{}r;
	$node->safe_psql('postgres', "INSERT INTO packets VALUES ('$name', pg_read_binary_file('$f'))");
}
# One batch of all the files, the last first: of a point's copies
# alert_points must keep the lowest alert_id, as the loader does.
my $load_sql = q{INSERT INTO by_sql
SELECT * FROM alert_points(ARRAY(SELECT packet FROM packets ORDER BY name DESC))
ON CONFLICT DO NOTHING};
sql($load_sql);

# Each point once: every point is one detection; every point but its
# object's last is also the forced source of the object's later alerts.
is(sql(q{SELECT count(*) FILTER (WHERE kind = 'detection') || ' ' || count(*) FILTER (WHERE kind = 'forced')
         || ' ' || count(*) FROM by_sql}),
	"$points " . ($points - $objects) . ' ' . (2 * $points - $objects),
	'SQL: each point stored once as a detection and once as a forced source');
is(sql('SELECT count(*) FROM (SELECT * FROM by_loader EXCEPT SELECT * FROM by_sql) d')
	  . ' ' . sql('SELECT count(*) FROM (SELECT * FROM by_sql EXCEPT SELECT * FROM by_loader) d'),
	'0 0', 'the loader and SQL stored the same rows');
is(sql(q{SELECT count(*) FROM (
  SELECT objid, t, pb, flux::float4::float8, dflux::float4::float8 FROM truth
  EXCEPT SELECT objid, t, pb, flux, dflux FROM by_sql WHERE kind = 'detection') d}),
	'0', 'the stored detections are the points (flux and dflux rounded to float32)');

# Features of the stored light curves equal those of the de-duplicated points.
is(sql(q{SELECT count(*), count(*) FILTER (WHERE s.f IS DISTINCT FROM t.f) FROM
  (SELECT objid, lc_features(pb, flux, dflux)::text AS f FROM by_sql WHERE kind = 'detection' GROUP BY objid) s
  FULL JOIN
  (SELECT objid, lc_features(pb, flux::float4::float8, dflux::float4::float8)::text AS f FROM truth GROUP BY objid) t
  USING (objid)}),
	"$objects|0", "lc_features of all $objects objects equal those of the de-duplicated points");

# Loading again adds nothing, through either path.
my $before = sql('SELECT count(*) FROM by_sql');
sql($load_sql);
ok( IPC::Run::run(
		[ "$root/bin/antares_load", '-d', $connstr, '-j', '2', '-t', 'by_loader', "$tmp/packets" ],
		'>', \$out, '2>', \$err),
	'antares_load loads them again')
  or diag($err);
is(sql('SELECT count(*) FROM by_sql') . ' ' . sql('SELECT count(*) FROM by_loader'),
	"$before $before", 'a second load of the same packets adds nothing');

# A container of 40,000 alerts, stopped by statement_timeout.
ok( IPC::Run::run(
		[ "$root/bin/antares_alertgen", '--history=20', '--per-file=40000', '-o', "$tmp/big",
			"$tmp/points.csv" ],
		'>', \$out, '2>', \$err),
	'a container of 40,000 alerts')
  or diag($err);
sql("CREATE TABLE big AS SELECT pg_read_binary_file('$tmp/big/000001.avro') AS packet");
# The whole decoding takes $full seconds; a timeout of a quarter of that
# stops it between two alerts, long before the end (a kernel that did not
# poll would run to the end first).
my $start = Time::HiRes::time();
my $count = sql('SELECT count(*) FROM big, alert_photometry(packet)');
my $full = Time::HiRes::time() - $start;
my $timeout_ms = int(1000 * $full / 4) || 1;
my ($elapsed, $stderr) =
  timed_statement($node, "${timeout_ms}ms", 'SELECT count(*) FROM big, antares.alert_photometry(packet)');
like($stderr, qr/canceling statement due to statement timeout/,
	sprintf('statement_timeout (%d ms) stops the decoding of %d points (%.2f s in full)',
		$timeout_ms, $count, $full));
ok($elapsed < $full * 0.75, sprintf('stopped after %.2f s of %.2f s', $elapsed, $full));

# In one session: stopped, then the same container decodes in full, to the
# count a fresh session gets.
my ($stdout, $stderr2) = ('', '');
$node->psql(
	'postgres', qq{SET search_path = public, antares;
SET statement_timeout = '$timeout_ms'; SELECT count(*) FROM big, alert_photometry(packet);
RESET statement_timeout; SELECT count(*) FROM big, alert_photometry(packet);},
	stdout => \$stdout,
	stderr => \$stderr2,
	on_error_stop => 0);
like($stderr2, qr/statement timeout/, 'a session stopped in the decoding');
is($stdout, $count, "decodes the container afterwards: $count points, as a fresh session");

# alert_schemas is extension configuration: pg_dump keeps its rows, and the
# restored database decodes a Confluent message by its schema id.
IPC::Run::run([ 'head', '-n', '20', "$tmp/points.csv" ], '>', "$tmp/few.csv");
ok( IPC::Run::run(
		[ "$root/bin/antares_alertgen", '--framing=confluent', '--schema-id=7',
			"--schema-out=$tmp/schema.json", '-o', "$tmp/messages.bin", "$tmp/few.csv" ],
		'>', \$out, '2>', \$err),
	'Confluent messages')
  or diag($err);
$node->safe_psql('postgres', 'CREATE DATABASE schemas');
my $first_message = q{SELECT substring(f FROM 5 FOR (get_byte(f, 0) << 24) | (get_byte(f, 1) << 16)
                                            | (get_byte(f, 2) << 8) | get_byte(f, 3)) AS m
FROM pg_read_binary_file('} . "$tmp/messages.bin" . q{') f};
$node->safe_psql('schemas', "CREATE EXTENSION antares;
INSERT INTO antares.alert_schemas (id, schema) VALUES (7, pg_read_file('$tmp/schema.json'));
CREATE TABLE message AS $first_message;");
my $decoded = 'SELECT count(*) || \' \' || sum(p.flux) FROM message, antares.alert_photometry(m) p';
my $in_source = $node->safe_psql('schemas', $decoded);
command_ok([ 'pg_dump', '-Fc', '-f', "$tmp/schemas.dump", '-d', $node->connstr('schemas') ],
	'pg_dump of a database with a registered schema');
$node->safe_psql('postgres', 'CREATE DATABASE schemas_restored');
command_ok([ 'pg_restore', '-d', $node->connstr('schemas_restored'), "$tmp/schemas.dump" ], 'pg_restore');
is($node->safe_psql('schemas_restored', $decoded), $in_source,
	"the restored database decodes the message with the restored schema ($in_source)");

$node->stop;
done_testing();
