"""Every public header of ember compiles on its own, in both modes: header-only and
EMBER_SEPARATE_COMPILATION (what dependency('ember') gives). A header that leans on what another
one happened to include fails here, naming itself.

usage: check_headers.py INCLUDE_DIR COMPILER [extra compiler flags...]
"""
import concurrent.futures
import os
import subprocess
import sys
import time


def public_headers(root):
    for d, dirs, files in os.walk(os.path.join(root, 'ember')):
        dirs[:] = [x for x in dirs if x not in ('impl', 'detail')]  # internal: included by others
        for f in sorted(files):
            if f.endswith('.hpp'):
                yield os.path.relpath(os.path.join(d, f), root)


def check(cxx, root, flags, header, separate):
    cmd = [cxx, '-std=c++20', '-fsyntax-only', '-x', 'c++', '-Wall', '-Wextra', '-Wpedantic', '-Werror',
           '-DASIO_NO_DEPRECATED', '-I', root, *flags, '-']
    if separate:
        cmd.insert(1, '-DEMBER_SEPARATE_COMPILATION')
    start = time.monotonic()
    r = subprocess.run(cmd, input=f'#include "{header}"\n', capture_output=True, text=True)
    return header, separate, r.returncode, r.stderr, time.monotonic() - start


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, cxx, flags = argv[1], argv[2], argv[3:]
    headers = list(public_headers(root))
    failed = 0
    seconds = {False: 0.0, True: 0.0}
    slowest = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        jobs = [pool.submit(check, cxx, root, flags, h, s) for h in headers for s in (False, True)]
        for job in jobs:
            header, separate, code, err, took = job.result()
            mode = 'separate' if separate else 'header-only'
            seconds[separate] += took
            slowest.append((took, header, mode))
            if code:
                failed += 1
                print(f'FAIL {header} ({mode}):\n{err[-2000:]}')
    print('slowest: ' + ', '.join(f'{h} ({m}) {t:.1f} s' for t, h, m in sorted(slowest, reverse=True)[:5]))
    print(f'compiler time: header-only {seconds[False]:.0f} s, separate {seconds[True]:.0f} s')
    print(f'{len(headers)} public headers, both modes: {2 * len(headers) - failed} compiled alone, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
