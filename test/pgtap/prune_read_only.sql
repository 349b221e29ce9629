-- prune_read_only.sql: in a read-only transaction the list functions
-- skip the best-effort prune of terminal rows: they neither fail nor write.
-- The fixture is written first; then the transaction turns read-only
-- (allowed mid-transaction in that direction).  pgTAP's set_eq/bag_eq
-- build temp tables with CREATE TABLE AS, which a read-only transaction
-- refuses, so this file compares ordered results with results_eq.
BEGIN;
SET LOCAL search_path = public, pg_catalog;
SELECT plan(11);

DO $$
BEGIN
    PERFORM batchstate.create_batch('ro/live', 'ro-q');
    -- terminal batch still filed under its old state
    PERFORM batchstate.batch_create('ro/done', 'ro-q', 'created');
    PERFORM batchstate.membership_add('ro-q', 'created', 'ro/done');
    PERFORM batchstate.batch_update_state('ro/done', 1, 2, 'succeeded');
    -- terminal batch filed under its own state
    PERFORM batchstate.batch_create('ro/fail', 'ro-q', 'failed');
    PERFORM batchstate.membership_add('ro-q', 'failed', 'ro/fail');
END
$$;

SET LOCAL transaction_read_only = on;

SELECT is(current_setting('transaction_read_only'), 'on',
    'transaction_is_read_only');
SELECT throws_ok(
    $$DELETE FROM batchstate.batch_state_membership WHERE batch_id = 'ro/done'$$,
    '25006', NULL,
    'a_direct_delete_fails_in_this_transaction');

SELECT results_eq(
    $$SELECT id FROM batchstate.list_batches('ro-q', 'created')$$,
    ARRAY['ro/live'],
    'list_batches_in_read_only_transaction_skips_the_terminal_batch_without_error');
SELECT results_eq(
    $$SELECT queue, state, batch_id FROM batchstate.batch_state_membership
       WHERE batch_id = 'ro/done'$$,
    $$VALUES ('ro-q'::text, 'created'::text, 'ro/done'::text)$$,
    'list_batches_in_read_only_transaction_keeps_the_terminal_row');
SELECT results_eq(
    $$SELECT id, state FROM batchstate.list_batches('ro-q', 'failed')$$,
    $$VALUES ('ro/fail'::text, 'failed'::text)$$,
    'list_batches_in_read_only_transaction_returns_terminal_batch_under_its_state');
SELECT results_eq(
    $$SELECT queue, state, batch_id FROM batchstate.batch_state_membership
       WHERE batch_id = 'ro/fail'$$,
    $$VALUES ('ro-q'::text, 'failed'::text, 'ro/fail'::text)$$,
    'list_batches_in_read_only_transaction_keeps_the_row_under_terminal_state');
SELECT results_eq(
    $$SELECT id FROM batchstate.list_active('ro-q')$$,
    ARRAY['ro/live'],
    'list_active_in_read_only_transaction_skips_the_terminal_batch_without_error');
SELECT results_eq(
    $$SELECT queue, state, batch_id FROM batchstate.batch_state_membership
       WHERE queue = 'ro-q' ORDER BY state COLLATE "C", batch_id COLLATE "C"$$,
    $$VALUES ('ro-q'::text, 'created'::text, 'ro/done'::text),
             ('ro-q', 'created', 'ro/live'), ('ro-q', 'failed', 'ro/fail')$$,
    'read_only_lists_leave_every_membership_row');
SELECT results_eq(
    $$SELECT * FROM batchstate.verify('ro-q')$$,
    $$VALUES ('stale'::text, 'ro-q'::text, 'created'::text, 'ro/done'::text),
             ('stale', 'ro-q', 'failed', 'ro/fail')$$,
    'verify_runs_in_a_read_only_transaction');
SELECT throws_ok($$SELECT * FROM batchstate.reconcile('ro-q')$$,
    '25006', NULL,
    'reconcile_in_read_only_transaction_raises_25006');
SELECT throws_ok($$SELECT batchstate.create_batch('ro/new', 'ro-q')$$,
    '25006', NULL,
    'create_batch_in_read_only_transaction_raises_25006');

SELECT * FROM finish();
ROLLBACK;
