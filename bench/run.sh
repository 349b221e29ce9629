#!/usr/bin/env bash
# bench/run.sh: the batchstate benchmark on a throwaway cluster of its own:
# the extension side by side with PL/pgSQL, hand-fused SQL and client round trips.
#
#   sudo bench/run.sh                 full run (about 35 minutes; 36 with --perf); results in bench/results/
#   sudo bench/run.sh --smoke         about 4 minutes: proves every part works (CI); no thresholds
#   sudo bench/run.sh --soak          5 minutes of lifecycles + lists on stock settings
#   sudo bench/run.sh --only shape,instructions    some phases of the full run
#   sudo bench/run.sh --pg 18 ...     on PostgreSQL 17 or 18 (scripts/pg-build.sh)
#
# What it measures (BENCHMARKS.md has the results and how to read them):
#   lifecycle  one batch lifecycle per pgbench transaction (create, scored,
#              speculating, merging, succeeded; each step its own transaction)
#              through 5 approaches, interleaved A B C D E per round, median
#              of the rounds, 2 clients, -M prepared, synchronous_commit = off:
#                extension   batchstate's C functions
#                plpgsql     the same API in PL/pgSQL (bench/plpgsql_api.sql)
#                fused_sql   the floor: one hand-fused statement per step
#                fused_idem  the floor with idempotent filing (ON CONFLICT DO
#                            NOTHING), as API.md's functions file
#                round_trips one client round trip per statement
#   shape      the lifecycle as a controller calls it: ids shaped like real
#              ones ('q12/batch/' and a number below 10^15, scattered), 64
#              queues, create_batch(id, queue) with its defaults; the
#              extension against fused_idem on the same shape
#   list       list_batches on a queue of 100 live batches with 0, 10k, 100k
#              and 1M finished batches of history (one database per size,
#              interleaved per round); at the smallest and the largest
#              size also dependents_of, batches_containing, queue_stats and
#              stuck_batches, and the sizes of the table and its indexes
#   memory     per-backend memory of the extension's backends over a longer
#              run (pg_log_backend_memory_contexts, "Grand total" lines)
#   perf       (--perf) a perf profile of the extension's backends
#   instructions  user-space instructions per lifecycle of the extension,
#              PL/pgSQL and both floors, and of the shape (the extension,
#              fused_idem, and fused_idem without the GIN index), counted by
#              valgrind's callgrind in a single-user backend: free of the
#              machine's noise and of the kernel (--no-instructions skips it)
#   soak       (--soak) lifecycles on 2 clients plus 1 client listing random
#              queues on a fresh cluster with stock settings: throughput per
#              window, list rate, membership table size, sequential scans
#
# The cluster: a fresh initdb under /tmp, unix socket only, stock settings
# plus synchronous_commit = off (soak: stock), stopped and deleted on exit;
# scripts/pgserver.sh starts and stops it, as it does scripts/lib.sh's.
#
# Who runs it: root, or any user.  As root the servers run as the postgres
# OS user, missing tools come from apt-get and the build is installed with
# make install.  As another user the servers run as that user and nothing
# is installed: with --no-build, batchstate must already be installed where
# PG_BIN (or PG_CONFIG) points, and a missing tool is named; a build that
# only root can install re-runs the script through sudo, as before.
#
# This file reads the options and runs the phases; bench/lib/ has one file
# per concern: common (messages, psql, pgbench runs), prepare (user, tools,
# build), cluster, database, lifecycle (and shape), list (and lookups),
# memory, perf, instructions, soak, summary and chart.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
BENCH=$REPO/bench

# shellcheck source=bench/lib/common.sh
. "$BENCH/lib/common.sh"
# shellcheck source=bench/lib/prepare.sh
. "$BENCH/lib/prepare.sh"
# shellcheck source=bench/lib/cluster.sh
. "$BENCH/lib/cluster.sh"
# shellcheck source=bench/lib/database.sh
. "$BENCH/lib/database.sh"
# shellcheck source=bench/lib/lifecycle.sh
. "$BENCH/lib/lifecycle.sh"
# shellcheck source=bench/lib/list.sh
. "$BENCH/lib/list.sh"
# shellcheck source=bench/lib/memory.sh
. "$BENCH/lib/memory.sh"
# shellcheck source=bench/lib/perf.sh
. "$BENCH/lib/perf.sh"
# shellcheck source=bench/lib/instructions.sh
. "$BENCH/lib/instructions.sh"
# shellcheck source=bench/lib/soak.sh
. "$BENCH/lib/soak.sh"
# shellcheck source=bench/lib/summary.sh
. "$BENCH/lib/summary.sh"
# shellcheck source=bench/lib/chart.sh
. "$BENCH/lib/chart.sh"

# usage: the command line
usage() {
	cat <<'USAGE'
usage: bench/run.sh [--smoke | --soak] [options]
  (no mode)          full run: lifecycle, list, memory (and --perf)
  --smoke            about 4 minutes of everything, for CI (results in a temp dir)
  --soak             lifecycles + random-queue lists on stock settings
options:
  --pg 15|17|18      the PostgreSQL to run on (17 and 18: built once by scripts/pg-build.sh)
  --only PHASES      only these phases of the full or smoke run, comma-separated:
                     lifecycle, shape, list, memory, perf, instructions
  --minutes N        soak duration (default 5; decimals allowed)
  --window S         soak window in seconds (default 30)
  --seconds S        length of each measured pgbench run (default 15; smoke 3)
  --warmup S         warm-up run per approach / history size (default 5; smoke 1)
  --rounds N         rounds of interleaved runs (default 5; smoke 3; at least 3)
  --clients N        pgbench clients (default 2)
  --history "N ..."  list history sizes (default "0 10000 100000 1000000"; smoke "0 1000")
  --memory-seconds S memory phase length (default 60; smoke 4)
  --perf             also profile the extension's backends with perf (full mode)
  --perf-seconds S   length of the profiled run (default 15)
  --no-instructions  skip the instruction counts (callgrind; about 5 minutes, smoke 2)
  --seed N           pgbench --random-seed (queue choices; default: pgbench's, from the clock)
  --locale L         the cluster's locale (default C.UTF-8, as scripts/lib.sh's cluster; e.g. C)
  --port P           port of the benchmark's cluster (default 5471; smoke 5472; soak 5473)
  --out DIR          where results go (default bench/results; smoke: a new temp dir)
  --no-build         do not build and install the extension (it must be installed)
  --keep             keep the cluster's directory (and log) on exit
environment:
  PG_BIN, PG_CONFIG  the PostgreSQL installation (default /usr/lib/postgresql/15/bin; --pg sets them)
USAGE
}

MODE=full
MINUTES=5 WINDOW=30 SECONDS_RUN='' WARMUP='' ROUNDS='' CLIENTS=2 HISTORY=''
MEM_SECONDS='' PERF=0 PERF_SECONDS=15 PORT='' OUT='' BUILD=1 KEEP=0 LOCALE='' SEED=''
INSTRUCTIONS=1 ONLY='' PG_WANTED=''
PGBENCH_SEED=()
SOAK_SECONDS=0

# parse_options ARGS...: the options into the variables above
parse_options() {
	while (($#)); do
		case $1 in
		--smoke) MODE=smoke ;;
		--soak) MODE=soak ;;
		--minutes) MINUTES=${2:?}; shift ;;
		--window) WINDOW=${2:?}; shift ;;
		--seconds) SECONDS_RUN=${2:?}; shift ;;
		--warmup) WARMUP=${2:?}; shift ;;
		--rounds) ROUNDS=${2:?}; shift ;;
		--clients) CLIENTS=${2:?}; shift ;;
		--history) HISTORY=${2:?}; shift ;;
		--memory-seconds) MEM_SECONDS=${2:?}; shift ;;
		--perf) PERF=1 ;;
		--perf-seconds) PERF_SECONDS=${2:?}; shift ;;
		--no-instructions) INSTRUCTIONS=0 ;;
		--only) ONLY=${2:?}; shift ;;
		--pg) PG_WANTED=${2:?}; shift ;;
		--port) PORT=${2:?}; shift ;;
		--locale) LOCALE=${2:?}; shift ;;
		--seed) SEED=${2:?}; shift ;;
		--out) OUT=${2:?}; shift ;;
		--no-build) BUILD=0 ;;
		--keep) KEEP=1 ;;
		-h | --help)
			usage
			exit 0
			;;
		*)
			usage >&2
			exit 2
			;;
		esac
		shift
	done
}

# check_options: the mode's defaults for what was not given, then every value checked
check_options() {
	local v h
	case $MODE in
	smoke)
		: "${SECONDS_RUN:=3}" "${WARMUP:=1}" "${ROUNDS:=3}" "${HISTORY:=0 1000}" "${MEM_SECONDS:=4}" "${PORT:=5472}"
		;;
	soak)
		: "${SECONDS_RUN:=15}" "${WARMUP:=5}" "${ROUNDS:=3}" "${HISTORY:=0}" "${MEM_SECONDS:=60}" "${PORT:=5473}"
		;;
	*)
		: "${SECONDS_RUN:=15}" "${WARMUP:=5}" "${ROUNDS:=5}" "${HISTORY:=0 10000 100000 1000000}" "${MEM_SECONDS:=60}" "${PORT:=5471}"
		;;
	esac
	for v in SECONDS_RUN WARMUP ROUNDS CLIENTS MEM_SECONDS PERF_SECONDS PORT WINDOW; do
		is_uint "${!v}" || die "${v,,} must be a whole number, not \"${!v}\""
	done
	if [ -n "$SEED" ]; then
		is_uint "$SEED" || die "--seed must be a whole number, not \"$SEED\""
		PGBENCH_SEED=(--random-seed="$SEED")
	fi
	is_number "$MINUTES" || die "--minutes must be a number, not \"$MINUTES\""
	for h in $HISTORY; do is_uint "$h" || die "--history takes whole numbers, not \"$h\""; done
	((ROUNDS >= 3)) || die "--rounds must be at least 3 (the result is a median)"
	((SECONDS_RUN >= 1 && CLIENTS >= 1 && WINDOW >= 1)) || die "--seconds, --clients and --window must be at least 1"
	((PORT >= 1024 && PORT <= 65535)) || die "--port must be between 1024 and 65535"
	[[ -z $PG_WANTED || $PG_WANTED =~ ^(15|17|18)$ ]] || die "--pg takes 15, 17 or 18, not \"$PG_WANTED\""
	if [ -n "$ONLY" ]; then
		[ "$MODE" != soak ] || die "--only chooses phases of the full or smoke run, not of --soak"
		for v in ${ONLY//,/ }; do
			[[ " lifecycle shape list memory perf instructions " == *" $v "* ]] ||
				die "--only takes lifecycle, shape, list, memory, perf and instructions, not \"$v\""
		done
		PERF=0 INSTRUCTIONS=0
		[[ ",$ONLY," != *,perf,* ]] || PERF=1
		[[ ",$ONLY," != *,instructions,* ]] || INSTRUCTIONS=1
	fi
	if [ "$MODE" = soak ]; then
		SOAK_SECONDS=$(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 + 0.5 }')
		((SOAK_SECONDS >= WINDOW)) || die "the soak must last at least one window ($WINDOW s)"
	fi
}

# make_out: the results directory (smoke: a new one under /tmp), with raw/
make_out() {
	if [ -z "$OUT" ]; then
		if [ "$MODE" = smoke ]; then
			OUT=$(mktemp -d /tmp/batchstate-bench-smoke.XXXXXX)
		else
			OUT=$BENCH/results
		fi
	fi
	if ! mkdir -p -- "$OUT/raw" 2>/dev/null || [ ! -w "$OUT/raw" ]; then
		die "$(id -un) cannot write results to $OUT (--out DIR chooses another directory)"
	fi
	OUT=$(cd -- "$OUT" && pwd -P)
}

# wanted PHASE: true when the run includes PHASE: those --only names, else
# every phase, perf with --perf, instructions without --no-instructions
wanted() {
	case $1 in
	perf) ((PERF)) ;;
	instructions) ((INSTRUCTIONS)) ;;
	*) [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]] ;;
	esac
}

# full_run: the full and smoke modes: lifecycle, shape, list, memory, perf
# and instruction phases (those wanted), then summary.txt and the chart
full_run() {
	local f
	setup_bench_db
	# results left by an earlier run must not pass for this run's
	for f in lifecycle shape list lookup memory instructions; do rm -f -- "$OUT/$f.dat"; done
	write_env "$OUT/env.txt"
	if wanted lifecycle; then lifecycle_phase; fi
	if wanted shape; then shape_phase; fi
	if wanted list; then list_phase; fi
	if wanted memory; then memory_phase; fi
	if wanted perf; then perf_phase; fi
	if wanted instructions; then instructions_phase; fi
	summarize
	chart
	say "done: results in $OUT"
}

parse_options "$@"
check_options
if [ -n "$PG_WANTED" ] && [ "$PG_WANTED" != 15 ]; then
	PG_CONFIG=$(bash "$REPO/scripts/pg-build.sh" "$PG_WANTED" | tail -n 1) ||
		die "PostgreSQL $PG_WANTED is not available (scripts/pg-build.sh said why, above)"
	PG_BIN=''
elif [ -n "$PG_WANTED" ]; then
	PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config PG_BIN=''
fi
choose_installation
choose_user "$@"
make_out
check_tools
build_extension
cluster_up
if [ "$MODE" = soak ]; then
	soak
else
	full_run
fi
