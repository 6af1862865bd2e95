#!/usr/bin/env python3
"""
ops.py — what operations cost (bench/run.sh ops; see bench/RESULTS.md).

    python3 bench/ops.py [--json FILE]

Per repetition (BENCH_REPS, 5):

  hot path   wrk -t1 -c1 and -t2 -c16 (BENCH_DURATION s each) on one warm
             object, against the current durod and, when DURO_BUILD_BASE
             names the build of an earlier commit, against that durod in
             the same repetition, alternately: what per-request metrics and
             the admin machinery cost a request. With two /events
             subscribers attached to the current durod as well.
  /metrics   with BENCH_OBJECTS (1000) live objects: GET /metrics, 50
             times, client-side latency and the body's size.
  reload     SIGHUP with those objects live and nothing changed: time to
             durod's "reloaded" line (config parse, programs, policies,
             keys, every object moved to the new generation).
"""

import argparse
import json
import os
import signal
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import Conn, NsDurod, log, wrk  # noqa: E402

BASE = os.environ.get("DURO_BUILD_BASE")
SECONDS = int(os.environ.get("BENCH_DURATION", "10"))
OBJECTS = int(os.environ.get("BENCH_OBJECTS", "1000"))
NS = {"counter": {"idle_timeout_ms": 3600000}}


class Subscriber:
    """GET /events, read in the background by the kernel's buffers (the
    stream is quiet during a warm run: lifecycle events only)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.sendall(b"GET /events HTTP/1.1\r\nHost: b\r\n\r\n")

    def close(self):
        self.s.close()


def hot(durod_exe, tag, subscribers=0):
    bench.DUROD = durod_exe
    with NsDurod(tag, NS) as d:
        subs = [Subscriber(d.admin_port) for _ in range(subscribers)]
        with Conn(d.port) as c:
            c.get("/counter/hot/")
        url = f"http://127.0.0.1:{d.port}/counter/hot/"
        one = wrk(url, 1, 1, SECONDS)
        many = wrk(url, 2, 16, SECONDS)
        for s in subs:
            s.close()
    return {"c1_p50_us": one["p50_us"], "c16_rps": many["rps"]}


def metrics_and_reload():
    bench.DUROD = os.path.join(bench.BUILD, "durod")
    with NsDurod("ops", NS) as d:
        with Conn(d.port) as c:
            for k in range(OBJECTS):
                c.get(f"/counter/o{k}/")
        took = []
        with Conn(d.admin_port) as a:
            for _ in range(50):
                t = time.perf_counter()
                status, body = a.get("/metrics")
                took.append((time.perf_counter() - t) * 1e3)
                if status != 200:
                    raise bench.BenchError(f"/metrics: {status}")
        before = len(d.log_lines(r"reloaded "))
        t = time.perf_counter()
        os.kill(d.proc.pid, signal.SIGHUP)
        while len(d.log_lines(r"reloaded ")) == before:
            if time.perf_counter() - t > 60:
                raise bench.BenchError("no reload within 60 s")
            time.sleep(0.001)
        reload_ms = (time.perf_counter() - t) * 1e3
    return {"metrics_ms": statistics.median(took), "metrics_bytes": len(body),
            "reload_ms": reload_ms}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json")
    args = ap.parse_args()
    cur = os.path.join(bench.BUILD, "durod")
    rows = []
    for rep in range(bench.REPS):
        row = {"current": hot(cur, "cur"), "current_2subs": hot(cur, "subs", 2)}
        if BASE:
            row["base"] = hot(os.path.join(BASE, "durod"), "base")
        row.update(metrics_and_reload())
        log(f"ops rep {rep + 1}: {json.dumps(row)}")
        rows.append(row)

    def med(f):
        return statistics.median(f(r) for r in rows)

    print(f"\nops ({bench.REPS} repetitions, medians; wrk {SECONDS} s each)")
    for k in ("current", "current_2subs", "base"):
        if k in rows[0]:
            print(f"  {k:14} -c1 p50 {med(lambda r: r[k]['c1_p50_us']):7.0f} us"
                  f"   -c16 {med(lambda r: r[k]['c16_rps']):7.0f} req/s")
    if BASE:
        print(f"  current/base: -c1 p50 x{med(lambda r: r['current']['c1_p50_us'] / r['base']['c1_p50_us']):.3f}"
              f", -c16 req/s x{med(lambda r: r['current']['c16_rps'] / r['base']['c16_rps']):.3f}")
    print(f"  GET /metrics with {OBJECTS} live objects: {med(lambda r: r['metrics_ms']):.2f} ms, "
          f"{int(med(lambda r: r['metrics_bytes']))} bytes")
    print(f"  SIGHUP reload (nothing changed) with {OBJECTS} live objects: "
          f"{med(lambda r: r['reload_ms']):.1f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    except bench.BenchError as e:
        sys.exit(f"ops: {e}")
