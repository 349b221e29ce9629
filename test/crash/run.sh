#!/usr/bin/env bash
# test/crash/run.sh: crash recovery under a concurrent load (crash.pl).
#
# Starts its own throwaway cluster (port CRASH_PORT, default 5452; fsync
# and synchronous_commit on), creates the database batchstate_crash with
# batchstate and amcheck, runs crash.pl (which stops the server with
# `pg_ctl stop -m immediate` in the middle of the load, restarts it and
# checks the result, CRASH_ROUNDS times), and always stops and removes the
# cluster at the end.  The cluster given by PGHOST/PGPORT is not used.
#
# Environment (all optional): CRASH_SEED=1, CRASH_CLIENTS=4, CRASH_ROUNDS=3,
# CRASH_PORT=5452, CRASH_DIR (default: a new /tmp/bs-crash.XXXXXX),
# CRASH_KEEP=1 (keep the cluster directory), CRASH_VERBOSE=1,
# CRASH_SABOTAGE=lose_commit|extra (see crash.pl).
# Needs perl with DBI and DBD::Pg (Debian: libdbd-pg-perl).
# Last line: "crash: N passed, M failed"; exit 0 iff M = 0 and N > 0.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=${REPO:-$(cd -- "$HERE/../.." && pwd -P)}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PORT=${CRASH_PORT:-5452}
DB=batchstate_crash

fail_early() {
	echo "crash: $*"
	echo "crash: 0 passed, 1 failed"
	exit 1
}

perl -MDBI -MDBD::Pg -e 1 2>/dev/null ||
	fail_early "perl DBI/DBD::Pg not available (Debian package libdbd-pg-perl)"
[[ $PORT =~ ^[0-9]+$ ]] || fail_early "CRASH_PORT must be a port number"

# postgres refuses to run as root: run the server tools as postgres then.
AS=()
if ((EUID == 0)); then
	AS=(runuser -u postgres --)
fi

if [ -n "${CRASH_DIR:-}" ]; then
	DIR=$CRASH_DIR
	mkdir -p -- "$DIR"
else
	DIR=$(mktemp -d /tmp/bs-crash.XXXXXX)
fi
if ((EUID == 0)); then
	chown postgres -- "$DIR"
fi
PGDATA_DIR=$DIR/data
SERVER_LOG=$DIR/server.log
OUT=$(mktemp)

cleanup() {
	rm -f -- "$OUT"
	if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
		"${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1 || true
	fi
	if [ "${CRASH_KEEP:-0}" != 1 ]; then
		rm -rf -- "$DIR"
	fi
}
trap cleanup EXIT

[ ! -e "$PGDATA_DIR" ] || fail_early "$PGDATA_DIR already exists"
echo "crash: initdb in $DIR, server on port $PORT (fsync on, synchronous_commit on)"
"${AS[@]}" "$PG_BIN/initdb" -D "$PGDATA_DIR" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
	{ cat "$DIR/initdb.log"; fail_early "initdb failed"; }
START_OPTS="-p $PORT -k $DIR -c listen_addresses='' -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=40 -c log_min_messages=warning"
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$SERVER_LOG" -w -t 60 -o "$START_OPTS" start >/dev/null ||
	{ tail -n 30 "$SERVER_LOG"; fail_early "the server did not start"; }

export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres
PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres \
	-c "CREATE DATABASE $DB" >/dev/null || fail_early "cannot create $DB"
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" \
	-c 'CREATE EXTENSION batchstate' -c 'CREATE EXTENSION amcheck' >/dev/null ||
	fail_early "CREATE EXTENSION batchstate/amcheck failed (is batchstate installed?)"

pg_ctl_json=$(printf '"%s",' "${AS[@]}" "$PG_BIN/pg_ctl")
set +e
CRASH_DB=$DB CRASH_PGDATA=$PGDATA_DIR CRASH_PG_CTL="[${pg_ctl_json%,}]" CRASH_START_OPTS=$START_OPTS \
	CRASH_LOG=$SERVER_LOG perl "$HERE/crash.pl" 2>&1 | tee "$OUT" |
	grep -v -E '^crash: [0-9]+ passed, [0-9]+ failed$'
rc=${PIPESTATUS[0]}
set -e
summary=$(tail -n 1 -- "$OUT")
if ((rc != 0)); then
	echo "crash: server log ($SERVER_LOG), last lines:"
	tail -n 15 -- "$SERVER_LOG" | sed 's/^/  /'
fi
if [ "${CRASH_KEEP:-0}" = 1 ]; then
	echo "crash: kept $DIR"
fi
cleanup
trap - EXIT
if [[ $summary =~ ^crash:\ [0-9]+\ passed,\ [0-9]+\ failed$ ]]; then
	echo "$summary"
	exit "$rc"
fi
echo "crash: the driver ended without a summary (exit status $rc)"
echo "crash: 0 passed, 1 failed"
exit 1
