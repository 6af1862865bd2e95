/*
 * counter.c — the example worker: one counter per object.
 *
 *	GET  /             {"value":N,"alarms_fired":0,"pid":P}
 *	POST /incr?by=K    {"value":N}   (K an integer, default 1)
 *
 * Errors are JSON {"error": code, "message": ...}: 400 for a bad K (not
 * an integer, empty, or overflowing), 404 for other paths, 405 for a wrong
 * method. The value lives in the object's storage under the KV key
 * "value" (decimal text), so it survives hibernation, crashes and restarts:
 * libduro commits each request's writes before its reply leaves.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duro.h"

#define VALUE_KEY "value"

/* Send o as the JSON body with the given status; o is freed. */
static int
reply_json(struct duro_response *resp, int status, cJSON *o)
{
	char *s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	int rv = s != NULL ? duro_response_json(resp, status, s) : -1;

	cJSON_Delete(o);
	free(s);
	return (rv);
}

/*
 * Add an exact integer: cJSON numbers are doubles, which would round
 * counts past 2^53.
 */
static int
add_int(cJSON *o, const char *key, int64_t v)
{
	char digits[24];

	snprintf(digits, sizeof(digits), "%" PRId64, v);
	return (cJSON_AddRawToObject(o, key, digits) != NULL ? 0 : -1);
}

static int
counter_get(struct duro *d, struct duro_response *resp)
{
	int64_t value;
	cJSON *o;

	if (duro_kv_get_int(d, VALUE_KEY, &value) != 0)
		return (-1);
	o = cJSON_CreateObject();
	if (o == NULL || add_int(o, "value", value) != 0 ||
	    add_int(o, "alarms_fired", 0) != 0 ||
	    add_int(o, "pid", (int64_t)getpid()) != 0) {
		cJSON_Delete(o);
		return (-1);
	}
	return (reply_json(resp, 200, o));
}

/* Parse "by" into *by (default 1). Returns NULL, or why it is bad. */
static const char *
parse_by(const struct duro_request *req, int64_t *by)
{
	char buf[32], *end;
	const char *digits = buf;
	long long v;
	int rv;

	*by = 1;
	if ((rv = duro_query_param(req, "by", buf, sizeof(buf))) == DURO_ENOENT)
		return (NULL);
	if (rv == DURO_ERANGE)
		return ("by: out of range");
	if (rv != 0)
		return ("by: must be an integer");
	/* strtoll() would also take leading spaces and an empty string. */
	if (*digits == '+' || *digits == '-')
		digits++;
	if (*digits < '0' || *digits > '9')
		return ("by: must be an integer");
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (*end != '\0')
		return ("by: must be an integer");
	if (errno == ERANGE)
		return ("by: out of range");
	*by = v;
	return (NULL);
}

static int
counter_incr(struct duro *d, const struct duro_request *req,
    struct duro_response *resp)
{
	const char *why;
	int64_t by, value, next;
	cJSON *o;

	if ((why = parse_by(req, &by)) != NULL)
		return (duro_response_json_error(resp, 400, "bad_request", "%s", why));
	if (duro_kv_get_int(d, VALUE_KEY, &value) != 0)
		return (-1);
	if (__builtin_add_overflow(value, by, &next))
		return (duro_response_json_error(resp, 400, "bad_request",
		    "value %" PRId64 " + %" PRId64 " would overflow", value, by));
	if (duro_kv_put_int(d, VALUE_KEY, next) != 0)
		return (-1);
	if ((o = cJSON_CreateObject()) == NULL ||
	    add_int(o, "value", next) != 0) {
		cJSON_Delete(o);
		return (-1);
	}
	return (reply_json(resp, 200, o));
}

static int
method_not_allowed(const struct duro_request *req, struct duro_response *resp,
    const char *allow)
{
	duro_response_header(resp, "Allow", allow);
	return (duro_response_json_error(resp, 405, "method_not_allowed", "%s %s: use %s",
	    req->method, req->path, allow));
}

static int
counter_request(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	if (strcmp(req->path, "/") == 0) {
		if (strcmp(req->method, "GET") != 0)
			return (method_not_allowed(req, resp, "GET"));
		return (counter_get(d, resp));
	}
	if (strcmp(req->path, "/incr") == 0) {
		if (strcmp(req->method, "POST") != 0)
			return (method_not_allowed(req, resp, "POST"));
		return (counter_incr(d, req, resp));
	}
	return (duro_response_json_error(resp, 404, "not_found", "no route %s", req->path));
}

int
main(void)
{
	struct duro *d;
	int rv;

	if ((rv = duro_open(&d)) != 0)
		return (duro_exit_status(rv));
	duro_on_request(d, counter_request, NULL);
	if ((rv = duro_run(d)) != 0)
		fprintf(stderr, "counter: %s\n", duro_strerror(rv));
	duro_close(d);
	return (duro_exit_status(rv));
}
