#!/usr/bin/env python3
"""storage survives: an acknowledged counter value is still there after
(a) idle hibernation, (b) kill -9 of the worker, (c) a durod restart by
SIGTERM and (d) SIGKILL of durod and a new durod on the same data_dir —
for a namespace with the default synchronous=FULL and for one with
"synchronous": "NORMAL" (WAL + NORMAL loses nothing to a process crash,
only to a power loss, so it must survive all four too)."""
import random
import signal

import harness
import storage_util as su
from harness import check

# Each namespace runs the counter; "normal" with synchronous NORMAL.
OBJECTS = [("counter", "/counter/s"), ("normal", "/normal/s"),
           ("counter", "/counter/t"), ("normal", "/normal/t")]


def namespaces(t, idle_ms):
    common = {"idle_timeout_ms": idle_ms, "max_restarts": 1000,
              # A hibernated worker must have obeyed "hibernate" by itself.
              "hibernate_grace_ms": 60000}
    return {
        "counter": dict(common),
        "normal": dict(common, exec=[t.build.counter], synchronous="NORMAL"),
    }


def test(t):
    rnd = random.Random(su.rnd_seed())
    expected = {route: 0 for _, route in OBJECTS}

    def bump(d, c, what):
        """A few acknowledged increments on every object."""
        for _, route in OBJECTS:
            for _ in range(rnd.randint(1, 3)):
                by = rnd.randint(1, 1000)
                v = d.incr(c, route, by)
                expected[route] += by
                check(v == expected[route],
                      f"{what}: POST {route}/incr?by={by} -> {v}, expected {expected[route]}")

    def verify(d, c, what):
        """Every object still has its acknowledged value; returns the pids."""
        pids = {}
        for _, route in OBJECTS:
            j = d.counter(c, route)
            check(j["value"] == expected[route],
                  f"after {what}: GET {route}/ value {j['value']}, "
                  f"expected {expected[route]} (acknowledged writes lost)")
            pids[route] = j["pid"]
        return pids

    with su.DurodSeries(t, namespaces(t, 300)) as s:
        # (a) idle hibernation: idle_timeout_ms 300.
        d = s.start()
        c = d.client()
        bump(d, c, "first writes")
        pids = verify(d, c, "first writes")

        with t.sub("the NORMAL namespace's worker runs with DURO_SYNCHRONOUS=NORMAL"):
            for ns, route in OBJECTS:
                # The worker may hibernate (300 ms) before we read its
                # environment: then ask again, which wakes a new one.
                env = None
                for _ in range(10):
                    env = su.worker_env(d.counter(c, route)["pid"])
                    if env is not None:
                        break
                check(env is not None, f"{route}: could not read a worker's environment")
                want = "NORMAL" if ns == "normal" else "FULL"
                check(env.get("DURO_SYNCHRONOUS", "FULL") == want,
                      f"{route}: DURO_SYNCHRONOUS={env.get('DURO_SYNCHRONOUS')!r}, "
                      f"expected {want}")
        pids = verify(d, c, "reading the environments")

        procs = [harness.Proc(p) for p in pids.values()]
        left = harness.wait_gone(procs, 30)
        check(not left, f"workers not hibernated within 30 s (idle_timeout_ms 300): {left}")
        check(not any(p.exists() for p in procs) or
              harness.wait_until(lambda: not any(p.exists() for p in procs), 10),
              "hibernated workers not reaped")
        new = verify(d, c, "idle hibernation")
        check(not set(new.values()) & set(pids.values()),
              f"a worker kept its pid across hibernation: {pids} -> {new}")
        bump(d, c, "after hibernation")
        verify(d, c, "writes after hibernation")

        # (c) SIGTERM, then a new durod (long idle timeout from here on, so
        # the pids below stay valid while we use them).
        d = s.restart("term", namespaces(t, 600000))
        c = d.client()
        verify(d, c, "a durod restart (SIGTERM)")
        bump(d, c, "after the SIGTERM restart")

        # (b) kill -9 of each worker, between events.
        pids = verify(d, c, "writes after the SIGTERM restart")
        for route, pid in pids.items():
            check(su.kill9(pid), f"{route}: worker {pid} was already gone before kill -9")
        new = verify(d, c, "kill -9 of the workers")
        check(not set(new.values()) & set(pids.values()),
              f"a killed worker still serves: {pids} -> {new}")
        bump(d, c, "after kill -9")
        verify(d, c, "writes after kill -9")

        # (d) SIGKILL durod (its workers die with it), a new durod on the
        # same data_dir.
        d = s.restart("kill")
        c = d.client()
        verify(d, c, "SIGKILL of durod and a new durod")
        bump(d, c, "after the SIGKILL restart")
        verify(d, c, "writes after the SIGKILL restart")

        # And the last writes survive a plain SIGTERM restart once more.
        d = s.restart("term")
        c = d.client()
        verify(d, c, "a second SIGTERM restart")
    print(f"  final values: {su.dumps(expected)}", flush=True)


if __name__ == "__main__":
    harness.main(test)
