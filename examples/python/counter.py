#!/usr/bin/env python3
"""The counter example worker in Python, standard library only.

It speaks protocol 1 (ipc/PROTOCOL.md) on a plain Unix stream socket using
nng's SP-over-IPC framing, without any nng binding: proof that the spec is
enough to write a worker. Same routes as examples/counter.c:

    GET  /           {"value":N,"alarms_fired":0,"pid":P}
    POST /incr?by=K  {"value":N}   (K an integer, default 1)

400 for a bad K, 404 for other paths, 405 for a wrong method, all with a
JSON body {"error": code, "message": ...}. The value lives in memory.
"""

import json
import os
import re
import socket
import struct
import sys
import urllib.parse

PROTOCOL = 1
SP_HEADER = b"\x00SP\x00" + struct.pack(">H", 16) + b"\x00\x00"  # pair0
MAX_HEADER = 256 * 1024
MAX_BODY = 32 * 1024 * 1024
MAX_FRAME = 4 + MAX_HEADER + MAX_BODY
MAX_ID = 1 << 53
MAX_HEADERS = 1024
TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
INT64 = (-(1 << 63), (1 << 63) - 1)


class Malformed(Exception):
    """durod sent a frame that breaks the protocol: exit 2."""


class Gone(Exception):
    """durod closed the connection: exit 0."""


def log(msg):
    print("counter.py: " + msg, file=sys.stderr, flush=True)


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
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
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
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
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
    return msg, frame[4 + hlen:]


# ---- the counter ----


class Counter:
    def __init__(self):
        self.value = 0

    def handle(self, method, path, query):
        """(status, extra headers, JSON-able body)."""
        if path == "/":
            if method != "GET":
                return not_allowed(method, path, "GET")
            return 200, [], {"value": self.value, "alarms_fired": 0,
                             "pid": os.getpid()}
        if path == "/incr":
            if method != "POST":
                return not_allowed(method, path, "POST")
            return self.incr(query)
        return error(404, "not_found", "no route %s" % path)

    def incr(self, query):
        by = 1
        for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            if key == "by":
                if not re.fullmatch(r"[+-]?[0-9]+", value):
                    return error(400, "bad_request", "by: must be an integer")
                by = int(value)
                if not INT64[0] <= by <= INT64[1]:
                    return error(400, "bad_request", "by: out of range")
                break
        if not INT64[0] <= self.value + by <= INT64[1]:
            return error(400, "bad_request",
                         "value %d + %d would overflow" % (self.value, by))
        self.value += by
        return 200, [], {"value": self.value}


def error(status, code, message, headers=()):
    return status, list(headers), {"error": code, "message": message}


def not_allowed(method, path, allow):
    return error(405, "method_not_allowed", "%s %s: use %s" % (method, path, allow),
                 [["Allow", allow]])


# ---- the loop (PROTOCOL.md section 6) ----


def serve(pipe, counter):
    while True:
        msg, _body = decode(pipe.recv())
        kind, mid = msg["type"], msg["id"]
        if kind == "hibernate":
            return
        if kind != "request":
            if mid:
                pipe.send(encode({"type": "error", "id": mid, "code": "unsupported",
                                  "message": "message type %r is not supported" % kind}))
            continue
        try:
            status, headers, obj = counter.handle(msg["method"], msg["path"],
                                                  msg.get("query", ""))
            body = json.dumps(obj, separators=(",", ":")).encode()
            headers = [["Content-Type", "application/json"]] + headers
            reply = {"type": "response", "id": mid, "status": status,
                     "headers": headers}
        except Exception as e:  # the handler failed: 500 for this request only
            reply, body = {"type": "error", "id": mid, "code": "handler_failed",
                           "message": str(e)}, b""
        pipe.send(encode(reply, body))


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
        serve(pipe, Counter())
    except Gone:
        pass
    except Malformed as e:
        log("malformed message from durod: %s" % e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
