# test/t/091_plans.pl: the controller's lookups plan as index scans.
#
# dependents_of, batches_containing, queue_stats(queue) and stuck_batches
# run their statements through the planner guard.  auto_explain logs the
# plan of every statement they run (log_nested_statements); each must reach
# its rows through an index (the GIN index over the arrays, the membership
# primary key, the hash index on batch ids), never by a sequential scan:
# on tables that statistics call empty (a fresh VACUUM, the worst case for
# a kept plan) and again after ANALYZE of a history of finished batches.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'bs';
my $node = PostgreSQL::Test::Cluster->new('plans');
$node->init;
$node->start;
$node->safe_psql('postgres', "CREATE DATABASE $db");
$node->safe_psql($db, 'CREATE EXTENSION batchstate');

# Each lookup, and the index its plan must use.
my @lookups = (
	[ 'dependents_of', q{SELECT count(*) FROM batchstate.dependents_of('q0', 'q0/batch/7')},
		'batch_arrays_gin' ],
	[ 'dependents_of with include_finished',
		q{SELECT count(*) FROM batchstate.dependents_of('q0', 'q0/batch/7', true)},
		'batch_arrays_gin' ],
	[ 'batches_containing',
		q{SELECT count(*) FROM batchstate.batches_containing('q0', 'q0/lr/7', true)},
		'batch_arrays_gin' ],
	[ 'queue_stats of a queue', q{SELECT count(*) FROM batchstate.queue_stats('q0')},
		'batch_state_membership_pkey' ],
	[ 'stuck_batches',
		q{SELECT count(*) FROM batchstate.stuck_batches('q0', '1 second', 'created', 'merging')},
		'batch_state_membership_pkey' ],
);

# The plans auto_explain logs for the statements that "call" runs, in a
# fresh session (so the kept plans are made now, on today's statistics).
sub nested_plans
{
	my ($call) = @_;
	my ($rc, $out, $err) = $node->psql(
		$db, qq{
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = 'notice';
SET client_min_messages = notice;
$call;
});
	die "the lookup failed: $err" if $rc != 0;
	# one plan per statement: the nested ones name batchstate's tables
	my @plans = grep { /batchstate\.batch/ } split /(?=NOTICE:  duration)/, $err;
	return @plans;
}

sub check_plans
{
	my ($when) = @_;
	for my $l (@lookups)
	{
		my ($name, $call, $index) = @$l;
		my @plans = nested_plans($call);
		my @nested = grep { !/Query Text: SELECT count\(\*\) FROM batchstate/ } @plans;
		ok(scalar(@nested) > 0, "$name ($when): auto_explain logged its statement's plan");
		my $text = join("\n", @nested);
		unlike($text, qr/Seq Scan/, "$name ($when): no sequential scan");
		like($text, qr/\Q$index\E/, "$name ($when): reads through $index");
	}
}

# history: finished batches holding the same elements, and live ones
$node->safe_psql($db, q{
	VACUUM ANALYZE batchstate.batch;
	VACUUM ANALYZE batchstate.batch_state_membership;
});
check_plans('statistics say the tables are empty');

$node->safe_psql($db, q{
	SELECT batchstate.batch_create(format('q%s/batch/h%s', i % 10, i), 'q' || (i % 10), 'succeeded',
	       ARRAY[format('q%s/lr/%s', i % 10, (i / 10) % 500)], ARRAY[format('q%s/batch/%s', i % 10, (i / 10) % 100)])
	  FROM generate_series(1, 20000) AS i;
	SELECT batchstate.create_batch(format('q0/batch/%s', i), 'q0', 'created',
	       ARRAY[format('q0/lr/%s', i)], ARRAY[format('q0/batch/%s', i - 1)])
	  FROM generate_series(1, 100) AS i;
	UPDATE batchstate.batch_state_membership SET since = since - interval '1 hour';
	VACUUM ANALYZE batchstate.batch;
	VACUUM ANALYZE batchstate.batch_state_membership;
});
check_plans('after ANALYZE of 20000 finished and 100 live batches');

# the lookups still answer right at that size
is($node->safe_psql($db, q{SELECT string_agg(id, ',') FROM batchstate.dependents_of('q0', 'q0/batch/7')}),
	'q0/batch/8', 'dependents_of finds the one live dependent among the history');
is($node->safe_psql($db, q{SELECT count(*) FROM batchstate.dependents_of('q0', 'q0/batch/7', true)}),
	'21', 'with include_finished, the finished ones too');
is($node->safe_psql($db, q{SELECT batches FROM batchstate.queue_stats('q0') WHERE state = 'created'}),
	'100', 'queue_stats counts the live batches');

$node->stop;
done_testing();
