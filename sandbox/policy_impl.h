/*
 * policy_impl.h — private to policy.c and policy_seccomp.c: the parsed
 * policy, the state of one load, and the JSON helpers both use.
 */
#ifndef DURO_POLICY_IMPL_H
#define DURO_POLICY_IMPL_H

#include <cjson/cJSON.h>
#include <seccomp.h>

#include "sandbox.h"

#define POLICY_MAX_BYTES (1024 * 1024)
#define POLICY_MAX_RULES 1024
#define POLICY_MAX_ABI 64
#define POLICY_MAX_NOFILE (1024 * 1024)
#define WHERE_MAX 96

/* Which list of the seccomp section a rule came from. */
enum { LIST_ALLOW, LIST_ERRNO };

/* One seccomp rule, parsed, waiting to be compiled. */
struct rule {
	int nr; /* native syscall number, or libseccomp's pseudo number */
	int list;
	uint32_t action;
	unsigned int nargs;
	struct scmp_arg_cmp args[6];
	char where[WHERE_MAX]; /* "seccomp.allow[3]", for errors */
};

struct sb_policy {
	char *name;
	int best_effort;
	int min_abi;      /* as written */
	int landlock_abi; /* what the worker gets; 0: none */
	char **paths[SB_EXECUTE + 1];
	uint64_t nofile;
	int has_ids;
	uid_t uid;
	gid_t gid;
	struct sock_fprog *filter; /* NULL: none, or not applicable */
};

/* The state of one load: where errors go, the rules gathered so far. */
struct load {
	const char *file;
	char *err;
	size_t errlen;
	uint32_t default_action;
	struct rule *rules;
	int nrules;
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* policy.c: errors and JSON fields, each error naming file and path. */
/* Fill err with "<file>: <where>: <why>" and return -1. */
int load_error(struct load *, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A JSON path into buf (WHERE_MAX bytes); a long one is cut short. */
void where_fmt(char *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* where.key, or key at the top level. */
void where_key(char *buf, const char *where, const char *key);
/* Every key of obj in allowed (NULL-terminated), none twice. */
int check_keys(struct load *, const cJSON *obj, const char *where,
    const char *const *allowed);
int get_string(struct load *, const cJSON *obj, const char *where,
    const char *key, int required, const char **out);
int get_int(struct load *, const cJSON *obj, const char *where, const char *key,
    int required, double min, double max, double *out);

/* policy_seccomp.c: the "seccomp" section. */
/* Parse it into l->rules and l->default_action. */
int policy_parse_seccomp(struct load *, const cJSON *sec);
/* Compile the rules into a BPF program (malloc'd). */
int policy_compile_filter(struct load *, struct sock_fprog **out);

#endif
