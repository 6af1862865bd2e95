/*
 * ipc_codec.c — encode and decode protocol frames (pure: no I/O).
 *
 * The decoder is the trust boundary between durod and its workers: every
 * field is checked for presence, type and range here, so the code above it
 * can use a decoded message without checking again.
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "ipc_impl.h"

static const char *const type_names[] = {
    [IPC_UNKNOWN] = "unknown",
    [IPC_READY] = "ready",
    [IPC_REQUEST] = "request",
    [IPC_RESPONSE] = "response",
    [IPC_HIBERNATE] = "hibernate",
    [IPC_ERROR] = "error",
    [IPC_ALARM] = "alarm",
    [IPC_DONE] = "done",
    [IPC_ALARM_SYNC] = "alarm_sync",
    [IPC_ALARM_ACK] = "alarm_ack",
    [IPC_WS_MESSAGE] = "ws_message",
    [IPC_WS_CLOSE] = "ws_close",
    [IPC_WS_SEND] = "ws_send",
    [IPC_WS_BROADCAST] = "ws_broadcast",
    [IPC_WS_ATTACH] = "ws_attach",
    [IPC_WS_AUTO] = "ws_auto",
    [IPC_WS_LIST] = "ws_list",
    [IPC_WS_GET] = "ws_get",
    [IPC_WS_LIST_RESULT] = "ws_list_result",
    [IPC_WS_INFO] = "ws_info",
};

const char *
ipc_type_name(enum ipc_type t)
{
	if ((size_t)t >= sizeof(type_names) / sizeof(type_names[0]))
		return ("unknown");
	return (type_names[t]);
}

static enum ipc_type
type_byname(const char *s)
{
	for (size_t i = 1; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(s, type_names[i]) == 0)
			return ((enum ipc_type)i);
	return (IPC_UNKNOWN);
}

int
ipc_fail(char *err, size_t errlen, int rv, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (rv);
}

/* Field readers: each returns 0 or -1, NULL-safe for absent fields. */
int
ipc_get_string(const cJSON *o, const char *key, int required, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (v == NULL)
		return (required ? -1 : 0);
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return (-1);
	*out = v->valuestring;
	return (0);
}

int
ipc_get_int(const cJSON *o, const char *key, int required, double lo, double hi,
    double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (v == NULL)
		return (required ? -1 : 0);
	/* Range first: converting an out-of-range double is undefined. */
	if (!cJSON_IsNumber(v) ||
	    !(v->valuedouble >= lo && v->valuedouble <= hi) ||
	    v->valuedouble != (double)(long long)v->valuedouble)
		return (-1);
	*out = v->valuedouble;
	return (0);
}

/*
 * "headers": [["name", "value"], ...]. Names must be HTTP tokens and values
 * legal header values, so neither side can be tricked into writing a
 * header that splits an HTTP message.
 */
static int
get_headers(const cJSON *o, struct ipc_msg *m, char *err, size_t errlen)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "headers");
	const cJSON *pair;
	size_t n = 0;

	if (a == NULL)
		return (0);
	if (!cJSON_IsArray(a))
		return (
		    ipc_fail(err, errlen, IPC_EFIELD, "headers: not an array"));
	n = (size_t)cJSON_GetArraySize(a);
	if (n > IPC_MAX_HEADERS)
		return (ipc_fail(err, errlen, IPC_ETOOBIG,
		    "headers: %zu entries, limit %d", n, IPC_MAX_HEADERS));
	if (n == 0)
		return (0);
	if ((m->headers = calloc(n, sizeof(*m->headers))) == NULL)
		return (ipc_fail(
		    err, errlen, IPC_ETOOBIG, "headers: out of memory"));
	m->nheaders = 0;
	cJSON_ArrayForEach (pair, a) {
		const cJSON *k = cJSON_GetArrayItem(pair, 0);
		const cJSON *v = cJSON_GetArrayItem(pair, 1);
		if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 ||
		    !cJSON_IsString(k) || !cJSON_IsString(v))
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "headers[%zu]: not a [name, value] pair of strings",
			    m->nheaders));
		if (!ipc_is_token(k->valuestring) ||
		    !ipc_is_header_value(v->valuestring))
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "headers[%zu]: illegal name or value",
			    m->nheaders));
		m->headers[m->nheaders].name = k->valuestring;
		m->headers[m->nheaders].value = v->valuestring;
		m->nheaders++;
	}
	return (0);
}

int
ipc_get_bool(const cJSON *o, const char *key, int required, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (v == NULL)
		return (required ? -1 : 0);
	if (!cJSON_IsBool(v))
		return (-1);
	*out = cJSON_IsTrue(v);
	return (0);
}

static int
get_alarm_name(const cJSON *o, const char **out)
{
	if (ipc_get_string(o, "name", 1, out) != 0 ||
	    strlen(*out) > IPC_MAX_ALARM_NAME ||
	    !ipc_is_utf8(*out, strlen(*out)))
		return (-1);
	return (0);
}

/*
 * "alarms": [{"name": "", "at": ms, "every": ms} | {"name": "x"}, ...].
 * An entry without "at" says the alarm is deleted, which an alarm_sync
 * (wake-ups to index) cannot say.
 */
static int
get_alarms(
    const cJSON *o, struct ipc_msg *m, int required, char *err, size_t errlen)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "alarms");
	const cJSON *e;
	size_t n;
	double d;

	if (a == NULL)
		return (required ? ipc_fail(err, errlen, IPC_EFIELD,
		                       "alarms: missing")
		                 : 0);
	if (!cJSON_IsArray(a))
		return (
		    ipc_fail(err, errlen, IPC_EFIELD, "alarms: not an array"));
	n = (size_t)cJSON_GetArraySize(a);
	if (n > IPC_MAX_ALARMS)
		return (ipc_fail(err, errlen, IPC_ETOOBIG,
		    "alarms: %zu entries, limit %d", n, IPC_MAX_ALARMS));
	if (n == 0)
		return (0);
	if ((m->alarms = calloc(n, sizeof(*m->alarms))) == NULL)
		return (ipc_fail(
		    err, errlen, IPC_ETOOBIG, "alarms: out of memory"));
	cJSON_ArrayForEach (e, a) {
		struct ipc_alarm *al = &m->alarms[m->nalarms];
		if (!cJSON_IsObject(e) || get_alarm_name(e, &al->name) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "alarms[%zu]: needs a name of at most %d bytes of "
			    "UTF-8",
			    m->nalarms, IPC_MAX_ALARM_NAME));
		d = -1;
		if (ipc_get_int(e, "at", 0, 0, (double)IPC_MAX_TIME_MS, &d) !=
		        0 ||
		    (d < 0 && m->type == IPC_ALARM_SYNC))
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "alarms[%zu]: at: not a time in 0..2^53 ms",
			    m->nalarms));
		al->deleted = d < 0;
		al->at = al->deleted ? 0 : (uint64_t)d;
		d = 0;
		if (ipc_get_int(
		        e, "every", 0, 0, (double)IPC_MAX_TIME_MS, &d) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "alarms[%zu]: every: not a period in 0..2^53 ms",
			    m->nalarms));
		/* A deleted alarm has no period, whatever was sent. */
		al->every = al->deleted ? 0 : (uint64_t)d;
		m->nalarms++;
	}
	return (0);
}

static int
decode_fields(const cJSON *o, struct ipc_msg *m, char *err, size_t errlen)
{
	double d = 0;
	int rv;

	if (ipc_get_int(o, "id", 0, 0, (double)IPC_MAX_ID, &d) != 0)
		return (ipc_fail(
		    err, errlen, IPC_EFIELD, "id: not an integer in 0..2^53"));
	m->id = (uint64_t)d;

	switch (m->type) {
	case IPC_READY:
		d = 0;
		if (ipc_get_int(o, "protocol", 1, 1, 65535, &d) != 0)
			return (ipc_fail(
			    err, errlen, IPC_EFIELD, "ready: bad protocol"));
		m->protocol = (int)d;
		d = 0;
		if (ipc_get_int(o, "pid", 0, 0, 4194304, &d) != 0)
			return (ipc_fail(
			    err, errlen, IPC_EFIELD, "ready: bad pid"));
		m->pid = (long)d;
		return (0);
	case IPC_REQUEST:
		if (m->id == 0 ||
		    ipc_get_string(o, "method", 1, &m->method) != 0 ||
		    !ipc_is_token(m->method) ||
		    strlen(m->method) > IPC_MAX_METHOD ||
		    ipc_get_string(o, "path", 1, &m->path) != 0 ||
		    m->path[0] != '/' ||
		    ipc_get_string(o, "query", 0, &m->query) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "request: needs id, method token, path starting "
			    "with /"));
		if ((rv = ipc_ws_decode_upgrade(o, m, err, errlen)) != 0)
			return (rv);
		return (get_headers(o, m, err, errlen));
	case IPC_RESPONSE:
		if (m->id == 0 ||
		    ipc_get_int(o, "status", 1, 100, 599, &d) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "response: needs id and status in 100..599"));
		m->status = (int)d;
		if ((rv = get_headers(o, m, err, errlen)) != 0 ||
		    (rv = ipc_ws_get_tags(o, m, err, errlen)) != 0)
			return (rv);
		return (get_alarms(o, m, 0, err, errlen));
	case IPC_DONE:
		if (m->id == 0)
			return (ipc_fail(
			    err, errlen, IPC_EFIELD, "done: needs an id"));
		return (get_alarms(o, m, 0, err, errlen));
	case IPC_ALARM_SYNC:
		return (get_alarms(o, m, 1, err, errlen));
	case IPC_ALARM_ACK:
		if (ipc_get_bool(o, "ok", 1, &m->ok) != 0 ||
		    ipc_get_string(o, "message", 0, &m->message) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "alarm_ack: needs ok (true or false)"));
		return (0);
	case IPC_ALARM:
		if (m->id == 0 || get_alarm_name(o, &m->name) != 0 ||
		    ipc_get_int(
		        o, "scheduled", 1, 0, (double)IPC_MAX_TIME_MS, &d) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "alarm: needs id, name and scheduled"));
		m->scheduled = (uint64_t)d;
		d = 0;
		if (ipc_get_int(o, "retry", 0, 0, IPC_MAX_RETRY, &d) != 0 ||
		    ipc_get_bool(o, "final", 0, &m->final) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "alarm: bad retry or final"));
		m->retry = (int)d;
		return (0);
	case IPC_ERROR:
		if (ipc_get_string(o, "code", 1, &m->code) != 0 ||
		    m->code[0] == '\0' ||
		    ipc_get_string(o, "message", 0, &m->message) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "error: needs a code string"));
		return (0);
	case IPC_WS_MESSAGE:
	case IPC_WS_CLOSE:
	case IPC_WS_SEND:
	case IPC_WS_BROADCAST:
	case IPC_WS_ATTACH:
	case IPC_WS_AUTO:
	case IPC_WS_LIST:
	case IPC_WS_GET:
	case IPC_WS_LIST_RESULT:
	case IPC_WS_INFO:
		return (ipc_ws_decode(o, m, err, errlen));
	case IPC_HIBERNATE:
	case IPC_UNKNOWN:
		break;
	}
	return (0);
}

static void
msg_defaults(struct ipc_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->query = "";
	m->message = "";
	m->reason = "";
}

int
ipc_decode(
    const uint8_t *buf, size_t len, struct ipc_msg *m, char *err, size_t errlen)
{
	const char *hdr = (const char *)buf + 4, *end = NULL;
	const cJSON *t;
	cJSON *o;
	uint32_t hlen;
	int rv;

	msg_defaults(m);
	if (len < 4)
		return (ipc_fail(err, errlen, IPC_ETRUNCATED,
		    "frame of %zu bytes has no length prefix", len));
	hlen = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	       (uint32_t)buf[2] << 8 | buf[3];
	if (hlen > IPC_MAX_HEADER_BYTES)
		return (ipc_fail(err, errlen, IPC_ETOOBIG,
		    "header of %u bytes, limit %u", hlen,
		    IPC_MAX_HEADER_BYTES));
	if (hlen > len - 4)
		return (ipc_fail(err, errlen, IPC_ETRUNCATED,
		    "header of %u bytes in a frame of %zu", hlen, len));
	if (len - 4 - hlen > IPC_MAX_BODY_BYTES)
		return (ipc_fail(err, errlen, IPC_ETOOBIG,
		    "body of %zu bytes, limit %u", len - 4 - hlen,
		    IPC_MAX_BODY_BYTES));
	/* cJSON takes a NUL for whitespace: refuse it, the header is JSON. */
	if (memchr(hdr, '\0', hlen) != NULL)
		return (ipc_fail(
		    err, errlen, IPC_EJSON, "header contains a NUL byte"));
	/* cJSON's "require NUL" wants a NUL inside the length; instead check
	 * that only whitespace follows the object within the header. */
	o = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
	while (o != NULL && end < hdr + hlen &&
	       (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (o == NULL || !cJSON_IsObject(o) || end != hdr + hlen) {
		cJSON_Delete(o);
		return (ipc_fail(
		    err, errlen, IPC_EJSON, "header is not a JSON object"));
	}
	t = cJSON_GetObjectItemCaseSensitive(o, "type");
	if (!cJSON_IsString(t) || t->valuestring[0] == '\0') {
		cJSON_Delete(o);
		return (ipc_fail(
		    err, errlen, IPC_EFIELD, "type: missing or not a string"));
	}
	m->json_ = o;
	m->type_name = t->valuestring;
	m->type = type_byname(t->valuestring);
	/* Before the fields: some messages bound their body. */
	m->body = buf + 4 + hlen;
	m->body_len = len - 4 - hlen;
	if ((rv = decode_fields(o, m, err, errlen)) != 0) {
		ipc_msg_release(m);
		return (rv);
	}
	return (IPC_OK);
}

void
ipc_msg_release(struct ipc_msg *m)
{
	free(m->headers);
	free(m->alarms);
	free((void *)m->tags);
	free(m->conns);
	free(m->conn_tags_);
	cJSON_Delete(m->json_);
	m->headers = NULL;
	m->alarms = NULL;
	m->tags = NULL;
	m->conns = NULL;
	m->conn_tags_ = NULL;
	m->json_ = NULL;
	/* frame_ belongs to the transport (ipc_nng.c frees it). */
}

static cJSON *
headers_json(const struct ipc_msg *m)
{
	cJSON *a = cJSON_CreateArray(), *pair;

	for (size_t i = 0; a != NULL && i < m->nheaders; i++) {
		if ((pair = cJSON_CreateArray()) == NULL ||
		    !cJSON_AddItemToArray(a, pair) ||
		    !cJSON_AddItemToArray(
		        pair, cJSON_CreateString(m->headers[i].name)) ||
		    !cJSON_AddItemToArray(
		        pair, cJSON_CreateString(m->headers[i].value))) {
			cJSON_Delete(a);
			return (NULL);
		}
	}
	return (a);
}

/* cJSON prints numbers with %.15g, which rounds ids past 10^15: write
 * integers ourselves, exactly. */
int
ipc_add_uint(cJSON *o, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return (cJSON_AddRawToObject(o, key, buf) != NULL);
}

static cJSON *
alarms_json(const struct ipc_msg *m)
{
	cJSON *a = cJSON_CreateArray(), *e;

	for (size_t i = 0; a != NULL && i < m->nalarms; i++) {
		const struct ipc_alarm *al = &m->alarms[i];
		if ((e = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(a, e) ||
		    cJSON_AddStringToObject(e, "name", al->name) == NULL ||
		    (!al->deleted && !ipc_add_uint(e, "at", al->at)) ||
		    (!al->deleted && al->every != 0 &&
		        !ipc_add_uint(e, "every", al->every))) {
			cJSON_Delete(a);
			return (NULL);
		}
	}
	return (a);
}

static int
encode_fields(cJSON *o, const struct ipc_msg *m)
{
	int ok = 1;

	if (m->id != 0)
		ok &= ipc_add_uint(o, "id", m->id);
	switch (m->type) {
	case IPC_READY:
		ok &=
		    cJSON_AddNumberToObject(o, "protocol", m->protocol) != NULL;
		if (m->pid != 0)
			ok &= ipc_add_uint(o, "pid", (uint64_t)m->pid);
		break;
	case IPC_REQUEST:
		ok &= cJSON_AddStringToObject(o, "method", m->method) != NULL;
		ok &= cJSON_AddStringToObject(o, "path", m->path) != NULL;
		ok &= cJSON_AddStringToObject(
		          o, "query", m->query ? m->query : "") != NULL;
		ok &= cJSON_AddItemToObject(o, "headers", headers_json(m));
		if (m->websocket) {
			ok &= cJSON_AddTrueToObject(o, "websocket") != NULL;
			ok &= ipc_add_uint(o, "ws_conn", m->ws_conn);
		}
		break;
	case IPC_RESPONSE:
		ok &= cJSON_AddNumberToObject(o, "status", m->status) != NULL;
		ok &= cJSON_AddItemToObject(o, "headers", headers_json(m));
		if (m->ntags > 0)
			ok &= cJSON_AddItemToObject(
			    o, "tags", ipc_ws_tags_json(m->tags, m->ntags));
		if (m->nalarms > 0)
			ok &=
			    cJSON_AddItemToObject(o, "alarms", alarms_json(m));
		break;
	case IPC_DONE:
		if (m->nalarms > 0)
			ok &=
			    cJSON_AddItemToObject(o, "alarms", alarms_json(m));
		break;
	case IPC_ALARM_SYNC:
		ok &= cJSON_AddItemToObject(o, "alarms", alarms_json(m));
		break;
	case IPC_ALARM_ACK:
		ok &= cJSON_AddBoolToObject(o, "ok", m->ok) != NULL;
		if (m->message != NULL && m->message[0] != '\0')
			ok &= cJSON_AddStringToObject(
			          o, "message", m->message) != NULL;
		break;
	case IPC_ALARM:
		ok &= cJSON_AddStringToObject(o, "name", m->name) != NULL;
		ok &= ipc_add_uint(o, "scheduled", m->scheduled);
		ok &= cJSON_AddNumberToObject(o, "retry", m->retry) != NULL;
		if (m->final)
			ok &= cJSON_AddTrueToObject(o, "final") != NULL;
		break;
	case IPC_ERROR:
		ok &= cJSON_AddStringToObject(o, "code", m->code) != NULL;
		ok &= cJSON_AddStringToObject(
		          o, "message", m->message ? m->message : "") != NULL;
		break;
	case IPC_WS_MESSAGE:
	case IPC_WS_CLOSE:
	case IPC_WS_SEND:
	case IPC_WS_BROADCAST:
	case IPC_WS_ATTACH:
	case IPC_WS_AUTO:
	case IPC_WS_LIST:
	case IPC_WS_GET:
	case IPC_WS_LIST_RESULT:
	case IPC_WS_INFO:
		ok &= ipc_ws_encode(o, m);
		break;
	case IPC_HIBERNATE:
	case IPC_UNKNOWN:
		break;
	}
	return (ok ? 0 : -1);
}

char *
ipc_header_json(const struct ipc_msg *m)
{
	cJSON *o;
	char *s = NULL;
	const char *name = m->type == IPC_UNKNOWN && m->type_name
	                       ? m->type_name
	                       : ipc_type_name(m->type);

	if ((o = cJSON_CreateObject()) == NULL)
		return (NULL);
	if (cJSON_AddStringToObject(o, "type", name) != NULL &&
	    encode_fields(o, m) == 0)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return (s);
}

uint8_t *
ipc_encode(const struct ipc_msg *m, size_t *len)
{
	char *json;
	uint8_t *f;
	size_t hlen;

	if (m->body_len > IPC_MAX_BODY_BYTES ||
	    (json = ipc_header_json(m)) == NULL)
		return (NULL);
	hlen = strlen(json);
	if (hlen > IPC_MAX_HEADER_BYTES ||
	    (f = malloc(4 + hlen + m->body_len)) == NULL) {
		free(json);
		return (NULL);
	}
	f[0] = (uint8_t)(hlen >> 24);
	f[1] = (uint8_t)(hlen >> 16);
	f[2] = (uint8_t)(hlen >> 8);
	f[3] = (uint8_t)hlen;
	memcpy(f + 4, json, hlen);
	if (m->body_len > 0)
		memcpy(f + 4 + hlen, m->body, m->body_len);
	free(json);
	*len = 4 + hlen + m->body_len;
	return (f);
}
