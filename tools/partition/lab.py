"""The fault lab: the example cluster (examples/cluster/config.json) with every process in its own
network namespace and address, and the faults tools/partition injects into it.

Layout: a namespace PREFIX-br holds a bridge; every other namespace (the master, gate, net1,
net2, game1, game2, lobby, lobby2, memcached, PostgreSQL, the bots) has one veth end on that bridge
with an address 10.77.0.N/24, and nothing else: traffic stays inside the lab. Processes are
started with `ip netns exec` (which execs, so the PID we hold is the program's). The master
starts the servers through a wrapper that runs each in its own namespace. Partitions are nft
rules in the cut-off namespaces; healing deletes the rules.

Everything made here is undone by Lab.close(): the processes it started (by PID, and any left
in its namespaces, which only it made), then the namespaces. Python 3 standard library only;
needs root, iproute2 and nft.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SUBNET = "10.77.0"
# The lab's hosts and their addresses (10.77.0.N).
HOSTS = {"master": 1, "gate": 2, "net1": 3, "net2": 4, "game1": 5, "game2": 6, "lobby": 7, "lobby2": 8,
         "mc": 11, "db": 12, "bots": 20}
SERVERS = ["gate", "net1", "net2", "game1", "game2", "lobby", "lobby2"]
MEMCACHED_PORT = 11211
PG_PORT = 5432


def now_ms():
    """CLOCK_MONOTONIC in ms: the clock the bots stamp their history with (steady_clock)."""
    return int(time.monotonic() * 1000)


_began = time.monotonic()


def say(*args):
    print("partition: %5.1f s " % (time.monotonic() - _began), *args, flush=True)


def addr(host):
    return "%s.%d" % (SUBNET, HOSTS[host])


def sh(*argv, check=True, quiet=False):
    r = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stdout.strip()))
    return r.stdout


class Unavailable(Exception):
    """The machine cannot run the lab (not root, no network namespaces, no nft)."""


def pg_bin(tool):
    for d in ("/usr/local/bin", "/usr/lib/postgresql/15/bin"):
        if os.access(os.path.join(d, tool), os.X_OK):
            return os.path.join(d, tool)
    found = shutil.which(tool)
    if not found:
        raise Unavailable("PostgreSQL's %s is not installed (tools/install-deps.sh)" % tool)
    return found


def check_machine():
    """Raises Unavailable with the reason when the lab cannot run here."""
    if os.geteuid() != 0:
        raise Unavailable("needs root (network namespaces, veth pairs, nft)")
    for tool in ("ip", "nft", "setpriv", "runuser"):
        if not shutil.which(tool):
            raise Unavailable("%s is not installed (tools/install-deps.sh installs iproute2 and nftables)" % tool)
    probe = "epprobe%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", probe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise Unavailable("network namespaces are not available: %s" % r.stdout.strip())
    try:
        r = subprocess.run(["ip", "netns", "exec", probe, "nft", "add", "table", "inet", "probe"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise Unavailable("nft does not work in a namespace: %s" % r.stdout.strip())
    finally:
        subprocess.run(["ip", "netns", "del", probe])


def netem_available():
    """True when the kernel has sch_netem (delay and loss); checked in a throw-away namespace."""
    probe = "epnetem%d" % os.getpid()
    sh("ip", "netns", "add", probe)
    try:
        r = subprocess.run(["ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                            "delay", "1ms"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return r.returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", probe])


class Lab:
    """The namespaces, the processes and the faults of one run."""

    def __init__(self, build, source, keep=False):
        self.build = os.path.abspath(build)
        self.source = os.path.abspath(source)
        self.prefix = "ep%04x" % (os.getpid() & 0xFFFF)
        self.dir = tempfile.mkdtemp(prefix="ember-partition.")
        os.chmod(self.dir, 0o755)  # PostgreSQL runs as `postgres` under it
        self.keep = keep
        self.namespaces = []   # made, in order
        self.procs = {}        # name -> Popen, of what we started
        self.cut = set()       # namespaces holding fault rules now
        self.stopped = []      # PIDs we SIGSTOPped and have not continued
        self.logs = {}
        self.faults_file = open(os.path.join(self.dir, "faults.jsonl"), "w")
        self.closed = False

    # -- namespaces ---------------------------------------------------------------------------
    def ns(self, host):
        return "%s-%s" % (self.prefix, host)

    def up(self):
        br = self.ns("br")
        sh("ip", "netns", "add", br)
        self.namespaces.append(br)
        sh("ip", "-n", br, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", br, "link", "set", "br0", "up")
        for host, n in HOSTS.items():
            ns = self.ns(host)
            sh("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            sh("ip", "-n", br, "link", "add", "v%d" % n, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", br, "link", "set", "v%d" % n, "master", "br0", "up")
            sh("ip", "-n", ns, "addr", "add", "%s/24" % addr(host), "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            # The fault rules' table: empty until a fault adds to it.
            sh("ip", "netns", "exec", ns, "nft", "add", "table", "inet", "fault")
            for chain, hook in (("in", "input"), ("out", "output")):
                sh("ip", "netns", "exec", ns, "nft", "add", "chain", "inet", "fault", chain,
                   "{ type filter hook %s priority 0; policy accept; }" % hook)
        say("%d namespaces %s-*, addresses %s.1-%d on one bridge" % (len(self.namespaces), self.prefix, SUBNET,
                                                                     max(HOSTS.values())))

    # -- processes ----------------------------------------------------------------------------
    def start(self, name, host, argv, cwd=None):
        log = open(os.path.join(self.dir, name + ".log"), "ab")
        self.logs[name] = log.name
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(host)] + argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=cwd or self.dir, start_new_session=True)
        self.procs[name] = p
        return p

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def pids_in(self, host):
        out = sh("ip", "netns", "pids", self.ns(host), check=False)
        return [int(x) for x in out.split() if x.isdigit()]

    def signal_host(self, host, sig):
        """Sends `sig` to every process in `host`'s namespace (all of them ours); returns the PIDs."""
        pids = self.pids_in(host)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def wait_for(self, what, test, limit):
        until = time.monotonic() + limit
        while time.monotonic() < until:
            if test():
                return True
            time.sleep(0.1)
        return False

    # -- the cluster --------------------------------------------------------------------------
    def start_postgres(self):
        pg = os.path.join(self.dir, "pg")
        os.mkdir(pg)
        shutil.chown(pg, "postgres", "postgres")
        sh("runuser", "-u", "postgres", "--", pg_bin("initdb"), "-D", pg + "/data", "-U", "postgres",
           "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        with open(pg + "/data/pg_hba.conf", "a") as f:  # the lab's hosts, over its bridge
            f.write("host all all %s.0/24 trust\n" % SUBNET)
        self.pg = pg
        self.run_postgres()

    def run_postgres(self):
        self.start("postgres", "db", ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups",
                                      pg_bin("postgres"), "-D", self.pg + "/data", "-p", str(PG_PORT), "-k", self.pg,
                                      "-c", "listen_addresses=" + addr("db"), "-c", "fsync=off",
                                      "-c", "max_connections=200"])
        if not self.wait_for("postgres", lambda: subprocess.run(
                [pg_bin("pg_isready"), "-q", "-h", self.pg, "-p", str(PG_PORT)]).returncode == 0, 40):
            raise RuntimeError("PostgreSQL did not start: " + self.tail("postgres"))

    def psql(self, sql):
        """Rows of a query, as lists of strings (psql over the socket: no network needed)."""
        out = sh("psql", "-X", "-q", "-At", "-F", "\t", "-h", self.pg, "-p", str(PG_PORT), "-U", "postgres",
                 "-d", "postgres", "-c", sql)
        return [line.split("\t") for line in out.splitlines() if line]

    def start_memcached(self):
        self.start("memcached", "mc", ["memcached", "-l", addr("mc"), "-p", str(MEMCACHED_PORT), "-U", "0", "-m", "64",
                                       "-M", "-o", "slab_automove=0", "-u", "memcache"])

    def write_config(self):
        with open(os.path.join(self.source, "examples/cluster/config.json")) as f:
            c = json.load(f)
        c["master"]["host"] = addr("master")
        c["db"] = {"driver": "postgresql",
                   "connection": "Driver={PostgreSQL Unicode};Server=%s;Port=%d;Database=postgres;Uid=postgres;"
                                 "Protocol=7.4-1;" % (addr("db"), PG_PORT)}
        c["memcached"]["servers"] = ["%s:%d" % (addr("mc"), MEMCACHED_PORT)]
        for name, s in c["servers"].items():
            s["host"] = addr(name)
            s.pop("log", None)
        with open(os.path.join(self.dir, "config.json"), "w") as f:
            json.dump(c, f, indent=2)
        shutil.copytree(os.path.join(self.source, "examples/cluster/data"), os.path.join(self.dir, "data"))
        os.mkdir(os.path.join(self.dir, "modules"))
        shutil.copy(os.path.join(self.build, "examples/cluster/world.so"), os.path.join(self.dir, "modules/world.so"))
        # ember-master starts `PROGRAM CONFIG NAME`: this one runs it in NAME's namespace
        # (`ip netns exec` execs, so the master's child is the server itself).
        wrapper = os.path.join(self.dir, "server-in-namespace")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec ip netns exec "%s-$2" "%s" "$@"\n'
                    % (self.prefix, os.path.join(self.build, "tools/server/ember-server")))
        os.chmod(wrapper, 0o755)
        return wrapper

    def linked(self):
        try:
            text = open(self.logs["master"], errors="replace").read()
        except OSError:
            return False
        lines = text.splitlines()
        for s in ("game1", "game2", "lobby", "lobby2"):
            for root in ("gate", "net1", "net2"):
                if not any(l.startswith("[%s] " % s) and ("linked to root '%s'" % root) in l for l in lines):
                    return False
        for s in ("net1", "net2"):
            if not any(l.startswith("[%s] " % s) and "linked to root 'gate'" in l for l in lines):
                return False
        return True

    def start_cluster(self):
        self.start_postgres()
        self.start_memcached()
        wrapper = self.write_config()
        self.start("master", "master", [os.path.join(self.build, "tools/master/ember-master"),
                                        os.path.join(self.dir, "config.json"), "--server-binary", wrapper,
                                        "--memcached", "none"])
        if not self.wait_for("cluster", lambda: self.linked() or not self.alive("master") or "giving up" in
                             open(self.logs["master"], errors="replace").read(), 60) or not self.linked():
            raise RuntimeError("the cluster did not link up in 60 s: " + self.tail("master"))
        say("cluster up: gate, net1, net2, game1, game2, lobby, lobby2, memcached, PostgreSQL, each in its namespace")

    def net_endpoints(self):
        c = json.load(open(os.path.join(self.dir, "config.json")))
        out = []
        for n in ("net1", "net2"):
            p = c["servers"][n]["netport"]
            out.append("%s:%d" % (addr(n), p["port"] if isinstance(p, dict) else p))
        return out

    def start_bots(self, name, bots, seconds, history, extra=()):
        argv = [os.path.join(self.build, "examples/cluster/history_bot"), "--bots", str(bots), "--seconds",
                str(seconds), "--history", history] + list(extra)
        for e in self.net_endpoints():
            argv += ["--connect", e]
        return self.start(name, "bots", argv)

    def stop_cluster(self):
        """SIGTERM to the master (servers stop in order, games write back); True when it exited 0."""
        p = self.procs.get("master")
        if not p or p.poll() is not None:
            return False
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(60) == 0
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return False

    def tail(self, name, n=30):
        try:
            return "\n".join(open(self.logs[name], errors="replace").read().splitlines()[-n:])
        except (KeyError, OSError):
            return "(no log)"

    # -- faults -------------------------------------------------------------------------------
    def rule(self, host, chain, match):
        sh("ip", "netns", "exec", self.ns(host), "nft", "add", "rule", "inet", "fault", chain, *match.split(), "drop")
        self.cut.add(host)

    def block(self, host, peers, one_way=False):
        """Drops what `host` sends to `peers` and (unless one_way) what it receives from them."""
        for p in peers:
            self.rule(host, "out", "ip daddr %s" % addr(p))
            if not one_way:
                self.rule(host, "in", "ip saddr %s" % addr(p))

    def isolate(self, host):
        self.rule(host, "out", "oifname eth0")
        self.rule(host, "in", "iifname eth0")

    def heal_network(self):
        for host in sorted(self.cut):
            sh("ip", "netns", "exec", self.ns(host), "nft", "flush", "table", "inet", "fault")
        self.cut.clear()

    def stop_host(self, host):
        self.stopped += self.signal_host(host, signal.SIGSTOP)

    def continue_all(self):
        for pid in self.stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.stopped = []

    def record_fault(self, name, start, heal, note=""):
        self.faults_file.write(json.dumps({"fault": name, "start": start, "heal": heal, "note": note}) + "\n")
        self.faults_file.flush()

    # -- the end ------------------------------------------------------------------------------
    def close(self):
        """Ends every process we started and every namespace we made; safe to call twice."""
        if self.closed:
            return
        self.closed = True
        self.continue_all()
        try:
            self.heal_network()
        except Exception:
            pass
        for name in ("bots", "broken-bots"):
            p = self.procs.get(name)
            if p and p.poll() is None:
                p.kill()
        if self.alive("master"):
            self.stop_cluster()
        for name, sig in (("memcached", signal.SIGTERM), ("postgres", signal.SIGINT)):
            p = self.procs.get(name)
            if p and p.poll() is None:
                p.send_signal(sig)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        # Anything still in our namespaces was started by us (a server the master restarted, a
        # PostgreSQL backend): ended by PID.
        for ns in self.namespaces:
            for pid in [int(x) for x in sh("ip", "netns", "pids", ns, check=False).split() if x.isdigit()]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        time.sleep(0.2)
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.namespaces = []
        self.faults_file.close()
        if self.keep:
            say("logs kept in %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def install_signal_handlers(lab):
    """Ctrl-C and SIGTERM clean the lab up before exiting."""
    def handler(signum, _frame):
        say("interrupted (signal %d): cleaning up" % signum)
        lab.close()
        sys.exit(130)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
