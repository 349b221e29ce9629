-- calls.sql: every batchstate function, on every path of its SQL (reads,
-- writes, lost races, errors, the prune of a list, the repairs of
-- reconcile), under search_path :path.  BatchstateTest::Hostile runs it
-- with and without the evil schema first in the path and requires
-- identical output.
-- No unqualified operator or collation appears below: under the evil path
-- they would hit the traps themselves.
\set ON_ERROR_STOP 1
SET search_path = :path;
SELECT hostile.reset();

-- the policy
SELECT * FROM batchstate.states();
SELECT batchstate.is_valid_state('created') AS valid,
       batchstate.is_valid_state('Created') AS invalid,
       batchstate.is_terminal('failed') AS terminal,
       batchstate.is_halted('cancelling') AS halted,
       batchstate.non_terminal_states() AS non_terminal,
       batchstate.conflict_states() AS conflict,
       batchstate.active_states() AS active,
       batchstate.cancellable_states() AS cancellable,
       batchstate.is_cancellable('merging') AS not_cancellable,
       batchstate.can_transition('created', 'scored') AS may,
       batchstate.can_transition('succeeded', 'succeeded') AS may_not;
SELECT hostile.try($$batchstate.can_transition('created', 'bogus')$$);

-- storage primitives
SELECT * FROM batchstate.batch_get('q1/B2');
SELECT * FROM batchstate.batch_get('q1/é');
SELECT hostile.try($$batchstate.batch_get('q1/evil')$$);
SELECT batchstate.batch_create('q1/p1', 'q1', 'created', ARRAY['lr/1'], ARRAY['q1/b1'], 0.125, 3);
SELECT hostile.try($$batchstate.batch_create('q1/p1', 'q1', 'scored')$$);
SELECT batchstate.batch_update_state('q1/p1', 3, 4, 'scored') AS cas;
SELECT batchstate.batch_update_state('q1/p1', 3, 9, 'merging') AS lost_race;
SELECT hostile.try($$batchstate.batch_update_state('q1/evil', 66, 67, 'scored')$$);
SELECT batchstate.batch_update_score_and_state('q1/p1', 4, 5, 0.75, 'failed') AS cas;
SELECT batchstate.batch_update_score_and_state('q1/p1', 4, 6, 0.5, 'scored') AS lost_race;
SELECT * FROM batchstate.batch_get('q1/p1');
SELECT batchstate.membership_add('q1', 'merging', 'q1/p1');
SELECT batchstate.membership_add('q1', 'merging', 'q1/p1');
SELECT * FROM batchstate.membership_list_ids('q1', 'merging');
SELECT * FROM batchstate.membership_list_ids('q1', 'created');
SELECT batchstate.membership_remove('q1', 'merging', 'q1/p1');
SELECT batchstate.membership_remove('q1', 'merging', 'q1/p1');
SELECT * FROM batchstate.membership_list_ids('q1', 'merging');

-- the app layer
SELECT * FROM batchstate.create_batch('q1/A1', 'q1');
SELECT * FROM batchstate.create_batch('q1/a2', 'q1', 'scored', ARRAY['lr/é', 'lr/5'], ARRAY['q1/A1'], 0.5, 7);
SELECT * FROM batchstate.create_batch('q1/a4', 'q1', 'failed');
SELECT hostile.try($$batchstate.create_batch('q1/b1', 'q2')$$);
SELECT batchstate.update_state('q1/A1', 1, 'scored') AS moved;
SELECT batchstate.update_state('q1/A1', 1, 'speculating') AS lost_race;
SELECT hostile.try($$batchstate.update_state('q1/A1', 2, 'succeeded')$$);
SELECT hostile.try($$batchstate.update_state('q1/A1', 2147483647, 'scored')$$);
SELECT hostile.try($$batchstate.update_state('q1/evil', 66, 'scored')$$);
SELECT batchstate.update_score_and_state('q1/A1', 2, 0.875, 'scored') AS rescored;
SELECT batchstate.update_state('q1/a2', 7, 'cancelling') AS moved;
SELECT batchstate.update_score_and_state('q1/a2', 8, 1, 'cancelled') AS moved;
SELECT hostile.try($$batchstate.update_state('q1/a2', 9, 'cancelled')$$);
SELECT * FROM batchstate.batch_get('q1/a2');
SELECT batchstate.update_batch('q1/A1', 3, 'speculating', ARRAY['lr/é'], ARRAY['q1/b1'], 0.25) AS moved;
SELECT batchstate.update_batch('q1/A1', 3, 'merging') AS lost_race;
SELECT batchstate.update_batch('q1/A1', 4, 'speculating', dependencies => ARRAY['q1/B2']) AS bumped;
SELECT hostile.try($$batchstate.update_batch('q1/A1', 5, 'creating')$$);
SELECT * FROM batchstate.batch_get('q1/A1');

-- the reverse lookups (through the GIN index: @> must be pg_catalog's),
-- the counts and the stuck batches (since < cutoff: pg_catalog's <)
SELECT * FROM batchstate.dependents_of('q1', 'q1/b1');
SELECT * FROM batchstate.dependents_of('q1', 'q1/b1', true);
SELECT * FROM batchstate.batches_containing('q1', 'lr/é', true);
SELECT * FROM batchstate.batches_containing('q1', 'lr/2');
SELECT queue, state, batches, oldest_since IS NOT NULL AS has_since FROM batchstate.queue_stats();
SELECT queue, state, batches, oldest_since IS NOT NULL AS has_since FROM batchstate.queue_stats('q1');
SELECT * FROM batchstate.stuck_batches('q1', '1 day', 'created', 'scored', 'speculating');

-- lists: candidates resolved against the batch rows; q1/done's terminal
-- row is pruned by the first list that meets it
SELECT * FROM batchstate.list_batches('q1', 'created', 'scored', 'succeeded', 'failed');
SELECT * FROM batchstate.membership_list_ids('q1', 'succeeded');
SELECT * FROM batchstate.list_active('q1');
SELECT * FROM batchstate.list_active('q2');
SELECT * FROM batchstate.list_batches('q1', VARIADIC '{}'::text[]);
SELECT hostile.try($$(SELECT count(*) FROM batchstate.list_batches('q1', 'created', 'evil'))$$);

-- drift, repair
SELECT * FROM batchstate.verify();
SELECT * FROM batchstate.verify('q2');
SELECT batchstate.ensure_membership('q1/lost') AS added;
SELECT batchstate.ensure_membership('q1/lost') AS added_again;
SELECT hostile.try($$batchstate.ensure_membership('q1/evil')$$);
SELECT * FROM batchstate.reconcile('q2');
SELECT * FROM batchstate.verify();
SELECT * FROM batchstate.reconcile();
SELECT * FROM batchstate.verify();

-- reads in a read-only transaction, with a terminal row to (not) prune
SELECT batchstate.membership_add('q1', 'failed', 'q1/a4');
BEGIN READ ONLY;
SELECT * FROM batchstate.list_batches('q1', 'failed', 'created');
SELECT * FROM batchstate.membership_list_ids('q1', 'failed');
SELECT * FROM batchstate.verify('q1');
SELECT * FROM batchstate.batch_get('q1/a4');
SELECT hostile.try($$batchstate.update_state('q1/b1', 1, 'scored')$$);
ROLLBACK;

-- what the calls left behind
SELECT * FROM batchstate.batch ORDER BY id COLLATE pg_catalog."C";
SELECT queue, state, batch_id FROM batchstate.batch_state_membership
ORDER BY queue COLLATE pg_catalog."C", state COLLATE pg_catalog."C",
         batch_id COLLATE pg_catalog."C";
