/*
 * lifecycle.c — an object's lifecycle as a pure state machine.
 *
 * lifecycle_next(state, event, input) -> (next state, actions). It knows
 * nothing of processes, sockets or time; object_run.c performs the actions
 * in a fixed order. Keeping the decisions here makes "never two live
 * workers for one object" checkable by reading one table: the only action
 * that starts a worker is ACT_SPAWN, and it is only ever taken from a state
 * that has no live worker (HIBERNATED) or on the worker's reaped exit.
 */
#include "durod.h"

static const char *const state_names[OBJ_NSTATES] = {
    [OBJ_HIBERNATED] = "hibernated",
    [OBJ_STARTING] = "starting",
    [OBJ_IDLE] = "idle",
    [OBJ_BUSY] = "busy",
    [OBJ_STOPPING] = "stopping",
    [OBJ_BACKOFF] = "backoff",
    [OBJ_WAITING] = "waiting",
};

static const char *const event_names[OEV_NEVENTS] = {
    [OEV_EVENT] = "event",
    [OEV_READY] = "ready",
    [OEV_REPLY] = "reply",
    [OEV_TIMEOUT] = "timeout",
    [OEV_EXIT] = "exit",
    [OEV_VIOLATION] = "violation",
    [OEV_HIBERNATE] = "hibernate",
    [OEV_SLOT] = "slot",
};

const char *
lifecycle_state_name(enum obj_state s)
{
	return ((unsigned)s < OBJ_NSTATES ? state_names[s] : "?");
}

const char *
lifecycle_event_name(enum obj_event e)
{
	return ((unsigned)e < OEV_NEVENTS ? event_names[e] : "?");
}

static struct lc_out
go(enum obj_state next, unsigned actions)
{
	struct lc_out out = {next, actions};

	return (out);
}

/*
 * With the worker ready and nothing in flight: work, rest or wind down.
 * A worker of a namespace a reload changed stops now, queue or not: the
 * queue waits for the worker started (on its exit) with the new config.
 */
static struct lc_out
after_turn(const struct lc_in *in)
{
	if (in->recycle)
		return (go(OBJ_STOPPING, ACT_HIBERNATE));
	if (in->queued)
		return (go(OBJ_BUSY, ACT_DELIVER));
	if (in->draining)
		return (go(OBJ_STOPPING, ACT_HIBERNATE));
	return (go(OBJ_IDLE, ACT_ARM_IDLE));
}

/*
 * The worker is gone (reaped): start again only if someone is waiting,
 * unless it crashed too often (restart.c), when the object backs off and
 * whoever waits gets 503.
 */
static struct lc_out
after_exit(const struct lc_in *in, unsigned actions)
{
	if (in->backoff && !in->draining_hard)
		return (go(
		    OBJ_BACKOFF, actions | ACT_FAIL_QUEUE | ACT_ARM_BACKOFF));
	if (in->queued && !in->draining_hard && in->held)
		return (go(OBJ_WAITING, actions));
	if (in->queued && !in->draining_hard)
		return (go(OBJ_STARTING, actions | ACT_SPAWN));
	return (go(OBJ_HIBERNATED, actions | ACT_FAIL_QUEUE | ACT_FREE));
}

struct lc_out
lifecycle_next(enum obj_state s, enum obj_event e, const struct lc_in *in)
{
	switch (s) {
	case OBJ_HIBERNATED:
		/* At max_active_objects a new worker waits for a reaped one:
		 * the cap is never exceeded, even briefly. */
		if (e == OEV_EVENT && (in->at_capacity || in->held))
			return (go(OBJ_WAITING, 0));
		if (e == OEV_EVENT)
			return (go(OBJ_STARTING, ACT_SPAWN));
		if (e == OEV_HIBERNATE)
			return (go(OBJ_HIBERNATED, ACT_FREE));
		break;
	case OBJ_STARTING:
		switch (e) {
		case OEV_READY:
			return (after_turn(in));
		case OEV_TIMEOUT:
		case OEV_VIOLATION:
			/* A worker that cannot start would fail the queue
			 * again and again: tell its callers now. */
			return (go(OBJ_STOPPING, ACT_KILL | ACT_FAIL_QUEUE));
		case OEV_EXIT:
			if (in->backoff && !in->draining_hard)
				return (go(OBJ_BACKOFF,
				    ACT_FAIL_QUEUE | ACT_ARM_BACKOFF));
			if (in->held && in->queued && !in->draining_hard)
				return (go(OBJ_WAITING, 0));
			return (go(OBJ_HIBERNATED, ACT_FAIL_QUEUE | ACT_FREE));
		default:
			return (go(s, 0)); /* EVENT queues; HIBERNATE waits */
		}
	case OBJ_IDLE:
		switch (e) {
		case OEV_EVENT:
			return (
			    in->queued ? go(OBJ_BUSY, ACT_DELIVER) : go(s, 0));
		case OEV_TIMEOUT:
		case OEV_HIBERNATE:
			return (go(OBJ_STOPPING, ACT_HIBERNATE));
		case OEV_EXIT:
			return (after_exit(in, 0));
		case OEV_VIOLATION:
			return (go(OBJ_STOPPING, ACT_KILL));
		default:
			break;
		}
		break;
	case OBJ_BUSY:
		switch (e) {
		case OEV_REPLY:
			return (after_turn(in));
		case OEV_TIMEOUT:
		case OEV_VIOLATION:
			return (go(OBJ_STOPPING, ACT_KILL | ACT_FAIL_INFLIGHT));
		case OEV_EXIT:
			return (after_exit(in, ACT_FAIL_INFLIGHT));
		default:
			return (
			    go(s, 0)); /* EVENT queues; HIBERNATE after reply */
		}
	case OBJ_STOPPING:
		switch (e) {
		case OEV_TIMEOUT:
		case OEV_VIOLATION:
			return (go(s, ACT_KILL)); /* grace is over */
		case OEV_EXIT:
			return (after_exit(in, 0));
		default:
			return (
			    go(s, 0)); /* EVENT queues for the next worker */
		}
	case OBJ_BACKOFF:
		switch (e) {
		case OEV_TIMEOUT:   /* the backoff is over */
		case OEV_HIBERNATE: /* shutdown */
			return (go(OBJ_HIBERNATED, ACT_FAIL_QUEUE | ACT_FREE));
		case OEV_EVENT:
			/* object_run.c answers 503 before queueing; anything
			 * queued regardless gets 503 too. */
			return (go(s, ACT_FAIL_QUEUE));
		default:
			return (go(s, 0));
		}
	case OBJ_WAITING:
		switch (e) {
		case OEV_SLOT:
			if (in->draining_hard)
				return (go(
				    OBJ_HIBERNATED, ACT_FAIL_QUEUE | ACT_FREE));
			if (in->held)
				return (go(s, 0));
			return (go(OBJ_STARTING, ACT_SPAWN));
		case OEV_HIBERNATE:
			/* Accepted work is served while draining, unless
			 * durod stops hard. */
			if (in->draining_hard)
				return (go(
				    OBJ_HIBERNATED, ACT_FAIL_QUEUE | ACT_FREE));
			return (go(s, 0));
		default:
			return (go(s, 0)); /* EVENT queues */
		}
	case OBJ_NSTATES:
		break;
	}
	/* Anything else is an event that cannot happen in this state (a
	 * READY from a worker already ready, say): the worker is broken. */
	if (s == OBJ_HIBERNATED)
		return (go(s, 0));
	return (go(
	    OBJ_STOPPING, ACT_KILL | (s == OBJ_BUSY ? ACT_FAIL_INFLIGHT : 0)));
}
