/*
 * ipc_ws.c — the WebSocket messages of the codec (PROTOCOL.md section 15):
 * their fields decoded and checked, and encoded. ipc_codec.c dispatches
 * here and shares its field helpers through ipc_impl.h.
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "ipc_impl.h"

/* A connection id: an int in 1..2^53. */
static int
get_conn(const cJSON *o, const char *key, int required, uint64_t *out)
{
	double d = 0;

	if (ipc_get_int(o, key, required, 1, (double)IPC_MAX_ID, &d) != 0)
		return (-1);
	*out = (uint64_t)d;
	return (0);
}

/* A string of min..max bytes of UTF-8; *out is untouched when absent. */
static int
get_text(const cJSON *o, const char *key, int required, size_t min, size_t max,
    const char **out)
{
	const char *s = NULL;
	size_t n;

	if (ipc_get_string(o, key, required, &s) != 0)
		return (-1);
	if (s == NULL)
		return (0);
	n = strlen(s);
	if (n < min || n > max || !ipc_is_utf8(s, n))
		return (-1);
	*out = s;
	return (0);
}

/* "auto_ms": epoch ms in 1..2^53, or null (or absent) for never (0). */
static int
get_auto_ms(const cJSON *o, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "auto_ms");
	double d = 0;

	*out = 0;
	if (v == NULL || cJSON_IsNull(v))
		return (0);
	if (ipc_get_int(o, "auto_ms", 1, 1, (double)IPC_MAX_TIME_MS, &d) != 0)
		return (-1);
	*out = (uint64_t)d;
	return (0);
}

/*
 * A "tags" array into out (room for IPC_WS_MAX_TAGS): at most that many
 * strings of 1..IPC_WS_MAX_TAG bytes of UTF-8. Returns how many, or -1.
 */
static int
tags_read(const cJSON *a, const char **out)
{
	const cJSON *t;
	int n = 0;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > IPC_WS_MAX_TAGS)
		return (-1);
	cJSON_ArrayForEach (t, a) {
		size_t len;
		if (!cJSON_IsString(t) || t->valuestring == NULL)
			return (-1);
		len = strlen(t->valuestring);
		if (len < 1 || len > IPC_WS_MAX_TAG ||
		    !ipc_is_utf8(t->valuestring, len))
			return (-1);
		out[n++] = t->valuestring;
	}
	return (n);
}

/* "tags" of a response or a ws_info; absent is none. */
int
ipc_ws_get_tags(const cJSON *o, struct ipc_msg *m, char *err, size_t errlen)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "tags");
	const char *t[IPC_WS_MAX_TAGS], **copy;
	int n;

	if (a == NULL)
		return (0);
	if ((n = tags_read(a, t)) < 0)
		return (ipc_fail(err, errlen, IPC_EFIELD,
		    "tags: not an array of at most %d strings of 1..%d bytes "
		    "of UTF-8",
		    IPC_WS_MAX_TAGS, IPC_WS_MAX_TAG));
	if (n == 0)
		return (0);
	if ((copy = calloc((size_t)n, sizeof(*copy))) == NULL)
		return (
		    ipc_fail(err, errlen, IPC_ETOOBIG, "tags: out of memory"));
	memcpy(copy, t, (size_t)n * sizeof(*t));
	m->tags = copy;
	m->ntags = (size_t)n;
	return (0);
}

/* Tags listed by the entries of a "conns" array; -1 past the limit. */
static long
conns_count_tags(const cJSON *a)
{
	const cJSON *e, *t;
	long n = 0;
	int k;

	cJSON_ArrayForEach (e, a) {
		t = cJSON_GetObjectItemCaseSensitive(e, "tags");
		if (!cJSON_IsObject(e) || t == NULL)
			continue;
		if ((k = cJSON_GetArraySize(t)) > IPC_WS_MAX_TAGS)
			return (-1);
		n += k;
	}
	return (n);
}

/*
 * "conns": [{"conn": id, "tags": [...], "auto_ms": ms | null}, ...], at
 * most IPC_WS_MAX_CONNS. Every entry's tags share one array, counted
 * first.
 */
static int
get_conns(const cJSON *o, struct ipc_msg *m, char *err, size_t errlen)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "conns"), *e, *t;
	const char **tags;
	size_t n, used = 0;
	long ntags;
	int k;

	if (!cJSON_IsArray(a))
		return (ipc_fail(err, errlen, IPC_EFIELD,
		    "ws_list_result: conns: missing or not an array"));
	n = (size_t)cJSON_GetArraySize(a);
	if (n > IPC_WS_MAX_CONNS)
		return (ipc_fail(err, errlen, IPC_ETOOBIG,
		    "conns: %zu entries, limit %d", n, IPC_WS_MAX_CONNS));
	if (n == 0)
		return (0);
	if ((ntags = conns_count_tags(a)) < 0)
		return (ipc_fail(err, errlen, IPC_EFIELD,
		    "conns: an entry has more than %d tags", IPC_WS_MAX_TAGS));
	tags = calloc((size_t)ntags + 1, sizeof(*tags));
	m->conn_tags_ = tags;
	if (tags == NULL || (m->conns = calloc(n, sizeof(*m->conns))) == NULL)
		return (
		    ipc_fail(err, errlen, IPC_ETOOBIG, "conns: out of memory"));
	cJSON_ArrayForEach (e, a) {
		struct ipc_ws_conn *c = &m->conns[m->nconns];
		t = cJSON_GetObjectItemCaseSensitive(e, "tags");
		k = 0;
		if (!cJSON_IsObject(e) ||
		    get_conn(e, "conn", 1, &c->conn) != 0 ||
		    get_auto_ms(e, &c->auto_ms) != 0 ||
		    (t != NULL && (k = tags_read(t, tags + used)) < 0))
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "conns[%zu]: needs conn in 1..2^53, tags (at most "
			    "%d strings of 1..%d bytes of UTF-8) and auto_ms "
			    "in 1..2^53 or null",
			    m->nconns, IPC_WS_MAX_TAGS, IPC_WS_MAX_TAG));
		c->tags = k > 0 ? tags + used : NULL;
		c->ntags = (size_t)k;
		used += (size_t)k;
		m->nconns++;
	}
	return (0);
}

/*
 * ws_close goes both ways with different fields. The id tells them apart:
 * durod's event has one (it is answered), the worker's action never does.
 */
static int
decode_ws_close(const cJSON *o, struct ipc_msg *m, char *err, size_t errlen)
{
	int event = m->id != 0;
	double d = IPC_WS_MIN_CLOSE;

	if (get_conn(o, "conn", 1, &m->conn) != 0 ||
	    ipc_get_int(o, "code", event, event ? 0 : IPC_WS_MIN_CLOSE,
	        IPC_WS_MAX_CODE, &d) != 0 ||
	    get_text(o, "reason", 0, 0, IPC_WS_MAX_REASON, &m->reason) != 0 ||
	    (event && ipc_get_bool(o, "clean", 0, &m->clean) != 0))
		return (ipc_fail(err, errlen, IPC_EFIELD, "%s",
		    event ? "ws_close (event, with an id): needs conn, code "
		            "in 0..4999, a reason of at most 123 bytes of "
		            "UTF-8 and clean true or false"
		          : "ws_close (action, no id): needs conn, code in "
		            "1000..4999 and a reason of at most 123 bytes of "
		            "UTF-8"));
	m->close_code = (int)d;
	return (0);
}

static int
decode_ws_info(const cJSON *o, struct ipc_msg *m, char *err, size_t errlen)
{
	if (get_conn(o, "conn", 1, &m->conn) != 0 ||
	    ipc_get_bool(o, "found", 1, &m->found) != 0 ||
	    get_auto_ms(o, &m->auto_ms) != 0)
		return (ipc_fail(err, errlen, IPC_EFIELD,
		    "ws_info: needs conn in 1..2^53, found true or false, "
		    "auto_ms in 1..2^53 or null"));
	if (m->body_len > IPC_WS_MAX_ATTACHMENT)
		return (ipc_fail(err, errlen, IPC_ETOOBIG,
		    "ws_info: attachment of %zu bytes, limit %d", m->body_len,
		    IPC_WS_MAX_ATTACHMENT));
	return (ipc_ws_get_tags(o, m, err, errlen));
}

static int
decode_ws_auto(const cJSON *o, struct ipc_msg *m, char *err, size_t errlen)
{
	const size_t max = IPC_WS_MAX_AUTO;

	if (get_text(o, "request", 1, 0, max, &m->auto_request) != 0 ||
	    get_text(o, "response", 1, 0, max, &m->auto_response) != 0 ||
	    (m->auto_request[0] == '\0' && m->auto_response[0] != '\0'))
		return (ipc_fail(err, errlen, IPC_EFIELD,
		    "ws_auto: needs request and response of at most %d bytes "
		    "of UTF-8, request non-empty unless both are",
		    IPC_WS_MAX_AUTO));
	return (0);
}

/* The WebSocket messages; the body is already in m. */
int
ipc_ws_decode(const cJSON *o, struct ipc_msg *m, char *err, size_t errlen)
{
	switch (m->type) {
	case IPC_WS_MESSAGE:
		if (m->id == 0 || get_conn(o, "conn", 1, &m->conn) != 0 ||
		    ipc_get_bool(o, "binary", 0, &m->binary) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "ws_message: needs id, conn in 1..2^53 and binary "
			    "true or false"));
		return (0);
	case IPC_WS_CLOSE:
		return (decode_ws_close(o, m, err, errlen));
	case IPC_WS_SEND:
		if (get_conn(o, "conn", 1, &m->conn) != 0 ||
		    ipc_get_bool(o, "binary", 0, &m->binary) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "ws_send: needs conn in 1..2^53 and binary true "
			    "or false"));
		return (0);
	case IPC_WS_BROADCAST:
		if (get_text(o, "tag", 0, 1, IPC_WS_MAX_TAG, &m->tag) != 0 ||
		    ipc_get_bool(o, "binary", 0, &m->binary) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "ws_broadcast: tag must be 1..%d bytes of UTF-8, "
			    "binary true or false",
			    IPC_WS_MAX_TAG));
		return (0);
	case IPC_WS_ATTACH:
		if (get_conn(o, "conn", 1, &m->conn) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "ws_attach: needs conn in 1..2^53"));
		if (m->body_len > IPC_WS_MAX_ATTACHMENT)
			return (ipc_fail(err, errlen, IPC_ETOOBIG,
			    "ws_attach: attachment of %zu bytes, limit %d",
			    m->body_len, IPC_WS_MAX_ATTACHMENT));
		return (0);
	case IPC_WS_AUTO:
		return (decode_ws_auto(o, m, err, errlen));
	case IPC_WS_LIST:
		if (get_text(o, "tag", 0, 1, IPC_WS_MAX_TAG, &m->tag) != 0 ||
		    get_conn(o, "after", 0, &m->after) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "ws_list: tag must be 1..%d bytes of UTF-8, after "
			    "a connection id",
			    IPC_WS_MAX_TAG));
		return (0);
	case IPC_WS_GET:
		if (get_conn(o, "conn", 1, &m->conn) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "ws_get: needs conn in 1..2^53"));
		return (0);
	case IPC_WS_LIST_RESULT:
		if (ipc_get_bool(o, "more", 0, &m->more) != 0)
			return (ipc_fail(err, errlen, IPC_EFIELD,
			    "ws_list_result: more must be a bool"));
		return (get_conns(o, m, err, errlen));
	case IPC_WS_INFO:
		return (decode_ws_info(o, m, err, errlen));
	default:
		return (0);
	}
}

/* request: the upgrade fields; ws_conn means nothing without websocket. */
int
ipc_ws_decode_upgrade(
    const cJSON *o, struct ipc_msg *m, char *err, size_t errlen)
{
	if (ipc_get_bool(o, "websocket", 0, &m->websocket) != 0 ||
	    get_conn(o, "ws_conn", m->websocket, &m->ws_conn) != 0)
		return (ipc_fail(err, errlen, IPC_EFIELD,
		    "request: websocket must be true or false, and with it "
		    "ws_conn an int in 1..2^53"));
	if (!m->websocket)
		m->ws_conn = 0;
	return (0);
}

cJSON *
ipc_ws_tags_json(const char *const *tags, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a != NULL && i < n; i++) {
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(tags[i]))) {
			cJSON_Delete(a);
			return (NULL);
		}
	}
	return (a);
}

/* "auto_ms": null for never. */
static int
add_auto_ms(cJSON *o, uint64_t ms)
{
	if (ms == 0)
		return (cJSON_AddNullToObject(o, "auto_ms") != NULL);
	return (ipc_add_uint(o, "auto_ms", ms));
}

static cJSON *
conns_json(const struct ipc_msg *m)
{
	cJSON *a = cJSON_CreateArray(), *e;

	for (size_t i = 0; a != NULL && i < m->nconns; i++) {
		const struct ipc_ws_conn *c = &m->conns[i];
		if ((e = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(a, e) ||
		    !ipc_add_uint(e, "conn", c->conn) ||
		    !cJSON_AddItemToObject(
		        e, "tags", ipc_ws_tags_json(c->tags, c->ntags)) ||
		    !add_auto_ms(e, c->auto_ms)) {
			cJSON_Delete(a);
			return (NULL);
		}
	}
	return (a);
}

static int
add_str(cJSON *o, const char *key, const char *s)
{
	return (cJSON_AddStringToObject(o, key, s != NULL ? s : "") != NULL);
}

/* "binary": written only when true (absent is false). */
static int
add_binary(cJSON *o, int binary)
{
	return (!binary || cJSON_AddTrueToObject(o, "binary") != NULL);
}

int
ipc_ws_encode(cJSON *o, const struct ipc_msg *m)
{
	int ok = 1;

	switch (m->type) {
	case IPC_WS_MESSAGE:
	case IPC_WS_SEND:
		ok &= ipc_add_uint(o, "conn", m->conn);
		ok &= add_binary(o, m->binary);
		break;
	case IPC_WS_CLOSE:
		/* The event (with an id) or the action (without). */
		ok &= ipc_add_uint(o, "conn", m->conn);
		ok &= cJSON_AddNumberToObject(o, "code", m->close_code) != NULL;
		if (m->reason != NULL && m->reason[0] != '\0')
			ok &= add_str(o, "reason", m->reason);
		if (m->id != 0 && m->clean)
			ok &= cJSON_AddTrueToObject(o, "clean") != NULL;
		break;
	case IPC_WS_BROADCAST:
	case IPC_WS_LIST:
		if (m->tag != NULL)
			ok &= add_str(o, "tag", m->tag);
		if (m->type == IPC_WS_BROADCAST)
			ok &= add_binary(o, m->binary);
		if (m->type == IPC_WS_LIST && m->after != 0)
			ok &= ipc_add_uint(o, "after", m->after);
		break;
	case IPC_WS_ATTACH:
	case IPC_WS_GET:
		ok &= ipc_add_uint(o, "conn", m->conn);
		break;
	case IPC_WS_AUTO:
		ok &= add_str(o, "request", m->auto_request);
		ok &= add_str(o, "response", m->auto_response);
		break;
	case IPC_WS_LIST_RESULT:
		ok &= cJSON_AddItemToObject(o, "conns", conns_json(m));
		if (m->more)
			ok &= cJSON_AddTrueToObject(o, "more") != NULL;
		break;
	case IPC_WS_INFO:
		ok &= ipc_add_uint(o, "conn", m->conn);
		ok &= cJSON_AddBoolToObject(o, "found", m->found) != NULL;
		ok &= cJSON_AddItemToObject(
		    o, "tags", ipc_ws_tags_json(m->tags, m->ntags));
		ok &= add_auto_ms(o, m->auto_ms);
		break;
	default:
		break;
	}
	return (ok);
}
