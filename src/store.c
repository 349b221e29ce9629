/*-------------------------------------------------------------------------
 * store.c
 *	  SPI over the two batchstate tables: kept plans, schema-qualified SQL,
 *	  and a planner guard that keeps the hot path on its indexes.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "optimizer/cost.h"
#include "optimizer/planner.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "store.h"

/*
 * The statements.  "=" is spelled OPERATOR(pg_catalog.=) and every table,
 * function and collation is schema-qualified: a kept plan is re-analyzed
 * under the caller's search_path whenever that changes, so nothing may
 * depend on it.
 */
#define EQ " OPERATOR(pg_catalog.=) "
#define NE " OPERATOR(pg_catalog.<>) "
#define BATCH "batchstate.batch"
#define MEMBER "batchstate.batch_state_membership"
#define BATCH_COLS "id, queue, contains, dependencies, score, state, version"
#define C_ORDER " COLLATE pg_catalog.\"C\""

typedef enum StoreStmt
{
	STMT_GET,
	STMT_GET_LOCKED,
	STMT_EXISTS,
	STMT_INSERT,
	STMT_INSERT_FILED,
	STMT_CAS,
	STMT_MOVE,					/* the _SCORE form of each follows it */
	STMT_MOVE_SCORE,
	STMT_MOVE_END,
	STMT_MOVE_END_SCORE,
	STMT_MOVE_SELF,
	STMT_MOVE_SELF_SCORE,
	STMT_MEMBER_ADD,
	STMT_MEMBER_REMOVE,
	STMT_MEMBER_IDS,
	STMT_CANDIDATES,
	STMT_PRUNE,
	STMT_DRIFT,
	STMT_COUNT
} StoreStmt;

typedef struct StoreStmtDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[8];
	bool		guarded;		/* plan with the index-only guard */
} StoreStmtDef;

static const StoreStmtDef stmt_defs[STMT_COUNT] = {
	[STMT_GET] = {
		"SELECT " BATCH_COLS " FROM " BATCH " WHERE id" EQ "$1",
		1, {TEXTOID}, true
	},
	[STMT_GET_LOCKED] = {
		"SELECT queue, state, version FROM " BATCH " WHERE id" EQ "$1"
		" FOR NO KEY UPDATE",
		1, {TEXTOID}, true
	},
	[STMT_EXISTS] = {
		"SELECT 1 FROM " BATCH " WHERE id" EQ "$1",
		1, {TEXTOID}, true
	},

	/*
	 * $1..$7 the row; STMT_INSERT_FILED also files it under $8, in a CTE
	 * that runs after the batch row's insert (an unreferenced data-modifying
	 * CTE runs when the main statement has finished).  A taken id fails the
	 * primary key's own unique check (a plain INSERT: ON CONFLICT would add
	 * a probe and a speculative insertion to every create, and the call
	 * fails either way), which store_batch_insert turns into the caller's
	 * error.  Both take the same eight arguments.
	 */
#define INSERT_BATCH \
		" INSERT INTO " BATCH " (" BATCH_COLS ")" \
		" VALUES ($1, $2, $3, $4, $5, $6, $7)"
#define INSERT_TYPES {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, FLOAT8OID, \
		TEXTOID, INT4OID, TEXTOID}
	[STMT_INSERT] = {
		INSERT_BATCH,
		8, INSERT_TYPES, true
	},
	[STMT_INSERT_FILED] = {
		"WITH m AS ("
		" INSERT INTO " MEMBER " (queue, state, batch_id)"
		" VALUES ($2, $8, $1) ON CONFLICT DO NOTHING)"
		INSERT_BATCH,
		8, INSERT_TYPES, true
	},

	/* $1 id, $2 old version, $3 new version, $4 new state, $5 score (NULL: keep) */
	[STMT_CAS] = {
		"UPDATE " BATCH " SET state = $4, version = $3,"
		" score = COALESCE($5, score)"
		" WHERE id" EQ "$1 AND version" EQ "$2",
		5, {TEXTOID, INT4OID, INT4OID, TEXTOID, FLOAT8OID}, true
	},

	/*
	 * The whole of a move, on a batch in state $6: STMT_CAS's update (the
	 * _SCORE forms also set the score; the others leave it alone rather
	 * than carry a COALESCE through every move), the removal of its
	 * membership row under $6 and (all but the _END forms, for a terminal
	 * state) its filing under the new state.  A move to the same state
	 * (_SELF) removes nothing and files again, which repairs a missing row.
	 * Returns the batch's queue and whether a row was removed (EXISTS, not
	 * count(*), whose aggregate node is 5% of the statement's work).  The
	 * state test sits in the UPDATE, so a row that changed while the
	 * statement waited for its lock is judged on its newest version; the
	 * queue reaches the DELETE as an InitPlan parameter, so its scan always
	 * has the whole key.  Every form takes the same six arguments.
	 */
#define MOVE_UPDATE(set) \
		"WITH u AS (" \
		" UPDATE " BATCH " SET state = $4, version = $3" set \
		" WHERE id" EQ "$1 AND version" EQ "$2 AND state" EQ "$6" \
		" RETURNING queue)"
#define MOVE_REMOVE \
		", d AS (" \
		" DELETE FROM " MEMBER \
		" WHERE queue" EQ "(SELECT queue FROM u) AND state" EQ "$6" \
		" AND batch_id" EQ "$1 RETURNING 1)"
#define MOVE_FILE \
		", a AS (" \
		" INSERT INTO " MEMBER " (queue, state, batch_id)" \
		" SELECT queue, $4, $1 FROM u ON CONFLICT DO NOTHING)"
#define MOVE_REMOVED " SELECT queue, EXISTS (SELECT 1 FROM d) FROM u"
#define MOVE_NOTHING_REMOVED " SELECT queue, false FROM u"
#define MOVE_SCORE ", score = $5"
#define MOVE_TYPES {TEXTOID, INT4OID, INT4OID, TEXTOID, FLOAT8OID, TEXTOID}
/* a form, and its _SCORE form, which follows it in StoreStmt */
#define MOVE_FORMS(stmt, rest) \
	[stmt] = {MOVE_UPDATE("") rest, 6, MOVE_TYPES, true}, \
	[stmt + 1] = {MOVE_UPDATE(MOVE_SCORE) rest, 6, MOVE_TYPES, true}
	MOVE_FORMS(STMT_MOVE, MOVE_REMOVE MOVE_FILE MOVE_REMOVED),
	MOVE_FORMS(STMT_MOVE_END, MOVE_REMOVE MOVE_REMOVED),
	MOVE_FORMS(STMT_MOVE_SELF, MOVE_FILE MOVE_NOTHING_REMOVED),

	[STMT_MEMBER_ADD] = {
		"INSERT INTO " MEMBER " (queue, state, batch_id)"
		" VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		3, {TEXTOID, TEXTOID, TEXTOID}, true
	},
	[STMT_MEMBER_REMOVE] = {
		"DELETE FROM " MEMBER
		" WHERE queue" EQ "$1 AND state" EQ "$2 AND batch_id" EQ "$3",
		3, {TEXTOID, TEXTOID, TEXTOID}, true
	},
	[STMT_MEMBER_IDS] = {
		"SELECT batch_id FROM " MEMBER
		" WHERE queue" EQ "$1 AND state" EQ "$2"
		" ORDER BY batch_id" C_ORDER,
		2, {TEXTOID, TEXTOID}, true
	},

	/*
	 * $1 queue, $2 states listed, $3 further batch states of interest.
	 * Columns: the batch row, then the row's state and whether it is the
	 * batch's.  The batch lookup is a LATERAL subquery that cannot be
	 * flattened (OFFSET 0): one probe by id per membership row (through the
	 * hash index on batch ids), never a join that reads a whole index.
	 */
	[STMT_CANDIDATES] = {
		"SELECT b.id, b.queue, b.contains, b.dependencies, b.score,"
		" b.state, b.version, m.state, b.state" EQ "m.state"
		" FROM " MEMBER " m,"
		" LATERAL (SELECT " BATCH_COLS " FROM " BATCH
		" WHERE id" EQ "m.batch_id AND queue" EQ "$1"
		" AND (state" EQ "m.state OR state" EQ "ANY ($3))"
		" OFFSET 0) b"
		" WHERE m.queue" EQ "$1 AND m.state" EQ "ANY ($2)"
		" ORDER BY b.id" C_ORDER,
		3, {TEXTOID, TEXTARRAYOID, TEXTARRAYOID}, true
	},

	/*
	 * $1 queue, $2 state, $3 batch id, $4 batch states that allow removal.
	 * Both the membership row and the batch row are locked, SKIP LOCKED: a
	 * row someone else holds is left for later, and the batch's state is
	 * judged on its newest version, which nobody can change until commit.
	 */
	[STMT_PRUNE] = {
		"DELETE FROM " MEMBER
		" WHERE ctid" EQ "("
		" SELECT m.ctid FROM " MEMBER " m"
		" WHERE m.queue" EQ "$1 AND m.state" EQ "$2"
		" AND m.batch_id" EQ "$3"
		" FOR UPDATE SKIP LOCKED)"
		" AND EXISTS (SELECT 1 FROM " BATCH " b"
		" WHERE b.id" EQ "$3 AND b.queue" EQ "$1"
		" AND b.state" EQ "ANY ($4)"
		" FOR SHARE SKIP LOCKED)",
		4, {TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID}, true
	},

	/*
	 * $1 queue (NULL: all), $2 states that admit a membership row.  Column
	 * 1 is the StoreDrift kind.  Whole-table scans are fine here.
	 */
	[STMT_DRIFT] = {
		"SELECT d.kind, d.queue, d.state, d.batch_id FROM ("
		" SELECT 0 AS kind, b.queue, b.state, b.id AS batch_id"
		" FROM " BATCH " b"
		" WHERE ($1 IS NULL OR b.queue" EQ "$1)"
		" AND b.state" EQ "ANY ($2)"
		" AND NOT EXISTS (SELECT 1 FROM " MEMBER " m"
		" WHERE m.queue" EQ "b.queue AND m.state" EQ "b.state"
		" AND m.batch_id" EQ "b.id)"
		" UNION ALL"
		" SELECT CASE WHEN b.id IS NULL OR b.queue" NE "m.queue"
		" THEN 2 ELSE 1 END, m.queue, m.state, m.batch_id"
		" FROM " MEMBER " m LEFT JOIN " BATCH " b"
		" ON b.id" EQ "m.batch_id"
		" WHERE ($1 IS NULL OR m.queue" EQ "$1)"
		" AND (b.id IS NULL OR b.queue" NE "m.queue"
		" OR b.state" NE "m.state OR NOT (b.state" EQ "ANY ($2)))"
		") d ORDER BY d.queue" C_ORDER ", d.batch_id" C_ORDER ","
		" d.state" C_ORDER ", d.kind",
		2, {TEXTOID, TEXTARRAYOID}, false
	},
};

static SPIPlanPtr plans[STMT_COUNT];

/* Set just before executing a guarded statement; consumed by its planning. */
static bool guard_pending = false;

static planner_hook_type prev_planner_hook = NULL;

/*
 * Plan our own hot-path statements with sequential scans, bitmap scans,
 * hash joins and merge joins disabled.  Each of them reaches its rows
 * through a primary key prefix or the hash index on batch ids; without the
 * guard a table that statistics call empty (after VACUUM, or on a fresh
 * install) gets a plan that scans every dead row, and a kept plan keeps it.
 * Plain index scans also mark the index entries of dead rows they pass (a
 * bitmap scan never does), so the next scan skips them and a page split
 * can drop them: under churn the membership index stays small between
 * vacuums.  The guard applies to the one statement being planned, not to
 * anything its execution plans later (user triggers).
 */
static PlannedStmt *
store_planner(Query *parse, const char *query_string, int cursorOptions,
			  ParamListInfo boundParams)
{
	bool		guarded = guard_pending;
	bool		save_seqscan = enable_seqscan;
	bool		save_bitmapscan = enable_bitmapscan;
	bool		save_hashjoin = enable_hashjoin;
	bool		save_mergejoin = enable_mergejoin;
	PlannedStmt *result;

	guard_pending = false;
	if (guarded)
	{
		enable_seqscan = false;
		enable_bitmapscan = false;
		enable_hashjoin = false;
		enable_mergejoin = false;
	}
	PG_TRY();
	{
		if (prev_planner_hook)
			result = prev_planner_hook(parse, query_string, cursorOptions,
									   boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions,
									  boundParams);
	}
	PG_FINALLY();
	{
		enable_seqscan = save_seqscan;
		enable_bitmapscan = save_bitmapscan;
		enable_hashjoin = save_hashjoin;
		enable_mergejoin = save_mergejoin;
	}
	PG_END_TRY();
	return result;
}

void
store_init(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = store_planner;
}

void
store_open(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
store_close(void)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

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
								  def->guarded ? CURSOR_OPT_GENERIC_PLAN : 0);
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
 * Execute statement "which", or with portal open a cursor on it into
 * *portal, with the planner guard raised for a guarded statement: the
 * planning this call does (if any) is guarded, nothing after it is.
 * Returns the SPI result code of an execution.
 */
static int
start(StoreStmt which, Datum *values, const char *nulls, bool read_only,
	  Portal *portal)
{
	SPIPlanPtr volatile plan = get_plan(which);
	volatile int rc = 0;

	guard_pending = stmt_defs[which].guarded;
	PG_TRY();
	{
		if (portal)
			*portal = SPI_cursor_open(NULL, plan, values, nulls, read_only);
		else
			rc = SPI_execute_plan(plan, values, nulls, read_only, 0);
	}
	PG_FINALLY();
	{
		guard_pending = false;
	}
	PG_END_TRY();
	return rc;
}

/*
 * Execute one statement; nulls is NULL or a string of ' '/'n' per argument.
 * Returns SPI_processed after checking the result code.
 */
static uint64
run(StoreStmt which, Datum *values, const char *nulls, bool read_only,
	int expected_rc)
{
	int			rc = start(which, values, nulls, read_only, NULL);

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

bool
store_batch_get(text *id, BatchRow *row)
{
	Datum		values[1] = {PointerGetDatum(id)};
	Datum		columns[MAX_COLUMNS];

	if (run(STMT_GET, values, NULL, true, SPI_OK_SELECT) == 0)
		return false;
	row_values(0, columns);
	decode_batch(columns, true, row);
	return true;
}

bool
store_batch_lock(text *id, BatchHead *head)
{
	Datum		values[1] = {PointerGetDatum(id)};

	if (run(STMT_GET_LOCKED, values, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	head->queue = (text *) DatumGetPointer(varlena_column(0, 1, false, false));
	head->state = (text *) DatumGetPointer(varlena_column(0, 2, false, false));
	head->version = DatumGetInt32(column_not_null(0, 3));
	return true;
}

bool
store_batch_exists(text *id)
{
	Datum		values[1] = {PointerGetDatum(id)};

	return run(STMT_EXISTS, values, NULL, true, SPI_OK_SELECT) > 0;
}

/*
 * Is the error being handled the unique violation of batchstate.batch's
 * primary key?  Only the error's own fields are read: no catalog access
 * before the error is re-raised.
 */
static bool
is_batch_id_taken(const ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION &&
		edata->schema_name && strcmp(edata->schema_name, "batchstate") == 0 &&
		edata->table_name && strcmp(edata->table_name, "batch") == 0 &&
		edata->constraint_name && strcmp(edata->constraint_name, "batch_pkey") == 0;
}

void
store_batch_insert(const BatchRow *row, text *member_state,
				   StoreReportFn taken)
{
	MemoryContext ctx = CurrentMemoryContext;
	Datum		values[8];
	char		nulls[8] = "       ";

	values[0] = PointerGetDatum(row->id);
	values[1] = PointerGetDatum(row->queue);
	values[2] = PointerGetDatum(row->contains);
	values[3] = PointerGetDatum(row->dependencies);
	values[4] = Float8GetDatum(row->score);
	values[5] = PointerGetDatum(row->state);
	values[6] = Int32GetDatum(row->version);
	values[7] = PointerGetDatum(member_state);
	if (member_state == NULL)
		nulls[7] = 'n';

	PG_TRY();
	{
		run(member_state ? STMT_INSERT_FILED : STMT_INSERT, values, nulls,
			false, SPI_OK_INSERT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/*
		 * The statement failed, so the transaction (or subtransaction) is
		 * going to be rolled back: the only thing to do here is choose the
		 * error that rolls it back.
		 */
		MemoryContextSwitchTo(ctx);
		edata = CopyErrorData();
		if (!is_batch_id_taken(edata))
			PG_RE_THROW();
		FlushErrorState();
		taken(row->id);
		elog(ERROR, "batch id taken, but no error was raised for it");
	}
	PG_END_TRY();
}

/*
 * The arguments STMT_CAS and STMT_MOVE share, $1 .. $5, into values and
 * nulls (which hold room for the statement's other arguments).
 */
static void
cas_args(Datum *values, char *nulls, text *id, int32 old_version,
		 int32 new_version, text *new_state, const double *score)
{
	values[0] = PointerGetDatum(id);
	values[1] = Int32GetDatum(old_version);
	values[2] = Int32GetDatum(new_version);
	values[3] = PointerGetDatum(new_state);
	values[4] = score ? Float8GetDatum(*score) : (Datum) 0;
	if (score == NULL)
		nulls[4] = 'n';
}

bool
store_batch_cas(text *id, int32 old_version, int32 new_version,
				text *new_state, const double *score)
{
	Datum		values[5];
	char		nulls[6] = "     ";

	cas_args(values, nulls, id, old_version, new_version, new_state, score);
	return run(STMT_CAS, values, nulls, false, SPI_OK_UPDATE) > 0;
}

bool
store_batch_move(text *id, int32 old_version, int32 new_version,
				 text *new_state, const double *score, text *from_state,
				 StoreMove kind, text **queue, bool *removed)
{
	Datum		values[6];
	char		nulls[7] = "      ";
	StoreStmt	which;

	cas_args(values, nulls, id, old_version, new_version, new_state, score);
	values[5] = PointerGetDatum(from_state);
	switch (kind)
	{
		case STORE_MOVE_FILE:
			which = STMT_MOVE;
			break;
		case STORE_MOVE_END:
			which = STMT_MOVE_END;
			break;
		case STORE_MOVE_SELF:
			which = STMT_MOVE_SELF;
			break;
		default:
			elog(ERROR, "unknown batchstate move kind %d", (int) kind);
	}
	if (score)
		which++;				/* the _SCORE form */
	if (run(which, values, nulls, false, SPI_OK_SELECT) == 0)
		return false;
	*queue = (text *) DatumGetPointer(varlena_column(0, 1, false, false));
	*removed = DatumGetBool(column_not_null(0, 2));
	return true;
}

bool
store_membership_add(text *queue, text *state, text *batch_id)
{
	Datum		values[3] = {
		PointerGetDatum(queue), PointerGetDatum(state), PointerGetDatum(batch_id)
	};

	return run(STMT_MEMBER_ADD, values, NULL, false, SPI_OK_INSERT) > 0;
}

bool
store_membership_remove(text *queue, text *state, text *batch_id)
{
	Datum		values[3] = {
		PointerGetDatum(queue), PointerGetDatum(state), PointerGetDatum(batch_id)
	};

	return run(STMT_MEMBER_REMOVE, values, NULL, false, SPI_OK_DELETE) > 0;
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
for_each_row(StoreStmt which, Datum *values, const char *nulls,
			 bool read_only, row_fn fn, void *arg)
{
	Portal		portal = NULL;
	MemoryContext rowcxt;

	start(which, values, nulls, read_only, &portal);
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

static void
ids_row(void *arg, uint64 row)
{
	IdsState   *st = (IdsState *) arg;

	st->fn(st->arg, DatumGetTextPP(column_not_null(row, 1)));
}

void
store_membership_ids(text *queue, text *state, store_id_fn fn, void *arg)
{
	Datum		values[2] = {PointerGetDatum(queue), PointerGetDatum(state)};
	IdsState	st = {fn, arg};

	for_each_row(STMT_MEMBER_IDS, values, NULL, true, ids_row, &st);
}

typedef struct CandidatesState
{
	store_candidate_fn fn;
	void	   *arg;
} CandidatesState;

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

void
store_candidates(text *queue, ArrayType *states, ArrayType *also_states,
				 store_candidate_fn fn, void *arg)
{
	Datum		values[3] = {
		PointerGetDatum(queue), PointerGetDatum(states),
		PointerGetDatum(also_states)
	};
	CandidatesState st = {fn, arg};

	for_each_row(STMT_CANDIDATES, values, NULL, false, candidates_row, &st);
}

bool
store_membership_prune(text *queue, text *state, text *batch_id,
					   ArrayType *batch_states)
{
	Datum		values[4] = {
		PointerGetDatum(queue), PointerGetDatum(state),
		PointerGetDatum(batch_id), PointerGetDatum(batch_states)
	};

	return run(STMT_PRUNE, values, NULL, false, SPI_OK_DELETE) > 0;
}

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

typedef struct DriftState
{
	store_drift_fn fn;
	void	   *arg;
} DriftState;

static void
drift_row(void *arg, uint64 i)
{
	DriftState *st = (DriftState *) arg;

	st->fn(st->arg, (StoreDrift) DatumGetInt32(column_not_null(i, 1)),
		   DatumGetTextPP(column_not_null(i, 2)),
		   DatumGetTextPP(column_not_null(i, 3)),
		   DatumGetTextPP(column_not_null(i, 4)));
}

void
store_drift(text *queue, ArrayType *live_states, store_drift_fn fn, void *arg)
{
	Datum		values[2] = {PointerGetDatum(queue), PointerGetDatum(live_states)};
	char		nulls[3] = "  ";
	DriftState	st = {fn, arg};

	if (queue == NULL)
		nulls[0] = 'n';
	for_each_row(STMT_DRIFT, values, nulls, true, drift_row, &st);
}
