#!/usr/bin/env python3
"""bad HTTP: malformed and oversized requests get a 4xx JSON error (and
the malformed ones a closed connection); bad routes and names get their
error codes; meanwhile a well-behaved keep-alive client is never hurt."""
import harness
from harness import build_request, check, expect_error, expect_json, expect_status

MAX_BODY = 1024


class Witness:
    """A client on one keep-alive connection, incrementing its counter
    between every bad request: its values must keep counting."""

    def __init__(self, d):
        self.d = d
        self.c = d.client()
        self.n = 0

    def step(self, after):
        self.n += 1
        got = self.d.incr(self.c, "/counter/witness")
        check(got == self.n, f"witness after {after}: value {got}, expected {self.n}")


def raw(d, data, what, method="GET"):
    """Send raw bytes on a fresh connection; the response, or a failure
    that says the connection died without one."""
    c = d.client()
    try:
        c.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # durod may answer before reading everything; read the answer
    try:
        return c, c.read_response(method)
    except harness.ConnectionClosed as e:
        harness.fail(f"{what}: connection closed without a response ({e})")


def test(t):
    ns = {"counter": {}, "misbehave": {}}
    with harness.Durod(t, namespaces=ns, top={"max_body_bytes": MAX_BODY}) as d:
        w = Witness(d)
        w.step("start")

        with t.sub("garbage bytes: 400 JSON, connection closed"):
            c, r = raw(d, b"\x16\x03\x01\x02\x00garbage\x00\xff\r\n\r\n", "garbage")
            expect_error(r, 400, None, "garbage bytes")
            check(c.closed_by_peer(), "durod kept the connection open after garbage")
        w.step("garbage bytes")

        with t.sub("a request line that is not HTTP: 400"):
            c, r = raw(d, b"HELLO\r\n\r\n", "HELLO")
            expect_error(r, 400, None, "not HTTP")
            check(c.closed_by_peer(), "durod kept the connection open after a bad request line")
        w.step("not HTTP")

        # Ambiguous framing (request smuggling) and other malformed input:
        # an error, then the connection is closed (what follows cannot be
        # trusted to start a request).
        for what, data, status in [
            ("Content-Length and Transfer-Encoding",
             b"POST /counter/witness/incr HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
            ("two different Content-Lengths",
             b"POST /counter/witness/incr HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
             b"Content-Length: 2\r\n\r\nab", 400),
            ("a negative Content-Length",
             b"POST /counter/witness/incr HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
            ("a bad chunk size",
             b"POST /counter/witness/incr HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"zz\r\nhello\r\n0\r\n\r\n", 400),
            ("an unknown Transfer-Encoding",
             b"POST /counter/witness/incr HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            ("obsolete header line folding",
             b"GET /counter/witness/ HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),
            ("a NUL in a header",
             b"GET /counter/witness/ HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400),
            ("HTTP/2.0", b"GET /counter/witness/ HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ]:
            with t.sub(f"{what}: {status}, connection closed"):
                c, r = raw(d, data, what, "POST")
                expect_error(r, status, None, what)
                check(c.closed_by_peer(), f"durod kept the connection open after {what}")
            w.step(what)

        with t.sub("headers over 32 KiB: 431"):
            big = build_request("GET", "/counter/witness/", headers={"X-Big": "a" * (40 * 1024)})
            c, r = raw(d, big, "big headers")
            expect_error(r, 431, None, "headers over 32 KiB")
        w.step("big headers")

        with t.sub("many headers over 32 KiB in total: 431"):
            hdrs = {f"X-H{i}": "b" * 100 for i in range(400)}
            c, r = raw(d, build_request("GET", "/counter/witness/", headers=hdrs), "many headers")
            expect_error(r, 431, None, "many headers over 32 KiB")
        w.step("many headers")

        with t.sub("body over max_body_bytes with Content-Length: 413"):
            data = build_request("POST", "/counter/big/incr", body=b"x" * (MAX_BODY + 1))
            c, r = raw(d, data, "big body", "POST")
            expect_error(r, 413, None, "Content-Length over max_body_bytes")
        w.step("big body")

        with t.sub("a huge Content-Length is refused without waiting for the body"):
            data = build_request("POST", "/counter/big/incr",
                                 headers={"Content-Length": str(10 ** 12)})
            c, r = raw(d, data, "huge Content-Length", "POST")
            expect_error(r, 413, None, "Content-Length 10^12")
        w.step("huge Content-Length")

        with t.sub("chunked body over max_body_bytes: 413"):
            data = build_request("POST", "/counter/big/incr",
                                 chunked=[b"y" * 600, b"z" * 600])
            c, r = raw(d, data, "big chunked body", "POST")
            expect_error(r, 413, None, "chunked body over max_body_bytes")
        w.step("big chunked body")

        with t.sub("a body of exactly max_body_bytes reaches the worker intact"):
            body = bytes(range(256)) * (MAX_BODY // 256)  # binary-safe, too
            r = w.c.request("POST", "/misbehave/e/echo?x=1", body=body,
                            headers={"Content-Type": "application/octet-stream"})
            expect_status(r, 200, "echo of max_body_bytes")
            check(r.body == body, f"echoed body differs: {len(r.body)} bytes {r.body[:32]!r}...")
            check(r.header("X-Method") == "POST" and r.header("X-Path") == "/echo"
                  and r.header("X-Query") == "x=1", f"echo headers: {r.headers}")
            check(r.header("Content-Type") == "application/octet-stream",
                  f"Content-Type did not reach the worker: {r.headers}")
        w.step("body at the limit")

        with t.sub("small chunked bodies reach the worker"):
            c = d.client()
            r = c.request("POST", "/misbehave/e/echo", chunked=[])
            expect_status(r, 200, "empty chunked body")
            check(r.body == b"", f"empty chunked body echoed as {r.body!r}")
            r = c.request("POST", "/misbehave/e/echo", chunked=[b"hello ", b"chunked ", b"world"])
            expect_status(r, 200, "small chunked body")
            check(r.body == b"hello chunked world", f"chunked body echoed as {r.body!r}")
            r = c.request("POST", "/counter/c/incr?by=2", chunked=[b"{}"])
            check(expect_json(r, 200, "counter with a chunked body").get("value") == 2, f"{r!r}")
            # The same connection goes on after chunked bodies.
            check(d.incr(c, "/counter/c") == 3, "incr after chunked bodies")
        w.step("chunked bodies")

        with t.sub("unknown namespace: 404 unknown_namespace"):
            expect_error(w.c.request("GET", "/nosuchns/a/"), 404, "unknown_namespace")
        w.step("unknown namespace")

        for target in ("/", "/counter"):
            with t.sub(f"no object in {target!r}: 404 JSON"):
                expect_error(w.c.request("GET", target), 404, None, target)
            w.step(f"GET {target}")

        for target, what in [
            ("/counter/.hidden/", "a name starting with a dot"),
            ("/counter/%zz/", "a bad percent escape"),
            ("/counter/%2/", "a truncated percent escape"),
            ("/counter/" + "n" * 300 + "/", "a 300-byte name"),
            ("/counter/" + "%41" * 257 + "/", "a name of 257 bytes once decoded"),
            ("/counter//incr", "an empty name"),
            ("/counter/", "an empty name at the end"),
            ("/counter/a%00b/", "a NUL in the name"),
            ("/counter/%ff%fe/", "a name that is not UTF-8"),
        ]:
            with t.sub(f"bad name: {what}: 400 bad_name"):
                expect_error(w.c.request("GET", target), 400, "bad_name", what)
            w.step(what)

        with t.sub("a 256-byte name is fine"):
            j = d.counter(w.c, "/counter/" + "m" * 256)
            check(j["value"] == 0, f"256-byte name: {j}")
        w.step("256-byte name")

        with t.sub("a client that sends half a request and stalls hurts nobody"):
            stall = d.client()
            stall.send(b"POST /counter/witness/incr HTTP/1.1\r\nHost: x\r\nContent-Le")
            w.step("a stalled request")
            w.step("a stalled request, again")
            stall.close()
        w.step("end")


if __name__ == "__main__":
    harness.main(test)
