/*
 * fake_durod.c — a stand-in for durod, shared by libduro's unit tests
 * (see fake_durod.h).
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <sqlite3.h>

#include "duro_impl.h" /* struct duro, for a storage-only worker */
#include "fake_durod.h"

static void
listen_on(struct fake_durod *f)
{
	assert_int_equal(nng_pair0_open(&f->l), 0);
	f->l_open = 1;
	assert_int_equal(
	    nng_socket_set_size(f->l, NNG_OPT_RECVMAXSZ, IPC_MAX_FRAME_BYTES),
	    0);
	/* A broken worker fails the test instead of hanging it. */
	assert_int_equal(nng_socket_set_ms(f->l, NNG_OPT_RECVTIMEO, 5000), 0);
	assert_int_equal(nng_socket_set_ms(f->l, NNG_OPT_SENDTIMEO, 5000), 0);
	assert_int_equal(nng_listen(f->l, f->url, NULL, 0), 0);
}

/*
 * Everything durod sets, and nothing a test set before: tests share one
 * process environment.
 */
static void
environment(struct fake_durod *f)
{
	setenv("DURO_IPC", f->url, 1);
	setenv("DURO_NAMESPACE", "test", 1);
	setenv("DURO_OBJECT_ID", FAKE_DUROD_OBJECT_ID, 1);
	setenv("DURO_OBJECT_NAME", FAKE_DUROD_OBJECT_NAME, 1);
	setenv("DURO_STORAGE", f->storage, 1);
	setenv("DURO_PROTOCOL", "1", 1);
	unsetenv("DURO_SYNCHRONOUS");
	unsetenv("DURO_STORAGE_LIMIT_MB");
}

int
fake_durod_setup(void **state, size_t size)
{
	struct fake_durod *f = calloc(1, size);

	assert_true(size >= sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/duro-unit-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->objdir, sizeof(f->objdir), "%s/obj", f->dir);
	assert_int_equal(mkdir(f->objdir, 0700), 0);
	snprintf(f->storage, sizeof(f->storage), "%s/db.sqlite", f->objdir);
	snprintf(f->url, sizeof(f->url), "ipc://%s/w.sock", f->dir);
	listen_on(f);
	environment(f);
	*state = f;
	return (0);
}

static void
rm(const char *dir, const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

int
fake_durod_teardown(void **state)
{
	struct fake_durod *f = *state;

	fake_durod_hangup(f);
	if (f->running)
		pthread_join(f->thread, NULL);
	duro_close(f->d);
	rm(f->objdir, "db.sqlite");
	rm(f->objdir, "db.sqlite-wal");
	rm(f->objdir, "db.sqlite-shm");
	rmdir(f->objdir);
	rm(f->dir, "w.sock");
	rmdir(f->dir);
	free(f);
	return (0);
}

void
fake_durod_hangup(struct fake_durod *f)
{
	if (f->l_open)
		nng_close(f->l);
	f->l_open = 0;
}

void
fake_durod_open(struct fake_durod *f, duro_request_fn fn, void *arg)
{
	assert_int_equal(duro_open(&f->d), 0);
	assert_int_equal(duro_on_request(f->d, fn, arg), 0);
}

static void *
run_thread(void *arg)
{
	struct fake_durod *f = arg;

	f->run_rv = duro_run(f->d);
	return (NULL);
}

void
fake_durod_run(struct fake_durod *f)
{
	assert_int_equal(pthread_create(&f->thread, NULL, run_thread, f), 0);
	f->running = 1;
}

int
fake_durod_join(struct fake_durod *f)
{
	assert_true(f->running);
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	f->running = 0;
	return (f->run_rv);
}

void
fake_durod_recv(struct fake_durod *f, struct ipc_msg *m)
{
	char err[256] = "";
	int rv = ipc_recv(f->l, m, 0, err, sizeof(err));

	if (rv != 0)
		fail_msg("durod side: receive: %d %s", rv,
		    rv > 0 ? nng_strerror(rv) : err);
}

void
fake_durod_send(struct fake_durod *f, const struct ipc_msg *m)
{
	assert_int_equal(ipc_send(f->l, m, 0), 0);
}

void
fake_durod_expect_ready(struct fake_durod *f)
{
	struct ipc_msg m;

	fake_durod_recv(f, &m);
	assert_int_equal(m.type, IPC_READY);
	assert_int_equal(m.protocol, 1);
	assert_int_equal(m.pid, (long)getpid());
	ipc_recv_done(&m);
}

void
fake_durod_expect(struct fake_durod *f, enum ipc_type t, struct ipc_msg *m)
{
	fake_durod_recv(f, m);
	if (m->type != t)
		fail_msg("durod side: got \"%s\" (%s), want \"%s\"",
		    m->type_name, m->type == IPC_ERROR ? m->message : "",
		    ipc_type_name(t));
}

void
fake_durod_expect_done(struct fake_durod *f, uint64_t id)
{
	struct ipc_msg m;

	fake_durod_expect(f, IPC_DONE, &m);
	assert_true(m.id == id);
	ipc_recv_done(&m);
}

void
fake_durod_expect_error(struct fake_durod *f, uint64_t id, const char *code)
{
	struct ipc_msg m;

	fake_durod_expect(f, IPC_ERROR, &m);
	assert_true(m.id == id);
	assert_string_equal(m.code, code);
	ipc_recv_done(&m);
}

int
fake_durod_count(struct fake_durod *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int n = -1;

	assert_int_equal(
	    sqlite3_open_v2(f->storage, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return (n);
}

int
fake_durod_storage_new(const char *path, struct duro **out)
{
	struct duro *d = calloc(1, sizeof(*d));
	int rv;

	assert_non_null(d);
	d->gone[0] = d->gone[1] = -1;
	d->st.lock_fd = -1;
	d->storage = strdup(path);
	if ((rv = duro_storage_open(d)) != 0) {
		duro_close(d);
		d = NULL;
	}
	*out = d;
	return (rv);
}

struct duro *
fake_durod_storage_open(struct fake_durod *f)
{
	assert_int_equal(fake_durod_storage_new(f->storage, &f->d), 0);
	return (f->d);
}
