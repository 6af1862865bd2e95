/*
 * ctl_data.c — the commands about an object's data: sql (one read-only
 * statement), export (its database to a file) and import (a file as its
 * database).
 *
 * Databases may be large, so neither direction holds one in memory: an
 * export streams the body into a temporary file next to FILE, which is
 * fsync'd and renamed over FILE only once the whole body arrived (a
 * broken transfer leaves FILE as it was); an import sends the file with
 * its Content-Length, read as it goes.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duroctl.h"

#define SQL_MAX_STDIN (16u << 20)

/* ---- sql ---- */

/* The whole of stdin (for SQL "-"): 0, or CTL_ELOCAL (reported). */
static int
read_stdin(struct ctl_buf *b)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ctl_warn("sql: reading stdin: %s", strerror(errno));
			return (CTL_ELOCAL);
		}
		ctl_buf_add(b, buf, (size_t)n);
		if (b->err || b->len > SQL_MAX_STDIN) {
			ctl_warn("sql: stdin: over %u MiB or out of memory",
			    SQL_MAX_STDIN >> 20);
			return (CTL_ELOCAL);
		}
	}
	return (CTL_OK);
}

/* Print an SQL answer: raw with --json, else as a table. */
static int
sql_print(const struct ctl_ctx *c, const struct ctl_resp *r, const cJSON *j)
{
	struct ctl_buf out = {0};
	int rv;

	if (c->args->opt[CTL_OPT_JSON] != NULL)
		return (cmd_write_body(r));
	if (ctl_sql_render(j, &out) != 0) {
		ctl_warn("malformed answer from durod at %s: not an SQL result",
		    c->addr.text);
		rv = CTL_ECONN;
	} else if (out.err) {
		ctl_warn("out of memory");
		rv = CTL_ELOCAL;
	} else {
		rv = cmd_write(out.p, out.len);
	}
	ctl_buf_free(&out);
	return (rv);
}

int
cmd_sql(const struct ctl_ctx *c)
{
	const char *max = c->args->opt[CTL_OPT_MAX_ROWS];
	struct ctl_buf target = {0}, sql = {0};
	struct ctl_resp r = {0};
	struct ctl_obj o;
	struct ctl_req q;
	uint64_t n;
	cJSON *j = NULL;
	int first = 1, rv;

	if ((rv = cmd_object_arg(c, &o)) != 0)
		return (rv);
	if (max != NULL && ctl_parse_uint(max, 0, UINT32_MAX, &n) != 0) {
		ctl_warn(
		    "sql: --max-rows: want a number from 0 to %u", UINT32_MAX);
		return (CTL_EUSAGE);
	}
	if (strcmp(c->args->pos[2], "-") == 0)
		rv = read_stdin(&sql);
	else
		ctl_buf_str(&sql, c->args->pos[2]);
	ctl_obj_path(&target, &o, "/sql");
	ctl_query_add(&target, &first, "max_rows", max);
	cmd_req_init(&q, "POST", ctl_buf_text(&target));
	q.content_type = "text/plain; charset=utf-8";
	q.body = ctl_buf_text(&sql);
	q.body_len = sql.len;
	if (rv == CTL_OK && (rv = cmd_request_json(c, &q, &r, &j)) == CTL_OK)
		rv = sql_print(c, &r, j);
	cJSON_Delete(j);
	ctl_resp_free(&r);
	ctl_buf_free(&target);
	ctl_buf_free(&sql);
	return (rv);
}

/* ---- export ---- */

struct export_sink {
	int fd;
	const char *path; /* for messages */
	uint64_t bytes;
};

static int
export_sink(void *arg, const char *data, size_t len)
{
	struct export_sink *s = arg;
	ssize_t w;

	while (len > 0) {
		if ((w = write(s->fd, data, len)) < 0) {
			if (errno == EINTR)
				continue;
			ctl_warn(
			    "export: writing %s: %s", s->path, strerror(errno));
			return (CTL_ELOCAL);
		}
		data += w;
		len -= (size_t)w;
		s->bytes += (uint64_t)w;
	}
	return (CTL_OK);
}

/* A temporary file in FILE's directory, as a plain `>` would make it. */
static int
export_tmp(const char *file, struct ctl_buf *tmp, int *fd)
{
	struct ctl_buf dir = {0};
	mode_t mask;

	ctl_buf_str(&dir, file);
	ctl_buf_printf(tmp, "%s/.%s.XXXXXX",
	    dirname(dir.p != NULL ? dir.p : ""),
	    strrchr(file, '/') != NULL ? strrchr(file, '/') + 1 : file);
	ctl_buf_free(&dir);
	if (tmp->err) {
		ctl_warn("out of memory");
		return (CTL_ELOCAL);
	}
	if ((*fd = mkostemp(tmp->p, O_CLOEXEC)) < 0) {
		ctl_warn("export: creating %s: %s", tmp->p, strerror(errno));
		return (CTL_ELOCAL);
	}
	mask = umask(0);
	umask(mask);
	fchmod(*fd, 0666 & ~mask);
	return (CTL_OK);
}

/* Make the finished temporary file FILE, durably. */
static int
export_commit(const char *tmp, const char *file, int fd)
{
	struct ctl_buf dir = {0};
	int dfd;

	if (fsync(fd) != 0 || close(fd) != 0) {
		ctl_warn("export: writing %s: %s", tmp, strerror(errno));
		return (CTL_ELOCAL);
	}
	if (rename(tmp, file) != 0) {
		ctl_warn("export: renaming %s to %s: %s", tmp, file,
		    strerror(errno));
		return (CTL_ELOCAL);
	}
	/* The rename itself lives in the directory. */
	ctl_buf_str(&dir, file);
	if (!dir.err && (dfd = open(dirname(dir.p),
	                     O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	ctl_buf_free(&dir);
	return (CTL_OK);
}

int
cmd_export(const struct ctl_ctx *c)
{
	const char *file = c->args->pos[2];
	int to_stdout = strcmp(file, "-") == 0;
	struct export_sink s = {.fd = STDOUT_FILENO, .path = "stdout"};
	struct ctl_resp r = {.sink = export_sink, .sink_arg = &s};
	struct ctl_buf target = {0}, tmp = {0};
	struct ctl_obj o;
	struct ctl_req q;
	int rv;

	if ((rv = cmd_object_arg(c, &o)) != 0)
		return (rv);
	if (!to_stdout) {
		if ((rv = export_tmp(file, &tmp, &s.fd)) != 0)
			goto out;
		s.path = tmp.p;
	}
	ctl_obj_path(&target, &o, "/export");
	cmd_req_init(&q, "GET", ctl_buf_text(&target));
	rv = cmd_request(c, &q, &r);
	if (!to_stdout) {
		if (rv == CTL_OK)
			rv = export_commit(tmp.p, file, s.fd);
		else
			close(s.fd);
		if (rv != CTL_OK)
			unlink(tmp.p);
	}
	if (rv == CTL_OK)
		fprintf(stderr, "wrote %llu bytes to %s\n",
		    (unsigned long long)s.bytes, to_stdout ? "stdout" : file);
out:
	ctl_resp_free(&r);
	ctl_buf_free(&target);
	ctl_buf_free(&tmp);
	return (rv);
}

/* ---- import ---- */

/* FILE ("-": stdin) opened, with the bytes left in it. */
static int
import_open(const char *file, int *fd, uint64_t *len)
{
	struct stat st;
	off_t at = 0;

	*fd = strcmp(file, "-") == 0 ? STDIN_FILENO
	                             : open(file, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		ctl_warn("import: %s: %s", file, strerror(errno));
		return (CTL_ELOCAL);
	}
	/* Content-Length must be known up front: a file, not a pipe. */
	if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (*fd == STDIN_FILENO && (at = lseek(*fd, 0, SEEK_CUR)) < 0)) {
		ctl_warn("import: %s: not a regular file", file);
		if (*fd != STDIN_FILENO)
			close(*fd);
		return (CTL_ELOCAL);
	}
	*len = (uint64_t)(st.st_size - at);
	return (CTL_OK);
}

int
cmd_import(const struct ctl_ctx *c)
{
	const char *file = c->args->pos[2];
	struct ctl_buf target = {0}, out = {0};
	struct ctl_resp r = {0};
	struct ctl_obj o;
	struct ctl_req q;
	cJSON *j = NULL;
	uint64_t len;
	int fd, rv;

	if ((rv = cmd_object_arg(c, &o)) != 0 ||
	    (rv = import_open(file, &fd, &len)) != 0)
		return (rv);
	ctl_obj_path(&target, &o, "/import");
	cmd_req_init(&q, "PUT", ctl_buf_text(&target));
	q.content_type = "application/vnd.sqlite3";
	q.body_fd = fd;
	q.body_fd_len = len;
	if ((rv = cmd_request_json(c, &q, &r, &j)) == CTL_OK) {
		if (c->args->opt[CTL_OPT_JSON] != NULL) {
			rv = cmd_write_body(&r);
		} else {
			ctl_import_render(&out, j);
			rv = out.err ? CTL_ELOCAL : cmd_write(out.p, out.len);
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
	cJSON_Delete(j);
	ctl_resp_free(&r);
	ctl_buf_free(&target);
	ctl_buf_free(&out);
	return (rv);
}
