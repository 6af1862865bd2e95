#!/usr/bin/env python3
"""SIGHUP reloads the config. Under steady load, a namespace whose worker
binary changed recycles every live worker (each object ends up served by
the new program) with zero failed requests and no lost increment, never
two workers for one object; a broken config, or one that changes where
durod listens, is refused with the reason and the old config keeps
serving; a removed namespace answers 404 and its workers drain away."""
import json
import os
import shutil
import signal
import threading
import time

import harness
from harness import check, expect_error

OBJECTS = 8
THREADS = 4


class Load:
    """THREADS keep-alive clients incrementing OBJECTS counters."""

    def __init__(self, d):
        self.d = d
        self.stop = threading.Event()
        self.ok = [0] * OBJECTS
        self.failures = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(THREADS)]

    def _run(self, n):
        c = harness.Conn(self.d.port)
        i = n
        while not self.stop.is_set():
            k = i % OBJECTS
            i += 1
            try:
                r = c.request("POST", f"/counter/o{k}/incr")
            except Exception as e:  # a closed connection is a failure too
                with self.lock:
                    self.failures.append(repr(e))
                c = harness.Conn(self.d.port)
                continue
            with self.lock:
                if r.status == 200:
                    self.ok[k] += 1
                else:
                    self.failures.append(f"{r.status} {r.body[:200]!r}")
        c.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)
        return False


def exe_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def workers_of(d, ns):
    out = []
    for p in d.children():
        obj = harness.worker_object(p)
        if obj is not None and obj[0] == ns:
            out.append(p)
    return out


def rewrite(d, config):
    with open(d.cfg_path + ".new", "w") as f:
        f.write(config if isinstance(config, str) else json.dumps(config, indent=2))
    os.replace(d.cfg_path + ".new", d.cfg_path)


def hup(d, pattern, n):
    """SIGHUP, then wait for the n-th log line matching pattern."""
    os.kill(d.pid, signal.SIGHUP)
    d.wait_log(pattern, n, timeout=30)


def test(t):
    tmp = harness.tempfile.mkdtemp(prefix="duro-it-reload-")
    v1, v2 = os.path.join(tmp, "v1"), os.path.join(tmp, "v2")
    for v in (v1, v2):
        os.makedirs(v)
        shutil.copy2(t.build.counter, os.path.join(v, "counter"))
    try:
        ns = {"counter": {"exec": [os.path.join(v1, "counter")]}, "misbehave": {}}
        with harness.Durod(t, namespaces=ns) as d:
            c = d.client()
            for k in range(OBJECTS):
                d.incr(c, f"/counter/o{k}")
            before = {k: d.counter(c, f"/counter/o{k}")["pid"] for k in range(OBJECTS)}
            check(all(exe_of(p) == os.path.join(v1, "counter") for p in before.values()),
                  "workers run v1")
            check(c.request("GET", "/misbehave/m/").status == 200, "misbehave up")

            with harness.UniqueWorkers(d.pid) as uw, Load(d) as load:
                time.sleep(0.5)  # the load is running before the reload
                cfg = json.loads(json.dumps(d.config))
                cfg["namespaces"]["counter"]["exec"] = [os.path.join(v2, "counter")]
                rewrite(d, cfg)
                hup(d, r"reloaded .*: 2 namespace\(s\), 0 added, 1 changed", 1)

                def all_v2():
                    pids = workers_of(d, "counter")
                    return (len(pids) == OBJECTS and
                            all(exe_of(p) == os.path.join(v2, "counter") for p in pids))
                check(harness.wait_until(all_v2, 30),
                      "every counter worker recycled to v2 under load")
                time.sleep(0.5)  # more load on the new workers
            check(uw.samples > 0, "the unique-worker watcher ran")
            check(not load.failures, f"{len(load.failures)} failed requests during "
                  f"the reload: {load.failures[:5]}")
            check(sum(load.ok) > 0, "the load made requests")
            for k in range(OBJECTS):
                j = d.counter(c, f"/counter/o{k}")
                check(j["value"] == 1 + load.ok[k],
                      f"o{k}: value {j['value']}, want 1 + {load.ok[k]} acknowledged")
                check(j["pid"] != before[k], f"o{k} still has its old worker")
            check(d.log_lines(r"hibernating worker \d+ \(recycle\)"),
                  "the recycle shows in the log")

            # Broken configs are refused; the running one keeps serving.
            pids = {k: d.counter(c, f"/counter/o{k}")["pid"] for k in range(OBJECTS)}
            good = json.loads(json.dumps(cfg))
            rewrite(d, '{"namespaces": {"counter": {"exec": [], "bogus": 1}}}')
            hup(d, r"reload refused, the running config stays: namespaces\.counter", 1)
            bad = json.loads(json.dumps(good))
            bad["listen"] = "127.0.0.1:1"
            rewrite(d, bad)
            hup(d, r"reload refused, the running config stays: listen: changing it "
                r"needs a restart", 1)
            bad = json.loads(json.dumps(good))
            bad["namespaces"]["counter"]["exec"] = [os.path.join(tmp, "missing")]
            rewrite(d, bad)
            hup(d, r"reload refused.*exec\[0\].*not found", 1)
            for k in range(OBJECTS):
                j = d.counter(c, f"/counter/o{k}")
                check(j["pid"] == pids[k], f"o{k}: a refused reload recycled it")
            check(d.incr(c, "/counter/o0") == 2 + load.ok[0], "serving after refusals")

            # An unchanged namespace keeps its workers; a removed one
            # answers 404 and its worker drains away.
            mpid = d.counter(c, "/counter/o1")["pid"]
            gone = json.loads(json.dumps(good))
            del gone["namespaces"]["misbehave"]
            rewrite(d, gone)
            hup(d, r"reloaded .*: 1 namespace\(s\), 0 added, 0 changed .*, 1 removed", 1)
            expect_error(c.request("GET", "/misbehave/m/"), 404, "unknown_namespace")
            check(harness.wait_until(lambda: not workers_of(d, "misbehave") or None, 30),
                  "the removed namespace's worker drained away")
            check(d.counter(c, "/counter/o1")["pid"] == mpid,
                  "an unchanged namespace kept its worker")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    harness.main(test)
