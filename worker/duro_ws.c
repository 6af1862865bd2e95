/*
 * duro_ws.c — WebSockets: accepting an upgrade, the actions and queries
 * a handler may make, and the output gate for the gated ones
 * (ipc/PROTOCOL.md section 15).
 *
 * durod owns the connections; the worker only sends it messages. Three
 * kinds, with three timings:
 *
 *	ws_send, ws_broadcast, ws_close	held until the event commits
 *	ws_attach, ws_auto		sent at once, not transactional
 *	ws_list, ws_get			sent at once; wait for the answer
 *
 * Everything is checked here, when the handler makes the call, so that a
 * bad argument comes back to the code that passed it instead of turning
 * into a malformed message that gets the worker killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duro_impl.h"
#include "ipc_nng.h"

int
duro_on_ws_message(struct duro *d, duro_ws_message_fn fn, void *arg)
{
	d->on_ws_message = fn;
	d->ws_message_arg = arg;
	return (0);
}

int
duro_on_ws_close(struct duro *d, duro_ws_close_fn fn, void *arg)
{
	d->on_ws_close = fn;
	d->ws_close_arg = arg;
	return (0);
}

/* ---- checks ---- */

static int
ws_conn_ok(uint64_t conn)
{
	return (conn >= 1 && conn <= IPC_MAX_ID);
}

/* s is min..max bytes of UTF-8 (NULL is not). */
static int
ws_string_ok(const char *s, size_t min, size_t max)
{
	size_t n;

	if (s == NULL)
		return (0);
	n = strlen(s);
	return (n >= min && n <= max && ipc_is_utf8(s, n));
}

static int
ws_data_check(int binary, const void *data, size_t len)
{
	if (data == NULL && len > 0)
		return (DURO_EINVAL);
	if (len > IPC_MAX_BODY_BYTES)
		return (DURO_ERANGE);
	if (!binary && !ipc_is_ws_text(data, len))
		return (DURO_EINVAL);
	return (0);
}

/* Actions and queries exist only inside an event (PROTOCOL.md §15). */
static int
ws_enter(const struct duro *d)
{
	if (!d->ws.in_event)
		return (DURO_ESTATE);
	return (d->ws.broken);
}

/* ---- accepting an upgrade ---- */

static void
ws_tags_free(char **tags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(tags[i]);
	free(tags);
}

int
duro_ws_accept(struct duro_response *r, const char *const *tags, size_t ntags)
{
	char **t = NULL;

	if (!r->ws_upgrade || ntags > DURO_WS_MAX_TAGS ||
	    (tags == NULL && ntags > 0))
		return (duro_response_keep(r, DURO_EINVAL));
	for (size_t i = 0; i < ntags; i++)
		if (!ws_string_ok(tags[i], 1, DURO_WS_TAG_MAX))
			return (duro_response_keep(r, DURO_EINVAL));
	if (ntags > 0 && (t = calloc(ntags, sizeof(*t))) == NULL)
		return (duro_response_keep(r, DURO_ENOMEM));
	for (size_t i = 0; i < ntags; i++) {
		if ((t[i] = strdup(tags[i])) == NULL) {
			ws_tags_free(t, i);
			return (duro_response_keep(r, DURO_ENOMEM));
		}
	}
	ws_tags_free(r->tags, r->ntags);
	r->tags = t;
	r->ntags = ntags;
	r->status = 101;
	return (0);
}

/* ---- the output gate ---- */

/*
 * Hold m until the event's end. It is encoded now: a message that cannot
 * be encoded fails the call that made it, not the event after COMMIT.
 */
static int
ws_gate(struct duro *d, const struct ipc_msg *m)
{
	struct duro_ws *ws = &d->ws;
	nng_msg *frame, **g;
	size_t cap;
	int rv;

	if (ws->ngated == ws->cap) {
		cap = ws->cap > 0 ? ws->cap * 2 : 8;
		if ((g = reallocarray(ws->gated, cap, sizeof(*g))) == NULL)
			return (DURO_ENOMEM);
		ws->gated = g;
		ws->cap = cap;
	}
	if ((rv = ipc_encode_nng(m, &frame)) != 0)
		return (rv == NNG_EMSGSIZE ? DURO_ERANGE : DURO_ENOMEM);
	ws->gated[ws->ngated++] = frame;
	return (0);
}

void
duro_ws_event_begin(struct duro *d)
{
	(void)duro_ws_event_end(d, 0);
	d->ws.in_event = 1;
	d->ws.broken = 0;
}

int
duro_ws_event_end(struct duro *d, int send)
{
	struct duro_ws *ws = &d->ws;
	size_t i = 0;
	int rv = 0;

	ws->in_event = 0;
	/* duro_send_frame() consumes its frame whatever happens. */
	for (; send && rv == 0 && i < ws->ngated; i++)
		rv = duro_send_frame(d, ws->gated[i]);
	for (; i < ws->ngated; i++)
		nng_msg_free(ws->gated[i]);
	ws->ngated = 0;
	return (rv);
}

void
duro_ws_free(struct duro *d)
{
	(void)duro_ws_event_end(d, 0);
	free(d->ws.gated);
	d->ws.gated = NULL;
	d->ws.cap = 0;
}

int
duro_ws_send(
    struct duro *d, uint64_t conn, int binary, const void *data, size_t len)
{
	struct ipc_msg m;
	int rv;

	if ((rv = ws_enter(d)) != 0)
		return (rv);
	if (!ws_conn_ok(conn))
		return (DURO_EINVAL);
	if ((rv = ws_data_check(binary, data, len)) != 0)
		return (rv);
	memset(&m, 0, sizeof(m));
	m.type = IPC_WS_SEND;
	m.conn = conn;
	m.binary = binary != 0;
	m.body = data;
	m.body_len = len;
	return (ws_gate(d, &m));
}

int
duro_ws_broadcast(
    struct duro *d, const char *tag, int binary, const void *data, size_t len)
{
	struct ipc_msg m;
	int rv;

	if ((rv = ws_enter(d)) != 0)
		return (rv);
	if (tag != NULL && !ws_string_ok(tag, 1, DURO_WS_TAG_MAX))
		return (DURO_EINVAL);
	if ((rv = ws_data_check(binary, data, len)) != 0)
		return (rv);
	memset(&m, 0, sizeof(m));
	m.type = IPC_WS_BROADCAST;
	m.tag = tag;
	m.binary = binary != 0;
	m.body = data;
	m.body_len = len;
	return (ws_gate(d, &m));
}

int
duro_ws_close(struct duro *d, uint64_t conn, int code, const char *reason)
{
	struct ipc_msg m;
	int rv;

	if ((rv = ws_enter(d)) != 0)
		return (rv);
	if (reason == NULL)
		reason = "";
	if (!ws_conn_ok(conn) || code < IPC_WS_MIN_CLOSE ||
	    code > IPC_WS_MAX_CODE ||
	    !ws_string_ok(reason, 0, DURO_WS_REASON_MAX))
		return (DURO_EINVAL);
	/* No id: that is what makes it the action, not the event. */
	memset(&m, 0, sizeof(m));
	m.type = IPC_WS_CLOSE;
	m.conn = conn;
	m.close_code = code;
	m.reason = reason;
	return (ws_gate(d, &m));
}

/* ---- immediate actions ---- */

/* Send m now; losing durod ends the event (and the worker). */
static int
ws_now(struct duro *d, const struct ipc_msg *m)
{
	int rv = duro_send_msg(d, m);

	if (rv == DURO_ECLOSED || rv == DURO_EIO)
		d->ws.broken = rv;
	return (rv);
}

int
duro_ws_set_attachment(
    struct duro *d, uint64_t conn, const void *data, size_t len)
{
	struct ipc_msg m;
	int rv;

	if ((rv = ws_enter(d)) != 0)
		return (rv);
	if (!ws_conn_ok(conn) || (data == NULL && len > 0))
		return (DURO_EINVAL);
	if (len > DURO_WS_ATTACHMENT_MAX)
		return (DURO_ERANGE);
	memset(&m, 0, sizeof(m));
	m.type = IPC_WS_ATTACH;
	m.conn = conn;
	m.body = data;
	m.body_len = len;
	return (ws_now(d, &m));
}

int
duro_ws_set_auto_response(
    struct duro *d, const char *request, const char *response)
{
	struct ipc_msg m;
	int rv;

	if ((rv = ws_enter(d)) != 0)
		return (rv);
	if (request == NULL)
		request = "";
	if (response == NULL)
		response = "";
	if (!ws_string_ok(request, 0, DURO_WS_AUTO_MAX) ||
	    !ws_string_ok(response, 0, DURO_WS_AUTO_MAX) ||
	    (request[0] == '\0' && response[0] != '\0'))
		return (DURO_EINVAL);
	memset(&m, 0, sizeof(m));
	m.type = IPC_WS_AUTO;
	m.auto_request = request;
	m.auto_response = response;
	return (ws_now(d, &m));
}

/* ---- queries ---- */

static int
ws_broken(struct duro *d, int rv)
{
	d->ws.broken = rv;
	return (rv);
}

/*
 * Send query q and wait for its answer, of type want, into *a (release it
 * with ipc_recv_done). durod answers a query at once and sends nothing
 * else meanwhile (an event is in flight), so anything else is a broken
 * protocol, like a lost durod: it ends the event and the worker.
 */
static int
ws_ask(struct duro *d, const struct ipc_msg *q, enum ipc_type want,
    struct ipc_msg *a)
{
	int rv;

	rv = duro_send_msg(d, q);
	if (rv == DURO_ERANGE || rv == DURO_ENOMEM)
		return (rv); /* nothing was sent */
	if (rv != 0 || (rv = duro_recv_msg(d, a)) != 0)
		return (ws_broken(d, rv));
	if (a->type != want) {
		fprintf(stderr,
		    "duro: durod sent \"%s\" while a %s waited for its %s\n",
		    a->type_name, ipc_type_name(q->type), ipc_type_name(want));
		ipc_recv_done(a);
		return (ws_broken(d, DURO_EPROTO));
	}
	return (0);
}

int
duro_ws_get_attachment(struct duro *d, uint64_t conn, void **data, size_t *len)
{
	struct ipc_msg q, a;
	int rv;

	if (data == NULL || len == NULL)
		return (DURO_EINVAL);
	*data = NULL;
	*len = 0;
	if ((rv = ws_enter(d)) != 0)
		return (rv);
	if (!ws_conn_ok(conn))
		return (DURO_EINVAL);
	memset(&q, 0, sizeof(q));
	q.type = IPC_WS_GET;
	q.conn = conn;
	if ((rv = ws_ask(d, &q, IPC_WS_INFO, &a)) != 0)
		return (rv);
	if (a.conn != conn) {
		fprintf(stderr,
		    "duro: ws_info for connection %llu answers a ws_get for "
		    "%llu\n",
		    (unsigned long long)a.conn, (unsigned long long)conn);
		rv = ws_broken(d, DURO_EPROTO);
	} else if (!a.found)
		rv = DURO_ENOENT;
	else if (a.body_len > 0 && (*data = malloc(a.body_len)) == NULL)
		rv = DURO_ENOMEM;
	else if (a.body_len > 0) {
		memcpy(*data, a.body, a.body_len);
		*len = a.body_len;
	}
	ipc_recv_done(&a);
	return (rv);
}

/* Append a page of ws_list_result to the caller's array; partial on
 * failure. */
static int
ws_list_copy(const struct ipc_msg *a, struct duro_ws_info **out, size_t *n)
{
	struct duro_ws_info *v;
	size_t base = *n;

	if (a->nconns == 0)
		return (0);
	if ((v = reallocarray(*out, base + a->nconns, sizeof(*v))) == NULL)
		return (DURO_ENOMEM);
	/* Zeroed entries free as empty ones. */
	memset(v + base, 0, a->nconns * sizeof(*v));
	*out = v;
	*n = base + a->nconns;
	v += base;
	for (size_t i = 0; i < a->nconns; i++) {
		const struct ipc_ws_conn *c = &a->conns[i];
		v[i].conn = c->conn;
		v[i].auto_ms = c->auto_ms != 0 ? (int64_t)c->auto_ms : -1;
		if (c->ntags > 0 &&
		    (v[i].tags = calloc(c->ntags, sizeof(char *))) == NULL)
			return (DURO_ENOMEM);
		for (; v[i].ntags < c->ntags; v[i].ntags++)
			if ((v[i].tags[v[i].ntags] =
			            strdup(c->tags[v[i].ntags])) == NULL)
				return (DURO_ENOMEM);
	}
	return (0);
}

int
duro_ws_list(
    struct duro *d, const char *tag, struct duro_ws_info **out, size_t *n)
{
	struct ipc_msg q, a;
	int rv, more;

	if (out == NULL || n == NULL)
		return (DURO_EINVAL);
	*out = NULL;
	*n = 0;
	if ((rv = ws_enter(d)) != 0)
		return (rv);
	if (tag != NULL && !ws_string_ok(tag, 1, DURO_WS_TAG_MAX))
		return (DURO_EINVAL);
	/* durod answers in pages that fit a frame's header: ask again
	 * after the last connection while it says there is more. */
	memset(&q, 0, sizeof(q));
	q.type = IPC_WS_LIST;
	q.tag = tag;
	do {
		if ((rv = ws_ask(d, &q, IPC_WS_LIST_RESULT, &a)) != 0)
			return (rv);
		more = a.more && a.nconns > 0;
		if (a.nconns > 0)
			q.after = a.conns[a.nconns - 1].conn;
		rv = ws_list_copy(&a, out, n);
		ipc_recv_done(&a);
	} while (rv == 0 && more);
	return (rv);
}

void
duro_ws_list_free(struct duro_ws_info *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		ws_tags_free(v[i].tags, v[i].ntags);
	free(v);
}
