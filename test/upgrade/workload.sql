-- test/upgrade/workload.sql: batches in every state, written through the
-- 1.0 API only (so it runs against any version), then some deliberate drift.
-- psql variables: seed (a float in -1..1), scale (number of batches).
-- Used by test/t/040_upgrade.pl and 045_dump.pl.
\set ON_ERROR_STOP on
\set QUIET on
SELECT set_config('bstest.scale', :'scale', false) \gset
SELECT setseed(:seed) \gset

DO $$
DECLARE
    n      int := current_setting('bstest.scale')::int;
    i      int;
    q      text;
    id     text;
    prev   text[] := '{}';
    -- the path of each batch, by i % 9; version = number of moves + 1
    paths  text[] := ARRAY[
        '',                                    -- created
        'scored',
        'scored,speculating',
        'speculating,merging',
        'cancelling',
        'speculating,merging,succeeded',
        'failed',
        'scored,cancelling,cancelled',
        'scored,scored,speculating,speculating'];
    steps  text[];
    s      text;
    v      int;
    ok     boolean;
BEGIN
    FOR i IN 1 .. n LOOP
        q := 'q' || (i % 3);
        id := format('%s/batch/%s', q, i);
        PERFORM batchstate.create_batch(
            id, q, 'created',
            ARRAY(SELECT 'lr-' || (i * 10 + k) FROM generate_series(1, 1 + i % 3) k),
            CASE WHEN i > 3 THEN ARRAY[format('%s/batch/%s', q, i - 3)] ELSE '{}' END,
            round(random()::numeric, 4)::float8);
        steps := string_to_array(paths[1 + i % 9], ',');
        v := 1;
        FOREACH s IN ARRAY coalesce(steps, '{}') LOOP
            IF random() < 0.5 THEN
                ok := batchstate.update_state(id, v, s);
            ELSE
                ok := batchstate.update_score_and_state(id, v, round(random()::numeric, 4)::float8, s);
            END IF;
            IF NOT ok THEN
                RAISE EXCEPTION 'workload: move of % to % at version % lost', id, s, v;
            END IF;
            v := v + 1;
        END LOOP;
    END LOOP;

    -- ids JSON, SQL and shells must escape, in a queue of their own
    PERFORM batchstate.create_batch('odd/"quoted"', 'q-odd');
    PERFORM batchstate.create_batch(E'odd/back\\slash', 'q-odd', 'scored', '{lr-x}', '{}', 0.5);
    PERFORM batchstate.create_batch(E'odd/caf\u00e9/\u65e5\u672c', 'q-odd', 'merging', '{}', '{}', 1, 41);
    PERFORM batchstate.create_batch(E'odd/tab\tand ''quote''', 'q-odd', 'failed');
    -- created directly in a terminal state, with a large version
    PERFORM batchstate.create_batch('q0/terminal/1', 'q0', 'succeeded', '{}', '{}', 0.999, 2000000000);
END
$$;

-- Drift that verify() reports and reconcile() would repair:
DO $$
BEGIN
    -- 'missing': a live batch whose row is removed, and one created by the primitive
    PERFORM batchstate.membership_remove('q1', 'scored', 'q1/batch/1');
    PERFORM batchstate.batch_create('drift/no-membership', 'q2', 'speculating', '{lr-d}', '{}', 0.3, 3);
    -- 'stale': a row under a state the batch is not in, and one under a terminal state
    PERFORM batchstate.membership_add('q0', 'merging', 'q0/batch/9');
    PERFORM batchstate.membership_add('q0', 'failed', 'q0/batch/6');
    -- 'dangling': a row for no batch, and one in the wrong queue
    PERFORM batchstate.membership_add('q2', 'created', 'drift/ghost');
    PERFORM batchstate.membership_add('q1', 'created', 'q0/batch/3');
END
$$;
