# test/t/060_bench.pl: the benchmark's CI checks.
#   parity  sql/{policy,store,app,errors}.sql give the same results and
#           SQLSTATEs through bench/plpgsql_api.sql's bench_plpgsql as
#           through the extension (a node of its own)
#   smoke   bench/run.sh --smoke (its own clusters): every approach and
#           history size has a throughput, and so have the shape's two
#           approaches and the four lookups of 1.3 at both history sizes,
#           every lifecycle finished, verify() is clean, the extension's
#           hot path did not scan a table sequentially, memory samples,
#           instruction counts of seven approaches (a lifecycle is well over
#           100k instructions; the shape's floor costs more with the GIN
#           index than without), the sizes of the table and its indexes,
#           the targets' lines and the chart exist
#   soak    bench/run.sh --soak, briefly: windows, list rate, table sizes,
#           sequential scans and the targets' lines are printed
# No thresholds.  BENCH_PORT (default: a free one) for the benchmark's
# clusters, SOAK_SECONDS (15) and SOAK_WINDOW (5) for the short soak, SEED
# (42) for pgbench's random queue picks.
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Install;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $port = $ENV{BENCH_PORT} // PostgreSQL::Test::Cluster::get_free_port();
my $soak_seconds = $ENV{SOAK_SECONDS} // 15;
my $window = $ENV{SOAK_WINDOW} // 5;
my $seed = $ENV{SEED} // 42;
my $tmp = PostgreSQL::Test::Utils::tempdir;

# --- parity: the PL/pgSQL baseline against the extension ----------------------------
my $node = start_node('bench_parity');
create_db($node, 'batchstate_bench_ext');
create_db($node, 'batchstate_bench_twin', extension => 0);
$node->safe_psql('batchstate_bench_twin', slurp_file(repo_path('bench/plpgsql_api.sql')));

# a regression file through psql as pg_regress feeds it, output and errors together
sub echo_run
{
	my ($db, $sql, @verbosity) = @_;
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	my $out = '';
	IPC::Run::run([ 'psql', '-X', '-a', '-q', @verbosity, '-d', $db, '-f', '-' ], '<', \$sql, '>&', \$out);
	return $out;
}

# results and SQLSTATEs, not message texts: errors as their SQLSTATE,
# DETAIL and HINT lines dropped
sub normalize
{
	return join '', map { s/^(psql:<stdin>:\d*: [A-Z]*:  [0-9A-Z]{5}).*/$1/r =~ s/\|([0-9A-Z]{5}): .*$/|$1/r }
	  grep { !/^(DETAIL|HINT): / } split /^/, $_[0];
}

for my $f (qw(policy store app errors))
{
	my ($src) = grep { -f } map { repo_path($_) } "test/sql/$f.sql", "sql/$f.sql";
	if (!$src) { note "no sql/$f.sql: skipped"; next }
	my $sql = slurp_file($src);
	my $twin_sql = $sql =~ s/batchstate/bench_plpgsql/gr;
	my @terse = ('-A', '-v', 'VERBOSITY=sqlstate');
	my $ext = normalize(echo_run('batchstate_bench_ext', $sql, @terse));
	my $twin = normalize(echo_run('batchstate_bench_twin', $twin_sql, @terse) =~ s/bench_plpgsql/batchstate/gr);
	is_text($twin, $ext, "parity: sql/$f.sql gives the same results and SQLSTATEs through bench_plpgsql");
	# message texts: informational only
	my @a = split /\n/, echo_run('batchstate_bench_ext', $sql);
	my @b = split /\n/, echo_run('batchstate_bench_twin', $twin_sql) =~ s/bench_plpgsql/batchstate/gr;
	note scalar(grep { ($a[$_] // '') ne ($b[$_] // '') } 0 .. ($#a > $#b ? $#a : $#b))
	  . ' differing message lines (not a failure)';
}

# bench(NAME, ARGS...): bench/run.sh with ARGS, on the installation under
# test; its exit status, output and run time
sub bench
{
	my ($name, @args) = @_;
	local $ENV{PG_BIN} = pg_config('--bindir');
	local $ENV{PG_CONFIG} = "$ENV{PG_BIN}/pg_config";
	my $out = '';
	my $t0 = time;
	my $ok = IPC::Run::run([ 'bash', repo_path('bench/run.sh'), @args, '--no-build', '--port', $port,
			'--seed', $seed ], '<', \'', '>&', \$out);
	append_to_file("$tmp/$name.log", $out);
	return ($ok, $out, time - $t0);
}

# fields(FILE, KEY): the fields of the line of FILE whose second field is KEY
sub fields
{
	my ($file, $key) = @_;
	return () unless -f $file;
	my ($line) = grep { !/^#/ && (split ' ')[1] eq $key } split /\n/, slurp_file($file);
	return $line ? split(' ', $line) : ();
}
sub contents { return -f $_[0] ? slurp_file($_[0]) : '' }

my @approaches = qw(extension plpgsql fused_sql fused_idem round_trips);
my @counted = qw(extension plpgsql fused_sql fused_idem shape_extension shape_idem shape_idem_nogin);
my @lookups = qw(dependents_of batches_containing queue_stats stuck_batches);
my ($smoked, $smoke_log, $smoke_s) = bench('smoke', '--smoke', '--out', "$tmp/smoke");

SKIP:
{
	# bench/run.sh has run as root until now (it re-runs itself with sudo);
	# as the postgres user it must start its servers itself
	skip 'bench/run.sh runs as root only: its smoke and soak checks need the version that runs as any user', 45
	  if !$smoked && $smoke_log =~ /run it as root|sudo/ && $> != 0;

	my $s = "$tmp/smoke";
	ok($smoked, "smoke: bench/run.sh --smoke exits 0 ($smoke_s s)")
	  or diag(join("\n", (split /\n/, $smoke_log)[-30 .. -1]));
	for my $a (@approaches)
	{
		my @f = fields("$s/lifecycle.dat", $a);
		ok(@f && $f[2] > 0 && @f - 7 >= 3, "smoke: lifecycle throughput of $a ("
			  . ($f[2] // '?') . ' lifecycles/s, ' . (@f ? @f - 7 : 0) . ' rounds)');
	}
	for my $h (0, 1000)
	{
		my @f = fields("$s/list.dat", $h);
		ok(@f && $f[2] > 0, "smoke: list_batches throughput with $h finished batches (" . ($f[2] // '?') . ' calls/s)');
	}
	for my $a (qw(shape_extension shape_idem))
	{
		my @f = fields("$s/shape.dat", $a);
		ok(@f && $f[2] > 0 && @f - 7 >= 3, "smoke: shape throughput of $a (" . ($f[2] // '?') . ' lifecycles/s)');
	}
	for my $l (@lookups)
	{
		for my $h (0, 1000)
		{
			my @f = fields("$s/lookup.dat", "$l:$h");
			ok(@f && $f[2] > 0, "smoke: $l throughput with $h finished batches (" . ($f[2] // '?') . ' calls/s)');
		}
	}
	my %size = map { (split ' ')[ 0, 1 ] } split /\n/, contents("$s/raw/sizes-1000.txt");
	ok(($size{batch_arrays_gin} // 0) > 0 && ($size{batch} // 0) > 0,
		'smoke: the sizes of the batch table (' . ($size{batch} // '?') . ' bytes) and its GIN index ('
		  . ($size{batch_arrays_gin} // '?') . ' bytes) at 1000 finished batches');
	my $consistency = contents("$s/raw/consistency.txt");
	like($consistency, qr/^consistency $_: [1-9][0-9]* batches total, 0 not succeeded/m,
		"smoke: every $_ lifecycle ended succeeded at version 5, no membership left") for @approaches;
	like($consistency, qr/^consistency extension verify\(\): 0 drift rows/m,
		'smoke: verify() of the extension is empty after the runs');
	like($consistency, qr/^consistency plpgsql verify\(\): 0 drift rows/m,
		'smoke: verify() of bench_plpgsql is empty after the runs');
	my ($seq, $idx) = (0, 0);
	for (grep { (split ' ')[1] eq 'batchstate' } split /\n/, contents("$s/raw/seq-scans.txt"))
	{
		my @f = split ' ';
		($seq, $idx) = ($seq + $f[3], $idx + $f[4]);
	}
	ok(-f "$s/raw/seq-scans.txt" && $seq == 0 && $idx > 0,
		"smoke: the extension's lifecycles scanned its tables by index only ($idx index scans)");
	my %samples;
	$samples{ (split ' ')[2] }++ for split /\n/, contents("$s/memory.dat");
	my ($fewest) = sort { $a <=> $b } values %samples;
	ok(($fewest // 0) >= 2, 'smoke: memory samples of every pgbench backend (' . ($fewest // 0) . ' or more each)');
	my %instructions = map { (split ' ')[ 0, 1 ] } grep { !/^#/ } split /\n/, contents("$s/instructions.dat");
	for my $a (@counted)
	{
		my $n = $instructions{$a} // '';
		ok($n =~ /^\d+$/ && $n > 100000, "smoke: callgrind counted the instructions of one lifecycle of $a ($n)");
	}
	ok(($instructions{shape_idem} // 0) > ($instructions{shape_idem_nogin} // 0),
		'smoke: the GIN index costs the floor instructions (' . ($instructions{shape_idem} // '?') . ' with it, '
		  . ($instructions{shape_idem_nogin} // '?') . ' without)');
	my $summary = contents("$s/summary.txt");
	my @targets = $summary =~
	  /^  (extension \/ plpgsql|extension \/ fused_sql|list_batches history|memory per backend flat)/mg;
	is(scalar @targets, 4, 'smoke: summary.txt states all four targets');
	my @targets13 = $summary =~ /^  (shape: extension \/ fused_idem|shape by instructions|[a-z_]+ history 1000 \/ history 0 = [0-9.]+x \(>= 0\.8x)/mg;
	is(scalar @targets13, 6, "smoke: summary.txt states the six targets of 1.3 (the shape's two, the four lookups')");
	like($summary, qr/^  extension \/ fused_idem = [0-9.]*x/m,
		'smoke: summary.txt compares the extension with the floor that files idempotently');
	SKIP:
	{
		skip 'gnuplot is not installed (Debian package gnuplot-nox): no chart', 1
		  unless grep { -x "$_/gnuplot" } split /:/, $ENV{PATH};
		is(substr(contents("$s/lifecycle.png"), 0, 8), "\x89PNG\r\n\x1a\n", 'smoke: the chart is a PNG');
	}

	# --- soak: a short bench/run.sh --soak --------------------------------------------
	my ($soaked, $soak_log, $soak_s) = bench('soak', '--soak', '--minutes', sprintf('%.4f', $soak_seconds / 60),
		'--window', $window, '--out', "$tmp/soak");
	ok($soaked, "soak: bench/run.sh --soak exits 0 ($soak_s s)")
	  or diag(join("\n", (split /\n/, $soak_log)[-30 .. -1]));
	my $soak = contents("$tmp/soak/soak.txt");
	note $soak;
	my $windows = grep { !/^#/ && (split ' ')[2] > 0 && (split ' ')[3] > 0 } split /\n/, contents("$tmp/soak/soak.dat");
	ok($windows >= $soak_seconds / $window - 1 && $windows >= 2,
		"soak: $windows windows with lifecycle and list throughput");
	like($soak, qr/^  batch_state_membership: [0-9.]+ MB with indexes .* seq_scan [0-9]+/m,
		"soak: the membership table's size and the sequential scans are reported");
	is(scalar(() = $soak =~ /^target: /mg), 3, 'soak: soak.txt states all three targets');
	like($soak, qr/verify\(\) after the run: 0 drift rows/, 'soak: verify() is empty after the soak');
}

done_testing();
