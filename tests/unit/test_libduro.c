/*
 * test_libduro.c — libduro against a stand-in for durod (fake_durod.c).
 *
 * Each test gets its own listener and environment, opens libduro and runs
 * duro_run() on a second thread; the test thread plays durod.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <nng/nng.h>

#include "duro.h"
#include "duro_impl.h" /* the response builder's struct, for its own tests */
#include "fake_durod.h"
#include "ipc_nng.h"

struct fixture {
	struct fake_durod fake; /* first: see fake_durod.h */
	int hibernated; /* written by the worker thread before it returns */
};

/* ---- the durod side ---- */

static int
setup(void **state)
{
	return (fake_durod_setup(state, sizeof(struct fixture)));
}

/* Send a frame with this JSON header and no body. */
static void
send_json(struct fixture *fx, const char *json)
{
	size_t hlen = strlen(json);
	uint8_t *f = malloc(4 + hlen);

	assert_non_null(f);
	f[0] = (uint8_t)(hlen >> 24);
	f[1] = (uint8_t)(hlen >> 16);
	f[2] = (uint8_t)(hlen >> 8);
	f[3] = (uint8_t)hlen;
	memcpy(f + 4, json, hlen);
	assert_int_equal(nng_send(fx->fake.l, f, 4 + hlen, 0), 0);
	free(f);
}

static void
send_request(
    struct fixture *fx, uint64_t id, const char *method, const char *path)
{
	struct ipc_msg m = {
	    .type = IPC_REQUEST, .id = id, .method = method, .path = path};

	fake_durod_send(&fx->fake, &m);
}

static void
expect_error(
    struct fixture *fx, uint64_t id, const char *code, const char *message)
{
	struct ipc_msg m;

	fake_durod_recv(&fx->fake, &m);
	assert_int_equal(m.type, IPC_ERROR);
	assert_true(m.id == id);
	assert_string_equal(m.code, code);
	if (message != NULL)
		assert_string_equal(m.message, message);
	ipc_recv_done(&m);
}

/* ---- the worker's handlers ---- */

static int
echo_request(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	const char *test = duro_request_header(req, "x-TEST");
	char b[64];

	duro_response_status(resp, 201);
	duro_response_header(resp, "X-Method", req->method);
	duro_response_header(resp, "X-Path", req->path);
	duro_response_header(resp, "X-Query", req->query);
	duro_response_header(resp, "X-Test", test != NULL ? test : "(none)");
	if (duro_query_param(req, "b", b, sizeof(b)) == 0)
		duro_response_header(resp, "X-B", b);
	duro_response_body(resp, req->body, req->body_len);
	return (duro_response_printf(resp, "!"));
}

static int
test_handler(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	if (strcmp(req->path, "/fail") == 0) {
		duro_response_error(resp, "boom %d", 42);
		return (-1);
	}
	if (strcmp(req->path, "/fail-quietly") == 0)
		return (1);
	if (strcmp(req->path, "/bad-header") == 0) {
		/* Ignored failure: the request must fail anyway. */
		duro_response_header(resp, "X-Evil", "a\r\nSet-Cookie: x=1");
		return (0);
	}
	return (echo_request(d, req, resp));
}

static void
on_hibernate(struct duro *d, void *arg)
{
	struct fixture *fx = arg;

	fx->hibernated = 1;
}

/* Open libduro from the environment the fixture set. */
static void
worker_open(struct fixture *fx)
{
	fake_durod_open(&fx->fake, test_handler, fx);
	assert_int_equal(duro_on_hibernate(fx->fake.d, on_hibernate, fx), 0);
}

/* ---- tests ---- */

static void
test_open_env(void **state)
{
	struct fixture *fx = *state;
	struct duro *d = NULL;

	worker_open(fx);
	assert_string_equal(duro_namespace(fx->fake.d), "test");
	assert_string_equal(duro_object_id(fx->fake.d), FAKE_DUROD_OBJECT_ID);
	assert_string_equal(
	    duro_object_name(fx->fake.d), FAKE_DUROD_OBJECT_NAME);
	assert_string_equal(duro_storage_path(fx->fake.d), fx->fake.storage);
	/* pair0 takes one pipe: hang up before dialing again. */
	duro_close(fx->fake.d);
	fx->fake.d = NULL;

	unsetenv("DURO_OBJECT_NAME");
	assert_int_equal(duro_open(&d), 0);
	assert_null(duro_object_name(d));
	duro_close(d);
}

static void
test_open_errors(void **state)
{
	struct fixture *fx = *state;
	struct duro *d = (struct duro *)1;

	unsetenv("DURO_IPC");
	assert_int_equal(duro_open(&d), DURO_ENOENT);
	assert_null(d);
	setenv("DURO_IPC", "ipc:///nonexistent/duro-test.sock", 1);
	assert_int_equal(duro_open(&d), DURO_EIO);
	setenv("DURO_IPC", fx->fake.url, 1);

	/* A protocol we do not speak is a start-up failure: exit 1. */
	setenv("DURO_PROTOCOL", "2", 1);
	assert_int_equal(duro_open(&d), DURO_EINVAL);
	assert_int_equal(duro_exit_status(DURO_EINVAL), 1);
	unsetenv("DURO_PROTOCOL");
	assert_int_equal(duro_open(&d), DURO_ENOENT);
	assert_int_equal(duro_exit_status(DURO_ENOENT), 1);
	setenv("DURO_PROTOCOL", "1", 1);

	setenv("DURO_OBJECT_ID", "0123ABCD", 1);
	assert_int_equal(duro_open(&d), DURO_EINVAL);
	setenv("DURO_OBJECT_ID", FAKE_DUROD_OBJECT_ID, 1);
	unsetenv("DURO_STORAGE");
	assert_int_equal(duro_open(&d), DURO_ENOENT);

	assert_int_equal(duro_exit_status(0), 0);
	assert_int_equal(duro_exit_status(DURO_EPROTO), 2);
	assert_int_equal(duro_exit_status(DURO_EIO), 1);
}

static void
test_ready(void **state)
{
	struct fixture *fx = *state;

	worker_open(fx);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
}

static void
test_request_round_trip(void **state)
{
	static const struct ipc_header h[] = {
	    {"X-Test", "hello"},
	    {"Content-Type", "application/octet-stream"},
	};
	static const uint8_t body[] = {'a', 0, 0xff, 0, 'z'};
	struct fixture *fx = *state;
	struct ipc_msg req = {.type = IPC_REQUEST,
	    .id = 9007199254740992ull,
	    .method = "POST",
	    .path = "/x%2Fy",
	    .query = "a=1&b=x%20y+z",
	    .headers = (struct ipc_header *)h,
	    .nheaders = 2,
	    .body = body,
	    .body_len = sizeof(body)};
	struct ipc_msg m;

	worker_open(fx);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
	fake_durod_send(&fx->fake, &req);
	fake_durod_recv(&fx->fake, &m);
	assert_int_equal(m.type, IPC_RESPONSE);
	assert_true(m.id == req.id);
	assert_int_equal(m.status, 201);
	assert_int_equal(m.nheaders, 5);
	assert_string_equal(m.headers[0].value, "POST");
	assert_string_equal(m.headers[1].value, "/x%2Fy");
	assert_string_equal(m.headers[2].value, "a=1&b=x%20y+z");
	assert_string_equal(m.headers[3].value, "hello");
	assert_string_equal(m.headers[4].name, "X-B");
	assert_string_equal(m.headers[4].value, "x y z");
	assert_int_equal(m.body_len, sizeof(body) + 1);
	assert_memory_equal(m.body, body, sizeof(body));
	assert_int_equal(m.body[sizeof(body)], '!');
	ipc_recv_done(&m);

	/* The loop goes on: a second request, no headers, no body. */
	send_request(fx, 2, "GET", "/");
	fake_durod_recv(&fx->fake, &m);
	assert_int_equal(m.type, IPC_RESPONSE);
	assert_true(m.id == 2);
	assert_int_equal(m.body_len, 1);
	ipc_recv_done(&m);
}

static void
test_unknown_fields(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg m;

	worker_open(fx);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
	send_json(fx, "{\"type\":\"request\",\"id\":3,\"method\":\"GET\","
	              "\"path\":\"/\",\"deadline_ms\":5,\"x\":[1,{}]}");
	fake_durod_recv(&fx->fake, &m);
	assert_int_equal(m.type, IPC_RESPONSE);
	assert_true(m.id == 3);
	ipc_recv_done(&m);
}

static void
test_handler_failure(void **state)
{
	struct fixture *fx = *state;

	worker_open(fx);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
	send_request(fx, 11, "GET", "/fail");
	expect_error(fx, 11, "handler_failed", "boom 42");
	send_request(fx, 12, "GET", "/fail-quietly");
	expect_error(fx, 12, "handler_failed", "the handler failed");
	send_request(fx, 13, "GET", "/bad-header");
	expect_error(fx, 13, "handler_failed",
	    "building the response: invalid argument");
}

static void
test_no_handler(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(duro_open(&fx->fake.d), 0);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
	send_request(fx, 5, "GET", "/");
	expect_error(fx, 5, "unsupported", NULL);
}

static void
test_unknown_type(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg later = {
	    .type = IPC_UNKNOWN, .type_name = "ws_open", .id = 21};
	/* A known event this worker has no handler for. */
	struct ipc_msg alarm = {
	    .type = IPC_ALARM, .id = 24, .name = "", .scheduled = 1};
	struct ipc_msg note = {.type = IPC_UNKNOWN, .type_name = "log"};
	struct ipc_msg wrong_way = {
	    .type = IPC_RESPONSE, .id = 22, .status = 200};
	struct ipc_msg m;

	worker_open(fx);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
	fake_durod_send(&fx->fake, &later);
	expect_error(
	    fx, 21, "unsupported", "message type \"ws_open\" is not supported");
	fake_durod_send(&fx->fake, &wrong_way);
	expect_error(fx, 22, "unsupported", NULL);
	/* Without an id it is ignored: the next reply is the request's. */
	fake_durod_send(&fx->fake, &note);
	send_request(fx, 23, "GET", "/");
	fake_durod_recv(&fx->fake, &m);
	assert_int_equal(m.type, IPC_RESPONSE);
	assert_true(m.id == 23);
	ipc_recv_done(&m);
	fake_durod_send(&fx->fake, &alarm);
	expect_error(fx, 24, "unsupported", "this worker takes no alarms");
}

static void
test_hibernate(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg h = {.type = IPC_HIBERNATE};

	worker_open(fx);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
	fake_durod_send(&fx->fake, &h);
	assert_int_equal(fake_durod_join(&fx->fake), 0);
	assert_true(fx->hibernated);
}

static void
test_listener_close(void **state)
{
	struct fixture *fx = *state;

	worker_open(fx);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
	fake_durod_hangup(&fx->fake);
	assert_int_equal(fake_durod_join(&fx->fake), 0);
	assert_false(fx->hibernated);
}

static void
test_malformed_from_durod(void **state)
{
	struct fixture *fx = *state;

	worker_open(fx);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
	send_json(fx, "{broken");
	assert_int_equal(fake_durod_join(&fx->fake), DURO_EPROTO);
}

static void
test_send_raw_before_ready(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg m;
	nng_msg *raw;

	worker_open(fx);
	assert_int_equal(duro_send_raw(fx->fake.d, "\0garbage", 8), 0);
	assert_int_equal(nng_recvmsg(fx->fake.l, &raw, 0), 0);
	assert_int_equal(nng_msg_len(raw), 8);
	assert_memory_equal(nng_msg_body(raw), "\0garbage", 8);
	nng_msg_free(raw);

	assert_int_equal(duro_ready(fx->fake.d), 0);
	fake_durod_expect_ready(&fx->fake);
	assert_int_equal(duro_ready(fx->fake.d), DURO_ESTATE);
	/* duro_run() does not send ready again. */
	fake_durod_run(&fx->fake);
	send_request(fx, 1, "GET", "/");
	fake_durod_recv(&fx->fake, &m);
	assert_int_equal(m.type, IPC_RESPONSE);
	ipc_recv_done(&m);
}

/* ---- request helpers and the response builder (no sockets) ---- */

static void
test_request_header(void **state)
{
	static const struct duro_header h[] = {
	    {"Content-Type", "text/plain"},
	    {"X-Dup", "1"},
	    {"x-dup", "2"},
	};
	struct duro_request req = {.headers = h, .nheaders = 3};

	assert_string_equal(
	    duro_request_header(&req, "content-type"), "text/plain");
	assert_string_equal(duro_request_header(&req, "X-DUP"), "1");
	assert_null(duro_request_header(&req, "Content"));
}

static void
expect_param(const char *query, const char *key, int rv, const char *value)
{
	struct duro_request req = {.query = query};
	char buf[16];
	int got = duro_query_param(&req, key, buf, sizeof(buf));

	if (got != rv)
		fail_msg("%s [%s]: got %d, want %d", query, key, got, rv);
	if (rv == 0)
		assert_string_equal(buf, value);
}

static void
test_query_param(void **state)
{
	expect_param("by=5", "by", 0, "5");
	expect_param("a=1&by=-2&by=3", "by", 0, "-2");
	expect_param("b=1", "by", DURO_ENOENT, NULL);
	expect_param("", "by", DURO_ENOENT, NULL);
	expect_param("byx=1&xby=2", "by", DURO_ENOENT, NULL);
	expect_param("by", "by", 0, "");
	expect_param("by=", "by", 0, "");
	expect_param("&&by=1&", "by", 0, "1");
	expect_param("by=a+b%20c", "by", 0, "a b c");
	expect_param("by=%2B%2b1", "by", 0, "++1");
	expect_param("b%79=7", "by", 0, "7");
	expect_param("by=x=y", "by", 0, "x=y");
	expect_param("x=%zz&by=1", "by", 0, "1");
	expect_param("by=%4", "by", DURO_EINVAL, NULL);
	expect_param("by=%", "by", DURO_EINVAL, NULL);
	expect_param("by=%g0", "by", DURO_EINVAL, NULL);
	expect_param("by=a%00b", "by", DURO_EINVAL, NULL);
	expect_param("by=0123456789abcdef", "by", DURO_ERANGE, NULL);
	expect_param("by=0123456789abcde", "by", 0, "0123456789abcde");
}

static void
test_response_builder(void **state)
{
	struct duro_response r;

	duro_response_init(&r);
	assert_int_equal(r.status, 200);
	assert_int_equal(duro_response_status(&r, 404), 0);
	assert_int_equal(duro_response_header(&r, "X-A", "1\t2"), 0);
	assert_int_equal(duro_response_body(&r, "abc", 3), 0);
	assert_int_equal(duro_response_body(&r, "xy", 2), 0);
	assert_int_equal(duro_response_printf(&r, "%d-%s", 7, "z"), 0);
	assert_int_equal(r.body_len, 5);
	assert_memory_equal(r.body, "xy7-z", 5);
	assert_int_equal(r.err, 0);

	/* Failures are reported and the first one is kept. */
	assert_int_equal(duro_response_status(&r, 600), DURO_EINVAL);
	assert_int_equal(duro_response_header(&r, "X B", "1"), DURO_EINVAL);
	assert_int_equal(duro_response_header(&r, "X", "a\nb"), DURO_EINVAL);
	assert_int_equal(
	    duro_response_body(&r, NULL, IPC_MAX_BODY_BYTES + 1), DURO_ERANGE);
	assert_int_equal(r.err, DURO_EINVAL);
	assert_int_equal(r.status, 404);
	assert_int_equal(r.nheaders, 1);

	assert_int_equal(duro_response_error(&r, "why %d", 1), 0);
	assert_string_equal(r.error, "why 1");
	duro_response_free(&r);
}

static void
test_response_header_limit(void **state)
{
	struct duro_response r;

	duro_response_init(&r);
	for (int i = 0; i < IPC_MAX_HEADERS; i++)
		assert_int_equal(duro_response_header(&r, "X", "y"), 0);
	assert_int_equal(duro_response_header(&r, "X", "y"), DURO_ERANGE);
	assert_int_equal(r.err, DURO_ERANGE);
	duro_response_free(&r);
}

static void
test_response_cjson(void **state)
{
	static const char want[] =
	    "{\"big\":9007199254740993,\"min\":-9223372036854775808}";
	struct duro_response r;
	cJSON *o = cJSON_CreateObject();

	/* Past 2^53 a double would round: the digits must be exact. */
	assert_non_null(o);
	assert_int_equal(
	    duro_json_add_int(o, "big", (INT64_C(1) << 53) + 1), 0);
	assert_int_equal(duro_json_add_int(o, "min", INT64_MIN), 0);
	assert_int_equal(duro_json_add_int(NULL, "x", 1), DURO_EINVAL);
	assert_int_equal(duro_json_add_int(o, NULL, 1), DURO_EINVAL);
	duro_response_init(&r);
	assert_int_equal(duro_response_cjson(&r, 201, o), 0);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.nheaders, 1);
	assert_string_equal(r.headers[0].name, "Content-Type");
	assert_string_equal(r.headers[0].value, "application/json");
	assert_int_equal(r.body_len, strlen(want));
	assert_memory_equal(r.body, want, r.body_len);
	assert_int_equal(r.err, 0);

	/* A NULL object (a failed constructor) fails the response. */
	assert_int_equal(duro_response_cjson(&r, 200, NULL), DURO_ENOMEM);
	assert_int_equal(r.err, DURO_ENOMEM);
	assert_int_equal(r.status, 201);
	/* A bad status frees the object all the same (ASan checks). */
	assert_int_equal(
	    duro_response_cjson(&r, 600, cJSON_CreateObject()), DURO_EINVAL);
	duro_response_free(&r);
}

static void
test_strerror(void **state)
{
	assert_string_equal(duro_strerror(0), "success");
	assert_string_equal(duro_strerror(DURO_ECLOSED), "durod went away");
	assert_string_equal(duro_strerror(-1000), "unknown error");
	assert_string_equal(duro_strerror(5), "unknown error");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, fake_durod_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_open_env),
	    T(test_open_errors),
	    T(test_ready),
	    T(test_request_round_trip),
	    T(test_unknown_fields),
	    T(test_handler_failure),
	    T(test_no_handler),
	    T(test_unknown_type),
	    T(test_hibernate),
	    T(test_listener_close),
	    T(test_malformed_from_durod),
	    T(test_send_raw_before_ready),
	    cmocka_unit_test(test_request_header),
	    cmocka_unit_test(test_query_param),
	    cmocka_unit_test(test_response_builder),
	    cmocka_unit_test(test_response_header_limit),
	    cmocka_unit_test(test_response_cjson),
	    cmocka_unit_test(test_strerror),
	};

	/* A worker loop that never returns fails the run instead of hanging. */
	alarm(60);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
