/*
 * prepare.c — a spawn's sandbox plan, built in the parent.
 *
 * Everything that allocates, opens files or can fail for a reason worth
 * a message happens here, before the clone: the rlimits (clamped to what
 * durod itself may grant), the ids to drop to, and the Landlock ruleset
 * for this object. The child (apply.c) then only makes system calls with
 * what the plan holds.
 *
 * The ruleset handles every access right named here that the running
 * kernel's ABI has (up to ABI 6), not only those of the ABI the policy
 * was written for: a right that is handled and granted by no rule is
 * denied, so handling more can only confine more. A right of a later
 * ABI is not handled until it is added here on purpose. That is how TCP
 * is denied (ABI 4: bind and connect are handled, no port rule is
 * added) and how the worker is kept from signalling durod or connecting
 * to abstract Unix sockets outside its own domain (ABI 6 scopes).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

/* The installed uapi headers may predate the running kernel's ABI. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/*
 * struct landlock_ruleset_attr as of ABI 6. An older kernel is given
 * the prefix it knows (ruleset_size): it would refuse a longer one only
 * if the extra fields were non-zero, but passing its own size is plain.
 */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#define FS(r) LANDLOCK_ACCESS_FS_##r

/* The filesystem rights of ABI 1. */
#define FS_ABI1                                                                \
	(FS(EXECUTE) | FS(WRITE_FILE) | FS(READ_FILE) | FS(READ_DIR) |         \
	    FS(REMOVE_DIR) | FS(REMOVE_FILE) | FS(MAKE_CHAR) | FS(MAKE_DIR) |  \
	    FS(MAKE_REG) | FS(MAKE_SOCK) | FS(MAKE_FIFO) | FS(MAKE_BLOCK) |    \
	    FS(MAKE_SYM))

/* The rights Landlock accepts on a rule for a file (not a directory). */
#define FS_FILE                                                                \
	(FS(EXECUTE) | FS(WRITE_FILE) | FS(READ_FILE) | FS(TRUNCATE) |         \
	    FS(IOCTL_DEV))

/*
 * What each kind of path grants. Nothing grants making devices, fifos,
 * sockets or symlinks, nor device ioctls: a worker needs none of them.
 * Read-write is SQLite's needs (the database, its -wal, -shm and
 * -journal files created, written, truncated, deleted) plus directories,
 * and REFER so a rename between two directories of the object's tree
 * works; it never includes EXECUTE: what a worker writes it cannot run.
 */
#define R_READ (FS(READ_FILE) | FS(READ_DIR))
#define R_EXEC (R_READ | FS(EXECUTE))
#define R_READ_WRITE                                                           \
	(R_READ | FS(WRITE_FILE) | FS(TRUNCATE) | FS(MAKE_REG) |               \
	    FS(REMOVE_FILE) | FS(MAKE_DIR) | FS(REMOVE_DIR) | FS(REFER))

/* Devices every worker may use, whatever its policy. */
static const struct {
	const char *path;
	uint64_t access;
} devices[] = {
    {"/dev/null", FS(READ_FILE) | FS(WRITE_FILE)},
    {"/dev/urandom", FS(READ_FILE)},
};

struct ruleset {
	int fd;
	uint64_t handled_fs;
	char *err;
	size_t errlen;
};

static uint64_t
fs_handled(int abi)
{
	uint64_t fs = FS_ABI1;

	if (abi >= 2)
		fs |= FS(REFER);
	if (abi >= 3)
		fs |= FS(TRUNCATE);
	if (abi >= 5)
		fs |= FS(IOCTL_DEV);
	return (fs);
}

static int
ruleset_create(struct ruleset *rs, int abi)
{
	struct ll_ruleset_attr attr;
	size_t size;

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = fs_handled(abi);
	size = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
		                          LANDLOCK_ACCESS_NET_CONNECT_TCP;
		size += sizeof(attr.handled_access_net);
	}
	if (abi >= 6) {
		attr.scoped =
		    LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
		size += sizeof(attr.scoped);
	}
	rs->handled_fs = attr.handled_access_fs;
	/* The kernel always makes a ruleset fd O_CLOEXEC. */
	rs->fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rs->fd < 0) {
		snprintf(rs->err, rs->errlen,
		    "sandbox: landlock_create_ruleset (ABI %d): %s", abi,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/*
 * Grant access beneath path. A path that does not exist is skipped when
 * optional (a policy lists paths for many machines) and an error when
 * not (the object's directory, the worker's program). A rule on a file
 * may only carry file rights, so a directory's rights are cut down.
 */
static int
ruleset_allow(
    struct ruleset *rs, const char *path, uint64_t access, int optional)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd, rv;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0) {
		if (optional && (errno == ENOENT || errno == ENOTDIR))
			return (0);
		snprintf(rs->err, rs->errlen, "sandbox: %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) != 0) {
		snprintf(rs->err, rs->errlen, "sandbox: %s: fstat: %s", path,
		    strerror(errno));
		close(fd);
		return (-1);
	}
	if (!S_ISDIR(st.st_mode))
		access &= FS_FILE;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access & rs->handled_fs;
	pb.parent_fd = fd;
	rv = (int)syscall(
	    SYS_landlock_add_rule, rs->fd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	if (rv != 0)
		snprintf(rs->err, rs->errlen,
		    "sandbox: %s: landlock_add_rule: %s", path,
		    strerror(errno));
	close(fd);
	return (rv);
}

static int
ruleset_allow_all(
    struct ruleset *rs, const char *const *paths, uint64_t access, int optional)
{
	for (; paths != NULL && *paths != NULL; paths++)
		if (ruleset_allow(rs, *paths, access, optional) != 0)
			return (-1);
	return (0);
}

static int
ruleset_fill(
    struct ruleset *rs, const struct sb_policy *p, const struct sb_target *t)
{
	const struct {
		const char *const *paths;
		uint64_t access;
		int optional;
	} lists[] = {
	    {sb_policy_paths(p, SB_READ), R_READ, 1},
	    {sb_policy_paths(p, SB_EXECUTE), R_EXEC, 1},
	    {sb_policy_paths(p, SB_READ_WRITE), R_READ_WRITE, 1},
	    {t->execs, R_EXEC, 0},
	    {t->reads, R_READ, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		if (ruleset_allow(rs, devices[i].path, devices[i].access, 1))
			return (-1);
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (ruleset_allow_all(
		        rs, lists[i].paths, lists[i].access, lists[i].optional))
			return (-1);
	if (t->object_dir != NULL &&
	    ruleset_allow(rs, t->object_dir, R_READ_WRITE, 0) != 0)
		return (-1);
	return (0);
}

/*
 * The ruleset for this spawn, or -1 in plan->landlock_fd when Landlock
 * is not to be applied: the policy says so (ABI 0, decided at load), or
 * the kernel lacks Landlock and the policy is best effort. A kernel
 * older than the policy's ABI is only acceptable under best effort too;
 * policy.c refused the policy at load otherwise, this is the backstop.
 */
static int
prepare_landlock(const struct sb_policy *p, const struct sb_target *t,
    struct sb_plan *plan, char *err, size_t errlen)
{
	struct ruleset rs = {-1, 0, err, errlen};
	int want = sb_policy_min_abi(p), abi;

	if (want == 0)
		return (0);
	abi = sb_landlock_abi();
	if (abi < want && !sb_policy_best_effort(p)) {
		snprintf(err, errlen,
		    "sandbox: policy %s: needs Landlock ABI %d, kernel has %d",
		    sb_policy_name(p), want, abi);
		return (-1);
	}
	if (abi == 0)
		return (0);
	if (ruleset_create(&rs, abi) != 0)
		return (-1);
	if (ruleset_fill(&rs, p, t) != 0) {
		close(rs.fd);
		return (-1);
	}
	plan->landlock_fd = rs.fd;
	return (0);
}

/*
 * Set resource res to want (soft and hard alike, so the worker cannot
 * raise it back). Lowering a hard limit needs no privilege but raising
 * one does, so want is clamped to durod's own hard limit: the child
 * could not get more anyway.
 */
static int
limit_add(struct sb_plan *plan, int res, rlim_t want, char *err, size_t errlen)
{
	struct rlimit cur;
	int n = plan->nlimits;

	if (n == SB_MAX_RLIMITS) {
		snprintf(err, errlen, "sandbox: more than %d rlimits",
		    SB_MAX_RLIMITS);
		return (-1);
	}
	if (getrlimit(res, &cur) != 0) {
		snprintf(err, errlen, "sandbox: getrlimit(%d): %s", res,
		    strerror(errno));
		return (-1);
	}
	if (cur.rlim_max != RLIM_INFINITY &&
	    (want == RLIM_INFINITY || want > cur.rlim_max))
		want = cur.rlim_max;
	plan->resource[n] = res;
	plan->limit[n].rlim_cur = want;
	plan->limit[n].rlim_max = want;
	plan->nlimits++;
	return (0);
}

/* mb MiB in bytes; no limit if that overflows rlim_t. */
static rlim_t
mib(uint64_t mb)
{
	if (mb > (uint64_t)RLIM_INFINITY >> 20)
		return (RLIM_INFINITY);
	return ((rlim_t)mb << 20);
}

/*
 * RLIMIT_NPROC would be the obvious "no fork", but it counts every
 * process of the user, durod and all its workers included: the seccomp
 * filter is what forbids new processes.
 */
static int
prepare_limits(const struct sb_policy *p, const struct sb_target *t,
    struct sb_plan *plan, char *err, size_t errlen)
{
	uint64_t nofile = sb_policy_nofile(p);

	/*
	 * The address space counts every thread's stack reservation, and
	 * glibc sizes those by RLIMIT_STACK (8 MiB by default): a libduro
	 * worker has a dozen nng threads, which would leave little of a
	 * 128 MiB limit for data. 2 MiB stacks are plenty for workers.
	 */
	if (t->memory_limit_mb != 0 &&
	    (limit_add(plan, RLIMIT_AS, mib(t->memory_limit_mb), err, errlen) !=
	            0 ||
	        limit_add(plan, RLIMIT_STACK, mib(SB_STACK_MB), err, errlen) !=
	            0))
		return (-1);
	if (t->file_limit_mb != 0 &&
	    limit_add(plan, RLIMIT_FSIZE, mib(t->file_limit_mb), err, errlen) !=
	        0)
		return (-1);
	if (nofile != 0 &&
	    limit_add(plan, RLIMIT_NOFILE, (rlim_t)nofile, err, errlen) != 0)
		return (-1);
	return (limit_add(plan, RLIMIT_CORE, 0, err, errlen));
}

/*
 * Only root can drop to other ids (setgroups needs CAP_SETGID even to
 * the same user); policy.c says the ids are meaningful only then. A
 * worker must not start as durod's user when its policy names another,
 * so anything else is an error here rather than a failed spawn.
 */
static int
prepare_ids(
    const struct sb_policy *p, struct sb_plan *plan, char *err, size_t errlen)
{
	if (!sb_policy_ids(p, &plan->uid, &plan->gid))
		return (0);
	if (geteuid() != 0) {
		snprintf(err, errlen,
		    "sandbox: policy %s drops to uid %u gid %u: durod must "
		    "run as root for that",
		    sb_policy_name(p), (unsigned)plan->uid,
		    (unsigned)plan->gid);
		return (-1);
	}
	plan->drop_ids = 1;
	return (0);
}

int
sb_prepare(const struct sb_policy *p, const struct sb_target *t,
    struct sb_plan *plan, char *err, size_t errlen)
{
	memset(plan, 0, sizeof(*plan));
	plan->landlock_fd = -1;
	if (prepare_limits(p, t, plan, err, errlen) != 0 ||
	    prepare_ids(p, plan, err, errlen) != 0 ||
	    prepare_landlock(p, t, plan, err, errlen) != 0)
		return (-1);
	plan->filter = sb_policy_filter(p);
	return (0);
}

void
sb_plan_release(struct sb_plan *plan)
{
	if (plan->landlock_fd >= 0)
		close(plan->landlock_fd);
	plan->landlock_fd = -1;
}
