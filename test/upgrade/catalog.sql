-- test/upgrade/catalog.sql: the catalog of extension batchstate as text.
-- One line per (object, property, value), tab-separated, in byte order, with
-- nothing that depends on OIDs, so two databases can be compared with diff.
-- Objects: every member of the extension (pg_depend deptype 'e'), the
-- extension itself and its schema.  Used by test/t/040_upgrade.pl and 045_dump.pl.
\set QUIET on
\pset format unaligned
\pset tuples_only on
\pset fieldsep '\t'
\pset null '<null>'

WITH ext AS (
    SELECT e.*
    FROM pg_extension e
    WHERE e.extname = 'batchstate'
),
members AS (
    SELECT d.classid, d.objid, d.objsubid,
           o.type || ' ' || o.identity AS obj
    FROM pg_depend d
    JOIN ext ON d.refobjid = ext.oid
    CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) o
    WHERE d.refclassid = 'pg_extension'::regclass
      AND d.deptype = 'e'
),
funcs AS (
    SELECT m.obj, p.*, p.oid AS poid
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
),
rels AS (
    SELECT m.obj, c.*, c.oid AS coid
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
),
types AS (
    SELECT m.obj, t.*, t.oid AS toid
    FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
),
cols AS (
    -- columns by their visible position, so a dropped column leaves no trace
    SELECT r.obj, r.coid, a.*,
           row_number() OVER (PARTITION BY r.coid ORDER BY a.attnum) AS pos
    FROM rels r
    JOIN pg_attribute a ON a.attrelid = r.coid AND a.attnum > 0 AND NOT a.attisdropped
),
lines(obj, prop, val) AS (
    -- the extension
    SELECT 'extension batchstate', 'schema', extnamespace::regnamespace::text FROM ext
    UNION ALL SELECT 'extension batchstate', 'relocatable', extrelocatable::text FROM ext
    UNION ALL
    SELECT 'extension batchstate', 'config dump',
           coalesce((SELECT string_agg(c::regclass::text || ' WHERE ' || coalesce(nullif(w, ''), '(all rows)'),
                                       '; ' ORDER BY c::regclass::text COLLATE "C")
                     FROM unnest(ext.extconfig, ext.extcondition) AS u(c, w)), '(none)')
    FROM ext
    UNION ALL
    SELECT 'schema ' || n.nspname, 'owner', pg_get_userbyid(n.nspowner)::text
    FROM ext JOIN pg_namespace n ON n.oid = ext.extnamespace
    UNION ALL
    SELECT 'schema ' || n.nspname, 'acl', n.nspacl::text
    FROM ext JOIN pg_namespace n ON n.oid = ext.extnamespace
    UNION ALL
    SELECT 'schema ' || n.nspname, 'comment', obj_description(n.oid, 'pg_namespace')
    FROM ext JOIN pg_namespace n ON n.oid = ext.extnamespace

    -- every member, with its comment
    UNION ALL SELECT obj, 'member', 'yes' FROM members
    UNION ALL
    SELECT m.obj, 'comment', d.description
    FROM members m
    JOIN pg_description d ON d.classoid = m.classid AND d.objoid = m.objid AND d.objsubid = m.objsubid

    -- functions
    UNION ALL SELECT obj, 'identity arguments', pg_get_function_identity_arguments(poid) FROM funcs
    UNION ALL SELECT obj, 'arguments (with defaults)', pg_get_function_arguments(poid) FROM funcs
    UNION ALL SELECT obj, 'result', pg_get_function_result(poid) FROM funcs
    UNION ALL SELECT obj, 'kind', prokind::text FROM funcs
    UNION ALL SELECT obj, 'volatility', provolatile::text FROM funcs
    UNION ALL SELECT obj, 'strict', proisstrict::text FROM funcs
    UNION ALL SELECT obj, 'parallel', proparallel::text FROM funcs
    UNION ALL SELECT obj, 'security definer', prosecdef::text FROM funcs
    UNION ALL SELECT obj, 'leakproof', proleakproof::text FROM funcs
    UNION ALL SELECT obj, 'returns set', proretset::text FROM funcs
    UNION ALL SELECT obj, 'cost', procost::text FROM funcs
    UNION ALL SELECT obj, 'rows', prorows::text FROM funcs
    UNION ALL SELECT obj, 'language', (SELECT lanname::text FROM pg_language l WHERE l.oid = prolang) FROM funcs
    UNION ALL SELECT obj, 'source (prosrc)', prosrc FROM funcs
    UNION ALL SELECT obj, 'library (probin)', probin FROM funcs
    UNION ALL SELECT obj, 'config', proconfig::text FROM funcs
    UNION ALL SELECT obj, 'support', prosupport::regproc::text FROM funcs
    UNION ALL SELECT obj, 'owner', pg_get_userbyid(proowner)::text FROM funcs
    UNION ALL SELECT obj, 'acl', proacl::text FROM funcs

    -- tables, views, sequences
    UNION ALL SELECT obj, 'relkind', relkind::text FROM rels
    UNION ALL SELECT obj, 'persistence', relpersistence::text FROM rels
    UNION ALL
    SELECT obj, 'reloptions',
           coalesce((SELECT string_agg(o, ',' ORDER BY o COLLATE "C") FROM unnest(reloptions) o), '(none)')
    FROM rels
    UNION ALL
    SELECT r.obj, 'toast reloptions',
           coalesce((SELECT string_agg(o, ',' ORDER BY o COLLATE "C") FROM unnest(t.reloptions) o), '(none)')
    FROM rels r JOIN pg_class t ON t.oid = r.reltoastrelid
    UNION ALL SELECT obj, 'row security', relrowsecurity::text || '/' || relforcerowsecurity::text FROM rels
    UNION ALL SELECT obj, 'replica identity', relreplident::text FROM rels
    UNION ALL SELECT obj, 'owner', pg_get_userbyid(relowner)::text FROM rels
    UNION ALL SELECT obj, 'acl', relacl::text FROM rels
    UNION ALL SELECT obj, 'view definition', pg_get_viewdef(coid) FROM rels WHERE relkind IN ('v', 'm')
    UNION ALL
    SELECT r.obj, 'sequence',
           format('%s start %s increment %s min %s max %s cache %s cycle %s',
                  s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
    FROM rels r JOIN pg_sequence s ON s.seqrelid = r.coid
    UNION ALL
    SELECT obj, format('column %s', pos),
           format('%s %s%s%s%s%s%s storage %s compression %s',
                  quote_ident(attname), format_type(atttypid, atttypmod),
                  CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END,
                  CASE WHEN atthasdef
                       THEN ' DEFAULT ' || (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
                                            WHERE d.adrelid = attrelid AND d.adnum = attnum)
                       ELSE '' END,
                  CASE WHEN attcollation <> 0
                       THEN ' COLLATE ' || (SELECT quote_ident(collname) FROM pg_collation WHERE oid = attcollation)
                       ELSE '' END,
                  CASE attidentity WHEN '' THEN '' ELSE ' IDENTITY ' || attidentity::text END,
                  CASE attgenerated WHEN '' THEN '' ELSE ' GENERATED ' || attgenerated::text END,
                  attstorage, coalesce(nullif(attcompression::text, ''), '-'))
    FROM cols
    UNION ALL
    SELECT c.obj, format('column %s comment', c.pos), d.description
    FROM cols c
    JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = c.coid AND d.objsubid = c.attnum
    UNION ALL
    SELECT r.obj, 'constraint ' || quote_ident(k.conname), pg_get_constraintdef(k.oid)
    FROM rels r JOIN pg_constraint k ON k.conrelid = r.coid
    UNION ALL
    SELECT r.obj, 'index ' || quote_ident(ic.relname),
           pg_get_indexdef(i.indexrelid)
           || coalesce(' WITH (' || array_to_string(ic.reloptions, ',') || ')', '')
           || CASE WHEN i.indisclustered THEN ' CLUSTERED' ELSE '' END
           || CASE WHEN i.indisreplident THEN ' REPLICA IDENTITY' ELSE '' END
    FROM rels r
    JOIN pg_index i ON i.indrelid = r.coid
    JOIN pg_class ic ON ic.oid = i.indexrelid
    UNION ALL
    SELECT r.obj, 'trigger ' || quote_ident(t.tgname), pg_get_triggerdef(t.oid)
    FROM rels r JOIN pg_trigger t ON t.tgrelid = r.coid AND NOT t.tgisinternal
    UNION ALL
    SELECT r.obj, 'policy ' || quote_ident(p.polname),
           format('%s %s to %s using (%s) check (%s)', p.polcmd, p.polpermissive, p.polroles::regrole[],
                  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
    FROM rels r JOIN pg_policy p ON p.polrelid = r.coid
    UNION ALL
    SELECT r.obj, 'rule ' || quote_ident(w.rulename), pg_get_ruledef(w.oid)
    FROM rels r JOIN pg_rewrite w ON w.ev_class = r.coid AND w.rulename <> '_RETURN'

    -- types (enum, domain, composite) that are members themselves
    UNION ALL SELECT obj, 'type kind', typtype::text FROM types
    UNION ALL
    SELECT obj, 'enum labels',
           (SELECT string_agg(enumlabel::text, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = toid)
    FROM types WHERE typtype = 'e'
    UNION ALL
    SELECT obj, 'domain',
           format_type(typbasetype, typtypmod) || CASE WHEN typnotnull THEN ' NOT NULL' ELSE '' END
           || coalesce(' DEFAULT ' || typdefault, '')
    FROM types WHERE typtype = 'd'
    UNION ALL
    SELECT t.obj, 'domain constraint ' || quote_ident(k.conname), pg_get_constraintdef(k.oid)
    FROM types t JOIN pg_constraint k ON k.contypid = t.toid
)
SELECT obj, prop, v
FROM (SELECT obj, prop,
             replace(replace(coalesce(val, '<null>'), E'\\', E'\\\\'), E'\n', E'\\n') AS v
      FROM lines) AS l
ORDER BY obj COLLATE "C", prop COLLATE "C", v COLLATE "C";
