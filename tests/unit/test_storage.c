/*
 * test_storage.c — libduro's storage against a real SQLite file.
 *
 * Most tests open the storage alone (no durod: a struct duro with only
 * its storage, as duro_open() would leave it) and drive events with the
 * internal duro_storage_event_begin/end. The tests of what goes out on
 * the wire run the real loop against the stand-in for durod of
 * fake_durod.c, as test_libduro does: the worker thread records, the
 * test thread asserts.
 */
#include <sys/file.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "duro.h"
#include "duro_impl.h"
#include "fake_durod.h"
#include "ipc_nng.h"

#define MiB (1024 * 1024)

struct fixture {
	struct fake_durod fake; /* first: see fake_durod.h */
	int seen_rv;            /* what a handler's storage call returned */
};

static int
setup(void **state)
{
	return (fake_durod_setup(state, sizeof(struct fixture)));
}

static void
put_str(struct duro *d, const char *k, const char *v)
{
	assert_int_equal(duro_kv_put(d, k, strlen(k), v, strlen(v)), 0);
}

/* Assert key k holds v (NULL: absent). */
static void
expect_kv(struct duro *d, const void *k, size_t klen, const char *v)
{
	void *got;
	size_t len;
	int rv = duro_kv_get(d, k, klen, &got, &len);

	if (v == NULL) {
		assert_int_equal(rv, DURO_ENOENT);
		assert_null(got);
		return;
	}
	assert_int_equal(rv, 0);
	assert_int_equal(len, strlen(v));
	assert_memory_equal(got, v, len);
	free(got);
}

static void
expect_str(struct duro *d, const char *k, const char *v)
{
	expect_kv(d, k, strlen(k), v);
}

/* ---- KV ---- */

static void
test_kv_single(void **state)
{
	static const uint8_t bin[] = {0, 1, 0xff, 0};
	struct duro *d = fake_durod_storage_open(*state);
	void *v;
	size_t len;

	expect_str(d, "a", NULL);
	put_str(d, "a", "1");
	expect_str(d, "a", "1");
	put_str(d, "a", "two");
	expect_str(d, "a", "two");
	/* Binary keys and values, an empty value, the empty key. */
	assert_int_equal(duro_kv_put(d, bin, 4, bin, 4), 0);
	assert_int_equal(duro_kv_get(d, bin, 4, &v, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(v, bin, 4);
	free(v);
	assert_int_equal(duro_kv_get(d, bin, 3, &v, &len), DURO_ENOENT);
	put_str(d, "empty", "");
	assert_int_equal(duro_kv_get(d, "empty", 5, &v, &len), 0);
	assert_non_null(v);
	assert_int_equal(len, 0);
	free(v);
	assert_int_equal(duro_kv_put(d, NULL, 0, "e", 1), 0);
	expect_kv(d, "", 0, "e");
	/* Delete: present or not, 0. */
	assert_int_equal(duro_kv_delete(d, "a", 1), 0);
	assert_int_equal(duro_kv_delete(d, "a", 1), 0);
	expect_str(d, "a", NULL);
	assert_int_equal(duro_kv_put(d, NULL, 1, "x", 1), DURO_EINVAL);
	assert_int_equal(duro_kv_put(d, "k", 1, NULL, 1), DURO_EINVAL);
}

static void
test_kv_batch(void **state)
{
	struct duro *d = fake_durod_storage_open(*state);
	struct duro_kv_pair pairs[DURO_KV_MAX_BATCH + 1];
	struct duro_kv_key keys[DURO_KV_MAX_BATCH + 1];
	char names[DURO_KV_MAX_BATCH + 1][8];
	struct duro_kv_items out;
	size_t n;

	for (int i = 0; i <= DURO_KV_MAX_BATCH; i++) {
		snprintf(names[i], sizeof(names[i]), "k%03d", i);
		pairs[i] = (struct duro_kv_pair){names[i], 4, names[i], 4};
		keys[i] = (struct duro_kv_key){names[i], 4};
	}
	/* 129 is refused and writes nothing; 128 is fine. */
	assert_int_equal(
	    duro_kv_put_batch(d, pairs, DURO_KV_MAX_BATCH + 1), DURO_ERANGE);
	assert_non_null(strstr(duro_storage_errmsg(d), "128"));
	expect_str(d, "k000", NULL);
	assert_int_equal(duro_kv_put_batch(d, pairs, DURO_KV_MAX_BATCH), 0);
	expect_str(d, "k127", "k127");
	expect_str(d, "k128", NULL);

	assert_int_equal(
	    duro_kv_get_batch(d, keys, DURO_KV_MAX_BATCH + 1, &out),
	    DURO_ERANGE);
	assert_int_equal(out.n, 0);
	/* Order kept, absent keys reported, repeats fine. */
	keys[1] = (struct duro_kv_key){"nope", 4};
	keys[2] = keys[0];
	assert_int_equal(duro_kv_get_batch(d, keys, 3, &out), 0);
	assert_int_equal(out.n, 3);
	assert_true(out.items[0].found);
	assert_memory_equal(out.items[0].value, "k000", 4);
	assert_false(out.items[1].found);
	assert_null(out.items[1].value);
	assert_memory_equal(out.items[1].key, "nope", 4);
	assert_true(out.items[2].found);
	duro_kv_items_free(&out);
	assert_null(out.items);

	assert_int_equal(
	    duro_kv_delete_batch(d, keys, DURO_KV_MAX_BATCH + 1, &n),
	    DURO_ERANGE);
	expect_str(d, "k000", "k000");
	assert_int_equal(duro_kv_delete_batch(d, keys, 4, &n), 0);
	assert_int_equal(n, 2); /* k000 (once), k003; not "nope" */
	expect_str(d, "k000", NULL);
	expect_str(d, "k003", NULL);
	expect_str(d, "k004", "k004");

	/* A bad pair anywhere: nothing of the batch is written. */
	pairs[0] = (struct duro_kv_pair){"new", 3, "v", 1};
	pairs[1] = (struct duro_kv_pair){"big", 3, NULL, 0};
	pairs[1].value_len = DURO_KV_MAX_BYTES;
	pairs[1].value = malloc(DURO_KV_MAX_BYTES);
	assert_int_equal(duro_kv_put_batch(d, pairs, 2), DURO_ERANGE);
	free((void *)pairs[1].value);
	expect_str(d, "new", NULL);
	assert_int_equal(duro_kv_put_batch(d, NULL, 0), 0);
}

static void
test_kv_size_limits(void **state)
{
	struct duro *d = fake_durod_storage_open(*state);
	uint8_t *big = malloc(DURO_KV_MAX_BYTES + 1);
	void *v;
	size_t len;

	assert_non_null(big);
	memset(big, 0xab, DURO_KV_MAX_BYTES + 1);
	/* key + value == 2 MiB fits; one byte more does not. */
	assert_int_equal(
	    duro_kv_put(d, "key", 3, big, DURO_KV_MAX_BYTES - 3), 0);
	assert_int_equal(duro_kv_get(d, "key", 3, &v, &len), 0);
	assert_int_equal(len, DURO_KV_MAX_BYTES - 3);
	assert_memory_equal(v, big, len);
	free(v);
	assert_int_equal(
	    duro_kv_put(d, "key", 3, big, DURO_KV_MAX_BYTES - 2), DURO_ERANGE);
	assert_non_null(strstr(duro_storage_errmsg(d), "limit"));
	assert_int_equal(
	    duro_kv_put(d, big, DURO_KV_MAX_BYTES + 1, "", 0), DURO_ERANGE);
	assert_int_equal(
	    duro_kv_get(d, big, DURO_KV_MAX_BYTES + 1, &v, &len), DURO_ERANGE);
	/* The refused put left the old value. */
	assert_int_equal(duro_kv_get(d, "key", 3, &v, &len), 0);
	assert_int_equal(len, DURO_KV_MAX_BYTES - 3);
	free(v);
	free(big);
}

/* The keys of the list test, in byte order. */
static const struct {
	const char *k;
	size_t len;
} sorted[] = {
    {"", 0},
    {"\x00", 1},
    {"\x00\x00", 2},
    {"\x00\xff", 2},
    {"a", 1},
    {"a\x00", 2},
    {"ab", 2},
    {"ab\xff", 3},
    {"ab\xff\xff", 4},
    {"ac", 2},
    {"b", 1},
    {"\x7f", 1},
    {"\x80", 1},
    {"\xff", 1},
    {"\xff\x00", 2},
    {"\xff\xff", 2},
};
#define NSORTED (sizeof(sorted) / sizeof(sorted[0]))

static void
list_setup(struct duro *d)
{
	/* Put them in a scrambled order. */
	for (size_t i = 0; i < NSORTED; i++) {
		size_t j = (i * 7) % NSORTED;

		if (duro_kv_put(d, sorted[j].k, sorted[j].len, &j, sizeof(j)) !=
		    0)
			fail_msg(
			    "put sorted[%zu]: %s", j, duro_storage_errmsg(d));
	}
}

/*
 * List with opts and check the result is sorted[from..to) (in reverse
 * when opts->reverse).
 */
static void
expect_list(struct duro *d, const struct duro_kv_list_opts *opts, size_t from,
    size_t to)
{
	struct duro_kv_items out;
	size_t want = to - from;

	assert_int_equal(duro_kv_list(d, opts, &out), 0);
	if (out.n != want)
		fail_msg("listed %zu keys, want %zu (sorted[%zu..%zu))", out.n,
		    want, from, to);
	for (size_t i = 0; i < want; i++) {
		size_t j =
		    opts != NULL && opts->reverse ? to - 1 - i : from + i;

		if (out.items[i].key_len != sorted[j].len ||
		    memcmp(out.items[i].key, sorted[j].k, sorted[j].len) != 0)
			fail_msg("item %zu is not sorted[%zu]", i, j);
		assert_true(out.items[i].found);
		assert_int_equal(out.items[i].value_len, sizeof(size_t));
	}
	duro_kv_items_free(&out);
}

static void
test_kv_list_order(void **state)
{
	struct duro *d = fake_durod_storage_open(*state);
	struct duro_kv_list_opts o = {.reverse = 1};

	list_setup(d);
	expect_list(d, NULL, 0, NSORTED);
	expect_list(d, &o, 0, NSORTED);
}

static void
test_kv_list_bounds(void **state)
{
	struct duro *d = fake_durod_storage_open(*state);
	struct duro_kv_list_opts o;

	list_setup(d);
	/* prefix "ab": ab, ab\xff, ab\xff\xff */
	o = (struct duro_kv_list_opts){.prefix = "ab", .prefix_len = 2};
	expect_list(d, &o, 6, 9);
	o.reverse = 1;
	expect_list(d, &o, 6, 9);
	o.limit = 2; /* the last two, descending */
	expect_list(d, &o, 7, 9);
	/* A prefix ending in 0xff, and one of only 0xff bytes. */
	o = (struct duro_kv_list_opts){.prefix = "ab\xff", .prefix_len = 3};
	expect_list(d, &o, 7, 9);
	o = (struct duro_kv_list_opts){.prefix = "\xff", .prefix_len = 1};
	expect_list(d, &o, 13, 16);
	o = (struct duro_kv_list_opts){.prefix = "\x00", .prefix_len = 1};
	expect_list(d, &o, 1, 4);
	o = (struct duro_kv_list_opts){.prefix = "zz", .prefix_len = 2};
	expect_list(d, &o, 0, 0);
	/* start inclusive, end exclusive. */
	o = (struct duro_kv_list_opts){
	    .start = "a", .start_len = 1, .end = "b", .end_len = 1};
	expect_list(d, &o, 4, 10);
	o.limit = 3;
	expect_list(d, &o, 4, 7);
	o.reverse = 1;
	expect_list(d, &o, 7, 10);
	/* The empty key as start is everything; as end, nothing. */
	o = (struct duro_kv_list_opts){.start = "", .start_len = 0};
	expect_list(d, &o, 0, NSORTED);
	o = (struct duro_kv_list_opts){.end = "", .end_len = 0};
	expect_list(d, &o, 0, 0);
	o = (struct duro_kv_list_opts){.end = "\x00", .end_len = 1};
	expect_list(d, &o, 0, 1);
	/* start past end: nothing. */
	o = (struct duro_kv_list_opts){
	    .start = "b", .start_len = 1, .end = "a", .end_len = 1};
	expect_list(d, &o, 0, 0);
	/* Prefix and bounds together narrow each other. */
	o = (struct duro_kv_list_opts){.prefix = "a",
	    .prefix_len = 1,
	    .start = "a\x01",
	    .start_len = 2,
	    .end = "ab\xff\xff",
	    .end_len = 4};
	expect_list(d, &o, 6, 8);
	o = (struct duro_kv_list_opts){.prefix = "a",
	    .prefix_len = 1,
	    .start = "",
	    .start_len = 0,
	    .end = "zzz",
	    .end_len = 3};
	expect_list(d, &o, 4, 10);
	o = (struct duro_kv_list_opts){.limit = 1};
	expect_list(d, &o, 0, 1);
	o = (struct duro_kv_list_opts){.start = NULL, .start_len = 1};
	assert_int_equal(
	    duro_kv_list(d, &o, &(struct duro_kv_items){0}), DURO_EINVAL);
}

static void
test_kv_delete_all(void **state)
{
	struct duro *d = fake_durod_storage_open(*state);
	struct duro_kv_items out;
	struct duro_sql_cursor *c;

	list_setup(d);
	assert_int_equal(duro_sql_exec(d, NULL,
	                     "CREATE TABLE t (x); "
	                     "INSERT INTO t VALUES (1)",
	                     NULL, 0),
	    0);
	assert_int_equal(duro_kv_delete_all(d), 0);
	assert_int_equal(duro_kv_list(d, NULL, &out), 0);
	assert_int_equal(out.n, 0);
	duro_kv_items_free(&out);
	/* SQL tables are not KV. */
	assert_int_equal(
	    duro_sql_exec(d, &c, "SELECT count(*) FROM t", NULL, 0), 0);
	assert_int_equal(duro_sql_next(c), 1);
	assert_int_equal(duro_sql_column_int(c, 0), 1);
	duro_sql_close(c);
}

/* ---- SQL ---- */

static void
test_sql_exec(void **state)
{
	static const uint8_t blob[] = {1, 0, 2};
	struct duro *d = fake_durod_storage_open(*state);
	struct duro_sql_cursor *c;
	struct duro_sql_value p[] = {DURO_ARG_INT(-5), DURO_ARG_REAL(2.5),
	    DURO_ARG_STR("héllo"), DURO_ARG_BLOB(blob, sizeof(blob)),
	    DURO_ARG_NULL()};
	uint64_t size;
	size_t len;

	assert_int_equal(duro_sql_exec(d, NULL,
	                     "CREATE TABLE t (i INTEGER, r REAL, s TEXT, "
	                     "b BLOB, n); CREATE TABLE u (k TEXT UNIQUE)",
	                     NULL, 0),
	    0);
	assert_int_equal(
	    duro_sql_exec(d, &c, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", p, 5),
	    0);
	assert_int_equal(duro_sql_rows_written(c), 1);
	assert_int_equal(duro_sql_next(c), 0);
	duro_sql_close(c);
	assert_int_equal(duro_sql_exec(d, NULL,
	                     "INSERT INTO t (i) VALUES (?1), (?1 + 1)", p, 1),
	    0);

	assert_int_equal(
	    duro_sql_exec(
	        d, &c, "SELECT i, r, s, b, n FROM t ORDER BY rowid", NULL, 0),
	    0);
	assert_int_equal(duro_sql_column_count(c), 5);
	assert_string_equal(duro_sql_column_name(c, 2), "s");
	assert_int_equal(duro_sql_next(c), 1);
	assert_int_equal(duro_sql_column_type(c, 0), DURO_SQL_INTEGER);
	assert_int_equal(duro_sql_column_int(c, 0), -5);
	assert_int_equal(duro_sql_column_type(c, 1), DURO_SQL_REAL);
	assert_true(duro_sql_column_real(c, 1) == 2.5);
	assert_int_equal(duro_sql_column_type(c, 2), DURO_SQL_TEXT);
	assert_string_equal(duro_sql_column_text(c, 2, &len), "héllo");
	assert_int_equal(len, strlen("héllo"));
	assert_int_equal(duro_sql_column_type(c, 3), DURO_SQL_BLOB);
	assert_memory_equal(duro_sql_column_blob(c, 3, &len), blob, 3);
	assert_int_equal(len, 3);
	assert_int_equal(duro_sql_column_type(c, 4), DURO_SQL_NULL);
	assert_null(duro_sql_column_text(c, 4, &len));
	assert_null(duro_sql_column_blob(c, 99, NULL));
	assert_int_equal(duro_sql_next(c), 1);
	assert_int_equal(duro_sql_column_int(c, 0), -5);
	assert_int_equal(duro_sql_next(c), 1);
	assert_int_equal(duro_sql_column_int(c, 0), -4);
	assert_int_equal(duro_sql_next(c), 0);
	assert_int_equal(duro_sql_next(c), 0);
	assert_int_equal(duro_sql_rows_read(c), 3);
	assert_int_equal(duro_sql_rows_written(c), 0);
	duro_sql_close(c);

	/* Errors: parameter count, two statements, syntax, constraint. */
	assert_int_equal(duro_sql_exec(d, NULL, "SELECT ?", NULL, 0), 0);
	assert_int_equal(
	    duro_sql_exec(d, NULL, "SELECT ?, ?", p, 1), DURO_EINVAL);
	assert_int_equal(
	    duro_sql_exec(d, &c, "SELECT 1; SELECT 2", NULL, 0), DURO_EINVAL);
	assert_null(c);
	assert_int_equal(
	    duro_sql_exec(d, &c, "SELECT 1; -- only a comment", NULL, 0), 0);
	duro_sql_close(c);
	assert_int_equal(duro_sql_exec(d, NULL, "SELEC 1", NULL, 0), DURO_ESQL);
	assert_non_null(strstr(duro_storage_errmsg(d), "syntax"));
	assert_int_equal(
	    duro_sql_exec(d, NULL, "SELECT * FROM nope", NULL, 0), DURO_ESQL);
	p[0] = DURO_ARG_STR("x");
	assert_int_equal(
	    duro_sql_exec(d, NULL, "INSERT INTO u VALUES (?)", p, 1), 0);
	assert_int_equal(
	    duro_sql_exec(d, NULL, "INSERT INTO u VALUES (?)", p, 1),
	    DURO_ECONSTRAINT);
	/* A script stops at its first error. */
	assert_int_equal(duro_sql_exec(d, NULL,
	                     "INSERT INTO u VALUES ('y'); INSERT INTO u "
	                     "VALUES ('x'); INSERT INTO u VALUES ('z')",
	                     NULL, 0),
	    DURO_ECONSTRAINT);
	assert_int_equal(
	    fake_durod_count(*state, "SELECT count(*) FROM u WHERE k = 'z'"),
	    0);

	assert_int_equal(duro_sql_database_size(d, &size), 0);
	assert_true(size >= 4096 && size % 4096 == 0);
}

static void
test_sql_counters(void **state)
{
	struct duro *d = fake_durod_storage_open(*state);
	struct duro_sql_cursor *c;

	assert_int_equal(duro_sql_exec(d, NULL,
	                     "CREATE TABLE t (k INTEGER PRIMARY KEY, v); "
	                     "CREATE TABLE log (x); "
	                     "CREATE TRIGGER tr AFTER UPDATE ON t BEGIN "
	                     "INSERT INTO log VALUES (new.k); END; "
	                     "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
	                     "SELECT i + 1 FROM n WHERE i < 100) "
	                     "INSERT INTO t SELECT i, i FROM n",
	                     NULL, 0),
	    0);
	/* A full scan reads every row, returns few. */
	assert_int_equal(
	    duro_sql_exec(d, &c, "SELECT k FROM t WHERE v % 10 = 0", NULL, 0),
	    0);
	while (duro_sql_next(c) == 1)
		;
	assert_true(duro_sql_rows_read(c) >= 99);
	duro_sql_close(c);
	/*
	 * Rows written count trigger writes. With RETURNING the writes are
	 * done at exec, but SQLite counts them when the statement ends.
	 */
	assert_int_equal(
	    duro_sql_exec(
	        d, &c, "UPDATE t SET v = 0 WHERE k <= 3 RETURNING k", NULL, 0),
	    0);
	assert_int_equal(duro_sql_next(c), 1);
	assert_int_equal(duro_sql_column_int(c, 0), 1);
	while (duro_sql_next(c) == 1)
		;
	assert_int_equal(duro_sql_rows_written(c), 6);
	duro_sql_close(c);
}

/*
 * Statements are cached by their text: two cursors on the same text at
 * once, more texts than the cache holds, and a schema change under a
 * cached statement all behave as if nothing were cached.
 */
static void
test_sql_cache(void **state)
{
	static const char q[] = "SELECT x FROM t ORDER BY x";
	struct duro *d = fake_durod_storage_open(*state);
	struct duro_sql_cursor *a, *b;
	char sql[64];

	assert_int_equal(duro_sql_exec(d, NULL,
	                     "CREATE TABLE t (x); INSERT INTO t VALUES (1), "
	                     "(2)",
	                     NULL, 0),
	    0);
	assert_int_equal(duro_sql_exec(d, &a, q, NULL, 0), 0);
	assert_int_equal(duro_sql_exec(d, &b, q, NULL, 0), 0);
	assert_int_equal(duro_sql_next(a), 1);
	assert_int_equal(duro_sql_next(a), 1);
	assert_int_equal(duro_sql_next(b), 1);
	assert_int_equal(duro_sql_column_int(a, 0), 2);
	assert_int_equal(duro_sql_column_int(b, 0), 1);
	duro_sql_close(a);
	duro_sql_close(b);
	/* Rows read count per use, not per cached statement. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(duro_sql_exec(d, &a, q, NULL, 0), 0);
		while (duro_sql_next(a) == 1)
			;
		assert_int_equal(duro_sql_rows_read(a), 2);
		duro_sql_close(a);
	}
	for (int i = 0; i < 3 * SQL_CACHE_SIZE; i++) {
		struct duro_sql_value p[] = {DURO_ARG_INT(i)};

		snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (? + %d)", i);
		assert_int_equal(duro_sql_exec(d, NULL, sql, p, 1), 0);
		assert_int_equal(duro_sql_exec(d, NULL, sql, p, 1), 0);
	}
	/* A parameterless statement without cursor is cached too. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(duro_sql_exec(d, NULL,
		                     "INSERT INTO t VALUES (1000)", NULL, 0),
		    0);
	assert_int_equal(duro_sql_exec(d, &a,
	                     "SELECT count(*) FROM t WHERE x = 1000", NULL, 0),
	    0);
	assert_int_equal(duro_sql_next(a), 1);
	assert_int_equal(duro_sql_column_int(a, 0), 3);
	duro_sql_close(a);
	assert_int_equal(duro_sql_exec(d, NULL, "DROP TABLE t", NULL, 0), 0);
	assert_int_equal(duro_sql_exec(d, &a, q, NULL, 0), DURO_ESQL);
	assert_int_equal(duro_sql_exec(d, NULL,
	                     "CREATE TABLE t (y, x); INSERT INTO t VALUES "
	                     "(0, 7)",
	                     NULL, 0),
	    0);
	assert_int_equal(duro_sql_exec(d, &a, q, NULL, 0), 0);
	assert_int_equal(duro_sql_next(a), 1);
	assert_int_equal(duro_sql_column_int(a, 0), 7);
	duro_sql_close(a);
	/* Recompiling a cached statement is checked again. */
	assert_int_equal(duro_sql_exec(d, NULL,
	                     "DROP TABLE t; CREATE VIEW t AS SELECT key AS x "
	                     "FROM _duro_kv",
	                     NULL, 0),
	    0);
	assert_int_equal(duro_sql_exec(d, &a, q, NULL, 0), DURO_EDENIED);
}

/* Each class of statement that would break the SDK's guarantees. */
static void
test_sql_refused(void **state)
{
	static const char *const refused[] = {
	    "BEGIN",
	    "BEGIN IMMEDIATE",
	    "COMMIT",
	    "END",
	    "ROLLBACK",
	    "SAVEPOINT x",
	    "RELEASE x",
	    "ROLLBACK TO x",
	    "ATTACH ':memory:' AS other",
	    "DETACH other",
	    "PRAGMA journal_mode=DELETE",
	    "PRAGMA journal_mode=OFF",
	    "PRAGMA synchronous=OFF",
	    "PRAGMA max_page_count=1000000000",
	    "PRAGMA locking_mode=EXCLUSIVE",
	    "PRAGMA writable_schema=ON",
	    "PRAGMA foreign_keys=OFF",
	    "PRAGMA cache_size=1",
	    "PRAGMA wal_checkpoint",
	    "pragma JOURNAL_MODE = wal",
	    "SELECT * FROM _duro_kv",
	    "SELECT count(*) FROM main.\"_DURO_KV\"",
	    "INSERT INTO _duro_kv VALUES (x'00', x'00')",
	    "UPDATE _duro_kv SET value = x''",
	    "DELETE FROM _duro_kv",
	    "DROP TABLE _duro_kv",
	    "ALTER TABLE _duro_kv RENAME TO kv",
	    "CREATE INDEX i ON _duro_kv (value)",
	    "CREATE TABLE _duro_mine (x)",
	    "CREATE TEMP TABLE _duro_t (x)",
	    "CREATE TRIGGER _duro_tr AFTER INSERT ON t BEGIN SELECT 1; END",
	    "SELECT * FROM v",
	    "INSERT INTO t VALUES (1)",
	    "PRAGMA table_info(_duro_kv)",
	    "SELECT * FROM pragma_table_info('_duro_kv')",
	    "SELECT load_extension('x')",
	};
	struct fixture *fx = *state;
	struct duro *d = fake_durod_storage_open(&fx->fake);
	struct duro_sql_cursor *c;

	/* A view and a trigger that reach the reserved table: creating
	 * them is allowed, using them is not. */
	assert_int_equal(duro_sql_exec(d, NULL,
	                     "CREATE TABLE t (x); "
	                     "CREATE VIEW v AS SELECT * FROM _duro_kv; "
	                     "CREATE TRIGGER tr AFTER INSERT ON t BEGIN "
	                     "DELETE FROM _duro_kv; END",
	                     NULL, 0),
	    0);
	put_str(d, "k", "v");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int rv = duro_sql_exec(d, NULL, refused[i], NULL, 0);

		if (rv != DURO_EDENIED)
			fail_msg("%s: %d (%s), want DURO_EDENIED", refused[i],
			    rv, duro_storage_errmsg(d));
		if (strncmp(duro_storage_errmsg(d), "refused: ", 9) != 0)
			fail_msg("%s: message \"%s\"", refused[i],
			    duro_storage_errmsg(d));
	}
	expect_str(d, "k", "v");
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM t"), 0);
	assert_non_null(strstr(
	    (duro_sql_exec(d, NULL, "COMMIT", NULL, 0), duro_storage_errmsg(d)),
	    "duro_transaction()"));

	/* Harmless PRAGMAs pass. */
	assert_int_equal(duro_sql_exec(d, NULL, "DROP TRIGGER tr", NULL, 0), 0);
	assert_int_equal(
	    duro_sql_exec(d, &c, "PRAGMA table_info(t)", NULL, 0), 0);
	assert_int_equal(duro_sql_next(c), 1);
	assert_string_equal(duro_sql_column_text(c, 1, NULL), "x");
	duro_sql_close(c);
	assert_int_equal(
	    duro_sql_exec(
	        d, &c, "SELECT name FROM pragma_table_info('t')", NULL, 0),
	    0);
	assert_int_equal(duro_sql_next(c), 1);
	duro_sql_close(c);
	assert_int_equal(
	    duro_sql_exec(d, &c, "PRAGMA journal_mode", NULL, 0), 0);
	assert_int_equal(duro_sql_next(c), 1);
	assert_string_equal(duro_sql_column_text(c, 0, NULL), "wal");
	duro_sql_close(c);
	assert_int_equal(duro_sql_exec(d, NULL,
	                     "PRAGMA user_version = 7; "
	                     "PRAGMA page_count; "
	                     "PRAGMA integrity_check",
	                     NULL, 0),
	    0);
	/* sqlite_master can be read (the schema is not secret). */
	assert_int_equal(duro_sql_exec(d, NULL,
	                     "SELECT count(*) FROM sqlite_master", NULL, 0),
	    0);
	/* The KV API itself is unaffected by the authorizer. */
	put_str(d, "k2", "v2");
	expect_str(d, "k2", "v2");
}

/* ---- transactions ---- */

static int
tx_put_fail(struct duro *d, void *arg)
{
	put_str(d, arg, "x");
	return (-42);
}

static int
tx_put_ok(struct duro *d, void *arg)
{
	put_str(d, arg, "x");
	return (0);
}

static const char fk_schema[] =
    "CREATE TABLE parent (id INTEGER PRIMARY KEY); "
    "CREATE TABLE child (p INTEGER REFERENCES parent (id) "
    "DEFERRABLE INITIALLY DEFERRED)";

static int
tx_orphan(struct duro *d, void *arg)
{
	return (
	    duro_sql_exec(d, NULL, "INSERT INTO child VALUES (7)", NULL, 0));
}

/* Nested: keep "outer", "inner-ok"; roll back "inner-bad". */
static int
tx_nested(struct duro *d, void *arg)
{
	put_str(d, "outer", "x");
	assert_int_equal(duro_transaction(d, tx_put_fail, "inner-bad"), -42);
	assert_int_equal(duro_transaction(d, tx_put_ok, "inner-ok"), 0);
	return (0);
}

static void
test_savepoints(void **state)
{
	struct fixture *fx = *state;
	struct duro *d = fake_durod_storage_open(&fx->fake);

	/* Inside an event: only the failed part is undone. */
	duro_storage_event_begin(d);
	put_str(d, "a", "1");
	assert_int_equal(duro_transaction(d, tx_put_fail, "b"), -42);
	expect_str(d, "b", NULL);
	assert_int_equal(duro_transaction(d, tx_nested, NULL), 0);
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM _duro_kv"), 0);
	assert_int_equal(duro_storage_event_end(d, 1), 0);
	expect_str(d, "a", "1");
	expect_str(d, "outer", "x");
	expect_str(d, "inner-ok", "x");
	expect_str(d, "inner-bad", NULL);
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM _duro_kv"), 3);

	/* Outside events duro_transaction() is the transaction. */
	assert_int_equal(duro_transaction(d, tx_put_fail, "c"), -42);
	expect_str(d, "c", NULL);
	assert_int_equal(duro_transaction(d, tx_put_ok, "c"), 0);
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM _duro_kv"), 4);
	assert_int_equal(duro_transaction(d, NULL, NULL), DURO_EINVAL);
}

static void
test_event_rollback(void **state)
{
	struct fixture *fx = *state;
	struct duro *d = fake_durod_storage_open(&fx->fake);

	put_str(d, "keep", "1");
	/* Outside events a call commits by itself. */
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM _duro_kv"), 1);
	duro_storage_event_begin(d);
	put_str(d, "keep", "2");
	put_str(d, "new", "x");
	assert_int_equal(
	    duro_sql_exec(d, NULL, "CREATE TABLE t (x)", NULL, 0), 0);
	assert_int_equal(duro_storage_event_end(d, 0), 0);
	expect_str(d, "keep", "1");
	expect_str(d, "new", NULL);
	assert_int_equal(
	    duro_sql_exec(d, NULL, "SELECT * FROM t", NULL, 0), DURO_ESQL);
	/* A handler that never touches storage has no transaction. */
	duro_storage_event_begin(d);
	assert_false(d->st.txn);
	assert_int_equal(duro_storage_event_end(d, 1), 0);
	/* Cursors a handler leaves open are closed, and commit works. */
	duro_storage_event_begin(d);
	{
		struct duro_sql_cursor *c;

		put_str(d, "k", "v");
		assert_int_equal(
		    duro_sql_exec(
		        d, &c, "SELECT name FROM pragma_table_list", NULL, 0),
		    0);
		assert_int_equal(duro_sql_next(c), 1);
	}
	assert_int_equal(duro_storage_event_end(d, 1), 0);
	assert_null(d->st.cursors);
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM _duro_kv "
	                                "WHERE key = CAST('k' AS BLOB)"),
	    1);
}

/*
 * A deferred foreign key is checked at COMMIT, so it makes the commit
 * itself fail: the event fails and nothing of it stays.
 */
static void
test_commit_fails(void **state)
{
	struct fixture *fx = *state;
	struct duro *d = fake_durod_storage_open(&fx->fake);

	assert_int_equal(duro_sql_exec(d, NULL, fk_schema, NULL, 0), 0);
	put_str(d, "keep", "1");
	duro_storage_event_begin(d);
	put_str(d, "keep", "2");
	assert_int_equal(
	    duro_sql_exec(d, NULL, "INSERT INTO child VALUES (42)", NULL, 0),
	    0);
	assert_int_equal(duro_storage_event_end(d, 1), DURO_ESTORAGE);
	assert_non_null(strstr(duro_storage_errmsg(d), "commit: FOREIGN KEY"));
	expect_str(d, "keep", "1");
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM child"), 0);
	/* Outside events the outermost duro_transaction() is the commit. */
	assert_int_equal(
	    duro_transaction(d, tx_orphan, NULL), DURO_ECONSTRAINT);
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM child"), 0);
	/* And the connection is usable after both. */
	duro_storage_event_begin(d);
	put_str(d, "keep", "3");
	assert_int_equal(duro_storage_event_end(d, 1), 0);
	expect_str(d, "keep", "3");
}

static void
test_storage_full(void **state)
{
	struct fixture *fx = *state;
	struct duro *d;
	uint8_t *big = calloc(1, 2 * MiB);
	size_t n;

	setenv("DURO_STORAGE_LIMIT_MB", "1", 1);
	d = fake_durod_storage_open(&fx->fake);
	assert_non_null(big);
	put_str(d, "keep", "1");
	assert_int_equal(
	    duro_sql_exec(d, NULL, "CREATE TABLE t (b)", NULL, 0), 0);
	/* Outside events a write past the limit fails alone. */
	assert_int_equal(
	    duro_kv_put(d, "big", 3, big, 2 * MiB - 3), DURO_EFULL);
	assert_non_null(strstr(duro_storage_errmsg(d), "1 MiB"));
	put_str(d, "after", "1");

	/* In an event it fails the event: nothing of it is stored. */
	duro_storage_event_begin(d);
	put_str(d, "keep", "2");
	assert_int_equal(
	    duro_kv_put(d, "big", 3, big, 2 * MiB - 3), DURO_EFULL);
	assert_int_equal(duro_kv_put(d, "small", 5, "x", 1), DURO_EFULL);
	assert_int_equal(
	    duro_kv_get(d, "keep", 4, &(void *){NULL}, &n), DURO_EFULL);
	assert_int_equal(duro_storage_event_end(d, 1), DURO_EFULL);
	assert_non_null(strstr(duro_storage_errmsg(d), "full"));
	expect_str(d, "keep", "1");
	expect_str(d, "after", "1");
	expect_str(d, "small", NULL);

	/* The same through SQL, inside a savepoint that then "succeeds". */
	duro_storage_event_begin(d);
	put_str(d, "keep", "3");
	{
		struct duro_sql_value p[] = {DURO_ARG_BLOB(big, 2 * MiB)};

		assert_int_equal(
		    duro_sql_exec(d, NULL, "INSERT INTO t VALUES (?)", p, 1),
		    DURO_EFULL);
	}
	assert_int_equal(duro_transaction(d, tx_put_ok, "tx"), DURO_EFULL);
	assert_int_equal(duro_storage_event_end(d, 1), DURO_EFULL);
	expect_str(d, "keep", "1");
	expect_str(d, "tx", NULL);
	/* The next event is fine again. */
	duro_storage_event_begin(d);
	put_str(d, "keep", "4");
	assert_int_equal(duro_storage_event_end(d, 1), 0);
	expect_str(d, "keep", "4");
	free(big);
}

/* ---- opening ---- */

static void
test_open_settings(void **state)
{
	struct fixture *fx = *state;
	struct duro *d;
	struct duro_sql_cursor *c;
	char missing[160];

	setenv("DURO_SYNCHRONOUS", "fast", 1);
	assert_int_equal(
	    fake_durod_storage_new(fx->fake.storage, &d), DURO_EINVAL);
	setenv("DURO_SYNCHRONOUS", "NORMAL", 1);
	setenv("DURO_STORAGE_LIMIT_MB", "0", 1);
	assert_int_equal(
	    fake_durod_storage_new(fx->fake.storage, &d), DURO_EINVAL);
	setenv("DURO_STORAGE_LIMIT_MB", "12x", 1);
	assert_int_equal(
	    fake_durod_storage_new(fx->fake.storage, &d), DURO_EINVAL);
	setenv("DURO_STORAGE_LIMIT_MB", "-3", 1);
	assert_int_equal(
	    fake_durod_storage_new(fx->fake.storage, &d), DURO_EINVAL);
	setenv("DURO_STORAGE_LIMIT_MB", "3", 1);
	snprintf(missing, sizeof(missing), "%s/nodir/db.sqlite", fx->fake.dir);
	assert_int_equal(fake_durod_storage_new(missing, &d), DURO_ESTORAGE);

	d = fake_durod_storage_open(&fx->fake);
	assert_int_equal(
	    duro_sql_exec(d, &c, "PRAGMA synchronous", NULL, 0), 0);
	assert_int_equal(duro_sql_next(c), 1);
	assert_int_equal(duro_sql_column_int(c, 0), 1); /* NORMAL */
	duro_sql_close(c);
	assert_int_equal(
	    duro_sql_exec(d, &c, "PRAGMA max_page_count", NULL, 0), 0);
	assert_int_equal(duro_sql_next(c), 1);
	assert_int_equal(duro_sql_column_int(c, 0), 3 * 256);
	duro_sql_close(c);
	duro_close(d);
	fx->fake.d = NULL;

	/* Defaults: FULL, 1024 MiB; data survives a reopen. */
	unsetenv("DURO_SYNCHRONOUS");
	unsetenv("DURO_STORAGE_LIMIT_MB");
	assert_int_equal(fake_durod_storage_new(fx->fake.storage, &d), 0);
	put_str(d, "k", "v");
	assert_int_equal(
	    duro_sql_exec(d, &c, "PRAGMA synchronous", NULL, 0), 0);
	assert_int_equal(duro_sql_next(c), 1);
	assert_int_equal(duro_sql_column_int(c, 0), 2); /* FULL */
	duro_sql_close(c);
	assert_int_equal(
	    duro_sql_exec(d, &c, "PRAGMA max_page_count", NULL, 0), 0);
	assert_int_equal(duro_sql_next(c), 1);
	assert_int_equal(duro_sql_column_int(c, 0), 1024 * 256);
	duro_sql_close(c);
	duro_close(d);
	assert_int_equal(
	    fake_durod_storage_new(fx->fake.storage, &fx->fake.d), 0);
	expect_str(fx->fake.d, "k", "v");
}

/* Wait up to ms for fd to be readable. */
static int
readable(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};

	return (poll(&p, 1, ms) == 1);
}

struct opener {
	struct fixture *fx;
	volatile int done;
	int rv;
};

static void *
open_thread(void *arg)
{
	struct opener *o = arg;

	o->rv = fake_durod_storage_new(o->fx->fake.storage, &o->fx->fake.d);
	o->done = 1;
	return (NULL);
}

/*
 * A child process holds the storage (no SQLite state is shared across the
 * fork: the parent has no connection then). A probe cannot take the lock;
 * an open in the parent waits until the child has exited.
 */
static void
test_lock(void **state)
{
	struct fixture *fx = *state;
	struct opener o = {fx, 0, -1};
	int fd, held[2], go[2], status;
	pthread_t t;
	pid_t pid;
	char c;

	assert_int_equal(pipe(held), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_not_equal(pid = fork(), -1);
	if (pid == 0) {
		struct duro *d2;

		close(held[0]);
		close(go[1]);
		if (fake_durod_storage_new(fx->fake.storage, &d2) != 0)
			_exit(1);
		if (write(held[1], "x", 1) != 1 || read(go[0], &c, 1) != 0 ||
		    duro_kv_put(d2, "child", 5, "1", 1) != 0)
			_exit(2);
		duro_close(d2);
		_exit(0);
	}
	close(held[1]);
	close(go[0]);
	assert_true(readable(held[0], 5000));

	assert_int_not_equal(
	    fd = open(fx->fake.objdir, O_RDONLY | O_DIRECTORY), -1);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	close(fd);

	assert_int_equal(pthread_create(&t, NULL, open_thread, &o), 0);
	/* Nothing to wait for: it must still be waiting after a while. */
	usleep(300 * 1000);
	assert_false(o.done);
	close(go[1]); /* the child writes, closes and exits */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(o.rv, 0);
	expect_str(fx->fake.d, "child", "1");
	close(held[0]);
}

static void
test_not_open(void **state)
{
	struct duro d;
	void *v;
	size_t n;

	memset(&d, 0, sizeof(d));
	assert_int_equal(duro_kv_get(&d, "k", 1, &v, &n), DURO_ESTATE);
	assert_int_equal(
	    duro_sql_exec(&d, NULL, "SELECT 1", NULL, 0), DURO_ESTATE);
	assert_string_equal(duro_storage_errmsg(&d), "the storage is not open");
}

/* ---- the real loop: what durod sees ---- */

static int
wire_handler(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	struct fixture *fx = arg;
	void *v;
	size_t len;
	int rv;

	if (strcmp(req->path, "/put") == 0) {
		rv = duro_kv_put(d, req->query, strlen(req->query), "v", 1);
		return (rv != 0 ? -1 : duro_response_printf(resp, "ok"));
	}
	if (strcmp(req->path, "/put-fail") == 0) {
		duro_kv_put(d, req->query, strlen(req->query), "v", 1);
		duro_response_error(resp, "changed my mind");
		return (-1);
	}
	if (strcmp(req->path, "/put-big") == 0) {
		void *big = calloc(1, 2 * MiB - 8);

		put_str(d, "partial", "1");
		fx->seen_rv = duro_kv_put(d, "big", 3, big, 2 * MiB - 8);
		free(big);
		/* Ignoring the error does not save the event. */
		return (duro_response_printf(resp, "ok"));
	}
	if (strcmp(req->path, "/orphan") == 0) {
		put_str(d, "partial", "1");
		if (duro_sql_exec(d, NULL, fk_schema, NULL, 0) != 0 ||
		    duro_sql_exec(
		        d, NULL, "INSERT INTO child VALUES (1)", NULL, 0) != 0)
			return (-1);
		return (duro_response_printf(resp, "ok"));
	}
	if (strcmp(req->path, "/get") == 0) {
		rv = duro_kv_get(d, req->query, strlen(req->query), &v, &len);
		if (rv == DURO_ENOENT)
			return (duro_response_printf(resp, "absent"));
		if (rv != 0)
			return (-1);
		duro_response_body(resp, v, len);
		free(v);
		return (0);
	}
	return (duro_response_status(resp, 404));
}

static void
loop_start(struct fixture *fx)
{
	fake_durod_open(&fx->fake, wire_handler, fx);
	fake_durod_run(&fx->fake);
	fake_durod_expect_ready(&fx->fake);
}

/* Send a request; receive the reply into *m (release it). */
static void
call(struct fixture *fx, uint64_t id, const char *path, const char *query,
    struct ipc_msg *m)
{
	struct ipc_msg req = {.type = IPC_REQUEST,
	    .id = id,
	    .method = "POST",
	    .path = path,
	    .query = query};

	fake_durod_send(&fx->fake, &req);
	fake_durod_recv(&fx->fake, m);
	assert_true(m->id == id);
}

static void
expect_body(struct fixture *fx, uint64_t id, const char *path,
    const char *query, const char *body)
{
	struct ipc_msg m;

	call(fx, id, path, query, &m);
	assert_int_equal(m.type, IPC_RESPONSE);
	assert_int_equal(m.body_len, strlen(body));
	assert_memory_equal(m.body, body, m.body_len);
	ipc_recv_done(&m);
}

static void
expect_code(struct fixture *fx, uint64_t id, const char *path,
    const char *query, const char *code)
{
	struct ipc_msg m;

	call(fx, id, path, query, &m);
	assert_int_equal(m.type, IPC_ERROR);
	assert_string_equal(m.code, code);
	ipc_recv_done(&m);
}

static void
test_wire_events(void **state)
{
	struct fixture *fx = *state;

	loop_start(fx);
	/* Committed before the reply: another connection sees it. */
	expect_body(fx, 1, "/put", "a", "ok");
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM _duro_kv"), 1);
	/* A failed handler stores nothing. */
	expect_code(fx, 2, "/put-fail", "b", "handler_failed");
	expect_body(fx, 3, "/get", "b", "absent");
	expect_body(fx, 4, "/get", "a", "v");
	assert_int_equal(
	    fake_durod_count(&fx->fake, "SELECT count(*) FROM _duro_kv"), 1);
	/* A failed commit: storage_failed, not the response. */
	expect_code(fx, 5, "/orphan", "", "storage_failed");
	expect_body(fx, 6, "/get", "partial", "absent");
}

static void
test_wire_storage_full(void **state)
{
	struct fixture *fx = *state;
	struct ipc_msg m;

	setenv("DURO_STORAGE_LIMIT_MB", "1", 1);
	loop_start(fx);
	expect_body(fx, 1, "/put", "a", "ok");
	call(fx, 2, "/put-big", "", &m);
	assert_int_equal(m.type, IPC_ERROR);
	assert_string_equal(m.code, "storage_full");
	assert_non_null(strstr(m.message, "storage limit is 1 MiB"));
	ipc_recv_done(&m);
	assert_int_equal(fx->seen_rv, DURO_EFULL);
	/* Earlier data intact, nothing of the failed event. */
	expect_body(fx, 3, "/get", "a", "v");
	expect_body(fx, 4, "/get", "partial", "absent");
	expect_body(fx, 5, "/put", "c", "ok");
}

static void
test_strerror(void **state)
{
	assert_string_equal(duro_strerror(DURO_EFULL), "storage limit reached");
	assert_string_equal(duro_strerror(DURO_ESTORAGE), "storage failed");
	assert_int_equal(duro_exit_status(DURO_ESTORAGE), 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, fake_durod_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_kv_single),
	    T(test_kv_batch),
	    T(test_kv_size_limits),
	    T(test_kv_list_order),
	    T(test_kv_list_bounds),
	    T(test_kv_delete_all),
	    T(test_sql_exec),
	    T(test_sql_counters),
	    T(test_sql_cache),
	    T(test_sql_refused),
	    T(test_savepoints),
	    T(test_event_rollback),
	    T(test_commit_fails),
	    T(test_storage_full),
	    T(test_open_settings),
	    T(test_lock),
	    cmocka_unit_test(test_not_open),
	    T(test_wire_events),
	    T(test_wire_storage_full),
	    cmocka_unit_test(test_strerror),
	};

	alarm(120);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
