#!/usr/bin/env bash
# scripts/demo.sh: a guided tour of batchstate (scripts/demo.sql) in a
# database of its own.
#
#   scripts/demo.sh
#       On this machine: install what is missing, build and install
#       batchstate, start the throwaway cluster (scripts/cluster.sh) and run
#       the tour in it; the cluster keeps running afterwards.  Needs root
#       (it re-runs itself with sudo when it is not).
#
#   PGHOST=db.example PGPORT=5432 PGUSER=alice scripts/demo.sh
#       On a server you already have, chosen by the libpq variables (PGHOST,
#       PGPORT, PGUSER, PGDATABASE; any one of them selects this mode).
#       Installs, builds and starts nothing: batchstate must already be
#       installed on that server (make && sudo make install with its
#       pg_config).  Creates one database of its own, runs the tour there
#       and drops the database again.  No root needed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

# psql against the server the libpq variables name; quiet, stopping at the
# first error.
server_psql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# The tour on an existing server: nothing is created but DB, which goes
# again at the end (also after a failure).
DEMO_DB=batchstate_demo_$$
demo_existing_server() {
	local db=$DEMO_DB where version available out
	where="${PGHOST:-the default socket}:${PGPORT:-5432} as ${PGUSER:-$(id -un)}"
	command -v psql >/dev/null 2>&1 ||
		die "psql is not on PATH: install the PostgreSQL client (Debian: postgresql-client) to reach $where"
	version=$(server_psql -At -d "${PGDATABASE:-postgres}" -c 'SHOW server_version_num' 2>&1) ||
		die "cannot connect to $where: $version"
	((version >= 150000)) ||
		die "the server at $where runs PostgreSQL $((version / 10000)); batchstate needs 15 or later"
	available=$(server_psql -At -d "${PGDATABASE:-postgres}" \
		-c "SELECT default_version FROM pg_available_extensions WHERE name = 'batchstate'")
	[ -n "$available" ] ||
		die "batchstate is not installed on the server at $where (PostgreSQL $((version / 10000))): run, on that server's machine, make PG_CONFIG=<its pg_config> && sudo make install PG_CONFIG=<its pg_config>"
	say "server at $where: PostgreSQL $((version / 10000)), batchstate $available available"

	out=$(server_psql -d "${PGDATABASE:-postgres}" -c "CREATE DATABASE $db" 2>&1) ||
		die "cannot create the demo database: $out (the role needs the CREATEDB privilege)"
	trap 'server_psql -d "${PGDATABASE:-postgres}" -c "DROP DATABASE IF EXISTS $DEMO_DB" >/dev/null 2>&1 || true' EXIT
	if ! out=$(server_psql -d "$db" -c 'CREATE EXTENSION batchstate' 2>&1); then
		if grep -q 'permission denied' <<<"$out"; then
			die "CREATE EXTENSION batchstate needs a superuser: batchstate is not marked trusted (batchstate.control), so the CREATE privilege on a database is not enough. Run the demo as a superuser, or ask one to create the extension. ($out)"
		fi
		die "CREATE EXTENSION batchstate failed: $out"
	fi
	say "database $db, a tour of batchstate:"
	server_psql -P pager=off -d "$db" -f "$REPO/scripts/demo.sql"
	say "done; the database $db is dropped again"
}

# The tour on the throwaway cluster of this checkout.
demo_own_cluster() {
	local db=batchstate_demo
	install_deps
	build_install
	cluster_start
	say "creating database $db with the extension"
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c 'SET client_min_messages = warning' \
		-c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION batchstate'
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -P pager=off -d "$db" -f "$REPO/scripts/demo.sql"

	local prefix=''
	((EUID == 0)) && [ -n "${SUDO_USER:-}" ] && prefix='sudo '
	cat <<DONE

batchstate: the demo cluster keeps running, with database $db:
  explore it:  ${prefix}scripts/cluster.sh psql -d $db
  stop it:     ${prefix}scripts/cluster.sh stop
DONE
}

if [ -n "${PGHOST:-}${PGPORT:-}${PGUSER:-}${PGDATABASE:-}" ]; then
	demo_existing_server
else
	ensure_root "$@"
	trap fix_ownership EXIT
	demo_own_cluster
fi
