"""The checker: a history of operations (history_bot's JSON lines) and the database after the
run, against the invariants of a fault run.

Per player (an account the bots signed in as):
  lost       an operation the game acknowledged (an attempt answered ok) has no applied entry in
             the inventory's operation log (inventory_op), which buy and sell write in the same
             transaction as the gold and the item;
  doubled    one operation of the history applied more than once (under several operation ids:
             a client that changed the id on a retry), or an item listed in two bags;
  phantom    an operation applied that no attempt could have run (every attempt was told
             "not run": unavailable, or a game error), or one the player never sent;
  gold       the balance differs from 100 + what the applied operations cost and paid, or from the
             sum of the wallet's ledger, or the ledger holds an entry of another operation;
  items      the items the player owns differ in number from applied buys less applied sells;
  view       the player's last bag read (after its last operation) differs from the database.
Per fault: every bot is served again (an operation answered ok) within BOUND seconds of the
fault's heal ("served"). And from the servers' log (check_ownership): no player held by two
games at once ("owners").
"""
import json

START_GOLD = 100


def truthy(v):
    return str(v).lower() in ("t", "true", "1")


def load_history(path):
    lines = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError("%s:%d: not JSON (%s)" % (path, n, e))
    return lines


def load_faults(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


class Result:
    def __init__(self):
        self.violations = {}  # invariant -> [messages]
        self.figures = {}

    def fail(self, invariant, message):
        self.violations.setdefault(invariant, []).append(message)

    def ok(self):
        return not self.violations

    def report(self, label):
        out = ["%s: %s" % (label, ", ".join("%s %s" % (k, v) for k, v in self.figures.items()))]
        for inv, msgs in sorted(self.violations.items()):
            out.append("  VIOLATED %s (%d): %s" % (inv, len(msgs), "; ".join(msgs[:5]) + (" ..." if len(msgs) > 5 else "")))
        if self.ok():
            out.append("  every invariant checked holds (lost, doubled, phantom, gold, items, view, served%s)"
                       % (", owners" if "holds" in self.figures else ""))
        return "\n".join(out)


def check(history, faults, db, prices, bound_s, run_end_ms=None):
    """`db` answers SQL with rows of strings; `prices` maps shop item id -> price."""
    r = Result()
    users = {}      # user -> {"bot", "ops": {op: {...}}, "reads": [...], "last_attempt": t}
    wire_of = {}    # (user, wire) -> op
    by_bot = {}     # bot -> [t1 of answered operations]
    logins = {}
    for e in history:
        kind, user = e["kind"], e.get("user", 0)
        if kind in ("login", "connect"):
            if e.get("outcome") == "ok":
                logins[e["bot"]] = logins.get(e["bot"], 0) + 1
            continue
        u = users.setdefault(user, {"bot": e["bot"], "ops": {}, "reads": [], "last_attempt": 0})
        if e.get("outcome") == "ok":
            by_bot.setdefault(e["bot"], []).append(e["t1"])
        if kind in ("bag", "final"):
            if e.get("outcome") == "ok":
                u["reads"].append(e)
            continue
        op = u["ops"].setdefault(e["op"], {"kind": kind, "item": e.get("item"), "bag_item": e.get("bag_item"),
                                           "outcomes": [], "wires": set()})
        op["outcomes"].append(e["outcome"])
        op["wires"].add(e["wire"])
        wire_of[(user, e["wire"])] = e["op"]
        u["last_attempt"] = max(u["last_attempt"], e["t0"])
    if not users:
        r.fail("history", "no operations recorded")
        return r
    ids = ",".join(str(u) for u in users if u)
    applied = {}
    for op, ok in db("SELECT op, applied FROM inventory_op WHERE op LIKE 'buy:%' OR op LIKE 'sell:%'"):
        kind, user, wire = op.split(":", 2)
        if int(user) in users and truthy(ok):
            applied.setdefault(int(user), set()).add(wire)
    gold = {int(p): int(a) for p, a in db("SELECT player, amount FROM wallet_balance WHERE currency = 'gold' "
                                          "AND player IN (%s)" % ids)}
    ledger = {}
    for p, op, delta in db("SELECT l.player, l.op, l.delta FROM wallet_ledger l JOIN wallet_account a "
                           "ON a.player = l.player WHERE l.seq < a.ledger_next AND l.player IN (%s)" % ids):
        ledger.setdefault(int(p), []).append((op, int(delta)))
    owned = {}
    for i, owner, count in db("SELECT id, owner, count FROM inventory_item WHERE count > 0 AND owner IN (%s)" % ids):
        owned.setdefault(int(owner), []).extend([int(i)] * int(count))
    listed = {}
    for p, items in db("SELECT player, items FROM inventory_bag"):
        for i in filter(None, items.split(",")):
            listed.setdefault(int(i), []).append(int(p))
    for item, players in listed.items():
        if len(players) > 1:
            r.fail("doubled", "item %d listed in the bags of players %s" % (item, players))

    n_ops = n_acked = n_unknown = n_applied = 0
    for user, u in users.items():
        done = applied.get(user, set())
        effect = 0
        buys = sells = 0
        for name, op in u["ops"].items():
            n_ops += 1
            ran = [w for w in op["wires"] if w in done]
            acked = "ok" in op["outcomes"]
            n_acked += acked
            may_have_run = any(o in ("ok", "unknown", "error") for o in op["outcomes"])
            n_unknown += not acked and may_have_run
            if acked and not ran:
                r.fail("lost", "%s (user %d) %s %s was acknowledged, is not applied" % (u["bot"], user, op["kind"], name))
            if len(ran) > 1:
                r.fail("doubled", "%s (user %d) %s %s applied %d times (ids %s)" % (u["bot"], user, op["kind"], name,
                                                                                   len(ran), ", ".join(sorted(ran))))
            if ran and not may_have_run:
                r.fail("phantom", "%s (user %d) %s %s was told 'not run' (%s), is applied" % (
                    u["bot"], user, op["kind"], name, ",".join(op["outcomes"])))
            for _ in ran:
                n_applied += 1
                price = prices[int(op["item"])]
                if op["kind"] == "buy":
                    effect -= price
                    buys += 1
                else:
                    effect += price // 2
                    sells += 1
        for w in done:
            if (user, w) not in wire_of:
                r.fail("phantom", "user %d: operation %s applied, never sent" % (user, w))
        have = gold.get(user)
        want = START_GOLD + effect
        entries = ledger.get(user, [])
        if have is None:
            r.fail("gold", "user %d (%s) has no gold balance" % (user, u["bot"]))
        else:
            if have != want:
                r.fail("gold", "user %d (%s) has %d gold, its applied operations make %d" % (user, u["bot"], have, want))
            if sum(d for _, d in entries) != have:
                r.fail("gold", "user %d: ledger sums to %d, balance %d" % (user, sum(d for _, d in entries), have))
        for op, _ in entries:
            kind, _, rest = op.partition(":")
            if op == "start:%d" % user:
                continue
            wire = rest.partition(":")[2]
            if kind not in ("buy", "sell") or wire not in done:
                r.fail("gold", "user %d: ledger entry of an operation not applied: %s" % (user, op))
        seen = {}
        for op, _ in entries:
            seen[op] = seen.get(op, 0) + 1
        for op, n in seen.items():
            if n > 1:
                r.fail("doubled", "user %d: ledger holds %s %d times" % (user, op, n))
        items = sorted(owned.get(user, []))
        if len(items) != buys - sells:
            r.fail("items", "user %d (%s) owns %d items, applied buys less sells make %d" % (
                user, u["bot"], len(items), buys - sells))
        last = [x for x in u["reads"] if x["t0"] > u["last_attempt"]]
        if last:
            view = last[-1]
            if view["gold"] != have or sorted(i for i, _ in view["items"]) != items:
                r.fail("view", "user %d (%s): its last bag read says %d gold and %d items, the database %s and %d" % (
                    user, u["bot"], view["gold"], len(view["items"]), have, len(items)))

    # Served again after each fault healed.
    worst = 0.0
    for f in faults:
        for bot, times in by_bot.items():
            after = [t for t in times if t >= f["heal"]]
            if run_end_ms is not None and f["heal"] + bound_s * 1000 > run_end_ms:
                continue  # healed too close to the end to measure
            if not after:
                r.fail("served", "%s not served after %s healed" % (bot, f["fault"]))
                continue
            delay = (min(after) - f["heal"]) / 1000
            worst = max(worst, delay)
            f.setdefault("worst", 0.0)
            f["worst"] = max(f["worst"], delay)
            if delay > bound_s:
                r.fail("served", "%s served again %.1f s after %s healed (bound %d s)" % (bot, delay, f["fault"], bound_s))
    r.figures = {"players": len(users), "operations": n_ops, "acknowledged": n_acked,
                 "outcome unknown at the end": n_unknown, "applied": n_applied,
                 "sign-ins": sum(logins.values()), "faults": len(faults),
                 "worst served-again (s)": round(worst, 1)}
    return r


def check_ownership(master_log, result):
    """No player held by two games at once, from the games' own lines in the master's output: a
    game holds a player from "loaded player NAME (ID)" or "took over player NAME (ID)" until
    "saved player NAME (ID)" or the end of its process ("GAME crashed" / "stopped" from the
    master). Two holds of one player on two games that overlap are a violation."""
    import datetime
    import re
    hold = re.compile(r"^\[(game\d+)\] (\S+ \S+) \w+\s+\[\1\] (loaded|took over|saved) player \S+ \((\d+)\)")
    end = re.compile(r"^\[master\] (\S+ \S+) \w+\s+(game\d+) (crashed|stopped)")
    parse = lambda s: datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f").timestamp()
    open_holds = {}   # (game, player) -> since
    spans = {}        # player -> [(since, until, game)]
    moves = 0
    with open(master_log, errors="replace") as f:
        for line in f:
            m = hold.match(line)
            if m:
                game, t, what, player = m.group(1), parse(m.group(2)), m.group(3), int(m.group(4))
                if what == "saved":
                    since = open_holds.pop((game, player), None)
                    if since is not None:
                        spans.setdefault(player, []).append((since, t, game))
                else:
                    moves += what == "took over"
                    open_holds.setdefault((game, player), t)
                continue
            m = end.match(line)
            if m:
                t, game = parse(m.group(1)), m.group(2)
                for (g, player), since in list(open_holds.items()):
                    if g == game:
                        spans.setdefault(player, []).append((since, t, g))
                        del open_holds[(g, player)]
    for (g, player), since in open_holds.items():
        spans.setdefault(player, []).append((since, float("inf"), g))
    overlaps = 0
    for player, s in spans.items():
        s.sort()
        for a, b in zip(s, s[1:]):
            if b[2] != a[2] and b[0] < a[1]:
                overlaps += 1
                result.fail("owners", "player %d held by %s from %.3f and by %s from %.3f, before %s let it go (%.3f)" % (
                    player, a[2], a[0], b[2], b[0], a[2], a[1]))
    result.figures["holds"] = sum(len(s) for s in spans.values())
    result.figures["take-overs"] = moves
    return result
