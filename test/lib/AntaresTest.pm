# What the TAP tests in test/t share: a started server with the extension,
# the model tests' small training set,
# the round trip of a models table through every dump and copy format, a
# large noise table, and a statement timed under statement_timeout.  A test
# loads it with
#   use FindBin;
#   use lib "$FindBin::RealBin/../lib";
#   use AntaresTest;

package AntaresTest;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

our @EXPORT = qw(antares_node create_points check_round_trips create_noise timed_statement stream_models_sql);

# A new server $name with log_statement = none and the settings $conf
# (postgresql.conf lines), started, with CREATE EXTENSION antares done in
# database postgres.
sub antares_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', "log_statement = none\n" . ($conf // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION antares');
	return $node;
}

# SQL making table `models` (svm, forest): an SVM (C = 1, gamma = 0.1) and a
# 50-tree isolation forest (seed 3) on the DSFP features of the first 300
# objects of table $table (objid, pb, flux, dflux, label): the stream tests'
# models, deterministic.
sub stream_models_sql
{
	my ($table) = @_;
	return qq{
CREATE TABLE models AS
SELECT antares.svm_train(x, label, 1, 0.1 ORDER BY o) AS svm, antares.iforest_train(x, 50, 256, 3) AS forest
FROM (SELECT objid AS o, antares.feature_vector(antares.lc_features(pb, flux, dflux)) AS x, min(label) AS label
      FROM $table WHERE objid <= 300 GROUP BY objid) f;
};
}

# Table pts (id, x float8[], y int) in database $db (default postgres): 600
# rows, 5 dimensions, three overlapping classes (and a fourth for every
# seventh row), deterministic.
sub create_points
{
	my ($node, $db) = @_;
	$node->safe_psql(
		$db // 'postgres', q{
CREATE TABLE pts AS
SELECT g AS id,
       ARRAY[sin(g), cos(1.3 * g), sin(0.7 * g) * 2, (g % 17) / 17.0, cos(g) * sin(0.3 * g)]::float8[] AS x,
       (g % 3) + CASE WHEN g % 7 = 0 THEN 1 ELSE 0 END AS y
FROM generate_series(1, 600) g;
});
}

# The table `models` (name text PRIMARY KEY, model columns @columns) goes
# through pg_dump -Fc and pg_restore, a plain dump replayed with psql (the
# text forms), and binary COPY (send and receive); after each, the query
# $outputs must print exactly what it printed before ($before), and after
# the binary COPY every model's text form is unchanged.
sub check_round_trips
{
	my ($node, $outputs, $before, @columns) = @_;
	my $dir = $node->basedir;
	my $n_models = $node->safe_psql('postgres', 'SELECT count(*) FROM models');

	command_ok([ 'pg_dump', '-Fc', '-f', "$dir/models.dump", '-d', $node->connstr('postgres') ],
		'pg_dump of the database with models');
	$node->safe_psql('postgres', 'CREATE DATABASE restored');
	command_ok([ 'pg_restore', '-d', $node->connstr('restored'), "$dir/models.dump" ],
		'pg_restore into another database');
	is($node->safe_psql('restored', $outputs), $before, 'restored models give the same outputs');

	command_ok([ 'pg_dump', '-f', "$dir/models.sql", '-d', $node->connstr('postgres') ],
		'pg_dump, plain format');
	$node->safe_psql('postgres', 'CREATE DATABASE replayed');
	command_ok(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', "$dir/models.sql", '-d',
			$node->connstr('replayed') ],
		'the plain dump replays');
	is($node->safe_psql('replayed', $outputs), $before, 'replayed models give the same outputs');

	$node->safe_psql('postgres', "COPY models TO '$dir/models.bin' WITH (FORMAT binary)");
	$node->safe_psql('postgres', 'CREATE TABLE models_bin (LIKE models)');
	$node->safe_psql('postgres', "COPY models_bin FROM '$dir/models.bin' WITH (FORMAT binary)");
	my $same = join(' AND ', map { "a.$_\::text = b.$_\::text" } @columns);
	is($node->safe_psql('postgres', "SELECT count(*) FROM models a JOIN models_bin b USING (name) WHERE $same"),
		$n_models, 'binary COPY round trip gives the same models');
}

# Table noise (id, x float8[] of 23 uniform values, y in 0..2): $rows rows of
# random noise, the same for the same $rows.
sub create_noise
{
	my ($node, $rows) = @_;
	$node->safe_psql(
		'postgres', qq{
SELECT setseed(0.25);
CREATE TABLE noise AS
SELECT g AS id, (SELECT array_agg(random()) FROM generate_series(1, 23) WHERE g > 0) AS x,
       floor(random() * 3)::int AS y
FROM generate_series(1, $rows) g;
});
}

# Runs $query under statement_timeout = $timeout; returns the seconds it
# took and its stderr.
sub timed_statement
{
	my ($node, $timeout, $query) = @_;
	my ($stdout, $stderr);
	my $start = time;
	$node->psql(
		'postgres',
		"SET statement_timeout = '$timeout'; $query",
		stdout => \$stdout,
		stderr => \$stderr);
	return (time - $start, $stderr);
}

1;
