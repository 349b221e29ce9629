# shellcheck shell=bash
# bench/lib/summary.sh: summary.txt (printed too): the medians, CPU, memory,
# instruction counts, scans and targets of a full or smoke run.

# col NAME KEY COLUMN: field COLUMN of the line of NAME.dat whose key (field 2) is KEY
col() { awk -v k="$2" -v c="$3" '$2 == k { print $c }' "$OUT/$1.dat"; }

# col_ins APPROACH: the approach's instructions per lifecycle, from instructions.dat
col_ins() { awk -v k="$1" '$1 == k { print $2 }' "$OUT/instructions.dat"; }

# summary_lifecycle: the lifecycle table (ratios against the extension)
summary_lifecycle() {
	local ext a m lo hi su cu
	ext=$(col lifecycle extension 3)
	echo "lifecycle: lifecycles/s (create, scored, speculating, merging, succeeded: 5 transactions"
	echo "each), $CLIENTS clients, median of $ROUNDS interleaved rounds of $SECONDS_RUN s; CPU per lifecycle"
	echo "in microseconds (medians), server backends and pgbench"
	printf '  %-12s %9s %9s %9s %8s %10s %10s\n' approach median min max "ext/it" "server_us" "pgbench_us"
	awk '!/^#/ { print $2, $3, $4, $5, $6, $7 }' "$OUT/lifecycle.dat" | while read -r a m lo hi su cu; do
		printf '  %-12s %9.1f %9.1f %9.1f %7sx %10s %10s\n' "$a" "$m" "$lo" "$hi" "$(ratio "$ext" "$m")" "$su" "$cu"
	done
}

# summary_list FIRST: the list_batches table (ratios against history size FIRST)
summary_list() {
	local first=$1 l0 h m lo hi su cu
	l0=$(col list "$first" 3)
	echo "list_batches: calls/s on a queue of 100 live batches (each call returns all 100), by"
	echo "finished batches of history, median of $ROUNDS interleaved rounds of $SECONDS_RUN s"
	printf '  %-12s %9s %9s %9s %8s %10s %10s\n' history median min max "vs $first" "server_us" "pgbench_us"
	awk '!/^#/ { print $2, $3, $4, $5, $6, $7 }' "$OUT/list.dat" | while read -r h m lo hi su cu; do
		printf '  %-12s %9.1f %9.1f %9.1f %7sx %10s %10s\n' "$h" "$m" "$lo" "$hi" "$(ratio "$m" "$l0")" "$su" "$cu"
	done
}

# summary_memory: each backend's samples and floors
summary_memory() {
	local p n f l m1 m2 s1 s2
	echo "memory per backend (extension: lifecycles and lists for $MEM_SECONDS s, $MEM_LIFECYCLES transactions;"
	echo "\"Grand total\" of pg_log_backend_memory_contexts)"
	memory_growth | while read -r p n f l m1 m2 s1 s2; do
		printf '  backend %s: %d samples, %s kB at %d s, %s kB at %d s; floor %s kB (first half) -> %s kB (second half)\n' \
			"$p" "$n" "$f" "$s1" "$l" "$s2" "$m1" "$m2"
	done
}

# summary_instructions: instructions per lifecycle, when they were counted
summary_instructions() {
	local a n
	[ -s "$OUT/instructions.dat" ] || return 0
	echo "instructions per lifecycle (user space, callgrind, one single-user backend, no client:"
	echo "what the server executes for the 5 statements of a lifecycle, without kernel or protocol)"
	awk '!/^#/ { print $1, $2 }' "$OUT/instructions.dat" | while read -r a n; do
		printf '  %-12s %9d  %7sx of the extension\n' "$a" "$n" "$(ratio "$n" "$(col_ins extension)")"
	done
	echo
}

# summary_targets FIRST LAST: the targets of this run's medians, with the
# CPU and instruction ratios beside them (list: history LAST / history FIRST)
summary_targets() {
	local first=$1 last=$2 ext plp fused idem rt r1 r2 r3 r4 r5 r6 c1 c2 c3 worst counted=0
	ext=$(col lifecycle extension 3)
	plp=$(col lifecycle plpgsql 3)
	fused=$(col lifecycle fused_sql 3)
	idem=$(col lifecycle fused_idem 3)
	rt=$(col lifecycle round_trips 3)
	r1=$(ratio "$ext" "$plp")
	r2=$(ratio "$ext" "$fused")
	r3=$(ratio "$ext" "$rt")
	r4=$(ratio "$(col list "$last" 3)" "$(col list "$first" 3)")
	r5=$(ratio "$ext" "$idem")
	r6=$(ratio "$idem" "$plp")
	# the same ratios from server CPU per lifecycle (lower is better)
	c1=$(ratio "$(col lifecycle plpgsql 6)" "$(col lifecycle extension 6)")
	c2=$(ratio "$(col lifecycle fused_sql 6)" "$(col lifecycle extension 6)")
	c3=$(ratio "$(col lifecycle fused_idem 6)" "$(col lifecycle extension 6)")
	worst=$(memory_growth | awk '{ g = $6 - $5; if (NR == 1 || g > w) w = g } END { printf "%.1f", w }')
	[ -s "$OUT/instructions.dat" ] && counted=1
	echo "targets (medians of this run):"
	echo "  extension / plpgsql   = ${r1}x (>= 1.25x: $(target x "$r1" 1.25)); server CPU per lifecycle, plpgsql / extension = ${c1}x"
	echo "  extension / fused_sql = ${r2}x (>= 0.95x: $(target x "$r2" 0.95)); server CPU per lifecycle, fused_sql / extension = ${c2}x"
	if ((counted)); then
		echo "  by instructions per lifecycle: plpgsql / extension = $(ratio "$(col_ins plpgsql)" "$(col_ins extension)")x, fused_sql / extension = $(ratio "$(col_ins fused_sql)" "$(col_ins extension)")x"
	fi
	echo "the floor with the extension's filing semantics (no target; see BENCHMARKS.md):"
	echo "  extension / fused_idem = ${r5}x; server CPU per lifecycle, fused_idem / extension = ${c3}x"
	if ((counted)); then
		echo "  by instructions per lifecycle: fused_idem / extension = $(ratio "$(col_ins fused_idem)" "$(col_ins extension)")x"
	fi
	echo "  fused_idem / plpgsql = ${r6}x: what the extension would reach against PL/pgSQL with no function layer at all"
	echo "  extension / round_trips = ${r3}x (no target)"
	echo "  list_batches history $last / history $first = ${r4}x (>= 0.85x: $(target x "$r4" 0.85))"
	echo "  memory per backend flat: largest growth of the floor ${worst} kB ($(awk -v w="$worst" 'BEGIN { print (w <= 64) ? "flat: met" : "GROWS: MISSED" }'))"
}

# summarize: summary.txt, printed too
summarize() {
	local first last
	first=$(awk '!/^#/ { print $2; exit }' "$OUT/list.dat")
	last=$(awk '!/^#/ { h = $2 } END { print h }' "$OUT/list.dat")
	{
		echo "batchstate benchmark ($MODE mode)"
		sed 's/^/  /' "$OUT/env.txt"
		echo "  load average at end: $(loadavg)"
		echo
		summary_lifecycle
		echo
		summary_list "$first"
		echo
		summary_memory
		echo
		summary_instructions
		echo "sequential / index scans of each approach's tables during the lifecycle runs"
		awk '{ printf "  %-14s %-24s seq_scan %6d  idx_scan %10d\n", $2, $3, $4, $5 }' "$OUT/raw/seq-scans.txt"
		echo
		summary_targets "$first" "$last"
		echo
		cat "$OUT/raw/consistency.txt"
	} | tee "$OUT/summary.txt"
}
