"""sandbox_util.py — the hostile-worker scenario that test_sandbox_native
and test_sandbox_interpreter run with their own worker and policy.

Each attempt (tests/workers/hostile.c, hostile.py) must be refused by the
system or end with the worker killed; the test then checks from outside
that nothing happened (the other object's database unchanged, no file in
/tmp, no TCP connection), that durod still serves other objects, and that
durod's log names the reason of each kill."""
import hashlib
import os
import socket
import uuid

import harness
from harness import check, expect_json


def db_path(d, ns, name):
    oid = d.object_id(ns, name)
    return os.path.join(d.config["data_dir"], ns, oid[:2], oid, "db.sqlite")


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def attempt(c, route, query=""):
    """POST one attempt; returns ("refused", errno), ("succeeded", None) or
    ("killed", None) when the worker died on it (500 object_reset)."""
    r = c.request("POST", route + query)
    if r.status == 500 and r.json().get("error") == "object_reset":
        return "killed", None
    j = expect_json(r, 200, f"POST {route}{query}")
    return j["result"], j.get("errno")


def blocked(t, c, route, query="", what=None, killed_ok=True, refused_ok=True):
    what = what or route
    with t.sub(what):
        res, err = attempt(c, route, query)
        print(f"  {what}: {res}{' (' + err + ')' if err else ''}", flush=True)
        check(res != "succeeded", f"{what}: the sandbox let it through")
        check(res != "killed" or killed_ok, f"{what}: killed, expected a refusal")
        check(res != "refused" or refused_ok, f"{what}: refused ({err}), expected a kill")
        if res == "killed":
            KILLS[0] += 1
        return res, err


KILLS = [0]  # attempts that ended with the worker killed, in this run


def run(t, ns_name, ns_cfg):
    KILLS[0] = 0
    if t.build.sanitized:
        print("  skipped: a sanitizer build's workers cannot run sandboxed", flush=True)
        return
    ns = {"counter": {"policy": "native"}, ns_name: {"max_restarts": 1000,
                                                     "memory_limit_mb": 128,
                                                     "storage_limit_mb": 8, **ns_cfg}}
    with harness.Durod(t, namespaces=ns) as d:
        c = d.client()
        check(d.incr(c, "/counter/victim") == 1, "the victim counter")
        victim = db_path(d, "counter", "victim")
        before = digest(victim)
        h = f"/{ns_name}/h"
        check(c.request("GET", h + "/").status == 200, "the hostile worker starts")

        res, err = blocked(t, c, h + "/write", f"?path={victim}", "write another object's db",
                           killed_ok=False)
        with t.sub("the other object's database is unchanged"):
            check(digest(victim) == before, "the victim's db.sqlite changed")
            check(d.incr(c, "/counter/victim") == 2, "the victim's counter")
            before = digest(victim)

        blocked(t, c, h + "/read", "?path=/etc/shadow", "read /etc/shadow", killed_ok=False)

        tmpfile = f"/tmp/duro-hostile-{uuid.uuid4().hex}"
        blocked(t, c, h + "/create", f"?path={tmpfile}", "create a file in /tmp",
                killed_ok=False)
        with t.sub("no file in /tmp"):
            check(not os.path.exists(tmpfile), f"{tmpfile} exists")

        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            srv.settimeout(0.5)
            res, _ = blocked(t, c, h + "/connect", f"?port={srv.getsockname()[1]}",
                             "TCP connect to 127.0.0.1")
            with t.sub("no connection reached the listener"):
                try:
                    conn, _ = srv.accept()
                    conn.close()
                    harness.fail("the worker connected over TCP")
                except socket.timeout:
                    pass

        blocked(t, c, h + "/exec", "", "execve /bin/sh")
        blocked(t, c, h + "/fork", "", "fork in a loop")
        blocked(t, c, h + "/ptrace", "", "ptrace durod")
        blocked(t, c, h + "/kill", "", "kill durod")
        check(d.proc.poll() is None, "durod died")
        blocked(t, c, h + "/alloc", "?mb=512", "allocate past memory_limit_mb")
        blocked(t, c, h + "/fsize", "?mb=200", "write past the file size limit")
        blocked(t, c, h + "/mount", "", "mount")
        blocked(t, c, h + "/unshare", "", "unshare")

        with t.sub("durod kept serving, and says why it killed"):
            check(d.incr(c, "/counter/victim") == 3, "the victim's counter after it all")
            check(c.request("GET", h + "/").status == 200, "a fresh hostile worker")
            crashes = d.log_lines(rf"object {ns_name}/\w+: worker \d+ crashed")
            named = d.log_lines(rf"object {ns_name}/\w+: worker \d+ crashed "
                                rf"\((sandbox violation|file size limit)")
            check(len(crashes) == KILLS[0], f"{KILLS[0]} kills seen, {len(crashes)} crashes "
                                            f"logged: {crashes}")
            check(named == crashes, f"crashes without a sandbox reason: "
                                    f"{set(crashes) - set(named)}")
            # Where the kernel's audit record was readable (durod as root,
            # not rate-limited), the kill names the system call: one of the
            # attempts'.
            calls = d.log_lines(rf"object {ns_name}/\w+: worker \d+ crashed \(sandbox "
                                rf"violation: forbidden system call ")
            expected = ("socket", "clone", "fork", "vfork", "ptrace", "kill", "tgkill",
                        "mount", "unshare")
            for ln in calls:
                call = ln.split("forbidden system call ")[1].split()[0]
                check(call in expected, f"a kill names system call {call!r}: {ln}")
