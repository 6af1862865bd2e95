#!/usr/bin/env python3
"""the interpreter sandbox (policies/interpreter.json): the same attempts
as test_sandbox_native, from a Python worker (tests/workers/hostile.py)."""
import os

import harness
import sandbox_util

WORKER = os.path.join(harness.REPO, "tests", "workers", "hostile.py")


def test(t):
    sandbox_util.run(t, "pyhostile", {
        "exec": [harness.SYSTEM_PYTHON, WORKER], "policy": "interpreter",
        # hostile.py imports examples/python/counter.py's transport.
        "read_paths": [os.path.join(harness.REPO, "examples", "python")]})


if __name__ == "__main__":
    harness.main(test)
