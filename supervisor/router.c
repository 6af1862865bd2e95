/*
 * router.c — the gateway's dispatch: route a request to its object.
 *
 * Parsing is route_parse()'s (pure); here the namespace is looked up, the
 * id derived or verified with the namespace key, and the request queued
 * on its object.
 */
#include <stdio.h>
#include <string.h>

#include "durod.h"

static void
route_new(const struct namespace *ns, struct request *r)
{
	static const struct ipc_header json = {
	    "Content-Type", "application/json"};
	uint8_t id[DURO_ID_BYTES];
	char hex[DURO_ID_HEX + 1], body[DURO_ID_HEX + 16];
	int n;

	if (strcmp(r->http->method, "POST") != 0) {
		request_error(r, 405, "method_not_allowed", "use POST /%s/.new",
		    ns->cfg->name);
		return;
	}
	if (objid_new_unique(ns->key, id) != 0) {
		request_error(r, 500, "internal", "no randomness for a new id");
		return;
	}
	objid_to_hex(id, hex);
	n = snprintf(body, sizeof(body), "{\"id\":\"%s\"}", hex);
	request_respond(r, 200, &json, 1, (const uint8_t *)body, (size_t)n);
}

void
router_dispatch(void *arg, struct request *r)
{
	struct durod *d = arg;
	const struct namespace *ns;
	struct route rt;
	uint8_t id[DURO_ID_BYTES];
	int status;

	r->metrics = d->metrics;
	if ((status = route_parse(r->http->target, &rt)) != 0) {
		request_error(r, status, rt.err_code, "%s", rt.err_message);
		return;
	}
	if ((ns = durod_ns_byname(d, rt.ns, rt.ns_len)) == NULL) {
		request_error(r, 404, "unknown_namespace",
		    "no namespace \"%.*s\"",
		    (int)(rt.ns_len > 64 ? 64 : rt.ns_len), rt.ns);
		return;
	}
	snprintf(r->ns_label, sizeof(r->ns_label), "%s", ns->cfg->name);
	switch (rt.kind) {
	case ROUTE_NEW:
		route_new(ns, r);
		return;
	case ROUTE_ID:
		if (!objid_verify(ns->key, rt.id)) {
			request_error(r, 400, "bad_id",
			    "this id was not made by namespace \"%s\"",
			    ns->cfg->name);
			return;
		}
		memcpy(id, rt.id, sizeof(id));
		break;
	case ROUTE_NAME:
		objid_from_name(ns->key, rt.name, rt.name_len, id);
		break;
	}
	if (r->http->upgrade && ws_upgrade_check(d, ns, id, r) != 0)
		return;
	/* The worker's path ends where the query starts: cut the target
	 * there, in place, so path and query are both C strings. */
	r->path = rt.path[0] == '/' && rt.path_len > 0 ? rt.path : "/";
	if (rt.path != NULL && rt.path[rt.path_len] == '?')
		((char *)rt.path)[rt.path_len] = '\0';
	r->query = rt.query;
	object_dispatch(d, ns, id, rt.kind == ROUTE_NAME ? rt.name : NULL, r);
}
