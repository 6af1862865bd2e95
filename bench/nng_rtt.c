/*
 * nng_rtt.c — the raw round trip between two processes on this machine,
 * the floor under every request durod relays to a worker.
 *
 *	nng_rtt [-n N] [-w WARMUP] [-s SIZE] [MODE...]
 *
 * MODE (default: all three, in this order):
 *   block  nng pair0 over ipc://: the parent listens, a child process
 *          dials and echoes; the parent sends one SIZE-byte message at a
 *          time with blocking nng_sendmsg/nng_recvmsg and times each round
 *          trip.
 *   poll   the same, but both sides work the way durod and libduro do:
 *          poll(2) on NNG_OPT_RECVFD, then a non-blocking receive (and a
 *          non-blocking send).
 *   unix   a Unix stream socketpair with a forked child: write SIZE bytes,
 *          read SIZE bytes back.
 *
 * One JSON line per mode ({"bench":"nng_block"|"nng_poll"|"unix",...},
 * see stats.h). The nng child is a fresh exec of this program
 * (`nng_rtt --child MODE URL`), never a fork of a process with nng's
 * threads running. A zero-length message tells it to exit.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>

#include "stats.h"

extern char **environ;

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "nng_rtt[%d]: %s: %s\n", (int)getpid(), what, why);
	exit(1);
}

static void
nng_check(const char *what, int rv)
{
	if (rv != 0)
		die(what, nng_strerror(rv));
}

static void
wait_fd(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};

	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			die("poll", strerror(errno));
}

/* Send msg; in poll mode without blocking, waiting on the send fd if full. */
static void
msg_send(nng_socket s, nng_msg *m, int pollmode, int sendfd)
{
	int rv;

	if (!pollmode) {
		nng_check("nng_sendmsg", nng_sendmsg(s, m, 0));
		return;
	}
	while ((rv = nng_sendmsg(s, m, NNG_FLAG_NONBLOCK)) == NNG_EAGAIN)
		wait_fd(sendfd);
	nng_check("nng_sendmsg", rv);
}

/* Receive one message; in poll mode poll the receive fd first, as a libev
 * loop does, then take the message without blocking. */
static nng_msg *
msg_recv(nng_socket s, int pollmode, int recvfd)
{
	nng_msg *m;
	int rv;

	if (!pollmode) {
		nng_check("nng_recvmsg", nng_recvmsg(s, &m, 0));
		return (m);
	}
	for (;;) {
		wait_fd(recvfd);
		rv = nng_recvmsg(s, &m, NNG_FLAG_NONBLOCK);
		if (rv == 0)
			return (m);
		if (rv != NNG_EAGAIN)
			die("nng_recvmsg", nng_strerror(rv));
	}
}

static void
open_sock(nng_socket *s, int *recvfd, int *sendfd)
{
	nng_check("nng_pair0_open", nng_pair0_open(s));
	nng_check(
	    "recvmaxsz", nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, 1 << 20));
	nng_check("recvfd", nng_socket_get_int(*s, NNG_OPT_RECVFD, recvfd));
	nng_check("sendfd", nng_socket_get_int(*s, NNG_OPT_SENDFD, sendfd));
}

/* The echo peer: dial, echo every message, exit on an empty one. */
static int
child(const char *mode, const char *url)
{
	int pollmode = strcmp(mode, "poll") == 0, recvfd, sendfd;
	nng_socket s;
	nng_msg *m;

	open_sock(&s, &recvfd, &sendfd);
	nng_check("nng_dial", nng_dial(s, url, NULL, 0));
	for (;;) {
		m = msg_recv(s, pollmode, recvfd);
		if (nng_msg_len(m) == 0) {
			nng_msg_free(m);
			break;
		}
		msg_send(
		    s, m, pollmode, sendfd); /* the echo: same message back */
	}
	nng_close(s);
	return (0);
}

static void
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("child", "did not exit 0");
}

static void
run_nng(const char *mode, int n, int warmup, size_t size)
{
	int pollmode = strcmp(mode, "poll") == 0, recvfd, sendfd, rv;
	char dir[] = "/tmp/duro-rtt-XXXXXX", path[PATH_MAX], url[PATH_MAX + 8];
	char self[PATH_MAX], name[32];
	uint64_t *t = calloc((size_t)n, sizeof(*t));
	nng_socket s;
	nng_msg *m;
	pid_t pid;
	ssize_t len;

	if (mkdtemp(dir) == NULL)
		die("mkdtemp", strerror(errno));
	snprintf(path, sizeof(path), "%s/rtt.sock", dir);
	snprintf(url, sizeof(url), "ipc://%s", path);
	open_sock(&s, &recvfd, &sendfd);
	nng_check("nng_listen", nng_listen(s, url, NULL, 0));

	if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		die("readlink /proc/self/exe", strerror(errno));
	self[len] = '\0';
	char *argv[] = {self, "--child", (char *)mode, url, NULL};
	if ((rv = posix_spawn(&pid, self, NULL, NULL, argv, environ)) != 0)
		die("posix_spawn", strerror(rv));

	for (int i = -warmup; i < n; i++) {
		uint64_t t0 = now_ns();

		nng_check("nng_msg_alloc", nng_msg_alloc(&m, size));
		memset(nng_msg_body(m), 'x', size);
		msg_send(s, m, pollmode, sendfd);
		m = msg_recv(s, pollmode, recvfd);
		if (nng_msg_len(m) != size)
			die("echo", "wrong length");
		nng_msg_free(m);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	nng_check("nng_msg_alloc", nng_msg_alloc(&m, 0));
	msg_send(s, m, pollmode, sendfd); /* goodbye */
	reap(pid);
	nng_close(s);
	unlink(path);
	rmdir(dir);
	snprintf(name, sizeof(name), "nng_%s", mode);
	print_summary(name, t, (size_t)n);
	free(t);
}

static void
xfer(int fd, char *buf, size_t size, int writing)
{
	size_t done = 0;

	while (done < size) {
		ssize_t k = writing ? write(fd, buf + done, size - done)
		                    : read(fd, buf + done, size - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0 && !writing)
			_exit(
			    0); /* the peer closed: the echo child's way out */
		if (k <= 0)
			die(writing ? "write" : "read", strerror(errno));
		done += (size_t)k;
	}
}

static void
run_unix(int n, int warmup, size_t size)
{
	uint64_t *t = calloc((size_t)n, sizeof(*t));
	char *buf = malloc(size);
	int sv[2];
	pid_t pid;

	memset(buf, 'x', size);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair", strerror(errno));
	/* The child only reads and writes: safe after fork even with nng's
	 * threads running in the parent. */
	if ((pid = fork()) < 0)
		die("fork", strerror(errno));
	if (pid == 0) {
		close(sv[0]);
		for (;;) {
			xfer(sv[1], buf, size, 0);
			xfer(sv[1], buf, size, 1);
		}
	}
	close(sv[1]);
	for (int i = -warmup; i < n; i++) {
		uint64_t t0 = now_ns();

		xfer(sv[0], buf, size, 1);
		xfer(sv[0], buf, size, 0);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	close(sv[0]);
	reap(pid);
	print_summary("unix", t, (size_t)n);
	free(t);
	free(buf);
}

int
main(int argc, char **argv)
{
	int n = 20000, warmup = 1000, c;
	size_t size = 100;

	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		return (child(argv[2], argv[3]));
	while ((c = getopt(argc, argv, "n:w:s:")) != -1) {
		switch (c) {
		case 'n':
			n = atoi(optarg);
			break;
		case 'w':
			warmup = atoi(optarg);
			break;
		case 's':
			size = (size_t)atol(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (n <= 0 || warmup < 0 || size == 0 || size > (1 << 20))
		goto usage;
	if (optind == argc) {
		run_nng("block", n, warmup, size);
		run_nng("poll", n, warmup, size);
		run_unix(n, warmup, size);
		return (0);
	}
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "block") == 0 ||
		    strcmp(argv[i], "poll") == 0)
			run_nng(argv[i], n, warmup, size);
		else if (strcmp(argv[i], "unix") == 0)
			run_unix(n, warmup, size);
		else
			goto usage;
	}
	return (0);

usage:
	fprintf(stderr, "usage: nng_rtt [-n N] [-w WARMUP] [-s SIZE] "
	                "[block|poll|unix]...\n");
	return (2);
}
