/*
 * log.c — one line per event on stderr, with a timestamp and a level.
 * durod runs in the foreground under init, which captures stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "durod.h"

static const char *log_prog = "durod";

void
log_init(const char *progname)
{
	log_prog = progname;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

static void
log_vline(const char *level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char when[32], line[2048];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s.%03ldZ %s %s: %s\n", when, ts.tv_nsec / 1000000,
	    log_prog, level, line);
}

#define LOG_FN(fn, level)                                                      \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vline(level, fmt, ap);                                     \
		va_end(ap);                                                    \
	}

LOG_FN(log_info, "info")
LOG_FN(log_warn, "warn")
LOG_FN(log_error, "error")

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("fatal", fmt, ap);
	va_end(ap);
	exit(1);
}
