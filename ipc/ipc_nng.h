/*
 * ipc_nng.h — protocol frames over an nng pair0 socket.
 */
#ifndef DURO_IPC_NNG_H
#define DURO_IPC_NNG_H

#include <nng/nng.h>

#include "ipc.h"

/*
 * Encode m into a new nng message in *out (the caller sends or frees it).
 * Returns 0, NNG_ENOMEM (out of memory, or the body is past the limit) or
 * NNG_EMSGSIZE (the header is past IPC_MAX_HEADER_BYTES).
 */
int ipc_encode_nng(const struct ipc_msg *m, nng_msg **out);
/*
 * Encode m into one nng message and send it with nng flags (0 or
 * NNG_FLAG_NONBLOCK). Returns 0 or an nng error (NNG_ENOMEM when m could
 * not be encoded, NNG_EAGAIN when a non-blocking send would block).
 */
int ipc_send(nng_socket s, const struct ipc_msg *m, int flags);
/*
 * Receive and decode one message. Returns 0 (release *m with ipc_recv_done),
 * a positive nng error (NNG_EAGAIN, NNG_ECLOSED, ...) or a negative
 * enum ipc_err with a reason in err: the peer sent a malformed frame.
 */
int ipc_recv(
    nng_socket s, struct ipc_msg *m, int flags, char *err, size_t errlen);
/* Decode a message already received (it is consumed either way); returns
 * 0 or a negative enum ipc_err, like ipc_recv. */
int ipc_decode_msg(nng_msg *, struct ipc_msg *m, char *err, size_t errlen);
/* Release a message from ipc_recv and the frame it points into. */
void ipc_recv_done(struct ipc_msg *m);

#endif
