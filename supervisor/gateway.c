/*
 * gateway.c — an HTTP/1.1 server on one listen address, on durod's loop.
 *
 * Each client connection has an input buffer, an http_in parser and an
 * output buffer. At most one request per connection is in flight: after a
 * request is dispatched nothing more is parsed until its answer has been
 * queued, so pipelined answers leave in order without any reordering
 * machinery. Bytes keep arriving meanwhile, up to a bound; past it, and
 * while the client does not read its answers, we stop reading (the kernel's
 * window then pushes back on the client).
 *
 * Answers may come long after dispatch, from another part of durod, and
 * after the client has gone: a closing connection clears its in-flight
 * request's conn pointer, and answering such a request only frees it.
 *
 * A connection is freed only outside conn_kick(): code called from inside
 * it (the dispatch function answering at once, a failed write) marks the
 * connection dead and conn_kick() frees it on the way out.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <http_parser.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "durod.h"
#include "gateway_impl.h"

size_t
out_pending(const struct conn *c)
{
	return (c->olen - c->ooff);
}

static size_t
in_pending(const struct conn *c)
{
	return (c->ilen - c->ioff);
}

/* Room for n more output bytes, compacting or growing the buffer. */
int
out_reserve(struct conn *c, size_t n)
{
	size_t cap;
	char *p;

	if (c->ooff > 0 && c->ocap - c->olen < n) {
		memmove(c->obuf, c->obuf + c->ooff, c->olen - c->ooff);
		c->olen -= c->ooff;
		c->ooff = 0;
	}
	if (c->ocap - c->olen >= n)
		return (0);
	if (n > SIZE_MAX / 2 - c->olen)
		return (-1);
	for (cap = c->ocap > 0 ? c->ocap : 4096; cap - c->olen < n; cap *= 2)
		;
	if ((p = realloc(c->obuf, cap)) == NULL)
		return (-1);
	c->obuf = p;
	c->ocap = cap;
	return (0);
}

/* Append to output already reserved with out_reserve(). */
void
out_put(struct conn *c, const void *p, size_t n)
{
	memcpy(c->obuf + c->olen, p, n);
	c->olen += n;
}

void
out_puts(struct conn *c, const char *s)
{
	out_put(c, s, strlen(s));
}

/* The gateway owns message framing; these from a caller are dropped. */
static int
header_is_framing(const char *name)
{
	return (strcasecmp(name, "Content-Length") == 0 ||
	        strcasecmp(name, "Transfer-Encoding") == 0 ||
	        strcasecmp(name, "Connection") == 0);
}

/* Names must be tokens and values free of CR/LF: no response splitting,
 * whoever built the headers. */
static int
header_is_sendable(const struct ipc_header *h)
{
	return (h->name != NULL && h->value != NULL && ipc_is_token(h->name) &&
	        ipc_is_header_value(h->value) && !header_is_framing(h->name));
}

static const char *
status_reason(int status)
{
	const char *s = http_status_str((enum http_status)status);

	/* An empty reason phrase is legal; "<unknown>" is not helpful. */
	return (s[0] == '<' ? "" : s);
}

/*
 * Queue an answer's head: the status line, the caller's headers, then the
 * framing (Content-Length, or chunked when the body follows in pieces).
 * keep_alive_echo tells an HTTP/1.0 keep-alive client that the connection
 * stays open, which it otherwise has to assume is not.
 */
int
conn_queue_head(struct conn *c, int status, const struct ipc_header *h,
    size_t nh, uint64_t body_len, int chunked, int head_only, int last,
    int keep_alive_echo)
{
	char line[64];
	size_t need = 256;
	int framed = status >= 200 && status != 204 && status != 304;

	for (size_t i = 0; i < nh; i++)
		if (header_is_sendable(&h[i]))
			need += strlen(h[i].name) + strlen(h[i].value) + 4;
	if (out_reserve(c, need) != 0)
		return (-1);
	snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status,
	    status_reason(status));
	out_puts(c, line);
	for (size_t i = 0; i < nh; i++) {
		if (!header_is_sendable(&h[i]))
			continue;
		out_puts(c, h[i].name);
		out_puts(c, ": ");
		out_puts(c, h[i].value);
		out_puts(c, "\r\n");
	}
	if (framed && chunked && !head_only)
		out_puts(c, "Transfer-Encoding: chunked\r\n");
	else if (framed) {
		snprintf(line, sizeof(line), "Content-Length: %llu\r\n",
		    (unsigned long long)body_len);
		out_puts(c, line);
	}
	if (last)
		out_puts(c, "Connection: close\r\n");
	else if (keep_alive_echo)
		out_puts(c, "Connection: keep-alive\r\n");
	out_puts(c, "\r\n");
	return (0);
}

/* Queue one whole answer or nothing; HEAD: the length the GET would have
 * had, and no body. */
static int
conn_queue_answer(struct conn *c, int status, const struct ipc_header *h,
    size_t nh, const uint8_t *body, size_t body_len, int head_only, int last,
    int keep_alive_echo)
{
	int framed = status >= 200 && status != 204 && status != 304;
	size_t send_len = framed && !head_only ? body_len : 0, olen = c->olen;

	if (conn_queue_head(c, status, h, nh, body_len, 0, head_only, last,
	        keep_alive_echo) != 0)
		return (-1);
	if (send_len > 0 && out_reserve(c, send_len) != 0) {
		c->olen = olen; /* all or nothing */
		return (-1);
	}
	if (send_len > 0)
		out_put(c, body, send_len);
	return (0);
}

/* {"error": code, "message": message} as a malloc'd string, or NULL. */
static char *
error_json(const char *code, const char *message)
{
	cJSON *o;
	char *s = NULL;

	if ((o = cJSON_CreateObject()) == NULL)
		return (NULL);
	if (cJSON_AddStringToObject(o, "error", code) != NULL &&
	    cJSON_AddStringToObject(o, "message", message) != NULL)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return (s);
}

/* An error of the connection itself (bad request, timeout): answer, close. */
static void
conn_queue_error(
    struct conn *c, int status, const char *code, const char *message)
{
	static const struct ipc_header ct = {
	    "Content-Type", "application/json"};
	char *body;

	c->closing = 1;
	if ((body = error_json(code, message)) == NULL ||
	    conn_queue_answer(
	        c, status, &ct, 1, (uint8_t *)body, strlen(body), 0, 1, 0) != 0)
		c->dead = 1;
	free(body);
}

static void
conn_close(struct conn *c)
{
	struct gateway *gw = c->gw;

	if (c->busy) {
		c->dead = 1;
		return;
	}
	ev_io_stop(gw->loop, &c->read_w);
	ev_io_stop(gw->loop, &c->write_w);
	ev_timer_stop(gw->loop, &c->timer_w);
	close(c->fd);
	if (c->inflight != NULL)
		c->inflight->conn = NULL;
	if (c->stream != NULL)
		stream_gone(c);
	http_in_free(c->in);
	free(c->ibuf);
	free(c->obuf);
	TAILQ_REMOVE(&gw->conns, c, entry);
	gw->nconns--;
	free(c);
}

/* Write what the socket takes; the write watcher waits for the rest. */
static void
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->ooff < c->olen) {
		/* MSG_NOSIGNAL: a vanished peer is EPIPE here, not SIGPIPE. */
		n = send(
		    c->fd, c->obuf + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = 1;
			break;
		}
		c->ooff += (size_t)n;
		c->activity = 1;
	}
	if (c->ooff < c->olen && !c->dead) {
		ev_io_start(c->gw->loop, &c->write_w);
		return;
	}
	ev_io_stop(c->gw->loop, &c->write_w);
	c->ooff = c->olen = 0;
	if (c->ocap > GW_BUF_KEEP) {
		free(c->obuf);
		c->obuf = NULL;
		c->ocap = 0;
	}
}

static void
conn_timer_set(struct conn *c, enum conn_timer k, double secs, int restart)
{
	struct ev_loop *loop = c->gw->loop;

	if (k == c->tkind && !restart)
		return;
	ev_timer_stop(loop, &c->timer_w);
	c->tkind = k;
	if (k == T_NONE || secs <= 0)
		return;
	ev_timer_set(&c->timer_w, secs, 0.);
	ev_timer_start(loop, &c->timer_w);
}

static int
conn_can_parse(const struct conn *c)
{
	return (!c->dead && !c->closing && !c->final && c->inflight == NULL &&
	        c->stream == NULL && out_pending(c) <= GW_OUT_HIGH);
}

static void
conn_dispatch(struct conn *c, struct http_request *http)
{
	struct gateway *gw = c->gw;
	struct request *r;

	c->started = 0;
	c->sent_continue = 0;
	c->nrequests++;
	/* The next request's header deadline starts from its own bytes. */
	conn_timer_set(c, T_NONE, 0, 0);
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("gateway: request: out of memory");
		http_request_free(http);
		c->dead = 1;
		return;
	}
	r->http = http;
	r->conn = c;
	r->received = ev_now(gw->loop);
	c->inflight = r;
	c->final = !http->keep_alive;
	if (gw->draining)
		request_error(
		    r, 503, "shutting_down", "the server is shutting down");
	else
		gw->dispatch(gw->arg, r);
}

/* Parse and dispatch buffered requests while the connection may. */
static void
conn_process(struct conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	enum http_in_status st;
	const char *code, *msg;
	size_t used;
	int status;

	while (conn_can_parse(c) && c->ioff < c->ilen) {
		c->started = 1;
		st = http_in_feed(
		    c->in, c->ibuf + c->ioff, in_pending(c), &used);
		c->ioff += used;
		if (st == HTTP_IN_MORE)
			break;
		if (st == HTTP_IN_ERROR) {
			status = http_in_error(c->in, &code, &msg);
			conn_queue_error(c, status, code, msg);
			break;
		}
		conn_dispatch(c, http_in_take(c->in));
	}
	if (c->ioff == c->ilen) {
		c->ioff = c->ilen = 0;
		if (c->icap > GW_BUF_KEEP) {
			free(c->ibuf);
			c->ibuf = NULL;
			c->icap = 0;
		}
	}
	/* All earlier answers are queued (we are parsing), so this interim
	 * answer cannot overtake one. */
	if (conn_can_parse(c) && !c->gw->draining && !c->sent_continue &&
	    http_in_expects_continue(c->in)) {
		if (out_reserve(c, sizeof(cont) - 1) != 0) {
			c->dead = 1;
			return;
		}
		out_put(c, cont, sizeof(cont) - 1);
		c->sent_continue = 1;
	}
}

/* Start or stop reading and pick the timer for the connection's state. */
static void
conn_update(struct conn *c)
{
	const struct gateway_limits *l = &c->gw->limits;
	int act = c->activity, rd;

	c->activity = 0;
	if (c->lingering)
		return;
	/* Pipelined bytes behind a request in flight: up to one request. */
	rd = !c->eof && !c->dead && !c->closing && !c->final &&
	     out_pending(c) <= GW_OUT_HIGH &&
	     ((c->inflight == NULL && c->stream == NULL) ||
	         in_pending(c) <= l->max_header_bytes + l->max_body_bytes);
	if (rd)
		ev_io_start(c->gw->loop, &c->read_w);
	else
		ev_io_stop(c->gw->loop, &c->read_w);

	if (out_pending(c) > 0)
		conn_timer_set(c, T_STALL, l->idle_timeout_s, act);
	else if (c->inflight != NULL || c->stream != NULL)
		conn_timer_set(c, T_NONE, 0, 0);
	else if (c->started && !http_in_reading_body(c->in))
		conn_timer_set(c, T_HEAD, l->header_timeout_s, 0);
	else if (c->started)
		conn_timer_set(c, T_BODY, l->idle_timeout_s, act);
	else if (c->nrequests == 0)
		conn_timer_set(c, T_FRESH, l->header_timeout_s, 0);
	else
		conn_timer_set(c, T_IDLE, l->idle_timeout_s, 0);
}

/*
 * Our answer is out and we close. Closing a socket with unread input makes
 * the kernel send RST, which can destroy the answer before the client has
 * read it (a 413 sent while the body still streams in). So send FIN, then
 * read and drop input until the client closes or GW_LINGER_S passes.
 */
static void
conn_linger(struct conn *c)
{
	if (c->eof || shutdown(c->fd, SHUT_WR) == -1) {
		conn_close(c);
		return;
	}
	c->lingering = 1;
	free(c->ibuf);
	c->ibuf = NULL;
	c->ioff = c->ilen = c->icap = 0;
	ev_io_start(c->gw->loop, &c->read_w);
	conn_timer_set(c, T_LINGER, GW_LINGER_S, 1);
}

/*
 * Move the connection forward after any event: parse and dispatch what is
 * buffered, write what is queued, then close, linger or wait.
 */
void
conn_kick(struct conn *c)
{
	if (c->busy)
		return; /* the conn_kick() below us on the stack finishes */
	c->busy = 1;
	for (;;) {
		conn_process(c);
		if (c->dead)
			break;
		conn_flush(c);
		/* Flushing may have made room to parse more. */
		if (c->dead || !conn_can_parse(c) || c->ioff == c->ilen)
			break;
	}
	c->busy = 0;
	if (c->dead) {
		conn_close(c);
		return;
	}
	if (c->lingering)
		return;
	if (c->inflight == NULL && c->stream == NULL && out_pending(c) == 0) {
		if (c->closing) {
			conn_linger(c);
			return;
		}
		/* Half-closed client: answers sent, nothing more can come. */
		if (c->eof) {
			conn_close(c);
			return;
		}
	}
	/* A stream's client hung up: nobody reads the rest. */
	if (c->eof && c->stream != NULL) {
		conn_close(c);
		return;
	}
	conn_update(c);
	if (c->stream != NULL)
		stream_arm(c);
}

static int
in_reserve(struct conn *c)
{
	size_t cap;
	char *p;

	if (c->ioff > 0 && c->icap - c->ilen < GW_READ_MIN) {
		memmove(c->ibuf, c->ibuf + c->ioff, c->ilen - c->ioff);
		c->ilen -= c->ioff;
		c->ioff = 0;
	}
	if (c->icap - c->ilen >= GW_READ_MIN)
		return (0);
	for (cap = c->icap > 0 ? c->icap : GW_READ_MIN;
	     cap - c->ilen < GW_READ_MIN; cap *= 2)
		;
	if ((p = realloc(c->ibuf, cap)) == NULL)
		return (-1);
	c->ibuf = p;
	c->icap = cap;
	return (0);
}

static void
conn_discard(struct conn *c)
{
	char scratch[4096];
	ssize_t n;

	n = recv(c->fd, scratch, sizeof(scratch), 0);
	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR)))
		return;
	conn_close(c);
}

static void
gateway_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	ssize_t n;

	if (c->lingering) {
		conn_discard(c);
		return;
	}
	if (in_reserve(c) != 0) {
		log_warn("gateway: input buffer: out of memory");
		conn_close(c);
		return;
	}
	n = recv(c->fd, c->ibuf + c->ilen, c->icap - c->ilen, 0);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_close(c);
		return;
	}
	if (n == 0)
		c->eof = 1;
	c->ilen += (size_t)n;
	c->activity = 1;
	conn_kick(c);
}

static void
gateway_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;

	if (c->stream != NULL && out_pending(c) == 0)
		stream_pull(c);
	conn_kick(c);
}

static void
gateway_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	enum conn_timer k = c->tkind;

	c->tkind = T_NONE;
	if ((k == T_HEAD || k == T_BODY) && c->started) {
		conn_queue_error(c, 408, "request_timeout",
		    k == T_HEAD ? "request headers not complete in time"
		                : "request body stalled");
		conn_kick(c);
		return;
	}
	conn_close(c);
}

/* Over max_conns: say so in one write and close; no state kept. */
static void
gateway_refuse(int fd)
{
	static const char body[] =
	    "{\"error\":\"at_capacity\",\"message\":\"too many connections\"}";
	char buf[512], drain[4096];
	int n;

	n = snprintf(buf, sizeof(buf),
	    "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\nRetry-After: 1\r\n"
	    "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
	    sizeof(body) - 1, body);
	(void)send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	/* Unread input would turn our close into a RST that eats the 503. */
	(void)recv(fd, drain, sizeof(drain), MSG_DONTWAIT);
	close(fd);
}

static void
conn_open(struct gateway *gw, int fd)
{
	struct conn *c;
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (gw->nconns >= gw->limits.max_conns) {
		gateway_refuse(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->in = http_in_new(gw->limits.max_body_bytes,
	         gw->limits.max_header_bytes)) == NULL) {
		log_warn("gateway: new connection: out of memory");
		free(c);
		close(fd);
		return;
	}
	c->gw = gw;
	c->fd = fd;
	ev_io_init(&c->read_w, gateway_read_cb, fd, EV_READ);
	ev_io_init(&c->write_w, gateway_write_cb, fd, EV_WRITE);
	ev_init(&c->timer_w, gateway_timer_cb);
	c->read_w.data = c->write_w.data = c->timer_w.data = c;
	TAILQ_INSERT_TAIL(&gw->conns, c, entry);
	gw->nconns++;
	conn_update(c);
}

static void
gateway_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct gateway *gw = w->data;
	int fd;

	for (int i = 0; i < GW_ACCEPT_BATCH; i++) {
		fd = accept4(gw->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			conn_open(gw, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/*
		 * Out of descriptors or buffers: the pending connection stays
		 * in the backlog and the watcher would fire again at once, so
		 * pause accepting instead of spinning.
		 */
		if (ev_now(loop) - gw->last_warn >= GW_WARN_EVERY_S) {
			log_warn(
			    "gateway: accept: %s; pausing", strerror(errno));
			gw->last_warn = ev_now(loop);
		}
		ev_io_stop(loop, &gw->accept_w);
		ev_timer_set(&gw->pause_w, GW_ACCEPT_PAUSE_S, 0.);
		ev_timer_start(loop, &gw->pause_w);
		return;
	}
}

static void
gateway_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gateway *gw = w->data;

	if (!gw->draining)
		ev_io_start(loop, &gw->accept_w);
}

static int
listen_socket(const char *host, int port, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	char portstr[16];
	int fd = -1, one = 1, rv, saved = EADDRNOTAVAIL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((rv = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s", gai_strerror(rv));
		return (-1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (setsockopt(
		        fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errlen, "%s", strerror(saved));
	return (fd);
}

struct gateway *
gateway_open(struct ev_loop *loop, const char *addr,
    const struct gateway_limits *limits, gateway_dispatch_fn dispatch,
    void *arg, char *err, size_t errlen)
{
	struct gateway *gw;
	char host[256], why[128];
	int port;

	if (config_split_hostport(addr, host, sizeof(host), &port) != 0) {
		snprintf(err, errlen, "listen %s: not host:port", addr);
		return (NULL);
	}
	if ((gw = calloc(1, sizeof(*gw))) == NULL) {
		snprintf(err, errlen, "listen %s: out of memory", addr);
		return (NULL);
	}
	if ((gw->fd = listen_socket(host, port, why, sizeof(why))) == -1) {
		snprintf(err, errlen, "listen %s: %s", addr, why);
		free(gw);
		return (NULL);
	}
	gw->loop = loop;
	gw->limits = *limits;
	gw->dispatch = dispatch;
	gw->arg = arg;
	gw->last_warn = -GW_WARN_EVERY_S;
	TAILQ_INIT(&gw->conns);
	ev_io_init(&gw->accept_w, gateway_accept_cb, gw->fd, EV_READ);
	ev_init(&gw->pause_w, gateway_resume_cb);
	gw->accept_w.data = gw->pause_w.data = gw;
	ev_io_start(loop, &gw->accept_w);
	return (gw);
}

static void
gateway_unlisten(struct gateway *gw)
{
	ev_io_stop(gw->loop, &gw->accept_w);
	ev_timer_stop(gw->loop, &gw->pause_w);
	if (gw->fd != -1)
		close(gw->fd);
	gw->fd = -1;
}

void
gateway_drain(struct gateway *gw)
{
	struct conn *c, *next;

	gw->draining = 1;
	gateway_unlisten(gw);
	for (c = TAILQ_FIRST(&gw->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->lingering || (c->inflight == NULL &&
		                        out_pending(c) == 0 && !c->started)) {
			conn_close(c);
			continue;
		}
		/* A request half received is let in, to be told 503. */
		if (c->inflight != NULL || out_pending(c) > 0)
			c->closing = 1;
		conn_kick(c);
	}
}

void
gateway_set_max_body(struct gateway *gw, uint64_t max_body_bytes)
{
	gw->limits.max_body_bytes = max_body_bytes;
}

size_t
gateway_nconns(const struct gateway *gw)
{
	return (gw->nconns);
}

void
gateway_close(struct gateway *gw)
{
	struct conn *c;

	if (gw == NULL)
		return;
	gateway_unlisten(gw);
	while ((c = TAILQ_FIRST(&gw->conns)) != NULL) {
		c->busy = 0;
		conn_close(c);
	}
	free(gw);
}

void
request_respond(struct request *r, int status, const struct ipc_header *headers,
    size_t nheaders, const uint8_t *body, size_t body_len)
{
	struct conn *c = r->conn;
	const char *conn_hdr;
	int last, echo;

	if (r->fire != NULL) {
		/* Alarm events are answered with done or error, never so. */
		alarm_event_failed(
		    r, status, "internal", "answered as a request");
		return;
	}
	if (r->ws != NULL) {
		ws_event_failed(r, status, "internal", "answered as a request");
		return;
	}
	ws_pending_free(r);
	if (c != NULL && (status < 200 || status > 599)) {
		/* 1xx is never a final answer; the client would wait on. */
		request_error(
		    r, 502, "bad_response", "answered with status %d", status);
		return;
	}
	if (r->metrics != NULL)
		metrics_request(
		    r->metrics, r->ns_label, status, ev_time() - r->received);
	if (c != NULL) {
		c->inflight = NULL;
		last = c->final || c->gw->draining;
		conn_hdr = http_request_header(r->http, "Connection");
		echo = r->http->keep_alive && conn_hdr != NULL &&
		       strcasestr(conn_hdr, "keep-alive") != NULL;
		if (conn_queue_answer(c, status, headers, nheaders, body,
		        body_len, strcmp(r->http->method, "HEAD") == 0, last,
		        echo) != 0) {
			log_warn("gateway: answer: out of memory");
			c->dead = 1;
		}
		if (last)
			c->closing = 1;
	}
	http_request_free(r->http);
	free(r);
	if (c != NULL)
		conn_kick(c);
}

int
request_take_socket(struct request *r, int *fd, char **in, size_t *inlen,
    char **out, size_t *outlen)
{
	struct conn *c = r->conn;
	struct gateway *gw;

	http_request_free(r->http);
	free(r);
	if (c == NULL)
		return (-1);
	gw = c->gw;
	/* Bytes already read past the request belong to the new protocol. */
	*inlen = in_pending(c);
	if ((*in = malloc(*inlen + 1)) == NULL) {
		c->inflight = NULL;
		c->dead = 1;
		conn_kick(c);
		return (-1);
	}
	if (*inlen > 0)
		memcpy(*in, c->ibuf + c->ioff, *inlen);
	/* Earlier answers not yet sent go out first, before the 101. */
	*outlen = out_pending(c);
	if ((*out = malloc(*outlen + 1)) == NULL) {
		free(*in);
		c->inflight = NULL;
		c->dead = 1;
		conn_kick(c);
		return (-1);
	}
	if (*outlen > 0)
		memcpy(*out, c->obuf + c->ooff, *outlen);
	*fd = c->fd;
	ev_io_stop(gw->loop, &c->read_w);
	ev_io_stop(gw->loop, &c->write_w);
	ev_timer_stop(gw->loop, &c->timer_w);
	http_in_free(c->in);
	free(c->ibuf);
	free(c->obuf);
	TAILQ_REMOVE(&gw->conns, c, entry);
	gw->nconns--;
	free(c);
	return (0);
}

static void
request_verror(struct request *r, int status, const char *retry,
    const char *code, const char *fmt, va_list ap)
{
	struct ipc_header h[2] = {
	    {"Content-Type", "application/json"},
	    {"Retry-After", retry},
	};
	char msg[512], *body;

	if (r->fire != NULL) {
		vsnprintf(msg, sizeof(msg), fmt, ap);
		alarm_event_failed(r, status, code, msg);
		return;
	}
	if (r->ws != NULL) {
		vsnprintf(msg, sizeof(msg), fmt, ap);
		ws_event_failed(r, status, code, msg);
		return;
	}
	if (r->conn == NULL) {
		request_respond(r, status, NULL, 0, NULL, 0);
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if ((body = error_json(code, msg)) == NULL) {
		/* Without memory for the body, the connection goes. */
		log_warn("gateway: error answer: out of memory");
		r->conn->dead = 1;
		request_respond(r, status, h, 0, NULL, 0);
		return;
	}
	request_respond(r, status, h, retry != NULL ? 2 : 1,
	    (const uint8_t *)body, strlen(body));
	free(body);
}

void
request_error(
    struct request *r, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	request_verror(r, status, NULL, code, fmt, ap);
	va_end(ap);
}

void
request_error_retry(struct request *r, int status, unsigned retry_after_s,
    const char *code, const char *fmt, ...)
{
	char retry[16];
	va_list ap;

	snprintf(retry, sizeof(retry), "%u", retry_after_s);
	va_start(ap, fmt);
	request_verror(r, status, retry, code, fmt, ap);
	va_end(ap);
}
