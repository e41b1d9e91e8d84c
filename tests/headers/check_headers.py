"""Every public header of ember compiles on its own with EMBER_SEPARATE_COMPILATION (what
dependency('ember') gives), and header-only: each header that brings its own bodies (impl/) alone,
and all public headers together in one file, as a header-only program includes them. A header
that leans on what another one happened to include fails here, naming itself. (A header without
bodies of its own is, header-only, its declarations — checked alone in the separate mode — plus
the bodies of headers checked alone here; the file of all headers checks how they meet.)
A gameplay module's bodies are not checked alone header-only: its library (libember-NAME) already
compiles them alone, in a file of their own, and header-only they only add the runtime's bodies,
checked alone here; that halves the check's time (issue 16).

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


def has_bodies(root, header):
    if header.startswith(os.path.join('ember', 'modules') + os.sep):
        return False  # compiled alone by the module's library (see above)
    with open(os.path.join(root, header)) as f:
        return 'EMBER_SEPARATE_COMPILATION' in f.read()


def bodies_last(root, header):
    """Whether the header includes its bodies after all it declares (only comments and macro
    definitions follow), so that compiling it alone header-only also compiles alone what the
    separate mode sees of it."""
    with open(os.path.join(root, header)) as f:
        lines = [line.strip() for line in f]
    guard = '#if !defined(EMBER_SEPARATE_COMPILATION)'
    if guard not in lines:
        return False
    i = lines.index(guard)
    if '/impl/' not in lines[i + 1] or lines[i + 2] != '#endif':
        return False
    continued = False
    for line in lines[i + 3:]:
        if not (continued or not line or line.startswith(('//', '#define'))):
            return False
        continued = line.endswith('\\')
    return True


def check(cxx, root, flags, headers, separate):
    cmd = [cxx, '-std=c++20', '-fsyntax-only', '-x', 'c++', '-Wall', '-Wextra', '-Wpedantic', '-Werror',
           '-DASIO_NO_DEPRECATED', '-I', root, *flags, '-']
    if separate:
        cmd.insert(1, '-DEMBER_SEPARATE_COMPILATION')
    start = time.monotonic()
    text = ''.join(f'#include "{h}"\n' for h in headers)
    r = subprocess.run(cmd, input=text, capture_output=True, text=True)
    name = headers[0] if len(headers) == 1 else f'all {len(headers)} headers together'
    return name, separate, r.returncode, r.stderr, time.monotonic() - start


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
        # A header that includes its bodies last compiled its declarations alone before them
        # when it compiles alone header-only: all the separate mode compiles of it. It is
        # checked alone once, header-only.
        with_bodies = [h for h in headers if has_bodies(root, h)]
        units = [([h], True) for h in headers if not (h in with_bodies and bodies_last(root, h))]
        units += [([h], False) for h in with_bodies]
        units.append((headers, False))
        # The longest first, so that two workers end together.
        units.sort(key=lambda u: (len(u[0]), not u[1]), reverse=True)
        jobs = [pool.submit(check, cxx, root, flags, hs, s) for hs, s in units]
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
    print(f'{len(headers)} public headers: {len(units) - failed} of {len(units)} files compiled '
          f'({len(with_bodies)} runtime headers with bodies alone header-only, '
          f'{len(units) - len(with_bodies) - 1} alone separately, all together header-only), {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
