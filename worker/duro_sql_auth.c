/*
 * duro_sql_auth.c — what duro_sql_exec() refuses, decided by SQLite's
 * authorizer while it compiles a statement.
 *
 * The SDK promises that an event's writes commit together or not at all,
 * that the storage limit holds, and that KV data is only changed through
 * the KV API. SQL that ends transactions, attaches other files, changes
 * how the file is journaled, synced or sized, or touches the SDK's _duro_*
 * tables would break those promises, so it is refused. Matching SQL text
 * would miss comments, quoting, views and triggers; the authorizer sees
 * every table a statement (or a view or trigger it runs) reads or writes.
 * It is not a sandbox: the worker's own code can open the file itself.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "duro_impl.h"

/* PRAGMAs that only read, and may name a table. */
static const char *const pragma_table[] = {"table_info", "table_xinfo",
    "index_list", "index_info", "index_xinfo", "foreign_key_list",
    "foreign_key_check", "integrity_check", "quick_check", NULL};
/* PRAGMAs allowed only as queries (no value). */
static const char *const pragma_query[] = {"page_count", "page_size",
    "freelist_count", "max_page_count", "schema_version", "data_version",
    "encoding", "journal_mode", "synchronous", "foreign_keys",
    "compile_options", "collation_list", "function_list", "module_list",
    "pragma_list", "table_list", "database_list", NULL};
/* PRAGMAs that may also be set: both are part of the transaction. */
static const char *const pragma_set[] = {
    "user_version", "defer_foreign_keys", NULL};

static int
in_list(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcasecmp(*list, name) == 0)
			return (1);
	return (0);
}

static int
reserved(const char *name)
{
	return (name != NULL && strncasecmp(name, "_duro_", 6) == 0);
}

static int deny(struct duro_storage *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Refuse, keeping why for duro_storage_fail(). */
static int
deny(struct duro_storage *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->denied_buf, sizeof(st->denied_buf), fmt, ap);
	va_end(ap);
	st->denied = st->denied_buf;
	return (SQLITE_DENY);
}

static int
auth_pragma(struct duro_storage *st, const char *name, const char *value)
{
	if (in_list(pragma_set, name))
		return (SQLITE_OK);
	if (in_list(pragma_table, name)) {
		if (reserved(value))
			return (deny(st,
			    "%s is reserved by the SDK (use the KV API)",
			    value));
		return (SQLITE_OK);
	}
	if (value == NULL && in_list(pragma_query, name))
		return (SQLITE_OK);
	return (deny(st,
	    "PRAGMA %s is not allowed (schema queries such as table_info "
	    "are; see duro_sql_exec in duro.h)",
	    name));
}

int
duro_sql_authorize(void *arg, int action, const char *a1, const char *a2,
    const char *db, const char *inner)
{
	struct duro_storage *st = arg;

	if (st->internal > 0)
		return (SQLITE_OK);
	switch (action) {
	case SQLITE_TRANSACTION:
	case SQLITE_SAVEPOINT:
		return (deny(st,
		    "%s: an event is one transaction; use duro_transaction() "
		    "for a part that may roll back",
		    action == SQLITE_TRANSACTION ? "BEGIN/COMMIT/ROLLBACK"
		                                 : "SAVEPOINT/RELEASE"));
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		return (deny(st, "%s: only the object's own database is open",
		    action == SQLITE_ATTACH ? "ATTACH" : "DETACH"));
	case SQLITE_PRAGMA:
		return (auth_pragma(st, a1, a2));
	case SQLITE_FUNCTION:
		/* Off already (sqlite3_db_config); refused here in case. */
		if (a2 != NULL && strcasecmp(a2, "load_extension") == 0)
			return (deny(st, "%s() is not allowed", a2));
		return (SQLITE_OK);
	case SQLITE_READ:
	case SQLITE_UPDATE:
		/* a1 is the table, a2 a column. */
		a2 = NULL;
		break;
	case SQLITE_ALTER_TABLE:
		/* a1 is the schema, a2 the table. */
		a1 = NULL;
		break;
	default:
		/* CREATE, DROP, INSERT, DELETE, ...: the object, its table. */
		break;
	}
	if (reserved(a1) || reserved(a2))
		return (deny(st, "%s is reserved by the SDK (use the KV API)",
		    reserved(a1) ? a1 : a2));
	return (SQLITE_OK);
}
