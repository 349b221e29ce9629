#!/usr/bin/env bash
# scripts/pg-build.sh: a PostgreSQL of the given major version to build and
# test batchstate with, and the extensions its test suite uses.
#
#   scripts/pg-build.sh 17            build PostgreSQL 17 once, then reuse it
#   scripts/pg-build.sh 18
#   scripts/pg-build.sh 15            Debian 12's own packages: nothing to build
#   scripts/pg-build.sh --retry 17    try again the extensions a build went without
#   scripts/pg-build.sh --rebuild 17  build afresh (the old build is kept until
#                                     the new one is installed)
#
# The last line on stdout is the pg_config to use; progress goes to stderr:
#
#   PG_CONFIG=$(scripts/pg-build.sh 17 | tail -n 1)
#
# Debian 12 packages PostgreSQL 15 only.  For a later major this takes the
# upstream source that Debian's trixie or sid source package of it ships
# (a deb-src entry of its own in /etc/apt/sources.list.d: sources only, no
# binary package of those suites is ever installed), checked against the
# signed Sources index (or, for an older point release, against the
# uploader's signature on its .dsc), and builds it with TAP tests, ICU,
# OpenSSL, LZ4 and zstd: the server, contrib, pg_regress, the isolation
# tester and the TAP modules, as PGXS's installcheck and prove_installcheck
# need them.  It is installed under /opt/batchstate-pg/MAJOR, then pgTAP,
# pg_cron and PL/Proxy from their Debian source packages are built against
# it and installed there too.  An extension whose source cannot be had or
# does not build is left out with a warning (the tests that need it skip),
# and noted so that the next run does not try again (--retry does).
#
# The build happens under /var/cache/batchstate-pg (its log: build-MAJOR.log
# there, the run before's: build-MAJOR.log.previous) and is installed
# through a staging directory; the file .batchstate-complete in the prefix
# is written last, so an interrupted run is never taken for a finished
# one.  The first run pays (7 to 11 minutes on 2 cores); a finished build
# answers at once.  Needs root (apt-get, /opt).  BATCHSTATE_PG_PREFIX and
# BATCHSTATE_PG_CACHE move the installations and the cache.
set -euo pipefail

PREFIX_ROOT=${BATCHSTATE_PG_PREFIX:-/opt/batchstate-pg}
CACHE=${BATCHSTATE_PG_CACHE:-/var/cache/batchstate-pg}
SOURCES_FILE=/etc/apt/sources.list.d/batchstate-pg-src.sources
ARCHIVE_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
UPLOADERS_KEYRING=/usr/share/keyrings/debian-keyring.gpg
MARKER=.batchstate-complete
SERVER_MARKER=.batchstate-server
# the source suites, in the order they are asked for the server
SERVER_SUITES=(trixie sid)
# the extensions: newest first, for the best chance of supporting new majors
EXTENSION_SUITES=(sid trixie)
# extension name (its control file) and Debian source package
EXTENSIONS=(pgtap:pgtap pg_cron:pg-cron plproxy:postgresql-plproxy)
# what the builds need, from Debian 12
BUILD_PACKAGES=(
	gcc libc6-dev make perl bison flex pkg-config bzip2
	libreadline-dev zlib1g-dev libssl-dev libicu-dev liblz4-dev libzstd-dev
	libipc-run-perl
)

LOG=/dev/null
START=$SECONDS
STAGE=''

# say MESSAGE: a progress line on stderr (and in the log), with the time so far.
say() {
	printf 'pg-build: [%4ds] %s\n' "$((SECONDS - START))" "$*" >&2
	printf '\n==== pg-build: %s\n' "$*" >>"$LOG"
}

# warn MESSAGE: a warning on stderr.
warn() { printf 'pg-build: warning: %s\n' "$*" >&2; }

# die MESSAGE: an error on stderr, then exit 1.
die() {
	printf 'pg-build: error: %s\n' "$*" >&2
	exit 1
}

# die_with_log MESSAGE: the end of the log, then die.
die_with_log() {
	if [ -s "$LOG" ]; then
		printf -- '--- last lines of %s:\n' "$LOG" >&2
		tail -n 40 -- "$LOG" >&2
		printf -- '---\n' >&2
	fi
	die "$1 (whole log: $LOG)"
}

# logged COMMAND...: run COMMAND with its output appended to the log.
logged() { "$@" >>"$LOG" 2>&1 </dev/null; }

# usage: the header comment, as help.
usage() { sed -n '2,/^set -euo pipefail/{/^set /d;s/^# \{0,1\}//;p}' "$0"; }

# read_paths PREFIX: set BINDIR, PKGLIBDIR, SHAREDIR and VERSION from PREFIX's pg_config.
read_paths() {
	local out
	out=$("$1/bin/pg_config" --bindir --pkglibdir --sharedir --version 2>/dev/null) || return 1
	{
		read -r BINDIR
		read -r PKGLIBDIR
		read -r SHAREDIR
		read -r VERSION
	} <<<"$out"
	VERSION=${VERSION#PostgreSQL }
}

# server_complete PREFIX: is everything batchstate's tests need from the server there?
server_complete() {
	local f
	[ -x "$1/bin/pg_config" ] && read_paths "$1" || return 1
	for f in "$BINDIR"/{postgres,initdb,pg_ctl,psql} \
		"$PKGLIBDIR"/pgxs/src/makefiles/pgxs.mk \
		"$PKGLIBDIR"/pgxs/src/test/regress/pg_regress \
		"$PKGLIBDIR"/pgxs/src/test/isolation/{pg_isolation_regress,isolationtester} \
		"$PKGLIBDIR"/pgxs/src/test/perl/PostgreSQL/{Version,Test/Cluster,Test/Utils}.pm \
		"$SHAREDIR"/extension/{amcheck,pg_stat_statements}.control; do
		[ -e "$f" ] || return 1
	done
}

# extension_state PREFIX NAME: "installed", "missing" (noted as unavailable
# in the marker) or "absent"; after read_paths.
extension_state() {
	if [ -f "$SHAREDIR/extension/$2.control" ]; then
		echo installed
	elif grep -q "^missing $2:" "$1/$MARKER" 2>/dev/null; then
		echo missing
	else
		echo absent
	fi
}

# finished PREFIX [RETRY]: is the build in PREFIX complete (with RETRY=1,
# counting an extension noted as unavailable as not done)?
finished() {
	local e state
	[ -f "$1/$MARKER" ] && server_complete "$1" || return 1
	for e in "${EXTENSIONS[@]}"; do
		state=$(extension_state "$1" "${e%%:*}")
		[ "$state" = installed ] || { [ "$state" = missing ] && [ "${2:-0}" = 0 ]; } || return 1
	done
}

# report_reuse PREFIX: the one line that says the build is there already.
report_reuse() {
	local e line without=()
	for e in "${EXTENSIONS[@]}"; do
		[ -f "$SHAREDIR/extension/${e%%:*}.control" ] || without+=("${e%%:*}")
	done
	line="PostgreSQL $VERSION is built already in $1"
	((${#without[@]} == 0)) || line+=" (without ${without[*]}: see $1/$MARKER; --retry tries again)"
	printf 'pg-build: %s\n' "$line" >&2
}

# install_packages: apt-get the build's Debian 12 packages that are missing.
install_packages() {
	local missing=() p
	for p in "${BUILD_PACKAGES[@]}" "$@"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
			missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	say "installing Debian packages: ${missing[*]}"
	logged env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 \
		install --no-install-recommends "${missing[@]}" ||
		die_with_log "apt-get install ${missing[*]} failed"
}

# debian_mirror: the Debian mirror this machine's bookworm entry uses.
debian_mirror() {
	local uri
	# (from the configured entries: known before any apt-get update)
	# shellcheck disable=SC2016 # $(BASE_URI) is apt's placeholder, not the shell's
	uri=$(apt-get indextargets --format '$(BASE_URI)' 'Created-By: Packages' 2>/dev/null |
		sed -n 's|/dists/bookworm/$||p' | head -n 1)
	[ -n "$uri" ] || die "found no Debian 12 (bookworm) entry in apt's sources: this script needs Debian 12 and its mirror"
	printf '%s\n' "$uri"
}

# add_source_suites: the deb-src entry for trixie and sid (sources only,
# never binary packages), then apt-get update.
add_source_suites() {
	local mirror want
	mirror=$(debian_mirror)
	want="# scripts/pg-build.sh of batchstate: the sources of newer PostgreSQL
# versions.  Source packages only: no binary package of these suites is
# installed from here.
Types: deb-src
URIs: $mirror
Suites: trixie sid
Components: main
Signed-By: $ARCHIVE_KEYRING"
	if [ "$(cat "$SOURCES_FILE" 2>/dev/null)" != "$want" ]; then
		say "adding deb-src entries for trixie and sid ($SOURCES_FILE; sources only)"
		printf '%s\n' "$want" >"$SOURCES_FILE.tmp"
		mv -f -- "$SOURCES_FILE.tmp" "$SOURCES_FILE"
	fi
	say "apt-get update"
	logged apt-get -q -o DPkg::Lock::Timeout=600 update ||
		warn "apt-get update reported errors (see $LOG); going on with the lists it has"
}

# source_index PACKAGE: "version sha256 tarball directory" for each upload
# of source PACKAGE that the (signed) deb-src indexes list.
source_index() {
	apt-cache showsrc --only-source "$1" 2>/dev/null | awk '
		function flush() { if (v != "" && f != "") print v, h, f, d; v = d = f = h = "" }
		/^$/ { flush(); next }
		/^Version: / { v = $2 }
		/^Directory: / { d = $2 }
		/^[^ ]/ { sums = ($1 == "Checksums-Sha256:"); next }
		sums && $3 ~ /\.orig\.tar\.(gz|bz2|xz)$/ { h = $1; f = $3 }
		END { flush() }'
}

# sha256_of FILE: its SHA-256.
sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

# url_path NAME: NAME with "+" escaped for a URL, as apt does.
url_path() { printf '%s' "${1//+/%2b}"; }

# fetch_source PACKAGE SUITE...: the upstream tarball of source PACKAGE from
# the first SUITE whose upload can be had, verified against the signed
# index.  Sets SRC_TARBALL and SRC_NOTE; adds to TRIED.
fetch_source() {
	local pkg=$1 dir=$CACHE/src/$1 suite out ok ver line sum file
	shift
	mkdir -p -- "$dir"
	for suite in "$@"; do
		out=$(cd -- "$dir" && LC_ALL=C apt-get source -q --download-only "$pkg/$suite" 2>&1 </dev/null) && ok=1 || ok=0
		printf '%s\n' "$out" >>"$LOG"
		ver=$(sed -n "s/^Selected version '\([^']*\)'.*/\1/p" <<<"$out" | head -n 1)
		if [ -z "$ver" ]; then
			TRIED+=("apt-get source $pkg/$suite: $suite carries no $pkg")
			continue
		fi
		line=$(source_index "$pkg" | awk -v v="$ver" '$1 == v' | head -n 1)
		read -r _ sum file _ <<<"$line"
		if [ -n "${file:-}" ] && [ -f "$dir/$file" ] && [ "$(sha256_of "$dir/$file")" = "$sum" ]; then
			SRC_TARBALL=$dir/$file
			SRC_NOTE="$pkg $ver from $suite"
			((ok)) || SRC_NOTE+=" (its upstream tarball: the mirror lacks the rest of the upload)"
			return 0
		fi
		TRIED+=("apt-get source $pkg/$suite: $suite lists $pkg $ver, but its files could not be downloaded ($(grep -m 1 -oE '[0-9]{3} +[A-Z][A-Za-z ]*[a-z]' <<<"$out" | tr -s ' ' || echo 'see the log'))")
	done
	return 1
}

# fetch_older_release PACKAGE MAJOR: the upstream tarball of one of the
# three point releases before the newest that the index lists, from the
# pool, for when the mirror lacks the newest.  Its .dsc must carry a valid
# signature of a Debian developer (debian-keyring) and give the tarball's
# SHA-256.  Sets SRC_TARBALL and SRC_NOTE; adds to TRIED.
fetch_older_release() {
	local pkg=$1 major=$2 dir=$CACHE/src/$1 mirror newest pool minor m rev dsc sum file signed
	newest=$(source_index "$pkg" | sort -V -r | head -n 1)
	[ -n "$newest" ] || return 1
	read -r newest _ _ pool <<<"$newest"
	minor=${newest#"$major".}
	minor=${minor%%[!0-9]*}
	[ -n "$minor" ] && ((minor > 0)) || return 1
	install_packages debian-keyring
	mirror=$(debian_mirror)
	for ((m = minor - 1; m >= 0 && m >= minor - 3; m--)); do
		for rev in 0+deb13u1 1; do
			dsc=${pkg}_$major.$m-$rev.dsc
			rm -f -- "$dir/$dsc"
			logged /usr/lib/apt/apt-helper download-file "$mirror/$pool/$(url_path "$dsc")" "$dir/$dsc" || continue
			if ! signed=$(gpgv --keyring "$UPLOADERS_KEYRING" --output - "$dir/$dsc" 2>>"$LOG"); then
				warn "$dsc has no valid signature of a Debian developer: not used"
				continue
			fi
			read -r sum file < <(awk '/^[^ ]/ { s = ($1 == "Checksums-Sha256:"); next }
				s && $3 ~ /\.orig\.tar\.(gz|bz2|xz)$/ { print $1, $3; exit }' <<<"$signed") || true
			[ -n "${file:-}" ] || continue
			if [ ! -f "$dir/$file" ] || [ "$(sha256_of "$dir/$file")" != "$sum" ]; then
				rm -f -- "$dir/$file"
				logged /usr/lib/apt/apt-helper download-file "$mirror/$pool/$(url_path "$file")" \
					"$dir/$file" "SHA256:$sum" || {
					TRIED+=("$pkg $major.$m-$rev: its signed .dsc is there, its tarball is not")
					continue
				}
			fi
			SRC_TARBALL=$dir/$file
			SRC_NOTE="$pkg $major.$m-$rev, an older point release (signed .dsc): the mirror lacks $pkg $newest"
			return 0
		done
		TRIED+=("$pkg $major.$m: no signed .dsc in the pool")
	done
	return 1
}

# unpack TARBALL DIR: TARBALL unpacked in DIR, emptied first; prints the
# source tree (the tarball's one top directory).
unpack() {
	local tops
	rm -rf -- "$2" && mkdir -p -- "$2" && tar -xf "$1" -C "$2" || return 1
	tops=("$2"/*/)
	((${#tops[@]} == 1)) && [ -d "${tops[0]}" ] || return 1
	printf '%s\n' "${tops[0]%/}"
}

# get_server_source MAJOR: the PostgreSQL MAJOR source, or die saying what
# was tried and what to do instead.
get_server_source() {
	local major=$1 pkg=postgresql-$1
	TRIED=()
	say "getting the source of PostgreSQL $major (source package $pkg, from ${SERVER_SUITES[*]})"
	fetch_source "$pkg" "${SERVER_SUITES[@]}" && return 0
	fetch_older_release "$pkg" "$major" && {
		warn "using $SRC_NOTE"
		return 0
	}
	local t
	printf 'pg-build: tried:\n' >&2
	for t in "${TRIED[@]}"; do printf '  - %s\n' "$t" >&2; done
	die "cannot get the source of PostgreSQL $major from Debian (source package $pkg, suites ${SERVER_SUITES[*]}, deb-src entries in $SOURCES_FILE; log: $LOG).
Install PostgreSQL $major by hand instead, e.g. from the PGDG apt repository (apt.postgresql.org): apt-get install postgresql-$major postgresql-server-dev-$major postgresql-$major-pgtap postgresql-$major-cron postgresql-$major-plproxy libipc-run-perl (postgresql-client-$major brings pg_isolation_regress and the TAP modules).
Then run the tests with PG_CONFIG=/usr/lib/postgresql/$major/bin/pg_config scripts/test.sh."
}

# build_server MAJOR PREFIX: configure, build and install PostgreSQL MAJOR;
# installed through a staging directory, then moved to PREFIX.
build_server() {
	local major=$1 prefix=$2 build=$CACHE/build/$1 src jobs
	jobs=$(nproc)
	get_server_source "$major"
	local note=$SRC_NOTE
	say "unpacking $(basename -- "$SRC_TARBALL")"
	src=$(unpack "$SRC_TARBALL" "$build") || die "cannot unpack $SRC_TARBALL into $build"
	say "configuring PostgreSQL ${src##*-} (prefix $prefix)"
	(cd -- "$src" && logged ./configure --prefix="$prefix" --enable-tap-tests --enable-debug \
		--with-icu --with-openssl --with-lz4 --with-zstd) ||
		die_with_log "configure of PostgreSQL ${src##*-} failed"
	say "building the server and contrib (make -j$jobs world-bin: several minutes on $jobs cores)"
	logged make -C "$src" -j"$jobs" world-bin || die_with_log "the build of PostgreSQL ${src##*-} failed"
	say "building the isolation tester"
	logged make -C "$src/src/test/isolation" -j"$jobs" || die_with_log "the build of the isolation tester failed"
	STAGE=$CACHE/stage-$major
	rm -rf -- "$STAGE"
	say "installing into a staging directory"
	if ! { logged make -C "$src" install-world-bin DESTDIR="$STAGE" &&
		logged make -C "$src/src/test/isolation" install DESTDIR="$STAGE" &&
		logged make -C "$src/src/test/perl" install DESTDIR="$STAGE"; }; then
		die_with_log "make install of PostgreSQL ${src##*-} failed"
	fi
	server_complete "$STAGE$prefix" ||
		die_with_log "the staged installation lacks a part the tests need (TAP modules, pg_regress, the isolation tester, amcheck or pg_stat_statements)"
	printf '%s\n' "postgresql ${src##*-} from $note" >"$STAGE$prefix/$SERVER_MARKER"
	say "moving it into $prefix"
	mkdir -p -- "$(dirname -- "$prefix")"
	if [ -e "$prefix" ]; then
		rm -rf -- "$prefix.old"
		mv -- "$prefix" "$prefix.old"
	fi
	mv -- "$STAGE$prefix" "$prefix"
	rm -rf -- "$prefix.old" "$STAGE" "$build"
	STAGE=''
}

# build_extension NAME PACKAGE MAJOR PREFIX: extension NAME from source
# PACKAGE, built and installed with PREFIX's pg_config.  On failure, notes
# why in NOTES and returns 1.
build_extension() {
	local name=$1 pkg=$2 major=$3 prefix=$4 src t
	TRIED=()
	say "getting the source of $name (source package $pkg, from ${EXTENSION_SUITES[*]})"
	if ! fetch_source "$pkg" "${EXTENSION_SUITES[@]}"; then
		t=$(printf '%s; ' "${TRIED[@]}")
		NOTES+=("missing $name: no source could be had: ${t%; }")
		warn "no source of $name could be had, PostgreSQL $major goes without it:"
		for t in "${TRIED[@]}"; do printf '  - %s\n' "$t" >&2; done
		return 1
	fi
	if ! src=$(unpack "$SRC_TARBALL" "$CACHE/build/$major-$name"); then
		warn "cannot unpack $SRC_TARBALL: PostgreSQL $major goes without $name"
		NOTES+=("missing $name: $SRC_TARBALL does not unpack")
		return 1
	fi
	say "building $name ${src##*-} for PostgreSQL $major"
	if logged make -C "$src" PG_CONFIG="$prefix/bin/pg_config" &&
		logged make -C "$src" PG_CONFIG="$prefix/bin/pg_config" install &&
		[ -f "$SHAREDIR/extension/$name.control" ]; then
		NOTES+=("extension $name from $SRC_NOTE")
		rm -rf -- "$CACHE/build/$major-$name"
		return 0
	fi
	printf -- '--- last lines of %s:\n' "$LOG" >&2
	tail -n 15 -- "$LOG" >&2
	printf -- '---\n' >&2
	warn "$name (${src##*/}) does not build for PostgreSQL $major: it goes without it (log: $LOG; source tree kept: $src)"
	NOTES+=("missing $name: $SRC_NOTE does not build for PostgreSQL $major (see $LOG)")
	return 1
}

# on_exit: say what an unfinished run leaves behind.
on_exit() {
	local rc=$?
	[ -n "$STAGE" ] && rm -rf -- "$STAGE"
	if ((rc != 0)) && [ "$LOG" != /dev/null ]; then
		printf 'pg-build: stopped (exit %d): nothing is marked finished, the next run takes it up again\n' "$rc" >&2
	fi
}

main() {
	local retry=0 rebuild=0 major prefix
	while (($#)); do
		case $1 in
		-h | --help)
			usage
			return 0
			;;
		--retry) retry=1 ;;
		--rebuild) rebuild=1 ;;
		-*) die "unknown option $1 (see --help)" ;;
		*) break ;;
		esac
		shift
	done
	(($# == 1)) || {
		usage >&2
		exit 2
	}
	major=$1
	case $major in
	15)
		local pgc=/usr/lib/postgresql/15/bin/pg_config
		[ -x "$pgc" ] ||
			die "PostgreSQL 15 comes from Debian 12's packages, which are not installed: apt-get install postgresql-15 postgresql-server-dev-15 (scripts/test.sh does)"
		printf 'pg-build: PostgreSQL 15 is Debian 12'\''s own (postgresql-15 packages): nothing to build\n' >&2
		printf '%s\n' "$pgc"
		return 0
		;;
	1[6-9] | [2-9][0-9]) ;;
	*) die "no PostgreSQL major version \"$major\": give 15, 17 or 18" ;;
	esac
	prefix=$PREFIX_ROOT/$major

	# 1. a finished build: reuse it
	if ((!rebuild)) && finished "$prefix" "$retry"; then
		report_reuse "$prefix"
		printf '%s\n' "$prefix/bin/pg_config"
		return 0
	fi

	((EUID == 0)) || die "building PostgreSQL $major needs root (apt-get, $PREFIX_ROOT): run it as root or with sudo"
	command -v apt-get >/dev/null 2>&1 || die "no apt-get: this script builds PostgreSQL $major from Debian's source packages, on Debian 12"
	mkdir -p -- "$CACHE"
	# one build of a version at a time; a second caller waits and reuses it
	local lock_fd
	exec {lock_fd}>>"$CACHE/.lock-$major"
	if ! flock -n "$lock_fd"; then
		printf 'pg-build: another pg-build.sh is building PostgreSQL %s: waiting for it\n' "$major" >&2
		flock "$lock_fd"
		if ((!rebuild)) && finished "$prefix" "$retry"; then
			report_reuse "$prefix"
			printf '%s\n' "$prefix/bin/pg_config"
			return 0
		fi
	fi
	LOG=$CACHE/build-$major.log
	[ -s "$LOG" ] && mv -f -- "$LOG" "$LOG.previous"
	: >"$LOG"
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	say "PostgreSQL $major: building into $prefix (log: $LOG)"

	# 2. the packages and the source lists
	add_source_suites
	install_packages

	# 3. the server, unless a build that got that far is there
	if ((rebuild)) || ! { [ -f "$prefix/$SERVER_MARKER" ] && server_complete "$prefix"; }; then
		rm -f -- "$prefix/$MARKER"
		build_server "$major" "$prefix"
	else
		say "the server in $prefix is built already: only the extensions"
	fi
	read_paths "$prefix" || die "$prefix/bin/pg_config does not run"

	# 4. the extensions; those a previous run could not have are tried
	# again only with --retry
	NOTES=()
	local e name pkg old
	for e in "${EXTENSIONS[@]}"; do
		name=${e%%:*} pkg=${e#*:}
		old=$(grep -s "^\(extension\|missing\) ${name}[: ]" "$prefix/$MARKER" | head -n 1 || true)
		if ((!rebuild)) && [ -f "$SHAREDIR/extension/$name.control" ]; then
			NOTES+=("${old:-extension $name (installed)}")
		elif ((!rebuild && !retry)) && [ "${old#missing }" != "$old" ]; then
			NOTES+=("$old")
		else
			build_extension "$name" "$pkg" "$major" "$prefix" || true
		fi
	done

	# 5. the marker, last
	rm -f -- "$prefix/$MARKER"
	{
		printf '# scripts/pg-build.sh: this build is complete (delete this file to rebuild)\n'
		cat -- "$prefix/$SERVER_MARKER"
		printf 'built %s in %d s\n' "$(date -u +%FT%TZ)" "$((SECONDS - START))"
		printf '%s\n' "${NOTES[@]}"
	} >"$prefix/$MARKER.tmp"
	mv -- "$prefix/$MARKER.tmp" "$prefix/$MARKER"
	finished "$prefix" || die "the build in $prefix is incomplete after all (log: $LOG)"
	local without
	without=$(sed -n 's/^missing \([^:]*\):.*/\1/p' "$prefix/$MARKER" | paste -sd' ' -)
	say "PostgreSQL $VERSION is ready in $prefix${without:+, without $without (its tests skip)}"
	printf '%s\n' "$prefix/bin/pg_config"
}

main "$@"
