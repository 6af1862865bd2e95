/*
 * object_run.c — perform an object's lifecycle.
 *
 * Every change of state goes through object_step(), which asks the pure
 * lifecycle_next() what to do and then does it, in the fixed order of enum
 * obj_action. Callbacks (worker messages, timer, child exit) only translate
 * what happened into an obj_event.
 */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durod.h"

/* ---- small helpers ---- */

static void
set_state(struct object *o, enum obj_state next)
{
	struct durod *d = o->d;

	if (o->state == next)
		return;
	if (o->state == OBJ_IDLE)
		TAILQ_REMOVE(&d->idle, o, idle_entry);
	if (next == OBJ_IDLE)
		TAILQ_INSERT_TAIL(&d->idle, o, idle_entry);
	if (o->state == OBJ_WAITING)
		TAILQ_REMOVE(&d->waiting, o, wait_entry);
	if (next == OBJ_WAITING)
		TAILQ_INSERT_TAIL(&d->waiting, o, wait_entry);
	ev_timer_stop(d->loop, &o->timer);
	o->state = next;
}

static void
arm_timer(struct object *o, uint32_t ms)
{
	ev_timer_stop(o->d->loop, &o->timer);
	ev_timer_set(&o->timer, ms / 1000.0, 0.);
	ev_timer_start(o->d->loop, &o->timer);
}

/* Which kill an event in a state means, for the exit's reason. */
static enum kill_cause
kill_cause_for(enum obj_state s, enum obj_event e)
{
	if (e == OEV_VIOLATION)
		return (KILL_VIOLATION);
	if (e == OEV_TIMEOUT && s == OBJ_STARTING)
		return (KILL_START_TIMEOUT);
	if (e == OEV_TIMEOUT && s == OBJ_BUSY)
		return (KILL_TIMEOUT);
	if (e == OEV_TIMEOUT && s == OBJ_STOPPING)
		return (KILL_HIBERNATE);
	return (KILL_SHUTDOWN);
}

/* ---- building the worker's environment ---- */

struct strv {
	char **v;
	size_t n, cap;
};

static int strv_addf(struct strv *sv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
strv_addf(struct strv *sv, const char *fmt, ...)
{
	va_list ap;
	char **nv;
	int rv;

	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 16;
		if ((nv = realloc(sv->v, sv->cap * sizeof(*nv))) == NULL)
			return (-1);
		sv->v = nv;
	}
	va_start(ap, fmt);
	rv = vasprintf(&sv->v[sv->n], fmt, ap);
	va_end(ap);
	if (rv < 0)
		return (-1);
	sv->v[++sv->n] = NULL;
	return (0);
}

static void
strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
}

/*
 * The worker sees only what the contract gives it: PATH, the namespace's
 * own env, and the DURO_* variables (see ipc/PROTOCOL.md).
 */
static int
worker_env(const struct object *o, struct strv *sv)
{
	const char *path = getenv("PATH");
	char dir[4096];
	int rv = 0;

	rv |= strv_addf(
	    sv, "PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char **e = o->ns->cfg->env; e != NULL && *e != NULL; e++)
		rv |= strv_addf(sv, "%s", *e);
	rv |= strv_addf(sv, "DURO_IPC=ipc://%s", o->ipc_path);
	rv |= strv_addf(sv, "DURO_NAMESPACE=%s", o->ns->cfg->name);
	rv |= strv_addf(sv, "DURO_OBJECT_ID=%s", o->idhex);
	if (o->name != NULL)
		rv |= strv_addf(sv, "DURO_OBJECT_NAME=%s", o->name);
	if (object_dir(o, dir, sizeof(dir)) != 0)
		return (-1);
	rv |= strv_addf(sv, "DURO_STORAGE=%s/db.sqlite", dir);
	/* SQLite's temporary files go next to the database: the sandbox
	 * lets the worker write nowhere else. */
	rv |= strv_addf(sv, "SQLITE_TMPDIR=%s", dir);
	rv |= strv_addf(sv, "DURO_SYNCHRONOUS=%s", o->ns->cfg->synchronous);
	rv |= strv_addf(
	    sv, "DURO_STORAGE_LIMIT_MB=%u", o->ns->cfg->storage_limit_mb);
	rv |= strv_addf(sv, "DURO_PROTOCOL=%d", IPC_PROTOCOL_VERSION);
	return (rv);
}

/* ---- restarts ---- */

static uint64_t
now_ms(void)
{
	return ((uint64_t)(ev_time() * 1000));
}

static uint32_t
backoff_left_ms(const struct object *o)
{
	uint64_t now = now_ms();

	return (
	    o->backoff_until > now ? (uint32_t)(o->backoff_until - now) : 1);
}

/* Seconds until the backoff ends, for Retry-After (at least 1). */
static unsigned
backoff_left_s(const struct object *o)
{
	return ((backoff_left_ms(o) + 999) / 1000);
}

/* A reaped worker: count a crash; too many and the object backs off
 * (lifecycle_next reads o->backoff_until on this exit). */
static void
note_exit(struct object *o, const struct exit_reason *r)
{
	struct restart_cfg c;
	struct restart *h;
	struct event *e;
	uint64_t delay, now = now_ms();

	o->backoff_until = 0;
	if (!exit_is_crash(r) || (h = restarts_get(o->d, o, 1)) == NULL)
		return;
	restart_cfg_of(o->ns->cfg, &c);
	if ((delay = restart_crashed(h, &c, now)) == 0)
		return;
	o->backoff_until = now + delay;
	metrics_backoff(o->d->metrics, o->ns->cfg->name);
	e = event_new("backoff", o);
	event_num(e, "ms", (double)delay);
	event_num(e, "crashes", h->count);
	event_emit(o->d->events, e, LOG_WARN,
	    "more than %u crashes within %u ms: backing off for %llu ms",
	    c.max_restarts, c.window_ms, (unsigned long long)delay);
}

/* The worker is up, or served an event: its stability counts. */
static void
note_alive(struct object *o, int ready)
{
	struct restart_cfg c;
	struct restart *h;

	if ((h = restarts_get(o->d, o, 0)) == NULL)
		return;
	if (ready) {
		restart_ready(h, now_ms());
		return;
	}
	restart_cfg_of(o->ns->cfg, &c);
	restart_served(h, &c, now_ms());
}

/* ---- reloads ---- */

/* The object's namespace is gone from the current config: it drains. */
static int
ns_removed(const struct object *o)
{
	return (
	    o->ns->gen != o->d->gen && durod_ns_byname(o->d, o->ns->cfg->name,
	                                   strlen(o->ns->cfg->name)) == NULL);
}

/* Before a spawn: a new worker runs under the current config. */
static void
ns_renew(struct object *o)
{
	const struct namespace *now;

	o->recycle = 0;
	if (o->ns->gen == o->d->gen ||
	    (now = durod_ns_byname(
	         o->d, o->ns->cfg->name, strlen(o->ns->cfg->name))) == NULL)
		return;
	object_set_ns(o, now);
}

/* ---- events ---- */

/* A reaped worker: "exit" when it ended cleanly or durod ended it,
 * "sandbox_kill" or "crash" otherwise. */
static void
event_exit(struct object *o, const struct exit_reason *r)
{
	int quiet = r->kind == EXIT_CLEAN || r->kind == EXIT_KILLED;
	const char *kind = r->kind == EXIT_SANDBOX ? "sandbox_kill"
	                   : quiet                 ? "exit"
	                                           : "crash";
	struct event *e = event_new(kind, o);

	metrics_exit(o->d->metrics, o->ns->cfg->name, exit_reason_label(r));
	if (exit_is_crash(r))
		metrics_restart(o->d->metrics, o->ns->cfg->name);
	event_str(e, "reason", r->text);
	event_str(e, "kind", exit_reason_label(r));
	event_num(e, "code", r->code);
	event_str(e, "state", lifecycle_state_name(o->state));
	event_num(e, "uptime_ms", (ev_time() - o->spawned_at) * 1000);
	if (quiet)
		event_emit(o->d->events, e, LOG_INFO, "worker %d exited (%s)",
		    (int)o->pid, r->text);
	else
		event_emit(o->d->events, e, LOG_WARN,
		    "worker %d crashed (%s) in state %s", (int)o->pid, r->text,
		    lifecycle_state_name(o->state));
}

static void
event_ready(struct object *o)
{
	double s = ev_time() - o->spawned_at;
	struct event *e = event_new("ready", o);

	metrics_ready(o->d->metrics, o->ns->cfg->name, s);
	event_num(e, "ms", s * 1000);
	event_emit(o->d->events, e, LOG_INFO, "worker %d ready in %.1f ms",
	    (int)o->pid, s * 1000);
}

/* Why a worker is told to hibernate, for its event. */
static const char *
hibernate_reason(const struct object *o, enum obj_event ev, const char *why)
{
	if (ev == OEV_TIMEOUT)
		return ("idle");
	if (o->d->draining)
		return ("shutdown");
	return (why); /* OEV_HIBERNATE: its caller says why */
}

/* ---- capacity ---- */

/* A worker was reaped: the objects waiting for a slot take the free ones,
 * first come first served. */
static void
capacity_kick(struct durod *d)
{
	struct object *o, *next;

	for (o = TAILQ_FIRST(&d->waiting); o != NULL && d->nlive < d->max_live;
	     o = next) {
		next = TAILQ_NEXT(o, wait_entry);
		if (!o->held)
			object_step(o, OEV_SLOT, "a slot is free");
	}
}

/* ---- actions ---- */

static void
object_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct object *o = w->data;
	struct durod *d = o->d;
	struct exit_reason r;
	char why[160], call[48];
	int held;

	ev_child_stop(loop, w);
	exit_decode(w->rstatus, o->kill_cause, &r);
	if (r.kind == EXIT_SANDBOX &&
	    sb_audit_syscall(d->kmsg, o->pid, call, sizeof(call)) == 0)
		snprintf(r.text, sizeof(r.text),
		    "sandbox violation: forbidden system call %s (SIGSYS)",
		    call);
	event_exit(o, &r);
	o->pid = 0;
	o->kill_cause = KILL_NONE;
	d->nlive--;
	alarm_unwait(o);
	worker_ipc_close(o);
	if (o->delete_req != NULL)
		object_delete_finish(o);
	note_exit(o, &r);
	registry_note_exit(
	    d->reg, o->ns->cfg->name, o->id, o->life_served, exit_is_crash(&r));
	o->life_served = 0;
	if (r.kind == EXIT_KILLED && r.cause == KILL_START_TIMEOUT)
		snprintf(why, sizeof(why), "no ready within start_timeout_ms");
	else
		snprintf(why, sizeof(why), "the worker exited (%s)", r.text);
	held = o->held; /* then o is not freed */
	object_step(o, OEV_EXIT, why);
	if (held && o->held_cb != NULL)
		object_held_ready(o);
	capacity_kick(d);
}

static void
object_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct object *o = w->data;
	const struct ns_config *c = o->ns->cfg;
	char why[128];

	switch (o->state) {
	case OBJ_STARTING:
		snprintf(why, sizeof(why),
		    "no ready within start_timeout_ms (%u ms)",
		    c->start_timeout_ms);
		break;
	case OBJ_BUSY:
		snprintf(why, sizeof(why),
		    "the event ran past request_timeout_ms (%u ms)",
		    c->request_timeout_ms);
		break;
	default:
		snprintf(why, sizeof(why), "%s timer",
		    lifecycle_state_name(o->state));
		break;
	}
	object_step(o, OEV_TIMEOUT, why);
}

/* Returns 0, or -1 with why filled (then nothing is left running). */
static int
act_spawn(struct object *o, char *why, size_t whylen)
{
	struct durod *d = o->d;
	struct strv env = {0};
	struct spawn_plan plan;
	struct sb_plan sandbox;
	pid_t pid = 0;
	int rv, none;

	ns_renew(o);

	if (object_dir_make(o, why, whylen) != 0 ||
	    worker_ipc_open(o, why, whylen) != 0)
		return (-1);
	if (worker_env(o, &env) != 0) {
		snprintf(why, whylen, "spawn: out of memory");
		strv_free(&env);
		worker_ipc_close(o);
		return (-1);
	}
	if (ns_sandbox_plan(o, &sandbox, &none, why, whylen) != 0) {
		strv_free(&env);
		worker_ipc_close(o);
		return (-1);
	}
	plan.path = o->ns->exec_path;
	plan.argv = o->ns->cfg->exec;
	plan.envp = env.v;
	plan.parent = d->pid;
	plan.sandbox = none ? NULL : &sandbox;
	rv = spawn_start(&plan, &pid, why, whylen);
	if (!none)
		sb_plan_release(&sandbox);
	strv_free(&env);
	if (rv != 0 && pid == 0) {
		worker_ipc_close(o);
		return (-1);
	}
	o->pid = pid;
	o->spawned_at = ev_time();
	d->nlive++;
	ev_child_init(&o->child, object_child_cb, pid, 0);
	o->child.data = o;
	ev_child_start(d->loop, &o->child);
	if (rv != 0)
		return (1); /* it exists but exec failed: a start failure */
	arm_timer(o, o->ns->cfg->start_timeout_ms);
	if (registry_note_name(d->reg, o->ns->cfg->name, o->id, o->name) != 0)
		log_warn("object %s/%s: could not record it in the registry",
		    o->ns->cfg->name, o->idhex);
	metrics_spawn(d->metrics, o->ns->cfg->name);
	event_emit(d->events, event_new("spawn", o), LOG_INFO,
	    "spawned worker %d", (int)pid);
	return (0);
}

/* The event as a message: an HTTP request, or an alarm. */
static void
event_msg(const struct request *r, struct ipc_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->id = r->ipc_id;
	if (r->ws != NULL) {
		m->type = r->ws->kind == WS_EV_MESSAGE ? IPC_WS_MESSAGE
		                                       : IPC_WS_CLOSE;
		m->conn = r->ws->conn;
		m->binary = r->ws->binary;
		m->body = r->ws->data;
		m->body_len = r->ws->len;
		m->close_code = r->ws->code;
		m->reason = r->ws->reason;
		m->clean = r->ws->clean;
		return;
	}
	if (r->fire != NULL) {
		m->type = IPC_ALARM;
		m->name = r->fire->name;
		m->scheduled = r->fire->scheduled_ms;
		m->retry = (int)r->fire->retry;
		m->final = r->fire->final;
		return;
	}
	m->type = IPC_REQUEST;
	m->method = r->http->method;
	m->path = r->path;
	m->query = r->query;
	m->headers = r->http->headers;
	m->nheaders = r->http->nheaders;
	m->body = r->http->body;
	m->body_len = r->http->body_len;
	m->websocket = r->ws_conn != 0;
	m->ws_conn = r->ws_conn;
}

static int
act_deliver(struct object *o, char *why, size_t whylen)
{
	struct request *r = TAILQ_FIRST(&o->queue);
	struct ipc_msg m;
	int rv;

	TAILQ_REMOVE(&o->queue, r, entry);
	o->nqueued--;
	o->inflight = r;
	r->ipc_id = ++o->d->next_ipc_id;
	event_msg(r, &m);
	if ((rv = worker_ipc_send(o, &m)) != 0) {
		snprintf(why, whylen, "sending the event failed: %s",
		    nng_strerror(rv));
		return (-1);
	}
	arm_timer(o, o->ns->cfg->request_timeout_ms);
	return (0);
}

static int
act_hibernate(struct object *o, const char *reason, char *why, size_t whylen)
{
	struct event *e = event_new("hibernate", o);
	struct ipc_msg m;
	int rv;

	metrics_hibernation(o->d->metrics, o->ns->cfg->name);
	event_str(e, "why", reason);
	event_emit(o->d->events, e, LOG_INFO, "hibernating worker %d (%s)",
	    (int)o->pid, reason);
	memset(&m, 0, sizeof(m));
	m.type = IPC_HIBERNATE;
	arm_timer(o, o->ns->cfg->hibernate_grace_ms);
	if ((rv = worker_ipc_send(o, &m)) != 0) {
		snprintf(why, whylen, "sending hibernate failed: %s",
		    nng_strerror(rv));
		return (-1);
	}
	return (0);
}

void
object_kill(struct object *o, enum kill_cause cause)
{
	if (o->pid <= 0)
		return;
	if (o->kill_cause == KILL_NONE)
		o->kill_cause = cause;
	alarm_unwait(o);
	worker_ipc_stop_reading(o);
	kill(o->pid, SIGKILL);
}

static void
act_fail_queue(struct object *o, const char *why)
{
	struct request *r;

	while ((r = TAILQ_FIRST(&o->queue)) != NULL) {
		TAILQ_REMOVE(&o->queue, r, entry);
		o->nqueued--;
		if (o->state == OBJ_BACKOFF)
			request_error_retry(r, 503, backoff_left_s(o),
			    "backoff",
			    "the object's worker crashed too often; it "
			    "restarts "
			    "in %u s",
			    backoff_left_s(o));
		else if (o->d->draining_hard)
			request_error_retry(r, 503, 1, "shutting_down",
			    "durod is shutting down");
		else
			request_error(r, 500, "start_failed",
			    "the object's worker did not start: %s", why);
	}
}

/*
 * One step of the state machine. The follow-up event, when an action
 * itself fails (a spawn, a send), is fed back in at the end, when nothing
 * of this step touches the object any more.
 */
void
object_step(struct object *o, enum obj_event ev, const char *why)
{
	struct durod *d = o->d;
	struct lc_in in = {o->nqueued > 0, d->draining || ns_removed(o),
	    d->draining_hard, ev == OEV_EXIT && o->backoff_until > now_ms(),
	    d->nlive >= d->max_live, o->recycle, o->held};
	enum obj_state prev = o->state;
	struct lc_out out = lifecycle_next(prev, ev, &in);
	enum obj_event follow = OEV_NEVENTS;
	char err[256];

	set_state(o, out.next);
	if (out.actions & ACT_KILL)
		object_kill(o, kill_cause_for(prev, ev));
	if ((out.actions & ACT_FAIL_INFLIGHT) && o->inflight != NULL) {
		request_error(o->inflight, 500, "object_reset",
		    "%s; the object was reset", why);
		o->inflight = NULL;
	}
	if (out.actions & ACT_FAIL_QUEUE)
		act_fail_queue(o, why);
	if ((out.actions & ACT_HIBERNATE) &&
	    act_hibernate(o, hibernate_reason(o, ev, why), err, sizeof(err)) !=
	        0)
		follow = OEV_VIOLATION;
	if (out.actions & ACT_SPAWN) {
		int rv = act_spawn(o, err, sizeof(err));
		if (rv != 0) {
			struct event *e = event_new("start_failed", o);
			metrics_exit(
			    d->metrics, o->ns->cfg->name, "start_failed");
			event_emit(d->events, e, LOG_WARN, "%s", err);
			follow = rv < 0 ? OEV_EXIT : OEV_VIOLATION;
		}
	}
	if ((out.actions & ACT_DELIVER) &&
	    act_deliver(o, err, sizeof(err)) != 0)
		follow = OEV_VIOLATION;
	if (out.actions & ACT_ARM_IDLE)
		arm_timer(o, o->ns->cfg->idle_timeout_ms);
	if (out.actions & ACT_ARM_BACKOFF)
		arm_timer(o, backoff_left_ms(o));
	/* An object held by an admin operation stays in the table. */
	if ((out.actions & ACT_FREE) && !o->held) {
		object_free(o);
		durod_check_drained(d);
		return;
	}
	if (follow != OEV_NEVENTS)
		object_step(o, follow, err);
}

/* ---- entry points ---- */

struct object *
object_make(struct durod *d, const struct namespace *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name)
{
	struct object *o = object_new(d, ns, id, name);

	if (o != NULL) {
		ev_init(&o->timer, object_timer_cb);
		o->timer.data = o;
	}
	return (o);
}

/* At max_active_objects: ask the least recently used idle worker to go. */
static int
make_room(struct durod *d)
{
	struct object *lru;

	if (d->nlive < d->max_live)
		return (0);
	if ((lru = TAILQ_FIRST(&d->idle)) == NULL)
		return (-1);
	object_step(lru, OEV_HIBERNATE, "capacity");
	return (0);
}

void
object_dispatch(struct durod *d, const struct namespace *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name, struct request *r)
{
	struct object *o = object_byid(d, ns, id);

	/* An activation at the cap: ask an idle worker to make room (the
	 * object then waits for the slot, lifecycle.c), or refuse. */
	if (o == NULL || o->state == OBJ_HIBERNATED) {
		if (make_room(d) != 0) {
			request_error_retry(r, 503, 1, "at_capacity",
			    "all %zu live workers are busy "
			    "(max_active_objects)",
			    d->max_live);
			return;
		}
	}
	if (o == NULL) {
		if ((o = object_make(d, ns, id, name)) == NULL) {
			request_error_retry(r, 503, 1, "out_of_memory",
			    "durod is out of memory");
			return;
		}
	}
	if (o->state == OBJ_BACKOFF) {
		request_error_retry(r, 503, backoff_left_s(o), "backoff",
		    "the object's worker crashed too often; it restarts in %u "
		    "s",
		    backoff_left_s(o));
		return;
	}
	if (o->nqueued >= ns->cfg->max_queue) {
		request_error_retry(r, 429, 1, "queue_full",
		    "the object has %zu events queued (max_queue)", o->nqueued);
		return;
	}
	TAILQ_INSERT_TAIL(&o->queue, r, entry);
	o->nqueued++;
	object_step(o, OEV_EVENT, "event");
}

void
object_hibernate(struct object *o)
{
	object_step(o, OEV_HIBERNATE, "hibernate");
}

void
object_kill_hard(struct object *o)
{
	object_kill(o, KILL_SHUTDOWN);
}

void
object_on_violation(struct object *o, const char *why)
{
	char msg[256];

	log_warn("object %s/%s: worker %d broke the protocol: %s; killing it",
	    o->ns->cfg->name, o->idhex, (int)o->pid, why);
	snprintf(msg, sizeof(msg), "the worker broke the protocol (%s)", why);
	object_step(o, OEV_VIOLATION, msg);
}

static void
on_reply(struct object *o, const struct ipc_msg *m)
{
	struct request *r = o->inflight;

	o->inflight = NULL;
	o->events_served++;
	o->life_served++;
	note_alive(o, 0);
	if (r->fire != NULL)
		alarm_event_done(o, r, m);
	else if (r->ws != NULL)
		ws_event_done(o, r, m);
	else if (m->type == IPC_RESPONSE && m->status == 101) {
		alarm_apply(o, m);
		ws_accept(o, r, m);
	} else if (m->type == IPC_RESPONSE) {
		alarm_apply(o, m);
		request_respond(r, m->status, m->headers, m->nheaders, m->body,
		    m->body_len);
	} else if (strcmp(m->code, "storage_full") == 0)
		request_error(r, 507, "storage_full", "%s",
		    m->message[0] ? m->message
		                  : "the object's storage is full");
	else
		request_error(r, 500, "worker_error", "%s%s%s", m->code,
		    m->message[0] ? ": " : "", m->message);
	object_step(o, OEV_REPLY, "reply");
}

void
object_on_message(struct object *o, const struct ipc_msg *m)
{
	char why[128];

	/* A worker on its way out may still talk; nobody is listening. */
	if (o->state == OBJ_STOPPING)
		return;
	switch (m->type) {
	case IPC_READY:
		if (o->state != OBJ_STARTING)
			return (object_on_violation(o, "ready sent twice"));
		if (m->protocol != IPC_PROTOCOL_VERSION) {
			snprintf(why, sizeof(why),
			    "ready: unsupported protocol %d", m->protocol);
			return (object_on_violation(o, why));
		}
		worker_ipc_connected(o);
		note_alive(o, 1);
		event_ready(o);
		return (object_step(o, OEV_READY, "ready"));
	case IPC_RESPONSE:
	case IPC_DONE:
	case IPC_ERROR:
		if (m->type == IPC_ERROR && m->id == 0) {
			log_warn("object %s/%s: worker reports: %s: %s",
			    o->ns->cfg->name, o->idhex, m->code, m->message);
			return;
		}
		if (o->inflight == NULL || m->id != o->inflight->ipc_id) {
			snprintf(why, sizeof(why),
			    "%s for id %llu, which is not in flight",
			    ipc_type_name(m->type), (unsigned long long)m->id);
			return (object_on_violation(o, why));
		}
		if (m->type != IPC_ERROR &&
		    (m->type == IPC_DONE) != (o->inflight->fire != NULL ||
		                                 o->inflight->ws != NULL)) {
			snprintf(why, sizeof(why), "%s to %s",
			    ipc_type_name(m->type),
			    o->inflight->http == NULL ? "an event"
			                              : "a request");
			return (object_on_violation(o, why));
		}
		if (m->type == IPC_RESPONSE && m->status == 101 &&
		    o->inflight->ws_conn == 0)
			return (
			    object_on_violation(o, "101 to a request that is "
			                           "not a WebSocket upgrade"));
		if (o->sync_waiting != 0)
			return (
			    object_on_violation(o, "reply before alarm_ack"));
		return (on_reply(o, m));
	case IPC_WS_SEND:
	case IPC_WS_BROADCAST:
	case IPC_WS_CLOSE:
	case IPC_WS_ATTACH:
	case IPC_WS_AUTO:
	case IPC_WS_LIST:
	case IPC_WS_GET:
		if (o->inflight == NULL) {
			snprintf(why, sizeof(why), "%s with no event in flight",
			    ipc_type_name(m->type));
			return (object_on_violation(o, why));
		}
		if (m->type == IPC_WS_CLOSE && m->id != 0)
			return (object_on_violation(
			    o, "ws_close with an id (the event's form)"));
		if (ws_on_action(o, m) != 0)
			log_warn("object %s/%s: %s failed (out of memory?)",
			    o->ns->cfg->name, o->idhex, ipc_type_name(m->type));
		return;
	case IPC_ALARM_SYNC:
		if (o->inflight == NULL)
			return (object_on_violation(
			    o, "alarm_sync with no event in flight"));
		if (o->sync_waiting != 0)
			return (object_on_violation(
			    o, "alarm_sync before the last one's ack"));
		return (alarm_on_sync(o, m));
	default:
		snprintf(why, sizeof(why), "unexpected message type \"%s\"",
		    m->type_name);
		return (object_on_violation(o, why));
	}
}
