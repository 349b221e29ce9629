# test/perl/BatchstateTest.pm: what the TAP files of test/t share: a node
# set up as the scripts' throwaway cluster is, a database with batchstate,
# the SQLSTATE of a statement, psql and DBI connections to a node, a check
# that two texts are equal.
package BatchstateTest;

use strict;
use warnings;

use Cwd qw(abs_path);
use DBI;
use Exporter 'import';
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(repo_path control_version start_node create_db sqlstate
  psql_out is_text dbi_connect bin_of);

my $REPO = abs_path(dirname(__FILE__) . '/../..');

# repo_path(PARTS...): a path in the checkout.
sub repo_path { return join('/', $REPO, @_) }

# control_version(): default_version of batchstate.control.
sub control_version
{
	my ($v) = slurp_file(repo_path('batchstate.control')) =~
	  /^default_version\s*=\s*'([^']+)'/m;
	return $v // die "batchstate.control has no default_version\n";
}

# start_node(NAME, conf => TEXT, install_path => DIR, start_env => {...}):
# a new node, initialized like the scripts' throwaway cluster (UTF-8,
# ICU's en-US as the default collation, so that a test proves batchstate
# orders ids by COLLATE "C" itself), started with start_env added to the
# server's environment.  Statements are not logged (the hostile corpus
# sends megabytes of them) and a crashed backend restarts the server, as
# by PostgreSQL's default; conf follows.
sub start_node
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name,
		$opt{install_path} ? (install_path => $opt{install_path}) : ());
	$node->init(
		extra => [
			'-E', 'UTF8', '--locale=C.UTF-8',
			'--locale-provider=icu', '--icu-locale=en-US'
		]);
	$node->append_conf('postgresql.conf',
		"log_statement = none\nrestart_after_crash = on\n" . ($opt{conf} // ''));
	local @ENV{ keys %{ $opt{start_env} // {} } } = values %{ $opt{start_env} // {} };
	$node->start;
	return $node;
}

# create_db(NODE, DB, extension => 0): a database as the old suites made
# them (from template0, UTF8, LC_COLLATE and LC_CTYPE 'C' under the node's
# ICU default collation), with batchstate unless extension => 0.
sub create_db
{
	my ($node, $db, %opt) = @_;
	$node->safe_psql('postgres',
		qq{CREATE DATABASE "$db" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'});
	$node->safe_psql($db, 'CREATE EXTENSION batchstate')
	  if $opt{extension} // 1;
	return $db;
}

# sqlstate(NODE, DB, SQL): the SQLSTATE the last statement of SQL ends
# with, '' when it succeeds (psql's own SQLSTATE variable).
sub sqlstate
{
	my ($node, $db, $sql) = @_;
	my ($rc, $out) = $node->psql($db,
		"SET client_min_messages = warning;\n$sql;\n\\echo :SQLSTATE",
		on_error_stop => 0);
	my $state = (split /\n/, $out)[-1] // '';
	return $state eq '00000' ? '' : $state;
}

# psql_out(NODE, DB, SQL, env => {...}, args => [...]): psql's standard
# output and error for SQL (unaligned, tuples only, errors do not stop it),
# with extra environment (PGOPTIONS, ...) and arguments (-v, -f, ...).
sub psql_out
{
	my ($node, $db, $sql, %opt) = @_;
	local @ENV{ keys %{ $opt{env} // {} } } = values %{ $opt{env} // {} };
	my ($rc, $out, $err) = $node->psql($db, $sql,
		on_error_stop => $opt{on_error_stop} // 0,
		extra_params => $opt{args} // []);
	return wantarray ? ($out, $err, $rc) : $out;
}

# is_text(GOT, WANT, NAME): a check that two texts are equal; on a
# difference, the first 40 lines of `diff -u` (- expected, + found).
sub is_text
{
	my ($got, $want, $name) = @_;
	return pass($name) if $got eq $want;
	my $dir = PostgreSQL::Test::Utils::tempdir;
	append_to_file("$dir/want", $want);
	append_to_file("$dir/got", $got);
	my ($diff) = run_command([ 'diff', '-u', "$dir/want", "$dir/got" ]);
	fail($name);
	diag(join("\n", grep { defined } (split /\n/, $diff)[ 0 .. 39 ]));
	return 0;
}

# dbi_connect(NODE, DB, USER, {ATTR}): a DBD::Pg connection, autocommit,
# errors returned rather than raised; undef when it fails.
sub dbi_connect
{
	my ($node, $db, $user, $attr) = @_;
	my $dsn = "dbi:Pg:dbname=$db;host=" . $node->host . ';port=' . $node->port;
	return DBI->connect($dsn, $user // '', '',
		{ AutoCommit => 1, RaiseError => 0, PrintError => 0, PrintWarn => 0,
		  %{ $attr // {} } });
}

# bin_of(NODE, PROGRAM): the program of the node's installation (its
# install_path, else the one on PATH, which make prove_installcheck sets).
sub bin_of
{
	my ($node, $program) = @_;
	my $inst = $node->install_path;
	return $inst ? "$inst/bin/$program" : $program;
}

1;
