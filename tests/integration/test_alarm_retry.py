#!/usr/bin/env python3
"""alarm retries: a handler that fails, or a worker that crashes while
running it, is retried after base, 2*base, 4*base ... (+0-25 % jitter)
with the retry count passed to the handler; after 6 retries (the default
alarm_max_retries) the alarm is given up, logged, and leaves the index.
The default base is 2 s; here most checks use 20 ms to stay quick."""
import datetime
import re

import harness
from harness import check, expect_json

BASE = 20
MAX = 6  # the default


def stamp(line):
    ts = line.split(" ", 1)[0].rstrip("Z")
    return datetime.datetime.fromisoformat(ts).timestamp() * 1000


def check_backoff(d, oid, name, base, retries):
    """The log's failure lines for one alarm: retry n scheduled base*2^(n-1)
    (+25 %) after failure n, and attempt n+1 not before then."""
    pat = rf'{oid}: alarm "{name}" failed \((.*)\); retry (\d+) in (\d+) ms'
    lines = d.log_lines(pat)
    check(len(lines) == retries, f"{name}: {len(lines)} failures logged, want {retries}: {lines}")
    for n, ln in enumerate(lines, start=1):
        m = re.search(pat, ln)
        check(int(m.group(2)) == n, f"{name}: retry numbers out of order: {lines}")
        delay = int(m.group(3))
        lo = base * 2 ** (n - 1)
        check(lo <= delay <= lo * 1.25 + 1, f"{name}: retry {n} in {delay} ms, want {lo}..{lo * 1.25}")
        if n > 1:
            prev = re.search(pat, lines[n - 2])
            gap = stamp(ln) - stamp(lines[n - 2])
            want = int(prev.group(3))
            # Failure n comes from attempt n, which ran after retry n-1's delay.
            check(gap >= want - 2, f"{name}: attempt {n} came {gap:.0f} ms after "
                                   f"failure {n - 1}, before its {want} ms delay")
    return lines


def test(t):
    ns = {
        "counter": {"alarm_retry_base_ms": BASE},
        "misbehave": {"alarm_retry_base_ms": BASE, "max_restarts": 1000},
    }
    with harness.Durod(t, namespaces=ns) as d:
        c = d.client()

        with t.sub("a handler that fails twice succeeds on retry 2"):
            expect_json(c.request("POST", "/counter/r/alarm?in_ms=0&fail=2"), 200)
            oid = d.object_id("counter", "r")
            d.wait_log(rf'{oid}: alarm "\(default\)" done', 1)
            check_backoff(d, oid, r"\(default\)", BASE, 2)
            j = d.counter(c, "/counter/r")
            check(j["alarms_fired"] == 1, f"{j!r}")
            check(j["last_alarm"]["retry"] == 2, f"the handler saw retry {j['last_alarm']}")

        with t.sub("a handler that always fails is given up after the retries"):
            expect_json(c.request("POST", "/counter/g/alarm?in_ms=0&fail=100&name=bad"), 200)
            oid = d.object_id("counter", "g")
            d.wait_log(rf'{oid}: alarm "bad" given up after {MAX} retries', 1)
            check_backoff(d, oid, "bad", BASE, MAX)
            j = d.counter(c, "/counter/g")
            check(j["alarms_fired"] == 0, f"a failed handler's write was kept: {j!r}")
            # Given up: gone from the object's storage and from the index.
            alarms = expect_json(c.request("GET", "/counter/g/alarms"), 200)["alarms"]
            check(alarms == [], f"the object still lists {alarms}")
            check(("counter", oid, "bad") not in d.registry_alarms(), "still indexed")

        with t.sub("a worker that crashes in the handler is retried, then given up"):
            expect_json(c.request("POST", "/misbehave/k/alarm?in_ms=0&name=crash-1"), 200)
            oid = d.object_id("misbehave", "k")
            d.wait_log(rf'{oid}: alarm "crash-1" given up after {MAX} retries', 1)
            lines = check_backoff(d, oid, "crash-1", BASE, MAX)
            check(all("object_reset" in ln for ln in lines), f"not reported as a crash: {lines}")
            # durod and other objects are fine.
            check(d.incr(c, "/counter/other") == 1, "another object after the crashes")

        with t.sub("/health counts the deliveries, retries and give-ups"):
            with harness.Conn(d.admin_port) as a:
                h = expect_json(a.request("GET", "/health"), 200)["alarms"]
            check(h["retried"] == 2 + MAX + MAX and h["given_up"] == 2
                  and h["delivered"] == 3 + 2 * (MAX + 1) and h["in_flight"] == 0,
                  f"/health alarms: {h}")

    with harness.Durod(t, namespaces={"counter": {}}) as d:
        with t.sub("the default retry base is 2 s"):
            c = d.client()
            expect_json(c.request("POST", "/counter/dflt/alarm?in_ms=0&fail=1"), 200)
            oid = d.object_id("counter", "dflt")
            d.wait_log(rf'{oid}: alarm "\(default\)" done', 1, timeout=30)
            check_backoff(d, oid, r"\(default\)", 2000, 1)
            check(d.counter(c, "/counter/dflt")["last_alarm"]["retry"] == 1, "retry 1")


if __name__ == "__main__":
    harness.main(test)
