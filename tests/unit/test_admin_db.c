/*
 * test_admin_db.c — an object's database for the admin API
 * (supervisor/admin_db*.c): read-only SQL, export, import, and the
 * threads that run them off the loop.
 *
 * Databases are made the way a worker makes them (WAL mode) by a child
 * process that plays the worker; run as root, the child takes uid 65534
 * and owns the object's directory, as a worker whose policy drops ids
 * does, so the tests also see what files the jobs leave and whose.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "durod.h"

#define NOBODY 65534
#define MiB (1024 * 1024)

struct fixture {
	char root[64];
	char a[128];   /* object A's directory */
	char b[128];   /* object B's */
	char tmp[128]; /* durod's, for exports */
};

/* The worker's ids: nobody when the tests run as root. */
static uid_t
worker_id(void)
{
	return (geteuid() == 0 ? NOBODY : geteuid());
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/test_admin_db.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	/* Like durod's directories above an object's: passable, no more. */
	assert_int_equal(chmod(f->root, 0711), 0);
	snprintf(f->a, sizeof(f->a), "%s/a", f->root);
	snprintf(f->b, sizeof(f->b), "%s/b", f->root);
	snprintf(f->tmp, sizeof(f->tmp), "%s/tmp", f->root);
	assert_int_equal(mkdir(f->a, 0700), 0);
	assert_int_equal(mkdir(f->b, 0700), 0);
	assert_int_equal(mkdir(f->tmp, 0700), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(f->a, NOBODY, NOBODY), 0);
		assert_int_equal(chown(f->b, NOBODY, NOBODY), 0);
	}
	*state = f;
	return (0);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return (0);
}

/* ---- the stand-in worker: a child process ---- */

static void
child_become_worker(void)
{
	if (geteuid() != 0)
		return;
	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
	    setuid(NOBODY) != 0)
		_exit(90);
}

static sqlite3 *
child_open(const char *dir)
{
	char path[256];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/db.sqlite", dir);
	if (sqlite3_open_v2(path, &db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	        NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) !=
	        SQLITE_OK)
		_exit(91);
	sqlite3_busy_timeout(db, 5000);
	return (db);
}

static void
child_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sql != NULL &&
	    sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "worker: %s: %s\n", sql, err);
		_exit(92);
	}
}

/* Run sql as the worker would; crash: exit without closing, which
 * leaves the WAL with its frames and the -shm behind. 0 on success. */
static int
worker_exec(const char *dir, const char *sql, int crash)
{
	pid_t pid;
	int st;

	if ((pid = fork()) == 0) {
		sqlite3 *db;

		child_become_worker();
		db = child_open(dir);
		child_exec(db, sql);
		if (!crash && sqlite3_close(db) != SQLITE_OK)
			_exit(93);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* A worker that runs before, says so, and then runs after and closes:
 * after delay_ms, or when told (delay_ms 0). */
struct holder {
	pid_t pid;
	int ready, go;
	int delay_ms;
};

static void
holder_start(struct holder *h, const char *dir, const char *before,
    const char *after, int delay_ms)
{
	int r[2], g[2];
	char c;

	assert_int_equal(pipe(r), 0);
	assert_int_equal(pipe(g), 0);
	if ((h->pid = fork()) == 0) {
		sqlite3 *db;

		close(r[0]);
		close(g[1]);
		child_become_worker();
		db = child_open(dir);
		child_exec(db, before);
		if (write(r[1], "r", 1) != 1)
			_exit(94);
		if (delay_ms > 0)
			usleep(delay_ms * 1000);
		else if (read(g[0], &c, 1) != 1)
			_exit(95);
		child_exec(db, after);
		_exit(sqlite3_close(db) == SQLITE_OK ? 0 : 93);
	}
	assert_true(h->pid > 0);
	close(r[1]);
	close(g[0]);
	h->delay_ms = delay_ms;
	h->ready = r[0];
	h->go = g[1];
	assert_int_equal(read(h->ready, &c, 1), 1);
}

static void
holder_finish(struct holder *h)
{
	int st;

	if (h->delay_ms == 0)
		assert_int_equal(write(h->go, "g", 1), 1);
	assert_int_equal(waitpid(h->pid, &st, 0), h->pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(h->ready);
	close(h->go);
}

/* A new database: a table t, the SDK's alarms table, and n rows. */
static void
make_db(const char *dir, int n)
{
	static const char *const files[] = {"", "-wal", "-shm"};
	char sql[512];

	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		snprintf(sql, sizeof(sql), "%s/db.sqlite%s", dir, files[i]);
		unlink(sql);
	}
	snprintf(sql, sizeof(sql),
	    "CREATE TABLE t (x INTEGER);"
	    "CREATE TABLE _duro_alarms (name TEXT PRIMARY KEY, at_ms INTEGER "
	    "NOT NULL, every_ms INTEGER NOT NULL) WITHOUT ROWID;"
	    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
	    "WHERE i < %d) INSERT INTO t SELECT i FROM c WHERE %d > 0",
	    n, n);
	assert_int_equal(worker_exec(dir, sql, 0), 0);
}

/* ---- running jobs ---- */

static struct dbjob *
sql_job(const char *dir, const char *sql, size_t max_rows, uint32_t timeout)
{
	struct dbjob *job = dbjob_new(DBJOB_SQL);

	assert_non_null(job);
	job->dir = strdup(dir);
	job->sql = strdup(sql);
	job->max_rows = max_rows;
	job->timeout_ms = timeout;
	return (job);
}

static struct dbjob *
run_sql(const char *dir, const char *sql, size_t max_rows)
{
	struct dbjob *job = sql_job(dir, sql, max_rows, 5000);

	dbjob_run(job);
	return (job);
}

/* Assert the query answers exactly body. */
static void
expect_sql(const char *dir, const char *sql, const char *body)
{
	struct dbjob *job = run_sql(dir, sql, 1000);

	if (job->status != 200)
		fprintf(stderr, "%s: %d %s\n", sql, job->status, job->body);
	assert_int_equal(job->status, 200);
	assert_string_equal(job->body, body);
	assert_int_equal(job->body_len, strlen(body));
	dbjob_free(job);
}

/* Assert the job failed with status and code. */
static void
expect_error(struct dbjob *job, int status, const char *code)
{
	cJSON *o;

	if (job->status != status)
		fprintf(stderr, "got %d %s\n", job->status, job->body);
	assert_int_equal(job->status, status);
	assert_non_null(job->body);
	assert_non_null(o = cJSON_Parse(job->body));
	assert_string_equal(
	    cJSON_GetStringValue(cJSON_GetObjectItem(o, "error")), code);
	assert_non_null(
	    cJSON_GetStringValue(cJSON_GetObjectItem(o, "message")));
	cJSON_Delete(o);
	assert_int_equal(job->fd, -1);
}

static void
expect_sql_error(const char *dir, const char *sql, int status, const char *code)
{
	struct dbjob *job = run_sql(dir, sql, 1000);

	expect_error(job, status, code);
	dbjob_free(job);
}

/* Every file in dir belongs to the worker. */
static void
expect_owned(const char *dir)
{
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		assert_int_equal(
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW), 0);
		if (st.st_uid != worker_id() || st.st_gid != worker_id())
			fail_msg("%s/%s is %u:%u", dir, e->d_name,
			    (unsigned)st.st_uid, (unsigned)st.st_gid);
	}
	closedir(d);
}

static int
exists(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return (access(path, F_OK) == 0);
}

/* ---- SQL ---- */

static void
test_sql_types(void **state)
{
	struct fixture *f = *state;

	make_db(f->a, 0);
	assert_int_equal(worker_exec(f->a,
	                     "CREATE TABLE v (i, r, s, n, b);"
	                     "INSERT INTO v VALUES (9007199254740993, 1.5, "
	                     "'a \"q\"' || char(10) || 'line\\', NULL, "
	                     "x'00ff')",
	                     0),
	    0);
	expect_sql(f->a, "SELECT * FROM v",
	    "{\"columns\":[\"i\",\"r\",\"s\",\"n\",\"b\"],\"rows\":[["
	    "9007199254740993,1.5,\"a \\\"q\\\"\\nline\\\\\",null,"
	    "{\"blob\":\"00ff\"}]],\"truncated\":false}");
	/* The extremes of the types, exactly. */
	expect_sql(f->a,
	    "SELECT -9223372036854775808, 9223372036854775807, 0.1, 1e999, "
	    "x''",
	    "{\"columns\":[\"-9223372036854775808\",\"9223372036854775807\","
	    "\"0.1\",\"1e999\",\"x''\"],\"rows\":[[-9223372036854775808,"
	    "9223372036854775807,0.10000000000000001,null,{\"blob\":\"\"}]],"
	    "\"truncated\":false}");
	/* Text is any bytes: NUL escaped, invalid UTF-8 replaced, valid
	 * UTF-8 as it is. */
	expect_sql(f->a,
	    "SELECT CAST(x'6100ff62' AS TEXT) AS a, 'é' AS b, char(1) AS c",
	    "{\"columns\":[\"a\",\"b\",\"c\"],\"rows\":[[\"a\\u0000\\ufffdb\","
	    "\"é\",\"\\u0001\"]],\"truncated\":false}");
	/* No rows. */
	expect_sql(f->a, "SELECT x FROM t",
	    "{\"columns\":[\"x\"],\"rows\":[],\"truncated\":false}");
}

static void
test_sql_truncation(void **state)
{
	struct fixture *f = *state;
	struct dbjob *job;
	cJSON *o;

	make_db(f->a, 10);
	expect_sql(f->a, "SELECT x FROM t ORDER BY x LIMIT 3",
	    "{\"columns\":[\"x\"],\"rows\":[[1],[2],[3]],\"truncated\":false}");
	job = run_sql(f->a, "SELECT x FROM t ORDER BY x", 3);
	assert_int_equal(job->status, 200);
	assert_string_equal(job->body, "{\"columns\":[\"x\"],\"rows\":[[1],[2],"
	                               "[3]],\"truncated\":true}");
	dbjob_free(job);
	/* Exactly max_rows rows: nothing was left out. */
	job = run_sql(f->a, "SELECT x FROM t WHERE x <= 3 ORDER BY x", 3);
	assert_int_equal(job->status, 200);
	assert_non_null(strstr(job->body, "\"truncated\":false"));
	dbjob_free(job);
	/* 20 MiB of hex does not fit 16 MiB: whole rows, then truncated. */
	job = run_sql(f->a,
	    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
	    "WHERE i < 10) SELECT i, zeroblob(1048576) FROM c",
	    0);
	assert_int_equal(job->status, 200);
	assert_true(job->body_len <= 16 * MiB);
	assert_true(job->body_len > 14 * MiB);
	assert_non_null(o = cJSON_Parse(job->body));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "rows")), 7);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "truncated")));
	cJSON_Delete(o);
	dbjob_free(job);
}

static void
test_sql_read_only(void **state)
{
	static const char *const refused[] = {
	    "INSERT INTO t VALUES (100)",
	    "UPDATE t SET x = 0",
	    "DELETE FROM t",
	    "CREATE TABLE u (y)",
	    "CREATE TEMP TABLE u (y)",
	    "DROP TABLE t",
	    "PRAGMA user_version = 5",
	    "PRAGMA journal_mode = DELETE",
	    "PRAGMA wal_checkpoint(TRUNCATE)",
	    "PRAGMA writable_schema = ON",
	    "ATTACH '/tmp/test_admin_db_attach' AS x",
	    "BEGIN IMMEDIATE",
	    "SAVEPOINT s",
	    "VACUUM",
	    "VACUUM INTO '/tmp/test_admin_db_vacuum'",
	    "REINDEX",
	    "ANALYZE",
	    "WITH c AS (SELECT 1) INSERT INTO t SELECT * FROM c",
	};
	struct fixture *f = *state;
	struct dbjob *job;

	make_db(f->a, 2);
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		job = run_sql(f->a, refused[i], 10);
		if (job->status != 400 ||
		    strstr(job->body, "\"not_read_only\"") == NULL)
			fail_msg(
			    "%s: %d %s", refused[i], job->status, job->body);
		dbjob_free(job);
	}
	/* No extension loading either (an error of its own). */
	job = run_sql(f->a, "SELECT load_extension('/tmp/nothing')", 10);
	assert_int_equal(job->status, 400);
	dbjob_free(job);
	assert_int_equal(access("/tmp/test_admin_db_attach", F_OK), -1);
	assert_int_equal(access("/tmp/test_admin_db_vacuum", F_OK), -1);
	/* Nothing changed; inspection pragmas are fine. */
	expect_sql(f->a, "SELECT count(*) AS n FROM t",
	    "{\"columns\":[\"n\"],\"rows\":[[2]],\"truncated\":false}");
	expect_sql(f->a, "PRAGMA user_version",
	    "{\"columns\":[\"user_version\"],\"rows\":[[0]],"
	    "\"truncated\":false}");
	expect_sql(f->a, "SELECT name FROM pragma_table_info('t')",
	    "{\"columns\":[\"name\"],\"rows\":[[\"x\"]],\"truncated\":false}");
	job = run_sql(f->a, "PRAGMA table_info(t)", 10);
	assert_int_equal(job->status, 200);
	dbjob_free(job);
}

static void
test_sql_statements(void **state)
{
	struct fixture *f = *state;
	struct dbjob *job;

	make_db(f->a, 1);
	expect_sql_error(f->a, "SELECT 1; SELECT 2", 400, "sql_error");
	expect_sql_error(f->a, "SELECT 1; DELETE FROM t", 400, "sql_error");
	expect_sql_error(f->a, "", 400, "sql_error");
	expect_sql_error(f->a, " ; -- nothing", 400, "sql_error");
	expect_sql(f->a, "SELECT 1 AS one ;; \n\t",
	    "{\"columns\":[\"one\"],\"rows\":[[1]],\"truncated\":false}");
	expect_sql(f->a, "SELECT 1 AS one; -- that was all\n",
	    "{\"columns\":[\"one\"],\"rows\":[[1]],\"truncated\":false}");
	job = run_sql(f->a, "SELEC 1", 10);
	expect_error(job, 400, "sql_error");
	assert_non_null(strstr(job->body, "syntax error"));
	dbjob_free(job);
	job = run_sql(f->a, "SELECT nope FROM t", 10);
	expect_error(job, 400, "sql_error");
	assert_non_null(strstr(job->body, "no such column"));
	dbjob_free(job);
	/* A runtime error after some rows: an error, not half a result. */
	expect_sql_error(f->a, "SELECT x, json_extract('not json', '$') FROM t",
	    400, "sql_error");
}

static void
test_sql_missing(void **state)
{
	struct fixture *f = *state;
	char nowhere[160];

	expect_sql_error(f->a, "SELECT 1", 404, "not_found");
	assert_false(exists(f->a, "db.sqlite"));
	snprintf(nowhere, sizeof(nowhere), "%s/nowhere", f->root);
	expect_sql_error(nowhere, "SELECT 1", 404, "not_found");
	assert_int_equal(access(nowhere, F_OK), -1);
}

static void
test_sql_timeout(void **state)
{
	struct fixture *f = *state;
	struct dbjob *job;
	uint64_t t0;

	make_db(f->a, 1);
	job = sql_job(f->a,
	    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) "
	    "SELECT count(*) FROM c",
	    10, 200);
	t0 = dbjob_now_ms();
	dbjob_run(job);
	expect_error(job, 504, "timeout");
	assert_true(dbjob_now_ms() - t0 >= 200);
	assert_true(dbjob_now_ms() - t0 < 2000);
	dbjob_free(job);
}

/* The worker in the middle of a write: WAL readers do not wait, and see
 * what was committed. */
static void
test_sql_during_write(void **state)
{
	struct fixture *f = *state;
	struct holder h;

	make_db(f->a, 2);
	holder_start(
	    &h, f->a, "BEGIN IMMEDIATE; INSERT INTO t VALUES (3)", "COMMIT", 0);
	expect_sql(f->a, "SELECT count(*) AS n FROM t",
	    "{\"columns\":[\"n\"],\"rows\":[[2]],\"truncated\":false}");
	holder_finish(&h);
	expect_sql(f->a, "SELECT count(*) AS n FROM t",
	    "{\"columns\":[\"n\"],\"rows\":[[3]],\"truncated\":false}");
}

/* A database locked outright (a worker in exclusive locking mode) is
 * waited for within the timeout, and is a timeout past it. */
static void
test_sql_busy(void **state)
{
	struct fixture *f = *state;
	struct holder h;
	struct dbjob *job;
	uint64_t t0;

	make_db(f->a, 2);
	holder_start(&h, f->a,
	    "PRAGMA locking_mode=EXCLUSIVE; INSERT INTO t VALUES (3)", NULL,
	    300);
	t0 = dbjob_now_ms();
	expect_sql(f->a, "SELECT count(*) AS n FROM t",
	    "{\"columns\":[\"n\"],\"rows\":[[3]],\"truncated\":false}");
	assert_true(dbjob_now_ms() - t0 >= 100);
	holder_finish(&h);

	holder_start(&h, f->a,
	    "PRAGMA locking_mode=EXCLUSIVE; INSERT INTO t VALUES (4)", NULL, 0);
	job = sql_job(f->a, "SELECT count(*) FROM t", 10, 150);
	dbjob_run(job);
	expect_error(job, 504, "timeout");
	dbjob_free(job);
	holder_finish(&h);
}

/*
 * Reading a hibernated object makes SQLite create the -wal and -shm; they
 * must be the worker's, or the worker could not open its database again.
 * And a -shm hard-linked to a file the worker may not write must not be
 * written through (durod is root; the job acts as the owner).
 */
static void
test_sql_hibernated(void **state)
{
	struct fixture *f = *state;
	char victim[160], shm[160];
	struct stat st;
	int fd;

	make_db(f->a, 2);
	assert_false(exists(f->a, "db.sqlite-wal"));
	expect_sql(f->a, "SELECT count(*) AS n FROM t",
	    "{\"columns\":[\"n\"],\"rows\":[[2]],\"truncated\":false}");
	expect_owned(f->a);
	/* And the job holds no lock: the worker can take all of them. */
	assert_int_equal(worker_exec(f->a,
	                     "PRAGMA busy_timeout=0; PRAGMA "
	                     "locking_mode=EXCLUSIVE; INSERT INTO t VALUES (3)",
	                     0),
	    0);
	assert_false(exists(f->a, "db.sqlite-wal"));

	/* A worker that died with commits in its WAL: read through it. */
	assert_int_equal(worker_exec(f->a, "INSERT INTO t VALUES (4)", 1), 0);
	assert_true(exists(f->a, "db.sqlite-wal"));
	expect_sql(f->a, "SELECT count(*) AS n FROM t",
	    "{\"columns\":[\"n\"],\"rows\":[[4]],\"truncated\":false}");
	expect_owned(f->a);
	assert_int_equal(worker_exec(f->a, "INSERT INTO t VALUES (5)", 0), 0);
	assert_false(exists(f->a, "db.sqlite-wal"));

	if (geteuid() != 0)
		return;
	snprintf(victim, sizeof(victim), "%s/victim", f->root);
	snprintf(shm, sizeof(shm), "%s/db.sqlite-shm", f->a);
	assert_true((fd = open(victim, O_WRONLY | O_CREAT, 0644)) >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	assert_int_equal(link(victim, shm), 0);
	/* SQLite falls back to a read-only -shm: the read may even work. */
	dbjob_free(run_sql(f->a, "SELECT count(*) FROM t", 10));
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 8);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);
	unlink(shm);
}

/* ---- export and import ---- */

static struct dbjob *
run_export(struct fixture *f, const char *dir)
{
	struct dbjob *job = dbjob_new(DBJOB_EXPORT);

	assert_non_null(job);
	job->dir = strdup(dir);
	job->tmp_dir = strdup(f->tmp);
	dbjob_run(job);
	return (job);
}

/* The whole of an export's file. */
static uint8_t *
export_bytes(struct dbjob *job, size_t *len)
{
	uint8_t *p;

	assert_int_equal(job->status, 200);
	assert_true(job->fd >= 0);
	assert_true(job->size > 0);
	assert_non_null(p = malloc(job->size));
	assert_int_equal(pread(job->fd, p, job->size, 0), (ssize_t)job->size);
	*len = job->size;
	return (p);
}

static void
expect_dir_empty(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			fail_msg("%s/%s is left", dir, e->d_name);
	closedir(d);
}

static void
test_export(void **state)
{
	struct fixture *f = *state;
	struct dbjob *job;
	char path[160], mode[16] = "";
	struct stat st;
	sqlite3 *db;
	sqlite3_stmt *s;
	uint8_t *p;
	size_t len;
	int fd;

	job = run_export(f, f->a);
	expect_error(job, 404, "not_found");
	dbjob_free(job);
	expect_dir_empty(f->tmp);

	make_db(f->a, 500);
	/* Some of it only in the WAL of a worker that died. */
	assert_int_equal(worker_exec(f->a, "INSERT INTO t VALUES (501)", 1), 0);
	job = run_export(f, f->a);
	assert_int_equal(fstat(job->fd, &st), 0);
	assert_int_equal(st.st_nlink, 0); /* unlinked */
	assert_int_equal((uint64_t)st.st_size, job->size);
	assert_int_equal(fcntl(job->fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	p = export_bytes(job, &len);
	assert_int_equal(p[18], 1); /* rollback journal: a standalone file */
	assert_int_equal(p[19], 1);
	dbjob_free(job);
	expect_dir_empty(f->tmp);
	expect_owned(f->a);

	snprintf(path, sizeof(path), "%s/copy.sqlite", f->root);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
	free(p);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(mode, sizeof(mode), "%s", sqlite3_column_text(s, 0));
	assert_string_equal(mode, "delete");
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db,
	                     "SELECT count(*), sum(x) FROM t", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 501);
	assert_int_equal(sqlite3_column_int(s, 1), 501 * 502 / 2);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_int_equal(access(path, F_OK), 0);
}

static struct dbjob *
run_import(const char *dir, const uint8_t *data, size_t len)
{
	struct dbjob *job = dbjob_new(DBJOB_IMPORT);

	assert_non_null(job);
	job->dir = strdup(dir);
	job->data_len = len;
	if (len > 0) {
		assert_non_null(job->data = malloc(len));
		memcpy(job->data, data, len);
	}
	dbjob_run(job);
	return (job);
}

static void
test_import_round_trip(void **state)
{
	struct fixture *f = *state;
	struct dbjob *job;
	uint8_t *p, h[100];
	size_t len;
	char body[128], path[160];
	struct stat st;
	int fd;

	make_db(f->a, 100);
	assert_int_equal(worker_exec(f->a,
	                     "INSERT INTO _duro_alarms VALUES "
	                     "('later', 9007199254740992, 0), "
	                     "('', 1700000000000, 60000)",
	                     0),
	    0);
	job = run_export(f, f->a);
	p = export_bytes(job, &len);
	dbjob_free(job);

	/* B: other data, and a dead worker's WAL that must not survive. */
	make_db(f->b, 3);
	assert_int_equal(worker_exec(f->b, "INSERT INTO t VALUES (-1)", 1), 0);
	assert_true(exists(f->b, "db.sqlite-wal"));

	job = run_import(f->b, p, len);
	assert_int_equal(job->status, 200);
	snprintf(body, sizeof(body),
	    "{\"imported\":true,\"bytes\":%zu,\"alarms\":2}", len);
	assert_string_equal(job->body, body);
	assert_int_equal(job->nalarms, 2);
	assert_string_equal(job->alarms[0].name, "");
	assert_int_equal(job->alarms[0].at_ms, 1700000000000);
	assert_int_equal(job->alarms[0].every_ms, 60000);
	assert_string_equal(job->alarms[1].name, "later");
	assert_int_equal(job->alarms[1].at_ms, 9007199254740992);
	assert_int_equal(job->alarms[1].every_ms, 0);
	dbjob_free(job);
	free(p);

	assert_false(exists(f->b, "db.sqlite-wal"));
	assert_false(exists(f->b, "db.sqlite-shm"));
	assert_false(exists(f->b, "db.sqlite.import"));
	expect_owned(f->b);
	snprintf(path, sizeof(path), "%s/db.sqlite", f->b);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(read(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	assert_int_equal(h[18], 2); /* WAL, as a worker's */
	assert_int_equal(st.st_mode & 0777, 0600);
	expect_sql(f->b, "SELECT count(*) AS n, sum(x) AS s FROM t",
	    "{\"columns\":[\"n\",\"s\"],\"rows\":[[100,5050]],"
	    "\"truncated\":false}");
	/* The worker can use it. */
	assert_int_equal(worker_exec(f->b, "INSERT INTO t VALUES (101)", 0), 0);
	expect_sql(f->b, "SELECT count(*) AS n FROM t",
	    "{\"columns\":[\"n\"],\"rows\":[[101]],\"truncated\":false}");

	/* A database without the SDK's tables has no alarms. */
	make_db(f->a, 0);
	assert_int_equal(worker_exec(f->a, "DROP TABLE _duro_alarms", 0), 0);
	job = run_export(f, f->a);
	p = export_bytes(job, &len);
	dbjob_free(job);
	job = run_import(f->b, p, len);
	assert_int_equal(job->status, 200);
	assert_int_equal(job->nalarms, 0);
	dbjob_free(job);
	free(p);
}

/* The directory's files: names, sizes and contents' first bytes. */
static char *
dir_snapshot(const char *dir)
{
	struct dirent *e;
	struct stat st;
	char *s = NULL, line[512], head[32];
	size_t len = 0;
	int fd;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		memset(head, 0, sizeof(head));
		assert_true((fd = openat(dirfd(d), e->d_name, O_RDONLY)) >= 0);
		assert_int_equal(fstat(fd, &st), 0);
		assert_true(pread(fd, head, sizeof(head), 4096) >= 0);
		close(fd);
		snprintf(line, sizeof(line), "%s %lld %lld %u;", e->d_name,
		    (long long)st.st_size, (long long)st.st_ino,
		    (unsigned)head[0] + head[31]);
		assert_non_null(s = realloc(s, len + strlen(line) + 1));
		strcpy(s + len, line);
		len += strlen(line);
	}
	closedir(d);
	return (s);
}

static void
expect_import_fails(const char *dir, const uint8_t *p, size_t len, int status,
    const char *code, const char *what)
{
	char *before = dir_snapshot(dir), *after;
	struct dbjob *job = run_import(dir, p, len);

	expect_error(job, status, code);
	if (what != NULL && strstr(job->body, what) == NULL)
		fail_msg("%s does not say %s", job->body, what);
	assert_int_equal(job->nalarms, 0);
	dbjob_free(job);
	after = dir_snapshot(dir);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void
test_import_bad(void **state)
{
	struct fixture *f = *state;
	struct dbjob *job;
	uint8_t *p, junk[8192];
	size_t len;

	make_db(f->a, 20000);
	job = run_export(f, f->a);
	p = export_bytes(job, &len);
	dbjob_free(job);
	assert_true(len >= 4 * 4096);
	make_db(f->b, 3);

	expect_import_fails(f->b, p, 0, 400, "bad_database", "empty");
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7 + 3);
	expect_import_fails(
	    f->b, junk, sizeof(junk), 400, "bad_database", "header");
	expect_import_fails(f->b, p, 50, 400, "bad_database", "header");
	expect_import_fails(f->b, p, len / 2, 400, "bad_database", "truncated");
	expect_import_fails(
	    f->b, p, len - 100, 400, "bad_database", "truncated");
	/* A whole file whose pages are garbage. */
	memset(p + 4096, 0xa5, len - 4096);
	expect_import_fails(f->b, p, len, 400, "bad_database", NULL);
	free(p);

	/* Alarms the worker could never have written. */
	make_db(f->a, 1);
	assert_int_equal(worker_exec(f->a,
	                     "INSERT INTO _duro_alarms VALUES ('x', -5, 0)", 0),
	    0);
	job = run_export(f, f->a);
	p = export_bytes(job, &len);
	dbjob_free(job);
	expect_import_fails(f->b, p, len, 400, "bad_database", "_duro_alarms");
	free(p);
	expect_sql(f->b, "SELECT count(*) AS n FROM t",
	    "{\"columns\":[\"n\"],\"rows\":[[3]],\"truncated\":false}");
}

static void
test_import_locked(void **state)
{
	struct fixture *f = *state;
	struct dbjob *job;
	uint8_t *p;
	size_t len;
	int fd;

	make_db(f->a, 5);
	job = run_export(f, f->a);
	p = export_bytes(job, &len);
	dbjob_free(job);
	make_db(f->b, 3);
	/* The worker's lock, as the worker takes it. */
	assert_true((fd = open(f->b, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	expect_import_fails(f->b, p, len, 409, "conflict", "running");
	close(fd);
	job = run_import(f->b, p, len);
	assert_int_equal(job->status, 200);
	dbjob_free(job);
	free(p);
	expect_sql(f->b, "SELECT count(*) AS n FROM t",
	    "{\"columns\":[\"n\"],\"rows\":[[5]],\"truncated\":false}");
}

/* Links above the object's directory are fine (durod's directories may
 * be under one); db.sqlite itself may not be a link. */
static void
test_links(void **state)
{
	struct fixture *f = *state;
	char up[160], a[192], b[192], tmp[192], target[192];
	struct dbjob *job;
	uint8_t *p;
	size_t len;

	snprintf(up, sizeof(up), "%s/up", f->root);
	assert_int_equal(symlink(".", up), 0);
	snprintf(a, sizeof(a), "%s/a", up);
	snprintf(b, sizeof(b), "%s/b", up);
	snprintf(tmp, sizeof(tmp), "%s/tmp", up);
	make_db(f->a, 2);
	expect_sql(a, "SELECT count(*) AS n FROM t",
	    "{\"columns\":[\"n\"],\"rows\":[[2]],\"truncated\":false}");
	job = dbjob_new(DBJOB_EXPORT);
	job->dir = strdup(a);
	job->tmp_dir = strdup(tmp);
	dbjob_run(job);
	p = export_bytes(job, &len);
	dbjob_free(job);
	job = run_import(b, p, len);
	assert_int_equal(job->status, 200);
	dbjob_free(job);
	free(p);
	expect_sql(b, "SELECT count(*) AS n FROM t",
	    "{\"columns\":[\"n\"],\"rows\":[[2]],\"truncated\":false}");

	snprintf(target, sizeof(target), "%s/db.sqlite", f->a);
	snprintf(b, sizeof(b), "%s/db.sqlite", f->b);
	assert_int_equal(unlink(b), 0);
	assert_int_equal(symlink(target, b), 0);
	expect_sql_error(f->b, "SELECT 1", 500, "storage");
}

/* ---- the threads ---- */

struct loopstate {
	struct ev_loop *loop;
	pthread_t loop_thread;
	int ndone, want;
	int status[DBJOB_MAX + 1];
	int wrong_thread;
};

static void
done_cb(struct dbjob *job, void *arg)
{
	struct loopstate *ls = arg;

	if (!pthread_equal(pthread_self(), ls->loop_thread))
		ls->wrong_thread = 1;
	ls->status[ls->ndone++] = job->status;
	dbjob_free(job);
	if (ls->ndone == ls->want)
		ev_break(ls->loop, EVBREAK_ALL);
}

static void
watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Run the loop until ls->want jobs are done (10 s at most). */
static void
run_loop(struct loopstate *ls)
{
	ev_timer watchdog;

	ev_timer_init(&watchdog, watchdog_cb, 10., 0.);
	ev_timer_start(ls->loop, &watchdog);
	ev_run(ls->loop, 0);
	ev_timer_stop(ls->loop, &watchdog);
	assert_int_equal(ls->ndone, ls->want);
	assert_false(ls->wrong_thread);
}

static const char forever[] =
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) "
    "SELECT count(*) FROM c";

static void
test_jobs_loop(void **state)
{
	struct fixture *f = *state;
	struct loopstate ls = {0};
	struct dbjobs *jobs;
	struct dbjob *job;

	make_db(f->a, 3);
	assert_non_null(ls.loop = ev_loop_new(EVFLAG_AUTO));
	ls.loop_thread = pthread_self();
	assert_non_null(jobs = dbjobs_open(ls.loop));
	job = sql_job(f->a, "SELECT count(*) FROM t", 10, 5000);
	assert_int_equal(dbjobs_start(jobs, job, done_cb, &ls), 0);
	ls.want = 1;
	run_loop(&ls);
	assert_int_equal(ls.status[0], 200);
	dbjobs_close(jobs);
	ev_loop_destroy(ls.loop);
}

static void
test_jobs_max(void **state)
{
	struct fixture *f = *state;
	struct loopstate ls = {0};
	struct dbjob *job, *extra;
	struct dbjobs *jobs;

	make_db(f->a, 3);
	assert_non_null(ls.loop = ev_loop_new(EVFLAG_AUTO));
	ls.loop_thread = pthread_self();
	assert_non_null(jobs = dbjobs_open(ls.loop));
	for (int i = 0; i < DBJOB_MAX; i++) {
		job = sql_job(f->a, forever, 10, 300);
		assert_int_equal(dbjobs_start(jobs, job, done_cb, &ls), 0);
	}
	extra = sql_job(f->a, "SELECT 1", 10, 5000);
	assert_int_equal(dbjobs_start(jobs, extra, done_cb, &ls), -1);
	assert_null(extra->done);
	assert_int_equal(extra->status, 0);
	ls.want = DBJOB_MAX;
	run_loop(&ls);
	for (int i = 0; i < DBJOB_MAX; i++)
		assert_int_equal(ls.status[i], 504);
	/* Done and joined: there is room again. */
	assert_int_equal(dbjobs_start(jobs, extra, done_cb, &ls), 0);
	ls.want = DBJOB_MAX + 1;
	run_loop(&ls);
	assert_int_equal(ls.status[DBJOB_MAX], 200);
	dbjobs_close(jobs);
	ev_loop_destroy(ls.loop);
}

/* Closing waits for running jobs and frees them; done is not called. */
static void
test_jobs_close(void **state)
{
	struct fixture *f = *state;
	struct loopstate ls = {0};
	struct dbjobs *jobs;

	make_db(f->a, 3);
	assert_non_null(ls.loop = ev_loop_new(EVFLAG_AUTO));
	ls.loop_thread = pthread_self();
	assert_non_null(jobs = dbjobs_open(ls.loop));
	assert_int_equal(
	    dbjobs_start(jobs, sql_job(f->a, forever, 10, 200), done_cb, &ls),
	    0);
	assert_int_equal(dbjobs_start(jobs, sql_job(f->a, "SELECT 1", 10, 200),
	                     done_cb, &ls),
	    0);
	dbjobs_close(jobs);
	assert_int_equal(ls.ndone, 0);
	ev_loop_destroy(ls.loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sql_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sql_truncation, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sql_read_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sql_statements, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sql_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sql_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sql_during_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sql_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sql_hibernated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_import_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_bad, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_import_locked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_jobs_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_jobs_max, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_jobs_close, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
