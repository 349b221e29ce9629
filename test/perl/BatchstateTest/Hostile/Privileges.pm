# test/perl/BatchstateTest/Hostile/Privileges.pm: section 3 of
# BatchstateTest::Hostile, run(NODE, DB) on its database and fixture: a
# role with no grant gets 42501 "permission denied for schema batchstate"
# from every function; a reader (USAGE + SELECT) can call every read
# function in read-write and read-only transactions and gets 42501 from
# the writes; a writer (USAGE + SELECT, INSERT, UPDATE, DELETE) can call
# everything; a list prunes only for a writer.
package BatchstateTest::Hostile::Privileges;

use strict;
use warnings;

use BatchstateTest::Cases;
use Test::More;

my ($NOBODY, $USAGE, $READER, $WRITER) =
  map { "batchstate_hostile_$_" } qw(nobody usage reader writer);

my @POLICY_READS = (
	"SELECT * FROM batchstate.states()",
	"SELECT batchstate.is_valid_state('created')",
	"SELECT batchstate.is_terminal('failed')",
	"SELECT batchstate.is_halted('merging')",
	"SELECT batchstate.non_terminal_states()",
	"SELECT batchstate.conflict_states()",
	"SELECT batchstate.active_states()",
	"SELECT batchstate.cancellable_states()",
	"SELECT batchstate.is_cancellable('merging')",
	"SELECT batchstate.can_transition('created', 'scored')");
my @TABLE_READS = (
	"SELECT * FROM batchstate.batch_get('q1/b1')",
	"SELECT * FROM batchstate.membership_list_ids('q1', 'created')",
	"SELECT * FROM batchstate.list_batches('q1', 'created', 'succeeded')",
	"SELECT * FROM batchstate.list_active('q1')",
	"SELECT * FROM batchstate.verify()",
	"SELECT * FROM batchstate.verify('q1')",
	"SELECT * FROM batchstate.dependents_of('q1', 'q1/b1', true)",
	"SELECT * FROM batchstate.batches_containing('q1', 'lr/2')",
	"SELECT * FROM batchstate.queue_stats()",
	"SELECT * FROM batchstate.stuck_batches('q1', '0', 'created')");
my @WRITES = (
	"SELECT batchstate.batch_create('q1/new', 'q1', 'created')",
	"SELECT batchstate.batch_update_state('q1/b1', 1, 2, 'scored')",
	"SELECT batchstate.batch_update_score_and_state('q1/b1', 1, 2, 0.5, 'scored')",
	"SELECT batchstate.membership_add('q1', 'created', 'q1/new')",
	"SELECT batchstate.membership_remove('q1', 'created', 'q1/b1')",
	"SELECT * FROM batchstate.create_batch('q1/new', 'q1')",
	"SELECT batchstate.update_state('q1/b1', 1, 'scored')",
	"SELECT batchstate.update_score_and_state('q1/b1', 1, 0.5, 'scored')",
	"SELECT batchstate.update_batch('q1/b1', 1, 'scored', '{lr/9}')",
	"SELECT batchstate.ensure_membership('q1/lost')",
	"SELECT * FROM batchstate.reconcile('q1')",
	"SELECT * FROM batchstate.reconcile()");

# case(ROLE, MODE, EXPECT, SQL): a case named after the call
sub case
{
	my ($role, $mode, $expect, $sql) = @_;
	(my $label = $sql) =~ s/^SELECT (\* FROM )?(batchstate\.)?//;
	return { label => $label, role => $role, mode => $mode, expect => $expect, sql => $sql };
}

sub run
{
	my ($node, $db) = @_;
	my $value = sub { $node->safe_psql($db, $_[0]) };
	note "privileges: $NOBODY (no grant), $USAGE (USAGE only), $READER, $WRITER";
	$value->(<<"EOF");
SET client_min_messages = warning;
CREATE ROLE $NOBODY;
CREATE ROLE $USAGE;
CREATE ROLE $READER;
CREATE ROLE $WRITER;
-- the GRANTs of the README
GRANT USAGE ON SCHEMA batchstate TO $USAGE, $READER, $WRITER;
GRANT SELECT ON batchstate.batch, batchstate.batch_state_membership TO $READER;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON batchstate.batch, batchstate.batch_state_membership TO $WRITER;
EOF
	is($value->("SELECT has_schema_privilege('$NOBODY', 'batchstate', 'USAGE')
	    OR has_table_privilege('$NOBODY', 'batchstate.batch', 'SELECT, INSERT, UPDATE, DELETE')
	    OR has_table_privilege('$NOBODY', 'batchstate.batch_state_membership',
	                           'SELECT, INSERT, UPDATE, DELETE')"), 'f',
		'PUBLIC has no privilege on schema batchstate or its tables');

	my $nobody = '42501:permission denied for schema batchstate';
	my @cases = (
		(map { case($NOBODY, 'rw', $nobody, $_) } @POLICY_READS, @TABLE_READS, @WRITES),
		case($NOBODY, 'ro', $nobody, "SELECT * FROM batchstate.batch_get('q1/b1')"),
		case($NOBODY, 'rw', $nobody, "SELECT * FROM batchstate.batch_get(NULL)"),
		(map { case($USAGE, 'rw', 'ok', $_) } @POLICY_READS),
		case($USAGE, 'rw', '42501:permission denied for table batch',
			"SELECT * FROM batchstate.batch_get('q1/b1')"),
		case($USAGE, 'rw', '42501:permission denied for table batch_state_membership',
			"SELECT * FROM batchstate.membership_list_ids('q1', 'created')"),
		case($USAGE, 'rw', '42501:permission denied for table', "SELECT * FROM batchstate.list_active('q1')"),
		case($USAGE, 'rw', '42501:permission denied for table', "SELECT * FROM batchstate.verify()"),
		(map { my $m = $_; map { case($READER, $m, 'ok', $_) } @POLICY_READS, @TABLE_READS } qw(rw ro)),
		(map { case($READER, 'rw', '42501:permission denied for table', $_) } @WRITES),
		(map { case($WRITER, 'rw', 'ok', $_) } @POLICY_READS, @TABLE_READS, @WRITES),
		(map { case($WRITER, 'ro', 'ok', $_) } @POLICY_READS, @TABLE_READS),
		(map { case($WRITER, 'ro', '25006', $_) } @WRITES));
	run_cases($node, $db, \@cases);

	# the prune of a list needs the writer's privileges and a read-write transaction
	my @prune = split /\n/, $value->(<<"EOF");
SELECT hostile.reset();
SET ROLE $READER;
SELECT count(*) FROM batchstate.list_batches('q1', 'succeeded');
RESET ROLE;
SELECT count(*) FROM batchstate.membership_list_ids('q1', 'succeeded');
SET ROLE $WRITER;
BEGIN READ ONLY;
SELECT count(*) FROM batchstate.list_batches('q1', 'succeeded');
COMMIT;
RESET ROLE;
SELECT count(*) FROM batchstate.membership_list_ids('q1', 'succeeded');
SET ROLE $WRITER;
SELECT count(*) FROM batchstate.list_batches('q1', 'succeeded');
RESET ROLE;
SELECT count(*) FROM batchstate.membership_list_ids('q1', 'succeeded');
EOF
	is(join(',', @prune[ 1, 2 ]), '1,1', "a reader's list returns the terminal batch and leaves its row");
	is(join(',', @prune[ 3, 4 ]), '1,1', "a writer's list in a read-only transaction leaves the row");
	is(join(',', @prune[ 5, 6 ]), '1,0', "a writer's list in a read-write transaction prunes the row");
	return;
}

1;
