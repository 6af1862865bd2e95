/*
 * ns_sandbox.c — which sandbox policy each namespace runs under, and the
 * plan for one spawn (sandbox/ does the confining itself).
 *
 * Policies are loaded when durod reads its config, so a bad policy file
 * is a config error (and `durod --check` finds it), once per policy name
 * however many namespaces use it. What a namespace's workers may execute
 * is known then too: its program, resolved like execvp; and what they may
 * read besides the policy's system paths: the directory of any argument
 * that names an existing file (an interpreter's script, and the modules
 * beside it), and the namespace's read_paths.
 */
#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durod.h"

static struct sb_policy *
policy_byname(struct nsgen *g, const char *name)
{
	for (size_t i = 0; i < g->npolicies; i++)
		if (strcmp(sb_policy_name(g->policies[i]), name) == 0)
			return (g->policies[i]);
	return (NULL);
}

static int
policy_get(struct nsgen *g, const struct sb_kernel *kernel, const char *name,
    struct sb_policy **out, char *err, size_t errlen)
{
	struct sb_policy **np;
	char path[PATH_MAX];

	if ((*out = policy_byname(g, name)) != NULL)
		return (0);
	if ((np = reallocarray(g->policies, g->npolicies + 1, sizeof(*np))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	g->policies = np;
	snprintf(path, sizeof(path), "%s/%s.json", g->cfg->policy_dir, name);
	if (sb_policy_load(path, kernel, out, err, errlen) != 0)
		return (-1);
	g->policies[g->npolicies++] = *out;
	return (0);
}

/* Add a copy of s to the NULL-terminated vector *v (n entries so far). */
static int
strv_push(char ***v, size_t *n, const char *s)
{
	char **nv;

	if ((nv = reallocarray(*v, *n + 2, sizeof(*nv))) == NULL)
		return (-1);
	*v = nv;
	if ((nv[*n] = strdup(s)) == NULL)
		return (-1);
	nv[++*n] = NULL;
	return (0);
}

/* The program; the directories of arguments that are files; read_paths. */
static int
ns_paths(struct namespace *ns)
{
	size_t ne = 0, nr = 0;
	struct stat st;
	char *real;
	int rv = 0;

	if (strv_push(&ns->sb_execs, &ne, ns->exec_path) != 0)
		return (-1);
	for (char **a = ns->cfg->exec + 1; *a != NULL && rv == 0; a++) {
		if (stat(*a, &st) != 0 || !S_ISREG(st.st_mode) ||
		    (real = realpath(*a, NULL)) == NULL)
			continue;
		rv = strv_push(&ns->sb_reads, &nr, dirname(real));
		free(real);
	}
	for (char **p = ns->cfg->read_paths; p != NULL && *p != NULL && rv == 0;
	     p++) {
		if ((real = realpath(*p, NULL)) == NULL)
			continue; /* absent here: nothing to allow */
		rv = strv_push(&ns->sb_reads, &nr, real);
		free(real);
	}
	/* Always a vector, if an empty one. */
	if (rv == 0 && ns->sb_reads == NULL &&
	    (ns->sb_reads = calloc(1, sizeof(*ns->sb_reads))) == NULL)
		rv = -1;
	return (rv);
}

int
ns_sandbox_load(
    struct nsgen *g, const struct sb_kernel *kernel, char *err, size_t errlen)
{
	struct sb_policy *p;
	char why[512];

	for (size_t i = 0; i < g->cfg->nnamespaces; i++) {
		struct namespace *ns = &g->ns[i];
		if (strcmp(ns->cfg->policy, "none") == 0) {
			log_warn(
			    "namespace %s: policy \"none\": its workers run "
			    "WITHOUT a sandbox (for benchmarks and "
			    "development only)",
			    ns->cfg->name);
			continue;
		}
		if (policy_get(g, kernel, ns->cfg->policy, &p, why,
		        sizeof(why)) != 0) {
			snprintf(err, errlen, "namespaces.%s.policy: %s",
			    ns->cfg->name, why);
			return (-1);
		}
		ns->policy = p;
		if (asprintf(&ns->policy_path, "%s/%s.json", g->cfg->policy_dir,
		        ns->cfg->policy) < 0) {
			ns->policy_path = NULL;
			snprintf(err, errlen, "out of memory");
			return (-1);
		}
		ns->drop_ids = sb_policy_ids(p, &ns->uid, &ns->gid);
		if (ns->drop_ids && geteuid() != 0) {
			snprintf(err, errlen,
			    "namespaces.%s.policy: %s names a user to run "
			    "workers as, which needs durod to run as root",
			    ns->cfg->name, sb_policy_name(p));
			return (-1);
		}
		if (ns_paths(ns) != 0) {
			snprintf(err, errlen, "out of memory");
			return (-1);
		}
	}
	return (0);
}

static void
strv_free(char **v)
{
	for (char **s = v; s != NULL && *s != NULL; s++)
		free(*s);
	free(v);
}

void
ns_sandbox_free(struct nsgen *g)
{
	for (size_t i = 0; i < g->cfg->nnamespaces; i++) {
		strv_free(g->ns[i].sb_execs);
		strv_free(g->ns[i].sb_reads);
		free(g->ns[i].policy_path);
	}
	for (size_t i = 0; i < g->npolicies; i++)
		sb_policy_free(g->policies[i]);
	free(g->policies);
	g->policies = NULL;
	g->npolicies = 0;
}

int
ns_sandbox_plan(const struct object *o, struct sb_plan *plan, int *none,
    char *err, size_t errlen)
{
	const struct ns_config *c = o->ns->cfg;
	struct sb_target t;
	char dir[PATH_MAX];

	*none = o->ns->policy == NULL;
	if (*none)
		return (0);
	if (object_dir(o, dir, sizeof(dir)) != 0) {
		snprintf(
		    err, errlen, "sandbox: object directory: path too long");
		return (-1);
	}
	memset(&t, 0, sizeof(t));
	t.object_dir = dir;
	t.execs = (const char *const *)o->ns->sb_execs;
	t.reads = (const char *const *)o->ns->sb_reads;
	t.memory_limit_mb = c->memory_limit_mb;
	/* The database may reach storage_limit_mb and its WAL as much
	 * again in one big transaction; past that, a file is not SQLite's. */
	t.file_limit_mb = 2 * (uint64_t)c->storage_limit_mb + 64;
	return (sb_prepare(o->ns->policy, &t, plan, err, errlen));
}
