#!/usr/bin/env python3
"""max_active_objects is a hard cap: with 50, touching 500 objects in
turn serves every request while never more than 50 workers are alive at
once (an activation at the cap waits for the least recently used idle
worker to be reaped, it does not start beside it)."""
import harness
from harness import check


def test(t):
    with harness.Durod(t, namespaces={"counter": {}},
                       top={"max_active_objects": 50}) as d:
        c = d.client()
        with harness.UniqueWorkers(d.pid) as uw:
            for i in range(500):
                check(d.incr(c, f"/counter/cap{i}") == 1, f"object {i}")
            # And the first ones again: they were hibernated for room.
            for i in range(20):
                check(d.incr(c, f"/counter/cap{i}") == 2, f"object {i} again")
        check(uw.samples > 50, f"the watcher hardly ran ({uw.samples} samples)")
        check(uw.most <= 50, f"{uw.most} live workers at once with max_active_objects 50")
        check(uw.most >= 45, f"only {uw.most} live workers at once: the cap was not reached")


if __name__ == "__main__":
    harness.main(test)
