#!/usr/bin/env python3
"""the native sandbox (policies/native.json): a hostile C worker
(tests/workers/hostile.c) tries to read and write outside its directory,
reach the network, start programs, fork, trace or signal durod, exceed its
memory and file size limits, mount and unshare; each attempt is refused or
the worker is killed, nothing happens outside, durod serves on."""
import harness
import sandbox_util


def test(t):
    sandbox_util.run(t, "hostile", {"policy": "native"})


if __name__ == "__main__":
    harness.main(test)
