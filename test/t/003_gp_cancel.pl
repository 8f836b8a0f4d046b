
# A Gaussian-process fit of a huge group stops when the query is cancelled.
#
# The GP kernel is plain C; its passes over the data call PostgreSQL's
# CHECK_FOR_INTERRUPTS every 65536 points (gp_matern_interrupt).  One band of
# 2 million observations takes seconds to fit; with statement_timeout at a
# third of the time the whole query took, the query must fail with the
# timeout soon after it fires, not when the fit is over.  Then the same
# backend must still work.
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

my $node = antares_node('gp_cancel', "work_mem = '512MB'\n");

my $npts = 2_000_000;
$node->safe_psql(
	'postgres', qq{
CREATE TABLE big AS
SELECT i * 0.37 AS t, sin(i * 0.01) + 0.2 * cos(i * 0.13) AS flux, 0.1 + (i % 7) * 0.01 AS dflux
FROM generate_series(1, $npts) i;
VACUUM ANALYZE big;
});

my $query = 'SELECT (antares.gp_smooth(t, flux, dflux)).n FROM big';

my $t0 = time;
is($node->safe_psql('postgres', $query), $npts, 'the fit of one huge band completes');
my $full = time - $t0;
note sprintf('the whole query: %.2f s', $full);

# The timeout fires in the fit: reading and buffering the rows is a small
# part of the query.
my $timeout_ms = int(1000 * $full / 3);
my ($elapsed, $stderr) = timed_statement($node, "${timeout_ms}ms", $query);
note sprintf('cancelled after %.2f s (timeout %.2f s)', $elapsed, $timeout_ms / 1000);

like($stderr, qr/canceling statement due to statement timeout/, 'the query fails with the timeout');
cmp_ok($elapsed, '<', $timeout_ms / 1000 + 0.5,
	'and stops within 0.5 s of the timeout');
cmp_ok($elapsed, '<', $full * 0.8, 'well before the fit would have ended');

is($node->safe_psql('postgres', 'SELECT (antares.gp_smooth(t, flux, dflux)).n FROM big WHERE t < 100'),
	'270', 'the next query works');

$node->stop;
done_testing();
