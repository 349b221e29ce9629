#!/usr/bin/env bash
# test/notify/run.sh: batchstate.notify_channel, seen from a listening session.
# A Perl DBD::Pg listener LISTENs while other connections create and move
# batches; every expectation is checked against the notifications that arrive
# before a sentinel NOTIFY sent afterwards (commit order makes that exact).
# Env: PGHOST, PGPORT, PGUSER of a running cluster with batchstate installed;
# REPO (default: two levels up).  Needs perl with DBD::Pg (libdbd-pg-perl).
set -euo pipefail

REPO=${REPO:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
export PGUSER=${PGUSER:-postgres}
DB=batchstate_notify
SUITE=notify

psql_admin() { PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

if ! perl -MDBD::Pg -MJSON::PP -e 1 2>/dev/null; then
	echo "perl DBD::Pg is missing (Debian package libdbd-pg-perl)"
	echo "$SUITE: 0 passed, 1 failed"
	exit 1
fi

cleanup() {
	psql_admin -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
	psql_admin -c "DROP ROLE IF EXISTS bs_notify_writer" >/dev/null 2>&1 || true
}
DONE=0
on_exit() {
	local rc=$?
	cleanup
	if ((!DONE)); then
		echo "FAIL - $SUITE stopped early (exit status $rc; see the output above)"
		echo "$SUITE: 0 passed, 1 failed"
		exit 1
	fi
}
trap on_exit EXIT

echo "== creating database $DB (UTF8) with the extension"
psql_admin -c "DROP DATABASE IF EXISTS $DB" >/dev/null
psql_admin -c "CREATE DATABASE $DB TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" -c 'CREATE EXTENSION batchstate' >/dev/null

counts=$(mktemp)
rc=0
NOTIFY_DB=$DB NOTIFY_COUNTS=$counts perl "$REPO/test/notify/notify.pl" || rc=$?
passed=0 failed=0
if [ -s "$counts" ]; then
	read -r passed failed <"$counts"
fi
rm -f "$counts"
if ((rc != 0)) && ((failed == 0)); then
	echo "FAIL - notify.pl exited with status $rc before it finished"
	failed=$((failed + 1))
fi
DONE=1
cleanup
trap - EXIT
echo "$SUITE: $passed passed, $failed failed"
((failed == 0 && passed > 0))
