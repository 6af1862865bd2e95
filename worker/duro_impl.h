/*
 * duro_impl.h — libduro's private header, prototypes grouped by file.
 */
#ifndef DURO_IMPL_H
#define DURO_IMPL_H

#include <nng/nng.h>
#include <sqlite3.h>

#include "duro.h"
#include "ipc.h"

struct duro_response {
	int status;
	struct ipc_header *headers; /* name and value strings are owned */
	size_t nheaders;
	size_t headers_cap;
	uint8_t *body;
	size_t body_len;
	size_t body_cap;
	char *error;    /* from duro_response_error(), or NULL */
	int err;        /* the first builder call that failed, or 0 */
	int ws_upgrade; /* the request is a WebSocket upgrade: 101 allowed */
	char **tags;    /* duro_ws_accept()'s, owned; sent with a 101 */
	size_t ntags;
};

/* The SDK's own statements, prepared on first use (duro_storage_stmt). */
enum storage_stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_RELEASE,
	STMT_ROLLBACK_TO,
	STMT_PAGES,
	STMT_KV_GET,
	STMT_KV_PUT,
	STMT_KV_DELETE,
	STMT_KV_DELETE_ALL,
	STMT_KV_LIST,      /* ascending, key >= ?1, LIMIT ?2 */
	STMT_KV_LIST_END,  /* the same and key < ?3 */
	STMT_KV_LIST_DESC, /* descending */
	STMT_KV_LIST_END_DESC,
	STMT_ALARM_GET,
	STMT_ALARM_PUT,
	STMT_ALARM_DELETE,
	STMT_ALARM_COUNT,
	STMT_ALARM_LIST, /* ordered by at_ms, name */
	STMT_COUNT
};

/*
 * duro_sql_exec()'s statements, kept prepared by their SQL text: handlers
 * run the same few statements over and over, and compiling one costs
 * several times what running it does.
 */
#define SQL_CACHE_SIZE 16

struct sql_cached {
	char *sql; /* NULL: a free slot */
	sqlite3_stmt *stmt;
	int busy;           /* a cursor is using it */
	unsigned long used; /* for least-recently-used eviction */
};

struct duro_storage {
	sqlite3 *db;
	int lock_fd; /* the object's directory, flock()ed; -1 when closed */
	int limit_mb;
	int page_size;
	/* The authorizer lets the SDK's own statements through. */
	int internal;
	const char *denied; /* why the authorizer refused the last statement */
	char denied_buf[160];

	int in_event;   /* a handler is running */
	int txn;        /* the event's BEGIN has been run */
	unsigned depth; /* savepoints open */
	/*
	 * The current transaction (the event's, or an outermost
	 * duro_transaction() outside events) was lost or must not commit:
	 * DURO_EFULL or DURO_ESTORAGE, returned by every call until it ends.
	 */
	int doomed;
	char doom_msg[256];
	char errmsg[256];

	sqlite3_stmt *stmt[STMT_COUNT];
	struct duro_sql_cursor *cursors; /* open ones, for the event's end */
	struct sql_cached cache[SQL_CACHE_SIZE];
	unsigned long cache_tick;
	unsigned event_seq; /* counts events, tags cursors */
};

/* An alarm's state: set to at (repeating every), or absent. */
struct alarm_state {
	int exists;
	int64_t at;
	int64_t every;
};

/*
 * An alarm name the event's transaction touched, with its state before
 * the event, read before the event first wrote it.
 */
struct alarm_touch {
	char *name;
	struct alarm_state before;
	/*
	 * The handler wrote it: 1 + the savepoint depth of its outermost
	 * write still standing (0: not written, or only in savepoints that
	 * were rolled back).
	 */
	unsigned written;
	int delivered; /* the alarm event's own alarm: always reported */
};

/* What the event did to alarms (duro_alarm.c), reset at each event. */
struct duro_alarms {
	struct alarm_touch *touched;
	size_t ntouched;
	size_t cap;
	/* Built at the output gate, pointing at touched[].name. */
	struct ipc_alarm *changes; /* the reply's "alarms" */
	size_t nchanges;
	struct ipc_alarm *sync; /* new or earlier: alarm_sync first */
	size_t nsync;
};

/*
 * WebSockets during one event (duro_ws.c): whether actions are allowed,
 * and the output-gated ones, encoded when they were made so that after
 * COMMIT nothing is left that could fail but the socket.
 */
struct duro_ws {
	int in_event;
	/*
	 * A query or an immediate action found durod gone or got a bad
	 * answer: the error that ends the loop, whatever the handler
	 * returns. Nothing of the event may then be committed.
	 */
	int broken;
	nng_msg **gated; /* in call order */
	size_t ngated;
	size_t cap;
};

struct duro {
	nng_socket sock;
	int sock_open;
	int recv_fd; /* readable while a message waits (NNG_OPT_RECVFD) */
	int send_fd; /* readable while a send would not block */
	/*
	 * Self-pipe written (never read) when the pipe to durod is removed:
	 * once readable it stays readable, so every poll() sees durod gone.
	 */
	int gone[2];
	int ready_sent;

	char *url;
	char *ns;
	char *id;
	char *name; /* NULL for unnamed objects */
	char *storage;
	struct duro_storage st;

	duro_request_fn on_request;
	void *request_arg;
	duro_hibernate_fn on_hibernate;
	void *hibernate_arg;
	duro_alarm_fn on_alarm;
	void *alarm_arg;
	struct duro_alarms alarms;
	duro_ws_message_fn on_ws_message;
	void *ws_message_arg;
	duro_ws_close_fn on_ws_close;
	void *ws_close_arg;
	struct duro_ws ws;
};

/* duro.c */
/* Send one protocol message, waiting while the socket is busy. */
int duro_send_msg(struct duro *, const struct ipc_msg *);
/* Send an encoded frame, waiting while the socket is busy; msg is sent
 * or freed. */
int duro_send_frame(struct duro *, nng_msg *msg);
/* Send an "error" for request id with a formatted message. */
int duro_send_error(struct duro *, uint64_t id, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* True once the pipe to durod has gone away. */
int duro_gone(const struct duro *);
/*
 * Wait for the next message from durod and decode it into *m (release it
 * with ipc_recv_done). DURO_ECLOSED once durod is gone and nothing is
 * left to read, DURO_EPROTO for a malformed message (logged to stderr),
 * DURO_EIO when the socket fails.
 */
int duro_recv_msg(struct duro *, struct ipc_msg *m);

/* duro_storage.c */
/*
 * Lock the directory of d->storage (waiting while another process holds
 * it), open the database with the settings of $DURO_SYNCHRONOUS and
 * $DURO_STORAGE_LIMIT_MB and make the SDK's tables. Writes why it failed
 * to stderr: DURO_EINVAL (a bad variable), DURO_ESTORAGE or DURO_ENOMEM.
 */
int duro_storage_open(struct duro *);
/* Close the database, then release the lock; fine when not open. */
void duro_storage_close(struct duro *);
/*
 * The SDK's statement id in *out, prepared on first use; reset it after
 * each use.
 */
int duro_storage_stmt(struct duro *, enum storage_stmt, sqlite3_stmt **out);
/* sqlite3_step() on an SDK statement (the authorizer lets it through). */
int duro_storage_step(struct duro *, sqlite3_stmt *);
/* Run an SDK statement that returns nothing (BEGIN, ...). */
int duro_storage_run(struct duro *, enum storage_stmt);
/*
 * Turn a failed SQLite call's result into an enum duro_err, keep its
 * message for duro_storage_errmsg(), and fail the transaction in progress
 * when the failure lost it or ran out of space.
 */
int duro_storage_fail(struct duro *, int sqlite_rv);
/* Fail with err and this message (no SQLite call involved). */
int duro_storage_failf(struct duro *, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Clear the last error message; for calls that succeed. */
void duro_storage_ok(struct duro *);

/* duro_txn.c */
/*
 * Called first by every storage call: DURO_ESTATE when storage is not
 * open, the doom error of a failed transaction, or 0 after making sure
 * that the event's transaction has begun (inside a handler).
 */
int duro_storage_enter(struct duro *);
/* Open a savepoint (atomic groups of SDK statements, duro_transaction). */
int duro_savepoint_open(struct duro *);
/* Release the innermost savepoint, first rolling it back if rollback. */
int duro_savepoint_close(struct duro *, int rollback);
/* A handler is about to run: its storage calls form one transaction. */
void duro_storage_event_begin(struct duro *);
/*
 * The handler returned: commit its transaction if commit (the response is
 * good), else roll it back; close the cursors it left open. Returns 0,
 * or DURO_EFULL / DURO_ESTORAGE when the event must fail with
 * "storage_full" / "storage_failed" (it was doomed, or the commit
 * failed), its message in duro_storage_errmsg().
 */
int duro_storage_event_end(struct duro *, int commit);

/* duro_alarm.c */
/* A new event: forget what the last one did to alarms. */
void duro_alarm_event_reset(struct duro *);
/* Free what duro_alarm_event_reset() keeps for reuse. */
void duro_alarm_free(struct duro *);
/*
 * A savepoint at depth (1 = outermost) of the event ended: writes made
 * inside it are the enclosing level's now, or were undone if rollback.
 */
void duro_alarm_savepoint_end(struct duro *, unsigned depth, int rollback);
/*
 * Start an alarm event for name: read its state into *s (inside the
 * event's transaction, which this begins) and mark it delivered, so the
 * reply always reports it.
 */
int duro_alarm_deliver(struct duro *, const char *name, struct alarm_state *s);
/* Whether the handler set or deleted name in this event (and kept it). */
int duro_alarm_written(const struct duro *, const char *name);
/*
 * Retire a due alarm in state s at now: delete it, or move a repeating
 * one to its next occurrence after now (ipc_alarm_next).
 */
int duro_alarm_retire(
    struct duro *, const char *name, const struct alarm_state *s, int64_t now);
/*
 * At the output gate, before COMMIT: compare every touched alarm with
 * its state before the event, filling d->alarms.changes (every changed
 * one and the delivered one, as they will be committed) and .sync (set
 * ones that are new or earlier).
 */
int duro_alarm_changes(struct duro *);
/*
 * Send alarm_sync with d->alarms.sync and wait for alarm_ack. Returns 0
 * when durod indexed them; 1 with why when the event must fail instead
 * (*code is its error code); or DURO_ECLOSED, DURO_EPROTO or DURO_EIO
 * when durod went away or broke the protocol meanwhile.
 */
int duro_alarm_sync(struct duro *, const char **code, char *why, size_t whylen);

/* duro_sql_auth.c */
/*
 * The authorizer (sqlite3_set_authorizer) for the statements of
 * duro_sql_exec(); arg is the struct duro_storage. See duro.h for what
 * it refuses.
 */
int duro_sql_authorize(void *arg, int action, const char *a1, const char *a2,
    const char *db, const char *inner);

/* duro_sql.c */
/* Close the cursors opened during the current event (or all). */
void duro_sql_close_cursors(struct duro *, int all);
/* Finalize the cached statements (their cursors closed first). */
void duro_sql_cache_free(struct duro *);

/* duro_response.c */
void duro_response_init(struct duro_response *);
void duro_response_free(struct duro_response *);
/* Remember err (if it is the first failure) and return it. */
int duro_response_keep(struct duro_response *, int err);

/* duro_ws.c */
/* An event's handler is about to run: WebSocket actions are allowed. */
void duro_ws_event_begin(struct duro *);
/*
 * The event is over. With send (it committed), send its output-gated
 * actions in call order: 0, or the socket's error (DURO_ECLOSED,
 * DURO_EIO). Without, drop them. Either way actions are refused again.
 */
int duro_ws_event_end(struct duro *, int send);
/* Free what the event's buffer keeps (duro_close). */
void duro_ws_free(struct duro *);

#endif
