#!/usr/bin/env python3
"""alarms are atomic with storage: an alarm set by a handler that then
fails is never delivered; one whose commit fails after durod indexed it
wakes the object, which finds nothing due and runs no handler. Deleting
an object removes its alarms."""
import harness
from harness import check, expect_error, expect_json


def alarm_runs(c, route):
    j = expect_json(c.request("GET", route + "/alarm-runs"), 200, "GET /alarm-runs")
    return j["runs"]


def test(t):
    with harness.Durod(t, namespaces={"misbehave": {}, "counter": {}}) as d:
        c = d.client()
        route = "/misbehave/rb"

        with t.sub("an alarm set by a failed request is never delivered"):
            expect_error(c.request("POST", route + "/alarm-then-fail?in_ms=200"), 500)
            oid = d.object_id("misbehave", "rb")
            check(d.registry_alarms() == {}, f"indexed: {d.registry_alarms()}")

        with t.sub("a commit that fails after alarm_sync delivers nothing"):
            msg = expect_error(c.request("POST", route + "/alarm-commit-fails?in_ms=300"),
                               500, "worker_error")
            check(msg.startswith("storage_failed"), f"not a failed commit: {msg!r}")
            rows = d.registry_alarms()
            check(("misbehave", oid, "") in rows,
                  f"the wake-up was not indexed before the commit: {rows}")
            # A real alarm after both: once it ran, the earlier ones had
            # their chance (durod delivers in due order).
            expect_json(c.request("POST", route + "/alarm?in_ms=900&name=ok"), 200)
            d.wait_log(rf'{oid}: alarm "ok" done', 1)
            d.wait_log(rf'{oid}: alarm "\(default\)" done', 1)
            j = expect_json(c.request("GET", route + "/alarm-runs"), 200)
            check(j["runs"] == 1, f"handler runs: {j!r} (only \"ok\" should have run)")
            check(harness.wait_until(lambda: d.registry_alarms() == {}, 10),
                  f"index not cleaned: {d.registry_alarms()}")

        with t.sub("deleting an object removes its alarms"):
            expect_json(c.request("POST", "/counter/del/alarm?in_ms=600000"), 200)
            oid = d.object_id("counter", "del")
            check(("counter", oid, "") in d.registry_alarms(), "not indexed")
            with harness.Conn(d.admin_port) as a:
                expect_json(a.request("DELETE", f"/objects/counter/{oid}"), 200)
            check(("counter", oid, "") not in d.registry_alarms(),
                  f"still indexed after delete: {d.registry_alarms()}")


if __name__ == "__main__":
    harness.main(test)
