#!/usr/bin/env bash
# scripts/pg-build.sh: a PostgreSQL server of a given major version for
# batchstate's build and tests, with the extensions the suite uses.
#
#   scripts/pg-build.sh 15      Debian 12's own packages (nothing is built)
#   scripts/pg-build.sh 17      built from Debian's source packages
#   scripts/pg-build.sh 18
#
# The last line of its output is the pg_config to build and test with:
#
#   PG_CONFIG=$(scripts/pg-build.sh 17 | tail -n 1)
#
# Debian 12 carries PostgreSQL 15 only.  For 17 and 18 this takes the
# upstream sources from Debian's trixie and sid suites (a deb-src entry of
# its own: no binary package of those suites is ever installed), builds the
# server, contrib, the isolation tester and the TAP modules with
# --enable-tap-tests, and installs them under /opt/batchstate-pg/MAJOR,
# then pgTAP, pg_cron and PL/Proxy from their Debian source packages into
# the same place (an extension whose source cannot be had, or does not
# build for that version, is left out with a warning, and tried again on
# the next run).  A finished server build is marked complete and reused:
# only the first run pays (about 10 minutes on 2 cores).  Needs root (apt-get,
# /opt); BATCHSTATE_PG_PREFIX and BATCHSTATE_PG_CACHE move the install and
# the download cache.
set -euo pipefail

PREFIX_ROOT=${BATCHSTATE_PG_PREFIX:-/opt/batchstate-pg}
CACHE=${BATCHSTATE_PG_CACHE:-/var/cache/batchstate-pg}
SUITES=(trixie sid)
SOURCES_LIST=/etc/apt/sources.list.d/batchstate-pg-src.sources
MARKER=.batchstate-complete
# what a build needs, from Debian 12
BUILD_PACKAGES=(
	dpkg-dev gcc make bison flex perl pkg-config xz-utils bzip2 curl
	libreadline-dev zlib1g-dev libssl-dev libicu-dev liblz4-dev libzstd-dev
	libipc-run-perl
)

say() { printf 'pg-build: %s\n' "$*" >&2; }
die() {
	printf 'pg-build: error: %s\n' "$*" >&2
	exit 1
}

# usage: print how to call this script.
usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

# apt_install PACKAGE...: install those of the packages that are missing.
apt_install() {
	local missing=() p
	for p in "$@"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
			missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	say "installing Debian packages: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
		install -y -q --no-install-recommends "${missing[@]}" >"$LOG" 2>&1 || {
		apt-get -o DPkg::Lock::Timeout=600 update -q >>"$LOG" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
			install -y -q --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1
	} || fail_with_log "apt-get could not install ${missing[*]}"
}

# fail_with_log MESSAGE: the end of the current step's log, then MESSAGE.
fail_with_log() {
	tail -n 30 "$LOG" >&2 || true
	die "$1 (whole log: $LOG)"
}

# server_built PREFIX: is the server under PREFIX completely installed?
server_built() {
	[ -f "$1/$MARKER" ] && [ -x "$1/bin/pg_config" ]
}

# extension_installed PREFIX NAME: is extension NAME installed under PREFIX?
extension_installed() {
	[ -f "$("$1/bin/pg_config" --sharedir)/extension/$2.control" ]
}

# add_source_suites: a deb-src entry for trixie and sid, sources only, and
# the package lists for them.
add_source_suites() {
	if [ ! -f "$SOURCES_LIST" ]; then
		say "adding deb-src entries for ${SUITES[*]} ($SOURCES_LIST; sources only)"
		cat >"$SOURCES_LIST" <<-EOF
			# scripts/pg-build.sh of batchstate: the sources of newer PostgreSQL
			# versions.  Source packages only: no binary package of these
			# suites is installed.
			Types: deb-src
			URIs: http://deb.debian.org/debian
			Suites: ${SUITES[*]}
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
	fi
	say "reading the package lists"
	apt-get -o DPkg::Lock::Timeout=600 update -q >"$LOG" 2>&1 ||
		fail_with_log "apt-get update failed for the deb-src entries in $SOURCES_LIST"
}

# source_entries PACKAGE: "version sha256 orig-file directory" for every
# version of the source package that the deb-src indexes list, newest first.
source_entries() {
	apt-cache showsrc "$1" 2>/dev/null | awk '
		/^Version: / { v = $2 }
		/^Directory: / { d = $2 }
		/^Checksums-Sha256:/ { in_sums = 1; next }
		/^[^ ]/ { in_sums = 0 }
		in_sums && $3 ~ /\.orig\.tar\./ { sum[v] = $1; file[v] = $3 }
		/^$/ && v != "" { if (v in file) print v, sum[v], file[v], d; v = "" }
		END { if (v != "" && (v in file)) print v, sum[v], file[v], d }
	' | sort -V -r -k1,1
}

# try_orig URL SHA256 DEST: download URL to DEST if its checksum is SHA256.
try_orig() {
	curl -fsS -o "$3.part" "$1" 2>/dev/null || return 1
	if [ "$(sha256sum "$3.part" | cut -d' ' -f1)" != "$2" ]; then
		rm -f -- "$3.part"
		say "checksum mismatch for $1: ignored"
		return 1
	fi
	mv -- "$3.part" "$3"
}

# dsc_orig_sum DSC_URL ORIG_FILE: the sha256 a source package's .dsc gives
# for its upstream tarball (empty when the .dsc cannot be had).
dsc_orig_sum() {
	curl -fsS "$1" 2>/dev/null |
		awk -v f="$2" '/^Checksums-Sha256:/ { s = 1; next } /^[^ ]/ { s = 0 } s && $3 == f { print $1 }'
}

# fetch_orig SOURCE_PACKAGE DIR [OLDER_PREFIX]: the newest upstream tarball
# of the source package that can be had, verified, unpacked in DIR; prints
# the unpacked directory.  Debian's patches are left out: the build is
# upstream's, laid out under its own prefix.  In order: the version each
# deb-src index lists, whole (apt-get source); the upstream tarball of each
# of those versions alone, from the pool (a mirror may lack a file of a
# newer upload), checked against the index; and, when OLDER_PREFIX is given
# ("17."), older point releases of that series whose .dsc in the pool gives
# the tarball's checksum.
fetch_orig() {
	local pkg=$1 dir=$2 older=${3:-} suite version sum file pool tarball top minor dsc
	mkdir -p "$dir"
	tarball=$(compgen -G "$dir/${pkg}_*.orig.tar.*" | sort -V | tail -n 1 || true)
	if [ -z "$tarball" ]; then
		for suite in "${SUITES[@]}"; do
			say "downloading the source package $pkg from $suite"
			if (cd "$dir" && apt-get source -q --download-only "$pkg/$suite") >"$LOG" 2>&1; then
				break
			fi
		done
		tarball=$(compgen -G "$dir/${pkg}_*.orig.tar.*" | sort -V | tail -n 1 || true)
	fi
	if [ -z "$tarball" ]; then
		while read -r version sum file pool; do
			say "the mirror lacks part of $pkg $version; trying its upstream tarball alone"
			if try_orig "http://deb.debian.org/debian/$pool/$file" "$sum" "$dir/$file"; then
				tarball=$dir/$file
				break
			fi
		done < <(source_entries "$pkg")
	fi
	if [ -z "$tarball" ] && [ -n "$older" ]; then
		version=$(source_entries "$pkg" | head -n 1 | cut -d' ' -f1)
		pool=$(source_entries "$pkg" | head -n 1 | cut -d' ' -f4)
		minor=${version#"$older"}
		minor=${minor%%[!0-9]*}
		while [ -n "$minor" ] && ((minor > 0)) && [ -z "$tarball" ]; do
			minor=$((minor - 1))
			file=${pkg}_$older$minor.orig.tar.bz2
			for dsc in "$older$minor-0+deb13u1" "$older$minor-1"; do
				sum=$(dsc_orig_sum "http://deb.debian.org/debian/$pool/${pkg}_$dsc.dsc" "$file")
				[ -n "$sum" ] || continue
				say "trying the older point release $older$minor of $pkg (checksum from its .dsc)"
				if try_orig "http://deb.debian.org/debian/$pool/$file" "$sum" "$dir/$file"; then
					tarball=$dir/$file
					break
				fi
			done
		done
	fi
	[ -n "$tarball" ] ||
		die "could not get the source of $pkg: tried apt-get source $pkg/<suite> for ${SUITES[*]} ($SOURCES_LIST), the upstream tarball of every version the indexes list${older:+ and older $older* point releases}, from deb.debian.org. Install it by hand (e.g. PostgreSQL and its extensions from apt.postgresql.org) and run the tests with PG_CONFIG=/usr/lib/postgresql/<major>/bin/pg_config"
	top=$(tar -tf "$tarball" | head -n 1 | cut -d/ -f1)
	rm -rf -- "${dir:?}/$top"
	tar -xf "$tarball" -C "$dir"
	echo "$dir/$top"
}

# build_server MAJOR PREFIX: PostgreSQL MAJOR from source into PREFIX.
build_server() {
	local major=$1 prefix=$2 src
	src=$(fetch_orig "postgresql-$major" "$CACHE/src/$major" "$major.")
	say "configuring $(basename "$src") for $prefix"
	(cd "$src" && ./configure --prefix="$prefix" --enable-tap-tests --enable-debug \
		--with-icu --with-openssl --with-lz4 --with-zstd) >"$LOG" 2>&1 ||
		fail_with_log "configure of PostgreSQL $major failed"
	say "building PostgreSQL $major, contrib and the test tools (several minutes on $(nproc) cores)"
	make -C "$src" -j "$(nproc)" >"$LOG" 2>&1 &&
		make -C "$src/contrib" -j "$(nproc)" >>"$LOG" 2>&1 &&
		make -C "$src/src/test/isolation" -j "$(nproc)" >>"$LOG" 2>&1 ||
		fail_with_log "the build of PostgreSQL $major failed"
	say "installing PostgreSQL $major into $prefix"
	make -C "$src" install >"$LOG" 2>&1 &&
		make -C "$src/contrib" install >>"$LOG" 2>&1 &&
		make -C "$src/src/test/isolation" install >>"$LOG" 2>&1 &&
		make -C "$src/src/test/perl" install >>"$LOG" 2>&1 ||
		fail_with_log "make install of PostgreSQL $major failed"
	[ -f "$("$prefix/bin/pg_config" --pkglibdir)/pgxs/src/test/perl/PostgreSQL/Test/Cluster.pm" ] ||
		die "the TAP modules are missing from $prefix after make install"
}

# build_extension SOURCE_PACKAGE MAJOR PREFIX: a PGXS extension from its
# Debian source package, built and installed with PREFIX's pg_config.  A
# failure is reported and returned, not fatal: the suite says which of its
# tests need the extension.
build_extension() {
	local pkg=$1 major=$2 prefix=$3 src
	src=$(fetch_orig "$pkg" "$CACHE/src/$pkg") || {
		say "warning: no source of $pkg could be had; PostgreSQL $major goes without it"
		return 1
	}
	say "building $(basename "$src") for PostgreSQL $major"
	if make -C "$src" PG_CONFIG="$prefix/bin/pg_config" USE_PGXS=1 >"$LOG" 2>&1 &&
		make -C "$src" PG_CONFIG="$prefix/bin/pg_config" USE_PGXS=1 install >>"$LOG" 2>&1; then
		return 0
	fi
	tail -n 15 "$LOG" >&2
	say "warning: $(basename "$src") does not build for PostgreSQL $major (log: $LOG); it goes without it"
	return 1
}

main() {
	local major=${1:-} prefix
	case $major in
	-h | --help)
		usage
		exit 0
		;;
	15)
		[ -x /usr/lib/postgresql/15/bin/pg_config ] ||
			die "PostgreSQL 15 is Debian 12's own: apt-get install postgresql-15 postgresql-server-dev-15 (scripts/test.sh does)"
		echo /usr/lib/postgresql/15/bin/pg_config
		return 0
		;;
	17 | 18) ;;
	*)
		usage >&2
		exit 2
		;;
	esac
	prefix=$PREFIX_ROOT/$major
	local ext missing=()
	if server_built "$prefix"; then
		for ext in pgtap pg_cron plproxy; do
			extension_installed "$prefix" "$ext" || missing+=("$ext")
		done
		if ((${#missing[@]} == 0)) || ((EUID != 0)); then
			say "PostgreSQL $major is built already ($prefix)${missing[*]:+; without ${missing[*]}}"
			echo "$prefix/bin/pg_config"
			return 0
		fi
	fi
	((EUID == 0)) || die "building PostgreSQL $major needs root (apt-get, $PREFIX_ROOT): run it as root or with sudo"
	command -v apt-get >/dev/null 2>&1 || die "no apt-get: this script gets PostgreSQL $major from Debian's source packages"

	mkdir -p "$CACHE"
	LOG=$CACHE/build-$major.log
	local started=$SECONDS
	apt_install "${BUILD_PACKAGES[@]}"
	add_source_suites
	if ! server_built "$prefix"; then
		rm -rf -- "$prefix"
		build_server "$major" "$prefix"
		date -u +%FT%TZ >"$prefix/$MARKER"
	fi
	extension_installed "$prefix" pgtap || build_extension pgtap "$major" "$prefix" || true
	extension_installed "$prefix" pg_cron || build_extension pg-cron "$major" "$prefix" || true
	extension_installed "$prefix" plproxy || build_extension postgresql-plproxy "$major" "$prefix" || true
	missing=()
	for ext in pgtap pg_cron plproxy; do
		extension_installed "$prefix" "$ext" || missing+=("$ext")
	done
	say "PostgreSQL $major is ready in $prefix ($((SECONDS - started)) s)${missing[*]:+; without ${missing[*]}, whose tests cannot run on it}"
	echo "$prefix/bin/pg_config"
}

LOG=/dev/null
main "$@"
