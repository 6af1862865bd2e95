/*
 * registry.c — registry.sqlite: what durod must remember across restarts.
 *
 * Each namespace's HMAC key (without it every id changes), the names of
 * named objects (so objects can be listed by name), and the alarm index
 * (its table is here, its queries in alarm_index.c).
 *
 * Writes made while the loop runs join one transaction
 * (registry_write_begin) that durod commits before the loop sleeps
 * (registry_flush): a group commit. synchronous=NORMAL, so that commit
 * never waits for the disk; what must be durable (an alarm_sync's
 * wake-ups) is made so by registry_sync.c, off the loop.
 */
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durod.h"

struct registry {
	sqlite3 *db;
	sqlite3_stmt *get_key;
	sqlite3_stmt *put_key;
	sqlite3_stmt *put_name;
	sqlite3_stmt *del_object;
	sqlite3_stmt *get_name;
	sqlite3_stmt *put_counts, *get_counts, *del_counts;
	sqlite3_stmt *list;
	int in_txn; /* a group-commit transaction is open */
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS namespaces ("
    "  name TEXT PRIMARY KEY, key BLOB NOT NULL, created_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS objects ("
    "  ns TEXT NOT NULL, id BLOB NOT NULL, name TEXT,"
    "  first_seen_ms INTEGER NOT NULL, PRIMARY KEY (ns, id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS alarms ("
    "  ns TEXT NOT NULL, id BLOB NOT NULL, name TEXT NOT NULL,"
    "  due_ms INTEGER NOT NULL, scheduled_ms INTEGER NOT NULL,"
    "  every_ms INTEGER NOT NULL, retry INTEGER NOT NULL,"
    "  PRIMARY KEY (ns, id, name)"
    ");"
    "CREATE INDEX IF NOT EXISTS alarms_due ON alarms (due_ms);"
    "CREATE TABLE IF NOT EXISTS object_counts ("
    "  ns TEXT NOT NULL, id BLOB NOT NULL, events INTEGER NOT NULL,"
    "  crashes INTEGER NOT NULL, PRIMARY KEY (ns, id)"
    ") WITHOUT ROWID;";

struct registry *
registry_open(const char *path, char *err, size_t errlen)
{
	struct registry *r;
	char *msg = NULL;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "registry: out of memory");
		return (NULL);
	}
	if (sqlite3_open_v2(path, &r->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(r->db, 5000) != SQLITE_OK ||
	    sqlite3_exec(r->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db,
	        "SELECT key FROM namespaces WHERE name = ?1", -1, &r->get_key,
	        NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db,
	        "INSERT INTO namespaces (name, key, created_ms) VALUES "
	        "(?1, ?2, CAST((julianday('now') - 2440587.5) * 86400000 AS "
	        "INTEGER))",
	        -1, &r->put_key, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db,
	        "INSERT INTO objects (ns, id, name, first_seen_ms) "
	        "VALUES (?1, ?2, ?3, CAST((julianday('now') - 2440587.5) * "
	        "86400000 AS INTEGER)) ON CONFLICT (ns, id) DO UPDATE SET "
	        "name = excluded.name WHERE name IS NULL AND excluded.name "
	        "IS NOT NULL",
	        -1, &r->put_name, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db,
	        "INSERT INTO object_counts (ns, id, events, crashes) VALUES "
	        "(?1, ?2, ?3, ?4) ON CONFLICT (ns, id) DO UPDATE SET "
	        "events = events + excluded.events, "
	        "crashes = crashes + excluded.crashes",
	        -1, &r->put_counts, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db,
	        "SELECT o.first_seen_ms, c.events, c.crashes FROM objects o "
	        "LEFT JOIN object_counts c USING (ns, id) "
	        "WHERE o.ns = ?1 AND o.id = ?2",
	        -1, &r->get_counts, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db,
	        "DELETE FROM object_counts WHERE ns = ?1 AND id = ?2", -1,
	        &r->del_counts, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db,
	        "SELECT ns, id, name FROM objects WHERE "
	        "(?1 IS NULL OR ns = ?1) AND (ns, id) > (?2, ?3) "
	        "ORDER BY ns, id LIMIT ?4",
	        -1, &r->list, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db,
	        "DELETE FROM objects WHERE ns = ?1 AND id = ?2", -1,
	        &r->del_object, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db,
	        "SELECT name FROM objects WHERE ns = ?1 AND id = ?2", -1,
	        &r->get_name, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "registry %s: %s", path,
		    msg ? msg : sqlite3_errmsg(r->db));
		sqlite3_free(msg);
		registry_close(r);
		return (NULL);
	}
	return (r);
}

void
registry_close(struct registry *r)
{
	if (r == NULL)
		return;
	(void)registry_flush(r);
	sqlite3_finalize(r->get_key);
	sqlite3_finalize(r->put_key);
	sqlite3_finalize(r->put_name);
	sqlite3_finalize(r->del_object);
	sqlite3_finalize(r->get_name);
	sqlite3_finalize(r->put_counts);
	sqlite3_finalize(r->get_counts);
	sqlite3_finalize(r->del_counts);
	sqlite3_finalize(r->list);
	sqlite3_close(r->db);
	free(r);
}

static int
get_key(struct registry *r, const char *ns, uint8_t key[DURO_KEY_BYTES])
{
	int rv = -1;

	sqlite3_bind_text(r->get_key, 1, ns, -1, SQLITE_STATIC);
	if (sqlite3_step(r->get_key) == SQLITE_ROW &&
	    sqlite3_column_bytes(r->get_key, 0) == DURO_KEY_BYTES) {
		memcpy(key, sqlite3_column_blob(r->get_key, 0), DURO_KEY_BYTES);
		rv = 0;
	}
	sqlite3_reset(r->get_key);
	return (rv);
}

int
registry_ns_key(struct registry *r, const char *ns, uint8_t key[DURO_KEY_BYTES],
    char *err, size_t errlen)
{
	int rc;

	if (get_key(r, ns, key) == 0)
		return (0);
	if (RAND_bytes(key, DURO_KEY_BYTES) != 1) {
		snprintf(
		    err, errlen, "registry: no randomness for a namespace key");
		return (-1);
	}
	sqlite3_bind_text(r->put_key, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_blob(r->put_key, 2, key, DURO_KEY_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(r->put_key);
	sqlite3_reset(r->put_key);
	/* Every id of the namespace hangs on this key: make it durable now
	 * rather than at the next checkpoint. */
	if (rc != SQLITE_DONE ||
	    sqlite3_wal_checkpoint_v2(
	        r->db, NULL, SQLITE_CHECKPOINT_FULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "registry: storing the key of %s: %s", ns,
		    sqlite3_errmsg(r->db));
		return (-1);
	}
	return (0);
}

int
registry_write_begin(struct registry *r)
{
	if (r->in_txn)
		return (0);
	if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		log_error("registry: begin: %s", sqlite3_errmsg(r->db));
		return (-1);
	}
	r->in_txn = 1;
	return (0);
}

int
registry_pending(const struct registry *r)
{
	return (r->in_txn);
}

int
registry_flush(struct registry *r)
{
	int rv = 0;

	if (!r->in_txn)
		return (0);
	r->in_txn = 0;
	if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_error("registry: commit: %s", sqlite3_errmsg(r->db));
		if (!sqlite3_get_autocommit(r->db))
			sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
		rv = -1;
	}
	return (rv);
}

int
registry_note_name(struct registry *r, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name)
{
	int rc;

	if (registry_write_begin(r) != 0)
		return (-1);
	sqlite3_bind_text(r->put_name, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_blob(r->put_name, 2, id, DURO_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(r->put_name, 3, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(r->put_name);
	sqlite3_reset(r->put_name);
	return (rc == SQLITE_DONE ? 0 : -1);
}

int
registry_forget(
    struct registry *r, const char *ns, const uint8_t id[DURO_ID_BYTES])
{
	int rc;

	if (registry_write_begin(r) != 0)
		return (-1);
	sqlite3_bind_text(r->del_object, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_blob(r->del_object, 2, id, DURO_ID_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(r->del_object);
	sqlite3_reset(r->del_object);
	if (rc != SQLITE_DONE)
		return (-1);
	sqlite3_bind_text(r->del_counts, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_blob(r->del_counts, 2, id, DURO_ID_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(r->del_counts);
	sqlite3_reset(r->del_counts);
	return (rc == SQLITE_DONE ? 0 : -1);
}

int
registry_note_exit(struct registry *r, const char *ns,
    const uint8_t id[DURO_ID_BYTES], uint64_t served, int crashed)
{
	int rc;

	if (registry_write_begin(r) != 0)
		return (-1);
	sqlite3_bind_text(r->put_counts, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_blob(r->put_counts, 2, id, DURO_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(r->put_counts, 3, (sqlite3_int64)served);
	sqlite3_bind_int64(r->put_counts, 4, crashed ? 1 : 0);
	rc = sqlite3_step(r->put_counts);
	sqlite3_reset(r->put_counts);
	return (rc == SQLITE_DONE ? 0 : -1);
}

int
registry_counts_byid(struct registry *r, const char *ns,
    const uint8_t id[DURO_ID_BYTES], struct registry_counts *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	sqlite3_bind_text(r->get_counts, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_blob(r->get_counts, 2, id, DURO_ID_BYTES, SQLITE_STATIC);
	if ((rc = sqlite3_step(r->get_counts)) == SQLITE_ROW) {
		c->known = 1;
		c->first_seen_ms =
		    (uint64_t)sqlite3_column_int64(r->get_counts, 0);
		c->events = (uint64_t)sqlite3_column_int64(r->get_counts, 1);
		c->crashes = (uint64_t)sqlite3_column_int64(r->get_counts, 2);
	}
	sqlite3_reset(r->get_counts);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1);
}

long
registry_list(struct registry *r, const char *only_ns, const char *after_ns,
    const uint8_t after_id[DURO_ID_BYTES], size_t limit,
    void (*f)(void *, const char *, const uint8_t *, const char *), void *arg)
{
	static const uint8_t zero[DURO_ID_BYTES];
	long n = 0;
	int rc;

	if (only_ns != NULL)
		sqlite3_bind_text(r->list, 1, only_ns, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(r->list, 1);
	sqlite3_bind_text(
	    r->list, 2, after_ns != NULL ? after_ns : "", -1, SQLITE_STATIC);
	sqlite3_bind_blob(r->list, 3, after_id != NULL ? after_id : zero,
	    after_ns != NULL ? DURO_ID_BYTES : 0, SQLITE_STATIC);
	sqlite3_bind_int64(r->list, 4, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(r->list)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(r->list, 1) != DURO_ID_BYTES)
			continue;
		f(arg, (const char *)sqlite3_column_text(r->list, 0),
		    sqlite3_column_blob(r->list, 1),
		    (const char *)sqlite3_column_text(r->list, 2));
		n++;
	}
	sqlite3_reset(r->list);
	return (rc == SQLITE_DONE ? n : -1);
}

char *
registry_name_byid(
    struct registry *r, const char *ns, const uint8_t id[DURO_ID_BYTES])
{
	const unsigned char *t;
	char *name = NULL;

	sqlite3_bind_text(r->get_name, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_blob(r->get_name, 2, id, DURO_ID_BYTES, SQLITE_STATIC);
	if (sqlite3_step(r->get_name) == SQLITE_ROW &&
	    (t = sqlite3_column_text(r->get_name, 0)) != NULL)
		name = strdup((const char *)t);
	sqlite3_reset(r->get_name);
	return (name);
}

struct sqlite3 *
registry_db(struct registry *r)
{
	return (r->db);
}
