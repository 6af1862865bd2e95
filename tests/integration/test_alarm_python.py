#!/usr/bin/env python3
"""a worker written from PROTOCOL.md alone (examples/python/counter.py:
standard-library Python, raw Unix socket, sqlite3) uses durable storage
and alarms: its counter survives hibernation; an alarm set before the
object hibernates wakes it at its time; a named repeating alarm keeps its
phase across hibernations; a handler that fails twice succeeds on retry 2,
and one that always fails is given up with the alarm retired in the
worker's storage too; rule 1 puts a new alarm in durod's index before the
reply, rule 2 keeps the index in step with moves and deletes, and the
index is empty once the one-shot alarms have run."""
import os
import re
import time

import harness
from harness import check, expect_error, expect_json

WORKER = os.path.join(harness.REPO, "examples", "python", "counter.py")
IDLE_MS = 200
# Alarms due "soon" are set this far ahead, so that the reply that set
# one reaches durod before it is due: an alarm that comes due between the
# worker's alarm_sync and its reply is delivered twice (durod re-adds it to
# its schedule when it applies the reply's "alarms"), which would double
# the failures logged below.
SOON_MS = 1500


def ns_config(**over):
    # Debian's python3, under the interpreter sandbox policy.
    cfg = {"exec": [harness.SYSTEM_PYTHON, WORKER], "policy": "interpreter",
           "idle_timeout_ms": IDLE_MS,
           # Only a worker that obeys "hibernate" is gone in time below.
           "hibernate_grace_ms": 60000, "alarm_retry_base_ms": 100}
    cfg.update(over)
    return cfg


def done(oid, name="(default)", ns="pycounter"):
    return rf'object {ns}/{oid}: alarm "{re.escape(name)}" done'


def alarms_of(c, route):
    j = expect_json(c.request("GET", route + "/alarms"), 200, f"GET {route}/alarms")
    check(isinstance(j, dict) and isinstance(j.get("alarms"), list), f"GET /alarms: {j!r}")
    return j["alarms"]


def hibernates(d, proc):
    check(harness.wait_until(lambda: not proc.exists(), 30),
          f"the idle worker {proc} was not hibernated (and reaped) within 30 s")
    check(harness.wait_until(lambda: not d.children(), 10),
          f"workers still running while the object should sleep: {d.children()}")


def test_storage(t, d, c):
    route = "/pycounter/durable"
    check(d.incr(c, route) == 1, "first incr")
    check(d.incr(c, route, by=41) == 42, "incr by 41")
    first = harness.Proc(d.counter(c, route)["pid"])
    hibernates(d, first)
    j = d.counter(c, route)
    check(j["value"] == 42 and j["alarms_fired"] == 0 and "last_alarm" not in j,
          f"after hibernation the stored value should still be 42: {j!r}")
    check(j["pid"] != first.pid, "the woken object kept the old pid")
    check(d.incr(c, route, by=-2) == 40, "incr after waking")

    # Bad input is the client's 400/404/405, and commits nothing.
    expect_error(c.request("POST", route + "/incr?by=x"), 400, "bad_request")
    expect_error(c.request("POST", route + f"/incr?by={(1 << 63) - 1}"), 400, "bad_request")
    expect_error(c.request("POST", route + "/alarm"), 400, "bad_request", "no in_ms")
    expect_error(c.request("POST", route + "/alarm?in_ms=-1"), 400, "bad_request")
    expect_error(c.request("POST", route + "/alarm?in_ms=1&every_ms=z"), 400, "bad_request")
    expect_error(c.request("POST", route + "/alarm?in_ms=1&name=" + "x" * 257),
                 400, "bad_request", "a 257-byte name")
    expect_error(c.request("GET", route + "/nope"), 404, "not_found")
    r = c.request("PUT", route + "/alarm")
    expect_error(r, 405, "method_not_allowed")
    check(r.header("Allow") == "POST, DELETE", f"Allow: {r.header('Allow')!r}")
    expect_error(c.request("POST", route + "/alarms"), 405, "method_not_allowed")
    check(d.counter(c, route)["value"] == 40, "a failed request changed the value")
    check(alarms_of(c, route) == [], "a failed request set an alarm")


def test_rules_1_and_2(t, d, c):
    route = "/pycounter/index"
    far = 3600 * 1000
    j = expect_json(c.request("POST", route + f"/alarm?in_ms={far}&name=later"), 200)
    at = j["at"]
    oid = d.object_id("pycounter", "index")
    # Rule 1: the wake-up was indexed (alarm_sync) before the reply.
    row = d.registry_alarms().get(("pycounter", oid, "later"))
    check(row is not None and row[0] == at and row[2] == 0,
          f"a new alarm was not indexed before the reply: {row!r}")
    # Rule 2: moved later, the reply's "alarms" moves the index row.
    j = expect_json(c.request("POST", route + f"/alarm?in_ms={2 * far}&name=later"), 200)
    later = j["at"]
    check(harness.wait_until(
        lambda: (d.registry_alarms().get(("pycounter", oid, "later")) or (0,))[0] == later,
        10), f"the index did not follow the move: {d.registry_alarms()}")
    check(alarms_of(c, route) == [{"name": "later", "at": later, "every": 0}],
          "GET /alarms after the move")
    # Rule 2: deleted.
    j = expect_json(c.request("DELETE", route + "/alarm?name=later"), 200)
    check(j == {"deleted": "later"}, f"DELETE /alarm: {j!r}")
    check(harness.wait_until(
        lambda: ("pycounter", oid, "later") not in d.registry_alarms(), 10),
        f"the index kept a deleted alarm: {d.registry_alarms()}")
    check(alarms_of(c, route) == [], "GET /alarms after the delete")


def test_wakes(t, d, c):
    route = "/pycounter/sleepy"
    first = harness.Proc(d.counter(c, route)["pid"])
    # Far enough ahead that a slow machine hibernates the worker first.
    j = expect_json(c.request("POST", route + "/alarm?in_ms=5000"), 200, "set alarm")
    check(j.get("name") == "" and isinstance(j.get("at"), int), f"POST /alarm: {j!r}")
    at = j["at"]
    oid = d.object_id("pycounter", "sleepy")
    check(alarms_of(c, route) == [{"name": "", "at": at, "every": 0}], "GET /alarms")

    hibernates(d, first)
    check(time.time() * 1000 < at,
          "hibernation took too long to test waking; the alarm is already due")

    d.wait_log(done(oid), 1, timeout=60)
    j = d.counter(c, route)
    check(j["alarms_fired"] == 1, f"alarms_fired after the alarm: {j!r}")
    last = j.get("last_alarm")
    check(isinstance(last, dict), f"no last_alarm: {j!r}")
    check(last["name"] == "" and last["scheduled"] == at and last["retry"] == 0,
          f"last_alarm {last!r} is not the alarm set for {at}")
    check(last["ran"] >= at, f"the alarm ran early: {last!r}")
    check(j["pid"] != first.pid, "the alarm did not run in a new worker")
    check(alarms_of(c, route) == [], "the one-shot alarm is still stored after its run")


def test_repeating(t, d, c):
    route = "/pycounter/ticker"
    period = 1000  # > the idle timeout: the object sleeps between runs
    j = expect_json(c.request(
        "POST", route + f"/alarm?in_ms={SOON_MS}&every_ms={period}&name=tick"), 200)
    at0 = j["at"]
    check(j["name"] == "tick", f"POST /alarm: {j!r}")
    oid = d.object_id("pycounter", "ticker")
    d.wait_log(done(oid, "tick"), 3, timeout=60)
    j = d.counter(c, route)
    last = j["last_alarm"]
    check(last["name"] == "tick" and last["retry"] == 0, f"last_alarm: {last!r}")
    k = (last["scheduled"] - at0) / period
    check(k >= 2 and k == int(k),
          f"run scheduled at {last['scheduled']} is not at0 {at0} + k*{period}")
    check(j["alarms_fired"] >= 3, f"alarms_fired {j['alarms_fired']} after 3 ticks")
    stored = alarms_of(c, route)
    check(len(stored) == 1 and stored[0]["name"] == "tick" and stored[0]["every"] == period
          and (stored[0]["at"] - at0) % period == 0 and stored[0]["at"] > last["scheduled"],
          f"the stored tick {stored!r} lost its phase or did not move on")
    row = d.registry_alarms().get(("pycounter", oid, "tick"))
    check(row is not None and (row[1] - at0) % period == 0 and row[2] == period,
          f"the index row for tick: {row!r}")
    # The object slept between runs (period > idle timeout): more than one
    # worker ran it.
    spawned = d.log_lines(rf"pycounter/{oid}: spawned worker")
    check(len(spawned) >= 2, f"the ticker never hibernated between runs: {spawned}")

    expect_json(c.request("DELETE", route + "/alarm?name=tick"), 200, "DELETE /alarm")
    check(harness.wait_until(
        lambda: ("pycounter", oid, "tick") not in d.registry_alarms(), 10),
        f"tick still indexed after its delete: {d.registry_alarms()}")
    check(alarms_of(c, route) == [], "tick still stored after its delete")


def test_retry(t, d, c):
    route = "/pycounter/flaky"
    expect_json(c.request("POST", route + f"/alarm?in_ms={SOON_MS}&fail=2&name=flaky"), 200)
    oid = d.object_id("pycounter", "flaky")
    d.wait_log(done(oid, "flaky"), 1, timeout=60)
    fails = d.log_lines(rf'pycounter/{oid}: alarm "flaky" failed \(.*handler_failed.*\); '
                        r'retry (\d+) in')
    check([re.search(r"retry (\d+) in", ln).group(1) for ln in fails] == ["1", "2"],
          f"want two handler_failed failures (retry 1, 2): {fails}")
    j = d.counter(c, route)
    check(j["alarms_fired"] == 1, f"failed runs were counted: {j!r}")
    check(j["last_alarm"]["name"] == "flaky" and j["last_alarm"]["retry"] == 2,
          f"the handler should have succeeded on retry 2: {j['last_alarm']!r}")
    check(alarms_of(c, route) == [], "retired after success")


def test_given_up(t, d, c):
    # alarm_max_retries 1: the second attempt is final; the worker retires
    # the alarm before running the handler, which then fails.
    route = "/pygiveup/hopeless"
    expect_json(c.request("POST", route + f"/alarm?in_ms={SOON_MS}&fail=100&name=bad"), 200)
    oid = d.object_id("pygiveup", "hopeless")
    d.wait_log(rf'pygiveup/{oid}: alarm "bad" given up after 1 retries', 1, timeout=60)
    j = d.counter(c, route)
    check(j["alarms_fired"] == 0 and "last_alarm" not in j,
          f"a failed handler's writes were kept: {j!r}")
    check(alarms_of(c, route) == [], "given up, yet still in the worker's storage")
    check(("pygiveup", oid, "bad") not in d.registry_alarms(), "given up, yet indexed")


def test(t):
    ns = {"pycounter": ns_config(), "pygiveup": ns_config(alarm_max_retries=1)}
    with harness.Durod(t, namespaces=ns) as d:
        c = d.client()
        with t.sub("storage survives hibernation; bad requests commit nothing"):
            test_storage(t, d, c)
        with t.sub("rules 1 and 2 keep durod's index in step"):
            test_rules_1_and_2(t, d, c)
        with t.sub("an alarm wakes the hibernated object at its time"):
            test_wakes(t, d, c)
        with t.sub("a named repeating alarm keeps its phase"):
            test_repeating(t, d, c)
        with t.sub("fail=2 succeeds on retry 2"):
            test_retry(t, d, c)
        with t.sub("a final attempt retires the alarm in the worker first"):
            test_given_up(t, d, c)
        with t.sub("the index is empty once the one-shot alarms ran"):
            check(harness.wait_until(lambda: d.registry_alarms() == {}, 10),
                  f"the index still holds {d.registry_alarms()}")
        # The worker never failed to start or broke the protocol.
        bad = d.log_lines(r"counter\.py:|protocol|crashed|killed")
        check(not bad, f"the Python worker complained or was killed: {bad}")


if __name__ == "__main__":
    harness.main(test)
