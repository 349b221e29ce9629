# test/t/095_readme.pl: every SQL example of README.md runs as written.
#
# The README's examples are psql sessions: a ```psql block holds statements
# ("=> " starts one, "-> " continues it) and, after each, what psql printed.
# This test runs the blocks of README.md in order, each in a psql session of
# its own against one fresh database with the extension installed, and
# compares what psql prints with the block: the README's transcripts are the
# expected output, so a stale example fails here.  The only liberties: the
# "psql:<stdin>:N: " prefix psql puts before an error read from a script,
# trailing blanks, and the process id in a notification are not compared.
# A ```sql block (no output written) must run without an error.  The pg_cron
# recipe needs pg_cron: the node preloads it when the installation has it;
# where it has not (some PostgreSQL versions here), that block is reported
# as skipped, never as passed.
use strict;
use warnings;

use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $repo = dirname(__FILE__) . '/../..';
my $db = 'readme';

my $node = PostgreSQL::Test::Cluster->new('readme');
$node->init;
my $sharedir = `pg_config --sharedir`;
chomp $sharedir;
my $have_cron = -f "$sharedir/extension/pg_cron.control";
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_cron'
cron.database_name = '$db'
cron.host = '@{[ $node->host ]}'
)) if $have_cron;
$node->start;
$node->safe_psql('postgres', "CREATE DATABASE $db");
$node->safe_psql($db, 'CREATE EXTENSION batchstate');

# The fenced blocks of a markdown file: [language, first line number, lines].
sub blocks
{
	my ($file) = @_;
	my (@blocks, $cur);
	open my $fh, '<', $file or die "cannot read $file: $!";
	while (my $line = <$fh>)
	{
		chomp $line;
		if (!$cur && $line =~ /^```(\w*)\s*$/)
		{
			$cur = [ $1, $., [] ];
		}
		elsif ($cur && $line =~ /^```\s*$/)
		{
			push @blocks, $cur;
			undef $cur;
		}
		elsif ($cur)
		{
			push @{ $cur->[2] }, $line;
		}
	}
	close $fh;
	return @blocks;
}

# Run SQL in a psql session of its own, echoing it (-a) as psql does when
# it reads a script; standard output and errors together, as a terminal
# shows them.  Returns (exit status, output).
sub run_psql
{
	my ($sql, @opts) = @_;
	my $out = '';
	IPC::Run::run(
		[ 'psql', '-X', '-a', '-q', @opts, '-d', $node->connstr($db) ],
		'<', \$sql, '>&', \$out);
	return ($? >> 8, $out);
}

# What may differ between two runs, taken out of a transcript.
sub normalize
{
	my ($text) = @_;
	my @lines = map {
		my $l = $_;
		$l =~ s/^psql:<stdin>:\d+: //;
		$l =~ s/received from server process with PID \d+\./received from server process with PID <pid>./;
		$l =~ s/\s+$//;
		$l
	} split /\n/, $text;
	pop @lines while @lines && $lines[-1] eq '';
	return join("\n", @lines) . "\n";
}

for my $file ('README.md')
{
	my @blocks = grep { $_->[0] eq 'psql' || $_->[0] eq 'sql' } blocks("$repo/$file");
	cmp_ok(scalar(@blocks), '>=', 10, "$file has its SQL examples");
	for my $b (@blocks)
	{
		my ($lang, $at, $lines) = @$b;
		my $name = "$file line $at";
		if ($lang eq 'sql')
		{
			my $sql = join("\n", @$lines) . "\n";
		  SKIP:
			{
				skip "$name: pg_cron is not installed for this PostgreSQL", 1
				  if $sql =~ /\bcron\./ && !$have_cron;
				my ($rc, $out) = run_psql($sql, '-v', 'ON_ERROR_STOP=1');
				is($rc, 0, "$name: the example runs without an error")
				  or diag($out);
			}
			next;
		}
		my @input = map { substr($_, 3) } grep { /^(=>|->) / } @$lines;
		ok(scalar(@input), "$name: the transcript has statements");
		my $want = join("\n", map { s/^(=>|->) //r } @$lines);
		my ($rc, $got) = run_psql(join("\n", @input) . "\n");
		is(normalize($got), normalize($want),
			"$name: psql prints what the README shows");
	}
}

$node->stop;
done_testing();
