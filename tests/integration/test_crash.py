#!/usr/bin/env python3
"""crash and exit: a worker that dies mid-event fails that event with 500
object_reset; the next event gets a fresh worker. The client's keep-alive
connection is not hurt."""
import harness
from harness import build_request, check, expect_error


def test(t):
    with harness.Durod(t, namespaces={"misbehave": {"request_timeout_ms": 120000}}) as d:
        c = d.client()
        p1 = d.worker_pid(c, "/misbehave/x")
        check(d.worker_pid(c, "/misbehave/x") == p1, "the same worker serves the next event")

        msg = expect_error(c.request("POST", "/misbehave/x/crash"), 500, "object_reset",
                           "POST /misbehave/x/crash")
        with t.sub("the crash's message says how the worker died"):
            check("signal" in msg, f"message does not mention the signal: {msg!r}")
        check(not harness.wait_gone([p1]), f"the crashed worker {p1} is still running")

        p2 = d.worker_pid(c, "/misbehave/x")
        check(p2 != p1, f"after the crash the object still has pid {p1}")

        msg = expect_error(c.request("POST", "/misbehave/x/exit?code=3"), 500, "object_reset",
                           "POST /misbehave/x/exit?code=3")
        with t.sub("the exit's message gives the exit code"):
            check("exit 3" in msg, f"message does not mention exit 3: {msg!r}")
        check(not harness.wait_gone([p2]), f"the exited worker {p2} is still running")

        p3 = d.worker_pid(c, "/misbehave/x")
        check(p3 not in (p1, p2), f"after the exit the object has an old pid {p3}")

        # Another object of the namespace was never disturbed.
        q = d.worker_pid(c, "/misbehave/y")
        check(q not in (p1, p2, p3), "y shares a pid with x")
        check(d.worker_pid(c, "/misbehave/y") == q, "y keeps its worker")

        with t.sub("events queued behind a crash go to a fresh worker"):
            before = d.worker_pid(c, "/misbehave/z")
            conns = []
            for req in (("POST", "/misbehave/z/sleep?ms=300"), ("POST", "/misbehave/z/crash"),
                        ("GET", "/misbehave/z/pid")):
                k = d.client()
                k.send(build_request(*req))
                harness.wait_server_read(k)  # durod has it: in flight or queued
                conns.append(k)
            r = conns[0].read_response("POST")
            check(r.status == 200, f"the sleep before the crash: {r!r}")
            expect_error(conns[1].read_response("POST"), 500, "object_reset", "queued crash")
            after = d.track(harness.parse_pid(conns[2].read_response("GET")))
            check(after != before, "the event queued behind the crash went to the dead worker")

        # Exit code 0 mid-event is still a reset: the event got no answer.
        expect_error(c.request("POST", "/misbehave/x/exit?code=0"), 500, "object_reset",
                     "POST /misbehave/x/exit?code=0")
        p4 = d.worker_pid(c, "/misbehave/x")
        check(p4 not in (p1, p2, p3), "after exit 0 the object has a fresh worker")


if __name__ == "__main__":
    harness.main(test)
