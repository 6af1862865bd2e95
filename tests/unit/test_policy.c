/*
 * test_policy.c — policy files: the shipped ones load, every kind of
 * mistake is an error naming the file and the entry, the kernel check
 * and best effort, and the compiled native filter really confines a
 * process (installed in a forked child).
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/seccomp.h>

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sandbox/sandbox.h"

static const struct sb_kernel full = {.landlock_abi = 6, .seccomp = 1};

/* ---- helpers ---- */

/* Write text to a fresh temp file "<dir>/<name>.json"; returns its path. */
static char *
policy_file(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_policy_XXXXXX.json");
	assert_true((fd = mkstemps(path, 5)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return (path);
}

/* Load text as a policy; returns the result, err filled on failure. */
static int
load_text(const char *text, const struct sb_kernel *k, struct sb_policy **p,
    char *err, size_t errlen)
{
	char *path = policy_file(text);
	int rv;

	err[0] = '\0';
	rv = sb_policy_load(path, k, p, err, errlen);
	unlink(path);
	return (rv);
}

/*
 * A valid policy with one piece replaced: fmt is the whole file with %s
 * where the piece under test goes.
 */
#define MINIMAL                                                                \
	"{\"description\": \"test\", %s\"seccomp\": {\"default\": \"kill\", "  \
	"\"allow\": [{\"syscall\": \"read\", \"why\": \"r\"}%s]%s}, "          \
	"\"landlock\": {\"min_abi\": 1, \"read\": [\"/usr\"%s]}%s}"

static void
expect_error(const char *top, const char *allow, const char *errno_,
    const char *read, const char *tail, const char *want)
{
	char text[4096], err[512];
	struct sb_policy *p = NULL;

	snprintf(text, sizeof(text), MINIMAL, top, allow, errno_, read, tail);
	if (load_text(text, &full, &p, err, sizeof(err)) == 0) {
		sb_policy_free(p);
		fail_msg("loaded, wanted error \"%s\"\n%s", want, text);
	}
	assert_null(p);
	if (strstr(err, want) == NULL || strncmp(err, "/tmp/test_policy_", 17))
		fail_msg("error \"%s\", wanted \"%s\"", err, want);
}

static int
has_path(const char *const *list, const char *path)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, path) == 0)
			return (1);
	return (0);
}

/* ---- the shipped policies ---- */

static void
check_shipped(const char *path, const char *name)
{
	struct sb_policy *p = NULL;
	const struct sock_fprog *f;
	char err[512] = "";
	uid_t uid;
	gid_t gid;

	if (sb_policy_load(path, &full, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(sb_policy_name(p), name);
	assert_non_null(f = sb_policy_filter(p));
	assert_true(f->len > 10 && f->len <= BPF_MAXINSNS);
	assert_non_null(f->filter);
	assert_int_equal(sb_policy_min_abi(p), 1);
	assert_int_equal(sb_policy_best_effort(p), 0);
	assert_int_equal(sb_policy_nofile(p), 256);
	assert_int_equal(sb_policy_ids(p, &uid, &gid), 0);
	assert_true(has_path(sb_policy_paths(p, SB_READ), "/usr/lib"));
	assert_true(has_path(sb_policy_paths(p, SB_READ_WRITE), "/dev/null"));
	assert_true(has_path(
	    sb_policy_paths(p, SB_EXECUTE), "/lib64/ld-linux-x86-64.so.2"));
	assert_null(sb_policy_paths(p, 0)[0]);
	sb_policy_free(p);
}

static void
test_native_loads(void **state)
{
	check_shipped("policies/native.json", "native");
}

static void
test_interpreter_loads(void **state)
{
	check_shipped("policies/interpreter.json", "interpreter");
}

/* ---- mistakes ---- */

static void
test_unknown_keys(void **state)
{
	expect_error("\"frob\": 1, ", "", "", "", "", ": frob: unknown key");
	expect_error("", ", {\"syscall\": \"write\", \"wy\": \"x\"}", "", "",
	    "", ": seccomp.allow[1].wy: unknown key");
	expect_error(
	    "", "", ", \"kill\": []", "", "", ": seccomp.kill: unknown key");
	expect_error("", "", "", "", ", \"limits\": {\"nproc\": 3}",
	    ": limits.nproc: unknown key");
	expect_error("\"best_effort\": false, \"best_effort\": true, ", "", "",
	    "", "", ": best_effort: duplicate key");
}

static void
test_unknown_syscall(void **state)
{
	expect_error("",
	    ", {\"syscall\": \"write\", \"why\": \"w\"}, "
	    "{\"syscall\": \"frobnicate\", \"why\": \"x\"}",
	    "", "", "",
	    ": seccomp.allow[2].syscall: unknown syscall \"frobnicate\"");
}

static void
test_duplicate_syscall(void **state)
{
	expect_error("", ", {\"syscall\": \"read\", \"why\": \"again\"}", "",
	    "", "",
	    ": seccomp.allow[1]: syscall \"read\" is already listed in "
	    "seccomp.allow[0]");
	expect_error("", "",
	    ", \"errno\": [{\"syscall\": \"read\", \"errno\": \"EPERM\", "
	    "\"why\": \"x\"}]",
	    "", "", ": seccomp.errno[0]: syscall \"read\" is already listed");
	/* Alternatives with arguments are fine, one without is not. */
	expect_error("",
	    ", {\"syscall\": \"prctl\", \"why\": \"a\", \"args\": [{\"arg\": "
	    "0, "
	    "\"op\": \"eq\", \"value\": \"PR_SET_NAME\"}]}, {\"syscall\": "
	    "\"prctl\", \"why\": \"b\"}",
	    "", "", "", ": seccomp.allow[2]: syscall \"prctl\" is already");
}

static void
test_missing_why(void **state)
{
	expect_error("", ", {\"syscall\": \"write\"}", "", "", "",
	    ": seccomp.allow[1].why: missing");
	expect_error("", ", {\"syscall\": \"write\", \"why\": \"\"}", "", "",
	    "", ": seccomp.allow[1].why: must be a non-empty string");
	expect_error("", "",
	    ", \"errno\": [{\"syscall\": \"clone3\", \"errno\": \"ENOSYS\"}]",
	    "", "", ": seccomp.errno[0].why: missing");
}

static void
test_bad_args(void **state)
{
	expect_error("",
	    ", {\"syscall\": \"socket\", \"why\": \"s\", \"args\": [{\"arg\": "
	    "0, \"op\": \"like\", \"value\": 1}]}",
	    "", "", "", ": seccomp.allow[1].args[0].op: \"like\": must be eq");
	expect_error("",
	    ", {\"syscall\": \"socket\", \"why\": \"s\", \"args\": [{\"arg\": "
	    "6, \"op\": \"eq\", \"value\": 1}]}",
	    "", "", "", ": seccomp.allow[1].args[0].arg: must be an integer");
	expect_error("",
	    ", {\"syscall\": \"clone\", \"why\": \"c\", \"args\": [{\"arg\": "
	    "0, \"op\": \"masked_eq\", \"value\": 1}]}",
	    "", "", "", ": seccomp.allow[1].args[0].mask: needed with");
	expect_error("",
	    ", {\"syscall\": \"socket\", \"why\": \"s\", \"args\": [{\"arg\": "
	    "0, \"op\": \"eq\", \"value\": \"AF_FROB\"}]}",
	    "", "", "", ": seccomp.allow[1].args[0].value: \"AF_FROB\"");
	expect_error("",
	    ", {\"syscall\": \"socket\", \"why\": \"s\", \"args\": [{\"arg\": "
	    "0, \"op\": \"eq\", \"value\": -1}]}",
	    "", "", "", ": seccomp.allow[1].args[0].value: must be a non-neg");
	expect_error("",
	    ", {\"syscall\": \"socket\", \"why\": \"s\", \"args\": [{\"arg\": "
	    "0, \"op\": \"eq\", \"value\": 1}, {\"arg\": 0, \"op\": \"ne\", "
	    "\"value\": 2}]}",
	    "", "", "", ": seccomp.allow[1].args[1]: argument 0 is already");
}

static void
test_bad_errno_and_default(void **state)
{
	expect_error("", "",
	    ", \"errno\": [{\"syscall\": \"clone3\", \"errno\": \"EFROB\", "
	    "\"why\": \"x\"}]",
	    "", "", ": seccomp.errno[0].errno: unknown errno name \"EFROB\"");
	struct sb_policy *p = NULL;
	char err[512];

	assert_int_equal(load_text("{\"description\": \"t\", \"seccomp\": "
	                           "{\"default\": \"allow\", \"allow\": []}, "
	                           "\"landlock\": {}}",
	                     &full, &p, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, ": seccomp.default: \"allow\": must be "
	                            "\"kill\" or \"errno:<NAME>\""));
}

static void
test_bad_paths(void **state)
{
	expect_error("", "", "", ", \"usr/lib\"", "",
	    ": landlock.read[1]: must be an absolute path");
	expect_error("", "", "", ", \"/usr/../etc\"", "",
	    ": landlock.read[1]: must be an absolute path");
	expect_error("", "", "", ", 3", "",
	    ": landlock.read[1]: must be an absolute path");
}

static void
test_bad_ids(void **state)
{
	expect_error("\"user\": \"no-such-user-here\", ", "", "", "", "",
	    ": user: \"no-such-user-here\": no such user");
	expect_error("\"group\": \"nogroup\", ", "", "", "", "",
	    ": group: needs \"user\"");
}

static void
test_not_json(void **state)
{
	struct sb_policy *p = NULL;
	char err[512];

	assert_int_equal(load_text("{\n\"description\": \"x\",\n]\n", &full, &p,
	                     err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, ": line 3: not valid JSON"));
	assert_int_equal(sb_policy_load("policies/no-such.json", &full, &p, err,
	                     sizeof(err)),
	    -1);
	assert_string_equal(
	    err, "policies/no-such.json: No such file or directory");
}

/* ---- ids, default action ---- */

static void
test_ids(void **state)
{
	struct sb_policy *p = NULL;
	char text[2048], err[512];
	uid_t uid;
	gid_t gid;

	snprintf(text, sizeof(text), MINIMAL,
	    "\"user\": \"4242\", \"group\": \"4343\", ", "", "", "", "");
	if (load_text(text, &full, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(sb_policy_ids(p, &uid, &gid), 1);
	assert_int_equal(uid, 4242);
	assert_int_equal(gid, 4343);
	sb_policy_free(p);

	snprintf(text, sizeof(text),
	    "{\"description\": \"t\", \"user\": \"root\", \"seccomp\": "
	    "{\"default\": \"errno:EPERM\", \"allow\": []}, \"landlock\": {}}");
	if (load_text(text, &full, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(sb_policy_ids(p, &uid, &gid), 1);
	assert_int_equal(uid, 0);
	assert_int_equal(gid, 0);
	assert_null(sb_policy_paths(p, SB_READ)[0]);
	assert_int_equal(sb_policy_nofile(p), 0);
	sb_policy_free(p);
}

/* ---- the kernel check ---- */

static void
test_kernel_check(void **state)
{
	static const struct sb_kernel none = {0, 0}, old = {2, 1},
	                              noseccomp = {6, 0};
	static const char strict[] =
	    "{\"description\": \"t\", \"seccomp\": {\"default\": \"kill\", "
	    "\"allow\": [{\"syscall\": \"read\", \"why\": \"r\"}]}, "
	    "\"landlock\": {\"min_abi\": 3}}";
	static const char lax[] =
	    "{\"description\": \"t\", \"best_effort\": true, \"seccomp\": "
	    "{\"default\": \"kill\", \"allow\": [{\"syscall\": \"read\", "
	    "\"why\": \"r\"}]}, \"landlock\": {\"min_abi\": 3}}";
	struct sb_policy *p = NULL;
	char err[512];

	assert_int_equal(load_text(strict, &old, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ": landlock.min_abi: needs Landlock ABI 3, "
	                            "this kernel has 2"));
	assert_int_equal(
	    load_text(strict, &noseccomp, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ": seccomp: this kernel cannot apply"));

	/* Best effort: what the kernel has, and say it in the accessors. */
	if (load_text(lax, &old, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(sb_policy_min_abi(p), 2);
	assert_non_null(sb_policy_filter(p));
	assert_int_equal(sb_policy_best_effort(p), 1);
	sb_policy_free(p);
	if (load_text(lax, &none, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(sb_policy_min_abi(p), 0);
	assert_null(sb_policy_filter(p));
	sb_policy_free(p);
	if (load_text(strict, &full, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(sb_policy_min_abi(p), 3);
	sb_policy_free(p);
	/* Names are still checked when nothing will be applied. */
	assert_int_equal(load_text("{\"description\": \"t\", \"best_effort\": "
	                           "true, \"seccomp\": {\"default\": \"kill\", "
	                           "\"allow\": [{\"syscall\": \"nope\", "
	                           "\"why\": \"r\"}]}, \"landlock\": {}}",
	                     &none, &p, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "unknown syscall \"nope\""));
}

/* ---- the native filter, installed for real ---- */

static const struct sock_fprog *native;
static struct sb_policy *native_policy;

static int
setup_native(void **state)
{
	char err[512];

	if (sb_policy_load("policies/native.json", &full, &native_policy, err,
	        sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return (-1);
	}
	native = sb_policy_filter(native_policy);
	return (0);
}

static int
teardown_native(void **state)
{
	sb_policy_free(native_policy);
	return (0);
}

/*
 * Fork; the child installs the native filter, runs fn and _exits with
 * its result. Returns the child's wait status. No core files: a SIGSYS
 * death would otherwise leave one behind.
 */
static int
confined(int (*fn)(void))
{
	struct rlimit nocore = {0, 0};
	int status;
	pid_t pid;

	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		if (setrlimit(RLIMIT_CORE, &nocore) != 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, native) != 0)
			_exit(99);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return (status);
}

static void
expect_exit(int (*fn)(void), int code)
{
	int status = confined(fn);

	if (!WIFEXITED(status) || WEXITSTATUS(status) != code)
		fail_msg("status %#x, wanted exit %d", status, code);
}

static void
expect_sigsys(int (*fn)(void))
{
	int status = confined(fn);

	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		fail_msg("status %#x, wanted death by SIGSYS", status);
}

static int
do_nothing(void)
{
	return (0);
}

static int
do_inet_socket(void)
{
	return (socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 1 : 2);
}

static int
do_inet6_socket(void)
{
	return (socket(AF_INET6, SOCK_DGRAM, 0) >= 0 ? 1 : 2);
}

static int
do_unix_socket(void)
{
	int sv[2];

	if (socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) < 0)
		return (1);
	return (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 ? 0 : 2);
}

static int
do_ptrace(void)
{
	return (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 1 : 2);
}

static int
do_clone3(void)
{
	long rv = syscall(SYS_clone3, NULL, 0);

	return (rv == -1 && errno == ENOSYS ? 0 : 1);
}

static void *
thread_main(void *arg)
{
	*(int *)arg = 42;
	return (NULL);
}

static int
do_thread(void)
{
	pthread_t t;
	int v = 0;

	if (pthread_create(&t, NULL, thread_main, &v) != 0 ||
	    pthread_join(t, NULL) != 0)
		return (1);
	return (v == 42 ? 0 : 2);
}

static int
do_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return (3);
}

static int
do_kill_parent(void)
{
	return (kill(getppid(), 0) == 0 ? 1 : 2);
}

static int
do_kill_own_group(void)
{
	return (kill(0, 0) == 0 ? 0 : 1);
}

static int
do_setrlimit(void)
{
	struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};

	return (setrlimit(RLIMIT_AS, &r) == 0 ? 1 : 2);
}

static int
do_getrlimit(void)
{
	struct rlimit r;

	return (getrlimit(RLIMIT_NOFILE, &r) == 0 ? 0 : 1);
}

static int
do_tiocsti(void)
{
	char c = 'x';

	return (ioctl(0, TIOCSTI, &c) == 0 ? 1 : 2);
}

static int
do_fchown(void)
{
	return (fchown(1, 0, 0) == -1 && errno == EPERM ? 0 : 1);
}

static void
test_filter_allows_and_denies(void **state)
{
	expect_exit(do_nothing, 0);
	expect_exit(do_unix_socket, 0);
	expect_exit(do_clone3, 0);
	expect_exit(do_thread, 0);
	expect_exit(do_kill_own_group, 0);
	expect_exit(do_getrlimit, 0);
	expect_exit(do_fchown, 0);
	expect_sigsys(do_inet_socket);
	expect_sigsys(do_inet6_socket);
	expect_sigsys(do_ptrace);
	expect_sigsys(do_fork);
	expect_sigsys(do_kill_parent);
	expect_sigsys(do_setrlimit);
	expect_sigsys(do_tiocsti);
}

/*
 * Every dangerous syscall kills. The arguments are all -1 (bad pointers,
 * bad descriptors, bad flags), so even a filter that let one through
 * would only see it fail.
 */
static long dangerous_nr;

static int
do_dangerous(void)
{
	syscall(dangerous_nr, -1L, -1L, -1L, -1L, -1L, -1L);
	return (1);
}

static void
test_dangerous_syscalls_kill(void **state)
{
	static const long nrs[] = {SYS_ptrace, SYS_mount, SYS_umount2, SYS_bpf,
	    SYS_kexec_load, SYS_kexec_file_load, SYS_init_module,
	    SYS_finit_module, SYS_delete_module, SYS_unshare, SYS_setns,
	    SYS_pivot_root, SYS_chroot, SYS_keyctl, SYS_add_key,
	    SYS_request_key, SYS_perf_event_open, SYS_userfaultfd,
	    SYS_process_vm_readv, SYS_process_vm_writev, SYS_execveat,
	    SYS_setuid, SYS_setresuid, SYS_personality, SYS_open_by_handle_at,
	    SYS_io_uring_enter, SYS_fanotify_init, SYS_swapon, SYS_syslog};
	size_t i;

	for (i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		dangerous_nr = nrs[i];
		expect_sigsys(do_dangerous);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_native_loads),
	    cmocka_unit_test(test_interpreter_loads),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_unknown_syscall),
	    cmocka_unit_test(test_duplicate_syscall),
	    cmocka_unit_test(test_missing_why),
	    cmocka_unit_test(test_bad_args),
	    cmocka_unit_test(test_bad_errno_and_default),
	    cmocka_unit_test(test_bad_paths),
	    cmocka_unit_test(test_bad_ids),
	    cmocka_unit_test(test_not_json),
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_kernel_check),
	    cmocka_unit_test_setup_teardown(
	        test_filter_allows_and_denies, setup_native, teardown_native),
	    cmocka_unit_test_setup_teardown(
	        test_dangerous_syscalls_kill, setup_native, teardown_native),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
