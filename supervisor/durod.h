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
 * Where an object's lifecycle lives: lifecycle.c (the pure state machine)
 * and object_run.c (the actions it asks for).
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

#include "ipc.h"

#define DURO_ID_BYTES 32
#define DURO_ID_HEX (DURO_ID_BYTES * 2)
#define DURO_NAME_MAX 256
#define DURO_HEADER_LIMIT (32 * 1024) /* request line + headers */

/* ---- config.c: the JSON config, parsed once into this struct ---- */

struct ns_config {
	char *name;
	char **exec; /* argv, NULL-terminated; exec[0] is the program */
	char *policy;
	char **env; /* "KEY=VALUE", NULL-terminated; no DURO_ keys */
	uint32_t idle_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t start_timeout_ms;
	uint32_t hibernate_grace_ms;
	uint32_t memory_limit_mb;
	uint32_t storage_limit_mb;
	uint32_t max_queue;
	uint32_t max_restarts;
	uint32_t restart_window_ms;
};

struct config {
	char *listen;	    /* "host:port" */
	char *admin_listen; /* "host:port" */
	char *data_dir;
	char *run_dir;
	uint32_t max_active_objects;
	uint64_t max_body_bytes;
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
int config_load(const char *path, struct config **out, char *err,
    size_t errlen);
void config_free(struct config *);
const struct ns_config *config_ns_byname(const struct config *,
    const char *name, size_t len);
/* Split "host:port" (host may be "[v6]"); returns 0 or -1. */
int config_split_hostport(const char *s, char *host, size_t hostlen,
    int *port);

/* ---- log.c: one line per event on stderr ---- */

void log_init(const char *progname);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* ---- http_in.c: incremental HTTP/1.1 request parser (pure; fuzzed) ---- */

/* One parsed request; every pointer is owned by it. */
struct http_request {
	char *method;	/* "GET", ... */
	char *target;	/* raw request-target, e.g. "/counter/a/incr?by=2" */
	struct ipc_header *headers; /* names as sent, values without OWS */
	size_t nheaders;
	uint8_t *body; /* de-chunked; NULL when empty */
	size_t body_len;
	int keep_alive; /* the connection may carry another request */
	int upgrade;	/* Upgrade: requested (WebSockets, a later issue) */
};

enum http_in_status {
	HTTP_IN_MORE,	 /* consumed everything, need more bytes */
	HTTP_IN_REQUEST, /* a request is complete: take it, then feed the rest */
	HTTP_IN_ERROR,	 /* malformed or over a limit: answer, then close */
};

struct http_in;
struct http_in *http_in_new(uint64_t max_body, size_t max_header);
void http_in_free(struct http_in *);
/*
 * Feed bytes. *consumed says how many were used; after HTTP_IN_REQUEST the
 * caller takes the request and feeds buf + *consumed later (pipelining).
 */
enum http_in_status http_in_feed(struct http_in *, const char *buf,
    size_t len, size_t *consumed);
/* The completed request; the caller owns it. */
struct http_request *http_in_take(struct http_in *);
/* After HTTP_IN_ERROR: the status to answer (400, 413, 431, 501, 505)
 * and a message for the JSON error body. */
int http_in_error(const struct http_in *, const char **code,
    const char **message);
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
	const struct ns_config *ns;
	const char *path;  /* what the worker sees, starts with '/' */
	const char *query; /* without '?', may be "" */
	uint64_t ipc_id;
	TAILQ_ENTRY(request) entry; /* in its object's queue */
};
TAILQ_HEAD(request_queue, request);

typedef void (*gateway_dispatch_fn)(void *arg, struct request *);

struct gateway_limits {
	uint64_t max_body_bytes;
	size_t max_header_bytes;
	double header_timeout_s; /* a request's headers must arrive within */
	double idle_timeout_s;	 /* keep-alive connection with nothing to do */
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
void gateway_close(struct gateway *);
/* Answer a request. headers/body are copied; the request is freed. */
void request_respond(struct request *, int status,
    const struct ipc_header *headers, size_t nheaders, const uint8_t *body,
    size_t body_len);
/* Answer {"error": code, "message": message} with the given status. */
void request_error(struct request *, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Same with a Retry-After header (503, 429). */
void request_error_retry(struct request *, int status, unsigned retry_after_s,
    const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
