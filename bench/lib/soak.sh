# shellcheck shell=bash
# bench/lib/soak.sh: the soak (--soak): extension lifecycles on --clients clients
# plus one client listing random queues, on stock settings, window by window.

SOAK_QUEUES=10 # queues of 100 live batches
SOAK_LIFE_PID='' SOAK_LIST_PID='' # the two pgbench runs
SOAK_LIFE_BE='' SOAK_LIST_BE=''   # and their backends' pids

# soak_setup: the database, soak-env.txt, and 100 live batches per queue,
# spread over the non-terminal states, so that every list returns rows (the
# lifecycles run through the same queues).  No ANALYZE: a fresh install, the
# case the planner guard is for.
soak_setup() {
	setup_bench_db
	write_env "$OUT/soak-env.txt"
	sed -i '/^pgbench:/d' "$OUT/soak-env.txt"
	echo "soak: $MINUTES min, windows of $WINDOW s, $CLIENTS lifecycle clients + 1 list client, $SOAK_QUEUES queues of 100 live batches, stock settings" >>"$OUT/soak-env.txt"
	qdb -c "SELECT count(*) FROM generate_series(1, $SOAK_QUEUES) AS qn, generate_series(1, 100) AS i,
		LATERAL batchstate.create_batch('live/' || qn || '/' || i, qn::text,
			(ARRAY['created', 'scored', 'speculating', 'merging', 'cancelling'])[1 + i % 5],
			'{lr/1}') AS b" >/dev/null
	sleep 1
	qdb -c 'SELECT pg_stat_reset()' >/dev/null
}

# appname_pids APPNAME: the pids of the client backends of APPNAME, on one line
appname_pids() {
	q -d postgres -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'
		AND backend_type = 'client backend' ORDER BY pid" | paste -sd' ' -
}

# soak_start: start the lifecycle and the list pgbench runs (progress every
# window) and find their backends, for their CPU time
soak_start() {
	local tries=0
	say "soak: $SOAK_SECONDS s of lifecycles ($CLIENTS clients) plus one client listing random queues"
	PGAPPNAME=bench_lifecycle "$PG_BIN/pgbench" "${PGBENCH_SEED[@]}" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" \
		-T $((SOAK_SECONDS + 1)) -P "$WINDOW" -D n=0 -D base=90000000000000 -D queues=$SOAK_QUEUES \
		-f "$BENCH/lifecycle_extension.pgbench" "$DB" >"$OUT/raw/soak-lifecycle.log" 2>&1 &
	SOAK_LIFE_PID=$!
	BG_PIDS+=("$SOAK_LIFE_PID")
	PGAPPNAME=bench_list "$PG_BIN/pgbench" "${PGBENCH_SEED[@]}" -n -M prepared -c 1 -j 1 -T $((SOAK_SECONDS + 1)) -P "$WINDOW" \
		-D queues=$SOAK_QUEUES -f "$BENCH/list_random.pgbench" "$DB" >"$OUT/raw/soak-list.log" 2>&1 &
	SOAK_LIST_PID=$!
	BG_PIDS+=("$SOAK_LIST_PID")
	while ((tries++ < 100)); do
		SOAK_LIFE_BE=$(appname_pids bench_lifecycle)
		SOAK_LIST_BE=$(appname_pids bench_list)
		[ "$(wc -w <<<"$SOAK_LIFE_BE")" -ge "$CLIENTS" ] && [ -n "$SOAK_LIST_BE" ] && break
		sleep 0.1
	done
}

# soak_windows: at the end of each window (each progress line of the
# lifecycle run): CPU ticks of both sets of backends (raw/soak-cpu.dat), and
# the membership table's size and dead rows (raw/soak-sizes.dat; catalog and
# statistics reads only: they scan neither table); then wait for both runs
soak_windows() {
	local w rc=0
	# shellcheck disable=SC2086
	printf '0 %s %s\n' "$(cpu_ticks $SOAK_LIFE_BE)" "$(cpu_ticks $SOAK_LIST_BE)" >"$OUT/raw/soak-cpu.dat"
	printf '# window end_s membership_bytes membership_dead batch_bytes autovacuums_membership\n' >"$OUT/raw/soak-sizes.dat"
	for ((w = 1; w <= SOAK_SECONDS / WINDOW; w++)); do
		wait_progress "$OUT/raw/soak-lifecycle.log" "$w" "$SOAK_LIFE_PID" || break
		# shellcheck disable=SC2086
		printf '%d %s %s\n' "$w" "$(cpu_ticks $SOAK_LIFE_BE)" "$(cpu_ticks $SOAK_LIST_BE)" >>"$OUT/raw/soak-cpu.dat"
		qdb -F ' ' -c "SELECT $w, $((w * WINDOW)),
			pg_total_relation_size('batchstate.batch_state_membership'),
			(SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'batchstate.batch_state_membership'::regclass),
			pg_total_relation_size('batchstate.batch'),
			(SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'batchstate.batch_state_membership'::regclass)" \
			>>"$OUT/raw/soak-sizes.dat" || true
	done
	wait "$SOAK_LIFE_PID" || rc=$?
	wait "$SOAK_LIST_PID" || rc=$?
	BG_PIDS=()
	((rc == 0)) || {
		tail -n 20 "$OUT/raw/soak-lifecycle.log" "$OUT/raw/soak-list.log" >&2
		die "pgbench failed during the soak"
	}
}

# soak_dat: soak.dat, per window: lifecycles/s and lists/s (pgbench -P
# lines), the membership table's size and dead rows, server CPU per
# lifecycle and per list (us)
soak_dat() {
	local prog='s/^progress: \([0-9.]*\) s, \([0-9.]*\) tps.*/\1 \2/p'
	sed -n "$prog" "$OUT/raw/soak-lifecycle.log" >"$OUT/raw/soak-life.prog"
	sed -n "$prog" "$OUT/raw/soak-list.log" >"$OUT/raw/soak-list.prog"
	awk -v window="$WINDOW" -v tick="$TICK_US" -v total=$((SOAK_SECONDS / WINDOW)) '
		BEGIN { print "# window end_s lifecycles_per_s lists_per_s membership_bytes membership_dead server_us_per_lifecycle server_us_per_list" }
		FILENAME == ARGV[1] { n++; t[n] = $1; life[n] = $2; next }
		FILENAME == ARGV[2] { m++; list[m] = $2; next }
		FILENAME == ARGV[3] { cl[$1] = $2; cs[$1] = $3; next }
		!/^#/ { size[$1] = $3; dead[$1] = $4 }
		END {
			for (i = 1; i <= total && i <= n; i++) {
				lu = (i in cl && (i - 1) in cl && life[i] > 0) ? (cl[i] - cl[i - 1]) * tick / (life[i] * window) : -1
				su = (i in cs && (i - 1) in cs && list[i] > 0) ? (cs[i] - cs[i - 1]) * tick / (list[i] * window) : -1
				if (lu < 0) lu = -1
				if (su < 0) su = -1
				printf "%d %.0f %.1f %.1f %d %d %.1f %.1f\n", i, t[i], life[i], (i in list) ? list[i] : 0,
					size[i], dead[i], lu, su
			}
		}' "$OUT/raw/soak-life.prog" "$OUT/raw/soak-list.prog" "$OUT/raw/soak-cpu.dat" \
		"$OUT/raw/soak-sizes.dat" >"$OUT/soak.dat"
}

# soak_tables: raw/soak-tables.txt, the two tables at the end: "relname
# seq_scan idx_scan live_rows dead_rows autovacuums total_bytes heap_bytes"
soak_tables() {
	qdb -c 'SELECT pg_stat_clear_snapshot()' >/dev/null
	sleep 1.2
	qdb -F ' ' -c "SELECT relname, seq_scan, coalesce(idx_scan, 0), 0, n_dead_tup, autovacuum_count,
			pg_total_relation_size(relid), pg_relation_size(relid)
		FROM pg_stat_user_tables WHERE schemaname = 'batchstate' ORDER BY relname" >"$OUT/raw/soak-tables.txt"
	# live rows, counted (after the statistics are read: this scans)
	awk -v b="$(qdb -c 'SELECT count(*) FROM batchstate.batch')" \
		-v m="$(qdb -c 'SELECT count(*) FROM batchstate.batch_state_membership')" \
		'{ $4 = ($1 == "batch") ? b : m; print }' "$OUT/raw/soak-tables.txt" >"$OUT/raw/soak-tables.tmp"
	mv -f "$OUT/raw/soak-tables.tmp" "$OUT/raw/soak-tables.txt"
}

# soak_result LIFE-TPS LIST-TPS DRIFT: the windows, the tables and the three
# targets, from soak.dat and raw/soak-tables.txt
soak_result() {
	awk -v window="$WINDOW" -v minutes="$MINUTES" -v life_tps="$1" -v list_tps="$2" \
		-v drift="$3" -v tables="$OUT/raw/soak-tables.txt" '
		!/^#/ { n++; t[n] = $2; life[n] = $3; list[n] = $4; msz[n] = $5; lu[n] = $7; su[n] = $8 }
		END {
			printf "soak: %s min, %d windows of %d s (lifecycles on the extension, 2 clients; 1 client listing random queues)\n", minutes, n, window
			printf "  %8s %13s %9s %15s %12s %14s\n", "window", "lifecycles/s", "lists/s", "us/lifecycle", "us/list", "membership"
			best = 0; bestcpu = 0
			for (i = 1; i <= n; i++) {
				printf "  %6d s %13.1f %9.1f %15s %12s %11.2f MB\n", t[i], life[i], list[i],
					lu[i] < 0 ? "n/a" : sprintf("%.1f", lu[i]), su[i] < 0 ? "n/a" : sprintf("%.1f", su[i]), msz[i] / 1048576
				if (t[i] <= 60 && life[i] > best) best = life[i]
				if (t[i] <= 60 && lu[i] > 0 && (bestcpu == 0 || lu[i] < bestcpu)) bestcpu = lu[i]
			}
			printf "  (us/lifecycle, us/list: CPU time of the server backends per transaction in the window)\n"
			printf "  whole run: %.1f lifecycles/s, %.1f lists/s\n", life_tps, list_tps
			while ((getline line < tables) > 0) {
				split(line, f, " ")
				printf "  %s: %.2f MB with indexes (heap %.2f MB), %d rows, %d dead rows now, seq_scan %d, idx_scan %d, autovacuums %d\n",
					f[1], f[7] / 1048576, f[8] / 1048576, f[4], f[5], f[2], f[3], f[6]
				if (f[1] == "batch_state_membership") msize = f[7]
				seq += f[2]
			}
			printf "  verify() after the run: %d drift rows\n", drift
			if (bestcpu > 0 && lu[n] > 0)
				printf "  CPU per lifecycle, last window / best window of the first minute = %.2f (1.00 = no decay)\n", lu[n] / bestcpu
			r = (best > 0) ? life[n] / best : 0
			v1 = (r >= 0.9) ? "met" : "MISSED"
			v2 = (msize <= 16 * 1048576) ? "met" : "MISSED"
			v3 = (seq == 0) ? "met" : "MISSED"
			printf "target: last window / best window of the first minute = %.2f (>= 0.90: %s)\n", r, v1
			printf "target: membership table with indexes = %.2f MB (<= 16 MB: %s)\n", msize / 1048576, v2
			printf "target: sequential scans of the two tables = %d (0: %s)\n", seq, v3
		}' "$OUT/soak.dat"
}

# soak: the whole soak; soak.dat, soak-env.txt and soak.txt (printed too)
soak() {
	local life_tps list_tps drift
	soak_setup
	soak_start
	soak_windows
	soak_dat
	life_tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$OUT/raw/soak-lifecycle.log")
	list_tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$OUT/raw/soak-list.log")
	soak_tables
	drift=$(qdb -c 'SELECT count(*) FROM batchstate.verify()')
	soak_result "$life_tps" "$list_tps" "$drift" >"$OUT/raw/soak-result.txt"
	{
		echo "batchstate soak"
		sed 's/^/  /' "$OUT/soak-env.txt"
		echo "  load average at end: $(loadavg)"
		echo
		cat "$OUT/raw/soak-result.txt"
	} | tee "$OUT/soak.txt"
}
