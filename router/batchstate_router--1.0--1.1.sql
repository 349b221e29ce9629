/* batchstate_router--1.0--1.1.sql: upgrade batchstate_router from 1.0 to 1.1.
 * Routes batchstate 1.3's functions; the policy reports the new flags; every
 * call runs under a deadline (the cluster's query_timeout, 10 s unless set)
 * and an error from a shard names it.  Needs batchstate 1.3's library on
 * the router: the deadline is C, in it. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION batchstate_router UPDATE TO '1.1'" to load this file. \quit

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

-- The 1.0 API: the public functions were PL/Proxy functions themselves;
-- in 1.1 they are PL/pgSQL over PL/Proxy functions in batchstate_router.
DROP FUNCTION batchstate.batch_get(text);
DROP FUNCTION batchstate.batch_create(text, text, text, text[], text[], double precision, integer);
DROP FUNCTION batchstate.batch_update_state(text, integer, integer, text);
DROP FUNCTION batchstate.batch_update_score_and_state(text, integer, integer, double precision, text);
DROP FUNCTION batchstate.membership_add(text, text, text);
DROP FUNCTION batchstate.membership_remove(text, text, text);
DROP FUNCTION batchstate.membership_list_ids(text, text);
DROP FUNCTION batchstate.create_batch(text, text, text, text[], text[], double precision, integer);
DROP FUNCTION batchstate.update_state(text, integer, text);
DROP FUNCTION batchstate.update_score_and_state(text, integer, double precision, text);
DROP FUNCTION batchstate.list_batches(text, text[]);
DROP FUNCTION batchstate_router.list_batches(text, text[]);
DROP FUNCTION batchstate.list_active(text);
DROP FUNCTION batchstate.ensure_membership(text);
DROP FUNCTION batchstate.verify(text);
DROP FUNCTION batchstate_router.verify(text);
DROP FUNCTION batchstate.reconcile(text);
DROP FUNCTION batchstate_router.reconcile(text);
DROP FUNCTION batchstate_router.route_queue_or_all(text);
-- configure() takes the bound too
DROP FUNCTION batchstate_router.configure(text[]);

-- The partition of a partition-wise call (verify, reconcile, queue_stats):
-- PL/Proxy maps a hash of 0 to n - 1 onto that partition.
CREATE FUNCTION batchstate_router.route_partition(partition integer)
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT partition
$$;

-- ---------------------------------------------------------------------------
-- Configuration: (re)write the partition list of the cluster and its bound.
-- ---------------------------------------------------------------------------

-- A connection string of a partition must not hold a password: PL/Proxy's
-- own messages may show it (user mappings and ~/.pgpass are for passwords).
CREATE FUNCTION batchstate_router.check_connstr(argument text, connstr text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF connstr ~ '(^|\s)password\s*=' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('argument "%s" must not hold a password', argument),
            DETAIL = 'Errors of the router may show a partition''s connection string.',
            HINT = 'Give the password in a user mapping of the server batchstate_shards (CREATE USER MAPPING ... OPTIONS (user ..., password ...)) or in ~/.pgpass of the router''s server.';
    END IF;
END
$$;

CREATE FUNCTION batchstate_router.configure(partitions text[], timeout interval DEFAULT '10 s')
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    n integer := cardinality(partitions);
    seconds numeric := extract(epoch FROM timeout);
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
    PERFORM batchstate_router.check_connstr('partitions', c) FROM unnest(partitions) AS c;
    IF timeout IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'argument "timeout" must not be null';
    END IF;
    IF seconds < 1 OR seconds > 86400 OR seconds <> trunc(seconds) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('argument "timeout" must be a whole number of seconds from 1 s to 1 day, not "%s"', timeout),
            DETAIL = 'It bounds every call to a shard; PL/Proxy counts it in whole seconds.';
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
        EXECUTE format('CREATE SERVER batchstate_shards FOREIGN DATA WRAPPER plproxy OPTIONS (%s, query_timeout %L)',
                       opts, seconds::integer);
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
                 WHERE p.partition >= n
                UNION ALL
                SELECT -1, format('%s query_timeout %L',
                                  CASE WHEN batchstate_router.timeout() IS NULL THEN 'ADD' ELSE 'SET' END,
                                  seconds::integer)) AS x;
        EXECUTE 'ALTER SERVER batchstate_shards OPTIONS (' || opts || ')';
    END IF;

    IF NOT EXISTS (SELECT FROM pg_catalog.pg_user_mappings
                    WHERE srvname = 'batchstate_shards') THEN
        CREATE USER MAPPING FOR PUBLIC SERVER batchstate_shards;
    END IF;
    RETURN n;
END
$$;

COMMENT ON FUNCTION batchstate_router.configure(text[], interval) IS
    'set the partitions of the cluster batchstate_shards (connection strings, in order) and the bound of a call (query_timeout); creates the server and a PUBLIC user mapping if missing';

REVOKE EXECUTE ON FUNCTION batchstate_router.configure(text[], interval) FROM PUBLIC;

-- Point one partition at another connection string (a move's fence and switch).
CREATE OR REPLACE FUNCTION batchstate_router.set_partition(partition integer, connstr text)
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
    PERFORM batchstate_router.check_connstr('connstr', connstr);
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
-- Failures at a shard: bounded, and named.  Every call runs under a
-- deadline, the cluster's query_timeout (src/router.c says why PL/Proxy's
-- own timeouts are not enough), and an error that comes from a shard, or
-- from the way to it, is raised again naming the partition and where it is.
-- ---------------------------------------------------------------------------

-- The bound of a call in seconds: the cluster's query_timeout (NULL if none).
CREATE FUNCTION batchstate_router.timeout()
RETURNS integer
LANGUAGE sql STABLE
AS $$
    SELECT substring(o.opt, '^query_timeout=(.*)$')::integer
      FROM pg_catalog.pg_foreign_server AS s,
           unnest(s.srvoptions) AS o(opt)
     WHERE s.srvname = 'batchstate_shards'
       AND o.opt ~ '^query_timeout='
$$;

COMMENT ON FUNCTION batchstate_router.timeout() IS
    'the bound of a call to a shard, in seconds: the query_timeout of the cluster batchstate_shards';

-- Where a connection string leads, and nothing else (no user, no password):
-- its host, hostaddr, port, dbname and service settings, as written.
CREATE FUNCTION batchstate_router.connection(connstr text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(string_agg(m[1] || '=' || m[2], ' ' ORDER BY n), '')
      FROM regexp_matches(connstr, '(\w+)\s*=\s*(''(?:[^''\\]|\\.)*''|[^\s'']*)', 'g')
           WITH ORDINALITY AS r(m, n)
     WHERE m[1] IN ('host', 'hostaddr', 'port', 'dbname', 'service')
$$;

-- A partition as errors name it: "partition 1 (host=... port=... dbname=...)".
CREATE FUNCTION batchstate_router.shard(partition integer)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT 'partition ' || $1
           || coalesce(' (' || nullif(batchstate_router.connection(
                  (SELECT p.connstr FROM batchstate_router.partitions() AS p
                    WHERE p.partition = $1)), '') || ')', '')
$$;

COMMENT ON FUNCTION batchstate_router.shard(integer) IS
    'a partition as errors name it: its number, and the host, port and database of its connection string';

CREATE FUNCTION batchstate_router.arm_deadline()
RETURNS integer
AS '$libdir/batchstate', 'batchstate_router_arm_deadline'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION batchstate_router.arm_deadline() IS
    'end the call in progress after the cluster''s query_timeout, or before the statement''s timeout (until the calling block ends); returns it in milliseconds';

CREATE FUNCTION batchstate_router.expired_deadline()
RETURNS integer
AS '$libdir/batchstate', 'batchstate_router_expired_deadline'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION batchstate_router.expired_deadline() IS
    'the deadline that ended the last call, in milliseconds; NULL if none did';

CREATE FUNCTION batchstate_router.raise(sqlstate text, message text, detail text, hint text)
RETURNS void
AS '$libdir/batchstate', 'batchstate_router_raise'
LANGUAGE C VOLATILE;

-- Whether an error caught around a proxied call came from its shard, from
-- the connection to it, or from the deadline; errors of the router itself
-- (routing, rights) did not.
CREATE FUNCTION batchstate_router.from_shard(sqlstate text, message text)
RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
    SELECT message ~ '^\S+\(\d+\): \[[^]]*\] REMOTE '
        OR message ~ '^PL/Proxy function '
        OR (sqlstate = '55P03' AND batchstate_router.expired_deadline() IS NOT NULL)
$$;

-- Raise again an error caught around a proxied call, without the router's
-- own context lines.  With p NULL (the router's own error) as it was; else,
-- from_shard() having said it came from partition p:
--   the shard's own error: its SQLSTATE, message, detail and hint, the
--     message prefixed with the partition;
--   no answer within the bound: 08006;
--   no connection: 08001; a connection lost during the call: 08006;
--   anything else PL/Proxy says: its SQLSTATE, prefixed with the partition.
CREATE FUNCTION batchstate_router.raise_again(
    p integer, sqlstate text, message text, detail text, hint text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    shard text := coalesce(batchstate_router.shard(p), '');
    remote text[] := regexp_match(message, '^\S+\(\d+\): \[[^]]*\] REMOTE [^:]*: (.*)$', 's');
    proxy text := substring(message FROM '^PL/Proxy function \S+\(\d+\): (.*)$');
    libpq text[] := regexp_match(proxy, '^\[[^]]*\] (\S+): (.*)$', 's');
BEGIN
    IF p IS NULL THEN
        PERFORM batchstate_router.raise(sqlstate, message, nullif(detail, ''), nullif(hint, ''));
    ELSIF remote IS NOT NULL THEN
        PERFORM batchstate_router.raise(sqlstate, shard || ': ' || remote[1],
                                        substring(detail FROM '^Remote detail: (.*)$'),
                                        substring(hint FROM '^Remote hint: (.*)$'));
    ELSIF proxy = 'query timeout' OR sqlstate = '55P03' THEN
        PERFORM batchstate_router.raise('08006',
            format('%s: no answer within %s s', shard,
                   coalesce(rtrim(rtrim((batchstate_router.expired_deadline() / 1000.0)::text, '0'), '.'),
                            batchstate_router.timeout()::text)),
            'The shard may yet carry out the call when it answers again.',
            'This session connects to the shard afresh at its next call. '
            'The bound is the query_timeout of the server batchstate_shards (batchstate_router.configure), '
            'or less when the statement''s timeout comes first.');
    ELSIF libpq[1] IN ('PQconnectStart', 'PQconnectPoll') THEN
        PERFORM batchstate_router.raise('08001', shard || ': could not connect',
                                        rtrim(libpq[2], E' \n\t'), NULL);
    ELSIF libpq IS NOT NULL THEN
        PERFORM batchstate_router.raise('08006', shard || ': connection lost during the call',
                                        rtrim(libpq[2], E' \n\t'),
                                        'The shard may have carried out the call.');
    END IF;
    PERFORM batchstate_router.raise(sqlstate, shard || ': ' || coalesce(proxy, message),
                                    nullif(detail, ''), nullif(hint, ''));
END
$$;



-- A cluster configured by 1.0 gets the bound that configure() now sets.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_foreign_server WHERE srvname = 'batchstate_shards')
       AND batchstate_router.timeout() IS NULL THEN
        ALTER SERVER batchstate_shards OPTIONS (ADD query_timeout '10');
        -- a warning: an extension script shows nothing less
        RAISE WARNING 'batchstate_router 1.1: every call to a shard now ends after at most 10 s (option query_timeout of server batchstate_shards)'
            USING HINT = 'batchstate_router.configure(partitions, timeout) sets another bound.';
    END IF;
    IF EXISTS (SELECT FROM batchstate_router.partitions() AS p
                WHERE p.connstr ~ '(^|\s)password\s*=') THEN
        RAISE WARNING 'a partition''s connection string holds a password, and errors may show it'
            USING HINT = 'Move the password to a user mapping of the server batchstate_shards or to ~/.pgpass, then call batchstate_router.configure() again.';
    END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- The API, routed.  Each function of the table below is made twice:
--
--   batchstate_router.NAME   the PL/Proxy function: runs batchstate.NAME
--                            on the partition of the call's queue (PL/Proxy
--                            takes no VARIADIC: the array goes as it is);
--   batchstate.NAME          the public function, in PL/pgSQL: calls the
--                            first under the deadline, and raises an error
--                            that comes from the shard again, naming it.
--
-- A call is routed by the queue it names: "queue" by its argument queue,
-- "id" by the queue part of its argument id, "new" by queue, once id is
-- checked to start with it.  All are VOLATILE: each call is a transaction
-- of its own on a shard, so no snapshot spans two calls.
-- ---------------------------------------------------------------------------

DO $api$
DECLARE
    f record;
    nargs integer;
BEGIN
    FOR f IN
        SELECT * FROM (VALUES
            -- storage primitives
            ('batch_get', 'id text', 'batchstate.batch', 'id', NULL),
            ('batch_create', 'id text, queue text, state text, contains text[] DEFAULT ''{}'', '
                             'dependencies text[] DEFAULT ''{}'', score double precision DEFAULT 0, '
                             'version integer DEFAULT 1', 'void', 'new', NULL),
            ('batch_update_state', 'id text, old_version integer, new_version integer, new_state text',
                                   'boolean', 'id', NULL),
            ('batch_update_score_and_state', 'id text, old_version integer, new_version integer, '
                                             'score double precision, new_state text', 'boolean', 'id', NULL),
            ('membership_add', 'queue text, state text, batch_id text', 'void', 'queue', NULL),
            ('membership_remove', 'queue text, state text, batch_id text', 'void', 'queue', NULL),
            ('membership_list_ids', 'queue text, state text', 'SETOF text', 'queue', NULL),
            -- the app layer
            ('create_batch', 'id text, queue text, state text DEFAULT ''created'', '
                             'contains text[] DEFAULT ''{}'', dependencies text[] DEFAULT ''{}'', '
                             'score double precision DEFAULT 0, version integer DEFAULT 1',
                             'batchstate.batch', 'new', NULL),
            ('update_state', 'id text, expected_version integer, new_state text', 'boolean', 'id', NULL),
            ('update_score_and_state', 'id text, expected_version integer, score double precision, '
                                       'new_state text', 'boolean', 'id', NULL),
            ('list_batches', 'queue text, VARIADIC states text[] DEFAULT ''{}''',
                             'SETOF batchstate.batch', 'queue',
                             'SELECT * FROM batchstate.list_batches(queue, VARIADIC states)'),
            ('list_active', 'queue text', 'SETOF batchstate.batch', 'queue', NULL),
            ('ensure_membership', 'id text', 'boolean', 'id', NULL),
            -- the controller's questions (1.3)
            ('update_batch', 'id text, expected_version integer, new_state text, '
                             'contains text[] DEFAULT NULL, dependencies text[] DEFAULT NULL, '
                             'score double precision DEFAULT NULL', 'boolean', 'id', NULL),
            ('dependents_of', 'queue text, id text, include_finished boolean DEFAULT false',
                              'SETOF batchstate.batch', 'queue', NULL),
            ('batches_containing', 'queue text, request_id text, include_finished boolean DEFAULT false',
                                   'SETOF batchstate.batch', 'queue', NULL),
            ('stuck_batches', 'queue text, older_than interval, VARIADIC states text[]',
                              'SETOF batchstate.batch', 'queue',
                              'SELECT * FROM batchstate.stuck_batches(queue, older_than, VARIADIC states)')
        ) AS api(name, params, result, routed_by, remote_call)
    LOOP
        EXECUTE format($proxy$
            CREATE FUNCTION batchstate_router.%1$I(%2$s)
            RETURNS %3$s
            AS $body$
                CLUSTER 'batchstate_shards';
                RUN ON %4$s;
                %5$s;
            $body$ LANGUAGE plproxy VOLATILE
            $proxy$,
            f.name, replace(f.params, 'VARIADIC ', ''), f.result,
            CASE f.routed_by
                WHEN 'queue' THEN 'batchstate_router.route_queue(queue)'
                WHEN 'id' THEN 'batchstate_router.route_id(id)'
                WHEN 'new' THEN 'batchstate_router.route_new(id, queue)' END,
            coalesce(f.remote_call, format('TARGET batchstate.%I', f.name)));

        SELECT p.pronargs INTO nargs
          FROM pg_catalog.pg_proc AS p
         WHERE p.proname = f.name AND p.pronamespace = 'batchstate_router'::regnamespace;

        EXECUTE format($public$
            CREATE FUNCTION batchstate.%1$I(%2$s)
            RETURNS %3$s
            LANGUAGE plpgsql VOLATILE
            AS $body$
            DECLARE
                err_sqlstate text;
                err_message text;
                err_detail text;
                err_hint text;
            BEGIN
                PERFORM batchstate_router.arm_deadline();
                %4$s batchstate_router.%1$I(%5$s);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS err_sqlstate = RETURNED_SQLSTATE,
                    err_message = MESSAGE_TEXT, err_detail = PG_EXCEPTION_DETAIL,
                    err_hint = PG_EXCEPTION_HINT;
                PERFORM batchstate_router.raise_again(
                    CASE WHEN batchstate_router.from_shard(err_sqlstate, err_message)
                         THEN batchstate_router.partition_of(%6$s) END,
                    err_sqlstate, err_message, err_detail, err_hint);
            END
            $body$
            $public$,
            f.name, f.params, f.result,
            CASE WHEN f.result = 'void' THEN 'PERFORM'
                 WHEN f.result LIKE 'SETOF %' THEN 'RETURN QUERY SELECT * FROM'
                 ELSE 'RETURN' END,
            (SELECT string_agg('$' || i, ', ') FROM generate_series(1, nargs) AS i),
            CASE f.routed_by
                WHEN 'queue' THEN '$1'
                WHEN 'id' THEN 'batchstate_router.queue_of($1)'
                WHEN 'new' THEN '$2' END);
    END LOOP;
END
$api$;

-- ---------------------------------------------------------------------------
-- Partition-wise calls: verify, reconcile and queue_stats of one queue run
-- on its partition; of every queue (NULL), on each shard in turn (once per
-- connection string), each under the deadline and named on error.  The
-- public functions combine what the shards return.
-- ---------------------------------------------------------------------------

CREATE FUNCTION batchstate_router.verify(partition integer, queue text)
RETURNS TABLE (problem text, queue text, state text, batch_id text)
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_partition(partition);
    SELECT * FROM batchstate.verify(queue);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate_router.reconcile(partition integer, queue text)
RETURNS TABLE (added bigint, removed bigint)
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_partition(partition);
    SELECT * FROM batchstate.reconcile(queue);
$$ LANGUAGE plproxy VOLATILE;

CREATE FUNCTION batchstate_router.queue_stats(partition integer, queue text)
RETURNS TABLE (queue text, state text, batches bigint, oldest_since timestamptz)
AS $$
    CLUSTER 'batchstate_shards';
    RUN ON batchstate_router.route_partition(partition);
    SELECT * FROM batchstate.queue_stats(queue);
$$ LANGUAGE plproxy VOLATILE;

-- each_shard(name, queue): batchstate_router.NAME(partition, queue) on the
-- queue's partition, or on one partition of each connection string.
CREATE FUNCTION batchstate_router.each_shard(name text, queue text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    p integer;
    err_sqlstate text;
    err_message text;
    err_detail text;
    err_hint text;
BEGIN
    FOR p IN
        SELECT batchstate_router.partition_of(queue) WHERE queue IS NOT NULL
        UNION ALL
        SELECT min(s.partition) FROM batchstate_router.partitions() AS s
         WHERE queue IS NULL GROUP BY s.connstr
         ORDER BY 1
    LOOP
        BEGIN
            PERFORM batchstate_router.arm_deadline();
            RETURN QUERY EXECUTE format('SELECT * FROM batchstate_router.%I($1, $2)', name)
                USING p, queue;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err_sqlstate = RETURNED_SQLSTATE,
                err_message = MESSAGE_TEXT, err_detail = PG_EXCEPTION_DETAIL,
                err_hint = PG_EXCEPTION_HINT;
            PERFORM batchstate_router.raise_again(
                CASE WHEN batchstate_router.from_shard(err_sqlstate, err_message) THEN p END,
                err_sqlstate, err_message, err_detail, err_hint);
        END;
    END LOOP;
END
$$;

CREATE FUNCTION batchstate.verify(queue text DEFAULT NULL)
RETURNS TABLE (problem text, queue text, state text, batch_id text)
LANGUAGE sql VOLATILE
AS $$
    SELECT v.problem, v.queue, v.state, v.batch_id
      FROM batchstate_router.each_shard('verify', $1)
           AS v(problem text, queue text, state text, batch_id text)
     ORDER BY v.queue COLLATE "C", v.batch_id COLLATE "C",
              v.state COLLATE "C", v.problem COLLATE "C"
$$;

CREATE FUNCTION batchstate.reconcile(queue text DEFAULT NULL)
RETURNS TABLE (added bigint, removed bigint)
LANGUAGE sql VOLATILE ROWS 1
AS $$
    SELECT coalesce(sum(r.added), 0)::bigint,
           coalesce(sum(r.removed), 0)::bigint
      FROM batchstate_router.each_shard('reconcile', $1) AS r(added bigint, removed bigint)
$$;

-- queue_stats: queues in byte order, states in policy order, as on a shard
CREATE FUNCTION batchstate.queue_stats(queue text DEFAULT NULL)
RETURNS TABLE (queue text, state text, batches bigint, oldest_since timestamptz)
LANGUAGE sql VOLATILE
AS $$
    SELECT s.queue, s.state, s.batches, s.oldest_since
      FROM batchstate_router.each_shard('queue_stats', $1)
           AS s(queue text, state text, batches bigint, oldest_since timestamptz)
     ORDER BY s.queue COLLATE "C",
              array_position(batchstate.non_terminal_states(), s.state)
$$;
