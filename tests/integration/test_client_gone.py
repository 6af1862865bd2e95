#!/usr/bin/env python3
"""clients that go away: a client that hangs up while its event is in
flight or queued, or half-closes after sending, hurts neither the object
nor durod: the worker finishes, later requests are served in order."""
import socket

import harness
from harness import build_request, check, expect_status


def test(t):
    ns = {"misbehave": {"request_timeout_ms": 20000}, "counter": {}}
    with harness.Durod(t, namespaces=ns) as d:
        c = d.client()
        pid = d.worker_pid(c, "/misbehave/g")

        with t.sub("hang up while the event is in flight and while queued"):
            gone = d.client()
            gone.send(build_request("POST", "/misbehave/g/sleep?ms=500"))
            harness.wait_server_read(gone)
            queued = d.client()
            queued.send(build_request("POST", "/misbehave/g/sleep?ms=300"))
            harness.wait_server_read(queued)
            gone.close()
            queued.close()
            # The object serves the next one after both have run.
            check(d.worker_pid(c, "/misbehave/g") == pid,
                  "the worker changed after its clients hung up")

        with t.sub("hang up with a reset (SO_LINGER 0) while in flight"):
            rst = d.client()
            rst.send(build_request("POST", "/misbehave/g/sleep?ms=300"))
            harness.wait_server_read(rst)
            rst.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            rst.close()
            check(d.worker_pid(c, "/misbehave/g") == pid, "the worker changed after a reset")

        with t.sub("a half-closed client still gets its answers"):
            h = d.client()
            h.send(build_request("POST", "/counter/h/incr") +
                   build_request("POST", "/misbehave/g/sleep?ms=200") +
                   build_request("POST", "/counter/h/incr"))
            h.sock.shutdown(socket.SHUT_WR)
            r1, r2, r3 = h.read_response("POST"), h.read_response("POST"), h.read_response("POST")
            check(r1.json().get("value") == 1, f"first: {r1!r}")
            expect_status(r2, 200, "sleep")
            check(r3.json().get("value") == 2, f"third: {r3!r}")
            check(h.closed_by_peer(), "durod kept a half-closed connection open")

        with t.sub("many connections opened and dropped without a request"):
            for _ in range(200):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
                s.close()
            check(d.incr(c, "/counter/after") == 1, "a request after 200 empty connections")

        check(d.incr(c, "/counter/after") > 0, "durod still serves")
        health = harness.Conn(d.admin_port)
        try:
            j = harness.expect_json(health.request("GET", "/health"), 200, "GET /health")
        finally:
            health.close()
        check(j.get("status") == "ok", f"health: {j}")


if __name__ == "__main__":
    harness.main(test)
