#!/usr/bin/env python3
"""hang and spin: an event that runs past request_timeout_ms gets 500
object_reset, its worker is killed, and the next event gets a new one."""
import time

import harness
from harness import check, expect_error

TIMEOUT_MS = 500


def one(t, d, c, name, what):
    route = f"/misbehave/{name}"
    old = harness.Proc(d.worker_pid(c, route))
    t0 = time.monotonic()
    r = c.request("POST", f"{route}/{what}")
    elapsed = time.monotonic() - t0
    msg = expect_error(r, 500, "object_reset", f"POST {route}/{what}")
    check("request_timeout_ms" in msg, f"{what}: the message does not name request_timeout_ms: {msg!r}")
    # Roughly the timeout: never early (only a lower bound; the box is slow).
    check(elapsed >= TIMEOUT_MS / 1000.0 * 0.9,
          f"{what}: answered after {elapsed:.3f} s, before request_timeout_ms {TIMEOUT_MS}")
    check(harness.wait_until(lambda: not old.alive(), harness.GONE_TIMEOUT),
          f"{what}: the timed-out worker {old} was not killed")
    new = d.worker_pid(c, route)
    check(new != old.pid, f"{what}: the next event went to the old pid {old.pid}")
    check(d.worker_pid(c, route) == new, f"{what}: the fresh worker keeps serving")


def test(t):
    ns = {"misbehave": {"request_timeout_ms": TIMEOUT_MS}}
    with harness.Durod(t, namespaces=ns) as d:
        c = d.client()
        with t.sub("POST /hang times out"):
            one(t, d, c, "h", "hang")
        with t.sub("POST /spin times out"):
            one(t, d, c, "s", "spin")
        with t.sub("a hang on the same object twice"):
            one(t, d, c, "h", "hang")


if __name__ == "__main__":
    harness.main(test)
