--
-- policy: the lifecycle table as the SQL surface shows it (states, flags,
-- allowed moves).  Pure functions: no table is read or written here.
--
\set SHOW_CONTEXT never
SET search_path = batchstate;
TRUNCATE batch, batch_state_membership;

-- the whole table, in the documented order
SELECT * FROM states();

-- is_valid_state / is_terminal / is_halted / is_cancellable for every state
SELECT s.state,
       is_valid_state(s.state) AS valid,
       is_terminal(s.state) AS terminal,
       is_halted(s.state) AS halted,
       is_cancellable(s.state) AS cancellable
FROM states() AS s;

-- the flag functions agree with states() row by row (no rows = agree)
SELECT s.state
FROM states() AS s
WHERE is_terminal(s.state) IS DISTINCT FROM s.terminal
   OR is_halted(s.state) IS DISTINCT FROM s.halted
   OR is_cancellable(s.state) IS DISTINCT FROM s.cancellable
   OR (s.state = ANY (conflict_states())) IS DISTINCT FROM s.conflict
   OR (s.state = ANY (cancellable_states())) IS DISTINCT FROM s.cancellable
   OR (s.state = ANY (active_states())) IS DISTINCT FROM s.active
   OR (s.state = ANY (non_terminal_states())) IS DISTINCT FROM NOT s.terminal;

-- creating is the one inert state: non-terminal, yet not active (so
-- list_active leaves it out), not halted, not a conflict state and not
-- cancellable; every other non-terminal state is active
SELECT state FROM states() WHERE NOT terminal AND NOT active;
SELECT state FROM states() WHERE terminal AND (active OR cancellable OR conflict);

-- names are exact: case, spaces and the empty string are not states
SELECT name, is_valid_state(name) AS valid
FROM (VALUES ('bogus'), ('Created'), ('created '), (' created'), ('')) AS t(name);

-- STRICT: NULL in, NULL out
SELECT is_valid_state(NULL) IS NULL AS valid_null,
       is_terminal(NULL) IS NULL AS terminal_null,
       is_halted(NULL) IS NULL AS halted_null,
       is_cancellable(NULL) IS NULL AS cancellable_null;

-- an unknown name is an error for the flag functions (the hint lists the states)
SELECT is_terminal('bogus');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT is_halted('Created');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT is_terminal('');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT is_cancellable('cancel');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- the derived lists, in table order
SELECT non_terminal_states();
SELECT active_states();
SELECT conflict_states();
SELECT cancellable_states();

-- can_transition: the full 9x9 matrix, x = allowed (rows: from, columns: to)
SELECT f.state AS "from \ to",
       string_agg(CASE WHEN can_transition(f.state, t.state) THEN 'x' ELSE '.' END,
                  '  ' ORDER BY t.n) AS "cg cr sc sp me ca su fa cl"
FROM states() WITH ORDINALITY AS f(state, terminal, halted, conflict, cancellable, active, n)
CROSS JOIN states() WITH ORDINALITY AS t(state, terminal, halted, conflict, cancellable, active, n)
GROUP BY f.state, f.n
ORDER BY f.n;

-- the same matrix as lists, to read against API.md ("may move to"; a
-- non-terminal state also moves to itself)
SELECT f.state AS from_state,
       coalesce(string_agg(t.state, ', ' ORDER BY t.n)
                FILTER (WHERE can_transition(f.state, t.state)), '(none)') AS may_move_to
FROM states() WITH ORDINALITY AS f(state, terminal, halted, conflict, cancellable, active, n)
CROSS JOIN states() WITH ORDINALITY AS t(state, terminal, halted, conflict, cancellable, active, n)
GROUP BY f.state, f.n
ORDER BY f.n;

-- nothing moves into creating but creating itself
SELECT state FROM states() WHERE can_transition(state, 'creating');

-- every state moves to itself exactly when it is non-terminal
SELECT s.state, can_transition(s.state, s.state) AS to_itself
FROM states() AS s;

-- STRICT: a NULL on either side gives NULL, even next to an unknown name
SELECT can_transition(NULL, 'created') IS NULL AS null_from,
       can_transition('created', NULL) IS NULL AS null_to,
       can_transition(NULL, NULL) IS NULL AS null_both,
       can_transition(NULL, 'bogus') IS NULL AS null_and_unknown;

-- an unknown name on either side is an error
SELECT can_transition('bogus', 'created');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT can_transition('created', 'bogus');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT can_transition('', 'failed');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
