#!/usr/bin/env python3
"""hostile.py — tests/workers/hostile.c in Python, for the interpreter
policy: the same routes, each an attempt to get out of the sandbox.

    POST /<attempt>[?path=P|port=N|mb=N]  -> {"attempt": A, "result":
        "refused", "errno": "EACCES"} or {"attempt": A, "result":
        "succeeded"} (a hole); no reply at all when the sandbox kills it.
    GET /                                 -> ok

The transport and frame codec are examples/python/counter.py's (imported,
not copied): this file is only the attempts.
"""
import ctypes
import errno
import importlib.util
import json
import os
import signal
import socket
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "counter", os.path.join(HERE, "..", "..", "examples", "python", "counter.py"))
counter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(counter)

libc = ctypes.CDLL(None, use_errno=True)


def c_call(rv):
    """A libc call's result, as hostile.c reports it."""
    if rv == -1:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def attempt(name, q):
    path = q.get("path", "")
    if name == "write":
        with open(path, "r+b") as f:
            f.write(b"hostile")
    elif name == "read":
        with open(path, "rb") as f:
            f.read(64)
    elif name == "create":
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    elif name == "connect":
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.connect(("127.0.0.1", int(q.get("port", "0"))))
    elif name == "exec":
        os.execv("/bin/sh", ["sh", "-c", "exit 0"])
    elif name == "fork":
        for _ in range(100):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
    elif name == "ptrace":
        c_call(libc.ptrace(16, os.getppid(), None, None))  # PTRACE_ATTACH
    elif name == "kill":
        os.kill(os.getppid(), signal.SIGTERM)
    elif name == "alloc":
        b = bytearray(int(q.get("mb", "1024")) * 1024 * 1024)
        b[-1] = 1
    elif name == "fsize":
        big = os.path.join(os.path.dirname(os.environ["DURO_STORAGE"]), "big")
        try:
            with open(big, "wb") as f:
                for _ in range(int(q.get("mb", "64")) * 16):
                    f.write(b"x" * 65536)
        finally:
            if os.path.exists(big):
                os.unlink(big)
    elif name == "mount":
        c_call(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
    elif name == "unshare":
        c_call(libc.unshare(0x10000000 | 0x00020000))  # CLONE_NEWUSER | CLONE_NEWNS
    else:
        return None


def handle(msg):
    path = msg["path"]
    if msg["method"] == "GET":
        return 200, b"ok\n", "text/plain"
    q = dict(urllib.parse.parse_qsl(msg.get("query", "")))
    name = path.strip("/")
    try:
        if attempt(name, q) is None and name not in (
                "write", "read", "create", "connect", "exec", "fork", "ptrace", "kill",
                "alloc", "fsize", "mount", "unshare"):
            return 404, b'{"error":"not_found"}', "application/json"
        out = {"attempt": name, "result": "succeeded"}
    except MemoryError:
        out = {"attempt": name, "result": "refused", "errno": "ENOMEM"}
    except OSError as e:
        out = {"attempt": name, "result": "refused",
               "errno": errno.errorcode.get(e.errno, str(e.errno))}
    return 200, json.dumps(out).encode(), "application/json"


def main():
    pipe = counter.Pipe(os.environ["DURO_IPC"])
    pipe.send(counter.encode({"type": "ready", "protocol": 1, "pid": os.getpid()}))
    try:
        while True:
            msg, _ = counter.decode(pipe.recv())
            if msg["type"] == "hibernate":
                return 0
            if msg["type"] != "request":
                if msg.get("id"):
                    pipe.send(counter.encode({"type": "error", "id": msg["id"],
                                              "code": "unsupported"}))
                continue
            status, body, ctype = handle(msg)
            pipe.send(counter.encode({"type": "response", "id": msg["id"], "status": status,
                                      "headers": [["Content-Type", ctype]]}, body))
    except counter.Gone:
        return 0


if __name__ == "__main__":
    sys.exit(main())
