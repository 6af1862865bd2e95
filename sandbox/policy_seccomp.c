/*
 * policy_seccomp.c — a policy's "seccomp" section: the allowlist and the
 * errno answers, each entry checked (syscall names libseccomp knows,
 * argument filters, errno names), then compiled once with libseccomp into
 * the BPF program every worker of the policy gets.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy_impl.h"

/* The errno names a policy may use: a fixed table, no guessing. */
static const struct {
	const char *name;
	int value;
} errnos[] = {
    {"EPERM", EPERM},
    {"ENOENT", ENOENT},
    {"EINTR", EINTR},
    {"EIO", EIO},
    {"EBADF", EBADF},
    {"EAGAIN", EAGAIN},
    {"ENOMEM", ENOMEM},
    {"EACCES", EACCES},
    {"EFAULT", EFAULT},
    {"EBUSY", EBUSY},
    {"EEXIST", EEXIST},
    {"ENOTDIR", ENOTDIR},
    {"EINVAL", EINVAL},
    {"ENFILE", ENFILE},
    {"EMFILE", EMFILE},
    {"ENOTTY", ENOTTY},
    {"ENOSPC", ENOSPC},
    {"EROFS", EROFS},
    {"ENOSYS", ENOSYS},
    {"EOPNOTSUPP", EOPNOTSUPP},
    {"EAFNOSUPPORT", EAFNOSUPPORT},
    {"EPROTONOSUPPORT", EPROTONOSUPPORT},
    {"ECONNREFUSED", ECONNREFUSED},
    {"ENETUNREACH", ENETUNREACH},
};

/*
 * Symbolic argument values, so a policy reads "AF_UNIX" rather than 1.
 * A value string may or several together with '|'.
 */
static const struct {
	const char *name;
	uint64_t value;
} symbols[] = {
    {"AF_UNIX", AF_UNIX},
    {"AF_LOCAL", AF_LOCAL},
    {"AF_INET", AF_INET},
    {"AF_INET6", AF_INET6},
    {"AF_NETLINK", AF_NETLINK},
    {"CLONE_VM", CLONE_VM},
    {"CLONE_FS", CLONE_FS},
    {"CLONE_FILES", CLONE_FILES},
    {"CLONE_SIGHAND", CLONE_SIGHAND},
    {"CLONE_VFORK", CLONE_VFORK},
    {"CLONE_PARENT", CLONE_PARENT},
    {"CLONE_THREAD", CLONE_THREAD},
    {"CLONE_NEWNS", CLONE_NEWNS},
    {"CLONE_NEWCGROUP", CLONE_NEWCGROUP},
    {"CLONE_NEWUTS", CLONE_NEWUTS},
    {"CLONE_NEWIPC", CLONE_NEWIPC},
    {"CLONE_NEWUSER", CLONE_NEWUSER},
    {"CLONE_NEWPID", CLONE_NEWPID},
    {"CLONE_NEWNET", CLONE_NEWNET},
    {"PR_SET_NAME", PR_SET_NAME},
    {"PR_GET_NAME", PR_GET_NAME},
    {"TCGETS", TCGETS},
    {"FIONBIO", FIONBIO},
    {"FIONREAD", FIONREAD},
    {"FIOCLEX", FIOCLEX},
    {"FIONCLEX", FIONCLEX},
};

static const struct {
	const char *name;
	enum scmp_compare op;
} ops[] = {
    {"eq", SCMP_CMP_EQ},
    {"ne", SCMP_CMP_NE},
    {"lt", SCMP_CMP_LT},
    {"le", SCMP_CMP_LE},
    {"gt", SCMP_CMP_GT},
    {"ge", SCMP_CMP_GE},
    {"masked_eq", SCMP_CMP_MASKED_EQ},
};

static int
errno_byname(const char *name)
{
	size_t i;

	for (i = 0; i < NELEM(errnos); i++)
		if (strcmp(errnos[i].name, name) == 0)
			return (errnos[i].value);
	return (-1);
}

/*
 * An action string: "kill" (the whole process: a thread killed alone
 * would leave the worker half alive) or "errno:<NAME>".
 */
static int
parse_action(struct load *l, const char *where, const char *s, uint32_t *out)
{
	int e;

	if (strcmp(s, "kill") == 0) {
		*out = SCMP_ACT_KILL_PROCESS;
		return (0);
	}
	if (strncmp(s, "errno:", 6) == 0 && (e = errno_byname(s + 6)) > 0) {
		*out = SCMP_ACT_ERRNO(e);
		return (0);
	}
	return (load_error(l, where,
	    "\"%s\": must be \"kill\" or \"errno:<NAME>\" (e.g. errno:EPERM)",
	    s));
}

/* One term of a value string: a symbol or a number (0x... allowed). */
static int
parse_term(const char *s, size_t len, uint64_t *out)
{
	char buf[64], *end;
	size_t i;

	if (len == 0 || len >= sizeof(buf))
		return (-1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	for (i = 0; i < NELEM(symbols); i++)
		if (strcmp(symbols[i].name, buf) == 0) {
			*out = symbols[i].value;
			return (0);
		}
	if (buf[0] < '0' || buf[0] > '9')
		return (-1);
	errno = 0;
	*out = strtoull(buf, &end, 0);
	return (errno != 0 || *end != '\0' ? -1 : 0);
}

/*
 * An argument value: a non-negative JSON integer, or a string of symbols
 * and numbers joined by '|' ("CLONE_THREAD|CLONE_NEWNET", "0x10000").
 */
static int
parse_value(struct load *l, const cJSON *v, const char *where, uint64_t *out)
{
	const char *s, *bar;
	uint64_t term;

	if (cJSON_IsNumber(v)) {
		if (v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
		    v->valuedouble != (double)(uint64_t)v->valuedouble)
			return (load_error(l, where,
			    "must be a non-negative integer below 2^53 "
			    "(or a string such as \"0xffffffffffffffff\")"));
		*out = (uint64_t)v->valuedouble;
		return (0);
	}
	if (!cJSON_IsString(v))
		return (load_error(l, where, "must be a number or a string"));
	*out = 0;
	for (s = v->valuestring;; s = bar + 1) {
		if ((bar = strchr(s, '|')) == NULL)
			bar = s + strlen(s);
		if (parse_term(s, bar - s, &term) != 0)
			return (load_error(l, where,
			    "\"%s\": not a number or a known constant",
			    v->valuestring));
		*out |= term;
		if (*bar == '\0')
			return (0);
	}
}

static int
parse_arg(struct load *l, const cJSON *a, const char *where, struct rule *r)
{
	static const char *const keys[] = {"arg", "op", "value", "mask", NULL};
	const cJSON *mask = cJSON_GetObjectItemCaseSensitive(a, "mask");
	struct scmp_arg_cmp *c = &r->args[r->nargs];
	char w[WHERE_MAX];
	const char *op;
	double argn = 0;
	uint64_t value;
	unsigned int i;

	if (check_keys(l, a, where, keys) != 0 ||
	    get_int(l, a, where, "arg", 1, 0, 5, &argn) != 0 ||
	    get_string(l, a, where, "op", 1, &op) != 0)
		return (-1);
	for (i = 0; i < r->nargs; i++)
		if (r->args[i].arg == (unsigned int)argn)
			return (load_error(l, where,
			    "argument %u is already compared in this entry "
			    "(use masked_eq, or two entries)",
			    (unsigned int)argn));
	c->arg = (unsigned int)argn;
	for (i = 0; i < NELEM(ops); i++)
		if (strcmp(ops[i].name, op) == 0)
			break;
	where_key(w, where, "op");
	if (i == NELEM(ops))
		return (load_error(l, w,
		    "\"%s\": must be eq, ne, lt, le, gt, ge or masked_eq", op));
	c->op = ops[i].op;
	where_key(w, where, "mask");
	if ((c->op == SCMP_CMP_MASKED_EQ) != (mask != NULL))
		return (
		    load_error(l, w, "needed with masked_eq, and only then"));
	c->datum_a = c->datum_b = 0;
	if (mask != NULL && parse_value(l, mask, w, &c->datum_a) != 0)
		return (-1);
	where_key(w, where, "value");
	if (!cJSON_HasObjectItem(a, "value"))
		return (load_error(l, w, "missing"));
	if (parse_value(l, cJSON_GetObjectItemCaseSensitive(a, "value"), w,
	        &value) != 0)
		return (-1);
	/* libseccomp: datum_a is the value, or the mask for masked_eq. */
	if (c->op == SCMP_CMP_MASKED_EQ)
		c->datum_b = value;
	else
		c->datum_a = value;
	r->nargs++;
	return (0);
}

static int
parse_args(struct load *l, const cJSON *e, const char *where, struct rule *r)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args");
	const cJSON *a;
	char w[WHERE_MAX];
	int i = 0;

	r->nargs = 0;
	if (args == NULL)
		return (0);
	where_key(w, where, "args");
	if (!cJSON_IsArray(args) || cJSON_GetArraySize(args) == 0 ||
	    cJSON_GetArraySize(args) > 6)
		return (load_error(l, w, "must be an array of 1 to 6 entries"));
	cJSON_ArrayForEach (a, args) {
		where_fmt(w, "%s.args[%d]", where, i++);
		if (parse_arg(l, a, w, r) != 0)
			return (-1);
	}
	return (0);
}

/*
 * A syscall may appear once; or, within one list, several times when
 * every occurrence has argument filters (alternatives, e.g. prctl with
 * PR_SET_NAME or PR_GET_NAME). Anything else would make the filter's
 * meaning depend on libseccomp's rule ordering.
 */
static int
check_duplicate(struct load *l, const struct rule *r, const char *name)
{
	const struct rule *o;
	int i;

	for (i = 0; i < l->nrules; i++) {
		o = &l->rules[i];
		if (o->nr != r->nr)
			continue;
		if (o->list == r->list && o->nargs > 0 && r->nargs > 0)
			continue;
		return (load_error(l, r->where,
		    "syscall \"%s\" is already listed in %s", name, o->where));
	}
	return (0);
}

static int
parse_rule(struct load *l, const cJSON *e, int list, const char *where)
{
	static const char *const allow_keys[] = {
	    "syscall", "why", "args", NULL};
	static const char *const errno_keys[] = {
	    "syscall", "errno", "why", "args", NULL};
	struct rule *r;
	const char *name, *why, *ename;
	char w[WHERE_MAX];
	int en;

	if (l->nrules == POLICY_MAX_RULES)
		return (load_error(
		    l, where, "more than %d rules", POLICY_MAX_RULES));
	r = &l->rules[l->nrules];
	where_fmt(r->where, "%s", where);
	r->list = list;
	if (check_keys(l, e, where,
	        list == LIST_ALLOW ? allow_keys : errno_keys) != 0 ||
	    get_string(l, e, where, "syscall", 1, &name) != 0 ||
	    get_string(l, e, where, "why", 1, &why) != 0)
		return (-1);
	where_key(w, where, "syscall");
	if ((r->nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR)
		return (load_error(l, w, "unknown syscall \"%s\"", name));
	r->action = SCMP_ACT_ALLOW;
	if (list == LIST_ERRNO) {
		if (get_string(l, e, where, "errno", 1, &ename) != 0)
			return (-1);
		where_key(w, where, "errno");
		if ((en = errno_byname(ename)) < 0)
			return (load_error(
			    l, w, "unknown errno name \"%s\"", ename));
		r->action = SCMP_ACT_ERRNO(en);
	}
	if (parse_args(l, e, where, r) != 0 || check_duplicate(l, r, name) != 0)
		return (-1);
	l->nrules++;
	return (0);
}

static int
parse_rules(
    struct load *l, const cJSON *sec, const char *key, int list, int required)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(sec, key);
	const cJSON *e;
	char w[WHERE_MAX];
	int i = 0;

	where_key(w, "seccomp", key);
	if (arr == NULL)
		return (required ? load_error(l, w, "missing") : 0);
	if (!cJSON_IsArray(arr))
		return (load_error(l, w, "must be an array"));
	cJSON_ArrayForEach (e, arr) {
		where_fmt(w, "seccomp.%s[%d]", key, i++);
		if (parse_rule(l, e, list, w) != 0)
			return (-1);
	}
	return (0);
}

int
policy_parse_seccomp(struct load *l, const cJSON *sec)
{
	static const char *const keys[] = {"default", "allow", "errno", NULL};
	const char *def;

	if (sec == NULL)
		return (load_error(l, "seccomp", "missing"));
	if (check_keys(l, sec, "seccomp", keys) != 0 ||
	    get_string(l, sec, "seccomp", "default", 1, &def) != 0 ||
	    parse_action(l, "seccomp.default", def, &l->default_action) != 0)
		return (-1);
	if (parse_rules(l, sec, "allow", LIST_ALLOW, 1) != 0 ||
	    parse_rules(l, sec, "errno", LIST_ERRNO, 0) != 0)
		return (-1);
	return (0);
}

/*
 * libseccomp 2.5 exports BPF only to a file descriptor: a memfd, read
 * back into memory the policy owns, so a spawn needs neither libseccomp
 * nor a file.
 */
static int
export_filter(struct load *l, scmp_filter_ctx ctx, struct sock_fprog **out)
{
	struct sock_fprog *prog = NULL;
	struct stat st;
	int fd, rv;

	if ((fd = memfd_create("sb_policy", MFD_CLOEXEC)) < 0)
		return (load_error(
		    l, "seccomp", "memfd_create: %s", strerror(errno)));
	if ((rv = seccomp_export_bpf(ctx, fd)) != 0) {
		close(fd);
		return (load_error(
		    l, "seccomp", "seccomp_export_bpf: %s", strerror(-rv)));
	}
	if (fstat(fd, &st) != 0 || st.st_size <= 0 ||
	    st.st_size % sizeof(struct sock_filter) != 0 ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		close(fd);
		return (load_error(l, "seccomp",
		    "the compiled filter has a bad size (%lld bytes, at most "
		    "%d instructions)",
		    (long long)st.st_size, BPF_MAXINSNS));
	}
	if ((prog = calloc(1, sizeof(*prog))) == NULL ||
	    (prog->filter = malloc(st.st_size)) == NULL ||
	    pread(fd, prog->filter, st.st_size, 0) != st.st_size) {
		rv = errno;
		close(fd);
		if (prog != NULL)
			free(prog->filter);
		free(prog);
		return (load_error(
		    l, "seccomp", "reading the filter back: %s", strerror(rv)));
	}
	close(fd);
	prog->len = st.st_size / sizeof(struct sock_filter);
	*out = prog;
	return (0);
}

/*
 * Compile for the native architecture only (libseccomp's default): a
 * syscall made through another ABI (x32, i386 int 0x80) kills the
 * process, since those numbers mean other syscalls.
 */
int
policy_compile_filter(struct load *l, struct sock_fprog **out)
{
	scmp_filter_ctx ctx;
	struct rule *r;
	int i, rv;

	if ((ctx = seccomp_init(l->default_action)) == NULL)
		return (load_error(l, "seccomp", "seccomp_init failed"));
	if ((rv = seccomp_attr_set(
	         ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) != 0) {
		seccomp_release(ctx);
		return (load_error(
		    l, "seccomp", "bad-arch action: %s", strerror(-rv)));
	}
	/* A binary tree of syscalls: a few comparisons, not a hundred. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (i = 0; i < l->nrules; i++) {
		r = &l->rules[i];
		if ((rv = seccomp_rule_add_array(
		         ctx, r->action, r->nr, r->nargs, r->args)) != 0) {
			seccomp_release(ctx);
			return (load_error(
			    l, r->where, "libseccomp: %s", strerror(-rv)));
		}
	}
	rv = export_filter(l, ctx, out);
	seccomp_release(ctx);
	return (rv);
}
