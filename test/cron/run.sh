#!/usr/bin/env bash
# test/cron/run.sh: scheduled repair with pg_cron, as the README recipe has it.
# Starts its OWN throwaway cluster (shared_preload_libraries = 'pg_cron',
# cron.database_name set), creates pg_cron and batchstate, lets a writer role
# (USAGE on schema cron, writer grants on batchstate) schedule
# `SELECT batchstate.reconcile()`, introduces drift and waits (bounded) for
# the scheduler to repair it.  A second role without the writer grants
# schedules the same job and must see it fail.  Stops the cluster on exit.
# pg_cron < 1.5 (Debian 12 ships 1.4) knows minutes only, so the wait is up
# to a minute; with second-interval support the job runs every 2 seconds.
# Env: REPO, PG_BIN; CRON_PORT (5481..5489, default 5481), CRON_WAIT (seconds,
# default 75).  Needs the Debian package postgresql-15-cron.
set -euo pipefail

REPO=${REPO:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
CRON_PORT=${CRON_PORT:-5481}
CRON_WAIT=${CRON_WAIT:-75}
SUITE=cron
EXT=batchstate
DB=batchstate_cron
WRITER=batchstate_cron_writer
NOBODY=batchstate_cron_nogrant
export PGUSER=postgres

PASS=0 FAIL=0
ok() {
	PASS=$((PASS + 1))
	echo "ok - $*"
}
not_ok() {
	FAIL=$((FAIL + 1))
	echo "FAIL - $*"
}
check_eq() {
	if [[ "$2" == "$3" ]]; then ok "$1"; else
		not_ok "$1"
		printf '    got:  %s\n    want: %s\n' "$2" "$3"
	fi
}
finish() {
	echo "$SUITE: $PASS passed, $FAIL failed"
	((FAIL == 0 && PASS > 0))
}

sharedir=$("$PG_BIN/pg_config" --sharedir)
if [[ ! -f $sharedir/extension/pg_cron.control ]]; then
	not_ok "pg_cron is installed (Debian package postgresql-15-cron)"
	finish
	exit 1
fi
if ((CRON_PORT < 5481 || CRON_PORT > 5489)); then
	not_ok "CRON_PORT is in 5481..5489 (got $CRON_PORT)"
	finish
	exit 1
fi

D=$(mktemp -d /tmp/bs-cron.XXXXXX)
chown postgres "$D"
started=0
as_postgres() { runuser -u postgres -- "$@"; }
stop_cluster() {
	if ((started)); then
		as_postgres "$PG_BIN/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null 2>&1 || true
		started=0
	fi
}
cleanup() {
	stop_cluster
	rm -rf "$D"
}
DONE=0
on_exit() {
	local rc=$?
	if ((!DONE)) && [[ -f $D/log ]]; then
		echo "   last lines of the server log:"
		tail -n 20 "$D/log" | sed 's/^/    /'
	fi
	cleanup
	if ((!DONE)); then
		not_ok "$SUITE stopped early (exit status $rc; see the output above)"
		finish
		exit 1
	fi
}
trap on_exit EXIT

export PGHOST=$D PGPORT=$CRON_PORT
psql_q() { PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
sql() { psql_q -At -F $'\t' -d "$DB" "$@"; }
# sql_as ROLE QUERY
sql_as() { psql_q -At -F $'\t' -d "$DB" -U "$1" -c "$2"; }

echo "== $SUITE: own cluster in $D, port $CRON_PORT, waiting at most ${CRON_WAIT}s"
as_postgres "$PG_BIN/initdb" -D "$D/data" -A trust -U postgres --no-sync >"$D/initdb.log" 2>&1
cat >>"$D/data/postgresql.conf" <<EOF
# test/cron: the README recipe
shared_preload_libraries = 'pg_cron'
cron.database_name = '$DB'
# pg_cron runs jobs over libpq: this cluster listens on its unix socket only
cron.host = '$D'
listen_addresses = ''
port = $CRON_PORT
unix_socket_directories = '$D'
fsync = off
EOF
start() {
	as_postgres "$PG_BIN/pg_ctl" -D "$D/data" -l "$D/log" -w -t 60 start >/dev/null
	started=1
}
start
psql_q -d postgres -c "CREATE DATABASE $DB" >/dev/null
# the launcher gives up on a missing database: restart it now that one exists
stop_cluster
start
ok "a cluster with shared_preload_libraries = 'pg_cron' starts"

sql -c "CREATE EXTENSION pg_cron" >/dev/null
sql -c "CREATE EXTENSION $EXT" >/dev/null
cron_version=$(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
echo "   pg_cron $cron_version, $EXT $(sql -c "SELECT extversion FROM pg_extension WHERE extname = '$EXT'")"

# The scheduling roles: the job runs as the role that scheduled it.
sql -c "CREATE ROLE $WRITER LOGIN;
        GRANT USAGE ON SCHEMA cron TO $WRITER;
        GRANT USAGE ON SCHEMA $EXT TO $WRITER;
        GRANT SELECT, INSERT, UPDATE, DELETE ON $EXT.batch, $EXT.batch_state_membership TO $WRITER;
        CREATE ROLE $NOBODY LOGIN;
        GRANT USAGE ON SCHEMA cron TO $NOBODY;
        GRANT USAGE ON SCHEMA $EXT TO $NOBODY;" >/dev/null

# batches, then drift of every kind
sql -c "SELECT $EXT.create_batch('c/' || i, 'cq', 'created') FROM generate_series(1, 20) i" >/dev/null
sql -c "SELECT $EXT.update_state('c/' || i, 1, CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'scored' END)
        FROM generate_series(1, 10) i" >/dev/null
sql -c "COPY (SELECT * FROM $EXT.batch ORDER BY id COLLATE \"C\") TO STDOUT" >"$D/batch.before"
sql -c "SELECT $EXT.membership_remove('cq', 'scored', 'c/1');
        SELECT $EXT.membership_remove('cq', 'created', 'c/20');
        SELECT $EXT.membership_add('cq', 'merging', 'c/2');
        SELECT $EXT.membership_add('cq', 'failed', 'c/3');
        SELECT $EXT.membership_add('cq', 'created', 'c/ghost');
        SELECT $EXT.batch_create('c/primitive', 'cq', 'speculating')" >/dev/null
drift=$(sql -c "SELECT problem || ' ' || batch_id FROM $EXT.verify() ORDER BY 1" | tr '\n' ',')
check_eq "drift before the job runs" "$drift" \
	"dangling c/ghost,missing c/1,missing c/20,missing c/primitive,stale c/2,stale c/3,"

# The fastest schedule this pg_cron accepts: seconds need pg_cron >= 1.5.
schedule='* * * * *'
if sql_as "$WRITER" "SELECT cron.unschedule(cron.schedule('bs-probe', '2 seconds', 'SELECT 1'))" >/dev/null 2>&1; then
	schedule='2 seconds'
fi
echo "   schedule used: '$schedule' (the README recipe: '* * * * *')"
check_eq "pg_cron rejects a malformed schedule" \
	"$(sql_as "$WRITER" "SELECT cron.schedule('bs-bad', 'every now and then', 'SELECT 1')" >/dev/null 2>&1 && echo accepted || echo rejected)" "rejected"

job=$(sql_as "$WRITER" "SELECT cron.schedule('batchstate-reconcile', '$schedule', 'SELECT batchstate.reconcile()')")
job_nogrant=$(sql_as "$NOBODY" "SELECT cron.schedule('batchstate-reconcile-nogrant', '$schedule', 'SELECT batchstate.reconcile()')")
check_eq "the writer's job is in cron.job (schedule, command, database, user)" \
	"$(sql -c "SELECT jobname, schedule, command, database, username, active FROM cron.job WHERE jobid = $job")" \
	"batchstate-reconcile	$schedule	SELECT batchstate.reconcile()	$DB	$WRITER	t"
scheduled_at=$(sql -c "SELECT now()")

# Wait, bounded: the drift repaired and both jobs finished a run.
echo "== waiting for pg_cron (up to ${CRON_WAIT}s)"
t0=$SECONDS
while :; do
	state=$(sql -c "SELECT (SELECT count(*) FROM $EXT.verify()) || ' '
	                    || (SELECT count(*) FROM cron.job_run_details
	                        WHERE jobid = $job AND status IN ('succeeded', 'failed')) || ' '
	                    || (SELECT count(*) FROM cron.job_run_details
	                        WHERE jobid = $job_nogrant AND status IN ('succeeded', 'failed'))")
	read -r left runs runs_nogrant <<<"$state"
	if ((left == 0 && runs > 0 && runs_nogrant > 0)); then break; fi
	if ((SECONDS - t0 >= CRON_WAIT)); then break; fi
	sleep 1
done
echo "   after $((SECONDS - t0))s: $left drift rows left, $runs finished run(s) of the writer's job, $runs_nogrant of the other"

check_eq "verify() is empty: the scheduled reconcile() repaired the drift" "$left" 0
check_eq "cron.job_run_details shows a succeeded run of the writer's job" \
	"$(sql -c "SELECT status, return_message, username, database FROM cron.job_run_details
	           WHERE jobid = $job AND status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1")" \
	"succeeded	1 row	$WRITER	$DB"
check_eq "the run started after the job was scheduled" \
	"$(sql -c "SELECT bool_and(start_time >= '$scheduled_at') FROM cron.job_run_details WHERE jobid = $job")" "t"
nogrant=$(sql -c "SELECT status || ': ' || return_message FROM cron.job_run_details
                  WHERE jobid = $job_nogrant AND status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1")
case $nogrant in
"failed: ERROR:  permission denied"*) ok "a role without the writer grants: the job fails with permission denied" ;;
*)
	not_ok "a role without the writer grants: the job fails with permission denied"
	printf '    got: %s\n' "$nogrant"
	;;
esac
sql -c "COPY (SELECT * FROM $EXT.batch ORDER BY id COLLATE \"C\") TO STDOUT" | grep -v '^c/primitive	' >"$D/batch.after"
if diff -u "$D/batch.before" "$D/batch.after" >"$D/batch.diff"; then
	ok "the scheduled reconcile() left every batch row as it was"
else
	not_ok "the scheduled reconcile() left every batch row as it was"
	head -n 20 "$D/batch.diff" | sed 's/^/    /'
fi
check_eq "membership: exactly one row per non-terminal batch, under its state" \
	"$(sql -c "SELECT count(*) FILTER (WHERE m.batch_id IS NULL) || ' ' || count(*)
	           FROM $EXT.batch b LEFT JOIN $EXT.batch_state_membership m
	             ON m.queue = b.queue AND m.state = b.state AND m.batch_id = b.id
	           WHERE NOT $EXT.is_terminal(b.state)") $(sql -c "SELECT count(*) FROM $EXT.batch_state_membership")" \
	"0 18 18"

check_eq "cron.unschedule removes the job" \
	"$(sql_as "$WRITER" "SELECT cron.unschedule('batchstate-reconcile')")" "t"

DONE=1
cleanup
trap - EXIT
finish
