/* sql/batchstate.sql: batchstate installed from scratch, at the version of
 * batchstate.control (the build copies it to batchstate--<version>.sql).
 * Plain storage tables plus C functions; the lifecycle lives in src/policy.c.
 * A change here for a new version also goes into that version's upgrade
 * script, batchstate--<previous>--<version>.sql. */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION batchstate" to load this file. \quit

-- CREATE EXTENSION reuses a schema batchstate that exists already.  Whoever
-- owns it could add objects there (an overload of a batchstate function,
-- say) that other sessions would then run: refuse a schema owned by anyone
-- but the installing role or a superuser.
DO $$
DECLARE
    owner name;
BEGIN
    SELECT r.rolname INTO owner
    FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
    WHERE n.nspname = 'batchstate' AND NOT r.rolsuper AND r.rolname <> current_user;
    IF FOUND THEN
        RAISE EXCEPTION 'schema "batchstate" is owned by role "%"', owner
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'That role could add objects to the schema that callers of batchstate would run.',
                  HINT = 'Drop the schema, or make the installing role or a superuser its owner, then create the extension.';
    END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- Storage.  No CHECK constraint, enum or trigger encodes the lifecycle.
-- ---------------------------------------------------------------------------

CREATE TABLE batchstate.batch (
    id           text PRIMARY KEY,
    queue        text NOT NULL,
    contains     text[] NOT NULL DEFAULT '{}',
    dependencies text[] NOT NULL DEFAULT '{}',
    score        double precision NOT NULL DEFAULT 0,
    state        text NOT NULL,
    version      integer NOT NULL
) WITH (
    -- a move rewrites the row without touching its key: room for HOT updates
    fillfactor = 80
);

COMMENT ON TABLE batchstate.batch IS
    'one row per batch: the single source of truth for its state and version';

-- Every lookup of a batch is by its whole id: a hash index answers it by
-- reading one bucket page whatever the table's size, comparing hash codes
-- and then bytes; the primary key descends more levels as the history grows
-- (three at a million batches) and compares ids in the database's collation
-- on each.  The primary key stays: it is what makes ids unique.
CREATE INDEX batch_id_hash ON batchstate.batch USING hash (id);

-- The reverse lookups, answered from the batch rows themselves so that they
-- cannot drift: which batches depend on a batch (dependents_of), which hold
-- a land request (batches_containing).  One GIN index over both arrays maps
-- each element of either to the rows holding it.  One index, not two, and
-- not partial: every statement that writes the table opens and locks each
-- of its indexes (a move too, although it leaves the arrays alone and stays
-- a HOT update), and a partial index's predicate is copied for each of
-- them.  New entries go to the index's pending list, which the inserting
-- backend folds into the index once it holds 64 kB, so a lookup scans at
-- most 64 kB of pending entries.
CREATE INDEX batch_arrays_gin ON batchstate.batch USING gin (contains, dependencies)
    WITH (gin_pending_list_limit = 64);

CREATE TABLE batchstate.batch_state_membership (
    queue    text NOT NULL,
    state    text NOT NULL,
    batch_id text NOT NULL,
    -- when the batch entered the state: a row is filed exactly then
    since    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (queue, state, batch_id)
) WITH (
    -- a queue table: every move deletes a row and inserts one.  Vacuum after
    -- a fixed number of dead rows, at full speed, and never truncate (that
    -- takes an ACCESS EXCLUSIVE lock, stalling every move while it runs).
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    vacuum_truncate = false
);

COMMENT ON TABLE batchstate.batch_state_membership IS
    'hints: which batch ids a queue holds in a state; readers resolve them against batchstate.batch';
COMMENT ON COLUMN batchstate.batch_state_membership.since IS
    'when the batch entered the state (the time the row was filed)';

-- pg_dump keeps the rows of both tables
SELECT pg_catalog.pg_extension_config_dump('batchstate.batch', '');
SELECT pg_catalog.pg_extension_config_dump('batchstate.batch_state_membership', '');

-- ---------------------------------------------------------------------------
-- The policy: the lifecycle as data (src/policy.c).
-- ---------------------------------------------------------------------------

CREATE FUNCTION batchstate.states()
RETURNS TABLE (state text, terminal boolean, halted boolean, conflict boolean,
               cancellable boolean, active boolean)
AS 'MODULE_PATHNAME', 'batchstate_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 9;

CREATE FUNCTION batchstate.is_valid_state(state text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_is_valid_state'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.is_terminal(state text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_is_terminal'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.is_halted(state text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_is_halted'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.is_cancellable(state text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_is_cancellable'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.non_terminal_states()
RETURNS text[]
AS 'MODULE_PATHNAME', 'batchstate_non_terminal_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.conflict_states()
RETURNS text[]
AS 'MODULE_PATHNAME', 'batchstate_conflict_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.active_states()
RETURNS text[]
AS 'MODULE_PATHNAME', 'batchstate_active_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.cancellable_states()
RETURNS text[]
AS 'MODULE_PATHNAME', 'batchstate_cancellable_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.can_transition(from_state text, to_state text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_can_transition'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ---------------------------------------------------------------------------
-- Storage primitives: pure CRUD/CAS, no membership side effects, no rules.
-- Not STRICT: a NULL argument raises 22004 naming the argument.
-- ---------------------------------------------------------------------------

CREATE FUNCTION batchstate.batch_get(id text)
RETURNS batchstate.batch
AS 'MODULE_PATHNAME', 'batchstate_batch_get'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION batchstate.batch_create(
    id text,
    queue text,
    state text,
    contains text[] DEFAULT '{}',
    dependencies text[] DEFAULT '{}',
    score double precision DEFAULT 0,
    version integer DEFAULT 1)
RETURNS void
AS 'MODULE_PATHNAME', 'batchstate_batch_create'
LANGUAGE C VOLATILE;

CREATE FUNCTION batchstate.batch_update_state(
    id text, old_version integer, new_version integer, new_state text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_batch_update_state'
LANGUAGE C VOLATILE;

CREATE FUNCTION batchstate.batch_update_score_and_state(
    id text, old_version integer, new_version integer,
    score double precision, new_state text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_batch_update_score_and_state'
LANGUAGE C VOLATILE;

CREATE FUNCTION batchstate.membership_add(queue text, state text, batch_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'batchstate_membership_add'
LANGUAGE C VOLATILE;

CREATE FUNCTION batchstate.membership_remove(queue text, state text, batch_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'batchstate_membership_remove'
LANGUAGE C VOLATILE;

CREATE FUNCTION batchstate.membership_list_ids(queue text, state text)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'batchstate_membership_list_ids'
LANGUAGE C STABLE PARALLEL SAFE;

-- ---------------------------------------------------------------------------
-- The app layer: what an orchestrator calls.  Each call keeps both tables
-- in step inside the caller's transaction.
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
AS 'MODULE_PATHNAME', 'batchstate_create_batch'
LANGUAGE C VOLATILE;

CREATE FUNCTION batchstate.update_state(
    id text, expected_version integer, new_state text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_update_state'
LANGUAGE C VOLATILE;

CREATE FUNCTION batchstate.update_score_and_state(
    id text, expected_version integer, score double precision, new_state text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_update_score_and_state'
LANGUAGE C VOLATILE;

CREATE FUNCTION batchstate.update_batch(
    id text,
    expected_version integer,
    new_state text,
    contains text[] DEFAULT NULL,
    dependencies text[] DEFAULT NULL,
    score double precision DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_update_batch'
LANGUAGE C VOLATILE;

-- VOLATILE: a list may prune membership rows of terminal batches.
CREATE FUNCTION batchstate.list_batches(queue text, VARIADIC states text[] DEFAULT '{}')
RETURNS SETOF batchstate.batch
AS 'MODULE_PATHNAME', 'batchstate_list_batches'
LANGUAGE C VOLATILE;

CREATE FUNCTION batchstate.list_active(queue text)
RETURNS SETOF batchstate.batch
AS 'MODULE_PATHNAME', 'batchstate_list_active'
LANGUAGE C VOLATILE;

CREATE FUNCTION batchstate.dependents_of(
    queue text, id text, include_finished boolean DEFAULT false)
RETURNS SETOF batchstate.batch
AS 'MODULE_PATHNAME', 'batchstate_dependents_of'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION batchstate.batches_containing(
    queue text, request_id text, include_finished boolean DEFAULT false)
RETURNS SETOF batchstate.batch
AS 'MODULE_PATHNAME', 'batchstate_batches_containing'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION batchstate.queue_stats(queue text DEFAULT NULL)
RETURNS TABLE (queue text, state text, batches bigint, oldest_since timestamptz)
AS 'MODULE_PATHNAME', 'batchstate_queue_stats'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION batchstate.stuck_batches(
    queue text, older_than interval, VARIADIC states text[])
RETURNS SETOF batchstate.batch
AS 'MODULE_PATHNAME', 'batchstate_stuck_batches'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION batchstate.ensure_membership(id text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_ensure_membership'
LANGUAGE C VOLATILE;

CREATE FUNCTION batchstate.verify(queue text DEFAULT NULL)
RETURNS TABLE (problem text, queue text, state text, batch_id text)
AS 'MODULE_PATHNAME', 'batchstate_verify'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION batchstate.reconcile(queue text DEFAULT NULL)
RETURNS TABLE (added bigint, removed bigint)
AS 'MODULE_PATHNAME', 'batchstate_reconcile'
LANGUAGE C VOLATILE ROWS 1;
