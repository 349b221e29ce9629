/*-------------------------------------------------------------------------
 * batchstate.c
 *	  fmgr glue for every SQL function of batchstate: decode and check the
 *	  arguments, call the app layer or the policy, build the result rows.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "app.h"
#include "guard.h"
#include "policy.h"

PG_MODULE_MAGIC;

/*
 * Longest id, queue, request id or array element accepted, in bytes.  Ids
 * and queues are keys of the membership table's primary key, and array
 * elements keys of the GIN index over the arrays: an index entry must fit
 * in a third of a page.
 */
#define MAX_KEY_BYTES 1024

/* Columns of batchstate.batch. */
#define BATCH_NATTS 7

void		_PG_init(void);

/* Install the planner guard and define the settings; once per backend. */
void
_PG_init(void)
{
	guard_init();
	app_init();
}

/* ---------------------------------------------------------------------
 * Argument checks.  A NULL raises 22004 naming the argument; a bad value
 * raises 22023.  Nothing has been written when they raise.
 * ---------------------------------------------------------------------
 */

/*
 * A function that writes refuses to run in a read-only transaction, which
 * every transaction on a hot standby is, before it looks at its arguments:
 * 25006, naming the function.  (Left to PostgreSQL, the refusal would come
 * from the statement the function runs, naming that statement's command,
 * or not at all when the function finds nothing to write.)
 */
static void
require_writable(const char *function)
{
	if (!XactReadOnly)
		return;
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("%s cannot run in a read-only transaction", function),
				 errdetail("The server is a hot standby: every transaction on it is read-only."),
				 errhint("Run it on the primary.")));
	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 errmsg("%s cannot run in a read-only transaction", function)));
}

/* Raise 22004 naming the argument when it is NULL. */
static void
require_not_null(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", name)));
}

/*
 * Every NULL is reported before any bad value: the first NULL argument, in
 * order, of the nargs named (all required).
 */
static void
require_all(FunctionCallInfo fcinfo, const char *const *names, int nargs)
{
	for (int i = 0; i < nargs; i++)
		require_not_null(fcinfo, i, names[i]);
}


/* Check a state name (an element of an array with in_array); its number. */
static int
check_state(const char *data, int len, const char *name, bool in_array)
{
	int			state;

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 in_array
				 ? errmsg("argument \"%s\" must not contain empty strings", name)
				 : errmsg("argument \"%s\" must not be empty", name)));
	state = policy_state_from_name(data, len);
	if (state == POLICY_NO_STATE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized batch state \"%s\" in argument \"%s\"",
						app_shown(data, len), name),
				 errhint("Valid states are: %s.", policy_state_list())));
	return state;
}

/* A required id or queue: not NULL, not empty, at most MAX_KEY_BYTES. */
static text *
key_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	text	   *value;
	int			len;

	require_not_null(fcinfo, argno, name);
	value = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(value);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" must not be empty", name)));
	if (len > MAX_KEY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" is too long", name),
				 errdetail("It is %d bytes long; the limit is %d bytes.",
						   len, MAX_KEY_BYTES)));
	return value;
}

/* A required state name. */
static text *
state_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	text	   *value;

	require_not_null(fcinfo, argno, name);
	value = PG_GETARG_TEXT_PP(argno);
	check_state(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), name, false);
	return value;
}

/*
 * A required text[]: at most one dimension, no NULL element; with states,
 * every element must be a state name, else none may be empty or longer
 * than MAX_KEY_BYTES.
 */
static ArrayType *
text_array_arg(FunctionCallInfo fcinfo, int argno, const char *name,
			   bool states)
{
	ArrayType  *array;
	ArrayIterator it;
	Datum		element;
	bool		isnull;

	require_not_null(fcinfo, argno, name);
	array = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" must be a one-dimensional array", name),
				 errdetail("The array has %d dimensions.", ARR_NDIM(array))));
	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not contain null elements",
						name)));

	it = array_create_iterator(array, 0, NULL);
	while (array_iterate(it, &element, &isnull))
	{
		text	   *t = DatumGetTextPP(element);

		if (states)
			check_state(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), name, true);
		else if (VARSIZE_ANY_EXHDR(t) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("argument \"%s\" must not contain empty strings",
							name)));
		else if (VARSIZE_ANY_EXHDR(t) > MAX_KEY_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("argument \"%s\" has an element that is too long",
							name),
					 errdetail("An element is %d bytes long; the limit is %d bytes.",
							   (int) VARSIZE_ANY_EXHDR(t), MAX_KEY_BYTES)));
	}
	array_free_iterator(it);
	return array;
}

/* A required version: 1 or more. */
static int32
version_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	int32		version;

	require_not_null(fcinfo, argno, name);
	version = PG_GETARG_INT32(argno);
	if (version < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" must be at least 1", name),
				 errdetail("The value is %d; versions start at 1.", version)));
	return version;
}

/* A required score: a finite number in 0..1. */
static double
score_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	double		score;

	require_not_null(fcinfo, argno, name);
	score = PG_GETARG_FLOAT8(argno);
	if (isnan(score) || score < 0.0 || score > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" must be between 0 and 1", name),
				 errdetail("The value is %s.",
						   float8out_internal(score))));
	return score;
}

/* A required boolean. */
static bool
flag_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	require_not_null(fcinfo, argno, name);
	return PG_GETARG_BOOL(argno);
}

/*
 * Longest interval stuck_batches looks back over.  No batch has been in a
 * state for longer (6000 years before now is still a valid timestamp), so
 * a longer interval, 'infinity' included, finds nothing, and never makes
 * "now - interval" overflow.
 */
#define MAX_LOOKBACK_MONTHS (6000 * MONTHS_PER_YEAR)

/*
 * A required, non-negative interval, as the time it reaches back to from
 * the start of the transaction (-infinity for one beyond any batch).
 */
static TimestampTz
cutoff_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	Interval   *span;
	Interval	limit = {0};

	require_not_null(fcinfo, argno, name);
	span = PG_GETARG_INTERVAL_P(argno);
	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(span),
										 IntervalPGetDatum(&limit))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" must not be negative", name),
				 errdetail("The value is %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out,
															   IntervalPGetDatum(span))))));
	limit.month = MAX_LOOKBACK_MONTHS;
	if (DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(span),
										 IntervalPGetDatum(&limit))))
		return DT_NOBEGIN;
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
												   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
												   IntervalPGetDatum(span)));
}

/* The state named by a policy function's argument (STRICT: never NULL). */
static int
policy_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	text	   *value = PG_GETARG_TEXT_PP(argno);

	return check_state(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), name, false);
}

/* ---------------------------------------------------------------------
 * Result rows.  Set-returning functions materialize into the tuplestore
 * the executor hands them, described by the executor's own expected
 * descriptor (MAT_SRF_USE_EXPECTED_DESC): building one from the catalog on
 * every call would pile up in per-query memory when a statement calls the
 * function once per row.
 * ---------------------------------------------------------------------
 */

/* A batch as the column values of a batchstate.batch row. */
static void
batch_values(const BatchRow *row, Datum *values, bool *nulls)
{
	values[0] = PointerGetDatum(row->id);
	values[1] = PointerGetDatum(row->queue);
	values[2] = PointerGetDatum(row->contains);
	values[3] = PointerGetDatum(row->dependencies);
	values[4] = Float8GetDatum(row->score);
	values[5] = PointerGetDatum(row->state);
	values[6] = Int32GetDatum(row->version);
	memset(nulls, 0, BATCH_NATTS * sizeof(bool));
}

/* Raise an error unless the descriptor has batchstate.batch's columns. */
static void
check_batch_desc(TupleDesc desc)
{
	if (desc->natts != BATCH_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("batchstate.batch has %d columns, expected %d",
						desc->natts, BATCH_NATTS),
				 errhint("The table must not be altered; reinstall the extension.")));
}

/* A batch as the composite Datum the function returns. */
static Datum
batch_datum(FunctionCallInfo fcinfo, const BatchRow *row)
{
	TupleDesc	desc;
	Datum		values[BATCH_NATTS];
	bool		nulls[BATCH_NATTS];

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	check_batch_desc(desc);
	desc = BlessTupleDesc(desc);
	batch_values(row, values, nulls);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* Sink for SETOF batchstate.batch results. */
static void
put_batch(void *arg, const BatchRow *row)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[BATCH_NATTS];
	bool		nulls[BATCH_NATTS];

	batch_values(row, values, nulls);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Set up a SETOF batchstate.batch result; its ReturnSetInfo. */
static ReturnSetInfo *
start_batch_set(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	check_batch_desc(rsinfo->setDesc);
	return rsinfo;
}

/* ---------------------------------------------------------------------
 * The policy
 * ---------------------------------------------------------------------
 */

/* Columns of batchstate.states(). */
#define STATES_NATTS 6

PG_FUNCTION_INFO_V1(batchstate_states);
/* The policy table, one row per state in policy order. */
Datum
batchstate_states(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (rsinfo->setDesc->natts != STATES_NATTS)
		elog(ERROR, "batchstate.states() must return %d columns, not %d",
			 STATES_NATTS, rsinfo->setDesc->natts);
	for (int i = 0; i < POLICY_NSTATES; i++)
	{
		Datum		values[STATES_NATTS];
		bool		nulls[STATES_NATTS] = {false};

		values[0] = CStringGetTextDatum(policy_state_name(i));
		values[1] = BoolGetDatum(policy_is_terminal(i));
		values[2] = BoolGetDatum(policy_is_halted(i));
		values[3] = BoolGetDatum(policy_is_conflict(i));
		values[4] = BoolGetDatum(policy_is_cancellable(i));
		values[5] = BoolGetDatum(policy_is_active(i));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(batchstate_is_valid_state);
/* Whether the argument names a state (false, not an error, if not). */
Datum
batchstate_is_valid_state(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(policy_state_from_name(VARDATA_ANY(value),
										  VARSIZE_ANY_EXHDR(value))
				   != POLICY_NO_STATE);
}

PG_FUNCTION_INFO_V1(batchstate_is_terminal);
/* Whether the state is terminal; 22023 for an unknown state. */
Datum
batchstate_is_terminal(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(policy_is_terminal(policy_arg(fcinfo, 0, "state")));
}

PG_FUNCTION_INFO_V1(batchstate_is_halted);
/* Whether the state is halted; 22023 for an unknown state. */
Datum
batchstate_is_halted(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(policy_is_halted(policy_arg(fcinfo, 0, "state")));
}

PG_FUNCTION_INFO_V1(batchstate_is_cancellable);
/* Whether a cancel moves a batch in the state; 22023 for an unknown state. */
Datum
batchstate_is_cancellable(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(policy_is_cancellable(policy_arg(fcinfo, 0, "state")));
}

/* A copy of a named set of states, to return. */
static Datum
state_set_datum(AppStateSet which)
{
	ArrayType  *set = app_state_set(which);

	/* a copy: the cached set is not ours to hand out */
	PG_RETURN_ARRAYTYPE_P(DatumGetArrayTypePCopy(PointerGetDatum(set)));
}

PG_FUNCTION_INFO_V1(batchstate_non_terminal_states);
/* The non-terminal states, in policy order. */
Datum
batchstate_non_terminal_states(PG_FUNCTION_ARGS)
{
	(void) fcinfo;				/* no arguments */
	return state_set_datum(APP_NON_TERMINAL_STATES);
}

PG_FUNCTION_INFO_V1(batchstate_conflict_states);
/* The conflict states, in policy order. */
Datum
batchstate_conflict_states(PG_FUNCTION_ARGS)
{
	(void) fcinfo;				/* no arguments */
	return state_set_datum(APP_CONFLICT_STATES);
}

PG_FUNCTION_INFO_V1(batchstate_active_states);
/* The active states (what list_active lists), in policy order. */
Datum
batchstate_active_states(PG_FUNCTION_ARGS)
{
	(void) fcinfo;				/* no arguments */
	return state_set_datum(APP_ACTIVE_STATES);
}

PG_FUNCTION_INFO_V1(batchstate_cancellable_states);
/* The cancellable states, in policy order. */
Datum
batchstate_cancellable_states(PG_FUNCTION_ARGS)
{
	(void) fcinfo;				/* no arguments */
	return state_set_datum(APP_CANCELLABLE_STATES);
}

PG_FUNCTION_INFO_V1(batchstate_can_transition);
/* Whether the policy lets a batch move from one state to the other. */
Datum
batchstate_can_transition(PG_FUNCTION_ARGS)
{
	int			from = policy_arg(fcinfo, 0, "from_state");
	int			to = policy_arg(fcinfo, 1, "to_state");

	PG_RETURN_BOOL(policy_can_transition(from, to));
}

/* ---------------------------------------------------------------------
 * Storage primitives
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(batchstate_batch_get);
/* The batch row of an id; P0002 if there is none. */
Datum
batchstate_batch_get(PG_FUNCTION_ARGS)
{
	text	   *id = key_arg(fcinfo, 0, "id");
	BatchRow	row;

	app_raw_get(id, &row);
	PG_RETURN_DATUM(batch_datum(fcinfo, &row));
}

/*
 * The arguments of batch_create and create_batch, which share their order:
 * (id, queue, state, contains, dependencies, score, version).
 */
static void
batch_args(FunctionCallInfo fcinfo, BatchRow *row)
{
	static const char *const args[] = {
		"id", "queue", "state", "contains", "dependencies", "score", "version"
	};

	require_all(fcinfo, args, lengthof(args));
	row->id = key_arg(fcinfo, 0, "id");
	row->queue = key_arg(fcinfo, 1, "queue");
	row->state = state_arg(fcinfo, 2, "state");
	row->contains = text_array_arg(fcinfo, 3, "contains", false);
	row->dependencies = text_array_arg(fcinfo, 4, "dependencies", false);
	row->score = score_arg(fcinfo, 5, "score");
	row->version = version_arg(fcinfo, 6, "version");
}

PG_FUNCTION_INFO_V1(batchstate_batch_create);
/* Insert a batch row and nothing else. */
Datum
batchstate_batch_create(PG_FUNCTION_ARGS)
{
	BatchRow	row;

	require_writable("batch_create");
	batch_args(fcinfo, &row);
	app_raw_insert(&row);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(batchstate_batch_update_state);
/* Compare-and-set a batch's state and version, and nothing else. */
Datum
batchstate_batch_update_state(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {
		"id", "old_version", "new_version", "new_state"
	};
	text	   *id;
	int32		old_version;
	int32		new_version;
	text	   *new_state;

	require_writable("batch_update_state");
	require_all(fcinfo, args, lengthof(args));
	id = key_arg(fcinfo, 0, "id");
	old_version = version_arg(fcinfo, 1, "old_version");
	new_version = version_arg(fcinfo, 2, "new_version");
	new_state = state_arg(fcinfo, 3, "new_state");

	PG_RETURN_BOOL(app_raw_cas(id, old_version, new_version, new_state, NULL));
}

PG_FUNCTION_INFO_V1(batchstate_batch_update_score_and_state);
/* Compare-and-set a batch's score, state and version, and nothing else. */
Datum
batchstate_batch_update_score_and_state(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {
		"id", "old_version", "new_version", "score", "new_state"
	};
	text	   *id;
	int32		old_version;
	int32		new_version;
	double		score;
	text	   *new_state;

	require_writable("batch_update_score_and_state");
	require_all(fcinfo, args, lengthof(args));
	id = key_arg(fcinfo, 0, "id");
	old_version = version_arg(fcinfo, 1, "old_version");
	new_version = version_arg(fcinfo, 2, "new_version");
	score = score_arg(fcinfo, 3, "score");
	new_state = state_arg(fcinfo, 4, "new_state");

	PG_RETURN_BOOL(app_raw_cas(id, old_version, new_version, new_state,
							   &score));
}

/* The arguments of membership_add and membership_remove. */
static void
membership_args(FunctionCallInfo fcinfo, text **queue, text **state,
				text **batch_id)
{
	static const char *const args[] = {"queue", "state", "batch_id"};

	require_all(fcinfo, args, lengthof(args));
	*queue = key_arg(fcinfo, 0, "queue");
	*state = state_arg(fcinfo, 1, "state");
	*batch_id = key_arg(fcinfo, 2, "batch_id");
}

PG_FUNCTION_INFO_V1(batchstate_membership_add);
/* File a membership row, idempotently, without looking at the batch. */
Datum
batchstate_membership_add(PG_FUNCTION_ARGS)
{
	text	   *queue;
	text	   *state;
	text	   *batch_id;

	require_writable("membership_add");
	membership_args(fcinfo, &queue, &state, &batch_id);
	app_raw_membership_add(queue, state, batch_id);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(batchstate_membership_remove);
/* Remove a membership row, idempotently, without looking at the batch. */
Datum
batchstate_membership_remove(PG_FUNCTION_ARGS)
{
	text	   *queue;
	text	   *state;
	text	   *batch_id;

	require_writable("membership_remove");
	membership_args(fcinfo, &queue, &state, &batch_id);
	app_raw_membership_remove(queue, state, batch_id);
	PG_RETURN_VOID();
}

/* Sink for SETOF text results. */
static void
put_id(void *arg, text *batch_id)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		value = PointerGetDatum(batch_id);
	bool		isnull = false;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
}

PG_FUNCTION_INFO_V1(batchstate_membership_list_ids);
/* The batch ids filed under (queue, state), in byte order. */
Datum
batchstate_membership_list_ids(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {"queue", "state"};
	text	   *queue;
	text	   *state;

	require_all(fcinfo, args, lengthof(args));
	queue = key_arg(fcinfo, 0, "queue");
	state = state_arg(fcinfo, 1, "state");

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	app_raw_membership_ids(queue, state, put_id, fcinfo->resultinfo);
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * The app layer
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(batchstate_create_batch);
/* Create a batch and file it; the new row. */
Datum
batchstate_create_batch(PG_FUNCTION_ARGS)
{
	BatchRow	row;

	require_writable("create_batch");
	batch_args(fcinfo, &row);
	app_create_batch(&row);
	PG_RETURN_DATUM(batch_datum(fcinfo, &row));
}

PG_FUNCTION_INFO_V1(batchstate_update_state);
/* Move a batch to a new state; false on a lost race. */
Datum
batchstate_update_state(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {"id", "expected_version", "new_state"};
	text	   *id;
	int32		expected_version;
	text	   *new_state;
	MoveFields	fields = {NULL, NULL, NULL};

	require_writable("update_state");
	require_all(fcinfo, args, lengthof(args));
	id = key_arg(fcinfo, 0, "id");
	expected_version = version_arg(fcinfo, 1, "expected_version");
	new_state = state_arg(fcinfo, 2, "new_state");

	PG_RETURN_BOOL(app_move_batch(id, expected_version, new_state, &fields));
}

PG_FUNCTION_INFO_V1(batchstate_update_score_and_state);
/* Move a batch to a new state with a new score; false on a lost race. */
Datum
batchstate_update_score_and_state(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {
		"id", "expected_version", "score", "new_state"
	};
	text	   *id;
	int32		expected_version;
	double		score;
	text	   *new_state;
	MoveFields	fields = {&score, NULL, NULL};

	require_writable("update_score_and_state");
	require_all(fcinfo, args, lengthof(args));
	id = key_arg(fcinfo, 0, "id");
	expected_version = version_arg(fcinfo, 1, "expected_version");
	score = score_arg(fcinfo, 2, "score");
	new_state = state_arg(fcinfo, 3, "new_state");

	PG_RETURN_BOOL(app_move_batch(id, expected_version, new_state, &fields));
}

PG_FUNCTION_INFO_V1(batchstate_update_batch);
/*
 * Move a batch to a new state, replacing contains, dependencies and score
 * where given (NULL keeps them); false on a lost race.
 */
Datum
batchstate_update_batch(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {"id", "expected_version", "new_state"};
	text	   *id;
	int32		expected_version;
	text	   *new_state;
	double		score;
	MoveFields	fields = {NULL, NULL, NULL};

	require_writable("update_batch");
	require_all(fcinfo, args, lengthof(args));
	id = key_arg(fcinfo, 0, "id");
	expected_version = version_arg(fcinfo, 1, "expected_version");
	new_state = state_arg(fcinfo, 2, "new_state");
	if (!PG_ARGISNULL(3))
		fields.contains = text_array_arg(fcinfo, 3, "contains", false);
	if (!PG_ARGISNULL(4))
		fields.dependencies = text_array_arg(fcinfo, 4, "dependencies", false);
	if (!PG_ARGISNULL(5))
	{
		score = score_arg(fcinfo, 5, "score");
		fields.score = &score;
	}

	PG_RETURN_BOOL(app_move_batch(id, expected_version, new_state, &fields));
}

PG_FUNCTION_INFO_V1(batchstate_list_batches);
/* The batches of a queue currently in one of the states, by id. */
Datum
batchstate_list_batches(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {"queue", "states"};
	text	   *queue;
	ArrayType  *states;

	require_all(fcinfo, args, lengthof(args));
	queue = key_arg(fcinfo, 0, "queue");
	states = text_array_arg(fcinfo, 1, "states", true);

	app_list_batches(queue, states, put_batch, start_batch_set(fcinfo));
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(batchstate_list_active);
/* The batches of a queue currently in an active state, by id. */
Datum
batchstate_list_active(PG_FUNCTION_ARGS)
{
	text	   *queue = key_arg(fcinfo, 0, "queue");

	app_list_batches(queue, app_state_set(APP_ACTIVE_STATES), put_batch,
					 start_batch_set(fcinfo));
	return (Datum) 0;
}

/*
 * dependents_of and batches_containing: the batches of a queue whose
 * "column" holds the element given.
 */
static Datum
batches_holding(FunctionCallInfo fcinfo, StoreArray column,
				const char *element_name)
{
	const char *const args[] = {"queue", element_name, "include_finished"};
	text	   *queue;
	text	   *element;
	bool		include_finished;

	require_all(fcinfo, args, lengthof(args));
	queue = key_arg(fcinfo, 0, "queue");
	element = key_arg(fcinfo, 1, element_name);
	include_finished = flag_arg(fcinfo, 2, "include_finished");

	app_batches_holding(column, queue, element, include_finished, put_batch,
						start_batch_set(fcinfo));
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(batchstate_dependents_of);
/* The batches of a queue that depend on a batch id, by id. */
Datum
batchstate_dependents_of(PG_FUNCTION_ARGS)
{
	return batches_holding(fcinfo, STORE_DEPENDENCIES, "id");
}

PG_FUNCTION_INFO_V1(batchstate_batches_containing);
/* The batches of a queue that contain a land request, by id. */
Datum
batchstate_batches_containing(PG_FUNCTION_ARGS)
{
	return batches_holding(fcinfo, STORE_CONTAINS, "request_id");
}

/* Sink for queue_stats rows. */
static void
put_stats(void *arg, text *queue, const char *state, int64 batches,
		  const TimestampTz *oldest_since)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, oldest_since == NULL};

	values[0] = PointerGetDatum(queue);
	values[1] = CStringGetTextDatum(state);
	values[2] = Int64GetDatum(batches);
	values[3] = oldest_since ? TimestampTzGetDatum(*oldest_since) : (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	pfree(DatumGetPointer(values[1]));
}

/* The optional queue of verify, reconcile, queue_stats: NULL, every one. */
static text *
scope_arg(FunctionCallInfo fcinfo)
{
	return PG_ARGISNULL(0) ? NULL : key_arg(fcinfo, 0, "queue");
}

PG_FUNCTION_INFO_V1(batchstate_queue_stats);
/* Per queue and non-terminal state: how many batches, since when. */
Datum
batchstate_queue_stats(PG_FUNCTION_ARGS)
{
	text	   *queue = scope_arg(fcinfo);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	app_queue_stats(queue, put_stats, fcinfo->resultinfo);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(batchstate_stuck_batches);
/* The batches of a queue in one of the states for longer than an interval. */
Datum
batchstate_stuck_batches(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {"queue", "older_than", "states"};
	text	   *queue;
	TimestampTz cutoff;
	ArrayType  *states;

	require_all(fcinfo, args, lengthof(args));
	queue = key_arg(fcinfo, 0, "queue");
	cutoff = cutoff_arg(fcinfo, 1, "older_than");
	states = text_array_arg(fcinfo, 2, "states", true);

	app_stuck_batches(queue, cutoff, states, put_batch,
					  start_batch_set(fcinfo));
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(batchstate_ensure_membership);
/* File a batch under its current state if live; true when added. */
Datum
batchstate_ensure_membership(PG_FUNCTION_ARGS)
{
	text	   *id;

	require_writable("ensure_membership");
	id = key_arg(fcinfo, 0, "id");
	PG_RETURN_BOOL(app_ensure_membership(id));
}

/* Sink for verify rows. */
static void
put_drift(void *arg, const char *problem, text *queue, text *state,
		  text *batch_id)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	values[0] = CStringGetTextDatum(problem);
	values[1] = PointerGetDatum(queue);
	values[2] = PointerGetDatum(state);
	values[3] = PointerGetDatum(batch_id);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

PG_FUNCTION_INFO_V1(batchstate_verify);
/* Every drift between the two tables, one row each. */
Datum
batchstate_verify(PG_FUNCTION_ARGS)
{
	text	   *queue = scope_arg(fcinfo);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	app_verify(queue, put_drift, fcinfo->resultinfo);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(batchstate_reconcile);
/* Repair every drift; the rows added and removed. */
Datum
batchstate_reconcile(PG_FUNCTION_ARGS)
{
	text	   *queue;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		added;
	int64		removed;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	require_writable("reconcile");
	queue = scope_arg(fcinfo);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	app_reconcile(queue, &added, &removed);
	values[0] = Int64GetDatum(added);
	values[1] = Int64GetDatum(removed);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
