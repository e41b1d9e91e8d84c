"""A short run of ember-data-bench in the test suite: against a memcached it starts and a
temporary SQLite file, every phase runs and the rows it wrote are counted in the database.
Speeds are not checked. Skipped (exit 77) without memcached or the SQLite3 ODBC driver.

usage: check_data_bench.py EMBER_DATA_BENCH
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

MEMCACHED = '/usr/bin/memcached'
ROWS = 300


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_memcached(log):
    """A memcached of ours on a free port (as root it needs -u); returns it and its address."""
    for _ in range(5):
        port = free_port()
        cmd = [MEMCACHED, '-l', '127.0.0.1', '-p', str(port), '-U', '0', '-M', '-o', 'slab_automove=0', '-m', '64']
        if os.geteuid() == 0:
            cmd[1:1] = ['-u', 'memcache']
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(100):
            if proc.poll() is not None:
                break
            try:
                socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
                return proc, f'127.0.0.1:{port}'
            except OSError:
                time.sleep(0.05)
        stop(proc)
    raise RuntimeError('memcached did not start')


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv):
    tool = argv[1]
    if not os.path.exists(MEMCACHED) or not os.path.exists('/etc/odbcinst.ini') or \
            '[SQLite3]' not in open('/etc/odbcinst.ini').read():
        print('memcached or the SQLite3 ODBC driver is missing: skipped')
        return 77
    with tempfile.TemporaryDirectory(prefix='ember-data-bench-check-') as d:
        with open(os.path.join(d, 'memcached.log'), 'w') as log:
            mc, address = start_memcached(log)
        try:
            run = subprocess.run(
                [tool, '-m', address, '-o', f'Driver=SQLite3;Database={d}/bench.db;', '-n', str(ROWS),
                 '-c', '8', '--hot', '4', '--rounds', '1', '--flush-rounds', '1', '--duration', '0.2',
                 '--warmup', '0.05', '--memcached-pid', str(mc.pid), '--journal-dir', d, '--json'],
                capture_output=True, text=True, timeout=120)
        finally:
            stop(mc)
        print(run.stdout, run.stderr)
        if run.returncode != 0:
            print(f'ember-data-bench exited with {run.returncode}')
            return 1
        result = json.loads(run.stdout)
        phases = {r['id']: r for r in result['results']}
        expected = {'get', 'get_many', 'cas', 'flush', 'flush_updates'}
        if set(phases) != expected:
            print(f'phases {sorted(phases)}, expected {sorted(expected)}')
            return 1
        for r in result['results']:
            if r['problems'] or r['errors']:
                print(f'{r["phase"]}: problems {r["problems"]}, errors {r["errors"]}')
                return 1
            if not (r['baseline'] > 0 and r['ember'] > 0):
                print(f'{r["phase"]}: no rate measured')
                return 1
        # Every updated row reached the database (counted there with a plain query).
        if result['rows_in_db'] != ROWS:
            print(f'{result["rows_in_db"]} rows written back, expected {ROWS}')
            return 1
        if phases['cas']['ember_retries'] < 0 or phases['cas']['baseline_retries'] < 0:
            print('no retry counts')
            return 1
    # A memcached that is not there fails the run with a message, not a hang.
    with tempfile.TemporaryDirectory(prefix='ember-data-bench-check-') as d:
        run = subprocess.run([tool, '-m', f'127.0.0.1:{free_port()}', '-o', f'Driver=SQLite3;Database={d}/b.db;',
                              '-n', '16', '--journal-dir', d, '-q'], capture_output=True, text=True, timeout=60)
        print(run.stdout, run.stderr)
        if run.returncode == 0 or 'ember-data-bench:' not in run.stderr:
            print('expected a failure naming the unreachable memcached')
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
