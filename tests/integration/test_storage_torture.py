#!/usr/bin/env python3
"""storage torture: no acknowledged write is lost, no event is half kept.

Six client threads increment eight counter objects (POST /counter/o<k>/incr)
and three misbehave pair objects (POST /misbehave/p<k>/pair/incr: x and y
in one event) while a chaos thread SIGKILLs random workers (durod's
children) and, less often, durod itself — then starts a new durod on the
same data_dir (new ports: the clients follow), every other time at once,
while the old durod's workers may still be dying. Connection errors, 500 and
503 during the chaos are "attempted, not acknowledged".

Per object the test counts attempted (every request whose bytes we began
to send) and acknowledged (every 200). Checked while it runs:
  - an acknowledged incr's value is above every value acknowledged before
    the request was sent, and at most the number attempted so far;
  - a GET sees at least every value acknowledged before it was sent and at
    most the number attempted; a pair always has x == y.
Checked at the end, on a fresh durod after a clean SIGTERM of the last one:
  acknowledged <= value <= attempted, value >= the largest acknowledged
  value, x == y. At least 50 worker kills and 5 durod kills, or it fails.
"""
import random
import threading
import time

import harness
import storage_util as su
from harness import check

COUNTERS = [f"/counter/o{k}" for k in range(8)]
PAIRS = [f"/misbehave/p{k}" for k in range(3)]
THREADS = 6
MIN_WORKER_KILLS = 50
MIN_DUROD_KILLS = 5
CHAOS_MIN_S = 45.0    # the chaos goes on at least this long...
CHAOS_MAX_S = 80.0    # ...and stops here even if the kill counts are short
DUROD_KILL_EVERY_S = 7.0
GET_SHARE = 0.15      # of client requests: a GET that checks the state
OK_FAILURES = (500, 503)


class Obj:
    def __init__(self, route, pair):
        self.route = route
        self.pair = pair
        self.lock = threading.Lock()
        self.attempted = 0
        self.acked = 0
        self.max_acked = 0     # the largest value a 200 incr reported
        self.unavailable = 0   # connection trouble after the request went out
        self.statuses = {}     # non-200 status/code -> count
        self.gets = 0

    def incr_path(self):
        return self.route + ("/pair/incr" if self.pair else "/incr")

    def get_path(self):
        return self.route + ("/pair" if self.pair else "/")


class Torture:
    def __init__(self, t, series, seed):
        self.t = t
        self.series = series
        self.seed = seed
        self.objs = [Obj(r, False) for r in COUNTERS] + [Obj(r, True) for r in PAIRS]
        self.stop = threading.Event()
        self.violations = []
        self.vlock = threading.Lock()
        self.worker_kills = 0
        self.durod_kills = 0
        self.kills_by_ns = {}
        self.requests = 0
        self.at_once = 0       # durod restarts not waiting for the old workers
        self.left_alive = 0    # old workers still running at those restarts
        self.messages = {}     # status/code -> the first message seen

    def violation(self, msg):
        with self.vlock:
            self.violations.append(msg)
            n = len(self.violations)
        if n <= 20:
            print(f"  VIOLATION: {msg}", flush=True)
        elif n == 21:
            print("  (more violations: only the count is printed at the end)", flush=True)

    # -- parsing a 200

    def value_of(self, o, resp, what):
        """The counter's value or the pair's x (x == y checked); None and a
        violation if the body is not what the worker promises."""
        try:
            j = resp.json()
        except harness.TestFailure as e:
            self.violation(f"{what}: {e}")
            return None
        if o.pair:
            x, y = (j.get("x"), j.get("y")) if isinstance(j, dict) else (None, None)
            if not isinstance(x, int) or not isinstance(y, int):
                self.violation(f"{what}: expected {{\"x\":N,\"y\":N}}, got {resp!r}")
                return None
            if x != y:
                self.violation(f"{what}: partial event: x={x} y={y}")
            return x
        v = j.get("value") if isinstance(j, dict) else None
        if not isinstance(v, int):
            self.violation(f"{what}: expected {{\"value\":N}}, got {resp!r}")
            return None
        return v

    def note_failure(self, o, resp, what):
        if resp.status not in OK_FAILURES:
            self.violation(f"{what}: unexpected status during chaos: {resp!r}")
            return
        try:
            j = resp.json()
            code, msg = j.get("error"), j.get("message")
        except (harness.TestFailure, AttributeError):
            code = msg = None
        key = f"{resp.status} {code}"
        with o.lock:
            o.statuses[key] = o.statuses.get(key, 0) + 1
        with self.vlock:
            self.messages.setdefault(key, msg)

    # -- clients

    def client(self, n):
        rnd = random.Random(self.seed * 100 + n)
        cl = su.FollowingClient(self.series, wait_up=1.0)
        try:
            while not self.stop.is_set():
                o = rnd.choice(self.objs)
                if rnd.random() < GET_SHARE:
                    self.do_get(cl, o)
                else:
                    self.do_incr(cl, o)
        except Exception as e:  # noqa: BLE001 — reported, the test fails
            self.violation(f"client {n} died: {type(e).__name__}: {e}")
        finally:
            cl.close()

    def do_incr(self, cl, o):
        with o.lock:
            floor = o.max_acked
        sent = []

        def count():
            with o.lock:
                o.attempted += 1
            sent.append(1)

        what = f"POST {o.incr_path()}"
        try:
            resp = cl.request("POST", o.incr_path(), before_send=count)
        except su.Unavailable:
            if sent:
                with o.lock:
                    o.unavailable += 1
            return
        with self.vlock:
            self.requests += 1
        if resp.status != 200:
            self.note_failure(o, resp, what)
            return
        v = self.value_of(o, resp, what)
        with o.lock:
            o.acked += 1
            if v is None:
                return
            if v < floor + 1:
                self.violation(f"{what}: value {v}, but {floor} was acknowledged "
                               f"before this request was sent (a write was lost)")
            if v > o.attempted:
                self.violation(f"{what}: value {v} > {o.attempted} requests attempted "
                               f"(an event ran twice?)")
            o.max_acked = max(o.max_acked, v)

    def do_get(self, cl, o):
        with o.lock:
            floor = o.max_acked
        what = f"GET {o.get_path()}"
        try:
            resp = cl.request("GET", o.get_path())
        except su.Unavailable:
            return
        with self.vlock:
            self.requests += 1
        if resp.status != 200:
            self.note_failure(o, resp, what)
            return
        v = self.value_of(o, resp, what)
        with o.lock:
            o.gets += 1
            if v is None:
                return
            if v < floor:
                self.violation(f"{what}: value {v}, but {floor} was acknowledged "
                               f"before this GET was sent (a write was lost)")
            if v > o.attempted:
                self.violation(f"{what}: value {v} > {o.attempted} requests attempted")

    # -- chaos

    def chaos(self):
        rnd = random.Random(self.seed)
        start = time.monotonic()
        next_durod_kill = start + DUROD_KILL_EVERY_S
        try:
            while True:
                now = time.monotonic()
                elapsed = now - start
                if elapsed >= CHAOS_MAX_S:
                    break
                if (elapsed >= CHAOS_MIN_S and self.worker_kills >= MIN_WORKER_KILLS
                        and self.durod_kills >= MIN_DUROD_KILLS):
                    break
                # Pacing between kills, so clients get work done in between
                # (not a wait for anything).
                time.sleep(rnd.uniform(0.05, 0.35))
                if time.monotonic() >= next_durod_kill:
                    # Every other time the next durod starts while the
                    # old one's workers may still be dying.
                    at_once = self.durod_kills % 2 == 1
                    self.series.restart("kill", at_once=at_once)
                    self.durod_kills += 1
                    if at_once:
                        self.at_once += 1
                        self.left_alive += self.series.left_alive
                    next_durod_kill = time.monotonic() + DUROD_KILL_EVERY_S * rnd.uniform(0.7, 1.3)
                    continue
                d, _ = self.series.current()
                workers = su.workers_of(d.pid)
                if not workers:
                    continue
                pid = rnd.choice(sorted(workers))
                p = harness.Proc(pid)
                d.track(pid)
                if su.kill9(p):
                    self.worker_kills += 1
                    ns = workers[pid][0]
                    self.kills_by_ns[ns] = self.kills_by_ns.get(ns, 0) + 1
        except Exception as e:  # noqa: BLE001 — reported, the test fails
            self.violation(f"chaos thread failed: {type(e).__name__}: {e}")
        finally:
            self.chaos_seconds = time.monotonic() - start
            self.stop.set()


def test(t):
    seed = su.rnd_seed()
    common = {"max_restarts": 1000000, "request_timeout_ms": 60000}
    namespaces = {"counter": dict(common), "misbehave": dict(common)}
    with su.DurodSeries(t, namespaces) as s:
        d = s.start()
        c = d.client()
        # The pair routes must exist (a 404 here is a missing feature).
        r = c.request("GET", PAIRS[0] + "/pair")
        check(r.status == 200, f"GET {PAIRS[0]}/pair: {r!r}")
        c.close()

        tt = Torture(t, s, seed)
        threads = [threading.Thread(target=tt.client, args=(n,), daemon=True)
                   for n in range(THREADS)]
        chaos = threading.Thread(target=tt.chaos, daemon=True)
        for th in threads:
            th.start()
        chaos.start()
        chaos.join()
        for th in threads:
            th.join(harness.IO_TIMEOUT * 2)
            check(not th.is_alive(), "a client thread is stuck after the chaos ended")

        acked = sum(o.acked for o in tt.objs)
        attempted = sum(o.attempted for o in tt.objs)
        print(f"  chaos {tt.chaos_seconds:.1f} s: {tt.worker_kills} worker kills "
              f"({su.dumps(tt.kills_by_ns)}), {tt.durod_kills} durod kills "
              f"({tt.at_once} restarted at once, {tt.left_alive} old workers still "
              f"running then), "
              f"{s.started} durods started; {tt.requests} answered requests; "
              f"incr: {attempted} attempted, {acked} acknowledged", flush=True)

        for key, msg in sorted(tt.messages.items()):
            print(f"    e.g. {key}: {msg}", flush=True)

        broken = [v for v in tt.violations if v.startswith("chaos thread failed")]
        check(not broken, broken[0] if broken else "")

        # A clean stop of the last chaos durod, then a fresh one.
        s.restart("term")
        d, _ = s.current()
        c = d.client()
        for o in tt.objs:
            resp = c.request("GET", o.get_path())
            harness.expect_status(resp, 200, f"final GET {o.get_path()}")
            v = tt.value_of(o, resp, f"final GET {o.get_path()}")
            print(f"    {o.route:16} value {v}: attempted {o.attempted}, acked {o.acked}, "
                  f"max acked value {o.max_acked}, lost connection {o.unavailable}, "
                  f"errors {su.dumps(o.statuses)}, GETs {o.gets}", flush=True)
            if v is None:
                continue
            with t.sub(f"{o.route}: acknowledged <= value <= attempted"):
                check(v >= o.acked, f"{o.route}: value {v} < {o.acked} acknowledged: "
                                    f"acknowledged writes were lost")
                check(v >= o.max_acked, f"{o.route}: value {v} < {o.max_acked}, a value "
                                        f"acknowledged earlier: writes were lost")
                check(v <= o.attempted, f"{o.route}: value {v} > {o.attempted} attempted")
            # Still writable after all that.
            resp = c.request("POST", o.incr_path())
            harness.expect_status(resp, 200, f"final POST {o.incr_path()}")
            check(tt.value_of(o, resp, "final incr") == v + 1,
                  f"{o.route}: the final incr did not continue from {v}")

        check(not tt.violations,
              f"{len(tt.violations)} violation(s) during the chaos; first: "
              f"{tt.violations[:5]}")
        check(tt.worker_kills >= MIN_WORKER_KILLS,
              f"only {tt.worker_kills} worker kills (want >= {MIN_WORKER_KILLS})")
        check(tt.durod_kills >= MIN_DUROD_KILLS,
              f"only {tt.durod_kills} durod kills (want >= {MIN_DUROD_KILLS})")
        check(acked >= 500, f"only {acked} acknowledged increments: the chaos hardly "
                            f"let anything through")
        for o in tt.objs:
            check(o.acked > 0, f"{o.route}: not one acknowledged increment")


if __name__ == "__main__":
    harness.main(test)
