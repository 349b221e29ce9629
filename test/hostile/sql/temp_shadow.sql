-- temp_shadow.sql: temporary tables batch and batch_state_membership.  The
-- session's temporary schema is searched for relations before everything
-- else, pg_catalog included, unless search_path names it elsewhere.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE TEMP TABLE batch (LIKE batchstate.batch INCLUDING ALL);
CREATE TEMP TABLE batch_state_membership
    (LIKE batchstate.batch_state_membership INCLUDING ALL);
INSERT INTO pg_temp.batch VALUES
    ('q1/b1', 'q1', '{temp}', '{}', 0.33, 'merging', 33),
    ('q1/temp', 'q1', '{temp}', '{}', 0.33, 'created', 33);
INSERT INTO pg_temp.batch_state_membership VALUES
    ('q1', 'merging', 'q1/b1'),
    ('q1', 'created', 'q1/temp'),
    ('q1', 'succeeded', 'q1/temp');
RESET client_min_messages;
