/*
 * policy.c — a sandbox policy file (policies/README.md): parsed and
 * validated once, when durod reads its config, checked against what the
 * kernel can enforce, and its seccomp filter compiled to BPF with
 * libseccomp (the seccomp section is policy_seccomp.c's). Everything that
 * can fail does so here, at load time, with the file and the JSON path of
 * the culprit; a spawn only reads the result (STYLE.md rule 4).
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

#include "policy_impl.h"

/* Fill err with "<file>: <where>: <why>" and return -1. */
int
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

/* A JSON path into buf (WHERE_MAX bytes); a long one is cut short. */
void
where_fmt(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, WHERE_MAX, fmt, ap);
	va_end(ap);
}

/* where.key, or key at the top level. */
void
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
int
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
int
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
int
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
	if (policy_parse_seccomp(
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
	if (parse_top(&l, top, p) != 0 ||
	    policy_compile_filter(&l, &p->filter) != 0 ||
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
