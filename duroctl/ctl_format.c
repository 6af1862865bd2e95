/*
 * ctl_format.c — what duroctl prints for people: aligned tables, one line
 * per lifecycle event, summaries of durod and of one object. Pure: it
 * turns parsed answers into text in a ctl_buf and does no I/O, so every
 * format is unit-tested (only local time depends on TZ).
 *
 * Text that comes from others (object names, SQL values, event reasons)
 * goes through ctl_escape: a name with an escape sequence must not drive
 * the terminal, and a newline in a cell must not break the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duroctl.h"

#define SHORT_ID 16 /* hex characters of an id in a narrow column */
#define ELLIPSIS "\xe2\x80\xa6"
#define EVENT_WIDTH 9 /* "hibernate", the longest event name we know */

void
ctl_escape(struct ctl_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x20 && *p != 0x7f)
			ctl_buf_add(b, p, 1);
		else if (*p == '\n')
			ctl_buf_str(b, "\\n");
		else if (*p == '\t')
			ctl_buf_str(b, "\\t");
		else if (*p == '\r')
			ctl_buf_str(b, "\\r");
		else
			ctl_buf_printf(b, "\\x%02x", *p);
	}
}

size_t
ctl_text_width(const char *s)
{
	size_t w = 0;

	/* Every byte but UTF-8 continuation bytes starts a character. */
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			w++;
	return (w);
}

void
ctl_time_iso(struct ctl_buf *b, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	int64_t frac = ms % 1000;
	char s[64];
	struct tm tm;
	long off;

	if (frac < 0) {
		frac += 1000;
		t--;
	}
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		ctl_buf_printf(b, "@%lld", (long long)ms);
		return;
	}
	ctl_buf_printf(b, "%s.%03d", s, (int)frac);
	off = tm.tm_gmtoff / 60;
	if (off == 0)
		ctl_buf_str(b, "Z");
	else
		ctl_buf_printf(b, "%c%02ld:%02ld", off < 0 ? '-' : '+',
		    labs(off) / 60, labs(off) % 60);
}

void
ctl_duration(struct ctl_buf *b, int64_t ms)
{
	long long s;

	if (ms < 0) {
		ctl_buf_str(b, "-");
		ms = ms == INT64_MIN ? INT64_MAX : -ms;
	}
	s = (long long)(ms / 1000);
	if (ms < 1000)
		ctl_buf_printf(b, "%lld ms", (long long)ms);
	else if (s < 60 && ms % 1000 == 0)
		ctl_buf_printf(b, "%lld s", s);
	else if (s < 60)
		ctl_buf_printf(
		    b, "%lld.%lld s", s, (long long)(ms % 1000) / 100);
	else if (s < 3600)
		ctl_buf_printf(b, "%lldm %02llds", s / 60, s % 60);
	else if (s < 86400)
		ctl_buf_printf(b, "%lldh %02lldm", s / 3600, s % 3600 / 60);
	else
		ctl_buf_printf(b, "%lldd %02lldh", s / 86400, s % 86400 / 3600);
}

/* "12288 bytes (12.0 KiB)" */
static void
fmt_size(struct ctl_buf *b, int64_t n)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u;

	ctl_buf_printf(b, "%lld byte%s", (long long)n, n == 1 ? "" : "s");
	if (n < 1024)
		return;
	for (u = 0, v /= 1024; v >= 1024 && u + 1 < 4; u++)
		v /= 1024;
	ctl_buf_printf(b, " (%.1f %s)", v, units[u]);
}

/* ---- tables ---- */

void
ctl_table_init(struct ctl_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

void
ctl_table_add(struct ctl_table *t, const char *text, int right)
{
	struct ctl_buf e = {0};
	unsigned char *r;
	char **c;
	size_t cap;

	if (t->err)
		return;
	if (t->ncells == t->cap) {
		cap = t->cap ? t->cap * 2 : 64;
		if ((c = realloc(t->cells, cap * sizeof(*c))) != NULL)
			t->cells = c;
		if (c == NULL ||
		    (r = realloc(t->right, cap * sizeof(*r))) == NULL) {
			t->err = 1;
			return;
		}
		t->right = r;
		t->cap = cap;
	}
	ctl_escape(&e, text);
	if (e.err || (t->cells[t->ncells] = strdup(ctl_buf_text(&e))) == NULL) {
		ctl_buf_free(&e);
		t->err = 1;
		return;
	}
	ctl_buf_free(&e);
	t->right[t->ncells++] = right != 0;
}

size_t
ctl_table_rows(const struct ctl_table *t)
{
	size_t rows = t->ncols ? (t->ncells + t->ncols - 1) / t->ncols : 0;

	return (rows > 0 ? rows - 1 : 0);
}

static void
table_row(const struct ctl_table *t, enum ctl_table_style st, size_t row,
    const size_t *w, struct ctl_buf *out)
{
	for (size_t c = 0; c < t->ncols; c++) {
		size_t i = row * t->ncols + c;
		const char *cell = i < t->ncells ? t->cells[i] : "";
		int right = i < t->ncells && t->right[i];
		size_t pad = w[c] - ctl_text_width(cell);

		if (st == CTL_TABLE_GRID)
			ctl_buf_str(out, c == 0 ? " " : " | ");
		else if (c > 0)
			ctl_buf_str(out, "  ");
		if (right)
			ctl_buf_pad(out, ' ', pad);
		ctl_buf_str(out, cell);
		/* No trailing blanks after the last column. */
		if (!right && c + 1 < t->ncols)
			ctl_buf_pad(out, ' ', pad);
	}
	ctl_buf_str(out, "\n");
}

void
ctl_table_render(
    const struct ctl_table *t, enum ctl_table_style st, struct ctl_buf *out)
{
	size_t rows, *w;

	if (t->err) {
		out->err = 1;
		return;
	}
	if (t->ncols == 0 || t->ncells == 0)
		return;
	if ((w = calloc(t->ncols, sizeof(*w))) == NULL) {
		out->err = 1;
		return;
	}
	for (size_t i = 0; i < t->ncells; i++) {
		size_t cw = ctl_text_width(t->cells[i]);

		if (cw > w[i % t->ncols])
			w[i % t->ncols] = cw;
	}
	rows = (t->ncells + t->ncols - 1) / t->ncols;
	for (size_t r = 0; r < rows; r++) {
		table_row(t, st, r, w, out);
		for (size_t c = 0;
		     r == 0 && st == CTL_TABLE_GRID && c < t->ncols; c++) {
			if (c > 0)
				ctl_buf_str(out, "+");
			ctl_buf_pad(out, '-', w[c] + 2);
			if (c + 1 == t->ncols)
				ctl_buf_str(out, "\n");
		}
	}
	free(w);
}

void
ctl_table_free(struct ctl_table *t)
{
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->right);
	memset(t, 0, sizeof(*t));
}

/* ---- the objects list ---- */

void
ctl_objects_header(struct ctl_table *t)
{
	static const char *const h[] = {"NS", "ID", "NAME", "STATE", "PID"};

	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		ctl_table_add(t, h[i], 0);
}

/* Add a cell: the value as text, or "-" when absent or null. */
static void
add_value(struct ctl_table *t, const cJSON *v)
{
	struct ctl_buf b = {0};

	if (v == NULL || cJSON_IsNull(v)) {
		ctl_table_add(t, "-", 0);
		return;
	}
	ctl_json_text(&b, v);
	if (b.err)
		t->err = 1;
	ctl_table_add(t, ctl_buf_text(&b), 0);
	ctl_buf_free(&b);
}

void
ctl_objects_row(struct ctl_table *t, const cJSON *o, int long_ids)
{
	const char *id = ctl_json_str(o, "id");
	char shortid[SHORT_ID + sizeof(ELLIPSIS)];

	add_value(t, cJSON_GetObjectItemCaseSensitive(o, "ns"));
	if (id != NULL && !long_ids && strlen(id) > SHORT_ID) {
		snprintf(
		    shortid, sizeof(shortid), "%.*s" ELLIPSIS, SHORT_ID, id);
		ctl_table_add(t, shortid, 0);
	} else {
		add_value(t, cJSON_GetObjectItemCaseSensitive(o, "id"));
	}
	add_value(t, cJSON_GetObjectItemCaseSensitive(o, "name"));
	add_value(t, cJSON_GetObjectItemCaseSensitive(o, "state"));
	add_value(t, cJSON_GetObjectItemCaseSensitive(o, "pid"));
}

/* ---- SQL answers ---- */

/* The rows of an SQL answer into t; -1 when one is not a full row. */
static int
sql_rows(struct ctl_table *t, const cJSON *rows, size_t ncols, size_t *n)
{
	struct ctl_buf cell = {0};
	const cJSON *row, *v;

	cJSON_ArrayForEach (row, rows) {
		if (!cJSON_IsArray(row) ||
		    (size_t)cJSON_GetArraySize(row) != ncols) {
			ctl_buf_free(&cell);
			return (-1);
		}
		cJSON_ArrayForEach (v, row) {
			ctl_buf_reset(&cell);
			ctl_json_text(&cell, v);
			ctl_table_add(
			    t, ctl_buf_text(&cell), cJSON_IsNumber(v));
		}
		(*n)++;
	}
	if (cell.err)
		t->err = 1;
	ctl_buf_free(&cell);
	return (0);
}

int
ctl_sql_render(const cJSON *a, struct ctl_buf *out)
{
	const cJSON *cols = cJSON_GetObjectItemCaseSensitive(a, "columns");
	const cJSON *rows = cJSON_GetObjectItemCaseSensitive(a, "rows");
	const cJSON *c;
	struct ctl_table t;
	size_t n = 0;

	if (!cJSON_IsArray(cols) || !cJSON_IsArray(rows))
		return (-1);
	ctl_table_init(&t, (size_t)cJSON_GetArraySize(cols));
	cJSON_ArrayForEach (c, cols)
		ctl_table_add(&t, cJSON_IsString(c) ? c->valuestring : "?", 0);
	if (sql_rows(&t, rows, t.ncols, &n) != 0) {
		ctl_table_free(&t);
		return (-1);
	}
	ctl_table_render(&t, CTL_TABLE_GRID, out);
	ctl_table_free(&t);
	ctl_buf_printf(out, "(%zu row%s%s)\n", n, n == 1 ? "" : "s",
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "truncated"))
	        ? ", truncated"
	        : "");
	return (0);
}

/* ---- events ---- */

/*
 * The fields an event line has words for, and the type they need: 'i' an
 * integer, 'n' a number, 's' a string. "time" repeats "ts"; "level" is
 * shown (generically) unless it is "info".
 */
static const struct {
	const char *key;
	char type;
} event_known[] = {{"ts", 'i'}, {"time", 's'}, {"event", 's'}, {"ns", 's'},
    {"id", 's'}, {"name", 's'}, {"pid", 'i'}, {"kind", 's'}, {"reason", 's'},
    {"ms", 'n'}, {"alarm", 's'}, {"retry", 'i'}, {"message", 's'}};

/* 1 when v was shown by its own words: a known key of the right type. */
static int
event_is_known(const cJSON *ev, const cJSON *v)
{
	int64_t n;

	if (strcmp(v->string, "level") == 0)
		return (
		    cJSON_IsString(v) && strcmp(v->valuestring, "info") == 0);
	for (size_t i = 0; i < sizeof(event_known) / sizeof(event_known[0]);
	     i++) {
		if (strcmp(event_known[i].key, v->string) != 0)
			continue;
		if (cJSON_IsNull(v))
			return (1);
		switch (event_known[i].type) {
		case 'i':
			return (ctl_json_int(ev, v->string, &n) == 0);
		case 'n':
			return (cJSON_IsNumber(v));
		default:
			return (cJSON_IsString(v));
		}
	}
	return (0);
}

/* " ns/name", " ns/<short id>…" or " ns": which object it is about. */
static void
event_object(struct ctl_buf *b, const cJSON *ev)
{
	const char *ns = ctl_json_str(ev, "ns");
	const char *name = ctl_json_str(ev, "name");
	const char *id = ctl_json_str(ev, "id");

	if (ns == NULL && id == NULL && name == NULL)
		return;
	ctl_buf_str(b, " ");
	ctl_escape(b, ns != NULL ? ns : "?");
	if (name != NULL) {
		ctl_buf_str(b, "/");
		ctl_escape(b, name);
	} else if (id != NULL) {
		ctl_buf_printf(b, "/%.*s", SHORT_ID, id);
		ctl_buf_str(b, strlen(id) > SHORT_ID ? ELLIPSIS : "");
	}
}

/* A number for people: integers exactly, fractions to one decimal. */
static void
event_number(struct ctl_buf *b, const cJSON *v)
{
	char num[64];
	double d = v->valuedouble;

	if (strpbrk(ctl_json_num(v, num, sizeof(num)), ".eE") != NULL &&
	    d > -1e15 && d < 1e15)
		ctl_buf_printf(b, "%.1f", d);
	else
		ctl_buf_str(b, ctl_json_num(v, num, sizeof(num)));
}

/* A field we have no words for: key=value, strings quoted. */
static void
event_generic(struct ctl_buf *b, const cJSON *v)
{
	char *s;

	ctl_buf_str(b, " ");
	ctl_escape(b, v->string);
	ctl_buf_str(b, "=");
	if (cJSON_IsNumber(v)) {
		event_number(b, v);
	} else if ((s = cJSON_PrintUnformatted(v)) != NULL) {
		ctl_escape(b, s);
		free(s);
	} else {
		b->err = 1;
	}
}

/* How long: "in 6.2 ms" to be ready, "for 2.0 s" of backoff, "N ms". */
static void
event_ms(struct ctl_buf *b, const cJSON *ms, const char *event)
{
	if (!cJSON_IsNumber(ms))
		return;
	if (strcmp(event, "backoff") == 0) {
		ctl_buf_str(b, " for ");
		ctl_duration(b, (int64_t)(ms->valuedouble + 0.5));
		return;
	}
	ctl_buf_str(b, strcmp(event, "ready") == 0 ? " in " : " ");
	event_number(b, ms);
	ctl_buf_str(b, " ms");
}

/* The details we know: what ended a worker, how long, which alarm. */
static void
event_details(struct ctl_buf *b, const cJSON *ev, const char *event)
{
	const cJSON *alarm = cJSON_GetObjectItemCaseSensitive(ev, "alarm");
	const char *s;
	int64_t n;

	if ((s = ctl_json_str(ev, "kind")) != NULL) {
		ctl_buf_str(b, " [");
		ctl_escape(b, s);
		ctl_buf_str(b, "]");
	}
	if ((s = ctl_json_str(ev, "reason")) != NULL) {
		ctl_buf_str(b, " ");
		ctl_escape(b, s);
	}
	event_ms(b, cJSON_GetObjectItemCaseSensitive(ev, "ms"), event);
	if (cJSON_IsString(alarm)) {
		ctl_buf_str(b, " alarm ");
		if (*alarm->valuestring == '\0') {
			ctl_buf_str(b, "(default)");
		} else {
			ctl_buf_str(b, "\"");
			ctl_escape(b, alarm->valuestring);
			ctl_buf_str(b, "\"");
		}
	}
	if (ctl_json_int(ev, "retry", &n) == 0)
		ctl_buf_printf(b, " retry %lld", (long long)n);
}

void
ctl_event_line(struct ctl_buf *b, const cJSON *ev)
{
	const char *event = ctl_json_str(ev, "event");
	const char *msg = ctl_json_str(ev, "message");
	const cJSON *v;
	size_t before, bare;
	int64_t n;

	if (ctl_json_int(ev, "ts", &n) == 0)
		ctl_time_iso(b, n);
	else
		ctl_buf_str(b, "-");
	ctl_buf_str(b, " ");
	before = b->len;
	ctl_escape(b, event != NULL ? event : "?");
	if (b->len - before < EVENT_WIDTH)
		ctl_buf_pad(b, ' ', EVENT_WIDTH - (b->len - before));
	bare = b->len;
	event_object(b, ev);
	if (ctl_json_int(ev, "pid", &n) == 0)
		ctl_buf_printf(b, " pid %lld", (long long)n);
	event_details(b, ev, event != NULL ? event : "");
	/* A known key of an unexpected type is shown as it came, too. */
	cJSON_ArrayForEach (v, ev) {
		if (v->string != NULL && !event_is_known(ev, v))
			event_generic(b, v);
	}
	/* durod's own words last: they may repeat the details. */
	if (msg != NULL) {
		ctl_buf_str(b, b->len > bare ? ": " : " ");
		ctl_escape(b, msg);
	}
	/* Drop trailing blanks of a short line ("restart " with nothing). */
	while (b->len > 0 && b->p[b->len - 1] == ' ')
		b->p[--b->len] = '\0';
	ctl_buf_str(b, "\n");
}

/* ---- status, inspect, restart, import ---- */

/* The member key as exact text, or "-". */
static void
add_field(struct ctl_buf *b, const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (v == NULL || cJSON_IsNull(v))
		ctl_buf_str(b, "-");
	else if (cJSON_IsString(v))
		ctl_escape(b, v->valuestring);
	else
		ctl_json_text(b, v);
}

void
ctl_status_render(struct ctl_buf *b, const cJSON *h)
{
	const cJSON *al = cJSON_GetObjectItemCaseSensitive(h, "alarms");
	static const char *const counters[][2] = {{"in_window", "in window"},
	    {"in_flight", "in flight"}, {"delivered", "delivered"},
	    {"retried", "retried"}, {"given_up", "given up"}};
	int64_t up;

	ctl_buf_str(b, "status:      ");
	add_field(b, h, "status");
	ctl_buf_str(b, "\npid:         ");
	add_field(b, h, "pid");
	ctl_buf_str(b, "\nuptime:      ");
	if (ctl_json_int(h, "uptime_s", &up) == 0)
		ctl_duration(b, up * 1000);
	else
		ctl_buf_str(b, "-");
	ctl_buf_str(b, "\nobjects:     ");
	add_field(b, h, "objects");
	ctl_buf_str(b, " loaded, ");
	add_field(b, h, "live_workers");
	ctl_buf_str(b, " live workers\nnamespaces:  ");
	add_field(b, h, "namespaces");
	ctl_buf_str(b, "\nalarms:      ");
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		ctl_buf_str(b, i > 0 ? ", " : "");
		add_field(b, al, counters[i][0]);
		ctl_buf_printf(b, " %s", counters[i][1]);
	}
	ctl_buf_str(b, "\n");
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return (n >= m && strcmp(s + n - m, suffix) == 0);
}

/* What a number of inspect means, in words after it. */
static void
inspect_note(struct ctl_buf *b, const char *key, int64_t n)
{
	if (ends_with(key, "_until_ms") || ends_with(key, "_alarm_ms") ||
	    ends_with(key, "_at_ms")) {
		ctl_buf_str(b, " (");
		ctl_time_iso(b, n);
		ctl_buf_str(b, ")");
	} else if (ends_with(key, "_ms")) {
		ctl_buf_str(b, " (");
		ctl_duration(b, n);
		ctl_buf_str(b, ")");
	}
}

void
ctl_inspect_render(struct ctl_buf *b, const cJSON *o)
{
	const cJSON *v;
	size_t w = 0;
	int64_t n;

	for (v = o != NULL ? o->child : NULL; v != NULL; v = v->next)
		if (v->string != NULL && strlen(v->string) > w)
			w = strlen(v->string);
	cJSON_ArrayForEach (v, o) {
		if (v->string == NULL)
			continue;
		ctl_escape(b, v->string);
		ctl_buf_str(b, ":");
		ctl_buf_pad(b, ' ', w - strlen(v->string) + 1);
		if (cJSON_IsNumber(v) && ends_with(v->string, "_bytes") &&
		    ctl_json_int(o, v->string, &n) == 0) {
			fmt_size(b, n);
		} else {
			add_field(b, o, v->string);
			if (cJSON_IsNumber(v) &&
			    ctl_json_int(o, v->string, &n) == 0)
				inspect_note(b, v->string, n);
		}
		ctl_buf_str(b, "\n");
	}
}

void
ctl_restart_render(struct ctl_buf *b, const cJSON *a)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(a, "restarted");

	if (cJSON_IsTrue(r)) {
		ctl_buf_str(b, "restarted ");
		add_field(b, a, "id");
		ctl_buf_str(b, ": pid ");
		add_field(b, a, "pid");
		ctl_buf_str(b, ", state ");
	} else {
		ctl_buf_str(b, "not restarted ");
		add_field(b, a, "id");
		ctl_buf_str(b, ": it had no live worker; state ");
	}
	add_field(b, a, "state");
	ctl_buf_str(b, "\n");
}

void
ctl_import_render(struct ctl_buf *b, const cJSON *a)
{
	int64_t n;

	ctl_buf_str(
	    b, cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(a, "imported"))
	           ? "not imported: "
	           : "imported ");
	if (ctl_json_int(a, "bytes", &n) == 0)
		fmt_size(b, n);
	else
		ctl_buf_str(b, "- bytes");
	ctl_buf_str(b, ", ");
	add_field(b, a, "alarms");
	ctl_buf_str(b, " alarm(s)\n");
}
