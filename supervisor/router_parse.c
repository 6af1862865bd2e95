/*
 * router_parse.c — split a request-target into a route (pure).
 *
 *   /<ns>/<name>[/<path>][?query]   ROUTE_NAME
 *   /<ns>/.id/<id>[/<path>][?query] ROUTE_ID
 *   /<ns>/.new                      ROUTE_NEW
 *
 * The name is one percent-decoded path segment of 1..256 bytes that does
 * not start with '.' (dot-names are reserved for routes like .id and .new).
 * The worker sees the rest of the path undecoded, and the query.
 */
#include <string.h>

#include "durod.h"

static int
route_fail(struct route *r, int status, const char *code, const char *why)
{
	r->err_code = code;
	r->err_message = why;
	return (status);
}

int
route_parse(const char *target, struct route *r)
{
	const char *q, *end, *seg, *slash;
	size_t seglen;

	memset(r, 0, sizeof(*r));
	if (target[0] != '/')
		return (route_fail(
		    r, 400, "bad_request", "request-target must be a path"));
	q = strchr(target, '?');
	end = q != NULL ? q : target + strlen(target);
	r->query = q != NULL ? q + 1 : "";

	r->ns = target + 1;
	slash = memchr(r->ns, '/', (size_t)(end - r->ns));
	if (slash == NULL || slash == r->ns)
		return (route_fail(r, 404, "not_found",
		    "no such route: use /<namespace>/<name>/..."));
	r->ns_len = (size_t)(slash - r->ns);

	seg = slash + 1;
	slash = memchr(seg, '/', (size_t)(end - seg));
	seglen = (size_t)((slash != NULL ? slash : end) - seg);
	r->path = slash != NULL ? slash : "/";
	r->path_len = slash != NULL ? (size_t)(end - slash) : 1;

	if (seglen == 4 && memcmp(seg, ".new", 4) == 0) {
		if (slash != NULL)
			return (route_fail(
			    r, 404, "not_found", "no such route under .new"));
		r->kind = ROUTE_NEW;
		return (0);
	}
	if (seglen == 3 && memcmp(seg, ".id", 3) == 0) {
		const char *id = seg + 4;
		if (slash == NULL)
			return (route_fail(
			    r, 400, "bad_id", "missing id after .id/"));
		slash = memchr(id, '/', (size_t)(end - id));
		seglen = (size_t)((slash != NULL ? slash : end) - id);
		if (objid_from_hex(id, seglen, r->id) != 0)
			return (route_fail(r, 400, "bad_id",
			    "an id is 64 lowercase hex characters"));
		r->path = slash != NULL ? slash : "/";
		r->path_len = slash != NULL ? (size_t)(end - slash) : 1;
		r->kind = ROUTE_ID;
		return (0);
	}
	if (ipc_pct_decode(
	        seg, seglen, 0, r->name, DURO_NAME_MAX, &r->name_len) != 0)
		return (route_fail(r, 400, "bad_name",
		    "a name is 1-256 bytes, percent-encoded in the path"));
	if (r->name_len == 0 || r->name[0] == '.')
		return (route_fail(r, 400, "bad_name",
		    "a name is 1-256 bytes and must not start with '.'"));
	if (!ipc_is_utf8(r->name, r->name_len))
		return (route_fail(
		    r, 400, "bad_name", "a name must be UTF-8 without NUL"));
	r->name[r->name_len] = '\0';
	r->kind = ROUTE_NAME;
	return (0);
}
