#!/usr/bin/env bash
# test/notify/run.sh: batchstate.notify_channel, seen from a listening session.
# A Perl DBD::Pg listener LISTENs while other connections create and move
# batches; every expectation is checked against the notifications that arrive
# before a sentinel NOTIFY sent afterwards (commit order makes that exact).
# Env: PGHOST, PGPORT, PGUSER of a running cluster with batchstate installed;
# REPO (default: two levels up).  Needs perl with DBD::Pg (libdbd-pg-perl).
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
suite_start notify

DB=batchstate_notify

perl -MDBD::Pg -MJSON::PP -e 1 2>/dev/null ||
	bail "perl DBD::Pg is missing (Debian package libdbd-pg-perl)"

# shellcheck disable=SC2317 # run by test/lib.sh when the suite exits
suite_cleanup() {
	drop_db "$DB" 2>/dev/null || true
	psql_q -d postgres -c "DROP ROLE IF EXISTS bs_notify_writer" >/dev/null 2>&1 || true
}

echo "== creating database $DB (UTF8) with the extension"
new_db "$DB"
psql_x -d "$DB" -c 'CREATE EXTENSION batchstate' >/dev/null

# notify.pl prints its checks and writes "N M" (passed, failed) to a file
counts=$(mktemp)
rc=0
NOTIFY_DB=$DB NOTIFY_COUNTS=$counts perl "$REPO/test/notify/notify.pl" || rc=$?
if [ -s "$counts" ]; then
	read -r passed failed <"$counts"
	PASSED=$((PASSED + passed)) FAILED=$((FAILED + failed))
fi
rm -f "$counts"
if ((rc != 0 && FAILED == 0)); then
	fail "notify.pl exited with status $rc before it finished"
fi
suite_end
