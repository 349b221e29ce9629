-- helpers.sql: schema "hostile" with the fixture and two probes, shared by
-- the search_path, privilege and corpus checks.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS hostile CASCADE;
CREATE SCHEMA hostile;
GRANT USAGE ON SCHEMA hostile TO PUBLIC;

-- hostile.try(call): "ok: <value>" or "<SQLSTATE>: <message>" for SELECT <call>.
-- No SET clause: the call runs under the caller's search_path, and the body
-- uses no operator that evil.sql shadows (|| and coalesce are not shadowed).
CREATE FUNCTION hostile.try(call text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
    code text;
    msg text;
BEGIN
    EXECUTE 'SELECT (' || call || ')::text' INTO result;
    RETURN 'ok: ' || coalesce(result, 'NULL');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN code || ': ' || msg;
END
$$;

-- hostile.md5(): a fingerprint of both batchstate tables, row by row.
CREATE FUNCTION hostile.md5() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT md5(
        coalesce((SELECT string_agg(b::text, '|' ORDER BY b::text COLLATE "C")
                  FROM batchstate.batch b), '')
        || '#' ||
        coalesce((SELECT string_agg(m::text, '|' ORDER BY m::text COLLATE "C")
                  FROM batchstate.batch_state_membership m), ''))
$$;

-- hostile.reset(): the fixture.  q1 holds a row for each kind of drift:
-- q1/done (terminal, filed under succeeded: pruned by a list, stale for
-- verify), q1/lost (merging, no row: missing), q1/ghost (no batch: dangling),
-- q2/x filed under q1 (another queue: dangling) and under q2/created (stale).
-- Ids differ in case so that an ordering other than COLLATE "C" shows.
-- The rows are filed at a fixed time, so that a fingerprint of the tables
-- depends on nothing but what the calls write.
CREATE FUNCTION hostile.reset() RETURNS void
LANGUAGE sql SET search_path = pg_catalog AS $$
    TRUNCATE batchstate.batch, batchstate.batch_state_membership;
    INSERT INTO batchstate.batch VALUES
        ('q1/b1', 'q1', '{}', '{}', 0, 'created', 1),
        ('q1/B2', 'q1', '{lr/2,lr/3}', '{q1/b1}', 0.5, 'scored', 4),
        ('q1/a3', 'q1', '{}', '{}', 0.25, 'speculating', 2),
        ('q1/é', 'q1', '{lr/ü}', '{}', 0, 'created', 1),
        ('q1/done', 'q1', '{}', '{}', 1, 'succeeded', 3),
        ('q1/lost', 'q1', '{}', '{}', 0, 'merging', 2),
        ('q2/x', 'q2', '{}', '{}', 0, 'speculating', 1);
    INSERT INTO batchstate.batch_state_membership (queue, state, batch_id, since)
    SELECT queue, state, batch_id, timestamptz '2026-01-01 00:00:00+00'
    FROM (VALUES
        ('q1', 'created', 'q1/b1'),
        ('q1', 'scored', 'q1/B2'),
        ('q1', 'speculating', 'q1/a3'),
        ('q1', 'created', 'q1/é'),
        ('q1', 'succeeded', 'q1/done'),
        ('q1', 'created', 'q1/ghost'),
        ('q1', 'created', 'q2/x'),
        ('q2', 'speculating', 'q2/x'),
        ('q2', 'created', 'q2/x')) AS m(queue, state, batch_id);
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA hostile TO PUBLIC;
