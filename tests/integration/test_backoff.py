#!/usr/bin/env python3
"""restart intensity: a worker that crashes at every start is restarted
max_restarts times within restart_window_ms, then its object backs off:
callers get 503 with Retry-After, the backoff grows (1 s, then 2 s), other
objects are untouched, and once the cause is gone the object recovers."""
import os
import shutil
import tempfile
import time

import harness
from harness import check, expect_error


def crashes(d):
    return len(d.log_lines(r"object crashy/\w+: worker \d+ crashed"))


def wait_backoff_over(c, route, timeout=30):
    """Poll until the object no longer answers 503 (its backoff is over);
    returns that first other answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = c.request("GET", route)
        if r.status != 503:
            return r
        time.sleep(0.05)
    harness.fail(f"still backing off after {timeout} s")


def until_backoff(d, c, route, first=None):
    """max_restarts (2) crashes answered 500 (the first answer may be
    given), then the one too many: its caller already gets 503."""
    for i in range(2):
        r = first if (i == 0 and first is not None) else c.request("GET", route)
        expect_error(r, 500, None, f"GET {route} while it crashes (#{i + 1})")
    r = c.request("GET", route)
    expect_error(r, 503, "backoff", f"GET {route}: the third crash")
    return r


def test(t):
    tmp = tempfile.mkdtemp(prefix="duro-it-cause-")
    cause = os.path.join(tmp, "crash")
    open(cause, "w").close()
    ns = {"counter": {},
          "crashy": {"exec": [t.build.misbehave],
                     "env": {"MISBEHAVE_START": f"crash-while:{cause}"},
                     "read_paths": [tmp],  # the sandbox lets it look
                     "max_restarts": 2, "restart_window_ms": 10000,
                     "restart_backoff_max_ms": 4000}}
    try:
        with harness.Durod(t, namespaces=ns) as d:
            c = d.client()
            route = "/crashy/loop/"
            r = until_backoff(d, c, route)
            check(crashes(d) == 3, f"{crashes(d)} crashes before the backoff, want 3")
            check(r.header("Retry-After") == "1", f"first backoff: {r!r}")
            d.wait_log(r"object crashy/\w+: more than 2 crashes within 10000 ms: "
                       r"backing off for 1000 ms")
            # Still in backoff: no new worker, just 503s.
            expect_error(c.request("GET", route), 503, "backoff", "again at once")
            check(crashes(d) == 3, "a worker was started during the backoff")
            check(d.incr(c, "/counter/ok") == 1, "another object during the backoff")

            # The backoff ends; counting starts again, and the next is longer.
            r = until_backoff(d, c, route, first=wait_backoff_over(c, route))
            check(crashes(d) == 6, f"{crashes(d)} crashes after the second burst, want 6")
            check(r.header("Retry-After") == "2", f"second backoff grows: {r!r}")
            d.wait_log(r"backing off for 2000 ms")

            # The cause goes away: after this backoff the object recovers.
            os.unlink(cause)
            r = wait_backoff_over(c, route)
            check(r.status == 200, f"after the cause is gone: {r!r}")
            check(d.incr(c, "/counter/ok") == 2, "the other object, still fine")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    harness.main(test)
