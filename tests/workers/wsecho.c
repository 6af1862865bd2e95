/*
 * wsecho.c — a WebSocket test worker: every libduro WebSocket call on
 * request, driven by the client's text messages.
 *
 *	GET /ws[?tags=a,b]   accept with those tags; the first frame the client
 *	                     gets is "welcome <conn>" (an output-gated send in
 *	                     the accepting request)
 *	GET /ws?refuse=1     answer 403 instead
 *	GET /closes          the ws_close events seen, as JSON lines
 *	                     "conn code clean reason" (from storage)
 *	GET /pid             the worker's pid
 *
 * Text messages (the reply goes to the sender unless said otherwise):
 *	echo X           X
 *	bcast TAG X      X to every connection tagged TAG ("*": all)
 *	attach X         set the sender's attachment to X; replies "ok"
 *	getatt [CONN]    the attachment of CONN (default: the sender), or
 *	                 "none" when it has none, "gone" when no such conn
 *	auto REQ RESP    set the auto-response pair; replies "ok"
 *	list [TAG]       "CONN:tag1,tag2:AUTO_MS ..." for each connection
 *	close CODE WHY   close the sender with CODE and WHY
 *	count            messages handled so far (in storage)
 *	fail X           send X, then fail the handler: nothing is sent and
 *	                 the count does not move
 *	crash            abort()
 *	pid              the worker's pid
 * Binary messages are echoed as binary. Every handled message adds one to
 * the stored count.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duro.h"

#define COUNT_KEY "count"

static int
send_text(struct duro *d, uint64_t conn, const char *s)
{
	return (duro_ws_send(d, conn, 0, s, strlen(s)));
}

static int
count_add(struct duro *d, int64_t *n)
{
	void *v = NULL;
	size_t len = 0;
	char buf[32];
	int rv;

	*n = 0;
	rv = duro_kv_get(d, COUNT_KEY, strlen(COUNT_KEY), &v, &len);
	if (rv == 0 && len < sizeof(buf)) {
		memcpy(buf, v, len);
		buf[len] = '\0';
		*n = strtoll(buf, NULL, 10);
	}
	free(v);
	if (rv != 0 && rv != DURO_ENOENT)
		return (rv);
	snprintf(buf, sizeof(buf), "%" PRId64, ++*n);
	return (duro_kv_put(d, COUNT_KEY, strlen(COUNT_KEY), buf, strlen(buf)));
}

static int
cmd_list(struct duro *d, uint64_t conn, const char *tag)
{
	struct duro_ws_info *v;
	size_t n, len = 0;
	char *out;
	int rv;

	if ((rv = duro_ws_list(d, tag, &v, &n)) != 0)
		return (rv);
	if ((out = malloc(n * 3200 + 1)) == NULL) {
		duro_ws_list_free(v, n);
		return (DURO_ENOMEM);
	}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		len += (size_t)sprintf(
		    out + len, "%s%" PRIu64 ":", i ? " " : "", v[i].conn);
		for (size_t t = 0; t < v[i].ntags; t++)
			len += (size_t)sprintf(
			    out + len, "%s%s", t ? "," : "", v[i].tags[t]);
		len += (size_t)sprintf(out + len, ":%" PRId64, v[i].auto_ms);
	}
	duro_ws_list_free(v, n);
	rv = send_text(d, conn, out);
	free(out);
	return (rv);
}

static int
cmd_getatt(struct duro *d, uint64_t conn, const char *arg)
{
	uint64_t which = *arg ? strtoull(arg, NULL, 10) : conn;
	void *data = NULL;
	size_t len = 0;
	int rv;

	rv = duro_ws_get_attachment(d, which, &data, &len);
	if (rv == DURO_ENOENT)
		return (send_text(d, conn, "gone"));
	if (rv != 0)
		return (rv);
	rv = len == 0 ? send_text(d, conn, "none")
	              : duro_ws_send(d, conn, 0, data, len);
	free(data);
	return (rv);
}

/* "WORD REST": the word's length; *rest after one space. */
static size_t
word(const char *s, size_t len, const char **rest)
{
	const char *sp = memchr(s, ' ', len);

	*rest = sp != NULL ? sp + 1 : s + len;
	return (sp != NULL ? (size_t)(sp - s) : len);
}

static int
on_text(struct duro *d, uint64_t conn, const char *s, size_t len)
{
	const char *rest, *r2;
	size_t w = word(s, len, &rest), w2;
	size_t restlen = (size_t)(s + len - rest);
	char tag[300], code[16], pid[32];

#define IS(x) (w == strlen(x) && memcmp(s, x, w) == 0)
	if (IS("echo"))
		return (duro_ws_send(d, conn, 0, rest, restlen));
	if (IS("bcast")) {
		w2 = word(rest, restlen, &r2);
		snprintf(tag, sizeof(tag), "%.*s", (int)w2, rest);
		return (duro_ws_broadcast(d, strcmp(tag, "*") == 0 ? NULL : tag,
		    0, r2, (size_t)(s + len - r2)));
	}
	if (IS("attach")) {
		int rv = duro_ws_set_attachment(d, conn, rest, restlen);
		return (rv != 0 ? rv : send_text(d, conn, "ok"));
	}
	if (IS("getatt"))
		return (cmd_getatt(d, conn, rest));
	if (IS("auto")) {
		w2 = word(rest, restlen, &r2);
		snprintf(tag, sizeof(tag), "%.*s", (int)w2, rest);
		char resp[300];
		snprintf(resp, sizeof(resp), "%.*s", (int)(s + len - r2), r2);
		int rv = duro_ws_set_auto_response(d, tag, resp);
		return (rv != 0 ? rv : send_text(d, conn, "ok"));
	}
	if (IS("list")) {
		snprintf(tag, sizeof(tag), "%.*s", (int)restlen, rest);
		return (cmd_list(d, conn, restlen > 0 ? tag : NULL));
	}
	if (IS("close")) {
		w2 = word(rest, restlen, &r2);
		snprintf(code, sizeof(code), "%.*s", (int)w2, rest);
		snprintf(tag, sizeof(tag), "%.*s", (int)(s + len - r2), r2);
		return (duro_ws_close(d, conn, atoi(code), tag));
	}
	if (IS("fail")) {
		(void)duro_ws_send(d, conn, 0, rest, restlen);
		return (-1);
	}
	if (IS("crash"))
		abort();
	if (IS("pid") || IS("count")) {
		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		return (send_text(d, conn, pid));
	}
#undef IS
	return (send_text(d, conn, "unknown command"));
}

static int
on_message(struct duro *d, uint64_t conn, int binary, const void *data,
    size_t len, void *arg)
{
	int64_t n;
	int rv;

	if ((rv = count_add(d, &n)) != 0)
		return (rv);
	if (len >= 5 && memcmp(data, "count", 5) == 0) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%" PRId64, n);
		return (send_text(d, conn, buf));
	}
	if (binary)
		return (duro_ws_send(d, conn, 1, data, len));
	return (on_text(d, conn, data, len));
}

static int
on_close(struct duro *d, uint64_t conn, int code, const char *reason, int clean,
    void *arg)
{
	char line[256];
	int rv;

	snprintf(line, sizeof(line), "%" PRIu64 " %d %d %s", conn, code, clean,
	    reason);
	rv = duro_sql_exec(d, NULL,
	    "CREATE TABLE IF NOT EXISTS closes (line TEXT NOT NULL)", NULL, 0);
	if (rv == 0)
		rv = duro_sql_exec(d, NULL, "INSERT INTO closes VALUES (?1)",
		    &DURO_ARG_TEXT(line, strlen(line)), 1);
	return (rv);
}

static int
get_closes(struct duro *d, struct duro_response *resp)
{
	struct duro_sql_cursor *cur = NULL;
	int rv;

	rv = duro_sql_exec(
	    d, &cur, "SELECT line FROM closes ORDER BY rowid", NULL, 0);
	if (rv != 0) /* no table yet: no closes */
		return (0);
	while ((rv = duro_sql_next(cur)) == 1)
		duro_response_printf(
		    resp, "%s\n", duro_sql_column_text(cur, 0, NULL));
	duro_sql_close(cur);
	return (rv < 0 ? rv : 0);
}

static int
on_request(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	char tags[4096], conn[48], *save = NULL, *t;
	const char *v[DURO_WS_MAX_TAGS];
	size_t nv = 0;

	if (strcmp(req->path, "/closes") == 0)
		return (get_closes(d, resp));
	if (strcmp(req->path, "/pid") == 0)
		return (duro_response_printf(resp, "%ld\n", (long)getpid()));
	if (strcmp(req->path, "/ws") != 0 || !duro_request_is_websocket(req)) {
		duro_response_status(resp, 404);
		return (0);
	}
	if (duro_query_param(req, "refuse", tags, sizeof(tags)) == 0) {
		duro_response_status(resp, 403);
		return (duro_response_printf(resp, "refused\n"));
	}
	if (duro_query_param(req, "tags", tags, sizeof(tags)) == 0)
		for (t = strtok_r(tags, ",", &save); t != NULL && nv < 10;
		     t = strtok_r(NULL, ",", &save))
			v[nv++] = t;
	if (duro_ws_accept(resp, v, nv) != 0)
		return (-1);
	snprintf(
	    conn, sizeof(conn), "welcome %" PRIu64, duro_request_ws_conn(req));
	return (send_text(d, duro_request_ws_conn(req), conn));
}

int
main(void)
{
	struct duro *d;
	int rv;

	if ((rv = duro_open(&d)) != 0)
		return (duro_exit_status(rv));
	duro_on_request(d, on_request, NULL);
	duro_on_ws_message(d, on_message, NULL);
	duro_on_ws_close(d, on_close, NULL);
	rv = duro_run(d);
	duro_close(d);
	return (duro_exit_status(rv));
}
