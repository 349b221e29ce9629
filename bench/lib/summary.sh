# shellcheck shell=bash
# bench/lib/summary.sh: summary.txt (printed too): the medians, CPU, memory,
# instruction counts, sizes, scans and targets of a full or smoke run (the
# phases it ran: each part only when its results are there).

# col NAME KEY COLUMN: field COLUMN of the line of NAME.dat whose key (field 2)
# is KEY (nothing when the run did not write NAME.dat)
col() { awk -v k="$2" -v c="$3" '$2 == k { print $c }' "$OUT/$1.dat" 2>/dev/null || true; }

# have NAME: true when this run wrote NAME.dat
have() { [ -s "$OUT/$1.dat" ]; }

# col_ins APPROACH: the approach's instructions per lifecycle, from instructions.dat
col_ins() { awk -v k="$1" '$1 == k { print $2 }' "$OUT/instructions.dat" 2>/dev/null || true; }

# approach_table NAME EXT WIDTH: the rows of NAME.dat, one per approach
# (column WIDTH wide), with the throughput of approach EXT over each one's
approach_table() {
	local ext a m lo hi su cu w=$3
	ext=$(col "$1" "$2" 3)
	printf "  %-${w}s %9s %9s %9s %8s %10s %10s\n" approach median min max "ext/it" "server_us" "pgbench_us"
	awk '!/^#/ { print $2, $3, $4, $5, $6, $7 }' "$OUT/$1.dat" | while read -r a m lo hi su cu; do
		printf "  %-${w}s %9.1f %9.1f %9.1f %7sx %10s %10s\n" "$a" "$m" "$lo" "$hi" "$(ratio "$ext" "$m")" "$su" "$cu"
	done
}

# summary_lifecycle: the lifecycle table (ratios against the extension)
summary_lifecycle() {
	echo "lifecycle: lifecycles/s (create, scored, speculating, merging, succeeded: 5 transactions"
	echo "each), $CLIENTS clients, median of $ROUNDS interleaved rounds of $SECONDS_RUN s; CPU per lifecycle"
	echo "in microseconds (medians), server backends and pgbench"
	approach_table lifecycle extension 12
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
		case $a in
		shape_*) printf '  %-16s %9d  %7sx of shape_extension\n' "$a" "$n" "$(ratio "$n" "$(col_ins shape_extension)")" ;;
		*) printf '  %-16s %9d  %7sx of the extension\n' "$a" "$n" "$(ratio "$n" "$(col_ins extension)")" ;;
		esac
	done
	echo "  (shape_*: the shape's lifecycle, create_batch(id, queue) and 4 moves on real ids;"
	echo "  shape_idem_nogin: fused_idem on tables without the GIN index of contains and dependencies)"
	echo
}

# summary_shape: the shape table (ratios against the extension)
summary_shape() {
	echo "shape: lifecycles/s as a controller calls them (ids 'q<1..64>/batch/<1..10^15>', 64 queues,"
	echo "create_batch(id, queue) with its defaults, then 4 moves), $CLIENTS clients, median of $ROUNDS rounds"
	approach_table shape shape_extension 16
}

# summary_lookups FIRST LAST: each lookup at history FIRST and LAST, and the
# sizes of the table and its indexes at LAST
summary_lookups() {
	local first=$1 last=$2 l m0 m1 s0 s1
	echo "lookups of 1.3: calls/s on the same queue of 100 live batches, by finished batches of"
	echo "history (dependents_of and batches_containing find 1 batch, queue_stats 5 rows, stuck_batches 100)"
	printf '  %-19s %12s %12s %8s %12s %12s\n' lookup "h=$first" "h=$last" ratio "server_us" "server_us"
	for l in "${LOOKUPS[@]}"; do
		m0=$(col lookup "$l:$first" 3) m1=$(col lookup "$l:$last" 3)
		s0=$(col lookup "$l:$first" 6) s1=$(col lookup "$l:$last" 6)
		printf '  %-19s %12.1f %12.1f %7sx %12s %12s\n' "$l" "${m0:-0}" "${m1:-0}" "$(ratio "$m1" "$m0")" "$s0" "$s1"
	done
	if [ -s "$OUT/raw/sizes-$last.txt" ]; then
		echo "sizes with $last finished batches of history (+ 100 live):"
		awk '{ printf "  %-34s %9.1f MB\n", $1, $2 / 1048576 }' "$OUT/raw/sizes-$last.txt"
	fi
}

# summary_targets_13 FIRST LAST: the targets of 1.3 (shape, lookups, GIN),
# from the parts this run measured
summary_targets_13() {
	local first=$1 last=$2 r c l ext idem nogin
	if have shape; then
		r=$(ratio "$(col shape shape_extension 3)" "$(col shape shape_idem 3)")
		c=$(ratio "$(col shape shape_idem 6)" "$(col shape shape_extension 6)")
		echo "  shape: extension / fused_idem = ${r}x (>= 0.95x: $(target x "$r" 0.95)); server CPU per lifecycle, fused_idem / extension = ${c}x"
	fi
	ext=$(col_ins shape_extension) idem=$(col_ins shape_idem) nogin=$(col_ins shape_idem_nogin)
	if [ -n "$ext" ] && [ -n "$idem" ]; then
		r=$(ratio "$idem" "$ext")
		echo "  shape by instructions per lifecycle: fused_idem / extension = ${r}x (>= 0.95x: $(target x "$r" 0.95))"
	fi
	if [ -n "$idem" ] && [ -n "$nogin" ]; then
		echo "  the GIN index of contains and dependencies costs a create $((idem - nogin)) instructions (fused_idem with it and without)"
	fi
	if have lookup && [ "$first" != "$last" ]; then
		for l in "${LOOKUPS[@]}"; do
			r=$(ratio "$(col lookup "$l:$last" 3)" "$(col lookup "$l:$first" 3)")
			echo "  $l history $last / history $first = ${r}x (>= 0.8x: $(target x "$r" 0.8))"
		done
	fi
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
	[ -n "$(col_ins extension)" ] && counted=1
	echo "targets (medians of this run):"
	if have lifecycle; then
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
	fi
	if have list; then
		echo "  list_batches history $last / history $first = ${r4}x (>= 0.85x: $(target x "$r4" 0.85))"
	fi
	if have memory; then
		worst=$(memory_growth | awk '{ g = $6 - $5; if (NR == 1 || g > w) w = g } END { printf "%.1f", w }')
		echo "  memory per backend flat: largest growth of the floor ${worst} kB ($(awk -v w="$worst" 'BEGIN { print (w <= 64) ? "flat: met" : "GROWS: MISSED" }'))"
	fi
	summary_targets_13 "$first" "$last"
}

# summarize: summary.txt, printed too
summarize() {
	local first last
	first=$(awk '!/^#/ { print $2; exit }' "$OUT/list.dat" 2>/dev/null || true)
	last=$(awk '!/^#/ { h = $2 } END { print h }' "$OUT/list.dat" 2>/dev/null || true)
	{
		echo "batchstate benchmark ($MODE mode${ONLY:+, only $ONLY})"
		sed 's/^/  /' "$OUT/env.txt"
		echo "  load average at end: $(loadavg)"
		echo
		if have lifecycle; then summary_lifecycle && echo; fi
		if have shape; then summary_shape && echo; fi
		if have list; then summary_list "$first" && echo; fi
		if have lookup; then summary_lookups "$first" "$last" && echo; fi
		if have memory; then summary_memory && echo; fi
		summary_instructions
		if have lifecycle; then
			echo "sequential / index scans of each approach's tables during the lifecycle runs"
			awk '{ printf "  %-14s %-24s seq_scan %6d  idx_scan %10d\n", $2, $3, $4, $5 }' "$OUT/raw/seq-scans.txt"
			echo
		fi
		summary_targets "$first" "$last"
		if have lifecycle; then echo && cat "$OUT/raw/consistency.txt"; fi
	} | tee "$OUT/summary.txt"
}
