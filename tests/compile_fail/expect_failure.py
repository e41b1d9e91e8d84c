"""Builds one target that must NOT compile and checks the compiler said why.

usage: expect_failure.py BUILD_DIR TARGET_FILE REGEX
"""
import os
import re
import subprocess
import sys


def objects(build_dir, rel):
    """The explicit inputs of `rel`'s link step (`ninja -t query`), its object files."""
    query = subprocess.run(['ninja', '-C', build_dir, '-t', 'query', rel],
                           capture_output=True, text=True).stdout.splitlines()
    found, inputs = [], False
    for line in query:
        if line.startswith('  input:'):
            inputs = True
        elif line.startswith('  outputs:'):
            break
        elif inputs and line.startswith('    ') and line.strip().endswith('.o'):
            found.append(line.strip())
    return found


def main(argv):
    build_dir, target, pattern = argv[1], argv[2], argv[3]
    rel = os.path.relpath(target, build_dir)
    # The target's object files, not the program: the verdict is the compiler's, and linking
    # would first build every library the program links.
    run = subprocess.run(['ninja', '-C', build_dir, *(objects(build_dir, rel) or [rel])],
                         capture_output=True, text=True)
    out = run.stdout + run.stderr
    if run.returncode == 0:
        print(f'{rel} compiled, but it must not')
        return 1
    if not re.search(pattern, out):
        print(f'{rel} failed to build, but not with /{pattern}/:\n{out[-4000:]}')
        return 1
    print(f'{rel} does not compile, as expected (/{pattern}/ found)')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
