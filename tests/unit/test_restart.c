/* test_restart.c — the restart intensity policy (supervisor/restart.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../supervisor/durod.h"

static const struct restart_cfg cfg = {2, 10000, 4000};

/* More than max_restarts within the window: 1 s, 2 s, 4 s, capped. */
static void
test_backoff_grows(void **state)
{
	struct restart r;
	uint64_t t = 1000000;

	memset(&r, 0, sizeof(r));
	assert_true(restart_crashed(&r, &cfg, t) == 0);
	assert_true(restart_crashed(&r, &cfg, t + 1) == 0);
	assert_true(restart_crashed(&r, &cfg, t + 2) == 1000);
	assert_true(r.backoff_until == t + 2 + 1000);
	assert_true(restart_active(&r, &cfg, t + 3));
	/* After the backoff, counting starts again; the next is longer. */
	t += 2000;
	assert_true(restart_crashed(&r, &cfg, t) == 0);
	assert_true(restart_crashed(&r, &cfg, t + 1) == 0);
	assert_true(restart_crashed(&r, &cfg, t + 2) == 2000);
	t += 3000;
	restart_crashed(&r, &cfg, t);
	restart_crashed(&r, &cfg, t + 1);
	assert_true(restart_crashed(&r, &cfg, t + 2) == 4000);
	t += 5000;
	restart_crashed(&r, &cfg, t);
	restart_crashed(&r, &cfg, t + 1);
	assert_true(restart_crashed(&r, &cfg, t + 2) == 4000); /* the cap */
}

/* Crashes further apart than the window never add up. */
static void
test_window(void **state)
{
	struct restart r;

	memset(&r, 0, sizeof(r));
	for (uint64_t t = 0; t < 100; t++)
		assert_true(restart_crashed(&r, &cfg, 5000 + t * 10000) == 0);
	assert_false(restart_active(&r, &cfg, 5000 + 100 * 10000));
}

/* A worker that stays up and serves a whole window clears the slate;
 * one that serves briefly does not. */
static void
test_stable_service(void **state)
{
	struct restart r;
	uint64_t t = 50000;

	memset(&r, 0, sizeof(r));
	restart_crashed(&r, &cfg, t);
	restart_crashed(&r, &cfg, t + 1);
	assert_true(restart_crashed(&r, &cfg, t + 2) == 1000);
	restart_ready(&r, t + 1100);
	restart_served(&r, &cfg, t + 1200);
	assert_true(r.level == 1);
	restart_served(&r, &cfg, t + 1100 + 10000);
	assert_true(r.level == 0 && r.count == 0);
	/* So the next burst starts at 1 s again. */
	t += 20000;
	restart_crashed(&r, &cfg, t);
	restart_crashed(&r, &cfg, t + 1);
	assert_true(restart_crashed(&r, &cfg, t + 2) == 1000);
	/* A crash forgets the worker was up. */
	assert_true(r.up_since == 0);
}

/* A long quiet spell also starts over, without service. */
static void
test_quiet_resets(void **state)
{
	struct restart r;
	uint64_t t = 0;

	memset(&r, 0, sizeof(r));
	restart_crashed(&r, &cfg, t);
	restart_crashed(&r, &cfg, t + 1);
	assert_true(restart_crashed(&r, &cfg, t + 2) == 1000);
	assert_false(restart_active(&r, &cfg, t + 2 + 1000 + 10000));
	t += 60000;
	restart_crashed(&r, &cfg, t);
	restart_crashed(&r, &cfg, t + 1);
	assert_true(restart_crashed(&r, &cfg, t + 2) == 1000);
}

/* max_restarts 0: the first crash backs off. */
static void
test_zero(void **state)
{
	struct restart_cfg none = {0, 10000, 60000};
	struct restart r;

	memset(&r, 0, sizeof(r));
	assert_true(restart_crashed(&r, &none, 1) == 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backoff_grows),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_stable_service),
	    cmocka_unit_test(test_quiet_resets),
	    cmocka_unit_test(test_zero),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
