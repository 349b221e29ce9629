# test/perl/BatchstateTest/Memory.pm: batchstate keeps a backend's memory
# flat.  BatchstateTest::Memory::run(NODE) in a database of its own; run by
# test/t/025_memory.pl, and by test/t/030_sanitizer.pl when asked to.
#
# One backend (one psql session) calls each of the 30 functions
# MEMORY_CALLS times (default 100000) in one statement driven by
# generate_series, after a warm-up of MEMORY_WARM calls (default 300) of
# every function so that plans and caches exist.  Two measurements per
# function, both SUM(total_bytes) of pg_backend_memory_contexts, i.e. every
# context of the backend, TopMemoryContext and CacheMemoryContext included:
#   after   the backend's total after the statement, minus its total before:
#           what the calls left behind in long-lived contexts;
#   inside  the total measured inside the statement after the calls
#           (WITH calls AS MATERIALIZED (...) SELECT (SELECT sum(...)) FROM
#           calls), minus the same for the warm-up statement: what piled up
#           in the statement's own contexts while it ran.
# Bound for both: MEMORY_BOUND_KB (default 1024 KB).  Over 100000 calls that
# is about 10 bytes a call: any per-call leak (a palloc of a datum, a
# plan, a copy of an argument) exceeds it, while a one-time cost (a cached
# plan, a catcache entry: tens of KB) stays far below.
#
# Then queue "big" gets MEMORY_BATCHES live batches (default 100000),
# written with INSERT ... SELECT into both tables, and list_active,
# list_batches, membership_list_ids and verify read them all.  Each must
# return every row; the memory still held inside the statement after the
# call must stay under work_mem (the executor's tuplestore, which spills to
# disk) plus the bound, far below the size of the rows; and nothing may
# stay behind afterwards (the bound again).
#
# MEMORY_BIG=1 runs 1000000 calls and batches; MEMORY_TIMING=FILE keeps
# the session's output, with \timing, in FILE.
package BatchstateTest::Memory;

use strict;
use warnings;

use BatchstateTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $WORK_MEM_KB = 4096;
my $MEM = 'SELECT sum(total_bytes) FROM pg_backend_memory_contexts';
my $SERIES = '(SELECT generate_series({LO}, {HI}) AS g) AS series';

# One call site per function; {LO} and {HI} bound the series (g), so the
# warm-up (1 .. MEMORY_WARM) and the measured run (the next MEMORY_CALLS)
# write different rows.  Each yields one row.
my @CALLS = (
	[ states => "SELECT count(*) FROM (SELECT batchstate.states() FROM $SERIES) s" ],
	[ is_valid_state => "SELECT count(*) FILTER (WHERE batchstate.is_valid_state(CASE WHEN g % 3 = 0 THEN 'bogus' ELSE memtest.s(g) END)) FROM $SERIES" ],
	[ is_terminal => "SELECT count(*) FILTER (WHERE batchstate.is_terminal(memtest.s(g))) FROM $SERIES" ],
	[ is_halted => "SELECT count(*) FILTER (WHERE batchstate.is_halted(memtest.s(g))) FROM $SERIES" ],
	[ can_transition => "SELECT count(*) FILTER (WHERE batchstate.can_transition(memtest.s(g), memtest.s(g / 8))) FROM $SERIES" ],
	[ non_terminal_states => "SELECT memtest.exec_n('SELECT batchstate.non_terminal_states()', {HI} - {LO} + 1)" ],
	[ conflict_states => "SELECT memtest.exec_n('SELECT batchstate.conflict_states()', {HI} - {LO} + 1)" ],
	[ is_cancellable => "SELECT count(*) FILTER (WHERE batchstate.is_cancellable(memtest.s(g))) FROM $SERIES" ],
	[ active_states => "SELECT memtest.exec_n('SELECT batchstate.active_states()', {HI} - {LO} + 1)" ],
	[ cancellable_states => "SELECT memtest.exec_n('SELECT batchstate.cancellable_states()', {HI} - {LO} + 1)" ],
	[ dependents_of => "SELECT count(*) FROM (SELECT batchstate.dependents_of('fq', 'f/' || g % 10, g % 2 = 0) FROM $SERIES) s" ],
	[ batches_containing => "SELECT count(*) FROM (SELECT batchstate.batches_containing('fq', 'lr/' || g % 3, g % 2 = 0) FROM $SERIES) s" ],
	[ queue_stats => "SELECT count(*) FROM (SELECT batchstate.queue_stats(CASE WHEN g % 2 = 0 THEN 'fq' END) FROM $SERIES) s" ],
	[ stuck_batches => "SELECT count(*) FROM (SELECT batchstate.stuck_batches('fq', '0', memtest.s(g % 5), 'merging') FROM $SERIES) s" ],
	[ batch_get => "SELECT sum((batchstate.batch_get('f/' || g % 10)).version) FROM $SERIES" ],
	[ membership_list_ids => "SELECT count(*) FROM (SELECT batchstate.membership_list_ids('fq', memtest.s(g % 5)) FROM $SERIES) s" ],
	[ list_batches => "SELECT count(*) FROM (SELECT batchstate.list_batches('fq', memtest.s(g % 5), 'succeeded') FROM $SERIES) s" ],
	[ list_active => "SELECT count(*) FROM (SELECT batchstate.list_active(CASE WHEN g % 2 = 0 THEN 'fq' ELSE 'none' END) FROM $SERIES) s" ],
	[ verify => "SELECT count(*) FROM (SELECT batchstate.verify(CASE WHEN g % 2 = 0 THEN 'fq' END) FROM $SERIES) s" ],
	[ reconcile => "SELECT count(*) FROM (SELECT batchstate.reconcile(CASE WHEN g % 2 = 0 THEN 'fq' END) FROM $SERIES) s" ],
	[ ensure_membership => "SELECT count(*) FILTER (WHERE batchstate.ensure_membership('f/' || g % 10)) FROM $SERIES" ],
	[ batch_create => "SELECT count(batchstate.batch_create('p/' || g, 'pq', 'created', '{lr/1}', '{}', 0.5, 1)) FROM $SERIES" ],
	[ batch_update_state => "SELECT count(*) FILTER (WHERE batchstate.batch_update_state('p/' || g, 1, 2, 'scored')) FROM $SERIES" ],
	[ batch_update_score_and_state => "SELECT count(*) FILTER (WHERE batchstate.batch_update_score_and_state('p/' || g, 2, 3, 0.25, 'merging')) FROM $SERIES" ],
	[ membership_add => "SELECT count(batchstate.membership_add('pq', 'merging', 'p/' || g)) FROM $SERIES" ],
	[ membership_remove => "SELECT count(batchstate.membership_remove('pq', 'merging', 'p/' || g)) FROM $SERIES" ],
	[ create_batch => "SELECT count((batchstate.create_batch('c/' || g, 'cq', 'created', '{lr/1}')).version) FROM $SERIES" ],
	[ update_state => "SELECT count(*) FILTER (WHERE batchstate.update_state('c/' || g, 1, 'scored')) FROM $SERIES" ],
	[ update_score_and_state => "SELECT count(*) FILTER (WHERE batchstate.update_score_and_state('c/' || g, 2, 0.75, 'speculating')) FROM $SERIES" ],
	[ update_batch => "SELECT count(*) FILTER (WHERE batchstate.update_batch('c/' || g, 3, 'merging', '{lr/2}', ARRAY['c/' || (g - 1)], 0.5)) FROM $SERIES" ],
);

my $SETUP = <<'EOF';
SET client_min_messages = warning;
CREATE SCHEMA memtest;
-- the eight states, to index with a non-constant subscript (an IMMUTABLE
-- function of constants would be folded once at plan time, not called per row)
CREATE FUNCTION memtest.s(i int) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT (ARRAY['created', 'scored', 'speculating', 'merging', 'cancelling',
                 'succeeded', 'failed', 'cancelled'])[1 + i % 8] $$;
-- n EXECUTEs of a statement: each plans it, which calls an IMMUTABLE
-- function without arguments (folded at plan time)
CREATE FUNCTION memtest.exec_n(stmt text, n int) RETURNS bigint LANGUAGE plpgsql AS
$$ BEGIN FOR i IN 1 .. n LOOP EXECUTE stmt; END LOOP; RETURN n; END $$;
-- queue fq: ten batches in every state, their rows, a terminal row to
-- prune and a dangling row (verify reports it; reconcile removes it)
INSERT INTO batchstate.batch
SELECT 'f/' || i, 'fq', '{lr/1,lr/2}', ARRAY['f/' || (i / 2)], 0.5, memtest.s(i), 1
FROM generate_series(0, 9) i;
INSERT INTO batchstate.batch_state_membership
SELECT 'fq', state, id FROM batchstate.batch
WHERE NOT batchstate.is_terminal(state) OR id = 'f/5';
INSERT INTO batchstate.batch_state_membership VALUES ('fq', 'created', 'f/ghost');
EOF

# inside(LABEL, CALL): the call, then the backend's total in the same statement
sub inside
{
	my ($label, $call) = @_;
	return "WITH calls AS MATERIALIZED ($call)\n"
	  . "SELECT 'INSIDE|$label|' || ($MEM) || '|' || coalesce(calls.*::text, '') FROM calls;\n";
}

# the session: every call site, warm and measured, then the big listing
sub session
{
	my ($calls, $batches, $warm) = @_;
	my $s = "SET work_mem = '${WORK_MEM_KB}kB';\nSELECT 'PID|' || pg_backend_pid();\n";
	for (@CALLS)
	{
		my ($f, $sql) = @$_;
		my $span = sub { $sql =~ s/\{LO\}/$_[0]/gr =~ s/\{HI\}/$_[1]/gr };
		$s .= inside("$f:warm", $span->(1, $warm));
		$s .= "SELECT 'AFTER|$f:before|' || ($MEM);\n";
		$s .= inside("$f:run", $span->($warm + 1, $warm + $calls));
		$s .= "SELECT 'AFTER|$f:after|' || ($MEM);\n";
	}
	$s .= <<"EOF";
INSERT INTO batchstate.batch
SELECT 'big/' || lpad(i::text, 8, '0'), 'big',
       ARRAY['lr/' || i, 'lr/' || (i + 1), 'lr/' || (i + 2)], ARRAY['big/' || lpad((i - 1)::text, 8, '0')],
       0.5, memtest.s(i % 5), 1
FROM generate_series(1, $batches) i;
INSERT INTO batchstate.batch_state_membership
SELECT queue, state, id FROM batchstate.batch WHERE queue = 'big';
VACUUM ANALYZE batchstate.batch, batchstate.batch_state_membership;
SELECT 'ROWS|' || sum(pg_column_size(b.*)) FROM batchstate.batch b WHERE queue = 'big';
SELECT 'MERGING|' || count(*) FROM batchstate.batch WHERE queue = 'big' AND state = 'merging';
EOF
	for my $w (qw(warm run))
	{
		$s .= "SELECT 'AFTER|list:$w:before|' || ($MEM);\n";
		$s .= inside("big:list_active:$w", "SELECT count(*), sum(version) FROM batchstate.list_active('big')");
		$s .= inside("big:list_batches:$w", "SELECT count(*), sum(version) FROM batchstate.list_batches('big', 'created', 'scored', 'speculating', 'merging', 'cancelling', 'succeeded')");
		$s .= inside("big:membership_list_ids:$w", "SELECT count(*), max(i) FROM batchstate.membership_list_ids('big', 'merging') i");
		$s .= inside("big:verify:$w", "SELECT count(*) FROM batchstate.verify('big')");
		$s .= "SELECT 'AFTER|list:$w:after|' || ($MEM);\n";
	}
	return $s . "SELECT 'PID|' || pg_backend_pid();\n";
}

sub kb { sprintf '%.1f KB', $_[0] / 1024 }

sub run
{
	my ($node) = @_;
	my $big = ($ENV{MEMORY_BIG} // 0) eq '1';
	my $calls = $ENV{MEMORY_CALLS} // ($big ? 1000000 : 100000);
	my $batches = $ENV{MEMORY_BATCHES} // ($big ? 1000000 : 100000);
	my $warm = $ENV{MEMORY_WARM} // 300;
	my $bound = ($ENV{MEMORY_BOUND_KB} // 1024) * 1024;
	my $db = create_db($node, 'batchstate_memory');
	$node->safe_psql($db, $SETUP);
	note "memory: $calls calls of each function after $warm warm-up calls; "
	  . "$batches live batches listed; bound " . kb($bound);

	my $t0 = time;
	my $timing = $ENV{MEMORY_TIMING} ? "\\timing on\n" : '';
	my ($rc, $out, $err) = $node->psql($db, $timing . session($calls, $batches, $warm));
	append_to_file($ENV{MEMORY_TIMING}, $out) if $ENV{MEMORY_TIMING};
	die "the memory session failed (psql exit $rc): $err\n" if $rc;
	note 'one session ran every call in ' . (time - $t0) . ' s';

	my (%after, %inside, %value, @pids, $rows, $merging, @order);
	for (split /\n/, $out)
	{
		my @f = split /\|/;
		if ($f[0] eq 'AFTER') { $after{ $f[1] } = $f[2]; }
		elsif ($f[0] eq 'INSIDE')
		{
			$inside{ $f[1] } = $f[2];
			$value{ $f[1] } = $f[3] // '';
			push @order, $f[1];
		}
		elsif ($f[0] eq 'PID') { push @pids, $f[1]; }
		elsif ($f[0] eq 'ROWS') { $rows = $f[1]; }
		elsif ($f[0] eq 'MERGING') { $merging = $f[1]; }
	}
	ok(@pids == 2 && $pids[0] == $pids[1], "one backend ran everything (pid $pids[0])");
	my $total = 0;
	for my $f (map { /^([a-z_]+):run$/ ? $1 : () } @order)
	{
		my $grow = $after{"$f:after"} - $after{"$f:before"};
		my $held = $inside{"$f:run"} - $inside{"$f:warm"};
		$total += $grow;
		ok($grow < $bound, "$f: $calls calls leave the backend's memory flat (after - before = " . kb($grow) . ')');
		ok($held < $bound, "$f: $calls calls pile nothing up inside the statement (" . kb($held) . " more than the warm-up's)");
	}
	ok($total < $bound, 'all functions together: the measured calls grew the backend by ' . kb($total));

	note sprintf '%d live batches in queue big take %.1f MB as rows', $batches, $rows / 1048576;
	my %want = (
		list_active => sub { $_[0] =~ /^\((\d+),/ && $1 == $batches },
		list_batches => sub { $_[0] =~ /^\((\d+),/ && $1 == $batches },
		membership_list_ids => sub { $_[0] =~ /^\((\d+),/ && $1 == $merging },
		verify => sub { $_[0] eq '(0)' });
	my $limit = $WORK_MEM_KB * 1024 + $bound;
	for my $f (qw(list_active list_batches membership_list_ids verify))
	{
		my $v = $value{"big:$f:run"};
		ok($want{$f}->($v), "$f over queue big returns every row: $v");
		my $held = $inside{"big:$f:run"} - $after{'list:run:before'};
		ok($held < $limit, "$f over queue big: " . kb($held)
			  . ' held inside the statement after the call (limit: work_mem + bound = ' . kb($limit) . ')');
	}
	my $grow = $after{'list:run:after'} - $after{'list:run:before'};
	ok($grow < $bound, 'listing queue big leaves nothing behind (after - before = ' . kb($grow) . ')');
	return;
}

1;
