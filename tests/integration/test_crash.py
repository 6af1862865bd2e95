#!/usr/bin/env python3
"""crash and exit: a worker that dies mid-event fails that event with 500
object_reset; the next event gets a fresh worker. The client's keep-alive
connection is not hurt."""
import harness
from harness import build_request, check, expect_error


def reset_by(t, d, c, path, word):
    """POST <path> kills x's worker mid-event: 500 object_reset whose
    message has word, the worker is gone, the next event gets a new one."""
    old = d.worker_pid(c, "/misbehave/x")
    msg = expect_error(c.request("POST", f"/misbehave/x{path}"), 500, "object_reset",
                       f"POST /misbehave/x{path}")
    with t.sub(f"{path}: the message says how the worker ended"):
        check(word in msg, f"message does not mention {word!r}: {msg!r}")
    check(not harness.wait_gone([old]), f"{path}: the worker {old} is still running")
    new = d.worker_pid(c, "/misbehave/x")
    check(new != old, f"after {path} the object still has pid {old}")
    return old, new


def test(t):
    with harness.Durod(t, namespaces={"misbehave": {"request_timeout_ms": 120000}}) as d:
        c = d.client()
        p1 = d.worker_pid(c, "/misbehave/x")
        check(d.worker_pid(c, "/misbehave/x") == p1, "the same worker serves the next event")

        _, p2 = reset_by(t, d, c, "/crash", "signal")
        _, p3 = reset_by(t, d, c, "/exit?code=3", "exit 3")
        check(p3 != p1, "a pid came back")

        # Another object of the namespace was never disturbed.
        q = d.worker_pid(c, "/misbehave/y")
        check(q not in (p1, p2, p3), "y shares a pid with x")
        check(d.worker_pid(c, "/misbehave/y") == q, "y keeps its worker")

        with t.sub("events queued behind a crash go to a fresh worker"):
            before = d.worker_pid(c, "/misbehave/z")
            conns = []
            for req in (("POST", "/misbehave/z/sleep?ms=1000"), ("POST", "/misbehave/z/crash"),
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
        reset_by(t, d, c, "/exit?code=0", "exit 0")


if __name__ == "__main__":
    harness.main(test)
