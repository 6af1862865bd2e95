/*
 * metrics.c — the counters and histograms behind GET /metrics, rendered
 * in the Prometheus text exposition format 0.0.4.
 *
 * Every series is per namespace, found by name in a hash table and made
 * on first use; a namespace's series are never dropped, so a counter
 * never goes backwards while durod runs (a reload that removes a
 * namespace leaves its totals readable). Recording is O(1) because it
 * happens on every request: one hash lookup, then an array index (or,
 * for an exit, a walk of that namespace's few reasons).
 *
 * What is rendered, so that dashboards always find the same series:
 *   - every family's HELP and TYPE, even before its first sample;
 *   - a namespace is known once it has been counted or appears in the
 *     gauges handed to metrics_render; every known namespace gets a
 *     sample in every per-namespace family (counters, histograms and
 *     gauges alike, 0 when untouched), except the families labelled by
 *     code or reason, which show only the values seen so far;
 *   - namespaces in byte order of their names, codes in numeric and
 *     reasons in byte order, so the text is deterministic.
 *
 * Labels kept bounded, since each value is a series forever: a status
 * outside 100..599 is counted as code "other"; past REASONS_MAX distinct
 * exit reasons in a namespace, new ones are counted as reason "other"
 * (exit_reason_label() has a dozen). A NULL namespace is "", a NULL or
 * empty reason is "other". A duration that is negative or not finite
 * (a clock step) is observed as 0 so the sums stay finite.
 *
 * Metrics are best effort: when memory runs out, an observation for a new
 * namespace is dropped rather than failing the request that made it.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durod.h"

#define CODE_MIN 100
#define CODE_MAX 599
#define CODE_OTHER (CODE_MAX - CODE_MIN + 1) /* the slot after 599 */
#define REASONS_MAX 32
#define HIST_MAX 16 /* buckets, +Inf included */

/* Upper bounds ("le") of the histograms' finite buckets, in seconds. */
static const double req_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double act_le[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(NELEM(req_le) < HIST_MAX && NELEM(act_le) < HIST_MAX,
    "struct hist has a slot per bucket and one for +Inf");

/* The plain per-namespace counters, one family each. */
enum counter {
	C_ACTIVATIONS,
	C_RESTARTS,
	C_BACKOFFS,
	C_HIBERNATIONS,
	C_ALARMS_FIRED,
	C_ALARMS_RETRIED,
	C_ALARMS_GIVEN_UP,
	C_COUNT
};

struct family {
	const char *name;
	const char *help;
};

static const struct family counter_families[C_COUNT] = {
    [C_ACTIVATIONS] = {"duro_activations_total",
        "Worker processes spawned (activations)."},
    [C_RESTARTS] = {"duro_restarts_total",
        "Worker crashes that count towards the restart intensity."},
    [C_BACKOFFS] = {"duro_backoffs_total",
        "Times an object entered backoff after crashing too often."},
    [C_HIBERNATIONS] = {"duro_hibernations_total",
        "Workers told to hibernate (idle, capacity, recycle, shutdown)."},
    [C_ALARMS_FIRED] = {"duro_alarms_fired_total",
        "Alarm events delivered to workers."},
    [C_ALARMS_RETRIED] = {"duro_alarms_retried_total",
        "Failed alarms scheduled again."},
    [C_ALARMS_GIVEN_UP] = {"duro_alarms_given_up_total",
        "Alarms given up after their last retry failed."},
};

/* The gauges the caller samples, read from struct metrics_gauges. */
static const struct gauge_family {
	struct family f;
	size_t off;
} gauge_families[] = {
    {{"duro_live_workers", "Worker processes alive."},
        offsetof(struct metrics_gauges, live_workers)},
    {{"duro_objects_loaded", "Objects in durod's table, in any state."},
        offsetof(struct metrics_gauges, objects)},
    {{"duro_objects_backoff", "Objects in backoff after crashing too often."},
        offsetof(struct metrics_gauges, backoff)},
    {{"duro_websockets_open", "Open WebSocket connections."},
        offsetof(struct metrics_gauges, websockets)},
};

static const struct family requests_family = {"duro_requests_total",
    "HTTP requests answered, by namespace and status code."};
static const struct family request_duration_family = {
    "duro_request_duration_seconds",
    "Time from a request's arrival to its answer."};
static const struct family activation_duration_family = {
    "duro_activation_duration_seconds",
    "Time from a worker's spawn to its ready message."};
static const struct family exits_family = {
    "duro_worker_exits_total", "Worker processes reaped, by reason."};
static const struct family subscribers_family = {
    "duro_event_subscribers", "Clients subscribed to durod's event stream."};
static const struct family start_family = {"process_start_time_seconds",
    "Start time of the process since unix epoch in seconds."};

struct hist {
	uint64_t n[HIST_MAX]; /* per bucket, not cumulative; then +Inf */
	uint64_t count;
	double sum;
};

struct reason {
	char *label;
	uint64_t n;
};

struct series {
	char *ns;
	uint64_t codes[CODE_OTHER + 1];
	struct hist req;
	struct hist act;
	struct reason *reasons; /* sorted by label, for rendering */
	size_t nreasons;
	uint64_t c[C_COUNT];
	UT_hash_handle hh;
};

struct metrics {
	struct series *byns;
};

struct metrics *
metrics_new(void)
{
	return (calloc(1, sizeof(struct metrics)));
}

static void
series_free(struct series *s)
{
	for (size_t i = 0; i < s->nreasons; i++)
		free(s->reasons[i].label);
	free(s->reasons);
	free(s->ns);
	free(s);
}

void
metrics_free(struct metrics *m)
{
	struct series *s, *tmp;

	if (m == NULL)
		return;
	HASH_ITER (hh, m->byns, s, tmp) {
		HASH_DEL(m->byns, s);
		series_free(s);
	}
	free(m);
}

/* The namespace's series, made on first use; NULL when out of memory. */
static struct series *
series_byns(struct metrics *m, const char *ns)
{
	struct series *s;
	size_t len;

	if (ns == NULL)
		ns = "";
	len = strlen(ns);
	HASH_FIND(hh, m->byns, ns, len, s);
	if (s != NULL)
		return (s);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	if ((s->ns = strdup(ns)) == NULL) {
		free(s);
		return (NULL);
	}
	HASH_ADD_KEYPTR(hh, m->byns, s->ns, len, s);
	return (s);
}

static void
hist_observe(struct hist *h, const double *le, size_t nle, double v)
{
	size_t i;

	if (!isfinite(v) || v < 0)
		v = 0;
	/* "le" is less or equal: a value on a bound belongs to its bucket. */
	for (i = 0; i < nle && v > le[i]; i++)
		;
	h->n[i]++;
	h->count++;
	h->sum += v;
}

void
metrics_request(struct metrics *m, const char *ns, int status, double seconds)
{
	struct series *s;

	if ((s = series_byns(m, ns)) == NULL)
		return;
	if (status >= CODE_MIN && status <= CODE_MAX)
		s->codes[status - CODE_MIN]++;
	else
		s->codes[CODE_OTHER]++;
	hist_observe(&s->req, req_le, NELEM(req_le), seconds);
}

static void
counter_add(struct metrics *m, const char *ns, enum counter c)
{
	struct series *s;

	if ((s = series_byns(m, ns)) != NULL)
		s->c[c]++;
}

void
metrics_spawn(struct metrics *m, const char *ns)
{
	counter_add(m, ns, C_ACTIVATIONS);
}

void
metrics_ready(struct metrics *m, const char *ns, double seconds)
{
	struct series *s;

	if ((s = series_byns(m, ns)) != NULL)
		hist_observe(&s->act, act_le, NELEM(act_le), seconds);
}

/* Where label is, or would go, in the sorted list of reasons. */
static size_t
reason_pos(const struct series *s, const char *label, int *found)
{
	size_t i;
	int cmp = 1;

	for (i = 0; i < s->nreasons; i++)
		if ((cmp = strcmp(s->reasons[i].label, label)) >= 0)
			break;
	*found = cmp == 0;
	return (i);
}

static int
reason_insert(struct series *s, size_t i, const char *label)
{
	struct reason *r;
	char *copy;

	if ((copy = strdup(label)) == NULL)
		return (-1);
	r = reallocarray(s->reasons, s->nreasons + 1, sizeof(*r));
	if (r == NULL) {
		free(copy);
		return (-1);
	}
	memmove(&r[i + 1], &r[i], (s->nreasons - i) * sizeof(*r));
	r[i].label = copy;
	r[i].n = 0;
	s->reasons = r;
	s->nreasons++;
	return (0);
}

void
metrics_exit(struct metrics *m, const char *ns, const char *reason)
{
	struct series *s;
	size_t i;
	int found;

	if ((s = series_byns(m, ns)) == NULL)
		return;
	if (reason == NULL || *reason == '\0')
		reason = "other";
	i = reason_pos(s, reason, &found);
	/* Only "other" may go past the cap, so the list stops growing. */
	if (!found && s->nreasons >= REASONS_MAX)
		i = reason_pos(s, reason = "other", &found);
	if (!found && reason_insert(s, i, reason) != 0)
		return;
	s->reasons[i].n++;
}

void
metrics_restart(struct metrics *m, const char *ns)
{
	counter_add(m, ns, C_RESTARTS);
}

void
metrics_backoff(struct metrics *m, const char *ns)
{
	counter_add(m, ns, C_BACKOFFS);
}

void
metrics_hibernation(struct metrics *m, const char *ns)
{
	counter_add(m, ns, C_HIBERNATIONS);
}

void
metrics_alarm(struct metrics *m, const char *ns, enum metrics_alarm kind)
{
	switch (kind) {
	case METRICS_ALARM_FIRED:
		counter_add(m, ns, C_ALARMS_FIRED);
		break;
	case METRICS_ALARM_RETRIED:
		counter_add(m, ns, C_ALARMS_RETRIED);
		break;
	case METRICS_ALARM_GIVEN_UP:
		counter_add(m, ns, C_ALARMS_GIVEN_UP);
		break;
	}
}

/* ---- rendering ---- */

/* A growing text buffer; after one failed allocation it only counts
 * the failure, so the renderer checks once at the end. */
struct out {
	char *buf;
	size_t len;
	size_t cap;
	int failed;
};

static int
out_reserve(struct out *o, size_t more)
{
	size_t cap;
	char *p;

	if (o->failed)
		return (-1);
	if (o->len + more < o->cap)
		return (0);
	cap = o->cap != 0 ? o->cap : 4096;
	while (cap <= o->len + more)
		cap *= 2;
	if ((p = realloc(o->buf, cap)) == NULL) {
		o->failed = 1;
		return (-1);
	}
	o->buf = p;
	o->cap = cap;
	return (0);
}

static void out_printf(struct out *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (out_reserve(o, 128) != 0)
		return;
	room = o->cap - o->len;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->failed = 1;
		return;
	}
	if ((size_t)n >= room) { /* did not fit: grow, then again */
		if (out_reserve(o, (size_t)n) != 0)
			return;
		va_start(ap, fmt);
		vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
	}
	o->len += (size_t)n;
}

/* A label value, escaped as the exposition format asks. */
static void
out_label(struct out *o, const char *v)
{
	for (; *v != '\0'; v++) {
		if (out_reserve(o, 2) != 0)
			return;
		if (*v == '\\' || *v == '"')
			o->buf[o->len++] = '\\';
		if (*v == '\n') {
			o->buf[o->len++] = '\\';
			o->buf[o->len++] = 'n';
		} else
			o->buf[o->len++] = *v;
	}
}

/* The shortest of %.15g..%.17g that reads back as the same double, so
 * 0.3 stays "0.3" yet nothing is lost; Go's spelling of the specials. */
static void
fmt_double(char *buf, size_t len, double v)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, "%sInf", v > 0 ? "+" : "-");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void
out_family(struct out *o, const struct family *f, const char *type)
{
	out_printf(
	    o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, type);
}

/* name{namespace="ns" — the caller closes the braces. */
static void
out_sample_start(struct out *o, const char *name, const char *ns)
{
	out_printf(o, "%s{namespace=\"", name);
	out_label(o, ns);
	out_printf(o, "\"");
}

/* One known namespace: its series (NULL if never counted) and its gauges
 * (summed, should the caller list it twice). */
struct row {
	const char *ns;
	const struct series *s;
	struct metrics_gauges g;
};

static int
row_cmp(const void *a, const void *b)
{
	const struct row *ra = a, *rb = b;

	return (strcmp(ra->ns, rb->ns));
}

static size_t
gauge_value(const struct metrics_gauges *g, size_t off)
{
	return (*(const size_t *)((const char *)g + off));
}

static void
gauges_add(struct metrics_gauges *to, const struct metrics_gauges *g)
{
	to->live_workers += g->live_workers;
	to->objects += g->objects;
	to->backoff += g->backoff;
	to->websockets += g->websockets;
}

/* The known namespaces, sorted, one row each; NULL when out of memory. */
static struct row *
rows_collect(const struct metrics *m, const struct metrics_gauges *g, size_t ng,
    size_t *nrows)
{
	const struct series *s, *tmp;
	struct row *rows;
	size_t n = 0, k = 0;

	rows = calloc(HASH_COUNT(m->byns) + ng + 1, sizeof(*rows));
	if (rows == NULL)
		return (NULL);
	HASH_ITER (hh, m->byns, s, tmp) {
		rows[n].ns = s->ns;
		rows[n++].s = s;
	}
	for (size_t i = 0; i < ng; i++) {
		rows[n].ns = g[i].ns != NULL ? g[i].ns : "";
		rows[n++].g = g[i];
	}
	qsort(rows, n, sizeof(*rows), row_cmp);
	/* A name is in the hash at most once, but may also be in g. */
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && strcmp(rows[k - 1].ns, rows[i].ns) == 0) {
			if (rows[i].s != NULL)
				rows[k - 1].s = rows[i].s;
			gauges_add(&rows[k - 1].g, &rows[i].g);
		} else
			rows[k++] = rows[i];
	}
	*nrows = k;
	return (rows);
}

static void
render_requests(struct out *o, const struct row *rows, size_t n)
{
	out_family(o, &requests_family, "counter");
	for (size_t i = 0; i < n; i++) {
		if (rows[i].s == NULL)
			continue;
		for (size_t c = 0; c <= CODE_OTHER; c++) {
			if (rows[i].s->codes[c] == 0)
				continue;
			out_sample_start(o, requests_family.name, rows[i].ns);
			if (c == CODE_OTHER)
				out_printf(o, ",code=\"other\"}");
			else
				out_printf(o, ",code=\"%zu\"}", c + CODE_MIN);
			out_printf(o, " %" PRIu64 "\n", rows[i].s->codes[c]);
		}
	}
}

static void
render_hist(struct out *o, const char *name, const char *ns,
    const struct hist *h, const double *le, size_t nle)
{
	char num[32];
	uint64_t cum = 0;

	for (size_t i = 0; i <= nle; i++) {
		cum += h != NULL ? h->n[i] : 0;
		if (i < nle)
			fmt_double(num, sizeof(num), le[i]);
		else
			snprintf(num, sizeof(num), "+Inf");
		out_printf(o, "%s_bucket{namespace=\"", name);
		out_label(o, ns);
		out_printf(o, "\",le=\"%s\"} %" PRIu64 "\n", num, cum);
	}
	fmt_double(num, sizeof(num), h != NULL ? h->sum : 0);
	out_printf(o, "%s_sum{namespace=\"", name);
	out_label(o, ns);
	out_printf(o, "\"} %s\n", num);
	out_printf(o, "%s_count{namespace=\"", name);
	out_label(o, ns);
	out_printf(o, "\"} %" PRIu64 "\n", h != NULL ? h->count : 0);
}

static void
render_hists(struct out *o, const struct row *rows, size_t n)
{
	const struct family *rf = &request_duration_family;
	const struct family *af = &activation_duration_family;

	out_family(o, rf, "histogram");
	for (size_t i = 0; i < n; i++)
		render_hist(o, rf->name, rows[i].ns,
		    rows[i].s != NULL ? &rows[i].s->req : NULL, req_le,
		    NELEM(req_le));
	out_family(o, af, "histogram");
	for (size_t i = 0; i < n; i++)
		render_hist(o, af->name, rows[i].ns,
		    rows[i].s != NULL ? &rows[i].s->act : NULL, act_le,
		    NELEM(act_le));
}

static void
render_exits(struct out *o, const struct row *rows, size_t n)
{
	const struct series *s;

	out_family(o, &exits_family, "counter");
	for (size_t i = 0; i < n; i++) {
		if ((s = rows[i].s) == NULL)
			continue;
		for (size_t r = 0; r < s->nreasons; r++) {
			out_sample_start(o, exits_family.name, rows[i].ns);
			out_printf(o, ",reason=\"");
			out_label(o, s->reasons[r].label);
			out_printf(o, "\"} %" PRIu64 "\n", s->reasons[r].n);
		}
	}
}

static void
render_counters(struct out *o, const struct row *rows, size_t n)
{
	for (size_t c = 0; c < C_COUNT; c++) {
		out_family(o, &counter_families[c], "counter");
		for (size_t i = 0; i < n; i++) {
			out_sample_start(
			    o, counter_families[c].name, rows[i].ns);
			out_printf(o, "} %" PRIu64 "\n",
			    rows[i].s != NULL ? rows[i].s->c[c] : 0);
		}
	}
}

static void
render_gauges(struct out *o, const struct row *rows, size_t n)
{
	const struct gauge_family *gf;

	for (size_t f = 0; f < NELEM(gauge_families); f++) {
		gf = &gauge_families[f];
		out_family(o, &gf->f, "gauge");
		for (size_t i = 0; i < n; i++) {
			out_sample_start(o, gf->f.name, rows[i].ns);
			out_printf(
			    o, "} %zu\n", gauge_value(&rows[i].g, gf->off));
		}
	}
}

char *
metrics_render(const struct metrics *m, const struct metrics_gauges *g,
    size_t ng, size_t event_subscribers, double start_time, size_t *len)
{
	struct out o = {NULL, 0, 0, 0};
	struct row *rows;
	size_t n;
	char num[32];

	if ((rows = rows_collect(m, g, ng, &n)) == NULL)
		return (NULL);
	render_requests(&o, rows, n);
	render_hists(&o, rows, n);
	render_exits(&o, rows, n);
	render_counters(&o, rows, n);
	render_gauges(&o, rows, n);
	free(rows);
	out_family(&o, &subscribers_family, "gauge");
	out_printf(&o, "%s %zu\n", subscribers_family.name, event_subscribers);
	out_family(&o, &start_family, "gauge");
	fmt_double(num, sizeof(num), start_time);
	out_printf(&o, "%s %s\n", start_family.name, num);
	if (o.failed) {
		free(o.buf);
		return (NULL);
	}
	if (len != NULL)
		*len = o.len;
	return (o.buf);
}
