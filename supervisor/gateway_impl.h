/*
 * gateway_impl.h — private to gateway.c and gateway_stream.c: a client
 * connection and a listener, and the output helpers both use.
 */
#ifndef DURO_GATEWAY_IMPL_H
#define DURO_GATEWAY_IMPL_H

#include "durod.h"

#define GW_READ_MIN (16 * 1024)   /* free input space for each read */
#define GW_OUT_HIGH (1024 * 1024) /* above: stop reading and parsing */
#define GW_BUF_KEEP (64 * 1024)   /* emptied buffers above are freed */
#define GW_ACCEPT_BATCH 64        /* accepts per wakeup, to stay fair */
#define GW_ACCEPT_PAUSE_S 0.1     /* after EMFILE: let fds free up */
#define GW_LINGER_S 2.0           /* after our FIN: drain the client */
#define GW_WARN_EVERY_S 10.0

/* What the connection's one timer is measuring. */
enum conn_timer {
	T_NONE,
	T_FRESH, /* new connection, first request not begun */
	T_HEAD,  /* a request begun, its headers not complete */
	T_BODY,  /* its body arriving: no progress for idle_timeout_s */
	T_IDLE,  /* keep-alive between requests */
	T_STALL, /* answers queued, client not reading them */
	T_LINGER,
};

struct conn {
	struct gateway *gw;
	TAILQ_ENTRY(conn) entry;
	int fd;
	ev_io read_w, write_w;
	ev_timer timer_w;
	enum conn_timer tkind;

	struct http_in *in;
	char *ibuf; /* unparsed input is ibuf[ioff..ilen) */
	size_t ioff, ilen, icap;
	char *obuf; /* unsent output is obuf[ooff..olen) */
	size_t ooff, olen, ocap;
	struct request *inflight;
	struct stream *stream; /* the answer's body is still being streamed */
	unsigned nrequests;

	unsigned started : 1;       /* bytes of the next request parsed */
	unsigned sent_continue : 1; /* "100 Continue" sent for it */
	unsigned final : 1;         /* the request in flight is the last */
	unsigned eof : 1;           /* the client shut down its side */
	unsigned closing : 1;       /* close once the output is flushed */
	unsigned lingering : 1;     /* our FIN sent, discarding input */
	unsigned dead : 1;          /* close as soon as it is safe */
	unsigned busy : 1;          /* inside conn_kick(): do not free */
	unsigned activity : 1;      /* bytes moved since the last update */
};

struct gateway {
	struct ev_loop *loop;
	int fd;
	ev_io accept_w;
	ev_timer pause_w;
	ev_tstamp last_warn;
	struct gateway_limits limits;
	gateway_dispatch_fn dispatch;
	void *arg;
	TAILQ_HEAD(conn_list, conn) conns;
	size_t nconns;
	int draining;
};

size_t out_pending(const struct conn *);
int out_reserve(struct conn *, size_t n);
void out_put(struct conn *, const void *, size_t);
void out_puts(struct conn *, const char *);
/* Queue an answer's status line and headers (and body, unless chunked:
 * then the body follows as chunks). 0, or -1 when out of memory. */
int conn_queue_head(struct conn *, int status, const struct ipc_header *,
    size_t nh, uint64_t body_len, int chunked, int head_only, int last,
    int keep_alive_echo);
/* Parse, dispatch, write, close as the connection's state says. */
void conn_kick(struct conn *);
/* From conn_close(): the client of a stream went away. */
void stream_gone(struct conn *);
/* From the write watcher: a pull stream may write more now. */
void stream_pull(struct conn *);
/* After conn_kick(): a pull stream with its output sent wants the write
 * watcher, to be asked for more on the next loop iteration. */
void stream_arm(struct conn *);

#endif
