--
-- store: the storage primitives.  Pure CRUD and compare-and-set on the two
-- tables: no transition rules, no membership side effects.
--
\set SHOW_CONTEXT never
SET search_path = batchstate;
TRUNCATE batch, batch_state_membership;

-- both tables in byte order, for looking at after each step
CREATE TEMP VIEW batches AS
    SELECT * FROM batch ORDER BY id COLLATE "C";
-- (without "since", a timestamp: sql/controller.sql tests it)
CREATE TEMP VIEW memberships AS
    SELECT queue, state, batch_id FROM batch_state_membership
    ORDER BY queue COLLATE "C", state COLLATE "C", batch_id COLLATE "C";

--
-- batch_create
--

-- only the required arguments: contains/dependencies '{}', score 0, version 1
SELECT batch_create('q1/batch/1', 'q1', 'created');
-- every argument
SELECT batch_create('q1/batch/2', 'q1', 'scored',
                    ARRAY['lr/10', 'lr/11'], ARRAY['q1/batch/1'], 0.25, 7);
-- named arguments; any valid state, a terminal one too; scores 0 and 1 are in range
SELECT batch_create(id => 'q1/batch/3', queue => 'q1', state => 'failed', score => 1);
SELECT batch_create(id => 'q2/batch/1', queue => 'q2', state => 'cancelling',
                    version => 2147483647, score => 0);
SELECT * FROM batches;
-- no membership rows were filed
SELECT count(*) AS memberships FROM batch_state_membership;

--
-- batch_get
--

-- the whole row
SELECT * FROM batch_get('q1/batch/2');
SELECT batch_get('q1/batch/1');
-- one field at a time
SELECT (batch_get('q1/batch/2')).state,
       (batch_get('q1/batch/2')).version,
       (batch_get('q1/batch/2')).contains;

--
-- batch_update_state
--

-- the current version matches: true, and the row holds the new values
SELECT batch_update_state('q1/batch/1', 1, 2, 'scored');
SELECT id, state, version FROM batch_get('q1/batch/1');
-- a stale old_version: false, and nothing changes
SELECT batch_update_state('q1/batch/1', 1, 3, 'speculating');
SELECT id, state, version FROM batch_get('q1/batch/1');
-- version arithmetic is the caller's: any new version is written as given
SELECT batch_update_state('q1/batch/1', 2, 10, 'scored');
SELECT id, state, version FROM batch_get('q1/batch/1');
-- no transition rules: scored -> merging skips speculating,
-- and a terminal batch moves back to created
SELECT batch_update_state('q1/batch/1', 10, 11, 'merging');
SELECT batch_update_state('q1/batch/3', 1, 2, 'created');
SELECT id, state, version FROM batches;
-- the other columns were not touched
SELECT id, contains, dependencies, score FROM batches;

--
-- batch_update_score_and_state
--

-- a match: true, score and state written, version as given
SELECT batch_update_score_and_state('q1/batch/2', 7, 8, 0.75, 'speculating');
SELECT * FROM batch_get('q1/batch/2');
-- a stale old_version: false, score and state unchanged
SELECT batch_update_score_and_state('q1/batch/2', 7, 9, 0.5, 'merging');
SELECT * FROM batch_get('q1/batch/2');
-- no rules here either: speculating -> succeeded directly, then back to created
SELECT batch_update_score_and_state('q1/batch/2', 8, 9, 1, 'succeeded');
SELECT batch_update_score_and_state('q1/batch/2', 9, 10, 0, 'created');
SELECT * FROM batch_get('q1/batch/2');

-- none of the writes above touched the membership table
SELECT count(*) AS memberships FROM batch_state_membership;

--
-- membership_add / membership_remove / membership_list_ids
--

-- adding is idempotent: the second add is a no-op
SELECT membership_add('q1', 'created', 'q1/batch/2');
SELECT membership_add('q1', 'created', 'q1/batch/2');
SELECT * FROM memberships;
-- it never looks at the batch table: an unknown batch id, a terminal state
-- and a batch that is really in another state are all filed as asked
SELECT membership_add('q1', 'failed', 'q1/batch/404');
SELECT membership_add('q1', 'scored', 'q1/batch/2');
SELECT * FROM memberships;
-- removing is idempotent, and removing a row that never existed succeeds
SELECT membership_remove('q1', 'failed', 'q1/batch/404');
SELECT membership_remove('q1', 'failed', 'q1/batch/404');
SELECT membership_remove('q9', 'merging', 'nothing/here');
SELECT * FROM memberships;
-- the batch table is untouched by all of this
SELECT id, queue, state, version FROM batches;

-- membership_list_ids: byte order (COLLATE "C"), whatever the database
-- collation; a linguistic collation would sort these differently
-- (e.g. _z, 10, 9, a3, B1, b2, Z)
TRUNCATE batch_state_membership;
SELECT count(*) AS added
FROM (SELECT membership_add('q1', 'created', id)
      FROM unnest(ARRAY['b2', 'Z', '9', '_z', 'a3', '10', 'B1']) AS id) AS calls;
SELECT membership_add('q1', 'scored', 'a0');
SELECT membership_add('q2', 'created', 'a1');
SELECT * FROM membership_list_ids('q1', 'created');
SELECT membership_list_ids('q1', 'scored');
SELECT membership_list_ids('q2', 'created');
-- an unknown queue, or a state with no rows: empty
SELECT * FROM membership_list_ids('q9', 'created');
SELECT * FROM membership_list_ids('q1', 'cancelled');
-- queue names are exact too
SELECT * FROM membership_list_ids('Q1', 'created');
