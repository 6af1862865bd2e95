#!/usr/bin/env python3
"""garbage: a worker that sends bytes that are not the protocol is killed
and its event fails with 500; other objects keep working, undisturbed."""
import harness
from harness import check, expect_error


def test(t):
    ns = {"counter": {}, "misbehave": {"request_timeout_ms": 120000}}
    with harness.Durod(t, namespaces=ns) as d:
        kept = d.client()
        check(d.incr(kept, "/counter/g") == 1, "counter before")
        cpid = d.counter(kept, "/counter/g")["pid"]

        m = d.client()
        old = harness.Proc(d.worker_pid(m, "/misbehave/g"))
        r = m.request("POST", "/misbehave/g/garbage")
        msg = expect_error(r, 500, None, "POST /misbehave/g/garbage")
        with t.sub("the garbage reply is reported as a reset for a protocol violation"):
            check(r.json()["error"] == "object_reset", f"error code: {r!r}")
            check("protocol" in msg, f"message does not mention the protocol: {msg!r}")
        check(harness.wait_until(lambda: not old.alive(), harness.GONE_TIMEOUT),
              f"the worker that sent garbage {old} was not killed")

        check(d.incr(kept, "/counter/g") == 2, "counter after (same keep-alive connection)")
        check(d.counter(kept, "/counter/g")["pid"] == cpid, "the counter's worker was disturbed")

        new = d.worker_pid(m, "/misbehave/g")
        check(new != old.pid, "after garbage the object kept its old worker")
        # Twice, in case the first was luck.
        expect_error(m.request("POST", "/misbehave/g/garbage"), 500, None, "second garbage")
        check(d.incr(kept, "/counter/g") == 3, "counter after the second garbage")
        check(new != d.worker_pid(m, "/misbehave/g"), "a fresh worker after the second garbage")


if __name__ == "__main__":
    harness.main(test)
