/* test_lifecycle.c — the object state machine, without processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../supervisor/durod.h"

static struct lc_out
step(enum obj_state s, enum obj_event e, int queued, int draining)
{
	struct lc_in in = {queued, draining, 0, 0, 0, 0, 0};

	return (lifecycle_next(s, e, &in));
}

/* A worker's exit that restart.c says is one crash too many. */
static struct lc_out
crash_to_backoff(enum obj_state s, int queued)
{
	struct lc_in in = {queued, 0, 0, 1, 0, 0, 0};

	return (lifecycle_next(s, OEV_EXIT, &in));
}

static void
test_activation_path(void **state)
{
	struct lc_out o;

	o = step(OBJ_HIBERNATED, OEV_EVENT, 1, 0);
	assert_int_equal(o.next, OBJ_STARTING);
	assert_int_equal(o.actions, ACT_SPAWN);
	o = step(OBJ_STARTING, OEV_EVENT, 1, 0);
	assert_int_equal(o.next, OBJ_STARTING);
	assert_int_equal(o.actions, 0);
	o = step(OBJ_STARTING, OEV_READY, 1, 0);
	assert_int_equal(o.next, OBJ_BUSY);
	assert_int_equal(o.actions, ACT_DELIVER);
	o = step(OBJ_BUSY, OEV_REPLY, 0, 0);
	assert_int_equal(o.next, OBJ_IDLE);
	assert_int_equal(o.actions, ACT_ARM_IDLE);
	o = step(OBJ_BUSY, OEV_REPLY, 1, 0);
	assert_int_equal(o.next, OBJ_BUSY);
	assert_int_equal(o.actions, ACT_DELIVER);
	o = step(OBJ_IDLE, OEV_TIMEOUT, 0, 0);
	assert_int_equal(o.next, OBJ_STOPPING);
	assert_int_equal(o.actions, ACT_HIBERNATE);
	o = step(OBJ_STOPPING, OEV_EXIT, 0, 0);
	assert_int_equal(o.next, OBJ_HIBERNATED);
	assert_true(o.actions & ACT_FREE);
}

static void
test_failures(void **state)
{
	struct lc_out o;

	/* Hang or spin: killed, the caller gets 500. */
	o = step(OBJ_BUSY, OEV_TIMEOUT, 0, 0);
	assert_int_equal(o.next, OBJ_STOPPING);
	assert_int_equal(o.actions, ACT_KILL | ACT_FAIL_INFLIGHT);
	/* Crash in flight with another event waiting: restart for it. */
	o = step(OBJ_BUSY, OEV_EXIT, 1, 0);
	assert_int_equal(o.next, OBJ_STARTING);
	assert_int_equal(o.actions, ACT_FAIL_INFLIGHT | ACT_SPAWN);
	/* Crash in flight, nobody waiting: forget it until the next event. */
	o = step(OBJ_BUSY, OEV_EXIT, 0, 0);
	assert_int_equal(o.next, OBJ_HIBERNATED);
	assert_true(o.actions & ACT_FAIL_INFLIGHT);
	assert_true(o.actions & ACT_FREE);
	/* Garbage: killed. */
	o = step(OBJ_BUSY, OEV_VIOLATION, 0, 0);
	assert_int_equal(o.actions, ACT_KILL | ACT_FAIL_INFLIGHT);
	/* Startup failures fail the queue rather than loop. */
	o = step(OBJ_STARTING, OEV_EXIT, 1, 0);
	assert_int_equal(o.next, OBJ_HIBERNATED);
	assert_true(o.actions & ACT_FAIL_QUEUE);
	assert_false(o.actions & ACT_SPAWN);
	o = step(OBJ_STARTING, OEV_TIMEOUT, 1, 0);
	assert_int_equal(o.next, OBJ_STOPPING);
	assert_int_equal(o.actions, ACT_KILL | ACT_FAIL_QUEUE);
	/* A worker that ignores hibernate is killed after the grace. */
	o = step(OBJ_STOPPING, OEV_TIMEOUT, 0, 0);
	assert_int_equal(o.actions, ACT_KILL);
	/* A second ready is a protocol violation. */
	o = step(OBJ_IDLE, OEV_READY, 0, 0);
	assert_int_equal(o.next, OBJ_STOPPING);
	assert_true(o.actions & ACT_KILL);
}

static void
test_draining(void **state)
{
	struct lc_out o;

	o = step(OBJ_BUSY, OEV_HIBERNATE, 0, 1);
	assert_int_equal(o.next, OBJ_BUSY); /* finish first */
	o = step(OBJ_BUSY, OEV_REPLY, 0, 1);
	assert_int_equal(o.next, OBJ_STOPPING);
	assert_int_equal(o.actions, ACT_HIBERNATE);
	o = step(OBJ_BUSY, OEV_REPLY, 1, 1);
	assert_int_equal(o.actions, ACT_DELIVER); /* accepted work is served */
	o = step(OBJ_IDLE, OEV_HIBERNATE, 0, 1);
	assert_int_equal(o.actions, ACT_HIBERNATE);
	o = step(OBJ_HIBERNATED, OEV_HIBERNATE, 0, 1);
	assert_int_equal(o.actions, ACT_FREE);
}

static int
has_worker(enum obj_state s)
{
	return (s != OBJ_HIBERNATED && s != OBJ_BACKOFF && s != OBJ_WAITING);
}

/* At the cap an activation waits for a slot instead of spawning. */
static void
test_waiting(void **state)
{
	struct lc_in full = {1, 0, 0, 0, 1, 0, 0}, hard = {1, 1, 1, 0, 0, 0, 0};
	struct lc_out o;

	o = lifecycle_next(OBJ_HIBERNATED, OEV_EVENT, &full);
	assert_int_equal(o.next, OBJ_WAITING);
	assert_int_equal(o.actions, 0);
	o = lifecycle_next(OBJ_WAITING, OEV_EVENT, &full);
	assert_int_equal(o.next, OBJ_WAITING);
	o = step(OBJ_WAITING, OEV_SLOT, 1, 0);
	assert_int_equal(o.next, OBJ_STARTING);
	assert_int_equal(o.actions, ACT_SPAWN);
	/* Draining serves what was accepted; stopping hard does not. */
	o = step(OBJ_WAITING, OEV_HIBERNATE, 1, 1);
	assert_int_equal(o.next, OBJ_WAITING);
	o = lifecycle_next(OBJ_WAITING, OEV_HIBERNATE, &hard);
	assert_int_equal(o.next, OBJ_HIBERNATED);
	assert_true(o.actions & ACT_FAIL_QUEUE);
	o = lifecycle_next(OBJ_WAITING, OEV_SLOT, &hard);
	assert_int_equal(o.next, OBJ_HIBERNATED);
}

/* Too many crashes: no restart, the waiting callers get 503 (the queue
 * is failed in backoff), a timer ends it, and then an event may spawn. */
static void
test_backoff(void **state)
{
	struct lc_out o;

	o = crash_to_backoff(OBJ_BUSY, 1);
	assert_int_equal(o.next, OBJ_BACKOFF);
	assert_true(o.actions & ACT_FAIL_INFLIGHT);
	assert_true(o.actions & ACT_FAIL_QUEUE);
	assert_true(o.actions & ACT_ARM_BACKOFF);
	assert_false(o.actions & ACT_SPAWN);
	o = crash_to_backoff(OBJ_STARTING, 1);
	assert_int_equal(o.next, OBJ_BACKOFF);
	assert_false(o.actions & ACT_SPAWN);
	o = crash_to_backoff(OBJ_STOPPING, 0);
	assert_int_equal(o.next, OBJ_BACKOFF);
	o = step(OBJ_BACKOFF, OEV_EVENT, 1, 0);
	assert_int_equal(o.next, OBJ_BACKOFF);
	assert_int_equal(o.actions, ACT_FAIL_QUEUE);
	o = step(OBJ_BACKOFF, OEV_TIMEOUT, 0, 0);
	assert_int_equal(o.next, OBJ_HIBERNATED);
	assert_true(o.actions & ACT_FREE);
	o = step(OBJ_BACKOFF, OEV_HIBERNATE, 0, 1);
	assert_int_equal(o.next, OBJ_HIBERNATED);
	/* Shutting down hard: no backoff, the object just goes. */
	struct lc_in hard = {1, 1, 1, 1, 0, 0, 0};
	o = lifecycle_next(OBJ_BUSY, OEV_EXIT, &hard);
	assert_int_equal(o.next, OBJ_HIBERNATED);
}

/* A changed namespace: the worker stops after its turn, the queue waits
 * for the next worker, which its exit starts. */
static void
test_recycle(void **state)
{
	struct lc_in in = {1, 0, 0, 0, 0, 1, 0};
	struct lc_out o;

	o = lifecycle_next(OBJ_BUSY, OEV_REPLY, &in);
	assert_int_equal(o.next, OBJ_STOPPING);
	assert_int_equal(o.actions, ACT_HIBERNATE);
	o = lifecycle_next(OBJ_STARTING, OEV_READY, &in);
	assert_int_equal(o.next, OBJ_STOPPING);
	assert_int_equal(o.actions, ACT_HIBERNATE);
	in.recycle = 0; /* the new worker is of the new config */
	o = lifecycle_next(OBJ_STOPPING, OEV_EXIT, &in);
	assert_int_equal(o.next, OBJ_STARTING);
	assert_int_equal(o.actions, ACT_SPAWN);
	o = lifecycle_next(OBJ_IDLE, OEV_HIBERNATE, &in);
	assert_int_equal(o.next, OBJ_STOPPING);
}

/* An import holds the object: events wait, no worker starts until the
 * hold ends (a slot). */
static void
test_held(void **state)
{
	struct lc_in in = {1, 0, 0, 0, 0, 0, 1};
	struct lc_out o;

	o = lifecycle_next(OBJ_HIBERNATED, OEV_EVENT, &in);
	assert_int_equal(o.next, OBJ_WAITING);
	o = lifecycle_next(OBJ_STOPPING, OEV_EXIT, &in);
	assert_int_equal(o.next, OBJ_WAITING);
	assert_int_equal(o.actions, 0);
	o = lifecycle_next(OBJ_WAITING, OEV_SLOT, &in);
	assert_int_equal(o.next, OBJ_WAITING);
	in.held = 0;
	o = lifecycle_next(OBJ_WAITING, OEV_SLOT, &in);
	assert_int_equal(o.next, OBJ_STARTING);
	assert_int_equal(o.actions, ACT_SPAWN);
}

/*
 * Never two live workers: over every (state, event, input), a spawn only
 * happens when no worker is alive -- in HIBERNATED, or on the reaped exit
 * of the previous one -- and a state with a worker is never left for
 * HIBERNATED except through that exit.
 */
static void
test_exhaustive_invariants(void **state)
{
	for (int s = 0; s < OBJ_NSTATES; s++)
		for (int e = 0; e < OEV_NEVENTS; e++)
			for (int in = 0; in < 128; in++) {
				struct lc_in i = {in & 1, (in >> 1) & 1,
				    (in >> 2) & 1, (in >> 3) & 1, (in >> 4) & 1,
				    (in >> 5) & 1, (in >> 6) & 1};
				struct lc_out o = lifecycle_next(s, e, &i);
				int alive_before =
				    has_worker(s) && e != OEV_EXIT;

				if (o.actions & ACT_SPAWN)
					assert_false(alive_before);
				if (alive_before)
					assert_true(has_worker(o.next));
				if (o.actions & ACT_FREE)
					assert_int_equal(
					    o.next, OBJ_HIBERNATED);
				if (o.next == OBJ_STARTING &&
				    !(o.actions & ACT_SPAWN))
					assert_int_equal(s, OBJ_STARTING);
				if (o.actions & ACT_DELIVER)
					assert_true(i.queued);
				if (i.held)
					assert_false(o.actions & ACT_SPAWN);
			}
}

/* A random walk with a model of the processes: at most one, always. */
static void
test_random_walk(void **state)
{
	enum obj_state s = OBJ_HIBERNATED;
	int workers = 0, queued = 0;

	srandom(42);
	for (int n = 0; n < 200000; n++) {
		enum obj_event e = (enum obj_event)(random() % OEV_NEVENTS);
		struct lc_in in = {queued > 0, (int)(random() % 8 == 0), 0,
		    e == OEV_EXIT && random() % 4 == 0, (int)(random() % 2),
		    (int)(random() % 8 == 0), (int)(random() % 8 == 0)};
		struct lc_out o;

		if (e == OEV_EXIT && workers == 0)
			continue; /* only a live worker can exit */
		if (e == OEV_EVENT)
			in.queued = ++queued > 0;
		o = lifecycle_next(s, e, &in);
		if (e == OEV_EXIT)
			workers--;
		if (o.actions & ACT_SPAWN)
			workers++;
		if (o.actions & ACT_DELIVER)
			queued--;
		if (o.actions & ACT_FAIL_QUEUE)
			queued = 0;
		assert_in_range(workers, 0, 1);
		assert_true(queued >= 0);
		assert_int_equal(workers, has_worker(o.next));
		s = o.next;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_activation_path),
	    cmocka_unit_test(test_failures),
	    cmocka_unit_test(test_draining),
	    cmocka_unit_test(test_recycle),
	    cmocka_unit_test(test_held),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_waiting),
	    cmocka_unit_test(test_exhaustive_invariants),
	    cmocka_unit_test(test_random_walk),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
