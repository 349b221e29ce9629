# shellcheck shell=bash
# scripts/lib.sh: shared by scripts/*.sh (source it, do not run it).
# Debian packages, the build, and the throwaway PostgreSQL 15 cluster in .cluster/.
# PG_CONFIG in the environment chooses another installation (default:
# Debian's PostgreSQL 15).

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# (pg_config itself may still be missing: install_deps brings Debian's)
PG_BIN=$("$PG_CONFIG" --bindir 2>/dev/null) || PG_BIN=$(dirname -- "$PG_CONFIG")
BATCHSTATE_PGPORT=${BATCHSTATE_PGPORT:-54329}
BUILD_LOCK=/tmp/batchstate-build.lock
CLUSTER_DIR='' CLUSTER_DIR_FINAL=0 # set by cluster_resolve

# Everything the build, the demo and the tests need on Debian 12.
DEB_PACKAGES=(
	postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
	libtap-parser-sourcehandler-pgtap-perl libipc-run-perl make gcc cppcheck
	libdbd-pg-perl postgresql-15-cron postgresql-15-plproxy gnuplot-nox valgrind
)

say() { printf 'batchstate: %s\n' "$*"; }
die() {
	printf 'batchstate: error: %s\n' "$*" >&2
	exit 1
}

case $BATCHSTATE_PGPORT in
'' | *[!0-9]*) die "BATCHSTATE_PGPORT must be a port number, not \"$BATCHSTATE_PGPORT\"" ;;
esac
((BATCHSTATE_PGPORT >= 1024 && BATCHSTATE_PGPORT <= 65535)) ||
	die "BATCHSTATE_PGPORT must be between 1024 and 65535, not $BATCHSTATE_PGPORT"

# ensure_root "$@": re-run the calling script as root (apt-get, make install
# and runuser need it).  Call it first thing, with the script's arguments.
ensure_root() {
	((EUID == 0)) && return 0
	command -v sudo >/dev/null 2>&1 ||
		die "$(basename -- "$0") needs root and sudo is not installed: run it as root"
	exec sudo -E -- bash "$(readlink -f -- "$0")" "$@"
}

# install_deps: apt-get only what is missing; nothing at all on a re-run.
install_deps() {
	local missing=() p
	for p in "${DEB_PACKAGES[@]}"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
			missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	command -v apt-get >/dev/null 2>&1 ||
		die "missing packages (${missing[*]}) and no apt-get: this needs Debian 12"
	say "installing missing Debian packages with apt-get: ${missing[*]}"
	local log
	log=$(mktemp)
	if ! {
		apt-get -o DPkg::Lock::Timeout=600 update &&
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
				install -y --no-install-recommends "${missing[@]}"
	} </dev/null >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "apt-get failed (output above)"
	fi
	rm -f "$log"
}

# build_install: compile with warnings as errors, then install batchstate
# and the router extension (router/) into the installation of $PG_CONFIG.
# -B recompiles every object, so a tree built earlier without -Werror
# cannot hide a warning.  The lock serialises concurrent builds of the
# same machine.
build_install() {
	say "building (gcc -Wall -Wextra -Werror) and installing with $PG_CONFIG"
	local log rc=0
	log=$(mktemp)
	(
		if command -v flock >/dev/null 2>&1; then
			flock 9
		fi
		make -s -B -C "$REPO" --no-print-directory PG_CONFIG="$PG_CONFIG" PG_CFLAGS='-Wall -Wextra -Werror' &&
			make -s -C "$REPO" --no-print-directory PG_CONFIG="$PG_CONFIG" install &&
			make -s -C "$REPO/router" --no-print-directory PG_CONFIG="$PG_CONFIG" install
	) 9>>"$BUILD_LOCK" >"$log" 2>&1 || rc=$?
	if ((rc != 0)); then
		cat "$log" >&2
		rm -f "$log"
		die "build failed (compiler output above)"
	fi
	rm -f "$log"
}

# fix_ownership: under sudo, hand the build and test output in the work
# tree back to the user who ran sudo, so a later `make` as that user works.
fix_ownership() {
	local uid=${SUDO_UID:-} gid=${SUDO_GID:-}
	[ -n "$uid" ] && [ "$uid" != 0 ] || return 0
	[ "$(stat -c %u -- "$REPO")" = "$uid" ] || return 0
	find "$REPO" \( -path "$REPO/.cluster" -o -path "$REPO/.git" \) -prune -o \
		-uid 0 -exec chown -h "$uid:${gid:-$uid}" {} + 2>/dev/null || true
}

# --- the throwaway cluster ------------------------------------------------
#
# $CLUSTER_DIR/data  the data directory    $CLUSTER_DIR/sock  the unix socket
# $CLUSTER_DIR/log   the server log         owner: the postgres OS user
#
# It listens on a unix socket only (listen_addresses = ''), so the port
# just names the socket file and cannot clash with other servers.
# initdb, start and stop go through scripts/pgserver.sh, as the benchmark's do.

# shellcheck source=scripts/pgserver.sh
. "$REPO/scripts/pgserver.sh"

# pg_as_postgres CMD...: run CMD as the postgres user (these scripts run as root)
pg_as_postgres() { pgserver_as "$@"; }

# cluster_dir_usable DIR: can the postgres user own and use DIR?  Makes DIR.
cluster_dir_usable() {
	local dir=$1
	# a unix socket path must fit in 107 bytes
	((${#dir} + ${#BATCHSTATE_PGPORT} + 16 <= 107)) || return 1
	mkdir -p -- "$dir" 2>/dev/null || return 1
	chown postgres:postgres -- "$dir" 2>/dev/null && chmod 700 -- "$dir" || return 1
	pg_as_postgres test -w "$dir" -a -x "$dir"
}

# cluster_resolve [create]: set CLUSTER_DIR.  $REPO/.cluster (.cluster-17
# for PostgreSQL 17, ...) when the postgres user can reach it, else a
# directory under /tmp named after a hash of $REPO (a checkout under
# /root, say).  Only "create" makes directories.
cluster_resolve() {
	[ -n "$CLUSTER_DIR" ] && ((CLUSTER_DIR_FINAL)) && return 0
	CLUSTER_DIR_FINAL=1
	# a cluster per major version (a server cannot start another's data
	# directory): .cluster for 15, .cluster-17 for PostgreSQL 17, ...
	local major suffix='' preferred fallback
	major=$("$PG_CONFIG" --version 2>/dev/null | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
	[ "${major:-15}" = 15 ] || suffix=-$major
	preferred=$REPO/.cluster$suffix
	fallback=/tmp/batchstate-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)$suffix
	if [ -f "$preferred/data/PG_VERSION" ]; then
		CLUSTER_DIR=$preferred
	elif [ -f "$fallback/data/PG_VERSION" ]; then
		CLUSTER_DIR=$fallback
	elif [ "${1:-}" != create ]; then
		# nothing there yet: name the usual place, decide on "create"
		CLUSTER_DIR=$preferred CLUSTER_DIR_FINAL=0
		return 0
	elif cluster_dir_usable "$preferred"; then
		CLUSTER_DIR=$preferred
	else
		rmdir -- "$preferred" 2>/dev/null || true
		cluster_dir_usable "$fallback" ||
			die "the postgres user cannot use $preferred nor $fallback"
		CLUSTER_DIR=$fallback
	fi
	if [ "$CLUSTER_DIR" = "$fallback" ]; then
		say "note: the postgres user cannot use $preferred, so the cluster lives in $fallback"
	fi
}

# cluster_env: point libpq at the cluster
cluster_env() { pgserver_env "$CLUSTER_DIR/sock" "$BATCHSTATE_PGPORT"; }

# cluster_init: initdb the cluster unless it exists, with the settings above
cluster_init() {
	local data=$CLUSTER_DIR/data
	[ -f "$data/PG_VERSION" ] && return 0
	rm -rf -- "$data" # half made by an interrupted initdb, if present
	pg_as_postgres mkdir -p "$CLUSTER_DIR/sock"
	# C.UTF-8 is built into Debian 12's libc: English messages on every
	# machine, with UTF-8 text.  The default collation is ICU's en-US, not
	# byte order, so that every test proves batchstate orders by
	# COLLATE "C" itself rather than inheriting it from the database.
	local locale=(--no-locale)
	if pgserver_has_c_utf8; then
		locale=(--locale=C.UTF-8)
	fi
	locale+=(--locale-provider=icu --icu-locale=en-US)
	say "creating a PostgreSQL 15 cluster in $CLUSTER_DIR"
	local log
	log=$(mktemp)
	if ! pgserver_init "$data" "$log" "${locale[@]}" -E UTF8; then
		cat "$log" >&2
		rm -f "$log"
		die "initdb failed (output above)"
	fi
	rm -f "$log"
	cat >>"$data/postgresql.conf" <<-'EOF'

		# batchstate's throwaway cluster (scripts/lib.sh): unix socket only,
		# durability traded for speed; port and socket dir are given at start.
		listen_addresses = ''
		fsync = off
		synchronous_commit = off
		full_page_writes = off
	EOF
}

# cluster_is_running: true when the cluster's server runs
cluster_is_running() { pgserver_running "$CLUSTER_DIR/data"; }

# cluster_start: idempotent; a running cluster is reused, a stale
# postmaster.pid left by a killed server is handled by pg_ctl.
cluster_start() {
	cluster_resolve create
	cluster_init
	if cluster_is_running; then
		if [ "$(pgserver_port "$CLUSTER_DIR/data")" = "$BATCHSTATE_PGPORT" ]; then
			cluster_env
			"$PG_BIN/pg_isready" -q -t 30 ||
				die "the cluster in $CLUSTER_DIR runs but does not accept connections (log: $CLUSTER_DIR/log)"
			say "cluster already running (port $BATCHSTATE_PGPORT, socket $CLUSTER_DIR/sock)"
			return 0
		fi
		say "cluster running on another port: restarting it on $BATCHSTATE_PGPORT"
		cluster_stop
	fi
	pg_as_postgres mkdir -p "$CLUSTER_DIR/sock"
	if ! pgserver_start "$CLUSTER_DIR/data" "$CLUSTER_DIR/log" "$BATCHSTATE_PGPORT" "$CLUSTER_DIR/sock"; then
		tail -n 30 "$CLUSTER_DIR/log" >&2 2>/dev/null || true
		die "the cluster did not start (server log above: $CLUSTER_DIR/log)"
	fi
	say "cluster started (port $BATCHSTATE_PGPORT, socket $CLUSTER_DIR/sock)"
	cluster_env
}

# cluster_connect: point PGHOST/PGPORT at the cluster, on whatever port it
# runs; start it (on $BATCHSTATE_PGPORT) when it does not run.
cluster_connect() {
	cluster_resolve
	if cluster_is_running; then
		BATCHSTATE_PGPORT=$(pgserver_port "$CLUSTER_DIR/data")
		cluster_env
	else
		cluster_start
	fi
}

# cluster_stop: stop the cluster (fast shutdown) when it runs
cluster_stop() {
	cluster_resolve
	if cluster_is_running; then
		pgserver_stop "$CLUSTER_DIR/data"
		say "cluster stopped ($CLUSTER_DIR)"
	fi
}
