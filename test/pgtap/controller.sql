-- controller.sql: the 1.3 promises a submit-queue controller relies on.
-- Moves stay HOT updates (the GIN index on the arrays costs them no index
-- entry), update_batch keeps what it is not given, creating is inert, and
-- the reverse lookups equal a scan of the batch rows after any sequence of
-- writes, through the app layer and the storage primitives alike.
BEGIN;
SET LOCAL search_path = public, pg_catalog;
SELECT plan(25);

TRUNCATE batchstate.batch, batchstate.batch_state_membership;

-- ---------------------------------------------------------------------------
-- HOT: a move leaves the arrays alone, so no index gets a new entry
-- ---------------------------------------------------------------------------
SELECT lives_ok($$SELECT batchstate.create_batch('q1/hot', 'q1',
    contains => '{q1/lr/1,q1/lr/2}', dependencies => '{q1/dep}')$$,
    'create_batch_with_arrays');
CREATE TEMP TABLE hot0 AS
    SELECT pg_stat_get_xact_tuples_updated('batchstate.batch'::regclass) AS upd,
           pg_stat_get_xact_tuples_hot_updated('batchstate.batch'::regclass) AS hot;
SELECT ok(batchstate.update_score_and_state('q1/hot', 1, 0.5, 'scored')
          AND batchstate.update_state('q1/hot', 2, 'speculating')
          AND batchstate.update_batch('q1/hot', 3, 'speculating', score => 0.7)
          AND batchstate.update_state('q1/hot', 4, 'merging'),
    'four_moves_that_keep_the_arrays');
SELECT is(
    pg_stat_get_xact_tuples_hot_updated('batchstate.batch'::regclass) - (SELECT hot FROM hot0),
    4::bigint,
    'moves_that_keep_the_arrays_are_hot_updates');
-- replacing an array changes an indexed column: not HOT, and the lookups
-- follow it at once
SELECT ok(batchstate.update_batch('q1/hot', 5, 'merging', dependencies => '{q1/other}'),
    'update_batch_replaces_dependencies');
SELECT is(
    pg_stat_get_xact_tuples_hot_updated('batchstate.batch'::regclass) - (SELECT hot FROM hot0),
    4::bigint,
    'a_move_that_replaces_an_array_is_not_hot');
SELECT is(
    pg_stat_get_xact_tuples_updated('batchstate.batch'::regclass) - (SELECT upd FROM hot0),
    5::bigint,
    'every_move_updated_the_batch_row_once');
SELECT is_empty($$SELECT 1 FROM batchstate.dependents_of('q1', 'q1/dep')$$,
    'dependents_of_forgets_a_replaced_dependency');
SELECT results_eq($$SELECT id FROM batchstate.dependents_of('q1', 'q1/other')$$,
    ARRAY['q1/hot'],
    'dependents_of_finds_the_new_dependency');

-- ---------------------------------------------------------------------------
-- update_batch: NULL keeps, the rest is update_state
-- ---------------------------------------------------------------------------
SELECT lives_ok($$SELECT batchstate.create_batch('q1/u', 'q1', 'creating', '{q1/lr/9}', '{}', 0.25)$$,
    'create_batch_in_creating');
SELECT ok(batchstate.update_batch('q1/u', 1, 'created'),
    'update_batch_with_only_a_state_moves');
SELECT results_eq(
    $$SELECT contains, dependencies, score, state, version
        FROM batchstate.batch_get('q1/u')$$,
    $$VALUES ('{q1/lr/9}'::text[], '{}'::text[], 0.25::double precision, 'created'::text, 2)$$,
    'update_batch_keeps_contains_dependencies_and_score_given_as_null');
SELECT is(batchstate.update_batch('q1/u', 1, 'scored', '{x}', '{y}', 1),
    false,
    'update_batch_with_a_stale_version_returns_false');
SELECT results_eq(
    $$SELECT contains, dependencies, score, version FROM batchstate.batch_get('q1/u')$$,
    $$VALUES ('{q1/lr/9}'::text[], '{}'::text[], 0.25::double precision, 2)$$,
    'update_batch_that_lost_a_race_wrote_nothing');
SELECT throws_ok($$SELECT batchstate.update_batch('q1/u', 2, 'creating')$$,
    '55000', NULL, 'nothing_moves_into_creating');
SELECT throws_ok($$SELECT batchstate.update_batch('q1/u', 2, 'scored', score => 2)$$,
    '22023', NULL, 'update_batch_checks_the_score_like_create_batch');

-- ---------------------------------------------------------------------------
-- creating: filed, listed by list_batches, not by list_active
-- ---------------------------------------------------------------------------
SELECT lives_ok($$SELECT batchstate.create_batch('q2/a', 'q2', 'creating'),
                        batchstate.create_batch('q2/b', 'q2')$$,
    'create_batch_in_creating_and_created');
SELECT results_eq($$SELECT id FROM batchstate.list_active('q2')$$,
    ARRAY['q2/b'], 'list_active_leaves_out_creating');
SELECT results_eq($$SELECT id FROM batchstate.list_batches('q2', 'creating')$$,
    ARRAY['q2/a'], 'list_batches_lists_creating_when_asked');
SELECT is(batchstate.is_cancellable('creating'), false, 'creating_is_not_cancellable');
SELECT is(batchstate.is_cancellable('merging'), false, 'merging_is_not_cancellable');
SELECT is(batchstate.cancellable_states(), '{created,scored,speculating,cancelling}'::text[],
    'cancellable_states_as_the_controller_decides');

-- ---------------------------------------------------------------------------
-- the lookups equal a scan of the batch rows after random writes through
-- every writing function, the primitives included
-- ---------------------------------------------------------------------------
TRUNCATE batchstate.batch, batchstate.batch_state_membership;
SELECT lives_ok('SELECT setseed(0.17)', 'a_fixed_seed');
DO $$
<<random_writes>>
DECLARE
    states text[] := ARRAY['creating', 'created', 'scored', 'speculating',
                           'merging', 'cancelling', 'succeeded', 'failed', 'cancelled'];
    id text;
    op int;
    b batchstate.batch;
BEGIN
    FOR i IN 1..400 LOOP
        id := 'q' || (i % 3) || '/batch/' || (i % 60);
        SELECT * INTO b FROM batchstate.batch AS x WHERE x.id = random_writes.id;
        BEGIN
        op := CASE WHEN b.id IS NULL THEN 5 ELSE floor(random() * 5)::int END;
        CASE op
        WHEN 0 THEN
            PERFORM batchstate.batch_create(id || '/' || i, 'q' || (i % 3),
                states[1 + floor(random() * 9)::int],
                ARRAY['lr/' || floor(random() * 20)::int],
                ARRAY['q' || (i % 3) || '/batch/' || floor(random() * 60)::int]);
        WHEN 1 THEN
            PERFORM batchstate.batch_update_state(id, b.version, b.version + 1,
                states[1 + floor(random() * 9)::int]);
        WHEN 2 THEN
            PERFORM batchstate.update_batch(id, b.version, 'failed',
                dependencies => ARRAY['q' || (i % 3) || '/batch/' || floor(random() * 60)::int]);
        WHEN 3 THEN
            PERFORM batchstate.update_batch(id, b.version, b.state,
                contains => ARRAY['lr/' || floor(random() * 20)::int, 'lr/' || floor(random() * 20)::int]);
        ELSE
            PERFORM batchstate.create_batch(id, 'q' || (i % 3), 'created',
                ARRAY['lr/' || floor(random() * 20)::int],
                ARRAY['q' || (i % 3) || '/batch/' || floor(random() * 60)::int]);
        END CASE;
        EXCEPTION WHEN no_data_found OR unique_violation OR object_not_in_prerequisite_state THEN
            NULL;	-- a missing or taken id, a move the policy forbids: skip
        END;
    END LOOP;
END
$$;
SELECT cmp_ok((SELECT count(*) FROM batchstate.batch), '>', 100::bigint,
    'the_random_writes_made_batches');
SELECT is_empty($$
    SELECT q, x, array(SELECT id FROM batchstate.dependents_of(q, x, f))
    FROM (SELECT DISTINCT b.queue AS q, d AS x FROM batchstate.batch b, unnest(b.dependencies) AS d
          UNION SELECT 'q1', 'q1/batch/none') AS k, (VALUES (true), (false)) AS t(f)
    WHERE array(SELECT id FROM batchstate.dependents_of(q, x, f))
      IS DISTINCT FROM
          array(SELECT id FROM batchstate.batch
                WHERE queue = q AND x = ANY (dependencies)
                  AND (f OR NOT batchstate.is_terminal(state))
                ORDER BY id COLLATE "C")$$,
    'dependents_of_equals_a_scan_of_the_batch_rows');
SELECT is_empty($$
    SELECT q, x, f
    FROM (SELECT DISTINCT b.queue AS q, c AS x FROM batchstate.batch b, unnest(b.contains) AS c
          UNION SELECT 'q2', 'lr/none') AS k, (VALUES (true), (false)) AS t(f)
    WHERE array(SELECT id FROM batchstate.batches_containing(q, x, f))
      IS DISTINCT FROM
          array(SELECT id FROM batchstate.batch
                WHERE queue = q AND x = ANY (contains)
                  AND (f OR NOT batchstate.is_terminal(state))
                ORDER BY id COLLATE "C")$$,
    'batches_containing_equals_a_scan_of_the_batch_rows');

SELECT * FROM finish();
ROLLBACK;
