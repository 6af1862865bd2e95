/*
 * notify.c — tell init how durod is doing, the sd_notify(3) protocol
 * without libsystemd: one datagram of "KEY=VALUE" lines to the AF_UNIX
 * socket named by $NOTIFY_SOCKET. Nothing else in durod depends on it; with
 * the variable unset (runit, s6, a shell) it does nothing.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durod.h"

/* Init's socket is not durod's business: say once that it fails. */
static int notify_warned;

static void
notify_warn(const char *what, int err)
{
	if (notify_warned)
		return;
	notify_warned = 1;
	log_warn("notify: %s: %s (further notify errors not logged)", what,
	    strerror(err));
}

/*
 * Fill sun from $NOTIFY_SOCKET. Returns the address length, or 0 if the
 * name is empty, too long or not a path or an abstract name. An abstract
 * name ("@name") has no terminating NUL: its length is exactly the bytes
 * given, so the length passed to sendto must not round up to the struct.
 */
static socklen_t
notify_addr(const char *name, struct sockaddr_un *sun)
{
	size_t len = strlen(name);

	if (len < 2 || (name[0] != '/' && name[0] != '@') ||
	    len >= sizeof(sun->sun_path))
		return (0);
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, name, len);
	if (name[0] == '@') {
		sun->sun_path[0] = '\0';
		return (offsetof(struct sockaddr_un, sun_path) + len);
	}
	return (offsetof(struct sockaddr_un, sun_path) + len + 1);
}

void
notify_send(const char *state)
{
	struct sockaddr_un sun;
	const char *name;
	socklen_t slen;
	int fd;

	if ((name = getenv("NOTIFY_SOCKET")) == NULL || *name == '\0')
		return;
	if ((slen = notify_addr(name, &sun)) == 0) {
		notify_warn("NOTIFY_SOCKET is not a socket path", EINVAL);
		return;
	}
	/* Non-blocking: a stuck init must not stall the event loop. */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		notify_warn("socket", errno);
		return;
	}
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	        (struct sockaddr *)&sun, slen) == -1)
		notify_warn(name, errno);
	close(fd);
}
