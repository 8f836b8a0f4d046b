# Sharding with PostgreSQL's own tools: a coordinator whose photometry table
# is hash-partitioned by objid into foreign partitions (postgres_fdw) on two
# shard servers, all on loopback, antares installed on each.
#
# With the server option extensions 'antares', postgres_fdw may ship
# antares' functions and aggregates; with enable_partitionwise_aggregate a
# GROUP BY that contains the partition key (objid) is done per partition,
# i.e. on the shard, and async_capable lets the coordinator wait on both
# shards at once.  The test proves, with EXPLAIN VERBOSE, that lc_features,
# gp_smooth, svm_predict and iforest_decision (models trained on the
# coordinator, shipped as literals in the Remote SQL) run inside each
# shard's Remote SQL of an Async Foreign Scan, and that every result equals,
# as text, the same query on one server holding all the rows.  Aggregates
# whose groups span shards cannot be pushed down (postgres_fdw in
# PostgreSQL 15 ships no partial aggregates): a model trained over all
# objects, or features grouped by band only, fetch their input rows to the
# coordinator; the test checks those plans and that the results are still
# those of one server.
#
# Run with make prove_installcheck (see 001_parallel_features.pl); needs
# postgres_fdw (contrib, shipped with the server).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use AntaresTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $n_objects = 600;

my %node;
for my $name (qw(coordinator shard1 shard2))
{
	# shards answer on loopback TCP; trust authentication (initdb -A trust in the tests)
	$node{$name} = antares_node($name, "listen_addresses = '127.0.0.1'\nwork_mem = '64MB'\n");
}
my $coord = $node{coordinator};

# The shards' tables, and on the coordinator the partitioned table over them.
for my $shard (qw(shard1 shard2))
{
	$node{$shard}->safe_psql('postgres',
		'CREATE TABLE phot_shard (objid bigint, t float8, pb text, flux float8, dflux float8, label int)');
}
$coord->safe_psql('postgres', 'CREATE EXTENSION postgres_fdw');
for my $shard (qw(shard1 shard2))
{
	my $port = $node{$shard}->port;
	$coord->safe_psql(
		'postgres', qq{
CREATE SERVER $shard FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host '127.0.0.1', port '$port', dbname 'postgres',
           extensions 'antares', async_capable 'true', batch_size '1000', fetch_size '10000');
CREATE USER MAPPING FOR CURRENT_USER SERVER $shard;
});
}
$coord->safe_psql(
	'postgres', q{
CREATE TABLE phot (objid bigint, t float8, pb text, flux float8, dflux float8, label int)
  PARTITION BY HASH (objid);
CREATE FOREIGN TABLE phot_1 PARTITION OF phot FOR VALUES WITH (MODULUS 2, REMAINDER 0)
  SERVER shard1 OPTIONS (schema_name 'public', table_name 'phot_shard');
CREATE FOREIGN TABLE phot_2 PARTITION OF phot FOR VALUES WITH (MODULUS 2, REMAINDER 1)
  SERVER shard2 OPTIONS (schema_name 'public', table_name 'phot_shard');
});

# One server's copy (the reference), and the same rows routed to the shards.
$coord->safe_psql(
	'postgres', qq{
CREATE TABLE phot_local AS SELECT * FROM antares.simulate_survey($n_objects, 8);
INSERT INTO phot SELECT * FROM phot_local;
ANALYZE phot_local;
});
$node{$_}->safe_psql('postgres', 'ANALYZE phot_shard') for qw(shard1 shard2);
$coord->safe_psql('postgres', 'ANALYZE phot');

my $rows = $coord->safe_psql('postgres', 'SELECT count(*) FROM phot_local');
my $s1 = $node{shard1}->safe_psql('postgres', 'SELECT count(*), count(DISTINCT objid) FROM phot_shard');
my $s2 = $node{shard2}->safe_psql('postgres', 'SELECT count(*), count(DISTINCT objid) FROM phot_shard');
my ($r1, $o1) = split /\|/, $s1;
my ($r2, $o2) = split /\|/, $s2;
ok($r1 > 0 && $r2 > 0 && $r1 + $r2 == $rows && $o1 + $o2 == $n_objects,
	"rows split between the shards by objid: $s1 and $s2 of $rows rows, $n_objects objects");

# Models trained on the coordinator on the first 300 objects' DSFP features,
# with the simulated labels; used on the shards as literals.
$coord->safe_psql(
	'postgres', q{
CREATE TABLE models AS
SELECT antares.svm_train(x, label, 1, 0.1 ORDER BY objid) AS svm, antares.iforest_train(x, 50, 256, 1) AS forest
FROM (SELECT objid, min(label) AS label, antares.feature_vector(antares.lc_features(pb, flux, dflux)) AS x
      FROM phot_local WHERE objid <= 300 GROUP BY objid) f;
});
my $svm    = $coord->safe_psql('postgres', 'SELECT svm FROM models');
my $forest = $coord->safe_psql('postgres', 'SELECT forest FROM models');
like($svm, qr{^svm/1:}, 'the SVM model as text');

my $sharded = q{
SET enable_partitionwise_aggregate = on;
SET max_parallel_workers_per_gather = 0;
};

# Queries over TABLE; each must run on the shards and equal one server's result.
my %queries = (
	'lc_features' =>
	  'SELECT objid, antares.lc_features(pb, flux, dflux)::text FROM TABLE GROUP BY objid',
	'gp_smooth' =>
	  'SELECT objid, pb, antares.gp_smooth(t, flux, dflux, 50)::text FROM TABLE GROUP BY objid, pb',
	'svm_predict' =>
	  "SELECT objid, antares.svm_predict('$svm'::antares.svm_model, "
	  . 'antares.feature_vector(antares.lc_features(pb, flux, dflux))) FROM TABLE GROUP BY objid',
	'iforest_decision' =>
	  "SELECT objid, antares.iforest_decision('$forest'::antares.iforest_model, "
	  . 'antares.feature_vector(antares.lc_features(pb, flux, dflux))) FROM TABLE GROUP BY objid');
my %function = (
	lc_features      => 'antares.lc_features',
	gp_smooth        => 'antares.gp_smooth',
	svm_predict      => 'antares.svm_predict',
	iforest_decision => 'antares.iforest_decision');

for my $name (sort keys %queries)
{
	(my $on_shards = $queries{$name}) =~ s/TABLE/phot/;
	(my $on_one    = $queries{$name}) =~ s/TABLE/phot_local/;
	my $plan = $coord->safe_psql('postgres', "$sharded EXPLAIN (VERBOSE, COSTS OFF) $on_shards");
	my @remote = $plan =~ /Remote SQL: (.*)$/mg;
	my @async  = $plan =~ /Async Foreign Scan/g;
	is(scalar(@remote), 2, "$name: one Remote SQL per shard");
	is(scalar(@async),  2, "$name: both shards scanned asynchronously");
	my $f = quotemeta $function{$name};
	is(scalar(grep { /$f\(/ && /GROUP BY/ } @remote),
		2, "$name: $function{$name} and the GROUP BY inside each Remote SQL");
	unlike($plan, qr/^\s*(?:->\s*)?(?:Partial |Finalize )?(?:Hash|Group|Mixed)?Aggregate\b/m,
		"$name: no aggregation on the coordinator");
	if ($name eq 'svm_predict' || $name eq 'iforest_decision')
	{
		my $kind = $name eq 'svm_predict' ? 'svm' : 'iforest';
		is(scalar(grep { /'$kind\/1:[A-Za-z0-9+\/=]+'::antares\.${kind}_model/ } @remote),
			2, "$name: the coordinator's model is shipped as a literal");
	}
	note("EXPLAIN VERBOSE of the $name query:\n$plan") if $name eq 'lc_features';
	my $result    = $coord->safe_psql('postgres', "$sharded $on_shards ORDER BY 1, 2");
	my $reference = $coord->safe_psql('postgres', "$on_one ORDER BY 1, 2");
	my $groups = () = $reference =~ /\n/g;
	ok(length($reference) > 0 && $groups + 1 >= $n_objects, "$name: " . ($groups + 1) . ' groups');
	is($result, $reference, "$name: the sharded result equals one server's, as text");
}

# A model given as a subquery ships as a parameter of the Remote SQL instead.
{
	my $q = q{SELECT objid, antares.svm_predict((SELECT svm FROM models),
	  antares.feature_vector(antares.lc_features(pb, flux, dflux))) FROM %s GROUP BY objid ORDER BY objid};
	my $plan = $coord->safe_psql('postgres', "$sharded EXPLAIN (VERBOSE, COSTS OFF) " . sprintf($q, 'phot'));
	is(scalar(() = $plan =~ /Remote SQL: .*antares\.svm_predict\(\$1::antares\.svm_model/mg),
		2, 'a model from a subquery is sent as a parameter ($1) of each Remote SQL');
	is($coord->safe_psql('postgres', "$sharded " . sprintf($q, 'phot')),
		$coord->safe_psql('postgres', sprintf($q, 'phot_local')),
		'and gives the same classes');
}

# What cannot be pushed down: groups that span shards.  The rows come to the
# coordinator, which aggregates; the results are still one server's.
{
	my $train = q{SELECT antares.iforest_train(x, 50, 256, 1)::text FROM
	  (SELECT objid, antares.feature_vector(antares.lc_features(pb, flux, dflux)) AS x FROM %s GROUP BY objid) f};
	my $plan = $coord->safe_psql('postgres', "$sharded EXPLAIN (VERBOSE, COSTS OFF) " . sprintf($train, 'phot'));
	my @remote = $plan =~ /Remote SQL: (.*)$/mg;
	is(scalar(grep { /antares\.lc_features\(/ && !/iforest_train/ } @remote),
		2, 'training over all objects: the features are computed on the shards (Remote SQL) ...');
	like($plan, qr/^Aggregate\n\s*Output: \(?antares\.iforest_train\(/,
		'... and the training aggregate runs on the coordinator');
	is($coord->safe_psql('postgres', "$sharded " . sprintf($train, 'phot')),
		$coord->safe_psql('postgres', sprintf($train, 'phot_local')),
		'the model trained from the shards equals the one-server model');

	my $by_band = q{SELECT pb, antares.weighted_mean(flux, dflux)::text, antares.mad(flux)::text
	  FROM %s GROUP BY pb ORDER BY pb};
	$plan = $coord->safe_psql('postgres', "$sharded EXPLAIN (VERBOSE, COSTS OFF) " . sprintf($by_band, 'phot'));
	@remote = $plan =~ /Remote SQL: (.*)$/mg;
	is(scalar(grep { !/antares\./ && !/GROUP BY/ } @remote),
		2, 'GROUP BY pb (not the partition key): each shard only sends its rows ...');
	like($plan, qr/(Hash|Group)Aggregate/, '... and the coordinator aggregates');
	is($coord->safe_psql('postgres', "$sharded " . sprintf($by_band, 'phot')),
		$coord->safe_psql('postgres', sprintf($by_band, 'phot_local')),
		'with the one-server result');
}

$_->stop for values %node;
done_testing();
