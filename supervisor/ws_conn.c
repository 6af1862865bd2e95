/*
 * ws_conn.c — one server-side WebSocket connection on durod's loop.
 *
 * wslay's event API speaks the protocol. It parses and builds frames,
 * unmasks, reassembles fragmented messages, answers pings with pongs and
 * echoes the peer's close frame. It fails the connection (queues a close
 * frame and stops reading) on a message over max_message (1009), on text
 * or a close reason that is not UTF-8 (1007: it validates incrementally,
 * NUL allowed, overlongs and surrogates not), and on an unmasked client
 * frame, reserved bits, an unknown opcode, a continuation out of place or
 * an invalid close code (1002). It calls us to read and write bytes and
 * hands us each complete message.
 *
 * This file adds what a daemon needs around it:
 * - libev watchers that follow wslay_event_want_read/want_write, with a
 *   read budget per wakeup so one busy client does not starve the rest;
 * - the 101 response written before any frame, and the bytes the HTTP
 *   parser had already read fed to wslay before the fd;
 * - one output buffer: wslay's send callback appends the frames it
 *   produces (a header and a payload in two calls each) and the buffer
 *   is written with one send() per wakeup, so a connection that has
 *   several frames queued (a broadcast burst) costs one system call, not
 *   two per frame;
 * - a bound on unsent output: past max_pending the peer is failed with
 *   1008, so a client that does not read costs bounded memory;
 * - 1002 where wslay sends a close frame without a code: a frame header
 *   its frame layer rejects (a control frame fragmented or over 125
 *   bytes, a bad length) makes it queue an empty close and give up;
 * - ws_conn_close() sends the messages queued before it first (wslay
 *   would put the close frame ahead of them and drop them);
 * - a close timeout, and after failing a peer a FIN then draining its
 *   input until it closes, so the kernel does not answer unread data with
 *   a reset that could destroy our close frame in flight;
 * - closed() exactly once, from a loop callback, never from inside a
 *   caller's ws_conn_send/ws_conn_close, and ws_conn_free() that is safe
 *   from inside message().
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wslay/wslay.h>

#include "ws_conn.h"

#define WS_READ_BUDGET (256 * 1024) /* bytes read per wakeup */
#define WS_OUT_CHUNK (256 * 1024)   /* frames buffered before a write */

enum ws_state {
	WS_OPEN,    /* messages flow both ways */
	WS_CLOSING, /* a close frame is wanted, queued, sent or received */
	WS_LINGER,  /* we failed the peer: close frame and FIN sent, draining */
	WS_DONE,    /* closed() is being called */
};

struct ws_conn {
	struct ev_loop *loop;
	int fd;
	enum ws_state state;
	ev_io read_w, write_w;
	ev_timer timer_w; /* the close timeout, or 0 s to finish soon */
	wslay_event_context_ptr ctx;
	struct ws_conn_limits lim;
	double close_timeout;
	const struct ws_conn_ops *ops;
	void *arg;

	/* Unsent output, out[ooff..olen): the 101 first, then the frames
	 * wslay hands to ws_conn_send_cb. */
	uint8_t *out;
	size_t ooff, olen, ocap;
	uint8_t *in; /* bytes read before us, not yet parsed: in[ioff..ilen) */
	size_t ioff, ilen;
	size_t budget; /* bytes this wakeup may still read */

	int close_code; /* our close frame's code, 0 while we sent none */
	char close_reason[WS_REASON_MAX + 1];
	int close_wait; /* ours waits until the queued messages are out */
	char peer_reason[WS_REASON_MAX + 1];

	int broken; /* EOF, I/O error, out of memory: finish, send nothing */
	int busy;   /* inside wslay_event_recv or closed(): do not free */
	int dying;  /* ws_conn_free() asked while busy */
};

static void ws_conn_finish(struct ws_conn *);

static ssize_t
ws_conn_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    int flags, void *user)
{
	struct ws_conn *c = user;
	ssize_t n;

	if (c->dying) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return (-1);
	}
	if (c->ioff < c->ilen) {
		n = c->ilen - c->ioff < len ? c->ilen - c->ioff : len;
		memcpy(buf, c->in + c->ioff, n);
		c->ioff += n;
		return (n);
	}
	if (c->budget == 0) {
		/* The fd stays readable: the loop comes back to us. */
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return (-1);
	}
	if (len > c->budget)
		len = c->budget;
	do
		n = recv(c->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		c->budget -= n;
		return (n);
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return (-1);
	}
	c->broken = 1;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return (-1);
}

/* Write what the output buffer holds: 0 when it is empty, -1 while it is
 * not (blocked, or broken). */
static int
ws_conn_write_out(struct ws_conn *c)
{
	ssize_t n;

	while (c->ooff < c->olen) {
		n = send(
		    c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);
		if (n > 0) {
			c->ooff += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			c->broken = 1;
		return (-1);
	}
	c->ooff = c->olen = 0;
	return (0);
}

/* Room for len more output bytes, compacting or growing the buffer. */
static int
ws_conn_out_reserve(struct ws_conn *c, size_t len)
{
	size_t cap;
	uint8_t *p;

	if (c->ooff > 0 && c->ocap - c->olen < len) {
		memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
		c->olen -= c->ooff;
		c->ooff = 0;
	}
	if (c->ocap - c->olen >= len)
		return (0);
	for (cap = c->ocap > 0 ? c->ocap : 4096; cap - c->olen < len; cap *= 2)
		;
	if ((p = realloc(c->out, cap)) == NULL)
		return (-1);
	c->out = p;
	c->ocap = cap;
	return (0);
}

/*
 * wslay's writer: append to the output buffer. Past WS_OUT_CHUNK the
 * buffer is written first, and if the socket takes too little, wslay is
 * told it would block: what it has not handed over stays queued in
 * wslay, where ws_conn_pending() counts it.
 */
static ssize_t
ws_conn_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *user)
{
	struct ws_conn *c = user;

	if (c->dying) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return (-1);
	}
	if (c->olen - c->ooff >= WS_OUT_CHUNK && ws_conn_write_out(c) != 0 &&
	    (c->broken || c->olen - c->ooff >= WS_OUT_CHUNK)) {
		wslay_event_set_error(ctx, c->broken
		                               ? WSLAY_ERR_CALLBACK_FAILURE
		                               : WSLAY_ERR_WOULDBLOCK);
		return (-1);
	}
	if (ws_conn_out_reserve(c, len) != 0) {
		c->broken = 1;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return (-1);
	}
	memcpy(c->out + c->olen, data, len);
	c->olen += len;
	return ((ssize_t)len);
}

static void
ws_conn_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *user)
{
	struct ws_conn *c = user;
	const uint8_t *data = m->msg != NULL ? m->msg : (const uint8_t *)"";
	size_t n;

	switch (m->opcode) {
	case WSLAY_TEXT_FRAME:
	case WSLAY_BINARY_FRAME:
		/* After our close the peer's messages have no one to go to. */
		if (c->state == WS_OPEN && c->close_code == 0 && !c->dying)
			c->ops->message(c->arg, m->opcode == WSLAY_BINARY_FRAME,
			    data, m->msg_length);
		break;
	case WSLAY_CONNECTION_CLOSE:
		n = m->msg_length > 2 ? m->msg_length - 2 : 0;
		if (n > WS_REASON_MAX)
			n = WS_REASON_MAX;
		memcpy(c->peer_reason, data + (n > 0 ? 2 : 0), n);
		c->peer_reason[n] = '\0';
		break;
	default:
		break;
	}
}

static const struct wslay_event_callbacks ws_conn_callbacks = {
    .recv_callback = ws_conn_recv_cb,
    .send_callback = ws_conn_send_cb,
    .on_msg_recv_callback = ws_conn_msg_cb,
};

static int
ws_conn_ctx_new(struct ws_conn *c, wslay_event_context_ptr *ctx)
{
	if (wslay_event_context_server_init(ctx, &ws_conn_callbacks, c) != 0)
		return (-1);
	wslay_event_config_set_max_recv_msg_length(*ctx, c->lim.max_message);
	return (0);
}

/* Codes a close frame may carry (RFC 6455 7.4; 1012-1014 registered). */
static int
ws_conn_code_valid(int code)
{
	return ((code >= 1000 && code <= 1003) ||
	        (code >= 1007 && code <= 1014) ||
	        (code >= 3000 && code <= 4999));
}

static void
ws_conn_set_close(struct ws_conn *c, int code, const char *reason)
{
	size_t n = strlen(reason);

	/* Cut at a character boundary: the peer fails a close whose reason
	 * is not UTF-8. */
	if (n > WS_REASON_MAX) {
		n = WS_REASON_MAX;
		while (n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80)
			n--;
	}
	c->close_code = ws_conn_code_valid(code) ? code : WS_CODE_NORMAL;
	memcpy(c->close_reason, reason, n);
	c->close_reason[n] = '\0';
}

static void
ws_conn_queue_close(struct ws_conn *c)
{
	c->close_wait = 0;
	/* Fails only when a close frame is already queued (the peer's echo)
	 * or writing stopped: either way no second one is wanted. */
	(void)wslay_event_queue_close(c->ctx, (uint16_t)c->close_code,
	    (const uint8_t *)c->close_reason, strlen(c->close_reason));
}

/*
 * Fail the connection (RFC 6455 7.1.7): read no more, send a close frame
 * at the next frame boundary; wslay drops the messages queued behind it.
 */
static void
ws_conn_fail(struct ws_conn *c, int code, const char *reason)
{
	if (c->close_code == 0 || c->close_wait)
		ws_conn_set_close(c, code, reason);
	wslay_event_shutdown_read(c->ctx);
	ws_conn_queue_close(c);
}

/*
 * wslay_event_recv failed without an I/O error of ours: its frame layer
 * rejected a header and it queued a close frame without a code. When that
 * frame is all it has queued, nothing is half-written, so a fresh context
 * can send 1002 instead.
 */
static void
ws_conn_proto_error(struct ws_conn *c)
{
	wslay_event_context_ptr fresh;

	if (c->close_code != 0)
		return;
	if (wslay_event_get_queued_msg_count(c->ctx) == 1 &&
	    ws_conn_ctx_new(c, &fresh) == 0) {
		wslay_event_context_free(c->ctx);
		c->ctx = fresh;
		ws_conn_fail(c, WS_CODE_PROTOCOL, "");
	} else
		ws_conn_set_close(c, WS_CODE_PROTOCOL, "");
}

static void
ws_conn_io_set(struct ws_conn *c, ev_io *w, int on)
{
	if (on && !ev_is_active(w))
		ev_io_start(c->loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(c->loop, w);
}

static void
ws_conn_stop(struct ws_conn *c)
{
	ev_io_stop(c->loop, &c->read_w);
	ev_io_stop(c->loop, &c->write_w);
	ev_timer_stop(c->loop, &c->timer_w);
}

static void
ws_conn_destroy(struct ws_conn *c)
{
	ws_conn_stop(c);
	if (c->fd != -1)
		close(c->fd);
	wslay_event_context_free(c->ctx);
	free(c->out);
	free(c->in);
	free(c);
}

/* Finish from the loop's next iteration: API calls must not call back. */
static void
ws_conn_soon(struct ws_conn *c)
{
	ev_timer_stop(c->loop, &c->timer_w);
	ev_timer_set(&c->timer_w, 0., 0.);
	ev_timer_start(c->loop, &c->timer_w);
}

/* Once a close begins, by either side, it has close_timeout to end. */
static void
ws_conn_track(struct ws_conn *c)
{
	if (c->state != WS_OPEN)
		return;
	if (c->close_code == 0 && wslay_event_get_read_enabled(c->ctx) &&
	    wslay_event_get_write_enabled(c->ctx))
		return;
	c->state = WS_CLOSING;
	if (!ev_is_active(&c->timer_w)) {
		ev_timer_set(&c->timer_w, c->close_timeout, 0.);
		ev_timer_start(c->loop, &c->timer_w);
	}
}

/* From an API call: let the loop do the I/O. */
static void
ws_conn_kick(struct ws_conn *c)
{
	if (c->broken) {
		ws_conn_soon(c);
		return;
	}
	ws_conn_track(c);
	ws_conn_io_set(c, &c->write_w, 1);
}

/* Hand wslay's queued frames to the output buffer and write it, until the
 * socket is full or nothing is left. */
static void
ws_conn_flush(struct ws_conn *c)
{
	for (;;) {
		if (ws_conn_write_out(c) != 0)
			return;
		if (c->close_wait &&
		    wslay_event_get_queued_msg_count(c->ctx) == 0)
			ws_conn_queue_close(c);
		if (!wslay_event_want_write(c->ctx))
			return;
		if (wslay_event_send(c->ctx) != 0) {
			c->broken = 1;
			return;
		}
		/* What it produced is in the buffer: write it, then stop
		 * unless a close waits for the queue to drain. */
		if (ws_conn_write_out(c) != 0)
			return;
		if (wslay_event_want_write(c->ctx) || !c->close_wait)
			return;
	}
}

/* Our close frame is out and the peer is not heard any more: FIN, then
 * read and discard until the peer closes too or the timer ends it. */
static void
ws_conn_linger(struct ws_conn *c)
{
	c->state = WS_LINGER;
	(void)shutdown(c->fd, SHUT_WR);
	ws_conn_io_set(c, &c->write_w, 0);
	ws_conn_io_set(c, &c->read_w, 1);
}

static void
ws_conn_drain(struct ws_conn *c)
{
	char buf[4096];
	size_t budget = WS_READ_BUDGET;
	ssize_t n;

	while (budget > 0) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			budget -= (size_t)n < budget ? (size_t)n : budget;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		ws_conn_finish(c);
		return;
	}
}

/* Only from loop callbacks: may finish, which calls closed(). */
static void
ws_conn_step(struct ws_conn *c)
{
	/* Pongs and close echoes are queued by wslay, not ws_conn_send. */
	if (!c->broken && c->state == WS_OPEN &&
	    ws_conn_pending(c) > c->lim.max_pending)
		ws_conn_fail(c, WS_CODE_POLICY, "send buffer full");
	if (!c->broken)
		ws_conn_flush(c);
	if (c->broken) {
		ws_conn_finish(c);
		return;
	}
	ws_conn_track(c);
	if (c->ooff == c->olen && !wslay_event_want_read(c->ctx) &&
	    !wslay_event_want_write(c->ctx)) {
		if (wslay_event_get_close_sent(c->ctx) &&
		    !wslay_event_get_close_received(c->ctx))
			ws_conn_linger(c);
		else
			ws_conn_finish(c);
		return;
	}
	ws_conn_io_set(c, &c->read_w, wslay_event_want_read(c->ctx));
	ws_conn_io_set(c, &c->write_w,
	    c->ooff < c->olen || wslay_event_want_write(c->ctx));
}

static void
ws_conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ws_conn *c = w->data;
	int rv;

	if (c->state == WS_LINGER) {
		ws_conn_drain(c);
		return;
	}
	c->budget = WS_READ_BUDGET;
	c->busy++;
	rv = wslay_event_recv(c->ctx);
	c->busy--;
	if (c->dying) {
		ws_conn_destroy(c);
		return;
	}
	if (rv == WSLAY_ERR_NOMEM)
		c->broken = 1;
	else if (rv != 0 && !c->broken)
		ws_conn_proto_error(c);
	ws_conn_step(c);
}

static void
ws_conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ws_conn *c = w->data;

	if (c->state == WS_OPEN || c->state == WS_CLOSING)
		ws_conn_step(c);
}

/* The close timeout, or a finish deferred from an API call. */
static void
ws_conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ws_conn_finish(w->data);
}

/* What closed() reports; see struct ws_conn_ops. */
static void
ws_conn_result(struct ws_conn *c, int *code, const char **reason, int *clean)
{
	*clean = 0;
	*reason = "";
	if (wslay_event_get_close_received(c->ctx)) {
		*code = wslay_event_get_status_code_received(c->ctx);
		*reason = c->peer_reason;
		*clean = wslay_event_get_close_sent(c->ctx);
	} else if (c->close_code != 0) {
		*code = c->close_code;
		*reason = c->close_reason;
	} else if (wslay_event_get_close_sent(c->ctx))
		*code = wslay_event_get_status_code_sent(c->ctx);
	else
		*code = WS_CODE_ABNORMAL;
}

static void
ws_conn_finish(struct ws_conn *c)
{
	const char *reason;
	int code, clean;

	ws_conn_result(c, &code, &reason, &clean);
	c->state = WS_DONE;
	ws_conn_stop(c);
	close(c->fd);
	c->fd = -1;
	c->busy++;
	c->ops->closed(c->arg, code, reason, clean);
	ws_conn_destroy(c);
}

/* A WebSocket may idle for hours: notice a vanished client (no FIN, no
 * RST) in about two minutes. Not TCP (tests use socketpairs): ignored. */
static void
ws_conn_keepalive(int fd)
{
	int on = 1, idle = 60, intvl = 15, cnt = 4;

	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static void
ws_conn_set_limits(struct ws_conn *c, const struct ws_conn_limits *lim)
{
	if (lim != NULL)
		c->lim = *lim;
	if (c->lim.max_message == 0)
		c->lim.max_message = WS_MAX_MESSAGE_DEFAULT;
	if (c->lim.max_pending == 0)
		c->lim.max_pending = WS_MAX_PENDING_DEFAULT;
	c->close_timeout = WS_CLOSE_TIMEOUT_DEFAULT;
}

struct ws_conn *
ws_conn_open(struct ev_loop *loop, int fd, const void *head, size_t headlen,
    const void *in, size_t inlen, const struct ws_conn_limits *lim,
    const struct ws_conn_ops *ops, void *arg)
{
	struct ws_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	ws_conn_set_limits(c, lim);
	if ((headlen > 0 && ws_conn_out_reserve(c, headlen) != 0) ||
	    (inlen > 0 && (c->in = malloc(inlen)) == NULL) ||
	    ws_conn_ctx_new(c, &c->ctx) != 0) {
		free(c->out);
		free(c->in);
		free(c);
		return (NULL);
	}
	if (headlen > 0)
		memcpy(c->out, head, headlen);
	if (inlen > 0)
		memcpy(c->in, in, inlen);
	c->olen = headlen;
	c->ilen = inlen;
	c->loop = loop;
	c->fd = fd;
	c->ops = ops;
	c->arg = arg;
	ev_io_init(&c->read_w, ws_conn_read_cb, fd, EV_READ);
	ev_io_init(&c->write_w, ws_conn_write_cb, fd, EV_WRITE);
	ev_init(&c->timer_w, ws_conn_timer_cb);
	c->read_w.data = c->write_w.data = c->timer_w.data = c;
	ws_conn_keepalive(fd);
	ev_io_start(loop, &c->read_w);
	ev_io_start(loop, &c->write_w);
	/* Input already read will not make the fd readable again. */
	if (inlen > 0)
		ev_feed_event(loop, &c->read_w, EV_READ);
	return (c);
}

int
ws_conn_send(struct ws_conn *c, int binary, const void *data, size_t len)
{
	struct wslay_event_msg m;
	int rv;

	if (c->state != WS_OPEN || c->close_code != 0 || c->dying)
		return (-1);
	if (len > c->lim.max_pending ||
	    ws_conn_pending(c) > c->lim.max_pending - len) {
		ws_conn_fail(c, WS_CODE_POLICY, "send buffer full");
		ws_conn_kick(c);
		return (-1);
	}
	m.opcode = binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME;
	m.msg = data;
	m.msg_length = len;
	if ((rv = wslay_event_queue_msg(c->ctx, &m)) != 0) {
		/* WSLAY_ERR_NO_MORE_MSG: a close is under way already. */
		if (rv == WSLAY_ERR_NOMEM)
			c->broken = 1;
		ws_conn_kick(c);
		return (-1);
	}
	ws_conn_kick(c);
	return (0);
}

void
ws_conn_close(struct ws_conn *c, int code, const char *reason)
{
	if (c->state != WS_OPEN || c->close_code != 0 || c->dying)
		return;
	ws_conn_set_close(c, code, reason != NULL ? reason : "");
	c->close_wait = 1;
	ws_conn_kick(c);
}

void
ws_conn_set_close_timeout(struct ws_conn *c, double seconds)
{
	c->close_timeout = seconds > 0 ? seconds : WS_CLOSE_TIMEOUT_DEFAULT;
}

size_t
ws_conn_pending(const struct ws_conn *c)
{
	return (c->olen - c->ooff + wslay_event_get_queued_msg_length(c->ctx));
}

void
ws_conn_free(struct ws_conn *c)
{
	if (c == NULL)
		return;
	if (c->busy) {
		c->dying = 1;
		ws_conn_stop(c);
		return;
	}
	ws_conn_destroy(c);
}
