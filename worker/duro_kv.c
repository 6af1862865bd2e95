/*
 * duro_kv.c — the key-value API over the SDK's table _duro_kv.
 *
 * _duro_kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID:
 * keys are always bound as BLOBs, and SQLite compares BLOBs with memcmp()
 * and then by length, which is exactly the byte order duro.h promises, so
 * ranges are plain index ranges. Limits are checked before anything is
 * written, and batches run in a savepoint, so a batch is all or nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duro_impl.h"

/* Bind bytes; a NULL pointer would bind SQL NULL, not the empty key. */
static int
kv_bind(sqlite3_stmt *stmt, int i, const void *p, size_t len)
{
	return (
	    sqlite3_bind_blob64(stmt, i, len > 0 ? p : "", len, SQLITE_STATIC));
}

static int
kv_check(struct duro *d, const void *key, size_t key_len, size_t value_len)
{
	if (key == NULL && key_len > 0)
		return (duro_storage_failf(d, DURO_EINVAL, "NULL key"));
	if (key_len > DURO_KV_MAX_BYTES ||
	    value_len > DURO_KV_MAX_BYTES - key_len)
		return (duro_storage_failf(d, DURO_ERANGE,
		    "key (%zu bytes) + value (%zu bytes) is over the limit of "
		    "%d bytes",
		    key_len, value_len, DURO_KV_MAX_BYTES));
	return (0);
}

static int
kv_check_batch(struct duro *d, const void *items, size_t n)
{
	if (n > DURO_KV_MAX_BATCH)
		return (duro_storage_failf(d, DURO_ERANGE,
		    "a batch of %zu keys is over the limit of %d", n,
		    DURO_KV_MAX_BATCH));
	if (n > 0 && items == NULL)
		return (duro_storage_failf(d, DURO_EINVAL, "NULL batch"));
	return (0);
}

static void *
kv_copy(const void *p, size_t len)
{
	void *q = malloc(len > 0 ? len : 1);

	if (q != NULL && len > 0)
		memcpy(q, p, len);
	return (q);
}

/* Step an SDK statement that returns no row, then reset it. */
static int
kv_run(struct duro *d, sqlite3_stmt *stmt, int rv)
{
	if (rv == SQLITE_OK)
		rv = duro_storage_step(d, stmt);
	rv = rv == SQLITE_DONE ? 0 : duro_storage_fail(d, rv);
	sqlite3_reset(stmt);
	return (rv);
}

/* ---- one key ---- */

/* 0 with a malloc'd copy of the value, DURO_ENOENT, or an error. */
static int
kv_get_one(struct duro *d, const void *key, size_t key_len, void **value,
    size_t *value_len)
{
	sqlite3_stmt *stmt;
	int rv;

	if ((rv = duro_storage_stmt(d, STMT_KV_GET, &stmt)) != 0)
		return (rv);
	if ((rv = kv_bind(stmt, 1, key, key_len)) == SQLITE_OK)
		rv = duro_storage_step(d, stmt);
	if (rv == SQLITE_ROW) {
		*value_len = (size_t)sqlite3_column_bytes(stmt, 0);
		*value = kv_copy(sqlite3_column_blob(stmt, 0), *value_len);
		rv = *value != NULL
		         ? 0
		         : duro_storage_failf(d, DURO_ENOMEM, "out of memory");
	} else if (rv == SQLITE_DONE)
		rv = duro_storage_failf(d, DURO_ENOENT, "no such key");
	else
		rv = duro_storage_fail(d, rv);
	sqlite3_reset(stmt);
	return (rv);
}

static int
kv_put_one(struct duro *d, const struct duro_kv_pair *p)
{
	sqlite3_stmt *stmt;
	int rv;

	if ((rv = duro_storage_stmt(d, STMT_KV_PUT, &stmt)) != 0)
		return (rv);
	if ((rv = kv_bind(stmt, 1, p->key, p->key_len)) == SQLITE_OK)
		rv = kv_bind(stmt, 2, p->value, p->value_len);
	return (kv_run(d, stmt, rv));
}

/* Delete key, adding 1 to *deleted if it was there. */
static int
kv_delete_one(struct duro *d, const void *key, size_t key_len, size_t *deleted)
{
	sqlite3_stmt *stmt;
	int rv;

	if ((rv = duro_storage_stmt(d, STMT_KV_DELETE, &stmt)) != 0)
		return (rv);
	rv = kv_run(d, stmt, kv_bind(stmt, 1, key, key_len));
	if (rv == 0)
		*deleted += (size_t)sqlite3_changes(d->st.db);
	return (rv);
}

int
duro_kv_get(struct duro *d, const void *key, size_t key_len, void **value,
    size_t *value_len)
{
	int rv;

	*value = NULL;
	*value_len = 0;
	if ((rv = kv_check(d, key, key_len, 0)) != 0 ||
	    (rv = duro_storage_enter(d)) != 0)
		return (rv);
	return (kv_get_one(d, key, key_len, value, value_len));
}

int
duro_kv_put(struct duro *d, const void *key, size_t key_len, const void *value,
    size_t value_len)
{
	struct duro_kv_pair p = {key, key_len, value, value_len};
	int rv;

	if (value == NULL && value_len > 0)
		return (duro_storage_failf(d, DURO_EINVAL, "NULL value"));
	if ((rv = kv_check(d, key, key_len, value_len)) != 0 ||
	    (rv = duro_storage_enter(d)) != 0)
		return (rv);
	return (kv_put_one(d, &p));
}

int
duro_kv_delete(struct duro *d, const void *key, size_t key_len)
{
	size_t deleted = 0;
	int rv;

	if ((rv = kv_check(d, key, key_len, 0)) != 0 ||
	    (rv = duro_storage_enter(d)) != 0)
		return (rv);
	return (kv_delete_one(d, key, key_len, &deleted));
}

int
duro_kv_delete_all(struct duro *d)
{
	sqlite3_stmt *stmt;
	int rv;

	if ((rv = duro_storage_enter(d)) != 0 ||
	    (rv = duro_storage_stmt(d, STMT_KV_DELETE_ALL, &stmt)) != 0)
		return (rv);
	return (kv_run(d, stmt, SQLITE_OK));
}

/* ---- batches ---- */

/* End a batch's savepoint: kept if rv is 0, else rolled back. */
static int
kv_batch_end(struct duro *d, int rv)
{
	int crv = duro_savepoint_close(d, rv != 0);

	return (rv != 0 ? rv : crv);
}

void
duro_kv_items_free(struct duro_kv_items *out)
{
	for (size_t i = 0; i < out->n; i++) {
		free(out->items[i].key);
		free(out->items[i].value);
	}
	free(out->items);
	out->items = NULL;
	out->n = 0;
}

int
duro_kv_get_batch(struct duro *d, const struct duro_kv_key *keys, size_t n,
    struct duro_kv_items *out)
{
	struct duro_kv_item *it;
	int rv;

	out->items = NULL;
	out->n = 0;
	if ((rv = kv_check_batch(d, keys, n)) != 0)
		return (rv);
	for (size_t i = 0; i < n; i++)
		if ((rv = kv_check(d, keys[i].key, keys[i].key_len, 0)) != 0)
			return (rv);
	if ((rv = duro_storage_enter(d)) != 0)
		return (rv);
	if (n > 0 && (out->items = calloc(n, sizeof(*out->items))) == NULL)
		return (duro_storage_failf(d, DURO_ENOMEM, "out of memory"));
	for (size_t i = 0; i < n; i++) {
		it = &out->items[out->n++];
		it->key_len = keys[i].key_len;
		if ((it->key = kv_copy(keys[i].key, it->key_len)) == NULL)
			return (duro_storage_failf(
			    d, DURO_ENOMEM, "out of memory"));
		rv = kv_get_one(d, keys[i].key, keys[i].key_len, &it->value,
		    &it->value_len);
		if (rv != 0 && rv != DURO_ENOENT)
			return (rv);
		it->found = rv == 0;
	}
	duro_storage_ok(d);
	return (0);
}

int
duro_kv_put_batch(struct duro *d, const struct duro_kv_pair *pairs, size_t n)
{
	int rv;

	if ((rv = kv_check_batch(d, pairs, n)) != 0)
		return (rv);
	for (size_t i = 0; i < n; i++) {
		if (pairs[i].value == NULL && pairs[i].value_len > 0)
			return (duro_storage_failf(
			    d, DURO_EINVAL, "pair %zu: NULL value", i));
		if ((rv = kv_check(d, pairs[i].key, pairs[i].key_len,
		         pairs[i].value_len)) != 0)
			return (rv);
	}
	if ((rv = duro_storage_enter(d)) != 0 ||
	    (rv = duro_savepoint_open(d)) != 0)
		return (rv);
	for (size_t i = 0; i < n && rv == 0; i++)
		rv = kv_put_one(d, &pairs[i]);
	return (kv_batch_end(d, rv));
}

int
duro_kv_delete_batch(
    struct duro *d, const struct duro_kv_key *keys, size_t n, size_t *deleted)
{
	size_t count = 0;
	int rv;

	if (deleted != NULL)
		*deleted = 0;
	if ((rv = kv_check_batch(d, keys, n)) != 0)
		return (rv);
	for (size_t i = 0; i < n; i++)
		if ((rv = kv_check(d, keys[i].key, keys[i].key_len, 0)) != 0)
			return (rv);
	if ((rv = duro_storage_enter(d)) != 0 ||
	    (rv = duro_savepoint_open(d)) != 0)
		return (rv);
	for (size_t i = 0; i < n && rv == 0; i++)
		rv = kv_delete_one(d, keys[i].key, keys[i].key_len, &count);
	if ((rv = kv_batch_end(d, rv)) == 0 && deleted != NULL)
		*deleted = count;
	return (rv);
}

/* ---- listing ---- */

/* Byte order: memcmp(), then the shorter first (SQLite's BLOB order). */
static int
kv_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0 || alen == blen)
		return (c);
	return (alen < blen ? -1 : 1);
}

/* A range of keys: lo <= key (< hi when has_hi). */
struct kv_range {
	const void *lo;
	size_t lo_len;
	const void *hi;
	size_t hi_len;
	int has_hi;
	uint8_t *succ; /* the prefix's successor, owned */
};

/*
 * Turn prefix/start/end into one range. Keys with prefix p are those in
 * [p, p'), where p' is p without its trailing 0xff bytes and with its last
 * byte then incremented; p of only 0xff bytes has no upper end.
 */
static int
kv_range(const struct duro_kv_list_opts *o, struct kv_range *r)
{
	size_t n = o->prefix_len;

	memset(r, 0, sizeof(*r));
	r->lo = "";
	if (o->start != NULL) {
		r->lo = o->start;
		r->lo_len = o->start_len;
	}
	if (o->end != NULL) {
		r->hi = o->end;
		r->hi_len = o->end_len;
		r->has_hi = 1;
	}
	if (o->prefix == NULL || n == 0)
		return (0);
	if (kv_cmp(o->prefix, n, r->lo, r->lo_len) > 0) {
		r->lo = o->prefix;
		r->lo_len = n;
	}
	while (n > 0 && ((const uint8_t *)o->prefix)[n - 1] == 0xff)
		n--;
	if (n == 0)
		return (0);
	if ((r->succ = kv_copy(o->prefix, n)) == NULL)
		return (DURO_ENOMEM);
	r->succ[n - 1]++;
	if (!r->has_hi || kv_cmp(r->succ, n, r->hi, r->hi_len) < 0) {
		r->hi = r->succ;
		r->hi_len = n;
		r->has_hi = 1;
	}
	return (0);
}

static int
kv_items_add(struct duro_kv_items *out, size_t *cap, sqlite3_stmt *stmt)
{
	struct duro_kv_item *it;
	size_t ncap;

	if (out->n == *cap) {
		ncap = *cap > 0 ? *cap * 2 : 16;
		if ((it = realloc(out->items, ncap * sizeof(*it))) == NULL)
			return (DURO_ENOMEM);
		out->items = it;
		*cap = ncap;
	}
	it = &out->items[out->n];
	memset(it, 0, sizeof(*it));
	it->key_len = (size_t)sqlite3_column_bytes(stmt, 0);
	it->key = kv_copy(sqlite3_column_blob(stmt, 0), it->key_len);
	it->value_len = (size_t)sqlite3_column_bytes(stmt, 1);
	it->value = kv_copy(sqlite3_column_blob(stmt, 1), it->value_len);
	it->found = 1;
	out->n++;
	if (it->key == NULL || it->value == NULL)
		return (DURO_ENOMEM);
	return (0);
}

/* Run the list statement for r and collect its rows. */
static int
kv_list_run(struct duro *d, const struct kv_range *r, int reverse, size_t limit,
    struct duro_kv_items *out)
{
	static const enum storage_stmt which[2][2] = {
	    {STMT_KV_LIST, STMT_KV_LIST_END},
	    {STMT_KV_LIST_DESC, STMT_KV_LIST_END_DESC},
	};
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rv;

	rv = duro_storage_stmt(d, which[reverse != 0][r->has_hi], &stmt);
	if (rv != 0)
		return (rv);
	rv = kv_bind(stmt, 1, r->lo, r->lo_len);
	if (rv == SQLITE_OK)
		rv = sqlite3_bind_int64(stmt, 2,
		    limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit);
	if (rv == SQLITE_OK && r->has_hi)
		rv = kv_bind(stmt, 3, r->hi, r->hi_len);
	if (rv == SQLITE_OK)
		while ((rv = duro_storage_step(d, stmt)) == SQLITE_ROW)
			if (kv_items_add(out, &cap, stmt) != 0) {
				sqlite3_reset(stmt);
				return (duro_storage_failf(
				    d, DURO_ENOMEM, "out of memory"));
			}
	rv = rv == SQLITE_DONE ? 0 : duro_storage_fail(d, rv);
	sqlite3_reset(stmt);
	return (rv);
}

int
duro_kv_list(struct duro *d, const struct duro_kv_list_opts *opts,
    struct duro_kv_items *out)
{
	static const struct duro_kv_list_opts all;
	struct kv_range r;
	int rv;

	out->items = NULL;
	out->n = 0;
	if (opts == NULL)
		opts = &all;
	if ((opts->prefix == NULL && opts->prefix_len > 0) ||
	    (opts->start == NULL && opts->start_len > 0) ||
	    (opts->end == NULL && opts->end_len > 0))
		return (duro_storage_failf(d, DURO_EINVAL, "NULL bound"));
	if ((rv = duro_storage_enter(d)) != 0)
		return (rv);
	if (kv_range(opts, &r) != 0)
		return (duro_storage_failf(d, DURO_ENOMEM, "out of memory"));
	if (!r.has_hi || kv_cmp(r.lo, r.lo_len, r.hi, r.hi_len) < 0)
		rv = kv_list_run(d, &r, opts->reverse, opts->limit, out);
	free(r.succ);
	return (rv);
}

/* ---- integers as decimal text (what a counter needs) ---- */

int
duro_kv_get_int(struct duro *d, const char *key, int64_t *value)
{
	char digits[24], *end;
	size_t len;
	void *v;
	int rv;

	*value = 0;
	if ((rv = duro_kv_get(d, key, strlen(key), &v, &len)) == DURO_ENOENT)
		return (0);
	if (rv != 0)
		return (rv);
	if (len == 0 || len >= sizeof(digits)) {
		free(v);
		return (duro_storage_failf(
		    d, DURO_ERANGE, "%s: not an integer", key));
	}
	memcpy(digits, v, len);
	digits[len] = '\0';
	free(v);
	errno = 0;
	*value = strtoll(digits, &end, 10);
	if (*end != '\0' || errno == ERANGE)
		return (duro_storage_failf(
		    d, DURO_ERANGE, "%s: not an integer", key));
	return (0);
}

int
duro_kv_put_int(struct duro *d, const char *key, int64_t value)
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%" PRId64, value);

	return (duro_kv_put(d, key, strlen(key), digits, (size_t)n));
}
