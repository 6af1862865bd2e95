/*
 * worker_ipc.c — one nng pair0 socket per worker, delivered to the loop.
 *
 * durod listens on ipc://<run_dir>/<id prefix>-<n>.sock and the worker
 * dials it ($DURO_IPC). nng does its I/O on its own threads. Each socket
 * keeps one receive aio armed; its callback (on an nng thread) appends the
 * message to durod's inbox and wakes the loop with one ev_async shared by
 * all workers. The loop decodes (and so checks) every frame here, so
 * object_run.c only ever sees well-formed messages.
 *
 * Why not the socket's NNG_OPT_RECVFD: in nng 1.5.2 (Debian 12's) the pipe
 * pair behind it is never released by nng_close(), two descriptors leaked
 * per worker ever started (bench/oneoff/nng_recvfd_leak.c).
 *
 * Lifetimes. A link (socket + aio) is shared with nng's threads and with
 * the inbox, so it is reference-counted under the inbox lock: one
 * reference for the open socket, one per queued message. The loop clears
 * link->o when the object lets go of it; queued messages of such a link
 * are dropped.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "durod.h"
#include "ipc_nng.h"

#include <nng/protocol/pair0/pair.h>

struct ipc_link {
	struct ipc_inbox *inbox;
	nng_socket sock;
	nng_aio *aio;
	struct object *o; /* loop only: NULL once the object let go */
	int ignore;       /* loop only: the worker is being killed */
	int refs;         /* under inbox->mtx */
};

struct inbox_entry {
	struct ipc_link *link;
	nng_msg *msg; /* NULL when the receive failed */
	int rv;
};

struct ipc_inbox {
	struct ev_loop *loop; /* libev's default loop: lives until exit */
	ev_async wake;
	int closed; /* durod is exiting: nobody reads the inbox */
	pthread_mutex_t mtx;
	struct inbox_entry *q; /* filled by nng's threads */
	size_t n, cap;
};

static void link_unref_locked(struct ipc_link *);

/* ---- nng's side (any thread) ---- */

static void
inbox_push(struct ipc_link *l, nng_msg *msg, int rv)
{
	struct ipc_inbox *in = l->inbox;
	struct inbox_entry *q;

	pthread_mutex_lock(&in->mtx);
	if (in->closed) {
		pthread_mutex_unlock(&in->mtx);
		if (msg != NULL)
			nng_msg_free(msg);
		return;
	}
	if (in->n == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 64;
		if ((q = realloc(in->q, cap * sizeof(*q))) == NULL) {
			/* Dropping a message the turn waits for ends in the
			 * request timeout; nothing better to do without memory.
			 */
			pthread_mutex_unlock(&in->mtx);
			if (msg != NULL)
				nng_msg_free(msg);
			return;
		}
		in->q = q;
		in->cap = cap;
	}
	in->q[in->n++] = (struct inbox_entry){l, msg, rv};
	l->refs++;
	pthread_mutex_unlock(&in->mtx);
	ev_async_send(in->loop, &in->wake);
}

static void
link_recv_cb(void *arg)
{
	struct ipc_link *l = arg;
	int rv = nng_aio_result(l->aio);

	inbox_push(l, rv == 0 ? nng_aio_get_msg(l->aio) : NULL, rv);
	/* Keep one receive armed until the socket is closed. */
	if (rv == 0)
		nng_recv_aio(l->sock, l->aio);
}

/* ---- closing, off the loop ---- */

/*
 * nng 1.5.2 can deadlock in nng_close() when a pipe is torn down at the
 * same moment (nanomsg/nng issue 1543, fixed in later releases). One stuck
 * close on the loop would stop every object, so sockets are closed by a
 * thread of their own: a stuck close there costs one socket, not durod.
 */
static struct {
	pthread_mutex_t mtx;
	pthread_cond_t cv;   /* work for the closer */
	pthread_cond_t idle; /* the closer has nothing left */
	struct ipc_link **q;
	size_t n, cap;
	int started;
	int busy;
} closer = {.mtx = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
    .idle = PTHREAD_COND_INITIALIZER};

static void
link_destroy(struct ipc_link *l)
{
	struct ipc_inbox *in = l->inbox;

	nng_close(l->sock);   /* the aio completes with NNG_ECLOSED */
	nng_aio_free(l->aio); /* waits for its callback */
	pthread_mutex_lock(&in->mtx);
	link_unref_locked(l);
	pthread_mutex_unlock(&in->mtx);
}

static void *
closer_main(void *arg)
{
	struct ipc_link *l;

	pthread_mutex_lock(&closer.mtx);
	for (;;) {
		while (closer.n == 0) {
			closer.busy = 0;
			pthread_cond_broadcast(&closer.idle);
			pthread_cond_wait(&closer.cv, &closer.mtx);
		}
		l = closer.q[--closer.n];
		closer.busy = 1;
		pthread_mutex_unlock(&closer.mtx);
		link_destroy(l);
		pthread_mutex_lock(&closer.mtx);
	}
	return (NULL);
}

/* Start the thread with every signal blocked: signals are the loop's. */
static int
closer_start(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t t;
	int rv;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rv = pthread_create(&t, &attr, closer_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return (rv);
}

static void
closer_push(struct ipc_link *l)
{
	struct ipc_link **q;

	pthread_mutex_lock(&closer.mtx);
	if (!closer.started && closer_start() == 0)
		closer.started = 1;
	if (closer.started && closer.n == closer.cap) {
		size_t cap = closer.cap ? closer.cap * 2 : 64;
		if ((q = realloc(closer.q, cap * sizeof(*q))) != NULL) {
			closer.q = q;
			closer.cap = cap;
		}
	}
	if (!closer.started || closer.n == closer.cap) {
		/* No thread or no memory: close here, as a last resort. */
		pthread_mutex_unlock(&closer.mtx);
		link_destroy(l);
		return;
	}
	closer.q[closer.n++] = l;
	closer.busy = 1;
	pthread_cond_signal(&closer.cv);
	pthread_mutex_unlock(&closer.mtx);
}

static void
link_unref_locked(struct ipc_link *l)
{
	if (--l->refs == 0)
		free(l);
}

/* ---- the loop's side ---- */

static void
deliver(struct ipc_link *l, nng_msg *msg)
{
	struct ipc_msg m;
	char err[160];

	if (ipc_decode_msg(msg, &m, err, sizeof(err)) != 0) {
		object_on_violation(l->o, err);
		return;
	}
	object_on_message(l->o, &m);
	ipc_recv_done(&m);
}

static void
worker_ipc_inbox_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct ipc_inbox *in = w->data;
	struct inbox_entry *q;
	size_t n;

	pthread_mutex_lock(&in->mtx);
	q = in->q;
	n = in->n;
	in->q = NULL;
	in->n = in->cap = 0;
	pthread_mutex_unlock(&in->mtx);

	for (size_t i = 0; i < n; i++) {
		struct ipc_link *l = q[i].link;

		if (q[i].msg != NULL && l->o != NULL && !l->ignore)
			deliver(l, q[i].msg); /* consumes the message */
		else if (q[i].msg != NULL)
			nng_msg_free(q[i].msg);
	}
	/* References last: a delivery may close a link of a later entry. */
	pthread_mutex_lock(&in->mtx);
	for (size_t i = 0; i < n; i++)
		link_unref_locked(q[i].link);
	pthread_mutex_unlock(&in->mtx);
	free(q);
}

int
worker_ipc_init(struct durod *d)
{
	struct ipc_inbox *in;

	if ((in = calloc(1, sizeof(*in))) == NULL)
		return (-1);
	in->loop = d->loop;
	pthread_mutex_init(&in->mtx, NULL);
	ev_async_init(&in->wake, worker_ipc_inbox_cb);
	in->wake.data = in;
	ev_async_start(d->loop, &in->wake);
	d->inbox = in;
	return (0);
}

/*
 * durod is exiting: sockets still being closed by the closer thread must
 * not wake a loop that is gone. (The inbox itself stays allocated until
 * the process ends; nng's threads may still hold it.)
 */
void
worker_ipc_fini(struct durod *d)
{
	struct ipc_inbox *in = d->inbox;

	if (in == NULL)
		return;
	struct timespec deadline;

	ev_async_stop(d->loop, &in->wake);
	pthread_mutex_lock(&in->mtx);
	in->closed = 1;
	pthread_mutex_unlock(&in->mtx);
	/*
	 * Let pending closes finish before exit() tears libraries down under
	 * them; bounded, since a close may be the deadlock described above.
	 */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	pthread_mutex_lock(&closer.mtx);
	while (
	    closer.started && (closer.n > 0 || closer.busy) &&
	    pthread_cond_timedwait(&closer.idle, &closer.mtx, &deadline) == 0)
		;
	pthread_mutex_unlock(&closer.mtx);
}

int
worker_ipc_open(struct object *o, char *err, size_t errlen)
{
	static unsigned long seq;
	char url[sizeof(o->ipc_path) + 8];
	struct ipc_link *l;
	uint64_t nonce = 0;
	int rv, n;

	/*
	 * Unguessable, not just unique: until its worker dials, whoever
	 * connects first to this path is the object's worker, and other
	 * workers can connect to Unix sockets (Landlock does not cover
	 * connect, and they cannot list run_dir to find the name).
	 */
	if (RAND_bytes((unsigned char *)&nonce, sizeof(nonce)) != 1)
		nonce = 0;
	n = snprintf(o->ipc_path, sizeof(o->ipc_path),
	    "%s/%.16s-%lu-%016llx.sock", o->d->run_dir, o->idhex, ++seq,
	    (unsigned long long)nonce);
	if (n < 0 || (size_t)n >= sizeof(o->ipc_path)) {
		snprintf(err, errlen, "ipc: socket path under %s is too long",
		    o->d->run_dir);
		return (-1);
	}
	snprintf(url, sizeof(url), "ipc://%s", o->ipc_path);
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "ipc: out of memory");
		return (-1);
	}
	l->inbox = o->d->inbox;
	l->o = o;
	l->refs = 1;
	if ((rv = nng_pair0_open(&l->sock)) != 0) {
		snprintf(
		    err, errlen, "ipc: nng_pair0_open: %s", nng_strerror(rv));
		free(l);
		return (-1);
	}
	/* A few frames of slack: turn-based delivery keeps at most one
	 * event and one control message (hibernate) outstanding. */
	if ((rv = nng_socket_set_size(
	         l->sock, NNG_OPT_RECVMAXSZ, IPC_MAX_FRAME_BYTES)) != 0 ||
	    (rv = nng_socket_set_int(l->sock, NNG_OPT_SENDBUF, 16)) != 0 ||
	    (rv = nng_aio_alloc(&l->aio, link_recv_cb, l)) != 0 ||
	    (rv = nng_listen(l->sock, url, NULL, 0)) != 0) {
		snprintf(
		    err, errlen, "ipc: listen %s: %s", url, nng_strerror(rv));
		if (l->aio != NULL)
			nng_aio_free(l->aio);
		nng_close(l->sock);
		unlink(o->ipc_path);
		free(l);
		return (-1);
	}
	/* A worker that runs as another user must be able to connect:
	 * connecting to a Unix socket takes write permission on it. */
	if (o->ns->drop_ids && chown(o->ipc_path, o->ns->uid, o->ns->gid) != 0)
		log_warn("object %s/%s: ipc: chown %s: %s", o->ns->cfg->name,
		    o->idhex, o->ipc_path, strerror(errno));
	nng_recv_aio(l->sock, l->aio);
	o->link = l;
	return (0);
}

void
worker_ipc_close(struct object *o)
{
	struct ipc_link *l = o->link;

	if (l == NULL)
		return;
	l->o = NULL;
	o->link = NULL;
	unlink(o->ipc_path);
	closer_push(l);
}

/*
 * The worker is connected: remove the socket's name, so nothing else can
 * dial it. (The listener itself must stay: closing it closes the pipe.)
 */
void
worker_ipc_connected(struct object *o)
{
	unlink(o->ipc_path);
}

void
worker_ipc_stop_reading(struct object *o)
{
	if (o->link != NULL)
		o->link->ignore = 1;
}

int
worker_ipc_send(struct object *o, const struct ipc_msg *m)
{
	/* Never block the loop: a worker that is not reading gets killed by
	 * its timeout, and a full pipe is reported rather than waited on. */
	if (o->link == NULL)
		return (NNG_ECLOSED);
	return (ipc_send(o->link->sock, m, NNG_FLAG_NONBLOCK));
}
