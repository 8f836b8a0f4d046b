
# SVM models as values, and training that can be cancelled.
#
# Models are trained, stored in a table and used for predictions; the
# database is dumped with pg_dump (custom format) and restored into another
# database with pg_restore, and a binary COPY of the models table is read
# back (the send/receive functions): the restored models are the same values
# and predict the same classes and decision values.  Then a training set that
# takes many seconds is trained under statement_timeout: training stops
# within a second of the timeout.
#
# Needs the extension installed (make install), then, as a non-root user:
#   make prove_installcheck

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('svm');
$node->init;
$node->append_conf('postgresql.conf', "log_statement = none\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION antares');

# Three overlapping classes in 5 dimensions, deterministic.
$node->safe_psql(
	'postgres', q{
CREATE TABLE pts AS
SELECT g AS id,
       ARRAY[sin(g), cos(1.3 * g), sin(0.7 * g) * 2, (g % 17) / 17.0, cos(g) * sin(0.3 * g)]::float8[] AS x,
       (g % 3) + CASE WHEN g % 7 = 0 THEN 1 ELSE 0 END AS y
FROM generate_series(1, 600) g;
CREATE TABLE models (name text PRIMARY KEY, m antares.svm_model);
INSERT INTO models
SELECT 'c1_gamma05', antares.svm_train(x, y, 1, 0.5 ORDER BY id) FROM pts
UNION ALL
SELECT 'c10_scale', antares.svm_train(x, y, 10 ORDER BY id) FROM pts
UNION ALL
SELECT 'binary', antares.svm_train(x, (y > 1)::int ORDER BY id) FROM pts;
});

my $predictions = q{
SELECT name, id, antares.svm_predict(m, x), antares.svm_decision(m, x)::text,
       md5(m::text), antares.svm_info(m)::text
FROM models, pts ORDER BY name, id};
my $before = $node->safe_psql('postgres', $predictions);
is(scalar(split /\n/, $before), 1800, 'three models predict 600 rows each');
like($node->safe_psql('postgres', q{SELECT count(DISTINCT svm_predict) FROM
  (SELECT antares.svm_predict(m, x) FROM models, pts WHERE name = 'c1_gamma05') s}),
	qr/^[34]$/, 'the multi-class model predicts several classes');

# pg_dump / pg_restore into another database.
my $dump = $node->basedir . '/svm.dump';
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump of the database with models');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ],
	'pg_restore into another database');
is($node->safe_psql('restored', $predictions),
	$before, 'restored models: same values, same predictions and decision values');

# A plain SQL dump replayed with psql (the text form through COPY ... FROM stdin).
my $sql = $node->basedir . '/svm.sql';
command_ok([ 'pg_dump', '-f', $sql, '-d', $node->connstr('postgres') ], 'pg_dump, plain format');
$node->safe_psql('postgres', 'CREATE DATABASE replayed');
command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $sql, '-d', $node->connstr('replayed') ],
	'the plain dump replays');
is($node->safe_psql('replayed', $predictions), $before, 'replayed models predict the same');

# Binary COPY: svm_model_send / svm_model_recv.
my $bin = $node->basedir . '/models.bin';
$node->safe_psql('postgres', "COPY models TO '$bin' WITH (FORMAT binary)");
$node->safe_psql('postgres', q{CREATE TABLE models_bin (LIKE models)});
$node->safe_psql('postgres', "COPY models_bin FROM '$bin' WITH (FORMAT binary)");
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM models a JOIN models_bin b USING (name)
                      WHERE a.m::text = b.m::text}),
	'3', 'binary COPY round trip gives the same models');

# Cancellation.  40,000 rows of noise in 23 dimensions, three random classes:
# a pair has ~26,700 rows, most of them support vectors, and training takes
# far longer than the timeouts below.
$node->safe_psql(
	'postgres', q{
SELECT setseed(0.25);
CREATE TABLE noise AS
SELECT g AS id, (SELECT array_agg(random()) FROM generate_series(1, 23) WHERE g > 0) AS x,
       floor(random() * 3)::int AS y
FROM generate_series(1, 40000) g;
});

sub timed_training
{
	my ($timeout) = @_;
	my ($stdout, $stderr);
	my $start = time;
	$node->psql(
		'postgres',
		"SET statement_timeout = '$timeout'; SELECT antares.svm_train(x, y, 1, 0.1) IS NOT NULL FROM noise",
		stdout => \$stdout,
		stderr => \$stderr);
	return (time - $start, $stderr);
}

# The training outlasts a 4 s timeout...
my ($elapsed, $stderr) = timed_training('4s');
like($stderr, qr/canceling statement due to statement timeout/,
	'training 40,000 rows is still running after 4 s: cancelled by the timeout');
# ...and a 1 s timeout stops it within a second.
($elapsed, $stderr) = timed_training('1s');
like($stderr, qr/canceling statement due to statement timeout/,
	'statement_timeout = 1s cancels training');
cmp_ok($elapsed, '<', 2.0,
	sprintf('training stopped within 1 s of the timeout (statement took %.2f s)', $elapsed));
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is fine afterwards');

$node->stop;
done_testing();
