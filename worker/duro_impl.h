/*
 * duro_impl.h — libduro's private header, prototypes grouped by file.
 */
#ifndef DURO_IMPL_H
#define DURO_IMPL_H

#include <nng/nng.h>

#include "duro.h"
#include "ipc.h"

struct duro_response {
	int status;
	struct ipc_header *headers; /* name and value strings are owned */
	size_t nheaders;
	size_t headers_cap;
	uint8_t *body;
	size_t body_len;
	size_t body_cap;
	char *error; /* from duro_response_error(), or NULL */
	int err;     /* the first builder call that failed, or 0 */
};

struct duro {
	nng_socket sock;
	int sock_open;
	int recv_fd; /* readable while a message waits (NNG_OPT_RECVFD) */
	int send_fd; /* readable while a send would not block */
	/*
	 * Self-pipe written (never read) when the pipe to durod is removed:
	 * once readable it stays readable, so every poll() sees durod gone.
	 */
	int gone[2];
	int ready_sent;

	char *url;
	char *ns;
	char *id;
	char *name; /* NULL for unnamed objects */
	char *storage;

	duro_request_fn on_request;
	void *request_arg;
	duro_hibernate_fn on_hibernate;
	void *hibernate_arg;
};

/* duro.c */
/* Send one protocol message, waiting while the socket is busy. */
int duro_send_msg(struct duro *, const struct ipc_msg *);
/* Send an "error" for request id with a formatted message. */
int duro_send_error(struct duro *, uint64_t id, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* True once the pipe to durod has gone away. */
int duro_gone(const struct duro *);

/* duro_response.c */
void duro_response_init(struct duro_response *);
void duro_response_free(struct duro_response *);

#endif
