/*
 * duroctl.h — duroctl's one private header, prototypes grouped by file.
 *
 * duroctl is the command-line face of durod's admin HTTP API:
 *   main.c (global options, command table, usage, exit codes)
 *   -> ctl_args.c (command options, the address, object arguments, URLs)
 *   -> ctl_cmd.c / ctl_data.c (one function per command)
 *   -> ctl_http.c (one HTTP/1.1 request per connection, libhttp-parser)
 *   and out: ctl_json.c (cJSON with exact numbers) -> ctl_format.c (tables,
 *   event lines, summaries; pure, unit-tested).
 */
#ifndef DURO_DUROCTL_H
#define DURO_DUROCTL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Exit codes: documented in --help (main.c). */
#define CTL_OK 0     /* success */
#define CTL_EAPI 1   /* durod answered with an error */
#define CTL_EUSAGE 2 /* bad command line */
#define CTL_ECONN 3  /* durod unreachable, timed out, or answered garbage */
#define CTL_ELOCAL 4 /* a local file or stdout failed, or out of memory */

#define CTL_DEFAULT_ADMIN "127.0.0.1:8081"
#define CTL_ADMIN_ENV "DURO_ADMIN"
#define CTL_ID_HEX 64

/* ---- ctl_buf.c: a growable, NUL-terminated byte buffer ---- */

/*
 * Errors are sticky, like ferror(): after a failed allocation every
 * further add is a no-op and err stays set, so formatting code appends
 * freely and checks once at the end.
 */
struct ctl_buf {
	char *p; /* NUL-terminated when not NULL */
	size_t len, cap;
	int err;
};

void ctl_buf_add(struct ctl_buf *, const void *, size_t);
void ctl_buf_str(struct ctl_buf *, const char *);
void ctl_buf_printf(struct ctl_buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
void ctl_buf_pad(struct ctl_buf *, char, size_t n);
/* The text, "" when empty; never NULL. */
const char *ctl_buf_text(const struct ctl_buf *);
void ctl_buf_reset(struct ctl_buf *); /* empty it, keep the memory */
void ctl_buf_free(struct ctl_buf *);

/* ---- ctl_args.c: command options, the address, objects, URLs ---- */

enum ctl_opt {
	CTL_OPT_HELP,
	CTL_OPT_JSON,
	CTL_OPT_NS,
	CTL_OPT_STATE,
	CTL_OPT_LIMIT,
	CTL_OPT_ALL,
	CTL_OPT_AFTER,
	CTL_OPT_LONG,
	CTL_OPT_MAX_ROWS,
	CTL_OPT_NAME,
	CTL_OPT_ID,
	CTL_NOPTS
};
#define CTL_OPTBIT(o) (1u << (o))
#define CTL_MAX_POS 8

/* A command's arguments: positionals in order, options by enum ctl_opt
 * (NULL when absent, "" for a flag that is set). */
struct ctl_args {
	const char *pos[CTL_MAX_POS];
	size_t npos;
	const char *opt[CTL_NOPTS];
};

/*
 * Parse a command's arguments (argv[0] is the first one after the
 * command). Options ("--json", "--ns NS", "--ns=NS", "-h") may come
 * anywhere; "--" ends them; "-" alone is a positional. Only options in
 * the allowed mask are accepted (--help always is). Returns 0, or
 * CTL_EUSAGE with err.
 */
int ctl_args_parse(struct ctl_args *, int argc, char *const argv[],
    unsigned allowed, char *err, size_t errlen);
/* A decimal integer in lo..hi: 0, or -1 when s is anything else. */
int ctl_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *v);

struct ctl_addr {
	char host[256];
	char port[8];
	char text[272]; /* "host:port" as the user wrote it, for messages */
};

/* The address to use: --admin if given, else $DURO_ADMIN if set and not
 * empty, else CTL_DEFAULT_ADMIN. */
const char *ctl_addr_pick(const char *flag, const char *env);
/* "HOST:PORT", "[V6]:PORT", optionally "http://...[/]". 0, or
 * CTL_EUSAGE with err. */
int ctl_addr_parse(struct ctl_addr *, const char *s, char *err, size_t);

/* An object argument: a namespace and a 64-hex id or a name. */
struct ctl_obj {
	const char *ns;
	const char *obj;
	int is_id;
};

/* 1 when s is exactly 64 lowercase hex characters. */
int ctl_is_id(const char *s);
/*
 * OBJ is an id when it looks like one (ctl_is_id), else a name; --id or
 * --name (force_id, force_name) decide instead. 0, or CTL_EUSAGE with err
 * (an empty namespace or name, --id with a non-id, both forced).
 */
int ctl_obj_parse(struct ctl_obj *, const char *ns, const char *obj,
    int force_name, int force_id, char *err, size_t errlen);
/* Percent-encode all but the unreserved characters A-Za-z0-9-._~. */
void ctl_pct_encode(struct ctl_buf *, const char *);
/* "/objects/<ns>/<id>" or "/objects/<ns>/.name/<name>", encoded, then
 * suffix (e.g. "/sql"). */
void ctl_obj_path(struct ctl_buf *, const struct ctl_obj *, const char *);
/* Append "?key=value" or "&key=value" (value encoded) when value is not
 * NULL; *first says whether a '?' is still due. */
void ctl_query_add(
    struct ctl_buf *, int *first, const char *key, const char *value);

/* ---- ctl_json.c: cJSON that keeps numbers exact ---- */

/*
 * Parse one JSON document (nothing but whitespace may follow). cJSON
 * keeps numbers as doubles, which lose integers past 2^53 (SQLite
 * integers are 64-bit); so every number item also gets its exact source
 * text in valuestring (cJSON_Delete frees it; cJSON ignores it for
 * numbers otherwise). NULL when the text is not JSON.
 */
cJSON *ctl_json_parse(const char *text, size_t len);
/* A number's text: exact when it came from ctl_json_parse. */
const char *ctl_json_num(const cJSON *, char *buf, size_t len);
/* The string member key, or NULL. */
const char *ctl_json_str(const cJSON *obj, const char *key);
/* The member key as an integer: 0, or -1 when absent, null or not an
 * integer. */
int ctl_json_int(const cJSON *obj, const char *key, int64_t *v);
/*
 * A value as one table cell or detail: null as NULL, numbers exactly,
 * strings as they are, {"blob":"hex"} as x'hex', anything else as compact
 * JSON.
 */
void ctl_json_text(struct ctl_buf *, const cJSON *);

/* ---- ctl_format.c: pure output formatting ---- */

/* Append s with control characters escaped (\n, \t, \xNN): object names
 * and SQL text come from others and must not drive the terminal. */
void ctl_escape(struct ctl_buf *, const char *s);
/* Terminal columns of UTF-8 text: one per character. */
size_t ctl_text_width(const char *);
/* Local time with milliseconds and offset: 2026-05-04T10:12:33.120+02:00 */
void ctl_time_iso(struct ctl_buf *, int64_t unix_ms);
/* "850 ms", "3 s", "3.2 s", "4m 05s", "2h 03m", "3d 04h". */
void ctl_duration(struct ctl_buf *, int64_t ms);

enum ctl_table_style {
	CTL_TABLE_PLAIN, /* columns two spaces apart, like ps */
	CTL_TABLE_GRID,  /* " a | b " with a ---+--- rule, like psql */
};

struct ctl_table {
	size_t ncols;
	char **cells; /* row-major; the first row is the header */
	unsigned char *right;
	size_t ncells, cap;
	int err;
};

void ctl_table_init(struct ctl_table *, size_t ncols);
/* Append the next cell (escaped; right-aligned when right). */
void ctl_table_add(struct ctl_table *, const char *text, int right);
size_t ctl_table_rows(const struct ctl_table *); /* header excluded */
void ctl_table_render(
    const struct ctl_table *, enum ctl_table_style, struct ctl_buf *);
void ctl_table_free(struct ctl_table *);

/* The objects list: the header, then one row per object of a page. */
void ctl_objects_header(struct ctl_table *);
void ctl_objects_row(struct ctl_table *, const cJSON *obj, int long_ids);
/* An SQL answer as a grid with a row count. -1 when it is malformed. */
int ctl_sql_render(const cJSON *answer, struct ctl_buf *);
/* One human line (with '\n') for one event of GET /events. */
void ctl_event_line(struct ctl_buf *, const cJSON *ev);
/* GET /health as a short summary. */
void ctl_status_render(struct ctl_buf *, const cJSON *health);
/* An object's key: value lines, times and sizes explained. */
void ctl_inspect_render(struct ctl_buf *, const cJSON *obj);
/* One line each for what restart and import did. */
void ctl_restart_render(struct ctl_buf *, const cJSON *answer);
void ctl_import_render(struct ctl_buf *, const cJSON *answer);

/* ---- ctl_http.c: one HTTP/1.1 request per connection ---- */

struct ctl_req {
	const char *method;
	const char *target; /* path and query, encoded */
	const char *content_type;
	const char *body; /* an in-memory body, or NULL */
	size_t body_len;
	int body_fd;          /* >= 0: stream body_fd_len bytes from it */
	uint64_t body_fd_len; /* (with Content-Length) */
	int timeout_ms;       /* longest wait for the peer; -1: forever */
};

struct ctl_resp {
	int status;
	char content_type[128];
	char retry_after[32];
	struct ctl_buf body; /* the body, unless streamed to sink */
	/*
	 * Set by the caller to stream a 2xx body: sink gets it as it arrives
	 * and returns 0, or an exit code to stop (it reports why itself).
	 * Other statuses are always collected in body.
	 */
	int (*sink)(void *arg, const char *data, size_t len);
	void *sink_arg;
};

/*
 * Connect (within a few seconds), send the request, read the whole
 * response. Returns 0 once a complete response arrived (any status),
 * CTL_ECONN with err when durod cannot be reached, times out, closes
 * early or answers something that is not HTTP, CTL_ELOCAL with err when
 * the request body cannot be read, or what a sink returned.
 */
int ctl_http(const struct ctl_addr *, const struct ctl_req *, struct ctl_resp *,
    char *err, size_t errlen);
void ctl_resp_free(struct ctl_resp *);

/* ---- ctl_cmd.c: status, objects, inspect, restart, delete, events ---- */

struct ctl_ctx {
	struct ctl_addr addr;
	const struct ctl_args *args;
};

int cmd_status(const struct ctl_ctx *);
int cmd_objects(const struct ctl_ctx *);
int cmd_inspect(const struct ctl_ctx *);
int cmd_restart(const struct ctl_ctx *);
int cmd_delete(const struct ctl_ctx *);
int cmd_events(const struct ctl_ctx *);

/* How long a command waits for durod to say or take anything more. */
#define CTL_IO_TIMEOUT_MS 120000

/* A request without a body, with the usual timeout. */
void cmd_req_init(struct ctl_req *, const char *method, const char *target);

/* Shared by the commands: the object named by pos[0..1], or CTL_EUSAGE
 * (reported). */
int cmd_object_arg(const struct ctl_ctx *, struct ctl_obj *);
/*
 * Do a request and report what went wrong: CTL_OK with resp filled and
 * a 2xx status, else the exit code (an error answer is printed as
 * "duroctl: <message> (<code>, HTTP <status>)").
 */
int cmd_request(
    const struct ctl_ctx *, const struct ctl_req *, struct ctl_resp *);
/* The same, for a JSON answer: *out is the parsed body (CTL_ECONN when it
 * is not JSON). */
int cmd_request_json(const struct ctl_ctx *, const struct ctl_req *,
    struct ctl_resp *, cJSON **out);
/* Write text to stdout and flush: CTL_OK or CTL_ELOCAL (reported). */
int cmd_write(const char *, size_t);
/* The raw body on stdout with a final newline. */
int cmd_write_body(const struct ctl_resp *);
void ctl_warn(const char *, ...) __attribute__((format(printf, 1, 2)));

/* ---- ctl_data.c: sql, export, import ---- */

int cmd_sql(const struct ctl_ctx *);
int cmd_export(const struct ctl_ctx *);
int cmd_import(const struct ctl_ctx *);

#endif
