/* test_alarm_sched.c — the alarm schedule against a plain reference. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../supervisor/durod.h"

static const uint8_t id_a[DURO_ID_BYTES] = {1};
static const uint8_t id_b[DURO_ID_BYTES] = {2};

/* xorshift64: a fixed sequence, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (rng_state);
}

static void
test_put_find_update_del(void **state)
{
	struct alarm_sched *s = alarm_sched_new();
	struct alarm_entry *e;
	char ns_copy[] = "ns";

	assert_non_null(s);
	assert_int_equal(alarm_sched_count(s), 0);
	assert_true(alarm_sched_next_due(s) == UINT64_MAX);
	assert_null(alarm_sched_find(s, "ns", id_a, ""));

	/* The namespace is found by content, whatever the pointer. */
	assert_int_equal(
	    alarm_sched_put(s, ns_copy, id_a, "", 100, 90, 0, 0), 0);
	assert_int_equal(
	    alarm_sched_put(s, "ns", id_a, "tick", 50, 50, 10, 2), 0);
	assert_int_equal(alarm_sched_count(s), 2);
	e = alarm_sched_find(s, "ns", id_a, "");
	assert_non_null(e);
	/* The entry keeps its own copy of the name (a reload may free the
	 * config the caller's pointer came from). */
	assert_ptr_not_equal(e->ns, ns_copy);
	assert_string_equal(e->ns, "ns");
	assert_memory_equal(e->id, id_a, DURO_ID_BYTES);
	assert_string_equal(e->name, "");
	assert_true(e->due_ms == 100 && e->scheduled_ms == 90);
	assert_true(e->every_ms == 0 && e->retry == 0);
	assert_null(alarm_sched_find(s, "ns", id_b, ""));
	assert_null(alarm_sched_find(s, "n", id_a, ""));
	assert_null(alarm_sched_find(s, "ns", id_a, "tic"));
	assert_true(alarm_sched_next_due(s) == 50);

	/* A put on an existing key replaces the times, not the entry. */
	assert_int_equal(alarm_sched_put(s, "ns", id_a, "", 20, 10, 5, 3), 0);
	assert_int_equal(alarm_sched_count(s), 2);
	assert_ptr_equal(alarm_sched_find(s, "ns", id_a, ""), e);
	assert_true(e->due_ms == 20 && e->scheduled_ms == 10);
	assert_true(e->every_ms == 5 && e->retry == 3);
	assert_true(alarm_sched_next_due(s) == 20);

	alarm_sched_del(s, "ns", id_a, "");
	assert_null(alarm_sched_find(s, "ns", id_a, ""));
	assert_int_equal(alarm_sched_count(s), 1);
	assert_true(alarm_sched_next_due(s) == 50);
	alarm_sched_del(s, "ns", id_a, ""); /* absent: a no-op */
	alarm_sched_del(s, "other", id_b, "x");
	assert_int_equal(alarm_sched_count(s), 1);
	alarm_sched_free(s); /* with an entry still in it */
}

static void
test_update_moves(void **state)
{
	struct alarm_sched *s = alarm_sched_new();
	struct alarm_entry *e;

	assert_int_equal(
	    alarm_sched_put(s, "ns", id_a, "a", 100, 100, 0, 0), 0);
	assert_int_equal(
	    alarm_sched_put(s, "ns", id_a, "b", 200, 200, 0, 0), 0);
	assert_int_equal(
	    alarm_sched_put(s, "ns", id_a, "c", 300, 300, 0, 0), 0);
	/* Later: a goes to the back. */
	assert_int_equal(
	    alarm_sched_put(s, "ns", id_a, "a", 400, 100, 0, 1), 0);
	assert_true(alarm_sched_next_due(s) == 200);
	/* Earlier: c goes to the front. */
	assert_int_equal(alarm_sched_put(s, "ns", id_a, "c", 50, 300, 0, 0), 0);
	assert_true(alarm_sched_next_due(s) == 50);

	e = alarm_sched_pop(s, UINT64_MAX);
	assert_string_equal(e->name, "c");
	alarm_entry_free(e);
	e = alarm_sched_pop(s, UINT64_MAX);
	assert_string_equal(e->name, "b");
	alarm_entry_free(e);
	e = alarm_sched_pop(s, UINT64_MAX);
	assert_string_equal(e->name, "a");
	assert_true(e->due_ms == 400 && e->retry == 1);
	alarm_entry_free(e);
	assert_null(alarm_sched_pop(s, UINT64_MAX));
	alarm_sched_free(s);
}

static void
test_pop_respects_now(void **state)
{
	struct alarm_sched *s = alarm_sched_new();
	struct alarm_entry *e;

	assert_null(alarm_sched_pop(s, UINT64_MAX));
	assert_int_equal(
	    alarm_sched_put(s, "ns", id_a, "", 1000, 1000, 0, 0), 0);
	assert_int_equal(
	    alarm_sched_put(s, "ns", id_b, "", 2000, 2000, 0, 0), 0);
	assert_null(alarm_sched_pop(s, 0));
	assert_null(alarm_sched_pop(s, 999));
	e = alarm_sched_pop(s, 1000); /* due_ms <= now_ms */
	assert_non_null(e);
	assert_memory_equal(e->id, id_a, DURO_ID_BYTES);
	/* Popped: out of the schedule, and the caller's to free. */
	assert_null(alarm_sched_find(s, "ns", id_a, ""));
	assert_int_equal(alarm_sched_count(s), 1);
	alarm_entry_free(e);
	assert_null(alarm_sched_pop(s, 1999));
	/* A popped alarm can be put back as a new one (a repeat). */
	assert_int_equal(
	    alarm_sched_put(s, "ns", id_a, "", 3000, 3000, 0, 0), 0);
	e = alarm_sched_pop(s, 5000);
	assert_memory_equal(e->id, id_b, DURO_ID_BYTES);
	alarm_entry_free(e);
	e = alarm_sched_pop(s, 5000);
	assert_memory_equal(e->id, id_a, DURO_ID_BYTES);
	alarm_entry_free(e);
	assert_int_equal(alarm_sched_count(s), 0);
	assert_true(alarm_sched_next_due(s) == UINT64_MAX);
	alarm_sched_free(s);
}

static void
test_del_object(void **state)
{
	struct alarm_sched *s = alarm_sched_new();
	/* "n" is a prefix of "ns": the 0 byte after the name tells them
	 * apart. A name starting like an id does not confuse it either. */
	static const char *const nss[] = {"ns", "n", "ns2"};
	static const char *const names[] = {"", "a", "b", "\x01"};
	size_t i, j;

	for (i = 0; i < 3; i++) {
		for (j = 0; j < 4; j++) {
			assert_int_equal(alarm_sched_put(s, nss[i], id_a,
			                     names[j], 10 * j + i, 0, 0, 0),
			    0);
			assert_int_equal(alarm_sched_put(s, nss[i], id_b,
			                     names[j], 10 * j + i, 0, 0, 0),
			    0);
		}
	}
	assert_int_equal(alarm_sched_count(s), 24);
	assert_int_equal(alarm_sched_del_object(s, "ns", id_a), 4);
	assert_int_equal(alarm_sched_count(s), 20);
	assert_int_equal(alarm_sched_del_object(s, "ns", id_a), 0);
	for (j = 0; j < 4; j++) {
		assert_null(alarm_sched_find(s, "ns", id_a, names[j]));
		assert_non_null(alarm_sched_find(s, "ns", id_b, names[j]));
		assert_non_null(alarm_sched_find(s, "n", id_a, names[j]));
		assert_non_null(alarm_sched_find(s, "ns2", id_a, names[j]));
	}
	assert_int_equal(alarm_sched_del_object(s, "n", id_b), 4);
	assert_int_equal(alarm_sched_del_object(s, "nope", id_b), 0);
	assert_int_equal(alarm_sched_count(s), 16);
	/* The heap is still in order after deletes from its middle. */
	{
		uint64_t last = 0;
		struct alarm_entry *e;

		while ((e = alarm_sched_pop(s, UINT64_MAX)) != NULL) {
			assert_true(e->due_ms >= last);
			last = e->due_ms;
			assert_false(strcmp(e->ns, "ns") == 0 &&
			             memcmp(e->id, id_a, DURO_ID_BYTES) == 0);
			alarm_entry_free(e);
		}
	}
	alarm_sched_free(s);
}

static void
test_long_key(void **state)
{
	struct alarm_sched *s = alarm_sched_new();
	struct alarm_entry *e;
	char name[2000];

	/* Past the on-stack key buffer: the key is built on the heap. */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(alarm_sched_put(s, "ns", id_a, name, 5, 5, 0, 0), 0);
	assert_int_equal(alarm_sched_put(s, "ns", id_a, name, 6, 5, 0, 0), 0);
	assert_int_equal(alarm_sched_count(s), 1);
	e = alarm_sched_find(s, "ns", id_a, name);
	assert_non_null(e);
	assert_string_equal(e->name, name);
	assert_true(e->due_ms == 6);
	name[1000] = '\0';
	assert_null(alarm_sched_find(s, "ns", id_a, name));
	name[1000] = 'x';
	alarm_sched_del(s, "ns", id_a, name);
	assert_int_equal(alarm_sched_count(s), 0);
	alarm_sched_free(s);
}

/*
 * The random test. Key i is (nss[i % 3], id with byte 0 = i / 3 % 7,
 * name = decimal i / 21 or "" when that is 0): a bijection, so the
 * reference is an array indexed by i.
 */
#define NKEYS 3000
#define NOPS 10000
#define DUE_RANGE 700 /* small, so many alarms share a due time */

struct ref {
	int present;
	uint64_t due, scheduled, every;
	uint32_t retry;
};

static const char *const ref_nss[] = {"ns", "ns2", "n"};

static void
ref_key(size_t i, const char **ns, uint8_t id[DURO_ID_BYTES], char *name,
    size_t namelen)
{
	*ns = ref_nss[i % 3];
	memset(id, 0, DURO_ID_BYTES);
	id[0] = (uint8_t)(i / 3 % 7);
	id[DURO_ID_BYTES - 1] = 0xee;
	if (i / 21 == 0)
		name[0] = '\0';
	else
		snprintf(name, namelen, "%zu", i / 21);
}

static size_t
ref_index(const struct alarm_entry *e)
{
	size_t nsi, n = 0;

	for (nsi = 0; nsi < 3; nsi++)
		if (strcmp(e->ns, ref_nss[nsi]) == 0)
			break;
	assert_true(nsi < 3);
	if (e->name[0] != '\0')
		n = strtoul(e->name, NULL, 10);
	return (n * 21 + (size_t)e->id[0] * 3 + nsi);
}

/* The smallest due time in the reference, UINT64_MAX when empty. */
static uint64_t
ref_min(const struct ref *ref)
{
	uint64_t min = UINT64_MAX;
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (ref[i].present && ref[i].due < min)
			min = ref[i].due;
	return (min);
}

static void
check_entry(const struct alarm_entry *e, const struct ref *r)
{
	assert_true(r->present);
	assert_true(e->due_ms == r->due);
	assert_true(e->scheduled_ms == r->scheduled);
	assert_true(e->every_ms == r->every);
	assert_true(e->retry == r->retry);
}

static void
random_op(struct alarm_sched *s, struct ref *ref, size_t *count)
{
	const char *ns;
	uint8_t id[DURO_ID_BYTES];
	char name[32];
	struct alarm_entry *e;
	size_t i = rng() % NKEYS;
	unsigned op = rng() % 10;
	uint64_t now;

	ref_key(i, &ns, id, name, sizeof(name));
	if (op < 6) {
		*count += !ref[i].present;
		ref[i].present = 1;
		ref[i].due = rng() % DUE_RANGE;
		ref[i].scheduled = rng();
		ref[i].every = rng() % 3 == 0 ? rng() : 0;
		ref[i].retry = (uint32_t)rng();
		assert_int_equal(
		    alarm_sched_put(s, ns, id, name, ref[i].due,
		        ref[i].scheduled, ref[i].every, ref[i].retry),
		    0);
	} else if (op < 8) {
		*count -= ref[i].present;
		ref[i].present = 0;
		alarm_sched_del(s, ns, id, name);
	} else if (op < 9) {
		e = alarm_sched_find(s, ns, id, name);
		if (!ref[i].present)
			assert_null(e);
		else
			check_entry(e, &ref[i]);
	} else {
		now = rng() % (DUE_RANGE / 4);
		e = alarm_sched_pop(s, now);
		if (ref_min(ref) > now) {
			assert_null(e);
			return;
		}
		assert_non_null(e);
		assert_true(e->due_ms == ref_min(ref));
		check_entry(e, &ref[ref_index(e)]);
		ref[ref_index(e)].present = 0;
		(*count)--;
		alarm_entry_free(e);
	}
}

/* a before b in the heap's order: due time, then key bytes. */
static int
key_cmp(const struct alarm_entry *a, const struct alarm_entry *b)
{
	char ka[64], kb[64];
	size_t la, lb;
	int c;

	la = strlen(a->ns) + 1;
	memcpy(ka, a->ns, la);
	memcpy(ka + la, a->id, DURO_ID_BYTES);
	la += DURO_ID_BYTES;
	memcpy(ka + la, a->name, strlen(a->name));
	la += strlen(a->name);
	lb = strlen(b->ns) + 1;
	memcpy(kb, b->ns, lb);
	memcpy(kb + lb, b->id, DURO_ID_BYTES);
	lb += DURO_ID_BYTES;
	memcpy(kb + lb, b->name, strlen(b->name));
	lb += strlen(b->name);
	c = memcmp(ka, kb, la < lb ? la : lb);
	if (c != 0)
		return (c);
	return (la < lb ? -1 : la > lb);
}

static void
test_random_against_reference(void **state)
{
	struct alarm_sched *s = alarm_sched_new();
	struct ref *ref = calloc(NKEYS, sizeof(*ref));
	struct alarm_entry *e, *prev = NULL;
	size_t op, count = 0, popped = 0;

	assert_non_null(ref);
	for (op = 0; op < NOPS; op++) {
		random_op(s, ref, &count);
		assert_int_equal(alarm_sched_count(s), count);
		if (op % 97 == 0)
			assert_true(alarm_sched_next_due(s) == ref_min(ref));
	}
	assert_true(count > NKEYS / 2);

	/*
	 * Drain: due times never go down, equal ones come out in key
	 * order (deterministic ties), and the set is exactly the
	 * reference's.
	 */
	while ((e = alarm_sched_pop(s, UINT64_MAX)) != NULL) {
		if (prev != NULL) {
			assert_true(prev->due_ms <= e->due_ms);
			if (prev->due_ms == e->due_ms)
				assert_true(key_cmp(prev, e) < 0);
			alarm_entry_free(prev);
		}
		check_entry(e, &ref[ref_index(e)]);
		ref[ref_index(e)].present = 0;
		popped++;
		prev = e;
	}
	alarm_entry_free(prev);
	assert_int_equal(popped, count);
	assert_true(ref_min(ref) == UINT64_MAX);
	assert_int_equal(alarm_sched_count(s), 0);
	free(ref);
	alarm_sched_free(s);
}

static void
test_window_end(void **state)
{
	static const uint64_t few[] = {1, 2, 3};
	static const uint64_t distinct_last[] = {1, 2, 3, 3, 4};
	static const uint64_t shared_last[] = {1, 2, 3, 3};
	static const uint64_t all_equal[] = {7, 7, 7};
	size_t keep;
	int all_at_set;
	uint64_t all_at, end;

	/* Nothing before the horizon: the window reaches it. */
	end = alarm_window_end(NULL, 0, 10, 5000, &keep, &all_at_set, &all_at);
	assert_true(end == 5000 && keep == 0 && !all_at_set);

	/* n < limit: all kept, up to the horizon. */
	end = alarm_window_end(few, 3, 10, 5000, &keep, &all_at_set, &all_at);
	assert_true(end == 5000 && keep == 3 && !all_at_set);

	/* n == limit, last due time alone: it is dropped, the end is it. */
	end = alarm_window_end(
	    distinct_last, 5, 5, 5000, &keep, &all_at_set, &all_at);
	assert_true(end == 4 && keep == 4 && !all_at_set);

	/* n == limit, last due time shared: all rows at it dropped. */
	end = alarm_window_end(
	    shared_last, 4, 4, 5000, &keep, &all_at_set, &all_at);
	assert_true(end == 3 && keep == 2 && !all_at_set);

	/* n > limit counts as full. */
	end = alarm_window_end(
	    shared_last, 4, 3, 5000, &keep, &all_at_set, &all_at);
	assert_true(end == 3 && keep == 2 && !all_at_set);

	/* n == limit, all equal: the caller loads that whole due time. */
	end = alarm_window_end(
	    all_equal, 3, 3, 5000, &keep, &all_at_set, &all_at);
	assert_true(keep == 0 && all_at_set && all_at == 7 && end == 8);

	/* limit 1 is always "all equal". */
	end = alarm_window_end(few, 1, 1, 5000, &keep, &all_at_set, &all_at);
	assert_true(keep == 0 && all_at_set && all_at == 1 && end == 2);
}

static void
test_loaded_until(void **state)
{
	struct alarm_sched *s = alarm_sched_new();

	assert_true(alarm_sched_loaded_until(s) == 0);
	assert_false(alarm_sched_covers(s, 0)); /* nothing loaded */
	alarm_sched_set_loaded_until(s, 100);
	assert_true(alarm_sched_loaded_until(s) == 100);
	assert_true(alarm_sched_covers(s, 0));
	assert_true(alarm_sched_covers(s, 99));
	assert_false(alarm_sched_covers(s, 100));
	alarm_sched_free(s);
}

static void
test_retry_delay(void **state)
{
	const double max_jitter = 0x1.fffffffffffffp-1;
	uint64_t d, prev;
	uint32_t r;

	assert_true(alarm_retry_delay_ms(2000, 1, 0) == 2000);
	assert_true(alarm_retry_delay_ms(2000, 1, 0.999) == 2499);
	assert_true(alarm_retry_delay_ms(2000, 0, 0) == 2000);
	assert_true(alarm_retry_delay_ms(2000, 2, 0) == 4000);
	assert_true(alarm_retry_delay_ms(2000, 2, 0.999) == 4999);
	assert_true(alarm_retry_delay_ms(2000, 3, 0.5) == 9000);
	assert_true(alarm_retry_delay_ms(0, 5, 0.5) == 0);

	/* Jitter is clamped to [0, 1): the delay stays under 1.25x. */
	assert_true(alarm_retry_delay_ms(2000, 1, 1.0) == 2499);
	assert_true(alarm_retry_delay_ms(2000, 1, 7.0) == 2499);
	assert_true(alarm_retry_delay_ms(2000, 1, max_jitter) == 2499);
	assert_true(alarm_retry_delay_ms(2000, 1, -1.0) == 2000);
	assert_true(alarm_retry_delay_ms(2000, 1, NAN) == 2000);
	assert_true(alarm_retry_delay_ms(4, 1, max_jitter) == 4);
	assert_true(alarm_retry_delay_ms(5, 1, max_jitter) == 6);

	/* Saturation, with no undefined shift on the way. */
	assert_true(alarm_retry_delay_ms(2000, 65535, 0) == UINT64_MAX / 2);
	assert_true(alarm_retry_delay_ms(2000, 65535, 0.999) == UINT64_MAX / 2);
	assert_true(
	    alarm_retry_delay_ms(2000, UINT32_MAX, 0.5) == UINT64_MAX / 2);
	assert_true(alarm_retry_delay_ms(1, 63, 0) == 1ULL << 62);
	assert_true(alarm_retry_delay_ms(1, 64, 0) == UINT64_MAX / 2);
	assert_true(alarm_retry_delay_ms(UINT64_MAX, 1, 0.5) == UINT64_MAX / 2);
	assert_true(
	    alarm_retry_delay_ms(1ULL << 62, 1, max_jitter) < UINT64_MAX / 2);
	assert_true(
	    alarm_retry_delay_ms(7ULL << 60, 1, max_jitter) == UINT64_MAX / 2);

	/* Never shorter for a later attempt, and always in range. */
	for (r = 1, prev = 0; r < 200; r++) {
		d = alarm_retry_delay_ms(2000, r, 0.999);
		assert_true(d >= prev);
		assert_true(d >= alarm_retry_delay_ms(2000, r, 0));
		prev = d;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_find_update_del),
	    cmocka_unit_test(test_update_moves),
	    cmocka_unit_test(test_pop_respects_now),
	    cmocka_unit_test(test_del_object),
	    cmocka_unit_test(test_long_key),
	    cmocka_unit_test(test_random_against_reference),
	    cmocka_unit_test(test_window_end),
	    cmocka_unit_test(test_loaded_until),
	    cmocka_unit_test(test_retry_delay),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
