/*
 * duro_request.c — reading a request: headers and query parameters.
 *
 * durod passes the query undecoded (ipc/PROTOCOL.md §5), so decoding is
 * done here, the way HTML forms encode it: %XX escapes and '+' for space.
 */
#include <string.h>
#include <strings.h>

#include "duro_impl.h"

const char *
duro_request_header(const struct duro_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return (req->headers[i].value);
	return (NULL);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/*
 * Decode the next character of [*p, end) into *c and advance *p.
 * Returns 0, or -1 for a malformed or truncated %-escape.
 */
static int
query_next(const char **p, const char *end, int *c)
{
	const char *s = *p;
	int hi, lo;

	if (*s == '+') {
		*c = ' ';
		*p = s + 1;
		return (0);
	}
	if (*s != '%') {
		*c = (unsigned char)*s;
		*p = s + 1;
		return (0);
	}
	if (end - s < 3 || (hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
		return (-1);
	*c = hi << 4 | lo;
	*p = s + 3;
	return (0);
}

/* True if [s, end) decodes to exactly key (a malformed key matches none). */
static int
query_key_is(const char *s, const char *end, const char *key)
{
	int c;

	while (s < end) {
		if (query_next(&s, end, &c) != 0 || c == '\0' ||
		    c != (unsigned char)*key)
			return (0);
		key++;
	}
	return (*key == '\0');
}

static int
query_decode(const char *s, const char *end, char *buf, size_t buflen)
{
	size_t n = 0;
	int c;

	while (s < end) {
		if (query_next(&s, end, &c) != 0 || c == '\0')
			return (DURO_EINVAL);
		if (n + 1 >= buflen)
			return (DURO_ERANGE);
		buf[n++] = (char)c;
	}
	if (buflen == 0)
		return (DURO_ERANGE);
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
