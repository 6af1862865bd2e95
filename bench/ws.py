#!/usr/bin/env python3
"""
ws.py — WebSocket benchmarks (bench/run.sh ws; see bench/RESULTS.md).

    python3 bench/ws.py [--json FILE]

The worker is tests/workers/wsecho.c: GET /ws?tags=... accepts (first frame
"welcome <conn>"), `echo X` answers X to the sender, `bcast TAG X` sends X
to every connection tagged TAG; every handled message also adds one to a
counter in the object's SQLite storage (one write transaction per message).
Its namespaces here commit with "synchronous": "NORMAL" (no fsync per
message) unless said otherwise. Per repetition (BENCH_REPS, 5), one durod
for parts 1-3 and a fresh one for part 4 (bench.py's NsDurod: its own temp
dir, free 127.0.0.1 ports):

  fan-out   one object ("room") with FAN (BENCH_WS_FANOUT, 1000) receiving
            connections tagged "room" plus one sender, tagged "room" too.
            The sender sends MSGS (BENCH_WS_MESSAGES, 1500) text messages
            `bcast room <32-byte payload>`, keeping WINDOW (16) outstanding:
            one counts as complete when the sender's own copy arrives.
            Measured: frames delivered per second (MSGS x (FAN+1) / time
            from the first send until the last receiver has the last
            message), broadcasts per second (MSGS / time until the sender
            has its last copy: the worker's rate), and the CPU seconds
            durod, the worker and this client used meanwhile. Then the
            same with a namespace committing with "synchronous": "FULL"
            (an fsync per broadcast; BENCH_WS_FULL_MESSAGES, 300). And the
            same with NORMAL in a room of 2 connections (one receiver and
            the sender; BENCH_WS_SMALL_MESSAGES, 3000): the per-object
            message rate when the fan-out costs next to nothing.
            The connections are opened in parallel batches (every upgrade
            must answer 101 with the right Sec-WebSocket-Accept, then the
            welcome frame) and dropped at the end; the room's worker must
            then record all FAN+1 ws_close events (its GET /closes).
  latency   a second object with two connections A and B, both tagged
            "room": A sends `bcast room t=<ns>`, B's receipt is timed (A's
            own copy is read before the next send; one outstanding), LAT_N
            (BENCH_WS_LAT_N, 2000) times; then `echo x` round trips on A;
            then GET /<ns>/pair/pid on a keep-alive HTTP connection to the
            same object (the worker hop without storage, for comparison);
            then the auto-response round trip (durod answers without an
            event: the floor of a WebSocket round trip through durod).
            The first 50 of each are left out (warm-up). Also the CPU time
            durod and the object's worker used per echo, HTTP request and
            auto-response (/proc/<pid>/stat, 10 ms ticks over ~2000).
  wake      a namespace with idle_timeout_ms 200: WAKE_N (30) times, wait
            until the object's worker is gone (admin GET /objects/<ns>/
            .name/<room> says "hibernated" and durod has no child for it),
            then time `echo x` -> reply on the connection durod kept open
            (spawn, sandbox, the worker's SQLite open, the event); and
            durod's own "ready in N ms" for each of those workers (its
            log: spawn to the worker's ready message). Beside it, the warm
            echo of the latency part. With 30 samples, p99 is the maximum.
  memory    a fresh durod, namespace with idle_timeout_ms 500: warm-up (one
            connection to each of ROOMS (100) objects, an echo, closed; all
            workers hibernated), durod's VmRSS; then MEM_CONNS
            (BENCH_WS_MEM_CONNS, 10,000) connections spread over the ROOMS
            objects, all workers hibernated again, VmRSS: bytes per
            connection = the difference / MEM_CONNS. Kernel socket buffers
            are not in VmRSS. Then all are dropped, and the RSS and fd
            count once the ws_close events are handled are recorded; and
            the same round again (a leak check: glibc keeps freed heap, so
            RSS does not fall, but a second round must reuse it).

Python's own ceiling in the fan-out: the client's CPU time over the run
(near 1.0 of elapsed = the client is the limit) and the rate at which the
same frame parser takes pre-recorded bytes cut into chunks of the size
recv() actually returned.

Environment: BENCH_REPS (5), BENCH_WS_FANOUT (1000), BENCH_WS_MESSAGES
(1500), BENCH_WS_FULL_MESSAGES (300; 0 skips FULL), BENCH_WS_SMALL_MESSAGES
(3000; 0 skips it), BENCH_WS_LAT_N (2000),
BENCH_WS_WAKE_N (30), BENCH_WS_MEM_CONNS (10000), BENCH_WS_ROOMS (100),
DURO_BUILD.
"""

import argparse
import base64
import json
import os
import resource
import selectors
import socket
import statistics
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
import bench  # noqa: E402
from bench import BenchError, Conn, NsDurod, log  # noqa: E402
import wsclient  # noqa: E402

WSECHO = os.path.join(bench.BUILD, "tests", "wsecho")

FAN = int(os.environ.get("BENCH_WS_FANOUT", "1000"))
MSGS = int(os.environ.get("BENCH_WS_MESSAGES", "1500"))
FULL_MSGS = int(os.environ.get("BENCH_WS_FULL_MESSAGES", "300"))
SMALL_MSGS = int(os.environ.get("BENCH_WS_SMALL_MESSAGES", "3000"))
WINDOW = 16
LAT_N = int(os.environ.get("BENCH_WS_LAT_N", "2000"))
WAKE_N = int(os.environ.get("BENCH_WS_WAKE_N", "30"))
MEM_CONNS = int(os.environ.get("BENCH_WS_MEM_CONNS", "10000"))
ROOMS = int(os.environ.get("BENCH_WS_ROOMS", "100"))
BATCH = 500          # upgrades in flight at once
IO_TIMEOUT = 30.0    # no progress for this long: the benchmark fails
PAYLOAD = b"x" * 32  # the broadcast payload


def ns_cfg(**over):
    return {"exec": [WSECHO], "max_queue": 1000, "synchronous": "NORMAL",
            "idle_timeout_ms": 3600000, **over}


# ------------------------------------------------------------ frames

def client_frame(text):
    """A masked text frame (clients must mask; any key will do)."""
    return wsclient.frame_bytes(wsclient.OP_TEXT, text.encode())


def count_frames(buf, pos):
    """Complete server frames in buf from pos: (count, new pos). Server
    frames are unmasked; only data frames are expected here."""
    n = len(buf)
    count = 0
    while n - pos >= 2:
        b0, ln = buf[pos], buf[pos + 1]
        if ln < 126:
            end = pos + 2 + ln
        elif ln == 126:
            if n - pos < 4:
                break
            end = pos + 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
        else:
            if n - pos < 10:
                break
            end = pos + 10 + int.from_bytes(buf[pos + 2:pos + 10], "big")
        if end > n:
            break
        if b0 & 0x0F >= 8:
            raise BenchError(f"a control frame (opcode {b0 & 0x0F}) in the fan-out: "
                             f"{bytes(buf[pos:end])!r}")
        count += 1
        pos = end
    return count, pos


def next_frame(buf, pos):
    """One complete server frame: (opcode, payload, new pos) or None."""
    n = len(buf)
    if n - pos < 2:
        return None
    ln, hl = buf[pos + 1] & 0x7F, 2
    if ln == 126:
        if n - pos < 4:
            return None
        ln, hl = struct.unpack_from("!H", buf, pos + 2)[0], 4
    elif ln == 127:
        if n - pos < 10:
            return None
        ln, hl = struct.unpack_from("!Q", buf, pos + 2)[0], 10
    end = pos + hl + ln
    if end > n:
        return None
    return buf[pos] & 0x0F, bytes(buf[pos + hl:end]), end


class Reader:
    """A blocking socket with the bytes read past the last frame."""

    def __init__(self, sock, rest=b""):
        self.sock = sock
        self.buf = rest
        self.pos = 0

    def recv(self, timeout=IO_TIMEOUT):
        """The next message's payload (text or binary); a close fails."""
        while True:
            f = next_frame(self.buf, self.pos)
            if f is not None:
                op, payload, self.pos = f
                if op == wsclient.OP_CLOSE:
                    raise BenchError(f"durod closed a connection: {payload!r}")
                if op in (wsclient.OP_PING, wsclient.OP_PONG):
                    continue
                return payload
            self.sock.settimeout(timeout)
            data = self.sock.recv(65536)
            if not data:
                raise BenchError("durod closed a connection (EOF)")
            self.buf = self.buf[self.pos:] + data
            self.pos = 0

    def send(self, text):
        self.sock.sendall(client_frame(text))


# ------------------------------------------------------------ opening

def open_many(port, paths):
    """Open a WebSocket on each path, BATCH upgrades in flight at a time.
    Every answer must be 101 with the right Sec-WebSocket-Accept, followed
    by the welcome frame. Returns [(socket, conn id)], in order."""
    out = []
    for start in range(0, len(paths), BATCH):
        out += _open_batch(port, paths[start:start + BATCH])
    return out


def _open_batch(port, paths):
    sel = selectors.DefaultSelector()
    state = []
    try:
        for i, path in enumerate(paths):
            key = base64.b64encode(os.urandom(16)).decode()
            s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                       f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
            s.setblocking(False)
            state.append({"sock": s, "key": key, "buf": b"", "head": None, "conn": None})
            sel.register(s, selectors.EVENT_READ, i)
        left = len(paths)
        while left:
            events = sel.select(IO_TIMEOUT)
            if not events:
                raise BenchError(f"upgrades: {left} of {len(paths)} got no answer "
                                 f"(and welcome) within {IO_TIMEOUT:.0f} s")
            for k, _ in events:
                st = state[k.data]
                data = st["sock"].recv(65536)
                if not data:
                    raise BenchError(f"GET {paths[k.data]} (upgrade): durod closed: {st['buf']!r}")
                st["buf"] += data
                if st["head"] is None:
                    if b"\r\n\r\n" not in st["buf"]:
                        continue
                    head, st["buf"] = st["buf"].split(b"\r\n\r\n", 1)
                    st["head"] = head
                    _check_101(paths[k.data], head, st["key"])
                f = next_frame(st["buf"], 0)
                if f is None:
                    continue
                op, payload, end = f
                if op != wsclient.OP_TEXT or not payload.startswith(b"welcome "):
                    raise BenchError(f"GET {paths[k.data]}: first frame {op} {payload!r}")
                if end != len(st["buf"]):
                    raise BenchError(f"GET {paths[k.data]}: more than the welcome: {st['buf']!r}")
                st["conn"] = int(payload.split()[1])
                sel.unregister(st["sock"])
                st["sock"].setblocking(True)
                left -= 1
    except BaseException:
        for st in state:
            st["sock"].close()
        raise
    finally:
        sel.close()
    return [(st["sock"], st["conn"]) for st in state]


def _check_101(path, head, key):
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split()
    if len(status) < 2 or status[1] != "101":
        raise BenchError(f"GET {path} (upgrade): {lines[0]!r}, not 101")
    hdrs = {ln.partition(":")[0].strip().lower(): ln.partition(":")[2].strip()
            for ln in lines[1:]}
    if hdrs.get("sec-websocket-accept") != wsclient.accept_for(key):
        raise BenchError(f"GET {path}: bad Sec-WebSocket-Accept: {head!r}")


def close_all(socks):
    for s in socks:
        s.close()


# ------------------------------------------------------------ /proc

def cpu_s(pid):
    """utime + stime of pid in seconds (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(what, pred, timeout=60.0, every=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def object_state(d, ns, name):
    with Conn(d.admin_port) as a:
        status, body = a.get(f"/objects/{ns}/.name/{name}")
    if status != 200:
        raise BenchError(f"admin GET /objects/{ns}/.name/{name}: {status} {body[:200]!r}")
    return json.loads(body)


def worker_pid(d, ns, room):
    with Conn(d.port) as c:
        status, body = c.get(f"/{ns}/{room}/pid")
    if status != 200:
        raise BenchError(f"GET /{ns}/{room}/pid: {status}")
    return int(body)


def closes_seen(d, ns, room):
    with Conn(d.port) as c:
        status, body = c.get(f"/{ns}/{room}/closes")
    if status != 200:
        raise BenchError(f"GET /{ns}/{room}/closes: {status}")
    return body.count(b"\n")


# ------------------------------------------------------------ 1. fan-out

def fanout(d, ns, msgs, fan, room):
    """fan receivers and one sender in ns/room, msgs broadcasts."""
    paths = [f"/{ns}/{room}/ws?tags=room"] * (fan + 1)
    t = time.perf_counter()
    conns = open_many(d.port, paths)
    open_s = time.perf_counter() - t
    socks = [s for s, _ in conns]
    sender = fan  # the last one opened
    try:
        wpid = worker_pid(d, ns, room)
        res = _fanout_run(d, wpid, socks, sender, msgs)
    finally:
        close_all(socks)
    res["open_s"] = open_s
    # Every dropped connection must reach the worker as a ws_close event.
    wait_for(f"{fan + 1} ws_close events in {ns}/{room}",
             lambda: closes_seen(d, ns, room) >= fan + 1, timeout=120, every=0.2)
    d.check_alive()
    return res


def _fanout_run(d, wpid, socks, sender, msgs):
    n = len(socks)
    frame = client_frame("bcast room " + PAYLOAD.decode())
    # Blocking sockets: recv only after select says readable, and the
    # sender's few bytes always fit its send buffer.
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    counts = [0] * n
    rest = [b""] * n
    done = 0
    recvs = 0
    nbytes = 0
    sent = 0
    t_sender = t_last = None
    d0, w0 = cpu_s(d.proc.pid), cpu_s(wpid)
    c0 = time.process_time()
    t0 = time.perf_counter()
    first = min(WINDOW, msgs)
    socks[sender].sendall(frame * first)
    sent = first
    try:
        while done < n:
            events = sel.select(IO_TIMEOUT)
            if not events:
                d.check_alive()
                raise BenchError(
                    f"fan-out stalled: {done} of {n} connections complete, sender "
                    f"{counts[sender]}/{msgs}, least {min(counts)}, sent {sent}")
            for k, _ in events:
                i = k.data
                data = k.fileobj.recv(262144)
                if not data:
                    raise BenchError(f"fan-out: durod closed connection {i}")
                recvs += 1
                nbytes += len(data)
                buf = rest[i] + data if rest[i] else data
                c, pos = count_frames(buf, 0)
                rest[i] = buf[pos:]
                if not c:
                    continue
                counts[i] += c
                if i == sender and sent < msgs:
                    more = min(c, msgs - sent)
                    socks[sender].sendall(frame * more)
                    sent += more
                if counts[i] >= msgs:
                    if counts[i] > msgs:
                        raise BenchError(f"fan-out: connection {i} got {counts[i]} > {msgs}")
                    done += 1
                    t_last = time.perf_counter()
                    if i == sender:
                        t_sender = t_last
                    sel.unregister(k.fileobj)
    finally:
        sel.close()
    c1 = time.process_time()
    d1, w1 = cpu_s(d.proc.pid), cpu_s(wpid)
    elapsed = t_last - t0
    return {"msgs": msgs, "conns": n, "elapsed_s": elapsed,
            "delivered_per_s": msgs * n / elapsed,
            "bcast_per_s": msgs / (t_sender - t0),
            "durod_cpu_s": d1 - d0, "worker_cpu_s": (w1 - w0) if w1 is not None else None,
            "client_cpu_s": c1 - c0, "recvs": recvs, "bytes": nbytes,
            "durod_us_per_frame": (d1 - d0) / (msgs * n) * 1e6,
            "worker_us_per_bcast": (w1 - w0) / msgs * 1e6 if w1 is not None else None}


def parse_ceiling(chunk_bytes, nframes=2_000_000):
    """Frames/s count_frames takes pre-recorded bytes at, cut in chunks of
    chunk_bytes (what recv returned on average), with the same carry-over
    of a partial frame as the fan-out loop."""
    frame = b"\x81\x20" + PAYLOAD
    stream = frame * (chunk_bytes // len(frame) + 2)
    chunks = []
    total = 0
    off = 0
    while total < nframes * len(frame):
        chunks.append(stream[off:off + chunk_bytes])
        off = (off + chunk_bytes) % len(frame)
        total += chunk_bytes
    rest = b""
    got = 0
    t = time.perf_counter()
    for data in chunks:
        buf = rest + data if rest else data
        c, pos = count_frames(buf, 0)
        rest = buf[pos:]
        got += c
    return got / (time.perf_counter() - t)


# ------------------------------------------------------------ 2. latency

def pct(v, p):
    return bench.pct(v, p)


def latency(d, ns):
    a_sock, b_sock = [s for s, _ in open_many(d.port, [f"/{ns}/pair/ws?tags=room"] * 2)]
    a, b = Reader(a_sock), Reader(b_sock)
    wpid = worker_pid(d, ns, "pair")
    cpu = {}

    def cpu_mark():
        return cpu_s(d.proc.pid), cpu_s(wpid)

    def cpu_per(what, m0, n):
        m1 = cpu_mark()
        cpu[f"{what}_durod_cpu_us"] = (m1[0] - m0[0]) / n * 1e6
        cpu[f"{what}_worker_cpu_us"] = (m1[1] - m0[1]) / n * 1e6
    try:
        bc = []
        for k in range(LAT_N + 50):
            t = time.perf_counter_ns()
            a.send(f"bcast room t={t}")
            got = b.recv()
            took = time.perf_counter_ns() - t
            if got != f"t={t}".encode():
                raise BenchError(f"latency: B got {got!r}, expected t={t}")
            if a.recv() != got:
                raise BenchError("latency: A's own copy differs")
            if k >= 50:  # the first ones warm up
                bc.append(took / 1e3)
        echo = []
        m0 = cpu_mark()
        for k in range(LAT_N + 50):
            t = time.perf_counter_ns()
            a.send("echo x")
            got = a.recv()
            took = time.perf_counter_ns() - t
            if got != b"x":
                raise BenchError(f"echo: got {got!r}")
            if k >= 50:
                echo.append(took / 1e3)
        cpu_per("echo", m0, LAT_N + 50)
        # An HTTP request to the same object (worker hop, no storage).
        http = []
        m0 = cpu_mark()
        with Conn(d.port) as c:
            for k in range(LAT_N + 50):
                t = time.perf_counter_ns()
                status, _ = c.get(f"/{ns}/pair/pid")
                took = time.perf_counter_ns() - t
                if status != 200:
                    raise BenchError(f"GET /{ns}/pair/pid: {status}")
                if k >= 50:
                    http.append(took / 1e3)
        cpu_per("http", m0, LAT_N + 50)
        # durod's auto-response: no event, no worker.
        a.send("auto aping apong")
        if a.recv() != b"ok":
            raise BenchError("auto-response not set")
        auto = []
        m0 = cpu_mark()
        for k in range(LAT_N + 50):
            t = time.perf_counter_ns()
            a.send("aping")
            got = a.recv()
            took = time.perf_counter_ns() - t
            if got != b"apong":
                raise BenchError(f"auto-response: got {got!r}")
            if k >= 50:
                auto.append(took / 1e3)
        cpu_per("auto", m0, LAT_N + 50)
    finally:
        a_sock.close()
        b_sock.close()
    return {"bcast_p50_us": pct(bc, 50), "bcast_p99_us": pct(bc, 99),
            "echo_p50_us": pct(echo, 50), "echo_p99_us": pct(echo, 99),
            "auto_p50_us": pct(auto, 50), "auto_p99_us": pct(auto, 99),
            "http_p50_us": pct(http, 50), "http_p99_us": pct(http, 99),
            **cpu, "bcast_us": bc, "echo_us": echo, "auto_us": auto, "http_us": http}


# ------------------------------------------------------------ 3. wake

def gone(pid):
    """The process is gone (or a zombie not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


def hibernated(d, ns, room, pid):
    """durod says the object is hibernated and its last worker is gone."""
    return object_state(d, ns, room)["state"] == "hibernated" and gone(pid)


def wake(d, ns):
    room = "wake"
    (sock, _), = open_many(d.port, [f"/{ns}/{room}/ws"])
    r = Reader(sock)
    took = []
    pids = set()
    try:
        r.send("pid")
        pid = int(r.recv())
        for k in range(WAKE_N):
            wait_for(f"{ns}/{room} to hibernate", lambda: hibernated(d, ns, room, pid),
                     timeout=30, every=0.01)
            t = time.perf_counter_ns()
            r.send("echo x")
            got = r.recv()
            took.append((time.perf_counter_ns() - t) / 1e3)
            if got != b"x":
                raise BenchError(f"wake: got {got!r}")
            r.send("pid")
            pid = int(r.recv())
            pids.add(pid)
    finally:
        sock.close()
    if len(pids) != WAKE_N:
        raise BenchError(f"wake: {WAKE_N} samples but {len(pids)} distinct workers")
    # durod's own spawn-to-ready time of each of those workers (the first
    # line is the worker the upgrade started).
    ready = [float(x) for x in d.log_lines(
        rf"object {ns}/\w+: worker \d+ ready in ([\d.]+) ms")][-WAKE_N:]
    if len(ready) != WAKE_N:
        raise BenchError(f"wake: {len(ready)} 'ready in' lines in durod's log, not {WAKE_N}")
    return {"wake_p50_us": pct(took, 50), "wake_p99_us": pct(took, 99),
            "ready_p50_ms": pct(ready, 50), "ready_max_ms": max(ready),
            "wake_us": took, "ready_ms": ready}


# ------------------------------------------------------------ 4. memory

def all_hibernated(d):
    return not d.workers()


def ws_gauge(d, ns):
    with Conn(d.admin_port) as a:
        status, body = a.get("/metrics")
    for ln in body.decode().splitlines():
        if ln.startswith(f'duro_websockets_open{{namespace="{ns}"}}'):
            return int(float(ln.split()[-1]))
    return 0


def memory(rep):
    ns = "mem"
    out = {"rounds": []}
    with NsDurod(f"wsmem{rep}", {ns: ns_cfg(idle_timeout_ms=500)}) as d:
        # Warm-up: every room once, with a connection and a message.
        warm = open_many(d.port, [f"/{ns}/m{k}/ws" for k in range(ROOMS)])
        for s, _ in warm:
            Reader(s).send("echo w")
        for s, _ in warm:
            if Reader(s).recv() != b"w":
                raise BenchError("memory warm-up: bad echo")
        close_all(s for s, _ in warm)
        wait_for("the warm-up's ws_close events",
                 lambda: ws_gauge(d, ns) == 0, timeout=60, every=0.05)
        wait_for("every worker to hibernate after the warm-up",
                 lambda: all_hibernated(d), timeout=60, every=0.05)
        time.sleep(0.5)
        out["rss_before_kb"], out["fds_before"] = d.rss_kb(), d.nfds()
        seen = set()
        # Twice: the second round shows whether the first one's memory is
        # reused (glibc keeps freed heap memory, so RSS does not drop).
        for rnd in range(2):
            out["rounds"].append(_memory_round(d, ns, seen))
        closes = sum(closes_seen(d, ns, f"m{k}") for k in range(ROOMS))
        if closes != 2 * MEM_CONNS + ROOMS:
            raise BenchError(f"memory: {closes} ws_close events recorded, "
                             f"expected {2 * MEM_CONNS + ROOMS}")
    r1 = out["rounds"][0]
    out["bytes_per_conn"] = (r1["rss_open_kb"] - out["rss_before_kb"]) * 1024 / MEM_CONNS
    return out


def _memory_round(d, ns, seen):
    t = time.perf_counter()
    paths = [f"/{ns}/m{k % ROOMS}/ws" for k in range(MEM_CONNS)]
    conns = open_many(d.port, paths)
    open_s = time.perf_counter() - t
    try:
        ids = {c for _, c in conns}
        if len(ids) != MEM_CONNS or ids & seen:
            raise BenchError("memory: connection ids are not distinct (or reused)")
        seen |= ids
        gauge = ws_gauge(d, ns)
        if gauge != MEM_CONNS:
            raise BenchError(f"memory: durod's gauge says {gauge} open, not {MEM_CONNS}")
        t = time.perf_counter()
        wait_for("every worker to hibernate with the connections open",
                 lambda: all_hibernated(d), timeout=60, every=0.05)
        hib_s = time.perf_counter() - t
        time.sleep(0.5)
        rss1, fds1 = d.rss_kb(), d.nfds()
        d.check_alive()
    finally:
        close_all(s for s, _ in conns)
    t = time.perf_counter()
    wait_for("all ws_close events handled", lambda: ws_gauge(d, ns) == 0,
             timeout=120, every=0.1)
    wait_for("every worker to hibernate after the closes",
             lambda: all_hibernated(d), timeout=120, every=0.05)
    close_s = time.perf_counter() - t
    time.sleep(0.5)
    rss2, fds2 = d.rss_kb(), d.nfds()
    return {"rss_open_kb": rss1, "rss_after_close_kb": rss2,
            "fds_open": fds1, "fds_after_close": fds2,
            "open_s": open_s, "hibernate_s": hib_s, "close_s": close_s}


# ------------------------------------------------------------ main

def one_rep(rep):
    namespaces = {"ws": ns_cfg(), "wsfull": ns_cfg(synchronous="FULL"),
                  "sleepy": ns_cfg(idle_timeout_ms=200)}
    row = {}
    with NsDurod(f"ws{rep}", namespaces) as d:
        row["fan"] = fanout(d, "ws", MSGS, FAN, "fan")
        log(f"ws rep {rep + 1}: fan-out NORMAL {json.dumps(row['fan'])}")
        if FULL_MSGS:
            row["fan_full"] = fanout(d, "wsfull", FULL_MSGS, FAN, "fan")
            log(f"ws rep {rep + 1}: fan-out FULL {json.dumps(row['fan_full'])}")
        if SMALL_MSGS:
            row["fan_small"] = fanout(d, "ws", SMALL_MSGS, 1, "small")
            log(f"ws rep {rep + 1}: 2-connection room {json.dumps(row['fan_small'])}")
        row["lat"] = latency(d, "ws")
        log(f"ws rep {rep + 1}: latency " + json.dumps(
            {k: v for k, v in row["lat"].items() if not isinstance(v, list)}))
        row["wake"] = wake(d, "sleepy")
        log(f"ws rep {rep + 1}: wake p50 {row['wake']['wake_p50_us']:.0f} us, "
            f"p99 {row['wake']['wake_p99_us']:.0f} us; durod's spawn to ready "
            f"p50 {row['wake']['ready_p50_ms']:.1f} ms")
        d.check_alive()
    row["mem"] = memory(rep)
    log(f"ws rep {rep + 1}: memory {json.dumps(row['mem'])}")
    return row


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(MEM_CONNS, FAN + 1) + 200
    if soft < need:
        raise BenchError(f"RLIMIT_NOFILE {soft} (hard {hard}) is below the {need} "
                         "descriptors this benchmark needs")
    return soft


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json")
    args = ap.parse_args()
    if not os.access(WSECHO, os.X_OK):
        raise BenchError(f"{WSECHO} missing: run `make all` first")
    nofile = raise_nofile()
    rows = []
    for rep in range(bench.REPS):
        rows.append(one_rep(rep))
    chunk = int(statistics.median(r["fan"]["bytes"] / r["fan"]["recvs"] for r in rows))
    ceiling = parse_ceiling(chunk)

    def med(f):
        return statistics.median(f(r) for r in rows)

    def reps(f, fmt):
        return ", ".join(fmt.format(f(r)) for r in rows)

    print(f"\nWebSockets (tests/workers/wsecho, synchronous NORMAL unless said; "
          f"{bench.REPS} repetitions, medians; per repetition in brackets)")
    print(f"  RLIMIT_NOFILE {nofile}")
    for key, what in (("fan", "NORMAL"), ("fan_full", "FULL"), ("fan_small", "NORMAL, small room")):
        if key not in rows[0]:
            continue
        f = rows[0][key]
        print(f"  fan-out, {what}: 1 room, {f['conns']} connections, {f['msgs']} broadcasts "
              f"of 32 B, window {WINDOW}")
        print(f"    delivered      {med(lambda r: r[key]['delivered_per_s']):10.0f} msg/s   "
              f"[{reps(lambda r: r[key]['delivered_per_s'], '{:.0f}')}]")
        print(f"    broadcasts     {med(lambda r: r[key]['bcast_per_s']):10.1f} /s      "
              f"[{reps(lambda r: r[key]['bcast_per_s'], '{:.1f}')}]")
        print(f"    elapsed        {med(lambda r: r[key]['elapsed_s']):10.2f} s")
        print(f"    CPU durod      {med(lambda r: r[key]['durod_cpu_s']):10.2f} s   "
              f"= {med(lambda r: r[key]['durod_us_per_frame']):.2f} us per frame delivered")
        print(f"    CPU worker     {med(lambda r: r[key]['worker_cpu_s']):10.2f} s   "
              f"= {med(lambda r: r[key]['worker_us_per_bcast']):.0f} us per broadcast")
        print(f"    CPU client     {med(lambda r: r[key]['client_cpu_s']):10.2f} s   "
              f"({med(lambda r: r[key]['client_cpu_s'] / r[key]['elapsed_s']):.2f} of elapsed; "
              f"{med(lambda r: r[key]['bytes'] / r[key]['recvs']):.0f} B per recv)")
        print(f"    opening {f['conns']} connections: {med(lambda r: r[key]['open_s']):.2f} s")
    print(f"  client ceiling: the frame parser alone takes {ceiling:.0f} frames/s "
          f"(pre-recorded 34-byte frames in {chunk}-byte chunks); with recv and "
          f"select, the client's CPU allows "
          f"{med(lambda r: r['fan']['msgs'] * r['fan']['conns'] / r['fan']['client_cpu_s']):.0f} frames/s")
    print(f"  latency, {LAT_N} sequential messages, one outstanding:")
    for k, what in (("bcast", "bcast A -> B (2-client room)"), ("echo", "echo round trip"),
                    ("auto", "auto-response round trip"),
                    ("http", "HTTP GET /pid, same object")):
        print(f"    {what:30s} p50 {med(lambda r: r['lat'][k + '_p50_us']):7.0f} us  "
              f"p99 {med(lambda r: r['lat'][k + '_p99_us']):7.0f} us   "
              f"[p50 {reps(lambda r: r['lat'][k + '_p50_us'], '{:.0f}')}]"
              + (f"; CPU per message: durod {med(lambda r: r['lat'][k + '_durod_cpu_us']):.0f} us, "
                 f"worker {med(lambda r: r['lat'][k + '_worker_cpu_us']):.0f} us"
                 if k + "_durod_cpu_us" in rows[0]["lat"] else ""))
    print(f"  wake from hibernation, echo round trip ({WAKE_N} samples, idle_timeout_ms 200):")
    print(f"    p50 {med(lambda r: r['wake']['wake_p50_us']) / 1e3:7.2f} ms  "
          f"p99 {med(lambda r: r['wake']['wake_p99_us']) / 1e3:7.2f} ms"
          f"{' (= the max)' if WAKE_N < 100 else ''}   "
          f"[p50 {reps(lambda r: r['wake']['wake_p50_us'] / 1e3, '{:.2f}')}]; "
          f"warm echo / wake p50 (within each repetition): "
          f"x{med(lambda r: r['wake']['wake_p50_us'] / r['lat']['echo_p50_us']):.1f}")
    print(f"    of which spawn to ready (durod's log): p50 "
          f"{med(lambda r: r['wake']['ready_p50_ms']):.2f} ms, max "
          f"{med(lambda r: r['wake']['ready_max_ms']):.2f} ms   "
          f"[p50 {reps(lambda r: r['wake']['ready_p50_ms'], '{:.2f}')}]")
    def mr(i, k):
        return med(lambda r: r["mem"]["rounds"][i][k])

    print(f"  memory: {MEM_CONNS} connections over {ROOMS} objects, every worker hibernated:")
    print(f"    durod VmRSS {med(lambda r: r['mem']['rss_before_kb']) / 1024:.1f} MiB -> "
          f"{mr(0, 'rss_open_kb') / 1024:.1f} MiB; "
          f"{med(lambda r: r['mem']['bytes_per_conn']):.0f} bytes per connection   "
          f"[{reps(lambda r: r['mem']['bytes_per_conn'], '{:.0f}')}]")
    print(f"    all closed: {mr(0, 'rss_after_close_kb') / 1024:.1f} MiB; the same again: "
          f"{mr(1, 'rss_open_kb') / 1024:.1f} MiB open, "
          f"{mr(1, 'rss_after_close_kb') / 1024:.1f} MiB closed "
          f"(second round - first, open: "
          f"{med(lambda r: r['mem']['rounds'][1]['rss_open_kb'] - r['mem']['rounds'][0]['rss_open_kb']):+.0f} KiB)")
    print(f"    durod fds {med(lambda r: r['mem']['fds_before']):.0f} -> "
          f"{mr(0, 'fds_open'):.0f} -> {mr(0, 'fds_after_close'):.0f} -> "
          f"{mr(1, 'fds_open'):.0f} -> {mr(1, 'fds_after_close'):.0f}")
    print(f"    opening them: {mr(0, 'open_s'):.1f} s "
          f"({med(lambda r: MEM_CONNS / r['mem']['rounds'][0]['open_s']):.0f} upgrades/s); "
          f"workers hibernated {mr(0, 'hibernate_s'):.1f} s later; "
          f"closes handled in {mr(0, 'close_s'):.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"params": {"fan": FAN, "msgs": MSGS, "full_msgs": FULL_MSGS,
                                  "small_msgs": SMALL_MSGS,
                                  "window": WINDOW, "lat_n": LAT_N, "wake_n": WAKE_N,
                                  "mem_conns": MEM_CONNS, "rooms": ROOMS,
                                  "parse_ceiling_frames_per_s": ceiling,
                                  "parse_chunk_bytes": chunk},
                       "reps": rows}, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        sys.exit(f"ws: {e}")
