/*
 * object_ops.c — what is done to an object from outside its lifecycle:
 * delete it (and all its storage), hold it for an import, restart its
 * worker, move it to a reloaded config. Each goes through the lifecycle
 * (object_run.c) rather than around it: a worker is only ever stopped by
 * an event of the state machine, and storage is touched only once no
 * worker is left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durod.h"

/* ---- deleting an object ---- */

/* With no worker left: remove the storage, then answer the delete. */
void
object_delete_finish(struct object *o)
{
	static const struct ipc_header json = {
	    "Content-Type", "application/json"};
	struct request *r = o->delete_req;
	char err[256], body[DURO_ID_HEX + 32];
	int existed = object_dir_exists(o), n;

	o->delete_req = NULL;
	if (object_dir_remove(o, err, sizeof(err)) != 0) {
		log_error("object %s/%s: delete: %s", o->ns->cfg->name,
		    o->idhex, err);
		request_error(r, 500, "internal", "%s", err);
		return;
	}
	if (registry_forget(o->d->reg, o->ns->cfg->name, o->id) != 0)
		log_warn("object %s/%s: delete: registry entry not removed",
		    o->ns->cfg->name, o->idhex);
	alarm_forget_object(o->d, o->ns, o->id);
	ws_object_gone(o->d, o->ns->cfg->name, o->id);
	/* Durable before the answer: a durod restarted after a crash must
	 * not wake (and so recreate) an object whose delete was answered. */
	durod_flush(o->d);
	if (regsync_now(o->d->regsync) != 0)
		log_error(
		    "object %s/%s: delete: the registry could not be synced",
		    o->ns->cfg->name, o->idhex);
	if (!existed) {
		request_error(r, 404, "not_found", "object has no storage");
		return;
	}
	event_emit(o->d->events, event_new("delete", o), LOG_INFO, "deleted");
	n = snprintf(body, sizeof(body), "{\"deleted\":\"%s\"}", o->idhex);
	request_respond(r, 200, &json, 1, (const uint8_t *)body, (size_t)n);
}

/* ---- admin holds and restarts ---- */

/* The held object has no worker now: the holder may go on. */
void
object_held_ready(struct object *o)
{
	void (*cb)(struct object *, void *) = o->held_cb;

	o->held_cb = NULL;
	cb(o, o->held_arg);
}

/* Ask its worker to stop: at once when idle, else after its turn. */
static void
worker_wind_down(struct object *o, const char *why)
{
	if (o->state == OBJ_IDLE)
		object_step(o, OEV_HIBERNATE, why);
	else if (o->state == OBJ_BUSY || o->state == OBJ_STARTING)
		o->recycle = 1;
}

/*
 * Alarm and WebSocket events queued for an object being deleted must not
 * run: they would start a worker, and so recreate the object, after the
 * delete. Their index rows and connections go with the object
 * (alarm_forget_object, ws_object_gone).
 */
static void
drop_events(struct object *o)
{
	struct request *r, *next;

	for (r = TAILQ_FIRST(&o->queue); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->fire == NULL && r->ws == NULL)
			continue;
		TAILQ_REMOVE(&o->queue, r, entry);
		o->nqueued--;
		request_error(r, 410, "deleted", "the object is being deleted");
	}
}

void
object_delete(struct durod *d, const struct namespace *ns,
    const uint8_t id[DURO_ID_BYTES], struct request *r)
{
	struct object *o = object_byid(d, ns, id);

	if (o == NULL && (o = object_make(d, ns, id, NULL)) == NULL) {
		request_error_retry(
		    r, 503, 1, "out_of_memory", "durod is out of memory");
		return;
	}
	if (o->delete_req != NULL || o->held) {
		request_error(r, 409, "conflict", "this object is already %s",
		    o->held ? "being imported" : "being deleted");
		return;
	}
	o->delete_req = r;
	drop_events(o);
	if (o->pid > 0) {
		/* Finished by object_child_cb once the worker is reaped. */
		object_kill(o, KILL_DELETE);
		return;
	}
	object_delete_finish(o);
	if (o->state == OBJ_HIBERNATED && o->nqueued == 0)
		object_free(o);
}

struct object *
object_hold(struct durod *d, const struct namespace *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name,
    void (*cb)(struct object *, void *), void *arg)
{
	struct object *o = object_byid(d, ns, id);

	if (o == NULL && (o = object_make(d, ns, id, name)) == NULL)
		return (NULL);
	if (o->held || o->delete_req != NULL)
		return (NULL);
	o->held = 1;
	o->held_cb = cb;
	o->held_arg = arg;
	if (o->pid == 0)
		object_held_ready(o);
	else
		worker_wind_down(o, "admin import");
	return (o);
}

void
object_release(struct object *o)
{
	o->held = 0;
	o->held_cb = NULL;
	if (o->state == OBJ_WAITING && o->d->nlive < o->d->max_live)
		object_step(o, OEV_SLOT, "released");
	else if (o->state == OBJ_HIBERNATED && o->nqueued == 0)
		object_free(o);
}

int
object_restart(struct object *o)
{
	struct restart *h;

	if (o->pid == 0 && o->state != OBJ_BACKOFF)
		return (0);
	event_emit(o->d->events, event_new("restart", o), LOG_INFO,
	    "restart asked by the admin API (%s)",
	    lifecycle_state_name(o->state));
	if (o->state == OBJ_BACKOFF) {
		/* The operator says the cause is gone: forget the crashes. */
		if ((h = restarts_get(o->d, o, 0)) != NULL)
			memset(h, 0, sizeof(*h));
		o->backoff_until = 0;
		object_step(o, OEV_TIMEOUT, "restart"); /* o may be freed */
		return (1);
	}
	worker_wind_down(o, "restart");
	return (1);
}

void
object_reload(struct object *o)
{
	const struct namespace *now;

	if (o->ns->gen == o->d->gen)
		return;
	now = durod_ns_byname(o->d, o->ns->cfg->name, strlen(o->ns->cfg->name));
	if (now == NULL) {
		/* Removed: serve what is queued, then hibernate. */
		if (o->state == OBJ_IDLE)
			object_step(o, OEV_HIBERNATE, "namespace removed");
		return;
	}
	if (o->pid == 0 || !nsgen_differs(o->ns, now)) {
		object_set_ns(o, now);
		return;
	}
	/* Changed: this worker takes no new turn (lifecycle.c); the next
	 * one, started for whatever is queued, runs the new config. */
	o->recycle = 1;
	if (o->state == OBJ_IDLE)
		object_step(o, OEV_HIBERNATE, "recycle");
}
