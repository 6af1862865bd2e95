/*
 * alarm.c — alarms: wake objects when their alarms are due, deliver them
 * in turn with requests, retry the ones that fail, and keep the durable
 * index in step with what workers commit (ipc/PROTOCOL.md section 14).
 *
 * Three pieces: the index in registry.sqlite (alarm_index.c) is the
 * durable list of wake-ups; the schedule (alarm_sched.c) holds the window
 * of it that is due soon, in a heap; one ev_periodic, armed for the
 * earliest due time, pops due alarms and queues them on their objects as
 * events. Every change goes to the index first and is mirrored into the
 * schedule when its due time falls inside the window.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durod.h"

#define WINDOW_RELOAD_AHEAD_MS 1000 /* load the next window this early */
#define INFLIGHT_MAX 256            /* alarm events queued or running */

struct alarms {
	struct durod *d;
	struct alarm_index *index;
	struct alarm_sched *sched;
	/* Alarms delivered and not yet answered. They are not in sched, and
	 * nothing puts them back until their event ends, so one occurrence
	 * is never queued twice. */
	struct alarm_sched *flying;
	ev_periodic timer;
	uint64_t armed_at; /* UINT64_MAX when the timer is stopped */
	size_t inflight;
	size_t max_inflight;
	size_t window_rows;         /* index rows loaded at a time, at most */
	uint64_t window_ms;         /* ... and due within this much */
	int stopped;                /* draining: deliver nothing more */
	struct object_list waiting; /* objects waiting for an alarm_ack */
	uint64_t delivered, retried, given_up;
};

static uint64_t
wall_ms(void)
{
	return ((uint64_t)(ev_time() * 1000.0));
}

static const char *
display_name(const char *name)
{
	return (name[0] == '\0' ? "(default)" : name);
}

/* ---- the index and its in-memory window, kept in step ---- */

static void
mirror_put(struct alarms *a, const char *ns, const uint8_t *id,
    const char *name, const struct alarm_row *row)
{
	if (alarm_sched_find(a->flying, ns, id, name) != NULL)
		return; /* mirrored when its event ends (fire_landed) */
	if (!alarm_sched_covers(a->sched, row->due_ms)) {
		alarm_sched_del(a->sched, ns, id, name);
		return;
	}
	if (alarm_sched_put(a->sched, ns, id, name, row->due_ms,
	        row->scheduled_ms, row->every_ms, row->retry) != 0)
		/* The index has it; the window does not. Reloading from
		 * the index later would find it, so make that happen. */
		alarm_sched_set_loaded_until(a->sched, row->due_ms);
}

static int
index_put(struct alarms *a, const struct namespace *ns, const uint8_t *id,
    const char *name, const struct alarm_row *row)
{
	if (alarm_index_put(a->index, ns->cfg->name, id, name, row) != 0)
		return (-1);
	mirror_put(a, ns->cfg->name, id, name, row);
	return (0);
}

static int
index_del(struct alarms *a, const struct namespace *ns, const uint8_t *id,
    const char *name)
{
	alarm_sched_del(a->sched, ns->cfg->name, id, name);
	return (alarm_index_del(a->index, ns->cfg->name, id, name));
}

/*
 * The occurrence just delivered (or given up) is over: a one-shot alarm
 * goes, a repeating one moves to its next period. Only if the index still
 * holds that occurrence: the worker may have set the alarm anew meanwhile.
 * The next period is counted from when the event was queued, which is
 * before the worker looked at its clock: so durod's next time is never
 * later than the worker's, only (across a period boundary) earlier, and
 * an early wake-up is harmless.
 */
static void
index_retire(struct alarms *a, const struct alarm_fire *f)
{
	struct alarm_row row;

	if (alarm_index_get(a->index, f->ns->cfg->name, f->id, f->name, &row) !=
	        1 ||
	    row.scheduled_ms != f->scheduled_ms)
		return;
	if (row.every_ms == 0) {
		index_del(a, f->ns, f->id, f->name);
		return;
	}
	row.scheduled_ms = row.due_ms =
	    ipc_alarm_next(row.scheduled_ms, row.every_ms, f->queued_ms);
	row.retry = 0;
	index_put(a, f->ns, f->id, f->name, &row);
}

/* ---- the timer ---- */

static void alarm_timer_cb(struct ev_loop *, ev_periodic *, int);

/*
 * When the next window should be loaded, or UINT64_MAX for not yet: a
 * window is loaded a little before the current one ends, unless the
 * schedule is already full (a backlog of due alarms waiting for delivery
 * slots): the rest stays in the index meanwhile, so memory stays bounded.
 */
static uint64_t
reload_at(const struct alarms *a)
{
	uint64_t lu = alarm_sched_loaded_until(a->sched);

	if (lu == UINT64_MAX || alarm_sched_count(a->sched) >= a->window_rows)
		return (UINT64_MAX);
	return (lu > WINDOW_RELOAD_AHEAD_MS ? lu - WINDOW_RELOAD_AHEAD_MS : 0);
}

/* Arm the timer for the earliest of: the next due alarm (if a delivery
 * slot is free) and the time to load the next window. */
static void
alarm_arm(struct alarms *a)
{
	uint64_t next = UINT64_MAX, reload = reload_at(a);

	if (a->stopped)
		return;
	if (a->inflight < a->max_inflight)
		next = alarm_sched_next_due(a->sched);
	if (reload < next)
		next = reload;
	if (next == a->armed_at && ev_is_active(&a->timer))
		return;
	ev_periodic_stop(a->d->loop, &a->timer);
	a->armed_at = next;
	if (next == UINT64_MAX)
		return;
	ev_periodic_set(&a->timer, (double)next / 1000.0, 0., 0);
	ev_periodic_start(a->d->loop, &a->timer);
}

struct window_load {
	struct alarms *a;
	uint64_t *dues;
	size_t n, cap, keep; /* keep: rows to put, set before the second pass */
	int pass;
};

static void
window_row(void *arg, const char *nsname, const uint8_t *id, const char *name,
    const struct alarm_row *row)
{
	struct window_load *w = arg;
	const struct namespace *ns;

	if (w->pass == 0) {
		if (w->n < w->cap)
			w->dues[w->n++] = row->due_ms;
		return;
	}
	if (w->n++ >= w->keep)
		return;
	/* Rows of a namespace no longer configured stay in the index
	 * for the day it comes back. */
	if ((ns = durod_ns_byname(w->a->d, nsname, strlen(nsname))) == NULL ||
	    alarm_sched_find(w->a->flying, ns->cfg->name, id, name) != NULL)
		return;
	if (alarm_sched_put(w->a->sched, ns->cfg->name, id, name, row->due_ms,
	        row->scheduled_ms, row->every_ms, row->retry) != 0)
		log_error("alarms: out of memory loading the index");
}

/*
 * Load the index rows from the end of the current window on: at most
 * window_rows, due within window_ms. Two passes over the same
 * range (due times first, then the rows to keep) keep the window's edge
 * rule in one pure function, alarm_window_end().
 */
static void
alarm_load_window(struct alarms *a, uint64_t now)
{
	struct window_load w = {.a = a, .cap = a->window_rows};
	uint64_t from = alarm_sched_loaded_until(a->sched), end, all_at = 0;
	uint64_t horizon = now + a->window_ms;
	int all_set = 0;
	long n;

	if (horizon <= from)
		horizon = from + 1;
	if ((w.dues = malloc(w.cap * sizeof(*w.dues))) == NULL) {
		log_error("alarms: out of memory loading the index");
		return;
	}
	if ((n = alarm_index_scan(
	         a->index, from, horizon, w.cap, window_row, &w)) < 0)
		goto out;
	end = alarm_window_end(
	    w.dues, w.n, w.cap, horizon, &w.keep, &all_set, &all_at);
	w.pass = 1;
	w.n = 0;
	if (all_set) {
		/* Every fetched row shares one due time: take all of them. */
		w.keep = SIZE_MAX;
		if (alarm_index_scan(
		        a->index, all_at, all_at + 1, 0, window_row, &w) < 0)
			goto out;
		end = all_at + 1;
	} else if (w.keep > 0 && alarm_index_scan(a->index, from, horizon,
	                             w.keep, window_row, &w) < 0)
		goto out;
	alarm_sched_set_loaded_until(a->sched, end);
	if (w.n > 0)
		log_info("alarms: %zu index row(s) loaded, the window now ends "
		         "%lld ms from now",
		    w.n, (long long)(end - now));
out:
	free(w.dues);
}

/* The object's name, for DURO_OBJECT_NAME when the alarm activates it. */
static char *
object_name_of(struct alarms *a, const struct namespace *ns, const uint8_t *id)
{
	if (object_byid(a->d, ns, id) != NULL)
		return (NULL); /* it has one already, or none */
	return (registry_name_byid(a->d->reg, ns->cfg->name, id));
}

/* Queue one due alarm on its object, as an event. */
static void
alarm_deliver(struct alarms *a, const struct alarm_entry *e)
{
	const struct namespace *ns =
	    durod_ns_byname(a->d, e->ns, strlen(e->ns));
	struct alarm_fire *f = NULL;
	struct request *r = NULL;
	char *oname;

	if (ns == NULL)
		return;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (f = calloc(1, sizeof(*f))) == NULL ||
	    (f->name = strdup(e->name)) == NULL) {
		/* Still in the index: the next window load finds it. */
		log_error("alarms: out of memory delivering an alarm");
		free(f);
		free(r);
		return;
	}
	f->d = a->d;
	f->ns = ns;
	nsgen_ref(ns->gen); /* a reload may replace ns meanwhile */
	memcpy(f->id, e->id, DURO_ID_BYTES);
	f->scheduled_ms = e->scheduled_ms;
	f->every_ms = e->every_ms;
	f->due_ms = e->due_ms;
	f->retry = e->retry;
	f->final = e->retry >= ns->cfg->alarm_max_retries;
	f->queued_ms = wall_ms();
	if (alarm_sched_put(a->flying, ns->cfg->name, e->id, e->name, e->due_ms,
	        e->scheduled_ms, e->every_ms, e->retry) != 0)
		log_error("alarms: out of memory: alarm \"%s\" may run twice",
		    display_name(e->name));
	r->fire = f;
	r->received = ev_now(a->d->loop);
	r->path = "";
	r->query = "";
	a->inflight++;
	a->delivered++;
	metrics_alarm(a->d->metrics, ns->cfg->name, METRICS_ALARM_FIRED);
	oname = object_name_of(a, ns, e->id);
	object_dispatch(a->d, ns, e->id, oname, r);
	free(oname);
}

static void
alarm_timer_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct alarms *a = w->data;
	struct alarm_entry *e;
	uint64_t now = wall_ms();

	a->armed_at = UINT64_MAX;
	if (a->stopped)
		return;
	if (reload_at(a) <= now)
		alarm_load_window(a, now);
	while (a->inflight < a->max_inflight &&
	       (e = alarm_sched_pop(a->sched, now)) != NULL) {
		alarm_deliver(a, e);
		alarm_entry_free(e);
	}
	alarm_arm(a);
}

/* ---- start and stop ---- */

void
alarms_configure(struct durod *d)
{
	struct alarms *a = d->alarms;

	a->window_rows = d->cfg->alarm_window_rows;
	a->window_ms = d->cfg->alarm_window_ms;
	a->max_inflight = d->max_live / 2 > INFLIGHT_MAX ? INFLIGHT_MAX
	                  : d->max_live / 2 > 0          ? d->max_live / 2
	                                                 : 1;
}

int
alarms_open(struct durod *d, char *err, size_t errlen)
{
	struct alarms *a;
	long n;

	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->sched = alarm_sched_new()) == NULL ||
	    (a->flying = alarm_sched_new()) == NULL) {
		if (a != NULL)
			alarm_sched_free(a->sched);
		free(a);
		snprintf(err, errlen, "alarms: out of memory");
		return (-1);
	}
	if ((a->index = alarm_index_open(d->reg, err, errlen)) == NULL) {
		alarm_sched_free(a->sched);
		alarm_sched_free(a->flying);
		free(a);
		return (-1);
	}
	a->d = d;
	a->armed_at = UINT64_MAX;
	d->alarms = a;
	alarms_configure(d);
	TAILQ_INIT(&a->waiting);
	ev_init(&a->timer, alarm_timer_cb);
	a->timer.data = a;
	d->alarms = a;
	alarm_load_window(a, wall_ms());
	n = alarm_index_count(a->index);
	log_info("alarms: %ld in the index, %zu due within the first window", n,
	    alarm_sched_count(a->sched));
	alarm_arm(a);
	return (0);
}

void
alarms_stop(struct durod *d)
{
	struct alarms *a = d->alarms;

	if (a == NULL)
		return;
	a->stopped = 1;
	ev_periodic_stop(d->loop, &a->timer);
}

void
alarms_close(struct durod *d)
{
	struct alarms *a = d->alarms;

	if (a == NULL)
		return;
	ev_periodic_stop(d->loop, &a->timer);
	alarm_index_close(a->index);
	alarm_sched_free(a->sched);
	alarm_sched_free(a->flying);
	free(a);
	d->alarms = NULL;
}

/* ---- what workers tell durod ---- */

/* Whether the event in flight is the delivery of this alarm. */
static int
delivering(const struct object *o, const char *name)
{
	return (o->inflight != NULL && o->inflight->fire != NULL &&
	        strcmp(o->inflight->fire->name, name) == 0);
}

void
alarm_on_sync(struct object *o, const struct ipc_msg *m)
{
	struct alarms *a = o->d->alarms;
	const char *ns = o->ns->cfg->name;
	struct alarm_row row;
	int rv = 0, have;

	for (size_t i = 0; i < m->nalarms; i++) {
		const struct ipc_alarm *al = &m->alarms[i];
		have = alarm_index_get(a->index, ns, o->id, al->name, &row);
		if (have < 0) {
			rv = -1;
			continue;
		}
		if (delivering(o, al->name)) {
			/*
			 * The alarm being delivered, set anew: the row must
			 * stop describing the occurrence in flight, or a
			 * crash after the commit would retry or give up (and
			 * delete) an occurrence the worker has replaced. The
			 * wake-up stays no later than either.
			 */
			row.due_ms = have == 1 && row.due_ms < al->at
			                 ? row.due_ms
			                 : al->at;
			row.scheduled_ms = al->at;
			row.every_ms = al->every;
			row.retry = 0;
			rv |= index_put(a, o->ns, o->id, al->name, &row);
			continue;
		}
		/* Only ever earlier: the old time may still be the truth
		 * if the worker's commit fails after this. */
		if (have == 1 && row.due_ms <= al->at)
			continue;
		row.due_ms = row.scheduled_ms = al->at;
		row.every_ms = al->every;
		row.retry = 0;
		rv |= index_put(a, o->ns, o->id, al->name, &row);
	}
	/* Acknowledged after the registry's next flush (alarm_flushed). */
	o->sync_waiting = rv == 0 ? 1 : -1;
	TAILQ_INSERT_TAIL(&a->waiting, o, sync_entry);
	alarm_arm(a);
}

void
alarm_unwait(struct object *o)
{
	struct alarms *a = o->d->alarms;

	if (o->sync_waiting == 0 || a == NULL)
		return;
	TAILQ_REMOVE(&a->waiting, o, sync_entry);
	o->sync_waiting = 0;
	o->sync_gen = 0;
}

/* Answer an alarm_sync and forget it. */
static void
alarm_ack(struct object *o, int ok)
{
	struct ipc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = IPC_ALARM_ACK;
	m.ok = ok;
	m.message = ok ? "" : "durod could not store the alarm index";
	alarm_unwait(o);
	if (!ok)
		log_error(
		    "object %s/%s: alarm_sync refused: the index could not "
		    "be written or synced",
		    o->ns->cfg->name, o->idhex);
	(void)worker_ipc_send(o, &m);
}

void
alarm_flushed(struct durod *d, int ok)
{
	struct alarms *a = d->alarms;
	struct object *o, *next;
	uint64_t gen = 0;

	if (a == NULL)
		return;
	for (o = TAILQ_FIRST(&a->waiting); o != NULL; o = next) {
		next = TAILQ_NEXT(o, sync_entry);
		if (o->sync_gen != 0)
			continue; /* committed earlier, waiting for its sync */
		if (!ok || o->sync_waiting != 1) {
			alarm_ack(o, 0);
			continue;
		}
		if (gen == 0)
			gen = regsync_request(d->regsync);
		o->sync_gen = gen;
	}
}

void
alarm_synced(struct durod *d)
{
	struct alarms *a = d->alarms;
	struct object *o, *next;
	uint64_t done;
	int failed;

	if (a == NULL)
		return;
	done = regsync_done(d->regsync, &failed);
	for (o = TAILQ_FIRST(&a->waiting); o != NULL; o = next) {
		next = TAILQ_NEXT(o, sync_entry);
		if (o->sync_gen != 0 && o->sync_gen <= done)
			alarm_ack(o, !failed);
	}
}

void
alarm_apply(struct object *o, const struct ipc_msg *m)
{
	struct alarms *a = o->d->alarms;
	struct alarm_row row;

	for (size_t i = 0; i < m->nalarms; i++) {
		const struct ipc_alarm *al = &m->alarms[i];
		if (al->deleted) {
			index_del(a, o->ns, o->id, al->name);
			continue;
		}
		row.due_ms = row.scheduled_ms = al->at;
		row.every_ms = al->every;
		row.retry = 0;
		index_put(a, o->ns, o->id, al->name, &row);
	}
	if (m->nalarms > 0)
		alarm_arm(a);
}

/* ---- the end of an alarm event ---- */

/*
 * An alarm event ended: the alarm is no longer in flight, and whatever
 * its index row says now (retried, moved, or set anew while it ran)
 * joins the schedule.
 */
static void
fire_free(struct alarms *a, struct request *r)
{
	const struct alarm_fire *f = r->fire;
	struct alarm_row row;

	alarm_sched_del(a->flying, f->ns->cfg->name, f->id, f->name);
	if (alarm_index_get(a->index, f->ns->cfg->name, f->id, f->name, &row) ==
	    1)
		mirror_put(a, f->ns->cfg->name, f->id, f->name, &row);
	nsgen_unref(f->ns->gen);
	free(r->fire->name);
	free(r->fire);
	free(r);
	a->inflight--;
	alarm_arm(a);
}

/* An "alarm" event about fire f: result "done", "retry" or "given_up". */
static struct event *
alarm_event(const struct alarm_fire *f, const char *idhex, const char *result,
    const char *why)
{
	struct event *e = event_new("alarm", NULL);

	event_object(e, f->ns->cfg->name, idhex);
	event_str(e, "alarm", f->name);
	event_str(e, "result", result);
	event_num(e, "retry", f->retry);
	event_str(e, "error", why);
	return (e);
}

/* A failed attempt: retry with backoff, or give up. */
static void
alarm_failed(struct alarms *a, const struct alarm_fire *f, int unsupported,
    const char *why)
{
	const struct ns_config *c = f->ns->cfg;
	struct alarm_row row;
	char idhex[DURO_ID_HEX + 1];
	struct event *e;
	uint32_t jitter;
	uint64_t delay;

	objid_to_hex(f->id, idhex);
	if (alarm_index_get(a->index, c->name, f->id, f->name, &row) != 1 ||
	    row.scheduled_ms != f->scheduled_ms)
		return; /* set anew or deleted meanwhile: nothing to retry */
	if (unsupported || f->retry >= c->alarm_max_retries) {
		a->given_up++;
		metrics_alarm(a->d->metrics, c->name, METRICS_ALARM_GIVEN_UP);
		e = alarm_event(f, idhex, "given_up", why);
		event_emit(a->d->events, e, LOG_WARN,
		    "alarm \"%s\" given up after %u retries: %s",
		    display_name(f->name), f->retry, why);
		index_retire(a, f);
		return;
	}
	if (RAND_bytes((unsigned char *)&jitter, sizeof(jitter)) != 1)
		jitter = 0;
	row.retry = f->retry + 1;
	delay = alarm_retry_delay_ms(
	    c->alarm_retry_base_ms, row.retry, (double)jitter / 4294967296.0);
	row.due_ms = wall_ms() + delay;
	a->retried++;
	metrics_alarm(a->d->metrics, c->name, METRICS_ALARM_RETRIED);
	e = alarm_event(f, idhex, "retry", why);
	event_num(e, "next_retry", row.retry);
	event_num(e, "ms", (double)delay);
	event_emit(a->d->events, e, LOG_WARN,
	    "alarm \"%s\" failed (%s); retry %u in %llu ms",
	    display_name(f->name), why, row.retry, (unsigned long long)delay);
	index_put(a, f->ns, f->id, f->name, &row);
}

void
alarm_event_failed(
    struct request *r, int status, const char *code, const char *msg)
{
	struct alarms *a = r->fire->d->alarms;
	char why[600];

	snprintf(why, sizeof(why), "%d %s: %s", status, code, msg);
	alarm_failed(a, r->fire, 0, why);
	fire_free(a, r);
}

void
alarm_event_done(struct object *o, struct request *r, const struct ipc_msg *m)
{
	struct alarms *a = o->d->alarms;
	const struct alarm_fire *f = r->fire;
	struct event *e;
	char why[600];

	if (m->type == IPC_ERROR) {
		snprintf(why, sizeof(why), "%s%s%s", m->code,
		    m->message[0] != '\0' ? ": " : "", m->message);
		alarm_failed(a, f, strcmp(m->code, "unsupported") == 0, why);
	} else {
		index_retire(a, f);
		alarm_apply(o, m);
		e = alarm_event(f, o->idhex, "done", NULL);
		event_num(e, "late_ms", (double)(wall_ms() - f->scheduled_ms));
		event_emit(a->d->events, e, LOG_INFO,
		    "alarm \"%s\" done, %lld ms after its time (retry %u)",
		    display_name(f->name),
		    (long long)(wall_ms() - f->scheduled_ms), f->retry);
	}
	fire_free(a, r);
}

void
alarm_stats(const struct durod *d, struct alarm_stats *st)
{
	const struct alarms *a = d->alarms;

	memset(st, 0, sizeof(*st));
	if (a == NULL)
		return;
	st->window = alarm_sched_count(a->sched);
	st->in_flight = a->inflight;
	st->delivered = a->delivered;
	st->retried = a->retried;
	st->given_up = a->given_up;
}

int
alarm_next_due(struct durod *d, const struct namespace *ns,
    const uint8_t id[DURO_ID_BYTES], uint64_t *due_ms)
{
	return (alarm_index_next(d->alarms->index, ns->cfg->name, id, due_ms));
}

int
alarm_import(struct durod *d, const struct namespace *ns,
    const uint8_t id[DURO_ID_BYTES], const struct dbjob_alarm *al, size_t n)
{
	struct alarm_row row;
	int rv = 0;

	alarm_forget_object(d, ns, id);
	for (size_t i = 0; i < n; i++) {
		row.due_ms = row.scheduled_ms = (uint64_t)al[i].at_ms;
		row.every_ms = (uint64_t)al[i].every_ms;
		row.retry = 0;
		rv |= index_put(d->alarms, ns, id, al[i].name, &row);
	}
	return (rv);
}

void
alarm_forget_object(struct durod *d, const struct namespace *ns,
    const uint8_t id[DURO_ID_BYTES])
{
	struct alarms *a = d->alarms;

	alarm_sched_del_object(a->sched, ns->cfg->name, id);
	alarm_sched_del_object(a->flying, ns->cfg->name, id);
	if (alarm_index_del_object(a->index, ns->cfg->name, id) != 0)
		log_warn(
		    "alarms: the deleted object's alarms stay in the index");
}
