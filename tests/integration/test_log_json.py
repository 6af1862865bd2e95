#!/usr/bin/env python3
"""log_format "json": every line durod logs is one JSON object with ts,
level and message; lifecycle events carry their fields (event, ns, id,
name, pid, reason...) on the same line, as /events has them."""
import json

import harness
from harness import check


def test(t):
    with harness.Durod(t, top={"log_format": "json"}) as d:
        c = d.client()
        d.incr(c, "/counter/j")
        harness.expect_error(c.request("POST", "/misbehave/x/crash"), 500, "object_reset")
        d.wait_log(r'"event":"crash"')
        lines = d.log_lines()
        check(len(lines) > 5, f"only {len(lines)} log lines")
        events = []
        for ln in lines:
            try:
                j = json.loads(ln)
            except ValueError:
                harness.fail(f"not a JSON line: {ln!r}")
            check(isinstance(j.get("ts"), (int, float)) and j.get("level") in
                  ("info", "warn", "error") and isinstance(j.get("message"), str),
                  f"line without ts/level/message: {ln}")
            if "event" in j:
                events.append(j)
        spawn = [e for e in events if e["event"] == "spawn" and e.get("name") == "j"]
        check(len(spawn) == 1 and spawn[0]["ns"] == "counter" and
              len(spawn[0]["id"]) == 64 and spawn[0]["pid"] > 0, f"spawn: {spawn}")
        crash = [e for e in events if e["event"] == "crash"]
        check(len(crash) == 1 and crash[0]["level"] == "warn" and
              crash[0]["kind"] == "signal" and "signal 6" in crash[0]["reason"],
              f"crash: {crash}")


if __name__ == "__main__":
    harness.main(test)
