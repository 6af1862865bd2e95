#!/usr/bin/env python3
"""
run.py — run the integration tests, one scenario per file, sequentially.

    tests/integration/run.py --build build [-v] [--timeout S] [NAME ...]

NAME selects tests (test_counter, counter or test_counter.py). Each test
runs in its own Python process; the output of a failing one (traceback,
failed sub-checks, durod's log) is printed after its FAIL line. Exits 1 if
any test failed.
"""
import argparse
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def discover():
    return sorted(f[:-3] for f in os.listdir(HERE)
                  if f.startswith("test_") and f.endswith(".py"))


def select(names, wanted):
    if not wanted:
        return names
    out = []
    for w in wanted:
        w = os.path.basename(w)
        w = w[:-3] if w.endswith(".py") else w
        w = w if w.startswith("test_") else "test_" + w
        if w not in names:
            sys.exit(f"run.py: no test named {w} (have: {', '.join(names)})")
        out.append(w)
    return out


def run_one(name, build, timeout, verbose):
    """Returns (ok, seconds, output)."""
    env = dict(os.environ)
    if verbose:
        env["DURO_IT_VERBOSE"] = "1"  # durod's logs of passing tests too
    start = time.monotonic()
    p = subprocess.Popen([sys.executable, os.path.join(HERE, name + ".py"), "--build", build],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env)
    try:
        out, _ = p.communicate(timeout=timeout)
        note = ""
    except subprocess.TimeoutExpired:
        # SIGTERM first: the test unwinds and stops its durod.
        p.send_signal(signal.SIGTERM)
        try:
            out, _ = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        note = f"\n(run.py: timed out after {timeout:.0f} s)\n"
    text = out.decode("utf-8", "replace") + note
    return p.returncode == 0 and not note, time.monotonic() - start, text


def main():
    ap = argparse.ArgumentParser(description="duro integration tests")
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per test")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print the output (and durod's logs) of passing tests too")
    ap.add_argument("tests", nargs="*")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    durod = os.path.join(build, "durod")
    if not os.access(durod, os.X_OK):
        print(f"run.py: {durod} is missing; run make first", file=sys.stderr)
        return 1

    names = select(discover(), args.tests)
    failed = []
    total = time.monotonic()
    for name in names:
        ok, secs, out = run_one(name, build, args.timeout, args.verbose)
        print(f"{'PASS' if ok else 'FAIL'} {name} ({secs:.1f}s)", flush=True)
        if not ok:
            failed.append(name)
        if out.strip() and (not ok or args.verbose):
            for line in out.rstrip().splitlines():
                print("    " + line)
            sys.stdout.flush()
    passed = len(names) - len(failed)
    print(f"integration: {len(names)} tests, {passed} passed, {len(failed)} failed"
          f"{' (' + ', '.join(failed) + ')' if failed else ''} "
          f"in {time.monotonic() - total:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
