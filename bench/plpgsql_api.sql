/* bench/plpgsql_api.sql: batchstate 1.3's API (doc/API.md) written in PL/pgSQL, for the benchmark only.
 * Schema bench_plpgsql: the same tables, semantics, checks and SQLSTATEs; never installed by the extension. */

-- This is the benchmark's baseline: what a competent PL/pgSQL author would
-- write instead of the C extension.  Hot-path functions (create_batch,
-- update_state, update_score_and_state, list_batches) check their arguments
-- inline with plain IF/CASE: one test for every NULL and one for every bad
-- value, and a helper is called only to raise the error once a test has
-- failed (a helper call costs a function call).  Every row is reached
-- through a primary key or its prefix (or the GIN index, for the reverse
-- lookups), every table is named with its schema, and no function has a
-- SET clause (it would cost a GUC save/restore per call).  The lifecycle is
-- spelled out in CASE expressions and IN lists, as the policy table is in
-- src/policy.c.
--
-- The order of the checks is the extension's (API.md, "Errors"): a writing
-- function refuses a read-only transaction first, then the NULL arguments
-- in argument order, then the bad values in argument order, then for a move
-- the version overflow, a missing batch, the version (false), the policy.
--
-- Load it with psql into a database:  psql -f bench/plpgsql_api.sql
-- It does not need the extension; bench/run.sh loads it next to it.

\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench_plpgsql CASCADE;
CREATE SCHEMA bench_plpgsql;

-- ---------------------------------------------------------------------------
-- Storage: the tables of batchstate--1.3.sql.
-- ---------------------------------------------------------------------------

CREATE TABLE bench_plpgsql.batch (
    id           text PRIMARY KEY,
    queue        text NOT NULL,
    contains     text[] NOT NULL DEFAULT '{}',
    dependencies text[] NOT NULL DEFAULT '{}',
    score        double precision NOT NULL DEFAULT 0,
    state        text NOT NULL,
    version      integer NOT NULL
);

CREATE TABLE bench_plpgsql.batch_state_membership (
    queue    text NOT NULL,
    state    text NOT NULL,
    batch_id text NOT NULL,
    -- when the batch entered the state: a row is filed exactly then
    since    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (queue, state, batch_id)
);

-- The reverse lookups' GIN index over both arrays, as batchstate--1.3.sql
-- makes it, so that the baseline pays the same index costs (every write of
-- bench_plpgsql.batch opens it, a create adds its elements).  bench/run.sh
-- loads this file next to the extension and then copies every index of the
-- extension's tables onto these under the same name (this one, and the hash
-- index on batch ids): there the copy makes it, and made here too it would
-- collide with the copy.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'batchstate') THEN
        CREATE INDEX batch_arrays_gin ON bench_plpgsql.batch USING gin (contains, dependencies)
            WITH (gin_pending_list_limit = 64);
    END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- The policy.  STRICT: NULL in, NULL out; an unknown state raises 22023.
-- ---------------------------------------------------------------------------

CREATE FUNCTION bench_plpgsql.states()
RETURNS TABLE (state text, terminal boolean, halted boolean, conflict boolean,
               cancellable boolean, active boolean)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 9
AS $$
    VALUES ('creating', false, false, false, false, false),
           ('created', false, false, true, true, true),
           ('scored', false, false, false, true, true),
           ('speculating', false, false, true, true, true),
           ('merging', false, false, true, false, true),
           ('cancelling', false, true, false, true, true),
           ('succeeded', true, true, false, false, false),
           ('failed', true, true, false, false, false),
           ('cancelled', true, true, false, false, false)
$$;

CREATE FUNCTION bench_plpgsql.is_valid_state(state text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT state IN ('creating', 'created', 'scored', 'speculating', 'merging',
                     'cancelling', 'succeeded', 'failed', 'cancelled')
$$;

-- A value as an error message shows it: its first 64 bytes, cut at a
-- character boundary, with "..." when cut.
CREATE FUNCTION bench_plpgsql.shown(value text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT
AS $$
DECLARE
    n integer := least(length(value), 64);
BEGIN
    IF octet_length(value) <= 64 THEN
        RETURN value;
    END IF;
    WHILE octet_length(left(value, n)) > 64 LOOP
        n := n - 1;
    END LOOP;
    RETURN left(value, n) || '...';
END
$$;

-- Raise the error for a bad state argument (22023); called on failure only.
CREATE FUNCTION bench_plpgsql.bad_state(state text, argname text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF state = '' THEN
        RAISE EXCEPTION 'argument "%" must not be empty', argname
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RAISE EXCEPTION 'unrecognized batch state "%" in argument "%"',
            bench_plpgsql.shown(state), argname
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Valid states are: creating, created, scored, speculating, '
                     'merging, cancelling, succeeded, failed, cancelled.';
END
$$;

CREATE FUNCTION bench_plpgsql.is_terminal(state text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    CASE state
        WHEN 'creating', 'created', 'scored', 'speculating', 'merging', 'cancelling' THEN
            RETURN false;
        WHEN 'succeeded', 'failed', 'cancelled' THEN
            RETURN true;
        ELSE
            PERFORM bench_plpgsql.bad_state(state, 'state');
    END CASE;
    RETURN NULL;
END
$$;

CREATE FUNCTION bench_plpgsql.is_halted(state text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    CASE state
        WHEN 'creating', 'created', 'scored', 'speculating', 'merging' THEN
            RETURN false;
        WHEN 'cancelling', 'succeeded', 'failed', 'cancelled' THEN
            RETURN true;
        ELSE
            PERFORM bench_plpgsql.bad_state(state, 'state');
    END CASE;
    RETURN NULL;
END
$$;

CREATE FUNCTION bench_plpgsql.is_cancellable(state text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    CASE state
        WHEN 'created', 'scored', 'speculating', 'cancelling' THEN
            RETURN true;
        WHEN 'creating', 'merging', 'succeeded', 'failed', 'cancelled' THEN
            RETURN false;
        ELSE
            PERFORM bench_plpgsql.bad_state(state, 'state');
    END CASE;
    RETURN NULL;
END
$$;

CREATE FUNCTION bench_plpgsql.non_terminal_states()
RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT '{creating,created,scored,speculating,merging,cancelling}'::text[] $$;

CREATE FUNCTION bench_plpgsql.conflict_states()
RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT '{created,speculating,merging}'::text[] $$;

CREATE FUNCTION bench_plpgsql.active_states()
RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT '{created,scored,speculating,merging,cancelling}'::text[] $$;

CREATE FUNCTION bench_plpgsql.cancellable_states()
RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT '{created,scored,speculating,cancelling}'::text[] $$;

-- A non-terminal state also moves to itself; nothing moves into creating.
CREATE FUNCTION bench_plpgsql.can_transition(from_state text, to_state text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    IF NOT bench_plpgsql.is_valid_state(from_state) THEN
        PERFORM bench_plpgsql.bad_state(from_state, 'from_state');
    END IF;
    IF NOT bench_plpgsql.is_valid_state(to_state) THEN
        PERFORM bench_plpgsql.bad_state(to_state, 'to_state');
    END IF;
    RETURN CASE from_state
        WHEN 'creating' THEN to_state IN ('creating', 'created', 'failed')
        WHEN 'created' THEN to_state IN ('created', 'scored', 'speculating', 'cancelling', 'failed')
        WHEN 'scored' THEN to_state IN ('scored', 'speculating', 'cancelling', 'failed')
        WHEN 'speculating' THEN to_state IN ('speculating', 'merging', 'cancelling', 'failed')
        WHEN 'merging' THEN to_state IN ('merging', 'succeeded', 'failed', 'cancelling')
        WHEN 'cancelling' THEN to_state IN ('cancelling', 'cancelled', 'succeeded', 'failed')
        ELSE false
    END;
END
$$;

-- ---------------------------------------------------------------------------
-- Argument checks, for the functions off the hot path and for the hot path
-- once its inline test has failed.  Each raises 22004 for NULL and 22023 for
-- a bad value, and returns when the value is good.
-- ---------------------------------------------------------------------------

-- The 25006 refusal of a function that writes, in a read-only transaction
-- (every transaction on a hot standby is one); called on failure only.
CREATE FUNCTION bench_plpgsql.read_only(caller text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF pg_is_in_recovery() THEN
        RAISE EXCEPTION '% cannot run in a read-only transaction', caller
            USING ERRCODE = 'read_only_sql_transaction',
                  DETAIL = 'The server is a hot standby: every transaction on it is read-only.',
                  HINT = 'Run it on the primary.';
    END IF;
    RAISE EXCEPTION '% cannot run in a read-only transaction', caller
        USING ERRCODE = 'read_only_sql_transaction';
END
$$;

CREATE FUNCTION bench_plpgsql.check_null(value anyelement, argname text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null', argname
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
END
$$;

-- An id, queue or request id: not empty, at most 1024 bytes.
CREATE FUNCTION bench_plpgsql.check_key(value text, argname text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null', argname
            USING ERRCODE = 'null_value_not_allowed';
    ELSIF value = '' THEN
        RAISE EXCEPTION 'argument "%" must not be empty', argname
            USING ERRCODE = 'invalid_parameter_value';
    ELSIF octet_length(value) > 1024 THEN
        RAISE EXCEPTION 'argument "%" is too long', argname
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It is %s bytes long; the limit is 1024 bytes.',
                                  octet_length(value));
    END IF;
END
$$;

CREATE FUNCTION bench_plpgsql.check_state(value text, argname text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null', argname
            USING ERRCODE = 'null_value_not_allowed';
    ELSIF NOT bench_plpgsql.is_valid_state(value) THEN
        PERFORM bench_plpgsql.bad_state(value, argname);
    END IF;
END
$$;

CREATE FUNCTION bench_plpgsql.check_version(value integer, argname text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null', argname
            USING ERRCODE = 'null_value_not_allowed';
    ELSIF value < 1 THEN
        RAISE EXCEPTION 'argument "%" must be at least 1', argname
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value is %s; versions start at 1.', value);
    END IF;
END
$$;

CREATE FUNCTION bench_plpgsql.check_score(value double precision, argname text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null', argname
            USING ERRCODE = 'null_value_not_allowed';
    ELSIF NOT (value >= 0 AND value <= 1) THEN  -- NaN sorts above 1
        RAISE EXCEPTION 'argument "%" must be between 0 and 1', argname
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value is %s.', value);
    END IF;
END
$$;

-- A text[] argument: one dimension, no NULL element, then element by element
-- no empty string and, with states, a state name.
CREATE FUNCTION bench_plpgsql.check_array(value text[], argname text, states boolean)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    element text;
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION 'argument "%" must not be null', argname
            USING ERRCODE = 'null_value_not_allowed';
    ELSIF array_ndims(value) > 1 THEN
        RAISE EXCEPTION 'argument "%" must be a one-dimensional array', argname
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The array has %s dimensions.', array_ndims(value));
    ELSIF array_position(value, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'argument "%" must not contain null elements', argname
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOREACH element IN ARRAY value LOOP
        IF element = '' THEN
            RAISE EXCEPTION 'argument "%" must not contain empty strings', argname
                USING ERRCODE = 'invalid_parameter_value';
        ELSIF states AND NOT bench_plpgsql.is_valid_state(element) THEN
            PERFORM bench_plpgsql.bad_state(element, argname);
        ELSIF NOT states AND octet_length(element) > 1024 THEN
            RAISE EXCEPTION 'argument "%" has an element that is too long', argname
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('An element is %s bytes long; the limit is 1024 bytes.',
                                      octet_length(element));
        END IF;
    END LOOP;
END
$$;

-- The 22003 error of a move whose expected_version cannot grow.
CREATE FUNCTION bench_plpgsql.version_overflow()
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    RAISE EXCEPTION 'argument "expected_version" must be less than 2147483647'
        USING ERRCODE = 'numeric_value_out_of_range',
              DETAIL = 'The new version, expected_version + 1, would be out of range for type integer.';
END
$$;

-- The 55000 error for a move the policy forbids; called on failure only.
CREATE FUNCTION bench_plpgsql.forbidden(id text, from_state text, to_state text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF NOT bench_plpgsql.is_valid_state(from_state) THEN
        RAISE EXCEPTION 'batch "%" cannot move to "%"', bench_plpgsql.shown(id), to_state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Its state "%s" is not a batch state.',
                                  bench_plpgsql.shown(from_state));
    ELSIF bench_plpgsql.is_terminal(from_state) THEN
        RAISE EXCEPTION 'batch "%" cannot move from "%" to "%"',
                bench_plpgsql.shown(id), from_state, to_state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('State "%s" is terminal.', from_state);
    END IF;
    RAISE EXCEPTION 'batch "%" cannot move from "%" to "%"',
            bench_plpgsql.shown(id), from_state, to_state
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = format('From "%s" a batch may move to: %s.', from_state,
                  (SELECT string_agg(s.state, ', ' ORDER BY s.ord)
                   FROM unnest(ARRAY['creating', 'created', 'scored', 'speculating',
                                     'merging', 'cancelling', 'succeeded', 'failed',
                                     'cancelled'])
                        WITH ORDINALITY AS s(state, ord)
                   WHERE bench_plpgsql.can_transition(from_state, s.state)));
END
$$;

CREATE FUNCTION bench_plpgsql.missing(id text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    RAISE EXCEPTION 'batch "%" does not exist', bench_plpgsql.shown(id)
        USING ERRCODE = 'no_data_found';
END
$$;

CREATE FUNCTION bench_plpgsql.taken(id text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    RAISE EXCEPTION 'batch "%" already exists', bench_plpgsql.shown(id)
        USING ERRCODE = 'unique_violation';
END
$$;

-- ---------------------------------------------------------------------------
-- Storage primitives: pure CRUD/CAS, no membership side effects, no rules.
-- ---------------------------------------------------------------------------

CREATE FUNCTION bench_plpgsql.batch_get(id text)
RETURNS bench_plpgsql.batch
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    result bench_plpgsql.batch;
BEGIN
    PERFORM bench_plpgsql.check_key(id, 'id');
    SELECT b.* INTO result FROM bench_plpgsql.batch b WHERE b.id = batch_get.id;
    IF NOT FOUND THEN
        PERFORM bench_plpgsql.missing(id);
    END IF;
    RETURN result;
END
$$;

CREATE FUNCTION bench_plpgsql.batch_create(
    id text,
    queue text,
    state text,
    contains text[] DEFAULT '{}',
    dependencies text[] DEFAULT '{}',
    score double precision DEFAULT 0,
    version integer DEFAULT 1)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        PERFORM bench_plpgsql.read_only('batch_create');
    END IF;
    PERFORM bench_plpgsql.check_null(id, 'id');
    PERFORM bench_plpgsql.check_null(queue, 'queue');
    PERFORM bench_plpgsql.check_null(state, 'state');
    PERFORM bench_plpgsql.check_null(contains, 'contains');
    PERFORM bench_plpgsql.check_null(dependencies, 'dependencies');
    PERFORM bench_plpgsql.check_null(score, 'score');
    PERFORM bench_plpgsql.check_null(version, 'version');
    PERFORM bench_plpgsql.check_key(id, 'id');
    PERFORM bench_plpgsql.check_key(queue, 'queue');
    PERFORM bench_plpgsql.check_state(state, 'state');
    PERFORM bench_plpgsql.check_array(contains, 'contains', false);
    PERFORM bench_plpgsql.check_array(dependencies, 'dependencies', false);
    PERFORM bench_plpgsql.check_score(score, 'score');
    PERFORM bench_plpgsql.check_version(version, 'version');
    INSERT INTO bench_plpgsql.batch AS b
        (id, queue, contains, dependencies, score, state, version)
    VALUES (batch_create.id, batch_create.queue, batch_create.contains,
            batch_create.dependencies, batch_create.score, batch_create.state,
            batch_create.version)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        PERFORM bench_plpgsql.taken(id);
    END IF;
END
$$;

-- The CAS of batch_update_state and batch_update_score_and_state (score
-- NULL: keep it).  Arguments checked by the caller.
CREATE FUNCTION bench_plpgsql.batch_cas(id text, old_version integer,
                                        new_version integer, score double precision,
                                        new_state text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    UPDATE bench_plpgsql.batch b
    SET state = new_state, version = new_version,
        score = coalesce(batch_cas.score, b.score)
    WHERE b.id = batch_cas.id AND b.version = old_version;
    IF FOUND THEN
        RETURN true;
    END IF;
    PERFORM FROM bench_plpgsql.batch b WHERE b.id = batch_cas.id;
    IF NOT FOUND THEN
        PERFORM bench_plpgsql.missing(id);
    END IF;
    RETURN false;
END
$$;

CREATE FUNCTION bench_plpgsql.batch_update_state(
    id text, old_version integer, new_version integer, new_state text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        PERFORM bench_plpgsql.read_only('batch_update_state');
    END IF;
    PERFORM bench_plpgsql.check_null(id, 'id');
    PERFORM bench_plpgsql.check_null(old_version, 'old_version');
    PERFORM bench_plpgsql.check_null(new_version, 'new_version');
    PERFORM bench_plpgsql.check_null(new_state, 'new_state');
    PERFORM bench_plpgsql.check_key(id, 'id');
    PERFORM bench_plpgsql.check_version(old_version, 'old_version');
    PERFORM bench_plpgsql.check_version(new_version, 'new_version');
    PERFORM bench_plpgsql.check_state(new_state, 'new_state');
    RETURN bench_plpgsql.batch_cas(id, old_version, new_version, NULL, new_state);
END
$$;

CREATE FUNCTION bench_plpgsql.batch_update_score_and_state(
    id text, old_version integer, new_version integer,
    score double precision, new_state text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        PERFORM bench_plpgsql.read_only('batch_update_score_and_state');
    END IF;
    PERFORM bench_plpgsql.check_null(id, 'id');
    PERFORM bench_plpgsql.check_null(old_version, 'old_version');
    PERFORM bench_plpgsql.check_null(new_version, 'new_version');
    PERFORM bench_plpgsql.check_null(score, 'score');
    PERFORM bench_plpgsql.check_null(new_state, 'new_state');
    PERFORM bench_plpgsql.check_key(id, 'id');
    PERFORM bench_plpgsql.check_version(old_version, 'old_version');
    PERFORM bench_plpgsql.check_version(new_version, 'new_version');
    PERFORM bench_plpgsql.check_score(score, 'score');
    PERFORM bench_plpgsql.check_state(new_state, 'new_state');
    RETURN bench_plpgsql.batch_cas(id, old_version, new_version, score, new_state);
END
$$;

CREATE FUNCTION bench_plpgsql.membership_add(queue text, state text, batch_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        PERFORM bench_plpgsql.read_only('membership_add');
    END IF;
    PERFORM bench_plpgsql.check_null(queue, 'queue');
    PERFORM bench_plpgsql.check_null(state, 'state');
    PERFORM bench_plpgsql.check_null(batch_id, 'batch_id');
    PERFORM bench_plpgsql.check_key(queue, 'queue');
    PERFORM bench_plpgsql.check_state(state, 'state');
    PERFORM bench_plpgsql.check_key(batch_id, 'batch_id');
    INSERT INTO bench_plpgsql.batch_state_membership (queue, state, batch_id)
    VALUES (membership_add.queue, membership_add.state, membership_add.batch_id)
    ON CONFLICT DO NOTHING;
END
$$;

CREATE FUNCTION bench_plpgsql.membership_remove(queue text, state text, batch_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        PERFORM bench_plpgsql.read_only('membership_remove');
    END IF;
    PERFORM bench_plpgsql.check_null(queue, 'queue');
    PERFORM bench_plpgsql.check_null(state, 'state');
    PERFORM bench_plpgsql.check_null(batch_id, 'batch_id');
    PERFORM bench_plpgsql.check_key(queue, 'queue');
    PERFORM bench_plpgsql.check_state(state, 'state');
    PERFORM bench_plpgsql.check_key(batch_id, 'batch_id');
    DELETE FROM bench_plpgsql.batch_state_membership m
    WHERE m.queue = membership_remove.queue AND m.state = membership_remove.state
      AND m.batch_id = membership_remove.batch_id;
END
$$;

CREATE FUNCTION bench_plpgsql.membership_list_ids(queue text, state text)
RETURNS SETOF text
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    PERFORM bench_plpgsql.check_null(queue, 'queue');
    PERFORM bench_plpgsql.check_null(state, 'state');
    PERFORM bench_plpgsql.check_key(queue, 'queue');
    PERFORM bench_plpgsql.check_state(state, 'state');
    RETURN QUERY
        SELECT m.batch_id FROM bench_plpgsql.batch_state_membership m
        WHERE m.queue = membership_list_ids.queue AND m.state = membership_list_ids.state
        ORDER BY m.batch_id COLLATE "C";
END
$$;

-- ---------------------------------------------------------------------------
-- The app layer.  The hot path: checks inline, one statement per row touched.
-- ---------------------------------------------------------------------------

CREATE FUNCTION bench_plpgsql.create_batch(
    id text,
    queue text,
    state text DEFAULT 'created',
    contains text[] DEFAULT '{}',
    dependencies text[] DEFAULT '{}',
    score double precision DEFAULT 0,
    version integer DEFAULT 1)
RETURNS bench_plpgsql.batch
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    result bench_plpgsql.batch;
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        PERFORM bench_plpgsql.read_only('create_batch');
    END IF;
    IF id IS NULL OR queue IS NULL OR state IS NULL OR contains IS NULL
       OR dependencies IS NULL OR score IS NULL OR version IS NULL THEN
        PERFORM bench_plpgsql.check_null(id, 'id');
        PERFORM bench_plpgsql.check_null(queue, 'queue');
        PERFORM bench_plpgsql.check_null(state, 'state');
        PERFORM bench_plpgsql.check_null(contains, 'contains');
        PERFORM bench_plpgsql.check_null(dependencies, 'dependencies');
        PERFORM bench_plpgsql.check_null(score, 'score');
        PERFORM bench_plpgsql.check_null(version, 'version');
    END IF;
    -- (OR stops at the first true test: array_position is never asked
    -- about a multi-dimensional array)
    IF id = '' OR octet_length(id) > 1024 OR queue = '' OR octet_length(queue) > 1024
       OR state NOT IN ('creating', 'created', 'scored', 'speculating', 'merging',
                        'cancelling', 'succeeded', 'failed', 'cancelled')
       OR array_ndims(contains) > 1 OR array_position(contains, NULL) IS NOT NULL
       OR '' = ANY (contains) OR octet_length(array_to_string(contains, '')) > 1024
       OR array_ndims(dependencies) > 1 OR array_position(dependencies, NULL) IS NOT NULL
       OR '' = ANY (dependencies) OR octet_length(array_to_string(dependencies, '')) > 1024
       OR NOT (score >= 0 AND score <= 1) OR version < 1 THEN
        PERFORM bench_plpgsql.check_key(id, 'id');
        PERFORM bench_plpgsql.check_key(queue, 'queue');
        PERFORM bench_plpgsql.check_state(state, 'state');
        PERFORM bench_plpgsql.check_array(contains, 'contains', false);
        PERFORM bench_plpgsql.check_array(dependencies, 'dependencies', false);
        PERFORM bench_plpgsql.check_score(score, 'score');
        PERFORM bench_plpgsql.check_version(version, 'version');
    END IF;

    INSERT INTO bench_plpgsql.batch AS b
        (id, queue, contains, dependencies, score, state, version)
    VALUES (create_batch.id, create_batch.queue, create_batch.contains,
            create_batch.dependencies, create_batch.score, create_batch.state,
            create_batch.version)
    ON CONFLICT DO NOTHING
    RETURNING b.* INTO result;
    IF NOT FOUND THEN
        PERFORM bench_plpgsql.taken(id);
    END IF;
    IF state NOT IN ('succeeded', 'failed', 'cancelled') THEN
        INSERT INTO bench_plpgsql.batch_state_membership (queue, state, batch_id)
        VALUES (create_batch.queue, create_batch.state, create_batch.id)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN result;
END
$$;

CREATE FUNCTION bench_plpgsql.update_state(
    id text, expected_version integer, new_state text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    cur_queue text;
    cur_state text;
    cur_version integer;
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        PERFORM bench_plpgsql.read_only('update_state');
    END IF;
    IF id IS NULL OR expected_version IS NULL OR new_state IS NULL THEN
        PERFORM bench_plpgsql.check_null(id, 'id');
        PERFORM bench_plpgsql.check_null(expected_version, 'expected_version');
        PERFORM bench_plpgsql.check_null(new_state, 'new_state');
    END IF;
    -- bad values (22023), then the overflow (22003)
    IF id = '' OR octet_length(id) > 1024 OR expected_version < 1
       OR new_state NOT IN ('creating', 'created', 'scored', 'speculating', 'merging',
                            'cancelling', 'succeeded', 'failed', 'cancelled')
       OR expected_version = 2147483647 THEN
        PERFORM bench_plpgsql.check_key(id, 'id');
        PERFORM bench_plpgsql.check_version(expected_version, 'expected_version');
        PERFORM bench_plpgsql.check_state(new_state, 'new_state');
        PERFORM bench_plpgsql.version_overflow();
    END IF;

    SELECT b.queue, b.state, b.version INTO cur_queue, cur_state, cur_version
    FROM bench_plpgsql.batch b
    WHERE b.id = update_state.id
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM bench_plpgsql.missing(id);
    END IF;
    IF cur_version <> expected_version THEN
        RETURN false;
    END IF;
    IF NOT (CASE cur_state
            WHEN 'creating' THEN new_state IN ('creating', 'created', 'failed')
            WHEN 'created' THEN new_state IN ('created', 'scored', 'speculating', 'cancelling', 'failed')
            WHEN 'scored' THEN new_state IN ('scored', 'speculating', 'cancelling', 'failed')
            WHEN 'speculating' THEN new_state IN ('speculating', 'merging', 'cancelling', 'failed')
            WHEN 'merging' THEN new_state IN ('merging', 'succeeded', 'failed', 'cancelling')
            WHEN 'cancelling' THEN new_state IN ('cancelling', 'cancelled', 'succeeded', 'failed')
            ELSE false
           END) THEN
        PERFORM bench_plpgsql.forbidden(id, cur_state, new_state);
    END IF;

    UPDATE bench_plpgsql.batch b
    SET state = new_state, version = expected_version + 1
    WHERE b.id = update_state.id;
    IF cur_state <> new_state THEN
        DELETE FROM bench_plpgsql.batch_state_membership m
        WHERE m.queue = cur_queue AND m.state = cur_state AND m.batch_id = update_state.id;
    END IF;
    IF new_state NOT IN ('succeeded', 'failed', 'cancelled') THEN
        INSERT INTO bench_plpgsql.batch_state_membership (queue, state, batch_id)
        VALUES (cur_queue, new_state, update_state.id)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN true;
END
$$;

CREATE FUNCTION bench_plpgsql.update_score_and_state(
    id text, expected_version integer, score double precision, new_state text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    cur_queue text;
    cur_state text;
    cur_version integer;
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        PERFORM bench_plpgsql.read_only('update_score_and_state');
    END IF;
    IF id IS NULL OR expected_version IS NULL OR score IS NULL OR new_state IS NULL THEN
        PERFORM bench_plpgsql.check_null(id, 'id');
        PERFORM bench_plpgsql.check_null(expected_version, 'expected_version');
        PERFORM bench_plpgsql.check_null(score, 'score');
        PERFORM bench_plpgsql.check_null(new_state, 'new_state');
    END IF;
    IF id = '' OR octet_length(id) > 1024 OR expected_version < 1
       OR NOT (score >= 0 AND score <= 1)
       OR new_state NOT IN ('creating', 'created', 'scored', 'speculating', 'merging',
                            'cancelling', 'succeeded', 'failed', 'cancelled')
       OR expected_version = 2147483647 THEN
        PERFORM bench_plpgsql.check_key(id, 'id');
        PERFORM bench_plpgsql.check_version(expected_version, 'expected_version');
        PERFORM bench_plpgsql.check_score(score, 'score');
        PERFORM bench_plpgsql.check_state(new_state, 'new_state');
        PERFORM bench_plpgsql.version_overflow();
    END IF;

    SELECT b.queue, b.state, b.version INTO cur_queue, cur_state, cur_version
    FROM bench_plpgsql.batch b
    WHERE b.id = update_score_and_state.id
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM bench_plpgsql.missing(id);
    END IF;
    IF cur_version <> expected_version THEN
        RETURN false;
    END IF;
    IF NOT (CASE cur_state
            WHEN 'creating' THEN new_state IN ('creating', 'created', 'failed')
            WHEN 'created' THEN new_state IN ('created', 'scored', 'speculating', 'cancelling', 'failed')
            WHEN 'scored' THEN new_state IN ('scored', 'speculating', 'cancelling', 'failed')
            WHEN 'speculating' THEN new_state IN ('speculating', 'merging', 'cancelling', 'failed')
            WHEN 'merging' THEN new_state IN ('merging', 'succeeded', 'failed', 'cancelling')
            WHEN 'cancelling' THEN new_state IN ('cancelling', 'cancelled', 'succeeded', 'failed')
            ELSE false
           END) THEN
        PERFORM bench_plpgsql.forbidden(id, cur_state, new_state);
    END IF;

    UPDATE bench_plpgsql.batch b
    SET state = new_state, version = expected_version + 1,
        score = update_score_and_state.score
    WHERE b.id = update_score_and_state.id;
    IF cur_state <> new_state THEN
        DELETE FROM bench_plpgsql.batch_state_membership m
        WHERE m.queue = cur_queue AND m.state = cur_state
          AND m.batch_id = update_score_and_state.id;
    END IF;
    IF new_state NOT IN ('succeeded', 'failed', 'cancelled') THEN
        INSERT INTO bench_plpgsql.batch_state_membership (queue, state, batch_id)
        VALUES (cur_queue, new_state, update_score_and_state.id)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN true;
END
$$;

-- update_state that may also replace the arrays and the score: a NULL keeps
-- the batch's value, a given array is checked as create_batch checks it.
CREATE FUNCTION bench_plpgsql.update_batch(
    id text,
    expected_version integer,
    new_state text,
    contains text[] DEFAULT NULL,
    dependencies text[] DEFAULT NULL,
    score double precision DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    cur_queue text;
    cur_state text;
    cur_version integer;
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        PERFORM bench_plpgsql.read_only('update_batch');
    END IF;
    IF id IS NULL OR expected_version IS NULL OR new_state IS NULL THEN
        PERFORM bench_plpgsql.check_null(id, 'id');
        PERFORM bench_plpgsql.check_null(expected_version, 'expected_version');
        PERFORM bench_plpgsql.check_null(new_state, 'new_state');
    END IF;
    -- (a NULL optional argument makes its tests NULL, which IF takes as false)
    IF id = '' OR octet_length(id) > 1024 OR expected_version < 1
       OR new_state NOT IN ('creating', 'created', 'scored', 'speculating', 'merging',
                            'cancelling', 'succeeded', 'failed', 'cancelled')
       OR array_ndims(contains) > 1 OR array_position(contains, NULL) IS NOT NULL
       OR '' = ANY (contains) OR octet_length(array_to_string(contains, '')) > 1024
       OR array_ndims(dependencies) > 1 OR array_position(dependencies, NULL) IS NOT NULL
       OR '' = ANY (dependencies) OR octet_length(array_to_string(dependencies, '')) > 1024
       OR NOT (score >= 0 AND score <= 1)
       OR expected_version = 2147483647 THEN
        PERFORM bench_plpgsql.check_key(id, 'id');
        PERFORM bench_plpgsql.check_version(expected_version, 'expected_version');
        PERFORM bench_plpgsql.check_state(new_state, 'new_state');
        IF contains IS NOT NULL THEN
            PERFORM bench_plpgsql.check_array(contains, 'contains', false);
        END IF;
        IF dependencies IS NOT NULL THEN
            PERFORM bench_plpgsql.check_array(dependencies, 'dependencies', false);
        END IF;
        IF score IS NOT NULL THEN
            PERFORM bench_plpgsql.check_score(score, 'score');
        END IF;
        PERFORM bench_plpgsql.version_overflow();
    END IF;

    SELECT b.queue, b.state, b.version INTO cur_queue, cur_state, cur_version
    FROM bench_plpgsql.batch b
    WHERE b.id = update_batch.id
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM bench_plpgsql.missing(id);
    END IF;
    IF cur_version <> expected_version THEN
        RETURN false;
    END IF;
    IF NOT (CASE cur_state
            WHEN 'creating' THEN new_state IN ('creating', 'created', 'failed')
            WHEN 'created' THEN new_state IN ('created', 'scored', 'speculating', 'cancelling', 'failed')
            WHEN 'scored' THEN new_state IN ('scored', 'speculating', 'cancelling', 'failed')
            WHEN 'speculating' THEN new_state IN ('speculating', 'merging', 'cancelling', 'failed')
            WHEN 'merging' THEN new_state IN ('merging', 'succeeded', 'failed', 'cancelling')
            WHEN 'cancelling' THEN new_state IN ('cancelling', 'cancelled', 'succeeded', 'failed')
            ELSE false
           END) THEN
        PERFORM bench_plpgsql.forbidden(id, cur_state, new_state);
    END IF;

    UPDATE bench_plpgsql.batch b
    SET state = new_state, version = expected_version + 1,
        score = coalesce(update_batch.score, b.score),
        contains = coalesce(update_batch.contains, b.contains),
        dependencies = coalesce(update_batch.dependencies, b.dependencies)
    WHERE b.id = update_batch.id;
    IF cur_state <> new_state THEN
        DELETE FROM bench_plpgsql.batch_state_membership m
        WHERE m.queue = cur_queue AND m.state = cur_state AND m.batch_id = update_batch.id;
    END IF;
    IF new_state NOT IN ('succeeded', 'failed', 'cancelled') THEN
        INSERT INTO bench_plpgsql.batch_state_membership (queue, state, batch_id)
        VALUES (cur_queue, new_state, update_batch.id)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN true;
END
$$;

-- Remove membership rows of terminal batches that a list found: best
-- effort, never in a read-only transaction or on a standby, never waiting
-- on a row lock, never failing the read (a query cancel still cancels:
-- OTHERS does not catch it).
CREATE FUNCTION bench_plpgsql.prune(queue text, states text[], batch_ids text[])
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' OR pg_is_in_recovery() THEN
        RETURN;
    END IF;
    BEGIN
        DELETE FROM bench_plpgsql.batch_state_membership m
        WHERE m.ctid = ANY (ARRAY(
                SELECT m2.ctid
                FROM bench_plpgsql.batch_state_membership m2
                JOIN unnest(states, batch_ids) AS p(state, batch_id)
                  ON m2.queue = prune.queue AND m2.state = p.state
                 AND m2.batch_id = p.batch_id
                FOR UPDATE OF m2 SKIP LOCKED))
          AND EXISTS (SELECT FROM bench_plpgsql.batch b
                      WHERE b.id = m.batch_id AND b.queue = prune.queue
                        AND b.state IN ('succeeded', 'failed', 'cancelled')
                      FOR SHARE OF b SKIP LOCKED);
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
END
$$;

CREATE FUNCTION bench_plpgsql.list_batches(queue text, VARIADIC states text[] DEFAULT '{}')
RETURNS SETOF bench_plpgsql.batch
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r record;
    prune_states text[];
    prune_ids text[];
BEGIN
    IF queue IS NULL OR states IS NULL THEN
        PERFORM bench_plpgsql.check_null(queue, 'queue');
        PERFORM bench_plpgsql.check_null(states, 'states');
    END IF;
    IF queue = '' OR octet_length(queue) > 1024
       OR array_ndims(states) > 1 OR array_position(states, NULL) IS NOT NULL
       OR NOT states <@ '{creating,created,scored,speculating,merging,cancelling,succeeded,failed,cancelled}'::text[] THEN
        PERFORM bench_plpgsql.check_key(queue, 'queue');
        PERFORM bench_plpgsql.check_array(states, 'states', true);
    END IF;
    IF cardinality(states) = 0 THEN
        RETURN;
    END IF;

    -- one pass: the rows whose batch is in the row's state are the answer;
    -- rows whose batch is terminal are remembered for pruning
    FOR r IN
        SELECT b AS batch, m.state AS member_state
        FROM bench_plpgsql.batch_state_membership m
        JOIN bench_plpgsql.batch b ON b.id = m.batch_id
        WHERE m.queue = list_batches.queue AND m.state = ANY (states)
          AND b.queue = list_batches.queue
          AND (b.state = m.state OR b.state IN ('succeeded', 'failed', 'cancelled'))
        ORDER BY b.id COLLATE "C"
    LOOP
        IF (r.batch).state = r.member_state THEN
            RETURN NEXT r.batch;
        END IF;
        IF (r.batch).state IN ('succeeded', 'failed', 'cancelled') THEN
            prune_states := prune_states || r.member_state;
            prune_ids := prune_ids || (r.batch).id;
        END IF;
    END LOOP;
    IF prune_ids IS NOT NULL THEN
        PERFORM bench_plpgsql.prune(queue, prune_states, prune_ids);
    END IF;
END
$$;

-- The active states: every non-terminal state but creating.
CREATE FUNCTION bench_plpgsql.list_active(queue text)
RETURNS SETOF bench_plpgsql.batch
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM bench_plpgsql.check_key(queue, 'queue');
    RETURN QUERY SELECT * FROM bench_plpgsql.list_batches(
        queue, VARIADIC '{created,scored,speculating,merging,cancelling}'::text[]);
END
$$;

-- ---------------------------------------------------------------------------
-- The controller's questions, answered from the batch rows.
-- ---------------------------------------------------------------------------

-- The batches of a queue whose dependencies hold id, non-terminal ones
-- unless include_finished, by id in byte order.
CREATE FUNCTION bench_plpgsql.dependents_of(
    queue text, id text, include_finished boolean DEFAULT false)
RETURNS SETOF bench_plpgsql.batch
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    PERFORM bench_plpgsql.check_null(queue, 'queue');
    PERFORM bench_plpgsql.check_null(id, 'id');
    PERFORM bench_plpgsql.check_null(include_finished, 'include_finished');
    PERFORM bench_plpgsql.check_key(queue, 'queue');
    PERFORM bench_plpgsql.check_key(id, 'id');
    RETURN QUERY
        SELECT b.* FROM bench_plpgsql.batch b
        WHERE b.dependencies @> ARRAY[dependents_of.id]
          AND b.queue = dependents_of.queue
          AND (include_finished
               OR b.state IN ('creating', 'created', 'scored', 'speculating',
                              'merging', 'cancelling'))
        ORDER BY b.id COLLATE "C";
END
$$;

-- The batches of a queue whose contains hold request_id, as dependents_of.
CREATE FUNCTION bench_plpgsql.batches_containing(
    queue text, request_id text, include_finished boolean DEFAULT false)
RETURNS SETOF bench_plpgsql.batch
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    PERFORM bench_plpgsql.check_null(queue, 'queue');
    PERFORM bench_plpgsql.check_null(request_id, 'request_id');
    PERFORM bench_plpgsql.check_null(include_finished, 'include_finished');
    PERFORM bench_plpgsql.check_key(queue, 'queue');
    PERFORM bench_plpgsql.check_key(request_id, 'request_id');
    RETURN QUERY
        SELECT b.* FROM bench_plpgsql.batch b
        WHERE b.contains @> ARRAY[batches_containing.request_id]
          AND b.queue = batches_containing.queue
          AND (include_finished
               OR b.state IN ('creating', 'created', 'scored', 'speculating',
                              'merging', 'cancelling'))
        ORDER BY b.id COLLATE "C";
END
$$;

-- Per queue (the one given, else every queue holding a batch in a
-- non-terminal state; byte order) and non-terminal state (policy order):
-- the batches in it, membership rows resolved against the batch rows as
-- list_batches resolves them (nothing pruned), and the oldest "since".
-- (PL/pgSQL refuses a parameter and an output column of the same name, so
-- the work is in state_counts() and queue_stats() is a SQL wrapper.)
CREATE FUNCTION bench_plpgsql.state_counts(scope text)
RETURNS TABLE (queue_ text, state_ text, batches_ bigint, oldest_since_ timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    IF scope IS NOT NULL THEN
        PERFORM bench_plpgsql.check_key(scope, 'queue');
    END IF;
    RETURN QUERY
    WITH counts AS (
        SELECT m.queue, m.state, count(*) AS batches, min(m.since) AS oldest_since
        FROM bench_plpgsql.batch_state_membership m
        JOIN bench_plpgsql.batch b
          ON b.id = m.batch_id AND b.queue = m.queue AND b.state = m.state
        WHERE (scope IS NULL OR m.queue = scope)
          AND m.state IN ('creating', 'created', 'scored', 'speculating', 'merging', 'cancelling')
        GROUP BY m.queue, m.state)
    SELECT q.queue, s.state, coalesce(c.batches, 0), c.oldest_since
    FROM (SELECT scope WHERE scope IS NOT NULL
          UNION ALL
          SELECT DISTINCT c.queue FROM counts c WHERE scope IS NULL) AS q(queue)
    CROSS JOIN unnest('{creating,created,scored,speculating,merging,cancelling}'::text[])
               WITH ORDINALITY AS s(state, ord)
    LEFT JOIN counts c ON c.queue = q.queue AND c.state = s.state
    ORDER BY q.queue COLLATE "C", s.ord;
END
$$;

CREATE FUNCTION bench_plpgsql.queue_stats(queue text DEFAULT NULL)
RETURNS TABLE (queue text, state text, batches bigint, oldest_since timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT * FROM bench_plpgsql.state_counts($1) $$;

-- The batches of a queue filed under one of the states before now() -
-- older_than and still in that state, oldest row first, ties by id.
CREATE FUNCTION bench_plpgsql.stuck_batches(
    queue text, older_than interval, VARIADIC states text[])
RETURNS SETOF bench_plpgsql.batch
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    PERFORM bench_plpgsql.check_null(queue, 'queue');
    PERFORM bench_plpgsql.check_null(older_than, 'older_than');
    PERFORM bench_plpgsql.check_null(states, 'states');
    PERFORM bench_plpgsql.check_key(queue, 'queue');
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'argument "older_than" must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value is %s.', older_than);
    END IF;
    PERFORM bench_plpgsql.check_array(states, 'states', true);
    -- no states; or longer than any batch can have waited (6000 years before
    -- now is still a valid timestamp, and now() - older_than cannot overflow)
    IF cardinality(states) = 0 OR older_than > interval '6000 years' THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT b.*
        FROM bench_plpgsql.batch_state_membership m
        JOIN bench_plpgsql.batch b
          ON b.id = m.batch_id AND b.queue = m.queue AND b.state = m.state
        WHERE m.queue = stuck_batches.queue AND m.state = ANY (states)
          AND m.since < now() - older_than
        ORDER BY m.since, b.id COLLATE "C";
END
$$;

-- ---------------------------------------------------------------------------
-- Repair.
-- ---------------------------------------------------------------------------

CREATE FUNCTION bench_plpgsql.ensure_membership(id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    cur_queue text;
    cur_state text;
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        PERFORM bench_plpgsql.read_only('ensure_membership');
    END IF;
    PERFORM bench_plpgsql.check_key(id, 'id');
    SELECT b.queue, b.state INTO cur_queue, cur_state
    FROM bench_plpgsql.batch b WHERE b.id = ensure_membership.id
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM bench_plpgsql.missing(id);
    END IF;
    IF cur_state NOT IN ('creating', 'created', 'scored', 'speculating', 'merging',
                         'cancelling') THEN
        RETURN false;
    END IF;
    INSERT INTO bench_plpgsql.batch_state_membership (queue, state, batch_id)
    VALUES (cur_queue, cur_state, ensure_membership.id)
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;

-- Every drift, one row each; ordered by queue, batch_id, state, problem.
-- (PL/pgSQL refuses a parameter and an output column of the same name, so
-- the work is in drift() and verify() is a SQL wrapper.)
CREATE FUNCTION bench_plpgsql.drift(scope text)
RETURNS TABLE (problem text, queue_ text, state_ text, batch_id_ text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    IF scope IS NOT NULL THEN
        PERFORM bench_plpgsql.check_key(scope, 'queue');
    END IF;
    RETURN QUERY
    SELECT (ARRAY['missing', 'stale', 'dangling'])[d.kind + 1], d.queue, d.state, d.batch_id
    FROM (
        SELECT 0 AS kind, b.queue, b.state, b.id AS batch_id
        FROM bench_plpgsql.batch b
        WHERE (scope IS NULL OR b.queue = scope)
          AND b.state IN ('creating', 'created', 'scored', 'speculating', 'merging',
                          'cancelling')
          AND NOT EXISTS (SELECT FROM bench_plpgsql.batch_state_membership m
                          WHERE m.queue = b.queue AND m.state = b.state
                            AND m.batch_id = b.id)
        UNION ALL
        SELECT CASE WHEN b.id IS NULL OR b.queue <> m.queue THEN 2 ELSE 1 END,
               m.queue, m.state, m.batch_id
        FROM bench_plpgsql.batch_state_membership m
        LEFT JOIN bench_plpgsql.batch b ON b.id = m.batch_id
        WHERE (scope IS NULL OR m.queue = scope)
          AND (b.id IS NULL OR b.queue <> m.queue OR b.state <> m.state
               OR b.state NOT IN ('creating', 'created', 'scored', 'speculating',
                                  'merging', 'cancelling'))
    ) d
    ORDER BY d.queue COLLATE "C", d.batch_id COLLATE "C", d.state COLLATE "C", d.kind;
END
$$;

CREATE FUNCTION bench_plpgsql.verify(queue text DEFAULT NULL)
RETURNS TABLE (problem text, queue text, state text, batch_id text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT * FROM bench_plpgsql.drift($1) $$;

-- Repair every drift verify reports, one batch at a time in id order (so
-- two reconciles cannot deadlock), deciding on the locked, newest batch row.
CREATE FUNCTION bench_plpgsql.reconcile(queue text DEFAULT NULL)
RETURNS TABLE (added bigint, removed bigint)
LANGUAGE plpgsql VOLATILE ROWS 1
AS $$
#variable_conflict use_column
DECLARE
    scope text := reconcile.queue;
    n_added bigint := 0;
    n_removed bigint := 0;
    d record;
    cur record;
    live boolean;
BEGIN
    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        PERFORM bench_plpgsql.read_only('reconcile');
    END IF;
    IF scope IS NOT NULL THEN
        PERFORM bench_plpgsql.check_key(scope, 'queue');
    END IF;
    FOR d IN
        SELECT v.batch_id, array_agg(v.problem) AS problems,
               array_agg(v.queue) AS queues, array_agg(v.state) AS states
        FROM bench_plpgsql.drift(scope) AS v(problem, queue, state, batch_id)
        GROUP BY v.batch_id
        ORDER BY v.batch_id COLLATE "C"
    LOOP
        SELECT b.queue, b.state INTO cur
        FROM bench_plpgsql.batch b WHERE b.id = d.batch_id FOR NO KEY UPDATE;
        live := FOUND AND cur.state IN ('creating', 'created', 'scored', 'speculating',
                                        'merging', 'cancelling');
        FOR i IN 1 .. cardinality(d.problems) LOOP
            CONTINUE WHEN d.problems[i] = 'missing';
            CONTINUE WHEN live AND d.queues[i] = cur.queue AND d.states[i] = cur.state;
            DELETE FROM bench_plpgsql.batch_state_membership m
            WHERE m.queue = d.queues[i] AND m.state = d.states[i] AND m.batch_id = d.batch_id;
            IF FOUND THEN
                n_removed := n_removed + 1;
            END IF;
        END LOOP;
        IF live AND (scope IS NULL OR scope = cur.queue) THEN
            INSERT INTO bench_plpgsql.batch_state_membership (queue, state, batch_id)
            VALUES (cur.queue, cur.state, d.batch_id)
            ON CONFLICT DO NOTHING;
            IF FOUND THEN
                n_added := n_added + 1;
            END IF;
        END IF;
    END LOOP;
    added := n_added;
    removed := n_removed;
    RETURN NEXT;
END
$$;
