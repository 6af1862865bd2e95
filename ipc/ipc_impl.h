/*
 * ipc_impl.h — private to the codec's files (ipc_codec.c, ipc_ws.c): the
 * field helpers they share. Not part of the protocol's interface.
 */
#ifndef DURO_IPC_IMPL_H
#define DURO_IPC_IMPL_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "ipc.h"

/* Write "<what>" into err and return rv (an enum ipc_err). */
int ipc_fail(char *err, size_t errlen, int rv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Fields of a JSON header: 0, or -1 when required and absent, or of the
 * wrong type or range. */
int ipc_get_string(
    const cJSON *o, const char *key, int required, const char **out);
int ipc_get_int(const cJSON *o, const char *key, int required, double lo,
    double hi, double *out);
int ipc_get_bool(const cJSON *o, const char *key, int required, int *out);
/* Add an exact unsigned integer (up to 2^53): 1, or 0 when out of memory. */
int ipc_add_uint(cJSON *o, const char *key, uint64_t v);

/* ipc_ws.c: the WebSocket messages' fields (0 or an enum ipc_err), the
 * request's upgrade fields, their encoding (1 ok, 0 out of memory), and a
 * tags array. */
int ipc_ws_decode(const cJSON *o, struct ipc_msg *m, char *err, size_t errlen);
int ipc_ws_decode_upgrade(
    const cJSON *o, struct ipc_msg *m, char *err, size_t errlen);
int ipc_ws_encode(cJSON *o, const struct ipc_msg *m);
cJSON *ipc_ws_tags_json(const char *const *tags, size_t n);
int ipc_ws_get_tags(
    const cJSON *o, struct ipc_msg *m, char *err, size_t errlen);

#endif
