# shellcheck shell=bash
# bench/lib/perf.sh: the perf phase (--perf): a perf profile of the extension's
# backends during one lifecycle run; perf-self.txt, perf-children.txt, perf-user.txt.

# perf_phase: profile the backends of one extension run and write the three reports
perf_phase() {
	local pids pg_pid
	say "perf: profiling the extension's backends for $PERF_SECONDS s"
	settle batchstate
	RUNNO=$((RUNNO + 1))
	"$PG_BIN/pgbench" "${PGBENCH_SEED[@]}" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$PERF_SECONDS" \
		-D n=0 -D base=$((RUNNO * 10000000000000)) -D queues=8 \
		-f "$BENCH/lifecycle_extension.pgbench" "$DB" >"$OUT/raw/perf-pgbench.log" 2>&1 &
	pg_pid=$!
	BG_PIDS+=("$pg_pid")
	sleep 2
	pids=$(pgbench_backends "$DB" | paste -sd, -)
	[ -n "$pids" ] || die "perf: no pgbench backends found"
	perf record -F 499 -e cpu-clock --call-graph dwarf,16384 -o "$CL/perf.data" -p "$pids" \
		-- sleep $((PERF_SECONDS > 5 ? PERF_SECONDS - 4 : 1)) >"$OUT/raw/perf-record.log" 2>&1 ||
		die "perf record failed: $(tail -n 5 "$OUT/raw/perf-record.log")"
	wait "$pg_pid" || true
	BG_PIDS=()
	perf report -i "$CL/perf.data" --no-children --sort dso,symbol --stdio -g none --percent-limit 0.4 \
		2>/dev/null | grep -v '^$' >"$OUT/perf-self.txt" || true
	perf report -i "$CL/perf.data" --children --sort symbol --stdio -g none --percent-limit 1.5 \
		2>/dev/null | grep -v '^$' >"$OUT/perf-children.txt" || true
	# user space only: where the server's own instructions go
	perf report -i "$CL/perf.data" --no-children --sort dso,symbol --stdio -g none --percent-limit 0.3 \
		--dsos postgres,batchstate.so,libc.so.6 2>/dev/null | grep -v '^$' >"$OUT/perf-user.txt" || true
	say "perf: reports in $OUT/perf-self.txt, perf-children.txt and perf-user.txt"
}
