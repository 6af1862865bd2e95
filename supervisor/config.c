/*
 * config.c — the JSON config, parsed once into a struct config.
 *
 * Every key is described by one row of a table (top_keys, ns_keys): its
 * name, type, where it lives in the struct, its default and its bounds.
 * One walker applies a table to a JSON object, so the rules (unknown keys,
 * duplicate keys, types, bounds, defaults) are the same at every level and
 * every error names the JSON path of the value that caused it.
 *
 * The parser is pure: it reads no files except in config_load() and does
 * not look at the filesystem, so it can be unit-tested and run by --check.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durod.h"

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

#define CONFIG_MAX_BYTES (1024 * 1024)
#define IDENT_MAX 64     /* namespace and policy names */
#define HOSTNAME_MAX 253 /* RFC 1035, without the trailing dot */
#define IDENT_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_-"

/* Where the walker is, as a JSON path, and where errors go. */
struct cfg_ctx {
	char path[512];
	size_t len;
	char *err;
	size_t errlen;
};

enum cfg_type {
	CFG_STR,        /* non-empty string */
	CFG_HOSTPORT,   /* "host:port" */
	CFG_IDENT,      /* 1-64 of [a-z0-9_-] */
	CFG_CHOICE,     /* one of the words in .choices */
	CFG_INT,        /* exact integer, stored by size (4 or 8 bytes) */
	CFG_ARGV,       /* non-empty array of non-empty strings -> char ** */
	CFG_ENV,        /* object of strings -> "KEY=VALUE" char ** */
	CFG_NAMESPACES, /* object of namespace objects */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;
	size_t size;
	const char *sdefault; /* string types */
	uint64_t idefault;    /* CFG_INT */
	uint64_t min, max;    /* CFG_INT */
	const char *choices;  /* CFG_CHOICE: space-separated words */
	int required;
};

/*
 * The JSON key is always the struct member's name (#m), so the table
 * cannot drift from struct config / struct ns_config.
 */
#define KEY(st, m, t, def)                                                     \
	{                                                                      \
		.name = #m, .type = (t), .offset = offsetof(st, m),            \
		.size = sizeof(((st *)0)->m), .sdefault = (def)                \
	}
#define KEY_INT(st, m, def, lo, hi)                                            \
	{                                                                      \
		.name = #m, .type = CFG_INT, .offset = offsetof(st, m),        \
		.size = sizeof(((st *)0)->m), .idefault = (def), .min = (lo),  \
		.max = (hi)                                                    \
	}
#define KEY_CHOICE(st, m, def, words)                                          \
	{                                                                      \
		.name = #m, .type = CFG_CHOICE, .offset = offsetof(st, m),     \
		.size = sizeof(((st *)0)->m), .sdefault = (def),               \
		.choices = (words)                                             \
	}
#define KEY_REQ(st, m, t)                                                      \
	{                                                                      \
		.name = #m, .type = (t), .offset = offsetof(st, m),            \
		.size = sizeof(((st *)0)->m), .required = 1                    \
	}

static const struct cfg_key top_keys[] = {
    KEY(struct config, listen, CFG_HOSTPORT, "127.0.0.1:8080"),
    KEY(struct config, admin_listen, CFG_HOSTPORT, "127.0.0.1:8081"),
    KEY(struct config, data_dir, CFG_STR, "./var/data"),
    KEY(struct config, run_dir, CFG_STR, "./var/run"),
    KEY(struct config, policy_dir, CFG_STR, "./policies"),
    KEY_INT(struct config, max_active_objects, 10000, 1, 10000000),
    KEY_INT(struct config, max_body_bytes, 16777216, 1, 1073741824),
    KEY_INT(struct config, alarm_window_rows, 65536, 1, 10000000),
    KEY_INT(struct config, alarm_window_ms, 600000, 1, 86400000),
    KEY_CHOICE(struct config, log_format, "text", "text json"),
    KEY_REQ(struct config, namespaces, CFG_NAMESPACES),
};

static const struct cfg_key ns_keys[] = {
    KEY_REQ(struct ns_config, exec, CFG_ARGV),
    KEY(struct ns_config, policy, CFG_IDENT, "native"),
    KEY_INT(struct ns_config, idle_timeout_ms, 10000, 1, 86400000),
    KEY_INT(struct ns_config, request_timeout_ms, 30000, 1, 3600000),
    KEY_INT(struct ns_config, start_timeout_ms, 5000, 1, 600000),
    KEY_INT(struct ns_config, hibernate_grace_ms, 2000, 1, 600000),
    KEY_INT(struct ns_config, memory_limit_mb, 128, 16, 1048576),
    KEY_INT(struct ns_config, storage_limit_mb, 1024, 1, 1048576),
    KEY_CHOICE(struct ns_config, synchronous, "FULL", "FULL NORMAL"),
    KEY_INT(struct ns_config, max_queue, 1000, 1, 1000000),
    KEY_INT(struct ns_config, max_restarts, 5, 0, 1000000),
    KEY_INT(struct ns_config, restart_window_ms, 10000, 1, 86400000),
    KEY_INT(struct ns_config, restart_backoff_max_ms, 60000, 1000, 86400000),
    KEY_INT(struct ns_config, alarm_retry_base_ms, 2000, 1, 3600000),
    KEY_INT(struct ns_config, alarm_max_retries, 6, 0, 100),
    KEY(struct ns_config, read_paths, CFG_ARGV, NULL),
    KEY(struct ns_config, env, CFG_ENV, NULL),
};

static int table_parse(
    struct cfg_ctx *, const struct cfg_key *, size_t, const cJSON *, void *);
static void table_free(const struct cfg_key *, size_t, void *);

/* ---- error reporting and the JSON path ---- */

static int
cfg_fail(struct cfg_ctx *c, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->errlen > 0)
		snprintf(c->err, c->errlen, "%s: %s",
		    c->len > 0 ? c->path : "config", why);
	return (-1);
}

/* Keys come from the file: control bytes become '?' so errors stay one line. */
static void
path_putc(struct cfg_ctx *c, char ch)
{
	if (c->len + 1 >= sizeof(c->path))
		return;
	if ((unsigned char)ch < 0x20 || ch == 0x7f)
		ch = '?';
	c->path[c->len++] = ch;
	c->path[c->len] = '\0';
}

/* Append ".key" (or "key" at the top); returns what path_pop() restores. */
static size_t
path_push(struct cfg_ctx *c, const char *key)
{
	size_t saved = c->len;

	if (c->len > 0)
		path_putc(c, '.');
	for (; *key != '\0'; key++)
		path_putc(c, *key);
	return (saved);
}

static size_t
path_index(struct cfg_ctx *c, size_t i)
{
	size_t saved = c->len;
	char buf[32];

	snprintf(buf, sizeof(buf), "[%zu]", i);
	for (char *p = buf; *p != '\0'; p++)
		path_putc(c, *p);
	return (saved);
}

static void
path_pop(struct cfg_ctx *c, size_t saved)
{
	c->len = saved;
	c->path[saved] = '\0';
}

/* ---- validators ---- */

static int
is_ident(const char *s)
{
	size_t len = strlen(s);

	return (len >= 1 && len <= IDENT_MAX && strspn(s, IDENT_CHARS) == len);
}

static int
is_nonempty(const char *s)
{
	return (s[0] != '\0');
}

static int
is_hostport(const char *s)
{
	char host[HOSTNAME_MAX + 1];
	int port;

	return (config_split_hostport(s, host, sizeof(host), &port) == 0);
}

/* [A-Za-z_][A-Za-z0-9_]*: what a POSIX shell accepts as a variable name. */
static int
is_env_name(const char *s)
{
	static const char first[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
	static const char rest[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789";

	return (s[0] != '\0' && strchr(first, s[0]) != NULL &&
	        strspn(s, rest) == strlen(s));
}

static int
strp_cmp(const void *a, const void *b)
{
	return (strcmp(*(const char *const *)a, *(const char *const *)b));
}

/*
 * cJSON keeps every member of an object, duplicates included, and lookups
 * return the first; a later duplicate would be silently ignored, so it is
 * an error. Sorting keeps this O(n log n) for large env objects.
 */
static int
obj_check_dups(struct cfg_ctx *c, const cJSON *o)
{
	const cJSON *e;
	const char **keys;
	size_t n = 0, i;
	int rv = 0;

	if ((n = (size_t)cJSON_GetArraySize(o)) < 2)
		return (0);
	if ((keys = calloc(n, sizeof(*keys))) == NULL)
		return (cfg_fail(c, "out of memory"));
	i = 0;
	cJSON_ArrayForEach (e, o)
		keys[i++] = e->string;
	qsort(keys, n, sizeof(*keys), strp_cmp);
	for (i = 1; i < n && rv == 0; i++) {
		if (strcmp(keys[i - 1], keys[i]) == 0) {
			path_push(c, keys[i]);
			rv = cfg_fail(c, "duplicate key");
		}
	}
	free(keys);
	return (rv);
}

/* ---- one parse/default/free triple per type ---- */

static void *
field(const struct cfg_key *k, void *base)
{
	return ((char *)base + k->offset);
}

/* s is one of the space-separated words. */
static int
is_choice(const char *words, const char *s)
{
	size_t n = strlen(s);

	for (const char *w = words; *w != '\0';
	     w += strcspn(w, " "), w += *w == ' ') {
		if (strncmp(w, s, n) == 0 && (w[n] == ' ' || w[n] == '\0') &&
		    n > 0)
			return (1);
	}
	return (0);
}

static int
str_valid(const struct cfg_key *k, const char *s)
{
	switch (k->type) {
	case CFG_HOSTPORT:
		return (is_hostport(s));
	case CFG_IDENT:
		return (is_ident(s));
	case CFG_CHOICE:
		return (is_choice(k->choices, s));
	default:
		return (is_nonempty(s));
	}
}

static int
str_parse(
    struct cfg_ctx *c, const struct cfg_key *k, const cJSON *v, void *base)
{
	static const char *const why[] = {
	    [CFG_STR] = "must be a non-empty string",
	    [CFG_HOSTPORT] = "must be \"host:port\"",
	    [CFG_IDENT] = "must be 1-64 characters of [a-z0-9_-]",
	};
	char **sp = field(k, base);

	if (!cJSON_IsString(v) || !str_valid(k, v->valuestring)) {
		if (k->type == CFG_CHOICE)
			return (cfg_fail(c, "must be one of: %s", k->choices));
		return (cfg_fail(c, "%s", why[k->type]));
	}
	if ((*sp = strdup(v->valuestring)) == NULL)
		return (cfg_fail(c, "out of memory"));
	return (0);
}

static int
str_default(struct cfg_ctx *c, const struct cfg_key *k, void *base)
{
	char **sp = field(k, base);

	if ((*sp = strdup(k->sdefault)) == NULL)
		return (cfg_fail(c, "out of memory"));
	return (0);
}

static void
str_free(const struct cfg_key *k, void *base)
{
	char **sp = field(k, base);

	free(*sp);
	*sp = NULL;
}

static void
int_store(const struct cfg_key *k, void *base, uint64_t u)
{
	if (k->size == sizeof(uint32_t))
		*(uint32_t *)field(k, base) = (uint32_t)u;
	else
		*(uint64_t *)field(k, base) = u;
}

/*
 * A JSON number whose value is an exact integer within bounds. The bounds
 * test comes first, so the cast below never sees a value out of range.
 */
static int
int_parse(
    struct cfg_ctx *c, const struct cfg_key *k, const cJSON *v, void *base)
{
	double d = v->valuedouble;

	if (!cJSON_IsNumber(v) ||
	    !(d >= (double)k->min && d <= (double)k->max) ||
	    (double)(uint64_t)d != d)
		return (
		    cfg_fail(c, "must be an integer in %" PRIu64 "..%" PRIu64,
		        k->min, k->max));
	int_store(k, base, (uint64_t)d);
	return (0);
}

static int
int_default(struct cfg_ctx *c, const struct cfg_key *k, void *base)
{
	int_store(k, base, k->idefault);
	return (0);
}

static void
vec_free(const struct cfg_key *k, void *base)
{
	char ***vp = field(k, base);

	if (*vp == NULL)
		return;
	for (char **p = *vp; *p != NULL; p++)
		free(*p);
	free(*vp);
	*vp = NULL;
}

static int
argv_parse(
    struct cfg_ctx *c, const struct cfg_key *k, const cJSON *v, void *base)
{
	char ***vp = field(k, base);
	const cJSON *e;
	size_t n, i = 0;

	if (!cJSON_IsArray(v) || (n = (size_t)cJSON_GetArraySize(v)) == 0)
		return (cfg_fail(c, "must be a non-empty array of strings"));
	if ((*vp = calloc(n + 1, sizeof(**vp))) == NULL)
		return (cfg_fail(c, "out of memory"));
	cJSON_ArrayForEach (e, v) {
		if (!cJSON_IsString(e) || e->valuestring[0] == '\0') {
			path_index(c, i);
			return (cfg_fail(c, "must be a non-empty string"));
		}
		if (((*vp)[i++] = strdup(e->valuestring)) == NULL)
			return (cfg_fail(c, "out of memory"));
	}
	return (0);
}

/* One env entry; the caller has pushed its key onto the path. */
static int
env_entry(struct cfg_ctx *c, const cJSON *e, char **out)
{
	if (!is_env_name(e->string))
		return (cfg_fail(c, "name must match [A-Za-z_][A-Za-z0-9_]*"));
	/* durod passes the worker its identity in DURO_*; a namespace must
	 * not be able to override (or spoof) any of it. */
	if (strncmp(e->string, "DURO_", 5) == 0)
		return (cfg_fail(c, "the DURO_ prefix is reserved for durod"));
	if (!cJSON_IsString(e))
		return (cfg_fail(c, "must be a string"));
	if (asprintf(out, "%s=%s", e->string, e->valuestring) < 0) {
		*out = NULL;
		return (cfg_fail(c, "out of memory"));
	}
	return (0);
}

static int
env_parse(
    struct cfg_ctx *c, const struct cfg_key *k, const cJSON *v, void *base)
{
	char ***vp = field(k, base);
	const cJSON *e;
	size_t n, i = 0;

	if (!cJSON_IsObject(v))
		return (cfg_fail(c, "must be an object of strings"));
	if (obj_check_dups(c, v) != 0)
		return (-1);
	n = (size_t)cJSON_GetArraySize(v);
	if ((*vp = calloc(n + 1, sizeof(**vp))) == NULL)
		return (cfg_fail(c, "out of memory"));
	cJSON_ArrayForEach (e, v) {
		size_t saved = path_push(c, e->string);

		if (env_entry(c, e, &(*vp)[i++]) != 0)
			return (-1);
		path_pop(c, saved);
	}
	return (0);
}

/* No env key means an empty environment, still NULL-terminated. */
static int
env_default(struct cfg_ctx *c, const struct cfg_key *k, void *base)
{
	char ***vp = field(k, base);

	if ((*vp = calloc(1, sizeof(**vp))) == NULL)
		return (cfg_fail(c, "out of memory"));
	return (0);
}

/*
 * A namespace name is the first path segment of its URLs, a directory
 * under data_dir and a metrics label, hence the narrow alphabet.
 */
static int
ns_name_check(struct cfg_ctx *c, const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > IDENT_MAX)
		return (cfg_fail(
		    c, "namespace name must be 1-%d characters", IDENT_MAX));
	if (strspn(name, IDENT_CHARS) != len)
		return (cfg_fail(c,
		    "namespace name may only contain a-z, 0-9, '_' and '-'"));
	if (name[0] == '-' || name[0] == '_')
		return (cfg_fail(c,
		    "namespace name must start with a letter or "
		    "digit ('-' reads as an option to tools run on "
		    "<data_dir>/<name>; '_' is reserved for durod)"));
	return (0);
}

/*
 * Namespaces are the one type that fills two members (the array and its
 * count), so it works on struct config directly rather than on k->offset.
 * nnamespaces counts the slots in use so config_free() can undo a partial
 * parse.
 */
static int
ns_parse(struct cfg_ctx *c, const struct cfg_key *k, const cJSON *v, void *base)
{
	struct config *cfg = base;
	const cJSON *e;
	size_t n;

	if (!cJSON_IsObject(v) || (n = (size_t)cJSON_GetArraySize(v)) == 0)
		return (cfg_fail(
		    c, "must be an object with at least one namespace"));
	if (obj_check_dups(c, v) != 0)
		return (-1);
	if ((cfg->namespaces = calloc(n, sizeof(*cfg->namespaces))) == NULL)
		return (cfg_fail(c, "out of memory"));
	cJSON_ArrayForEach (e, v) {
		struct ns_config *ns = &cfg->namespaces[cfg->nnamespaces++];
		size_t saved = path_push(c, e->string);

		if (ns_name_check(c, e->string) != 0)
			return (-1);
		if ((ns->name = strdup(e->string)) == NULL)
			return (cfg_fail(c, "out of memory"));
		if (table_parse(c, ns_keys, NITEMS(ns_keys), e, ns) != 0)
			return (-1);
		path_pop(c, saved);
	}
	return (0);
}

static void
ns_free(const struct cfg_key *k, void *base)
{
	struct config *cfg = base;

	for (size_t i = 0; i < cfg->nnamespaces; i++) {
		free(cfg->namespaces[i].name);
		table_free(ns_keys, NITEMS(ns_keys), &cfg->namespaces[i]);
	}
	free(cfg->namespaces);
	cfg->namespaces = NULL;
	cfg->nnamespaces = 0;
}

struct cfg_type_ops {
	int (*parse)(
	    struct cfg_ctx *, const struct cfg_key *, const cJSON *, void *);
	int (*dflt)(struct cfg_ctx *, const struct cfg_key *, void *);
	void (*free)(const struct cfg_key *, void *);
};

static const struct cfg_type_ops cfg_types[] = {
    [CFG_STR] = {str_parse, str_default, str_free},
    [CFG_HOSTPORT] = {str_parse, str_default, str_free},
    [CFG_IDENT] = {str_parse, str_default, str_free},
    [CFG_CHOICE] = {str_parse, str_default, str_free},
    [CFG_INT] = {int_parse, int_default, NULL},
    [CFG_ARGV] = {argv_parse, NULL, vec_free},
    [CFG_ENV] = {env_parse, env_default, vec_free},
    [CFG_NAMESPACES] = {ns_parse, NULL, ns_free},
};

/* ---- the walker ---- */

static const struct cfg_key *
key_byname(const struct cfg_key *keys, size_t nkeys, const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (&keys[i]);
	return (NULL);
}

/*
 * Apply a table to one JSON object: reject unknown and duplicate keys
 * first, then fill every member from its key or its default. On error the
 * members filled so far stay in base for table_free().
 */
static int
table_parse(struct cfg_ctx *c, const struct cfg_key *keys, size_t nkeys,
    const cJSON *o, void *base)
{
	const cJSON *e;
	size_t saved;

	if (!cJSON_IsObject(o))
		return (cfg_fail(c, "must be a JSON object"));
	if (obj_check_dups(c, o) != 0)
		return (-1);
	cJSON_ArrayForEach (e, o) {
		if (key_byname(keys, nkeys, e->string) == NULL) {
			path_push(c, e->string);
			return (cfg_fail(c, "unknown key"));
		}
	}
	for (size_t i = 0; i < nkeys; i++) {
		const struct cfg_key *k = &keys[i];
		const struct cfg_type_ops *ops = &cfg_types[k->type];
		int rv = 0;

		e = cJSON_GetObjectItemCaseSensitive(o, k->name);
		saved = path_push(c, k->name);
		if (e != NULL)
			rv = ops->parse(c, k, e, base);
		else if (k->required)
			rv = cfg_fail(c, "required");
		else if (ops->dflt != NULL)
			rv = ops->dflt(c, k, base);
		if (rv != 0)
			return (-1);
		path_pop(c, saved);
	}
	return (0);
}

static void
table_free(const struct cfg_key *keys, size_t nkeys, void *base)
{
	for (size_t i = 0; i < nkeys; i++)
		if (cfg_types[keys[i].type].free != NULL)
			cfg_types[keys[i].type].free(&keys[i], base);
}

/* ---- the entry points ---- */

/*
 * cJSON stops at the end of the first value, so trailing bytes are
 * checked here. The copy gives cJSON the NUL terminator it relies on in
 * places; a NUL inside the text is not JSON and is rejected up front.
 */
static cJSON *
json_parse(struct cfg_ctx *c, const char *json, size_t len)
{
	const char *nul, *end = NULL;
	char *copy;
	cJSON *root = NULL;
	size_t off;

	if ((nul = memchr(json, '\0', len)) != NULL) {
		cfg_fail(c, "invalid JSON near byte %zu", (size_t)(nul - json));
		return (NULL);
	}
	if ((copy = malloc(len + 1)) == NULL) {
		cfg_fail(c, "out of memory");
		return (NULL);
	}
	memcpy(copy, json, len);
	copy[len] = '\0';
	root = cJSON_ParseWithLengthOpts(copy, len, &end, 0);
	off = end != NULL ? (size_t)(end - copy) : 0;
	while (
	    root != NULL && off < len && strchr(" \t\r\n", copy[off]) != NULL)
		off++;
	if (root == NULL || off < len) {
		cJSON_Delete(root);
		root = NULL;
		cfg_fail(c, "invalid JSON near byte %zu", off);
	}
	free(copy);
	return (root);
}

int
config_parse(
    const char *json, size_t len, struct config **out, char *err, size_t errlen)
{
	struct cfg_ctx c = {.len = 0, .err = err, .errlen = errlen};
	struct config *cfg;
	cJSON *root;
	int rv;

	*out = NULL;
	c.path[0] = '\0';
	if ((root = json_parse(&c, json, len)) == NULL)
		return (-1);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		cJSON_Delete(root);
		return (cfg_fail(&c, "out of memory"));
	}
	rv = table_parse(&c, top_keys, NITEMS(top_keys), root, cfg);
	cJSON_Delete(root);
	if (rv != 0) {
		config_free(cfg);
		return (-1);
	}
	*out = cfg;
	return (0);
}

/* Read at most CONFIG_MAX_BYTES; a bigger file is surely not a config. */
static int
file_read(
    const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n = 0;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (buf = malloc(CONFIG_MAX_BYTES + 1)) == NULL)
		goto fail;
	while (len <= CONFIG_MAX_BYTES) {
		n = read(fd, buf + len, CONFIG_MAX_BYTES + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (n == -1)
		goto fail;
	close(fd);
	if (len > CONFIG_MAX_BYTES) {
		free(buf);
		snprintf(err, errlen, "%s: larger than %d bytes", path,
		    CONFIG_MAX_BYTES);
		return (-1);
	}
	*out = buf;
	*outlen = len;
	return (0);
fail:
	saved = errno;
	free(buf);
	if (fd != -1)
		close(fd);
	snprintf(err, errlen, "%s: %s", path, strerror(saved));
	return (-1);
}

int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rv;

	*out = NULL;
	if (file_read(path, &buf, &len, err, errlen) != 0)
		return (-1);
	rv = config_parse(buf, len, out, err, errlen);
	free(buf);
	return (rv);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	table_free(top_keys, NITEMS(top_keys), cfg);
	free(cfg);
}

/* NULL-terminated string vectors, either possibly NULL. */
static int
strv_equal(char *const *a, char *const *b)
{
	for (; a != NULL && b != NULL && *a != NULL && *b != NULL; a++, b++)
		if (strcmp(*a, *b) != 0)
			return (0);
	return ((a == NULL || *a == NULL) && (b == NULL || *b == NULL));
}

/* Member k of two structs of the table's type: equal? */
static int
key_equal(const struct cfg_key *k, const void *a, const void *b)
{
	const void *pa = (const char *)a + k->offset;
	const void *pb = (const char *)b + k->offset;
	const char *sa, *sb;

	switch (k->type) {
	case CFG_INT:
		return (memcmp(pa, pb, k->size) == 0);
	case CFG_ARGV:
	case CFG_ENV:
		return (strv_equal(
		    *(char *const *const *)pa, *(char *const *const *)pb));
	case CFG_NAMESPACES:
		return (0); /* not compared here */
	default:
		sa = *(const char *const *)pa;
		sb = *(const char *const *)pb;
		return (sa == sb ||
		        (sa != NULL && sb != NULL && strcmp(sa, sb) == 0));
	}
}

int
config_ns_equal(const struct ns_config *a, const struct ns_config *b)
{
	for (size_t i = 0; i < NITEMS(ns_keys); i++)
		if (!key_equal(&ns_keys[i], a, b))
			return (0);
	return (1);
}

int
config_top_equal(
    const struct config *a, const struct config *b, const char *key)
{
	const struct cfg_key *k = key_byname(top_keys, NITEMS(top_keys), key);

	return (k != NULL && key_equal(k, a, b));
}

const struct ns_config *
config_ns_byname(const struct config *cfg, const char *name, size_t len)
{
	for (size_t i = 0; cfg != NULL && i < cfg->nnamespaces; i++) {
		const struct ns_config *ns = &cfg->namespaces[i];

		if (strlen(ns->name) == len && memcmp(ns->name, name, len) == 0)
			return (ns);
	}
	return (NULL);
}

/* ---- host:port ---- */

/*
 * A DNS name: dot-separated labels of 1-63 letters, digits and '-', not
 * starting or ending with '-'. All-numeric names must be IPv4 literals, so
 * a typo like "127.0.0.256" is an error rather than a lookup.
 */
static int
host_valid(const char *h, size_t len)
{
	struct in_addr a4;
	size_t label = 0;

	if (len == 0 || len > HOSTNAME_MAX)
		return (0);
	if (strspn(h, "0123456789.") == len)
		return (inet_pton(AF_INET, h, &a4) == 1);
	for (size_t i = 0; i <= len; i++) {
		if (i == len || h[i] == '.') {
			if (label == 0 || label > 63 || h[i - 1] == '-')
				return (0);
			label = 0;
		} else if (h[i] == '-' && label == 0) {
			return (0);
		} else if (strchr("abcdefghijklmnopqrstuvwxyz"
		                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
		               h[i]) == NULL) {
			return (0);
		} else
			label++;
	}
	return (1);
}

/* 1-5 digits, 1..65535; no sign, no spaces. */
static int
port_parse(const char *s, int *port)
{
	size_t len = strlen(s);
	int p = 0;

	if (len == 0 || len > 5 || strspn(s, "0123456789") != len)
		return (-1);
	for (; *s != '\0'; s++)
		p = p * 10 + (*s - '0');
	if (p < 1 || p > 65535)
		return (-1);
	*port = p;
	return (0);
}

/*
 * host receives the host without brackets ("::1" for "[::1]:80"), which
 * is what getaddrinfo() wants. Unbracketed IPv6 is rejected: its last
 * colon would be ambiguous.
 */
int
config_split_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	struct in6_addr a6;
	const char *h = s, *colon;
	size_t hl;
	int p, ok;

	if (s == NULL || hostlen == 0)
		return (-1);
	if (s[0] == '[') {
		if ((colon = strchr(s, ']')) == NULL || colon[1] != ':')
			return (-1);
		h = s + 1;
		hl = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strchr(s, ':')) == NULL)
			return (-1);
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen || port_parse(colon + 1, &p) != 0)
		return (-1);
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (s[0] == '[')
		ok = inet_pton(AF_INET6, host, &a6) == 1;
	else
		ok = host_valid(host, hl);
	if (!ok) {
		host[0] = '\0';
		return (-1);
	}
	*port = p;
	return (0);
}
