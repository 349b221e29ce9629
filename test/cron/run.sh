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

# shellcheck source=test/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
suite_start cron

CRON_PORT=${CRON_PORT:-5481}
CRON_WAIT=${CRON_WAIT:-75}
EXT=batchstate
DB=batchstate_cron
WRITER=batchstate_cron_writer
NOBODY=batchstate_cron_nogrant
export PGUSER=postgres

sharedir=$("$PG_BIN/pg_config" --sharedir)
[[ -f $sharedir/extension/pg_cron.control ]] ||
	bail "pg_cron is installed (Debian package postgresql-15-cron)"
((CRON_PORT >= 5481 && CRON_PORT <= 5489)) ||
	bail "CRON_PORT is in 5481..5489 (got $CRON_PORT)"

D=$(mktemp -d /tmp/bs-cron.XXXXXX)
chown postgres "$D"
# shellcheck disable=SC2317 # run by test/lib.sh when the suite exits
suite_cleanup() {
	if ((!SUITE_FINISHED)) && [[ -f $D/log ]]; then
		echo "   last lines of the server log:"
		tail -n 20 "$D/log" | sed 's/^/    /'
	fi
	server_stop "$D/data" fast
	rm -rf "$D"
}

export PGHOST=$D PGPORT=$CRON_PORT
# sql_as ROLE QUERY
sql_as() { psql_q -At -F $'\t' -d "$DB" -U "$1" -c "$2"; }

echo "== $SUITE: own cluster in $D, port $CRON_PORT, waiting at most ${CRON_WAIT}s"
server_init "$D/data" "$D/initdb.log" --no-sync
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
server_start "$D/data" "$D/log"
psql_q -d postgres -c "CREATE DATABASE $DB" >/dev/null
# the launcher gives up on a missing database: restart it now that one exists
server_stop "$D/data" fast || true
server_start "$D/data" "$D/log"
pass "a cluster with shared_preload_libraries = 'pg_cron' starts"

sql "$DB" "CREATE EXTENSION pg_cron" >/dev/null
sql "$DB" "CREATE EXTENSION $EXT" >/dev/null
cron_version=$(sql "$DB" "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
echo "   pg_cron $cron_version, $EXT $(sql "$DB" "SELECT extversion FROM pg_extension WHERE extname = '$EXT'")"

# The scheduling roles: the job runs as the role that scheduled it.
sql "$DB" "CREATE ROLE $WRITER LOGIN;
           GRANT USAGE ON SCHEMA cron TO $WRITER;
           GRANT USAGE ON SCHEMA $EXT TO $WRITER;
           GRANT SELECT, INSERT, UPDATE, DELETE ON $EXT.batch, $EXT.batch_state_membership TO $WRITER;
           CREATE ROLE $NOBODY LOGIN;
           GRANT USAGE ON SCHEMA cron TO $NOBODY;
           GRANT USAGE ON SCHEMA $EXT TO $NOBODY;" >/dev/null

# batches, then drift of every kind
sql "$DB" "SELECT $EXT.create_batch('c/' || i, 'cq', 'created') FROM generate_series(1, 20) i" >/dev/null
sql "$DB" "SELECT $EXT.update_state('c/' || i, 1, CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'scored' END)
           FROM generate_series(1, 10) i" >/dev/null
sql "$DB" "COPY (SELECT * FROM $EXT.batch ORDER BY id COLLATE \"C\") TO STDOUT" >"$D/batch.before"
sql "$DB" "SELECT $EXT.membership_remove('cq', 'scored', 'c/1');
           SELECT $EXT.membership_remove('cq', 'created', 'c/20');
           SELECT $EXT.membership_add('cq', 'merging', 'c/2');
           SELECT $EXT.membership_add('cq', 'failed', 'c/3');
           SELECT $EXT.membership_add('cq', 'created', 'c/ghost');
           SELECT $EXT.batch_create('c/primitive', 'cq', 'speculating')" >/dev/null
drift=$(sql "$DB" "SELECT problem || ' ' || batch_id FROM $EXT.verify() ORDER BY 1" | tr '\n' ',')
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
	"$(sql "$DB" "SELECT jobname, schedule, command, database, username, active FROM cron.job WHERE jobid = $job")" \
	"batchstate-reconcile	$schedule	SELECT batchstate.reconcile()	$DB	$WRITER	t"
scheduled_at=$(sql "$DB" "SELECT now()")

# Wait, bounded: the drift repaired and both jobs finished a run.
echo "== waiting for pg_cron (up to ${CRON_WAIT}s)"
t0=$SECONDS
while :; do
	state=$(sql "$DB" "SELECT (SELECT count(*) FROM $EXT.verify()) || ' '
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
	"$(sql "$DB" "SELECT status, return_message, username, database FROM cron.job_run_details
	              WHERE jobid = $job AND status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1")" \
	"succeeded	1 row	$WRITER	$DB"
check_eq "the run started after the job was scheduled" \
	"$(sql "$DB" "SELECT bool_and(start_time >= '$scheduled_at') FROM cron.job_run_details WHERE jobid = $job")" "t"
nogrant=$(sql "$DB" "SELECT status || ': ' || return_message FROM cron.job_run_details
                     WHERE jobid = $job_nogrant AND status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1")
check_match "a role without the writer grants: the job fails with permission denied" \
	"$nogrant" '^failed: ERROR:  permission denied'
sql "$DB" "COPY (SELECT * FROM $EXT.batch ORDER BY id COLLATE \"C\") TO STDOUT" | grep -v '^c/primitive	' >"$D/batch.after"
check_same_file "the scheduled reconcile() left every batch row as it was" "$D/batch.after" "$D/batch.before"
check_eq "membership: exactly one row per non-terminal batch, under its state" \
	"$(sql "$DB" "SELECT count(*) FILTER (WHERE m.batch_id IS NULL) || ' ' || count(*)
	              FROM $EXT.batch b LEFT JOIN $EXT.batch_state_membership m
	                ON m.queue = b.queue AND m.state = b.state AND m.batch_id = b.id
	              WHERE NOT $EXT.is_terminal(b.state)") $(sql "$DB" "SELECT count(*) FROM $EXT.batch_state_membership")" \
	"0 18 18"

check_eq "cron.unschedule removes the job" \
	"$(sql_as "$WRITER" "SELECT cron.unschedule('batchstate-reconcile')")" "t"

suite_end
