#!/usr/bin/env python3
"""the ledger example (SQL API): deposits, transfers, an overdraft refused
with 409 insufficient_funds and nothing stored (balances and history
unchanged), history newest first. Then many concurrent transfers while
the object's worker is killed with SIGKILL again and again: the total is
conserved, no balance goes negative, every acknowledged transfer is in the
history exactly once, every history entry is a transfer that was sent, and
the balances are exactly what the history adds up to (debit, credit and
history row are one event). All of it again after a new durod."""
import os
import random
import threading

import harness
import storage_util as su
from harness import check, expect_error, expect_json

ACCOUNTS = ["a", "b", "c", "d", "e"]
START = 1_000_000            # each account's first deposit
TRANSFERS = 700              # attempted in the chaos part (history holds 1000)
THREADS = 3
KILL_EVERY = 40              # attempted transfers between worker kills
GHOST_SHARE = 0.05           # transfers from an account that does not exist
# Amounts are 1..TRANSFERS, each used once (it names the transfer in the
# history); their sum stays below START, so only the ghost is ever short.
assert TRANSFERS * (TRANSFERS + 1) // 2 < START


def test(t):
    ledger = os.path.join(t.build.dir, "examples", "ledger")
    check(os.access(ledger, os.X_OK), f"{ledger} is missing; run make")
    ns = {"ledger": {"exec": [ledger], "max_restarts": 100000,
                     "request_timeout_ms": 60000}}
    with su.DurodSeries(t, ns) as s:
        d = s.start()
        c = d.client()
        basics(t, c)
        conservation(t, s, d, c)


def state(c, route, what):
    j = expect_json(c.request("GET", route + "/"), 200, f"{what}: GET {route}/")
    check(isinstance(j, dict) and isinstance(j.get("accounts"), list)
          and isinstance(j.get("total"), int), f"{what}: GET {route}/ = {j!r}")
    bal = {}
    for a in j["accounts"]:
        check(isinstance(a, dict) and isinstance(a.get("name"), str)
              and isinstance(a.get("balance"), int), f"{what}: account entry {a!r}")
        bal[a["name"]] = a["balance"]
    check(sum(bal.values()) == j["total"],
          f"{what}: total {j['total']} is not the sum of the balances {bal}")
    return bal, j["total"]


def history(c, route, what, limit=1000):
    j = expect_json(c.request("GET", f"{route}/history?limit={limit}"), 200,
                    f"{what}: GET {route}/history")
    check(isinstance(j, dict) and isinstance(j.get("entries"), list),
          f"{what}: history = {j!r}")
    return j["entries"]


def basics(t, c):
    r = "/ledger/l1"
    check(state(c, r, "empty ledger") == ({}, 0), "a new ledger is not empty")
    j = expect_json(c.request("POST", f"{r}/deposit?account=alice&amount=100"), 200)
    check(j == {"account": "alice", "balance": 100}, f"deposit alice 100: {j!r}")
    j = expect_json(c.request("POST", f"{r}/deposit?account=bob&amount=50"), 200)
    check(j == {"account": "bob", "balance": 50}, f"deposit bob 50: {j!r}")
    j = expect_json(c.request("POST", f"{r}/transfer?from=alice&to=bob&amount=30"), 200)
    check(j == {"from": {"account": "alice", "balance": 70},
                "to": {"account": "bob", "balance": 80}}, f"transfer alice->bob 30: {j!r}")
    j = expect_json(c.request("POST", f"{r}/transfer?from=bob&to=carol&amount=80"), 200)
    check(j == {"from": {"account": "bob", "balance": 0},
                "to": {"account": "carol", "balance": 80}}, f"transfer bob->carol 80: {j!r}")
    want = {"alice": 70, "bob": 0, "carol": 80}
    check(state(c, r, "after four operations") == (want, 150), "balances after four operations")
    h = history(c, r, "after four operations")
    got = [(e.get("kind"), e.get("from"), e.get("to"), e.get("amount")) for e in h]
    check(got == [("transfer", "bob", "carol", 80), ("transfer", "alice", "bob", 30),
                  ("deposit", None, "bob", 50), ("deposit", None, "alice", 100)],
          f"history (newest first): {got}")
    ids = [e.get("id") for e in h]
    check(ids == sorted(ids, reverse=True) and len(set(ids)) == 4, f"history ids: {ids}")
    check(len(history(c, r, "limit 2", 2)) == 2, "history?limit=2")

    # Overdrafts and transfers from nowhere: 409, nothing stored.
    for q, what in (("from=alice&to=bob&amount=71", "alice has 70"),
                    ("from=bob&to=alice&amount=1", "bob has 0"),
                    ("from=nobody&to=alice&amount=1", "no such account")):
        expect_error(c.request("POST", f"{r}/transfer?{q}"), 409, "insufficient_funds",
                     f"transfer {q} ({what})")
        check(state(c, r, f"after the refused {q}") == (want, 150),
              f"a refused transfer ({q}) changed the balances")
        check(len(history(c, r, f"after the refused {q}")) == 4,
              f"a refused transfer ({q}) left a history entry")
    check("nobody" not in state(c, r, "no ghost account")[0],
          "a refused transfer from a missing account created it")
    # Bad requests: 400, nothing stored.
    for q in ("from=alice&to=alice&amount=1", "from=alice&to=bob&amount=0",
              "from=alice&to=bob&amount=-5", "from=alice&to=bob&amount=x",
              "from=al%20ice&to=bob&amount=1"):
        expect_error(c.request("POST", f"{r}/transfer?{q}"), 400, "bad_request", f"transfer {q}")
    expect_error(c.request("POST", f"{r}/deposit?account=alice&amount=0"), 400, "bad_request",
                 "deposit 0")
    check(state(c, r, "after the bad requests") == (want, 150), "bad requests changed balances")
    check(len(history(c, r, "after the bad requests")) == 4, "bad requests left history")


def conservation(t, s, d, c):
    r = "/ledger/bank"
    for a in ACCOUNTS:
        expect_json(c.request("POST", f"{r}/deposit?account={a}&amount={START}"), 200,
                    f"deposit {a}")
    total = START * len(ACCOUNTS)
    check(state(c, r, "bank opened")[1] == total, "bank's first total")

    lock = threading.Lock()
    sent = {}        # amount -> (from, to): every transfer attempted (amounts unique)
    acked = set()    # amounts of the 200s
    refused = set()  # amounts of the 409s
    failed = {}      # "status code" -> count (500 during kills)
    violations = []
    nxt = [1]
    stop = threading.Event()

    def client(n):
        rnd = random.Random(1000 + n)
        conn = d.client()
        try:
            while True:
                with lock:
                    amount = nxt[0]
                    if amount > TRANSFERS:
                        return
                    nxt[0] += 1
                    ghost = rnd.random() < GHOST_SHARE
                    frm = "ghost" if ghost else rnd.choice(ACCOUNTS)
                    to = rnd.choice([a for a in ACCOUNTS if a != frm])
                    sent[amount] = (frm, to)
                resp = conn.request("POST", f"{r}/transfer?from={frm}&to={to}&amount={amount}")
                with lock:
                    if resp.status == 200:
                        acked.add(amount)
                        if ghost:
                            violations.append(f"a transfer from a missing account: {resp!r}")
                    elif resp.status == 409:
                        refused.add(amount)
                        if not ghost:
                            violations.append(f"{frm} refused {amount}, yet it never had "
                                              f"less than {START} - all transfers: {resp!r}")
                    elif resp.status in (500, 503):
                        k = f"{resp.status} {resp.json().get('error')}"
                        failed[k] = failed.get(k, 0) + 1
                    else:
                        violations.append(f"transfer {amount}: {resp!r}")
                if rnd.random() < 0.1:
                    g = conn.request("GET", r + "/")
                    if g.status == 200:
                        j = g.json()
                        if j.get("total") != total or any(
                                a.get("balance", -1) < 0 for a in j.get("accounts", [])):
                            with lock:
                                violations.append(f"during the kills: {j!r}")
        except Exception as e:  # noqa: BLE001 — reported below
            with lock:
                violations.append(f"client {n}: {type(e).__name__}: {e}")
        finally:
            conn.close()

    def chaos():
        # Kill the bank's worker each time KILL_EVERY more transfers went
        # out (a progress condition, polled; no fixed sleeps).
        kills = 0
        while not stop.is_set():
            with lock:
                goal = (kills + 1) * KILL_EVERY
            if not harness.wait_until(lambda: stop.is_set() or nxt[0] > goal, 60):
                violations.append("transfers stalled for 60 s")
                return
            if stop.is_set() or nxt[0] > TRANSFERS:
                break  # only kills in the middle of the transfers count
            pids = [p for p, obj in su.workers_of(d.pid).items() if obj[0] == "ledger"]
            for p in pids:
                d.track(p)
                if su.kill9(p):
                    kills += 1
                    break
        chaos.kills = kills

    chaos.kills = 0
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(THREADS)]
    ch = threading.Thread(target=chaos, daemon=True)
    for th in threads:
        th.start()
    ch.start()
    for th in threads:
        th.join(300)
        check(not th.is_alive(), "a transfer client is stuck")
    stop.set()
    ch.join(60)
    print(f"  {len(sent)} transfers sent: {len(acked)} acknowledged, {len(refused)} refused "
          f"(409), failed {su.dumps(failed)}; {chaos.kills} worker kills", flush=True)
    check(not violations, f"{len(violations)} violation(s): {violations[:5]}")
    check(chaos.kills >= 5, f"only {chaos.kills} worker kills during the transfers")

    def verify(what):
        bal, tot = state(c, r, what)
        check(tot == total, f"{what}: total {tot}, expected {total} (money made or lost)")
        check(all(v >= 0 for v in bal.values()), f"{what}: a negative balance: {bal}")
        h = history(c, r, what)
        check(len(h) < 1000, f"{what}: history hit its 1000 limit; the test is too big")
        deposits = [e for e in h if e.get("kind") == "deposit"]
        transfers = [e for e in h if e.get("kind") == "transfer"]
        check(len(deposits) == len(ACCOUNTS), f"{what}: deposits in history: {deposits}")
        amounts = [e.get("amount") for e in transfers]
        check(len(amounts) == len(set(amounts)),
              f"{what}: a transfer is in the history twice")
        for e in transfers:
            a = e.get("amount")
            check(a in sent and sent[a] == (e.get("from"), e.get("to")),
                  f"{what}: history has a transfer nobody sent: {e}")
            check(a not in refused, f"{what}: a refused (409) transfer is in the history: {e}")
        missing = acked - set(amounts)
        check(not missing, f"{what}: acknowledged transfers missing from the history: "
                           f"{sorted(missing)[:10]}")
        model = {a: START for a in ACCOUNTS}
        for e in transfers:
            model[e["from"]] -= e["amount"]
            model[e["to"]] += e["amount"]
        check(bal == model, f"{what}: balances {bal} are not what the history says {model}")
        return len(transfers)

    n = verify("after the kills")
    check(len(acked) <= n <= len(sent) - len(refused),
          f"history has {n} transfers: not between {len(acked)} acknowledged and "
          f"{len(sent) - len(refused)} attempted")
    print(f"  history: {n} transfers ({n - len(acked)} unacknowledged ones that committed)",
          flush=True)

    # The same on disk: SIGKILL of durod, a new durod.
    d = s.restart("kill")
    c = d.client()
    check(verify("after SIGKILL of durod and a new durod") == n, "history changed on restart")
    check(state(c, "/ledger/l1", "l1 on the new durod") ==
          ({"alice": 70, "bob": 0, "carol": 80}, 150), "l1 changed on restart")


if __name__ == "__main__":
    harness.main(test)
