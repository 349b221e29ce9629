/* router/sql/batchstate_router.sql: batchstate_router installed from scratch,
 * at the version of batchstate_router.control (the build copies it to
 * batchstate_router--<version>.sql): the batchstate 1.3 API on a router database.
 * Every call goes by PL/Proxy to the shard that owns its queue; see README.md. */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION batchstate_router" to load this file. \quit

-- A router holds no batches, and both extensions own names in the schema
-- batchstate: refuse clearly rather than with "type already exists".
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'batchstate') THEN
        RAISE EXCEPTION USING
            ERRCODE = 'duplicate_object',
            MESSAGE = 'batchstate_router cannot be installed in a database that has the extension batchstate',
            DETAIL = 'Both extensions define the schema batchstate: a router database forwards every call to the shards and stores no batches.',
            HINT = 'Create batchstate_router in a database of its own, and batchstate in each shard database.';
    END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- The router's own schema: cluster configuration and routing.  The PL/Proxy
-- cluster is the foreign server "batchstate_shards" (SQL/MED): options p0,
-- p1, ... are the connection strings of the partitions, in order.
-- ---------------------------------------------------------------------------

CREATE SCHEMA batchstate_router;
COMMENT ON SCHEMA batchstate_router IS
    'batchstate_router: shard configuration and the routing of batchstate calls';

-- Every caller of the API runs the routing functions (PL/Proxy calls them
-- with the caller's privileges); they read nothing but their arguments and
-- the server's options.
GRANT USAGE ON SCHEMA batchstate_router TO PUBLIC;

-- A value for a message: at most 64 characters, as batchstate shows them.
CREATE FUNCTION batchstate_router.shown(value text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE WHEN length(value) <= 64 THEN value
                ELSE left(value, 64) || '...' END
$$;

CREATE FUNCTION batchstate_router.partitions()
RETURNS TABLE (partition integer, connstr text)
LANGUAGE sql STABLE
AS $$
    SELECT substring(o.opt, '^p([0-9]+)=')::integer,
           substring(o.opt, '^p[0-9]+=(.*)$')
      FROM pg_catalog.pg_foreign_server AS s,
           unnest(s.srvoptions) AS o(opt)
     WHERE s.srvname = 'batchstate_shards'
       AND o.opt ~ '^p[0-9]+='
     ORDER BY 1
$$;

COMMENT ON FUNCTION batchstate_router.partitions() IS
    'the partitions of the cluster batchstate_shards: number and connection string';

CREATE FUNCTION batchstate_router.partition_count()
RETURNS integer
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    n integer;
BEGIN
    SELECT count(*) INTO n FROM batchstate_router.partitions();
    IF n = 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'undefined_object',
            MESSAGE = 'batchstate_router has no shards configured',
            DETAIL = 'There is no foreign server "batchstate_shards" with options p0, p1, ...',
            HINT = 'Call batchstate_router.configure(ARRAY[''<connection string of partition 0>'', ...]).';
    END IF;
    RETURN n;
END
$$;

COMMENT ON FUNCTION batchstate_router.partition_count() IS
    'how many partitions the cluster batchstate_shards has';

-- PL/Proxy's own mapping of a hash to a partition: hash & (n - 1), or
-- abs(hash % n) when the server has the option modular_mapping '1'.
CREATE FUNCTION batchstate_router.partition_of(queue text, partitions integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    n integer := coalesce(partitions, batchstate_router.partition_count());
    modular boolean;
BEGIN
    IF queue IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'argument "queue" must not be null';
    END IF;
    SELECT EXISTS (SELECT FROM pg_catalog.pg_foreign_server AS s,
                                unnest(s.srvoptions) AS o(opt)
                    WHERE s.srvname = 'batchstate_shards'
                      AND o.opt = 'modular_mapping=1')
      INTO modular;
    IF n < 1 OR (NOT modular AND (n & (n - 1)) <> 0) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('argument "partitions" must be a power of two, not %s', n);
    END IF;
    IF modular THEN
        RETURN abs(hashtext(queue) % n);
    END IF;
    RETURN hashtext(queue) & (n - 1);
END
$$;

COMMENT ON FUNCTION batchstate_router.partition_of(text, integer) IS
    'the partition that holds a queue (with the current partition count, or with the one given)';

-- The queue part of a batch id: everything before the final "/batch/<n>".
CREATE FUNCTION batchstate_router.queue_of(id text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    queue text := substring(id, '^(.+)/batch/[0-9]+$');
BEGIN
    IF queue IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('batch id "%s" is not of the form "<queue>/batch/<n>"',
                             batchstate_router.shown(id)),
            DETAIL = 'Through batchstate_router a batch id has the form "<queue>/batch/<n>", n a decimal number: the router finds the shard of a batch from the queue part of its id.',
            HINT = 'Batches created through the router have ids such as "q1/batch/42".';
    END IF;
    RETURN queue;
END
$$;

COMMENT ON FUNCTION batchstate_router.queue_of(text) IS
    'the queue part of a batch id "<queue>/batch/<n>"; 22023 if the id has another form';

-- ---------------------------------------------------------------------------
-- Routing: PL/Proxy calls these on the router (RUN ON) before it sends a
-- call; each returns the hash of the queue, or raises.
-- ---------------------------------------------------------------------------

CREATE FUNCTION batchstate_router.route_queue(queue text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF queue IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'argument "queue" must not be null';
    END IF;
    RETURN hashtext(queue);
END
$$;

CREATE FUNCTION batchstate_router.route_id(id text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'argument "id" must not be null';
    END IF;
    RETURN hashtext(batchstate_router.queue_of(id));
END
$$;

-- A new batch: its id must name its queue, or later id-keyed calls would
-- look for it on another shard.
CREATE FUNCTION batchstate_router.route_new(id text, queue text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'argument "id" must not be null';
    END IF;
    IF queue IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'argument "queue" must not be null';
    END IF;
    IF substring(id, '^(.+)/batch/[0-9]+$') IS DISTINCT FROM queue THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('batch id "%s" is not of the form "%s/batch/<n>"',
                             batchstate_router.shown(id),
                             batchstate_router.shown(queue)),
            DETAIL = 'Through batchstate_router a batch id has the form "<queue>/batch/<n>", n a decimal number: the router finds the shard of a batch from the queue part of its id.',
            HINT = format('Use an id such as "%s/batch/1".',
                          batchstate_router.shown(queue));
    END IF;
    RETURN hashtext(queue);
END
$$;

-- verify and reconcile: one queue's partition, or every partition.
CREATE FUNCTION batchstate_router.route_queue_or_all(queue text)
RETURNS SETOF integer
LANGUAGE sql STABLE
AS $$
    SELECT hashtext(queue) WHERE queue IS NOT NULL
    UNION ALL
    SELECT p FROM generate_series(0, batchstate_router.partition_count() - 1) AS p
     WHERE queue IS NULL
$$;

-- ---------------------------------------------------------------------------
-- Configuration: (re)write the partition list of the cluster.
-- ---------------------------------------------------------------------------

CREATE FUNCTION batchstate_router.configure(partitions text[])
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    n integer := cardinality(partitions);
    modular boolean;
    opts text;
BEGIN
    IF partitions IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'argument "partitions" must not be null';
    END IF;
    IF n = 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'argument "partitions" must not be empty';
    END IF;
    IF array_ndims(partitions) <> 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'argument "partitions" must be a one-dimensional array';
    END IF;
    IF array_position(partitions, NULL) IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'argument "partitions" must not contain null elements';
    END IF;
    IF '' = ANY (partitions) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'argument "partitions" must not contain empty strings';
    END IF;

    SELECT EXISTS (SELECT FROM pg_catalog.pg_foreign_server AS s,
                                unnest(s.srvoptions) AS o(opt)
                    WHERE s.srvname = 'batchstate_shards'
                      AND o.opt = 'modular_mapping=1')
      INTO modular;
    IF NOT modular AND (n & (n - 1)) <> 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('argument "partitions" has %s elements, not a power of two', n),
            DETAIL = 'PL/Proxy sends a queue to partition hashtext(queue) & (n - 1), which needs n = 1, 2, 4, 8, ...',
            HINT = 'Repeat a connection string to put several partitions on one shard.';
    END IF;

    IF NOT EXISTS (SELECT FROM pg_catalog.pg_foreign_server
                    WHERE srvname = 'batchstate_shards') THEN
        SELECT string_agg(format('p%s %L', u.i - 1, u.c), ', ' ORDER BY u.i)
          INTO opts
          FROM unnest(partitions) WITH ORDINALITY AS u(c, i);
        EXECUTE 'CREATE SERVER batchstate_shards FOREIGN DATA WRAPPER plproxy OPTIONS ('
                || opts || ')';
    ELSE
        -- one ALTER, so that PL/Proxy's validator sees the final list
        SELECT string_agg(x.o, ', ' ORDER BY x.k, x.o)
          INTO opts
          FROM (SELECT u.i - 1 AS k,
                       format('%s p%s %L',
                                         CASE WHEN p.partition IS NULL THEN 'ADD' ELSE 'SET' END,
                                         u.i - 1, u.c) AS o
                  FROM unnest(partitions) WITH ORDINALITY AS u(c, i)
                  LEFT JOIN batchstate_router.partitions() AS p ON p.partition = u.i - 1
                UNION ALL
                SELECT p.partition, format('DROP p%s', p.partition)
                  FROM batchstate_router.partitions() AS p
                 WHERE p.partition >= n) AS x;
        EXECUTE 'ALTER SERVER batchstate_shards OPTIONS (' || opts || ')';
    END IF;

    IF NOT EXISTS (SELECT FROM pg_catalog.pg_user_mappings
                    WHERE srvname = 'batchstate_shards') THEN
        CREATE USER MAPPING FOR PUBLIC SERVER batchstate_shards;
    END IF;
    RETURN n;
END
$$;

COMMENT ON FUNCTION batchstate_router.configure(text[]) IS
    'set the partitions of the cluster batchstate_shards (connection strings, in order); creates the server and a PUBLIC user mapping if missing';

REVOKE EXECUTE ON FUNCTION batchstate_router.configure(text[]) FROM PUBLIC;

-- Point one partition at another connection string (a move's fence and switch).
CREATE FUNCTION batchstate_router.set_partition(partition integer, connstr text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    n integer := batchstate_router.partition_count();
BEGIN
    IF partition IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'argument "partition" must not be null';
    END IF;
    IF connstr IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'argument "connstr" must not be null';
    END IF;
    IF connstr = '' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'argument "connstr" must not be empty';
    END IF;
    IF partition < 0 OR partition >= n THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('argument "partition" must be between 0 and %s, not %s', n - 1, partition);
    END IF;
    EXECUTE format('ALTER SERVER batchstate_shards OPTIONS (SET %I %L)', 'p' || partition, connstr);
END
$$;

COMMENT ON FUNCTION batchstate_router.set_partition(integer, text) IS
    'set the connection string of one partition of the cluster batchstate_shards';

REVOKE EXECUTE ON FUNCTION batchstate_router.set_partition(integer, text) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- The row type of batchstate.batch: a composite type, not a table, because
-- the router stores no rows.  Same columns, in the same order, as the table
-- on the shards.
-- ---------------------------------------------------------------------------

CREATE TYPE batchstate.batch AS (
    id           text,
    queue        text,
    contains     text[],
    dependencies text[],
    score        double precision,
    state        text,
    version      integer
);

COMMENT ON TYPE batchstate.batch IS
    'a batch as the shards return it; the rows live in the table batchstate.batch of each shard';

-- ---------------------------------------------------------------------------
-- The policy, answered on the router by batchstate's own C functions (the
-- library is installed on the router, the extension is not): one source of
-- truth, src/policy.c, and no shard is asked.
-- ---------------------------------------------------------------------------

CREATE FUNCTION batchstate.states()
RETURNS TABLE (state text, terminal boolean, halted boolean, conflict boolean,
               cancellable boolean, active boolean)
AS '$libdir/batchstate', 'batchstate_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 9;

CREATE FUNCTION batchstate.is_valid_state(state text)
RETURNS boolean
AS '$libdir/batchstate', 'batchstate_is_valid_state'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.is_terminal(state text)
RETURNS boolean
AS '$libdir/batchstate', 'batchstate_is_terminal'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.is_halted(state text)
RETURNS boolean
AS '$libdir/batchstate', 'batchstate_is_halted'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.is_cancellable(state text)
RETURNS boolean
AS '$libdir/batchstate', 'batchstate_is_cancellable'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.non_terminal_states()
RETURNS text[]
AS '$libdir/batchstate', 'batchstate_non_terminal_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.conflict_states()
RETURNS text[]
AS '$libdir/batchstate', 'batchstate_conflict_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.active_states()
RETURNS text[]
AS '$libdir/batchstate', 'batchstate_active_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.cancellable_states()
RETURNS text[]
AS '$libdir/batchstate', 'batchstate_cancellable_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.can_transition(from_state text, to_state text)
RETURNS boolean
AS '$libdir/batchstate', 'batchstate_can_transition'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ---------------------------------------------------------------------------
-- Storage primitives, proxied.  VOLATILE: each call is a transaction of its
-- own on a shard, so no snapshot spans two calls.
-- ---------------------------------------------------------------------------

CREATE FUNCTION batchstate.batch_get(id text)
RETURNS batchstate.batch
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_id(id);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.batch_create(
    id text,
    queue text,
    state text,
    contains text[] DEFAULT '{}',
    dependencies text[] DEFAULT '{}',
    score double precision DEFAULT 0,
    version integer DEFAULT 1)
RETURNS void
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_new(id, queue);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.batch_update_state(
    id text, old_version integer, new_version integer, new_state text)
RETURNS boolean
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_id(id);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.batch_update_score_and_state(
    id text, old_version integer, new_version integer,
    score double precision, new_state text)
RETURNS boolean
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_id(id);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.membership_add(queue text, state text, batch_id text)
RETURNS void
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_queue(queue);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.membership_remove(queue text, state text, batch_id text)
RETURNS void
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_queue(queue);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.membership_list_ids(queue text, state text)
RETURNS SETOF text
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_queue(queue);
$$ LANGUAGE plproxy VOLATILE;

-- ---------------------------------------------------------------------------
-- The app layer, proxied.
-- ---------------------------------------------------------------------------

CREATE FUNCTION batchstate.create_batch(
    id text,
    queue text,
    state text DEFAULT 'created',
    contains text[] DEFAULT '{}',
    dependencies text[] DEFAULT '{}',
    score double precision DEFAULT 0,
    version integer DEFAULT 1)
RETURNS batchstate.batch
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_new(id, queue);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.update_state(
    id text, expected_version integer, new_state text)
RETURNS boolean
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_id(id);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.update_score_and_state(
    id text, expected_version integer, score double precision, new_state text)
RETURNS boolean
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_id(id);
$$ LANGUAGE plproxy VOLATILE;

-- PL/Proxy 2.10 refuses VARIADIC functions: the public VARIADIC function is
-- plain SQL over a PL/Proxy function that passes the array on with VARIADIC.
CREATE FUNCTION batchstate_router.list_batches(queue text, states text[])
RETURNS SETOF batchstate.batch
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_queue(queue);
    SELECT * FROM batchstate.list_batches(queue, VARIADIC states);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.list_batches(queue text, VARIADIC states text[] DEFAULT '{}')
RETURNS SETOF batchstate.batch
LANGUAGE sql VOLATILE
AS $$
    SELECT * FROM batchstate_router.list_batches(queue, states)
$$;

CREATE FUNCTION batchstate.list_active(queue text)
RETURNS SETOF batchstate.batch
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_queue(queue);
$$ LANGUAGE plproxy VOLATILE;

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

CREATE FUNCTION batchstate.ensure_membership(id text)
RETURNS boolean
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_id(id);
$$ LANGUAGE plproxy VOLATILE;

-- verify and reconcile: one queue runs on its shard; NULL runs on every
-- partition, and the public functions combine what the shards return.
CREATE FUNCTION batchstate_router.verify(queue text)
RETURNS TABLE (problem text, queue text, state text, batch_id text)
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_queue_or_all(queue);
    TARGET batchstate.verify;
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.verify(queue text DEFAULT NULL)
RETURNS TABLE (problem text, queue text, state text, batch_id text)
LANGUAGE sql VOLATILE
AS $$
    SELECT v.problem, v.queue, v.state, v.batch_id
      FROM batchstate_router.verify($1) AS v
     ORDER BY v.queue COLLATE "C", v.batch_id COLLATE "C",
              v.state COLLATE "C", v.problem COLLATE "C"
$$;

CREATE FUNCTION batchstate_router.reconcile(queue text)
RETURNS TABLE (added bigint, removed bigint)
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_queue_or_all(queue);
    TARGET batchstate.reconcile;
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate.reconcile(queue text DEFAULT NULL)
RETURNS TABLE (added bigint, removed bigint)
LANGUAGE sql VOLATILE ROWS 1
AS $$
    SELECT coalesce(sum(r.added), 0)::bigint,
           coalesce(sum(r.removed), 0)::bigint
      FROM batchstate_router.reconcile($1) AS r
$$;
