/*
 * hostile.c — a worker that tries, on request, to break out of its
 * sandbox; the integration tests (test_sandbox_*.py) check from outside
 * that nothing happened.
 *
 * Every route is a POST to /<attempt>, and answers 200 with
 *	{"attempt": A, "result": "refused", "errno": "EACCES"}
 * when the system refused the attempt, or
 *	{"attempt": A, "result": "succeeded"}
 * when it went through (a sandbox hole: the tests fail on it). An attempt
 * the sandbox answers by killing the worker (seccomp) gets no reply: the
 * client sees 500 object_reset.
 *
 *	/write?path=P        open P read-write and write to it (another
 *	                     object's db.sqlite, say)
 *	/read?path=P         open P and read from it (/etc/shadow)
 *	/create?path=P       create the file P (in /tmp)
 *	/connect?port=N      TCP connect to 127.0.0.1:N
 *	/exec                execve("/bin/sh")
 *	/fork                fork(), in a loop of 100
 *	/ptrace              ptrace(PTRACE_ATTACH) the parent (durod)
 *	/kill                kill(parent, SIGTERM)
 *	/alloc?mb=N          malloc and touch N MiB
 *	/fsize?mb=N          write N MiB to a file in the object's directory
 *	/mount               mount a tmpfs on /tmp
 *	/unshare             unshare(CLONE_NEWUSER | CLONE_NEWNS)
 *	GET /                "ok" (the worker is alive)
 */
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duro.h"

static int
reply(struct duro_response *resp, const char *attempt, int rv, int err)
{
	char body[256];

	if (rv == 0)
		snprintf(body, sizeof(body),
		    "{\"attempt\":\"%s\",\"result\":\"succeeded\"}", attempt);
	else
		snprintf(body, sizeof(body),
		    "{\"attempt\":\"%s\",\"result\":\"refused\",\"errno\":\"%"
		    "s\"}",
		    attempt, strerrorname_np(err) ? strerrorname_np(err) : "?");
	return (duro_response_json(resp, 200, body));
}

static long
param_long(const struct duro_request *req, const char *key, long def)
{
	char buf[32];

	if (duro_query_param(req, key, buf, sizeof(buf)) != 0)
		return (def);
	return (strtol(buf, NULL, 10));
}

static int
try_write(const char *path)
{
	int fd = open(path, O_RDWR);

	if (fd < 0)
		return (-1);
	if (write(fd, "hostile", 7) != 7) {
		close(fd);
		return (-1);
	}
	close(fd);
	return (0);
}

static int
try_read(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return (-1);
	if (read(fd, buf, sizeof(buf)) < 0) {
		close(fd);
		return (-1);
	}
	close(fd);
	return (0);
}

static int
try_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	if (fd < 0)
		return (-1);
	close(fd);
	return (0);
}

static int
try_connect(long port)
{
	struct sockaddr_in sin;
	int s = socket(AF_INET, SOCK_STREAM, 0), rv;

	if (s < 0)
		return (-1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rv = connect(s, (struct sockaddr *)&sin, sizeof(sin));
	close(s);
	return (rv);
}

static int
try_exec(void)
{
	char *const argv[] = {"sh", "-c", "exit 0", NULL};
	char *const envp[] = {NULL};

	execve("/bin/sh", argv, envp);
	return (-1);
}

static int
try_fork(void)
{
	pid_t pid;

	for (int i = 0; i < 100; i++) {
		if ((pid = fork()) < 0)
			return (-1);
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
	}
	return (0);
}

static int
try_alloc(long mb)
{
	char *p = malloc((size_t)mb * 1024 * 1024);

	if (p == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	memset(p, 1, (size_t)mb * 1024 * 1024);
	free(p);
	return (0);
}

/* Write mb MiB next to the object's database (its own directory). */
static int
try_fsize(struct duro *d, long mb)
{
	char dir[4096], path[4200], chunk[65536];
	int fd;

	snprintf(dir, sizeof(dir), "%s", duro_storage_path(d));
	snprintf(path, sizeof(path), "%s/big", dirname(dir));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return (-1);
	memset(chunk, 'x', sizeof(chunk));
	for (long i = 0; i < mb * 16; i++)
		if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk)) {
			close(fd);
			unlink(path);
			return (-1);
		}
	close(fd);
	unlink(path);
	return (0);
}

static int
hostile_request(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	const char *a = req->path + 1;
	char path[1024] = "";
	int rv;

	if (strcmp(req->method, "GET") == 0)
		return (duro_response_printf(resp, "ok\n"));
	(void)duro_query_param(req, "path", path, sizeof(path));
	errno = 0;
	if (strcmp(a, "write") == 0)
		rv = try_write(path);
	else if (strcmp(a, "read") == 0)
		rv = try_read(path);
	else if (strcmp(a, "create") == 0)
		rv = try_create(path);
	else if (strcmp(a, "connect") == 0)
		rv = try_connect(param_long(req, "port", 0));
	else if (strcmp(a, "exec") == 0)
		rv = try_exec();
	else if (strcmp(a, "fork") == 0)
		rv = try_fork();
	else if (strcmp(a, "ptrace") == 0)
		rv = (int)ptrace(PTRACE_ATTACH, getppid(), NULL, NULL);
	else if (strcmp(a, "kill") == 0)
		rv = kill(getppid(), SIGTERM);
	else if (strcmp(a, "alloc") == 0)
		rv = try_alloc(param_long(req, "mb", 1024));
	else if (strcmp(a, "fsize") == 0)
		rv = try_fsize(d, param_long(req, "mb", 64));
	else if (strcmp(a, "mount") == 0)
		rv = mount("none", "/tmp", "tmpfs", 0, NULL);
	else if (strcmp(a, "unshare") == 0)
		rv = unshare(CLONE_NEWUSER | CLONE_NEWNS);
	else
		return (duro_response_json_error(
		    resp, 404, "not_found", "no attempt \"%s\"", a));
	return (reply(resp, a, rv, errno));
}

int
main(void)
{
	struct duro *d;
	int rv;

	if ((rv = duro_open(&d)) != 0)
		return (duro_exit_status(rv));
	duro_on_request(d, hostile_request, NULL);
	rv = duro_run(d);
	duro_close(d);
	return (duro_exit_status(rv));
}
