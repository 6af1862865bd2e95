#!/usr/bin/env python3
"""WebSockets through durod (tests/workers/wsecho.c, wsclient.py): the
upgrade (accepted with tags, refused with an HTTP answer, bad handshakes
400), echo text and binary (fragmented too), output-gated sends (the
accepting request's welcome arrives after the 101; a failed handler sends
nothing), broadcast to a tag and to all, attachments, list with tags,
close codes both ways and the ws_close event, oversize message 1009,
malformed frames 1002, invalid UTF-8 1007 — each disturbing nothing else —
a worker crash keeps the connections open, the auto-response answered by
durod while the worker stays hibernated, list answered in pages, and
deleting the object or stopping durod closes connections with 1001."""
import signal
import time

import harness
import wsclient
from harness import check, expect_error


def workers_of(d, ns):
    out = []
    for p in d.children():
        obj = harness.worker_object(p)
        if obj is not None and obj[0] == ns:
            out.append(p)
    return out


def welcome(ws):
    kind, text = ws.recv()
    check(kind == "text" and text.startswith("welcome "), f"first frame {kind} {text!r}")
    return int(text.split()[1])


def test(t):
    ns = {"wsecho": {"idle_timeout_ms": 600000}, "counter": {},
          "sleepy": {"exec": [t.build.wsecho], "idle_timeout_ms": 300}}
    if t.build.sanitized:
        ns["sleepy"]["policy"] = "none"
    with harness.Durod(t, namespaces=ns) as d:
        c = d.client()
        a = harness.Conn(d.admin_port)
        conns = []

        with t.sub("upgrade"):
            ws = wsclient.connect(d.port, "/wsecho/r/ws?tags=red,blue", conns=conns)
            id1 = welcome(ws)
            ws2, resp = wsclient.WebSocket.open(d.port, "/wsecho/r/ws?refuse=1")
            check(ws2 is None and resp.status == 403 and b"refused" in resp.body,
                  f"refused upgrade: {resp!r}")
            ws2, resp = wsclient.WebSocket.open(
                d.port, "/wsecho/r/ws", headers={"Sec-WebSocket-Version": "8"})
            check(ws2 is None and resp.status == 426 and
                  resp.header("Sec-WebSocket-Version") == "13", f"version 8: {resp!r}")
            ws2, resp = wsclient.WebSocket.open(
                d.port, "/wsecho/r/ws", headers={"Sec-WebSocket-Key": "short"})
            check(ws2 is None and resp.status == 400, f"bad key: {resp!r}")
            check(c.request("GET", "/counter/x/").status == 200, "plain HTTP still fine")

        with t.sub("echo"):
            ws.send_text("echo héllo")
            check(ws.recv() == ("text", "héllo"), "echo text")
            ws.send_binary(bytes(range(256)) * 10)
            check(ws.recv() == ("binary", bytes(range(256)) * 10), "echo binary")
            ws.send_text("echo " + "x" * 100000, fragment=7000)
            check(ws.recv() == ("text", "x" * 100000), "fragmented message")
            ws.send_ping(b"p")
            check(ws.recv() == ("pong", b"p"), "ping answered")

        with t.sub("output gate"):
            ws.send_text("fail never-sent")
            ws.expect_nothing(0.3)
            ws.send_text("count")
            kind, n = ws.recv()
            check(kind == "text" and n == "4", f"count after a failed handler: {n!r}")

        with t.sub("broadcast, tags, list, attachments"):
            wg = wsclient.connect(d.port, "/wsecho/r/ws?tags=green", conns=conns)
            id2 = welcome(wg)
            wb = wsclient.connect(d.port, "/wsecho/r/ws?tags=blue", conns=conns)
            id3 = welcome(wb)
            other = wsclient.connect(d.port, "/wsecho/other/ws?tags=blue", conns=conns)
            welcome(other)
            ws.send_text("bcast blue to-blue")
            check(ws.recv() == ("text", "to-blue"), "sender (blue) got it")
            check(wb.recv() == ("text", "to-blue"), "blue got it")
            wg.expect_nothing(0.2)
            other.expect_nothing(0.2)  # another object's room
            wg.send_text("bcast * to-all")
            for w in (ws, wg, wb):
                check(w.recv() == ("text", "to-all"), "broadcast to all")
            ws.send_text("list")
            kind, listing = ws.recv()
            entries = sorted(listing.split())
            check(entries == sorted([f"{id1}:red,blue:-1", f"{id2}:green:-1",
                                     f"{id3}:blue:-1"]), f"list: {listing!r}")
            ws.send_text("list blue")
            check(sorted(ws.recv()[1].split()) == sorted([f"{id1}:red,blue:-1",
                                                          f"{id3}:blue:-1"]), "list blue")
            ws.send_text("attach nick=alice")
            check(ws.recv() == ("text", "ok"), "attach")
            wg.send_text(f"getatt {id1}")
            check(wg.recv() == ("text", "nick=alice"), "another's attachment")
            wg.send_text("getatt")
            check(wg.recv() == ("text", "none"), "no attachment")
            wg.send_text("getatt 999999")
            check(wg.recv() == ("text", "gone"), "unknown connection")

        with t.sub("list pages: 30 connections with ten 250-byte tags"):
            tags = ",".join(f"{i}" + "t" * 249 for i in range(10))
            many = [wsclient.connect(d.port, f"/wsecho/big/ws?tags={tags}", conns=conns)
                    for _ in range(30)]
            ids = [welcome(w) for w in many]
            many[0].send_text("list")
            kind, listing = many[0].recv()
            got = [e.split(":")[0] for e in listing.split()]
            check(got == [str(i) for i in ids], f"{len(got)} of 30 listed")
            check(all(e.split(":")[1] == tags for e in listing.split()), "tags")
            for w in many:
                w.abort()

        with t.sub("close codes"):
            wb.send_text("close 4001 go away")
            check(wb.expect_close()[0] == (4001, "go away"), "the object's close")
            wb.wait_eof()
            wg.close(4002, "bye")
            harness.wait_until(lambda: c.request("GET", "/wsecho/r/closes").body.count(b"\n") >= 1,
                               harness.IO_TIMEOUT)
            closes = c.request("GET", "/wsecho/r/closes").body.decode().splitlines()
            check(closes == [f"{id2} 4002 1 bye"], f"ws_close events: {closes}")

        with t.sub("limits and bad frames close only their connection"):
            big = wsclient.connect(d.port, "/wsecho/r/ws", conns=conns)
            welcome(big)
            big.send_binary(b"x" * (33 * 1024 * 1024))
            check(big.expect_close(1009)[0][0] == 1009, "oversize: 1009")
            big.abort()
            bad = wsclient.connect(d.port, "/wsecho/r/ws", conns=conns)
            welcome(bad)
            bad.send_frame(wsclient.OP_TEXT, b"unmasked", mask=False)
            check(bad.expect_close(1002)[0][0] == 1002, "unmasked frame: 1002")
            bad.abort()
            bad = wsclient.connect(d.port, "/wsecho/r/ws", conns=conns)
            welcome(bad)
            bad.send_frame(wsclient.OP_TEXT, b"\xff\xfe")
            check(bad.expect_close(1007)[0][0] == 1007, "invalid UTF-8: 1007")
            bad.abort()
            bad = wsclient.connect(d.port, "/wsecho/r/ws", conns=conns)
            welcome(bad)
            bad.send_frame(0x3, b"x")
            check(bad.expect_close(1002)[0][0] == 1002, "reserved opcode: 1002")
            bad.abort()
            ws.send_text("echo still here")
            check(ws.recv() == ("text", "still here"), "the first connection is fine")

        with t.sub("a crash keeps the connections"):
            ws.send_text("pid")
            pid1 = int(ws.recv()[1])
            ws.send_text("crash")
            harness.wait_gone([pid1])
            ws.expect_nothing(0.2)  # no close: durod holds the connection
            ws.send_text("pid")
            kind, pid2 = ws.recv()
            check(kind == "text" and int(pid2) != pid1, "a new worker took the message")

        with t.sub("auto-response without waking"):
            s = wsclient.connect(d.port, "/sleepy/a/ws", conns=conns)
            welcome(s)
            s.send_text("auto ping pong")
            check(s.recv() == ("text", "ok"), "auto set")
            check(harness.wait_until(lambda: not workers_of(d, "sleepy") or None, 30),
                  "the sleepy worker hibernated")
            for _ in range(3):
                s.send_text("ping")
                check(s.recv() == ("text", "pong"), "auto-response")
            check(not workers_of(d, "sleepy"), "still hibernated after auto-responses")
            s.send_text("list")
            kind, listing = s.recv()
            auto_ms = int(listing.split(":")[-1])
            check(auto_ms > time.time() * 1000 - 60000, f"auto time {listing!r}")
            check(len(workers_of(d, "sleepy")) == 1, "a real message woke it")

        with t.sub("messages to a hibernated object arrive in order"):
            check(harness.wait_until(lambda: not workers_of(d, "sleepy") or None, 30),
                  "hibernated again")
            for i in range(20):
                s.send_text(f"echo m{i}")
            got = [s.recv()[1] for _ in range(20)]
            check(got == [f"m{i}" for i in range(20)], f"order: {got}")

        with t.sub("a close wakes a hibernated object"):
            s2 = wsclient.connect(d.port, "/sleepy/a/ws", conns=conns)
            sid = welcome(s2)
            check(harness.wait_until(lambda: not workers_of(d, "sleepy") or None, 30),
                  "hibernated before the close")
            spawns = len(d.log_lines(r"object sleepy/\w+: spawned worker"))
            s2.close(4005, "later")
            d.wait_log(r"object sleepy/\w+: spawned worker", spawns + 1)
            harness.wait_until(
                lambda: f"{sid} 4005 1 later" in
                c.request("GET", "/sleepy/a/closes").body.decode() or None, 10)
            closes = c.request("GET", "/sleepy/a/closes").body.decode().splitlines()
            check(f"{sid} 4005 1 later" in closes, f"ws_close after waking: {closes}")

        with t.sub("the gauge, and delete closes with 1001"):
            def gauge():
                m = a.request("GET", "/metrics").body.decode()
                return [ln for ln in m.splitlines()
                        if ln.startswith('duro_websockets_open{namespace="wsecho"}')]
            want = ['duro_websockets_open{namespace="wsecho"} 2']
            harness.wait_until(lambda: gauge() == want or None, 10)
            check(gauge() == want,
                  f"websockets gauge (r's first one and other's): {gauge()}")
            r = a.request("DELETE", "/objects/wsecho/.name/r")
            check(r.status == 200, f"delete: {r!r}")
            check(ws.expect_close(1001)[0][0] == 1001, "1001 on delete")

        with t.sub("shutdown closes with 1001"):
            d.signal(signal.SIGTERM)
            for w in (other, s):
                check(w.expect_close(1001)[0][0] == 1001, "1001 on SIGTERM")
                w.abort()
            check(d.wait_exit() == 0, "durod's exit status")
        for w in conns:
            w.abort()


if __name__ == "__main__":
    harness.main(test)
