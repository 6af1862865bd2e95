/*
 * worker_ipc.c — one nng pair0 socket per worker, watched by libev.
 *
 * durod listens on ipc://<run_dir>/<id prefix>-<n>.sock and the worker
 * dials it ($DURO_IPC). nng does its I/O on its own threads; the loop only
 * sees the socket's receive fd, which is readable while a message waits,
 * and receives without blocking. Every frame is decoded (and so checked)
 * here; object_run.c only ever sees well-formed messages.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "durod.h"
#include "ipc_nng.h"

#include <nng/protocol/pair0/pair.h>

static void
worker_ipc_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct object *o = w->data;
	struct ipc_msg m;
	char err[160];
	int rv;

	/* Drain what is there; stop early if the worker gets killed. */
	while (ev_is_active(w)) {
		rv = ipc_recv(o->sock, &m, NNG_FLAG_NONBLOCK, err, sizeof(err));
		if (rv == NNG_EAGAIN)
			return;
		if (rv < 0) {
			object_on_violation(o, err);
			return;
		}
		if (rv > 0) {
			log_warn("object %s/%s: ipc receive: %s", o->ns->cfg->name,
			    o->idhex, nng_strerror(rv));
			return;
		}
		object_on_message(o, &m);
		ipc_recv_done(&m);
	}
}

int
worker_ipc_open(struct object *o, char *err, size_t errlen)
{
	static unsigned long seq;
	char url[sizeof(o->ipc_path) + 8];
	int fd, rv, n;

	n = snprintf(o->ipc_path, sizeof(o->ipc_path), "%s/%.16s-%lu.sock",
	    o->d->run_dir, o->idhex, ++seq);
	if (n < 0 || (size_t)n >= sizeof(o->ipc_path)) {
		snprintf(err, errlen, "ipc: socket path under %s is too long",
		    o->d->run_dir);
		return (-1);
	}
	snprintf(url, sizeof(url), "ipc://%s", o->ipc_path);
	if ((rv = nng_pair0_open(&o->sock)) != 0) {
		snprintf(err, errlen, "ipc: nng_pair0_open: %s", nng_strerror(rv));
		return (-1);
	}
	/* A few frames of slack: turn-based delivery keeps at most one
	 * event and one control message (hibernate) outstanding. */
	if ((rv = nng_socket_set_size(o->sock, NNG_OPT_RECVMAXSZ,
		 IPC_MAX_FRAME_BYTES)) != 0 ||
	    (rv = nng_socket_set_int(o->sock, NNG_OPT_SENDBUF, 16)) != 0 ||
	    (rv = nng_listen(o->sock, url, &o->listener, 0)) != 0 ||
	    (rv = nng_socket_get_int(o->sock, NNG_OPT_RECVFD, &fd)) != 0) {
		snprintf(err, errlen, "ipc: listen %s: %s", url, nng_strerror(rv));
		nng_close(o->sock);
		unlink(o->ipc_path);
		return (-1);
	}
	o->sock_open = 1;
	ev_io_init(&o->sock_io, worker_ipc_read_cb, fd, EV_READ);
	o->sock_io.data = o;
	ev_io_start(o->d->loop, &o->sock_io);
	return (0);
}

/*
 * Closing sockets off the loop. nng 1.5.2 (Debian 12's) can deadlock in
 * nng_close() when a pipe is torn down at the same moment (nanomsg/nng
 * issue 1543, fixed in later releases); seen here under heavy load with
 * workers being killed. One stuck close on the loop would stop every
 * object, so sockets are closed by a thread of their own: a stuck close
 * there costs one socket, not durod.
 */
static struct {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	nng_socket *q;
	size_t n, cap;
	int started;
} closer = { .mtx = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *
closer_main(void *arg)
{
	nng_socket s;

	for (;;) {
		pthread_mutex_lock(&closer.mtx);
		while (closer.n == 0)
			pthread_cond_wait(&closer.cv, &closer.mtx);
		s = closer.q[--closer.n];
		pthread_mutex_unlock(&closer.mtx);
		nng_close(s);
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
closer_push(nng_socket s)
{
	nng_socket *q;

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
		nng_close(s);
		return;
	}
	closer.q[closer.n++] = s;
	pthread_cond_signal(&closer.cv);
	pthread_mutex_unlock(&closer.mtx);
}

void
worker_ipc_close(struct object *o)
{
	if (!o->sock_open)
		return;
	ev_io_stop(o->d->loop, &o->sock_io);
	closer_push(o->sock);
	unlink(o->ipc_path);
	o->sock_open = 0;
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
	if (o->sock_open)
		ev_io_stop(o->d->loop, &o->sock_io);
}

int
worker_ipc_send(struct object *o, const struct ipc_msg *m)
{
	/* Never block the loop: a worker that is not reading gets killed by
	 * its timeout, and a full pipe is reported rather than waited on. */
	return (ipc_send(o->sock, m, NNG_FLAG_NONBLOCK));
}
