/*
 * chat.c — the WebSocket example: one chat room per object.
 *
 *	GET /      a small self-contained HTML page (inline CSS and JS) that
 *	           connects to ws://<host>/chat/<room>/ws
 *	GET /ws    the WebSocket: accepted with the tag "room", then the
 *	           room's last 100 messages are sent to the newcomer, oldest
 *	           first
 *
 * Clients send plain text frames. "/nick NAME" sets the sender's nickname
 * (NAME is trimmed of spaces and tabs, 1 to 32 bytes without control
 * characters; a bad one is ignored) and is not broadcast. Any other text
 * is a message: stored, then sent to every connection of the room as the
 * JSON text frame {"from": NICK, "text": TEXT, "ts": epoch ms}, the sender
 * included. The nickname defaults to "anon". A message of 0 bytes or with
 * a NUL byte is ignored (cJSON strings are C strings); one longer than
 * 4096 bytes is cut to 4096 (or a few bytes less: the cut never splits a
 * UTF-8 character). Binary frames are ignored; a closing connection needs
 * nothing done (chat_ws_close).
 *
 * Where things live. The messages are rows of a SQL table in the object's
 * storage, written in the event's transaction; only the last 100 are
 * kept. The nickname lives in the connection's attachment, JSON
 * {"nick": NAME}, which durod keeps with the connection: so both survive
 * the object's hibernation between messages, and a nickname dies with its
 * connection. Everything this worker sends is output-gated: libduro sends
 * it after the event commits, so a client never sees a message that was
 * not stored, and the history sent in the accepting request goes out
 * right after the 101.
 *
 * Errors: 404 for other paths, 405 for a method other than GET, 426 for a
 * GET /ws that is not a WebSocket upgrade.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duro.h"

#define HISTORY_KEEP 100
#define TEXT_MAX 4096
#define NICK_MAX 32
#define NICK_DEFAULT "anon"
#define NICK_COMMAND "/nick"
#define ROOM_TAG "room"

/* STRICT: a TEXT column never silently holds a number, nor ts a string. */
static const char schema[] = "CREATE TABLE IF NOT EXISTS messages ("
                             " id INTEGER PRIMARY KEY,"
                             " nick TEXT NOT NULL,"
                             " text TEXT NOT NULL,"
                             " ts INTEGER NOT NULL"
                             ") STRICT;";
static const char sql_insert[] =
    "INSERT INTO messages (nick, text, ts) VALUES (?1, ?2, ?3)";
static const char sql_prune[] =
    "DELETE FROM messages WHERE id NOT IN"
    " (SELECT id FROM messages ORDER BY id DESC LIMIT ?1)";
static const char sql_history[] =
    "SELECT nick, text, ts FROM"
    " (SELECT id, nick, text, ts FROM messages ORDER BY id DESC LIMIT ?1)"
    " ORDER BY id";

/*
 * The page. Single quotes only, so the C string needs no escapes. It
 * shows each {"from","text","ts"} it receives as a line of #log (with
 * textContent: never as HTML), says "connected" in #status while the
 * WebSocket is open, and reconnects with backoff when it closes; the log
 * is cleared on (re)connecting, as the room replays its history then.
 */
static const char page[] =
    "<!doctype html>\n"
    "<html lang='en'>\n"
    "<head>\n"
    "<meta charset='utf-8'>\n"
    "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
    "<title>duro chat</title>\n"
    "<style>\n"
    "body { margin: 0; height: 100vh; display: flex;"
    " flex-direction: column;\n"
    "  font: 15px/1.4 system-ui, sans-serif; background: #f6f7f9;"
    " color: #222; }\n"
    "header { display: flex; justify-content: space-between;"
    " align-items: center;\n"
    "  padding: .6em 1em; background: #2d3a4a; color: #fff; }\n"
    "h1 { margin: 0; font-size: 1.1em; font-weight: 600; }\n"
    "#status { font-size: .85em; padding: .1em .7em; border-radius: 1em;"
    " background: #a33; }\n"
    "#status.ok { background: #2a7; }\n"
    "#log { flex: 1; overflow-y: auto; margin: 0; padding: .5em 1em;"
    " list-style: none; }\n"
    "#log li { padding: .15em 0; overflow-wrap: anywhere; }\n"
    "#log .ts { color: #888; font-size: .8em; margin-right: .6em; }\n"
    "#log .from { font-weight: 600; margin-right: .4em; }\n"
    "#log .note { color: #888; font-style: italic; }\n"
    "form { display: flex; gap: .5em; padding: .6em 1em; background: #fff;\n"
    "  border-top: 1px solid #ddd; }\n"
    "#msg { flex: 1; padding: .4em; font: inherit; }\n"
    "button { font: inherit; padding: .4em 1.2em; }\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<header><h1>duro chat: <span id='room'></span></h1>"
    "<span id='status'>connecting</span></header>\n"
    "<ul id='log'></ul>\n"
    "<form id='form'>"
    "<input id='msg' autocomplete='off' autofocus"
    " placeholder='Message, or /nick NAME'>"
    "<button id='send' type='submit' disabled>Send</button></form>\n"
    "<script>\n"
    "(function () {\n"
    "  'use strict';\n"
    "  var log = document.getElementById('log');\n"
    "  var msg = document.getElementById('msg');\n"
    "  var send = document.getElementById('send');\n"
    "  var status = document.getElementById('status');\n"
    "  var path = location.pathname;\n"
    "  if (path.charAt(path.length - 1) !== '/') path += '/';\n"
    "  var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') +\n"
    "    location.host + path + 'ws';\n"
    "  var parts = path.split('/').filter(Boolean);\n"
    "  try {\n"
    "    document.getElementById('room').textContent =\n"
    "      decodeURIComponent(parts[parts.length - 1] || '');\n"
    "  } catch (e) {}\n"
    "  var ws = null, retry = 1000;\n"
    "  function setStatus(text, ok) {\n"
    "    status.textContent = text;\n"
    "    status.className = ok ? 'ok' : '';\n"
    "    send.disabled = !ok;\n"
    "  }\n"
    "  function span(cls, text) {\n"
    "    var s = document.createElement('span');\n"
    "    s.className = cls;\n"
    "    s.textContent = text;\n"
    "    return s;\n"
    "  }\n"
    "  function two(n) { return (n < 10 ? '0' : '') + n; }\n"
    "  function line(children) {\n"
    "    var li = document.createElement('li');\n"
    "    var end = log.scrollTop + log.clientHeight >=\n"
    "      log.scrollHeight - 4;\n"
    "    children.forEach(function (c) { li.appendChild(c); });\n"
    "    log.appendChild(li);\n"
    "    if (end) log.scrollTop = log.scrollHeight;\n"
    "  }\n"
    "  function show(m) {\n"
    "    var t = new Date(m.ts);\n"
    "    line([span('ts', two(t.getHours()) + ':' + two(t.getMinutes()) +\n"
    "      ':' + two(t.getSeconds())), span('from', String(m.from) + ':'),\n"
    "      span('text', m.text)]);\n"
    "  }\n"
    "  function connect() {\n"
    "    setStatus('connecting', false);\n"
    "    ws = new WebSocket(url);\n"
    "    ws.onopen = function () {\n"
    "      retry = 1000;\n"
    "      log.textContent = '';\n"
    "      setStatus('connected', true);\n"
    "    };\n"
    "    ws.onmessage = function (e) {\n"
    "      var m;\n"
    "      if (typeof e.data !== 'string') return;\n"
    "      try { m = JSON.parse(e.data); } catch (x) { return; }\n"
    "      if (m && typeof m.text === 'string') show(m);\n"
    "    };\n"
    "    ws.onclose = function (e) {\n"
    "      setStatus('disconnected (' + e.code + ')', false);\n"
    "      setTimeout(connect, retry);\n"
    "      retry = Math.min(retry * 2, 30000);\n"
    "    };\n"
    "  }\n"
    "  document.getElementById('form').onsubmit = function (e) {\n"
    "    var text = msg.value, m;\n"
    "    e.preventDefault();\n"
    "    if (text.trim() === '' || !ws || ws.readyState !== 1) return;\n"
    "    ws.send(text);\n"
    "    msg.value = '';\n"
    "    msg.focus();\n"
    "    m = /^\\/nick\\s+(.+)$/.exec(text.trim());\n"
    "    if (m && new TextEncoder().encode(m[1].trim()).length <= 32)\n"
    "      line([span('note', 'you are now ' + m[1].trim())]);\n"
    "  };\n"
    "  connect();\n"
    "})();\n"
    "</script>\n"
    "</body>\n"
    "</html>\n";

/* ---- messages ---- */

/* {"from":nick,"text":text,"ts":ts} as a malloc'd C string, or NULL. */
static char *
message_json(const char *nick, const char *text, int64_t ts)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o != NULL && cJSON_AddStringToObject(o, "from", nick) != NULL &&
	    cJSON_AddStringToObject(o, "text", text) != NULL &&
	    duro_json_add_int(o, "ts", ts) == 0)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return (s);
}

/* Store a message and forget all but the last HISTORY_KEEP. */
static int
message_store(struct duro *d, const char *nick, const char *text, int64_t ts)
{
	struct duro_sql_value p[] = {
	    DURO_ARG_STR(nick), DURO_ARG_STR(text), DURO_ARG_INT(ts)};
	struct duro_sql_value keep[] = {DURO_ARG_INT(HISTORY_KEEP)};
	int rv;

	if ((rv = duro_sql_exec(d, NULL, sql_insert, p, 3)) != 0)
		return (rv);
	return (duro_sql_exec(d, NULL, sql_prune, keep, 1));
}

/* Send the stored messages to conn, oldest first (output-gated). */
static int
history_send(struct duro *d, uint64_t conn)
{
	struct duro_sql_value keep[] = {DURO_ARG_INT(HISTORY_KEEP)};
	struct duro_sql_cursor *c;
	char *s;
	int rv;

	if ((rv = duro_sql_exec(d, &c, sql_history, keep, 1)) != 0)
		return (rv);
	while ((rv = duro_sql_next(c)) == 1) {
		s = message_json(duro_sql_column_text(c, 0, NULL),
		    duro_sql_column_text(c, 1, NULL),
		    duro_sql_column_int(c, 2));
		if (s == NULL) {
			rv = DURO_ENOMEM;
			break;
		}
		rv = duro_ws_send(d, conn, 0, s, strlen(s));
		free(s);
		if (rv != 0)
			break;
	}
	duro_sql_close(c);
	return (rv < 0 ? rv : 0);
}

/* ---- nicknames ---- */

/*
 * If the text is a "/nick" command, copy its NAME (trimmed) into nick
 * and return 1, or return -1 when NAME is bad; 0 when it is no command.
 */
static int
nick_parse(const char *text, size_t len, char *nick)
{
	size_t cmd = strlen(NICK_COMMAND);

	if (len < cmd || memcmp(text, NICK_COMMAND, cmd) != 0 ||
	    (len > cmd && text[cmd] != ' ' && text[cmd] != '\t'))
		return (0);
	text += cmd;
	len -= cmd;
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len == 0 || len > NICK_MAX)
		return (-1);
	/* The text is valid UTF-8 (durod checks): only bytes < 0x80 matter. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			return (-1);
	memcpy(nick, text, len);
	nick[len] = '\0';
	return (1);
}

static int
nick_set(struct duro *d, uint64_t conn, const char *nick)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;
	int rv = DURO_ENOMEM;

	if (o != NULL && cJSON_AddStringToObject(o, "nick", nick) != NULL &&
	    (s = cJSON_PrintUnformatted(o)) != NULL)
		rv = duro_ws_set_attachment(d, conn, s, strlen(s));
	cJSON_Delete(o);
	free(s);
	return (rv);
}

/*
 * conn's nickname from its attachment into nick (NICK_MAX + 1 bytes):
 * NICK_DEFAULT when it has none, or is gone already. Returns 0 or the
 * error of asking durod.
 */
static int
nick_get(struct duro *d, uint64_t conn, char *nick)
{
	const cJSON *n;
	cJSON *o = NULL;
	void *data = NULL;
	size_t len = 0;
	int rv;

	snprintf(nick, NICK_MAX + 1, "%s", NICK_DEFAULT);
	rv = duro_ws_get_attachment(d, conn, &data, &len);
	if (rv == DURO_ENOENT)
		return (0);
	if (rv != 0)
		return (rv);
	if (data != NULL && (o = cJSON_ParseWithLength(data, len)) != NULL &&
	    cJSON_IsString(n = cJSON_GetObjectItemCaseSensitive(o, "nick")) &&
	    strlen(n->valuestring) <= NICK_MAX)
		snprintf(nick, NICK_MAX + 1, "%s", n->valuestring);
	cJSON_Delete(o);
	free(data);
	return (0);
}

/* ---- events ---- */

/*
 * The length of text cut to at most max bytes without splitting a UTF-8
 * character: back up over continuation bytes (10xxxxxx).
 */
static size_t
utf8_cut(const char *text, size_t len, size_t max)
{
	if (len <= max)
		return (len);
	while (max > 0 && ((unsigned char)text[max] & 0xc0) == 0x80)
		max--;
	return (max);
}

/* A message: store it, then broadcast it to the room. */
static int
chat_say(struct duro *d, uint64_t conn, const char *data, size_t len)
{
	char nick[NICK_MAX + 1], text[TEXT_MAX + 1], *s;
	int64_t ts = duro_now_ms();
	int rv;

	len = utf8_cut(data, len, TEXT_MAX);
	memcpy(text, data, len);
	text[len] = '\0';
	if ((rv = nick_get(d, conn, nick)) != 0 ||
	    (rv = message_store(d, nick, text, ts)) != 0)
		return (rv);
	if ((s = message_json(nick, text, ts)) == NULL)
		return (DURO_ENOMEM);
	rv = duro_ws_broadcast(d, ROOM_TAG, 0, s, strlen(s));
	free(s);
	return (rv);
}

static int
chat_ws_message(struct duro *d, uint64_t conn, int binary, const void *data,
    size_t len, void *arg)
{
	char nick[NICK_MAX + 1];
	int rv;

	if (binary || len == 0 || memchr(data, '\0', len) != NULL)
		return (0);
	switch (nick_parse(data, len, nick)) {
	case 1:
		rv = nick_set(d, conn, nick);
		break;
	case 0:
		rv = chat_say(d, conn, data, len);
		break;
	default:
		rv = 0;
		break;
	}
	if (rv != 0 && rv != DURO_ENOENT)
		fprintf(stderr, "chat: a message on connection %llu: %s\n",
		    (unsigned long long)conn, duro_strerror(rv));
	/* A connection gone meanwhile is no failure of the event. */
	return (rv == DURO_ENOENT ? 0 : rv);
}

/*
 * Nothing to do: durod forgets the connection (and its nickname) by
 * itself. The handler exists so that closes are not refused as
 * "unsupported", which durod would log as a failed event.
 */
static int
chat_ws_close(struct duro *d, uint64_t conn, int code, const char *reason,
    int clean, void *arg)
{
	return (0);
}

/* Accept the WebSocket, then replay the history to it. */
static int
chat_accept(
    struct duro *d, const struct duro_request *req, struct duro_response *resp)
{
	static const char *const tags[] = {ROOM_TAG};

	if (!duro_request_is_websocket(req)) {
		duro_response_header(resp, "Upgrade", "websocket");
		return (duro_response_json_error(resp, 426, "upgrade_required",
		    "%s wants a WebSocket upgrade", req->path));
	}
	if (duro_ws_accept(resp, tags, 1) != 0 ||
	    history_send(d, duro_request_ws_conn(req)) != 0)
		return (-1);
	return (0);
}

static int
chat_page(struct duro_response *resp)
{
	duro_response_header(resp, "Content-Type", "text/html; charset=utf-8");
	duro_response_header(resp, "Cache-Control", "no-store");
	return (duro_response_body(resp, page, sizeof(page) - 1));
}

static int
chat_request(struct duro *d, const struct duro_request *req,
    struct duro_response *resp, void *arg)
{
	int page_path = strcmp(req->path, "/") == 0;

	if (!page_path && strcmp(req->path, "/ws") != 0)
		return (duro_response_json_error(
		    resp, 404, "not_found", "no route %s", req->path));
	if (strcmp(req->method, "GET") != 0) {
		duro_response_header(resp, "Allow", "GET");
		return (
		    duro_response_json_error(resp, 405, "method_not_allowed",
		        "%s %s: use GET", req->method, req->path));
	}
	return (page_path ? chat_page(resp) : chat_accept(d, req, resp));
}

int
main(void)
{
	struct duro *d;
	int rv;

	if ((rv = duro_open(&d)) != 0)
		return (duro_exit_status(rv));
	/* Outside a handler: the script commits when this returns. */
	if ((rv = duro_sql_exec(d, NULL, schema, NULL, 0)) != 0) {
		fprintf(stderr, "chat: creating the schema: %s\n",
		    duro_storage_errmsg(d));
		duro_close(d);
		return (duro_exit_status(rv));
	}
	duro_on_request(d, chat_request, NULL);
	duro_on_ws_message(d, chat_ws_message, NULL);
	duro_on_ws_close(d, chat_ws_close, NULL);
	if ((rv = duro_run(d)) != 0)
		fprintf(stderr, "chat: %s\n", duro_strerror(rv));
	duro_close(d);
	return (duro_exit_status(rv));
}
