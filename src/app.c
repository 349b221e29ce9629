/*-------------------------------------------------------------------------
 * app.c
 *	  The batchstate protocol: create, move, list, verify and reconcile,
 *	  keeping the batch rows and their membership hints in step.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "app.h"
#include "policy.h"

/* Longest id shown in an error message before it is cut. */
#define SHOWN_BYTES 64

/* batchstate.notify_channel: where to NOTIFY state changes ("" = off). */
static char *notify_channel = NULL;

/* Accept a channel name NOTIFY can take (under NAMEDATALEN bytes). */
static bool
check_notify_channel(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	if (*newval != NULL && strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("A channel name is at most %d bytes.",
							NAMEDATALEN - 1);
		return false;
	}
	return true;
}

/* Define batchstate.notify_channel and reserve the batchstate prefix. */
void
app_init(void)
{
	DefineCustomStringVariable("batchstate.notify_channel",
							   "Channel on which every committed create and "
							   "state change is sent with NOTIFY.",
							   "Empty (the default) sends nothing.",
							   &notify_channel,
							   "",
							   PGC_USERSET,
							   0,
							   check_notify_channel,
							   NULL,
							   NULL);
	MarkGUCPrefixReserved("batchstate");
}

/* Append "key":value (a JSON string or null) to buf, then a comma unless last. */
static void
json_field(StringInfo buf, const char *key, text *value, bool last)
{
	escape_json(buf, key);
	appendStringInfoChar(buf, ':');
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, text_to_cstring(value));
	if (!last)
		appendStringInfoChar(buf, ',');
}

/* Whether changes are to be sent with NOTIFY. */
static bool
notifying(void)
{
	return notify_channel != NULL && notify_channel[0] != '\0';
}

/*
 * NOTIFY refuses a payload of 8000 bytes or more.  Only ids and queues full
 * of characters that JSON escapes to six bytes come near it; then the queue
 * is left out (the id alone names the batch).
 */
#define NOTIFY_PAYLOAD_LIMIT 8000

/* The JSON payload of a change into buf, with or without the queue. */
static void
build_payload(StringInfo buf, text *id, text *queue, text *previous,
			  text *state, int32 version, bool with_queue)
{
	resetStringInfo(buf);
	appendStringInfoChar(buf, '{');
	json_field(buf, "id", id, false);
	if (with_queue)
		json_field(buf, "queue", queue, false);
	json_field(buf, "previous_state", previous, false);
	json_field(buf, "state", state, false);
	appendStringInfo(buf, "\"version\":%d}", version);
}

/*
 * Queue a notification of a create (previous NULL) or a move.  NOTIFY is
 * transactional: it is delivered at commit and dropped on rollback.
 */
static void
notify_change(text *id, text *queue, text *previous, text *state,
			  int32 version)
{
	StringInfoData buf;

	if (!notifying())
		return;

	initStringInfo(&buf);
	build_payload(&buf, id, queue, previous, state, version, true);
	if (buf.len >= NOTIFY_PAYLOAD_LIMIT)
		build_payload(&buf, id, queue, previous, state, version, false);
	Async_Notify(notify_channel, buf.data);
	pfree(buf.data);
}

/* A value cut to its first 64 bytes for a message (see app.h). */
char *
app_shown(const char *data, int len)
{
	int			cut = pg_mbcliplen(data, len, SHOWN_BYTES);

	return psprintf("%.*s%s", cut, data, cut < len ? "..." : "");
}

/* A text value as app_shown shows it. */
static char *
shown(text *t)
{
	return app_shown(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/* The policy number of a state name (POLICY_NO_STATE if none). */
static int
state_of(text *state)
{
	return policy_state_from_name(VARDATA_ANY(state),
								  VARSIZE_ANY_EXHDR(state));
}

/* A copy in "cxt" of a (detoasted, possibly short-header) text value. */
static text *
copy_text(MemoryContext cxt, text *t)
{
	Size		size = VARSIZE_ANY(t);
	text	   *copy = MemoryContextAlloc(cxt, size);

	memcpy(copy, t, size);
	return copy;
}

/* Whether two text values hold the same bytes. */
static bool
text_equal(text *a, text *b)
{
	Size		len = VARSIZE_ANY_EXHDR(a);

	return len == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), len) == 0;
}

/* Raise P0002 for a batch that does not exist. */
static void
report_missing(text *id)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("batch \"%s\" does not exist", shown(id))));
}

/* Raise 23505 for a batch id that is taken. */
static void
report_taken(text *id)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg("batch \"%s\" already exists", shown(id))));
}

/* Whether state number "state" belongs to set "which". */
static bool
in_state_set(AppStateSet which, int state)
{
	switch (which)
	{
		case APP_NON_TERMINAL_STATES:
			return !policy_is_terminal(state);
		case APP_TERMINAL_STATES:
			return policy_is_terminal(state);
		case APP_CONFLICT_STATES:
			return policy_is_conflict(state);
		case APP_ACTIVE_STATES:
			return policy_is_active(state);
		case APP_CANCELLABLE_STATES:
			return policy_is_cancellable(state);
		case APP_STATE_SET_COUNT:
			break;
	}
	elog(ERROR, "unknown batchstate state set %d", (int) which);
	return false;				/* keep the compiler quiet */
}

/* The set as a text[] in policy order, built once per backend. */
ArrayType *
app_state_set(AppStateSet which)
{
	static ArrayType *sets[APP_STATE_SET_COUNT];

	if (sets[which] == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		Datum		names[POLICY_NSTATES];
		int			n = 0;

		for (int i = 0; i < POLICY_NSTATES; i++)
		{
			if (in_state_set(which, i))
				names[n++] = CStringGetTextDatum(policy_state_name(i));
		}
		sets[which] = construct_array(names, n, TEXTOID, -1, false,
									  TYPALIGN_INT);
		for (int i = 0; i < n; i++)
			pfree(DatumGetPointer(names[i]));
		MemoryContextSwitchTo(old);
	}
	return sets[which];
}

/* The name of a state as a text value, built once per backend. */
static text *
state_text(int state)
{
	static text *names[POLICY_NSTATES];

	if (names[state] == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		names[state] = cstring_to_text(policy_state_name(state));
		MemoryContextSwitchTo(old);
	}
	return names[state];
}

/* ---------------------------------------------------------------------
 * Storage primitives
 * ---------------------------------------------------------------------
 */

/* Read batch "id"; P0002 if there is none. */
void
app_raw_get(text *id, BatchRow *row)
{
	bool		found;

	store_open();
	found = store_batch_get(id, row);
	store_close();
	if (!found)
		report_missing(id);
}

/* Insert the batch row alone; 23505 for a taken id. */
void
app_raw_insert(const BatchRow *row)
{
	store_open();
	store_batch_insert(row, NULL, report_taken);
	store_close();
}

/* The primitives' compare-and-set; P0002 when the batch is missing. */
bool
app_raw_cas(text *id, int32 old_version, int32 new_version,
			text *new_state, const double *score)
{
	bool		written;
	bool		exists = true;

	store_open();
	written = store_batch_cas(id, old_version, new_version, new_state, score);
	if (!written)
		exists = store_batch_exists(id);
	store_close();
	if (!exists)
		report_missing(id);
	return written;
}

/* File a membership row, idempotently. */
void
app_raw_membership_add(text *queue, text *state, text *batch_id)
{
	store_open();
	store_membership_add(queue, state, batch_id);
	store_close();
}

/* Remove a membership row, idempotently. */
void
app_raw_membership_remove(text *queue, text *state, text *batch_id)
{
	store_open();
	store_membership_remove(queue, state, batch_id);
	store_close();
}

/* The ids filed under (queue, state), in byte order. */
void
app_raw_membership_ids(text *queue, text *state, app_id_fn fn, void *arg)
{
	store_open();
	store_membership_ids(queue, state, fn, arg);
	store_close();
}

/* ---------------------------------------------------------------------
 * Create and move
 * ---------------------------------------------------------------------
 */

/* Insert the batch row and file it (a non-terminal state); notify. */
void
app_create_batch(const BatchRow *row)
{
	text	   *member = policy_is_terminal(state_of(row->state)) ? NULL : row->state;

	store_open();
	store_batch_insert(row, member, report_taken);
	store_close();
	notify_change(row->id, row->queue, NULL, row->state, row->version);
}

/* Raise 55000 for a move the policy forbids, saying which moves it allows. */
static void
report_forbidden(text *id, text *from_text, int from, int to)
{
	char		moves[128];

	if (from == POLICY_NO_STATE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("batch \"%s\" cannot move to \"%s\"",
						shown(id), policy_state_name(to)),
				 errdetail("Its state \"%s\" is not a batch state.",
						   shown(from_text))));
	if (policy_is_terminal(from))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("batch \"%s\" cannot move from \"%s\" to \"%s\"",
						shown(id), policy_state_name(from),
						policy_state_name(to)),
				 errdetail("State \"%s\" is terminal.",
						   policy_state_name(from))));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("batch \"%s\" cannot move from \"%s\" to \"%s\"",
					shown(id), policy_state_name(from), policy_state_name(to)),
			 errdetail("From \"%s\" a batch may move to: %s.",
					   policy_state_name(from),
					   policy_moves_list(from, moves, sizeof(moves)))));
}

/*
 * A backend's memory of where moves come from, per target state: the state
 * that the last move into it which had to be looked up came from.  See
 * app_move_batch.
 */
typedef struct LastFrom
{
	bool		known;			/* a move into the state was looked up */
	int			from;			/* the state it came from */
} LastFrom;

static LastFrom last_from[POLICY_NSTATES];

/*
 * The state a move to "to" most likely comes from: the one the last looked
 * up move into "to" came from, else the first state in policy order that
 * may move there.  Always one the policy lets move to "to", or
 * POLICY_NO_STATE if there is none.
 */
static int
guess_from(int to)
{
	if (last_from[to].known)
		return last_from[to].from;
	for (int i = 0; i < POLICY_NSTATES; i++)
	{
		if (i != to && policy_can_transition(i, to))
			return i;
	}
	return policy_can_transition(to, to) ? to : POLICY_NO_STATE;
}

/* store_batch_move of batch "id" from state "from" to state "to". */
static bool
move(text *id, int32 expected_version, int from, int to, text *new_state,
	 const MoveFields *fields, text **queue, bool *removed)
{
	StoreMove	kind;

	if (policy_is_terminal(to))
		kind = STORE_MOVE_END;
	else if (from == to)
		kind = STORE_MOVE_SELF;
	else
		kind = STORE_MOVE_FILE;
	return store_batch_move(id, expected_version, expected_version + 1,
							new_state, fields, state_text(from), kind,
							queue, removed);
}

/*
 * Move batch "id".  The common case is one statement, which writes the row
 * and moves its membership if the batch has expected_version and the state
 * that guess_from names.  When it wrote nothing, the batch row is locked
 * and the reason is decided on its newest committed version: missing,
 * another version (false), a move the policy forbids.  Otherwise the guess
 * was wrong, and the same statement runs with the state the row has, which
 * nobody can change now; that state becomes the next guess.  A stream of
 * batches through one lifecycle thus makes each move in one statement.
 *
 * The move statement's snapshot can predate its wait for the row lock, so
 * it cannot see a row that the lock's previous holder (ensure_membership,
 * reconcile) filed meanwhile.  When it removed nothing, a statement of its
 * own, which sees every row committed before the lock was granted, removes
 * the row again.
 */
bool
app_move_batch(text *id, int32 expected_version, text *new_state,
			   const MoveFields *fields)
{
	int			to = state_of(new_state);
	int			from = guess_from(to);
	text	   *queue;
	bool		removed;

	if (expected_version == PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("argument \"expected_version\" must be less than %d",
						PG_INT32_MAX),
				 errdetail("The new version, expected_version + 1, would be out of range for type integer.")));

	store_open();
	if (from == POLICY_NO_STATE ||
		!move(id, expected_version, from, to, new_state, fields,
			  &queue, &removed))
	{
		BatchHead	row;

		if (!store_batch_lock(id, &row))
			report_missing(id);
		if (row.version != expected_version)
		{
			store_close();
			return false;
		}
		from = state_of(row.state);
		if (!policy_can_transition(from, to))
			report_forbidden(id, row.state, from, to);
		if (!move(id, expected_version, from, to, new_state, fields,
				  &queue, &removed))
			elog(ERROR, "batchstate: locked batch \"%s\" changed under us",
				 shown(id));
		last_from[to].known = true;
		last_from[to].from = from;
	}
	if (!removed && from != to)
		store_membership_remove(queue, state_text(from), id);
	notify_change(id, queue, state_text(from), new_state, expected_version + 1);
	store_close();
	return true;
}

/* ---------------------------------------------------------------------
 * List
 * ---------------------------------------------------------------------
 */

typedef struct PruneItem
{
	text	   *state;
	text	   *batch_id;
} PruneItem;

typedef struct ListState
{
	app_row_fn	fn;
	void	   *arg;
	MemoryContext cxt;			/* for the prune list */
	PruneItem  *prune;			/* membership rows of terminal batches */
	int			nprune;
	int			maxprune;
} ListState;

/*
 * One resolved membership row of a list: passed on if current, kept for
 * pruning if its batch is terminal.
 */
static void
list_candidate(void *arg, const BatchRow *row, text *member_state, bool current)
{
	ListState  *ls = (ListState *) arg;

	if (current)
		ls->fn(ls->arg, row);
	if (policy_is_terminal(state_of(row->state)))
	{
		if (ls->nprune == ls->maxprune)
		{
			ls->maxprune = Max(8, ls->maxprune * 2);
			ls->prune = ls->prune
				? repalloc(ls->prune, ls->maxprune * sizeof(PruneItem))
				: MemoryContextAlloc(ls->cxt, ls->maxprune * sizeof(PruneItem));
		}
		/* copies: the row is gone after this call */
		ls->prune[ls->nprune].state = copy_text(ls->cxt, member_state);
		ls->prune[ls->nprune].batch_id = copy_text(ls->cxt, row->id);
		ls->nprune++;
	}
}

/*
 * Remove the membership rows of terminal batches found by a list, as a
 * courtesy to later readers.  Best effort: never in a read-only transaction
 * or on a standby, never without the privileges, never waiting on a row
 * lock (the store skips locked rows), and never failing the read: any error
 * rolls back a subtransaction and is dropped (a query cancel still cancels).
 */
static void
prune_terminal_rows(text *queue, ListState *ls)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	if (XactReadOnly || RecoveryInProgress() || !store_may_prune())
		return;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		ArrayType  *terminal = app_state_set(APP_TERMINAL_STATES);

		for (int i = 0; i < ls->nprune; i++)
			store_membership_prune(queue, ls->prune[i].state,
								   ls->prune[i].batch_id, terminal);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;

		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		ereport(DEBUG1,
				(errmsg_internal("batchstate: membership prune skipped: %s",
								 edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/* The batches of queue currently in one of states; prunes what it can. */
void
app_list_batches(text *queue, ArrayType *states, app_row_fn fn, void *arg)
{
	ListState	ls = {fn, arg, NULL, NULL, 0, 0};

	if (ArrayGetNItems(ARR_NDIM(states), ARR_DIMS(states)) == 0)
		return;

	store_open();
	ls.cxt = CurrentMemoryContext;	/* lives until store_close() */
	store_candidates(queue, states, app_state_set(APP_TERMINAL_STATES),
					 list_candidate, &ls);
	if (ls.nprune > 0)
		prune_terminal_rows(queue, &ls);
	store_close();
}

/* ---------------------------------------------------------------------
 * The controller's questions, answered from the batch rows
 * ---------------------------------------------------------------------
 */

/* The batches of queue whose column holds element (live unless asked). */
void
app_batches_holding(StoreArray column, text *queue, text *element,
					bool include_finished, app_row_fn fn, void *arg)
{
	ArrayType  *states = include_finished
		? NULL : app_state_set(APP_NON_TERMINAL_STATES);

	store_open();
	store_batches_holding(column, queue, element, states, fn, arg);
	store_close();
}

/* The counts of one queue, gathered state by state before they are sent. */
typedef struct QueueStats
{
	app_stats_fn fn;
	void	   *arg;
	MemoryContext cxt;			/* for the queue's name */
	text	   *queue;			/* the queue gathered; NULL: none yet */
	int64		batches[POLICY_NSTATES];
	TimestampTz oldest[POLICY_NSTATES];
} QueueStats;

/* Send the gathered queue: one row per non-terminal state, then forget it. */
static void
send_queue_stats(QueueStats *qs)
{
	if (qs->queue == NULL)
		return;
	for (int i = 0; i < POLICY_NSTATES; i++)
	{
		if (policy_is_terminal(i))
			continue;
		qs->fn(qs->arg, qs->queue, policy_state_name(i), qs->batches[i],
			   qs->batches[i] > 0 ? &qs->oldest[i] : NULL);
	}
	pfree(qs->queue);
	qs->queue = NULL;
}

/* Start gathering "queue": every state at zero. */
static void
begin_queue_stats(QueueStats *qs, text *queue)
{
	qs->queue = copy_text(qs->cxt, queue);
	memset(qs->batches, 0, sizeof(qs->batches));
	memset(qs->oldest, 0, sizeof(qs->oldest));
}

/* One count from the store; rows of a queue arrive together. */
static void
gather_count(void *arg, text *queue, text *state, int64 batches,
			 TimestampTz oldest_since)
{
	QueueStats *qs = (QueueStats *) arg;
	int			i = state_of(state);

	if (qs->queue == NULL || !text_equal(qs->queue, queue))
	{
		send_queue_stats(qs);
		begin_queue_stats(qs, queue);
	}
	if (i == POLICY_NO_STATE)
		return;					/* the store was asked for states only */
	qs->batches[i] = batches;
	qs->oldest[i] = oldest_since;
}

/* Per queue and non-terminal state: the batches in it and since when. */
void
app_queue_stats(text *queue, app_stats_fn fn, void *arg)
{
	QueueStats	qs = {0};

	qs.fn = fn;
	qs.arg = arg;

	store_open();
	qs.cxt = CurrentMemoryContext;	/* lives until store_close() */
	if (queue)
		begin_queue_stats(&qs, queue);
	store_state_counts(queue, app_state_set(APP_NON_TERMINAL_STATES),
					   gather_count, &qs);
	send_queue_stats(&qs);
	store_close();
}

/* The batches of queue in one of states since before cutoff, oldest first. */
void
app_stuck_batches(text *queue, TimestampTz cutoff, ArrayType *states,
				  app_row_fn fn, void *arg)
{
	if (ArrayGetNItems(ARR_NDIM(states), ARR_DIMS(states)) == 0)
		return;

	store_open();
	store_filed_before(queue, states, cutoff, fn, arg);
	store_close();
}

/* ---------------------------------------------------------------------
 * Repair
 * ---------------------------------------------------------------------
 */

/* File batch "id" under its current state if live; true when added. */
bool
app_ensure_membership(text *id)
{
	BatchHead	row;
	int			state;
	bool		added = false;

	store_open();
	if (!store_batch_lock(id, &row))
		report_missing(id);
	state = state_of(row.state);
	if (state != POLICY_NO_STATE && !policy_is_terminal(state))
		added = store_membership_add(row.queue, row.state, id);
	store_close();
	return added;
}

typedef struct VerifyState
{
	app_drift_fn fn;
	void	   *arg;
} VerifyState;

static const char *const drift_names[] = {
	[STORE_DRIFT_MISSING] = "missing",
	[STORE_DRIFT_STALE] = "stale",
	[STORE_DRIFT_DANGLING] = "dangling",
};

/* Pass one drift on under its problem name. */
static void
verify_drift(void *arg, StoreDrift kind, text *queue, text *state,
			 text *batch_id)
{
	VerifyState *vs = (VerifyState *) arg;

	vs->fn(vs->arg, drift_names[kind], queue, state, batch_id);
}

/* Every drift of the queue (NULL: all), in order. */
void
app_verify(text *queue, app_drift_fn fn, void *arg)
{
	VerifyState vs = {fn, arg};

	store_open();
	store_drift(queue, app_state_set(APP_NON_TERMINAL_STATES),
				verify_drift, &vs);
	store_close();
}

typedef struct DriftItem
{
	StoreDrift	kind;
	text	   *queue;
	text	   *state;
	text	   *batch_id;
} DriftItem;

typedef struct DriftList
{
	MemoryContext cxt;			/* for the items */
	DriftItem  *items;
	int			n;
	int			max;
} DriftList;

/* Copy one drift into the list of drift to repair. */
static void
collect_drift(void *arg, StoreDrift kind, text *queue, text *state,
			  text *batch_id)
{
	DriftList  *dl = (DriftList *) arg;

	if (dl->n == dl->max)
	{
		dl->max = Max(16, dl->max * 2);
		dl->items = dl->items
			? repalloc(dl->items, dl->max * sizeof(DriftItem))
			: MemoryContextAlloc(dl->cxt, dl->max * sizeof(DriftItem));
	}
	/* copies: the row is gone after this call */
	dl->items[dl->n].kind = kind;
	dl->items[dl->n].queue = copy_text(dl->cxt, queue);
	dl->items[dl->n].state = copy_text(dl->cxt, state);
	dl->items[dl->n].batch_id = copy_text(dl->cxt, batch_id);
	dl->n++;
}

/* Order drift items by batch id, in byte order. */
static int
compare_ids(const void *a, const void *b)
{
	text	   *x = ((const DriftItem *) a)->batch_id;
	text	   *y = ((const DriftItem *) b)->batch_id;
	Size		lx = VARSIZE_ANY_EXHDR(x);
	Size		ly = VARSIZE_ANY_EXHDR(y);
	int			c = memcmp(VARDATA_ANY(x), VARDATA_ANY(y), Min(lx, ly));

	if (c != 0)
		return c;
	return (lx > ly) - (lx < ly);
}

/*
 * Repair the drift of one batch id (items[0 .. n-1]).  The batch row is
 * locked first, as update_state locks it, so a concurrent move either
 * finished before (and we see its result) or waits for us; the repair is
 * decided on the newest committed row, not on the drift snapshot.
 */
static void
repair_batch(text *scope, DriftItem *items, int n,
			 int64 *added, int64 *removed)
{
	BatchHead	row;
	bool		exists = store_batch_lock(items[0].batch_id, &row);
	int			state = exists ? state_of(row.state) : POLICY_NO_STATE;
	bool		live = state != POLICY_NO_STATE && !policy_is_terminal(state);

	for (int i = 0; i < n; i++)
	{
		DriftItem  *item = &items[i];

		if (item->kind == STORE_DRIFT_MISSING)
			continue;
		if (live && text_equal(item->queue, row.queue) &&
			text_equal(item->state, row.state))
			continue;			/* the batch moved into this row meanwhile */
		if (store_membership_remove(item->queue, item->state, item->batch_id))
			(*removed)++;
	}
	if (live && (scope == NULL || text_equal(scope, row.queue)))
	{
		if (store_membership_add(row.queue, row.state, items[0].batch_id))
			(*added)++;
	}
}

/* Repair every drift of the queue (NULL: all), a batch at a time, by id. */
void
app_reconcile(text *queue, int64 *added, int64 *removed)
{
	DriftList	dl = {NULL, NULL, 0, 0};
	int			start = 0;

	*added = 0;
	*removed = 0;

	store_open();
	dl.cxt = CurrentMemoryContext;	/* lives until store_close() */
	store_drift(queue, app_state_set(APP_NON_TERMINAL_STATES),
				collect_drift, &dl);

	/* one batch at a time, in id order, so two reconciles cannot deadlock */
	if (dl.n > 1)
		qsort(dl.items, dl.n, sizeof(DriftItem), compare_ids);
	while (start < dl.n)
	{
		int			end = start + 1;

		while (end < dl.n && compare_ids(&dl.items[start], &dl.items[end]) == 0)
			end++;
		repair_batch(queue, &dl.items[start], end - start, added, removed);
		start = end;
	}
	store_close();
}
