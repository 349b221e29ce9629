-- planner_guard.sql: the planner guard plans batchstate's own statements on
-- their indexes and nothing else.  A user's trigger on batchstate.batch
-- plans its queries while a move runs; they must come out as the server
-- plans them (a sequential scan of a one-row table), on the first move of
-- the session (when the move's own statement is planned) and on later ones
-- (when its kept plan is reused).
BEGIN;
SET LOCAL search_path = public, pg_catalog;
SELECT plan(4);

CREATE TABLE public.guard_probe (x int);
INSERT INTO public.guard_probe VALUES (1);
CREATE TABLE public.guard_log (n int, line text);
CREATE FUNCTION public.guard_probe_plan() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    line text;
    n int := (SELECT coalesce(max(n), 0) + 1 FROM public.guard_log);
BEGIN
    FOR line IN EXECUTE 'EXPLAIN SELECT * FROM public.guard_probe WHERE x = 1' LOOP
        INSERT INTO public.guard_log VALUES (n, line);
    END LOOP;
    RETURN NEW;
END
$$;
CREATE TRIGGER guard_probe_plan AFTER UPDATE ON batchstate.batch
    FOR EACH ROW EXECUTE FUNCTION public.guard_probe_plan();

SELECT ok(batchstate.create_batch('guard/batch/1', 'guard') IS NOT NULL
          AND batchstate.update_state('guard/batch/1', 1, 'scored')
          AND batchstate.update_state('guard/batch/1', 2, 'speculating')
          AND batchstate.update_batch('guard/batch/1', 3, 'merging')
          AND batchstate.update_state('guard/batch/1', 4, 'merging'),
    'four_moves_with_a_user_trigger_on_batch');
SELECT is((SELECT count(DISTINCT n) FROM public.guard_log), 4::bigint,
    'the_trigger_planned_its_query_in_every_move');
SELECT is((SELECT count(*) FROM public.guard_log WHERE line LIKE 'Seq Scan on guard_probe%'),
    4::bigint,
    'the_trigger_query_is_planned_as_the_server_plans_it');
SELECT is_empty($$SELECT line FROM public.guard_log WHERE line LIKE '%10000000000%'$$,
    'no_plan_of_the_trigger_carries_the_guard_s_disabled_cost');

SELECT * FROM finish();
ROLLBACK;
