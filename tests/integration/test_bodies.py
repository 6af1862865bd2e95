#!/usr/bin/env python3
"""bodies: request bodies of every size up to max_body_bytes, sent with
Content-Length or chunked, reach the worker byte for byte and come back
the same (misbehave's /echo); bodies are binary-safe."""
import os

import harness
from harness import build_request, check, expect_status

SIZES = [0, 1, 100, 4095, 4096, 65535, 65536, 1 << 20, 8 << 20]


def payload(n):
    # Every byte value, in an order that is not periodic in small powers
    # of two, so a lost or repeated block shows.
    return bytes((i * 131 + (i >> 9)) & 0xFF for i in range(n)) if n < 65536 \
        else os.urandom(n)


def test(t):
    with harness.Durod(t, namespaces={"misbehave": {}}) as d:
        c = d.client(timeout=120)
        for n in SIZES:
            body = payload(n)
            with t.sub(f"{n} bytes with Content-Length"):
                r = c.request("POST", "/misbehave/e/echo?n=%d" % n, body=body)
                expect_status(r, 200, f"echo {n} bytes")
                check(len(r.body) == n and r.body == body,
                      f"echo of {n} bytes came back as {len(r.body)} bytes"
                      f"{'' if len(r.body) != n else ' with different content'}")
                check(r.header("X-Query") == f"n={n}", f"query lost: {r.headers}")
            with t.sub(f"{n} bytes chunked"):
                step = max(1, n // 7)
                chunks = [body[i:i + step] for i in range(0, n, step)]
                r = c.request("PUT", "/misbehave/e/echo", chunked=chunks)
                expect_status(r, 200, f"chunked echo {n} bytes")
                check(r.body == body, f"chunked echo of {n} bytes came back as {len(r.body)} bytes")
                check(r.header("X-Method") == "PUT", f"method lost: {r.headers}")

        with t.sub("one byte over max_body_bytes (the default 16 MiB) is refused"):
            big = 16 * 1024 * 1024 + 1
            c2 = d.client(timeout=120)
            c2.send(build_request("POST", "/misbehave/e/echo",
                                  headers={"Content-Length": str(big)}))
            try:
                r = c2.read_response("POST")
            except harness.ConnectionClosed as e:
                harness.fail(f"no answer to a body over the limit: {e}")
            harness.expect_error(r, 413, None, "16 MiB + 1")

        with t.sub("Expect: 100-continue gets 100 Continue, then the answer"):
            e = d.client()
            e.send(build_request("POST", "/misbehave/e/echo", headers={
                "Content-Length": "5", "Expect": "100-continue"}))
            r = e.read_response("POST")
            check(r.status == 100, f"expected 100 Continue before the body, got {r!r}")
            e.send(b"hello")
            r = e.read_response("POST")
            check(r.status == 200 and r.body == b"hello", f"after 100 Continue: {r!r}")

        with t.sub("Expect: 100-continue with a body over the limit: 413, no 100"):
            e = d.client()
            e.send(build_request("POST", "/misbehave/e/echo", headers={
                "Content-Length": str(17 * 1024 * 1024), "Expect": "100-continue"}))
            r = e.read_response("POST")
            harness.expect_error(r, 413, None, "Expect with a body over the limit")

        # After all that the worker is the same one: nothing crashed.
        pid = d.worker_pid(c, "/misbehave/e")
        check(d.worker_pid(c, "/misbehave/e") == pid, "echo worker is stable")


if __name__ == "__main__":
    harness.main(test)
