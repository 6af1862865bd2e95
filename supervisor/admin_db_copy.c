/*
 * admin_db_copy.c — DBJOB_EXPORT and DBJOB_IMPORT: an object's database
 * as one standalone file, out and in.
 *
 * An export is a consistent copy (the online backup API reads the source
 * in one read transaction, so it may run beside the worker) made a
 * rollback-journal database, so that the file alone is the database.
 *
 * An import replaces db.sqlite while no worker runs; the directory's
 * flock, the one every worker holds for its life, proves it. Nothing in
 * the directory changes until the new file is known to be a database, and
 * the old one's -wal, -shm and -journal go before it is replaced: none of
 * them names the database it belongs to, so a stale WAL would be applied
 * to the new file as if it were its own.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "durod.h"

#define EXPORT_BUSY_MS 10000 /* an export waits this long for a lock */
#define IMPORT_NAME "db.sqlite.import"

static const char *const db_sidecars[] = {"-wal", "-shm", "-journal"};

/* Remove name and its -wal, -shm and -journal under dirfd; gone already
 * is fine. */
static int
remove_db_files(int dirfd, const char *name)
{
	char side[NAME_MAX + 1];
	int rv = 0;

	if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
		rv = -1;
	for (size_t i = 0; i < sizeof(db_sidecars) / sizeof(*db_sidecars);
	     i++) {
		snprintf(side, sizeof(side), "%s%s", name, db_sidecars[i]);
		if (unlinkat(dirfd, side, 0) != 0 && errno != ENOENT)
			rv = -1;
	}
	return (rv);
}

/* Run sql and copy the first column of its first row to out (may be
 * NULL). Returns the SQLite result code. */
static int
db_query(struct sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *st;
	const unsigned char *v;
	int rv;

	if (out != NULL)
		out[0] = '\0';
	if ((rv = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return (rv);
	rv = sqlite3_step(st);
	if (rv == SQLITE_ROW && out != NULL &&
	    (v = sqlite3_column_text(st, 0)) != NULL)
		snprintf(out, outlen, "%s", (const char *)v);
	sqlite3_finalize(st);
	return (rv == SQLITE_ROW || rv == SQLITE_DONE ? SQLITE_OK : rv);
}

/* ---- export ---- */

/*
 * The copy, opened before the job takes the object owner's ids since it
 * is durod's file in durod's directory. With no journal the backup needs
 * no file but this one: nothing to create while the ids are switched.
 * (Not defensive: that mode refuses journal_mode=OFF, and nothing but
 * the backup runs on this connection.)
 */
static int
export_target(struct dbjob *job, const char *path, struct sqlite3 **dst)
{
	char mode[16] = "";
	int rv;

	rv = sqlite3_open_v2(
	    path, dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rv == SQLITE_OK)
		rv = db_query(
		    *dst, "PRAGMA journal_mode=OFF", mode, sizeof(mode));
	if (rv == SQLITE_OK)
		rv = db_query(*dst, "PRAGMA synchronous=OFF", NULL, 0);
	if (rv != SQLITE_OK)
		return (dbjob_fail(job, 500, "storage", "%s: %s", path,
		    *dst != NULL ? sqlite3_errmsg(*dst) : sqlite3_errstr(rv)));
	if (strcasecmp(mode, "off") != 0)
		return (dbjob_fail(job, 500, "storage",
		    "%s: journal_mode is \"%s\", not off", path, mode));
	return (0);
}

/* Copy the object's database into dst, in one read transaction. */
static int
export_copy(struct dbjob *job, struct sqlite3 *dst)
{
	struct dbjob_dir d;
	struct sqlite3 *src = NULL;
	sqlite3_backup *b;
	uint64_t deadline = dbjob_now_ms() + EXPORT_BUSY_MS;
	int rv = -1, step;

	if (dbjob_enter(job, &d) != 0)
		return (-1);
	if (dbjob_open(job, &d, &deadline, &src) != 0)
		goto out;
	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		dbjob_fail(
		    job, 500, "storage", "backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	step = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if ((step & 0xff) == SQLITE_BUSY || (step & 0xff) == SQLITE_LOCKED)
		dbjob_fail(job, 504, "timeout",
		    "the database stayed locked past %d ms", EXPORT_BUSY_MS);
	else if (step != SQLITE_DONE)
		dbjob_fail(
		    job, 500, "storage", "backup: %s", sqlite3_errstr(step));
	else
		rv = 0;
out:
	dbjob_close(job, src);
	dbjob_leave(&d);
	return (rv);
}

/*
 * The backup copies page 1 as it is, so a WAL database's copy still says
 * WAL in its header; reopened, the copy can be switched to a rollback
 * journal like any database (its empty WAL goes with the switch).
 */
static int
export_standalone(struct dbjob *job, const char *path)
{
	struct sqlite3 *db = NULL;
	char mode[16];
	int rv;

	rv = sqlite3_open_v2(
	    path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rv == SQLITE_OK) {
		dbjob_settings(db, NULL);
		rv = db_query(
		    db, "PRAGMA journal_mode=DELETE", mode, sizeof(mode));
	}
	if (rv != SQLITE_OK)
		dbjob_fail(job, 500, "storage", "the copy: %s",
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rv));
	else if (strcasecmp(mode, "delete") != 0)
		dbjob_fail(job, 500, "storage",
		    "the copy's journal_mode is \"%s\", not delete", mode);
	dbjob_close(job, db);
	return (job->status >= 400 ? -1 : 0);
}

/* Hand the finished copy over as a descriptor of an unlinked file. */
static int
export_hand_over(struct dbjob *job, const char *path)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 ||
	    fstat(fd, &st) != 0) {
		dbjob_fail(
		    job, 500, "storage", "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return (-1);
	}
	unlink(path);
	job->fd = fd;
	job->size = (uint64_t)st.st_size;
	job->status = 200;
	return (0);
}

void
dbjob_export(struct dbjob *job)
{
	struct sqlite3 *dst = NULL;
	char path[PATH_MAX], *slash;
	int fd, dirfd;

	if (job->tmp_dir == NULL ||
	    (size_t)snprintf(path, sizeof(path), "%s/duro-export-XXXXXX",
	        job->tmp_dir) >= sizeof(path)) {
		dbjob_fail(job, 500, "internal", "no usable tmp_dir");
		return;
	}
	if ((fd = mkstemp(path)) == -1) {
		dbjob_fail(
		    job, 500, "storage", "%s: %s", path, strerror(errno));
		return;
	}
	close(fd);
	if (export_target(job, path, &dst) == 0 && export_copy(job, dst) == 0) {
		dbjob_close(job, dst);
		dst = NULL;
		if (job->status < 400 && export_standalone(job, path) == 0)
			export_hand_over(job, path);
	}
	dbjob_close(job, dst);
	if (job->status == 200)
		return;
	slash = strrchr(path, '/');
	*slash = '\0';
	if ((dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		remove_db_files(dirfd, slash + 1);
		close(dirfd);
	}
}

/* ---- import ---- */

static uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	        (uint32_t)p[2] << 8 | p[3]);
}

/*
 * What the header alone tells (https://sqlite.org/fileformat.html): the
 * magic string, a power-of-two page size, whole pages, and as many pages
 * as the header counts when that count is valid (its change counter
 * matches "version-valid-for"). quick_check then reads the rest.
 */
static int
import_check_header(struct dbjob *job)
{
	const uint8_t *h = job->data;
	size_t n = job->data_len;
	uint32_t psize, pages;

	if (n == 0)
		return (
		    dbjob_fail(job, 400, "bad_database", "the file is empty"));
	if (n < 100 || memcmp(h, "SQLite format 3", 16) != 0)
		return (dbjob_fail(job, 400, "bad_database",
		    "not a SQLite database: no SQLite header"));
	psize = (uint32_t)h[16] << 8 | h[17];
	if (psize == 1)
		psize = 65536;
	if (psize < 512 || (psize & (psize - 1)) != 0)
		return (dbjob_fail(job, 400, "bad_database",
		    "not a SQLite database: page size %u", psize));
	if (n % psize != 0)
		return (dbjob_fail(job, 400, "bad_database",
		    "truncated: %zu bytes is not a whole number of %u-byte "
		    "pages",
		    n, psize));
	pages = be32(h + 28);
	if (pages != 0 && be32(h + 24) == be32(h + 92) &&
	    (uint64_t)pages * psize > n)
		return (dbjob_fail(job, 400, "bad_database",
		    "truncated: %zu bytes, but the header counts %u pages of "
		    "%u bytes",
		    n, pages, psize));
	return (0);
}

/* The file as sent, on disk and synced, under IMPORT_NAME. */
static int
import_write(struct dbjob *job, int dirfd)
{
	size_t off = 0;
	ssize_t w;
	int fd;

	/* A stale one (and its WAL) is from an import that died. */
	if (remove_db_files(dirfd, IMPORT_NAME) != 0 ||
	    (fd = openat(dirfd, IMPORT_NAME,
	         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	        -1)
		return (dbjob_fail(job, 500, "storage", "%s/%s: %s", job->dir,
		    IMPORT_NAME, strerror(errno)));
	while (off < job->data_len) {
		if ((w = write(fd, job->data + off, job->data_len - off)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	if (off < job->data_len || fsync(fd) != 0) {
		dbjob_fail(job, 500, "storage", "%s/%s: %s", job->dir,
		    IMPORT_NAME, strerror(errno));
		close(fd);
		return (-1);
	}
	close(fd);
	return (0);
}

/* PRAGMA quick_check: one row "ok", or rows that say what is wrong. */
static int
import_quick_check(struct dbjob *job, struct sqlite3 *db)
{
	char row[512];
	int rv;

	rv = db_query(db, "PRAGMA quick_check", row, sizeof(row));
	if (rv != SQLITE_OK)
		return (dbjob_fail(job, 400, "bad_database",
		    "not a usable SQLite database: %s", sqlite3_errmsg(db)));
	if (strcmp(row, "ok") != 0)
		return (dbjob_fail(
		    job, 400, "bad_database", "quick_check: %s", row));
	return (0);
}

/* One _duro_alarms row, checked as durod checks a worker's alarm_sync. */
static int
import_alarm(struct dbjob *job, sqlite3_stmt *st, struct dbjob_alarm *a)
{
	/* Types first: reading a column as another type converts it. */
	int typed = sqlite3_column_type(st, 0) == SQLITE_TEXT &&
	            sqlite3_column_type(st, 1) == SQLITE_INTEGER &&
	            sqlite3_column_type(st, 2) == SQLITE_INTEGER;
	const char *name = (const char *)sqlite3_column_text(st, 0);
	size_t len = (size_t)sqlite3_column_bytes(st, 0);
	int64_t at = sqlite3_column_int64(st, 1);
	int64_t every = sqlite3_column_int64(st, 2);

	if (!typed || name == NULL || len > IPC_MAX_ALARM_NAME ||
	    !ipc_is_utf8(name, len))
		return (dbjob_fail(job, 400, "bad_database",
		    "_duro_alarms: each row is a name (text of at most %d "
		    "bytes of UTF-8) and two integer times",
		    IPC_MAX_ALARM_NAME));
	if (at < 0 || (uint64_t)at > IPC_MAX_TIME_MS || every < 0 ||
	    (uint64_t)every > IPC_MAX_TIME_MS)
		return (dbjob_fail(job, 400, "bad_database",
		    "_duro_alarms: alarm \"%.64s\": times are integers in "
		    "0..2^53",
		    name));
	if ((a->name = strdup(name)) == NULL)
		return (dbjob_fail(job, 500, "internal", "out of memory"));
	a->at_ms = at;
	a->every_ms = every;
	return (0);
}

/* The alarms the new database holds, for durod's index. */
static int
import_alarms(struct dbjob *job, struct sqlite3 *db)
{
	sqlite3_stmt *st;
	char n[16];
	int rv;

	if (db_query(db,
	        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
	        "AND name = '_duro_alarms'",
	        n, sizeof(n)) != SQLITE_OK ||
	    strcmp(n, "1") != 0)
		return (0);
	if (sqlite3_prepare_v2(db,
	        "SELECT name, at_ms, every_ms FROM _duro_alarms "
	        "ORDER BY at_ms, name",
	        -1, &st, NULL) != SQLITE_OK)
		return (dbjob_fail(job, 400, "bad_database", "_duro_alarms: %s",
		    sqlite3_errmsg(db)));
	if ((job->alarms = calloc(IPC_MAX_ALARMS, sizeof(*job->alarms))) ==
	    NULL) {
		sqlite3_finalize(st);
		return (dbjob_fail(job, 500, "internal", "out of memory"));
	}
	while ((rv = sqlite3_step(st)) == SQLITE_ROW) {
		if (job->nalarms == IPC_MAX_ALARMS) {
			dbjob_fail(job, 400, "bad_database",
			    "_duro_alarms: more than %d alarms",
			    IPC_MAX_ALARMS);
			break;
		}
		if (import_alarm(job, st, &job->alarms[job->nalarms]) != 0)
			break;
		job->nalarms++;
	}
	if (rv != SQLITE_ROW && rv != SQLITE_DONE)
		dbjob_fail(job, 400, "bad_database", "_duro_alarms: %s",
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return (job->status >= 400 ? -1 : 0);
}

/* Once known good: WAL mode, set in the header, as a worker's. */
static int
import_wal(struct dbjob *job, struct sqlite3 *db)
{
	char mode[16];

	if (db_query(db, "PRAGMA journal_mode=WAL", mode, sizeof(mode)) !=
	    SQLITE_OK)
		return (dbjob_fail(job, 500, "storage", "journal_mode=WAL: %s",
		    sqlite3_errmsg(db)));
	if (strcasecmp(mode, "wal") != 0)
		return (dbjob_fail(job, 500, "storage",
		    "journal_mode is \"%s\", not wal", mode));
	return (0);
}

/*
 * Check the written file and make it what a worker expects, reading its
 * alarms on the way. cell_size_check makes SQLite look harder at every
 * page it reads.
 */
static int
import_prepare(struct dbjob *job, const char *path)
{
	struct sqlite3 *db = NULL;
	int rv;

	rv = sqlite3_open_v2(
	    path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rv == SQLITE_OK) {
		dbjob_settings(db, NULL);
		rv = db_query(db, "PRAGMA cell_size_check=ON", NULL, 0);
	}
	if (rv == SQLITE_OK)
		rv = db_query(db, "PRAGMA synchronous=FULL", NULL, 0);
	if (rv != SQLITE_OK)
		dbjob_fail(job, 400, "bad_database", "cannot open it: %s",
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rv));
	else if (import_quick_check(job, db) == 0 &&
	         import_alarms(job, db) == 0)
		import_wal(job, db);
	/* The last connection checkpoints and removes the import's WAL. */
	dbjob_close(job, db);
	return (job->status >= 400 ? -1 : 0);
}

/*
 * The swap. Once the old database's -wal is gone, its db.sqlite may be
 * missing the commits the WAL held; but a crash then leaves that old,
 * checkpointed database, while the other order could leave the new
 * database beside the old WAL, which SQLite would apply to it.
 */
static int
import_swap(struct dbjob *job, int dirfd)
{
	char side[32];

	for (size_t i = 0; i < sizeof(db_sidecars) / sizeof(*db_sidecars);
	     i++) {
		snprintf(side, sizeof(side), "db.sqlite%s", db_sidecars[i]);
		if (unlinkat(dirfd, side, 0) != 0 && errno != ENOENT)
			return (dbjob_fail(job, 500, "storage", "%s/%s: %s",
			    job->dir, side, strerror(errno)));
	}
	if (fsync(dirfd) != 0 ||
	    renameat(dirfd, IMPORT_NAME, dirfd, "db.sqlite") != 0 ||
	    fsync(dirfd) != 0)
		return (dbjob_fail(job, 500, "storage",
		    "%s: replacing db.sqlite: %s", job->dir, strerror(errno)));
	return (0);
}

static int
import_result(struct dbjob *job)
{
	cJSON *o;

	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddTrueToObject(o, "imported") == NULL ||
	    cJSON_AddNumberToObject(o, "bytes", (double)job->data_len) ==
	        NULL ||
	    cJSON_AddNumberToObject(o, "alarms", (double)job->nalarms) ==
	        NULL ||
	    (job->body = cJSON_PrintUnformatted(o)) == NULL) {
		cJSON_Delete(o);
		return (dbjob_fail(job, 500, "internal", "out of memory"));
	}
	cJSON_Delete(o);
	job->body_len = strlen(job->body);
	job->status = 200;
	return (0);
}

void
dbjob_import(struct dbjob *job)
{
	struct dbjob_dir d;
	char path[PATH_MAX];

	if (import_check_header(job) != 0)
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", job->dir,
	        IMPORT_NAME) >= sizeof(path)) {
		dbjob_fail(job, 500, "internal", "the path is too long");
		return;
	}
	if (dbjob_enter(job, &d) != 0)
		return;
	/* The worker's own lock: held, a worker runs (or is starting). */
	if (flock(d.fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			dbjob_fail(job, 409, "conflict",
			    "the object's worker is running");
		else
			dbjob_fail(job, 500, "storage", "%s: flock: %s",
			    job->dir, strerror(errno));
	} else if (import_write(job, d.fd) == 0) {
		if (import_prepare(job, path) != 0 ||
		    import_swap(job, d.fd) != 0 || import_result(job) != 0)
			remove_db_files(d.fd, IMPORT_NAME);
	}
	dbjob_leave(&d);
}
