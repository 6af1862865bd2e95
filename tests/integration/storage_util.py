"""
storage_util.py — what the test_storage_* tests share on top of harness.py:
a series of durods on one data_dir (one dies, the next starts), a client
that follows durod to its new port, worker lookup and killing, the object
directory on disk.

Python 3 standard library only; nothing here sleeps in place of a
readiness signal (durod is up when harness.Durod.start() saw GET /health
answer 200; a process is gone when /proc says so).
"""

import json
import os
import random
import shutil
import signal
import socket
import tempfile
import threading

import harness
from harness import check, expect_json


def object_dir(data_dir, ns, oid):
    """Where an object's storage lives (DESIGN.md, "Objects")."""
    return os.path.join(data_dir, ns, oid[:2], oid)


def workers_of(durod_pid):
    """{pid: (ns, id)} of durod's live workers right now."""
    out = {}
    for pid in harness.children_of(durod_pid):
        obj = harness.worker_object(pid)
        if obj is not None:
            out[pid] = obj
    return out


def worker_env(pid):
    """The environment of a live process as a dict of str, or None."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    env = {}
    for kv in raw.split(b"\0"):
        if b"=" in kv:
            k, v = kv.split(b"=", 1)
            env[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")
    return env


def kill9(pid, timeout=harness.GONE_TIMEOUT):
    """SIGKILL one process (a harness.Proc or a pid we just read) and wait
    until its parent (durod) has reaped it, so durod knows it is gone (a
    request sent before the reap may still reach the dying worker).
    Returns True if our signal reached it (False if it was already gone)."""
    p = pid if isinstance(pid, harness.Proc) else harness.Proc(pid)
    if not p.alive():
        return False
    try:
        os.kill(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    left = harness.wait_reaped([p], timeout)
    check(not left, f"SIGKILLed process {p} not reaped within {timeout:.0f} s")
    return True


class DurodSeries:
    """durods one after another on one temp dir (hence one data_dir):
    start(), kill() (SIGKILL, then the harness's checks that no worker
    outlived it), term() (SIGTERM, clean exit expected), restart() (kill or
    term, then start). Each new durod gets fresh ports: port() and
    generation() say which one is current, and up (a threading.Event) is
    set while one is ready. Use as a context manager."""

    def __init__(self, t, namespaces, top=None):
        self.t = t
        self.namespaces = namespaces
        self.top = top
        self.tmp = tempfile.mkdtemp(prefix="duro-it-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.d = None
        self.gen = 0
        self.lock = threading.Lock()
        self.up = threading.Event()
        self.started = 0

    # -- lifecycle

    def start(self, namespaces=None):
        check(self.d is None, "DurodSeries.start: a durod is already running")
        d = harness.Durod(self.t, namespaces=namespaces or self.namespaces,
                          top=self.top, tmpdir=self.tmp)
        d.__enter__()   # start(); on failure it cleans up and raises
        with self.lock:
            self.d = d
            self.gen += 1
        self.started += 1
        self.up.set()
        return d

    def _finish(self, d):
        # harness.Durod.__exit__: waits for the exit, checks the status
        # and that no worker outlived it; fails the test otherwise.
        d.__exit__(None, None, None)

    def kill(self, then=None):
        """SIGKILL the current durod; wait until it and its workers are
        gone. then(): called after durod's exit but before waiting for its
        workers (restart(at_once=True) starts the next durod there)."""
        with self.lock:
            d, self.d = self.d, None
        self.up.clear()
        d.signal(signal.SIGKILL)
        check(d.wait_exit(harness.IO_TIMEOUT) == -signal.SIGKILL,
              "durod did not die of SIGKILL")
        try:
            if then is not None:
                then(d)
        finally:
            self._finish(d)

    def term(self):
        """SIGTERM the current durod: it must drain and exit 0."""
        with self.lock:
            d, self.d = self.d, None
        self.up.clear()
        for c in d.conns:
            c.close()
        d.signal(signal.SIGTERM)
        check(d.wait_exit() == 0, f"durod exited with {d.proc.returncode} after SIGTERM")
        self._finish(d)

    def restart(self, how="kill", namespaces=None, at_once=False):
        """kill or term the current durod, then start the next. With
        at_once (kill only), the next durod starts as soon as the old one
        has exited, while its workers may still be dying and holding their
        objects' locks (as when a service manager restarts durod at once).
        Returns the new durod; self.left_alive is how many old workers
        were still running when it was started (at_once only)."""
        self.left_alive = 0
        if how == "kill" and at_once:
            started = []

            def start_next(old):
                self.left_alive = sum(1 for p in old.tracked if p.alive())
                started.append(self.start(namespaces))

            self.kill(then=start_next)
            return started[0]
        (self.kill if how == "kill" else self.term)()
        return self.start(namespaces)

    def current(self):
        """(durod, generation) now; durod is None while none is up."""
        with self.lock:
            return self.d, self.gen

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        try:
            if self.d is not None:
                d, self.d = self.d, None
                self.up.clear()
                if etype is None:
                    self._finish(d)
                else:
                    # Already failing: stop it without adding a second error.
                    d.__exit__(etype, exc, tb)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False


class Unavailable(Exception):
    """The request could not be completed: no durod, connection refused,
    reset or closed before the whole response. It may or may not have
    reached the object."""


class FollowingClient:
    """A keep-alive client of whichever durod of a DurodSeries is current:
    on a new generation it reconnects to the new port. request() returns
    a harness.Response or raises Unavailable (connection trouble: the
    request may have run or not). It never retries a request."""

    def __init__(self, series, timeout=harness.IO_TIMEOUT, wait_up=60.0):
        self.series = series
        self.timeout = timeout
        self.wait_up = wait_up
        self.conn = None
        self.gen = None

    def _connect(self):
        if not self.series.up.wait(self.wait_up):
            raise Unavailable(f"no durod up within {self.wait_up:.0f} s")
        d, gen = self.series.current()
        if d is None:
            raise Unavailable("durod went away")
        if self.conn is not None and self.gen == gen:
            return self.conn
        self.close()
        try:
            self.conn = harness.Conn(d.port, timeout=self.timeout)
        except OSError as e:
            raise Unavailable(f"connect to :{d.port}: {e}")
        self.gen = gen
        return self.conn

    def request(self, method, path, body=None, before_send=None):
        """before_send() runs once the connection is there, just before
        the request's bytes go out (count the request as attempted there)."""
        c = self._connect()
        if before_send is not None:
            before_send()
        try:
            c.send(harness.build_request(method, path, body))
            return c.read_response(method)
        except (OSError, harness.ConnectionClosed, socket.timeout) as e:
            self.close()
            raise Unavailable(f"{method} {path}: {type(e).__name__}: {e}")

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.gen = None


def get_json(conn, path, what=None):
    return expect_json(conn.request("GET", path), 200, what or f"GET {path}")


def post_json(conn, path, body=None, status=200, what=None):
    return expect_json(conn.request("POST", path, body), status, what or f"POST {path}")


def rnd_seed():
    """A seed for random choices, printed so a failing run can be repeated
    (DURO_IT_SEED=N)."""
    s = os.environ.get("DURO_IT_SEED")
    seed = int(s) if s else random.randrange(1 << 30)
    print(f"  seed {seed} (set DURO_IT_SEED={seed} to repeat)", flush=True)
    return seed


def dumps(o):
    return json.dumps(o, sort_keys=True)
