#!/usr/bin/env bash
# scripts/package.sh: batchstate's Debian packages, made the way Debian's
# PostgreSQL team makes extension packages (debian/, pg_buildext), and their test.
#
#   sudo scripts/package.sh build [OUTDIR]
#       Build postgresql-N-batchstate and postgresql-N-batchstate-router for
#       each PostgreSQL N >= 15 installed from Debian's packages, from a clean
#       export of the tree (the files git tracks or would add: no build
#       product of the checkout gets in), run lintian (any error fails the
#       build; warnings are printed) and leave the .deb files, the source
#       package and the build log in OUTDIR (default: debs/ in the checkout).
#   sudo scripts/package.sh test [DEBDIR]
#       Install the PostgreSQL 15 packages from DEBDIR (default: debs/) into a
#       clean Debian 12 root with apt-get, CREATE EXTENSION both, run the
#       pg_regress and isolation suites against the installed files, purge
#       the packages and check that nothing of batchstate is left.  Prints
#       "ok - ..." or "not ok - ..." per check and ends with the line
#       "package: N passed, M failed"; non-zero exit status on any failure.
#
# Both need root on Debian 12 and apt-get only what is missing.  The clean
# root is made once with debootstrap (a minute or two; the network must
# reach the Debian mirror) and reused: BATCHSTATE_DEB_CACHE (default
# /var/cache/batchstate-deb) holds it, BATCHSTATE_DEB_MIRROR (default
# http://deb.debian.org/debian) is where it comes from; delete
# $BATCHSTATE_DEB_CACHE/bookworm to start afresh.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

CACHE=${BATCHSTATE_DEB_CACHE:-/var/cache/batchstate-deb}
MIRROR=${BATCHSTATE_DEB_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${BATCHSTATE_DEB_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
TEST_PGPORT=54339 # names the socket in a private directory: cannot clash
TEST_PGVERSION=15 # Debian 12's PostgreSQL: the one version the root can test

# set while they exist, for cleanup
WORK='' ROOT='' RUN='' TESTING=0
MOUNTS=()
PASSED=0 FAILED=0

usage() {
	cat <<USAGE
usage: scripts/package.sh build [OUTDIR]   build the .deb files into OUTDIR (default debs/)
       scripts/package.sh test [DEBDIR]    test the .deb files of DEBDIR (default debs/)
                                           in a clean Debian 12 root
USAGE
}

# --- both -----------------------------------------------------------------

# apt_install_missing PACKAGE...: apt-get install the ones not installed,
# without recommends; nothing at all when every one is there.
apt_install_missing() {
	local missing=() p common log
	for p in "$@"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
			missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	say "installing missing Debian packages with apt-get: ${missing[*]}"
	log=$(mktemp)
	if ! apt-get -o DPkg::Lock::Timeout=600 update </dev/null >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "apt-get update failed (output above)"
	fi
	# postgresql-server-dev-all wants postgresql-common at its own version:
	# ask for the installed postgresql-common's one when apt has it, so that
	# the server's packages are not upgraded under the feet of its users.
	common=$(dpkg-query -W -f='${Version}' postgresql-common 2>/dev/null) || common=''
	for p in "${!missing[@]}"; do
		if [ "${missing[p]}" = postgresql-server-dev-all ] && [ -n "$common" ] &&
			apt-cache show "postgresql-server-dev-all=$common" >/dev/null 2>&1; then
			missing[p]=postgresql-server-dev-all=$common
		fi
	done
	if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
		install -y --no-install-recommends "${missing[@]}" </dev/null >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "apt-get install failed (output above)"
	fi
	rm -f "$log"
}

# mounted_under DIR: is anything mounted at DIR or below it?
mounted_under() {
	awk -v d="$1" '$2 == d || index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mounts
}

# cleanup: on every exit; stops the test cluster, unmounts, removes WORK.
cleanup() {
	local rc=$? i
	trap - EXIT
	set +e
	if [ -n "$RUN" ] && [ -f "$ROOT$RUN/data/postmaster.pid" ]; then
		cluster_stop_root
	fi
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" ||
			printf 'batchstate: warning: could not unmount %s\n' "${MOUNTS[i]}" >&2
	done
	MOUNTS=()
	[ -n "$WORK" ] && rm -rf -- "$WORK"
	if ((TESTING)); then
		((rc == 0)) || ((FAILED > 0)) || FAILED=1 # stopped by an error
		if { ((rc != 0)) || ((FAILED > 0)); } && [ -n "$RUN" ] && [ -d "$ROOT$RUN" ]; then
			echo "# kept for a look: $ROOT$RUN (data, server.log, test output)"
		fi
		echo "package: $PASSED passed, $FAILED failed"
		((FAILED == 0)) || rc=1
	fi
	exit "$rc"
}

# --- build ----------------------------------------------------------------

# server_dev_packages: postgresql-server-dev-N for every PostgreSQL server N
# installed from Debian's packages that debian/pgversions ("15+") accepts.
server_dev_packages() {
	local min n
	min=$(sed -n 's/^\([0-9][0-9]*\)+$/\1/p' "$REPO/debian/pgversions")
	[ -n "$min" ] || die "debian/pgversions: expected a line like \"15+\""
	dpkg-query -W -f='${db:Status-Status} ${Package}\n' 'postgresql-[0-9]*' 2>/dev/null |
		sed -n 's/^installed postgresql-\([0-9][0-9]*\)$/\1/p' | sort -n |
		while read -r n; do
			((n >= min)) && echo "postgresql-server-dev-$n"
		done
	return 0
}

# export_tree DIR: copy the files git tracks or would add (not ignored) into
# DIR; build products, clusters and test output are ignored, so none gets in.
export_tree() {
	local dest=$1 f files=()
	git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
		die "$REPO is not a git checkout: the export needs git to tell sources from build products"
	while IFS= read -r -d '' f; do
		# a tracked file deleted in the work tree is left out, as git would
		[ -e "$REPO/$f" ] || [ -L "$REPO/$f" ] && files+=("$f")
	done < <(git -C "$REPO" ls-files -z --cached --others --exclude-standard --deduplicate)
	((${#files[@]} > 0)) || die "git lists no file in $REPO"
	printf '%s\0' "${files[@]}" | tar -C "$REPO" --null --no-recursion -T - -cf - | tar -C "$dest" -xf -
	if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=normal)" ]; then
		say "note: the work tree differs from HEAD; the packages are built from the work tree as it is"
	fi
}

cmd_build() {
	local outdir=$1 version upstream arch src epoch versions changes log rc f lint
	local start=$SECONDS
	mkdir -p -- "$outdir"
	outdir=$(cd -- "$outdir" && pwd -P)
	[ -f "$REPO/debian/changelog" ] || die "no debian/changelog in $REPO"

	# shellcheck disable=SC2046 # one package name a word
	apt_install_missing build-essential debhelper dpkg-dev lintian git \
		postgresql-server-dev-all $(server_dev_packages)

	version=$(dpkg-parsechangelog -l "$REPO/debian/changelog" -S Version)
	upstream=${version%-*}
	arch=$(dpkg --print-architecture)
	WORK=$(mktemp -d /tmp/batchstate-deb.XXXXXX)
	chmod 755 "$WORK" # lintian runs as nobody
	src=$WORK/batchstate-$upstream
	mkdir "$src"
	export_tree "$src"

	# 3.0 (quilt): the upstream tarball is the tree without debian/,
	# byte for byte the same for the same commit
	epoch=$(git -C "$REPO" log -1 --format=%ct)
	tar -C "$WORK" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
		--exclude="batchstate-$upstream/debian" -cf - "batchstate-$upstream" |
		gzip -n -9 >"$WORK/batchstate_$upstream.orig.tar.gz"

	# one pair of packages per PostgreSQL version whose server headers are
	# installed ("installed"), among those debian/pgversions accepts
	export PG_SUPPORTED_VERSIONS=installed
	versions=$(cd "$src" && pg_buildext supported-versions | xargs)
	[ -n "$versions" ] || die "no PostgreSQL version to build for (debian/pgversions: $(xargs <"$src/debian/pgversions"))"
	(cd "$src" && pg_buildext updatecontrol)
	say "building batchstate $version for PostgreSQL $versions"

	log=$outdir/batchstate_${version}_$arch.build
	rc=0
	(cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc) \
		</dev/null >"$log" 2>&1 || rc=$?
	if ((rc != 0)); then
		tail -n 60 -- "$log" >&2
		die "dpkg-buildpackage failed (last lines above; the whole log: $log)"
	fi

	changes=$WORK/batchstate_${version}_$arch.changes
	say "lintian $(basename -- "$changes") (source and binary packages)"
	rc=0
	lint=$(runuser -u nobody -- env HOME=/nonexistent lintian --fail-on error "$changes" 2>&1) || rc=$?
	[ -z "$lint" ] || printf '%s\n' "$lint"
	((rc == 0)) || die "lintian reports errors (E: lines above)"
	say "lintian: no errors, $(grep -c '^W: ' <<<"$lint" || true) warnings"

	# replace what an earlier build left in OUTDIR, and only that
	rm -f -- "$outdir"/batchstate_*.dsc "$outdir"/batchstate_*.tar.* \
		"$outdir"/batchstate_*.changes "$outdir"/batchstate_*.buildinfo \
		"$outdir"/postgresql-*-batchstate*_*.deb
	for f in "$WORK"/batchstate_* "$WORK"/postgresql-*-batchstate*_*.deb; do
		cp -- "$f" "$outdir/"
	done
	fix_ownership
	say "in $outdir (after $((SECONDS - start)) s):"
	(cd "$outdir" && ls -l -- postgresql-*-batchstate*_"$version"_*.deb)
}

# --- test -----------------------------------------------------------------

# in_root R COMMAND...: run COMMAND in the root R, as root, with a clean
# environment (nothing of the caller's PG*, LANG or DEB_* leaks in).
# Redirect the output of this and of the functions below only around a
# subshell, "(in_root ...) >file": a function's redirection holds in the
# calling shell while the function runs, so a signal's exit meanwhile would
# write the cleanup's report into that file.
in_root() {
	local r=$1
	shift
	chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# as_postgres COMMAND...: run COMMAND in $ROOT as its postgres user, from /.
as_postgres() {
	in_root "$ROOT" setpriv --reuid=postgres --regid=postgres --init-groups \
		env HOME=/var/lib/postgresql PGHOST="$RUN/sock" PGPORT="$TEST_PGPORT" PGUSER=postgres "$@"
}

# psql_in DB SQL...: psql in $ROOT, each SQL a -c of its own (its own
# transaction), one value a line, stop at the first error.
psql_in() {
	local db=$1 args=() q
	shift
	for q in "$@"; do
		args+=(-c "$q")
	done
	as_postgres psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" "${args[@]}"
}

# mount_root R: what apt, dpkg and PostgreSQL need in R, fresh instances
# (no bind mount of the host's /dev); cleanup unmounts them.
mount_root() {
	local r=$1
	mount -t proc proc "$r/proc"
	MOUNTS+=("$r/proc")
	mkdir -p "$r/dev/pts" "$r/dev/shm"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$r/dev/pts"
	MOUNTS+=("$r/dev/pts")
	mount -t tmpfs -o mode=1777,size=256m tmpfs "$r/dev/shm" # PostgreSQL's shared memory
	MOUNTS+=("$r/dev/shm")
}

unmount_root() {
	local i
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[i]}"
	done
	MOUNTS=()
}

# root_pkg_status R PACKAGE: dpkg's word for PACKAGE in R (installed,
# config-files, not-installed), empty when dpkg does not know it.
root_pkg_status() {
	# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
	(in_root "$1" dpkg-query -W -f='${db:Status-Status}' "$2") 2>/dev/null || true
}

# root_apt R PACKAGE...: apt-get install the missing ones in R.
root_apt() {
	local r=$1 missing=() p
	shift
	for p in "$@"; do
		[ "$(root_pkg_status "$r" "$p")" = installed ] ||
			missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	say "installing in the Debian 12 root: ${missing[*]}"
	cp /etc/resolv.conf "$r/etc/resolv.conf"
	in_root "$r" apt-get -q update &&
		in_root "$r" apt-get -q install -y --no-install-recommends "${missing[@]}" &&
		in_root "$r" apt-get clean
}

ROOT_PACKAGES=("postgresql-$TEST_PGVERSION" "postgresql-$TEST_PGVERSION-plproxy" make)

# root_ensure: set ROOT to the cached Debian 12 root, made by debootstrap
# on the first run (then with PostgreSQL, PL/Proxy and make installed).
root_ensure() {
	local final=$CACHE/bookworm new=$CACHE/bookworm.new log start=$SECONDS
	if [ -e "$final/.batchstate-root" ]; then
		ROOT=$final
		say "reusing the Debian 12 root in $ROOT"
		return 0
	fi
	apt_install_missing debootstrap
	if [ -e "$new" ]; then # left by an interrupted first run
		mounted_under "$new" && die "something is still mounted under $new: unmount it, then run again"
		rm -rf -- "$new"
	fi
	[ ! -e "$final" ] || die "$final is not a root made by this script: move it away, then run again"
	say "creating a clean Debian 12 root in $final with debootstrap (first run only)"
	log=$CACHE/debootstrap.log
	if ! debootstrap --variant=minbase bookworm "$new" "$MIRROR" >"$log" 2>&1; then
		tail -n 30 -- "$log" >&2
		die "debootstrap failed (last lines above; the whole log: $log)"
	fi
	cat >"$new/etc/apt/sources.list" <<-EOF
		deb $MIRROR bookworm main
		deb $MIRROR bookworm-updates main
		deb $SECURITY_MIRROR bookworm-security main
	EOF
	# a chroot starts no service: the packages' scripts must not try
	printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
	chmod 755 "$new/usr/sbin/policy-rc.d"
	# and postgresql-common need not make the default cluster 15/main
	mkdir -p "$new/etc/postgresql-common/createcluster.d"
	echo 'create_main_cluster = false' >"$new/etc/postgresql-common/createcluster.d/batchstate-test.conf"
	mount_root "$new"
	(root_apt "$new" "${ROOT_PACKAGES[@]}") >>"$log" 2>&1 ||
		{
			tail -n 30 -- "$log" >&2
			die "apt-get in the new root failed (last lines above; the whole log: $log)"
		}
	unmount_root
	touch "$new/.batchstate-root"
	mv -- "$new" "$final"
	ROOT=$final
	say "the Debian 12 root is ready (after $((SECONDS - start)) s; later runs reuse it)"
}

# indent: a command's output under a check, as a TAP comment.
indent() { sed 's/^/#   /'; }

# check NAME COMMAND...: run COMMAND, print "ok - NAME" or "not ok - NAME".
check() {
	local name=$1
	shift
	if "$@"; then
		echo "ok - $name"
		PASSED=$((PASSED + 1))
	else
		echo "not ok - $name"
		FAILED=$((FAILED + 1))
		return 1
	fi
}

# require NAME COMMAND...: check, and stop the test on failure (later checks
# depend on it).
require() {
	check "$@" || exit 1
}

# batchstate_files: the paths of batchstate's files and directories under
# PostgreSQL's directories in the root, one a line, sorted.
batchstate_files() {
	(cd "$ROOT" && find "usr/lib/postgresql/$TEST_PGVERSION" "usr/share/postgresql/$TEST_PGVERSION" \
		-path '*batchstate*' 2>/dev/null | sed 's|^|/|' | sort)
}

# packaged_files: the same paths as the two installed packages list them.
packaged_files() {
	in_root "$ROOT" dpkg-query -L "$MAIN_PKG" "$ROUTER_PKG" |
		grep -E "^/usr/(lib|share)/postgresql/$TEST_PGVERSION/.*batchstate" | sort -u
}

no_batchstate_package() {
	local p
	for p in "$MAIN_PKG" "$ROUTER_PKG"; do
		case $(root_pkg_status "$ROOT" "$p") in
		'' | not-installed) ;;
		*) return 1 ;;
		esac
	done
}

no_batchstate_file() { [ -z "$(batchstate_files)" ]; }

root_is_clean() { no_batchstate_package && no_batchstate_file; }

# only_packaged_files: every batchstate path under PostgreSQL's directories
# belongs to the two packages, and every one they list is there.
only_packaged_files() {
	local found listed
	found=$(batchstate_files)
	listed=$(packaged_files)
	[ -n "$listed" ] && [ "$found" = "$listed" ] && return 0
	diff <(echo "$listed") <(echo "$found") | indent || true
	return 1
}

install_packages() {
	(in_root "$ROOT" apt-get -q install -y --no-install-recommends \
		"$RUN/debs/$(basename -- "$MAIN_DEB")" "$RUN/debs/$(basename -- "$ROUTER_DEB")") \
		>"$ROOT$RUN/apt-install.log" 2>&1 ||
		{
			indent <"$ROOT$RUN/apt-install.log"
			return 1
		}
}

purge_packages() {
	(in_root "$ROOT" apt-get -q remove --purge -y "$ROUTER_PKG" "$MAIN_PKG") \
		>"$ROOT$RUN/apt-purge.log" 2>&1 ||
		{
			indent <"$ROOT$RUN/apt-purge.log"
			return 1
		}
}

cluster_start_root() {
	local pgbin=/usr/lib/postgresql/$TEST_PGVERSION/bin
	(as_postgres "$pgbin/initdb" -D "$RUN/data" -A trust -U postgres --no-sync -E UTF8 \
		--locale=C.UTF-8 --locale-provider=icu --icu-locale=en-US) \
		>"$ROOT$RUN/initdb.log" 2>&1 || {
		indent <"$ROOT$RUN/initdb.log"
		return 1
	}
	cat >>"$ROOT$RUN/data/postgresql.conf" <<-EOF

		# scripts/package.sh test: unix socket only, in a private directory
		listen_addresses = ''
		unix_socket_directories = '$RUN/sock'
		port = $TEST_PGPORT
		fsync = off
	EOF
	# (without fd 8, the lock: a server left running must not hold it)
	(as_postgres "$pgbin/pg_ctl" -D "$RUN/data" -l "$RUN/server.log" -w -t 120 start) >/dev/null 8>&- || {
		indent <"$ROOT$RUN/server.log"
		return 1
	}
}

# cluster_stop_root: fast shutdown; if pg_ctl cannot, signal the postmaster
# (the chroot shares the host's process ids).
cluster_stop_root() {
	local pidfile=$ROOT$RUN/data/postmaster.pid pid i
	[ -f "$pidfile" ] || return 0
	(as_postgres "/usr/lib/postgresql/$TEST_PGVERSION/bin/pg_ctl" -D "$RUN/data" \
		-m fast -w -t 60 stop) >/dev/null 2>&1 && return 0
	pid=$(head -n 1 -- "$pidfile" 2>/dev/null) || return 0
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	kill -INT "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 60; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 1
	done
	kill -QUIT "$pid" 2>/dev/null || true
	return 1
}

# sql_is DB EXPECTED SQL...: the queries' output is EXPECTED.
sql_is() {
	local db=$1 want=$2 got
	shift 2
	got=$(psql_in "$db" "$@" 2>&1) || {
		indent <<<"$got"
		return 1
	}
	[ "$got" = "$want" ] && return 0
	printf '#   expected: %s\n#        got: %s\n' "${want//$'\n'/ | }" "${got//$'\n'/ | }"
	return 1
}

# db_sql_is DB EXPECTED SQL...: create the database DB, then sql_is.
db_sql_is() {
	local out
	out=$(as_postgres createdb "$1" 2>&1) || {
		indent <<<"$out"
		return 1
	}
	sql_is "$@"
}

# suite VARIABLE NAME: the Makefile's installcheck with VARIABLE emptied (so
# REGRESS or ISOLATION alone), in the copy of the test files, against the
# packaged extension.  The build's variables are emptied as well: nothing can
# be built or installed from the checkout (its sources are not even there).
suite() {
	local log=$ROOT$RUN/$2.log line diffs
	(as_postgres make -C "$RUN/src" --no-print-directory installcheck \
		PG_CONFIG="/usr/lib/postgresql/$TEST_PGVERSION/bin/pg_config" "$1=" \
		MODULE_big= OBJS= DATA= DATA_built= TAP_TESTS=) >"$log" 2>&1
	local rc=$?
	line=$(grep -E 'All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests (failed|passed)' "$log" | tail -n 1) || true
	line=$(echo "${line:-no result line}" | tr -s ' ' | sed 's/^ //; s/ $//')
	echo "# $2: $line"
	if ((rc != 0)) || [[ ! $line =~ All\ [0-9]+\ tests\ passed ]]; then
		echo "#   the whole output: $log"
		diffs=$ROOT$RUN/src/regression.diffs
		[ "$1" = REGRESS ] && diffs=$ROOT$RUN/src/output_iso/regression.diffs
		[ -s "$diffs" ] && head -n 200 -- "$diffs" | indent
		tail -n 20 -- "$log" | indent
		return 1
	fi
}

# no_build_output: the suite compiled nothing in its copy of the test files.
no_build_output() {
	[ -z "$(find "$ROOT$RUN/src" \( -name '*.o' -o -name '*.so' -o -name '*.bc' -o -name 'batchstate--*.sql' \) -print)" ]
}

files_verify() {
	local out
	out=$(in_root "$ROOT" dpkg --verify "$MAIN_PKG" "$ROUTER_PKG" 2>&1)
	[ -z "$out" ] && return 0
	indent <<<"$out"
	return 1
}

cmd_test() {
	local debdir=$1 start=$SECONDS control_version router_version d
	local -a matches
	[ -d "$debdir" ] || die "no directory $debdir: run scripts/package.sh build $debdir first"
	debdir=$(cd -- "$debdir" && pwd -P)
	MAIN_PKG=postgresql-$TEST_PGVERSION-batchstate
	ROUTER_PKG=postgresql-$TEST_PGVERSION-batchstate-router
	for d in MAIN ROUTER; do
		local pkg_var=${d}_PKG
		mapfile -t matches < <(compgen -G "$debdir/${!pkg_var}_*.deb" || true)
		((${#matches[@]} == 1)) ||
			die "expected one ${!pkg_var}_*.deb in $debdir, found ${#matches[@]}"
		printf -v "${d}_DEB" '%s' "${matches[0]}"
	done

	mkdir -p -- "$CACHE"
	exec 8>"$CACHE/lock"
	flock -n 8 || {
		say "waiting for another scripts/package.sh test to finish"
		flock 8
	}
	root_ensure
	mount_root "$ROOT"
	TESTING=1
	echo "# packages: $(basename -- "$MAIN_DEB") $(basename -- "$ROUTER_DEB")"
	echo "# in a clean Debian 12 root: $ROOT"

	# a run stopped half way may have left its packages or its directory
	if ! no_batchstate_package; then
		echo "# removing the packages an interrupted run left installed"
		(in_root "$ROOT" apt-get -q remove --purge -y "$ROUTER_PKG" "$MAIN_PKG") >/dev/null 2>&1 || true
	fi
	RUN=/tmp/batchstate-pkgtest
	rm -rf -- "${ROOT:?}$RUN"
	require "the root has PostgreSQL $TEST_PGVERSION, PL/Proxy and make" \
		root_apt "$ROOT" "${ROOT_PACKAGES[@]}"
	require "the root has no batchstate package and no batchstate file" root_is_clean

	install -d -m 755 "$ROOT$RUN" "$ROOT$RUN/debs"
	install -m 644 -- "$MAIN_DEB" "$ROUTER_DEB" "$ROOT$RUN/debs/"
	require "apt-get install ./$(basename -- "$MAIN_DEB") ./$(basename -- "$ROUTER_DEB")" \
		install_packages
	check "every batchstate file under PostgreSQL's directories is the packages'" only_packaged_files || true
	control_version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" \
		"$ROOT/usr/share/postgresql/$TEST_PGVERSION/extension/batchstate.control")
	router_version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" \
		"$ROOT/usr/share/postgresql/$TEST_PGVERSION/extension/batchstate_router.control")

	in_root "$ROOT" install -d -o postgres -g postgres -m 700 "$RUN/sock"
	in_root "$ROOT" chown postgres:postgres "$RUN"
	require "a PostgreSQL $TEST_PGVERSION cluster starts in the root (unix socket only)" cluster_start_root

	require "CREATE EXTENSION batchstate (version $control_version)" \
		db_sql_is pkgtest "$control_version" 'CREATE EXTENSION batchstate' \
		"SELECT extversion FROM pg_extension WHERE extname = 'batchstate'"
	check "the packaged library answers: create_batch, update_state, list_batches" \
		sql_is pkgtest "$(printf 'q1/batch/1\nt\nq1/batch/1 speculating')" \
		"SELECT id FROM batchstate.create_batch('q1/batch/1', 'q1')" \
		"SELECT batchstate.update_state('q1/batch/1', 1, 'speculating')" \
		"SELECT id || ' ' || state FROM batchstate.list_batches('q1', 'speculating')" || true
	check "CREATE EXTENSION plproxy; CREATE EXTENSION batchstate_router (version $router_version), policy from batchstate's library" \
		db_sql_is pkgtest_router "$(printf '%s\nt' "$router_version")" \
		'CREATE EXTENSION plproxy' 'CREATE EXTENSION batchstate_router' \
		"SELECT extversion FROM pg_extension WHERE extname = 'batchstate_router'" \
		"SELECT batchstate.can_transition('merging', 'cancelling')" || true

	# the suite's files only: no sources, no install script, nothing to build
	install -d "$ROOT$RUN/src/test"
	cp -- "$REPO/Makefile" "$REPO/batchstate.control" "$ROOT$RUN/src/"
	cp -R -- "$REPO/test/sql" "$REPO/test/expected" "$REPO/test/isolation" "$ROOT$RUN/src/test/"
	in_root "$ROOT" chown -R postgres:postgres "$RUN/src"
	check "pg_regress suite against the packaged files" suite ISOLATION regress || true
	check "isolation suite against the packaged files" suite REGRESS isolation || true
	check "the suite built nothing from the checkout" no_build_output || true
	check "no batchstate file but the packages' under PostgreSQL's directories after the suite" \
		only_packaged_files || true
	check "dpkg --verify: the installed files are the packages' own" files_verify || true

	require "the cluster stops" cluster_stop_root
	require "apt-get remove --purge $ROUTER_PKG $MAIN_PKG" purge_packages
	check "both packages are gone (not even config-files)" no_batchstate_package || true
	check "nothing of batchstate is left under /usr/lib/postgresql/$TEST_PGVERSION and /usr/share/postgresql/$TEST_PGVERSION" \
		no_batchstate_file || true

	if ((FAILED == 0)); then
		rm -rf -- "${ROOT:?}$RUN"
	fi
	echo "# took $((SECONDS - start)) s"
}

cmd=${1:-}
case $cmd in
build | test) ;;
-h | --help | help)
	usage
	exit 0
	;;
*)
	usage >&2
	exit 2
	;;
esac
ensure_root "$@"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
case $cmd in
build) cmd_build "${2:-$REPO/debs}" ;;
test) cmd_test "${2:-$REPO/debs}" ;;
esac
