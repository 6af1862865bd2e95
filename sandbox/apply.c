/*
 * apply.c — confine the child between clone and exec.
 *
 * The child runs on durod's memory (CLONE_VM | CLONE_VFORK, see
 * supervisor/spawn.c), so this file makes raw system calls and nothing
 * else: no allocation, no stdio, no locks, and not even glibc's thin
 * wrappers where they do more than trap. glibc's setresuid/setresgid/
 * setgroups are the case in point: POSIX wants ids per process, so in a
 * threaded process glibc takes its thread-list lock, marks every thread
 * on the list and signals each to change its ids too. In this child the
 * lock and the list are durod's: the child could deadlock on a lock a
 * durod thread holds (with durod's loop waiting on the vfork), or wait
 * for a thread that is exiting, and it writes to durod's thread
 * descriptors. The kernel keeps credentials per task, and exactly this
 * task's are to change. So every call below is syscall(2), which
 * sanitizers do not intercept either.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <linux/seccomp.h>
#include <unistd.h>

#include "sandbox.h"

/* prlimit64 takes 64-bit limits: struct rlimit must be that. */
_Static_assert(sizeof(rlim_t) == 8, "rlim_t is not 64 bits");

static const char *
limit_step(int res)
{
	switch (res) {
	case RLIMIT_AS:
		return ("setrlimit(RLIMIT_AS)");
	case RLIMIT_FSIZE:
		return ("setrlimit(RLIMIT_FSIZE)");
	case RLIMIT_NOFILE:
		return ("setrlimit(RLIMIT_NOFILE)");
	case RLIMIT_CORE:
		return ("setrlimit(RLIMIT_CORE)");
	default:
		return ("setrlimit");
	}
}

/*
 * The order is fixed, and each step relies on the ones before it:
 *
 * 1. rlimits first, while we still hold whatever privilege durod has
 *    (after the id drop, CAP_SYS_RESOURCE is gone) and before seccomp,
 *    whose filter need not allow prlimit64. Limits only ever go down
 *    here (prepare.c clamps), and the RLIMIT_AS of this task does not
 *    bite before exec: the mm we share is durod's, and we map nothing.
 * 2. The id drop: groups first, then the gid, then the uid, because
 *    changing the uid away from 0 clears the capabilities (CAP_SETGID)
 *    the first two need. It must come before seccomp, which forbids
 *    set*id to the worker.
 * 3. no-new-privs: unprivileged (as we now are, after a drop) neither
 *    landlock_restrict_self nor a seccomp filter is allowed without it,
 *    and it keeps exec from granting privilege (setuid binaries, file
 *    capabilities) that would escape both.
 * 4. Landlock, before seccomp, whose filter does not allow
 *    landlock_restrict_self. The ruleset fd is durod's (CLONE_FILES
 *    shares its table) or a copy: we never close it, it is O_CLOEXEC
 *    and goes away at exec.
 * 5. seccomp last: from here on only what the filter allows can run,
 *    and the caller has one call left to make, execve.
 *
 * A failed step leaves the child partly confined; the caller must
 * _exit without exec (SB_EXIT_STATUS), never run the worker.
 */
int
sb_apply(const struct sb_plan *p, const char **step)
{
	for (int i = 0; i < p->nlimits; i++) {
		if (syscall(SYS_prlimit64, 0, p->resource[i], &p->limit[i],
		        NULL) != 0) {
			*step = limit_step(p->resource[i]);
			return (-1);
		}
	}
	if (p->drop_ids) {
		if (syscall(SYS_setgroups, 0, NULL) != 0) {
			*step = "setgroups";
			return (-1);
		}
		if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) != 0) {
			*step = "setresgid";
			return (-1);
		}
		if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) != 0) {
			*step = "setresuid";
			return (-1);
		}
	}
	if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		*step = "prctl(PR_SET_NO_NEW_PRIVS)";
		return (-1);
	}
	if (p->landlock_fd >= 0 &&
	    syscall(SYS_landlock_restrict_self, p->landlock_fd, 0) != 0) {
		*step = "landlock_restrict_self";
		return (-1);
	}
	if (p->filter != NULL &&
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, p->filter) != 0) {
		*step = "seccomp";
		return (-1);
	}
	return (0);
}
