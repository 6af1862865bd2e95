/*
 * ipc_text.c — the rules for text that crosses the protocol (pure).
 *
 * Shared by durod and libduro so both sides agree on what is a header
 * name, a header value, valid UTF-8 and a percent-encoded string.
 */
#include <string.h>

#include "ipc.h"

int
ipc_is_token(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		        (c >= 'A' && c <= 'Z') || strchr(extra, c) != NULL))
			return (0);
	}
	return (1);
}

int
ipc_is_header_value(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return (0);
	}
	return (1);
}

static int
utf8_valid(const unsigned char *s, size_t len, int nul_ok)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;
		if (c == 0 && !nul_ok)
			return (0);
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			n = 1, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			n = 2, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			n = 3, cp = c & 0x07;
		else
			return (0);
		if (i + n >= len)
			return (0);
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return (0);
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return (0);
		i += n + 1;
	}
	return (1);
}

int
ipc_is_utf8(const char *s, size_t len)
{
	return (utf8_valid((const unsigned char *)s, len, 0));
}

/* RFC 6455 section 8.1: text is UTF-8, and U+0000 is a character. */
int
ipc_is_ws_text(const void *s, size_t len)
{
	return (utf8_valid(s, len, 1));
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

int
ipc_pct_decode(const char *s, size_t len, int plus_is_space, char *out,
    size_t outmax, size_t *outlen)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i], hi, lo;

		if (c == '+' && plus_is_space)
			c = ' ';
		else if (c == '%') {
			if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				return (-1);
			c = hi << 4 | lo;
			i += 2;
		}
		if (n == outmax)
			return (-2);
		out[n++] = (char)c;
	}
	*outlen = n;
	return (0);
}
