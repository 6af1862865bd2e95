/*
 * test_ipc.c — the protocol codec (ipc/ipc_codec.c): round trips, limits,
 * and everything a hostile peer might send.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipc.h"

/* ---- helpers ---- */

/*
 * A frame of exactly the right size (so ASan sees any read past it):
 * u32 BE header length, the header, the body.
 */
static uint8_t *
mkframe(const char *json, size_t hlen, const void *body, size_t body_len,
    size_t *len)
{
	uint8_t *f;

	*len = 4 + hlen + body_len;
	f = malloc(*len > 0 ? *len : 1);
	assert_non_null(f);
	f[0] = (uint8_t)(hlen >> 24);
	f[1] = (uint8_t)(hlen >> 16);
	f[2] = (uint8_t)(hlen >> 8);
	f[3] = (uint8_t)hlen;
	memcpy(f + 4, json, hlen);
	if (body_len > 0)
		memcpy(f + 4 + hlen, body, body_len);
	return (f);
}

/* Decode a header with no body; release the message; return the result. */
static int
decode_json(const char *json)
{
	struct ipc_msg m;
	char err[256] = "";
	size_t len;
	uint8_t *f = mkframe(json, strlen(json), NULL, 0, &len);
	int rv = ipc_decode(f, len, &m, err, sizeof(err));

	if (rv == IPC_OK)
		ipc_msg_release(&m);
	else
		assert_true(err[0] != '\0'); /* every failure says why */
	free(f);
	return (rv);
}

static void
assert_headers_equal(const struct ipc_msg *a, const struct ipc_msg *b)
{
	assert_int_equal(a->nheaders, b->nheaders);
	for (size_t i = 0; i < a->nheaders; i++) {
		assert_string_equal(a->headers[i].name, b->headers[i].name);
		assert_string_equal(a->headers[i].value, b->headers[i].value);
	}
}

/* Encode in, decode it into out (release with ipc_msg_release, free *f). */
static void
round_trip(const struct ipc_msg *in, struct ipc_msg *out, uint8_t **f)
{
	char err[256] = "";
	size_t len;

	*f = ipc_encode(in, &len);
	assert_non_null(*f);
	if (ipc_decode(*f, len, out, err, sizeof(err)) != IPC_OK)
		fail_msg("decode after encode: %s", err);
	assert_int_equal(out->type, in->type);
	assert_true(out->id == in->id);
	assert_int_equal(out->body_len, in->body_len);
	if (in->body_len > 0)
		assert_memory_equal(out->body, in->body, in->body_len);
}

static struct ipc_header test_headers[] = {
    {"Content-Type", "text/plain; charset=utf-8"},
    {"X-Tab", "a\tb"},
    {"x-dup", "1"},
    {"X-Dup", "2"},
    {"X-Utf8", "h\xc3\xa9llo"},
};
#define NTEST_HEADERS (sizeof(test_headers) / sizeof(test_headers[0]))

/* ---- round trips ---- */

static void
test_round_trip_ready(void **state)
{
	struct ipc_msg in = {.type = IPC_READY, .protocol = 1, .pid = 4194304};
	struct ipc_msg out;
	uint8_t *f;

	round_trip(&in, &out, &f);
	assert_int_equal(out.protocol, 1);
	assert_int_equal(out.pid, 4194304);
	assert_string_equal(out.type_name, "ready");
	ipc_msg_release(&out);
	free(f);
}

static void
test_round_trip_request(void **state)
{
	static const uint8_t body[] = {'a', 0, 0xff, 0, '\r', '\n', 0};
	struct ipc_msg in = {.type = IPC_REQUEST,
	    .id = 42,
	    .method = "PATCH",
	    .path = "/a%2Fb/c",
	    .query = "x=1&y=%20",
	    .headers = test_headers,
	    .nheaders = NTEST_HEADERS,
	    .body = body,
	    .body_len = sizeof(body)};
	struct ipc_msg out;
	uint8_t *f;

	round_trip(&in, &out, &f);
	assert_string_equal(out.method, "PATCH");
	assert_string_equal(out.path, "/a%2Fb/c");
	assert_string_equal(out.query, "x=1&y=%20");
	assert_headers_equal(&in, &out);
	ipc_msg_release(&out);
	free(f);
}

static void
test_round_trip_response(void **state)
{
	static const uint8_t body[] = "{\"value\":1}";
	struct ipc_msg in = {.type = IPC_RESPONSE,
	    .id = 7,
	    .status = 599,
	    .headers = test_headers,
	    .nheaders = NTEST_HEADERS,
	    .body = body,
	    .body_len = sizeof(body) - 1};
	struct ipc_msg out;
	uint8_t *f;

	round_trip(&in, &out, &f);
	assert_int_equal(out.status, 599);
	assert_headers_equal(&in, &out);
	ipc_msg_release(&out);
	free(f);
}

static void
test_round_trip_hibernate(void **state)
{
	struct ipc_msg in = {.type = IPC_HIBERNATE};
	struct ipc_msg out;
	uint8_t *f;

	round_trip(&in, &out, &f);
	assert_string_equal(out.type_name, "hibernate");
	ipc_msg_release(&out);
	free(f);
}

static void
test_round_trip_error(void **state)
{
	struct ipc_msg in = {.type = IPC_ERROR,
	    .id = 3,
	    .code = "handler_failed",
	    .message = "boom: \"quoted\"\nnext line"};
	struct ipc_msg none = {.type = IPC_ERROR, .code = "bad"};
	struct ipc_msg out;
	uint8_t *f;

	round_trip(&in, &out, &f);
	assert_string_equal(out.code, "handler_failed");
	assert_string_equal(out.message, in.message);
	ipc_msg_release(&out);
	free(f);

	/* No id and no message: both come back as their defaults. */
	round_trip(&none, &out, &f);
	assert_true(out.id == 0);
	assert_string_equal(out.message, "");
	ipc_msg_release(&out);
	free(f);
}

static void
test_round_trip_empty_request(void **state)
{
	/* No headers, no query, no body: the minimal request. */
	struct ipc_msg in = {
	    .type = IPC_REQUEST, .id = 1, .method = "GET", .path = "/"};
	struct ipc_msg out;
	uint8_t *f;

	round_trip(&in, &out, &f);
	assert_string_equal(out.query, "");
	assert_int_equal(out.nheaders, 0);
	ipc_msg_release(&out);
	free(f);
}

static void
test_binary_body(void **state)
{
	uint8_t body[256];
	struct ipc_msg in = {.type = IPC_RESPONSE,
	    .id = 1,
	    .status = 200,
	    .body = body,
	    .body_len = sizeof(body)};
	struct ipc_msg out;
	uint8_t *f;

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] =
		    (uint8_t)(255 - i); /* every byte value, NUL included */
	round_trip(&in, &out, &f);
	ipc_msg_release(&out);
	free(f);
}

static void
test_type_names(void **state)
{
	assert_string_equal(ipc_type_name(IPC_READY), "ready");
	assert_string_equal(ipc_type_name(IPC_REQUEST), "request");
	assert_string_equal(ipc_type_name(IPC_RESPONSE), "response");
	assert_string_equal(ipc_type_name(IPC_HIBERNATE), "hibernate");
	assert_string_equal(ipc_type_name(IPC_ERROR), "error");
	assert_string_equal(ipc_type_name((enum ipc_type)99), "unknown");
}

/* ---- framing ---- */

static void
test_truncated_frames(void **state)
{
	static const uint8_t body[] = {1, 0, 2};
	struct ipc_msg in = {.type = IPC_REQUEST,
	    .id = 9,
	    .method = "POST",
	    .path = "/x",
	    .headers = test_headers,
	    .nheaders = NTEST_HEADERS,
	    .body = body,
	    .body_len = sizeof(body)};
	struct ipc_msg m;
	char err[256];
	size_t len, hlen;
	uint8_t *f = ipc_encode(&in, &len), *p;

	assert_non_null(f);
	hlen =
	    (size_t)f[0] << 24 | (size_t)f[1] << 16 | (size_t)f[2] << 8 | f[3];
	/*
	 * Every prefix, each in a buffer of its exact size: a prefix that cuts
	 * the header must fail; one that cuts only the body is a valid frame
	 * with a shorter body (the body runs to the end of the message).
	 */
	for (size_t n = 0; n < len; n++) {
		p = malloc(n > 0 ? n : 1);
		assert_non_null(p);
		memcpy(p, f, n);
		int rv = ipc_decode(p, n, &m, err, sizeof(err));
		if (n < 4 + hlen) {
			assert_int_equal(rv, IPC_ETRUNCATED);
		} else {
			assert_int_equal(rv, IPC_OK);
			assert_int_equal(m.body_len, n - 4 - hlen);
			ipc_msg_release(&m);
		}
		free(p);
	}
	free(f);
}

static void
test_length_prefix_past_end(void **state)
{
	const uint8_t f[] = {0, 0, 0, 200, '{', '}'};
	struct ipc_msg m;
	char err[256];

	assert_int_equal(
	    ipc_decode(f, sizeof(f), &m, err, sizeof(err)), IPC_ETRUNCATED);
	assert_int_equal(
	    ipc_decode(f, 0, &m, err, sizeof(err)), IPC_ETRUNCATED);
	/* A zero errlen must not be written to. */
	assert_int_equal(ipc_decode(f, 3, &m, NULL, 0), IPC_ETRUNCATED);
}

static void
test_oversized_header(void **state)
{
	const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, '{', '}'};
	uint8_t f[8] = {0};
	uint32_t h = IPC_MAX_HEADER_BYTES + 1;
	struct ipc_msg m;
	char err[256];

	/* Judged by the prefix alone, before any allocation or parsing. */
	assert_int_equal(
	    ipc_decode(big, sizeof(big), &m, err, sizeof(err)), IPC_ETOOBIG);
	f[0] = (uint8_t)(h >> 24);
	f[1] = (uint8_t)(h >> 16);
	f[2] = (uint8_t)(h >> 8);
	f[3] = (uint8_t)h;
	assert_int_equal(
	    ipc_decode(f, sizeof(f), &m, err, sizeof(err)), IPC_ETOOBIG);
}

/* A hibernate header padded with spaces inside the object to hlen bytes. */
static char *
padded_header(size_t hlen)
{
	static const char head[] = "{\"type\":\"hibernate\",\"pad\":\"";
	char *s = malloc(hlen + 1);

	assert_non_null(s);
	memcpy(s, head, sizeof(head) - 1);
	memset(s + sizeof(head) - 1, 'x', hlen - (sizeof(head) - 1) - 2);
	memcpy(s + hlen - 2, "\"}", 3);
	return (s);
}

static void
test_header_at_limit(void **state)
{
	struct ipc_msg m;
	char err[256], *json;
	size_t len;
	uint8_t *f;

	json = padded_header(IPC_MAX_HEADER_BYTES);
	f = mkframe(json, IPC_MAX_HEADER_BYTES, NULL, 0, &len);
	assert_int_equal(ipc_decode(f, len, &m, err, sizeof(err)), IPC_OK);
	assert_int_equal(m.type, IPC_HIBERNATE);
	ipc_msg_release(&m);
	free(f);
	free(json);
}

/* The encoder refuses to write a header the decoder would refuse. */
static void
test_encoder_header_limit(void **state)
{
	struct ipc_msg big = {.type = IPC_ERROR, .code = "x"};
	char *msg = malloc(IPC_MAX_HEADER_BYTES + 1);
	size_t len;

	assert_non_null(msg);
	memset(msg, 'a', IPC_MAX_HEADER_BYTES);
	msg[IPC_MAX_HEADER_BYTES] = '\0';
	big.message = msg;
	assert_null(ipc_encode(&big, &len));
	free(msg);
}

static void
test_body_limits(void **state)
{
	static const char json[] = "{\"type\":\"hibernate\"}";
	size_t hlen = sizeof(json) - 1, len = 4 + hlen + IPC_MAX_BODY_BYTES + 1;
	uint8_t *f = calloc(1, len);
	struct ipc_msg m, in = {.type = IPC_RESPONSE, .id = 1, .status = 200};
	char err[256];

	assert_non_null(f);
	f[3] = (uint8_t)hlen;
	memcpy(f + 4, json, hlen);
	assert_int_equal(ipc_decode(f, len, &m, err, sizeof(err)), IPC_ETOOBIG);
	assert_int_equal(ipc_decode(f, len - 1, &m, err, sizeof(err)), IPC_OK);
	assert_int_equal(m.body_len, IPC_MAX_BODY_BYTES);
	ipc_msg_release(&m);

	in.body = f;
	in.body_len = IPC_MAX_BODY_BYTES + 1;
	assert_null(ipc_encode(&in, &len));
	free(f);
}

/* ---- JSON ---- */

static void
test_malformed_json(void **state)
{
	static const char *const bad[] = {
	    "",
	    " ",
	    "{",
	    "}",
	    "{\"type\":\"ready\",\"protocol\":1,}",
	    "{\"type\":\"ready\" \"protocol\":1}",
	    "{'type':'ready'}",
	    "{\"type\":\"hibernate\"}x",
	    "{\"type\":\"hibernate\"}{}",
	    "{\"type\":\"hibernate\"",
	    "nul",
	    "\xff\xfe",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (decode_json(bad[i]) != IPC_EJSON)
			fail_msg("accepted or misjudged: %s", bad[i]);
}

static void
test_nul_in_header(void **state)
{
	/* A NUL inside the H bytes, after the object or inside it. */
	static const char after[] = "{\"type\":\"hibernate\"}\0";
	static const char inside[] = "{\"type\":\"hibernate\"\0}";
	struct ipc_msg m;
	char err[256];
	size_t len;
	uint8_t *f;

	f = mkframe(after, sizeof(after) - 1, NULL, 0, &len);
	assert_true(ipc_decode(f, len, &m, err, sizeof(err)) < 0);
	free(f);
	f = mkframe(inside, sizeof(inside) - 1, NULL, 0, &len);
	if (ipc_decode(f, len, &m, err, sizeof(err)) == IPC_OK)
		ipc_msg_release(&m);
	free(f);
}

static void
test_trailing_whitespace(void **state)
{
	assert_int_equal(
	    decode_json("{\"type\":\"hibernate\"} \r\n\t"), IPC_OK);
	assert_int_equal(decode_json(" {\"type\":\"hibernate\"}"), IPC_OK);
}

static void
test_non_object_json(void **state)
{
	static const char *const bad[] = {
	    "[]",
	    "[{\"type\":\"hibernate\"}]",
	    "\"hibernate\"",
	    "1",
	    "null",
	    "true",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (decode_json(bad[i]) != IPC_EJSON)
			fail_msg("accepted or misjudged: %s", bad[i]);
}

/* ---- fields ---- */

struct field_case {
	const char *json;
	int rv;
};

static void
check_cases(const struct field_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rv = decode_json(c[i].json);
		if (rv != c[i].rv)
			fail_msg("%s: got %d, want %d", c[i].json, rv, c[i].rv);
	}
}

#define CHECK_CASES(c) check_cases((c), sizeof(c) / sizeof((c)[0]))

static void
test_type_field(void **state)
{
	static const struct field_case c[] = {
	    {"{}", IPC_EFIELD},
	    {"{\"type\":5}", IPC_EFIELD},
	    {"{\"type\":\"\"}", IPC_EFIELD},
	    {"{\"type\":null}", IPC_EFIELD},
	    {"{\"type\":[\"ready\"]}", IPC_EFIELD},
	    {"{\"Type\":\"hibernate\"}", IPC_EFIELD},
	    {"{\"type\":\"hibernate\"}", IPC_OK},
	};
	CHECK_CASES(c);
}

static void
test_ready_fields(void **state)
{
	static const struct field_case c[] = {
	    {"{\"type\":\"ready\"}", IPC_EFIELD},
	    {"{\"type\":\"ready\",\"protocol\":\"1\"}", IPC_EFIELD},
	    {"{\"type\":\"ready\",\"protocol\":0}", IPC_EFIELD},
	    {"{\"type\":\"ready\",\"protocol\":1.5}", IPC_EFIELD},
	    {"{\"type\":\"ready\",\"protocol\":65536}", IPC_EFIELD},
	    {"{\"type\":\"ready\",\"protocol\":1e300}", IPC_EFIELD},
	    {"{\"type\":\"ready\",\"protocol\":-1e300}", IPC_EFIELD},
	    {"{\"type\":\"ready\",\"protocol\":1,\"pid\":-1}", IPC_EFIELD},
	    {"{\"type\":\"ready\",\"protocol\":1,\"pid\":\"1\"}", IPC_EFIELD},
	    {"{\"type\":\"ready\",\"protocol\":1,\"pid\":4194305}", IPC_EFIELD},
	    {"{\"type\":\"ready\",\"protocol\":1}", IPC_OK},
	    {"{\"type\":\"ready\",\"protocol\":1.0,\"pid\":1}", IPC_OK},
	};
	CHECK_CASES(c);
}

static void
test_request_fields(void **state)
{
	static const struct field_case c[] = {
	    {"{\"type\":\"request\",\"method\":\"GET\",\"path\":\"/\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":0,\"method\":\"GET\",\"path\":\"/"
	     "\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":\"1\",\"method\":\"GET\",\"path\":"
	     "\"/\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"path\":\"/\"}", IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"\",\"path\":\"/\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"G "
	     "T\",\"path\":\"/\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\\r\\n\",\"path\":"
	     "\"/\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":5,\"path\":\"/\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":"
	     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"path\":\"/\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":"
	     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"path\":\"/\"}",
	        IPC_OK},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\"}", IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":"
	     "\"x\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":5}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/"
	     "\",\"query\":5}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/"
	     "\",\"headers\":{}}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/"
	     "\",\"headers\":[1]}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/"
	     "\",\"headers\":[[\"a\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/"
	     "\",\"headers\":[[\"a\",1]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/"
	     "\",\"headers\":[[\"a\",\"b\",\"c\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/"
	     "\",\"headers\":[]}",
	        IPC_OK},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/"
	     "\"}",
	        IPC_OK},
	};
	CHECK_CASES(c);
}

static void
test_response_fields(void **state)
{
	static const struct field_case c[] = {
	    {"{\"type\":\"response\",\"status\":200}", IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1}", IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":99}", IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":600}", IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":\"200\"}", IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200.5}", IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "\"x\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":100}", IPC_OK},
	    {"{\"type\":\"response\",\"id\":1,\"status\":599}", IPC_OK},
	};
	CHECK_CASES(c);
}

static void
test_error_fields(void **state)
{
	static const struct field_case c[] = {
	    {"{\"type\":\"error\"}", IPC_EFIELD},
	    {"{\"type\":\"error\",\"code\":\"\"}", IPC_EFIELD},
	    {"{\"type\":\"error\",\"code\":5}", IPC_EFIELD},
	    {"{\"type\":\"error\",\"code\":\"x\",\"message\":5}", IPC_EFIELD},
	    {"{\"type\":\"error\",\"code\":\"x\",\"id\":-1}", IPC_EFIELD},
	    {"{\"type\":\"error\",\"code\":\"x\"}", IPC_OK},
	    {"{\"type\":\"error\",\"code\":\"x\",\"id\":0}", IPC_OK},
	};
	CHECK_CASES(c);
}

static void
test_unknown_fields_ignored(void **state)
{
	static const struct field_case c[] = {
	    {"{\"type\":\"ready\",\"protocol\":1,\"future\":{\"a\":[1,2]}}",
	        IPC_OK},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\","
	     "\"deadline_ms\":30000,\"trace\":null}",
	        IPC_OK},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"x\":true}",
	        IPC_OK},
	    {"{\"type\":\"hibernate\",\"reason\":\"idle\"}", IPC_OK},
	};
	CHECK_CASES(c);
}

/* ---- ids ---- */

static void
test_ids(void **state)
{
	static const struct field_case c[] = {
	    {"{\"type\":\"response\",\"id\":9007199254740992,\"status\":200}",
	        IPC_OK},
	    {"{\"type\":\"response\",\"id\":9007199254740994,\"status\":200}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":18446744073709551615,\"status\":"
	     "200}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1e300,\"status\":200}", IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1e999,\"status\":200}", IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":-1,\"status\":200}", IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1.5,\"status\":200}", IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":true,\"status\":200}", IPC_EFIELD},
	};
	CHECK_CASES(c);
}

static void
test_large_ids_round_trip(void **state)
{
	/* Ids near 2^53 must come back exact, not rounded by %.15g. */
	static const uint64_t ids[] = {1, 999999999999999, 4503599627370497,
	    9007199254740991, 9007199254740992};
	struct ipc_msg in = {.type = IPC_RESPONSE, .status = 200}, out;
	uint8_t *f;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		in.id = ids[i];
		round_trip(&in, &out, &f);
		ipc_msg_release(&out);
		free(f);
	}
}

/* ---- unknown types ---- */

static void
test_unknown_type(void **state)
{
	static const char json[] = "{\"type\":\"call\",\"id\":12,\"retry\":2}";
	struct ipc_msg m, out;
	char err[256];
	size_t len;
	uint8_t *f = mkframe(json, sizeof(json) - 1, "b", 1, &len), *g;

	assert_int_equal(ipc_decode(f, len, &m, err, sizeof(err)), IPC_OK);
	assert_int_equal(m.type, IPC_UNKNOWN);
	assert_string_equal(m.type_name, "call");
	assert_true(m.id == 12);
	assert_int_equal(m.body_len, 1);
	/* Re-encoding keeps the name, so it can be forwarded or logged. */
	round_trip(&m, &out, &g);
	assert_string_equal(out.type_name, "call");
	ipc_msg_release(&out);
	free(g);
	ipc_msg_release(&m);
	free(f);
}

/* ---- alarms ---- */

static const struct ipc_alarm test_alarms[] = {
    {.name = "", .at = 1790000000123ull},
    {.name = "flush", .at = 9007199254740992ull, .every = 60000},
    {.name = "gone", .deleted = 1},
    {.name = "caf\xc3\xa9", .at = 0},
};
#define NTEST_ALARMS (sizeof(test_alarms) / sizeof(test_alarms[0]))

static void
assert_alarms_equal(
    const struct ipc_alarm *a, size_t n, const struct ipc_msg *m)
{
	assert_int_equal(m->nalarms, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(m->alarms[i].name, a[i].name);
		assert_int_equal(m->alarms[i].deleted, a[i].deleted);
		assert_true(m->alarms[i].at == a[i].at);
		assert_true(m->alarms[i].every == a[i].every);
	}
}

static void
test_round_trip_alarm_messages(void **state)
{
	struct ipc_msg in = {.type = IPC_ALARM,
	    .id = 9,
	    .name = "flush",
	    .scheduled = 1790000000000ull,
	    .retry = 6,
	    .final = 1};
	struct ipc_msg out;
	uint8_t *f;

	round_trip(&in, &out, &f);
	assert_int_equal(out.type, IPC_ALARM);
	assert_string_equal(out.name, "flush");
	assert_true(out.scheduled == 1790000000000ull);
	assert_int_equal(out.retry, 6);
	assert_int_equal(out.final, 1);
	ipc_msg_release(&out);
	free(f);

	/* Every list-carrying message keeps the list exactly. */
	enum ipc_type types[] = {IPC_DONE, IPC_RESPONSE};
	for (size_t i = 0; i < 2; i++) {
		struct ipc_msg r = {.type = types[i],
		    .id = 3,
		    .status = 200,
		    .alarms = (struct ipc_alarm *)test_alarms,
		    .nalarms = NTEST_ALARMS};
		round_trip(&r, &out, &f);
		assert_int_equal(out.type, types[i]);
		assert_alarms_equal(test_alarms, NTEST_ALARMS, &out);
		ipc_msg_release(&out);
		free(f);
	}

	struct ipc_msg sync = {.type = IPC_ALARM_SYNC,
	    .alarms = (struct ipc_alarm *)test_alarms,
	    .nalarms = 2};
	round_trip(&sync, &out, &f);
	assert_alarms_equal(test_alarms, 2, &out);
	ipc_msg_release(&out);
	free(f);

	struct ipc_msg ack = {
	    .type = IPC_ALARM_ACK, .ok = 0, .message = "disk"};
	round_trip(&ack, &out, &f);
	assert_int_equal(out.ok, 0);
	assert_string_equal(out.message, "disk");
	ipc_msg_release(&out);
	free(f);
}

static void
test_alarm_fields(void **state)
{
	char big[600], json[800];

	assert_int_equal(
	    decode_json("{\"type\":\"alarm\",\"id\":1,\"name\":\"\","
	                "\"scheduled\":0}"),
	    IPC_OK);
	/* id, name and scheduled are required; retry and final typed. */
	assert_int_equal(decode_json("{\"type\":\"alarm\",\"name\":\"\","
	                             "\"scheduled\":0}"),
	    IPC_EFIELD);
	assert_int_equal(
	    decode_json("{\"type\":\"alarm\",\"id\":1,\"scheduled\":0}"),
	    IPC_EFIELD);
	assert_int_equal(
	    decode_json("{\"type\":\"alarm\",\"id\":1,\"name\":\"a\"}"),
	    IPC_EFIELD);
	assert_int_equal(
	    decode_json("{\"type\":\"alarm\",\"id\":1,\"name\":\"\","
	                "\"scheduled\":-1}"),
	    IPC_EFIELD);
	assert_int_equal(
	    decode_json("{\"type\":\"alarm\",\"id\":1,\"name\":\"\","
	                "\"scheduled\":9007199254740994}"),
	    IPC_EFIELD);
	assert_int_equal(
	    decode_json("{\"type\":\"alarm\",\"id\":1,\"name\":\"\","
	                "\"scheduled\":1.5}"),
	    IPC_EFIELD);
	assert_int_equal(
	    decode_json("{\"type\":\"alarm\",\"id\":1,\"name\":\"\","
	                "\"scheduled\":0,\"retry\":65536}"),
	    IPC_EFIELD);
	assert_int_equal(
	    decode_json("{\"type\":\"alarm\",\"id\":1,\"name\":\"\","
	                "\"scheduled\":0,\"final\":1}"),
	    IPC_EFIELD);
	/* Names: at most 256 bytes, UTF-8. */
	memset(big, 'n', 256);
	big[256] = '\0';
	snprintf(json, sizeof(json),
	    "{\"type\":\"alarm\",\"id\":1,\"name\":\"%s\",\"scheduled\":0}",
	    big);
	assert_int_equal(decode_json(json), IPC_OK);
	memset(big, 'n', 257);
	big[257] = '\0';
	snprintf(json, sizeof(json),
	    "{\"type\":\"alarm\",\"id\":1,\"name\":\"%s\",\"scheduled\":0}",
	    big);
	assert_int_equal(decode_json(json), IPC_EFIELD);
	assert_int_equal(decode_json("{\"type\":\"alarm\",\"id\":1,\"name\":"
	                             "\"\xc3\",\"scheduled\":0}"),
	    IPC_EFIELD);
	/* done needs an id; alarm_ack needs ok. */
	assert_int_equal(decode_json("{\"type\":\"done\"}"), IPC_EFIELD);
	assert_int_equal(decode_json("{\"type\":\"done\",\"id\":2}"), IPC_OK);
	assert_int_equal(decode_json("{\"type\":\"alarm_ack\"}"), IPC_EFIELD);
	assert_int_equal(
	    decode_json("{\"type\":\"alarm_ack\",\"ok\":\"yes\"}"), IPC_EFIELD);
	assert_int_equal(
	    decode_json("{\"type\":\"alarm_ack\",\"ok\":true}"), IPC_OK);
}

static void
test_alarm_lists(void **state)
{
	static const char *const bad[] = {
	    "{\"type\":\"alarm_sync\"}",               /* required there */
	    "{\"type\":\"alarm_sync\",\"alarms\":{}}", /* not an array */
	    "{\"type\":\"done\",\"id\":1,\"alarms\":[1]}",
	    "{\"type\":\"done\",\"id\":1,\"alarms\":[{}]}",
	    "{\"type\":\"done\",\"id\":1,\"alarms\":[{\"name\":1}]}",
	    "{\"type\":\"done\",\"id\":1,\"alarms\":[{\"name\":\"\","
	    "\"at\":-5}]}",
	    "{\"type\":\"done\",\"id\":1,\"alarms\":[{\"name\":\"\","
	    "\"at\":\"5\"}]}",
	    "{\"type\":\"done\",\"id\":1,\"alarms\":[{\"name\":\"\",\"at\":5,"
	    "\"every\":-1}]}",
	    "{\"type\":\"response\",\"id\":1,\"status\":200,\"alarms\":[{"
	    "\"name\":\"\",\"at\":1e300}]}",
	    /* a sync lists wake-ups: a deletion cannot be one */
	    "{\"type\":\"alarm_sync\",\"alarms\":[{\"name\":\"x\"}]}",
	};
	struct ipc_msg m;
	char err[256];
	size_t len, n;
	uint8_t *f;
	char *json;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (decode_json(bad[i]) != IPC_EFIELD)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(
	    decode_json("{\"type\":\"alarm_sync\",\"alarms\":[]}"), IPC_OK);

	/* At most IPC_MAX_ALARMS entries. */
	for (n = IPC_MAX_ALARMS; n <= IPC_MAX_ALARMS + 1; n++) {
		json = malloc(64 + n * 32);
		assert_non_null(json);
		strcpy(json, "{\"type\":\"done\",\"id\":1,\"alarms\":[");
		for (size_t i = 0; i < n; i++)
			sprintf(json + strlen(json),
			    "%s{\"name\":\"a%zu\",\"at\":1}", i ? "," : "", i);
		strcat(json, "]}");
		f = mkframe(json, strlen(json), NULL, 0, &len);
		if (n == IPC_MAX_ALARMS) {
			assert_int_equal(
			    ipc_decode(f, len, &m, err, sizeof(err)), IPC_OK);
			assert_int_equal(m.nalarms, n);
			ipc_msg_release(&m);
		} else
			assert_int_equal(
			    ipc_decode(f, len, &m, err, sizeof(err)),
			    IPC_ETOOBIG);
		free(f);
		free(json);
	}
}

static void
test_alarm_next(void **state)
{
	/* Not repeating. */
	assert_true(ipc_alarm_next(1000, 0, 5000) == 0);
	/* Ran on time: the next period. */
	assert_true(ipc_alarm_next(1000, 100, 1000) == 1100);
	/* Ran late by 2.5 periods: missed ones skipped, phase kept. */
	assert_true(ipc_alarm_next(1000, 100, 1250) == 1300);
	/* Ran exactly on a later boundary: strictly after now. */
	assert_true(ipc_alarm_next(1000, 100, 1300) == 1400);
	/* Ran early (a clock step): still one period on. */
	assert_true(ipc_alarm_next(1000, 100, 500) == 1100);
	/* Saturates at the largest time. */
	assert_true(ipc_alarm_next(IPC_MAX_TIME_MS - 10, 100,
	                IPC_MAX_TIME_MS - 5) == IPC_MAX_TIME_MS);
	assert_true(ipc_alarm_next(0, IPC_MAX_TIME_MS, IPC_MAX_TIME_MS) ==
	            IPC_MAX_TIME_MS);
}

/* ---- header injection ---- */

static void
test_header_injection(void **state)
{
	static const struct field_case c[] = {
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"X\",\"a\\r\\nSet-Cookie: x=1\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"X\",\"a\\nb\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"X\",\"a\\rb\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"X\",\"a\\u0001\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"X\",\"a\\u007f\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"X\",\"a\rb\"]]}",
	        IPC_EFIELD}, /* raw CR */
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"X: y\",\"a\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"X\\r\\nY\",\"a\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"\",\"a\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"A B\",\"a\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"caf\\u00e9\",\"a\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\","
	     "\"headers\":[[\"Host\",\"a\\r\\n\\r\\nGET / HTTP/1.1\"]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"X\",\"a\\tb \\u00e9\"]]}",
	        IPC_OK},
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"headers\":"
	     "[[\"!#$%&'*+-.^_`|~09azAZ\",\"\"]]}",
	        IPC_OK},
	};
	CHECK_CASES(c);
}

static void
test_token_and_value_checks(void **state)
{
	assert_true(ipc_is_token("Content-Type"));
	assert_false(ipc_is_token(""));
	assert_false(ipc_is_token("a:b"));
	assert_false(ipc_is_token("a(b)"));
	assert_false(ipc_is_token("\xc3\xa9"));
	assert_true(ipc_is_header_value(""));
	assert_true(ipc_is_header_value("a\tb"));
	assert_true(ipc_is_header_value("\xc3\xa9"));
	assert_false(ipc_is_header_value("a\r\nb"));
	assert_false(ipc_is_header_value("\x7f"));
}

static void
test_too_many_headers(void **state)
{
	size_t n = IPC_MAX_HEADERS + 1, cap = 64 + n * 12;
	char *json = malloc(cap), *p = json;

	assert_non_null(json);
	p += sprintf(p, "{\"type\":\"response\",\"id\":1,\"status\":200,"
	                "\"headers\":[");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s[\"a\",\"b\"]", i ? "," : "");
	strcpy(p, "]}");
	assert_int_equal(decode_json(json), IPC_ETOOBIG);
	/* One fewer is fine. */
	p = strrchr(json, '[');
	strcpy(p - 1, "]}");
	assert_int_equal(decode_json(json), IPC_OK);
	free(json);
}

/* ---- WebSockets (PROTOCOL.md section 15) ---- */

/* Decode a header with this body; release; return the result. */
static int
decode_json_body(const char *json, const void *body, size_t body_len)
{
	struct ipc_msg m;
	char err[256] = "";
	size_t len;
	uint8_t *f = mkframe(json, strlen(json), body, body_len, &len);
	int rv = ipc_decode(f, len, &m, err, sizeof(err));

	if (rv == IPC_OK)
		ipc_msg_release(&m);
	else
		assert_true(err[0] != '\0');
	free(f);
	return (rv);
}

static void
assert_tags_equal(
    const char *const *a, size_t na, const char *const *b, size_t nb)
{
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++)
		assert_string_equal(a[i], b[i]);
}

/* Whether the JSON header of m contains s. */
static int
header_has(const struct ipc_msg *m, const char *s)
{
	char *json = ipc_header_json(m);
	int has;

	assert_non_null(json);
	has = strstr(json, s) != NULL;
	free(json);
	return (has);
}

/* A tag of the longest kind: 256 bytes, with multi-byte characters. */
static char long_tag[IPC_WS_MAX_TAG + 1];

static const char *
make_long_tag(void)
{
	memset(long_tag, 'x', IPC_WS_MAX_TAG);
	memcpy(long_tag, "\xc3\xa9\"\\", 4); /* é, and two JSON escapes */
	long_tag[IPC_WS_MAX_TAG] = '\0';
	return (long_tag);
}

static void
test_ws_type_names(void **state)
{
	static const struct {
		enum ipc_type t;
		const char *name;
	} names[] = {
	    {IPC_WS_MESSAGE, "ws_message"},
	    {IPC_WS_CLOSE, "ws_close"},
	    {IPC_WS_SEND, "ws_send"},
	    {IPC_WS_BROADCAST, "ws_broadcast"},
	    {IPC_WS_ATTACH, "ws_attach"},
	    {IPC_WS_AUTO, "ws_auto"},
	    {IPC_WS_LIST, "ws_list"},
	    {IPC_WS_GET, "ws_get"},
	    {IPC_WS_LIST_RESULT, "ws_list_result"},
	    {IPC_WS_INFO, "ws_info"},
	};
	char json[128];
	struct ipc_msg m;
	char err[256];
	size_t len;
	uint8_t *f;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_string_equal(ipc_type_name(names[i].t), names[i].name);
		/* The name decodes to the type (fields aside). */
		snprintf(
		    json, sizeof(json), "{\"type\":\"%s\"}", names[i].name);
		f = mkframe(json, strlen(json), NULL, 0, &len);
		if (ipc_decode(f, len, &m, err, sizeof(err)) == IPC_OK) {
			assert_int_equal(m.type, names[i].t);
			ipc_msg_release(&m);
		}
		free(f);
	}
	/* ws_open stays reserved: an unknown type. */
	f = mkframe("{\"type\":\"ws_open\"}", 18, NULL, 0, &len);
	assert_int_equal(ipc_decode(f, len, &m, err, sizeof(err)), IPC_OK);
	assert_int_equal(m.type, IPC_UNKNOWN);
	ipc_msg_release(&m);
	free(f);
}

static void
test_round_trip_ws_upgrade(void **state)
{
	const char *tags[] = {"room", "\xe6\x97\xa5", make_long_tag()};
	struct ipc_msg in = {.type = IPC_REQUEST,
	    .id = 3,
	    .method = "GET",
	    .path = "/chat/ws",
	    .headers = test_headers,
	    .nheaders = NTEST_HEADERS,
	    .websocket = 1,
	    .ws_conn = IPC_MAX_ID};
	struct ipc_msg out;
	uint8_t *f;

	round_trip(&in, &out, &f);
	assert_true(out.websocket);
	assert_true(out.ws_conn == IPC_MAX_ID);
	assert_headers_equal(&in, &out);
	ipc_msg_release(&out);
	free(f);

	/* Not an upgrade: neither field is written. */
	in.websocket = 0;
	round_trip(&in, &out, &f);
	assert_false(out.websocket);
	assert_true(out.ws_conn == 0);
	assert_false(header_has(&in, "websocket"));
	assert_false(header_has(&in, "ws_conn"));
	ipc_msg_release(&out);
	free(f);

	/* The 101 that accepts it, with tags. */
	memset(&in, 0, sizeof(in));
	in.type = IPC_RESPONSE;
	in.id = 3;
	in.status = 101;
	in.headers = test_headers;
	in.nheaders = 1;
	in.tags = tags;
	in.ntags = 3;
	round_trip(&in, &out, &f);
	assert_int_equal(out.status, 101);
	assert_tags_equal(tags, 3, out.tags, out.ntags);
	ipc_msg_release(&out);
	free(f);

	/* No tags: none on the wire, none decoded. */
	in.ntags = 0;
	round_trip(&in, &out, &f);
	assert_int_equal(out.ntags, 0);
	assert_null(out.tags);
	ipc_msg_release(&out);
	free(f);
}

static void
test_round_trip_ws_events(void **state)
{
	static const uint8_t bin[] = {0, 0xff, 0x80, 'x', 0};
	struct ipc_msg in = {.type = IPC_WS_MESSAGE,
	    .id = 11,
	    .conn = 5,
	    .binary = 1,
	    .body = bin,
	    .body_len = sizeof(bin)};
	struct ipc_msg out;
	uint8_t *f;

	round_trip(&in, &out, &f);
	assert_true(out.conn == 5);
	assert_true(out.binary);
	ipc_msg_release(&out);
	free(f);

	/* Text, empty: binary is absent, which is false. */
	in.binary = 0;
	in.body_len = 0;
	in.conn = IPC_MAX_ID;
	round_trip(&in, &out, &f);
	assert_false(out.binary);
	assert_true(out.conn == IPC_MAX_ID);
	assert_false(header_has(&in, "binary"));
	ipc_msg_release(&out);
	free(f);

	/* The close event: with an id, code 0..4999 and clean. */
	memset(&in, 0, sizeof(in));
	in.type = IPC_WS_CLOSE;
	in.id = 12;
	in.conn = 5;
	in.close_code = 1006;
	in.reason = "gone \xc3\xa9";
	in.clean = 1;
	round_trip(&in, &out, &f);
	assert_true(out.conn == 5);
	assert_int_equal(out.close_code, 1006);
	assert_string_equal(out.reason, "gone \xc3\xa9");
	assert_true(out.clean);
	ipc_msg_release(&out);
	free(f);
	in.close_code = 0;
	in.reason = NULL; /* as durod leaves it: "" */
	in.clean = 0;
	round_trip(&in, &out, &f);
	assert_int_equal(out.close_code, 0);
	assert_string_equal(out.reason, "");
	assert_false(out.clean);
	ipc_msg_release(&out);
	free(f);
}

static void
test_round_trip_ws_actions(void **state)
{
	static uint8_t att[IPC_WS_MAX_ATTACHMENT];
	static const uint8_t text[] = "hello";
	struct ipc_msg in, out;
	uint8_t *f;

	/* The close action: no id, so clean means nothing and is dropped. */
	memset(&in, 0, sizeof(in));
	in.type = IPC_WS_CLOSE;
	in.conn = 9;
	in.close_code = 4999;
	in.reason = "bye";
	in.clean = 1;
	round_trip(&in, &out, &f);
	assert_true(out.id == 0);
	assert_true(out.conn == 9);
	assert_int_equal(out.close_code, 4999);
	assert_string_equal(out.reason, "bye");
	assert_false(out.clean);
	ipc_msg_release(&out);
	free(f);

	memset(&in, 0, sizeof(in));
	in.type = IPC_WS_SEND;
	in.conn = 1;
	in.body = text;
	in.body_len = 5;
	round_trip(&in, &out, &f);
	assert_true(out.conn == 1);
	assert_false(out.binary);
	ipc_msg_release(&out);
	free(f);

	in.type = IPC_WS_BROADCAST;
	in.binary = 1;
	in.tag = make_long_tag();
	round_trip(&in, &out, &f);
	assert_true(out.binary);
	assert_string_equal(out.tag, long_tag);
	ipc_msg_release(&out);
	free(f);
	in.tag = NULL; /* every connection */
	round_trip(&in, &out, &f);
	assert_null(out.tag);
	ipc_msg_release(&out);
	free(f);

	memset(&in, 0, sizeof(in));
	in.type = IPC_WS_ATTACH;
	in.conn = 2;
	memset(att, 0xa5, sizeof(att));
	in.body = att;
	in.body_len = sizeof(att);
	round_trip(&in, &out, &f);
	assert_true(out.conn == 2);
	ipc_msg_release(&out);
	free(f);

	memset(&in, 0, sizeof(in));
	in.type = IPC_WS_AUTO;
	in.auto_request = "ping";
	in.auto_response = "pong \xe2\x82\xac";
	round_trip(&in, &out, &f);
	assert_string_equal(out.auto_request, "ping");
	assert_string_equal(out.auto_response, "pong \xe2\x82\xac");
	ipc_msg_release(&out);
	free(f);
	in.auto_request = NULL; /* both "": clear */
	in.auto_response = NULL;
	round_trip(&in, &out, &f);
	assert_string_equal(out.auto_request, "");
	assert_string_equal(out.auto_response, "");
	ipc_msg_release(&out);
	free(f);

	memset(&in, 0, sizeof(in));
	in.type = IPC_WS_LIST;
	in.tag = "room";
	round_trip(&in, &out, &f);
	assert_string_equal(out.tag, "room");
	ipc_msg_release(&out);
	free(f);
	in.tag = NULL;
	round_trip(&in, &out, &f);
	assert_null(out.tag);
	ipc_msg_release(&out);
	free(f);
	in.after = IPC_MAX_ID;
	round_trip(&in, &out, &f);
	assert_true(out.after == IPC_MAX_ID);
	ipc_msg_release(&out);
	free(f);

	memset(&in, 0, sizeof(in));
	in.type = IPC_WS_GET;
	in.conn = IPC_MAX_ID;
	round_trip(&in, &out, &f);
	assert_true(out.conn == IPC_MAX_ID);
	ipc_msg_release(&out);
	free(f);
}

static void
test_round_trip_ws_answers(void **state)
{
	const char *t1[] = {"a", "b"}, *t2[IPC_WS_MAX_TAGS];
	struct ipc_ws_conn conns[3] = {
	    {.conn = 1, .tags = t1, .ntags = 2, .auto_ms = 1700000000000},
	    {.conn = IPC_MAX_ID},
	    {.conn = 7, .tags = t2, .ntags = IPC_WS_MAX_TAGS},
	};
	static const uint8_t att[] = "{\"nick\":\"bob\"}";
	struct ipc_msg in, out;
	uint8_t *f;

	for (size_t i = 0; i < IPC_WS_MAX_TAGS; i++)
		t2[i] = make_long_tag();
	memset(&in, 0, sizeof(in));
	in.type = IPC_WS_LIST_RESULT;
	in.conns = conns;
	in.nconns = 3;
	round_trip(&in, &out, &f);
	assert_int_equal(out.nconns, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_true(out.conns[i].conn == conns[i].conn);
		assert_true(out.conns[i].auto_ms == conns[i].auto_ms);
		assert_tags_equal(conns[i].tags, conns[i].ntags,
		    out.conns[i].tags, out.conns[i].ntags);
	}
	assert_null(out.conns[1].tags);
	assert_false(out.more);
	/* Never auto-answered is null on the wire. */
	assert_true(header_has(&in, "\"auto_ms\":null"));
	ipc_msg_release(&out);
	free(f);
	in.nconns = 0;
	in.more = 1;
	round_trip(&in, &out, &f);
	assert_int_equal(out.nconns, 0);
	assert_null(out.conns);
	assert_true(out.more);
	ipc_msg_release(&out);
	free(f);

	memset(&in, 0, sizeof(in));
	in.type = IPC_WS_INFO;
	in.conn = 4;
	in.found = 1;
	in.tags = t1;
	in.ntags = 2;
	in.auto_ms = IPC_MAX_TIME_MS;
	in.body = att;
	in.body_len = sizeof(att) - 1;
	round_trip(&in, &out, &f);
	assert_true(out.conn == 4);
	assert_true(out.found);
	assert_tags_equal(t1, 2, out.tags, out.ntags);
	assert_true(out.auto_ms == IPC_MAX_TIME_MS);
	ipc_msg_release(&out);
	free(f);
	memset(&in, 0, sizeof(in));
	in.type = IPC_WS_INFO;
	in.conn = 4;
	round_trip(&in, &out, &f);
	assert_false(out.found);
	assert_int_equal(out.ntags, 0);
	assert_true(out.auto_ms == 0);
	ipc_msg_release(&out);
	free(f);
}

static void
test_ws_fields(void **state)
{
	static const struct field_case c[] = {
	    /* request: websocket is a bool, and needs ws_conn */
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\","
	     "\"websocket\":true,\"ws_conn\":1}",
	        IPC_OK},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\","
	     "\"websocket\":true}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\","
	     "\"websocket\":1,\"ws_conn\":1}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\","
	     "\"websocket\":true,\"ws_conn\":0}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\","
	     "\"websocket\":true,\"ws_conn\":9007199254740994}",
	        IPC_EFIELD},
	    {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\","
	     "\"websocket\":false}",
	        IPC_OK},
	    /* response tags */
	    {"{\"type\":\"response\",\"id\":1,\"status\":101,\"tags\":[]}",
	        IPC_OK},
	    {"{\"type\":\"response\",\"id\":1,\"status\":101,\"tags\":\"a\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":101,\"tags\":[1]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":101,\"tags\":[\"\"]}",
	        IPC_EFIELD},
	    {"{\"type\":\"response\",\"id\":1,\"status\":101,"
	     "\"tags\":[\"\xc3\"]}",
	        IPC_EFIELD},
	    /* checked on any response, though only a 101 uses them */
	    {"{\"type\":\"response\",\"id\":1,\"status\":200,\"tags\":[null]}",
	        IPC_EFIELD},
	    /* ws_message: id and conn required */
	    {"{\"type\":\"ws_message\",\"id\":1,\"conn\":1}", IPC_OK},
	    {"{\"type\":\"ws_message\",\"conn\":1}", IPC_EFIELD},
	    {"{\"type\":\"ws_message\",\"id\":1}", IPC_EFIELD},
	    {"{\"type\":\"ws_message\",\"id\":1,\"conn\":0}", IPC_EFIELD},
	    {"{\"type\":\"ws_message\",\"id\":1,\"conn\":\"1\"}", IPC_EFIELD},
	    {"{\"type\":\"ws_message\",\"id\":1,\"conn\":1.5}", IPC_EFIELD},
	    {"{\"type\":\"ws_message\",\"id\":1,\"conn\":1,\"binary\":0}",
	        IPC_EFIELD},
	    /* ws_close, the event (id): code 0..4999 required */
	    {"{\"type\":\"ws_close\",\"id\":1,\"conn\":1,\"code\":0}", IPC_OK},
	    {"{\"type\":\"ws_close\",\"id\":1,\"conn\":1,\"code\":4999,"
	     "\"reason\":\"\",\"clean\":true}",
	        IPC_OK},
	    {"{\"type\":\"ws_close\",\"id\":1,\"conn\":1}", IPC_EFIELD},
	    {"{\"type\":\"ws_close\",\"id\":1,\"conn\":1,\"code\":5000}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_close\",\"id\":1,\"conn\":1,\"code\":-1}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_close\",\"id\":1,\"code\":1000}", IPC_EFIELD},
	    {"{\"type\":\"ws_close\",\"id\":1,\"conn\":1,\"code\":1000,"
	     "\"clean\":\"yes\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_close\",\"id\":1,\"conn\":1,\"code\":1000,"
	     "\"reason\":7}",
	        IPC_EFIELD},
	    /* ws_close, the action (no id): code 1000..4999, default 1000 */
	    {"{\"type\":\"ws_close\",\"conn\":1}", IPC_OK},
	    {"{\"type\":\"ws_close\",\"conn\":1,\"code\":1000}", IPC_OK},
	    {"{\"type\":\"ws_close\",\"conn\":1,\"code\":999}", IPC_EFIELD},
	    {"{\"type\":\"ws_close\",\"conn\":1,\"code\":0}", IPC_EFIELD},
	    {"{\"type\":\"ws_close\",\"conn\":1,\"code\":5000}", IPC_EFIELD},
	    {"{\"type\":\"ws_close\",\"code\":1000}", IPC_EFIELD},
	    /* the action has no clean: ignored like any unknown field */
	    {"{\"type\":\"ws_close\",\"conn\":1,\"clean\":\"x\"}", IPC_OK},
	    /* ws_send */
	    {"{\"type\":\"ws_send\",\"conn\":1,\"binary\":true}", IPC_OK},
	    {"{\"type\":\"ws_send\"}", IPC_EFIELD},
	    {"{\"type\":\"ws_send\",\"conn\":-1}", IPC_EFIELD},
	    {"{\"type\":\"ws_send\",\"conn\":1,\"binary\":null}", IPC_EFIELD},
	    /* ws_broadcast: tag optional, 1..256 bytes */
	    {"{\"type\":\"ws_broadcast\"}", IPC_OK},
	    {"{\"type\":\"ws_broadcast\",\"tag\":\"room\"}", IPC_OK},
	    {"{\"type\":\"ws_broadcast\",\"tag\":\"\"}", IPC_EFIELD},
	    {"{\"type\":\"ws_broadcast\",\"tag\":[\"room\"]}", IPC_EFIELD},
	    {"{\"type\":\"ws_broadcast\",\"tag\":\"\xed\xa0\x80\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_broadcast\",\"binary\":\"false\"}", IPC_EFIELD},
	    /* ws_attach, ws_get */
	    {"{\"type\":\"ws_attach\",\"conn\":1}", IPC_OK},
	    {"{\"type\":\"ws_attach\"}", IPC_EFIELD},
	    {"{\"type\":\"ws_get\",\"conn\":1}", IPC_OK},
	    {"{\"type\":\"ws_get\",\"conn\":true}", IPC_EFIELD},
	    {"{\"type\":\"ws_get\"}", IPC_EFIELD},
	    /* ws_auto: both required; request "" only with response "" */
	    {"{\"type\":\"ws_auto\",\"request\":\"p\",\"response\":\"\"}",
	        IPC_OK},
	    {"{\"type\":\"ws_auto\",\"request\":\"\",\"response\":\"\"}",
	        IPC_OK},
	    {"{\"type\":\"ws_auto\",\"request\":\"\",\"response\":\"x\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_auto\",\"request\":\"p\"}", IPC_EFIELD},
	    {"{\"type\":\"ws_auto\",\"response\":\"p\"}", IPC_EFIELD},
	    {"{\"type\":\"ws_auto\",\"request\":1,\"response\":\"p\"}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_auto\",\"request\":\"\xff\",\"response\":\"p\"}",
	        IPC_EFIELD},
	    /* ws_list */
	    {"{\"type\":\"ws_list\"}", IPC_OK},
	    {"{\"type\":\"ws_list\",\"tag\":\"\"}", IPC_EFIELD},
	    {"{\"type\":\"ws_list\",\"tag\":null}", IPC_EFIELD},
	    {"{\"type\":\"ws_list\",\"after\":7}", IPC_OK},
	    {"{\"type\":\"ws_list\",\"after\":0}", IPC_EFIELD},
	    {"{\"type\":\"ws_list\",\"after\":\"7\"}", IPC_EFIELD},
	    {"{\"type\":\"ws_list_result\",\"conns\":[],\"more\":true}",
	        IPC_OK},
	    {"{\"type\":\"ws_list_result\",\"conns\":[],\"more\":1}",
	        IPC_EFIELD},
	    /* ws_list_result */
	    {"{\"type\":\"ws_list_result\",\"conns\":[]}", IPC_OK},
	    {"{\"type\":\"ws_list_result\",\"conns\":[{\"conn\":1}]}", IPC_OK},
	    {"{\"type\":\"ws_list_result\",\"conns\":[{\"conn\":1,\"tags\":[],"
	     "\"auto_ms\":null}]}",
	        IPC_OK},
	    {"{\"type\":\"ws_list_result\"}", IPC_EFIELD},
	    {"{\"type\":\"ws_list_result\",\"conns\":{}}", IPC_EFIELD},
	    {"{\"type\":\"ws_list_result\",\"conns\":[1]}", IPC_EFIELD},
	    {"{\"type\":\"ws_list_result\",\"conns\":[{}]}", IPC_EFIELD},
	    {"{\"type\":\"ws_list_result\",\"conns\":[{\"conn\":0}]}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_list_result\",\"conns\":[{\"conn\":1,"
	     "\"tags\":\"a\"}]}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_list_result\",\"conns\":[{\"conn\":1,"
	     "\"tags\":{\"a\":\"b\"}}]}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_list_result\",\"conns\":[{\"conn\":1,"
	     "\"tags\":[\"\"]}]}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_list_result\",\"conns\":[{\"conn\":1,"
	     "\"auto_ms\":0}]}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_list_result\",\"conns\":[{\"conn\":1,"
	     "\"auto_ms\":\"1\"}]}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_list_result\",\"conns\":[{\"conn\":1},"
	     "{\"conn\":2,\"tags\":[\"a\",2]}]}",
	        IPC_EFIELD},
	    /* ws_info */
	    {"{\"type\":\"ws_info\",\"conn\":1,\"found\":false}", IPC_OK},
	    {"{\"type\":\"ws_info\",\"conn\":1,\"found\":true,\"tags\":[\"a\"],"
	     "\"auto_ms\":5}",
	        IPC_OK},
	    {"{\"type\":\"ws_info\",\"conn\":1}", IPC_EFIELD},
	    {"{\"type\":\"ws_info\",\"found\":true}", IPC_EFIELD},
	    {"{\"type\":\"ws_info\",\"conn\":1,\"found\":true,\"tags\":[[]]}",
	        IPC_EFIELD},
	    {"{\"type\":\"ws_info\",\"conn\":1,\"found\":true,"
	     "\"auto_ms\":-5}",
	        IPC_EFIELD},
	};
	CHECK_CASES(c);
}

/* A JSON array of n tags of len bytes each ("[\"xx\",\"xx\"]"). */
static char *
tags_array(size_t n, size_t len)
{
	char *s = malloc(2 + n * (len + 3)), *p = s;

	assert_non_null(s);
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		p += sprintf(p, "%s\"", i > 0 ? "," : "");
		memset(p, 't', len);
		p += len;
		*p++ = '"';
	}
	strcpy(p, "]");
	return (s);
}

static int
decode_tags(const char *fmt, size_t n, size_t len)
{
	char *tags = tags_array(n, len), json[8192];
	int rv;

	snprintf(json, sizeof(json), fmt, tags);
	rv = decode_json(json);
	free(tags);
	return (rv);
}

static int
decode_string_field(const char *fmt, size_t len)
{
	char *s = malloc(len + 1), json[8192];
	int rv;

	assert_non_null(s);
	memset(s, 's', len);
	s[len] = '\0';
	snprintf(json, sizeof(json), fmt, s);
	rv = decode_json(json);
	free(s);
	return (rv);
}

static void
test_ws_limits(void **state)
{
	static const char resp[] =
	    "{\"type\":\"response\",\"id\":1,\"status\":101,\"tags\":%s}";
	static const char info[] =
	    "{\"type\":\"ws_info\",\"conn\":1,\"found\":true,\"tags\":%s}";
	static const char entry[] = "{\"type\":\"ws_list_result\",\"conns\":[{"
	                            "\"conn\":1,\"tags\":%s}]}";
	static const char *const with_tags[] = {resp, info, entry};
	static uint8_t att[IPC_WS_MAX_ATTACHMENT + 1];

	for (size_t i = 0; i < 3; i++) {
		const char *fmt = with_tags[i];
		assert_int_equal(decode_tags(fmt, IPC_WS_MAX_TAGS, 1), IPC_OK);
		assert_int_equal(decode_tags(fmt, 1, IPC_WS_MAX_TAG), IPC_OK);
		assert_int_equal(
		    decode_tags(fmt, IPC_WS_MAX_TAGS + 1, 1), IPC_EFIELD);
		assert_int_equal(
		    decode_tags(fmt, 1, IPC_WS_MAX_TAG + 1), IPC_EFIELD);
	}
	assert_int_equal(decode_string_field("{\"type\":\"ws_broadcast\","
	                                     "\"tag\":\"%s\"}",
	                     IPC_WS_MAX_TAG + 1),
	    IPC_EFIELD);
	assert_int_equal(decode_string_field("{\"type\":\"ws_list\","
	                                     "\"tag\":\"%s\"}",
	                     IPC_WS_MAX_TAG),
	    IPC_OK);
	/* Reasons: 123 bytes, either form. */
	assert_int_equal(decode_string_field("{\"type\":\"ws_close\",\"conn\":"
	                                     "1,\"reason\":\"%s\"}",
	                     IPC_WS_MAX_REASON),
	    IPC_OK);
	assert_int_equal(decode_string_field("{\"type\":\"ws_close\",\"conn\":"
	                                     "1,\"reason\":\"%s\"}",
	                     IPC_WS_MAX_REASON + 1),
	    IPC_EFIELD);
	assert_int_equal(decode_string_field("{\"type\":\"ws_close\",\"id\":2,"
	                                     "\"conn\":1,\"code\":1000,"
	                                     "\"reason\":\"%s\"}",
	                     IPC_WS_MAX_REASON + 1),
	    IPC_EFIELD);
	/* Auto-response strings: 2048 bytes each. */
	assert_int_equal(decode_string_field("{\"type\":\"ws_auto\","
	                                     "\"request\":\"%s\","
	                                     "\"response\":\"p\"}",
	                     IPC_WS_MAX_AUTO),
	    IPC_OK);
	assert_int_equal(decode_string_field("{\"type\":\"ws_auto\","
	                                     "\"request\":\"%s\","
	                                     "\"response\":\"p\"}",
	                     IPC_WS_MAX_AUTO + 1),
	    IPC_EFIELD);
	assert_int_equal(decode_string_field("{\"type\":\"ws_auto\","
	                                     "\"request\":\"p\","
	                                     "\"response\":\"%s\"}",
	                     IPC_WS_MAX_AUTO + 1),
	    IPC_EFIELD);
	/* Attachments: 16 KiB, both ways. */
	assert_int_equal(decode_json_body("{\"type\":\"ws_attach\",\"conn\":1}",
	                     att, IPC_WS_MAX_ATTACHMENT),
	    IPC_OK);
	assert_int_equal(decode_json_body("{\"type\":\"ws_attach\",\"conn\":1}",
	                     att, IPC_WS_MAX_ATTACHMENT + 1),
	    IPC_ETOOBIG);
	assert_int_equal(decode_json_body("{\"type\":\"ws_info\",\"conn\":1,"
	                                  "\"found\":true}",
	                     att, IPC_WS_MAX_ATTACHMENT),
	    IPC_OK);
	assert_int_equal(decode_json_body("{\"type\":\"ws_info\",\"conn\":1,"
	                                  "\"found\":true}",
	                     att, IPC_WS_MAX_ATTACHMENT + 1),
	    IPC_ETOOBIG);
	/* A message's body is bounded by the frame only. */
	assert_int_equal(decode_json_body("{\"type\":\"ws_send\",\"conn\":1}",
	                     att, IPC_WS_MAX_ATTACHMENT + 1),
	    IPC_OK);
}

/*
 * A list as long as a header holds. The shortest entry, {"conn":1}, takes
 * 11 bytes, so 32,768 of them (IPC_WS_MAX_CONNS) cannot fit in the
 * 262,144 bytes of a header: the frame limit is the one that bites.
 */
static void
test_ws_list_size(void **state)
{
	size_t n = 10000, cap = 64 + n * 40;
	char *json = malloc(cap), *p = json;
	struct ipc_msg m;
	char err[256];
	size_t len;
	uint8_t *f;

	assert_non_null(json);
	p += sprintf(p, "{\"type\":\"ws_list_result\",\"conns\":[");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s{\"conn\":%zu%s}", i > 0 ? "," : "", i + 1,
		    i % 2 ? ",\"tags\":[\"r\"]" : "");
	strcpy(p, "]}");
	f = mkframe(json, strlen(json), NULL, 0, &len);
	assert_int_equal(ipc_decode(f, len, &m, err, sizeof(err)), IPC_OK);
	assert_int_equal(m.nconns, n);
	assert_true(m.conns[n - 1].conn == n);
	assert_int_equal(m.conns[n - 1].ntags, 1);
	assert_string_equal(m.conns[n - 1].tags[0], "r");
	assert_int_equal(m.conns[n - 2].ntags, 0);
	ipc_msg_release(&m);
	free(f);

	/* 32,769 entries: over the header limit first. */
	n = IPC_WS_MAX_CONNS + 1;
	json = realloc(json, 64 + n * 12);
	assert_non_null(json);
	p = json + sprintf(json, "{\"type\":\"ws_list_result\",\"conns\":[");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s{\"conn\":1}", i > 0 ? "," : "");
	strcpy(p, "]}");
	assert_int_equal(decode_json(json), IPC_ETOOBIG);
	free(json);
}

static void
test_ws_text(void **state)
{
	assert_true(ipc_is_ws_text("", 0));
	assert_true(ipc_is_ws_text(NULL, 0));
	assert_true(ipc_is_ws_text("a\0b", 3)); /* NUL is a character */
	assert_true(ipc_is_ws_text("\xf0\x9f\x98\x80", 4));
	assert_false(ipc_is_ws_text("\xff", 1));
	assert_false(ipc_is_ws_text("\xc3", 1));         /* cut short */
	assert_false(ipc_is_ws_text("\xed\xa0\x80", 3)); /* a surrogate */
	assert_false(ipc_is_ws_text("\xc0\x80", 2));     /* overlong NUL */
	/* Protocol strings still refuse NUL. */
	assert_false(ipc_is_utf8("a\0b", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_ready),
	    cmocka_unit_test(test_round_trip_request),
	    cmocka_unit_test(test_round_trip_response),
	    cmocka_unit_test(test_round_trip_hibernate),
	    cmocka_unit_test(test_round_trip_error),
	    cmocka_unit_test(test_round_trip_empty_request),
	    cmocka_unit_test(test_binary_body),
	    cmocka_unit_test(test_type_names),
	    cmocka_unit_test(test_truncated_frames),
	    cmocka_unit_test(test_length_prefix_past_end),
	    cmocka_unit_test(test_oversized_header),
	    cmocka_unit_test(test_header_at_limit),
	    cmocka_unit_test(test_encoder_header_limit),
	    cmocka_unit_test(test_body_limits),
	    cmocka_unit_test(test_malformed_json),
	    cmocka_unit_test(test_nul_in_header),
	    cmocka_unit_test(test_trailing_whitespace),
	    cmocka_unit_test(test_non_object_json),
	    cmocka_unit_test(test_type_field),
	    cmocka_unit_test(test_ready_fields),
	    cmocka_unit_test(test_request_fields),
	    cmocka_unit_test(test_response_fields),
	    cmocka_unit_test(test_error_fields),
	    cmocka_unit_test(test_unknown_fields_ignored),
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_large_ids_round_trip),
	    cmocka_unit_test(test_unknown_type),
	    cmocka_unit_test(test_header_injection),
	    cmocka_unit_test(test_token_and_value_checks),
	    cmocka_unit_test(test_too_many_headers),
	    cmocka_unit_test(test_round_trip_alarm_messages),
	    cmocka_unit_test(test_alarm_fields),
	    cmocka_unit_test(test_alarm_lists),
	    cmocka_unit_test(test_alarm_next),
	    cmocka_unit_test(test_ws_type_names),
	    cmocka_unit_test(test_round_trip_ws_upgrade),
	    cmocka_unit_test(test_round_trip_ws_events),
	    cmocka_unit_test(test_round_trip_ws_actions),
	    cmocka_unit_test(test_round_trip_ws_answers),
	    cmocka_unit_test(test_ws_fields),
	    cmocka_unit_test(test_ws_limits),
	    cmocka_unit_test(test_ws_list_size),
	    cmocka_unit_test(test_ws_text),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
