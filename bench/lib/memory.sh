# shellcheck shell=bash
# bench/lib/memory.sh: the memory phase: per-backend memory of the extension's
# backends over one long run (memory.dat), and whether it stays flat.
# shellcheck disable=SC2034 # MEM_LIFECYCLES: for bench/lib/summary.sh

# memory_sample PGBENCH-PID INTERVAL: while pgbench runs, every INTERVAL s
# ask each of its backends to log its memory contexts; the samples (number,
# second, pids) in raw/memory-samples.txt
memory_sample() {
	local pg_pid=$1 interval=$2 t pids sample=0 start=$SECONDS
	: >"$OUT/raw/memory-samples.txt"
	for ((t = 1; t < MEM_SECONDS; t += interval)); do
		while ((SECONDS - start < t)); do sleep 0.1; done
		kill -0 "$pg_pid" 2>/dev/null || break
		pids=$(pgbench_backends "$DB" | paste -sd' ' -)
		[ -n "$pids" ] || continue
		sample=$((sample + 1))
		q -d postgres -c "SELECT pg_log_backend_memory_contexts(pid) FROM unnest('{${pids// /,}}'::int[]) AS pid" \
			>/dev/null 2>&1 || true
		echo "$sample $((SECONDS - start)) $pids" >>"$OUT/raw/memory-samples.txt"
	done
}

# Memory of the extension's backends over one long run: lifecycles with a
# list now and then, two backends that live through the whole phase; each
# sample asks every backend to log its memory contexts and reads the
# "Grand total" line it writes to the server log.
# memory_phase: that run, then memory.dat: "sample seconds pid total_bytes used_bytes"
memory_phase() {
	local interval=$((MEM_SECONDS >= 30 ? 5 : 1)) offset pg_pid
	say "memory: $MEM_SECONDS s of extension lifecycles and lists, sampling backend memory every $interval s"
	offset=$(stat -c %s "$CL/log")
	RUNNO=$((RUNNO + 1))
	"$PG_BIN/pgbench" "${PGBENCH_SEED[@]}" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$MEM_SECONDS" \
		-D n=0 -D base=$((RUNNO * 10000000000000)) -D queues=8 \
		-f "$BENCH/lifecycle_extension.pgbench@9" -f "$BENCH/list_random.pgbench@1" "$DB" \
		>"$OUT/raw/memory-pgbench.log" 2>&1 &
	pg_pid=$!
	BG_PIDS+=("$pg_pid")
	memory_sample "$pg_pid" "$interval"
	wait "$pg_pid" || die "pgbench failed in the memory phase: $(tail -n 5 "$OUT/raw/memory-pgbench.log")"
	BG_PIDS=()
	sleep 1
	# "[pid] LOG:  Grand total: T bytes in B blocks; F free (C chunks); U used"
	tail -c +$((offset + 1)) "$CL/log" |
		sed -n 's/.*\[\([0-9]*\)\] LOG:  Grand total: \([0-9]*\) bytes in .* \([0-9]*\) used$/\1 \2 \3/p' \
			>"$OUT/raw/memory-totals.txt"
	# the n-th total of a pid belongs to its n-th sample
	awk 'NR == FNR { secs[$1] = $2; for (i = 3; i <= NF; i++) if ($i != "") asked[$i] = asked[$i] " " $1; next }
		{ split(asked[$1], s, " "); k = ++seen[$1]; if (k in s) printf "%d %d %s %s %s\n", s[k], secs[s[k]], $1, $2, $3 }' \
		"$OUT/raw/memory-samples.txt" "$OUT/raw/memory-totals.txt" |
		sort -k3,3n -k1,1n >"$OUT/memory.dat"
	[ -s "$OUT/memory.dat" ] || die "no memory samples (server log: $CL/log)"
	MEM_LIFECYCLES=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$OUT/raw/memory-pgbench.log")
}

# memory_growth: per backend of memory.dat, "pid samples first_kB last_kB
# min_first_half_kB min_second_half_kB first_s last_s"; a backend's memory
# is flat when the floor of its second half is no higher than the floor of
# its first half (a sample can land mid-transaction: the floors ignore that)
memory_growth() {
	awk '{ k = ++c[$3]; v[$3, k] = $4; s[$3, k] = $2 }
		END {
			for (p in c) {
				n = c[p]; h = int((n + 1) / 2); m1 = m2 = -1
				for (k = 1; k <= n; k++) {
					if (k <= h) { if (m1 < 0 || v[p, k] < m1) m1 = v[p, k] }
					else if (m2 < 0 || v[p, k] < m2) m2 = v[p, k]
				}
				if (m2 < 0) m2 = m1
				printf "%s %d %.1f %.1f %.1f %.1f %d %d\n", p, n, v[p, 1] / 1024, v[p, n] / 1024,
					m1 / 1024, m2 / 1024, s[p, 1], s[p, n]
			}
		}' "$OUT/memory.dat" | sort -n
}
