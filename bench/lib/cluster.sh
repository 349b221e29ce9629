# shellcheck shell=bash
# bench/lib/cluster.sh: the benchmark's own cluster, a fresh initdb under /tmp
# started and stopped through scripts/pgserver.sh, and the cleanup on exit.
# shellcheck disable=SC2034 # CL: for the phases that read the server log

# shellcheck source=scripts/pgserver.sh
. "$REPO/scripts/pgserver.sh"

CL='' # the cluster's directory: data/, sock/, log

# cluster_up: initdb and start the benchmark's cluster in a new directory
# under /tmp (unix socket only, on --port, in --locale; stock settings plus
# synchronous_commit = off, the soak's stock), point libpq at it, and have
# it stopped and deleted on exit
cluster_up() {
	CL=$(mktemp -d /tmp/batchstate-bench.XXXXXX)
	chmod 755 "$CL"
	mkdir "$CL/sock"
	pgserver_own "$CL" "$CL/sock"
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	local locale_opts=(--no-locale -E UTF8)
	if [ -n "$LOCALE" ]; then
		locale_opts=(--locale="$LOCALE" -E UTF8)
	elif pgserver_has_c_utf8; then
		locale_opts=(--locale=C.UTF-8 -E UTF8)
	fi
	pgserver_init "$CL/data" "$OUT/raw/initdb.log" "${locale_opts[@]}" || {
		cat "$OUT/raw/initdb.log" >&2
		die "initdb failed"
	}
	{
		echo
		echo "# bench/run.sh: stock settings; unix socket only"
		echo "listen_addresses = ''"
		if [ "$MODE" != soak ]; then
			echo "# measure CPU, not fsync"
			echo "synchronous_commit = off"
		fi
	} >>"$CL/data/postgresql.conf"
	pgserver_start "$CL/data" "$CL/log" "$PORT" "$CL/sock" ||
		die "the cluster did not start: $(tail -n 20 "$CL/log" 2>/dev/null)"
	pgserver_env "$CL/sock" "$PORT"
	# pgbench's sessions must be named pgbench (pgbench_backends finds them
	# by that name), which a PGAPPNAME would override: PostgreSQL's TAP
	# framework sets it to the test file's name
	unset PGAPPNAME
	say "cluster: $CL (port $PORT, mode $MODE), results: $OUT"
}

# cluster_down: stop the cluster's server (for the single-user backends of
# the instruction counts, which need its data directory to themselves)
cluster_down() {
	pgserver_stop "$CL/data" || die "the cluster did not stop for the instruction counts"
}

# cleanup: on exit, kill the pgbench runs still going, stop the server and
# delete the cluster's directory (its log kept as raw/server.log), or keep
# it all with --keep; exits with the script's status
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	if [ -f "$CL/data/postmaster.pid" ]; then
		pgserver_stop "$CL/data" 2>/dev/null ||
			pgserver_stop "$CL/data" immediate 2>/dev/null || true
	fi
	if ((KEEP)); then
		say "kept the cluster's directory: $CL"
	else
		cp -f -- "$CL/log" "$OUT/raw/server.log" 2>/dev/null || true
		rm -rf -- "$CL"
	fi
	exit "$rc"
}
