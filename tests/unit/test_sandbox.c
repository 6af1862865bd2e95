/*
 * test_sandbox.c — sb_prepare, sb_apply and sb_probe against the running
 * kernel. Each confining test runs in a fork()ed child, which reports
 * back through its exit status (CHECK prints what failed and exits 99):
 * a sandbox cannot be lifted, so the test process itself stays free.
 *
 * The policy is a stub defined here (policy.c is not linked): the
 * accessors prepare.c calls return what each test sets.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
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
#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <sqlite3.h>

#include "sandbox.h"

/* ASan reserves terabytes of shadow: RLIMIT_AS cannot be tested. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr,                                        \
			    "%s:%d: CHECK(%s) failed (errno %s)\n", __FILE__,  \
			    __LINE__, #c, strerror(errno));                    \
			_exit(99);                                             \
		}                                                              \
	} while (0)

/* ---- the stub policy ---- */

struct sb_policy {
	const char *const *paths[4]; /* by SB_READ, SB_READ_WRITE, ... */
	int min_abi;
	uint64_t nofile;
	int best_effort;
	int drop;
	uid_t uid;
	gid_t gid;
	const struct sock_fprog *filter;
};

const char *
sb_policy_name(const struct sb_policy *p)
{
	return ("test");
}

const struct sock_fprog *
sb_policy_filter(const struct sb_policy *p)
{
	return (p->filter);
}

const char *const *
sb_policy_paths(const struct sb_policy *p, int access)
{
	static const char *const none[] = {NULL};

	return (p->paths[access] != NULL ? p->paths[access] : none);
}

int
sb_policy_min_abi(const struct sb_policy *p)
{
	return (p->min_abi);
}

uint64_t
sb_policy_nofile(const struct sb_policy *p)
{
	return (p->nofile);
}

int
sb_policy_best_effort(const struct sb_policy *p)
{
	return (p->best_effort);
}

int
sb_policy_ids(const struct sb_policy *p, uid_t *uid, gid_t *gid)
{
	*uid = p->uid;
	*gid = p->gid;
	return (p->drop);
}

/* ---- fixture ---- */

static struct {
	char root[64];    /* mkdtemp'd, under /tmp */
	char obj[96];     /* the object's directory (target) */
	char shared[96];  /* a policy READ_WRITE path */
	char other[96];   /* another object's directory: out of bounds */
	char secret[112]; /* a file in it */
	char script[96];  /* a target read path */
	char copy[96];    /* /usr/bin/false copied into obj */
	int abi;
	const char *rw[2];
	const char *execs[2];
	const char *reads[2];
} fx;

static const char *const sys_read[] = {
    "/usr", "/etc/ld.so.cache", "/nonexistent/duro-sandbox-test", NULL};
/* The loader and libraries; /usr/bin stays read-only. */
static const char *const sys_exec[] = {
    "/lib", "/lib64", "/usr/lib", "/usr/lib64", NULL};

static void
policy_default(struct sb_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->paths[SB_READ] = sys_read;
	p->paths[SB_EXECUTE] = sys_exec;
	p->paths[SB_READ_WRITE] = fx.rw;
	p->min_abi = fx.abi;
}

static void
target_default(struct sb_target *t)
{
	memset(t, 0, sizeof(*t));
	t->object_dir = fx.obj;
	t->execs = fx.execs;
	t->reads = fx.reads;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	in = open(from, O_RDONLY | O_CLOEXEC);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, n), n);
	close(in);
	close(out);
}

static void
obj_path(char *buf, size_t len, const char *dir, const char *name)
{
	if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
		abort();
}

static int
setup(void **state)
{
	strcpy(fx.root, "/tmp/duro-sandbox.XXXXXX");
	if (mkdtemp(fx.root) == NULL)
		return (-1);
	obj_path(fx.obj, sizeof(fx.obj), fx.root, "obj");
	obj_path(fx.shared, sizeof(fx.shared), fx.root, "shared");
	obj_path(fx.other, sizeof(fx.other), fx.root, "other");
	obj_path(fx.secret, sizeof(fx.secret), fx.other, "secret");
	obj_path(fx.script, sizeof(fx.script), fx.root, "script.py");
	obj_path(fx.copy, sizeof(fx.copy), fx.obj, "false");
	if (mkdir(fx.obj, 0700) != 0 || mkdir(fx.shared, 0700) != 0 ||
	    mkdir(fx.other, 0700) != 0)
		return (-1);
	write_file(fx.secret, "root:$6$secret\n", 0600);
	write_file(fx.script, "print('hi')\n", 0644);
	copy_file("/usr/bin/false", fx.copy);
	fx.rw[0] = fx.shared;
	fx.execs[0] = "/usr/bin/true";
	fx.reads[0] = fx.script;
	fx.abi = sb_landlock_abi();
	return (0);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

static int
teardown(void **state)
{
	return (nftw(fx.root, rm_one, 16, FTW_DEPTH | FTW_PHYS));
}

/* ---- helpers ---- */

/* Run fn in a child; return its wait status. */
static int
child_status(void (*fn)(void *), void *arg)
{
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return (st);
}

static void
in_child(void (*fn)(void *), void *arg)
{
	int st = child_status(fn, arg);

	if (WIFSIGNALED(st))
		fail_msg("child killed by signal %d", WTERMSIG(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Prepare and apply in the calling (child) process. */
static void
confine(const struct sb_policy *p, const struct sb_target *t)
{
	struct sb_plan plan;
	const char *step = "?";
	char err[512];

	if (sb_prepare(p, t, &plan, err, sizeof(err)) != 0) {
		fprintf(stderr, "sb_prepare: %s\n", err);
		_exit(98);
	}
	if (sb_apply(&plan, &step) != 0) {
		fprintf(stderr, "sb_apply: %s: %s\n", step, strerror(errno));
		_exit(SB_EXIT_STATUS);
	}
	sb_plan_release(&plan);
}

static void
confine_default(void)
{
	struct sb_policy p;
	struct sb_target t;

	policy_default(&p);
	target_default(&t);
	confine(&p, &t);
}

static void
need_landlock(int abi)
{
	if (fx.abi < abi) {
		print_message(
		    "kernel Landlock ABI %d < %d: skipped\n", fx.abi, abi);
		skip();
	}
}

/* ---- probe ---- */

static void
test_probe(void **state)
{
	struct sb_kernel k;

	sb_probe(&k);
	print_message("kernel: Landlock ABI %d, seccomp filters %d\n",
	    k.landlock_abi, k.seccomp);
	assert_int_equal(k.landlock_abi, fx.abi);
	assert_true(k.landlock_abi >= 0);
	assert_int_equal(k.seccomp, 1);
}

/* ---- prepare ---- */

static const struct rlimit *
plan_limit(const struct sb_plan *plan, int res)
{
	for (int i = 0; i < plan->nlimits; i++)
		if (plan->resource[i] == res)
			return (&plan->limit[i]);
	return (NULL);
}

static void
test_prepare_plan(void **state)
{
	static const struct sock_fprog prog;
	const struct rlimit *l;
	struct sb_policy p;
	struct sb_target t;
	struct sb_plan plan;
	struct rlimit nofile;
	char err[512];

	need_landlock(1);
	policy_default(&p);
	p.nofile = 64;
	p.filter = &prog;
	target_default(&t);
	t.memory_limit_mb = 256;
	t.file_limit_mb = 2;
	assert_int_equal(sb_prepare(&p, &t, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.nlimits, 5);
	assert_non_null(l = plan_limit(&plan, RLIMIT_AS));
	assert_true(l->rlim_cur == 256u << 20 && l->rlim_max == 256u << 20);
	/* With a memory limit, thread stacks shrink to fit in it. */
	assert_non_null(l = plan_limit(&plan, RLIMIT_STACK));
	assert_true(l->rlim_cur == (rlim_t)SB_STACK_MB << 20);
	assert_non_null(l = plan_limit(&plan, RLIMIT_FSIZE));
	assert_true(l->rlim_cur == 2u << 20 && l->rlim_max == 2u << 20);
	assert_non_null(l = plan_limit(&plan, RLIMIT_NOFILE));
	assert_true(l->rlim_cur == 64 && l->rlim_max == 64);
	assert_non_null(l = plan_limit(&plan, RLIMIT_CORE));
	assert_true(l->rlim_cur == 0 && l->rlim_max == 0);
	assert_int_equal(plan.drop_ids, 0);
	assert_ptr_equal(plan.filter, &prog);
	assert_true(plan.landlock_fd >= 0);
	assert_true(fcntl(plan.landlock_fd, F_GETFD) & FD_CLOEXEC);
	sb_plan_release(&plan);
	assert_int_equal(plan.landlock_fd, -1);

	/* No memory or file limit; nofile clamped to our hard limit. */
	t.memory_limit_mb = t.file_limit_mb = 0;
	p.nofile = UINT64_C(1) << 40;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
	assert_int_equal(sb_prepare(&p, &t, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.nlimits, 2);
	assert_null(plan_limit(&plan, RLIMIT_AS));
	assert_null(plan_limit(&plan, RLIMIT_FSIZE));
	assert_true(
	    plan_limit(&plan, RLIMIT_NOFILE)->rlim_max == nofile.rlim_max);
	sb_plan_release(&plan);

	/* A policy without Landlock (ABI 0). */
	p.min_abi = 0;
	assert_int_equal(sb_prepare(&p, &t, &plan, err, sizeof(err)), 0);
	assert_int_equal(plan.landlock_fd, -1);
	sb_plan_release(&plan);
}

static int
next_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	close(fd);
	return (fd);
}

static void
test_prepare_errors(void **state)
{
	static const char *const missing[] = {"/nonexistent/worker", NULL};
	struct sb_policy p;
	struct sb_target t;
	struct sb_plan plan;
	char err[512];
	int fd = next_fd();

	need_landlock(1);
	policy_default(&p);
	target_default(&t);
	t.object_dir = "/nonexistent/objdir";
	assert_int_equal(sb_prepare(&p, &t, &plan, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/objdir"));
	assert_int_equal(next_fd(), fd); /* the ruleset was closed */

	target_default(&t);
	t.execs = missing;
	assert_int_equal(sb_prepare(&p, &t, &plan, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/worker"));

	/* A kernel older than the policy: an error unless best effort. */
	target_default(&t);
	p.min_abi = 99;
	assert_int_equal(sb_prepare(&p, &t, &plan, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ABI 99"));
	p.best_effort = 1;
	assert_int_equal(sb_prepare(&p, &t, &plan, err, sizeof(err)), 0);
	assert_true(plan.landlock_fd >= 0);
	sb_plan_release(&plan);
	assert_int_equal(next_fd(), fd);

	/* Dropping ids needs root. */
	if (geteuid() != 0) {
		policy_default(&p);
		p.drop = 1;
		p.uid = p.gid = 65534;
		assert_int_equal(
		    sb_prepare(&p, &t, &plan, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "root"));
	}
}

/* ---- apply: rlimits ---- */

static void
as_child(void *arg)
{
	struct sb_policy p;
	struct sb_target t;
	size_t total = 0, chunk = 1 << 20;
	char *m;

	policy_default(&p);
	target_default(&t);
	t.memory_limit_mb = 128;
	confine(&p, &t);
	CHECK((m = malloc(16 << 20)) != NULL);
	memset(m, 1, 16 << 20);
	/* Allocate and touch 1 MiB at a time: must stop before 256 MiB. */
	while ((m = malloc(chunk)) != NULL && total < (256u << 20)) {
		memset(m, 1, chunk);
		total += chunk;
	}
	CHECK(m == NULL);
	CHECK(total < (128u << 20));
	CHECK(mmap(NULL, 256u << 20, PROT_READ | PROT_WRITE,
	          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
	CHECK(errno == ENOMEM);
}

static void
test_rlimit_as(void **state)
{
	if (UNDER_ASAN) {
		print_message("ASan: RLIMIT_AS not testable, skipped\n");
		skip();
	}
	in_child(as_child, NULL);
}

static void
fsize_child(void *arg)
{
	struct sb_policy p;
	struct sb_target t;
	static char buf[1 << 20];
	char path[160];
	int fd;

	if (arg == NULL)
		signal(SIGXFSZ, SIG_IGN);
	policy_default(&p);
	target_default(&t);
	t.file_limit_mb = 1;
	confine(&p, &t);
	snprintf(path, sizeof(path), "%s/big", fx.obj);
	CHECK((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	CHECK(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	CHECK(write(fd, "x", 1) == -1 && errno == EFBIG);
	close(fd);
	unlink(path);
}

static void
test_rlimit_fsize(void **state)
{
	int st;

	in_child(fsize_child, NULL);
	/* With SIGXFSZ at its default, the worker dies of it. */
	st = child_status(fsize_child, &st);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGXFSZ);
}

static void
nofile_child(void *arg)
{
	struct sb_policy p;
	struct sb_target t;
	struct rlimit l;
	int fd, last = -1;

	policy_default(&p);
	p.nofile = 16;
	target_default(&t);
	confine(&p, &t);
	CHECK(getrlimit(RLIMIT_NOFILE, &l) == 0);
	CHECK(l.rlim_cur == 16 && l.rlim_max == 16);
	CHECK(getrlimit(RLIMIT_CORE, &l) == 0);
	CHECK(l.rlim_cur == 0 && l.rlim_max == 0);
	while ((fd = open("/dev/null", O_RDONLY)) >= 0)
		last = fd;
	CHECK(errno == EMFILE);
	CHECK(last == 15);
}

static void
test_rlimit_nofile(void **state)
{
	in_child(nofile_child, NULL);
}

/* ---- apply: Landlock, filesystem ---- */

static void
objdir_child(void *arg)
{
	char a[160], b[160], sub[160], c[160];
	char *argv[] = {fx.copy, NULL};
	struct stat st;
	int fd;

	confine_default();
	/* What SQLite does with its files: create, write, truncate, rename
	 * and delete, and directories for good measure. */
	obj_path(a, sizeof(a), fx.obj, "db.sqlite-wal");
	obj_path(b, sizeof(b), fx.obj, "db.sqlite-shm");
	CHECK((fd = open(a, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
	CHECK(write(fd, "wal", 3) == 3 && ftruncate(fd, 0) == 0);
	CHECK(fsync(fd) == 0 && close(fd) == 0);
	CHECK(rename(a, b) == 0);
	CHECK(truncate(b, 0) == 0);
	CHECK(unlink(b) == 0);
	obj_path(sub, sizeof(sub), fx.obj, "sub");
	obj_path(c, sizeof(c), sub, "moved");
	CHECK(mkdir(sub, 0700) == 0);
	CHECK((fd = open(a, O_RDWR | O_CREAT, 0600)) >= 0 && close(fd) == 0);
	CHECK(rename(a, c) == 0); /* across directories: REFER */
	CHECK(unlink(c) == 0 && rmdir(sub) == 0);
	CHECK(stat(fx.obj, &st) == 0);
	/* The policy's read-write path works the same. */
	obj_path(a, sizeof(a), fx.shared, "f");
	CHECK((fd = open(a, O_RDWR | O_CREAT, 0600)) >= 0 && close(fd) == 0);
	CHECK(unlink(a) == 0);
	/* The target's read path reads, and does not write. */
	CHECK((fd = open(fx.script, O_RDONLY)) >= 0 && close(fd) == 0);
	CHECK(open(fx.script, O_WRONLY) == -1 && errno == EACCES);
	/* Not a special node, even in the object's directory. */
	obj_path(a, sizeof(a), fx.obj, "fifo");
	CHECK(mkfifo(a, 0600) == -1 && errno == EACCES);
	CHECK(symlink("/etc/shadow", a) == -1 && errno == EACCES);
	/* What the worker wrote, it cannot run (if it could, false would
	 * make this child exit 1). */
	execv(fx.copy, argv);
	CHECK(errno == EACCES);
	/* Every worker may use these. */
	CHECK((fd = open("/dev/null", O_RDWR)) >= 0 && close(fd) == 0);
	CHECK((fd = open("/dev/urandom", O_RDONLY)) >= 0 && close(fd) == 0);
}

static void
test_landlock_object_dir(void **state)
{
	need_landlock(3);
	in_child(objdir_child, NULL);
}

static int
sql(sqlite3 *db, const char *s)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, s, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		fprintf(stderr, "sqlite: %s: %s\n", s, msg);
	sqlite3_free(msg);
	return (rc);
}

/* SQLite in WAL mode, and a statement big enough to spill its sort to a
 * temporary file, which goes where SQLITE_TMPDIR says. */
static void
sqlite_child(void *arg)
{
	char db_path[160], wal[176];
	sqlite3 *db;

	if (arg != NULL)
		setenv("SQLITE_TMPDIR", fx.obj, 1);
	else
		unsetenv("SQLITE_TMPDIR");
	unsetenv("TMPDIR");
	confine_default();
	obj_path(db_path, sizeof(db_path), fx.obj, "db.sqlite");
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
	CHECK(sql(db, "PRAGMA journal_mode=WAL; PRAGMA cache_size=-64;"
	              "CREATE TABLE IF NOT EXISTS t(x);"
	              "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
	              "SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO t "
	              "SELECT randomblob(100) FROM n; COMMIT;") == SQLITE_OK);
	CHECK(access(wal, F_OK) == 0);
	if (arg != NULL)
		CHECK(sql(db, "CREATE INDEX i ON t(x); DROP INDEX i;") ==
		      SQLITE_OK);
	else
		CHECK(sqlite3_exec(db, "CREATE INDEX i ON t(x);", NULL, NULL,
		          NULL) == SQLITE_CANTOPEN);
	CHECK(sqlite3_close(db) == SQLITE_OK);
	CHECK(access(wal, F_OK) == -1 && errno == ENOENT);
	CHECK(unlink(db_path) == 0);
}

static void
test_landlock_sqlite(void **state)
{
	need_landlock(3);
	in_child(sqlite_child, &state); /* SQLITE_TMPDIR: works */
	in_child(sqlite_child, NULL);   /* /var/tmp: refused */
}

static void
denied_child(void *arg)
{
	char a[160];
	int fd;

	confine_default();
	obj_path(a, sizeof(a), fx.other, "db.sqlite");
	CHECK(open(a, O_RDWR | O_CREAT, 0600) == -1 && errno == EACCES);
	CHECK(open(fx.secret, O_RDONLY) == -1 && errno == EACCES);
	CHECK(open(fx.secret, O_WRONLY | O_TRUNC) == -1 && errno == EACCES);
	CHECK(unlink(fx.secret) == -1 && errno == EACCES);
	CHECK(open("/etc/shadow", O_RDONLY) == -1 && errno == EACCES);
	CHECK(
	    open("/tmp/duro-sandbox-escape", O_WRONLY | O_CREAT, 0600) == -1 &&
	    errno == EACCES);
	CHECK(open("/", O_RDONLY | O_DIRECTORY) == -1 && errno == EACCES);
	/* A read-only system path: read yes, write no. */
	CHECK((fd = open("/usr/bin/true", O_RDONLY)) >= 0 && close(fd) == 0);
	CHECK(open("/usr/bin/true", O_WRONLY) == -1 && errno == EACCES);
	CHECK(mkdir("/usr/duro-sandbox-escape", 0700) == -1 && errno == EACCES);
}

static void
test_landlock_denied(void **state)
{
	char a[160];

	need_landlock(1);
	in_child(denied_child, NULL);
	obj_path(a, sizeof(a), fx.other, "db.sqlite");
	assert_int_equal(access(a, F_OK), -1);
	assert_int_equal(access(fx.secret, F_OK), 0);
	assert_int_equal(access("/tmp/duro-sandbox-escape", F_OK), -1);
}

static void
exec_child(void *arg)
{
	char *sh[] = {"sh", "-c", "exit 7", NULL};
	char *env_false[] = {"env", "false", NULL};
	char *ok[] = {"true", NULL};
	char *env[] = {NULL};

	confine_default();
	execve("/bin/sh", sh, env);
	CHECK(errno == EACCES);
	execve("/usr/bin/env", env_false, env);
	CHECK(errno == EACCES);
	execve("/usr/bin/true", ok, env);
	CHECK(!"execve /usr/bin/true");
}

static void
test_landlock_exec(void **state)
{
	need_landlock(1);
	in_child(exec_child, NULL);
}

/* ---- apply: Landlock, scopes and network ---- */

static void
signal_child(void *arg)
{
	pid_t pid;
	int st;

	confine_default();
	CHECK(kill(getppid(), 0) == -1 && errno == EPERM);
	CHECK(kill(1, 0) == -1 && errno == EPERM);
	CHECK(kill(getpid(), 0) == 0);
	/* Its own children are in its domain. */
	CHECK((pid = fork()) >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
}

static void
test_landlock_signal(void **state)
{
	need_landlock(6);
	in_child(signal_child, NULL);
}

static void
tcp_child(void *arg)
{
	struct sockaddr_in *sin = arg, any;
	int s;

	confine_default();
	CHECK((s = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	CHECK(connect(s, (struct sockaddr *)sin, sizeof(*sin)) == -1 &&
	      errno == EACCES);
	close(s);
	memset(&any, 0, sizeof(any));
	any.sin_family = AF_INET;
	any.sin_port = htons(0);
	CHECK((s = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	CHECK(bind(s, (struct sockaddr *)&any, sizeof(any)) == -1 &&
	      errno == EACCES);
	close(s);
}

static void
test_landlock_tcp(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int l;

	need_landlock(4);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 8), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	in_child(tcp_child, &sin);
	/* Checked from outside: no connection arrived. */
	assert_int_equal(accept(l, NULL, NULL), -1);
	assert_int_equal(errno, EAGAIN);
	close(l);
}

static socklen_t
unix_addr(struct sockaddr_un *sun, const char *path, int abstract)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (abstract) {
		snprintf(
		    sun->sun_path + 1, sizeof(sun->sun_path) - 1, "%s", path);
		return ((socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		                    strlen(path)));
	}
	if (strlen(path) >= sizeof(sun->sun_path))
		abort();
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return ((socklen_t)sizeof(*sun));
}

static void
unix_child(void *arg)
{
	const char *abstract = arg;
	struct sockaddr_un sun;
	char path[160];
	socklen_t len;
	int s;

	confine_default();
	/* durod's socket, in a directory the ruleset does not name. */
	obj_path(path, sizeof(path), fx.other, "w.sock");
	len = unix_addr(&sun, path, 0);
	CHECK((s = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	CHECK(connect(s, (struct sockaddr *)&sun, len) == 0);
	CHECK(write(s, "w", 1) == 1);
	close(s);
	/* Making a socket file needs MAKE_SOCK, granted nowhere. */
	obj_path(path, sizeof(path), fx.obj, "mine.sock");
	len = unix_addr(&sun, path, 0);
	CHECK((s = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	CHECK(bind(s, (struct sockaddr *)&sun, len) == -1 && errno == EACCES);
	close(s);
	/* Abstract sockets outside the domain are scoped out (ABI 6). */
	if (fx.abi >= 6) {
		len = unix_addr(&sun, abstract, 1);
		CHECK((s = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
		CHECK(connect(s, (struct sockaddr *)&sun, len) == -1 &&
		      errno == EPERM);
		close(s);
	}
}

static void
test_unix_socket(void **state)
{
	struct sockaddr_un sun;
	char path[160], abstract[64], c;
	socklen_t len;
	int l, al, s;

	need_landlock(1);
	obj_path(path, sizeof(path), fx.other, "w.sock");
	snprintf(abstract, sizeof(abstract), "duro-sandbox-%d", getpid());
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	al = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(l >= 0 && al >= 0);
	len = unix_addr(&sun, path, 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sun, len), 0);
	assert_int_equal(listen(l, 8), 0);
	len = unix_addr(&sun, abstract, 1);
	assert_int_equal(bind(al, (struct sockaddr *)&sun, len), 0);
	assert_int_equal(listen(al, 8), 0);
	in_child(unix_child, abstract);
	assert_true((s = accept(l, NULL, NULL)) >= 0);
	assert_int_equal(read(s, &c, 1), 1);
	assert_int_equal(c, 'w');
	close(s);
	if (fx.abi >= 6) {
		assert_int_equal(accept(al, NULL, NULL), -1);
		assert_int_equal(errno, EAGAIN);
	}
	close(al);
	close(l);
	unlink(path);
}

/* A confined nng pair0 dialer, as a worker is, to a listener in a
 * directory outside its ruleset, as durod's run_dir is. */
static void
ipc_worker(void *arg)
{
	const char *url = arg;
	nng_socket s;
	int rv, tries = 0;

	confine_default();
	CHECK(nng_pair0_open(&s) == 0);
	while ((rv = nng_dial(s, url, NULL, 0)) != 0 && tries++ < 500)
		usleep(10000);
	CHECK(rv == 0);
	CHECK(nng_send(s, "ping", 5, 0) == 0);
	usleep(100000); /* let the message leave before closing */
	nng_close(s);
}

static void
ipc_durod(void *arg)
{
	char url[192], buf[16];
	size_t len = sizeof(buf);
	nng_socket s;
	pid_t pid;
	int st;

	snprintf(url, sizeof(url), "ipc://%s/n.sock", fx.other);
	/* Fork the dialer before nng starts threads here. */
	CHECK((pid = fork()) >= 0);
	if (pid == 0) {
		ipc_worker(url);
		_exit(0);
	}
	CHECK(nng_pair0_open(&s) == 0);
	CHECK(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000) == 0);
	CHECK(nng_listen(s, url, NULL, 0) == 0);
	CHECK(nng_recv(s, buf, &len, 0) == 0);
	CHECK(len == 5 && strcmp(buf, "ping") == 0);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	nng_close(s);
}

static void
test_nng_ipc(void **state)
{
	need_landlock(1);
	in_child(ipc_durod, NULL);
}

/* ---- apply: ids, seccomp, order, failures ---- */

#if defined(__x86_64__)
#define TEST_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_ARCH AUDIT_ARCH_AARCH64
#endif

#define DENY(nr)                                                               \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                       \
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

/*
 * A filter that denies, among others, every call sb_apply makes before
 * it installs the filter: applying still succeeds, because seccomp is
 * the last step.
 */
static struct sock_filter deny_insns[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_ARCH, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    DENY(__NR_uname),
    DENY(__NR_prlimit64),
    DENY(__NR_setgroups),
    DENY(__NR_setresgid),
    DENY(__NR_setresuid),
    DENY(__NR_prctl),
    DENY(__NR_landlock_restrict_self),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
static const struct sock_fprog deny_prog = {
    sizeof(deny_insns) / sizeof(deny_insns[0]), deny_insns};

static void
policy_full(struct sb_policy *p)
{
	policy_default(p);
	p->nofile = 64;
	p->filter = &deny_prog;
	if (geteuid() == 0) {
		p->drop = 1;
		p->uid = 65534;
		p->gid = 65534;
	}
}

static void
seccomp_child(void *arg)
{
	struct sb_policy p;
	struct sb_target t;
	struct utsname u;
	uid_t r, e, s;

	policy_full(&p);
	target_default(&t);
	t.memory_limit_mb = 1024;
	confine(&p, &t);
	CHECK(uname(&u) == -1 && errno == EPERM);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == -1 && errno == EPERM);
	CHECK(getpid() > 0);
	if (p.drop) {
		CHECK(getresuid(&r, &e, &s) == 0);
		CHECK(r == 65534 && e == 65534 && s == 65534);
	}
}

static void
test_seccomp_last(void **state)
{
	in_child(seccomp_child, NULL);
}

static void
ids_child(void *arg)
{
	struct sb_policy p;
	struct sb_target t;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	policy_default(&p);
	p.drop = 1;
	p.uid = 65534;
	p.gid = 65533;
	target_default(&t);
	confine(&p, &t);
	CHECK(getresuid(&ru, &eu, &su) == 0);
	CHECK(ru == 65534 && eu == 65534 && su == 65534);
	CHECK(getresgid(&rg, &eg, &sg) == 0);
	CHECK(rg == 65533 && eg == 65533 && sg == 65533);
	CHECK(getgroups(0, NULL) == 0);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
}

static void
test_ids(void **state)
{
	if (geteuid() != 0) {
		print_message("not root: id drop skipped\n");
		skip();
	}
	in_child(ids_child, NULL);
}

/*
 * The way spawn.c runs it: on a clone sharing this process's memory and
 * descriptors, while another thread runs. The child ends up confined and
 * execs; this process and its other thread keep their ids, may still
 * write anywhere, call uname and signal their parent.
 */
struct vm_args {
	const struct sb_plan *plan;
	const char *step;
	int err;
};

static int
vm_child(void *arg)
{
	struct vm_args *a = arg;
	char *argv[] = {"true", NULL}, *envp[] = {NULL};

	if (sb_apply(a->plan, &a->step) != 0) {
		a->err = errno;
		_exit(SB_EXIT_STATUS);
	}
	execve("/usr/bin/true", argv, envp);
	a->step = "execve";
	a->err = errno;
	_exit(127);
}

struct bystander {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int go, done;
	uid_t uid;
	long nnp;
};

static void *
bystander_run(void *arg)
{
	struct bystander *b = arg;
	uid_t r, e, s;

	pthread_mutex_lock(&b->mu);
	while (!b->go)
		pthread_cond_wait(&b->cv, &b->mu);
	syscall(SYS_getresuid, &r, &e, &s);
	b->uid = r | e | s;
	b->nnp = syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	b->done = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return (NULL);
}

static void
vm_durod(void *arg)
{
	struct bystander b = {
	    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};
	struct vm_args a = {NULL, NULL, 0};
	struct sb_policy p;
	struct sb_target t;
	struct sb_plan plan;
	struct utsname u;
	char err[512], path[160], *stack;
	uid_t r, e, s, uid0 = geteuid();
	pthread_t th;
	pid_t pid;
	int st, fd;

	CHECK(pthread_create(&th, NULL, bystander_run, &b) == 0);
	policy_full(&p);
	target_default(&t);
	t.memory_limit_mb = 64; /* below this process's own mappings */
	if (UNDER_ASAN)
		t.memory_limit_mb = 0;
	CHECK(sb_prepare(&p, &t, &plan, err, sizeof(err)) == 0);
	a.plan = &plan;
	stack = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	CHECK(stack != MAP_FAILED);
	pid = clone(vm_child, stack + 64 * 1024,
	    CLONE_VM | CLONE_FILES | CLONE_VFORK | SIGCHLD, &a);
	CHECK(pid > 0);
	if (a.step != NULL)
		fprintf(stderr, "vm_child: %s: %s\n", a.step, strerror(a.err));
	CHECK(a.step == NULL);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	sb_plan_release(&plan);

	/* Nothing of it stuck to us. */
	CHECK(getresuid(&r, &e, &s) == 0);
	CHECK(r == uid0 && e == uid0 && s == uid0);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
	CHECK(uname(&u) == 0);
	CHECK(kill(getppid(), 0) == 0);
	obj_path(path, sizeof(path), fx.other, "vm-check");
	CHECK((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	CHECK(unlink(path) == 0);
	CHECK((stack = malloc(128 << 20)) != NULL);
	memset(stack, 1, 128 << 20);
	free(stack);
	pthread_mutex_lock(&b.mu);
	b.go = 1;
	pthread_cond_broadcast(&b.cv);
	while (!b.done)
		pthread_cond_wait(&b.cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
	CHECK(pthread_join(th, NULL) == 0);
	CHECK(b.uid == uid0 && b.nnp == 0);
}

static void
test_clone_vm(void **state)
{
	in_child(vm_durod, NULL);
}

static void
fail_child(void *arg)
{
	struct sb_plan plan;
	const char *step = NULL;

	memset(&plan, 0, sizeof(plan));
	plan.landlock_fd = -1;
	plan.nlimits = 1;
	plan.resource[0] = 999;
	CHECK(sb_apply(&plan, &step) == -1);
	CHECK(errno == EINVAL && strcmp(step, "setrlimit") == 0);
	plan.resource[0] = RLIMIT_AS;
	plan.limit[0].rlim_cur = 2;
	plan.limit[0].rlim_max = 1; /* soft above hard */
	CHECK(sb_apply(&plan, &step) == -1);
	CHECK(errno == EINVAL && strcmp(step, "setrlimit(RLIMIT_AS)") == 0);
	/* Not a ruleset. */
	plan.nlimits = 0;
	CHECK((plan.landlock_fd = open("/dev/null", O_RDONLY)) >= 0);
	CHECK(sb_apply(&plan, &step) == -1);
	CHECK(errno == EBADFD && strcmp(step, "landlock_restrict_self") == 0);
}

static void
test_apply_failure(void **state)
{
	need_landlock(1);
	in_child(fail_child, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probe),
	    cmocka_unit_test(test_prepare_plan),
	    cmocka_unit_test(test_prepare_errors),
	    cmocka_unit_test(test_rlimit_as),
	    cmocka_unit_test(test_rlimit_fsize),
	    cmocka_unit_test(test_rlimit_nofile),
	    cmocka_unit_test(test_landlock_object_dir),
	    cmocka_unit_test(test_landlock_sqlite),
	    cmocka_unit_test(test_landlock_denied),
	    cmocka_unit_test(test_landlock_exec),
	    cmocka_unit_test(test_landlock_signal),
	    cmocka_unit_test(test_landlock_tcp),
	    cmocka_unit_test(test_unix_socket),
	    cmocka_unit_test(test_nng_ipc),
	    cmocka_unit_test(test_seccomp_last),
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_clone_vm),
	    cmocka_unit_test(test_apply_failure),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
