/*-------------------------------------------------------------------------
 * policy.c
 *	  The batch lifecycle: one table of states, their flags and moves.
 *	  To change the lifecycle, edit policy_table below and nothing else.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "policy.h"

/* Bit for a state number in a "may move to" set. */
#define S(state)	(1u << (state))

/* State numbers, in table order; only used to spell the table below. */
enum
{
	CREATING,
	CREATED,
	SCORED,
	SPECULATING,
	MERGING,
	CANCELLING,
	SUCCEEDED,
	FAILED,
	CANCELLED
};

typedef struct PolicyState
{
	const char *name;
	bool		terminal;		/* no further moves, no membership row */
	bool		halted;			/* work on the batch has stopped */
	bool		conflict;		/* scanned by the controller for dependencies */
	bool		cancellable;	/* a cancel moves (or republishes) it */
	bool		active;			/* worked on by the controller: list_active */
	unsigned int moves;			/* S() bits of the states it may move to */
} PolicyState;

/*
 * creating: persisted while the batch is still being assembled (its
 * dependency set is not final); inert until promoted to created, and an
 * abandoned attempt is closed as failed.  Nothing moves into it.
 *
 *	name	terminal halted conflict cancellable active	moves
 */
static const PolicyState policy_table[POLICY_NSTATES] = {
	[CREATING] = {"creating", false, false, false, false, false,
	S(CREATED) | S(FAILED)},
	[CREATED] = {"created", false, false, true, true, true,
	S(SCORED) | S(SPECULATING) | S(CANCELLING) | S(FAILED)},
	[SCORED] = {"scored", false, false, false, true, true,
	S(SPECULATING) | S(CANCELLING) | S(FAILED)},
	[SPECULATING] = {"speculating", false, false, true, true, true,
	S(MERGING) | S(CANCELLING) | S(FAILED)},
	[MERGING] = {"merging", false, false, true, false, true,
	S(SUCCEEDED) | S(FAILED) | S(CANCELLING)},
	[CANCELLING] = {"cancelling", false, true, false, true, true,
	S(CANCELLED) | S(SUCCEEDED) | S(FAILED)},
	[SUCCEEDED] = {"succeeded", true, true, false, false, false, 0},
	[FAILED] = {"failed", true, true, false, false, false, 0},
	[CANCELLED] = {"cancelled", true, true, false, false, false, 0},
};

/* Whether "state" is a state number. */
static bool
valid(int state)
{
	return state >= 0 && state < POLICY_NSTATES;
}

/* The number of the state with this exact name, or POLICY_NO_STATE. */
int
policy_state_from_name(const char *name, size_t len)
{
	for (int i = 0; i < POLICY_NSTATES; i++)
	{
		const char *candidate = policy_table[i].name;

		if (strlen(candidate) == len && memcmp(candidate, name, len) == 0)
			return i;
	}
	return POLICY_NO_STATE;
}

/* The name of a state number (NULL for none). */
const char *
policy_state_name(int state)
{
	return valid(state) ? policy_table[state].name : NULL;
}

/* Whether the state is terminal. */
bool
policy_is_terminal(int state)
{
	return valid(state) && policy_table[state].terminal;
}

/* Whether the state is halted. */
bool
policy_is_halted(int state)
{
	return valid(state) && policy_table[state].halted;
}

/* Whether the state is a conflict state. */
bool
policy_is_conflict(int state)
{
	return valid(state) && policy_table[state].conflict;
}

/* Whether a cancel request moves a batch in the state. */
bool
policy_is_cancellable(int state)
{
	return valid(state) && policy_table[state].cancellable;
}

/* Whether the controller works on a batch in the state. */
bool
policy_is_active(int state)
{
	return valid(state) && policy_table[state].active;
}

/* Whether the policy lets a batch move from "from" to "to". */
bool
policy_can_transition(int from, int to)
{
	if (!valid(from) || !valid(to) || policy_table[from].terminal)
		return false;
	if (from == to)
		return true;
	return (policy_table[from].moves & S(to)) != 0;
}

/*
 * Append "name, name, ..." for the states in the bit set "states" to buf,
 * truncating safely at bufsize.  Returns buf.
 */
static const char *
format_states(unsigned int states, char *buf, size_t bufsize)
{
	size_t		used = 0;

	buf[0] = '\0';
	for (int i = 0; i < POLICY_NSTATES; i++)
	{
		const char *name = policy_table[i].name;
		size_t		need = strlen(name) + (used > 0 ? 2 : 0);

		if (!(states & S(i)))
			continue;
		if (used + need + 1 > bufsize)
			break;
		if (used > 0)
		{
			memcpy(buf + used, ", ", 2);
			used += 2;
		}
		memcpy(buf + used, name, strlen(name) + 1);
		used += strlen(name);
	}
	return buf;
}

/* Every state name in table order, built once. */
const char *
policy_state_list(void)
{
	static char list[POLICY_NSTATES * 16];

	if (list[0] == '\0')
		format_states(S(POLICY_NSTATES) - 1, list, sizeof(list));
	return list;
}

/* The states "from" may move to, into buf. */
const char *
policy_moves_list(int from, char *buf, size_t bufsize)
{
	unsigned int moves = 0;

	if (valid(from) && !policy_table[from].terminal)
		moves = policy_table[from].moves | S(from);
	return format_states(moves, buf, bufsize);
}
