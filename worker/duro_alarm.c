/*
 * duro_alarm.c — alarms: the API over the SDK's table _duro_alarms, and
 * what each event did to them, which durod must hear (ipc/PROTOCOL.md
 * section 14).
 *
 * _duro_alarms (name TEXT PRIMARY KEY, at_ms INTEGER NOT NULL,
 * every_ms INTEGER NOT NULL) WITHOUT ROWID is the truth about an object's
 * alarms; durod only keeps an index of wake-ups, which may be early but
 * never late. So the SDK remembers, per event, the state of every alarm
 * name the event touched as it was before the event's first write to it.
 * At the output gate the current state of each (read inside the
 * transaction, so savepoint rollbacks need no bookkeeping) is compared
 * with it: the differences are what the reply reports, and the ones that
 * are new or earlier must be indexed by durod (alarm_sync) before COMMIT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duro_impl.h"
#include "ipc_nng.h"

int
duro_on_alarm(struct duro *d, duro_alarm_fn fn, void *arg)
{
	d->on_alarm = fn;
	d->alarm_arg = arg;
	return (0);
}

int64_t
duro_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* ---- checks ---- */

static int
alarm_check_name(struct duro *d, const char *name)
{
	size_t len;

	if (name == NULL)
		return (duro_storage_failf(d, DURO_EINVAL, "NULL alarm name"));
	len = strlen(name);
	if (len > DURO_ALARM_MAX_NAME || !ipc_is_utf8(name, len))
		return (duro_storage_failf(d, DURO_EINVAL,
		    "an alarm name is at most %d bytes of UTF-8",
		    DURO_ALARM_MAX_NAME));
	return (0);
}

static int
alarm_check_time(struct duro *d, int64_t at_ms, int64_t every_ms)
{
	if (at_ms < 0 || (uint64_t)at_ms > IPC_MAX_TIME_MS || every_ms < 0 ||
	    (uint64_t)every_ms > IPC_MAX_TIME_MS)
		return (duro_storage_failf(d, DURO_EINVAL,
		    "alarm times and periods are in 0..2^53 ms"));
	return (0);
}

/* ---- the table ---- */

static int
alarm_read(struct duro *d, const char *name, struct alarm_state *s)
{
	sqlite3_stmt *stmt;
	int rv;

	memset(s, 0, sizeof(*s));
	if ((rv = duro_storage_stmt(d, STMT_ALARM_GET, &stmt)) != 0)
		return (rv);
	rv = sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	if (rv == SQLITE_OK)
		rv = duro_storage_step(d, stmt);
	if (rv == SQLITE_ROW) {
		s->exists = 1;
		s->at = sqlite3_column_int64(stmt, 0);
		s->every = sqlite3_column_int64(stmt, 1);
		rv = 0;
	} else
		rv = rv == SQLITE_DONE ? 0 : duro_storage_fail(d, rv);
	sqlite3_reset(stmt);
	return (rv);
}

/* Make the row agree with s: insert or replace it, or delete it. */
static int
alarm_write(struct duro *d, const char *name, const struct alarm_state *s)
{
	sqlite3_stmt *stmt;
	int rv;

	rv = duro_storage_stmt(
	    d, s->exists ? STMT_ALARM_PUT : STMT_ALARM_DELETE, &stmt);
	if (rv != 0)
		return (rv);
	rv = sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	if (rv == SQLITE_OK && s->exists)
		rv = sqlite3_bind_int64(stmt, 2, s->at);
	if (rv == SQLITE_OK && s->exists)
		rv = sqlite3_bind_int64(stmt, 3, s->every);
	if (rv == SQLITE_OK)
		rv = duro_storage_step(d, stmt);
	rv = rv == SQLITE_DONE ? 0 : duro_storage_fail(d, rv);
	sqlite3_reset(stmt);
	return (rv);
}

/* Room for one more alarm? */
static int
alarm_room(struct duro *d)
{
	sqlite3_stmt *stmt;
	int64_t n = 0;
	int rv;

	if ((rv = duro_storage_stmt(d, STMT_ALARM_COUNT, &stmt)) != 0)
		return (rv);
	if ((rv = duro_storage_step(d, stmt)) == SQLITE_ROW) {
		n = sqlite3_column_int64(stmt, 0);
		rv = 0;
	} else
		rv = duro_storage_fail(d, rv);
	sqlite3_reset(stmt);
	if (rv == 0 && n >= DURO_ALARM_MAX)
		rv = duro_storage_failf(d, DURO_ERANGE,
		    "an object has at most %d alarms", DURO_ALARM_MAX);
	return (rv);
}

/* ---- what the event touched ---- */

static struct alarm_touch *
alarm_touched(const struct duro *d, const char *name)
{
	const struct duro_alarms *al = &d->alarms;

	for (size_t i = 0; i < al->ntouched; i++)
		if (strcmp(al->touched[i].name, name) == 0)
			return (&al->touched[i]);
	return (NULL);
}

/*
 * The event's entry for name, made on its first touch with the state
 * the name has now, before the event writes it. The limit on names keeps
 * the reply's list within IPC_MAX_ALARMS.
 */
static int
alarm_touch(struct duro *d, const char *name, struct alarm_touch **out)
{
	struct duro_alarms *al = &d->alarms;
	struct alarm_touch *t;
	size_t cap;
	int rv;

	if ((*out = alarm_touched(d, name)) != NULL)
		return (0);
	if (al->ntouched >= DURO_ALARM_MAX)
		return (duro_storage_failf(d, DURO_ERANGE,
		    "an event may change at most %d alarms", DURO_ALARM_MAX));
	if (al->ntouched == al->cap) {
		cap = al->cap > 0 ? al->cap * 2 : 8;
		if ((t = reallocarray(al->touched, cap, sizeof(*t))) == NULL)
			return (duro_storage_failf(
			    d, DURO_ENOMEM, "out of memory"));
		al->touched = t;
		al->cap = cap;
	}
	t = &al->touched[al->ntouched];
	memset(t, 0, sizeof(*t));
	if ((rv = alarm_read(d, name, &t->before)) != 0)
		return (rv);
	if ((t->name = strdup(name)) == NULL)
		return (duro_storage_failf(d, DURO_ENOMEM, "out of memory"));
	al->ntouched++;
	*out = t;
	return (0);
}

/*
 * Set or delete name as the caller asked; in an event, remember its
 * state before the event and that the handler wrote it.
 */
static int
alarm_change(struct duro *d, const char *name, const struct alarm_state *s)
{
	struct alarm_touch *t = NULL;
	struct alarm_state cur;
	unsigned level = d->st.depth + 1;
	int rv;

	if (d->st.in_event && (rv = alarm_touch(d, name, &t)) != 0)
		return (rv);
	if (s->exists) {
		if ((rv = alarm_read(d, name, &cur)) != 0)
			return (rv);
		if (!cur.exists && (rv = alarm_room(d)) != 0)
			return (rv);
	}
	if ((rv = alarm_write(d, name, s)) != 0)
		return (rv);
	if (t != NULL && (t->written == 0 || level < t->written))
		t->written = level;
	return (0);
}

/* ---- the API ---- */

int
duro_alarm_set_named(
    struct duro *d, const char *name, int64_t at_ms, int64_t every_ms)
{
	struct alarm_state s = {1, at_ms, every_ms};
	int rv;

	if ((rv = alarm_check_name(d, name)) != 0 ||
	    (rv = alarm_check_time(d, at_ms, every_ms)) != 0)
		return (rv);
	/*
	 * durod must index a new wake-up before it is committed, and only
	 * an event in flight can tell it (alarm_sync): outside events there
	 * is nobody to ask.
	 */
	if (!d->st.in_event)
		return (duro_storage_failf(d, DURO_ESTATE,
		    "alarms can only be set while handling an event"));
	if ((rv = duro_storage_enter(d)) != 0)
		return (rv);
	return (alarm_change(d, name, &s));
}

int
duro_alarm_get_named(
    struct duro *d, const char *name, int64_t *at_ms, int64_t *every_ms)
{
	struct alarm_state s;
	int rv;

	if ((rv = alarm_check_name(d, name)) != 0 ||
	    (rv = duro_storage_enter(d)) != 0 ||
	    (rv = alarm_read(d, name, &s)) != 0)
		return (rv);
	if (!s.exists)
		return (duro_storage_failf(d, DURO_ENOENT, "no such alarm"));
	if (at_ms != NULL)
		*at_ms = s.at;
	if (every_ms != NULL)
		*every_ms = s.every;
	return (0);
}

/*
 * Allowed outside events: a wake-up that durod keeps for a deleted alarm
 * only costs a spurious alarm event, which finds nothing due.
 */
int
duro_alarm_delete_named(struct duro *d, const char *name)
{
	struct alarm_state none = {0, 0, 0};
	int rv;

	if ((rv = alarm_check_name(d, name)) != 0 ||
	    (rv = duro_storage_enter(d)) != 0)
		return (rv);
	return (alarm_change(d, name, &none));
}

int
duro_alarm_set(struct duro *d, int64_t at_ms)
{
	return (duro_alarm_set_named(d, "", at_ms, 0));
}

int
duro_alarm_get(struct duro *d, int64_t *at_ms)
{
	return (duro_alarm_get_named(d, "", at_ms, NULL));
}

int
duro_alarm_delete(struct duro *d)
{
	return (duro_alarm_delete_named(d, ""));
}

void
duro_alarm_list_free(struct duro_alarm_info *list, size_t n)
{
	for (size_t i = 0; list != NULL && i < n; i++)
		free(list[i].name);
	free(list);
}

static int
alarm_list_add(
    struct duro_alarm_info **out, size_t *n, size_t *cap, sqlite3_stmt *stmt)
{
	struct duro_alarm_info *a;
	const unsigned char *name = sqlite3_column_text(stmt, 0);
	size_t ncap;

	if (*n == *cap) {
		ncap = *cap > 0 ? *cap * 2 : 16;
		if ((a = reallocarray(*out, ncap, sizeof(*a))) == NULL)
			return (DURO_ENOMEM);
		*out = a;
		*cap = ncap;
	}
	a = &(*out)[*n];
	a->at_ms = sqlite3_column_int64(stmt, 1);
	a->every_ms = sqlite3_column_int64(stmt, 2);
	if ((a->name = strdup(name != NULL ? (const char *)name : "")) == NULL)
		return (DURO_ENOMEM);
	(*n)++;
	return (0);
}

int
duro_alarm_list(struct duro *d, struct duro_alarm_info **out, size_t *n)
{
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rv;

	*out = NULL;
	*n = 0;
	if ((rv = duro_storage_enter(d)) != 0 ||
	    (rv = duro_storage_stmt(d, STMT_ALARM_LIST, &stmt)) != 0)
		return (rv);
	while ((rv = duro_storage_step(d, stmt)) == SQLITE_ROW)
		if (alarm_list_add(out, n, &cap, stmt) != 0) {
			sqlite3_reset(stmt);
			return (duro_storage_failf(
			    d, DURO_ENOMEM, "out of memory"));
		}
	rv = rv == SQLITE_DONE ? 0 : duro_storage_fail(d, rv);
	sqlite3_reset(stmt);
	return (rv);
}

/* ---- the event's bookkeeping (duro_txn.c, duro_run.c) ---- */

void
duro_alarm_event_reset(struct duro *d)
{
	struct duro_alarms *al = &d->alarms;

	for (size_t i = 0; i < al->ntouched; i++)
		free(al->touched[i].name);
	al->ntouched = 0;
	al->nchanges = 0;
	al->nsync = 0;
}

void
duro_alarm_free(struct duro *d)
{
	struct duro_alarms *al = &d->alarms;

	duro_alarm_event_reset(d);
	free(al->touched);
	free(al->changes);
	free(al->sync);
	memset(al, 0, sizeof(*al));
}

/*
 * Writes made inside the savepoint now at depth were made at level
 * depth + 1; on release they belong to the enclosing level, on rollback
 * they never happened. A name also written outside the savepoint has a
 * lower level and is not affected.
 */
void
duro_alarm_savepoint_end(struct duro *d, unsigned depth, int rollback)
{
	struct duro_alarms *al = &d->alarms;

	for (size_t i = 0; i < al->ntouched; i++)
		if (al->touched[i].written == depth + 1)
			al->touched[i].written = rollback ? 0 : depth;
}

int
duro_alarm_deliver(struct duro *d, const char *name, struct alarm_state *s)
{
	struct alarm_touch *t;
	int rv;

	if ((rv = duro_storage_enter(d)) != 0 ||
	    (rv = alarm_touch(d, name, &t)) != 0)
		return (rv);
	t->delivered = 1;
	*s = t->before;
	return (0);
}

int
duro_alarm_written(const struct duro *d, const char *name)
{
	const struct alarm_touch *t = alarm_touched(d, name);

	return (t != NULL && t->written != 0);
}

int
duro_alarm_retire(
    struct duro *d, const char *name, const struct alarm_state *s, int64_t now)
{
	struct alarm_state next = {0, 0, 0};
	int rv;

	if (s->every > 0) {
		next.exists = 1;
		next.every = s->every;
		next.at = (int64_t)ipc_alarm_next((uint64_t)s->at,
		    (uint64_t)s->every, now > 0 ? (uint64_t)now : 0);
	}
	if ((rv = duro_storage_enter(d)) != 0)
		return (rv);
	return (alarm_write(d, name, &next));
}

static int
alarm_same(const struct alarm_state *a, const struct alarm_state *b)
{
	if (a->exists != b->exists)
		return (0);
	return (!a->exists || (a->at == b->at && a->every == b->every));
}

static void
alarm_entry(struct ipc_alarm *e, const char *name, const struct alarm_state *s)
{
	e->name = name;
	e->deleted = !s->exists;
	e->at = s->exists ? (uint64_t)s->at : 0;
	e->every = s->exists ? (uint64_t)s->every : 0;
}

/* Room in changes and sync for every touched name. */
static int
alarm_lists_grow(struct duro *d)
{
	struct duro_alarms *al = &d->alarms;
	struct ipc_alarm *c, *s;
	size_t n = al->ntouched;

	if ((c = reallocarray(al->changes, n, sizeof(*c))) != NULL)
		al->changes = c;
	if ((s = reallocarray(al->sync, n, sizeof(*s))) != NULL)
		al->sync = s;
	if (c == NULL || s == NULL)
		return (duro_storage_failf(d, DURO_ENOMEM, "out of memory"));
	return (0);
}

int
duro_alarm_changes(struct duro *d)
{
	struct duro_alarms *al = &d->alarms;
	struct alarm_touch *t;
	struct alarm_state now;
	int rv;

	al->nchanges = 0;
	al->nsync = 0;
	if (al->ntouched == 0)
		return (0);
	if ((rv = duro_storage_enter(d)) != 0 ||
	    (rv = alarm_lists_grow(d)) != 0)
		return (rv);
	for (size_t i = 0; i < al->ntouched; i++) {
		t = &al->touched[i];
		if ((rv = alarm_read(d, t->name, &now)) != 0)
			return (rv);
		if (alarm_same(&t->before, &now) && !t->delivered)
			continue;
		alarm_entry(&al->changes[al->nchanges++], t->name, &now);
		/* Rule 1: new or earlier; and the alarm being delivered,
		 * whenever the handler set it, so that durod stops treating
		 * the old occurrence as the one to retry or give up. */
		if (now.exists && (!t->before.exists || now.at < t->before.at ||
		                      (t->delivered && t->written != 0)))
			alarm_entry(&al->sync[al->nsync++], t->name, &now);
	}
	return (0);
}

/*
 * Rule 1 of section 14: durod answers once the wake-ups are on disk. It
 * sends nothing else while an event is in flight, so anything but the
 * ack is a broken protocol.
 */
int
duro_alarm_sync(struct duro *d, const char **code, char *why, size_t whylen)
{
	struct ipc_msg m, ack;
	int rv, ok;

	memset(&m, 0, sizeof(m));
	m.type = IPC_ALARM_SYNC;
	m.alarms = d->alarms.sync;
	m.nalarms = d->alarms.nsync;
	if ((rv = duro_send_msg(d, &m)) == DURO_ERANGE || rv == DURO_ENOMEM) {
		*code = "handler_failed";
		snprintf(why, whylen, "the alarm_sync could not be encoded: %s",
		    duro_strerror(rv));
		return (1);
	}
	if (rv != 0 || (rv = duro_recv_msg(d, &ack)) != 0)
		return (rv);
	if (ack.type != IPC_ALARM_ACK) {
		fprintf(stderr,
		    "duro: durod sent \"%s\" while an alarm_sync waited for "
		    "its alarm_ack\n",
		    ack.type_name);
		ipc_recv_done(&ack);
		return (DURO_EPROTO);
	}
	if (!(ok = ack.ok)) {
		*code = "alarm_unavailable";
		snprintf(why, whylen, "%s",
		    ack.message != NULL && ack.message[0] != '\0'
		        ? ack.message
		        : "durod could not store the wake-up");
	}
	ipc_recv_done(&ack);
	return (ok ? 0 : 1);
}
