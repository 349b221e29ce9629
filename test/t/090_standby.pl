# test/t/090_standby.pl: batchstate on a hot standby, and a failover.
#
# A primary and a hot standby built with pg_basebackup, streaming through a
# replication slot, the standby synchronous.  Proves that
#   - every read answers on the standby exactly as on the primary once the
#     standby has caught up, and never prunes there;
#   - every function that writes is refused on the standby before it does
#     anything, with 25006 and a message that names the function;
#   - after kill -9 of the primary in the middle of a stream of creates and
#     the promotion of the standby, every create the primary acknowledged is
#     there, and verify() is empty.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'bs';

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', "CREATE DATABASE $db");
$primary->safe_psql($db, 'CREATE EXTENSION batchstate');
$primary->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('standby_slot')");

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', qq(
primary_slot_name = 'standby_slot'
hot_standby = on
));
$standby->start;

# synchronous from now on: a commit returns once the standby has flushed it
$primary->append_conf('postgresql.conf', qq(
synchronous_standby_names = 'standby'
synchronous_commit = on
));
$primary->reload;
$primary->poll_query_until('postgres',
	q{SELECT sync_state = 'sync' FROM pg_stat_replication WHERE application_name = 'standby'})
  or die 'the standby never became synchronous';
is($primary->safe_psql('postgres',
		"SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'"),
	'sync', 'the standby streams synchronously');
is($primary->safe_psql('postgres',
		"SELECT active FROM pg_replication_slots WHERE slot_name = 'standby_slot'"),
	't', 'the standby streams through its slot');

# --- data on the primary: every state, arrays, drift -------------------------

$primary->safe_psql($db, q{
	SELECT batchstate.create_batch('q1/batch/1', 'q1', 'speculating', '{q1/lr/1}');
	SELECT batchstate.create_batch('q1/batch/2', 'q1', 'creating', '{q1/lr/2,q1/lr/3}');
	SELECT batchstate.update_batch('q1/batch/2', 1, 'created', dependencies => '{q1/batch/1}');
	SELECT batchstate.create_batch('q1/batch/3', 'q1', 'merging', '{q1/lr/4}', '{q1/batch/1}', 0.5);
	SELECT batchstate.create_batch('q1/batch/4', 'q1', 'succeeded', '{q1/lr/2}');
	SELECT batchstate.create_batch('q2/batch/1', 'q2', 'cancelling');
	-- drift for the reads to see through: a terminal batch still filed
	-- (a list on the primary would prune its row; on the standby it may not)
	SELECT batchstate.create_batch('q4/batch/1', 'q4');
	SELECT batchstate.batch_update_state('q4/batch/1', 1, 2, 'failed');
	UPDATE batchstate.batch_state_membership SET since = since - interval '1 hour'
	 WHERE batch_id = 'q1/batch/1';
});
$primary->wait_for_catchup($standby, 'replay');

is($standby->safe_psql($db, 'SELECT pg_is_in_recovery()'), 't',
	'the standby is in recovery');

# --- reads: the same answers on both -----------------------------------------

my %reads = (
	batch_get => q{SELECT * FROM batchstate.batch_get('q1/batch/2')},
	list_batches => q{SELECT * FROM batchstate.list_batches('q1', 'created', 'creating', 'merging')},
	list_active => q{SELECT * FROM batchstate.list_active('q1')},
	list_batches_none => q{SELECT count(*) FROM batchstate.list_batches('q1')},
	membership_list_ids => q{SELECT * FROM batchstate.membership_list_ids('q1', 'created')},
	dependents_of => q{SELECT id, state FROM batchstate.dependents_of('q1', 'q1/batch/1', true)},
	batches_containing => q{SELECT id, state FROM batchstate.batches_containing('q1', 'q1/lr/2', true)},
	queue_stats => q{SELECT queue, state, batches, oldest_since FROM batchstate.queue_stats()},
	stuck_batches => q{SELECT id FROM batchstate.stuck_batches('q1', '30 minutes', VARIADIC batchstate.non_terminal_states())},
	verify => q{SELECT * FROM batchstate.verify()},
	policy => q{SELECT * FROM batchstate.states(), batchstate.active_states(), batchstate.cancellable_states()},
);
for my $name (sort keys %reads)
{
	my $want = $primary->safe_psql($db, $reads{$name});
	my ($rc, $got, $err) = $standby->psql($db, $reads{$name});
	is($rc, 0, "$name answers on the standby") or diag($err);
	is($got, $want, "$name on the standby equals the primary");
}
is($standby->safe_psql($db, q{SELECT * FROM batchstate.verify('q4')}),
	'stale|q4|created|q4/batch/1',
	'the drift replicated: a terminal batch still filed');
is($standby->safe_psql($db,
		q{SELECT count(*) FROM batchstate.list_batches('q4', 'created')}),
	'0', 'a list on the standby resolves past the terminal batch');
is($standby->safe_psql($db,
		q{SELECT count(*) FROM batchstate.batch_state_membership WHERE batch_id = 'q4/batch/1'}),
	'1', 'and does not prune on the standby');

# --- writes: every one refused, naming itself, before anything is done -------

my %writes = (
	create_batch => q{SELECT batchstate.create_batch('q1/batch/9', 'q1')},
	update_state => q{SELECT batchstate.update_state('q1/batch/1', 1, 'merging')},
	update_score_and_state =>
	  q{SELECT batchstate.update_score_and_state('q1/batch/1', 1, 0.5, 'speculating')},
	update_batch => q{SELECT batchstate.update_batch('q1/batch/1', 1, 'failed')},
	ensure_membership => q{SELECT batchstate.ensure_membership('q1/batch/1')},
	reconcile => q{SELECT * FROM batchstate.reconcile()},
	batch_create => q{SELECT batchstate.batch_create('q1/batch/9', 'q1', 'created')},
	batch_update_state => q{SELECT batchstate.batch_update_state('q1/batch/1', 1, 2, 'failed')},
	batch_update_score_and_state =>
	  q{SELECT batchstate.batch_update_score_and_state('q1/batch/1', 1, 2, 0.5, 'failed')},
	membership_add => q{SELECT batchstate.membership_add('q1', 'created', 'q1/batch/9')},
	membership_remove => q{SELECT batchstate.membership_remove('q1', 'created', 'q1/batch/2')},
);
for my $fn (sort keys %writes)
{
	my ($rc, $out, $err) =
	  $standby->psql($db, "\\set VERBOSITY verbose\n$writes{$fn}");
	isnt($rc, 0, "$fn fails on the standby");
	like($err,
		qr/ERROR:  25006: \Q$fn\E cannot run in a read-only transaction/,
		"$fn is refused with 25006, naming itself");
}
# reconcile() has drift to repair here (the terminal batch's row), and with
# nothing to repair it is refused all the same: it never reports 0|0
my ($rc, $out, $err) = $standby->psql($db,
	q{SELECT * FROM batchstate.reconcile('q9')});
like($err, qr/reconcile cannot run in a read-only transaction/,
	'reconcile with nothing to repair is refused too');
is($standby->safe_psql($db, q{SELECT count(*) FROM batchstate.verify()}),
	$primary->safe_psql($db, q{SELECT count(*) FROM batchstate.verify()}),
	'the refused writes changed nothing on the standby');

# --- failover: kill -9 the primary in a stream of creates, promote ------------

# the deliberate drift is repaired first, so that verify() after the
# failover speaks of the failover alone
is($primary->safe_psql($db, q{SELECT added || '|' || removed FROM batchstate.reconcile()}),
	'0|1', 'reconcile on the primary removes the terminal batch\'s row');
$primary->wait_for_catchup($standby, 'replay');

# One psql session creates batches one by one, each its own transaction,
# and echoes the number of each create after the create returned: a number
# on its output is a commit the primary acknowledged (synchronously: the
# standby had flushed it).
my $tmp = PostgreSQL::Test::Utils::tempdir;
PostgreSQL::Test::Utils::append_to_file("$tmp/creates.sql", join('', map {
		"SELECT batchstate.create_batch('q3/batch/$_', 'q3', contains => '{q3/lr/$_}');\n"
		  . "\\echo acked $_\n"
} 1 .. 20000));
# psql -o sends query results away; \echo still goes to standard output.
# The output is a file, so the writer runs without this script pumping it.
my $writer = IPC::Run::start(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-o', '/dev/null',
		'-d', $primary->connstr($db), '-f', "$tmp/creates.sql"
	],
	'>', "$tmp/acked.out", '2>', "$tmp/writer.err");
$primary->poll_query_until($db,
	q{SELECT count(*) >= 200 FROM batchstate.batch WHERE queue = 'q3'})
  or die 'the writer made no progress: ' . slurp_file("$tmp/writer.err");
$primary->kill9;
$writer->finish;
my @acked = slurp_file("$tmp/acked.out") =~ /^acked (\d+)$/mg;
cmp_ok(scalar(@acked), '>=', 200, 'the writer saw creates acknowledged before the crash');
cmp_ok(scalar(@acked), '<', 20000, 'the crash came in the middle of the stream');

$standby->promote;
$standby->poll_query_until($db, 'SELECT NOT pg_is_in_recovery()')
  or die 'the standby did not leave recovery';
my %have = map { $_ => 1 } split /\n/,
  $standby->safe_psql($db,
	q{SELECT substring(id FROM '[0-9]+$') FROM batchstate.batch WHERE queue = 'q3'});
my @lost = grep { !$have{$_} } @acked;
is(scalar(@lost), 0, 'no acknowledged create is lost after the failover')
  or diag('lost: ' . join(' ', @lost[0 .. ($#lost < 9 ? $#lost : 9)]));
is($standby->safe_psql($db, q{SELECT count(*) FROM batchstate.verify()}), '0',
	'verify() is empty on the promoted standby');
is($standby->safe_psql($db,
		q{SELECT batchstate.update_state('q1/batch/1', 1, 'merging')}), 't',
	'the promoted standby moves batches');
is($standby->safe_psql($db, q{SELECT added || '|' || removed FROM batchstate.reconcile()}),
	'0|0', 'and runs reconcile, with nothing to repair');

$standby->stop;
done_testing();
