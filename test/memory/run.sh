#!/usr/bin/env bash
# test/memory/run.sh: batchstate keeps a backend's memory flat.
#
# One backend (one psql session) calls each of the 22 functions
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
# Environment: PGHOST, PGPORT, PGUSER of a running cluster with batchstate
# installed; REPO, PG_BIN.  MEMORY_BIG=1 runs 1000000 calls and batches.
# Creates and drops database batchstate_memory.
# Last line: "memory: N passed, M failed".
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
suite_start memory

if [ "${MEMORY_BIG:-0}" = 1 ]; then
	MEMORY_CALLS=${MEMORY_CALLS:-1000000}
	MEMORY_BATCHES=${MEMORY_BATCHES:-1000000}
fi
MEMORY_CALLS=${MEMORY_CALLS:-100000}
MEMORY_BATCHES=${MEMORY_BATCHES:-100000}
MEMORY_WARM=${MEMORY_WARM:-300}
MEMORY_BOUND_KB=${MEMORY_BOUND_KB:-1024}
WORK_MEM_KB=4096
DB=batchstate_memory
BOUND=$((MEMORY_BOUND_KB * 1024))

WORK=$(mktemp -d /tmp/batchstate-memory.XXXXXX)

# shellcheck disable=SC2317 # run by test/lib.sh when the suite exits
suite_cleanup() {
	if ((!SUITE_FINISHED)) && [ -s "$WORK/session.err" ]; then
		sed 's/^/#   /' "$WORK/session.err" | head -n 20
	fi
	drop_db "$DB" >/dev/null 2>&1
	rm -rf -- "$WORK"
}

echo "# memory: $MEMORY_CALLS calls of each function after $MEMORY_WARM warm-up calls;" \
	"$MEMORY_BATCHES live batches listed; bound $MEMORY_BOUND_KB KB"
new_db "$DB"
psql_x -d "$DB" <<'EOF'
SET client_min_messages = warning;
CREATE EXTENSION batchstate;
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
SELECT 'f/' || i, 'fq', '{lr/1,lr/2}', '{}', 0.5, memtest.s(i), 1
FROM generate_series(0, 9) i;
INSERT INTO batchstate.batch_state_membership
SELECT 'fq', state, id FROM batchstate.batch
WHERE NOT batchstate.is_terminal(state) OR id = 'f/5';
INSERT INTO batchstate.batch_state_membership VALUES ('fq', 'created', 'f/ghost');
EOF

# One call site per function; {LO} and {HI} bound the series (g), so the
# warm-up (1 .. MEMORY_WARM) and the measured run (the next MEMORY_CALLS)
# write different rows.  Each yields one row.
NAMES=()
declare -A CALLS
add() {
	NAMES+=("$1")
	CALLS[$1]=$2
}
S='(SELECT generate_series({LO}, {HI}) AS g) AS series'
add states "SELECT count(*) FROM (SELECT batchstate.states() FROM $S) s"
add is_valid_state "SELECT count(*) FILTER (WHERE batchstate.is_valid_state(CASE WHEN g % 3 = 0 THEN 'bogus' ELSE memtest.s(g) END)) FROM $S"
add is_terminal "SELECT count(*) FILTER (WHERE batchstate.is_terminal(memtest.s(g))) FROM $S"
add is_halted "SELECT count(*) FILTER (WHERE batchstate.is_halted(memtest.s(g))) FROM $S"
add can_transition "SELECT count(*) FILTER (WHERE batchstate.can_transition(memtest.s(g), memtest.s(g / 8))) FROM $S"
add non_terminal_states "SELECT memtest.exec_n('SELECT batchstate.non_terminal_states()', {HI} - {LO} + 1)"
add conflict_states "SELECT memtest.exec_n('SELECT batchstate.conflict_states()', {HI} - {LO} + 1)"
add batch_get "SELECT sum((batchstate.batch_get('f/' || g % 10)).version) FROM $S"
add membership_list_ids "SELECT count(*) FROM (SELECT batchstate.membership_list_ids('fq', memtest.s(g % 5)) FROM $S) s"
add list_batches "SELECT count(*) FROM (SELECT batchstate.list_batches('fq', memtest.s(g % 5), 'succeeded') FROM $S) s"
add list_active "SELECT count(*) FROM (SELECT batchstate.list_active(CASE WHEN g % 2 = 0 THEN 'fq' ELSE 'none' END) FROM $S) s"
add verify "SELECT count(*) FROM (SELECT batchstate.verify(CASE WHEN g % 2 = 0 THEN 'fq' END) FROM $S) s"
add reconcile "SELECT count(*) FROM (SELECT batchstate.reconcile(CASE WHEN g % 2 = 0 THEN 'fq' END) FROM $S) s"
add ensure_membership "SELECT count(*) FILTER (WHERE batchstate.ensure_membership('f/' || g % 10)) FROM $S"
add batch_create "SELECT count(batchstate.batch_create('p/' || g, 'pq', 'created', '{lr/1}', '{}', 0.5, 1)) FROM $S"
add batch_update_state "SELECT count(*) FILTER (WHERE batchstate.batch_update_state('p/' || g, 1, 2, 'scored')) FROM $S"
add batch_update_score_and_state "SELECT count(*) FILTER (WHERE batchstate.batch_update_score_and_state('p/' || g, 2, 3, 0.25, 'merging')) FROM $S"
add membership_add "SELECT count(batchstate.membership_add('pq', 'merging', 'p/' || g)) FROM $S"
add membership_remove "SELECT count(batchstate.membership_remove('pq', 'merging', 'p/' || g)) FROM $S"
add create_batch "SELECT count((batchstate.create_batch('c/' || g, 'cq', 'created', '{lr/1}')).version) FROM $S"
add update_state "SELECT count(*) FILTER (WHERE batchstate.update_state('c/' || g, 1, 'scored')) FROM $S"
add update_score_and_state "SELECT count(*) FILTER (WHERE batchstate.update_score_and_state('c/' || g, 2, 0.75, 'speculating')) FROM $S"

MEM="SELECT sum(total_bytes) FROM pg_backend_memory_contexts"
# inside LABEL CALL: the call, then the backend's total measured in the same statement
inside() {
	echo "WITH calls AS MATERIALIZED ($2)"
	echo "SELECT 'INSIDE|$1|' || ($MEM) || '|' || coalesce(calls.*::text, '') FROM calls;"
}
calls() {
	local c=${CALLS[$1]}
	c=${c//\{LO\}/$2}
	echo "${c//\{HI\}/$3}"
}

{
	echo "\\set ON_ERROR_STOP 1"
	echo "SET work_mem = '${WORK_MEM_KB}kB';"
	echo "SELECT 'PID|' || pg_backend_pid();"
	lo=$((MEMORY_WARM + 1))
	hi=$((MEMORY_WARM + MEMORY_CALLS))
	for f in "${NAMES[@]}"; do
		inside "$f:warm" "$(calls "$f" 1 "$MEMORY_WARM")"
		echo "SELECT 'AFTER|$f:before|' || ($MEM);"
		inside "$f:run" "$(calls "$f" "$lo" "$hi")"
		echo "SELECT 'AFTER|$f:after|' || ($MEM);"
	done

	# the big listing
	cat <<EOF
INSERT INTO batchstate.batch
SELECT 'big/' || lpad(i::text, 8, '0'), 'big',
       ARRAY['lr/' || i, 'lr/' || (i + 1), 'lr/' || (i + 2)], ARRAY['big/' || lpad((i - 1)::text, 8, '0')],
       0.5, memtest.s(i % 5), 1
FROM generate_series(1, $MEMORY_BATCHES) i;
INSERT INTO batchstate.batch_state_membership
SELECT queue, state, id FROM batchstate.batch WHERE queue = 'big';
VACUUM ANALYZE batchstate.batch, batchstate.batch_state_membership;
SELECT 'ROWS|' || sum(pg_column_size(b.*)) FROM batchstate.batch b WHERE queue = 'big';
SELECT 'MERGING|' || count(*) FROM batchstate.batch WHERE queue = 'big' AND state = 'merging';
EOF
	for warm in warm run; do
		echo "SELECT 'AFTER|list:$warm:before|' || ($MEM);"
		inside "big:list_active:$warm" "SELECT count(*), sum(version) FROM batchstate.list_active('big')"
		inside "big:list_batches:$warm" "SELECT count(*), sum(version) FROM batchstate.list_batches('big', 'created', 'scored', 'speculating', 'merging', 'cancelling', 'succeeded')"
		inside "big:membership_list_ids:$warm" "SELECT count(*), max(i) FROM batchstate.membership_list_ids('big', 'merging') i"
		inside "big:verify:$warm" "SELECT count(*) FROM batchstate.verify('big')"
		echo "SELECT 'AFTER|list:$warm:after|' || ($MEM);"
	done
	echo "SELECT 'PID|' || pg_backend_pid();"
} >"$WORK/session.sql"

start=$SECONDS
psql_x -d "$DB" -At ${MEMORY_TIMING:+-c "\\timing on"} -f "$WORK/session.sql" >"$WORK/session.out" 2>"$WORK/session.err"
[ -n "${MEMORY_TIMING:-}" ] && cp "$WORK/session.out" "$MEMORY_TIMING"
echo "# one session ran every call in $((SECONDS - start)) s"

perl - "$WORK/session.out" "$BOUND" "$MEMORY_CALLS" "$MEMORY_BATCHES" "$WORK_MEM_KB" <<'EOF' >"$WORK/checks"
use strict;
use warnings;
my ($file, $bound, $calls, $batches, $work_mem_kb) = @ARGV;
my (%after, %inside, %value, @pids, $rows, $merging, @order);
open my $in, '<', $file or die;
while (<$in>)
{
	chomp;
	my @f = split /\|/;
	if ($f[0] eq 'AFTER') { $after{$f[1]} = $f[2]; }
	elsif ($f[0] eq 'INSIDE') { $inside{$f[1]} = $f[2]; $value{$f[1]} = $f[3] // ''; push @order, $f[1]; }
	elsif ($f[0] eq 'PID') { push @pids, $f[1]; }
	elsif ($f[0] eq 'ROWS') { $rows = $f[1]; }
	elsif ($f[0] eq 'MERGING') { $merging = $f[1]; }
}
sub kb { sprintf '%.1f KB', $_[0] / 1024 }
sub check
{
	my ($ok, $what) = @_;
	print(($ok ? 'ok' : 'not ok'), " - $what\n");
}
check(@pids == 2 && $pids[0] == $pids[1], "one backend ran everything (pid $pids[0])");
for my $label (@order)
{
	next unless $label =~ /^([a-z_]+):run$/;
	my $f = $1;
	my $grow = $after{"$f:after"} - $after{"$f:before"};
	my $held = $inside{"$f:run"} - $inside{"$f:warm"};
	check($grow < $bound, "$f: $calls calls leave the backend's memory flat (after - before = " . kb($grow) . ")");
	check($held < $bound, "$f: $calls calls pile nothing up inside the statement (" . kb($held) . " more than the warm-up's)");
}
my $total = 0;
for my $label (@order)
{
	$total += $after{"$1:after"} - $after{"$1:before"} if $label =~ /^([a-z_]+):run$/;
}
check($total < $bound, "all functions together: the measured calls grew the backend by " . kb($total));

printf "# %d live batches in queue big take %.1f MB as rows\n", $batches, $rows / 1048576;
my %want = (
	list_active => sub { $_[0] =~ /^\((\d+),/ && $1 == $batches },
	list_batches => sub { $_[0] =~ /^\((\d+),/ && $1 == $batches },
	membership_list_ids => sub { $_[0] =~ /^\((\d+),/ && $1 == $merging },
	verify => sub { $_[0] eq '(0)' },
);
my $limit = $work_mem_kb * 1024 + $bound;
for my $f (qw(list_active list_batches membership_list_ids verify))
{
	my $v = $value{"big:$f:run"};
	check($want{$f}->($v), "$f over queue big returns every row: $v");
	my $held = $inside{"big:$f:run"} - $after{'list:run:before'};
	check($held < $limit, "$f over queue big: " . kb($held)
		  . " held inside the statement after the call (limit: work_mem + bound = " . kb($limit) . ")");
}
my $grow = $after{'list:run:after'} - $after{'list:run:before'};
check($grow < $bound, "listing queue big leaves nothing behind (after - before = " . kb($grow) . ")");
EOF

relay_checks <"$WORK/checks"
suite_end
