-- scripts/demo.sql: a short guided tour of batchstate, run by scripts/demo.sh
-- in a fresh database where CREATE EXTENSION batchstate has just run.

\pset footer off
\pset null '(null)'

-- try(sql): run one statement and say how it ended, so a refused call shows
-- its SQLSTATE and message here without stopping the demo.
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    hint text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RETURN format('ERROR %s: %s', SQLSTATE, SQLERRM)
        || CASE WHEN hint <> '' THEN E'\n    hint: ' || hint ELSE '' END;
END
$$;

\echo
\echo '== 1. The lifecycle is data in one C module, the policy'
SELECT * FROM batchstate.states();

\echo '== 2. create_batch files a batch (version 1) and its queue/state membership'
SELECT id, queue, state, contains, version
  FROM batchstate.create_batch('q1/batch/1', 'q1', contains => ARRAY['land/101', 'land/102']);
SELECT b.id, b.queue, b.state, b.version
  FROM (VALUES ('q1/batch/2', 'q1'), ('q1/batch/3', 'q1'), ('q2/batch/1', 'q2')) AS v(id, queue),
       batchstate.create_batch(v.id, v.queue) AS b;

\echo '== 3. Each move is a compare-and-set on the version: true = applied, version + 1'
\pset tuples_only on
\pset format unaligned
SELECT 'q1/batch/1  created     -> scored (0.87): ' || batchstate.update_score_and_state('q1/batch/1', 1, 0.87, 'scored');
SELECT 'q1/batch/1  scored      -> speculating:   ' || batchstate.update_state('q1/batch/1', 2, 'speculating');
SELECT 'q1/batch/1  speculating -> merging:       ' || batchstate.update_state('q1/batch/1', 3, 'merging');
SELECT 'q1/batch/1  merging     -> succeeded:     ' || batchstate.update_state('q1/batch/1', 4, 'succeeded');
SELECT 'q1/batch/2  created     -> cancelling:    ' || batchstate.update_state('q1/batch/2', 1, 'cancelling');
SELECT 'q1/batch/2  cancelling  -> cancelled:     ' || batchstate.update_state('q1/batch/2', 2, 'cancelled');
SELECT 'q1/batch/3  created     -> scored (0.42): ' || batchstate.update_score_and_state('q1/batch/3', 1, 0.42, 'scored');
\pset tuples_only off
\pset format aligned
\echo
\echo 'batch_get(''q1/batch/1''): the row itself, the single source of truth'
SELECT id, state, score, version FROM batchstate.batch_get('q1/batch/1');

\echo '== 4. Membership: which batches does a queue hold, by current state'
\echo 'list_active(''q1''): the non-terminal ones; finished batches have left the index'
SELECT id, state, score, version FROM batchstate.list_active('q1');
\echo 'list_batches(''q2'', VARIADIC conflict_states()): what a controller scans for dependencies'
SELECT id, state, version FROM batchstate.list_batches('q2', VARIADIC batchstate.conflict_states());
\echo 'membership_list_ids(''q1'', ''scored''): the raw index, one primary-key prefix scan'
SELECT * FROM batchstate.membership_list_ids('q1', 'scored') AS batch_id;

\echo '== 5. Two workers both read q2/batch/1 at version 1; only the first write wins'
\pset tuples_only on
\pset format unaligned
SELECT 'worker A  created -> speculating (expects version 1): ' || batchstate.update_state('q2/batch/1', 1, 'speculating');
SELECT 'worker B  created -> cancelling  (expects version 1): ' || batchstate.update_state('q2/batch/1', 1, 'cancelling');
\echo '(worker B lost the race: it re-reads the batch and decides again)'

\echo
\echo '== 6. A refused call raises an error with a SQLSTATE and writes nothing'
SELECT 'q1/batch/1  succeeded -> created: ' || pg_temp.try($$SELECT batchstate.update_state('q1/batch/1', 5, 'created')$$);
SELECT 'q1/batch/3  scored -> done:       ' || pg_temp.try($$SELECT batchstate.update_state('q1/batch/3', 2, 'done')$$);
\pset tuples_only off
\pset format aligned
\echo 'q1/batch/1 is unchanged:'
SELECT id, state, version FROM batchstate.batch_get('q1/batch/1');

\echo '== 7. verify() reports drift between batches and memberships; none here'
\pset footer on
SELECT * FROM batchstate.verify();

\echo '== 8. The controller asks the batch rows themselves (1.3)'
\echo 'a batch assembled in creating, then filed as created with its dependencies:'
SELECT id, state, version FROM batchstate.create_batch('q2/batch/2', 'q2', 'creating',
       contains => ARRAY['land/201']);
SELECT batchstate.update_batch('q2/batch/2', 1, 'created', dependencies => ARRAY['q2/batch/1']);
\echo 'dependents_of(''q2'', ''q2/batch/1''): what a failure of q2/batch/1 would hold up'
SELECT id, state, dependencies FROM batchstate.dependents_of('q2', 'q2/batch/1');
\echo 'batches_containing(''q1'', ''land/101'', true): every batch that held land request 101'
SELECT id, state FROM batchstate.batches_containing('q1', 'land/101', true);
\echo 'queue_stats(''q2''): per state, how many and since when'
SELECT state, batches, oldest_since IS NOT NULL AS has_since FROM batchstate.queue_stats('q2');
