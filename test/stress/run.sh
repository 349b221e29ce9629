#!/usr/bin/env bash
# test/stress/run.sh: the randomized concurrent stress test (stress.pl) on the
# running throwaway cluster given by PGHOST/PGPORT/PGUSER, where batchstate
# is installed.  Creates the database batchstate_stress (dropped first if it
# exists, dropped again at the end), runs the clients, checks the model.
#
# Environment (all optional):
#   STRESS_SEED=1          the seed (printed; the interleaving is still the
#                          scheduler's, so a failure may need a few runs)
#   STRESS_CLIENTS=4       concurrent client processes
#   STRESS_OPS=5000        operations per client
#   STRESS_TIME_LIMIT=150  seconds allowed for the load
#   STRESS_VERBOSE=1       print every violation
#   STRESS_KEEP_DB=1       keep the database for inspection
#   STRESS_LOGDIR=DIR      keep the clients' logs (JSON, one call a line)
#   STRESS_SABOTAGE=...    corrupt the result on purpose (see stress.pl)
# Needs perl with DBI and DBD::Pg (Debian: libdbd-pg-perl).
# Last line: "stress: N passed, M failed"; exit 0 iff M = 0 and N > 0.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=${REPO:-$(cd -- "$HERE/../.." && pwd -P)}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
export PGUSER=${PGUSER:-postgres}
DB=batchstate_stress
OUT=$(mktemp)

psql_q() { PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
	rm -f -- "$OUT"
	if [ "${STRESS_KEEP_DB:-0}" != 1 ]; then
		psql_q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

fail_early() {
	echo "stress: $*"
	echo "stress: 0 passed, 1 failed"
	exit 1
}

perl -MDBI -MDBD::Pg -e 1 2>/dev/null ||
	fail_early "perl DBI/DBD::Pg not available (Debian package libdbd-pg-perl)"

echo "stress: creating database $DB on ${PGHOST:-default host}:${PGPORT:-5432}"
psql_q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
# An ICU default collation (where the server has ICU), so that list results
# in byte order differ from the database's own order.
if ! psql_q -d postgres -c "CREATE DATABASE $DB TEMPLATE template0 ENCODING 'UTF8'
		LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null 2>&1; then
	psql_q -d postgres -c "CREATE DATABASE $DB TEMPLATE template0 ENCODING 'UTF8'
		LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null || fail_early "cannot create database $DB"
fi
psql_q -d "$DB" -c 'CREATE EXTENSION batchstate' >/dev/null || fail_early "CREATE EXTENSION batchstate failed"

set +e
STRESS_DB=$DB perl "$HERE/stress.pl" 2>&1 | tee "$OUT" |
	grep -v -E '^stress: [0-9]+ passed, [0-9]+ failed$'
rc=${PIPESTATUS[0]}
set -e
summary=$(tail -n 1 -- "$OUT")
if [ "${STRESS_KEEP_DB:-0}" = 1 ]; then
	echo "stress: kept database $DB"
fi
cleanup
trap - EXIT
if [[ $summary =~ ^stress:\ [0-9]+\ passed,\ [0-9]+\ failed$ ]]; then
	echo "$summary"
	exit "$rc"
fi
echo "stress: the driver ended without a summary (exit status $rc)"
echo "stress: 0 passed, 1 failed"
exit 1
