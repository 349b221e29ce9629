#!/usr/bin/env bash
# test/upgrade/run.sh: the upgrade path and the release metadata.
# Installs the oldest release (BASE_VERSION, default 1.0) explicitly, writes
# batches, memberships and drift through its API, then walks the update path
# to the control file's default_version one ALTER EXTENSION ... UPDATE TO at
# a time.  After every step the data must be untouched, and the catalog of
# the extension (functions, tables, config-dump registration) must equal a
# fresh CREATE EXTENSION ... VERSION of that step.  Also checks META.json,
# the Makefile and the installed scripts against the control file.
# Env: PGHOST, PGPORT, PGUSER of a running cluster with batchstate installed;
# REPO, PG_BIN; SEED (integer), SCALE (batches), BASE_VERSION.
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
suite_start upgrade

SEED=${SEED:-4242}
SCALE=${SCALE:-300}
BASE_VERSION=${BASE_VERSION:-1.0}
EXT=batchstate
DB=batchstate_upgrade           # the data, walked from BASE_VERSION
DB_AUTO=batchstate_upgrade_auto # BASE_VERSION, then a bare ALTER EXTENSION UPDATE
DB_FRESH=batchstate_upgrade_fresh
HERE=$REPO/test/upgrade
TMP=$(mktemp -d)

catalog() { psql_q -d "$1" -f "$HERE/catalog.sql" >"$2"; }
# compare_catalog NAME_A FILE_A NAME_B FILE_B: one check per object
compare_catalog() {
	local out rc=0
	out=$(perl "$HERE/compare_catalog.pl" "$2" "$4" "$1" "$3") || rc=$?
	if [[ -z "$out" ]]; then
		fail "catalog comparison $1 = $3 ran (exit $rc)"
		return
	fi
	relay_checks <<<"$out"
}
# snapshot DB PREFIX: both tables and verify(), each in a fixed order
snapshot() {
	sql "$1" "COPY (SELECT * FROM $EXT.batch ORDER BY id COLLATE \"C\") TO STDOUT" >"$2.batch"
	sql "$1" "COPY (SELECT * FROM $EXT.batch_state_membership
	               ORDER BY queue COLLATE \"C\", state COLLATE \"C\", batch_id COLLATE \"C\") TO STDOUT" >"$2.membership"
	sql "$1" "COPY (SELECT * FROM $EXT.verify()) TO STDOUT" >"$2.verify"
}

# shellcheck disable=SC2317 # run by test/lib.sh when the suite exits
suite_cleanup() {
	local d
	for d in "$DB" "$DB_AUTO" "$DB_FRESH" $(sql postgres "SELECT datname FROM pg_database WHERE datname LIKE 'batchstate_upgrade_v%'" 2>/dev/null || true); do
		drop_db "$d" 2>/dev/null || true
	done
	rm -rf "$TMP"
}

seed_float=$(awk -v s="$SEED" 'BEGIN { printf "%.6f", (s % 1000000) / 1000000 }')
echo "== $SUITE: SEED=$SEED (setseed $seed_float) SCALE=$SCALE BASE_VERSION=$BASE_VERSION"

# ---------------------------------------------------------------------------
echo "== the version lives in the control file"
control_version=$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$REPO/$EXT.control")
check_eq "$EXT.control has a default_version" "$([[ -n $control_version ]] && echo yes)" yes
echo "   default_version = '$control_version'"
check_eq "the installed control file has the same default_version (make install is current)" \
	"$(sql postgres "SELECT default_version FROM pg_available_extensions WHERE name = '$EXT'")" "$control_version"

sharedir=$("$PG_BIN/pg_config" --sharedir)
for f in "$REPO/$EXT"--*.sql; do
	b=$(basename "$f")
	if cmp -s "$f" "$sharedir/extension/$b"; then pass "$b is installed unchanged"; else fail "$b is installed unchanged ($sharedir/extension/$b differs or is missing)"; fi
done
check_eq "the install script of the default version exists" \
	"$([[ -f $REPO/$EXT--$control_version.sql ]] && echo yes)" yes

if command -v make >/dev/null 2>&1; then
	mk_version=$(make -s --no-print-directory -C "$REPO" -f Makefile -f - bs-print-extversion \
		PG_CONFIG="$PG_BIN/pg_config" <<<$'bs-print-extversion:\n\t@echo $(EXTVERSION)' 2>/dev/null || true)
	check_eq "the Makefile's EXTVERSION is read from the control file" "$mk_version" "$control_version"
else
	echo "   (make not found: Makefile check skipped)"
fi

# META.json: PGXN meta spec 1.0.0 wants SemVer, so '1.1' is written '1.1.0'
semver=$(awk -v v="$control_version" 'BEGIN { n = split(v, p, "."); while (n < 3) { v = v ".0"; n++ } print v }')
meta_out=$(perl -MJSON::PP -e '
	my ($file, $ext) = @ARGV;
	open my $fh, "<:raw", $file or do { print "error\tcannot read $file\n"; exit };
	my $m = eval { JSON::PP->new->utf8->decode(do { local $/; <$fh> }) };
	unless ($m) { print "error\tnot JSON: $@\n"; exit }
	my $p = $m->{provides}{$ext} // {};
	my $pg = eval { $m->{prereqs}{runtime}{requires}{PostgreSQL} } // "";
	print join("\t", "name", $m->{name} // ""), "\n";
	print join("\t", "version", $m->{version} // ""), "\n";
	print join("\t", "provides.version", $p->{version} // ""), "\n";
	print join("\t", "provides.file", $p->{file} // ""), "\n";
	print join("\t", "meta-spec", $m->{"meta-spec"}{version} // ""), "\n";
	print join("\t", "license", ref $m->{license} ? "" : $m->{license} // ""), "\n";
	print join("\t", "maintainer", join(",", ref $m->{maintainer} ? @{ $m->{maintainer} } : $m->{maintainer} // "")), "\n";
	print join("\t", "abstract", $m->{abstract} ? "yes" : ""), "\n";
	print join("\t", "PostgreSQL", $pg), "\n";
	print join("\t", "resources", ref $m->{resources} eq "HASH" ? "yes" : ""), "\n";
	print join("\t", "generated_by", $m->{generated_by} ? "yes" : ""), "\n";
' "$REPO/META.json" "$EXT" 2>&1)
meta() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' <<<"$meta_out"; }
check_eq "META.json parses" "$(meta error)" ""
check_eq "META.json name" "$(meta name)" "$EXT"
check_eq "META.json version = control default_version as SemVer ($control_version -> $semver)" "$(meta version)" "$semver"
check_eq "META.json provides $EXT version = the distribution version" "$(meta provides.version)" "$semver"
check_eq "META.json provides $EXT file = the default version's install script" "$(meta provides.file)" "$EXT--$control_version.sql"
check_eq "META.json meta-spec version" "$(meta meta-spec)" "1.0.0"
check_eq "META.json license" "$(meta license)" "postgresql"
check_eq "META.json maintainer" "$(meta maintainer)" "batchstate developers"
check_eq "META.json has an abstract" "$(meta abstract)" "yes"
check_eq "META.json requires PostgreSQL 15 or later" "$(meta PostgreSQL)" "15.0.0"
check_eq "META.json has resources" "$(meta resources)" "yes"
check_eq "META.json has generated_by" "$(meta generated_by)" "yes"

# Released scripts are frozen: an install or upgrade script whose target
# version is older than default_version must equal its content in the commit
# that released that version, the last one whose control file still named
# it default_version (while a version is the default it is still being made).
gitr() { git -C "$REPO" -c safe.directory="$REPO" "$@"; }
control_default() { gitr show "$1:$EXT.control" 2>/dev/null | sed -n "s/^default_version *= *'\(.*\)'.*/\1/p"; }
released_commit() {
	local v=$1 c
	for c in $(gitr log --format=%H -- "$EXT.control"); do
		if [[ "$(control_default "$c")" != "$v" && "$(control_default "$c^")" == "$v" ]]; then
			gitr rev-parse "$c^"
			return
		fi
	done
	[[ "$(control_default HEAD)" == "$v" ]] && gitr rev-parse HEAD
}
if gitr rev-parse --git-dir >/dev/null 2>&1; then
	for f in "$REPO/$EXT"--*.sql; do
		b=$(basename "$f" .sql)
		target=${b##*--}
		[[ "$target" == "$control_version" ]] && continue
		released=$(released_commit "$target")
		if [[ -z "$released" ]]; then
			fail "released script $(basename "$f"): a commit made $target the default version"
		elif ! gitr cat-file -e "$released:$(basename "$f")" 2>/dev/null; then
			fail "released script $(basename "$f") was in the commit that released $target (${released:0:10})"
		elif gitr diff --quiet "$released" -- "$(basename "$f")"; then
			pass "released script $(basename "$f") is unchanged since $target was released (${released:0:10})"
		else
			fail "released script $(basename "$f") is unchanged since $target was released (${released:0:10})" \
				"$(gitr diff --stat "$released" -- "$(basename "$f")")"
		fi
	done
else
	echo "   (not a git checkout: released-script check skipped)"
fi

# ---------------------------------------------------------------------------
echo "== update paths"
while IFS=$'\t' read -r v p; do
	check_eq "an update path leads from $v to $control_version" "$([[ -n $p ]] && echo yes)" yes
done < <(sql postgres "SELECT source, coalesce(path, '') FROM pg_extension_update_paths('$EXT')
                       WHERE target = '$control_version' ORDER BY source COLLATE \"C\"")
path=$(sql postgres "SELECT path FROM pg_extension_update_paths('$EXT')
                     WHERE source = '$BASE_VERSION' AND target = '$control_version'")
if [[ "$BASE_VERSION" == "$control_version" ]]; then
	steps=()
else
	check_eq "the path from $BASE_VERSION to $control_version exists" "$([[ -n $path ]] && echo yes)" yes
	IFS=' ' read -r -a steps <<<"$(awk -F'--' '{ for (i = 2; i <= NF; i++) printf "%s ", $i }' <<<"$path")"
fi
echo "   path: ${path:-(none)}; steps: ${steps[*]:-(none)}"

# ---------------------------------------------------------------------------
echo "== $BASE_VERSION with data"
new_db "$DB"
sql "$DB" "CREATE EXTENSION $EXT VERSION '$BASE_VERSION'" >/dev/null
check_eq "CREATE EXTENSION $EXT VERSION '$BASE_VERSION' installs $BASE_VERSION" \
	"$(sql "$DB" "SELECT extversion FROM pg_extension WHERE extname = '$EXT'")" "$BASE_VERSION"
psql_q -d "$DB" -v seed="$seed_float" -v scale="$SCALE" -f "$HERE/workload.sql" >/dev/null
snapshot "$DB" "$TMP/before"
printf '%s\n' \
	$'stale\tq0\tfailed\tq0/batch/6' \
	$'stale\tq0\tmerging\tq0/batch/9' \
	$'dangling\tq1\tcreated\tq0/batch/3' \
	$'missing\tq1\tscored\tq1/batch/1' \
	$'dangling\tq2\tcreated\tdrift/ghost' \
	$'missing\tq2\tspeculating\tdrift/no-membership' >"$TMP/drift.expected"
check_same_file "the workload's deliberate drift is what verify() reports before the upgrade" \
	"$TMP/before.verify" "$TMP/drift.expected"
nb=$(wc -l <"$TMP/before.batch")
nm=$(wc -l <"$TMP/before.membership")
echo "   written: $nb batches, $nm membership rows, $(wc -l <"$TMP/before.verify") drift rows"
check_eq "the workload wrote every batch" "$nb" "$((SCALE + 6))"
states=$(sql "$DB" "SELECT count(DISTINCT state) FROM $EXT.batch")
check_eq "the workload covers all 8 states" "$states" 8
catalog "$DB" "$TMP/catalog.$BASE_VERSION"

i=0
for v in "${steps[@]}"; do
	i=$((i + 1))
	echo "== step $i: ALTER EXTENSION $EXT UPDATE TO '$v'"
	sql "$DB" "ALTER EXTENSION $EXT UPDATE TO '$v'" >/dev/null
	check_eq "after UPDATE TO '$v': extversion is $v" \
		"$(sql "$DB" "SELECT extversion FROM pg_extension WHERE extname = '$EXT'")" "$v"
	snapshot "$DB" "$TMP/after-$v"
	check_same_file "after UPDATE TO '$v': batch rows are those written (row by row)" "$TMP/after-$v.batch" "$TMP/before.batch"
	check_same_file "after UPDATE TO '$v': membership rows are those written (row by row)" "$TMP/after-$v.membership" "$TMP/before.membership"
	check_same_file "after UPDATE TO '$v': verify() reports the same drift" "$TMP/after-$v.verify" "$TMP/before.verify"

	fresh=batchstate_upgrade_v$i
	new_db "$fresh"
	sql "$fresh" "CREATE EXTENSION $EXT VERSION '$v'" >/dev/null
	catalog "$fresh" "$TMP/catalog.fresh-$v"
	catalog "$DB" "$TMP/catalog.upgraded-$v"
	echo "   catalog: $(cut -f1 "$TMP/catalog.upgraded-$v" | sort -u | wc -l) objects"
	compare_catalog "upgraded-to-$v" "$TMP/catalog.upgraded-$v" "fresh-$v" "$TMP/catalog.fresh-$v"
	drop_db "$fresh"
done

# ---------------------------------------------------------------------------
echo "== a bare ALTER EXTENSION $EXT UPDATE goes to the default version"
new_db "$DB_AUTO"
sql "$DB_AUTO" "CREATE EXTENSION $EXT VERSION '$BASE_VERSION'" >/dev/null
sql "$DB_AUTO" "ALTER EXTENSION $EXT UPDATE" >/dev/null
check_eq "ALTER EXTENSION $EXT UPDATE reaches default_version" \
	"$(sql "$DB_AUTO" "SELECT extversion FROM pg_extension WHERE extname = '$EXT'")" "$control_version"
check_eq "a second ALTER EXTENSION $EXT UPDATE is a no-op, not an error" \
	"$(sqlstate "$DB_AUTO" "ALTER EXTENSION $EXT UPDATE")" ""
new_db "$DB_FRESH"
sql "$DB_FRESH" "CREATE EXTENSION $EXT" >/dev/null
check_eq "CREATE EXTENSION $EXT installs default_version" \
	"$(sql "$DB_FRESH" "SELECT extversion FROM pg_extension WHERE extname = '$EXT'")" "$control_version"
catalog "$DB_FRESH" "$TMP/catalog.fresh"
catalog "$DB_AUTO" "$TMP/catalog.auto"
compare_catalog "updated" "$TMP/catalog.auto" "fresh" "$TMP/catalog.fresh"

# The comparison can fail: two changes made inside a rolled-back transaction
# must show up as exactly two differing objects.
{
	echo 'BEGIN;'
	echo "ALTER FUNCTION $EXT.verify(text) VOLATILE;"
	echo "ALTER TABLE $EXT.batch_state_membership SET (fillfactor = 70);"
	cat "$HERE/catalog.sql"
	echo 'ROLLBACK;'
} | psql_q -d "$DB_AUTO" >"$TMP/catalog.mutated"
mutated=$(perl "$HERE/compare_catalog.pl" "$TMP/catalog.mutated" "$TMP/catalog.fresh" mutated fresh | grep '^FAIL - ' | sed 's/^FAIL - mutated = fresh: //' | sort | tr '\n' ';' || true)
check_eq "self-test: the comparison sees a changed volatility and a changed reloption" "$mutated" \
	"function $EXT.verify(pg_catalog.text);table $EXT.batch_state_membership;"

# ---------------------------------------------------------------------------
echo "== behaviour after the upgrade"
sql "$DB" "SELECT $EXT.create_batch('after/1', 'q0', 'created', '{lr-a}', '{q0/batch/3}', 0.5)" >/dev/null
check_eq "create_batch after the upgrade" \
	"$(sql "$DB" "SELECT state || ' ' || version FROM $EXT.batch_get('after/1')")" "created 1"
check_eq "update_state after the upgrade" "$(sql "$DB" "SELECT $EXT.update_state('after/1', 1, 'scored')")" "t"
check_eq "update_score_and_state after the upgrade" \
	"$(sql "$DB" "SELECT $EXT.update_score_and_state('after/1', 2, 0.9, 'speculating')")" "t"
check_eq "a stale version still returns false" "$(sql "$DB" "SELECT $EXT.update_state('after/1', 2, 'merging')")" "f"
check_eq "a forbidden move still raises 55000" "$(sqlstate "$DB" "SELECT $EXT.update_state('after/1', 3, 'created')")" "55000"
check_eq "list_batches finds the new batch under its state" \
	"$(sql "$DB" "SELECT string_agg(id, ',') FROM $EXT.list_batches('q0', 'speculating') WHERE id LIKE 'after/%'")" "after/1"
check_eq "list_active skips a batch whose membership row is missing (hints only)" \
	"$(sql "$DB" "SELECT count(*) FROM $EXT.list_active('q1') WHERE id = 'q1/batch/1'")" "0"
snapshot "$DB" "$TMP/mid"
check_same_file "verify() after new moves: still exactly the old drift" "$TMP/mid.verify" "$TMP/before.verify"
check_eq "reconcile() repairs the drift: 2 added, 4 removed" \
	"$(sql "$DB" "SELECT added || ' ' || removed FROM $EXT.reconcile()")" "2 4"
check_eq "verify() is empty after reconcile()" "$(sql "$DB" "SELECT count(*) FROM $EXT.verify()")" "0"
check_eq "every non-terminal batch has exactly its one membership row" \
	"$(sql "$DB" "SELECT (SELECT count(*) FROM $EXT.batch_state_membership) = (SELECT count(*) FROM $EXT.batch WHERE NOT $EXT.is_terminal(state))")" "t"
sql "$DB" "COPY (SELECT * FROM $EXT.batch WHERE id <> 'after/1' ORDER BY id COLLATE \"C\") TO STDOUT" >"$TMP/end.batch"
check_same_file "reconcile() never touches a batch row" "$TMP/end.batch" "$TMP/before.batch"

suite_end
