/* batchstate--1.0--1.1.sql: upgrade batchstate from 1.0 to 1.1.
 * Storage and autovacuum parameters for the churn of the two tables. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION batchstate UPDATE TO '1.1'" to load this file. \quit

-- Every move rewrites the batch row without touching its key: leave room on
-- each page so the new version stays on it (a HOT update, no index entry).
ALTER TABLE batchstate.batch SET (fillfactor = 80);

-- The membership table is a queue table: every move deletes one row and
-- inserts another while only the live batches remain.  Vacuum it after a
-- fixed number of dead rows rather than a fraction of its (tiny) size, at
-- full speed, and never truncate it (truncation takes an ACCESS EXCLUSIVE
-- lock that would stall every move for its duration).
ALTER TABLE batchstate.batch_state_membership SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    vacuum_truncate = false
);
