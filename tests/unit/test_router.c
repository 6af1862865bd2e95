/* test_router.c — request-target parsing into routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../supervisor/durod.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
expect_path(const struct route *r, const char *path)
{
	assert_int_equal(r->path_len, strlen(path));
	assert_memory_equal(r->path, path, strlen(path));
}

static void
test_named(void **state)
{
	struct route r;

	assert_int_equal(route_parse("/counter/a/incr?by=2", &r), 0);
	assert_int_equal(r.kind, ROUTE_NAME);
	assert_int_equal(r.ns_len, 7);
	assert_memory_equal(r.ns, "counter", 7);
	assert_string_equal(r.name, "a");
	expect_path(&r, "/incr");
	assert_string_equal(r.query, "by=2");

	assert_int_equal(route_parse("/counter/a", &r), 0);
	expect_path(&r, "/");
	assert_string_equal(r.query, "");
	assert_int_equal(route_parse("/counter/a/", &r), 0);
	expect_path(&r, "/");
	assert_int_equal(route_parse("/counter/a/x/y%20z", &r), 0);
	expect_path(&r, "/x/y%20z"); /* the worker's path stays encoded */
}

static void
test_names_are_decoded(void **state)
{
	struct route r;

	assert_int_equal(route_parse("/c/hello%20world/", &r), 0);
	assert_string_equal(r.name, "hello world");
	assert_int_equal(route_parse("/c/a%2Fb", &r), 0);
	assert_int_equal(r.name_len, 3);
	assert_string_equal(r.name, "a/b");
	assert_int_equal(route_parse("/c/%C3%A9t%C3%A9", &r), 0);
	assert_string_equal(r.name, "\xc3\xa9t\xc3\xa9");
}

static void
test_bad_names(void **state)
{
	char longname[300];
	struct route r;

	assert_int_equal(route_parse("/c/.hidden", &r), 400);
	assert_string_equal(r.err_code, "bad_name");
	assert_int_equal(
	    route_parse("/c/%2ehidden", &r), 400); /* decoded dot */
	assert_int_equal(route_parse("/c//x", &r), 400);
	assert_int_equal(route_parse("/c/%zz", &r), 400);
	assert_int_equal(route_parse("/c/%4", &r), 400);
	assert_int_equal(route_parse("/c/a%00b", &r), 400);
	assert_int_equal(route_parse("/c/%ff", &r), 400);       /* not UTF-8 */
	assert_int_equal(route_parse("/c/%c0%af", &r), 400);    /* overlong */
	assert_int_equal(route_parse("/c/%ed%a0%80", &r), 400); /* surrogate */

	memset(longname, 'x', sizeof(longname));
	memcpy(longname, "/c/", 3);
	longname[3 + 256] = '\0';
	assert_int_equal(route_parse(longname, &r), 0); /* 256 bytes: fine */
	longname[3 + 256] = 'x';
	longname[3 + 257] = '\0';
	assert_int_equal(route_parse(longname, &r), 400);
}

static void
test_by_id(void **state)
{
	struct route r;

	assert_int_equal(route_parse("/c/.id/" ID64 "/p?q", &r), 0);
	assert_int_equal(r.kind, ROUTE_ID);
	assert_int_equal(r.id[0], 0x01);
	assert_int_equal(r.id[31], 0xef);
	expect_path(&r, "/p");
	assert_string_equal(r.query, "q");
	assert_int_equal(route_parse("/c/.id/" ID64, &r), 0);
	expect_path(&r, "/");
	assert_int_equal(route_parse("/c/.id/abc", &r), 400);
	assert_string_equal(r.err_code, "bad_id");
	assert_int_equal(route_parse("/c/.id", &r), 400);
	assert_int_equal(route_parse("/c/.id/" ID64 "0", &r), 400);
}

static void
test_new_and_unknown_routes(void **state)
{
	struct route r;

	assert_int_equal(route_parse("/c/.new", &r), 0);
	assert_int_equal(r.kind, ROUTE_NEW);
	assert_int_equal(route_parse("/c/.new/x", &r), 404);
	assert_int_equal(route_parse("/", &r), 404);
	assert_int_equal(route_parse("/c", &r), 404);
	assert_int_equal(route_parse("//a", &r), 404);
	assert_int_equal(route_parse("*", &r), 400);
	assert_int_equal(route_parse("http://x/c/a", &r), 400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_named),
	    cmocka_unit_test(test_names_are_decoded),
	    cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_by_id),
	    cmocka_unit_test(test_new_and_unknown_routes),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
