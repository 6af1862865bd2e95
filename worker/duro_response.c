/*
 * duro_response.c — the response a handler builds.
 *
 * Everything is checked here, when the handler makes the call, so a bad
 * header is reported to the code that wrote it instead of turning into a
 * protocol violation that gets the worker killed.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "duro_impl.h"

void
duro_response_init(struct duro_response *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
}

void
duro_response_free(struct duro_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free((char *)r->headers[i].name);
		free((char *)r->headers[i].value);
	}
	for (size_t i = 0; i < r->ntags; i++)
		free(r->tags[i]);
	free(r->tags);
	free(r->headers);
	free(r->body);
	free(r->error);
	duro_response_init(r);
}

/* Remember the first failure so the request fails even if ignored. */
static int
keep(struct duro_response *r, int err)
{
	if (err != 0 && r->err == 0)
		r->err = err;
	return (err);
}

int
duro_response_keep(struct duro_response *r, int err)
{
	return (keep(r, err));
}

int
duro_response_status(struct duro_response *r, int status)
{
	/* durod kills a worker that answers 101 to anything else. */
	if (status < 100 || status > 599 || (status == 101 && !r->ws_upgrade))
		return (keep(r, DURO_EINVAL));
	r->status = status;
	return (0);
}

static int
headers_grow(struct duro_response *r)
{
	struct ipc_header *h;
	size_t cap = r->headers_cap ? r->headers_cap * 2 : 8;

	if (r->nheaders < r->headers_cap)
		return (0);
	if (r->nheaders >= IPC_MAX_HEADERS)
		return (DURO_ERANGE);
	if ((h = reallocarray(r->headers, cap, sizeof(*h))) == NULL)
		return (DURO_ENOMEM);
	r->headers = h;
	r->headers_cap = cap;
	return (0);
}

int
duro_response_header(
    struct duro_response *r, const char *name, const char *value)
{
	struct ipc_header *h;
	int rv;

	if (!ipc_is_token(name) || !ipc_is_header_value(value))
		return (keep(r, DURO_EINVAL));
	if ((rv = headers_grow(r)) != 0)
		return (keep(r, rv));
	h = &r->headers[r->nheaders];
	h->name = strdup(name);
	h->value = strdup(value);
	if (h->name == NULL || h->value == NULL) {
		free((char *)h->name);
		free((char *)h->value);
		return (keep(r, DURO_ENOMEM));
	}
	r->nheaders++;
	return (0);
}

/* Make room for a body of len bytes (plus a NUL for vsnprintf). */
static int
body_reserve(struct duro_response *r, size_t len)
{
	size_t cap = r->body_cap ? r->body_cap : 256;
	uint8_t *b;

	if (len > IPC_MAX_BODY_BYTES)
		return (DURO_ERANGE);
	if (len + 1 <= r->body_cap)
		return (0);
	while (cap < len + 1)
		cap *= 2;
	if ((b = realloc(r->body, cap)) == NULL)
		return (DURO_ENOMEM);
	r->body = b;
	r->body_cap = cap;
	return (0);
}

int
duro_response_body(struct duro_response *r, const void *buf, size_t len)
{
	int rv;

	if ((rv = body_reserve(r, len)) != 0)
		return (keep(r, rv));
	if (len > 0)
		memcpy(r->body, buf, len);
	r->body_len = len;
	return (0);
}

int
duro_response_printf(struct duro_response *r, const char *fmt, ...)
{
	va_list ap;
	size_t avail;
	int n, rv;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return (keep(r, DURO_EINVAL));
	if ((rv = body_reserve(r, r->body_len + (size_t)n)) != 0)
		return (keep(r, rv));
	avail = r->body_cap - r->body_len;
	va_start(ap, fmt);
	vsnprintf((char *)r->body + r->body_len, avail, fmt, ap);
	va_end(ap);
	r->body_len += (size_t)n;
	return (0);
}

int
duro_response_error(struct duro_response *r, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return (DURO_ENOMEM);
	free(r->error);
	r->error = s;
	return (0);
}

int
duro_response_json(struct duro_response *r, int status, const char *json)
{
	int rv;

	if ((rv = duro_response_status(r, status)) != 0 ||
	    (rv = duro_response_header(
	         r, "Content-Type", "application/json")) != 0)
		return (rv);
	return (duro_response_body(r, json, strlen(json)));
}

int
duro_response_json_error(
    struct duro_response *r, int status, const char *code, const char *fmt, ...)
{
	char message[512];
	cJSON *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	/* cJSON escapes the message: it may quote user input. */
	if ((o = cJSON_CreateObject()) != NULL &&
	    (cJSON_AddStringToObject(o, "error", code) == NULL ||
	        cJSON_AddStringToObject(o, "message", message) == NULL)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return (duro_response_cjson(r, status, o));
}

int
duro_response_cjson(struct duro_response *r, int status, cJSON *o)
{
	char *s;
	int rv;

	if (o == NULL || (s = cJSON_PrintUnformatted(o)) == NULL) {
		cJSON_Delete(o);
		return (keep(r, DURO_ENOMEM));
	}
	cJSON_Delete(o);
	rv = duro_response_json(r, status, s);
	free(s);
	return (rv);
}

int
duro_json_add_int(cJSON *o, const char *key, int64_t v)
{
	char digits[24]; /* INT64_MIN is 20 characters */

	if (o == NULL || key == NULL)
		return (DURO_EINVAL);
	snprintf(digits, sizeof(digits), "%" PRId64, v);
	if (cJSON_AddRawToObject(o, key, digits) == NULL)
		return (DURO_ENOMEM);
	return (0);
}
