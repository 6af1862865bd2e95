#!/usr/bin/env python3
"""no partial event: a handler that writes and then crashes, or writes and
then fails, keeps none of its writes (misbehave's pair: x and y are only
ever incremented together, so x == y always).

  POST /pair/incr_then_crash  writes x+1 then abort()s: 500 object_reset,
                              x and y unchanged, a fresh worker
  POST /pair/incr_then_fail   writes x+1 and y+1 then fails the handler:
                              500 worker_error, x and y unchanged
  POST /pair/incr             afterwards increments both

The state is checked through the next worker and again after SIGKILL of
durod and a new durod on the same data_dir (what is on disk)."""
import harness
import storage_util as su
from harness import check, expect_error, expect_json


def test(t):
    ns = {"misbehave": {"max_restarts": 1000, "request_timeout_ms": 60000}}
    with su.DurodSeries(t, ns) as s:
        d = s.start()
        c = d.client()
        n = {"/misbehave/p": 0, "/misbehave/fresh": 0}

        def pair(route, what):
            j = expect_json(c.request("GET", route + "/pair"), 200, f"{what}: GET {route}/pair")
            check(j == {"x": n[route], "y": n[route]},
                  f"{what}: GET {route}/pair = {j!r}, expected x = y = {n[route]}")

        def incr(route, what):
            j = expect_json(c.request("POST", route + "/pair/incr"), 200,
                            f"{what}: POST {route}/pair/incr")
            n[route] += 1
            check(j == {"x": n[route], "y": n[route]},
                  f"{what}: POST {route}/pair/incr = {j!r}, expected x = y = {n[route]}")

        def crash(route, what):
            before = harness.Proc(d.worker_pid(c, route))
            expect_error(c.request("POST", route + "/pair/incr_then_crash"), 500,
                         "object_reset", f"{what}: POST {route}/pair/incr_then_crash")
            check(not harness.wait_gone([before]),
                  f"{what}: the worker {before} that crashed is still running")
            pair(route, what + ", after incr_then_crash")
            check(d.worker_pid(c, route) != before.pid,
                  f"{what}: the crashed worker {before} still serves")

        def failing(route, what):
            before = d.worker_pid(c, route)
            msg = expect_error(c.request("POST", route + "/pair/incr_then_fail"), 500,
                               "worker_error", f"{what}: POST {route}/pair/incr_then_fail")
            with t.sub(f"{what}: the failure's message comes from the handler"):
                check("handler_failed" in msg or "on purpose" in msg,
                      f"message {msg!r} says neither handler_failed nor the handler's words")
            pair(route, what + ", after incr_then_fail")
            check(d.worker_pid(c, route) == before,
                  f"{what}: a failed handler cost the worker its life")

        # An object that never wrote anything: a crash or a failure in its
        # very first event leaves nothing behind.
        crash("/misbehave/fresh", "first event crashes")
        failing("/misbehave/fresh", "first write fails")
        pair("/misbehave/fresh", "nothing stored yet")

        route = "/misbehave/p"
        for i in range(3):
            incr(route, f"round {i}")
        pair(route, "after three increments")
        for i in range(3):
            crash(route, f"crash {i}")
            failing(route, f"fail {i}")
            incr(route, f"incr after crash/fail {i}")
            pair(route, f"round {i} done")
        # Two crashes in a row, then two failures in a row.
        crash(route, "crash twice (1)")
        crash(route, "crash twice (2)")
        failing(route, "fail twice (1)")
        failing(route, "fail twice (2)")
        incr(route, "incr after the doubles")

        # What is on disk: a crash right before durod dies, then a new durod.
        crash(route, "crash before durod's SIGKILL")
        expect_error(c.request("POST", route + "/pair/incr_then_crash"), 500, "object_reset",
                     "the last crash")
        d = s.restart("kill")
        c = d.client()
        for r in n:
            pair(r, "after SIGKILL of durod and a new durod")
        incr(route, "the first incr on the new durod")
        incr("/misbehave/fresh", "the first incr of the fresh object")
        pair("/misbehave/fresh", "fresh object after one incr")
    print(f"  final: {su.dumps(n)}", flush=True)


if __name__ == "__main__":
    harness.main(test)
