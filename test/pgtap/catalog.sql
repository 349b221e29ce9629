-- catalog.sql: the SQL surface of batchstate 1.3 as doc/API.md fixes it.
-- Schema, both tables (columns, types, defaults, keys), extension
-- registration, and every function's signature, result, volatility,
-- strictness, argument names and defaults.
BEGIN;
SET LOCAL search_path = public, pg_catalog;	-- type names print qualified
SELECT plan(215);

-- ---------------------------------------------------------------------------
-- The extension and its schema
-- ---------------------------------------------------------------------------
SELECT has_extension('batchstate', 'extension_batchstate_is_installed');
SELECT has_schema('batchstate', 'schema_batchstate_exists');
SELECT is(
    (SELECT n.nspname::text FROM pg_extension e
       JOIN pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname = 'batchstate'),
    'batchstate',
    'extension_lives_in_schema_batchstate');
SELECT is(
    (SELECT extrelocatable FROM pg_extension WHERE extname = 'batchstate'),
    false,
    'extension_is_not_relocatable');

-- ---------------------------------------------------------------------------
-- Tables: exactly two, plain storage
-- ---------------------------------------------------------------------------
SELECT tables_are('batchstate', ARRAY['batch', 'batch_state_membership'],
    'schema_holds_exactly_the_two_tables');
SELECT is_empty($$
    SELECT c.relname, c.relkind FROM pg_class c
     WHERE c.relnamespace = 'batchstate'::regnamespace
       AND c.relkind NOT IN ('r', 'i')$$,
    'schema_holds_no_view_sequence_or_other_relation');
SELECT is_empty($$
    SELECT t.typname FROM pg_type t
     WHERE t.typnamespace = 'batchstate'::regnamespace
       AND t.typtype IN ('e', 'd', 'r', 'm')$$,
    'schema_holds_no_enum_domain_or_range_type');

-- batchstate.batch
SELECT columns_are('batchstate', 'batch',
    ARRAY['id', 'queue', 'contains', 'dependencies', 'score', 'state', 'version'],
    'batch_has_exactly_the_contract_columns');
SELECT is(
    ARRAY(SELECT attname::text FROM pg_attribute
           WHERE attrelid = 'batchstate.batch'::regclass
             AND attnum > 0 AND NOT attisdropped ORDER BY attnum),
    ARRAY['id', 'queue', 'contains', 'dependencies', 'score', 'state', 'version'],
    'batch_columns_are_in_contract_order');
SELECT col_type_is('batchstate', 'batch', 'id', 'text', 'batch_id_is_text');
SELECT col_type_is('batchstate', 'batch', 'queue', 'text', 'batch_queue_is_text');
SELECT col_type_is('batchstate', 'batch', 'contains', 'text[]', 'batch_contains_is_text_array');
SELECT col_type_is('batchstate', 'batch', 'dependencies', 'text[]', 'batch_dependencies_is_text_array');
SELECT col_type_is('batchstate', 'batch', 'score', 'double precision', 'batch_score_is_double_precision');
SELECT col_type_is('batchstate', 'batch', 'state', 'text', 'batch_state_is_text');
SELECT col_type_is('batchstate', 'batch', 'version', 'integer', 'batch_version_is_integer');
SELECT col_not_null('batchstate', 'batch', 'id', 'batch_id_is_not_null');
SELECT col_not_null('batchstate', 'batch', 'queue', 'batch_queue_is_not_null');
SELECT col_not_null('batchstate', 'batch', 'contains', 'batch_contains_is_not_null');
SELECT col_not_null('batchstate', 'batch', 'dependencies', 'batch_dependencies_is_not_null');
SELECT col_not_null('batchstate', 'batch', 'score', 'batch_score_is_not_null');
SELECT col_not_null('batchstate', 'batch', 'state', 'batch_state_is_not_null');
SELECT col_not_null('batchstate', 'batch', 'version', 'batch_version_is_not_null');
SELECT col_hasnt_default('batchstate', 'batch', 'id', 'batch_id_has_no_default');
SELECT col_hasnt_default('batchstate', 'batch', 'queue', 'batch_queue_has_no_default');
SELECT col_default_is('batchstate', 'batch', 'contains', '{}'::text[],
    'batch_contains_defaults_to_empty_array');
SELECT col_default_is('batchstate', 'batch', 'dependencies', '{}'::text[],
    'batch_dependencies_defaults_to_empty_array');
SELECT col_default_is('batchstate', 'batch', 'score', 0::double precision,
    'batch_score_defaults_to_zero');
SELECT col_hasnt_default('batchstate', 'batch', 'state', 'batch_state_has_no_default');
SELECT col_hasnt_default('batchstate', 'batch', 'version', 'batch_version_has_no_default');
SELECT has_pk('batchstate', 'batch', 'batch_has_a_primary_key');
SELECT col_is_pk('batchstate', 'batch', ARRAY['id'], 'batch_primary_key_is_id');

-- batchstate.batch_state_membership
SELECT columns_are('batchstate', 'batch_state_membership',
    ARRAY['queue', 'state', 'batch_id', 'since'],
    'membership_has_exactly_the_contract_columns');
SELECT is(
    ARRAY(SELECT attname::text FROM pg_attribute
           WHERE attrelid = 'batchstate.batch_state_membership'::regclass
             AND attnum > 0 AND NOT attisdropped ORDER BY attnum),
    ARRAY['queue', 'state', 'batch_id', 'since'],
    'membership_columns_are_in_contract_order');
SELECT col_type_is('batchstate', 'batch_state_membership', 'since',
    'timestamp with time zone', 'membership_since_is_timestamptz');
SELECT col_not_null('batchstate', 'batch_state_membership', 'since', 'membership_since_is_not_null');
SELECT col_default_is('batchstate', 'batch_state_membership', 'since', 'now()',
    'membership_since_defaults_to_now');
SELECT col_type_is('batchstate', 'batch_state_membership', 'queue', 'text', 'membership_queue_is_text');
SELECT col_type_is('batchstate', 'batch_state_membership', 'state', 'text', 'membership_state_is_text');
SELECT col_type_is('batchstate', 'batch_state_membership', 'batch_id', 'text', 'membership_batch_id_is_text');
SELECT col_not_null('batchstate', 'batch_state_membership', 'queue', 'membership_queue_is_not_null');
SELECT col_not_null('batchstate', 'batch_state_membership', 'state', 'membership_state_is_not_null');
SELECT col_not_null('batchstate', 'batch_state_membership', 'batch_id', 'membership_batch_id_is_not_null');
SELECT col_hasnt_default('batchstate', 'batch_state_membership', 'queue', 'membership_queue_has_no_default');
SELECT col_hasnt_default('batchstate', 'batch_state_membership', 'state', 'membership_state_has_no_default');
SELECT col_hasnt_default('batchstate', 'batch_state_membership', 'batch_id', 'membership_batch_id_has_no_default');
SELECT has_pk('batchstate', 'batch_state_membership', 'membership_has_a_primary_key');
SELECT col_is_pk('batchstate', 'batch_state_membership',
    ARRAY['queue', 'state', 'batch_id'],
    'membership_primary_key_is_queue_state_batch_id_in_that_order');

-- nothing but the primary keys, the hash index on batch ids and the GIN
-- index on the arrays: no CHECK, UNIQUE, FK or exclusion constraint, no
-- trigger, no other index (none over a state column), no row security
-- (contype 'n' is NOT NULL, a pg_constraint row since PostgreSQL 18; the
-- columns' NOT NULL is checked above)
SELECT is_empty($$
    SELECT conrelid::regclass, conname, contype FROM pg_constraint
     WHERE conrelid IN ('batchstate.batch'::regclass,
                        'batchstate.batch_state_membership'::regclass)
       AND contype NOT IN ('p', 'n')$$,
    'tables_have_no_check_unique_foreign_or_exclusion_constraint');
SELECT is_empty($$
    SELECT tgrelid::regclass, tgname FROM pg_trigger
     WHERE tgrelid IN ('batchstate.batch'::regclass,
                       'batchstate.batch_state_membership'::regclass)$$,
    'tables_have_no_trigger');
SELECT results_eq($$
    SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)
      FROM pg_index
     WHERE indrelid IN ('batchstate.batch'::regclass,
                        'batchstate.batch_state_membership'::regclass)
       AND NOT indisprimary
     ORDER BY 1$$,
    $$VALUES ('batchstate.batch_arrays_gin',
              'CREATE INDEX batch_arrays_gin ON batchstate.batch USING gin (contains, dependencies) WITH (gin_pending_list_limit=''64'')'),
             ('batchstate.batch_id_hash',
              'CREATE INDEX batch_id_hash ON batchstate.batch USING hash (id)')$$,
    'the_secondary_indexes_are_the_hash_on_batch_id_and_the_gin_on_the_arrays');
SELECT is_empty($$
    SELECT relname FROM pg_class
     WHERE oid IN ('batchstate.batch'::regclass,
                   'batchstate.batch_state_membership'::regclass)
       AND (relrowsecurity OR relhasrules)$$,
    'tables_have_no_row_security_or_rules');

-- pg_dump keeps the rows of both tables (all of them: empty condition)
SELECT set_eq($$
    SELECT c.cfg::regclass::text, c.cond
      FROM pg_extension e,
           unnest(e.extconfig, e.extcondition) AS c(cfg, cond)
     WHERE e.extname = 'batchstate'$$,
    $$VALUES ('batchstate.batch', ''),
             ('batchstate.batch_state_membership', '')$$,
    'both_tables_registered_with_pg_extension_config_dump_without_filter');
SELECT set_eq($$
    SELECT d.objid::regclass::text FROM pg_depend d
     WHERE d.classid = 'pg_class'::regclass
       AND d.refclassid = 'pg_extension'::regclass
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'batchstate')
       AND d.deptype = 'e'$$,
    ARRAY['batchstate.batch', 'batchstate.batch_state_membership'],
    'both_tables_are_extension_members');

-- ---------------------------------------------------------------------------
-- Functions: the exact API.md surface
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE expected_fn (
    n         int PRIMARY KEY,
    fname     name NOT NULL,
    argtypes  name[] NOT NULL,
    rettype   text NOT NULL,
    vol       text NOT NULL,
    strict    boolean NOT NULL,
    arguments text NOT NULL
) ON COMMIT DROP;
INSERT INTO expected_fn VALUES
 ( 1, 'states', '{}', 'setof record', 'IMMUTABLE', true, ''),
 ( 2, 'is_valid_state', '{text}', 'boolean', 'IMMUTABLE', true, 'state text'),
 ( 3, 'is_terminal', '{text}', 'boolean', 'IMMUTABLE', true, 'state text'),
 ( 4, 'is_halted', '{text}', 'boolean', 'IMMUTABLE', true, 'state text'),
 ( 5, 'non_terminal_states', '{}', 'text[]', 'IMMUTABLE', true, ''),
 ( 6, 'conflict_states', '{}', 'text[]', 'IMMUTABLE', true, ''),
 ( 7, 'can_transition', '{text,text}', 'boolean', 'IMMUTABLE', true,
      'from_state text, to_state text'),
 ( 8, 'batch_get', '{text}', 'batchstate.batch', 'STABLE', false, 'id text'),
 ( 9, 'batch_create',
      '{text,text,text,text[],text[],"double precision",integer}',
      'void', 'VOLATILE', false,
      'id text, queue text, state text, contains text[] DEFAULT ''{}''::text[], '
      'dependencies text[] DEFAULT ''{}''::text[], '
      'score double precision DEFAULT 0, version integer DEFAULT 1'),
 (10, 'batch_update_state', '{text,integer,integer,text}',
      'boolean', 'VOLATILE', false,
      'id text, old_version integer, new_version integer, new_state text'),
 (11, 'batch_update_score_and_state',
      '{text,integer,integer,"double precision",text}',
      'boolean', 'VOLATILE', false,
      'id text, old_version integer, new_version integer, '
      'score double precision, new_state text'),
 (12, 'membership_add', '{text,text,text}', 'void', 'VOLATILE', false,
      'queue text, state text, batch_id text'),
 (13, 'membership_remove', '{text,text,text}', 'void', 'VOLATILE', false,
      'queue text, state text, batch_id text'),
 (14, 'membership_list_ids', '{text,text}', 'setof text', 'STABLE', false,
      'queue text, state text'),
 (15, 'create_batch',
      '{text,text,text,text[],text[],"double precision",integer}',
      'batchstate.batch', 'VOLATILE', false,
      'id text, queue text, state text DEFAULT ''created''::text, '
      'contains text[] DEFAULT ''{}''::text[], '
      'dependencies text[] DEFAULT ''{}''::text[], '
      'score double precision DEFAULT 0, version integer DEFAULT 1'),
 (16, 'update_state', '{text,integer,text}', 'boolean', 'VOLATILE', false,
      'id text, expected_version integer, new_state text'),
 (17, 'update_score_and_state', '{text,integer,"double precision",text}',
      'boolean', 'VOLATILE', false,
      'id text, expected_version integer, score double precision, new_state text'),
 (18, 'list_batches', '{text,text[]}', 'setof batchstate.batch', 'VOLATILE', false,
      'queue text, VARIADIC states text[] DEFAULT ''{}''::text[]'),
 (19, 'list_active', '{text}', 'setof batchstate.batch', 'VOLATILE', false,
      'queue text'),
 (20, 'ensure_membership', '{text}', 'boolean', 'VOLATILE', false, 'id text'),
 (21, 'verify', '{text}', 'setof record', 'STABLE', false,
      'queue text DEFAULT NULL::text'),
 (22, 'reconcile', '{text}', 'setof record', 'VOLATILE', false,
      'queue text DEFAULT NULL::text'),
 -- 1.3
 (23, 'is_cancellable', '{text}', 'boolean', 'IMMUTABLE', true, 'state text'),
 (24, 'active_states', '{}', 'text[]', 'IMMUTABLE', true, ''),
 (25, 'cancellable_states', '{}', 'text[]', 'IMMUTABLE', true, ''),
 (26, 'update_batch',
      '{text,integer,text,text[],text[],"double precision"}',
      'boolean', 'VOLATILE', false,
      'id text, expected_version integer, new_state text, '
      'contains text[] DEFAULT NULL::text[], '
      'dependencies text[] DEFAULT NULL::text[], '
      'score double precision DEFAULT NULL::double precision'),
 (27, 'dependents_of', '{text,text,boolean}', 'setof batchstate.batch', 'STABLE', false,
      'queue text, id text, include_finished boolean DEFAULT false'),
 (28, 'batches_containing', '{text,text,boolean}', 'setof batchstate.batch', 'STABLE', false,
      'queue text, request_id text, include_finished boolean DEFAULT false'),
 (29, 'queue_stats', '{text}', 'setof record', 'STABLE', false,
      'queue text DEFAULT NULL::text'),
 (30, 'stuck_batches', '{text,interval,text[]}', 'setof batchstate.batch', 'STABLE', false,
      'queue text, older_than interval, VARIADIC states text[]');

SELECT functions_are('batchstate',
    ARRAY(SELECT fname FROM expected_fn ORDER BY n),
    'schema_holds_exactly_the_api_functions');
SELECT is(
    (SELECT count(*) FROM pg_proc WHERE pronamespace = 'batchstate'::regnamespace),
    30::bigint,
    'no_function_name_is_overloaded');

SELECT has_function('batchstate', fname, argtypes,
        format('has_function_%s(%s)', fname, array_to_string(argtypes, ', ')))
  FROM expected_fn ORDER BY n;
SELECT function_returns('batchstate', fname, argtypes, rettype,
        format('%s_returns_%s', fname, rettype))
  FROM expected_fn ORDER BY n;
SELECT volatility_is('batchstate', fname, argtypes, vol,
        format('%s_is_%s', fname, lower(vol)))
  FROM expected_fn ORDER BY n;
SELECT CASE WHEN strict
            THEN is_strict('batchstate', fname, argtypes,
                           format('%s_is_strict', fname))
            ELSE isnt_strict('batchstate', fname, argtypes,
                             format('%s_is_not_strict', fname))
       END
  FROM expected_fn ORDER BY n;
SELECT is(
        (SELECT pg_get_function_arguments(p.oid) FROM pg_proc p
          WHERE p.pronamespace = 'batchstate'::regnamespace
            AND p.proname = e.fname),
        e.arguments,
        format('%s_argument_names_and_defaults', e.fname))
  FROM expected_fn e ORDER BY n;

-- the columns of the TABLE(...) results
SELECT is(pg_get_function_result('batchstate.states()'::regprocedure),
    'TABLE(state text, terminal boolean, halted boolean, conflict boolean, cancellable boolean, active boolean)',
    'states_returns_table_state_terminal_halted_conflict_cancellable_active');
SELECT is(pg_get_function_result('batchstate.verify(text)'::regprocedure),
    'TABLE(problem text, queue text, state text, batch_id text)',
    'verify_returns_table_problem_queue_state_batch_id');
SELECT is(pg_get_function_result('batchstate.reconcile(text)'::regprocedure),
    'TABLE(added bigint, removed bigint)',
    'reconcile_returns_table_added_removed');
SELECT is(pg_get_function_result('batchstate.queue_stats(text)'::regprocedure),
    'TABLE(queue text, state text, batches bigint, oldest_since timestamp with time zone)',
    'queue_stats_returns_table_queue_state_batches_oldest_since');

-- the policy is PARALLEL SAFE (API.md); every function belongs to the
-- extension; none is SECURITY DEFINER
SELECT is_empty($$
    SELECT proname FROM pg_proc
     WHERE pronamespace = 'batchstate'::regnamespace
       AND proname IN ('states', 'is_valid_state', 'is_terminal', 'is_halted',
                       'is_cancellable', 'non_terminal_states', 'active_states',
                       'conflict_states', 'cancellable_states', 'can_transition',
                       'dependents_of', 'batches_containing', 'queue_stats',
                       'stuck_batches')
       AND proparallel <> 's'$$,
    'policy_functions_and_read_only_lookups_are_parallel_safe');
SELECT is(
    (SELECT count(*) FROM pg_depend d
       JOIN pg_proc p ON p.oid = d.objid
      WHERE d.classid = 'pg_proc'::regclass
        AND d.refclassid = 'pg_extension'::regclass
        AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'batchstate')
        AND d.deptype = 'e'
        AND p.pronamespace = 'batchstate'::regnamespace),
    30::bigint,
    'all_30_functions_are_extension_members');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
     WHERE d.refclassid = 'pg_extension'::regclass
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'batchstate')
       AND d.deptype = 'e'
       AND p.prosecdef$$,
    'no_extension_function_is_security_definer');

-- storage parameters for churn (1.1), documented in the install script
SELECT is(
    (SELECT reloptions FROM pg_class WHERE oid = 'batchstate.batch'::regclass),
    ARRAY['fillfactor=80'],
    'batch_leaves_room_for_hot_updates');
SELECT is(
    (SELECT reloptions FROM pg_class
      WHERE oid = 'batchstate.batch_state_membership'::regclass),
    ARRAY['autovacuum_vacuum_scale_factor=0', 'autovacuum_vacuum_threshold=1000',
          'autovacuum_vacuum_insert_scale_factor=0', 'autovacuum_vacuum_insert_threshold=1000',
          'autovacuum_vacuum_cost_delay=0', 'vacuum_truncate=false'],
    'membership_is_vacuumed_by_dead_row_count_at_full_speed_without_truncation');

SELECT * FROM finish();
ROLLBACK;
