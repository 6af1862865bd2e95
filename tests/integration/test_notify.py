#!/usr/bin/env python3
"""sd_notify: under $NOTIFY_SOCKET durod sends "READY=1\\nMAINPID=<pid>"
once it can serve (GET /health already answers 200 when the datagram
arrives), "RELOADING=1" then "READY=1" around a SIGHUP reload, and
"STOPPING=1" when SIGTERM starts the drain; both to a socket
path and to an abstract name ("@name"). A socket nobody listens on is
logged once and does not stop durod."""
import os
import shutil
import signal
import socket
import tempfile
import threading

import harness
from harness import check


def recv_state(sock, what):
    """One datagram as {"KEY": "VALUE"}, or a failure after IO_TIMEOUT."""
    sock.settimeout(harness.IO_TIMEOUT)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        harness.fail(f"no {what} datagram within {harness.IO_TIMEOUT:.0f} s")
    return dict(ln.split("=", 1) for ln in data.decode().split("\n") if "=" in ln)


class ReadyWatcher:
    """Waits for the first datagram in a thread and, the moment it arrives,
    asks durod's admin port for /health: READY=1 must mean "can serve"."""

    def __init__(self, sock, durod):
        self.sock, self.durod = sock, durod
        self.state = self.health = self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.state = recv_state(self.sock, "READY=1")
            with harness.Conn(self.durod.admin_port, timeout=5) as c:
                self.health = c.request("GET", "/health").status
        except BaseException as e:  # reported by the test thread
            self.error = e

    def result(self):
        self.thread.join(harness.IO_TIMEOUT + 10)
        check(not self.thread.is_alive(), "the READY=1 watcher is stuck")
        if self.error is not None:
            raise self.error
        return self.state, self.health


def scenario(t, sock, notify_socket):
    d = harness.Durod(t, namespaces={"counter": {}},
                      env={"NOTIFY_SOCKET": notify_socket})
    watcher = ReadyWatcher(sock, d)
    with d:
        state, health = watcher.result()
        check(state.get("READY") == "1", f"first datagram is not READY=1: {state!r}")
        check(health == 200, f"READY=1 arrived but GET /health answered {health}")
        check(state.get("MAINPID") == str(d.pid),
              f"MAINPID is {state.get('MAINPID')!r}, durod is {d.pid}")
        check(d.incr(d.client(), "/counter/a") == 1, "counter after READY=1")

        # SIGHUP reloads: RELOADING=1 (with the monotonic time systemd's
        # notify-reload wants), then READY=1 once the config is in.
        os.kill(d.pid, signal.SIGHUP)
        state = recv_state(sock, "RELOADING=1")
        check(state.get("RELOADING") == "1" and
              state.get("MONOTONIC_USEC", "").isdigit(),
              f"after SIGHUP: {state!r}, expected RELOADING=1, MONOTONIC_USEC")
        state = recv_state(sock, "READY=1 after the reload")
        check(state == {"READY": "1"}, f"after the reload: {state!r}")
        check(d.proc.poll() is None, "durod died of SIGHUP")
        check(d.incr(d.client(), "/counter/a") == 2, "counter after SIGHUP")

        d.signal(signal.SIGTERM)
        state = recv_state(sock, "STOPPING=1")
        check(state == {"STOPPING": "1"}, f"after SIGTERM: {state!r}, expected STOPPING=1")
        check(d.wait_exit() == 0, "durod's exit status after SIGTERM")


def test(t):
    tmp = tempfile.mkdtemp(prefix="duro-it-")
    try:
        with t.sub("a socket path"):
            path = os.path.join(tmp, "notify.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.bind(path)
                scenario(t, s, path)

        with t.sub("an abstract socket (@name)"):
            name = f"duro-it-notify-{os.getpid()}"
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.bind("\0" + name)
                scenario(t, s, "@" + name)

        with t.sub("nobody listening: one warning, durod serves anyway"):
            gone = os.path.join(tmp, "nobody.sock")
            with harness.Durod(t, namespaces={"counter": {}},
                               env={"NOTIFY_SOCKET": gone}) as d:
                check(d.incr(d.client(), "/counter/a") == 1, "counter")
                d.signal(signal.SIGTERM)
                check(d.wait_exit() == 0, "durod's exit status after SIGTERM")
                n = len(d.log_lines(r"notify: "))
                check(n == 1, f"{n} notify warnings in the log, expected 1")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    harness.main(test)
