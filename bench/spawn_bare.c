/*
 * spawn_bare.c — the floor under durod's activation: what it costs on this
 * machine to start the worker binary at all.
 *
 * Options common to both: -n N (default 1000) timed spawns after WARMUP
 * (default 20) untimed ones; -a adds every sample to the JSON output;
 * -f NFDS first opens NFDS more file descriptors (close-on-exec, like
 * durod's sockets and pipes: about 4 per live worker), to see what a big
 * fd table costs a spawn (the child gets a copy of the table, and the
 * exec closes them).
 *
 *	spawn_bare [-n N] [-w WARMUP] WORKER
 *		N times: posix_spawn WORKER with no DURO_* environment (it
 *		prints an error and exits 1 at once), then waitpid. Reports
 *		the spawn+exit+reap time of each ("spawn_bare").
 *
 *	spawn_bare -r [-n N] [-w WARMUP] [-d DIR] WORKER
 *		spawn+ready: N times, like durod does per activation: open an
 *		nng pair0 socket and listen on ipc://DIR/sr-<i>.sock, make the
 *		object's directory DIR/obj-<i>/ (durod makes it before the
 *		worker starts), posix_spawn WORKER with the environment of
 *		ipc/PROTOCOL.md section 3 (DURO_STORAGE in that directory), wait
 *		for the worker's first message (its "ready"), then close the
 *		socket (the worker sees the pipe go and exits 0) and waitpid.
 *		Reports "spawn_ready" (socket open to ready received: the floor
 *		durod's activation can approach), "ready_exit" (close to reaped)
 *		and "ready_cycle" (the whole cycle).
 *
 * -s picks how to spawn:
 *   posix    (default) glibc's posix_spawn: clone(CLONE_VM | CLONE_VFORK)
 *            + exec, the same technique as supervisor/spawn.c; the child
 *            gets a copy of the fd table, exec closes the close-on-exec ones.
 *   clone    what supervisor/spawn.c did before commit 653fbd5:
 *            clone(CLONE_VM | CLONE_VFORK), dup2 /dev/null,
 *            close_range(3, ~0U, 0), execve. The child copies the whole fd
 *            table, then closes it fd by fd.
 *   unshare  clone(CLONE_VM | CLONE_VFORK | CLONE_FILES), then
 *            close_range(4, ~0U, CLOSE_RANGE_UNSHARE), which gives the
 *            child a fresh table holding only fds 0-3 (the kernel copies
 *            nothing above the range's start), then dup2 of /dev/null
 *            (fd 3) onto 0-2. Cost independent of the parent's fds. Since
 *            653fbd5 supervisor/spawn.c does nearly this: it unshares from
 *            fd 3 and then opens /dev/null as stdin. The worker's stdin, stdout
 *and stderr go to /dev/null (durod gives it /dev/null as stdin and its own log
 *as stdout/stderr). Exits non-zero if any spawn fails, a worker ends in an
 * unexpected way (killed, or exit 127 = exec failed; or in -r mode any
 * non-zero exit), or a ready does not come within 10 s.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>

#include "stats.h"

static const char *worker;
static posix_spawn_file_actions_t fa;
static enum { SP_POSIX, SP_CLONE, SP_UNSHARE } how = SP_POSIX;
static int devnull;

#define CHILD_STACK (64 * 1024)
static char child_stack[CHILD_STACK] __attribute__((aligned(16)));

struct child_args {
	char *const *argv, *const *envp;
};

/* The clone child (-s clone, -s unshare): system calls only, then exec. */
static int
clone_child(void *arg)
{
	const struct child_args *a = arg;

	if (how == SP_UNSHARE) {
		/* Unshare the fd table keeping only 0-3 (3 is /dev/null). */
		if (close_range(4, ~0U, CLOSE_RANGE_UNSHARE) != 0)
			_exit(126);
		if (dup2(3, 0) < 0 || dup2(3, 1) < 0 || dup2(3, 2) < 0)
			_exit(126);
		close(3);
	} else {
		if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
		    dup2(devnull, 2) < 0 || close_range(3, ~0U, 0) != 0)
			_exit(126);
	}
	execve(worker, a->argv, a->envp);
	_exit(127);
}

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "spawn_bare: %s: %s\n", what, why);
	exit(1);
}

/* Spawn the worker with env; returns its pid. */
static pid_t
spawn(char *const env[])
{
	char *argv[] = {(char *)worker, NULL};
	struct child_args a = {argv, env};
	pid_t pid;
	int rv;

	if (how == SP_POSIX) {
		if ((rv = posix_spawn(&pid, worker, &fa, NULL, argv, env)) != 0)
			die("posix_spawn", strerror(rv));
		return (pid);
	}
	pid = clone(clone_child, child_stack + CHILD_STACK,
	    CLONE_VM | CLONE_VFORK | SIGCHLD |
	        (how == SP_UNSHARE ? CLONE_FILES : 0),
	    &a);
	if (pid < 0)
		die("clone", strerror(errno));
	return (pid);
}

/* Reap pid and check how it ended (bare: refused to start; else exit 0). */
static void
reap(pid_t pid, int bare)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid", strerror(errno));
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "spawn_bare: worker %d killed by signal %d\n",
		    (int)pid, WTERMSIG(st));
		exit(1);
	}
	/* Bare: the worker refuses to start (exit 1). 127: exec failed,
	 * 126: a step before exec failed. */
	if (bare ? WEXITSTATUS(st) >= 126 : WEXITSTATUS(st) != 0) {
		fprintf(stderr, "spawn_bare: worker %d exited %d\n", (int)pid,
		    WEXITSTATUS(st));
		exit(1);
	}
}

static void
bare(int n, int warmup)
{
	char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	uint64_t *t = calloc((size_t)n, sizeof(*t));

	for (int i = -warmup; i < n; i++) {
		uint64_t t0 = now_ns();
		reap(spawn(env), 1);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	print_summary("spawn_bare", t, (size_t)n);
	free(t);
}

static void
ready(int n, int warmup, const char *dir)
{
	uint64_t *up = calloc((size_t)n, sizeof(*up));
	uint64_t *down = calloc((size_t)n, sizeof(*down));
	uint64_t *cycle = calloc((size_t)n, sizeof(*cycle));
	char path[PATH_MAX], url[PATH_MAX + 8], objdir[PATH_MAX];
	char e_ipc[PATH_MAX + 32], e_id[128], e_name[64],
	    e_storage[PATH_MAX + 64];
	char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", e_ipc,
	    "DURO_NAMESPACE=counter", e_id, e_name, e_storage,
	    "DURO_PROTOCOL=1", NULL};
	int rv;

	for (int i = -warmup; i < n; i++) {
		nng_socket s;
		nng_msg *msg;
		uint64_t t0, t1, t2;
		pid_t pid;

		snprintf(path, sizeof(path), "%s/sr-%d.sock", dir, i + warmup);
		snprintf(url, sizeof(url), "ipc://%s", path);
		snprintf(e_ipc, sizeof(e_ipc), "DURO_IPC=%s", url);
		/* A valid-looking id (64 lowercase hex), different each time.
		 */
		snprintf(
		    e_id, sizeof(e_id), "DURO_OBJECT_ID=%064x", i + warmup);
		snprintf(e_name, sizeof(e_name), "DURO_OBJECT_NAME=sr-%d",
		    i + warmup);
		snprintf(objdir, sizeof(objdir), "%s/obj-%d", dir, i + warmup);
		snprintf(e_storage, sizeof(e_storage),
		    "DURO_STORAGE=%s/db.sqlite", objdir);

		t0 = now_ns();
		/* What durod does per activation: its own socket and listener.
		 */
		if ((rv = nng_pair0_open(&s)) != 0 ||
		    (rv = nng_socket_set_size(
		         s, NNG_OPT_RECVMAXSZ, 33816580)) != 0 ||
		    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000)) !=
		        0 ||
		    (rv = nng_listen(s, url, NULL, 0)) != 0)
			die("nng listen", nng_strerror(rv));
		if (mkdir(objdir, 0750) != 0 && errno != EEXIST)
			die(objdir, strerror(errno));
		pid = spawn(env);
		if ((rv = nng_recvmsg(s, &msg, 0)) != 0)
			die("waiting for ready", nng_strerror(rv));
		t1 = now_ns();
		/* The first message must be the ready (a JSON header after 4
		 * length bytes). */
		if (nng_msg_len(msg) < 4 ||
		    memmem(nng_msg_body(msg), nng_msg_len(msg), "\"ready\"",
		        7) == NULL)
			die("first message", "not a ready");
		nng_msg_free(msg);
		nng_close(s);
		reap(pid, 0);
		t2 = now_ns();
		unlink(path);
		if (i >= 0) {
			up[i] = t1 - t0;
			down[i] = t2 - t1;
			cycle[i] = t2 - t0;
		}
	}
	print_summary("spawn_ready", up, (size_t)n);
	print_summary("ready_exit", down, (size_t)n);
	print_summary("ready_cycle", cycle, (size_t)n);
	free(up);
	free(down);
	free(cycle);
}

int
main(int argc, char **argv)
{
	int n = 1000, warmup = 20, ready_mode = 0, nfds = 0, c;
	const char *dir = NULL;
	char tmpl[] = "/tmp/duro-spawn-XXXXXX";

	while ((c = getopt(argc, argv, "n:w:d:f:s:ra")) != -1) {
		switch (c) {
		case 'n':
			n = atoi(optarg);
			break;
		case 'w':
			warmup = atoi(optarg);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'f':
			nfds = atoi(optarg);
			break;
		case 's':
			if (strcmp(optarg, "posix") == 0)
				how = SP_POSIX;
			else if (strcmp(optarg, "clone") == 0)
				how = SP_CLONE;
			else if (strcmp(optarg, "unshare") == 0)
				how = SP_UNSHARE;
			else
				goto usage;
			break;
		case 'r':
			ready_mode = 1;
			break;
		case 'a':
			stats_all_samples = 1;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || n <= 0 || warmup < 0)
		goto usage;
	worker = argv[optind];
	if (access(worker, X_OK) != 0)
		die(worker, strerror(errno));

	/* First thing opened: fd 3, which -s unshare relies on. */
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		die("/dev/null", strerror(errno));
	if (how == SP_UNSHARE && devnull != 3)
		die("-s unshare", "/dev/null did not open as fd 3");
	/* A daemon-sized fd table (see -f). */
	for (int i = 0; i < nfds; i++)
		if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0)
			die("open /dev/null (-f; see ulimit -n)",
			    strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	posix_spawn_file_actions_adddup2(&fa, devnull, 2);

	if (!ready_mode) {
		bare(n, warmup);
		return (0);
	}
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL)
		die("mkdtemp", strerror(errno));
	ready(n, warmup, dir);
	if (dir == tmpl)
		fprintf(stderr,
		    "spawn_bare: the objects' directories are in %s\n", tmpl);
	return (0);

usage:
	fprintf(stderr, "usage: spawn_bare [-r] [-a] [-s posix|clone|unshare] "
	                "[-f NFDS] [-n N] [-w WARMUP] [-d DIR] WORKER\n");
	return (2);
}
