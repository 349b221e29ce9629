# test/t/030_sanitizer.pl: the regression, isolation and hostile suites
# against an AddressSanitizer build of batchstate; fails on any sanitizer
# report, a crash, or a failing suite, and proves with a deliberate heap
# overflow that a report would be written.
#
# Bespoke on purpose: the build and the installation are private copies.
#  1. The sources (Makefile, control file, SQL, src/, test/ ...) are copied
#     to a temporary directory and built there with -fsanitize=address: the
#     normal build and the installed batchstate.so are never touched.
#  2. BatchstateTest::Install::private_install lays out a copy of the
#     installation (PostgreSQL finds lib/ and share/ relative to its own
#     executable), where the ASan batchstate.so replaces the normal one;
#     the node runs it (Cluster.pm's install_path).
#  3. The server starts with gcc's libasan preloaded (the postgres
#     executable is not instrumented; the runtime must come first) and
#     ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=... (memory
#     palloc'd in a context is not freed by free(): leak reports would
#     only describe PostgreSQL's design).  glibc's bindtextdomain()
#     deadlocks with libasan preloaded into an uninstrumented executable; a
#     ten-line shim, preloaded after it, makes the gettext functions return
#     their argument (messages stay English, as the tests expect anyway).
#
# ASan sees the extension's own code (every load and store it makes) and
# every malloc/free/memcpy/str* of the process, not the inside of
# PostgreSQL's memory contexts: running past a small palloc chunk goes
# unnoticed unless it leaves the block; chunks over 8 kB are blocks of
# their own and are checked.
#
# SANITIZER_SUITES (default "regress isolation hostile"; "memory" adds
# BatchstateTest::Memory, about a minute more).
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Hostile;
use BatchstateTest::Install;
use BatchstateTest::Memory;
use Cwd ();
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

my @suites = split ' ', $ENV{SANITIZER_SUITES} // 'regress isolation hostile';
my $work = PostgreSQL::Test::Utils::tempdir;
my @asan = qw(-fsanitize=address -fno-omit-frame-pointer -g -O1);

# --- 1. the ASan build ------------------------------------------------------
my $src = "$work/src";
mkdir $src;
my @sources = grep { -e } map { repo_path($_) }
  qw(Makefile batchstate.control src sql expected test);
system_or_bail('cp', '-a', @sources, glob(repo_path('batchstate--*.sql')), $src);
unlink glob("$src/src/*.o"), glob("$src/src/*.bc"), glob("$src/*.so");
my @make = ('make', '-s', '-C', $src, '--no-print-directory', 'PG_CONFIG=pg_config');
my ($built, $log) = run_log_of(@make, 'with_llvm=no', "PG_CFLAGS=@asan",
	'PG_LDFLAGS=-fsanitize=address');
my ($symbols) = run_command([ 'nm', '-D', "$src/batchstate.so" ]);
ok($built && $symbols =~ /__asan_report/,
	'batchstate.so built with AddressSanitizer in a copy of the sources')
  or die "the ASan build failed:\n$log";

# make_var(NAME): a variable of the copied Makefile, PGXS's additions included
sub make_var
{
	my ($ok, $out) = run_log_of(@make, '-f', 'Makefile', '-f', '-', 'print-var', "VAR=$_[0]",
		{ stdin => 'print-var: ; @echo $($(VAR))' });
	return $out =~ s/\s+\z//r;
}

# run_log_of(COMMAND..., {stdin}): (success, standard output and error)
sub run_log_of
{
	my $opt = ref $_[-1] eq 'HASH' ? pop : {};
	my $out = '';
	my $ok = IPC::Run::run(\@_, '<', \($opt->{stdin} // ''), '>&', \$out);
	return ($ok, $out);
}

# --- 2. a private copy of the installation ----------------------------------
my $inst = private_install("$work/pg");
system_or_bail('cp', "$src/batchstate.so", $inst->{lib});
system_or_bail('cp', "$src/batchstate.control", glob("$src/batchstate--*.sql"), $inst->{ext});
my ($libdir) = run_command([ "$inst->{bin}/pg_config", '--pkglibdir' ]);
is($libdir, $inst->{lib}, 'the copied installation finds its own lib directory');

# --- 3. the node --------------------------------------------------------------
my ($libasan) = run_command([ 'gcc', '-print-file-name=libasan.so' ]);
$libasan = Cwd::abs_path($libasan);
append_to_file("$work/nls-shim.c", <<'EOF');
/* gettext as the identity: see test/t/030_sanitizer.pl */
char *textdomain(const char *d) { return (char *) (d ? d : "messages"); }
char *bindtextdomain(const char *d, const char *dir) { (void) d; return (char *) dir; }
char *bind_textdomain_codeset(const char *d, const char *c) { (void) d; return (char *) c; }
char *gettext(const char *m) { return (char *) m; }
char *dgettext(const char *d, const char *m) { (void) d; return (char *) m; }
char *dcgettext(const char *d, const char *m, int c) { (void) d; (void) c; return (char *) m; }
char *ngettext(const char *a, const char *b, unsigned long n) { return (char *) (n == 1 ? a : b); }
char *dngettext(const char *d, const char *a, const char *b, unsigned long n)
{ (void) d; return (char *) (n == 1 ? a : b); }
char *dcngettext(const char *d, const char *a, const char *b, unsigned long n, int c)
{ (void) d; (void) c; return (char *) (n == 1 ? a : b); }
EOF
system_or_bail('gcc', '-shared', '-fPIC', '-O2', '-o', "$work/nls-shim.so", "$work/nls-shim.c");
my $reports = "$work/asan";
mkdir $reports;
my $node = start_node('asan',
	install_path => $inst->{path},
	conf => "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_prepared_transactions = 10\n",
	start_env => {
		LD_PRELOAD => "$libasan $work/nls-shim.so",
		ASAN_OPTIONS => "detect_leaks=0:abort_on_error=1:halt_on_error=1:log_path=$reports/asan"
	});
my $postmaster = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];

$node->safe_psql('postgres', 'CREATE DATABASE batchstate_sanitizer');
my $maps = $node->safe_psql('batchstate_sanitizer', q{CREATE EXTENSION batchstate;
	SELECT batchstate.is_terminal('failed');
	SELECT pg_read_file('/proc/self/maps')});
ok(index($maps, "$inst->{lib}/batchstate.so") >= 0 && $maps =~ /libasan/,
	'a backend runs with libasan and the ASan batchstate.so');
$node->safe_psql('postgres', 'DROP DATABASE batchstate_sanitizer');

# --- 4. the suites --------------------------------------------------------------
my $pg_regress = $ENV{PG_REGRESS};
my %regress = (
	regress => [ 'pg_regress', $pg_regress, 'REGRESS' ],
	isolation => [ 'isolation tests',
		dirname(dirname($pg_regress)) . '/isolation/pg_isolation_regress', 'ISOLATION' ]);
for my $suite (@suites)
{
	if ($regress{$suite})
	{
		my ($label, $program, $var) = @{ $regress{$suite} };
		my @opts = split ' ', make_var("${var}_OPTS");
		my ($ok, $out) = run_log_of('sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', $src,
			$program, "--outputdir=$work/$suite", "--bindir=$inst->{bin}",
			'--host=' . $node->host, '--port=' . $node->port, @opts,
			split(' ', make_var($var)));
		ok($ok, "$label under ASan") or diag($out . slurp_or_empty("$work/$suite/regression.diffs"));
	}
	elsif ($suite eq 'hostile' || $suite eq 'memory')
	{
		my $module = 'BatchstateTest::' . ucfirst $suite;
		subtest "$suite suite under ASan" => sub { $module->can('run')->($node) };
	}
	else { fail("unknown suite \"$suite\" in SANITIZER_SUITES"); }
}

sub slurp_or_empty { my ($f) = @_; return -e $f ? substr(slurp_file($f), 0, 8000) : '' }

# --- 5. verdict -------------------------------------------------------------------
my @found = glob("$reports/asan*");
ok(!@found, 'no AddressSanitizer report')
  or diag(map { "---- $_\n" . substr(slurp_file($_), 0, 4000) } @found);
my $crashes = () = slurp_file($node->logfile) =~
  /terminated by signal|was terminated by exception|server process .* exited with exit code [^01]/g;
my $pid_now = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];
ok($crashes == 0 && $pid_now eq $postmaster,
	'the server never crashed nor restarted its backends')
  or diag("$crashes crash line(s) in " . $node->logfile);

# the canary: a deliberate heap overflow must be reported (last: it kills a backend)
append_to_file("$work/canary.c", <<'EOF');
/* a heap overflow on purpose, to prove that the sanitizer reports it */
#include "postgres.h"
#include "fmgr.h"
#include <stdlib.h>
PG_MODULE_MAGIC;
PG_FUNCTION_INFO_V1(canary_overflow);
Datum
canary_overflow(PG_FUNCTION_ARGS)
{
	volatile char *p = malloc(16);
	int			i = PG_GETARG_INT32(0);

	p[i] = 1;
	free((void *) p);
	PG_RETURN_INT32(i);
}
EOF
system_or_bail('gcc', @asan, '-fPIC', '-shared', '-I' . pg_config('--includedir-server'),
	'-o', "$work/canary.so", "$work/canary.c");
$node->psql('postgres', "CREATE FUNCTION pg_temp.canary(int) RETURNS int
	AS '$work/canary.so', 'canary_overflow' LANGUAGE C STRICT;
	SELECT pg_temp.canary(16)");
sleep 1;
ok((grep { slurp_file($_) =~ /heap-buffer-overflow/ } glob("$reports/asan*")),
	'the set-up catches errors: a deliberate heap overflow was reported');
# wait for the server's recovery from the canary, asking with pg_isready:
# poll_query_until writes its query to a psql that may already have given
# up on a server still recovering, and dies of the broken pipe (seen on 18)
my $back = 0;
for (1 .. 600)
{
	last if ($back = run_log([ bin_of($node, 'pg_isready'), '-q', '-h', $node->host, '-p', $node->port ]));
	sleep 0.1;
}
diag('the server did not come back after the canary') unless $back;

done_testing();
