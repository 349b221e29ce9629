# shellcheck shell=bash
# test/lib.sh: what the shell test suites test/NAME/run.sh share.  A suite
# sources it first thing, relative to itself (so that it works when
# scripts/test.sh runs it and when it is run by hand), and names itself:
#
#   set -euo pipefail
#   # shellcheck source=test/lib.sh
#   . "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
#   suite_start NAME
#   ... checks ...
#   suite_end
#
# The contract of a suite script (scripts/test.sh runs test/NAME/run.sh as
# the stage NAME and reads only its last line, see stage_suite there):
#   - Environment: REPO, the repository (default: the one this file is in);
#     PG_BIN, PostgreSQL's binaries (default /usr/lib/postgresql/15/bin);
#     PGHOST, PGPORT, PGUSER (default postgres) of a running cluster where
#     batchstate is installed.  A suite that starts clusters of its own says
#     so in its header and points PGHOST/PGPORT at them.  This file sets the
#     defaults and exports REPO, PG_BIN and PGUSER.
#   - One line per check, "ok - NAME" or "not ok - NAME", the details of a
#     failure after it on lines that start with "#"; other lines are free.
#   - The last line is always "NAME: N passed, M failed", also when the
#     script stops early (an error under set -e, a signal, exit): stopping
#     early counts as a failure, unless bail said why.
#   - Exit status 0 iff M = 0 and N > 0.
#
# The functions:
#
#   suite_start NAME   set $SUITE and the traps: on exit (any exit), count
#                      a failure if the suite did not finish (naming the
#                      line where set -e stopped it: suite_start sets -E so
#                      that the ERR trap also runs in functions), call the
#                      suite's own suite_cleanup function if it defines one
#                      ($SUITE_FINISHED tells it whether the suite ran to its
#                      end), print "NAME: N passed, M failed" and exit with
#                      the status above.  The counts are $PASSED, $FAILED.
#   suite_end          the suite ran to its end: exit through that trap.
#   bail NAME [DETAIL...]
#                      a failed check that ends the suite (a missing
#                      prerequisite): fail, then exit without the extra
#                      "stopped early" failure.
#
#   pass NAME          count a passed check and print "ok - NAME".
#   fail NAME [DETAIL...]
#                      count a failed check, print "not ok - NAME" and each
#                      non-empty DETAIL (which may span lines) as "#   "
#                      lines.
#   check_eq NAME GOT WANT        passes iff the strings are equal.
#   check_match NAME GOT REGEX    passes iff GOT matches the bash regex.
#   check_same_file NAME GOT_FILE WANT_FILE
#                      passes iff the files are equal; else the first 40
#                      lines of `diff -u WANT_FILE GOT_FILE`.
#   check_cmd NAME COMMAND...
#                      passes iff COMMAND succeeds; else the last 20 lines
#                      of its output (stdout and stderr).
#   relay_checks       read a checker's output on stdin: "ok - X" counts
#                      as pass X, "not ok - X" and "FAIL - X" as fail X,
#                      other lines are printed as they are.  Run it in the
#                      suite's shell (`relay_checks <file`, not in a pipe).
#   run_driver NAME COMMAND...
#                      run a driver that prints its own check lines and, at
#                      the end, "NAME: N passed, M failed"; show its output
#                      (stderr included) but that line and add N and M to
#                      the counts.  No such line, or a non-zero exit status
#                      without a failure, counts as one failure.
#
#   psql_x ARGS...     $PG_BIN/psql without psqlrc, quiet, stopping at the
#                      first error; the caller's PGOPTIONS apply.
#   psql_q ARGS...     psql_x with PGOPTIONS='-c client_min_messages=warning'
#                      (no NOTICEs).
#   sql DB QUERY       psql_q: the result unaligned, tuples only, columns
#                      separated by a tab.
#   sqlstate DB QUERY  the SQLSTATE a statement fails with ('' if it
#                      succeeds).
#   drop_db DB         DROP DATABASE IF EXISTS.
#   new_db DB          drop DB and create it empty from template0: UTF8,
#                      LC_COLLATE and LC_CTYPE 'C' (the cluster's locale
#                      provider, ICU for the repository's cluster).
#
#   as_pg COMMAND...   COMMAND as the OS user postgres when run as root
#                      (servers refuse root), else as is; the prefix is in
#                      the array AS_PG.
#   server_init DATA LOG [INITDB_OPTION...]
#                      initdb DATA as postgres: trust, superuser postgres;
#                      initdb's output in LOG.
#   server_start DATA LOG [PG_CTL_OPTION...]
#                      pg_ctl start, waiting up to 60 s; server log in LOG.
#   server_stop DATA [MODE]
#                      pg_ctl stop (MODE fast by default) when DATA has a
#                      postmaster.pid; quiet; pg_ctl's exit status.
#   The server_* functions run $SERVER_BIN's programs when it is set (a
#   private copy of the installation), else $PG_BIN's.

REPO=${REPO:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
export REPO PG_BIN PGUSER=${PGUSER:-postgres}

SUITE='' PASSED=0 FAILED=0 SUITE_FINISHED=0 SUITE_ERR_AT=''

# --- the run and its last line ----------------------------------------------

suite_start() {
	SUITE=$1
	trap _suite_exit EXIT
	set -E # the ERR trap in functions too
	trap _suite_err ERR
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# The ERR trap: where set -e is stopping the suite, for the "stopped early"
# failure: the line of the suite script that was running (a call of a
# function of this file counts as the call).
_suite_err() {
	[[ $- == *e* ]] || return 0
	local i
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [[ ${BASH_SOURCE[i]} != "${BASH_SOURCE[0]}" ]]; then
			SUITE_ERR_AT=${BASH_SOURCE[i]#"$REPO"/}:${BASH_LINENO[i - 1]}
			return 0
		fi
	done
}

_suite_exit() {
	local rc=$?
	trap - EXIT ERR INT TERM
	set +eu
	if ((!SUITE_FINISHED)); then
		fail "$SUITE stopped early (exit status $rc${SUITE_ERR_AT:+ at $SUITE_ERR_AT}; see the output above)"
	fi
	if declare -F suite_cleanup >/dev/null; then
		suite_cleanup
	fi
	echo "$SUITE: $PASSED passed, $FAILED failed"
	if ((FAILED == 0 && PASSED > 0)); then exit 0; fi
	exit 1
}

suite_end() {
	SUITE_FINISHED=1
	exit 0
}

bail() {
	fail "$@"
	SUITE_FINISHED=1
	exit 1
}

# --- checks -----------------------------------------------------------------

pass() {
	PASSED=$((PASSED + 1))
	echo "ok - $*"
}

fail() {
	FAILED=$((FAILED + 1))
	echo "not ok - $1"
	shift
	local detail
	for detail in "$@"; do
		[ -z "$detail" ] || printf '%s\n' "$detail" | sed 's/^/#   /'
	done
}

check_eq() {
	if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1" "got:  $2" "want: $3"; fi
}

check_match() {
	if [[ $2 =~ $3 ]]; then pass "$1"; else fail "$1" "got:  $2" "want: a match of $3"; fi
}

check_same_file() {
	local out
	if out=$(diff -u -- "$3" "$2"); then pass "$1"; else
		fail "$1 (diff: - expected, + found)" "$(head -n 40 <<<"$out")"
	fi
}

check_cmd() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$name"; else
		fail "$name" "$(tail -n 20 <<<"$out")"
	fi
}

relay_checks() {
	local line
	while IFS= read -r line; do
		case $line in
		'ok - '*) pass "${line#ok - }" ;;
		'not ok - '*) fail "${line#not ok - }" ;;
		'FAIL - '*) fail "${line#FAIL - }" ;;
		*) printf '%s\n' "$line" ;;
		esac
	done
}

run_driver() {
	local name=$1 out rc line summary
	shift
	local -
	set +e
	summary="^$name: [0-9]+ passed, [0-9]+ failed\$"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out" | grep -v -E "$summary"
	rc=${PIPESTATUS[0]}
	line=$(grep -E "$summary" "$out" | tail -n 1)
	rm -f -- "$out"
	if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
		PASSED=$((PASSED + BASH_REMATCH[1]))
		FAILED=$((FAILED + BASH_REMATCH[2]))
		if ((rc != 0 && BASH_REMATCH[2] == 0)); then
			fail "$name: the driver exited with status $rc"
		fi
	else
		fail "$name: the driver ended without a summary (exit status $rc)"
	fi
}

# --- psql -------------------------------------------------------------------

psql_x() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_q() { PGOPTIONS='-c client_min_messages=warning' psql_x "$@"; }

sql() { psql_q -At -F $'\t' -d "$1" -c "$2"; }

sqlstate() {
	local out
	if out=$(psql_q -At -d "$1" -v VERBOSITY=verbose -c "$2" 2>&1); then
		echo ''
	else
		sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' <<<"$out" | head -n 1
	fi
}

drop_db() { psql_q -d postgres -c "DROP DATABASE IF EXISTS \"$1\"" >/dev/null; }

new_db() {
	drop_db "$1"
	psql_q -d postgres -c "CREATE DATABASE \"$1\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
}

# --- servers of a suite's own ---------------------------------------------------

AS_PG=()
if ((EUID == 0)); then
	AS_PG=(runuser -u postgres --)
fi

as_pg() { "${AS_PG[@]}" "$@"; }

server_init() {
	local data=$1 log=$2
	shift 2
	as_pg "${SERVER_BIN:-$PG_BIN}/initdb" -D "$data" -A trust -U postgres "$@" >"$log" 2>&1
}

server_start() {
	local data=$1 log=$2
	shift 2
	as_pg "${SERVER_BIN:-$PG_BIN}/pg_ctl" -D "$data" -l "$log" -w -t 60 "$@" start >/dev/null
}

server_stop() {
	[ -f "$1/postmaster.pid" ] || return 0
	as_pg "${SERVER_BIN:-$PG_BIN}/pg_ctl" -D "$1" -m "${2:-fast}" -w stop >/dev/null 2>&1
}
