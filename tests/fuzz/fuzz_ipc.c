/*
 * fuzz_ipc.c — libFuzzer target for the protocol decoder.
 *
 * ipc_decode() is where durod meets bytes from untrusted workers, so any
 * input must either be rejected cleanly or decode into a message that the
 * encoder can write back out and the decoder read again, unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

static int
headers_eq(const struct ipc_msg *a, const struct ipc_msg *b)
{
	if (a->nheaders != b->nheaders)
		return (0);
	for (size_t i = 0; i < a->nheaders; i++)
		if (!str_eq(a->headers[i].name, b->headers[i].name) ||
		    !str_eq(a->headers[i].value, b->headers[i].value))
			return (0);
	return (1);
}

static int
alarms_eq(const struct ipc_msg *a, const struct ipc_msg *b)
{
	if (a->nalarms != b->nalarms)
		return (0);
	for (size_t i = 0; i < a->nalarms; i++) {
		const struct ipc_alarm *x = &a->alarms[i], *y = &b->alarms[i];
		if (!str_eq(x->name, y->name) || x->deleted != y->deleted ||
		    x->at != y->at || x->every != y->every)
			return (0);
	}
	return (1);
}

static int
tags_eq(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	if (na != nb)
		return (0);
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i], b[i]))
			return (0);
	return (1);
}

static int
conns_eq(const struct ipc_msg *a, const struct ipc_msg *b)
{
	if (a->nconns != b->nconns)
		return (0);
	for (size_t i = 0; i < a->nconns; i++) {
		const struct ipc_ws_conn *x = &a->conns[i], *y = &b->conns[i];
		if (x->conn != y->conn || x->auto_ms != y->auto_ms ||
		    !tags_eq(x->tags, x->ntags, y->tags, y->ntags))
			return (0);
	}
	return (1);
}

/* WebSocket messages (PROTOCOL.md section 15). */
static int
ws_eq(const struct ipc_msg *a, const struct ipc_msg *b)
{
	switch (a->type) {
	case IPC_WS_MESSAGE:
	case IPC_WS_SEND:
		return (a->conn == b->conn && a->binary == b->binary);
	case IPC_WS_CLOSE:
		return (a->conn == b->conn && a->close_code == b->close_code &&
		        str_eq(a->reason, b->reason) && a->clean == b->clean);
	case IPC_WS_BROADCAST:
		return (str_eq(a->tag, b->tag) && a->binary == b->binary);
	case IPC_WS_LIST:
		return (str_eq(a->tag, b->tag) && a->after == b->after);
	case IPC_WS_ATTACH:
	case IPC_WS_GET:
		return (a->conn == b->conn);
	case IPC_WS_AUTO:
		return (str_eq(a->auto_request, b->auto_request) &&
		        str_eq(a->auto_response, b->auto_response));
	case IPC_WS_LIST_RESULT:
		return (conns_eq(a, b) && a->more == b->more);
	case IPC_WS_INFO:
		return (a->conn == b->conn && a->found == b->found &&
		        a->auto_ms == b->auto_ms &&
		        tags_eq(a->tags, a->ntags, b->tags, b->ntags));
	default:
		return (1);
	}
}

/* Every field the encoder writes must survive a round trip. */
static int
msg_eq(const struct ipc_msg *a, const struct ipc_msg *b)
{
	if (a->type != b->type || a->id != b->id ||
	    !str_eq(a->type_name, b->type_name) || a->body_len != b->body_len ||
	    (a->body_len > 0 && memcmp(a->body, b->body, a->body_len) != 0))
		return (0);
	switch (a->type) {
	case IPC_READY:
		return (a->protocol == b->protocol && a->pid == b->pid);
	case IPC_REQUEST:
		return (
		    str_eq(a->method, b->method) && str_eq(a->path, b->path) &&
		    str_eq(a->query, b->query) && headers_eq(a, b) &&
		    a->websocket == b->websocket && a->ws_conn == b->ws_conn);
	case IPC_RESPONSE:
		return (a->status == b->status && headers_eq(a, b) &&
		        alarms_eq(a, b) &&
		        tags_eq(a->tags, a->ntags, b->tags, b->ntags));
	case IPC_ERROR:
		return (
		    str_eq(a->code, b->code) && str_eq(a->message, b->message));
	case IPC_ALARM:
		return (str_eq(a->name, b->name) &&
		        a->scheduled == b->scheduled && a->retry == b->retry &&
		        a->final == b->final);
	case IPC_DONE:
	case IPC_ALARM_SYNC:
		return (alarms_eq(a, b));
	case IPC_ALARM_ACK:
		return (a->ok == b->ok && str_eq(a->message, b->message));
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
		return (ws_eq(a, b));
	case IPC_HIBERNATE:
	case IPC_UNKNOWN:
		break;
	}
	return (1);
}

/*
 * The encoder may legitimately refuse a decoded message: it writes fields
 * the sender left out ("query", "headers", a list entry's "tags" and
 * "auto_ms"), so a header just under the limit can come back over it.
 * Anything else is a bug.
 */
static int
encode_may_fail(const struct ipc_msg *m)
{
	char *json = ipc_header_json(m);
	int over = json == NULL || strlen(json) > IPC_MAX_HEADER_BYTES;

	free(json);
	return (over);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg m, again;
	char err[256];
	uint8_t *frame;
	size_t len;

	if (ipc_decode(data, size, &m, err, sizeof(err)) != IPC_OK)
		return (0);
	if ((frame = ipc_encode(&m, &len)) == NULL) {
		if (!encode_may_fail(&m))
			abort();
		ipc_msg_release(&m);
		return (0);
	}
	if (ipc_decode(frame, len, &again, err, sizeof(err)) != IPC_OK)
		abort();
	if (!msg_eq(&m, &again))
		abort();
	ipc_msg_release(&again);
	ipc_msg_release(&m);
	free(frame);
	return (0);
}
