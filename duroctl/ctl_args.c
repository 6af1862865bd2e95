/*
 * ctl_args.c — what the command line means: a command's options and
 * positionals, the admin address, object arguments (id or name) and the
 * URLs they become. Pure: no I/O, unit-tested.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duroctl.h"

static const struct {
	const char *name;
	int has_arg;
} opt_defs[CTL_NOPTS] = {
    [CTL_OPT_HELP] = {"help", 0},
    [CTL_OPT_JSON] = {"json", 0},
    [CTL_OPT_NS] = {"ns", 1},
    [CTL_OPT_STATE] = {"state", 1},
    [CTL_OPT_LIMIT] = {"limit", 1},
    [CTL_OPT_ALL] = {"all", 0},
    [CTL_OPT_AFTER] = {"after", 1},
    [CTL_OPT_LONG] = {"long", 0},
    [CTL_OPT_MAX_ROWS] = {"max-rows", 1},
    [CTL_OPT_NAME] = {"name", 0},
    [CTL_OPT_ID] = {"id", 0},
};

/* The option "--name[=value]" names, or -1. */
static int
opt_lookup(const char *arg, size_t namelen)
{
	for (int i = 0; i < CTL_NOPTS; i++)
		if (strlen(opt_defs[i].name) == namelen &&
		    memcmp(opt_defs[i].name, arg, namelen) == 0)
			return (i);
	return (-1);
}

/* One option at argv[*i]; advances *i past its value. */
static int
args_option(struct ctl_args *a, int argc, char *const argv[], int *i,
    unsigned allowed, char *err, size_t errlen)
{
	const char *arg = argv[*i], *name, *eq;
	size_t namelen;
	int o;

	if (strcmp(arg, "-h") == 0)
		arg = "--help";
	name = arg + 2;
	eq = strchr(name, '=');
	namelen = eq != NULL ? (size_t)(eq - name) : strlen(name);
	o = opt_lookup(name, namelen);
	if (o < 0 || (o != CTL_OPT_HELP && !(allowed & CTL_OPTBIT(o)))) {
		snprintf(
		    err, errlen, "unknown option %.*s", (int)namelen + 2, arg);
		return (CTL_EUSAGE);
	}
	if (!opt_defs[o].has_arg) {
		if (eq != NULL) {
			snprintf(err, errlen, "option --%s takes no value",
			    opt_defs[o].name);
			return (CTL_EUSAGE);
		}
		a->opt[o] = "";
		return (0);
	}
	if (eq != NULL) {
		a->opt[o] = eq + 1;
		return (0);
	}
	if (*i + 1 >= argc) {
		snprintf(
		    err, errlen, "option --%s needs a value", opt_defs[o].name);
		return (CTL_EUSAGE);
	}
	a->opt[o] = argv[++*i];
	return (0);
}

int
ctl_args_parse(struct ctl_args *a, int argc, char *const argv[],
    unsigned allowed, char *err, size_t errlen)
{
	int only_pos = 0, rv;

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];

		if (!only_pos && strcmp(arg, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (!only_pos &&
		    (strncmp(arg, "--", 2) == 0 || strcmp(arg, "-h") == 0)) {
			if ((rv = args_option(
			         a, argc, argv, &i, allowed, err, errlen)) != 0)
				return (rv);
			continue;
		}
		if (!only_pos && arg[0] == '-' && arg[1] != '\0') {
			snprintf(err, errlen, "unknown option %s", arg);
			return (CTL_EUSAGE);
		}
		if (a->npos == CTL_MAX_POS) {
			snprintf(err, errlen, "too many arguments");
			return (CTL_EUSAGE);
		}
		a->pos[a->npos++] = arg;
	}
	return (0);
}

int
ctl_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
	unsigned long long n;
	char *end;

	/* strtoull() would take leading spaces, signs and "". */
	if (s == NULL || *s < '0' || *s > '9')
		return (-1);
	errno = 0;
	n = strtoull(s, &end, 10);
	if (*end != '\0' || errno == ERANGE || n < lo || n > hi)
		return (-1);
	*v = n;
	return (0);
}

const char *
ctl_addr_pick(const char *flag, const char *env)
{
	if (flag != NULL)
		return (flag);
	if (env != NULL && *env != '\0')
		return (env);
	return (CTL_DEFAULT_ADMIN);
}

/* Copy n bytes of s into dst (size dstlen) as a string: 0, or -1. */
static int
copy_part(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (n >= dstlen)
		return (-1);
	memcpy(dst, s, n);
	dst[n] = '\0';
	return (0);
}

int
ctl_addr_parse(struct ctl_addr *a, const char *s, char *err, size_t errlen)
{
	const char *host, *colon, *hend;
	size_t len;
	uint64_t port;

	memset(a, 0, sizeof(*a));
	snprintf(a->text, sizeof(a->text), "%s", s);
	if (strncmp(s, "http://", 7) == 0)
		s += 7;
	len = strlen(s);
	if (len > 0 && s[len - 1] == '/')
		len--;
	host = s;
	if (*s == '[') {
		host = s + 1;
		hend = memchr(s, ']', len);
		colon = hend != NULL && hend + 1 < s + len && hend[1] == ':'
		            ? hend + 1
		            : NULL;
	} else {
		colon = memrchr(s, ':', len);
		hend = colon;
	}
	if (colon == NULL || hend < host ||
	    copy_part(a->host, sizeof(a->host), host, (size_t)(hend - host)) !=
	        0 ||
	    copy_part(a->port, sizeof(a->port), colon + 1,
	        len - (size_t)(colon + 1 - s)) != 0 ||
	    ctl_parse_uint(a->port, 1, 65535, &port) != 0) {
		snprintf(err, errlen,
		    "bad admin address \"%s\": want HOST:PORT, e.g. %s",
		    a->text, CTL_DEFAULT_ADMIN);
		return (CTL_EUSAGE);
	}
	if (a->host[0] == '\0')
		snprintf(a->host, sizeof(a->host), "127.0.0.1");
	return (0);
}

int
ctl_is_id(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return (0);
	return (i == CTL_ID_HEX);
}

int
ctl_obj_parse(struct ctl_obj *o, const char *ns, const char *obj,
    int force_name, int force_id, char *err, size_t errlen)
{
	o->ns = ns;
	o->obj = obj;
	if (force_name && force_id) {
		snprintf(err, errlen, "--name and --id exclude each other");
		return (CTL_EUSAGE);
	}
	if (*ns == '\0' || *obj == '\0') {
		snprintf(err, errlen, "empty %s",
		    *ns == '\0' ? "namespace" : "object");
		return (CTL_EUSAGE);
	}
	if (force_id && !ctl_is_id(obj)) {
		snprintf(err, errlen,
		    "--id: \"%s\" is not an id (64 lowercase hex characters)",
		    obj);
		return (CTL_EUSAGE);
	}
	o->is_id = force_id || (!force_name && ctl_is_id(obj));
	return (0);
}

void
ctl_pct_encode(struct ctl_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~') {
			ctl_buf_add(b, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			ctl_buf_add(b, e, 3);
		}
	}
}

void
ctl_obj_path(struct ctl_buf *b, const struct ctl_obj *o, const char *suffix)
{
	ctl_buf_str(b, "/objects/");
	ctl_pct_encode(b, o->ns);
	ctl_buf_str(b, o->is_id ? "/" : "/.name/");
	ctl_pct_encode(b, o->obj);
	ctl_buf_str(b, suffix);
}

void
ctl_query_add(struct ctl_buf *b, int *first, const char *key, const char *value)
{
	if (value == NULL)
		return;
	ctl_buf_str(b, *first ? "?" : "&");
	*first = 0;
	ctl_buf_str(b, key);
	ctl_buf_str(b, "=");
	ctl_pct_encode(b, value);
}
