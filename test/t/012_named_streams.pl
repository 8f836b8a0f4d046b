
# Named streams under the things a server does to them: notifications sent
# at commit, two sessions feeding one stream at once, a backend terminated
# in the middle of a batch, and pg_dump / pg_restore of a stream that then
# goes on.  The reference is a second stream that took the same points in
# one uninterrupted batch: what a stream stores must not depend on how its
# points were batched, so every other stream must end equal to it.
#
# Run with make prove_installcheck (see 001_parallel_features.pl).

use strict;
use warnings;

use IPC::Run;
use JSON::PP qw(decode_json);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use AntaresTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

my $node = antares_node('named_streams', "work_mem = '64MB'\n");

# 1500 simulated objects over 200 days, every point a detection with its
# own source id, cut into four parts by time; models on 300 objects.
$node->safe_psql('postgres', q{
CREATE TABLE sim AS
SELECT objid, t, pb, flux, dflux, 'detection'::text AS kind,
       objid * 100000 + row_number() OVER (PARTITION BY objid ORDER BY t) AS source_id,
       NULL::bigint AS alert_id, NULL::float8 AS ra, NULL::float8 AS "dec",
       least(3, floor((t - 60000) / 50))::int AS part, label
FROM antares.simulate_survey(1500, 21) WHERE t < 60200;
} . stream_models_sql('sim') . q{
CREATE FUNCTION make_stream(name text) RETURNS void LANGUAGE sql AS $$
  SELECT antares.stream_create(name, (SELECT svm FROM models), (SELECT forest FROM models), 3);
  SELECT antares.stream_add_filter(name, 'unusual', 'anomaly < 0 AND n_obs >= 5', 'unusual');
  SELECT antares.stream_add_filter(name, 'loud', 'n_obs >= 3 AND r_amp > 0.5', channel => 'loud_alerts');
$$;
-- the points of some parts as a batch table
CREATE FUNCTION batch_of(parts int[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('pg_temp.batch') IS NULL THEN
    CREATE TEMP TABLE batch (LIKE sim);
  END IF;
  TRUNCATE batch;
  INSERT INTO batch SELECT * FROM sim WHERE part = ANY (parts);
END $$;
SELECT make_stream('reference');
SELECT batch_of(ARRAY[0, 1, 2, 3]);
SELECT * FROM antares.stream_process('reference', 'batch');
});
my ($points, $objects) = split /\|/, $node->safe_psql('postgres',
	'SELECT count(*), count(DISTINCT objid) FROM sim');
note "$points points of $objects objects";

# What must be equal: every point, object and alert, and the live outbox.
sub snapshot
{
	my ($stream) = @_;
	return $node->safe_psql('postgres', qq{
SELECT (SELECT md5(string_agg(concat_ws('|', objid, kind, source_id, t, pb, flux, dflux), ';' ORDER BY objid, kind, source_id))
        FROM $stream.points),
       (SELECT md5(string_agg(concat_ws('|', objid, antares.lc_merge(state, recent)::text, n_obs, last_t, features::text,
                                        class, anomaly), ';' ORDER BY objid))
        FROM $stream.objects),
       (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', filter, objid, source_id, t, n_obs, class, anomaly,
                                                           features::text), ';' ORDER BY filter, objid, source_id))
        FROM $stream.alerts),
       (SELECT md5(string_agg(concat_ws('|', substr(key, strpos(key, '/')), payload::jsonb - 'key' - 'stream'), ';' ORDER BY key))
        FROM (SELECT DISTINCT ON (key) key, payload FROM $stream.outbox ORDER BY key, seq DESC) l
        WHERE payload IS NOT NULL)});
}
my $reference = snapshot('reference');
my ($alerts) = $node->safe_psql('postgres', 'SELECT count(*) FROM reference.alerts');
cmp_ok($alerts, '>', 100, "the reference raised $alerts alerts");

# Notifications: one per alert of the channel's filter, sent at commit, the
# alert as JSON.
$node->safe_psql('postgres', q{SELECT make_stream('notified'); SELECT batch_of(ARRAY[0, 1])});
my ($loud) = $node->safe_psql('postgres', q{
	SELECT count(*) FROM reference.alerts WHERE filter = 'loud' AND t < 60100});
my $out = $node->safe_psql('postgres', q{
	LISTEN loud_alerts;
	SELECT batch_of(ARRAY[0, 1]);
	SELECT alerts_changed FROM antares.stream_process('notified', 'batch');
});
my @notes = $out =~ /^Asynchronous notification "loud_alerts" with payload "(.*)" received/mg;
is(scalar @notes, $loud, "one notification per alert of the channel's filter ($loud)");
is(scalar(grep { my $alert = decode_json($_);
				   $alert->{filter} eq 'loud' && ref $alert->{features} eq 'HASH' && $alert->{key} =~ m{^notified/loud/} } @notes),
	$loud, 'each the alert as JSON, with its key');

# Two sessions feed one stream at once, with overlapping batches (parts 1-2
# and 2-3): they serialise, and the end state is the reference's.
$node->safe_psql('postgres', q{SELECT make_stream('concurrent')});
my @sessions;
for my $parts ('0, 1, 2', '2, 3')
{
	my ($o, $e) = ('', '');
	push @sessions, [ IPC::Run::start(
		[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', qq{
			BEGIN;
			SELECT batch_of(ARRAY[$parts]);
			SELECT * FROM antares.stream_process('concurrent', 'batch');
			SELECT pg_sleep(0.5);
			COMMIT;} ],
		'>', \$o, '2>', \$e), \$o, \$e ];
}
for my $s (@sessions)
{
	ok($s->[0]->finish, 'a concurrent batch committed') or diag ${ $s->[2] };
}
is(snapshot('concurrent'), $reference, 'two concurrent sessions: the reference state');

# A batch whose backend is terminated half-way leaves no trace; done again,
# the reference state.
$node->safe_psql('postgres', q{SELECT make_stream('killed'); SELECT batch_of(ARRAY[0]);
	SELECT * FROM antares.stream_process('killed', 'batch')});
my $before = snapshot('killed');
my ($bo, $be) = ('', '');
my $t0 = time;
my $h = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c',
	  q{SELECT batch_of(ARRAY[1, 2, 3]); SELECT * FROM antares.stream_process('killed', 'batch')} ],
	'>', \$bo, '2>', \$be);
my $pid = '';
for (my $i = 0; $i < 400 && $pid eq ''; $i++)
{
	sleep 0.02;
	$pid = $node->safe_psql('postgres', q{
		SELECT pid FROM pg_stat_activity
		WHERE query LIKE '%stream_process(''killed''%' AND state = 'active' AND pid <> pg_backend_pid()});
}
isnt($pid, '', 'the batch is running');
sleep 0.3;
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"), 't', 'and its backend is terminated');
$h->finish;
like($be, qr/terminat/i, 'the session was terminated');
is(snapshot('killed'), $before, 'the stream is as the first batch left it');
is($node->safe_psql('postgres', 'SELECT count(*) FROM killed.batches'), '1', 'and the batch is not logged');
$node->safe_psql('postgres', q{SELECT batch_of(ARRAY[1, 2, 3]); SELECT * FROM antares.stream_process('killed', 'batch')});
is(snapshot('killed'), $reference, 'the batch again: the reference state');

# pg_dump / pg_restore: the stream (its tables, filter functions, the
# streams row with its models) comes back and goes on as the original.
$node->safe_psql('postgres', q{SELECT make_stream('dumped'); SELECT batch_of(ARRAY[0, 1]);
	SELECT * FROM antares.stream_process('dumped', 'batch');
	SELECT antares.stream_advance('dumped', ARRAY['alerts'], ARRAY[0], ARRAY[NULL]::bigint[], ARRAY[1234])});
my $dump = $node->basedir . '/streams.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
my $rest = q{SELECT batch_of(ARRAY[2, 3]); SELECT * FROM antares.stream_process('dumped', 'batch')};
is($node->safe_psql('restored', $rest), $node->safe_psql('postgres', $rest),
	'the restored stream takes the next batch as the original does');
my %columns = (
	points  => 'objid, t, pb, flux, dflux, kind, source_id',
	objects => 'objid, state, recent, n_obs, last_t, features, class, anomaly',
	alerts  => 'filter, objid, source_id, t, n_obs, class, anomaly, features',
	offsets => 'topic, partition, next_offset');
for my $table (sort keys %columns)
{
	my $q = "SELECT md5(string_agg(r::text, ';' ORDER BY r::text)) FROM (SELECT $columns{$table} FROM dumped.$table) r";
	is($node->safe_psql('restored', $q), $node->safe_psql('postgres', $q), "and then has the same $table");
}
my $outbox = q{SELECT count(*), min(seq), max(seq), md5(string_agg(concat_ws('|', seq, topic, key, payload), ';' ORDER BY seq))
	FROM dumped.outbox};
is($node->safe_psql('restored', $outbox), $node->safe_psql('postgres', $outbox),
	'and the same outbox, its sequence going on');
is($node->safe_psql('restored', q{SELECT name, min_obs, classifier::text = (SELECT svm::text FROM models),
	anomaly::text = (SELECT forest::text FROM models) FROM antares.streams WHERE name = 'dumped'}),
	'dumped|3|t|t', 'the streams row keeps its models');

$node->stop;
done_testing();
