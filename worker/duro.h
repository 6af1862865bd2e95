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
};

struct duro;
struct duro_response;

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
};

/*
 * Handle one request by filling resp (status 200, no headers and an empty
 * body to start with). Return 0 to send the response; return non-zero to
 * fail the request instead: durod then answers the client 500 (the SDK
 * sends an "error" with code "handler_failed" and the message set by
 * duro_response_error(), if any).
 */
typedef int (*duro_request_fn)(struct duro *, const struct duro_request *,
    struct duro_response *, void *arg);
/* Told to hibernate: release what must be released; duro_run() returns. */
typedef void (*duro_hibernate_fn)(struct duro *, void *arg);

/* ---- duro.c: connecting to durod ---- */

/*
 * Read the DURO_* environment, open an nng pair0 socket and dial $DURO_IPC
 * (synchronously: durod is already listening). On failure writes one line
 * saying what is wrong to stderr and returns DURO_ENOENT (a variable is
 * missing), DURO_EINVAL (a bad DURO_OBJECT_ID, or a DURO_PROTOCOL other
 * than 1), DURO_EIO (dial failed) or DURO_ENOMEM.
 */
int duro_open(struct duro **out);
/* Close the socket and free everything; NULL is fine. */
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

/* Set the status, 100..599 (DURO_EINVAL otherwise). */
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
/* The message sent with a failed request (the handler returns non-zero). */
int duro_response_error(struct duro_response *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
