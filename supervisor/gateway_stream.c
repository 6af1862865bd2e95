/*
 * gateway_stream.c — answers whose body follows in pieces (chunked).
 *
 * Two kinds of producer use it. A push stream (the admin API's /events)
 * writes whenever it has something; its client must keep up: past
 * max_pending unread bytes stream_write() refuses and the producer drops
 * the client, so a slow reader costs a bounded buffer and never slows
 * durod. A pull stream (an export) writes only when asked through
 * ops->more, which happens once the connection's output has been sent, one
 * piece per loop iteration, so a big body never sits in memory and other
 * connections get their turn.
 *
 * While a stream is open its connection parses no further request: a
 * pipelined request waits until the stream ends.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durod.h"
#include "gateway_impl.h"

#define PUSH_SNDBUF (64 * 1024)

struct stream {
	struct conn *c;
	const struct stream_ops *ops;
	void *arg;
	size_t max_pending;
};

struct stream *
request_stream(struct request *r, int status, const struct ipc_header *h,
    size_t nh, const struct stream_ops *ops, void *arg, size_t max_pending)
{
	struct conn *c = r->conn;
	struct stream *s = NULL;
	int last;

	if (c != NULL && (s = calloc(1, sizeof(*s))) != NULL) {
		last = c->final || c->gw->draining;
		if (conn_queue_head(c, status, h, nh, 0, 1, 0, last, 0) != 0) {
			free(s);
			s = NULL;
		}
	}
	if (c != NULL && s == NULL) {
		log_warn("gateway: stream: out of memory");
		c->dead = 1;
	}
	if (s != NULL && ops->more == NULL) {
		/* A push stream's backlog is bounded by max_pending: keep the
		 * kernel from growing a second, unbounded-looking one. */
		int sndbuf = PUSH_SNDBUF;
		(void)setsockopt(
		    c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	if (s != NULL) {
		s->c = c;
		s->ops = ops;
		s->arg = arg;
		s->max_pending = max_pending;
		c->stream = s;
	}
	if (c != NULL)
		c->inflight = NULL;
	http_request_free(r->http);
	free(r);
	if (c != NULL)
		conn_kick(c);
	return (s);
}

int
stream_write(struct stream *s, const void *p, size_t n)
{
	struct conn *c = s->c;
	char line[32];
	int len;

	if (n == 0)
		return (0); /* an empty chunk would end the body */
	if (out_pending(c) + n > s->max_pending)
		return (-1);
	len = snprintf(line, sizeof(line), "%zx\r\n", n);
	if (out_reserve(c, (size_t)len + n + 2) != 0)
		return (-1);
	out_put(c, line, (size_t)len);
	out_put(c, p, n);
	out_put(c, "\r\n", 2);
	conn_kick(c);
	return (0);
}

size_t
stream_pending(const struct stream *s)
{
	return (out_pending(s->c));
}

/* Detach the stream from its connection and free it. */
static struct conn *
stream_detach(struct stream *s)
{
	struct conn *c = s->c;

	c->stream = NULL;
	free(s);
	return (c);
}

void
stream_end(struct stream *s)
{
	struct conn *c = stream_detach(s);

	if (out_reserve(c, 5) != 0)
		c->dead = 1;
	else
		out_put(c, "0\r\n\r\n", 5);
	if (c->final || c->gw->draining)
		c->closing = 1;
	conn_kick(c);
}

void
stream_abort(struct stream *s)
{
	struct conn *c = stream_detach(s);

	c->dead = 1;
	conn_kick(c);
}

void
stream_gone(struct conn *c)
{
	struct stream *s = c->stream;
	const struct stream_ops *ops = s->ops;
	void *arg = s->arg;

	stream_detach(s);
	if (ops->gone != NULL)
		ops->gone(arg);
}

void
stream_pull(struct conn *c)
{
	struct stream *s = c->stream;

	if (s->ops->more == NULL)
		return;
	/* more() may end or abort the stream: the connection must outlive
	 * the call, which conn_kick() then finishes. */
	c->busy = 1;
	s->ops->more(s, s->arg);
	c->busy = 0;
}

void
stream_arm(struct conn *c)
{
	if (c->stream->ops->more != NULL && out_pending(c) == 0 && !c->dead)
		ev_io_start(c->gw->loop, &c->write_w);
}
