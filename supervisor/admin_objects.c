/*
 * admin_objects.c — the admin API's object routes.
 *
 *   GET    /objects?ns=&state=&limit=&after=      known objects, paged
 *   GET    /objects/<ns>/<obj>                    one object
 *   DELETE /objects/<ns>/<obj>                    it and all its storage
 *   POST   /objects/<ns>/<obj>/restart            stop its worker
 *   POST   /objects/<ns>/<obj>/sql[?max_rows=N]   read-only SQL (body)
 *   GET    /objects/<ns>/<obj>/export             its database file
 *   PUT    /objects/<ns>/<obj>/import             replace it (body)
 *
 * <obj> is an id (64 hex) or ".name/<percent-encoded name>". The database
 * work runs off the loop (admin_db.c); an import holds the object
 * (object_hold) so that no worker runs while its file is replaced, and
 * events that arrive meanwhile wait for it.
 *
 * Listings come from the registry, which records every object when its
 * first worker starts, with the live state from durod's table; objects
 * that never had a worker yet are listed only under their state filter.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durod.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define SQL_TIMEOUT_MS 10000
#define SQL_MAX_ROWS 1000
#define SQL_MAX_ROWS_LIMIT 100000
#define EXPORT_PIECE (256 * 1024)

/* ---- addressing ---- */

struct objaddr {
	const struct namespace *ns;
	uint8_t id[DURO_ID_BYTES];
	char idhex[DURO_ID_HEX + 1];
	char name[DURO_NAME_MAX + 1]; /* "" when addressed by id */
	const char *action;           /* "" or "restart", "sql", ... */
	size_t action_len;
};

/* "<ns>/<id>[/action]" or "<ns>/.name/<name>[/action]": 0 or answered. */
static int
objaddr_parse(struct durod *d, struct request *r, const char *rest, size_t len,
    struct objaddr *a)
{
	const char *end = rest + len, *slash = memchr(rest, '/', len), *seg;
	size_t seglen, nlen;

	memset(a, 0, sizeof(*a));
	if (slash == NULL || (a->ns = durod_ns_byname(
	                          d, rest, (size_t)(slash - rest))) == NULL) {
		request_error(r, 404, "unknown_namespace", "no such namespace");
		return (-1);
	}
	seg = slash + 1;
	slash = memchr(seg, '/', (size_t)(end - seg));
	seglen = (size_t)((slash != NULL ? slash : end) - seg);
	if (seglen == 5 && memcmp(seg, ".name", 5) == 0 && slash != NULL) {
		seg = slash + 1;
		slash = memchr(seg, '/', (size_t)(end - seg));
		seglen = (size_t)((slash != NULL ? slash : end) - seg);
		if (ipc_pct_decode(
		        seg, seglen, 0, a->name, DURO_NAME_MAX, &nlen) != 0 ||
		    nlen == 0 || a->name[0] == '.' ||
		    !ipc_is_utf8(a->name, nlen)) {
			request_error(r, 400, "bad_name",
			    "a name is 1-256 bytes of UTF-8, percent-encoded, "
			    "not starting with '.'");
			return (-1);
		}
		a->name[nlen] = '\0';
		objid_from_name(a->ns->key, a->name, nlen, a->id);
	} else if (objid_from_hex(seg, seglen, a->id) != 0 ||
	           !objid_verify(a->ns->key, a->id)) {
		request_error(r, 400, "bad_id",
		    "not an id of namespace \"%s\" (or use .name/<name>)",
		    a->ns->cfg->name);
		return (-1);
	}
	objid_to_hex(a->id, a->idhex);
	a->action = slash != NULL ? slash + 1 : "";
	a->action_len = slash != NULL ? (size_t)(end - slash - 1) : 0;
	return (0);
}

static int
action_is(const struct objaddr *a, const char *s)
{
	return (a->action_len == strlen(s) &&
	        memcmp(a->action, s, a->action_len) == 0);
}

static int
method_is(const struct request *r, const char *m)
{
	return (strcmp(r->http->method, m) == 0);
}

/* ---- listing ---- */

/* A state filter: one state, "active" (idle or busy), or any. */
struct state_filter {
	int any, active;
	enum obj_state state;
};

static int
state_filter_parse(const char *s, struct state_filter *f)
{
	memset(f, 0, sizeof(*f));
	if (s == NULL) {
		f->any = 1;
		return (0);
	}
	if (strcmp(s, "active") == 0) {
		f->active = 1;
		return (0);
	}
	for (int i = 0; i < OBJ_NSTATES; i++)
		if (strcmp(s, lifecycle_state_name(i)) == 0) {
			f->state = i;
			return (0);
		}
	return (-1);
}

static int
state_matches(const struct state_filter *f, enum obj_state s)
{
	if (f->any)
		return (1);
	if (f->active)
		return (s == OBJ_IDLE || s == OBJ_BUSY);
	return (s == f->state);
}

struct listing {
	struct durod *d;
	const struct state_filter *filter;
	cJSON *objects;
	size_t limit, n;
	int more;
	char last_ns[65];
	uint8_t last_id[DURO_ID_BYTES];
	int scanned; /* rows the registry gave in the last batch */
};

static void
listing_add(struct listing *l, const char *ns, const uint8_t *id,
    const char *name, const struct object *o)
{
	cJSON *e;
	char hex[DURO_ID_HEX + 1];

	if (l->n == l->limit) {
		l->more = 1;
		return;
	}
	objid_to_hex(id, hex);
	if ((e = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(e, "ns", ns);
	cJSON_AddStringToObject(e, "id", hex);
	if (name != NULL)
		cJSON_AddStringToObject(e, "name", name);
	else
		cJSON_AddNullToObject(e, "name");
	cJSON_AddStringToObject(e, "state",
	    lifecycle_state_name(o != NULL ? o->state : OBJ_HIBERNATED));
	if (o != NULL && o->pid > 0)
		cJSON_AddNumberToObject(e, "pid", (double)o->pid);
	else
		cJSON_AddNullToObject(e, "pid");
	cJSON_AddItemToArray(l->objects, e);
	l->n++;
}

static void
listing_row(void *arg, const char *ns, const uint8_t *id, const char *name)
{
	struct listing *l = arg;
	const struct namespace *nsp;
	const struct object *o = NULL;

	l->scanned++;
	snprintf(l->last_ns, sizeof(l->last_ns), "%s", ns);
	memcpy(l->last_id, id, DURO_ID_BYTES);
	if ((nsp = durod_ns_byname(l->d, ns, strlen(ns))) != NULL)
		o = object_byid(l->d, nsp, id);
	if (state_matches(l->filter, o != NULL ? o->state : OBJ_HIBERNATED) &&
	    !l->more)
		listing_add(l, ns, id, name, o);
}

/* In-memory objects in (ns, id) order, for filters on live states. */
static int
object_cmp(const void *a, const void *b)
{
	const struct object *x = *(struct object *const *)a;
	const struct object *y = *(struct object *const *)b;
	int c = strcmp(x->ns->cfg->name, y->ns->cfg->name);

	return (c != 0 ? c : memcmp(x->id, y->id, DURO_ID_BYTES));
}

static void
listing_live(struct listing *l, const char *ns, const char *after_ns,
    const uint8_t *after_id)
{
	struct object **v, *o, *tmp;
	size_t n = 0;
	int c;

	if ((v = calloc(l->d->nobjects + 1, sizeof(*v))) == NULL)
		return;
	HASH_ITER (hh, l->d->objects, o, tmp) {
		if (!state_matches(l->filter, o->state) ||
		    (ns != NULL && strcmp(o->ns->cfg->name, ns) != 0))
			continue;
		c = after_ns != NULL ? strcmp(o->ns->cfg->name, after_ns) : 1;
		if (c < 0 ||
		    (c == 0 && memcmp(o->id, after_id, DURO_ID_BYTES) <= 0))
			continue;
		v[n++] = o;
	}
	qsort(v, n, sizeof(*v), object_cmp);
	for (size_t i = 0; i < n && !l->more; i++) {
		o = v[i];
		snprintf(
		    l->last_ns, sizeof(l->last_ns), "%s", o->ns->cfg->name);
		memcpy(l->last_id, o->id, DURO_ID_BYTES);
		listing_add(l, o->ns->cfg->name, o->id, o->name, o);
	}
	free(v);
}

/* "after" is "<ns>/<id>", as "next" gave it. */
static int
cursor_parse(const char *s, char *ns, size_t nslen, uint8_t id[DURO_ID_BYTES])
{
	const char *slash = strrchr(s, '/');

	if (slash == NULL || (size_t)(slash - s) >= nslen ||
	    objid_from_hex(slash + 1, strlen(slash + 1), id) != 0)
		return (-1);
	memcpy(ns, s, (size_t)(slash - s));
	ns[slash - s] = '\0';
	return (0);
}

void
admin_objects_list(struct durod *d, struct request *r, const char *query)
{
	char ns[128], state[32], limit[16], after[256], after_ns[128];
	uint8_t after_id[DURO_ID_BYTES];
	struct state_filter f;
	struct listing l = {.d = d, .filter = &f, .limit = LIST_DEFAULT};
	int has_ns = admin_query(query, "ns", ns, sizeof(ns));
	int has_state = admin_query(query, "state", state, sizeof(state));
	int has_limit = admin_query(query, "limit", limit, sizeof(limit));
	int has_after = admin_query(query, "after", after, sizeof(after));
	char *end, cursor[256];
	long lim;
	cJSON *o;

	if (has_ns < 0 || has_state < 0 || has_limit < 0 || has_after < 0 ||
	    state_filter_parse(has_state ? state : NULL, &f) != 0) {
		request_error(r, 400, "bad_request",
		    "ns=NAME, state=hibernated|starting|idle|busy|stopping|"
		    "backoff|waiting|active, limit=1-%d, after=CURSOR",
		    LIST_MAX);
		return;
	}
	if (has_limit) {
		lim = strtol(limit, &end, 10);
		if (*end != '\0' || lim < 1 || lim > LIST_MAX) {
			request_error(r, 400, "bad_request",
			    "limit must be 1-%d", LIST_MAX);
			return;
		}
		l.limit = (size_t)lim;
	}
	if (has_after &&
	    cursor_parse(after, after_ns, sizeof(after_ns), after_id) != 0) {
		request_error(r, 400, "bad_request", "after: not a cursor");
		return;
	}
	if ((o = cJSON_CreateObject()) == NULL ||
	    (l.objects = cJSON_AddArrayToObject(o, "objects")) == NULL) {
		admin_json(r, 500, NULL);
		cJSON_Delete(o);
		return;
	}
	if (f.any || (!f.active && f.state == OBJ_HIBERNATED)) {
		/* The registry in batches until the page is full. */
		const char *an = has_after ? after_ns : NULL;
		const uint8_t *ai = has_after ? after_id : NULL;
		do {
			l.scanned = 0;
			if (registry_list(d->reg, has_ns ? ns : NULL, an, ai,
			        l.limit + 1, listing_row, &l) < 0)
				break;
			an = l.last_ns;
			ai = l.last_id;
		} while (!l.more && l.scanned > 0);
	} else
		listing_live(&l, has_ns ? ns : NULL,
		    has_after ? after_ns : NULL, has_after ? after_id : NULL);
	if (l.more && l.n > 0) {
		cJSON *last = cJSON_GetArrayItem(l.objects, (int)l.n - 1);
		snprintf(cursor, sizeof(cursor), "%s/%s",
		    cJSON_GetObjectItem(last, "ns")->valuestring,
		    cJSON_GetObjectItem(last, "id")->valuestring);
		cJSON_AddStringToObject(o, "next", cursor);
	} else
		cJSON_AddNullToObject(o, "next");
	admin_json(r, 200, o);
}

/* ---- one object ---- */

static void
admin_inspect(struct durod *d, struct request *r, const struct objaddr *a)
{
	struct object *o = object_byid(d, a->ns, a->id);
	struct registry_counts rc;
	char dir[4096], *rname = NULL;
	uint64_t due;
	cJSON *j = cJSON_CreateObject();

	if (registry_counts_byid(d->reg, a->ns->cfg->name, a->id, &rc) != 0)
		memset(&rc, 0, sizeof(rc));
	if (o == NULL || o->name == NULL)
		rname = registry_name_byid(d->reg, a->ns->cfg->name, a->id);
	object_dir_of(d, a->ns->cfg->name, a->idhex, dir, sizeof(dir));
	cJSON_AddStringToObject(j, "ns", a->ns->cfg->name);
	cJSON_AddStringToObject(j, "id", a->idhex);
	if (o != NULL && o->name != NULL)
		cJSON_AddStringToObject(j, "name", o->name);
	else if (rname != NULL)
		cJSON_AddStringToObject(j, "name", rname);
	else
		cJSON_AddNullToObject(j, "name");
	free(rname);
	cJSON_AddStringToObject(j, "state",
	    lifecycle_state_name(o != NULL ? o->state : OBJ_HIBERNATED));
	if (o != NULL && o->pid > 0) {
		cJSON_AddNumberToObject(j, "pid", (double)o->pid);
		cJSON_AddNumberToObject(j, "uptime_ms",
		    (double)(long long)((ev_time() - o->spawned_at) * 1000));
	} else {
		cJSON_AddNullToObject(j, "pid");
		cJSON_AddNullToObject(j, "uptime_ms");
	}
	cJSON_AddNumberToObject(j, "events_served",
	    (double)(rc.events + (o != NULL ? o->life_served : 0)));
	cJSON_AddNumberToObject(j, "restarts", (double)rc.crashes);
	if (o != NULL && o->state == OBJ_BACKOFF)
		cJSON_AddNumberToObject(
		    j, "backoff_until_ms", (double)o->backoff_until);
	else
		cJSON_AddNullToObject(j, "backoff_until_ms");
	cJSON_AddNumberToObject(
	    j, "queued", o != NULL ? (double)o->nqueued : 0);
	if (alarm_next_due(d, a->ns, a->id, &due))
		cJSON_AddNumberToObject(j, "next_alarm_ms", (double)due);
	else
		cJSON_AddNullToObject(j, "next_alarm_ms");
	cJSON_AddNumberToObject(
	    j, "storage_bytes", (double)object_dir_bytes(dir));
	cJSON_AddBoolToObject(j, "known", rc.known || o != NULL);
	admin_json(r, 200, j);
}

static void
admin_restart(struct durod *d, struct request *r, const struct objaddr *a)
{
	struct object *o = object_byid(d, a->ns, a->id);
	pid_t pid = o != NULL ? o->pid : 0;
	int done = o != NULL ? object_restart(o) : 0;
	cJSON *j = cJSON_CreateObject();

	o = object_byid(d, a->ns, a->id); /* it may be gone (backoff) */
	cJSON_AddStringToObject(j, "id", a->idhex);
	cJSON_AddBoolToObject(j, "restarted", done);
	if (pid > 0)
		cJSON_AddNumberToObject(j, "pid", (double)pid);
	else
		cJSON_AddNullToObject(j, "pid");
	cJSON_AddStringToObject(j, "state",
	    lifecycle_state_name(o != NULL ? o->state : OBJ_HIBERNATED));
	admin_json(r, 200, j);
}

/* ---- database jobs ---- */

static struct dbjob *
job_for(struct durod *d, struct request *r, const struct objaddr *a,
    enum dbjob_kind kind)
{
	struct object *o = object_byid(d, a->ns, a->id);
	struct dbjob *j;

	/* An import swaps the file under any reader: one job at a time. */
	if (o != NULL && o->held) {
		request_error(
		    r, 409, "conflict", "the object is being imported");
		return (NULL);
	}
	j = dbjob_new(kind);

	if (j == NULL || (j->dir = malloc(4096)) == NULL ||
	    object_dir_of(d, a->ns->cfg->name, a->idhex, j->dir, 4096) != 0) {
		if (j != NULL)
			dbjob_free(j);
		request_error(r, 500, "internal", "out of memory");
		return (NULL);
	}
	return (j);
}

/* The job's answer as it is: its status and JSON body. */
static void
job_answer(struct request *r, struct dbjob *j)
{
	static const struct ipc_header json = {
	    "Content-Type", "application/json"};

	if (j->body == NULL)
		request_error(r, j->status >= 400 ? j->status : 500, "internal",
		    "the job gave no answer");
	else
		request_respond(
		    r, j->status, &json, 1, (uint8_t *)j->body, j->body_len);
	dbjob_free(j);
}

static void
job_start(struct durod *d, struct request *r, struct dbjob *j,
    void (*done)(struct dbjob *, void *))
{
	if (dbjobs_start(d->dbjobs, j, done, r) != 0) {
		dbjob_free(j);
		request_error_retry(r, 429, 1, "busy",
		    "%d database jobs are running already", DBJOB_MAX);
	}
}

static void
sql_done(struct dbjob *j, void *arg)
{
	job_answer(arg, j);
}

static void
admin_sql(struct durod *d, struct request *r, const struct objaddr *a,
    const char *query)
{
	char rows[16], *end;
	long n = SQL_MAX_ROWS;
	struct dbjob *j;

	if (admin_query(query, "max_rows", rows, sizeof(rows)) == 1 &&
	    ((n = strtol(rows, &end, 10)) < 1 || *end != '\0' ||
	        n > SQL_MAX_ROWS_LIMIT)) {
		request_error(r, 400, "bad_request", "max_rows must be 1-%d",
		    SQL_MAX_ROWS_LIMIT);
		return;
	}
	if (r->http->body_len == 0) {
		request_error(r, 400, "bad_request",
		    "send one read-only SQL statement as the body");
		return;
	}
	if ((j = job_for(d, r, a, DBJOB_SQL)) == NULL)
		return;
	if ((j->sql = strndup((char *)r->http->body, r->http->body_len)) ==
	    NULL) {
		dbjob_free(j);
		request_error(r, 500, "internal", "out of memory");
		return;
	}
	j->timeout_ms = SQL_TIMEOUT_MS;
	j->max_rows = (size_t)n;
	job_start(d, r, j, sql_done);
}

/* An export streams its copy's file, a piece per loop iteration. */
static void
export_more(struct stream *s, void *arg)
{
	struct dbjob *j = arg;
	static char buf[EXPORT_PIECE];
	ssize_t n = read(j->fd, buf, sizeof(buf));

	if (n > 0 && stream_write(s, buf, (size_t)n) == 0)
		return;
	if (n < 0)
		log_warn("admin: export: read: %s", strerror(errno));
	dbjob_free(j);
	if (n == 0)
		stream_end(s);
	else
		stream_abort(s);
}

static void
export_gone(void *arg)
{
	dbjob_free(arg);
}

static const struct stream_ops export_ops = {export_more, export_gone};

static void
export_done(struct dbjob *j, void *arg)
{
	static const struct ipc_header h[] = {
	    {"Content-Type", "application/vnd.sqlite3"},
	    {"Content-Disposition", "attachment; filename=\"db.sqlite\""},
	};
	struct request *r = arg;

	if (j->status != 200 || j->fd < 0) {
		job_answer(r, j);
		return;
	}
	if (request_stream(r, 200, h, 2, &export_ops, j, EXPORT_PIECE * 2) ==
	    NULL)
		dbjob_free(j);
}

static void
admin_export(struct durod *d, struct request *r, const struct objaddr *a)
{
	struct dbjob *j;

	if ((j = job_for(d, r, a, DBJOB_EXPORT)) == NULL)
		return;
	if ((j->tmp_dir = strdup(d->run_dir)) == NULL) {
		dbjob_free(j);
		request_error(r, 500, "internal", "out of memory");
		return;
	}
	job_start(d, r, j, export_done);
}

/* An import: the request waits on the held object. */
struct import {
	struct durod *d;
	struct request *r;
	struct object *o;
	struct dbjob *job;
};

static void
import_done(struct dbjob *j, void *arg)
{
	struct import *im = arg;
	struct object *o = im->o;
	struct durod *d = im->d;

	if (j->status == 200) {
		if (alarm_import(d, o->ns, o->id, j->alarms, j->nalarms) != 0)
			log_warn("object %s/%s: import: alarms not indexed",
			    o->ns->cfg->name, o->idhex);
		(void)registry_note_name(
		    d->reg, o->ns->cfg->name, o->id, o->name);
		durod_flush(d);
		event_emit(d->events, event_new("import", o), LOG_INFO,
		    "database imported (%zu bytes, %zu alarms)", j->data_len,
		    j->nalarms);
	}
	job_answer(im->r, j);
	object_release(o);
	free(im);
}

static void
import_ready(struct object *o, void *arg)
{
	struct import *im = arg;
	char err[256];

	im->o = o;
	if (object_dir_make(o, err, sizeof(err)) != 0) {
		request_error(im->r, 500, "internal", "%s", err);
		dbjob_free(im->job);
		object_release(o);
		free(im);
		return;
	}
	if (dbjobs_start(im->d->dbjobs, im->job, import_done, im) != 0) {
		dbjob_free(im->job);
		request_error_retry(im->r, 429, 1, "busy",
		    "%d database jobs are running already", DBJOB_MAX);
		object_release(o);
		free(im);
	}
}

static void
admin_import(struct durod *d, struct request *r, const struct objaddr *a)
{
	struct import *im;
	struct dbjob *j;

	if (r->http->body_len == 0) {
		request_error(r, 400, "bad_database",
		    "send the database file as the body");
		return;
	}
	if ((im = calloc(1, sizeof(*im))) == NULL ||
	    (j = job_for(d, r, a, DBJOB_IMPORT)) == NULL) {
		if (im != NULL)
			free(im);
		else
			request_error(r, 500, "internal", "out of memory");
		return;
	}
	j->data = r->http->body; /* the job owns it now */
	j->data_len = r->http->body_len;
	r->http->body = NULL;
	r->http->body_len = 0;
	im->d = d;
	im->r = r;
	im->job = j;
	if (object_hold(d, a->ns, a->id, a->name[0] != '\0' ? a->name : NULL,
	        import_ready, im) == NULL) {
		dbjob_free(j);
		free(im);
		request_error(r, 409, "conflict",
		    "the object is being imported or deleted");
	}
}

void
admin_object(struct durod *d, struct request *r, const char *rest, size_t len,
    const char *query)
{
	struct objaddr a;

	if (objaddr_parse(d, r, rest, len, &a) != 0)
		return;
	if (a.action_len == 0 && (method_is(r, "GET") || method_is(r, "HEAD")))
		admin_inspect(d, r, &a);
	else if (a.action_len == 0 && method_is(r, "DELETE"))
		object_delete(d, a.ns, a.id, r);
	else if (action_is(&a, "restart") && method_is(r, "POST"))
		admin_restart(d, r, &a);
	else if (action_is(&a, "sql") && method_is(r, "POST"))
		admin_sql(d, r, &a, query);
	else if (action_is(&a, "export") && method_is(r, "GET"))
		admin_export(d, r, &a);
	else if (action_is(&a, "import") && method_is(r, "PUT"))
		admin_import(d, r, &a);
	else if (a.action_len == 0 || action_is(&a, "restart") ||
	         action_is(&a, "sql") || action_is(&a, "export") ||
	         action_is(&a, "import"))
		request_error(r, 405, "method_not_allowed",
		    "GET|DELETE /objects/<ns>/<obj>, POST .../restart, POST "
		    ".../sql, GET .../export, PUT .../import");
	else
		request_error(r, 404, "not_found", "no such object route");
}
