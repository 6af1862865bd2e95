#!/usr/bin/env python3
"""config check: `durod --check -c FILE` accepts a good config (exit 0)
and refuses a bad one (exit non-zero) naming the JSON path at fault."""
import copy
import json
import os
import shutil
import tempfile

import harness
from harness import check


def good(t):
    return {
        "listen": f"127.0.0.1:{harness.free_port()}",
        "admin_listen": f"127.0.0.1:{harness.free_port()}",
        "data_dir": "./var/data",
        "run_dir": "./var/run",
        "max_active_objects": 100,
        "max_body_bytes": 1048576,
        "namespaces": {
            "counter": {
                "exec": [t.build.counter],
                "policy": "native",
                "idle_timeout_ms": 10000,
                "request_timeout_ms": 30000,
                "start_timeout_ms": 5000,
                "memory_limit_mb": 128,
                "storage_limit_mb": 1024,
                "max_queue": 1000,
                "max_restarts": 5,
                "restart_window_ms": 10000,
                "env": {"GREETING": "hello"},
            },
            "misbehave": {"exec": [t.build.misbehave]},
        },
    }


def bad(t, what, path, mutate):
    with t.sub(f"{what}: refused, naming {path}"):
        cfg = copy.deepcopy(good(t))
        mutate(cfg)
        rc, out, err = harness.run_durod_check(t.build, cfg)
        check(rc != 0, f"exit status {rc} (stdout {out!r}, stderr {err!r})")
        check(path in err, f"stderr does not name {path}: {err!r}")


def test(t):
    with t.sub("a good config passes --check"):
        rc, out, err = harness.run_durod_check(t.build, good(t))
        check(rc == 0, f"exit status {rc}, stderr {err!r}")

    with t.sub("the minimal config passes --check"):
        rc, out, err = harness.run_durod_check(
            t.build, {"namespaces": {"counter": {"exec": [t.build.counter]}}})
        check(rc == 0, f"exit status {rc}, stderr {err!r}")

    bad(t, "unknown namespace key", "namespaces.counter.bogus",
        lambda c: c["namespaces"]["counter"].__setitem__("bogus", 1))
    bad(t, "unknown top-level key", "bogus_top",
        lambda c: c.__setitem__("bogus_top", True))
    bad(t, "a string where a number goes", "namespaces.counter.max_queue",
        lambda c: c["namespaces"]["counter"].__setitem__("max_queue", "10"))
    bad(t, "a zero queue", "namespaces.counter.max_queue",
        lambda c: c["namespaces"]["counter"].__setitem__("max_queue", 0))
    bad(t, "exec not an array", "namespaces.misbehave.exec",
        lambda c: c["namespaces"]["misbehave"].__setitem__("exec", "x"))
    bad(t, "missing exec", "namespaces.misbehave.exec",
        lambda c: c["namespaces"]["misbehave"].pop("exec"))
    bad(t, "env value not a string", "namespaces.counter.env",
        lambda c: c["namespaces"]["counter"]["env"].__setitem__("N", 1))
    bad(t, "listen without a port", "listen",
        lambda c: c.__setitem__("listen", "127.0.0.1"))
    bad(t, "missing namespaces", "namespaces", lambda c: c.pop("namespaces"))

    bad(t, "a policy with no file", "namespaces.counter.policy",
        lambda c: c["namespaces"]["counter"].__setitem__("policy", "nosuchpolicy"))

    with t.sub("a broken policy file is a config error naming the file and entry"):
        tmp = tempfile.mkdtemp(prefix="duro-it-")
        try:
            with open(os.path.join(harness.REPO, "policies", "native.json")) as f:
                pol = json.load(f)
            pol["seccomp"]["allow"].append({"syscall": "frobnicate", "why": "no such call"})
            with open(os.path.join(tmp, "native.json"), "w") as f:
                json.dump(pol, f)
            cfg = good(t)
            cfg["policy_dir"] = tmp
            rc, out, err = harness.run_durod_check(t.build, cfg)
            check(rc != 0, f"exit status {rc} with an unknown syscall in the policy")
            n = len(pol["seccomp"]["allow"]) - 1
            for want in ("namespaces.counter.policy", "native.json",
                         f"seccomp.allow[{n}].syscall", "frobnicate"):
                check(want in err, f"stderr does not name {want}: {err!r}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    with t.sub("not JSON at all"):
        rc, out, err = harness.run_durod_check(t.build, "{ this is not json")
        check(rc != 0, f"exit status {rc} for a config that is not JSON")
        check(err.strip() != "", "no message on stderr for a config that is not JSON")


if __name__ == "__main__":
    harness.main(test)
