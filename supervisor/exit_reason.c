/*
 * exit_reason.c — decode a worker's wait status in one place (pure).
 *
 * A kill durod ordered is reported by its cause (timeout, violation, ...)
 * rather than as "signal 9", so operators read why, not how.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "durod.h"

static const char *const cause_names[] = {
    [KILL_NONE] = "none",
    [KILL_HIBERNATE] = "hibernate_timeout",
    [KILL_START_TIMEOUT] = "start_timeout",
    [KILL_TIMEOUT] = "timeout",
    [KILL_VIOLATION] = "protocol_violation",
    [KILL_SHUTDOWN] = "shutdown",
    [KILL_DELETE] = "deleted",
};

const char *
kill_cause_name(enum kill_cause c)
{
	if ((size_t)c >= sizeof(cause_names) / sizeof(cause_names[0]))
		return ("?");
	return (cause_names[c]);
}

const char *
exit_reason_label(const struct exit_reason *r)
{
	switch (r->kind) {
	case EXIT_CLEAN:
		return ("clean");
	case EXIT_CODE:
		return ("exit_code");
	case EXIT_SIGNAL:
		return ("signal");
	case EXIT_SANDBOX:
		return ("sandbox");
	case EXIT_LIMIT:
		return ("limit");
	case EXIT_KILLED:
		break;
	}
	return (kill_cause_name(r->cause));
}

int
exit_is_crash(const struct exit_reason *r)
{
	switch (r->kind) {
	case EXIT_CLEAN:
		return (0);
	case EXIT_KILLED:
		/* durod's own kills count only when the worker earned them. */
		return (r->cause == KILL_START_TIMEOUT ||
		        r->cause == KILL_TIMEOUT || r->cause == KILL_VIOLATION);
	default:
		return (1);
	}
}

void
exit_decode(int wstatus, enum kill_cause cause, struct exit_reason *r)
{
	memset(r, 0, sizeof(*r));
	r->cause = cause;
	if (WIFEXITED(wstatus)) {
		r->code = WEXITSTATUS(wstatus);
		r->kind = r->code == 0 ? EXIT_CLEAN : EXIT_CODE;
		snprintf(r->text, sizeof(r->text), "exit %d", r->code);
		return;
	}
	r->code = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
	if (cause != KILL_NONE && r->code == SIGKILL) {
		r->kind = EXIT_KILLED;
		snprintf(r->text, sizeof(r->text), "killed: %s",
		    kill_cause_name(cause));
	} else if (r->code == SIGSYS) {
		/* seccomp's kill: the syscall is in the kernel's audit log,
		 * not in the wait status. */
		r->kind = EXIT_SANDBOX;
		snprintf(r->text, sizeof(r->text),
		    "sandbox violation: a system call its policy forbids "
		    "(SIGSYS)");
	} else if (r->code == SIGXFSZ || r->code == SIGXCPU) {
		r->kind = EXIT_LIMIT;
		snprintf(r->text, sizeof(r->text), "%s limit (%s)",
		    r->code == SIGXFSZ ? "file size" : "CPU time",
		    r->code == SIGXFSZ ? "SIGXFSZ" : "SIGXCPU");
	} else {
		r->kind = EXIT_SIGNAL;
		snprintf(r->text, sizeof(r->text), "signal %d (%s)", r->code,
		    strsignal(r->code));
	}
}
