-- app_layer.sql: the protocol the app layer owns over the two tables.
-- create_batch, every allowed and forbidden move, lost races, list_batches
-- filtering/ordering/pruning, list_active, ensure_membership, verify and
-- reconcile, and failed calls that leave both tables untouched.
BEGIN;
SET LOCAL search_path = public, pg_catalog;
SELECT plan(319);

SELECT diag('database collation sorts like "C": the byte-order tests cannot '
            'catch a missing COLLATE "C" here; use a non-C database collation')
 WHERE ARRAY(SELECT x FROM unnest(ARRAY['b', 'B', 'a10', 'a9', 'é']) x ORDER BY x)
     = ARRAY(SELECT x FROM unnest(ARRAY['b', 'B', 'a10', 'a9', 'é']) x ORDER BY x COLLATE "C");

-- ---------------------------------------------------------------------------
-- create_batch
-- ---------------------------------------------------------------------------
SELECT results_eq(
    $$SELECT * FROM batchstate.create_batch('app/c1', 'app-c')$$,
    $$VALUES ('app/c1'::text, 'app-c'::text, '{}'::text[], '{}'::text[],
              0::float8, 'created'::text, 1)$$,
    'create_batch_with_defaults_returns_the_new_row');
SELECT results_eq(
    $$SELECT * FROM batchstate.batch WHERE id = 'app/c1'$$,
    $$VALUES ('app/c1'::text, 'app-c'::text, '{}'::text[], '{}'::text[],
              0::float8, 'created'::text, 1)$$,
    'create_batch_stores_the_row');
SELECT set_eq(
    $$SELECT queue, state, batch_id FROM batchstate.batch_state_membership
       WHERE batch_id = 'app/c1'$$,
    $$VALUES ('app-c', 'created', 'app/c1')$$,
    'create_batch_files_membership_under_its_state');

SELECT results_eq(
    $$SELECT * FROM batchstate.create_batch('app/c2', 'app-c', 'scored',
          ARRAY['lr/1', 'lr/2'], ARRAY['app/c1'], 0.5, 3)$$,
    $$VALUES ('app/c2'::text, 'app-c'::text, ARRAY['lr/1', 'lr/2']::text[],
              ARRAY['app/c1']::text[], 0.5::float8, 'scored'::text, 3)$$,
    'create_batch_with_every_argument_returns_the_new_row');
SELECT results_eq(
    $$SELECT * FROM batchstate.batch_get('app/c2')$$,
    $$VALUES ('app/c2'::text, 'app-c'::text, ARRAY['lr/1', 'lr/2']::text[],
              ARRAY['app/c1']::text[], 0.5::float8, 'scored'::text, 3)$$,
    'create_batch_with_every_argument_stores_the_row');
SELECT set_eq(
    $$SELECT queue, state, batch_id FROM batchstate.batch_state_membership
       WHERE batch_id = 'app/c2'$$,
    $$VALUES ('app-c', 'scored', 'app/c2')$$,
    'create_batch_files_membership_under_the_given_state');

SELECT results_eq(
    $$SELECT id, state, version FROM batchstate.create_batch('app/c3', 'app-c', 'failed')$$,
    $$VALUES ('app/c3'::text, 'failed'::text, 1)$$,
    'create_batch_accepts_a_terminal_state');
SELECT is_empty(
    $$SELECT * FROM batchstate.batch_state_membership WHERE batch_id = 'app/c3'$$,
    'create_batch_in_terminal_state_files_no_membership');

-- ---------------------------------------------------------------------------
-- every allowed move of the policy table (and each non-terminal self-move)
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE edge (
    n          int PRIMARY KEY,
    from_state text NOT NULL,
    to_state   text NOT NULL,
    files_row  boolean NOT NULL,	-- the new state is non-terminal
    id         text GENERATED ALWAYS AS ('app/e/' || lpad(n::text, 2, '0')) STORED
) ON COMMIT DROP;
INSERT INTO edge VALUES
    ( 1, 'created', 'scored', true),
    ( 2, 'created', 'speculating', true),
    ( 3, 'created', 'cancelling', true),
    ( 4, 'created', 'failed', false),
    ( 5, 'scored', 'speculating', true),
    ( 6, 'scored', 'cancelling', true),
    ( 7, 'scored', 'failed', false),
    ( 8, 'speculating', 'merging', true),
    ( 9, 'speculating', 'cancelling', true),
    (10, 'speculating', 'failed', false),
    (11, 'merging', 'succeeded', false),
    (12, 'merging', 'failed', false),
    (13, 'merging', 'cancelling', true),
    (14, 'cancelling', 'cancelled', false),
    (15, 'cancelling', 'succeeded', false),
    (16, 'cancelling', 'failed', false),
    (17, 'created', 'created', true),
    (18, 'scored', 'scored', true),
    (19, 'speculating', 'speculating', true),
    (20, 'merging', 'merging', true),
    (21, 'cancelling', 'cancelling', true);

DO $$
BEGIN
    PERFORM batchstate.create_batch(e.id, 'app-e', e.from_state,
                                    contains => ARRAY['lr/' || e.n],
                                    score => 0.25, version => 4)
       FROM edge e;
END
$$;
SELECT set_eq(
    $$SELECT queue, state, batch_id FROM batchstate.batch_state_membership
       WHERE batch_id LIKE 'app/e/%'$$,
    $$SELECT 'app-e', from_state, id FROM edge$$,
    'create_batch_files_one_row_per_edge_fixture');

CREATE TEMP TABLE moved ON COMMIT DROP AS
    SELECT e.n, batchstate.update_state(e.id, 4, e.to_state) AS ok FROM edge e;

SELECT is(m.ok, true,
          format('update_state_%s_to_%s_returns_true', e.from_state, e.to_state))
  FROM edge e JOIN moved m USING (n) ORDER BY e.n;
SELECT is(
        (SELECT format('%s|%s|%s|%s|%s|%s', b.queue, b.contains, b.dependencies,
                       b.score, b.state, b.version)
           FROM batchstate.batch b WHERE b.id = e.id),
        format('app-e|{lr/%s}|{}|0.25|%s|5', e.n, e.to_state),
        format('update_state_%s_to_%s_writes_state_and_version_5_only',
               e.from_state, e.to_state))
  FROM edge e ORDER BY e.n;
SELECT is(
        ARRAY(SELECT m.queue || ':' || m.state
                FROM batchstate.batch_state_membership m
               WHERE m.batch_id = e.id ORDER BY 1),
        CASE WHEN e.files_row THEN ARRAY['app-e:' || e.to_state]
             ELSE '{}'::text[] END,
        format('update_state_%s_to_%s_%s', e.from_state, e.to_state,
               CASE WHEN e.from_state = e.to_state THEN 'keeps_membership_under_the_state'
                    WHEN e.files_row THEN 'moves_membership_to_the_new_state'
                    ELSE 'removes_membership' END))
  FROM edge e ORDER BY e.n;

-- a replay with the old version is a lost race: false, nothing written
SELECT is(batchstate.update_state(e.id, 4, e.from_state), false,
          format('update_state_replayed_after_%s_to_%s_returns_false',
                 e.from_state, e.to_state))
  FROM edge e ORDER BY e.n;
SELECT set_eq(
    $$SELECT id, state, version FROM batchstate.batch WHERE id LIKE 'app/e/%'$$,
    $$SELECT id, to_state, 5 FROM edge$$,
    'update_state_replays_write_no_batch_row');
SELECT set_eq(
    $$SELECT queue, state, batch_id FROM batchstate.batch_state_membership
       WHERE batch_id LIKE 'app/e/%'$$,
    $$SELECT 'app-e', to_state, id FROM edge WHERE files_row$$,
    'update_state_replays_write_no_membership_row');

-- ---------------------------------------------------------------------------
-- every forbidden move: 55000 and nothing written; a stale version wins
-- over the rules (false, not 55000)
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE forbidden ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY f.ord, t.ord)::int AS n,
           f.s AS from_state, t.s AS to_state
      FROM unnest(ARRAY['created', 'scored', 'speculating', 'merging', 'cancelling',
                        'succeeded', 'failed', 'cancelled'])
               WITH ORDINALITY AS f(s, ord),
           unnest(ARRAY['created', 'scored', 'speculating', 'merging', 'cancelling',
                        'succeeded', 'failed', 'cancelled'])
               WITH ORDINALITY AS t(s, ord)
     WHERE NOT EXISTS (SELECT 1 FROM edge e
                        WHERE e.from_state = f.s AND e.to_state = t.s);
ALTER TABLE forbidden
    ADD COLUMN id text GENERATED ALWAYS AS ('app/f/' || lpad(n::text, 2, '0')) STORED;

DO $$
BEGIN
    PERFORM batchstate.create_batch(f.id, 'app-f', f.from_state,
                                    score => 0.25, version => 4)
       FROM forbidden f;
END
$$;
CREATE TEMP TABLE snap_f_batch ON COMMIT DROP AS
    SELECT * FROM batchstate.batch WHERE id LIKE 'app/f/%';
CREATE TEMP TABLE snap_f_member ON COMMIT DROP AS
    SELECT * FROM batchstate.batch_state_membership WHERE batch_id LIKE 'app/f/%';

SELECT throws_ok(
        format('SELECT batchstate.update_state(%L, 4, %L)', f.id, f.to_state),
        '55000', NULL,
        format('update_state_%s_to_%s_raises_55000', f.from_state, f.to_state))
  FROM forbidden f ORDER BY f.n;
SELECT throws_ok(
        format('SELECT batchstate.update_score_and_state(%L, 4, 0.5, %L)',
               f.id, f.to_state),
        '55000', NULL,
        format('update_score_and_state_%s_to_%s_raises_55000',
               f.from_state, f.to_state))
  FROM forbidden f ORDER BY f.n;
SELECT is(batchstate.update_state(f.id, 3, f.to_state), false,
          format('update_state_%s_to_%s_with_stale_version_returns_false_before_rules',
                 f.from_state, f.to_state))
  FROM forbidden f ORDER BY f.n;
SELECT is(batchstate.update_score_and_state(f.id, 5, 0.5, f.to_state), false,
          format('update_score_and_state_%s_to_%s_with_stale_version_returns_false_before_rules',
                 f.from_state, f.to_state))
  FROM forbidden f WHERE f.n % 7 = 1 ORDER BY f.n;
SELECT bag_eq(
    $$SELECT * FROM batchstate.batch WHERE id LIKE 'app/f/%'$$,
    $$SELECT * FROM snap_f_batch$$,
    'forbidden_and_stale_moves_write_no_batch_row');
SELECT bag_eq(
    $$SELECT * FROM batchstate.batch_state_membership WHERE batch_id LIKE 'app/f/%'$$,
    $$SELECT * FROM snap_f_member$$,
    'forbidden_and_stale_moves_write_no_membership_row');

-- ---------------------------------------------------------------------------
-- same-state moves and missing old rows
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    PERFORM batchstate.batch_create('app/s/1', 'app-s', 'scored');
    PERFORM batchstate.batch_create('app/s/2', 'app-s', 'created');
END
$$;
SELECT is(batchstate.update_state('app/s/1', 1, 'scored'), true,
    'update_state_same_state_without_membership_returns_true');
SELECT set_eq(
    $$SELECT m.queue, m.state, m.batch_id, b.version
        FROM batchstate.batch_state_membership m
        JOIN batchstate.batch b ON b.id = m.batch_id
       WHERE m.batch_id = 'app/s/1'$$,
    $$VALUES ('app-s', 'scored', 'app/s/1', 2)$$,
    'update_state_same_state_files_the_missing_row_and_bumps_version');
SELECT is(batchstate.update_state('app/s/2', 1, 'scored'), true,
    'update_state_without_old_membership_row_returns_true');
SELECT set_eq(
    $$SELECT queue, state, batch_id FROM batchstate.batch_state_membership
       WHERE batch_id = 'app/s/2'$$,
    $$VALUES ('app-s', 'scored', 'app/s/2')$$,
    'update_state_without_old_membership_row_files_the_new_one');

-- ---------------------------------------------------------------------------
-- update_score_and_state writes the score
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    PERFORM batchstate.create_batch('app/u/1', 'app-u', score => 0.1);
END
$$;
SELECT is(batchstate.update_score_and_state('app/u/1', 1, 0.75, 'scored'), true,
    'update_score_and_state_created_to_scored_returns_true');
SELECT results_eq(
    $$SELECT score, state, version FROM batchstate.batch WHERE id = 'app/u/1'$$,
    $$VALUES (0.75::float8, 'scored'::text, 2)$$,
    'update_score_and_state_writes_score_state_and_version');
SELECT set_eq(
    $$SELECT queue, state FROM batchstate.batch_state_membership
       WHERE batch_id = 'app/u/1'$$,
    $$VALUES ('app-u', 'scored')$$,
    'update_score_and_state_moves_membership');
SELECT is(batchstate.update_score_and_state('app/u/1', 1, 0.2, 'speculating'), false,
    'update_score_and_state_with_stale_version_returns_false');
SELECT results_eq(
    $$SELECT score, state, version FROM batchstate.batch WHERE id = 'app/u/1'$$,
    $$VALUES (0.75::float8, 'scored'::text, 2)$$,
    'update_score_and_state_with_stale_version_writes_nothing');
SELECT is(batchstate.update_score_and_state('app/u/1', 2, 1, 'scored'), true,
    'update_score_and_state_rescore_in_same_state_returns_true');
SELECT results_eq(
    $$SELECT score, state, version FROM batchstate.batch WHERE id = 'app/u/1'$$,
    $$VALUES (1::float8, 'scored'::text, 3)$$,
    'update_score_and_state_rescore_writes_score_and_bumps_version');
SELECT set_eq(
    $$SELECT queue, state FROM batchstate.batch_state_membership
       WHERE batch_id = 'app/u/1'$$,
    $$VALUES ('app-u', 'scored')$$,
    'update_score_and_state_rescore_keeps_the_row');
SELECT is(batchstate.update_score_and_state('app/u/1', 3, 0, 'failed'), true,
    'update_score_and_state_scored_to_failed_returns_true');
SELECT results_eq(
    $$SELECT score, state, version FROM batchstate.batch WHERE id = 'app/u/1'$$,
    $$VALUES (0::float8, 'failed'::text, 4)$$,
    'update_score_and_state_to_terminal_writes_score_0');
SELECT is_empty(
    $$SELECT * FROM batchstate.batch_state_membership WHERE batch_id = 'app/u/1'$$,
    'update_score_and_state_to_terminal_removes_membership');

-- ---------------------------------------------------------------------------
-- list_batches
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    PERFORM batchstate.create_batch(x, 'app-l1')
       FROM unnest(ARRAY['app/l/b', 'app/l/B', 'app/l/a10', 'app/l/a9',
                         'app/l/é', 'app/l/a']) AS x;
    -- app/l/b moves on; the stale 'created' row stays behind
    PERFORM batchstate.batch_update_state('app/l/b', 1, 2, 'scored');
    PERFORM batchstate.membership_add('app-l1', 'scored', 'app/l/b');
    PERFORM batchstate.create_batch('app/l/spec', 'app-l1', 'speculating',
                                    ARRAY['lr/9'], ARRAY['app/l/a'], 0.5, 6);
    -- dangling: no batch at all
    PERFORM batchstate.membership_add('app-l1', 'created', 'app/l/ghost');
    -- a queue whose name extends app-l1: no prefix match
    PERFORM batchstate.create_batch('app/l/a1', 'app-l10');
    -- cross-queue: the batch lives in app-l2
    PERFORM batchstate.create_batch('app/l/other', 'app-l2');
    PERFORM batchstate.membership_add('app-l1', 'created', 'app/l/other');
    -- terminal batch still filed under its old state
    PERFORM batchstate.batch_create('app/l/done', 'app-l1', 'created');
    PERFORM batchstate.membership_add('app-l1', 'created', 'app/l/done');
    PERFORM batchstate.batch_update_state('app/l/done', 1, 2, 'succeeded');
    -- terminal batch filed under its own (terminal) state
    PERFORM batchstate.batch_create('app/l/fail', 'app-l1', 'failed');
    PERFORM batchstate.membership_add('app-l1', 'failed', 'app/l/fail');
END
$$;

SELECT results_eq(
    $$SELECT id FROM batchstate.list_batches('app-l1', 'created')$$,
    ARRAY['app/l/B', 'app/l/a', 'app/l/a10', 'app/l/a9', 'app/l/é'],
    'list_batches_returns_current_batches_in_byte_order_without_stale_dangling_cross_queue_or_terminal_rows');
SELECT is_empty(
    $$SELECT * FROM batchstate.batch_state_membership
       WHERE queue = 'app-l1' AND state = 'created' AND batch_id = 'app/l/done'$$,
    'list_batches_prunes_the_row_of_a_terminal_batch');
SELECT results_eq(
    $$SELECT state, version FROM batchstate.batch WHERE id = 'app/l/done'$$,
    $$VALUES ('succeeded'::text, 2)$$,
    'list_batches_prune_keeps_the_batch_row');
SELECT results_eq(
    $$SELECT * FROM batchstate.list_batches('app-l1', 'speculating')$$,
    $$VALUES ('app/l/spec'::text, 'app-l1'::text, ARRAY['lr/9']::text[],
              ARRAY['app/l/a']::text[], 0.5::float8, 'speculating'::text, 6)$$,
    'list_batches_returns_whole_batch_rows');
SELECT results_eq(
    $$SELECT id FROM batchstate.list_batches('app-l2', 'created')$$,
    ARRAY['app/l/other'],
    'list_batches_returns_a_batch_under_its_own_queue');
SELECT results_eq(
    $$SELECT id FROM batchstate.list_batches('app-l1', 'scored', 'speculating')$$,
    ARRAY['app/l/b', 'app/l/spec'],
    'list_batches_with_several_states_returns_each_state');
SELECT results_eq(
    $$SELECT id FROM batchstate.list_batches('app-l1', 'scored', 'created')$$,
    ARRAY['app/l/B', 'app/l/a', 'app/l/a10', 'app/l/a9', 'app/l/b', 'app/l/é'],
    'list_batches_returns_a_batch_with_two_rows_once_in_byte_order');
SELECT results_eq(
    $$SELECT id FROM batchstate.list_batches('app-l1', 'scored', 'scored', 'created', 'scored')$$,
    ARRAY['app/l/B', 'app/l/a', 'app/l/a10', 'app/l/a9', 'app/l/b', 'app/l/é'],
    'list_batches_with_duplicate_states_returns_each_batch_once');
SELECT results_eq(
    $$SELECT id FROM batchstate.list_batches('app-l1', VARIADIC ARRAY['scored'])$$,
    ARRAY['app/l/b'],
    'list_batches_accepts_a_variadic_array');
SELECT is_empty(
    $$SELECT * FROM batchstate.list_batches('app-l1', VARIADIC '{}'::text[])$$,
    'list_batches_without_states_is_empty');
SELECT is_empty(
    $$SELECT * FROM batchstate.list_batches('app-nowhere', 'created', 'scored')$$,
    'list_batches_of_an_unknown_queue_is_empty');
SELECT results_eq(
    $$SELECT id, state FROM batchstate.list_batches('app-l1', 'failed')$$,
    $$VALUES ('app/l/fail'::text, 'failed'::text)$$,
    'list_batches_returns_a_terminal_batch_filed_under_its_own_state');
SELECT is_empty(
    $$SELECT * FROM batchstate.batch_state_membership WHERE batch_id = 'app/l/fail'$$,
    'list_batches_prunes_the_row_of_a_terminal_batch_under_its_own_state');
SELECT set_eq(
    $$SELECT m.queue, m.state, m.batch_id
        FROM batchstate.batch_state_membership m
        JOIN batchstate.batch b
          ON b.id = m.batch_id AND b.queue = m.queue AND b.state = m.state
       WHERE m.queue = 'app-l1'$$,
    $$VALUES ('app-l1', 'created', 'app/l/B'), ('app-l1', 'created', 'app/l/a'),
             ('app-l1', 'created', 'app/l/a10'), ('app-l1', 'created', 'app/l/a9'),
             ('app-l1', 'created', 'app/l/é'), ('app-l1', 'scored', 'app/l/b'),
             ('app-l1', 'speculating', 'app/l/spec')$$,
    'list_batches_keeps_the_rows_of_non_terminal_batches');

-- ---------------------------------------------------------------------------
-- list_active = list_batches(queue, VARIADIC non_terminal_states())
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    PERFORM batchstate.create_batch('app/a/' || s, 'app-a', s)
       FROM unnest(ARRAY['created', 'scored', 'speculating', 'merging', 'cancelling',
                         'succeeded', 'failed', 'cancelled']) AS s;
    -- terminal batches filed under their states: list_active must not scan them
    PERFORM batchstate.membership_add('app-a', s, 'app/a/' || s)
       FROM unnest(ARRAY['succeeded', 'failed', 'cancelled']) AS s;
END
$$;
SELECT results_eq(
    $$SELECT id FROM batchstate.list_active('app-a')$$,
    ARRAY['app/a/cancelling', 'app/a/created', 'app/a/merging', 'app/a/scored',
          'app/a/speculating'],
    'list_active_returns_the_non_terminal_batches_in_byte_order');
SELECT results_eq(
    $$SELECT * FROM batchstate.list_active('app-a')$$,
    $$SELECT * FROM batchstate.list_batches('app-a', 'created', 'scored',
                                            'speculating', 'merging', 'cancelling')$$,
    'list_active_equals_list_batches_over_the_non_terminal_states');
SELECT set_eq(
    $$SELECT state FROM batchstate.batch_state_membership
       WHERE queue = 'app-a' AND state IN ('succeeded', 'failed', 'cancelled')$$,
    ARRAY['succeeded', 'failed', 'cancelled'],
    'list_active_does_not_scan_terminal_states');
SELECT is_empty(
    $$SELECT * FROM batchstate.list_active('app-nowhere')$$,
    'list_active_of_an_unknown_queue_is_empty');

-- ---------------------------------------------------------------------------
-- ensure_membership
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    PERFORM batchstate.batch_create('app/m/1', 'app-m', 'scored');
    PERFORM batchstate.batch_create('app/m/2', 'app-m', 'cancelled');
    PERFORM batchstate.batch_create('app/m/3', 'app-m', 'merging');
    PERFORM batchstate.membership_add('app-m', 'created', 'app/m/3');
END
$$;
SELECT is(batchstate.ensure_membership('app/m/1'), true,
    'ensure_membership_returns_true_when_it_files_a_row');
SELECT set_eq(
    $$SELECT queue, state, batch_id FROM batchstate.batch_state_membership
       WHERE batch_id = 'app/m/1'$$,
    $$VALUES ('app-m', 'scored', 'app/m/1')$$,
    'ensure_membership_files_the_row_under_the_current_state');
SELECT is(batchstate.ensure_membership('app/m/1'), false,
    'ensure_membership_returns_false_when_the_row_is_there');
SELECT is(
    (SELECT count(*) FROM batchstate.batch_state_membership WHERE batch_id = 'app/m/1'),
    1::bigint,
    'ensure_membership_twice_keeps_one_row');
SELECT is(batchstate.ensure_membership('app/m/2'), false,
    'ensure_membership_returns_false_for_a_terminal_batch');
SELECT is_empty(
    $$SELECT * FROM batchstate.batch_state_membership WHERE batch_id = 'app/m/2'$$,
    'ensure_membership_files_nothing_for_a_terminal_batch');
SELECT is(batchstate.ensure_membership('app/m/3'), true,
    'ensure_membership_with_only_a_stale_row_returns_true');
SELECT results_eq(
    $$SELECT count(*) FROM batchstate.batch_state_membership
       WHERE queue = 'app-m' AND state = 'merging' AND batch_id = 'app/m/3'$$,
    ARRAY[1::bigint],
    'ensure_membership_files_the_current_state_beside_a_stale_row');
SELECT results_eq(
    $$SELECT version FROM batchstate.batch WHERE id IN ('app/m/1', 'app/m/2', 'app/m/3')$$,
    ARRAY[1, 1, 1],
    'ensure_membership_does_not_touch_the_batch_row');
SELECT throws_ok($$SELECT batchstate.ensure_membership('app/m/missing')$$,
    'P0002', NULL, 'ensure_membership_missing_batch_raises_p0002');

-- ---------------------------------------------------------------------------
-- a failed call leaves both tables exactly as they were
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    PERFORM batchstate.create_batch('app/x/1', 'app-x');
    PERFORM batchstate.create_batch('app/x/max', 'app-x', 'scored', version => 2147483647);
END
$$;
CREATE TEMP TABLE snap_batch ON COMMIT DROP AS SELECT * FROM batchstate.batch;
CREATE TEMP TABLE snap_member ON COMMIT DROP AS
    SELECT * FROM batchstate.batch_state_membership;

SELECT throws_ok($$SELECT batchstate.create_batch('app/x/1', 'app-y', 'scored')$$,
    '23505', 'batch "app/x/1" already exists', 'create_batch_duplicate_id_raises_23505');
SELECT throws_ok($$SELECT batchstate.create_batch('app/x/1', 'app-x', 'succeeded')$$,
    '23505', NULL, 'create_batch_duplicate_id_in_terminal_state_raises_23505');
SELECT throws_ok($$SELECT batchstate.update_state('app/x/1', 1, 'merging')$$,
    '55000', 'batch "app/x/1" cannot move from "created" to "merging"', 'update_state_created_to_merging_raises_55000');
SELECT throws_ok($$SELECT batchstate.update_state('app/x/1', 1, 'bogus')$$,
    '22023', 'unrecognized batch state "bogus" in argument "new_state"', 'update_state_unknown_state_raises_22023');
SELECT throws_ok($$SELECT batchstate.update_state('app/x/1', 1, NULL)$$,
    '22004', 'argument "new_state" must not be null', 'update_state_null_state_raises_22004');
SELECT throws_ok($$SELECT batchstate.update_state('app/x/1', 0, 'scored')$$,
    '22023', NULL, 'update_state_expected_version_0_raises_22023');
SELECT throws_ok($$SELECT batchstate.update_score_and_state('app/x/1', 1, 1.5, 'scored')$$,
    '22023', NULL, 'update_score_and_state_score_above_1_raises_22023');
SELECT throws_ok($$SELECT batchstate.update_score_and_state('app/x/1', 1, 'NaN', 'scored')$$,
    '22023', NULL, 'update_score_and_state_nan_score_raises_22023');
SELECT throws_ok($$SELECT batchstate.update_state('app/x/max', 2147483647, 'speculating')$$,
    '22003', NULL, 'update_state_version_overflow_raises_22003');
SELECT throws_ok($$SELECT batchstate.update_score_and_state('app/x/max', 2147483647, 0.5, 'scored')$$,
    '22003', NULL, 'update_score_and_state_version_overflow_raises_22003');
SELECT throws_ok($$SELECT batchstate.update_state('app/x/missing', 2147483647, 'scored')$$,
    '22003', NULL, 'update_state_overflow_is_raised_before_the_row_is_read');
SELECT throws_ok($$SELECT batchstate.update_state('app/x/missing', 1, 'scored')$$,
    'P0002', 'batch "app/x/missing" does not exist', 'update_state_missing_batch_raises_p0002');
SELECT throws_ok($$SELECT batchstate.update_score_and_state('app/x/missing', 1, 0.5, 'scored')$$,
    'P0002', NULL, 'update_score_and_state_missing_batch_raises_p0002');
SELECT throws_ok($$SELECT batchstate.create_batch('app/x/2', 'app-x', 'created', ARRAY['lr/1', NULL])$$,
    '22004', NULL, 'create_batch_null_array_element_raises_22004');
SELECT throws_ok($$SELECT batchstate.create_batch('app/x/2', 'app-x', 'created', ARRAY[['a', 'b'], ['c', 'd']])$$,
    '22023', NULL, 'create_batch_two_dimensional_array_raises_22023');
SELECT throws_ok($$SELECT batchstate.create_batch('app/x/2', 'app-x', 'bogus')$$,
    '22023', NULL, 'create_batch_unknown_state_raises_22023');
SELECT throws_ok($$SELECT batchstate.create_batch('app/x/2', '')$$,
    '22023', NULL, 'create_batch_empty_queue_raises_22023');
SELECT throws_ok($$SELECT batchstate.create_batch(NULL, 'app-x')$$,
    '22004', 'argument "id" must not be null', 'create_batch_null_id_raises_22004');
SELECT throws_ok($$SELECT * FROM batchstate.list_batches('app-x', 'created', 'bogus')$$,
    '22023', NULL, 'list_batches_unknown_state_raises_22023');
SELECT throws_ok($$SELECT * FROM batchstate.list_batches('app-x', 'created', NULL)$$,
    '22004', 'argument "states" must not contain null elements', 'list_batches_null_state_raises_22004');
SELECT throws_ok($$SELECT * FROM batchstate.list_batches(NULL, 'created')$$,
    '22004', 'argument "queue" must not be null', 'list_batches_null_queue_raises_22004');
SELECT throws_ok($$SELECT batchstate.ensure_membership('app/x/missing')$$,
    'P0002', NULL, 'ensure_membership_missing_batch_raises_p0002_again');
SELECT throws_ok($$SELECT * FROM batchstate.list_active(NULL)$$,
    '22004', 'argument "queue" must not be null',
    'list_active_null_queue_raises_22004');
SELECT throws_ok($$SELECT * FROM batchstate.verify('')$$,
    '22023', 'argument "queue" must not be empty',
    'verify_empty_queue_raises_22023');
SELECT throws_ok($$SELECT * FROM batchstate.reconcile('')$$,
    '22023', 'argument "queue" must not be empty',
    'reconcile_empty_queue_raises_22023');
SELECT bag_eq(
    $$SELECT * FROM batchstate.batch$$,
    $$SELECT * FROM snap_batch$$,
    'failed_calls_leave_the_batch_table_as_it_was');
SELECT bag_eq(
    $$SELECT * FROM batchstate.batch_state_membership$$,
    $$SELECT * FROM snap_member$$,
    'failed_calls_leave_the_membership_table_as_it_was');

-- ---------------------------------------------------------------------------
-- verify and reconcile (on a known state of both tables: the deletes roll
-- back with the rest)
-- ---------------------------------------------------------------------------
DELETE FROM batchstate.batch_state_membership;
DELETE FROM batchstate.batch;
DO $$
BEGIN
    -- v1: one of each kind of drift
    PERFORM batchstate.create_batch('v/ok', 'v1');
    PERFORM batchstate.batch_create('v/missing', 'v1', 'scored');
    PERFORM batchstate.create_batch('v/stale', 'v1');
    PERFORM batchstate.membership_add('v1', 'merging', 'v/stale');
    PERFORM batchstate.membership_add('v1', 'created', 'v/ghost');
    PERFORM batchstate.create_batch('v/other', 'v2');
    PERFORM batchstate.membership_add('v1', 'created', 'v/other');
    PERFORM batchstate.batch_create('v/done', 'v1', 'failed');
    PERFORM batchstate.membership_add('v1', 'failed', 'v/done');
    PERFORM batchstate.batch_create('v/done2', 'v1', 'succeeded');
    PERFORM batchstate.create_batch('v/done3', 'v1', 'speculating');
    PERFORM batchstate.batch_update_state('v/done3', 1, 2, 'cancelled');
    PERFORM batchstate.batch_create('v/both', 'v1', 'speculating');
    PERFORM batchstate.membership_add('v1', 'created', 'v/both');
    -- v2: one missing row
    PERFORM batchstate.batch_create('v/m2', 'v2', 'cancelling');
    -- v3: consistent
    PERFORM batchstate.create_batch('v/c1', 'v3', 'merging');
    PERFORM batchstate.create_batch('v/c2', 'v3', 'cancelled');
END
$$;
CREATE TEMP TABLE snap_v_batch ON COMMIT DROP AS SELECT * FROM batchstate.batch;
CREATE TEMP TABLE snap_v_member ON COMMIT DROP AS
    SELECT * FROM batchstate.batch_state_membership;

SELECT results_eq(
    $$SELECT * FROM batchstate.verify()$$,
    $$VALUES ('stale'::text,    'v1'::text, 'created'::text,     'v/both'::text),
             ('missing',        'v1',       'speculating',       'v/both'),
             ('stale',          'v1',       'failed',            'v/done'),
             ('stale',          'v1',       'speculating',       'v/done3'),
             ('dangling',       'v1',       'created',           'v/ghost'),
             ('missing',        'v1',       'scored',            'v/missing'),
             ('dangling',       'v1',       'created',           'v/other'),
             ('stale',          'v1',       'merging',           'v/stale'),
             ('missing',        'v2',       'cancelling',        'v/m2')$$,
    'verify_reports_each_drift_once_ordered_by_queue_batch_id_state');
SELECT results_eq(
    $$SELECT * FROM batchstate.verify(NULL)$$,
    $$SELECT * FROM batchstate.verify()$$,
    'verify_null_means_every_queue');
SELECT results_eq(
    $$SELECT * FROM batchstate.verify('v2')$$,
    $$VALUES ('missing'::text, 'v2'::text, 'cancelling'::text, 'v/m2'::text)$$,
    'verify_queue_reports_only_that_queue');
SELECT is_empty($$SELECT * FROM batchstate.verify('v3')$$,
    'verify_of_a_consistent_queue_is_empty');
SELECT is_empty($$SELECT * FROM batchstate.verify('v-nowhere')$$,
    'verify_of_an_unknown_queue_is_empty');
SELECT bag_eq($$SELECT * FROM batchstate.batch$$, $$SELECT * FROM snap_v_batch$$,
    'verify_writes_no_batch_row');
SELECT bag_eq($$SELECT * FROM batchstate.batch_state_membership$$,
    $$SELECT * FROM snap_v_member$$,
    'verify_writes_no_membership_row');

SELECT results_eq(
    $$SELECT * FROM batchstate.reconcile('v2')$$,
    $$VALUES (1::bigint, 0::bigint)$$,
    'reconcile_queue_returns_its_added_and_removed_counts');
SELECT is_empty($$SELECT * FROM batchstate.verify('v2')$$,
    'verify_after_reconcile_queue_is_empty_for_that_queue');
SELECT bag_eq(
    $$SELECT * FROM batchstate.batch_state_membership WHERE queue <> 'v2'$$,
    $$SELECT * FROM snap_v_member WHERE queue <> 'v2'$$,
    'reconcile_queue_touches_no_other_queue');
SELECT bag_eq($$SELECT * FROM batchstate.batch$$, $$SELECT * FROM snap_v_batch$$,
    'reconcile_writes_no_batch_row');

SELECT results_eq(
    $$SELECT * FROM batchstate.reconcile()$$,
    $$VALUES (2::bigint, 6::bigint)$$,
    'reconcile_returns_one_row_of_added_and_removed_counts');
SELECT is_empty($$SELECT * FROM batchstate.verify()$$,
    'verify_after_reconcile_is_empty');
SELECT set_eq(
    $$SELECT queue, state, batch_id FROM batchstate.batch_state_membership$$,
    $$VALUES ('v1', 'created', 'v/ok'), ('v1', 'scored', 'v/missing'),
             ('v1', 'created', 'v/stale'), ('v1', 'speculating', 'v/both'),
             ('v2', 'created', 'v/other'), ('v2', 'cancelling', 'v/m2'),
             ('v3', 'merging', 'v/c1')$$,
    'reconcile_leaves_exactly_one_row_per_non_terminal_batch');
SELECT bag_eq($$SELECT * FROM batchstate.batch$$, $$SELECT * FROM snap_v_batch$$,
    'reconcile_all_writes_no_batch_row');
SELECT results_eq(
    $$SELECT * FROM batchstate.reconcile()$$,
    $$VALUES (0::bigint, 0::bigint)$$,
    'reconcile_of_consistent_tables_returns_zero_counts');

SELECT * FROM finish();
ROLLBACK;
