--
-- errors: every row of the error table in API.md, for every function it
-- applies to, and the promise that a failed call writes nothing.
-- (The policy functions' errors are in policy.sql.)
--
\set SHOW_CONTEXT never
SET search_path = batchstate;
TRUNCATE batch, batch_state_membership;

-- pg_temp.try(call) runs "SELECT <call>" and returns "ok" (with the value,
-- if any) or "SQLSTATE: message", then the detail and hint if there are any
CREATE FUNCTION pg_temp.try(call text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
    code text;
    msg text;
    detail text;
    hint text;
BEGIN
    EXECUTE 'SELECT ' || call INTO result;
    RETURN CASE WHEN coalesce(result, '') = '' THEN 'ok' ELSE 'ok: ' || result END;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN code || ': ' || msg
        || CASE WHEN detail <> '' THEN E'\nDETAIL: ' || detail ELSE '' END
        || CASE WHEN hint <> '' THEN E'\nHINT: ' || hint ELSE '' END;
END
$$;

-- pg_temp.snapshot() copies both tables aside; pg_temp.changes() lists every
-- row added or removed since (no rows = both tables unchanged)
CREATE TEMP TABLE snap_batch (LIKE batch);
CREATE TEMP TABLE snap_membership (LIKE batch_state_membership);
CREATE FUNCTION pg_temp.snapshot() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM pg_temp.snap_batch;
    INSERT INTO pg_temp.snap_batch SELECT * FROM batchstate.batch;
    DELETE FROM pg_temp.snap_membership;
    INSERT INTO pg_temp.snap_membership
        SELECT * FROM batchstate.batch_state_membership;
$$;
CREATE FUNCTION pg_temp.changes()
RETURNS TABLE (tbl text, change text, row_value text)
LANGUAGE sql AS $$
    SELECT * FROM (
        SELECT 'batch', 'added', r::text
        FROM (SELECT * FROM batchstate.batch
              EXCEPT ALL SELECT * FROM pg_temp.snap_batch) AS r
        UNION ALL
        SELECT 'batch', 'removed', r::text
        FROM (SELECT * FROM pg_temp.snap_batch
              EXCEPT ALL SELECT * FROM batchstate.batch) AS r
        UNION ALL
        SELECT 'membership', 'added', r::text
        FROM (SELECT * FROM batchstate.batch_state_membership
              EXCEPT ALL SELECT * FROM pg_temp.snap_membership) AS r
        UNION ALL
        SELECT 'membership', 'removed', r::text
        FROM (SELECT * FROM pg_temp.snap_membership
              EXCEPT ALL SELECT * FROM batchstate.batch_state_membership) AS r
    ) AS c (tbl, change, row_value)
    ORDER BY tbl, change, row_value COLLATE "C";
$$;

-- the fixture every call below runs against: consistent, three batches
SELECT id, state, version FROM create_batch('q1/b1', 'q1');
SELECT id, state, version FROM create_batch('q1/b2', 'q1', 'scored', ARRAY['lr/1'], '{}', 0.5, 4);
SELECT id, state, version FROM create_batch('q1/done', 'q1', 'succeeded');
SELECT pg_temp.snapshot();

--
-- how the errors read in psql (each followed by its SQLSTATE)
--
SELECT batch_get(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT batch_get('q1/nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT create_batch('q1/b1', 'q1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT create_batch('q1/b9', 'q1', 'Created');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT update_state('q1/b1', 1, 'merging');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT update_state('q1/b1', 2147483647, 'scored');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT update_score_and_state('q1/b1', 1, 'NaN', 'scored');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT list_batches('q1', VARIADIC ARRAY[['created'], ['scored']]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- none of these wrote anything
SELECT * FROM pg_temp.changes();

--
-- batch_get
--
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$batch_get(NULL)$$),
    ($$batch_get('')$$),
    ($$batch_get('q1/nope')$$),
    ($$batch_get('Q1/b1')$$),
    ($$batch_get(repeat('x', 1025))$$)
) AS t(call);

--
-- batch_create
--
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    -- a NULL for each argument, and a NULL array element
    ($$batch_create(NULL, 'q1', 'created')$$),
    ($$batch_create('q1/n', NULL, 'created')$$),
    ($$batch_create('q1/n', 'q1', NULL)$$),
    ($$batch_create('q1/n', 'q1', 'created', NULL)$$),
    ($$batch_create('q1/n', 'q1', 'created', '{}', NULL)$$),
    ($$batch_create('q1/n', 'q1', 'created', '{}', '{}', NULL)$$),
    ($$batch_create('q1/n', 'q1', 'created', '{}', '{}', 0, NULL)$$),
    ($$batch_create('q1/n', 'q1', 'created', ARRAY['lr/1', NULL])$$),
    ($$batch_create('q1/n', 'q1', 'created', '{}', ARRAY[NULL, 'q1/b1'])$$),
    -- empty strings
    ($$batch_create('', 'q1', 'created')$$),
    ($$batch_create('q1/n', '', 'created')$$),
    ($$batch_create('q1/n', 'q1', '')$$),
    ($$batch_create('q1/n', 'q1', 'created', ARRAY['lr/1', ''])$$),
    ($$batch_create('q1/n', 'q1', 'created', '{}', ARRAY[''])$$),
    -- unknown state
    ($$batch_create('q1/n', 'q1', 'bogus')$$),
    -- scores
    ($$batch_create('q1/n', 'q1', 'created', score => 'NaN')$$),
    ($$batch_create('q1/n', 'q1', 'created', score => 'Infinity')$$),
    ($$batch_create('q1/n', 'q1', 'created', score => '-Infinity')$$),
    ($$batch_create('q1/n', 'q1', 'created', score => -0.1)$$),
    ($$batch_create('q1/n', 'q1', 'created', score => 1.1)$$),
    -- versions
    ($$batch_create('q1/n', 'q1', 'created', version => 0)$$),
    ($$batch_create('q1/n', 'q1', 'created', version => -1)$$),
    -- multi-dimensional arrays
    ($$batch_create('q1/n', 'q1', 'created', ARRAY[['lr/1'], ['lr/2']])$$),
    ($$batch_create('q1/n', 'q1', 'created', '{}', ARRAY[['q1/b1']])$$),
    -- id, queue and array elements longer than 1024 bytes (513 two-byte characters)
    ($$batch_create('q1/n', 'q1', 'created', ARRAY['lr/1', repeat('x', 1025)])$$),
    ($$batch_create('q1/n', 'q1', 'created', '{}', ARRAY[repeat('é', 513)])$$),
    ($$batch_create(repeat('x', 1025), 'q1', 'created')$$),
    ($$batch_create('q1/n', repeat('x', 1025), 'created')$$),
    ($$batch_create(repeat('é', 513), 'q1', 'created')$$),
    -- the id exists
    ($$batch_create('q1/b1', 'q1', 'created')$$),
    ($$batch_create('q1/done', 'q2', 'scored')$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

--
-- create_batch
--
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$create_batch(NULL, 'q1')$$),
    ($$create_batch('q1/n', NULL)$$),
    ($$create_batch('q1/n', 'q1', NULL)$$),
    ($$create_batch('q1/n', 'q1', 'created', NULL)$$),
    ($$create_batch('q1/n', 'q1', 'created', '{}', NULL)$$),
    ($$create_batch('q1/n', 'q1', 'created', '{}', '{}', NULL)$$),
    ($$create_batch('q1/n', 'q1', 'created', '{}', '{}', 0, NULL)$$),
    ($$create_batch('q1/n', 'q1', 'created', ARRAY[NULL::text])$$),
    ($$create_batch('q1/n', 'q1', 'created', '{}', ARRAY['q1/b1', NULL])$$),
    ($$create_batch('', 'q1')$$),
    ($$create_batch('q1/n', '')$$),
    ($$create_batch('q1/n', 'q1', '')$$),
    ($$create_batch('q1/n', 'q1', 'created', ARRAY[''])$$),
    ($$create_batch('q1/n', 'q1', 'created', '{}', ARRAY['q1/b1', ''])$$),
    ($$create_batch('q1/n', 'q1', 'bogus')$$),
    ($$create_batch('q1/n', 'q1', score => 'NaN')$$),
    ($$create_batch('q1/n', 'q1', score => 'Infinity')$$),
    ($$create_batch('q1/n', 'q1', score => '-Infinity')$$),
    ($$create_batch('q1/n', 'q1', score => -0.1)$$),
    ($$create_batch('q1/n', 'q1', score => 1.1)$$),
    ($$create_batch('q1/n', 'q1', version => 0)$$),
    ($$create_batch('q1/n', 'q1', version => -1)$$),
    ($$create_batch('q1/n', 'q1', 'created', ARRAY[['lr/1', 'lr/2']])$$),
    ($$create_batch('q1/n', 'q1', 'created', '{}', ARRAY[['q1/b1'], ['q1/b2']])$$),
    ($$create_batch(repeat('x', 1025), 'q1')$$),
    ($$create_batch('q1/n', 'q1', 'created', ARRAY[repeat('x', 3000)])$$),
    ($$create_batch('q1/n', repeat('é', 513))$$),
    ($$create_batch('q1/b1', 'q1')$$),
    -- a duplicate is refused even when the membership row would be new
    ($$create_batch('q1/done', 'q1', 'created')$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

-- 1024 bytes is the limit, not less: these succeed (and are rolled back)
BEGIN;
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$batch_create(repeat('x', 1024), 'q1', 'created')$$),
    ($$(create_batch('q1/long', 'q1', 'created', ARRAY[repeat('x', 1024)], ARRAY[repeat('é', 512)])).version$$),
    ($$(create_batch(repeat('é', 512), repeat('y', 1024))).version$$),
    ($$octet_length((batch_get(repeat('é', 512))).queue)$$),
    -- and 2147483646 is the last expected_version that can be incremented
    ($$(create_batch('q1/big', 'q1', version => 2147483646)).version$$),
    ($$update_state('q1/big', 2147483646, 'scored')$$),
    ($$(batch_get('q1/big')).version$$),
    ($$update_state('q1/big', 2147483647, 'scored')$$)
) AS t(call);
ROLLBACK;
SELECT * FROM pg_temp.changes();

--
-- batch_update_state and batch_update_score_and_state
--
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$batch_update_state(NULL, 1, 2, 'scored')$$),
    ($$batch_update_state('q1/b1', NULL, 2, 'scored')$$),
    ($$batch_update_state('q1/b1', 1, NULL, 'scored')$$),
    ($$batch_update_state('q1/b1', 1, 2, NULL)$$),
    ($$batch_update_state('', 1, 2, 'scored')$$),
    ($$batch_update_state('q1/b1', 1, 2, '')$$),
    ($$batch_update_state('q1/b1', 1, 2, 'bogus')$$),
    ($$batch_update_state('q1/b1', 0, 2, 'scored')$$),
    ($$batch_update_state('q1/b1', -1, 2, 'scored')$$),
    ($$batch_update_state('q1/b1', 1, 0, 'scored')$$),
    ($$batch_update_state('q1/b1', 1, -2147483648, 'scored')$$),
    ($$batch_update_state(repeat('x', 1025), 1, 2, 'scored')$$),
    ($$batch_update_state('q1/nope', 1, 2, 'scored')$$),
    -- a stale version is not an error: false
    ($$batch_update_state('q1/b1', 2, 3, 'scored')$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$batch_update_score_and_state(NULL, 1, 2, 0.5, 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', NULL, 2, 0.5, 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 1, NULL, 0.5, 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 1, 2, NULL, 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 1, 2, 0.5, NULL)$$),
    ($$batch_update_score_and_state('', 1, 2, 0.5, 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 1, 2, 0.5, '')$$),
    ($$batch_update_score_and_state('q1/b1', 1, 2, 0.5, 'bogus')$$),
    ($$batch_update_score_and_state('q1/b1', 1, 2, 'NaN', 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 1, 2, 'Infinity', 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 1, 2, '-Infinity', 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 1, 2, -0.1, 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 1, 2, 1.1, 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 0, 2, 0.5, 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 1, -1, 0.5, 'scored')$$),
    ($$batch_update_score_and_state('q1/nope', 1, 2, 0.5, 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 2, 3, 0.5, 'scored')$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

--
-- membership_add, membership_remove, membership_list_ids
--
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$membership_add(NULL, 'created', 'q1/n')$$),
    ($$membership_add('q1', NULL, 'q1/n')$$),
    ($$membership_add('q1', 'created', NULL)$$),
    ($$membership_add('', 'created', 'q1/n')$$),
    ($$membership_add('q1', '', 'q1/n')$$),
    ($$membership_add('q1', 'created', '')$$),
    ($$membership_add('q1', 'bogus', 'q1/n')$$),
    ($$membership_add(repeat('x', 1025), 'created', 'q1/n')$$),
    ($$membership_add('q1', 'created', repeat('x', 1025))$$),
    ($$membership_remove(NULL, 'created', 'q1/b1')$$),
    ($$membership_remove('q1', NULL, 'q1/b1')$$),
    ($$membership_remove('q1', 'created', NULL)$$),
    ($$membership_remove('', 'created', 'q1/b1')$$),
    ($$membership_remove('q1', '', 'q1/b1')$$),
    ($$membership_remove('q1', 'created', '')$$),
    ($$membership_remove('q1', 'Created', 'q1/b1')$$),
    ($$membership_list_ids(NULL, 'created')$$),
    ($$membership_list_ids('q1', NULL)$$),
    ($$membership_list_ids('', 'created')$$),
    ($$membership_list_ids('q1', '')$$),
    ($$membership_list_ids('q1', 'bogus')$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

--
-- update_state and update_score_and_state
--
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$update_state(NULL, 1, 'scored')$$),
    ($$update_state('q1/b1', NULL, 'scored')$$),
    ($$update_state('q1/b1', 1, NULL)$$),
    ($$update_state('', 1, 'scored')$$),
    ($$update_state('q1/b1', 1, '')$$),
    ($$update_state('q1/b1', 1, 'bogus')$$),
    ($$update_state('q1/b1', 0, 'scored')$$),
    ($$update_state('q1/b1', -1, 'scored')$$),
    ($$update_state(repeat('x', 1025), 1, 'scored')$$),
    -- expected_version + 1 would overflow
    ($$update_state('q1/b1', 2147483647, 'scored')$$),
    -- the batch does not exist
    ($$update_state('q1/nope', 1, 'scored')$$),
    -- the policy forbids the move (each at the batch's current version)
    ($$update_state('q1/b1', 1, 'merging')$$),
    ($$update_state('q1/b1', 1, 'succeeded')$$),
    ($$update_state('q1/b2', 4, 'created')$$),
    ($$update_state('q1/done', 1, 'succeeded')$$),
    ($$update_state('q1/done', 1, 'created')$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$update_score_and_state(NULL, 1, 0.5, 'scored')$$),
    ($$update_score_and_state('q1/b1', NULL, 0.5, 'scored')$$),
    ($$update_score_and_state('q1/b1', 1, NULL, 'scored')$$),
    ($$update_score_and_state('q1/b1', 1, 0.5, NULL)$$),
    ($$update_score_and_state('', 1, 0.5, 'scored')$$),
    ($$update_score_and_state('q1/b1', 1, 0.5, '')$$),
    ($$update_score_and_state('q1/b1', 1, 0.5, 'bogus')$$),
    ($$update_score_and_state('q1/b1', 1, 'NaN', 'scored')$$),
    ($$update_score_and_state('q1/b1', 1, 'Infinity', 'scored')$$),
    ($$update_score_and_state('q1/b1', 1, '-Infinity', 'scored')$$),
    ($$update_score_and_state('q1/b1', 1, -0.1, 'scored')$$),
    ($$update_score_and_state('q1/b1', 1, 1.1, 'scored')$$),
    ($$update_score_and_state('q1/b1', 0, 0.5, 'scored')$$),
    ($$update_score_and_state('q1/b1', -2147483648, 0.5, 'scored')$$),
    ($$update_score_and_state('q1/b1', 2147483647, 0.5, 'scored')$$),
    ($$update_score_and_state('q1/nope', 1, 0.5, 'scored')$$),
    ($$update_score_and_state('q1/b1', 1, 0.5, 'merging')$$),
    ($$update_score_and_state('q1/b2', 4, 0.5, 'merging')$$),
    ($$update_score_and_state('q1/done', 1, 0.5, 'failed')$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

-- the order of the checks: NULL (22004), then bad values (22023), then the
-- overflow (22003, before the row is read), then a missing batch (P0002),
-- then the version (false), then the policy (55000)
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$update_state(NULL, 0, 'bogus')$$),
    ($$update_state('q1/nope', NULL, 'bogus')$$),
    ($$update_state('q1/nope', 2147483647, 'bogus')$$),
    ($$update_state('q1/nope', 0, 'scored')$$),
    ($$update_state('q1/nope', 2147483647, 'scored')$$),
    ($$update_state('q1/done', 2147483647, 'created')$$),
    ($$update_state('q1/done', 2, 'created')$$),
    ($$update_score_and_state('q1/nope', 2147483647, 1.5, 'scored')$$),
    ($$update_score_and_state('q1/nope', 2147483647, 0.5, 'scored')$$),
    ($$update_score_and_state('q1/b2', 3, 0.5, 'created')$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

--
-- list_batches and list_active
--
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$list_batches(NULL, 'created')$$),
    ($$list_batches('q1', VARIADIC NULL::text[])$$),
    ($$list_batches('q1', NULL)$$),
    ($$list_batches('q1', 'created', NULL)$$),
    ($$list_batches('', 'created')$$),
    ($$list_batches('q1', '')$$),
    ($$list_batches('q1', 'created', 'bogus')$$),
    ($$list_batches('q1', VARIADIC ARRAY[['created', 'scored']])$$),
    -- no states: an empty result, not an error
    ($$list_batches('q1')$$),
    ($$list_batches('q1', VARIADIC '{}')$$),
    ($$list_batches(repeat('x', 1025), 'created')$$),
    ($$list_active(NULL)$$),
    ($$list_active('')$$),
    ($$list_active(repeat('x', 1025))$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

--
-- ensure_membership, verify, reconcile
--
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$ensure_membership(NULL)$$),
    ($$ensure_membership('')$$),
    ($$ensure_membership('q1/nope')$$),
    ($$ensure_membership(repeat('x', 1025))$$),
    -- the queue of verify and reconcile is optional, but not empty
    ($$verify('')$$),
    ($$reconcile('')$$),
    ($$verify(repeat('x', 1025))$$),
    ($$reconcile(repeat('x', 1025))$$),
    ($$verify(NULL)$$),
    ($$reconcile(NULL)$$),
    ($$verify()$$),
    ($$reconcile()$$),
    ($$verify('q9')$$),
    ($$reconcile('q9')$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

--
-- update_batch: the checks and outcomes of update_state, and create_batch's
-- rules for the arrays and the score it may also replace (NULL keeps them)
--
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$update_batch(NULL, 1, 'scored')$$),
    ($$update_batch('q1/b1', NULL, 'scored')$$),
    ($$update_batch('q1/b1', 1, NULL)$$),
    ($$update_batch('', 1, 'scored')$$),
    ($$update_batch('q1/b1', 1, '')$$),
    ($$update_batch('q1/b1', 1, 'bogus')$$),
    ($$update_batch('q1/b1', 0, 'scored')$$),
    ($$update_batch(repeat('x', 1025), 1, 'scored')$$),
    ($$update_batch('q1/b1', 1, 'scored', ARRAY['lr/1', NULL])$$),
    ($$update_batch('q1/b1', 1, 'scored', dependencies => ARRAY[NULL::text])$$),
    ($$update_batch('q1/b1', 1, 'scored', ARRAY[''])$$),
    ($$update_batch('q1/b1', 1, 'scored', dependencies => ARRAY['q1/b2', ''])$$),
    ($$update_batch('q1/b1', 1, 'scored', ARRAY[['lr/1'], ['lr/2']])$$),
    ($$update_batch('q1/b1', 1, 'scored', dependencies => ARRAY[['q1/b2']])$$),
    ($$update_batch('q1/b1', 1, 'scored', ARRAY[repeat('x', 1025)])$$),
    ($$update_batch('q1/b1', 1, 'scored', dependencies => ARRAY['q1/b2', repeat('é', 513)])$$),
    ($$update_batch('q1/b1', 1, 'scored', score => 'NaN')$$),
    ($$update_batch('q1/b1', 1, 'scored', score => 1.5)$$),
    ($$update_batch('q1/b1', 1, 'scored', score => -0.5)$$),
    ($$update_batch('q1/b1', 2147483647, 'scored')$$),
    ($$update_batch('q1/nope', 1, 'scored', ARRAY['lr/1'])$$),
    ($$update_batch('q1/b1', 1, 'merging', ARRAY['lr/1'], ARRAY['q1/b2'], 0.5)$$),
    ($$update_batch('q1/b1', 1, 'creating', ARRAY['lr/1'])$$),
    ($$update_batch('q1/done', 1, 'failed', score => 0.5)$$),
    -- a stale version is not an error: false
    ($$update_batch('q1/b1', 2, 'scored', ARRAY['lr/1'])$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

-- the same order of checks as update_state: NULL, bad values (an array's
-- too, in argument order), the overflow, a missing batch, the version, the
-- policy
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$update_batch(NULL, 0, 'bogus', ARRAY[NULL::text])$$),
    ($$update_batch('q1/nope', 0, 'scored', ARRAY[''])$$),
    ($$update_batch('q1/nope', 1, 'scored', ARRAY[''], score => 2)$$),
    ($$update_batch('q1/nope', 1, 'scored', ARRAY['lr/1'], score => 2)$$),
    ($$update_batch('q1/nope', 2147483647, 'scored', ARRAY['lr/1'])$$),
    ($$update_batch('q1/done', 2147483647, 'created')$$),
    ($$update_batch('q1/done', 2, 'created')$$),
    ($$update_batch('q1/b2', 3, 'created', ARRAY['lr/1'])$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

--
-- dependents_of, batches_containing, queue_stats, stuck_batches: reads
--
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$dependents_of(NULL, 'q1/b1')$$),
    ($$dependents_of('q1', NULL)$$),
    ($$dependents_of('q1', 'q1/b1', NULL)$$),
    ($$dependents_of('', 'q1/b1')$$),
    ($$dependents_of('q1', '')$$),
    ($$dependents_of(repeat('x', 1025), 'q1/b1')$$),
    ($$dependents_of('q1', repeat('x', 1025))$$),
    ($$batches_containing(NULL, 'lr/1')$$),
    ($$batches_containing('q1', NULL)$$),
    ($$batches_containing('q1', 'lr/1', NULL)$$),
    ($$batches_containing('', 'lr/1')$$),
    ($$batches_containing('q1', '')$$),
    ($$batches_containing('q1', repeat('x', 1025))$$),
    -- an id or request that no batch holds: empty, not an error
    ($$dependents_of('q1', 'q1/nope')$$),
    ($$batches_containing('q9', 'lr/1')$$),
    ($$queue_stats('')$$),
    ($$queue_stats(repeat('x', 1025))$$),
    ($$stuck_batches(NULL, '1 hour', 'created')$$),
    ($$stuck_batches('q1', NULL, 'created')$$),
    ($$stuck_batches('q1', '1 hour', NULL)$$),
    ($$stuck_batches('q1', '1 hour', VARIADIC NULL::text[])$$),
    ($$stuck_batches('', '1 hour', 'created')$$),
    ($$stuck_batches('q1', '1 hour', '')$$),
    ($$stuck_batches('q1', '1 hour', 'created', 'bogus')$$),
    ($$stuck_batches('q1', '1 hour', VARIADIC ARRAY[['created']])$$),
    ($$stuck_batches('q1', '-1 second', 'created')$$),
    ($$stuck_batches('q1', '1 day -25 hours', 'created')$$),
    ($$stuck_batches('q1', '1 mon -31 days', 'created')$$),
    -- zero and beyond any batch's age are fine
    ($$stuck_batches('q1', '0', 'creating')$$),
    ($$stuck_batches('q1', '200000 years', 'created')$$)
) AS t(call);
SELECT * FROM pg_temp.changes();

--
-- every function that writes refuses a read-only transaction, before it
-- looks at its arguments, naming itself (25006); the reads go on
--
BEGIN TRANSACTION READ ONLY;
SELECT call, pg_temp.try(call) AS result FROM (VALUES
    ($$create_batch('q1/n', 'q1')$$),
    ($$update_state('q1/b1', 1, 'scored')$$),
    ($$update_score_and_state('q1/b1', 1, 0.5, 'scored')$$),
    ($$update_batch('q1/b1', 1, 'scored')$$),
    ($$update_batch(NULL, NULL, NULL)$$),
    ($$ensure_membership('q1/b1')$$),
    ($$reconcile()$$),
    ($$reconcile('q9')$$),
    ($$batch_create('q1/n', 'q1', 'created')$$),
    ($$batch_update_state('q1/b1', 1, 2, 'scored')$$),
    ($$batch_update_score_and_state('q1/b1', 1, 2, 0.5, 'scored')$$),
    ($$membership_add('q1', 'created', 'q1/n')$$),
    ($$membership_remove('q1', 'created', 'q1/b1')$$),
    ($$(batch_get('q1/b1')).state$$),
    ($$(SELECT count(*) FROM list_batches('q1', 'created'))$$),
    ($$(SELECT count(*) FROM list_active('q1'))$$),
    ($$(SELECT count(*) FROM verify())$$),
    ($$(SELECT count(*) FROM membership_list_ids('q1', 'created'))$$),
    ($$(SELECT count(*) FROM dependents_of('q1', 'q1/b1'))$$),
    ($$(SELECT count(*) FROM batches_containing('q1', 'lr/1'))$$),
    ($$(SELECT count(*) FROM queue_stats())$$),
    ($$(SELECT count(*) FROM stuck_batches('q1', '0', 'created'))$$)
) AS t(call);
ROLLBACK;
SELECT * FROM pg_temp.changes();
