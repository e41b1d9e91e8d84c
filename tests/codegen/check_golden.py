"""Diffs ember-codegen's fresh output for a schema against the committed golden files.

    check_golden.py --codegen EMBER_CODEGEN --schema SCHEMA.toml --golden DIR

Exits 1 with a unified diff when they differ. If the change is intended, refresh the golden
files with `ninja -C BUILD update-golden` (or tests/codegen/update_golden.py) and commit them.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--codegen", required=True)
    p.add_argument("--schema", required=True)
    p.add_argument("--golden", required=True)
    args = p.parse_args()
    golden = Path(args.golden)
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run([args.codegen, args.schema, "--out-dir", out],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr, end="", file=sys.stderr)
            return 1
        fresh = {f.name: f.read_text(encoding="utf-8") for f in Path(out).iterdir()}
    kept = {f.name: f.read_text(encoding="utf-8") for f in golden.iterdir()} \
        if golden.is_dir() else {}
    failed = False
    for name in sorted(set(fresh) | set(kept)):
        if fresh.get(name) == kept.get(name):
            print(f"{name}: same")
            continue
        failed = True
        print(f"{name}: differs", file=sys.stderr)
        sys.stderr.writelines(difflib.unified_diff(
            kept.get(name, "").splitlines(keepends=True),
            fresh.get(name, "").splitlines(keepends=True),
            fromfile=f"golden/{golden.name}/{name}", tofile=f"generated/{name}"))
    if failed:
        print("generated code differs from the golden files; if that is intended, run "
              "`ninja update-golden` in the build directory and commit tests/codegen/golden/",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
