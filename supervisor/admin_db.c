/*
 * admin_db.c — an object's database for the admin API: the job, what all
 * kinds share (errors, the object's directory, the read-only open), and
 * the threads that run jobs off durod's loop. The kinds themselves are in
 * admin_db_sql.c (a read-only query) and admin_db_copy.c (export, import).
 *
 * What SQLite (3.40, unix VFS) does when durod reads a worker's database,
 * found by experiment:
 *
 * - A connection opened with SQLITE_OPEN_READONLY on a WAL database whose
 *   db.sqlite-wal does not exist (a hibernated object: the worker's close
 *   checkpointed and removed it) creates db.sqlite-wal (empty) and
 *   db.sqlite-shm (32 KiB) at its first read: it opens both with O_RDWR |
 *   O_CREAT whatever the connection's flags. It cannot remove them at
 *   close, since the checkpoint-and-delete of the last connection needs an
 *   EXCLUSIVE lock, a write lock that its O_RDONLY descriptor of db.sqlite
 *   cannot take. They stay: harmless, the next worker's first connection
 *   rebuilds the -shm and its close removes both, but they must be its.
 * - As root, SQLite fchown()s a -wal or -shm it creates to the owner of
 *   db.sqlite: after creating it (a worker starting in between finds a
 *   root-owned -shm and cannot open its database) and to the file's owner,
 *   not the directory's.
 * - It opens them with O_NOFOLLOW, so a symlink a worker planted is
 *   refused, but a hard link is followed: root truncated the link's target
 *   to a 32 KiB -shm and gave it to the worker.
 *
 * So a job touches the object's directory with its owner's file-system
 * ids (setfsuid/setfsgid, which Linux keeps per thread; durod's other
 * threads are not affected): whatever SQLite creates there belongs to the
 * owner from its first moment, and the job can open nothing the worker
 * could not. Nothing is chowned by name afterwards, which is exactly what
 * a planted link would abuse. The read never writes db.sqlite itself (its
 * descriptor is read-only: no checkpoint; WAL recovery only rebuilds the
 * -shm), and every connection is closed, its locks with it, before the
 * job reports.
 */
#include <sys/fsuid.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "durod.h"

/* The longest value SQL may make or read: bounds one job's memory. */
#define DBJOB_VALUE_MAX (64 * 1024 * 1024)

struct dbjobs {
	struct ev_loop *loop;
	ev_async wake;
	pthread_mutex_t mu;
	/* A slot is taken from dbjobs_start until the loop has joined the
	 * thread: DBJOB_MAX bounds the threads, not only the queries. */
	struct dbjob_slot {
		struct dbjob *job;
		pthread_t thread;
	} slot[DBJOB_MAX];
	TAILQ_HEAD(, dbjob) done; /* finished, done() not called yet */
};

/* ---- the job ---- */

struct dbjob *
dbjob_new(enum dbjob_kind kind)
{
	struct dbjob *job;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return (NULL);
	job->kind = kind;
	job->fd = -1;
	return (job);
}

static void
dbjob_reset(struct dbjob *job)
{
	free(job->body);
	job->body = NULL;
	job->body_len = 0;
	job->status = 0;
	if (job->fd >= 0)
		close(job->fd);
	job->fd = -1;
	job->size = 0;
	for (size_t i = 0; i < job->nalarms; i++)
		free(job->alarms[i].name);
	free(job->alarms);
	job->alarms = NULL;
	job->nalarms = 0;
}

void
dbjob_free(struct dbjob *job)
{
	if (job == NULL)
		return;
	dbjob_reset(job);
	free(job->dir);
	free(job->tmp_dir);
	free(job->sql);
	free(job->data);
	free(job);
}

void
dbjob_run(struct dbjob *job)
{
	dbjob_reset(job);
	switch (job->kind) {
	case DBJOB_SQL:
		dbjob_sql(job);
		break;
	case DBJOB_EXPORT:
		dbjob_export(job);
		break;
	case DBJOB_IMPORT:
		dbjob_import(job);
		break;
	}
	if (job->status == 0)
		dbjob_fail(job, 500, "internal", "the job produced no result");
}

/* ---- what every kind shares ---- */

int
dbjob_fail(
    struct dbjob *job, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	cJSON *o;
	va_list ap;

	/* The first error is the cause; later ones are its consequences. */
	if (job->status >= 400)
		return (-1);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dbjob_reset(job);
	job->status = status;
	if ((o = cJSON_CreateObject()) != NULL &&
	    cJSON_AddStringToObject(o, "error", code) != NULL &&
	    cJSON_AddStringToObject(o, "message", msg) != NULL &&
	    (job->body = cJSON_PrintUnformatted(o)) != NULL)
		job->body_len = strlen(job->body);
	else
		job->status = 500; /* out of memory: no body to send */
	cJSON_Delete(o);
	return (-1);
}

uint64_t
dbjob_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/*
 * Open the object's directory and take its owner's file-system ids (see
 * the top of the file). Only root can, and only root needs to: a durod
 * that is not root runs its workers as itself.
 */
int
dbjob_enter(struct dbjob *job, struct dbjob_dir *d)
{
	struct stat st;

	memset(d, 0, sizeof(*d));
	d->fd = open(job->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d->fd == -1 && errno == ENOENT)
		return (dbjob_fail(
		    job, 404, "not_found", "the object has no storage"));
	if (d->fd == -1 || fstat(d->fd, &st) != 0) {
		dbjob_fail(
		    job, 500, "storage", "%s: %s", job->dir, strerror(errno));
		if (d->fd != -1)
			close(d->fd);
		d->fd = -1;
		return (-1);
	}
	if (geteuid() != 0)
		return (0);
	d->prev_gid = setfsgid(st.st_gid);
	d->prev_uid = setfsuid(st.st_uid);
	d->switched = 1;
	if ((uid_t)setfsuid(-1) != st.st_uid ||
	    (gid_t)setfsgid(-1) != st.st_gid) {
		dbjob_leave(d);
		return (dbjob_fail(job, 500, "storage",
		    "%s: cannot act as its owner %u:%u", job->dir,
		    (unsigned)st.st_uid, (unsigned)st.st_gid));
	}
	return (0);
}

void
dbjob_leave(struct dbjob_dir *d)
{
	if (d->switched) {
		setfsuid(d->prev_uid);
		setfsgid(d->prev_gid);
		d->switched = 0;
	}
	if (d->fd != -1)
		close(d->fd); /* and with it an import's flock */
	d->fd = -1;
}

/* Wait for a lock until the deadline (sqlite3_busy_timeout counts from
 * each wait, not from the start of the job). */
static int
dbjob_busy_cb(void *arg, int n)
{
	const uint64_t *deadline = arg;

	if (dbjob_now_ms() >= *deadline)
		return (0);
	usleep(n < 20 ? 1000 : 10000);
	return (1);
}

/*
 * The settings of every connection a job opens, the worker's and more:
 * defensive mode and no trusted schema so a crafted file cannot run
 * functions from its schema, no extensions, no ATTACH.
 */
void
dbjob_settings(struct sqlite3 *db, const uint64_t *deadline)
{
	sqlite3_extended_result_codes(db, 1);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, DBJOB_VALUE_MAX);
	if (deadline != NULL)
		sqlite3_busy_handler(db, dbjob_busy_cb, (void *)deadline);
}

int
dbjob_open(struct dbjob *job, const struct dbjob_dir *d,
    const uint64_t *deadline, struct sqlite3 **out)
{
	struct stat st;
	char path[PATH_MAX];
	int rv;

	*out = NULL;
	/*
	 * db.sqlite must be a file, not a link (SQLITE_OPEN_NOFOLLOW would
	 * say so too, but it also refuses a link anywhere above, and
	 * durod's directories may well be under one). Never
	 * SQLITE_OPEN_CREATE: the object's storage is the worker's to make.
	 */
	if (fstatat(d->fd, "db.sqlite", &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return (dbjob_fail(job, 404, "not_found",
			    "the object has no storage"));
		return (dbjob_fail(job, 500, "storage", "%s/db.sqlite: %s",
		    job->dir, strerror(errno)));
	}
	if (!S_ISREG(st.st_mode))
		return (dbjob_fail(job, 500, "storage",
		    "%s/db.sqlite: not a regular file", job->dir));
	if ((size_t)snprintf(path, sizeof(path), "%s/db.sqlite", job->dir) >=
	    sizeof(path))
		return (dbjob_fail(job, 500, "storage", "path too long"));
	rv = sqlite3_open_v2(
	    path, out, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rv != SQLITE_OK) {
		dbjob_fail(job, 500, "storage", "%s: %s", path,
		    *out != NULL ? sqlite3_errmsg(*out) : sqlite3_errstr(rv));
		sqlite3_close(*out);
		*out = NULL;
		return (-1);
	}
	dbjob_settings(*out, deadline);
	return (0);
}

/*
 * Close a connection the job opened. Every statement is finalized by
 * then, so this closes the files and drops the locks; if it did not, the
 * job says so rather than report success while holding a lock.
 */
void
dbjob_close(struct dbjob *job, struct sqlite3 *db)
{
	if (db == NULL || sqlite3_close(db) == SQLITE_OK)
		return;
	dbjob_fail(job, 500, "internal", "closing the database: %s",
	    sqlite3_errmsg(db));
	sqlite3_close_v2(db);
}

/* ---- the threads ---- */

static void *
dbjobs_main(void *arg)
{
	struct dbjob *job = arg;
	struct dbjobs *jobs = job->jobs;

	dbjob_run(job);
	pthread_mutex_lock(&jobs->mu);
	TAILQ_INSERT_TAIL(&jobs->done, job, entry);
	pthread_mutex_unlock(&jobs->mu);
	ev_async_send(jobs->loop, &jobs->wake);
	return (NULL);
}

/* Join the thread that ran job and free its slot. Loop thread only. */
static void
dbjobs_reap(struct dbjobs *jobs, struct dbjob *job)
{
	for (int i = 0; i < DBJOB_MAX; i++)
		if (jobs->slot[i].job == job) {
			pthread_join(jobs->slot[i].thread, NULL);
			jobs->slot[i].job = NULL;
			return;
		}
}

static void
dbjobs_done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct dbjobs *jobs = w->data;
	TAILQ_HEAD(, dbjob) done = TAILQ_HEAD_INITIALIZER(done);
	struct dbjob *job;

	pthread_mutex_lock(&jobs->mu);
	TAILQ_CONCAT(&done, &jobs->done, entry);
	pthread_mutex_unlock(&jobs->mu);
	while ((job = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, job, entry);
		dbjobs_reap(jobs, job);
		job->jobs = NULL;
		job->done(job, job->arg);
	}
}

struct dbjobs *
dbjobs_open(struct ev_loop *loop)
{
	struct dbjobs *jobs;

	if ((jobs = calloc(1, sizeof(*jobs))) == NULL)
		return (NULL);
	if (pthread_mutex_init(&jobs->mu, NULL) != 0) {
		free(jobs);
		return (NULL);
	}
	jobs->loop = loop;
	TAILQ_INIT(&jobs->done);
	ev_async_init(&jobs->wake, dbjobs_done_cb);
	jobs->wake.data = jobs;
	ev_async_start(loop, &jobs->wake);
	return (jobs);
}

void
dbjobs_close(struct dbjobs *jobs)
{
	struct dbjob *job;

	if (jobs == NULL)
		return;
	/* Joined, every job started is on the done list. */
	for (int i = 0; i < DBJOB_MAX; i++)
		if (jobs->slot[i].job != NULL)
			pthread_join(jobs->slot[i].thread, NULL);
	while ((job = TAILQ_FIRST(&jobs->done)) != NULL) {
		TAILQ_REMOVE(&jobs->done, job, entry);
		dbjob_free(job);
	}
	ev_async_stop(jobs->loop, &jobs->wake);
	pthread_mutex_destroy(&jobs->mu);
	free(jobs);
}

int
dbjobs_start(struct dbjobs *jobs, struct dbjob *job,
    void (*done)(struct dbjob *, void *), void *arg)
{
	struct dbjob_slot *s = NULL;
	sigset_t all, old;
	int rv;

	for (int i = 0; i < DBJOB_MAX && s == NULL; i++)
		if (jobs->slot[i].job == NULL)
			s = &jobs->slot[i];
	if (s == NULL)
		return (-1);
	job->done = done;
	job->arg = arg;
	job->jobs = jobs;
	s->job = job;
	/* Signals are the loop's business: the thread starts with all of
	 * them blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rv = pthread_create(&s->thread, NULL, dbjobs_main, job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rv != 0) {
		s->job = NULL;
		job->done = NULL;
		job->arg = NULL;
		job->jobs = NULL;
		return (-1);
	}
	return (0);
}
