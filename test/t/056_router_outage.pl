# test/t/056_router_outage.pl: failures at a shard, through batchstate_router,
# are bounded and named.  With one shard frozen (SIGSTOP on its postmaster
# and every backend: the socket stays open and nothing answers), each call
# routed to it fails within the configured bound plus 2 s, from a session
# that had a connection to it and from a fresh one, and with a
# statement_timeout shorter than the bound; the error names the partition
# and where it is.  Meanwhile every call to the other shard succeeds, none
# slower than a second; after SIGCONT the same session works again and the
# shards agree with what was acknowledged.  A shard's own errors name it,
# without a password; configure() sets the bound (10 s unless told) and
# refuses passwords; router 1.0 updated to 1.1 equals a fresh install and
# gets the bound.  The nodes are BatchstateTest::Router's.  Skipped where
# PL/Proxy is not installed.
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Install;
use BatchstateTest::Router;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use POSIX ();
use Time::HiRes qw(time sleep);
use Test::More;

my $BOUND = 3;    # seconds: the timeout this test configures
my $ext = pg_config('--sharedir') . '/extension';
plan skip_all => 'PL/Proxy is not installed (Debian: postgresql-15-plproxy)'
  unless -f "$ext/plproxy.control";
-f "$ext/$_.control" or die "$_ is not installed ($ext/$_.control): make install first\n"
  for qw(batchstate batchstate_router);

# The router runs on a private installation that has router 1.0's install
# script too, as it was released, for the upgrade at the end.
my ($release) = grep { $_->[0] eq '1.0' } released_versions('router/batchstate_router.control');
die "no release of batchstate_router 1.0 in the git history\n" unless $release;
my $inst = release_install(PostgreSQL::Test::Utils::tempdir . '/pg');
unlink "$inst->{ext}/batchstate_router--1.0.sql";    # a link to an installed copy, if any
append_to_file("$inst->{ext}/batchstate_router--1.0.sql",
	released_file($release->[1], 'router/batchstate_router--1.0.sql'));

my ($router, $shard0, $shard1) = setup(router_install => $inst->{path});
sq($_, 'CREATE EXTENSION batchstate') for 0, 1;
rq('CREATE EXTENSION batchstate_router CASCADE');
my $parts = 'ARRAY[' . join(', ', map { lit(part($_)) } 0, 1) . ']';
my $servers = q{SELECT array_to_string(srvoptions, ' ') FROM pg_foreign_server WHERE srvname = 'batchstate_shards'};

# --- configure(): the bound, and no passwords -------------------------------------------
is(join(' ', split /\n/, rq("SELECT batchstate_router.configure($parts); SELECT batchstate_router.timeout()", 1)),
	'2 10', 'configure() without a timeout bounds a call by 10 s (query_timeout 10 on the server)');
my $before = rq($servers);
like(err("SELECT batchstate_router.configure(ARRAY[" . lit(part(0) . ' password=secret') . ', ' . lit(part(1)) . '])'),
	qr/^22023 argument "partitions" must not hold a password \| Give the password in a user mapping/,
	'configure() refuses a connection string with a password: 22023, the hint says where passwords go');
like(err("SELECT batchstate_router.set_partition(1, " . lit(part(1) . " password = 'se cret'") . ')'),
	qr/^22023 argument "connstr" must not hold a password/, 'set_partition() refuses a password too');
for my $bad ([ q{'500 ms'}, '22023' ], [ q{'0'}, '22023' ], [ q{'2 days'}, '22023' ], [ q{'-3 s'}, '22023' ],
	[ 'NULL', '22004' ])
{
	like(err("SELECT batchstate_router.configure($parts, $bad->[0])"), qr/^$bad->[1] argument "timeout" must/,
		"configure() refuses the timeout $bad->[0]: $bad->[1]");
}
is(rq($servers), $before, 'the refused calls changed nothing on the server');
is(join(' ', split /\n/, rq("SELECT batchstate_router.configure($parts, '$BOUND s'); SELECT batchstate_router.timeout()", 1)),
	"2 $BOUND", "configure(partitions, '$BOUND s') sets the bound this test uses");
is(rq(q{SELECT batchstate_router.connection($$host=h1 port=5 user=u password=p dbname=d sslmode=require$$)
    || '|' || batchstate_router.connection($$ host = '/tmp/a b'  dbname=x password='p w' service=s $$)}),
	q{host=h1 port=5 dbname=d|host='/tmp/a b' dbname=x service=s},
	'errors show host, hostaddr, port, dbname and service of a connection string, never user or password');

# --- a shard's errors name it ---------------------------------------------------------------
my ($Q0, $Q1) = map {
	my $p = $_;
	rq("SELECT q FROM (SELECT 'q' || i AS q, i FROM generate_series(1, 100) i) s
	     WHERE batchstate_router.partition_of(q) = $p ORDER BY i LIMIT 1")
} 0, 1;
my ($where0, $where1) = map { sprintf('host=%s port=%d dbname=batchstate_router_shard', $_->host, $_->port) }
  $shard0, $shard1;
note "queue $Q0 on partition 0 ($where0), queue $Q1 on partition 1 ($where1)";
rq("SELECT batchstate.create_batch('$Q0/batch/1', '$Q0'); SELECT batchstate.create_batch('$Q1/batch/1', '$Q1');
    CREATE SEQUENCE public.ids START 2");
like(err("SELECT batchstate.update_state('$Q1/batch/1', 1, 'done')"),
	qr/^22023 partition 1 \(\Q$where1\E\): unrecognized batch state "done" in argument "new_state" \| Valid states are/,
	"a shard's error: its SQLSTATE, its message after the partition and its connection, its hint as it was");
like(err("SELECT batchstate.create_batch('$Q0/batch/1', '$Q0')"),
	qr/^23505 partition 0 \(\Q$where0\E\): batch "\Q$Q0\E\/batch\/1" already exists/,
	'another shard, another name: partition 0 and its connection');
like(err(q{SELECT batchstate.batch_get('nope')}), qr/^22023 batch id "nope" is not of the form/,
	"the router's own errors (routing) come as they are, naming no shard");

# --- one shard frozen ----------------------------------------------------------------------
my $session = dbi_connect($router, 'batchstate_router');
my $call = sub {
	my ($sql) = @_;
	my $t0 = time;
	my $row = $session->selectrow_arrayref($sql);
	return (time - $t0, $row ? "ok:$row->[0]" : $session->state . ' ' . ($session->errstr =~ s/^ERROR:\s+//r));
};
my ($t, $got) = $call->("SELECT count(*) FROM batchstate.list_active('$Q1')");
is($got, 'ok:1', "a router session reads $Q1 on shard 1: it has a connection to it now");

# the calls to the live shard, all the time: reads and creates, two clients
my $dir = PostgreSQL::Test::Utils::tempdir;
append_to_file("$dir/live.sql", "SELECT count(*) FROM batchstate.list_active('$Q0');
SELECT batchstate.create_batch('$Q0/batch/' || nextval('public.ids'), '$Q0');
SELECT id FROM batchstate.batch_get('$Q0/batch/1');\n");
my ($live_out, $live_err) = ('', '');
my $live = IPC::Run::start(
	[ bin_of($router, 'pgbench'), '-n', '-T', '22', '-c', '2', '-f', "$dir/live.sql",
		'--log', "--log-prefix=$dir/live", '-h', $router->host, '-p', $router->port, 'batchstate_router' ],
	'>', \$live_out, '2>', \$live_err);
sleep 1;

my ($pm) = slurp_file($shard1->data_dir . '/postmaster.pid') =~ /^(\d+)/;
my @frozen = ($pm, grep { /^\d+$/ } map { s/\s+//gr } split /\n/, `ps -o pid= --ppid $pm`);
my $freeze = time;
kill 'STOP', @frozen;
note "shard 1 frozen: postmaster $pm and " . (@frozen - 1) . ' children stopped';
# a router that does not bound its calls would wait for the shard for
# ever: a watchdog resumes it after a minute, and the checks fail instead
my $watchdog = fork // die "fork: $!\n";
if (!$watchdog)
{
	sleep 60;
	kill 'CONT', @frozen;
	POSIX::_exit(0);
}

my $named = qr/partition 1 \(\Q$where1\E\): no answer within/;
my @timed;
($t, $got) = $call->("SELECT count(*) FROM batchstate.list_active('$Q1')");
push @timed, [ 'a session with a connection to the frozen shard (list_active)', $t, $got, $BOUND ];
($t, $got) = $call->("SELECT batchstate.update_state('$Q1/batch/1', 1, 'scored')");
push @timed, [ 'the same session again (update_state: a new connection, not answered)', $t, $got, $BOUND ];
for my $fresh (
	[ 'a fresh session (create_batch)', "SELECT batchstate.create_batch('$Q1/batch/2', '$Q1')", $BOUND ],
	[ 'a fresh session, every shard (verify)', 'SELECT count(*) FROM batchstate.verify()', $BOUND ],
	[ 'a fresh session with statement_timeout 1500 ms (its deadline comes first)',
		"SET statement_timeout = 1500; SELECT count(*) FROM batchstate.list_active('$Q1')", 1.5 ])
{
	my $t0 = time;
	my ($out, $err) = psql_out($router, 'batchstate_router', $fresh->[1],
		env => { PGOPTIONS => '-c client_min_messages=warning' }, args => [ '-v', 'VERBOSITY=verbose' ]);
	push @timed, [ $fresh->[0], time - $t0, $err =~ /ERROR:\s+(\w+): (.*)/ ? "$1 $2" : "no error: $out", $fresh->[2] ];
}
for (@timed)
{
	my ($what, $secs, $result, $bound) = @$_;
	ok($secs <= $bound + 2 && $result =~ /^08006 $named/,
		sprintf('frozen shard: %s fails in %.1f s (bound %s s + 2 s) with 08006 naming partition 1',
			$what, $secs, $bound))
	  or diag("got: $result");
}
like($timed[-1][2], qr/no answer within 1\.\d+ s/, 'with the statement_timeout shorter, the error says the shorter bound');

my $thaw = time;
kill 'CONT', @frozen;
kill 'KILL', $watchdog;
waitpid $watchdog, 0;
note sprintf('shard 1 resumed after %.1f s', $thaw - $freeze);
ok($live->finish, 'the live load (pgbench on shard 0) ended well') or diag($live_err);
my @lat;
for my $log (glob("$dir/live.*"))
{
	for (split /\n/, slurp_file($log))
	{
		my (undef, undef, $us, undef, $epoch) = split / /;
		push @lat, $us if $epoch >= $freeze && $epoch <= $thaw;
	}
}
my ($max) = sort { $b <=> $a } @lat;
ok(@lat > 0 && $live_out =~ /number of failed transactions: 0 / && $live_out !~ /aborted/,
	sprintf('while shard 1 was frozen, %d transactions on shard 0 (create_batch, list_active, batch_get) all succeeded',
		scalar @lat))
  or diag($live_out);
ok(defined $max && $max < 1_000_000, sprintf('none of them waited: the slowest took %.1f ms', ($max // 0) / 1000));

# --- after the freeze ----------------------------------------------------------------------
($t, $got) = $call->("SELECT count(*) FROM batchstate.list_active('$Q1')");
is($got, 'ok:1', sprintf('shard 1 back: the same router session reads %s again (%.1f s)', $Q1, $t));
($t, $got) = $call->("SELECT batchstate.update_state('$Q1/batch/1', 1, 'scored')");
is($got, 'ok:1', 'and writes: the update the freeze refused never happened, so version 1 still wins');
$session->disconnect;
my $creates = rq(q{SELECT last_value - 1 FROM public.ids});
is(sq(0, "SELECT count(*) - 1 FROM batchstate.batch WHERE queue = '$Q0'"), $creates,
	"shard 0 holds every batch the live load created ($creates)");
is(sq(1, "SELECT string_agg(id || ' ' || state || ' ' || version, ',') FROM batchstate.batch"),
	"$Q1/batch/1 scored 2", 'shard 1 holds its batch as acknowledged, and nothing a refused call sent');
is(verify_everywhere(), '0|0|0', 'verify() is empty through the router and on each shard');

# --- router 1.0 updated to 1.1 -------------------------------------------------------------
$router->safe_psql('postgres', 'CREATE DATABASE router_10');
my $catalog = q{SELECT format('%s %s(%s) -> %s strict=%s %s %s %s', p.pronamespace::regnamespace, p.proname,
        pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), p.proisstrict, p.provolatile,
        md5(p.prosrc), coalesce(obj_description(p.oid, 'pg_proc'), '-'))
   FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
   JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'batchstate_router'
  ORDER BY 1};
my ($out, $err) = psql_out($router, 'router_10', "CREATE EXTENSION batchstate_router VERSION '1.0' CASCADE;
	SELECT batchstate_router.configure($parts);
	ALTER EXTENSION batchstate_router UPDATE TO '1.1';
	SELECT batchstate_router.timeout();");
like($err, qr/batchstate_router 1.1: every call to a shard now ends after at most 10 s/,
	'updating a configured router 1.0 says that calls are now bounded');
is((split /\n/, $out)[-1], 10, 'and the server has query_timeout 10');
is_text(scalar(psql_out($router, 'router_10', $catalog)), rq($catalog),
	'router 1.0 updated to 1.1: the same functions, sources and comments as a fresh 1.1');
is(scalar(psql_out($router, 'router_10', "SELECT count(*) FROM batchstate.list_active('$Q0')")),
	rq("SELECT count(*) FROM batchstate.list_active('$Q0')"), 'and it routes as the fresh one');

done_testing();
