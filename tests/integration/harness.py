"""
harness.py — what every integration test shares: a real durod in a temp
dir, a small HTTP/1.1 client over raw sockets, process checks, polling.

Python 3 standard library only. A test file looks like

    import harness

    def test(t):
        with harness.Durod(t, namespaces={"counter": {}}) as d:
            c = d.client()
            harness.expect_json(c.request("POST", "/counter/a/incr"), 200)

    if __name__ == "__main__":
        harness.main(test)

and run.py runs each file in its own process. Nothing here sleeps in place
of a readiness signal: durod is ready when GET /health answers 200, a
process is gone when /proc says so, a request has reached durod when the
kernel says durod has read its bytes (see wait_server_read).
"""

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Debian's python3 (make deps installs it): Python workers run under the
# interpreter policy, which reads the system's Python, not a user's
# virtualenv or pyenv.
SYSTEM_PYTHON = "/usr/bin/python3"

# Generous: the machine running the tests may be a loaded 2-core box.
READY_TIMEOUT = 15.0
IO_TIMEOUT = 30.0
GONE_TIMEOUT = 15.0


# What AddressSanitizer, LeakSanitizer and UBSan print when they find something.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:")


class TestFailure(AssertionError):
    pass


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


# ---------------------------------------------------------------- polling

def wait_until(pred, timeout, interval=0.01, max_interval=0.1):
    """Poll pred() until it returns something truthy (returned) or timeout
    seconds pass (returns the last falsy value). Polling a condition, not
    sleeping in place of one."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)
        interval = min(interval * 1.5, max_interval)


# -------------------------------------------------------------- processes

def proc_stat(pid):
    """(state, ppid, starttime) of a pid from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces and parentheses: split at the last ')'.
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def children_of(ppid):
    """Pids of live (non-zombie) processes whose parent is ppid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is not None and st[1] == ppid and st[0] not in "ZX":
            out.append(int(name))
    return sorted(out)


def worker_object(pid):
    """(DURO_NAMESPACE, DURO_OBJECT_ID) from a worker's environment, or
    None if it is gone or has none."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    except OSError:
        return None
    ns, oid = env.get(b"DURO_NAMESPACE"), env.get(b"DURO_OBJECT_ID")
    return (ns.decode(), oid.decode()) if ns and oid else None


class UniqueWorkers:
    """Samples durod's live children in a thread: never two at once for
    one object (DESIGN.md: a new worker starts only after the old one is
    reaped). Use as a context manager; the check runs at exit."""

    def __init__(self, durod_pid):
        self.durod_pid = durod_pid
        self.stop = threading.Event()
        self.violations = []
        self.samples = 0
        self.most = 0  # the most live workers seen at once

    def _run(self):
        while not self.stop.is_set():
            seen = {}
            self.most = max(self.most, sum(1 for p in children_of(self.durod_pid)
                                           if pid_alive(p)))
            for pid in children_of(self.durod_pid):
                obj = worker_object(pid)
                # Still the same process, still alive: not a pid that
                # exited between the two reads.
                if obj is None or not pid_alive(pid):
                    continue
                if obj in seen and pid_alive(seen[obj]):
                    self.violations.append((obj, seen[obj], pid))
                seen[obj] = pid
            self.samples += 1
            time.sleep(0.002)

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, etype, exc, tb):
        self.stop.set()
        self.thread.join()
        if etype is None:
            check(not self.violations,
                  f"two live workers for one object at once: {self.violations[:5]}")
        return False


class Proc:
    """A pid remembered with its start time, so a reused pid is not
    mistaken for the process we saw."""

    def __init__(self, pid):
        self.pid = pid
        st = proc_stat(pid)
        self.starttime = st[2] if st else None

    def stat(self):
        st = proc_stat(self.pid)
        if st is None or (self.starttime is not None and st[2] != self.starttime):
            return None
        return st

    def exists(self):
        """In /proc at all, zombie or not."""
        return self.stat() is not None

    def alive(self):
        """Running (a zombie is dead: it only waits to be reaped)."""
        st = self.stat()
        return st is not None and st[0] not in "ZX"

    def __repr__(self):
        st = self.stat()
        return f"pid {self.pid} ({'gone' if st is None else 'state ' + st[0] + ', ppid ' + str(st[1])})"


def pid_alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] not in "ZX"


def wait_gone(pids, timeout=GONE_TIMEOUT):
    """Wait until none of pids (ints or Procs) is alive; returns the ones
    still alive (empty on success)."""
    procs = [p if isinstance(p, Proc) else Proc(p) for p in pids]
    wait_until(lambda: not any(p.alive() for p in procs), timeout)
    return [p for p in procs if p.alive()]


def wait_reaped(pids, timeout=GONE_TIMEOUT):
    """Wait until none of pids is in /proc at all: dead and reaped by its
    parent (durod), so durod knows it is gone. After a kill from outside,
    a request sent before the reap still reaches the dying worker and
    fails with object_reset. Returns the ones still there."""
    procs = [p if isinstance(p, Proc) else Proc(p) for p in pids]
    wait_until(lambda: not any(p.exists() for p in procs), timeout)
    return [p for p in procs if p.exists()]


# ------------------------------------------------------------------ ports

def free_port():
    """A port nobody listens on right now: bind port 0, read it, close."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def connection_refused(port):
    """True if a TCP connect to 127.0.0.1:port is refused (nobody listens)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def _tcp_table():
    """{(local, remote): (tx_queue, rx_queue)} from /proc/net/tcp, with
    addresses as (ip-hex, port) the way the kernel prints them."""
    table = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local, remote, queues = parts[1], parts[2], parts[4]
            tx, rx = queues.split(":")
            table[(local, remote)] = (int(tx, 16), int(rx, 16))
    return table


def _hexaddr(addr):
    ip, port = addr
    b = socket.inet_aton(ip)
    return "%08X:%04X" % (int.from_bytes(b, "little"), port)


def server_has_read(sock):
    """True once every byte sent on sock was received by the peer's kernel
    (our send queue is empty) and read by the peer process (its receive
    queue is empty): durod has the request in hand."""
    me, peer = _hexaddr(sock.getsockname()), _hexaddr(sock.getpeername())
    t = _tcp_table()
    mine, theirs = t.get((me, peer)), t.get((peer, me))
    return mine is not None and theirs is not None and mine[0] == 0 and theirs[1] == 0


def wait_server_read(conn, timeout=IO_TIMEOUT):
    check(wait_until(lambda: server_has_read(conn.sock), timeout),
          "durod did not read the bytes we sent within %.0f s" % timeout)


# ------------------------------------------------------------------- HTTP

class ConnectionClosed(Exception):
    pass


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] as sent
        self.body = body

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            fail(f"response body is not JSON ({e}): {self!r}")

    def __repr__(self):
        body = self.body[:400]
        more = "..." if len(self.body) > 400 else ""
        return f"<{self.status} {self.reason} {body!r}{more}>"


def build_request(method, path, body=None, headers=None, chunked=None,
                  host="127.0.0.1"):
    """Bytes of one HTTP/1.1 request. chunked is a list of byte chunks sent
    with Transfer-Encoding: chunked (the terminating 0-chunk is added)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    hdrs = dict(headers or {})
    names = {k.lower() for k in hdrs}
    if chunked is not None:
        if "transfer-encoding" not in names:
            hdrs["Transfer-Encoding"] = "chunked"
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunked if c)
        payload += b"0\r\n\r\n"
    else:
        payload = body or b""
        if isinstance(payload, str):
            payload = payload.encode()
        if "content-length" not in names and (payload or method in ("POST", "PUT", "PATCH")):
            hdrs["Content-Length"] = str(len(payload))
    for k, v in hdrs.items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class Conn:
    """One client connection; keep-alive by default. It never reconnects
    behind the caller's back: a closed connection is an error."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT):
        self.port = port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, path, body=None, headers=None, chunked=None):
        self.send(build_request(method, path, body, headers, chunked))
        return self.read_response(method)

    # -- reading

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            raise ConnectionClosed(f"connection reset by durod (unread: {self.buf[:200]!r})")
        if not data:
            raise ConnectionClosed(f"connection closed by durod (unread: {self.buf[:200]!r})")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                fail("response header line over 1 MiB")
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, method="GET"):
        line = self._line()
        parts = line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            fail(f"bad status line from durod: {line!r}")
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        while True:
            line = self._line()
            if not line:
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers.append((k.strip(), v.strip()))
        resp = Response(status, reason, headers, b"")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return resp
        te = (resp.header("Transfer-Encoding") or "").lower()
        cl = resp.header("Content-Length")
        if "chunked" in te:
            body = b""
            while True:
                size = int(self._line().split(b";")[0].strip(), 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                body += self._exact(size)
                self._line()
            resp.body = body
        elif cl is not None:
            resp.body = self._exact(int(cl))
        else:
            while True:
                try:
                    self._fill()
                except ConnectionClosed:
                    break
            resp.body, self.buf = self.buf, b""
        return resp

    def closed_by_peer(self, timeout=IO_TIMEOUT):
        """True if durod closes the connection (EOF or reset) within
        timeout without sending anything more; False otherwise."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        finally:
            with contextlib.suppress(OSError):
                self.sock.settimeout(IO_TIMEOUT)
        if data:
            self.buf += data
            return False
        return True


def expect_status(resp, status, what=""):
    check(resp.status == status,
          f"{what + ': ' if what else ''}expected status {status}, got {resp!r}")
    return resp


def expect_json(resp, status=200, what=""):
    expect_status(resp, status, what)
    return resp.json()


def expect_error(resp, status, code=None, what=""):
    """A durod error: the status and a JSON {"error": code, "message": ...}.
    Returns the message."""
    j = expect_json(resp, status, what)
    check(isinstance(j, dict) and isinstance(j.get("error"), str),
          f"{what + ': ' if what else ''}error body is not {{\"error\": ...}}: {resp!r}")
    if code is not None:
        check(j["error"] == code,
              f"{what + ': ' if what else ''}expected error {code!r}, got {resp!r}")
    check(isinstance(j.get("message"), str),
          f"{what + ': ' if what else ''}error body has no string \"message\": {resp!r}")
    return j["message"]


def parse_pid(resp):
    """misbehave's GET /pid: {"pid": N} or just N."""
    expect_status(resp, 200, "GET /pid")
    text = resp.body.decode("utf-8", "replace").strip()
    try:
        v = json.loads(text)
    except ValueError:
        fail(f"GET /pid: body is neither JSON nor a number: {resp!r}")
    if isinstance(v, dict):
        v = v.get("pid")
    check(isinstance(v, int) and v > 0, f"GET /pid: no pid in {resp!r}")
    return v


# ------------------------------------------------------------------ durod

class Build:
    def __init__(self, build):
        if not os.path.isabs(build) and not os.path.exists(build):
            build = os.path.join(REPO, build)
        self.dir = os.path.abspath(build)
        self.durod = os.path.join(self.dir, "durod")
        self.counter = os.path.join(self.dir, "examples", "counter")
        self.chat = os.path.join(self.dir, "examples", "chat")
        self.misbehave = os.path.join(self.dir, "tests", "misbehave")
        self.hostile = os.path.join(self.dir, "tests", "hostile")
        self.wsecho = os.path.join(self.dir, "tests", "wsecho")
        # A sanitizer build's workers cannot run sandboxed: ASan reserves
        # terabytes of address space (past any RLIMIT_AS) and LeakSanitizer
        # stops the world with ptrace (which seccomp kills). Their tests run
        # with policy "none"; the sandbox tests skip themselves.
        with open(self.durod, "rb") as f:
            self.sanitized = b"AddressSanitizer" in f.read()


class Context:
    """What a test gets: the build, soft checks, and the logs of the
    durods it ran (printed when it fails)."""

    def __init__(self, build):
        self.build = build
        self.logs = []
        self.failures = []

    @contextlib.contextmanager
    def sub(self, what):
        """A sub-check that may fail without stopping the test, so one run
        shows every broken behaviour of a scenario."""
        try:
            yield
        except Exception as e:  # noqa: BLE001 — recorded, the test goes on
            self.failures.append(f"{what}: {type(e).__name__}: {e}")
            print(f"  sub-check failed: {what}: {e}", flush=True)


def _ns_defaults(build, name):
    # Workers stay up for the whole test unless a test says otherwise
    # (test_hibernation), so "same pid as before" never fails just because
    # a slow run crossed the default 10 s idle timeout.
    common = {"idle_timeout_ms": 600000}
    if build.sanitized:
        common["policy"] = "none"
    if name == "counter":
        return {**common, "exec": [build.counter]}
    if name == "chat":
        return {**common, "exec": [build.chat]}
    if name == "misbehave":
        return {**common, "exec": [build.misbehave], "max_restarts": 1000}
    if name == "wsecho":
        return {**common, "exec": [build.wsecho], "max_restarts": 1000}
    if name == "hostile":
        return {**common, "exec": [build.hostile], "max_restarts": 1000}
    return common


class Durod:
    """A real durod in a fresh temp dir, as a context manager.

    namespaces maps a name to overrides of that namespace's config;
    "counter" and "misbehave" get their exec by default, any other name
    must give its own (e.g. exec=[t.build.misbehave]). top overrides
    top-level keys. env adds to (or, with None values, removes from)
    the environment durod inherits, e.g. NOTIFY_SOCKET. On exit durod
    gets SIGTERM and must exit expect_rc (0) and leave no worker behind.
    """

    def __init__(self, t, namespaces=None, top=None, tmpdir=None, expect_rc=0,
                 env=None):
        self.t = t
        self.env = env
        self.build = t.build
        if namespaces is None:
            namespaces = {"counter": {}, "misbehave": {}}
        self.own_tmp = tmpdir is None
        self.tmp = tmpdir or tempfile.mkdtemp(prefix="duro-it-")
        self.port = free_port()
        self.admin_port = free_port()
        ns = {}
        for name, over in namespaces.items():
            cfg = _ns_defaults(self.build, name)
            cfg.update(over or {})
            ns[name] = cfg
        self.config = {
            "listen": f"127.0.0.1:{self.port}",
            "admin_listen": f"127.0.0.1:{self.admin_port}",
            "data_dir": os.path.join(self.tmp, "data"),
            "run_dir": os.path.join(self.tmp, "run"),
            "policy_dir": os.path.join(REPO, "policies"),
            "namespaces": ns,
        }
        self.config.update(top or {})
        self.expect_rc = expect_rc
        self.log = self.log_path = None
        self.proc = None
        self.tracked = []      # worker Procs the test saw
        self.signalled = None  # the signal we sent, if any
        self.conns = []

    # -- start

    def __enter__(self):
        try:
            self.start()
        except BaseException as e:
            self._cleanup(interrupted=isinstance(e, KeyboardInterrupt))
            raise
        return self

    def start(self):
        # The ports were free when we looked; someone else may have taken
        # one since. Then (only then) try again with fresh ones.
        for attempt in range(3):
            self._spawn()
            r = self._wait_ready()
            if r != "exited" or attempt == 2:
                break
            with open(self.log_path, "rb") as f:
                if b"in use" not in f.read():
                    break
            self.log.close()
            self.port, self.admin_port = free_port(), free_port()
            self.config["listen"] = f"127.0.0.1:{self.port}"
            self.config["admin_listen"] = f"127.0.0.1:{self.admin_port}"
        if r == "exited":
            fail(f"durod exited with {self.proc.returncode} before it was ready")
        if r != "ok":
            fail(f"durod not ready (GET /health != 200) within {READY_TIMEOUT:.0f} s")

    def _spawn(self):
        # Per port: two durods may share a temp dir (test_durod_death).
        self.cfg_path = os.path.join(self.tmp, f"duro-{self.port}.json")
        with open(self.cfg_path, "w") as f:
            json.dump(self.config, f, indent=2)
        self.log_path = os.path.join(self.tmp, f"durod-{self.port}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.build.durod, "-c", self.cfg_path], stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log, cwd=self.tmp, env=self._environ())
        self.pid = self.proc.pid

    def _environ(self):
        """The environment durod starts with: ours, plus self.env."""
        if self.env is None:
            return None
        env = dict(os.environ)
        for k, v in self.env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def _wait_ready(self):
        """"ok" once GET /health on the admin port answers 200, "exited"
        if durod dies first, None at the deadline."""

        def ready():
            if self.proc.poll() is not None:
                return "exited"
            try:
                with Conn(self.admin_port, timeout=2) as c:
                    return "ok" if c.request("GET", "/health").status == 200 else None
            except (OSError, ConnectionClosed, TestFailure):
                return None

        return wait_until(ready, READY_TIMEOUT)

    # -- use

    def client(self, timeout=IO_TIMEOUT):
        c = Conn(self.port, timeout=timeout)
        self.conns.append(c)
        return c

    def track(self, pid):
        """Remember a worker pid: it must be gone after durod stops."""
        if pid not in [p.pid for p in self.tracked]:
            self.tracked.append(Proc(pid))
        return pid

    def children(self):
        return children_of(self.pid)

    def counter(self, conn, route):
        """GET <route>/ on a counter object: its {"value", "alarms_fired",
        "pid"} (the pid is tracked)."""
        j = expect_json(conn.request("GET", route.rstrip("/") + "/"), 200,
                        f"GET {route}/")
        check(isinstance(j, dict) and isinstance(j.get("pid"), int)
              and isinstance(j.get("value"), int),
              f"GET {route}/: expected {{\"value\":N,...,\"pid\":P}}, got {j!r}")
        self.track(j["pid"])
        return j

    def incr(self, conn, route, by=None):
        """POST <route>/incr[?by=N] on a counter object: the new value."""
        path = route.rstrip("/") + "/incr" + ("" if by is None else f"?by={by}")
        j = expect_json(conn.request("POST", path), 200, f"POST {path}")
        check(isinstance(j, dict) and isinstance(j.get("value"), int),
              f"POST {path}: expected {{\"value\":N}}, got {j!r}")
        return j["value"]

    def log_lines(self, pattern=None):
        """durod's log so far (its stderr, and its workers'), as lines;
        only those matching the regex pattern if one is given."""
        self.log.flush()
        with open(self.log_path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        if pattern is None:
            return lines
        rx = re.compile(pattern)
        return [ln for ln in lines if rx.search(ln)]

    def wait_log(self, pattern, count=1, timeout=IO_TIMEOUT):
        """Wait until at least count log lines match pattern; returns them
        (fails at the deadline). durod logs each event as it happens, so
        its log is a readiness signal for things no client can see."""
        found = wait_until(lambda: len(self.log_lines(pattern)) >= count or None,
                           timeout)
        if not found:
            fail(f"after {timeout:.0f} s, {len(self.log_lines(pattern))} of "
                 f"{count} log line(s) match {pattern!r}")
        return self.log_lines(pattern)

    def object_id(self, ns, name):
        """The id durod gives the named object (from its registry)."""
        import sqlite3
        db = sqlite3.connect(f"file:{self.config['data_dir']}/registry.sqlite?mode=ro",
                             uri=True, timeout=10)
        try:
            row = db.execute("SELECT hex(id) FROM objects WHERE ns = ? AND name = ?",
                             (ns, name)).fetchone()
        finally:
            db.close()
        check(row is not None, f"the registry does not know {ns}/{name}")
        return row[0].lower()

    def registry_alarms(self):
        """The alarm index in registry.sqlite: {(ns, idhex, name): (due,
        scheduled, every, retry)}."""
        import sqlite3
        db = sqlite3.connect(f"file:{self.config['data_dir']}/registry.sqlite?mode=ro",
                             uri=True, timeout=10)
        try:
            rows = db.execute("SELECT ns, lower(hex(id)), name, due_ms, scheduled_ms, "
                              "every_ms, retry FROM alarms").fetchall()
        finally:
            db.close()
        return {(r[0], r[1], r[2]): tuple(r[3:]) for r in rows}

    def worker_pid(self, conn, route):
        """misbehave's GET <route>/pid (the pid is tracked)."""
        return self.track(parse_pid(conn.request("GET", route.rstrip("/") + "/pid")))

    # -- stop

    def signal(self, sig, expect_rc=None):
        """Send durod a signal; the children it has now must be gone once
        it exits. expect_rc: the exit status then (default: 0 for
        TERM/INT, -sig otherwise)."""
        check(self.proc.poll() is None,
              f"durod already exited with {self.proc.returncode}")
        for pid in self.children():
            self.track(pid)
        self.signalled = sig
        if expect_rc is not None:
            self.expect_rc = expect_rc
        elif sig not in (signal.SIGTERM, signal.SIGINT):
            self.expect_rc = -sig
        os.kill(self.pid, sig)

    def wait_exit(self, timeout=None):
        """Wait for durod to exit; returns its status or fails."""
        if timeout is None:
            timeout = self.drain_timeout()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            fail(f"durod did not exit within {timeout:.0f} s of signal {self.signalled}")

    def drain_timeout(self):
        """durod's own drain deadline (see main.c) plus a margin."""
        worst = 5.0
        for ns in self.config["namespaces"].values():
            t = (ns.get("start_timeout_ms", 5000) + ns.get("request_timeout_ms", 30000)
                 + ns.get("hibernate_grace_ms", 2000)) / 1000.0 + 5
            worst = max(worst, t)
        return worst + 30

    def stop(self):
        """SIGTERM (unless the test signalled already), wait, check the exit
        status and that no worker outlived durod. Returns problems found."""
        problems = []
        if self.proc is None:
            return problems
        if self.signalled is None:
            # The test's connections go first: draining with idle and
            # half-sent requests open is test_sigterm's business.
            for c in self.conns:
                c.close()
            if self.proc.poll() is not None:
                problems.append(f"durod died during the test (status {self.proc.returncode})")
            else:
                self.signal(signal.SIGTERM)
        if self.proc.poll() is None:
            try:
                self.proc.wait(self.drain_timeout())
            except subprocess.TimeoutExpired:
                problems.append(f"durod did not exit within {self.drain_timeout():.0f} s "
                                f"of signal {self.signalled}; killed it")
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        if rc != self.expect_rc and not problems:
            problems.append(f"durod exited with status {rc}, expected {self.expect_rc}")
        # A clean exit means durod reaped every worker itself: none may be
        # left, not even as a zombie waiting for someone else.
        if self.expect_rc == 0:
            left = [p for p in self.tracked if p.exists()]
            if left:
                problems.append(f"workers outlived durod's exit: {left}")
        alive = wait_gone(self.tracked)
        if alive:
            problems.append(f"workers still running after durod exited: {alive}; killing them")
            for p in alive:
                with contextlib.suppress(OSError):
                    os.kill(p.pid, signal.SIGKILL)
        return problems

    def abort(self):
        """Interrupted (run.py's timeout): no drain, SIGKILL durod by its
        pid; its workers die with it, or get SIGKILL by theirs."""
        if self.proc.poll() is None:
            for pid in self.children():
                self.track(pid)
            self.proc.kill()
            self.proc.wait()
        for p in wait_gone(self.tracked, 5):
            with contextlib.suppress(OSError):
                os.kill(p.pid, signal.SIGKILL)
        return ["interrupted: durod killed"]

    def _cleanup(self, interrupted=False):
        problems = []
        try:
            problems = self.abort() if interrupted and self.proc else self.stop()
        finally:
            for c in self.conns:
                c.close()
            if self.log is not None:
                self.log.close()
            try:
                with open(self.log_path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except (OSError, TypeError):
                text = "(no log)"
            self.t.logs.append((f"durod :{self.port} pid {getattr(self, 'pid', '?')}", text))
            # Under make asan, durod and its workers share this log: a
            # sanitizer report from any of them fails the test.
            for marker in SANITIZER_MARKERS:
                if marker in text:
                    problems.append(f"a sanitizer report in the log: {marker!r}")
                    break
            if self.own_tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)
        return problems

    def __exit__(self, etype, exc, tb):
        problems = self._cleanup(interrupted=etype is KeyboardInterrupt)
        if problems and etype is None:
            fail("; ".join(problems))
        if problems:
            print("  also, at durod's exit: " + "; ".join(problems), flush=True)
        return False


def run_durod_check(build, config, extra_args=("--check",), timeout=30):
    """Run `durod --check -c FILE` on a config (dict or raw text) in a temp
    dir; returns (returncode, stdout, stderr)."""
    tmp = tempfile.mkdtemp(prefix="duro-it-")
    try:
        path = os.path.join(tmp, "duro.json")
        if isinstance(config, dict) and "policy_dir" not in config:
            # The shipped policies, wherever the test runs from.
            config = {**config, "policy_dir": os.path.join(REPO, "policies")}
        with open(path, "w") as f:
            f.write(config if isinstance(config, str) else json.dumps(config, indent=2))
        p = subprocess.run([build.durod, *extra_args, "-c", path], cwd=tmp,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------- main

def _on_sigterm(signum, frame):
    # run.py's per-test timeout: unwind so every Durod is stopped.
    raise KeyboardInterrupt(f"signal {signum}")


def main(test):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Tests open many connections (test_keepalive: 1,000 at once).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY
                                                        else max(soft, 65536), hard))
    t = Context(Build(args.build))
    ok = True
    try:
        test(t)
    except BaseException:
        ok = False
        traceback.print_exc()
    if t.failures:
        ok = False
        print(f"{len(t.failures)} sub-check(s) failed:")
        for f in t.failures:
            print(f"  - {f}")
    if not ok or os.environ.get("DURO_IT_VERBOSE"):
        for name, text in t.logs:
            print(f"----- log of {name} -----")
            print(text.rstrip())
            print("----- end of log -----")
    sys.stdout.flush()
    sys.exit(0 if ok else 1)
