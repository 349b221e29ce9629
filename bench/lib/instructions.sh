# shellcheck shell=bash
# bench/lib/instructions.sh: user-space instructions per lifecycle of the
# extension, PL/pgSQL and both floors, and of the extension and its
# idempotent floor (with and without the GIN index) on the shape:
# callgrind on a single-user backend.

# script_statements SCRIPT: the SQL statements of a pgbench script, one per
# line: comments and \set lines dropped, a statement's lines joined, the id
# (:id, or the shape's 'q' || :q || '/batch/' || :r) made $1 and the queue
# (:q, or 'q' || :q) $2
script_statements() {
	# shellcheck disable=SC2016 # $1 and $2: the statement's parameters
	awk '
		/^[[:space:]]*(--|\\)/ || /^[[:space:]]*$/ { next }
		{ sub(/[[:space:]]+$/, ""); stmt = stmt (stmt == "" ? "" : " ") $0 }
		/;$/ { print stmt; stmt = "" }
	' "$1" | sed -e "s|'q' [|][|] :q [|][|] '/batch/' [|][|] :r|\$1|g" -e "s|'q' [|][|] :q|\$2|g" \
		-e 's/:id\b/$1/g' -e 's/:q\b/$2/g'
}

# workload_args APPROACH I: the parameters of lifecycle I: id and queue as
# bench/lifecycle_*.pgbench numbers them, or for the shape ('q' || q ||
# '/batch/' || r, 64 queues) a fixed scatter of r over 1 .. 10^15
workload_args() {
	local q r
	case $1 in
	shape_*)
		q=$((1 + $2 * 37 % 64)) r=$((1 + $2 * 618033988749897 % 1000000000000000))
		echo "'q$q/batch/$r', 'q$q'"
		;;
	*) echo "'i$2', 'q$(($2 % 10))'" ;;
	esac
}

# instructions_workload APPROACH N: the approach's lifecycle script as a
# single-user session: each statement PREPAREd once, then N lifecycles of
# EXECUTEs (one transaction each, as pgbench -M prepared runs them)
instructions_workload() {
	local a=$1 n=$2 schema i j k=0 s args
	local -a stmts
	schema=$(schema_of "$a")
	mapfile -t stmts < <(script_statements "$(script_of "$a")")
	# the shape's floor script names bench_idem; its twin without GIN another schema
	[ "$schema" = bench_idem_nogin ] && stmts=("${stmts[@]//bench_idem./bench_idem_nogin.}")
	echo "TRUNCATE $schema.batch, $schema.batch_state_membership;"
	for s in "${stmts[@]}"; do
		k=$((k + 1))
		echo "PREPARE s$k(text, text) AS ${s%;};"
	done
	for ((i = 1; i <= n; i++)); do
		args=$(workload_args "$a" "$i")
		for ((j = 1; j <= k; j++)); do
			echo "EXECUTE s$j($args);"
		done
	done
}

# instructions_count APPROACH N: instructions (Ir) of a single-user backend
# running the workload under callgrind, as the servers' OS user
instructions_count() {
	local a=$1 n=$2 w=$CL/instructions-$1-$2
	local -a opts
	read -r -a opts <<<"$(options_of "$a")"
	instructions_workload "$a" "$n" >"$w.sql"
	chmod 644 "$w.sql"
	pgserver_as valgrind --tool=callgrind --callgrind-out-file="$w.callgrind" \
		"$PG_BIN/postgres" --single -D "$CL/data" "${opts[@]}" "$DB" <"$w.sql" >"$w.out" 2>"$w.err" ||
		die "callgrind run of $a failed: $(tail -n 5 "$w.err")"
	! grep -q ' ERROR: ' "$w.err" || die "the $a workload failed: $(grep -m 3 ' ERROR: ' "$w.err")"
	cp -f -- "$w.out" "$w.err" "$OUT/raw/" 2>/dev/null || true
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$w.err"
}

# instructions_phase: instructions.dat, instructions per lifecycle: the
# count for N2 lifecycles minus that for N1, over N2 - N1, so that startup,
# planning and shutdown cancel out.  The server is stopped for it
# (single-user mode needs the data directory).
instructions_phase() {
	local n1=200 n2=1200 a c1 c2
	[ "$MODE" = smoke ] && n1=20 n2=60
	say "instructions: callgrind, single-user backend, $n1 and $n2 lifecycles per approach"
	cluster_down
	echo "# approach instructions_per_lifecycle ($n2 - $n1 lifecycles)" >"$OUT/instructions.dat"
	for a in extension plpgsql fused_sql fused_idem shape_extension shape_idem shape_idem_nogin; do
		c1=$(instructions_count "$a" "$n1")
		c2=$(instructions_count "$a" "$n2")
		if [ -z "$c1" ] || [ -z "$c2" ]; then
			die "callgrind printed no count for $a"
		fi
		echo "$a $(((c2 - c1) / (n2 - n1)))" | tee -a "$OUT/instructions.dat" | sed 's/^/bench:   /'
	done
}
