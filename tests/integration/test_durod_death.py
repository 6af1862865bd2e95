#!/usr/bin/env python3
"""durod death: when durod is SIGKILLed its workers die too (parent-death
signal, lost IPC): no orphans. The next durod on the same data_dir starts,
still accepts the ids the first one made, and lost no acknowledged write."""
import re
import shutil
import signal
import tempfile

import harness
from harness import check, expect_json


def test(t):
    tmp = tempfile.mkdtemp(prefix="duro-it-")
    try:
        with harness.Durod(t, tmpdir=tmp) as d:
            c = d.client()
            d.incr(c, "/counter/a")
            d.incr(c, "/counter/b")
            oid = expect_json(c.request("POST", "/counter/.new"), 200).get("id")
            check(isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{64}", oid or ""),
                  f"POST /counter/.new: {oid!r}")
            d.incr(c, f"/counter/.id/{oid}")
            pids = [d.counter(c, r)["pid"] for r in ("/counter/a", "/counter/b",
                                                     f"/counter/.id/{oid}")]
            pids.append(d.worker_pid(c, "/misbehave/x"))
            workers = [harness.Proc(p) for p in pids]
            check(all(w.alive() for w in workers), f"workers not running: {workers}")
            check(sorted(pids) == d.children(),
                  f"durod's children {d.children()} are not the workers {sorted(pids)}")

            with t.sub("a second durod on the same data_dir refuses to start"):
                other = harness.Durod(t, tmpdir=tmp)
                try:
                    other.start()
                except harness.TestFailure:
                    pass  # it exited before it was ready: good
                if other.proc.poll() is None:
                    other._cleanup()
                    harness.fail("a second durod started on a data_dir in use")
                other.log.close()
                with open(other.log_path, "rb") as f:
                    log = f.read().decode("utf-8", "replace")
                check(other.proc.returncode != 0, f"second durod's status {other.proc.returncode}")
                check("data_dir" in log, f"the second durod does not say why: {log!r}")
                check(d.proc.poll() is None and d.incr(c, "/counter/a") == 2,
                      "the first durod was disturbed by the second")

            d.signal(signal.SIGKILL)
            check(d.wait_exit(harness.IO_TIMEOUT) == -signal.SIGKILL, "durod survived SIGKILL")
            left = harness.wait_gone(workers)
            check(not left, f"workers outlived durod: {left}")

        # The next durod on the same data_dir: the lock is free, the
        # namespace key is the same, so the old unique id is still valid.
        with harness.Durod(t, tmpdir=tmp) as d2:
            c = d2.client()
            # Acknowledged increments are on disk: both objects continue.
            check(d2.incr(c, f"/counter/.id/{oid}") == 2,
                  "the id made by the previous durod is refused, or its value was lost")
            check(d2.incr(c, "/counter/a") == 3,
                  "the named object lost its value across SIGKILL of durod")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    harness.main(test)
