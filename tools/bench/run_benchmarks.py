"""Runs ember's benchmarks against the raw-Asio baseline in the same session and writes
BENCHMARKS.md. Server on CPU 0, load generator on CPU 1 (taskset), each figure a ratio to the
baseline measured minutes apart, because these machines are noisy.

The forwarding benchmark runs the same echo through a gateway: client -> `front`
(netport + rootport) -> `echo` backend (joins front) -> front -> client, three processes built
from a temporary config.json (bench_cluster_server). Both servers share CPU 0, the CPU the
direct server had alone, so the ratio to the direct echo (measured just before it) is the cost
of forwarding; the load generator stays alone on CPU 1.

The data-layer benchmark starts its own memcached and a throw-away PostgreSQL 15
(initdb into a temporary directory as the postgres user, pg_ctl on a free port of 127.0.0.1,
ODBCSYSINI pointing at a copy of /etc/odbcinst.ini with CommLog=0), runs ember-data-bench on
SQLite (every phase) and PostgreSQL (the write-back phases), and stops both by PID.

The fanout phase broadcasts one push to 10,000 sessions of bench_echo_server and of
the raw baseline (its command 2 pushes to every connection), and makes echo calls on one link
between a root and a node (ember-bench --link) against the raw baseline on one connection at
the same depth.

--phases picks echo (with forwarding), data and/or fanout; the sections of BENCHMARKS.md a run
does not measure are kept as they were.

usage: run_benchmarks.py BUILD_DIR [--duration S] [--out BENCHMARKS.md] [--phases echo,data,fanout]
"""
import argparse
import datetime
import json
import os
import platform
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SECRET = 'ember-bench-forwarding-secret'  # links authenticate with it (>= 16 characters)


def start(cmd):
    d = tempfile.mkdtemp()
    port_file = os.path.join(d, 'port')
    proc = subprocess.Popen(['taskset', '-c', '0'] + cmd + ['--port', '0', '--port-file', port_file])
    for _ in range(200):
        if os.path.exists(port_file) and open(port_file).read().strip():
            return proc, int(open(port_file).read())
        time.sleep(0.05)
    stop(proc)
    raise RuntimeError(f'{cmd[0]} did not start')


def stop(proc):
    """Stops one process we started, by its PID: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_ports(n):
    """n ports nothing listens on now (config.json wants real numbers, not 0)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(('127.0.0.1', 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for_log(path, text, proc, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in open(path, errors='replace').read():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f'no "{text}" in {path}:\n' + open(path, errors='replace').read())


def start_cluster(server, d):
    """Starts `front` (gateway) and `echo1` (its backend) on CPU 0; returns both processes and
    the front's client port once the backend has linked."""
    netport, rootport = free_ports(2)
    config = {
        'secret': SECRET,
        'defaults': {'log': {'level': 'info'}, 'limits': {'max_request_rate': 0}},
        'servers': {
            'front': {'type': 'front', 'netport': netport, 'rootport': rootport},
            'echo1': {'type': 'echo', 'remoteport': [{'rootname': 'front'}]},
        },
    }
    path = os.path.join(d, 'config.json')
    with open(path, 'w') as f:
        json.dump(config, f, indent=2)
    procs = []
    try:
        for name, ready in [('front', 'started'), ('echo1', "linked to root 'front'")]:
            log = os.path.join(d, name + '.log')
            with open(log, 'w') as f:
                procs.append(subprocess.Popen(['taskset', '-c', '0', server, path, name],
                                              stdout=f, stderr=subprocess.STDOUT))
            wait_for_log(log, ready, procs[-1])
        return procs, netport
    except BaseException:
        for p in reversed(procs):
            stop(p)
        raise


def bench(tool, port, pids, connections, depth, duration, framing='native'):
    pid_args = [a for pid in pids for a in ('--server-pid', str(pid))]
    out = subprocess.run(['taskset', '-c', '1', tool, '-p', str(port), '-c', str(connections),
                          '-d', str(depth), '--payload', '64', '--duration', str(duration),
                          '--warmup', '1', '--framing', framing] + pid_args +
                         ['--json', '-q'], capture_output=True, text=True, timeout=duration + 60)
    if out.returncode != 0:
        raise RuntimeError(out.stdout + out.stderr)
    return json.loads(out.stdout)


PG_BIN = '/usr/lib/postgresql/15/bin'
DATA_HEADING = '### Data layer: tables against plain memcached and ODBC'


def wait_port(port, proc, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start_memcached(d):
    """memcached on a free port that refuses to evict (the data layer insists); returns the
    process and its address."""
    port = free_ports(1)[0]
    cmd = ['memcached', '-l', '127.0.0.1', '-p', str(port), '-U', '0', '-M', '-o', 'slab_automove=0',
           '-m', '256']
    if os.geteuid() == 0:
        cmd[1:1] = ['-u', 'memcache']  # memcached refuses to run as root without a user
    log = open(os.path.join(d, 'memcached.log'), 'w')
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    if not wait_port(port, proc):
        stop(proc)
        raise RuntimeError('memcached did not start: ' + open(os.path.join(d, 'memcached.log')).read())
    return proc, f'127.0.0.1:{port}'


def quiet_odbcinst(d):
    """A copy of /etc/odbcinst.ini with CommLog=0 (psqlODBC logs every connection to /tmp
    otherwise); returns the environment that points unixODBC at it."""
    conf = os.path.join(d, 'odbc')
    os.makedirs(conf)
    with open('/etc/odbcinst.ini') as src, open(os.path.join(conf, 'odbcinst.ini'), 'w') as dst:
        for line in src:
            dst.write('CommLog=0\n' if line.startswith('CommLog') else line)
    return dict(os.environ, ODBCSYSINI=conf)


class Postgres:
    """A throw-away PostgreSQL 15: initdb into a directory of ours (as the postgres user when we
    are root), started with pg_ctl on a free port of 127.0.0.1, stopped and removed by stop()."""

    def __init__(self, d):
        self.dir = os.path.join(d, 'pg')
        os.makedirs(self.dir)
        self.prefix = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam('postgres')
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.prefix = ['/usr/sbin/runuser', '-u', 'postgres', '--']
        self.data = os.path.join(self.dir, 'data')
        self.port = free_ports(1)[0]
        self.pid = None
        self.run([f'{PG_BIN}/initdb', '-D', self.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8',
                  '--locale=C.UTF-8', '--no-sync'])
        self.run([f'{PG_BIN}/pg_ctl', '-D', self.data, '-l', os.path.join(self.dir, 'server.log'), '-w', '-t', '30',
                  '-o', f'-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1', 'start'])
        self.pid = int(open(os.path.join(self.data, 'postmaster.pid')).readline())

    def run(self, cmd):
        out = subprocess.run(self.prefix + cmd, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f'{cmd[0]} failed: {out.stdout}{out.stderr}')

    def connection_string(self):
        return (f'Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={self.port};Database=postgres;'
                'Uid=postgres;Protocol=7.4-1;')

    def stop(self):
        """pg_ctl stop (fast); if that fails, SIGTERM to the postmaster's PID, then SIGKILL."""
        if self.pid is None:
            return
        try:
            self.run([f'{PG_BIN}/pg_ctl', '-D', self.data, '-m', 'fast', '-w', '-t', '30', 'stop'])
        except (RuntimeError, subprocess.TimeoutExpired):
            for sig in (15, 9):
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(2)
        self.pid = None


def data_bench(tool, args, env):
    out = subprocess.run([tool] + args + ['--json'], capture_output=True, text=True, env=env, timeout=3600)
    sys.stderr.write(out.stderr)
    if out.returncode != 0:
        raise RuntimeError(f'ember-data-bench failed ({out.returncode}):\n{out.stdout}')
    return json.loads(out.stdout)


def run_data(tools, a):
    """The data-layer benchmark: its memcached and PostgreSQL, ember-data-bench on SQLite
    (every phase) and PostgreSQL (write-back); returns both runs' JSON."""
    tool = os.path.join(tools, 'ember-data-bench')
    d = tempfile.mkdtemp(prefix='ember-data-bench-')
    if os.geteuid() == 0:
        os.chmod(d, 0o755)  # the postgres user reaches its directory inside
    runs = []
    mc = pg = None
    try:
        env = quiet_odbcinst(d)
        mc, address = start_memcached(d)
        common = ['-m', address, '--memcached-pid', str(mc.pid), '-n', str(a.data_rows), '--rounds',
                  str(a.data_rounds), '--duration', f'{a.data_duration:g}']
        runs.append(data_bench(tool, common + ['-o', f'Driver=SQLite3;Database={d}/bench.db;',
                                               '--journal-dir', os.path.join(d, 'j-sqlite')], env))
        pg = Postgres(d)
        runs.append(data_bench(tool, common + ['-o', pg.connection_string(), '--phases', 'flush,flush_updates',
                                               '--journal-dir', os.path.join(d, 'j-pg')], env))
    finally:
        if pg:
            pg.stop()
        if mc:
            stop(mc)
        shutil.rmtree(d, ignore_errors=True)
    return runs


def data_section(runs, a):
    """The BENCHMARKS.md section of the data-layer runs."""
    first = runs[0]
    lines = [
        DATA_HEADING,
        '',
        f'Measured {datetime.date.today()} by `tools/bench.sh` (`ember-data-bench`, '
        '`tools/bench/data_bench.cpp`) on '
        f'{first["nproc"]} cores ({first["cpu"]}), nothing pinned: one process with one io thread, '
        f'{first["memcache_workers"]} memcache workers and {first["db_connections"]} database connections, '
        f'{first["concurrency"]} coroutines, against a memcached of its own (`-M -o slab_automove=0 -m 256`) '
        'and a throw-away PostgreSQL 15 (`Protocol=7.4-1`) or a SQLite file (WAL, `synchronous=NORMAL`) on '
        'the same machine. Reads and CAS: the median of '
        f'{first["rounds"]} rounds of {first["duration"]:g} s (after 0.5 s of warm-up), baseline and table '
        'alternating; rows read at random from '
        f'{first["rows"]:,} cached rows. Write-back: {first["rows"]:,} dirty rows (inserted, then all updated) '
        f'written by `store.flush_all()`, the median of {first["flush_rounds"]} rounds; the baseline writes the same '
        'number of rows with plain `odbc::connection` parameter arrays of 1,000 rows, one transaction each '
        '(INSERT into an empty table, or UPDATE by key), and "upsert SQL" is that loop with the table\'s own '
        'generated versioned upsert, one row per parameter row (write-back puts 100 rows in each statement). '
        '"CPU" is the benchmark process\'s '
        'CPU time per row or update (all its threads), "memcached CPU" the memcached server\'s (from '
        '/proc/PID/stat): on two shared cores these are steadier than the rates.',
        '',
        '| phase | baseline | baseline rate | ember | ember rate | ratio | CPU/unit baseline | CPU/unit ember | '
        'memcached CPU/unit baseline | memcached CPU/unit ember | target | |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ]

    def verdict(r):
        if r['id'] == 'get':
            return f'({r["target_rate"]:,} rows/s is for multi-gets)', ''
        if r['target_ratio'] is not None:
            return f'≥ {r["target_ratio"]:g}× baseline', 'met' if r['ratio'] >= r['target_ratio'] else '**missed**'
        return f'≥ {r["target_rate"]:,} rows/s', 'met' if r['ember'] >= r['target_rate'] else '**missed**'

    results = [r for run in runs for r in run['results']]
    for r in results:
        if r['reference_name']:
            continue
        target, met = verdict(r)
        retries = (f' ({r["baseline_retries"]:.2f} vs {r["ember_retries"]:.2f} lost CAS per update)'
                   if r['ember_retries'] >= 0 else '')
        lines.append(
            f'| {r["phase"]}{retries} | {r["baseline_name"]} | {r["baseline"]:,.0f} {r["unit"]} | {r["ember_name"]} | '
            f'{r["ember"]:,.0f} {r["unit"]} | {r["ratio"]:.2f} | {r["baseline_cpu_us"]:.2f} µs | '
            f'{r["ember_cpu_us"]:.2f} µs | {r["baseline_mc_cpu_us"]:.2f} µs | {r["ember_mc_cpu_us"]:.2f} µs | '
            f'{target} | {met} |')
    lines += [
        '',
        '| write-back | baseline | baseline rows/s | upsert SQL rows/s | store.flush_all rows/s | ratio to baseline | '
        'ratio to upsert SQL | CPU/row baseline | CPU/row upsert SQL | CPU/row ember | target | |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for r in results:
        if not r['reference_name']:
            continue
        target, met = verdict(r)
        lines.append(
            f'| {r["phase"]} | {r["baseline_name"]} | {r["baseline"]:,.0f} | {r["reference"]:,.0f} | '
            f'{r["ember"]:,.0f} | {r["ratio"]:.2f} | {r["ember"] / max(r["reference"], 1):.2f} | '
            f'{r["baseline_cpu_us"]:.2f} µs | {r["reference_cpu_us"]:.2f} µs | {r["ember_cpu_us"]:.2f} µs | '
            f'{target} | {met} |')
    lines += ['', 'Targets: reads ≥ 150,000 rows/s per process (multi-get); CAS updates ≥ 0.8× '
              'the plain get+cas loop; write-back ≥ 150,000 rows/s to SQLite and ≥ 40,000 rows/s to '
              'PostgreSQL.', '']
    return lines


FANOUT_HEADING = '### Broadcast to 10,000 sessions and calls on one link'


def run_fanout(tools, tool, a):
    """Broadcast to 10,000 sessions of bench_echo_server, and echo calls on one link against
    the raw baseline on one connection at the same depth; three rounds of each."""
    runs = {'broadcast': [], 'baseline_broadcast': [], 'link': {}}
    for _ in range(3):
        for server, key in (('bench_baseline_server', 'baseline_broadcast'), ('bench_echo_server', 'broadcast')):
            proc, port = start([os.path.join(tools, server)])
            try:
                out = subprocess.run(['taskset', '-c', '1', tool, '-p', str(port), '--broadcast', '10000',
                                      '--rounds', '20', '--server-pid', str(proc.pid), '--json', '-q'],
                                     capture_output=True, text=True, timeout=300)
                if out.returncode != 0:
                    raise RuntimeError(out.stdout + out.stderr)
                runs[key].append(json.loads(out.stdout))
            finally:
                stop(proc)
        print(f'broadcast to 10,000: last push p50 {runs["broadcast"][-1]["last_p50_ms"]:.2f} ms '
              f'(baseline {runs["baseline_broadcast"][-1]["last_p50_ms"]:.2f} ms)', file=sys.stderr)
        for depth in (1, 16):
            base_proc, base_port = start([os.path.join(tools, 'bench_baseline_server')])
            try:
                base = bench(tool, base_port, [base_proc.pid], 1, depth, a.duration)
            finally:
                stop(base_proc)
            out = subprocess.run([tool, '--link', '-d', str(depth), '--payload', '64', '--duration',
                                  str(a.duration), '--warmup', '1', '--json', '-q'],
                                 capture_output=True, text=True, timeout=a.duration + 60)
            if out.returncode != 0:
                raise RuntimeError(out.stdout + out.stderr)
            link = json.loads(out.stdout)
            runs['link'].setdefault(depth, []).append((base, link))
            print(f'link x{depth}: {link["cps"]:.0f} calls/s (baseline connection {base["rps"]:.0f}/s)', file=sys.stderr)
    return runs


def fanout_section(runs, a):
    lines = [FANOUT_HEADING, '',
             f'Measured {datetime.date.today()} by `tools/bench.sh` (`ember-bench --broadcast` and `--link`), '
             'three runs each. Broadcast: `ember-bench` (on CPU 1) opens 10,000 sessions to '
             '`bench_echo_server`; one of them asks for a broadcast, the server pushes a 64-byte `tick` '
             'to every session; a round ends when the last session has it; 20 rounds after one of '
             'warm-up, 50 ms apart. "last" is the time from the request to the last push received '
             '(this includes the client decoding 10,000 pushes on one thread); "queued" is the '
             'server\'s own time to queue them (the baseline starts each send as it queues, so its '
             'figure includes the sends). In brackets: the raw-Asio baseline in the same run '
             '(`bench_baseline_server`, whose command 2 sends the push to every connection, each '
             'connection\'s writes gathered while one is in flight). Link: a root and a node in one process, a thread '
             'each, the node keeping D echo calls in flight on their one link over loopback, against '
             'the raw baseline server with `ember-bench` on one connection at the same depth (client '
             'on CPU 1, server on CPU 0). "CPU/call" is the link process (both ends), the baseline\'s '
             'is its server\'s alone.', '',
             '| broadcast, 10,000 sessions: ember (baseline, ratio) | run 1 | run 2 | run 3 | target |',
             '|---|---|---|---|---|']
    pairs = list(zip(runs['broadcast'], runs['baseline_broadcast']))
    rows = (('last session has it, p50', 'last_p50_ms', 'ms', '< 10 ms'),
            ('last session has it, max', 'last_max_ms', 'ms', ''),
            ('first session has it, p50', 'first_p50_ms', 'ms', ''),
            ('server queues all, p50', 'server_queue_p50_ms', 'ms', ''),
            ('server CPU per push sent', 'server_cpu_us_per_push', 'µs', ''))
    for label, key, unit, target in rows:
        ratio = key == 'last_p50_ms'  # the headline figure gets its ratio to the baseline
        lines.append(f'| {label} | ' + ' | '.join(
            f'{r[key]:.2f} {unit} ({q[key]:.2f} {unit}' + (f', {r[key] / q[key]:.2f})' if ratio else ')')
            for r, q in pairs) + (f' | {target} |' if target else ' | |'))
    lines += ['', '| calls on one link | calls/s (baseline req/s, ratio) | p50 | p99 (baseline) | CPU/call (baseline server) |',
              '|---|---|---|---|---|']
    for depth, pairs in sorted(runs['link'].items()):
        for i, (base, link) in enumerate(pairs):
            lines.append(f'| {depth} in flight, run {i + 1} | {link["cps"]:,.0f} ({base["rps"]:,.0f}, '
                         f'{link["cps"] / base["rps"]:.2f}) | {link["p50_us"]:.0f} µs | {link["p99_us"]:.0f} µs '
                         f'({base["p99_us"]:.0f} µs) | {link["cpu_us_per_call"]:.2f} µs '
                         f'({base["server_cpu_us_per_request"]:.2f} µs) |')
    return lines + ['']


def old_section(old, start, ends):
    """The text of `old` from the line `start` begins up to the first of `ends` after it."""
    at = old.find(start)
    if at < 0:
        return None
    end = len(old)
    for e in ends:
        i = old.find(e, at + len(start))
        if 0 <= i < end:
            end = i
    return old[at:end].rstrip('\n').split('\n') + ['']


def cpu_model():
    for line in open('/proc/cpuinfo'):
        if line.startswith('model name'):
            return line.split(':', 1)[1].strip()
    return platform.processor()


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument('build')
    ap.add_argument('--duration', type=float, default=5)
    ap.add_argument('--out', default='BENCHMARKS.md')
    ap.add_argument('--phases', default='echo,data,fanout',
                    help='comma-separated: echo (and forwarding), data, fanout (broadcast and link calls)')
    ap.add_argument('--data-rows', type=int, default=50000)
    ap.add_argument('--data-rounds', type=int, default=3)
    ap.add_argument('--data-duration', type=float, default=2)
    a = ap.parse_args(argv[1:])
    phases = set(a.phases.split(','))
    if not phases <= {'echo', 'data', 'fanout'}:
        ap.error(f'unknown phases: {sorted(phases - {"echo", "data", "fanout"})}')
    tools = os.path.join(a.build, 'tools', 'bench')
    tool = os.path.join(tools, 'ember-bench')
    old = open(a.out).read() if os.path.exists(a.out) else ''
    rows = []
    forwarded = []  # (name, direct, forwarded)
    data_runs = run_data(tools, a) if 'data' in phases else None
    fanout_runs = run_fanout(tools, tool, a) if 'fanout' in phases else None
    for connections, depth in ([(100, 1), (100, 16)] if 'echo' in phases else []):
        base_proc, base_port = start([os.path.join(tools, 'bench_baseline_server')])
        try:
            base = bench(tool, base_port, [base_proc.pid], connections, depth, a.duration)
        finally:
            stop(base_proc)
        for framing in ['native', 'firefly']:
            proc, port = start([os.path.join(tools, 'bench_echo_server'), '--framing', framing])
            try:
                ember = bench(tool, port, [proc.pid], connections, depth, a.duration, framing)
            finally:
                stop(proc)
            rows.append((f'echo {connections}x{depth}, 64 B, {framing}', base, ember))
            print(f'{rows[-1][0]}: baseline {base["rps"]:.0f}/s, ember {ember["rps"]:.0f}/s '
                  f'({ember["rps"] / base["rps"]:.2f}x), p99 {base["p99_us"]:.0f} vs {ember["p99_us"]:.0f} us',
                  file=sys.stderr)
            if depth == 16 and framing == 'native':
                # The same load through a gateway, right after the direct run it is compared with.
                d = tempfile.mkdtemp(prefix='ember-forward-')
                procs, port = start_cluster(os.path.join(tools, 'bench_cluster_server'), d)
                try:
                    fwd = bench(tool, port, [p.pid for p in procs], connections, depth, a.duration)
                finally:
                    for p in reversed(procs):
                        stop(p)
                shutil.rmtree(d, ignore_errors=True)
                forwarded.append((f'echo {connections}x{depth}, 64 B, native', ember, fwd))
                print(f'forwarded {connections}x{depth}: direct {ember["rps"]:.0f}/s, forwarded '
                      f'{fwd["rps"]:.0f}/s ({fwd["rps"] / ember["rps"]:.2f}x), p99 '
                      f'{ember["p99_us"]:.0f} vs {fwd["p99_us"]:.0f} us', file=sys.stderr)
    lines = [
        '# Benchmarks',
        '',
        f'Measured {datetime.date.today()} by `tools/bench.sh` on {os.cpu_count()} cores '
        f'({cpu_model()}); server pinned to CPU 0, `ember-bench` to CPU 1, {a.duration:g} s '
        'measured after 1 s of warm-up, loopback. Every ember figure is a ratio to the raw-Asio '
        'baseline (`tools/bench/baseline_server.cpp`: the same frame, a trivial echo, nothing '
        'else) measured in the same run. The Firefly rows compare ember\'s Firefly listener with '
        'the native baseline. "CPU/req" is the server\'s user+system time per request from '
        '/proc/PID/stat: on two cores the load generator can be the bottleneck for both servers, '
        'and this figure is what it cannot hide.',
        '',
        '| scenario | baseline req/s | ember req/s | ratio | baseline p99 | ember p99 | p99 ratio | CPU/req baseline | CPU/req ember |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for name, b, e in rows:
        lines.append(f'| {name} | {b["rps"]:,.0f} | {e["rps"]:,.0f} | {e["rps"] / b["rps"]:.2f} | '
                     f'{b["p99_us"]:.0f} µs | {e["p99_us"]:.0f} µs | {e["p99_us"] / b["p99_us"]:.2f} | '
                     f'{b["server_cpu_us_per_request"]:.2f} µs | {e["server_cpu_us_per_request"]:.2f} µs |')
    lines += ['', 'Targets: throughput ≥ 0.9× baseline, p99 ≤ 1.2× baseline.', '']
    lines += [
        '### Forwarding through a gateway',
        '',
        'client → `front` → `echo` → `front` → client: three processes, from a temporary '
        'config.json run by `tools/bench/bench_cluster_server.cpp` (`ember::app::host`): `front` '
        'has a netport and a rootport and serves nothing itself, so it forwards echo (the schema '
        'says `server = "echo"`) over its link to `echo1`, a server of type `echo` that joins it. '
        'Both servers are pinned to CPU 0 — the CPU the direct `bench_echo_server` had alone — '
        'and `ember-bench` to CPU 1, so the ratio is what forwarding costs on the same server '
        'CPU. "direct" is the `echo 100x16, 64 B, native` run above, measured just before; '
        '"CPU/req" of the forwarded run is front + echo (each in brackets), from /proc/PID/stat '
        'of both. The run starts once the backend has logged "linked to root \'front\'".',
        '',
        '| scenario | direct req/s | forwarded req/s | ratio | direct p50 | forwarded p50 | '
        'direct p99 | forwarded p99 | CPU/req direct | CPU/req forwarded (front + echo) |',
        '|---|---|---|---|---|---|---|---|---|---|',
    ]
    for name, d, f in forwarded:
        each = ' + '.join(f'{c:.2f}' for c in f['server_cpu_us_per_request_each'])
        lines.append(f'| {name} | {d["rps"]:,.0f} | {f["rps"]:,.0f} | {f["rps"] / d["rps"]:.2f} | '
                     f'{d["p50_us"]:.0f} µs | {f["p50_us"]:.0f} µs | {d["p99_us"]:.0f} µs | '
                     f'{f["p99_us"]:.0f} µs | {d["server_cpu_us_per_request"]:.2f} µs | '
                     f'{f["server_cpu_us_per_request"]:.2f} µs ({each}) |')
    lines += ['', 'Target: forwarded ≥ 0.75× direct throughput at 100 connections × 16 '
              'in flight, 64 B payloads.', '']
    if 'echo' not in phases:  # the echo and forwarding sections as they were
        lines = old_section(old, '# Benchmarks', ['\n' + DATA_HEADING, '\n' + FANOUT_HEADING, '\n## Notes']) or []
    if data_runs is not None:
        lines += data_section(data_runs, a)
    else:
        lines += old_section(old, DATA_HEADING, ['\n## ', '\n### ']) or []
    if fanout_runs is not None:
        lines += fanout_section(fanout_runs, a)
    else:
        lines += old_section(old, FANOUT_HEADING, ['\n## ', '\n### ']) or []
    # Sections written by hand after the fanout one (other tools' figures) are kept as they were.
    fanout_at, notes_at = old.find(FANOUT_HEADING), old.find('\n## Notes')
    later = old.find('\n### ', fanout_at + len(FANOUT_HEADING)) if fanout_at >= 0 else -1
    if 0 <= later and (notes_at < 0 or later < notes_at):
        lines += old[later + 1:notes_at if notes_at >= 0 else len(old)].rstrip('\n').split('\n') + ['']
    # What follows "## Notes" in the old file is kept: the record of changes and their effect.
    if '\n## Notes' in old:
        lines.append(old[old.index('\n## Notes') + 1:].rstrip('\n'))
        lines.append('')
    with open(a.out, 'w') as f:
        f.write('\n'.join(lines))
    print(f'wrote {a.out}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
