# fd_cap.py — one-off (not run by bench/run.sh): durod under prlimit
# --nofile=400:400; activate 150 new objects, then the first 10 again
# (hibernated by then). RESULTS.md, findings 2 and 6.
#   python3 bench/oneoff/fd_cap.py BUILD_DIR
import json, os, shutil, subprocess, sys, tempfile, time, socket, collections
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ["DURO_BUILD"] = sys.argv[1]
import bench
tmp = tempfile.mkdtemp(prefix="fdcap-", dir="/tmp")
port, aport = bench.free_port(), bench.free_port()
cfg = {"listen": f"127.0.0.1:{port}", "admin_listen": f"127.0.0.1:{aport}",
       "data_dir": f"{tmp}/data", "run_dir": f"{tmp}/run", "max_active_objects": 5000,
       "namespaces": {"counter": {"exec": [bench.COUNTER], "idle_timeout_ms": 3600000}}}
json.dump(cfg, open(f"{tmp}/duro.json", "w"))
log = open(f"{tmp}/durod.log", "wb")
p = subprocess.Popen(["prlimit", "--nofile=400:400", bench.DUROD, "-c", f"{tmp}/duro.json"],
                     cwd=tmp, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
for _ in range(200):
    try:
        with bench.Conn(aport, timeout=1) as c:
            if c.get("/health")[0] == 200: break
    except Exception: time.sleep(0.05)
st = collections.Counter(); first_bad = None; bodies = {}
with bench.Conn(port) as c:
    for k in range(150):
        s, b = c.get(f"/counter/n{k}/")
        st[s] += 1
        if s != 200 and first_bad is None: first_bad = k
        bodies.setdefault(s, b[:200])
    # the first objects again: hibernated ones come back?
    again = collections.Counter()
    for k in range(10):
        s2, b2 = c.get(f"/counter/n{k}/")
        again[s2] += 1
        if s2 != 200: print("again", k, s2, b2[:300])
live = len(bench.children_of(p.pid)); fds = len(os.listdir(f"/proc/{p.pid}/fd"))
print("statuses", dict(st), "first non-200 at", first_bad, "live workers", live, "durod fds", fds,
      "first 5 again", dict(again))
for s, b in bodies.items(): print(s, b)
p.terminate(); p.wait(60); print("durod exit", p.returncode)
log.close(); print(subprocess.run(["grep", "-ci", "too many\\|capacity\\|hibernat\\|open files", f"{tmp}/durod.log"], capture_output=True, text=True).stdout)
print(subprocess.run(["grep", "-v", "worker .* exited\\|started worker\\|info: object", f"{tmp}/durod.log"], capture_output=True, text=True).stdout[-4000:])
shutil.rmtree(tmp, ignore_errors=True)
