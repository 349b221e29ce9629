/* batchstate--1.2--1.3.sql: upgrade batchstate from 1.2 to 1.3.
 * The controller's questions: update_batch, dependents_of,
 * batches_containing, queue_stats, stuck_batches; the creating state and
 * the cancellable flag; list_batches with no states. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION batchstate UPDATE TO '1.3'" to load this file. \quit

-- When a batch entered its state: a membership row is filed exactly then.
-- Rows filed before the upgrade get the time of the upgrade (a constant
-- default: no table rewrite).
ALTER TABLE batchstate.batch_state_membership
    ADD COLUMN since timestamptz NOT NULL DEFAULT pg_catalog.now();
COMMENT ON COLUMN batchstate.batch_state_membership.since IS
    'when the batch entered the state (the time the row was filed)';

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
-- Building it reads the whole table and blocks writes to it meanwhile.  An
-- element too long for an index entry (about 2.7 kB; 1.3 accepts 1024
-- bytes) stops the upgrade, naming the batch that holds the longest.
DO $$
DECLARE
    culprit text;
    bytes integer;
BEGIN
    CREATE INDEX batch_arrays_gin ON batchstate.batch USING gin (contains, dependencies)
        WITH (gin_pending_list_limit = 64);
EXCEPTION WHEN program_limit_exceeded THEN
    SELECT b.id, octet_length(e) INTO culprit, bytes
      FROM batchstate.batch AS b, unnest(b.contains || b.dependencies) AS e
     ORDER BY octet_length(e) DESC LIMIT 1;
    RAISE EXCEPTION 'batch "%" holds an array element too long to index', culprit
        USING ERRCODE = 'program_limit_exceeded',
              DETAIL = format('Its longest element in contains or dependencies is %s bytes; batchstate 1.3 indexes both arrays and accepts elements of up to 1024 bytes.', bytes),
              HINT = 'Shorten the long elements (UPDATE batchstate.batch SET contains = ..., dependencies = ...), then update the extension again.';
END
$$;

-- states() reports the new flags: its result type changes, so it is made
-- anew (a view of the caller's that reads states() blocks the upgrade).
DROP FUNCTION batchstate.states();
CREATE FUNCTION batchstate.states()
RETURNS TABLE (state text, terminal boolean, halted boolean, conflict boolean,
               cancellable boolean, active boolean)
AS 'MODULE_PATHNAME', 'batchstate_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 9;

CREATE FUNCTION batchstate.is_cancellable(state text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'batchstate_is_cancellable'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.active_states()
RETURNS text[]
AS 'MODULE_PATHNAME', 'batchstate_active_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION batchstate.cancellable_states()
RETURNS text[]
AS 'MODULE_PATHNAME', 'batchstate_cancellable_states'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- list_batches(queue) with no states: an empty result, as documented
CREATE OR REPLACE FUNCTION batchstate.list_batches(queue text, VARIADIC states text[] DEFAULT '{}')
RETURNS SETOF batchstate.batch
AS 'MODULE_PATHNAME', 'batchstate_list_batches'
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
