/*
 * reload.c — SIGHUP: read the config again and swap it in when valid.
 *
 * The new config is parsed and checked in full first (programs resolved,
 * policies loaded and compiled, namespace keys made): any error refuses
 * the reload with the reason and the running config stays. Then the new
 * generation of namespaces (nsgen.c) becomes current at once: new
 * activations use it; live workers of a changed namespace are recycled
 * after their current turn, with no request dropped (object_reload); a
 * removed namespace's objects serve what they have queued, then
 * hibernate, while its routes answer 404.
 *
 * Where durod listens and keeps its data cannot change without a restart:
 * a reload that changes them is refused.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "durod.h"

static const char *const fixed_keys[] = {
    "listen", "admin_listen", "data_dir", "run_dir"};

static void
reload_refused(struct durod *d, const char *why)
{
	struct event *e = event_new("reload", NULL);

	event_str(e, "result", "refused");
	event_str(e, "error", why);
	event_emit(d->events, e, LOG_ERROR,
	    "reload refused, the running config stays: %s", why);
}

/* A new config, checked in full: its generation, or NULL with err. */
static struct nsgen *
reload_load(struct durod *d, char *err, size_t errlen)
{
	struct config *cfg;
	struct nsgen *g;

	if (config_load(d->cfg_path, &cfg, err, errlen) != 0)
		return (NULL);
	for (size_t i = 0; i < sizeof(fixed_keys) / sizeof(fixed_keys[0]);
	     i++) {
		if (!config_top_equal(d->cfg, cfg, fixed_keys[i])) {
			snprintf(err, errlen,
			    "%s: changing it needs a restart of durod",
			    fixed_keys[i]);
			config_free(cfg);
			return (NULL);
		}
	}
	if ((g = nsgen_new(cfg, &d->kernel, err, errlen)) == NULL)
		return (NULL);
	if (nsgen_keys(g, d->reg, err, errlen) != 0) {
		nsgen_unref(g);
		return (NULL);
	}
	return (g);
}

/* How many namespaces of the new generation are new or changed, and how
 * many of the old are gone: for the log. */
static void
reload_diff(const struct nsgen *old, const struct nsgen *now, size_t *added,
    size_t *changed, size_t *removed)
{
	const struct namespace *o;

	*added = *changed = *removed = 0;
	for (size_t i = 0; i < now->cfg->nnamespaces; i++) {
		const char *name = now->ns[i].cfg->name;
		if ((o = nsgen_byname(old, name, strlen(name))) == NULL)
			(*added)++;
		else if (nsgen_differs(o, &now->ns[i]))
			(*changed)++;
	}
	for (size_t i = 0; i < old->cfg->nnamespaces; i++) {
		const char *name = old->ns[i].cfg->name;
		if (nsgen_byname(now, name, strlen(name)) == NULL)
			(*removed)++;
	}
}

void
durod_reload(struct durod *d)
{
	struct nsgen *old = d->gen, *g;
	struct timespec ts;
	struct event *e;
	size_t added, changed, removed;
	char err[512], state[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 +
	        (unsigned long long)ts.tv_nsec / 1000);
	notify_send(state);
	log_info("SIGHUP: reloading %s", d->cfg_path);
	if ((g = reload_load(d, err, sizeof(err))) == NULL) {
		reload_refused(d, err);
		notify_send("READY=1");
		return;
	}
	reload_diff(old, g, &added, &changed, &removed);
	d->gen = g;
	d->cfg = g->cfg;
	log_set_json(strcmp(d->cfg->log_format, "json") == 0);
	durod_apply_limits(d);
	alarms_configure(d);
	object_foreach(d, object_reload);
	ws_close_all(d, 1001, "the namespace was removed", 1);
	nsgen_unref(old); /* freed once no object or alarm uses it */
	e = event_new("reload", NULL);
	event_str(e, "result", "ok");
	event_num(e, "added", (double)added);
	event_num(e, "changed", (double)changed);
	event_num(e, "removed", (double)removed);
	event_emit(d->events, e, LOG_INFO,
	    "reloaded %s: %zu namespace(s), %zu added, %zu changed (their "
	    "workers recycle), %zu removed (their workers drain)",
	    d->cfg_path, d->cfg->nnamespaces, added, changed, removed);
	notify_send("READY=1");
}
