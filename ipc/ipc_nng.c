/*
 * ipc_nng.c — protocol frames over nng: one frame per nng message.
 *
 * The send path writes header and body straight into one nng_msg so a
 * request body is copied once, from the caller into the message.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc_nng.h"

int
ipc_encode_nng(const struct ipc_msg *m, nng_msg **out)
{
	nng_msg *msg;
	uint8_t *p;
	char *json;
	size_t hlen;
	int rv;

	if (m->body_len > IPC_MAX_BODY_BYTES ||
	    (json = ipc_header_json(m)) == NULL)
		return (NNG_ENOMEM);
	hlen = strlen(json);
	if (hlen > IPC_MAX_HEADER_BYTES) {
		free(json);
		return (NNG_EMSGSIZE);
	}
	if ((rv = nng_msg_alloc(&msg, 4 + hlen + m->body_len)) != 0) {
		free(json);
		return (rv);
	}
	p = nng_msg_body(msg);
	p[0] = (uint8_t)(hlen >> 24);
	p[1] = (uint8_t)(hlen >> 16);
	p[2] = (uint8_t)(hlen >> 8);
	p[3] = (uint8_t)hlen;
	memcpy(p + 4, json, hlen);
	if (m->body_len > 0)
		memcpy(p + 4 + hlen, m->body, m->body_len);
	free(json);
	*out = msg;
	return (0);
}

int
ipc_send(nng_socket s, const struct ipc_msg *m, int flags)
{
	nng_msg *msg;
	int rv;

	if ((rv = ipc_encode_nng(m, &msg)) != 0)
		return (rv);
	if ((rv = nng_sendmsg(s, msg, flags)) != 0)
		nng_msg_free(msg);
	return (rv);
}

int
ipc_decode_msg(nng_msg *msg, struct ipc_msg *m, char *err, size_t errlen)
{
	int rv;

	rv = ipc_decode(nng_msg_body(msg), nng_msg_len(msg), m, err, errlen);
	if (rv != IPC_OK) {
		nng_msg_free(msg);
		return (rv);
	}
	m->frame_ = msg;
	return (0);
}

int
ipc_recv(nng_socket s, struct ipc_msg *m, int flags, char *err, size_t errlen)
{
	nng_msg *msg;
	int rv;

	if ((rv = nng_recvmsg(s, &msg, flags)) != 0)
		return (rv);
	return (ipc_decode_msg(msg, m, err, errlen));
}

void
ipc_recv_done(struct ipc_msg *m)
{
	ipc_msg_release(m);
	if (m->frame_ != NULL)
		nng_msg_free(m->frame_);
	m->frame_ = NULL;
}
