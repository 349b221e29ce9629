/* batchstate--1.1--1.2.sql: upgrade batchstate from 1.1 to 1.2.
 * A hash index for the lookups of a batch by id. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION batchstate UPDATE TO '1.2'" to load this file. \quit

-- Every lookup of a batch is by its whole id: a hash index answers it by
-- reading one bucket page whatever the table's size, comparing hash codes
-- and then bytes; the primary key descends more levels as the history grows
-- (three at a million batches) and compares ids in the database's collation
-- on each.  The primary key stays: it is what makes ids unique.
-- Building it reads the whole table and blocks writes to it meanwhile.
CREATE INDEX batch_id_hash ON batchstate.batch USING hash (id);
