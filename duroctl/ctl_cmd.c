/*
 * ctl_cmd.c — the commands about durod and its objects: status, objects,
 * inspect, restart, delete, events; and what every command shares: doing
 * a request, reporting an error answer, writing to stdout.
 *
 * Every command returns its exit code and has said why on stderr when it
 * is not CTL_OK. Data goes to stdout, diagnostics to stderr, so the
 * output of --json pipes into jq untouched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duroctl.h"

#define OBJECTS_PAGE 100      /* --limit's default */
#define OBJECTS_PAGE_ALL 1000 /* the page size of --all, unless --limit */
#define OBJECTS_PAGE_MAX 1000

void
ctl_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("duroctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cmd_write(const char *s, size_t n)
{
	if ((n > 0 && fwrite(s, 1, n, stdout) != n) || fflush(stdout) != 0) {
		ctl_warn("writing to stdout: %s", strerror(errno));
		return (CTL_ELOCAL);
	}
	return (CTL_OK);
}

int
cmd_write_body(const struct ctl_resp *r)
{
	int rv = cmd_write(ctl_buf_text(&r->body), r->body.len);

	if (rv == CTL_OK &&
	    (r->body.len == 0 || r->body.p[r->body.len - 1] != '\n'))
		rv = cmd_write("\n", 1);
	return (rv);
}

/* Write a formatted buffer: CTL_OK, or CTL_ELOCAL (reported). */
static int
write_buf(const struct ctl_buf *b)
{
	if (b->err) {
		ctl_warn("out of memory");
		return (CTL_ELOCAL);
	}
	return (cmd_write(ctl_buf_text(b), b->len));
}

void
cmd_req_init(struct ctl_req *q, const char *method, const char *target)
{
	memset(q, 0, sizeof(*q));
	q->method = method;
	q->target = target;
	q->body_fd = -1;
	q->timeout_ms = CTL_IO_TIMEOUT_MS;
}

/* Append the first n bytes of s, escaped. */
static void
escape_n(struct ctl_buf *b, const char *s, size_t n)
{
	struct ctl_buf raw = {0};

	ctl_buf_add(&raw, s, n);
	ctl_escape(b, ctl_buf_text(&raw));
	b->err |= raw.err;
	ctl_buf_free(&raw);
}

/* An error answer: "duroctl: <message> (<code>, HTTP <status>)". */
static void
report_error(const struct ctl_resp *r)
{
	cJSON *j = ctl_json_parse(ctl_buf_text(&r->body), r->body.len);
	const char *code = ctl_json_str(j, "error");
	const char *msg = ctl_json_str(j, "message");
	struct ctl_buf e = {0};
	size_t eol;
	int secs;

	if (code != NULL || msg != NULL) {
		ctl_escape(&e, msg != NULL ? msg : code);
		ctl_buf_str(&e, " (");
		ctl_escape(&e, code != NULL ? code : "?");
		ctl_buf_printf(&e, ", HTTP %d)", r->status);
	} else {
		/* Not durod's JSON: its first line says the most. */
		eol = strcspn(ctl_buf_text(&r->body), "\r\n");
		escape_n(&e, ctl_buf_text(&r->body), eol > 200 ? 200 : eol);
		ctl_buf_printf(
		    &e, "%s(HTTP %d)", eol > 0 ? " " : "error ", r->status);
	}
	ctl_warn("%s", e.err ? "error (out of memory)" : ctl_buf_text(&e));
	if (r->retry_after[0] != '\0') {
		/* Seconds from durod; an HTTP date from anyone else. */
		secs = strspn(r->retry_after, "0123456789") ==
		       strlen(r->retry_after);
		ctl_buf_reset(&e);
		ctl_escape(&e, r->retry_after);
		ctl_warn(
		    "retry after %s%s", ctl_buf_text(&e), secs ? " s" : "");
	}
	ctl_buf_free(&e);
	cJSON_Delete(j);
}

/* Do the request: CTL_OK for any complete answer, else reported. */
static int
cmd_send(const struct ctl_ctx *c, const struct ctl_req *q, struct ctl_resp *r)
{
	char err[512] = "";
	int rv;

	if ((rv = ctl_http(&c->addr, q, r, err, sizeof(err))) != 0 &&
	    err[0] != '\0')
		ctl_warn("%s", err);
	return (rv);
}

int
cmd_request(
    const struct ctl_ctx *c, const struct ctl_req *q, struct ctl_resp *r)
{
	int rv;

	if ((rv = cmd_send(c, q, r)) != 0)
		return (rv);
	if (r->status < 200 || r->status > 299) {
		report_error(r);
		return (CTL_EAPI);
	}
	return (CTL_OK);
}

/* The body as JSON, or NULL (reported as a malformed answer). */
static cJSON *
parse_body(const struct ctl_ctx *c, const struct ctl_resp *r)
{
	cJSON *j = ctl_json_parse(ctl_buf_text(&r->body), r->body.len);

	if (j == NULL)
		ctl_warn("malformed answer from durod at %s: not JSON",
		    c->addr.text);
	return (j);
}

int
cmd_request_json(const struct ctl_ctx *c, const struct ctl_req *q,
    struct ctl_resp *r, cJSON **out)
{
	int rv;

	*out = NULL;
	if ((rv = cmd_request(c, q, r)) != 0)
		return (rv);
	if ((*out = parse_body(c, r)) == NULL)
		return (CTL_ECONN);
	return (CTL_OK);
}

int
cmd_object_arg(const struct ctl_ctx *c, struct ctl_obj *o)
{
	const struct ctl_args *a = c->args;
	char err[256];

	if (ctl_obj_parse(o, a->pos[0], a->pos[1], a->opt[CTL_OPT_NAME] != NULL,
	        a->opt[CTL_OPT_ID] != NULL, err, sizeof(err)) != 0) {
		ctl_warn("%s", err);
		return (CTL_EUSAGE);
	}
	return (CTL_OK);
}

/* ---- status ---- */

int
cmd_status(const struct ctl_ctx *c)
{
	struct ctl_resp r = {0};
	struct ctl_buf out = {0};
	struct ctl_req q;
	cJSON *j = NULL;
	int rv;

	cmd_req_init(&q, "GET", "/health");
	if ((rv = cmd_send(c, &q, &r)) != 0)
		goto out;
	/* Draining is 503 with the same body: show it, and exit 1. */
	if (r.status != 200 && (r.status != 503 ||
	                           (j = ctl_json_parse(ctl_buf_text(&r.body),
	                                r.body.len)) == NULL ||
	                           ctl_json_str(j, "status") == NULL)) {
		report_error(&r);
		rv = CTL_EAPI;
		goto out;
	}
	if (c->args->opt[CTL_OPT_JSON] != NULL) {
		rv = cmd_write_body(&r);
	} else if (j == NULL && (j = parse_body(c, &r)) == NULL) {
		rv = CTL_ECONN;
	} else {
		ctl_status_render(&out, j);
		rv = write_buf(&out);
	}
	if (rv == CTL_OK && r.status != 200)
		rv = CTL_EAPI;
out:
	cJSON_Delete(j);
	ctl_buf_free(&out);
	ctl_resp_free(&r);
	return (rv);
}

/* ---- objects ---- */

struct objects_opts {
	uint64_t limit;
	int all, json, long_ids;
};

static int
objects_opts(const struct ctl_args *a, struct objects_opts *o)
{
	const char *limit = a->opt[CTL_OPT_LIMIT];

	o->all = a->opt[CTL_OPT_ALL] != NULL;
	o->json = a->opt[CTL_OPT_JSON] != NULL;
	o->long_ids = a->opt[CTL_OPT_LONG] != NULL;
	o->limit = o->all ? OBJECTS_PAGE_ALL : OBJECTS_PAGE;
	if (limit != NULL &&
	    ctl_parse_uint(limit, 1, OBJECTS_PAGE_MAX, &o->limit) != 0) {
		ctl_warn("objects: --limit: want a number from 1 to %d",
		    OBJECTS_PAGE_MAX);
		return (CTL_EUSAGE);
	}
	return (CTL_OK);
}

/* One page: rows into t (or JSON lines out), *cursor to the next one. */
static int
objects_page(const struct ctl_ctx *c, const struct objects_opts *o,
    struct ctl_table *t, char **cursor)
{
	const struct ctl_args *a = c->args;
	struct ctl_buf target = {0}, line = {0};
	struct ctl_resp r = {0};
	const cJSON *list, *obj;
	const char *next;
	struct ctl_req q;
	char limit[24], *s;
	cJSON *j = NULL;
	int first = 1, rv;

	snprintf(limit, sizeof(limit), "%llu", (unsigned long long)o->limit);
	ctl_buf_str(&target, "/objects");
	ctl_query_add(&target, &first, "ns", a->opt[CTL_OPT_NS]);
	ctl_query_add(&target, &first, "state", a->opt[CTL_OPT_STATE]);
	ctl_query_add(&target, &first, "limit", limit);
	ctl_query_add(&target, &first, "after", *cursor);
	cmd_req_init(&q, "GET", ctl_buf_text(&target));
	if ((rv = cmd_request_json(c, &q, &r, &j)) != 0)
		goto out;
	list = cJSON_GetObjectItemCaseSensitive(j, "objects");
	next = ctl_json_str(j, "next");
	if (!cJSON_IsArray(list) ||
	    (next != NULL && *cursor != NULL && strcmp(next, *cursor) == 0)) {
		ctl_warn("malformed answer from durod at %s: no \"objects\" "
		         "list, or the same \"next\" again",
		    c->addr.text);
		rv = CTL_ECONN;
		goto out;
	}
	cJSON_ArrayForEach (obj, list) {
		if (!o->json) {
			ctl_objects_row(t, obj, o->long_ids);
			continue;
		}
		if ((s = cJSON_PrintUnformatted(obj)) != NULL) {
			ctl_buf_str(&line, s);
			ctl_buf_str(&line, "\n");
			free(s);
		} else {
			line.err = 1;
		}
	}
	if ((rv = write_buf(&line)) == CTL_OK) {
		free(*cursor);
		*cursor = next != NULL ? strdup(next) : NULL;
		if (next != NULL && *cursor == NULL) {
			ctl_warn("out of memory");
			rv = CTL_ELOCAL;
		}
	}
out:
	cJSON_Delete(j);
	ctl_resp_free(&r);
	ctl_buf_free(&target);
	ctl_buf_free(&line);
	return (rv);
}

int
cmd_objects(const struct ctl_ctx *c)
{
	const char *after = c->args->opt[CTL_OPT_AFTER];
	struct ctl_buf out = {0};
	struct objects_opts o;
	struct ctl_table t;
	char *cursor = NULL;
	int rv;

	if ((rv = objects_opts(c->args, &o)) != 0)
		return (rv);
	if (after != NULL && (cursor = strdup(after)) == NULL) {
		ctl_warn("out of memory");
		return (CTL_ELOCAL);
	}
	ctl_table_init(&t, 5);
	ctl_objects_header(&t);
	do
		rv = objects_page(c, &o, &t, &cursor);
	while (rv == CTL_OK && o.all && cursor != NULL);
	if (rv == CTL_OK && !o.json) {
		ctl_table_render(&t, CTL_TABLE_PLAIN, &out);
		rv = write_buf(&out);
	}
	if (rv == CTL_OK && cursor != NULL)
		fprintf(stderr, "more: use --all or --after %s\n", cursor);
	free(cursor);
	ctl_table_free(&t);
	ctl_buf_free(&out);
	return (rv);
}

/* ---- inspect, restart, delete: one object, one JSON answer ---- */

static int
object_call(const struct ctl_ctx *c, const char *method, const char *suffix,
    void (*render)(struct ctl_buf *, const cJSON *))
{
	struct ctl_buf target = {0}, out = {0};
	struct ctl_resp r = {0};
	struct ctl_obj o;
	struct ctl_req q;
	cJSON *j = NULL;
	int rv;

	if ((rv = cmd_object_arg(c, &o)) != 0)
		return (rv);
	ctl_obj_path(&target, &o, suffix);
	cmd_req_init(&q, method, ctl_buf_text(&target));
	if ((rv = cmd_request_json(c, &q, &r, &j)) == CTL_OK) {
		if (c->args->opt[CTL_OPT_JSON] != NULL) {
			rv = cmd_write_body(&r);
		} else {
			render(&out, j);
			rv = write_buf(&out);
		}
	}
	cJSON_Delete(j);
	ctl_resp_free(&r);
	ctl_buf_free(&target);
	ctl_buf_free(&out);
	return (rv);
}

static void
delete_render(struct ctl_buf *b, const cJSON *a)
{
	const char *id = ctl_json_str(a, "deleted");

	ctl_buf_str(b, "deleted ");
	ctl_escape(b, id != NULL ? id : "?");
	ctl_buf_str(b, "\n");
}

int
cmd_inspect(const struct ctl_ctx *c)
{
	return (object_call(c, "GET", "", ctl_inspect_render));
}

int
cmd_restart(const struct ctl_ctx *c)
{
	return (object_call(c, "POST", "/restart", ctl_restart_render));
}

int
cmd_delete(const struct ctl_ctx *c)
{
	return (object_call(c, "DELETE", "", delete_render));
}

/* ---- events ---- */

struct events_sink {
	int json;
	struct ctl_buf pending; /* a line not yet complete */
	struct ctl_buf out;
};

/* Print one NDJSON line as it is (--json) or as a human line. */
static int
events_line(struct events_sink *s, const char *line, size_t len)
{
	cJSON *j;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return (CTL_OK);
	ctl_buf_reset(&s->out);
	if (s->json) {
		ctl_buf_add(&s->out, line, len);
		ctl_buf_str(&s->out, "\n");
	} else if ((j = ctl_json_parse(line, len)) != NULL &&
	           cJSON_IsObject(j)) {
		ctl_event_line(&s->out, j);
		cJSON_Delete(j);
	} else {
		/* Not an event we understand: show it, do not drop it. */
		cJSON_Delete(j);
		escape_n(&s->out, line, len);
		ctl_buf_str(&s->out, "\n");
	}
	return (write_buf(&s->out));
}

static int
events_sink(void *arg, const char *data, size_t len)
{
	struct events_sink *s = arg;
	size_t start = 0, eol;
	char *nl;
	int rv;

	ctl_buf_add(&s->pending, data, len);
	if (s->pending.err) {
		ctl_warn("out of memory");
		return (CTL_ELOCAL);
	}
	while ((nl = memchr(s->pending.p + start, '\n',
	            s->pending.len - start)) != NULL) {
		eol = (size_t)(nl - s->pending.p);
		if ((rv = events_line(s, s->pending.p + start, eol - start)) !=
		    0)
			return (rv);
		start = eol + 1;
	}
	memmove(s->pending.p, s->pending.p + start, s->pending.len - start);
	s->pending.len -= start;
	s->pending.p[s->pending.len] = '\0';
	return (CTL_OK);
}

int
cmd_events(const struct ctl_ctx *c)
{
	struct events_sink s = {.json = c->args->opt[CTL_OPT_JSON] != NULL};
	struct ctl_resp r = {.sink = events_sink, .sink_arg = &s};
	struct ctl_buf target = {0};
	struct ctl_req q;
	int first = 1, rv;

	ctl_buf_str(&target, "/events");
	ctl_query_add(&target, &first, "ns", c->args->opt[CTL_OPT_NS]);
	cmd_req_init(&q, "GET", ctl_buf_text(&target));
	q.timeout_ms = -1; /* events come when they come */
	rv = cmd_request(c, &q, &r);
	/* The stream ended cleanly: a last line without its newline. */
	if (rv == CTL_OK && s.pending.len > 0)
		rv = events_line(&s, s.pending.p, s.pending.len);
	ctl_buf_free(&s.pending);
	ctl_buf_free(&s.out);
	ctl_buf_free(&target);
	ctl_resp_free(&r);
	return (rv);
}
