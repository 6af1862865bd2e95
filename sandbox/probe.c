/*
 * probe.c — what the running kernel can enforce: the Landlock ABI level
 * and whether seccomp filters work. durod probes once at start, logs the
 * result and checks each policy against it (policy.c); prepare.c asks for
 * the Landlock ABI again per spawn, which costs one system call.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <unistd.h>

#include "sandbox.h"

int
sb_landlock_abi(void)
{
	long v;

	/*
	 * ENOSYS: built without Landlock; EOPNOTSUPP: built in but not
	 * enabled at boot (lsm=). Either way there is nothing to enforce.
	 */
	v = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	return (v < 0 ? 0 : (int)v);
}

/*
 * PR_GET_SECCOMP fails (EINVAL) without CONFIG_SECCOMP. With it, a
 * filter install with a NULL program fails on copying the program in:
 * EFAULT when filters are compiled in (CONFIG_SECCOMP_FILTER), EINVAL
 * when only strict mode is. Nothing is installed either way, and the
 * copy comes before the no-new-privs check, so no privilege is needed.
 */
static int
seccomp_filters(void)
{
	if (syscall(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		return (0);
	if (syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL, 0,
	        0) == 0)
		return (1); /* cannot happen: nothing to install */
	return (errno == EFAULT);
}

void
sb_probe(struct sb_kernel *k)
{
	int e = errno;

	k->landlock_abi = sb_landlock_abi();
	k->seccomp = seccomp_filters();
	errno = e;
}
