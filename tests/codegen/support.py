"""What the generator's Python tests share: running ember-codegen in the test's process, and a
`main` that reads the test's options and runs its unittest cases."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import unittest
from typing import Callable


def run_generator(*argv: str) -> tuple[int, str]:
    """Runs ember-codegen in this process: (exit code, stderr). An exception escaping the
    generator fails the calling test with its traceback."""
    from ember_codegen.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


def main(into: argparse.Namespace, options: dict[str, str],
         setup: Callable[[], None] | None = None) -> int:
    """Parses `--codegen-dir` and `options` (name: help) into `into`, makes the generator
    importable, calls `setup` (which may add tests) and runs the tests: 0 when all pass."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--codegen-dir", required=True, help="codegen/ of the source tree")
    for name, help_text in options.items():
        parser.add_argument(name, required=True, help=help_text)
    args, rest = parser.parse_known_args()
    vars(into).update(vars(args))
    sys.dont_write_bytecode = True
    sys.path.insert(0, args.codegen_dir)
    if setup:
        setup()
    program = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    return 0 if program.result.wasSuccessful() else 1
