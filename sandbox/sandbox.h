/*
 * sandbox.h — confining a worker between clone and exec (see DESIGN.md
 * "Sandbox", STYLE.md rules 2-4, and sandbox/README.md).
 *
 * Three stages, in three files:
 *   policy.c   once per policy file, when durod reads its config: parse
 *              and validate the JSON, check the kernel can enforce it,
 *              compile the seccomp filter to BPF (libseccomp);
 *   prepare.c  once per spawn, in the parent: the Landlock ruleset for
 *              the object's directory and the worker's executables, the
 *              rlimits, the ids to drop to: a struct sb_plan;
 *   apply.c    in the child, between clone and exec: apply the plan with
 *              system calls only (no allocation, no locks, no stdio: the
 *              child runs on durod's memory), in a fixed order.
 * probe.c tells what the kernel supports.
 */
#ifndef DURO_SANDBOX_H
#define DURO_SANDBOX_H

#include <sys/resource.h>
#include <sys/types.h>

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

/* ---- probe.c: what the kernel can enforce ---- */

struct sb_kernel {
	int landlock_abi; /* 0: no Landlock; else its ABI version (1..) */
	int seccomp;      /* seccomp filters (SECCOMP_MODE_FILTER) work */
};

/* Fill k from the running kernel; never fails (what is missing is 0). */
void sb_probe(struct sb_kernel *k);
/* The kernel's Landlock ABI version, 0 when it has no Landlock. */
int sb_landlock_abi(void);

/* ---- policy.c: a policy file, parsed, checked and compiled ---- */

struct sb_policy;

/*
 * Load the policy file at path. Unknown fields, unknown syscall names,
 * bad values are errors; err receives "<path>: <json path>: <why>", e.g.
 * "policies/native.json: seccomp.allow[3].syscall: unknown syscall
 * \"frobnicate\"". A policy that needs what the kernel k lacks (Landlock
 * at some ABI, seccomp) is an error too, unless it says "best_effort":
 * true (then the worker gets what the kernel has: see the accessors);
 * k NULL skips that check. Returns 0 or -1.
 */
int sb_policy_load(const char *path, const struct sb_kernel *k,
    struct sb_policy **out, char *err, size_t errlen);
void sb_policy_free(struct sb_policy *);
/* The policy's name: its file name without ".json". */
const char *sb_policy_name(const struct sb_policy *);
/* The compiled seccomp filter, or NULL when the policy has none or the
 * kernel cannot apply it (best effort). Lives as long as the policy. */
const struct sock_fprog *sb_policy_filter(const struct sb_policy *);

/*
 * Which Landlock access a path list grants (sb_policy_paths): SB_READ
 * reads files and lists directories; SB_READ_WRITE also creates, writes,
 * removes and truncates; SB_EXECUTE reads and executes.
 */
#define SB_READ 1
#define SB_READ_WRITE 2
#define SB_EXECUTE 3

/*
 * The absolute paths the policy grants with access (SB_READ,
 * SB_READ_WRITE or SB_EXECUTE), NULL-terminated, never NULL itself.
 * Paths that do not exist on this machine are listed too: prepare.c
 * skips them. Live as long as the policy.
 */
const char *const *sb_policy_paths(const struct sb_policy *, int access);
/* The Landlock ABI the ruleset is written for; 0 when Landlock is not
 * to be applied (the kernel lacks it and the policy is best effort). */
int sb_policy_min_abi(const struct sb_policy *);
/* RLIMIT_NOFILE for the worker; 0 when the policy sets none. */
uint64_t sb_policy_nofile(const struct sb_policy *);
/* 1 if the policy said "best_effort": true. */
int sb_policy_best_effort(const struct sb_policy *);
/* 1 and *uid, *gid filled if the policy names a user to drop to (ids
 * resolved at load); 0 otherwise. Only meaningful when durod is root. */
int sb_policy_ids(const struct sb_policy *, uid_t *uid, gid_t *gid);

/* ---- prepare.c: per spawn, in the parent ---- */

/* What this spawn is, besides its policy. */
struct sb_target {
	const char *object_dir;   /* read-write for the worker; NULL: none */
	const char *const *execs; /* NULL-terminated: may be executed (the
	                           * worker program, its interpreter) */
	const char *const *reads; /* NULL-terminated: also readable (a
	                           * script passed as an argument) */
	uint64_t memory_limit_mb; /* RLIMIT_AS; 0: none */
	uint64_t file_limit_mb;   /* RLIMIT_FSIZE; 0: none */
};

#define SB_MAX_RLIMITS 8
#define SB_STACK_MB                                                            \
	2 /* RLIMIT_STACK, so threads' stacks fit the memory limit */

/* Everything the child applies, built by the parent. */
struct sb_plan {
	int nlimits;
	int resource[SB_MAX_RLIMITS];
	struct rlimit limit[SB_MAX_RLIMITS];
	int drop_ids; /* setresgid/setresuid to gid/uid */
	uid_t uid;
	gid_t gid;
	int landlock_fd; /* a ruleset to restrict_self to; -1: none */
	const struct sock_fprog *filter; /* NULL: no seccomp */
};

/*
 * Build the plan for one spawn: RLIMIT_AS, RLIMIT_FSIZE, the policy's
 * RLIMIT_NOFILE and RLIMIT_CORE 0 (soft = hard, clamped to durod's own
 * hard limits); the policy's ids (an error unless durod is root); the
 * policy's seccomp filter; and a Landlock ruleset (O_CLOEXEC) handling
 * every right of ABI 1 to 6 the kernel has: the policy's SB_READ paths and
 * t->reads read files and list directories, its SB_EXECUTE paths and
 * t->execs also execute, its SB_READ_WRITE paths and t->object_dir also
 * create, write, truncate, rename and remove files and directories (not
 * execute); /dev/null is read-write and /dev/urandom readable for every
 * worker; nothing else, no TCP bind or connect (ABI 4), no signals or
 * abstract Unix sockets outside the worker's domain (ABI 6). Connecting
 * to a pathname Unix socket (durod's) is not a filesystem access to
 * Landlock, so the run_dir needs no rule. Policy paths missing on this
 * machine are skipped; a missing target path is an error. Returns 0, or
 * -1 with err filled (nothing to release then).
 */
int sb_prepare(const struct sb_policy *, const struct sb_target *,
    struct sb_plan *, char *err, size_t errlen);
/* After the clone returned: close what the plan holds. */
void sb_plan_release(struct sb_plan *);

/* ---- apply.c: in the child, between clone and exec ---- */

/*
 * Apply the plan: rlimits, then the id drop, then no-new-privs, then
 * Landlock, then seccomp (each step needs the ones before it; see
 * apply.c). System calls only. Returns 0, or -1 with errno set and
 * *step naming the step that failed; the caller must then _exit without
 * exec (SB_EXIT_STATUS): a worker never runs unconfined.
 */
int sb_apply(const struct sb_plan *, const char **step);

/* ---- audit.c: which system call a seccomp kill was for ---- */

/* /dev/kmsg, read from now on, or -1 when it cannot be read. */
int sb_audit_open(void);
/*
 * After pid died of SIGSYS: the name of the system call the kernel's
 * audit record says killed it, in name. Drains the records logged since
 * the last call. 0, or -1 when there is none (not readable, rate-limited).
 */
int sb_audit_syscall(int fd, pid_t pid, char *name, size_t len);

/* The exit status of a child whose sandbox could not be applied. */
#define SB_EXIT_STATUS 125

#endif
