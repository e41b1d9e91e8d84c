"""The faults the lab injects. Each takes the lab and how long to hold it, and returns once it
has healed; the lab's faults.jsonl gets {"fault", "start", "heal"} in CLOCK_MONOTONIC ms (the
bots' clock), "heal" being when the cause was gone (a killed process: when it was killed; the
master's restart and the players' move are what the checker's "served again" bound measures).
"""
import signal
import time

from lab import HOSTS, now_ms, say


def _hold(seconds):
    time.sleep(seconds)


def kill_game(lab, hold, rng):
    game = rng.choice(["game1", "game2"])
    pids = lab.signal_host(game, signal.SIGKILL)
    return "kill -9 %s (pid %s); ember-master restarts it" % (game, ",".join(map(str, pids)))


def kill_net(lab, hold, rng):
    net = rng.choice(["net1", "net2"])
    pids = lab.signal_host(net, signal.SIGKILL)
    return "kill -9 %s (pid %s): its clients connect and sign in again" % (net, ",".join(map(str, pids)))


def stop_game(lab, hold, rng):
    game = rng.choice(["game1", "game2"])
    lab.stop_host(game)
    _hold(hold)
    lab.continue_all()
    return "SIGSTOP %s for %.1f s, then SIGCONT" % (game, hold)


def stop_games(lab, hold, rng):
    lab.stop_host("game1")
    lab.stop_host("game2")
    _hold(hold)
    lab.continue_all()
    return "SIGSTOP game1 and game2 for %.1f s, then SIGCONT" % hold


def kill_memcached(lab, hold, rng):
    p = lab.procs["memcached"]
    p.kill()
    p.wait()
    _hold(hold)
    lab.start_memcached()
    return "kill -9 memcached, a new (empty) one %.1f s later" % hold


def kill_db(lab, hold, rng):
    p = lab.procs["postgres"]
    p.kill()  # the postmaster; its backends end when they notice
    p.wait()
    lab.wait_for("postgres backends", lambda: not lab.pids_in("db"), 15)
    lab.signal_host("db", signal.SIGKILL)  # one that did not notice in 15 s
    _hold(hold)
    lab.run_postgres()  # crash recovery, then accepting again
    return "kill -9 PostgreSQL, restarted %.1f s later" % hold


def _partition(lab, hold, hosts, peers, one_way=False):
    for h in hosts:
        lab.block(h, peers, one_way)
    _hold(hold)
    lab.heal_network()


def part_net_game(lab, hold, rng):
    _partition(lab, hold, ["game1", "game2"], ["net1", "net2"])
    return "net1, net2 | game1, game2 for %.1f s (both ways)" % hold


def part_game_memcached(lab, hold, rng):
    _partition(lab, hold, ["game1", "game2"], ["mc"])
    return "game1, game2 | memcached for %.1f s" % hold


def part_game_db(lab, hold, rng):
    _partition(lab, hold, ["game1", "game2"], ["db"])
    return "game1, game2 | PostgreSQL for %.1f s" % hold


def isolate_gate(lab, hold, rng):
    lab.isolate("gate")
    _hold(hold)
    lab.heal_network()
    return "gate cut off from everyone for %.1f s" % hold


def one_way_game_gate(lab, hold, rng):
    game = rng.choice(["game1", "game2"])
    _partition(lab, hold, [game], ["gate", "net1", "net2"], one_way=True)
    return "%s's packets to gate, net1, net2 dropped (theirs reach it) for %.1f s" % (game, hold)


def isolate_game(lab, hold, rng):
    game = rng.choice(["game1", "game2"])
    lab.isolate(game)
    _hold(hold)
    lab.heal_network()
    return "%s cut off from everyone for %.1f s (past its players' lease when longer than 10 s)" % (game, hold)


FAULTS = {
    "kill-game": kill_game,
    "kill-net": kill_net,
    "stop-game": stop_game,
    "stop-games": stop_games,
    "kill-memcached": kill_memcached,
    "kill-db": kill_db,
    "part-net-game": part_net_game,
    "part-game-memcached": part_game_memcached,
    "part-game-db": part_game_db,
    "isolate-gate": isolate_gate,
    "one-way-game": one_way_game_gate,
    "isolate-game": isolate_game,
}


def inject(lab, name, hold, rng):
    start = now_ms()
    note = FAULTS[name](lab, hold, rng)
    heal = now_ms()
    lab.record_fault(name, start, heal, note)
    say("fault %-20s %s" % (name, note))
    return start, heal
