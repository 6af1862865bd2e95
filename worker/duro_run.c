/*
 * duro_run.c — the worker's event loop: receive, dispatch, reply.
 *
 * One event at a time, on the caller's thread: durod sends the next
 * event only after the reply to the previous one (ipc/PROTOCOL.md §6).
 * Requests, alarms and WebSocket events share one output gate (run_gate):
 * the event's transaction ends before its output-gated WebSocket
 * messages and its reply leave.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duro_impl.h"
#include "ipc_nng.h"

/* Internal: the loop should end cleanly (hibernate). */
#define RUN_STOP 1

/* The reply's JSON header fits in a frame (durod's limit). */
static int
run_fits(const struct ipc_msg *m)
{
	size_t bound = 256;
	char *json;
	int fits;

	/* JSON escaping makes a byte at most 6, so only large replies need
	 * the real encoding. */
	for (size_t i = 0; i < m->nheaders; i++)
		bound += 8 + 6 * (strlen(m->headers[i].name) +
		                     strlen(m->headers[i].value));
	for (size_t i = 0; i < m->nalarms; i++)
		bound += 64 + 6 * strlen(m->alarms[i].name);
	for (size_t i = 0; i < m->ntags; i++)
		bound += 8 + 6 * strlen(m->tags[i]);
	if (bound <= IPC_MAX_HEADER_BYTES)
		return (1);
	if ((json = ipc_header_json(m)) == NULL)
		return (0);
	fits = strlen(json) <= IPC_MAX_HEADER_BYTES;
	free(json);
	return (fits);
}

/*
 * Before COMMIT: what the event did to alarms goes into the reply, the
 * reply must be known to fit (so that a reply that cannot be sent never
 * follows committed writes), and new or earlier wake-ups must be indexed
 * by durod (ipc/PROTOCOL.md section 14, rule 1). Returns 0 to commit, 1
 * to fail the event with *code and why, or the error that ends the loop.
 */
static int
run_gate_alarms(struct duro *d, struct ipc_msg *reply, const char **code,
    char *why, size_t whylen)
{
	int rv;

	if ((rv = duro_alarm_changes(d)) != 0) {
		/* A doomed transaction overrides this at the event's end. */
		*code = "storage_failed";
		snprintf(why, whylen, "reading the event's alarms: %s",
		    duro_storage_errmsg(d));
		return (1);
	}
	reply->alarms = d->alarms.changes;
	reply->nalarms = d->alarms.nchanges;
	if (!run_fits(reply)) {
		*code = "handler_failed";
		snprintf(why, whylen,
		    "the reply could not be encoded: its header is over %u "
		    "bytes",
		    IPC_MAX_HEADER_BYTES);
		return (1);
	}
	if (d->alarms.nsync == 0)
		return (0);
	return (duro_alarm_sync(d, code, why, whylen));
}

/* durod is gone or broke the protocol: nothing may be committed that it
 * was not told of, and nothing more is sent. */
static int
run_gate_abort(struct duro *d, int rv)
{
	(void)duro_storage_event_end(d, 0);
	(void)duro_ws_event_end(d, 0);
	return (rv);
}

/*
 * The output gate, one path for every event: end the event's transaction
 * and then send its reply (built by the caller: a response or a done),
 * or an error instead. code is NULL when the handler succeeded, else the
 * error code and message to send. The storage verdict comes first: a
 * doomed or uncommitted event fails with its storage error even if the
 * handler (which may have ignored that error) returned 0.
 *
 * The event's output-gated WebSocket messages (ws_send, ws_broadcast,
 * ws_close) leave after COMMIT and before the reply, in the order the
 * handler made them, and only if the event committed: a client never
 * sees what follows from writes that were rolled back, and durod has
 * them all when the reply ends the event.
 */
static int
run_gate(struct duro *d, struct ipc_msg *reply, const char *code,
    const char *message)
{
	char why[1024];
	int commit = code == NULL, rv;

	if (d->ws.broken != 0)
		return (run_gate_abort(d, d->ws.broken));
	if (commit) {
		rv = run_gate_alarms(d, reply, &code, why, sizeof(why));
		if (rv < 0)
			return (run_gate_abort(d, rv));
		if (rv > 0) {
			commit = 0;
			message = why;
		}
	}
	rv = duro_storage_event_end(d, commit);
	if (rv != 0 || !commit)
		(void)duro_ws_event_end(d, 0);
	if (rv == DURO_EFULL)
		return (duro_send_error(d, reply->id, "storage_full", "%s",
		    duro_storage_errmsg(d)));
	if (rv != 0)
		return (duro_send_error(d, reply->id, "storage_failed", "%s",
		    duro_storage_errmsg(d)));
	if (!commit)
		return (duro_send_error(d, reply->id, code, "%s", message));
	if ((rv = duro_ws_event_end(d, 1)) != 0)
		return (rv);
	rv = duro_send_msg(d, reply);
	if (rv == DURO_ERANGE || rv == DURO_ENOMEM)
		return (duro_send_error(d, reply->id, "handler_failed",
		    "the reply could not be encoded: %s", duro_strerror(rv)));
	return (rv);
}

static int
run_request(struct duro *d, const struct ipc_msg *m)
{
	struct duro_request req;
	struct duro_response resp;
	struct duro_header *h = NULL;
	struct ipc_msg reply;
	const char *code = NULL, *message = NULL;
	char why[128];
	int rv;

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
	req.websocket = m->websocket;
	req.ws_conn = m->ws_conn;

	duro_response_init(&resp);
	resp.ws_upgrade = m->websocket;
	duro_storage_event_begin(d);
	duro_ws_event_begin(d);
	if (d->on_request(d, &req, &resp, d->request_arg) != 0) {
		code = "handler_failed";
		message =
		    resp.error != NULL ? resp.error : "the handler failed";
	} else if (resp.err != 0) {
		code = "handler_failed";
		snprintf(why, sizeof(why), "building the response: %s",
		    duro_strerror(resp.err));
		message = why;
	}
	memset(&reply, 0, sizeof(reply));
	reply.type = IPC_RESPONSE;
	reply.id = m->id;
	reply.status = resp.status;
	reply.headers = resp.headers;
	reply.nheaders = resp.nheaders;
	reply.body = resp.body;
	reply.body_len = resp.body_len;
	/* Tags mean something only to an accepted upgrade. */
	if (resp.status == 101) {
		reply.tags = (const char *const *)resp.tags;
		reply.ntags = resp.ntags;
		reply.body_len = 0;
	}
	rv = run_gate(d, &reply, code, message);
	duro_response_free(&resp);
	free(h);
	return (rv);
}

/*
 * The last attempt retires its alarm in a transaction of its own, before
 * the handler runs: whatever the handler then does (fail, crash, hang),
 * the worker's storage agrees with durod, which gives the occurrence up.
 * The handler's event then starts afresh from the retired state.
 */
static int
run_alarm_final(
    struct duro *d, const struct ipc_msg *m, struct alarm_state *s, int64_t now)
{
	int rv;

	if ((rv = duro_alarm_retire(d, m->name, s, now)) != 0) {
		(void)duro_storage_event_end(d, 0);
		return (rv);
	}
	if ((rv = duro_storage_event_end(d, 1)) != 0)
		return (rv);
	duro_storage_event_begin(d);
	return (duro_alarm_deliver(d, m->name, s));
}

/*
 * An alarm is due (ipc/PROTOCOL.md section 14, rule 3): check it against
 * storage, which is the truth, run the handler if it is due, and retire
 * it unless the handler set or deleted it itself. The reply always
 * reports this alarm's state, so that durod's index follows storage even
 * when nothing changed.
 */
static int
run_alarm(struct duro *d, const struct ipc_msg *m)
{
	struct ipc_msg reply;
	struct duro_alarm a;
	struct alarm_state s;
	int64_t now = duro_now_ms();
	char why[512];
	int rv;

	if (d->on_alarm == NULL)
		return (duro_send_error(
		    d, m->id, "unsupported", "this worker takes no alarms"));
	memset(&reply, 0, sizeof(reply));
	reply.type = IPC_DONE;
	reply.id = m->id;
	duro_storage_event_begin(d);
	duro_ws_event_begin(d);
	if ((rv = duro_alarm_deliver(d, m->name, &s)) != 0)
		goto failed;
	if (!s.exists || (s.at > (int64_t)m->scheduled && s.at > now))
		return (run_gate(d, &reply, NULL, NULL)); /* not due */
	a.name = m->name;
	a.scheduled_ms = s.at;
	a.retry = s.at == (int64_t)m->scheduled ? (unsigned)m->retry : 0;
	a.final = m->final;
	if (m->final && (rv = run_alarm_final(d, m, &s, now)) != 0)
		goto failed;
	if (d->on_alarm(d, &a, d->alarm_arg) != 0)
		return (run_gate(
		    d, &reply, "handler_failed", "the alarm handler failed"));
	if (!m->final && !duro_alarm_written(d, m->name) &&
	    (rv = duro_alarm_retire(d, m->name, &s, now)) != 0)
		goto failed;
	return (run_gate(d, &reply, NULL, NULL));

failed:
	/* A storage failure; a doomed event's own verdict wins in the gate. */
	snprintf(why, sizeof(why), "%s", duro_storage_errmsg(d));
	return (run_gate(d, &reply,
	    rv == DURO_EFULL ? "storage_full" : "storage_failed", why));
}

/* Start an event other than a request: its reply is a done. */
static void
run_event_begin(struct duro *d, const struct ipc_msg *m, struct ipc_msg *reply)
{
	memset(reply, 0, sizeof(*reply));
	reply->type = IPC_DONE;
	reply->id = m->id;
	duro_storage_event_begin(d);
	duro_ws_event_begin(d);
}

/* A client's message (ipc/PROTOCOL.md section 15). */
static int
run_ws_message(struct duro *d, const struct ipc_msg *m)
{
	struct ipc_msg reply;

	if (d->on_ws_message == NULL)
		return (duro_send_error(d, m->id, "unsupported",
		    "this worker takes no WebSocket messages"));
	run_event_begin(d, m, &reply);
	if (d->on_ws_message(d, m->conn, m->binary, m->body, m->body_len,
	        d->ws_message_arg) != 0)
		return (run_gate(d, &reply, "handler_failed",
		    "the WebSocket message handler failed"));
	return (run_gate(d, &reply, NULL, NULL));
}

/* A connection is gone: the event form of ws_close, which has an id. */
static int
run_ws_close(struct duro *d, const struct ipc_msg *m)
{
	struct ipc_msg reply;

	if (d->on_ws_close == NULL)
		return (duro_send_error(d, m->id, "unsupported",
		    "this worker takes no WebSocket closes"));
	run_event_begin(d, m, &reply);
	if (d->on_ws_close(d, m->conn, m->close_code, m->reason, m->clean,
	        d->ws_close_arg) != 0)
		return (run_gate(d, &reply, "handler_failed",
		    "the WebSocket close handler failed"));
	return (run_gate(d, &reply, NULL, NULL));
}

static int
run_dispatch(struct duro *d, const struct ipc_msg *m)
{
	switch (m->type) {
	case IPC_REQUEST:
		return (run_request(d, m));
	case IPC_ALARM:
		return (run_alarm(d, m));
	case IPC_WS_MESSAGE:
		return (run_ws_message(d, m));
	case IPC_WS_CLOSE:
		/* Without an id it is the action, which durod never sends:
		 * ignored below like any message sent the wrong way. */
		if (m->id != 0)
			return (run_ws_close(d, m));
		break;
	case IPC_HIBERNATE:
		if (d->on_hibernate != NULL)
			d->on_hibernate(d, d->hibernate_arg);
		return (RUN_STOP);
	default:
		break;
	}
	/* A later protocol's event, or a type sent the wrong way. */
	if (m->id != 0)
		return (duro_send_error(d, m->id, "unsupported",
		    "message type \"%s\" is not supported", m->type_name));
	fprintf(stderr, "duro: ignoring a \"%s\" message\n", m->type_name);
	return (0);
}

int
duro_run(struct duro *d)
{
	struct ipc_msg m;
	int rv = 0;

	if (!d->ready_sent)
		rv = duro_ready(d);
	while (rv == 0 && (rv = duro_recv_msg(d, &m)) == 0) {
		rv = run_dispatch(d, &m);
		ipc_recv_done(&m);
	}
	/* Hibernating and losing durod both end the worker normally. */
	if (rv == RUN_STOP || rv == DURO_ECLOSED)
		return (0);
	return (rv);
}
