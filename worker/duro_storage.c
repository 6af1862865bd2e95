/*
 * duro_storage.c — the object's database: lock, open, settings, the SDK's
 * statements, and turning SQLite errors into enum duro_err.
 *
 * One worker per object is durod's rule; the lock makes it the storage's
 * rule too. The worker flock()s the object's directory before it opens the
 * database and keeps the lock for its whole life, so a worker started
 * while the previous one is still dying waits (bounded by durod's start
 * timeout) until the kernel drops the dead one's lock.
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "duro_impl.h"

#define DEFAULT_LIMIT_MB 1024
/* A large transaction leaves a large WAL: cut it back after checkpoints. */
#define WAL_SIZE_LIMIT (64 * 1024 * 1024)
/*
 * Only durod's read-only inspection shares the file (WAL readers do not
 * block the writer); a checkpoint or recovery may wait a little for it.
 */
#define BUSY_TIMEOUT_MS 2000

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    /* One name serves every depth: RELEASE takes the innermost. */
    [STMT_SAVEPOINT] = "SAVEPOINT _duro_sp",
    [STMT_RELEASE] = "RELEASE _duro_sp",
    [STMT_ROLLBACK_TO] = "ROLLBACK TO _duro_sp",
    [STMT_PAGES] = "PRAGMA page_count",
    [STMT_KV_GET] = "SELECT value FROM _duro_kv WHERE key = ?1",
    [STMT_KV_PUT] = "INSERT INTO _duro_kv (key, value) VALUES (?1, ?2) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [STMT_KV_DELETE] = "DELETE FROM _duro_kv WHERE key = ?1",
    [STMT_KV_DELETE_ALL] = "DELETE FROM _duro_kv",
    [STMT_KV_LIST] = "SELECT key, value FROM _duro_kv WHERE key >= ?1 "
                     "ORDER BY key LIMIT ?2",
    [STMT_KV_LIST_END] = "SELECT key, value FROM _duro_kv WHERE key >= ?1 "
                         "AND key < ?3 ORDER BY key LIMIT ?2",
    [STMT_KV_LIST_DESC] = "SELECT key, value FROM _duro_kv WHERE key >= ?1 "
                          "ORDER BY key DESC LIMIT ?2",
    [STMT_KV_LIST_END_DESC] = "SELECT key, value FROM _duro_kv WHERE key >= "
                              "?1 AND key < ?3 ORDER BY key DESC LIMIT ?2",
    [STMT_ALARM_GET] = "SELECT at_ms, every_ms FROM _duro_alarms "
                       "WHERE name = ?1",
    [STMT_ALARM_PUT] = "INSERT INTO _duro_alarms (name, at_ms, every_ms) "
                       "VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE "
                       "SET at_ms = excluded.at_ms, "
                       "every_ms = excluded.every_ms",
    [STMT_ALARM_DELETE] = "DELETE FROM _duro_alarms WHERE name = ?1",
    [STMT_ALARM_COUNT] = "SELECT count(*) FROM _duro_alarms",
    [STMT_ALARM_LIST] = "SELECT name, at_ms, every_ms FROM _duro_alarms "
                        "ORDER BY at_ms, name",
};

/* ---- errors ---- */

const char *
duro_storage_errmsg(const struct duro *d)
{
	return (d->st.errmsg);
}

void
duro_storage_ok(struct duro *d)
{
	d->st.errmsg[0] = '\0';
}

static int
storage_err(int rv)
{
	switch (rv & 0xff) {
	case SQLITE_FULL:
		return (DURO_EFULL);
	case SQLITE_AUTH:
		return (DURO_EDENIED);
	case SQLITE_CONSTRAINT:
		return (DURO_ECONSTRAINT);
	case SQLITE_NOMEM:
		return (DURO_ENOMEM);
	case SQLITE_TOOBIG:
		return (DURO_ERANGE);
	case SQLITE_RANGE:
		return (DURO_EINVAL);
	case SQLITE_ERROR:
	case SQLITE_MISMATCH:
	case SQLITE_SCHEMA:
		return (DURO_ESQL);
	default:
		return (DURO_ESTORAGE);
	}
}

/* A transaction is in progress: the event's, or a savepoint's. */
static int
storage_in_txn(const struct duro_storage *st)
{
	return ((st->in_event && st->txn) || st->depth > 0);
}

/*
 * Fail the transaction in progress. SQLite may roll a whole transaction
 * back on SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM, after which further
 * statements would autocommit one by one; and a write that did not fit
 * must not be dropped silently from an event that then commits. Either
 * way the only safe end is a rollback of everything.
 */
static void
storage_doom(struct duro_storage *st, int err)
{
	if (st->doomed != 0)
		return;
	st->doomed = err == DURO_EFULL ? DURO_EFULL : DURO_ESTORAGE;
	snprintf(st->doom_msg, sizeof(st->doom_msg), "%s", st->errmsg);
}

int
duro_storage_fail(struct duro *d, int rv)
{
	struct duro_storage *st = &d->st;
	int err = storage_err(rv), prim = rv & 0xff;

	if (st->denied != NULL) {
		err = DURO_EDENIED;
		snprintf(
		    st->errmsg, sizeof(st->errmsg), "refused: %s", st->denied);
		st->denied = NULL;
	} else if (err == DURO_EFULL)
		snprintf(st->errmsg, sizeof(st->errmsg),
		    "%s (the object's storage limit is %d MiB)",
		    sqlite3_errstr(rv), st->limit_mb);
	else
		snprintf(st->errmsg, sizeof(st->errmsg), "%s",
		    st->db != NULL ? sqlite3_errmsg(st->db)
		                   : sqlite3_errstr(rv));
	if (storage_in_txn(st) &&
	    (err == DURO_EFULL || prim == SQLITE_IOERR ||
	        prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB ||
	        sqlite3_get_autocommit(st->db)))
		storage_doom(st, err);
	return (err);
}

int
duro_storage_failf(struct duro *d, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->st.errmsg, sizeof(d->st.errmsg), fmt, ap);
	va_end(ap);
	return (err);
}

/* ---- the SDK's statements ---- */

int
duro_storage_stmt(struct duro *d, enum storage_stmt id, sqlite3_stmt **out)
{
	struct duro_storage *st = &d->st;
	int rv;

	if ((*out = st->stmt[id]) != NULL)
		return (0);
	st->internal++;
	rv = sqlite3_prepare_v3(
	    st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	st->internal--;
	if (rv != SQLITE_OK)
		return (duro_storage_fail(d, rv));
	st->stmt[id] = *out;
	return (0);
}

/*
 * SQLite re-prepares a statement inside sqlite3_step() after a schema
 * change, which runs the authorizer again: the SDK's statements must
 * pass it then too.
 */
int
duro_storage_step(struct duro *d, sqlite3_stmt *stmt)
{
	int rv;

	d->st.internal++;
	rv = sqlite3_step(stmt);
	d->st.internal--;
	return (rv);
}

int
duro_storage_run(struct duro *d, enum storage_stmt id)
{
	sqlite3_stmt *stmt;
	int rv;

	if ((rv = duro_storage_stmt(d, id, &stmt)) != 0)
		return (rv);
	rv = duro_storage_step(d, stmt);
	if (rv != SQLITE_DONE && rv != SQLITE_ROW)
		rv = duro_storage_fail(d, rv);
	else
		rv = 0;
	sqlite3_reset(stmt);
	return (rv);
}

/* ---- opening ---- */

/* Parse $DURO_SYNCHRONOUS and $DURO_STORAGE_LIMIT_MB. */
static int
storage_env(struct duro_storage *st, int *full)
{
	const char *s = getenv("DURO_SYNCHRONOUS");
	char *end;
	long v;

	*full = 1;
	if (s != NULL && *s != '\0' && strcasecmp(s, "FULL") != 0) {
		if (strcasecmp(s, "NORMAL") != 0) {
			fprintf(stderr,
			    "duro: DURO_SYNCHRONOUS is \"%s\", not "
			    "FULL or NORMAL\n",
			    s);
			return (DURO_EINVAL);
		}
		*full = 0;
	}
	st->limit_mb = DEFAULT_LIMIT_MB;
	if ((s = getenv("DURO_STORAGE_LIMIT_MB")) == NULL || *s == '\0')
		return (0);
	errno = 0;
	v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < 1 ||
	    v > INT_MAX) {
		fprintf(stderr,
		    "duro: DURO_STORAGE_LIMIT_MB is \"%s\", not a "
		    "positive integer\n",
		    s);
		return (DURO_EINVAL);
	}
	st->limit_mb = (int)v;
	return (0);
}

/*
 * Lock the directory that holds the database. A blocking flock(): see the
 * comment at the top of the file. The lock belongs to this open file
 * description, so it is dropped when the fd is closed or the process dies,
 * and a second open of the directory, even in this process, cannot take it.
 */
static int
storage_lock(struct duro *d)
{
	char *dir, *slash;
	int fd;

	if ((dir = strdup(d->storage)) == NULL)
		return (DURO_ENOMEM);
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr,
		    "duro: cannot open the storage directory %s: "
		    "%s\n",
		    dir, strerror(errno));
		free(dir);
		return (DURO_ESTORAGE);
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		fprintf(
		    stderr, "duro: cannot lock %s: %s\n", dir, strerror(errno));
		close(fd);
		free(dir);
		return (DURO_ESTORAGE);
	}
	free(dir);
	d->st.lock_fd = fd;
	return (0);
}

/* Run one SDK statement and copy the first column of its row to out. */
static int
storage_query(struct duro *d, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *stmt;
	const unsigned char *v;
	int rv;

	out[0] = '\0';
	d->st.internal++;
	rv = sqlite3_prepare_v2(d->st.db, sql, -1, &stmt, NULL);
	d->st.internal--;
	if (rv != SQLITE_OK)
		return (duro_storage_fail(d, rv));
	rv = duro_storage_step(d, stmt);
	if (rv == SQLITE_ROW && (v = sqlite3_column_text(stmt, 0)) != NULL)
		snprintf(out, outlen, "%s", (const char *)v);
	rv = rv == SQLITE_ROW || rv == SQLITE_DONE ? 0
	                                           : duro_storage_fail(d, rv);
	sqlite3_finalize(stmt);
	return (rv);
}

/*
 * The connection's settings. Defensive mode and no trusted schema keep
 * SQL from corrupting the file or running functions from the schema;
 * the FTS3 tokenizer switch would let SQL hand SQLite a function pointer.
 * max_page_count is per connection, so it is set at every open (SQLite
 * never sets it below the pages already in use: an object over a lowered
 * limit can still delete but not grow).
 */
static int
storage_settings(struct duro *d, int full)
{
	struct duro_storage *st = &d->st;
	sqlite3 *db = st->db;
	long long pages;
	char v[64], sql[96];
	int rv;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if ((rv = storage_query(d, "PRAGMA journal_mode=WAL", v, sizeof(v))) !=
	    0)
		return (rv);
	if (strcasecmp(v, "wal") != 0)
		return (duro_storage_failf(
		    d, DURO_ESTORAGE, "journal_mode is \"%s\", not wal", v));
	if ((rv = storage_query(d,
	         full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
	         v, sizeof(v))) != 0 ||
	    (rv = storage_query(d, "PRAGMA foreign_keys=ON", v, sizeof(v))) !=
	        0 ||
	    (rv = storage_query(d, "PRAGMA page_size", v, sizeof(v))) != 0)
		return (rv);
	if ((st->page_size = atoi(v)) <= 0)
		return (duro_storage_failf(
		    d, DURO_ESTORAGE, "page_size is \"%s\"", v));
	pages = (long long)st->limit_mb * (1024 * 1024 / st->page_size);
	snprintf(
	    sql, sizeof(sql), "PRAGMA journal_size_limit=%d", WAL_SIZE_LIMIT);
	if ((rv = storage_query(d, sql, v, sizeof(v))) != 0)
		return (rv);
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld", pages);
	return (storage_query(d, sql, v, sizeof(v)));
}

/*
 * The SDK's tables. IF NOT EXISTS finds an existing table while preparing
 * and then only reads, so a reopen costs no write. _duro_alarms holds at
 * most DURO_ALARM_MAX rows, so listing them by time needs no index; names
 * are TEXT, which SQLite compares as bytes.
 */
static int
storage_schema(struct duro *d)
{
	char v[8];
	int rv;

	if ((rv = storage_query(d,
	         "CREATE TABLE IF NOT EXISTS _duro_kv (key BLOB PRIMARY KEY, "
	         "value BLOB NOT NULL) WITHOUT ROWID",
	         v, sizeof(v))) != 0)
		return (rv);
	return (storage_query(d,
	    "CREATE TABLE IF NOT EXISTS _duro_alarms (name TEXT PRIMARY KEY, "
	    "at_ms INTEGER NOT NULL, every_ms INTEGER NOT NULL) WITHOUT ROWID",
	    v, sizeof(v)));
}

int
duro_storage_open(struct duro *d)
{
	struct duro_storage *st = &d->st;
	int full, rv;

	if ((rv = storage_env(st, &full)) != 0 || (rv = storage_lock(d)) != 0)
		return (rv);
	rv = sqlite3_open_v2(d->storage, &st->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (rv == SQLITE_OK)
		rv = storage_settings(d, full);
	else
		rv = duro_storage_fail(d, rv);
	if (rv == 0)
		rv = storage_schema(d);
	if (rv != 0) {
		fprintf(stderr, "duro: cannot open the storage %s: %s\n",
		    d->storage, st->errmsg);
		duro_storage_close(d);
		return (rv == DURO_ENOMEM ? rv : DURO_ESTORAGE);
	}
	sqlite3_set_authorizer(st->db, duro_sql_authorize, st);
	duro_storage_ok(d);
	return (0);
}

void
duro_storage_close(struct duro *d)
{
	struct duro_storage *st = &d->st;

	duro_sql_close_cursors(d, 1);
	duro_sql_cache_free(d);
	duro_alarm_free(d);
	for (int i = 0; i < STMT_COUNT; i++) {
		sqlite3_finalize(st->stmt[i]);
		st->stmt[i] = NULL;
	}
	/* The last connection to close checkpoints and removes the WAL. */
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		fprintf(stderr, "duro: closing the storage: %s\n",
		    sqlite3_errmsg(st->db));
	st->db = NULL;
	/* Only now may the next worker for this object open the file. */
	if (st->lock_fd != -1)
		close(st->lock_fd);
	st->lock_fd = -1;
}
