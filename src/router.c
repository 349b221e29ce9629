/*-------------------------------------------------------------------------
 * router.c
 *	  The deadline of a batchstate_router call: the router extension's one
 *	  piece of C, which ends a call that its shard does not answer in time.
 *
 * PL/Proxy bounds a call only in part.  Its query_timeout ends the wait for
 * a result, but nothing ends the wait for a connection (PL/Proxy reads no
 * connect timeout of its own, and libpq's connect_timeout does not apply to
 * PQconnectStart), and a cancel (statement_timeout, pg_cancel_backend) makes
 * it send the shard a cancel request, which waits as long as a stopped
 * shard does.  The one interrupt that PostgreSQL raises as an ordinary error
 * rather than as a cancel is the lock timeout: armed for the length of a
 * call, it ends the call with 55P03 wherever PL/Proxy is waiting, PL/Proxy
 * sends no cancel request, and the router's SQL wrapper turns the error into
 * one that names the shard.  The next call on the session's stale connection
 * makes PL/Proxy drop it and connect afresh.
 *
 * A deadline is armed inside the wrapper's exception block and disarmed when
 * that block's subtransaction ends, however it ends.  A lock wait inside the
 * call with lock_timeout set would take the timer over (PostgreSQL arms
 * LOCK_TIMEOUT itself then); the router takes no lock that waits, and
 * PL/Proxy's query_timeout, the same bound, still ends the wait for a
 * result.  The module also raises the renamed error (batchstate_router.raise).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

/* The foreign server of the cluster and the option that bounds a call. */
#define ROUTER_SERVER	"batchstate_shards"
#define ROUTER_TIMEOUT_OPTION "query_timeout"

/*
 * The armed deadline: its subtransaction (none when invalid), when it ends
 * and how long it was armed for.
 */
static SubTransactionId armed_subid = InvalidSubTransactionId;
static TimestampTz armed_until = 0;
static int	armed_ms = 0;

/* How long the last deadline was armed for, if it was reached; else 0. */
static int	expired_ms = 0;

static bool callbacks_registered = false;

/*
 * Disarm the deadline, noting whether it had been reached.  A deadline that
 * fired after the call had already ended leaves an interrupt not yet served:
 * it was this deadline's, so it goes too (a cancel sent by someone else in
 * the same instant goes with it).
 */
static void
router_disarm(void)
{
	if (armed_subid == InvalidSubTransactionId)
		return;
	expired_ms = GetCurrentTimestamp() >= armed_until ? armed_ms : 0;
	if (get_timeout_indicator(LOCK_TIMEOUT, true))
	{
		QueryCancelPending = false;
		expired_ms = armed_ms;
	}
	disable_timeout(LOCK_TIMEOUT, false);
	armed_subid = InvalidSubTransactionId;
}

/* The wrapper's block ends: disarm when it is the armed one's. */
static void
router_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	(void) parentSubid;
	(void) arg;
	if ((event == SUBXACT_EVENT_COMMIT_SUB || event == SUBXACT_EVENT_ABORT_SUB) &&
		mySubid == armed_subid)
		router_disarm();
}

/* The transaction ends: no deadline outlives it. */
static void
router_xact_callback(XactEvent event, void *arg)
{
	(void) event;
	(void) arg;
	router_disarm();
}

/* The cluster's query_timeout as last read; -1 when it must be read again. */
static int	cached_timeout = -1;

/* A foreign server changed: read the bound again at the next call. */
static void
router_server_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) arg;
	(void) cacheid;
	(void) hashvalue;
	cached_timeout = -1;
}

/* The call's bound in seconds: the cluster's query_timeout, 0 if none. */
static int
router_timeout(void)
{
	ForeignServer *server;
	ListCell   *lc;

	if (cached_timeout >= 0)
		return cached_timeout;
	cached_timeout = 0;
	server = GetForeignServerByName(ROUTER_SERVER, true);
	if (server == NULL)
		return cached_timeout;
	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		/* read as PL/Proxy reads it, and within what a timer takes */
		if (strcmp(def->defname, ROUTER_TIMEOUT_OPTION) == 0)
			cached_timeout = Min(Max(atoi(defGetString(def)), 0), INT_MAX / 1000);
	}
	return cached_timeout;
}

PG_FUNCTION_INFO_V1(batchstate_router_arm_deadline);

/*
 * batchstate_router.arm_deadline() returns integer: arm the deadline of the
 * call in progress, until the calling block's subtransaction ends, and
 * return it in milliseconds (0: none).  It is the cluster's query_timeout
 * from now, or less when the statement's own timeout comes first: that
 * one is a cancel, which PL/Proxy would pass on to a shard that does not
 * answer, and wait for.
 */
Datum
batchstate_router_arm_deadline(PG_FUNCTION_ARGS)
{
	int			ms;
	TimestampTz now = GetCurrentTimestamp();

	(void) fcinfo;				/* no arguments */
	if (!IsSubTransaction())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("arm_deadline must be called in a block with an exception handler"),
				 errdetail("The deadline ends when the block's subtransaction does.")));
	if (!callbacks_registered)
	{
		RegisterSubXactCallback(router_subxact_callback, NULL);
		RegisterXactCallback(router_xact_callback, NULL);
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, router_server_changed, (Datum) 0);
		callbacks_registered = true;
	}
	ms = router_timeout() * 1000;
	router_disarm();
	expired_ms = 0;
	if (ms <= 0)
		PG_RETURN_INT32(0);
	if (get_timeout_active(STATEMENT_TIMEOUT))
	{
		/*
		 * Early enough (up to 50 ms) that the error naming the shard is
		 * raised before the statement's timeout interrupts it.
		 */
		long		secs;
		int			usecs;
		long		left;

		TimestampDifference(now, get_timeout_finish_time(STATEMENT_TIMEOUT),
							&secs, &usecs);
		left = secs * 1000 + usecs / 1000;
		left -= Min(50, left / 10);
		if (left < ms)
			ms = (int) Max(left, 1);
	}
	armed_subid = GetCurrentSubTransactionId();
	armed_ms = ms;
	armed_until = TimestampTzPlusMilliseconds(now, ms);
	enable_timeout_after(LOCK_TIMEOUT, ms);
	PG_RETURN_INT32(ms);
}

PG_FUNCTION_INFO_V1(batchstate_router_expired_deadline);

/*
 * batchstate_router.expired_deadline() returns integer: when the last
 * call's deadline was reached before its block ended, how long it was
 * armed for in milliseconds; otherwise NULL.
 */
Datum
batchstate_router_expired_deadline(PG_FUNCTION_ARGS)
{
	if (expired_ms == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(expired_ms);
}

PG_FUNCTION_INFO_V1(batchstate_router_raise);

/*
 * batchstate_router.raise(sqlstate text, message text, detail text, hint
 * text): raise an error with that SQLSTATE and message, and the detail and
 * the hint when they are not null (PL/pgSQL's RAISE cannot leave out an
 * option by its value).  Without context lines: they would show the
 * router's own PL/pgSQL, not where the error happened.
 */
Datum
batchstate_router_raise(PG_FUNCTION_ARGS)
{
	char	   *sqlstate;
	char	   *message;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("arguments \"sqlstate\" and \"message\" must not be null")));
	sqlstate = text_to_cstring(PG_GETARG_TEXT_PP(0));
	message = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strlen(sqlstate) != 5 ||
		strspn(sqlstate, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 5)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid SQLSTATE code \"%s\"", sqlstate)));
	error_context_stack = NULL;
	ereport(ERROR,
			(errcode(MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2],
								   sqlstate[3], sqlstate[4])),
			 errmsg_internal("%s", message),
			 PG_ARGISNULL(2) ? 0 :
			 errdetail_internal("%s", text_to_cstring(PG_GETARG_TEXT_PP(2))),
			 PG_ARGISNULL(3) ? 0 :
			 errhint("%s", text_to_cstring(PG_GETARG_TEXT_PP(3)))));
	PG_RETURN_VOID();
}
