#!/usr/bin/env python3
"""startup failures: a worker that crashes, hangs or talks garbage before
it is ready fails the waiting request with 500 start_failed and leaves no
process behind; other namespaces keep working. A namespace whose program
is not executable is refused when durod starts."""
import os
import stat
import shutil
import tempfile
import time

import harness
from harness import check, expect_error


def start_fails(t, d, c, ns, what, word=None):
    with t.sub(f"{ns}: {what}"):
        for attempt in (1, 2):  # and again: nothing is stuck after the first
            t0 = time.monotonic()
            r = c.request("GET", f"/{ns}/a/pid")
            msg = expect_error(r, 500, "start_failed", f"{ns} attempt {attempt}")
            if word:
                check(word in msg, f"{ns}: the message does not mention {word}: {msg!r}")
            if ns == "mbhang":
                check(time.monotonic() - t0 >= 0.45,
                      "start_timeout_ms 500 but the failure came sooner")
        check(d.incr(c, "/counter/ok") > 0, f"counter after {ns}")


def test(t):
    mb = t.build.misbehave
    ns = {
        "counter": {},
        # A long start timeout where the failure must be seen otherwise:
        # the crash by its exit, the garbage as a protocol violation.
        "mbcrash": {"exec": [mb], "env": {"MISBEHAVE_START": "crash"}, "max_restarts": 1000,
                    "start_timeout_ms": 120000},
        "mbhang": {"exec": [mb], "env": {"MISBEHAVE_START": "hang"}, "start_timeout_ms": 500,
                   "max_restarts": 1000},
        "mbgarbage": {"exec": [mb], "env": {"MISBEHAVE_START": "garbage"}, "max_restarts": 1000,
                      "start_timeout_ms": 120000},
    }
    with harness.Durod(t, namespaces=ns) as d:
        c = d.client()
        check(d.incr(c, "/counter/ok") == 1, "counter before")
        cpid = d.counter(c, "/counter/ok")["pid"]

        start_fails(t, d, c, "mbcrash", "worker crashes before ready", "signal")
        start_fails(t, d, c, "mbhang", "worker never says ready", "start_timeout_ms")
        start_fails(t, d, c, "mbgarbage", "worker sends garbage before ready", "protocol")

        with t.sub("every request waiting for a worker that never starts fails"):
            waiting = []
            for i in range(3):
                k = d.client()
                k.send(harness.build_request("GET", "/mbhang/many/pid"))
                waiting.append(k)
            for i, k in enumerate(waiting):
                expect_error(k.read_response("GET"), 500, "start_failed", f"waiting request {i + 1}")

        with t.sub("no failed worker is left running"):
            left = harness.wait_until(lambda: d.children() == [cpid], harness.GONE_TIMEOUT)
            check(left, f"durod's children are {d.children()}, expected only the counter {cpid}")
        check(d.counter(c, "/counter/ok")["pid"] == cpid, "the counter's worker was disturbed")

    with t.sub("durod refuses a namespace whose exec is not executable"):
        tmp = tempfile.mkdtemp(prefix="duro-it-")
        try:
            prog = os.path.join(tmp, "not-executable")
            with open(prog, "w") as f:
                f.write("#!/bin/sh\nexit 0\n")
            os.chmod(prog, stat.S_IRUSR | stat.S_IWUSR)
            cfg = {
                "listen": f"127.0.0.1:{harness.free_port()}",
                "admin_listen": f"127.0.0.1:{harness.free_port()}",
                "data_dir": os.path.join(tmp, "data"),
                "run_dir": os.path.join(tmp, "run"),
                "namespaces": {"counter": {"exec": [t.build.counter]},
                               "broken": {"exec": [prog]}},
            }
            rc, out, err = harness.run_durod_check(t.build, cfg)
            check(rc != 0, f"durod --check accepted a non-executable exec (stdout {out!r})")
            check("broken" in err and "exec" in err,
                  f"durod --check's error does not name namespaces.broken.exec: {err!r}")
            # And durod itself does not start with it.
            rc, out, err = harness.run_durod_check(t.build, cfg, extra_args=())
            check(rc != 0, f"durod started with a non-executable exec: rc {rc}")
            # A missing program, too.
            cfg["namespaces"]["broken"]["exec"] = [os.path.join(tmp, "missing")]
            rc, out, err = harness.run_durod_check(t.build, cfg)
            check(rc != 0, f"durod --check accepted a missing exec: {out!r}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    harness.main(test)
