/*
 * duro_txn.c — transactions: the event's implicit one (the output gate),
 * savepoints, and duro_transaction().
 *
 * The event's transaction is begun by the event's first storage call, not
 * before the handler: BEGIN is cheap, but a handler that never touches
 * storage should not even take a read snapshot. Nothing is written to disk
 * before COMMIT, and duro_run() sends the reply only after COMMIT
 * returned, so a reply the client got describes committed state.
 */
#include <stdio.h>

#include "duro_impl.h"

int
duro_storage_enter(struct duro *d)
{
	struct duro_storage *st = &d->st;
	int rv;

	if (st->db == NULL)
		return (duro_storage_failf(
		    d, DURO_ESTATE, "the storage is not open"));
	if (st->doomed != 0)
		return (duro_storage_failf(d, st->doomed,
		    "this transaction has failed: %s", st->doom_msg));
	duro_storage_ok(d);
	st->denied = NULL;
	if (st->in_event && !st->txn) {
		if ((rv = duro_storage_run(d, STMT_BEGIN)) != 0)
			return (rv);
		st->txn = 1;
	}
	return (0);
}

int
duro_savepoint_open(struct duro *d)
{
	int rv;

	if ((rv = duro_storage_run(d, STMT_SAVEPOINT)) != 0)
		return (rv);
	d->st.depth++;
	return (0);
}

/*
 * End the innermost savepoint. Outside an event the outermost one is the
 * whole transaction and RELEASE is its COMMIT, which can fail like any
 * commit; then it is rolled back. A doomed transaction is rolled back
 * rather than released, and outside events its doom ends with it.
 */
int
duro_savepoint_close(struct duro *d, int rollback)
{
	struct duro_storage *st = &d->st;
	int outer, rv = 0;

	st->depth--;
	outer = st->depth == 0 && !st->in_event;
	if (st->doomed != 0)
		rollback = 1;
	if (st->in_event)
		duro_alarm_savepoint_end(d, st->depth + 1, rollback);
	if (sqlite3_get_autocommit(st->db)) {
		/* SQLite already rolled everything back (and we doomed it). */
		rv = st->doomed != 0 ? st->doomed : DURO_ESTORAGE;
	} else {
		if (rollback)
			rv = duro_storage_run(d, STMT_ROLLBACK_TO);
		if (rv == 0)
			rv = duro_storage_run(d, STMT_RELEASE);
		if (rv != 0 && outer && !sqlite3_get_autocommit(st->db))
			(void)duro_storage_run(d, STMT_ROLLBACK);
	}
	if (st->doomed != 0) {
		rv = st->doomed;
		duro_storage_failf(d, rv, "%s", st->doom_msg);
	}
	if (outer)
		st->doomed = 0;
	return (rv);
}

int
duro_transaction(struct duro *d, int (*fn)(struct duro *, void *arg), void *arg)
{
	int frv, rv;

	if (fn == NULL)
		return (duro_storage_failf(d, DURO_EINVAL, "no function"));
	if ((rv = duro_storage_enter(d)) != 0 ||
	    (rv = duro_savepoint_open(d)) != 0)
		return (rv);
	frv = fn(d, arg);
	rv = duro_savepoint_close(d, frv != 0);
	return (frv != 0 ? frv : rv);
}

/* ---- the event's transaction ---- */

void
duro_storage_event_begin(struct duro *d)
{
	struct duro_storage *st = &d->st;

	st->in_event = 1;
	st->txn = 0;
	st->doomed = 0;
	st->event_seq++;
	duro_alarm_event_reset(d);
	duro_storage_ok(d);
}

/*
 * Roll back whatever is open. A failure here leaves a transaction that
 * the next event's BEGIN will trip over, so say so.
 */
static void
txn_rollback(struct duro *d)
{
	if (sqlite3_get_autocommit(d->st.db))
		return;
	if (duro_storage_run(d, STMT_ROLLBACK) != 0)
		fprintf(
		    stderr, "duro: rolling back an event: %s\n", d->st.errmsg);
}

int
duro_storage_event_end(struct duro *d, int commit)
{
	struct duro_storage *st = &d->st;
	char why[sizeof(st->errmsg)];
	int rv;

	/* Cursors left open would keep statements running past COMMIT. */
	duro_sql_close_cursors(d, 0);
	st->in_event = 0;
	st->depth = 0;
	if (!st->txn)
		return (0);
	st->txn = 0;
	if (st->doomed != 0) {
		rv = st->doomed;
		st->doomed = 0;
		txn_rollback(d);
		duro_storage_failf(d, rv, "%s", st->doom_msg);
		return (rv);
	}
	if (!commit) {
		txn_rollback(d);
		return (0);
	}
	if ((rv = duro_storage_run(d, STMT_COMMIT)) == 0)
		return (0);
	snprintf(why, sizeof(why), "%s", st->errmsg);
	txn_rollback(d);
	/*
	 * max_page_count is enforced while statements allocate pages, so a
	 * COMMIT that finds the database full was stopped by the disk (the
	 * WAL could not grow), not by the object's storage limit.
	 */
	if (rv == DURO_EFULL)
		duro_storage_failf(d, rv,
		    "commit: the disk holding the object's storage is full");
	else
		duro_storage_failf(d, rv, "commit: %.200s", why);
	return (rv == DURO_EFULL ? DURO_EFULL : DURO_ESTORAGE);
}
