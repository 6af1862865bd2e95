/*
 * counter.c — the example worker: one counter per object, and alarms.
 *
 *	GET    /              {"value":N,"alarms_fired":F,"pid":P} and, once
 *	                      an alarm has run, "last_alarm":{"name":A,
 *	                      "scheduled":ms,"ran":ms,"retry":R}
 *	POST   /incr?by=K     {"value":N}   (K an integer, default 1)
 *	POST   /alarm?in_ms=T[&every_ms=P][&name=A][&fail=K]
 *	                      set alarm A (default "", the default alarm) to
 *	                      fire T ms from now (or at_ms=M: at epoch ms M
 *	                      instead), then every P ms if P > 0:
 *	                      {"name":A,"at":ms} (and "every":P when P > 0).
 *	                      With fail=K its handler fails while the retry
 *	                      count is below K (to see retries)
 *	GET    /alarms        {"alarms":[{"name":A,"at":ms,"every":P},...]}
 *	DELETE /alarm?name=A  delete alarm A (default ""):
 *	                      {"name":A,"existed":true|false}
 *
 * When an alarm runs, its handler adds 1 to alarms_fired and records it
 * as last_alarm (times are epoch ms); both are written in the alarm
 * event's transaction, so they are stored exactly when the run
 * succeeded.
 *
 * Errors are JSON {"error": code, "message": ...}: 400 for a bad
 * parameter (K, T or P not an integer or out of range, a bad alarm name,
 * too many alarms), 404 for other paths, 405 for a wrong method. All
 * state lives in the object's storage under KV keys ("value",
 * "alarms_fired", "last_alarm", "fail:<name>") and in its alarms, so it
 * survives hibernation, crashes and restarts: libduro commits each
 * event's writes before its reply leaves.
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
#define FIRED_KEY "alarms_fired"
#define LAST_KEY "last_alarm"
#define FAIL_PREFIX "fail:"
#define MAX_TIME_MS ((int64_t)1 << 53)

static int
bad_request(struct duro_response *resp, const char *why)
{
	return (duro_response_json_error(resp, 400, "bad_request", "%s", why));
}

/*
 * Parse the integer parameter key into *v (def when absent), which must
 * lie in lo..hi. Returns NULL, or why it is bad (in why).
 */
static const char *
parse_int(const struct duro_request *req, const char *key, int64_t def,
    int64_t lo, int64_t hi, int64_t *v, char *why, size_t whylen)
{
	char buf[32], *end;
	const char *digits = buf;
	long long n;
	int rv;

	*v = def;
	if ((rv = duro_query_param(req, key, buf, sizeof(buf))) == DURO_ENOENT)
		return (NULL);
	if (rv == DURO_ERANGE)
		goto range;
	if (rv != 0)
		goto nan;
	/* strtoll() would also take leading spaces and an empty string. */
	if (*digits == '+' || *digits == '-')
		digits++;
	if (*digits < '0' || *digits > '9')
		goto nan;
	errno = 0;
	n = strtoll(buf, &end, 10);
	if (*end != '\0')
		goto nan;
	if (errno == ERANGE || n < lo || n > hi)
		goto range;
	*v = n;
	return (NULL);
nan:
	snprintf(why, whylen, "%s: must be an integer", key);
	return (why);
range:
	snprintf(why, whylen, "%s: out of range", key);
	return (why);
}

/* ---- the counter ---- */

/* last_alarm as the alarm handler stored it, or NULL. */
static cJSON *
last_alarm(struct duro *d)
{
	void *v;
	size_t len;
	cJSON *o;

	if (duro_kv_get(d, LAST_KEY, strlen(LAST_KEY), &v, &len) != 0)
		return (NULL);
	o = cJSON_ParseWithLength(v, len);
	free(v);
	return (o);
}

static int
counter_get(struct duro *d, struct duro_response *resp)
{
	int64_t value, fired;
	cJSON *o, *last;

	if (duro_kv_get_int(d, VALUE_KEY, &value) != 0 ||
	    duro_kv_get_int(d, FIRED_KEY, &fired) != 0)
		return (-1);
	o = cJSON_CreateObject();
	if (o == NULL || duro_json_add_int(o, "value", value) != 0 ||
	    duro_json_add_int(o, "alarms_fired", fired) != 0 ||
	    duro_json_add_int(o, "pid", (int64_t)getpid()) != 0) {
		cJSON_Delete(o);
		return (-1);
	}
	if ((last = last_alarm(d)) != NULL &&
	    !cJSON_AddItemToObject(o, "last_alarm", last)) {
		cJSON_Delete(last);
		cJSON_Delete(o);
		return (-1);
	}
	return (duro_response_cjson(resp, 200, o));
}

static int
counter_incr(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	const char *why;
	char buf[64];
	int64_t by, value, next;
	cJSON *o;

	if ((why = parse_int(req, "by", 1, INT64_MIN, INT64_MAX, &by, buf,
	         sizeof(buf))) != NULL)
		return (bad_request(resp, why));
	if (duro_kv_get_int(d, VALUE_KEY, &value) != 0)
		return (-1);
	if (__builtin_add_overflow(value, by, &next))
		return (duro_response_json_error(resp, 400, "bad_request",
		    "value %" PRId64 " + %" PRId64 " would overflow", value,
		    by));
	if (duro_kv_put_int(d, VALUE_KEY, next) != 0)
		return (-1);
	if ((o = cJSON_CreateObject()) == NULL ||
	    duro_json_add_int(o, "value", next) != 0) {
		cJSON_Delete(o);
		return (-1);
	}
	return (duro_response_cjson(resp, 200, o));
}

/* ---- alarms ---- */

/* The "name" parameter (default ""). Returns NULL or why it is bad. */
static const char *
parse_name(const struct duro_request *req, char *name, size_t len)
{
	int rv = duro_query_param(req, "name", name, len);

	if (rv == DURO_ENOENT) {
		name[0] = '\0';
		return (NULL);
	}
	return (rv == 0 ? NULL : "name: at most 256 bytes, no NUL");
}

/* The KV key holding alarm name's fail count. */
static void
fail_key(char *key, size_t len, const char *name)
{
	snprintf(key, len, FAIL_PREFIX "%s", name);
}

/* Set or clear the fail count of alarm name: one per alarm. */
static int
alarm_fail_set(struct duro *d, const char *name, int64_t fail)
{
	char key[DURO_ALARM_MAX_NAME + sizeof(FAIL_PREFIX)];

	fail_key(key, sizeof(key), name);
	if (fail > 0)
		return (duro_kv_put_int(d, key, fail));
	return (duro_kv_delete(d, key, strlen(key)));
}

/* Why setting the alarm failed, for the client: 400 or the handler's -1. */
static int
alarm_set_failed(struct duro *d, struct duro_response *resp, int rv)
{
	if (rv == DURO_EINVAL || rv == DURO_ERANGE)
		return (bad_request(resp, duro_storage_errmsg(d)));
	return (-1);
}

static int
alarm_set(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	char name[DURO_ALARM_MAX_NAME + 1], buf[64];
	int64_t in, at, every, fail, now = duro_now_ms();
	const char *why;
	cJSON *o;
	int rv;

	if ((why = parse_name(req, name, sizeof(name))) != NULL ||
	    (why = parse_int(req, "in_ms", -1, 0, MAX_TIME_MS - now, &in, buf,
	         sizeof(buf))) != NULL ||
	    (why = parse_int(req, "at_ms", -1, 0, MAX_TIME_MS, &at, buf,
	         sizeof(buf))) != NULL ||
	    (why = parse_int(req, "every_ms", 0, 0, MAX_TIME_MS, &every, buf,
	         sizeof(buf))) != NULL ||
	    (why = parse_int(req, "fail", 0, 0, INT64_MAX, &fail, buf,
	         sizeof(buf))) != NULL)
		return (bad_request(resp, why));
	if ((in < 0) == (at < 0))
		return (bad_request(resp, "want one of in_ms and at_ms"));
	if (at < 0)
		at = now + in;
	if ((rv = duro_alarm_set_named(d, name, at, every)) != 0)
		return (alarm_set_failed(d, resp, rv));
	if (alarm_fail_set(d, name, fail) != 0)
		return (-1);
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "name", name) == NULL ||
	    duro_json_add_int(o, "at", at) != 0 ||
	    (every > 0 && duro_json_add_int(o, "every", every) != 0)) {
		cJSON_Delete(o);
		return (-1);
	}
	return (duro_response_cjson(resp, 200, o));
}

static int
alarm_delete(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	char name[DURO_ALARM_MAX_NAME + 1];
	const char *why;
	cJSON *o;
	int existed;

	if ((why = parse_name(req, name, sizeof(name))) != NULL)
		return (bad_request(resp, why));
	switch (duro_alarm_get_named(d, name, NULL, NULL)) {
	case 0:
		existed = 1;
		break;
	case DURO_ENOENT:
		existed = 0;
		break;
	case DURO_EINVAL:
		return (bad_request(resp, duro_storage_errmsg(d)));
	default:
		return (-1);
	}
	if (duro_alarm_delete_named(d, name) != 0 ||
	    alarm_fail_set(d, name, 0) != 0)
		return (-1);
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "name", name) == NULL ||
	    cJSON_AddBoolToObject(o, "existed", existed) == NULL) {
		cJSON_Delete(o);
		return (-1);
	}
	return (duro_response_cjson(resp, 200, o));
}

static int
alarm_list(struct duro *d, struct duro_response *resp)
{
	struct duro_alarm_info *list;
	size_t n;
	cJSON *o, *a = NULL, *e;
	int ok;

	if (duro_alarm_list(d, &list, &n) != 0) {
		duro_alarm_list_free(list, n);
		return (-1);
	}
	o = cJSON_CreateObject();
	ok = o != NULL && (a = cJSON_AddArrayToObject(o, "alarms")) != NULL;
	for (size_t i = 0; ok && i < n; i++)
		ok = (e = cJSON_CreateObject()) != NULL &&
		     cJSON_AddItemToArray(a, e) &&
		     cJSON_AddStringToObject(e, "name", list[i].name) != NULL &&
		     duro_json_add_int(e, "at", list[i].at_ms) == 0 &&
		     duro_json_add_int(e, "every", list[i].every_ms) == 0;
	duro_alarm_list_free(list, n);
	if (!ok) {
		cJSON_Delete(o);
		return (-1);
	}
	return (duro_response_cjson(resp, 200, o));
}

/* Record a successful run: alarms_fired + 1 and last_alarm. */
static int
alarm_record(struct duro *d, const struct duro_alarm *a)
{
	int64_t fired;
	char *s = NULL;
	cJSON *o;
	int rv = -1;

	if (duro_kv_get_int(d, FIRED_KEY, &fired) != 0 ||
	    duro_kv_put_int(d, FIRED_KEY, fired + 1) != 0)
		return (-1);
	if ((o = cJSON_CreateObject()) != NULL &&
	    cJSON_AddStringToObject(o, "name", a->name) != NULL &&
	    duro_json_add_int(o, "scheduled", a->scheduled_ms) == 0 &&
	    duro_json_add_int(o, "ran", duro_now_ms()) == 0 &&
	    duro_json_add_int(o, "retry", a->retry) == 0 &&
	    (s = cJSON_PrintUnformatted(o)) != NULL)
		rv = duro_kv_put(d, LAST_KEY, strlen(LAST_KEY), s, strlen(s));
	cJSON_Delete(o);
	free(s);
	return (rv);
}

/*
 * The alarm handler. Failing leaves no trace in storage (the event rolls
 * back) and makes durod retry, with retry one higher.
 */
static int
counter_alarm(struct duro *d, const struct duro_alarm *a, void *arg)
{
	char key[DURO_ALARM_MAX_NAME + sizeof(FAIL_PREFIX)];
	int64_t fail;

	fail_key(key, sizeof(key), a->name);
	if (duro_kv_get_int(d, key, &fail) != 0)
		return (-1);
	if ((int64_t)a->retry < fail) {
		fprintf(stderr,
		    "counter: alarm \"%s\" fails on purpose (retry %u of "
		    "%" PRId64 ")\n",
		    a->name, a->retry, fail);
		return (-1);
	}
	return (alarm_record(d, a));
}

/* ---- routing ---- */

static int
method_not_allowed(const struct duro_request *req, struct duro_response *resp,
    const char *allow)
{
	duro_response_header(resp, "Allow", allow);
	return (duro_response_json_error(resp, 405, "method_not_allowed",
	    "%s %s: use %s", req->method, req->path, allow));
}

static int
is(const struct duro_request *req, const char *method)
{
	return (strcmp(req->method, method) == 0);
}

static int
counter_request(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	if (strcmp(req->path, "/") == 0) {
		if (!is(req, "GET"))
			return (method_not_allowed(req, resp, "GET"));
		return (counter_get(d, resp));
	}
	if (strcmp(req->path, "/incr") == 0) {
		if (!is(req, "POST"))
			return (method_not_allowed(req, resp, "POST"));
		return (counter_incr(d, req, resp));
	}
	if (strcmp(req->path, "/alarm") == 0) {
		if (is(req, "POST"))
			return (alarm_set(d, req, resp));
		if (is(req, "DELETE"))
			return (alarm_delete(d, req, resp));
		return (method_not_allowed(req, resp, "POST, DELETE"));
	}
	if (strcmp(req->path, "/alarms") == 0) {
		if (!is(req, "GET"))
			return (method_not_allowed(req, resp, "GET"));
		return (alarm_list(d, resp));
	}
	return (duro_response_json_error(
	    resp, 404, "not_found", "no route %s", req->path));
}

int
main(void)
{
	struct duro *d;
	int rv;

	if ((rv = duro_open(&d)) != 0)
		return (duro_exit_status(rv));
	duro_on_request(d, counter_request, NULL);
	duro_on_alarm(d, counter_alarm, NULL);
	if ((rv = duro_run(d)) != 0)
		fprintf(stderr, "counter: %s\n", duro_strerror(rv));
	duro_close(d);
	return (duro_exit_status(rv));
}
