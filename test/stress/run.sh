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

# shellcheck source=test/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
suite_start stress

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
DB=batchstate_stress

# shellcheck disable=SC2317 # run by test/lib.sh when the suite exits
suite_cleanup() {
	if [ "${STRESS_KEEP_DB:-0}" != 1 ]; then
		psql_q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	elif ((SUITE_FINISHED)); then
		echo "stress: kept database $DB"
	fi
}

perl -MDBI -MDBD::Pg -e 1 2>/dev/null ||
	bail "perl DBI/DBD::Pg not available (Debian package libdbd-pg-perl)"

echo "stress: creating database $DB on ${PGHOST:-default host}:${PGPORT:-5432}"
psql_q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
# An ICU default collation (where the server has ICU), so that list results
# in byte order differ from the database's own order.
if ! psql_q -d postgres -c "CREATE DATABASE $DB TEMPLATE template0 ENCODING 'UTF8'
		LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null 2>&1; then
	psql_q -d postgres -c "CREATE DATABASE $DB TEMPLATE template0 ENCODING 'UTF8'
		LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null || bail "cannot create database $DB"
fi
psql_q -d "$DB" -c 'CREATE EXTENSION batchstate' >/dev/null || bail "CREATE EXTENSION batchstate failed"

run_driver stress env STRESS_DB="$DB" perl "$HERE/stress.pl"
suite_end
