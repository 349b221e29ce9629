--
-- controller: what batchstate 1.3 answers for a submit-queue controller.
-- A batch assembled in creating and promoted with update_batch, the
-- reverse lookups (dependents_of, batches_containing) read from the batch
-- rows themselves, and how long batches sit in a state (the membership
-- row's "since", queue_stats, stuck_batches).
--
\set SHOW_CONTEXT never
SET search_path = batchstate;
TRUNCATE batch, batch_state_membership;

CREATE TEMP VIEW batches AS
    SELECT * FROM batch ORDER BY id COLLATE "C";
-- "since" as an age in whole seconds of the transaction's start (rows
-- filed in this transaction are 0 s old)
CREATE TEMP VIEW memberships AS
    SELECT queue, state, batch_id,
           extract(epoch FROM now() - since)::int AS age_s
    FROM batch_state_membership
    ORDER BY queue COLLATE "C", state COLLATE "C", batch_id COLLATE "C";
-- age a batch's membership rows by a number of seconds (a test's clock)
CREATE FUNCTION pg_temp.age(id text, seconds int) RETURNS void
LANGUAGE sql AS $$
    UPDATE batchstate.batch_state_membership
    SET since = since - make_interval(secs => seconds)
    WHERE batch_id = id
$$;

--
-- assembling a batch: persisted in creating, then promoted to created with
-- its final dependencies in one update_batch
--
SELECT * FROM create_batch('q1/batch/1', 'q1', contains => '{q1/lr/1}');
SELECT * FROM create_batch('q1/batch/2', 'q1', 'creating', '{q1/lr/2,q1/lr/3}');
-- creating is filed (stuck_batches finds abandoned attempts) but inert:
-- not listed by list_active
SELECT * FROM memberships;
SELECT id, state FROM list_active('q1');
SELECT id, state FROM list_batches('q1', 'creating');
-- the promotion: new state, final dependencies; contains and score kept
SELECT update_batch('q1/batch/2', 1, 'created', dependencies => '{q1/batch/1}');
SELECT * FROM batches;
SELECT * FROM memberships;
SELECT id, state FROM list_active('q1');
-- a version bump in creating keeps it there (and keeps its row)
SELECT * FROM create_batch('q1/batch/3', 'q1', 'creating', '{q1/lr/4}');
SELECT update_batch('q1/batch/3', 1, 'creating', dependencies => '{q1/batch/2}');
SELECT id, state, version, dependencies FROM batch_get('q1/batch/3');
-- an attempt that failed while being assembled is closed as failed
SELECT update_batch('q1/batch/3', 2, 'failed');
SELECT id, state, version FROM batch_get('q1/batch/3');
SELECT * FROM memberships;
-- nothing moves into creating
SELECT update_batch('q1/batch/2', 2, 'creating');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- and creating moves nowhere but created, failed and itself
SELECT * FROM create_batch('q1/batch/4', 'q1', 'creating');
SELECT update_batch('q1/batch/4', 1, 'speculating');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT update_state('q1/batch/4', 1, 'cancelling');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

--
-- update_batch replaces what it is given and keeps the rest (NULL keeps),
-- with update_state's outcomes
--
SELECT update_batch('q1/batch/2', 2, 'scored', score => 0.75);
SELECT id, contains, dependencies, score, state, version FROM batch_get('q1/batch/2');
SELECT update_batch('q1/batch/2', 3, 'scored', contains => '{q1/lr/2}');
SELECT id, contains, dependencies, score, state, version FROM batch_get('q1/batch/2');
SELECT update_batch('q1/batch/2', 4, 'speculating', '{q1/lr/2,q1/lr/5}',
                    '{q1/batch/1,q1/batch/0}', 0.5);
SELECT id, contains, dependencies, score, state, version FROM batch_get('q1/batch/2');
-- arrays can be emptied, and an element may repeat (kept as given)
SELECT update_batch('q1/batch/2', 5, 'speculating', dependencies => '{}');
SELECT update_batch('q1/batch/2', 6, 'speculating', contains => '{q1/lr/5,q1/lr/5}');
SELECT id, contains, dependencies, version FROM batch_get('q1/batch/2');
-- a lost race: false, nothing written
SELECT update_batch('q1/batch/2', 6, 'merging', '{x}', '{y}', 1);
SELECT id, contains, dependencies, score, state, version FROM batch_get('q1/batch/2');
-- all fields NULL: exactly update_state
SELECT update_batch('q1/batch/2', 7, 'merging');
SELECT id, state, version FROM batch_get('q1/batch/2');
SELECT * FROM memberships;
SELECT * FROM verify();

--
-- dependents_of and batches_containing: the batches of a queue whose
-- dependencies (contains) hold the id (request id), each once, in byte
-- order, non-terminal ones unless include_finished
--
TRUNCATE batch, batch_state_membership;
SELECT id FROM create_batch('q1/base', 'q1', contains => '{q1/lr/1}');
SELECT id FROM create_batch('q1/b', 'q1', 'speculating', '{q1/lr/2}', '{q1/base}');
SELECT id FROM create_batch('q1/B', 'q1', 'creating', '{q1/lr/2,q1/lr/3}', '{q1/base,q1/b}');
SELECT id FROM create_batch('q1/_', 'q1', 'merging', '{q1/lr/4}', '{q1/base,q1/base}');
SELECT id FROM create_batch('q1/10', 'q1', 'failed', '{q1/lr/2}', '{q1/base}');
SELECT id FROM create_batch('q1/9', 'q1', 'succeeded', '{q1/lr/1}', '{q1/b}');
-- another queue holding the same elements is never listed for q1
SELECT id FROM create_batch('q2/x', 'q2', contains => '{q1/lr/2}', dependencies => '{q1/base}');
SELECT id, state, dependencies FROM dependents_of('q1', 'q1/base');
SELECT id, state, dependencies FROM dependents_of('q1', 'q1/base', include_finished => true);
SELECT id, state FROM dependents_of('q1', 'q1/b', true);
SELECT id, state FROM dependents_of('q2', 'q1/base');
SELECT id, state, contains FROM batches_containing('q1', 'q1/lr/2');
SELECT id, state, contains FROM batches_containing('q1', 'q1/lr/2', true);
SELECT id, state FROM batches_containing('q1', 'q1/lr/1', true);
-- the id need not exist, before or after a batch ends
SELECT * FROM dependents_of('q1', 'q1/never');
SELECT * FROM batches_containing('q1', 'q1/lr/never');
-- no prefix or substring matches: whole elements only, byte for byte
SELECT id FROM dependents_of('q1', 'q1/bas');
SELECT id FROM dependents_of('q1', 'Q1/base');
-- the answers come from the batch rows, so they follow every write at
-- once, through the primitives too (no hint table to drift): q1/b ends
-- by batch_update_state, q1/B loses its dependency by update_batch
SELECT batch_update_state('q1/b', 1, 2, 'failed');
SELECT update_batch('q1/B', 1, 'created', dependencies => '{q1/b}');
SELECT id FROM dependents_of('q1', 'q1/base');
SELECT id FROM dependents_of('q1', 'q1/b');
SELECT id, state FROM batches_containing('q1', 'q1/lr/2');
-- and they equal a scan of the batch rows (no rows = equal)
SELECT b.id, d.id
FROM (SELECT id FROM batch
      WHERE queue = 'q1' AND dependencies @> '{q1/base}'
        AND state = ANY (non_terminal_states())) AS b
FULL JOIN dependents_of('q1', 'q1/base') AS d ON d.id = b.id
WHERE b.id IS NULL OR d.id IS NULL;

--
-- since: when a batch entered its state.  A row is filed with the time of
-- the transaction that filed it, kept by a move to the same state, and
-- new with every other move.
--
TRUNCATE batch, batch_state_membership;
SELECT id FROM create_batch('q1/s', 'q1');
SELECT pg_temp.age('q1/s', 600);
SELECT * FROM memberships;
-- a re-score in the same state: the row, and its age, stay
SELECT update_score_and_state('q1/s', 1, 0.5, 'created');
SELECT * FROM memberships;
-- a move: the new state's row is new
SELECT update_state('q1/s', 2, 'scored');
SELECT * FROM memberships;
-- a row that reconcile files is filed then: the time of the repair
SELECT membership_remove('q1', 'scored', 'q1/s');
SELECT * FROM reconcile();
SELECT * FROM memberships;

--
-- queue_stats: per queue and non-terminal state (policy order), the batches
-- in it, resolved against the batch rows as list_batches resolves them,
-- and since when the oldest of them has been there.  Nothing is pruned.
--
TRUNCATE batch, batch_state_membership;
SELECT id FROM create_batch('q1/a', 'q1');
SELECT id FROM create_batch('q1/b', 'q1');
SELECT id FROM create_batch('q1/c', 'q1', 'merging');
SELECT id FROM create_batch('q1/d', 'q1', 'creating');
SELECT id FROM create_batch('q2/a', 'q2', 'cancelling');
SELECT id FROM create_batch('q1/e', 'q1', 'succeeded');
SELECT pg_temp.age('q1/a', 3600);
SELECT pg_temp.age('q1/b', 60);
SELECT pg_temp.age('q1/c', 120);
-- rows the counts must see through: stale (q1/b is created, not scored),
-- dangling, and a terminal batch's row (which a list would prune)
SELECT membership_add('q1', 'scored', 'q1/b');
SELECT membership_add('q1', 'speculating', 'q1/ghost');
SELECT membership_add('q1', 'succeeded', 'q1/e');
SELECT queue, state, batches, extract(epoch FROM now() - oldest_since)::int AS oldest_age_s
FROM queue_stats('q1');
SELECT queue, state, batches, extract(epoch FROM now() - oldest_since)::int AS oldest_age_s
FROM queue_stats();
-- a queue with nothing in it: every state, at zero
SELECT * FROM queue_stats('q9');
-- nothing was pruned
SELECT count(*) AS membership_rows FROM batch_state_membership;
-- the counts equal the lists
SELECT s.state, s.batches,
       (SELECT count(*) FROM list_batches('q1', s.state)) AS listed
FROM queue_stats('q1') AS s;

--
-- stuck_batches: the batches that have stayed in one of the states longer
-- than the interval, oldest first; an abandoned creating attempt among them
--
SELECT pg_temp.age('q1/d', 7200);
SELECT id, state FROM stuck_batches('q1', '30 minutes', 'creating');
SELECT id, state FROM stuck_batches('q1', '30 seconds', 'created', 'merging', 'creating');
SELECT id, state FROM stuck_batches('q1', '90 seconds', VARIADIC non_terminal_states());
-- longer than, not as long as: with q1/b's row filed exactly 60 s before
-- the transaction began, 60 seconds leaves it out and 59 finds it
BEGIN;
UPDATE batch_state_membership SET since = now() - interval '60 seconds'
WHERE batch_id = 'q1/b';
SELECT id FROM stuck_batches('q1', '60 seconds', 'created');
SELECT id FROM stuck_batches('q1', '59 seconds', 'created');
ROLLBACK;
-- rows filed in this transaction have been there 0 s: never stuck
BEGIN;
SELECT id FROM create_batch('q1/now', 'q1');
SELECT id FROM stuck_batches('q1', '0', 'created');
ROLLBACK;
-- rows are resolved as list_batches resolves them: the stale row of q1/b
-- under scored and the dangling q1/ghost are never stuck; the row of the
-- succeeded q1/e under succeeded matches its batch, so it is returned, as
-- list_batches('q1', 'succeeded') returns it
SELECT id FROM stuck_batches('q1', '0', 'scored', 'speculating', 'succeeded');
-- no states: nothing
SELECT id FROM stuck_batches('q1', '0', VARIADIC '{}');
-- the abandoned attempt is closed; it is stuck no more
SELECT update_batch('q1/d', 1, 'failed');
SELECT id FROM stuck_batches('q1', '30 minutes', 'creating');
