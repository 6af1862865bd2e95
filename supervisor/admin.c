/*
 * admin.c — the admin listener: GET /health and DELETE /objects/<ns>/<id>
 * for now; the operations issue adds /metrics, /objects and /events here.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "durod.h"

static void
admin_health(struct durod *d, struct request *r)
{
	static const struct ipc_header json = {
	    "Content-Type", "application/json"};
	cJSON *o = cJSON_CreateObject(), *al;
	struct alarm_stats st;
	char *s = NULL;

	alarm_stats(d, &st);
	if (o != NULL) {
		cJSON_AddStringToObject(
		    o, "status", d->draining ? "draining" : "ok");
		cJSON_AddNumberToObject(o, "pid", (double)d->pid);
		cJSON_AddNumberToObject(o, "objects", (double)d->nobjects);
		cJSON_AddNumberToObject(o, "live_workers", (double)d->nlive);
		cJSON_AddNumberToObject(
		    o, "namespaces", (double)d->cfg->nnamespaces);
		if ((al = cJSON_AddObjectToObject(o, "alarms")) != NULL) {
			cJSON_AddNumberToObject(
			    al, "in_window", (double)st.window);
			cJSON_AddNumberToObject(
			    al, "in_flight", (double)st.in_flight);
			cJSON_AddNumberToObject(
			    al, "delivered", (double)st.delivered);
			cJSON_AddNumberToObject(
			    al, "retried", (double)st.retried);
			cJSON_AddNumberToObject(
			    al, "given_up", (double)st.given_up);
		}
		s = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
	}
	if (s == NULL) {
		request_error(r, 500, "internal", "out of memory");
		return;
	}
	request_respond(r, d->draining ? 503 : 200, &json, 1,
	    (const uint8_t *)s, strlen(s));
	free(s);
}

/* DELETE /objects/<ns>/<id>: the object and all its storage. */
static void
admin_object(struct durod *d, struct request *r, const char *rest, size_t len)
{
	const char *slash = memchr(rest, '/', len);
	const struct namespace *ns;
	uint8_t id[DURO_ID_BYTES];

	if (slash == NULL ||
	    (ns = durod_ns_byname(d, rest, (size_t)(slash - rest))) == NULL) {
		request_error(r, 404, "unknown_namespace", "no such namespace");
		return;
	}
	if (objid_from_hex(slash + 1, len - (size_t)(slash + 1 - rest), id) !=
	        0 ||
	    !objid_verify(ns->key, id)) {
		request_error(r, 400, "bad_id", "not an id of namespace \"%s\"",
		    ns->cfg->name);
		return;
	}
	if (strcmp(r->http->method, "DELETE") != 0) {
		request_error(r, 405, "method_not_allowed",
		    "use DELETE /objects/<ns>/<id> (inspection comes later)");
		return;
	}
	object_delete(d, ns, id, r);
}

void
admin_dispatch(void *arg, struct request *r)
{
	struct durod *d = arg;
	char *q = strchr(r->http->target, '?');
	size_t len =
	    q ? (size_t)(q - r->http->target) : strlen(r->http->target);

	if (len == 7 && memcmp(r->http->target, "/health", 7) == 0) {
		if (strcmp(r->http->method, "GET") != 0 &&
		    strcmp(r->http->method, "HEAD") != 0) {
			request_error(
			    r, 405, "method_not_allowed", "use GET /health");
			return;
		}
		admin_health(d, r);
		return;
	}
	if (len > 9 && memcmp(r->http->target, "/objects/", 9) == 0) {
		admin_object(d, r, r->http->target + 9, len - 9);
		return;
	}
	request_error(r, 404, "not_found", "no such admin route");
}
