/*
 * nng_recvfd_leak.c — one-off (not run by bench/run.sh): does nng_close()
 * release the pipe pair that reading NNG_OPT_RECVFD creates? With libnng
 * 1.5.2 (Debian 12) it does not: 2 fds stay open per socket. See
 * bench/RESULTS.md, finding 6.
 *
 *	cc -o /tmp/nng_recvfd_leak nng_recvfd_leak.c -lnng -lpthread
 */
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>

static int
nfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return (n - 3); /* ".", ".." and the DIR's own fd */
}

int
main(void)
{
	printf("start %d\n", nfds());
	for (int i = 0; i < 10; i++) {
		nng_socket s;
		int fd;

		nng_pair0_open(&s);
		nng_socket_get_int(s, NNG_OPT_RECVFD, &fd);
		if (i == 0)
			printf("after the first open + RECVFD %d\n", nfds());
		nng_close(s);
	}
	printf("after 10 x (open, RECVFD, close) %d\n", nfds());
	for (int i = 0; i < 10; i++) {
		nng_socket s;

		nng_pair0_open(&s);
		nng_close(s);
	}
	printf("after 10 x (open, close) %d\n", nfds());
	sleep(2);
	printf("2 s later %d\n", nfds());
	return (0);
}
