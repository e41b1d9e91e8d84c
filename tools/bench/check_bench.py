"""A short run of ember-bench in the test suite: it counts replies and reports errors.

usage: check_bench.py EMBER_BENCH SERVER... (bench_echo_server, bench_baseline_server)
"""
import json
import os
import subprocess
import sys
import tempfile
import time


def check_server(bench, server, d):
    """Echo and broadcast runs against one server; returns its port (closed by then), or None
    when a check failed."""
    port_file = os.path.join(d, os.path.basename(server) + '.port')
    srv = subprocess.Popen([server, '--port', '0', '--port-file', port_file])
    try:
        for _ in range(100):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        port = open(port_file).read().strip()
        run = subprocess.run([bench, '-p', port, '-c', '4', '-d', '4', '--duration', '1',
                              '--warmup', '0.2', '--json', '-q', '--server-pid', str(srv.pid)],
                             capture_output=True, text=True, timeout=30)
        print(run.stdout, run.stderr)
        if run.returncode != 0:
            print(f'ember-bench failed against a live {server}')
            return None
        result = json.loads(run.stdout)
        if result['requests'] <= 0 or result['errors'] or result['p50_us'] <= 0:
            print('expected replies and no errors')
            return None
        if not result['p50_us'] <= result['p99_us'] <= result['max_us']:
            print('percentiles out of order')
            return None
        if result['server_cpu_us_per_request'] <= 0:
            print('no server CPU time measured')
            return None
        # Broadcast mode: every session gets each round's push once.
        run = subprocess.run([bench, '-p', port, '--broadcast', '300', '--rounds', '5', '--json', '-q'],
                             capture_output=True, text=True, timeout=60)
        print(run.stdout, run.stderr)
        result = json.loads(run.stdout)
        if run.returncode != 0 or result['sessions'] != 300 or result['rounds'] != 5 or result['stray']:
            print(f'{server}: expected 5 complete rounds to 300 sessions, no push twice')
            return None
        if not 0 < result['first_p50_ms'] <= result['last_p50_ms'] <= result['last_max_ms']:
            print('broadcast times out of order')
            return None
        return port
    finally:
        srv.terminate()
        srv.wait(timeout=10)


def main(argv):
    bench, servers = argv[1], argv[2:]
    with tempfile.TemporaryDirectory() as d:
        for server in servers:  # ember's echo server and the raw baseline speak the same
            port = check_server(bench, server, d)
            if port is None:
                return 1
        # Nothing listens there any more: every connection fails, and the exit code says so.
        run = subprocess.run([bench, '-p', port, '-c', '2', '--duration', '0.3', '--warmup', '0',
                              '--json', '-q'], capture_output=True, text=True, timeout=30)
        print(run.stdout, run.stderr)
        result = json.loads(run.stdout)
        if run.returncode == 0 or not any(k.startswith('connect') for k in result['errors']):
            print('expected connect errors and a failing exit code')
            return 1
    # Link mode needs no server: a root and a node in the process, calls over their link.
    run = subprocess.run([bench, '--link', '-d', '8', '--duration', '0.5', '--warmup', '0.1', '--json', '-q'],
                         capture_output=True, text=True, timeout=30)
    print(run.stdout, run.stderr)
    result = json.loads(run.stdout)
    if run.returncode != 0 or result['calls'] <= 0 or result['errors'] or result['cpu_us_per_call'] <= 0:
        print('expected link calls answered, no errors, CPU measured')
        return 1
    print('ember-bench counts replies and reports errors')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
