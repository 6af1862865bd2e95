/*
 * duro_run.c — the worker's event loop: receive, dispatch, reply.
 *
 * One event at a time, on the caller's thread: durod sends the next
 * request only after the reply to the previous one (ipc/PROTOCOL.md §6).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duro_impl.h"
#include "ipc_nng.h"

/* Internal: the loop should end cleanly (hibernate). */
#define RUN_STOP 1

static int
run_send_response(struct duro *d, uint64_t id, const struct duro_response *r)
{
	struct ipc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = IPC_RESPONSE;
	m.id = id;
	m.status = r->status;
	m.headers = r->headers;
	m.nheaders = r->nheaders;
	m.body = r->body;
	m.body_len = r->body_len;
	return (duro_send_msg(d, &m));
}

/*
 * Reply to request id from what the handler did: its response, or an
 * error when it failed, left a builder failure behind, or built something
 * that cannot be encoded (a header over the frame limit).
 */
static int
run_reply(
    struct duro *d, uint64_t id, int failed, const struct duro_response *r)
{
	int rv;

	if (failed)
		return (duro_send_error(d, id, "handler_failed", "%s",
		    r->error != NULL ? r->error : "the handler failed"));
	if (r->err != 0)
		return (duro_send_error(d, id, "handler_failed",
		    "building the response: %s", duro_strerror(r->err)));
	rv = run_send_response(d, id, r);
	if (rv == DURO_ERANGE || rv == DURO_ENOMEM)
		return (duro_send_error(d, id, "handler_failed",
		    "the response could not be encoded: %s",
		    duro_strerror(rv)));
	return (rv);
}

/*
 * Whether the response can be encoded (its JSON header within
 * IPC_MAX_HEADER_BYTES), known before the commit so that a response that
 * cannot be sent never follows committed writes. JSON escaping makes a
 * byte at most 6, so only large header sets need the real encoding.
 */
static int
run_fits(uint64_t id, const struct duro_response *r)
{
	struct ipc_msg m;
	size_t bound = 256;
	char *json;
	int fits;

	for (size_t i = 0; i < r->nheaders; i++)
		bound += 8 + 6 * (strlen(r->headers[i].name) +
		                     strlen(r->headers[i].value));
	if (bound <= IPC_MAX_HEADER_BYTES)
		return (1);
	memset(&m, 0, sizeof(m));
	m.type = IPC_RESPONSE;
	m.id = id;
	m.status = r->status;
	m.headers = r->headers;
	m.nheaders = r->nheaders;
	if ((json = ipc_header_json(&m)) == NULL)
		return (0);
	fits = strlen(json) <= IPC_MAX_HEADER_BYTES;
	free(json);
	return (fits);
}

/*
 * The output gate: end the event's transaction, then reply. The storage
 * verdict comes first: a doomed or uncommitted event fails with its
 * storage error even if the handler (which may have ignored that error)
 * returned 0.
 */
static int
run_finish(
    struct duro *d, uint64_t id, int failed, const struct duro_response *r)
{
	int commit = !failed && r->err == 0 && run_fits(id, r);
	int rv = duro_storage_event_end(d, commit);

	if (rv == DURO_EFULL)
		return (duro_send_error(
		    d, id, "storage_full", "%s", duro_storage_errmsg(d)));
	if (rv != 0)
		return (duro_send_error(
		    d, id, "storage_failed", "%s", duro_storage_errmsg(d)));
	return (run_reply(d, id, failed, r));
}

static int
run_request(struct duro *d, const struct ipc_msg *m)
{
	struct duro_request req;
	struct duro_response resp;
	struct duro_header *h = NULL;
	int failed, rv;

	if (d->on_request == NULL)
		return (duro_send_error(
		    d, m->id, "unsupported", "this worker takes no requests"));
	if (m->nheaders > 0 && (h = calloc(m->nheaders, sizeof(*h))) == NULL)
		return (duro_send_error(
		    d, m->id, "handler_failed", "out of memory"));
	for (size_t i = 0; i < m->nheaders; i++) {
		h[i].name = m->headers[i].name;
		h[i].value = m->headers[i].value;
	}
	req.id = m->id;
	req.method = m->method;
	req.path = m->path;
	req.query = m->query;
	req.headers = h;
	req.nheaders = m->nheaders;
	req.body = m->body;
	req.body_len = m->body_len;

	duro_response_init(&resp);
	duro_storage_event_begin(d);
	failed = d->on_request(d, &req, &resp, d->request_arg) != 0;
	rv = run_finish(d, m->id, failed, &resp);
	duro_response_free(&resp);
	free(h);
	return (rv);
}

static int
run_dispatch(struct duro *d, const struct ipc_msg *m)
{
	switch (m->type) {
	case IPC_REQUEST:
		return (run_request(d, m));
	case IPC_HIBERNATE:
		if (d->on_hibernate != NULL)
			d->on_hibernate(d, d->hibernate_arg);
		return (RUN_STOP);
	default:
		/* A later protocol's event, or a type sent the wrong way. */
		if (m->id != 0)
			return (duro_send_error(d, m->id, "unsupported",
			    "message type \"%s\" is not supported",
			    m->type_name));
		fprintf(
		    stderr, "duro: ignoring a \"%s\" message\n", m->type_name);
		return (0);
	}
}

/* Handle every message that is waiting; then notice if durod is gone. */
static int
run_drain(struct duro *d)
{
	struct ipc_msg m;
	char err[256];
	int rv;

	for (;;) {
		rv = ipc_recv(d->sock, &m, NNG_FLAG_NONBLOCK, err, sizeof(err));
		if (rv == NNG_EAGAIN)
			return (duro_gone(d) ? DURO_ECLOSED : 0);
		if (rv < 0) {
			fprintf(stderr,
			    "duro: malformed message from durod: %s\n", err);
			return (DURO_EPROTO);
		}
		if (rv > 0) {
			fprintf(
			    stderr, "duro: receive: %s\n", nng_strerror(rv));
			return (DURO_EIO);
		}
		rv = run_dispatch(d, &m);
		ipc_recv_done(&m);
		if (rv != 0)
			return (rv);
	}
}

static int
run_wait(const struct duro *d)
{
	struct pollfd pfd[2] = {
	    {d->recv_fd, POLLIN, 0},
	    {d->gone[0], POLLIN, 0},
	};

	while (poll(pfd, 2, -1) == -1)
		if (errno != EINTR)
			return (DURO_EIO);
	return (0);
}

int
duro_run(struct duro *d)
{
	int rv = 0;

	if (!d->ready_sent)
		rv = duro_ready(d);
	while (rv == 0 && (rv = run_wait(d)) == 0)
		rv = run_drain(d);
	/* Hibernating and losing durod both end the worker normally. */
	if (rv == RUN_STOP || rv == DURO_ECLOSED)
		return (0);
	return (rv);
}
