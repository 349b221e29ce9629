/*-------------------------------------------------------------------------
 * guard.c
 *	  The planner guard (guard.h): a planner hook that plans the one
 *	  statement batchstate is about to run on its indexes.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "optimizer/cost.h"
#include "optimizer/planner.h"

#include "guard.h"

/* The statement armed for and its level; GUARD_NONE when disarmed. */
static GuardLevel armed = GUARD_NONE;
static const char *armed_sql = NULL;

static planner_hook_type prev_planner_hook = NULL;

/*
 * Plan "parse", with the armed level's settings off when it is the statement
 * armed for (the plan cache plans a kept statement with its own text).
 */
static PlannedStmt *
guard_planner(Query *parse, const char *query_string, int cursorOptions,
			  ParamListInfo boundParams)
{
	GuardLevel	level = GUARD_NONE;
	bool		save_seqscan = enable_seqscan;
	bool		save_bitmapscan = enable_bitmapscan;
	bool		save_hashjoin = enable_hashjoin;
	bool		save_mergejoin = enable_mergejoin;
	PlannedStmt *result;

	if (armed != GUARD_NONE && query_string != NULL &&
		strcmp(query_string, armed_sql) == 0)
		level = armed;
	if (level != GUARD_NONE)
	{
		enable_seqscan = false;
		enable_hashjoin = false;
		enable_mergejoin = false;
		if (level == GUARD_KEY_SCANS)
			enable_bitmapscan = false;
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

/* Chain the hook in front of any planner hook installed before. */
void
guard_init(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = guard_planner;
}

/* The planning of the statement "sql", if any, is guarded at "level". */
void
guard_arm(GuardLevel level, const char *sql)
{
	armed = level;
	armed_sql = sql;
}

/* No planning is guarded until the next guard_arm. */
void
guard_disarm(void)
{
	armed = GUARD_NONE;
	armed_sql = NULL;
}
