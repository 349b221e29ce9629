# shellcheck shell=bash
# bench/lib/common.sh: what every phase of bench/run.sh uses: messages, psql,
# one measured pgbench run with its CPU per transaction, medians and ratios.
# shellcheck disable=SC2034 # TPS, SRV_US, CLI_US: results for the phases

DB=batchstate_bench
RUNNO=0         # pgbench runs so far: each run's ids start at RUNNO * 1e13
BG_PIDS=()      # background pgbench processes, killed on exit
TPS='' SRV_US='' CLI_US=''
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# die MESSAGE...: say what went wrong, on stderr, and stop
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

# say MESSAGE...: one line of progress
say() { printf 'bench: %s\n' "$*"; }

# is_uint S: true when S is a whole number
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# is_number S: true when S is a number, decimals allowed
is_number() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }

# q PSQL-ARGS...: psql on the benchmark's cluster, unaligned, stopping at the first error
q() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# qdb PSQL-ARGS...: q on the benchmark's database
qdb() { q -d "$DB" "$@"; }

# loadavg: the machine's load averages over 1, 5 and 15 minutes
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# stats: "median min max" of the numbers on stdin, one per line
stats() {
	sort -g | awk '{ v[NR] = $1 }
		END {
			if (NR == 0) { print "nan nan nan"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f %.1f %.1f\n", m, v[1], v[NR]
		}'
}

# ratio A B: A / B to two decimals ("nan" when B is not positive)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

# target LABEL VALUE LIMIT: "met" or "MISSED (...)" for VALUE >= LIMIT
target() {
	awk -v v="$2" -v l="$3" 'BEGIN {
		if (v == "nan") { print "no data"; exit }
		if (v + 0 >= l + 0) print "met"
		else printf "MISSED (%.0f%% short)\n", (1 - v / l) * 100
	}'
}

# cpu_ticks PID...: user + system CPU ticks of the processes (all threads)
cpu_ticks() {
	local p t=0 v
	for p in "$@"; do
		v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# wait_progress LOG N PID: wait until LOG holds N pgbench progress lines
# (false if pgbench ended first).  LOG may not exist yet: the background
# pgbench's shell opens it after the caller goes on.
wait_progress() {
	local n
	while :; do
		n=$(grep -c '^progress: ' "$1" 2>/dev/null) || true
		((${n:-0} >= $2)) && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.05
	done
}

# pgbench_backends DB: pids of the pgbench sessions on DB
pgbench_backends() {
	q -d postgres -c "SELECT pid FROM pg_stat_activity
		WHERE datname = '$1' AND application_name = 'pgbench' AND backend_type = 'client backend' ORDER BY pid"
}

# settle SCHEMA [DB]: before every measured run, the same housekeeping for
# every approach: VACUUM of its two tables and a CHECKPOINT
settle() {
	local schema=$1 db=${2:-$DB}
	q -d "$db" -c "VACUUM $schema.batch, $schema.batch_state_membership" -c CHECKPOINT
}

# pgbench_run LOG DB ARGS...: one pgbench run on DB with ids of its own
# (:base, a counter of runs); its output goes to LOG, its throughput to $TPS.
# Runs of 3 s or more also measure CPU per transaction between the first and
# the last progress line: $SRV_US for the server backends, $CLI_US for
# pgbench itself (microseconds; "nan" when not measured).  The CPU figures
# hold on a busy machine where the throughput does not.
pgbench_run() {
	local log=$1 db=$2 secs='' a pid
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
	if ((secs >= 3)); then
		pgbench_cpu "$log" "$db" "$pid" "$secs"
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

# pgbench_cpu LOG DB PID SECS: while pgbench PID runs for SECS s, set $SRV_US
# and $CLI_US from the CPU its backends and itself used between its first
# and its last progress line, per transaction in that span
pgbench_cpu() {
	local log=$1 db=$2 pid=$3 last=$(($4 - 1)) bpids c0 c1 p0 p1 tx
	wait_progress "$log" 1 "$pid" || return 0
	bpids=$(pgbench_backends "$db" | paste -sd' ' -)
	# shellcheck disable=SC2086
	c0=$(cpu_ticks $bpids) p0=$(cpu_ticks "$pid")
	wait_progress "$log" "$last" "$pid" || return 0
	# shellcheck disable=SC2086
	c1=$(cpu_ticks $bpids) p1=$(cpu_ticks "$pid")
	# transactions between progress lines 1 and $last
	tx=$(awk -v last="$last" '/^progress: / { n++; if (n >= 2 && n <= last) t += $4 } END { printf "%.0f", t }' "$log")
	((tx > 0)) || return 0
	SRV_US=$(awk -v c=$((c1 - c0)) -v tick="$TICK_US" -v tx="$tx" 'BEGIN { printf "%.1f", c * tick / tx }')
	CLI_US=$(awk -v c=$((p1 - p0)) -v tick="$TICK_US" -v tx="$tx" 'BEGIN { printf "%.1f", c * tick / tx }')
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
