/* batchstate_router--1.0--1.1.sql: upgrade batchstate_router from 1.0 to 1.1.
 * Routes batchstate 1.3's functions; the policy reports the new flags. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION batchstate_router UPDATE TO '1.1'" to load this file. \quit

-- queue_stats without a queue: every partition, like verify and reconcile
-- (route_queue_or_all is 1.0's).

-- The policy, from the same C library (batchstate 1.3 or later must be
-- installed on the router): states() reports cancellable and active.
DROP FUNCTION batchstate.states();
CREATE FUNCTION batchstate.states()
RETURNS TABLE (state text, terminal boolean, halted boolean, conflict boolean,
               cancellable boolean, active boolean)
AS '$libdir/batchstate', 'batchstate_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 9;

CREATE FUNCTION batchstate.is_cancellable(state text)
RETURNS boolean
AS '$libdir/batchstate', 'batchstate_is_cancellable'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.active_states()
RETURNS text[]
AS '$libdir/batchstate', 'batchstate_active_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.cancellable_states()
RETURNS text[]
AS '$libdir/batchstate', 'batchstate_cancellable_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- list_batches(queue) with no states: an empty result, as on a shard
CREATE OR REPLACE FUNCTION batchstate.list_batches(queue text, VARIADIC states text[] DEFAULT '{}')
RETURNS SETOF batchstate.batch
LANGUAGE sql VOLATILE
AS $$
    SELECT * FROM batchstate_router.list_batches(queue, states)
$$;

CREATE FUNCTION batchstate.update_batch(
    id text,
    expected_version integer,
    new_state text,
    contains text[] DEFAULT NULL,
    dependencies text[] DEFAULT NULL,
    score double precision DEFAULT NULL)
RETURNS boolean
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_id(id);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.dependents_of(
    queue text, id text, include_finished boolean DEFAULT false)
RETURNS SETOF batchstate.batch
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_queue(queue);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.batches_containing(
    queue text, request_id text, include_finished boolean DEFAULT false)
RETURNS SETOF batchstate.batch
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_queue(queue);
$$ LANGUAGE plproxy VOLATILE;

-- queue_stats: one queue's partition, or (NULL) every partition, merged in
-- the shards' order: queues in byte order, states in policy order
CREATE FUNCTION batchstate_router.queue_stats(queue text)
RETURNS TABLE (queue text, state text, batches bigint, oldest_since timestamptz)
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_queue_or_all(queue);
    TARGET batchstate.queue_stats;
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.queue_stats(queue text DEFAULT NULL)
RETURNS TABLE (queue text, state text, batches bigint, oldest_since timestamptz)
LANGUAGE sql VOLATILE
AS $$
    SELECT s.queue, s.state, s.batches, s.oldest_since
      FROM batchstate_router.queue_stats($1) AS s
     ORDER BY s.queue COLLATE "C",
              array_position(batchstate.non_terminal_states(), s.state)
$$;

-- PL/Proxy refuses VARIADIC functions (see list_batches)
CREATE FUNCTION batchstate_router.stuck_batches(queue text, older_than interval, states text[])
RETURNS SETOF batchstate.batch
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_queue(queue);
    SELECT * FROM batchstate.stuck_batches(queue, older_than, VARIADIC states);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.stuck_batches(queue text, older_than interval, VARIADIC states text[])
RETURNS SETOF batchstate.batch
LANGUAGE sql VOLATILE
AS $$
    SELECT * FROM batchstate_router.stuck_batches(queue, older_than, states)
$$;
