/*
 * storage_ops.c — what libduro's storage costs, measured through its
 * real API inside real events.
 *
 *	storage_ops [-a] [-n N] [-r ROUNDS] [-m M] [-k K] -d DIR [MODE...]
 *
 * MODE is FULL or NORMAL ($DURO_SYNCHRONOUS; default: FULL NORMAL, in
 * that order). For each mode, in DIR (which must exist and be empty of
 * our names; the caller removes it):
 *
 *  Opening storage (a fresh nng pair0 listener for each open, untimed;
 *  K of each kind, the four kinds interleaved):
 *   open_new        duro_open() for a brand-new object (its directory made
 *                   first, untimed, as durod does): lock, create the SQLite
 *                   file, WAL, settings, the KV table; and the nng socket
 *                   and dial.
 *   close_new       duro_close() of that object (last connection:
 *                   checkpoint, WAL removed).
 *   open_existing   duro_open() of an object that exists (closed cleanly
 *                   before); close_existing its duro_close().
 *   storage_open_new, storage_open_existing
 *                   the storage part alone: libduro's internal
 *                   duro_storage_open() (what duro_open() calls before it
 *                   touches nng), as tests/unit/test_storage.c does.
 *   open_first      (once per process, not per mode) the process's very
 *                   first duro_open(), of a new object (the one the
 *                   existing-object opens then use): nng and SQLite
 *                   initialise here, as in a freshly spawned worker.
 *
 *  Inside events: the real worker loop. This process plays durod: it
 *  listens on an nng pair0 socket, sets DURO_* as durod would, calls
 *  duro_open(), runs duro_run() on a second thread, and sends request
 *  events with ipc_send() (as tests/unit/test_storage.c does). Each event
 *  is one handler call, so all its storage calls are one transaction,
 *  committed by libduro after the handler returns and before the reply.
 *   kv_put          N x duro_kv_put(key "k<i>", a 16-byte value) in one
 *                   event, keys that exist (updates, each event new
 *                   values); us per op, timed inside the handler. The
 *                   first such event (inserts) is kv_put_first.
 *   kv_get          N x duro_kv_get() of those keys; us per op.
 *   sql_upsert      N x duro_sql_exec(NULL cursor, "INSERT INTO counters
 *                   (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO
 *                   UPDATE SET value = value + excluded.value", TEXT + INT
 *                   bound); us per op. First event (inserts):
 *                   sql_upsert_first (kv_get_first: a cold statement).
 *   *_evt_tail      for those events: from the handler's return to the
 *                   reply arriving here = COMMIT of N rows + sending the
 *                   reply.
 *   noop_rtt/tail   an event whose handler touches no storage (libduro
 *                   then runs no BEGIN/COMMIT): send -> reply, and handler
 *                   return -> reply (the reply's own cost).
 *   incr_rtt/tail   the counter's increment: duro_kv_get("value") +
 *                   duro_kv_put("value", n+1), one event. incr_tail -
 *                   noop_tail is the COMMIT of one small write. M each,
 *                   interleaved with the noop events.
 *  After the loop (duro_run() returned on hibernate), outside any handler:
 *   txn_incr        duro_transaction() around the same get+put: the whole
 *                   call, its last step being RELEASE, i.e. the commit.
 *   txn_get         duro_transaction() around one get (commits nothing).
 *                   txn_incr - txn_get cross-checks incr_tail - noop_tail.
 *   close_loaded    duro_close() after all that (checkpoint of the WAL).
 *
 * One JSON line per metric, {"bench":"<mode>.<metric>",...} (stats.h);
 * per-op metrics are in microseconds per operation, one sample per event.
 * -a adds every sample.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>

#include "duro.h"
#include "duro_impl.h" /* duro_storage_open(), for the storage-only opens */
#include "ipc_nng.h"
#include "stats.h"

#define OBJECT_ID                                                              \
	"00000000000000000000000000000000000000000000000000000000000b3e7c"
#define UPSERT_SQL                                                             \
	"INSERT INTO counters (name, value) VALUES (?1, ?2) "                  \
	"ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"
#define SCHEMA_SQL                                                             \
	"CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, "         \
	"value INTEGER NOT NULL)"

static const char *dir;
static unsigned seq; /* unique names in dir */
static int nops = 10000;

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "storage_ops: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
check(const char *what, int rv, struct duro *d)
{
	if (rv != 0)
		die("%s: %s (%s)", what, duro_strerror(rv),
		    d != NULL ? duro_storage_errmsg(d) : "");
}

static void
nng_check(const char *what, int rv)
{
	if (rv != 0)
		die("%s: %s", what, nng_strerror(rv));
}

/* ---- samples ---- */

struct samples {
	uint64_t *v;
	size_t n, cap;
};

static void
add(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		if ((s->v = realloc(s->v, s->cap * sizeof(*s->v))) == NULL)
			die("out of memory");
	}
	s->v[s->n++] = ns;
}

static void
emit(const char *mode, const char *metric, struct samples *s)
{
	char name[96];

	snprintf(name, sizeof(name), "%s.%s", mode, metric);
	print_summary(name, s->v, s->n);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- durod's side: a listener, and the object's environment ---- */

struct peer {
	nng_socket l;
	char sock[256];
	char objdir[256];
	char storage[300];
};

/* A new object directory and a listener for its worker; DURO_* set. */
static void
peer_open(struct peer *p, const char *objdir_or_null)
{
	char url[300];

	snprintf(p->sock, sizeof(p->sock), "%s/w%u.sock", dir, seq++);
	if (objdir_or_null != NULL)
		snprintf(p->objdir, sizeof(p->objdir), "%s", objdir_or_null);
	else {
		snprintf(p->objdir, sizeof(p->objdir), "%s/obj%u", dir, seq++);
		if (mkdir(p->objdir, 0700) != 0)
			die("mkdir %s: %s", p->objdir, strerror(errno));
	}
	snprintf(p->storage, sizeof(p->storage), "%s/db.sqlite", p->objdir);
	snprintf(url, sizeof(url), "ipc://%s", p->sock);
	nng_check("nng_pair0_open", nng_pair0_open(&p->l));
	nng_check("RECVMAXSZ",
	    nng_socket_set_size(p->l, NNG_OPT_RECVMAXSZ, IPC_MAX_FRAME_BYTES));
	nng_check(
	    "RECVTIMEO", nng_socket_set_ms(p->l, NNG_OPT_RECVTIMEO, 60000));
	nng_check("nng_listen", nng_listen(p->l, url, NULL, 0));
	setenv("DURO_IPC", url, 1);
	setenv("DURO_NAMESPACE", "bench", 1);
	setenv("DURO_OBJECT_ID", OBJECT_ID, 1);
	setenv("DURO_OBJECT_NAME", "bench", 1);
	setenv("DURO_PROTOCOL", "1", 1);
	setenv("DURO_STORAGE", p->storage, 1);
}

static void
peer_close(struct peer *p)
{
	nng_close(p->l);
	unlink(p->sock);
}

/* ---- opening ---- */

/*
 * Open (duro_open(), or with storage_only the storage alone, as
 * test_storage.c's storage_new() does) and close one object: a new one
 * (its directory made first, untimed) or the one in objdir. Its
 * directory is left in objdir.
 */
static void
open_one(int storage_only, char *objdir, uint64_t *open_ns, uint64_t *close_ns)
{
	struct duro *d;
	struct peer p;
	uint64_t t0;

	peer_open(&p, objdir[0] != '\0' ? objdir : NULL);
	if (storage_only) {
		if ((d = calloc(1, sizeof(*d))) == NULL ||
		    (d->storage = strdup(p.storage)) == NULL)
			die("out of memory");
		d->gone[0] = d->gone[1] = -1;
		d->st.lock_fd = -1;
		t0 = now_ns();
		check("duro_storage_open", duro_storage_open(d), d);
	} else {
		t0 = now_ns();
		check("duro_open", duro_open(&d), NULL);
	}
	*open_ns = now_ns() - t0;
	t0 = now_ns();
	duro_close(d);
	*close_ns = now_ns() - t0;
	peer_close(&p);
	snprintf(objdir, 256, "%s", p.objdir);
}

static void
bench_open(const char *mode, int k, int first_of_process)
{
	/* [new][storage_only] */
	struct samples opens[2][2] = {{{0}}}, closes[2][2] = {{{0}}};
	char existing[256] = "", objdir[256];
	uint64_t o, c;

	/* The existing object, made once: the process's first duro_open(). */
	open_one(0, existing, &o, &c);
	if (first_of_process) {
		struct samples s = {0};

		add(&s, o);
		emit("process", "open_first", &s);
	}
	/*
	 * The four kinds interleaved, in an order that turns round every
	 * time: a close's fsyncs and unlinks may still be settling in the
	 * filesystem's journal when the next open syncs, and each kind
	 * should inherit that as often as the others.
	 */
	for (int i = 0; i < k; i++) {
		for (int j = 0; j < 4; j++) {
			int kind = (i + j) % 4, isnew = kind < 2, so = kind % 2;

			if (isnew)
				objdir[0] = '\0';
			else
				snprintf(
				    objdir, sizeof(objdir), "%s", existing);
			open_one(so, objdir, &o, &c);
			add(&opens[isnew][so], o);
			add(&closes[isnew][so], c);
		}
	}
	emit(mode, "open_new", &opens[1][0]);
	emit(mode, "close_new", &closes[1][0]);
	emit(mode, "open_existing", &opens[0][0]);
	emit(mode, "close_existing", &closes[0][0]);
	emit(mode, "storage_open_new", &opens[1][1]);
	emit(mode, "storage_open_existing", &opens[0][1]);
	free(closes[1][1].v);
	free(closes[0][1].v);
}

/* ---- the worker side: the handler ---- */

enum op { OP_NOOP, OP_INCR, OP_KV_PUT, OP_KV_GET, OP_SQL_UPSERT };

/* Written by the handler thread, read here once its reply has arrived. */
static uint64_t h_loop_ns, h_end_ns;

static int
key_of(char *buf, size_t len, int i)
{
	return (snprintf(buf, len, "k%06d", i));
}

static int
op_incr(struct duro *d)
{
	char digits[24];
	long long v = 0;
	size_t len;
	void *val;
	int rv, n;

	rv = duro_kv_get(d, "value", 5, &val, &len);
	if (rv == 0) {
		if (len >= sizeof(digits))
			len = sizeof(digits) - 1;
		memcpy(digits, val, len);
		digits[len] = '\0';
		free(val);
		v = strtoll(digits, NULL, 10);
	} else if (rv != DURO_ENOENT)
		return (rv);
	n = snprintf(digits, sizeof(digits), "%lld", v + 1);
	return (duro_kv_put(d, "value", 5, digits, (size_t)n));
}

static int
run_op(struct duro *d, enum op op)
{
	/*
	 * Every event writes new values: SQLite does not even dirty a page
	 * when an update leaves a row's bytes as they were, so rewriting the
	 * same values would make the COMMIT write nothing.
	 */
	static unsigned gen;
	char key[16], value[17];
	size_t len;
	void *v;
	int rv = 0, klen;

	switch (op) {
	case OP_NOOP:
		return (0);
	case OP_INCR:
		return (op_incr(d));
	case OP_KV_PUT:
		gen++;
		for (int i = 0; i < nops && rv == 0; i++) {
			klen = key_of(key, sizeof(key), i);
			snprintf(
			    value, sizeof(value), "%08x%08x", gen, (unsigned)i);
			rv = duro_kv_put(d, key, (size_t)klen, value, 16);
		}
		return (rv);
	case OP_KV_GET:
		for (int i = 0; i < nops && rv == 0; i++) {
			klen = key_of(key, sizeof(key), i);
			if ((rv = duro_kv_get(
			         d, key, (size_t)klen, &v, &len)) == 0)
				free(v);
		}
		return (rv);
	case OP_SQL_UPSERT:
		for (int i = 0; i < nops && rv == 0; i++) {
			struct duro_sql_value p[2];

			klen = key_of(key, sizeof(key), i);
			p[0] = DURO_ARG_TEXT(key, (size_t)klen);
			p[1] = DURO_ARG_INT(1);
			rv = duro_sql_exec(d, NULL, UPSERT_SQL, p, 2);
		}
		return (rv);
	}
	return (DURO_EINVAL);
}

static int
handler(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	enum op op = (enum op)atoi(req->path + 1);
	uint64_t t0 = now_ns(), t1;
	int rv;

	(void)arg;
	rv = run_op(d, op);
	t1 = now_ns();
	if (rv != 0) {
		duro_response_error(resp, "op %d: %s (%s)", (int)op,
		    duro_strerror(rv), duro_storage_errmsg(d));
		return (-1);
	}
	duro_response_body(resp, "ok", 2);
	__atomic_store_n(&h_loop_ns, t1 - t0, __ATOMIC_RELAXED);
	__atomic_store_n(&h_end_ns, now_ns(), __ATOMIC_RELEASE);
	return (0);
}

static void *
run_thread(void *arg)
{
	struct duro *d = arg;
	int rv;

	if ((rv = duro_run(d)) != 0)
		die("duro_run: %s", duro_strerror(rv));
	return (NULL);
}

/* ---- durod's side: events ---- */

struct event_times {
	uint64_t rtt, tail, loop;
};

static struct event_times
event(struct peer *p, enum op op)
{
	static uint64_t id;
	struct event_times t;
	struct ipc_msg req, m;
	char path[16], err[128];
	uint64_t t0, t1;
	int rv;

	snprintf(path, sizeof(path), "/%d", (int)op);
	memset(&req, 0, sizeof(req));
	req.type = IPC_REQUEST;
	req.id = ++id;
	req.method = "POST";
	req.path = path;
	req.query = "";
	t0 = now_ns();
	nng_check("ipc_send", ipc_send(p->l, &req, 0));
	if ((rv = ipc_recv(p->l, &m, 0, err, sizeof(err))) != 0)
		die("ipc_recv: %s", rv > 0 ? nng_strerror(rv) : err);
	t1 = now_ns();
	if (m.type != IPC_RESPONSE || m.id != req.id)
		die("event %d: got a %s (%s: %s)", (int)op, m.type_name,
		    m.code ? m.code : "", m.message ? m.message : "");
	ipc_recv_done(&m);
	t.rtt = t1 - t0;
	t.tail = t1 - __atomic_load_n(&h_end_ns, __ATOMIC_ACQUIRE);
	t.loop = __atomic_load_n(&h_loop_ns, __ATOMIC_RELAXED);
	return (t);
}

static int
txn_fn(struct duro *d, void *arg)
{
	return (run_op(d, *(enum op *)arg));
}

static void
bench_events(const char *mode, int rounds, int m)
{
	static const char *big_name[] = {[OP_KV_PUT] = "kv_put",
	    [OP_KV_GET] = "kv_get",
	    [OP_SQL_UPSERT] = "sql_upsert"};
	static const enum op big[] = {OP_KV_PUT, OP_KV_GET, OP_SQL_UPSERT};
	struct samples per_op[5] = {{0}}, tail[5] = {{0}}, first[5] = {{0}},
	               noop_rtt = {0}, noop_tail = {0}, incr_rtt = {0},
	               incr_tail = {0}, txn_incr = {0}, txn_get = {0},
	               close_loaded = {0};
	struct event_times t;
	struct ipc_msg msg;
	struct duro *d;
	struct peer p;
	pthread_t th;
	char err[128], name[64];
	uint64_t t0;

	peer_open(&p, NULL);
	check("duro_open", duro_open(&d), NULL);
	/* Outside a handler: its own transaction. */
	check("schema", duro_sql_exec(d, NULL, SCHEMA_SQL, NULL, 0), d);
	check("duro_on_request", duro_on_request(d, handler, NULL), d);
	if (pthread_create(&th, NULL, run_thread, d) != 0)
		die("pthread_create");
	if (ipc_recv(p.l, &msg, 0, err, sizeof(err)) != 0 ||
	    msg.type != IPC_READY)
		die("no ready from the worker");
	ipc_recv_done(&msg);

	/* Warm-up; the big events' first run inserts their N rows. */
	event(&p, OP_NOOP);
	event(&p, OP_INCR);
	for (size_t b = 0; b < sizeof(big) / sizeof(big[0]); b++) {
		t = event(&p, big[b]);
		add(&first[big[b]], t.loop / (uint64_t)nops);
	}
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < m; i++) {
			t = event(&p, OP_NOOP);
			add(&noop_rtt, t.rtt);
			add(&noop_tail, t.tail);
			t = event(&p, OP_INCR);
			add(&incr_rtt, t.rtt);
			add(&incr_tail, t.tail);
		}
		for (size_t b = 0; b < sizeof(big) / sizeof(big[0]); b++) {
			t = event(&p, big[b]);
			add(&per_op[big[b]], t.loop / (uint64_t)nops);
			add(&tail[big[b]], t.tail);
		}
	}

	/* Hibernate: duro_run() returns 0 and the thread ends. */
	memset(&msg, 0, sizeof(msg));
	msg.type = IPC_HIBERNATE;
	nng_check("ipc_send hibernate", ipc_send(p.l, &msg, 0));
	pthread_join(th, NULL);

	/* Outside events: duro_transaction(), main thread. */
	for (int i = 0; i < m; i++) {
		enum op op = OP_KV_GET;
		int saved = nops;

		nops = 1;
		t0 = now_ns();
		check("duro_transaction (get)",
		    duro_transaction(d, txn_fn, &op), d);
		add(&txn_get, now_ns() - t0);
		nops = saved;
		op = OP_INCR;
		t0 = now_ns();
		check("duro_transaction (incr)",
		    duro_transaction(d, txn_fn, &op), d);
		add(&txn_incr, now_ns() - t0);
	}
	t0 = now_ns();
	duro_close(d);
	add(&close_loaded, now_ns() - t0);
	peer_close(&p);

	emit(mode, "noop_rtt", &noop_rtt);
	emit(mode, "noop_tail", &noop_tail);
	emit(mode, "incr_rtt", &incr_rtt);
	emit(mode, "incr_tail", &incr_tail);
	for (size_t b = 0; b < sizeof(big) / sizeof(big[0]); b++) {
		/* One sample per event: its ns per op, so the "us" of
		 * print_summary are us per op. */
		snprintf(name, sizeof(name), "%s_op", big_name[big[b]]);
		emit(mode, name, &per_op[big[b]]);
		snprintf(name, sizeof(name), "%s_first_op", big_name[big[b]]);
		emit(mode, name, &first[big[b]]);
		snprintf(name, sizeof(name), "%s_evt_tail", big_name[big[b]]);
		emit(mode, name, &tail[big[b]]);
	}
	emit(mode, "txn_get", &txn_get);
	emit(mode, "txn_incr", &txn_incr);
	emit(mode, "close_loaded", &close_loaded);
}

int
main(int argc, char **argv)
{
	int c, rounds = 3, m = 100, k = 20, first = 1;

	while ((c = getopt(argc, argv, "an:r:m:k:d:")) != -1) {
		switch (c) {
		case 'a':
			stats_all_samples = 1;
			break;
		case 'n':
			nops = atoi(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'm':
			m = atoi(optarg);
			break;
		case 'k':
			k = atoi(optarg);
			break;
		case 'd':
			dir = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (dir == NULL || nops < 1 || rounds < 1 || m < 1 || k < 2)
		goto usage;
	if (optind == argc) {
		static char *both[] = {"FULL", "NORMAL"};

		argv = both;
		argc = 2;
		optind = 0;
	}
	unsetenv("DURO_STORAGE_LIMIT_MB");
	for (int i = optind; i < argc; i++) {
		char mode[16];

		if (strcasecmp(argv[i], "FULL") != 0 &&
		    strcasecmp(argv[i], "NORMAL") != 0)
			goto usage;
		setenv("DURO_SYNCHRONOUS", argv[i], 1);
		snprintf(mode, sizeof(mode), "%s", argv[i]);
		for (char *s = mode; *s; s++)
			*s = (char)(*s | 0x20);
		bench_open(mode, k, first);
		first = 0;
		bench_events(mode, rounds, m);
	}
	return (0);
usage:
	fprintf(stderr, "usage: storage_ops [-a] [-n N] [-r ROUNDS] [-m M] "
	                "[-k K] -d DIR [FULL|NORMAL...]\n");
	return (2);
}
