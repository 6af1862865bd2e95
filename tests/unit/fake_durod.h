/*
 * fake_durod.h — a stand-in for durod, shared by libduro's unit tests.
 *
 * The setup makes a temp dir holding the object's directory (its storage)
 * and the socket, listens there with an nng pair0 socket and sets the
 * DURO_* environment durod gives a worker. A test opens libduro, runs
 * duro_run() on a second thread and plays durod on the test thread.
 * cmocka assertions stay on the test thread: the worker thread only
 * records what it saw.
 *
 * A test's fixture starts with a struct fake_durod, so that
 * fake_durod_setup() and fake_durod_teardown() can allocate and free it
 * and *state can be passed wherever a struct fake_durod * is wanted.
 */
#ifndef FAKE_DUROD_H
#define FAKE_DUROD_H

#include <pthread.h>
#include <stddef.h>

#include <nng/nng.h>

#include "duro.h"
#include "ipc_nng.h"

#define FAKE_DUROD_OBJECT_ID                                                   \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FAKE_DUROD_OBJECT_NAME "alice"

struct fake_durod {
	char dir[64];      /* the temp dir: objdir and the socket */
	char objdir[96];   /* the object's directory, which libduro locks */
	char storage[128]; /* objdir/db.sqlite: $DURO_STORAGE */
	char url[128];     /* where the listener listens: $DURO_IPC */
	nng_socket l;
	int l_open;
	struct duro *d; /* the worker under test; the teardown closes it */
	pthread_t thread;
	int running; /* duro_run(d) runs on thread */
	int run_rv;  /* what it returned */
};

/*
 * cmocka setup: allocate a zeroed fixture of size bytes (at least a
 * struct fake_durod, which it starts with), make the temp dir, listen and
 * set the environment. Tests change the environment after it as they
 * please: the next setup sets all of it again.
 */
int fake_durod_setup(void **state, size_t size);
/*
 * cmocka teardown: hang up (a loop still running ends when its durod goes
 * away), join the loop, close the worker, remove the temp dir, free.
 */
int fake_durod_teardown(void **state);

/* Close the listener: durod goes away. */
void fake_durod_hangup(struct fake_durod *);

/* duro_open() into f->d from the environment, with fn as its handler. */
void fake_durod_open(struct fake_durod *, duro_request_fn fn, void *arg);
/* Run duro_run(f->d) on a second thread. */
void fake_durod_run(struct fake_durod *);
/* Wait for duro_run() to return; its result. */
int fake_durod_join(struct fake_durod *);

/* Receive the next message (fails the test on a receive error). */
void fake_durod_recv(struct fake_durod *, struct ipc_msg *);
void fake_durod_send(struct fake_durod *, const struct ipc_msg *);
/* Receive the worker's ready, for protocol 1 from this process. */
void fake_durod_expect_ready(struct fake_durod *);
/*
 * Receive the next message and fail the test unless it is of type t
 * (release *m with ipc_recv_done).
 */
void fake_durod_expect(struct fake_durod *, enum ipc_type t, struct ipc_msg *m);
/* Receive a done for id (with no alarms to check). */
void fake_durod_expect_done(struct fake_durod *, uint64_t id);
/* Receive an error for id with this code. */
void fake_durod_expect_error(
    struct fake_durod *, uint64_t id, const char *code);

/* A count over committed data, as another connection (durod) sees it. */
int fake_durod_count(struct fake_durod *, const char *sql);

/*
 * No durod at all: a struct duro with only its storage at path open, as
 * duro_open() leaves it. Returns 0 or duro_storage_open()'s error.
 */
int fake_durod_storage_new(const char *path, struct duro **out);
/* The same for f->storage, which must open; it becomes f->d. */
struct duro *fake_durod_storage_open(struct fake_durod *);

#endif /* FAKE_DUROD_H */
