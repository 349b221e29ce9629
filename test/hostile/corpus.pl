#!/usr/bin/perl
# corpus.pl: print the bad-input corpus as cases for BatchstateTest::Cases
# (test/perl), one tab-separated line each.  A script of its own, not a
# module: the corpus is data, and printing it lets one read, diff or replay
# it by hand (BatchstateTest::Hostile runs it and reads its output).
#
#   perl corpus.pl [BIG_BYTES [BIG_ELEMS]]    (defaults 1048576 100000)
#
# Every function of batchstate is called once with valid arguments (against
# the hostile.reset() fixture), then once for each bad value of each of its
# arguments, the others staying valid.  The bad values are those of the
# issue: NULLs, empty strings, unknown states, INT_MIN/INT_MAX versions, NaN
# and infinite scores, 2-D arrays, arrays with NULLs, strings of BIG_BYTES
# bytes, arrays of BIG_ELEMS elements, non-ASCII text; plus the edges around
# them (1024/1025-byte keys, counted in bytes of UTF-8).  The expected
# outcome of each is what API.md and the decisions in the brief document.
use strict;
use warnings;

my $big = shift // 1048576;
my $elems = shift // 100000;
my $half = int($big / 2);

# --- what the arguments are --------------------------------------------
#
# Each kind lists [label, SQL value, outcome].  An outcome is "ok", a
# SQLSTATE, or one of these words, resolved per argument:
#   BADNAME  22023 naming the argument (message contains "name")
#   NULLNAME 22004 naming the argument
#   UNKNOWN  a valid key that names no batch: the argument's "unknown"
my @key_values = (
	['null', 'NULL::text', 'NULLNAME'],
	['empty', q{''}, 'BADNAME'],
	["$big-byte string", "repeat('x', $big)", 'BADNAME'],
	["$big-byte non-ASCII string", "repeat('é', $half)", 'BADNAME'],
	['1025 bytes', "repeat('x', 1025)", 'BADNAME'],
	['1026 bytes in 513 two-byte characters', "repeat('é', 513)", 'BADNAME'],
	['1024 bytes', "repeat('x', 1024)", 'UNKNOWN'],
	['1024 bytes in 512 two-byte characters', "repeat('é', 512)", 'UNKNOWN'],
	['1024 bytes in 256 four-byte characters', "repeat('🙂', 256)", 'UNKNOWN'],
	['non-ASCII', q{'q1/日本語-ünï-🙂'}, 'UNKNOWN'],
	['whitespace only', q{E' \t\n'}, 'UNKNOWN'],
	['backslash and quotes', q{E'q1/\\\\"\''}, 'UNKNOWN'],
);
my @state_values = (
	['null', 'NULL::text', 'NULLNAME'],
	['empty', q{''}, 'BADNAME'],
	['unknown', q{'bogus'}, 'BADNAME'],
	['wrong case', q{'CREATED'}, 'BADNAME'],
	['leading space', q{' created'}, 'BADNAME'],
	['trailing space', q{'created '}, 'BADNAME'],
	['prefix of a state', q{'creat'}, 'BADNAME'],
	['non-ASCII', q{'créé'}, 'BADNAME'],
	["$big-byte string", "repeat('x', $big)", 'BADNAME'],
	["$big-byte non-ASCII string", "repeat('é', $half)", 'BADNAME'],
);
# policy functions: STRICT (NULL in, NULL out)
my @pstate_values = map {
	my ($l, $v, $o) = @$_;
	[$l, $v, $o eq 'NULLNAME' ? 'ok' : $o]
} @state_values;
# is_valid_state answers false for any text, never an error
my @vstate_values = map { [$_->[0], $_->[1], 'ok'] } @state_values;
my @array_values = (
	['null', 'NULL::text[]', 'NULLNAME'],
	['empty', q{'{}'::text[]}, 'ok'],
	['2-D', q{ARRAY[['lr/1', 'lr/2'], ['lr/3', 'lr/4']]}, 'BADNAME'],
	['2-D 1x1', q{'{{lr/1}}'::text[]}, 'BADNAME'],
	['3-D', q{'{{{lr/1}}}'::text[]}, 'BADNAME'],
	["2-D of $elems elements", "array_fill('lr'::text, ARRAY[2, $elems / 2])", 'BADNAME'],
	['a NULL element', q{ARRAY['lr/1', NULL]}, 'NULLNAME'],
	['only a NULL', q{ARRAY[NULL]::text[]}, 'NULLNAME'],
	['an empty element', q{ARRAY['lr/1', '']}, 'BADNAME'],
	["$elems elements", "ARRAY(SELECT 'lr/' || g FROM generate_series(1, $elems) g)", 'ok'],
	["$elems elements, the last NULL", "ARRAY(SELECT CASE WHEN g < $elems THEN 'lr/' || g END FROM generate_series(1, $elems) g)", 'NULLNAME'],
	["$elems elements, the last empty", "ARRAY(SELECT CASE WHEN g < $elems THEN 'lr/' || g ELSE '' END FROM generate_series(1, $elems) g)", 'BADNAME'],
	["a $big-byte element", "ARRAY[repeat('x', $big)]", 'BADNAME'],
	['a 1025-byte element', "ARRAY['lr/1', repeat('x', 1025)]", 'BADNAME'],
	['a 1026-byte element of 513 two-byte characters', "ARRAY[repeat('é', 513)]", 'BADNAME'],
	['a 1024-byte element', "ARRAY[repeat('x', 1024)]", 'ok'],
	['a 1024-byte element of 256 four-byte characters', "ARRAY[repeat('🙂', 256)]", 'ok'],
	['non-ASCII elements', q{ARRAY['lr/日本語', 'lr/🙂', 'lr/ü']}, 'ok'],
	['lower bound 5', q{'[5:6]={lr/1,lr/2}'::text[]}, 'ok'],
);
my @score_values = (
	['null', 'NULL::float8', 'NULLNAME'],
	['NaN', q{'NaN'::float8}, 'BADNAME'],
	['Infinity', q{'Infinity'::float8}, 'BADNAME'],
	['-Infinity', q{'-Infinity'::float8}, 'BADNAME'],
	['-0', q{'-0'::float8}, 'ok'],
	['0', '0::float8', 'ok'],
	['1', '1::float8', 'ok'],
	['smallest subnormal', q{'4.9e-324'::float8}, 'ok'],
	['next above 1', q{'1.0000000000000002'::float8}, 'BADNAME'],
	['tiny negative', q{'-4.9e-324'::float8}, 'BADNAME'],
	['1e308', q{'1e308'::float8}, 'BADNAME'],
);
my @version_values = (
	['null', 'NULL::int4', 'NULLNAME'],
	['0', '0', 'BADNAME'],
	['-1', '-1', 'BADNAME'],
	['INT_MIN', '(-2147483648)::int4', 'BADNAME'],
	['INT_MAX', '2147483647', 'MAXVERSION'],
);
# the VARIADIC states of list_batches
my @states_values = (
	['null', 'VARIADIC NULL::text[]', 'NULLNAME'],
	['empty', q{VARIADIC '{}'::text[]}, 'ok'],
	['2-D', q{VARIADIC ARRAY[['created'], ['scored']]}, 'BADNAME'],
	['a NULL element', q{VARIADIC ARRAY['created', NULL]}, 'NULLNAME'],
	['an empty element', q{VARIADIC ARRAY['created', '']}, 'BADNAME'],
	['an unknown state', q{'created', 'bogus'}, 'BADNAME'],
	['wrong case', q{'created', 'SCORED'}, 'BADNAME'],
	['non-ASCII', q{'created', 'créé'}, 'BADNAME'],
	["a $big-byte element", "'created', repeat('x', $big)", 'BADNAME'],
	["$elems valid states", "VARIADIC array_fill('created'::text, ARRAY[$elems])", 'ok'],
	["$elems states, the last unknown", "VARIADIC array_fill('created'::text, ARRAY[$elems - 1]) || 'bogus'::text", 'BADNAME'],
	["$elems states, the last NULL", "VARIADIC array_fill('created'::text, ARRAY[$elems - 1]) || NULL::text", 'NULLNAME'],
	['duplicates', q{'created', 'created', 'scored'}, 'ok'],
	['terminal states only', q{'succeeded', 'failed', 'cancelled'}, 'ok'],
	['lower bound 3', q{VARIADIC '[3:4]={created,scored}'::text[]}, 'ok'],
);

my @flag_values = (
	['null', 'NULL::boolean', 'NULLNAME'],
	['true', 'true', 'ok'],
	['false', 'false', 'ok'],
);
my @interval_values = (
	['null', 'NULL::interval', 'NULLNAME'],
	['zero', q{'0'::interval}, 'ok'],
	['one second', q{'1 second'::interval}, 'ok'],
	['negative', q{'-1 second'::interval}, 'BADNAME'],
	['negative in all', q{'1 mon -31 days'::interval}, 'BADNAME'],
	['the longest', q{'178000000 years'::interval}, 'ok'],
	['the most negative', q{'-178000000 years'::interval}, 'BADNAME'],
);

my %kinds = (
	key => \@key_values,
	state => \@state_values,
	pstate => \@pstate_values,
	vstate => \@vstate_values,
	array => \@array_values,
	score => \@score_values,
	version => \@version_values,
	states => \@states_values,
	flag => \@flag_values,
	interval => \@interval_values,
);

# --- the functions -------------------------------------------------------
#
# name, whether it returns a set, and its arguments:
#   [name, kind, valid value, outcome for UNKNOWN, outcome for MAXVERSION,
#    optional]
# For an optional argument (the queue of verify, reconcile and queue_stats,
# the fields of update_batch) a NULL is fine; a NULL element never is.
my @functions = (
	['states', 1],
	['is_valid_state', 0, ['state', 'vstate', q{'created'}]],
	['is_terminal', 0, ['state', 'pstate', q{'failed'}]],
	['is_halted', 0, ['state', 'pstate', q{'cancelling'}]],
	['non_terminal_states', 0],
	['conflict_states', 0],
	['active_states', 0],
	['cancellable_states', 0],
	['is_cancellable', 0, ['state', 'pstate', q{'merging'}]],
	['can_transition', 0, ['from_state', 'pstate', q{'created'}],
		['to_state', 'pstate', q{'scored'}]],
	['batch_get', 1, ['id', 'key', q{'q1/b1'}, 'P0002']],
	['batch_create', 0, ['id', 'key', q{'q1/new'}, 'ok'],
		['queue', 'key', q{'q1'}, 'ok'], ['state', 'state', q{'created'}],
		['contains', 'array', q{'{lr/1}'}], ['dependencies', 'array', q{'{q1/b1}'}],
		['score', 'score', '0.5'], ['version', 'version', '1', undef, 'ok']],
	['batch_update_state', 0, ['id', 'key', q{'q1/b1'}, 'P0002'],
		['old_version', 'version', '1', undef, 'ok'],
		['new_version', 'version', '2', undef, 'ok'],
		['new_state', 'state', q{'merging'}]],
	['batch_update_score_and_state', 0, ['id', 'key', q{'q1/b1'}, 'P0002'],
		['old_version', 'version', '1', undef, 'ok'],
		['new_version', 'version', '2', undef, 'ok'],
		['score', 'score', '0.5'], ['new_state', 'state', q{'merging'}]],
	['membership_add', 0, ['queue', 'key', q{'q1'}, 'ok'],
		['state', 'state', q{'created'}], ['batch_id', 'key', q{'q1/new'}, 'ok']],
	['membership_remove', 0, ['queue', 'key', q{'q1'}, 'ok'],
		['state', 'state', q{'created'}], ['batch_id', 'key', q{'q1/b1'}, 'ok']],
	['membership_list_ids', 1, ['queue', 'key', q{'q1'}, 'ok'],
		['state', 'state', q{'created'}]],
	['create_batch', 1, ['id', 'key', q{'q1/new'}, 'ok'],
		['queue', 'key', q{'q1'}, 'ok'], ['state', 'state', q{'created'}],
		['contains', 'array', q{'{lr/1}'}], ['dependencies', 'array', q{'{q1/b1}'}],
		['score', 'score', '0.5'], ['version', 'version', '1', undef, 'ok']],
	['update_state', 0, ['id', 'key', q{'q1/b1'}, 'P0002'],
		['expected_version', 'version', '1', undef, '22003'],
		['new_state', 'state', q{'scored'}]],
	['update_score_and_state', 0, ['id', 'key', q{'q1/b1'}, 'P0002'],
		['expected_version', 'version', '1', undef, '22003'],
		['score', 'score', '0.5'], ['new_state', 'state', q{'scored'}]],
	['list_batches', 1, ['queue', 'key', q{'q1'}, 'ok'],
		['states', 'states', q{'created', 'scored', 'succeeded'}]],
	['list_active', 1, ['queue', 'key', q{'q1'}, 'ok']],
	['update_batch', 0, ['id', 'key', q{'q1/b1'}, 'P0002'],
		['expected_version', 'version', '1', undef, '22003'],
		['new_state', 'state', q{'scored'}],
		['contains', 'array', q{'{lr/1}'}, undef, undef, 'optional'],
		['dependencies', 'array', q{'{q1/B2}'}, undef, undef, 'optional'],
		['score', 'score', '0.5', undef, undef, 'optional']],
	['dependents_of', 1, ['queue', 'key', q{'q1'}, 'ok'],
		['id', 'key', q{'q1/b1'}, 'ok'], ['include_finished', 'flag', 'true']],
	['batches_containing', 1, ['queue', 'key', q{'q1'}, 'ok'],
		['request_id', 'key', q{'lr/2'}, 'ok'], ['include_finished', 'flag', 'false']],
	['queue_stats', 1, ['queue', 'key', q{'q1'}, 'ok', undef, 'optional']],
	['stuck_batches', 1, ['queue', 'key', q{'q1'}, 'ok'],
		['older_than', 'interval', q{'1 second'}],
		['states', 'states', q{'created', 'scored'}]],
	['ensure_membership', 0, ['id', 'key', q{'q1/lost'}, 'P0002']],
	['verify', 1, ['queue', 'key', q{'q1'}, 'ok', undef, 'optional']],
	['reconcile', 1, ['queue', 'key', q{'q1'}, 'ok', undef, 'optional']],
);

sub call
{
	my ($f, $set, @args) = @_;
	my $c = "batchstate.$f(" . join(', ', @args) . ')';
	return $set ? "SELECT * FROM $c" : "SELECT $c";
}

sub case
{
	my ($label, $expect, $sql) = @_;
	$sql =~ s/\t/ /g;
	print join("\t", $label, '-', 'rw', $expect, $sql), "\n";
}

for my $fn (@functions)
{
	my ($f, $set, @args) = @$fn;
	my @valid = map { $_->[2] } @args;
	case("$f: valid arguments", 'ok', call($f, $set, @valid));
	for my $a (0 .. $#args)
	{
		my ($name, $kind, undef, $unknown, $maxversion, $optional) = @{ $args[$a] };
		for my $v (@{ $kinds{$kind} })
		{
			my ($label, $value, $outcome) = @$v;
			if ($outcome eq 'NULLNAME') {
				$outcome = $optional && $label eq 'null' ? 'ok' : "22004:\"$name\"";
			}
			elsif ($outcome eq 'BADNAME') { $outcome = "22023:\"$name\""; }
			elsif ($outcome eq 'UNKNOWN') { $outcome = $unknown; }
			elsif ($outcome eq 'MAXVERSION') { $outcome = $maxversion; }
			my @vals = @valid;
			$vals[$a] = $value;
			case("$f: $name $label", $outcome, call($f, $set, @vals));
		}
	}
}

# --- outcomes that depend on the data or on the order of the checks -------
# (decision 5 of the brief for update_state / update_score_and_state)
my @more = (
	['update_state: a lost race is checked before the policy', 'ok',
		q{SELECT batchstate.update_state('q1/b1', 2, 'merging')}],
	['update_state: a forbidden move', '55000',
		q{SELECT batchstate.update_state('q1/b1', 1, 'merging')}],
	['update_state: a terminal batch moves nowhere', '55000',
		q{SELECT batchstate.update_state('q1/done', 3, 'succeeded')}],
	['update_state: NULL before a bad value', '22004',
		q{SELECT batchstate.update_state('', NULL, 'created')}],
	['update_state: NULL state before a bad id', '22004',
		q{SELECT batchstate.update_state('', 1, NULL)}],
	['update_state: NULL before INT_MAX', '22004',
		q{SELECT batchstate.update_state(NULL, 2147483647, 'created')}],
	['update_state: a bad value before INT_MAX', '22023',
		q{SELECT batchstate.update_state('q1/b1', 2147483647, 'bogus')}],
	['update_state: INT_MAX before the row is read', '22003',
		q{SELECT batchstate.update_state('q1/none', 2147483647, 'created')}],
	['update_score_and_state: NULL before a bad value', '22004',
		q{SELECT batchstate.update_score_and_state('q1/b1', 1, 'NaN', NULL)}],
	['update_score_and_state: a bad value before INT_MAX', '22023',
		q{SELECT batchstate.update_score_and_state('q1/b1', 2147483647, 'Infinity', 'scored')}],
	['update_score_and_state: INT_MAX before the row is read', '22003',
		q{SELECT batchstate.update_score_and_state('q1/none', 2147483647, 0.5, 'scored')}],
	['batch_update_state: a lost race at INT_MAX', 'ok',
		q{SELECT batchstate.batch_update_state('q1/b1', 2147483647, 2147483647, 'created')}],
	['batch_update_state: terminal to created (no rules)', 'ok',
		q{SELECT batchstate.batch_update_state('q1/done', 3, 4, 'created')}],
	['batch_create: the id exists', '23505',
		q{SELECT batchstate.batch_create('q1/b1', 'q9', 'created')}],
	['create_batch: the id exists', '23505',
		q{SELECT batchstate.create_batch('q1/done', 'q1', 'failed')}],
	['create_batch: a terminal state', 'ok',
		q{SELECT batchstate.create_batch('q1/new', 'q1', 'cancelled')}],
	['create_batch: every argument big', 'ok',
		"SELECT batchstate.create_batch(repeat('é', 512), repeat('🙂', 256), 'created', "
		  . "ARRAY(SELECT repeat('ü', 10) || g FROM generate_series(1, $elems) g), "
		  . "ARRAY[repeat('🙂', 256)], '4.9e-324', 2147483647)"],
	['update_batch: a lost race before the policy', 'ok',
		q{SELECT batchstate.update_batch('q1/b1', 2, 'merging', '{x}', '{y}', 1)}],
	['update_batch: a forbidden move', '55000',
		q{SELECT batchstate.update_batch('q1/b1', 1, 'creating')}],
	['update_batch: NULL before a bad array', '22004',
		q{SELECT batchstate.update_batch('q1/b1', NULL, 'scored', ARRAY[''])}],
	['update_batch: a bad array before INT_MAX', '22023',
		q{SELECT batchstate.update_batch('q1/b1', 2147483647, 'scored', ARRAY[''])}],
	['update_batch: INT_MAX before the row is read', '22003',
		q{SELECT batchstate.update_batch('q1/none', 2147483647, 'scored')}],
	['update_batch: every field NULL', 'ok',
		q{SELECT batchstate.update_batch('q1/b1', 1, 'scored', NULL, NULL, NULL)}],
	['queue_stats: no argument', 'ok', q{SELECT * FROM batchstate.queue_stats()}],
	['stuck_batches: no states', 'ok',
		q{SELECT * FROM batchstate.stuck_batches('q1', '0', VARIADIC '{}'::text[])}],
	['list_batches: no states argument at all', 'ok',
		q{SELECT * FROM batchstate.list_batches('q1')}],
	['membership_add: longest queue and batch id', 'ok',
		q{SELECT batchstate.membership_add(repeat('q', 1024), 'cancelling', repeat('🙂', 256))}],
	['list_batches: no states at all (VARIADIC of an empty array)', 'ok',
		q{SELECT * FROM batchstate.list_batches('q1', VARIADIC ARRAY[]::text[])}],
	['verify: NULL queue', 'ok', q{SELECT * FROM batchstate.verify(NULL)}],
	['verify: no argument', 'ok', q{SELECT * FROM batchstate.verify()}],
	['reconcile: NULL queue', 'ok', q{SELECT * FROM batchstate.reconcile(NULL)}],
	['reconcile: no argument', 'ok', q{SELECT * FROM batchstate.reconcile()}],
);
case(@$_) for @more;
