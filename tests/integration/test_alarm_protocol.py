#!/usr/bin/env python3
"""alarm messages at the wrong time: a worker that answers a request with
"done", sends "alarm_ack" or "alarm" (messages only durod sends), or sends
"alarm_sync" with no event in flight is killed for breaking the protocol,
its event fails with 500 object_reset, and everything else goes on."""
import harness
from harness import check, expect_error


def test(t):
    ns = {"counter": {}, "misbehave": {},
          "early": {"exec": [t.build.misbehave], "env": {"MISBEHAVE_START": "sync"},
                    "start_timeout_ms": 20000}}
    with harness.Durod(t, namespaces=ns) as d:
        kept = d.client()
        check(d.incr(kept, "/counter/p") == 1, "counter before")
        m = d.client()
        for kind, why in (("done", "done to a request"),
                          ("alarm_ack", 'unexpected message type "alarm_ack"'),
                          ("alarm", 'unexpected message type "alarm"')):
            with t.sub(f"a worker that sends {kind}"):
                old = harness.Proc(d.worker_pid(m, "/misbehave/p"))
                r = m.request("POST", f"/misbehave/p/raw?type={kind}")
                expect_error(r, 500, "object_reset", f"POST /raw?type={kind}")
                d.wait_log(rf"broke the protocol: {why}")
                check(harness.wait_until(lambda: not old.alive(), harness.GONE_TIMEOUT),
                      f"the worker {old} was not killed")
                check(d.worker_pid(m, "/misbehave/p") != old.pid, "no fresh worker after")

        with t.sub("alarm_sync before ready"):
            r = m.request("GET", "/early/x/")
            expect_error(r, 500, None, "GET /early/x/")
            d.wait_log(r"broke the protocol: alarm_sync with no event in flight")
            check(d.registry_alarms() == {}, f"a refused alarm_sync was indexed: "
                                             f"{d.registry_alarms()}")

        check(d.incr(kept, "/counter/p") == 2, "counter after (undisturbed)")


if __name__ == "__main__":
    harness.main(test)
