#!/usr/bin/env bash
# test/router/run.sh: batchstate_router (router/) end to end.  Starts three
# throwaway PostgreSQL 15 clusters on one machine (a router and two shards),
# runs lifecycles of many queues through the router, stops and restarts a
# shard, and moves a partition with the recipe of router/README.md.
#
# Environment (all optional):
#   REPO                 repository root (default: two levels up)
#   PG_BIN               PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#   ROUTER_PORT          first of three ports: router, shard 0, shard 1 (default 5461)
#   ROUTER_QUEUES        how many queues the workload uses (default 50)
#   ROUTER_SEED          seed of the workload (default 6)
#   ROUTER_INSTALL       1 (default): `make install` router/ first; 0: it is installed
#   ROUTER_KEEP          1: leave the clusters' directory behind (they are stopped)
#   ROUTER_WORKDIR       parent of the clusters' directory (default /tmp)
#
# The last line is "router: N passed, M failed"; exit 0 iff M = 0 and N > 0.
set -Eeuo pipefail

# shellcheck source=test/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"
suite_start router

ROUTER_PORT=${ROUTER_PORT:-5461}
ROUTER_QUEUES=${ROUTER_QUEUES:-50}
ROUTER_SEED=${ROUTER_SEED:-6}
ROUTER_INSTALL=${ROUTER_INSTALL:-1}
ROUTER_KEEP=${ROUTER_KEEP:-0}
ROUTER_WORKDIR=${ROUTER_WORKDIR:-/tmp}

say() { printf '# %s\n' "$*"; }

for v in ROUTER_PORT ROUTER_QUEUES ROUTER_SEED; do
	[[ ${!v} =~ ^[0-9]+$ ]] || bail "$v must be a number, not \"${!v}\""
done
((ROUTER_QUEUES >= 4)) || bail "ROUTER_QUEUES must be at least 4, not $ROUTER_QUEUES"

# as_pg's prefix (test/lib.sh), for a command line that psql runs
AS_PG_TEXT=${AS_PG[*]:+${AS_PG[*]} }

NAMES=(router shard0 shard1)
PORTS=("$ROUTER_PORT" "$((ROUTER_PORT + 1))" "$((ROUTER_PORT + 2))")
WORK=''
RDB=batchstate_router SDB=batchstate_router_shard

# shellcheck disable=SC2317 # run by test/lib.sh when the suite exits
suite_cleanup() {
	local i
	[ -n "$WORK" ] || return 0
	for i in 0 1 2; do
		server_stop "$WORK/${NAMES[i]}/data" immediate
	done
	if [ "$ROUTER_KEEP" = 1 ]; then
		say "clusters stopped; their directory is kept: $WORK"
	else
		rm -rf -- "$WORK"
	fi
}

# conninfo N: connection string of cluster N's test database
conninfo() {
	local db=$SDB
	(($1 == 0)) && db=$RDB
	printf 'host=%s port=%s dbname=%s user=postgres' "$WORK/${NAMES[$1]}" "${PORTS[$1]}" "$db"
}
# part N: connection string of shard N's database as the router's partitions
# name it: no user=, so that PL/Proxy connects as the calling role
part() {
	printf 'host=%s port=%s dbname=%s' "$WORK/${NAMES[$1]}" "${PORTS[$1]}" "$SDB"
}
# q N SQL...: run SQL on cluster N's test database, unaligned, tuples only
q() {
	local n=$1
	shift
	psql_q -A -t -d "$(conninfo "$n")" "$@"
}
rq() { q 0 -c "$1"; }
sq() { q "$(($1 + 1))" -c "$2"; }
# pg_start N, pg_stop N: start or stop cluster N
pg_start() {
	server_start "$WORK/${NAMES[$1]}/data" "$WORK/${NAMES[$1]}/log" \
		-o "-p ${PORTS[$1]} -k $WORK/${NAMES[$1]} -c listen_addresses='' -c fsync=off"
}
pg_stop() { server_stop "$WORK/${NAMES[$1]}/data" fast; }

say "batchstate_router suite: seed $ROUTER_SEED, $ROUTER_QUEUES queues, ports ${PORTS[*]} (router, shard 0, shard 1)"

# --- install -----------------------------------------------------------------

SHAREDIR=$("$PG_BIN/pg_config" --sharedir)
[ -f "$SHAREDIR/extension/plproxy.control" ] ||
	bail "PL/Proxy is installed" "missing $SHAREDIR/extension/plproxy.control: apt-get install postgresql-15-plproxy"
[ -f "$SHAREDIR/extension/batchstate.control" ] ||
	bail "batchstate is installed" "missing $SHAREDIR/extension/batchstate.control: make install in $REPO"
if [ "$ROUTER_INSTALL" = 1 ]; then
	if ! out=$(flock /tmp/batchstate-build.lock make -s -C "$REPO/router" --no-print-directory \
		PG_CONFIG="$PG_BIN/pg_config" install 2>&1); then
		bail "make install of router/" "$out"
	fi
fi
[ -f "$SHAREDIR/extension/batchstate_router.control" ] ||
	bail "batchstate_router is installed" "missing $SHAREDIR/extension/batchstate_router.control"

# --- three clusters ----------------------------------------------------------

WORK=$(mktemp -d "$ROUTER_WORKDIR/bs-router.XXXXXX")
chmod 755 "$WORK"
for n in "${NAMES[@]}"; do mkdir -p "$WORK/$n"; done
((EUID == 0)) && chown -R postgres "$WORK"
say "clusters in $WORK"
pids=()
for i in 0 1 2; do
	server_init "$WORK/${NAMES[i]}/data" "$WORK/${NAMES[i]}/initdb.log" --no-sync &
	pids+=($!)
done
ok=1
for i in 0 1 2; do wait "${pids[i]}" || ok=0; done
for i in 0 1 2; do ((ok)) && { pg_start "$i" || ok=0; }; done
if ((ok)); then
	pass "three clusters up: router :${PORTS[0]}, shard 0 :${PORTS[1]}, shard 1 :${PORTS[2]}"
else
	bail "three clusters up" "$(tail -n 5 "$WORK"/*/initdb.log "$WORK"/*/log 2>/dev/null)"
fi

for i in 1 2; do
	psql_x -d "host=$WORK/${NAMES[i]} port=${PORTS[i]} dbname=postgres user=postgres" \
		-c "CREATE DATABASE $SDB" >/dev/null
done
psql_x -d "host=$WORK/router port=${PORTS[0]} dbname=postgres user=postgres" \
	-c "CREATE DATABASE $RDB" >/dev/null

if out=$(sq 0 "CREATE EXTENSION batchstate" 2>&1 && sq 1 "CREATE EXTENSION batchstate" 2>&1); then
	pass "CREATE EXTENSION batchstate on both shards"
else
	bail "CREATE EXTENSION batchstate on both shards" "$out"
fi
if out=$(rq "CREATE EXTENSION batchstate_router CASCADE" 2>&1 &&
	rq "SELECT batchstate_router.configure(ARRAY['$(part 1)', '$(part 2)'])" 2>&1); then
	check_eq "CREATE EXTENSION batchstate_router CASCADE on the router; configure() sets 2 partitions" "$out" 2
else
	bail "CREATE EXTENSION batchstate_router on the router" "$out"
fi

# Test helpers in the router database (public schema): err(sql) runs sql and
# returns 'SQLSTATE message | hint', or 'no error'.
rq "CREATE FUNCTION public.err(sql text) RETURNS text LANGUAGE plpgsql AS \$f\$
DECLARE s text; m text; h text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
    RETURN s || ' ' || m || ' | ' || h;
END \$f\$" >/dev/null

# --- the router has the API of a shard ---------------------------------------

got=$(psql -X -A -t -q -d "$(conninfo 1)" -c "CREATE EXTENSION batchstate_router CASCADE" 2>&1 || true)
check_match "batchstate_router refuses a database that has batchstate" \
	"$got" \
	'cannot be installed in a database that has the extension batchstate'

SIG="SELECT string_agg(format('%s(%s) -> %s strict=%s set=%s', p.proname,
        pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), p.proisstrict, p.proretset),
        E'\n' ORDER BY p.proname, pg_get_function_arguments(p.oid))
   FROM pg_proc p WHERE p.pronamespace = 'batchstate'::regnamespace"
check_eq "router schema batchstate: same function names, arguments, defaults and results as a shard" \
	"$(rq "$SIG")" "$(sq 0 "$SIG")"
TYPE="SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
   FROM pg_attribute a WHERE a.attrelid = 'batchstate.batch'::regclass AND a.attnum > 0 AND NOT a.attisdropped"
check_eq "router type batchstate.batch has the columns of the shards' table" "$(rq "$TYPE")" "$(sq 0 "$TYPE")"

POLICY="SELECT (SELECT string_agg(s::text, ';') FROM batchstate.states() s)
     || ' ' || batchstate.non_terminal_states()::text || ' ' || batchstate.conflict_states()::text
     || ' ' || (SELECT string_agg(a.state || '>' || b.state || '=' || batchstate.can_transition(a.state, b.state), ',')
                  FROM batchstate.states() a, batchstate.states() b)
     || ' ' || batchstate.is_valid_state('nope') || batchstate.is_terminal('failed') || batchstate.is_halted('cancelling')"
check_eq "policy on the router (batchstate's C functions, no shard asked) answers as on a shard" \
	"$(rq "$POLICY")" "$(sq 0 "$POLICY")"

# --- workload: lifecycles of many queues ---------------------------------------

# The plan: queues with ids of every shape the router must parse (a queue may
# contain "/" and even "/batch/<n>"), 2 to 5 batches each, each batch on one
# of nine lifecycle paths.  final/version/score: what the batch must end as.
rq "CREATE TABLE public.plan (queue text, id text, path text[], final text, version integer, score float8)" >/dev/null
q 0 -c "SELECT setseed(1.0 / ($ROUTER_SEED + 2))" -c "WITH paths(k, path) AS (VALUES
        (0, '{}'::text[]), (1, '{scored}'), (2, '{scored,speculating}'),
        (3, '{scored,speculating,merging}'), (4, '{scored,speculating,merging,succeeded}'),
        (5, '{speculating,merging,failed}'), (6, '{cancelling,cancelled}'),
        (7, '{scored,cancelling,succeeded}'), (8, '{scored,scored,speculating,merging,cancelling}')),
    queues AS (
        SELECT CASE i % 4 WHEN 0 THEN 'q' || i WHEN 1 THEN 'org' || i || '/repo'
                          WHEN 2 THEN 'mono/batch/' || i ELSE 'team ' || i || '/batch/x' END AS queue,
               2 + floor(random() * 4)::int AS nb
          FROM generate_series(1, $ROUTER_QUEUES) i),
    batches AS (
        SELECT q.queue, q.queue || '/batch/' || b AS id, floor(random() * 9)::int AS k,
               round(random()::numeric, 3)::float8 AS s
          FROM queues q, generate_series(1, q.nb) b)
    INSERT INTO public.plan
    SELECT b.queue, b.id, p.path, coalesce(p.path[cardinality(p.path)], 'created'),
           1 + cardinality(p.path), CASE WHEN 'scored' = ANY (p.path) THEN b.s ELSE 0 END
      FROM batches b JOIN paths p USING (k)" >/dev/null
say "plan: $(rq "SELECT count(DISTINCT queue) || ' queues, ' || count(*) || ' batches, ' || sum(cardinality(path)) || ' moves' FROM public.plan")"

WORKLOAD="DO \$w\$
DECLARE
    r record; v integer; st text; ok boolean; row batchstate.batch;
BEGIN
    FOR r IN SELECT * FROM public.plan ORDER BY queue, id LOOP
        row := batchstate.create_batch(r.id, r.queue);
        ASSERT row.id = r.id AND row.queue = r.queue AND row.state = 'created' AND row.version = 1,
               format('create_batch(%L) returned %s', r.id, row);
        v := 1;
        FOREACH st IN ARRAY r.path LOOP
            IF st = 'scored' THEN
                ok := batchstate.update_score_and_state(r.id, v, r.score, st);
            ELSE
                ok := batchstate.update_state(r.id, v, st);
            END IF;
            ASSERT ok, format('moving %s to %s at version %s returned false', r.id, st, v);
            v := v + 1;
        END LOOP;
        ok := batchstate.update_state(r.id, v + 1, 'failed');
        ASSERT NOT ok, format('a stale version moved %s', r.id);
    END LOOP;
END
\$w\$"
if out=$(rq "$WORKLOAD" 2>&1); then
	pass "lifecycles of $ROUTER_QUEUES queues through the router (create_batch, update_state, update_score_and_state, stale versions lose)"
else
	fail "lifecycles of $ROUTER_QUEUES queues through the router" "$out"
fi

# primitives through the router, in a queue of their own
out=$(rq "SELECT batchstate.batch_create('prim/batch/1', 'prim', 'scored', '{lr1,lr2}', '{}', 0.5, 1);
SELECT batchstate.batch_update_state('prim/batch/1', 1, 2, 'merging');
SELECT batchstate.batch_update_state('prim/batch/1', 1, 2, 'merging');
SELECT batchstate.batch_update_score_and_state('prim/batch/1', 2, 3, 0.25, 'failed');
SELECT batchstate.membership_add('prim', 'merging', 'prim/batch/1');
SELECT string_agg(x, ',') FROM batchstate.membership_list_ids('prim', 'merging') x;
SELECT batchstate.membership_remove('prim', 'merging', 'prim/batch/1');
SELECT count(*) FROM batchstate.membership_list_ids('prim', 'merging');
SELECT b.contains::text || b.score || b.state || b.version FROM batchstate.batch_get('prim/batch/1') b" 2>&1 | tr '\n' ' ') || true
check_eq "primitives through the router: batch_create, batch_update_*, membership_add/list/remove, batch_get" \
	"$out" \
	" t f t  prim/batch/1  0 {lr1,lr2}0.25failed3 "
rq "INSERT INTO public.plan VALUES ('prim', 'prim/batch/1', '{}', 'failed', 3, 0.25)" >/dev/null

# check_plan NAME: every planned batch reads back through the router as planned
PLAN_CHECK="SELECT count(*) || ' batches, ' || count(*) FILTER (WHERE
        (b.id, b.queue, b.state, b.version, b.score) IS DISTINCT FROM (p.id, p.queue, p.final, p.version, p.score))
        || ' differ' FROM public.plan p LEFT JOIN LATERAL batchstate.batch_get(p.id) b ON true"
check_plan() {
	local want got
	want="$(rq "SELECT count(*) FROM public.plan") batches, 0 differ"
	got=$(rq "$PLAN_CHECK" 2>&1) || true
	check_eq "$1" "$got" "$want"
}
check_plan "batch_get through the router: every batch has its planned state, version and score"

ACTIVE_CHECK="SELECT count(*) FILTER (WHERE e.ids IS DISTINCT FROM g.ids) || ' of ' || count(*) || ' queues differ'
  FROM (SELECT DISTINCT queue FROM public.plan) q
  CROSS JOIN LATERAL (SELECT string_agg(p.id, ',' ORDER BY p.id COLLATE \"C\") AS ids FROM public.plan p
                       WHERE p.queue = q.queue AND NOT batchstate.is_terminal(p.final)) e
  CROSS JOIN LATERAL (SELECT string_agg(b.id, ',') AS ids FROM batchstate.list_active(q.queue) b) g"
nq=$(rq "SELECT count(DISTINCT queue) FROM public.plan")
check_eq "list_active of every queue: its non-terminal batches, in byte order" \
	"$(rq "$ACTIVE_CHECK" 2>&1)" "0 of $nq queues differ"
check_eq "list_batches(queue, VARIADIC states) of every queue (terminal batches have no membership: none listed)" \
	"$(rq "SELECT count(*) FILTER (WHERE e.ids IS DISTINCT FROM g.ids) || ' of ' || count(*) || ' queues differ'
  FROM (SELECT DISTINCT queue FROM public.plan) q
  CROSS JOIN LATERAL (SELECT string_agg(p.id, ',' ORDER BY p.id COLLATE \"C\") AS ids FROM public.plan p
                       WHERE p.queue = q.queue AND p.final IN ('scored', 'merging')) e
  CROSS JOIN LATERAL (SELECT string_agg(b.id, ',') AS ids
                        FROM batchstate.list_batches(q.queue, 'succeeded', 'scored', 'merging') b) g" 2>&1)" \
	"0 of $nq queues differ"
check_eq "membership_list_ids(queue, 'created') of every queue" \
	"$(rq "SELECT count(*) FILTER (WHERE e.ids IS DISTINCT FROM g.ids) || ' of ' || count(*) || ' queues differ'
  FROM (SELECT DISTINCT queue FROM public.plan) q
  CROSS JOIN LATERAL (SELECT string_agg(p.id, ',' ORDER BY p.id COLLATE \"C\") AS ids FROM public.plan p
                       WHERE p.queue = q.queue AND p.final = 'created') e
  CROSS JOIN LATERAL (SELECT string_agg(x, ',') AS ids FROM batchstate.membership_list_ids(q.queue, 'created') x) g" 2>&1)" \
	"0 of $nq queues differ"

# --- placement -------------------------------------------------------------------

QUEUES_ON="SELECT queue FROM batchstate.batch UNION SELECT queue FROM batchstate.batch_state_membership"
# placement: "queue<TAB>shard" for every queue found on a shard
placement() {
	{
		sq 0 "$QUEUES_ON" | sed 's/$/\t0/'
		sq 1 "$QUEUES_ON" | sed 's/$/\t1/'
	} | LC_ALL=C sort
}
check_placement() { # NAME: each queue on one shard, the one its partition (partition_of) names
	local pl dup missing wrong
	pl=$(placement)
	dup=$(cut -f1 <<<"$pl" | LC_ALL=C uniq -d | head -n 3 | tr '\n' ' ')
	missing=$(rq "SELECT count(DISTINCT queue) FROM public.plan")
	missing=$((missing - $(cut -f1 <<<"$pl" | grep -c '')))
	wrong=$(printf '%s\n' "$pl" | q 0 -c "CREATE TEMP TABLE pl (queue text, shard int)" -c "COPY pl FROM STDIN" \
		-c "SELECT count(*) FROM pl JOIN batchstate_router.partitions() p
               ON p.partition = batchstate_router.partition_of(pl.queue)
            WHERE p.connstr <> CASE pl.shard WHEN 0 THEN '$(part 1)' ELSE '$(part 2)' END" 2>&1) || true
	if [ -z "$dup" ] && ((missing == 0)) && [ "$wrong" = 0 ]; then
		pass "$1"
	else
		fail "$1" "queues on both shards: ${dup:-none}" "planned queues on no shard: $missing" \
			"queues on another shard than their partition's: $wrong"
	fi
}
check_placement "every queue's rows live on exactly one shard, the one batchstate_router.partition_of() names"
c0=$(sq 0 "SELECT count(DISTINCT queue) FROM batchstate.batch")
c1=$(sq 1 "SELECT count(DISTINCT queue) FROM batchstate.batch")
if ((c0 > 0 && c1 > 0)); then
	pass "queues spread over both shards: $c0 on shard 0, $c1 on shard 1"
else
	fail "queues spread over both shards" "shard 0: $c0 queues, shard 1: $c1 queues"
fi
check_eq "the shards hold exactly the planned batches" \
	"$(($(sq 0 "SELECT count(*) FROM batchstate.batch") + $(sq 1 "SELECT count(*) FROM batchstate.batch")))" \
	"$(rq "SELECT count(*) FROM public.plan")"

verify_everywhere() { # verify() through the router and on each shard
	printf '%s|%s|%s' "$(rq "SELECT count(*) FROM batchstate.verify()" 2>&1)" \
		"$(sq 0 "SELECT count(*) FROM batchstate.verify()" 2>&1)" \
		"$(sq 1 "SELECT count(*) FROM batchstate.verify()" 2>&1)"
}
check_eq "verify() is empty through the router and on each shard" "$(verify_everywhere)" "0|0|0"

# --- errors through the router --------------------------------------------------

Q0=$(rq "SELECT queue FROM public.plan WHERE queue <> 'prim' AND batchstate_router.partition_of(queue) = 0 ORDER BY queue COLLATE \"C\" LIMIT 1")
Q1=$(rq "SELECT queue FROM public.plan WHERE queue <> 'prim' AND batchstate_router.partition_of(queue) = 1 ORDER BY queue COLLATE \"C\" LIMIT 1")
A0=$(rq "SELECT id FROM public.plan WHERE queue = \$\$$Q0\$\$ ORDER BY id COLLATE \"C\" LIMIT 1")
A1=$(rq "SELECT id FROM public.plan WHERE queue = \$\$$Q1\$\$ ORDER BY id COLLATE \"C\" LIMIT 1")
T0=$(rq "SELECT id FROM public.plan WHERE batchstate.is_terminal(final) AND queue <> 'prim' ORDER BY id COLLATE \"C\" LIMIT 1")
say "shard 0 queue \"$Q0\" (batch $A0), shard 1 queue \"$Q1\" (batch $A1), terminal batch $T0"
lit() { printf '%s' "\$\$$1\$\$"; }
err() { rq "SELECT public.err(\$e\$$1\$e\$)" 2>&1; }
check_match "a missing batch raises P0002 through the router" \
	"$(err "SELECT batchstate.batch_get('$Q0/batch/99999')")" '^P0002 .*does not exist'
check_match "a duplicate id raises 23505 through the router" \
	"$(err "SELECT batchstate.create_batch('$A1', '$Q1')")" '^23505 '
check_match "a move the policy forbids raises 55000 through the router" \
	"$(err "SELECT batchstate.update_state('$T0', $(rq "SELECT version FROM public.plan WHERE id = '$T0'"), 'created')")" \
	'^55000 .*cannot move'
check_match "an unknown state raises 22023 through the router, the shard's hint with it" \
	"$(err "SELECT batchstate.list_batches('$Q1', 'created', 'bogus')")" \
	'^22023 .*unrecognized batch state.* \| .*Valid states are'
check_match "expected_version 2147483647 raises 22003 through the router" \
	"$(err "SELECT batchstate.update_state('$A0', 2147483647, 'failed')")" '^22003 '
check_match "a NULL id raises 22004 naming it, on the router" \
	"$(err "SELECT batchstate.batch_get(NULL)")" '^22004 argument "id" must not be null'
check_match "a NULL queue raises 22004 naming it, on the router" \
	"$(err "SELECT * FROM batchstate.list_active(NULL)")" \
	'^22004 argument "queue" must not be null'
check_match "create_batch refuses an id that does not start with \"<queue>/\": 22023 with a hint" \
	"$(err "SELECT batchstate.create_batch('q-other/batch/1', '$Q0')")" \
	'^22023 batch id "q-other/batch/1" is not of the form "[^"]*/batch/<n>" \| Use an id such as'
check_match "create_batch refuses \"<queue>/batch/<n>\" with a non-numeric n: 22023" \
	"$(err "SELECT batchstate.create_batch('$Q0/batch/x1', '$Q0')")" '^22023 '
check_eq "a refused create_batch writes nothing on any shard" \
	"$(sq 0 "SELECT count(*) FROM batchstate.batch WHERE id IN ('q-other/batch/1', '$Q0/batch/x1')")|$(sq 1 "SELECT count(*) FROM batchstate.batch WHERE id IN ('q-other/batch/1', '$Q0/batch/x1')")" \
	"0|0"
check_match "an id-keyed call with an id not of the form \"<queue>/batch/<n>\" raises 22023 with a hint" \
	"$(err "SELECT batchstate.update_state('q1-batch-7', 1, 'scored')")" \
	'^22023 batch id "q1-batch-7" is not of the form "<queue>/batch/<n>" \| .+'
check_eq "ensure_membership through the router (already filed: false)" \
	"$(rq "SELECT batchstate.ensure_membership('$A0')" 2>&1)" "f"

# --- verify and reconcile combine the shards ---------------------------------------

# Drift on both shards, in queues chosen so that shard 1's sorts first: the
# router must sort what the shards return, not just append it.
# act PARTITION ORDER: "queue|id|state" of an active batch in the first (ASC) or last (DESC) queue
act() {
	rq "SELECT queue || '|' || id || '|' || final FROM public.plan
         WHERE batchstate_router.partition_of(queue) = $1 AND NOT batchstate.is_terminal(final)
         ORDER BY queue COLLATE \"C\" $2, id COLLATE \"C\" LIMIT 1"
}
IFS='|' read -r D0 M0 MS0 <<<"$(act 0 DESC)"
IFS='|' read -r D1 M1 MS1 <<<"$(act 1 ASC)"
say "drift in \"$D0\" (shard 0) and \"$D1\" (shard 1)"
if [ -n "$M0" ] && [ -n "$M1" ]; then
	rq "SELECT batchstate.membership_remove($(lit "$D0"), '$MS0', $(lit "$M0"));
        SELECT batchstate.membership_add($(lit "$D0"), 'merging', $(lit "$D0/batch/9999"));
        SELECT batchstate.membership_remove($(lit "$D1"), '$MS1', $(lit "$M1"));
        SELECT batchstate.membership_add($(lit "$D1"), 'merging', $(lit "$D1/batch/9999"))" >/dev/null
	want=$(rq "SELECT string_agg(concat_ws(',', problem, queue, state, batch_id), ';'
                   ORDER BY queue COLLATE \"C\", batch_id COLLATE \"C\", state COLLATE \"C\", problem)
              FROM (VALUES ('missing', $(lit "$D0"), '$MS0', $(lit "$M0")),
                           ('dangling', $(lit "$D0"), 'merging', $(lit "$D0/batch/9999")),
                           ('missing', $(lit "$D1"), '$MS1', $(lit "$M1")),
                           ('dangling', $(lit "$D1"), 'merging', $(lit "$D1/batch/9999"))) v(problem, queue, state, batch_id)")
	check_eq "verify() through the router combines both shards' drift, in (queue, batch_id, state) order" \
		"$(rq "SELECT string_agg(concat_ws(',', problem, queue, state, batch_id), ';') FROM batchstate.verify()" 2>&1)" \
		"$want"
	check_eq "verify(queue) reports that queue's drift only" \
		"$(rq "SELECT count(*) FROM batchstate.verify($(lit "$D1"))" 2>&1)" "2"
	check_eq "reconcile() through the router returns one row with the shards' sums" \
		"$(rq "SELECT added || '|' || removed FROM batchstate.reconcile()" 2>&1)" "2|2"
	check_eq "after reconcile() verify() is empty everywhere, and reconcile() finds nothing" \
		"$(verify_everywhere) $(rq "SELECT added || '|' || removed FROM batchstate.reconcile()" 2>&1)" "0|0|0 0|0"
else
	fail "verify()/reconcile() combine the shards" "no queue with an active batch on each shard (seed $ROUTER_SEED)"
fi

# --- roles: the grants router/README.md lists ------------------------------------------

for i in 1 2; do
	sq $((i - 1)) "CREATE ROLE queue_writer LOGIN; CREATE ROLE queue_reader LOGIN;
        GRANT USAGE ON SCHEMA batchstate TO queue_writer, queue_reader;
        GRANT SELECT, INSERT, UPDATE, DELETE
            ON batchstate.batch, batchstate.batch_state_membership TO queue_writer;
        GRANT SELECT ON batchstate.batch, batchstate.batch_state_membership TO queue_reader" >/dev/null
done
rq "CREATE ROLE queue_writer LOGIN; CREATE ROLE queue_reader LOGIN; CREATE ROLE no_server LOGIN;
    GRANT USAGE ON SCHEMA batchstate TO queue_writer, queue_reader, no_server;
    GRANT USAGE ON FOREIGN SERVER batchstate_shards TO queue_writer, queue_reader" >/dev/null
# as ROLE SQL: run SQL on the router as ROLE (a new session)
as() {
	psql_q -A -t -d "$(conninfo 0 | sed "s/user=postgres/user=$1/")" -c "$2" 2>&1
}
out=$(as queue_writer "SELECT (batchstate.create_batch($(lit "$Q1/batch/7100"), $(lit "$Q1"))).version;
    SELECT batchstate.update_state($(lit "$Q1/batch/7100"), 1, 'scored');
    SELECT count(*) FROM batchstate.list_active($(lit "$Q1")) WHERE id = $(lit "$Q1/batch/7100");
    SELECT count(*) FROM batchstate.verify();
    SELECT added + removed FROM batchstate.reconcile()" | tr '\n' ' ') || true
check_eq "a role with the README's grants works through the router, connecting to the shards as itself" \
	"$out" "1 t 1 0 0 "
rq "INSERT INTO public.plan VALUES ($(lit "$Q1"), $(lit "$Q1/batch/7100"), '{scored}', 'scored', 2, 0)" >/dev/null
check_eq "a reader reads through the router" \
	"$(as queue_reader "SELECT count(*) FROM batchstate.list_active($(lit "$Q1")) WHERE id = $(lit "$Q1/batch/7100")" || true)" \
	"1"
check_match "a reader cannot write: the shard checks the rights of the router's user (42501 passed on)" \
	"$(as queue_reader "SELECT public.err(\$e\$SELECT batchstate.create_batch($(lit "$Q1/batch/7101"), $(lit "$Q1"))\$e\$)" || true)" \
	'^42501 .*permission denied for table batch'
check_match "a role without USAGE on the foreign server batchstate_shards is refused" \
	"$(as no_server "SELECT * FROM batchstate.list_active($(lit "$Q1"))" || true)" \
	'permission denied for foreign server batchstate_shards'

# A limit, written down in router/README.md: each call commits on its shard.
rq "BEGIN; SELECT batchstate.create_batch($(lit "$Q0/batch/7001"), $(lit "$Q0")); ROLLBACK" >/dev/null
check_eq "limit: a router ROLLBACK does not undo a call (each call commits on its shard)" \
	"$(rq "SELECT state FROM batchstate.batch_get($(lit "$Q0/batch/7001"))" 2>&1)" "created"
rq "INSERT INTO public.plan VALUES ($(lit "$Q0"), $(lit "$Q0/batch/7001"), '{}', 'created', 1, 0)" >/dev/null

# --- a shard outage ------------------------------------------------------------------

say "stopping shard 1"
pg_stop 2
check_match "shard 1 down: a read for its queue fails with a connection error naming the shard" \
	"$(err "SELECT * FROM batchstate.list_active($(lit "$Q1"))")" \
	"^XX000 .*connection to server on socket \"$WORK/shard1/.s.PGSQL.${PORTS[2]}\" failed"
check_match "shard 1 down: a write for its queue fails the same way" \
	"$(err "SELECT batchstate.create_batch($(lit "$Q1/batch/7002"), $(lit "$Q1"))")" '^XX000 .*connection to server'
if out=$(rq "SELECT batchstate.create_batch($(lit "$Q0/batch/7002"), $(lit "$Q0"));
          SELECT batchstate.update_state($(lit "$Q0/batch/7002"), 1, 'scored')" 2>&1) &&
	[ "$(tail -n 1 <<<"$out")" = t ]; then
	pass "shard 1 down: creates and moves in shard 0's queues go on"
else
	fail "shard 1 down: creates and moves in shard 0's queues go on" "$out"
fi
rq "INSERT INTO public.plan VALUES ($(lit "$Q0"), $(lit "$Q0/batch/7002"), '{scored}', 'scored', 2, 0)" >/dev/null
check_eq "shard 1 down: every batch of shard 0's queues reads back as planned" \
	"$(rq "SELECT count(*) FILTER (WHERE (b.state, b.version) IS DISTINCT FROM (p.final, p.version)) || ' differ'
             FROM public.plan p, LATERAL batchstate.batch_get(p.id) b
            WHERE batchstate_router.partition_of(p.queue) = 0" 2>&1)" "0 differ"
check_match "shard 1 down: verify() of every queue fails (it needs every shard)" \
	"$(err "SELECT * FROM batchstate.verify()")" '^XX000 .*connection to server'
check_eq "shard 1 down: verify() of a shard 0 queue works" \
	"$(rq "SELECT count(*) FROM batchstate.verify($(lit "$Q0"))" 2>&1)" "0"
check_eq "shard 1 down: the policy still answers on the router" \
	"$(rq "SELECT batchstate.can_transition('merging', 'succeeded') || '|' || batchstate.is_terminal('created')" 2>&1)" \
	"true|false"

say "restarting shard 1"
pg_start 2
check_plan "shard 1 back: every batch reads back as planned, those written during the outage too"
check_eq "shard 1 back: verify() is empty through the router and on each shard" "$(verify_everywhere)" "0|0|0"

# A router session that had a connection to shard 1 before a restart: PL/Proxy
# may fail the first call on the dead connection, and reconnects for the next.
RESTART="${AS_PG_TEXT}$PG_BIN/pg_ctl -D $WORK/shard1/data -l $WORK/shard1/log -w -t 60 -m fast restart -o \"-p ${PORTS[2]} -k $WORK/shard1 -c listen_addresses='' -c fsync=off\" >/dev/null"
out=$(PGOPTIONS='-c client_min_messages=error' psql -X -A -t -q -d "$(conninfo 0)" 2>&1 <<EOF || true
SELECT 'before:' || id FROM batchstate.batch_get($(lit "$A1"));
\\! $RESTART
SELECT 'first:' || id FROM batchstate.batch_get($(lit "$A1"));
SELECT 'second:' || id FROM batchstate.batch_get($(lit "$A1"));
EOF
)
check_match "a router session outlives a shard restart: the call after the first one works" \
	"$(tr '\n' ' ' <<<"$out")" "before:.*second:$A1"

# --- adding partitions and moving one: the recipe of router/README.md -------------------

# The recipe is run as written in the README: extract the function.
RECIPE=$(awk '/^move_partition\(\) \{/ { on = 1 } on { print } on && /^\}/ { exit }' "$REPO/router/README.md")
if [ -z "$RECIPE" ]; then
	fail "router/README.md has the move_partition recipe" "no 'move_partition() {' block found"
else
	eval "$RECIPE"
	out=$(rq "SELECT batchstate_router.configure(ARRAY['$(part 1)', '$(part 2)', '$(part 1)', '$(part 2)'])" 2>&1)
	check_eq "doubling to 4 partitions (p2 = shard 0, p3 = shard 1, as the README says)" "$out" 4
	check_plan "4 partitions: every batch reads back as planned, no row moved"
	check_placement "4 partitions: every queue still on one shard, the one partition_of() names"
	P2=$(rq "SELECT count(DISTINCT queue) FROM public.plan WHERE batchstate_router.partition_of(queue) = 2")
	QP2=$(rq "SELECT queue FROM public.plan WHERE batchstate_router.partition_of(queue) = 2 ORDER BY queue COLLATE \"C\" LIMIT 1")
	say "moving partition 2 ($P2 queues, e.g. \"$QP2\") from shard 0 to shard 1"
	if ((P2 == 0)); then
		fail "partition 2 holds queues to move" "no queue hashes to partition 2 (seed $ROUTER_SEED)"
	else
		QP0=$(rq "SELECT queue FROM public.plan WHERE batchstate_router.partition_of(queue) = 0 ORDER BY queue COLLATE \"C\" LIMIT 1")
		# The fence and the switch must reach router sessions that are already
		# open (a pool): PL/Proxy rereads the server's options at each call.
		FENCE="SELECT batchstate_router.set_partition(2, '$(part 1) dbname=batchstate_p2_is_moving')"
		UNFENCE="SELECT batchstate_router.set_partition(2, '$(part 1)')"
		out=$(PGOPTIONS='-c client_min_messages=error' psql -X -A -t -q -d "$(conninfo 0)" 2>&1 <<EOF || true
SELECT 'open:' || count(*) FROM batchstate.list_active($(lit "$QP2"));
\\! psql -X -q -d "$(conninfo 0)" -c "$FENCE"
SELECT 'fenced:' || count(*) FROM batchstate.list_active($(lit "$QP2"));
\\! psql -X -q -d "$(conninfo 0)" -c "$UNFENCE"
SELECT 'unfenced:' || count(*) FROM batchstate.list_active($(lit "$QP2"));
EOF
)
		check_match "an open router session follows another session's ALTER SERVER at its next call" \
			"$(tr '\n' ' ' <<<"$out")" \
			'^open:[0-9]+ .*batchstate_p2_is_moving.* unfenced:[0-9]+ $'
		# step 1 of the recipe by hand, to look at the fence (move_partition sets it again)
		rq "$FENCE" >/dev/null
		check_match "while fenced, calls for partition 2 fail at once naming the move" \
			"$(err "SELECT * FROM batchstate.list_active($(lit "$QP2"))")" \
			'^XX000 .*database "batchstate_p2_is_moving" does not exist'
		check_match "while fenced, calls for other partitions work" \
			"$(rq "SELECT count(*) FROM batchstate.list_active($(lit "$QP0"))" 2>&1)" '^[0-9]+$'
		if out=$(move_partition 2 4 "$(conninfo 1)" "$(conninfo 2)" "$(part 2)" "$(conninfo 0)" 2>&1); then
			pass "move_partition 2 4 shard0 shard1 router: fence, barrier, copy, compare, switch, delete"
		else
			fail "move_partition 2 4 shard0 shard1 router" "$out"
		fi
		check_plan "after the move: every batch reads back as planned through the router"
		check_placement "after the move: every queue on one shard; partition 2's queues on shard 1"
		check_eq "after the move: partition 2's queues are gone from shard 0" \
			"$(sq 0 "SELECT count(*) FROM batchstate.batch WHERE hashtext(queue) & 3 = 2")" "0"
		check_eq "after the move: verify() is empty through the router and on each shard" "$(verify_everywhere)" "0|0|0"
		if out=$(rq "SELECT batchstate.create_batch($(lit "$QP2/batch/7003"), $(lit "$QP2")) IS NOT NULL" 2>&1) &&
			[ "$out" = t ] && [ "$(sq 1 "SELECT count(*) FROM batchstate.batch WHERE id = $(lit "$QP2/batch/7003")")" = 1 ]; then
			pass "after the move: a new batch of a moved queue lands on shard 1"
		else
			fail "after the move: a new batch of a moved queue lands on shard 1" "$out"
		fi
	fi
fi

say "stopping the clusters"
suite_end
