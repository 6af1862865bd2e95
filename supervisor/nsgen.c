/*
 * nsgen.c — the configured namespaces, one generation per config.
 *
 * durod's first config and every config a reload accepts become a
 * generation: the config itself, each namespace's resolved program and
 * key, and the sandbox policies loaded for it. Objects point into the
 * generation they were started under and hold a reference on it, as do
 * alarm events on their way, so a reload can swap in a new generation at
 * once while workers started under the old one finish their turn; the
 * old generation is freed when its last user lets go.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durod.h"

static void
file_id_of(const char *path, struct file_id *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (path == NULL || stat(path, &st) != 0)
		return;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
}

static int
file_id_equal(const struct file_id *a, const struct file_id *b)
{
	return (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	        a->mtime.tv_sec == b->mtime.tv_sec &&
	        a->mtime.tv_nsec == b->mtime.tv_nsec);
}

/* Resolve every namespace's program now, so a typo fails at load. */
static int
nsgen_resolve(struct nsgen *g, char *err, size_t errlen)
{
	for (size_t i = 0; i < g->cfg->nnamespaces; i++) {
		struct namespace *ns = &g->ns[i];
		const struct ns_config *c = &g->cfg->namespaces[i];

		ns->cfg = c;
		ns->gen = g;
		if ((ns->exec_path = spawn_resolve(c->exec[0])) == NULL ||
		    access(ns->exec_path, X_OK) != 0) {
			snprintf(err, errlen,
			    "namespaces.%s.exec[0]: %s: not found or "
			    "not executable",
			    c->name, c->exec[0]);
			return (-1);
		}
		file_id_of(ns->exec_path, &ns->exec_id);
	}
	return (0);
}

struct nsgen *
nsgen_new(struct config *cfg, const struct sb_kernel *kernel, char *err,
    size_t errlen)
{
	struct nsgen *g;

	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->ns = calloc(cfg->nnamespaces + 1, sizeof(*g->ns))) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(g);
		config_free(cfg);
		return (NULL);
	}
	g->cfg = cfg;
	g->refs = 1;
	if (nsgen_resolve(g, err, errlen) != 0 ||
	    ns_sandbox_load(g, kernel, err, errlen) != 0) {
		nsgen_unref(g);
		return (NULL);
	}
	for (size_t i = 0; i < cfg->nnamespaces; i++)
		file_id_of(g->ns[i].policy_path, &g->ns[i].policy_id);
	return (g);
}

int
nsgen_keys(struct nsgen *g, struct registry *reg, char *err, size_t errlen)
{
	for (size_t i = 0; i < g->cfg->nnamespaces; i++)
		if (registry_ns_key(reg, g->ns[i].cfg->name, g->ns[i].key, err,
		        errlen) != 0)
			return (-1);
	return (0);
}

void
nsgen_ref(struct nsgen *g)
{
	g->refs++;
}

void
nsgen_unref(struct nsgen *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	ns_sandbox_free(g);
	for (size_t i = 0; i < g->cfg->nnamespaces; i++)
		free(g->ns[i].exec_path);
	free(g->ns);
	config_free(g->cfg);
	free(g);
}

const struct namespace *
nsgen_byname(const struct nsgen *g, const char *name, size_t len)
{
	for (size_t i = 0; i < g->cfg->nnamespaces; i++)
		if (strlen(g->ns[i].cfg->name) == len &&
		    memcmp(g->ns[i].cfg->name, name, len) == 0)
			return (&g->ns[i]);
	return (NULL);
}

int
nsgen_differs(const struct namespace *a, const struct namespace *b)
{
	return (!config_ns_equal(a->cfg, b->cfg) ||
	        strcmp(a->exec_path, b->exec_path) != 0 ||
	        !file_id_equal(&a->exec_id, &b->exec_id) ||
	        !file_id_equal(&a->policy_id, &b->policy_id));
}
