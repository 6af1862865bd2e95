/*
 * duro_sql.c — the SQL API: run a statement with bound parameters, read
 * its rows through a cursor, count what it did.
 *
 * A statement runs to its first row inside duro_sql_exec(), so writes
 * (including UPDATE ... RETURNING) happen, and fail, where the handler
 * asked for them rather than at the first duro_sql_next().
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "duro_impl.h"

enum cursor_state {
	CUR_PENDING, /* stepped onto a row that next() has not shown yet */
	CUR_ROW,     /* on a row: the getters read it */
	CUR_DONE,    /* no more rows (or failed); the statement is reset */
};

struct duro_sql_cursor {
	struct duro *d;
	sqlite3_stmt *stmt;
	struct duro_sql_cursor *next;
	struct duro_sql_cursor **prevp;
	struct sql_cached *cached; /* where stmt came from, or NULL */
	unsigned event; /* the event it was opened in, 0 outside events */
	enum cursor_state state;
	uint64_t returned;
	uint64_t written;
};

static void
cursor_link(struct duro *d, struct duro_sql_cursor *c)
{
	c->next = d->st.cursors;
	if (c->next != NULL)
		c->next->prevp = &c->next;
	c->prevp = &d->st.cursors;
	d->st.cursors = c;
}

void
duro_sql_close(struct duro_sql_cursor *c)
{
	if (c == NULL)
		return;
	if (c->prevp != NULL) {
		*c->prevp = c->next;
		if (c->next != NULL)
			c->next->prevp = c->prevp;
	}
	if (c->cached != NULL) {
		/* Back to the cache, holding no pointer of the caller's. */
		sqlite3_reset(c->stmt);
		sqlite3_clear_bindings(c->stmt);
		c->cached->busy = 0;
	} else
		sqlite3_finalize(c->stmt);
	free(c);
}

void
duro_sql_close_cursors(struct duro *d, int all)
{
	struct duro_sql_cursor *c, *next;

	for (c = d->st.cursors; c != NULL; c = next) {
		next = c->next;
		if (all || (c->event != 0 && c->event == d->st.event_seq))
			duro_sql_close(c);
	}
}

/* One step: 1 on a row, 0 at the end, or an error (the cursor is done). */
static int
sql_step(struct duro_sql_cursor *c)
{
	struct duro *d = c->d;
	sqlite3_int64 before = sqlite3_total_changes64(d->st.db);
	int rv;

	d->st.denied = NULL;
	rv = sqlite3_step(c->stmt);
	c->written += (uint64_t)(sqlite3_total_changes64(d->st.db) - before);
	if (rv == SQLITE_ROW) {
		c->returned++;
		return (1);
	}
	c->state = CUR_DONE;
	rv = rv == SQLITE_DONE ? 0 : duro_storage_fail(d, rv);
	sqlite3_reset(c->stmt);
	return (rv);
}

static int
sql_bind_one(struct duro *d, sqlite3_stmt *stmt, int i,
    const struct duro_sql_value *v, sqlite3_destructor_type how)
{
	/* A NULL pointer would bind SQL NULL, not an empty string. */
	const void *p = v->p != NULL ? v->p : "";

	if ((v->type == DURO_SQL_TEXT || v->type == DURO_SQL_BLOB) &&
	    v->p == NULL && v->len > 0)
		return (duro_storage_failf(
		    d, DURO_EINVAL, "parameter %d: NULL pointer", i));
	switch (v->type) {
	case DURO_SQL_NULL:
		return (sqlite3_bind_null(stmt, i));
	case DURO_SQL_INTEGER:
		return (sqlite3_bind_int64(stmt, i, v->i));
	case DURO_SQL_REAL:
		return (sqlite3_bind_double(stmt, i, v->r));
	case DURO_SQL_TEXT:
		return (
		    sqlite3_bind_text64(stmt, i, p, v->len, how, SQLITE_UTF8));
	case DURO_SQL_BLOB:
		return (sqlite3_bind_blob64(stmt, i, p, v->len, how));
	}
	return (duro_storage_failf(
	    d, DURO_EINVAL, "parameter %d: unknown type %d", i, (int)v->type));
}

/*
 * Bind every parameter. SQLite copies them only when the cursor outlives
 * this call (SQLITE_TRANSIENT): without one, the caller's buffers outlive
 * the statement.
 */
static int
sql_bind(struct duro *d, sqlite3_stmt *stmt, const struct duro_sql_value *p,
    size_t n, int copy)
{
	sqlite3_destructor_type how = copy ? SQLITE_TRANSIENT : SQLITE_STATIC;
	int want = sqlite3_bind_parameter_count(stmt), rv;

	if ((size_t)want != n)
		return (duro_storage_failf(d, DURO_EINVAL,
		    "the statement has %d parameters, %zu given", want, n));
	for (int i = 0; i < want; i++) {
		rv = sql_bind_one(d, stmt, i + 1, &p[i], how);
		if (rv < 0)
			return (rv);
		if (rv != SQLITE_OK)
			return (duro_storage_fail(d, rv));
	}
	return (0);
}

/* Compile the first statement of *sql and move *sql past it. */
static int
sql_prepare(
    struct duro *d, const char **sql, sqlite3_stmt **stmt, unsigned flags)
{
	int rv;

	d->st.denied = NULL;
	rv = sqlite3_prepare_v3(d->st.db, *sql, -1, flags, stmt, sql);
	if (rv != SQLITE_OK)
		return (duro_storage_fail(d, rv));
	return (0);
}

/* Compile the one statement of sql: a second one is an error. */
static int
sql_prepare_one(struct duro *d, const char *sql, sqlite3_stmt **stmt)
{
	sqlite3_stmt *more = NULL;
	int rv;

	if ((rv = sql_prepare(d, &sql, stmt, SQLITE_PREPARE_PERSISTENT)) != 0)
		return (rv);
	if (*stmt == NULL)
		return (duro_storage_failf(d, DURO_EINVAL, "no statement"));
	if (*sql != '\0' && (rv = sql_prepare(d, &sql, &more, 0)) == 0 &&
	    more != NULL)
		rv = duro_storage_failf(d, DURO_EINVAL,
		    "more than one statement (only a script without "
		    "parameters or cursor may have several)");
	sqlite3_finalize(more);
	if (rv != 0) {
		sqlite3_finalize(*stmt);
		*stmt = NULL;
	}
	return (rv);
}

/* ---- the statement cache ---- */

void
duro_sql_cache_free(struct duro *d)
{
	for (int i = 0; i < SQL_CACHE_SIZE; i++) {
		struct sql_cached *e = &d->st.cache[i];

		sqlite3_finalize(e->stmt);
		free(e->sql);
		memset(e, 0, sizeof(*e));
	}
}

/* Keep stmt for sql in a free or the least recently used idle slot. */
static struct sql_cached *
sql_cache_put(struct duro *d, const char *sql, sqlite3_stmt *stmt)
{
	struct sql_cached *e, *victim = NULL;
	char *copy;

	for (int i = 0; i < SQL_CACHE_SIZE; i++) {
		e = &d->st.cache[i];
		if (e->busy)
			continue;
		if (e->sql == NULL) {
			victim = e;
			break;
		}
		if (victim == NULL || e->used < victim->used)
			victim = e;
	}
	if (victim == NULL || (copy = strdup(sql)) == NULL)
		return (NULL);
	sqlite3_finalize(victim->stmt);
	free(victim->sql);
	victim->sql = copy;
	victim->stmt = stmt;
	victim->busy = 1;
	victim->used = ++d->st.cache_tick;
	return (victim);
}

/* An idle cached statement for sql, or NULL. */
static struct sql_cached *
sql_cache_find(struct duro *d, const char *sql)
{
	struct sql_cached *e;

	for (int i = 0; i < SQL_CACHE_SIZE; i++) {
		e = &d->st.cache[i];
		if (e->sql != NULL && !e->busy && strcmp(e->sql, sql) == 0)
			return (e);
	}
	return (NULL);
}

/*
 * The compiled statement for sql, from the cache when an idle one is
 * there (one in use by a cursor cannot be shared: compile another).
 */
static int
sql_stmt(struct duro *d, const char *sql, struct duro_sql_cursor *c)
{
	struct sql_cached *e;
	int rv;

	if ((e = sql_cache_find(d, sql)) != NULL) {
		e->busy = 1;
		e->used = ++d->st.cache_tick;
		c->cached = e;
		c->stmt = e->stmt;
		/* Its full-scan count is per use (rows read). */
		sqlite3_stmt_status(
		    c->stmt, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
		return (0);
	}
	if ((rv = sql_prepare_one(d, sql, &c->stmt)) != 0)
		return (rv);
	c->cached = sql_cache_put(d, sql, c->stmt);
	return (0);
}

static int
blank(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return (*s == '\0');
}

/*
 * Run every statement of a parameterless script to its end. A script of
 * one statement is cached like the statements of cursors, so the next
 * exec of the same text takes the one-statement path.
 */
static int
sql_script(struct duro *d, const char *sql)
{
	struct duro_sql_cursor c;
	const char *all = sql;
	int rv;

	for (int first = 1;; first = 0) {
		memset(&c, 0, sizeof(c));
		c.d = d;
		rv = sql_prepare(
		    d, &sql, &c.stmt, first ? SQLITE_PREPARE_PERSISTENT : 0);
		if (rv != 0)
			return (rv);
		if (c.stmt == NULL)
			return (0);
		while ((rv = sql_step(&c)) == 1)
			;
		/* sql_step() reset it: it can go idle into the cache. */
		if (first && blank(sql) &&
		    (c.cached = sql_cache_put(d, all, c.stmt)) != NULL)
			c.cached->busy = 0;
		else
			sqlite3_finalize(c.stmt);
		if (rv != 0)
			return (rv);
	}
}

int
duro_sql_exec(struct duro *d, struct duro_sql_cursor **cur, const char *sql,
    const struct duro_sql_value *params, size_t nparams)
{
	struct duro_sql_cursor *c;
	int rv;

	if (cur != NULL)
		*cur = NULL;
	if (sql == NULL || (nparams > 0 && params == NULL))
		return (duro_storage_failf(d, DURO_EINVAL, "no SQL"));
	if ((rv = duro_storage_enter(d)) != 0)
		return (rv);
	if (cur == NULL && nparams == 0 && sql_cache_find(d, sql) == NULL)
		return (sql_script(d, sql));
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (duro_storage_failf(d, DURO_ENOMEM, "out of memory"));
	c->d = d;
	c->event = d->st.in_event ? d->st.event_seq : 0;
	if ((rv = sql_stmt(d, sql, c)) != 0 ||
	    (rv = sql_bind(d, c->stmt, params, nparams, cur != NULL)) != 0 ||
	    (rv = sql_step(c)) < 0) {
		duro_sql_close(c);
		return (rv);
	}
	if (rv == 1)
		c->state = CUR_PENDING;
	if (cur == NULL) {
		while (rv == 1)
			rv = sql_step(c);
		duro_sql_close(c);
		return (rv);
	}
	cursor_link(d, c);
	*cur = c;
	return (0);
}

int
duro_sql_next(struct duro_sql_cursor *c)
{
	struct duro_storage *st;

	if (c == NULL)
		return (DURO_EINVAL);
	st = &c->d->st;
	switch (c->state) {
	case CUR_PENDING:
		c->state = CUR_ROW;
		return (1);
	case CUR_DONE:
		return (0);
	case CUR_ROW:
		break;
	}
	if (st->doomed != 0) {
		c->state = CUR_DONE;
		sqlite3_reset(c->stmt);
		return (duro_storage_failf(c->d, st->doomed,
		    "this transaction has failed: %s", st->doom_msg));
	}
	return (sql_step(c));
}

/* ---- columns ---- */

static int
col_ok(const struct duro_sql_cursor *c, int col)
{
	return (c != NULL && c->state == CUR_ROW && col >= 0 &&
	        col < sqlite3_column_count(c->stmt));
}

int
duro_sql_column_count(const struct duro_sql_cursor *c)
{
	return (c != NULL ? sqlite3_column_count(c->stmt) : 0);
}

const char *
duro_sql_column_name(const struct duro_sql_cursor *c, int col)
{
	if (c == NULL || col < 0 || col >= sqlite3_column_count(c->stmt))
		return (NULL);
	return (sqlite3_column_name(c->stmt, col));
}

enum duro_sql_type
duro_sql_column_type(const struct duro_sql_cursor *c, int col)
{
	if (!col_ok(c, col))
		return (DURO_SQL_NULL);
	switch (sqlite3_column_type(c->stmt, col)) {
	case SQLITE_INTEGER:
		return (DURO_SQL_INTEGER);
	case SQLITE_FLOAT:
		return (DURO_SQL_REAL);
	case SQLITE_TEXT:
		return (DURO_SQL_TEXT);
	case SQLITE_BLOB:
		return (DURO_SQL_BLOB);
	default:
		return (DURO_SQL_NULL);
	}
}

int64_t
duro_sql_column_int(const struct duro_sql_cursor *c, int col)
{
	return (col_ok(c, col) ? sqlite3_column_int64(c->stmt, col) : 0);
}

double
duro_sql_column_real(const struct duro_sql_cursor *c, int col)
{
	return (col_ok(c, col) ? sqlite3_column_double(c->stmt, col) : 0.0);
}

/*
 * SQLite gives NULL for an empty TEXT or BLOB too; "" keeps NULL
 * meaning SQL NULL.
 */
const char *
duro_sql_column_text(const struct duro_sql_cursor *c, int col, size_t *len)
{
	const unsigned char *s = NULL;

	if (len != NULL)
		*len = 0;
	if (!col_ok(c, col) || sqlite3_column_type(c->stmt, col) == SQLITE_NULL)
		return (NULL);
	if ((s = sqlite3_column_text(c->stmt, col)) == NULL)
		return (
		    sqlite3_errcode(c->d->st.db) == SQLITE_NOMEM ? NULL : "");
	if (len != NULL)
		*len = (size_t)sqlite3_column_bytes(c->stmt, col);
	return ((const char *)s);
}

const void *
duro_sql_column_blob(const struct duro_sql_cursor *c, int col, size_t *len)
{
	const void *p;

	if (len != NULL)
		*len = 0;
	if (!col_ok(c, col) || sqlite3_column_type(c->stmt, col) == SQLITE_NULL)
		return (NULL);
	if ((p = sqlite3_column_blob(c->stmt, col)) == NULL)
		return ("");
	if (len != NULL)
		*len = (size_t)sqlite3_column_bytes(c->stmt, col);
	return (p);
}

/* ---- counters and size ---- */

uint64_t
duro_sql_rows_read(const struct duro_sql_cursor *c)
{
	uint64_t scanned;

	if (c == NULL)
		return (0);
	scanned = (uint64_t)sqlite3_stmt_status(
	    c->stmt, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
	return (scanned > c->returned ? scanned : c->returned);
}

uint64_t
duro_sql_rows_written(const struct duro_sql_cursor *c)
{
	return (c != NULL ? c->written : 0);
}

int
duro_sql_database_size(struct duro *d, uint64_t *bytes)
{
	sqlite3_stmt *stmt;
	int rv;

	*bytes = 0;
	if ((rv = duro_storage_enter(d)) != 0 ||
	    (rv = duro_storage_stmt(d, STMT_PAGES, &stmt)) != 0)
		return (rv);
	if ((rv = duro_storage_step(d, stmt)) == SQLITE_ROW) {
		*bytes = (uint64_t)sqlite3_column_int64(stmt, 0) *
		         (uint64_t)d->st.page_size;
		rv = 0;
	} else
		rv = duro_storage_fail(d, rv);
	sqlite3_reset(stmt);
	return (rv);
}
