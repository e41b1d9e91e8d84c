"""The cross-language golden test of the TypeScript codecs (tests/codegen/meson.build).

    run.py --codegen EMBER_CODEGEN --schema all_types.toml --interop INTEROP_EXE
           --dir tests/codegen/ts_interop --work BUILD_DIR/ts_interop

1. generates all_types.ts (and the runtime ember.ts) with `ember-codegen --lang ts`, and the
   chat example's too;
2. installs TypeScript 5 from npm into WORK/node (once; reused while its version is 5.x);
3. compiles the generated modules and interop.ts with `tsc --strict` (and the chat example's
   module, which the test does not run, to check that it type-checks too);
4. runs `interop write` (C++ encodes every case, binary and JSON), `node interop.js` (TypeScript
   encodes the same messages to the same bytes, decodes C++'s and re-encodes them, writes its
   own) and `interop check` (C++ decodes TypeScript's and compares field by field); both sides
   decode every body of bad_bodies.txt and must report the same error.

Node and npm must be installed (Debian: nodejs, npm); without them the test says so and fails.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        print(f"ts_interop: {cmd[0]} failed with status {r.returncode}", flush=True)
        sys.exit(1)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--codegen", required=True)
    p.add_argument("--schema", required=True)
    p.add_argument("--chat-schema", required=True)
    p.add_argument("--interop", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args()

    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        print("ts_interop: node and npm are needed (Debian: apt-get install nodejs npm; "
              "tools/install-deps.sh installs them)", flush=True)
        return 1

    work = Path(args.work)
    src = Path(args.dir)
    gen, out, data = work / "gen", work / "out", work / "data"
    for d in (gen, out, data):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)

    run([args.codegen, args.schema, "--out-dir", str(gen), "--lang", "ts"])
    chat = work / "chat"
    shutil.rmtree(chat, ignore_errors=True)
    run([args.codegen, args.chat_schema, "--out-dir", str(chat), "--lang", "ts"])

    node_dir = work / "node"
    tsc = node_dir / "node_modules" / "typescript" / "bin" / "tsc"
    pkg = node_dir / "node_modules" / "typescript" / "package.json"
    if not pkg.exists() or not json.loads(pkg.read_text())["version"].startswith("5."):
        node_dir.mkdir(parents=True, exist_ok=True)
        (node_dir / "package.json").write_text('{"private": true}\n')
        run([npm, "install", "--no-audit", "--no-fund", "--silent", "typescript@5"],
            cwd=node_dir)
    print("ts_interop: TypeScript", json.loads(pkg.read_text())["version"], flush=True)

    shutil.copy(src / "interop.ts", work / "interop.ts")
    common = ["--strict", "--noUncheckedIndexedAccess", "--noImplicitOverride",
              "--target", "es2020", "--module", "nodenext", "--moduleResolution", "nodenext"]
    # interop.ts uses node:fs; TypeScript's own lib has no Node types, so it gets a minimal
    # declaration of the few functions it calls
    (work / "node_shim.d.ts").write_text(NODE_SHIM)
    (work / "package.json").write_text('{"type": "module"}\n')
    run([node, str(tsc), *common, "--outDir", str(out), "--rootDir", str(work),
         str(work / "interop.ts"), str(work / "node_shim.d.ts"), str(gen / "all_types.ts"),
         str(gen / "ember.ts")])
    (out / "package.json").write_text('{"type": "module"}\n')
    run([node, str(tsc), *common, "--noEmit", str(chat / "chat.ts"), str(chat / "ember.ts")])

    run([args.interop, "write", str(data)])
    run([node, str(out / "interop.js"), str(data), str(src / "bad_bodies.txt")])
    run([args.interop, "check", str(data), str(src / "bad_bodies.txt")])
    print("ts_interop: C++ and TypeScript agree", flush=True)
    return 0


NODE_SHIM = """\
declare module "node:fs" {
  export function readFileSync(path: string): Uint8Array;
  export function readFileSync(path: string, encoding: "utf8"): string;
  export function writeFileSync(path: string, data: Uint8Array | string): void;
}
declare module "node:util" {
  export function isDeepStrictEqual(a: unknown, b: unknown): boolean;
}
declare const process: { argv: string[]; exit(code: number): never };
"""

if __name__ == "__main__":
    sys.exit(main())
