/*
 * alarm_sched.c — how fast durod's in-memory alarm schedule is, and what
 * an alarm costs it in memory.
 *
 *	alarm_sched [-n N]
 *
 * With N alarms (default 1,000,000), each of a different object in one
 * namespace, all the default alarm (""), due at random times within a
 * day: the rate of N puts of new alarms, of N puts that move existing
 * ones to another random time, and of N pops that drain the schedule.
 * The resident set size (VmRSS in /proc/self/status) is read before the
 * puts and after them; their difference over N is bytes_per_entry (entry,
 * key, heap slot and hash buckets, with malloc's overhead). Prints one
 * JSON object on one line.
 *
 * Builds on its own, without the rest of durod (bench/Makefile:
 * bin/alarm_sched).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "durod.h"

#define DAY_MS (24ULL * 3600 * 1000)
#define NOW_MS 1700000000000ULL /* a fixed "now", so runs compare */

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (rng_state);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/* VmRSS in kB, or 0 when it cannot be read. */
static long
rss_kb(void)
{
	FILE *f;
	char line[256];
	long kb = 0;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return (kb);
}

/* Object i's id: i in the first bytes, a constant tail like a MAC's. */
static void
make_id(size_t i, uint8_t id[DURO_ID_BYTES])
{
	memset(id, 0xa5, DURO_ID_BYTES);
	memcpy(id, &i, sizeof(i));
}

static double
rate(size_t n, uint64_t ns)
{
	return (ns == 0 ? 0 : (double)n * 1e9 / (double)ns);
}

static uint64_t
bench_put(struct alarm_sched *s, size_t n)
{
	uint8_t id[DURO_ID_BYTES];
	uint64_t t0, due;
	size_t i;

	t0 = now_ns();
	for (i = 0; i < n; i++) {
		make_id(i, id);
		due = NOW_MS + rng() % DAY_MS;
		if (alarm_sched_put(s, "bench", id, "", due, due, 0, 0) != 0) {
			fprintf(stderr, "alarm_sched_put: out of memory\n");
			exit(1);
		}
	}
	return (now_ns() - t0);
}

static uint64_t
bench_pop(struct alarm_sched *s, size_t n)
{
	struct alarm_entry *e;
	uint64_t t0, last = 0;
	size_t i;

	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if ((e = alarm_sched_pop(s, UINT64_MAX)) == NULL ||
		    e->due_ms < last) {
			fprintf(stderr, "alarm_sched_pop: out of order\n");
			exit(1);
		}
		last = e->due_ms;
		alarm_entry_free(e);
	}
	return (now_ns() - t0);
}

int
main(int argc, char *argv[])
{
	struct alarm_sched *s;
	size_t n = 1000000;
	long rss0, rss1;
	uint64_t put_ns, update_ns, pop_ns;
	int ch;

	while ((ch = getopt(argc, argv, "n:")) != -1) {
		if (ch != 'n' || (n = strtoul(optarg, NULL, 10)) == 0) {
			fprintf(stderr, "usage: alarm_sched [-n N]\n");
			return (2);
		}
	}
	if ((s = alarm_sched_new()) == NULL)
		return (1);
	rss0 = rss_kb();
	put_ns = bench_put(s, n);
	rss1 = rss_kb();
	/* The same keys again: every put now moves an existing entry. */
	update_ns = bench_put(s, n);
	if (alarm_sched_count(s) != n) {
		fprintf(
		    stderr, "count %zu, want %zu\n", alarm_sched_count(s), n);
		return (1);
	}
	pop_ns = bench_pop(s, n);
	alarm_sched_free(s);
	printf("{\"n\":%zu,\"put_per_s\":%.0f,\"update_per_s\":%.0f,"
	       "\"pop_per_s\":%.0f,\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,"
	       "\"bytes_per_entry\":%.1f}\n",
	    n, rate(n, put_ns), rate(n, update_ns), rate(n, pop_ns), rss0, rss1,
	    (double)(rss1 - rss0) * 1024.0 / (double)n);
	return (0);
}
