#!/usr/bin/env bash
# test/dump/run.sh: pg_dump and restore of a database using batchstate.
# A database with batches in every state, memberships and deliberate drift
# is dumped in plain, custom and directory format and restored into fresh
# databases.  Each copy must hold the same rows (row by row), the same
# extension version and catalog (grants included), report the same drift
# from verify() (kept, not silently repaired), and still work.  A dump
# taken at the oldest release restores as the default version.
# Env: PGHOST, PGPORT, PGUSER of a running cluster with batchstate installed;
# REPO, PG_BIN; SEED (integer), SCALE (batches), JOBS (parallel restore).
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
suite_start dump

SEED=${SEED:-777}
SCALE=${SCALE:-500}
JOBS=${JOBS:-2}
BASE_VERSION=${BASE_VERSION:-1.0}
EXT=batchstate
DB=batchstate_dump
ROLE=batchstate_dump_reader
UPGRADE_DIR=$REPO/test/upgrade # catalog.sql, compare_catalog.pl, workload.sql
TMP=$(mktemp -d)
chmod 755 "$TMP"

catalog() { psql_q -d "$1" -f "$UPGRADE_DIR/catalog.sql" >"$2"; }
compare_catalog() {
	local out rc=0
	out=$(perl "$UPGRADE_DIR/compare_catalog.pl" "$2" "$4" "$1" "$3") || rc=$?
	if [[ -z "$out" ]]; then
		fail "catalog comparison $1 = $3 ran (exit $rc)"
		return
	fi
	# one summary line per comparison; the differing objects in full
	local good bad
	good=$(grep -c '^ok - ' <<<"$out" || true)
	bad=$(grep -c '^FAIL - ' <<<"$out" || true)
	if ((bad == 0)); then pass "catalog of $1 = catalog of $3 ($good objects)"; else
		fail "catalog of $1 = catalog of $3 ($bad of $((good + bad)) objects differ)" \
			"$(grep -v '^ok - ' <<<"$out")"
	fi
}
snapshot() {
	sql "$1" "COPY (SELECT * FROM $EXT.batch ORDER BY id COLLATE \"C\") TO STDOUT" >"$2.batch"
	sql "$1" "COPY (SELECT * FROM $EXT.batch_state_membership
	               ORDER BY queue COLLATE \"C\", state COLLATE \"C\", batch_id COLLATE \"C\") TO STDOUT" >"$2.membership"
	sql "$1" "COPY (SELECT * FROM $EXT.verify()) TO STDOUT" >"$2.verify"
	sql "$1" "SELECT extversion FROM pg_extension WHERE extname = '$EXT'" >"$2.version"
}

DBS=("$DB" "${DB}_plain" "${DB}_custom" "${DB}_directory" "${DB}_old" "${DB}_old_restored")
# shellcheck disable=SC2317 # run by test/lib.sh when the suite exits
suite_cleanup() {
	local d
	for d in "${DBS[@]}"; do drop_db "$d" 2>/dev/null || true; done
	psql_q -d postgres -c "DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}

seed_float=$(awk -v s="$SEED" 'BEGIN { printf "%.6f", (s % 1000000) / 1000000 }')
echo "== $SUITE: SEED=$SEED (setseed $seed_float) SCALE=$SCALE JOBS=$JOBS"

# ---------------------------------------------------------------------------
echo "== the source database"
new_db "$DB"
psql_q -d postgres -c "DROP ROLE IF EXISTS $ROLE" >/dev/null
psql_q -d postgres -c "CREATE ROLE $ROLE NOLOGIN" >/dev/null
sql "$DB" "CREATE EXTENSION $EXT" >/dev/null
psql_q -d "$DB" -v seed="$seed_float" -v scale="$SCALE" -f "$UPGRADE_DIR/workload.sql" >/dev/null
# a grant on the extension's tables is the user's own and must survive too
sql "$DB" "GRANT USAGE ON SCHEMA $EXT TO $ROLE; GRANT SELECT ON $EXT.batch, $EXT.batch_state_membership TO $ROLE" >/dev/null
snapshot "$DB" "$TMP/src"
catalog "$DB" "$TMP/src.catalog"
echo "   $(wc -l <"$TMP/src.batch") batches, $(wc -l <"$TMP/src.membership") membership rows, $(wc -l <"$TMP/src.verify") drift rows, version $(cat "$TMP/src.version")"
check_eq "the source has drift to preserve" "$(wc -l <"$TMP/src.verify")" 6
check_eq "the source has batches in all 8 states" "$(sql "$DB" "SELECT count(DISTINCT state) FROM $EXT.batch")" 8

echo "== pg_dump"
check_cmd "pg_dump, plain format" "$PG_BIN/pg_dump" -d "$DB" -Fp -f "$TMP/dump.sql"
check_cmd "pg_dump, custom format" "$PG_BIN/pg_dump" -d "$DB" -Fc -f "$TMP/dump.custom"
check_cmd "pg_dump, directory format with $JOBS jobs" "$PG_BIN/pg_dump" -d "$DB" -Fd -j "$JOBS" -f "$TMP/dump.dir"
check_eq "the plain dump creates the extension" \
	"$(grep -c "^CREATE EXTENSION IF NOT EXISTS $EXT WITH SCHEMA $EXT;" "$TMP/dump.sql" || true)" 1
check_eq "the plain dump has no function of the extension (CREATE EXTENSION makes them)" \
	"$(grep -c "^CREATE FUNCTION $EXT\." "$TMP/dump.sql" || true)" 0
check_eq "the plain dump has no CREATE TABLE of the extension's tables" \
	"$(grep -c "^CREATE TABLE $EXT\." "$TMP/dump.sql" || true)" 0
check_eq "the plain dump carries the rows of both tables" \
	"$(grep -c "^COPY $EXT\.\(batch\|batch_state_membership\) " "$TMP/dump.sql" || true)" 2

echo "== restore"
new_db "${DB}_plain"
check_cmd "restore the plain dump with psql (ON_ERROR_STOP)" \
	psql_q -d "${DB}_plain" -f "$TMP/dump.sql"
new_db "${DB}_custom"
check_cmd "restore the custom dump with pg_restore --exit-on-error" \
	"$PG_BIN/pg_restore" --exit-on-error -d "${DB}_custom" "$TMP/dump.custom"
new_db "${DB}_directory"
check_cmd "restore the directory dump with pg_restore -j $JOBS --exit-on-error" \
	"$PG_BIN/pg_restore" --exit-on-error -j "$JOBS" -d "${DB}_directory" "$TMP/dump.dir"

for kind in plain custom directory; do
	d=${DB}_$kind
	echo "== the $kind copy"
	snapshot "$d" "$TMP/$kind"
	check_eq "$kind: extension version as in the source" "$(cat "$TMP/$kind.version")" "$(cat "$TMP/src.version")"
	check_same_file "$kind: batch rows equal the source (row by row)" "$TMP/$kind.batch" "$TMP/src.batch"
	check_same_file "$kind: membership rows equal the source (row by row)" "$TMP/$kind.membership" "$TMP/src.membership"
	check_same_file "$kind: verify() reports the same drift (kept, not repaired)" "$TMP/$kind.verify" "$TMP/src.verify"
	catalog "$d" "$TMP/$kind.catalog"
	compare_catalog "$kind" "$TMP/$kind.catalog" "source" "$TMP/src.catalog"
	check_eq "$kind: the reader's grant survived" \
		"$(sql "$d" "SELECT has_table_privilege('$ROLE', '$EXT.batch', 'SELECT') AND NOT has_table_privilege('$ROLE', '$EXT.batch', 'INSERT')")" "t"

	# behaviour: a lifecycle, the rules, and the repair
	sql "$d" "SELECT $EXT.create_batch('restored/1', 'q0', 'created', '{lr-r}', '{}', 0.1)" >/dev/null
	check_eq "$kind: create_batch works" "$(sql "$d" "SELECT state || ' ' || version FROM $EXT.batch_get('restored/1')")" "created 1"
	check_eq "$kind: a taken id raises 23505" "$(sqlstate "$d" "SELECT $EXT.create_batch('q0/batch/3', 'q0')")" "23505"
	check_eq "$kind: update_state works" "$(sql "$d" "SELECT $EXT.update_state('restored/1', 1, 'speculating')")" "t"
	check_eq "$kind: update_score_and_state works" \
		"$(sql "$d" "SELECT $EXT.update_score_and_state('restored/1', 2, 0.8, 'merging')")" "t"
	check_eq "$kind: a stale version returns false" "$(sql "$d" "SELECT $EXT.update_state('restored/1', 2, 'failed')")" "f"
	check_eq "$kind: a forbidden move raises 55000" "$(sqlstate "$d" "SELECT $EXT.update_state('restored/1', 3, 'scored')")" "55000"
	check_eq "$kind: a restored batch moves on from its restored version" \
		"$(sql "$d" "SELECT $EXT.update_state(id, version, 'failed') FROM $EXT.batch WHERE id = 'q0/batch/3'")" "t"
	check_eq "$kind: list_batches sees the new batch" \
		"$(sql "$d" "SELECT string_agg(id, ',') FROM $EXT.list_batches('q0', 'merging') WHERE id LIKE 'restored/%'")" "restored/1"
	check_eq "$kind: update_state to a terminal state works" "$(sql "$d" "SELECT $EXT.update_state('restored/1', 3, 'succeeded')")" "t"
	check_eq "$kind: reconcile() repairs the preserved drift (2 added, 4 removed)" \
		"$(sql "$d" "SELECT added || ' ' || removed FROM $EXT.reconcile()")" "2 4"
	check_eq "$kind: verify() is empty afterwards" "$(sql "$d" "SELECT count(*) FROM $EXT.verify()")" "0"
done

# ---------------------------------------------------------------------------
echo "== a dump of $BASE_VERSION restores as the default version"
control_version=$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$REPO/$EXT.control")
new_db "${DB}_old"
sql "${DB}_old" "CREATE EXTENSION $EXT VERSION '$BASE_VERSION'" >/dev/null
psql_q -d "${DB}_old" -v seed="$seed_float" -v scale=60 -f "$UPGRADE_DIR/workload.sql" >/dev/null
snapshot "${DB}_old" "$TMP/old"
check_cmd "pg_dump of a $BASE_VERSION database" "$PG_BIN/pg_dump" -d "${DB}_old" -Fc -f "$TMP/old.custom"
new_db "${DB}_old_restored"
check_cmd "pg_restore of the $BASE_VERSION dump" "$PG_BIN/pg_restore" --exit-on-error -d "${DB}_old_restored" "$TMP/old.custom"
snapshot "${DB}_old_restored" "$TMP/old_restored"
check_eq "the $BASE_VERSION dump restores as default_version $control_version (pg_dump records no version)" \
	"$(cat "$TMP/old_restored.version")" "$control_version"
check_same_file "the $BASE_VERSION dump: batch rows intact" "$TMP/old_restored.batch" "$TMP/old.batch"
check_same_file "the $BASE_VERSION dump: membership rows intact" "$TMP/old_restored.membership" "$TMP/old.membership"
check_same_file "the $BASE_VERSION dump: same drift" "$TMP/old_restored.verify" "$TMP/old.verify"

suite_end
