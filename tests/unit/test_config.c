/*
 * test_config.c — config.c: parsing, defaults, every class of error (each
 * must name its JSON path), lookups and host:port splitting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* The Makefile gives unit tests -Iipc -Iworker but not -Isupervisor. */
#include "../../supervisor/durod.h"

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A namespace object wrapped in a minimal valid config. */
#define WITH_NS(ns) "{\"namespaces\": {\"counter\": " ns "}}"
#define EXEC "\"exec\": [\"/bin/true\"]"

static struct config *
parse_ok(const char *json)
{
	struct config *cfg = NULL;
	char err[256] = "";

	if (config_parse(json, strlen(json), &cfg, err, sizeof(err)) != 0)
		fail_msg("unexpected error: %s\n  for: %s", err, json);
	assert_non_null(cfg);
	return (cfg);
}

static void
expect_error(const char *json, size_t len, const char *want)
{
	struct config *cfg = (struct config *)1;
	char err[256] = "";

	if (config_parse(json, len, &cfg, err, sizeof(err)) != -1)
		fail_msg("accepted: %s", json);
	assert_null(cfg);
	if (strcmp(err, want) != 0)
		fail_msg("for: %s\n  want: %s\n  got:  %s", json, want, err);
}

static void
test_full_config(void **state)
{
	const char *json =
	    "{"
	    "\"listen\": \"0.0.0.0:9000\", \"admin_listen\": \"[::1]:9001\","
	    "\"data_dir\": \"/srv/data\", \"run_dir\": \"/run/duro\","
	    "\"max_active_objects\": 10000000, \"max_body_bytes\": 1073741824,"
	    "\"namespaces\": {\"counter\": {"
	    "\"exec\": [\"/usr/bin/python3\", \"-u\", \"w.py\"],"
	    "\"policy\": \"py-3\", \"idle_timeout_ms\": 1,"
	    "\"request_timeout_ms\": 3600000, \"start_timeout_ms\": 600000,"
	    "\"hibernate_grace_ms\": 7, \"memory_limit_mb\": 16,"
	    "\"storage_limit_mb\": 1048576, \"max_queue\": 1000000,"
	    "\"synchronous\": \"NORMAL\","
	    "\"max_restarts\": 0, \"restart_window_ms\": 86400000,"
	    "\"env\": {\"LANG\": \"C.UTF-8\", \"_x9\": \"\", \"Q\": \"a=b\"}"
	    "}}}";
	struct config *cfg = parse_ok(json);
	const struct ns_config *ns;

	assert_string_equal(cfg->listen, "0.0.0.0:9000");
	assert_string_equal(cfg->admin_listen, "[::1]:9001");
	assert_string_equal(cfg->data_dir, "/srv/data");
	assert_string_equal(cfg->run_dir, "/run/duro");
	assert_int_equal(cfg->max_active_objects, 10000000);
	assert_int_equal(cfg->max_body_bytes, 1073741824);
	assert_int_equal(cfg->nnamespaces, 1);
	ns = &cfg->namespaces[0];
	assert_string_equal(ns->name, "counter");
	assert_string_equal(ns->exec[0], "/usr/bin/python3");
	assert_string_equal(ns->exec[1], "-u");
	assert_string_equal(ns->exec[2], "w.py");
	assert_null(ns->exec[3]);
	assert_string_equal(ns->policy, "py-3");
	assert_int_equal(ns->idle_timeout_ms, 1);
	assert_int_equal(ns->request_timeout_ms, 3600000);
	assert_int_equal(ns->start_timeout_ms, 600000);
	assert_int_equal(ns->hibernate_grace_ms, 7);
	assert_int_equal(ns->memory_limit_mb, 16);
	assert_int_equal(ns->storage_limit_mb, 1048576);
	assert_string_equal(ns->synchronous, "NORMAL");
	assert_int_equal(ns->max_queue, 1000000);
	assert_int_equal(ns->max_restarts, 0);
	assert_int_equal(ns->restart_window_ms, 86400000);
	assert_string_equal(ns->env[0], "LANG=C.UTF-8");
	assert_string_equal(ns->env[1], "_x9=");
	assert_string_equal(ns->env[2], "Q=a=b");
	assert_null(ns->env[3]);
	config_free(cfg);
}

static void
test_defaults(void **state)
{
	struct config *cfg =
	    parse_ok("{\"namespaces\": {\"a\": {" EXEC "},"
	             " \"b-2\": {" EXEC ", \"max_queue\": 5}}}");
	const struct ns_config *ns;

	assert_string_equal(cfg->listen, "127.0.0.1:8080");
	assert_string_equal(cfg->admin_listen, "127.0.0.1:8081");
	assert_string_equal(cfg->data_dir, "./var/data");
	assert_string_equal(cfg->run_dir, "./var/run");
	assert_int_equal(cfg->max_active_objects, 10000);
	assert_int_equal(cfg->max_body_bytes, 16777216);
	assert_int_equal(cfg->nnamespaces, 2);
	ns = &cfg->namespaces[0];
	assert_string_equal(ns->name, "a");
	assert_string_equal(ns->exec[0], "/bin/true");
	assert_null(ns->exec[1]);
	assert_string_equal(ns->policy, "native");
	assert_int_equal(ns->idle_timeout_ms, 10000);
	assert_int_equal(ns->request_timeout_ms, 30000);
	assert_int_equal(ns->start_timeout_ms, 5000);
	assert_int_equal(ns->hibernate_grace_ms, 2000);
	assert_int_equal(ns->alarm_retry_base_ms, 2000);
	assert_int_equal(ns->alarm_max_retries, 6);
	assert_int_equal(ns->memory_limit_mb, 128);
	assert_int_equal(ns->storage_limit_mb, 1024);
	assert_string_equal(ns->synchronous, "FULL");
	assert_int_equal(ns->max_queue, 1000);
	assert_int_equal(ns->max_restarts, 5);
	assert_int_equal(ns->restart_window_ms, 10000);
	assert_non_null(ns->env);
	assert_null(ns->env[0]);
	assert_string_equal(cfg->namespaces[1].name, "b-2");
	assert_int_equal(cfg->namespaces[1].max_queue, 5);
	config_free(cfg);
}

/* Integral values spelled as JSON allows: 1e3, 5.0, -0 for a 0.. bound. */
static void
test_integer_spellings(void **state)
{
	struct config *cfg = parse_ok(
	    WITH_NS("{" EXEC ", \"max_queue\": 1e3, \"max_restarts\": -0,"
	            " \"idle_timeout_ms\": 5.0}"));

	assert_int_equal(cfg->namespaces[0].max_queue, 1000);
	assert_int_equal(cfg->namespaces[0].max_restarts, 0);
	assert_int_equal(cfg->namespaces[0].idle_timeout_ms, 5);
	config_free(cfg);
}

struct error_case {
	const char *json;
	const char *want;
};

static const struct error_case unknown_keys[] = {
    {"{\"listne\": \"a:1\", \"namespaces\": {\"c\": {" EXEC "}}}",
        "listne: unknown key"},
    {WITH_NS("{" EXEC ", \"idel_timeout_ms\": 5}"),
        "namespaces.counter.idel_timeout_ms: unknown key"},
    {WITH_NS("{" EXEC ", \"name\": \"x\"}"),
        "namespaces.counter.name: unknown key"},
    /* Keys are case-sensitive. */
    {"{\"Listen\": \"a:1\", \"namespaces\": {\"c\": {" EXEC "}}}",
        "Listen: unknown key"},
    /* A control byte in a key is not copied into the message. */
    {"{\"a\\nb\": 1}", "a?b: unknown key"},
};

static const struct error_case duplicates[] = {
    {"{\"listen\": \"a:1\", \"listen\": \"b:2\","
     " \"namespaces\": {\"c\": {" EXEC "}}}",
        "listen: duplicate key"},
    {"{\"namespaces\": {\"c\": {" EXEC "}, \"c\": {" EXEC "}}}",
        "namespaces.c: duplicate key"},
    {WITH_NS("{" EXEC ", " EXEC "}"), "namespaces.counter.exec: duplicate key"},
    {WITH_NS("{" EXEC ", \"env\": {\"A\": \"1\", \"B\": \"\", \"A\": \"2\"}}"),
        "namespaces.counter.env.A: duplicate key"},
};

static const struct error_case wrong_types[] = {
    {"{\"max_body_bytes\": \"1024\", \"namespaces\": {\"c\": {" EXEC "}}}",
        "max_body_bytes: must be an integer in 1..1073741824"},
    {"{\"max_body_bytes\": true, \"namespaces\": {\"c\": {" EXEC "}}}",
        "max_body_bytes: must be an integer in 1..1073741824"},
    {"{\"max_body_bytes\": null, \"namespaces\": {\"c\": {" EXEC "}}}",
        "max_body_bytes: must be an integer in 1..1073741824"},
    {WITH_NS("{" EXEC ", \"max_queue\": 1.5}"),
        "namespaces.counter.max_queue: must be an integer in 1..1000000"},
    {WITH_NS("{" EXEC ", \"max_queue\": [1]}"),
        "namespaces.counter.max_queue: must be an integer in 1..1000000"},
    {"{\"data_dir\": 5, \"namespaces\": {\"c\": {" EXEC "}}}",
        "data_dir: must be a non-empty string"},
    {"{\"run_dir\": \"\", \"namespaces\": {\"c\": {" EXEC "}}}",
        "run_dir: must be a non-empty string"},
    {"{\"namespaces\": []}",
        "namespaces: must be an object with at least one namespace"},
    {"{\"namespaces\": {}}",
        "namespaces: must be an object with at least one namespace"},
    {"{\"namespaces\": {\"c\": [\"/bin/true\"]}}",
        "namespaces.c: must be a JSON object"},
    {WITH_NS("{\"exec\": \"/bin/true\"}"),
        "namespaces.counter.exec: must be a non-empty array of strings"},
    {WITH_NS("{\"exec\": []}"),
        "namespaces.counter.exec: must be a non-empty array of strings"},
    {WITH_NS("{\"exec\": [\"/bin/echo\", \"\"]}"),
        "namespaces.counter.exec[1]: must be a non-empty string"},
    {WITH_NS("{\"exec\": [\"/bin/echo\", \"a\", 3]}"),
        "namespaces.counter.exec[2]: must be a non-empty string"},
    {WITH_NS("{" EXEC ", \"policy\": \"Native\"}"),
        "namespaces.counter.policy: must be 1-64 characters of [a-z0-9_-]"},
    {WITH_NS("{" EXEC ", \"policy\": \"\"}"),
        "namespaces.counter.policy: must be 1-64 characters of [a-z0-9_-]"},
    {WITH_NS("{" EXEC ", \"policy\": \"../etc\"}"),
        "namespaces.counter.policy: must be 1-64 characters of [a-z0-9_-]"},
    {WITH_NS("{" EXEC ", \"env\": [\"A=1\"]}"),
        "namespaces.counter.env: must be an object of strings"},
    {WITH_NS("{" EXEC ", \"env\": {\"A\": 1}}"),
        "namespaces.counter.env.A: must be a string"},
};

static const struct error_case out_of_range[] = {
    {"{\"max_body_bytes\": 0, \"namespaces\": {\"c\": {" EXEC "}}}",
        "max_body_bytes: must be an integer in 1..1073741824"},
    {"{\"max_body_bytes\": 1073741825, \"namespaces\": {\"c\": {" EXEC "}}}",
        "max_body_bytes: must be an integer in 1..1073741824"},
    {"{\"max_active_objects\": 1e300, \"namespaces\": {\"c\": {" EXEC "}}}",
        "max_active_objects: must be an integer in 1..10000000"},
    {WITH_NS("{" EXEC ", \"memory_limit_mb\": 15}"),
        "namespaces.counter.memory_limit_mb: must be an integer in "
        "16..1048576"},
    {WITH_NS("{" EXEC ", \"max_restarts\": -1}"),
        "namespaces.counter.max_restarts: must be an integer in 0..1000000"},
    {WITH_NS("{" EXEC ", \"idle_timeout_ms\": 86400001}"),
        "namespaces.counter.idle_timeout_ms: must be an integer in "
        "1..86400000"},
    {WITH_NS("{" EXEC ", \"alarm_max_retries\": 101}"),
        "namespaces.counter.alarm_max_retries: must be an integer in 0..100"},
    {WITH_NS("{" EXEC ", \"hibernate_grace_ms\": 0}"),
        "namespaces.counter.hibernate_grace_ms: must be an integer in "
        "1..600000"},
};

static const struct error_case missing[] = {
    {"{}", "namespaces: required"},
    {"{\"listen\": \"127.0.0.1:80\"}", "namespaces: required"},
    {WITH_NS("{}"), "namespaces.counter.exec: required"},
    {WITH_NS("{\"policy\": \"native\"}"), "namespaces.counter.exec: required"},
};

static const struct error_case ns_names[] = {
    {"{\"namespaces\": {\"Counter\": {" EXEC "}}}",
        "namespaces.Counter: namespace name may only contain a-z, 0-9, '_' "
        "and '-'"},
    {"{\"namespaces\": {\"a.b\": {" EXEC "}}}",
        "namespaces.a.b: namespace name may only contain a-z, 0-9, '_' and "
        "'-'"},
    {"{\"namespaces\": {\"\": {" EXEC "}}}",
        "namespaces.: namespace name must be 1-64 characters"},
    {"{\"namespaces\": {\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaa\": {" EXEC "}}}",
        "namespaces.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaa: namespace name must be 1-64 characters"},
    {"{\"namespaces\": {\"_x\": {" EXEC "}}}",
        "namespaces._x: namespace name must start with a letter or digit "
        "('-' reads as an option to tools run on <data_dir>/<name>; '_' is "
        "reserved for durod)"},
    {"{\"namespaces\": {\"-x\": {" EXEC "}}}",
        "namespaces.-x: namespace name must start with a letter or digit "
        "('-' reads as an option to tools run on <data_dir>/<name>; '_' is "
        "reserved for durod)"},
};

static const struct error_case env_keys[] = {
    {WITH_NS("{" EXEC ", \"env\": {\"DURO_IPC\": \"tcp://x\"}}"),
        "namespaces.counter.env.DURO_IPC: the DURO_ prefix is reserved for "
        "durod"},
    {WITH_NS("{" EXEC ", \"env\": {\"DURO_\": \"\"}}"),
        "namespaces.counter.env.DURO_: the DURO_ prefix is reserved for "
        "durod"},
    {WITH_NS("{" EXEC ", \"env\": {\"1A\": \"x\"}}"),
        "namespaces.counter.env.1A: name must match [A-Za-z_][A-Za-z0-9_]*"},
    {WITH_NS("{" EXEC ", \"env\": {\"A-B\": \"x\"}}"),
        "namespaces.counter.env.A-B: name must match [A-Za-z_][A-Za-z0-9_]*"},
    {WITH_NS("{" EXEC ", \"env\": {\"\": \"x\"}}"),
        "namespaces.counter.env.: name must match [A-Za-z_][A-Za-z0-9_]*"},
};

static const struct error_case listens[] = {
    {"{\"listen\": \"8080\", \"namespaces\": {\"c\": {" EXEC "}}}",
        "listen: must be \"host:port\""},
    {"{\"listen\": \":8080\", \"namespaces\": {\"c\": {" EXEC "}}}",
        "listen: must be \"host:port\""},
    {"{\"listen\": \"localhost:0\", \"namespaces\": {\"c\": {" EXEC "}}}",
        "listen: must be \"host:port\""},
    {"{\"listen\": \"localhost:65536\", \"namespaces\": {\"c\": {" EXEC "}}}",
        "listen: must be \"host:port\""},
    {"{\"listen\": 8080, \"namespaces\": {\"c\": {" EXEC "}}}",
        "listen: must be \"host:port\""},
    {"{\"admin_listen\": \"::1:8081\", \"namespaces\": {\"c\": {" EXEC "}}}",
        "admin_listen: must be \"host:port\""},
};

static const struct error_case not_objects[] = {
    {"[]", "config: must be a JSON object"},
    {"1", "config: must be a JSON object"},
    {"\"namespaces\"", "config: must be a JSON object"},
    {"null", "config: must be a JSON object"},
};

static void
run_cases(const struct error_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_error(
		    cases[i].json, strlen(cases[i].json), cases[i].want);
}

#define CASES(name)                                                            \
	static void test_##name(void **state)                                  \
	{                                                                      \
		run_cases(name, NITEMS(name));                                 \
	}
CASES(unknown_keys)
CASES(duplicates)
CASES(wrong_types)
CASES(out_of_range)
CASES(missing)
CASES(ns_names)
CASES(env_keys)
CASES(listens)
CASES(not_objects)

static void
test_invalid_json(void **state)
{
	static const char nul[] = "{\"a\":\0 1}";

	expect_error("{\"namespaces\": {\"a\": {\"exec\": [\"x\"], "
	             "\"synchronous\": \"OFF\"}}}",
	    60, "namespaces.a.synchronous: must be one of: FULL NORMAL");
	expect_error("{\"namespaces\": {\"a\": {\"exec\": [\"x\"], "
	             "\"synchronous\": \"FUL\"}}}",
	    60, "namespaces.a.synchronous: must be one of: FULL NORMAL");
	expect_error("", 0, "config: invalid JSON near byte 0");
	expect_error("{", 1, "config: invalid JSON near byte 0");
	/* cJSON notices the stray ',' (byte 16) one byte later. */
	expect_error(
	    "{\"namespaces\": {,}}", 19, "config: invalid JSON near byte 17");
	expect_error("{} x", 4, "config: invalid JSON near byte 3");
	expect_error("{}{}", 4, "config: invalid JSON near byte 2");
	expect_error(nul, sizeof(nul) - 1, "config: invalid JSON near byte 5");
	/* len, not the NUL terminator, bounds the input. */
	expect_error("{} x", 3, "namespaces: required");
}

/* Whitespace after the value is fine; a short err buffer is truncated. */
static void
test_edges(void **state)
{
	const char *json = "\n {\"namespaces\": {\"c\": {" EXEC "}}} \r\n\t";
	struct config *cfg = parse_ok(json);
	char err[8];

	config_free(cfg);
	config_free(NULL);
	assert_int_equal(config_parse("{}", 2, &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "namespa");
	assert_int_equal(config_parse("{}", 2, &cfg, NULL, 0), -1);
	assert_null(cfg);
}

static void
test_ns_byname(void **state)
{
	struct config *cfg = parse_ok("{\"namespaces\": {\"counter\": {" EXEC
	                              "}, \"count\": {" EXEC "}}}");
	const char *url = "counter/abc";

	assert_ptr_equal(config_ns_byname(cfg, url, 7), &cfg->namespaces[0]);
	assert_ptr_equal(config_ns_byname(cfg, url, 5), &cfg->namespaces[1]);
	assert_null(config_ns_byname(cfg, url, 4));
	assert_null(config_ns_byname(cfg, url, 8));
	assert_null(config_ns_byname(cfg, url, 0));
	assert_null(config_ns_byname(cfg, "Counter", 7));
	assert_null(config_ns_byname(NULL, "counter", 7));
	config_free(cfg);
}

/* What a reload compares: every namespace key, and one top-level key. */
static void
test_equal(void **state)
{
	const char *base = "{\"listen\": \"127.0.0.1:1\", \"namespaces\": "
	                   "{\"a\": {" EXEC ", \"env\": {\"K\": \"v\"}}}}";
	const char *same = "{\"listen\": \"127.0.0.1:1\", \"namespaces\": "
	                   "{\"a\": {\"env\": {\"K\": \"v\"}, " EXEC "}}}";
	const char *changed[] = {
	    "{\"namespaces\": {\"a\": {" EXEC ", \"env\": {\"K\": \"w\"}}}}",
	    "{\"namespaces\": {\"a\": {\"exec\": [\"/bin/false\"], "
	    "\"env\": {\"K\": \"v\"}}}}",
	    "{\"namespaces\": {\"a\": {" EXEC ", \"env\": {\"K\": \"v\"}, "
	    "\"idle_timeout_ms\": 5}}}",
	    "{\"namespaces\": {\"a\": {" EXEC ", \"env\": {\"K\": \"v\"}, "
	    "\"read_paths\": [\"/tmp\"]}}}",
	    "{\"namespaces\": {\"a\": {" EXEC ", \"env\": {\"K\": \"v\", "
	    "\"L\": \"x\"}}}}",
	};
	struct config *a = parse_ok(base), *b = parse_ok(same), *c;

	assert_true(config_ns_equal(&a->namespaces[0], &b->namespaces[0]));
	assert_true(config_top_equal(a, b, "listen"));
	assert_true(config_top_equal(a, b, "max_active_objects"));
	assert_false(config_top_equal(a, b, "no_such_key"));
	for (size_t i = 0; i < NITEMS(changed); i++) {
		c = parse_ok(changed[i]);
		if (config_ns_equal(&a->namespaces[0], &c->namespaces[0]))
			fail_msg("equal to the base: %s", changed[i]);
		assert_false(config_top_equal(a, c, "listen"));
		config_free(c);
	}
	assert_string_equal(a->log_format, "text");
	config_free(a);
	config_free(b);
	a = parse_ok(
	    "{\"log_format\": \"json\", \"namespaces\": {\"a\": {" EXEC "}}}");
	assert_string_equal(a->log_format, "json");
	config_free(a);
}

static void
test_split_hostport(void **state)
{
	static const struct {
		const char *in;
		const char *host;
		int port;
	} good[] = {
	    {"127.0.0.1:8080", "127.0.0.1", 8080},
	    {"0.0.0.0:1", "0.0.0.0", 1},
	    {"localhost:65535", "localhost", 65535},
	    {"my-host.example.com:80", "my-host.example.com", 80},
	    {"[::1]:8081", "::1", 8081},
	    {"[::]:443", "::", 443},
	    {"[2001:db8::1]:08080", "2001:db8::1", 8080},
	};
	static const char *const bad[] = {
	    "",
	    "127.0.0.1",
	    "127.0.0.1:",
	    ":80",
	    "localhost:0",
	    "localhost:65536",
	    "localhost:123456",
	    "localhost:-1",
	    "localhost:+80",
	    "localhost: 80",
	    "localhost:80 ",
	    "::1:80",
	    "[::1]80",
	    "[::1]",
	    "[]:80",
	    "[::1:80",
	    "[1.2.3.4]:80",
	    "[zz::1]:80",
	    "127.0.0.256:80",
	    "1.2.3:80",
	    "-a.com:80",
	    "a-.com:80",
	    "a..com:80",
	    "a.com.:80",
	    "under_score:80",
	    "a b:80",
	    "host:80:81",
	};
	char host[64];
	int port;

	for (size_t i = 0; i < NITEMS(good); i++) {
		port = -1;
		if (config_split_hostport(
		        good[i].in, host, sizeof(host), &port) != 0)
			fail_msg("rejected: %s", good[i].in);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
	}
	for (size_t i = 0; i < NITEMS(bad); i++) {
		port = -1;
		if (config_split_hostport(bad[i], host, sizeof(host), &port) ==
		    0)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_int_equal(port, -1);
	}
	/* The host must fit, with its NUL, in hostlen bytes. */
	assert_int_equal(config_split_hostport("abcd:1", host, 5, &port), 0);
	assert_int_equal(config_split_hostport("abcde:1", host, 5, &port), -1);
	assert_int_equal(config_split_hostport(NULL, host, 5, &port), -1);
}

static void
test_load_example(void **state)
{
	struct config *cfg = NULL;
	const struct ns_config *ns;
	char err[256] = "";

	if (config_load("examples/duro.json", &cfg, err, sizeof(err)) != 0)
		fail_msg("%s (run from the repo root)", err);
	assert_string_equal(cfg->listen, "127.0.0.1:8080");
	assert_string_equal(cfg->data_dir, "./var/data");
	assert_string_equal(cfg->run_dir, "./var/run");
	assert_int_equal(cfg->nnamespaces, 4);
	assert_non_null(config_ns_byname(cfg, "ledger", 6));
	assert_non_null(ns = config_ns_byname(cfg, "chat", 4));
	assert_string_equal(ns->exec[0], "build/examples/chat");
	assert_non_null(ns = config_ns_byname(cfg, "counter", 7));
	assert_string_equal(ns->exec[0], "build/examples/counter");
	assert_int_equal(ns->request_timeout_ms, 30000);
	assert_non_null(ns = config_ns_byname(cfg, "misbehave", 9));
	assert_string_equal(ns->exec[0], "build/tests/misbehave");
	assert_null(ns->exec[1]);
	assert_int_equal(ns->idle_timeout_ms, 10000);
	assert_int_equal(ns->request_timeout_ms, 5000);
	assert_string_equal(ns->policy, "native");
	config_free(cfg);
}

static char *
write_temp(const char *data, size_t len)
{
	char *path = strdup("/tmp/test_config.XXXXXX");
	int fd;

	assert_non_null(path);
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return (path);
}

static void
test_load_errors(void **state)
{
	struct config *cfg = (struct config *)1;
	const char *small = "{\"namespaces\": {\"c\": {" EXEC "}}}";
	char err[256], *path, *big;
	size_t bigsz = 1024 * 1024 + 1;

	assert_int_equal(
	    config_load("/nonexistent/duro.json", &cfg, err, sizeof(err)), -1);
	assert_null(cfg);
	assert_string_equal(
	    err, "/nonexistent/duro.json: No such file or directory");
	assert_int_equal(config_load("/", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/: Is a directory");

	path = write_temp("{\"namespaces\": 1", 16);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "config: invalid JSON near byte 15");
	unlink(path);
	free(path);

	/* One byte over the limit, but valid JSON: the size is the error. */
	assert_non_null(big = malloc(bigsz));
	memset(big, ' ', bigsz);
	memcpy(big, small, strlen(small));
	path = write_temp(big, bigsz);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_true(strstr(err, ": larger than 1048576 bytes") != NULL);
	/* At the limit it loads. */
	assert_int_equal(truncate(path, (off_t)bigsz - 1), 0);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	config_free(cfg);
	unlink(path);
	free(path);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_config),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_integer_spellings),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_missing),
	    cmocka_unit_test(test_ns_names),
	    cmocka_unit_test(test_env_keys),
	    cmocka_unit_test(test_listens),
	    cmocka_unit_test(test_not_objects),
	    cmocka_unit_test(test_invalid_json),
	    cmocka_unit_test(test_edges),
	    cmocka_unit_test(test_ns_byname),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_split_hostport),
	    cmocka_unit_test(test_load_example),
	    cmocka_unit_test(test_load_errors),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
