/*
 * duro_request.c — reading a request: headers and query parameters.
 *
 * durod passes the query undecoded (ipc/PROTOCOL.md §5), so decoding is
 * done here, the way HTML forms encode it: %XX escapes and '+' for space.
 */
#include <string.h>
#include <strings.h>

#include "duro_impl.h"

int
duro_request_is_websocket(const struct duro_request *req)
{
	return (req->websocket != 0);
}

uint64_t
duro_request_ws_conn(const struct duro_request *req)
{
	return (req->websocket ? req->ws_conn : 0);
}

const char *
duro_request_header(const struct duro_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return (req->headers[i].value);
	return (NULL);
}

/* True if [s, end) decodes to exactly key (a malformed key matches none). */
static int
query_key_is(const char *s, const char *end, const char *key)
{
	char k[256];
	size_t n;

	return (
	    ipc_pct_decode(s, (size_t)(end - s), 1, k, sizeof(k), &n) == 0 &&
	    n == strlen(key) && memcmp(k, key, n) == 0);
}

static int
query_decode(const char *s, const char *end, char *buf, size_t buflen)
{
	size_t n;
	int rv;

	if (buflen == 0)
		return (DURO_ERANGE);
	rv = ipc_pct_decode(s, (size_t)(end - s), 1, buf, buflen - 1, &n);
	if (rv == -2)
		return (DURO_ERANGE);
	if (rv != 0 || memchr(buf, '\0', n) != NULL)
		return (DURO_EINVAL);
	buf[n] = '\0';
	return (0);
}

int
duro_query_param(
    const struct duro_request *req, const char *key, char *buf, size_t buflen)
{
	const char *s = req->query, *amp, *eq, *end;

	if (s == NULL)
		return (DURO_ENOENT);
	for (; *s != '\0'; s = *amp == '&' ? amp + 1 : amp) {
		amp = s + strcspn(s, "&");
		eq = memchr(s, '=', (size_t)(amp - s));
		end = eq != NULL ? eq : amp;
		if (!query_key_is(s, end, key))
			continue;
		return (
		    query_decode(eq != NULL ? eq + 1 : amp, amp, buf, buflen));
	}
	return (DURO_ENOENT);
}
