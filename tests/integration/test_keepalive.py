#!/usr/bin/env python3
"""keep-alive and concurrency: thousands of requests on one connection,
100 concurrent clients with one shared object (turn-based: every increment
counted exactly once), and pipelined requests answered in order."""
import threading

import harness
from harness import build_request, check, expect_json

SEQUENTIAL = 2000
CLIENTS = 100
PER_CLIENT = 20


def sequential(t, d):
    c = d.client()
    for i in range(1, SEQUENTIAL + 1):
        try:
            r = c.request("POST", "/counter/seq/incr")
        except harness.ConnectionClosed:
            harness.fail(f"durod closed the keep-alive connection after {i - 1} requests")
        j = expect_json(r, 200, f"request {i} on one connection")
        check(j.get("value") == i, f"request {i} on one connection: {j!r}")
    check(d.counter(c, "/counter/seq")["value"] == SEQUENTIAL, "final value of seq")


def concurrent(t, d):
    errors = []
    shared_values = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(k):
        try:
            start.wait(harness.IO_TIMEOUT)
            with harness.Conn(d.port, timeout=120) as c:
                for i in range(1, PER_CLIENT + 1):
                    mine = d.incr(c, f"/counter/own{k}")
                    if mine != i:
                        raise harness.TestFailure(f"client {k}: own{k} gave {mine}, expected {i}")
                    v = d.incr(c, "/counter/shared")
                    with lock:
                        shared_values.append(v)
        except BaseException as e:  # noqa: BLE001 — reported below
            with lock:
                errors.append(f"client {k}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    with harness.UniqueWorkers(d.pid):
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    check(not errors, f"{len(errors)} of {CLIENTS} clients failed, e.g. {errors[:5]}")
    total = CLIENTS * PER_CLIENT
    c = d.client()
    final = d.counter(c, "/counter/shared")["value"]
    check(final == total, f"shared counter is {final}, expected {total}")
    # Turn-based delivery: each increment saw a distinct previous value.
    check(sorted(shared_values) == list(range(1, total + 1)),
          "the shared counter's replies are not exactly 1..%d (duplicates: %s)"
          % (total, sorted({v for v in shared_values if shared_values.count(v) > 1})[:10]))
    pids = {d.counter(c, f"/counter/own{k}")["pid"] for k in range(0, CLIENTS, 10)}
    check(len(pids) == 10, f"10 objects should have 10 workers, have {len(pids)}")


def pipelined(t, d):
    c = d.client()
    # Each entry: (method, path, expected value of the reply).
    reqs = [
        ("POST", "/counter/p1/incr", 1),
        ("POST", "/counter/p2/incr?by=10", 10),
        ("GET", "/counter/p1/", 1),
        ("POST", "/counter/p1/incr?by=3", 4),
        ("GET", "/counter/p2/", 10),
        ("POST", "/counter/p2/incr", 11),
        ("POST", "/counter/p1/incr", 5),
        ("GET", "/counter/p1/", 5),
        ("POST", "/counter/p2/incr?by=100", 111),
        ("GET", "/counter/p2/", 111),
    ]
    c.send(b"".join(build_request(m, p) for m, p, _ in reqs))
    for i, (m, p, want) in enumerate(reqs):
        j = expect_json(c.read_response(m), 200, f"pipelined #{i + 1} {m} {p}")
        check(j.get("value") == want,
              f"pipelined #{i + 1} {m} {p}: value {j.get('value')}, expected {want} "
              f"(answers out of order?) {j!r}")
    # The connection is still good for more.
    check(d.incr(c, "/counter/p1") == 6, "request after the pipelined batch")

    # A slow answer first: the fast ones behind it (other objects) wait
    # for it, so the answers stay in request order.
    c.send(build_request("POST", "/misbehave/p/sleep?ms=300") +
           build_request("GET", "/counter/p1/") +
           build_request("POST", "/misbehave/q/echo", body=b"second") +
           build_request("GET", "/nosuchns/x/") +
           build_request("POST", "/counter/p1/incr"))
    r = c.read_response("POST")
    check(r.status == 200 and r.body.strip() == b"ok", f"pipelined sleep: {r!r}")
    check(expect_json(c.read_response("GET"), 200, "pipelined GET after sleep").get("value") == 6,
          "pipelined GET /counter/p1/ after a slow request")
    r = c.read_response("POST")
    check(r.status == 200 and r.body == b"second", f"pipelined echo after sleep: {r!r}")
    harness.expect_error(c.read_response("GET"), 404, "unknown_namespace", "pipelined 404")
    check(expect_json(c.read_response("POST"), 200, "pipelined incr").get("value") == 7,
          "pipelined incr after a 404")

    # A pipelined batch whose last request says Connection: close.
    c2 = d.client()
    c2.send(build_request("POST", "/counter/p3/incr") +
            build_request("POST", "/counter/p3/incr", headers={"Connection": "close"}))
    for want in (1, 2):
        j = expect_json(c2.read_response("POST"), 200, "pipelined with Connection: close")
        check(j.get("value") == want, f"pipelined p3: {j!r}, expected value {want}")
    check(c2.closed_by_peer(), "durod kept the connection open after Connection: close")


def many_connections(t, d, n=1000):
    """n connections open at once, each with one request sent before any
    answer is read: all answered, the shared counter counts each once."""
    conns = []
    try:
        for _ in range(n):
            conns.append(harness.Conn(d.port, timeout=120))
        req = build_request("POST", "/counter/many/incr")
        for c in conns:
            c.send(req)
        values = sorted(expect_json(c.read_response("POST"), 200, "many connections")["value"]
                        for c in conns)
        check(values == list(range(1, n + 1)),
              f"{n} connections: values are not 1..{n} (first {values[:5]}, last {values[-5:]})")
    finally:
        for c in conns:
            c.close()


def http10(t, d):
    c = d.client()
    c.send(b"POST /counter/old/incr HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
    check(expect_json(c.read_response("POST"), 200, "HTTP/1.0").get("value") == 1, "HTTP/1.0 incr")
    check(c.closed_by_peer(), "an HTTP/1.0 request without keep-alive left the connection open")
    c = d.client()
    for want in (2, 3):
        c.send(b"POST /counter/old/incr HTTP/1.0\r\nConnection: keep-alive\r\n"
               b"Content-Length: 0\r\n\r\n")
        check(expect_json(c.read_response("POST"), 200, "HTTP/1.0 keep-alive").get("value") == want,
              "HTTP/1.0 keep-alive incr")


def test(t):
    with harness.Durod(t, namespaces={"counter": {}, "misbehave": {}}) as d:
        with t.sub("2,000 sequential requests on one keep-alive connection"):
            sequential(t, d)
        with t.sub("100 concurrent clients"):
            concurrent(t, d)
        with t.sub("pipelined requests are answered in order"):
            pipelined(t, d)
        with t.sub("1,000 connections at once"):
            many_connections(t, d)
        with t.sub("HTTP/1.0 clients"):
            http10(t, d)


if __name__ == "__main__":
    harness.main(test)
