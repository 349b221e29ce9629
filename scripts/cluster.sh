#!/usr/bin/env bash
# scripts/cluster.sh: start, stop or inspect the throwaway PostgreSQL 15
# cluster that scripts/demo.sh and scripts/test.sh use, or open psql on it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<USAGE
usage: scripts/cluster.sh start|stop|status|destroy|psql [psql arguments]
  start    create the cluster if needed and start it (port \$BATCHSTATE_PGPORT, default 54329)
  stop     stop it (fast shutdown)
  status   say where it lives and whether it runs
  destroy  stop it and delete its directory, data and all
  psql     run psql on it as user postgres (starting it if needed), e.g.
           scripts/cluster.sh psql -d batchstate_demo
USAGE
}

cmd=${1:-}
case $cmd in
start | stop | status | destroy | psql) ;;
-h | --help | help)
	usage
	exit 0
	;;
*)
	usage >&2
	exit 2
	;;
esac
shift
ensure_root "$cmd" "$@"

case $cmd in
start) cluster_start ;;
stop) cluster_stop ;;
status)
	cluster_resolve
	if cluster_is_running; then
		say "running: data $CLUSTER_DIR/data, socket $CLUSTER_DIR/sock, port $(sed -n 4p "$CLUSTER_DIR/data/postmaster.pid"), log $CLUSTER_DIR/log"
		say "connect: scripts/cluster.sh psql [-d DATABASE]"
	elif [ -f "$CLUSTER_DIR/data/PG_VERSION" ]; then
		say "stopped: data $CLUSTER_DIR/data (scripts/cluster.sh start)"
		exit 3
	else
		say "no cluster yet (scripts/cluster.sh start, or scripts/demo.sh)"
		exit 3
	fi
	;;
destroy)
	cluster_stop
	if [ -e "$CLUSTER_DIR" ]; then
		rm -rf -- "$CLUSTER_DIR"
		say "removed $CLUSTER_DIR"
	fi
	;;
psql)
	cluster_connect >/dev/null
	exec "$PG_BIN/psql" "$@"
	;;
esac
