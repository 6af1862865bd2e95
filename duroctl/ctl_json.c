/*
 * ctl_json.c — cJSON, but numbers stay exact.
 *
 * SQLite integers are 64-bit; cJSON turns every number into a double and
 * so prints 9007199254740993 as 9007199254740992. We do not write a JSON
 * parser for that: cJSON parses, and a small scanner collects the source
 * text of every number token (outside strings) in document order. cJSON
 * keeps object members and array elements in document order too, so the
 * k-th number item met walking the tree depth-first is the k-th token;
 * its text goes into the item's valuestring, which cJSON_Delete frees
 * and cJSON otherwise ignores for numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duroctl.h"

/* The characters cJSON's number parser takes. */
#define NUM_CHARS "0123456789+-.eE"

struct numscan {
	const char *p, *end;
};

/* The next number token outside strings: its start and length, or 0. */
static size_t
numscan_next(struct numscan *s, const char **tok)
{
	int in_str = 0;

	for (; s->p < s->end; s->p++) {
		char c = *s->p;

		if (in_str) {
			if (c == '\\' && s->p + 1 < s->end)
				s->p++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			*tok = s->p;
			while (s->p < s->end && *s->p != '\0' &&
			       strchr(NUM_CHARS, *s->p) != NULL)
				s->p++;
			return ((size_t)(s->p - *tok));
		}
	}
	return (0);
}

/* Give every number under item its source text. -1 when out of memory. */
static int
json_annotate(cJSON *item, struct numscan *s)
{
	const char *tok;
	size_t n;

	if (cJSON_IsNumber(item)) {
		if ((n = numscan_next(s, &tok)) == 0)
			return (0); /* cannot happen; the double will do */
		if ((item->valuestring = strndup(tok, n)) == NULL)
			return (-1);
		return (0);
	}
	for (cJSON *c = item->child; c != NULL; c = c->next)
		if (json_annotate(c, s) != 0)
			return (-1);
	return (0);
}

cJSON *
ctl_json_parse(const char *text, size_t len)
{
	const char *end = NULL;
	struct numscan s;
	cJSON *j;

	if ((j = cJSON_ParseWithLengthOpts(text, len, &end, 0)) == NULL)
		return (NULL);
	for (const char *p = end; p < text + len; p++)
		if (strchr(" \t\r\n", *p) == NULL || *p == '\0') {
			cJSON_Delete(j);
			return (NULL);
		}
	s.p = text;
	s.end = end;
	if (json_annotate(j, &s) != 0) {
		cJSON_Delete(j);
		return (NULL);
	}
	return (j);
}

const char *
ctl_json_num(const cJSON *n, char *buf, size_t len)
{
	double v = n->valuedouble;

	if (n->valuestring != NULL)
		return (n->valuestring);
	if (v >= -9.2e18 && v <= 9.2e18 && (double)(long long)v == v)
		snprintf(buf, len, "%lld", (long long)v);
	else
		snprintf(buf, len, "%.17g", v);
	return (buf);
}

const char *
ctl_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return (cJSON_IsString(v) ? v->valuestring : NULL);
}

int
ctl_json_int(const cJSON *obj, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	long long n;
	char *end;

	if (!cJSON_IsNumber(v))
		return (-1);
	if (v->valuestring != NULL) {
		n = strtoll(v->valuestring, &end, 10);
		if (*end != '\0')
			return (-1);
		*out = n;
		return (0);
	}
	if (!(v->valuedouble >= -9.2e18 && v->valuedouble <= 9.2e18) ||
	    (double)(long long)v->valuedouble != v->valuedouble)
		return (-1);
	*out = (int64_t)v->valuedouble;
	return (0);
}

/* {"blob": "<hex>"} and nothing else: the SQL answer's blob cell. */
static const char *
json_blob(const cJSON *v)
{
	if (!cJSON_IsObject(v) || v->child == NULL || v->child->next != NULL ||
	    strcmp(v->child->string, "blob") != 0 || !cJSON_IsString(v->child))
		return (NULL);
	return (v->child->valuestring);
}

void
ctl_json_text(struct ctl_buf *b, const cJSON *v)
{
	char num[64], *s;
	const char *blob;

	if (v == NULL || cJSON_IsNull(v)) {
		ctl_buf_str(b, "NULL");
	} else if (cJSON_IsNumber(v)) {
		ctl_buf_str(b, ctl_json_num(v, num, sizeof(num)));
	} else if (cJSON_IsString(v)) {
		ctl_buf_str(b, v->valuestring);
	} else if (cJSON_IsBool(v)) {
		ctl_buf_str(b, cJSON_IsTrue(v) ? "true" : "false");
	} else if ((blob = json_blob(v)) != NULL) {
		ctl_buf_printf(b, "x'%s'", blob);
	} else if ((s = cJSON_PrintUnformatted(v)) != NULL) {
		ctl_buf_str(b, s);
		free(s);
	} else {
		b->err = 1;
	}
}
