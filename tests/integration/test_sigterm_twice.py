#!/usr/bin/env python3
"""SIGTERM twice: the second signal stops at once. A hung event that
would run for a minute is cut short: its worker is killed, its client gets
an error rather than silence, and durod still exits 0 with no worker left."""
import os
import signal

import harness
from harness import build_request, check, expect_error


def test(t):
    ns = {"counter": {}, "misbehave": {"request_timeout_ms": 60000}}
    with harness.Durod(t, namespaces=ns) as d:
        c = d.client()
        d.incr(c, "/counter/a")
        d.counter(c, "/counter/a")

        hung = d.client(timeout=60)
        d.worker_pid(hung, "/misbehave/h")
        hung.send(build_request("POST", "/misbehave/h/hang"))
        harness.wait_server_read(hung)

        d.signal(signal.SIGTERM)
        # The first signal's drain is under way (durod stopped accepting)
        # before the second one comes.
        check(harness.wait_until(lambda: harness.connection_refused(d.port), 20),
              "durod still accepts connections 20 s after SIGTERM")
        check(d.proc.poll() is None, "durod exited with a hung event in flight")
        os.kill(d.pid, signal.SIGTERM)

        # Well before the hang's own 60 s timeout.
        rc = d.wait_exit(40)
        check(rc == 0, f"durod exited {rc} after a second SIGTERM")
        with t.sub("the hung request gets an error, not silence"):
            try:
                r = hung.read_response("POST")
            except harness.ConnectionClosed as e:
                harness.fail(f"connection closed without an answer: {e}")
            msg = expect_error(r, r.status, None, "the hung request")
            check(500 <= r.status <= 503, f"the hung request: {r!r} ({msg})")


if __name__ == "__main__":
    harness.main(test)
