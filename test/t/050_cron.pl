# test/t/050_cron.pl: scheduled repair with pg_cron, as the README recipe
# has it.  A node with shared_preload_libraries = 'pg_cron' and
# cron.database_name set; a writer role (USAGE on schema cron, the writer
# grants on batchstate) schedules SELECT batchstate.reconcile(), drift of
# every kind is introduced, and the scheduler must repair it within
# CRON_WAIT seconds (default 75: pg_cron < 1.5, Debian 12's 1.4, knows
# minutes only; with second intervals the job runs every 2 seconds).  A role
# without the writer grants schedules the same job and must see it fail.
# Skipped where pg_cron is not installed (scripts/test.sh installs Debian's).
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Install;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $wait = $ENV{CRON_WAIT} // 75;
my $db = 'batchstate_cron';
my ($writer, $nobody) = ('batchstate_cron_writer', 'batchstate_cron_nogrant');

plan skip_all => 'pg_cron is not installed for PostgreSQL ' . (pg_config('--version') =~ s/^PostgreSQL ([0-9]+).*/$1/sr) . ' (Debian 12 packages it for 15 only: postgresql-15-cron)'
  unless -f pg_config('--sharedir') . '/extension/pg_cron.control';

my $node = start_node('cron');
# pg_cron runs its jobs over libpq: the node listens on its unix socket only
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_cron'\n"
	  . "cron.database_name = '$db'\ncron.host = '" . $node->host . "'\n");
create_db($node, $db);
# the launcher gives up on a missing database: restart it now that one exists
$node->stop;
ok($node->start(fail_ok => 1), "a cluster with shared_preload_libraries = 'pg_cron' starts");

my $q = sub { $node->safe_psql($db, @_) };
my $as = sub { my ($role, $sql) = @_; $node->safe_psql($db, $sql, extra_params => [ '-U', $role ]) };
$q->('CREATE EXTENSION pg_cron');
note 'pg_cron ' . $q->("SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'");

# The scheduling roles: the job runs as the role that scheduled it.
$q->("CREATE ROLE $writer LOGIN;
	GRANT USAGE ON SCHEMA cron TO $writer;
	GRANT USAGE ON SCHEMA batchstate TO $writer;
	GRANT SELECT, INSERT, UPDATE, DELETE ON batchstate.batch, batchstate.batch_state_membership TO $writer;
	CREATE ROLE $nobody LOGIN;
	GRANT USAGE ON SCHEMA cron TO $nobody;
	GRANT USAGE ON SCHEMA batchstate TO $nobody;");

# batches, then drift of every kind
$q->("SELECT batchstate.create_batch('c/' || i, 'cq', 'created') FROM generate_series(1, 20) i");
$q->("SELECT batchstate.update_state('c/' || i, 1, CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'scored' END)
	FROM generate_series(1, 10) i");
my $batches = $q->('COPY (SELECT * FROM batchstate.batch ORDER BY id COLLATE "C") TO STDOUT');
$q->("SELECT batchstate.membership_remove('cq', 'scored', 'c/1');
	SELECT batchstate.membership_remove('cq', 'created', 'c/20');
	SELECT batchstate.membership_add('cq', 'merging', 'c/2');
	SELECT batchstate.membership_add('cq', 'failed', 'c/3');
	SELECT batchstate.membership_add('cq', 'created', 'c/ghost');
	SELECT batchstate.batch_create('c/primitive', 'cq', 'speculating')");
is($q->(q{SELECT string_agg(d, ',' ORDER BY d COLLATE "C")
	FROM (SELECT problem || ' ' || batch_id AS d FROM batchstate.verify()) v}),
	'dangling c/ghost,missing c/1,missing c/20,missing c/primitive,stale c/2,stale c/3',
	'drift before the job runs');

# The fastest schedule this pg_cron accepts: seconds need pg_cron >= 1.5.
my $schedule = '* * * * *';
my ($rc) = $node->psql($db, "SELECT cron.unschedule(cron.schedule('bs-probe', '2 seconds', 'SELECT 1'))",
	extra_params => [ '-U', $writer ]);
$schedule = '2 seconds' if $rc == 0;
note "schedule used: '$schedule' (the README recipe: '* * * * *')";
($rc) = $node->psql($db, "SELECT cron.schedule('bs-bad', 'every now and then', 'SELECT 1')",
	extra_params => [ '-U', $writer ]);
isnt($rc, 0, 'pg_cron rejects a malformed schedule');

my $job = $as->($writer, "SELECT cron.schedule('batchstate-reconcile', '$schedule', 'SELECT batchstate.reconcile()')");
my $job_nogrant = $as->($nobody,
	"SELECT cron.schedule('batchstate-reconcile-nogrant', '$schedule', 'SELECT batchstate.reconcile()')");
is($q->("SELECT jobname, schedule, command, database, username, active FROM cron.job WHERE jobid = $job"),
	"batchstate-reconcile|$schedule|SELECT batchstate.reconcile()|$db|$writer|t",
	"the writer's job is in cron.job (schedule, command, database, user)");
my $scheduled_at = $q->('SELECT now()');

# Wait, bounded: the drift repaired and both jobs finished a run.
note "waiting for pg_cron (up to ${wait}s)";
my $finished = sub {
	"(SELECT count(*) FROM cron.job_run_details WHERE jobid = $_[0] AND status IN ('succeeded', 'failed'))";
};
my ($t0, $left, $runs, $runs_nogrant) = (time);
while (1)
{
	($left, $runs, $runs_nogrant) = split /\|/, $q->("SELECT (SELECT count(*) FROM batchstate.verify()), "
		  . $finished->($job) . ', ' . $finished->($job_nogrant));
	last if ($left == 0 && $runs > 0 && $runs_nogrant > 0) || time - $t0 >= $wait;
	sleep 1;
}
note 'after ' . (time - $t0) . "s: $left drift rows left, $runs finished run(s) of the writer's job, "
  . "$runs_nogrant of the other";

is($left, 0, 'verify() is empty: the scheduled reconcile() repaired the drift');
is($q->("SELECT status, return_message, username, database FROM cron.job_run_details
	WHERE jobid = $job AND status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1"),
	"succeeded|1 row|$writer|$db", "cron.job_run_details shows a succeeded run of the writer's job");
is($q->("SELECT bool_and(start_time >= '$scheduled_at') FROM cron.job_run_details WHERE jobid = $job"), 't',
	'the run started after the job was scheduled');
like($q->("SELECT status || ': ' || return_message FROM cron.job_run_details
	WHERE jobid = $job_nogrant AND status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1"),
	qr/^failed: ERROR:  permission denied/,
	'a role without the writer grants: the job fails with permission denied');
is_text(join('', map { "$_\n" } grep { !/^c\/primitive\t/ }
		split /\n/, $q->('COPY (SELECT * FROM batchstate.batch ORDER BY id COLLATE "C") TO STDOUT')),
	"$batches\n", 'the scheduled reconcile() left every batch row as it was');
is($q->("SELECT count(*) FILTER (WHERE m.batch_id IS NULL) || ' ' || count(*)
	FROM batchstate.batch b LEFT JOIN batchstate.batch_state_membership m
	  ON m.queue = b.queue AND m.state = b.state AND m.batch_id = b.id
	WHERE NOT batchstate.is_terminal(b.state)") . ' '
	  . $q->('SELECT count(*) FROM batchstate.batch_state_membership'),
	'0 18 18', 'membership: exactly one row per non-terminal batch, under its state');
is($as->($writer, "SELECT cron.unschedule('batchstate-reconcile')"), 't', 'cron.unschedule removes the job');

done_testing();
