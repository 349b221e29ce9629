#!/usr/bin/env bash
# scripts/test.sh: the whole test suite, as CI runs it: packages, a build
# with warnings as errors, cppcheck, then every test stage on the cluster.
#
#   sudo scripts/test.sh                 every stage
#   sudo scripts/test.sh regress pgtap   only those stages (names below)
#
# The last line is always "batchstate: N passed, M failed" (N and M count
# single tests: regression and isolation tests, pgTAP assertions).  Exit 0
# only when nothing failed and at least one test ran.
#
# Adding a stage: write stage_NAME (run the tests, set STAGE_PASSED and
# STAGE_FAILED, return non-zero on failure; run_logged and the count_*
# helpers do most of it) and add NAME to STAGES and describe_stage.  A stage
# that passes must count at least one test, unless it sets
# STAGE_COUNTS_TESTS=0 (a static check).  A shell test that ends
# with a line "N passed, M failed" needs only: run_logged bash test/x.sh;
# count_plain.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

# Suites that are a script test/NAME/run.sh ending in "NAME: N passed, M
# failed"; each gets a stage of the same name (see stage_suite).
SUITES=(stress crash hostile memory sanitizer notify upgrade dump cron router bench)

STAGES=(cppcheck regress isolation pgtap "${SUITES[@]}")

describe_stage() {
	case $1 in
	cppcheck) echo "static analysis of src/ (cppcheck)" ;;
	regress) echo "pg_regress: sql/*.sql against expected/*.out" ;;
	isolation) echo "isolation tests: test/isolation/specs/*.spec" ;;
	pgtap) echo "pgTAP: test/pgtap/*.sql with pg_prove" ;;
	stress) echo "randomized concurrent load against an independent model (seeded)" ;;
	crash) echo "immediate shutdown under load: committed work kept, nothing else (its own cluster)" ;;
	hostile) echo "search_path shadowing, privileges, the bad-input corpus" ;;
	memory) echo "100k calls of every function and a 100k-batch list keep memory flat" ;;
	sanitizer) echo "regression, isolation and hostile suites on an AddressSanitizer build (its own cluster)" ;;
	notify) echo "NOTIFY on creates and moves, seen by a listening session" ;;
	upgrade) echo "ALTER EXTENSION UPDATE from 1.0: data intact, catalog as a fresh install" ;;
	dump) echo "pg_dump and restore: rows, extension and behaviour intact" ;;
	cron) echo "pg_cron runs reconcile() on schedule (its own cluster; waits up to a minute)" ;;
	router) echo "PL/Proxy router over two shards, sharded by queue (three clusters of its own)" ;;
	bench) echo "the benchmark's smoke and short soak modes work (no thresholds), PL/pgSQL twin parity" ;;
	*) echo "$1" ;;
	esac
}

# --- helpers for stages ---------------------------------------------------

# run_logged CMD...: run CMD, show its output and keep it in $STAGE_LOG;
# returns CMD's exit status.
run_logged() {
	local rc
	set +e
	"$@" 2>&1 | tee "$STAGE_LOG"
	rc=${PIPESTATUS[0]}
	set -e
	return "$rc"
}

# show_file FILE: print FILE (at most 400 lines) after a failure.
show_file() {
	[ -s "$1" ] || return 0
	echo "---- $1"
	head -n 400 -- "$1"
	local n
	n=$(wc -l <"$1")
	((n <= 400)) || echo "---- ($((n - 400)) more lines in $1)"
}

# count_pg_regress: counts from pg_regress's closing line in $STAGE_LOG.
count_pg_regress() {
	local line n m k
	line=$(grep -E '^[# ]*(All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests (failed|passed))' "$STAGE_LOG" | tail -n 1) || true
	if [[ $line =~ All\ ([0-9]+)\ tests\ passed ]]; then
		STAGE_PASSED=${BASH_REMATCH[1]}
	elif [[ $line =~ ([0-9]+)\ of\ ([0-9]+)\ tests\ failed ]]; then
		n=${BASH_REMATCH[1]} m=${BASH_REMATCH[2]}
		STAGE_FAILED=$n STAGE_PASSED=$((m - n))
	elif [[ $line =~ ([0-9]+)\ of\ ([0-9]+)\ tests\ passed,\ ([0-9]+)\ failed ]]; then
		# failures of tests marked "ignore" in a schedule
		n=${BASH_REMATCH[1]} k=${BASH_REMATCH[3]}
		STAGE_PASSED=$n
		STAGE_NOTE="$k failure(s) ignored"
	fi
}

# count_prove: counts from prove's (pg_prove's) summary in $STAGE_LOG.
count_prove() {
	local tests=0 failed=0 unrun=0 line
	line=$(grep -E '^Files=[0-9]+, Tests=[0-9]+' "$STAGE_LOG" | tail -n 1) || true
	[[ $line =~ Tests=([0-9]+) ]] || return 0
	tests=${BASH_REMATCH[1]}
	# "path.sql (Wstat: 0 Tests: 12 Failed: 2)"
	while read -r line; do
		[[ $line =~ Failed:\ ([0-9]+)\) ]] && failed=$((failed + BASH_REMATCH[1]))
	done < <(grep -E '\(Wstat: [0-9]+ .*Failed: [0-9]+\)' "$STAGE_LOG" || true)
	# assertions a file planned but never reached (it died half way)
	while read -r line; do
		[[ $line =~ planned\ ([0-9]+)\ tests?\ but\ ran\ ([0-9]+) ]] &&
			((BASH_REMATCH[1] > BASH_REMATCH[2])) &&
			unrun=$((unrun + BASH_REMATCH[1] - BASH_REMATCH[2]))
	done < <(grep -E 'Parse errors: Bad plan' "$STAGE_LOG" || true)
	unrun=$((unrun + $(grep -c 'No plan found in TAP output' "$STAGE_LOG" || true)))
	STAGE_PASSED=$((tests - failed))
	STAGE_FAILED=$((failed + unrun))
	if grep -q '^Result: FAIL' "$STAGE_LOG" && ((STAGE_FAILED == 0)); then
		STAGE_FAILED=1
	fi
}

# count_plain: counts from a closing line "N passed, M failed" in $STAGE_LOG.
count_plain() {
	local line
	line=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$STAGE_LOG" | tail -n 1) || true
	if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
		STAGE_PASSED=${BASH_REMATCH[1]} STAGE_FAILED=${BASH_REMATCH[2]}
	fi
}

# --- the stages -------------------------------------------------------------

# cppcheck reads the PostgreSQL server headers so that it knows the types
# and that elog(ERROR) does not return (-D__GNUC__ selects the one
# configuration the server is built in, which keeps it to seconds), but
# reports nothing found in those headers.  sigsetjmp is defined as 0 so that
# PG_TRY blocks read as always entered; otherwise every variable assigned
# inside PG_TRY and used after PG_END_TRY is a false "uninitvar".  It checks
# no test: a clean run counts 0 tests, a finding fails the stage.
stage_cppcheck() {
	local inc
	inc=$("$PG_CONFIG" --includedir-server)
	run_logged cppcheck --quiet --error-exitcode=1 --inline-suppr \
		--enable=warning,performance,portability --std=c11 -j "$(nproc)" \
		-D__GNUC__ '-Dsigsetjmp(env,savemask)=0' \
		-I "$inc" --suppress="*:$inc/*" \
		"$REPO/src/"
	local rc=$?
	STAGE_COUNTS_TESTS=0
	((rc == 0)) && STAGE_NOTE="no findings in src/"
	return "$rc"
}

# installcheck_stage VARIABLE DIFFS: the Makefile's installcheck with one
# of its two suites emptied (VARIABLE=), so that a failure of one does not
# stop make before the other; DIFFS is shown on failure.
installcheck_stage() {
	run_logged make -C "$REPO" --no-print-directory PG_CONFIG="$PG_CONFIG" "$1=" installcheck
	local rc=$?
	count_pg_regress
	((rc == 0)) || show_file "$2"
	return "$rc"
}

stage_regress() { installcheck_stage ISOLATION "$REPO/regression.diffs"; }
stage_isolation() { installcheck_stage REGRESS "$REPO/output_iso/regression.diffs"; }

stage_pgtap() {
	local db=batchstate_tap files
	shopt -s nullglob
	files=("$REPO"/test/pgtap/*.sql)
	shopt -u nullglob
	if ((${#files[@]} == 0)); then
		echo "no test/pgtap/*.sql files"
		return 1
	fi
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c 'SET client_min_messages = warning' \
		-c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" &&
		"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" \
			-c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION batchstate' ||
		return 1
	(cd "$REPO" && run_logged pg_prove --psql-bin "$PG_BIN/psql" -d "$db" "${files[@]#"$REPO"/}")
	local rc=$?
	count_prove
	return "$rc"
}

# A suite script: test/NAME/run.sh with REPO, PG_BIN and PGHOST/PGPORT/PGUSER
# of the running cluster in its environment.
stage_suite() {
	run_logged env REPO="$REPO" PG_BIN="$PG_BIN" bash "$REPO/test/$1/run.sh"
	local rc=$?
	count_plain
	return "$rc"
}

for suite in "${SUITES[@]}"; do
	eval "stage_$suite() { stage_suite $suite; }"
done

# --- the runner -------------------------------------------------------------

RESULT_NAMES=() RESULT_STATUS=() RESULT_PASSED=() RESULT_FAILED=() RESULT_NOTES=()

run_stage() {
	local name=$1 rc=0
	printf '\n==== %s: %s\n' "$name" "$(describe_stage "$name")"
	STAGE_PASSED=0 STAGE_FAILED=0 STAGE_NOTE='' STAGE_COUNTS_TESTS=1
	STAGE_LOG=$LOG_DIR/$name.log
	: >"$STAGE_LOG"
	"stage_$name" || rc=$?
	local status=PASS
	if ((rc != 0 || STAGE_FAILED > 0)); then
		status=FAIL
		if ((STAGE_FAILED == 0)); then
			STAGE_FAILED=1
			STAGE_NOTE=${STAGE_NOTE:-"exit status $rc, no test counts"}
		fi
	elif ((STAGE_PASSED == 0 && STAGE_COUNTS_TESTS)); then
		status=FAIL STAGE_FAILED=1 STAGE_NOTE="ran no test"
	fi
	RESULT_NAMES+=("$name") RESULT_STATUS+=("$status")
	RESULT_PASSED+=("$STAGE_PASSED") RESULT_FAILED+=("$STAGE_FAILED")
	RESULT_NOTES+=("$STAGE_NOTE")
	printf '==== %s: %s\n' "$name" "$status"
}

# Printed from the EXIT trap, after the cluster stopped, so that the counts
# are the last line whatever happened before.
summary() {
	local rc=$1 i passed=0 failed=0
	if ((${#RESULT_NAMES[@]} == 0)) || ((rc != 0 && !STAGES_DONE)); then
		RESULT_NAMES+=("$STEP") RESULT_STATUS+=(FAIL) RESULT_PASSED+=(0)
		RESULT_FAILED+=(1) RESULT_NOTES+=("the run stopped here (exit status $rc)")
	fi
	printf '\n==== summary\n'
	for i in "${!RESULT_NAMES[@]}"; do
		passed=$((passed + RESULT_PASSED[i]))
		failed=$((failed + RESULT_FAILED[i]))
		printf '  %-10s %s  %3d passed, %d failed%s\n' "${RESULT_NAMES[i]}" \
			"${RESULT_STATUS[i]}" "${RESULT_PASSED[i]}" "${RESULT_FAILED[i]}" \
			"${RESULT_NOTES[i]:+  (${RESULT_NOTES[i]})}"
	done
	printf 'batchstate: %d passed, %d failed\n' "$passed" "$failed"
	((failed == 0 && passed > 0))
}

on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if ((STARTED_CLUSTER)); then
		cluster_stop
	fi
	fix_ownership
	rm -rf -- "$LOG_DIR"
	summary "$rc"
	exit $?
}

# --- main -------------------------------------------------------------------

case ${1:-} in
-h | --help)
	echo "usage: scripts/test.sh [stage...]   (stages: ${STAGES[*]}; default all)"
	exit 0
	;;
esac
selected=("$@")
for s in "${selected[@]}"; do
	declare -F "stage_$s" >/dev/null ||
		die "no stage \"$s\" (stages: ${STAGES[*]})"
done
((${#selected[@]})) || selected=("${STAGES[@]}")

ensure_root "$@"

STARTED_CLUSTER=0 STAGES_DONE=0 STEP=start
LOG_DIR=$(mktemp -d /tmp/batchstate-test.XXXXXX)
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

STEP=packages
install_deps
STEP=build
build_install
STEP=cluster
# The cluster is stopped at the end, whatever happens (also one that the
# demo left running: scripts/cluster.sh start brings it back).
cluster_resolve
STARTED_CLUSTER=1
cluster_start

for s in "${selected[@]}"; do
	STEP=$s
	run_stage "$s"
done
STAGES_DONE=1
