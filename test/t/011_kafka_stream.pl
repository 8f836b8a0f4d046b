
# bin/antares_stream against a Kafka protocol: librdkafka's mock cluster
# (bin/antares_kafka_mock) holding Rubin-format alerts (bin/antares_alertgen,
# Confluent framing) of 1000 simulated objects, 10 alerts each, every alert
# repeating its object's 4 previous points as history and as forced sources.
# The reference is one uninterrupted run.  Then:
#   (a) a consumer SIGKILLed at random points of its batches five times, its
#       backend terminated once and the server restarted once ends with the
#       reference's points, objects (features, n_obs, class, anomaly), alerts
#       and offsets, and the output topic holds every alert at least once,
#       its live keys (last message per key not a tombstone) exactly the
#       alerts table's;
#   (b) the broker down for 3 s mid-stream: the consumer waits and resumes,
#       nothing lost (the reference's end state);
#   (c) the alerts shuffled out of time order: every object's features equal
#       lc_features over its stored detections and forced points, and the
#       objects and alerts equal the reference's;
#   (d) two streams consuming different topics at once in one database see
#       only their own rows;
#   (e) a message of an unknown schema id: exit 2, nothing committed past it;
#       with the schema given, the stream goes on;
#   (f) corrupt packets kept in the stream's rejects with their bytes.
# The mock keeps only ~5 MB of each partition, so the 16.6 MB of alerts go
# into 16 partitions and the output topics have 8.
#
# Needs bin/antares_stream, bin/antares_kafka_mock and bin/antares_alertgen
# built (make); run with make prove_installcheck (see 001_parallel_features.pl).

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::MD5 qw(md5_hex);
use IPC::Run;
use List::Util qw(shuffle sum);
use Time::HiRes qw(sleep time);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use AntaresTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = abs_path("$FindBin::RealBin/../..");
my $tmp = PostgreSQL::Test::Utils::tempdir;
my $node = antares_node('kafka_stream', "work_mem = '64MB'\n");
my $connstr = $node->connstr('postgres');
my $seed = $ENV{ANTARES_TEST_SEED} // time;
srand($seed);
note "random seed $seed (ANTARES_TEST_SEED)";

sub sql { return $node->safe_psql('postgres', $_[0]); }

# ---------------------------------------------------------------- the alerts

# 1000 objects, their first 10 points; models trained on 300 of them.
# Stream NAME: both filters publish to topic out_NAME.
sql(q{
CREATE TABLE sim AS
SELECT objid, t, pb, flux, dflux, label
FROM (SELECT *, row_number() OVER (PARTITION BY objid ORDER BY t) AS k FROM antares.simulate_survey(1000, 21)) s
WHERE k <= 10;
-- (d): 100 other objects
CREATE TABLE other AS
SELECT objid + 100000 AS objid, t, pb, flux, dflux
FROM (SELECT *, row_number() OVER (PARTITION BY objid ORDER BY t) AS k FROM antares.simulate_survey(100, 33)) s
WHERE k <= 10;
} . stream_models_sql('sim') . q{
CREATE FUNCTION make_stream(name text) RETURNS void LANGUAGE sql AS $$
  SELECT antares.stream_create(name, (SELECT svm FROM models), (SELECT forest FROM models), 3);
  SELECT antares.stream_add_filter(name, 'unusual', 'anomaly < -0.02 AND n_obs >= 5', 'out_' || name);
  SELECT antares.stream_add_filter(name, 'loud', 'n_obs >= 3 AND r_amp > 0.5', 'out_' || name);
$$;
-- a topic's messages as antares_kafka_mock's consume writes them
CREATE TABLE topic_dump (stream text, partition int, "offset" bigint, key text, value text);
});
is(sql('SELECT count(*) || \' \' || count(DISTINCT objid) FROM sim'), '10000 1000', '10000 points of 1000 objects');
sql("COPY (SELECT objid, t, pb, flux, dflux FROM sim ORDER BY objid, t) TO '$tmp/sim.csv' WITH CSV");
sql("COPY (SELECT objid, t, pb, flux, dflux FROM other ORDER BY objid, t) TO '$tmp/other.csv' WITH CSV");
# one point of an object of its own, for the unknown schema id
sql("COPY (SELECT 777777, 60500.5, 'g', 100.0, 5.0) TO '$tmp/lone.csv' WITH CSV");

sub alertgen
{
	my ($csv, $file, $id) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[ "$root/bin/antares_alertgen", '--history=4', '--forced', '--framing=confluent', "--schema-id=$id",
			"--schema-out=$tmp/schema.json", '-o', $file, $csv ],
		'>', \$out, '2>', \$err)
	  or die "antares_alertgen: $err";
}
alertgen("$tmp/sim.csv", "$tmp/sim.bin", 11);
alertgen("$tmp/other.csv", "$tmp/other.bin", 11);
alertgen("$tmp/lone.csv", "$tmp/lone.bin", 99);
# Schema 11 stored before two consumers start at once with --schema 11=...:
# each then finds it committed.  (Both inserting it at the same moment, the
# second's INSERT ... ON CONFLICT DO NOTHING waits for the first's, and its
# check, in the same statement and snapshot, does not see the row: "stored
# with another text", exit 1.)
sql("INSERT INTO antares.alert_schemas VALUES (11, pg_read_file('$tmp/schema.json'))");

# The length-prefixed messages of a file, and a file of messages.
sub read_messages
{
	my ($file) = @_;
	open my $fh, '<:raw', $file or die "$file: $!";
	local $/;
	my $bytes = <$fh>;
	my @messages;
	for (my $pos = 0; $pos < length $bytes;)
	{
		my $len = unpack('N', substr($bytes, $pos, 4));
		push @messages, substr($bytes, $pos, 4 + $len);
		$pos += 4 + $len;
	}
	return @messages;
}

sub write_messages
{
	my ($file, @messages) = @_;
	open my $fh, '>:raw', $file or die "$file: $!";
	print $fh @messages;
	close $fh or die "$file: $!";
}

my @sim = read_messages("$tmp/sim.bin");
is(scalar @sim, 10000, '10000 alerts');
write_messages("$tmp/shuffled.bin", shuffle @sim);
write_messages("$tmp/first.bin",  @sim[ 0 .. 4999 ]);
write_messages("$tmp/second.bin", @sim[ 5000 .. 9999 ]);
my @other = read_messages("$tmp/other.bin");
write_messages("$tmp/bad.bin", @other[ 0 .. 499 ], read_messages("$tmp/lone.bin"), @other[ 500 .. $#other ]);
# (f): 20 good alerts and, at offsets 5, 10 and 15, a Confluent message whose
# datum is cut short, bytes of no framing, and a good alert's first half
sub framed { return pack('N', length $_[0]) . $_[0]; }
my @corrupt = (substr($other[0], 4, length($other[0]) - 14), "\x01not an alert",
	substr($other[1], 4, (length($other[1]) - 4) / 2));
write_messages("$tmp/corrupt.bin", @other[ 0 .. 4 ], framed($corrupt[0]), @other[ 5 .. 8 ],
	framed($corrupt[1]), @other[ 9 .. 12 ], framed($corrupt[2]), @other[ 13 .. 19 ]);

# ---------------------------------------------------------------- the cluster

my ($mock_in, $mock_out) = ('', '');
my $mock = IPC::Run::start(
	[ "$root/bin/antares_kafka_mock", '--topic=sim:16', '--topic=shuffled:16', '--topic=halves:16',
		'--topic=other:4', '--topic=bad:2', '--topic=corrupt:1',
		map({ "--topic=out_$_:8" } qw(reference chaos down shuffled other bad corrupt)),
		"--schema=11=$tmp/schema.json", "--schema=99=$tmp/schema.json" ],
	'<', \$mock_in, '>', \$mock_out, '2>', "$tmp/mock.log");

# The mock's next answer line (the first: the bootstrap address).
sub mock_line
{
	my $deadline = time + 120;
	while ($mock_out !~ /\n/ && time < $deadline)
	{
		$mock->pump_nb;
		sleep 0.01;
	}
	$mock_out =~ s/^(.*)\n// or die "no answer from antares_kafka_mock";
	return $1;
}

sub mock
{
	my ($command) = @_;
	$mock_in .= "$command\n";
	return mock_line();
}
my $bootstrap = mock_line();
like($bootstrap, qr/^127\.0\.0\.1:\d+$/, "the mock cluster listens at $bootstrap");
is(mock("produce sim $tmp/sim.bin"), 'ok 10000', 'the alerts produced, keyed by object');
is(mock("produce shuffled $tmp/shuffled.bin"), 'ok 10000', 'the shuffled alerts produced');
is(mock("produce other $tmp/other.bin"), 'ok 1000', "the other objects' alerts produced");
is(mock("produce bad $tmp/bad.bin"), 'ok 1001', 'the alerts with one of schema id 99 produced');

# The sum of a topic's high watermarks.
sub high
{
	my ($topic) = @_;
	my $w = mock("watermarks $topic");
	$w =~ /^ok / or die "watermarks $topic: $w";
	return sum(map { (split /:/)[2] } split / /, substr($w, 3));
}
is(high('sim'), 10000, 'all 10000 kept by the mock');
like(mock("produce sim $tmp/schema.json"), qr/^error .*message 1: length \d+ past the end of the file \(nothing sent\)$/,
	'a file that is not length-prefixed messages is refused');
is(high('sim'), 10000, 'and nothing of it sent');

# What kcat (another Kafka client) reads: every alert once, each object's
# alerts in one partition.
my ($kout, $kerr) = ('', '');
IPC::Run::run([ 'kcat', '-b', $bootstrap, '-C', '-t', 'sim', '-e', '-q', '-f', '%p %k %o\n' ],
	'>', \$kout, '2>', \$kerr);
my (%partition_of, $split, $n_read);
for (split /\n/, $kout)
{
	my ($p, $k) = split / /;
	$n_read++;
	$split++ if exists $partition_of{$k} && $partition_of{$k} != $p;
	$partition_of{$k} = $p;
}
is(($n_read // 0) . ' ' . scalar(keys %partition_of) . ' ' . ($split // 0), '10000 1000 0',
	'kcat reads the 10000 alerts, keyed by the 1000 objects, each object in one partition');

# ---------------------------------------------------------------- consumers

my %consumer_err;

# Starts a consumer of stream $stream on $topic; extra arguments after.
sub consumer
{
	my ($stream, $topic, $run, @args) = @_;
	my $log = "$tmp/$stream-$run.log";
	$consumer_err{$stream} = $log;
	return IPC::Run::start(
		[ "$root/bin/antares_stream", '--stream', $stream, '-b', $bootstrap, '-t', $topic,
			'-g', "$stream-$run", '-d', "$connstr application_name=$stream", '--batch=500', '--linger=50',
			'--progress=0', "--schema=11=$tmp/schema.json", @args ],
		'>', "$tmp/$stream-$run.out", '2>', $log);
}

sub slurp
{
	my ($file) = @_;
	open my $fh, '<', $file or return '';
	local $/;
	return <$fh>;
}

# A started process's exit status, once it ended.
sub status
{
	my ($h) = @_;
	eval { $h->finish };
	return ($h->full_results)[0] >> 8;
}

# Runs a consumer with --once to its end; its exit status.
sub drain
{
	my ($stream, $topic, $run, @args) = @_;
	return status(consumer($stream, $topic, $run, '--once', @args));
}

# Messages committed into a stream (the sum of its next offsets).
sub committed
{
	my ($stream) = @_;
	return sql("SELECT coalesce(sum(next_offset), 0) FROM $stream.offsets");
}

sub wait_for
{
	my ($what, $cond, $seconds) = @_;
	my $deadline = time + ($seconds // 60);
	sleep 0.1 until $cond->() || time > $deadline;
	ok($cond->(), $what);
}

# Everything stored that must not depend on batching, kills or the order the
# alerts arrived in.
sub snapshot
{
	my ($stream) = @_;
	return sql(qq{
SELECT (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', objid, kind, source_id, t, pb, flux, dflux, alert_id, ra, "dec"),
                                                 ';' ORDER BY objid, kind, source_id))
        FROM $stream.points),
       (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', objid, antares.lc_merge(state, recent)::text, n_obs, last_t,
                                                           features::text, class, anomaly), ';' ORDER BY objid))
        FROM $stream.objects),
       (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', filter, objid, source_id, t, n_obs, class, anomaly,
                                                           features::text), ';' ORDER BY filter, objid, source_id))
        FROM $stream.alerts)});
}

sub offsets
{
	my ($stream) = @_;
	return sql("SELECT string_agg(topic || '/' || partition || ':' || next_offset, ' ' ORDER BY topic, partition)
		FROM $stream.offsets");
}

# The output topic out_$stream as published: every alert at least once,
# the live keys exactly the alerts table's, each with its payload.
sub check_published
{
	my ($stream) = @_;
	is(mock("consume out_$stream $tmp/out_$stream.tsv") =~ s/ \d+$//r, 'ok', "out_$stream read back");
	sql(qq{COPY topic_dump (partition, "offset", key, value) FROM '$tmp/out_$stream.tsv';
		UPDATE topic_dump SET stream = '$stream' WHERE stream IS NULL});
	is(sql(qq{SELECT count(*) FROM $stream.alerts a
		WHERE NOT EXISTS (SELECT FROM topic_dump d WHERE d.stream = '$stream' AND d.key = a.key AND d.value IS NOT NULL)}),
		'0', "$stream: every alert published at least once");
	is(sql(qq{WITH live AS (
			SELECT DISTINCT ON (key) key, value::jsonb AS payload FROM topic_dump WHERE stream = '$stream'
			ORDER BY key, partition, "offset" DESC)
		SELECT (SELECT count(*) FROM live WHERE payload IS NOT NULL) || ' '
		    || (SELECT count(*) FROM $stream.alerts) || ' '
		    || (SELECT count(*) FROM (SELECT * FROM live WHERE payload IS NOT NULL) l
		        FULL JOIN $stream.alerts a USING (key)
		        WHERE l.payload IS NULL OR a.key IS NULL
		           OR (l.payload->>'n_obs')::int IS DISTINCT FROM a.n_obs
		           OR (l.payload->>'class')::int IS DISTINCT FROM a.class
		           OR (l.payload->>'anomaly')::float8 IS DISTINCT FROM a.anomaly
		           OR (l.payload->'features') IS DISTINCT FROM to_jsonb(a.features))}),
		sql("SELECT count(*) || ' ' || count(*) || ' 0' FROM $stream.alerts"),
		"$stream: the live keys are the alerts table's, each with its values");
	is(sql("SELECT count(*) FROM $stream.outbox"), '0', "$stream: the outbox is empty");
}

# The reference, and (d): stream other consuming its topic at the same time.
sql(q{SELECT make_stream('reference'); SELECT make_stream('other')});
my $t0 = time;
my $other_h = consumer('other', 'other', 1, '--once');
is(drain('reference', 'sim', 1), 0, 'the reference consumer drains the topic, exit 0');
is(status($other_h), 0, "the other stream's consumer, at the same time, exit 0")
  or diag(slurp($consumer_err{other}));
my $summary = slurp("$tmp/reference-1.log");
note sprintf('reference run: %.1f s; %s', time - $t0, $summary =~ /(alerts=.*)/ ? $1 : $summary);
like($summary, qr/\balerts=10000 rejects=0 points=70000 sent=19000 new=19000\b/,
	'its summary: 10000 alerts, 70000 points decoded (10 + 2 x 30 an object), 19000 sent and new');
my $reference = snapshot('reference');
like($reference, qr/^19000:\w+\|1000:\w+\|\d+:/, 'reference: 19000 points (10000 detections, 9000 forced), 1000 objects');
my ($alerts, $classes, $anomalous) = split /\|/, sql(q{SELECT (SELECT count(*) FROM reference.alerts),
	(SELECT count(DISTINCT class) FROM reference.objects), (SELECT count(*) FROM reference.objects WHERE anomaly < 0)});
cmp_ok($alerts, '>', 500, "$alerts alerts");
ok($classes >= 2 && $anomalous > 0, "objects of $classes classes, $anomalous anomalous: class and anomaly are set");
is(offsets('reference'), join(' ', map { "sim/$_:" . (split /:/, (split / /, substr(mock('watermarks sim'), 3))[$_])[2] } 0 .. 15),
	'its offsets are the high watermarks');
check_published('reference');

# ---------------------------------------------------------------- (d)

is(sql(q{SELECT (SELECT count(*) FROM other.points) || ' ' || (SELECT count(*) FROM other.objects) || ' '
	|| (SELECT count(*) FROM other.points WHERE objid < 100000) || ' '
	|| (SELECT count(*) FROM reference.points WHERE objid >= 100000) || ' '
	|| (SELECT count(*) FROM other.offsets WHERE topic <> 'other') || ' '
	|| (SELECT count(*) FROM reference.offsets WHERE topic <> 'sim') || ' '
	|| (SELECT count(*) FROM other.alerts a JOIN reference.alerts r USING (objid))}),
	'1900 100 0 0 0 0 0', '(d) two streams at once: each holds its own points, objects, offsets and alerts only');
check_published('other');

# ---------------------------------------------------------------- (a)

# Five runs, batches of 250, each killed (SIGKILL) at a random moment after
# it committed a batch; in the third its backends are terminated first, in the
# fourth the server restarted.  Each run has its own consumer group, so that
# it need not wait for the killed member's session to time out: the offsets
# are the stream's, not the group's.
sql(q{SELECT make_stream('chaos')});
my $kills = 0;
for my $run (1 .. 5)
{
	my $before = committed('chaos');
	my $h = consumer('chaos', 'sim', $run, '--batch=250');
	my $deadline = time + 60;
	sleep 0.05 until committed('chaos') > $before || time > $deadline;
	if ($run == 3 || $run == 4)
	{
		if ($run == 3)
		{
			my $n = sql(q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name = 'chaos'});
			is($n, 2, 'the consumer\'s backends terminated (batches, and the outbox\'s publication)');
		}
		else
		{
			$node->restart;
			note 'the server restarted';
		}
		my $at = committed('chaos');
		sleep 0.05 until committed('chaos') > $at || time > $deadline;
		ok(committed('chaos') > $at, 'the consumer reconnected and committed again');
	}
	sleep rand(0.3);
	$h->signal('KILL');
	eval { $h->finish };
	my $at = committed('chaos');
	$kills++ if $at < 10000;
	note "chaos run $run killed after $at messages committed";
}
is($kills, 5, 'five consumers killed before the end');
is(drain('chaos', 'sim', 6), 0, 'a last consumer drains the topic, exit 0') or diag(slurp($consumer_err{chaos}));
is(snapshot('chaos'), $reference,
	'(a) after five kills, a terminated backend and a server restart: the reference\'s points, objects and alerts');
is(offsets('chaos'), offsets('reference'), 'and its offsets');
check_published('chaos');

# ---------------------------------------------------------------- (b)

# One broker: down, everything waits.  The first half of the alerts is
# consumed; the broker goes down for 3 s in the middle of it; then the
# second half is produced.
sql(q{SELECT make_stream('down')});
is(mock("produce halves $tmp/first.bin"), 'ok 5000', 'the first half of the alerts produced');
my $h = consumer('down', 'halves', 1);
wait_for('the consumer committed a batch', sub { committed('down') > 0 });
is(mock('down 1'), 'ok', 'the broker goes down');
my $at_down = committed('down');
like(mock("produce halves $tmp/second.bin"), qr/^error every broker is down \(nothing sent\)$/,
	'the mock refuses to produce while the broker is down');
sleep 3;
my $at_up = committed('down');
is(mock('up 1'), 'ok', 'and up after 3 s');
note "committed: $at_down at down, $at_up after 3 s down";
cmp_ok($at_down, '<', 5000, "the broker went down mid-stream ($at_down of 5000 committed)");
wait_for('the consumer resumes: the first half committed', sub { committed('down') == 5000 });
is(mock("produce halves $tmp/second.bin"), 'ok 5000', 'the second half produced');
wait_for('and the second half committed', sub { committed('down') == 10000 });
wait_for('and the outbox published', sub { sql('SELECT count(*) FROM down.outbox') == 0 });
$h->signal('TERM');
is(status($h), 0, 'SIGTERM: exit 0') or diag(slurp($consumer_err{down}));
is(snapshot('down'), $reference, '(b) broker down mid-stream: nothing lost, the reference state');
check_published('down');

# ---------------------------------------------------------------- (c)

sql(q{SELECT make_stream('shuffled')});
is(drain('shuffled', 'shuffled', 1, '--batch=200'), 0, 'the shuffled alerts consumed, exit 0');
is(sql(q{SELECT count(*) || ' ' || count(*) FILTER (WHERE o.features::text IS DISTINCT FROM p.f::text)
	FROM shuffled.objects o FULL JOIN
	     (SELECT objid, antares.lc_features(pb, flux, dflux) AS f FROM shuffled.points
	      WHERE kind IN ('detection', 'forced') GROUP BY objid) p USING (objid)}),
	'1000 0', '(c) out of time order: every object\'s features are lc_features over its detections and forced points');
is(snapshot('shuffled'), snapshot('reference'),
	'and the points, objects and alerts are the reference\'s');
ok(sql('SELECT count(*) FROM shuffled.batches') > 1, 'in ' . sql('SELECT count(*) FROM shuffled.batches') . ' batches');
check_published('shuffled');

# ---------------------------------------------------------------- (e)

# bad holds the 1000 alerts of the other objects with, after the 500th, one
# alert (object 777777) of schema id 99, which the consumer is not given.
is(mock("consume bad $tmp/bad.tsv"), 'ok 1001', 'the topic read back');
my ($bad_partition, $bad_offset);
for (split /\n/, slurp("$tmp/bad.tsv"))
{
	my ($p, $o, $k) = split /\t/;
	($bad_partition, $bad_offset) = ($p, $o) if $k eq '777777';
}
sql(q{SELECT make_stream('bad')});
for my $run (1, 2)
{
	is(drain('bad', 'bad', $run), 2, "run $run: an unknown schema id, exit 2");
	like(slurp($consumer_err{bad}), qr/\b99\b/, 'the message names the id');
	is(sql("SELECT next_offset FROM bad.offsets WHERE partition = $bad_partition"), $bad_offset,
		"partition $bad_partition committed up to the message, offset $bad_offset, not past it");
	is(sql('SELECT count(*) FROM bad.points WHERE objid = 777777'), '0', 'its point not stored');
}
is(drain('bad', 'bad', 3, "--schema=99=$tmp/schema.json"), 0, 'with the schema given, the rest consumed, exit 0')
  or diag(slurp($consumer_err{bad}));
is(sql(q{SELECT count(*) FROM bad.points}) . ' ' . committed('bad'), '1901 1001', 'every point stored, every message committed');

# ---------------------------------------------------------------- (f)

# Corrupt packets are kept in the stream's rejects, in their batch's
# transaction, and the consumer goes on: batches of 4, so rejects fall in
# batches of good alerts and in batches of their own.
is(mock("produce corrupt $tmp/corrupt.bin key=none"), 'ok 23', 'good alerts and three corrupt packets produced');
sql(q{SELECT make_stream('corrupt')});
is(drain('corrupt', 'corrupt', 1, '--batch=4'), 0, 'the consumer goes past them, exit 0')
  or diag(slurp($consumer_err{corrupt}));
is(committed('corrupt'), '23', 'every message committed');
like(slurp($consumer_err{corrupt}), qr/\brejects=3\b/, 'its summary counts three rejects');
my $rejects = sql(q{SELECT string_agg("offset" || ':' || md5(packet), ' ' ORDER BY "offset") FROM corrupt.rejects});
is($rejects, join(' ', map { (5, 10, 15)[$_] . ':' . md5_hex($corrupt[$_]) } 0 .. 2),
	'the rejects at offsets 5, 10 and 15, each with its packet\'s bytes');
like(sql(q{SELECT string_agg(error, ' | ' ORDER BY "offset") FROM corrupt.rejects}),
	qr/^corrupt packet: .* \| bad writer schema: a bare message needs a writer schema .* \| corrupt packet: /,
	'each with the decoder\'s error');
is(sql(q{SELECT count(DISTINCT alert_id) FROM corrupt.points}), '20', 'the 20 good alerts\' points stored');

$mock_in .= "quit\n";
is(status($mock), 0, 'the mock cluster exits 0');
$node->stop;
done_testing();
