#!/usr/bin/env python3
"""chat over WebSockets (examples/chat.c, no browser): two clients in one
room see each other's messages as JSON {"from","text","ts"} after /nick; a
newcomer gets the last 100 messages replayed in order; messages sent while
the room's worker hibernates wake it and arrive in order, nicknames intact
(durod keeps the connections and their attachments); rooms are separate
objects that share nothing."""
import json
import re
import time

import harness
import wsclient
from harness import check, expect_error, expect_status

HISTORY = 100


def chat_msg(ws, what=""):
    """The next message on ws: a chat line, {"from": str, "text": str,
    "ts": int} and nothing else."""
    text = ws.recv_text()
    try:
        j = json.loads(text)
    except ValueError:
        harness.fail(f"{what}: not JSON: {text!r:.200}")
    check(isinstance(j, dict) and set(j) == {"from", "text", "ts"},
          f"{what}: expected exactly {{from, text, ts}}, got {j!r:.200}")
    check(isinstance(j["from"], str) and isinstance(j["text"], str)
          and isinstance(j["ts"], int) and not isinstance(j["ts"], bool),
          f"{what}: wrong types in {j!r:.200}")
    return j


def expect_line(ws, frm, text, what, since_ms=None):
    j = chat_msg(ws, what)
    check((j["from"], j["text"]) == (frm, text),
          f"{what}: expected {frm}: {text!r:.100}, got {j['from']}: {j['text']!r:.100}")
    if since_ms is not None:
        now = int(time.time() * 1000)
        # Same machine, same wall clock: ts is taken while the event runs.
        check(since_ms - 1000 <= j["ts"] <= now + 1000,
              f"{what}: ts {j['ts']} is not between {since_ms} and {now}")
    return j


def connect(d, room, conns):
    return wsclient.connect(d.port, f"/chat/{room}/ws", conns=conns)


def chat_workers(d, oid):
    """Live workers of chat object oid (tracked: they must go with durod)."""
    pids = [p for p in d.children()
            if harness.worker_object(p) == ("chat", oid) and harness.pid_alive(p)]
    for p in pids:
        d.track(p)
    return pids


def admin_state(d, room):
    with harness.Conn(d.admin_port) as c:
        r = c.request("GET", f"/objects/chat/.name/{room}")
    return r.json().get("state") if r.status == 200 else None


def wait_hibernated(d, room, oid, timeout=30):
    """Until the room has no worker and durod says "hibernated"."""
    ok = harness.wait_until(
        lambda: not chat_workers(d, oid) and admin_state(d, room) == "hibernated",
        timeout)
    check(ok, f"chat/{room} did not hibernate within {timeout} s: workers "
              f"{chat_workers(d, oid)}, state {admin_state(d, room)!r}")


def spawns(d, oid):
    return len(d.log_lines(rf"chat/{oid}: spawned worker"))


# ------------------------------------------------------------ scenarios

def http_routes(d):
    c = d.client()
    r = expect_status(c.request("GET", "/chat/h/"), 200, "GET /chat/h/")
    check((r.header("Content-Type") or "").startswith("text/html"),
          f"GET /chat/h/: Content-Type {r.header('Content-Type')!r}")
    page = r.body.decode("utf-8")
    for ident in ("log", "msg", "send", "status"):
        check(re.search(r"""id=['"]%s['"]""" % ident, page),
              f"the page has no element with id {ident!r}")
    check("<script" in page and "src=" not in page and "http://" not in page
          and "https://" not in page,
          "the page must be self-contained (inline script, no external resources)")
    expect_error(c.request("GET", "/chat/h/ws"), 426, "upgrade_required",
                 "GET /chat/h/ws without an upgrade")
    expect_error(c.request("POST", "/chat/h/"), 405, "method_not_allowed", "POST /chat/h/")
    expect_error(c.request("GET", "/chat/h/nope"), 404, "not_found", "GET /chat/h/nope")


def two_clients(d, conns):
    a, b = connect(d, "r1", conns), connect(d, "r1", conns)
    a.send_text("/nick alice")
    b.send_text("/nick bob")
    t0 = int(time.time() * 1000)
    a.send_text("hello")
    for ws, who in ((a, "alice"), (b, "bob")):
        # The first thing either sees: the nicks were not broadcast.
        expect_line(ws, "alice", "hello", f"{who} gets alice's hello", since_ms=t0)
    b.send_text("hi alice ✓ é")
    for ws, who in ((a, "alice"), (b, "bob")):
        expect_line(ws, "bob", "hi alice ✓ é", f"{who} gets bob's line")

    # A fragmented text message is one message.
    a.send_text("in three frames", fragment=5)
    for ws in (a, b):
        expect_line(ws, "alice", "in three frames", "a fragmented message")

    # Binary frames, empty texts and bad nicks are ignored; the nick stays.
    a.send_binary(b"\x00binary")
    a.send_text("")
    a.send_text("/nick " + "x" * 33)
    a.send_text("/nick    ")
    a.send_text("after the ignored ones")
    for ws in (a, b):
        expect_line(ws, "alice", "after the ignored ones",
                    "the next line after a binary frame, an empty text and bad nicks")

    # A nick is trimmed; a newcomer without one is anon.
    c = connect(d, "r1", conns)
    for want in ("hello", "hi alice ✓ é", "in three frames", "after the ignored ones"):
        check(chat_msg(c, "newcomer's history")["text"] == want,
              f"the newcomer's history should replay {want!r} next")
    c.send_text("who am I")
    for ws in (a, b, c):
        expect_line(ws, "anon", "who am I", "a connection without /nick is anon")
    c.send_text("/nick \t carol  ")
    c.send_text("/nickname is a message")
    for ws in (a, b, c):
        expect_line(ws, "carol", "/nickname is a message", "a trimmed nick")

    # Longer than 4096 bytes: cut to 4096, never inside a UTF-8 character.
    b.send_text("y" * 5000)
    for ws in (a, b, c):
        check(chat_msg(ws, "a long message")["text"] == "y" * 4096,
              "a 5000-byte message should arrive cut to 4096 bytes")
    b.send_text("é" * 2049)  # 4098 bytes
    for ws in (a, b, c):
        check(chat_msg(ws, "a long UTF-8 message")["text"] == "é" * 2048,
              "4098 bytes of é should be cut to 4096 bytes (2048 characters)")
    for ws in (a, b, c):
        ws.expect_nothing(0.3)


def history(d, conns):
    a = connect(d, "r2", conns)
    a.send_text("/nick dave")
    for i in range(HISTORY + 5):
        a.send_text(f"m{i}")
    for i in range(HISTORY + 5):
        expect_line(a, "dave", f"m{i}", f"dave's own message {i}")
    n = connect(d, "r2", conns)
    for i in range(5, HISTORY + 5):
        expect_line(n, "dave", f"m{i}", f"history replay #{i - 5} (m5..m104, in order)")
    # Nothing more: the replay is capped at the last 100.
    n.expect_nothing(0.5)
    n.send_text("/nick erin")
    n.send_text("after the replay")
    for ws in (a, n):
        expect_line(ws, "erin", "after the replay", "a live line after the replay")


def separate_rooms(d, conns):
    x = connect(d, "r3", conns)
    # A fresh room: no history, so the first line is its own.
    x.send_text("only in r3")
    expect_line(x, "anon", "only in r3", "r3's first line (no history from r1 or r2)")
    others = [connect(d, "r1", conns), connect(d, "r2", conns)]
    for ws in others:  # drain their replays
        while True:
            try:
                ws.recv(0.5)
            except wsclient.Timeout:
                break
    x.send_text("r3 again")
    expect_line(x, "anon", "r3 again", "r3's second line")
    others[0].send_text("r1 again")
    expect_line(others[0], "anon", "r1 again", "r1's line")
    for ws in others[1:]:
        ws.expect_nothing(0.3)
    x.expect_nothing(0.3)


def hibernation(d, conns):
    room = "sleepy"
    a, b = connect(d, room, conns), connect(d, room, conns)
    a.send_text("/nick alice")
    b.send_text("/nick bob")
    a.send_text("before")
    for ws in (a, b):
        expect_line(ws, "alice", "before", "the line before hibernation")
    oid = d.object_id("chat", room)
    first = chat_workers(d, oid)
    check(len(first) == 1, f"expected one worker for chat/{room}, found {first}")
    n1 = spawns(d, oid)
    wait_hibernated(d, room, oid)

    # The object sleeps; its connections do not. Three lines at once:
    # the first wakes it, all arrive in order, still from alice.
    for i in range(3):
        a.send_text(f"wake {i}")
    for ws, who in ((a, "alice"), (b, "bob")):
        for i in range(3):
            expect_line(ws, "alice", f"wake {i}", f"{who}: line {i} sent while hibernated")
    second = chat_workers(d, oid)
    check(second and second != first,
          f"a new worker should have been started: before {first}, now {second}")
    check(spawns(d, oid) == n1 + 1,
          f"expected exactly one more spawn of chat/{room} (the wake-up), "
          f"log says {spawns(d, oid) - n1}")
    b.send_text("bob too")
    for ws in (a, b):
        expect_line(ws, "bob", "bob too", "bob's nickname survived hibernation")

    # Again, and the stored history survived both sleeps.
    wait_hibernated(d, room, oid)
    c = connect(d, room, conns)
    for want in ("before", "wake 0", "wake 1", "wake 2", "bob too"):
        check(chat_msg(c, "history after hibernation")["text"] == want,
              f"history after hibernation: expected {want!r} next")
    c.expect_nothing(0.3)


def close_all(conns):
    for ws in conns:
        ws.abort()
    conns.clear()


def test(t):
    conns = []
    try:
        with harness.Durod(t, namespaces={"chat": {}}) as d:
            with t.sub("HTTP routes of the chat worker"):
                http_routes(d)
            with t.sub("two clients in one room"):
                two_clients(d, conns)
            with t.sub("history: the last 100, in order"):
                history(d, conns)
            with t.sub("rooms are separate"):
                separate_rooms(d, conns)
            close_all(conns)
        with harness.Durod(t, namespaces={"chat": {"idle_timeout_ms": 500}}) as d:
            with t.sub("hibernation between messages"):
                hibernation(d, conns)
            close_all(conns)
    finally:
        close_all(conns)


if __name__ == "__main__":
    harness.main(test)
