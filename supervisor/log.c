/*
 * log.c — one line per event on stderr, with a timestamp and a level.
 * durod runs in the foreground under init, which captures stderr.
 *
 * Two formats (config "log_format"): "text", for people —
 *   2026-11-27T10:00:00.123Z durod info: object counter/ab12…: spawned …
 * and "json", one object per line for log shippers —
 *   {"ts":1795773600123,"level":"info","message":"…"}
 * Lifecycle events (events.c) carry their fields in the JSON line too.
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "durod.h"

static const char *log_prog = "durod";
static int log_as_json;

static const char *const level_names[] = {
    [LOG_INFO] = "info",
    [LOG_WARN] = "warn",
    [LOG_ERROR] = "error",
    [LOG_FATAL] = "fatal",
};

void
log_init(const char *progname)
{
	log_prog = progname;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void
log_set_json(int on)
{
	log_as_json = on;
}

int
log_json(void)
{
	return (log_as_json);
}

const char *
log_level_name(enum log_level l)
{
	return ((unsigned)l <= LOG_FATAL ? level_names[l] : "?");
}

void
log_line_json(const char *line)
{
	fprintf(stderr, "%s\n", line);
}

static void
log_vline(enum log_level level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char when[32], line[2048], *s;
	cJSON *o;

	clock_gettime(CLOCK_REALTIME, &ts);
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_as_json && (o = cJSON_CreateObject()) != NULL) {
		cJSON_AddNumberToObject(o, "ts",
		    (double)ts.tv_sec * 1000 + (double)(ts.tv_nsec / 1000000));
		cJSON_AddStringToObject(o, "level", log_level_name(level));
		cJSON_AddStringToObject(o, "message", line);
		s = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		if (s != NULL) {
			log_line_json(s);
			free(s);
			return;
		}
	}
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %s: %s\n", when, ts.tv_nsec / 1000000,
	    log_prog, log_level_name(level), line);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(level, fmt, ap);
	va_end(ap);
}

#define LOG_FN(fn, level)                                                      \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vline(level, fmt, ap);                                     \
		va_end(ap);                                                    \
	}

LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_error, LOG_ERROR)

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_FATAL, fmt, ap);
	va_end(ap);
	exit(1);
}
