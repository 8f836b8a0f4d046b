
# SVM models as values, and training that can be cancelled.
#
# Models are trained, stored in a table and used for predictions; the
# database is dumped with pg_dump (custom format) and restored into another
# database with pg_restore, and a binary COPY of the models table is read
# back (the send/receive functions): the restored models are the same values
# and predict the same classes and decision values.  Then a training set that
# takes many seconds is trained under statement_timeout: training stops
# within a second of the timeout.  Last, svm_info of a model with thousands
# of classes stays small and quick.
#
# Needs the extension installed (make install), then, as a non-root user:
#   make prove_installcheck

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use AntaresTest;
use PostgreSQL::Test::Cluster;
use Test::More;

my $node = antares_node('svm');

create_points($node);
$node->safe_psql(
	'postgres', q{
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

check_round_trips($node, $predictions, $before, 'm');

# Cancellation.  40,000 rows of noise in 23 dimensions, three random classes:
# a pair has ~26,700 rows, most of them support vectors, and training takes
# far longer than the timeouts below.
create_noise($node, 40000);
my $training = 'SELECT antares.svm_train(x, y, 1, 0.1) IS NOT NULL FROM noise';

# The training outlasts a 4 s timeout...
my ($elapsed, $stderr) = timed_statement($node, '4s', $training);
like($stderr, qr/canceling statement due to statement timeout/,
	'training 40,000 rows is still running after 4 s: cancelled by the timeout');
# ...and a 1 s timeout stops it within a second.
($elapsed, $stderr) = timed_statement($node, '1s', $training);
like($stderr, qr/canceling statement due to statement timeout/,
	'statement_timeout = 1s cancels training');
cmp_ok($elapsed, '<', 2.0,
	sprintf('training stopped within 1 s of the timeout (statement took %.2f s)', $elapsed));
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is fine afterwards');

# svm_info of a model with 2,000 one-row classes (1,999,000 pairs): totals
# instead of per-pair detail, so it stays small and quick (its detail was
# ~100 MB of JSON, gigabytes of jsonb, and no cancel for many seconds).
$node->safe_psql('postgres', q{
CREATE TABLE many_classes AS
SELECT antares.svm_train(ARRAY[i::float8], i) AS m FROM generate_series(1, 2000) i});
($elapsed, $stderr) = timed_statement($node, '3s',
	'SELECT length(antares.svm_info(m)::text) FROM many_classes');
is($stderr, '', 'svm_info of 2,000 classes finishes within a 3 s statement_timeout');
is($node->safe_psql('postgres', q{
SELECT info -> 'n_pairs', info -> 'pair_detail', info ? 'rho', length(info::text) < 40000
FROM (SELECT antares.svm_info(m) AS info FROM many_classes) s}),
	'1999000|false|f|t', 'svm_info of 2,000 classes gives totals, not 1,999,000 pairs');

$node->stop;
done_testing();
