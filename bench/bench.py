#!/usr/bin/env python3
"""
bench.py — the duro benchmarks (called by bench/run.sh; see bench/RESULTS.md).

    python3 bench/bench.py [--json FILE] warm|spread|rss|activation|spawn|nng|storage|incr|all

Every benchmark that needs durod starts its own: a fresh temp dir (under
$BENCH_TMP when set, which run.sh uses to clean up after a crash), free
ports on 127.0.0.1, a config with idle_timeout_ms = 1 h and
max_active_objects = 5000 so no worker hibernates during a run. durod is
ready when admin GET /health answers 200; at the end it gets SIGTERM, must
exit 0, and no worker of it may be left (checked through /proc: every
process whose DURO_IPC points into the run dir). Any failure raises, and
the exit status is non-zero.

The machines are noisy, so each benchmark runs REPS times ($BENCH_REPS,
default 5) and the things that are compared (e.g. the gateway's p50 and the
raw nng round trip) are measured inside the same repetition; the summary
shows every repetition and the median, and ratios are computed per
repetition before taking their median.

  warm        wrk -t2 -c16 -d10s --latency on one object (/counter/hot/);
              and, to see where time goes, wrk -t1 -c1 on the same object,
              wrk -t1 -c1 on a worker that touches no storage
              (/misbehave/hot/, tests/workers/misbehave.c GET /),
              wrk -t1 -c1 on admin /health (HTTP only, no worker hop), and
              bench/bin/nng_rtt (raw nng and socketpair round trips).
  spread      1000 objects /counter/o0..o999/ warmed first, then wrk
              -t2 -c16 with bench/spread.lua cycling over them, beside the
              same wrk on /counter/hot/ in the same repetition.
  rss         durod's VmRSS with no worker, 1 and 1000 live workers, and
              the RSS / PSS of one counter worker (also printed by spread).
  activation  per repetition a fresh durod: GET /counter/new-<run>-<k>/ for
              1000 never-seen names, one keep-alive connection, in sequence
              (each a worker spawn), in 10 chunks of 100, each chunk followed
              by 100 bare spawns (from a small process, and the way durod
              spawns from a process with durod's current fd count) and 30
              spawn+ready of bench/bin/spawn_bare (the floors, measured
              alongside); then the same 1000 objects
              again (warm, same connection); then durod's SIGTERM-to-exit
              time with 1000 live workers.
  spawn       bench/bin/spawn_bare alone, in 10 interleaved rounds: bare
              posix_spawn; bare from a process with 4000 more fds open
              (durod's fd table at 1000 workers), spawned the way
              supervisor/spawn.c did before commit 653fbd5 (no CLONE_FILES:
              the child copies the table) and with CLONE_FILES +
              CLOSE_RANGE_UNSHARE (what it does since; 100 of each per
              round); and -r spawn+ready (20 per round).
  nng         bench/bin/nng_rtt alone (nng pair0 blocking and poll, unix).
  storage     bench/bin/storage_ops (libduro linked in, no durod): us per
              KV put / KV get / SQL upsert inside one event of N ops, the
              event's COMMIT with synchronous FULL and NORMAL, opening the
              storage of a new and an existing object. One process per
              repetition, FULL and NORMAL in alternating order.
  incr        one durod with namespaces counter (synchronous FULL) and
              counter_normal (NORMAL), NOBJ objects warmed in each; per
              repetition wrk with bench/objects.lua: GET /counter/o0/ (the
              warm read) and POST /<ns>/o0/incr for both namespaces, at
              -t1 -c1 and -t2 -c16, then the same spread over the NOBJ
              objects; plus admin /health -c1 and bench/bin/nng_rtt. At the
              end every counter's value is read back: the sum per namespace
              must match the POSTs wrk counted (within what was in flight).

Environment: BENCH_REPS (5), BENCH_ACT_REPS (activation's, min(REPS, 3)),
BENCH_DURATION (wrk seconds, 10), BENCH_OBJECTS (1000), DURO_BUILD (build
dir, <repo>/build), BENCH_STORAGE_OPS (storage's N, 10000).
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BUILD = os.path.abspath(os.environ.get("DURO_BUILD", os.path.join(REPO, "build")))
DUROD = os.path.join(BUILD, "durod")
COUNTER = os.path.join(BUILD, "examples", "counter")
# tests/workers/misbehave.c: GET / answers "ok" without touching storage,
# a baseline for the counter, whose GET reads its value from SQLite.
MISBEHAVE = os.path.join(BUILD, "tests", "misbehave")
SPAWN_BARE = os.path.join(HERE, "bin", "spawn_bare")
NNG_RTT = os.path.join(HERE, "bin", "nng_rtt")
STORAGE_OPS = os.path.join(HERE, "bin", "storage_ops")
SPREAD_LUA = os.path.join(HERE, "spread.lua")
OBJECTS_LUA = os.path.join(HERE, "objects.lua")

REPS = int(os.environ.get("BENCH_REPS", "5"))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
NOBJ = int(os.environ.get("BENCH_OBJECTS", "1000"))
# Activation is the slow one (each new object creates its SQLite file with
# several fsyncs): fewer repetitions unless asked.
ACT_REPS = int(os.environ.get("BENCH_ACT_REPS", str(min(REPS, 3))))
STORAGE_N = int(os.environ.get("BENCH_STORAGE_OPS", "10000"))

READY_TIMEOUT = 15.0
IO_TIMEOUT = 30.0
STOP_TIMEOUT = 120.0  # SIGTERM with 1000 live workers: each is told to hibernate


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ stats

def pct(values, p):
    """Nearest-rank percentile (the same definition as bench/stats.h)."""
    v = sorted(values)
    i = max(0, min(len(v) - 1, -(-len(v) * p // 100) - 1))
    return v[int(i)]


def summary(values_us):
    return {"n": len(values_us), "mean_us": statistics.fmean(values_us),
            "p50_us": pct(values_us, 50), "p99_us": pct(values_us, 99)}


# ---------------------------------------------------------------- /proc

def proc_status(pid):
    """/proc/<pid>/status as a dict of strings, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except (FileNotFoundError, ProcessLookupError):
        return None


def kb(status, key):
    return int(status[key].split()[0]) if status and key in status else None


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def children_of(ppid):
    """Live (non-zombie) children of ppid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rindex(")") + 2:].split()
        if int(rest[1]) == ppid and rest[0] not in "ZX":
            out.append(int(name))
    return out


def procs_with_ipc_under(path):
    """Pids of live processes whose environment has DURO_IPC=ipc://<path>...:
    the workers of a durod (or spawn_bare -r) whose run dir is under path."""
    needle = f"DURO_IPC=ipc://{path}".encode()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{name}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in "ZX" and any(e.startswith(needle) for e in env.split(b"\0")):
            out.append(int(name))
    return out


# ------------------------------------------------------------ HTTP client

def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Conn:
    """A minimal HTTP/1.1 keep-alive client (durod answers with
    Content-Length), cheap enough per request not to drown what we time."""

    def __init__(self, port, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def get(self, path):
        """GET path; returns (status, body bytes)."""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = None
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v)
        if length is None:
            raise BenchError(f"GET {path}: response without Content-Length: {head!r}")
        while len(self.buf) < length:
            self._more()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, body

    def _more(self):
        data = self.sock.recv(65536)
        if not data:
            raise BenchError("durod closed the connection")
        self.buf += data


def get_json(conn, path):
    status, body = conn.get(path)
    if status != 200:
        raise BenchError(f"GET {path}: status {status}: {body[:200]!r}")
    return json.loads(body)


# ------------------------------------------------------------------ durod

class Durod:
    """A durod of our own in a fresh temp dir, as a context manager."""

    def __init__(self, tag):
        for exe in (DUROD, COUNTER, MISBEHAVE):
            if not os.access(exe, os.X_OK):
                raise BenchError(f"{exe} missing: run `make all` first")
        self.tmp = tempfile.mkdtemp(prefix=f"duro-bench-{tag}-", dir=os.environ.get("BENCH_TMP"))
        self.run_dir = os.path.join(self.tmp, "run")
        self.proc = None
        self.log_file = None
        self.stopped = False

    def config(self):
        return {
            "listen": f"127.0.0.1:{self.port}",
            "admin_listen": f"127.0.0.1:{self.admin_port}",
            "data_dir": os.path.join(self.tmp, "data"),
            "run_dir": self.run_dir,
            "policy_dir": os.path.join(REPO, "policies"),
            # Far above what a run makes live: no hibernation for capacity.
            "max_active_objects": 5000,
            "namespaces": {
                "counter": {
                    "exec": [COUNTER],
                    # An hour: no worker hibernates for idleness during a run.
                    "idle_timeout_ms": 3600000,
                    "max_queue": 1000,
                    "synchronous": "FULL",  # the default, said for `incr`
                },
                # The same worker, committing without fsync (`incr`).
                "counter_normal": {
                    "exec": [COUNTER],
                    "idle_timeout_ms": 3600000,
                    "max_queue": 1000,
                    "synchronous": "NORMAL",
                },
                "misbehave": {"exec": [MISBEHAVE], "idle_timeout_ms": 3600000},
            },
        }

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, etype, exc, tb):
        if etype is None:
            self.stop()  # raises if durod misbehaved on the way out
        else:
            with contextlib.suppress(Exception):
                self.stop()
            self.cleanup()
        return False

    def start(self):
        # The ports were free when we looked; retry only if one was taken since.
        for attempt in range(3):
            self.port, self.admin_port = free_port(), free_port()
            cfg = os.path.join(self.tmp, "duro.json")
            with open(cfg, "w") as f:
                json.dump(self.config(), f, indent=2)
            self.log_path = os.path.join(self.tmp, "durod.log")
            self.log_file = open(self.log_path, "wb")
            self.proc = subprocess.Popen([DUROD, "-c", cfg], cwd=self.tmp,
                                         stdin=subprocess.DEVNULL,
                                         stdout=self.log_file, stderr=self.log_file)
            # run.sh kills whatever pid it finds here if we die hard.
            with open(os.path.join(self.tmp, "durod.pid"), "w") as f:
                f.write(f"{self.proc.pid}\n")
            r = self.wait_ready()
            if r == "ok":
                return
            if r == "exited" and b"in use" in open(self.log_path, "rb").read() and attempt < 2:
                self.log_file.close()
                continue
            raise BenchError(f"durod not ready ({r}); log:\n{self.log_tail()}")

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited"
            with contextlib.suppress(OSError, BenchError, ValueError, IndexError):
                with Conn(self.admin_port, timeout=2) as c:
                    if c.get("/health")[0] == 200:
                        return "ok"
            time.sleep(0.02)
        return "timeout"

    def log_tail(self, n=20):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def check_alive(self):
        if self.proc.poll() is not None:
            raise BenchError(f"durod died (status {self.proc.returncode}); log:\n{self.log_tail()}")

    def rss_kb(self):
        return kb(proc_status(self.proc.pid), "VmRSS")

    def workers(self):
        return children_of(self.proc.pid)

    def nfds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self):
        """SIGTERM; durod must exit 0 and leave no worker. Returns the
        seconds it took to exit."""
        if self.proc is None or self.stopped:
            return 0.0
        self.stopped = True
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise BenchError(f"durod did not exit within {STOP_TIMEOUT:.0f} s of SIGTERM; killed it")
        took = time.monotonic() - t0
        rc = self.proc.returncode
        # Workers die with durod (PR_SET_PDEATHSIG) and durod reaps them
        # before a clean exit; give stragglers a moment, then insist.
        deadline = time.monotonic() + 15
        left = procs_with_ipc_under(self.run_dir)
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = procs_with_ipc_under(self.run_dir)
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self.cleanup()
        if rc != 0:
            raise BenchError(f"durod exited with status {rc} after SIGTERM")
        if left:
            raise BenchError(f"{len(left)} worker(s) outlived durod: {left[:10]}; killed them")
        return took

    def cleanup(self):
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


class NsDurod(Durod):
    """A Durod with its own namespaces (each runs the counter unless it
    says otherwise) and top-level keys; it can stop and start again on
    the same data, and read its log."""

    def __init__(self, tag, namespaces, top=None):
        super().__init__(tag)
        self.namespaces = namespaces
        self.top = top or {}

    def config(self):
        cfg = super().config()
        cfg["namespaces"] = {
            name: {"exec": [COUNTER], **over} for name, over in self.namespaces.items()}
        cfg.update(self.top)
        return cfg

    def stop_keep(self):
        """SIGTERM and wait for exit 0, keeping the data for a restart."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(STOP_TIMEOUT)
        self.log_file.close()
        self.log_file = None
        if rc != 0:
            raise BenchError(f"durod exited with {rc}")

    def log_lines(self, pattern):
        self.log_file.flush()
        with open(self.log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        return re.findall(pattern, text)


# -------------------------------------------------------------------- wrk

_UNIT = {"us": 1.0, "ms": 1000.0, "s": 1e6}


def wrk(url, threads, conns, seconds, script=None, script_args=(), timeout=None):
    """Run wrk; returns {"rps", "p50_us", "p99_us", "max_us", "requests"}.
    Non-2xx answers or socket errors fail the benchmark. wrk leaves a
    response slower than its --timeout (default 2 s) out of the latency
    histogram and counts it as a timeout error: give a longer timeout
    (seconds) where such stalls are part of what is measured."""
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency"]
    if timeout:
        cmd.append(f"--timeout={timeout}s")
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    if script_args:
        cmd += ["--", *script_args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    out = p.stdout
    if p.returncode != 0:
        raise BenchError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr}{out}")
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        raise BenchError(f"{' '.join(cmd)}: {m.group(1)} non-2xx responses:\n{out}")
    m = re.search(r"Socket errors:.*", out)
    if m:
        raise BenchError(f"{' '.join(cmd)}: {m.group(0)}:\n{out}")
    res = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
           "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    for p_ in ("50", "99"):
        m = re.search(rf"^\s+{p_}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        res[f"p{p_}_us"] = float(m.group(1)) * _UNIT[m.group(2)]
    m = re.search(r"^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)\s", out, re.M)
    if m:
        res["max_us"] = float(m.group(1)) * _UNIT[m.group(2)]
    return res


# ------------------------------------------------------- C micro-benchmarks

def run_c(cmd, timeout=600):
    """Run one of bench/bin/*; returns {bench name: summary dict}."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise BenchError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr}")
    out = {}
    for line in p.stdout.splitlines():
        j = json.loads(line)
        out[j["bench"]] = j
    return out


def nng_rtt(n=20000):
    return run_c([NNG_RTT, "-n", str(n)])


def spawn_floor_samples(n, warmup=20, nfds=0, unshare=False, ready_n=None):
    """n timed spawns of each of: "spawn_bare" (posix_spawn, bare),
    "spawn_bare_fds" (only if nfds: the way supervisor/spawn.c spawns,
    from a process with nfds more fds open, i.e. durod's fd table),
    "spawn_unshare_fds" (only if unshare: the same with CLONE_FILES +
    CLOSE_RANGE_UNSHARE), and spawn+ready ("spawn_ready", "ready_exit",
    "ready_cycle"; ready_n of them, default n). Returns {name: [samples
    in us]}."""
    base = [SPAWN_BARE, "-a", "-n", str(n), "-w", str(warmup)]
    out = run_c(base + [COUNTER])
    if nfds > 0:
        out["spawn_bare_fds"] = run_c(base + ["-s", "clone", "-f", str(nfds), COUNTER])["spawn_bare"]
        if unshare:
            out["spawn_unshare_fds"] = run_c(
                base + ["-s", "unshare", "-f", str(nfds), COUNTER])["spawn_bare"]
    d = tempfile.mkdtemp(prefix="duro-bench-spawn-", dir=os.environ.get("BENCH_TMP"))
    try:
        out.update(run_c([SPAWN_BARE, "-a", "-n", str(ready_n or n), "-w", str(min(warmup, 5)),
                          "-r", "-d", d, COUNTER]))
        left = procs_with_ipc_under(d)
        if left:
            raise BenchError(f"spawn_bare -r left workers behind: {left[:10]}")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return {k: v["samples_us"] for k, v in out.items()}


# ----------------------------------------------------------- benchmarks

def warm_up(d, names, ns="counter"):
    """One GET to each /<ns>/<name>/ (activating it); returns the pids."""
    pids = []
    with Conn(d.port) as c:
        for name in names:
            pids.append(get_json(c, f"/{ns}/{name}/")["pid"])
    return pids


def bench_warm():
    reps = []
    with Durod("warm") as d:
        warm_up(d, ["hot"])
        with Conn(d.port) as c:
            status, body = c.get("/misbehave/hot/")
            if status != 200:
                raise BenchError(f"GET /misbehave/hot/: {status} {body[:200]!r}")
        base = f"http://127.0.0.1:{d.port}"
        for i in range(REPS):
            log(f"warm: repetition {i + 1}/{REPS}")
            r = {}
            r["hot_c16"] = wrk(f"{base}/counter/hot/", 2, 16, DURATION)
            r["hot_c1"] = wrk(f"{base}/counter/hot/", 1, 1, max(1, DURATION // 2))
            r["nostore_c1"] = wrk(f"{base}/misbehave/hot/", 1, 1, max(1, DURATION // 2))
            r["health_c1"] = wrk(f"http://127.0.0.1:{d.admin_port}/health", 1, 1,
                                 max(1, DURATION // 2))
            r.update(nng_rtt())
            d.check_alive()
            reps.append(r)
    return reps


def bench_rss_and_spread(do_spread):
    reps = []
    with Durod("spread") as d:
        rss = {"durod_rss_kb_0": d.rss_kb()}
        warm_up(d, ["hot"])
        rss["durod_rss_kb_1"] = d.rss_kb()
        names = [f"o{k}" for k in range(NOBJ)]
        t0 = time.monotonic()
        pids = warm_up(d, names)
        rss["warm_up_s"] = time.monotonic() - t0
        if len(set(pids)) != NOBJ:
            raise BenchError(f"warm-up: {len(set(pids))} distinct worker pids, expected {NOBJ}")
        live = d.workers()
        if len(live) != NOBJ + 1:
            raise BenchError(f"{len(live)} live workers, expected {NOBJ + 1}")
        rss["live_workers"] = len(live)
        rss["durod_rss_kb_n"] = d.rss_kb()
        rss["durod_threads"] = int(proc_status(d.proc.pid)["Threads"])
        rss["durod_fds"] = d.nfds()
        rss["durod_kb_per_worker"] = (rss["durod_rss_kb_n"] - rss["durod_rss_kb_1"]) / NOBJ
        st = [proc_status(p) for p in pids]
        rss["worker_rss_kb_p50"] = pct([kb(s, "VmRSS") for s in st], 50)
        rss["worker_anon_kb_p50"] = pct([kb(s, "RssAnon") for s in st], 50)
        rss["worker_threads"] = pct([int(s["Threads"]) for s in st], 50)
        pss = [pss_kb(p) for p in pids]
        rss["worker_pss_kb_p50"] = pct(pss, 50)
        rss["workers_pss_total_mb"] = sum(pss) / 1024
        if do_spread:
            base = f"http://127.0.0.1:{d.port}"
            for i in range(REPS):
                log(f"spread: repetition {i + 1}/{REPS}")
                r = {}
                r["hot_c16"] = wrk(f"{base}/counter/hot/", 2, 16, DURATION)
                r["spread_c16"] = wrk(base, 2, 16, DURATION, SPREAD_LUA, [str(NOBJ)])
                d.check_alive()
                reps.append(r)
            # Nothing may have died or restarted under load.
            if sorted(d.workers()) != sorted(live):
                raise BenchError("the set of live workers changed during the spread runs")
    return rss, reps


def bench_activation():
    """Per repetition a fresh durod. The NOBJ activations run in 10 chunks,
    each followed by the same number of bare and spawn+ready spawns, so the
    floors are measured in the same minutes, with the same number of live
    workers on the machine, as the activations they are compared with."""
    reps = []
    chunks = 10 if NOBJ >= 10 else 1
    per = NOBJ // chunks
    for i in range(ACT_REPS):
        log(f"activation: repetition {i + 1}/{ACT_REPS}")
        r = {}
        run = f"{os.getpid()}-{int(time.time())}-{i}"
        names = [f"new-{run}-{k}" for k in range(per * chunks)]
        act, warm, pids = [], [], set()
        floors = {}
        with Durod("act") as d:
            with Conn(d.port) as c:
                for ch in range(chunks):
                    for name in names[ch * per:(ch + 1) * per]:
                        t0 = time.perf_counter_ns()
                        j = get_json(c, f"/counter/{name}/")
                        act.append((time.perf_counter_ns() - t0) / 1000)
                        pids.add(j["pid"])
                    # durod's fd table grows with its live workers; a spawn
                    # that copies it (durod before 653fbd5, -s clone) pays
                    # for its size, one that unshares it (durod since,
                    # -s unshare) should not: both floors use its size now.
                    nfds = d.nfds()
                    fl = spawn_floor_samples(per, warmup=5, nfds=nfds, unshare=True,
                                             ready_n=max(1, per * 3 // 10))
                    for k, v in fl.items():
                        floors.setdefault(k, []).extend(v)
                    if ch == 0:
                        first = {k: statistics.fmean(v) for k, v in fl.items()}
                        first["activation"] = statistics.fmean(act[-per:])
                    d.check_alive()
                last = {k: statistics.fmean(v) for k, v in fl.items()}
                last["activation"] = statistics.fmean(act[-per:])
                r["first_chunk_mean_us"], r["last_chunk_mean_us"] = first, last
                # Every chunk's mean and p50, and the least-squares slope
                # of the means over the chunks: growth with live workers
                # that one noisy chunk at either end would hide or fake.
                cm = [statistics.fmean(act[k * per:(k + 1) * per]) for k in range(chunks)]
                r["chunk_mean_us"] = cm
                r["chunk_p50_us"] = [pct(act[k * per:(k + 1) * per], 50) for k in range(chunks)]
                r["slope_us_per_chunk"] = (statistics.linear_regression(range(chunks), cm).slope
                                           if chunks > 1 else 0.0)
                r["slope_p50_us_per_chunk"] = (
                    statistics.linear_regression(range(chunks), r["chunk_p50_us"]).slope
                    if chunks > 1 else 0.0)
                r["durod_fds"] = nfds
                for name in names:
                    t0 = time.perf_counter_ns()
                    get_json(c, f"/counter/{name}/")
                    warm.append((time.perf_counter_ns() - t0) / 1000)
            if len(pids) != len(names) or len(d.workers()) != len(names):
                raise BenchError(f"{len(pids)} distinct workers answered, {len(d.workers())} "
                                 f"live, for {len(names)} new objects")
            r["activation"] = summary(act)
            r["warm_same_conn"] = summary(warm)
            r["durod_rss_kb"] = d.rss_kb()
            r["shutdown_s"] = d.stop()
        for k, v in floors.items():
            r[k] = summary(v)
        reps.append(r)
    return reps


def bench_spawn():
    reps = []
    for i in range(REPS):
        log(f"spawn: repetition {i + 1}/{REPS}")
        # durod holds about 4 fds per live worker (listener, connection,
        # and nng's receive-fd pipe pair): 4 * NOBJ is its table at NOBJ.
        # 10 rounds of NOBJ/10 spawns of each kind, so that a burst of
        # noise on the machine hits every kind alike.
        samples = {}
        for _ in range(10):
            for k, v in spawn_floor_samples(max(1, NOBJ // 10), warmup=5, nfds=4 * NOBJ,
                                            unshare=True, ready_n=max(1, NOBJ // 50)).items():
                samples.setdefault(k, []).extend(v)
        reps.append({k: summary(v) for k, v in samples.items()})
    return reps


def bench_nng():
    reps = []
    for i in range(REPS):
        log(f"nng: repetition {i + 1}/{REPS}")
        reps.append(nng_rtt())
    return reps


def bench_storage():
    """bench/bin/storage_ops, one process per repetition (so each has a
    process-cold first open), in a fresh directory on the same disk as
    durod's data_dir; FULL first in even repetitions, NORMAL first in odd
    ones, so that drift over the run does not favour one mode."""
    if not os.access(STORAGE_OPS, os.X_OK):
        raise BenchError(f"{STORAGE_OPS} missing (bench/Makefile builds it against libduro)")
    reps = []
    for i in range(REPS):
        log(f"storage: repetition {i + 1}/{REPS}")
        modes = ["FULL", "NORMAL"] if i % 2 == 0 else ["NORMAL", "FULL"]
        d = tempfile.mkdtemp(prefix="duro-bench-storage-", dir=os.environ.get("BENCH_TMP"))
        try:
            out = run_c([STORAGE_OPS, "-n", str(STORAGE_N), "-r", "3", "-m", "100", "-k", "20",
                         "-d", d, *modes])
        finally:
            shutil.rmtree(d, ignore_errors=True)
        # "full.kv_put_op" -> r["full"]["kv_put_op"] (get() splits on dots)
        r = {}
        for name, summ in out.items():
            mode, _, metric = name.partition(".")
            r.setdefault(mode, {})[metric] = summ
        r["order"] = "/".join(modes)
        reps.append(r)
    return reps


INCR_NS = {"full": "counter", "normal": "counter_normal"}
# A commit waits for fdatasync, which on this VM has stalled for over 2 s
# (wrk's default timeout; it then drops the response from the latency
# histogram and the run failed): such stalls are part of what `incr`
# measures, so they go into p99 and max. 30 s is durod's request timeout.
INCR_WRK_TIMEOUT = 30


def counter_total(d, ns, names):
    """The sum of the counters' values of /<ns>/<name>/ over names."""
    total = 0
    with Conn(d.port) as c:
        for name in names:
            total += get_json(c, f"/{ns}/{name}/")["value"]
    return total


def bench_incr():
    """Increments (POST .../incr: the counter's KV get + put, committed
    before the reply) against the warm read (GET), one durod, the same
    repetition. Configurations: one object -c1, one object -c16, NOBJ
    objects -c16. Within a configuration the read runs first, then the
    two namespaces in an order that alternates between repetitions."""
    reps = []
    names = [f"o{k}" for k in range(NOBJ)]
    slack = {ns: 0 for ns in INCR_NS}  # requests that may be in flight at wrk's end
    posts = {ns: 0 for ns in INCR_NS}
    with Durod("incr") as d:
        base = f"http://127.0.0.1:{d.port}"
        start = {}
        for tag, ns in INCR_NS.items():
            pids = warm_up(d, names, ns)
            if len(set(pids)) != NOBJ:
                raise BenchError(f"warm-up {ns}: {len(set(pids))} distinct worker pids, expected {NOBJ}")
            start[tag] = counter_total(d, ns, names)
        live = d.workers()
        if len(live) != 2 * NOBJ:
            raise BenchError(f"{len(live)} live workers, expected {2 * NOBJ}")
        configs = [("c1", 1, 1, 1, max(1, DURATION // 2)),
                   ("c16", 2, 16, 1, DURATION),
                   ("spread", 2, 16, NOBJ, DURATION)]
        for i in range(REPS):
            log(f"incr: repetition {i + 1}/{REPS}")
            r = {}
            order = ["full", "normal"] if i % 2 == 0 else ["normal", "full"]
            r["order"] = "/".join(order)
            for cfg, t, c, n, secs in configs:
                r[f"read_{cfg}"] = wrk(base, t, c, secs, OBJECTS_LUA, ["GET", "counter", str(n)],
                                       timeout=INCR_WRK_TIMEOUT)
                for tag in order:
                    r[f"{tag}_{cfg}"] = wrk(base, t, c, secs, OBJECTS_LUA,
                                            ["POST", INCR_NS[tag], str(n), "incr"],
                                            timeout=INCR_WRK_TIMEOUT)
                    posts[tag] += r[f"{tag}_{cfg}"]["requests"]
                    slack[tag] += c
            r["health_c1"] = wrk(f"http://127.0.0.1:{d.admin_port}/health", 1, 1,
                                 max(1, DURATION // 2))
            r.update(nng_rtt())
            d.check_alive()
            reps.append(r)
        if sorted(d.workers()) != sorted(live):
            raise BenchError("the set of live workers changed during the incr runs")
        # Every increment wrk counted is in the counters, and at most the
        # requests in flight when a wrk run stopped are there besides.
        for tag, ns in INCR_NS.items():
            got = counter_total(d, ns, names) - start[tag]
            log(f"incr: {ns}: counters rose by {got}, wrk counted {posts[tag]} POSTs")
            if not posts[tag] <= got <= posts[tag] + slack[tag]:
                raise BenchError(f"{ns}: the counters rose by {got}, but wrk counted "
                                 f"{posts[tag]} POSTs (+ up to {slack[tag]} in flight)")
    return reps


# ---------------------------------------------------------------- report

def get(r, path):
    for k in path.split("."):
        r = r[k]
    return r


def table(title, reps, rows):
    """rows: (label, fn(rep) -> number, format). Prints each repetition and
    the median; returns {label: median}."""
    print(f"\n== {title} ({len(reps)} repetitions; median last)")
    medians = {}
    for label, fn, fmt in rows:
        vals = [fn(r) for r in reps]
        med = statistics.median(vals)
        medians[label] = med
        print(f"  {label:<44} " + " ".join(format(v, fmt).rjust(9) for v in vals)
              + "  | " + format(med, fmt).rjust(9))
    sys.stdout.flush()
    return medians


def f(path):
    return lambda r: get(r, path)


def ratio(a, b):
    return lambda r: get(r, a) / get(r, b)


def report_warm(reps):
    return table("warm: one object, /counter/hot/", reps, [
        ("wrk -t2 -c16 req/s", f("hot_c16.rps"), ".0f"),
        ("wrk -t2 -c16 p50 us", f("hot_c16.p50_us"), ".0f"),
        ("wrk -t2 -c16 p99 us", f("hot_c16.p99_us"), ".0f"),
        ("wrk -t1 -c1 req/s", f("hot_c1.rps"), ".0f"),
        ("wrk -t1 -c1 p50 us", f("hot_c1.p50_us"), ".0f"),
        ("wrk -t1 -c1 p99 us", f("hot_c1.p99_us"), ".0f"),
        ("no-storage worker (misbehave GET /) -c1 p50 us", f("nostore_c1.p50_us"), ".0f"),
        ("no-storage worker -c1 p99 us", f("nostore_c1.p99_us"), ".0f"),
        ("admin /health -c1 req/s", f("health_c1.rps"), ".0f"),
        ("admin /health -c1 p50 us", f("health_c1.p50_us"), ".0f"),
        ("nng pair0 RTT (poll, like durod) p50 us", f("nng_poll.p50_us"), ".1f"),
        ("nng pair0 RTT (poll) p99 us", f("nng_poll.p99_us"), ".1f"),
        ("nng pair0 RTT (blocking) p50 us", f("nng_block.p50_us"), ".1f"),
        ("unix socketpair RTT p50 us", f("unix.p50_us"), ".1f"),
        ("ratio: hot -c1 p50 / nng poll RTT p50", ratio("hot_c1.p50_us", "nng_poll.p50_us"), ".2f"),
        ("ratio: hot -c1 p50 / /health -c1 p50", ratio("hot_c1.p50_us", "health_c1.p50_us"), ".2f"),
        ("ratio: no-storage -c1 p50 / nng poll RTT p50", ratio("nostore_c1.p50_us", "nng_poll.p50_us"), ".2f"),
        ("diff: counter - no-storage worker, -c1 p50 us",
         lambda r: r["hot_c1"]["p50_us"] - r["nostore_c1"]["p50_us"], ".0f"),
        ("diff: hot -c1 p50 - /health p50 - nng p50 us",
         lambda r: r["hot_c1"]["p50_us"] - r["health_c1"]["p50_us"] - r["nng_poll"]["p50_us"], ".0f"),
        ("ratio: nng poll p50 / unix p50", ratio("nng_poll.p50_us", "unix.p50_us"), ".2f"),
    ])


def report_spread(reps):
    return table(f"spread: {NOBJ} objects (spread.lua) vs one object, same repetition", reps, [
        ("one object  -t2 -c16 req/s", f("hot_c16.rps"), ".0f"),
        ("one object  -t2 -c16 p50 us", f("hot_c16.p50_us"), ".0f"),
        ("one object  -t2 -c16 p99 us", f("hot_c16.p99_us"), ".0f"),
        (f"{NOBJ} objects -t2 -c16 req/s", f("spread_c16.rps"), ".0f"),
        (f"{NOBJ} objects -t2 -c16 p50 us", f("spread_c16.p50_us"), ".0f"),
        (f"{NOBJ} objects -t2 -c16 p99 us", f("spread_c16.p99_us"), ".0f"),
        ("ratio: spread req/s / one-object req/s", ratio("spread_c16.rps", "hot_c16.rps"), ".2f"),
    ])


def report_rss(rss):
    print(f"\n== rss: durod and workers with {rss['live_workers']} live workers (one sample)")
    for k, v in rss.items():
        print(f"  {k:<44} {v:.1f}" if isinstance(v, float) else f"  {k:<44} {v}")
    sys.stdout.flush()
    return rss


def report_activation(reps):
    medians = _report_activation(reps)
    if all("chunk_mean_us" in r for r in reps):
        print(f"  activation mean per chunk of {NOBJ // 10} new objects (us), each repetition:")
        for r in reps:
            print("  " + " ".join(f"{v:7.0f}" for v in r["chunk_mean_us"]))
        sys.stdout.flush()
    return medians


def _report_activation(reps):
    return table(f"activation: first request to {NOBJ} new objects, one connection", reps, [
        ("activation mean us", f("activation.mean_us"), ".0f"),
        ("activation p50 us", f("activation.p50_us"), ".0f"),
        ("activation p99 us", f("activation.p99_us"), ".0f"),
        ("warm (same conn, same objects) mean us", f("warm_same_conn.mean_us"), ".0f"),
        ("warm p50 us", f("warm_same_conn.p50_us"), ".0f"),
        ("warm p99 us", f("warm_same_conn.p99_us"), ".0f"),
        ("spawn_bare (spawn+exit+reap) mean us", f("spawn_bare.mean_us"), ".0f"),
        ("spawn_bare p99 us", f("spawn_bare.p99_us"), ".0f"),
        ("spawn_bare, old clone way, durod's fds, mean us", f("spawn_bare_fds.mean_us"), ".0f"),
        ("spawn_bare, CLONE_FILES+UNSHARE, durod's fds, mean", f("spawn_unshare_fds.mean_us"), ".0f"),
        ("spawn+ready (listen..ready) mean us", f("spawn_ready.mean_us"), ".0f"),
        ("spawn+ready p99 us", f("spawn_ready.p99_us"), ".0f"),
        ("ready->exit+reap (close IPC) mean us", f("ready_exit.mean_us"), ".0f"),
        (f"durod RSS with {NOBJ} workers MB", lambda r: r["durod_rss_kb"] / 1024, ".1f"),
        (f"durod open fds with {NOBJ} workers", f("durod_fds"), ".0f"),
        (f"durod SIGTERM->exit with {NOBJ} workers s", f("shutdown_s"), ".2f"),
        ("ratio: activation mean / warm mean", ratio("activation.mean_us", "warm_same_conn.mean_us"), ".1f"),
        ("ratio: activation mean / spawn+ready mean", ratio("activation.mean_us", "spawn_ready.mean_us"), ".2f"),
        ("ratio: activation p50 / spawn+ready p50", ratio("activation.p50_us", "spawn_ready.p50_us"), ".2f"),
        ("ratio: spawn+ready mean / spawn_bare mean", ratio("spawn_ready.mean_us", "spawn_bare.mean_us"), ".2f"),
        ("diff: activation - warm - spawn+ready mean us",
         lambda r: r["activation"]["mean_us"] - r["warm_same_conn"]["mean_us"] - r["spawn_ready"]["mean_us"], ".0f"),
        (f"first chunk (0-{NOBJ // 10} live): activation mean us", f("first_chunk_mean_us.activation"), ".0f"),
        (f"last chunk (~{NOBJ} live): activation mean us", f("last_chunk_mean_us.activation"), ".0f"),
        ("first chunk: spawn+ready mean us", f("first_chunk_mean_us.spawn_ready"), ".0f"),
        ("last chunk: spawn+ready mean us", f("last_chunk_mean_us.spawn_ready"), ".0f"),
        ("first chunk: old clone way, durod's fds, mean us", f("first_chunk_mean_us.spawn_bare_fds"), ".0f"),
        ("last chunk: old clone way, durod's fds, mean us", f("last_chunk_mean_us.spawn_bare_fds"), ".0f"),
        ("last chunk: unshare way, durod's fds, mean us", f("last_chunk_mean_us.spawn_unshare_fds"), ".0f"),
        ("last chunk: spawn_bare, few fds, mean us", f("last_chunk_mean_us.spawn_bare"), ".0f"),
        ("growth first->last chunk: activation us",
         lambda r: r["last_chunk_mean_us"]["activation"] - r["first_chunk_mean_us"]["activation"], ".0f"),
        (f"slope of chunk means, us per {NOBJ // 10} more live",
         lambda r: r.get("slope_us_per_chunk", float("nan")), ".0f"),
        (f"slope of chunk p50s, us per {NOBJ // 10} more live",
         lambda r: r.get("slope_p50_us_per_chunk", float("nan")), ".0f"),
        ("growth first->last chunk: spawn+ready us",
         lambda r: r["last_chunk_mean_us"]["spawn_ready"] - r["first_chunk_mean_us"]["spawn_ready"], ".0f"),
        ("last chunk: old clone way, durod's fds - few fds us",
         lambda r: r["last_chunk_mean_us"]["spawn_bare_fds"] - r["last_chunk_mean_us"]["spawn_bare"], ".0f"),
        ("last chunk: unshare way, durod's fds - few fds us",
         lambda r: r["last_chunk_mean_us"]["spawn_unshare_fds"] - r["last_chunk_mean_us"]["spawn_bare"], ".0f"),
    ])


def report_spawn(reps):
    return table(f"spawn: {NOBJ} spawns of the counter worker", reps, [
        ("spawn_bare mean us", f("spawn_bare.mean_us"), ".0f"),
        ("spawn_bare p50 us", f("spawn_bare.p50_us"), ".0f"),
        ("spawn_bare p99 us", f("spawn_bare.p99_us"), ".0f"),
        (f"+{4 * NOBJ} fds, old clone+close_range, mean us", f("spawn_bare_fds.mean_us"), ".0f"),
        (f"+{4 * NOBJ} fds, old clone+close_range, p50 us", f("spawn_bare_fds.p50_us"), ".0f"),
        (f"+{4 * NOBJ} fds, CLONE_FILES+UNSHARE (now), mean", f("spawn_unshare_fds.mean_us"), ".0f"),
        (f"+{4 * NOBJ} fds, CLONE_FILES+UNSHARE (now), p50", f("spawn_unshare_fds.p50_us"), ".0f"),
        ("spawn+ready mean us", f("spawn_ready.mean_us"), ".0f"),
        ("spawn+ready p50 us", f("spawn_ready.p50_us"), ".0f"),
        ("spawn+ready p99 us", f("spawn_ready.p99_us"), ".0f"),
        ("ready->exit+reap mean us", f("ready_exit.mean_us"), ".0f"),
        ("ratio: spawn+ready mean / spawn_bare mean", ratio("spawn_ready.mean_us", "spawn_bare.mean_us"), ".2f"),
        (f"diff: +{4 * NOBJ} fds old clone - bare, p50 us",
         lambda r: r["spawn_bare_fds"]["p50_us"] - r["spawn_bare"]["p50_us"], ".0f"),
        (f"diff: +{4 * NOBJ} fds unshare - bare, p50 us",
         lambda r: r["spawn_unshare_fds"]["p50_us"] - r["spawn_bare"]["p50_us"], ".0f"),
    ])


def report_nng(reps):
    return table("nng: round trip of a 100-byte message between two processes", reps, [
        ("nng pair0 blocking p50 us", f("nng_block.p50_us"), ".1f"),
        ("nng pair0 blocking p99 us", f("nng_block.p99_us"), ".1f"),
        ("nng pair0 poll p50 us", f("nng_poll.p50_us"), ".1f"),
        ("nng pair0 poll p99 us", f("nng_poll.p99_us"), ".1f"),
        ("unix socketpair p50 us", f("unix.p50_us"), ".1f"),
        ("unix socketpair p99 us", f("unix.p99_us"), ".1f"),
        ("ratio: nng poll p50 / unix p50", ratio("nng_poll.p50_us", "unix.p50_us"), ".2f"),
    ])


def report_storage(reps):
    def p50(name):
        return f(f"{name}.p50_us")

    def diff(a, b):
        return lambda r: get(r, f"{a}.p50_us") - get(r, f"{b}.p50_us")

    def rat(fa, fb):
        return lambda r: fa(r) / fb(r)

    rows = []
    for m in ("full", "normal"):
        M = m.upper()
        rows += [
            (f"{M}: kv_put us/op (update, {STORAGE_N}/event)", p50(f"{m}.kv_put_op"), ".2f"),
            (f"{M}: kv_put us/op, first event (insert)", p50(f"{m}.kv_put_first_op"), ".2f"),
            (f"{M}: kv_get us/op", p50(f"{m}.kv_get_op"), ".2f"),
            (f"{M}: sql_upsert us/op (update)", p50(f"{m}.sql_upsert_op"), ".2f"),
            (f"{M}: sql_upsert us/op, first event (insert)", p50(f"{m}.sql_upsert_first_op"), ".2f"),
            (f"{M}: noop event send->reply p50 us", p50(f"{m}.noop_rtt"), ".0f"),
            (f"{M}: incr event send->reply p50 us", p50(f"{m}.incr_rtt"), ".0f"),
            (f"{M}: incr event handler end->reply p50 us", p50(f"{m}.incr_tail"), ".0f"),
            (f"{M}: noop event handler end->reply p50 us", p50(f"{m}.noop_tail"), ".0f"),
            (f"{M}: COMMIT, 1 small write (incr-noop tail)", diff(f"{m}.incr_tail", f"{m}.noop_tail"), ".0f"),
            (f"{M}: COMMIT via duro_transaction (incr-get)", diff(f"{m}.txn_incr", f"{m}.txn_get"), ".0f"),
            (f"{M}: COMMIT, {STORAGE_N} kv_put (tail-noop tail)",
             diff(f"{m}.kv_put_evt_tail", f"{m}.noop_tail"), ".0f"),
            (f"{M}: COMMIT, {STORAGE_N} sql_upsert (tail-noop)",
             diff(f"{m}.sql_upsert_evt_tail", f"{m}.noop_tail"), ".0f"),
            (f"{M}: COMMIT, {STORAGE_N} kv_get, read-only (tail-noop)",
             diff(f"{m}.kv_get_evt_tail", f"{m}.noop_tail"), ".0f"),
            (f"{M}: duro_open, new object p50 us", p50(f"{m}.open_new"), ".0f"),
            (f"{M}: duro_open, existing object p50 us", p50(f"{m}.open_existing"), ".0f"),
            (f"{M}: storage only (duro_storage_open), new", p50(f"{m}.storage_open_new"), ".0f"),
            (f"{M}: storage only, existing", p50(f"{m}.storage_open_existing"), ".0f"),
            (f"{M}: duro_close, new empty object p50 us", p50(f"{m}.close_new"), ".0f"),
            (f"{M}: duro_close, existing, nothing written", p50(f"{m}.close_existing"), ".0f"),
            (f"{M}: duro_close after the events (1 sample)", p50(f"{m}.close_loaded"), ".0f"),
        ]
    commit = {m: diff(f"{m}.incr_tail", f"{m}.noop_tail") for m in ("full", "normal")}
    rows += [
        ("process's first duro_open (new, + nng init)", p50("process.open_first"), ".0f"),
        ("ratio: COMMIT 1 write FULL / NORMAL", rat(commit["full"], commit["normal"]), ".1f"),
        ("diff: COMMIT 1 write FULL - NORMAL us",
         lambda r: commit["full"](r) - commit["normal"](r), ".0f"),
        ("ratio: incr event rtt FULL / NORMAL", ratio("full.incr_rtt.p50_us", "normal.incr_rtt.p50_us"), ".2f"),
        ("ratio: FULL open new / open existing",
         ratio("full.open_new.p50_us", "full.open_existing.p50_us"), ".1f"),
        ("ratio: open new FULL / NORMAL",
         ratio("full.open_new.p50_us", "normal.open_new.p50_us"), ".2f"),
        ("ratio: FULL sql_upsert / kv_put per op",
         ratio("full.sql_upsert_op.p50_us", "full.kv_put_op.p50_us"), ".2f"),
        ("ratio: FULL kv_put / kv_get per op",
         ratio("full.kv_put_op.p50_us", "full.kv_get_op.p50_us"), ".2f"),
    ]
    return table(f"storage: libduro through the real worker loop, {STORAGE_N} ops/event "
                 "(per-op: median of 3 events; others: p50 of the rep's samples)", reps, rows)


def report_incr(reps):
    rows = []
    for cfg, what in (("c1", "one object -t1 -c1"), ("c16", "one object -t2 -c16"),
                      ("spread", f"{NOBJ} objects -t2 -c16")):
        for tag, label in (("read", "GET (read)"), ("full", "POST incr FULL"),
                           ("normal", "POST incr NORMAL")):
            k = f"{tag}_{cfg}"
            rows += [(f"{what}: {label} req/s", f(f"{k}.rps"), ".0f"),
                     (f"{what}: {label} p50 us", f(f"{k}.p50_us"), ".0f"),
                     (f"{what}: {label} p99 us", f(f"{k}.p99_us"), ".0f"),
                     (f"{what}: {label} max us", f(f"{k}.max_us"), ".0f")]
        rows += [
            (f"{what}: ratio FULL/read p50", ratio(f"full_{cfg}.p50_us", f"read_{cfg}.p50_us"), ".2f"),
            (f"{what}: ratio NORMAL/read p50", ratio(f"normal_{cfg}.p50_us", f"read_{cfg}.p50_us"), ".2f"),
            (f"{what}: ratio FULL/NORMAL p50", ratio(f"full_{cfg}.p50_us", f"normal_{cfg}.p50_us"), ".2f"),
            (f"{what}: ratio read/FULL req/s", ratio(f"read_{cfg}.rps", f"full_{cfg}.rps"), ".2f"),
            (f"{what}: ratio NORMAL/FULL req/s", ratio(f"normal_{cfg}.rps", f"full_{cfg}.rps"), ".2f"),
        ]
    rows += [
        ("admin /health -c1 p50 us", f("health_c1.p50_us"), ".0f"),
        ("nng pair0 RTT (poll) p50 us", f("nng_poll.p50_us"), ".0f"),
        ("diff: FULL - NORMAL, -c1 p50 us (~fsync)",
         lambda r: r["full_c1"]["p50_us"] - r["normal_c1"]["p50_us"], ".0f"),
        ("diff: NORMAL - read, -c1 p50 us (write+commit)",
         lambda r: r["normal_c1"]["p50_us"] - r["read_c1"]["p50_us"], ".0f"),
        ("diff: read -c1 p50 - /health - nng RTT us",
         lambda r: r["read_c1"]["p50_us"] - r["health_c1"]["p50_us"] - r["nng_poll"]["p50_us"], ".0f"),
    ]
    return table("incr: POST /<ns>/<obj>/incr (FULL: counter, NORMAL: counter_normal) "
                 "vs GET /counter/<obj>/, same repetition", reps, rows)


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("which", nargs="?", default="all",
                    choices=["warm", "spread", "rss", "activation", "spawn", "nng",
                             "storage", "incr", "all"])
    ap.add_argument("--json", help="also write every raw number to this file")
    args = ap.parse_args()
    # SIGTERM (e.g. from run.sh's trap): unwind like ^C, so every durod
    # is stopped by its context manager.
    signal.signal(signal.SIGTERM, _on_sigterm)

    which = (["warm", "spread", "activation", "spawn", "nng", "storage", "incr"]
             if args.which == "all" else [args.which])
    print(f"duro bench: {' '.join(which)}; {REPS} repetitions, wrk {DURATION} s, {NOBJ} objects")
    raw, medians = {}, {}
    for b in which:
        t0 = time.monotonic()
        if b == "warm":
            raw[b] = bench_warm()
            medians[b] = report_warm(raw[b])
        elif b in ("spread", "rss"):
            rss, reps = bench_rss_and_spread(b == "spread")
            raw["rss"] = rss
            medians["rss"] = report_rss(rss)
            if reps:
                raw[b] = reps
                medians[b] = report_spread(reps)
        elif b == "activation":
            raw[b] = bench_activation()
            medians[b] = report_activation(raw[b])
        elif b == "spawn":
            raw[b] = bench_spawn()
            medians[b] = report_spawn(raw[b])
        elif b == "nng":
            raw[b] = bench_nng()
            medians[b] = report_nng(raw[b])
        elif b == "storage":
            raw[b] = bench_storage()
            medians[b] = report_storage(raw[b])
        elif b == "incr":
            raw[b] = bench_incr()
            medians[b] = report_incr(raw[b])
        log(f"{b}: done in {time.monotonic() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"raw": raw, "medians": medians}, fh, indent=1)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as e:
        print(f"bench: interrupted ({e}); durod stopped", file=sys.stderr)
        sys.exit(130)
