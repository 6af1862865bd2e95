#!/usr/bin/env python3
"""The admin API: /events (several live subscribers, a namespace filter, a
slow subscriber dropped while the others and durod carry on), /metrics
(passes promtool check metrics; the counters move as the test acts),
/objects (paged, filtered, names included) and /objects/<ns>/<obj>
(inspect, restart, backoff ended by restart)."""
import json
import re
import shutil
import socket
import subprocess
import time

import harness
from harness import check, expect_error, expect_json


class EventStream:
    """GET /events on its own socket; the chunked NDJSON, decoded."""

    def __init__(self, port, query="", rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(harness.IO_TIMEOUT)
        self.sock.sendall(f"GET /events{query} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        self.buf = b""
        self.events = []

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        check(lines[0].startswith("HTTP/1.1 200"), f"/events: {lines[0]}")
        hdrs = {ln.split(":", 1)[0].lower(): ln.split(":", 1)[1].strip()
                for ln in lines[1:]}
        check(hdrs.get("transfer-encoding") == "chunked", f"/events headers {hdrs}")
        check(hdrs.get("content-type") == "application/x-ndjson", f"/events {hdrs}")
        self.text = b""
        return self

    def _recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise harness.ConnectionClosed("events stream closed")
        self.buf += data

    def _chunk(self):
        while b"\r\n" not in self.buf:
            self._recv()
        line, rest = self.buf.split(b"\r\n", 1)
        n = int(line, 16)
        while len(rest) < n + 2:
            self._recv()
            line, rest = self.buf.split(b"\r\n", 1)
        self.buf = rest[n + 2:]
        return rest[:n]

    def pump(self):
        """Take in whatever has arrived, without waiting."""
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.buf += data
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(harness.IO_TIMEOUT)

    def until(self, pred, what, timeout=harness.IO_TIMEOUT):
        """Read events until pred(event) holds; returns that event."""
        deadline = time.monotonic() + timeout
        for e in self.events:
            if pred(e):
                return e
        while time.monotonic() < deadline:
            self.text += self._chunk()
            while b"\n" in self.text:
                line, self.text = self.text.split(b"\n", 1)
                e = json.loads(line)
                self.events.append(e)
                if pred(e):
                    return e
        harness.fail(f"/events: no {what} within {timeout:.0f} s")


def metric(text, name, **labels):
    """The value of one sample, or 0 when absent."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for ln in text.splitlines():
        if ln.startswith("#"):
            continue
        m = re.match(r'([a-z_]+)(?:\{([^}]*)\})? (\S+)$', ln)
        if m and m.group(1) == name:
            got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
            if got == want:
                return float(m.group(3))
    return 0.0


def get_metrics(a):
    r = a.request("GET", "/metrics")
    check(r.status == 200, f"/metrics: {r!r}")
    check(r.header("Content-Type").startswith("text/plain; version=0.0.4"),
          f"/metrics content type {r.header('Content-Type')}")
    return r.body.decode()


def promtool_ok(text):
    if shutil.which("promtool") is None:
        harness.fail("promtool is not installed (make deps installs prometheus)")
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
          f"promtool check metrics: rc {p.returncode}: {p.stdout!r} {p.stderr!r}")


def test(t):
    ns = {"counter": {},
          "misbehave": {},
          "fragile": {"exec": [t.build.misbehave], "max_restarts": 0,
                      "restart_backoff_max_ms": 60000}}
    with harness.Durod(t, namespaces=ns) as d:
        a = harness.Conn(d.admin_port)
        c = d.client()
        every = EventStream(d.admin_port).head()
        only_counter = EventStream(d.admin_port, "?ns=counter").head()
        promtool_ok(get_metrics(a))

        # spawn and ready, to both subscribers; the counters move.
        check(d.incr(c, "/counter/a") == 1, "first incr")
        for s in (every, only_counter):
            sp = s.until(lambda e: e["event"] == "spawn", "spawn")
            check(sp["ns"] == "counter" and sp.get("name") == "a"
                  and isinstance(sp.get("pid"), int), f"spawn event {sp}")
            rd = s.until(lambda e: e["event"] == "ready", "ready")
            check(rd["id"] == sp["id"] and rd["ms"] >= 0, f"ready event {rd}")
        oid = sp["id"]
        m = get_metrics(a)
        promtool_ok(m)
        check(metric(m, "duro_requests_total", namespace="counter", code="200") == 1,
              "requests_total{counter,200}")
        check(metric(m, "duro_activations_total", namespace="counter") == 1,
              "activations_total{counter}")
        check(metric(m, "duro_activation_duration_seconds_count", namespace="counter") == 1,
              "activation histogram count")
        check(metric(m, "duro_live_workers", namespace="counter") == 1, "live workers")
        expect_error(c.request("GET", "/nowhere/x/"), 404, "unknown_namespace")
        m = get_metrics(a)
        check(metric(m, "duro_requests_total", namespace="", code="404") == 1,
              "requests_total{\"\",404}")

        # A crash: its event (with the reason) to the unfiltered subscriber.
        expect_error(c.request("POST", "/misbehave/m/crash"), 500, "object_reset")
        cr = every.until(lambda e: e["event"] == "crash", "crash")
        check(cr["ns"] == "misbehave" and cr["kind"] in ("signal", "exit_code")
              and cr["reason"], f"crash event {cr}")
        m = get_metrics(a)
        check(metric(m, "duro_worker_exits_total", namespace="misbehave",
                     reason=cr["kind"]) == 1, "worker_exits_total")
        check(metric(m, "duro_restarts_total", namespace="misbehave") == 1,
              "restarts_total")

        # Backoff: max_restarts 0, so the first crash backs off.
        expect_error(c.request("POST", "/fragile/f/crash"), 500, "object_reset")
        bo = every.until(lambda e: e["event"] == "backoff", "backoff")
        check(bo["ns"] == "fragile" and bo["ms"] == 1000, f"backoff event {bo}")
        expect_error(c.request("GET", "/fragile/f/"), 503, "backoff")
        m = get_metrics(a)
        check(metric(m, "duro_backoffs_total", namespace="fragile") == 1, "backoffs")
        check(metric(m, "duro_objects_backoff", namespace="fragile") == 1,
              "objects in backoff")

        # Listing, filtered and paged; names included.
        for name in ("b", "c", "d"):
            d.incr(c, f"/counter/{name}")
        j = expect_json(a.request("GET", "/objects?ns=counter&limit=2"), 200, "list")
        check(len(j["objects"]) == 2 and j["next"], f"page 1: {j}")
        seen = j["objects"]
        j = expect_json(a.request("GET", f"/objects?ns=counter&limit=2&after={j['next']}"),
                        200, "list page 2")
        seen += j["objects"]
        check(j["next"] is None and len(seen) == 4, f"page 2: {j}")
        check(sorted(o["name"] for o in seen) == ["a", "b", "c", "d"], f"names {seen}")
        check([o["id"] for o in seen] == sorted(o["id"] for o in seen), "id order")
        check(all(o["state"] == "idle" and o["pid"] for o in seen), f"states {seen}")
        j = expect_json(a.request("GET", "/objects?state=backoff"), 200, "backoff list")
        check([o["ns"] for o in j["objects"]] == ["fragile"], f"backoff list {j}")
        expect_error(a.request("GET", "/objects?state=sleepy"), 400, "bad_request")

        # Inspect by name and by id.
        j = expect_json(a.request("GET", "/objects/counter/.name/a"), 200, "inspect")
        check(j["id"] == oid and j["name"] == "a" and j["state"] == "idle"
              and j["events_served"] == 1 and j["storage_bytes"] > 0
              and j["uptime_ms"] >= 0 and j["next_alarm_ms"] is None,
              f"inspect: {j}")
        j2 = expect_json(a.request("GET", f"/objects/counter/{oid}"), 200, "by id")
        check(j2["name"] == "a", f"inspect by id: {j2}")
        expect_error(a.request("GET", "/objects/counter/" + "0" * 64), 400, "bad_id")
        expect_error(a.request("GET", "/objects/nope/.name/a"), 404, "unknown_namespace")

        # Restart: the idle worker hibernates now; the next event starts
        # a new one; the registry keeps the object's totals.
        pid = j["pid"]
        j = expect_json(a.request("POST", "/objects/counter/.name/a/restart"), 200,
                        "restart")
        check(j["restarted"] is True and j["pid"] == pid, f"restart: {j}")
        hb = every.until(lambda e: e["event"] == "hibernate" and e["id"] == oid,
                         "hibernate")
        check(hb["why"] == "restart" and hb["pid"] == pid, f"hibernate event {hb}")
        ex = every.until(lambda e: e["event"] == "exit" and e["id"] == oid, "exit")
        check(ex["kind"] == "clean" and ex["reason"] == "exit 0", f"exit event {ex}")
        m = get_metrics(a)
        check(metric(m, "duro_hibernations_total", namespace="counter") == 1,
              "hibernations_total")
        check(metric(m, "duro_worker_exits_total", namespace="counter",
                     reason="clean") == 1, "clean exits")
        check(d.incr(c, "/counter/a") == 2, "incr after the restart")
        j = expect_json(a.request("GET", "/objects/counter/.name/a"), 200, "inspect")
        check(j["pid"] != pid and j["events_served"] == 2, f"after restart: {j}")
        # Restart ends a backoff.
        j = expect_json(a.request("POST", "/objects/fragile/.name/f/restart"), 200,
                        "restart in backoff")
        check(j["restarted"] is True and j["state"] == "hibernated", f"{j}")
        check(c.request("GET", "/fragile/f/").status == 200, "served after restart")

        # A slow subscriber (never reads, tiny window) is dropped; the
        # others carry on and so does durod.
        slow = EventStream(d.admin_port, rcvbuf=4096)
        n = 0
        deadline = time.monotonic() + 120
        while not d.log_lines(r"events: a subscriber is \d+ bytes behind; dropped"):
            check(time.monotonic() < deadline, "the slow subscriber was never dropped")
            for _ in range(20):
                j = expect_json(a.request("POST", "/objects/counter/.name/b/restart"),
                                200, "restart b")
                d.incr(c, "/counter/b")
                n += 1
                every.pump()
                only_counter.pump()
        check(d.incr(c, "/counter/a") == 3, "durod serves after the drop")
        d.incr(c, "/counter/zz")
        for s in (every, only_counter):
            s.until(lambda e: e["event"] == "spawn" and e.get("name") == "zz",
                    "zz's spawn after the drop", timeout=60)
        slow.sock.close()
        m = get_metrics(a)
        promtool_ok(m)
        check(metric(m, "duro_event_subscribers") == 2, "two subscribers left")


if __name__ == "__main__":
    harness.main(test)
