#!/usr/bin/env bash
# scripts/test.sh: every test, as CI runs it: packages, a build with
# warnings as errors, then the stages, all of them even when one fails.
#
#   scripts/test.sh                      every stage, on PostgreSQL 15
#   scripts/test.sh regress stress       only those stages
#   scripts/test.sh --pg 18 [stage...]   on PostgreSQL 17 or 18, built once
#                                        from Debian's sources (scripts/pg-build.sh)
#
# Stages: cppcheck (src/, no findings), regress and isolation (make
# installcheck: pg_regress and the isolation specs) and pgtap (pg_prove of
# test/pgtap/*.sql) on the throwaway cluster of scripts/lib.sh; then one
# stage per TAP file test/t/NNN_NAME.pl, all run by one make
# prove_installcheck, each file starting the clusters it needs; last,
# package (scripts/package.sh: the Debian packages built from the checkout
# and tested in a clean Debian 12 root; PostgreSQL 15 only).
#
# The last line is always "batchstate: N passed, M failed", added up from
# the runners' own counts: pg_regress's closing line, and TAP::Harness's
# tally of every pgTAP and test/t assertion (test/perl/BatchstateTally.pm).
# Exit 0 only when nothing failed and something ran.  --pg (or PG_CONFIG)
# chooses the installation (default Debian's PostgreSQL 15),
# BATCHSTATE_PGPORT the throwaway cluster's port.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

CLUSTER_STAGES=(cppcheck regress isolation pgtap)
LAST_STAGES=(package) # after the TAP files, on their own
TAP_STAGES=() # test/t/010_stress.pl is the stage "stress"
for f in "$REPO"/test/t/[0-9]*_*.pl; do
	[ -e "$f" ] && f=${f##*/} && f=${f#*_} && TAP_STAGES+=("${f%.pl}")
done

# --- the stages on the throwaway cluster -----------------------------------------

# cppcheck reads the server headers, so that it knows the types and that
# elog(ERROR) does not return (-D__GNUC__: the one configuration the server
# is built in), but reports nothing found there; sigsetjmp is 0, so that a
# variable set inside PG_TRY is not a false "uninitvar" after it.
stage_cppcheck() {
	local inc rc=0
	inc=$("$PG_CONFIG" --includedir-server)
	cppcheck --quiet --error-exitcode=1 --inline-suppr \
		--enable=warning,performance,portability --std=c11 -j "$(nproc)" \
		-D__GNUC__ '-Dsigsetjmp(env,savemask)=0' -I "$inc" --suppress="*:$inc/*" \
		"$REPO/src/" || rc=$?
	if ((rc == 0)); then record cppcheck 0 0 'no findings in src/'; else record cppcheck 0 1 'findings above'; fi
}

# installcheck NAME EMPTIED DIFFS: make installcheck with the other suite
# emptied (so that a failure of one does not stop make before the other)
# and without the TAP files; pg_regress's closing line counts ("All 5 tests
# passed." or "1 of 5 tests failed.", "# " before it from PostgreSQL 16 on).
installcheck() {
	local log=$LOG_DIR/$1.log rc=0 total=0 failed=0
	make -C "$REPO" --no-print-directory PG_CONFIG="$PG_CONFIG" TAP_TESTS= "$2=" installcheck 2>&1 |
		tee "$log" || rc=$?
	read -r total failed < <(sed -n -E 's/^[# ]*All ([0-9]+) tests passed.*/\1 0/p
		s/^[# ]*([0-9]+) of ([0-9]+) tests failed.*/\2 \1/p' "$log" | tail -n 1) || true
	if ((rc != 0)); then
		head -n 200 "$3" 2>/dev/null || true
		((failed > 0)) || failed=1
	fi
	record "$1" $((total - failed)) "$failed"
}

stage_regress() { installcheck regress ISOLATION "$REPO/regression.diffs"; }
stage_isolation() { installcheck isolation REGRESS "$REPO/output_iso/regression.diffs"; }

stage_pgtap() {
	local db=batchstate_tap
	if ! "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c 'SET client_min_messages = warning' \
		-c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" ||
		! "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" \
			-c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION batchstate'; then
		record pgtap 0 1 "cannot create database $db with pgtap and batchstate"
		return 0
	fi
	(cd "$REPO" && PERL5LIB=$REPO/test/perl BATCHSTATE_TALLY=$LOG_DIR/pgtap.tally \
		pg_prove --psql-bin "$PG_BIN/psql" --nocolor --formatter BatchstateTally -d "$db" test/pgtap/*.sql) || true
	local passed=0 failed=0 name p f _
	while IFS=$'\t' read -r name p f _; do
		passed=$((passed + p)) failed=$((failed + f))
	done < <(cat "$LOG_DIR/pgtap.tally" 2>/dev/null)
	if ((passed + failed == 0)); then record pgtap 0 1 'ran no test'; else record pgtap "$passed" "$failed"; fi
}

# --- the TAP files ---------------------------------------------------------------

# The servers of the TAP files run as the postgres OS user (initdb and
# postgres refuse root), and so does prove.  Their clusters and logs go to
# TAP_DIR, a directory of its own under /tmp; the checkout is used in place
# when postgres can read it (git history included), else copied (the
# checkout may live under /root): a clone for the history, the working
# tree's files on top.
tap_tree() {
	TAP_TREE=$REPO
	if pg_as_postgres test -r "$REPO/Makefile" -a -r "$REPO/test/perl/BatchstateTest.pm" &&
		{ ! git -C "$REPO" rev-parse -q --git-dir >/dev/null 2>&1 ||
			pg_as_postgres git -c safe.directory='*' -C "$REPO" rev-parse -q HEAD >/dev/null 2>&1; }; then
		return 0
	fi
	TAP_TREE=$TAP_DIR/checkout
	say "note: the postgres user cannot read $REPO: the TAP files run in a copy, $TAP_TREE"
	if git -C "$REPO" rev-parse -q --git-dir >/dev/null 2>&1; then
		git -c safe.directory='*' clone -q --no-checkout --no-hardlinks "$REPO" "$TAP_TREE"
		git -C "$TAP_TREE" reset -q "$(git -c safe.directory='*' -C "$REPO" rev-parse HEAD)"
	fi
	mkdir -p "$TAP_TREE"
	tar -C "$REPO" --exclude=./.git --exclude=./.cluster --exclude=./tmp_check -cf - . | tar -C "$TAP_TREE" -xf -
	chown -R postgres "$TAP_TREE"
}

# stage_tap NAME...: the TAP files of those stages, in one prove run; each
# file's counts come from the tally, one line per file:
# name, passed, failed, skipped, and why all was skipped
stage_tap() {
	local files=() file name rc=0 p f s why note failed=0
	for name in "$@"; do
		for file in "$REPO"/test/t/[0-9]*_"$name".pl; do files+=("${file#"$REPO"/}"); done
	done
	TAP_DIR=$(mktemp -d /tmp/batchstate-tap.XXXXXX)
	chown postgres "$TAP_DIR"
	tap_tree
	pg_as_postgres env HOME="$TAP_DIR" PERL5LIB="$TAP_TREE/test/perl" BATCHSTATE_TALLY="$TAP_DIR/tally" \
		make -s -C "$TAP_TREE" --no-print-directory prove_installcheck PG_CONFIG="$PG_CONFIG" \
		TAP_DIR="$TAP_DIR" PROVE_TESTS="${files[*]}" PROVE_FLAGS='--formatter BatchstateTally' || rc=$?
	while IFS=$'\t' read -r name p f s why; do
		note=''
		((s == 0)) || note="$s skipped"
		[ -z "$why" ] || note="skipped: $why"
		record "${name#*_}" "$p" "$f" "$note"
		failed=$((failed + f))
	done < <(cat "$TAP_DIR/tally" 2>/dev/null)
	if ((rc == 0)); then
		rm -rf -- "$TAP_DIR"
		return 0
	fi
	((failed > 0)) || record prove 0 1 "exit status $rc"
	say "the TAP files' clusters and logs are kept in $TAP_DIR/tmp_check"
}

# stage_package: the Debian packages, built from this checkout by
# scripts/package.sh and tested in a clean Debian 12 root (installed with
# apt-get, both suites against the installed files, purged); PostgreSQL 15
# only, Debian 12's one packaged version.  Its closing line
# "package: N passed, M failed" counts.
stage_package() {
	local log=$LOG_DIR/package.log debs rc=0 p=0 f=0
	if [ "$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')" != 15 ]; then
		record package 0 0 "skipped: packages are built for Debian 12's PostgreSQL 15 only"
		return 0
	fi
	debs=$(mktemp -d /tmp/batchstate-debs.XXXXXX)
	{ bash "$REPO/scripts/package.sh" build "$debs" && bash "$REPO/scripts/package.sh" test "$debs"; } 2>&1 |
		tee "$log" || rc=$?
	rm -rf -- "$debs"
	read -r p f < <(sed -n -E 's/^package: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$log" | tail -n 1) || true
	((rc == 0)) || ((f > 0)) || f=1
	record package "${p:-0}" "${f:-0}" "$( ((rc == 0)) || echo "exit status $rc")"
}

# --- the runner --------------------------------------------------------------------

RESULTS=() # "name<TAB>passed<TAB>failed<TAB>note"
record() { RESULTS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"${4:-}"); }

# Printed from the EXIT trap, after the cluster stopped, so that the counts
# are the last line whatever happened before.
summary() {
	local r name p f note passed=0 failed=0 status
	if (($1 != 0)) && [ "$STEP" != finished ]; then
		record "$STEP" 0 1 "the run stopped here (exit status $1)"
	fi
	printf '\n==== summary\n'
	for r in "${RESULTS[@]}"; do
		IFS=$'\t' read -r name p f note <<<"$r"
		status=PASS
		((f == 0)) || status=FAIL
		printf '  %-13s %s %5d passed, %d failed%s\n' "$name" "$status" "$p" "$f" "${note:+  ($note)}"
		passed=$((passed + p)) failed=$((failed + f))
	done
	printf 'batchstate: %d passed, %d failed\n' "$passed" "$failed"
	((failed == 0 && passed > 0))
}

on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	((STARTED_CLUSTER)) && cluster_stop
	fix_ownership
	rm -rf -- "$LOG_DIR"
	summary "$rc"
	exit $?
}

PG_WANTED=''
case ${1:-} in
-h | --help)
	echo "usage: scripts/test.sh [--pg 15|17|18] [stage...]   (stages: ${CLUSTER_STAGES[*]} ${TAP_STAGES[*]} ${LAST_STAGES[*]}; default all)"
	exit 0
	;;
--pg)
	PG_WANTED=${2:-}
	[[ $PG_WANTED =~ ^(15|17|18)$ ]] || die "--pg takes 15, 17 or 18, not \"$PG_WANTED\""
	shift 2
	;;
esac
selected=("$@")
((${#selected[@]})) || selected=("${CLUSTER_STAGES[@]}" "${TAP_STAGES[@]}" "${LAST_STAGES[@]}")
cluster=() tap=() last=()
for s in "${selected[@]}"; do
	if [[ " ${CLUSTER_STAGES[*]} " == *" $s "* ]]; then
		cluster+=("$s")
	elif [[ " ${TAP_STAGES[*]} " == *" $s "* ]]; then
		tap+=("$s")
	elif [[ " ${LAST_STAGES[*]} " == *" $s "* ]]; then
		last+=("$s")
	else
		die "no stage \"$s\" (stages: ${CLUSTER_STAGES[*]} ${TAP_STAGES[*]} ${LAST_STAGES[*]})"
	fi
done

ensure_root ${PG_WANTED:+--pg "$PG_WANTED"} "$@"

STARTED_CLUSTER=0 STEP=start
LOG_DIR=$(mktemp -d /tmp/batchstate-test.XXXXXX)
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

STEP=packages && install_deps
if [ -n "$PG_WANTED" ] && [ "$PG_WANTED" != 15 ]; then
	STEP=postgresql-$PG_WANTED
	PG_CONFIG=$(bash "$REPO/scripts/pg-build.sh" "$PG_WANTED" | tail -n 1)
	PG_BIN=$("$PG_CONFIG" --bindir)
fi
say "PostgreSQL: $("$PG_CONFIG" --version) ($PG_CONFIG)"
STEP=build && build_install
if ((${#cluster[@]})); then
	STEP=cluster
	# stopped at the end, whatever happens (also one the demo left running)
	STARTED_CLUSTER=1
	cluster_start
	for s in "${cluster[@]}"; do
		printf '\n==== %s\n' "$s"
		STEP=$s && "stage_$s"
	done
fi
if ((${#tap[@]})); then
	printf '\n==== TAP files: %s\n' "${tap[*]}"
	STEP=tap && stage_tap "${tap[@]}"
fi
for s in "${last[@]}"; do
	printf '\n==== %s\n' "$s"
	STEP=$s && "stage_$s"
done
STEP=finished
