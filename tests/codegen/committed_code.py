"""Checks or refreshes ember's committed generated code.

    committed_code.py --codegen EMBER_CODEGEN [--check]

ember's own schemas are generated once and the result committed, since ember builds and
installs without running its generator (as protobuf does with its descriptor.proto):
  schemas/internal/cluster.toml  routing and ownership messages -> include/ember/cluster/detail/
  schemas/ember/NAME.toml        the gameplay module NAME       -> include/ember/modules/NAME/detail/
With --check this regenerates them into a temporary directory and exits 1 with a diff when the
committed files differ; without it, it rewrites the committed files.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFRESH = "ninja -C BUILD update-generated"


def schemas() -> list[tuple[Path, Path, tuple[str, ...]]]:
    """(schema, folder of its committed files, the files)."""
    out = [(ROOT / "schemas" / "internal" / "cluster.toml",
            ROOT / "include" / "ember" / "cluster" / "detail",
            # no commands: no server or client header
            ("ember_cluster_wire.hpp", "ember_cluster_wire.cpp"))]
    for schema in sorted((ROOT / "schemas" / "ember").glob("*.toml")):
        name = "ember_" + schema.stem
        out.append((schema, ROOT / "include" / "ember" / "modules" / schema.stem / "detail",
                    (f"{name}.hpp", f"{name}.cpp", f"{name}_server.hpp", f"{name}_client.hpp")))
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--codegen", required=True, help="the ember-codegen launcher")
    p.add_argument("--check", action="store_true", help="compare only; exit 1 when stale")
    args = p.parse_args()
    return max(refresh(s, d, f, args.codegen, args.check) for s, d, f in schemas())


def refresh(schema: Path, committed: Path, files: tuple[str, ...], codegen: str,
            check: bool) -> int:
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run([codegen, str(schema), "--out-dir", out],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr, end="", file=sys.stderr)
            return 1
        fresh = {name: (Path(out) / name).read_text(encoding="utf-8") for name in files}
    if not check:
        committed.mkdir(parents=True, exist_ok=True)
        for name, text in fresh.items():
            (committed / name).write_text(text, encoding="utf-8")
            print(f"refreshed {(committed / name).relative_to(ROOT)}")
        return 0
    stale = False
    for name, text in fresh.items():
        path = committed / name
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
        print(f"the committed code of {schema.relative_to(ROOT)} is stale: run `{REFRESH}` "
              f"(or python3 tests/codegen/committed_code.py --codegen BUILD/codegen/ember-codegen) "
              f"and commit {committed.relative_to(ROOT)}/", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
