#!/usr/bin/env python3
"""alarms survive durod: set alarms, SIGKILL durod (its workers die with
it), start a new durod on the same data_dir. Alarms that came due while it
was down fire right after start, the others at their time, and each runs
exactly once (the handler succeeds, so the object's own storage retires
it, and durod's index follows)."""
import shutil
import signal
import tempfile
import time

import harness
from harness import check, expect_json

N_PAST = 8
N_LATER = 8


def test(t):
    tmp = tempfile.mkdtemp(prefix="duro-it-")
    try:
        ns = {"counter": {"idle_timeout_ms": 600000}}
        with harness.Durod(t, namespaces=ns, tmpdir=tmp) as d:
            c = d.client()
            ats = {}
            for i in range(N_PAST):
                j = expect_json(c.request("POST", f"/counter/p{i}/alarm?in_ms=1500"), 200)
                ats[f"p{i}"] = j["at"]
            for i in range(N_LATER):
                j = expect_json(c.request("POST", f"/counter/l{i}/alarm?in_ms=8000"), 200)
                ats[f"l{i}"] = j["at"]
            # Acknowledged means indexed: the rows are on disk already.
            check(len(d.registry_alarms()) == N_PAST + N_LATER,
                  f"index before the kill: {d.registry_alarms()}")
            d.signal(signal.SIGKILL)
            d.wait_exit(harness.IO_TIMEOUT)

        # Let the first group come due while no durod runs.
        wait = max(ats[f"p{i}"] for i in range(N_PAST)) / 1000 - time.time() + 0.3
        if wait > 0:
            time.sleep(wait)

        with harness.Durod(t, namespaces=ns, tmpdir=tmp) as d2:
            started = time.time() * 1000
            d2.wait_log(r'alarm "\(default\)" done', N_PAST, timeout=30)
            c = d2.client()
            for i in range(N_PAST):
                j = d2.counter(c, f"/counter/p{i}")
                last = j.get("last_alarm") or {}
                check(j["alarms_fired"] == 1, f"p{i}: {j!r}")
                check(last.get("scheduled") == ats[f"p{i}"], f"p{i}: {last!r}")
                check(last["ran"] - started < 10000,
                      f"p{i} ran {last['ran'] - started:.0f} ms after durod started")
            d2.wait_log(r'alarm "\(default\)" done', N_PAST + N_LATER, timeout=30)
            for i in range(N_LATER):
                j = d2.counter(c, f"/counter/l{i}")
                last = j.get("last_alarm") or {}
                check(j["alarms_fired"] == 1, f"l{i}: {j!r}")
                check(last.get("scheduled") == ats[f"l{i}"], f"l{i}: {last!r}")
                check(last["ran"] >= ats[f"l{i}"], f"l{i} ran early: {last!r}")
            check(harness.wait_until(lambda: d2.registry_alarms() == {}, 10),
                  f"the index is not empty: {d2.registry_alarms()}")
            runs = len(d2.log_lines(r'alarm "\(default\)" done'))
            check(runs == N_PAST + N_LATER, f"{runs} alarm runs for {N_PAST + N_LATER} alarms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    harness.main(test)
