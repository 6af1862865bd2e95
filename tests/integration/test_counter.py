#!/usr/bin/env python3
"""counter: named objects keep their own state in their own worker; unique
ids from POST /<ns>/.new; ids durod did not make are refused."""
import re

import harness
from harness import check, expect_error, expect_json


def test(t):
    with harness.Durod(t, namespaces={"counter": {}}) as d:
        c = d.client()

        for want in (1, 2, 3):
            got = d.incr(c, "/counter/a")
            check(got == want, f"POST /counter/a/incr #{want}: value {got}, expected {want}")
        check(d.incr(c, "/counter/a", by=5) == 8, "POST /counter/a/incr?by=5 should give 8")

        with t.sub("?by=x is a bad request from the worker"):
            r = c.request("POST", "/counter/a/incr?by=x")
            check(r.status == 400, f"POST /counter/a/incr?by=x: expected 400, got {r!r}")
            check(d.counter(c, "/counter/a")["value"] == 8,
                  "a failed incr must not change the value")

        a = d.counter(c, "/counter/a")
        check(a["value"] == 8, f"GET /counter/a/: {a}")
        with t.sub("/counter/a without a trailing slash is the same object"):
            j = expect_json(c.request("GET", "/counter/a"), 200, "GET /counter/a")
            check(j.get("value") == 8 and j.get("pid") == a["pid"], f"GET /counter/a: {j!r}")

        with t.sub("a percent-encoded name is the same object"):
            # The name is one percent-decoded path segment: %61 is "a".
            check(d.incr(c, "/counter/%61") == 9, "POST /counter/%61/incr should give 9")

        check(d.incr(c, "/counter/b") == 1, "/counter/b starts at its own value")
        b = d.counter(c, "/counter/b")
        check(b["pid"] != a["pid"], f"a and b share a worker: {a} {b}")
        check(harness.pid_alive(a["pid"]) and harness.pid_alive(b["pid"]),
              "both workers should be running")

        j = expect_json(c.request("POST", "/counter/.new"), 200, "POST /counter/.new")
        oid = j.get("id") if isinstance(j, dict) else None
        check(isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{64}", oid),
              f"POST /counter/.new: expected {{\"id\": 64 lowercase hex}}, got {j!r}")
        j2 = expect_json(c.request("POST", "/counter/.new"), 200, "POST /counter/.new")
        check(j2.get("id") != oid, "two POST /.new gave the same id")

        by_id = f"/counter/.id/{oid}"
        check(d.incr(c, by_id) == 1, "a new unique object starts at 1")
        check(d.incr(c, by_id) == 2, "the unique object keeps its value")
        u = d.counter(c, by_id)
        check(u["pid"] not in (a["pid"], b["pid"]),
              f"the unique object shares a worker with a named one: {u}")
        check(d.counter(c, "/counter/a")["value"] == 9, "a must be untouched by the id route")

        # durod makes ids with an HMAC: one it did not make is refused.
        forged = oid[:-2] + "%02x" % (int(oid[-2:], 16) ^ 0xFF)
        expect_error(c.request("POST", f"/counter/.id/{forged}/incr"), 400, "bad_id",
                     "id with its last byte flipped")
        forged_first = "%02x" % (int(oid[:2], 16) ^ 0x01) + oid[2:]
        expect_error(c.request("POST", f"/counter/.id/{forged_first}/incr"), 400, "bad_id",
                     "id with its first byte changed")
        expect_error(c.request("POST", f"/counter/.id/{oid[:-1]}/incr"), 400, "bad_id",
                     "63-character id")
        expect_error(c.request("POST", f"/counter/.id/{oid.upper()}/incr"), 400, "bad_id",
                     "uppercase id")
        expect_error(c.request("POST", f"/counter/.id/{oid}0/incr"), 400, "bad_id",
                     "65-character id")
        # An id made by the namespace is accepted whatever follows it.
        check(d.incr(c, by_id) == 3, "the unique object still counts after the refusals")


if __name__ == "__main__":
    harness.main(test)
