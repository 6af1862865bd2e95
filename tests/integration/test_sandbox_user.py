#!/usr/bin/env python3
"""a policy with "user"/"group": durod (running as root) starts the
workers as that user; each object's directory, database and socket are
handed to it, so the counter works as before (across hibernation too),
and the worker's process really runs as that uid."""
import json
import os
import pwd
import shutil
import tempfile

import harness
from harness import check


def test(t):
    if t.build.sanitized or os.geteuid() != 0:
        print("  skipped: needs root and a build without sanitizers", flush=True)
        return
    nobody = pwd.getpwnam("nobody")
    tmp = tempfile.mkdtemp(prefix="duro-it-pol-")
    home = tmp
    try:
        with open(os.path.join(harness.REPO, "policies", "native.json")) as f:
            pol = json.load(f)
        pol["user"], pol["group"] = "nobody", "nogroup"
        with open(os.path.join(tmp, "native.json"), "w") as f:
            json.dump(pol, f)
        ns = {"counter": {"idle_timeout_ms": 300, "hibernate_grace_ms": 60000}}
        # The worker's user must be able to pass through the directories
        # above data_dir and run_dir (mkdtemp makes them 0700).
        home = tempfile.mkdtemp(prefix="duro-it-")
        os.chmod(home, 0o711)
        with harness.Durod(t, namespaces=ns, top={"policy_dir": tmp}, tmpdir=home) as d:
            c = d.client()
            check(d.incr(c, "/counter/u") == 1, "incr as nobody")
            check(d.incr(c, "/counter/u") == 2, "incr as nobody, again")
            pid = d.counter(c, "/counter/u")["pid"]
            with open(f"/proc/{pid}/status") as f:
                uids = next(ln for ln in f if ln.startswith("Uid:")).split()[1:]
            check(all(int(u) == nobody.pw_uid for u in uids),
                  f"the worker runs as uids {uids}, not nobody ({nobody.pw_uid})")
            oid = d.object_id("counter", "u")
            db = os.path.join(d.config["data_dir"], "counter", oid[:2], oid, "db.sqlite")
            check(os.stat(db).st_uid == nobody.pw_uid, "the database is not nobody's")
            first = harness.Proc(pid)
            check(harness.wait_until(lambda: not first.exists(), 20), "no hibernation")
            check(d.incr(c, "/counter/u") == 3, "the value after hibernation")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    harness.main(test)
