/*
 * ws_handshake.c — the server's half of the WebSocket opening handshake
 * (RFC 6455 4.2): is a request an upgrade we can accept, and the
 * Sec-WebSocket-Accept value proving we read its key. Pure: headers come
 * through a lookup function, so this knows nothing of durod's requests.
 * SHA-1 and base64 are libcrypto's.
 */
#include <openssl/evp.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ws_conn.h"

/* RFC 6455 1.3: appended to the key before hashing. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24 /* base64 of 16 bytes: 22 characters and "==" */
#define OWS " \t"

/* Does the comma-separated list contain tok (ASCII case-insensitive)? */
static int
ws_has_token(const char *list, const char *tok)
{
	size_t toklen = strlen(tok), len, n;

	if (list == NULL)
		return (0);
	for (;;) {
		list += strspn(list, OWS ",");
		if (*list == '\0')
			return (0);
		len = strcspn(list, ",");
		n = len;
		while (n > 0 && strchr(OWS, list[n - 1]) != NULL)
			n--;
		if (n == toklen && strncasecmp(list, tok, n) == 0)
			return (1);
		list += len;
	}
}

/* Copy s without surrounding whitespace into buf; 0, or -1 if too long. */
static int
ws_trim(const char *s, char *buf, size_t bufsize)
{
	size_t n;

	s += strspn(s, OWS);
	n = strlen(s);
	while (n > 0 && strchr(OWS, s[n - 1]) != NULL)
		n--;
	if (n >= bufsize)
		return (-1);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return (0);
}

/*
 * The key must be exactly the base64 of 16 bytes. EVP_DecodeBlock checks
 * the alphabet but takes '=' anywhere, so the padding is checked here.
 */
static int
ws_key_valid(const char *key)
{
	unsigned char raw[WS_KEY_LEN];

	if (strlen(key) != WS_KEY_LEN || strcspn(key, "=") != WS_KEY_LEN - 2 ||
	    strcmp(key + WS_KEY_LEN - 2, "==") != 0)
		return (0);
	return (
	    EVP_DecodeBlock(raw, (const unsigned char *)key, WS_KEY_LEN) == 18);
}

/* accept = base64(SHA-1(key GUID)) */
static int
ws_accept_value(const char *key, char accept[WS_ACCEPT_LEN])
{
	char buf[WS_KEY_LEN + sizeof(WS_GUID)];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	memcpy(buf, key, WS_KEY_LEN);
	memcpy(buf + WS_KEY_LEN, WS_GUID, sizeof(WS_GUID) - 1);
	if (EVP_Digest(buf, WS_KEY_LEN + sizeof(WS_GUID) - 1, md, &mdlen,
	        EVP_sha1(), NULL) != 1 ||
	    mdlen != 20)
		return (-1);
	if (EVP_EncodeBlock((unsigned char *)accept, md, 20) !=
	    WS_ACCEPT_LEN - 1)
		return (-1);
	return (0);
}

int
ws_handshake_wanted(ws_header_fn header, void *arg)
{
	return (ws_has_token(header(arg, "Upgrade"), "websocket"));
}

int
ws_handshake_accept(ws_header_fn header, void *arg, char accept[WS_ACCEPT_LEN],
    char *err, size_t errlen)
{
	const char *v;
	char key[WS_KEY_LEN + 1], version[8];

	if (!ws_handshake_wanted(header, arg)) {
		snprintf(err, errlen, "Upgrade does not list websocket");
		return (-1);
	}
	if (!ws_has_token(header(arg, "Connection"), "upgrade")) {
		snprintf(err, errlen, "Connection does not list upgrade");
		return (-1);
	}
	if ((v = header(arg, "Sec-WebSocket-Key")) == NULL) {
		snprintf(err, errlen, "no Sec-WebSocket-Key");
		return (-1);
	}
	if (ws_trim(v, key, sizeof(key)) != 0 || !ws_key_valid(key)) {
		snprintf(err, errlen,
		    "Sec-WebSocket-Key is not the base64 of 16 bytes");
		return (-1);
	}
	/* Checked last: -2 promises that only the version is wrong. */
	v = header(arg, "Sec-WebSocket-Version");
	if (v == NULL || ws_trim(v, version, sizeof(version)) != 0 ||
	    strcmp(version, "13") != 0) {
		snprintf(err, errlen, "Sec-WebSocket-Version is not 13");
		return (-2);
	}
	if (ws_accept_value(key, accept) != 0) {
		snprintf(err, errlen, "Sec-WebSocket-Accept: SHA-1 failed");
		return (-1);
	}
	return (0);
}
