/*
 * registry_sync.c — make the registry's commits durable without blocking
 * the loop.
 *
 * registry.sqlite runs in WAL mode with synchronous=NORMAL: a COMMIT
 * appends its pages to the WAL and returns without an fsync, so durod's
 * loop never waits for the disk on the many writes that need not be
 * durable at once (names, retries, the committed state a reply reports;
 * losing those only costs an early wake-up). What must be durable is an
 * alarm_sync's wake-up before the worker commits (ipc/PROTOCOL.md
 * section 14). For those, durod asks this thread to fdatasync the WAL
 * file: a sync started after a COMMIT returned covers that commit's
 * frames (fsync is per file, not per descriptor), and SQLite itself
 * syncs the WAL before each checkpoint copies it. The thread wakes the
 * loop when it is done; requests made meanwhile share the next sync.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durod.h"

struct regsync {
	int fd; /* the WAL file */
	void (*wake)(void *);
	void *wake_arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t want; /* the newest generation asked for */
	uint64_t done; /* the newest generation on disk */
	int err;       /* an fdatasync failed: sticky (see regsync_done) */
	int stop;
};

static void *
regsync_main(void *arg)
{
	struct regsync *s = arg;
	uint64_t g;
	int rc;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && s->done >= s->want)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->done >= s->want)
			break; /* stopping, nothing owed */
		g = s->want;
		pthread_mutex_unlock(&s->mu);
		rc = fdatasync(s->fd);
		pthread_mutex_lock(&s->mu);
		if (rc != 0 && s->err == 0)
			s->err = errno;
		s->done = g;
		pthread_mutex_unlock(&s->mu);
		s->wake(s->wake_arg);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return (NULL);
}

struct regsync *
regsync_open(const char *wal_path, void (*wake)(void *), void *arg, char *err,
    size_t errlen)
{
	struct regsync *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "registry sync: out of memory");
		return (NULL);
	}
	s->wake = wake;
	s->wake_arg = arg;
	if ((s->fd = open(wal_path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "registry sync: %s: %s", wal_path,
		    strerror(errno));
		free(s);
		return (NULL);
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->thread, NULL, regsync_main, s) != 0) {
		snprintf(err, errlen, "registry sync: no thread");
		close(s->fd);
		free(s);
		return (NULL);
	}
	return (s);
}

uint64_t
regsync_request(struct regsync *s)
{
	uint64_t g;

	pthread_mutex_lock(&s->mu);
	g = ++s->want;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return (g);
}

uint64_t
regsync_done(struct regsync *s, int *failed)
{
	uint64_t g;

	pthread_mutex_lock(&s->mu);
	g = s->done;
	*failed = s->err;
	pthread_mutex_unlock(&s->mu);
	return (g);
}

int
regsync_now(struct regsync *s)
{
	int rv = 0;

	if (fdatasync(s->fd) != 0) {
		pthread_mutex_lock(&s->mu);
		if (s->err == 0)
			s->err = errno;
		pthread_mutex_unlock(&s->mu);
		rv = -1;
	}
	return (rv);
}

void
regsync_close(struct regsync *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
