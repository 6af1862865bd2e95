#!/usr/bin/env python3
"""
alarms.py — the alarm benchmarks (bench/run.sh alarms; see bench/RESULTS.md).

    python3 bench/alarms.py [--json FILE] precision|burst|million|setrate|all

Uses bench.py's durod runner (fresh temp dir, free 127.0.0.1 ports, SIGTERM
at the end, exit 0 and no worker left) with its own namespaces.

  precision  an idle durod; per repetition 40 counter objects with live
             workers and 40 whose workers hibernated (idle_timeout_ms 300)
             get their default alarm 2-3 s ahead, staggered by 25 ms.
             Lateness = last_alarm.ran - last_alarm.scheduled as the
             worker saw it (its clock, when the handler started), so it
             includes durod's timer, the queue, and for hibernated
             objects the activation (spawn + ready).
  burst      BENCH_ALARM_OBJECTS (10,000) new counter objects each get an
             alarm due at a random time within the same 5 s, far enough
             ahead that all are set first (8 client connections; objects
             hibernate after 2 s idle, max_active_objects 5000). Then every
             alarm must run: durod logs "done, N ms after its time" for
             each, N measured when the reply arrived (activation included).
             Reports the count and the distribution of N.
  million    durod start-up with 1,000,000 rows in the alarm index
             (written straight into registry.sqlite while durod is
             stopped: random object ids, due (a) spread over the next 24 h,
             (b) all within one minute 5 minutes ahead, so all inside the
             10-minute window and only its row cap (65536) bounds what is
             loaded) against the same durod with an empty index, in the
             same repetition: time from exec to GET /health = 200, and
             VmRSS once ready. Plus bench/bin/alarm_sched -n 1000000: the
             in-memory schedule's put / update / pop rates and bytes per
             alarm.
  setrate    1000 warm counter objects; wrk -t2 -c16 with bench/objects.lua
             POST /counter/o<k>/incr, POST .../alarm?in_ms=600000 (moves
             the default alarm later: no alarm_sync) and the same with a
             new alarm name per request (every request needs an
             alarm_sync round trip and a registry group commit).

Environment: BENCH_REPS (5; precision and setrate), BENCH_ALARM_OBJECTS
(10000), BENCH_MILLION (1000000), BENCH_DURATION (wrk seconds, 10).
"""

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import BenchError, Conn, NsDurod, log, pct  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ALARM_SCHED = os.path.join(HERE, "bin", "alarm_sched")
BURST_N = int(os.environ.get("BENCH_ALARM_OBJECTS", "10000"))
MILLION = int(os.environ.get("BENCH_MILLION", "1000000"))


def request(conn, method, path):
    """One request on a bench Conn (keep-alive); returns (status, body)."""
    conn.sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Content-Length: 0\r\n\r\n".encode())
    while b"\r\n\r\n" not in conn.buf:
        conn._more()
    head, conn.buf = conn.buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(v) for k, _, v in (ln.partition(":") for ln in lines[1:])
                  if k.strip().lower() == "content-length")
    while len(conn.buf) < length:
        conn._more()
    body, conn.buf = conn.buf[:length], conn.buf[length:]
    return status, body


def post_json(conn, path):
    status, body = request(conn, "POST", path)
    if status != 200:
        raise BenchError(f"POST {path}: {status} {body[:200]!r}")
    return json.loads(body)


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")


def cpu_s(pid):
    """User + system CPU seconds a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dist(values):
    return {"n": len(values), "p50": pct(values, 50), "p99": pct(values, 99),
            "max": max(values), "mean": statistics.fmean(values)}


# -------------------------------------------------------------- precision

def bench_precision():
    reps = []
    for rep in range(bench.REPS):
        ns = {"counter": {"idle_timeout_ms": 3600000},
              "sleepy": {"idle_timeout_ms": 300, "hibernate_grace_ms": 60000}}
        with NsDurod("precision", ns) as d, Conn(d.port) as c:
            live = [f"/counter/p{i}" for i in range(40)]
            asleep = [f"/sleepy/p{i}" for i in range(40)]
            for r in live + asleep:
                bench.get_json(c, r + "/")  # activate
            t0 = time.time() * 1000 + 2000
            for i, r in enumerate(live + asleep):
                in_ms = int(t0 + 25 * i - time.time() * 1000)
                post_json(c, f"{r}/alarm?in_ms={max(in_ms, 0)}")
            # The sleepy ones hibernate (300 ms) before their alarms come due.
            wait_for(lambda: len(d.log_lines(r'alarm "\(default\)" done')) >= len(live + asleep),
                     60, "every alarm to run")
            out = {}
            for kind, routes in (("live", live), ("hibernated", asleep)):
                late = []
                for r in routes:
                    j = bench.get_json(c, r + "/")
                    la = j["last_alarm"]
                    late.append(la["ran"] - la["scheduled"])
                out[kind] = dist(late)
            reps.append(out)
            log(f"precision rep {rep}: live p50 {out['live']['p50']} p99 {out['live']['p99']} ms; "
                f"hibernated p50 {out['hibernated']['p50']} p99 {out['hibernated']['p99']} ms")
    return reps


def report_precision(reps):
    med = {}
    for kind in ("live", "hibernated"):
        med[kind] = {k: statistics.median(r[kind][k] for r in reps)
                     for k in ("p50", "p99", "max")}
    print(f"alarm precision, idle system, lateness in ms (median of {len(reps)} reps):")
    for kind in ("live", "hibernated"):
        m = med[kind]
        print(f"  {kind:11s} p50 {m['p50']:6.1f}  p99 {m['p99']:6.1f}  max {m['max']:6.1f}"
              f"   per rep p99: {[r[kind]['p99'] for r in reps]}")
    return med


# ------------------------------------------------------------------ burst

def set_alarms(d, names, at_of, nconns=8):
    """POST /counter/<name>/alarm?in_ms=... for every name, over nconns
    keep-alive connections; at_of(i) is the wanted epoch ms of name i."""
    todo = list(range(len(names)))
    lock = threading.Lock()
    errors = []

    def run():
        with Conn(d.port) as c:
            while not errors:
                with lock:
                    if not todo:
                        return
                    i = todo.pop()
                in_ms = max(0, int(at_of(i) - time.time() * 1000))
                try:
                    post_json(c, f"/counter/{names[i]}/alarm?in_ms={in_ms}")
                except Exception as e:  # noqa: BLE001 — reported below
                    errors.append(str(e))

    ths = [threading.Thread(target=run) for _ in range(nconns)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    if errors:
        raise BenchError(f"setting alarms: {errors[:3]}")


def bench_burst():
    ns = {"counter": {"idle_timeout_ms": 2000, "max_queue": 1000}}
    with NsDurod("burst", ns, top={"max_active_objects": 5000}) as d:
        n = BURST_N
        names = [f"b{i}" for i in range(n)]
        rnd = random.Random(7)
        offsets = [rnd.uniform(0, 5000) for _ in range(n)]
        # Learn the set rate on 400 objects (an alarm an hour ahead), then
        # aim the 5 s window far enough ahead for all n to be set first
        # (those 400 again: moved earlier).
        t = time.monotonic()
        set_alarms(d, names[:400], lambda i: time.time() * 1000 + 3600000)
        rate = 400 / (time.monotonic() - t)
        t0 = time.time() * 1000 + n / rate * 1000 * 1.6 + 10000
        log(f"burst: {rate:.0f} objects set per s; the window starts in "
            f"{(t0 - time.time() * 1000) / 1000:.0f} s")
        t = time.monotonic()
        set_alarms(d, names, lambda i: t0 + offsets[i])
        set_s = time.monotonic() - t
        if time.time() * 1000 > t0:
            raise BenchError("setting the alarms ran into their window")
        rss_before = d.rss_kb()
        pat = r'alarm "\(default\)" done, (-?\d+) ms after its time'
        cpu0 = cpu_s(d.proc.pid)
        wait_for(lambda: len(d.log_lines(pat)) >= n,
                 (t0 - time.time() * 1000) / 1000 + 600, f"{n} alarms to run")
        # From the window's start to the last run, and durod's own CPU
        # meanwhile (before t0 it only waited): is durod the bottleneck?
        fire_s = time.time() - t0 / 1000
        durod_cpu = cpu_s(d.proc.pid) - cpu0
        late = [int(x) for x in d.log_lines(pat)]
        reasons = {}
        for why in d.log_lines(r'alarm "\(default\)" failed \((.*?)\); retry'):
            why = re.sub(r"\d+", "N", why)
            reasons[why] = reasons.get(why, 0) + 1
        res = {"n": n, "ran": len(late), "set_s": set_s, "set_rate": n / set_s,
               "late_ms": dist(late), "durod_rss_kb_before": rss_before,
               "durod_rss_kb_after": d.rss_kb(),
               "retries": sum(reasons.values()), "retry_reasons": reasons,
               "fire_s": fire_s, "durod_cpu_s": durod_cpu}
        idx = sqlite3.connect(f"file:{os.path.join(d.tmp, 'data', 'registry.sqlite')}?mode=ro",
                              uri=True, timeout=10)
        res["index_left"] = idx.execute("SELECT count(*) FROM alarms").fetchone()[0]
        idx.close()
    return res


def report_burst(r):
    lm = r["late_ms"]
    print(f"alarm burst: {r['n']} objects, alarms due within one 5 s window; "
          f"{r['ran']} ran, {r['retries']} retries, {r['index_left']} left in the index")
    print(f"  delay after the alarm's time (ms, activation included): p50 {lm['p50']}  "
          f"p99 {lm['p99']}  max {lm['max']}  mean {lm['mean']:.0f}")
    for why, k in sorted(r["retry_reasons"].items(), key=lambda x: -x[1]):
        print(f"  retried {k}x: {why}")
    print(f"  firing took {r['fire_s']:.1f} s ({r['n'] / r['fire_s']:.0f} alarms/s); durod used "
          f"{r['durod_cpu_s']:.1f} s of CPU meanwhile ({r['durod_cpu_s'] / r['fire_s'] * 100:.0f} % of one core)")
    print(f"  set: {r['set_rate']:.0f} objects/s;  durod RSS {r['durod_rss_kb_before'] / 1024:.1f} MB "
          f"before the window, {r['durod_rss_kb_after'] / 1024:.1f} MB after")
    return {"p50": lm["p50"], "p99": lm["p99"], "max": lm["max"]}


# ---------------------------------------------------------------- million

def seed_index(registry, n, due_of):
    db = sqlite3.connect(registry, timeout=30)
    db.execute("PRAGMA synchronous=OFF")
    rnd = random.Random(11)
    db.execute("BEGIN")
    batch = []
    for i in range(n):
        batch.append(("counter", rnd.randbytes(32), "", due := due_of(i), due, 0, 0))
        if len(batch) == 10000:
            db.executemany("INSERT INTO alarms VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
            batch.clear()
    if batch:
        db.executemany("INSERT INTO alarms VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
    db.execute("COMMIT")
    db.close()


def start_time(d):
    """(s from exec to ready, VmRSS kB when ready, the alarms log line)."""
    t = time.monotonic()
    d.start()
    took = time.monotonic() - t
    line = d.log_lines(r"alarms: \d+ in the index, \d+ due within the first window")
    return took, d.rss_kb(), line[-1] if line else ""


def bench_million():
    out = {}
    now = int(time.time() * 1000)
    shapes = {
        "spread_24h": lambda i: now + 60000 + (i * 86400000) // MILLION,
        "one_minute_5min_ahead": lambda i: now + 300000 + (i * 60000) // MILLION,
    }
    for shape, due_of in shapes.items():
        d = NsDurod("million", {"counter": {}})
        try:
            d.start()           # makes registry.sqlite and its tables
            d.stop_keep()
            empty = start_time(d)
            d.stop_keep()
            t = time.monotonic()
            seed_index(os.path.join(d.tmp, "data", "registry.sqlite"), MILLION, due_of)
            seed_s = time.monotonic() - t
            full = start_time(d)
            out[shape] = {"empty_start_s": empty[0], "empty_rss_kb": empty[1],
                          "start_s": full[0], "rss_kb": full[1], "log": full[2],
                          "seed_s": seed_s}
            log(f"million/{shape}: start {full[0]:.3f} s (empty {empty[0]:.3f} s), "
                f"RSS {full[1]} kB (empty {empty[1]} kB); {full[2]}")
            d.stop()
        finally:
            d.cleanup()
    p = subprocess.run([ALARM_SCHED, "-n", str(MILLION)], capture_output=True, text=True,
                       timeout=600)
    if p.returncode != 0:
        raise BenchError(f"alarm_sched: {p.stderr}")
    out["sched"] = json.loads(p.stdout)
    return out


def report_million(r):
    print(f"alarm index with {MILLION} rows (durod start-up, exec to /health 200):")
    for shape in ("spread_24h", "one_minute_5min_ahead"):
        s = r[shape]
        print(f"  {shape:24s} start {s['start_s'] * 1000:7.1f} ms (empty index "
              f"{s['empty_start_s'] * 1000:6.1f} ms)  RSS {s['rss_kb'] / 1024:6.1f} MB "
              f"(empty {s['empty_rss_kb'] / 1024:5.1f} MB)")
        print(f"  {'':24s} {s['log'].split(': ', 1)[-1]}")
    s = r["sched"]
    print(f"  in-memory schedule (bench/bin/alarm_sched -n {s['n']}): put {s['put_per_s']:.0f}/s, "
          f"update {s['update_per_s']:.0f}/s, pop {s['pop_per_s']:.0f}/s, "
          f"{s['bytes_per_entry']:.0f} bytes per alarm")
    return {k: r[k] for k in r}


# ---------------------------------------------------------------- setrate

def bench_setrate():
    reps = []
    ns = {"counter": {"idle_timeout_ms": 3600000, "max_queue": 1000}}
    with NsDurod("setrate", ns) as d:
        bench.warm_up(d, [f"o{i}" for i in range(bench.NOBJ)])
        url = f"http://127.0.0.1:{d.port}"
        for rep in range(bench.REPS):
            row = {}
            for what, args in (("incr", ["POST", "counter", str(bench.NOBJ), "incr"]),
                               ("alarm_later", ["POST", "counter", str(bench.NOBJ),
                                                "alarm?in_ms=600000"]),
                               ("alarm_new", ["POST", "counter", str(bench.NOBJ),
                                              "alarm?in_ms=600000", "uniq"])):
                row[what] = bench.wrk(url, 2, 16, bench.DURATION, bench.OBJECTS_LUA, args,
                                      timeout=10)
            reps.append(row)
            log(f"setrate rep {rep}: " + ", ".join(
                f"{k} {v['rps']:.0f}/s p50 {v['p50_us'] / 1000:.2f} ms" for k, v in row.items()))
            d.check_alive()
    return reps


def report_setrate(reps):
    med = {}
    print(f"setting alarms, wrk -t2 -c16 over {bench.NOBJ} warm objects (median of {len(reps)}):")
    for what in ("incr", "alarm_later", "alarm_new"):
        m = {k: statistics.median(r[what][k] for r in reps) for k in ("rps", "p50_us", "p99_us")}
        ratio = statistics.median(r[what]["rps"] / r["incr"]["rps"] for r in reps)
        med[what] = {**m, "ratio_to_incr": ratio}
        print(f"  {what:12s} {m['rps']:7.0f} req/s  p50 {m['p50_us'] / 1000:6.2f} ms  "
              f"p99 {m['p99_us'] / 1000:6.2f} ms  ({ratio:.2f}x incr)")
    return med


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("which", choices=["precision", "burst", "million", "setrate", "all"])
    args = ap.parse_args()
    which = ["precision", "setrate", "million", "burst"] if args.which == "all" else [args.which]
    raw, medians = {}, {}
    for b in which:
        t0 = time.monotonic()
        raw[b] = globals()[f"bench_{b}"]()
        medians[b] = globals()[f"report_{b}"](raw[b])
        log(f"{b}: done in {time.monotonic() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"raw": raw, "medians": medians}, fh, indent=1, default=str)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
