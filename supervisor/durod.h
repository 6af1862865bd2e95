/*
 * durod.h — the supervisor's one private header, prototypes grouped by file.
 *
 * Where a request flows:
 *   gateway.c (TCP, keep-alive, pipelining) -> http_in.c (parse one request)
 *   -> router.c (namespace, name|id -> object id) -> object.c (table, queue)
 *   -> object_run.c (lifecycle: spawn, deliver, reply, timeouts, exits)
 *   -> worker_ipc.c (nng pair0 socket per worker) -> the worker process
 *   and back: worker_ipc.c -> object_run.c -> gateway.c (request_respond).
 *
 * WebSockets: an upgrade flows like a request; its 101 hands the socket
 * to ws.c (rooms of connections, outliving workers) and ws_conn.c (the
 * protocol, on wslay); messages come back as events through object_run.c.
 * The admin API: admin.c, admin_objects.c, admin_db*.c; lifecycle events
 * and the log: events.c; metrics.c; a reload: reload.c and nsgen.c.
 *
 * Where an object's lifecycle lives: lifecycle.c (the pure state machine),
 * object_run.c (the actions it asks for), restart.c (when crashes put
 * an object in backoff) and object_ops.c (delete, hold, restart, reload
 * from outside, all through the state machine).
 */
#ifndef DURO_DUROD_H
#define DURO_DUROD_H

#include <sys/queue.h>
#include <sys/types.h>

#include <ev.h>
#include <nng/nng.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "ipc.h"
#include "sandbox.h"

#define DURO_ID_BYTES 32
#define DURO_ID_HEX (DURO_ID_BYTES * 2)
#define DURO_NAME_MAX 256
#define DURO_HEADER_LIMIT (32 * 1024) /* request line + headers */
#define DURO_KEY_BYTES 32             /* a namespace's HMAC key */

/* ---- config.c: the JSON config, parsed once into this struct ---- */

struct ns_config {
	char *name;
	char **exec; /* argv, NULL-terminated; exec[0] is the program */
	char *policy;
	char *synchronous; /* "FULL" or "NORMAL": the worker's SQLite sync */
	char **env;        /* "KEY=VALUE", NULL-terminated; no DURO_ keys */
	char **read_paths; /* more paths its sandbox may read, or NULL */
	uint32_t idle_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t start_timeout_ms;
	uint32_t hibernate_grace_ms;
	uint32_t memory_limit_mb;
	uint32_t storage_limit_mb;
	uint32_t max_queue;
	uint32_t max_restarts;
	uint32_t restart_window_ms;
	uint32_t restart_backoff_max_ms; /* the longest backoff */
	uint32_t alarm_retry_base_ms;    /* first retry after a failed alarm */
	uint32_t alarm_max_retries;      /* then the alarm is given up */
};

struct config {
	char *listen;       /* "host:port" */
	char *admin_listen; /* "host:port" */
	char *data_dir;
	char *run_dir;
	char *policy_dir; /* where "<policy>.json" files are */
	uint32_t max_active_objects;
	uint64_t max_body_bytes;
	/* The alarm schedule holds the index rows due within alarm_window_ms,
	 * at most alarm_window_rows of them (tuning; see alarm.c). */
	uint32_t alarm_window_rows;
	uint32_t alarm_window_ms;
	char *log_format; /* "text" or "json" */
	struct ns_config *namespaces;
	size_t nnamespaces;
};

/*
 * Parse a config. Unknown keys, wrong types and out-of-range values are
 * errors; err receives "<json path>: <why>", e.g. "namespaces.counter.exec:
 * must be a non-empty array of strings". Returns 0 or -1.
 */
int config_parse(const char *json, size_t len, struct config **out, char *err,
    size_t errlen);
int config_load(
    const char *path, struct config **out, char *err, size_t errlen);
void config_free(struct config *);
const struct ns_config *config_ns_byname(
    const struct config *, const char *name, size_t len);
/* Every key of two namespaces equal (the name included)? */
int config_ns_equal(const struct ns_config *, const struct ns_config *);
/* One top-level key (e.g. "listen") equal in both? */
int config_top_equal(
    const struct config *, const struct config *, const char *key);
/* Split "host:port" (host may be "[v6]"); returns 0 or -1. */
int config_split_hostport(const char *s, char *host, size_t hostlen, int *port);

/* ---- objid.c: object ids (see DESIGN.md "Objects and addressing") ---- */

void objid_from_name(const uint8_t key[DURO_KEY_BYTES], const char *name,
    size_t len, uint8_t id[DURO_ID_BYTES]);
int objid_new_unique(
    const uint8_t key[DURO_KEY_BYTES], uint8_t id[DURO_ID_BYTES]);
/* 1 if this key made the id, else 0 (constant time). */
int objid_verify(
    const uint8_t key[DURO_KEY_BYTES], const uint8_t id[DURO_ID_BYTES]);
void objid_to_hex(const uint8_t id[DURO_ID_BYTES], char hex[DURO_ID_HEX + 1]);
/* Exactly 64 lowercase hex characters; returns 0 or -1. */
int objid_from_hex(const char *hex, size_t len, uint8_t id[DURO_ID_BYTES]);

/* ---- router_parse.c: request-target -> route (pure) ---- */

enum route_kind { ROUTE_NAME, ROUTE_ID, ROUTE_NEW };

struct route {
	enum route_kind kind;
	const char *ns; /* into the target, ns_len bytes */
	size_t ns_len;
	char name[DURO_NAME_MAX + 1]; /* ROUTE_NAME: decoded, NUL-terminated */
	size_t name_len;
	uint8_t id[DURO_ID_BYTES]; /* ROUTE_ID: parsed, not yet verified */
	const char *path;          /* into the target: "/..." for the worker */
	size_t path_len;
	const char *query; /* into the target, after '?', NUL-terminated */
	const char *err_code;
	const char *err_message;
};

/* Returns 0, or an HTTP status with r->err_code and r->err_message set. */
int route_parse(const char *target, struct route *r);

/* ---- lifecycle.c: the object state machine (pure) ---- */

enum obj_state {
	OBJ_HIBERNATED, /* no worker; costs only its files */
	OBJ_STARTING,   /* spawned, waiting for ready; events queue */
	OBJ_IDLE,       /* ready, nothing in flight */
	OBJ_BUSY,       /* one event in flight (turn-based delivery) */
	OBJ_STOPPING,   /* told to hibernate or killed; waiting for the reap */
	OBJ_BACKOFF,    /* crashed too often: no worker, events get 503 */
	OBJ_WAITING,    /* events queued, no worker: waits for a free slot */
	OBJ_NSTATES
};

enum obj_event {
	OEV_EVENT,   /* an event was queued for the object */
	OEV_READY,   /* the worker said ready */
	OEV_REPLY,   /* the worker answered the in-flight event */
	OEV_TIMEOUT, /* the state's timer fired: start, request, idle, grace */
	OEV_EXIT,    /* the worker process was reaped */
	OEV_VIOLATION, /* the worker broke the protocol */
	OEV_HIBERNATE, /* durod wants it asleep (shutdown, capacity) */
	OEV_SLOT,      /* a live worker was reaped: room for one more */
	OEV_NEVENTS
};

/* Actions, performed by object_run.c in this order. */
enum obj_action {
	ACT_KILL = 1 << 0, /* SIGKILL the worker; its exit comes later */
	ACT_FAIL_INFLIGHT = 1
	                    << 1, /* 500 object_reset to the in-flight event */
	ACT_FAIL_QUEUE = 1 << 2,  /* fail every queued event */
	ACT_HIBERNATE = 1 << 3,   /* send hibernate, arm the grace timer */
	ACT_SPAWN = 1 << 4,       /* start a worker, arm the start timer */
	ACT_DELIVER = 1 << 5,     /* send the queue's head, arm its timer */
	ACT_ARM_IDLE = 1 << 6,    /* arm the idle timer */
	ACT_FREE = 1 << 7,        /* forget the object (it is hibernated) */
	ACT_ARM_BACKOFF = 1 << 8, /* arm the timer for the backoff's end */
};

struct lc_in {
	int queued;        /* events are waiting in the object's queue */
	int draining;      /* durod is shutting down: no new turns once idle */
	int draining_hard; /* ... and no new workers either */
	int backoff;       /* the exit just reaped puts the object in backoff */
	int at_capacity;   /* max_active_objects workers are alive */
	int recycle; /* its namespace changed: no turn more for this worker */
	int held;    /* an admin operation owns its storage: no new worker */
};

struct lc_out {
	enum obj_state next;
	unsigned actions;
};

struct lc_out lifecycle_next(
    enum obj_state, enum obj_event, const struct lc_in *);
const char *lifecycle_state_name(enum obj_state);
const char *lifecycle_event_name(enum obj_event);

/* ---- log.c: one line per event on stderr ---- */

enum log_level { LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };

void log_init(const char *progname);
/* log_format "json": every line one JSON object (see log.c). */
void log_set_json(int on);
int log_json(void);
const char *log_level_name(enum log_level);
void log_msg(enum log_level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A line already formatted as JSON (events.c). */
void log_line_json(const char *line);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* ---- notify.c: tell init how durod is doing ---- */

/*
 * Send state ("READY=1", "STOPPING=1", ...; lines joined by '\n') as one
 * datagram to $NOTIFY_SOCKET, if set. Never blocks, never fails durod: the
 * first error is logged, the rest are ignored.
 */
void notify_send(const char *state);

/* ---- http_in.c: incremental HTTP/1.1 request parser (pure; fuzzed) ---- */

/* One parsed request; every pointer is owned by it. */
struct http_request {
	char *method; /* "GET", ... */
	char *target; /* raw request-target, e.g. "/counter/a/incr?by=2" */
	struct ipc_header *headers; /* names as sent, values without OWS */
	size_t nheaders;
	uint8_t *body; /* de-chunked; NULL when empty */
	size_t body_len;
	int keep_alive; /* the connection may carry another request */
	int upgrade;    /* Upgrade: requested (WebSockets, a later issue) */
};

enum http_in_status {
	HTTP_IN_MORE,    /* consumed everything, need more bytes */
	HTTP_IN_REQUEST, /* a request is complete: take it, then feed the rest
	                  */
	HTTP_IN_ERROR,   /* malformed or over a limit: answer, then close */
};

struct http_in;
struct http_in *http_in_new(uint64_t max_body, size_t max_header);
void http_in_free(struct http_in *);
/*
 * Feed bytes. *consumed says how many were used; after HTTP_IN_REQUEST the
 * caller takes the request and feeds buf + *consumed later (pipelining).
 */
enum http_in_status http_in_feed(
    struct http_in *, const char *buf, size_t len, size_t *consumed);
/* The completed request; the caller owns it. */
struct http_request *http_in_take(struct http_in *);
/* After HTTP_IN_ERROR: the status to answer (400, 413, 431, 501, 505,
 * or 500 "internal" when memory ran out) and a message for the JSON
 * error body. */
int http_in_error(
    const struct http_in *, const char **code, const char **message);
/* True while the current request's headers are complete and its body is
 * still arriving (the gateway's header timeout ends there). */
int http_in_reading_body(const struct http_in *);
/* True if that request asked for "100 Continue" before sending its body. */
int http_in_expects_continue(const struct http_in *);
void http_request_free(struct http_request *);
const char *http_request_header(const struct http_request *, const char *name);

/* ---- gateway.c: an HTTP/1.1 server on one listen address ---- */

struct conn;
struct durod;

/*
 * A request in flight between a client and whoever answers it. The
 * gateway creates it and hands it to the dispatch function, which must
 * eventually call request_respond() or request_error() exactly once; that
 * frees it. If the client goes away first, conn becomes NULL and the answer
 * is dropped, but the request is still answered (and freed) the same way.
 */
struct request {
	struct http_request *http;
	struct conn *conn;
	ev_tstamp received;

	/* set by the router */
	const char *path;  /* what the worker sees, starts with '/' */
	const char *query; /* without '?', may be "" */
	uint64_t ipc_id;
	/* An alarm event instead of an HTTP request (http and conn are
	 * NULL): its answer goes to alarm.c, not to a client. */
	struct alarm_fire *fire;
	/* A WebSocket event instead (ws.c): its answer goes to ws.c. */
	struct ws_event *ws;
	/* A WebSocket upgrade (ws.c): the id its connection will have, the
	 * handshake's accept value, and sends to it made before the 101. */
	uint64_t ws_conn;
	char ws_accept[29];
	struct ws_pending *ws_pending;
	/* Counted in metrics when answered (object routes only), under
	 * namespace ns_label ("" when no namespace matched). */
	struct metrics *metrics;
	char ns_label[65];
	TAILQ_ENTRY(request) entry; /* in its object's queue */
};
TAILQ_HEAD(request_queue, request);

typedef void (*gateway_dispatch_fn)(void *arg, struct request *);

struct gateway_limits {
	uint64_t max_body_bytes;
	size_t max_header_bytes;
	double header_timeout_s; /* a request's headers must arrive within */
	double idle_timeout_s;   /* keep-alive connection with nothing to do */
	size_t max_conns;
};

struct gateway;
struct gateway *gateway_open(struct ev_loop *, const char *listen,
    const struct gateway_limits *, gateway_dispatch_fn, void *arg, char *err,
    size_t errlen);
/* Stop accepting, close idle connections, close the others after their
 * current answer; requests that arrive meanwhile get 503. */
void gateway_drain(struct gateway *);
size_t gateway_nconns(const struct gateway *);
/* For connections accepted from now on (a reload). */
void gateway_set_max_body(struct gateway *, uint64_t max_body_bytes);
void gateway_close(struct gateway *);
/* Answer a request. headers/body are copied; the request is freed. */
void request_respond(struct request *, int status,
    const struct ipc_header *headers, size_t nheaders, const uint8_t *body,
    size_t body_len);
/* A WebSocket upgrade was accepted: take the client's socket out of the
 * gateway (r is freed). 0 with the fd, the bytes already read past the
 * request and the earlier answers not yet sent (both malloc'd), or -1 when
 * the client is gone. */
int request_take_socket(struct request *, int *fd, char **in, size_t *inlen,
    char **out, size_t *outlen);
/* Answer {"error": code, "message": message} with the given status. */
void request_error(struct request *, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Same with a Retry-After header (503, 429). */
void request_error_retry(struct request *, int status, unsigned retry_after_s,
    const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Streamed answers (gateway_stream.c): the head now, the body in chunks.
 * A push producer writes when it has data and must drop a client that
 * falls max_pending bytes behind; a pull producer writes from more(),
 * called when the previous piece has been sent. gone() says the client
 * went away: the stream is freed, do not touch it again.
 */
struct stream;
struct stream_ops {
	void (*more)(struct stream *, void *arg); /* NULL: push producer */
	void (*gone)(void *arg);
};
/* Answer r (freed) with a chunked body to follow. NULL when the client is
 * gone or memory ran out (then nothing else happens). */
struct stream *request_stream(struct request *r, int status,
    const struct ipc_header *h, size_t nh, const struct stream_ops *, void *arg,
    size_t max_pending);
/* Queue a piece: 0, or -1 when the client is max_pending behind (or
 * memory ran out): then end or abort the stream. */
int stream_write(struct stream *, const void *, size_t);
size_t stream_pending(const struct stream *);
/* The last chunk: the connection carries on (keep-alive). */
void stream_end(struct stream *);
/* Close the connection: the client sees a body cut short. */
void stream_abort(struct stream *);

/* ---- durod's runtime state (main.c owns the one instance) ---- */

struct object;
struct ipc_link;
struct ipc_inbox;
TAILQ_HEAD(object_list, object);

/* A file as it was when its namespace was loaded: a reload compares. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* A configured namespace plus what durod derived from it when its config
 * was loaded (nsgen.c). (clang-format takes "namespace" for C++'s.) */
/* clang-format off */
struct namespace {
	const struct ns_config *cfg;
	struct nsgen *gen; /* the generation it belongs to */
	uint8_t key[DURO_KEY_BYTES]; /* from the registry */
	char *exec_path;             /* exec[0] resolved against PATH */
	struct file_id exec_id;
	const struct sb_policy *policy; /* NULL: "none", no sandbox */
	char *policy_path; /* its file, or NULL */
	struct file_id policy_id;
	char **sb_execs; /* what its workers may execute (NULL-terminated) */
	char **sb_reads; /* and read, besides the policy's paths */
	int drop_ids; /* its workers run as uid/gid (policy user, group) */
	uid_t uid;
	gid_t gid;
};
/* clang-format on */

/* ---- nsgen.c: the configured namespaces, one generation per config ---- */

struct registry;

struct nsgen {
	struct config *cfg;
	struct namespace *ns;        /* cfg->nnamespaces */
	struct sb_policy **policies; /* loaded, one per policy name used */
	size_t npolicies;
	unsigned refs; /* objects and alarm events using it, +1 if current */
};

/* Resolve programs and load policies for cfg, which the generation owns
 * from now on (freed on failure too). NULL with err on failure. */
struct nsgen *nsgen_new(
    struct config *cfg, const struct sb_kernel *, char *err, size_t errlen);
/* Each namespace's key from the registry (made on first use). */
int nsgen_keys(struct nsgen *, struct registry *, char *err, size_t errlen);
void nsgen_ref(struct nsgen *);
void nsgen_unref(struct nsgen *); /* the last one frees it */
const struct namespace *nsgen_byname(
    const struct nsgen *, const char *name, size_t len);
/* Would a worker started under b differ from one started under a (its
 * config, its program's file, its policy's file)? */
int nsgen_differs(const struct namespace *a, const struct namespace *b);

struct durod {
	struct ev_loop *loop;
	struct config *cfg;   /* the current one: gen->cfg */
	struct nsgen *gen;    /* the current namespaces */
	const char *cfg_path; /* reloaded on SIGHUP */
	struct registry *reg;
	struct gateway *gateway;
	struct gateway *admin;
	char *run_dir;           /* absolute */
	char *data_dir;          /* absolute */
	struct object *objects;  /* uthash table by (ns, id) */
	struct object_list idle; /* idle workers, least recently used first */
	struct object_list waiting; /* objects waiting for a slot, in order */
	size_t nobjects;            /* in the table */
	size_t nlive;               /* with a worker process, reaped or not */
	size_t max_live; /* max_active_objects, or less if fds are short */
	uint64_t next_ipc_id;
	int draining;
	int draining_hard;
	pid_t pid;
	struct ipc_inbox *inbox; /* worker messages, from nng's threads */
	struct alarms *alarms;
	struct restart_rec *restarts; /* restart histories (restart.c) */
	uint64_t restarts_seen;
	ev_prepare flush; /* the registry's group commit, before sleeping */
	struct sb_kernel kernel; /* what the kernel can enforce */
	int kmsg; /* sb_audit_open(): the syscalls of seccomp kills, or -1 */
	struct regsync *regsync;
	struct events *events;
	struct metrics *metrics;
	struct ws_room *ws_rooms; /* uthash: WebSocket rooms (ws.c) */
	struct ws_peer *ws_peers; /* uthash by connection id */
	size_t nws;               /* open WebSocket connections */
	uint64_t next_ws_id;
	struct dbjobs *dbjobs;
	ev_tstamp started; /* wall clock, for uptime */
	ev_async synced;   /* regsync's thread made a commit durable */
	ev_signal sig_term, sig_int, sig_hup;
	ev_timer drain_timer;
	ev_tstamp drain_started;
	double drain_deadline; /* seconds before stopping workers hard */
};

/* SIGHUP (reload.c): the config again, swapped in only when valid. */
void durod_reload(struct durod *);
/* Apply the config's limits: max_active_objects (within the open files
 * limit) and max_body_bytes. */
void durod_apply_limits(struct durod *);
const struct namespace *durod_ns_byname(
    const struct durod *, const char *name, size_t len);
/* Commit the registry's pending writes now (durod does before the loop
 * sleeps) and ack the alarm_syncs waiting on them. */
void durod_flush(struct durod *);
/* Called whenever an object or connection goes away while draining. */
void durod_check_drained(struct durod *);

/* ---- registry.c: registry.sqlite (namespace keys, object names) ---- */

struct registry;
struct registry *registry_open(const char *path, char *err, size_t errlen);
void registry_close(struct registry *);
/* The namespace's key, made (random) and stored on first use. */
int registry_ns_key(struct registry *, const char *ns,
    uint8_t key[DURO_KEY_BYTES], char *err, size_t errlen);
/* Remember an object (at its worker's spawn), with its name when it has
 * one (idempotent; a name learnt later is added). */
int registry_note_name(struct registry *, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name);
/* Forget a deleted object. */
int registry_forget(
    struct registry *, const char *ns, const uint8_t id[DURO_ID_BYTES]);
/* The name of a named object, malloc'd, or NULL (unnamed or unknown). */
/* A worker of the object exited having served n events (crashed or
 * not): the totals GET /objects/<ns>/<id> reports. */
int registry_note_exit(struct registry *, const char *ns,
    const uint8_t id[DURO_ID_BYTES], uint64_t served, int crashed);
struct registry_counts {
	uint64_t events;
	uint64_t crashes;
	uint64_t first_seen_ms;
	int known; /* the registry has the object */
};
int registry_counts_byid(struct registry *, const char *ns,
    const uint8_t id[DURO_ID_BYTES], struct registry_counts *);
/* Known objects after (ns, id) in (ns, id) order, of one namespace or
 * all (ns NULL): f is called for each, at most limit times. Returns the
 * number of rows or -1. */
long registry_list(struct registry *, const char *only_ns, const char *after_ns,
    const uint8_t after_id[DURO_ID_BYTES], size_t limit,
    void (*f)(void *, const char *ns, const uint8_t *id, const char *name),
    void *arg);
char *registry_name_byid(
    struct registry *, const char *ns, const uint8_t id[DURO_ID_BYTES]);
/*
 * Group commit: every write joins the transaction registry_write_begin()
 * opens (a no-op when one is open); registry_flush() commits it (durod
 * calls it before the loop sleeps) and returns 0, or -1 when the commit
 * failed and the writes since the last flush are lost.
 */
int registry_write_begin(struct registry *);
int registry_flush(struct registry *);
int registry_pending(const struct registry *);
/* The connection, for alarm_index.c's queries on the alarms table. */
struct sqlite3 *registry_db(struct registry *);

/* ---- alarm_sched.c: the in-memory alarm schedule (pure) ---- */

/*
 * The alarms durod will deliver soon, by due time: a hash by (namespace,
 * object id, alarm name) plus a binary min-heap by due time, so put, delete
 * and pop are O(log n) whatever the count. It holds one window of the
 * durable index in registry.sqlite (alarm_index.c), never all of it:
 * every index row with due_ms < alarm_sched_loaded_until() is in memory
 * (except those popped and in flight), no row at or past it is.
 */
struct alarm_entry {
	const char *ns; /* namespace name (a copy inside the entry) */
	uint8_t id[DURO_ID_BYTES];
	char *name;      /* inside the entry too; "" is the default alarm */
	uint64_t due_ms; /* when to deliver (a retry's time after failures) */
	uint64_t scheduled_ms; /* the alarm's own time, what the handler sees */
	uint64_t every_ms;     /* repeat period, 0 = once */
	uint32_t retry;        /* failed attempts so far */
	/* private to alarm_sched.c */
	size_t heap_idx_;
	UT_hash_handle hh;
	char *key_;
	size_t key_len_;
};

struct alarm_sched;
struct alarm_sched *alarm_sched_new(void);
/* Frees every entry still in it. */
void alarm_sched_free(struct alarm_sched *);
/*
 * Insert the alarm, or replace the times of the one with the same (ns, id,
 * name). Returns 0, or -1 when out of memory (nothing changed).
 */
int alarm_sched_put(struct alarm_sched *, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name, uint64_t due_ms,
    uint64_t scheduled_ms, uint64_t every_ms, uint32_t retry);
/* The entry for (ns, id, name), or NULL. */
struct alarm_entry *alarm_sched_find(struct alarm_sched *, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name);
/* Remove and free one alarm; a no-op when absent. */
void alarm_sched_del(struct alarm_sched *, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name);
/* Remove and free every alarm of one object; returns how many. */
size_t alarm_sched_del_object(
    struct alarm_sched *, const char *ns, const uint8_t id[DURO_ID_BYTES]);
/* The earliest due time held, or UINT64_MAX when empty. */
uint64_t alarm_sched_next_due(const struct alarm_sched *);
/*
 * Take out the earliest entry if it is due (due_ms <= now_ms): it leaves
 * the schedule and the caller owns it (alarm_entry_free). NULL otherwise.
 */
struct alarm_entry *alarm_sched_pop(struct alarm_sched *, uint64_t now_ms);
void alarm_entry_free(struct alarm_entry *);
size_t alarm_sched_count(const struct alarm_sched *);

/*
 * The window. loaded_until starts at 0 (nothing loaded). After loading
 * index rows with due_ms >= the old end, in (due_ms) order, at most limit
 * of them and only those before horizon_ms: alarm_window_end() says how
 * many of the n fetched rows to keep (a prefix) and where the window now
 * ends. n < limit: all kept, the window ends at horizon_ms. n == limit:
 * rows sharing the last row's due time might continue past the limit, so
 * those are dropped and the window ends at that time; if that drops them
 * all (all n share one due time), *keep is 0 and *all_at is set: the
 * caller must load every row with due_ms == *all_at, keep them all, and
 * end the window at *all_at + 1.
 */
uint64_t alarm_window_end(const uint64_t *dues, size_t n, size_t limit,
    uint64_t horizon_ms, size_t *keep, int *all_at_set, uint64_t *all_at);
uint64_t alarm_sched_loaded_until(const struct alarm_sched *);
void alarm_sched_set_loaded_until(struct alarm_sched *, uint64_t);
/* Whether a row with this due time belongs in memory (due < loaded_until). */
int alarm_sched_covers(const struct alarm_sched *, uint64_t due_ms);

/*
 * The retry rule (DESIGN.md "Alarms"): after failed attempt number
 * `retry` (1 for the first failure), wait base_ms * 2^(retry-1), plus
 * jitter in [0, 25 %) of that taken from jitter01 in [0, 1). Saturates
 * instead of overflowing.
 */
uint64_t alarm_retry_delay_ms(
    uint64_t base_ms, uint32_t retry, double jitter01);

/* ---- alarm_index.c: the durable alarm index (registry.sqlite) ---- */

struct alarm_row {
	uint64_t due_ms;
	uint64_t scheduled_ms;
	uint64_t every_ms;
	uint32_t retry;
};

typedef void (*alarm_scan_fn)(void *arg, const char *ns, const uint8_t *id,
    const char *name, const struct alarm_row *);

struct alarm_index;
struct alarm_index *alarm_index_open(
    struct registry *, char *err, size_t errlen);
void alarm_index_close(struct alarm_index *);
/* 1 and *row when the alarm has a row, 0 when not, -1 on error. */
int alarm_index_get(struct alarm_index *, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name, struct alarm_row *);
/* Writes join the registry's group commit; 0 or -1 (logged). */
int alarm_index_put(struct alarm_index *, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name,
    const struct alarm_row *);
int alarm_index_del(struct alarm_index *, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name);
int alarm_index_del_object(
    struct alarm_index *, const char *ns, const uint8_t id[DURO_ID_BYTES]);
/* fn for each row with from <= due_ms < until, by due time, at most limit
 * (0: all); returns how many, or -1. */
int alarm_index_next(struct alarm_index *, const char *ns,
    const uint8_t id[DURO_ID_BYTES], uint64_t *due_ms);
long alarm_index_scan(struct alarm_index *, uint64_t from, uint64_t until,
    size_t limit, alarm_scan_fn fn, void *arg);
long alarm_index_count(struct alarm_index *);

/* ---- alarm.c: schedule, deliver and retry alarms ---- */

/* An alarm event in an object's queue (struct request's fire). */
struct alarm_fire {
	struct durod *d;
	const struct namespace *ns;
	uint8_t id[DURO_ID_BYTES];
	char *name;
	uint64_t scheduled_ms;
	uint64_t every_ms;
	uint64_t due_ms;
	uint64_t queued_ms; /* when it was queued on the object */
	uint32_t retry;
	int final;
};

/* The config's alarm settings (again, after a reload). */
void alarms_configure(struct durod *);
/* Load the index's first window and start the timer; 0 or -1 with err. */
int alarms_open(struct durod *, char *err, size_t errlen);
/* Draining: deliver no more alarms (those in flight finish or fail). */
void alarms_stop(struct durod *);
void alarms_close(struct durod *);
/* alarm_sync from a worker with an event in flight: index the wake-ups;
 * the ack follows the registry's next flush. */
void alarm_on_sync(struct object *, const struct ipc_msg *);
/* After the registry's group commit (ok: it committed): the waiting
 * alarm_syncs now wait for regsync; a failed commit refuses them. */
void alarm_flushed(struct durod *, int ok);
/* regsync made commits durable: ack the alarm_syncs they covered. */
void alarm_synced(struct durod *);
/* The object's worker is gone or being killed: no ack is owed. */
void alarm_unwait(struct object *);
/* A reply's "alarms" list: the committed truth, into the index. */
void alarm_apply(struct object *, const struct ipc_msg *);
/* The worker answered an alarm event (done or error); frees r. */
void alarm_event_done(
    struct object *, struct request *, const struct ipc_msg *);
/* The alarm event failed without an answer from a handler (crash,
 * timeout, queue full, ...): request_error() lands here; frees r. */
void alarm_event_failed(
    struct request *, int status, const char *code, const char *msg);
struct alarm_stats {
	size_t window;    /* alarms in the in-memory window */
	size_t in_flight; /* alarm events queued or running */
	uint64_t delivered, retried, given_up; /* since start */
};
void alarm_stats(const struct durod *, struct alarm_stats *);
/* The object's earliest wake-up in the index: 1 and *due_ms, or 0. */
int alarm_next_due(struct durod *, const struct namespace *,
    const uint8_t id[DURO_ID_BYTES], uint64_t *due_ms);
/* An imported database's alarms replace the object's in the index. */
struct dbjob_alarm;
int alarm_import(struct durod *, const struct namespace *,
    const uint8_t id[DURO_ID_BYTES], const struct dbjob_alarm *, size_t n);
/* A deleted object's alarms leave the index. */
void alarm_forget_object(
    struct durod *, const struct namespace *, const uint8_t id[DURO_ID_BYTES]);

/* ---- registry_sync.c: registry commits made durable off the loop ---- */

struct regsync;
/* Start the thread that fdatasyncs the registry's WAL; wake(arg) is
 * called on that thread after each sync (it must be thread-safe). */
struct regsync *regsync_open(const char *wal_path, void (*wake)(void *),
    void *arg, char *err, size_t errlen);
/* Everything committed so far will be durable once regsync_done() reaches
 * the returned generation. */
uint64_t regsync_request(struct regsync *);
/* The newest durable generation; *failed is an errno once any sync has
 * failed (from then on nothing is promised durable). */
uint64_t regsync_done(struct regsync *, int *failed);
/* Sync now, on the caller's thread (rare: an admin delete). 0 or -1. */
int regsync_now(struct regsync *);
void regsync_close(struct regsync *);

/* ---- restart.c: restart intensity and backoff ---- */

struct restart {
	uint64_t window_start; /* ms: the current counting window's start */
	uint32_t count;        /* abnormal exits in it */
	uint32_t level;        /* backoffs in a row: the next is 1 s << level */
	uint64_t backoff_until; /* ms: the current (or last) backoff's end */
	uint64_t up_since;      /* ms: the live worker's ready time, or 0 */
};

struct restart_cfg {
	uint32_t max_restarts;
	uint32_t window_ms;
	uint32_t backoff_max_ms;
};

/* An abnormal exit at now: 0 (restart on the next event), or how long
 * (ms) the object now backs off. Pure. */
uint64_t restart_crashed(
    struct restart *, const struct restart_cfg *, uint64_t now);
/* Its worker became ready; it served an event: after a whole window of
 * stable service the history is forgotten. Pure. */
void restart_ready(struct restart *, uint64_t now);
void restart_served(struct restart *, const struct restart_cfg *, uint64_t now);
/* Whether the history still matters at now. Pure. */
int restart_active(
    const struct restart *, const struct restart_cfg *, uint64_t now);
void restart_cfg_of(const struct ns_config *, struct restart_cfg *);
/* An object's history in durod's table (kept while objects come and go);
 * NULL when there is none (and create is 0) or memory ran out. */
struct restart *restarts_get(struct durod *, const struct object *, int create);
void restarts_free(struct durod *);

/* ---- metrics.c: counters and histograms for GET /metrics ---- */

/*
 * What durod counts, per namespace (label "namespace"; "" for requests
 * that reached no namespace). Series live as long as durod: a namespace
 * removed by a reload keeps its counters. Not thread-safe: the loop only.
 */
struct metrics;
struct metrics *metrics_new(void);
void metrics_free(struct metrics *);
/* An answer with this HTTP status, seconds after the request arrived. */
void metrics_request(
    struct metrics *, const char *ns, int status, double seconds);
/* A worker was spawned (an activation). */
void metrics_spawn(struct metrics *, const char *ns);
/* A worker said ready, seconds after its spawn. */
void metrics_ready(struct metrics *, const char *ns, double seconds);
/* A worker was reaped; reason is exit_reason_label()'s. */
void metrics_exit(struct metrics *, const char *ns, const char *reason);
/* A crash that counts towards the restart intensity. */
void metrics_restart(struct metrics *, const char *ns);
/* The object entered backoff. */
void metrics_backoff(struct metrics *, const char *ns);
/* A worker was told to hibernate (idle, capacity, recycle, shutdown). */
void metrics_hibernation(struct metrics *, const char *ns);
enum metrics_alarm {
	METRICS_ALARM_FIRED,   /* an alarm event was delivered */
	METRICS_ALARM_RETRIED, /* a failed one was scheduled again */
	METRICS_ALARM_GIVEN_UP,
};
void metrics_alarm(struct metrics *, const char *ns, enum metrics_alarm);
/* Gauges, sampled by the caller at render time, one entry per namespace. */
struct metrics_gauges {
	const char *ns;
	size_t live_workers; /* worker processes alive */
	size_t objects;      /* objects in durod's table (any state) */
	size_t backoff;      /* of which in backoff */
	size_t websockets;   /* open WebSocket connections */
};
/* The Prometheus text exposition format (0.0.4), malloc'd, or NULL when
 * out of memory. */
char *metrics_render(const struct metrics *, const struct metrics_gauges *,
    size_t ngauges, size_t event_subscribers, double start_time, size_t *len);

/* ---- admin_db.c: an object's database for the admin API ---- */

/*
 * Read-only SQL, export and import of one object's db.sqlite, each on its
 * own thread (at most DBJOB_MAX at once) so a long query never stalls
 * durod; the result comes back on the loop. Files the job leaves in the
 * object's directory get the directory's owner (workers may run as
 * another user).
 */
#define DBJOB_MAX 4

enum dbjob_kind { DBJOB_SQL, DBJOB_EXPORT, DBJOB_IMPORT };

struct dbjob_alarm {
	char *name;
	int64_t at_ms;
	int64_t every_ms;
};

struct dbjob {
	/* in: set by the caller (dbjob_new zeroes; strings are owned) */
	enum dbjob_kind kind;
	char *dir;     /* the object's directory, absolute */
	char *tmp_dir; /* DBJOB_EXPORT: where its temporary copy goes */
	char *sql;     /* DBJOB_SQL: one statement */
	uint8_t *data; /* DBJOB_IMPORT: the database file, as sent */
	size_t data_len;
	uint32_t timeout_ms; /* DBJOB_SQL: interrupted after this long */
	size_t max_rows;     /* DBJOB_SQL: more rows set "truncated" */
	/* out: an HTTP status and a JSON body, the result or
	 * {"error": code, "message": ...} */
	int status;
	char *body;
	size_t body_len;
	int fd;        /* DBJOB_EXPORT, 200: the copy (unlinked), else -1 */
	uint64_t size; /* its size in bytes */
	struct dbjob_alarm *alarms; /* DBJOB_IMPORT, 200: its _duro_alarms */
	size_t nalarms;
	/* private */
	void (*done)(struct dbjob *, void *);
	void *arg;
	struct dbjobs *jobs;
	TAILQ_ENTRY(dbjob) entry;
};

struct dbjob *dbjob_new(enum dbjob_kind);
void dbjob_free(struct dbjob *); /* closes fd, frees everything */
/* Do the job on the calling thread (blocking); fills the out fields. */
void dbjob_run(struct dbjob *);

struct dbjobs;
struct dbjobs *dbjobs_open(struct ev_loop *);
/* Waits for running jobs; their done callbacks are not called. */
void dbjobs_close(struct dbjobs *);
/* Run the job on a thread; done(job, arg) is called on the loop after.
 * Returns 0, or -1 when DBJOB_MAX jobs are running or no thread could
 * start (the job is untouched). */
int dbjobs_start(struct dbjobs *, struct dbjob *,
    void (*done)(struct dbjob *, void *), void *arg);

/* Internal to admin_db*.c, on the job's thread. dbjob_fail sets the
 * error body (the first error wins) and returns -1. */
struct dbjob_dir {
	int fd; /* the object's directory */
	int switched;
	uid_t prev_uid; /* the file-system ids before dbjob_enter */
	gid_t prev_gid;
};
int dbjob_fail(struct dbjob *, int status, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
uint64_t dbjob_now_ms(void); /* monotonic */
int dbjob_enter(struct dbjob *, struct dbjob_dir *);
void dbjob_leave(struct dbjob_dir *);
void dbjob_settings(struct sqlite3 *, const uint64_t *deadline);
int dbjob_open(struct dbjob *, const struct dbjob_dir *,
    const uint64_t *deadline, struct sqlite3 **);
void dbjob_close(struct dbjob *, struct sqlite3 *);
void dbjob_sql(struct dbjob *);
void dbjob_export(struct dbjob *);
void dbjob_import(struct dbjob *);

/* ---- events.c: lifecycle events: a log line each, and GET /events ---- */

struct events;
struct events *events_open(void);
/* Ends every subscriber's stream cleanly (shutdown). */
void events_close(struct events *);
/* GET /events[?ns=NS]: r's client follows the events from now on. */
void events_subscribe(struct events *, struct request *r, const char *ns);
size_t events_nsubscribers(const struct events *);

/*
 * One event: event_new(kind, o) fills ts, event, and with o its ns, id,
 * name and pid; event_str/num add details; event_emit logs it at level
 * with a printf message and publishes it, then frees it. All accept the
 * NULL event_new returns when memory ran out (the log line still goes).
 */
struct event;
struct event *event_new(const char *kind, const struct object *o);
void event_object(struct event *, const char *ns, const char *idhex);
void event_str(struct event *, const char *key, const char *value);
void event_num(struct event *, const char *key, double value);
void event_emit(struct events *, struct event *, enum log_level,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- ws.c: WebSocket rooms that outlive their object's worker ---- */

enum ws_event_kind { WS_EV_MESSAGE, WS_EV_CLOSE };

struct ws_event {
	struct durod *d;
	enum ws_event_kind kind;
	uint64_t conn;
	int binary; /* message */
	uint8_t *data;
	size_t len;
	int code; /* close */
	char reason[124];
	int clean;
};

/* A GET with Upgrade on an object route: 0 when it is a valid WebSocket
 * handshake (r->ws_conn, r->ws_accept set), else r is answered (400,
 * 503 when the object has 32,768 connections). */
int ws_upgrade_check(struct durod *, const struct namespace *,
    const uint8_t id[DURO_ID_BYTES], struct request *r);
/* The worker answered the upgrade with 101 (m): make the peer; frees r. */
void ws_accept(struct object *, struct request *r, const struct ipc_msg *m);
int ws_pending_add(struct request *, int binary, const void *, size_t);
void ws_pending_free(struct request *);
void ws_event_free(struct ws_event *);
/* An action or query from the worker during an event: 0, or -1 (out of
 * memory, a send failed: a protocol violation is not this). */
int ws_on_action(struct object *, const struct ipc_msg *);
/* The worker's done/error to a ws event; or it failed without one
 * (crash, queue full, ...): the connection is closed (1011, 1013). Both
 * free r. */
void ws_event_done(struct object *, struct request *r, const struct ipc_msg *);
void ws_event_failed(
    struct request *r, int status, const char *code, const char *msg);
/* The object was deleted: its connections close with 1001. */
void ws_object_gone(struct durod *, const char *ns, const uint8_t *id);
/* Close every connection (only_removed: of namespaces no longer
 * configured) with code; ws_free_all drops them at exit. */
void ws_close_all(struct durod *, int code, const char *why, int only_removed);
void ws_free_all(struct durod *);
/* f(arg, ns, n) for each room with connections (metrics). */
void ws_count(const struct durod *, void (*f)(void *, const char *ns, size_t n),
    void *arg);

/* ---- router.c: gateway dispatch for object routes ---- */

void router_dispatch(void *durod, struct request *);

/* ---- admin.c: the admin listener ---- */

void admin_dispatch(void *durod, struct request *);
/* Answer o as JSON (takes it; NULL means out of memory). */
struct cJSON;
void admin_json(struct request *, int status, struct cJSON *o);
/* A query parameter, percent-decoded: 1 if present, 0, -1 if bad. */
int admin_query(const char *query, const char *key, char *out, size_t len);

/* ---- admin_objects.c: /objects and /objects/<ns>/<object>[/action] ---- */

void admin_objects_list(struct durod *, struct request *, const char *query);
void admin_object(struct durod *, struct request *, const char *rest,
    size_t len, const char *query);

/* ---- spawn.c: start a worker process without copying durod ---- */

/* Everything the child needs, built by the parent before the clone. */
struct spawn_plan {
	const char *path;  /* resolved program */
	char *const *argv; /* NULL-terminated */
	char *const *envp; /* NULL-terminated */
	pid_t parent;      /* durod's pid, to detect an early parent death */
	const struct sb_plan *sandbox; /* NULL: the worker runs unconfined */
};

/* Start a child; returns 0 and its pid, or an errno with err filled.
 * exec failures are reported here, not as a mysterious exit 127. */
int spawn_start(
    const struct spawn_plan *, pid_t *pid, char *err, size_t errlen);
/* Resolve a program name against PATH like execvp; malloc'd or NULL. */
char *spawn_resolve(const char *prog);

/* ---- ns_sandbox.c: each namespace's policy, and a spawn's plan ---- */

/*
 * For each config (startup, --check, reload): load each policy the
 * namespaces name from policy_dir (once per name), and note what each
 * namespace's workers may execute and read. "none" means no sandbox and
 * is logged loudly. Returns 0, or -1 with err naming the namespace and
 * the policy file's error.
 */
int ns_sandbox_load(
    struct nsgen *, const struct sb_kernel *, char *err, size_t errlen);
void ns_sandbox_free(struct nsgen *);
/* The plan for one spawn of o's worker: 0 and the plan, or 0 with *none
 * set when the namespace runs unconfined, or -1 with err. */
int ns_sandbox_plan(const struct object *, struct sb_plan *, int *none,
    char *err, size_t errlen);

/* ---- exit_reason.c: decode a worker's exit in one place ---- */

enum kill_cause {
	KILL_NONE,          /* durod did not kill it */
	KILL_HIBERNATE,     /* did not exit within the grace period */
	KILL_START_TIMEOUT, /* no ready within start_timeout_ms */
	KILL_TIMEOUT,       /* an event ran past request_timeout_ms */
	KILL_VIOLATION,     /* broke the protocol */
	KILL_SHUTDOWN,      /* durod is stopping hard */
	KILL_DELETE,        /* the object is being deleted */
};

enum exit_kind {
	EXIT_CLEAN,   /* exit 0 */
	EXIT_CODE,    /* exit status != 0 */
	EXIT_SIGNAL,  /* killed by a signal durod did not send */
	EXIT_SANDBOX, /* SIGSYS: a seccomp violation */
	EXIT_LIMIT,   /* killed by an rlimit: SIGXFSZ, SIGXCPU */
	EXIT_KILLED,  /* killed by durod; the cause says why */
};

struct exit_reason {
	enum exit_kind kind;
	enum kill_cause cause;
	int code;       /* exit status or signal number */
	char text[128]; /* "exit 3", "signal 6 (Aborted)", "timeout" */
};

void exit_decode(int wstatus, enum kill_cause, struct exit_reason *);
/* Whether it counts towards the restart intensity (restart.c): an exit
 * code, a signal, a sandbox or limit kill, or durod's kill for a timeout
 * or a protocol violation; not a clean exit, a hibernate grace, shutdown
 * or delete. */
int exit_is_crash(const struct exit_reason *);
const char *kill_cause_name(enum kill_cause);
/* A short label for metrics and events: "clean", "exit_code", "signal",
 * "sandbox", "limit", or the kill cause's name. */
const char *exit_reason_label(const struct exit_reason *);

/* ---- object.c: the object table ---- */

struct object {
	struct durod *d;
	const struct namespace *ns;
	uint8_t id[DURO_ID_BYTES];
	char idhex[DURO_ID_HEX + 1];
	char *name; /* NULL for objects reached by id */
	enum obj_state state;

	pid_t pid; /* 0 when no worker */
	enum kill_cause kill_cause;
	ev_child child;
	ev_timer timer; /* start, request, idle or grace: one per state */
	ev_tstamp spawned_at;

	struct ipc_link *link; /* its nng socket (worker_ipc.c), or NULL */
	char ipc_path[108];

	struct request_queue queue;
	size_t nqueued;
	struct request *inflight;
	uint64_t events_served;
	uint64_t life_served; /* by the current worker */
	int recycle; /* a reload changed its namespace: stop after this turn */
	int held;    /* an admin import owns its storage (object_hold) */
	void (*held_cb)(struct object *, void *); /* once no worker is left */
	void *held_arg;
	struct request *delete_req; /* an admin delete waiting for the reap */
	uint64_t backoff_until;     /* ms: in OBJ_BACKOFF until then */
	int sync_waiting; /* an alarm_sync awaits its ack: 1, or -1 (failed) */
	uint64_t
	    sync_gen; /* the regsync generation it waits for, 0: none yet */
	TAILQ_ENTRY(object) sync_entry;

	TAILQ_ENTRY(object) idle_entry; /* in d->idle while OBJ_IDLE */
	TAILQ_ENTRY(object) wait_entry; /* in d->waiting while OBJ_WAITING */
	char key[64 + DURO_ID_BYTES];   /* namespace name (zero padded), id */
	UT_hash_handle hh;
};

struct object *object_byid(
    struct durod *, const struct namespace *, const uint8_t id[DURO_ID_BYTES]);
struct object *object_new(struct durod *, const struct namespace *,
    const uint8_t id[DURO_ID_BYTES], const char *name);
void object_free(struct object *);
/* Move o to ns, a namespace of the same name in another generation. */
void object_set_ns(struct object *, const struct namespace *);
/* Run f on every object (safe against f freeing it). */
void object_foreach(struct durod *, void (*f)(struct object *));

/* ---- object_store.c: the object's directory ---- */

int object_dir(const struct object *, char *buf, size_t len);
int object_dir_of(const struct durod *, const char *ns, const char *idhex,
    char *buf, size_t len);
/* The bytes of its database files (db.sqlite, -wal, -shm). */
uint64_t object_dir_bytes(const char *dir);
int object_dir_make(const struct object *, char *err, size_t errlen);
int object_dir_remove(const struct object *, char *err, size_t errlen);
int object_dir_exists(const struct object *);

/* ---- object_run.c: perform the lifecycle ---- */

/* One step of the state machine: lifecycle_next(), then its actions. */
void object_step(struct object *, enum obj_event, const char *why);
/* The object in the table, made if new (its timer ready). */
struct object *object_make(struct durod *, const struct namespace *,
    const uint8_t id[DURO_ID_BYTES], const char *name);
/* SIGKILL its worker (if any), for cause; the reap follows. */
void object_kill(struct object *, enum kill_cause);

/* Queue a request for the object (found or made); answers 429 when full. */
void object_dispatch(struct durod *, const struct namespace *,
    const uint8_t id[DURO_ID_BYTES], const char *name, struct request *);
/* Durod wants it asleep (shutdown). */
void object_hibernate(struct object *);
/* SIGKILL its worker now (second SIGTERM, drain timeout). */
void object_kill_hard(struct object *);
/* From worker_ipc.c: a message, or a protocol violation. */
void object_on_message(struct object *, const struct ipc_msg *);
void object_on_violation(struct object *, const char *why);

/* ---- object_ops.c: delete, hold, restart, reload ---- */

/* Stop the object's worker (if any), remove its directory and registry
 * entry, then answer r: 200, 404 when it had no storage, 409 when a
 * delete is already running. Events queued meanwhile get a fresh object. */
void object_delete(struct durod *, const struct namespace *,
    const uint8_t id[DURO_ID_BYTES], struct request *r);
/* With no worker left: remove the storage and answer the delete. */
void object_delete_finish(struct object *);
/*
 * Hold an object for an admin operation on its storage (import): its
 * worker, if any, stops after its turn, no new one starts, events queue.
 * cb(o, arg) runs once no worker is left (maybe at once). NULL when out
 * of memory or already held or being deleted.
 */
struct object *object_hold(struct durod *, const struct namespace *,
    const uint8_t id[DURO_ID_BYTES], const char *name,
    void (*cb)(struct object *, void *), void *arg);
/* The held object has no worker now: its holder goes on. */
void object_held_ready(struct object *);
/* End the hold: queued events start a worker (o may be freed). */
void object_release(struct object *);
/* POST .../restart: stop its worker (now if idle, else after its turn),
 * or end a backoff. 1 if something was done, 0 if it had no worker. */
int object_restart(struct object *);
/* After a reload: move to the new generation's namespace, recycle the
 * worker when its namespace changed (once its turn is over), or drain
 * when its namespace was removed. */
void object_reload(struct object *);

/* ---- worker_ipc.c: one nng pair0 socket per worker ---- */

/* Once, before the first worker: the inbox nng's threads deliver to. */
int worker_ipc_init(struct durod *);
/* At exit: messages still arriving are dropped. */
void worker_ipc_fini(struct durod *);
int worker_ipc_open(struct object *, char *err, size_t errlen);
void worker_ipc_close(struct object *);
/* The worker said ready: nobody else may dial its socket now. */
void worker_ipc_connected(struct object *);
/* Ignore whatever else the worker sends (it is being killed). */
void worker_ipc_stop_reading(struct object *);
/* Returns 0 or an nng error. */
int worker_ipc_send(struct object *, const struct ipc_msg *);

#endif
