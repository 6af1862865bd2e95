/*
 * ctl_http.c — a tiny HTTP/1.1 client: one request per connection
 * ("Connection: close"), over TCP, with timeouts.
 *
 * libhttp-parser reads the response: Content-Length, chunked and
 * close-delimited bodies alike, handed to us in pieces as they arrive, so
 * an endless event stream or a large export never sits in memory. A
 * response is complete only when the parser says so (the last chunk, all
 * Content-Length bytes, or EOF for a close-delimited body); a connection
 * that ends before that is an error, which is how `duroctl events` tells
 * durod closing the stream cleanly from a broken connection.
 *
 * The socket is non-blocking and every wait goes through poll() with the
 * request's timeout. A request body is sent before the response is read;
 * when durod answers early (an error) and closes, the send fails, and we
 * still read and report its answer.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <http_parser.h>

#include "duroctl.h"

#define CONNECT_TIMEOUT_MS 5000
#define IO_CHUNK 65536
#define MAX_BODY (256u << 20)      /* a JSON answer we keep in memory */
#define MAX_ERROR_BODY (64u << 10) /* an error body: the rest is dropped */

struct http_rx {
	http_parser parser;
	struct ctl_resp *resp;
	char field[32]; /* the header name being read */
	size_t fieldlen;
	int in_value;    /* the last header callback was a value */
	char *value_dst; /* where this header's value goes, or NULL */
	size_t value_cap;
	int complete;
	int sink_rv;
	int too_large;
};

static int
rx_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_rx *rx = p->data;

	if (rx->in_value) {
		rx->in_value = 0;
		rx->fieldlen = 0;
	}
	/* A name too long for field matches nothing we want. */
	if (len >= sizeof(rx->field) - rx->fieldlen) {
		rx->fieldlen = sizeof(rx->field);
		return (0);
	}
	memcpy(rx->field + rx->fieldlen, at, len);
	rx->fieldlen += len;
	return (0);
}

static int
rx_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_rx *rx = p->data;
	size_t have;

	if (!rx->in_value) {
		rx->in_value = 1;
		rx->value_dst = NULL;
		if (rx->fieldlen == 12 &&
		    strncasecmp(rx->field, "content-type", 12) == 0) {
			rx->value_dst = rx->resp->content_type;
			rx->value_cap = sizeof(rx->resp->content_type);
		} else if (rx->fieldlen == 11 &&
		           strncasecmp(rx->field, "retry-after", 11) == 0) {
			rx->value_dst = rx->resp->retry_after;
			rx->value_cap = sizeof(rx->resp->retry_after);
		}
		if (rx->value_dst != NULL)
			rx->value_dst[0] = '\0';
	}
	if (rx->value_dst == NULL)
		return (0);
	have = strlen(rx->value_dst);
	if (len >= rx->value_cap - have)
		len = rx->value_cap - have - 1;
	memcpy(rx->value_dst + have, at, len);
	rx->value_dst[have + len] = '\0';
	return (0);
}

static int
rx_headers_complete(http_parser *p)
{
	struct http_rx *rx = p->data;

	rx->resp->status = (int)p->status_code;
	return (0);
}

static int
rx_body(http_parser *p, const char *at, size_t len)
{
	struct http_rx *rx = p->data;
	struct ctl_resp *r = rx->resp;
	int ok = r->status >= 200 && r->status < 300;

	if (ok && r->sink != NULL) {
		if ((rx->sink_rv = r->sink(r->sink_arg, at, len)) != 0)
			return (-1);
		return (0);
	}
	if (!ok) {
		if (r->body.len >= MAX_ERROR_BODY)
			return (0);
		if (len > MAX_ERROR_BODY - r->body.len)
			len = MAX_ERROR_BODY - r->body.len;
	} else if (len > MAX_BODY - r->body.len) {
		rx->too_large = 1;
		return (-1);
	}
	ctl_buf_add(&r->body, at, len);
	if (r->body.err) {
		rx->too_large = 1;
		return (-1);
	}
	return (0);
}

static int
rx_message_complete(http_parser *p)
{
	struct http_rx *rx = p->data;

	/* Whatever follows is not ours: we asked for one response. */
	rx->complete = 1;
	http_parser_pause(p, 1);
	return (0);
}

static const http_parser_settings rx_settings = {
    .on_header_field = rx_header_field,
    .on_header_value = rx_header_value,
    .on_headers_complete = rx_headers_complete,
    .on_body = rx_body,
    .on_message_complete = rx_message_complete,
};

/* Wait until fd is ready for events: 0, ETIMEDOUT or an errno. */
static int
wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int n;

	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno);
	return (n == 0 ? ETIMEDOUT : 0);
}

/* Connect to one address within CONNECT_TIMEOUT_MS: 0, or an errno. */
static int
connect_one(const struct addrinfo *ai, int *fdp)
{
	socklen_t elen = sizeof(int);
	int fd, e = 0;

	fd = socket(ai->ai_family,
	    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return (errno);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS)
			e = errno;
		else if ((e = wait_fd(fd, POLLOUT, CONNECT_TIMEOUT_MS)) == 0 &&
		         getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
			e = errno;
	}
	if (e != 0) {
		close(fd);
		return (e);
	}
	*fdp = fd;
	return (0);
}

static int
http_connect(const struct ctl_addr *a, int *fdp, char *err, size_t errlen)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res, *ai;
	int rv, e = ECONNREFUSED;

	*fdp = -1;
	if ((rv = getaddrinfo(a->host, a->port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot reach durod at %s: %s", a->text,
		    gai_strerror(rv));
		return (CTL_ECONN);
	}
	for (ai = res; ai != NULL && *fdp < 0; ai = ai->ai_next)
		e = connect_one(ai, fdp);
	freeaddrinfo(res);
	if (*fdp < 0) {
		snprintf(err, errlen, "cannot reach durod at %s: %s", a->text,
		    e == ETIMEDOUT ? "connect timed out" : strerror(e));
		return (CTL_ECONN);
	}
	return (0);
}

/* Send n bytes: 0, or an errno (ETIMEDOUT when the peer stalls). */
static int
send_all(int fd, const char *p, size_t n, int timeout_ms)
{
	ssize_t w;
	int e;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) >= 0) {
			p += w;
			n -= (size_t)w;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((e = wait_fd(fd, POLLOUT, timeout_ms)) != 0)
				return (e);
		} else if (errno != EINTR) {
			return (errno);
		}
	}
	return (0);
}

/* The request line and headers. */
static void
http_head(struct ctl_buf *b, const struct ctl_addr *a, const struct ctl_req *q)
{
	int v6 = strchr(a->host, ':') != NULL;

	ctl_buf_printf(b,
	    "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: duroctl\r\n"
	    "Connection: close\r\n",
	    q->method, q->target, v6 ? "[" : "", a->host, v6 ? "]" : "",
	    a->port);
	if (q->content_type != NULL)
		ctl_buf_printf(b, "Content-Type: %s\r\n", q->content_type);
	if (q->body_fd >= 0)
		ctl_buf_printf(b, "Content-Length: %llu\r\n",
		    (unsigned long long)q->body_fd_len);
	else if (q->body != NULL || strcmp(q->method, "POST") == 0 ||
	         strcmp(q->method, "PUT") == 0)
		ctl_buf_printf(b, "Content-Length: %zu\r\n", q->body_len);
	ctl_buf_str(b, "\r\n");
}

/*
 * Stream the file body. 0, an errno of the socket (in *sock_err), or
 * CTL_ELOCAL with err when the file cannot be read as long as it said.
 */
static int
send_file(
    int fd, const struct ctl_req *q, int *sock_err, char *err, size_t errlen)
{
	uint64_t left = q->body_fd_len;
	char *buf;
	ssize_t n;

	if ((buf = malloc(IO_CHUNK)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (CTL_ELOCAL);
	}
	while (left > 0) {
		n = read(q->body_fd, buf, left < IO_CHUNK ? left : IO_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "reading the file to send: %s",
			    n < 0 ? strerror(errno) : "it got shorter");
			free(buf);
			return (CTL_ELOCAL);
		}
		if ((*sock_err = send_all(fd, buf, (size_t)n, q->timeout_ms)) !=
		    0)
			break;
		left -= (uint64_t)n;
	}
	free(buf);
	return (0);
}

/* Send the whole request: 0 (*sock_err says whether the socket failed)
 * or CTL_ELOCAL with err. */
static int
http_send(int fd, const struct ctl_addr *a, const struct ctl_req *q,
    int *sock_err, char *err, size_t errlen)
{
	struct ctl_buf head = {0};

	http_head(&head, a, q);
	if (head.err) {
		ctl_buf_free(&head);
		snprintf(err, errlen, "out of memory");
		return (CTL_ELOCAL);
	}
	*sock_err = send_all(fd, head.p, head.len, q->timeout_ms);
	ctl_buf_free(&head);
	if (*sock_err == 0 && q->body != NULL)
		*sock_err = send_all(fd, q->body, q->body_len, q->timeout_ms);
	if (*sock_err == 0 && q->body_fd >= 0)
		return (send_file(fd, q, sock_err, err, errlen));
	return (0);
}

/* Read until the response is complete: 0, a sink's code or CTL_ECONN. */
static int
http_recv(int fd, const struct ctl_addr *a, const struct ctl_req *q,
    struct http_rx *rx, char *err, size_t errlen)
{
	char buf[IO_CHUNK];
	enum http_errno he;
	ssize_t n;
	int e;

	for (;;) {
		if ((n = recv(fd, buf, sizeof(buf), 0)) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				snprintf(err, errlen,
				    "connection to durod at %s broke: %s",
				    a->text, strerror(errno));
				return (CTL_ECONN);
			}
			if ((e = wait_fd(fd, POLLIN, q->timeout_ms)) == 0)
				continue;
			if (e == ETIMEDOUT)
				snprintf(err, errlen,
				    "no answer from durod at %s within %d s",
				    a->text, q->timeout_ms / 1000);
			else
				snprintf(err, errlen,
				    "waiting for durod at %s: %s", a->text,
				    strerror(e));
			return (CTL_ECONN);
		}
		/* n == 0 tells the parser about EOF. */
		http_parser_execute(&rx->parser, &rx_settings, buf, (size_t)n);
		if (rx->complete)
			return (0);
		if (rx->sink_rv != 0)
			return (rx->sink_rv);
		he = HTTP_PARSER_ERRNO(&rx->parser);
		if (rx->too_large)
			snprintf(err, errlen,
			    "answer from durod at %s: over %u "
			    "MiB or out of memory",
			    a->text, MAX_BODY >> 20);
		else if (n == 0)
			snprintf(err, errlen,
			    "durod at %s closed the connection before the "
			    "answer was complete",
			    a->text);
		else if (he != HPE_OK)
			snprintf(err, errlen,
			    "malformed answer from durod at %s: %s", a->text,
			    http_errno_description(he));
		if (rx->too_large || n == 0 || he != HPE_OK)
			return (CTL_ECONN);
	}
}

int
ctl_http(const struct ctl_addr *a, const struct ctl_req *q, struct ctl_resp *r,
    char *err, size_t errlen)
{
	struct http_rx rx;
	int fd, rv, sock_err = 0, on = 1;

	r->status = 0;
	r->content_type[0] = r->retry_after[0] = '\0';
	if ((rv = http_connect(a, &fd, err, errlen)) != 0)
		return (rv);
	/* An endless stream: let the kernel notice a peer that vanished. */
	if (q->timeout_ms < 0)
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	if ((rv = http_send(fd, a, q, &sock_err, err, errlen)) != 0 ||
	    sock_err == ETIMEDOUT) {
		close(fd);
		if (rv == 0)
			snprintf(err, errlen,
			    "durod at %s did not take the request in %d s",
			    a->text, q->timeout_ms / 1000);
		return (rv != 0 ? rv : CTL_ECONN);
	}
	memset(&rx, 0, sizeof(rx));
	http_parser_init(&rx.parser, HTTP_RESPONSE);
	rx.parser.data = &rx;
	rx.resp = r;
	rv = http_recv(fd, a, q, &rx, err, errlen);
	close(fd);
	/* durod may answer (an error) without reading all we send. */
	if (rv == CTL_ECONN && sock_err != 0 && !rx.complete)
		snprintf(err, errlen, "sending to durod at %s: %s", a->text,
		    strerror(sock_err));
	return (rv);
}

void
ctl_resp_free(struct ctl_resp *r)
{
	ctl_buf_free(&r->body);
}
