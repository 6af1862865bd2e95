#!/usr/bin/env python3
"""object deletion: DELETE /objects/<ns>/<id> on the admin port removes
the object and its storage directory (<data_dir>/<ns>/<id[0:2]>/<id>/),
whether its worker is hibernated or running; the next event starts from
nothing. Deleting an object that has no storage is 404, an id that is not
the namespace's (forged) is 400, an unknown namespace 404."""
import os
import re

import harness
import storage_util as su
from harness import check, expect_error, expect_json


def new_id(c, ns):
    oid = expect_json(c.request("POST", f"/{ns}/.new"), 200, f"POST /{ns}/.new").get("id")
    check(isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{64}", oid),
          f"POST /{ns}/.new: not a 64-hex id: {oid!r}")
    return oid


def test(t):
    ns = {
        "counter": {},
        # Same worker, hibernates after 300 ms idle.
        "sleepy": {"exec": [t.build.counter], "idle_timeout_ms": 300,
                   "hibernate_grace_ms": 60000},
    }
    with harness.Durod(t, namespaces=ns) as d:
        data = d.config["data_dir"]
        c = d.client()
        a = harness.Conn(d.admin_port)
        d.conns.append(a)

        def delete(nsname, oid):
            return a.request("DELETE", f"/objects/{nsname}/{oid}")

        # 1. A hibernated object (no worker when the delete comes).
        oid = new_id(c, "sleepy")
        route = f"/sleepy/.id/{oid}"
        for i in range(1, 4):
            check(d.incr(c, route) == i, f"{route}: incr {i}")
        odir = su.object_dir(data, "sleepy", oid)
        check(os.path.isfile(os.path.join(odir, "db.sqlite")),
              f"no database at {odir}/db.sqlite after three writes: "
              f"{os.listdir(odir) if os.path.isdir(odir) else 'no directory'}")
        w = harness.Proc(d.counter(c, route)["pid"])
        check(not harness.wait_gone([w], 30), f"{w} not hibernated within 30 s")
        j = expect_json(delete("sleepy", oid), 200, "DELETE a hibernated object")
        with t.sub("the delete's answer names the id"):
            check(j == {"deleted": oid}, f"DELETE answered {j!r}")
        check(not os.path.exists(odir), f"{odir} still exists after the delete: "
                                        f"{os.listdir(odir) if os.path.isdir(odir) else ''}")
        check(d.incr(c, route) == 1, "after the delete the object starts from 0 again")
        check(d.counter(c, route)["value"] == 1, "value after the delete")

        # 2. A live object: its worker is running when the delete comes.
        oid2 = new_id(c, "counter")
        route2 = f"/counter/.id/{oid2}"
        for i in range(1, 6):
            check(d.incr(c, route2) == i, f"{route2}: incr {i}")
        w2 = harness.Proc(d.counter(c, route2)["pid"])
        check(w2.alive(), f"the worker {w2} is not running")
        odir2 = su.object_dir(data, "counter", oid2)
        check(os.path.isdir(odir2), f"{odir2} does not exist")
        # Another object of the namespace, live too: it must be untouched.
        check(d.incr(c, "/counter/keep", 7) == 7, "/counter/keep")
        keep = harness.Proc(d.counter(c, "/counter/keep")["pid"])

        expect_json(delete("counter", oid2), 200, "DELETE a live object")
        check(not w2.alive(), f"the deleted object's worker {w2} is still running")
        check(not os.path.exists(odir2), f"{odir2} still exists after the delete")
        check(keep.alive(), f"another object's worker {keep} was stopped by the delete")
        check(d.counter(c, "/counter/keep")["value"] == 7, "another object's value changed")

        # 3. Deleting again: nothing left to delete.
        expect_error(delete("counter", oid2), 404, "not_found", "DELETE twice")
        check(not os.path.exists(odir2), f"{odir2} came back")

        # The object is usable afterwards, from 0, with a fresh worker.
        check(d.incr(c, route2) == 1, "after deleting a live object the next incr returns 1")
        w3 = d.counter(c, route2)["pid"]
        check(w3 != w2.pid, "the deleted object's worker serves again")
        check(os.path.isdir(odir2), f"{odir2} not made again by the next event")
        # And it can be deleted again now that it has storage.
        expect_json(delete("counter", oid2), 200, "DELETE after re-creation")
        check(not harness.wait_gone([w3]), f"worker {w3} survived the second delete")
        check(not os.path.exists(odir2), f"{odir2} still exists after the second delete")

        # 4. Forged and wrong ids: 400, nothing touched.
        forged = oid[:-1] + ("0" if oid[-1] != "0" else "1")
        expect_error(delete("sleepy", forged), 400, "bad_id", "DELETE a forged id")
        expect_error(delete("counter", oid), 400, "bad_id",
                     "DELETE an id of another namespace")
        expect_error(delete("counter", "zz" * 32), 400, "bad_id", "DELETE a non-hex id")
        expect_error(delete("counter", oid[:40]), 400, "bad_id", "DELETE a short id")
        expect_error(delete("nosuchns", oid), 404, None, "DELETE in an unknown namespace")
        check(d.counter(c, route)["value"] == 1, "the real object was touched by the forged delete")
        check(os.path.isdir(odir), f"{odir} removed by a forged delete")
        check(d.counter(c, "/counter/keep")["value"] == 7, "/counter/keep after all deletes")


if __name__ == "__main__":
    harness.main(test)
