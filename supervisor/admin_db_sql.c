/*
 * admin_db_sql.c — DBJOB_SQL: one read-only statement on an object's
 * database, its rows as JSON.
 *
 * Read-only holds in layers: the connection is SQLITE_OPEN_READONLY (its
 * descriptor cannot write db.sqlite), the authorizer allows only reading
 * (no ATTACH, no transactions, only pragmas from a list of inspections),
 * and sqlite3_stmt_readonly() must agree. A progress handler bounds the
 * time, and the body is written straight into one buffer with a size cap
 * rather than built as a cJSON tree: integers print exactly, text that is
 * not valid UTF-8 still makes valid JSON, and the cap is exact.
 */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "durod.h"

#define SQL_BODY_MAX (16 * 1024 * 1024)
#define SQL_TAIL_MAX 32       /* room kept for `],"truncated":false}` */
#define SQL_TIMEOUT_MS 5000   /* when the caller gave none */
#define SQL_PROGRESS_OPS 1000 /* VM steps between two looks at the clock */

/* The body being written; full when the next byte would pass max. */
struct jbuf {
	char *p;
	size_t len, cap, max;
};

struct sqlrun {
	struct dbjob *job;
	struct sqlite3 *db;
	sqlite3_stmt *stmt;
	uint32_t timeout_ms;
	uint64_t deadline;
	int timed_out;
	char denied[160]; /* why the authorizer said no */
	struct jbuf out;
};

/*
 * Pragmas that only inspect. arg: it may take an argument (a table name,
 * a row limit); the others only report a setting and, given a value,
 * would change it.
 */
static const struct sql_pragma {
	const char *name;
	int arg;
} sql_pragmas[] = {
    {"application_id", 0},
    {"collation_list", 0},
    {"compile_options", 0},
    {"data_version", 0},
    {"database_list", 0},
    {"encoding", 0},
    {"foreign_key_check", 1},
    {"foreign_key_list", 1},
    {"freelist_count", 0},
    {"function_list", 0},
    {"index_info", 1},
    {"index_list", 1},
    {"index_xinfo", 1},
    {"integrity_check", 1},
    {"module_list", 0},
    {"page_count", 0},
    {"page_size", 0},
    {"pragma_list", 0},
    {"quick_check", 1},
    {"schema_version", 0},
    {"table_info", 1},
    {"table_list", 1},
    {"table_xinfo", 1},
    {"user_version", 0},
};

/* What the authorizer refuses, named for the message. */
static const char *const sql_actions[] = {
    [SQLITE_CREATE_INDEX] = "CREATE INDEX",
    [SQLITE_CREATE_TABLE] = "CREATE TABLE",
    [SQLITE_CREATE_TEMP_INDEX] = "CREATE TEMP INDEX",
    [SQLITE_CREATE_TEMP_TABLE] = "CREATE TEMP TABLE",
    [SQLITE_CREATE_TEMP_TRIGGER] = "CREATE TEMP TRIGGER",
    [SQLITE_CREATE_TEMP_VIEW] = "CREATE TEMP VIEW",
    [SQLITE_CREATE_TRIGGER] = "CREATE TRIGGER",
    [SQLITE_CREATE_VIEW] = "CREATE VIEW",
    [SQLITE_DELETE] = "DELETE",
    [SQLITE_DROP_INDEX] = "DROP INDEX",
    [SQLITE_DROP_TABLE] = "DROP TABLE",
    [SQLITE_DROP_TEMP_INDEX] = "DROP TEMP INDEX",
    [SQLITE_DROP_TEMP_TABLE] = "DROP TEMP TABLE",
    [SQLITE_DROP_TEMP_TRIGGER] = "DROP TEMP TRIGGER",
    [SQLITE_DROP_TEMP_VIEW] = "DROP TEMP VIEW",
    [SQLITE_DROP_TRIGGER] = "DROP TRIGGER",
    [SQLITE_DROP_VIEW] = "DROP VIEW",
    [SQLITE_INSERT] = "INSERT",
    [SQLITE_TRANSACTION] = "a transaction",
    [SQLITE_UPDATE] = "UPDATE",
    [SQLITE_ATTACH] = "ATTACH",
    [SQLITE_DETACH] = "DETACH",
    [SQLITE_ALTER_TABLE] = "ALTER TABLE",
    [SQLITE_REINDEX] = "REINDEX",
    [SQLITE_ANALYZE] = "ANALYZE",
    [SQLITE_CREATE_VTABLE] = "CREATE VIRTUAL TABLE",
    [SQLITE_DROP_VTABLE] = "DROP VIRTUAL TABLE",
    [SQLITE_SAVEPOINT] = "a savepoint",
};

/* ---- the JSON body ---- */

/* 0, EFBIG (past the cap) or ENOMEM; the buffer is unchanged then. */
static int
jb_room(struct jbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (n > b->max - b->len)
		return (EFBIG);
	if (b->len + n <= b->cap)
		return (0);
	for (cap = b->cap ? b->cap : 4096; cap < b->len + n; cap *= 2)
		;
	if (cap > b->max)
		cap = b->max; /* at least len + n, checked above */
	if ((p = realloc(b->p, cap)) == NULL)
		return (ENOMEM);
	b->p = p;
	b->cap = cap;
	return (0);
}

static int
jb_put(struct jbuf *b, const char *s, size_t n)
{
	int rv;

	if ((rv = jb_room(b, n)) != 0)
		return (rv);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return (0);
}

static int
jb_str(struct jbuf *b, const char *s)
{
	return (jb_put(b, s, strlen(s)));
}

/* The length of the valid UTF-8 sequence at s, or 0: no overlong forms,
 * no surrogates, nothing past U+10FFFF. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t c;
	size_t len;

	if (s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return (0);
	if (len > n)
		return (0);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return (0);
	return (len);
}

/* A JSON string: SQLite text may hold any bytes, so NUL and control
 * characters are escaped and invalid UTF-8 becomes U+FFFD. */
static int
jb_text(struct jbuf *b, const unsigned char *s, size_t n)
{
	char esc[8];
	size_t i = 0, run, k;
	int rv;

	if ((rv = jb_put(b, "\"", 1)) != 0)
		return (rv);
	while (i < n) {
		for (run = i;
		     run < n && s[run] >= 0x20 && s[run] != '"' &&
		     s[run] != '\\' && (k = utf8_seq(s + run, n - run)) != 0;
		     run += k)
			;
		if (run > i &&
		    (rv = jb_put(b, (const char *)s + i, run - i)) != 0)
			return (rv);
		if ((i = run) == n)
			break;
		if (s[i] == '"' || s[i] == '\\')
			snprintf(esc, sizeof(esc), "\\%c", s[i]);
		else if (s[i] == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else if (s[i] == '\t')
			snprintf(esc, sizeof(esc), "\\t");
		else if (s[i] == '\r')
			snprintf(esc, sizeof(esc), "\\r");
		else if (s[i] < 0x20)
			snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
		else
			snprintf(esc, sizeof(esc), "\\ufffd");
		if ((rv = jb_str(b, esc)) != 0)
			return (rv);
		i++;
	}
	return (jb_put(b, "\"", 1));
}

static int
jb_blob(struct jbuf *b, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *p;
	int rv;

	if (n > SQL_BODY_MAX)
		return (EFBIG);
	if ((rv = jb_str(b, "{\"blob\":\"")) != 0 ||
	    (rv = jb_room(b, 2 * n)) != 0)
		return (rv);
	p = b->p + b->len;
	for (size_t i = 0; i < n; i++) {
		*p++ = hex[s[i] >> 4];
		*p++ = hex[s[i] & 15];
	}
	b->len += 2 * n;
	return (jb_str(b, "\"}"));
}

/* One value. Integers print exactly (a double would round past 2^53);
 * JSON has no infinities or NaN. */
static int
sql_value(struct sqlrun *r, int col)
{
	sqlite3_stmt *st = r->stmt;
	const unsigned char *p;
	char num[32];
	double v;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_INTEGER:
		snprintf(
		    num, sizeof(num), "%lld", sqlite3_column_int64(st, col));
		return (jb_str(&r->out, num));
	case SQLITE_FLOAT:
		if (!isfinite(v = sqlite3_column_double(st, col)))
			return (jb_str(&r->out, "null"));
		snprintf(num, sizeof(num), "%.17g", v);
		return (jb_str(&r->out, num));
	case SQLITE_TEXT:
		if ((p = sqlite3_column_text(st, col)) == NULL)
			return (ENOMEM);
		return (jb_text(&r->out, p, sqlite3_column_bytes(st, col)));
	case SQLITE_BLOB:
		p = sqlite3_column_blob(st, col);
		return (jb_blob(&r->out, p, sqlite3_column_bytes(st, col)));
	default:
		return (jb_str(&r->out, "null"));
	}
}

/* One row; a row that does not fit is taken back whole. */
static int
sql_row(struct sqlrun *r, int first)
{
	size_t mark = r->out.len;
	int rv, n = sqlite3_column_count(r->stmt);

	rv = jb_str(&r->out, first ? "[" : ",[");
	for (int i = 0; rv == 0 && i < n; i++)
		if ((rv = i > 0 ? jb_put(&r->out, ",", 1) : 0) == 0)
			rv = sql_value(r, i);
	if (rv == 0)
		rv = jb_put(&r->out, "]", 1);
	if (rv != 0)
		r->out.len = mark;
	return (rv);
}

static int
sql_columns(struct sqlrun *r)
{
	const char *name;
	int rv, n = sqlite3_column_count(r->stmt);

	rv = jb_str(&r->out, "{\"columns\":[");
	for (int i = 0; rv == 0 && i < n; i++) {
		if ((name = sqlite3_column_name(r->stmt, i)) == NULL)
			return (ENOMEM);
		if ((rv = i > 0 ? jb_put(&r->out, ",", 1) : 0) == 0)
			rv = jb_text(
			    &r->out, (const unsigned char *)name, strlen(name));
	}
	return (rv != 0 ? rv : jb_str(&r->out, "],\"rows\":["));
}

/* ---- the guards ---- */

static int
sql_progress_cb(void *arg)
{
	struct sqlrun *r = arg;

	if (dbjob_now_ms() < r->deadline)
		return (0);
	r->timed_out = 1;
	return (1);
}

static int
sql_schema_table(const char *name)
{
	return (name != NULL && (strcmp(name, "sqlite_master") == 0 ||
	                            strcmp(name, "sqlite_temp_master") == 0));
}

static int
sql_pragma_ok(const char *name, const char *arg)
{
	for (size_t i = 0; i < sizeof(sql_pragmas) / sizeof(sql_pragmas[0]);
	     i++)
		if (strcasecmp(name, sql_pragmas[i].name) == 0)
			return (arg == NULL || sql_pragmas[i].arg);
	return (0);
}

/*
 * Allow what reads and nothing else. Writes would fail on the read-only
 * connection anyway; refusing them here says why, and also refuses what
 * a read-only connection allows: ATTACH (a file anywhere, as root),
 * transactions, temp tables, pragmas that set things.
 */
static int
sql_authorize(void *arg, int action, const char *a1, const char *a2,
    const char *dbname, const char *trigger)
{
	struct sqlrun *r = arg;

	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_READ:
	case SQLITE_RECURSIVE:
	case SQLITE_FUNCTION:
		return (SQLITE_OK);
	case SQLITE_UPDATE:
		/*
		 * SQLite's own parse of a pragma function's table (SELECT ...
		 * FROM pragma_table_info('t')) asks for these. An UPDATE of
		 * the schema table by the query would still fail: defensive
		 * mode, sqlite3_stmt_readonly() and the read-only file.
		 */
		if (sql_schema_table(a1))
			return (SQLITE_OK);
		break;
	case SQLITE_PRAGMA:
		if (sql_pragma_ok(a1, a2))
			return (SQLITE_OK);
		snprintf(r->denied, sizeof(r->denied),
		    "PRAGMA %.64s%s is not allowed in a read-only query", a1,
		    a2 != NULL ? " with a value" : "");
		return (SQLITE_DENY);
	default:
		break;
	}
	if ((action == SQLITE_INSERT || action == SQLITE_DELETE) &&
	    sql_schema_table(a1))
		snprintf(r->denied, sizeof(r->denied),
		    "changing the schema is not allowed in a read-only query");
	else if (action >= 0 &&
	         (size_t)action < sizeof(sql_actions) / sizeof(*sql_actions) &&
	         sql_actions[action] != NULL)
		snprintf(r->denied, sizeof(r->denied),
		    "%s is not allowed in a read-only query",
		    sql_actions[action]);
	else
		snprintf(r->denied, sizeof(r->denied),
		    "only reading is allowed (action %d)", action);
	return (SQLITE_DENY);
}

/* ---- the query ---- */

/* A failed prepare or step, as the job's answer. */
static int
sql_fail(struct sqlrun *r, int rv)
{
	struct dbjob *job = r->job;
	int prim = rv & 0xff;

	if (r->timed_out || prim == SQLITE_INTERRUPT)
		return (dbjob_fail(job, 504, "timeout",
		    "the query ran past %u ms", r->timeout_ms));
	if (prim == SQLITE_BUSY)
		return (dbjob_fail(job, 504, "timeout",
		    "the database stayed locked past %u ms", r->timeout_ms));
	/* A denial fails the prepare, with SQLITE_AUTH or another code
	 * (SQLITE_SCHEMA for CREATE TABLE) and "not authorized". */
	if (r->denied[0] != '\0')
		return (dbjob_fail(job, 400, "not_read_only", "%s", r->denied));
	if (prim == SQLITE_NOMEM)
		return (dbjob_fail(job, 500, "internal", "out of memory"));
	/* The file's fault, not the query's. */
	if (prim == SQLITE_CANTOPEN || prim == SQLITE_IOERR ||
	    prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB ||
	    prim == SQLITE_READONLY || prim == SQLITE_PERM ||
	    prim == SQLITE_PROTOCOL)
		return (dbjob_fail(
		    job, 500, "storage", "%s", sqlite3_errmsg(r->db)));
	return (dbjob_fail(job, 400, "sql_error", "%s", sqlite3_errmsg(r->db)));
}

/* Exactly one statement: what follows it may be blanks, semicolons and
 * comments, which prepare to no statement at all. */
static int
sql_prepare(struct sqlrun *r)
{
	const char *tail, *p;
	sqlite3_stmt *next = NULL;
	int rv;

	rv = sqlite3_prepare_v2(r->db, r->job->sql, -1, &r->stmt, &tail);
	if (rv != SQLITE_OK)
		return (sql_fail(r, rv));
	if (r->stmt == NULL)
		return (dbjob_fail(r->job, 400, "sql_error", "no statement"));
	for (p = tail; *p == ';' || *p == ' ' || (*p >= '\t' && *p <= '\r');
	     p++)
		;
	if (*p != '\0') {
		rv = sqlite3_prepare_v2(r->db, p, -1, &next, NULL);
		sqlite3_finalize(next);
		if (rv != SQLITE_OK || next != NULL)
			return (dbjob_fail(
			    r->job, 400, "sql_error", "one statement only"));
	}
	if (!sqlite3_stmt_readonly(r->stmt))
		return (dbjob_fail(
		    r->job, 400, "not_read_only", "the statement would write"));
	return (0);
}

/* The rows, at most max_rows of them and as many as fit the body. */
static int
sql_rows(struct sqlrun *r, int *truncated)
{
	size_t n = 0, max = r->job->max_rows;
	int rv;

	*truncated = 0;
	while ((rv = sqlite3_step(r->stmt)) == SQLITE_ROW) {
		if (max != 0 && n == max) {
			*truncated = 1;
			return (0);
		}
		if ((rv = sql_row(r, n == 0)) == EFBIG) {
			*truncated = 1;
			return (0);
		}
		if (rv != 0)
			return (dbjob_fail(
			    r->job, 500, "internal", "out of memory"));
		n++;
	}
	if (rv == SQLITE_DONE)
		return (0);
	/* Past the last row we wanted, a failure only means "maybe more". */
	if (max != 0 && n == max) {
		*truncated = 1;
		return (0);
	}
	return (sql_fail(r, rv));
}

static int
sql_run(struct sqlrun *r)
{
	int rv, truncated;

	sqlite3_set_authorizer(r->db, sql_authorize, r);
	sqlite3_progress_handler(r->db, SQL_PROGRESS_OPS, sql_progress_cb, r);
	if (sql_prepare(r) != 0)
		return (-1);
	r->out.max = SQL_BODY_MAX - SQL_TAIL_MAX;
	if ((rv = sql_columns(r)) != 0)
		return (dbjob_fail(r->job, rv == EFBIG ? 400 : 500,
		    rv == EFBIG ? "sql_error" : "internal",
		    rv == EFBIG ? "the column names are too long"
		                : "out of memory"));
	if (sql_rows(r, &truncated) != 0)
		return (-1);
	/* The body is also a C string, for callers that prefer one. */
	r->out.max = SQL_BODY_MAX + 1;
	if (jb_str(&r->out, truncated ? "],\"truncated\":true}"
	                              : "],\"truncated\":false}") != 0 ||
	    jb_put(&r->out, "", 1) != 0)
		return (dbjob_fail(r->job, 500, "internal", "out of memory"));
	r->out.len--;
	return (0);
}

void
dbjob_sql(struct dbjob *job)
{
	struct sqlrun r;
	struct dbjob_dir d;

	memset(&r, 0, sizeof(r));
	r.job = job;
	r.timeout_ms = job->timeout_ms != 0 ? job->timeout_ms : SQL_TIMEOUT_MS;
	r.deadline = dbjob_now_ms() + r.timeout_ms;
	if (job->sql == NULL) {
		dbjob_fail(job, 400, "sql_error", "no statement");
		return;
	}
	if (dbjob_enter(job, &d) != 0)
		return;
	if (dbjob_open(job, &d, &r.deadline, &r.db) == 0 && sql_run(&r) == 0) {
		job->status = 200;
		job->body = r.out.p;
		job->body_len = r.out.len;
		r.out.p = NULL;
	}
	sqlite3_finalize(r.stmt);
	dbjob_close(job, r.db);
	dbjob_leave(&d);
	free(r.out.p);
}
