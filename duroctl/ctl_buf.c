/*
 * ctl_buf.c — a growable, NUL-terminated byte buffer with sticky errors:
 * the formatting code appends without checking each step and looks at
 * err once, the way stdio callers look at ferror().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duroctl.h"

#define BUF_MIN 256

/* Room for n more bytes and the NUL. 0, or -1 (err set). */
static int
buf_grow(struct ctl_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->err)
		return (-1);
	if (n < b->cap - b->len && b->p != NULL)
		return (0);
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = 1;
		return (-1);
	}
	cap = b->cap < BUF_MIN ? BUF_MIN : b->cap;
	while (cap - b->len <= n)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->err = 1;
		return (-1);
	}
	b->p = p;
	b->cap = cap;
	return (0);
}

void
ctl_buf_add(struct ctl_buf *b, const void *data, size_t n)
{
	if (buf_grow(b, n) != 0)
		return;
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
ctl_buf_str(struct ctl_buf *b, const char *s)
{
	ctl_buf_add(b, s, strlen(s));
}

void
ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = 1;
		return;
	}
	if (buf_grow(b, (size_t)n) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
ctl_buf_pad(struct ctl_buf *b, char c, size_t n)
{
	if (buf_grow(b, n) != 0)
		return;
	memset(b->p + b->len, c, n);
	b->len += n;
	b->p[b->len] = '\0';
}

const char *
ctl_buf_text(const struct ctl_buf *b)
{
	return (b->p != NULL ? b->p : "");
}

void
ctl_buf_reset(struct ctl_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
ctl_buf_free(struct ctl_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
