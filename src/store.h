/*-------------------------------------------------------------------------
 * store.h
 *	  SPI over batchstate.batch and batchstate.batch_state_membership.
 *	  Rows in, rows out: nothing here knows what a state means.
 *
 * Every operation runs between store_open() and store_close() (one SPI
 * connection, possibly spanning several operations of one call).  Plans are
 * prepared on first use and kept for the life of the backend.  Statements
 * that reach their rows by key are planned under the planner guard
 * (guard.h), so their cost follows the rows they touch whatever the table
 * statistics say.  Every SQL text names its schema, its operators and its
 * collation, so no search_path can redirect it.
 *
 * Text values are passed and returned as text pointers.  Values returned
 * inside a BatchRow live in SPI memory until store_close(), unless the
 * function says it copies them out.  Callbacks run in a memory context
 * that is reset after every row, and the values passed to them live only
 * during the call (results are read through a cursor, a chunk at a time):
 * what must outlive a row goes into a context of the caller's.
 *-------------------------------------------------------------------------
 */
#ifndef BATCHSTATE_STORE_H
#define BATCHSTATE_STORE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/array.h"

/* One batchstate.batch row. */
typedef struct BatchRow
{
	text	   *id;
	text	   *queue;
	ArrayType  *contains;		/* text[] */
	ArrayType  *dependencies;	/* text[] */
	double		score;
	text	   *state;
	int32		version;
} BatchRow;

/* Receives result rows in order; values are valid during the call only. */
typedef void (*store_row_fn) (void *arg, const BatchRow *row);

/* Bracket a group of operations with one SPI connection. */
extern void store_open(void);
extern void store_close(void);

/*
 * Read batch "id" into *row, copied into the memory context that was
 * current at store_open(); false if there is none.  (Reads only.)
 */
extern bool store_batch_get(text *id, BatchRow *row);

/* What a move of a batch depends on. */
typedef struct BatchHead
{
	text	   *queue;
	text	   *state;
	int32		version;
} BatchHead;

/*
 * Lock batch "id" FOR NO KEY UPDATE, waiting for a concurrent writer, and
 * read its newest committed version into *head (SPI memory); false if there
 * is none.
 */
extern bool store_batch_lock(text *id, BatchHead *head);

/* Does batch "id" exist?  (Reads only.) */
extern bool store_batch_exists(text *id);

/* Raises the caller's error about batch "id"; never returns. */
typedef void (*StoreReportFn) (text *id);

/*
 * Insert *row.  When member_state is not NULL, the same statement also
 * files membership row (row->queue, member_state, row->id), idempotently.
 * An id that exists (or that a concurrent transaction inserted and then
 * committed) raises the error taken(row->id) raises.
 */
extern void store_batch_insert(const BatchRow *row, text *member_state,
							   StoreReportFn taken);

/*
 * Compare-and-set: if batch "id" has version old_version, set its state,
 * version and (when score is not NULL) score.  True when the row was written.
 */
extern bool store_batch_cas(text *id, int32 old_version, int32 new_version,
							text *new_state, const double *score);

/*
 * The fields a move may replace besides its state and version; a NULL
 * member keeps the batch's value.
 */
typedef struct MoveFields
{
	const double *score;
	ArrayType  *contains;		/* text[] */
	ArrayType  *dependencies;	/* text[] */
} MoveFields;

/* What a move does with the batch's membership rows. */
typedef enum StoreMove
{
	STORE_MOVE_FILE,			/* remove the row under from_state, file one
								 * under new_state */
	STORE_MOVE_END,				/* remove it only (new_state is terminal) */
	STORE_MOVE_SELF				/* file it again (from_state is new_state) */
} StoreMove;

/*
 * The whole of a move in one statement: if batch "id" has version
 * old_version and state from_state, set its state, version and the fields
 * given, and treat its membership rows as "kind" says; a row is filed
 * idempotently.  True when the row was written; then *queue is the batch's
 * queue (SPI memory) and *removed says whether a row was removed.  The
 * statement's snapshot may predate its wait for the row lock, so it may
 * miss a row that the lock's previous holder filed: a caller for whom
 * *removed is false removes it again with store_membership_remove.
 */
extern bool store_batch_move(text *id, int32 old_version, int32 new_version,
							 text *new_state, const MoveFields *fields,
							 text *from_state, StoreMove kind,
							 text **queue, bool *removed);

/* File / remove one membership row; true when a row was added / removed. */
extern bool store_membership_add(text *queue, text *state, text *batch_id);
extern bool store_membership_remove(text *queue, text *state, text *batch_id);

/* Callback for store_membership_ids: one batch id, in byte order. */
typedef void (*store_id_fn) (void *arg, text *batch_id);

/* The batch ids filed under (queue, state), ordered COLLATE "C". */
extern void store_membership_ids(text *queue, text *state,
								 store_id_fn fn, void *arg);

/*
 * Callback for store_candidates: the batch a membership row of the queue
 * points at, the state the row is filed under, and whether the batch is
 * currently in that state.
 */
typedef void (*store_candidate_fn) (void *arg, const BatchRow *row,
									text *member_state, bool current);

/*
 * Resolve the membership rows of "queue" under any of "states" (text[])
 * against their batches in one statement, ordered by batch id COLLATE "C".
 * Only batches of the same queue whose state is the row's state, or one of
 * "also_states" (text[]), are passed to fn.  Dangling rows are never passed.
 */
extern void store_candidates(text *queue, ArrayType *states,
							 ArrayType *also_states,
							 store_candidate_fn fn, void *arg);

/*
 * Remove membership row (queue, state, batch_id) if its batch (in the same
 * queue) is in one of "batch_states" (text[]).  Never waits: when someone
 * else holds the membership row or the batch row, the row is left alone.
 * True when the row was removed.
 */
extern bool store_membership_prune(text *queue, text *state, text *batch_id,
								   ArrayType *batch_states);

/* May the current user run store_membership_prune (it locks both rows)? */
extern bool store_may_prune(void);

/* An array column of batchstate.batch, searched through its GIN index. */
typedef enum StoreArray
{
	STORE_CONTAINS,
	STORE_DEPENDENCIES
} StoreArray;

/*
 * The batches of "queue" whose array column "column" holds "element", in
 * one of "states" (text[]) or, with states NULL, in any state; each once,
 * ordered by id COLLATE "C".  Read from the batch rows themselves, through
 * the column's GIN index.  (Reads only.)
 */
extern void store_batches_holding(StoreArray column, text *queue,
								  text *element, ArrayType *states,
								  store_row_fn fn, void *arg);

/* Callback for store_state_counts. */
typedef void (*store_count_fn) (void *arg, text *queue, text *state,
								int64 batches, TimestampTz oldest_since);

/*
 * For "queue" (NULL: every queue) and each of "states" (text[]) that holds
 * a batch: how many batches are filed under the state and currently in it,
 * and the oldest "since" of their membership rows.  Ordered by queue
 * COLLATE "C"; the states of a queue come in no particular order.  Nothing
 * is pruned.  (Reads only.)
 */
extern void store_state_counts(text *queue, ArrayType *states,
							   store_count_fn fn, void *arg);

/*
 * The batches of "queue" filed under one of "states" (text[]) before
 * "cutoff" and currently in the state they are filed under, oldest row
 * first (ties by id COLLATE "C").  (Reads only.)
 */
extern void store_filed_before(text *queue, ArrayType *states,
							   TimestampTz cutoff,
							   store_row_fn fn, void *arg);

/* Kinds of drift reported by store_drift. */
typedef enum StoreDrift
{
	STORE_DRIFT_MISSING,		/* batch in a live state, no row under it */
	STORE_DRIFT_STALE,			/* row under a state that admits no row */
	STORE_DRIFT_DANGLING		/* row whose batch is missing or elsewhere */
} StoreDrift;

typedef void (*store_drift_fn) (void *arg, StoreDrift kind, text *queue,
								text *state, text *batch_id);

/*
 * Every drift between the two tables, for one queue or (queue NULL) all,
 * given the states that admit a membership row ("live_states", text[]).
 * Ordered by queue, batch id, state (COLLATE "C"), then kind.  Reads only.
 */
extern void store_drift(text *queue, ArrayType *live_states,
						store_drift_fn fn, void *arg);

#endif							/* BATCHSTATE_STORE_H */
