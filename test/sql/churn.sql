-- churn: the hot path never scans batch or batch_state_membership
-- sequentially, whatever the statistics say: on tables VACUUM recorded as
-- empty, after ANALYZE, and with generic plans.  Counted with
-- pg_stat_user_tables.seq_scan around thousands of lifecycles.  The hot
-- path includes the controller's lookups (1.3): dependents_of,
-- batches_containing, queue_stats of a queue and stuck_batches.
\set SHOW_CONTEXT never
TRUNCATE batchstate.batch, batchstate.batch_state_membership;
-- statistics that say "empty": the worst case for a kept plan
VACUUM ANALYZE batchstate.batch;
VACUUM ANALYZE batchstate.batch_state_membership;
SELECT relname, relpages, reltuples FROM pg_class
WHERE relnamespace = 'batchstate'::regnamespace AND relkind = 'r' ORDER BY relname;

-- a fresh backend: every plan is prepared under those statistics
\c
CREATE SCHEMA churn_test;
-- one lifecycle per iteration through every hot-path function, plus lists,
-- rejected moves and lost races; :round keeps the ids of the rounds apart
CREATE FUNCTION churn_test.churn(round int, n int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    id text;
    q text;
BEGIN
    FOR i IN 1..n LOOP
        id := format('churn%s/batch/%s', round, i);
        q := 'q' || (i % 5);
        PERFORM batchstate.create_batch(id, q, contains => ARRAY['lr' || i]);
        PERFORM batchstate.update_score_and_state(id, 1, 0.5, 'scored');
        PERFORM batchstate.update_state(id, 1, 'merging');      -- lost race
        PERFORM batchstate.update_state(id, 2, 'speculating');
        PERFORM batchstate.update_state(id, 3, 'merging');
        PERFORM count(*) FROM batchstate.list_active(q);
        PERFORM count(*) FROM batchstate.list_batches(q, 'merging', 'created');
        PERFORM batchstate.batch_get(id);
        PERFORM batchstate.ensure_membership(id);
        -- 1.3: the reverse lookups, the counts, the stuck batches, update_batch
        PERFORM count(*) FROM batchstate.dependents_of(q, format('churn%s/batch/%s', round, i - 1));
        PERFORM count(*) FROM batchstate.batches_containing(q, 'lr' || i, true);
        PERFORM count(*) FROM batchstate.queue_stats(q);
        PERFORM count(*) FROM batchstate.stuck_batches(q, '1 hour', 'merging', 'created');
        PERFORM batchstate.update_batch(id, 4, 'merging',
                                        dependencies => ARRAY[format('churn%s/batch/%s', round, i - 1)]);
        PERFORM batchstate.update_state(id, 5, CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'succeeded' END);
        PERFORM batchstate.membership_list_ids(q, 'merging');
        -- the primitives too
        PERFORM batchstate.batch_create(id || '/p', q, 'created');
        PERFORM batchstate.membership_add(q, 'created', id || '/p');
        PERFORM batchstate.batch_update_state(id || '/p', 1, 2, 'scored');
        PERFORM batchstate.batch_update_score_and_state(id || '/p', 2, 3, 0.1, 'failed');
        PERFORM batchstate.membership_remove(q, 'created', id || '/p');
    END LOOP;
END
$$;
-- sequential scans of the two tables so far, flushed to the statistics
CREATE FUNCTION churn_test.seq_scans() RETURNS bigint
LANGUAGE sql AS $$
    SELECT sum(seq_scan)::bigint FROM pg_stat_user_tables
    WHERE schemaname = 'batchstate'
$$;
-- wait (up to 10 s) until no other client backend is connected to this
-- database: a backend flushes its statistics before it leaves pg_stat_activity, so
-- the scans of earlier test files cannot land in a count taken after this
CREATE FUNCTION churn_test.wait_alone() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..1000 LOOP
        PERFORM pg_stat_clear_snapshot();
        IF NOT EXISTS (SELECT 1 FROM pg_stat_activity
                       WHERE datname = current_database()
                         AND backend_type = 'client backend'
                         AND pid <> pg_backend_pid()) THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RETURN false;
END
$$;
SELECT churn_test.wait_alone();
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT churn_test.seq_scans() AS before \gset

SELECT churn_test.churn(1, 1500);
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT churn_test.seq_scans() - :before AS seq_scans_on_vacuumed_empty_tables;

-- now the statistics know the tables are big (and mostly dead in membership)
ANALYZE batchstate.batch;
ANALYZE batchstate.batch_state_membership;
SELECT churn_test.seq_scans() AS before \gset
SELECT churn_test.churn(2, 1500);
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT churn_test.seq_scans() - :before AS seq_scans_after_analyze;

-- generic plans, chosen without looking at the parameters
SET plan_cache_mode = force_generic_plan;
\c
SET plan_cache_mode = force_generic_plan;
SELECT churn_test.wait_alone();
SELECT pg_stat_clear_snapshot();
SELECT churn_test.seq_scans() AS before \gset
SELECT churn_test.churn(3, 1500);
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT churn_test.seq_scans() - :before AS seq_scans_with_generic_plans;

-- and custom plans for every call
SET plan_cache_mode = force_custom_plan;
SELECT churn_test.seq_scans() AS before \gset
SELECT churn_test.churn(4, 1500);
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT churn_test.seq_scans() - :before AS seq_scans_with_custom_plans;
RESET plan_cache_mode;

-- no decay: buffers touched per lifecycle stay flat as dead rows pile up,
-- with every plan made on tables VACUUM recorded as empty.  A plan that
-- reads an index from end to end (not a sequential scan, but as bad) would
-- touch more and more pages per lifecycle.
CREATE FUNCTION churn_test.buffers() RETURNS bigint
LANGUAGE sql AS $$
    SELECT sum(heap_blks_hit + heap_blks_read + idx_blks_hit + idx_blks_read)::bigint
    FROM pg_statio_user_tables WHERE schemaname = 'batchstate'
$$;
TRUNCATE batchstate.batch, batchstate.batch_state_membership;
VACUUM batchstate.batch;
VACUUM batchstate.batch_state_membership;
-- the counters include autovacuum's reads: keep it out of the measurement
ALTER TABLE batchstate.batch SET (autovacuum_enabled = off);
ALTER TABLE batchstate.batch_state_membership SET (autovacuum_enabled = off);
\c
SELECT churn_test.wait_alone();
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT churn_test.buffers() AS before \gset
SELECT churn_test.churn(5, 300);
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT churn_test.buffers() - :before AS early \gset
SELECT churn_test.churn(6, 3000);
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT churn_test.buffers() AS before \gset
SELECT churn_test.churn(7, 300);
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT churn_test.buffers() - :before AS late \gset
-- (dead index entries that lists step over until VACUUM add some; a plan
-- reading a whole index per move would more than double it)
SELECT :late::numeric / :early < 2 AS buffers_per_lifecycle_flat;
ALTER TABLE batchstate.batch RESET (autovacuum_enabled);
ALTER TABLE batchstate.batch_state_membership RESET (autovacuum_enabled);

-- the counter does count: verify may scan whole tables, and does
SELECT churn_test.seq_scans() AS before \gset
SELECT count(*) AS drift FROM batchstate.verify();
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT churn_test.seq_scans() - :before > 0 AS verify_scanned;

-- what the churn left: one row per live batch (none), all history terminal
SELECT state, count(*) FROM batchstate.batch GROUP BY state ORDER BY state;
SELECT count(*) AS membership_rows FROM batchstate.batch_state_membership;

DROP SCHEMA churn_test CASCADE;
