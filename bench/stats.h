/*
 * stats.h — tiny helpers shared by the C micro-benchmarks: a monotonic
 * clock in nanoseconds and a summary (mean, p50, p99, min, max) of a
 * sample of durations, printed as one JSON object per line so that
 * bench/bench.py can parse it.
 *
 * Percentiles are nearest-rank: p of n sorted samples is the sample at
 * index ceil(p/100 * n) - 1.
 */
#ifndef DURO_BENCH_STATS_H
#define DURO_BENCH_STATS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

static inline double
pct_us(const uint64_t *sorted, size_t n, double p)
{
	size_t i = (size_t)ceil(p / 100.0 * (double)n);

	if (i > 0)
		i--;
	if (i >= n)
		i = n - 1;
	return ((double)sorted[i] / 1000.0);
}

/* When set (a program's -a flag), summaries also carry every sample. */
static int stats_all_samples;

/*
 * Print {"bench": name, "n": n, "mean_us": .., "p50_us": .., "p99_us": ..,
 * "min_us": .., "max_us": ..[, "samples_us": [...]]} on stdout, the samples
 * in the order they were taken. Sorts v in place.
 */
static inline void
print_summary(const char *name, uint64_t *v, size_t n)
{
	double sum = 0;

	if (n == 0) {
		printf("{\"bench\":\"%s\",\"n\":0}\n", name);
		return;
	}
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	printf("{");
	if (stats_all_samples) {
		printf("\"samples_us\":[");
		for (size_t i = 0; i < n; i++)
			printf("%s%.2f", i ? "," : "", (double)v[i] / 1000.0);
		printf("],");
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("\"bench\":\"%s\",\"n\":%zu,\"mean_us\":%.2f,\"p50_us\":%.2f,"
	       "\"p99_us\":%.2f,\"min_us\":%.2f,\"max_us\":%.2f}\n",
	    name, n, sum / (double)n / 1000.0, pct_us(v, n, 50),
	    pct_us(v, n, 99), (double)v[0] / 1000.0, (double)v[n - 1] / 1000.0);
	fflush(stdout);
}

#endif
