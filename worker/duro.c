/*
 * duro.c — connect a worker to durod: environment, socket, sending and
 * receiving.
 *
 * nng pair0 dialers reconnect silently when the pipe closes, so neither a
 * blocked receive nor a blocked send ever learns that durod is gone. We
 * watch pipe removal instead (a notify callback writes to a self-pipe) and
 * never block inside nng: sends and receives are non-blocking, and waiting
 * is done with poll() on the socket's fds together with the self-pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duro_impl.h"
#include "ipc_nng.h"

#include <nng/protocol/pair0/pair.h>

static const char *const errors[] = {
    [0] = "success",
    [-DURO_EINVAL] = "invalid argument",
    [-DURO_ENOMEM] = "out of memory",
    [-DURO_ENOENT] = "not found",
    [-DURO_ERANGE] = "too large",
    [-DURO_EIO] = "ipc socket failed",
    [-DURO_EPROTO] = "protocol error",
    [-DURO_ESTATE] = "not allowed in this state",
    [-DURO_ECLOSED] = "durod went away",
    [-DURO_EFULL] = "storage limit reached",
    [-DURO_EDENIED] = "SQL statement refused by the SDK",
    [-DURO_ESQL] = "SQL error",
    [-DURO_ECONSTRAINT] = "SQL constraint failed",
    [-DURO_ESTORAGE] = "storage failed",
};

const char *
duro_strerror(int err)
{
	if (err > 0 || (size_t)-err >= sizeof(errors) / sizeof(errors[0]))
		return ("unknown error");
	return (errors[-err]);
}

int
duro_exit_status(int err)
{
	if (err == 0)
		return (0);
	return (err == DURO_EPROTO ? 2 : 1);
}

static int
from_nng(int rv)
{
	switch (rv) {
	case 0:
		return (0);
	case NNG_ENOMEM:
		return (DURO_ENOMEM);
	case NNG_EMSGSIZE:
		return (DURO_ERANGE);
	default:
		return (DURO_EIO);
	}
}

/* ---- environment ---- */

static int
is_object_id(const char *s)
{
	size_t n = strlen(s);

	return (n == 64 && strspn(s, "0123456789abcdef") == n);
}

/* Copy $name into *out; a missing required variable is an error. */
static int
env_copy(const char *name, int required, char **out)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		if (!required)
			return (0);
		fprintf(stderr,
		    "duro: %s is not set (workers are started by "
		    "durod; see ipc/PROTOCOL.md)\n",
		    name);
		return (DURO_ENOENT);
	}
	if ((*out = strdup(v)) == NULL)
		return (DURO_ENOMEM);
	return (0);
}

static int
env_read(struct duro *d)
{
	const char *proto = getenv("DURO_PROTOCOL");
	int rv;

	if ((rv = env_copy("DURO_IPC", 1, &d->url)) != 0 ||
	    (rv = env_copy("DURO_NAMESPACE", 1, &d->ns)) != 0 ||
	    (rv = env_copy("DURO_OBJECT_ID", 1, &d->id)) != 0 ||
	    (rv = env_copy("DURO_OBJECT_NAME", 0, &d->name)) != 0 ||
	    (rv = env_copy("DURO_STORAGE", 1, &d->storage)) != 0)
		return (rv);
	if (!is_object_id(d->id)) {
		fprintf(stderr, "duro: DURO_OBJECT_ID is not 64 lowercase hex "
		                "characters\n");
		return (DURO_EINVAL);
	}
	if (proto == NULL) {
		fprintf(stderr, "duro: DURO_PROTOCOL is not set\n");
		return (DURO_ENOENT);
	}
	if (strcmp(proto, "1") != 0) {
		fprintf(stderr,
		    "duro: durod speaks protocol \"%s\", this libduro "
		    "speaks %d\n",
		    proto, IPC_PROTOCOL_VERSION);
		return (DURO_EINVAL);
	}
	return (0);
}

/* ---- socket ---- */

/*
 * Runs on an nng thread when a pipe is removed. A pair0 dialer has one
 * pipe at a time and we only start looking after a successful synchronous
 * dial, so any removal means durod closed our connection. write(2) is all
 * it does; the pipe is non-blocking and a full pipe is already readable.
 */
static void
duro_pipe_removed_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct duro *d = arg;
	ssize_t n;

	do
		n = write(d->gone[1], "x", 1);
	while (n == -1 && errno == EINTR);
}

static int
sock_open(struct duro *d)
{
	int rv;

	if (pipe2(d->gone, O_CLOEXEC | O_NONBLOCK) == -1) {
		fprintf(stderr, "duro: pipe: %s\n", strerror(errno));
		return (DURO_EIO);
	}
	if ((rv = nng_pair0_open(&d->sock)) != 0) {
		fprintf(stderr, "duro: nng_pair0_open: %s\n", nng_strerror(rv));
		return (from_nng(rv));
	}
	d->sock_open = 1;
	rv = nng_socket_set_size(
	    d->sock, NNG_OPT_RECVMAXSZ, IPC_MAX_FRAME_BYTES);
	if (rv == 0)
		rv = nng_pipe_notify(
		    d->sock, NNG_PIPE_EV_REM_POST, duro_pipe_removed_cb, d);
	if (rv == 0)
		rv = nng_socket_get_int(d->sock, NNG_OPT_RECVFD, &d->recv_fd);
	if (rv == 0)
		rv = nng_socket_get_int(d->sock, NNG_OPT_SENDFD, &d->send_fd);
	if (rv != 0) {
		fprintf(
		    stderr, "duro: nng socket setup: %s\n", nng_strerror(rv));
		return (from_nng(rv));
	}
	if ((rv = nng_dial(d->sock, d->url, NULL, 0)) != 0) {
		fprintf(stderr, "duro: cannot dial %s: %s\n", d->url,
		    nng_strerror(rv));
		return (DURO_EIO);
	}
	return (0);
}

int
duro_open(struct duro **out)
{
	struct duro *d;
	int rv;

	*out = NULL;
	/*
	 * One malloc arena. glibc gives a thread that meets a busy arena one
	 * of its own, reserving 64 MiB of address space for it: under the
	 * sandbox's RLIMIT_AS (memory_limit_mb, 128 MiB by default) nng's
	 * threads could then make a large event fail with out of memory, or
	 * not, depending on timing. Workers run one event at a time; the
	 * arena lock costs nothing worth that.
	 */
	(void)mallopt(M_ARENA_MAX, 1);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (DURO_ENOMEM);
	d->gone[0] = d->gone[1] = -1;
	d->st.lock_fd = -1;
	/*
	 * Storage before the socket: a worker that cannot have its storage
	 * never says ready.
	 */
	if ((rv = env_read(d)) != 0 || (rv = duro_storage_open(d)) != 0 ||
	    (rv = sock_open(d)) != 0) {
		duro_close(d);
		return (rv);
	}
	*out = d;
	return (0);
}

void
duro_close(struct duro *d)
{
	if (d == NULL)
		return;
	duro_storage_close(d);
	duro_ws_free(d);
	/* nng_close() waits for callbacks, so the self-pipe outlives them. */
	if (d->sock_open)
		nng_close(d->sock);
	if (d->gone[0] != -1)
		close(d->gone[0]);
	if (d->gone[1] != -1)
		close(d->gone[1]);
	free(d->url);
	free(d->ns);
	free(d->id);
	free(d->name);
	free(d->storage);
	free(d);
}

int
duro_on_request(struct duro *d, duro_request_fn fn, void *arg)
{
	d->on_request = fn;
	d->request_arg = arg;
	return (0);
}

int
duro_on_hibernate(struct duro *d, duro_hibernate_fn fn, void *arg)
{
	d->on_hibernate = fn;
	d->hibernate_arg = arg;
	return (0);
}

const char *
duro_namespace(const struct duro *d)
{
	return (d->ns);
}

const char *
duro_object_id(const struct duro *d)
{
	return (d->id);
}

const char *
duro_object_name(const struct duro *d)
{
	return (d->name);
}

const char *
duro_storage_path(const struct duro *d)
{
	return (d->storage);
}

/* ---- sending ---- */

int
duro_gone(const struct duro *d)
{
	struct pollfd pfd = {d->gone[0], POLLIN, 0};

	return (poll(&pfd, 1, 0) == 1);
}

/*
 * Wait until a send would not block. A blocking nng send would wait for
 * a pipe that the dialer keeps trying to re-establish after durod is gone.
 */
static int
wait_writable(const struct duro *d)
{
	struct pollfd pfd[2] = {
	    {d->gone[0], POLLIN, 0},
	    {d->send_fd, POLLIN, 0},
	};

	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			return (DURO_EIO);
		}
		if (pfd[0].revents != 0)
			return (DURO_ECLOSED);
		if (pfd[1].revents != 0)
			return (0);
	}
}

int
duro_send_msg(struct duro *d, const struct ipc_msg *m)
{
	int rv;

	/* ipc_send() frees what it could not send, so a retry re-encodes;
	 * that only happens if the pipe got busy between poll() and send. */
	do {
		if ((rv = wait_writable(d)) != 0)
			return (rv);
		rv = ipc_send(d->sock, m, NNG_FLAG_NONBLOCK);
	} while (rv == NNG_EAGAIN);
	return (from_nng(rv));
}

int
duro_send_raw(struct duro *d, const void *buf, size_t len)
{
	nng_msg *msg;
	int rv;

	if ((rv = nng_msg_alloc(&msg, len)) != 0)
		return (from_nng(rv));
	if (len > 0)
		memcpy(nng_msg_body(msg), buf, len);
	return (duro_send_frame(d, msg));
}

int
duro_send_frame(struct duro *d, nng_msg *msg)
{
	int rv;

	do {
		if ((rv = wait_writable(d)) != 0) {
			nng_msg_free(msg);
			return (rv);
		}
		rv = nng_sendmsg(d->sock, msg, NNG_FLAG_NONBLOCK);
	} while (rv == NNG_EAGAIN);
	if (rv != 0)
		nng_msg_free(msg);
	return (from_nng(rv));
}

int
duro_send_error(
    struct duro *d, uint64_t id, const char *code, const char *fmt, ...)
{
	struct ipc_msg m;
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	memset(&m, 0, sizeof(m));
	m.type = IPC_ERROR;
	m.id = id;
	m.code = code;
	m.message = text;
	return (duro_send_msg(d, &m));
}

int
duro_ready(struct duro *d)
{
	struct ipc_msg m;
	int rv;

	if (d->ready_sent)
		return (DURO_ESTATE);
	memset(&m, 0, sizeof(m));
	m.type = IPC_READY;
	m.protocol = IPC_PROTOCOL_VERSION;
	m.pid = (long)getpid();
	if ((rv = duro_send_msg(d, &m)) == 0)
		d->ready_sent = 1;
	return (rv);
}

/* ---- receiving ---- */

/* Wait until a message waits or durod is gone. */
static int
wait_readable(const struct duro *d)
{
	struct pollfd pfd[2] = {
	    {d->recv_fd, POLLIN, 0},
	    {d->gone[0], POLLIN, 0},
	};

	while (poll(pfd, 2, -1) == -1)
		if (errno != EINTR)
			return (DURO_EIO);
	return (0);
}

/*
 * Messages durod sent before it went away are still delivered: the pipe
 * may be gone while its last messages wait in the socket.
 */
int
duro_recv_msg(struct duro *d, struct ipc_msg *m)
{
	char err[256];
	int rv;

	for (;;) {
		rv = ipc_recv(d->sock, m, NNG_FLAG_NONBLOCK, err, sizeof(err));
		if (rv == 0)
			return (0);
		if (rv < 0) {
			fprintf(stderr,
			    "duro: malformed message from durod: %s\n", err);
			return (DURO_EPROTO);
		}
		if (rv != NNG_EAGAIN) {
			fprintf(
			    stderr, "duro: receive: %s\n", nng_strerror(rv));
			return (DURO_EIO);
		}
		if (duro_gone(d))
			return (DURO_ECLOSED);
		if ((rv = wait_readable(d)) != 0)
			return (rv);
	}
}
