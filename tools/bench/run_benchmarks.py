"""Runs ember's benchmarks against the raw-Asio baseline in the same session and writes
BENCHMARKS.md. Server on CPU 0, load generator on CPU 1 (taskset), each figure a ratio to the
baseline measured minutes apart, because these machines are noisy.

The forwarding benchmark (issue 3) runs the same echo through a gateway: client -> `front`
(netport + rootport) -> `echo` backend (joins front) -> front -> client, three processes built
from a temporary config.json (bench_cluster_server). Both servers share CPU 0, the CPU the
direct server had alone, so the ratio to the direct echo (measured just before it) is the cost
of forwarding; the load generator stays alone on CPU 1.

usage: run_benchmarks.py BUILD_DIR [--duration S] [--out BENCHMARKS.md]
"""
import argparse
import datetime
import json
import os
import platform
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
    a = ap.parse_args(argv[1:])
    tools = os.path.join(a.build, 'tools', 'bench')
    tool = os.path.join(tools, 'ember-bench')
    rows = []
    forwarded = []  # (name, direct, forwarded)
    for connections, depth in [(100, 1), (100, 16)]:
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
    lines += ['', 'Targets (issue 6): throughput ≥ 0.9× baseline, p99 ≤ 1.2× baseline.', '']
    lines += [
        '### Forwarding through a gateway (issue 3)',
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
    lines += ['', 'Target (issue 3): forwarded ≥ 0.75× direct throughput at 100 connections × 16 '
              'in flight, 64 B payloads.', '']
    # What follows "## Notes" in the old file is kept: the record of changes and their effect.
    if os.path.exists(a.out):
        old = open(a.out).read()
        if '\n## Notes' in old:
            lines.append(old[old.index('\n## Notes') + 1:].rstrip('\n'))
            lines.append('')
    with open(a.out, 'w') as f:
        f.write('\n'.join(lines))
    print(f'wrote {a.out}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
