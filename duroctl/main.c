/*
 * main.c — duroctl: the command-line face of durod's admin API.
 *
 *	duroctl [--admin HOST:PORT] COMMAND [ARGS]
 *
 * This file holds the command table, the usage texts and the exit codes;
 * ctl_args.c parses, ctl_cmd.c and ctl_data.c do the commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duroctl.h"

#define OBJ_OPTS (CTL_OPTBIT(CTL_OPT_NAME) | CTL_OPTBIT(CTL_OPT_ID))
#define JSON_OPT CTL_OPTBIT(CTL_OPT_JSON)

struct command {
	const char *name;
	int (*fn)(const struct ctl_ctx *);
	unsigned opts;
	size_t npos; /* positionals it takes, exactly */
	const char *synopsis;
	const char *help;
};

static const struct command commands[] = {
    {"status", cmd_status, JSON_OPT, 0, "status [--json]",
        "durod's health: status, pid, uptime, objects, workers, alarms.\n"
        "--json prints durod's answer as it is. Exits 1 while durod "
        "drains.\n"},
    {"objects", cmd_objects,
        JSON_OPT | CTL_OPTBIT(CTL_OPT_NS) | CTL_OPTBIT(CTL_OPT_STATE) |
            CTL_OPTBIT(CTL_OPT_LIMIT) | CTL_OPTBIT(CTL_OPT_ALL) |
            CTL_OPTBIT(CTL_OPT_AFTER) | CTL_OPTBIT(CTL_OPT_LONG),
        0,
        "objects [--ns NS] [--state STATE] [--limit N] [--after CURSOR] "
        "[--all] [--long] [--json]",
        "The objects durod knows, as a table (NS, ID, NAME, STATE, PID).\n"
        "STATE: hibernated, starting, idle, busy, stopping, backoff,\n"
        "waiting, or active (idle or busy). One page of --limit objects\n"
        "(1-1000, default 100); when there are more, stderr says how to\n"
        "go on. --all follows the pages to the end. --long prints whole\n"
        "ids. --json prints one JSON object per line.\n"},
    {"inspect", cmd_inspect, JSON_OPT | OBJ_OPTS, 2,
        "inspect [--name|--id] NS OBJ [--json]",
        "One object in detail: state, pid, uptime, events served,\n"
        "restarts, backoff, queue, next alarm, storage.\n"},
    {"restart", cmd_restart, JSON_OPT | OBJ_OPTS, 2,
        "restart [--name|--id] NS OBJ [--json]",
        "Restart the object's worker (a new process serves its next "
        "event).\n"},
    {"delete", cmd_delete, JSON_OPT | OBJ_OPTS, 2,
        "delete [--name|--id] NS OBJ [--json]",
        "Delete the object, its storage and its alarms. Asks nothing.\n"},
    {"events", cmd_events, JSON_OPT | CTL_OPTBIT(CTL_OPT_NS), 0,
        "events [--ns NS] [--json]",
        "Follow lifecycle events (spawn, ready, hibernate, exit, crash,\n"
        "backoff, alarm, restart, delete, ...) as they happen, one line\n"
        "each, until durod ends the stream (exit 0) or the connection\n"
        "breaks (exit 3). --json prints durod's NDJSON lines as they "
        "are.\n"},
    {"sql", cmd_sql, JSON_OPT | OBJ_OPTS | CTL_OPTBIT(CTL_OPT_MAX_ROWS), 3,
        "sql [--name|--id] NS OBJ SQL [--max-rows N] [--json]",
        "Run one read-only SQL statement on the object's database, live\n"
        "or hibernated, and print the result as a table (NULL as NULL,\n"
        "blobs as x'hex', integers exactly). SQL \"-\" reads it from\n"
        "stdin. --max-rows N: at most N rows (durod has a default).\n"},
    {"export", cmd_export, OBJ_OPTS, 3, "export [--name|--id] NS OBJ FILE",
        "Save the object's database as a standalone SQLite file. FILE is\n"
        "replaced only once the whole database arrived (written next to\n"
        "it, fsync'd, renamed); \"-\" writes to stdout.\n"},
    {"import", cmd_import, JSON_OPT | OBJ_OPTS, 3,
        "import [--name|--id] NS OBJ FILE [--json]",
        "Replace the object's database with FILE, a SQLite database (as\n"
        "export wrote it). FILE \"-\" is stdin redirected from a file.\n"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char objects_help[] =
    "NS is a namespace. OBJ is an object's id when it is exactly 64\n"
    "lowercase hex characters, else its name; --name or --id (before NS)\n"
    "say which it is.\n";

static const char common_help[] =
    "The admin address: --admin HOST:PORT, else $" CTL_ADMIN_ENV
    ", else " CTL_DEFAULT_ADMIN ".\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  durod answered with an error, printed as\n"
    "     \"duroctl: MESSAGE (CODE, HTTP STATUS)\"\n"
    "  2  usage error\n"
    "  3  durod cannot be reached, timed out, broke the connection or\n"
    "     answered something malformed\n"
    "  4  a local error: FILE or stdout could not be read or written\n";

static void
usage_all(FILE *f)
{
	fputs("usage: duroctl [--admin HOST:PORT] COMMAND [ARGS]\n\n"
	      "The command-line face of durod's admin API. Commands:\n\n",
	    f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].synopsis);
	fprintf(f,
	    "\n%s\n\"duroctl COMMAND --help\" says more about one command.\n"
	    "\n%s",
	    objects_help, common_help);
}

static void
usage_command(FILE *f, const struct command *c)
{
	fprintf(f, "usage: duroctl [--admin HOST:PORT] %s\n\n%s", c->synopsis,
	    c->help);
	if (c->opts & OBJ_OPTS)
		fprintf(f, "\n%s", objects_help);
	fprintf(f, "\n%s", common_help);
}

static int
usage_error(const struct command *c, const char *what)
{
	fprintf(stderr, "duroctl: %s\n", what);
	if (c != NULL)
		fprintf(stderr, "usage: duroctl [--admin HOST:PORT] %s\n",
		    c->synopsis);
	else
		fprintf(stderr, "usage: duroctl [--admin HOST:PORT] COMMAND "
		                "[ARGS] (see duroctl --help)\n");
	return (CTL_EUSAGE);
}

static const struct command *
command_byname(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return (&commands[i]);
	return (NULL);
}

/* Global options up to the command: its index in argv, or -1 (done). */
static int
global_options(int argc, char *argv[], const char **admin, int *rv)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage_all(stdout);
			*rv = CTL_OK;
			return (-1);
		} else if (strncmp(argv[i], "--admin=", 8) == 0) {
			*admin = argv[i] + 8;
		} else if (strcmp(argv[i], "--admin") == 0 && i + 1 < argc) {
			*admin = argv[++i];
		} else {
			*rv = usage_error(
			    NULL, strcmp(argv[i], "--admin") == 0
			              ? "option --admin needs a value"
			              : "unknown option before the "
			                "command");
			return (-1);
		}
	}
	if (i == argc) {
		*rv = usage_error(NULL, "no command");
		return (-1);
	}
	return (i);
}

/* Parse a command's arguments and run it. */
static int
run(const struct command *c, const char *admin, int argc, char *argv[])
{
	struct ctl_args args;
	struct ctl_ctx ctx;
	char err[256];

	if (ctl_args_parse(&args, argc, argv, c->opts, err, sizeof(err)) != 0)
		return (usage_error(c, err));
	if (args.opt[CTL_OPT_HELP] != NULL) {
		usage_command(stdout, c);
		return (CTL_OK);
	}
	if (args.npos != c->npos) {
		snprintf(err, sizeof(err), "%s: %s arguments", c->name,
		    args.npos < c->npos ? "missing" : "too many");
		return (usage_error(c, err));
	}
	if (ctl_addr_parse(&ctx.addr, admin, err, sizeof(err)) != 0)
		return (usage_error(NULL, err));
	ctx.args = &args;
	return (c->fn(&ctx));
}

int
main(int argc, char *argv[])
{
	const struct command *c;
	const char *admin = NULL;
	char err[128];
	int i, rv = CTL_OK;

	if ((i = global_options(argc, argv, &admin, &rv)) < 0)
		return (rv);
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 == argc) {
			usage_all(stdout);
			return (CTL_OK);
		}
		if ((c = command_byname(argv[i + 1])) == NULL)
			return (usage_error(NULL, "help: no such command"));
		usage_command(stdout, c);
		return (CTL_OK);
	}
	if ((c = command_byname(argv[i])) == NULL) {
		snprintf(
		    err, sizeof(err), "unknown command \"%.64s\"", argv[i]);
		return (usage_error(NULL, err));
	}
	admin = ctl_addr_pick(admin, getenv(CTL_ADMIN_ENV));
	return (run(c, admin, argc - i - 1, argv + i + 1));
}
