/*
 * test_http_in.c — the incremental request parser: framing, pipelining,
 * split feeds, limits and the errors each bad input must produce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../supervisor/durod.h"

#define MAX_BODY 1024
#define MAX_HEADER 2048
#define MAX_REQS 8

struct result {
	enum http_in_status last;
	struct http_request *reqs[MAX_REQS];
	size_t nreqs;
	size_t used; /* bytes consumed in all */
	int status;  /* http_in_error() after HTTP_IN_ERROR */
	const char *code, *message;
};

/*
 * Feed s in pieces of at most chunk bytes, as a connection would: after a
 * request, take it and feed the rest of the same piece.
 */
static void
feed(struct http_in *in, const char *s, size_t len, size_t chunk,
    struct result *r)
{
	size_t off = 0, n, used;

	memset(r, 0, sizeof(*r));
	r->last = HTTP_IN_MORE;
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		while (n > 0) {
			r->last = http_in_feed(in, s + off, n, &used);
			assert_true(used <= n);
			off += used;
			n -= used;
			r->used += used;
			if (r->last == HTTP_IN_ERROR) {
				r->status =
				    http_in_error(in, &r->code, &r->message);
				return;
			}
			if (r->last == HTTP_IN_REQUEST) {
				assert_true(r->nreqs < MAX_REQS);
				r->reqs[r->nreqs++] = http_in_take(in);
				assert_non_null(r->reqs[r->nreqs - 1]);
			} else
				assert_int_equal(n, 0);
		}
	}
}

static void
result_free(struct result *r)
{
	for (size_t i = 0; i < r->nreqs; i++)
		http_request_free(r->reqs[i]);
}

/* Parse s whole with fresh limits; return the parser for more checks. */
static struct http_in *
parse(const char *s, size_t chunk, struct result *r)
{
	struct http_in *in = http_in_new(MAX_BODY, MAX_HEADER);

	assert_non_null(in);
	feed(in, s, strlen(s), chunk, r);
	return (in);
}

static void
expect_error(const char *s, int status, const char *code, const char *msg)
{
	struct result r;
	struct http_in *in = parse(s, SIZE_MAX, &r);

	assert_int_equal(r.last, HTTP_IN_ERROR);
	assert_int_equal(r.status, status);
	assert_string_equal(r.code, code);
	if (msg != NULL && strstr(r.message, msg) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", r.message, msg);
	result_free(&r);
	http_in_free(in);
}

static void
test_simple_get(void **state)
{
	struct result r;
	struct http_in *in = parse("GET /counter/a/incr?by=2 HTTP/1.1\r\n"
	                           "Host: x\r\n"
	                           "X-Mixed-Case:   padded value \t\r\n"
	                           "\r\n",
	    SIZE_MAX, &r);
	struct http_request *q;

	assert_int_equal(r.last, HTTP_IN_REQUEST);
	assert_int_equal(r.nreqs, 1);
	q = r.reqs[0];
	assert_string_equal(q->method, "GET");
	assert_string_equal(q->target, "/counter/a/incr?by=2");
	assert_int_equal(q->nheaders, 2);
	assert_string_equal(q->headers[1].name, "X-Mixed-Case");
	assert_string_equal(q->headers[1].value, "padded value");
	assert_string_equal(
	    http_request_header(q, "x-mixed-case"), "padded value");
	assert_string_equal(http_request_header(q, "HOST"), "x");
	assert_null(http_request_header(q, "Cookie"));
	assert_null(q->body);
	assert_int_equal(q->body_len, 0);
	assert_true(q->keep_alive);
	assert_false(q->upgrade);
	result_free(&r);
	http_in_free(in);
}

static void
test_post_content_length(void **state)
{
	struct result r;
	struct http_in *in =
	    parse("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n"
	          "\r\nhello world",
	        SIZE_MAX, &r);

	assert_int_equal(r.nreqs, 1);
	assert_string_equal(r.reqs[0]->method, "POST");
	assert_int_equal(r.reqs[0]->body_len, 11);
	assert_memory_equal(r.reqs[0]->body, "hello world", 11);
	result_free(&r);
	http_in_free(in);
}

static void
test_chunked(void **state)
{
	struct result r;
	struct http_in *in = parse("POST /a HTTP/1.1\r\nHost: t\r\n"
	                           "Transfer-Encoding: chunked\r\n\r\n"
	                           "5\r\nhello\r\n"
	                           "6;ext=1\r\n world\r\n"
	                           "0\r\nX-Trailer: t\r\n\r\n",
	    SIZE_MAX, &r);

	assert_int_equal(r.last, HTTP_IN_REQUEST);
	assert_int_equal(r.nreqs, 1);
	assert_int_equal(r.reqs[0]->body_len, 11);
	assert_memory_equal(r.reqs[0]->body, "hello world", 11);
	/* Trailers are not forwarded. */
	assert_int_equal(r.reqs[0]->nheaders, 2);
	assert_null(http_request_header(r.reqs[0], "X-Trailer"));
	result_free(&r);
	http_in_free(in);
}

static const char pipelined[] =
    "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
    "PUT /3 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
    "\r\n2\r\nxy\r\n0\r\n\r\n";

static void
check_pipelined(const struct result *r)
{
	assert_int_equal(r->nreqs, 3);
	assert_int_equal(r->used, strlen(pipelined));
	assert_string_equal(r->reqs[0]->target, "/1");
	assert_string_equal(r->reqs[1]->target, "/2");
	assert_memory_equal(r->reqs[1]->body, "abc", 3);
	assert_string_equal(r->reqs[2]->method, "PUT");
	assert_memory_equal(r->reqs[2]->body, "xy", 2);
}

static void
test_pipelined(void **state)
{
	struct http_in *in = http_in_new(MAX_BODY, MAX_HEADER);
	size_t used;
	struct result r;

	/* The first feed stops right after the first request. */
	assert_int_equal(http_in_feed(in, pipelined, strlen(pipelined), &used),
	    HTTP_IN_REQUEST);
	assert_int_equal(used, strlen("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"));
	/* Not taken yet: feeding again reports the same request, uses 0. */
	assert_int_equal(
	    http_in_feed(in, pipelined + used, strlen(pipelined) - used, &used),
	    HTTP_IN_REQUEST);
	assert_int_equal(used, 0);
	http_request_free(http_in_take(in));
	http_in_free(in);

	in = parse(pipelined, SIZE_MAX, &r);
	check_pipelined(&r);
	result_free(&r);
	http_in_free(in);
}

static void
test_byte_by_byte(void **state)
{
	struct result r;
	struct http_in *in = parse(pipelined, 1, &r);

	check_pipelined(&r);
	result_free(&r);
	http_in_free(in);
}

static void
test_split_everywhere(void **state)
{
	static const char req[] =
	    "POST /p?q=1 HTTP/1.1\r\nHost: t\r\nX-Long-Name: "
	    "value one\r\nContent-Length: 4\r\n\r\nbody";
	struct result r;
	size_t used;

	/* Every cut point between two feeds gives the same request. */
	for (size_t cut = 1; cut < strlen(req); cut++) {
		struct http_in *in = http_in_new(MAX_BODY, MAX_HEADER);
		assert_int_equal(
		    http_in_feed(in, req, cut, &used), HTTP_IN_MORE);
		assert_int_equal(used, cut);
		feed(in, req + cut, strlen(req) - cut, SIZE_MAX, &r);
		assert_int_equal(r.nreqs, 1);
		assert_string_equal(r.reqs[0]->target, "/p?q=1");
		assert_string_equal(
		    http_request_header(r.reqs[0], "X-Long-Name"), "value one");
		assert_memory_equal(r.reqs[0]->body, "body", 4);
		result_free(&r);
		http_in_free(in);
	}
}

static void
test_header_continuation(void **state)
{
	struct http_in *in = http_in_new(MAX_BODY, MAX_HEADER);
	struct http_request *q;
	size_t used;

	/* A name and a value each cut across three feeds. */
	assert_int_equal(
	    http_in_feed(in, "GET / HTTP/1.1\r\nHost: t\r\nX-Sp", 29, &used),
	    HTTP_IN_MORE);
	assert_int_equal(http_in_feed(in, "lit-Na", 6, &used), HTTP_IN_MORE);
	assert_int_equal(http_in_feed(in, "me: ab", 6, &used), HTTP_IN_MORE);
	assert_int_equal(http_in_feed(in, "cd", 2, &used), HTTP_IN_MORE);
	assert_int_equal(
	    http_in_feed(in, "ef\r\n\r\n", 6, &used), HTTP_IN_REQUEST);
	q = http_in_take(in);
	assert_int_equal(q->nheaders, 2);
	assert_string_equal(q->headers[1].name, "X-Split-Name");
	assert_string_equal(q->headers[1].value, "abcdef");
	http_request_free(q);
	http_in_free(in);
}

static void
test_obs_fold(void **state)
{
	struct result r;
	struct http_in *in;
	size_t used;

	expect_error("GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r\n two\r\n\r\n",
	    400, "bad_request", "folding");
	/* The same fold with the continuation line in a later feed. */
	in = http_in_new(MAX_BODY, MAX_HEADER);
	assert_int_equal(
	    http_in_feed(
	        in, "GET / HTTP/1.1\r\nHost: t\r\nX-A: one", 24, &used),
	    HTTP_IN_MORE);
	feed(in, "\r\n two\r\n\r\n", 10, SIZE_MAX, &r);
	assert_int_equal(r.last, HTTP_IN_ERROR);
	assert_int_equal(r.status, 400);
	http_in_free(in);
}

static void
test_headers_too_large(void **state)
{
	char *s = malloc(MAX_HEADER * 2 + 64), *p;

	/* One large header... */
	p = s + sprintf(s, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
	memset(p, 'a', MAX_HEADER);
	strcpy(p + MAX_HEADER, "\r\n\r\n");
	expect_error(s, 431, "headers_too_large", NULL);
	/* ... a large target ... */
	p = s + sprintf(s, "GET /");
	memset(p, 'a', MAX_HEADER);
	strcpy(p + MAX_HEADER, " HTTP/1.1\r\n\r\n");
	expect_error(s, 431, "headers_too_large", NULL);
	/* ... many small ones ... */
	p = s + sprintf(s, "GET / HTTP/1.1\r\nHost: t\r\n");
	while (p - s < MAX_HEADER + 16)
		p += sprintf(p, "A: b\r\n");
	strcpy(p, "\r\n");
	expect_error(s, 431, "headers_too_large", NULL);
	/* ... and just under the limit is fine. */
	p = s + sprintf(s, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
	memset(p, 'a', MAX_HEADER - 32);
	strcpy(p + MAX_HEADER - 32, "\r\n\r\n");
	{
		struct result r;
		struct http_in *in = parse(s, SIZE_MAX, &r);
		assert_int_equal(r.nreqs, 1);
		result_free(&r);
		http_in_free(in);
	}
	/* http_parser's own 80 KiB cap catches padding it never reports. */
	s = realloc(s, 100 * 1024);
	p = s + sprintf(s, "GET / HTTP/1.1\r\nHost: t\r\nX:");
	memset(p, ' ', 90 * 1024);
	strcpy(p + 90 * 1024, "a\r\n\r\n");
	expect_error(s, 431, "headers_too_large", NULL);
	free(s);
}

static void
test_too_many_headers(void **state)
{
	struct http_in *in = http_in_new(MAX_BODY, 64 * 1024);
	char *s = malloc(IPC_MAX_HEADERS * 8 + 64), *p;
	struct result r;

	p = s + sprintf(s, "GET / HTTP/1.1\r\nHost: t\r\n");
	for (int i = 0; i <= IPC_MAX_HEADERS; i++)
		p += sprintf(p, "A: b\r\n");
	strcpy(p, "\r\n");
	feed(in, s, strlen(s), SIZE_MAX, &r);
	assert_int_equal(r.last, HTTP_IN_ERROR);
	assert_int_equal(r.status, 431);
	http_in_free(in);
	free(s);
}

static void
test_body_too_large(void **state)
{
	struct http_in *in = http_in_new(MAX_BODY, MAX_HEADER);
	char s[256];
	size_t used;
	int n;

	/* Refused as soon as the headers are complete, before any body. */
	n = snprintf(s, sizeof(s),
	    "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
	    MAX_BODY + 1);
	assert_int_equal(http_in_feed(in, s, (size_t)n, &used), HTTP_IN_ERROR);
	assert_int_equal(http_in_error(in, NULL, NULL), 413);
	http_in_free(in);

	/* Exactly the limit is fine. */
	in = http_in_new(4, MAX_HEADER);
	assert_int_equal(
	    http_in_feed(in,
	        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nabcd",
	        51, &used),
	    HTTP_IN_REQUEST);
	http_request_free(http_in_take(in));
	http_in_free(in);
}

static void
test_chunked_too_large(void **state)
{
	struct http_in *in = http_in_new(8, MAX_HEADER);
	struct result r;
	static const char s[] =
	    "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n5\r\nhello\r\n";

	/* The second chunk's size alone takes the body past 8 bytes. */
	feed(in, s, strlen(s), SIZE_MAX, &r);
	assert_int_equal(r.last, HTTP_IN_MORE);
	feed(in, "4\r\n", 3, SIZE_MAX, &r);
	assert_int_equal(r.last, HTTP_IN_ERROR);
	assert_int_equal(r.status, 413);
	assert_string_equal(r.code, "body_too_large");
	http_in_free(in);

	/* Many small chunks add up too. */
	in = http_in_new(8, MAX_HEADER);
	feed(in, s, strlen(s), SIZE_MAX, &r);
	feed(in, "3\r\nabc\r\n1\r\nd\r\n", 14, 1, &r);
	assert_int_equal(r.last, HTTP_IN_ERROR);
	assert_int_equal(r.status, 413);
	http_in_free(in);
}

static void
test_garbage(void **state)
{
	expect_error("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400,
	    "bad_request", "invalid HTTP method");
	expect_error("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400, "bad_request",
	    "invalid character in header");
	expect_error("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n",
	    400, "bad_request", "content-length");
	expect_error("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
	             "Transfer-Encoding: chunked\r\n\r\n",
	    400, "bad_request", NULL);
	expect_error(
	    "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "zz\r\n",
	    400, "bad_request", "chunk size");
	/* Lax http_parser accepts a space inside a name; we do not. */
	expect_error("GET / HTTP/1.1\r\n\r\n", 400, "bad_request", "Host");
	expect_error("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400,
	    "bad_request", "Host");
	expect_error("GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", 400,
	    "bad_request", "token");
	expect_error("GET / HTTP/1.1\r\nHost: t\r\nX: a\x01z\r\n\r\n", 400,
	    "bad_request", NULL);
	expect_error(
	    "GET /a\tb HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request", NULL);
}

static void
test_bad_utf8(void **state)
{
	expect_error("GET /caf\xe9 HTTP/1.1\r\nHost: t\r\n\r\n", 400,
	    "bad_request", "UTF-8");
	expect_error("GET / HTTP/1.1\r\nHost: t\r\nX-Name: caf\xc3\r\n\r\n",
	    400, "bad_request", "UTF-8");
	/* Overlong '/' and a UTF-16 surrogate are not UTF-8 either. */
	expect_error("GET /\xc0\xaf HTTP/1.1\r\nHost: t\r\n\r\n", 400,
	    "bad_request", "UTF-8");
	expect_error("GET /\xed\xa0\x80 HTTP/1.1\r\nHost: t\r\n\r\n", 400,
	    "bad_request", "UTF-8");

	struct result r;
	struct http_in *in = parse("GET /caf\xc3\xa9/\xf0\x9f\x98\x80 HTTP/1.1"
	                           "\r\nHost: t\r\nX: \xe2\x82\xac\r\n\r\n",
	    SIZE_MAX, &r);
	assert_int_equal(r.nreqs, 1);
	assert_string_equal(r.reqs[0]->headers[1].value, "\xe2\x82\xac");
	result_free(&r);
	http_in_free(in);
}

static int
keep_alive_of(const char *s)
{
	struct result r;
	struct http_in *in = parse(s, SIZE_MAX, &r);
	int ka;

	assert_int_equal(r.nreqs, 1);
	ka = r.reqs[0]->keep_alive;
	result_free(&r);
	http_in_free(in);
	return (ka);
}

static void
test_keep_alive(void **state)
{
	struct result r;
	struct http_in *in;

	assert_false(keep_alive_of("GET / HTTP/1.0\r\n\r\n"));
	assert_true(keep_alive_of("GET / HTTP/1.0\r\n"
	                          "Connection: keep-alive\r\n\r\n"));
	assert_true(keep_alive_of("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
	assert_false(keep_alive_of(
	    "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));

	/* Nothing may follow a request that closes the connection. */
	in =
	    parse("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n", SIZE_MAX, &r);
	assert_int_equal(r.nreqs, 1);
	assert_int_equal(r.last, HTTP_IN_ERROR);
	assert_int_equal(r.status, 400);
	result_free(&r);
	http_in_free(in);
}

static void
test_versions(void **state)
{
	/* The HTTP/2 connection preface is not an HTTP/1 request. */
	struct result r;
	struct http_in *in =
	    parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", SIZE_MAX, &r);

	assert_int_equal(r.last, HTTP_IN_ERROR);
	assert_int_equal(r.nreqs, 0);
	assert_true(r.status == 400 || r.status == 505);
	http_in_free(in);

	expect_error("GET / HTTP/2.0\r\n\r\n", 505,
	    "http_version_not_supported", "HTTP/2.0");
	expect_error(
	    "GET / HTTP/1.2\r\n\r\n", 505, "http_version_not_supported", NULL);
	expect_error("GET /\r\n\r\n", 505, "http_version_not_supported", NULL);
	expect_error("CONNECT example.com:443 HTTP/1.1\r\nHost: t\r\n\r\n", 501,
	    "not_implemented", "CONNECT");
}

static void
test_upgrade(void **state)
{
	struct result r;
	struct http_in *in =
	    parse("GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
	          "Connection: Upgrade\r\n\r\n\x81\x05hello",
	        SIZE_MAX, &r);

	/* Answered as a plain request, then the connection ends: the bytes
	 * after it are another protocol. */
	assert_int_equal(r.nreqs, 1);
	assert_true(r.reqs[0]->upgrade);
	assert_false(r.reqs[0]->keep_alive);
	assert_int_equal(r.last, HTTP_IN_ERROR);
	result_free(&r);
	http_in_free(in);
}

static void
test_expect_continue(void **state)
{
	struct http_in *in = http_in_new(MAX_BODY, MAX_HEADER);
	static const char s[] =
	    "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
	    "Expect: 100-Continue\r\n\r\n";
	size_t used;

	assert_false(http_in_reading_body(in));
	assert_int_equal(http_in_feed(in, s, strlen(s), &used), HTTP_IN_MORE);
	assert_true(http_in_reading_body(in));
	assert_true(http_in_expects_continue(in));
	assert_int_equal(http_in_feed(in, "ok", 2, &used), HTTP_IN_REQUEST);
	assert_false(http_in_reading_body(in));
	assert_false(http_in_expects_continue(in));
	http_request_free(http_in_take(in));
	http_in_free(in);
}

static void
test_head_and_empty(void **state)
{
	struct result r;
	struct http_in *in =
	    parse("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n"
	          "POST /y HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
	          "DELETE /z HTTP/1.1\r\nHost: t\r\nEmpty:\r\n\r\n",
	        SIZE_MAX, &r);

	assert_int_equal(r.nreqs, 3);
	assert_string_equal(r.reqs[0]->method, "HEAD");
	assert_null(r.reqs[1]->body);
	assert_string_equal(http_request_header(r.reqs[2], "empty"), "");
	result_free(&r);
	http_in_free(in);
}

static void
test_nul_byte(void **state)
{
	static const char s[] = "GET / HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n";
	struct http_in *in = http_in_new(MAX_BODY, MAX_HEADER);
	struct result r;

	feed(in, s, sizeof(s) - 1, SIZE_MAX, &r);
	assert_int_equal(r.last, HTTP_IN_ERROR);
	assert_int_equal(r.status, 400);
	http_in_free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple_get),
	    cmocka_unit_test(test_post_content_length),
	    cmocka_unit_test(test_chunked),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_byte_by_byte),
	    cmocka_unit_test(test_split_everywhere),
	    cmocka_unit_test(test_header_continuation),
	    cmocka_unit_test(test_obs_fold),
	    cmocka_unit_test(test_headers_too_large),
	    cmocka_unit_test(test_too_many_headers),
	    cmocka_unit_test(test_body_too_large),
	    cmocka_unit_test(test_chunked_too_large),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_bad_utf8),
	    cmocka_unit_test(test_keep_alive),
	    cmocka_unit_test(test_versions),
	    cmocka_unit_test(test_upgrade),
	    cmocka_unit_test(test_expect_continue),
	    cmocka_unit_test(test_head_and_empty),
	    cmocka_unit_test(test_nul_byte),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
