/*
 * fuzz_http_in.c — libFuzzer target for the HTTP request parser.
 *
 * The first input byte chooses how the rest is cut, since bugs in an
 * incremental parser hide at the cuts: its low 6 bits are the feed size
 * (0 = everything at once), bit 6 selects tiny limits so the 413 and 431
 * paths are reached often. Every request is taken, checked and freed;
 * any broken invariant aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durod.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(                                               \
			    stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);    \
			abort();                                               \
		}                                                              \
	} while (0)

/*
 * What the gateway forwards must survive the trip to a worker: encode it as
 * an IPC request and decode it back as the worker's codec would.
 */
static void
check_ipc(const struct http_request *r)
{
	struct ipc_msg m, d;
	uint8_t *frame;
	size_t len;
	char err[128];

	if (r->target[0] != '/')
		return; /* "*" or absolute-form: the router maps those */
	memset(&m, 0, sizeof(m));
	m.type = IPC_REQUEST;
	m.id = 1;
	m.method = r->method;
	m.path = r->target;
	m.query = "";
	m.headers = r->headers;
	m.nheaders = r->nheaders;
	m.body = r->body;
	m.body_len = r->body_len;
	frame = ipc_encode(&m, &len);
	CHECK(frame != NULL);
	CHECK(ipc_decode(frame, len, &d, err, sizeof(err)) == IPC_OK);
	CHECK(d.type == IPC_REQUEST && d.nheaders == r->nheaders);
	CHECK(strcmp(d.path, r->target) == 0);
	CHECK(d.body_len == r->body_len);
	ipc_msg_release(&d);
	free(frame);
}

static void
check_request(struct http_request *r, uint64_t max_body)
{
	CHECK(r != NULL);
	CHECK(r->method != NULL && ipc_is_token(r->method));
	CHECK(r->target != NULL && r->target[0] != '\0');
	CHECK((r->headers == NULL) == (r->nheaders == 0));
	CHECK(r->nheaders <= IPC_MAX_HEADERS);
	for (size_t i = 0; i < r->nheaders; i++) {
		CHECK(ipc_is_token(r->headers[i].name));
		CHECK(ipc_is_header_value(r->headers[i].value));
		CHECK(http_request_header(r, r->headers[i].name) != NULL);
	}
	CHECK((r->body == NULL) == (r->body_len == 0));
	CHECK(r->body_len <= max_body);
	CHECK(!r->upgrade || !r->keep_alive);
	check_ipc(r);
}

static void
check_error(const struct http_in *in)
{
	const char *code = NULL, *message = NULL;
	int status = http_in_error(in, &code, &message);

	CHECK(status == 400 || status == 413 || status == 431 ||
	      status == 500 || status == 501 || status == 505);
	CHECK(code != NULL && code[0] != '\0' && message != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_in *in;
	struct http_request *r;
	enum http_in_status st;
	uint64_t max_body;
	size_t chunk, off = 0, n, used;
	int last = 0;

	if (size == 0)
		return (0);
	chunk = data[0] & 0x3f;
	max_body = data[0] & 0x40 ? 16 : 64 * 1024;
	in = http_in_new(max_body, data[0] & 0x40 ? 128 : DURO_HEADER_LIMIT);
	CHECK(in != NULL);
	data++;
	size--;
	while (off < size) {
		n = chunk == 0 || size - off < chunk ? size - off : chunk;
		st = http_in_feed(in, (const char *)data + off, n, &used);
		CHECK(used <= n);
		off += used;
		if (st == HTTP_IN_ERROR) {
			check_error(in);
			/* An error is final. */
			CHECK(http_in_feed(in, "x", 1, &used) == HTTP_IN_ERROR);
			CHECK(used == 0);
			break;
		}
		CHECK(http_in_error(in, NULL, NULL) == 0);
		if (st == HTTP_IN_MORE) {
			CHECK(used == n);
			continue;
		}
		CHECK(st == HTTP_IN_REQUEST);
		/* A request ends on a byte of this feed. */
		CHECK(used > 0);
		/* Nothing may follow a request that ends the connection. */
		CHECK(!last);
		r = http_in_take(in);
		check_request(r, max_body);
		CHECK(http_in_take(in) == NULL);
		last = !r->keep_alive;
		http_request_free(r);
	}
	http_in_free(in);
	return (0);
}
