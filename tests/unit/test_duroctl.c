/*
 * test_duroctl.c — duroctl's pure parts: the command line (address
 * precedence, options, id or name, percent-encoding), exact JSON numbers,
 * tables, and the human lines for events, status and objects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../duroctl/duroctl.h"

#define ID_A "9615a95d4a336118c435b9cd54c5e8647ab7ead08c4cf11654e5cae55f76d1be"

/* A JSON text parsed the way duroctl parses durod's answers. */
static cJSON *
json(const char *text)
{
	cJSON *j = ctl_json_parse(text, strlen(text));

	assert_non_null(j);
	return (j);
}

/* ---- the command line ---- */

static void
test_addr_precedence(void **state)
{
	assert_string_equal(ctl_addr_pick("a:1", "b:2"), "a:1");
	assert_string_equal(ctl_addr_pick("a:1", NULL), "a:1");
	assert_string_equal(ctl_addr_pick(NULL, "b:2"), "b:2");
	assert_string_equal(ctl_addr_pick(NULL, ""), CTL_DEFAULT_ADMIN);
	assert_string_equal(ctl_addr_pick(NULL, NULL), "127.0.0.1:8081");
}

static void
test_addr_parse(void **state)
{
	struct ctl_addr a;
	char err[256];

	assert_int_equal(ctl_addr_parse(&a, "127.0.0.1:8081", err, 256), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_string_equal(a.port, "8081");
	assert_string_equal(a.text, "127.0.0.1:8081");
	assert_int_equal(ctl_addr_parse(&a, "[::1]:9", err, 256), 0);
	assert_string_equal(a.host, "::1");
	assert_string_equal(a.port, "9");
	assert_int_equal(ctl_addr_parse(&a, "http://admin:80/", err, 256), 0);
	assert_string_equal(a.host, "admin");
	assert_string_equal(a.port, "80");
	assert_int_equal(ctl_addr_parse(&a, ":8081", err, 256), 0);
	assert_string_equal(a.host, "127.0.0.1");

	assert_int_equal(ctl_addr_parse(&a, "localhost", err, 256), CTL_EUSAGE);
	assert_non_null(strstr(err, "localhost"));
	assert_int_equal(ctl_addr_parse(&a, "h:0", err, 256), CTL_EUSAGE);
	assert_int_equal(ctl_addr_parse(&a, "h:65536", err, 256), CTL_EUSAGE);
	assert_int_equal(ctl_addr_parse(&a, "h:80x", err, 256), CTL_EUSAGE);
	assert_int_equal(ctl_addr_parse(&a, "h:", err, 256), CTL_EUSAGE);
	assert_int_equal(ctl_addr_parse(&a, "[::1]", err, 256), CTL_EUSAGE);
}

static void
test_id_or_name(void **state)
{
	struct ctl_obj o;
	char err[256];

	assert_true(ctl_is_id(ID_A));
	assert_false(ctl_is_id(ID_A "0"));
	assert_false(ctl_is_id(&ID_A[1]));
	assert_false(ctl_is_id("9615A95D4A336118C435B9CD54C5E8647AB7EAD08C4CF11"
	                       "654E5CAE55F76D1BE"));
	assert_false(ctl_is_id(""));

	assert_int_equal(ctl_obj_parse(&o, "counter", ID_A, 0, 0, err, 256), 0);
	assert_true(o.is_id);
	assert_int_equal(ctl_obj_parse(&o, "counter", "a", 0, 0, err, 256), 0);
	assert_false(o.is_id);
	/* --name: a name that happens to look like an id. */
	assert_int_equal(ctl_obj_parse(&o, "counter", ID_A, 1, 0, err, 256), 0);
	assert_false(o.is_id);
	assert_int_equal(ctl_obj_parse(&o, "counter", ID_A, 0, 1, err, 256), 0);
	assert_true(o.is_id);
	assert_int_equal(
	    ctl_obj_parse(&o, "counter", "a", 0, 1, err, 256), CTL_EUSAGE);
	assert_non_null(strstr(err, "--id"));
	assert_int_equal(
	    ctl_obj_parse(&o, "counter", ID_A, 1, 1, err, 256), CTL_EUSAGE);
	assert_int_equal(
	    ctl_obj_parse(&o, "", "a", 0, 0, err, 256), CTL_EUSAGE);
	assert_int_equal(
	    ctl_obj_parse(&o, "counter", "", 0, 0, err, 256), CTL_EUSAGE);
}

static void
test_percent_encoding(void **state)
{
	struct ctl_buf b = {0};

	ctl_pct_encode(&b, "AZaz09-._~");
	assert_string_equal(ctl_buf_text(&b), "AZaz09-._~");
	ctl_buf_reset(&b);
	ctl_pct_encode(&b, "a b/c?d%e&f=g#h+\xc3\xa9\x01");
	assert_string_equal(
	    ctl_buf_text(&b), "a%20b%2Fc%3Fd%25e%26f%3Dg%23h%2B%C3%A9%01");
	ctl_buf_free(&b);
}

static void
test_object_paths(void **state)
{
	struct ctl_obj o = {"counter", ID_A, 1};
	struct ctl_buf b = {0};
	int first = 1;

	ctl_obj_path(&b, &o, "/sql");
	assert_string_equal(ctl_buf_text(&b), "/objects/counter/" ID_A "/sql");
	ctl_buf_reset(&b);
	o.obj = "a/b c";
	o.is_id = 0;
	ctl_obj_path(&b, &o, "");
	assert_string_equal(
	    ctl_buf_text(&b), "/objects/counter/.name/a%2Fb%20c");
	ctl_query_add(&b, &first, "max_rows", "5");
	ctl_query_add(&b, &first, "state", NULL);
	ctl_query_add(&b, &first, "after", "x y");
	assert_string_equal(ctl_buf_text(&b),
	    "/objects/counter/.name/a%2Fb%20c?max_rows=5&after=x%20y");
	ctl_buf_free(&b);
}

static void
test_options(void **state)
{
	const unsigned allowed = CTL_OPTBIT(CTL_OPT_JSON) |
	                         CTL_OPTBIT(CTL_OPT_NS) |
	                         CTL_OPTBIT(CTL_OPT_MAX_ROWS);
	char *ok[] = {"ns", "--json", "obj", "--max-rows", "5", "--ns=x", "-",
	    "--", "--not-an-option"};
	char *help[] = {"-h"};
	char *unknown[] = {"--all"};
	char *novalue[] = {"a", "--ns"};
	char *flagvalue[] = {"--json=1"};
	char *dash[] = {"-x"};
	char *many[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
	struct ctl_args a;
	char err[256];

	assert_int_equal(ctl_args_parse(&a, 9, ok, allowed, err, 256), 0);
	assert_int_equal(a.npos, 4);
	assert_string_equal(a.pos[0], "ns");
	assert_string_equal(a.pos[1], "obj");
	assert_string_equal(a.pos[2], "-");
	assert_string_equal(a.pos[3], "--not-an-option");
	assert_string_equal(a.opt[CTL_OPT_JSON], "");
	assert_string_equal(a.opt[CTL_OPT_MAX_ROWS], "5");
	assert_string_equal(a.opt[CTL_OPT_NS], "x");
	assert_null(a.opt[CTL_OPT_ALL]);

	assert_int_equal(ctl_args_parse(&a, 1, help, 0, err, 256), 0);
	assert_non_null(a.opt[CTL_OPT_HELP]);
	assert_int_equal(
	    ctl_args_parse(&a, 1, unknown, allowed, err, 256), CTL_EUSAGE);
	assert_string_equal(err, "unknown option --all");
	assert_int_equal(
	    ctl_args_parse(&a, 2, novalue, allowed, err, 256), CTL_EUSAGE);
	assert_string_equal(err, "option --ns needs a value");
	assert_int_equal(
	    ctl_args_parse(&a, 1, flagvalue, allowed, err, 256), CTL_EUSAGE);
	assert_int_equal(
	    ctl_args_parse(&a, 1, dash, allowed, err, 256), CTL_EUSAGE);
	assert_int_equal(
	    ctl_args_parse(&a, 9, many, allowed, err, 256), CTL_EUSAGE);
}

static void
test_parse_uint(void **state)
{
	uint64_t v;

	assert_int_equal(ctl_parse_uint("100", 1, 1000, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(ctl_parse_uint("0", 1, 1000, &v), -1);
	assert_int_equal(ctl_parse_uint("1001", 1, 1000, &v), -1);
	assert_int_equal(ctl_parse_uint("-1", 0, 1000, &v), -1);
	assert_int_equal(ctl_parse_uint(" 1", 0, 1000, &v), -1);
	assert_int_equal(ctl_parse_uint("1x", 0, 1000, &v), -1);
	assert_int_equal(ctl_parse_uint("", 0, 1000, &v), -1);
	assert_int_equal(
	    ctl_parse_uint("99999999999999999999", 0, UINT64_MAX, &v), -1);
}

/* ---- JSON ---- */

static void
test_json_exact_numbers(void **state)
{
	cJSON *j = json("{\"s\":\"-1 [2] \\\"3\\\" 4\",\"n\":[9007199254740993,"
	                "-9223372036854775808,1.5e3,0],\"k\":{\"7\":"
	                "18446744073709551615}} \n");
	const cJSON *n = cJSON_GetObjectItem(j, "n");
	char buf[64];
	int64_t v;

	assert_string_equal(ctl_json_num(cJSON_GetArrayItem(n, 0), buf, 64),
	    "9007199254740993");
	assert_string_equal(ctl_json_num(cJSON_GetArrayItem(n, 1), buf, 64),
	    "-9223372036854775808");
	assert_string_equal(
	    ctl_json_num(cJSON_GetArrayItem(n, 2), buf, 64), "1.5e3");
	assert_string_equal(
	    ctl_json_num(cJSON_GetArrayItem(n, 3), buf, 64), "0");
	assert_string_equal(
	    ctl_json_num(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "k"), "7"), buf, 64),
	    "18446744073709551615");
	cJSON_Delete(j);

	j = json("{\"big\":9007199254740993,\"f\":1.5,\"s\":\"x\"}");
	assert_int_equal(ctl_json_int(j, "big", &v), 0);
	assert_true(v == 9007199254740993LL);
	assert_int_equal(ctl_json_int(j, "f", &v), -1);
	assert_int_equal(ctl_json_int(j, "s", &v), -1);
	assert_int_equal(ctl_json_int(j, "none", &v), -1);
	assert_null(ctl_json_str(j, "big"));
	assert_string_equal(ctl_json_str(j, "s"), "x");
	cJSON_Delete(j);

	/* A number we made ourselves has no source text. */
	j = cJSON_CreateNumber(42);
	assert_string_equal(ctl_json_num(j, buf, 64), "42");
	cJSON_Delete(j);

	assert_null(ctl_json_parse("{} x", 4));
	assert_null(ctl_json_parse("{\"a\":", 5));
	assert_null(ctl_json_parse("", 0));
}

/* ---- tables ---- */

static void
test_table_plain(void **state)
{
	struct ctl_table t;
	struct ctl_buf b = {0};

	ctl_table_init(&t, 3);
	ctl_table_add(&t, "A", 0);
	ctl_table_add(&t, "LONG HEADER", 0);
	ctl_table_add(&t, "N", 0);
	ctl_table_add(&t, "x\xe2\x80\xa6", 0); /* two columns wide */
	ctl_table_add(&t, "y", 0);
	ctl_table_add(&t, "1", 1);
	ctl_table_add(&t, "abc", 0);
	ctl_table_add(&t, "tab\there", 0);
	ctl_table_add(&t, "100", 1);
	assert_int_equal(ctl_table_rows(&t), 2);
	ctl_table_render(&t, CTL_TABLE_PLAIN, &b);
	assert_string_equal(ctl_buf_text(&b),
	    "A    LONG HEADER  N\n"
	    "x\xe2\x80\xa6   y              1\n"
	    "abc  tab\\there    100\n");
	ctl_table_free(&t);
	ctl_buf_free(&b);
}

static void
test_objects_table(void **state)
{
	cJSON *j = json("[{\"ns\":\"counter\",\"id\":\"" ID_A "\",\"name\":"
	                "\"a\",\"state\":\"idle\",\"pid\":12700},"
	                "{\"ns\":\"counter\",\"id\":\"" ID_A "\",\"name\":null,"
	                "\"state\":\"hibernated\",\"pid\":null}]");
	struct ctl_table t;
	struct ctl_buf b = {0};

	ctl_table_init(&t, 5);
	ctl_objects_header(&t);
	ctl_objects_row(&t, cJSON_GetArrayItem(j, 0), 0);
	ctl_objects_row(&t, cJSON_GetArrayItem(j, 1), 0);
	ctl_table_render(&t, CTL_TABLE_PLAIN, &b);
	assert_string_equal(ctl_buf_text(&b),
	    "NS       ID                 NAME  STATE       PID\n"
	    "counter  9615a95d4a336118\xe2\x80\xa6  a     idle        12700\n"
	    "counter  9615a95d4a336118\xe2\x80\xa6  -     hibernated  -\n");
	ctl_table_free(&t);
	ctl_buf_reset(&b);

	ctl_table_init(&t, 5);
	ctl_objects_row(&t, cJSON_GetArrayItem(j, 0), 1);
	ctl_table_render(&t, CTL_TABLE_PLAIN, &b);
	assert_string_equal(
	    ctl_buf_text(&b), "counter  " ID_A "  a  idle  12700\n");
	ctl_table_free(&t);
	ctl_buf_free(&b);
	cJSON_Delete(j);
}

static void
test_sql_table(void **state)
{
	cJSON *j =
	    json("{\"columns\":[\"key\",\"value\",\"n\"],\"rows\":["
	         "[\"value\",{\"blob\":\"00ff\"},9223372036854775807],"
	         "[\"line\\nbreak\",null,-1.5],"
	         "[\"\xc3\xa9t\xc3\xa9\",\"x\",7]],\"truncated\":false}");
	struct ctl_buf b = {0};

	assert_int_equal(ctl_sql_render(j, &b), 0);
	assert_string_equal(ctl_buf_text(&b),
	    " key         | value   | n\n"
	    "-------------+---------+---------------------\n"
	    " value       | x'00ff' | 9223372036854775807\n"
	    " line\\nbreak | NULL    |                -1.5\n"
	    " \xc3\xa9t\xc3\xa9         | x       |                   7\n"
	    "(3 rows)\n");
	cJSON_Delete(j);
	ctl_buf_reset(&b);

	j = json("{\"columns\":[\"v\"],\"rows\":[[1]],\"truncated\":true}");
	assert_int_equal(ctl_sql_render(j, &b), 0);
	assert_string_equal(
	    ctl_buf_text(&b), " v\n---\n 1\n(1 row, truncated)\n");
	cJSON_Delete(j);
	ctl_buf_reset(&b);

	j = json("{\"columns\":[\"a\",\"b\"],\"rows\":[],\"truncated\":false}");
	assert_int_equal(ctl_sql_render(j, &b), 0);
	assert_string_equal(ctl_buf_text(&b), " a | b\n---+---\n(0 rows)\n");
	cJSON_Delete(j);
	ctl_buf_reset(&b);

	/* A row of the wrong width, or no rows at all: malformed. */
	j = json("{\"columns\":[\"a\",\"b\"],\"rows\":[[1]]}");
	assert_int_equal(ctl_sql_render(j, &b), -1);
	cJSON_Delete(j);
	j = json("{\"columns\":[\"a\"]}");
	assert_int_equal(ctl_sql_render(j, &b), -1);
	cJSON_Delete(j);
	ctl_buf_free(&b);
}

/* ---- events and other human lines ---- */

/* The human line of one event, in UTC. */
static void
assert_event(const char *ev, const char *want)
{
	struct ctl_buf b = {0};
	cJSON *j = json(ev);

	ctl_event_line(&b, j);
	assert_false(b.err);
	assert_string_equal(ctl_buf_text(&b), want);
	ctl_buf_free(&b);
	cJSON_Delete(j);
}

#define TS "\"ts\":1795731571662,"
#define T "2026-11-26T22:19:31.662Z "
#define OBJ_A "\"ns\":\"counter\",\"id\":\"" ID_A "\",\"name\":\"a\""
#define OBJ_ID "\"ns\":\"counter\",\"id\":\"" ID_A "\""

static void
test_event_lines(void **state)
{
	setenv("TZ", "UTC", 1);
	tzset();
	assert_event("{" TS "\"event\":\"spawn\"," OBJ_A ",\"pid\":12700}",
	    T "spawn     counter/a pid 12700\n");
	assert_event("{" TS "\"event\":\"ready\"," OBJ_A ",\"pid\":12700,"
	             "\"ms\":11}",
	    T "ready     counter/a pid 12700 in 11 ms\n");
	assert_event("{" TS "\"event\":\"hibernate\"," OBJ_ID ",\"pid\":7}",
	    T "hibernate counter/9615a95d4a336118\xe2\x80\xa6 pid 7\n");
	assert_event("{" TS "\"event\":\"exit\"," OBJ_A ",\"pid\":7,\"kind\":"
	             "\"clean\",\"reason\":\"exit status 0\"}",
	    T "exit      counter/a pid 7 [clean] exit status 0\n");
	assert_event("{" TS "\"event\":\"crash\"," OBJ_A ",\"pid\":7,\"kind\":"
	             "\"signal\",\"reason\":\"signal 9 (Killed)\"}",
	    T "crash     counter/a pid 7 [signal] signal 9 (Killed)\n");
	assert_event("{" TS "\"event\":\"backoff\"," OBJ_A ",\"ms\":2000}",
	    T "backoff   counter/a for 2 s\n");
	assert_event("{" TS "\"event\":\"alarm\"," OBJ_A ",\"pid\":7,\"alarm\":"
	             "\"tick\",\"retry\":2}",
	    T "alarm     counter/a pid 7 alarm \"tick\" retry 2\n");
	assert_event("{" TS "\"event\":\"alarm\"," OBJ_ID ",\"alarm\":\"\","
	             "\"retry\":0}",
	    T "alarm     counter/9615a95d4a336118\xe2\x80\xa6 alarm (default) "
	      "retry 0\n");
	assert_event("{" TS "\"event\":\"restart\"," OBJ_A ",\"pid\":7}",
	    T "restart   counter/a pid 7\n");
	assert_event("{" TS "\"event\":\"delete\"," OBJ_ID "}",
	    T "delete    counter/9615a95d4a336118\xe2\x80\xa6\n");
	assert_event("{" TS
	             "\"event\":\"reload\",\"message\":\"2 namespaces\"}",
	    T "reload    2 namespaces\n");
	/* As durod sends them: its level, time and message too. */
	assert_event("{" TS "\"time\":\"2026-11-26T22:19:31.662Z\","
	             "\"level\":\"info\",\"event\":\"ready\"," OBJ_A
	             ",\"pid\":31246,\"ms\":6.2019824981689453,\"message\":"
	             "\"worker 31246 ready in 6.2 ms\"}",
	    T "ready     counter/a pid 31246 in 6.2 ms: worker 31246 ready in "
	      "6.2 ms\n");
	assert_event("{" TS "\"level\":\"warn\",\"event\":\"crash\"," OBJ_A
	             ",\"pid\":7,\"reason\":\"signal 6 (Aborted)\",\"kind\":"
	             "\"signal\",\"uptime_ms\":33.4770679473877,\"code\":"
	             "null,\"message\":\"worker 7 crashed\"}",
	    T "crash     counter/a pid 7 [signal] signal 6 (Aborted) "
	      "level=\"warn\" uptime_ms=33.5 code=null: worker 7 crashed\n");
	/* Unknown events and fields: shown generically, never dropped. */
	assert_event("{" TS "\"event\":\"teleport\"," OBJ_A ",\"to\":\"mars\","
	             "\"n\":9007199254740993,\"x\":{\"y\":[1]},\"ok\":true,"
	             "\"retry\":\"soon\"}",
	    T "teleport  counter/a to=\"mars\" n=9007199254740993 "
	      "x={\"y\":[1]} ok=true retry=\"soon\"\n");
	/* No time, no event, a name with an escape sequence. */
	assert_event("{\"ns\":\"n\",\"name\":\"\\u001b[31mred\"}",
	    "- ?         n/\\x1b[31mred\n");
}

static void
test_time_and_duration(void **state)
{
	struct ctl_buf b = {0};

	setenv("TZ", "UTC-2", 1); /* POSIX: two hours east of UTC */
	tzset();
	ctl_time_iso(&b, 1795731571005);
	assert_string_equal(ctl_buf_text(&b), "2026-11-27T00:19:31.005+02:00");
	ctl_buf_reset(&b);
	setenv("TZ", "UTC+5:30", 1);
	tzset();
	ctl_time_iso(&b, 0);
	assert_string_equal(ctl_buf_text(&b), "1969-12-31T18:30:00.000-05:30");
	setenv("TZ", "UTC", 1);
	tzset();

	ctl_buf_reset(&b);
	ctl_duration(&b, 850);
	ctl_buf_str(&b, "|");
	ctl_duration(&b, 3250);
	ctl_buf_str(&b, "|");
	ctl_duration(&b, 245000);
	ctl_buf_str(&b, "|");
	ctl_duration(&b, 7380000);
	ctl_buf_str(&b, "|");
	ctl_duration(&b, 273600000);
	assert_string_equal(
	    ctl_buf_text(&b), "850 ms|3.2 s|4m 05s|2h 03m|3d 04h");
	ctl_buf_free(&b);
}

static void
test_status_and_inspect(void **state)
{
	struct ctl_buf b = {0};
	cJSON *j;

	setenv("TZ", "UTC", 1);
	tzset();
	j = json("{\"status\":\"ok\",\"pid\":12625,\"uptime_s\":3725,"
	         "\"objects\":2,\"live_workers\":1,\"namespaces\":3,\"alarms\":"
	         "{\"in_window\":4,\"in_flight\":0,\"delivered\":9,"
	         "\"retried\":1,\"given_up\":0}}");
	ctl_status_render(&b, j);
	assert_string_equal(ctl_buf_text(&b),
	    "status:      ok\n"
	    "pid:         12625\n"
	    "uptime:      1h 02m\n"
	    "objects:     2 loaded, 1 live workers\n"
	    "namespaces:  3\n"
	    "alarms:      4 in window, 0 in flight, 9 delivered, 1 retried, "
	    "0 given up\n");
	cJSON_Delete(j);
	ctl_buf_reset(&b);

	j = json("{\"ns\":\"counter\",\"id\":\"" ID_A "\",\"name\":null,"
	         "\"state\":\"idle\",\"pid\":7,\"uptime_ms\":63000,"
	         "\"events_served\":12,\"backoff_until_ms\":null,"
	         "\"next_alarm_ms\":1795731571662,\"storage_bytes\":12288}");
	ctl_inspect_render(&b, j);
	assert_string_equal(ctl_buf_text(&b),
	    "ns:               counter\n"
	    "id:               " ID_A "\n"
	    "name:             -\n"
	    "state:            idle\n"
	    "pid:              7\n"
	    "uptime_ms:        63000 (1m 03s)\n"
	    "events_served:    12\n"
	    "backoff_until_ms: -\n"
	    "next_alarm_ms:    1795731571662 (2026-11-26T22:19:31.662Z)\n"
	    "storage_bytes:    12288 bytes (12.0 KiB)\n");
	cJSON_Delete(j);
	ctl_buf_reset(&b);

	j = json("{\"id\":\"" ID_A "\",\"restarted\":true,\"pid\":8,"
	         "\"state\":\"idle\"}");
	ctl_restart_render(&b, j);
	assert_string_equal(
	    ctl_buf_text(&b), "restarted " ID_A ": pid 8, state idle\n");
	cJSON_Delete(j);
	ctl_buf_reset(&b);
	j = json("{\"id\":\"" ID_A "\",\"restarted\":false,\"pid\":null,"
	         "\"state\":\"hibernated\"}");
	ctl_restart_render(&b, j);
	assert_string_equal(ctl_buf_text(&b),
	    "not restarted " ID_A
	    ": it had no live worker; state hibernated\n");
	cJSON_Delete(j);
	ctl_buf_reset(&b);

	j = json("{\"imported\":true,\"bytes\":8192,\"alarms\":1}");
	ctl_import_render(&b, j);
	assert_string_equal(
	    ctl_buf_text(&b), "imported 8192 bytes (8.0 KiB), 1 alarm(s)\n");
	cJSON_Delete(j);
	ctl_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_precedence),
	    cmocka_unit_test(test_addr_parse),
	    cmocka_unit_test(test_id_or_name),
	    cmocka_unit_test(test_percent_encoding),
	    cmocka_unit_test(test_object_paths),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_parse_uint),
	    cmocka_unit_test(test_json_exact_numbers),
	    cmocka_unit_test(test_table_plain),
	    cmocka_unit_test(test_objects_table),
	    cmocka_unit_test(test_sql_table),
	    cmocka_unit_test(test_event_lines),
	    cmocka_unit_test(test_time_and_duration),
	    cmocka_unit_test(test_status_and_inspect),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
