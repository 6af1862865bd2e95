/*
 * http_in.c — incremental HTTP/1.x request parser over libhttp-parser.
 *
 * http_parser does the grammar; this file collects what its callbacks hand
 * out into a struct http_request and enforces what http_parser does not:
 * our header and body limits, legal header names and values, UTF-8 in the
 * target and values (they travel to workers inside JSON), HTTP/1.0 and 1.1
 * only, no CONNECT. It does no I/O, so it is unit-tested and fuzzed alone.
 *
 * Pipelining: on a complete request the parser pauses itself, feed returns
 * HTTP_IN_REQUEST and how much it used; the caller takes the request and
 * feeds the rest later. Nothing of a later request is parsed before then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "durod.h"

/* What one header line costs besides its name and value: ": " and CRLF. */
#define HEADER_LINE_OVERHEAD 4
/* First allocation for a body of unknown length (chunked). */
#define BODY_MIN_ALLOC 4096

struct buf {
	char *p;
	size_t len, cap;
};

struct hdr_off {
	size_t name, value; /* offsets into http_in.hbuf */
};

enum last_cb {
	CB_NONE,
	CB_FIELD,
	CB_VALUE,
};

struct http_in {
	http_parser parser;
	uint64_t max_body;
	size_t max_header;

	/* the request being parsed */
	struct buf url;
	struct buf hbuf; /* "name\0value\0name\0value\0..." */
	struct hdr_off *offs;
	size_t noffs, offcap;
	enum last_cb last;
	int value_at_end; /* last value data ran to the end of its feed */
	const char *feed_start, *feed_end;
	size_t head_bytes;  /* request line and headers, as counted */
	int trailers;       /* past the last chunk: headers are trailers */
	uint64_t body_hint; /* Content-Length, to allocate the body once */
	struct buf body;
	struct http_request *req;  /* headers complete, body arriving */
	struct http_request *done; /* complete, not yet taken */
	int expect_continue;
	int last_request; /* the connection carries no further request */

	int err_status;
	const char *err_code;
	char err_msg[160];
};

static int on_message_begin(http_parser *);
static int on_url(http_parser *, const char *, size_t);
static int on_header_field(http_parser *, const char *, size_t);
static int on_header_value(http_parser *, const char *, size_t);
static int on_headers_complete(http_parser *);
static int on_body(http_parser *, const char *, size_t);
static int on_message_complete(http_parser *);
static int on_chunk_header(http_parser *);

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

/*
 * Record the first error and make the callback fail: http_parser then
 * stops with HPE_CB_*, and feed reports our status instead of its own.
 */
static int fail(struct http_in *in, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
fail(struct http_in *in, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (in->err_status == 0) {
		in->err_status = status;
		in->err_code = code;
		va_start(ap, fmt);
		vsnprintf(in->err_msg, sizeof(in->err_msg), fmt, ap);
		va_end(ap);
	}
	return (-1);
}

static int
fail_oom(struct http_in *in)
{
	return (fail(in, 500, "internal", "out of memory"));
}

/* Append n bytes, growing geometrically; the caller has checked limits. */
static int
buf_append(struct buf *b, const char *p, size_t n)
{
	size_t cap;
	char *np;

	if (n > b->cap - b->len) {
		cap = b->cap > 0 ? b->cap : 64;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2)
				return (-1);
			cap *= 2;
		}
		if ((np = realloc(b->p, cap)) == NULL)
			return (-1);
		b->p = np;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return (0);
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Count request-line and header bytes against max_header. */
static int
count_head(struct http_in *in, size_t n)
{
	if (n > in->max_header - in->head_bytes) {
		in->head_bytes = in->max_header;
		return (fail(in, 431, "headers_too_large",
		    "request line and headers exceed %zu bytes",
		    in->max_header));
	}
	in->head_bytes += n;
	return (0);
}

static int
on_message_begin(http_parser *p)
{
	struct http_in *in = p->data;

	in->url.len = 0;
	in->hbuf.len = 0;
	in->noffs = 0;
	in->last = CB_NONE;
	in->value_at_end = 0;
	in->head_bytes = 0;
	in->trailers = 0;
	in->body_hint = 0;
	in->expect_continue = 0;
	buf_free(&in->body);
	return (0);
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct http_in *in = p->data;

	if (count_head(in, len) != 0)
		return (-1);
	if (buf_append(&in->url, at, len) != 0)
		return (fail_oom(in));
	return (0);
}

/* End the header being collected: NUL-terminate its value, drop its OWS. */
static int
header_finish(struct http_in *in)
{
	struct hdr_off *h;

	if (in->last == CB_NONE)
		return (0);
	h = &in->offs[in->noffs - 1];
	if (in->last == CB_FIELD) {
		/* http_parser reports an empty value with no callback at all
		 * in some states; give it one. */
		if (buf_append(&in->hbuf, "", 1) != 0)
			return (fail_oom(in));
		h->value = in->hbuf.len;
	}
	while (in->hbuf.len > h->value &&
	       (in->hbuf.p[in->hbuf.len - 1] == ' ' ||
	           in->hbuf.p[in->hbuf.len - 1] == '\t'))
		in->hbuf.len--;
	if (buf_append(&in->hbuf, "", 1) != 0)
		return (fail_oom(in));
	in->last = CB_NONE;
	return (0);
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_in *in = p->data;
	struct hdr_off *n;

	if (count_head(in, len) != 0)
		return (-1);
	/* Trailers are counted against the limit but never forwarded. */
	if (in->trailers)
		return (0);
	if (in->last != CB_FIELD) {
		if (header_finish(in) != 0)
			return (-1);
		if (in->noffs == IPC_MAX_HEADERS)
			return (fail(in, 431, "headers_too_large",
			    "more than %d header fields", IPC_MAX_HEADERS));
		if (count_head(in, HEADER_LINE_OVERHEAD) != 0)
			return (-1);
		if (in->noffs == in->offcap) {
			size_t cap = in->offcap > 0 ? in->offcap * 2 : 16;
			if ((n = reallocarray(in->offs, cap, sizeof(*n))) ==
			    NULL)
				return (fail_oom(in));
			in->offs = n;
			in->offcap = cap;
		}
		in->offs[in->noffs].name = in->hbuf.len;
		in->offs[in->noffs].value = 0;
		in->noffs++;
		in->last = CB_FIELD;
	}
	if (buf_append(&in->hbuf, at, len) != 0)
		return (fail_oom(in));
	return (0);
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_in *in = p->data;

	if (count_head(in, len) != 0)
		return (-1);
	if (in->trailers)
		return (0);
	if (in->last == CB_FIELD) {
		if (buf_append(&in->hbuf, "", 1) != 0)
			return (fail_oom(in));
		in->offs[in->noffs - 1].value = in->hbuf.len;
	} else if (in->last != CB_VALUE)
		return (fail(
		    in, 400, "bad_request", "header value without a name"));
	else if (!in->value_at_end || at != in->feed_start) {
		/*
		 * A second piece of one value that is not simply the rest of
		 * it, cut where one feed ended and the next began:
		 * http_parser joined an obs-fold continuation line.
		 * RFC 7230 3.2.4 lets a server refuse those, and splicing them
		 * silently is how request smuggling starts.
		 */
		return (fail(in, 400, "bad_request",
		    "obsolete line folding in a header value"));
	}
	in->last = CB_VALUE;
	in->value_at_end = at + len == in->feed_end;
	if (buf_append(&in->hbuf, at, len) != 0)
		return (fail_oom(in));
	return (0);
}

/* Check names and values now that each is whole. */
static int
headers_check(struct http_in *in)
{
	size_t nhost = 0;

	for (size_t i = 0; i < in->noffs; i++) {
		const char *name = in->hbuf.p + in->offs[i].name;
		const char *value = in->hbuf.p + in->offs[i].value;
		size_t nlen = in->offs[i].value - 1 - in->offs[i].name;

		if (strlen(name) != nlen || !ipc_is_token(name))
			return (fail(in, 400, "bad_request",
			    "header %zu: name is not an HTTP token", i + 1));
		if (!ipc_is_header_value(value))
			return (fail(in, 400, "bad_request",
			    "header %s: value has control characters", name));
		if (!ipc_is_utf8(value, strlen(value)))
			return (fail(in, 400, "bad_request",
			    "header %s: value is not valid UTF-8", name));
		nhost += strcasecmp(name, "Host") == 0;
	}
	/* RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one before. */
	if (nhost > 1 || (nhost == 0 && in->parser.http_minor == 1))
		return (fail(in, 400, "bad_request",
		    "an HTTP/1.1 request needs exactly one Host header"));
	return (0);
}

/* The target must be printable (no CTLs, which lax http_parser lets
 * through) and UTF-8. */
static int
target_check(struct http_in *in)
{
	if (in->url.len == 0)
		return (fail(in, 400, "bad_request", "empty request target"));
	for (size_t i = 0; i < in->url.len; i++) {
		unsigned char c = (unsigned char)in->url.p[i];
		if (c <= ' ' || c == 0x7f)
			return (fail(in, 400, "bad_request",
			    "request target has control characters"));
	}
	if (!ipc_is_utf8(in->url.p, in->url.len))
		return (fail(in, 400, "bad_request",
		    "request target is not valid UTF-8"));
	return (0);
}

/*
 * Move the collected headers into one block: the ipc_header array followed
 * by the strings it points at, so a request frees its headers at once.
 */
static struct ipc_header *
headers_block(struct http_in *in)
{
	struct ipc_header *h;
	char *s;

	if (in->noffs == 0)
		return (NULL);
	if ((h = malloc(in->noffs * sizeof(*h) + in->hbuf.len)) == NULL)
		return (NULL);
	s = (char *)(h + in->noffs);
	memcpy(s, in->hbuf.p, in->hbuf.len);
	for (size_t i = 0; i < in->noffs; i++) {
		h[i].name = s + in->offs[i].name;
		h[i].value = s + in->offs[i].value;
	}
	return (h);
}

static int
request_build(struct http_in *in)
{
	struct http_request *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (fail_oom(in));
	r->method =
	    strdup(http_method_str((enum http_method)in->parser.method));
	r->target = strndup(in->url.p, in->url.len);
	r->headers = headers_block(in);
	r->nheaders = in->noffs;
	if (r->method == NULL || r->target == NULL ||
	    (r->headers == NULL && in->noffs > 0)) {
		http_request_free(r);
		return (fail_oom(in));
	}
	in->req = r;
	return (0);
}

static int
on_headers_complete(http_parser *p)
{
	struct http_in *in = p->data;
	const char *expect;

	if (header_finish(in) != 0)
		return (-1);
	if (p->http_major != 1 || p->http_minor > 1)
		return (fail(in, 505, "http_version_not_supported",
		    "HTTP/%u.%u is not supported, only HTTP/1.0 and HTTP/1.1",
		    p->http_major, p->http_minor));
	if (p->method == HTTP_CONNECT)
		return (fail(
		    in, 501, "not_implemented", "CONNECT is not supported"));
	if (target_check(in) != 0 || headers_check(in) != 0)
		return (-1);
	if (!(p->flags & F_CHUNKED) && (p->flags & F_CONTENTLENGTH)) {
		if (p->content_length > in->max_body)
			return (fail(in, 413, "body_too_large",
			    "body of %llu bytes, limit %llu",
			    (unsigned long long)p->content_length,
			    (unsigned long long)in->max_body));
		in->body_hint = p->content_length;
	}
	if (request_build(in) != 0)
		return (-1);
	expect = http_request_header(in->req, "Expect");
	in->expect_continue = p->http_minor == 1 && expect != NULL &&
	                      strcasecmp(expect, "100-continue") == 0;
	return (0);
}

static int
on_chunk_header(http_parser *p)
{
	struct http_in *in = p->data;

	/* Size known before the data: refuse an oversized chunk up front. */
	if (p->content_length == 0)
		in->trailers = 1;
	else if (p->content_length > in->max_body - in->body.len)
		return (fail(in, 413, "body_too_large",
		    "chunked body over the limit of %llu bytes",
		    (unsigned long long)in->max_body));
	return (0);
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct http_in *in = p->data;
	char *np;

	if (len > in->max_body - in->body.len)
		return (fail(in, 413, "body_too_large",
		    "body over the limit of %llu bytes",
		    (unsigned long long)in->max_body));
	/* A Content-Length body is allocated once; pages not yet written
	 * cost nothing, so a lying Content-Length costs little. */
	if (in->body.cap == 0) {
		size_t want = in->body_hint > len ? (size_t)in->body_hint : len;
		if (want < BODY_MIN_ALLOC && in->body_hint == 0)
			want = BODY_MIN_ALLOC;
		if ((np = malloc(want)) == NULL)
			return (fail_oom(in));
		in->body.p = np;
		in->body.cap = want;
	}
	if (buf_append(&in->body, at, len) != 0)
		return (fail_oom(in));
	return (0);
}

static int
on_message_complete(http_parser *p)
{
	struct http_in *in = p->data;
	struct http_request *r = in->req;

	if (r == NULL)
		return (
		    fail(in, 400, "bad_request", "request without headers"));
	if (in->body.len > 0) {
		r->body = (uint8_t *)in->body.p;
		r->body_len = in->body.len;
		memset(&in->body, 0, sizeof(in->body));
	} else
		buf_free(&in->body);
	r->keep_alive = http_should_keep_alive(p);
	r->upgrade = p->upgrade;
	/*
	 * After an upgrade request the bytes that follow are another
	 * protocol, which nobody speaks yet: answer it and close.
	 */
	if (r->upgrade)
		r->keep_alive = 0;
	/* Lax http_parser would go on parsing after "Connection: close". */
	in->last_request = !r->keep_alive;
	in->done = r;
	in->req = NULL;
	http_parser_pause(p, 1);
	return (0);
}

struct http_in *
http_in_new(uint64_t max_body, size_t max_header)
{
	struct http_in *in;

	if ((in = calloc(1, sizeof(*in))) == NULL)
		return (NULL);
	http_parser_init(&in->parser, HTTP_REQUEST);
	in->parser.data = in;
	in->max_body = max_body;
	in->max_header = max_header;
	return (in);
}

void
http_in_free(struct http_in *in)
{
	if (in == NULL)
		return;
	buf_free(&in->url);
	buf_free(&in->hbuf);
	buf_free(&in->body);
	free(in->offs);
	http_request_free(in->req);
	http_request_free(in->done);
	free(in);
}

/* Our status for an error http_parser found by itself. */
static void
parser_error(struct http_in *in, enum http_errno e)
{
	if (e == HPE_HEADER_OVERFLOW)
		fail(in, 431, "headers_too_large", "%s",
		    http_errno_description(e));
	else
		fail(in, 400, "bad_request", "%s", http_errno_description(e));
}

enum http_in_status
http_in_feed(struct http_in *in, const char *buf, size_t len, size_t *consumed)
{
	enum http_errno e;
	size_t n;

	*consumed = 0;
	if (in->err_status != 0)
		return (HTTP_IN_ERROR);
	if (in->done != NULL)
		return (HTTP_IN_REQUEST);
	/* A zero-length execute means EOF to http_parser; never send one. */
	if (len == 0)
		return (HTTP_IN_MORE);
	if (in->last_request) {
		fail(in, 400, "bad_request",
		    "bytes after the last request of the connection");
		return (HTTP_IN_ERROR);
	}
	http_parser_pause(&in->parser, 0);
	in->feed_start = buf;
	in->feed_end = buf + len;
	n = http_parser_execute(&in->parser, &settings, buf, len);
	*consumed = n;
	e = HTTP_PARSER_ERRNO(&in->parser);
	if (e == HPE_PAUSED && in->done != NULL)
		return (HTTP_IN_REQUEST);
	if (e == HPE_OK && n == len)
		return (HTTP_IN_MORE);
	/* Our callbacks set err_status; anything else is http_parser's. */
	parser_error(in, e);
	return (HTTP_IN_ERROR);
}

struct http_request *
http_in_take(struct http_in *in)
{
	struct http_request *r = in->done;

	in->done = NULL;
	return (r);
}

int
http_in_error(const struct http_in *in, const char **code, const char **message)
{
	if (in->err_status == 0)
		return (0);
	if (code != NULL)
		*code = in->err_code;
	if (message != NULL)
		*message = in->err_msg;
	return (in->err_status);
}

int
http_in_reading_body(const struct http_in *in)
{
	return (in->req != NULL);
}

int
http_in_expects_continue(const struct http_in *in)
{
	return (in->req != NULL && in->expect_continue);
}

void
http_request_free(struct http_request *r)
{
	if (r == NULL)
		return;
	free(r->method);
	free(r->target);
	free(r->headers); /* one block with the strings */
	free(r->body);
	free(r);
}

const char *
http_request_header(const struct http_request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return (r->headers[i].value);
	return (NULL);
}
