-- evil.sql: a schema that shadows what batchstate's SQL could resolve through
-- search_path.  Callers put it first: SET search_path = evil, pg_catalog, batchstate.
--
-- * tables evil.batch and evil.batch_state_membership, with decoy rows that
--   carry the fixture's ids in other states (a read of them shows up in the
--   results; a write shows up in their md5);
-- * operators = <> < > <= >= for text, = <> for int4, float8, tid and text[],
--   @> for text[] and < for timestamptz:
--   their function counts the call in a sequence (nextval is not rolled
--   back, so even a call inside a subtransaction that is later rolled back
--   is counted) and raises;
-- * a collation evil."C" that sorts like ICU's root locale ('B' after 'a').
-- hostile_md5_evil() fingerprints the decoy tables.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS evil CASCADE;
CREATE SCHEMA evil;

CREATE SEQUENCE evil.shadow_calls;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
GRANT USAGE, SELECT, UPDATE ON SEQUENCE evil.shadow_calls TO PUBLIC;

CREATE TABLE evil.batch (LIKE batchstate.batch INCLUDING ALL);
CREATE TABLE evil.batch_state_membership
    (LIKE batchstate.batch_state_membership INCLUDING ALL);
GRANT ALL ON evil.batch, evil.batch_state_membership TO PUBLIC;
INSERT INTO evil.batch VALUES
    ('q1/b1', 'q1', '{evil}', '{}', 0.66, 'merging', 66),
    ('q1/B2', 'q1', '{evil}', '{}', 0.66, 'merging', 66),
    ('q1/evil', 'q1', '{evil}', '{}', 0.66, 'created', 66),
    ('q2/x', 'q2', '{evil}', '{}', 0.66, 'created', 66);
INSERT INTO evil.batch_state_membership VALUES
    ('q1', 'merging', 'q1/b1'),
    ('q1', 'merging', 'q1/B2'),
    ('q1', 'created', 'q1/evil'),
    ('q1', 'scored', 'q1/evil'),
    ('q1', 'succeeded', 'q1/evil'),
    ('q2', 'created', 'q2/x');

-- One function per operand type; every shadow operator calls one of them.
CREATE FUNCTION evil.trap_text(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('evil.shadow_calls');
    RAISE EXCEPTION 'evil text operator called on (%, %)', $1, $2;
END
$$;
CREATE FUNCTION evil.trap_int4(int4, int4) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('evil.shadow_calls');
    RAISE EXCEPTION 'evil int4 operator called on (%, %)', $1, $2;
END
$$;
CREATE FUNCTION evil.trap_float8(float8, float8) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('evil.shadow_calls');
    RAISE EXCEPTION 'evil float8 operator called on (%, %)', $1, $2;
END
$$;
CREATE FUNCTION evil.trap_tid(tid, tid) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('evil.shadow_calls');
    RAISE EXCEPTION 'evil tid operator called on (%, %)', $1, $2;
END
$$;
CREATE FUNCTION evil.trap_text_array(text[], text[]) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('evil.shadow_calls');
    RAISE EXCEPTION 'evil text[] operator called on (%, %)', $1, $2;
END
$$;

CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.trap_text);
CREATE OPERATOR evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.trap_text);
CREATE OPERATOR evil.< (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.trap_text);
CREATE OPERATOR evil.> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.trap_text);
CREATE OPERATOR evil.<= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.trap_text);
CREATE OPERATOR evil.>= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.trap_text);
CREATE OPERATOR evil.= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = evil.trap_int4);
CREATE OPERATOR evil.<> (LEFTARG = int4, RIGHTARG = int4, FUNCTION = evil.trap_int4);
CREATE OPERATOR evil.= (LEFTARG = float8, RIGHTARG = float8, FUNCTION = evil.trap_float8);
CREATE OPERATOR evil.<> (LEFTARG = float8, RIGHTARG = float8, FUNCTION = evil.trap_float8);
CREATE OPERATOR evil.= (LEFTARG = tid, RIGHTARG = tid, FUNCTION = evil.trap_tid);
CREATE OPERATOR evil.= (LEFTARG = text[], RIGHTARG = text[], FUNCTION = evil.trap_text_array);
CREATE OPERATOR evil.@> (LEFTARG = text[], RIGHTARG = text[], FUNCTION = evil.trap_text_array);
CREATE FUNCTION evil.trap_timestamptz(timestamptz, timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('evil.shadow_calls');
    RAISE EXCEPTION 'evil timestamptz operator called on (%, %)', $1, $2;
END
$$;
CREATE OPERATOR evil.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.trap_timestamptz);

-- ICU root collation: 'a' < 'B', where "C" has 'B' < 'a'
CREATE COLLATION evil."C" FROM pg_catalog."und-x-icu";

CREATE FUNCTION evil.md5_decoys() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT md5(
        (SELECT string_agg(b::text, '|' ORDER BY b::text COLLATE "C")
         FROM evil.batch b)
        || '#' ||
        (SELECT string_agg(m::text, '|' ORDER BY m::text COLLATE "C")
         FROM evil.batch_state_membership m))
$$;
