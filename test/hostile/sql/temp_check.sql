-- temp_check.sql: after calls.sql, the temporary decoys are as temp_shadow.sql
-- left them.  Prints one line.
SET search_path = pg_catalog;
\pset format unaligned
\pset tuples_only on
SELECT (SELECT string_agg(b::text, '|' ORDER BY b::text COLLATE "C") FROM pg_temp.batch b)
    || '#' ||
    (SELECT string_agg(m::text, '|' ORDER BY m::text COLLATE "C")
     FROM (SELECT queue, state, batch_id FROM pg_temp.batch_state_membership) m) AS temp_decoys;
