#!/usr/bin/env python3
"""max_active_objects: at the cap, a new object makes the least recently
used idle worker hibernate; when every live worker is busy the answer is
503 at_capacity with Retry-After, and nothing else is disturbed."""
import harness
from harness import build_request, check, expect_error


def test(t):
    ns = {"misbehave": {"request_timeout_ms": 5000}}
    with harness.Durod(t, namespaces=ns, top={"max_active_objects": 2}) as d:
        c = d.client()
        a = harness.Proc(d.worker_pid(c, "/misbehave/a"))
        b = harness.Proc(d.worker_pid(c, "/misbehave/b"))
        d.worker_pid(c, "/misbehave/a")  # b is now the least recently used

        cpid = d.worker_pid(c, "/misbehave/c")
        check(harness.wait_until(lambda: not b.alive(), harness.GONE_TIMEOUT),
              f"at the cap, the least recently used worker {b} was not hibernated")
        check(a.alive(), f"the recently used worker {a} was hibernated instead of b")
        check(d.worker_pid(c, "/misbehave/c") == cpid, "c keeps its worker")

        # Both live workers busy: no room for a third object.
        hung = []
        for name in ("a", "c"):
            h = d.client(timeout=60)
            h.send(build_request("POST", f"/misbehave/{name}/hang"))
            harness.wait_server_read(h)
            hung.append(h)
        r = c.request("GET", "/misbehave/d/pid")
        expect_error(r, 503, "at_capacity", "a third object while two are busy")
        with t.sub("503 says when to retry"):
            check(r.header("Retry-After") is not None, f"503 without Retry-After: {r.headers}")
        for h in hung:
            expect_error(h.read_response("POST"), 500, "object_reset", "the hang")
        # Room again once the hung workers are gone.
        check(harness.wait_until(lambda: len(d.children()) < 2, harness.GONE_TIMEOUT),
              f"durod's children after the timeouts: {d.children()}")
        d.worker_pid(c, "/misbehave/d")


if __name__ == "__main__":
    harness.main(test)
