"""Refreshes tests/codegen/golden/ from the current generator (run after an intended change
to the generator, its templates or the schemas, then review and commit the diff).

    update_golden.py [--codegen EMBER_CODEGEN]

Without --codegen it runs the generator from this source tree with this Python.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
SCHEMAS = {
    "chat": ROOT / "examples" / "chat" / "chat.toml",
    "all_types": ROOT / "schemas" / "test" / "all_types.toml",
}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--codegen", help="the ember-codegen launcher (default: run from source)")
    args = p.parse_args()
    command = [args.codegen] if args.codegen else \
        [sys.executable, "-B", "-m", "ember_codegen"]
    env = None
    if not args.codegen:
        import os

        env = dict(os.environ, PYTHONPATH=str(ROOT / "codegen"))
    for name, schema in SCHEMAS.items():
        out = GOLDEN / name
        shutil.rmtree(out, ignore_errors=True)
        r = subprocess.run(command + [str(schema), "--out-dir", str(out)], env=env)
        if r.returncode != 0:
            return r.returncode
        print(f"refreshed {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
