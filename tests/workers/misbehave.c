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
 *
 * With MISBEHAVE_START set it misbehaves at startup instead:
 *	crash    abort() before dialing
 *	hang     dial, then never send ready
 *	garbage  dial, and send a malformed message instead of ready
 */
#include <errno.h>
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

static const struct route routes[] = {
    {"GET", "/", on_ok},
    {"GET", "/pid", on_pid},
    {"POST", "/crash", on_crash},
    {"POST", "/exit", on_exit_code},
    {"POST", "/hang", on_hang},
    {"POST", "/spin", on_spin},
    {"POST", "/alloc", on_alloc},
    {"POST", "/garbage", on_garbage},
    {NULL, "/echo", on_echo},
    {"POST", "/sleep", on_sleep},
};

static int
misbehave_request(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(req->path, routes[i].path) != 0)
			continue;
		if (routes[i].method != NULL &&
		    strcmp(req->method, routes[i].method) != 0) {
			duro_response_header(resp, "Allow", routes[i].method);
			return (reply_text(resp, 405, "method not allowed"));
		}
		return (routes[i].fn(d, req, resp));
	}
	return (reply_text(resp, 404, "no such route"));
}

/* MISBEHAVE_START: never become ready. Returns only on a bad value. */
static int
misbehave_start(const char *how)
{
	struct duro *d;
	int rv;

	if (strcmp(how, "crash") == 0)
		abort();
	if (strcmp(how, "hang") != 0 && strcmp(how, "garbage") != 0) {
		fprintf(stderr,
		    "misbehave: MISBEHAVE_START=%s: want crash, "
		    "hang or garbage\n",
		    how);
		return (1);
	}
	if ((rv = duro_open(&d)) != 0)
		return (duro_exit_status(rv));
	if (strcmp(how, "garbage") == 0 &&
	    (rv = duro_send_raw(d, garbage, sizeof(garbage) - 1)) != 0)
		fprintf(
		    stderr, "misbehave: send garbage: %s\n", duro_strerror(rv));
	sleep_forever();
}

int
main(void)
{
	const char *how = getenv("MISBEHAVE_START");
	struct duro *d;
	int rv;

	if (how != NULL && *how != '\0')
		return (misbehave_start(how));
	if ((rv = duro_open(&d)) != 0)
		return (duro_exit_status(rv));
	duro_on_request(d, misbehave_request, NULL);
	if ((rv = duro_run(d)) != 0)
		fprintf(stderr, "misbehave: %s\n", duro_strerror(rv));
	duro_close(d);
	return (duro_exit_status(rv));
}
