/*-------------------------------------------------------------------------
 * guard.h
 *	  The planner guard: batchstate's own statements are planned on their
 *	  indexes, whatever the table statistics say.
 *
 * Contract.  guard_arm(level, sql) just before executing a kept plan of the
 * statement whose text is sql (or opening a cursor on it), and
 * guard_disarm() right after, in a PG_FINALLY.  If that execution plans
 * the statement (the first call in a backend, or a replan after a catalog
 * change), that planning is done with the planner settings the level turns
 * off; the settings are restored when it ends, also when it fails.  Only
 * the statement armed for is guarded: whatever else is planned while it
 * runs (the queries of a user's trigger on batchstate's tables, say) is
 * planned as the server would.
 *
 * Why: each guarded statement reaches its rows through a primary key
 * prefix, the hash index on batch ids or a GIN index on an array column.
 * Unguarded, a table that statistics call empty (after VACUUM, or on a
 * fresh install) gets a plan that reads every row, and a kept plan keeps
 * it.  Plain index scans also mark the entries of dead rows they pass (a
 * bitmap scan never does), so under churn the membership index stays small
 * between vacuums.
 *-------------------------------------------------------------------------
 */
#ifndef BATCHSTATE_GUARD_H
#define BATCHSTATE_GUARD_H

typedef enum GuardLevel
{
	GUARD_NONE,					/* plan as the server would */
	GUARD_KEY_SCANS,			/* no sequential or bitmap scans, no hash or
								 * merge joins: plain index scans by key */
	GUARD_INDEX_SCANS			/* no sequential scans, no hash or merge
								 * joins; bitmap scans allowed (the only way
								 * a GIN index is read) */
} GuardLevel;

/* Install the planner hook; called once from _PG_init. */
extern void guard_init(void);

/* Guard the planning of the statement whose text is sql, if any, at "level". */
extern void guard_arm(GuardLevel level, const char *sql);

/* Guard nothing more. */
extern void guard_disarm(void);

#endif							/* BATCHSTATE_GUARD_H */
