/*
 * policy.c — a sandbox policy file (policies/README.md): parsed and
 * validated once, when durod reads its config, checked against what the
 * kernel can enforce, and its seccomp filter compiled to BPF with
 * libseccomp. Everything that can fail does so here, at load time, with
 * the file and the JSON path of the culprit; a spawn only reads the
 * result (STYLE.md rule 4).
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

#define POLICY_MAX_BYTES (1024 * 1024)
#define POLICY_MAX_RULES 1024
#define POLICY_MAX_ABI 64
#define POLICY_MAX_NOFILE (1024 * 1024)
#define WHERE_MAX 96

/* Which list of the seccomp section a rule came from. */
enum { LIST_ALLOW, LIST_ERRNO };

/* One seccomp rule, parsed, waiting to be compiled. */
struct rule {
	int nr; /* native syscall number, or libseccomp's pseudo number */
	int list;
	uint32_t action;
	unsigned int nargs;
	struct scmp_arg_cmp args[6];
	char where[WHERE_MAX]; /* "seccomp.allow[3]", for errors */
};

struct sb_policy {
	char *name;
	int best_effort;
	int min_abi;      /* as written */
	int landlock_abi; /* what the worker gets; 0: none */
	char **paths[SB_EXECUTE + 1];
	uint64_t nofile;
	int has_ids;
	uid_t uid;
	gid_t gid;
	struct sock_fprog *filter; /* NULL: none, or not applicable */
};

/* The state of one load: where errors go, the rules gathered so far. */
struct load {
	const char *file;
	char *err;
	size_t errlen;
	uint32_t default_action;
	struct rule *rules;
	int nrules;
};

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

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int load_error(struct load *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Fill err with "<file>: <where>: <why>" and return -1. */
static int
load_error(struct load *l, const char *where, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (where == NULL || *where == '\0')
		snprintf(l->err, l->errlen, "%s: %s", l->file, why);
	else
		snprintf(l->err, l->errlen, "%s: %s: %s", l->file, where, why);
	return (-1);
}

static void where_fmt(char *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* A JSON path into buf (WHERE_MAX bytes); a long one is cut short. */
static void
where_fmt(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, WHERE_MAX, fmt, ap);
	va_end(ap);
}

/* where.key, or key at the top level. */
static void
where_key(char *buf, const char *where, const char *key)
{
	if (*where == '\0')
		where_fmt(buf, "%s", key);
	else
		where_fmt(buf, "%s.%s", where, key);
}

/*
 * Strictness first: every key of obj must be in allowed, and none twice
 * (cJSON keeps both copies of a duplicated key, and a reader would see
 * only one of them).
 */
static int
check_keys(struct load *l, const cJSON *obj, const char *where,
    const char *const *allowed)
{
	const cJSON *c, *d;
	char w[WHERE_MAX];
	size_t i;

	if (!cJSON_IsObject(obj))
		return (load_error(l, where, "must be an object"));
	cJSON_ArrayForEach (c, obj) {
		where_key(w, where, c->string);
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], c->string) == 0)
				break;
		if (allowed[i] == NULL)
			return (load_error(l, w, "unknown key"));
		for (d = c->next; d != NULL; d = d->next)
			if (strcmp(d->string, c->string) == 0)
				return (load_error(l, w, "duplicate key"));
	}
	return (0);
}

/* A string field: NULL in *out when absent and optional. */
static int
get_string(struct load *l, const cJSON *obj, const char *where, const char *key,
    int required, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char w[WHERE_MAX];

	where_key(w, where, key);
	*out = NULL;
	if (v == NULL) {
		if (required)
			return (load_error(l, w, "missing"));
		return (0);
	}
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
		return (load_error(l, w, "must be a non-empty string"));
	*out = v->valuestring;
	return (0);
}

/* An integer field within [min, max]; *out untouched when absent. */
static int
get_int(struct load *l, const cJSON *obj, const char *where, const char *key,
    int required, double min, double max, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char w[WHERE_MAX];

	where_key(w, where, key);
	if (v == NULL) {
		if (required)
			return (load_error(l, w, "missing"));
		return (0);
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < min ||
	    v->valuedouble > max ||
	    v->valuedouble != (double)(long long)v->valuedouble)
		return (load_error(
		    l, w, "must be an integer from %.0f to %.0f", min, max));
	*out = v->valuedouble;
	return (0);
}

/* ---- seccomp ---- */

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

static int
parse_seccomp(struct load *l, const cJSON *sec)
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
static int
compile_filter(struct load *l, struct sock_fprog **out)
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

/* ---- landlock, limits, ids ---- */

/*
 * Absolute, and without "." or ".." components: the ruleset is built
 * from these names and they should mean what they say.
 */
static int
path_ok(const char *p)
{
	const char *c;
	size_t n;

	if (p[0] != '/' || strlen(p) >= PATH_MAX)
		return (0);
	for (c = p; *c != '\0'; c += n) {
		while (*c == '/')
			c++;
		n = strcspn(c, "/");
		if ((n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return (0);
	}
	return (1);
}

static int
parse_paths(struct load *l, const cJSON *ll, const char *key, char ***out)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(ll, key);
	const cJSON *e;
	char w[WHERE_MAX];
	int i = 0, n;

	where_key(w, "landlock", key);
	if (arr != NULL && !cJSON_IsArray(arr))
		return (load_error(l, w, "must be an array of paths"));
	n = arr == NULL ? 0 : cJSON_GetArraySize(arr);
	if ((*out = calloc(n + 1, sizeof(**out))) == NULL)
		return (load_error(l, w, "out of memory"));
	cJSON_ArrayForEach (e, arr) {
		where_fmt(w, "landlock.%s[%d]", key, i);
		if (!cJSON_IsString(e) || !path_ok(e->valuestring))
			return (load_error(
			    l, w, "must be an absolute path without . or .."));
		if (((*out)[i++] = strdup(e->valuestring)) == NULL)
			return (load_error(l, w, "out of memory"));
	}
	return (0);
}

static int
parse_landlock(struct load *l, const cJSON *ll, struct sb_policy *p)
{
	static const char *const keys[] = {
	    "min_abi", "read", "read_write", "execute", NULL};
	double abi = 1;

	if (ll == NULL)
		return (load_error(l, "landlock", "missing"));
	if (check_keys(l, ll, "landlock", keys) != 0 ||
	    get_int(l, ll, "landlock", "min_abi", 0, 1, POLICY_MAX_ABI, &abi) !=
	        0)
		return (-1);
	p->min_abi = (int)abi;
	if (parse_paths(l, ll, "read", &p->paths[SB_READ]) != 0 ||
	    parse_paths(l, ll, "read_write", &p->paths[SB_READ_WRITE]) != 0 ||
	    parse_paths(l, ll, "execute", &p->paths[SB_EXECUTE]) != 0)
		return (-1);
	return (0);
}

static int
parse_limits(struct load *l, const cJSON *lim, struct sb_policy *p)
{
	static const char *const keys[] = {"nofile", NULL};
	double nofile = 0;

	if (lim == NULL)
		return (0);
	if (check_keys(l, lim, "limits", keys) != 0 ||
	    get_int(l, lim, "limits", "nofile", 0, 16, POLICY_MAX_NOFILE,
	        &nofile) != 0)
		return (-1);
	p->nofile = (uint64_t)nofile;
	return (0);
}

/* A decimal id, or -1. */
static long long
numeric_id(const char *s)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return (-1);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX - 1)
		return (-1);
	return (v);
}

/*
 * "user" (a name or a number) and the optional "group" (else the user's
 * own group), resolved now: a typo is a config error, not a failed spawn.
 */
static int
parse_ids(struct load *l, const cJSON *top, struct sb_policy *p)
{
	const char *user, *group;
	struct passwd *pw;
	struct group *gr;
	long long id;

	if (get_string(l, top, "", "user", 0, &user) != 0 ||
	    get_string(l, top, "", "group", 0, &group) != 0)
		return (-1);
	if (user == NULL) {
		if (group != NULL)
			return (load_error(l, "group", "needs \"user\""));
		return (0);
	}
	if ((pw = getpwnam(user)) != NULL) {
		p->uid = pw->pw_uid;
		p->gid = pw->pw_gid;
	} else if ((id = numeric_id(user)) >= 0 && group != NULL)
		p->uid = (uid_t)id;
	else
		return (load_error(l, "user", "\"%s\": no such user%s", user,
		    numeric_id(user) >= 0 ? " (a numeric user needs \"group\")"
		                          : ""));
	if (group != NULL) {
		if ((gr = getgrnam(group)) != NULL)
			p->gid = gr->gr_gid;
		else if ((id = numeric_id(group)) >= 0)
			p->gid = (gid_t)id;
		else
			return (load_error(
			    l, "group", "\"%s\": no such group", group));
	}
	p->has_ids = 1;
	return (0);
}

/* ---- the whole file ---- */

/*
 * What the kernel k cannot enforce is an error, unless the policy is
 * best effort: then the worker gets what there is (a lower Landlock ABI,
 * or none; no seccomp filter), and durod says so when it logs the
 * policy. k NULL skips the check (a policy checked off-line).
 */
static int
check_kernel(struct load *l, const struct sb_kernel *k, struct sb_policy *p)
{
	p->landlock_abi = p->min_abi;
	if (k == NULL)
		return (0);
	if (!k->seccomp) {
		if (!p->best_effort)
			return (load_error(l, "seccomp",
			    "this kernel cannot apply seccomp filters (the "
			    "policy may say \"best_effort\": true)"));
		if (p->filter != NULL)
			free(p->filter->filter);
		free(p->filter);
		p->filter = NULL;
	}
	if (k->landlock_abi < p->min_abi) {
		if (!p->best_effort)
			return (load_error(l, "landlock.min_abi",
			    "needs Landlock ABI %d, this kernel has %d (the "
			    "policy may say \"best_effort\": true)",
			    p->min_abi, k->landlock_abi));
		p->landlock_abi = k->landlock_abi;
	}
	return (0);
}

static int
parse_top(struct load *l, const cJSON *top, struct sb_policy *p)
{
	static const char *const keys[] = {"description", "best_effort",
	    "seccomp", "landlock", "limits", "user", "group", NULL};
	const cJSON *be;
	const char *desc;

	if (check_keys(l, top, "", keys) != 0 ||
	    get_string(l, top, "", "description", 1, &desc) != 0)
		return (-1);
	be = cJSON_GetObjectItemCaseSensitive(top, "best_effort");
	if (be != NULL && !cJSON_IsBool(be))
		return (load_error(l, "best_effort", "must be true or false"));
	p->best_effort = cJSON_IsTrue(be);
	if (parse_seccomp(
	        l, cJSON_GetObjectItemCaseSensitive(top, "seccomp")) != 0 ||
	    parse_landlock(
	        l, cJSON_GetObjectItemCaseSensitive(top, "landlock"), p) != 0 ||
	    parse_limits(
	        l, cJSON_GetObjectItemCaseSensitive(top, "limits"), p) != 0 ||
	    parse_ids(l, top, p) != 0)
		return (-1);
	return (0);
}

/* The file's text, NUL-terminated, or NULL with err filled. */
static char *
read_file(struct load *l)
{
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	FILE *f;

	if ((f = fopen(l->file, "re")) == NULL) {
		load_error(l, NULL, "%s", strerror(errno));
		return (NULL);
	}
	if ((buf = malloc(POLICY_MAX_BYTES + 1)) == NULL) {
		fclose(f);
		load_error(l, NULL, "out of memory");
		return (NULL);
	}
	while ((r = fread(buf + n, 1, POLICY_MAX_BYTES + 1 - n, f)) > 0)
		n += r;
	if (ferror(f) || n > POLICY_MAX_BYTES) {
		load_error(l, NULL,
		    ferror(f) ? "read error" : "larger than %d bytes",
		    POLICY_MAX_BYTES);
		fclose(f);
		free(buf);
		return (NULL);
	}
	fclose(f);
	buf[n] = '\0';
	return (buf);
}

static cJSON *
parse_json(struct load *l)
{
	const char *at, *c;
	cJSON *top;
	char *text;
	int line = 1;

	if ((text = read_file(l)) == NULL)
		return (NULL);
	if ((top = cJSON_Parse(text)) == NULL) {
		if ((at = cJSON_GetErrorPtr()) == NULL)
			at = text;
		for (c = text; c < at && *c != '\0'; c++)
			line += *c == '\n';
		load_error(l, NULL, "line %d: not valid JSON", line);
	}
	free(text);
	return (top);
}

/* "policies/native.json" -> "native". */
static char *
policy_name(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base == NULL ? path : base + 1;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".json") == 0)
		n -= 5;
	return (strndup(base, n));
}

int
sb_policy_load(const char *path, const struct sb_kernel *k,
    struct sb_policy **out, char *err, size_t errlen)
{
	struct load l = {path, err, errlen, 0, NULL, 0};
	struct sb_policy *p;
	cJSON *top;
	int rv = -1;

	*out = NULL;
	if ((top = parse_json(&l)) == NULL)
		return (-1);
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (l.rules = calloc(POLICY_MAX_RULES, sizeof(*l.rules))) == NULL ||
	    (p->name = policy_name(path)) == NULL) {
		load_error(&l, NULL, "out of memory");
		goto done;
	}
	if (parse_top(&l, top, p) != 0 || compile_filter(&l, &p->filter) != 0 ||
	    check_kernel(&l, k, p) != 0)
		goto done;
	*out = p;
	p = NULL;
	rv = 0;
done:
	sb_policy_free(p);
	free(l.rules);
	cJSON_Delete(top);
	return (rv);
}

void
sb_policy_free(struct sb_policy *p)
{
	int a;
	char **s;

	if (p == NULL)
		return;
	for (a = SB_READ; a <= SB_EXECUTE; a++) {
		for (s = p->paths[a]; s != NULL && *s != NULL; s++)
			free(*s);
		free(p->paths[a]);
	}
	if (p->filter != NULL)
		free(p->filter->filter);
	free(p->filter);
	free(p->name);
	free(p);
}

/* ---- accessors ---- */

const char *
sb_policy_name(const struct sb_policy *p)
{
	return (p->name);
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

	if (access < SB_READ || access > SB_EXECUTE || p->paths[access] == NULL)
		return (none);
	return ((const char *const *)p->paths[access]);
}

int
sb_policy_min_abi(const struct sb_policy *p)
{
	return (p->landlock_abi);
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
	if (!p->has_ids)
		return (0);
	*uid = p->uid;
	*gid = p->gid;
	return (1);
}
