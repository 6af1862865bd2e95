/*
 * audit.c — which system call a seccomp kill was for.
 *
 * A worker killed by its filter dies of SIGSYS, and the wait status says
 * no more. The kernel, though, logs each kill as an audit record
 * ("audit: type=1326 ... pid=P ... syscall=N ...") to its message buffer
 * before the process is gone, so by the time durod reaps the worker the
 * record is there to read in /dev/kmsg. Reading it needs CAP_SYSLOG (or
 * kernel.dmesg_restrict=0), and the kernel may rate-limit the records:
 * the system call is reported where the kernel gives it, and otherwise
 * not at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

#define KMSG_SECCOMP_KILL "type=1326"

int
sb_audit_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	/* Only what is logged from now on. */
	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		fd = -1;
	}
	return (fd);
}

/* The number after " key=" in a record, or -1. */
static long
field(const char *rec, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	if ((p = strstr(rec, pat)) == NULL)
		return (-1);
	return (strtol(p + strlen(pat), NULL, 10));
}

int
sb_audit_syscall(int fd, pid_t pid, char *name, size_t len)
{
	char rec[2048], *s;
	long nr = -1;
	ssize_t n;

	if (fd < 0)
		return (-1);
	/* One record per read; drain what came since the last call. */
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue; /* records were overwritten: go on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		if (strstr(rec, KMSG_SECCOMP_KILL) != NULL &&
		    field(rec, "pid") == (long)pid)
			nr = field(rec, "syscall");
	}
	if (nr < 0)
		return (-1);
	if ((s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr)) !=
	    NULL) {
		snprintf(name, len, "%s", s);
		free(s);
	} else
		snprintf(name, len, "#%ld", nr);
	return (0);
}
