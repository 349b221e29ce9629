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

# shellcheck source=test/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
suite_start crash

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
PORT=${CRASH_PORT:-5452}
DB=batchstate_crash

perl -MDBI -MDBD::Pg -e 1 2>/dev/null ||
	bail "perl DBI/DBD::Pg not available (Debian package libdbd-pg-perl)"
[[ $PORT =~ ^[0-9]+$ ]] || bail "CRASH_PORT must be a port number"

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

# shellcheck disable=SC2317 # run by test/lib.sh when the suite exits
suite_cleanup() {
	server_stop "$PGDATA_DIR" immediate
	if [ "${CRASH_KEEP:-0}" != 1 ]; then
		rm -rf -- "$DIR"
	elif ((SUITE_FINISHED)); then
		echo "crash: kept $DIR"
	fi
}

[ ! -e "$PGDATA_DIR" ] || bail "$PGDATA_DIR already exists"
echo "crash: initdb in $DIR, server on port $PORT (fsync on, synchronous_commit on)"
server_init "$PGDATA_DIR" "$DIR/initdb.log" -E UTF8 --locale=C.UTF-8 ||
	bail "initdb failed" "$(cat "$DIR/initdb.log")"
START_OPTS="-p $PORT -k $DIR -c listen_addresses='' -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=40 -c log_min_messages=warning"
server_start "$PGDATA_DIR" "$SERVER_LOG" -o "$START_OPTS" ||
	bail "the server did not start" "$(tail -n 30 "$SERVER_LOG")"

export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres
psql_q -d postgres -c "CREATE DATABASE $DB" >/dev/null || bail "cannot create $DB"
psql_x -d "$DB" -c 'CREATE EXTENSION batchstate' -c 'CREATE EXTENSION amcheck' >/dev/null ||
	bail "CREATE EXTENSION batchstate/amcheck failed (is batchstate installed?)"

pg_ctl_json=$(printf '"%s",' "${AS_PG[@]}" "$PG_BIN/pg_ctl")
run_driver crash env CRASH_DB="$DB" CRASH_PGDATA="$PGDATA_DIR" CRASH_PG_CTL="[${pg_ctl_json%,}]" \
	CRASH_START_OPTS="$START_OPTS" CRASH_LOG="$SERVER_LOG" perl "$HERE/crash.pl"
if ((FAILED > 0)); then
	echo "crash: server log ($SERVER_LOG), last lines:"
	tail -n 15 -- "$SERVER_LOG" | sed 's/^/  /'
fi
suite_end
