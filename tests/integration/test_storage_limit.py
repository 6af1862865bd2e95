#!/usr/bin/env python3
"""storage limit: with storage_limit_mb 2, misbehave's POST /fill?kb=256
(256 KiB of random bytes in 64 KiB rows, one event) succeeds a few times
and then fails with 507 storage_full. The failed event keeps nothing; the
rows of every acknowledged fill are intact (GET /fill: rows and bytes
match the acknowledged fills exactly), through the same worker, a fresh
worker after kill -9 and a new durod. The full object keeps answering
reads; another object of the namespace and a counter object are not
affected."""
import os
import re

import harness
import storage_util as su
from harness import check, expect_error, expect_json

LIMIT_MB = 2
FILL_KB = 256
ROW_KB = 64                    # misbehave's row size
MAX_FILLS = 4 * LIMIT_MB * 1024 // FILL_KB   # far more than can fit


def test(t):
    ns = {
        "misbehave": {"storage_limit_mb": LIMIT_MB, "max_restarts": 1000,
                      "request_timeout_ms": 60000},
        "counter": {},
    }
    with su.DurodSeries(t, ns) as s:
        d = s.start()
        c = d.client()
        oid = expect_json(c.request("POST", "/misbehave/.new"), 200).get("id")
        check(isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{64}", oid),
              f"POST /misbehave/.new: {oid!r}")
        full = f"/misbehave/.id/{oid}"
        db = os.path.join(su.object_dir(s.data_dir, "misbehave", oid), "db.sqlite")

        # Things that must not be disturbed by the full object.
        check(d.incr(c, "/counter/c", 5) == 5, "counter before the fill")
        expect_json(c.request("POST", "/misbehave/other/pair/incr"), 200, "other: pair/incr")

        def expect_fill(j, fills, what):
            check(isinstance(j, dict) and j.get("rows") == fills * FILL_KB // ROW_KB
                  and j.get("bytes") == fills * FILL_KB * 1024,
                  f"{what}: {j!r}, expected {fills * FILL_KB // ROW_KB} rows and "
                  f"{fills * FILL_KB * 1024} bytes ({fills} acknowledged fills)")
            size = j.get("db_size")
            check(isinstance(size, int) and 0 < size <= LIMIT_MB << 20,
                  f"{what}: db_size {size!r} is not within the {LIMIT_MB} MiB limit")

        def get_fill(fills, what):
            j = expect_json(c.request("GET", full + "/fill"), 200, f"{what}: GET /fill")
            expect_fill(j, fills, what)

        pid = d.worker_pid(c, full)
        fills = 0
        first_full = None
        for i in range(MAX_FILLS):
            r = c.request("POST", f"{full}/fill?kb={FILL_KB}")
            if r.status == 200:
                fills += 1
                expect_fill(r.json(), fills, f"fill {i + 1}")
                continue
            first_full = r
            break
        check(first_full is not None,
              f"{MAX_FILLS} fills of {FILL_KB} KiB all succeeded under a {LIMIT_MB} MiB limit")
        expect_error(first_full, 507, "storage_full", f"fill {fills + 1}, past the limit")
        print(f"  {fills} fills of {FILL_KB} KiB acknowledged, then 507", flush=True)
        check(fills >= 1, "not even one fill fit in 2 MiB")
        check(fills * FILL_KB <= LIMIT_MB * 1024,
              f"{fills} fills of {FILL_KB} KiB acknowledged: more than {LIMIT_MB} MiB")

        # Intact, and the same worker still answers (storage_full is an
        # answer, not a crash).
        get_fill(fills, "right after the 507")
        check(d.worker_pid(c, full) == pid, "the worker was replaced after storage_full")
        # Still full: the next fills fail the same way, and keep nothing.
        for i in range(2):
            expect_error(c.request("POST", f"{full}/fill?kb={FILL_KB}"), 507,
                         "storage_full", f"fill again ({i + 1}) past the limit")
            get_fill(fills, f"after another 507 ({i + 1})")
        # Other reads of the full object work.
        j = expect_json(c.request("GET", full + "/pair"), 200, "GET /pair of the full object")
        check(j == {"x": 0, "y": 0}, f"GET /pair of the full object: {j!r}")
        j = expect_json(c.request("GET", full + "/kv?key=n"), 200, "GET /kv of the full object")
        check(j == {"value": 0}, f"GET /kv of the full object: {j!r}")
        check(os.path.getsize(db) <= LIMIT_MB << 20,
              f"{db} is {os.path.getsize(db)} bytes, over the {LIMIT_MB} MiB limit")

        # Neighbours unaffected.
        check(d.incr(c, "/counter/c") == 6, "the counter object after the 507")
        j = expect_json(c.request("POST", "/misbehave/other/pair/incr"), 200,
                        "another misbehave object: pair/incr")
        check(j == {"x": 2, "y": 2}, f"another misbehave object: pair/incr -> {j!r}")
        j = expect_json(c.request("POST", f"/misbehave/other/fill?kb={FILL_KB}"), 200,
                        "another misbehave object: fill")
        check(j.get("rows") == FILL_KB // ROW_KB, f"another object's fill: {j!r}")

        # A single event far over the limit fails at once and keeps nothing.
        expect_error(c.request("POST", f"/misbehave/big/fill?kb={2 * LIMIT_MB * 1024}"), 507,
                     "storage_full", f"one fill of {2 * LIMIT_MB} MiB")
        j = expect_json(c.request("GET", "/misbehave/big/fill"), 200, "GET /fill after it")
        check(j.get("rows") == 0 and j.get("bytes") == 0,
              f"a rejected {2 * LIMIT_MB} MiB fill left rows behind: {j!r}")

        # A fresh worker (kill -9) reads the same rows from disk.
        check(su.kill9(pid), f"worker {pid} gone before kill -9")
        get_fill(fills, "after kill -9 of the worker")
        pid = d.worker_pid(c, full)
        expect_error(c.request("POST", f"{full}/fill?kb={FILL_KB}"), 507, "storage_full",
                     "fill after kill -9: still full")

        # And a new durod (SIGKILL of the old one).
        d = s.restart("kill")
        c = d.client()
        get_fill(fills, "after SIGKILL of durod and a new durod")
        expect_error(c.request("POST", f"{full}/fill?kb={FILL_KB}"), 507, "storage_full",
                     "fill on the new durod: still full")
        get_fill(fills, "after the 507 on the new durod")
        check(d.counter(c, "/counter/c")["value"] == 6, "counter value on the new durod")
        j = expect_json(c.request("GET", "/misbehave/other/fill"), 200, "other: GET /fill")
        check(j.get("rows") == FILL_KB // ROW_KB, f"another object's rows: {j!r}")
        check(os.path.getsize(db) <= LIMIT_MB << 20,
              f"{db} is {os.path.getsize(db)} bytes, over the {LIMIT_MB} MiB limit")


if __name__ == "__main__":
    harness.main(test)
