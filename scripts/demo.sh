#!/usr/bin/env bash
# scripts/demo.sh: install what is missing, build and install batchstate,
# start the throwaway cluster and walk through scripts/demo.sql in it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

ensure_root "$@"
trap fix_ownership EXIT
install_deps
build_install
cluster_start

DB=batchstate_demo
say "creating database $DB with the extension"
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c 'SET client_min_messages = warning' \
	-c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" -c 'CREATE EXTENSION batchstate'

"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -P pager=off -d "$DB" -f "$REPO/scripts/demo.sql"

sudo=${SUDO_USER:+sudo }
cat <<DONE

batchstate: the demo cluster keeps running, with database $DB:
  explore it:  ${sudo}scripts/cluster.sh psql -d $DB
  stop it:     ${sudo}scripts/cluster.sh stop
DONE
