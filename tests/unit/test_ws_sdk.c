/*
 * test_ws_sdk.c — libduro's WebSockets (worker/duro_ws.c) against the
 * stand-in for durod of fake_durod.c: the upgrade, the events, the output
 * gate, the immediate actions and the queries (ipc/PROTOCOL.md section
 * 15).
 *
 * As in test_libduro, duro_run() runs on a second thread and the test
 * thread plays durod. The handlers do what fx->mode says and record what
 * they saw and what their calls returned; the test thread asserts after
 * the reply.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "duro.h"
#include "duro_impl.h" /* the response builder's struct */
#include "fake_durod.h"
#include "ipc_nng.h"

#define MAX_RV 32

enum mode {
	M_RECORD,    /* record the message, write a KV entry */
	M_ECHO,      /* send the message back to its connection */
	M_GATED,     /* gated actions of every kind, and a write */
	M_FAIL,      /* the same, then fail */
	M_IMMEDIATE, /* a gated send, then the immediate actions */
	M_QUERY,     /* list (all, tagged) and get (found, not) */
	M_GET,       /* one get_attachment, recorded */
	M_LIMITS,    /* every client-side check */
};

struct fixture {
	struct fake_durod fake; /* first: see fake_durod.h */
	enum mode mode;
	int calls;
	/* the request handler */
	int websocket;
	uint64_t ws_conn;
	/* ws_message, ws_close */
	uint64_t conn;
	int binary;
	uint8_t *data;
	size_t len;
	int code;
	char reason[128];
	int clean;
	/* what the handler's calls returned, in order */
	int rv[MAX_RV];
	int nrv;
	struct duro_ws_info *list, *tagged;
	size_t nlist, ntagged;
	void *att;
	size_t att_len;
};

static int
setup(void **state)
{
	return (fake_durod_setup(state, sizeof(struct fixture)));
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	fake_durod_hangup(&fx->fake);
	if (fx->fake.running)
		fake_durod_join(&fx->fake);
	free(fx->data);
	free(fx->att);
	duro_ws_list_free(fx->list, fx->nlist);
	duro_ws_list_free(fx->tagged, fx->ntagged);
	return (fake_durod_teardown(state));
}

static void
note(struct fixture *fx, int rv)
{
	if (fx->nrv < MAX_RV)
		fx->rv[fx->nrv++] = rv;
}

/* Committed KV entries, as durod would see them. */
static int
kv_rows(struct fixture *fx)
{
	return (fake_durod_count(&fx->fake, "SELECT count(*) FROM _duro_kv"));
}

static int
kv_write(struct duro *d)
{
	int64_t n;

	duro_kv_get_int(d, "n", &n);
	return (duro_kv_put_int(d, "n", n + 1));
}

/* ---- the worker's handlers ---- */

static int
on_request(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	static const char *const tags[] = {"room", "user:\xc3\xa9"};
	struct fixture *fx = arg;
	uint64_t conn = duro_request_ws_conn(req);

	fx->calls++;
	fx->websocket = duro_request_is_websocket(req);
	fx->ws_conn = conn;
	if (strcmp(req->path, "/plain") == 0)
		return (duro_response_printf(resp, "plain"));
	if (strcmp(req->path, "/plain-accept") == 0) {
		note(fx, duro_ws_accept(resp, NULL, 0));
		return (0); /* the remembered failure fails it */
	}
	if (strcmp(req->path, "/plain-101") == 0) {
		note(fx, duro_response_status(resp, 101));
		return (0);
	}
	if (strcmp(req->path, "/alarm") == 0)
		return (duro_alarm_set(d, 1)); /* due at once */
	/* /ws and /ws-fail: accept, write, send the history. */
	note(fx, duro_ws_accept(resp, tags, 2));
	note(fx, duro_response_header(resp, "Sec-WebSocket-Protocol", "chat"));
	note(fx, duro_response_printf(resp, "a body a 101 cannot have"));
	note(fx, kv_write(d));
	note(fx, duro_ws_send(d, conn, 0, "h1", 2));
	note(fx, duro_ws_send(d, conn, 1, "h2", 2));
	return (strcmp(req->path, "/ws-fail") == 0 ? -1 : 0);
}

static int
gated(struct fixture *fx, struct duro *d, uint64_t conn)
{
	note(fx, duro_ws_send(d, conn, 0, "a", 1));
	note(fx, duro_ws_broadcast(d, "room", 1, "b\0", 2));
	note(fx, kv_write(d));
	note(fx, duro_ws_broadcast(d, NULL, 0, "c", 1));
	note(fx, duro_ws_close(d, conn, 4000, "bye"));
	note(fx, duro_ws_send(d, conn, 0, "", 0));
	return (fx->mode == M_FAIL ? -1 : 0);
}

static void
immediate(struct fixture *fx, struct duro *d, uint64_t conn)
{
	note(fx, duro_ws_send(d, conn, 0, "gated", 5));
	note(fx, duro_ws_set_attachment(d, conn, "{\"nick\":\"bob\"}", 14));
	note(fx, duro_ws_set_auto_response(d, "ping", "pong"));
	note(fx, duro_ws_set_attachment(d, conn, NULL, 0));
	note(fx, duro_ws_set_auto_response(d, NULL, NULL));
}

static void
query(struct fixture *fx, struct duro *d, uint64_t conn)
{
	void *att = (void *)1;
	size_t len = 1;

	note(fx, duro_ws_list(d, NULL, &fx->list, &fx->nlist));
	note(fx, duro_ws_list(d, "room", &fx->tagged, &fx->ntagged));
	note(fx, duro_ws_get_attachment(d, conn, &fx->att, &fx->att_len));
	note(fx, duro_ws_get_attachment(d, conn + 1, &att, &len));
	note(fx, att == NULL && len == 0);
}

static void
limits_text(struct fixture *fx, struct duro *d, uint64_t conn)
{
	char big[DURO_WS_AUTO_MAX + 2];
	struct duro_ws_info *l = NULL;
	size_t n = 0;

	memset(big, 't', sizeof(big));
	big[DURO_WS_TAG_MAX + 1] = '\0'; /* a tag one byte too long */
	note(fx, duro_ws_broadcast(d, big, 0, "x", 1));
	note(fx, duro_ws_broadcast(d, "", 0, "x", 1));
	note(fx, duro_ws_list(d, big, &l, &n));
	note(fx, duro_ws_list(d, "\xff", &l, &n));
	big[DURO_WS_TAG_MAX] = '\0';
	note(fx, duro_ws_broadcast(d, big, 0, "ok", 2)); /* sent */
	memset(big, 'a', sizeof(big));
	big[DURO_WS_AUTO_MAX + 1] = '\0';
	note(fx, duro_ws_set_auto_response(d, big, "p"));
	note(fx, duro_ws_set_auto_response(d, "p", big));
	note(fx, duro_ws_set_auto_response(d, "", "p"));
	note(fx, duro_ws_set_auto_response(d, "\xc0\x80", "p"));
}

static void
limits(struct fixture *fx, struct duro *d, uint64_t conn)
{
	static uint8_t att[DURO_WS_ATTACHMENT_MAX + 1];
	char reason[DURO_WS_REASON_MAX + 2];
	void *p;
	size_t len;

	note(fx, duro_ws_send(d, 0, 0, "x", 1));
	note(fx, duro_ws_send(d, IPC_MAX_ID + 1, 0, "x", 1));
	note(fx, duro_ws_send(d, conn, 0, NULL, 1));
	note(fx, duro_ws_send(d, conn, 0, "\xc3", 1)); /* not UTF-8 */
	note(fx, duro_ws_send(d, conn, 1, "\xc3", 1)); /* binary: fine */
	note(fx, duro_ws_send(d, conn, 0, "a\0b", 3)); /* NUL: fine */
	note(fx, duro_ws_send(d, conn, 1, att, (size_t)IPC_MAX_BODY_BYTES + 1));
	note(fx, duro_ws_close(d, conn, 999, NULL));
	note(fx, duro_ws_close(d, conn, 5000, NULL));
	note(fx, duro_ws_close(d, 0, 1000, NULL));
	memset(reason, 'r', sizeof(reason));
	reason[DURO_WS_REASON_MAX + 1] = '\0';
	note(fx, duro_ws_close(d, conn, 1000, reason));
	reason[DURO_WS_REASON_MAX] = '\0';
	note(fx, duro_ws_close(d, conn, 4999, reason)); /* sent */
	note(fx, duro_ws_set_attachment(d, conn, att, sizeof(att)));
	note(fx, duro_ws_set_attachment(d, conn, NULL, 1));
	note(fx, duro_ws_set_attachment(d, 0, att, 1));
	note(fx, duro_ws_get_attachment(d, 0, &p, &len));
	note(fx, duro_ws_get_attachment(d, conn, NULL, &len));
	limits_text(fx, d, conn);
}

static int
on_message(struct duro *d, uint64_t conn, int binary, const void *data,
    size_t len, void *arg)
{
	struct fixture *fx = arg;

	fx->calls++;
	fx->conn = conn;
	fx->binary = binary;
	fx->len = len;
	free(fx->data);
	fx->data = malloc(len > 0 ? len : 1);
	assert_non_null(fx->data); /* the test fails, not the worker */
	memcpy(fx->data, data, len);
	switch (fx->mode) {
	case M_RECORD:
		return (kv_write(d));
	case M_ECHO:
		return (duro_ws_send(d, conn, binary, data, len));
	case M_GATED:
	case M_FAIL:
		return (gated(fx, d, conn));
	case M_IMMEDIATE:
		immediate(fx, d, conn);
		return (0);
	case M_QUERY:
		query(fx, d, conn);
		return (kv_write(d));
	case M_GET:
		note(fx,
		    duro_ws_get_attachment(d, conn, &fx->att, &fx->att_len));
		return (kv_write(d));
	case M_LIMITS:
		limits(fx, d, conn);
		return (0);
	}
	return (-1);
}

static int
on_close(struct duro *d, uint64_t conn, int code, const char *reason, int clean,
    void *arg)
{
	struct fixture *fx = arg;

	fx->calls++;
	fx->conn = conn;
	fx->code = code;
	snprintf(fx->reason, sizeof(fx->reason), "%s", reason);
	fx->clean = clean;
	note(fx, duro_ws_broadcast(d, "room", 0, "left", 4));
	return (kv_write(d));
}

static int
on_alarm(struct duro *d, const struct duro_alarm *a, void *arg)
{
	struct fixture *fx = arg;

	fx->calls++;
	note(fx, duro_ws_broadcast(d, NULL, 0, "tick", 4));
	return (0);
}

/* Outside events every action and query is refused. */
static void
on_hibernate(struct duro *d, void *arg)
{
	struct fixture *fx = arg;
	void *p;
	size_t len;

	note(fx, duro_ws_send(d, 1, 0, "x", 1));
	note(fx, duro_ws_set_attachment(d, 1, "x", 1));
	note(fx, duro_ws_list(d, NULL, &fx->list, &fx->nlist));
	note(fx, duro_ws_get_attachment(d, 1, &p, &len));
}

/* Open with every handler (or only the request one) and run. */
static void
start(struct fixture *fx, int ws_handlers)
{
	fake_durod_open(&fx->fake, on_request, fx);
	if (ws_handlers) {
		assert_int_equal(
		    duro_on_ws_message(fx->fake.d, on_message, fx), 0);
		assert_int_equal(duro_on_ws_close(fx->fake.d, on_close, fx), 0);
		assert_int_equal(duro_on_alarm(fx->fake.d, on_alarm, fx), 0);
	}
	assert_int_equal(duro_on_hibernate(fx->fake.d, on_hibernate, fx), 0);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
}

/* ---- the durod side ---- */

static void
send_upgrade(struct fixture *fx, uint64_t id, const char *path, uint64_t conn)
{
	struct ipc_header h[] = {{"Upgrade", "websocket"}};
	struct ipc_msg m = {.type = IPC_REQUEST,
	    .id = id,
	    .method = "GET",
	    .path = path,
	    .headers = h,
	    .nheaders = 1,
	    .websocket = conn != 0,
	    .ws_conn = conn};

	fake_durod_send(&fx->fake, &m);
}

static void
send_message(struct fixture *fx, uint64_t id, uint64_t conn, int binary,
    const void *data, size_t len)
{
	struct ipc_msg m = {.type = IPC_WS_MESSAGE,
	    .id = id,
	    .conn = conn,
	    .binary = binary,
	    .body = data,
	    .body_len = len};

	fake_durod_send(&fx->fake, &m);
}

/* Expect an output-gated message of type t to conn (0: no conn). */
static void
expect_out(struct fixture *fx, enum ipc_type t, uint64_t conn, const char *tag,
    int binary, const void *data, size_t len)
{
	struct ipc_msg m;

	fake_durod_expect(&fx->fake, t, &m);
	assert_true(m.id == 0);
	assert_true(m.conn == conn);
	if (tag == NULL)
		assert_null(m.tag);
	else
		assert_string_equal(m.tag, tag);
	assert_int_equal(m.binary, binary);
	assert_int_equal(m.body_len, len);
	if (len > 0)
		assert_memory_equal(m.body, data, len);
	ipc_recv_done(&m);
}

static void
expect_rv(const struct fixture *fx, const int *want, int n)
{
	assert_int_equal(fx->nrv, n);
	for (int i = 0; i < n; i++)
		if (fx->rv[i] != want[i])
			fail_msg("call %d returned %d, want %d", i, fx->rv[i],
			    want[i]);
}

/* ---- the upgrade ---- */

static void
test_upgrade_accept(void **state)
{
	struct fixture *fx = *state;
	const int want[] = {0, 0, 0, 0, 0, 0};
	struct ipc_msg m;

	start(fx, 1);
	send_upgrade(fx, 1, "/ws", 77);
	/* The history to the new connection first, committed already... */
	expect_out(fx, IPC_WS_SEND, 77, NULL, 0, "h1", 2);
	assert_int_equal(kv_rows(fx), 1);
	expect_out(fx, IPC_WS_SEND, 77, NULL, 1, "h2", 2);
	/* ...then the 101, with the tags and no body. */
	fake_durod_expect(&fx->fake, IPC_RESPONSE, &m);
	assert_true(m.id == 1);
	assert_int_equal(m.status, 101);
	assert_int_equal(m.ntags, 2);
	assert_string_equal(m.tags[0], "room");
	assert_string_equal(m.tags[1], "user:\xc3\xa9");
	assert_int_equal(m.nheaders, 1);
	assert_string_equal(m.headers[0].name, "Sec-WebSocket-Protocol");
	assert_int_equal(m.body_len, 0);
	ipc_recv_done(&m);
	assert_true(fx->websocket);
	assert_true(fx->ws_conn == 77);
	expect_rv(fx, want, 6);
}

static void
test_upgrade_fails(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg m;

	start(fx, 1);
	send_upgrade(fx, 1, "/ws-fail", 78);
	/* Nothing of a failed event leaves: no sends, no write. */
	fake_durod_expect_error(&fx->fake, 1, "handler_failed");
	assert_int_equal(kv_rows(fx), 0);
	/* The next event starts clean: its own sends only. */
	send_upgrade(fx, 2, "/ws", 79);
	expect_out(fx, IPC_WS_SEND, 79, NULL, 0, "h1", 2);
	expect_out(fx, IPC_WS_SEND, 79, NULL, 1, "h2", 2);
	fake_durod_expect(&fx->fake, IPC_RESPONSE, &m);
	assert_int_equal(m.status, 101);
	ipc_recv_done(&m);
}

static void
test_not_an_upgrade(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg m;

	start(fx, 1);
	send_upgrade(fx, 1, "/plain", 0);
	fake_durod_expect(&fx->fake, IPC_RESPONSE, &m);
	assert_int_equal(m.status, 200);
	assert_int_equal(m.ntags, 0);
	ipc_recv_done(&m);
	assert_false(fx->websocket);
	assert_true(fx->ws_conn == 0);

	/* Accepting, or answering 101, fails the request. */
	send_upgrade(fx, 2, "/plain-accept", 0);
	fake_durod_expect_error(&fx->fake, 2, "handler_failed");
	send_upgrade(fx, 3, "/plain-101", 0);
	fake_durod_expect_error(&fx->fake, 3, "handler_failed");
	assert_int_equal(fx->nrv, 2);
	assert_int_equal(fx->rv[0], DURO_EINVAL);
	assert_int_equal(fx->rv[1], DURO_EINVAL);
}

/* duro_ws_accept()'s checks, on a response alone. */
static void
test_accept_checks(void **state)
{
	static const char *const eleven[] = {
	    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"};
	char tag[DURO_WS_TAG_MAX + 2];
	const char *t[1] = {tag};
	struct duro_response r;

	duro_response_init(&r);
	assert_int_equal(duro_ws_accept(&r, NULL, 0), DURO_EINVAL);
	assert_int_equal(r.err, DURO_EINVAL);
	assert_int_equal(duro_response_status(&r, 101), DURO_EINVAL);
	duro_response_free(&r);

	duro_response_init(&r);
	r.ws_upgrade = 1;
	assert_int_equal(duro_ws_accept(&r, eleven, 11), DURO_EINVAL);
	assert_int_equal(duro_ws_accept(&r, NULL, 1), DURO_EINVAL);
	memset(tag, 't', sizeof(tag));
	tag[DURO_WS_TAG_MAX + 1] = '\0';
	assert_int_equal(duro_ws_accept(&r, t, 1), DURO_EINVAL);
	tag[0] = '\0';
	assert_int_equal(duro_ws_accept(&r, t, 1), DURO_EINVAL);
	strcpy(tag, "\xed\xa0\x80"); /* a surrogate */
	assert_int_equal(duro_ws_accept(&r, t, 1), DURO_EINVAL);
	assert_int_equal(r.status, 200);
	/* The longest, the most; accepting again replaces the tags. */
	memset(tag, 't', DURO_WS_TAG_MAX);
	tag[DURO_WS_TAG_MAX] = '\0';
	assert_int_equal(duro_ws_accept(&r, t, 1), 0);
	assert_int_equal(duro_ws_accept(&r, eleven, 10), 0);
	assert_int_equal(r.status, 101);
	assert_int_equal(r.ntags, 10);
	assert_string_equal(r.tags[9], "10");
	assert_int_equal(duro_ws_accept(&r, NULL, 0), 0);
	assert_int_equal(r.ntags, 0);
	assert_int_equal(duro_response_status(&r, 101), 0);
	duro_response_free(&r);
}

/* ---- events ---- */

static void
test_message_dispatch(void **state)
{
	struct fixture *fx = *state;
	static const uint8_t bin[] = {0, 0xff, 0, 0x80};
	const char *text = "h\xc3\xa9llo";

	start(fx, 1);
	send_message(fx, 5, 3, 0, text, strlen(text));
	fake_durod_expect_done(&fx->fake, 5);
	assert_true(fx->conn == 3);
	assert_false(fx->binary);
	assert_int_equal(fx->len, strlen(text));
	assert_memory_equal(fx->data, text, fx->len);
	assert_int_equal(kv_rows(fx), 1);

	send_message(fx, 6, IPC_MAX_ID, 1, bin, sizeof(bin));
	fake_durod_expect_done(&fx->fake, 6);
	assert_true(fx->conn == IPC_MAX_ID);
	assert_true(fx->binary);
	assert_int_equal(fx->len, sizeof(bin));
	assert_memory_equal(fx->data, bin, sizeof(bin));

	/* Empty, text and binary. */
	send_message(fx, 7, 3, 0, NULL, 0);
	fake_durod_expect_done(&fx->fake, 7);
	assert_int_equal(fx->len, 0);
	send_message(fx, 8, 3, 1, NULL, 0);
	fake_durod_expect_done(&fx->fake, 8);
	assert_true(fx->binary);
	assert_int_equal(fx->len, 0);
	assert_int_equal(fx->calls, 4);
}

static void
test_message_big(void **state)
{
	struct fixture *fx = *state;
	size_t len = 1024 * 1024;
	uint8_t *big = malloc(len);

	assert_non_null(big);
	for (size_t i = 0; i < len; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 11));
	start(fx, 1);
	fx->mode = M_ECHO;
	send_message(fx, 9, 4, 1, big, len);
	expect_out(fx, IPC_WS_SEND, 4, NULL, 1, big, len);
	fake_durod_expect_done(&fx->fake, 9);
	assert_int_equal(fx->len, len);
	assert_memory_equal(fx->data, big, len);
	free(big);
}

static void
test_close_dispatch(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg m = {.type = IPC_WS_CLOSE,
	    .id = 10,
	    .conn = 12,
	    .close_code = 4001,
	    .reason = "going \xc3\xa9",
	    .clean = 1};

	start(fx, 1);
	fake_durod_send(&fx->fake, &m);
	expect_out(fx, IPC_WS_BROADCAST, 0, "room", 0, "left", 4);
	fake_durod_expect_done(&fx->fake, 10);
	assert_true(fx->conn == 12);
	assert_int_equal(fx->code, 4001);
	assert_string_equal(fx->reason, "going \xc3\xa9");
	assert_true(fx->clean);
	assert_int_equal(kv_rows(fx), 1);

	/* A broken connection: 1006, no reason, not clean. */
	m.id = 11;
	m.close_code = 1006;
	m.reason = NULL;
	m.clean = 0;
	fake_durod_send(&fx->fake, &m);
	expect_out(fx, IPC_WS_BROADCAST, 0, "room", 0, "left", 4);
	fake_durod_expect_done(&fx->fake, 11);
	assert_int_equal(fx->code, 1006);
	assert_string_equal(fx->reason, "");
	assert_false(fx->clean);

	/* The action's form (no id) is not for workers: ignored. */
	m.id = 0;
	m.close_code = 1000;
	fake_durod_send(&fx->fake, &m);
	send_message(fx, 12, 3, 0, "x", 1);
	fake_durod_expect_done(&fx->fake, 12);
	assert_int_equal(fx->calls, 3);
}

/* ---- the output gate ---- */

static void
test_gated_order(void **state)
{
	struct fixture *fx = *state;
	const int want[] = {0, 0, 0, 0, 0, 0};
	struct ipc_msg m;

	start(fx, 1);
	fx->mode = M_GATED;
	send_message(fx, 20, 5, 0, "go", 2);
	/* In call order, after the COMMIT, before the done. */
	expect_out(fx, IPC_WS_SEND, 5, NULL, 0, "a", 1);
	assert_int_equal(kv_rows(fx), 1);
	expect_out(fx, IPC_WS_BROADCAST, 0, "room", 1, "b\0", 2);
	expect_out(fx, IPC_WS_BROADCAST, 0, NULL, 0, "c", 1);
	fake_durod_expect(&fx->fake, IPC_WS_CLOSE, &m);
	assert_true(m.id == 0); /* the action */
	assert_true(m.conn == 5);
	assert_int_equal(m.close_code, 4000);
	assert_string_equal(m.reason, "bye");
	assert_int_equal(m.body_len, 0);
	ipc_recv_done(&m);
	expect_out(fx, IPC_WS_SEND, 5, NULL, 0, "", 0);
	fake_durod_expect_done(&fx->fake, 20);
	expect_rv(fx, want, 6);
}

static void
test_gated_dropped_on_failure(void **state)
{
	struct fixture *fx = *state;

	start(fx, 1);
	fx->mode = M_FAIL;
	send_message(fx, 21, 5, 0, "go", 2);
	fake_durod_expect_error(&fx->fake, 21, "handler_failed");
	assert_int_equal(kv_rows(fx), 0);
	assert_int_equal(fx->nrv, 6);
	/* Nothing was left behind for the next event. */
	fx->mode = M_RECORD;
	send_message(fx, 22, 5, 0, "x", 1);
	fake_durod_expect_done(&fx->fake, 22);
	assert_int_equal(kv_rows(fx), 1);
}

/* An alarm's sends are gated like any event's. */
static void
test_gated_alarm(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg m = {
	    .type = IPC_ALARM, .id = 31, .name = "", .scheduled = 1};
	struct ipc_msg ack = {.type = IPC_ALARM_ACK, .ok = 1};

	start(fx, 1);
	send_upgrade(fx, 30, "/alarm", 0);
	fake_durod_expect(&fx->fake, IPC_ALARM_SYNC, &m);
	ipc_recv_done(&m);
	fake_durod_send(&fx->fake, &ack);
	fake_durod_expect(&fx->fake, IPC_RESPONSE, &m);
	ipc_recv_done(&m);

	m.type = IPC_ALARM;
	m.id = 31;
	m.name = "";
	m.scheduled = 1;
	fake_durod_send(&fx->fake, &m);
	expect_out(fx, IPC_WS_BROADCAST, 0, NULL, 0, "tick", 4);
	fake_durod_expect_done(&fx->fake, 31);
	assert_int_equal(fx->calls, 2);
	assert_int_equal(fx->rv[0], 0);
}

static void
test_immediate(void **state)
{
	struct fixture *fx = *state;
	const int want[] = {0, 0, 0, 0, 0};
	struct ipc_msg m;

	start(fx, 1);
	fx->mode = M_IMMEDIATE;
	send_message(fx, 40, 6, 0, "go", 2);
	/* Made after the send, out before it: they do not wait. */
	fake_durod_expect(&fx->fake, IPC_WS_ATTACH, &m);
	assert_true(m.conn == 6);
	assert_int_equal(m.body_len, 14);
	assert_memory_equal(m.body, "{\"nick\":\"bob\"}", 14);
	ipc_recv_done(&m);
	fake_durod_expect(&fx->fake, IPC_WS_AUTO, &m);
	assert_string_equal(m.auto_request, "ping");
	assert_string_equal(m.auto_response, "pong");
	ipc_recv_done(&m);
	fake_durod_expect(&fx->fake, IPC_WS_ATTACH, &m);
	assert_int_equal(m.body_len, 0);
	ipc_recv_done(&m);
	fake_durod_expect(&fx->fake, IPC_WS_AUTO, &m);
	assert_string_equal(m.auto_request, "");
	assert_string_equal(m.auto_response, "");
	ipc_recv_done(&m);
	expect_out(fx, IPC_WS_SEND, 6, NULL, 0, "gated", 5);
	fake_durod_expect_done(&fx->fake, 40);
	expect_rv(fx, want, 5);
}

/* ---- queries ---- */

static void
answer_list(struct fixture *fx, const char *want_tag)
{
	static const char *const tags[] = {"room", "user:1"};
	struct ipc_ws_conn conns[2] = {
	    {.conn = 6, .tags = tags, .ntags = 2, .auto_ms = 1790000000000},
	    {.conn = 9},
	};
	struct ipc_msg q, a;

	fake_durod_expect(&fx->fake, IPC_WS_LIST, &q);
	if (want_tag == NULL)
		assert_null(q.tag);
	else
		assert_string_equal(q.tag, want_tag);
	ipc_recv_done(&q);
	memset(&a, 0, sizeof(a));
	a.type = IPC_WS_LIST_RESULT;
	a.conns = conns;
	a.nconns = want_tag == NULL ? 2 : 0;
	fake_durod_send(&fx->fake, &a);
}

static void
answer_get(struct fixture *fx, uint64_t conn, int found, uint64_t reply_conn)
{
	struct ipc_msg q, a;

	fake_durod_expect(&fx->fake, IPC_WS_GET, &q);
	assert_true(q.conn == conn);
	ipc_recv_done(&q);
	memset(&a, 0, sizeof(a));
	a.type = IPC_WS_INFO;
	a.conn = reply_conn;
	a.found = found;
	a.body = (const uint8_t *)"att\0ch";
	a.body_len = found ? 6 : 0;
	fake_durod_send(&fx->fake, &a);
}

static void
test_queries(void **state)
{
	struct fixture *fx = *state;
	const int want[] = {0, 0, 0, DURO_ENOENT, 1};

	start(fx, 1);
	fx->mode = M_QUERY;
	send_message(fx, 50, 6, 0, "go", 2);
	answer_list(fx, NULL);
	answer_list(fx, "room");
	answer_get(fx, 6, 1, 6);
	answer_get(fx, 7, 0, 7);
	fake_durod_expect_done(&fx->fake, 50);
	expect_rv(fx, want, 5);
	assert_int_equal(fx->nlist, 2);
	assert_true(fx->list[0].conn == 6);
	assert_int_equal(fx->list[0].ntags, 2);
	assert_string_equal(fx->list[0].tags[0], "room");
	assert_string_equal(fx->list[0].tags[1], "user:1");
	assert_true(fx->list[0].auto_ms == 1790000000000);
	assert_true(fx->list[1].conn == 9);
	assert_int_equal(fx->list[1].ntags, 0);
	assert_true(fx->list[1].auto_ms == -1);
	assert_null(fx->tagged);
	assert_int_equal(fx->ntagged, 0);
	assert_int_equal(fx->att_len, 6);
	assert_memory_equal(fx->att, "att\0ch", 6);
	assert_int_equal(kv_rows(fx), 1);
}

/* A found connection without an attachment: NULL, 0. */
static void
test_get_empty(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg q, a;

	start(fx, 1);
	fx->mode = M_GET;
	send_message(fx, 51, 6, 0, "go", 2);
	fake_durod_expect(&fx->fake, IPC_WS_GET, &q);
	ipc_recv_done(&q);
	memset(&a, 0, sizeof(a));
	a.type = IPC_WS_INFO;
	a.conn = 6;
	a.found = 1;
	fake_durod_send(&fx->fake, &a);
	fake_durod_expect_done(&fx->fake, 51);
	assert_int_equal(fx->rv[0], 0);
	assert_null(fx->att);
	assert_int_equal(fx->att_len, 0);
}

/* While a query waits, anything but its answer breaks the protocol. */
static void
test_query_wrong_answer(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg q, a;

	start(fx, 1);
	fx->mode = M_GET;
	send_message(fx, 52, 6, 0, "go", 2);
	fake_durod_expect(&fx->fake, IPC_WS_GET, &q);
	ipc_recv_done(&q);
	memset(&a, 0, sizeof(a));
	a.type = IPC_WS_LIST_RESULT;
	fake_durod_send(&fx->fake, &a);
	assert_int_equal(fake_durod_join(&fx->fake), DURO_EPROTO);
	assert_int_equal(fx->rv[0], DURO_EPROTO);
	assert_int_equal(kv_rows(fx), 0); /* nothing committed */
}

static void
test_query_wrong_conn(void **state)
{
	struct fixture *fx = *state;

	start(fx, 1);
	fx->mode = M_GET;
	send_message(fx, 53, 6, 0, "go", 2);
	answer_get(fx, 6, 1, 7);
	assert_int_equal(fake_durod_join(&fx->fake), DURO_EPROTO);
	assert_int_equal(fx->rv[0], DURO_EPROTO);
	assert_int_equal(kv_rows(fx), 0);
}

/* durod gone while a query waits: the worker ends, cleanly. */
static void
test_query_durod_gone(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg q;

	start(fx, 1);
	fx->mode = M_GET;
	send_message(fx, 54, 6, 0, "go", 2);
	fake_durod_expect(&fx->fake, IPC_WS_GET, &q);
	ipc_recv_done(&q);
	fake_durod_hangup(&fx->fake);
	assert_int_equal(fake_durod_join(&fx->fake), 0);
	assert_int_equal(fx->rv[0], DURO_ECLOSED);
	assert_int_equal(kv_rows(fx), 0);
}

static void
test_outside_events(void **state)
{
	struct fixture *fx = *state;
	const int want[] = {DURO_ESTATE, DURO_ESTATE, DURO_ESTATE, DURO_ESTATE};
	struct duro_ws_info *l = (struct duro_ws_info *)1;
	struct ipc_msg m = {.type = IPC_HIBERNATE};
	size_t n = 1;

	fake_durod_open(&fx->fake, on_request, fx);
	/* Before duro_run(). */
	assert_int_equal(duro_ws_send(fx->fake.d, 1, 0, "x", 1), DURO_ESTATE);
	assert_int_equal(
	    duro_ws_broadcast(fx->fake.d, NULL, 0, "x", 1), DURO_ESTATE);
	assert_int_equal(duro_ws_close(fx->fake.d, 1, 1000, ""), DURO_ESTATE);
	assert_int_equal(
	    duro_ws_set_auto_response(fx->fake.d, "a", "b"), DURO_ESTATE);
	assert_int_equal(duro_ws_list(fx->fake.d, NULL, &l, &n), DURO_ESTATE);
	assert_null(l);
	assert_int_equal(n, 0);
	/* In the hibernate callback. */
	assert_int_equal(duro_on_hibernate(fx->fake.d, on_hibernate, fx), 0);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
	fake_durod_send(&fx->fake, &m);
	assert_int_equal(fake_durod_join(&fx->fake), 0);
	expect_rv(fx, want, 4);
}

static void
test_limits(void **state)
{
	struct fixture *fx = *state;
	const int want[] = {DURO_EINVAL, DURO_EINVAL, DURO_EINVAL, DURO_EINVAL,
	    0, 0, DURO_ERANGE, DURO_EINVAL, DURO_EINVAL, DURO_EINVAL,
	    DURO_EINVAL, 0, DURO_ERANGE, DURO_EINVAL, DURO_EINVAL, DURO_EINVAL,
	    DURO_EINVAL,
	    /* limits_text */
	    DURO_EINVAL, DURO_EINVAL, DURO_EINVAL, DURO_EINVAL, 0, DURO_EINVAL,
	    DURO_EINVAL, DURO_EINVAL, DURO_EINVAL};
	char tag[DURO_WS_TAG_MAX + 1], reason[DURO_WS_REASON_MAX + 1];
	struct ipc_msg m;

	start(fx, 1);
	fx->mode = M_LIMITS;
	send_message(fx, 60, 6, 0, "go", 2);
	/* Only what passed its checks leaves, in order. */
	expect_out(fx, IPC_WS_SEND, 6, NULL, 1, "\xc3", 1);
	expect_out(fx, IPC_WS_SEND, 6, NULL, 0, "a\0b", 3);
	memset(reason, 'r', DURO_WS_REASON_MAX);
	reason[DURO_WS_REASON_MAX] = '\0';
	fake_durod_expect(&fx->fake, IPC_WS_CLOSE, &m);
	assert_int_equal(m.close_code, 4999);
	assert_string_equal(m.reason, reason);
	ipc_recv_done(&m);
	memset(tag, 't', DURO_WS_TAG_MAX);
	tag[DURO_WS_TAG_MAX] = '\0';
	expect_out(fx, IPC_WS_BROADCAST, 0, tag, 0, "ok", 2);
	fake_durod_expect_done(&fx->fake, 60);
	expect_rv(fx, want, (int)(sizeof(want) / sizeof(want[0])));
}

static void
test_unsupported(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg m = {
	    .type = IPC_WS_CLOSE, .id = 71, .conn = 1, .close_code = 1000};

	start(fx, 0);
	send_message(fx, 70, 1, 0, "x", 1);
	fake_durod_expect_error(&fx->fake, 70, "unsupported");
	fake_durod_send(&fx->fake, &m);
	fake_durod_expect_error(&fx->fake, 71, "unsupported");
	assert_int_equal(fx->calls, 0);
	/* The worker goes on. */
	send_upgrade(fx, 72, "/plain", 0);
	fake_durod_expect(&fx->fake, IPC_RESPONSE, &m);
	ipc_recv_done(&m);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_upgrade_accept),
	    T(test_upgrade_fails),
	    T(test_not_an_upgrade),
	    cmocka_unit_test(test_accept_checks),
	    T(test_message_dispatch),
	    T(test_message_big),
	    T(test_close_dispatch),
	    T(test_gated_order),
	    T(test_gated_dropped_on_failure),
	    T(test_gated_alarm),
	    T(test_immediate),
	    T(test_queries),
	    T(test_get_empty),
	    T(test_query_wrong_answer),
	    T(test_query_wrong_conn),
	    T(test_query_durod_gone),
	    T(test_outside_events),
	    T(test_limits),
	    T(test_unsupported),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
