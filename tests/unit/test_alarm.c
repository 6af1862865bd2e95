/*
 * test_alarm.c — libduro's alarms: the API over storage, what an event
 * tells durod (ipc/PROTOCOL.md section 14), and the alarm event.
 *
 * The API tests open the storage alone and drive events with the
 * internal duro_storage_event_begin/end, as test_storage does. The wire
 * tests run duro_run() on a second thread against the stand-in for durod
 * of fake_durod.c, as test_libduro does: the worker thread records what
 * its handlers saw, the test thread asserts after the reply.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "duro.h"
#include "duro_impl.h"
#include "fake_durod.h"
#include "ipc_nng.h"

#define FAR ((int64_t)1 << 52) /* a time that is never due */
#define HOUR ((int64_t)3600000)

struct fixture {
	struct fake_durod fake; /* first: see fake_durod.h */
	/* The alarm handler: what it does, and what it saw. */
	int handler_rv;
	int64_t reset_at; /* > 0: set its own alarm to it; -1: delete it */
	int calls;
	char name[DURO_ALARM_MAX_NAME + 1];
	int64_t scheduled;
	unsigned retry;
	int final;
};

static int
setup(void **state)
{
	return (fake_durod_setup(state, sizeof(struct fixture)));
}

/* The committed state of alarm name, as another connection sees it. */
static int
committed(struct fixture *fx, const char *name, int64_t *at, int64_t *every)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int found;

	assert_int_equal(
	    sqlite3_open_v2(fx->fake.storage, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                     "SELECT at_ms, every_ms FROM _duro_alarms "
	                     "WHERE name = ?",
	                     -1, &stmt, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	if ((found = sqlite3_step(stmt) == SQLITE_ROW)) {
		if (at != NULL)
			*at = sqlite3_column_int64(stmt, 0);
		if (every != NULL)
			*every = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return (found);
}

/* Committed KV entries: the alarm handler's writes. */
static int
kv_rows(struct fixture *fx)
{
	return (fake_durod_count(&fx->fake, "SELECT count(*) FROM _duro_kv"));
}

/* ---- the API, no durod ---- */

static void
test_api(void **state)
{
	struct fixture *fx = *state;
	struct duro *d = fake_durod_storage_open(&fx->fake);
	struct duro_alarm_info *list;
	int64_t at, every;
	size_t n;

	/* Outside events: reads work, sets are refused. */
	assert_int_equal(duro_alarm_get(d, &at), DURO_ENOENT);
	assert_int_equal(duro_alarm_set(d, 1000), DURO_ESTATE);
	assert_int_equal(duro_alarm_set_named(d, "a", 1000, 0), DURO_ESTATE);
	assert_int_equal(duro_alarm_list(d, &list, &n), 0);
	assert_null(list);
	assert_int_equal(n, 0);

	duro_storage_event_begin(d);
	assert_int_equal(duro_alarm_set(d, 1000), 0);
	assert_int_equal(duro_alarm_set_named(d, "b", 500, 10), 0);
	assert_int_equal(duro_alarm_set_named(d, "a", 500, 0), 0);
	assert_int_equal(duro_alarm_get(d, &at), 0);
	assert_true(at == 1000);
	assert_int_equal(duro_alarm_get_named(d, "b", &at, &every), 0);
	assert_true(at == 500 && every == 10);
	assert_int_equal(duro_alarm_get_named(d, "b", NULL, NULL), 0);
	assert_int_equal(
	    duro_alarm_get_named(d, "c", &at, &every), DURO_ENOENT);
	assert_int_equal(duro_storage_event_end(d, 1), 0);

	/* Ordered by time, then name. */
	assert_int_equal(duro_alarm_list(d, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].name, "a");
	assert_string_equal(list[1].name, "b");
	assert_true(list[1].at_ms == 500 && list[1].every_ms == 10);
	assert_string_equal(list[2].name, "");
	assert_true(list[2].at_ms == 1000 && list[2].every_ms == 0);
	duro_alarm_list_free(list, n);

	/* "" is the default alarm under either API. */
	duro_storage_event_begin(d);
	assert_int_equal(duro_alarm_set_named(d, "", 2000, 5), 0);
	assert_int_equal(duro_alarm_get(d, &at), 0);
	assert_true(at == 2000);
	assert_int_equal(duro_alarm_set(d, 3000), 0);
	assert_int_equal(duro_alarm_get_named(d, "", &at, &every), 0);
	assert_true(at == 3000 && every == 0);
	assert_int_equal(duro_storage_event_end(d, 1), 0);

	/* Deleting works anywhere, set or not. */
	assert_int_equal(duro_alarm_delete(d), 0);
	assert_int_equal(duro_alarm_delete(d), 0);
	assert_int_equal(duro_alarm_delete_named(d, "nope"), 0);
	assert_int_equal(duro_alarm_get(d, &at), DURO_ENOENT);
	assert_false(committed(fx, "", NULL, NULL));
	assert_true(committed(fx, "a", NULL, NULL));
}

static void
test_api_invalid(void **state)
{
	struct fixture *fx = *state;
	struct duro *d = fake_durod_storage_open(&fx->fake);
	const int64_t max = (int64_t)IPC_MAX_TIME_MS;
	char name[DURO_ALARM_MAX_NAME + 2];
	int64_t at;

	memset(name, 'n', sizeof(name));
	name[DURO_ALARM_MAX_NAME] = '\0';
	duro_storage_event_begin(d);
	assert_int_equal(duro_alarm_set_named(d, name, max, max), 0);
	assert_int_equal(duro_alarm_set_named(d, "t0", 0, 0), 0);
	name[DURO_ALARM_MAX_NAME] = 'n';
	name[DURO_ALARM_MAX_NAME + 1] = '\0';
	assert_int_equal(duro_alarm_set_named(d, name, 1, 0), DURO_EINVAL);
	assert_int_equal(duro_alarm_get_named(d, name, &at, NULL), DURO_EINVAL);
	assert_int_equal(duro_alarm_delete_named(d, name), DURO_EINVAL);
	assert_int_equal(duro_alarm_set_named(d, NULL, 1, 0), DURO_EINVAL);
	assert_int_equal(duro_alarm_set_named(d, "\xff", 1, 0), DURO_EINVAL);
	assert_int_equal(
	    duro_alarm_set_named(d, "\xc0\x80", 1, 0), DURO_EINVAL);
	assert_int_equal(duro_alarm_set_named(d, "x", -1, 0), DURO_EINVAL);
	assert_int_equal(duro_alarm_set_named(d, "x", max + 1, 0), DURO_EINVAL);
	assert_int_equal(duro_alarm_set_named(d, "x", 1, -1), DURO_EINVAL);
	assert_int_equal(duro_alarm_set_named(d, "x", 1, max + 1), DURO_EINVAL);
	assert_int_equal(duro_alarm_set(d, -5), DURO_EINVAL);
	assert_non_null(strstr(duro_storage_errmsg(d), "2^53"));
	/* Bad arguments undo nothing else. */
	assert_int_equal(duro_storage_event_end(d, 1), 0);
	assert_true(committed(fx, "t0", &at, NULL));
	assert_true(at == 0);
}

static void
test_api_limits(void **state)
{
	struct fixture *fx = *state;
	struct duro *d = fake_durod_storage_open(&fx->fake);
	struct duro_alarm_info *list;
	char name[16];
	size_t n;

	duro_storage_event_begin(d);
	for (int i = 0; i < DURO_ALARM_MAX; i++) {
		snprintf(name, sizeof(name), "n%04d", i);
		assert_int_equal(duro_alarm_set_named(d, name, 1000 + i, 0), 0);
	}
	assert_int_equal(duro_storage_event_end(d, 1), 0);

	/* A new one past the object's limit; replacing is fine. */
	duro_storage_event_begin(d);
	assert_int_equal(duro_alarm_set_named(d, "extra", 1, 0), DURO_ERANGE);
	assert_non_null(strstr(duro_storage_errmsg(d), "at most 1024"));
	assert_int_equal(duro_alarm_set_named(d, "n0005", 1, 0), 0);
	assert_int_equal(duro_alarm_delete_named(d, "n0006"), 0);
	assert_int_equal(duro_alarm_set_named(d, "extra", 1, 0), 0);
	assert_int_equal(duro_storage_event_end(d, 1), 0);
	assert_int_equal(duro_alarm_list(d, &list, &n), 0);
	assert_int_equal(n, DURO_ALARM_MAX);
	assert_string_equal(list[0].name, "extra");
	assert_string_equal(list[1].name, "n0005");
	duro_alarm_list_free(list, n);

	/* One event touches at most DURO_ALARM_MAX names. */
	duro_storage_event_begin(d);
	for (int i = 0; i < DURO_ALARM_MAX; i++) {
		snprintf(name, sizeof(name), "x%04d", i);
		assert_int_equal(duro_alarm_delete_named(d, name), 0);
	}
	assert_int_equal(duro_alarm_delete_named(d, "x0001"), 0);
	assert_int_equal(duro_alarm_delete_named(d, "one-more"), DURO_ERANGE);
	assert_int_equal(duro_storage_event_end(d, 1), 0);
	/* Outside events nothing is tracked, so there is no such limit. */
	for (int i = 0; i < DURO_ALARM_MAX + 1; i++) {
		snprintf(name, sizeof(name), "n%04d", i);
		assert_int_equal(duro_alarm_delete_named(d, name), 0);
	}
	assert_int_equal(duro_alarm_list(d, &list, &n), 0);
	assert_int_equal(n, 1);
	duro_alarm_list_free(list, n);
}

static int
tx_set_fail(struct duro *d, void *arg)
{
	assert_int_equal(duro_alarm_set_named(d, arg, 50, 0), 0);
	return (-1);
}

static int
tx_set_ok(struct duro *d, void *arg)
{
	assert_int_equal(duro_alarm_set_named(d, arg, 60, 0), 0);
	return (0);
}

static void
expect_entry(const struct ipc_alarm *e, const char *name, int deleted,
    uint64_t at, uint64_t every)
{
	assert_string_equal(e->name, name);
	assert_int_equal(e->deleted, deleted);
	assert_true(e->at == at);
	assert_true(e->every == every);
}

/* What an event reports and syncs: compared with its state before. */
static void
test_changes(void **state)
{
	struct fixture *fx = *state;
	struct duro *d = fake_durod_storage_open(&fx->fake);
	struct duro_alarms *al = &d->alarms;

	duro_storage_event_begin(d);
	assert_int_equal(duro_alarm_set_named(d, "a", 1000, 0), 0);
	assert_int_equal(duro_alarm_set_named(d, "b", 2000, 0), 0);
	assert_int_equal(duro_alarm_set_named(d, "same", 7, 0), 0);
	assert_int_equal(duro_alarm_set_named(d, "gone", 7, 0), 0);
	assert_int_equal(duro_storage_event_end(d, 1), 0);

	duro_storage_event_begin(d);
	assert_int_equal(duro_alarm_set_named(d, "a", 500, 0), 0); /* earlier */
	assert_int_equal(duro_alarm_set_named(d, "b", 3000, 9), 0); /* later */
	assert_int_equal(duro_alarm_set_named(d, "c", 100, 0), 0);  /* new */
	assert_int_equal(duro_alarm_set_named(d, "same", 1, 0), 0); /* back */
	assert_int_equal(duro_alarm_set_named(d, "same", 7, 0), 0);
	assert_int_equal(duro_alarm_delete_named(d, "gone"), 0);
	assert_int_equal(duro_alarm_delete_named(d, "never"), 0);
	assert_int_equal(duro_alarm_set_named(d, "tmp", 1, 0), 0);
	assert_int_equal(duro_alarm_delete_named(d, "tmp"), 0);
	/* A savepoint that rolls back leaves no trace... */
	assert_int_equal(duro_transaction(d, tx_set_fail, "sp"), -1);
	assert_false(duro_alarm_written(d, "sp"));
	/* ...and one that is kept counts. */
	assert_int_equal(duro_transaction(d, tx_set_ok, "kept"), 0);
	assert_true(duro_alarm_written(d, "kept"));
	assert_true(duro_alarm_written(d, "same"));
	assert_false(duro_alarm_written(d, "x"));
	assert_int_equal(duro_alarm_changes(d), 0);
	assert_int_equal(al->nchanges, 5);
	expect_entry(&al->changes[0], "a", 0, 500, 0);
	expect_entry(&al->changes[1], "b", 0, 3000, 9);
	expect_entry(&al->changes[2], "c", 0, 100, 0);
	expect_entry(&al->changes[3], "gone", 1, 0, 0);
	expect_entry(&al->changes[4], "kept", 0, 60, 0);
	assert_int_equal(al->nsync, 3);
	expect_entry(&al->sync[0], "a", 0, 500, 0);
	expect_entry(&al->sync[1], "c", 0, 100, 0);
	expect_entry(&al->sync[2], "kept", 0, 60, 0);
	assert_int_equal(duro_storage_event_end(d, 0), 0);
	/* Nothing of a rolled back event. */
	assert_true(committed(fx, "gone", NULL, NULL));
	assert_false(committed(fx, "c", NULL, NULL));

	/* A new event starts with nothing touched. */
	duro_storage_event_begin(d);
	assert_int_equal(duro_alarm_changes(d), 0);
	assert_int_equal(al->nchanges, 0);
	assert_int_equal(duro_storage_event_end(d, 1), 0);
}

/* Nested savepoints: a write belongs to the level that kept it. */
static int
tx_inner_fail(struct duro *d, void *arg)
{
	assert_int_equal(duro_alarm_set_named(d, "n", 5, 0), 0);
	return (-1);
}

static int
tx_outer(struct duro *d, void *arg)
{
	assert_int_equal(duro_alarm_set_named(d, "m", 5, 0), 0);
	assert_int_equal(duro_transaction(d, tx_set_ok, "m"), 0);
	assert_int_equal(duro_transaction(d, tx_inner_fail, NULL), -1);
	assert_false(duro_alarm_written(d, "n"));
	assert_true(duro_alarm_written(d, "m"));
	return (*(int *)arg);
}

static void
test_changes_nested(void **state)
{
	struct fixture *fx = *state;
	struct duro *d = fake_durod_storage_open(&fx->fake);
	int keep = 0, drop = -1;

	duro_storage_event_begin(d);
	assert_int_equal(duro_transaction(d, tx_outer, &drop), -1);
	assert_false(duro_alarm_written(d, "m"));
	assert_int_equal(duro_transaction(d, tx_outer, &keep), 0);
	assert_true(duro_alarm_written(d, "m"));
	assert_int_equal(duro_alarm_changes(d), 0);
	assert_int_equal(d->alarms.nchanges, 1);
	expect_entry(&d->alarms.changes[0], "m", 0, 60, 0);
	assert_int_equal(duro_storage_event_end(d, 1), 0);
	assert_true(committed(fx, "m", NULL, NULL));
}

/* ---- the wire ---- */

static int64_t
query_int(const struct duro_request *req, const char *key, int64_t def)
{
	char buf[32];

	if (duro_query_param(req, key, buf, sizeof(buf)) != 0)
		return (def);
	return (strtoll(buf, NULL, 10));
}

static const char fk_schema[] =
    "CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY); "
    "CREATE TABLE IF NOT EXISTS child (p INTEGER REFERENCES parent (id) "
    "DEFERRABLE INITIALLY DEFERRED)";

static int
tx_rollback(struct duro *d, void *arg)
{
	duro_alarm_set_named(d, arg, 1, 0);
	return (-1);
}

/* Set n alarms with names of the longest kind. */
static int
set_many(struct duro *d, int n)
{
	char name[DURO_ALARM_MAX_NAME + 1];
	int rv;

	memset(name, 'x', DURO_ALARM_MAX_NAME);
	name[DURO_ALARM_MAX_NAME] = '\0';
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%04d", i);
		name[4] = 'x';
		if ((rv = duro_alarm_set_named(d, name, FAR, FAR)) != 0)
			return (rv);
	}
	return (0);
}

/*
 * /set?name=N&at=T&every=P, /delete?name=N, /get?name=N, /set-many?at=N
 * (N alarms with 256-byte names), and variants
 * that then fail: /set-fail (the handler), /set-rollback (a savepoint),
 * /set-orphan (the COMMIT, through a deferred foreign key).
 */
static int
wire_request(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	char name[DURO_ALARM_MAX_NAME + 1] = "";
	int64_t at = query_int(req, "at", 0),
	        every = query_int(req, "every", 0);
	int rv;

	duro_query_param(req, "name", name, sizeof(name));
	if (strcmp(req->path, "/get") == 0) {
		rv = duro_alarm_get_named(d, name, &at, &every);
		if (rv == DURO_ENOENT)
			return (duro_response_printf(resp, "absent"));
		return (duro_response_printf(
		    resp, "%" PRId64 " %" PRId64, at, every));
	}
	if (strcmp(req->path, "/delete") == 0)
		return (duro_alarm_delete_named(d, name));
	if (strcmp(req->path, "/set-many") == 0)
		return (set_many(d, (int)at));
	if (strcmp(req->path, "/set-rollback") == 0)
		return (duro_transaction(d, tx_rollback, name) == -1 ? 0 : -1);
	if ((rv = duro_alarm_set_named(d, name, at, every)) != 0)
		return (rv);
	if (strcmp(req->path, "/set-fail") == 0)
		return (-1);
	if (strcmp(req->path, "/set-orphan") == 0) {
		if (duro_sql_exec(d, NULL, fk_schema, NULL, 0) != 0)
			return (-1);
		return (duro_sql_exec(
		    d, NULL, "INSERT INTO child VALUES (42)", NULL, 0));
	}
	return (duro_response_printf(resp, "ok"));
}

static int
wire_alarm(struct duro *d, const struct duro_alarm *a, void *arg)
{
	struct fixture *fx = arg;

	fx->calls++;
	snprintf(fx->name, sizeof(fx->name), "%s", a->name);
	fx->scheduled = a->scheduled_ms;
	fx->retry = a->retry;
	fx->final = a->final;
	if (duro_kv_put_int(d, "ran", fx->calls) != 0)
		return (-1);
	if (fx->reset_at > 0 &&
	    duro_alarm_set_named(d, a->name, fx->reset_at, 0) != 0)
		return (-1);
	if (fx->reset_at < 0 && duro_alarm_delete_named(d, a->name) != 0)
		return (-1);
	return (fx->handler_rv);
}

static void
loop_start(struct fixture *fx)
{
	fake_durod_open(&fx->fake, wire_request, fx);
	assert_int_equal(duro_on_alarm(fx->fake.d, wire_alarm, fx), 0);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
}

static void
send_request(
    struct fixture *fx, uint64_t id, const char *path, const char *query)
{
	struct ipc_msg req = {.type = IPC_REQUEST,
	    .id = id,
	    .method = "POST",
	    .path = path,
	    .query = query};

	fake_durod_send(&fx->fake, &req);
}

static void
send_alarm(struct fixture *fx, uint64_t id, const char *name, int64_t scheduled,
    int retry, int final)
{
	struct ipc_msg m = {.type = IPC_ALARM,
	    .id = id,
	    .name = name,
	    .scheduled = (uint64_t)scheduled,
	    .retry = retry,
	    .final = final};

	fake_durod_send(&fx->fake, &m);
}

static void
send_ack(struct fixture *fx, int ok, const char *message)
{
	struct ipc_msg m = {
	    .type = IPC_ALARM_ACK, .ok = ok, .message = message};

	fake_durod_send(&fx->fake, &m);
}

/* Receive an alarm_sync holding exactly one entry. */
static void
expect_sync(struct fixture *fx, const char *name, int64_t at, int64_t every)
{
	struct ipc_msg m;

	fake_durod_recv(&fx->fake, &m);
	assert_int_equal(m.type, IPC_ALARM_SYNC);
	assert_true(m.id == 0);
	assert_int_equal(m.nalarms, 1);
	expect_entry(&m.alarms[0], name, 0, (uint64_t)at, (uint64_t)every);
	ipc_recv_done(&m);
}

/* Receive the reply to id, of type want, carrying one alarm or none. */
static void
expect_reply(struct fixture *fx, uint64_t id, enum ipc_type want,
    const char *name, int deleted, int64_t at, int64_t every)
{
	struct ipc_msg m;

	fake_durod_recv(&fx->fake, &m);
	if (m.type != want)
		fail_msg("got \"%s\" (%s), want \"%s\"", m.type_name,
		    m.type == IPC_ERROR ? m.code : "", ipc_type_name(want));
	assert_true(m.id == id);
	if (name == NULL)
		assert_int_equal(m.nalarms, 0);
	else {
		assert_int_equal(m.nalarms, 1);
		expect_entry(
		    &m.alarms[0], name, deleted, (uint64_t)at, (uint64_t)every);
	}
	ipc_recv_done(&m);
}

static void
expect_error(
    struct fixture *fx, uint64_t id, const char *code, const char *message)
{
	struct ipc_msg m;

	fake_durod_recv(&fx->fake, &m);
	if (m.type != IPC_ERROR)
		fail_msg("got \"%s\", want an error", m.type_name);
	assert_true(m.id == id);
	assert_int_equal(m.nalarms, 0);
	assert_string_equal(m.code, code);
	if (message != NULL)
		assert_non_null(strstr(m.message, message));
	ipc_recv_done(&m);
}

/* Set an alarm through a request, acking its alarm_sync if it needs one. */
static void
wire_set(struct fixture *fx, uint64_t id, const char *name, int64_t at,
    int64_t every, int sync)
{
	char q[128];

	snprintf(q, sizeof(q), "name=%s&at=%" PRId64 "&every=%" PRId64, name,
	    at, every);
	send_request(fx, id, "/set", q);
	if (sync) {
		expect_sync(fx, name, at, every);
		send_ack(fx, 1, NULL);
	}
	expect_reply(fx, id, IPC_RESPONSE, name, 0, at, every);
}

static void
test_wire_sync(void **state)
{
	struct fixture *fx = *state;
	int64_t at;

	loop_start(fx);
	/* A new alarm: indexed by durod before the commit. */
	send_request(fx, 1, "/set", "name=a&at=5000");
	expect_sync(fx, "a", 5000, 0);
	assert_false(committed(fx, "a", NULL, NULL));
	send_ack(fx, 1, NULL);
	expect_reply(fx, 1, IPC_RESPONSE, "a", 0, 5000, 0);
	assert_true(committed(fx, "a", &at, NULL));
	assert_true(at == 5000);
	/* Earlier: synced again. */
	wire_set(fx, 2, "a", 4000, 0, 1);
	/* Later, or a new period: no sync, but reported. */
	wire_set(fx, 3, "a", 6000, 0, 0);
	wire_set(fx, 4, "a", 6000, 100, 0);
	/* The same again: nothing changed, nothing reported. */
	send_request(fx, 5, "/set", "name=a&at=6000&every=100");
	expect_reply(fx, 5, IPC_RESPONSE, NULL, 0, 0, 0);
	/* Deleted: reported without a time. */
	send_request(fx, 6, "/delete", "name=a");
	expect_reply(fx, 6, IPC_RESPONSE, "a", 1, 0, 0);
	assert_false(committed(fx, "a", NULL, NULL));
	/* Reading reports nothing. */
	send_request(fx, 7, "/get", "name=a");
	expect_reply(fx, 7, IPC_RESPONSE, NULL, 0, 0, 0);
}

static void
test_wire_sync_refused(void **state)
{
	struct fixture *fx = *state;

	loop_start(fx);
	send_request(fx, 1, "/set", "name=a&at=5000");
	expect_sync(fx, "a", 5000, 0);
	send_ack(fx, 0, "registry is read-only");
	expect_error(fx, 1, "alarm_unavailable", "registry is read-only");
	assert_false(committed(fx, "a", NULL, NULL));
	send_request(fx, 2, "/set", "name=b&at=5000");
	expect_sync(fx, "b", 5000, 0);
	send_ack(fx, 0, NULL);
	expect_error(fx, 2, "alarm_unavailable", NULL);
	/* The loop goes on. */
	send_request(fx, 3, "/get", "name=a");
	expect_reply(fx, 3, IPC_RESPONSE, NULL, 0, 0, 0);
}

/* Events that fail send no alarm_sync and store no alarm. */
static void
test_wire_failures(void **state)
{
	struct fixture *fx = *state;

	loop_start(fx);
	send_request(fx, 1, "/set-fail", "name=a&at=5000");
	expect_error(fx, 1, "handler_failed", NULL);
	/* A savepoint's rollback: the event succeeds without it. */
	send_request(fx, 2, "/set-rollback", "name=a");
	expect_reply(fx, 2, IPC_RESPONSE, NULL, 0, 0, 0);
	assert_false(committed(fx, "a", NULL, NULL));
	/* Out of range: the handler's own error. */
	send_request(fx, 3, "/set", "name=a&at=-1");
	expect_error(fx, 3, "handler_failed", NULL);
	/* The COMMIT fails after durod acked: the event fails whole. */
	send_request(fx, 4, "/set-orphan", "name=a&at=5000");
	expect_sync(fx, "a", 5000, 0);
	send_ack(fx, 1, NULL);
	expect_error(fx, 4, "storage_failed", "FOREIGN KEY");
	assert_false(committed(fx, "a", NULL, NULL));
	wire_set(fx, 5, "a", 5000, 0, 1);
}

/*
 * A reply that cannot list the event's changes within the frame's header
 * limit fails the event before anything is synced or committed.
 */
static void
test_wire_too_many(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg m;

	loop_start(fx);
	send_request(fx, 1, "/set-many", "at=1024");
	expect_error(fx, 1, "handler_failed", "could not be encoded");
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM _duro_alarms"),
	    0);
	/* Fewer fit: all of them synced, then reported. */
	send_request(fx, 2, "/set-many", "at=512");
	fake_durod_recv(&fx->fake, &m);
	assert_int_equal(m.type, IPC_ALARM_SYNC);
	assert_int_equal(m.nalarms, 512);
	ipc_recv_done(&m);
	send_ack(fx, 1, NULL);
	fake_durod_recv(&fx->fake, &m);
	assert_int_equal(m.type, IPC_RESPONSE);
	assert_int_equal(m.nalarms, 512);
	assert_int_equal(strlen(m.alarms[511].name), DURO_ALARM_MAX_NAME);
	ipc_recv_done(&m);
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM _duro_alarms"),
	    512);
}

/* durod goes away while the worker waits for alarm_ack. */
static void
test_wire_sync_gone(void **state)
{
	struct fixture *fx = *state;

	loop_start(fx);
	send_request(fx, 1, "/set", "name=a&at=5000");
	expect_sync(fx, "a", 5000, 0);
	fake_durod_hangup(&fx->fake);
	assert_int_equal(fake_durod_join(&fx->fake), 0);
	assert_false(committed(fx, "a", NULL, NULL));
}

/* Anything but alarm_ack is a broken protocol. */
static void
test_wire_sync_unexpected(void **state)
{
	struct fixture *fx = *state;

	loop_start(fx);
	send_request(fx, 1, "/set", "name=a&at=5000");
	expect_sync(fx, "a", 5000, 0);
	send_request(fx, 2, "/get", "name=a");
	assert_int_equal(fake_durod_join(&fx->fake), DURO_EPROTO);
	assert_false(committed(fx, "a", NULL, NULL));
}

/* ---- the alarm event ---- */

static void
test_alarm_due(void **state)
{
	struct fixture *fx = *state;
	int64_t t0 = duro_now_ms() - 5000, at, every;
	uint64_t next;

	loop_start(fx);
	wire_set(fx, 1, "x", t0, 0, 1);
	send_alarm(fx, 2, "x", t0, 2, 0);
	expect_reply(fx, 2, IPC_DONE, "x", 1, 0, 0);
	assert_int_equal(fx->calls, 1);
	assert_string_equal(fx->name, "x");
	assert_true(fx->scheduled == t0);
	assert_int_equal(fx->retry, 2);
	assert_false(fx->final);
	assert_false(committed(fx, "x", NULL, NULL));

	/* A repeating one moves to its next occurrence after now. */
	wire_set(fx, 3, "", t0, HOUR, 1);
	send_alarm(fx, 4, "", t0, 0, 0);
	next = ipc_alarm_next((uint64_t)t0, HOUR, (uint64_t)duro_now_ms());
	assert_true(next == (uint64_t)(t0 + HOUR));
	expect_reply(fx, 4, IPC_DONE, "", 0, (int64_t)next, HOUR);
	assert_true(committed(fx, "", &at, &every));
	assert_true(at == t0 + HOUR && every == HOUR);
	assert_int_equal(fx->calls, 2);
	assert_string_equal(fx->name, "");
}

/* The retry count belongs to the occurrence durod scheduled. */
static void
test_alarm_moved(void **state)
{
	struct fixture *fx = *state;
	int64_t t0 = duro_now_ms() - 5000;

	loop_start(fx);
	wire_set(fx, 1, "x", t0, 0, 1);
	/* durod's index was earlier than storage; still due by now. */
	send_alarm(fx, 2, "x", t0 - 1000, 4, 0);
	expect_reply(fx, 2, IPC_DONE, "x", 1, 0, 0);
	assert_int_equal(fx->calls, 1);
	assert_true(fx->scheduled == t0);
	assert_int_equal(fx->retry, 0);
	/* Storage moved earlier than the index said: due by scheduled. */
	wire_set(fx, 3, "y", FAR - 10, 0, 1);
	send_alarm(fx, 4, "y", FAR, 1, 0);
	expect_reply(fx, 4, IPC_DONE, "y", 1, 0, 0);
	assert_int_equal(fx->calls, 2);
	assert_true(fx->scheduled == FAR - 10);
	assert_int_equal(fx->retry, 0);
}

static void
test_alarm_not_due(void **state)
{
	struct fixture *fx = *state;

	loop_start(fx);
	wire_set(fx, 1, "later", FAR, 7, 1);
	send_alarm(fx, 2, "later", 1000, 0, 0);
	expect_reply(fx, 2, IPC_DONE, "later", 0, FAR, 7);
	send_alarm(fx, 3, "absent", 1000, 0, 1);
	expect_reply(fx, 3, IPC_DONE, "absent", 1, 0, 0);
	assert_int_equal(fx->calls, 0);
	assert_true(committed(fx, "later", NULL, NULL));
}

static void
test_alarm_fails(void **state)
{
	struct fixture *fx = *state;
	int64_t t0 = duro_now_ms() - 5000, at;

	loop_start(fx);
	wire_set(fx, 1, "x", t0, 0, 1);
	fx->handler_rv = -1;
	send_alarm(fx, 2, "x", t0, 0, 0);
	expect_error(fx, 2, "handler_failed", NULL);
	assert_int_equal(fx->calls, 1);
	assert_true(committed(fx, "x", &at, NULL));
	assert_true(at == t0);
	/* The last attempt retires it first, whatever the handler does. */
	send_alarm(fx, 3, "x", t0, 6, 1);
	expect_error(fx, 3, "handler_failed", NULL);
	assert_int_equal(fx->calls, 2);
	assert_int_equal(fx->retry, 6);
	assert_true(fx->final);
	assert_false(committed(fx, "x", NULL, NULL));
	/* A repeating one moves on; the handler's own writes roll back. */
	wire_set(fx, 4, "r", t0, HOUR, 1);
	send_alarm(fx, 5, "r", t0, 6, 1);
	expect_error(fx, 5, "handler_failed", NULL);
	assert_true(committed(fx, "r", &at, NULL));
	assert_true(at == t0 + HOUR);
	assert_int_equal(kv_rows(fx), 0);
	/* A final attempt that succeeds reports the retired state. */
	fx->handler_rv = 0;
	wire_set(fx, 6, "y", t0, 0, 1);
	send_alarm(fx, 7, "y", t0, 6, 1);
	expect_reply(fx, 7, IPC_DONE, "y", 1, 0, 0);
	assert_int_equal(fx->calls, 4);
	assert_int_equal(kv_rows(fx), 1);
}

/* A handler that sets or deletes its own alarm keeps what it did. */
static void
test_alarm_own(void **state)
{
	struct fixture *fx = *state;
	int64_t t0 = duro_now_ms() - 5000, at;

	loop_start(fx);
	wire_set(fx, 1, "x", t0, 0, 1);
	fx->reset_at = FAR;
	send_alarm(fx, 2, "x", t0, 0, 0);
	/* Later, but the alarm being delivered: synced all the same, so
	 * that durod stops treating the old occurrence as in flight. */
	expect_sync(fx, "x", FAR, 0);
	send_ack(fx, 1, NULL);
	expect_reply(fx, 2, IPC_DONE, "x", 0, FAR, 0);
	assert_true(committed(fx, "x", &at, NULL));
	assert_true(at == FAR);
	/* Earlier than it was: rule 1 applies to the handler too. */
	wire_set(fx, 3, "y", t0, HOUR, 1);
	fx->reset_at = t0 - 1000;
	send_alarm(fx, 4, "y", t0, 0, 0);
	expect_sync(fx, "y", t0 - 1000, 0);
	send_ack(fx, 1, NULL);
	expect_reply(fx, 4, IPC_DONE, "y", 0, t0 - 1000, 0);
	/* Deleting a repeating one ends it. */
	fx->reset_at = -1;
	send_alarm(fx, 5, "y", t0 - 1000, 0, 0);
	expect_reply(fx, 5, IPC_DONE, "y", 1, 0, 0);
	assert_false(committed(fx, "y", NULL, NULL));
	assert_int_equal(fx->calls, 3);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, fake_durod_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_api),
	    T(test_api_invalid),
	    T(test_api_limits),
	    T(test_changes),
	    T(test_changes_nested),
	    T(test_wire_sync),
	    T(test_wire_sync_refused),
	    T(test_wire_failures),
	    T(test_wire_too_many),
	    T(test_wire_sync_gone),
	    T(test_wire_sync_unexpected),
	    T(test_alarm_due),
	    T(test_alarm_moved),
	    T(test_alarm_not_due),
	    T(test_alarm_fails),
	    T(test_alarm_own),
	};

	/* A worker loop that never returns fails the run, not hangs it. */
	alarm(120);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
