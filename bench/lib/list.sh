# shellcheck shell=bash
# bench/lib/list.sh: the list phase: list_batches on a queue of 100 live
# batches with each --history size of finished ones, one database per size;
# in the databases of the first and the last size, the lookups of 1.3
# too (dependents_of, batches_containing, queue_stats, stuck_batches), and
# the sizes of the table and its indexes.

LOOKUPS=(dependents_of batches_containing queue_stats stuck_batches)

# list_db N: the database of history size N
list_db() { echo "batchstate_bench_list_$1"; }

# list_build N: the database of history size N: N finished batches (older,
# smaller ids, never filed) and 100 live ones, 20 in each non-terminal state
# but creating.  Each batch holds two land requests of its own and depends
# on the batch before it, as a queue's batches do; raw/sizes-N.txt has the
# sizes of the table and its indexes then.
list_build() {
	local h=$1 db
	db=$(list_db "$h")
	say "list: building a queue of 100 live batches and $h finished ones ($db)"
	q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	q -d "$db" >/dev/null <<-SQL
		CREATE EXTENSION batchstate;
		-- history: finished batches, older (smaller) ids, never filed
		INSERT INTO batchstate.batch (id, queue, contains, dependencies, score, state, version)
		SELECT 'list/batch/' || lpad(i::text, 9, '0'), 'list', ARRAY['lr/' || i || '/1', 'lr/' || i || '/2'],
		       ARRAY['list/batch/' || lpad((i - 1)::text, 9, '0')], 0.5,
		       (ARRAY['succeeded', 'failed', 'cancelled'])[1 + i % 3], 5
		FROM generate_series(1, $h) AS i;
		-- 100 live batches, the newest ids, 20 in each non-terminal state
		SELECT count(*) FROM generate_series($h + 1, $h + 100) AS i,
		    LATERAL batchstate.create_batch('list/batch/' || lpad(i::text, 9, '0'), 'list',
		        (ARRAY['created', 'scored', 'speculating', 'merging', 'cancelling'])[1 + i % 5],
		        ARRAY['lr/' || i || '/1', 'lr/' || i || '/2'],
		        ARRAY['list/batch/' || lpad((i - 1)::text, 9, '0')]) AS b;
		VACUUM ANALYZE batchstate.batch;
		VACUUM ANALYZE batchstate.batch_state_membership;
	SQL
	[ "$(q -d "$db" -c "SELECT count(*) FROM batchstate.list_batches('list', 'created', 'scored', 'speculating', 'merging', 'cancelling')")" = 100 ] ||
		die "the list queue of $db does not hold 100 live batches"
	q -d "$db" -F ' ' -c "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c
		WHERE c.relnamespace = 'batchstate'::regnamespace AND c.relkind IN ('r', 'i')
		ORDER BY c.relkind DESC, c.relname" >"$OUT/raw/sizes-$h.txt"
}

# lookup_run H R: one measured run of each lookup in the database of
# history size H, round R, into raw/lookup-runs.dat ("lookup:H round tps
# server_us pgbench_us")
lookup_run() {
	local h=$1 r=$2 l db
	db=$(list_db "$h")
	for l in "${LOOKUPS[@]}"; do
		pgbench_run "$OUT/raw/lookup-$l-$h-r$r.log" "$db" -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" \
			-D lq=list -D h="$h" -f "$BENCH/lookup_$l.pgbench"
		printf '%s:%s %d %s %s %s\n' "$l" "$h" "$r" "$TPS" "$SRV_US" "$CLI_US" >>"$OUT/raw/lookup-runs.dat"
		say "lookup round $r/$ROUNDS: history $(printf '%-8s %-19s %8.1f' "$h" "$l" "$TPS") calls/s," \
			"CPU per call: server $SRV_US us, pgbench $CLI_US us"
	done
}

# list_phase: per history size a database and a warm-up run, then --rounds
# rounds of one measured run per size (and of each lookup at the first and
# the last size); list.dat, lookup.dat; the databases dropped
list_phase() {
	local h r tps db first last k l keys=() sizes
	read -r -a sizes <<<"$HISTORY"
	first=${sizes[0]} last=${sizes[-1]}
	for h in $HISTORY; do
		list_build "$h"
		pgbench_run "$OUT/raw/list-$h-warmup.log" "$(list_db "$h")" -c "$CLIENTS" -j "$CLIENTS" -T "$WARMUP" \
			-D lq=list -f "$BENCH/list.pgbench"
	done
	: >"$OUT/raw/list-runs.dat"
	: >"$OUT/raw/lookup-runs.dat"
	for ((r = 1; r <= ROUNDS; r++)); do
		for h in $HISTORY; do
			db=$(list_db "$h")
			settle batchstate "$db"
			pgbench_run "$OUT/raw/list-$h-r$r.log" "$db" -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" \
				-D lq=list -f "$BENCH/list.pgbench"
			tps=$TPS
			printf '%s %d %s %s %s\n' "$h" "$r" "$tps" "$SRV_US" "$CLI_US" >>"$OUT/raw/list-runs.dat"
			say "list round $r/$ROUNDS: history $(printf '%-8s %8.1f' "$h" "$tps") lists/s," \
				"CPU per call: server $SRV_US us, pgbench $CLI_US us (load $(loadavg))"
			if [ "$h" = "$first" ] || [ "$h" = "$last" ]; then lookup_run "$h" "$r"; fi
		done
	done
	# shellcheck disable=SC2086
	dat_file "$OUT/raw/list-runs.dat" "history" "list_batches calls/s, 100 live batches" $HISTORY >"$OUT/list.dat"
	for l in "${LOOKUPS[@]}"; do
		for k in $(printf '%s\n' "$first" "$last" | uniq); do keys+=("$l:$k"); done
	done
	dat_file "$OUT/raw/lookup-runs.dat" "lookup:history" "calls/s, 100 live batches" "${keys[@]}" >"$OUT/lookup.dat"
	for h in $HISTORY; do
		q -d postgres -c "DROP DATABASE $(list_db "$h")"
	done
}
