#!/usr/bin/env python3
"""Players per core: how many players the example cluster holds (BENCHMARKS.md, "Players per core").

Starts the cluster example (examples/cluster/config.json: gate, net1, net2, game1, game2, lobby
and the memcached the master starts; the games' rows in a SQLite file, whose ODBC driver runs
inside the games) under ember-master in a temporary directory, then ramps players up in steps.
Each step adds players_bot processes (at most --per-process bots each, under the 20,000
descriptors a process may hold) that sign in at --rate a second, waits until every bot of the
step has signed in, and holds it for --hold seconds: every bot does about one thing a second
(tools/bench/players_bot.cpp says what). Over the hold it merges the bots' latency histograms
(p50/p99 of the actions, sign-ins and setup apart) and reads each process's CPU time
(/proc/PID/stat) and resident memory (/proc/PID/status) by server type. It stops after the step
whose p99 passes --p99-ms, after the last step, or when the run's time (--budget) would not
fit another step, and prints the table: players, p99, CPU per player and memory per player by
server type (net, game, gate, lobby, memcached; the database is SQLite inside the games, or
with --pg a throw-away PostgreSQL 15 whose processes are measured as "database"), CPU
per action answered (a player acts about once a second: it is also a player's CPU per second).
Each step also logs memcached's commands per action (its `stats`) and each server type's CPU on
its io thread against its worker threads; --perf profiles the servers through the first hold.

usage: players.py BUILD_DIR [--pg] [--steps 1000,2000,...] [--hold S] [--rate R] [--per-process N]
                  [--p99-ms MS] [--budget S] [--port-base P] [--json FILE] [--keep] [--perf FILE]
                  [--think-ms MS] [--only KIND] [--master|--server|--module|--bot PATH]
Exits 0 when every step ran without a lost bot or a failed request, 1 otherwise.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
TYPES = ["net", "game", "gate", "lobby", "memcached", "database"]
PG_BIN = "/usr/lib/postgresql/15/bin"
SETUP_KINDS = {"login", "setup"}


def log(msg):
    print(f"[players {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cpu_seconds(pid):
    """utime + stime of the process (all its threads), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
        return None


def thread_split(pid):
    """CPU seconds of the process's main thread (ember-server's io thread) and of its other
    threads together (the memcache and database workers, password hashing), or None."""
    io = cpu_seconds(pid)
    if io is None:
        return None
    try:
        with open(f"/proc/{pid}/task/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        io = (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
        return None
    return io, max(0.0, cpu_seconds(pid) - io)


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def memcached_stats(port):
    """The counters of memcached's `stats` (ints only), or {} if it does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"stats\r\n")
            data = b""
            while not data.endswith(b"END\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return {}
    out = {}
    for line in data.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT" and parts[2].isdigit():
            out[parts[1]] = int(parts[2])
    return out


def children(root):
    """PIDs of every descendant of `root`, with their argv."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            pass
    out, todo = {}, [root]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p and c not in out:
                try:
                    with open(f"/proc/{c}/cmdline", "rb") as f:
                        out[c] = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
                except OSError:
                    continue
                todo.append(c)
    return out


def free_port_base(count, start=24000, stop=60000, step=200):
    """A base such that base .. base+count are free on loopback (checked by binding each)."""
    for base in range(start, stop, step):
        ok = True
        for p in range(base, base + count + 1):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
                break
            finally:
                s.close()
        if ok:
            return base
    raise SystemExit("players: no free range of ports on 127.0.0.1")


def make_config(src, dst, base):
    """The example's config with its ports moved to start at `base`, logs at info for every
    server (the example asks debug of game1: a line per request would be the benchmark), and room for every bot's session from
    127.0.0.1."""
    keys = {"rootport", "netport", "webport", "port"}
    c = json.load(open(src))

    def ports(v, key=None):
        if isinstance(v, dict):
            for k, x in v.items():
                yield from ports(x, k)
        elif isinstance(v, list):
            for x in v:
                yield from ports(x, key)
        elif isinstance(v, int) and not isinstance(v, bool) and key in keys:
            yield v
        elif isinstance(v, str) and key == "servers" and ":" in v:
            yield int(v.rsplit(":", 1)[1])

    lo = min(ports(c))
    shift = base - lo
    span = max(ports(c)) - lo

    def moved(v, key=None):
        if isinstance(v, dict):
            return {k: moved(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [moved(x, key) for x in v]
        if isinstance(v, int) and not isinstance(v, bool) and key in keys:
            return v + shift
        if isinstance(v, str) and key == "servers" and ":" in v:
            host, port = v.rsplit(":", 1)
            return "%s:%d" % (host, int(port) + shift)
        return v

    c = moved(c)
    c["defaults"].setdefault("log", {})["level"] = "info"
    c["defaults"].setdefault("limits", {})["max_sessions_per_address"] = 20000
    for s in c["servers"].values():
        s.pop("log", None)
    json.dump(c, open(dst, "w"), indent=2)
    return c, span


class postgres:
    """A throw-away PostgreSQL 15 in `directory` on `port` (as the `postgres` user when we are
    root: initdb refuses root), stopped by stop()."""

    def __init__(self, directory, port):
        self.dir, self.port = directory, port
        os.makedirs(directory)
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        self._run([f"{PG_BIN}/initdb", "-D", f"{directory}/data", "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"])
        self._run([f"{PG_BIN}/pg_ctl", "-D", f"{directory}/data", "-l", f"{directory}/server.log", "-w", "-t", "30",
                   "-o", f"-p {port} -k {directory} -c listen_addresses=127.0.0.1", "start"])

    def _run(self, argv):
        if os.geteuid() == 0:
            argv = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def connection(self):
        return (f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={self.port};Database=postgres;Uid=postgres;"
                "Protocol=7.4-1;")

    def pids(self):
        """The postmaster and every process it started (backends, writer, WAL)."""
        with open(f"{self.dir}/data/postmaster.pid") as f:
            main = int(f.readline())
        return [main] + list(children(main))

    def stop(self):
        self._run([f"{PG_BIN}/pg_ctl", "-D", f"{self.dir}/data", "-m", "fast", "-w", "-t", "30", "stop"])


class bot_process:
    """One players_bot process and the JSON lines it prints (one a second)."""

    def __init__(self, exe, ports, first, count, rate, seconds, logfile, extra):
        argv = [exe, "--bots", str(count), "--first", str(first), "--rate", str(rate), "--seconds", str(seconds),
                "--seed", str(first)] + extra
        for p in ports:
            argv += ["--port", str(p)]
        self.count = count
        self.err = open(logfile, "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.lines = []  # (arrival time, the parsed line)
        self.last = {"signed": 0, "lost": 0, "errors": 0, "pushes": 0, "sign_in_retries": 0, "first_error": ""}
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.lines.append((time.monotonic(), d))
                self.last = d

    def between(self, t0, t1):
        with self.lock:
            return [d for t, d in self.lines if t0 <= t < t1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def merge(hists):
    out = {}
    for h in hists:
        for k, v in h.items():
            out[int(k)] = out.get(int(k), 0) + v
    return out


def quantile(h, q):
    """The upper bound (µs) of the bucket holding the q-quantile of `h` (0 if empty)."""
    n = sum(h.values())
    if n == 0:
        return 0
    want, seen = q * n, 0
    for upper in sorted(h):
        seen += h[upper]
        if seen >= want:
            return upper
    return max(h)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", help="the meson build directory (ember-master, ember-server, world.so, players_bot)")
    ap.add_argument("--steps", default="1000,2000,5000,10000,15000,20000")
    ap.add_argument("--hold", type=float, default=15, help="seconds each step is measured")
    ap.add_argument("--rate", type=int, default=100, help="sign-ins a second while ramping (all processes)")
    ap.add_argument("--per-process", type=int, default=5000, help="bots per players_bot process (≤ 15,000)")
    ap.add_argument("--p99-ms", type=float, default=50)
    ap.add_argument("--budget", type=float, default=290, help="seconds for the whole run, start-up included")
    ap.add_argument("--port-base", type=int, default=0)
    ap.add_argument("--json", help="write the steps' figures here")
    ap.add_argument("--keep", action="store_true", help="keep the run's directory (config, logs, world.db)")
    ap.add_argument("--perf", metavar="FILE", help="profile the servers (perf record, 499 Hz) through the hold of "
                    "the first step and write perf report's top functions by process and library to FILE; the "
                    "step's figures then include perf's own cost")
    for name in ("master", "server", "module", "bot"):
        ap.add_argument(f"--{name}", help=f"the {name} program (default: its place in BUILD_DIR)")
    ap.add_argument("--pg", action="store_true", help="the games' database in a throw-away PostgreSQL 15 "
                    "(its processes measured as 'database') instead of SQLite inside the games")
    ap.add_argument("--think-ms", type=int, default=1000, help="mean time between a bot's actions (0: idle)")
    ap.add_argument("--only", help="one kind of action alone (players_bot --only): what each costs")
    a = ap.parse_args(argv)
    bot_extra = ["--think-ms", str(a.think_ms)] + (["--only", a.only] if a.only else [])
    steps = [int(s) for s in a.steps.split(",")]
    if steps != sorted(steps) or steps[0] < 1 or not 20 <= a.per_process <= 15000 or a.per_process % 20:
        ap.error("--steps must increase; --per-process must be a multiple of 20 within 20..15000")
    exe = {
        "master": a.master or os.path.join(a.build, "tools/master/ember-master"),
        "server": a.server or os.path.join(a.build, "tools/server/ember-server"),
        "module": a.module or os.path.join(a.build, "examples/cluster/world.so"),
        "bot": a.bot or os.path.join(a.build, "tools/bench/players_bot"),
    }
    for k, p in exe.items():
        if not os.access(p, os.R_OK):
            ap.error(f"{p} is missing: ninja -C {a.build} -j1 tools/master/ember-master tools/server/ember-server "
                     "examples/cluster/world.so tools/bench/players_bot")
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="ember-players.")
    src = os.path.join(ROOT, "examples/cluster/config.json")
    cfg_path = os.path.join(work, "config.json")
    base = a.port_base or free_port_base(400)
    cfg, _ = make_config(src, cfg_path, base)
    db = None
    if a.pg:
        os.chmod(work, 0o755)  # the postgres user reaches its directory inside
        db = postgres(os.path.join(work, "pg"), base + 390)
        cfg["db"] = {"driver": "postgresql", "connection": db.connection()}
        json.dump(cfg, open(cfg_path, "w"), indent=2)
    try:
        shutil.copytree(os.path.join(ROOT, "examples/cluster/data"), os.path.join(work, "data"))
        os.makedirs(os.path.join(work, "modules"))
        shutil.copy(exe["module"], os.path.join(work, "modules/world.so"))
    except OSError:
        if db:
            db.stop()
        raise
    servers = cfg["servers"]
    type_of = {n: v.get("type", n) for n, v in servers.items()}
    nets = [n for n, t in type_of.items() if t == "net"]
    net_ports = [servers[n]["netport"]["port"] if isinstance(servers[n]["netport"], dict) else servers[n]["netport"]
                 for n in nets]
    backends = [n for n, t in type_of.items() if t in ("game", "lobby")]
    mc_port = int(cfg["memcached"]["servers"][0].rsplit(":", 1)[1])
    log(f"cluster of {', '.join(f'{n} ({type_of[n]})' for n in servers)} in {work}, ports from {base}; "
        f"bots on {', '.join(map(str, net_ports))}; load average {loadavg()}")

    master_log = open(os.path.join(work, "master.log"), "w")
    master = subprocess.Popen([os.path.abspath(exe["master"]), cfg_path, "--server-binary",
                               os.path.abspath(exe["server"])], cwd=work, stdout=master_log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    bots = []
    results = []
    status = 0
    try:
        # Ready when every backend has linked to gate and every net, and every net to gate.
        want = [(b, r) for b in backends for r in ["gate"] + nets] + [(n, "gate") for n in nets]
        until = time.monotonic() + 30
        while True:
            text = open(os.path.join(work, "master.log")).read()
            lines = text.splitlines()
            missing = [(b, r) for b, r in want
                       if not any(l.startswith(f"[{b}] ") and f"linked to root '{r}'" in l for l in lines)]
            if not missing:
                break
            if master.poll() is not None or time.monotonic() > until:
                print(text[-3000:])
                raise SystemExit(f"players: the cluster did not start ({missing[0][0]} not linked to {missing[0][1]})")
            time.sleep(0.2)
        procs = {}  # pid -> server type
        for pid, args in children(master.pid).items():
            if args and os.path.basename(args[0]).startswith("memcached"):
                procs[pid] = ("memcached", "memcached")
                continue
            for n in servers:
                if n in args:
                    procs[pid] = (type_of[n], n)
        if db:  # its backends come and go with the games' connections: found again at each step
            for pid in db.pids():
                procs[pid] = ("database", "postgresql")
        found = sorted(set(n for _, n in procs.values()))
        log(f"cluster up in {time.monotonic() - started:.1f} s: {', '.join(found)} (PIDs from /proc)")
        if len([p for p in procs.values() if p[0] not in ("memcached", "database")]) != len(servers):
            raise SystemExit(f"players: found {found} among the master's children, expected {sorted(servers)}")
        time.sleep(2)
        idle_rss = {pid: rss_kib(pid) for pid in procs}

        players = 0
        for target in steps:
            elapsed = time.monotonic() - started
            ramp_need = (target - players) / a.rate
            if elapsed + ramp_need + a.hold + 15 > a.budget:
                log(f"stopping before {target}: {elapsed:.0f} s gone, the step needs ~{ramp_need + a.hold + 15:.0f} s "
                    f"of the {a.budget:.0f} s budget")
                break
            # New processes for the step's new players (blocks of the same size, multiples of 20).
            add = target - players
            chunks = []
            while add > 0:
                n = min(add, a.per_process)
                n = -(-n // 20) * 20 if n >= 20 else n
                chunks.append(n)
                add -= n
            rate = max(1, a.rate // len(chunks))
            left = int(a.budget - elapsed) + 30
            for n in chunks:
                bots.append(bot_process(exe["bot"], net_ports, players, n, rate, left,
                                        os.path.join(work, f"bots-{players}.log"), bot_extra))
                players += n
            # Ramp: until every bot has signed in (or given up), bounded.
            t0 = time.monotonic()
            limit = t0 + ramp_need * 3 + 30
            while True:
                signed = sum(b.last["signed"] for b in bots)
                lost = sum(b.last["lost"] for b in bots)
                if signed + lost >= players or time.monotonic() > limit:
                    break
                time.sleep(1)
                if int(time.monotonic() - t0) % 5 == 0:
                    log(f"ramp to {players}: {signed} signed in, {lost} lost; load average {loadavg()}")
            retries = sum(b.last.get("sign_in_retries", 0) for b in bots)
            log(f"ramp to {players}: {signed} signed in in {time.monotonic() - t0:.1f} s, {lost} lost, "
                f"{retries} sign-ins retried after a timeout (all steps)")
            time.sleep(3)  # the last bots' setup (rooms, friends, guilds)
            # Hold: figures over --hold seconds.
            if db:
                for pid in db.pids():
                    if pid not in procs:
                        procs[pid] = ("database", "postgresql")
                        idle_rss[pid] = 0
            pids = list(procs)
            cpu0 = {p: cpu_seconds(p) for p in pids}
            split0 = {p: thread_split(p) for p in pids if procs[p][0] not in ("memcached", "database")}
            bot_cpu0 = {b.proc.pid: cpu_seconds(b.proc.pid) for b in bots}
            profiler = None
            if a.perf and not any(r.get("profiled") for r in results):
                data = os.path.join(work, "perf.data")
                profiler = subprocess.Popen(["perf", "record", "-F", "499", "-o", data, "-p",
                                             ",".join(str(p) for p in pids), "--", "sleep", str(int(a.hold))],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            mc0 = memcached_stats(mc_port)
            h0 = time.monotonic()
            err0 = sum(b.last["errors"] for b in bots)
            push0 = sum(b.last["pushes"] for b in bots)
            while time.monotonic() - h0 < a.hold:
                time.sleep(min(5, a.hold - (time.monotonic() - h0)))
                recent = merge(h for b in bots for d in b.between(time.monotonic() - 5, time.monotonic())
                               for k, h in d["lat"].items() if k not in SETUP_KINDS)
                log(f"{players} players, {time.monotonic() - h0:4.0f} s of {a.hold:.0f}: last 5 s "
                    f"{sum(recent.values()) / 5:,.0f} actions/s, p50 {quantile(recent, .5) / 1000:.1f} ms, "
                    f"p99 {quantile(recent, .99) / 1000:.1f} ms; load average {loadavg()}")
            h1 = time.monotonic()
            held = h1 - h0
            if profiler:
                profiler.wait(timeout=60)
                with open(a.perf, "w") as out:
                    out.write(f"# perf record -F 499 of the servers at {players} players over {held:.0f} s; "
                              f"load average {loadavg()}\n")
                    out.flush()
                    for sort in ("pid,dso", "dso,sym"):  # where by process and library, then by function
                        out.write(f"\n# by {sort}\n")
                        out.flush()
                        subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", sort, "--percent-limit",
                                        "0.3"], stdout=out, stderr=subprocess.DEVNULL, timeout=120)
                log(f"profile of the servers at {players} players written to {a.perf}")
            cpu1 = {p: cpu_seconds(p) for p in pids}
            split1 = {p: thread_split(p) for p in split0}
            mc1 = memcached_stats(mc_port)
            bot_cpu1 = {b.proc.pid: cpu_seconds(b.proc.pid) for b in bots}
            lines = [d for b in bots for d in b.between(h0, h1)]
            actions = merge(h for d in lines for k, h in d["lat"].items() if k not in SETUP_KINDS)
            by_kind = {}
            for d in lines:
                for k, h in d["lat"].items():
                    by_kind.setdefault(k, []).append(h)
            by_kind = {k: merge(v) for k, v in by_kind.items()}
            errors = sum(b.last["errors"] for b in bots) - err0
            pushes = sum(b.last["pushes"] for b in bots) - push0
            lost = sum(b.last["lost"] for b in bots)
            row = {
                "players": players, "signed_in": sum(b.last["signed"] for b in bots), "lost": lost,
                "held_s": round(held, 1), "actions_per_s": round(sum(actions.values()) / held),
                "pushes_per_s": round(pushes / held), "errors": errors,
                "p50_ms": quantile(actions, .5) / 1000, "p99_ms": quantile(actions, .99) / 1000,
                "p99_by_kind_ms": {k: quantile(h, .99) / 1000 for k, h in sorted(by_kind.items())},
                "count_by_kind": {k: sum(h.values()) for k, h in sorted(by_kind.items())},
                "loadavg": loadavg(), "cores": {}, "rss_kib": {}, "rss_growth_kib": {},
                "profiled": profiler is not None,
                # memcached commands per action: what the data path costs in round trips
                "memcached_per_action": {k: round((mc1.get(k, 0) - mc0.get(k, 0)) / max(1, sum(actions.values())), 2)
                                         if actions else round((mc1.get(k, 0) - mc0.get(k, 0)) / held / players, 3)
                                         for k in ("cmd_get", "get_hits", "cmd_set", "cas_hits", "cas_badval",
                                                   "cmd_touch", "delete_hits", "incr_hits")},
                "bots_cores": round(sum((bot_cpu1[p] or 0) - (bot_cpu0[p] or 0) for p in bot_cpu0) / held, 3),
            }
            threads = {}  # server type -> [io thread, workers] cores
            for pid, s0 in split0.items():
                if s0 and split1.get(pid):
                    t = threads.setdefault(procs[pid][0], [0.0, 0.0])
                    t[0] += max(0.0, split1[pid][0] - s0[0]) / held
                    t[1] += max(0.0, split1[pid][1] - s0[1]) / held
            row["io_thread_vs_workers_cores"] = {t: [round(v[0], 3), round(v[1], 3)] for t, v in threads.items()}
            for pid, (t, _) in procs.items():
                if cpu0[pid] is None or cpu1[pid] is None:
                    continue
                row["cores"][t] = row["cores"].get(t, 0) + (cpu1[pid] - cpu0[pid]) / held
                r = rss_kib(pid)
                row["rss_kib"][t] = row["rss_kib"].get(t, 0) + r
                row["rss_growth_kib"][t] = row["rss_growth_kib"].get(t, 0) + r - idle_rss[pid]
            results.append(row)
            cluster = sum(row["cores"].values())
            log(f"step {players}: p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms, "
                f"{row['actions_per_s']:,} actions/s, {row['pushes_per_s']:,} pushes/s, {errors} errors, {lost} lost; "
                f"cluster {cluster:.2f} cores ({', '.join(f'{t} {v:.2f}' for t, v in row['cores'].items())}), "
                f"bots {row['bots_cores']:.2f}; load average {row['loadavg']}")
            log("cores on the io thread / the worker threads: " +
                ", ".join(f"{t} {v[0]:.2f} / {v[1]:.2f}" for t, v in row["io_thread_vs_workers_cores"].items()))
            log(f"memcached commands per {'action' if actions else 'player-second (idle)'}: " +
                ", ".join(f"{k} {v}" for k, v in row["memcached_per_action"].items() if v))
            if errors or lost:
                status = 1
                log(f"first error: {next((b.last['first_error'] for b in bots if b.last['first_error']), '?')}")
            if row["p99_ms"] > a.p99_ms:
                log(f"p99 {row['p99_ms']:.1f} ms passed {a.p99_ms:.0f} ms at {players} players: stopping")
                break
    finally:
        for b in bots:
            b.stop()
        if master.poll() is None:
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(timeout=60)
            except subprocess.TimeoutExpired:
                log("the master did not stop in 60 s: killing it")
                os.killpg(master.pid, signal.SIGKILL)
                master.wait()
        master_log.close()
        if db:
            db.stop()

    # The table. CPU is per action (a player does about one a second, so it is also the CPU a
    # player costs each second) and comes from the actions answered, not the bots connected:
    # past saturation the bots wait for answers and act less than once a second.
    print()
    print("| players | actions/s | pushes/s | p50 | p99 | cluster cores | CPU µs per action: cluster (net / game / "
          "gate / lobby / memcached / database) | players per core | memory KiB per player: all (net / game / gate / "
          "lobby / memcached / database) | bots' cores | load average |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        # Memory per player signed in; CPU per action, or per player-second when they idle.
        n, rate = max(1, r["signed_in"]), r["actions_per_s"] or max(1, r["signed_in"])
        cores = sum(r["cores"].values())
        # "–": no such process (the database is SQLite inside the games unless --pg)
        cpu = " / ".join(f"{r['cores'][t] * 1e6 / rate:,.0f}" if t in r["cores"] else "–" for t in TYPES)
        mem = " / ".join(f"{r['rss_growth_kib'][t] / n:.1f}" if t in r["rss_growth_kib"] else "–" for t in TYPES)
        if not r["actions_per_s"]:
            cpu += ", idle: per player-second"
        flags = f", {r['lost']} lost" if r["lost"] else ""
        flags += f", {r['errors']} errors" if r["errors"] else ""
        print(f"| {r['players']:,}{flags} | {r['actions_per_s']:,} | {r['pushes_per_s']:,} | {r['p50_ms']:.2f} ms | "
              f"{r['p99_ms']:.2f} ms | {cores:.2f} | {cores * 1e6 / rate:,.0f} ({cpu}) | "
              f"{rate / cores if cores else 0:,.0f} | {sum(r['rss_growth_kib'].values()) / n:.1f} ({mem}) | "
              f"{r['bots_cores']:.2f} | {r['loadavg']} |")
    if results:
        last = results[-1]
        ok = [r for r in results if r["p99_ms"] <= a.p99_ms and not r["errors"] and not r["lost"]]
        best = ok[-1]["players"] if ok else 0
        print()
        print("p99 by kind at the last step (ms, count): " +
              ", ".join(f"{k} {v:.1f} ({last['count_by_kind'][k]:,})" for k, v in last["p99_by_kind_ms"].items()))
        cores = sum(last["cores"].values())
        print(f"summary: {best:,} players held with p99 ≤ {a.p99_ms:g} ms and no error (steps {a.steps}); the last "
              f"step {last['players']:,} at p99 {last['p99_ms']:.1f} ms, {last['actions_per_s']:,} actions/s on "
              f"{cores:.2f} cores of cluster CPU ({last['actions_per_s'] / cores if cores else 0:,.0f} players per "
              f"core at one action a second); run took {time.monotonic() - started:.0f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    if a.keep:
        log(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return status if results else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
