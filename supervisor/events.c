/*
 * events.c — lifecycle events: one log line each, and the live NDJSON
 * stream of GET /events.
 *
 * An event is built once as a JSON object ({"ts", "time", "level",
 * "event", "ns", "id", "name", "pid", details..., "message"}); the same
 * line goes to the log when log_format is "json" and to every subscriber
 * whose namespace filter matches. In the text log format the message
 * alone is logged, prefixed by "object <ns>/<id>: " like every line about
 * an object.
 *
 * Subscribers are push streams (gateway_stream.c): one that falls
 * EVENTS_MAX_PENDING bytes behind is dropped, so a stalled client costs
 * a bounded buffer and never slows durod.
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "durod.h"

#define EVENTS_MAX_PENDING (256 * 1024)
#define EVENTS_MAX_SUBSCRIBERS 64

struct subscriber {
	struct events *ev;
	struct stream *stream;
	char *ns; /* only this namespace's events, or NULL */
	TAILQ_ENTRY(subscriber) entry;
};

struct events {
	TAILQ_HEAD(, subscriber) subs;
	size_t nsubs;
	uint64_t dropped;
};

struct event {
	cJSON *json;
	char ns[64];
	char id[DURO_ID_HEX + 1];
};

struct events *
events_open(void)
{
	struct events *ev = calloc(1, sizeof(*ev));

	if (ev != NULL)
		TAILQ_INIT(&ev->subs);
	return (ev);
}

static void
subscriber_free(struct subscriber *s)
{
	TAILQ_REMOVE(&s->ev->subs, s, entry);
	s->ev->nsubs--;
	free(s->ns);
	free(s);
}

void
events_close(struct events *ev)
{
	struct subscriber *s;

	if (ev == NULL)
		return;
	/* Each stream ends cleanly: the client sees a complete body. */
	while ((s = TAILQ_FIRST(&ev->subs)) != NULL) {
		struct stream *st = s->stream;
		subscriber_free(s);
		stream_end(st);
	}
	free(ev);
}

static void
subscriber_gone(void *arg)
{
	subscriber_free(arg);
}

static const struct stream_ops subscriber_ops = {NULL, subscriber_gone};

void
events_subscribe(struct events *ev, struct request *r, const char *ns)
{
	static const struct ipc_header h[] = {
	    {"Content-Type", "application/x-ndjson"},
	    {"Cache-Control", "no-store"},
	};
	struct subscriber *s;

	if (ev->nsubs >= EVENTS_MAX_SUBSCRIBERS) {
		request_error_retry(r, 503, 1, "too_many_subscribers",
		    "%d clients already follow /events",
		    EVENTS_MAX_SUBSCRIBERS);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (ns != NULL && (s->ns = strdup(ns)) == NULL)) {
		free(s);
		request_error(r, 500, "internal", "out of memory");
		return;
	}
	s->ev = ev;
	TAILQ_INSERT_TAIL(&ev->subs, s, entry);
	ev->nsubs++;
	if ((s->stream = request_stream(
	         r, 200, h, 2, &subscriber_ops, s, EVENTS_MAX_PENDING)) == NULL)
		subscriber_free(s);
}

size_t
events_nsubscribers(const struct events *ev)
{
	return (ev != NULL ? ev->nsubs : 0);
}

/* Write one line to every subscriber that wants it; drop the slow. */
static void
events_publish(struct events *ev, const char *ns, const char *line)
{
	struct subscriber *s, *next;
	size_t len = strlen(line);

	for (s = TAILQ_FIRST(&ev->subs); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->ns != NULL && strcmp(s->ns, ns) != 0)
			continue;
		if (stream_write(s->stream, line, len) == 0)
			continue;
		ev->dropped++;
		log_warn("events: a subscriber is %zu bytes behind; dropped",
		    stream_pending(s->stream));
		struct stream *st = s->stream;
		subscriber_free(s);
		stream_abort(st);
	}
}

struct event *
event_new(const char *kind, const struct object *o)
{
	struct event *e = calloc(1, sizeof(*e));
	struct timespec ts;

	if (e == NULL || (e->json = cJSON_CreateObject()) == NULL) {
		free(e);
		return (NULL);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	cJSON_AddNumberToObject(e->json, "ts",
	    (double)ts.tv_sec * 1000 + (double)(ts.tv_nsec / 1000000));
	cJSON_AddStringToObject(e->json, "event", kind);
	if (o != NULL) {
		event_object(e, o->ns->cfg->name, o->idhex);
		if (o->name != NULL)
			cJSON_AddStringToObject(e->json, "name", o->name);
		if (o->pid > 0)
			cJSON_AddNumberToObject(e->json, "pid", (double)o->pid);
	}
	return (e);
}

void
event_object(struct event *e, const char *ns, const char *idhex)
{
	if (e == NULL)
		return;
	snprintf(e->ns, sizeof(e->ns), "%s", ns);
	snprintf(e->id, sizeof(e->id), "%s", idhex);
	cJSON_AddStringToObject(e->json, "ns", e->ns);
	cJSON_AddStringToObject(e->json, "id", e->id);
}

void
event_str(struct event *e, const char *key, const char *value)
{
	if (e != NULL && value != NULL)
		cJSON_AddStringToObject(e->json, key, value);
}

void
event_num(struct event *e, const char *key, double value)
{
	if (e != NULL)
		cJSON_AddNumberToObject(e->json, key, value);
}

void
event_emit(struct events *ev, struct event *e, enum log_level level,
    const char *fmt, ...)
{
	char msg[1024], *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The JSON line only when someone reads it: activations and exits
	 * should not pay for it in a text log with nobody following. */
	if (e != NULL && (log_json() || (ev != NULL && ev->nsubs > 0))) {
		cJSON_AddStringToObject(
		    e->json, "level", log_level_name(level));
		cJSON_AddStringToObject(e->json, "message", msg);
		line = cJSON_PrintUnformatted(e->json);
	}
	if (line != NULL && log_json())
		log_line_json(line);
	else if (e != NULL && e->ns[0] != '\0')
		log_msg(level, "object %s/%s: %s", e->ns, e->id, msg);
	else
		log_msg(level, "%s", msg);
	if (line != NULL && ev != NULL && ev->nsubs > 0) {
		size_t n = strlen(line);
		char *nl = realloc(line, n + 2);
		if (nl != NULL) {
			line = nl;
			memcpy(line + n, "\n", 2);
			events_publish(ev, e->ns, line);
		}
	}
	free(line);
	if (e != NULL) {
		cJSON_Delete(e->json);
		free(e);
	}
}
