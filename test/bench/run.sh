#!/usr/bin/env bash
# test/bench/run.sh: the benchmark's CI suite: bench/run.sh --smoke and a short --soak on clusters
# of their own produce every number, and the PL/pgSQL baseline behaves like the extension.
#
# Environment (defaults in brackets): REPO [this checkout], PG_BIN
# [/usr/lib/postgresql/15/bin], PGHOST/PGPORT/PGUSER of a running throwaway
# cluster with the extension installed (for the parity checks), BENCH_PORT
# [5474] for the benchmark's own clusters, SOAK_SECONDS [15] and
# SOAK_WINDOW [5] for the short soak, SEED [42] for pgbench's random queue
# picks (the ids are deterministic; thread timing is not).
#
# Checks:
#   parity    sql/{policy,store,app,errors}.sql give the same results and
#             SQLSTATEs through bench_plpgsql as through the extension
#   smoke     bench/run.sh --smoke: every approach and history size has a
#             throughput, every lifecycle finished, verify() is clean, the
#             extension's hot path did not scan a table sequentially,
#             memory samples, instruction counts of four approaches (a
#             lifecycle is well over 100k instructions), the targets' lines
#             and the chart exist
#   soak      bench/run.sh --soak, briefly: windows, list rate, table sizes,
#             sequential scans and the targets' lines are printed
# Last line: "bench: N passed, M failed".
set -euo pipefail

REPO=${REPO:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
BENCH_PORT=${BENCH_PORT:-5474}
SOAK_SECONDS=${SOAK_SECONDS:-15}
SOAK_WINDOW=${SOAK_WINDOW:-5}
SEED=${SEED:-42}
export PGUSER=${PGUSER:-postgres}

passed=0 failed=0
pass() {
	passed=$((passed + 1))
	printf 'ok   %s\n' "$1"
}
fail() {
	failed=$((failed + 1))
	printf 'FAIL %s\n' "$1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/     /' | head -n 40
}
# check NAME COMMAND...: pass when COMMAND succeeds
check() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name"; fi
}

TMP=$(mktemp -d /tmp/batchstate-test-bench.XXXXXX)
DBS=(batchstate_bench_ext batchstate_bench_twin)
psql_() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
cleanup() {
	local db
	for db in "${DBS[@]}"; do
		psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	done
	rm -rf -- "$TMP"
}
trap cleanup EXIT

# --- parity: the PL/pgSQL baseline against the extension ------------------------

echo "== parity: sql/*.sql through batchstate and through bench_plpgsql (PGHOST=${PGHOST:-} PGPORT=${PGPORT:-})"
for db in "${DBS[@]}"; do
	psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
done
psql_ -d batchstate_bench_ext -c 'CREATE EXTENSION batchstate'
psql_ -d batchstate_bench_twin -f "$REPO/bench/plpgsql_api.sql" >/dev/null

# Results and SQLSTATEs, not message texts: unaligned output, errors as
# their SQLSTATE, DETAIL and HINT lines dropped.
normalize() {
	sed -e 's/^\(psql:<stdin>:[0-9]*: [A-Z]*:  [0-9A-Z]\{5\}\).*/\1/' \
		-e 's/|\([0-9A-Z]\{5\}\): .*$/|\1/' \
		-e '/^DETAIL: /d' -e '/^HINT: /d' -e '/^DETAIL:  /d' -e '/^HINT:  /d'
}
for f in policy store app errors; do
	src=$REPO/sql/$f.sql
	if [ ! -f "$src" ]; then
		echo "     (no sql/$f.sql: skipped)"
		continue
	fi
	"$PG_BIN/psql" -X -a -q -A -v VERBOSITY=sqlstate -d batchstate_bench_ext -f - <"$src" 2>&1 |
		normalize >"$TMP/$f.ext" || true
	sed 's/batchstate/bench_plpgsql/g' "$src" |
		"$PG_BIN/psql" -X -a -q -A -v VERBOSITY=sqlstate -d batchstate_bench_twin -f - 2>&1 |
		sed 's/bench_plpgsql/batchstate/g' | normalize >"$TMP/$f.twin" || true
	if diff -q "$TMP/$f.ext" "$TMP/$f.twin" >/dev/null; then
		pass "parity: sql/$f.sql gives the same results and SQLSTATEs through bench_plpgsql"
	else
		fail "parity: sql/$f.sql gives the same results and SQLSTATEs through bench_plpgsql" \
			"$(diff "$TMP/$f.ext" "$TMP/$f.twin" | head -n 30)"
	fi
	# message texts: informational only
	n=$(diff <("$PG_BIN/psql" -X -a -q -d batchstate_bench_ext -f - <"$src" 2>&1) \
		<(sed 's/batchstate/bench_plpgsql/g' "$src" | "$PG_BIN/psql" -X -a -q -d batchstate_bench_twin -f - 2>&1 |
			sed 's/bench_plpgsql/batchstate/g') | grep -c '^[<>]' || true)
	echo "     (message texts: $n differing lines; not a failure)"
done

# --- smoke: bench/run.sh --smoke -------------------------------------------------

echo "== smoke: bench/run.sh --smoke --no-build --port $BENCH_PORT --seed $SEED"
SMOKE=$TMP/smoke
start=$SECONDS
if bash "$REPO/bench/run.sh" --smoke --no-build --port "$BENCH_PORT" --seed "$SEED" --out "$SMOKE" \
	>"$TMP/smoke.log" 2>&1; then
	pass "smoke: bench/run.sh --smoke exits 0 ($((SECONDS - start)) s)"
else
	fail "smoke: bench/run.sh --smoke exits 0" "$(tail -n 30 "$TMP/smoke.log")"
fi
sed 's/^/     | /' "$TMP/smoke.log" | grep -E 'round 1/|targets|extension /|list_batches history|memory per|consistency' || true

positive() { awk -v v="$1" 'BEGIN { exit !(v + 0 > 0) }'; }
# bench/run.sh's lifecycle approaches, and those it counts instructions of
APPROACHES=(extension plpgsql fused_sql fused_idem round_trips)
COUNTED=(extension plpgsql fused_sql fused_idem)
for a in "${APPROACHES[@]}"; do
	m=$(awk -v a="$a" '$2 == a { print $3 }' "$SMOKE/lifecycle.dat" 2>/dev/null || true)
	n=$(awk -v a="$a" '$2 == a { print NF - 7 }' "$SMOKE/lifecycle.dat" 2>/dev/null || true)
	if [ -n "$m" ] && positive "$m" && [ "${n:-0}" -ge 3 ]; then
		pass "smoke: lifecycle throughput of $a ($m lifecycles/s, $n rounds)"
	else
		fail "smoke: lifecycle throughput of $a" "median '${m:-}' rounds '${n:-}'"
	fi
done
for h in 0 1000; do
	m=$(awk -v h="$h" '$2 == h { print $3 }' "$SMOKE/list.dat" 2>/dev/null || true)
	if [ -n "$m" ] && positive "$m"; then
		pass "smoke: list_batches throughput with $h finished batches ($m calls/s)"
	else
		fail "smoke: list_batches throughput with $h finished batches" "median '${m:-}'"
	fi
done
for a in "${APPROACHES[@]}"; do
	check "smoke: every $a lifecycle ended succeeded at version 5, no membership left" \
		grep -Eq "^consistency $a: [1-9][0-9]* batches total, 0 not succeeded" "$SMOKE/raw/consistency.txt"
done
check "smoke: verify() of the extension is empty after the runs" \
	grep -q '^consistency extension verify(): 0 drift rows' "$SMOKE/raw/consistency.txt"
check "smoke: verify() of bench_plpgsql is empty after the runs" \
	grep -q '^consistency plpgsql verify(): 0 drift rows' "$SMOKE/raw/consistency.txt"
seq=$(awk '$2 == "batchstate" { s += $4 } END { print s + 0 }' "$SMOKE/raw/seq-scans.txt" 2>/dev/null || echo x)
idx=$(awk '$2 == "batchstate" { s += $5 } END { print s + 0 }' "$SMOKE/raw/seq-scans.txt" 2>/dev/null || echo 0)
if [ "$seq" = 0 ] && [ "$idx" -gt 0 ]; then
	pass "smoke: the extension's lifecycles scanned its tables by index only ($idx index scans)"
else
	fail "smoke: the extension's lifecycles scanned its tables by index only" \
		"$(grep batchstate "$SMOKE/raw/seq-scans.txt" 2>/dev/null)"
fi
samples=$(awk '{ c[$3]++ } END { m = 0; for (p in c) if (m == 0 || c[p] < m) m = c[p]; print m + 0 }' "$SMOKE/memory.dat" 2>/dev/null || echo 0)
if [ "$samples" -ge 2 ]; then
	pass "smoke: memory samples of every pgbench backend ($samples or more each)"
else
	fail "smoke: memory samples of every pgbench backend" "$(cat "$SMOKE/memory.dat" 2>/dev/null)"
fi
for a in "${COUNTED[@]}"; do
	n=$(awk -v a="$a" '$1 == a { print $2 }' "$SMOKE/instructions.dat" 2>/dev/null || true)
	if [[ ${n:-} =~ ^[0-9]+$ ]] && ((n > 100000)); then
		pass "smoke: callgrind counted the instructions of one lifecycle of $a ($n)"
	else
		fail "smoke: callgrind counted the instructions of one lifecycle of $a" \
			"$(cat "$SMOKE/instructions.dat" 2>/dev/null)"
	fi
done
if [ "$(grep -c -E '^  (extension / plpgsql|extension / fused_sql|list_batches history|memory per backend flat)' "$SMOKE/summary.txt" 2>/dev/null)" = 4 ]; then
	pass "smoke: summary.txt states all four targets"
else
	fail "smoke: summary.txt states all four targets" "$(sed -n '/^targets/,$p' "$SMOKE/summary.txt" 2>/dev/null)"
fi
check "smoke: summary.txt compares the extension with the floor that files idempotently" \
	grep -q '^  extension / fused_idem = [0-9.]*x' "$SMOKE/summary.txt"
if command -v gnuplot >/dev/null 2>&1; then
	if [ "$(head -c 8 "$SMOKE/lifecycle.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
		pass "smoke: the chart is a PNG ($(stat -c %s "$SMOKE/lifecycle.png") bytes)"
	else
		fail "smoke: the chart is a PNG"
	fi
else
	echo "     (gnuplot is not installed: the chart is not checked; Debian package gnuplot-nox)"
fi

# --- soak: a short bench/run.sh --soak ---------------------------------------------

echo "== soak: bench/run.sh --soak --minutes $SOAK_SECONDS/60 --window $SOAK_WINDOW --no-build --port $BENCH_PORT --seed $SEED"
SOAK=$TMP/soak
minutes=$(awk -v s="$SOAK_SECONDS" 'BEGIN { printf "%.4f", s / 60 }')
start=$SECONDS
if bash "$REPO/bench/run.sh" --soak --minutes "$minutes" --window "$SOAK_WINDOW" --no-build \
	--port "$BENCH_PORT" --seed "$SEED" --out "$SOAK" >"$TMP/soak.log" 2>&1; then
	pass "soak: bench/run.sh --soak exits 0 ($((SECONDS - start)) s)"
else
	fail "soak: bench/run.sh --soak exits 0" "$(tail -n 30 "$TMP/soak.log")"
fi
sed 's/^/     | /' "$SOAK/soak.txt" 2>/dev/null || true
windows=$(awk '!/^#/ && $3 > 0 && $4 > 0 { n++ } END { print n + 0 }' "$SOAK/soak.dat" 2>/dev/null || echo 0)
if [ "$windows" -ge $((SOAK_SECONDS / SOAK_WINDOW - 1)) ] && [ "$windows" -ge 2 ]; then
	pass "soak: $windows windows with lifecycle and list throughput"
else
	fail "soak: windows with lifecycle and list throughput" "$(cat "$SOAK/soak.dat" 2>/dev/null)"
fi
check "soak: the membership table's size and the sequential scans are reported" \
	grep -Eq '^  batch_state_membership: [0-9.]+ MB with indexes .* seq_scan [0-9]+' "$SOAK/soak.txt"
if [ "$(grep -c '^target: ' "$SOAK/soak.txt" 2>/dev/null)" = 3 ]; then
	pass "soak: soak.txt states all three targets"
else
	fail "soak: soak.txt states all three targets"
fi
check "soak: verify() is empty after the soak" grep -q 'verify() after the run: 0 drift rows' "$SOAK/soak.txt"

echo "bench: $passed passed, $failed failed"
((failed == 0 && passed > 0))
