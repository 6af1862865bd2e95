/*
 * spawn.c — start a worker process without copying durod's memory.
 *
 * fork() copies the parent's page tables, so its cost grows with durod's
 * size (milliseconds for a big daemon); clone(CLONE_VM | CLONE_VFORK) runs
 * the child on durod's memory until it execs, like posix_spawn, and costs
 * the same whatever durod's size. CLONE_FILES does the same for the
 * descriptor table (see spawn_child). The price is discipline: between clone
 * and exec the child may only make system calls and write to its own stack
 * and to the spawn_args it was given. Everything it needs (path, argv,
 * envp, the sandbox's rlimits, Landlock ruleset and seccomp program) is
 * built by the parent beforehand, in a struct spawn_plan.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durod.h"

#define CHILD_STACK (64 * 1024)

struct spawn_args {
	const struct spawn_plan *plan;
	int err;          /* written by the child when a step fails */
	const char *step; /* which step */
};

/* The child's whole life before exec: system calls only (see above). */
static int
spawn_child(void *arg)
{
	struct spawn_args *a = arg;
	const struct spawn_plan *p = a->plan;
	struct sigaction dfl;
	sigset_t none;
	int fd;

	/*
	 * durod's signal handlers (libev's) would write to durod's memory if
	 * they ran here, so every signal stays blocked (the parent blocked
	 * them before the clone) until each is reset to its default. The
	 * worker then starts with default dispositions and an empty mask.
	 */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < _NSIG; s++)
		(void)sigaction(s, &dfl, NULL);

	/* Own session: a ^C at durod's terminal is for durod to handle. */
	if (setsid() < 0) {
		a->step = "setsid";
		goto fail;
	}
	/*
	 * Die with durod. PR_SET_PDEATHSIG fires when the thread that made us
	 * exits, which is durod's main thread (spawn runs on the loop). If
	 * durod already died before the prctl, getppid() shows it.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
		a->step = "prctl(PR_SET_PDEATHSIG)";
		goto fail;
	}
	if (getppid() != p->parent) {
		a->step = "parent check";
		errno = ESRCH;
		goto fail;
	}
	/*
	 * The sandbox (sandbox/apply.c: rlimits, ids, no-new-privs,
	 * Landlock, seccomp), while the Landlock ruleset's descriptor is
	 * still in the shared table; from here on every system call,
	 * execve included, is one the policy allows. A step that fails
	 * ends the child with its own status: it never runs unconfined.
	 */
	if (p->sandbox != NULL && sb_apply(p->sandbox, &a->step) != 0) {
		a->err = errno;
		_exit(SB_EXIT_STATUS);
	}
	/*
	 * We share durod's descriptor table (CLONE_FILES): copying it would
	 * cost a few microseconds per open descriptor, and durod holds
	 * several per live worker. CLOSE_RANGE_UNSHARE gives us a private
	 * table holding only 0..2 -- the kernel copies nothing above the
	 * range -- so nothing of durod's leaks into the worker, and only
	 * after it may we touch a descriptor.
	 */
	if (close_range(3, ~0U, CLOSE_RANGE_UNSHARE) != 0) {
		a->step = "close_range";
		goto fail;
	}
	if ((fd = open("/dev/null", O_RDWR)) < 0 ||
	    dup2(fd, STDIN_FILENO) < 0) {
		a->step = "stdin from /dev/null";
		goto fail;
	}
	close(fd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(p->path, p->argv, p->envp);
	a->step = "execve";
fail:
	a->err = errno;
	_exit(127);
}

int
spawn_start(const struct spawn_plan *p, pid_t *pidp, char *err, size_t errlen)
{
	static char *stack;
	struct spawn_args a = {p, 0, NULL};
	sigset_t all, old;
	pid_t pid;
	int e;

	/* One stack serves every spawn: CLONE_VFORK suspends us until the
	 * child has exec'd or exited, so spawns never overlap. */
	if (stack == NULL) {
		stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED) {
			stack = NULL;
			snprintf(err, errlen, "spawn: mmap stack: %s",
			    strerror(errno));
			return (ENOMEM);
		}
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(spawn_child, stack + CHILD_STACK,
	    CLONE_VM | CLONE_FILES | CLONE_VFORK | SIGCHLD, &a);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		snprintf(
		    err, errlen, "spawn %s: clone: %s", p->path, strerror(e));
		return (e);
	}
	*pidp = pid;
	if (a.err != 0) {
		/* The child has exited 127; libev reaps it. */
		snprintf(err, errlen, "spawn %s: %s: %s", p->path, a.step,
		    strerror(a.err));
		return (a.err);
	}
	return (0);
}

char *
spawn_resolve(const char *prog)
{
	const char *path, *p, *colon;
	char buf[4096];

	if (strchr(prog, '/') != NULL)
		return (realpath(prog, NULL));
	if ((path = getenv("PATH")) == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p != '\0'; p = *colon ? colon + 1 : colon) {
		colon = strchrnul(p, ':');
		snprintf(
		    buf, sizeof(buf), "%.*s/%s", (int)(colon - p), p, prog);
		if (colon > p && access(buf, X_OK) == 0)
			return (realpath(buf, NULL));
	}
	return (NULL);
}
