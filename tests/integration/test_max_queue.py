#!/usr/bin/env python3
"""max_queue: with one event in flight, at most max_queue more wait for
the object; beyond that the answer is 429 queue_full at once. The queued
ones are served once the object is free again."""
import harness
from harness import build_request, check, expect_error

MAX_QUEUE = 2
TIMEOUT_MS = 4000


def test(t):
    ns = {"misbehave": {"max_queue": MAX_QUEUE, "request_timeout_ms": TIMEOUT_MS},
          "counter": {}}
    with harness.Durod(t, namespaces=ns) as d:
        route = "/misbehave/q"
        warm = d.client()
        old = d.worker_pid(warm, route)  # the worker is up and idle

        hang = d.client(timeout=60)
        hang.send(build_request("POST", f"{route}/hang"))
        # durod has read it, so it is in flight: the worker was idle.
        harness.wait_server_read(hang)

        queued = []
        for i in range(MAX_QUEUE):
            c = d.client(timeout=60)
            c.send(build_request("GET", f"{route}/pid"))
            harness.wait_server_read(c)
            queued.append(c)

        # Beyond the bound: 429 now, without waiting for the hang.
        over = d.client(timeout=TIMEOUT_MS / 1000.0 * 0.9 + 0.5)
        for i in range(3):
            try:
                r = over.request("GET", f"{route}/pid")
            except OSError as e:
                harness.fail(f"request {i + 1} over the queue bound: no answer while the "
                             f"hang is in flight ({e})")
            expect_error(r, 429, "queue_full", f"request {i + 1} over the queue bound")
            with t.sub("429 says when to retry"):
                check(r.header("Retry-After") is not None, f"429 without Retry-After: {r.headers}")
        # Other objects are not limited by this one's queue.
        c = d.client()
        check(d.incr(c, "/counter/free") == 1, "another object while q's queue is full")
        d.worker_pid(c, "/misbehave/other")  # 200, not 429

        msg = expect_error(hang.read_response("POST"), 500, "object_reset", "the hang")
        check("request_timeout_ms" in msg, f"hang message: {msg!r}")
        pids = [harness.parse_pid(q.read_response("GET")) for q in queued]
        for p in pids:
            d.track(p)
        check(all(p != old for p in pids),
              f"queued requests were answered by the hung worker {old}: {pids}")
        check(len(set(pids)) == 1, f"queued requests went to different workers: {pids}")

        # The queue drained: the object takes requests again.
        check(d.worker_pid(warm, route) == pids[0], "after the queue drained")


if __name__ == "__main__":
    harness.main(test)
