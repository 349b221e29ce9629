/*-------------------------------------------------------------------------
 * policy.h
 *	  The batch lifecycle as data: states, their flags, the allowed moves.
 *	  Pure C: no SPI, no table names, no allocation; safe anywhere.
 *
 * States are small integers (0 .. POLICY_NSTATES - 1) in the order of
 * doc/API.md's policy table; callers translate names once with
 * policy_state_from_name and ask everything else by number.
 *-------------------------------------------------------------------------
 */
#ifndef BATCHSTATE_POLICY_H
#define BATCHSTATE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/* Number of states in the lifecycle. */
#define POLICY_NSTATES 9

/* Returned by policy_state_from_name for a name that is not a state. */
#define POLICY_NO_STATE (-1)

/* State number for an exact (case-sensitive) name; POLICY_NO_STATE if none. */
extern int	policy_state_from_name(const char *name, size_t len);

/* Name of a state number (a static string). */
extern const char *policy_state_name(int state);

/*
 * Flags of a state number (false for a number that is not a state):
 *   terminal     no further moves and no membership row
 *   halted       no new work starts on the batch
 *   conflict     scanned by the controller for dependencies
 *   cancellable  a cancel request moves (or republishes) the batch
 *   active       worked on by the controller (list_active lists these);
 *                a non-terminal state that is not active is inert
 */
extern bool policy_is_terminal(int state);
extern bool policy_is_halted(int state);
extern bool policy_is_conflict(int state);
extern bool policy_is_cancellable(int state);
extern bool policy_is_active(int state);

/*
 * May a batch in state "from" move to state "to"?  A non-terminal state may
 * always "move" to itself (a version bump); a terminal state moves nowhere.
 */
extern bool policy_can_transition(int from, int to);

/* All state names in table order, comma separated (a static string). */
extern const char *policy_state_list(void);

/*
 * The states "from" may move to (itself included), comma separated, written
 * into buf (empty for a terminal state); returns buf.  64 bytes suffice for
 * the table as it stands; a shorter buffer truncates at a whole name.
 */
extern const char *policy_moves_list(int from, char *buf, size_t bufsize);

#endif							/* BATCHSTATE_POLICY_H */
