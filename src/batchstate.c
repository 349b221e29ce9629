/*-------------------------------------------------------------------------
 * batchstate.c
 *	  fmgr glue for every SQL function of batchstate: decode and check the
 *	  arguments, call the app layer or the policy, build the result rows.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/tuplestore.h"

#include "app.h"
#include "policy.h"

PG_MODULE_MAGIC;

/*
 * Longest id or queue accepted, in bytes.  Both are keys of the membership
 * table's primary key, whose index entries must fit a third of a page.
 */
#define MAX_KEY_BYTES 1024

/* Columns of batchstate.batch. */
#define BATCH_NATTS 7

void		_PG_init(void);

void
_PG_init(void)
{
	store_init();
	app_init();
}

/* ---------------------------------------------------------------------
 * Argument checks.  A NULL raises 22004 naming the argument; a bad value
 * raises 22023.  Nothing has been written when they raise.
 * ---------------------------------------------------------------------
 */

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
 * A required text[]: at most one dimension, no NULL element, no empty
 * string; with states, every element must be a state name.
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

PG_FUNCTION_INFO_V1(batchstate_states);
Datum
batchstate_states(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (int i = 0; i < POLICY_NSTATES; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(policy_state_name(i));
		values[1] = BoolGetDatum(policy_is_terminal(i));
		values[2] = BoolGetDatum(policy_is_halted(i));
		values[3] = BoolGetDatum(policy_is_conflict(i));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(batchstate_is_valid_state);
Datum
batchstate_is_valid_state(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(policy_state_from_name(VARDATA_ANY(value),
										  VARSIZE_ANY_EXHDR(value))
				   != POLICY_NO_STATE);
}

PG_FUNCTION_INFO_V1(batchstate_is_terminal);
Datum
batchstate_is_terminal(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(policy_is_terminal(policy_arg(fcinfo, 0, "state")));
}

PG_FUNCTION_INFO_V1(batchstate_is_halted);
Datum
batchstate_is_halted(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(policy_is_halted(policy_arg(fcinfo, 0, "state")));
}

static Datum
state_set_datum(AppStateSet which)
{
	ArrayType  *set = app_state_set(which);

	/* a copy: the cached set is not ours to hand out */
	PG_RETURN_ARRAYTYPE_P(DatumGetArrayTypePCopy(PointerGetDatum(set)));
}

PG_FUNCTION_INFO_V1(batchstate_non_terminal_states);
Datum
batchstate_non_terminal_states(PG_FUNCTION_ARGS)
{
	(void) fcinfo;				/* no arguments */
	return state_set_datum(APP_NON_TERMINAL_STATES);
}

PG_FUNCTION_INFO_V1(batchstate_conflict_states);
Datum
batchstate_conflict_states(PG_FUNCTION_ARGS)
{
	(void) fcinfo;				/* no arguments */
	return state_set_datum(APP_CONFLICT_STATES);
}

PG_FUNCTION_INFO_V1(batchstate_can_transition);
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
Datum
batchstate_batch_get(PG_FUNCTION_ARGS)
{
	text	   *id = key_arg(fcinfo, 0, "id");
	BatchRow	row;

	app_batch_get(id, &row);
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
Datum
batchstate_batch_create(PG_FUNCTION_ARGS)
{
	BatchRow	row;

	batch_args(fcinfo, &row);
	app_batch_create(&row);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(batchstate_batch_update_state);
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

	require_all(fcinfo, args, lengthof(args));
	id = key_arg(fcinfo, 0, "id");
	old_version = version_arg(fcinfo, 1, "old_version");
	new_version = version_arg(fcinfo, 2, "new_version");
	new_state = state_arg(fcinfo, 3, "new_state");

	PG_RETURN_BOOL(app_batch_update(id, old_version, new_version, new_state,
									NULL));
}

PG_FUNCTION_INFO_V1(batchstate_batch_update_score_and_state);
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

	require_all(fcinfo, args, lengthof(args));
	id = key_arg(fcinfo, 0, "id");
	old_version = version_arg(fcinfo, 1, "old_version");
	new_version = version_arg(fcinfo, 2, "new_version");
	score = score_arg(fcinfo, 3, "score");
	new_state = state_arg(fcinfo, 4, "new_state");

	PG_RETURN_BOOL(app_batch_update(id, old_version, new_version, new_state,
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
Datum
batchstate_membership_add(PG_FUNCTION_ARGS)
{
	text	   *queue;
	text	   *state;
	text	   *batch_id;

	membership_args(fcinfo, &queue, &state, &batch_id);

	app_membership_add(queue, state, batch_id);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(batchstate_membership_remove);
Datum
batchstate_membership_remove(PG_FUNCTION_ARGS)
{
	text	   *queue;
	text	   *state;
	text	   *batch_id;

	membership_args(fcinfo, &queue, &state, &batch_id);

	app_membership_remove(queue, state, batch_id);
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
	app_membership_list_ids(queue, state, put_id, fcinfo->resultinfo);
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * The app layer
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(batchstate_create_batch);
Datum
batchstate_create_batch(PG_FUNCTION_ARGS)
{
	BatchRow	row;

	batch_args(fcinfo, &row);
	app_create_batch(&row);
	PG_RETURN_DATUM(batch_datum(fcinfo, &row));
}

PG_FUNCTION_INFO_V1(batchstate_update_state);
Datum
batchstate_update_state(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {"id", "expected_version", "new_state"};
	text	   *id;
	int32		expected_version;
	text	   *new_state;

	require_all(fcinfo, args, lengthof(args));
	id = key_arg(fcinfo, 0, "id");
	expected_version = version_arg(fcinfo, 1, "expected_version");
	new_state = state_arg(fcinfo, 2, "new_state");

	PG_RETURN_BOOL(app_update(id, expected_version, new_state, NULL));
}

PG_FUNCTION_INFO_V1(batchstate_update_score_and_state);
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

	require_all(fcinfo, args, lengthof(args));
	id = key_arg(fcinfo, 0, "id");
	expected_version = version_arg(fcinfo, 1, "expected_version");
	score = score_arg(fcinfo, 2, "score");
	new_state = state_arg(fcinfo, 3, "new_state");

	PG_RETURN_BOOL(app_update(id, expected_version, new_state, &score));
}

PG_FUNCTION_INFO_V1(batchstate_list_batches);
Datum
batchstate_list_batches(PG_FUNCTION_ARGS)
{
	static const char *const args[] = {"queue", "states"};
	text	   *queue;
	ArrayType  *states;

	require_all(fcinfo, args, lengthof(args));
	queue = key_arg(fcinfo, 0, "queue");
	states = text_array_arg(fcinfo, 1, "states", true);

	app_list(queue, states, put_batch, start_batch_set(fcinfo));
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(batchstate_list_active);
Datum
batchstate_list_active(PG_FUNCTION_ARGS)
{
	text	   *queue = key_arg(fcinfo, 0, "queue");

	app_list(queue, app_state_set(APP_NON_TERMINAL_STATES), put_batch,
			 start_batch_set(fcinfo));
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(batchstate_ensure_membership);
Datum
batchstate_ensure_membership(PG_FUNCTION_ARGS)
{
	text	   *id = key_arg(fcinfo, 0, "id");

	PG_RETURN_BOOL(app_ensure_membership(id));
}

/* The optional queue of verify and reconcile: NULL means every queue. */
static text *
scope_arg(FunctionCallInfo fcinfo)
{
	return PG_ARGISNULL(0) ? NULL : key_arg(fcinfo, 0, "queue");
}

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
Datum
batchstate_verify(PG_FUNCTION_ARGS)
{
	text	   *queue = scope_arg(fcinfo);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	app_verify(queue, put_drift, fcinfo->resultinfo);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(batchstate_reconcile);
Datum
batchstate_reconcile(PG_FUNCTION_ARGS)
{
	text	   *queue = scope_arg(fcinfo);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		added;
	int64		removed;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	app_reconcile(queue, &added, &removed);
	values[0] = Int64GetDatum(added);
	values[1] = Int64GetDatum(removed);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
