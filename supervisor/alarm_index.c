/*
 * alarm_index.c — the durable alarm index: the alarms table of
 * registry.sqlite.
 *
 * One row per (namespace, object id, alarm name) that durod must wake:
 * when (due_ms), for which occurrence (scheduled_ms, every_ms) and after
 * how many failed attempts (retry). The object's own database is the
 * truth about its alarms; this index only has to wake it no later than
 * needed (ipc/PROTOCOL.md section 14). Writes join the registry's group
 * commit (registry_write_begin), so they are durable once durod flushes
 * it, before the loop sleeps.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durod.h"

enum { Q_GET, Q_PUT, Q_DEL, Q_DEL_OBJECT, Q_SCAN, Q_COUNT, Q_NEXT, Q_N };

static const char *const queries[Q_N] = {
    [Q_GET] = "SELECT due_ms, scheduled_ms, every_ms, retry FROM alarms "
              "WHERE ns = ?1 AND id = ?2 AND name = ?3",
    [Q_PUT] = "INSERT INTO alarms (ns, id, name, due_ms, scheduled_ms, "
              "every_ms, retry) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
              "ON CONFLICT (ns, id, name) DO UPDATE SET due_ms = ?4, "
              "scheduled_ms = ?5, every_ms = ?6, retry = ?7",
    [Q_DEL] = "DELETE FROM alarms WHERE ns = ?1 AND id = ?2 AND name = ?3",
    [Q_DEL_OBJECT] = "DELETE FROM alarms WHERE ns = ?1 AND id = ?2",
    [Q_SCAN] = "SELECT ns, id, name, due_ms, scheduled_ms, every_ms, retry "
               "FROM alarms WHERE due_ms >= ?1 AND due_ms < ?2 "
               "ORDER BY due_ms LIMIT ?3",
    [Q_COUNT] = "SELECT count(*) FROM alarms",
    [Q_NEXT] = "SELECT min(due_ms) FROM alarms WHERE ns = ?1 AND id = ?2",
};

struct alarm_index {
	struct registry *reg;
	sqlite3 *db;
	sqlite3_stmt *q[Q_N];
};

struct alarm_index *
alarm_index_open(struct registry *reg, char *err, size_t errlen)
{
	struct alarm_index *ix;

	if ((ix = calloc(1, sizeof(*ix))) == NULL) {
		snprintf(err, errlen, "alarm index: out of memory");
		return (NULL);
	}
	ix->reg = reg;
	ix->db = registry_db(reg);
	for (int i = 0; i < Q_N; i++) {
		if (sqlite3_prepare_v2(
		        ix->db, queries[i], -1, &ix->q[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "alarm index: %s",
			    sqlite3_errmsg(ix->db));
			alarm_index_close(ix);
			return (NULL);
		}
	}
	return (ix);
}

void
alarm_index_close(struct alarm_index *ix)
{
	if (ix == NULL)
		return;
	for (int i = 0; i < Q_N; i++)
		sqlite3_finalize(ix->q[i]);
	free(ix);
}

/* Bind the key (ns, id[, name]) of a statement. */
static sqlite3_stmt *
bind_key(struct alarm_index *ix, int q, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name)
{
	sqlite3_stmt *s = ix->q[q];

	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, id, DURO_ID_BYTES, SQLITE_STATIC);
	if (name != NULL)
		sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
	return (s);
}

/* Step a write statement inside the group commit; 0 or -1 (logged). */
static int
run_write(struct alarm_index *ix, sqlite3_stmt *s)
{
	int rc;

	if (registry_write_begin(ix->reg) != 0) {
		sqlite3_reset(s);
		return (-1);
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_error("alarm index: %s", sqlite3_errmsg(ix->db));
		return (-1);
	}
	return (0);
}

int
alarm_index_get(struct alarm_index *ix, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name, struct alarm_row *row)
{
	sqlite3_stmt *s = bind_key(ix, Q_GET, ns, id, name);
	int rc = sqlite3_step(s), rv = 0;

	if (rc == SQLITE_ROW) {
		row->due_ms = (uint64_t)sqlite3_column_int64(s, 0);
		row->scheduled_ms = (uint64_t)sqlite3_column_int64(s, 1);
		row->every_ms = (uint64_t)sqlite3_column_int64(s, 2);
		row->retry = (uint32_t)sqlite3_column_int64(s, 3);
		rv = 1;
	} else if (rc != SQLITE_DONE) {
		log_error("alarm index: %s", sqlite3_errmsg(ix->db));
		rv = -1;
	}
	sqlite3_reset(s);
	return (rv);
}

int
alarm_index_put(struct alarm_index *ix, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name,
    const struct alarm_row *row)
{
	sqlite3_stmt *s = bind_key(ix, Q_PUT, ns, id, name);

	sqlite3_bind_int64(s, 4, (sqlite3_int64)row->due_ms);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)row->scheduled_ms);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)row->every_ms);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)row->retry);
	return (run_write(ix, s));
}

int
alarm_index_del(struct alarm_index *ix, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name)
{
	return (run_write(ix, bind_key(ix, Q_DEL, ns, id, name)));
}

int
alarm_index_del_object(
    struct alarm_index *ix, const char *ns, const uint8_t id[DURO_ID_BYTES])
{
	return (run_write(ix, bind_key(ix, Q_DEL_OBJECT, ns, id, NULL)));
}

int
alarm_index_next(struct alarm_index *ix, const char *ns,
    const uint8_t id[DURO_ID_BYTES], uint64_t *due_ms)
{
	sqlite3_stmt *st = bind_key(ix, Q_NEXT, ns, id, NULL);
	int found = 0;

	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*due_ms = (uint64_t)sqlite3_column_int64(st, 0);
		found = 1;
	}
	sqlite3_reset(st);
	return (found);
}

long
alarm_index_scan(struct alarm_index *ix, uint64_t from, uint64_t until,
    size_t limit, alarm_scan_fn fn, void *arg)
{
	sqlite3_stmt *s = ix->q[Q_SCAN];
	struct alarm_row row;
	long n = 0;
	int rc;

	/* SQLite integers are signed: clamp the open end of the range. */
	if (until > (uint64_t)INT64_MAX)
		until = (uint64_t)INT64_MAX;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)until);
	sqlite3_bind_int64(s, 3, limit == 0 ? -1 : (sqlite3_int64)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *ns = (const char *)sqlite3_column_text(s, 0);
		const char *name = (const char *)sqlite3_column_text(s, 2);
		if (ns == NULL || name == NULL ||
		    sqlite3_column_bytes(s, 1) != DURO_ID_BYTES)
			continue; /* not a row durod wrote */
		row.due_ms = (uint64_t)sqlite3_column_int64(s, 3);
		row.scheduled_ms = (uint64_t)sqlite3_column_int64(s, 4);
		row.every_ms = (uint64_t)sqlite3_column_int64(s, 5);
		row.retry = (uint32_t)sqlite3_column_int64(s, 6);
		fn(arg, ns, sqlite3_column_blob(s, 1), name, &row);
		n++;
	}
	if (rc != SQLITE_DONE) {
		log_error("alarm index: scan: %s", sqlite3_errmsg(ix->db));
		n = -1;
	}
	sqlite3_reset(s);
	return (n);
}

long
alarm_index_count(struct alarm_index *ix)
{
	sqlite3_stmt *s = ix->q[Q_COUNT];
	long n = -1;

	if (sqlite3_step(s) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return (n);
}
