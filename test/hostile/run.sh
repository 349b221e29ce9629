#!/usr/bin/env bash
# test/hostile/run.sh: batchstate against hostile callers.
#
#  1. catalog: no function of the extension is SECURITY DEFINER.
#  2. search_path: every function, run under
#     SET search_path = evil, pg_catalog, batchstate
#     where schema evil (sql/evil.sql) shadows the tables, the text / int4 /
#     float8 / tid / text[] comparison operators and the collation "C",
#     gives the same output as under the default path; in fresh sessions
#     and in sessions whose kept plans were first prepared under the other
#     path; also with temporary tables of the same names, and with
#     batchstate.notify_channel set.  The shadow
#     operators are never called and the shadow tables never touched.
#  3. privileges: a role with no grant gets 42501 "permission denied for
#     schema batchstate" from every function; a reader (USAGE + SELECT) can
#     call every read function in read-write and read-only transactions and
#     gets 42501 from the writes; a writer (USAGE + SELECT, INSERT, UPDATE,
#     DELETE) can call everything; a list prunes only for a writer.
#  4. bad-input corpus (corpus.pl, run by cases.pl): every function, every
#     argument, each bad value: the documented SQLSTATE or success, never
#     XX000, never a crash, nothing written by a failed call; run twice,
#     the second time with batchstate.notify_channel set (moves then take
#     the locking path and build a NOTIFY payload).
#  5. notifications: batchstate.notify_channel's bounds, and the payloads a
#     listening session receives for ids full of quotes, backslashes,
#     control and non-BMP characters: exact JSON, under NOTIFY's 8000 bytes.
#
# Environment: PGHOST, PGPORT, PGUSER (a superuser) of a running cluster
# with batchstate installed; REPO, PG_BIN.  Knobs:
#   HOSTILE_BIG_BYTES  size of the "1 MB" strings   (default 1048576)
#   HOSTILE_BIG_ELEMS  size of the "100k" arrays    (default 100000)
#   HOSTILE_KEEP=1     keep the database and the work directory
# Creates database batchstate_hostile and roles batchstate_hostile_*, and
# drops them at the end.  Last line: "hostile: N passed, M failed".
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
suite_start hostile

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
HOSTILE_BIG_BYTES=${HOSTILE_BIG_BYTES:-1048576}
HOSTILE_BIG_ELEMS=${HOSTILE_BIG_ELEMS:-100000}
HOSTILE_KEEP=${HOSTILE_KEEP:-0}
DB=batchstate_hostile
R_NOBODY=batchstate_hostile_nobody
R_USAGE=batchstate_hostile_usage
R_READER=batchstate_hostile_reader
R_WRITER=batchstate_hostile_writer
ROLES=("$R_NOBODY" "$R_USAGE" "$R_READER" "$R_WRITER")
EVIL_PATH='evil, pg_catalog, batchstate'
# shellcheck disable=SC2016 # "$user" is search_path syntax, not a shell variable
PLAIN_PATH='"$user", public'

WORK=$(mktemp -d /tmp/batchstate-hostile.XXXXXX)
# value SQL: one value from the test database, unaligned
value() { psql_x -d "$DB" -At -c "$1"; }

drop_all() {
	drop_db "$DB" 2>/dev/null || true
	local r
	for r in "${ROLES[@]}"; do
		psql_x -d postgres -c "DROP ROLE IF EXISTS $r" 2>/dev/null || true
	done
}

# HOSTILE_KEEP=1, or stopped early: keep the database and the work files
# shellcheck disable=SC2317 # run by test/lib.sh when the suite exits
suite_cleanup() {
	if [ "$HOSTILE_KEEP" = 1 ] || ((!SUITE_FINISHED)); then
		echo "# kept database $DB and $WORK"
	else
		drop_all
		rm -rf -- "$WORK"
	fi
}

echo "# hostile: server $PGHOST:$PGPORT, database $DB, big strings $HOSTILE_BIG_BYTES bytes, big arrays $HOSTILE_BIG_ELEMS elements"
drop_all
new_db "$DB"
psql_x -d "$DB" -c 'CREATE EXTENSION batchstate' -f "$HERE/sql/evil.sql" -f "$HERE/sql/helpers.sql"
started=$(value 'SELECT pg_postmaster_start_time()')

# --- 1. catalog -------------------------------------------------------------
echo "# catalog"
ext_functions="SELECT p.oid FROM pg_proc p JOIN pg_depend d
    ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
    AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'batchstate'"
check_eq "the extension has the 22 functions of API.md" \
	"$(value "SELECT count(*) FROM ($ext_functions) f")" 22
check_eq "no function of the extension is SECURITY DEFINER" \
	"$(value "SELECT coalesce(string_agg(oid::regprocedure::text, ', '), 'none')
	          FROM pg_proc WHERE prosecdef AND oid IN ($ext_functions)")" none

# --- 2. search_path ---------------------------------------------------------
echo "# search_path: schema evil first (SET search_path = $EVIL_PATH)"
decoys=$(value 'SELECT evil.md5_decoys()')
# controls: the traps are live under the evil path
control=$(psql_x -d "$DB" -At <<EOF
SET search_path = $EVIL_PATH;
SELECT hostile.try(\$\$'a'::text = 'b'::text\$\$);
SELECT hostile.try(\$\$1 = 1\$\$);
SELECT hostile.try(\$\$1.5::float8 <> 2\$\$);
SELECT hostile.try(\$\$(SELECT string_agg(x, ',' ORDER BY x COLLATE "C") FROM (VALUES ('B'), ('a')) v(x))\$\$);
SELECT hostile.try(\$\$(SELECT count(*) FROM batch)\$\$);
EOF
)
check_eq "control: under the evil path an unqualified text = hits the trap" \
	"$(sed -n 1p <<<"$control" | cut -c1-32)" "P0001: evil text operator called"
check_eq "control: under the evil path an unqualified int4 = hits the trap" \
	"$(sed -n 2p <<<"$control" | cut -c1-32)" "P0001: evil int4 operator called"
check_eq "control: under the evil path an unqualified float8 <> hits the trap" \
	"$(sed -n 3p <<<"$control" | cut -c1-34)" "P0001: evil float8 operator called"
check_eq "control: under the evil path COLLATE \"C\" is evil's (a before B)" \
	"$(sed -n 4p <<<"$control")" "ok: a,B"
check_eq "control: under the evil path an unqualified batch is evil's" \
	"$(sed -n 5p <<<"$control")" "ok: 4"
value "SELECT setval('evil.shadow_calls', 1, false)" >/dev/null

# calls.sql under PATH in a fresh session (more -f / -c arguments follow in the same session)
calls() {
	local path=$1
	shift
	psql_x -d "$DB" -v path="$path" -f "$HERE/sql/calls.sql" "$@" 2>&1
}
calls "$PLAIN_PATH" >"$WORK/plain.out" || true
calls "$EVIL_PATH" >"$WORK/evil.out" || true
calls "$EVIL_PATH" -c "\\set path '$PLAIN_PATH'" -f "$HERE/sql/calls.sql" >"$WORK/evil-then-plain.out" || true
calls "$PLAIN_PATH" -c "\\set path '$EVIL_PATH'" -f "$HERE/sql/calls.sql" >"$WORK/plain-then-evil.out" || true
psql_x -d "$DB" -f "$HERE/sql/temp_shadow.sql" -v path="$EVIL_PATH" -f "$HERE/sql/calls.sql" \
	-f "$HERE/sql/temp_check.sql" >"$WORK/temp.out" 2>&1 || true
PGOPTIONS='-c batchstate.notify_channel=hostile' calls "$PLAIN_PATH" >"$WORK/plain-notify.out" || true
PGOPTIONS='-c batchstate.notify_channel=hostile' calls "$EVIL_PATH" >"$WORK/evil-notify.out" || true
cat "$WORK/plain.out" "$WORK/plain.out" >"$WORK/plain-twice.out"

if grep -q 'ERROR' "$WORK/plain.out" || ! grep -q 'q2/x' "$WORK/plain.out"; then
	fail "calls.sql runs cleanly under the default path" "$(head -n 40 "$WORK/plain.out")"
else
	pass "calls.sql runs cleanly under the default path ($(wc -l <"$WORK/plain.out") lines of output)"
fi
check_same_file "evil path, fresh session: same output as the default path" \
	"$WORK/evil.out" "$WORK/plain.out"
check_same_file "evil path then default path in one session (plans first prepared under evil)" \
	"$WORK/evil-then-plain.out" "$WORK/plain-twice.out"
check_same_file "default path then evil path in one session (plans first prepared under the default)" \
	"$WORK/plain-then-evil.out" "$WORK/plain-twice.out"
check_same_file "evil path with batchstate.notify_channel set (every move on the slow path): same output" \
	"$WORK/evil-notify.out" "$WORK/plain-notify.out"
head -n -1 "$WORK/temp.out" >"$WORK/temp-calls.out"
check_same_file "evil path and temporary tables batch, batch_state_membership: same output" \
	"$WORK/temp-calls.out" "$WORK/plain.out"
check_eq "the temporary decoy tables are untouched" \
	"$(tail -n 1 "$WORK/temp.out")" \
	"(q1/b1,q1,{temp},{},0.33,merging,33)|(q1/temp,q1,{temp},{},0.33,created,33)#(q1,created,q1/temp)|(q1,merging,q1/b1)|(q1,succeeded,q1/temp)"
check_eq "no shadow operator was ever called (evil.shadow_calls unused)" \
	"$(value 'SELECT is_called FROM evil.shadow_calls')" f
check_eq "the shadow tables evil.batch, evil.batch_state_membership are untouched" \
	"$(value 'SELECT evil.md5_decoys()')" "$decoys"

# --- 3. privileges ----------------------------------------------------------
echo "# privileges: $R_NOBODY (no grant), $R_USAGE (USAGE only), $R_READER, $R_WRITER"
psql_x -d "$DB" <<EOF
SET client_min_messages = warning;
CREATE ROLE $R_NOBODY;
CREATE ROLE $R_USAGE;
CREATE ROLE $R_READER;
CREATE ROLE $R_WRITER;
-- the GRANTs of the README
GRANT USAGE ON SCHEMA batchstate TO $R_USAGE, $R_READER, $R_WRITER;
GRANT SELECT ON batchstate.batch, batchstate.batch_state_membership TO $R_READER;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON batchstate.batch, batchstate.batch_state_membership TO $R_WRITER;
EOF

check_eq "PUBLIC has no privilege on schema batchstate or its tables" \
	"$(value "SELECT has_schema_privilege('$R_NOBODY', 'batchstate', 'USAGE')
	          OR has_table_privilege('$R_NOBODY', 'batchstate.batch', 'SELECT, INSERT, UPDATE, DELETE')
	          OR has_table_privilege('$R_NOBODY', 'batchstate.batch_state_membership',
	                                 'SELECT, INSERT, UPDATE, DELETE')")" f

POLICY_READS=(
	"SELECT * FROM batchstate.states()"
	"SELECT batchstate.is_valid_state('created')"
	"SELECT batchstate.is_terminal('failed')"
	"SELECT batchstate.is_halted('merging')"
	"SELECT batchstate.non_terminal_states()"
	"SELECT batchstate.conflict_states()"
	"SELECT batchstate.can_transition('created', 'scored')"
)
TABLE_READS=(
	"SELECT * FROM batchstate.batch_get('q1/b1')"
	"SELECT * FROM batchstate.membership_list_ids('q1', 'created')"
	"SELECT * FROM batchstate.list_batches('q1', 'created', 'succeeded')"
	"SELECT * FROM batchstate.list_active('q1')"
	"SELECT * FROM batchstate.verify()"
	"SELECT * FROM batchstate.verify('q1')"
)
WRITES=(
	"SELECT batchstate.batch_create('q1/new', 'q1', 'created')"
	"SELECT batchstate.batch_update_state('q1/b1', 1, 2, 'scored')"
	"SELECT batchstate.batch_update_score_and_state('q1/b1', 1, 2, 0.5, 'scored')"
	"SELECT batchstate.membership_add('q1', 'created', 'q1/new')"
	"SELECT batchstate.membership_remove('q1', 'created', 'q1/b1')"
	"SELECT * FROM batchstate.create_batch('q1/new', 'q1')"
	"SELECT batchstate.update_state('q1/b1', 1, 'scored')"
	"SELECT batchstate.update_score_and_state('q1/b1', 1, 0.5, 'scored')"
	"SELECT batchstate.ensure_membership('q1/lost')"
	"SELECT * FROM batchstate.reconcile('q1')"
	"SELECT * FROM batchstate.reconcile()"
)
# case ROLE MODE EXPECT SQL
case_line() {
	local label=${4#SELECT }
	label=${label#\* FROM }
	label=${label#batchstate.}
	printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$1" "$2" "$3" "$4"
}
{
	nobody='42501:permission denied for schema batchstate'
	for q in "${POLICY_READS[@]}" "${TABLE_READS[@]}" "${WRITES[@]}"; do
		case_line "$R_NOBODY" rw "$nobody" "$q"
	done
	case_line "$R_NOBODY" ro "$nobody" "SELECT * FROM batchstate.batch_get('q1/b1')"
	case_line "$R_NOBODY" rw "$nobody" "SELECT * FROM batchstate.batch_get(NULL)"
	for q in "${POLICY_READS[@]}"; do
		case_line "$R_USAGE" rw ok "$q"
	done
	case_line "$R_USAGE" rw "42501:permission denied for table batch" \
		"SELECT * FROM batchstate.batch_get('q1/b1')"
	case_line "$R_USAGE" rw "42501:permission denied for table batch_state_membership" \
		"SELECT * FROM batchstate.membership_list_ids('q1', 'created')"
	case_line "$R_USAGE" rw "42501:permission denied for table" \
		"SELECT * FROM batchstate.list_active('q1')"
	case_line "$R_USAGE" rw "42501:permission denied for table" \
		"SELECT * FROM batchstate.verify()"
	for mode in rw ro; do
		for q in "${POLICY_READS[@]}" "${TABLE_READS[@]}"; do
			case_line "$R_READER" "$mode" ok "$q"
		done
	done
	for q in "${WRITES[@]}"; do
		case_line "$R_READER" rw "42501:permission denied for table" "$q"
	done
	for q in "${POLICY_READS[@]}" "${TABLE_READS[@]}" "${WRITES[@]}"; do
		case_line "$R_WRITER" rw ok "$q"
	done
	for q in "${POLICY_READS[@]}" "${TABLE_READS[@]}"; do
		case_line "$R_WRITER" ro ok "$q"
	done
	for q in "${WRITES[@]}"; do
		case_line "$R_WRITER" ro 25006 "$q"
	done
} >"$WORK/privileges.tsv"

# run_cases FILE [LABEL [PGOPTIONS]]: cases.pl's checks count as ours
run_cases() {
	local name
	name=$(basename "$1" .tsv)${2:+-$2}
	run_driver cases env HOSTILE_DB="$DB" HOSTILE_LOG="$WORK/$name.log" HOSTILE_LABEL="${2:+[$2]}" \
		PGOPTIONS="${3:-}" perl "$HERE/cases.pl" "$1"
}
run_cases "$WORK/privileges.tsv"

# the prune of a list needs the writer's privileges and a read-write transaction
prune=$(psql_x -d "$DB" -At <<EOF
SELECT hostile.reset();
SET ROLE $R_READER;
SELECT count(*) FROM batchstate.list_batches('q1', 'succeeded');
RESET ROLE;
SELECT count(*) FROM batchstate.membership_list_ids('q1', 'succeeded');
SET ROLE $R_WRITER;
BEGIN READ ONLY;
SELECT count(*) FROM batchstate.list_batches('q1', 'succeeded');
COMMIT;
RESET ROLE;
SELECT count(*) FROM batchstate.membership_list_ids('q1', 'succeeded');
SET ROLE $R_WRITER;
SELECT count(*) FROM batchstate.list_batches('q1', 'succeeded');
RESET ROLE;
SELECT count(*) FROM batchstate.membership_list_ids('q1', 'succeeded');
EOF
)
check_eq "a reader's list returns the terminal batch and leaves its row" \
	"$(sed -n 2,3p <<<"$prune" | paste -sd,)" "1,1"
check_eq "a writer's list in a read-only transaction leaves the row" \
	"$(sed -n 4,5p <<<"$prune" | paste -sd,)" "1,1"
check_eq "a writer's list in a read-write transaction prunes the row" \
	"$(sed -n 6,7p <<<"$prune" | paste -sd,)" "1,0"

# --- 4. bad-input corpus ----------------------------------------------------
echo "# bad-input corpus: every function, every argument, each bad value"
perl "$HERE/corpus.pl" "$HOSTILE_BIG_BYTES" "$HOSTILE_BIG_ELEMS" >"$WORK/corpus.tsv"
echo "# $(wc -l <"$WORK/corpus.tsv") calls"
run_cases "$WORK/corpus.tsv"
echo "# the corpus again with batchstate.notify_channel set: creates and moves build a NOTIFY payload"
run_cases "$WORK/corpus.tsv" notify '-c batchstate.notify_channel=hostile'

# --- 5. notifications -------------------------------------------------------
echo "# batchstate.notify_channel: its values, and the payloads of hostile ids"
run_cases "$HERE/notify.tsv"
psql_x -d "$DB" -f "$HERE/sql/payloads.sql" >"$WORK/payloads.out" 2>&1 || true
perl "$HERE/payloads.pl" <"$WORK/payloads.out" >"$WORK/payloads.checks"
check_eq "a listening session gets six notifications for three creates and three moves" \
	"$(sed -n 1p "$WORK/payloads.checks")" "payloads 6"
check_eq "an id with quotes, backslash, control, non-BMP and U+2028 characters: exact JSON" \
	"$(sed -n 2,3p "$WORK/payloads.checks" | paste -sd' ')" "good 0 good 1"
check_eq "a 1024-byte id of control characters (6 kB escaped): JSON without the queue, under 8000 bytes" \
	"$(sed -n 4,5p "$WORK/payloads.checks" | paste -sd' ')" "good 2 good 3"
check_eq "a 1024-byte id of four-byte characters, a queue of 1024 quotes (2 kB escaped): exact JSON with the queue" \
	"$(sed -n 6,7p "$WORK/payloads.checks" | paste -sd' ')" "good 4 good 5"

# --- the server -------------------------------------------------------------
check_eq "the postmaster was not restarted" "$(value 'SELECT pg_postmaster_start_time()')" "$started"

suite_end
