/*
 * ws_conn.h — WebSocket connections (ws_handshake.c, ws_conn.c): the
 * opening handshake's checks and one server-side connection driven on
 * durod's loop. Private for now; to be merged into durod.h.
 */
#ifndef DURO_WS_CONN_H
#define DURO_WS_CONN_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#define WS_ACCEPT_LEN 29  /* Sec-WebSocket-Accept: 28 base64 chars + NUL */
#define WS_REASON_MAX 123 /* a close reason's bytes (RFC 6455 5.5) */

#define WS_MAX_MESSAGE_DEFAULT ((size_t)32 << 20)
#define WS_MAX_PENDING_DEFAULT ((size_t)4 << 20)
#define WS_CLOSE_TIMEOUT_DEFAULT 5.0

/* Close codes durod uses (RFC 6455 7.4.1). */
#define WS_CODE_NORMAL 1000
#define WS_CODE_GOING_AWAY 1001
#define WS_CODE_PROTOCOL 1002
#define WS_CODE_NO_STATUS 1005 /* reported only: the peer's close had none */
#define WS_CODE_ABNORMAL 1006  /* reported only: no close frame, it broke */
#define WS_CODE_BAD_DATA 1007
#define WS_CODE_POLICY 1008
#define WS_CODE_TOO_BIG 1009
#define WS_CODE_INTERNAL 1011
#define WS_CODE_TRY_LATER 1013

/* ws_handshake.c */

/* Returns the value of the request header `name` (case-insensitive; a
 * repeated header's values joined with ", "), or NULL when absent. */
typedef const char *(*ws_header_fn)(void *arg, const char *name);

/*
 * Does the request ask to become a WebSocket at all (an Upgrade header
 * listing "websocket")? 1 or 0. A request that does not is an ordinary
 * request; one that does but fails ws_handshake_accept() is a bad one.
 */
int ws_handshake_wanted(ws_header_fn header, void *arg);

/*
 * Check an upgrade request's headers (RFC 6455 4.2.1): Upgrade lists
 * "websocket", Connection lists "upgrade" (both case-insensitive token
 * lists), Sec-WebSocket-Key is the base64 of 16 bytes, and
 * Sec-WebSocket-Version is 13. The method (GET) and HTTP version (1.1)
 * are the caller's to check. Returns 0 with the Sec-WebSocket-Accept value
 * in accept (NUL-terminated); -2 when only the version is wrong (answer
 * 426 with "Sec-WebSocket-Version: 13", RFC 6455 4.4); -1 otherwise
 * (answer 400). On failure err holds the reason.
 */
int ws_handshake_accept(ws_header_fn header, void *arg,
    char accept[WS_ACCEPT_LEN], char *err, size_t errlen);

/* ws_conn.c */

struct ws_conn;

struct ws_conn_ops {
	/*
	 * A whole message arrived (a text one is valid UTF-8; data is
	 * never NULL). May call ws_conn_send, ws_conn_close, ws_conn_pending
	 * and ws_conn_free on this connection. Messages arriving after
	 * ws_conn_close() are dropped, not delivered.
	 */
	void (*message)(void *arg, int binary, const uint8_t *data, size_t len);
	/*
	 * The connection is finished and its fd closed: called exactly once,
	 * always from a loop callback (never from inside a ws_conn_* call).
	 * code and reason: the peer's close frame if one arrived (1005: it
	 * had no code); else the code we closed with (ours, or 1002, 1007,
	 * 1008, 1009 when the peer was failed); else 1006 (EOF, I/O error,
	 * timeout). clean: close frames went both ways. When this returns
	 * the ws_conn is freed: do not use it again, not even ws_conn_free.
	 */
	void (*closed)(void *arg, int code, const char *reason, int clean);
};

struct ws_conn_limits {
	size_t max_message; /* bigger incoming message: close 1009 */
	size_t max_pending; /* unsent output bound; past it close 1008 */
};

/*
 * Take over fd (a connected, non-blocking stream socket): first write
 * head (the 101 response the caller built), then speak WebSocket. in are
 * bytes already read past the request's headers (they may begin the
 * first frames); they are processed from the loop, before the fd is
 * read. head and in are copied. lim may be NULL, and zero fields in it
 * mean the defaults above. ops->message and ops->closed are required.
 * Returns NULL when out of memory; the fd is untouched then.
 */
struct ws_conn *ws_conn_open(struct ev_loop *loop, int fd, const void *head,
    size_t headlen, const void *in, size_t inlen,
    const struct ws_conn_limits *lim, const struct ws_conn_ops *ops, void *arg);

/*
 * Queue a message (text must be UTF-8: not checked here). 0 when queued.
 * -1 when not: the connection is closing, or the message would take the
 * unsent output past max_pending; in that case the connection is failed
 * with 1008 "send buffer full": reading stops, the close frame goes out
 * at the next frame boundary and what was queued behind it is dropped.
 * Whenever -1 is returned, closed() follows from the loop.
 */
int ws_conn_send(struct ws_conn *c, int binary, const void *data, size_t len);

/*
 * Start the close handshake: messages already queued go out first, then a
 * close frame with code (1000-1003, 1007-1014 or 3000-4999; others become
 * 1000) and reason (cut to WS_REASON_MAX bytes at a character boundary).
 * Later messages from the peer are dropped. closed() follows once the
 * peer answers, or close_timeout after this call. A no-op when the
 * connection is already closing.
 */
void ws_conn_close(struct ws_conn *c, int code, const char *reason);

/* How long a close may take, from its start to the fd's close (default
 * WS_CLOSE_TIMEOUT_DEFAULT seconds). Applies to closes that begin later. */
void ws_conn_set_close_timeout(struct ws_conn *c, double seconds);

/* Bytes queued and not yet written (the head, messages, control frames;
 * a partly written message counts whole). May pass max_pending by a close
 * frame, or by the pongs for one read's pings before the peer is failed. */
size_t ws_conn_pending(const struct ws_conn *c);

/* Drop it now without callbacks (durod exiting): close the fd, free. Safe
 * from inside ops->message (takes effect when it returns). */
void ws_conn_free(struct ws_conn *c);

#endif /* DURO_WS_CONN_H */
