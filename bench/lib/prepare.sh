# shellcheck shell=bash
# bench/lib/prepare.sh: what a run needs before its cluster: the user it runs
# as, the tools of its phases (apt-get only as root) and the installed extension.
# shellcheck disable=SC2034 # HAVE_GNUPLOT: for bench/lib/chart.sh

BUILD_LOCK=/tmp/batchstate-build.lock

# choose_installation: PG_BIN and PG_CONFIG from the environment, either one
# naming the other (default: Debian's PostgreSQL 15); both given, they must agree
choose_installation() {
	local bindir
	if [ -n "${PG_BIN:-}" ] && [ -n "${PG_CONFIG:-}" ]; then
		bindir=$("$PG_CONFIG" --bindir 2>/dev/null) || die "PG_CONFIG=$PG_CONFIG does not run"
		[ "$(readlink -f -- "$bindir")" = "$(readlink -f -- "$PG_BIN")" ] ||
			die "PG_BIN=$PG_BIN and PG_CONFIG=$PG_CONFIG (bindir $bindir) name two installations: give one of them"
	elif [ -n "${PG_CONFIG:-}" ]; then
		PG_BIN=$("$PG_CONFIG" --bindir 2>/dev/null) || die "PG_CONFIG=$PG_CONFIG does not run"
	fi
	PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
	PG_CONFIG=${PG_CONFIG:-$PG_BIN/pg_config}
}

# install_writable: true when this user can install the extension into $PG_CONFIG's installation
install_writable() {
	local lib share
	lib=$("$PG_CONFIG" --pkglibdir 2>/dev/null) && share=$("$PG_CONFIG" --sharedir 2>/dev/null) || return 1
	[ -w "$lib" ] && [ -w "$share/extension" ]
}

# choose_user ARGS...: go on as this user, or re-run bench/run.sh with ARGS
# through sudo when only root can install the build (as before), or stop
# and say what to do.  Any user can run the benchmark itself: its servers
# run as the postgres OS user under root, as the user otherwise.
choose_user() {
	((EUID != 0 && BUILD)) || return 0
	install_writable && return 0
	if command -v sudo >/dev/null 2>&1; then
		exec sudo -E -- bash "$(readlink -f -- "$0")" "$@"
	fi
	die "the build installs into $("$PG_CONFIG" --pkglibdir 2>/dev/null || echo "$PG_CONFIG's installation")," \
		"which $(id -un) cannot write: run it as root, or pass --no-build with batchstate installed there"
}

# apt_install PKG...: as root, install what is missing, quietly (log in
# raw/apt.log); false on failure, and always as another user
apt_install() {
	local missing=() p
	((EUID == 0)) || return 1
	for p in "$@"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	command -v apt-get >/dev/null 2>&1 || return 1
	say "installing ${missing[*]} with apt-get"
	{
		apt-get -o DPkg::Lock::Timeout=600 update &&
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
				install -y --no-install-recommends "${missing[@]}"
	} </dev/null >"$OUT/raw/apt.log" 2>&1
}

# check_tools: PostgreSQL in $PG_BIN and the tools of the chosen phases:
# gnuplot (else no chart), perf for --perf, valgrind for the instruction counts
check_tools() {
	if [ ! -x "$PG_BIN/pgbench" ] || [ ! -x "$PG_BIN/initdb" ]; then
		die "PostgreSQL 15 is not installed in $PG_BIN"
	fi
	HAVE_GNUPLOT=1
	if [ "$MODE" != soak ] && ! command -v gnuplot >/dev/null 2>&1; then
		apt_install gnuplot-nox || true
		command -v gnuplot >/dev/null 2>&1 || {
			HAVE_GNUPLOT=0
			if ((EUID == 0)); then
				say "warning: gnuplot is missing and apt-get could not install gnuplot-nox: no chart"
			else
				say "warning: gnuplot is missing (Debian package gnuplot-nox): no chart"
			fi
		}
	fi
	if ((PERF)) && ! command -v perf >/dev/null 2>&1; then
		apt_install linux-perf || die "--perf needs perf (Debian package linux-perf)"
	fi
	if [ "$MODE" != soak ] && ((INSTRUCTIONS)) && ! command -v valgrind >/dev/null 2>&1; then
		apt_install valgrind ||
			die "the instruction counts need valgrind (Debian package valgrind; or run with --no-instructions)"
	fi
}

# build_extension: unless --no-build, make install of this checkout into
# $PG_CONFIG's installation, under the build lock; then check that the
# extension is installed there
build_extension() {
	local lock=$BUILD_LOCK
	# another user's lock file cannot be opened for writing: no lock then
	[ ! -e "$lock" ] || [ -w "$lock" ] || lock=/dev/null
	if ((BUILD)); then
		say "building and installing the extension (make install)"
		(
			command -v flock >/dev/null 2>&1 && flock 9
			make -s -C "$REPO" --no-print-directory PG_CONFIG="$PG_CONFIG" install
		) 9>>"$lock" >"$OUT/raw/build.log" 2>&1 || {
			cat "$OUT/raw/build.log" >&2
			die "the build failed (output above)"
		}
	fi
	[ -f "$("$PG_CONFIG" --sharedir)/extension/batchstate.control" ] ||
		die "the extension is not installed: run without --no-build"
}
