/*
 * admin.c — the admin listener (admin_listen): what durod is doing.
 *
 *   GET /health                     a JSON summary
 *   GET /metrics                    Prometheus text format (metrics.c)
 *   GET /events[?ns=NS]             live NDJSON stream (events.c)
 *   GET /objects?ns=&state=&limit=&after=   known objects, paged
 *   .../objects/<ns>/<id or .name/NAME>[/action]   admin_objects.c
 *
 * Every answer but /metrics and an export is JSON; errors are
 * {"error": code, "message": ...} like the gateway's.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durod.h"

void
admin_json(struct request *r, int status, cJSON *o)
{
	static const struct ipc_header json = {
	    "Content-Type", "application/json"};
	char *s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (s == NULL) {
		request_error(r, 500, "internal", "out of memory");
		return;
	}
	request_respond(r, status, &json, 1, (const uint8_t *)s, strlen(s));
	free(s);
}

int
admin_query(const char *query, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key), vlen, n;
	const char *p = query, *amp;

	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		n = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (n > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
			if (ipc_pct_decode(p + klen + 1, n - klen - 1, 1, out,
			        outlen - 1, &vlen) != 0)
				return (-1);
			out[vlen] = '\0';
			return (1);
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return (0);
}

static void
admin_health(struct durod *d, struct request *r)
{
	cJSON *o = cJSON_CreateObject(), *al;
	struct alarm_stats st;

	alarm_stats(d, &st);
	cJSON_AddStringToObject(o, "status", d->draining ? "draining" : "ok");
	cJSON_AddNumberToObject(o, "pid", (double)d->pid);
	cJSON_AddNumberToObject(
	    o, "uptime_s", (double)(long)(ev_time() - d->started));
	cJSON_AddNumberToObject(o, "objects", (double)d->nobjects);
	cJSON_AddNumberToObject(o, "live_workers", (double)d->nlive);
	cJSON_AddNumberToObject(o, "namespaces", (double)d->cfg->nnamespaces);
	if ((al = cJSON_AddObjectToObject(o, "alarms")) != NULL) {
		cJSON_AddNumberToObject(al, "in_window", (double)st.window);
		cJSON_AddNumberToObject(al, "in_flight", (double)st.in_flight);
		cJSON_AddNumberToObject(al, "delivered", (double)st.delivered);
		cJSON_AddNumberToObject(al, "retried", (double)st.retried);
		cJSON_AddNumberToObject(al, "given_up", (double)st.given_up);
	}
	admin_json(r, d->draining ? 503 : 200, o);
}

/* The gauge entry of namespace name in g[0..*n), added if missing. */
static struct metrics_gauges *
gauge_of(struct metrics_gauges *g, size_t *n, size_t cap, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(g[i].ns, name) == 0)
			return (&g[i]);
	if (*n == cap)
		return (NULL);
	memset(&g[*n], 0, sizeof(g[*n]));
	g[*n].ns = name;
	return (&g[(*n)++]);
}

struct gauges_ctx {
	struct metrics_gauges *g;
	size_t *n, cap;
};

static void
gauge_ws(void *arg, const char *ns, size_t n)
{
	struct gauges_ctx *c = arg;
	struct metrics_gauges *e = gauge_of(c->g, c->n, c->cap, ns);

	if (e != NULL)
		e->websockets += n;
}

static void
admin_metrics(struct durod *d, struct request *r)
{
	static const struct ipc_header h = {
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8"};
	size_t cap = d->cfg->nnamespaces + 64, n = 0, len;
	struct metrics_gauges *g = calloc(cap, sizeof(*g)), *e;
	struct object *o, *tmp;
	char *text = NULL;

	for (size_t i = 0; g != NULL && i < d->cfg->nnamespaces; i++)
		gauge_of(g, &n, cap, d->gen->ns[i].cfg->name);
	HASH_ITER (hh, d->objects, o, tmp) {
		if (g == NULL ||
		    (e = gauge_of(g, &n, cap, o->ns->cfg->name)) == NULL)
			continue;
		e->objects++;
		e->live_workers += o->pid > 0;
		e->backoff += o->state == OBJ_BACKOFF;
	}
	if (g != NULL) {
		struct gauges_ctx ctx = {g, &n, cap};
		ws_count(d, gauge_ws, &ctx);
	}
	if (g != NULL)
		text = metrics_render(d->metrics, g, n,
		    events_nsubscribers(d->events), d->started, &len);
	free(g);
	if (text == NULL) {
		request_error(r, 500, "internal", "out of memory");
		return;
	}
	request_respond(r, 200, &h, 1, (const uint8_t *)text, len);
	free(text);
}

static void
admin_events(struct durod *d, struct request *r, const char *query)
{
	char ns[128];
	int has = admin_query(query, "ns", ns, sizeof(ns));

	if (has < 0) {
		request_error(r, 400, "bad_request", "bad ns parameter");
		return;
	}
	events_subscribe(d->events, r, has ? ns : NULL);
}

static int
is_get(struct request *r, const char *route)
{
	if (strcmp(r->http->method, "GET") == 0 ||
	    strcmp(r->http->method, "HEAD") == 0)
		return (1);
	request_error(r, 405, "method_not_allowed", "use GET %s", route);
	return (0);
}

void
admin_dispatch(void *arg, struct request *r)
{
	struct durod *d = arg;
	const char *t = r->http->target, *q = strchr(t, '?');
	size_t len = q ? (size_t)(q - t) : strlen(t);
	const char *query = q != NULL ? q + 1 : "";

#define ROUTE_IS(s) (len == sizeof(s) - 1 && memcmp(t, s, len) == 0)
	if (ROUTE_IS("/health")) {
		if (is_get(r, "/health"))
			admin_health(d, r);
	} else if (ROUTE_IS("/metrics")) {
		if (is_get(r, "/metrics"))
			admin_metrics(d, r);
	} else if (ROUTE_IS("/events")) {
		/* A stream has no length to tell a HEAD. */
		if (strcmp(r->http->method, "GET") == 0)
			admin_events(d, r, query);
		else
			request_error(
			    r, 405, "method_not_allowed", "use GET /events");
	} else if (ROUTE_IS("/objects")) {
		if (is_get(r, "/objects"))
			admin_objects_list(d, r, query);
	} else if (len > 9 && memcmp(t, "/objects/", 9) == 0)
		admin_object(d, r, t + 9, len - 9, query);
	else
		request_error(r, 404, "not_found", "no such admin route");
#undef ROUTE_IS
}
