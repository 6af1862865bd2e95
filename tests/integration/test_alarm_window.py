#!/usr/bin/env python3
"""the alarm window: with a tiny in-memory window (alarm_window_rows 4,
alarm_window_ms 1500) durod must keep loading the next part of the index
as time goes on; ten alarms sharing one due time (more than a window's
rows) and six more at distinct times all run, none early, in time order."""
import time

import harness
from harness import check, expect_json


def test(t):
    top = {"alarm_window_rows": 4, "alarm_window_ms": 1500}
    with harness.Durod(t, namespaces={"counter": {}}, top=top) as d:
        c = d.client()
        t0 = int(time.time() * 1000) + 3000
        want = {}
        for i in range(10):
            j = expect_json(c.request("POST", f"/counter/same{i}/alarm?at_ms={t0}"), 200)
            want[f"same{i}"] = j["at"]
        for i in range(6):
            at = t0 + 200 + 150 * i
            expect_json(c.request("POST", f"/counter/seq{i}/alarm?at_ms={at}"), 200)
            want[f"seq{i}"] = at
        check(all(v >= time.time() * 1000 for v in want.values()),
              "setting the alarms took past their time; the test proves nothing")

        lines = d.wait_log(r'alarm "\(default\)" done', len(want), timeout=60)
        for name, at in want.items():
            j = d.counter(c, f"/counter/{name}")
            last = j.get("last_alarm") or {}
            check(j["alarms_fired"] == 1 and last.get("scheduled") == at,
                  f"{name}: {j!r} (want one run scheduled at {at})")
            check(last["ran"] >= at, f"{name} ran early: {last!r}")
            check(last["ran"] - at < 5000, f"{name} ran {last['ran'] - at} ms late")
        # The ten that share a due time were loaded in one go, past the
        # window's row limit; the others a few at a time.
        loads = [int(x.split("alarms: ")[1].split()[0])
                 for x in d.log_lines(r"alarms: \d+ index row\(s\) loaded")]
        check(10 in loads, f"no window load took the ten alarms at one time: {loads}")
        check(sum(loads) >= len(want), f"window loads {loads} missed some alarms")
        # The distinct ones ran in time order.
        ids = [d.object_id("counter", f"seq{i}") for i in range(6)]
        order = [next(k for k, ln in enumerate(lines) if oid in ln) for oid in ids]
        check(order == sorted(order), f"seq alarms ran out of order: {order}")
        check(harness.wait_until(lambda: d.registry_alarms() == {}, 10),
              f"the index is not empty: {d.registry_alarms()}")


if __name__ == "__main__":
    harness.main(test)
