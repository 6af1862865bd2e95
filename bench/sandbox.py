#!/usr/bin/env python3
"""
sandbox.py — what the sandbox costs (bench/run.sh sandbox; see
bench/RESULTS.md).

    python3 bench/sandbox.py [--json FILE]

One durod with two namespaces running the same counter worker: "counter"
under policies/native.json and "bare" with policy "none". Per repetition
(BENCH_REPS, 5), N (BENCH_SANDBOX_N, 200) new objects in each, activated
alternately one at a time (GET /<ns>/s<rep>-<k>/, a keep-alive
connection), so both see the same machine at the same moment. Measured:
the client's latency of each first request (spawn, sandbox, exec, the
worker's storage creation, ready, the request), durod's own "ready in N
ms" for each (spawn to ready), and a second GET on the live worker (the
seccomp filter's cost on a warm request). Medians per repetition, and the
differences computed within each repetition.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import Conn, NsDurod, log  # noqa: E402

N = int(os.environ.get("BENCH_SANDBOX_N", "200"))


def timed_get(c, path):
    t = time.perf_counter()
    status, _ = c.get(path)
    took = (time.perf_counter() - t) * 1e6
    if status != 200:
        raise bench.BenchError(f"GET {path}: {status}")
    return took


def one_rep(rep):
    ns = {"counter": {"idle_timeout_ms": 3600000},
          "bare": {"idle_timeout_ms": 3600000, "policy": "none"}}
    out = {k: {"first_us": [], "warm_us": []} for k in ns}
    with NsDurod("sandbox", ns) as d, Conn(d.port) as c:
        for k in range(N):
            for name in (("counter", "bare") if k % 2 == 0 else ("bare", "counter")):
                path = f"/{name}/s{rep}-{k}/"
                out[name]["first_us"].append(timed_get(c, path))
                out[name]["warm_us"].append(timed_get(c, path))
        for name in ns:
            ready = [float(x) for x in d.log_lines(
                rf"object {name}/\w+: worker \d+ ready in ([\d.]+) ms")]
            out[name]["ready_ms"] = ready
    row = {}
    for name in ns:
        row[name] = {m: statistics.median(v) for m, v in out[name].items()}
    row["delta_first_us"] = row["counter"]["first_us"] - row["bare"]["first_us"]
    row["delta_ready_us"] = (row["counter"]["ready_ms"] - row["bare"]["ready_ms"]) * 1000
    row["delta_warm_us"] = row["counter"]["warm_us"] - row["bare"]["warm_us"]
    log(f"sandbox rep {rep}: first request {row['counter']['first_us']:.0f} vs "
        f"{row['bare']['first_us']:.0f} us, ready {row['counter']['ready_ms']:.2f} vs "
        f"{row['bare']['ready_ms']:.2f} ms, warm {row['counter']['warm_us']:.0f} vs "
        f"{row['bare']['warm_us']:.0f} us")
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    reps = [one_rep(r) for r in range(bench.REPS)]
    med = lambda f: statistics.median(f(r) for r in reps)  # noqa: E731
    print(f"sandbox cost, {N} activations per namespace per repetition, median of "
          f"{len(reps)} (native policy vs policy \"none\", same worker):")
    for what, key, unit, scale in (("first request (activation)", "first_us", "us", 1),
                                   ("spawn to ready (durod's log)", "ready_ms", "ms", 1),
                                   ("warm request", "warm_us", "us", 1)):
        print(f"  {what:30s} sandboxed {med(lambda r: r['counter'][key]) * scale:9.2f} {unit}"
              f"   none {med(lambda r: r['bare'][key]) * scale:9.2f} {unit}")
    print(f"  difference per activation (within each repetition): first request "
          f"{med(lambda r: r['delta_first_us']):+.0f} us, spawn-to-ready "
          f"{med(lambda r: r['delta_ready_us']):+.0f} us; per warm request "
          f"{med(lambda r: r['delta_warm_us']):+.0f} us")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(reps, fh, indent=1)


if __name__ == "__main__":
    try:
        main()
    except bench.BenchError as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
