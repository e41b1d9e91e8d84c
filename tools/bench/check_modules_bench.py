"""A short run of ember-modules-bench in the test suite: it starts its own memcached and uses a
temporary SQLite file; every phase runs, and its checks held (claims granted once, transfers
left the total gold unchanged, every chat line reached every member once). Speeds are not
checked. Skipped (exit 77) without memcached or the SQLite3 ODBC driver.

usage: check_modules_bench.py EMBER_MODULES_BENCH
"""
import json
import os
import subprocess
import sys

MEMCACHED = '/usr/bin/memcached'
EXPECTED = {'sign_in_device_new', 'sign_in_device', 'sign_in_password', 'friends_list', 'mail_claim',
            'wallet_transfer', 'wallet_transfer_few', 'chat_line', 'chat_lines'}
WITH_BASELINE = {'sign_in_password', 'friends_list', 'mail_claim', 'wallet_transfer', 'wallet_transfer_few', 'chat_line'}


def main(argv):
    tool = argv[1]
    if not os.path.exists(MEMCACHED) or not os.path.exists('/etc/odbcinst.ini') or \
            '[SQLite3]' not in open('/etc/odbcinst.ini').read():
        print('memcached or the SQLite3 ODBC driver is missing: skipped')
        return 77
    run = subprocess.run([tool, '--fast-hash', '--duration', '0.3', '-c', '8', '--friends', '10', '--mails', '80',
                          '--players', '4', '--members', '40', '--lines', '10', '--json'],
                         capture_output=True, text=True, timeout=240)
    print(run.stdout, run.stderr)
    if run.returncode != 0:
        print(f'ember-modules-bench exited with {run.returncode}')
        return 1
    result = json.loads(run.stdout)
    phases = {r['id']: r for r in result['results']}
    if set(phases) != EXPECTED:
        print(f'phases {sorted(phases)}, expected {sorted(EXPECTED)}')
        return 1
    for r in result['results']:
        if r['problems'] or r['ember']['errors']:
            print(f'{r["phase"]}: problems {r["problems"]}, errors {r["ember"]["errors"]}')
            return 1
        if not r['ember']['ops'] > 0 or not r['ember']['rate'] > 0:
            print(f'{r["phase"]}: nothing measured')
            return 1
        if r['id'] in WITH_BASELINE and not (r['baseline'] and r['baseline']['ops'] > 0):
            print(f'{r["phase"]}: no baseline measured')
            return 1
    if result['retries']['contended'] < 0 or result['retries']['uncontended'] < 0:
        print('no retry counts')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
