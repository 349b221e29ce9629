--
-- app: the calls an orchestrator makes.  Each keeps the batch row and its
-- membership row in step; membership rows are hints that reads check
-- against the batch row.
--
\set SHOW_CONTEXT never
SET search_path = batchstate;
TRUNCATE batch, batch_state_membership;

-- both tables in byte order, and one line per batch with the states its
-- own queue files it under
CREATE TEMP VIEW batches AS
    SELECT * FROM batch ORDER BY id COLLATE "C";
-- (without "since", a timestamp: sql/controller.sql tests it)
CREATE TEMP VIEW memberships AS
    SELECT queue, state, batch_id FROM batch_state_membership
    ORDER BY queue COLLATE "C", state COLLATE "C", batch_id COLLATE "C";
CREATE TEMP VIEW filed AS
    SELECT b.id, b.queue, b.state, b.version, b.score,
           array(SELECT m.state FROM batch_state_membership AS m
                 WHERE m.queue = b.queue AND m.batch_id = b.id
                 ORDER BY m.state COLLATE "C") AS filed_under
    FROM batch AS b
    ORDER BY b.id COLLATE "C";

--
-- create_batch
--

-- returns the new row (defaults: created, '{}', '{}', 0, version 1) ...
SELECT * FROM create_batch('q1/batch/1', 'q1');
-- ... with every argument given ...
SELECT * FROM create_batch('q1/batch/2', 'q1', 'scored',
                           ARRAY['lr/1', 'lr/2'], ARRAY['q1/batch/1'], 0.5, 3);
-- ... or a terminal initial state, which files no membership
SELECT * FROM create_batch('q1/batch/3', 'q1', 'cancelled');
-- the non-terminal ones are filed under their state
SELECT * FROM memberships;
SELECT * FROM filed;

--
-- a whole lifecycle: created -> scored -> speculating -> merging -> succeeded;
-- each step bumps the version by one and moves the membership row
--
SELECT update_score_and_state('q1/batch/1', 1, 0.8, 'scored');
SELECT * FROM filed WHERE id = 'q1/batch/1';
SELECT update_state('q1/batch/1', 2, 'speculating');
SELECT * FROM filed WHERE id = 'q1/batch/1';
SELECT update_state('q1/batch/1', 3, 'merging');
SELECT * FROM filed WHERE id = 'q1/batch/1';
-- a terminal state: the membership row goes away
SELECT update_state('q1/batch/1', 4, 'succeeded');
SELECT * FROM filed WHERE id = 'q1/batch/1';
SELECT * FROM memberships;

-- the cancel paths: speculating -> cancelling -> succeeded (the merge won
-- the race), and created -> cancelling -> cancelled
SELECT * FROM create_batch('q1/batch/4', 'q1', 'speculating', score => 0.3);
SELECT update_state('q1/batch/4', 1, 'cancelling');
SELECT * FROM filed WHERE id = 'q1/batch/4';
SELECT update_score_and_state('q1/batch/4', 2, 1, 'succeeded');
SELECT * FROM filed WHERE id = 'q1/batch/4';
SELECT * FROM create_batch('q1/batch/5', 'q1');
SELECT update_state('q1/batch/5', 1, 'cancelling');
SELECT update_state('q1/batch/5', 2, 'cancelled');
SELECT * FROM filed WHERE id = 'q1/batch/5';

--
-- a move to the same state (e.g. a re-score) bumps the version and keeps
-- the membership row, or files it if it is missing
--
SELECT update_score_and_state('q1/batch/2', 3, 0.9, 'scored');
SELECT * FROM filed WHERE id = 'q1/batch/2';
SELECT membership_remove('q1', 'scored', 'q1/batch/2');
SELECT update_state('q1/batch/2', 4, 'scored');
SELECT * FROM filed WHERE id = 'q1/batch/2';

--
-- a lost race: another writer got there first; false, nothing written
--
SELECT update_state('q1/batch/2', 4, 'speculating');
SELECT update_score_and_state('q1/batch/2', 4, 0.1, 'speculating');
SELECT * FROM filed WHERE id = 'q1/batch/2';
-- the version is checked before any rule: a stale version on a terminal
-- batch is a lost race (false), not a forbidden move
SELECT update_state('q1/batch/1', 1, 'created');
-- with the current version the same move is forbidden
SELECT update_state('q1/batch/1', 5, 'created');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT update_state('q1/batch/2', 5, 'merging');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- neither call changed anything
SELECT * FROM filed;
SELECT * FROM memberships;

--
-- moves into one state from different states.  A move guesses the state it
-- comes from (the one the last move into the same state came from) and
-- checks the guess in the same statement as the write; a wrong guess costs
-- a second statement, never a wrong result.  After the first move here
-- (from scored) the guess is scored, so the second (from created) misses
-- and the third (from created) hits.  Each is right, as are the lost race
-- and the forbidden move after them.
--
SELECT id FROM create_batch('q1/batch/6', 'q1', 'scored');
SELECT id FROM create_batch('q1/batch/7', 'q1');
SELECT id FROM create_batch('q1/batch/8', 'q1');
SELECT update_state('q1/batch/6', 1, 'speculating');
SELECT update_state('q1/batch/7', 1, 'speculating');
SELECT update_state('q1/batch/8', 1, 'speculating');
SELECT update_state('q1/batch/8', 1, 'speculating');
SELECT update_state('q1/batch/8', 2, 'scored');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM filed WHERE id IN ('q1/batch/6', 'q1/batch/7', 'q1/batch/8');
SELECT * FROM verify('q1');
-- the last move into scored was q1/batch/2's move to itself, so the guess
-- for scored is scored: a move into it from created misses, and is right
SELECT id FROM create_batch('q1/batch/9', 'q1');
SELECT update_score_and_state('q1/batch/9', 1, 0.2, 'scored');
SELECT * FROM filed WHERE id = 'q1/batch/9';
SELECT * FROM verify('q1');

--
-- list_batches
--
TRUNCATE batch, batch_state_membership;
-- queue q2: ids whose byte order differs from a linguistic collation's
SELECT id FROM create_batch('q2/b', 'q2', 'merging');
SELECT id FROM create_batch('q2/10', 'q2');
SELECT id FROM create_batch('q2/B', 'q2', 'scored');
SELECT id FROM create_batch('q2/a', 'q2');
SELECT id FROM create_batch('q2/_', 'q2', 'speculating');
SELECT id FROM create_batch('q2/9', 'q2');
-- rows the reads must see through, made with the primitives:
-- stale (q2/B is scored, not merging)
SELECT membership_add('q2', 'merging', 'q2/B');
-- dangling: no such batch
SELECT membership_add('q2', 'created', 'q2/ghost');
-- dangling: the batch lives in queue q3
SELECT id FROM create_batch('q3/x', 'q3');
SELECT membership_add('q2', 'created', 'q3/x');
-- terminal: q2/t1 failed behind the app layer's back, its row under
-- created stayed; q2/t2 is cancelled and filed under cancelled
SELECT id FROM create_batch('q2/t1', 'q2');
SELECT batch_update_state('q2/t1', 1, 2, 'failed');
SELECT batch_create('q2/t2', 'q2', 'cancelled');
SELECT membership_add('q2', 'cancelled', 'q2/t2');
SELECT * FROM memberships;

-- one state: only batches of q2 that really are created, in byte order;
-- the row of the terminal q2/t1 is pruned on the way, the others stay
SELECT * FROM list_batches('q2', 'created');
SELECT * FROM memberships;
-- several states; q2/B has candidate rows under scored and merging but is
-- returned once
SELECT id, state FROM list_batches('q2', 'created', 'scored', 'merging');
-- a state given twice changes nothing
SELECT id, state FROM list_batches('q2', 'created', 'created', 'speculating');
-- the states as an array
SELECT id, state FROM list_batches('q2', VARIADIC ARRAY['merging', 'scored']);
-- no states: an empty result, with an empty array or no argument at all
SELECT * FROM list_batches('q2', VARIADIC ARRAY[]::text[]);
SELECT * FROM list_batches('q2');
-- a queue with no rows, and another queue's own rows
SELECT * FROM list_batches('q9', 'created');
SELECT id, queue, state FROM list_batches('q3', 'created');

-- a row under a terminal state whose batch is in that state matches: it is
-- returned and pruned ...
SELECT id, state FROM list_batches('q2', 'cancelled');
SELECT * FROM memberships WHERE state = 'cancelled';
-- ... but never in a read-only transaction, where the read still works
SELECT membership_add('q2', 'cancelled', 'q2/t2');
BEGIN TRANSACTION READ ONLY;
SELECT id, state FROM list_batches('q2', 'cancelled');
COMMIT;
SELECT * FROM memberships WHERE state = 'cancelled';
SELECT id, state FROM list_batches('q2', 'cancelled');
SELECT * FROM memberships WHERE state = 'cancelled';
-- the failed q2/t1 has no row left, so nothing lists it
SELECT * FROM list_batches('q2', 'failed');

--
-- list_active = list_batches(queue, VARIADIC active_states()): every
-- non-terminal state but creating, where a batch still being assembled
-- waits (q2/asm is listed under creating, not by list_active)
--
SELECT id FROM create_batch('q2/asm', 'q2', 'creating');
SELECT id, state, version FROM list_active('q2');
SELECT id, state FROM list_batches('q2', 'creating');
-- the two agree row for row (no rows = agree)
(SELECT * FROM list_active('q2')
 EXCEPT ALL
 SELECT * FROM list_batches('q2', VARIADIC active_states()))
UNION ALL
(SELECT * FROM list_batches('q2', VARIADIC active_states())
 EXCEPT ALL
 SELECT * FROM list_active('q2'));
-- and list_batches with every non-terminal state adds exactly q2/asm
(SELECT id FROM list_batches('q2', VARIADIC non_terminal_states())
 EXCEPT ALL
 SELECT id FROM list_active('q2'));

--
-- ensure_membership: files a batch under its current non-terminal state
--
-- made with the primitive, so not filed and not listed
SELECT batch_create('q2/new', 'q2', 'created');
SELECT id FROM list_batches('q2', 'created');
-- true: a row was added; the batch is listed now
SELECT ensure_membership('q2/new');
SELECT id FROM list_batches('q2', 'created');
-- false: already filed (a second call, and q2/B, filed under scored plus a
-- stale row that is left alone)
SELECT ensure_membership('q2/new');
SELECT ensure_membership('q2/B');
-- false: a terminal batch is never filed
SELECT ensure_membership('q2/t1');
SELECT * FROM filed WHERE id IN ('q2/new', 'q2/B', 'q2/t1');

--
-- verify and reconcile
--
TRUNCATE batch, batch_state_membership;
-- consistent: filed under its own state, or terminal and not filed
SELECT id FROM create_batch('q1/ok', 'q1', 'scored');
SELECT batch_create('q1/failed', 'q1', 'failed');
-- missing: a non-terminal batch without a row
SELECT batch_create('q1/missing', 'q1', 'speculating');
-- stale + missing: filed under created, but now merging
SELECT id FROM create_batch('q1/moved', 'q1');
SELECT batch_update_state('q1/moved', 1, 2, 'merging');
-- stale: filed under its own state, which is terminal
SELECT batch_create('q1/done', 'q1', 'succeeded');
SELECT membership_add('q1', 'succeeded', 'q1/done');
-- dangling: no such batch
SELECT membership_add('q1', 'scored', 'q1/ghost');
-- dangling: a row in q1 for a batch of q2
SELECT id FROM create_batch('q2/x', 'q2');
SELECT membership_add('q1', 'created', 'q2/x');
-- dangling in q1 and missing in q3: q3/y is filed only under queue q1
SELECT batch_create('q3/y', 'q3', 'scored');
SELECT membership_add('q1', 'scored', 'q3/y');
-- stale, in q2: filed under created, but failed since
SELECT id FROM create_batch('q2/t', 'q2');
SELECT batch_update_state('q2/t', 1, 2, 'failed');
SELECT * FROM filed;
SELECT * FROM memberships;

-- every problem, ordered by queue, batch_id, state, problem; verify only
-- reads, so it runs in a read-only transaction
BEGIN TRANSACTION READ ONLY;
SELECT * FROM verify();
COMMIT;
-- NULL means every queue, as the default does
SELECT count(*) FROM verify(NULL);
-- scoped to one queue: only that queue's rows and batches (q3/y's row in
-- q1 is q1's problem, its missing row is q3's)
SELECT * FROM verify('q1');
SELECT * FROM verify('q2');
SELECT * FROM verify('q3');
SELECT * FROM verify('q9');

-- reconcile one queue: counts of rows added and removed; the other queues
-- are left as they were
SELECT * FROM reconcile('q2');
SELECT * FROM verify('q2');
SELECT * FROM reconcile('q1');
SELECT * FROM verify();
-- reconcile the rest; verify is empty afterwards
SELECT * FROM reconcile();
SELECT * FROM verify();
SELECT * FROM filed;
SELECT * FROM memberships;
-- nothing left to do
SELECT * FROM reconcile();
SELECT * FROM reconcile(NULL);
