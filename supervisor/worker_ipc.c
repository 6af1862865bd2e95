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
#include <stdio.h>
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

void
worker_ipc_close(struct object *o)
{
	if (!o->sock_open)
		return;
	ev_io_stop(o->d->loop, &o->sock_io);
	nng_close(o->sock);
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
