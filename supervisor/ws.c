/*
 * ws.c — WebSockets on durod's side: rooms of connections that outlive
 * their object's worker (ipc/PROTOCOL.md section 15).
 *
 * An upgrade is an ordinary request with two more fields; a 101 answer
 * makes durod take the client's socket from the gateway and hand it to a
 * WebSocket engine (ws_conn.c). From then on the connection is a *peer*
 * in its object's *room*, which lives in durod's own table, not in the
 * object: the worker may hibernate, crash or be replaced and the peers stay
 * open. Each message becomes a ws_message event in the object's queue
 * (waking it if needed); a client's close becomes a ws_close event. The
 * worker acts on peers with messages while an event is in flight; the
 * queries among them (ws_list, ws_get) are answered at once.
 *
 * A room goes when its object is deleted, or when it has no peer and no
 * auto-response left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "durod.h"
#include "ws_conn.h"

#define WS_MAX_PEERS 32768
#define WS_MAX_MESSAGE (32u * 1024 * 1024)
#define WS_MAX_PENDING (4u * 1024 * 1024)
#define LIST_PAGE_BYTES (192 * 1024) /* of a frame's 256 KiB header */

struct ws_peer {
	uint64_t id;
	struct durod *d;
	struct ws_room *room;
	struct ws_conn *conn;
	char **tags;
	size_t ntags;
	uint8_t *att;
	size_t att_len;
	int64_t auto_ms;   /* last auto-response, or -1 */
	int quiet;         /* closed by the object or durod: no ws_close */
	UT_hash_handle hh; /* d->ws_peers, by id */
	TAILQ_ENTRY(ws_peer) entry;
};

struct ws_room {
	char key[64 + DURO_ID_BYTES]; /* as struct object's */
	char ns[65];
	uint8_t id[DURO_ID_BYTES];
	char *name;
	TAILQ_HEAD(, ws_peer) peers;
	size_t npeers;
	char *auto_req, *auto_resp;
	UT_hash_handle hh; /* d->ws_rooms */
};

/* A message for the upgrade's connection, sent before its 101 (the
 * accepting handler's output-gated sends): held until the peer exists. */
struct ws_pending {
	int binary;
	size_t len;
	struct ws_pending *next;
	uint8_t data[];
};

/* ---- rooms and peers ---- */

static void
room_key(char key[64 + DURO_ID_BYTES], const char *ns, const uint8_t *id)
{
	memset(key, 0, 64);
	snprintf(key, 64, "%s", ns);
	memcpy(key + 64, id, DURO_ID_BYTES);
}

static struct ws_room *
room_find(struct durod *d, const char *ns, const uint8_t *id)
{
	char key[64 + DURO_ID_BYTES];
	struct ws_room *rm;

	room_key(key, ns, id);
	HASH_FIND(hh, d->ws_rooms, key, sizeof(key), rm);
	return (rm);
}

static struct ws_room *
room_get(struct durod *d, const struct object *o)
{
	struct ws_room *rm = room_find(d, o->ns->cfg->name, o->id);

	if (rm != NULL)
		return (rm);
	if ((rm = calloc(1, sizeof(*rm))) == NULL ||
	    (o->name != NULL && (rm->name = strdup(o->name)) == NULL)) {
		free(rm);
		return (NULL);
	}
	room_key(rm->key, o->ns->cfg->name, o->id);
	snprintf(rm->ns, sizeof(rm->ns), "%s", o->ns->cfg->name);
	memcpy(rm->id, o->id, DURO_ID_BYTES);
	TAILQ_INIT(&rm->peers);
	HASH_ADD(hh, d->ws_rooms, key, sizeof(rm->key), rm);
	return (rm);
}

static void
room_free(struct durod *d, struct ws_room *rm)
{
	HASH_DEL(d->ws_rooms, rm);
	free(rm->auto_req);
	free(rm->auto_resp);
	free(rm->name);
	free(rm);
}

/* A room with nothing left to keep goes. */
static void
room_maybe_free(struct durod *d, struct ws_room *rm)
{
	if (rm->npeers == 0 && rm->auto_req == NULL)
		room_free(d, rm);
}

static void
peer_free(struct ws_peer *p)
{
	struct durod *d = p->d;

	HASH_DEL(d->ws_peers, p);
	TAILQ_REMOVE(&p->room->peers, p, entry);
	p->room->npeers--;
	d->nws--;
	for (size_t i = 0; i < p->ntags; i++)
		free(p->tags[i]);
	free(p->tags);
	free(p->att);
	free(p);
}

static struct ws_peer *
peer_byid(struct durod *d, uint64_t id)
{
	struct ws_peer *p;

	HASH_FIND(hh, d->ws_peers, &id, sizeof(id), p);
	return (p);
}

static int
peer_has_tag(const struct ws_peer *p, const char *tag)
{
	for (size_t i = 0; i < p->ntags; i++)
		if (strcmp(p->tags[i], tag) == 0)
			return (1);
	return (0);
}

/* ---- events to the object ---- */

/* Queue an event about peer p's connection on its object. */
static void
ws_deliver(struct durod *d, struct ws_room *rm, struct ws_event *ev)
{
	const struct namespace *ns = durod_ns_byname(d, rm->ns, strlen(rm->ns));
	struct request *r;

	if (ns == NULL || (r = calloc(1, sizeof(*r))) == NULL) {
		ws_event_free(ev);
		return;
	}
	r->ws = ev;
	r->received = ev_now(d->loop);
	r->path = "";
	r->query = "";
	object_dispatch(d, ns, rm->id, rm->name, r);
}

static struct ws_event *
ws_event_new(const struct ws_peer *p, enum ws_event_kind kind)
{
	struct ws_event *ev = calloc(1, sizeof(*ev));

	if (ev != NULL) {
		ev->d = p->d;
		ev->kind = kind;
		ev->conn = p->id;
	}
	return (ev);
}

void
ws_event_free(struct ws_event *ev)
{
	if (ev != NULL)
		free(ev->data);
	free(ev);
}

/* A text message equal to the room's auto-response request: answered by
 * durod, the object is not woken. */
static int
auto_answer(struct ws_peer *p, int binary, const uint8_t *data, size_t len)
{
	const struct ws_room *rm = p->room;

	if (binary || rm->auto_req == NULL || strlen(rm->auto_req) != len ||
	    memcmp(rm->auto_req, data, len) != 0)
		return (0);
	p->auto_ms = (int64_t)(ev_time() * 1000);
	(void)ws_conn_send(p->conn, 0, rm->auto_resp, strlen(rm->auto_resp));
	return (1);
}

static void
peer_message_cb(void *arg, int binary, const uint8_t *data, size_t len)
{
	struct ws_peer *p = arg;
	struct ws_event *ev;

	if (auto_answer(p, binary, data, len))
		return;
	if ((ev = ws_event_new(p, WS_EV_MESSAGE)) == NULL ||
	    (len > 0 && (ev->data = malloc(len)) == NULL)) {
		ws_event_free(ev);
		ws_conn_close(p->conn, 1011, "out of memory");
		return;
	}
	ev->binary = binary;
	ev->len = len;
	if (len > 0)
		memcpy(ev->data, data, len);
	ws_deliver(p->d, p->room, ev);
}

static void
peer_closed_cb(void *arg, int code, const char *reason, int clean)
{
	struct ws_peer *p = arg;
	struct durod *d = p->d;
	struct ws_room *rm = p->room;
	struct ws_event *ev = NULL;

	if (!p->quiet && (ev = ws_event_new(p, WS_EV_CLOSE)) != NULL) {
		ev->code = code;
		ev->clean = clean;
		snprintf(ev->reason, sizeof(ev->reason), "%s",
		    reason != NULL ? reason : "");
	}
	p->conn = NULL; /* freed by the engine after we return */
	peer_free(p);
	if (ev != NULL)
		ws_deliver(d, rm, ev);
	room_maybe_free(d, rm);
	durod_check_drained(d);
}

static const struct ws_conn_ops peer_ops = {peer_message_cb, peer_closed_cb};

/* ---- the upgrade ---- */

static const char *
upgrade_header(void *arg, const char *name)
{
	return (http_request_header(arg, name));
}

int
ws_upgrade_check(struct durod *d, const struct namespace *ns,
    const uint8_t id[DURO_ID_BYTES], struct request *r)
{
	struct ws_room *rm = room_find(d, ns->cfg->name, id);
	char err[128];
	int rv;

	if (!ws_handshake_wanted(upgrade_header, r->http))
		return (0); /* another protocol: an ordinary request */
	if (strcmp(r->http->method, "GET") != 0) {
		request_error(
		    r, 400, "bad_upgrade", "a WebSocket upgrade is a GET");
		return (-1);
	}
	rv = ws_handshake_accept(
	    upgrade_header, r->http, r->ws_accept, err, sizeof(err));
	if (rv == -2) {
		static const struct ipc_header h[] = {
		    {"Content-Type", "application/json"},
		    {"Sec-WebSocket-Version", "13"}};
		static const char body[] = "{\"error\":\"bad_upgrade\","
		                           "\"message\":\"WebSocket version 13 "
		                           "only\"}";
		request_respond(
		    r, 426, h, 2, (const uint8_t *)body, sizeof(body) - 1);
		return (-1);
	}
	if (rv != 0) {
		request_error(r, 400, "bad_upgrade",
		    "not a valid WebSocket upgrade: %s", err);
		return (-1);
	}
	if (rm != NULL && rm->npeers >= WS_MAX_PEERS) {
		request_error_retry(r, 503, 1, "too_many_websockets",
		    "the object has %d WebSocket connections", WS_MAX_PEERS);
		return (-1);
	}
	r->ws_conn = ++d->next_ws_id;
	return (0);
}

int
ws_pending_add(struct request *r, int binary, const void *data, size_t len)
{
	struct ws_pending *pm, **tail;

	if ((pm = malloc(sizeof(*pm) + len)) == NULL)
		return (-1);
	pm->binary = binary;
	pm->len = len;
	pm->next = NULL;
	memcpy(pm->data, data, len);
	for (tail = &r->ws_pending; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = pm;
	return (0);
}

void
ws_pending_free(struct request *r)
{
	struct ws_pending *pm, *next;

	for (pm = r->ws_pending; pm != NULL; pm = next) {
		next = pm->next;
		free(pm);
	}
	r->ws_pending = NULL;
}

/* The 101 head: the worker's headers, then the handshake's own. */
static char *
upgrade_head(const struct request *r, const struct ipc_msg *m, size_t *len)
{
	size_t cap = 256;
	char *h, *p;

	for (size_t i = 0; i < m->nheaders; i++)
		cap += strlen(m->headers[i].name) +
		       strlen(m->headers[i].value) + 4;
	if ((h = malloc(cap)) == NULL)
		return (NULL);
	p = h + sprintf(h, "HTTP/1.1 101 Switching Protocols\r\n");
	for (size_t i = 0; i < m->nheaders; i++) {
		const struct ipc_header *x = &m->headers[i];
		if (!ipc_is_token(x->name) || !ipc_is_header_value(x->value) ||
		    strcasecmp(x->name, "Upgrade") == 0 ||
		    strcasecmp(x->name, "Connection") == 0 ||
		    strcasecmp(x->name, "Sec-WebSocket-Accept") == 0 ||
		    strcasecmp(x->name, "Content-Length") == 0 ||
		    strcasecmp(x->name, "Transfer-Encoding") == 0)
			continue;
		p += sprintf(p, "%s: %s\r\n", x->name, x->value);
	}
	p += sprintf(p,
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n",
	    r->ws_accept);
	*len = (size_t)(p - h);
	return (h);
}

/* The worker accepted: the connection becomes a peer of the room. */
void
ws_accept(struct object *o, struct request *r, const struct ipc_msg *m)
{
	static const struct ws_conn_limits lim = {
	    WS_MAX_MESSAGE, WS_MAX_PENDING};
	struct durod *d = o->d;
	struct ws_pending *pending = r->ws_pending;
	struct ws_room *rm = room_get(d, o);
	struct ws_peer *p = calloc(1, sizeof(*p));
	char *head = NULL, *in = NULL, *out = NULL, *both = NULL;
	size_t headlen = 0, inlen = 0, outlen = 0;
	uint64_t id = r->ws_conn;
	int fd;

	r->ws_pending = NULL;
	if (rm == NULL || p == NULL ||
	    (p->tags = calloc(m->ntags + 1, sizeof(*p->tags))) == NULL ||
	    (head = upgrade_head(r, m, &headlen)) == NULL) {
		request_error(r, 500, "internal", "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < m->ntags; i++)
		if ((p->tags[p->ntags++] = strdup(m->tags[i])) == NULL) {
			request_error(r, 500, "internal", "out of memory");
			goto fail;
		}
	if (request_take_socket(r, &fd, &in, &inlen, &out, &outlen) != 0)
		goto fail; /* the client went away meanwhile */
	if ((both = malloc(outlen + headlen + 1)) != NULL) {
		memcpy(both, out, outlen);
		memcpy(both + outlen, head, headlen);
	}
	p->id = id;
	p->d = d;
	p->room = rm;
	p->auto_ms = -1;
	if (both == NULL ||
	    (p->conn = ws_conn_open(d->loop, fd, both, outlen + headlen, in,
	         inlen, &lim, &peer_ops, p)) == NULL) {
		close(fd);
		goto fail;
	}
	HASH_ADD(hh, d->ws_peers, id, sizeof(p->id), p);
	TAILQ_INSERT_TAIL(&rm->peers, p, entry);
	rm->npeers++;
	d->nws++;
	for (struct ws_pending *pm = pending; pm != NULL; pm = pm->next)
		(void)ws_conn_send(p->conn, pm->binary, pm->data, pm->len);
	p = NULL;
fail:
	if (p != NULL) {
		for (size_t i = 0; i < p->ntags; i++)
			free(p->tags[i]);
		free(p->tags);
		free(p);
	}
	if (rm != NULL)
		room_maybe_free(d, rm);
	r = NULL;
	while (pending != NULL) {
		struct ws_pending *next = pending->next;
		free(pending);
		pending = next;
	}
	free(head);
	free(in);
	free(out);
	free(both);
}

/* ---- actions from the worker ---- */

static void
peer_send(struct ws_peer *p, int binary, const void *data, size_t len)
{
	if (p->conn != NULL)
		(void)ws_conn_send(p->conn, binary, data, len);
}

static int
ws_send_action(struct object *o, const struct ipc_msg *m)
{
	struct ws_peer *p = peer_byid(o->d, m->conn);
	struct request *r = o->inflight;

	if (p != NULL && p->room == room_find(o->d, o->ns->cfg->name, o->id)) {
		peer_send(p, m->binary, m->body, m->body_len);
		return (0);
	}
	/* The upgrade in flight: its connection exists after the 101. */
	if (r != NULL && r->ws_conn != 0 && m->conn == r->ws_conn &&
	    ws_pending_add(r, m->binary, m->body, m->body_len) != 0)
		log_warn("object %s/%s: ws_send: out of memory",
		    o->ns->cfg->name, o->idhex);
	return (0); /* a connection gone meanwhile: ignored */
}

static void
ws_broadcast_action(struct object *o, const struct ipc_msg *m)
{
	struct ws_room *rm = room_find(o->d, o->ns->cfg->name, o->id);
	struct ws_peer *p;

	if (rm == NULL)
		return;
	TAILQ_FOREACH (p, &rm->peers, entry)
		if (m->tag == NULL || peer_has_tag(p, m->tag))
			peer_send(p, m->binary, m->body, m->body_len);
}

/* The peer, if it belongs to o's room. */
static struct ws_peer *
peer_of(struct object *o, uint64_t id)
{
	struct ws_peer *p = peer_byid(o->d, id);

	if (p == NULL || strcmp(p->room->ns, o->ns->cfg->name) != 0 ||
	    memcmp(p->room->id, o->id, DURO_ID_BYTES) != 0)
		return (NULL);
	return (p);
}

static int
ws_auto_action(struct object *o, const struct ipc_msg *m)
{
	struct ws_room *rm;
	char *req = NULL, *resp = NULL;

	if ((rm = room_get(o->d, o)) == NULL)
		return (-1);
	if (m->auto_request[0] != '\0' &&
	    ((req = strdup(m->auto_request)) == NULL ||
	        (resp = strdup(m->auto_response)) == NULL)) {
		free(req);
		room_maybe_free(o->d, rm);
		return (-1);
	}
	free(rm->auto_req);
	free(rm->auto_resp);
	rm->auto_req = req;
	rm->auto_resp = resp;
	room_maybe_free(o->d, rm);
	return (0);
}

static int
ws_attach_action(struct object *o, const struct ipc_msg *m)
{
	struct ws_peer *p = peer_of(o, m->conn);
	uint8_t *a = NULL;

	if (p == NULL)
		return (0);
	if (m->body_len > 0 && (a = malloc(m->body_len)) == NULL)
		return (-1);
	if (a != NULL)
		memcpy(a, m->body, m->body_len);
	free(p->att);
	p->att = a;
	p->att_len = m->body_len;
	return (0);
}

/* What a peer costs in a ws_list_result, at most (JSON escapes a tag's
 * byte into up to 6). */
static size_t
peer_list_bytes(const struct ws_peer *p)
{
	size_t n = 64;

	for (size_t i = 0; i < p->ntags; i++)
		n += strlen(p->tags[i]) * 6 + 4;
	return (n);
}

static int
ws_list_answer(struct object *o, const struct ipc_msg *q)
{
	struct ws_room *rm = room_find(o->d, o->ns->cfg->name, o->id);
	struct ipc_ws_conn *v = NULL;
	struct ws_peer *p;
	struct ipc_msg m;
	size_t n = 0, bytes = 0;
	int rv;

	if (rm != NULL && rm->npeers > 0 &&
	    (v = calloc(rm->npeers, sizeof(*v))) == NULL)
		return (-1);
	memset(&m, 0, sizeof(m));
	/* Peers are in id order (ids only grow): a page is the next ones
	 * after q->after that fit a frame's header, LIST_PAGE_BYTES. */
	if (rm != NULL)
		TAILQ_FOREACH (p, &rm->peers, entry) {
			if (p->id <= q->after ||
			    (q->tag != NULL && !peer_has_tag(p, q->tag)))
				continue;
			if ((bytes += peer_list_bytes(p)) > LIST_PAGE_BYTES) {
				m.more = 1;
				break;
			}
			v[n].conn = p->id;
			v[n].tags = (const char **)p->tags;
			v[n].ntags = p->ntags;
			v[n].auto_ms =
			    p->auto_ms > 0 ? (uint64_t)p->auto_ms : 0;
			n++;
		}
	m.type = IPC_WS_LIST_RESULT;
	m.conns = v;
	m.nconns = n;
	rv = worker_ipc_send(o, &m);
	free(v);
	return (rv == 0 ? 0 : -1);
}

static int
ws_get_answer(struct object *o, const struct ipc_msg *q)
{
	struct ws_peer *p = peer_of(o, q->conn);
	struct ipc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = IPC_WS_INFO;
	m.conn = q->conn;
	if (p != NULL) {
		m.found = 1;
		m.tags = (const char **)p->tags;
		m.ntags = p->ntags;
		m.auto_ms = p->auto_ms > 0 ? (uint64_t)p->auto_ms : 0;
		m.body = p->att;
		m.body_len = p->att_len;
	}
	return (worker_ipc_send(o, &m) == 0 ? 0 : -1);
}

int
ws_on_action(struct object *o, const struct ipc_msg *m)
{
	struct ws_peer *p;

	switch (m->type) {
	case IPC_WS_SEND:
		return (ws_send_action(o, m));
	case IPC_WS_BROADCAST:
		ws_broadcast_action(o, m);
		return (0);
	case IPC_WS_CLOSE:
		if ((p = peer_of(o, m->conn)) != NULL && p->conn != NULL) {
			p->quiet = 1;
			ws_conn_close(p->conn, m->close_code, m->reason);
		}
		return (0);
	case IPC_WS_ATTACH:
		return (ws_attach_action(o, m));
	case IPC_WS_AUTO:
		return (ws_auto_action(o, m));
	case IPC_WS_LIST:
		return (ws_list_answer(o, m));
	case IPC_WS_GET:
		return (ws_get_answer(o, m));
	default:
		return (-1);
	}
}

/* ---- the end of an event ---- */

static void
ws_event_close(
    struct durod *d, const struct ws_event *ev, int code, const char *why)
{
	struct ws_peer *p;

	if (ev->kind != WS_EV_MESSAGE || (p = peer_byid(d, ev->conn)) == NULL ||
	    p->conn == NULL)
		return;
	p->quiet = 1;
	ws_conn_close(p->conn, code, why);
}

void
ws_event_failed(
    struct request *r, int status, const char *code, const char *msg)
{
	struct durod *d = r->ws->d;

	/*
	 * The object could not take the message. Busy (queue full,
	 * backoff): the client should slow down, 1013. A worker that cannot
	 * handle WebSocket events at all: 1011. A handler that failed, a
	 * crash or a timeout lose this one message (logged) but keep the
	 * connection: a crash must not drop the room.
	 */
	if (status == 429 || status == 503)
		ws_event_close(d, r->ws, 1013, "the object is busy");
	else if (strcmp(code, "unsupported") == 0)
		ws_event_close(d, r->ws, 1011,
		    "the object does not take WebSocket events");
	else if (r->ws->kind == WS_EV_MESSAGE)
		log_warn("websocket %llu: a message was lost: %d %s: %s",
		    (unsigned long long)r->ws->conn, status, code, msg);
	ws_event_free(r->ws);
	free(r);
}

void
ws_event_done(struct object *o, struct request *r, const struct ipc_msg *m)
{
	if (m->type == IPC_ERROR) {
		ws_event_failed(r, 500, m->code, m->message);
		return;
	}
	alarm_apply(o, m);
	ws_event_free(r->ws);
	free(r);
}

/* ---- closing rooms ---- */

static void
room_close_all(struct durod *d, struct ws_room *rm, int code, const char *why)
{
	struct ws_peer *p, *next;

	for (p = TAILQ_FIRST(&rm->peers); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		p->quiet = 1;
		if (p->conn != NULL)
			ws_conn_close(p->conn, code, why);
	}
}

void
ws_object_gone(struct durod *d, const char *ns, const uint8_t *id)
{
	struct ws_room *rm = room_find(d, ns, id);

	if (rm == NULL)
		return;
	room_close_all(d, rm, 1001, "the object was deleted");
	free(rm->auto_req);
	free(rm->auto_resp);
	rm->auto_req = rm->auto_resp = NULL;
	room_maybe_free(d, rm);
}

void
ws_close_all(struct durod *d, int code, const char *why, int only_removed)
{
	struct ws_room *rm, *tmp;

	HASH_ITER (hh, d->ws_rooms, rm, tmp) {
		if (only_removed &&
		    durod_ns_byname(d, rm->ns, strlen(rm->ns)) != NULL)
			continue;
		room_close_all(d, rm, code, why);
	}
}

void
ws_free_all(struct durod *d)
{
	struct ws_peer *p, *ptmp;
	struct ws_room *rm, *tmp;

	HASH_ITER (hh, d->ws_peers, p, ptmp) {
		if (p->conn != NULL)
			ws_conn_free(p->conn);
		p->conn = NULL;
		peer_free(p);
	}
	HASH_ITER (hh, d->ws_rooms, rm, tmp)
		room_free(d, rm);
}

void
ws_count(const struct durod *d, void (*f)(void *, const char *ns, size_t n),
    void *arg)
{
	struct ws_room *rm, *tmp;

	HASH_ITER (hh, d->ws_rooms, rm, tmp)
		if (rm->npeers > 0)
			f(arg, rm->ns, rm->npeers);
}
