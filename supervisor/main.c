/*
 * main.c — durod: start up, run the loop, drain on SIGTERM/SIGINT.
 *
 *   durod -c FILE           run in the foreground (as init systems want)
 *   durod --check -c FILE   validate the config and exit
 */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durod.h"

static void
usage(void)
{
	fprintf(stderr, "usage: durod [--check] -c config.json\n");
	exit(2);
}

const struct namespace *
durod_ns_byname(const struct durod *d, const char *name, size_t len)
{
	return (nsgen_byname(d->gen, name, len));
}

/* mkdir -p, then the absolute path (malloc'd) or NULL. */
static char *
make_dir(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return (NULL);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return (NULL);
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return (NULL);
	return (realpath(buf, NULL));
}

/*
 * One durod per data directory: two would each start a worker for the
 * same object. The lock is held (fd kept open) for durod's life.
 */
static int
lock_data_dir(const char *data_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/durod.lock", data_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0 ||
	    flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "%.400s: %s", path,
		    errno == EWOULDBLOCK ? "another durod uses this data_dir"
		                         : strerror(errno));
		if (fd >= 0)
			close(fd);
		return (-1);
	}
	return (0);
}

static int
open_state(struct durod *d, char *err, size_t errlen)
{
	char path[PATH_MAX];

	if ((d->data_dir = make_dir(d->cfg->data_dir)) == NULL ||
	    (d->run_dir = make_dir(d->cfg->run_dir)) == NULL) {
		snprintf(err, errlen, "creating data_dir/run_dir: %s",
		    strerror(errno));
		return (-1);
	}
	if (lock_data_dir(d->data_dir, err, errlen) != 0)
		return (-1);
	snprintf(path, sizeof(path), "%s/registry.sqlite", d->data_dir);
	if ((d->reg = registry_open(path, err, errlen)) == NULL)
		return (-1);
	return (nsgen_keys(d->gen, d->reg, err, errlen));
}

/* The admin API takes a whole database in an import: up to the largest
 * storage_limit_mb (held in memory once, like any request body). */
static uint64_t
admin_max_body(const struct config *cfg)
{
	uint64_t mb = 1;

	for (size_t i = 0; i < cfg->nnamespaces; i++)
		if (cfg->namespaces[i].storage_limit_mb > mb)
			mb = cfg->namespaces[i].storage_limit_mb;
	return ((mb + 1) * 1024 * 1024);
}

static int
open_listeners(struct durod *d, char *err, size_t errlen)
{
	struct gateway_limits lim = {
	    .max_body_bytes = d->cfg->max_body_bytes,
	    .max_header_bytes = DURO_HEADER_LIMIT,
	    .header_timeout_s = 30,
	    .idle_timeout_s = 75,
	    .max_conns = 100000,
	};

	if ((d->gateway = gateway_open(d->loop, d->cfg->listen, &lim,
	         router_dispatch, d, err, errlen)) == NULL)
		return (-1);
	lim.max_body_bytes = admin_max_body(d->cfg);
	lim.max_conns = 256;
	if ((d->admin = gateway_open(d->loop, d->cfg->admin_listen, &lim,
	         admin_dispatch, d, err, errlen)) == NULL)
		return (-1);
	return (0);
}

/* What a live worker costs durod in descriptors (its nng socket's
 * listener and connection, with slack), and what is kept for clients,
 * the registry and logs. */
#define FDS_PER_WORKER 3
#define FDS_RESERVED 1024

/*
 * Workers hold descriptors in durod: allow as many as we may (once, at
 * start), and cap live workers at what fits, so running out shows as
 * capacity (LRU hibernation, then 503) rather than failed starts.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

void
durod_apply_limits(struct durod *d)
{
	struct rlimit rl;
	size_t fit;

	d->max_live = d->cfg->max_active_objects;
	gateway_set_max_body(d->gateway, d->cfg->max_body_bytes);
	gateway_set_max_body(d->admin, admin_max_body(d->cfg));
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	fit = rl.rlim_cur > FDS_RESERVED * 2
	          ? (rl.rlim_cur - FDS_RESERVED) / FDS_PER_WORKER
	          : rl.rlim_cur / (2 * FDS_PER_WORKER);
	if (fit < d->max_live) {
		log_warn(
		    "open files limit %llu fits %zu live workers, fewer than "
		    "max_active_objects (%zu): raise LimitNOFILE to allow more",
		    (unsigned long long)rl.rlim_cur, fit, d->max_live);
		d->max_live = fit > 0 ? fit : 1;
	}
}

void
durod_check_drained(struct durod *d)
{
	if (d->draining && d->nobjects == 0 && d->nws == 0 &&
	    gateway_nconns(d->gateway) == 0 && gateway_nconns(d->admin) == 0)
		ev_break(d->loop, EVBREAK_ALL);
}

static void
drain_hard(struct durod *d)
{
	log_warn("drain: stopping every worker now");
	d->draining_hard = 1;
	object_foreach(d, object_kill_hard);
	ws_free_all(d);
}

static void
durod_drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct durod *d = w->data;

	if (!d->draining_hard &&
	    ev_now(loop) - d->drain_started > d->drain_deadline)
		drain_hard(d);
	durod_check_drained(d);
}

static void
durod_hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct durod *d = w->data;

	if (!d->draining)
		durod_reload(d);
}

static void
durod_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct durod *d = w->data;
	double deadline = 5;

	if (d->draining) {
		if (!d->draining_hard)
			drain_hard(d);
		return;
	}
	log_info("signal %d: draining (again to stop at once)", w->signum);
	notify_send("STOPPING=1");
	d->draining = 1;
	d->drain_started = ev_now(loop);
	/* Long enough for the slowest event to finish or time out. */
	for (size_t i = 0; i < d->cfg->nnamespaces; i++) {
		const struct ns_config *c = &d->cfg->namespaces[i];
		double t = (c->start_timeout_ms + c->request_timeout_ms +
		               c->hibernate_grace_ms) /
		               1000.0 +
		           5;
		if (t > deadline)
			deadline = t;
	}
	d->drain_deadline = deadline;
	events_close(d->events);
	d->events = NULL;
	ws_close_all(d, 1001, "durod is shutting down", 0);
	gateway_drain(d->gateway);
	gateway_drain(d->admin);
	alarms_stop(d);
	object_foreach(d, object_hibernate);
	ev_timer_init(&d->drain_timer, durod_drain_cb, 0.02, 0.02);
	d->drain_timer.data = d;
	ev_timer_start(loop, &d->drain_timer);
	durod_check_drained(d);
}

/*
 * Before the loop sleeps: commit the registry's writes of this iteration
 * in one transaction (one fsync for all of them), then tell the workers
 * waiting on an alarm_sync whether their wake-ups are on disk.
 */
void
durod_flush(struct durod *d)
{
	alarm_flushed(d, registry_flush(d->reg) == 0);
}

static void
durod_flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	durod_flush(w->data);
}

/* On regsync's thread: wake the loop (ev_async_send is thread-safe). */
static void
durod_synced_wake(void *arg)
{
	struct durod *d = arg;

	ev_async_send(d->loop, &d->synced);
}

static void
durod_synced_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	alarm_synced(w->data);
}

static void
durod_free(struct durod *d)
{
	ws_free_all(d);
	if (d->gateway != NULL)
		gateway_close(d->gateway);
	if (d->admin != NULL)
		gateway_close(d->admin);
	alarms_close(d);
	if (d->dbjobs != NULL)
		dbjobs_close(d->dbjobs);
	regsync_close(d->regsync);
	registry_close(d->reg);
	restarts_free(d);
	metrics_free(d->metrics);
	if (d->kmsg > 0)
		close(d->kmsg);
	nsgen_unref(d->gen);
	free(d->data_dir);
	free(d->run_dir);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"check", no_argument, NULL, 'k'},
	    {"config", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	struct durod d = {0};
	struct config *cfg = NULL;
	const char *cfgpath = NULL;
	char err[512], path[PATH_MAX];
	int ch, check = 0;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (ch == 'c')
			cfgpath = optarg;
		else if (ch == 'k')
			check = 1;
		else
			usage();
	}
	if (cfgpath == NULL || optind != argc)
		usage();
	log_init("durod");
	d.cfg_path = cfgpath;
	sb_probe(&d.kernel);
	if (config_load(cfgpath, &cfg, err, sizeof(err)) == 0)
		log_set_json(strcmp(cfg->log_format, "json") == 0);
	if (cfg == NULL ||
	    (d.gen = nsgen_new(cfg, &d.kernel, err, sizeof(err))) == NULL) {
		/* I/O errors already name the file; parse errors name a path
		 * inside it. */
		if (strncmp(err, cfgpath, strlen(cfgpath)) == 0)
			fprintf(stderr, "durod: %s\n", err);
		else
			fprintf(stderr, "durod: %s: %s\n", cfgpath, err);
		durod_free(&d);
		return (2);
	}
	if (check) {
		printf("%s: ok\n", cfgpath);
		durod_free(&d);
		return (0);
	}
	d.cfg = d.gen->cfg;
	log_info("sandbox: the kernel has Landlock %s%.0d, seccomp filters %s",
	    d.kernel.landlock_abi > 0 ? "ABI " : "(none)",
	    d.kernel.landlock_abi, d.kernel.seccomp ? "yes" : "no");

	/* libev first: it must own SIGCHLD before nng starts any thread. */
	d.loop = ev_default_loop(EVFLAG_AUTO);
	d.pid = getpid();
	d.started = ev_time();
	if ((d.metrics = metrics_new()) == NULL ||
	    (d.events = events_open()) == NULL ||
	    (d.dbjobs = dbjobs_open(d.loop)) == NULL)
		fatalx("out of memory");
	TAILQ_INIT(&d.idle);
	TAILQ_INIT(&d.waiting);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (open_state(&d, err, sizeof(err)) != 0 ||
	    open_listeners(&d, err, sizeof(err)) != 0)
		fatalx("%s", err);
	durod_apply_limits(&d);
	if (worker_ipc_init(&d) != 0)
		fatalx("worker ipc: out of memory");
	d.kmsg = sb_audit_open();
	ev_async_init(&d.synced, durod_synced_cb);
	d.synced.data = &d;
	ev_async_start(d.loop, &d.synced);
	snprintf(path, sizeof(path), "%s/registry.sqlite-wal", d.data_dir);
	if ((d.regsync = regsync_open(
	         path, durod_synced_wake, &d, err, sizeof(err))) == NULL ||
	    alarms_open(&d, err, sizeof(err)) != 0)
		fatalx("%s", err);
	ev_prepare_init(&d.flush, durod_flush_cb);
	d.flush.data = &d;
	ev_prepare_start(d.loop, &d.flush);

	/* Until reloading lands, a SIGHUP (an init's reload, a closed
	 * terminal) must not end durod: say so and carry on. */
	ev_signal_init(&d.sig_hup, durod_hup_cb, SIGHUP);
	d.sig_hup.data = &d;
	ev_signal_start(d.loop, &d.sig_hup);
	ev_signal_init(&d.sig_term, durod_signal_cb, SIGTERM);
	ev_signal_init(&d.sig_int, durod_signal_cb, SIGINT);
	d.sig_term.data = d.sig_int.data = &d;
	ev_signal_start(d.loop, &d.sig_term);
	ev_signal_start(d.loop, &d.sig_int);
	log_info(
	    "ready: gateway on %s, admin on %s, %zu namespace(s), data in %s",
	    d.cfg->listen, d.cfg->admin_listen, d.cfg->nnamespaces, d.data_dir);
	/* Listeners open, registry and alarms loaded: durod can serve. */
	snprintf(path, sizeof(path), "READY=1\nMAINPID=%d", (int)getpid());
	notify_send(path);

	ev_run(d.loop, 0);

	log_info("drained: exiting");
	worker_ipc_fini(&d);
	durod_free(&d);
	return (0);
}
