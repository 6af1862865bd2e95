#!/usr/bin/env python3
"""SIGTERM drain: durod stops accepting, the in-flight event (and one
queued behind it) still gets its answer, idle connections are closed,
every worker is hibernated, and durod exits 0 with no worker left."""
import signal

import harness
from harness import build_request, check, expect_status

SLEEP_MS = 1500


def test(t):
    ns = {"counter": {}, "misbehave": {"request_timeout_ms": 20000}}
    with harness.Durod(t, namespaces=ns) as d:
        idle = d.client()
        check(d.incr(idle, "/counter/idle") == 1, "counter before SIGTERM")
        d.counter(idle, "/counter/idle")

        busy = d.client(timeout=60)
        d.worker_pid(busy, "/misbehave/s")
        # In flight for SLEEP_MS after durod has read it: SIGTERM lands
        # while the worker is busy with it.
        busy.send(build_request("POST", f"/misbehave/s/sleep?ms={SLEEP_MS}"))
        harness.wait_server_read(busy)
        # And one queued behind it, accepted before the signal too.
        queued = d.client(timeout=60)
        queued.send(build_request("GET", "/misbehave/s/pid"))
        harness.wait_server_read(queued)

        d.signal(signal.SIGTERM)

        with t.sub("new connections are refused while draining"):
            stopped = harness.wait_until(
                lambda: harness.connection_refused(d.port) or d.proc.poll() is not None, 20)
            check(stopped, "new connections were still accepted 20 s after SIGTERM")
            check(d.proc.poll() is None,
                  "durod exited before the in-flight event was answered")
        with t.sub("an idle keep-alive connection is closed"):
            check(idle.closed_by_peer(20), "the idle keep-alive connection stayed open")

        try:
            r = busy.read_response("POST")
        except (harness.ConnectionClosed, OSError) as e:
            harness.fail(f"the in-flight request got no answer after SIGTERM: {e}")
        expect_status(r, 200, "the in-flight sleep")
        check(r.body.strip() == b"ok", f"the in-flight sleep's answer: {r!r}")
        busy.close()
        with t.sub("the request queued before SIGTERM is answered too"):
            try:
                harness.parse_pid(queued.read_response("GET"))
            finally:
                queued.close()

        rc = d.wait_exit()
        check(rc == 0, f"durod exited {rc} after SIGTERM")
        # Durod's exit checks that no worker remains.

    with t.sub("SIGINT drains the same way"):
        with harness.Durod(t, namespaces={"counter": {}}) as d:
            c = d.client()
            check(d.incr(c, "/counter/i") == 1, "counter before SIGINT")
            d.counter(c, "/counter/i")
            d.signal(signal.SIGINT)
            check(c.closed_by_peer(20), "the idle connection stayed open after SIGINT")
            check(d.wait_exit() == 0, "durod's status after SIGINT")


if __name__ == "__main__":
    harness.main(test)
