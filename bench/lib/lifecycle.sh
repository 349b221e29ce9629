# shellcheck shell=bash
# bench/lib/lifecycle.sh: the lifecycle phase: five approaches to the same
# batch lifecycle, interleaved per round; lifecycle.dat, scans and
# consistency.  And the shape phase: the extension and its idempotent floor
# on the lifecycle as a controller calls it (real ids, 64 queues, defaults);
# shape.dat.

APPROACHES=(extension plpgsql fused_sql fused_idem round_trips)
SHAPE_APPROACHES=(shape_extension shape_idem)

# script_of APPROACH: the approach's pgbench script
script_of() {
	case $1 in
	extension) echo "$BENCH/lifecycle_extension.pgbench" ;;
	plpgsql) echo "$BENCH/lifecycle_plpgsql.pgbench" ;;
	fused_sql) echo "$BENCH/lifecycle_fused.pgbench" ;;
	fused_idem) echo "$BENCH/lifecycle_fused_idem.pgbench" ;;
	round_trips) echo "$BENCH/lifecycle_roundtrip.pgbench" ;;
	shape_extension) echo "$BENCH/shape_extension.pgbench" ;;
	shape_idem | shape_idem_nogin) echo "$BENCH/shape_fused_idem.pgbench" ;;
	esac
}

# options_of APPROACH: the approach's session options (PGOPTIONS).
# The baselines' sessions plan without sequential scans, as the extension's
# planner guard plans its own statements: after a VACUUM of a table that a
# churn left empty, the statistics say "no rows" and a plain SQL statement
# would scan every dead row.  Every statement in these scripts is a primary
# key lookup, so this only takes the pathological plans away.
options_of() {
	case $1 in
	extension | shape_extension) echo '' ;;
	*) echo '-c enable_seqscan=off' ;;
	esac
}

# schema_of APPROACH: the schema of the approach's two tables
schema_of() {
	case $1 in
	extension | shape_extension) echo batchstate ;;
	plpgsql) echo bench_plpgsql ;;
	fused_sql) echo bench_fused ;;
	fused_idem | shape_idem) echo bench_idem ;;
	shape_idem_nogin) echo bench_idem_nogin ;;
	round_trips) echo bench_rt ;;
	esac
}

# scan_counts: "schema table seq_scan idx_scan" of the benchmark's tables,
# as the statistics hold them once every other session has flushed its own
scan_counts() {
	sleep 1.2
	qdb -F ' ' -c "SELECT schemaname, relname, seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables
		WHERE schemaname IN ('batchstate', 'bench_plpgsql', 'bench_fused', 'bench_idem', 'bench_rt')
		ORDER BY schemaname, relname"
}

# lifecycle_rounds PHASE APPROACH...: a warm-up run per approach, then
# --rounds rounds of one measured run per approach, in order; every run in
# raw/PHASE-runs.dat
lifecycle_rounds() {
	local phase=$1 a r tps
	shift
	say "$phase: warm-up ($WARMUP s per approach)"
	for a in "$@"; do
		PGOPTIONS=$(options_of "$a") pgbench_run "$OUT/raw/$phase-$a-warmup.log" "$DB" \
			-c "$CLIENTS" -j "$CLIENTS" -T "$WARMUP" -f "$(script_of "$a")"
	done
	: >"$OUT/raw/$phase-runs.dat"
	for ((r = 1; r <= ROUNDS; r++)); do
		for a in "$@"; do
			settle "$(schema_of "$a")"
			PGOPTIONS=$(options_of "$a") pgbench_run "$OUT/raw/$phase-$a-r$r.log" "$DB" \
				-c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" -f "$(script_of "$a")"
			tps=$TPS
			printf '%s %d %s %s %s\n' "$a" "$r" "$tps" "$SRV_US" "$CLI_US" >>"$OUT/raw/$phase-runs.dat"
			say "$phase round $r/$ROUNDS: $(printf '%-15s %8.1f' "$a" "$tps") lifecycles/s," \
				"CPU per lifecycle: server $SRV_US us, pgbench $CLI_US us (load $(loadavg))"
		done
	done
}

# lifecycle_consistency: raw/consistency.txt, printed too: every lifecycle
# ran to the end, and the membership tables agree with the batch tables
lifecycle_consistency() {
	local a s bad
	: >"$OUT/raw/consistency.txt"
	for a in "${APPROACHES[@]}"; do
		s=$(schema_of "$a")
		bad=$(qdb -c "SELECT (SELECT count(*) FROM $s.batch WHERE state <> 'succeeded' OR version <> 5)
			+ (SELECT count(*) FROM $s.batch_state_membership)")
		printf 'consistency %s: %s batches total, %s not succeeded at version 5 or still filed\n' \
			"$a" "$(qdb -c "SELECT count(*) FROM $s.batch")" "$bad" >>"$OUT/raw/consistency.txt"
	done
	printf 'consistency extension verify(): %s drift rows\n' "$(qdb -c 'SELECT count(*) FROM batchstate.verify()')" \
		>>"$OUT/raw/consistency.txt"
	printf 'consistency plpgsql verify(): %s drift rows\n' "$(qdb -c 'SELECT count(*) FROM bench_plpgsql.verify()')" \
		>>"$OUT/raw/consistency.txt"
	cat "$OUT/raw/consistency.txt"
}

# lifecycle_phase: the rounds, the scans of each approach's tables during
# them (raw/seq-scans.txt), the consistency checks and lifecycle.dat
lifecycle_phase() {
	scan_counts >"$OUT/raw/scans-before.txt"
	lifecycle_rounds lifecycle "${APPROACHES[@]}"
	# read before the consistency checks, which scan the tables
	scan_counts >"$OUT/raw/scans-after.txt"
	awk 'NR == FNR { s[$1, $2] = $3; i[$1, $2] = $4; next }
		{ print "scans", $1, $2, $3 - s[$1, $2], $4 - i[$1, $2] }' \
		"$OUT/raw/scans-before.txt" "$OUT/raw/scans-after.txt" >"$OUT/raw/seq-scans.txt"
	lifecycle_consistency
	dat_file "$OUT/raw/lifecycle-runs.dat" "approach" "lifecycles/s" "${APPROACHES[@]}" >"$OUT/lifecycle.dat"
}

# shape_phase: the shape rounds (64 queues, real ids, create_batch's
# defaults: bench/shape_*.pgbench) and shape.dat
shape_phase() {
	lifecycle_rounds shape "${SHAPE_APPROACHES[@]}"
	dat_file "$OUT/raw/shape-runs.dat" "approach" "lifecycles/s" "${SHAPE_APPROACHES[@]}" >"$OUT/shape.dat"
}
