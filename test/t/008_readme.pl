# Every example of README.md runs as written, in order, in one fresh
# database.
#
# The ```sql blocks are run in the order of the README, each by its own psql
# (ON_ERROR_STOP, from the repository root, so that relative paths such as
# data/dsfp/... work), in a database that starts without the extension: the
# README's first example creates it.  A ```sh block is run (bash -e, same
# directory, PGHOST/PGPORT/PGDATABASE naming that database) only when the
# line before it is <!-- run -->; the other shell blocks are commands for
# the reader's machine (make install, bin/pipeline, ...) and are counted.
# A block preceded by <!-- not run: REASON --> is skipped, counted and
# reported with its reason; keep these few.
#
# A statement whose line ends in ";  -- RESULT", RESULT one row of values
# (numbers, t or f, {array}, separated by " | "), promises that result: the
# test checks it against psql's unaligned output.
#
# A failure names the README line of the block (and of the statement).
#
# Run with make prove_installcheck (see 001_parallel_features.pl).

use strict;
use warnings;

use Cwd qw(abs_path);
use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use AntaresTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = abs_path("$FindBin::RealBin/../..");
my $readme = "$root/README.md";

# One value of a promised row, and the row.
my $value = qr/(?:[-+]?\d[\d.]*(?:e[-+]?\d+)?|t|f|\{[-+\d.,e]*\})/;
my $promise = qr/^$value(?: \| $value)*$/;

# The fenced blocks of the README: lang, line (of the opening fence), body
# (lines, without the fence's indentation), mark (run / not run: REASON).
sub readme_blocks
{
	open my $fh, '<', $readme or die "$readme: $!";
	my @lines = <$fh>;
	close $fh;
	my (@blocks, $mark);
	for (my $i = 0; $i < @lines; $i++)
	{
		my $line = $lines[$i];
		if ($line =~ /^\s*<!--\s*(run|not run:.*?)\s*-->\s*$/)
		{
			$mark = $1;
			next;
		}
		if ($line =~ /^(\s*)```(\w*)\s*$/)
		{
			my ($indent, $lang, $start) = ($1, $2, $i + 1);
			my @body;
			for ($i++; $i < @lines && $lines[$i] !~ /^\s*```\s*$/; $i++)
			{
				(my $body_line = $lines[$i]) =~ s/^\Q$indent\E//;
				push @body, $body_line;
			}
			die "README.md line $start: unterminated code block\n" if $i >= @lines;
			push @blocks, { lang => $lang, line => $start, body => \@body, mark => $mark };
		}
		$mark = undef if $line =~ /\S/;
	}
	return @blocks;
}

# The block as a psql script in which every statement that promises a result
# is wrapped in \echo markers; the README line of each script line (undef for
# a marker); and the promises: [README line, result].
sub instrument
{
	my ($block) = @_;
	my (@script, @readme_line, @promises, $stmt_start);
	my @body = @{ $block->{body} };
	for my $k (0 .. $#body)
	{
		my $line = $body[$k];
		$stmt_start //= scalar @script
		  if $line =~ /\S/ && $line !~ /^\s*(--|\\)/;
		push @script, $line;
		push @readme_line, $block->{line} + 1 + $k;
		next unless defined $stmt_start && $line =~ /;\s*(?:--\s*(.*?))?\s*$/;
		my $comment = $1;
		if (defined $comment && $comment =~ $promise)
		{
			my $n = scalar @promises;
			splice @script, $stmt_start, 0, "\\echo <<promise $n\n";
			splice @readme_line, $stmt_start, 0, undef;
			push @script, "\\echo >>promise $n\n";
			push @readme_line, undef;
			push @promises, [ $block->{line} + 1 + $k, $comment ];
		}
		undef $stmt_start;
	}
	return (join('', @script), \@readme_line, @promises);
}

my @blocks = readme_blocks();
ok(scalar(grep { $_->{lang} eq 'sql' } @blocks) > 10, 'README.md has its SQL examples');

my $node = antares_node('readme');
$node->safe_psql('postgres', 'CREATE DATABASE readme');
my %env = (
	PGHOST => $node->host,
	PGPORT => $node->port,
	PGDATABASE => 'readme',
	PGUSER => undef);

chdir $root or die "$root: $!";
my ($ran, $shell_not_run, @not_run) = (0, 0);
for my $block (@blocks)
{
	my ($lang, $line, $mark) = @$block{qw(lang line mark)};
	next unless $lang eq 'sql' || $lang eq 'sh';
	if (defined $mark && $mark =~ /^not run:\s*(.*)/)
	{
		push @not_run, "line $line: $1";
		next;
	}
	if ($lang eq 'sh')
	{
		if (!defined $mark || $mark ne 'run')
		{
			$shell_not_run++;
			next;
		}
		local @ENV{ keys %env } = values %env;
		delete $ENV{PGUSER};
		my ($out, $err);
		my $ok = IPC::Run::run([ 'bash', '-e', '-c', join('', @{ $block->{body} }) ],
			'>', \$out, '2>', \$err);
		ok($ok, "README.md line $line: shell block runs") or diag("stdout:\n$out\nstderr:\n$err");
		$ran++;
		next;
	}
	my ($script, $readme_line, @promises) = instrument($block);
	my ($out, $err) = ('', '');
	my $ret = $node->psql(
		'readme', $script,
		stdout => \$out,
		stderr => \$err,
		on_error_stop => 1,
		extra_params => [ '-F', ' | ' ]);
	# psql names the script's line of an error: say the README's.
	$err =~ s/^psql:<stdin>:(\d+):/"README.md line " . ($readme_line->[ $1 - 1 ] \/\/ "?") . ":"/gme;
	is($ret, 0, "README.md line $line: SQL block runs")
	  or diag("stderr:\n$err");
	$ran++;
	for my $n (0 .. $#promises)
	{
		my ($promise_line, $expected) = @{ $promises[$n] };
		my ($got) = $out =~ /^<<promise $n\n(.*?)^>>promise $n$/ms;
		$got //= '(no output)';
		chomp $got;
		is($got, $expected, "README.md line $promise_line: the result its comment promises");
	}
}

note("$ran blocks run; $shell_not_run shell blocks are commands for the reader's machine, not run");
note(scalar(@not_run) . " blocks marked not run:");
note("  $_") for @not_run;
ok(@not_run <= 3, 'few blocks are marked not run (' . scalar(@not_run) . ')');

done_testing();
