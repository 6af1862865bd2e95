#!/usr/bin/env python3
"""The counter example worker in Python, standard library only.

It speaks protocol 1 (ipc/PROTOCOL.md) on a plain Unix stream socket using
nng's SP-over-IPC framing, without any nng binding, keeps its state in the
object's SQLite database with the sqlite3 module, and offers alarms: proof
that the spec is enough to write a worker with durable storage and alarms.
Same routes as examples/counter.c:

    GET    /              {"value":N,"alarms_fired":F,"pid":P}, plus
                          "last_alarm":{"name":A,"scheduled":T,"ran":T,
                          "retry":R} once an alarm has run
    POST   /incr?by=K     {"value":N}   (K an integer, default 1)
    POST   /alarm?in_ms=T[&every_ms=P][&name=A][&fail=K]
                          sets alarm A (default "", the default alarm) to
                          now + T ms, repeating every P ms if P > 0:
                          {"name":A,"at":T}. With fail=K its handler fails
                          (error "handler_failed") while the retry count it
                          is run with is below K.
    GET    /alarms        {"alarms":[{"name":A,"at":T,"every":P},...]}
    DELETE /alarm?name=A  deletes alarm A (default ""): {"deleted":A}

The alarm handler counts its runs in alarms_fired and records the run as
last_alarm (times are epoch ms), in the alarm event's transaction.

Errors are JSON {"error": code, "message": ...}: 400 for a bad parameter,
404 for other paths, 405 for a wrong method.

Storage (PROTOCOL.md section 3): the worker locks the object's directory,
opens $DURO_STORAGE in WAL mode and commits each event's writes in one
transaction before it replies; a failed event commits nothing. Its tables
are counter (value, alarms_fired), last_alarm, alarm_fail (the fail=K
counts) and alarms (name, at_ms, every_ms): the truth about its alarms,
which it reports to durod as section 14 says.
"""

import fcntl
import json
import os
import re
import socket
import sqlite3
import struct
import sys
import time
import urllib.parse

PROTOCOL = 1
SP_HEADER = b"\x00SP\x00" + struct.pack(">H", 16) + b"\x00\x00"  # pair0
MAX_HEADER = 256 * 1024
MAX_BODY = 32 * 1024 * 1024
MAX_FRAME = 4 + MAX_HEADER + MAX_BODY
MAX_ID = 1 << 53
MAX_TIME = 1 << 53
MAX_HEADERS = 1024
MAX_ALARM_NAME = 256
MAX_RETRY = 65535
TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
INT64 = (-(1 << 63), (1 << 63) - 1)

SCHEMA = """
CREATE TABLE IF NOT EXISTS counter (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS last_alarm (
    one INTEGER PRIMARY KEY CHECK (one = 1), name TEXT NOT NULL,
    scheduled INTEGER NOT NULL, ran INTEGER NOT NULL, retry INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alarm_fail (name TEXT PRIMARY KEY, fail INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    name TEXT PRIMARY KEY, at_ms INTEGER NOT NULL, every_ms INTEGER NOT NULL);
"""


class Malformed(Exception):
    """durod sent a frame that breaks the protocol: exit 2."""


class Gone(Exception):
    """durod closed the connection: exit 0."""


class Failed(Exception):
    """The event fails: roll back and reply error with this code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def log(msg):
    print("counter.py: " + msg, file=sys.stderr, flush=True)


def now_ms():
    return time.time_ns() // 1000000


# ---- transport: SP over IPC (PROTOCOL.md section 2) ----


class Pipe:
    def __init__(self, url):
        if not url.startswith("ipc://"):
            raise OSError("DURO_IPC is not an ipc:// URL: " + url)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(url[len("ipc://"):])
        self.sock.sendall(SP_HEADER)
        peer = self.read_exactly(8)
        if peer != SP_HEADER:
            raise OSError("durod's SP header is %s, not pair0" % peer.hex())

    def read_exactly(self, n):
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except ConnectionResetError:
                raise Gone()
            if not chunk:
                raise Gone()
            buf += chunk
        return bytes(buf)

    def recv(self):
        head = self.read_exactly(9)
        if head[0] != 1:
            raise Malformed("SP message type %d" % head[0])
        (length,) = struct.unpack(">Q", head[1:])
        if length > MAX_FRAME:
            raise Malformed("message of %d bytes" % length)
        return self.read_exactly(length)

    def send(self, payload):
        try:
            self.sock.sendall(b"\x01" + struct.pack(">Q", len(payload)) + payload)
        except (BrokenPipeError, ConnectionResetError):
            raise Gone()


# ---- frames (PROTOCOL.md sections 4 and 5) ----


def encode(header, body=b""):
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    h = h.encode("utf-8", "surrogateescape")
    return struct.pack(">I", len(h)) + h + body


def integer(v, lo, hi):
    """A JSON integer in [lo, hi] (1.0 counts), else None."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float) and not v.is_integer():
        return None
    return int(v) if lo <= v <= hi else None


def check_headers(msg):
    hs = msg.get("headers", [])
    if not isinstance(hs, list) or len(hs) > MAX_HEADERS:
        raise Malformed("headers: not an array of at most %d" % MAX_HEADERS)
    for pair in hs:
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(x, str) for x in pair)):
            raise Malformed("headers: not [name, value] string pairs")
        name, value = pair
        if not TOKEN.match(name) or re.search(r"[\x00-\x08\x0a-\x1f\x7f]", value):
            raise Malformed("headers: illegal name or value")


def check_request(msg):
    method, path, query = msg.get("method"), msg.get("path"), msg.get("query", "")
    if msg["id"] == 0:
        raise Malformed("request without id")
    if not isinstance(method, str) or not TOKEN.match(method) or len(method) > 32:
        raise Malformed("request: bad method")
    if not isinstance(path, str) or not path.startswith("/"):
        raise Malformed("request: bad path")
    if not isinstance(query, str):
        raise Malformed("request: bad query")
    check_headers(msg)


def alarm_name_ok(name):
    """A string of 0-256 bytes of UTF-8 without NUL (section 4)."""
    if not isinstance(name, str) or "\0" in name:
        return False
    try:
        return len(name.encode("utf-8")) <= MAX_ALARM_NAME
    except UnicodeEncodeError:  # a lone surrogate: the bytes were not UTF-8
        return False


def check_alarm(msg):
    if msg["id"] == 0:
        raise Malformed("alarm without id")
    if not alarm_name_ok(msg.get("name")):
        raise Malformed("alarm: name is not a string of 0-%d bytes of UTF-8"
                        % MAX_ALARM_NAME)
    msg["scheduled"] = integer(msg.get("scheduled"), 0, MAX_TIME)
    if msg["scheduled"] is None:
        raise Malformed("alarm: scheduled missing or not an integer in 0..2^53")
    msg["retry"] = integer(msg.get("retry", 0), 0, MAX_RETRY)
    if msg["retry"] is None:
        raise Malformed("alarm: retry not an integer in 0..65535")
    if not isinstance(msg.get("final", False), bool):
        raise Malformed("alarm: final is not a boolean")


def check_alarm_ack(msg):
    if not isinstance(msg.get("ok"), bool):
        raise Malformed("alarm_ack: ok missing or not a boolean")
    if not isinstance(msg.get("message", ""), str):
        raise Malformed("alarm_ack: message is not a string")


def decode(frame):
    """(header dict, body bytes); raises Malformed like ipc_decode()."""
    if len(frame) < 4:
        raise Malformed("frame of %d bytes" % len(frame))
    (hlen,) = struct.unpack(">I", frame[:4])
    if hlen > MAX_HEADER or hlen > len(frame) - 4:
        raise Malformed("header length %d in a frame of %d" % (hlen, len(frame)))
    if len(frame) - 4 - hlen > MAX_BODY:
        raise Malformed("body too large")
    try:
        # Request header values may carry raw bytes 0x80-0xff: be lenient.
        msg = json.loads(frame[4:4 + hlen].decode("utf-8", "surrogateescape"))
    except ValueError as e:
        raise Malformed("header is not JSON: %s" % e)
    if not isinstance(msg, dict):
        raise Malformed("header is not a JSON object")
    if not isinstance(msg.get("type"), str) or not msg["type"]:
        raise Malformed("type: missing or not a string")
    msg["id"] = integer(msg.get("id", 0), 0, MAX_ID)
    if msg["id"] is None:
        raise Malformed("id: not an integer in 0..2^53")
    if msg["type"] == "request":
        check_request(msg)
    elif msg["type"] == "alarm":
        check_alarm(msg)
    elif msg["type"] == "alarm_ack":
        check_alarm_ack(msg)
    return msg, frame[4 + hlen:]


def alarm_entry(name, state):
    """An "alarms" list entry (section 4): set, or deleted when state is None."""
    if state is None:
        return {"name": name}
    return {"name": name, "at": state[0], "every": state[1]}


# ---- storage (PROTOCOL.md section 3) ----


def open_storage(env):
    """(lock fd, connection), or raises OSError / sqlite3.Error / ValueError.
    The lock fd stays open, and the lock held, for the process's life."""
    path = env["DURO_STORAGE"]
    sync = env.get("DURO_SYNCHRONOUS") or "FULL"
    if sync not in ("FULL", "NORMAL"):
        raise ValueError("DURO_SYNCHRONOUS is %r, not FULL or NORMAL" % sync)
    limit = env.get("DURO_STORAGE_LIMIT_MB") or "1024"
    if not re.fullmatch(r"[0-9]{1,9}", limit) or int(limit) == 0:
        raise ValueError("DURO_STORAGE_LIMIT_MB is %r, not a positive integer" % limit)
    # One writer: a worker of this object that is still dying holds the
    # lock until the kernel has reaped it, so wait for it before opening.
    lockfd = os.open(os.path.dirname(os.path.abspath(path)),
                     os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(lockfd, fcntl.LOCK_EX)
    # isolation_level=None: no implicit transactions, only our BEGINs.
    db = sqlite3.connect(path, isolation_level=None, timeout=10)
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise sqlite3.OperationalError("journal_mode is %s, not wal" % mode)
    db.execute("PRAGMA synchronous=" + sync)
    page = db.execute("PRAGMA page_size").fetchone()[0]
    db.execute("PRAGMA max_page_count=%d" % (int(limit) * 1048576 // page))
    db.execute("BEGIN IMMEDIATE")
    try:
        for stmt in SCHEMA.split(";"):  # not executescript: it COMMITs first
            if stmt.strip():
                db.execute(stmt)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return lockfd, db


def storage_failure(e):
    """The error reply for a failed SQLite call (section 5 codes)."""
    name = getattr(e, "sqlite_errorname", "")
    if name == "SQLITE_FULL" or (not name and "is full" in str(e)):
        return Failed("storage_full", str(e))
    return Failed("storage_failed", str(e))


class Txn:
    """One transaction of an event. It remembers each alarm's state before
    the transaction first changed it, for rules 1 and 2 of section 14."""

    def __init__(self, db):
        self.db = db
        self.before = {}  # name -> (at, every) or None
        self.resync = set()  # the alarm being delivered, if its handler set it
        db.execute("BEGIN IMMEDIATE")

    def one(self, sql, args=()):
        return self.db.execute(sql, args).fetchone()

    def exec(self, sql, args=()):
        self.db.execute(sql, args)

    def alarm(self, name):
        row = self.one("SELECT at_ms, every_ms FROM alarms WHERE name = ?", (name,))
        return tuple(row) if row else None

    def set_alarm(self, name, at, every):
        self.before.setdefault(name, self.alarm(name))
        self.exec("INSERT INTO alarms (name, at_ms, every_ms) VALUES (?, ?, ?) "
                  "ON CONFLICT (name) DO UPDATE SET at_ms = excluded.at_ms, "
                  "every_ms = excluded.every_ms", (name, at, every))

    def delete_alarm(self, name):
        self.before.setdefault(name, self.alarm(name))
        self.exec("DELETE FROM alarms WHERE name = ?", (name,))

    def retire(self, name, at, every, now):
        """After a run: a one-shot alarm goes, a repeating one moves to its
        next occurrence after now, keeping its phase."""
        if every == 0:
            self.delete_alarm(name)
        else:
            k = max(1, (now - at) // every + 1)  # smallest k >= 1: at + k*every > now
            self.set_alarm(name, at + k * every, every)

    def changed(self):
        """Names of the alarms whose state differs from before."""
        return [n for n, b in self.before.items() if self.alarm(n) != b]

    def earlier(self):
        """Rule 1's alarm_sync list: alarms set anew or moved earlier, and
        the alarm being delivered if its handler set it (to any time)."""
        out = []
        for name, b in self.before.items():
            a = self.alarm(name)
            if a is not None and (b is None or a[0] < b[0] or name in self.resync):
                out.append(alarm_entry(name, a))
        return out


# ---- the counter ----


class Counter:
    """The application: HTTP routes and the alarm handler, on a Txn."""

    def get(self, txn, key):
        row = txn.one("SELECT v FROM counter WHERE k = ?", (key,))
        return row[0] if row else 0

    def put(self, txn, key, value):
        txn.exec("INSERT INTO counter (k, v) VALUES (?, ?) "
                 "ON CONFLICT (k) DO UPDATE SET v = excluded.v", (key, value))

    def handle(self, txn, method, path, query):
        """(status, extra headers, JSON-able body)."""
        routes = {"/": ("GET", self.show), "/incr": ("POST", self.incr),
                  "/alarms": ("GET", self.list_alarms)}
        if path == "/alarm":
            if method == "POST":
                return self.set_alarm(txn, query)
            if method == "DELETE":
                return self.delete_alarm(txn, query)
            return not_allowed(method, path, "POST, DELETE")
        if path not in routes:
            return error(404, "not_found", "no route %s" % path)
        allow, fn = routes[path]
        if method != allow:
            return not_allowed(method, path, allow)
        return fn(txn, query)

    def show(self, txn, query):
        out = {"value": self.get(txn, "value"),
               "alarms_fired": self.get(txn, "alarms_fired"), "pid": os.getpid()}
        row = txn.one("SELECT name, scheduled, ran, retry FROM last_alarm")
        if row:
            out["last_alarm"] = dict(zip(("name", "scheduled", "ran", "retry"), row))
        return 200, [], out

    def incr(self, txn, query):
        by, why = param_int(query, "by", 1, *INT64)
        if why:
            return error(400, "bad_request", why)
        value = self.get(txn, "value")
        if not INT64[0] <= value + by <= INT64[1]:
            return error(400, "bad_request", "value %d + %d would overflow" % (value, by))
        self.put(txn, "value", value + by)
        return 200, [], {"value": value + by}

    def set_alarm(self, txn, query):
        now = now_ms()
        name, why = param_name(query)
        in_ms, why = (None, why) if why else param_int(query, "in_ms", None, 0,
                                                         MAX_TIME - now)
        every, why = (None, why) if why else param_int(query, "every_ms", 0, 0, MAX_TIME)
        fail, why = (None, why) if why else param_int(query, "fail", 0, 0, INT64[1])
        if not why and in_ms is None:
            why = "in_ms: required"
        if why:
            return error(400, "bad_request", why)
        txn.set_alarm(name, now + in_ms, every)
        if fail > 0:
            txn.exec("INSERT INTO alarm_fail (name, fail) VALUES (?, ?) ON CONFLICT "
                     "(name) DO UPDATE SET fail = excluded.fail", (name, fail))
        else:
            txn.exec("DELETE FROM alarm_fail WHERE name = ?", (name,))
        return 200, [], {"name": name, "at": now + in_ms}

    def delete_alarm(self, txn, query):
        name, why = param_name(query)
        if why:
            return error(400, "bad_request", why)
        txn.delete_alarm(name)
        txn.exec("DELETE FROM alarm_fail WHERE name = ?", (name,))
        return 200, [], {"deleted": name}

    def list_alarms(self, txn, query):
        rows = txn.db.execute("SELECT name, at_ms, every_ms FROM alarms ORDER BY name")
        return 200, [], {"alarms": [{"name": n, "at": a, "every": e} for n, a, e in rows]}

    def on_alarm(self, txn, name, scheduled, retry):
        """The alarm handler; raises Failed to fail the run."""
        row = txn.one("SELECT fail FROM alarm_fail WHERE name = ?", (name,))
        if row and retry < row[0]:
            raise Failed("handler_failed", "alarm %r fails on purpose (retry %d of "
                         "fail=%d)" % (name, retry, row[0]))
        self.put(txn, "alarms_fired", self.get(txn, "alarms_fired") + 1)
        txn.exec("INSERT OR REPLACE INTO last_alarm (one, name, scheduled, ran, retry) "
                 "VALUES (1, ?, ?, ?, ?)", (name, scheduled, now_ms(), retry))


def query_params(query):
    """{key: first value}, percent-decoded as UTF-8; None if it is not."""
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True,
                                       encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    out = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def param_int(query, key, default, lo, hi):
    """(value, None) or (None, why)."""
    params = query_params(query)
    if params is None:
        return None, "query: not UTF-8"
    if key not in params:
        return default, None
    if not re.fullmatch(r"[+-]?[0-9]+", params[key]):
        return None, "%s: must be an integer" % key
    v = int(params[key])
    if not lo <= v <= hi:
        return None, "%s: out of range %d..%d" % (key, lo, hi)
    return v, None


def param_name(query):
    """The alarm name from ?name= (default ""): (name, None) or (None, why)."""
    params = query_params(query)
    if params is None:
        return None, "query: not UTF-8"
    name = params.get("name", "")
    if not alarm_name_ok(name):
        return None, "name: at most %d bytes of UTF-8, no NUL" % MAX_ALARM_NAME
    return name, None


def error(status, code, message, headers=()):
    return status, list(headers), {"error": code, "message": message}


def not_allowed(method, path, allow):
    return error(405, "method_not_allowed", "%s %s: use %s" % (method, path, allow),
                 [["Allow", allow]])


# ---- events (PROTOCOL.md sections 6 and 14) ----


class Worker:
    def __init__(self, pipe, db, app):
        self.pipe, self.db, self.app = pipe, db, app

    def send(self, header, body=b""):
        self.pipe.send(encode(header, body))

    def alarm_sync(self, alarms):
        """Rule 1: durod indexes these wake-ups durably before we commit."""
        self.send({"type": "alarm_sync", "alarms": alarms})
        # Turn-based: durod sends nothing else while an event is in flight.
        msg, _ = decode(self.pipe.recv())
        if msg["type"] != "alarm_ack":
            raise Malformed("%r while waiting for alarm_ack" % msg["type"])
        if not msg["ok"]:
            raise Failed("alarm_unavailable", msg.get("message") or "alarm_sync refused")

    def transaction(self, fn):
        """Run fn(txn) in one transaction and commit it, rule 1 first.
        Returns (fn's result, names of the alarms it changed); on any
        failure rolls back and raises Failed (or Gone / Malformed)."""
        try:
            txn = Txn(self.db)
        except sqlite3.Error as e:
            raise storage_failure(e)
        try:
            result = fn(txn)
            changed = txn.changed()
            earlier = txn.earlier()
            if earlier:
                self.alarm_sync(earlier)
            self.db.execute("COMMIT")
            return result, changed
        except BaseException as e:
            if self.db.in_transaction:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error as e2:
                    log("rollback failed: %s" % e2)
            if isinstance(e, (Failed, Gone, Malformed)) or not isinstance(e, Exception):
                raise
            if isinstance(e, sqlite3.Error):
                raise storage_failure(e)
            raise Failed("handler_failed", "%s: %s" % (type(e).__name__, e))

    def committed(self, names):
        """Rule 2: the committed state of these alarms, as an "alarms" list."""
        out = []
        for name in sorted(set(names)):
            row = self.db.execute("SELECT at_ms, every_ms FROM alarms WHERE name = ?",
                                  (name,)).fetchone()
            out.append(alarm_entry(name, tuple(row) if row else None))
        return out

    def fail(self, mid, e):
        self.send({"type": "error", "id": mid, "code": e.code,
                   "message": " ".join(str(e).split())})

    def on_request(self, msg):
        mid = msg["id"]
        try:
            (status, headers, obj), changed = self.transaction(
                lambda txn: self.app.handle(txn, msg["method"], msg["path"],
                                            msg.get("query", "")))
            alarms = self.committed(changed)
        except Failed as e:
            return self.fail(mid, e)
        except sqlite3.Error as e:
            return self.fail(mid, storage_failure(e))
        reply = {"type": "response", "id": mid, "status": status,
                 "headers": [["Content-Type", "application/json"]] + headers}
        if alarms:
            reply["alarms"] = alarms
        self.send(reply, json.dumps(obj, separators=(",", ":")).encode())

    def on_alarm(self, msg):
        """Rule 3: check the truth, run the handler if due, retire."""
        mid, name, scheduled = msg["id"], msg["name"], msg["scheduled"]
        final = msg.get("final", False)
        try:
            row = self.db.execute("SELECT at_ms, every_ms FROM alarms WHERE name = ?",
                                  (name,)).fetchone()
            now = now_ms()
            if row is None or (row[0] > scheduled and row[0] > now):
                # Not due: the index was early. Say what is true, run nothing.
                return self.send({"type": "done", "id": mid,
                                  "alarms": self.committed([name])})
            at, every = row
            retry = msg["retry"] if at == scheduled else 0
            changed = [name]
            if final:
                # The last attempt: retire first, on its own, so that even a
                # crash in the handler leaves storage agreeing with durod.
                _, c = self.transaction(lambda txn: txn.retire(name, at, every, now_ms()))
                changed += c

            def run(txn):
                self.app.on_alarm(txn, name, at, retry)
                if name in txn.before:  # the handler set or deleted it
                    txn.resync.add(name)
                elif not final:
                    txn.retire(name, at, every, now_ms())

            _, c = self.transaction(run)
            alarms = self.committed(changed + c)
        except Failed as e:
            return self.fail(mid, e)
        except sqlite3.Error as e:
            return self.fail(mid, storage_failure(e))
        self.send({"type": "done", "id": mid, "alarms": alarms})

    def serve(self):
        while True:
            msg, _body = decode(self.pipe.recv())
            kind, mid = msg["type"], msg["id"]
            if kind == "hibernate":
                return
            if kind == "request":
                self.on_request(msg)
            elif kind == "alarm":
                self.on_alarm(msg)
            elif mid:
                self.send({"type": "error", "id": mid, "code": "unsupported",
                           "message": "message type %r is not supported" % kind})


def main():
    env = os.environ
    for var in ("DURO_IPC", "DURO_NAMESPACE", "DURO_OBJECT_ID", "DURO_STORAGE",
                "DURO_PROTOCOL"):
        if not env.get(var):
            log("%s is not set (workers are started by durod)" % var)
            return 1
    if env["DURO_PROTOCOL"] != str(PROTOCOL):
        log("durod speaks protocol %s, this worker speaks %d"
            % (env["DURO_PROTOCOL"], PROTOCOL))
        return 1
    if not re.fullmatch(r"[0-9a-f]{64}", env["DURO_OBJECT_ID"]):
        log("DURO_OBJECT_ID is not 64 lowercase hex characters")
        return 1
    try:
        _lockfd, db = open_storage(env)
    except (OSError, sqlite3.Error, ValueError) as e:
        log("cannot lock or open the storage %s: %s" % (env["DURO_STORAGE"], e))
        return 1
    try:
        pipe = Pipe(env["DURO_IPC"])
    except Gone:
        log("durod closed the connection during the handshake")
        return 1
    except OSError as e:
        log("cannot connect to %s: %s" % (env["DURO_IPC"], e))
        return 1
    try:
        pipe.send(encode({"type": "ready", "protocol": PROTOCOL, "pid": os.getpid()}))
        Worker(pipe, db, Counter()).serve()
    except Gone:
        pass
    except Malformed as e:
        log("malformed message from durod: %s" % e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
