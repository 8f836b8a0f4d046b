
# bin/antares_load on survey alert packets: the two real ZTF packets of
# test/data/alerts/ztf loaded as files, from their directory and from tar
# archives made here; each point stored once however often it arrives (the
# same packet twice, overlapping loads, 100 copies over two jobs, Rubin alerts
# in and out of order, a loader's set of sent keys emptied every 10 keys or
# turned off); the stored rows are what the packets hold; and a corrupt
# packet, an archive member that is not Avro, a truncated archive, a target
# without the key or an interruption leave the target as it was and no
# staging table behind.
#
# The packets' values were read with Debian's python3-avro
# (avro.datafile.DataFileReader), as in test/unit/test_alert_decode.c.
#
# Needs bin/antares_load and bin/antares_alertgen built (make); run with make
# prove_installcheck (see 001_parallel_features.pl).

use strict;
use warnings;

use Cwd qw(abs_path);
use Fcntl qw(O_WRONLY O_NONBLOCK);
use File::Copy;
use IPC::Run;
use POSIX ();
use Time::HiRes qw(sleep);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use AntaresTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = abs_path("$FindBin::RealBin/../..");
my $loader = "$root/bin/antares_load";
my $ztf = "$root/test/data/alerts/ztf";
# ZTF17aaacxxf: its candidate, 22 detections and 6 upper limits in its history
my $a = "$ztf/2019_01_10_739260766315010006.avro";
# ZTF17aaajnnn: its candidate and 11 upper limits
my $b = "$ztf/472263571115115000.avro";
my $tmp = PostgreSQL::Test::Utils::tempdir;

my $node = antares_node('alert_load');
my $connstr = $node->connstr('postgres');

# Runs the loader on @args; its exit status, stdout and stderr.
sub load
{
	my ($out, $err) = ('', '');
	IPC::Run::run([ $loader, '-d', $connstr, '-q', @_ ], '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

sub sql { return $node->safe_psql('postgres', $_[0]); }

# Every stored value of table $t, as one digest, with its row count.
sub state
{
	my ($t) = @_;
	return sql(
		"SELECT count(*) || ' ' || coalesce(md5(string_agg(concat_ws('|', objid, t, pb, flux, dflux, kind, "
		  . "source_id, alert_id, ra, dec), ';' ORDER BY objid, kind, source_id)), '-') FROM $t");
}

sub kinds
{
	my ($t) = @_;
	return sql("SELECT string_agg(kind || ' ' || n, ', ' ORDER BY kind) "
		  . "FROM (SELECT kind, count(*) n FROM $t GROUP BY kind) k");
}

sub staging_tables
{
	return sql("SELECT count(*) FROM pg_class WHERE relname LIKE 'antares\\_load\\_%'");
}

# A tar.gz of @files (copies named by @names, default their own names) made with tar.
sub make_archive
{
	my ($archive, $files, $names) = @_;
	my $dir = "$tmp/" . ($archive =~ s/\W/_/gr);
	mkdir $dir or die "$dir: $!";
	for my $i (0 .. $#$files)
	{
		my $name = $names ? $names->[$i] : ($files->[$i] =~ s{.*/}{}r);
		copy($files->[$i], "$dir/$name") or die "copy $files->[$i]: $!";
	}
	# "." makes a directory member too, which the loader passes over
	system('tar', '-czf', "$tmp/$archive", '-C', $dir, '.') == 0 or die "tar $archive failed";
	return "$tmp/$archive";
}

# The summary line's counts from a load without -q.
sub summary_of
{
	my ($out) = @_;
	return $out =~ /(\d+) alerts, (\d+) points decoded, (\d+) new, (\d+) duplicates, (\d+) skipped .* (\d+) jobs?$/m
	  ? "$1 $2 $3 $4 $5 $6"
	  : "no summary line in: $out";
}

# The counts of a load that must succeed, or its exit status and message.
sub load_summary
{
	my ($out, $err) = ('', '');
	IPC::Run::run([ $loader, '-d', $connstr, @_ ], '>', \$out, '2>', \$err);
	return $? == 0 ? summary_of($out) : "exit status " . ($? >> 8) . ": $err";
}

# 1. The two packets as files, into a table made by --create.
is(load_summary('--create', '-t', 'from_files', $a, $b), '2 41 41 0 0 1',
	'two ZTF packets: 2 alerts, 41 points decoded, 41 new, no duplicates, none skipped, 1 job');
is(kinds('from_files'), 'detection 24, upper_limit 17',
	'24 detections (2 candidates, 22 from the history), 17 upper limits');
is(sql("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'from_files'::regclass AND contype = 'p'"),
	'PRIMARY KEY (objid, kind, source_id)', '--create makes the primary key (objid, kind, source_id)');
is(staging_tables(), 0, 'no staging table left after a load');
my $expected = state('from_files');

# 2. What the rows hold.  ZTF object numbers: yy * 26^7 + the letters in base 26.
sub ztf_number
{
	my ($yy, $letters) = $_[0] =~ /^ZTF(\d\d)([a-z]{7})$/ or die;
	my $n = 0;
	$n = $n * 26 + ord($_) - ord('a') for split //, $letters;
	return $yy * 26**7 + $n;
}
my ($xxf, $jnnn) = (ztf_number('ZTF17aaacxxf'), ztf_number('ZTF17aaajnnn'));
is(sql("SELECT string_agg(objid || ' ' || n, ', ' ORDER BY objid) FROM (SELECT objid, count(*) n FROM from_files GROUP BY objid) o"),
	"$xxf 29, $jnnn 12", "29 points of ZTF17aaacxxf (objid $xxf), 12 of ZTF17aaajnnn");

# flux = 10^(-0.4 (magpsf - 31.4)) nJy, negative when isdiffpos is 'f';
# dflux = |flux| 0.4 ln(10) sigmapsf; upper limits: flux 0, dflux the limit's flux / 5.
sub flux { return 10**(-0.4 * ($_[0] - 31.4)); }
my $k = 0.4 * log(10);
sub close_to
{
	my ($got, $want) = @_;
	return abs($got - $want) <= 1e-12 * abs($want);
}

my @row = split /\|/, sql("SELECT objid, t, pb, flux, dflux, kind, alert_id, ra, dec FROM from_files WHERE source_id = 739260766315010006");
my $f = -flux(15.371133804321289);
ok( @row == 9
	  && $row[0] == $xxf
	  && close_to($row[1], 2458493.7607639 - 2400000.5)
	  && $row[2] eq 'r'
	  && close_to($row[3], $f)
	  && close_to($row[4], -$f * $k * 0.044493019580841064)
	  && $row[5] eq 'detection'
	  && $row[6] == 739260766315010006
	  && $row[7] == 75.2007803
	  && $row[8] == 35.3613954,
	"ZTF17aaacxxf's candidate: mjd, band r, flux $f nJy ('f': negative), dflux, ra, dec (@row)");

@row = split /\|/, sql("SELECT objid, t, pb, flux, dflux, kind, alert_id FROM from_files WHERE source_id = 710243366315015036");
$f = flux(19.122499465942383);
ok( @row == 7
	  && $row[0] == $xxf
	  && close_to($row[1], 2458464.7433681 - 2400000.5)
	  && $row[2] eq 'g'
	  && close_to($row[3], $f)
	  && close_to($row[4], $f * $k * 0.15693099796772003)
	  && $row[5] eq 'detection'
	  && $row[6] == 739260766315010006,
	"a history entry is stored as kind detection, with the alert that carried it (@row)");

@row = split /\|/, sql("SELECT pb, flux, dflux, kind, ra IS NULL AND dec IS NULL FROM from_files WHERE source_id = 710308786315");
ok( @row == 5
	  && $row[0] eq 'r'
	  && $row[1] == 0
	  && close_to($row[2], flux(20.40559959411621) / 5)
	  && $row[3] eq 'upper_limit'
	  && $row[4] eq 't',
	"an upper limit (source_id = pid): flux 0, dflux the limit's flux / 5, no position (@row)");

@row = split /\|/, sql("SELECT objid, flux, alert_id FROM from_files WHERE source_id = 472263571115115000");
ok(@row == 3 && $row[0] == $jnnn && close_to($row[1], flux(18.36185646057129)) && $row[2] == 472263571115115000,
	"ZTF17aaajnnn's candidate ('t': positive flux) (@row)");

# 3. The same from the directory and from a tar.gz made with tar.
is(load_summary('--create', '-t', 'from_dir', $ztf), '2 41 41 0 0 1', 'the directory: its two *.avro files');
is(state('from_dir'), $expected, 'the directory loads the same rows as the files');
my $night = make_archive('night.tar.gz', [ $a, $b ]);
is(load_summary('--create', '-t', 'from_tar', $night), '2 41 41 0 0 1', 'a tar.gz of the two packets');
is(state('from_tar'), $expected, 'the tar.gz loads the same rows as the files');

# 4. Each point once.
is(load_summary('--create', '-t', 'twice', $a, $a), '2 58 29 29 0 1',
	'the same packet twice in one load: 58 points decoded, 29 new, 29 duplicates');
is(kinds('twice'), 'detection 23, upper_limit 6', 'the packet twice: each of its 29 points once');
is(load_summary('--create', '-t', 'overlap', $a), '1 29 29 0 0 1', 'a first load of one packet');
is(load_summary('-t', 'overlap', $a, $b), '2 41 12 29 0 1',
	'an overlapping second load adds only the 12 new points');
is(state('overlap'), $expected, 'the overlapping loads leave the rows of one load of both');
my @copies = map { $_ % 2 ? $a : $b } 1 .. 100;
my $copies = make_archive('copies.tar.gz', \@copies, [ map { "copy$_.avro" } 1 .. 100 ]);
is(load_summary('--create', '-t', 'copies', '-j', '2', $copies), '100 2050 41 2009 0 2',
	'100 copies over 2 jobs: 2050 points decoded, 41 new, 2009 duplicates');
is(state('copies'), $expected, '100 copies over 2 jobs: the rows of one load of both');
is(load_summary('-t', 'copies', '-j', '2', $copies, $a), '101 2079 0 2079 0 2', 'loading them again adds nothing');
is(staging_tables(), 0, 'no staging table left after the loads');

# 4b. Each worker skips the points it sent already, unless they come now
# with a lower alert_id; its set of sent keys, emptied when it holds
# ANTARES_LOAD_DEDUP_KEYS keys, changes nothing stored.  Rubin alerts from
# antares_alertgen, 2 objects of 6 points, one alert a file, named by alert
# id: in name order every history entry comes after the alert that first
# carried it, in reverse order before it.
my $csv = "$tmp/points.csv";
{
	open my $outf, '>', $csv or die;
	for my $objid (7, 9)
	{
		printf $outf "%d,%.1f,%s,%d,%d\n", $objid, 60000 + $_, $_ % 2 ? 'g' : 'r', 100 * $objid + $_, 5 for 0 .. 5;
	}
	close $outf or die;
}
IPC::Run::run([ "$root/bin/antares_alertgen", '--history=20', '--forced', '-o', "$tmp/gen", $csv ])
  or die "antares_alertgen failed";
my @gen = sort glob("$tmp/gen/*.avro");
is(load_summary('--create', '-t', 'gen', @gen), '12 72 22 50 0 1',
	'12 Rubin alerts in order: 72 points decoded, 22 new (12 detections, 10 forced), 50 duplicates');
is(sql("SELECT count(*) FROM gen WHERE alert_id <> (CASE WHEN kind = 'detection' THEN source_id "
		  . "ELSE source_id - 1000000000000000000 + 1 END)"),
	0, 'each point with the alert that first carried it');
my $gen = state('gen');
is(load_summary('--create', '-t', 'gen_reversed', reverse @gen), '12 72 22 50 0 1', 'the same alerts in reverse order');
is(state('gen_reversed'), $gen, 'in reverse order: the same rows, each with the lowest alert_id');
{
	local $ENV{ANTARES_LOAD_DEDUP_KEYS} = '10';
	is(load_summary('--create', '-t', 'gen_small_set', reverse @gen), '12 72 22 50 0 1',
		'reverse order, the sent keys emptied at 10 keys');
	is(state('gen_small_set'), $gen, 'reverse order, the sent keys emptied at 10 keys: the same rows');
	is(load_summary('--create', '-t', 'copies_small_set', '-j', '2', $copies), '100 2050 41 2009 0 2',
		'100 ZTF copies over 2 jobs, the sent keys emptied at 10 keys');
	is(state('copies_small_set'), $expected, '100 ZTF copies, the sent keys emptied at 10 keys: the same rows');
	$ENV{ANTARES_LOAD_DEDUP_KEYS} = '0';
	is(load_summary('--create', '-t', 'gen_no_set', reverse @gen), '12 72 22 50 0 1', 'no sent keys (0)');
	is(state('gen_no_set'), $gen, 'no sent keys: the same rows');
	$ENV{ANTARES_LOAD_DEDUP_KEYS} = 'ten';
	my ($status, $out, $err) = load('-t', 'gen', @gen);
	is($status, 2, 'ANTARES_LOAD_DEDUP_KEYS=ten: exit status 2');
	like($err, qr/invalid ANTARES_LOAD_DEDUP_KEYS "ten"/, 'ANTARES_LOAD_DEDUP_KEYS=ten: the message');
}

# 5. Failures: non-zero exit, a message naming the input, the target
# unchanged, the staging table gone.
sub fails_cleanly
{
	my ($what, $want_status, $want_err, @args) = @_;
	my ($status, $out, $err) = load('-t', 'from_files', @args);
	is($status, $want_status, "$what: exit status $want_status");
	like($err, $want_err, "$what: the message");
	is(state('from_files') . ' ' . staging_tables(), "$expected 0", "$what: the target unchanged, no staging table");
}

my $cut = "$tmp/cut.avro";
{
	open my $in, '<:raw', $a or die;
	local $/;
	my $bytes = <$in>;
	open my $outf, '>:raw', $cut or die;
	print $outf substr($bytes, 0, 30000);
	close $outf or die;
}
fails_cleanly('a truncated packet', 1, qr/file "[^"]*cut\.avro": corrupt packet: container block cut short/, $b, $cut);

my $readme = "$tmp/README.txt";
copy("$ztf/README.md", $readme) or die;
my $bad = make_archive('bad.tar.gz', [ @copies[ 0 .. 29 ], $readme, @copies[ 30 .. 59 ] ],
	[ (map { "copy$_.avro" } 1 .. 30), 'README.txt', map { "copy$_.avro" } 31 .. 60 ]);
fails_cleanly('a member that is not Avro, 2 jobs', 1,
	qr/archive "[^"]*bad\.tar\.gz" member "\.\/README\.txt": bad framing: not an Avro object-container file/,
	'-j', '2', $bad);

my $trunc = "$tmp/trunc.tar.gz";
{
	open my $in, '<:raw', $copies or die;
	local $/;
	my $bytes = <$in>;
	open my $outf, '>:raw', $trunc or die;
	print $outf substr($bytes, 0, int(length($bytes) / 2));
	close $outf or die;
}
fails_cleanly('a truncated archive, 2 jobs', 1, qr/archive "[^"]*trunc\.tar\.gz"( member "[^"]*")?: truncated gzip input/, '-j', '2', $trunc);

my $dat = "$tmp/obj42.dat";
copy((glob("$root/data/dsfp/training/*.dat"))[0], $dat) or die "copy a .dat file: $!";
fails_cleanly('light curves and alerts in one load', 2, qr/load them separately/, $dat, $a);

my ($status, $out, $err) = load('--create', '-t', 'made_here', $a, $cut);
is($status . ' ' . sql("SELECT to_regclass('made_here') IS NULL") . ' ' . staging_tables(), '1 t 0',
	'a failed load drops the table its --create made, and the staging table');

sql('CREATE TABLE nokey (objid bigint, t float8, pb text, flux float8, dflux float8, kind text, '
	  . 'source_id bigint, alert_id bigint, ra float8, dec float8)');
($status, $out, $err) = load('-t', 'nokey', $a);
is($status, 1, 'a target without the key (objid, kind, source_id): exit status 1');
like($err, qr/no unique or exclusion constraint matching the ON CONFLICT/, 'a target without the key: the message');
is(sql('SELECT count(*) FROM nokey') . ' ' . staging_tables(), '0 0', 'a target without the key: unchanged, no staging table');

# 6. SIGINT stops a load like a failure.  The loader's reader blocks on a
# FIFO given as an .avro file, so the signal comes while the load runs.
my $fifo = "$tmp/pipe.avro";
POSIX::mkfifo($fifo, 0600) or die "mkfifo: $!";
($out, $err) = ('', '');
my $h = IPC::Run::start([ $loader, '-d', $connstr, '-t', 'from_files', $b, $fifo ], '>', \$out, '2>', \$err);
my $running = 0;
for (1 .. 600)
{
	last if ($running = staging_tables() == 1);
	sleep 0.05;
}
ok($running, 'an interrupted load: its staging table exists while it runs');
$h->signal('INT');
# end the FIFO (open it for writing, close it) once the reader has it open
for (1 .. 600)
{
	if (sysopen(my $w, $fifo, O_WRONLY | O_NONBLOCK))
	{
		close $w;
		last;
	}
	last unless $h->pumpable;
	sleep 0.05;
}
$h->finish;
is($h->full_result(0), 1 << 8, 'an interrupted load: exit status 1, not killed by the signal');
like($err, qr/Interrupt: stopping the load\n.*nothing loaded/s, 'an interrupted load: the message');
is(state('from_files') . ' ' . staging_tables(), "$expected 0", 'an interrupted load: the target unchanged, no staging table');

$node->stop;
done_testing();
