# shellcheck shell=bash
# bench/lib/list.sh: the list phase: list_batches on a queue of 100 live
# batches with each --history size of finished ones, one database per size.

# list_db N: the database of history size N
list_db() { echo "batchstate_bench_list_$1"; }

# list_build N: the database of history size N: N finished batches (older,
# smaller ids, never filed) and 100 live ones, 20 in each non-terminal state
list_build() {
	local h=$1 db
	db=$(list_db "$h")
	say "list: building a queue of 100 live batches and $h finished ones ($db)"
	q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	q -d "$db" >/dev/null <<-SQL
		CREATE EXTENSION batchstate;
		-- history: finished batches, older (smaller) ids, never filed
		INSERT INTO batchstate.batch (id, queue, contains, dependencies, score, state, version)
		SELECT 'list/batch/' || lpad(i::text, 9, '0'), 'list', '{lr/1,lr/2}', '{}', 0.5,
		       (ARRAY['succeeded', 'failed', 'cancelled'])[1 + i % 3], 5
		FROM generate_series(1, $h) AS i;
		-- 100 live batches, the newest ids, 20 in each non-terminal state
		SELECT count(*) FROM generate_series($h + 1, $h + 100) AS i,
		    LATERAL batchstate.create_batch('list/batch/' || lpad(i::text, 9, '0'), 'list',
		        (ARRAY['created', 'scored', 'speculating', 'merging', 'cancelling'])[1 + i % 5],
		        '{lr/1,lr/2}') AS b;
		VACUUM ANALYZE batchstate.batch;
		VACUUM ANALYZE batchstate.batch_state_membership;
	SQL
	[ "$(q -d "$db" -c "SELECT count(*) FROM batchstate.list_batches('list', 'created', 'scored', 'speculating', 'merging', 'cancelling')")" = 100 ] ||
		die "the list queue of $db does not hold 100 live batches"
}

# list_phase: per history size a database and a warm-up run, then --rounds
# rounds of one measured run per size; list.dat; the databases dropped
list_phase() {
	local h r tps db
	for h in $HISTORY; do
		list_build "$h"
		pgbench_run "$OUT/raw/list-$h-warmup.log" "$(list_db "$h")" -c "$CLIENTS" -j "$CLIENTS" -T "$WARMUP" \
			-D lq=list -f "$BENCH/list.pgbench"
	done
	: >"$OUT/raw/list-runs.dat"
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
		done
	done
	# shellcheck disable=SC2086
	dat_file "$OUT/raw/list-runs.dat" "history" "list_batches calls/s, 100 live batches" $HISTORY >"$OUT/list.dat"
	for h in $HISTORY; do
		q -d postgres -c "DROP DATABASE $(list_db "$h")"
	done
}
