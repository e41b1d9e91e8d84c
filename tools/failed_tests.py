#!/usr/bin/env python3
"""Prints each failed test of a Meson build: its name, result, time and the end of its output.

Usage: failed_tests.py BUILD_DIR [LINES]   (LINES of output per test, default 30; half as many
of its error output)
CI prints this last, so that the failures are in the part of its log that is kept."""
import json
import pathlib
import sys

build = pathlib.Path(sys.argv[1])
lines = int(sys.argv[2]) if len(sys.argv) > 2 else 30
log = build / "meson-logs" / "testlog.json"
if not log.exists():
    sys.exit(0)
for line in log.read_text().splitlines():
    test = json.loads(line)
    if test["result"] in ("OK", "EXPECTEDFAIL", "SKIP"):
        continue
    print(f"== FAILED {test['name']}: {test['result']} after {test['duration']:.0f} s "
          f"(exit {test['returncode']}); the last lines of its error output and its output:")
    # Both ends: a server's crash is on stderr, Boost.Test's error lines on stdout.
    for stream, count in (("stderr", lines // 2), ("stdout", lines)):
        text = (test.get(stream) or "").splitlines()
        if text:
            print(f"  -- {stream}:")
        for line in text[-count:]:
            print(f"   {line[:300]}")
