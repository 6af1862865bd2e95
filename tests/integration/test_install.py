#!/usr/bin/env python3
"""make install: into a DESTDIR, the tree has durod, the header, libduro
with a pkg-config file a worker builds with, the policies, the example
workers, the systemd unit and a config naming the installed paths, which
the installed durod accepts (--check, with /usr/local, /var/lib/duro and
/run/duro moved into the temp tree). A second install keeps an edited
config."""
import os
import shutil
import subprocess
import tempfile

import harness
from harness import check

PREFIX = "/usr/local"
FILES = ["bin/durod", "bin/duroctl", "include/duro.h", "lib/libduro.a", "lib/pkgconfig/duro.pc",
         "libexec/duro/counter", "libexec/duro/ledger",
         "share/duro/policies/native.json", "share/duro/policies/interpreter.json",
         "lib/systemd/system/durod.service", "etc/duro/duro.json"]


def make_install(build, dest):
    # -o: install what the test run was built with, never rebuild it here
    # (other tests are using the build directory).
    b = build.dir
    keep = [f"{b}/durod", f"{b}/duroctl", f"{b}/libduro.a", f"{b}/examples/counter",
            f"{b}/examples/ledger", f"{b}/examples/chat"]
    cmd = ["make", "-s", "-C", harness.REPO, f"BUILD={b}", f"DESTDIR={dest}",
           f"PREFIX={PREFIX}", "install"]
    for f in keep:
        cmd[1:1] = ["-o", f]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    check(p.returncode == 0, f"make install failed: {p.stderr.decode(errors='replace')}")


def test(t):
    tmp = tempfile.mkdtemp(prefix="duro-it-")
    try:
        dest = os.path.join(tmp, "dest")
        root = dest + PREFIX
        make_install(t.build, dest)

        with t.sub("the installed files"):
            missing = [f for f in FILES if not os.path.isfile(os.path.join(root, f))]
            check(not missing, f"not installed: {missing}")
            for f in ("bin/durod", "bin/duroctl", "libexec/duro/counter"):
                check(os.access(os.path.join(root, f), os.X_OK), f"{f} is not executable")
            with open(os.path.join(root, "lib/systemd/system/durod.service")) as f:
                unit = f.read()
            check("ExecReload=/bin/kill -HUP $MAINPID" in unit, "the unit's ExecReload")
            p = subprocess.run([os.path.join(root, "bin/duroctl"), "--help"],
                               capture_output=True, timeout=30)
            check(p.returncode == 0 and b"status" in p.stdout, "duroctl --help")
            check(f"ExecStart={PREFIX}/bin/durod -c {PREFIX}/etc/duro/duro.json" in unit,
                  "the unit's ExecStart does not name the installed paths")

        with t.sub("a worker builds with pkg-config"):
            env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(root, "lib/pkgconfig"))
            p = subprocess.run(["pkg-config", f"--define-variable=prefix={root}",
                                "--cflags", "--libs", "--static", "duro"],
                               env=env, capture_output=True, text=True, timeout=30)
            check(p.returncode == 0, f"pkg-config: {p.stderr}")
            out = os.path.join(tmp, "counter")
            # A sanitizer build's libduro.a needs its sanitizer runtime
            # (clang's) to link: build with the same flags then.
            cc = ["clang", "-fsanitize=address,undefined"] if t.build.sanitized else ["cc"]
            p = subprocess.run([*cc, "-std=gnu11", "-o", out,
                                os.path.join(harness.REPO, "examples/counter.c"),
                                *p.stdout.split()],
                               capture_output=True, text=True, timeout=120)
            check(p.returncode == 0, f"compiling examples/counter.c: {p.stderr}")

        with t.sub("the installed durod accepts the installed config"):
            cfg = os.path.join(root, "etc/duro/duro.json")
            with open(cfg) as f:
                text = f.read()
            text = (text.replace(PREFIX, root)
                    .replace("/var/lib/duro", os.path.join(tmp, "data"))
                    .replace("/run/duro", os.path.join(tmp, "run")))
            moved = os.path.join(tmp, "duro.json")
            with open(moved, "w") as f:
                f.write(text)
            p = subprocess.run([os.path.join(root, "bin/durod"), "--check", "-c", moved],
                               capture_output=True, text=True, timeout=30)
            check(p.returncode == 0,
                  f"durod --check refused the installed config: {p.stderr}")

        with t.sub("a second install keeps an existing config"):
            cfg = os.path.join(root, "etc/duro/duro.json")
            with open(cfg, "a") as f:
                f.write("\n")
            with open(cfg) as f:
                before = f.read()
            make_install(t.build, dest)
            with open(cfg) as f:
                check(f.read() == before, "make install overwrote the config")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    harness.main(test)
