/*
 * test_ws_conn.c — the WebSocket handshake checks and one connection's
 * engine, over a socketpair. The client side is a wslay client context on
 * the same libev loop; malformed frames are built by hand and written
 * raw.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <wslay/wslay.h>

#include "../../supervisor/ws_conn.h"

#define HEAD                                                                   \
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"           \
	"Connection: Upgrade\r\n"                                              \
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
#define MAX_MSGS 64
#define WAIT_S 5.0       /* the longest any condition may take */
#define CLOSE_WAIT_S 0.5 /* the engine's close timeout in these tests */

/* ---- handshake ---- */

struct hdr {
	const char *name, *value;
};

static const char *
hdr_lookup(void *arg, const char *name)
{
	for (const struct hdr *h = arg; h->name != NULL; h++)
		if (strcasecmp(h->name, name) == 0)
			return (h->value);
	return (NULL);
}

static int
accept_with(const char *upgrade, const char *connection, const char *key,
    const char *version, char accept[WS_ACCEPT_LEN])
{
	struct hdr h[5];
	size_t n = 0;
	char err[128] = "";
	int rv;

	if (upgrade != NULL)
		h[n++] = (struct hdr){"Upgrade", upgrade};
	if (connection != NULL)
		h[n++] = (struct hdr){"Connection", connection};
	if (key != NULL)
		h[n++] = (struct hdr){"Sec-WebSocket-Key", key};
	if (version != NULL)
		h[n++] = (struct hdr){"Sec-WebSocket-Version", version};
	h[n] = (struct hdr){NULL, NULL};
	rv = ws_handshake_accept(hdr_lookup, h, accept, err, sizeof(err));
	if (rv != 0)
		assert_true(err[0] != '\0');
	return (rv);
}

static void
test_handshake_rfc_example(void **state)
{
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	char acc[WS_ACCEPT_LEN];

	assert_int_equal(
	    accept_with("websocket", "Upgrade", key, "13", acc), 0);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	/* Token lists, any case, whitespace around values. */
	memset(acc, 0, sizeof(acc));
	assert_int_equal(accept_with("WebSocket", "keep-alive, Upgrade",
	                     " dGhlIHNhbXBsZSBub25jZQ== ", " 13", acc),
	    0);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(
	    accept_with("h2c,  websocket ", "upgrade,close", key, "13", acc),
	    0);
}

static void
test_handshake_bad(void **state)
{
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	char acc[WS_ACCEPT_LEN];
	struct hdr none[] = {{"Host", "x"}, {NULL, NULL}};
	struct hdr up[] = {{"Upgrade", "websocket"}, {NULL, NULL}};

	assert_int_equal(accept_with(NULL, "Upgrade", key, "13", acc), -1);
	assert_int_equal(accept_with("h2c", "Upgrade", key, "13", acc), -1);
	assert_int_equal(
	    accept_with("websockets", "Upgrade", key, "13", acc), -1);
	assert_int_equal(accept_with("websocket", NULL, key, "13", acc), -1);
	assert_int_equal(
	    accept_with("websocket", "keep-alive", key, "13", acc), -1);
	assert_int_equal(
	    accept_with("websocket", "Upgrade", NULL, "13", acc), -1);
	/* 15 bytes, 17 bytes, no padding, '=' inside, bad character. */
	assert_int_equal(accept_with("websocket", "Upgrade",
	                     "dGhlIHNhbXBsZSBub25jZQ=", "13", acc),
	    -1);
	assert_int_equal(accept_with("websocket", "Upgrade",
	                     "dGhlIHNhbXBsZSBub25jZQ", "13", acc),
	    -1);
	assert_int_equal(accept_with("websocket", "Upgrade",
	                     "dGhlIHNhbXBsZSBub25jZXg=", "13", acc),
	    -1);
	assert_int_equal(accept_with("websocket", "Upgrade",
	                     "dGhlIHNhbXBsZSBub=5jZQ==", "13", acc),
	    -1);
	assert_int_equal(accept_with("websocket", "Upgrade",
	                     "dGhlIHNhbXBsZSBub!5jZQ==", "13", acc),
	    -1);
	assert_int_equal(
	    accept_with("websocket", "Upgrade", "", "13", acc), -1);
	/* Only the version wrong: -2 (426). */
	assert_int_equal(
	    accept_with("websocket", "Upgrade", key, "8", acc), -2);
	assert_int_equal(
	    accept_with("websocket", "Upgrade", key, "13, 8", acc), -2);
	assert_int_equal(
	    accept_with("websocket", "Upgrade", key, NULL, acc), -2);
	/* A bad key wins over a bad version: that is a 400. */
	assert_int_equal(
	    accept_with("websocket", "Upgrade", "x", "8", acc), -1);

	assert_int_equal(ws_handshake_wanted(hdr_lookup, none), 0);
	assert_int_equal(ws_handshake_wanted(hdr_lookup, up), 1);
}

/* ---- the client side: a wslay client on the loop ---- */

struct rmsg {
	int opcode;
	size_t len;
	uint8_t *data;
};

struct peer {
	struct ev_loop *loop;
	int fd;
	ev_io read_w, write_w;
	wslay_event_context_ptr ctx;
	char head[sizeof(HEAD)];
	size_t headgot;
	int head_ok;
	int paused; /* reads nothing: a slow reader */
	int eof;
	struct rmsg msgs[MAX_MSGS]; /* the first MAX_MSGS received */
	size_t nmsgs, nbytes;
	int got_close, close_code;
	char close_reason[128];
};

/* ---- the server side: the ws_conn under test ---- */

struct server {
	struct ws_conn *c;
	int echo, free_on_message, close_on_message;
	size_t nmsgs;
	int last_binary;
	uint8_t last[256];
	size_t lastlen;
	int in_api; /* a ws_conn_* call is running: closed() must wait */
	int closed, code, clean;
	char reason[128];
};

struct fixture {
	struct ev_loop *loop;
	int tcp;
	struct peer p;
	struct server s;
};

static ssize_t
peer_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *user)
{
	struct peer *p = user;
	ssize_t n = recv(p->fd, buf, len, 0);

	if (n > 0)
		return (n);
	if (n < 0 && errno == EAGAIN) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return (-1);
	}
	p->eof = 1;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return (-1);
}

static ssize_t
peer_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *user)
{
	struct peer *p = user;
	ssize_t n = send(p->fd, data, len, MSG_NOSIGNAL);

	if (n > 0)
		return (n);
	wslay_event_set_error(ctx, n < 0 && errno == EAGAIN
	                               ? WSLAY_ERR_WOULDBLOCK
	                               : WSLAY_ERR_CALLBACK_FAILURE);
	return (-1);
}

static int
peer_genmask_cb(
    wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

	for (size_t i = 0; i < len; i++)
		buf[i] = key[i % 4];
	return (0);
}

static void
peer_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *user)
{
	struct peer *p = user;
	struct rmsg *r;

	if (m->opcode == WSLAY_CONNECTION_CLOSE) {
		p->got_close = 1;
		p->close_code = m->status_code;
		snprintf(p->close_reason, sizeof(p->close_reason), "%.*s",
		    m->msg_length > 2 ? (int)m->msg_length - 2 : 0,
		    m->msg_length > 2 ? (const char *)m->msg + 2 : "");
		return;
	}
	p->nbytes += m->msg_length;
	if (p->nmsgs++ >= MAX_MSGS)
		return;
	r = &p->msgs[p->nmsgs - 1];
	r->opcode = m->opcode;
	r->len = m->msg_length;
	r->data = malloc(m->msg_length + 1);
	assert_non_null(r->data);
	if (m->msg_length > 0)
		memcpy(r->data, m->msg, m->msg_length);
}

static const struct wslay_event_callbacks peer_callbacks = {
    .recv_callback = peer_recv_cb,
    .send_callback = peer_send_cb,
    .genmask_callback = peer_genmask_cb,
    .on_msg_recv_callback = peer_msg_cb,
};

static void
io_set(struct ev_loop *loop, ev_io *w, int on)
{
	if (on && !ev_is_active(w))
		ev_io_start(loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(loop, w);
}

static void
peer_hangup(struct peer *p)
{
	if (p->fd == -1)
		return;
	ev_io_stop(p->loop, &p->read_w);
	ev_io_stop(p->loop, &p->write_w);
	close(p->fd);
	p->fd = -1;
}

/* A client closes its end once the close handshake is over (or it broke),
 * like a browser does when it sees the server's FIN. */
static void
peer_update(struct peer *p)
{
	int rd, wr;

	if (p->fd == -1)
		return;
	rd = p->headgot < sizeof(HEAD) - 1 || wslay_event_want_read(p->ctx);
	wr = wslay_event_want_write(p->ctx);
	if (p->eof || (!rd && !wr)) {
		peer_hangup(p);
		return;
	}
	io_set(p->loop, &p->read_w, rd && !p->paused);
	io_set(p->loop, &p->write_w, wr);
}

static void
peer_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct peer *p = w->data;
	size_t want = sizeof(HEAD) - 1;
	ssize_t n;

	/* The 101 first, byte for byte, before any frame. */
	if (p->headgot < want) {
		n = recv(p->fd, p->head + p->headgot, want - p->headgot, 0);
		if (n > 0)
			p->headgot += n;
		else if (n == 0 || errno != EAGAIN)
			p->eof = 1;
		if (p->headgot == want)
			p->head_ok = memcmp(p->head, HEAD, want) == 0;
	} else if (wslay_event_recv(p->ctx) != 0)
		p->eof = 1;
	peer_update(p);
}

static void
peer_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct peer *p = w->data;

	if (wslay_event_send(p->ctx) != 0)
		p->eof = 1;
	peer_update(p);
}

static void
peer_send(struct peer *p, int opcode, const void *data, size_t len)
{
	struct wslay_event_msg m = {opcode, data, len};

	assert_int_equal(wslay_event_queue_msg(p->ctx, &m), 0);
	peer_update(p);
}

/* Hand-built frames for what a wslay client would never send. */
static void
peer_raw(struct peer *p, const void *data, size_t len)
{
	assert_int_equal(send(p->fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* A masked frame: b0 is FIN, RSV and opcode; payload under 126 bytes. */
static size_t
frame(uint8_t *out, uint8_t b0, const void *payload, size_t len)
{
	static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
	const uint8_t *pl = payload;

	assert_true(len < 126);
	out[0] = b0;
	out[1] = 0x80 | (uint8_t)len;
	memcpy(out + 2, key, 4);
	for (size_t i = 0; i < len; i++)
		out[6 + i] = pl[i] ^ key[i % 4];
	return (6 + len);
}

static void
peer_frame(struct peer *p, uint8_t b0, const void *payload, size_t len)
{
	uint8_t buf[6 + 125];

	peer_raw(p, buf, frame(buf, b0, payload, len));
}

/* ---- the server's callbacks ---- */

static void
srv_message(void *arg, int binary, const uint8_t *data, size_t len)
{
	struct server *s = arg;

	assert_non_null(data);
	s->nmsgs++;
	s->last_binary = binary;
	s->lastlen = len < sizeof(s->last) ? len : sizeof(s->last);
	memcpy(s->last, data, s->lastlen);
	if (s->free_on_message) {
		ws_conn_free(s->c);
		s->c = NULL;
		return;
	}
	if (s->close_on_message) {
		ws_conn_close(s->c, WS_CODE_NORMAL, "enough");
		return;
	}
	if (s->echo)
		assert_int_equal(ws_conn_send(s->c, binary, data, len), 0);
}

static void
srv_closed(void *arg, int code, const char *reason, int clean)
{
	struct server *s = arg;

	assert_false(s->in_api);
	assert_int_equal(s->closed, 0);
	s->closed = 1;
	s->code = code;
	s->clean = clean;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	s->c = NULL;
}

static const struct ws_conn_ops srv_ops = {srv_message, srv_closed};

/* ---- running the loop ---- */

static void
wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static int
run_until(struct fixture *f, int (*cond)(struct fixture *))
{
	ev_timer t;
	ev_tstamp end = ev_time() + WAIT_S;

	ev_timer_init(&t, wake_cb, WAIT_S, 0.);
	ev_timer_start(f->loop, &t);
	while (!cond(f) && ev_time() < end)
		ev_run(f->loop, EVRUN_ONCE);
	ev_timer_stop(f->loop, &t);
	return (cond(f));
}

static int
srv_closed_cond(struct fixture *f)
{
	return (f->s.closed);
}

static int
both_closed_cond(struct fixture *f)
{
	return (f->s.closed && f->p.got_close);
}

static int
peer_gone_cond(struct fixture *f)
{
	return (f->p.fd == -1);
}

static size_t want_msgs;

static int
peer_msgs_cond(struct fixture *f)
{
	return (f->p.nmsgs >= want_msgs);
}

static int
srv_msgs_cond(struct fixture *f)
{
	return (f->s.nmsgs >= want_msgs);
}

/* ---- fixture ---- */

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(f->loop);
	f->p.fd = -1;
	f->s.echo = 1;
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->s.c != NULL)
		ws_conn_free(f->s.c);
	peer_hangup(&f->p);
	if (f->p.ctx != NULL)
		wslay_event_context_free(f->p.ctx);
	for (size_t i = 0; i < f->p.nmsgs && i < MAX_MSGS; i++)
		free(f->p.msgs[i].data);
	ev_loop_destroy(f->loop);
	free(f);
	return (0);
}

/* A connected TCP pair over loopback, both ends non-blocking. */
static void
tcp_pair(int sv[2])
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int l;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	assert_true(
	    (sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) >= 0);
	assert_true(connect(sv[1], (struct sockaddr *)&sin, sizeof(sin)) == 0 ||
	            errno == EINPROGRESS);
	assert_true((sv[0] = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0);
	close(l);
}

/* Connect a ws_conn and a client (over loopback TCP when tcp is set, else
 * a socketpair); sndbuf > 0 shrinks the socket buffers so that a client
 * that does not read blocks the server soon. */
static void
open_pair(struct fixture *f, const struct ws_conn_limits *lim, const void *in,
    size_t inlen, int sndbuf)
{
	int sv[2];

	if (f->tcp)
		tcp_pair(sv);
	else
		assert_int_equal(
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	if (sndbuf > 0) {
		assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF,
		                     &sndbuf, sizeof(sndbuf)),
		    0);
		assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF,
		                     &sndbuf, sizeof(sndbuf)),
		    0);
	}
	f->s.c = ws_conn_open(f->loop, sv[0], HEAD, sizeof(HEAD) - 1, in, inlen,
	    lim, &srv_ops, &f->s);
	assert_non_null(f->s.c);
	ws_conn_set_close_timeout(f->s.c, CLOSE_WAIT_S);

	f->p.loop = f->loop;
	f->p.fd = sv[1];
	assert_int_equal(
	    wslay_event_context_client_init(&f->p.ctx, &peer_callbacks, &f->p),
	    0);
	ev_io_init(&f->p.read_w, peer_read_cb, sv[1], EV_READ);
	ev_io_init(&f->p.write_w, peer_write_cb, sv[1], EV_WRITE);
	f->p.read_w.data = f->p.write_w.data = &f->p;
	peer_update(&f->p);
}

static void
assert_msg(struct peer *p, size_t i, int opcode, const void *data, size_t len)
{
	assert_true(i < p->nmsgs);
	assert_int_equal(p->msgs[i].opcode, opcode);
	assert_int_equal(p->msgs[i].len, len);
	if (len > 0)
		assert_memory_equal(p->msgs[i].data, data, len);
}

/*
 * Client and server both saw close code; the server's report is unclean.
 * The server sent FIN after its close frame and finished when the client
 * hung up, not when its close timer ran out.
 */
static void
assert_failed_with(struct fixture *f, int code)
{
	ev_tstamp t0 = ev_time();

	assert_true(run_until(f, both_closed_cond));
	assert_true(ev_time() - t0 < CLOSE_WAIT_S);
	assert_int_equal(f->p.close_code, code);
	assert_int_equal(f->s.code, code);
	assert_int_equal(f->s.clean, 0);
}

/* ---- the connection ---- */

static void
test_echo(void **state)
{
	struct fixture *f = *state;
	const uint8_t bin[] = {0, 1, 2, 0xff, 0};

	open_pair(f, NULL, NULL, 0, 0);
	peer_send(&f->p, WSLAY_TEXT_FRAME, "hello", 5);
	peer_send(&f->p, WSLAY_BINARY_FRAME, bin, sizeof(bin));
	peer_send(&f->p, WSLAY_TEXT_FRAME, "", 0);
	want_msgs = 3;
	assert_true(run_until(f, peer_msgs_cond));
	assert_true(f->p.head_ok);
	assert_msg(&f->p, 0, WSLAY_TEXT_FRAME, "hello", 5);
	assert_msg(&f->p, 1, WSLAY_BINARY_FRAME, bin, sizeof(bin));
	assert_msg(&f->p, 2, WSLAY_TEXT_FRAME, "", 0);
	assert_int_equal(f->s.nmsgs, 3);
	assert_false(f->s.closed);
	assert_int_equal(ws_conn_pending(f->s.c), 0);
}

static void
test_fragmented(void **state)
{
	struct fixture *f = *state;

	open_pair(f, NULL, NULL, 0, 0);
	/* "Hi €" in three frames, the euro sign split between two, and a
	 * ping between fragments (control frames may interleave). */
	peer_frame(&f->p, 0x01, "Hi \xe2", 4);
	peer_frame(&f->p, 0x89, "mid", 3);
	peer_frame(&f->p, 0x00, "\x82", 1);
	peer_frame(&f->p, 0x80, "\xac", 1);
	want_msgs = 2;
	assert_true(run_until(f, peer_msgs_cond));
	assert_msg(&f->p, 0, WSLAY_PONG, "mid", 3);
	assert_msg(&f->p, 1, WSLAY_TEXT_FRAME, "Hi \xe2\x82\xac", 6);
	assert_int_equal(f->s.nmsgs, 1);
	assert_false(f->s.last_binary);
}

static void
test_ping_pong(void **state)
{
	struct fixture *f = *state;

	open_pair(f, NULL, NULL, 0, 0);
	peer_send(&f->p, WSLAY_PING, "abc", 3);
	want_msgs = 1;
	assert_true(run_until(f, peer_msgs_cond));
	assert_msg(&f->p, 0, WSLAY_PONG, "abc", 3);
	assert_int_equal(f->s.nmsgs, 0);
}

static void
test_client_close(void **state)
{
	struct fixture *f = *state;

	open_pair(f, NULL, NULL, 0, 0);
	assert_int_equal(
	    wslay_event_queue_close(f->p.ctx, 1000, (const uint8_t *)"bye", 3),
	    0);
	peer_update(&f->p);
	assert_true(run_until(f, both_closed_cond));
	assert_int_equal(f->p.close_code, 1000);
	assert_int_equal(f->s.code, 1000);
	assert_string_equal(f->s.reason, "bye");
	assert_int_equal(f->s.clean, 1);
}

static void
test_client_close_no_code(void **state)
{
	struct fixture *f = *state;

	open_pair(f, NULL, NULL, 0, 0);
	peer_frame(&f->p, 0x88, "", 0);
	assert_true(run_until(f, both_closed_cond));
	assert_int_equal(f->s.code, WS_CODE_NO_STATUS);
	assert_string_equal(f->s.reason, "");
	assert_int_equal(f->s.clean, 1);
}

static void
test_server_close(void **state)
{
	struct fixture *f = *state;

	open_pair(f, NULL, NULL, 0, 0);
	/* Queued before the close: delivered before it. */
	f->s.in_api = 1;
	assert_int_equal(ws_conn_send(f->s.c, 0, "last", 4), 0);
	ws_conn_close(f->s.c, 4001, "bye");
	assert_int_equal(ws_conn_send(f->s.c, 0, "late", 4), -1);
	ws_conn_close(f->s.c, 4002, "again"); /* a no-op */
	f->s.in_api = 0;
	assert_true(run_until(f, both_closed_cond));
	assert_int_equal(f->p.nmsgs, 1);
	assert_msg(&f->p, 0, WSLAY_TEXT_FRAME, "last", 4);
	assert_int_equal(f->p.close_code, 4001);
	assert_string_equal(f->p.close_reason, "bye");
	assert_int_equal(f->s.code, 4001);
	assert_string_equal(f->s.reason, "bye");
	assert_int_equal(f->s.clean, 1);
}

static void
test_server_close_timeout(void **state)
{
	struct fixture *f = *state;
	ev_tstamp t0;

	open_pair(f, NULL, NULL, 0, 0);
	f->p.paused = 1; /* never reads, never answers */
	peer_update(&f->p);
	t0 = ev_time();
	ws_conn_close(f->s.c, 4001, "bye");
	assert_true(run_until(f, srv_closed_cond));
	assert_true(ev_time() - t0 >= CLOSE_WAIT_S * 0.9);
	assert_int_equal(f->s.code, 4001);
	assert_int_equal(f->s.clean, 0);
}

static void
test_close_reason_cut(void **state)
{
	struct fixture *f = *state;
	char reason[200];

	/* 61 two-byte characters and more: cut at 122, not mid-character. */
	for (size_t i = 0; i < 100; i++)
		memcpy(reason + 2 * i, "\xc3\xa9", 2);
	reason[199] = '\0';
	open_pair(f, NULL, NULL, 0, 0);
	ws_conn_close(f->s.c, 1005, reason); /* not sendable: 1000 */
	assert_true(run_until(f, both_closed_cond));
	assert_int_equal(f->p.close_code, 1000);
	assert_int_equal(strlen(f->p.close_reason), 122);
	assert_int_equal(f->s.clean, 1);
}

static void
test_too_big(void **state)
{
	struct fixture *f = *state;
	struct ws_conn_limits lim = {1024, 0};
	uint8_t big[2000];

	memset(big, 'a', sizeof(big));
	open_pair(f, &lim, NULL, 0, 0);
	peer_send(&f->p, WSLAY_BINARY_FRAME, big, 1024);
	want_msgs = 1;
	assert_true(run_until(f, srv_msgs_cond));
	peer_send(&f->p, WSLAY_BINARY_FRAME, big, sizeof(big));
	assert_failed_with(f, WS_CODE_TOO_BIG);
	assert_int_equal(f->s.nmsgs, 1);
}

/*
 * Over TCP, with most of the big message still unread when the server
 * gives up: closing the socket then would reset the connection and could
 * destroy the close frame; the server drains until the client hangs up.
 */
static void
test_too_big_tcp(void **state)
{
	struct fixture *f = *state;
	struct ws_conn_limits lim = {1024, 0};
	size_t len = 4 << 20;
	uint8_t *big = calloc(1, len);

	assert_non_null(big);
	f->tcp = 1;
	open_pair(f, &lim, NULL, 0, 0);
	peer_send(&f->p, WSLAY_BINARY_FRAME, big, len);
	assert_failed_with(f, WS_CODE_TOO_BIG);
	free(big);
}

static void
test_too_big_fragmented(void **state)
{
	struct fixture *f = *state;
	struct ws_conn_limits lim = {200, 0};
	uint8_t part[100];

	memset(part, 'a', sizeof(part));
	open_pair(f, &lim, NULL, 0, 0);
	peer_frame(&f->p, 0x02, part, sizeof(part));
	peer_frame(&f->p, 0x00, part, sizeof(part));
	peer_frame(&f->p, 0x80, part, 1);
	assert_failed_with(f, WS_CODE_TOO_BIG);
	assert_int_equal(f->s.nmsgs, 0);
}

static void
test_unmasked(void **state)
{
	struct fixture *f = *state;

	open_pair(f, NULL, NULL, 0, 0);
	peer_raw(&f->p, "\x81\x02hi", 4);
	assert_failed_with(f, WS_CODE_PROTOCOL);
	assert_int_equal(f->s.nmsgs, 0);
}

static void
test_malformed(void **state)
{
	static const struct {
		uint8_t b0;
		const char *why;
	} cases[] = {
	    {0xc1, "RSV1 without an extension"},
	    {0x91, "RSV3"},
	    {0x83, "reserved opcode 3"},
	    {0x8b, "reserved control opcode 0xb"},
	    {0x80, "continuation with no message"},
	    {0x09, "fragmented ping"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture *f;

		print_message("%s\n", cases[i].why);
		setup((void **)&f);
		open_pair(f, NULL, NULL, 0, 0);
		peer_frame(&f->p, cases[i].b0, "hi", 2);
		assert_failed_with(f, WS_CODE_PROTOCOL);
		assert_int_equal(f->s.nmsgs, 0);
		teardown((void **)&f);
	}
	(void)state;
}

/* wslay's frame layer rejects these before its event layer sees them and
 * would send a close without a code: the engine makes it 1002. */
static void
test_malformed_header(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[6 + 2 + 200] = {0x89, 0x80 | 126, 0, 200, 1, 2, 3, 4};

	open_pair(f, NULL, NULL, 0, 0);
	peer_raw(&f->p, buf, sizeof(buf));
	assert_failed_with(f, WS_CODE_PROTOCOL);
}

static void
test_bad_close_frame(void **state)
{
	struct fixture *f = *state;

	open_pair(f, NULL, NULL, 0, 0);
	peer_frame(&f->p, 0x88, "\x03\xed", 2); /* 1005 is never sent */
	assert_failed_with(f, WS_CODE_PROTOCOL);

	teardown(state);
	setup(state);
	f = *state;
	open_pair(f, NULL, NULL, 0, 0);
	peer_frame(&f->p, 0x88, "\x03\xe8\xff", 3); /* reason not UTF-8 */
	assert_failed_with(f, WS_CODE_BAD_DATA);
}

static void
test_bad_utf8(void **state)
{
	static const char *bad[] = {
	    "\xc0\xaf",         /* overlong '/' */
	    "\xe0\x80\xaf",     /* overlong '/' */
	    "\xed\xa0\x80",     /* surrogate U+D800 */
	    "\xf4\x90\x80\x80", /* past U+10FFFF */
	    "\xe2\x82",         /* truncated at the end */
	    "a\xffz",
	    "\x80",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fixture *f;

		setup((void **)&f);
		open_pair(f, NULL, NULL, 0, 0);
		peer_frame(&f->p, 0x81, bad[i], strlen(bad[i]));
		assert_failed_with(f, WS_CODE_BAD_DATA);
		assert_int_equal(f->s.nmsgs, 0);
		teardown((void **)&f);
	}
	(void)state;
}

static void
test_utf8_nul_ok(void **state)
{
	struct fixture *f = *state;

	open_pair(f, NULL, NULL, 0, 0);
	peer_frame(&f->p, 0x81, "a\0b\xf0\x9f\x98\x80", 7);
	want_msgs = 1;
	assert_true(run_until(f, peer_msgs_cond));
	assert_msg(&f->p, 0, WSLAY_TEXT_FRAME, "a\0b\xf0\x9f\x98\x80", 7);
}

static void
test_slow_reader(void **state)
{
	struct fixture *f = *state;
	struct ws_conn_limits lim = {0, 256 * 1024};
	size_t len = 64 * 1024, sent = 0, i;
	uint8_t *buf = calloc(1, len);
	int rv = 0;

	assert_non_null(buf);
	open_pair(f, &lim, NULL, 0, 4096);
	f->p.paused = 1;
	peer_update(&f->p);
	for (i = 0; i < 100; i++) {
		f->s.in_api = 1;
		rv = ws_conn_send(f->s.c, 1, buf, len);
		f->s.in_api = 0;
		if (rv != 0)
			break;
		sent++;
		assert_true(ws_conn_pending(f->s.c) <= lim.max_pending);
		ev_run(f->loop, EVRUN_NOWAIT);
		assert_false(f->s.closed);
	}
	assert_int_equal(rv, -1);
	assert_true(sent >= 3 && sent < 10);
	/* Failed: nothing more is queued but the close frame, and closed()
	 * comes from the loop. */
	assert_false(f->s.closed);
	assert_true(ws_conn_pending(f->s.c) <= lim.max_pending + 125);
	assert_int_equal(ws_conn_send(f->s.c, 1, "x", 1), -1);
	assert_true(run_until(f, srv_closed_cond));
	assert_int_equal(f->s.code, WS_CODE_POLICY);
	assert_string_equal(f->s.reason, "send buffer full");
	assert_int_equal(f->s.clean, 0);
	free(buf);
}

static void
test_slow_reader_wakes(void **state)
{
	struct fixture *f = *state;
	struct ws_conn_limits lim = {0, 256 * 1024};
	size_t len = 64 * 1024, sent = 0;
	uint8_t *buf = calloc(1, len);

	assert_non_null(buf);
	open_pair(f, &lim, NULL, 0, 4096);
	f->p.paused = 1;
	peer_update(&f->p);
	while (ws_conn_send(f->s.c, 1, buf, len) == 0)
		sent++;
	/* The client reads again: it gets the frame that was going out,
	 * then the close; the rest of the queue is dropped. */
	f->p.paused = 0;
	peer_update(&f->p);
	assert_failed_with(f, WS_CODE_POLICY);
	assert_string_equal(f->p.close_reason, "send buffer full");
	assert_true(f->p.nmsgs < sent);
	free(buf);
}

static void
test_pong_flood(void **state)
{
	struct fixture *f = *state;
	struct ws_conn_limits lim = {0, 64 * 1024};
	uint8_t ping[125];

	memset(ping, 'p', sizeof(ping));
	open_pair(f, &lim, NULL, 0, 4096);
	f->p.paused = 1;
	peer_update(&f->p);
	/* The client pings and never reads the pongs. */
	for (size_t i = 0; i < 2000; i++)
		peer_send(&f->p, WSLAY_PING, ping, sizeof(ping));
	assert_true(run_until(f, srv_closed_cond));
	assert_int_equal(f->s.code, WS_CODE_POLICY);
}

static void
test_in_bytes(void **state)
{
	struct fixture *f = *state;
	uint8_t in[64];
	size_t n = 0;

	/* The HTTP parser read these with the request's headers. */
	n += frame(in + n, 0x81, "early", 5);
	n += frame(in + n, 0x89, "p", 1);
	n += frame(in + n, 0x01, "par", 3); /* a message the fd completes */
	open_pair(f, NULL, in, n, 0);
	peer_frame(&f->p, 0x80, "t", 1);
	want_msgs = 3;
	assert_true(run_until(f, peer_msgs_cond));
	assert_true(f->p.head_ok);
	/* wslay sends a control frame ahead of the messages queued. */
	assert_msg(&f->p, 0, WSLAY_PONG, "p", 1);
	assert_msg(&f->p, 1, WSLAY_TEXT_FRAME, "early", 5);
	assert_msg(&f->p, 2, WSLAY_TEXT_FRAME, "part", 4);
	assert_int_equal(f->s.nmsgs, 2);
}

static void
test_eof(void **state)
{
	struct fixture *f = *state;

	f->tcp = 1;
	open_pair(f, NULL, NULL, 0, 0);
	peer_send(&f->p, WSLAY_TEXT_FRAME, "x", 1);
	want_msgs = 1;
	assert_true(run_until(f, peer_msgs_cond));
	peer_hangup(&f->p);
	assert_true(run_until(f, srv_closed_cond));
	assert_int_equal(f->s.code, WS_CODE_ABNORMAL);
	assert_string_equal(f->s.reason, "");
	assert_int_equal(f->s.clean, 0);
}

static void
test_free_in_message(void **state)
{
	struct fixture *f = *state;

	open_pair(f, NULL, NULL, 0, 0);
	f->s.free_on_message = 1;
	peer_send(&f->p, WSLAY_TEXT_FRAME, "a", 1);
	peer_send(&f->p, WSLAY_TEXT_FRAME, "b", 1);
	want_msgs = 1;
	assert_true(run_until(f, srv_msgs_cond));
	/* The second message, read in the same batch, is not delivered, and
	 * the client sees the fd close without a close frame. */
	assert_int_equal(f->s.nmsgs, 1);
	assert_false(f->s.closed);
	assert_null(f->s.c);
	assert_true(run_until(f, peer_gone_cond));
	assert_false(f->p.got_close);
}

static void
test_close_in_message(void **state)
{
	struct fixture *f = *state;

	open_pair(f, NULL, NULL, 0, 0);
	f->s.close_on_message = 1;
	peer_send(&f->p, WSLAY_TEXT_FRAME, "a", 1);
	peer_send(&f->p, WSLAY_TEXT_FRAME, "b", 1);
	assert_true(run_until(f, both_closed_cond));
	assert_int_equal(f->s.nmsgs, 1);
	assert_int_equal(f->p.close_code, 1000);
	assert_string_equal(f->p.close_reason, "enough");
	assert_int_equal(f->s.code, 1000);
	assert_int_equal(f->s.clean, 1);
}

static void
test_open_free(void **state)
{
	struct fixture *f = *state;
	uint8_t in[16];
	size_t n = frame(in, 0x81, "x", 1);

	/* Freed before the loop ran: no callback, the fed event dropped. */
	open_pair(f, NULL, in, n, 0);
	ws_conn_free(f->s.c);
	f->s.c = NULL;
	for (int i = 0; i < 5; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->s.nmsgs, 0);
	assert_false(f->s.closed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_rfc_example),
	    cmocka_unit_test(test_handshake_bad),
	    cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fragmented, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ping_pong, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_client_close_no_code, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_server_close_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_close_reason_cut, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_big_tcp, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_too_big_fragmented, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unmasked, setup, teardown),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test_setup_teardown(
	        test_malformed_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_bad_close_frame, setup, teardown),
	    cmocka_unit_test(test_bad_utf8),
	    cmocka_unit_test_setup_teardown(test_utf8_nul_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slow_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_slow_reader_wakes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pong_flood, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_in_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_free_in_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_close_in_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_free, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
