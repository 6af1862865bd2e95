/*
 * misbehave.c — a worker that breaks the rules on request, so integration
 * tests can check how durod copes.
 *
 *	GET  /             "ok"
 *	GET  /pid          its pid
 *	POST /crash        abort()
 *	POST /exit?code=N  exit(N) (default 0) without replying
 *	POST /hang         sleep forever
 *	POST /spin         busy-loop forever
 *	POST /alloc?mb=N   malloc and touch N MiB, reply {"mb":N}; 507 if
 *	                   malloc fails
 *	POST /garbage      send a malformed protocol message, then reply "ok"
 *	                   as if nothing happened
 *	ANY  /echo         reply with the request body; the method, path and
 *	                   query come back as X-Method, X-Path, X-Query and the
 *	                   request's Content-Type as Content-Type
 *	POST /sleep?ms=N   sleep N ms (at most an hour), then reply "ok"
 *	POST /raw?type=T   send a well-formed message durod must refuse, then
 *	                   reply "ok": T "done" (a done for this request),
 *	                   "alarm_ack" or "alarm" (types only durod sends)
 *
 * Storage, for durability tests (integers are KV values in decimal text):
 *	POST /kv/incr?key=K          add 1 to the integer under KV key K
 *	                             (default "n"), reply {"value":N}
 *	GET  /kv?key=K               {"value":N}, 0 when absent
 *	POST /pair/incr              in one event, add 1 to both KV keys "x"
 *	                             and "y", reply {"x":X,"y":Y}
 *	GET  /pair                   {"x":X,"y":Y}: X == Y always, since an
 *	                             event is never half applied
 *	POST /pair/incr_then_crash   write x+1, then abort() before y
 *	POST /pair/incr_then_fail    write x+1 and y+1, then fail the handler
 *	                             (nothing is stored; 500 worker_error)
 *	POST /fill?kb=N              in one event, insert N KiB of random
 *	                             bytes into the SQL table blob_fill, in
 *	                             rows of 64 KiB; reply as GET /fill. Past
 *	                             the storage limit libduro fails the event
 *	                             (507 storage_full) and keeps none of it
 *	GET  /fill                   {"rows":N,"bytes":B,"db_size":S} (S from
 *	                             duro_sql_database_size)
 *
 * Alarms (times are epoch ms):
 *	POST /alarm?in_ms=T&name=N   set alarm N (default "", the default
 *	                             alarm) to now + T: {"name":N,"at":ms}
 *	GET  /alarm-runs             {"runs":R,"log":["N retry scheduled",...]}:
 *	                             the alarm handler's successful runs
 *	POST /alarm-then-fail?in_ms=T
 *	                             set the default alarm, then fail the
 *	                             request: the alarm must never be delivered
 *	POST /alarm-commit-fails?in_ms=T
 *	                             set the default alarm (a new or earlier
 *	                             wake-up, so libduro sends alarm_sync),
 *	                             then insert a row that breaks a deferred
 *	                             foreign key, so COMMIT itself fails after
 *	                             durod indexed the wake-up: 500
 *	                             storage_failed, and nothing is stored
 * The alarm handler misbehaves by the alarm's name: "crash..." abort()s,
 * "hang..." sleeps forever, "fail..." fails, "exit..." _exit(3)s; any
 * other name succeeds and adds 1 to "alarm_runs" and a line to
 * "alarm_log" (KV keys). Failed runs store nothing (the event rolls
 * back); every attempt is logged to stderr.
 *
 * With MISBEHAVE_START set it misbehaves at startup instead:
 *	crash    abort() before dialing
 *	hang     dial, then never send ready
 *	garbage  dial, and send a malformed message instead of ready
 *	sync     dial, and send an alarm_sync before ready (no event in
 *	         flight)
 *	crash-while:PATH
 *	         abort() before dialing while PATH exists, else run normally
 *	         (a crash loop that ends when its cause goes away)
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "duro.h"

/* A frame whose header is not JSON: durod must call it a violation. */
static const char garbage[] = "\x00\x00\x00\x07{broken";

typedef int (*route_fn)(
    struct duro *, const struct duro_request *, struct duro_response *);

struct route {
	const char *method; /* NULL: any */
	const char *path;
	route_fn fn;
};

static int
reply_text(struct duro_response *resp, int status, const char *text)
{
	duro_response_status(resp, status);
	duro_response_header(resp, "Content-Type", "text/plain");
	return (duro_response_printf(resp, "%s\n", text));
}

/*
 * Read an integer parameter in [lo, hi], or def when absent.
 * Returns 0, or -1 after answering 400.
 */
static int
int_param(const struct duro_request *req, struct duro_response *resp,
    const char *key, long lo, long hi, long def, long *out)
{
	char buf[32], *end;
	int rv;

	*out = def;
	if ((rv = duro_query_param(req, key, buf, sizeof(buf))) == DURO_ENOENT)
		return (0);
	if (rv == 0 && buf[0] != '\0') {
		*out = strtol(buf, &end, 10);
		if (*end == '\0' && *out >= lo && *out <= hi)
			return (0);
	}
	duro_response_status(resp, 400);
	duro_response_header(resp, "Content-Type", "text/plain");
	duro_response_printf(resp, "%s: an integer in %ld..%ld\n", key, lo, hi);
	return (-1);
}

static int
on_ok(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	return (reply_text(resp, 200, "ok"));
}

static int
on_pid(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	duro_response_header(resp, "Content-Type", "text/plain");
	return (duro_response_printf(resp, "%ld\n", (long)getpid()));
}

static int
on_crash(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	abort();
}

static int
on_exit_code(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	long code;

	if (int_param(req, resp, "code", 0, 255, 0, &code) != 0)
		return (0);
	exit((int)code);
}

static __attribute__((noreturn)) void
sleep_forever(void)
{
	for (;;)
		pause();
}

static int
on_hang(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	sleep_forever();
}

static __attribute__((noreturn)) void
spin_forever(void)
{
	volatile unsigned long n = 0;

	for (;;)
		n++;
}

static int
on_spin(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	spin_forever();
}

static int
on_alloc(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	volatile char *p;
	size_t len;
	long mb;

	if (int_param(req, resp, "mb", 0, 1L << 20, 1, &mb) != 0)
		return (0);
	len = (size_t)mb << 20;
	if ((p = malloc(len > 0 ? len : 1)) == NULL) {
		duro_response_header(resp, "Content-Type", "application/json");
		duro_response_status(resp, 507);
		return (duro_response_printf(resp,
		    "{\"error\":\"no_memory\","
		    "\"message\":\"malloc of %ld MiB failed\"}",
		    mb));
	}
	/* Touch every page so the memory is really used, not just mapped;
	 * volatile keeps the compiler from dropping the writes. */
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	free((void *)p);
	duro_response_header(resp, "Content-Type", "application/json");
	return (duro_response_printf(resp, "{\"mb\":%ld}", mb));
}

/* Send json as one frame (its length prefix, then the bytes). */
static void
send_frame(struct duro *d, const char *json, size_t n, uint8_t *frame)
{
	int rv;

	frame[0] = (uint8_t)(n >> 24);
	frame[1] = (uint8_t)(n >> 16);
	frame[2] = (uint8_t)(n >> 8);
	frame[3] = (uint8_t)n;
	memcpy(frame + 4, json, n);
	if ((rv = duro_send_raw(d, frame, 4 + n)) != 0)
		fprintf(stderr, "misbehave: send: %s\n", duro_strerror(rv));
}

static int
on_garbage(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	int rv;

	if ((rv = duro_send_raw(d, garbage, sizeof(garbage) - 1)) != 0)
		fprintf(
		    stderr, "misbehave: send garbage: %s\n", duro_strerror(rv));
	return (reply_text(resp, 200, "ok"));
}

static int
on_raw(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	char type[32], json[256];
	uint8_t frame[4 + sizeof(json)];
	int n;

	if (duro_query_param(req, "type", type, sizeof(type)) != 0)
		return (reply_text(resp, 400, "want ?type="));
	if (strcmp(type, "done") == 0)
		n = snprintf(json, sizeof(json),
		    "{\"type\":\"done\",\"id\":%" PRIu64 "}", req->id);
	else if (strcmp(type, "alarm_ack") == 0)
		n = snprintf(
		    json, sizeof(json), "{\"type\":\"alarm_ack\",\"ok\":true}");
	else if (strcmp(type, "alarm") == 0)
		n = snprintf(json, sizeof(json),
		    "{\"type\":\"alarm\",\"id\":7,\"name\":\"\","
		    "\"scheduled\":0}");
	else
		return (reply_text(resp, 400, "unknown type"));
	send_frame(d, json, (size_t)n, frame);
	return (reply_text(resp, 200, "ok"));
}

static int
on_echo(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	const char *type = duro_request_header(req, "Content-Type");

	duro_response_header(resp, "X-Method", req->method);
	duro_response_header(resp, "X-Path", req->path);
	duro_response_header(resp, "X-Query", req->query);
	if (type != NULL)
		duro_response_header(resp, "Content-Type", type);
	return (duro_response_body(resp, req->body, req->body_len));
}

static int
on_sleep(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	struct timespec ts;
	long ms;

	if (int_param(req, resp, "ms", 0, 3600000, 0, &ms) != 0)
		return (0);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	return (reply_text(resp, 200, "ok"));
}

/* ---- storage routes ---- */

#define FILL_ROW_KB 64

/*
 * Fail the request after a storage error, with libduro's reason. After
 * DURO_EFULL or DURO_ESTORAGE the SDK sends its own error code whatever
 * the handler returns.
 */
static int
storage_failed(struct duro *d, struct duro_response *resp)
{
	duro_response_error(resp, "%s", duro_storage_errmsg(d));
	return (-1);
}

/* Add 1 to the integer under key; *out is the new value. */
static int
kv_incr(struct duro *d, const char *key, int64_t *out)
{
	int rv;

	if ((rv = duro_kv_get_int(d, key, out)) != 0)
		return (rv);
	if (*out == INT64_MAX)
		return (DURO_ERANGE);
	return (duro_kv_put_int(d, key, ++*out));
}

static int
reply_json_int(struct duro_response *resp, const char *key, int64_t v)
{
	duro_response_header(resp, "Content-Type", "application/json");
	return (duro_response_printf(resp, "{\"%s\":%" PRId64 "}", key, v));
}

/* The "key" parameter (default "n"). Returns 0, or -1 after a 400. */
static int
key_param(const struct duro_request *req, struct duro_response *resp, char *buf,
    size_t buflen)
{
	int rv = duro_query_param(req, "key", buf, buflen);

	if (rv == DURO_ENOENT) {
		snprintf(buf, buflen, "n");
		return (0);
	}
	if (rv == 0)
		return (0);
	reply_text(resp, 400, "key: at most 255 bytes, no NUL");
	return (-1);
}

static int
on_kv_incr(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	char key[256];
	int64_t v;

	if (key_param(req, resp, key, sizeof(key)) != 0)
		return (0);
	if (kv_incr(d, key, &v) != 0)
		return (storage_failed(d, resp));
	return (reply_json_int(resp, "value", v));
}

static int
on_kv_get(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	char key[256];
	int64_t v;

	if (key_param(req, resp, key, sizeof(key)) != 0)
		return (0);
	if (duro_kv_get_int(d, key, &v) != 0)
		return (storage_failed(d, resp));
	return (reply_json_int(resp, "value", v));
}

static int
reply_pair(struct duro_response *resp, int64_t x, int64_t y)
{
	duro_response_header(resp, "Content-Type", "application/json");
	return (duro_response_printf(
	    resp, "{\"x\":%" PRId64 ",\"y\":%" PRId64 "}", x, y));
}

static int
on_pair_get(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	int64_t x, y;

	if (duro_kv_get_int(d, "x", &x) != 0 ||
	    duro_kv_get_int(d, "y", &y) != 0)
		return (storage_failed(d, resp));
	return (reply_pair(resp, x, y));
}

/* Read and write both keys in one event. */
static int
on_pair_incr(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	int64_t x, y;

	if (kv_incr(d, "x", &x) != 0 || kv_incr(d, "y", &y) != 0)
		return (storage_failed(d, resp));
	return (reply_pair(resp, x, y));
}

static int
on_pair_crash(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	int64_t x;

	if (kv_incr(d, "x", &x) != 0)
		return (storage_failed(d, resp));
	abort();
}

static int
on_pair_fail(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	int64_t x, y;

	if (kv_incr(d, "x", &x) != 0 || kv_incr(d, "y", &y) != 0)
		return (storage_failed(d, resp));
	duro_response_error(resp,
	    "failing on purpose after writing x=%" PRId64 ", y=%" PRId64, x, y);
	return (-1);
}

/* Created by the first /fill request, so other routes leave no table. */
static int
fill_table(struct duro *d)
{
	return (duro_sql_exec(d, NULL,
	    "CREATE TABLE IF NOT EXISTS blob_fill ("
	    " id INTEGER PRIMARY KEY, data BLOB NOT NULL)",
	    NULL, 0));
}

static int
reply_fill(struct duro *d, struct duro_response *resp)
{
	struct duro_sql_cursor *c;
	int64_t rows = 0, bytes = 0;
	uint64_t size;
	int rv;

	if (fill_table(d) != 0 ||
	    duro_sql_exec(d, &c,
	        "SELECT count(*), coalesce(sum(length(data)), 0) FROM "
	        "blob_fill",
	        NULL, 0) != 0)
		return (storage_failed(d, resp));
	if ((rv = duro_sql_next(c)) == 1) {
		rows = duro_sql_column_int(c, 0);
		bytes = duro_sql_column_int(c, 1);
	}
	duro_sql_close(c);
	if (rv != 1 || duro_sql_database_size(d, &size) != 0)
		return (storage_failed(d, resp));
	duro_response_header(resp, "Content-Type", "application/json");
	return (duro_response_printf(resp,
	    "{\"rows\":%" PRId64 ",\"bytes\":%" PRId64 ",\"db_size\":%" PRIu64
	    "}",
	    rows, bytes, size));
}

/*
 * randomblob() makes the bytes in SQLite, so the pages really fill (no
 * run-length luck). A failed insert is returned as is: past the limit the
 * SDK has already doomed the event, and the client gets 507.
 */
static int
on_fill(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	struct duro_sql_value p[1];
	long kb, row;

	if (int_param(req, resp, "kb", 0, 1L << 20, FILL_ROW_KB, &kb) != 0)
		return (0);
	if (fill_table(d) != 0)
		return (storage_failed(d, resp));
	for (; kb > 0; kb -= row) {
		row = kb < FILL_ROW_KB ? kb : FILL_ROW_KB;
		p[0] = DURO_ARG_INT((int64_t)row * 1024);
		if (duro_sql_exec(d, NULL,
		        "INSERT INTO blob_fill (data) VALUES (randomblob(?1))",
		        p, 1) != 0)
			return (storage_failed(d, resp));
	}
	return (reply_fill(d, resp));
}

static int
on_fill_get(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	return (reply_fill(d, resp));
}

/* ---- alarms ---- */

#define RUNS_KEY "alarm_runs"
#define LOG_KEY "alarm_log"
#define MAX_IN_MS (1L << 40) /* about 35 years */

/* The "name" parameter (default ""). Returns 0, or -1 after a 400. */
static int
name_param(const struct duro_request *req, struct duro_response *resp,
    char *buf, size_t buflen)
{
	int rv = duro_query_param(req, "name", buf, buflen);

	if (rv == DURO_ENOENT) {
		buf[0] = '\0';
		return (0);
	}
	if (rv == 0)
		return (0);
	reply_text(resp, 400, "name: at most 256 bytes, no NUL");
	return (-1);
}

/* Set alarm name to now + in_ms; *at is its time. */
static int
alarm_in(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, const char *name, int64_t *at)
{
	long in;

	if (int_param(req, resp, "in_ms", 0, MAX_IN_MS, 0, &in) != 0)
		return (-1);
	*at = duro_now_ms() + in;
	if (duro_alarm_set_named(d, name, *at, 0) == 0)
		return (0);
	reply_text(resp, 400, duro_storage_errmsg(d));
	return (-1);
}

static int
on_alarm_set(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	char name[DURO_ALARM_MAX_NAME + 1];
	int64_t at;
	cJSON *o;

	if (name_param(req, resp, name, sizeof(name)) != 0 ||
	    alarm_in(d, req, resp, name, &at) != 0)
		return (0);
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "name", name) == NULL ||
	    duro_json_add_int(o, "at", at) != 0) {
		cJSON_Delete(o);
		return (-1);
	}
	return (duro_response_cjson(resp, 200, o));
}

static int
on_alarm_then_fail(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	int64_t at;

	if (alarm_in(d, req, resp, "", &at) != 0)
		return (0);
	duro_response_error(resp, "failing on purpose after setting an alarm");
	return (-1);
}

/*
 * A deferred foreign key is only checked at COMMIT, after libduro's
 * alarm_sync was acknowledged. The tables are made here, in the failing
 * event, so they never exist either.
 */
static int
on_alarm_commit_fails(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	int64_t at;

	if (alarm_in(d, req, resp, "", &at) != 0)
		return (0);
	if (duro_sql_exec(d, NULL,
	        "CREATE TABLE IF NOT EXISTS fk_parent (id INTEGER PRIMARY KEY);"
	        "CREATE TABLE IF NOT EXISTS fk_child (parent INTEGER "
	        "REFERENCES fk_parent (id) DEFERRABLE INITIALLY DEFERRED)",
	        NULL, 0) != 0 ||
	    duro_sql_exec(
	        d, NULL, "INSERT INTO fk_child VALUES (42)", NULL, 0) != 0)
		return (storage_failed(d, resp));
	return (reply_text(resp, 200, "ok"));
}

/* The log as a JSON array of its lines. */
static cJSON *
alarm_log_json(struct duro *d)
{
	cJSON *a = cJSON_CreateArray(), *line;
	char *v = NULL, *p, *nl;
	size_t len;
	int rv;

	if ((rv = duro_kv_get(d, LOG_KEY, strlen(LOG_KEY), (void **)&v,
	         &len)) == DURO_ENOENT)
		return (a);
	/* Room for a NUL after the last line, which ends the loop. */
	if (rv != 0 || a == NULL || (p = realloc(v, len + 1)) == NULL) {
		free(v);
		cJSON_Delete(a);
		return (NULL);
	}
	v = p;
	for (p = v; a != NULL && p < v + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(v + len - p))) == NULL)
			nl = v + len;
		*nl = '\0';
		if ((line = cJSON_CreateString(p)) == NULL ||
		    !cJSON_AddItemToArray(a, line)) {
			cJSON_Delete(line);
			cJSON_Delete(a);
			a = NULL;
		}
	}
	free(v);
	return (a);
}

static int
on_alarm_runs(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	int64_t runs;
	cJSON *o, *log;

	if (duro_kv_get_int(d, RUNS_KEY, &runs) != 0 ||
	    (log = alarm_log_json(d)) == NULL)
		return (storage_failed(d, resp));
	if ((o = cJSON_CreateObject()) == NULL ||
	    duro_json_add_int(o, "runs", runs) != 0 ||
	    !cJSON_AddItemToObject(o, "log", log)) {
		cJSON_Delete(log);
		cJSON_Delete(o);
		return (-1);
	}
	return (duro_response_cjson(resp, 200, o));
}

/* Add a run to alarm_runs and a line to alarm_log. */
static int
alarm_record(struct duro *d, const struct duro_alarm *a)
{
	char line[DURO_ALARM_MAX_NAME + 64];
	int64_t runs;
	void *v = NULL;
	size_t len = 0;
	char *log;
	int n, rv;

	if ((rv = duro_kv_get_int(d, RUNS_KEY, &runs)) != 0 ||
	    (rv = duro_kv_put_int(d, RUNS_KEY, runs + 1)) != 0)
		return (rv);
	rv = duro_kv_get(d, LOG_KEY, strlen(LOG_KEY), &v, &len);
	if (rv != 0 && rv != DURO_ENOENT)
		return (rv);
	n = snprintf(line, sizeof(line), "%s %u %" PRId64 "\n", a->name,
	    a->retry, a->scheduled_ms);
	if ((log = realloc(v, len + (size_t)n)) == NULL) {
		free(v);
		return (DURO_ENOMEM);
	}
	memcpy(log + len, line, (size_t)n);
	rv = duro_kv_put(d, LOG_KEY, strlen(LOG_KEY), log, len + (size_t)n);
	free(log);
	return (rv);
}

static int
has_prefix(const char *s, const char *prefix)
{
	return (strncmp(s, prefix, strlen(prefix)) == 0);
}

static int
misbehave_alarm(struct duro *d, const struct duro_alarm *a, void *arg)
{
	fprintf(stderr,
	    "misbehave: alarm \"%s\" scheduled %" PRId64 " retry %u%s\n",
	    a->name, a->scheduled_ms, a->retry, a->final ? " final" : "");
	if (has_prefix(a->name, "crash"))
		abort();
	if (has_prefix(a->name, "hang"))
		sleep_forever();
	if (has_prefix(a->name, "exit"))
		_exit(3);
	if (has_prefix(a->name, "fail"))
		return (-1);
	return (alarm_record(d, a) != 0 ? -1 : 0);
}

static const struct route routes[] = {
    {"GET", "/", on_ok},
    {"GET", "/pid", on_pid},
    {"POST", "/crash", on_crash},
    {"POST", "/exit", on_exit_code},
    {"POST", "/hang", on_hang},
    {"POST", "/spin", on_spin},
    {"POST", "/alloc", on_alloc},
    {"POST", "/garbage", on_garbage},
    {"POST", "/raw", on_raw},
    {NULL, "/echo", on_echo},
    {"POST", "/sleep", on_sleep},
    {"POST", "/kv/incr", on_kv_incr},
    {"GET", "/kv", on_kv_get},
    {"POST", "/pair/incr", on_pair_incr},
    {"GET", "/pair", on_pair_get},
    {"POST", "/pair/incr_then_crash", on_pair_crash},
    {"POST", "/pair/incr_then_fail", on_pair_fail},
    {"POST", "/fill", on_fill},
    {"GET", "/fill", on_fill_get},
    {"POST", "/alarm", on_alarm_set},
    {"GET", "/alarm-runs", on_alarm_runs},
    {"POST", "/alarm-then-fail", on_alarm_then_fail},
    {"POST", "/alarm-commit-fails", on_alarm_commit_fails},
};

/*
 * A path may have a route per method (GET and POST /fill); a path whose
 * routes all want other methods gets 405 with every one of them in Allow.
 */
static int
misbehave_request(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	char allow[64] = "";
	size_t len = 0;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(req->path, routes[i].path) != 0)
			continue;
		if (routes[i].method == NULL ||
		    strcmp(req->method, routes[i].method) == 0)
			return (routes[i].fn(d, req, resp));
		if (len < sizeof(allow))
			len +=
			    (size_t)snprintf(allow + len, sizeof(allow) - len,
			        "%s%s", len > 0 ? ", " : "", routes[i].method);
	}
	if (len > 0) {
		duro_response_header(resp, "Allow", allow);
		return (reply_text(resp, 405, "method not allowed"));
	}
	return (reply_text(resp, 404, "no such route"));
}

/* MISBEHAVE_START: never become ready. Returns only on a bad value. */
static int
misbehave_start(const char *how)
{
	static const char sync[] =
	    "{\"type\":\"alarm_sync\",\"alarms\":[{\"name\":\"\",\"at\":1}]}";
	uint8_t frame[4 + sizeof(sync)];
	struct duro *d;
	int rv;

	if (strcmp(how, "crash") == 0)
		abort();
	if (strcmp(how, "hang") != 0 && strcmp(how, "garbage") != 0 &&
	    strcmp(how, "sync") != 0) {
		fprintf(stderr,
		    "misbehave: MISBEHAVE_START=%s: want crash, "
		    "hang, garbage or sync\n",
		    how);
		return (1);
	}
	if ((rv = duro_open(&d)) != 0)
		return (duro_exit_status(rv));
	if (strcmp(how, "garbage") == 0 &&
	    (rv = duro_send_raw(d, garbage, sizeof(garbage) - 1)) != 0)
		fprintf(
		    stderr, "misbehave: send garbage: %s\n", duro_strerror(rv));
	if (strcmp(how, "sync") == 0)
		send_frame(d, sync, sizeof(sync) - 1, frame);
	sleep_forever();
}

int
main(void)
{
	const char *how = getenv("MISBEHAVE_START");
	struct duro *d;
	int rv;

	if (how != NULL && strncmp(how, "crash-while:", 12) == 0) {
		if (access(how + 12, F_OK) == 0)
			abort();
	} else if (how != NULL && *how != '\0')
		return (misbehave_start(how));
	if ((rv = duro_open(&d)) != 0)
		return (duro_exit_status(rv));
	duro_on_request(d, misbehave_request, NULL);
	duro_on_alarm(d, misbehave_alarm, NULL);
	if ((rv = duro_run(d)) != 0)
		fprintf(stderr, "misbehave: %s\n", duro_strerror(rv));
	duro_close(d);
	return (duro_exit_status(rv));
}
