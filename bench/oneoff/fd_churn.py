# fd_churn.py — one-off (not run by bench/run.sh): durod with max_active_objects
# 20; activate N new objects in sequence (LRU hibernation keeps 20 live) and
# print durod's open fds by kind vs live workers. RESULTS.md, finding 6.
#   python3 bench/oneoff/fd_churn.py BUILD_DIR [N]
import json, os, shutil, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ["DURO_BUILD"] = sys.argv[1]
import bench
N = int(sys.argv[2]) if len(sys.argv) > 2 else 300
tmp = tempfile.mkdtemp(prefix="fdleak-", dir="/tmp")
port, aport = bench.free_port(), bench.free_port()
cfg = {"listen": f"127.0.0.1:{port}", "admin_listen": f"127.0.0.1:{aport}",
       "data_dir": f"{tmp}/data", "run_dir": f"{tmp}/run", "max_active_objects": 20,
       "namespaces": {"counter": {"exec": [bench.COUNTER], "idle_timeout_ms": 3600000}}}
json.dump(cfg, open(f"{tmp}/duro.json", "w"))
log = open(f"{tmp}/durod.log", "wb")
p = subprocess.Popen([bench.DUROD, "-c", f"{tmp}/duro.json"], cwd=tmp, stdout=log, stderr=log,
                     stdin=subprocess.DEVNULL)
for _ in range(200):
    try:
        with bench.Conn(aport, timeout=1) as c:
            if c.get("/health")[0] == 200: break
    except Exception: time.sleep(0.05)
def fds():
    kinds = {}
    for fd in os.listdir(f"/proc/{p.pid}/fd"):
        try: t = os.readlink(f"/proc/{p.pid}/fd/{fd}")
        except OSError: continue
        k = t.split(":")[0] if ":" in t else ("file" if t.startswith("/") else t)
        kinds[k] = kinds.get(k, 0) + 1
    return kinds
print("start", "live", len(bench.children_of(p.pid)), fds())
bad = 0
with bench.Conn(port) as c:
    for k in range(N):
        s, b = c.get(f"/counter/n{k}/")
        bad += s != 200
        if (k + 1) % 50 == 0:
            time.sleep(0.5)
            print(k + 1, "objects; live", len(bench.children_of(p.pid)), "fds", fds(), "non-200", bad, flush=True)
time.sleep(2)
print("after 2 s idle: live", len(bench.children_of(p.pid)), "fds", fds())
p.terminate(); p.wait(60); print("durod exit", p.returncode)
shutil.rmtree(tmp, ignore_errors=True)
