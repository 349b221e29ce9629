-- install_guard.sql: CREATE EXTENSION refuses a schema "batchstate" that
-- another role owns (it could plant objects that batchstate's callers run).
-- Everything happens in one transaction and is rolled back.
BEGIN;
SELECT plan(4);

DROP EXTENSION batchstate;
DROP SCHEMA batchstate;   -- CREATE EXTENSION made it; DROP EXTENSION leaves it
CREATE ROLE batchstate_squatter NOLOGIN;
CREATE SCHEMA batchstate AUTHORIZATION batchstate_squatter;

SELECT throws_ok(
    'CREATE EXTENSION batchstate',
    '42501',
    'schema "batchstate" is owned by role "batchstate_squatter"',
    'create_extension_refuses_a_schema_owned_by_another_role');
SELECT hasnt_table('batchstate', 'batch',
    'refused_install_left_no_table_behind');

-- the same schema, handed to the installing role, is fine
ALTER SCHEMA batchstate OWNER TO CURRENT_USER;
SELECT lives_ok(
    'CREATE EXTENSION batchstate',
    'create_extension_accepts_a_schema_the_installer_owns');
SELECT has_function('batchstate', 'create_batch',
    ARRAY['text', 'text', 'text', 'text[]', 'text[]', 'double precision', 'integer'],
    'accepted_install_created_the_functions');

SELECT * FROM finish();
ROLLBACK;
