/*
 * ledger.c — the SQL example worker: a ledger of accounts per object.
 *
 *	GET  /                              {"accounts":[{"name":A,
 *	                                     "balance":N},...],"total":T}
 *	POST /deposit?account=A&amount=N    {"account":A,"balance":B}
 *	POST /transfer?from=A&to=B&amount=N {"from":{"account":A,
 *	                                     "balance":..},"to":{...}}
 *	GET  /history?limit=N               {"entries":[{"id":..,"at_ms":..,
 *	                                     "kind":"deposit"|"transfer",
 *	                                     "from":A|null,"to":B,
 *	                                     "amount":N},...]}
 *
 * Accounts are named by 1 to 64 letters, digits, '_', '-' or '.', and
 * come into being with their first deposit or incoming transfer. Amounts
 * are positive integers. History is newest first, limit 1..1000 (default
 * 20). Errors are JSON {"error": code, "message": ...}: 400 bad_request
 * for bad parameters (or a deposit that would take the ledger's total
 * past 2^63-1), 409 insufficient_funds, 404 for other paths, 405 for a
 * wrong method.
 *
 * The schema is created at startup, before duro_run(), where each call
 * commits by itself. In a request every call joins the event's one
 * transaction, which libduro commits before the reply leaves, or rolls
 * back if the handler fails. A CHECK (balance >= 0) constraint, not C
 * code, is what refuses an overdraft.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duro.h"

#define NAME_MAX_LEN 64
#define HISTORY_DEFAULT 20
#define HISTORY_MAX 1000

/*
 * STRICT tables refuse a value of the wrong type rather than storing it:
 * an INTEGER column never silently holds a REAL. Every balance is at most
 * the ledger's total, which deposits keep within int64 (ledger_deposit),
 * so no balance arithmetic can overflow.
 */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS accounts ("
    " name TEXT PRIMARY KEY,"
    " balance INTEGER NOT NULL CHECK (balance >= 0)"
    ") STRICT;"
    "CREATE TABLE IF NOT EXISTS history ("
    " id INTEGER PRIMARY KEY,"
    " at_ms INTEGER NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('deposit', 'transfer')),"
    " from_account TEXT,"
    " to_account TEXT NOT NULL,"
    " amount INTEGER NOT NULL CHECK (amount > 0)"
    ") STRICT;";

/*
 * Credit: create the account or add to it. Debit: an UPDATE (an upsert
 * would check the CHECK against the row it meant to insert, before
 * noticing the conflict), so it yields no row for a missing account.
 */
static const char sql_credit[] =
    "INSERT INTO accounts (name, balance) VALUES (?1, ?2)"
    " ON CONFLICT (name) DO UPDATE SET balance = balance + ?2"
    " RETURNING balance";
static const char sql_debit[] =
    "UPDATE accounts SET balance = balance - ?2 WHERE name = ?1"
    " RETURNING balance";
static const char sql_balance[] =
    "SELECT balance FROM accounts WHERE name = ?1";
static const char sql_total[] =
    "SELECT coalesce(sum(balance), 0) FROM accounts";
static const char sql_accounts[] =
    "SELECT name, balance FROM accounts ORDER BY name";
static const char sql_record[] =
    "INSERT INTO history (at_ms, kind, from_account, to_account, amount)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char sql_history[] =
    "SELECT id, at_ms, kind, from_account, to_account, amount"
    " FROM history ORDER BY id DESC LIMIT ?1";

/* ---- JSON replies ---- */

/* {namekey:name,"balance":balance}, or NULL when out of memory. */
static cJSON *
account_json(const char *namekey, const char *name, int64_t balance)
{
	cJSON *a = cJSON_CreateObject();

	if (a == NULL || cJSON_AddStringToObject(a, namekey, name) == NULL ||
	    duro_json_add_int(a, "balance", balance) != 0) {
		cJSON_Delete(a);
		return (NULL);
	}
	return (a);
}

/*
 * Fail the request after a storage error, with libduro's reason as the
 * message durod logs (the client gets 500, or 507 when storage is full).
 */
static int
storage_failed(struct duro *d, struct duro_response *resp)
{
	duro_response_error(resp, "%s", duro_storage_errmsg(d));
	return (-1);
}

/* ---- query parameters: NULL when good, or why not ---- */

/*
 * An integer of digits only, in [lo, hi]; *def when absent, or required
 * when def is NULL.
 */
static const char *
param_int(const struct duro_request *req, const char *key, int64_t lo,
    int64_t hi, const int64_t *def, int64_t *out)
{
	char buf[32], *end;
	long long v;
	int rv;

	rv = duro_query_param(req, key, buf, sizeof(buf));
	if (rv == DURO_ENOENT && def != NULL) {
		*out = *def;
		return (NULL);
	}
	if (rv == DURO_ENOENT)
		return ("missing");
	if (rv == DURO_ERANGE)
		return ("out of range");
	/* strtoll() would also take spaces, signs and an empty string. */
	if (rv != 0 || buf[0] < '0' || buf[0] > '9')
		return ("must be an integer");
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (*end != '\0')
		return ("must be an integer");
	if (errno == ERANGE || v < lo || v > hi)
		return ("out of range");
	*out = v;
	return (NULL);
}

static const char *
param_account(
    const struct duro_request *req, const char *key, char *buf, size_t buflen)
{
	int rv;

	if ((rv = duro_query_param(req, key, buf, buflen)) == DURO_ENOENT)
		return ("missing");
	if (rv != 0 || buf[0] == '\0' ||
	    strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                "0123456789_-.") != strlen(buf))
		return ("must be 1 to 64 of [A-Za-z0-9_.-]");
	return (NULL);
}

/* ---- storage ---- */

/*
 * Run a statement that yields one integer (its first column). Returns 0,
 * DURO_ENOENT when it yields no row, or the storage error.
 */
static int
sql_int(struct duro *d, const char *sql, const struct duro_sql_value *p,
    size_t n, int64_t *out)
{
	struct duro_sql_cursor *c;
	int rv;

	if ((rv = duro_sql_exec(d, &c, sql, p, n)) != 0)
		return (rv);
	if ((rv = duro_sql_next(c)) == 1)
		*out = duro_sql_column_int(c, 0);
	duro_sql_close(c);
	return (rv == 1 ? 0 : rv == 0 ? DURO_ENOENT : rv);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Append a history entry; from is NULL for a deposit. */
static int
history_record(struct duro *d, const char *kind, const char *from,
    const char *to, int64_t amount)
{
	struct duro_sql_value p[] = {DURO_ARG_INT(now_ms()), DURO_ARG_STR(kind),
	    from != NULL ? DURO_ARG_STR(from) : DURO_ARG_NULL(),
	    DURO_ARG_STR(to), DURO_ARG_INT(amount)};

	return (duro_sql_exec(d, NULL, sql_record, p, 5));
}

/* Run sql_credit or sql_debit for name; *balance is the new balance. */
static int
account_move(struct duro *d, const char *sql, const char *name, int64_t amount,
    int64_t *balance)
{
	struct duro_sql_value p[] = {DURO_ARG_STR(name), DURO_ARG_INT(amount)};

	return (sql_int(d, sql, p, 2, balance));
}

/* One row of a query, as JSON; NULL when out of memory. */
typedef cJSON *(*row_fn)(struct duro_sql_cursor *);

/*
 * Run the query sql and make {key:[one item per row]}. Returns NULL when
 * storage or memory failed.
 */
static cJSON *
rows_json(struct duro *d, const char *sql, const struct duro_sql_value *p,
    size_t n, const char *key, row_fn row)
{
	struct duro_sql_cursor *c;
	cJSON *o, *list = NULL;
	int rv = 0;

	if (duro_sql_exec(d, &c, sql, p, n) != 0)
		return (NULL);
	if ((o = cJSON_CreateObject()) == NULL ||
	    (list = cJSON_AddArrayToObject(o, key)) == NULL)
		rv = -1;
	while (rv == 0 && (rv = duro_sql_next(c)) == 1)
		rv = cJSON_AddItemToArray(list, row(c)) ? 0 : -1;
	duro_sql_close(c);
	if (rv != 0) {
		cJSON_Delete(o);
		return (NULL);
	}
	return (o);
}

static cJSON *
account_row(struct duro_sql_cursor *c)
{
	return (account_json("name", duro_sql_column_text(c, 0, NULL),
	    duro_sql_column_int(c, 1)));
}

/* ---- routes ---- */

static int
ledger_get(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	cJSON *o;
	int64_t total;

	o = rows_json(d, sql_accounts, NULL, 0, "accounts", account_row);
	if (o == NULL || sql_int(d, sql_total, NULL, 0, &total) != 0 ||
	    duro_json_add_int(o, "total", total) != 0) {
		cJSON_Delete(o);
		return (storage_failed(d, resp));
	}
	return (duro_response_cjson(resp, 200, o));
}

static int
ledger_deposit(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	char name[NAME_MAX_LEN + 1];
	int64_t amount, total, balance;
	const char *why;

	if ((why = param_account(req, "account", name, sizeof(name))) != NULL)
		return (duro_response_json_error(
		    resp, 400, "bad_request", "account: %s", why));
	if ((why = param_int(req, "amount", 1, INT64_MAX, NULL, &amount)) !=
	    NULL)
		return (duro_response_json_error(resp, 400, "bad_request",
		    "amount: %s (a positive integer)", why));
	/* Bounding the total bounds every balance (see the schema). */
	if (sql_int(d, sql_total, NULL, 0, &total) != 0)
		return (storage_failed(d, resp));
	if (amount > INT64_MAX - total)
		return (duro_response_json_error(resp, 400, "bad_request",
		    "the ledger's total %" PRId64 " + %" PRId64
		    " would overflow",
		    total, amount));
	if (account_move(d, sql_credit, name, amount, &balance) != 0 ||
	    history_record(d, "deposit", NULL, name, amount) != 0)
		return (storage_failed(d, resp));
	return (duro_response_cjson(
	    resp, 200, account_json("account", name, balance)));
}

/* The 409 after a refused debit: nothing was written, say what is there. */
static int
insufficient_funds(struct duro *d, struct duro_response *resp, const char *from,
    int64_t amount)
{
	struct duro_sql_value p[] = {DURO_ARG_STR(from)};
	int64_t balance = 0;
	int rv;

	if ((rv = sql_int(d, sql_balance, p, 1, &balance)) != 0 &&
	    rv != DURO_ENOENT)
		return (storage_failed(d, resp));
	return (duro_response_json_error(resp, 409, "insufficient_funds",
	    "%s has %" PRId64 ", the transfer needs %" PRId64, from, balance,
	    amount));
}

/* Parse from, to and amount: 0, or -1 with the 400 message in msg. */
static int
transfer_params(const struct duro_request *req, char *from, char *to,
    int64_t *amount, char *msg, size_t msglen)
{
	const char *why;

	if ((why = param_account(req, "from", from, NAME_MAX_LEN + 1)) != NULL)
		snprintf(msg, msglen, "from: %s", why);
	else if ((why = param_account(req, "to", to, NAME_MAX_LEN + 1)) != NULL)
		snprintf(msg, msglen, "to: %s", why);
	else if ((why = param_int(req, "amount", 1, INT64_MAX, NULL, amount)) !=
	         NULL)
		snprintf(msg, msglen, "amount: %s (a positive integer)", why);
	else if (strcmp(from, to) == 0)
		snprintf(msg, msglen, "from and to must differ");
	else
		return (0);
	return (-1);
}

/*
 * The debit comes first, and on purpose: it is the only write that can be
 * refused for a reason the client should see, and when it is, the event
 * has written nothing, so the 409 commits an empty transaction. An
 * overdraft fails the CHECK (balance >= 0) constraint: libduro returns
 * DURO_ECONSTRAINT and undoes just that statement. A missing account
 * matches no row: it has nothing to give either. Every later failure (the
 * credit cannot overflow: see the schema) makes the handler fail, and the
 * whole event, debit included, is rolled back; so no duro_transaction()
 * savepoint is needed.
 */
static int
ledger_transfer(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	char from[NAME_MAX_LEN + 1], to[NAME_MAX_LEN + 1], msg[128];
	int64_t amount, from_balance, to_balance;
	cJSON *o;
	int rv;

	if (transfer_params(req, from, to, &amount, msg, sizeof(msg)) != 0)
		return (duro_response_json_error(
		    resp, 400, "bad_request", "%s", msg));
	rv = account_move(d, sql_debit, from, amount, &from_balance);
	if (rv == DURO_ECONSTRAINT || rv == DURO_ENOENT)
		return (insufficient_funds(d, resp, from, amount));
	if (rv != 0 ||
	    account_move(d, sql_credit, to, amount, &to_balance) != 0 ||
	    history_record(d, "transfer", from, to, amount) != 0)
		return (storage_failed(d, resp));
	if ((o = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToObject(
	        o, "from", account_json("account", from, from_balance)) ||
	    !cJSON_AddItemToObject(
	        o, "to", account_json("account", to, to_balance))) {
		cJSON_Delete(o);
		return (-1);
	}
	return (duro_response_cjson(resp, 200, o));
}

static cJSON *
history_row(struct duro_sql_cursor *c)
{
	const char *from = duro_sql_column_text(c, 3, NULL);
	cJSON *e = cJSON_CreateObject();

	if (e == NULL ||
	    duro_json_add_int(e, "id", duro_sql_column_int(c, 0)) != 0 ||
	    duro_json_add_int(e, "at_ms", duro_sql_column_int(c, 1)) != 0 ||
	    cJSON_AddStringToObject(
	        e, "kind", duro_sql_column_text(c, 2, NULL)) == NULL ||
	    (from != NULL ? cJSON_AddStringToObject(e, "from", from)
	                  : cJSON_AddNullToObject(e, "from")) == NULL ||
	    cJSON_AddStringToObject(
	        e, "to", duro_sql_column_text(c, 4, NULL)) == NULL ||
	    duro_json_add_int(e, "amount", duro_sql_column_int(c, 5)) != 0) {
		cJSON_Delete(e);
		return (NULL);
	}
	return (e);
}

static int
ledger_history(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	static const int64_t def = HISTORY_DEFAULT;
	struct duro_sql_value p[1];
	const char *why;
	int64_t limit;
	cJSON *o;

	if ((why = param_int(req, "limit", 1, HISTORY_MAX, &def, &limit)) !=
	    NULL)
		return (duro_response_json_error(resp, 400, "bad_request",
		    "limit: %s (an integer in 1..%d)", why, HISTORY_MAX));
	p[0] = DURO_ARG_INT(limit);
	if ((o = rows_json(d, sql_history, p, 1, "entries", history_row)) ==
	    NULL)
		return (storage_failed(d, resp));
	return (duro_response_cjson(resp, 200, o));
}

typedef int (*route_fn)(
    struct duro *, const struct duro_request *, struct duro_response *);

static const struct route {
	const char *method;
	const char *path;
	route_fn fn;
} routes[] = {
    {"GET", "/", ledger_get},
    {"POST", "/deposit", ledger_deposit},
    {"POST", "/transfer", ledger_transfer},
    {"GET", "/history", ledger_history},
};

static int
ledger_request(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	const struct route *r;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		r = &routes[i];
		if (strcmp(req->path, r->path) != 0)
			continue;
		if (strcmp(req->method, r->method) == 0)
			return (r->fn(d, req, resp));
		duro_response_header(resp, "Allow", r->method);
		return (
		    duro_response_json_error(resp, 405, "method_not_allowed",
		        "%s %s: use %s", req->method, req->path, r->method));
	}
	return (duro_response_json_error(
	    resp, 404, "not_found", "no route %s", req->path));
}

int
main(void)
{
	struct duro *d;
	int rv;

	if ((rv = duro_open(&d)) != 0)
		return (duro_exit_status(rv));
	/* Outside a handler: the script commits when this returns. */
	if ((rv = duro_sql_exec(d, NULL, schema, NULL, 0)) != 0) {
		fprintf(stderr, "ledger: creating the schema: %s\n",
		    duro_storage_errmsg(d));
		duro_close(d);
		return (duro_exit_status(rv));
	}
	duro_on_request(d, ledger_request, NULL);
	if ((rv = duro_run(d)) != 0)
		fprintf(stderr, "ledger: %s\n", duro_strerror(rv));
	duro_close(d);
	return (duro_exit_status(rv));
}
