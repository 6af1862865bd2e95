/*
 * restart.c — Erlang-style restart intensity (DESIGN.md "Lifecycle").
 *
 * A crashed worker is restarted on its object's next event, unless its
 * object crashed more than max_restarts times within restart_window_ms:
 * then it backs off, 1 s, then 2 s, 4 s ... up to restart_backoff_max_ms,
 * and callers get 503 with Retry-After meanwhile. A worker that stays up
 * and serves for a whole window earns its object a clean slate.
 *
 * The policy (restart_crashed, restart_served) is pure and unit-tested.
 * Below it, a small table keeps each object's history while the object
 * itself is forgotten between events (a crash-looping object hibernates
 * after every crash), pruned as it goes so it cannot grow without end.
 */
#include <stdlib.h>
#include <string.h>

#include "durod.h"

#define BACKOFF_FIRST_MS 1000
#define PRUNE_EVERY 1024 /* crashes between sweeps of the table */

/* Time past which a history no longer matters: the last backoff's end
 * plus a window (a crash then starts counting afresh). */
static uint64_t
history_end(const struct restart *r, const struct restart_cfg *c)
{
	uint64_t end = r->window_start + c->window_ms;

	if (r->backoff_until + c->window_ms > end)
		end = r->backoff_until + c->window_ms;
	return (end);
}

uint64_t
restart_crashed(struct restart *r, const struct restart_cfg *c, uint64_t now)
{
	uint64_t delay;

	r->up_since = 0;
	if (r->level > 0 && now >= history_end(r, c))
		r->level = 0; /* quiet for long enough: start over */
	if (r->count == 0 || now - r->window_start >= c->window_ms) {
		r->window_start = now;
		r->count = 0;
	}
	if (++r->count <= c->max_restarts)
		return (0);
	delay = (uint64_t)BACKOFF_FIRST_MS << (r->level < 30 ? r->level : 30);
	if (delay > c->backoff_max_ms)
		delay = c->backoff_max_ms;
	if (r->level < 30)
		r->level++;
	r->count = 0;
	r->window_start = now;
	r->backoff_until = now + delay;
	return (delay);
}

void
restart_ready(struct restart *r, uint64_t now)
{
	r->up_since = now;
}

void
restart_served(struct restart *r, const struct restart_cfg *c, uint64_t now)
{
	if (r->up_since != 0 && now - r->up_since >= c->window_ms) {
		r->level = 0;
		r->count = 0;
	}
}

int
restart_active(
    const struct restart *r, const struct restart_cfg *c, uint64_t now)
{
	return ((r->count > 0 || r->level > 0) && now < history_end(r, c));
}

void
restart_cfg_of(const struct ns_config *ns, struct restart_cfg *c)
{
	c->max_restarts = ns->max_restarts;
	c->window_ms = ns->restart_window_ms;
	c->backoff_max_ms = ns->restart_backoff_max_ms;
}

/* ---- the table ---- */

struct restart_rec {
	char key[64 + DURO_ID_BYTES]; /* as struct object's key */
	struct restart r;
	struct restart_cfg cfg;
	UT_hash_handle hh;
};

static void
restarts_prune(struct durod *d, uint64_t now)
{
	struct restart_rec *e, *tmp;

	HASH_ITER (hh, d->restarts, e, tmp)
		if (!restart_active(&e->r, &e->cfg, now)) {
			HASH_DEL(d->restarts, e);
			free(e);
		}
}

struct restart *
restarts_get(struct durod *d, const struct object *o, int create)
{
	struct restart_rec *e;

	HASH_FIND(hh, d->restarts, o->key, sizeof(o->key), e);
	if (e == NULL && create) {
		if (++d->restarts_seen % PRUNE_EVERY == 0)
			restarts_prune(d, (uint64_t)(ev_time() * 1000));
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return (NULL);
		memcpy(e->key, o->key, sizeof(e->key));
		HASH_ADD(hh, d->restarts, key, sizeof(e->key), e);
	}
	if (e != NULL)
		restart_cfg_of(o->ns->cfg, &e->cfg);
	return (e != NULL ? &e->r : NULL);
}

void
restarts_free(struct durod *d)
{
	struct restart_rec *e, *tmp;

	HASH_ITER (hh, d->restarts, e, tmp) {
		HASH_DEL(d->restarts, e);
		free(e);
	}
}
