#!/usr/bin/env python3
"""duroctl, the admin API's command line, against a real durod: status,
objects (filters, paging, names), inspect (by name, by id, --name for a
name that looks like an id), sql on a live and on a hibernated object,
export to a valid SQLite file, delete then import it back, restart,
events (--json and human, spawn and ready lines, a clean end when durod
stops), --help, and the exit codes: 1 for durod's errors, 2 for usage, 3
when durod cannot be reached or answers garbage (a fake server), 4 for a
local file."""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading

import harness
from harness import check, fail

RUN_TIMEOUT = 60
COMMANDS = ("status", "objects", "inspect", "restart", "delete", "events",
            "sql", "export", "import")
KV_SQL = ("SELECT CAST(key AS TEXT) AS k, CAST(value AS TEXT) AS v "
          "FROM _duro_kv WHERE CAST(key AS TEXT) = 'value'")


class Ctl:
    """Runs duroctl against one durod; every run's stderr is checked for
    sanitizer reports."""

    def __init__(self, t, path, admin_port):
        self.t = t
        self.path = path
        self.admin = f"127.0.0.1:{admin_port}"

    def run(self, *args, admin=True, env=None, stdin=None, timeout=RUN_TIMEOUT):
        """(returncode, stdout bytes, stderr text)."""
        cmd = [self.path] + (["--admin", self.admin] if admin else []) + list(args)
        full_env = dict(os.environ)
        full_env.pop("DURO_ADMIN", None)
        full_env.update(env or {})
        p = subprocess.run(cmd, input=stdin, capture_output=True, env=full_env,
                           timeout=timeout)
        err = p.stderr.decode("utf-8", "replace")
        for marker in harness.SANITIZER_MARKERS:
            check(marker not in err, f"duroctl {' '.join(args)}: sanitizer report:\n{err}")
        return p.returncode, p.stdout, err

    def ok(self, *args, **kw):
        """stdout (text) of a run that must exit 0."""
        rc, out, err = self.run(*args, **kw)
        check(rc == 0, f"duroctl {' '.join(args)}: exit {rc}, expected 0; stderr: {err!r}")
        return out.decode("utf-8")

    def json(self, *args):
        out = self.ok(*args, "--json")
        try:
            return json.loads(out)
        except ValueError as e:
            fail(f"duroctl {' '.join(args)} --json: not JSON ({e}): {out!r}")

    def fails(self, rc_want, *args, **kw):
        """stderr of a run that must exit rc_want and print nothing."""
        rc, out, err = self.run(*args, **kw)
        check(rc == rc_want, f"duroctl {' '.join(args)}: exit {rc}, expected {rc_want}; "
                             f"stdout {out[:300]!r}, stderr {err!r}")
        check(out == b"", f"duroctl {' '.join(args)}: failed but printed {out[:300]!r}")
        check(err.startswith("duroctl: "), f"duroctl {' '.join(args)}: stderr {err!r}")
        return err

    def api_error(self, code, status, *args):
        """A durod error: exit 1, "duroctl: MESSAGE (CODE, HTTP STATUS)"."""
        err = self.fails(1, *args)
        check(re.search(rf"^duroctl: .+ \({re.escape(code)}, HTTP {status}\)$", err, re.M),
              f"duroctl {' '.join(args)}: expected an error line ending "
              f"({code}, HTTP {status}), got {err!r}")
        return err


class Stream:
    """duroctl events as a subprocess; a thread collects its lines."""

    def __init__(self, ctl, *args):
        self.args = args
        self.json = "--json" in args
        self.p = subprocess.Popen([ctl.path, "--admin", ctl.admin, "events", *args],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.lines = []
        self.err = b""
        self.rc = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.decode("utf-8", "replace"))

    def events(self):
        """The --json lines so far, parsed (a line that is not JSON fails)."""
        out = []
        for line in list(self.lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                fail(f"duroctl events {' '.join(self.args)}: not a JSON line: {line!r}")
        return out

    def has(self, event, name):
        """A line for this event of counter/<name> arrived."""
        if self.json:
            return any(e.get("event") == event and e.get("ns") == "counter"
                       and e.get("name") == name for e in self.events())
        return any(re.search(rf" {event} +counter/{re.escape(name)} pid \d+", ln)
                   for ln in list(self.lines))

    def stop(self):
        """SIGTERM (as a person's ^C would end it); returns its status."""
        if self.p.poll() is None:
            self.p.terminate()
        return self.wait()

    def wait(self, timeout=harness.IO_TIMEOUT):
        if self.rc is not None:
            return self.rc
        try:
            self.rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            self.rc = "still running after %.0f s" % timeout
        self.reader.join(10)
        self.err = self.p.stderr.read()
        self.p.stderr.close()
        return self.rc


class FakeServer:
    """A TCP server that answers every connection with canned bytes and
    records what it was sent: for the answers durod never gives."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    self.requests.append(data)
                    conn.sendall(self.answer)
                except OSError:
                    pass

    def close(self):
        # Wake the accept() before closing: a thread still blocked in it
        # on a closed descriptor would accept from whatever socket reuses
        # that number next (the next FakeServer), and record its request.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(10)
        self.sock.close()


# ------------------------------------------------------------- scenarios

def check_help_and_usage(t, ctl):
    with t.sub("--help: usage, every command and the exit codes on stdout, exit 0"):
        out = ctl.ok("--help", admin=False)
        check(out.startswith("usage: duroctl"), f"--help: {out[:200]!r}")
        for cmd in COMMANDS:
            check(re.search(rf"^  {cmd}\b", out, re.M), f"--help does not list {cmd}: {out!r}")
        for code in ("0", "1", "2", "3"):
            check(re.search(rf"^  {code}  ", out, re.M),
                  f"--help does not document exit status {code}: {out!r}")
    with t.sub("COMMAND --help: that command's usage, exit 0"):
        for cmd in COMMANDS:
            out = ctl.ok(cmd, "--help", admin=False)
            check(out.startswith(f"usage: duroctl [--admin HOST:PORT] {cmd}"),
                  f"{cmd} --help: {out[:200]!r}")
    with t.sub("usage errors exit 2"):
        for args in ([], ["frobnicate"], ["inspect", "counter"],
                     ["inspect", "counter", "a", "b"], ["objects", "--nope"],
                     ["objects", "--limit", "0"], ["objects", "--limit", "x"],
                     ["sql", "counter", "a", "SELECT 1", "--max-rows", "-1"],
                     ["inspect", "--id", "counter", "not-an-id"],
                     ["inspect", "--id", "--name", "counter", "a" * 64],
                     ["--admin", "nocolon", "status"], ["--admin"]):
            ctl.fails(2, *args, admin=False)


def check_unreachable(t, ctl, d):
    with t.sub("nothing listening: exit 3, naming the address"):
        port = harness.free_port()
        check(harness.connection_refused(port), f"port {port} is in use")
        err = ctl.fails(3, "--admin", f"127.0.0.1:{port}", "status", admin=False)
        check(f"127.0.0.1:{port}" in err, f"the message does not name the address: {err!r}")
    with t.sub("the address: --admin, else $DURO_ADMIN, else 127.0.0.1:8081"):
        dead = f"127.0.0.1:{harness.free_port()}"
        ctl.ok("status", admin=False, env={"DURO_ADMIN": ctl.admin})
        ctl.ok("--admin", ctl.admin, "status", admin=False, env={"DURO_ADMIN": dead})
        err = ctl.fails(3, "status", admin=False, env={"DURO_ADMIN": dead})
        check(dead in err, f"$DURO_ADMIN not used: {err!r}")
        if harness.connection_refused(8081):
            err = ctl.fails(3, "status", admin=False)
            check("127.0.0.1:8081" in err, f"the default address is not 127.0.0.1:8081: {err!r}")


def check_garbage(t, ctl):
    """What durod would never send: still no crash, exit 3 (or 1)."""
    cases = [
        ("not HTTP", b"garbage\r\n\r\n", 3),
        ("200 but not JSON", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 3),
        ("a truncated chunked body",
         b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"status\"", 3),
        ("closed before any answer", b"", 3),
        ("an error that is not JSON",
         b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 12\r\n\r\nproxy broke\n", 1),
    ]
    for what, answer, want in cases:
        with t.sub(f"an answer that is {what}: exit {want}"):
            srv = FakeServer(answer)
            try:
                ctl.fails(want, "--admin", f"127.0.0.1:{srv.port}", "status", admin=False)
            finally:
                srv.close()
    with t.sub("a name is sent as .name/<percent-encoded>, an id as itself"):
        body = b'{"error":"not_found","message":"no such thing"}'
        srv = FakeServer(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        try:
            admin = f"127.0.0.1:{srv.port}"
            ctl.run("--admin", admin, "inspect", "counter", "a b/c?\u00e9", admin=False)
            ctl.run("--admin", admin, "sql", "--name", "counter", "f" * 64, "SELECT 1",
                    "--max-rows", "3", admin=False)
            ctl.run("--admin", admin, "restart", "counter", "f" * 64, admin=False)
            lines = [r.split(b"\r\n", 1)[0].decode() for r in srv.requests]
            check(lines == ["GET /objects/counter/.name/a%20b%2Fc%3F%C3%A9 HTTP/1.1",
                            f"POST /objects/counter/.name/{'f' * 64}/sql?max_rows=3 HTTP/1.1",
                            f"POST /objects/counter/{'f' * 64}/restart HTTP/1.1"],
                  f"request lines: {lines}")
        finally:
            srv.close()


def check_status(t, ctl, d):
    with t.sub("status: a summary, and --json as durod said it"):
        out = ctl.ok("status")
        check(re.search(r"^status:\s+ok$", out, re.M), f"status: {out!r}")
        check(re.search(rf"^pid:\s+{d.pid}$", out, re.M), f"status: no pid {d.pid}: {out!r}")
        for word in ("uptime:", "objects:", "live workers", "namespaces:", "alarms:"):
            check(word in out, f"status: no {word!r}: {out!r}")
        j = ctl.json("status")
        check(j.get("status") == "ok" and j.get("pid") == d.pid, f"status --json: {j}")


def check_objects(t, ctl, d, oid_a, pid_a, oid_hex, hexname):
    with t.sub("objects --ns counter: a table with the named object"):
        out = ctl.ok("objects", "--ns", "counter")
        lines = out.splitlines()
        check(lines and lines[0].split() == ["NS", "ID", "NAME", "STATE", "PID"],
              f"objects: header {lines[:1]}")
        row = [ln.split() for ln in lines[1:] if ln.split()[1] == oid_a[:16] + "\u2026"]
        check(row and row[0][0] == "counter" and row[0][2] == "a" and row[0][3] == "idle"
              and row[0][4] == str(pid_a), f"objects: no row for counter/a: {out!r}")
        check(all(ln.split()[0] == "counter" for ln in lines[1:]),
              f"objects --ns counter lists another namespace: {out!r}")
    with t.sub("objects --long prints whole ids"):
        out = ctl.ok("objects", "--ns", "counter", "--long")
        check(oid_a in out, f"objects --long: no {oid_a}: {out!r}")
    with t.sub("objects --json: one object per line"):
        objs = [json.loads(ln) for ln in ctl.ok("objects", "--ns", "counter",
                                                "--json").splitlines()]
        a = [o for o in objs if o.get("id") == oid_a]
        check(a and a[0].get("name") == "a" and a[0].get("ns") == "counter"
              and a[0].get("state") == "idle" and a[0].get("pid") == pid_a,
              f"objects --json: counter/a is {a}")
        h = [o for o in objs if o.get("id") == oid_hex]
        check(h and h[0].get("name") == hexname, f"objects --json: the hex-named one is {h}")
    with t.sub("objects --state active lists live objects only"):
        objs = [json.loads(ln) for ln in ctl.ok("objects", "--state", "active",
                                                "--json").splitlines()]
        check(oid_a in [o["id"] for o in objs], f"--state active: no counter/a in {objs}")
        check(all(o.get("state") in ("idle", "busy") for o in objs),
              f"--state active: {objs}")
    with t.sub("objects pages: --limit, the hint on stderr, --after, --all"):
        rc, out, err = ctl.run("objects", "--ns", "counter", "--limit", "1", "--json")
        check(rc == 0 and len(out.splitlines()) == 1, f"--limit 1: exit {rc}, {out!r}")
        m = re.search(r"^more: use --all or --after (\S+)$", err, re.M)
        check(m, f"--limit 1 of several: no hint on stderr: {err!r}")
        first = json.loads(out)
        second = ctl.ok("objects", "--ns", "counter", "--limit", "1", "--json",
                        "--after", m.group(1))
        check(json.loads(second.splitlines()[0])["id"] != first["id"],
              f"--after gave the same object again: {second!r}")
        rc, out, err = ctl.run("objects", "--ns", "counter", "--limit", "1", "--all", "--json")
        ids = [json.loads(ln)["id"] for ln in out.decode().splitlines()]
        check(rc == 0 and len(ids) >= 3 and len(set(ids)) == len(ids)
              and {oid_a, oid_hex} <= set(ids),
              f"--all --limit 1: exit {rc}, ids {ids}, stderr {err!r}")
        check("more:" not in err, f"--all still hints at more: {err!r}")


def check_inspect(t, ctl, oid_a, pid_a, hexname, oid_hex):
    with t.sub("inspect by name: key: value lines"):
        out = ctl.ok("inspect", "counter", "a")
        for key, value in (("ns", "counter"), ("id", oid_a), ("name", "a"),
                           ("state", "idle"), ("pid", str(pid_a))):
            check(re.search(rf"^{key}:\s+{re.escape(value)}$", out, re.M),
                  f"inspect: no {key}: {value}: {out!r}")
    with t.sub("inspect --json, by name and by id"):
        j = ctl.json("inspect", "counter", "a")
        check(j.get("id") == oid_a and j.get("name") == "a" and j.get("pid") == pid_a
              and j.get("events_served", 0) >= 2, f"inspect --json: {j}")
        j = ctl.json("inspect", "counter", oid_a)
        check(j.get("name") == "a", f"inspect by id: {j}")
    with t.sub("inspect --name: a name that looks like an id"):
        j = ctl.json("inspect", "--name", "counter", hexname)
        check(j.get("id") == oid_hex and j.get("name") == hexname, f"inspect --name: {j}")
        # Without --name it is taken as an id, which durod did not make.
        ctl.api_error("bad_id", 400, "inspect", "counter", hexname)
    with t.sub("an unknown namespace: exit 1 with durod's error"):
        ctl.api_error("unknown_namespace", 404, "inspect", "nosuchns", "a")


def check_sql_live(t, ctl, d, c, pid_a):
    with t.sub("sql on a live object: a table with the counter"):
        out = ctl.ok("sql", "counter", "a", KV_SQL)
        lines = out.splitlines()
        check(len(lines) == 4, f"sql: {out!r}")
        check(lines[0].split("|")[0].strip() == "k" and lines[0].split("|")[1].strip() == "v",
              f"sql: header {lines[0]!r}")
        check(set(lines[1]) <= set("-+"), f"sql: rule {lines[1]!r}")
        check([x.strip() for x in lines[2].split("|")] == ["value", "42"], f"sql: row {lines[2]!r}")
        check(lines[3] == "(1 row)", f"sql: footer {lines[3]!r}")
        check(d.counter(c, "/counter/a")["pid"] == pid_a, "sql disturbed the live worker")
    with t.sub("sql --json: columns and rows"):
        j = ctl.json("sql", "counter", "a", KV_SQL)
        check(j.get("columns") == ["k", "v"] and j.get("rows") == [["value", "42"]]
              and j.get("truncated") is False, f"sql --json: {j}")
    with t.sub("sql: NULL, blobs and 64-bit integers exactly"):
        out = ctl.ok("sql", "counter", "a",
                     "SELECT NULL AS n, x'00ff' AS b, 9007199254740993 AS big, "
                     "-9223372036854775808 AS least")
        row = [x.strip() for x in out.splitlines()[2].split("|")]
        check(row == ["NULL", "x'00ff'", "9007199254740993", "-9223372036854775808"],
              f"sql: {out!r}")
    with t.sub("sql --max-rows: truncated"):
        q = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5) SELECT x FROM c"
        out = ctl.ok("sql", "counter", "a", q, "--max-rows", "2")
        check(out.splitlines()[-1] == "(2 rows, truncated)", f"sql --max-rows 2: {out!r}")
        out = ctl.ok("sql", "counter", "a", q)
        check(out.splitlines()[-1] == "(5 rows)", f"sql: {out!r}")
    with t.sub("sql from stdin"):
        out = ctl.ok("sql", "counter", "a", "-", stdin=KV_SQL.encode())
        check("42" in out and out.splitlines()[-1] == "(1 row)", f"sql -: {out!r}")
    with t.sub("sql errors: exit 1 with durod's code"):
        ctl.api_error("not_read_only", 400, "sql", "counter", "a", "DELETE FROM _duro_kv")
        ctl.api_error("sql_error", 400, "sql", "counter", "a", "SELEC 1")
        check(d.counter(c, "/counter/a")["value"] == 42, "a refused DELETE changed the counter")


def wait_hibernated(ctl, ns, name):
    """The admin API says the object is hibernated (polled, no sleep)."""
    last = {}

    def hibernated():
        nonlocal last
        rc, out, _ = ctl.run("inspect", ns, name, "--json")
        last = json.loads(out) if rc == 0 else {"exit": rc}
        return last.get("state") == "hibernated" and last.get("pid") is None

    check(harness.wait_until(hibernated, 30, interval=0.05, max_interval=0.5),
          f"{ns}/{name} not hibernated within 30 s: {last}")


def check_sql_hibernated(t, ctl, d, c):
    with t.sub("sql on a hibernated object, without waking it"):
        w = harness.Proc(d.counter(c, "/sleepy/s")["pid"])
        check(not harness.wait_gone([w], 30), f"{w} not hibernated within 30 s")
        wait_hibernated(ctl, "sleepy", "s")
        out = ctl.ok("sql", "sleepy", "s", KV_SQL)
        check([x.strip() for x in out.splitlines()[2].split("|")] == ["value", "7"],
              f"sql on a hibernated object: {out!r}")
        j = ctl.json("inspect", "sleepy", "s")
        check(j.get("state") == "hibernated", f"the sql woke the object: {j}")
        objs = [json.loads(ln) for ln in ctl.ok("objects", "--ns", "sleepy", "--state",
                                                "hibernated", "--json").splitlines()]
        check([o.get("name") for o in objs] == ["s"] and objs[0].get("pid") is None,
              f"objects --state hibernated: {objs}")


def check_export_delete_import(t, ctl, d, c, oid_a, tmp):
    path = os.path.join(tmp, "a.db")
    with t.sub("export: a valid SQLite file with the counter"):
        rc, out, err = ctl.run("export", "counter", "a", path)
        check(rc == 0 and out == b"", f"export: exit {rc}, stdout {out[:100]!r}, stderr {err!r}")
        size = os.path.getsize(path)
        check(re.search(rf"\b{size} bytes\b", err), f"export: bytes not on stderr: {err!r}")
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "export: corrupt")
            check(db.execute(KV_SQL).fetchall() == [("value", "42")],
                  "export: the counter is not in the file")
        finally:
            db.close()
        check(os.listdir(tmp) == ["a.db"], f"export left files behind: {os.listdir(tmp)}")
    with t.sub("export -: the database on stdout"):
        rc, out, err = ctl.run("export", "counter", "a", "-")
        check(rc == 0 and out.startswith(b"SQLite format 3\0"),
              f"export -: exit {rc}, {out[:32]!r}, {err!r}")
    with t.sub("export of an unknown object's namespace: exit 1, no file"):
        ctl.api_error("unknown_namespace", 404, "export", "nosuchns", "a",
                      os.path.join(tmp, "none.db"))
        check(os.listdir(tmp) == ["a.db"], f"a failed export left files: {os.listdir(tmp)}")

    with t.sub("delete: prints the id; twice is an error"):
        out = ctl.ok("delete", "counter", "a")
        check(out == f"deleted {oid_a}\n", f"delete: {out!r}")
        ctl.api_error("not_found", 404, "delete", "counter", "a")
    with t.sub("import the export: the object serves its old value"):
        j = ctl.json("import", "counter", "a", path)
        check(j.get("imported") is True and j.get("bytes") == os.path.getsize(path),
              f"import --json: {j}")
        check(d.counter(c, "/counter/a")["value"] == 42, "after import the counter is not 42")
        check(d.incr(c, "/counter/a") == 43, "after import incr does not continue at 43")
        out = ctl.ok("import", "counter", "a", path)
        check(out.startswith("imported "), f"import: {out!r}")
        check(d.counter(c, "/counter/a")["value"] == 42, "a second import did not restore 42")
    with t.sub("import errors: not a database (1), no such file (4)"):
        junk = os.path.join(tmp, "junk.db")
        with open(junk, "wb") as f:
            f.write(b"this is not a database\n" * 100)
        ctl.api_error("bad_database", 400, "import", "counter", "a", junk)
        os.unlink(junk)
        ctl.fails(4, "import", "counter", "a", os.path.join(tmp, "missing.db"))
        check(d.counter(c, "/counter/a")["value"] == 42, "a failed import changed the counter")


def check_restart(t, ctl, d, c, oid_a):
    with t.sub("restart: a new worker, the same value"):
        before = harness.Proc(d.counter(c, "/counter/a")["pid"])
        out = ctl.ok("restart", "counter", "a")
        check(out.startswith(f"restarted {oid_a}"), f"restart: {out!r}")
        check(not harness.wait_gone([before]), f"the old worker {before} outlived the restart")
        after = d.counter(c, "/counter/a")
        check(after["pid"] != before.pid and after["value"] == 42, f"after restart: {after}")
        j = ctl.json("restart", "counter", oid_a)
        check(j.get("id") == oid_a and j.get("restarted") is True, f"restart --json: {j}")


def touch_until_seen(d, c, streams, prefix):
    """Touch fresh objects until every stream shows one's spawn: the
    streams are subscribed then. Returns that object's name."""
    for i in range(20):
        name = f"{prefix}{i}"
        d.incr(c, f"/counter/{name}")
        if harness.wait_until(lambda: all(s.has("spawn", name) for s in streams), 3):
            return name
    fail("no duroctl events stream showed a spawn within 20 objects: "
         + "; ".join(f"{s.args}: {s.lines[-5:]}" for s in streams))


def check_events(t, d, c, js, human):
    # Not a sub-check: the rest needs the streams to work at all.
    name = touch_until_seen(d, c, [js, human], "ev")
    with t.sub("events --json: spawn and ready of a touched object"):
        oid = d.object_id("counter", name)
        check(harness.wait_until(lambda: js.has("ready", name), 10),
              f"no ready event for counter/{name}: {js.lines[-10:]}")
        ev = [e for e in js.events() if e.get("name") == name]
        kinds = [e.get("event") for e in ev]
        check(kinds.index("spawn") < kinds.index("ready"), f"events out of order: {kinds}")
        spawn, ready = ev[kinds.index("spawn")], ev[kinds.index("ready")]
        check(spawn.get("id") == oid and spawn.get("ns") == "counter"
              and isinstance(spawn.get("ts"), int) and isinstance(spawn.get("pid"), int)
              and ready.get("pid") == spawn.get("pid"), f"spawn {spawn}, ready {ready}")
    with t.sub("events: human lines for spawn and ready, with local time"):
        check(harness.wait_until(lambda: human.has("ready", name), 10),
              f"no human ready line for counter/{name}: {human.lines[-10:]}")
        line = [ln for ln in human.lines if f"counter/{name} " in ln][0]
        check(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d) "
                       r"spawn ", line),
              f"a human line does not start with its local time: {line!r}")
    with t.sub("events --json ends on SIGTERM"):
        rc = js.stop()
        check(rc == -signal.SIGTERM, f"duroctl events exited {rc} on SIGTERM")


def check_events_end(t, d, human):
    """durod stops: the stream ends cleanly and duroctl exits 0."""
    with t.sub("events ends with exit 0 when durod ends the stream"):
        for conn in d.conns:
            conn.close()
        d.signal(signal.SIGTERM)
        d.wait_exit()
        rc = human.wait()
        check(rc == 0, f"duroctl events exited {rc} when durod stopped; stderr "
                       f"{human.err!r}")


def test(t):
    duroctl = os.path.join(t.build.dir, "duroctl")
    check(os.access(duroctl, os.X_OK), f"{duroctl} is missing; run make")
    ns = {
        "counter": {},
        # The same worker, hibernating after 300 ms idle.
        "sleepy": {"exec": [t.build.counter], "idle_timeout_ms": 300,
                   "hibernate_grace_ms": 60000},
    }
    tmp = tempfile.mkdtemp(prefix="duroctl-it-")
    with harness.Durod(t, namespaces=ns) as d:
        ctl = Ctl(t, duroctl, d.admin_port)
        c = d.client()
        check_help_and_usage(t, ctl)
        check_unreachable(t, ctl, d)
        check_garbage(t, ctl)

        check(d.incr(c, "/counter/a") == 1 and d.incr(c, "/counter/a", 41) == 42, "counter/a")
        pid_a = d.counter(c, "/counter/a")["pid"]
        oid_a = d.object_id("counter", "a")
        hexname = "ab" * 32  # a name that looks like an id
        check(d.incr(c, f"/counter/{hexname}") == 1, "the hex-named object")
        oid_hex = d.object_id("counter", hexname)
        check(d.incr(c, "/counter/b") == 1, "counter/b")
        check(d.incr(c, "/sleepy/s", 7) == 7, "sleepy/s")

        check_status(t, ctl, d)
        check_objects(t, ctl, d, oid_a, pid_a, oid_hex, hexname)
        check_inspect(t, ctl, oid_a, pid_a, hexname, oid_hex)
        check_sql_live(t, ctl, d, c, pid_a)
        check_sql_hibernated(t, ctl, d, c)
        check_export_delete_import(t, ctl, d, c, oid_a, tmp)
        check_restart(t, ctl, d, c, oid_a)
        js, human = Stream(ctl, "--json"), Stream(ctl)
        try:
            check_events(t, d, c, js, human)
            check_events_end(t, d, human)
        finally:
            js.stop()
            human.stop()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    harness.main(test)
