# shellcheck shell=bash
# scripts/pgserver.sh: one throwaway PostgreSQL server: initdb, start, stop, status.
# Sourced by scripts/lib.sh and bench/run.sh; the caller sets PG_BIN.
#
# As root, a server's files and processes belong to the postgres OS user
# (runuser); as any other user, to that user.  The database superuser is
# "postgres" either way, with trust authentication.  The functions print
# nothing of their own and return non-zero on failure: the caller says
# what failed, in its own words.

# pgserver_as CMD...: run CMD, from /, as the OS user that owns the servers
pgserver_as() {
	if ((EUID == 0)); then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

# pgserver_own DIR...: give existing directories to the OS user that owns the servers
pgserver_own() {
	((EUID == 0)) || return 0
	chown postgres:postgres -- "$@"
}

# pgserver_has_c_utf8: true when the C library has the C.UTF-8 locale
pgserver_has_c_utf8() {
	locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'
}

# pgserver_init DATA LOG [INITDB-OPTION...]: initdb DATA (superuser postgres,
# trust, no sync), its output in LOG; a half-made DATA is removed on failure
pgserver_init() {
	local data=$1 log=$2
	shift 2
	pgserver_as "$PG_BIN/initdb" -D "$data" -A trust -U postgres --no-sync "$@" >"$log" 2>&1 && return 0
	rm -rf -- "$data"
	return 1
}

# pgserver_start DATA LOG PORT SOCKDIR: start the server of DATA on PORT with
# its unix socket in SOCKDIR and its log in LOG; wait until it accepts connections
pgserver_start() {
	pgserver_as "$PG_BIN/pg_ctl" -D "$1" -l "$2" -w -t 120 -o "-p $3 -k '$4'" start >/dev/null 2>&1
}

# pgserver_running DATA: true when a server runs on DATA
pgserver_running() {
	[ -f "$1/PG_VERSION" ] && pgserver_as "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# pgserver_port DATA: the port of the server running on DATA
pgserver_port() {
	# line 4 of postmaster.pid
	sed -n 4p "$1/postmaster.pid" 2>/dev/null
}

# pgserver_stop DATA [MODE]: stop the server of DATA (shutdown MODE, default
# fast) and wait until it is down
pgserver_stop() {
	pgserver_as "$PG_BIN/pg_ctl" -D "$1" -m "${2:-fast}" -w -t 120 stop >/dev/null
}

# pgserver_env SOCKDIR PORT: point libpq at the server, as its superuser, and at nothing else
pgserver_env() {
	export PGHOST=$1 PGPORT=$2 PGUSER=postgres
	unset PGHOSTADDR PGSERVICE PGDATABASE PGOPTIONS PGPASSWORD
}
