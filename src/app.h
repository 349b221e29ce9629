/*-------------------------------------------------------------------------
 * app.h
 *	  The app layer: the operations an orchestrator calls, composed from the
 *	  store (rows) and the policy (meaning).  It owns the protocol.
 *
 * Arguments arrive checked by the caller (non-NULL, non-empty, valid state
 * names, versions >= 1, one-dimensional arrays without NULLs); what can only
 * be known from the tables (a missing or taken id, a lost race, a forbidden
 * move) is decided and reported here.  Each function runs inside the
 * caller's transaction and either does all of its writes or raises an error.
 *
 * With batchstate.notify_channel set, every create and move made here (not
 * by the raw storage primitives) queues a NOTIFY with a JSON payload
 * {"id", "queue", "previous_state", "state", "version"}, delivered at commit.
 *-------------------------------------------------------------------------
 */
#ifndef BATCHSTATE_APP_H
#define BATCHSTATE_APP_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/array.h"

#include "store.h"

/* Receives rows, in order; values are valid during the call only. */
typedef void (*app_row_fn) (void *arg, const BatchRow *row);
typedef void (*app_id_fn) (void *arg, text *batch_id);
typedef void (*app_drift_fn) (void *arg, const char *problem, text *queue,
							  text *state, text *batch_id);
/* One row of app_queue_stats; oldest_since is NULL when batches is 0. */
typedef void (*app_stats_fn) (void *arg, text *queue, const char *state,
							  int64 batches, const TimestampTz *oldest_since);

/* Define the batchstate.notify_channel setting; called once from _PG_init. */
extern void app_init(void);

/*
 * A value as a C string for an error message: its first 64 bytes, cut at a
 * character boundary, with "..." when cut.
 */
extern char *app_shown(const char *data, int len);

/* Named sets of states, as text[] in policy order. */
typedef enum AppStateSet
{
	APP_NON_TERMINAL_STATES,
	APP_TERMINAL_STATES,
	APP_CONFLICT_STATES,
	APP_ACTIVE_STATES,
	APP_CANCELLABLE_STATES,
	APP_STATE_SET_COUNT
} AppStateSet;

/* The set as a text[] built once per backend; do not modify or free it. */
extern ArrayType *app_state_set(AppStateSet which);

/* --- raw storage primitives: no membership side effects, no rules --- */

/* Batch "id" into *row (memory of the caller's context); P0002 if none. */
extern void app_raw_get(text *id, BatchRow *row);

/* Insert *row and nothing else; 23505 if its id is taken. */
extern void app_raw_insert(const BatchRow *row);

/*
 * Compare-and-set state (and score when not NULL) from old_version to
 * new_version; false on a version mismatch, P0002 if the batch is missing.
 */
extern bool app_raw_cas(text *id, int32 old_version, int32 new_version,
						text *new_state, const double *score);

/* File, remove, or list the ids of membership rows, as they are. */
extern void app_raw_membership_add(text *queue, text *state, text *batch_id);
extern void app_raw_membership_remove(text *queue, text *state,
									  text *batch_id);
extern void app_raw_membership_ids(text *queue, text *state,
								   app_id_fn fn, void *arg);

/* --- the app layer proper: both tables in step --- */

/* Insert *row and file its membership (non-terminal state); 23505. */
extern void app_create_batch(const BatchRow *row);

/*
 * Move batch "id" from expected_version to new_state, replacing the fields
 * given (NULL members keep the batch's values): 22003 when the version
 * cannot grow, P0002 for a missing batch, false for another version, 55000
 * for a move the policy forbids.
 */
extern bool app_move_batch(text *id, int32 expected_version, text *new_state,
						   const MoveFields *fields);

/* Batches of "queue" currently in one of "states" (text[]), by id. */
extern void app_list_batches(text *queue, ArrayType *states,
							 app_row_fn fn, void *arg);

/*
 * Batches of "queue" whose "column" holds "element", in a non-terminal
 * state unless include_finished, by id; read from the batch rows.
 */
extern void app_batches_holding(StoreArray column, text *queue,
								text *element, bool include_finished,
								app_row_fn fn, void *arg);

/*
 * For "queue" (NULL: every queue holding a live batch), one row per
 * non-terminal state in policy order: the batches in it and the oldest
 * time one of them entered it.  Queues in byte order.
 */
extern void app_queue_stats(text *queue, app_stats_fn fn, void *arg);

/*
 * Batches of "queue" that have been in one of "states" (text[]) since
 * before "cutoff", oldest first.
 */
extern void app_stuck_batches(text *queue, TimestampTz cutoff,
							  ArrayType *states, app_row_fn fn, void *arg);

/* File batch "id" under its current state if live; true when added. */
extern bool app_ensure_membership(text *id);

/* Every drift, for "queue" or (NULL) all queues. */
extern void app_verify(text *queue, app_drift_fn fn, void *arg);

/* Repair what app_verify reports; counts of rows added and removed. */
extern void app_reconcile(text *queue, int64 *added, int64 *removed);

#endif							/* BATCHSTATE_APP_H */
