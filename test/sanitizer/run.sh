#!/usr/bin/env bash
# test/sanitizer/run.sh: the regression, isolation and hostile suites
# against an AddressSanitizer build of batchstate.
#
#  1. copies the sources (Makefile, control file, install scripts, src/,
#     sql/, expected/, test/isolation/) to a temporary directory and builds
#     them there with -fsanitize=address -fno-omit-frame-pointer: the normal
#     build and the installed batchstate.so are never touched;
#  2. lays out a private copy of the PostgreSQL installation: PostgreSQL
#     finds its lib and share directories relative to its own executable,
#     so a copy of bin/ beside symlinks to every lib/ and share/ file loads
#     '$libdir/batchstate' from the copy, where the ASan build sits;
#  3. starts its own cluster (port SANITIZER_PORT, default 5456) with
#     LD_PRELOAD of gcc's libasan (the postgres executable is not
#     instrumented; the sanitizer runtime must come first) and
#     ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=...
#     (memory palloc'd in a context is not freed by free(), so leak
#     detection would only report PostgreSQL's design);
#  4. runs pg_regress (REGRESS of the Makefile), pg_isolation_regress
#     (ISOLATION of the Makefile) and test/hostile/run.sh against it;
#  5. fails if any sanitizer report was written, if the server crashed or
#     restarted a backend, or if a suite failed; then proves that the
#     set-up would have caught an error: a test function with a deliberate
#     heap overflow must produce a report.
#
# ASan sees the extension's own code (every load and store it makes is
# checked) and every malloc/free/memcpy/str* of the process (intercepted).
# It does not see inside PostgreSQL's memory contexts: a palloc chunk lies
# in a larger malloc'd block, so running past a small chunk's end goes
# unnoticed unless it leaves the block; chunks over 8 kB are blocks of
# their own and are checked.
#
# glibc's bindtextdomain() deadlocks when libasan is preloaded into the
# (uninstrumented) postgres executable; a ten-line shim, preloaded after
# libasan, makes the gettext functions return their argument (messages stay
# untranslated, which the tests expect anyway).
#
# Environment: REPO, PG_BIN; SANITIZER_PORT (5456); SANITIZER_SUITES
# (default "regress isolation hostile"; "memory" adds test/memory/run.sh,
# about a minute more); SANITIZER_KEEP=1 keeps the work directory.  Needs root (runuser) and gcc with libasan.
# Last line: "sanitizer: N passed, M failed".
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
suite_start sanitizer

PORT=${SANITIZER_PORT:-5456}
SUITES=${SANITIZER_SUITES:-regress isolation hostile}
KEEP=${SANITIZER_KEEP:-0}
PG_CONFIG=$PG_BIN/pg_config
PGXS_SRC=$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")

WORK=$(mktemp -d /tmp/batchstate-sanitizer.XXXXXX)
chmod 755 "$WORK"

PREFIX=$WORK/pg
PBIN=$PREFIX$("$PG_CONFIG" --bindir)
SERVER_BIN=$PBIN # the server_* functions of test/lib.sh run the copy
PLIB=$PREFIX$("$PG_CONFIG" --pkglibdir)
PSHARE=$PREFIX$("$PG_CONFIG" --sharedir)
DATA=$WORK/data
REPORTS=$WORK/asan
LIBASAN=$(gcc -print-file-name=libasan.so)
LIBASAN=$(readlink -f "$LIBASAN")
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:log_path=$REPORTS/asan"

# SANITIZER_KEEP=1, or stopped early: keep the work files
# shellcheck disable=SC2317 # run by test/lib.sh when the suite exits
suite_cleanup() {
	server_stop "$DATA" immediate
	if [ "$KEEP" = 1 ] || ((!SUITE_FINISHED)); then
		echo "# kept $WORK"
	else
		rm -rf -- "$WORK"
	fi
}

echo "# sanitizer: AddressSanitizer build in $WORK, cluster on port $PORT, suites: $SUITES"

# --- 1. the ASan build --------------------------------------------------------
SRC=$WORK/src
mkdir -p "$SRC/test"
(
	cd "$REPO"
	cp -a Makefile ./*.control ./*--*.sql src sql expected "$SRC/"
	cp -a test/isolation "$SRC/test/"
)
rm -f "$SRC"/src/*.o "$SRC"/src/*.bc "$SRC"/*.so
asan_flags=(-fsanitize=address -fno-omit-frame-pointer -g -O1)
if make -C "$SRC" -s PG_CONFIG="$PG_CONFIG" with_llvm=no \
	PG_CFLAGS="${asan_flags[*]}" PG_LDFLAGS="-fsanitize=address" >"$WORK/build.log" 2>&1 &&
	grep -q __asan_report < <(nm -D "$SRC/batchstate.so"); then
	pass "batchstate.so built with AddressSanitizer in a copy of the sources"
else
	fail "ASan build (log below)" "$(tail -n 30 "$WORK/build.log")"
	exit 1
fi
# shellcheck disable=SC2016 # a make recipe, expanded by make
make_var() {
	make -s -C "$SRC" --no-print-directory PG_CONFIG="$PG_CONFIG" \
		-f Makefile -f - print-var VAR="$1" <<<'print-var: ; @echo $($(VAR))'
}
read -ra REGRESS <<<"$(make_var REGRESS)"
read -ra ISOLATION <<<"$(make_var ISOLATION)"

# --- 2. a private copy of the installation ------------------------------------
mkdir -p "$(dirname "$PBIN")" "$PLIB" "$(dirname "$PSHARE")"
cp -a "$("$PG_CONFIG" --bindir)" "$PBIN"
ln -s "$("$PG_CONFIG" --pkglibdir)"/* "$PLIB"/
cp -as "$("$PG_CONFIG" --sharedir)" "$PSHARE"
rm -f "$PLIB/batchstate.so" "$PSHARE"/extension/batchstate[.-]*
cp "$SRC/batchstate.so" "$PLIB/"
cp "$SRC"/*.control "$SRC"/*--*.sql "$PSHARE/extension/"
if [ "$("$PBIN/pg_config" --pkglibdir)" = "$PLIB" ]; then
	pass "the copied installation finds its own lib directory ($PLIB)"
else
	fail "the copied installation does not relocate: $("$PBIN/pg_config" --pkglibdir)"
	exit 1
fi

# the gettext shim
cat >"$WORK/nls-shim.c" <<'EOF'
/* gettext as the identity: see test/sanitizer/run.sh */
char *textdomain(const char *d) { return (char *) (d ? d : "messages"); }
char *bindtextdomain(const char *d, const char *dir) { (void) d; return (char *) dir; }
char *bind_textdomain_codeset(const char *d, const char *c) { (void) d; return (char *) c; }
char *gettext(const char *m) { return (char *) m; }
char *dgettext(const char *d, const char *m) { (void) d; return (char *) m; }
char *dcgettext(const char *d, const char *m, int c) { (void) d; (void) c; return (char *) m; }
char *ngettext(const char *a, const char *b, unsigned long n) { return (char *) (n == 1 ? a : b); }
char *dngettext(const char *d, const char *a, const char *b, unsigned long n)
{ (void) d; return (char *) (n == 1 ? a : b); }
char *dcngettext(const char *d, const char *a, const char *b, unsigned long n, int c)
{ (void) d; (void) c; return (char *) (n == 1 ? a : b); }
EOF
gcc -shared -fPIC -O2 -o "$WORK/nls-shim.so" "$WORK/nls-shim.c"

# --- 3. the cluster -------------------------------------------------------------
mkdir -p "$REPORTS"
chown -R postgres "$WORK"
locale_opts=(--no-locale)
if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale_opts=(--locale=C.UTF-8); fi
locale_opts+=(--locale-provider=icu --icu-locale=en-US)
server_init "$DATA" "$WORK/initdb.log" --no-sync "${locale_opts[@]}" -E UTF8
cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = ''
port = $PORT
unix_socket_directories = '$WORK'
fsync = off
synchronous_commit = off
full_page_writes = off
max_prepared_transactions = 10
EOF
if ! as_pg env LD_PRELOAD="$LIBASAN $WORK/nls-shim.so" ASAN_OPTIONS="$ASAN_OPTIONS" \
	"$PBIN/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w -t 120 start >/dev/null; then
	fail "the server did not start under ASan (log below)" "$(tail -n 30 "$WORK/server.log")"
	exit 1
fi
export PGHOST=$WORK PGPORT=$PORT PGUSER=postgres
postmaster=$(head -n 1 "$DATA/postmaster.pid")

psql_asan() { "$PBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_asan -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS batchstate_sanitizer" \
	-c "CREATE DATABASE batchstate_sanitizer"
maps=$(psql_asan -d batchstate_sanitizer -At -c 'CREATE EXTENSION batchstate' \
	-c "SELECT batchstate.is_terminal('failed')" -c "SELECT pg_read_file('/proc/self/maps')")
if grep -q "$PLIB/batchstate.so" <<<"$maps" && grep -q libasan <<<"$maps"; then
	pass "a backend runs with libasan and the ASan batchstate.so ($PLIB/batchstate.so)"
else
	fail "a backend does not map libasan and $PLIB/batchstate.so"
fi
psql_asan -d postgres -c "DROP DATABASE batchstate_sanitizer"

# --- 4. the suites --------------------------------------------------------------
# run_pg_regress NAME LABEL PROGRAM INPUTDIR TEST...: a pg_regress-style
# run against the ASan cluster, one check
run_pg_regress() {
	local name=$1 label=$2 program=$3 inputdir=$4
	shift 4
	echo "# ${program##*/}: $*"
	if (cd "$SRC" && "$program" \
		--inputdir="$inputdir" --outputdir="$WORK/$name" --bindir="$PG_BIN" \
		--host="$WORK" --port="$PORT" --user=postgres \
		--dbname="batchstate_sanitizer_$name" --load-extension=batchstate \
		"$@") >"$WORK/$name.log" 2>&1; then
		pass "$label under ASan: $(grep -E 'tests passed' "$WORK/$name.log" | sed 's/^[# =]*//; s/[ =]*$//')"
	else
		fail "$label under ASan (output and diffs below)" "$(tail -n 20 "$WORK/$name.log")" \
			"$(head -n 60 "$WORK/$name/regression.diffs" 2>/dev/null)"
	fi
}
for suite in $SUITES; do
	case $suite in
	regress)
		run_pg_regress regress pg_regress "$PGXS_SRC/test/regress/pg_regress" "$SRC" "${REGRESS[@]}"
		;;
	isolation)
		run_pg_regress isolation "isolation tests" "$PGXS_SRC/test/isolation/pg_isolation_regress" \
			"$SRC/test/isolation" "${ISOLATION[@]}"
		;;
	hostile | memory)
		echo "# test/$suite/run.sh"
		"$REPO/test/$suite/run.sh" >"$WORK/$suite.log" 2>&1 || true
		line=$(tail -n 1 "$WORK/$suite.log")
		if [[ $line =~ ^$suite:\ ([0-9]+)\ passed,\ 0\ failed$ ]] && ((BASH_REMATCH[1] > 0)); then
			pass "$suite suite under ASan: $line"
		else
			fail "$suite suite under ASan: $line" "$(grep -E '^not ok' "$WORK/$suite.log" | head -n 20)"
		fi
		;;
	*)
		fail "unknown suite \"$suite\" in SANITIZER_SUITES"
		;;
	esac
done

# --- 5. verdict ---------------------------------------------------------------
shopt -s nullglob
reports=("$REPORTS"/asan*)
shopt -u nullglob
if ((${#reports[@]} == 0)); then
	pass "no AddressSanitizer report"
else
	fail "${#reports[@]} AddressSanitizer report(s):"
	for r in "${reports[@]}"; do
		echo "# ---- $r"
		head -n 40 "$r" | sed 's/^/#   /'
	done
fi
crashes=$(grep -cE 'terminated by signal|was terminated by exception|server process .* exited with exit code [^01]' \
	"$WORK/server.log" || true)
if [ "$crashes" = 0 ] && [ "$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null)" = "$postmaster" ] &&
	"$PBIN/pg_isready" -q -h "$WORK" -p "$PORT"; then
	pass "the server never crashed nor restarted its backends"
else
	fail "the server crashed or restarted ($crashes crash line(s) in the log):"
	grep -E -B2 -A3 'terminated by signal|terminated by exception' "$WORK/server.log" | head -n 30 |
		sed 's/^/#   /'
fi

# the canary: a deliberate heap overflow must be reported (last: it kills a backend)
cat >"$WORK/canary.c" <<'EOF'
/* a heap overflow on purpose, to prove that the sanitizer reports it */
#include "postgres.h"
#include "fmgr.h"
#include <stdlib.h>
PG_MODULE_MAGIC;
PG_FUNCTION_INFO_V1(canary_overflow);
Datum
canary_overflow(PG_FUNCTION_ARGS)
{
	volatile char *p = malloc(16);
	int			i = PG_GETARG_INT32(0);

	p[i] = 1;
	free((void *) p);
	PG_RETURN_INT32(i);
}
EOF
gcc "${asan_flags[@]}" -fPIC -shared -I"$("$PG_CONFIG" --includedir-server)" \
	-o "$WORK/canary.so" "$WORK/canary.c"
chmod 755 "$WORK/canary.so"
psql_asan -d postgres -c "CREATE FUNCTION pg_temp.canary(int) RETURNS int
	AS '$WORK/canary.so', 'canary_overflow' LANGUAGE C STRICT" \
	-c 'SELECT pg_temp.canary(16)' >/dev/null 2>&1 || true
sleep 1
if grep -qs 'heap-buffer-overflow' "$REPORTS"/asan*; then
	pass "the set-up catches errors: a deliberate heap overflow was reported"
else
	fail "a deliberate heap overflow was not reported: the sanitizer is not live"
fi
suite_end
