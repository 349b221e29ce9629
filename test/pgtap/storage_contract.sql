-- storage_contract.sql: the storage primitives are pure CRUD/CAS.
-- Membership add/remove/list (byte order, idempotence, scoping), batch
-- create/get round trips, optimistic locking, not-found and duplicate
-- errors, and the absence of membership side effects and transition rules.
BEGIN;
SET LOCAL search_path = public, pg_catalog;
SELECT plan(64);

SELECT diag('database collation sorts like "C": the byte-order tests cannot '
            'catch a missing COLLATE "C" here; use a non-C database collation')
 WHERE ARRAY(SELECT x FROM unnest(ARRAY['b', 'B', 'a10', 'a9', 'é']) x ORDER BY x)
     = ARRAY(SELECT x FROM unnest(ARRAY['b', 'B', 'a10', 'a9', 'é']) x ORDER BY x COLLATE "C");

-- ---------------------------------------------------------------------------
-- membership_add / membership_list_ids / membership_remove
-- ---------------------------------------------------------------------------
SELECT lives_ok($$
    SELECT batchstate.membership_add('st-q1', 'created', x)
      FROM unnest(ARRAY['b', 'B', 'a10', 'a9', 'é', 'a']) AS x$$,
    'membership_add_files_rows');
SELECT set_eq($$
    SELECT queue, state, batch_id FROM batchstate.batch_state_membership
     WHERE queue = 'st-q1'$$,
    $$VALUES ('st-q1', 'created', 'b'), ('st-q1', 'created', 'B'),
             ('st-q1', 'created', 'a10'), ('st-q1', 'created', 'a9'),
             ('st-q1', 'created', 'é'), ('st-q1', 'created', 'a')$$,
    'membership_add_stores_exactly_the_given_rows');
SELECT results_eq(
    $$SELECT * FROM batchstate.membership_list_ids('st-q1', 'created')$$,
    ARRAY['B', 'a', 'a10', 'a9', 'b', 'é'],
    'membership_list_ids_orders_ids_in_byte_order_collate_c');
SELECT is_empty($$
    SELECT id FROM batchstate.batch
     WHERE id IN ('b', 'B', 'a10', 'a9', 'é', 'a')$$,
    'membership_add_creates_no_batch_row');

SELECT lives_ok($$SELECT batchstate.membership_add('st-q1', 'created', 'a')$$,
    'membership_add_of_an_existing_row_succeeds');
SELECT is(
    (SELECT count(*) FROM batchstate.batch_state_membership
      WHERE queue = 'st-q1' AND state = 'created' AND batch_id = 'a'),
    1::bigint,
    'membership_add_twice_keeps_one_row');

SELECT lives_ok($$SELECT batchstate.membership_remove('st-q1', 'created', 'a9')$$,
    'membership_remove_of_an_existing_row_succeeds');
SELECT results_eq(
    $$SELECT * FROM batchstate.membership_list_ids('st-q1', 'created')$$,
    ARRAY['B', 'a', 'a10', 'b', 'é'],
    'membership_remove_deletes_exactly_that_row');
SELECT lives_ok($$SELECT batchstate.membership_remove('st-q1', 'created', 'a9')$$,
    'membership_remove_twice_succeeds');
SELECT lives_ok($$SELECT batchstate.membership_remove('st-nowhere', 'merging', 'st/none')$$,
    'membership_remove_of_a_never_filed_row_succeeds');

-- scoping: the key is (queue, state, batch_id)
SELECT lives_ok($$
    SELECT batchstate.membership_add('st-q2', 'created', 'x'),
           batchstate.membership_add('st-q10', 'created', 'x10'),
           batchstate.membership_add('st-q1', 'scored', 'y')$$,
    'membership_add_under_another_queue_and_state_succeeds');
SELECT results_eq(
    $$SELECT * FROM batchstate.membership_list_ids('st-q1', 'created')$$,
    ARRAY['B', 'a', 'a10', 'b', 'é'],
    'membership_list_ids_is_scoped_to_queue_and_state');
SELECT results_eq(
    $$SELECT * FROM batchstate.membership_list_ids('st-q2', 'created')$$,
    ARRAY['x'],
    'membership_list_ids_other_queue_sees_only_its_rows');
SELECT results_eq(
    $$SELECT * FROM batchstate.membership_list_ids('st-q1', 'scored')$$,
    ARRAY['y'],
    'membership_list_ids_other_state_sees_only_its_rows');
SELECT lives_ok($$
    SELECT batchstate.membership_remove('st-q2', 'created', 'b'),
           batchstate.membership_remove('st-q1', 'scored', 'b')$$,
    'membership_remove_under_other_queue_or_state_succeeds');
SELECT results_eq(
    $$SELECT * FROM batchstate.membership_list_ids('st-q1', 'created')$$,
    ARRAY['B', 'a', 'a10', 'b', 'é'],
    'membership_remove_under_other_queue_or_state_keeps_this_row');
SELECT is_empty(
    $$SELECT * FROM batchstate.membership_list_ids('st-unknown-queue', 'created')$$,
    'membership_list_ids_unknown_queue_is_empty');
SELECT is_empty(
    $$SELECT * FROM batchstate.membership_list_ids('st-q1', 'merging')$$,
    'membership_list_ids_state_without_rows_is_empty');
SELECT throws_ok(
    $$SELECT batchstate.membership_add('st-q1', 'bogus', 'z')$$,
    '22023', NULL,
    'membership_add_unknown_state_raises_22023');
SELECT throws_ok(
    $$SELECT * FROM batchstate.membership_list_ids('st-q1', 'bogus')$$,
    '22023', NULL,
    'membership_list_ids_unknown_state_raises_22023');

-- ---------------------------------------------------------------------------
-- batch_create / batch_get
-- ---------------------------------------------------------------------------
SELECT lives_ok($$
    SELECT batchstate.batch_create('st/b1', 'st-q1', 'scored',
        ARRAY['lr/1', 'lr/2'], ARRAY['st/b0'], 0.25, 7)$$,
    'batch_create_with_every_argument_succeeds');
SELECT results_eq(
    $$SELECT * FROM batchstate.batch_get('st/b1')$$,
    $$VALUES ('st/b1'::text, 'st-q1'::text, ARRAY['lr/1', 'lr/2']::text[],
              ARRAY['st/b0']::text[], 0.25::float8, 'scored'::text, 7)$$,
    'batch_get_returns_every_column_batch_create_wrote');
SELECT results_eq(
    $$SELECT * FROM batchstate.batch WHERE id = 'st/b1'$$,
    $$VALUES ('st/b1'::text, 'st-q1'::text, ARRAY['lr/1', 'lr/2']::text[],
              ARRAY['st/b0']::text[], 0.25::float8, 'scored'::text, 7)$$,
    'batch_create_stores_every_column_in_the_table');

SELECT lives_ok($$SELECT batchstate.batch_create('st/b2', 'st-q1', 'created')$$,
    'batch_create_with_defaults_succeeds');
SELECT results_eq(
    $$SELECT * FROM batchstate.batch_get('st/b2')$$,
    $$VALUES ('st/b2'::text, 'st-q1'::text, '{}'::text[], '{}'::text[],
              0::float8, 'created'::text, 1)$$,
    'batch_create_defaults_empty_arrays_score_0_version_1');

SELECT lives_ok($$
    SELECT batchstate.batch_create(id => 'st/b3', queue => 'st-q2',
        state => 'merging', score => 1, version => 2147483647)$$,
    'batch_create_with_named_arguments_succeeds');
SELECT results_eq(
    $$SELECT * FROM batchstate.batch_get('st/b3')$$,
    $$VALUES ('st/b3'::text, 'st-q2'::text, '{}'::text[], '{}'::text[],
              1::float8, 'merging'::text, 2147483647)$$,
    'batch_create_keeps_score_1_and_version_int_max');

SELECT lives_ok($$
    SELECT batchstate.batch_create(E'st/b4 \'quoted\' "x"', 'st-q1', 'created',
        ARRAY['a,b', 'say "hi"', '{x}', 'NULL', E'back\\slash', ' spaced ', 'é', ''''],
        ARRAY['st/b1', 'st/b2'])$$,
    'batch_create_with_awkward_id_and_array_elements_succeeds');
SELECT is(
    (SELECT contains FROM batchstate.batch_get(E'st/b4 \'quoted\' "x"')),
    ARRAY['a,b', 'say "hi"', '{x}', 'NULL', E'back\\slash', ' spaced ', 'é', ''''],
    'batch_get_returns_awkward_array_elements_verbatim');
SELECT is(
    (SELECT dependencies FROM batchstate.batch_get(E'st/b4 \'quoted\' "x"')),
    ARRAY['st/b1', 'st/b2'],
    'batch_get_returns_dependencies_in_order');
SELECT is(
    (SELECT contains[4] IS NOT NULL FROM batchstate.batch WHERE id = E'st/b4 \'quoted\' "x"'),
    true,
    'batch_create_stores_the_string_NULL_as_text_not_null');

SELECT throws_ok(
    $$SELECT batchstate.batch_create('st/b1', 'st-q2', 'created')$$,
    '23505', NULL,
    'batch_create_duplicate_id_raises_23505');
SELECT results_eq(
    $$SELECT * FROM batchstate.batch WHERE id = 'st/b1'$$,
    $$VALUES ('st/b1'::text, 'st-q1'::text, ARRAY['lr/1', 'lr/2']::text[],
              ARRAY['st/b0']::text[], 0.25::float8, 'scored'::text, 7)$$,
    'batch_create_duplicate_keeps_the_original_row');

SELECT throws_ok($$SELECT * FROM batchstate.batch_get('st/missing')$$,
    'P0002', NULL, 'batch_get_missing_id_raises_p0002');
SELECT throws_ok($$SELECT * FROM batchstate.batch_get(NULL)$$,
    '22004', 'argument "id" must not be null',
    'batch_get_null_id_raises_22004_naming_the_argument');

-- ---------------------------------------------------------------------------
-- optimistic locking
-- ---------------------------------------------------------------------------
SELECT is(batchstate.batch_update_state('st/b1', 7, 8, 'merging'), true,
    'batch_update_state_with_current_version_returns_true');
SELECT results_eq(
    $$SELECT * FROM batchstate.batch WHERE id = 'st/b1'$$,
    $$VALUES ('st/b1'::text, 'st-q1'::text, ARRAY['lr/1', 'lr/2']::text[],
              ARRAY['st/b0']::text[], 0.25::float8, 'merging'::text, 8)$$,
    'batch_update_state_writes_state_and_version_and_nothing_else');
SELECT is(batchstate.batch_update_state('st/b1', 7, 9, 'failed'), false,
    'batch_update_state_with_stale_version_returns_false');
SELECT results_eq(
    $$SELECT state, version FROM batchstate.batch WHERE id = 'st/b1'$$,
    $$VALUES ('merging'::text, 8)$$,
    'batch_update_state_with_stale_version_writes_nothing');

SELECT is(batchstate.batch_update_score_and_state('st/b1', 8, 9, 0.75, 'speculating'), true,
    'batch_update_score_and_state_with_current_version_returns_true');
SELECT results_eq(
    $$SELECT * FROM batchstate.batch WHERE id = 'st/b1'$$,
    $$VALUES ('st/b1'::text, 'st-q1'::text, ARRAY['lr/1', 'lr/2']::text[],
              ARRAY['st/b0']::text[], 0.75::float8, 'speculating'::text, 9)$$,
    'batch_update_score_and_state_writes_score_state_and_version');
SELECT is(batchstate.batch_update_score_and_state('st/b1', 8, 10, 0.1, 'failed'), false,
    'batch_update_score_and_state_with_stale_version_returns_false');
SELECT results_eq(
    $$SELECT score, state, version FROM batchstate.batch WHERE id = 'st/b1'$$,
    $$VALUES (0.75::float8, 'speculating'::text, 9)$$,
    'batch_update_score_and_state_with_stale_version_writes_nothing');
SELECT is(batchstate.batch_update_score_and_state('st/b1', 10, 11, 0.1, 'failed'), false,
    'batch_update_score_and_state_with_future_version_returns_false');

-- version arithmetic belongs to the caller
SELECT is(batchstate.batch_update_state('st/b2', 1, 42, 'scored'), true,
    'batch_update_state_accepts_any_new_version');
SELECT results_eq(
    $$SELECT state, version FROM batchstate.batch WHERE id = 'st/b2'$$,
    $$VALUES ('scored'::text, 42)$$,
    'batch_update_state_stores_the_new_version_verbatim');

SELECT throws_ok($$SELECT batchstate.batch_update_state('st/missing', 1, 2, 'scored')$$,
    'P0002', NULL, 'batch_update_state_missing_id_raises_p0002');
SELECT throws_ok($$SELECT batchstate.batch_update_score_and_state('st/missing', 1, 2, 0.5, 'scored')$$,
    'P0002', NULL, 'batch_update_score_and_state_missing_id_raises_p0002');
SELECT throws_ok($$SELECT batchstate.batch_update_state('st/b2', 0, 43, 'scored')$$,
    '22023', NULL, 'batch_update_state_old_version_0_raises_22023');
SELECT throws_ok($$SELECT batchstate.batch_update_state('st/b2', 42, 0, 'scored')$$,
    '22023', NULL, 'batch_update_state_new_version_0_raises_22023');
SELECT throws_ok($$SELECT batchstate.batch_update_state('st/b2', 42, 43, 'bogus')$$,
    '22023', NULL, 'batch_update_state_unknown_state_raises_22023');
SELECT results_eq(
    $$SELECT state, version FROM batchstate.batch WHERE id = 'st/b2'$$,
    $$VALUES ('scored'::text, 42)$$,
    'batch_update_state_errors_write_nothing');

-- ---------------------------------------------------------------------------
-- no membership side effects
-- ---------------------------------------------------------------------------
SELECT is_empty($$
    SELECT * FROM batchstate.batch_state_membership WHERE batch_id LIKE 'st/%'$$,
    'batch_create_and_updates_file_no_membership');
SELECT lives_ok($$SELECT batchstate.membership_add('st-q1', 'created', 'st/b2')$$,
    'membership_add_for_a_batch_in_another_state_succeeds');
SELECT is(batchstate.batch_update_state('st/b2', 42, 43, 'cancelling'), true,
    'batch_update_state_beside_a_membership_row_returns_true');
SELECT is(batchstate.batch_update_score_and_state('st/b2', 43, 44, 0.5, 'failed'), true,
    'batch_update_score_and_state_beside_a_membership_row_returns_true');
SELECT set_eq($$
    SELECT queue, state, batch_id FROM batchstate.batch_state_membership
     WHERE batch_id LIKE 'st/%'$$,
    $$VALUES ('st-q1', 'created', 'st/b2')$$,
    'batch_updates_neither_move_nor_remove_membership');

-- ---------------------------------------------------------------------------
-- no transition rules in the primitives
-- ---------------------------------------------------------------------------
SELECT lives_ok($$SELECT batchstate.batch_create('st/t1', 'st-q1', 'succeeded')$$,
    'batch_create_accepts_a_terminal_state');
SELECT is(batchstate.batch_update_state('st/t1', 1, 2, 'created'), true,
    'batch_update_state_moves_succeeded_back_to_created');
SELECT is(batchstate.batch_update_state('st/t1', 2, 3, 'merging'), true,
    'batch_update_state_moves_created_straight_to_merging');
SELECT is(batchstate.batch_update_score_and_state('st/t1', 3, 4, 0.5, 'cancelled'), true,
    'batch_update_score_and_state_moves_merging_to_cancelled');
SELECT is(batchstate.batch_update_score_and_state('st/t1', 4, 5, 0.6, 'cancelled'), true,
    'batch_update_score_and_state_moves_terminal_to_itself');
SELECT results_eq(
    $$SELECT score, state, version FROM batchstate.batch WHERE id = 'st/t1'$$,
    $$VALUES (0.6::float8, 'cancelled'::text, 5)$$,
    'batch_updates_without_rules_write_each_move');
SELECT is_empty($$
    SELECT * FROM batchstate.batch_state_membership WHERE batch_id = 'st/t1'$$,
    'batch_updates_through_any_states_file_no_membership');

SELECT * FROM finish();
ROLLBACK;
