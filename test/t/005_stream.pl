
# A night of process_night cut off half-way leaves no trace, and running it
# again gives the end state of an uninterrupted run.
#
# Two databases hold the same photometry: 20,000 objects observed on night 1
# and again, with 250,000 rows, on night 2.  In the first, night 2 starts in
# a backend that pg_terminate_backend kills while process_night is running;
# object_state, alerts and nights must be exactly as night 1 left them.
# Night 2 is then run again.  The second database runs both nights without
# interruption; the stored states, features, classes and anomaly decisions
# and the alerts of the two must be identical.
#
# Run with make prove_installcheck (see 001_parallel_features.pl).

use strict;
use warnings;

use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use AntaresTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

my $node = antares_node('stream', "work_mem = '256MB'\n");

my $setup = q{
CREATE EXTENSION IF NOT EXISTS antares;
CREATE TABLE phot AS
SELECT o AS objid,
       CASE WHEN k = 0 THEN 1.2 ELSE 2.0 + k * 0.0001 END AS t,
       (ARRAY['g', 'r', 'i', 'z'])[1 + (o + k) % 4] AS pb,
       10 + 5 * sin(o * 0.7 + k) + (o % 17) AS flux,
       0.5 + ((o * 31 + k * 7) % 10) / 10.0 AS dflux
FROM generate_series(1, 20000) o, generate_series(0, 12) k
WHERE k = 0 OR (o * 13 + k) % 20 < 19;
ANALYZE phot;
-- models on the DSFP features of night 1's states, fixed seeds
CREATE TABLE models AS
SELECT antares.svm_train(x, (o % 3), 1, 0.1 ORDER BY o) AS svm,
       antares.iforest_train(x, 50, 256, 3) AS forest
FROM (SELECT objid AS o, antares.feature_vector(antares.lc_features(pb, flux, dflux)) AS x
      FROM phot WHERE objid <= 300 GROUP BY objid) f;
};
my $night = q{SELECT * FROM antares.process_night('phot', %s, %s,
  (SELECT svm FROM models), (SELECT forest FROM models), -0.02)};
my $night1 = sprintf($night, 1, 2);
my $night2 = sprintf($night, 2, 3);
my $snapshot = q{
SELECT md5(string_agg(concat_ws('|', objid, state::text, n_obs, last_t, features::text, class, anomaly), ';'
                      ORDER BY objid)) FROM antares.object_state};
my $alerts = q{
SELECT count(*), md5(string_agg(concat_ws('|', objid, night_start, class, anomaly, features::text), ';'
                                ORDER BY objid, night_start)) FROM antares.alerts};

$node->safe_psql('postgres', 'CREATE DATABASE reference');
$node->safe_psql($_, $setup) for ('postgres', 'reference');

# the reference: both nights, uninterrupted
$node->safe_psql('reference', $night1);
my $t0 = time;
$node->safe_psql('reference', $night2);
my $night2_seconds = time - $t0;
note sprintf('night 2 uninterrupted: %.2f s', $night2_seconds);

# night 1 here, then night 2 killed half-way
is($node->safe_psql('postgres', $night1), '20000|' . $node->safe_psql('postgres', q{
	SELECT count(*) FROM antares.alerts}), 'night 1: every object updated');
my %after1 = (
	state  => $node->safe_psql('postgres', $snapshot),
	alerts => $node->safe_psql('postgres', $alerts),
	nights => $node->safe_psql('postgres', 'SELECT count(*) FROM antares.nights'));

my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c', $night2 ],
	'>', \$out, '2>', \$err);
my $pid = '';
for (my $i = 0; $i < 200 && $pid eq ''; $i++)
{
	sleep 0.05;
	$pid = $node->safe_psql('postgres', q{
		SELECT pid FROM pg_stat_activity
		WHERE query LIKE '%process_night(''phot'', 2, 3%' AND state = 'active' AND pid <> pg_backend_pid()});
}
isnt($pid, '', 'night 2 is running');
sleep($night2_seconds / 3);
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"), 't', 'and is killed half-way');
$h->finish;
like($err, qr/terminat/i, 'the session was terminated');

is($node->safe_psql('postgres', $snapshot), $after1{state}, 'object_state is as night 1 left it');
is($node->safe_psql('postgres', $alerts), $after1{alerts}, 'no alert of night 2 is left');
is($node->safe_psql('postgres', 'SELECT count(*) FROM antares.nights'), $after1{nights},
	'night 2 is not logged');

# night 2 again, to the end: the reference's end state
$node->safe_psql('postgres', $night2);
is($node->safe_psql('postgres', $snapshot), $node->safe_psql('reference', $snapshot),
	'after running night 2 again: the states of an uninterrupted run');
is($node->safe_psql('postgres', $alerts), $node->safe_psql('reference', $alerts),
	'and its alerts');
is($node->safe_psql('postgres', 'SELECT objects_updated, alerts FROM antares.nights ORDER BY night_start'),
	$node->safe_psql('reference', 'SELECT objects_updated, alerts FROM antares.nights ORDER BY night_start'),
	'and its nights');

# the stored features are lc_features over all the rows
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE o.features::text IS DISTINCT FROM w.f::text)
	FROM antares.object_state o
	JOIN (SELECT objid, antares.lc_features(pb, flux, dflux) f FROM phot GROUP BY objid) w USING (objid)}),
	'0', 'stored features = lc_features over all rows');

# models and states survive pg_dump / pg_restore with the extension's tables
my $dump = $node->basedir . '/stream.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
is($node->safe_psql('restored', $snapshot), $node->safe_psql('postgres', $snapshot),
	'object_state restored');
is($node->safe_psql('restored', $alerts), $node->safe_psql('postgres', $alerts), 'alerts restored');
is($node->safe_psql('restored', q{SELECT * FROM antares.process_night('phot', 2, 3)}), '0|0',
	'the restored nights keep process_night idempotent');
is($node->safe_psql('restored', q{
	INSERT INTO antares.alerts (objid, night_start, anomaly, features, created_at)
	VALUES (1, 0, 0, '{}', now()) RETURNING alert_id > (SELECT max(alert_id) FROM antares.alerts WHERE objid <> 1 OR night_start <> 0)}),
	't', 'and the alert_id sequence continues after the restored alerts');

$node->stop;
done_testing();
