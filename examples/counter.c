/*
 * counter.c — the example worker: one counter per object.
 *
 *	GET  /             {"value":N,"alarms_fired":0,"pid":P}
 *	POST /incr?by=K    {"value":N}   (K an integer, default 1)
 *
 * Errors are JSON {"error": code, "message": ...}: 400 for a bad K (not
 * an integer, empty, or overflowing), 404 for other paths, 405 for a wrong
 * method. The value lives in memory and is lost on hibernation; a later
 * version keeps it in the object's storage.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duro.h"

struct counter {
	int64_t value;
};

/* Send o as the body with the given status; o is freed. */
static int
reply_json(struct duro_response *resp, int status, cJSON *o)
{
	char *s;
	int rv;

	if (o == NULL || (s = cJSON_PrintUnformatted(o)) == NULL) {
		cJSON_Delete(o);
		return (-1);
	}
	cJSON_Delete(o);
	if ((rv = duro_response_status(resp, status)) == 0 &&
	    (rv = duro_response_header(
	         resp, "Content-Type", "application/json")) == 0)
		rv = duro_response_body(resp, s, strlen(s));
	free(s);
	return (rv);
}

static int reply_error(struct duro_response *resp, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
reply_error(struct duro_response *resp, int status, const char *code,
    const char *fmt, ...)
{
	char message[256];
	va_list ap;
	cJSON *o;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "error", code) == NULL ||
	    cJSON_AddStringToObject(o, "message", message) == NULL) {
		cJSON_Delete(o);
		return (-1);
	}
	return (reply_json(resp, status, o));
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
counter_get(struct counter *c, struct duro_response *resp)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || add_int(o, "value", c->value) != 0 ||
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
counter_incr(struct counter *c, const struct duro_request *req,
    struct duro_response *resp)
{
	const char *why;
	int64_t by, next;
	cJSON *o;

	if ((why = parse_by(req, &by)) != NULL)
		return (reply_error(resp, 400, "bad_request", "%s", why));
	if (__builtin_add_overflow(c->value, by, &next))
		return (reply_error(resp, 400, "bad_request",
		    "value %" PRId64 " + %" PRId64 " would overflow", c->value,
		    by));
	c->value = next;
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
	return (reply_error(resp, 405, "method_not_allowed", "%s %s: use %s",
	    req->method, req->path, allow));
}

static int
counter_request(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	struct counter *c = arg;

	if (strcmp(req->path, "/") == 0) {
		if (strcmp(req->method, "GET") != 0)
			return (method_not_allowed(req, resp, "GET"));
		return (counter_get(c, resp));
	}
	if (strcmp(req->path, "/incr") == 0) {
		if (strcmp(req->method, "POST") != 0)
			return (method_not_allowed(req, resp, "POST"));
		return (counter_incr(c, req, resp));
	}
	return (reply_error(resp, 404, "not_found", "no route %s", req->path));
}

int
main(void)
{
	struct counter c = {0};
	struct duro *d;
	int rv;

	if ((rv = duro_open(&d)) != 0)
		return (duro_exit_status(rv));
	duro_on_request(d, counter_request, &c);
	if ((rv = duro_run(d)) != 0)
		fprintf(stderr, "counter: %s\n", duro_strerror(rv));
	duro_close(d);
	return (duro_exit_status(rv));
}
