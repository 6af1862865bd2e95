/*
 * alarm_sched.c — the in-memory alarm schedule: a hash and a min-heap.
 *
 * Every entry is in both: the hash (uthash, keyed by the bytes "ns \0 id
 * name") finds an alarm by its identity, the binary min-heap (an array of
 * entry pointers, each entry knowing its slot in heap_idx_) orders them by
 * due time. Entries with the same due time leave in the order of their
 * key bytes, so the order of pops depends only on what is in the schedule,
 * not on the history of puts that built it.
 *
 * An entry is one allocation: the struct, then its key, then a 0 byte.
 * The key begins with the namespace name and its 0 byte (a namespace name
 * holds no 0 byte, so the key is unambiguous), and ends with the alarm
 * name, so e->name points into the key: "owned" by the entry, freed with
 * it, and never to be freed or replaced on its own.
 *
 * Pure: no I/O, no clock, no logging. The durable side (which rows are
 * loaded, when to reload) belongs to alarm_index.c; this file only keeps
 * the number that says how far the loaded window reaches.
 */

/*
 * A failed bucket allocation must not exit durod: with this, uthash
 * undoes the add and leaves e->hh.tbl NULL, and put reports -1.
 */
#define HASH_NONFATAL_OOM 1

#include <stdlib.h>
#include <string.h>

#include "durod.h"

#define HEAP_MIN_CAP 64
/* Keys up to this long are built on the stack (ns <= 64, name <= 256). */
#define KEY_STACK 512
/* Delays saturate here, far from overflowing now_ms + delay. */
#define RETRY_DELAY_MAX (UINT64_MAX / 2)
/* The largest double below 1: where jitter01 is clamped. */
#define JITTER_MAX 0x1.fffffffffffffp-1

struct alarm_sched {
	struct alarm_entry *by_key; /* uthash head */
	struct alarm_entry **heap;
	size_t n;
	size_t cap;
	uint64_t loaded_until;
};

/* A lookup key: on the stack when it fits, else on the heap. */
struct sched_key {
	char *buf;
	size_t len; /* without the trailing 0 byte */
	unsigned hashv;
	char stack[KEY_STACK];
};

static int
key_make(
    struct sched_key *k, const char *ns, const uint8_t *id, const char *name)
{
	size_t nslen = strlen(ns), namelen = strlen(name);

	k->len = nslen + 1 + DURO_ID_BYTES + namelen;
	k->buf = k->stack;
	if (k->len >= sizeof(k->stack) && (k->buf = malloc(k->len + 1)) == NULL)
		return (-1);
	memcpy(k->buf, ns, nslen + 1);
	memcpy(k->buf + nslen + 1, id, DURO_ID_BYTES);
	memcpy(k->buf + nslen + 1 + DURO_ID_BYTES, name, namelen + 1);
	HASH_VALUE(k->buf, k->len, k->hashv);
	return (0);
}

static void
key_done(struct sched_key *k)
{
	if (k->buf != k->stack)
		free(k->buf);
}

/* Whether e belongs to the object (ns, id): its key starts "ns \0 id". */
static int
entry_of_object(const struct alarm_entry *e, const char *ns, size_t nslen,
    const uint8_t *id)
{
	return (e->key_len_ >= nslen + 1 + DURO_ID_BYTES &&
	        memcmp(e->key_, ns, nslen + 1) == 0 &&
	        memcmp(e->key_ + nslen + 1, id, DURO_ID_BYTES) == 0);
}

/* Strict order of the heap: due time, then key bytes. Keys are unique. */
static int
entry_before(const struct alarm_entry *a, const struct alarm_entry *b)
{
	size_t len;
	int c;

	if (a->due_ms != b->due_ms)
		return (a->due_ms < b->due_ms);
	len = a->key_len_ < b->key_len_ ? a->key_len_ : b->key_len_;
	c = memcmp(a->key_, b->key_, len);
	return (c < 0 || (c == 0 && a->key_len_ < b->key_len_));
}

static void
heap_set(struct alarm_sched *s, size_t i, struct alarm_entry *e)
{
	s->heap[i] = e;
	e->heap_idx_ = i;
}

static void
heap_sift_up(struct alarm_sched *s, size_t i)
{
	struct alarm_entry *e = s->heap[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!entry_before(e, s->heap[parent]))
			break;
		heap_set(s, i, s->heap[parent]);
		i = parent;
	}
	heap_set(s, i, e);
}

static void
heap_sift_down(struct alarm_sched *s, size_t i)
{
	struct alarm_entry *e = s->heap[i];
	size_t child;

	while ((child = 2 * i + 1) < s->n) {
		if (child + 1 < s->n &&
		    entry_before(s->heap[child + 1], s->heap[child]))
			child++;
		if (!entry_before(s->heap[child], e))
			break;
		heap_set(s, i, s->heap[child]);
		i = child;
	}
	heap_set(s, i, e);
}

/* Restore the order around slot i after its entry's due time changed. */
static void
heap_fix(struct alarm_sched *s, size_t i)
{
	if (i > 0 && entry_before(s->heap[i], s->heap[(i - 1) / 2]))
		heap_sift_up(s, i);
	else
		heap_sift_down(s, i);
}

/* Room for one more entry; -1 when out of memory (nothing changed). */
static int
heap_reserve(struct alarm_sched *s)
{
	struct alarm_entry **h;
	size_t cap;

	if (s->n < s->cap)
		return (0);
	cap = s->cap == 0 ? HEAP_MIN_CAP : s->cap * 2;
	if (cap > SIZE_MAX / sizeof(*h))
		return (-1);
	if ((h = realloc(s->heap, cap * sizeof(*h))) == NULL)
		return (-1);
	s->heap = h;
	s->cap = cap;
	return (0);
}

/*
 * Give back most of the array after a burst has drained, so a spike of
 * alarms does not pin its memory for good. A failed shrink keeps the
 * bigger array, which is still correct.
 */
static void
heap_shrink(struct alarm_sched *s)
{
	struct alarm_entry **h;
	size_t cap = s->cap / 2;

	if (s->cap <= HEAP_MIN_CAP || s->n > s->cap / 4)
		return;
	if ((h = realloc(s->heap, cap * sizeof(*h))) == NULL)
		return;
	s->heap = h;
	s->cap = cap;
}

static void
heap_remove(struct alarm_sched *s, size_t i)
{
	struct alarm_entry *last = s->heap[--s->n];

	if (i < s->n) {
		heap_set(s, i, last);
		heap_fix(s, i);
	}
	heap_shrink(s);
}

/* Take e out of both structures; the caller frees or hands it on. */
static void
sched_unlink(struct alarm_sched *s, struct alarm_entry *e)
{
	heap_remove(s, e->heap_idx_);
	HASH_DELETE(hh, s->by_key, e);
	e->heap_idx_ = SIZE_MAX;
}

/*
 * The slow path of a lookup whose key could not be built (out of memory
 * for a key too long for the stack): a scan, correct if not fast.
 */
static struct alarm_entry *
sched_scan(
    struct alarm_sched *s, const char *ns, const uint8_t *id, const char *name)
{
	struct alarm_entry *e, *tmp;
	size_t nslen = strlen(ns);

	HASH_ITER (hh, s->by_key, e, tmp) {
		if (entry_of_object(e, ns, nslen, id) &&
		    strcmp(e->name, name) == 0)
			return (e);
	}
	return (NULL);
}

static struct alarm_entry *
sched_lookup(
    struct alarm_sched *s, const char *ns, const uint8_t *id, const char *name)
{
	struct sched_key k;
	struct alarm_entry *e;

	if (key_make(&k, ns, id, name) == -1)
		return (sched_scan(s, ns, id, name));
	HASH_FIND_BYHASHVALUE(hh, s->by_key, k.buf, k.len, k.hashv, e);
	key_done(&k);
	return (e);
}

static struct alarm_entry *
entry_new(const char *ns, const struct sched_key *k)
{
	struct alarm_entry *e;
	size_t nslen = strlen(ns);

	if (k->len > SIZE_MAX - sizeof(*e) - 1)
		return (NULL);
	if ((e = calloc(1, sizeof(*e) + k->len + 1)) == NULL)
		return (NULL);
	e->key_ = (char *)(e + 1);
	memcpy(e->key_, k->buf, k->len + 1);
	e->key_len_ = k->len;
	/* The key starts with the namespace name and a NUL: point there, so
	 * the entry never refers to a config that a reload freed. */
	e->ns = e->key_;
	memcpy(e->id, e->key_ + nslen + 1, DURO_ID_BYTES);
	e->name = e->key_ + nslen + 1 + DURO_ID_BYTES;
	return (e);
}

struct alarm_sched *
alarm_sched_new(void)
{
	return (calloc(1, sizeof(struct alarm_sched)));
}

void
alarm_sched_free(struct alarm_sched *s)
{
	size_t i;

	if (s == NULL)
		return;
	HASH_CLEAR(hh, s->by_key);
	for (i = 0; i < s->n; i++)
		free(s->heap[i]);
	free(s->heap);
	free(s);
}

/*
 * The key is hashed once: the same hash value serves the lookup and,
 * for a new alarm, the add. An update keeps the entry.
 */
int
alarm_sched_put(struct alarm_sched *s, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name, uint64_t due_ms,
    uint64_t scheduled_ms, uint64_t every_ms, uint32_t retry)
{
	struct sched_key k;
	struct alarm_entry *e;

	if (key_make(&k, ns, id, name) == -1)
		return (-1);
	HASH_FIND_BYHASHVALUE(hh, s->by_key, k.buf, k.len, k.hashv, e);
	if (e == NULL) {
		if (heap_reserve(s) == -1 || (e = entry_new(ns, &k)) == NULL) {
			key_done(&k);
			return (-1);
		}
		HASH_ADD_KEYPTR_BYHASHVALUE(
		    hh, s->by_key, e->key_, e->key_len_, k.hashv, e);
		if (e->hh.tbl == NULL) {
			free(e);
			key_done(&k);
			return (-1);
		}
		e->heap_idx_ = s->n++;
		s->heap[e->heap_idx_] = e;
	}
	key_done(&k);
	e->due_ms = due_ms;
	e->scheduled_ms = scheduled_ms;
	e->every_ms = every_ms;
	e->retry = retry;
	heap_fix(s, e->heap_idx_);
	return (0);
}

struct alarm_entry *
alarm_sched_find(struct alarm_sched *s, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name)
{
	return (sched_lookup(s, ns, id, name));
}

void
alarm_sched_del(struct alarm_sched *s, const char *ns,
    const uint8_t id[DURO_ID_BYTES], const char *name)
{
	struct alarm_entry *e;

	if ((e = sched_lookup(s, ns, id, name)) == NULL)
		return;
	sched_unlink(s, e);
	alarm_entry_free(e);
}

/*
 * A scan of every entry: O(n), acceptable because deleting an object is
 * a rare admin operation and a per-object index would cost every entry
 * memory for it.
 */
size_t
alarm_sched_del_object(
    struct alarm_sched *s, const char *ns, const uint8_t id[DURO_ID_BYTES])
{
	struct alarm_entry *e, *tmp;
	size_t nslen = strlen(ns), count = 0;

	HASH_ITER (hh, s->by_key, e, tmp) {
		if (!entry_of_object(e, ns, nslen, id))
			continue;
		sched_unlink(s, e);
		alarm_entry_free(e);
		count++;
	}
	return (count);
}

uint64_t
alarm_sched_next_due(const struct alarm_sched *s)
{
	return (s->n == 0 ? UINT64_MAX : s->heap[0]->due_ms);
}

struct alarm_entry *
alarm_sched_pop(struct alarm_sched *s, uint64_t now_ms)
{
	struct alarm_entry *e;

	if (s->n == 0 || s->heap[0]->due_ms > now_ms)
		return (NULL);
	e = s->heap[0];
	sched_unlink(s, e);
	return (e);
}

/* The name and key live in the entry's own allocation. */
void
alarm_entry_free(struct alarm_entry *e)
{
	free(e);
}

size_t
alarm_sched_count(const struct alarm_sched *s)
{
	return (s->n);
}

/*
 * dues[] is in nondecreasing order (the index query's ORDER BY). A fetch
 * of more than limit rows is treated like one of exactly limit: the rows
 * past the limit prove nothing about what comes after them either.
 * limit must be at least 1; with 0 nothing could have been fetched and
 * the window could not advance.
 */
uint64_t
alarm_window_end(const uint64_t *dues, size_t n, size_t limit,
    uint64_t horizon_ms, size_t *keep, int *all_at_set, uint64_t *all_at)
{
	uint64_t last;
	size_t k;

	*all_at_set = 0;
	*all_at = 0;
	if (n < limit || n == 0) {
		*keep = n;
		return (horizon_ms);
	}
	last = dues[n - 1];
	for (k = n - 1; k > 0 && dues[k - 1] == last; k--)
		;
	*keep = k;
	if (k > 0)
		return (last);
	/*
	 * All n rows share one due time and more may follow: the caller
	 * loads that whole due time, and the window ends just past it
	 * (it cannot end past UINT64_MAX; such a row stays out of memory).
	 */
	*all_at_set = 1;
	*all_at = last;
	return (last == UINT64_MAX ? last : last + 1);
}

uint64_t
alarm_sched_loaded_until(const struct alarm_sched *s)
{
	return (s->loaded_until);
}

void
alarm_sched_set_loaded_until(struct alarm_sched *s, uint64_t until_ms)
{
	s->loaded_until = until_ms;
}

int
alarm_sched_covers(const struct alarm_sched *s, uint64_t due_ms)
{
	return (due_ms < s->loaded_until);
}

/*
 * base_ms * 2^(retry-1) plus the jitter, floor(delay * 0.25 * jitter01)
 * kept strictly under a quarter of the delay so the result stays in
 * [delay, 1.25 delay); all of it saturated at RETRY_DELAY_MAX (2^63 - 1,
 * about 292 million years), which now_ms can be added to. A retry of 0
 * counts as the first; NaN or negative jitter counts as 0.
 */
uint64_t
alarm_retry_delay_ms(uint64_t base_ms, uint32_t retry, double jitter01)
{
	uint64_t delay, extra;
	uint32_t shift = retry > 0 ? retry - 1 : 0;

	if (base_ms == 0)
		return (0);
	if (shift >= 63 || base_ms > RETRY_DELAY_MAX >> shift)
		return (RETRY_DELAY_MAX);
	delay = base_ms << shift;
	if (!(jitter01 > 0))
		return (delay);
	if (jitter01 > JITTER_MAX)
		jitter01 = JITTER_MAX;
	extra = (uint64_t)((double)delay * 0.25 * jitter01);
	if (extra > (delay - 1) / 4)
		extra = (delay - 1) / 4;
	/* Both are below 2^63, so the sum cannot wrap. */
	delay += extra;
	return (delay > RETRY_DELAY_MAX ? RETRY_DELAY_MAX : delay);
}
