# test/t/055_router.pl: batchstate_router (router/) end to end on three
# nodes, a router and two shards: the router's API is a shard's; lifecycles
# of ROUTER_QUEUES queues (default 50, seed ROUTER_SEED) go through it and
# each queue lives on exactly the shard its partition names; errors come
# through with their SQLSTATEs; verify() and reconcile() combine the
# shards; roles connect to the shards as themselves; with a shard stopped
# its queues fail and the others go on; a router session outlives a shard
# restart; and the partition move of router/README.md, run as written
# there, moves a partition's queues to the other shard.  The nodes and the
# plan are BatchstateTest::Router's.  Skipped where PL/Proxy is not
# installed.
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Install;
use BatchstateTest::Router;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $queues = $ENV{ROUTER_QUEUES} // 50;
my $seed = $ENV{ROUTER_SEED} // 6;
my $ext = pg_config('--sharedir') . '/extension';
plan skip_all => 'PL/Proxy is not installed (Debian: postgresql-15-plproxy)'
  unless -f "$ext/plproxy.control";
-f "$ext/$_.control" or die "$_ is not installed ($ext/$_.control): make install first\n"
  for qw(batchstate batchstate_router);

my ($router, $shard0, $shard1) = setup();
is(scalar(grep { $_->psql('postgres', 'SELECT 1') == 0 } $router, $shard0, $shard1), 3,
	sprintf('three nodes up: router :%d, shard 0 :%d, shard 1 :%d', map { $_->port } $router, $shard0, $shard1));
is(join('|', sq(0, 'CREATE EXTENSION batchstate', 1), sq(1, 'CREATE EXTENSION batchstate', 1)), '|',
	'CREATE EXTENSION batchstate on both shards');
is(rq('CREATE EXTENSION batchstate_router CASCADE; SELECT batchstate_router.configure(ARRAY['
		  . join(', ', map { "'" . part($_) . "'" } 0, 1) . '])', 1), 2,
	'CREATE EXTENSION batchstate_router CASCADE on the router; configure() sets 2 partitions');

# --- the router has the API of a shard ---------------------------------------------
like(sq(0, 'CREATE EXTENSION batchstate_router CASCADE', 1),
	qr/cannot be installed in a database that has the extension batchstate/,
	'batchstate_router refuses a database that has batchstate');
my $sig = "SELECT string_agg(format('%s(%s) -> %s strict=%s set=%s', p.proname,
        pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), p.proisstrict, p.proretset),
        E'\\n' ORDER BY p.proname, pg_get_function_arguments(p.oid))
   FROM pg_proc p WHERE p.pronamespace = 'batchstate'::regnamespace";
is(rq($sig), sq(0, $sig), 'router schema batchstate: same function names, arguments, defaults and results as a shard');
my $type = "SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
   FROM pg_attribute a WHERE a.attrelid = 'batchstate.batch'::regclass AND a.attnum > 0 AND NOT a.attisdropped";
is(rq($type), sq(0, $type), "router type batchstate.batch has the columns of the shards' table");
my $policy = "SELECT (SELECT string_agg(s::text, ';') FROM batchstate.states() s)
     || ' ' || batchstate.non_terminal_states()::text || ' ' || batchstate.conflict_states()::text
     || ' ' || (SELECT string_agg(a.state || '>' || b.state || '=' || batchstate.can_transition(a.state, b.state), ',')
                  FROM batchstate.states() a, batchstate.states() b)
     || ' ' || batchstate.is_valid_state('nope') || batchstate.is_terminal('failed') || batchstate.is_halted('cancelling')";
is(rq($policy), sq(0, $policy), "policy on the router (batchstate's C functions, no shard asked) answers as on a shard");

# --- lifecycles of many queues ------------------------------------------------------
make_plan($queues, $seed);
note 'plan: ' . rq("SELECT count(DISTINCT queue) || ' queues, ' || count(*) || ' batches, '
	|| sum(cardinality(path)) || ' moves' FROM public.plan");
my $out = run_workload();
is($out, '', "lifecycles of $queues queues through the router (create_batch, update_state, "
	  . 'update_score_and_state, stale versions lose)');

# primitives through the router, in a queue of their own
is(join(' ', split /\n/, rq(q{SELECT batchstate.batch_create('prim/batch/1', 'prim', 'scored', '{lr1,lr2}', '{}', 0.5, 1);
SELECT batchstate.batch_update_state('prim/batch/1', 1, 2, 'merging');
SELECT batchstate.batch_update_state('prim/batch/1', 1, 2, 'merging');
SELECT batchstate.batch_update_score_and_state('prim/batch/1', 2, 3, 0.25, 'failed');
SELECT batchstate.membership_add('prim', 'merging', 'prim/batch/1');
SELECT string_agg(x, ',') FROM batchstate.membership_list_ids('prim', 'merging') x;
SELECT batchstate.membership_remove('prim', 'merging', 'prim/batch/1');
SELECT count(*) FROM batchstate.membership_list_ids('prim', 'merging');
SELECT b.contains::text || b.score || b.state || b.version FROM batchstate.batch_get('prim/batch/1') b}, 1), -1),
	' t f t  prim/batch/1  0 {lr1,lr2}0.25failed3',
	'primitives through the router: batch_create, batch_update_*, membership_add/list/remove, batch_get');
rq(q{INSERT INTO public.plan VALUES ('prim', 'prim/batch/1', '{}', 'failed', 3, 0.25)});
check_plan('batch_get through the router: every batch has its planned state, version and score');

my $nq = rq('SELECT count(DISTINCT queue) FROM public.plan');
is(per_queue('NOT batchstate.is_terminal(p.final)', '(SELECT id FROM batchstate.list_active(q.queue)) x(x)'),
	"0 of $nq queues differ", 'list_active of every queue: its non-terminal batches, in byte order');
is(per_queue("p.final IN ('scored', 'merging')",
		"(SELECT id FROM batchstate.list_batches(q.queue, 'succeeded', 'scored', 'merging')) x(x)"),
	"0 of $nq queues differ",
	'list_batches(queue, VARIADIC states) of every queue (terminal batches have no membership: none listed)');
is(per_queue("p.final = 'created'", "batchstate.membership_list_ids(q.queue, 'created') x"),
	"0 of $nq queues differ", "membership_list_ids(queue, 'created') of every queue");

# --- placement ---------------------------------------------------------------------------
check_placement("every queue's rows live on exactly one shard, the one batchstate_router.partition_of() names");
my @count = map { sq($_, 'SELECT count(DISTINCT queue) FROM batchstate.batch') } 0, 1;
ok($count[0] > 0 && $count[1] > 0, "queues spread over both shards: $count[0] on shard 0, $count[1] on shard 1");
is(sq(0, 'SELECT count(*) FROM batchstate.batch') + sq(1, 'SELECT count(*) FROM batchstate.batch'),
	rq('SELECT count(*) FROM public.plan'), 'the shards hold exactly the planned batches');
is(verify_everywhere(), '0|0|0', 'verify() is empty through the router and on each shard');

# --- errors through the router ------------------------------------------------------
my $first = sub { rq("SELECT $_[0] FROM public.plan WHERE $_[1] ORDER BY $_[0] COLLATE \"C\" LIMIT 1") };
my $Q0 = $first->('queue', "queue <> 'prim' AND batchstate_router.partition_of(queue) = 0");
my $Q1 = $first->('queue', "queue <> 'prim' AND batchstate_router.partition_of(queue) = 1");
my $A0 = $first->('id', 'queue = ' . lit($Q0));
my $A1 = $first->('id', 'queue = ' . lit($Q1));
my $T0 = $first->('id', "batchstate.is_terminal(final) AND queue <> 'prim'");
note qq{shard 0 queue "$Q0" (batch $A0), shard 1 queue "$Q1" (batch $A1), terminal batch $T0};
like(err("SELECT batchstate.batch_get('$Q0/batch/99999')"), qr/^P0002 .*does not exist/,
	'a missing batch raises P0002 through the router');
like(err("SELECT batchstate.create_batch('$A1', '$Q1')"), qr/^23505 /, 'a duplicate id raises 23505 through the router');
my $tv = rq("SELECT version FROM public.plan WHERE id = '$T0'");
like(err("SELECT batchstate.update_state('$T0', $tv, 'created')"), qr/^55000 .*cannot move/,
	'a move the policy forbids raises 55000 through the router');
like(err("SELECT batchstate.list_batches('$Q1', 'created', 'bogus')"),
	qr/^22023 .*unrecognized batch state.* \| .*Valid states are/,
	"an unknown state raises 22023 through the router, the shard's hint with it");
like(err("SELECT batchstate.update_state('$A0', 2147483647, 'failed')"), qr/^22003 /,
	'expected_version 2147483647 raises 22003 through the router');
like(err('SELECT batchstate.batch_get(NULL)'), qr/^22004 argument "id" must not be null/,
	'a NULL id raises 22004 naming it, on the router');
like(err('SELECT * FROM batchstate.list_active(NULL)'), qr/^22004 argument "queue" must not be null/,
	'a NULL queue raises 22004 naming it, on the router');
like(err("SELECT batchstate.create_batch('q-other/batch/1', '$Q0')"),
	qr{^22023 batch id "q-other/batch/1" is not of the form "[^"]*/batch/<n>" \| Use an id such as},
	'create_batch refuses an id that does not start with "<queue>/": 22023 with a hint');
like(err("SELECT batchstate.create_batch('$Q0/batch/x1', '$Q0')"), qr/^22023 /,
	'create_batch refuses "<queue>/batch/<n>" with a non-numeric n: 22023');
my $refused = "SELECT count(*) FROM batchstate.batch WHERE id IN ('q-other/batch/1', '$Q0/batch/x1')";
is(sq(0, $refused, 1) . '|' . sq(1, $refused, 1), '0|0', 'a refused create_batch writes nothing on any shard');
like(err("SELECT batchstate.update_state('q1-batch-7', 1, 'scored')"),
	qr{^22023 batch id "q1-batch-7" is not of the form "<queue>/batch/<n>" \| .+},
	'an id-keyed call with an id not of the form "<queue>/batch/<n>" raises 22023 with a hint');
is(rq("SELECT batchstate.ensure_membership('$A0')", 1), 'f',
	'ensure_membership through the router (already filed: false)');

# --- verify and reconcile combine the shards -------------------------------------------
# Drift on both shards, in queues chosen so that shard 1's sorts first: the
# router must sort what the shards return, not just append it.
my $active = sub {
	my ($p, $order) = @_;
	return split /\|/, rq("SELECT queue || '|' || id || '|' || final FROM public.plan
	    WHERE batchstate_router.partition_of(queue) = $p AND NOT batchstate.is_terminal(final)
	    ORDER BY queue COLLATE \"C\" $order, id COLLATE \"C\" LIMIT 1");
};
my ($D0, $M0, $MS0) = $active->(0, 'DESC');
my ($D1, $M1, $MS1) = $active->(1, 'ASC');
note qq{drift in "$D0" (shard 0) and "$D1" (shard 1)};
if ($M0 && $M1)
{
	my @drift = ([ 'missing', $D0, $MS0, $M0 ], [ 'dangling', $D0, 'merging', "$D0/batch/9999" ],
		[ 'missing', $D1, $MS1, $M1 ], [ 'dangling', $D1, 'merging', "$D1/batch/9999" ]);
	rq(join(";\n", map {
		$_->[0] eq 'missing'
		  ? "SELECT batchstate.membership_remove(" . lit($_->[1]) . ", '$_->[2]', " . lit($_->[3]) . ')'
		  : "SELECT batchstate.membership_add(" . lit($_->[1]) . ", 'merging', " . lit($_->[3]) . ')' } @drift));
	my $want = rq("SELECT string_agg(concat_ws(',', problem, queue, state, batch_id), ';'
	        ORDER BY queue COLLATE \"C\", batch_id COLLATE \"C\", state COLLATE \"C\", problem)
	    FROM (VALUES " . join(', ', map { '(' . join(', ', map { lit($_) } @$_) . ')' } @drift)
	      . ') v(problem, queue, state, batch_id)');
	is(rq("SELECT string_agg(concat_ws(',', problem, queue, state, batch_id), ';') FROM batchstate.verify()", 1),
		$want, "verify() through the router combines both shards' drift, in (queue, batch_id, state) order");
	is(rq('SELECT count(*) FROM batchstate.verify(' . lit($D1) . ')', 1), 2,
		"verify(queue) reports that queue's drift only");
	my $reconcile = "SELECT added || '|' || removed FROM batchstate.reconcile()";
	is(rq($reconcile, 1), '2|2', "reconcile() through the router returns one row with the shards' sums");
	is(verify_everywhere() . ' ' . rq($reconcile, 1), '0|0|0 0|0',
		'after reconcile() verify() is empty everywhere, and reconcile() finds nothing');
}
else { fail("verify()/reconcile() combine the shards: no queue with an active batch on each shard (seed $seed)") }

# --- batchstate 1.3 through the router: routed as their queue, merged ------------------
{
	my ($q0, $b1, $b2) = (lit($Q0), lit("$Q0/batch/8001"), lit("$Q0/batch/8002"));
	is(join(' ', split /\n/, rq("SELECT (batchstate.create_batch($b1, $q0, 'speculating', '{lr-8001}')).state;
		SELECT (batchstate.create_batch($b2, $q0, 'creating', '{lr-8002,lr-8001}')).state;
		SELECT batchstate.update_batch($b2, 1, 'created', dependencies => ARRAY[$b1]);
		SELECT batchstate.update_batch($b2, 1, 'failed')")),
		'speculating creating t f',
		'update_batch through the router: the promotion wins, a stale version returns false');
	my $shard = 0;    # $Q0 is a queue of partition 0, on shard 0
	for my $read (
		[ 'dependents_of', "SELECT id, state FROM batchstate.dependents_of($q0, $b1, true)" ],
		[ 'batches_containing', "SELECT id, state FROM batchstate.batches_containing($q0, 'lr-8001')" ],
		[ 'queue_stats(queue)', "SELECT queue, state, batches, oldest_since FROM batchstate.queue_stats($q0)" ],
		[ 'stuck_batches', "SELECT id FROM batchstate.stuck_batches($q0, '0', VARIADIC batchstate.non_terminal_states())" ])
	{
		my $want = sq($shard, $read->[1]);
		isnt($want, '', "$read->[0]: the queue's shard has an answer");
		is(rq($read->[1]), $want, "$read->[0] through the router answers as the queue's shard");
	}
	is(rq("SELECT string_agg(id, ',') FROM batchstate.dependents_of($q0, $b1)"), "$Q0/batch/8002",
		'dependents_of through the router finds the promoted batch');
	my $stats = q{SELECT queue, state, batches, oldest_since FROM batchstate.queue_stats()};
	my $merged = join("\n", sort { (split /\|/, $a)[0] cmp (split /\|/, $b)[0] }
		grep { $_ ne '' } split(/\n/, sq(0, $stats)), split(/\n/, sq(1, $stats)));
	is(scalar(split /\n/, rq($stats)), scalar(split /\n/, $merged),
		'queue_stats() through the router has the rows of both shards');
	is(rq("SELECT string_agg(queue, ',' ORDER BY n) FROM (SELECT queue, row_number() OVER () AS n FROM batchstate.queue_stats()) s
		WHERE n % 6 = 1"),
		rq("SELECT string_agg(queue, ',' ORDER BY queue COLLATE \"C\") FROM (SELECT DISTINCT queue FROM batchstate.queue_stats()) s"),
		'queue_stats() through the router: queues in byte order, six states each');
	like(err("SELECT batchstate.update_batch('$Q0/batch/8002', 2, 'creating')"), qr/^55000 /,
		'a forbidden update_batch raises 55000 through the router');
	like(err("SELECT * FROM batchstate.stuck_batches($q0, '-1 day', 'created')"), qr/^22023 /,
		'a negative interval raises 22023 through the router');
	is(rq("SELECT count(*) FROM batchstate.list_batches($q0)"), 0,
		'list_batches with no states through the router: nothing');
	is(rq('SELECT batchstate.is_cancellable(\'merging\') || \'|\' || array_to_string(batchstate.active_states(), \',\')'),
		'false|created,scored,speculating,merging,cancelling', 'the 1.3 policy functions answer on the router');
}

# --- roles: the grants router/README.md lists -----------------------------------------------
sq($_, "CREATE ROLE queue_writer LOGIN; CREATE ROLE queue_reader LOGIN;
	GRANT USAGE ON SCHEMA batchstate TO queue_writer, queue_reader;
	GRANT SELECT, INSERT, UPDATE, DELETE ON batchstate.batch, batchstate.batch_state_membership TO queue_writer;
	GRANT SELECT ON batchstate.batch, batchstate.batch_state_membership TO queue_reader") for 0, 1;
rq('CREATE ROLE queue_writer LOGIN; CREATE ROLE queue_reader LOGIN; CREATE ROLE no_server LOGIN;
	GRANT USAGE ON SCHEMA batchstate TO queue_writer, queue_reader, no_server;
	GRANT USAGE ON FOREIGN SERVER batchstate_shards TO queue_writer, queue_reader');
my ($lq1, $new1) = (lit($Q1), lit("$Q1/batch/7100"));
is(join(' ', split /\n/, rq_as('queue_writer', "SELECT (batchstate.create_batch($new1, $lq1)).version;
	SELECT batchstate.update_state($new1, 1, 'scored');
	SELECT count(*) FROM batchstate.list_active($lq1) WHERE id = $new1;
	SELECT count(*) FROM batchstate.verify();
	SELECT added + removed FROM batchstate.reconcile()")), '1 t 1 0 0',
	"a role with the README's grants works through the router, connecting to the shards as itself");
rq("INSERT INTO public.plan VALUES ($lq1, $new1, '{scored}', 'scored', 2, 0)");
is(rq_as('queue_reader', "SELECT count(*) FROM batchstate.list_active($lq1) WHERE id = $new1"), 1,
	'a reader reads through the router');
like(rq_as('queue_reader', 'SELECT public.err($e$SELECT batchstate.create_batch(' . lit("$Q1/batch/7101")
		  . ", $lq1)\$e\$)"), qr/^42501 .*permission denied for table batch/,
	"a reader cannot write: the shard checks the rights of the router's user (42501 passed on)");
like(rq_as('no_server', "SELECT * FROM batchstate.list_active($lq1)"),
	qr/permission denied for foreign server batchstate_shards/,
	'a role without USAGE on the foreign server batchstate_shards is refused');

# A limit, written down in router/README.md: each call commits on its shard.
my ($lq0, $new0) = (lit($Q0), lit("$Q0/batch/7001"));
rq("BEGIN; SELECT batchstate.create_batch($new0, $lq0); ROLLBACK");
is(rq("SELECT state FROM batchstate.batch_get($new0)", 1), 'created',
	'limit: a router ROLLBACK does not undo a call (each call commits on its shard)');
rq("INSERT INTO public.plan VALUES ($lq0, $new0, '{}', 'created', 1, 0)");

# --- a shard outage ------------------------------------------------------------------------
note 'stopping shard 1';
$shard1->stop;
my $socket = $shard1->host . '/.s.PGSQL.' . $shard1->port;
my $down = qr/^08001 partition 1 \(host=\Q${\ $shard1->host }\E port=${\ $shard1->port } dbname=\w+\): could not connect \| .*connection to server on socket "\Q$socket\E" failed/s;
like(err("SELECT * FROM batchstate.list_active($lq1)"), $down,
	"shard 1 down: a read for its queue fails with 08001 naming the partition and where it is, libpq's reason in the detail");
like(err('SELECT batchstate.create_batch(' . lit("$Q1/batch/7002") . ", $lq1)"), $down,
	'shard 1 down: a write for its queue fails the same way');
my $new2 = lit("$Q0/batch/7002");
my $out2 = rq("SELECT batchstate.create_batch($new2, $lq0); SELECT batchstate.update_state($new2, 1, 'scored')", 1);
is((split /\n/, $out2)[-1], 't', "shard 1 down: creates and moves in shard 0's queues go on");
rq("INSERT INTO public.plan VALUES ($lq0, $new2, '{scored}', 'scored', 2, 0)");
is(rq("SELECT count(*) FILTER (WHERE (b.state, b.version) IS DISTINCT FROM (p.final, p.version)) || ' differ'
	FROM public.plan p, LATERAL batchstate.batch_get(p.id) b
	WHERE batchstate_router.partition_of(p.queue) = 0", 1), '0 differ',
	"shard 1 down: every batch of shard 0's queues reads back as planned");
like(err('SELECT * FROM batchstate.verify()'), $down,
	'shard 1 down: verify() of every queue fails (it needs every shard), naming the one it could not reach');
is(rq("SELECT count(*) FROM batchstate.verify($lq0)", 1), 0, 'shard 1 down: verify() of a shard 0 queue works');
is(rq("SELECT batchstate.can_transition('merging', 'succeeded') || '|' || batchstate.is_terminal('created')", 1),
	'true|false', 'shard 1 down: the policy still answers on the router');

note 'restarting shard 1';
$shard1->start;
check_plan('shard 1 back: every batch reads back as planned, those written during the outage too');
is(verify_everywhere(), '0|0|0', 'shard 1 back: verify() is empty through the router and on each shard');

# A router session that had a connection to shard 1 before a restart:
# PL/Proxy may fail the first call on the dead connection, and reconnects
# for the next.
my $session = dbi_connect($router, 'batchstate_router');
my $call = sub {
	my ($sql, @bind) = @_;
	my $row = $session->selectrow_arrayref($sql, undef, @bind);
	return $row ? "ok:$row->[0]" : 'error: ' . $session->errstr;
};
my @got = ($call->('SELECT id FROM batchstate.batch_get($1)', $A1));
$shard1->restart;
push @got, map { $call->('SELECT id FROM batchstate.batch_get($1)', $A1) } 1, 2;
ok($got[0] eq "ok:$A1" && $got[2] eq "ok:$A1",
	'a router session outlives a shard restart: the call after the first one works')
  or diag("before: $got[0]\nfirst: $got[1]\nsecond: $got[2]");

# --- adding partitions and moving one: the recipe of router/README.md ------------------------
# The recipe is run as written in the README: the function, extracted.
my ($recipe) = slurp_file(repo_path('router/README.md')) =~ /^(move_partition\(\) \{\n.*?^\}\n)/ms;
ok($recipe, 'router/README.md has the move_partition recipe') or die "no move_partition() block\n";
is(rq('SELECT batchstate_router.configure(ARRAY[' . join(', ', map { "'" . part($_) . "'" } 0, 1, 0, 1) . '])', 1),
	4, 'doubling to 4 partitions (p2 = shard 0, p3 = shard 1, as the README says)');
check_plan('4 partitions: every batch reads back as planned, no row moved');
check_placement("4 partitions: every queue still on one shard, the one partition_of() names");
my $p2 = rq('SELECT count(DISTINCT queue) FROM public.plan WHERE batchstate_router.partition_of(queue) = 2');
my $QP2 = $first->('queue', 'batchstate_router.partition_of(queue) = 2');
my $QP0 = $first->('queue', 'batchstate_router.partition_of(queue) = 0');
note qq{moving partition 2 ($p2 queues, e.g. "$QP2") from shard 0 to shard 1};
ok($p2 > 0, 'partition 2 holds queues to move') or die "no queue hashes to partition 2 (seed $seed)\n";

# The fence and the switch must reach router sessions that are already
# open (a pool): PL/Proxy rereads the server's options at each call.
my $fence = "SELECT batchstate_router.set_partition(2, '" . part(0) . " dbname=batchstate_p2_is_moving')";
my $unfence = "SELECT batchstate_router.set_partition(2, '" . part(0) . "')";
my $list_p2 = 'SELECT count(*) FROM batchstate.list_active($1)';
@got = ($call->($list_p2, $QP2));
rq($fence);
push @got, $call->($list_p2, $QP2);
rq($unfence);
push @got, $call->($list_p2, $QP2);
ok($got[0] =~ /^ok:/ && $got[1] =~ /batchstate_p2_is_moving/ && $got[2] =~ /^ok:/,
	"an open router session follows another session's ALTER SERVER at its next call")
  or diag(join("\n", @got));
$session->disconnect;
# step 1 of the recipe by hand, to look at the fence (move_partition sets it again)
rq($fence);
like(err('SELECT * FROM batchstate.list_active(' . lit($QP2) . ')'),
	qr/^08001 partition 2 \(.* dbname=batchstate_p2_is_moving\): could not connect \| .*database "batchstate_p2_is_moving" does not exist/s,
	'while fenced, calls for partition 2 fail at once naming the move');
like(rq('SELECT count(*) FROM batchstate.list_active(' . lit($QP0) . ')', 1), qr/^\d+$/,
	'while fenced, calls for other partitions work');
my $moved = '';
ok(IPC::Run::run([ 'bash', '-c', $recipe . 'move_partition "$@"', 'bash', 2, 4,
			conninfo(1), conninfo(2), part(1), conninfo(0) ], '<', \'', '>&', \$moved),
	'move_partition 2 4 shard0 shard1 router: fence, barrier, copy, compare, switch, delete')
  or diag($moved);
check_plan('after the move: every batch reads back as planned through the router');
check_placement("after the move: every queue on one shard; partition 2's queues on shard 1");
is(sq(0, 'SELECT count(*) FROM batchstate.batch WHERE hashtext(queue) & 3 = 2', 1), 0,
	"after the move: partition 2's queues are gone from shard 0");
is(verify_everywhere(), '0|0|0', 'after the move: verify() is empty through the router and on each shard');
my $new3 = lit("$QP2/batch/7003");
is(rq("SELECT batchstate.create_batch($new3, " . lit($QP2) . ') IS NOT NULL', 1)
	  . sq(1, "SELECT count(*) FROM batchstate.batch WHERE id = $new3", 1),
	't1', 'after the move: a new batch of a moved queue lands on shard 1');

done_testing();
