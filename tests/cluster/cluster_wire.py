"""Checks or refreshes the committed generated code of ember's own cluster messages.

    cluster_wire.py --codegen EMBER_CODEGEN [--check]

ember's routing and ownership messages are described in schemas/internal/cluster.toml; the
header and source ember-codegen makes of it are committed in include/ember/cluster/detail/
(ember builds and installs without running its generator, as protobuf does with its own
descriptor.proto). With --check this regenerates them into a temporary directory and exits 1
with a diff when the committed files differ; without it, it rewrites the committed files.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "internal" / "cluster.toml"
COMMITTED = ROOT / "include" / "ember" / "cluster" / "detail"
#: The generated files ember uses (the schema has no commands: no server or client header).
FILES = ("ember_cluster_wire.hpp", "ember_cluster_wire.cpp")
REFRESH = "ninja -C BUILD update-cluster-wire"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--codegen", required=True, help="the ember-codegen launcher")
    p.add_argument("--check", action="store_true", help="compare only; exit 1 when stale")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run([args.codegen, str(SCHEMA), "--out-dir", out],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr, end="", file=sys.stderr)
            return 1
        fresh = {name: (Path(out) / name).read_text(encoding="utf-8") for name in FILES}
    if not args.check:
        for name, text in fresh.items():
            (COMMITTED / name).write_text(text, encoding="utf-8")
            print(f"refreshed {(COMMITTED / name).relative_to(ROOT)}")
        return 0
    stale = False
    for name, text in fresh.items():
        path = COMMITTED / name
        kept = path.read_text(encoding="utf-8") if path.exists() else ""
        if kept == text:
            print(f"{name}: same")
            continue
        stale = True
        print(f"{name}: differs", file=sys.stderr)
        sys.stderr.writelines(difflib.unified_diff(
            kept.splitlines(keepends=True), text.splitlines(keepends=True),
            fromfile=str(path.relative_to(ROOT)), tofile=f"generated/{name}"))
    if stale:
        print(f"the committed code of {SCHEMA.relative_to(ROOT)} is stale: run `{REFRESH}` "
              f"(or python3 tests/cluster/cluster_wire.py --codegen BUILD/codegen/ember-codegen) "
              f"and commit {COMMITTED.relative_to(ROOT)}/", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
