/* test_metrics.c — GET /metrics' counters and text (supervisor/metrics.c). */
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../supervisor/durod.h"

/* Every family, in the order metrics_render writes them. */
static const char *const families[] = {
    "duro_requests_total",
    "duro_request_duration_seconds",
    "duro_activation_duration_seconds",
    "duro_worker_exits_total",
    "duro_activations_total",
    "duro_restarts_total",
    "duro_backoffs_total",
    "duro_hibernations_total",
    "duro_alarms_fired_total",
    "duro_alarms_retried_total",
    "duro_alarms_given_up_total",
    "duro_live_workers",
    "duro_objects_loaded",
    "duro_objects_backoff",
    "duro_websockets_open",
    "duro_event_subscribers",
    "process_start_time_seconds",
};

#define NFAMILIES (sizeof(families) / sizeof(families[0]))

static char *
render(const struct metrics *m, const struct metrics_gauges *g, size_t ng)
{
	size_t len = 0;
	char *text;

	text = metrics_render(m, g, ng, 3, 1700000000.5, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return (text);
}

/* Whether text has this whole line. */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return (1);
	return (0);
}

static void
assert_line(const char *text, const char *line)
{
	if (!has_line(text, line))
		fail_msg("missing line: %s\n--- in ---\n%s", line, text);
}

static void
assert_no_line(const char *text, const char *line)
{
	if (has_line(text, line))
		fail_msg("unexpected line: %s", line);
}

/* The value of the sample whose line starts with prefix ("name{...} "). */
static double
sample(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++)
		if (p == text || p[-1] == '\n')
			return (strtod(p + n, NULL));
	fail_msg("no sample: %s", prefix);
	return (-1);
}

/* The shape of the format, checked without promtool: each family's HELP
 * and TYPE once, in order, then only samples of that family. */
static void
assert_well_formed(const char *text)
{
	char help[128], type[128];
	const char *p = text, *nl, *f = NULL;
	size_t next = 0;

	assert_true(*text != '\0' && text[strlen(text) - 1] == '\n');
	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		if (strncmp(p, "# HELP ", 7) == 0) {
			assert_true(next < NFAMILIES);
			f = families[next++];
			snprintf(help, sizeof(help), "# HELP %s ", f);
			snprintf(type, sizeof(type), "# TYPE %s ", f);
			assert_memory_equal(p, help, strlen(help));
			p = nl + 1;
			nl = strchr(p, '\n');
			assert_non_null(nl);
			assert_memory_equal(p, type, strlen(type));
			continue;
		}
		/* A sample: its family's name, then '{', '_' or ' '. */
		assert_non_null(f);
		assert_memory_equal(p, f, strlen(f));
		assert_non_null(strchr("{_ ", p[strlen(f)]));
		assert_true(nl[-1] >= '0' && nl[-1] <= '9');
	}
	assert_int_equal(next, NFAMILIES);
}

static void
test_empty(void **state)
{
	struct metrics *m = metrics_new();
	char *text;

	assert_non_null(m);
	text = render(m, NULL, 0);
	assert_well_formed(text);
	assert_line(text, "# TYPE duro_requests_total counter");
	assert_line(text, "# TYPE duro_request_duration_seconds histogram");
	assert_line(text, "# TYPE duro_live_workers gauge");
	assert_line(text, "duro_event_subscribers 3");
	assert_line(text, "process_start_time_seconds 1700000000.5");
	assert_null(strstr(text, "namespace="));
	free(text);
	metrics_free(m);
	metrics_free(NULL);
}

static void
test_counts(void **state)
{
	struct metrics *m = metrics_new();
	char *text;

	metrics_request(m, "shop", 200, 0.01);
	metrics_request(m, "shop", 200, 0.02);
	metrics_request(m, "shop", 503, 0.5);
	metrics_request(m, "", 404, 0.0001);
	metrics_request(m, "shop", 99, 0);
	metrics_request(m, "shop", 600, 0);
	metrics_request(m, "shop", 0, 0);
	metrics_spawn(m, "shop");
	metrics_spawn(m, "shop");
	metrics_ready(m, "shop", 0.02);
	metrics_exit(m, "shop", "clean");
	metrics_exit(m, "shop", "signal");
	metrics_exit(m, "shop", "signal");
	metrics_exit(m, "shop", NULL);
	metrics_restart(m, "shop");
	metrics_backoff(m, "shop");
	metrics_hibernation(m, "shop");
	metrics_hibernation(m, "shop");
	metrics_alarm(m, "shop", METRICS_ALARM_FIRED);
	metrics_alarm(m, "shop", METRICS_ALARM_RETRIED);
	metrics_alarm(m, "shop", METRICS_ALARM_RETRIED);
	metrics_alarm(m, "shop", METRICS_ALARM_GIVEN_UP);
	text = render(m, NULL, 0);
	assert_well_formed(text);
	assert_line(
	    text, "duro_requests_total{namespace=\"shop\",code=\"200\"} 2");
	assert_line(
	    text, "duro_requests_total{namespace=\"shop\",code=\"503\"} 1");
	assert_line(text, "duro_requests_total{namespace=\"\",code=\"404\"} 1");
	/* 99, 600 and 0 are no HTTP status. */
	assert_line(
	    text, "duro_requests_total{namespace=\"shop\",code=\"other\"} 3");
	assert_null(strstr(text, "code=\"99\""));
	/* Only codes seen appear. */
	assert_null(strstr(text, "code=\"404\"} 0"));
	assert_no_line(
	    text, "duro_requests_total{namespace=\"\",code=\"200\"} 0");
	assert_line(
	    text, "duro_request_duration_seconds_count{namespace=\"shop\"} 6");
	assert_line(
	    text, "duro_request_duration_seconds_sum{namespace=\"shop\"} 0.53");
	assert_line(text, "duro_activations_total{namespace=\"shop\"} 2");
	assert_line(text,
	    "duro_activation_duration_seconds_count{namespace=\"shop\"} 1");
	assert_line(text,
	    "duro_worker_exits_total{namespace=\"shop\",reason=\"clean\"} 1");
	assert_line(text,
	    "duro_worker_exits_total{namespace=\"shop\",reason=\"signal\"} 2");
	assert_line(text,
	    "duro_worker_exits_total{namespace=\"shop\",reason=\"other\"} 1");
	assert_line(text, "duro_restarts_total{namespace=\"shop\"} 1");
	assert_line(text, "duro_backoffs_total{namespace=\"shop\"} 1");
	assert_line(text, "duro_hibernations_total{namespace=\"shop\"} 2");
	assert_line(text, "duro_alarms_fired_total{namespace=\"shop\"} 1");
	assert_line(text, "duro_alarms_retried_total{namespace=\"shop\"} 2");
	assert_line(text, "duro_alarms_given_up_total{namespace=\"shop\"} 1");
	/* "" is a namespace like any other: untouched counters are 0. */
	assert_line(text, "duro_activations_total{namespace=\"\"} 0");
	assert_line(text, "duro_live_workers{namespace=\"\"} 0");
	free(text);
	metrics_free(m);
}

/* "le" is less or equal: a value on a bound falls in that bound's bucket,
 * and each bucket counts everything below it too. */
static void
test_buckets(void **state)
{
	struct metrics *m = metrics_new();
	const char *b = "duro_request_duration_seconds_bucket{namespace=\"a\",";
	char line[256];
	char *text;

	metrics_request(m, "a", 200, 0.0005);  /* on the first bound */
	metrics_request(m, "a", 200, 0.00051); /* just past it */
	metrics_request(m, "a", 200, 1);
	metrics_request(m, "a", 200, 30);
	metrics_request(m, "a", 200, 30.001); /* only +Inf */
	metrics_request(m, "a", 200, -2);     /* a clock step: 0 */
	metrics_ready(m, "a", 0.001);
	metrics_ready(m, "a", 5);
	metrics_ready(m, "a", 6);
	text = render(m, NULL, 0);
	assert_well_formed(text);
#define BUCKET(le, n)                                                          \
	do {                                                                   \
		snprintf(line, sizeof(line), "%sle=\"%s\"} %d", b, le, n);     \
		assert_line(text, line);                                       \
	} while (0)
	BUCKET("0.0005", 2);
	BUCKET("0.001", 3);
	BUCKET("0.5", 3);
	BUCKET("1", 4);
	BUCKET("10", 4);
	BUCKET("30", 5);
	BUCKET("+Inf", 6);
	b = "duro_activation_duration_seconds_bucket{namespace=\"a\",";
	BUCKET("0.001", 1);
	BUCKET("2.5", 1);
	BUCKET("5", 2);
	BUCKET("+Inf", 3);
#undef BUCKET
	assert_float_equal(sample(text, "duro_activation_duration_seconds_sum{"
	                                "namespace=\"a\"} "),
	    11.001, 1e-9);
	assert_null(strstr(text, "le=\"10\"} 2")); /* no 10 s for spawns */
	free(text);
	metrics_free(m);
}

static void
test_escaping(void **state)
{
	struct metrics *m = metrics_new();
	char *text;

	metrics_spawn(m, "a\"b\\c\nd");
	metrics_exit(m, "x", "we\"ird\n");
	text = render(m, NULL, 0);
	assert_well_formed(text);
	assert_line(
	    text, "duro_activations_total{namespace=\"a\\\"b\\\\c\\nd\"} 1");
	assert_line(text, "duro_worker_exits_total{namespace=\"x\",reason="
	                  "\"we\\\"ird\\n\"} 1");
	free(text);
	metrics_free(m);
}

/* A namespace only in the gauges (no traffic yet) still gets every
 * per-namespace sample; one only in the counters gets 0 gauges; a name
 * listed twice is merged, not repeated. */
static void
test_gauges(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_gauges g[] = {
	    {"quiet", 4, 10, 2, 7},
	    {"busy", 1, 1, 0, 0},
	    {"busy", 1, 2, 0, 1},
	};
	char *text;

	metrics_request(m, "busy", 200, 0.1);
	metrics_spawn(m, "gone");
	text = render(m, g, 3);
	assert_well_formed(text);
	assert_line(text, "duro_live_workers{namespace=\"quiet\"} 4");
	assert_line(text, "duro_objects_loaded{namespace=\"quiet\"} 10");
	assert_line(text, "duro_objects_backoff{namespace=\"quiet\"} 2");
	assert_line(text, "duro_websockets_open{namespace=\"quiet\"} 7");
	assert_line(text, "duro_activations_total{namespace=\"quiet\"} 0");
	assert_line(text, "duro_alarms_given_up_total{namespace=\"quiet\"} 0");
	assert_line(text,
	    "duro_request_duration_seconds_bucket{namespace=\"quiet\","
	    "le=\"+Inf\"} 0");
	assert_line(
	    text, "duro_request_duration_seconds_sum{namespace=\"quiet\"} 0");
	assert_line(text,
	    "duro_activation_duration_seconds_count{namespace=\"quiet\"} 0");
	assert_null(strstr(text, "duro_requests_total{namespace=\"quiet\""));
	assert_null(
	    strstr(text, "duro_worker_exits_total{namespace=\"quiet\""));
	assert_line(text, "duro_live_workers{namespace=\"busy\"} 2");
	assert_line(text, "duro_objects_loaded{namespace=\"busy\"} 3");
	assert_line(text, "duro_websockets_open{namespace=\"busy\"} 1");
	assert_line(text, "duro_live_workers{namespace=\"gone\"} 0");
	assert_line(text, "duro_activations_total{namespace=\"gone\"} 1");
	/* Sorted by name: busy, gone, quiet. */
	assert_true(strstr(text, "duro_live_workers{namespace=\"busy\"") <
	            strstr(text, "duro_live_workers{namespace=\"gone\""));
	assert_true(strstr(text, "duro_live_workers{namespace=\"gone\"") <
	            strstr(text, "duro_live_workers{namespace=\"quiet\""));
	free(text);
	metrics_free(m);
}

/* Many namespaces, counted in a scrambled order, come out sorted, each
 * with its own counts. */
static void
test_many(void **state)
{
	struct metrics *m = metrics_new();
	char ns[32], prefix[96], prev[96] = "";
	const char *p;
	char *text, *again;
	int n = 500;

	for (int i = 0; i < n; i++) {
		int k = (i * 7919) % n; /* a permutation: 7919 is prime */

		snprintf(ns, sizeof(ns), "ns%03d", k);
		for (int j = 0; j <= k % 5; j++)
			metrics_spawn(m, ns);
		metrics_request(m, ns, 200 + k % 3, 0.001 * k);
	}
	text = render(m, NULL, 0);
	assert_well_formed(text);
	for (int k = 0; k < n; k++) {
		snprintf(prefix, sizeof(prefix),
		    "duro_activations_total{namespace=\"ns%03d\"} ", k);
		assert_true(sample(text, prefix) == k % 5 + 1);
	}
	/* Sorted. */
	p = text;
	while ((p = strstr(p, "\nduro_restarts_total{namespace=\"")) != NULL) {
		p++;
		assert_true(strncmp(prev, p, 40) < 0);
		snprintf(prev, sizeof(prev), "%.40s", p);
	}
	/* Deterministic. */
	again = render(m, NULL, 0);
	assert_string_equal(text, again);
	free(again);
	free(text);
	metrics_free(m);
}

/* Exit reasons are capped so a bug cannot grow the series forever. */
static void
test_reason_cap(void **state)
{
	struct metrics *m = metrics_new();
	char reason[32];
	char *text;

	for (int i = 0; i < 100; i++) {
		snprintf(reason, sizeof(reason), "r%02d", i);
		metrics_exit(m, "a", reason);
	}
	metrics_exit(m, "a", "r00");
	text = render(m, NULL, 0);
	assert_well_formed(text);
	assert_line(
	    text, "duro_worker_exits_total{namespace=\"a\",reason=\"r00\"} 2");
	assert_line(
	    text, "duro_worker_exits_total{namespace=\"a\",reason=\"r31\"} 1");
	assert_null(strstr(text, "reason=\"r32\""));
	assert_line(text,
	    "duro_worker_exits_total{namespace=\"a\",reason=\"other\"} 68");
	free(text);
	metrics_free(m);
}

/* A busy object with every kind of sample, for promtool. */
static char *
busy_text(void)
{
	static const char *const reasons[] = {"clean", "exit_code", "signal",
	    "sandbox", "limit", "timeout", "start_timeout", "violation",
	    "hibernate_grace", "shutdown", "delete", "restart", "start_failed"};
	struct metrics_gauges g[] = {
	    {"alpha", 3, 12, 1, 2},
	    {"idle", 0, 0, 0, 0},
	    {"we\"ird\\ns\n", 1, 1, 0, 0},
	};
	struct metrics *m = metrics_new();
	char *text;

	for (int i = 0; i < 1000; i++) {
		const char *ns = i % 3 == 0   ? "alpha"
		                 : i % 3 == 1 ? "beta"
		                              : "";

		metrics_request(m, ns, 100 + i % 500, i * 0.0137);
		if (i % 10 == 0) {
			metrics_spawn(m, ns);
			metrics_ready(m, ns, i * 0.001);
			metrics_exit(m, ns, reasons[i / 10 % 13]);
			metrics_hibernation(m, ns);
			metrics_alarm(m, ns, i % 3);
		}
		if (i % 100 == 0) {
			metrics_restart(m, ns);
			metrics_backoff(m, ns);
		}
	}
	metrics_spawn(m, g[2].ns);
	text = render(m, g, 3);
	metrics_free(m);
	return (text);
}

/* Whether promtool is on PATH. */
static int
have_promtool(void)
{
	return (system("command -v promtool >/dev/null 2>&1") == 0);
}

static void
test_promtool(void **state)
{
	char path[] = "/tmp/test_metrics.XXXXXX";
	char cmd[128], out[4096];
	size_t len, n;
	FILE *p;
	char *text;
	int fd, status;

	if (!have_promtool()) {
		print_message("promtool not on PATH (Debian: prometheus); "
		              "skipping the lint\n");
		skip();
	}
	text = busy_text();
	assert_well_formed(text);
	len = strlen(text);
	assert_true((fd = mkstemp(path)) != -1);
	assert_true(write(fd, text, len) == (ssize_t)len);
	close(fd);
	free(text);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	assert_non_null(p = popen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	unlink(path);
	if (n != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("promtool check metrics (status %d): %s", status, out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_buckets),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_gauges),
	    cmocka_unit_test(test_many),
	    cmocka_unit_test(test_reason_cap),
	    cmocka_unit_test(test_promtool),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
