#!/usr/bin/env bash
# bench/run.sh: the batchstate benchmark on a throwaway cluster of its own:
# the extension side by side with PL/pgSQL, hand-fused SQL and client round trips.
#
#   sudo bench/run.sh                 full run (about 18 minutes; 19 with --perf); results in bench/results/
#   sudo bench/run.sh --smoke         about a minute: proves every part works (CI); no thresholds
#   sudo bench/run.sh --soak          5 minutes of lifecycles + lists on stock settings
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
#   list       list_batches on a queue of 100 live batches with 0, 10k, 100k
#              and 1M finished batches of history (one database per size,
#              interleaved per round)
#   memory     per-backend memory of the extension's backends over a longer
#              run (pg_log_backend_memory_contexts, "Grand total" lines)
#   perf       (--perf) a perf profile of the extension's backends
#   instructions  user-space instructions per lifecycle of the extension,
#              PL/pgSQL and both floors, counted by valgrind's callgrind in a
#              single-user backend: free of the machine's noise and of the
#              kernel (--no-instructions skips it)
#   soak       (--soak) lifecycles on 2 clients plus 1 client listing random
#              queues on a fresh cluster with stock settings: throughput per
#              window, list rate, membership table size, sequential scans
#
# The cluster: a fresh initdb under /tmp, unix socket only, stock settings
# plus synchronous_commit = off (soak: stock), stopped and deleted on exit.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
BENCH=$REPO/bench
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
BUILD_LOCK=/tmp/batchstate-build.lock

usage() {
	cat <<'USAGE'
usage: bench/run.sh [--smoke | --soak] [options]
  (no mode)          full run: lifecycle, list, memory (and --perf)
  --smoke            about a minute of everything, for CI (results in a temp dir)
  --soak             lifecycles + random-queue lists on stock settings
options:
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
  --no-instructions  skip the instruction counts (callgrind; about 3 minutes, smoke 1)
  --seed N           pgbench --random-seed (queue choices; default: pgbench's, from the clock)
  --locale L         the cluster's locale (default C.UTF-8, as scripts/lib.sh's cluster; e.g. C)
  --port P           port of the benchmark's cluster (default 5471; smoke 5472; soak 5473)
  --out DIR          where results go (default bench/results; smoke: a new temp dir)
  --no-build         do not build and install the extension (it must be installed)
  --keep             keep the cluster's directory (and log) on exit
USAGE
}

die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}
say() { printf 'bench: %s\n' "$*"; }

# --- options ----------------------------------------------------------------

MODE=full
MINUTES=5 WINDOW=30 SECONDS_RUN='' WARMUP='' ROUNDS='' CLIENTS=2 HISTORY=''
MEM_SECONDS='' PERF=0 PERF_SECONDS=15 PORT='' OUT='' BUILD=1 KEEP=0 LOCALE='' SEED=''
INSTRUCTIONS=1
PGBENCH_SEED=()
ARGS=("$@")
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

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_number() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }

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
if [ "$MODE" = soak ]; then
	SOAK_SECONDS=$(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 + 0.5 }')
	((SOAK_SECONDS >= WINDOW)) || die "the soak must last at least one window ($WINDOW s)"
fi

# root: initdb and the server run as the postgres OS user (runuser), the
# build installs into PostgreSQL, and missing packages come from apt-get
if ((EUID != 0)); then
	command -v sudo >/dev/null 2>&1 || die "run it as root (it needs runuser, make install, apt-get)"
	exec sudo -E -- bash "$(readlink -f -- "$0")" "${ARGS[@]}"
fi

if [ -z "$OUT" ]; then
	if [ "$MODE" = smoke ]; then
		OUT=$(mktemp -d /tmp/batchstate-bench-smoke.XXXXXX)
	else
		OUT=$BENCH/results
	fi
fi
mkdir -p -- "$OUT/raw"
OUT=$(cd -- "$OUT" && pwd -P)

# --- packages -----------------------------------------------------------------

# apt_install PKG...: install what is missing, quietly; false on failure
apt_install() {
	local missing=() p
	for p in "$@"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	command -v apt-get >/dev/null 2>&1 || return 1
	say "installing ${missing[*]} with apt-get"
	{
		apt-get -o DPkg::Lock::Timeout=600 update &&
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
				install -y --no-install-recommends "${missing[@]}"
	} </dev/null >"$OUT/raw/apt.log" 2>&1
}

if [ ! -x "$PG_BIN/pgbench" ] || [ ! -x "$PG_BIN/initdb" ]; then
	die "PostgreSQL 15 is not installed in $PG_BIN"
fi
HAVE_GNUPLOT=1
if [ "$MODE" != soak ] && ! command -v gnuplot >/dev/null 2>&1; then
	apt_install gnuplot-nox || true
	command -v gnuplot >/dev/null 2>&1 || {
		HAVE_GNUPLOT=0
		say "warning: gnuplot is missing and apt-get could not install gnuplot-nox: no chart"
	}
fi
if ((PERF)) && ! command -v perf >/dev/null 2>&1; then
	apt_install linux-perf || die "--perf needs perf (Debian package linux-perf)"
fi
if [ "$MODE" != soak ] && ((INSTRUCTIONS)) && ! command -v valgrind >/dev/null 2>&1; then
	apt_install valgrind || die "the instruction counts need valgrind (or run with --no-instructions)"
fi

# --- the extension ------------------------------------------------------------

if ((BUILD)); then
	say "building and installing the extension (make install)"
	(
		command -v flock >/dev/null 2>&1 && flock 9
		make -s -C "$REPO" --no-print-directory PG_CONFIG="$PG_BIN/pg_config" install
	) 9>>"$BUILD_LOCK" >"$OUT/raw/build.log" 2>&1 || {
		cat "$OUT/raw/build.log" >&2
		die "the build failed (output above)"
	}
fi
[ -f "$("$PG_BIN/pg_config" --sharedir)/extension/batchstate.control" ] ||
	die "the extension is not installed: run without --no-build"

# --- the cluster --------------------------------------------------------------

CL=$(mktemp -d /tmp/batchstate-bench.XXXXXX)
chmod 755 "$CL"
mkdir "$CL/sock"
chown postgres:postgres "$CL" "$CL/sock"
BG_PIDS=()

as_pg() { (cd / && runuser -u postgres -- "$@"); }

cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	if [ -f "$CL/data/postmaster.pid" ]; then
		as_pg "$PG_BIN/pg_ctl" -D "$CL/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			as_pg "$PG_BIN/pg_ctl" -D "$CL/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	if ((KEEP)); then
		say "kept the cluster's directory: $CL"
	else
		cp -f -- "$CL/log" "$OUT/raw/server.log" 2>/dev/null || true
		rm -rf -- "$CL"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

locale_opts=(--no-locale -E UTF8)
if [ -n "$LOCALE" ]; then
	locale_opts=(--locale="$LOCALE" -E UTF8)
elif locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
	locale_opts=(--locale=C.UTF-8 -E UTF8)
fi
as_pg "$PG_BIN/initdb" -D "$CL/data" -A trust -U postgres --no-sync "${locale_opts[@]}" \
	>"$OUT/raw/initdb.log" 2>&1 || {
	cat "$OUT/raw/initdb.log" >&2
	die "initdb failed"
}
{
	echo
	echo "# bench/run.sh: stock settings; unix socket only"
	echo "listen_addresses = ''"
	if [ "$MODE" != soak ]; then
		echo "# measure CPU, not fsync"
		echo "synchronous_commit = off"
	fi
} >>"$CL/data/postgresql.conf"
as_pg "$PG_BIN/pg_ctl" -D "$CL/data" -l "$CL/log" -w -t 120 -o "-p $PORT -k $CL/sock" start >/dev/null ||
	die "the cluster did not start: $(tail -n 20 "$CL/log" 2>/dev/null)"
export PGHOST=$CL/sock PGPORT=$PORT PGUSER=postgres
unset PGDATABASE PGOPTIONS PGSERVICE PGHOSTADDR PGPASSWORD
say "cluster: $CL (port $PORT, mode $MODE), results: $OUT"

DB=batchstate_bench
q() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
qdb() { q -d "$DB" "$@"; }

RUNNO=0
TPS='' SRV_US='' CLI_US=''
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# cpu_ticks PID...: user + system CPU ticks of the processes (all threads)
cpu_ticks() {
	local p t=0 v
	for p in "$@"; do
		v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# wait_progress LOG N PID: until LOG holds N pgbench progress lines (false if
# pgbench ended first)
wait_progress() {
	while (($(grep -c '^progress: ' "$1" 2>/dev/null || true) < $2)); do
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.05
	done
}

# pgbench_run LOG DB ARGS...: one pgbench run on DB with ids of its own
# (:base, a counter of runs); its output goes to LOG, its throughput to $TPS.
# Runs of 3 s or more also measure CPU per transaction between the first and
# the last progress line: $SRV_US for the server backends, $CLI_US for
# pgbench itself (microseconds; "nan" when not measured).  The CPU figures
# hold on a busy machine where the throughput does not.
pgbench_run() {
	local log=$1 db=$2 secs='' a pid bpids c0 c1 p0 p1 last tx
	shift 2
	for a in "$@"; do
		[ "$secs" = next ] && secs=$a
		[ "$a" = -T ] && secs=next
	done
	RUNNO=$((RUNNO + 1))
	SRV_US=nan CLI_US=nan
	"$PG_BIN/pgbench" "${PGBENCH_SEED[@]}" -n -M prepared -P 1 -D n=0 -D base=$((RUNNO * 10000000000000)) \
		-D queues=8 "$@" "$db" >"$log" 2>&1 &
	pid=$!
	BG_PIDS+=("$pid")
	if ((secs >= 3)) && wait_progress "$log" 1 "$pid"; then
		bpids=$(pgbench_backends "$db" | paste -sd' ' -)
		# shellcheck disable=SC2086
		c0=$(cpu_ticks $bpids) p0=$(cpu_ticks "$pid")
		last=$((secs - 1))
		if wait_progress "$log" "$last" "$pid"; then
			# shellcheck disable=SC2086
			c1=$(cpu_ticks $bpids) p1=$(cpu_ticks "$pid")
			# transactions between progress lines 1 and $last
			tx=$(awk -v last="$last" '/^progress: / { n++; if (n >= 2 && n <= last) t += $4 } END { printf "%.0f", t }' "$log")
			if ((tx > 0)); then
				SRV_US=$(awk -v c=$((c1 - c0)) -v tick="$TICK_US" -v tx="$tx" 'BEGIN { printf "%.1f", c * tick / tx }')
				CLI_US=$(awk -v c=$((p1 - p0)) -v tick="$TICK_US" -v tx="$tx" 'BEGIN { printf "%.1f", c * tick / tx }')
			fi
		fi
	fi
	if ! wait "$pid"; then
		BG_PIDS=()
		tail -n 20 "$log" >&2
		die "pgbench failed (log: $log)"
	fi
	BG_PIDS=()
	TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$log")
	[ -n "$TPS" ] || die "no tps in $log"
	grep -q '^number of failed transactions: 0 ' "$log" || die "failed transactions in $log"
}

# median/min/max of the numbers on stdin, one per line: "median min max"
stats() {
	sort -g | awk '{ v[NR] = $1 }
		END {
			if (NR == 0) { print "nan nan nan"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f %.1f %.1f\n", m, v[1], v[NR]
		}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

# target LABEL VALUE LIMIT: "met" or "MISSED (...)" for VALUE >= LIMIT
target() {
	awk -v v="$2" -v l="$3" 'BEGIN {
		if (v == "nan") { print "no data"; exit }
		if (v + 0 >= l + 0) print "met"
		else printf "MISSED (%.0f%% short)\n", (1 - v / l) * 100
	}'
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- the environment ------------------------------------------------------------

# write_env FILE: the machine, the server's settings and the commit
write_env() {
	local file=$1 commit dirty=''
	commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	[ -z "$(git -C "$REPO" status --porcelain -- src Makefile ./*.sql ./*.control 2>/dev/null)" ] ||
		dirty=' + uncommitted changes in src/'
	{
		echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
		echo "commit: $commit$dirty"
		echo "extension: batchstate $(qdb -c "SELECT extversion FROM pg_extension WHERE extname = 'batchstate'")"
		echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores"
		echo "memory: $(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)"
		echo "kernel: $(uname -sr)"
		echo "server: $(qdb -c 'SHOW server_version')"
		echo "settings: $(qdb -F ' ' -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name)
			FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'shared_buffers', 'wal_level',
				'max_wal_size', 'autovacuum', 'jit', 'full_page_writes', 'checkpoint_timeout', 'work_mem')")"
		echo "collation: $(qdb -c "SELECT datcollate FROM pg_database WHERE datname = current_database()")"
		echo "pgbench: -M prepared -c $CLIENTS -j $CLIENTS, $SECONDS_RUN s per run, $ROUNDS rounds, warm-up $WARMUP s"
		echo "load average at start: $LOAD_START"
	} >"$file"
}

setup_bench_db() {
	q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
	qdb -c 'CREATE EXTENSION batchstate'
	qdb -f "$BENCH/plpgsql_api.sql" >/dev/null
	# copies of the extension's tables for the two fused-SQL floors and the
	# round trips; every copy (and the PL/pgSQL tables) gets the storage
	# parameters of the extension's tables and primary keys, and the PL/pgSQL
	# tables the extension's other indexes (the copies have them from LIKE)
	qdb <<-'SQL'
		SET client_min_messages = warning;
		CREATE SCHEMA bench_fused;
		CREATE TABLE bench_fused.batch (LIKE batchstate.batch INCLUDING ALL);
		CREATE TABLE bench_fused.batch_state_membership (LIKE batchstate.batch_state_membership INCLUDING ALL);
		CREATE SCHEMA bench_idem;
		CREATE TABLE bench_idem.batch (LIKE batchstate.batch INCLUDING ALL);
		CREATE TABLE bench_idem.batch_state_membership (LIKE batchstate.batch_state_membership INCLUDING ALL);
		CREATE SCHEMA bench_rt;
		CREATE TABLE bench_rt.batch (LIKE batchstate.batch INCLUDING ALL);
		CREATE TABLE bench_rt.batch_state_membership (LIKE batchstate.batch_state_membership INCLUDING ALL);
		DO $$
		DECLARE
		    s text;
		    t text;
		    opts text[];
		    idx regclass;
		    def text;
		BEGIN
		    FOREACH s IN ARRAY ARRAY['bench_plpgsql', 'bench_fused', 'bench_idem', 'bench_rt'] LOOP
		        FOREACH t IN ARRAY ARRAY['batch', 'batch_state_membership'] LOOP
		            SELECT c.reloptions INTO opts FROM pg_class c
		            WHERE c.oid = format('batchstate.%I', t)::regclass;
		            IF opts IS NOT NULL THEN
		                EXECUTE format('ALTER TABLE %I.%I SET (%s)', s, t, array_to_string(opts, ', '));
		            END IF;
		            SELECT c.reloptions INTO opts FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		            WHERE i.indrelid = format('batchstate.%I', t)::regclass AND i.indisprimary;
		            IF opts IS NOT NULL THEN
		                SELECT i.indexrelid INTO idx FROM pg_index i
		                WHERE i.indrelid = format('%I.%I', s, t)::regclass AND i.indisprimary;
		                EXECUTE format('ALTER INDEX %s SET (%s)', idx, array_to_string(opts, ', '));
		            END IF;
		            CONTINUE WHEN s <> 'bench_plpgsql';
		            FOR def IN SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
		                       WHERE i.indrelid = format('batchstate.%I', t)::regclass AND NOT i.indisprimary LOOP
		                EXECUTE replace(def, ' ON batchstate.', format(' ON %I.', s));
		            END LOOP;
		        END LOOP;
		    END LOOP;
		END
		$$;
	SQL
}

# ===================================================================================
# soak mode
# ===================================================================================

soak() {
	local nq=10 w total_windows
	setup_bench_db
	LOAD_START=$(loadavg)
	write_env "$OUT/soak-env.txt"
	sed -i '/^pgbench:/d' "$OUT/soak-env.txt"
	echo "soak: $MINUTES min, windows of $WINDOW s, $CLIENTS lifecycle clients + 1 list client, $nq queues of 100 live batches, stock settings" >>"$OUT/soak-env.txt"

	# 100 live batches per queue, spread over the non-terminal states, so
	# every list returns rows; the lifecycles run through the same queues.
	# No ANALYZE: a fresh install, the case the planner guard is for.
	qdb -c "SELECT count(*) FROM generate_series(1, $nq) AS qn, generate_series(1, 100) AS i,
		LATERAL batchstate.create_batch('live/' || qn || '/' || i, qn::text,
			(ARRAY['created', 'scored', 'speculating', 'merging', 'cancelling'])[1 + i % 5],
			'{lr/1}') AS b" >/dev/null
	sleep 1
	qdb -c 'SELECT pg_stat_reset()' >/dev/null
	say "soak: $SOAK_SECONDS s of lifecycles ($CLIENTS clients) plus one client listing random queues"

	PGAPPNAME=bench_lifecycle "$PG_BIN/pgbench" "${PGBENCH_SEED[@]}" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" \
		-T $((SOAK_SECONDS + 1)) -P "$WINDOW" -D n=0 -D base=90000000000000 -D queues=$nq \
		-f "$BENCH/lifecycle_extension.pgbench" "$DB" >"$OUT/raw/soak-lifecycle.log" 2>&1 &
	local life_pid=$!
	BG_PIDS+=("$life_pid")
	PGAPPNAME=bench_list "$PG_BIN/pgbench" "${PGBENCH_SEED[@]}" -n -M prepared -c 1 -j 1 -T $((SOAK_SECONDS + 1)) -P "$WINDOW" \
		-D queues=$nq -f "$BENCH/list_random.pgbench" "$DB" >"$OUT/raw/soak-list.log" 2>&1 &
	local list_pid=$!
	BG_PIDS+=("$list_pid")

	# the backends of each pgbench, for their CPU time
	local life_be='' list_be='' tries=0
	appname_pids() {
		q -d postgres -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'
			AND backend_type = 'client backend' ORDER BY pid" | paste -sd' ' -
	}
	while ((tries++ < 100)); do
		life_be=$(appname_pids bench_lifecycle)
		list_be=$(appname_pids bench_list)
		[ "$(wc -w <<<"$life_be")" -ge "$CLIENTS" ] && [ -n "$list_be" ] && break
		sleep 0.1
	done

	# at the end of each window (each progress line of the lifecycle run):
	# CPU ticks of both sets of backends, and the membership table's size and
	# dead rows (catalog and statistics reads only: they scan neither table)
	# shellcheck disable=SC2086
	printf '0 %s %s\n' "$(cpu_ticks $life_be)" "$(cpu_ticks $list_be)" >"$OUT/raw/soak-cpu.dat"
	total_windows=$((SOAK_SECONDS / WINDOW))
	printf '# window end_s membership_bytes membership_dead batch_bytes autovacuums_membership\n' >"$OUT/raw/soak-sizes.dat"
	for ((w = 1; w <= total_windows; w++)); do
		wait_progress "$OUT/raw/soak-lifecycle.log" "$w" "$life_pid" || break
		# shellcheck disable=SC2086
		printf '%d %s %s\n' "$w" "$(cpu_ticks $life_be)" "$(cpu_ticks $list_be)" >>"$OUT/raw/soak-cpu.dat"
		qdb -F ' ' -c "SELECT $w, $((w * WINDOW)),
			pg_total_relation_size('batchstate.batch_state_membership'),
			(SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'batchstate.batch_state_membership'::regclass),
			pg_total_relation_size('batchstate.batch'),
			(SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'batchstate.batch_state_membership'::regclass)" \
			>>"$OUT/raw/soak-sizes.dat" || true
	done
	local rc=0
	wait "$life_pid" || rc=$?
	wait "$list_pid" || rc=$?
	BG_PIDS=()
	((rc == 0)) || {
		tail -n 20 "$OUT/raw/soak-lifecycle.log" "$OUT/raw/soak-list.log" >&2
		die "pgbench failed during the soak"
	}

	# per window: lifecycles/s and lists/s (pgbench -P lines), server CPU
	# per lifecycle and per list (us), the membership table's size
	local prog='s/^progress: \([0-9.]*\) s, \([0-9.]*\) tps.*/\1 \2/p'
	sed -n "$prog" "$OUT/raw/soak-lifecycle.log" >"$OUT/raw/soak-life.prog"
	sed -n "$prog" "$OUT/raw/soak-list.log" >"$OUT/raw/soak-list.prog"
	awk -v window="$WINDOW" -v tick="$TICK_US" -v total="$total_windows" '
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

	# at the end: sizes and scans of the two tables
	local life_tps list_tps
	life_tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$OUT/raw/soak-lifecycle.log")
	list_tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$OUT/raw/soak-list.log")
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
	local drift
	drift=$(qdb -c 'SELECT count(*) FROM batchstate.verify()')

	awk -v window="$WINDOW" -v minutes="$MINUTES" -v life_tps="$life_tps" -v list_tps="$list_tps" \
		-v drift="$drift" -v tables="$OUT/raw/soak-tables.txt" '
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
		}' "$OUT/soak.dat" >"$OUT/raw/soak-result.txt"
	{
		echo "batchstate soak"
		sed 's/^/  /' "$OUT/soak-env.txt"
		echo "  load average at end: $(loadavg)"
		echo
		cat "$OUT/raw/soak-result.txt"
	} | tee "$OUT/soak.txt"
}

# ===================================================================================
# full and smoke modes
# ===================================================================================

APPROACHES=(extension plpgsql fused_sql fused_idem round_trips)
script_of() {
	case $1 in
	extension) echo "$BENCH/lifecycle_extension.pgbench" ;;
	plpgsql) echo "$BENCH/lifecycle_plpgsql.pgbench" ;;
	fused_sql) echo "$BENCH/lifecycle_fused.pgbench" ;;
	fused_idem) echo "$BENCH/lifecycle_fused_idem.pgbench" ;;
	round_trips) echo "$BENCH/lifecycle_roundtrip.pgbench" ;;
	esac
}
# The baselines' sessions plan without sequential scans, as the extension's
# planner guard plans its own statements: after a VACUUM of a table that a
# churn left empty, the statistics say "no rows" and a plain SQL statement
# would scan every dead row.  Every statement in these scripts is a primary
# key lookup, so this only takes the pathological plans away.
options_of() {
	case $1 in
	extension) echo '' ;;
	*) echo '-c enable_seqscan=off' ;;
	esac
}
schema_of() {
	case $1 in
	extension) echo batchstate ;;
	plpgsql) echo bench_plpgsql ;;
	fused_sql) echo bench_fused ;;
	fused_idem) echo bench_idem ;;
	round_trips) echo bench_rt ;;
	esac
}

# before every measured run: the same housekeeping for every approach
settle() {
	local schema=$1 db=${2:-$DB}
	q -d "$db" -c "VACUUM $schema.batch, $schema.batch_state_membership" -c CHECKPOINT
}

# scan_counts: "schema table seq_scan idx_scan" of the benchmark's tables,
# as the statistics hold them once every other session has flushed its own
scan_counts() {
	sleep 1.2
	qdb -F ' ' -c "SELECT schemaname, relname, seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables
		WHERE schemaname IN ('batchstate', 'bench_plpgsql', 'bench_fused', 'bench_idem', 'bench_rt')
		ORDER BY schemaname, relname"
}

lifecycle_phase() {
	local a r tps
	scan_counts >"$OUT/raw/scans-before.txt"
	say "lifecycle: warm-up ($WARMUP s per approach)"
	for a in "${APPROACHES[@]}"; do
		PGOPTIONS=$(options_of "$a") pgbench_run "$OUT/raw/lifecycle-$a-warmup.log" "$DB" \
			-c "$CLIENTS" -j "$CLIENTS" -T "$WARMUP" -f "$(script_of "$a")"
	done
	: >"$OUT/raw/lifecycle-runs.dat"
	for ((r = 1; r <= ROUNDS; r++)); do
		for a in "${APPROACHES[@]}"; do
			settle "$(schema_of "$a")"
			PGOPTIONS=$(options_of "$a") pgbench_run "$OUT/raw/lifecycle-$a-r$r.log" "$DB" \
				-c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" -f "$(script_of "$a")"
			tps=$TPS
			printf '%s %d %s %s %s\n' "$a" "$r" "$tps" "$SRV_US" "$CLI_US" >>"$OUT/raw/lifecycle-runs.dat"
			say "lifecycle round $r/$ROUNDS: $(printf '%-11s %8.1f' "$a" "$tps") lifecycles/s," \
				"CPU per lifecycle: server $SRV_US us, pgbench $CLI_US us (load $(loadavg))"
		done
	done

	# sequential and index scans of each approach's tables during the phase
	# (read before the checks below, which scan them)
	scan_counts >"$OUT/raw/scans-after.txt"
	awk 'NR == FNR { s[$1, $2] = $3; i[$1, $2] = $4; next }
		{ print "scans", $1, $2, $3 - s[$1, $2], $4 - i[$1, $2] }' \
		"$OUT/raw/scans-before.txt" "$OUT/raw/scans-after.txt" >"$OUT/raw/seq-scans.txt"

	# every lifecycle ran to the end, and the membership tables agree
	: >"$OUT/raw/consistency.txt"
	for a in "${APPROACHES[@]}"; do
		local s bad
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

	dat_file "$OUT/raw/lifecycle-runs.dat" "approach" "lifecycles/s" "${APPROACHES[@]}" >"$OUT/lifecycle.dat"
}

# dat_file RUNS KEYNAME UNIT KEY...: per key of RUNS ("key round tps srv_us
# cli_us" lines): index key median min max (of the tps), median server and
# pgbench CPU us per transaction, then the tps of every round
dat_file() {
	local runs=$1 keyname=$2 unit=$3 k i=0
	shift 3
	echo "# index $keyname median min max server_us pgbench_us per-round ($unit)"
	for k in "$@"; do
		printf '%d %s %s %s %s %s\n' "$i" "$k" \
			"$(awk -v k="$k" '$1 == k { print $3 }' "$runs" | stats)" \
			"$(awk -v k="$k" '$1 == k && $4 != "nan" { print $4 }' "$runs" | stats | cut -d' ' -f1)" \
			"$(awk -v k="$k" '$1 == k && $5 != "nan" { print $5 }' "$runs" | stats | cut -d' ' -f1)" \
			"$(awk -v k="$k" '$1 == k { printf "%s ", $3 }' "$runs")"
		i=$((i + 1))
	done
}

# list_db N: the database of history size N
list_db() { echo "batchstate_bench_list_$1"; }

list_phase() {
	local h r tps db
	for h in $HISTORY; do
		db=$(list_db "$h")
		say "list: building a queue of 100 live batches and $h finished ones ($db)"
		q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
		q -d "$db" >/dev/null <<-SQL
			CREATE EXTENSION batchstate;
			-- history: finished batches, older (smaller) ids, never filed
			INSERT INTO batchstate.batch (id, queue, contains, dependencies, score, state, version)
			SELECT 'list/batch/' || lpad(i::text, 9, '0'), 'list', '{lr/1,lr/2}', '{}', 0.5,
			       (ARRAY['succeeded', 'failed', 'cancelled'])[1 + i % 3], 5
			FROM generate_series(1, $h) AS i;
			-- 100 live batches, the newest ids, 20 in each non-terminal state
			SELECT count(*) FROM generate_series($h + 1, $h + 100) AS i,
			    LATERAL batchstate.create_batch('list/batch/' || lpad(i::text, 9, '0'), 'list',
			        (ARRAY['created', 'scored', 'speculating', 'merging', 'cancelling'])[1 + i % 5],
			        '{lr/1,lr/2}') AS b;
			VACUUM ANALYZE batchstate.batch;
			VACUUM ANALYZE batchstate.batch_state_membership;
		SQL
		[ "$(q -d "$db" -c "SELECT count(*) FROM batchstate.list_batches('list', 'created', 'scored', 'speculating', 'merging', 'cancelling')")" = 100 ] ||
			die "the list queue of $db does not hold 100 live batches"
		pgbench_run "$OUT/raw/list-$h-warmup.log" "$db" -c "$CLIENTS" -j "$CLIENTS" -T "$WARMUP" \
			-D lq=list -f "$BENCH/list.pgbench"
	done
	: >"$OUT/raw/list-runs.dat"
	for ((r = 1; r <= ROUNDS; r++)); do
		for h in $HISTORY; do
			db=$(list_db "$h")
			settle batchstate "$db"
			pgbench_run "$OUT/raw/list-$h-r$r.log" "$db" -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" \
				-D lq=list -f "$BENCH/list.pgbench"
			tps=$TPS
			printf '%s %d %s %s %s\n' "$h" "$r" "$tps" "$SRV_US" "$CLI_US" >>"$OUT/raw/list-runs.dat"
			say "list round $r/$ROUNDS: history $(printf '%-8s %8.1f' "$h" "$tps") lists/s," \
				"CPU per call: server $SRV_US us, pgbench $CLI_US us (load $(loadavg))"
		done
	done
	# shellcheck disable=SC2086
	dat_file "$OUT/raw/list-runs.dat" "history" "list_batches calls/s, 100 live batches" $HISTORY >"$OUT/list.dat"
	for h in $HISTORY; do
		q -d postgres -c "DROP DATABASE $(list_db "$h")"
	done
}

# pgbench_backends DB: pids of the pgbench sessions on DB
pgbench_backends() {
	q -d postgres -c "SELECT pid FROM pg_stat_activity
		WHERE datname = '$1' AND application_name = 'pgbench' AND backend_type = 'client backend' ORDER BY pid"
}

# Memory of the extension's backends over one long run: lifecycles with a
# list now and then, two backends that live through the whole phase; each
# sample asks every backend to log its memory contexts and reads the
# "Grand total" line it writes to the server log.
memory_phase() {
	local interval=$((MEM_SECONDS >= 30 ? 5 : 1)) t pids offset sample=0 start
	say "memory: $MEM_SECONDS s of extension lifecycles and lists, sampling backend memory every $interval s"
	offset=$(stat -c %s "$CL/log")
	RUNNO=$((RUNNO + 1))
	"$PG_BIN/pgbench" "${PGBENCH_SEED[@]}" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$MEM_SECONDS" \
		-D n=0 -D base=$((RUNNO * 10000000000000)) -D queues=8 \
		-f "$BENCH/lifecycle_extension.pgbench@9" -f "$BENCH/list_random.pgbench@1" "$DB" \
		>"$OUT/raw/memory-pgbench.log" 2>&1 &
	local pg_pid=$!
	BG_PIDS+=("$pg_pid")
	start=$SECONDS
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
	wait "$pg_pid" || die "pgbench failed in the memory phase: $(tail -n 5 "$OUT/raw/memory-pgbench.log")"
	BG_PIDS=()
	sleep 1
	# "[pid] LOG:  Grand total: T bytes in B blocks; F free (C chunks); U used"
	tail -c +$((offset + 1)) "$CL/log" |
		sed -n 's/.*\[\([0-9]*\)\] LOG:  Grand total: \([0-9]*\) bytes in .* \([0-9]*\) used$/\1 \2 \3/p' \
			>"$OUT/raw/memory-totals.txt"
	# memory.dat: sample seconds pid total_bytes used_bytes (n-th total of a
	# pid belongs to its n-th sample)
	awk 'NR == FNR { secs[$1] = $2; for (i = 3; i <= NF; i++) if ($i != "") asked[$i] = asked[$i] " " $1; next }
		{ split(asked[$1], s, " "); k = ++seen[$1]; if (k in s) printf "%d %d %s %s %s\n", s[k], secs[s[k]], $1, $2, $3 }' \
		"$OUT/raw/memory-samples.txt" "$OUT/raw/memory-totals.txt" |
		sort -k3,3n -k1,1n >"$OUT/memory.dat"
	[ -s "$OUT/memory.dat" ] || die "no memory samples (server log: $CL/log)"
	MEM_LIFECYCLES=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$OUT/raw/memory-pgbench.log")
}

perf_phase() {
	local pids
	say "perf: profiling the extension's backends for $PERF_SECONDS s"
	settle batchstate
	RUNNO=$((RUNNO + 1))
	"$PG_BIN/pgbench" "${PGBENCH_SEED[@]}" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$PERF_SECONDS" \
		-D n=0 -D base=$((RUNNO * 10000000000000)) -D queues=8 \
		-f "$BENCH/lifecycle_extension.pgbench" "$DB" >"$OUT/raw/perf-pgbench.log" 2>&1 &
	local pg_pid=$!
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

# memory_growth: per backend of memory.dat, "pid samples first_kB last_kB
# min_first_half_kB min_second_half_kB"; a backend's memory is flat when
# the floor of its second half is no higher than the floor of its first
# half (a sample can land mid-transaction: the floors ignore that)
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

# --- instructions ---------------------------------------------------------------

# The SQL statements of a pgbench script, one per line: comments and \set
# lines dropped, a statement's lines joined, :id and :q made $1 and $2.
script_statements() {
	awk '
		/^[[:space:]]*(--|\\)/ || /^[[:space:]]*$/ { next }
		{ sub(/[[:space:]]+$/, ""); stmt = stmt (stmt == "" ? "" : " ") $0 }
		/;$/ { print stmt; stmt = "" }
	' "$1" | sed -e 's/:id\b/$1/g' -e 's/:q\b/$2/g'
}

# instructions_workload APPROACH N: the approach's lifecycle script as a
# single-user session: each statement PREPAREd once, then N lifecycles of
# EXECUTEs (one transaction each, as pgbench -M prepared runs them).
instructions_workload() {
	local a=$1 n=$2 schema i j k=0 s
	local -a stmts
	schema=$(schema_of "$a")
	mapfile -t stmts < <(script_statements "$(script_of "$a")")
	echo "TRUNCATE $schema.batch, $schema.batch_state_membership;"
	for s in "${stmts[@]}"; do
		k=$((k + 1))
		echo "PREPARE s$k(text, text) AS ${s%;};"
	done
	for ((i = 1; i <= n; i++)); do
		for ((j = 1; j <= k; j++)); do
			echo "EXECUTE s$j('i$i', 'q$((i % 10))');"
		done
	done
}

# instructions_count APPROACH N: instructions (Ir) of a single-user backend
# running the workload under callgrind
instructions_count() {
	local a=$1 n=$2 w=$CL/instructions-$1-$2
	local -a opts
	read -r -a opts <<<"$(options_of "$a")"
	instructions_workload "$a" "$n" >"$w.sql"
	chmod 644 "$w.sql"
	as_pg valgrind --tool=callgrind --callgrind-out-file="$w.callgrind" \
		"$PG_BIN/postgres" --single -D "$CL/data" "${opts[@]}" "$DB" <"$w.sql" >"$w.out" 2>"$w.err" ||
		die "callgrind run of $a failed: $(tail -n 5 "$w.err")"
	! grep -q ' ERROR: ' "$w.err" || die "the $a workload failed: $(grep -m 3 ' ERROR: ' "$w.err")"
	cp -f -- "$w.out" "$w.err" "$OUT/raw/" 2>/dev/null || true
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$w.err"
}

# Instructions per lifecycle: the count for N2 lifecycles minus that for N1,
# over N2 - N1, so that startup, planning and shutdown cancel out.  The
# server is stopped for it (single-user mode needs the data directory).
instructions_phase() {
	local n1=200 n2=1200 a c1 c2
	[ "$MODE" = smoke ] && n1=20 n2=60
	say "instructions: callgrind, single-user backend, $n1 and $n2 lifecycles per approach"
	as_pg "$PG_BIN/pg_ctl" -D "$CL/data" -m fast -w -t 60 stop >/dev/null ||
		die "the cluster did not stop for the instruction counts"
	echo "# approach instructions_per_lifecycle ($n2 - $n1 lifecycles)" >"$OUT/instructions.dat"
	for a in extension plpgsql fused_sql fused_idem; do
		c1=$(instructions_count "$a" "$n1")
		c2=$(instructions_count "$a" "$n2")
		[ -n "$c1" ] && [ -n "$c2" ] || die "callgrind printed no count for $a"
		echo "$a $(((c2 - c1) / (n2 - n1)))" | tee -a "$OUT/instructions.dat" | sed 's/^/bench:   /'
	done
}

summarize() {
	local ext plp fused idem rt r1 r2 r3 r4 r5 r6 c1 c2 c3
	col() { awk -v k="$2" -v c="$3" '$2 == k { print $c }' "$OUT/$1.dat"; }
	ext=$(col lifecycle extension 3)
	plp=$(col lifecycle plpgsql 3)
	fused=$(col lifecycle fused_sql 3)
	idem=$(col lifecycle fused_idem 3)
	rt=$(col lifecycle round_trips 3)
	r1=$(ratio "$ext" "$plp")
	r2=$(ratio "$ext" "$fused")
	r3=$(ratio "$ext" "$rt")
	r5=$(ratio "$ext" "$idem")
	r6=$(ratio "$idem" "$plp")
	# the same ratios from server CPU per lifecycle (lower is better)
	c1=$(ratio "$(col lifecycle plpgsql 6)" "$(col lifecycle extension 6)")
	c2=$(ratio "$(col lifecycle fused_sql 6)" "$(col lifecycle extension 6)")
	c3=$(ratio "$(col lifecycle fused_idem 6)" "$(col lifecycle extension 6)")
	col_ins() { awk -v k="$1" '$1 == k { print $2 }' "$OUT/instructions.dat"; }
	local first last l0 llast
	first=$(awk '!/^#/ { print $2; exit }' "$OUT/list.dat")
	last=$(awk '!/^#/ { h = $2 } END { print h }' "$OUT/list.dat")
	l0=$(col list "$first" 3)
	llast=$(col list "$last" 3)
	r4=$(ratio "$llast" "$l0")
	local worst
	worst=$(memory_growth | awk '{ g = $6 - $5; if (NR == 1 || g > w) w = g } END { printf "%.1f", w }')
	{
		echo "batchstate benchmark ($MODE mode)"
		sed 's/^/  /' "$OUT/env.txt"
		echo "  load average at end: $(loadavg)"
		echo
		echo "lifecycle: lifecycles/s (create, scored, speculating, merging, succeeded: 5 transactions"
		echo "each), $CLIENTS clients, median of $ROUNDS interleaved rounds of $SECONDS_RUN s; CPU per lifecycle"
		echo "in microseconds (medians), server backends and pgbench"
		printf '  %-12s %9s %9s %9s %8s %10s %10s\n' approach median min max "ext/it" "server_us" "pgbench_us"
		awk '!/^#/ { print $2, $3, $4, $5, $6, $7 }' "$OUT/lifecycle.dat" | while read -r a m lo hi su cu; do
			printf '  %-12s %9.1f %9.1f %9.1f %7sx %10s %10s\n' "$a" "$m" "$lo" "$hi" "$(ratio "$ext" "$m")" "$su" "$cu"
		done
		echo
		echo "list_batches: calls/s on a queue of 100 live batches (each call returns all 100), by"
		echo "finished batches of history, median of $ROUNDS interleaved rounds of $SECONDS_RUN s"
		printf '  %-12s %9s %9s %9s %8s %10s %10s\n' history median min max "vs $first" "server_us" "pgbench_us"
		awk '!/^#/ { print $2, $3, $4, $5, $6, $7 }' "$OUT/list.dat" | while read -r h m lo hi su cu; do
			printf '  %-12s %9.1f %9.1f %9.1f %7sx %10s %10s\n' "$h" "$m" "$lo" "$hi" "$(ratio "$m" "$l0")" "$su" "$cu"
		done
		echo
		echo "memory per backend (extension: lifecycles and lists for $MEM_SECONDS s, $MEM_LIFECYCLES transactions;"
		echo "\"Grand total\" of pg_log_backend_memory_contexts)"
		memory_growth | while read -r p n f l m1 m2 s1 s2; do
			printf '  backend %s: %d samples, %s kB at %d s, %s kB at %d s; floor %s kB (first half) -> %s kB (second half)\n' \
				"$p" "$n" "$f" "$s1" "$l" "$s2" "$m1" "$m2"
		done
		echo
		if [ -s "$OUT/instructions.dat" ]; then
			echo "instructions per lifecycle (user space, callgrind, one single-user backend, no client:"
			echo "what the server executes for the 5 statements of a lifecycle, without kernel or protocol)"
			awk '!/^#/ { print $1, $2 }' "$OUT/instructions.dat" | while read -r a n; do
				printf '  %-12s %9d  %7sx of the extension\n' "$a" "$n" "$(ratio "$n" "$(col_ins extension)")"
			done
			echo
		fi
		echo "sequential / index scans of each approach's tables during the lifecycle runs"
		awk '{ printf "  %-14s %-24s seq_scan %6d  idx_scan %10d\n", $2, $3, $4, $5 }' "$OUT/raw/seq-scans.txt"
		echo
		echo "targets (medians of this run):"
		echo "  extension / plpgsql   = ${r1}x (>= 1.25x: $(target x "$r1" 1.25)); server CPU per lifecycle, plpgsql / extension = ${c1}x"
		echo "  extension / fused_sql = ${r2}x (>= 0.95x: $(target x "$r2" 0.95)); server CPU per lifecycle, fused_sql / extension = ${c2}x"
		if [ -s "$OUT/instructions.dat" ]; then
			echo "  by instructions per lifecycle: plpgsql / extension = $(ratio "$(col_ins plpgsql)" "$(col_ins extension)")x, fused_sql / extension = $(ratio "$(col_ins fused_sql)" "$(col_ins extension)")x"
		fi
		echo "the floor with the extension's filing semantics (no target; see BENCHMARKS.md):"
		echo "  extension / fused_idem = ${r5}x; server CPU per lifecycle, fused_idem / extension = ${c3}x"
		if [ -s "$OUT/instructions.dat" ]; then
			echo "  by instructions per lifecycle: fused_idem / extension = $(ratio "$(col_ins fused_idem)" "$(col_ins extension)")x"
		fi
		echo "  fused_idem / plpgsql = ${r6}x: what the extension would reach against PL/pgSQL with no function layer at all"
		echo "  extension / round_trips = ${r3}x (no target)"
		echo "  list_batches history $last / history $first = ${r4}x (>= 0.85x: $(target x "$r4" 0.85))"
		echo "  memory per backend flat: largest growth of the floor ${worst} kB ($(awk -v w="$worst" 'BEGIN { print (w <= 64) ? "flat: met" : "GROWS: MISSED" }'))"
		echo
		cat "$OUT/raw/consistency.txt"
	} | tee "$OUT/summary.txt"
}

chart() {
	((HAVE_GNUPLOT)) || return 0
	gnuplot -e "lifecycle='$OUT/lifecycle.dat'; list='$OUT/list.dat'; out='$OUT/lifecycle.png'" \
		"$BENCH/plot.gp" >"$OUT/raw/gnuplot.log" 2>&1 || {
		cat "$OUT/raw/gnuplot.log" >&2
		die "gnuplot failed"
	}
	say "chart: $OUT/lifecycle.png"
}

if [ "$MODE" = soak ]; then
	soak
	exit 0
fi

setup_bench_db
LOAD_START=$(loadavg)
# a count left by an earlier run must not pass for this run's
rm -f -- "$OUT/instructions.dat"
write_env "$OUT/env.txt"
lifecycle_phase
list_phase
memory_phase
((PERF)) && perf_phase
((INSTRUCTIONS)) && instructions_phase
summarize
chart
say "done: results in $OUT"
