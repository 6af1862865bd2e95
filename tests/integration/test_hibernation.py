#!/usr/bin/env python3
"""idle hibernation: with idle_timeout_ms 300 an idle worker goes away by
itself; the next request gets a fresh worker, and the counter's stored
value is still there (storage survives hibernation, memory does not)."""
import random
import time

import harness
from harness import check


def test(t):
    ns = {
        "counter": {
            "idle_timeout_ms": 300,
            "request_timeout_ms": 5000,
            # Long enough that only a worker that obeys "hibernate" (rather
            # than one killed after the grace period) is gone in time below.
            "hibernate_grace_ms": 60000,
        }
    }
    with harness.Durod(t, namespaces=ns) as d:
        c = d.client()
        check(d.incr(c, "/counter/h") == 1, "first incr")
        check(d.incr(c, "/counter/h") == 2, "second incr (same worker, still awake)")
        first = harness.Proc(d.counter(c, "/counter/h")["pid"])

        gone = harness.wait_until(lambda: not first.alive(), 20)
        check(gone, f"the idle worker {first} was not hibernated within 20 s "
                    f"(idle_timeout_ms 300, hibernate_grace_ms 60000)")
        check(harness.wait_until(lambda: not first.exists(), 10),
              f"durod did not reap the hibernated worker: {first}")
        check(first.pid not in d.children(), "durod still lists the old worker as its child")

        # Same keep-alive connection: the gateway held it while the object slept.
        # The counter is durable: the value survives hibernation.
        check(d.incr(c, "/counter/h") == 3,
              "after hibernation the stored counter should continue at 3")
        second = d.counter(c, "/counter/h")
        check(second["pid"] != first.pid, f"the woken object kept the old pid {first.pid}")
        check(second["value"] == 3, f"value after wake-up: {second}")

        # And again: hibernation is not a one-off.
        again = harness.Proc(second["pid"])
        check(harness.wait_until(lambda: not again.alive(), 20),
              f"the second worker {again} was not hibernated within 20 s")
        check(d.incr(c, "/counter/h") == 4, "third activation continues at 4")

    # Requests racing hibernation: with a 1 ms idle timeout most of them
    # find the worker idle, hibernating or gone. Each must still succeed.
    ns = {"counter": {"idle_timeout_ms": 1, "request_timeout_ms": 10000}}
    with harness.Durod(t, namespaces=ns) as d:
        c = d.client()
        pids = set()
        rnd = random.Random(1)
        with harness.UniqueWorkers(d.pid) as uw:
            for i in range(300):
                # Not a wait for anything: a varying gap so requests land in
                # every phase of the worker's way out (idle, stopping, gone).
                time.sleep(rnd.uniform(0, 0.004))
                v = d.incr(c, "/counter/race")
                check(v == i + 1, f"request {i}: value {v}, every increment must stay")
                if i % 30 == 0:
                    pids.add(d.counter(c, "/counter/race")["pid"])
        check(uw.samples > 10, f"the worker watcher hardly ran ({uw.samples} samples)")
        check(len(pids) > 1, f"with idle_timeout_ms 1 the worker never hibernated: {pids}")


if __name__ == "__main__":
    harness.main(test)
