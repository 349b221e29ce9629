/*-------------------------------------------------------------------------
 * store.c
 *	  SPI over the two batchstate tables: one table of statements, each
 *	  written out whole, prepared once per backend and kept.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guard.h"
#include "store.h"

/*
 * The statements, by name.  Each text is the whole statement, as a reader
 * can paste it into psql after PREPARE.  "=" is spelled
 * OPERATOR(pg_catalog.=) and every table, function, aggregate and
 * collation is schema-qualified: a kept plan is re-analyzed under the
 * caller's search_path whenever that changes, so nothing may depend on it.
 */
typedef enum StoreStmt
{
	STMT_GET,
	STMT_LOCK,
	STMT_EXISTS,
	STMT_INSERT,
	STMT_INSERT_FILED,
	STMT_CAS,
	STMT_MOVE_FILE,
	STMT_MOVE_FILE_SCORE,
	STMT_MOVE_FILE_FIELDS,
	STMT_MOVE_END,
	STMT_MOVE_END_SCORE,
	STMT_MOVE_END_FIELDS,
	STMT_MOVE_SELF,
	STMT_MOVE_SELF_SCORE,
	STMT_MOVE_SELF_FIELDS,
	STMT_MEMBER_ADD,
	STMT_MEMBER_REMOVE,
	STMT_MEMBER_IDS,
	STMT_CANDIDATES,
	STMT_PRUNE,
	STMT_HOLDING_CONTAINS,
	STMT_HOLDING_DEPENDENCIES,
	STMT_STATE_COUNTS,
	STMT_STATE_COUNTS_ALL,
	STMT_FILED_BEFORE,
	STMT_DRIFT,
	STMT_COUNT
} StoreStmt;

/* The most arguments a statement takes (the move statements). */
#define MAX_ARGS 8

typedef struct StoreStmtDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[MAX_ARGS];
	GuardLevel	guard;			/* how its planning is guarded (guard.h) */
} StoreStmtDef;

/*
 * The arguments every move statement takes, whichever it uses: $1 id,
 * $2 old version, $3 new version, $4 new state, $5 score, $6 the state the
 * batch is moving from, $7 contains, $8 dependencies.  A membership row
 * records the time it is filed in "since", by the column's default.
 */
#define MOVE_ARGS 8, {TEXTOID, INT4OID, INT4OID, TEXTOID, FLOAT8OID, TEXTOID, \
		TEXTARRAYOID, TEXTARRAYOID}

/*
 * The arguments of both inserts: the row's seven columns, then the state to
 * file it under.
 */
#define INSERT_ARGS 8, {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, \
		FLOAT8OID, TEXTOID, INT4OID, TEXTOID}

static const StoreStmtDef stmt_defs[STMT_COUNT] = {
	[STMT_GET] = {
		"SELECT id, queue, contains, dependencies, score, state, version"
		" FROM batchstate.batch"
		" WHERE id OPERATOR(pg_catalog.=) $1",
		1, {TEXTOID}, GUARD_KEY_SCANS
	},
	[STMT_LOCK] = {
		"SELECT queue, state, version"
		" FROM batchstate.batch"
		" WHERE id OPERATOR(pg_catalog.=) $1"
		" FOR NO KEY UPDATE",
		1, {TEXTOID}, GUARD_KEY_SCANS
	},
	[STMT_EXISTS] = {
		"SELECT 1 FROM batchstate.batch WHERE id OPERATOR(pg_catalog.=) $1",
		1, {TEXTOID}, GUARD_KEY_SCANS
	},

	/*
	 * A create.  The batch row's insert is plain: a taken id fails the
	 * primary key's own unique check (ON CONFLICT would add a probe and a
	 * speculative insertion to every create, and the call fails either
	 * way), which store_batch_insert turns into the caller's error.
	 * STMT_INSERT leaves $8 unused.
	 */
	[STMT_INSERT] = {
		"INSERT INTO batchstate.batch"
		" (id, queue, contains, dependencies, score, state, version)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7)",
		INSERT_ARGS, GUARD_KEY_SCANS
	},

	/*
	 * A create that also files the membership row under $8, in a CTE: an
	 * unreferenced data-modifying CTE runs when the main statement has
	 * finished, so after the batch row's insert.
	 */
	[STMT_INSERT_FILED] = {
		"WITH m AS ("
		"  INSERT INTO batchstate.batch_state_membership (queue, state, batch_id)"
		"  VALUES ($2, $8, $1)"
		"  ON CONFLICT DO NOTHING)"
		" INSERT INTO batchstate.batch"
		" (id, queue, contains, dependencies, score, state, version)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7)",
		INSERT_ARGS, GUARD_KEY_SCANS
	},

	/* The storage primitives' compare-and-set; $5 NULL keeps the score. */
	[STMT_CAS] = {
		"UPDATE batchstate.batch"
		" SET state = $4, version = $3, score = COALESCE($5, score)"
		" WHERE id OPERATOR(pg_catalog.=) $1"
		" AND version OPERATOR(pg_catalog.=) $2",
		5, {TEXTOID, INT4OID, INT4OID, TEXTOID, FLOAT8OID}, GUARD_KEY_SCANS
	},

	/*
	 * The moves.  Each is one statement: the UPDATE of the batch row, which
	 * compare-and-sets its version and the state it moves from ($6), so a
	 * row that changed while the statement waited for its lock is judged
	 * on its newest version; then, keyed by the queue the UPDATE returns
	 * (an InitPlan parameter, so the DELETE's scan has the whole key), the
	 * removal of the membership row under $6 and the filing of one under
	 * the new state.  It returns the queue and whether a row was removed
	 * (EXISTS, not count(*), whose aggregate node is 5% of the work).
	 *
	 * Three kinds: FILE removes and files (a move into another non-terminal
	 * state), END only removes (into a terminal state), SELF only files
	 * again (into the same state: a version bump, which also repairs a
	 * missing row).  Three sets of fields: the state alone
	 * (update_state), with a new score (update_score_and_state), or with
	 * any of score, contains and dependencies, NULL keeping the batch's
	 * value (update_batch).  So no statement carries a clause that its
	 * calls do not need, and an update_state never rewrites the arrays: it
	 * stays a HOT update.
	 */
	[STMT_MOVE_FILE] = {
		"WITH u AS ("
		"  UPDATE batchstate.batch SET state = $4, version = $3"
		"  WHERE id OPERATOR(pg_catalog.=) $1"
		"  AND version OPERATOR(pg_catalog.=) $2"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  RETURNING queue),"
		" d AS ("
		"  DELETE FROM batchstate.batch_state_membership"
		"  WHERE queue OPERATOR(pg_catalog.=) (SELECT queue FROM u)"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  AND batch_id OPERATOR(pg_catalog.=) $1"
		"  RETURNING 1),"
		" a AS ("
		"  INSERT INTO batchstate.batch_state_membership (queue, state, batch_id)"
		"  SELECT queue, $4, $1 FROM u"
		"  ON CONFLICT DO NOTHING)"
		" SELECT queue, EXISTS (SELECT 1 FROM d) FROM u",
		MOVE_ARGS, GUARD_KEY_SCANS
	},
	[STMT_MOVE_FILE_SCORE] = {
		"WITH u AS ("
		"  UPDATE batchstate.batch SET state = $4, version = $3, score = $5"
		"  WHERE id OPERATOR(pg_catalog.=) $1"
		"  AND version OPERATOR(pg_catalog.=) $2"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  RETURNING queue),"
		" d AS ("
		"  DELETE FROM batchstate.batch_state_membership"
		"  WHERE queue OPERATOR(pg_catalog.=) (SELECT queue FROM u)"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  AND batch_id OPERATOR(pg_catalog.=) $1"
		"  RETURNING 1),"
		" a AS ("
		"  INSERT INTO batchstate.batch_state_membership (queue, state, batch_id)"
		"  SELECT queue, $4, $1 FROM u"
		"  ON CONFLICT DO NOTHING)"
		" SELECT queue, EXISTS (SELECT 1 FROM d) FROM u",
		MOVE_ARGS, GUARD_KEY_SCANS
	},
	[STMT_MOVE_FILE_FIELDS] = {
		"WITH u AS ("
		"  UPDATE batchstate.batch SET state = $4, version = $3,"
		"  score = COALESCE($5, score), contains = COALESCE($7, contains),"
		"  dependencies = COALESCE($8, dependencies)"
		"  WHERE id OPERATOR(pg_catalog.=) $1"
		"  AND version OPERATOR(pg_catalog.=) $2"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  RETURNING queue),"
		" d AS ("
		"  DELETE FROM batchstate.batch_state_membership"
		"  WHERE queue OPERATOR(pg_catalog.=) (SELECT queue FROM u)"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  AND batch_id OPERATOR(pg_catalog.=) $1"
		"  RETURNING 1),"
		" a AS ("
		"  INSERT INTO batchstate.batch_state_membership (queue, state, batch_id)"
		"  SELECT queue, $4, $1 FROM u"
		"  ON CONFLICT DO NOTHING)"
		" SELECT queue, EXISTS (SELECT 1 FROM d) FROM u",
		MOVE_ARGS, GUARD_KEY_SCANS
	},
	[STMT_MOVE_END] = {
		"WITH u AS ("
		"  UPDATE batchstate.batch SET state = $4, version = $3"
		"  WHERE id OPERATOR(pg_catalog.=) $1"
		"  AND version OPERATOR(pg_catalog.=) $2"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  RETURNING queue),"
		" d AS ("
		"  DELETE FROM batchstate.batch_state_membership"
		"  WHERE queue OPERATOR(pg_catalog.=) (SELECT queue FROM u)"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  AND batch_id OPERATOR(pg_catalog.=) $1"
		"  RETURNING 1)"
		" SELECT queue, EXISTS (SELECT 1 FROM d) FROM u",
		MOVE_ARGS, GUARD_KEY_SCANS
	},
	[STMT_MOVE_END_SCORE] = {
		"WITH u AS ("
		"  UPDATE batchstate.batch SET state = $4, version = $3, score = $5"
		"  WHERE id OPERATOR(pg_catalog.=) $1"
		"  AND version OPERATOR(pg_catalog.=) $2"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  RETURNING queue),"
		" d AS ("
		"  DELETE FROM batchstate.batch_state_membership"
		"  WHERE queue OPERATOR(pg_catalog.=) (SELECT queue FROM u)"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  AND batch_id OPERATOR(pg_catalog.=) $1"
		"  RETURNING 1)"
		" SELECT queue, EXISTS (SELECT 1 FROM d) FROM u",
		MOVE_ARGS, GUARD_KEY_SCANS
	},
	[STMT_MOVE_END_FIELDS] = {
		"WITH u AS ("
		"  UPDATE batchstate.batch SET state = $4, version = $3,"
		"  score = COALESCE($5, score), contains = COALESCE($7, contains),"
		"  dependencies = COALESCE($8, dependencies)"
		"  WHERE id OPERATOR(pg_catalog.=) $1"
		"  AND version OPERATOR(pg_catalog.=) $2"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  RETURNING queue),"
		" d AS ("
		"  DELETE FROM batchstate.batch_state_membership"
		"  WHERE queue OPERATOR(pg_catalog.=) (SELECT queue FROM u)"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  AND batch_id OPERATOR(pg_catalog.=) $1"
		"  RETURNING 1)"
		" SELECT queue, EXISTS (SELECT 1 FROM d) FROM u",
		MOVE_ARGS, GUARD_KEY_SCANS
	},
	[STMT_MOVE_SELF] = {
		"WITH u AS ("
		"  UPDATE batchstate.batch SET state = $4, version = $3"
		"  WHERE id OPERATOR(pg_catalog.=) $1"
		"  AND version OPERATOR(pg_catalog.=) $2"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  RETURNING queue),"
		" a AS ("
		"  INSERT INTO batchstate.batch_state_membership (queue, state, batch_id)"
		"  SELECT queue, $4, $1 FROM u"
		"  ON CONFLICT DO NOTHING)"
		" SELECT queue, false FROM u",
		MOVE_ARGS, GUARD_KEY_SCANS
	},
	[STMT_MOVE_SELF_SCORE] = {
		"WITH u AS ("
		"  UPDATE batchstate.batch SET state = $4, version = $3, score = $5"
		"  WHERE id OPERATOR(pg_catalog.=) $1"
		"  AND version OPERATOR(pg_catalog.=) $2"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  RETURNING queue),"
		" a AS ("
		"  INSERT INTO batchstate.batch_state_membership (queue, state, batch_id)"
		"  SELECT queue, $4, $1 FROM u"
		"  ON CONFLICT DO NOTHING)"
		" SELECT queue, false FROM u",
		MOVE_ARGS, GUARD_KEY_SCANS
	},
	[STMT_MOVE_SELF_FIELDS] = {
		"WITH u AS ("
		"  UPDATE batchstate.batch SET state = $4, version = $3,"
		"  score = COALESCE($5, score), contains = COALESCE($7, contains),"
		"  dependencies = COALESCE($8, dependencies)"
		"  WHERE id OPERATOR(pg_catalog.=) $1"
		"  AND version OPERATOR(pg_catalog.=) $2"
		"  AND state OPERATOR(pg_catalog.=) $6"
		"  RETURNING queue),"
		" a AS ("
		"  INSERT INTO batchstate.batch_state_membership (queue, state, batch_id)"
		"  SELECT queue, $4, $1 FROM u"
		"  ON CONFLICT DO NOTHING)"
		" SELECT queue, false FROM u",
		MOVE_ARGS, GUARD_KEY_SCANS
	},

	[STMT_MEMBER_ADD] = {
		"INSERT INTO batchstate.batch_state_membership (queue, state, batch_id)"
		" VALUES ($1, $2, $3)"
		" ON CONFLICT DO NOTHING",
		3, {TEXTOID, TEXTOID, TEXTOID}, GUARD_KEY_SCANS
	},
	[STMT_MEMBER_REMOVE] = {
		"DELETE FROM batchstate.batch_state_membership"
		" WHERE queue OPERATOR(pg_catalog.=) $1"
		" AND state OPERATOR(pg_catalog.=) $2"
		" AND batch_id OPERATOR(pg_catalog.=) $3",
		3, {TEXTOID, TEXTOID, TEXTOID}, GUARD_KEY_SCANS
	},
	[STMT_MEMBER_IDS] = {
		"SELECT batch_id FROM batchstate.batch_state_membership"
		" WHERE queue OPERATOR(pg_catalog.=) $1"
		" AND state OPERATOR(pg_catalog.=) $2"
		" ORDER BY batch_id COLLATE pg_catalog.\"C\"",
		2, {TEXTOID, TEXTOID}, GUARD_KEY_SCANS
	},

	/*
	 * $1 queue, $2 states listed, $3 further batch states of interest.
	 * Columns: the batch row, then the row's state and whether it is the
	 * batch's.  The batch lookup is a LATERAL subquery that cannot be
	 * flattened (OFFSET 0): one probe by id per membership row (through the
	 * hash index on batch ids), never a join that reads a whole index.
	 */
	[STMT_CANDIDATES] = {
		"SELECT b.id, b.queue, b.contains, b.dependencies, b.score, b.state,"
		" b.version, m.state, b.state OPERATOR(pg_catalog.=) m.state"
		" FROM batchstate.batch_state_membership AS m,"
		" LATERAL (SELECT id, queue, contains, dependencies, score, state, version"
		"  FROM batchstate.batch"
		"  WHERE id OPERATOR(pg_catalog.=) m.batch_id"
		"  AND queue OPERATOR(pg_catalog.=) $1"
		"  AND (state OPERATOR(pg_catalog.=) m.state"
		"  OR state OPERATOR(pg_catalog.=) ANY ($3))"
		"  OFFSET 0) AS b"
		" WHERE m.queue OPERATOR(pg_catalog.=) $1"
		" AND m.state OPERATOR(pg_catalog.=) ANY ($2)"
		" ORDER BY b.id COLLATE pg_catalog.\"C\"",
		3, {TEXTOID, TEXTARRAYOID, TEXTARRAYOID}, GUARD_KEY_SCANS
	},

	/*
	 * $1 queue, $2 state, $3 batch id, $4 batch states that allow removal.
	 * Both the membership row and the batch row are locked, SKIP LOCKED: a
	 * row someone else holds is left for later, and the batch's state is
	 * judged on its newest version, which nobody can change until commit.
	 */
	[STMT_PRUNE] = {
		"DELETE FROM batchstate.batch_state_membership"
		" WHERE ctid OPERATOR(pg_catalog.=) ("
		"  SELECT m.ctid FROM batchstate.batch_state_membership AS m"
		"  WHERE m.queue OPERATOR(pg_catalog.=) $1"
		"  AND m.state OPERATOR(pg_catalog.=) $2"
		"  AND m.batch_id OPERATOR(pg_catalog.=) $3"
		"  FOR UPDATE SKIP LOCKED)"
		" AND EXISTS ("
		"  SELECT 1 FROM batchstate.batch AS b"
		"  WHERE b.id OPERATOR(pg_catalog.=) $3"
		"  AND b.queue OPERATOR(pg_catalog.=) $1"
		"  AND b.state OPERATOR(pg_catalog.=) ANY ($4)"
		"  FOR SHARE SKIP LOCKED)",
		4, {TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID}, GUARD_KEY_SCANS
	},

	/*
	 * $1 queue, $2 the element (a one-element text[]), $3 states (NULL:
	 * any).  "@>" is answered by the GIN index over both arrays.
	 */
	[STMT_HOLDING_CONTAINS] = {
		"SELECT id, queue, contains, dependencies, score, state, version"
		" FROM batchstate.batch"
		" WHERE contains OPERATOR(pg_catalog.@>) $2"
		" AND queue OPERATOR(pg_catalog.=) $1"
		" AND ($3 IS NULL OR state OPERATOR(pg_catalog.=) ANY ($3))"
		" ORDER BY id COLLATE pg_catalog.\"C\"",
		3, {TEXTOID, TEXTARRAYOID, TEXTARRAYOID}, GUARD_INDEX_SCANS
	},
	[STMT_HOLDING_DEPENDENCIES] = {
		"SELECT id, queue, contains, dependencies, score, state, version"
		" FROM batchstate.batch"
		" WHERE dependencies OPERATOR(pg_catalog.@>) $2"
		" AND queue OPERATOR(pg_catalog.=) $1"
		" AND ($3 IS NULL OR state OPERATOR(pg_catalog.=) ANY ($3))"
		" ORDER BY id COLLATE pg_catalog.\"C\"",
		3, {TEXTOID, TEXTARRAYOID, TEXTARRAYOID}, GUARD_INDEX_SCANS
	},

	/*
	 * $1 queue, $2 states.  Membership rows resolved as STMT_CANDIDATES
	 * resolves them, counted per state with the oldest "since".
	 */
	[STMT_STATE_COUNTS] = {
		"SELECT m.queue, m.state, pg_catalog.count(*), pg_catalog.min(m.since)"
		" FROM batchstate.batch_state_membership AS m,"
		" LATERAL (SELECT 1 FROM batchstate.batch"
		"  WHERE id OPERATOR(pg_catalog.=) m.batch_id"
		"  AND queue OPERATOR(pg_catalog.=) m.queue"
		"  AND state OPERATOR(pg_catalog.=) m.state"
		"  OFFSET 0) AS b"
		" WHERE m.queue OPERATOR(pg_catalog.=) $1"
		" AND m.state OPERATOR(pg_catalog.=) ANY ($2)"
		" GROUP BY m.queue, m.state",
		2, {TEXTOID, TEXTARRAYOID}, GUARD_KEY_SCANS
	},

	/* $1 states; every queue, so whole-table plans are fine here. */
	[STMT_STATE_COUNTS_ALL] = {
		"SELECT m.queue, m.state, pg_catalog.count(*), pg_catalog.min(m.since)"
		" FROM batchstate.batch_state_membership AS m"
		" JOIN batchstate.batch AS b"
		" ON b.id OPERATOR(pg_catalog.=) m.batch_id"
		" AND b.queue OPERATOR(pg_catalog.=) m.queue"
		" AND b.state OPERATOR(pg_catalog.=) m.state"
		" WHERE m.state OPERATOR(pg_catalog.=) ANY ($1)"
		" GROUP BY m.queue, m.state"
		" ORDER BY m.queue COLLATE pg_catalog.\"C\"",
		1, {TEXTARRAYOID}, GUARD_NONE
	},

	/* $1 queue, $2 states, $3 the cutoff. */
	[STMT_FILED_BEFORE] = {
		"SELECT b.id, b.queue, b.contains, b.dependencies, b.score, b.state,"
		" b.version"
		" FROM batchstate.batch_state_membership AS m,"
		" LATERAL (SELECT id, queue, contains, dependencies, score, state, version"
		"  FROM batchstate.batch"
		"  WHERE id OPERATOR(pg_catalog.=) m.batch_id"
		"  AND queue OPERATOR(pg_catalog.=) m.queue"
		"  AND state OPERATOR(pg_catalog.=) m.state"
		"  OFFSET 0) AS b"
		" WHERE m.queue OPERATOR(pg_catalog.=) $1"
		" AND m.state OPERATOR(pg_catalog.=) ANY ($2)"
		" AND m.since OPERATOR(pg_catalog.<) $3"
		" ORDER BY m.since, b.id COLLATE pg_catalog.\"C\"",
		3, {TEXTOID, TEXTARRAYOID, TIMESTAMPTZOID}, GUARD_KEY_SCANS
	},

	/*
	 * $1 queue (NULL: all), $2 states that admit a membership row.  Column
	 * 1 is the StoreDrift kind.  Whole-table scans are fine here.
	 */
	[STMT_DRIFT] = {
		"SELECT d.kind, d.queue, d.state, d.batch_id FROM ("
		"  SELECT 0 AS kind, b.queue, b.state, b.id AS batch_id"
		"  FROM batchstate.batch AS b"
		"  WHERE ($1 IS NULL OR b.queue OPERATOR(pg_catalog.=) $1)"
		"  AND b.state OPERATOR(pg_catalog.=) ANY ($2)"
		"  AND NOT EXISTS ("
		"   SELECT 1 FROM batchstate.batch_state_membership AS m"
		"   WHERE m.queue OPERATOR(pg_catalog.=) b.queue"
		"   AND m.state OPERATOR(pg_catalog.=) b.state"
		"   AND m.batch_id OPERATOR(pg_catalog.=) b.id)"
		"  UNION ALL"
		"  SELECT CASE WHEN b.id IS NULL OR b.queue OPERATOR(pg_catalog.<>) m.queue"
		"   THEN 2 ELSE 1 END, m.queue, m.state, m.batch_id"
		"  FROM batchstate.batch_state_membership AS m"
		"  LEFT JOIN batchstate.batch AS b ON b.id OPERATOR(pg_catalog.=) m.batch_id"
		"  WHERE ($1 IS NULL OR m.queue OPERATOR(pg_catalog.=) $1)"
		"  AND (b.id IS NULL OR b.queue OPERATOR(pg_catalog.<>) m.queue"
		"   OR b.state OPERATOR(pg_catalog.<>) m.state"
		"   OR NOT (b.state OPERATOR(pg_catalog.=) ANY ($2)))"
		" ) AS d"
		" ORDER BY d.queue COLLATE pg_catalog.\"C\", d.batch_id COLLATE pg_catalog.\"C\","
		" d.state COLLATE pg_catalog.\"C\", d.kind",
		2, {TEXTOID, TEXTARRAYOID}, GUARD_NONE
	},
};

/*
 * The move statement for each kind of move and set of fields; see the
 * comment on STMT_MOVE_FILE.
 */
typedef enum MoveSet
{
	MOVE_SETS_STATE,			/* the state alone */
	MOVE_SETS_SCORE,			/* and the score */
	MOVE_SETS_FIELDS,			/* and any of score, contains, dependencies */
	MOVE_SETS_COUNT
} MoveSet;

static const StoreStmt move_stmts[][MOVE_SETS_COUNT] = {
	[STORE_MOVE_FILE] = {STMT_MOVE_FILE, STMT_MOVE_FILE_SCORE, STMT_MOVE_FILE_FIELDS},
	[STORE_MOVE_END] = {STMT_MOVE_END, STMT_MOVE_END_SCORE, STMT_MOVE_END_FIELDS},
	[STORE_MOVE_SELF] = {STMT_MOVE_SELF, STMT_MOVE_SELF_SCORE, STMT_MOVE_SELF_FIELDS},
};

static SPIPlanPtr plans[STMT_COUNT];

/* The arguments of one execution: values and SPI's map of NULLs. */
typedef struct StoreArgs
{
	int			n;
	Datum		values[MAX_ARGS];
	char		nulls[MAX_ARGS];	/* ' ' for a value, 'n' for a NULL */
} StoreArgs;

/* Append a value to *args. */
static void
add_arg(StoreArgs *args, Datum value)
{
	Assert(args->n < MAX_ARGS);
	args->values[args->n] = value;
	args->nulls[args->n] = ' ';
	args->n++;
}

/* Append a pointer value to *args, or a NULL when it is NULL. */
static void
add_arg_or_null(StoreArgs *args, void *value)
{
	add_arg(args, PointerGetDatum(value));
	if (value == NULL)
		args->nulls[args->n - 1] = 'n';
}

/* Append a float8 to *args, or a NULL when value is NULL. */
static void
add_float_or_null(StoreArgs *args, const double *value)
{
	add_arg(args, value ? Float8GetDatum(*value) : (Datum) 0);
	if (value == NULL)
		args->nulls[args->n - 1] = 'n';
}

/* Connect to SPI for the operations that follow. */
void
store_open(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

/* Disconnect from SPI; what SPI memory held is freed. */
void
store_close(void)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/* The kept plan of statement "which", prepared on first use. */
static SPIPlanPtr
get_plan(StoreStmt which)
{
	if (plans[which] == NULL)
	{
		const StoreStmtDef *def = &stmt_defs[which];
		SPIPlanPtr	plan;

		/*
		 * Guarded statements reach their rows by key whatever the arguments,
		 * so one generic plan serves every call: planning once per backend
		 * instead of once per call (plan_cache_mode can still override).
		 */
		plan = SPI_prepare_cursor(def->sql, def->nargs, (Oid *) def->argtypes,
								  def->guard != GUARD_NONE
								  ? CURSOR_OPT_GENERIC_PLAN : 0);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 def->sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		plans[which] = plan;
	}
	return plans[which];
}

/*
 * Execute statement "which" with *args, or with portal not NULL open a
 * cursor on it into *portal, with the planner guard armed for its own
 * planning, if this execution plans it (and for nothing else it plans).
 * Returns the SPI result code of an execution.
 */
static int
start(StoreStmt which, const StoreArgs *args, bool read_only, Portal *portal)
{
	SPIPlanPtr volatile plan = get_plan(which);
	volatile int rc = 0;

	if (args->n != stmt_defs[which].nargs)
		elog(ERROR, "batchstate statement %d takes %d arguments, not %d",
			 (int) which, stmt_defs[which].nargs, args->n);
	guard_arm(stmt_defs[which].guard, stmt_defs[which].sql);
	PG_TRY();
	{
		if (portal)
			*portal = SPI_cursor_open(NULL, plan, (Datum *) args->values,
									  args->nulls, read_only);
		else
			rc = SPI_execute_plan(plan, (Datum *) args->values, args->nulls,
								  read_only, 0);
	}
	PG_FINALLY();
	{
		guard_disarm();
	}
	PG_END_TRY();
	return rc;
}

/*
 * Execute one statement and check its result code; returns SPI_processed.
 */
static uint64
run(StoreStmt which, const StoreArgs *args, bool read_only, int expected_rc)
{
	int			rc = start(which, args, read_only, NULL);

	if (rc != expected_rc)
		elog(ERROR, "SPI_execute_plan failed for \"%s\": %s",
			 stmt_defs[which].sql, SPI_result_code_string(rc));
	return SPI_processed;
}

/* Column "col" (1-based) of row "row" of the last result, never NULL. */
static Datum
column_not_null(uint64 row, int col)
{
	bool		isnull;
	Datum		value = SPI_getbinval(SPI_tuptable->vals[row],
									  SPI_tuptable->tupdesc, col, &isnull);

	if (isnull)
		elog(ERROR, "unexpected null in column %d of a batchstate result", col);
	return value;
}

/* The most columns a statement here returns (STMT_CANDIDATES). */
#define MAX_COLUMNS 9

/*
 * Every column of row "row" of the last result into values, none NULL: one
 * pass over the tuple (SPI_getbinval per column would walk it from the
 * start for every column after the first variable-length one).
 */
static void
row_values(uint64 row, Datum *values)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		nulls[MAX_COLUMNS];

	if (desc->natts > MAX_COLUMNS)
		elog(ERROR, "a batchstate result has %d columns, more than %d",
			 desc->natts, MAX_COLUMNS);
	heap_deform_tuple(SPI_tuptable->vals[row], desc, values, nulls);
	for (int i = 0; i < desc->natts; i++)
	{
		if (nulls[i])
			elog(ERROR, "unexpected null in column %d of a batchstate result",
				 i + 1);
	}
}

/*
 * A text (packed) or array (aligned) value, detoasted; with copy_out copied
 * into the context that was current at store_open().
 */
static Datum
varlena_value(Datum datum, bool is_array, bool copy_out)
{
	struct varlena *value = (struct varlena *) DatumGetPointer(datum);

	value = is_array ? pg_detoast_datum(value) : pg_detoast_datum_packed(value);
	if (copy_out)
		return SPI_datumTransfer(PointerGetDatum(value), false, -1);
	return PointerGetDatum(value);
}

/* Column "col" of row "row" as varlena_value; for a row of few columns. */
static Datum
varlena_column(uint64 row, int col, bool is_array, bool copy_out)
{
	return varlena_value(column_not_null(row, col), is_array, copy_out);
}

/* Decode the 7 batch columns starting at values[0] into *out. */
static void
decode_batch(const Datum *values, bool copy_out, BatchRow *out)
{
	out->id = (text *) DatumGetPointer(varlena_value(values[0], false, copy_out));
	out->queue = (text *) DatumGetPointer(varlena_value(values[1], false, copy_out));
	out->contains = (ArrayType *) DatumGetPointer(varlena_value(values[2], true, copy_out));
	out->dependencies = (ArrayType *) DatumGetPointer(varlena_value(values[3], true, copy_out));
	out->score = DatumGetFloat8(values[4]);
	out->state = (text *) DatumGetPointer(varlena_value(values[5], false, copy_out));
	out->version = DatumGetInt32(values[6]);
}

/* Read batch "id", copied out; false if there is none. */
bool
store_batch_get(text *id, BatchRow *row)
{
	StoreArgs	args = {0};
	Datum		columns[MAX_COLUMNS];

	add_arg(&args, PointerGetDatum(id));
	if (run(STMT_GET, &args, true, SPI_OK_SELECT) == 0)
		return false;
	row_values(0, columns);
	decode_batch(columns, true, row);
	return true;
}

/* Lock batch "id" and read its head; false if there is none. */
bool
store_batch_lock(text *id, BatchHead *head)
{
	StoreArgs	args = {0};

	add_arg(&args, PointerGetDatum(id));
	if (run(STMT_LOCK, &args, false, SPI_OK_SELECT) == 0)
		return false;
	head->queue = (text *) DatumGetPointer(varlena_column(0, 1, false, false));
	head->state = (text *) DatumGetPointer(varlena_column(0, 2, false, false));
	head->version = DatumGetInt32(column_not_null(0, 3));
	return true;
}

/* Whether batch "id" exists. */
bool
store_batch_exists(text *id)
{
	StoreArgs	args = {0};

	add_arg(&args, PointerGetDatum(id));
	return run(STMT_EXISTS, &args, true, SPI_OK_SELECT) > 0;
}

/*
 * Is "edata" the unique violation of batchstate.batch's primary key?  Only
 * the error's own fields are read: no catalog access while handling it.
 */
static bool
is_batch_id_taken(const ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION &&
		edata->schema_name && strcmp(edata->schema_name, "batchstate") == 0 &&
		edata->table_name && strcmp(edata->table_name, "batch") == 0 &&
		edata->constraint_name && strcmp(edata->constraint_name, "batch_pkey") == 0;
}

/* Insert *row (filed under member_state); a taken id raises taken(id). */
void
store_batch_insert(const BatchRow *row, text *member_state,
				   StoreReportFn taken)
{
	MemoryContext cxt = CurrentMemoryContext;
	StoreArgs	args = {0};

	add_arg(&args, PointerGetDatum(row->id));
	add_arg(&args, PointerGetDatum(row->queue));
	add_arg(&args, PointerGetDatum(row->contains));
	add_arg(&args, PointerGetDatum(row->dependencies));
	add_arg(&args, Float8GetDatum(row->score));
	add_arg(&args, PointerGetDatum(row->state));
	add_arg(&args, Int32GetDatum(row->version));
	add_arg_or_null(&args, member_state);

	/*
	 * The error recovery below does not recover: the statement failed, so
	 * the transaction (or the caller's subtransaction) is going to roll
	 * back, and nothing runs in it before then.  It only chooses the error
	 * that rolls it back: the same one (PG_RE_THROW), or for the primary
	 * key's unique violation the caller's clearer one, raised after the
	 * error stack has been emptied.  The copy of the error is freed on both
	 * paths.  (A subtransaction would be needed to go on after the error;
	 * nothing goes on.)
	 */
	PG_TRY();
	{
		run(member_state ? STMT_INSERT_FILED : STMT_INSERT, &args, false,
			SPI_OK_INSERT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		bool		ours;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		ours = is_batch_id_taken(edata);
		FreeErrorData(edata);
		if (!ours)
			PG_RE_THROW();
		FlushErrorState();
		taken(row->id);
		elog(ERROR, "batch id taken, but no error was raised for it");
	}
	PG_END_TRY();
}

/* The storage primitives' compare-and-set; true when the row was written. */
bool
store_batch_cas(text *id, int32 old_version, int32 new_version,
				text *new_state, const double *score)
{
	StoreArgs	args = {0};

	add_arg(&args, PointerGetDatum(id));
	add_arg(&args, Int32GetDatum(old_version));
	add_arg(&args, Int32GetDatum(new_version));
	add_arg(&args, PointerGetDatum(new_state));
	add_float_or_null(&args, score);
	return run(STMT_CAS, &args, false, SPI_OK_UPDATE) > 0;
}

/* One move in one statement; true when the batch row was written. */
bool
store_batch_move(text *id, int32 old_version, int32 new_version,
				 text *new_state, const MoveFields *fields, text *from_state,
				 StoreMove kind, text **queue, bool *removed)
{
	StoreArgs	args = {0};
	MoveSet		set;

	if (fields->contains || fields->dependencies)
		set = MOVE_SETS_FIELDS;
	else if (fields->score)
		set = MOVE_SETS_SCORE;
	else
		set = MOVE_SETS_STATE;

	add_arg(&args, PointerGetDatum(id));
	add_arg(&args, Int32GetDatum(old_version));
	add_arg(&args, Int32GetDatum(new_version));
	add_arg(&args, PointerGetDatum(new_state));
	add_float_or_null(&args, fields->score);
	add_arg(&args, PointerGetDatum(from_state));
	add_arg_or_null(&args, fields->contains);
	add_arg_or_null(&args, fields->dependencies);

	if (run(move_stmts[kind][set], &args, false, SPI_OK_SELECT) == 0)
		return false;
	*queue = (text *) DatumGetPointer(varlena_column(0, 1, false, false));
	*removed = DatumGetBool(column_not_null(0, 2));
	return true;
}

/* The three key columns of a membership row as arguments. */
static void
membership_key_args(StoreArgs *args, text *queue, text *state, text *batch_id)
{
	add_arg(args, PointerGetDatum(queue));
	add_arg(args, PointerGetDatum(state));
	add_arg(args, PointerGetDatum(batch_id));
}

/* File a membership row; true when it was not there. */
bool
store_membership_add(text *queue, text *state, text *batch_id)
{
	StoreArgs	args = {0};

	membership_key_args(&args, queue, state, batch_id);
	return run(STMT_MEMBER_ADD, &args, false, SPI_OK_INSERT) > 0;
}

/* Remove a membership row; true when it was there. */
bool
store_membership_remove(text *queue, text *state, text *batch_id)
{
	StoreArgs	args = {0};

	membership_key_args(&args, queue, state, batch_id);
	return run(STMT_MEMBER_REMOVE, &args, false, SPI_OK_DELETE) > 0;
}

/*
 * Rows of a statement are read through a cursor, FETCH_ROWS at a time, each
 * chunk freed before the next: a list of a million rows never holds them
 * all, here or anywhere (the caller's tuplestore spills to disk).
 */
#define FETCH_ROWS 1000

typedef void (*row_fn) (void *arg, uint64 row);

/* Call fn for every result row of a SELECT statement, in order. */
static void
for_each_row(StoreStmt which, const StoreArgs *args, bool read_only,
			 row_fn fn, void *arg)
{
	Portal		portal = NULL;
	MemoryContext rowcxt;

	start(which, args, read_only, &portal);
	if (portal == NULL)
		elog(ERROR, "SPI_cursor_open failed for \"%s\": %s",
			 stmt_defs[which].sql, SPI_result_code_string(SPI_result));

	/* what decoding a row allocates (detoasted values) dies with the row */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "batchstate row",
								   ALLOCSET_SMALL_SIZES);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(rowcxt);

			fn(arg, i);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_freetuptable(SPI_tuptable);
	SPI_cursor_close(portal);
	MemoryContextDelete(rowcxt);
}

typedef struct IdsState
{
	store_id_fn fn;
	void	   *arg;
} IdsState;

/* Pass row "row"'s batch id on. */
static void
ids_row(void *arg, uint64 row)
{
	IdsState   *st = (IdsState *) arg;

	st->fn(st->arg, DatumGetTextPP(column_not_null(row, 1)));
}

/* The ids filed under (queue, state), in byte order. */
void
store_membership_ids(text *queue, text *state, store_id_fn fn, void *arg)
{
	StoreArgs	args = {0};
	IdsState	st = {fn, arg};

	add_arg(&args, PointerGetDatum(queue));
	add_arg(&args, PointerGetDatum(state));
	for_each_row(STMT_MEMBER_IDS, &args, true, ids_row, &st);
}

typedef struct CandidatesState
{
	store_candidate_fn fn;
	void	   *arg;
} CandidatesState;

/* Pass row "i" on as a batch, the row's state and whether it is current. */
static void
candidates_row(void *arg, uint64 i)
{
	CandidatesState *st = (CandidatesState *) arg;
	Datum		columns[MAX_COLUMNS];
	BatchRow	row;

	row_values(i, columns);
	decode_batch(columns, false, &row);
	st->fn(st->arg, &row, DatumGetTextPP(columns[7]),
		   DatumGetBool(columns[8]));
}

/* The membership rows of queue under states, resolved, by batch id. */
void
store_candidates(text *queue, ArrayType *states, ArrayType *also_states,
				 store_candidate_fn fn, void *arg)
{
	StoreArgs	args = {0};
	CandidatesState st = {fn, arg};

	add_arg(&args, PointerGetDatum(queue));
	add_arg(&args, PointerGetDatum(states));
	add_arg(&args, PointerGetDatum(also_states));
	for_each_row(STMT_CANDIDATES, &args, false, candidates_row, &st);
}

/* Remove a membership row of a batch in batch_states, never waiting. */
bool
store_membership_prune(text *queue, text *state, text *batch_id,
					   ArrayType *batch_states)
{
	StoreArgs	args = {0};

	membership_key_args(&args, queue, state, batch_id);
	add_arg(&args, PointerGetDatum(batch_states));
	return run(STMT_PRUNE, &args, false, SPI_OK_DELETE) > 0;
}

/* Whether the current user holds the privileges the prune needs. */
bool
store_may_prune(void)
{
	Oid			nsp = get_namespace_oid("batchstate", true);
	Oid			member;
	Oid			batch;
	AclMode		need = ACL_SELECT | ACL_UPDATE | ACL_DELETE;
	AclMode		lock = ACL_SELECT | ACL_UPDATE;	/* FOR SHARE */

	if (!OidIsValid(nsp))
		return false;
	member = get_relname_relid("batch_state_membership", nsp);
	batch = get_relname_relid("batch", nsp);
	if (!OidIsValid(member) || !OidIsValid(batch))
		return false;
	return pg_class_aclmask(member, GetUserId(), need, ACLMASK_ALL) == need &&
		pg_class_aclmask(batch, GetUserId(), lock, ACLMASK_ALL) == lock;
}

typedef struct BatchesState
{
	store_row_fn fn;
	void	   *arg;
} BatchesState;

/* Pass row "i", the 7 batch columns, on as a batch. */
static void
batches_row(void *arg, uint64 i)
{
	BatchesState *st = (BatchesState *) arg;
	Datum		columns[MAX_COLUMNS];
	BatchRow	row;

	row_values(i, columns);
	decode_batch(columns, false, &row);
	st->fn(st->arg, &row);
}

/* The batches of queue whose array column holds element, by id. */
void
store_batches_holding(StoreArray column, text *queue, text *element,
					  ArrayType *states, store_row_fn fn, void *arg)
{
	Datum		item = PointerGetDatum(element);
	ArrayType  *one = construct_array(&item, 1, TEXTOID, -1, false,
									  TYPALIGN_INT);
	StoreArgs	args = {0};
	BatchesState st = {fn, arg};

	add_arg(&args, PointerGetDatum(queue));
	add_arg(&args, PointerGetDatum(one));
	add_arg_or_null(&args, states);
	for_each_row(column == STORE_CONTAINS
				 ? STMT_HOLDING_CONTAINS : STMT_HOLDING_DEPENDENCIES,
				 &args, true, batches_row, &st);
	pfree(one);
}

typedef struct CountsState
{
	store_count_fn fn;
	void	   *arg;
} CountsState;

/* Pass row "i" on as (queue, state, batches, oldest since). */
static void
counts_row(void *arg, uint64 i)
{
	CountsState *st = (CountsState *) arg;
	Datum		columns[MAX_COLUMNS];

	row_values(i, columns);
	st->fn(st->arg, DatumGetTextPP(columns[0]), DatumGetTextPP(columns[1]),
		   DatumGetInt64(columns[2]), DatumGetTimestampTz(columns[3]));
}

/* Per queue and state, the batches filed and in it, and the oldest since. */
void
store_state_counts(text *queue, ArrayType *states, store_count_fn fn,
				   void *arg)
{
	StoreArgs	args = {0};
	CountsState st = {fn, arg};

	if (queue)
		add_arg(&args, PointerGetDatum(queue));
	add_arg(&args, PointerGetDatum(states));
	for_each_row(queue ? STMT_STATE_COUNTS : STMT_STATE_COUNTS_ALL,
				 &args, true, counts_row, &st);
}

/* The batches filed under one of states before cutoff and still there. */
void
store_filed_before(text *queue, ArrayType *states, TimestampTz cutoff,
				   store_row_fn fn, void *arg)
{
	StoreArgs	args = {0};
	BatchesState st = {fn, arg};

	add_arg(&args, PointerGetDatum(queue));
	add_arg(&args, PointerGetDatum(states));
	add_arg(&args, TimestampTzGetDatum(cutoff));
	for_each_row(STMT_FILED_BEFORE, &args, true, batches_row, &st);
}

typedef struct DriftState
{
	store_drift_fn fn;
	void	   *arg;
} DriftState;

/* Pass row "i" on as a drift. */
static void
drift_row(void *arg, uint64 i)
{
	DriftState *st = (DriftState *) arg;

	st->fn(st->arg, (StoreDrift) DatumGetInt32(column_not_null(i, 1)),
		   DatumGetTextPP(column_not_null(i, 2)),
		   DatumGetTextPP(column_not_null(i, 3)),
		   DatumGetTextPP(column_not_null(i, 4)));
}

/* Every drift of queue (NULL: all queues), ordered. */
void
store_drift(text *queue, ArrayType *live_states, store_drift_fn fn, void *arg)
{
	StoreArgs	args = {0};
	DriftState	st = {fn, arg};

	add_arg_or_null(&args, queue);
	add_arg(&args, PointerGetDatum(live_states));
	for_each_row(STMT_DRIFT, &args, true, drift_row, &st);
}
