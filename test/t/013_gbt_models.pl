
# Gradient-boosted models as values, and training that can be cancelled.
#
# Models are trained, stored in a table and used for predictions and
# probabilities; the database goes through pg_dump (custom format) and
# pg_restore, a plain dump replayed with psql, and a binary COPY of the models
# table (the send/receive functions): the restored models are the same values
# and give the same predictions and probabilities, to the last digit.
#
# Then cancellation: gbt_train runs XGBoost one boosting round at a time,
# with every signal blocked in its threads, and calls CHECK_FOR_INTERRUPTS
# between rounds.  A round of 100,000 rows x 23 features x 4 classes takes
# ~0.01-0.4 s on two cores; 1000 rounds take minutes.  With
# statement_timeout = 1s the query must fail with the timeout within a second
# of it firing, and the same session must still train and predict afterwards
# (the XGBoost handles of the cancelled training freed, its threads idle).
#
# Run with make prove_installcheck (see 001_parallel_features.pl).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use AntaresTest;
use PostgreSQL::Test::Cluster;
use Test::More;
use Time::HiRes qw(time);

my $node = antares_node('gbt_models', "work_mem = '512MB'\n");

create_points($node);
$node->safe_psql(
	'postgres', q{
CREATE TABLE models (name text PRIMARY KEY, gm antares.gbt_model);
INSERT INTO models
SELECT 'defaults', antares.gbt_train(x, y) FROM pts
UNION ALL
SELECT 'params', antares.gbt_train(x, y, '{"n_trees": 30, "max_depth": 3, "subsample": 0.7, "seed": 7}') FROM pts
UNION ALL
SELECT 'binary', antares.gbt_train(x, y % 2) FROM pts;
});

# extra_float_digits = 3 (psql's default is 1): every bit of a probability shows.
my $outputs = q{
SET extra_float_digits = 3;
SELECT name, id, antares.gbt_predict(gm, x), antares.gbt_predict_proba(gm, x)::text,
       md5(gm::text), antares.gbt_info(gm)::text
FROM models, pts ORDER BY name, id};
my $before = $node->safe_psql('postgres', $outputs);
is(scalar(split /\n/, $before), 1800, 'three models predict 600 rows each');
check_round_trips($node, $outputs, $before, 'gm');

$node->safe_psql(
	'postgres', q{
CREATE TABLE big AS
SELECT i, ARRAY(SELECT sin(i * j) + (i % 4) * 0.1 FROM generate_series(1, 23) j) AS x, i % 4 AS y
FROM generate_series(1, 100000) i;
VACUUM ANALYZE big;
});

my $query = q{SELECT antares.gbt_train(x, y, '{"n_trees": 1000}') IS NOT NULL FROM big};
my ($elapsed, $stderr) = timed_statement($node, '1s', $query);
note sprintf('cancelled after %.2f s (timeout 1 s)', $elapsed);
like($stderr, qr/canceling statement due to statement timeout/, 'the training fails with the timeout');
cmp_ok($elapsed, '<', 2.0, 'and stops within a second of it');

# one session: cancelled, then training and predicting again
my ($stdout, $stderr2);
$node->psql(
	'postgres', qq{
SET statement_timeout = '1s';
$query;
RESET statement_timeout;
SELECT antares.gbt_predict(m, x) IS NOT NULL
FROM (SELECT antares.gbt_train(x, y, '{"n_trees": 5}') AS m FROM big WHERE i <= 1000) s, big WHERE i = 1;
},
	stdout => \$stdout,
	stderr => \$stderr2,
	on_error_stop => 0);
like($stderr2, qr/canceling statement due to statement timeout/, 'cancelled again');
is($stdout, 't', 'and the same session then trains and predicts');

$node->stop;
done_testing();
