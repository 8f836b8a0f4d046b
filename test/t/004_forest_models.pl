# Isolation-forest and random-forest models as values, and training that
# can be cancelled.
#
# Models are trained, stored in a table and used for scores, predictions and
# probabilities; the database is dumped with pg_dump (custom format) and
# restored into another database with pg_restore, a plain dump is replayed
# with psql, and a binary COPY of the models table is read back (the
# send/receive functions): the restored models are the same values and give
# the same scores, predictions and probabilities, to the last digit.  Then
# training sets that take many seconds are trained under statement_timeout:
# training stops within a second of the timeout.
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

my $node = antares_node('forest');

create_points($node);
$node->safe_psql(
	'postgres', q{
CREATE TABLE models (name text PRIMARY KEY, im antares.iforest_model, rm antares.rf_model);
INSERT INTO models
SELECT 'defaults', antares.iforest_train(x), antares.rf_train(x, y) FROM pts
UNION ALL
SELECT 'params', antares.iforest_train(x, 300, 64, 7),
       antares.rf_train(x, y, 30, 2, 6, 3, 7) FROM pts;
});

# extra_float_digits = 3 (psql's default is 1): every bit of a score shows.
my $outputs = q{
SET extra_float_digits = 3;
SELECT name, id, antares.iforest_score(im, x), antares.iforest_decision(im, x),
       antares.rf_predict(rm, x), antares.rf_predict_proba(rm, x)::text,
       md5(im::text), md5(rm::text), antares.iforest_info(im)::text, antares.rf_info(rm)::text
FROM models, pts ORDER BY name, id};
my $before = $node->safe_psql('postgres', $outputs);
is(scalar(split /\n/, $before), 1200, 'two pairs of models score and predict 600 rows each');
like($node->safe_psql('postgres', q{SELECT count(DISTINCT antares.rf_predict(rm, x)) FROM models, pts
  WHERE name = 'defaults'}), qr/^[34]$/, 'the random forest predicts several classes');

check_round_trips($node, $outputs, $before, 'im', 'rm');

# Cancellation.  100,000 rows of noise in 23 dimensions, three random
# classes: every random-forest tree grows to ~100,000 nodes, and training
# takes far longer than the timeouts below; so does an isolation forest of
# 100,000 trees.
create_noise($node, 100000);

my $rf = 'SELECT antares.rf_train(x, y) IS NOT NULL FROM noise';
my $iforest = 'SELECT antares.iforest_train(x, 100000, 256, 1) IS NOT NULL FROM noise';

# Training outlasts a 4 s timeout...
my ($elapsed, $stderr) = timed_statement($node, '4s', $rf);
like($stderr, qr/canceling statement due to statement timeout/,
	'rf training of 100,000 rows is still running after 4 s: cancelled by the timeout');
# ...and a 1 s timeout stops it within a second.
($elapsed, $stderr) = timed_statement($node, '1s', $rf);
like($stderr, qr/canceling statement due to statement timeout/, 'statement_timeout = 1s cancels rf training');
cmp_ok($elapsed, '<', 2.0,
	sprintf('rf training stopped within 1 s of the timeout (statement took %.2f s)', $elapsed));
($elapsed, $stderr) = timed_statement($node, '1s', $iforest);
like($stderr, qr/canceling statement due to statement timeout/,
	'statement_timeout = 1s cancels isolation-forest training');
cmp_ok($elapsed, '<', 2.0,
	sprintf('isolation-forest training stopped within 1 s of the timeout (statement took %.2f s)', $elapsed));
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is fine afterwards');

$node->stop;
done_testing();
