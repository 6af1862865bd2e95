/*
 * duro.h — libduro, the C SDK for duro workers (protocol version 1).
 *
 * A worker is a program that durod starts for one object. With libduro it
 * looks like this:
 *
 *	static int
 *	hello(struct duro *d, const struct duro_request *req,
 *	    struct duro_response *resp, void *arg)
 *	{
 *		return (duro_response_printf(resp, "hello from %s\n",
 *		    duro_object_id(d)));
 *	}
 *
 *	int
 *	main(void)
 *	{
 *		struct duro *d;
 *		int rv;
 *
 *		if ((rv = duro_open(&d)) != 0)
 *			return (duro_exit_status(rv));
 *		duro_on_request(d, hello, NULL);
 *		rv = duro_run(d);
 *		duro_close(d);
 *		return (duro_exit_status(rv));
 *	}
 *
 * Handlers run one at a time on the thread that called duro_run(), so an
 * object's in-memory state needs no locks. Every function that can fail
 * returns 0 or a negative enum duro_err; nothing here calls exit().
 * The wire protocol is specified in ipc/PROTOCOL.md.
 */
#ifndef DURO_H
#define DURO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h> /* strlen, for DURO_ARG_STR */

enum duro_err {
	DURO_OK = 0,
	DURO_EINVAL = -1,  /* bad argument: illegal header, status, ... */
	DURO_ENOMEM = -2,  /* out of memory */
	DURO_ENOENT = -3,  /* no such environment variable, header, parameter */
	DURO_ERANGE = -4,  /* past a protocol limit, or a buffer too small */
	DURO_EIO = -5,     /* the nng socket failed */
	DURO_EPROTO = -6,  /* durod sent a malformed message */
	DURO_ESTATE = -7,  /* not allowed now (e.g. ready sent twice) */
	DURO_ECLOSED = -8, /* durod went away */
	/* Storage (duro_kv_*, duro_sql_*, duro_transaction). */
	DURO_EFULL = -9,        /* the object's storage limit is reached */
	DURO_EDENIED = -10,     /* SQL the SDK refuses (see duro_sql_exec) */
	DURO_ESQL = -11,        /* SQL error: syntax, no such table, ... */
	DURO_ECONSTRAINT = -12, /* SQL constraint failed: UNIQUE, CHECK, ... */
	DURO_ESTORAGE = -13,    /* storage failed: I/O error, corrupt file */
};

struct duro;
struct duro_response;
struct cJSON; /* <cjson/cJSON.h>, for the JSON response helpers */

struct duro_header {
	const char *name;
	const char *value;
};

/*
 * A request as durod delivered it. Everything it points to lives until the
 * handler returns; copy what must outlive it.
 */
struct duro_request {
	uint64_t id;
	const char *method; /* "GET", ... */
	const char *path;   /* starts with '/', still percent-encoded */
	const char *query;  /* without '?', "" when none, still encoded */
	const struct duro_header *headers; /* as sent, in order */
	size_t nheaders;
	const uint8_t *body; /* binary; not NUL-terminated */
	size_t body_len;
	/* Read these with duro_request_is_websocket(), _ws_conn(). */
	int websocket;
	uint64_t ws_conn;
};

/*
 * Handle one request by filling resp (status 200, no headers and an empty
 * body to start with). Return 0 to send the response; return non-zero to
 * fail the request instead: durod then answers the client 500 (the SDK
 * sends an "error" with code "handler_failed" and the message set by
 * duro_response_error(), if any).
 *
 * The handler's storage writes are one transaction, committed before the
 * response is sent (see "Storage"): a failed request stores nothing.
 */
typedef int (*duro_request_fn)(struct duro *, const struct duro_request *,
    struct duro_response *, void *arg);
/* Told to hibernate: release what must be released; duro_run() returns. */
typedef void (*duro_hibernate_fn)(struct duro *, void *arg);

/* ---- duro.c: connecting to durod ---- */

/*
 * Read the DURO_* environment, open the object's storage (see "Storage"
 * below: this waits for the lock on the object's directory), open an nng
 * pair0 socket and dial $DURO_IPC (synchronously: durod is already
 * listening). On failure writes one line saying what is wrong to stderr
 * and returns DURO_ENOENT (a variable is missing), DURO_EINVAL (a bad
 * DURO_OBJECT_ID, DURO_SYNCHRONOUS or DURO_STORAGE_LIMIT_MB, or a
 * DURO_PROTOCOL other than 1), DURO_ESTORAGE (the storage could not be
 * locked or opened), DURO_EIO (dial failed) or DURO_ENOMEM.
 */
int duro_open(struct duro **out);
/*
 * Close the storage (releasing its lock) and the socket, and free
 * everything; NULL is fine.
 */
void duro_close(struct duro *);
/* Set the request handler (replacing any earlier one). */
int duro_on_request(struct duro *, duro_request_fn, void *arg);
/* Set a callback for hibernate (optional). */
int duro_on_hibernate(struct duro *, duro_hibernate_fn, void *arg);
/*
 * Tell durod the worker is ready for events. duro_run() does it if it has
 * not been done; call it yourself only to do work between the two.
 * DURO_ESTATE if already sent.
 */
int duro_ready(struct duro *);
/*
 * Send bytes as one message, unchecked. For tests that need a worker to
 * break the protocol; real workers never need it.
 */
int duro_send_raw(struct duro *, const void *buf, size_t len);

/* The object this worker serves (from the environment). */
const char *duro_namespace(const struct duro *);
const char *duro_object_id(const struct duro *);    /* 64 lowercase hex */
const char *duro_object_name(const struct duro *);  /* NULL when unnamed */
const char *duro_storage_path(const struct duro *); /* its SQLite file */

/* A one-line description of an enum duro_err. */
const char *duro_strerror(int err);
/*
 * The exit status a worker's main() should return after duro_open() or
 * duro_run() returned err: 0 for 0, 2 for DURO_EPROTO (durod sent garbage),
 * 1 otherwise. See "Exit codes" in ipc/PROTOCOL.md.
 */
int duro_exit_status(int err);

/* ---- duro_run.c: the event loop ---- */

/*
 * Send ready if not yet sent, then deliver events one at a time until
 * durod says hibernate or goes away (both return 0). Returns DURO_EPROTO
 * when durod sent a malformed message (after logging it to stderr), or
 * another error when the socket fails.
 */
int duro_run(struct duro *);

/* ---- duro_request.c: reading a request ---- */

/* The value of the first header called name (any case), or NULL. */
const char *duro_request_header(const struct duro_request *, const char *name);
/*
 * Copy the percent-decoded value of the first query parameter called key
 * into buf as a C string ("+" decodes to a space; "k" without "=" has the
 * value ""). Returns 0, DURO_ENOENT if absent, DURO_ERANGE if buf is too
 * small, DURO_EINVAL if the value has a bad %-escape or decodes to a NUL.
 * Keys are compared decoded, up to 256 bytes.
 */
int duro_query_param(
    const struct duro_request *, const char *key, char *buf, size_t buflen);

/* ---- duro_response.c: building a response ---- */

/*
 * The first failure of any of these calls is remembered: if the handler
 * still returns 0, the request fails as if the handler had returned
 * non-zero, so handlers need not check every call.
 */

/*
 * Set the status, 100..599 (DURO_EINVAL otherwise). 101 is only for a
 * WebSocket upgrade request (see duro_ws_accept(); DURO_EINVAL for any
 * other request).
 */
int duro_response_status(struct duro_response *, int status);
/*
 * Add a header. The name must be an HTTP token and the value free of
 * control characters (CR, LF, ...): DURO_EINVAL otherwise.
 */
int duro_response_header(
    struct duro_response *, const char *name, const char *value);
/* Replace the body with a copy of len bytes. */
int duro_response_body(struct duro_response *, const void *buf, size_t len);
/* Append formatted text to the body. */
int duro_response_printf(struct duro_response *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Status, "Content-Type: application/json" and json (a C string) as body. */
int duro_response_json(struct duro_response *, int status, const char *json);
/*
 * The error shape durod uses, {"error": code, "message": ...}, with the
 * message formatted and JSON-escaped (at most 511 bytes).
 */
int duro_response_json_error(
    struct duro_response *, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/*
 * Status, "Content-Type: application/json" and o, printed unformatted, as
 * body. o is freed whatever happens. A NULL o (a cJSON constructor that
 * ran out of memory) or a failed print is DURO_ENOMEM, remembered like
 * any failure above, so a handler may pass a cJSON result unchecked.
 */
int duro_response_cjson(struct duro_response *, int status, struct cJSON *o);
/*
 * Add key: v to the cJSON object o as an exact integer: cJSON numbers are
 * doubles, which round integers past 2^53. Returns 0, DURO_ENOMEM, or
 * DURO_EINVAL for a NULL o or key. o is not freed either way.
 */
int duro_json_add_int(struct cJSON *o, const char *key, int64_t v);
/* The message sent with a failed request (the handler returns non-zero). */
int duro_response_error(struct duro_response *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- Storage: duro_storage.c, duro_txn.c, duro_kv.c, duro_sql.c ---- */

/*
 * Each object has one SQLite database, $DURO_STORAGE, in WAL mode. The
 * worker locks the object's directory (flock) in duro_open() and keeps the
 * lock until duro_close() or exit, so no two workers ever write one
 * object. $DURO_SYNCHRONOUS is FULL (the default: a reply the client got
 * is on disk) or NORMAL (survives a crash of the process, not of the
 * machine); $DURO_STORAGE_LIMIT_MB caps the database (default 1024).
 *
 * Transactions. While a handler runs, every storage call joins one
 * transaction for the event, begun by the first storage call (a handler
 * that touches no storage pays nothing) and ended when the handler
 * returns: committed before the response is sent if the handler returned
 * 0, rolled back if it failed. If the commit fails the client gets an
 * error, never the response. Outside a handler (before duro_run(), in the
 * hibernate callback) each call is its own transaction, committed when it
 * returns, unless it runs inside duro_transaction().
 *
 * A failed event. A write past the storage limit returns DURO_EFULL, and
 * from then on the event can only fail: every storage call in it returns
 * DURO_EFULL, its writes are rolled back, and the SDK sends durod an
 * "error" with code "storage_full" (the client gets 507) whatever the
 * handler returns. An I/O error that loses the transaction does the same
 * with DURO_ESTORAGE and code "storage_failed" (500). Other errors
 * (DURO_ESQL, DURO_ECONSTRAINT, DURO_EDENIED, DURO_ERANGE, ...) undo only
 * the call that failed; the handler decides.
 *
 * Every call returns 0 or a negative enum duro_err, and the reason of the
 * last failure is in duro_storage_errmsg(). The SDK's own tables are named
 * _duro_*; SQL cannot touch them.
 */

/*
 * Run fn(d, arg) inside a savepoint. If fn returns non-zero, its writes
 * (and only its) are rolled back and that value is returned; otherwise
 * they are kept and 0 is returned. Inside a handler the kept writes still
 * commit or roll back with the event; outside a handler they commit when
 * the outermost duro_transaction() returns (DURO_EFULL or DURO_ESTORAGE
 * if that commit fails). Calls nest.
 */
int duro_transaction(
    struct duro *, int (*fn)(struct duro *, void *arg), void *arg);
/*
 * Why the last storage call failed, one line (SQLite's message or the
 * SDK's reason), or "". Valid until the next storage call.
 */
const char *duro_storage_errmsg(const struct duro *);

/* ---- duro_kv.c: the key-value API ---- */

/*
 * Keys and values are byte strings (any bytes, including NUL; a key may be
 * empty). Keys sort as bytes (memcmp, then the shorter first). A key plus
 * its value holds at most DURO_KV_MAX_BYTES; a batch at most
 * DURO_KV_MAX_BATCH keys. Past either: DURO_ERANGE, nothing written. KV
 * data lives in the table _duro_kv and sits beside SQL tables in the same
 * database and transactions.
 */
#define DURO_KV_MAX_BYTES (2 * 1024 * 1024)
#define DURO_KV_MAX_BATCH 128

struct duro_kv_key {
	const void *key;
	size_t key_len;
};

struct duro_kv_pair {
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
};

/* Results of a batch get or a list, owned by the caller. */
struct duro_kv_item {
	void *key; /* malloc'd copies; never NULL when found */
	size_t key_len;
	void *value;
	size_t value_len;
	int found; /* duro_kv_get_batch: 0 when the key is absent */
};

struct duro_kv_items {
	struct duro_kv_item *items;
	size_t n;
};

/*
 * Get the value of key into *value (malloc'd, free() it; not
 * NUL-terminated, never NULL on success, even when empty) and *value_len.
 * DURO_ENOENT if there is no such key.
 */
int duro_kv_get(struct duro *, const void *key, size_t key_len, void **value,
    size_t *value_len);
/* Set key to value, replacing any value it had. */
int duro_kv_put(struct duro *, const void *key, size_t key_len,
    const void *value, size_t value_len);
/* Remove key; 0 whether or not it was there. */
int duro_kv_delete(struct duro *, const void *key, size_t key_len);
/*
 * Get n keys: out->items[i] is keys[i] (found or not; keys may repeat).
 * Free out with duro_kv_items_free() whatever the result.
 */
int duro_kv_get_batch(struct duro *, const struct duro_kv_key *keys, size_t n,
    struct duro_kv_items *out);
/* Put n pairs, all or none; a key that repeats ends with its last value. */
int duro_kv_put_batch(
    struct duro *, const struct duro_kv_pair *pairs, size_t n);
/* Delete n keys, all or none; *deleted (may be NULL) = how many existed. */
int duro_kv_delete_batch(
    struct duro *, const struct duro_kv_key *keys, size_t n, size_t *deleted);
/*
 * An integer stored as decimal text under a string key: *value is 0 when
 * the key is absent (returns 0), DURO_ERANGE when the stored value is not
 * such an integer.
 */
int duro_kv_get_int(struct duro *, const char *key, int64_t *value);
int duro_kv_put_int(struct duro *, const char *key, int64_t value);
/* Delete every KV entry (SQL tables are not touched). */
int duro_kv_delete_all(struct duro *);

/*
 * Which keys duro_kv_list() returns, all bounds optional (a NULL pointer
 * means none; a non-NULL pointer with length 0 is the empty key):
 * keys starting with prefix, >= start, < end, in ascending order (or
 * descending with reverse), at most limit of them (0: no limit; with
 * reverse, the last ones).
 */
struct duro_kv_list_opts {
	const void *prefix;
	size_t prefix_len;
	const void *start;
	size_t start_len;
	const void *end;
	size_t end_len;
	int reverse;
	size_t limit;
};

/*
 * List keys and values as opts says (NULL: all of them, ascending) into
 * out. Free out with duro_kv_items_free() whatever the result. Everything
 * listed is held in memory: use limit and start to page through a large
 * set.
 */
int duro_kv_list(struct duro *, const struct duro_kv_list_opts *opts,
    struct duro_kv_items *out);
/* Free the items and reset out to empty; fine on an empty one. */
void duro_kv_items_free(struct duro_kv_items *out);

/* ---- duro_alarm.c: alarms ---- */

/*
 * An object may ask to be woken at a time: durod delivers the alarm as an
 * event, in turn with requests, waking the object if it is hibernated and
 * after durod restarts. Times are wall-clock milliseconds since the Unix
 * epoch (UTC), in 0..2^53.
 *
 * Alarms are storage: they live in the table _duro_alarms and change only
 * with the event's transaction, like KV data. An alarm set by a request
 * that then fails was never set; a reply the client got means its alarms
 * are set (ipc/PROTOCOL.md section 14). Setting one is allowed only
 * inside an event (a handler, request or alarm): DURO_ESTATE outside
 * events, because durod must hear of a new wake-up before it is
 * committed, and only an event's reply can tell it. Reading, listing and
 * deleting work anywhere.
 *
 * The default alarm (the name "") follows Cloudflare Durable Objects: one
 * per object, one time. Named alarms are several per object and may
 * repeat every every_ms. An object holds at most DURO_ALARM_MAX alarms
 * (setting a new one past that: DURO_ERANGE), and one event may set or
 * delete at most DURO_ALARM_MAX different names (DURO_ERANGE past that),
 * so that one reply can tell durod every change.
 *
 * Delivery is at least once and never early: a handler may run again for
 * an occurrence whose event failed (retry counts the failed attempts) or
 * whose success durod did not hear of (the worker crashed after the
 * commit). If the handler succeeds and did not itself set or delete the
 * alarm, the SDK retires it in the same transaction: deletes it, or for a
 * repeating one moves it to its next occurrence after now (missed ones
 * are skipped; the phase is kept). A failed attempt (non-zero return,
 * crash, timeout) rolls back and is retried by durod with a backoff, up
 * to a limit; the last attempt has final set, and its alarm is retired
 * before the handler runs, so even a crash gives the occurrence up.
 */
#define DURO_ALARM_MAX 1024
#define DURO_ALARM_MAX_NAME 256 /* bytes of UTF-8 */

struct duro_alarm {
	const char *name;     /* "" for the default alarm */
	int64_t scheduled_ms; /* the time it was set for (epoch ms) */
	unsigned retry;       /* failed attempts before this one */
	int final;            /* the last attempt: if it fails, it is dropped */
};

/*
 * Handle a due alarm; return 0 for success, non-zero to fail it (it is
 * retried). Its storage writes are the event's transaction, like a
 * request's: committed before durod hears of the success.
 */
typedef int (*duro_alarm_fn)(
    struct duro *, const struct duro_alarm *, void *arg);

/*
 * Set the alarm handler (replacing any earlier one). Without one, alarms
 * are refused and durod gives them up.
 */
int duro_on_alarm(struct duro *, duro_alarm_fn, void *arg);
/* The wall clock in milliseconds since the Unix epoch. */
int64_t duro_now_ms(void);

/*
 * The default alarm. Setting it replaces its time (and makes it one
 * time); a time in the past fires as soon as possible.
 */
int duro_alarm_set(struct duro *, int64_t at_ms);
/* Its time in *at_ms; DURO_ENOENT when it is not set. */
int duro_alarm_get(struct duro *, int64_t *at_ms);
/* Delete it; 0 whether or not it was set. */
int duro_alarm_delete(struct duro *);

/*
 * A named alarm, repeating every every_ms (0: once). The name is 0 to
 * DURO_ALARM_MAX_NAME bytes of UTF-8 without NUL; "" is the default
 * alarm. DURO_EINVAL for a bad name or a time or period outside 0..2^53.
 */
int duro_alarm_set_named(
    struct duro *, const char *name, int64_t at_ms, int64_t every_ms);
/* DURO_ENOENT when not set; either pointer may be NULL. */
int duro_alarm_get_named(
    struct duro *, const char *name, int64_t *at_ms, int64_t *every_ms);
/* 0 whether or not it was set. */
int duro_alarm_delete_named(struct duro *, const char *name);

struct duro_alarm_info {
	char *name; /* malloc'd */
	int64_t at_ms;
	int64_t every_ms;
};

/*
 * Every alarm, ordered by time, then name (as bytes), in *out (NULL when
 * there are none) and *n. Free it with duro_alarm_list_free() whatever
 * the result.
 */
int duro_alarm_list(struct duro *, struct duro_alarm_info **out, size_t *n);
void duro_alarm_list_free(struct duro_alarm_info *, size_t n);

/* ---- duro_sql.c: the SQL API ---- */

enum duro_sql_type {
	DURO_SQL_NULL,
	DURO_SQL_INTEGER,
	DURO_SQL_REAL,
	DURO_SQL_TEXT,
	DURO_SQL_BLOB,
};

/*
 * A parameter to bind, best made with the DURO_ARG_* constructors:
 *	struct duro_sql_value p[] = {DURO_ARG_STR("alice"), DURO_ARG_INT(3)};
 */
struct duro_sql_value {
	enum duro_sql_type type;
	int64_t i;
	double r;
	const void *p; /* TEXT (UTF-8, no NUL needed) or BLOB */
	size_t len;
};

#define DURO_ARG_NULL() ((struct duro_sql_value){.type = DURO_SQL_NULL})
#define DURO_ARG_INT(v)                                                        \
	((struct duro_sql_value){.type = DURO_SQL_INTEGER, .i = (v)})
#define DURO_ARG_REAL(v)                                                       \
	((struct duro_sql_value){.type = DURO_SQL_REAL, .r = (v)})
/* A C string (its strlen is taken). */
#define DURO_ARG_STR(s)                                                        \
	((struct duro_sql_value){                                              \
	    .type = DURO_SQL_TEXT, .p = (s), .len = strlen(s)})
#define DURO_ARG_TEXT(s, n)                                                    \
	((struct duro_sql_value){.type = DURO_SQL_TEXT, .p = (s), .len = (n)})
#define DURO_ARG_BLOB(b, n)                                                    \
	((struct duro_sql_value){.type = DURO_SQL_BLOB, .p = (b), .len = (n)})

struct duro_sql_cursor;

/*
 * Run sql with params bound to its ?, ?NNN, :name, @name or $name
 * parameters in order (nparams must equal the number of parameters:
 * DURO_EINVAL otherwise). The statement runs up to its first row at once,
 * so a write has happened and its errors are known when this returns.
 *
 * With cur NULL the statement runs to the end (rows are dropped), and sql
 * may then hold several statements separated by ';' if nparams is 0 (a
 * schema script; they run in order and stop at the first error). With cur
 * non-NULL sql is one statement and *cur a cursor on its rows (also for a
 * statement that returns none): read them with duro_sql_next() and close
 * it with duro_sql_close(). A handler's cursors are closed when it
 * returns, whether or not it closed them.
 *
 * Refused with DURO_EDENIED (by an SQLite authorizer, not by looking at
 * the text): BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE (use
 * duro_transaction()), ATTACH, DETACH, anything that reads, writes,
 * creates or drops a _duro_* table, index, trigger or view, and PRAGMAs
 * except these: read-only table_info, table_xinfo, index_list,
 * index_info, index_xinfo, foreign_key_list, foreign_key_check,
 * integrity_check, quick_check (with a table argument), the queries
 * (without a value) page_count, page_size, freelist_count, max_page_count,
 * schema_version, data_version, encoding, journal_mode, synchronous,
 * foreign_keys, compile_options, collation_list, function_list,
 * module_list, pragma_list, table_list, database_list, and user_version
 * and defer_foreign_keys (read or set; both are transactional). VACUUM
 * is refused too (it attaches a database). Foreign keys are enforced;
 * FTS5, R*Tree and JSON functions are available.
 */
int duro_sql_exec(struct duro *, struct duro_sql_cursor **cur, const char *sql,
    const struct duro_sql_value *params, size_t nparams);
/*
 * Move to the next row: 1 if there is one (read it with the column
 * getters), 0 at the end, or a negative enum duro_err.
 */
int duro_sql_next(struct duro_sql_cursor *);
/* Finalize the statement and free the cursor; NULL is fine. */
void duro_sql_close(struct duro_sql_cursor *);

/*
 * Columns of the current row, 0-based. A column out of range reads as
 * NULL. Pointers stay valid until the next duro_sql_next() or
 * duro_sql_close(); TEXT is NUL-terminated, and *len (may be NULL) is its
 * length without the NUL. A NULL column gives 0, 0.0 or NULL.
 */
int duro_sql_column_count(const struct duro_sql_cursor *);
const char *duro_sql_column_name(const struct duro_sql_cursor *, int col);
enum duro_sql_type duro_sql_column_type(
    const struct duro_sql_cursor *, int col);
int64_t duro_sql_column_int(const struct duro_sql_cursor *, int col);
double duro_sql_column_real(const struct duro_sql_cursor *, int col);
const char *duro_sql_column_text(
    const struct duro_sql_cursor *, int col, size_t *len);
const void *duro_sql_column_blob(
    const struct duro_sql_cursor *, int col, size_t *len);

/*
 * What the statement did so far. Rows written: rows inserted, updated or
 * deleted, including by triggers and foreign key actions; SQLite counts a
 * statement's own rows when it ends, so for a write with RETURNING read
 * this after the last row. Rows read: the larger of the rows returned and
 * the rows stepped over in full table scans (SQLite does not count index
 * reads, so this is a lower bound).
 */
uint64_t duro_sql_rows_read(const struct duro_sql_cursor *);
uint64_t duro_sql_rows_written(const struct duro_sql_cursor *);

/*
 * The database's size in bytes (pages in use times page size, including
 * this event's uncommitted writes); compare with $DURO_STORAGE_LIMIT_MB.
 */
int duro_sql_database_size(struct duro *, uint64_t *bytes);

/* ---- duro_ws.c: WebSockets (ipc/PROTOCOL.md section 15) ---- */

/*
 * durod owns every accepted WebSocket connection and keeps it while the
 * object hibernates; the object sees a connection as events (a message
 * arrived, it closed) and acts on it with the calls below. A connection
 * id is 1..2^53, unique within one run of durod; connections do not
 * survive a restart of durod.
 *
 * A request handler accepts an upgrade with duro_ws_accept(). Messages
 * and closes are events like requests and alarms: one at a time, each
 * handler's storage writes one transaction, committed if it returns 0
 * and rolled back otherwise.
 *
 * Output gate. duro_ws_send(), duro_ws_broadcast() and duro_ws_close()
 * are held until the event (request, alarm, message or close) has
 * committed, then sent in call order, before the event's reply; if the
 * event fails they are dropped. So a client never sees a message that
 * follows from writes that were rolled back. A request handler that
 * accepts an upgrade may send to its own new connection
 * (duro_request_ws_conn()): durod delivers those messages right after
 * the handshake. duro_ws_set_attachment() and duro_ws_set_auto_response()
 * act at once and stay even if the event then fails.
 * duro_ws_get_attachment() and duro_ws_list() ask durod and wait for
 * the answer.
 *
 * All of these calls (except the request accessors and duro_ws_accept)
 * are allowed only while a handler runs: DURO_ESTATE elsewhere (before
 * duro_run(), in the hibernate callback). An argument past a limit below
 * is DURO_EINVAL for strings (tags, reasons, auto-response strings) and
 * DURO_ERANGE for data (a message past 32 MiB, an attachment past
 * DURO_WS_ATTACHMENT_MAX). Text messages must be valid UTF-8 (DURO_EINVAL).
 *
 * Losing durod while sending or waiting (DURO_ECLOSED, DURO_EIO), or a
 * wrong answer to a query (DURO_EPROTO: durod broke the protocol), ends
 * the event whatever the handler then returns: nothing of it commits,
 * no reply is sent, every later call in the handler returns that error,
 * and duro_run() returns (0 when durod went away).
 */
#define DURO_WS_MAX_TAGS 10
#define DURO_WS_TAG_MAX 256 /* bytes of UTF-8, at least 1 */
#define DURO_WS_ATTACHMENT_MAX 16384
#define DURO_WS_AUTO_MAX 2048  /* bytes of UTF-8, each string */
#define DURO_WS_REASON_MAX 123 /* bytes of UTF-8 in a close reason */

/* In a request handler: the request is a valid WebSocket upgrade (0/1),
 * and the id the connection will have (0 when it is not one). */
int duro_request_is_websocket(const struct duro_request *);
uint64_t duro_request_ws_conn(const struct duro_request *);
/*
 * Accept the upgrade: the response becomes 101 with these tags (tags may
 * be NULL when ntags is 0), each 1..DURO_WS_TAG_MAX bytes of UTF-8, at
 * most DURO_WS_MAX_TAGS. Other headers set on resp pass to the client
 * (e.g. Sec-WebSocket-Protocol); the body is not sent. Returns 0 or
 * DURO_EINVAL (not an upgrade, too many or bad tags), remembered like
 * the failures of the other response calls: check
 * duro_request_is_websocket() first to answer something else.
 */
int duro_ws_accept(
    struct duro_response *, const char *const *tags, size_t ntags);

/*
 * A complete message from a client: text (valid UTF-8, not
 * NUL-terminated) or binary, 0..32 MiB. Return 0 to commit, non-zero to
 * fail the event (rolled back; durod logs it).
 */
typedef int (*duro_ws_message_fn)(struct duro *, uint64_t conn, int binary,
    const void *data, size_t len, void *arg);
/*
 * A connection is gone: the client closed it (code, reason as sent;
 * clean when the close handshake completed; 1005 when it sent no code)
 * or it broke (1006). Actions on conn are ignored from now on. A close
 * the object asked for (duro_ws_close) produces no such event.
 */
typedef int (*duro_ws_close_fn)(struct duro *, uint64_t conn, int code,
    const char *reason, int clean, void *arg);
/*
 * Set the handlers (replacing any earlier one). Without a message
 * handler, messages are refused ("unsupported") and durod closes the
 * connection with 1011; without a close handler closes are refused the
 * same way, which changes nothing (the connection is gone already).
 */
int duro_on_ws_message(struct duro *, duro_ws_message_fn, void *arg);
int duro_on_ws_close(struct duro *, duro_ws_close_fn, void *arg);

/* Output-gated: sent after the event commits; dropped if it fails. */
/* Send a message to one connection (an unknown or closed one: ignored). */
int duro_ws_send(
    struct duro *, uint64_t conn, int binary, const void *data, size_t len);
/* Send to every connection with the tag (NULL: every one of the object). */
int duro_ws_broadcast(struct duro *, const char *tag /* NULL: all */,
    int binary, const void *data, size_t len);
/*
 * Close a connection with a code in 1000..4999 and a reason (NULL: none)
 * of at most DURO_WS_REASON_MAX bytes of UTF-8.
 */
int duro_ws_close(struct duro *, uint64_t conn, int code, const char *reason);

/* Immediate. */
/* Set conn's attachment (0..DURO_WS_ATTACHMENT_MAX bytes; 0: clear). */
int duro_ws_set_attachment(
    struct duro *, uint64_t conn, const void *data, size_t len);
/*
 * Ask durod for conn's attachment (what the last set left, this event's
 * included). *data malloc'd (NULL with *len 0 when none); DURO_ENOENT if
 * no such conn.
 */
int duro_ws_get_attachment(
    struct duro *, uint64_t conn, void **data, size_t *len);
/*
 * A text message equal to request is answered with response by durod,
 * without an event (and the time noted: auto_ms). Each is at most
 * DURO_WS_AUTO_MAX bytes of UTF-8; both "" (or NULL) clears the pair,
 * and request may be "" only then.
 */
int duro_ws_set_auto_response(
    struct duro *, const char *request, const char *response);
struct duro_ws_info {
	uint64_t conn;
	char **tags; /* ntags strings */
	size_t ntags;
	int64_t auto_ms; /* last auto-response, epoch ms, or -1 */
};
/*
 * Ask durod for the object's connections with the tag (NULL: all), into
 * *out (NULL when there are none) and *n. Free it with
 * duro_ws_list_free() whatever the result. The answer is one frame,
 * which bounds how many connections it can list (ipc/PROTOCOL.md
 * section 15).
 */
int duro_ws_list(struct duro *, const char *tag /* NULL: all */,
    struct duro_ws_info **out, size_t *n);
void duro_ws_list_free(struct duro_ws_info *, size_t n);

#endif
