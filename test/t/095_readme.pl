# test/t/095_readme.pl: every SQL example of README.md and router/README.md
# runs as written.
#
# The READMEs' examples are psql sessions: a ```psql block holds statements
# ("=> " starts one, "-> " continues it; "router=> " names the database)
# and, after each, what psql printed.  This test runs the blocks of each
# file in order, each in a psql session of its own (one per run of
# statements on one database) against fresh databases, and compares what
# psql prints with the block: the READMEs' transcripts are the expected
# output, so a stale example fails here.  The only liberties: the
# "psql:<stdin>:N: " prefix psql puts before an error read from a script,
# trailing blanks, and the process id in a notification are not compared.
# A ```sql block (no output written) must run without an error.  README.md
# runs on one database with the extension installed.  router/README.md
# runs on a node of its own with the databases router, shard0 and shard1,
# and needs PL/Proxy; the pg_cron recipe needs pg_cron: the node preloads it
# when the installation has it.  Where either is missing (some PostgreSQL
# versions here), those blocks are reported as skipped, never as passed.
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

# The fenced blocks of a markdown file: [language, first line number,
# lines], the indentation of the fence taken off each line.
sub blocks
{
	my ($file) = @_;
	my (@blocks, $cur, $indent);
	open my $fh, '<', $file or die "cannot read $file: $!";
	while (my $line = <$fh>)
	{
		chomp $line;
		if (!$cur && $line =~ /^( *)```(\w*)\s*$/)
		{
			($indent, $cur) = ($1, [ $2, $., [] ]);
		}
		elsif ($cur && $line =~ /^ *```\s*$/)
		{
			push @blocks, $cur;
			undef $cur;
		}
		elsif ($cur)
		{
			# a block in a list item is indented with it
			push @{ $cur->[2] }, $line =~ s/^\Q$indent\E//r;
		}
	}
	close $fh;
	return @blocks;
}

# Run SQL in a psql session of its own on database DBNAME of node ON,
# echoing it (-a) as psql does when it reads a script; standard output and
# errors together, as a terminal shows them.  Returns (exit status, output).
sub run_psql
{
	my ($on, $dbname, $sql, @opts) = @_;
	my $out = '';
	IPC::Run::run(
		[ 'psql', '-X', '-a', '-q', @opts, '-d', $on->connstr($dbname) ],
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

# The router's README runs on a node of its own: the databases its prompts
# name (router=>, shard0=>, shard1=>), and the services shard0 and shard1 of
# a connection service file in the server's environment, which the
# router's partitions name.
my $router;
my $plproxy = -f "$sharedir/extension/plproxy.control";
if ($plproxy)
{
	$router = PostgreSQL::Test::Cluster->new('readme_router');
	$router->init;
	my $services = PostgreSQL::Test::Utils::tempdir . '/pg_service.conf';
	append_to_file($services, join('', map {
		"[$_]\nhost=" . $router->host . "\nport=" . $router->port . "\ndbname=$_\n\n" } qw(shard0 shard1)));
	local $ENV{PGSERVICEFILE} = $services;
	$router->start;
	$router->safe_psql('postgres', "CREATE DATABASE $_") for qw(router shard0 shard1);
}

# The statements of a transcript, in runs of one database each:
# [database, statements, what psql prints for them].  A prompt names its
# database ("router=> "); a bare "=> " is DEFAULT's.
sub segments
{
	my ($lines, $default) = @_;
	my @segments;
	for my $line (@$lines)
	{
		if ($line =~ /^(\w*)(=>|->) (.*)$/)
		{
			my $db = $1 eq '' ? $default : $1;
			push @segments, [ $db, [], [] ] if $2 eq '=>' && (!@segments || $segments[-1][0] ne $db);
			push @{ $segments[-1][1] }, $3;
			push @{ $segments[-1][2] }, $3;
		}
		elsif (@segments)
		{
			push @{ $segments[-1][2] }, $line;
		}
	}
	return @segments;
}

for my $doc ([ 'README.md', $node, $db ], [ 'router/README.md', $router, 'router' ])
{
	my ($file, $on, $default) = @$doc;
	my @blocks = grep { $_->[0] eq 'psql' || $_->[0] eq 'sql' } blocks("$repo/$file");
	cmp_ok(scalar(@blocks), '>=', $file eq 'README.md' ? 10 : 5, "$file has its SQL examples");
	for my $b (@blocks)
	{
		my ($lang, $at, $lines) = @$b;
		my $name = "$file line $at";
	  SKIP:
		{
			skip "$name: PL/Proxy is not installed for this PostgreSQL", 1 unless $on;
			if ($lang eq 'sql')
			{
				my $sql = join("\n", @$lines) . "\n";
				skip "$name: pg_cron is not installed for this PostgreSQL", 1
				  if $sql =~ /\bcron\./ && !$have_cron;
				my ($rc, $out) = run_psql($on, $default, $sql, '-v', 'ON_ERROR_STOP=1');
				is($rc, 0, "$name: the example runs without an error")
				  or diag($out);
				next;
			}
			my @segments = segments($lines, $default);
			ok(scalar(@segments), "$name: the transcript has statements");
			my ($want, $got) = ('', '');
			for my $seg (@segments)
			{
				my ($sdb, $input, $expected) = @$seg;
				$want .= join("\n", @$expected) . "\n";
				$got .= (run_psql($on, $sdb, join("\n", @$input) . "\n"))[1];
			}
			is(normalize($got), normalize($want), "$name: psql prints what the README shows");
		}
	}
}

$_->stop for grep { defined } $node, $router;
done_testing();
