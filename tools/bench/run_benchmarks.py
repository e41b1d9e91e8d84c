"""Runs ember's benchmarks against the raw-Asio baseline in the same session and writes
BENCHMARKS.md. Server on CPU 0, load generator on CPU 1 (taskset), each figure a ratio to the
baseline measured minutes apart, because these machines are noisy.

usage: run_benchmarks.py BUILD_DIR [--duration S] [--out BENCHMARKS.md]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time


def start(cmd):
    d = tempfile.mkdtemp()
    port_file = os.path.join(d, 'port')
    proc = subprocess.Popen(['taskset', '-c', '0'] + cmd + ['--port', '0', '--port-file', port_file])
    for _ in range(200):
        if os.path.exists(port_file) and open(port_file).read().strip():
            return proc, int(open(port_file).read())
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f'{cmd[0]} did not start')


def bench(tool, port, pid, connections, depth, duration, framing='native'):
    out = subprocess.run(['taskset', '-c', '1', tool, '-p', str(port), '-c', str(connections),
                          '-d', str(depth), '--payload', '64', '--duration', str(duration),
                          '--warmup', '1', '--framing', framing, '--server-pid', str(pid),
                          '--json', '-q'], capture_output=True, text=True, timeout=duration + 60)
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
    for connections, depth in [(100, 1), (100, 16)]:
        base_proc, base_port = start([os.path.join(tools, 'bench_baseline_server')])
        try:
            base = bench(tool, base_port, base_proc.pid, connections, depth, a.duration)
        finally:
            base_proc.terminate()
            base_proc.wait()
        for framing in ['native', 'firefly']:
            proc, port = start([os.path.join(tools, 'bench_echo_server'), '--framing', framing])
            try:
                ember = bench(tool, port, proc.pid, connections, depth, a.duration, framing)
            finally:
                proc.terminate()
                proc.wait()
            rows.append((f'echo {connections}x{depth}, 64 B, {framing}', base, ember))
            print(f'{rows[-1][0]}: baseline {base["rps"]:.0f}/s, ember {ember["rps"]:.0f}/s '
                  f'({ember["rps"] / base["rps"]:.2f}x), p99 {base["p99_us"]:.0f} vs {ember["p99_us"]:.0f} us',
                  file=sys.stderr)
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
