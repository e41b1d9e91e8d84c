#!/usr/bin/python3
"""Runs the example cluster in network namespaces with bots playing, injects faults, then checks
the bots' history against the database (tools/partition/check.py).

  run.py --build DIR [--seconds S] [--faults a,b,...] [--hold S] [--gap S] [--bots N]
         [--broken-bots N] [--bound S] [--seed X] [--keep]

--faults lists the faults in the order injected (default: all, tools/partition/faults.py),
cycled until the play time is nearly up; --soak shuffles each round of them and holds each for
a random 2..12 s instead.
--broken-bots N adds N bots that change the operation id when they retry (history_bot
--broken double-apply): their history must fail the checker's "doubled" invariant, and the
run fails if it does not. Exit status: 0 all held, 1 an invariant was violated or the run
failed, 77 the machine cannot run it (not root, no network namespaces): a skip for meson.
"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402
import faults as fault_list  # noqa: E402
from lab import Lab, Unavailable, check_machine, netem_available, now_ms, say  # noqa: E402

SOURCE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def count_lines(path):
    ok = total = 0
    try:
        with open(path) as f:
            for line in f:
                total += 1
                ok += '"outcome":"ok"' in line
    except OSError:
        pass
    return total, ok


def main(argv=None):
    a = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    a.add_argument("--build", required=True, help="the meson build directory (ember-master, ember-server, "
                                                    "world.so, history_bot built)")
    a.add_argument("--seconds", type=int, default=100, help="how long the bots play (default 100)")
    a.add_argument("--faults", default=",".join(fault_list.FAULTS), help="faults, in order, cycled")
    a.add_argument("--soak", action="store_true", help="each round of the faults shuffled, held 2..12 s at random")
    a.add_argument("--hold", type=float, default=3.0, help="seconds a fault lasts (default 3)")
    a.add_argument("--gap", type=float, default=7.0, help="seconds between faults (default 7)")
    a.add_argument("--bots", type=int, default=8)
    a.add_argument("--broken-bots", type=int, default=0)
    a.add_argument("--bound", type=int, default=15, help="seconds within which every bot is served again after a "
                                                         "fault healed (default 15)")
    a.add_argument("--known", default="", help="invariants reported but not failing the run (comma-separated), "
                                               "for a violation already filed: e.g. owners")
    a.add_argument("--seed", type=int, default=None)
    a.add_argument("--sanitized", action="store_true", help="the build's programs run under ASan/UBSan (several "
                                                             "times slower): play and the bound stretched")
    a.add_argument("--keep", action="store_true", help="keep the run's directory (logs, history, config)")
    o = a.parse_args(argv)
    names = [f for f in o.faults.split(",") if f]
    for f in names:
        if f not in fault_list.FAULTS:
            a.error("unknown fault %r; known: %s" % (f, ", ".join(fault_list.FAULTS)))
    for binary in ("tools/master/ember-master", "tools/server/ember-server", "examples/cluster/world.so",
                   "examples/cluster/history_bot"):
        if not os.path.exists(os.path.join(o.build, binary)):
            a.error("%s is not built in %s (ninja -C %s %s)" % (binary, o.build, o.build, binary))
    try:
        check_machine()
    except Unavailable as e:
        print("SKIP: the partition harness cannot run here: %s" % e, flush=True)
        return 77
    if o.sanitized:
        # Every process runs several times slower under ASan and UBSan (CI's test pass): the
        # same faults, with the time to be served again and the play stretched to match.
        o.bound *= 3
        o.seconds = o.seconds * 2
        say("a sanitizer build: served again within %d s, %d s of play" % (o.bound, o.seconds))
    seed = o.seed if o.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    say("seed %d; %s" % (seed, "sch_netem present: delay and loss possible" if netem_available() else
                         "this kernel has no sch_netem (tc netem): delay/loss faults are not injected"))

    lab = Lab(o.build, SOURCE, keep=o.keep)
    from lab import install_signal_handlers
    install_signal_handlers(lab)
    status = 1
    try:
        lab.up()
        t_start = time.monotonic()
        lab.start_cluster()
        say("cluster started in %.1f s" % (time.monotonic() - t_start))
        history = os.path.join(lab.dir, "history.jsonl")
        broken_history = os.path.join(lab.dir, "history-broken.jsonl")
        lab.start_bots("bots", o.bots, o.seconds, history, ["--seed", str(seed)])
        if o.broken_bots:
            lab.start_bots("broken-bots", o.broken_bots, o.seconds, broken_history,
                           ["--names", "bbot", "--broken", "double-apply", "--seed", str(seed + 1)])
        play_end = time.monotonic() + o.seconds
        # Faults from a few seconds in until the bound before the end (each must be seen healed).
        time.sleep(min(6, o.seconds / 4))
        n = 0
        last_ok = 0
        last_t = time.monotonic()
        while True:
            hold = rng.uniform(2, 12) if o.soak else o.hold
            if time.monotonic() + hold + o.bound + 2 > play_end:
                break
            if o.soak and n % len(names) == 0:
                rng.shuffle(names)  # a soak: every fault once per round, in a random order
            name = names[n % len(names)]
            fault_list.inject(lab, name, hold, rng)
            n += 1
            if not lab.alive("master"):
                raise RuntimeError("the master exited: " + lab.tail("master"))
            time.sleep(rng.uniform(o.gap, o.gap * 1.5) if o.soak else o.gap)
            total, ok = count_lines(history)
            now = time.monotonic()
            say("%5.0f s  %d faults  %.0f answers/s ok  (%d attempts recorded)" % (
                o.seconds - (play_end - now), n, (ok - last_ok) / (now - last_t), total))
            last_ok, last_t = ok, now
        say("%d faults injected; letting the bots finish" % n)
        for name in ("bots", "broken-bots"):
            p = lab.procs.get(name)
            if p:
                try:
                    p.wait(max(0, play_end - time.monotonic()) + 100)
                except Exception:
                    raise RuntimeError("%s did not finish: %s" % (name, lab.tail(name)))
                say("%s: %s" % (name, lab.tail(name, 1)))
        run_end = now_ms()
        clean = lab.stop_cluster()
        say("cluster stopped%s" % ("" if clean else " UNCLEANLY: " + lab.tail("master")))
        prices = {i["id"]: i["price"] for i in json.load(open(os.path.join(SOURCE, "examples/cluster/data/items.json")))}
        faults = check.load_faults(os.path.join(lab.dir, "faults.jsonl"))
        good = check.check(check.load_history(history), faults, lab.psql, prices, o.bound, run_end)
        check.check_ownership(lab.logs["master"], good)
        known = {k: good.violations.pop(k) for k in o.known.split(",") if k in good.violations}
        print(good.report("checker, the bots' history"), flush=True)
        for k, msgs in known.items():
            print("  KNOWN %s (%d, --known: reported, not failing the run): %s" % (k, len(msgs), "; ".join(msgs[:3])))
        if len(faults) <= 12:
            for f in faults:
                print("  %-20s served again within %s s  (%s)" % (
                    f["fault"], "%.1f" % f["worst"] if "worst" in f else "-", f["note"]))
        else:  # a soak: by kind of fault
            kinds = {}
            for f in faults:
                k = kinds.setdefault(f["fault"], [0, 0.0])
                k[0] += 1
                k[1] = max(k[1], f.get("worst", 0.0))
            for name, (count, worst) in sorted(kinds.items()):
                print("  %-20s %3d times, every bot served again within %.1f s" % (name, count, worst))
        print("  %.0f s of play, %d bots, %d faults" % (o.seconds, o.bots, len(faults)), flush=True)
        status = 0 if good.ok() and clean else 1
        if o.broken_bots:
            bad = check.check(check.load_history(broken_history), [], lab.psql, prices, o.bound, run_end)
            print(bad.report("checker, the BROKEN bots' history (must be caught)"), flush=True)
            if "doubled" in bad.violations:
                say("the checker caught the broken bots (doubled operations), as it must")
            else:
                say("FAILED: the checker did not catch the broken bots")
                status = 1
        say("%s" % ("ok: every invariant held" if status == 0 else "FAILED"))
    except Exception as e:
        say("FAILED: %s" % e)
        lab.keep = True
        status = 1
    finally:
        lab.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
