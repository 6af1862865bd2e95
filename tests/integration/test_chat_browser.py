#!/usr/bin/env python3
"""chat in a real browser: headless Chromium (tests/browser/chat.mjs, with
playwright-core) opens /chat/<room>/ in two tabs, chats between them, then
(after this test has seen the room's worker hibernate, the WebSockets
still open) sends again: the message wakes a new worker and reaches the
other tab. A screenshot of that tab is kept in build/test-artifacts/chat.png.

Needs what `make deps` installs: Debian's chromium, Node.js with npm, and
tests/browser/node_modules. Missing, the test fails and says so;
DURO_SKIP_BROWSER=1 skips it instead."""
import os
import queue
import shutil
import subprocess
import threading
import time

import harness
from harness import check, fail

BROWSER_DIR = os.path.join(harness.REPO, "tests", "browser")
CHAT_MJS = os.path.join(BROWSER_DIR, "chat.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOM = "browser"
PHASE1_TIMEOUT = 120.0  # Chromium's first start on a loaded 2-core box
PHASE2_TIMEOUT = 90.0


def missing_tools():
    """What chat.mjs needs that is not installed, as a list of strings."""
    out = []
    if not os.access(CHROMIUM, os.X_OK):
        out.append(f"{CHROMIUM} (Debian package chromium)")
    if shutil.which("node") is None:
        out.append("node (Node.js)")
    if not os.path.isfile(os.path.join(BROWSER_DIR, "node_modules", "playwright-core",
                                       "package.json")):
        out.append("tests/browser/node_modules/playwright-core (npm ci in tests/browser)")
    return out


class Node:
    """chat.mjs as a child: its stdout lines in a queue, stderr kept."""

    def __init__(self, args):
        self.proc = subprocess.Popen(
            ["node", CHAT_MJS, *args], cwd=BROWSER_DIR, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.out, self.err = [], []
        threading.Thread(target=self._read, args=(self.proc.stdout, self.out, True),
                         daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.err, False),
                         daemon=True).start()

    def _read(self, f, keep, to_queue):
        for line in f:
            keep.append(line.rstrip("\n"))
            if to_queue:
                self.lines.put(line.strip())
        if to_queue:
            self.lines.put(None)  # EOF

    def output(self):
        return ("stdout: " + " | ".join(self.out[-20:]) + "\nstderr: "
                + "\n  ".join(self.err[-40:]))

    def expect(self, want, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                fail(f"chat.mjs did not print {want!r} within {timeout:.0f} s\n{self.output()}")
            if line is None:
                self.proc.wait(10)
                fail(f"chat.mjs exited ({self.proc.returncode}) before {want!r}\n"
                     f"{self.output()}")
            if line == want:
                return

    def say(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.proc.wait(10)
            fail(f"chat.mjs exited ({self.proc.returncode}) before it read {line!r}\n"
                 f"{self.output()}")

    def stop(self):
        """SIGTERM (playwright closes Chromium on it), then SIGKILL."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def chat_workers(d, oid):
    pids = [p for p in d.children()
            if harness.worker_object(p) == ("chat", oid) and harness.pid_alive(p)]
    for p in pids:
        d.track(p)
    return pids


def admin_state(d):
    with harness.Conn(d.admin_port) as c:
        r = c.request("GET", f"/objects/chat/.name/{ROOM}")
    return r.json().get("state") if r.status == 200 else None


def spawns(d, oid):
    return len(d.log_lines(rf"chat/{oid}: spawned worker"))


def check_png(path):
    check(os.path.isfile(path), f"chat.mjs saved no screenshot at {path}")
    with open(path, "rb") as f:
        data = f.read()
    check(data.startswith(b"\x89PNG\r\n\x1a\n"), f"{path} is not a PNG")
    check(len(data) > 1024, f"{path} is only {len(data)} bytes")


def test(t):
    if os.environ.get("DURO_SKIP_BROWSER") == "1":
        print("  skipped: DURO_SKIP_BROWSER=1", flush=True)
        return
    missing = missing_tools()
    if missing:
        fail("the browser test needs " + ", ".join(missing) + ": run `make deps` "
             "(or set DURO_SKIP_BROWSER=1 to skip it)")
    with harness.Durod(t, namespaces={"chat": {"idle_timeout_ms": 1500}}) as d:
        shot = os.path.join(d.tmp, "chat.png")
        node = Node([f"http://127.0.0.1:{d.port}", shot, ROOM])
        try:
            node.expect("PHASE1 OK", PHASE1_TIMEOUT)
            oid = d.object_id("chat", ROOM)
            n1 = spawns(d, oid)
            check(n1 >= 1, f"no worker of chat/{ROOM} in the log during phase 1")
            asleep = harness.wait_until(
                lambda: not chat_workers(d, oid) and admin_state(d) == "hibernated", 30)
            check(asleep, f"chat/{ROOM} did not hibernate within 30 s (idle_timeout_ms "
                          f"1500): workers {chat_workers(d, oid)}, state {admin_state(d)!r}")
            node.say("CONTINUE")
            node.expect("PHASE2 OK", PHASE2_TIMEOUT)
            n2 = spawns(d, oid)
            check(n2 == n1 + 1, f"the message after hibernation should have started "
                                f"exactly one new worker: {n1} spawn(s) before, {n2} after")
            try:
                rc = node.proc.wait(30)
            except subprocess.TimeoutExpired:
                fail(f"chat.mjs did not exit after PHASE2 OK\n{node.output()}")
            check(rc == 0, f"chat.mjs exited with {rc}\n{node.output()}")
        finally:
            node.stop()
        check_png(shot)
        artifacts = os.path.join(t.build.dir, "test-artifacts")
        os.makedirs(artifacts, exist_ok=True)
        shutil.copyfile(shot, os.path.join(artifacts, "chat.png"))
        print(f"  screenshot: {os.path.join(artifacts, 'chat.png')}", flush=True)


if __name__ == "__main__":
    harness.main(test)
