/*
 * ipc.h — the duro wire protocol, version 1 (see ipc/PROTOCOL.md).
 *
 * One codec, shared by durod and libduro. A frame is one nng message:
 *
 *	u32 big-endian H | H bytes of UTF-8 JSON header | body bytes (binary)
 *
 * The JSON header is an object whose "type" names the message; the body is
 * whatever follows the header, possibly empty, never parsed by the codec.
 *
 * ipc_codec.c is pure (no nng, no I/O) so it can be unit-tested and fuzzed;
 * ipc_nng.c moves frames over an nng socket.
 */
#ifndef DURO_IPC_H
#define DURO_IPC_H

#include <stddef.h>
#include <stdint.h>

#define IPC_PROTOCOL_VERSION 1

/* Bounds every decoder enforces before it looks further. */
#define IPC_MAX_HEADER_BYTES (256u * 1024)
#define IPC_MAX_BODY_BYTES (32u * 1024 * 1024)
#define IPC_MAX_FRAME_BYTES (4u + IPC_MAX_HEADER_BYTES + IPC_MAX_BODY_BYTES)
#define IPC_MAX_HEADERS 1024
#define IPC_MAX_METHOD 32
#define IPC_MAX_ID ((uint64_t)1 << 53) /* exact in a JSON number */
#define IPC_MAX_TIME_MS IPC_MAX_ID     /* alarm times: epoch ms */
#define IPC_MAX_ALARM_NAME 256         /* bytes of UTF-8; "" = the default */
#define IPC_MAX_ALARMS 1024            /* alarm entries in one message */
#define IPC_MAX_RETRY 65535
/* WebSockets (PROTOCOL.md section 15). */
#define IPC_WS_MAX_TAGS 10          /* tags of one connection */
#define IPC_WS_MAX_TAG 256          /* bytes of UTF-8, at least 1 */
#define IPC_WS_MAX_REASON 123       /* bytes of UTF-8: a close frame's room */
#define IPC_WS_MAX_ATTACHMENT 16384 /* bytes, a connection's attachment */
#define IPC_WS_MAX_AUTO 2048        /* bytes of UTF-8, each auto string */
#define IPC_WS_MAX_CONNS 32768      /* connections of one object */
#define IPC_WS_MAX_CODE 4999        /* close codes: 0..4999 reported, */
#define IPC_WS_MIN_CLOSE 1000       /* 1000..4999 asked for */

enum ipc_type {
	IPC_UNKNOWN = 0, /* well-formed, but a type this side does not know */
	IPC_READY,       /* worker -> durod: dialed and ready for events */
	IPC_REQUEST,     /* durod -> worker: an HTTP-style request */
	IPC_RESPONSE,    /* worker -> durod: the reply to one request */
	IPC_HIBERNATE,   /* durod -> worker: exit now, cleanly */
	IPC_ERROR,       /* either way: a request failed, or a protocol error */
	IPC_ALARM,       /* durod -> worker: an alarm is due */
	IPC_DONE, /* worker -> durod: an event other than a request succeeded */
	IPC_ALARM_SYNC, /* worker -> durod: index these wake-ups before I commit
	                 */
	IPC_ALARM_ACK,  /* durod -> worker: they are indexed (or not) */
	IPC_WS_MESSAGE, /* durod -> worker: a client's message (an event) */
	/*
	 * Both ways, told apart by the id: with one, durod -> worker, the
	 * event "a connection is gone"; without, worker -> durod, the action
	 * "close this connection". Each form has its own checks.
	 */
	IPC_WS_CLOSE,
	IPC_WS_SEND,        /* worker -> durod: send to one connection */
	IPC_WS_BROADCAST,   /* worker -> durod: send to every tagged one */
	IPC_WS_ATTACH,      /* worker -> durod: set a connection's attachment */
	IPC_WS_AUTO,        /* worker -> durod: set the auto-response pair */
	IPC_WS_LIST,        /* worker -> durod: which connections (query) */
	IPC_WS_GET,         /* worker -> durod: one connection (query) */
	IPC_WS_LIST_RESULT, /* durod -> worker: the answer to ws_list */
	IPC_WS_INFO,        /* durod -> worker: the answer to ws_get */
};

/* Errors returned by ipc_decode(); each comes with a message in err[]. */
enum ipc_err {
	IPC_OK = 0,
	IPC_ETRUNCATED = -1, /* frame shorter than its own length prefix */
	IPC_ETOOBIG = -2,    /* header or body past the limits above */
	IPC_EJSON = -3,      /* header is not a JSON object */
	IPC_EFIELD = -4,     /* a field is missing, mistyped or out of range */
};

struct ipc_header {
	const char *name;
	const char *value;
};

/*
 * One alarm's state in an "alarms" list: set to fire at `at` (epoch ms),
 * repeating every `every` ms (0: once), or deleted (no "at" on the wire).
 */
struct ipc_alarm {
	const char *name; /* "" is the default alarm */
	int deleted;
	uint64_t at;
	uint64_t every;
};

/* One connection in a ws_list_result. */
struct ipc_ws_conn {
	uint64_t conn;
	const char *const *tags;
	size_t ntags;
	uint64_t auto_ms; /* the last auto-response (epoch ms), 0: never */
};

/*
 * A decoded message. Strings point into storage owned by the message and
 * live until ipc_msg_release(); body points into the frame it was decoded
 * from (zero copy), so that frame must outlive the message.
 */
struct ipc_msg {
	enum ipc_type type;
	const char *type_name; /* as sent; useful to log IPC_UNKNOWN */
	uint64_t id; /* request/response/error correlation, 0 = none */

	int protocol; /* ready */
	long pid;     /* ready, 0 when absent */

	const char *method; /* request */
	const char *path;   /* request: starts with '/' */
	const char *query;  /* request: without '?', may be "" */
	int status;         /* response: 100..599 */

	struct ipc_header *headers; /* request, response */
	size_t nheaders;

	const char *code;    /* error: a short machine-readable code */
	const char *message; /* error, alarm_ack: human-readable, may be "" */

	const char *name;   /* alarm: which alarm ("" = the default one) */
	uint64_t scheduled; /* alarm: the time it was set for, epoch ms */
	int retry;          /* alarm: 0 on the first attempt */
	int final;          /* alarm: the last attempt before it is dropped */
	int ok;             /* alarm_ack: the wake-ups are durable */

	/* response, done: the alarms the event changed, as committed;
	 * alarm_sync: wake-ups that must be indexed first (never deleted) */
	struct ipc_alarm *alarms;
	size_t nalarms;

	/* WebSockets (PROTOCOL.md section 15). */
	int websocket;    /* request: a valid upgrade */
	uint64_t ws_conn; /* request, with websocket: the connection's id */
	/* ws_message, ws_close, ws_send, ws_attach, ws_get, ws_info */
	uint64_t conn;
	int binary; /* ws_message, ws_send, ws_broadcast: else UTF-8 text */
	/* ws_close: the event reports 0..4999, the action asks for
	 * 1000..4999 (decoded as 1000 when absent) */
	int close_code;
	const char *reason; /* ws_close: at most 123 bytes, "" when none */
	int clean;          /* ws_close event: a close handshake took place */
	const char *tag;    /* ws_broadcast, ws_list: NULL = every connection */
	/* response (with status 101), ws_info: at most IPC_WS_MAX_TAGS */
	const char *const *tags;
	size_t ntags;
	const char *auto_request;  /* ws_auto: "" and "" clears the pair */
	const char *auto_response; /* ws_auto */
	struct ipc_ws_conn *conns; /* ws_list_result */
	size_t nconns;
	uint64_t after;   /* ws_list: only connections with a greater id */
	int more;         /* ws_list_result: ask again, after the last one */
	int found;        /* ws_info: the connection exists */
	uint64_t auto_ms; /* ws_info: the last auto-response, 0: never */

	const uint8_t *body;
	size_t body_len;

	/* private to the codec */
	void *json_;
	void *conn_tags_; /* the tags of every entry of conns */
	void *frame_;
};

/* ipc_codec.c */
const char *ipc_type_name(enum ipc_type);
/*
 * Decode one frame. On success fills *m (release it with ipc_msg_release)
 * and returns IPC_OK; otherwise returns an enum ipc_err, writes a one-line
 * reason to err (if errlen > 0) and leaves nothing to release.
 */
int ipc_decode(const uint8_t *buf, size_t len, struct ipc_msg *m, char *err,
    size_t errlen);
/*
 * Encode m into a malloc'd frame of *len bytes with room for the body, which
 * is copied from m->body. Returns the frame or NULL (out of memory, or past
 * the size limits). The encoder trusts its caller: fields must already be
 * valid (durod checks what it got from HTTP clients before encoding).
 */
uint8_t *ipc_encode(const struct ipc_msg *m, size_t *len);
/* Header JSON of m as a malloc'd string, or NULL. Used by ipc_encode. */
char *ipc_header_json(const struct ipc_msg *m);
void ipc_msg_release(struct ipc_msg *m);
/* ipc_alarm.c */
/*
 * The next occurrence of an alarm repeating every `every` ms that was
 * scheduled for `scheduled` and has just run (or been given up) at now:
 * scheduled + k * every for the smallest k >= 1 that lands after now,
 * at most IPC_MAX_TIME_MS. 0 when every is 0 (it does not repeat).
 */
uint64_t ipc_alarm_next(uint64_t scheduled, uint64_t every, uint64_t now);
/* ipc_text.c */
/* True if s is an HTTP token (header name, method). */
int ipc_is_token(const char *s);
/* True if [s, s+len) is valid UTF-8 without NUL: strings travel in JSON
 * and in the environment. Rejects overlong forms and surrogates. */
int ipc_is_utf8(const char *s, size_t len);
/* True if [s, s+len) is a WebSocket text message: valid UTF-8, in which
 * (unlike strings of the protocol) NUL is allowed. */
int ipc_is_ws_text(const void *s, size_t len);
/* True if s may be sent as an HTTP header value (no CR, LF or other CTLs). */
int ipc_is_header_value(const char *s);
/*
 * Percent-decode [s, s+len) into out (at most outmax bytes, not
 * NUL-terminated); '+' becomes a space if plus_is_space (query strings).
 * Returns 0, -1 for a malformed escape, -2 when out is too small.
 */
int ipc_pct_decode(const char *s, size_t len, int plus_is_space, char *out,
    size_t outmax, size_t *outlen);

#endif
