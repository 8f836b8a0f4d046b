
# Parallel aggregation of light-curve features.
#
# lc_features and the single-band aggregates buffer observations in an internal
# state with combine, serialize and deserialize functions, so the planner can
# split them into Partial and Finalize steps across parallel workers.  This test
# builds 1.2 million photometry rows, checks that the plans really are parallel
# (both the hash- and the sort-based strategy), that workers are launched, and
# that parallel results are bit-identical to serial ones; it also checks the
# weighted mean against plain SQL.
#
# Needs the extension installed (make install), then, as a non-root user:
#   make prove_installcheck
# or
#   prove -I $(dirname $(pg_config --pgxs))/../../src/test/perl test/t/001_parallel_features.pl
# with PG_REGRESS set to pgxs/src/test/regress/pg_regress and the server
# binaries first on PATH.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use AntaresTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = antares_node(
	'parallel_features', q{
max_worker_processes = 8
max_parallel_workers = 8
work_mem = '256MB'
shared_buffers = '256MB'
});

# 5000 objects x 6 bands x 40 observations, interleaved so that every worker
# sees part of every group.  Fluxes: a per-object offset (negative for about a
# third of the objects) plus a deterministic oscillation, so many fluxes and
# some band means are negative; uncertainties in [0.5, 3).
my $nobj  = 5000;
my $nrows = 1_200_000;
$node->safe_psql(
	'postgres', qq{
CREATE TABLE phot AS
SELECT (g % $nobj) + 1 AS objid,
       (ARRAY['u','g','r','i','z','y'])[1 + (g / $nobj) % 6] AS pb,
       ((g % $nobj) % 37 - 12) + 40 * sin(g * 0.001 + (g % $nobj))
           * cos((g % 97) * 0.25) AS flux,
       0.5 + ((g::bigint * 7919) % 1000) / 400.0 AS dflux
FROM generate_series(0, $nrows - 1) g;
ANALYZE phot;
});

is( $node->safe_psql(
		'postgres',
		'SELECT count(*), count(DISTINCT objid), count(DISTINCT pb), '
		  . 'count(*) FILTER (WHERE flux < 0) > 100000 FROM phot'),
	"$nrows|$nobj|6|t",
	'photometry table: rows, objects, bands, negative fluxes');

my $parallel = q{
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET min_parallel_index_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = on;
};
my $serial = q{
SET max_parallel_workers_per_gather = 0;
};

my $features_query =
  'SELECT objid, antares.lc_features(pb, flux, dflux)::text AS f '
  . 'FROM phot GROUP BY objid';
my $bands_query =
  'SELECT objid, pb, count(*) AS n, '
  . 'antares.weighted_mean(flux, dflux)::text AS mean, '
  . 'antares.norm_std(flux, dflux)::text AS std, '
  . 'antares.norm_amplitude(flux, dflux)::text AS amp, '
  . 'antares.mad(flux)::text AS mad, '
  . 'antares.beyond_1std(flux, dflux)::text AS beyond, '
  . 'antares.skew(flux)::text AS skew '
  . 'FROM phot GROUP BY objid, pb';

# Serial results, the reference for every parallel run.
$node->safe_psql('postgres', "$serial CREATE TABLE ser_f AS $features_query");
$node->safe_psql('postgres', "$serial CREATE TABLE ser_b AS $bands_query");
like(
	$node->safe_psql('postgres', "$serial EXPLAIN (COSTS OFF) $features_query"),
	qr/^(?!.*(Gather|Partial|Finalize)).*Aggregate/s,
	'serial plan has no parallel aggregation');

# Returns the number of rows in which two tables differ, both ways.
sub differences
{
	my ($a, $b) = @_;
	return $node->safe_psql(
		'postgres', qq{
SELECT (SELECT count(*) FROM (SELECT * FROM $a EXCEPT ALL SELECT * FROM $b) d)
     + (SELECT count(*) FROM (SELECT * FROM $b EXCEPT ALL SELECT * FROM $a) d)});
}

my %strategies = (
	hash => 'SET enable_hashagg = on; SET enable_sort = off;',
	sort => 'SET enable_hashagg = off;');

for my $strategy (sort keys %strategies)
{
	my $settings = $parallel . $strategies{$strategy};

	for my $case (
		[ 'lc_features GROUP BY objid',       $features_query, 'ser_f', $nobj ],
		[ 'band aggregates GROUP BY objid, pb', $bands_query,  'ser_b', $nobj * 6 ])
	{
		my ($label, $query, $reference, $groups) = @$case;
		my $table = "par_$strategy\_" . ($reference eq 'ser_f' ? 'f' : 'b');

		my $plan = $node->safe_psql('postgres',
			"$settings EXPLAIN (COSTS OFF) $query");
		like($plan, qr/Finalize (Hash|Group)Aggregate/,
			"$strategy, $label: plan has a Finalize aggregate");
		like($plan, qr/Partial (Hash|Group)Aggregate/,
			"$strategy, $label: plan has a Partial aggregate");
		like($plan, qr/Gather( Merge)?/, "$strategy, $label: plan has a Gather");
		like(
			$plan,
			$strategy eq 'hash' ? qr/Partial HashAggregate/ : qr/Partial GroupAggregate/,
			"$strategy, $label: the $strategy strategy was chosen");

		# Materialize the parallel result; EXPLAIN ANALYZE of the CREATE TABLE AS
		# shows that this very execution used workers.
		my $run = $node->safe_psql('postgres',
			"$settings EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
			  . "CREATE TABLE $table AS $query");
		like($run, qr/Workers Launched: [1-9]/,
			"$strategy, $label: workers launched");
		like($run, qr/Partial (Hash|Group)Aggregate/,
			"$strategy, $label: executed with partial aggregation");

		is($node->safe_psql('postgres', "SELECT count(*) FROM $table"),
			$groups, "$strategy, $label: $groups groups");
		is(differences($table, $reference),
			0, "$strategy, $label: parallel result equals serial result exactly");
	}
}

# The composite holds real values, not just NULLs.
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FILTER (WHERE (f::antares.features).g_mean IS NOT NULL)
         = count(*),
       count(*) FILTER (WHERE (f::antares.features).r_skew IS NOT NULL)
         = count(*),
       count(*) FILTER (WHERE (f::antares.features).i_amp < 0) > 0,
       count(*) FILTER (WHERE (f::antares.features).g_minus_r IS NULL) > 0
FROM ser_f}),
	't|t|t|t',
	'features are defined, some means are negative, so some colours are NULL');

# The weighted mean against plain SQL, for every object and band, in parallel.
my $check_mean = $node->safe_psql(
	'postgres', $parallel . q{
WITH a AS (
  SELECT objid,
         (antares.lc_features(pb, flux, dflux)).g_mean AS mean,
         (antares.lc_features(pb, flux, dflux)).g_n AS n,
         sum(flux * (flux / dflux) ^ 2) FILTER (WHERE pb = 'g')
           / sum((flux / dflux) ^ 2) FILTER (WHERE pb = 'g') AS plain,
         count(*) FILTER (WHERE pb = 'g') AS plain_n
  FROM phot GROUP BY objid)
SELECT count(*),
       count(*) FILTER (WHERE abs(mean - plain) <= 1e-12 * greatest(abs(mean), abs(plain))),
       count(*) FILTER (WHERE n = plain_n)
FROM a});
is($check_mean, "$nobj|$nobj|$nobj",
	'lc_features g_mean and g_n equal plain SQL for every object (1e-12 relative)');

my $check_band_mean = $node->safe_psql(
	'postgres', $parallel . q{
WITH a AS (
  SELECT objid, pb, antares.weighted_mean(flux, dflux) AS mean,
         sum(flux * (flux / dflux) ^ 2) / sum((flux / dflux) ^ 2) AS plain
  FROM phot GROUP BY objid, pb)
SELECT count(*),
       count(*) FILTER (WHERE abs(mean - plain) <= 1e-12 * greatest(abs(mean), abs(plain)))
FROM a});
is($check_band_mean, ($nobj * 6) . '|' . ($nobj * 6),
	'weighted_mean equals plain SQL for every object and band (1e-12 relative)');

$node->stop;
done_testing();
