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
    "CREATE INDEX IF NOT EXISTS alarms_due ON alarms (due_ms);";

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
	        "INSERT OR IGNORE INTO objects (ns, id, name, first_seen_ms) "
	        "VALUES (?1, ?2, ?3, CAST((julianday('now') - 2440587.5) * "
	        "86400000 AS INTEGER))",
	        -1, &r->put_name, NULL) != SQLITE_OK ||
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
	return (rc == SQLITE_DONE ? 0 : -1);
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
