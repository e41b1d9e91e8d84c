"""The cross-language golden test of the TypeScript codecs (tests/codegen/meson.build).

    run.py --codegen EMBER_CODEGEN --schema all_types.toml --interop INTEROP_EXE
           --dir tests/codegen/ts_interop --work BUILD_DIR/ts_interop

1. generates all_types.ts (and the runtime ember.ts) with `ember-codegen --lang ts`, and the
   chat example's too;
2. installs TypeScript 5 from npm into WORK/node (once; reused while its version is 5.x);
3. compiles the generated modules and interop.ts with `tsc --strict`, and type-checks the
   TypeScript of every other schema of the repository (examples, modules, tricky ones);
4. runs `interop write` (C++ encodes every case, binary and JSON), `node interop.js` (TypeScript
   encodes the same messages to the same bytes, decodes C++'s and re-encodes them, writes its
   own) and `interop check` (C++ decodes TypeScript's and compares field by field); both sides
   decode every body of bad_bodies.txt and must report the same error, and a body that decodes
   must decode to the same message (compared by encoding it again).

Node and npm must be installed (Debian: nodejs, npm); without them the test says so and fails.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
import runner  # noqa: E402  (tests/support/runner.py)

run = functools.partial(runner.run, "ts_interop")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--codegen", required=True)
    p.add_argument("--schema", required=True)
    p.add_argument("--chat-schema", required=True)
    p.add_argument("--interop", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--source-root", required=True)
    args = p.parse_args()

    work = Path(args.work)
    check_cli(args.codegen, args.schema, work / "cli")

    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        print("ts_interop: node and npm are needed (Debian: apt-get install nodejs npm; "
              "tools/install-deps.sh installs them)", flush=True)
        return 1

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
    # every schema of the repository (examples, gameplay modules, the cluster's, the tricky
    # ones of tests/codegen/accepted) generates TypeScript that type-checks
    root = Path(args.source_root)
    others = sorted(list(root.glob("examples/*/*.toml")) + list(root.glob("schemas/ember/*.toml")) +
                    list(root.glob("schemas/internal/*.toml")) +
                    list(root.glob("tests/codegen/accepted/*.toml")))
    every = work / "every"
    shutil.rmtree(every, ignore_errors=True)
    for i, schema in enumerate(others):
        run([args.codegen, str(schema), "--out-dir", str(every / f"{i}-{schema.stem}"), "--lang", "ts",
             "--modules-dir", str(root / "schemas" / "ember")])
    strictest = ["--isolatedModules", "--verbatimModuleSyntax", "--exactOptionalPropertyTypes",
                 "--noImplicitReturns", "--noFallthroughCasesInSwitch", "--noUnusedLocals",
                 "--noUnusedParameters", "--noPropertyAccessFromIndexSignature"]
    run([node, str(tsc), *common, *strictest, "--noEmit", str(chat / "chat.ts"),
         str(chat / "ember.ts"), str(gen / "all_types.ts"), str(gen / "ember.ts"),
         *[str(f) for f in sorted(every.glob("*/*.ts"))]])
    print(f"ts_interop: the TypeScript of {len(others) + 1} schemas type-checks, also with "
          f"{' '.join(strictest)}", flush=True)

    run([args.interop, "write", str(data), str(src / "bad_bodies.txt")])
    run([node, str(out / "interop.js"), str(data), str(src / "bad_bodies.txt")])
    run([args.interop, "check", str(data), str(src / "bad_bodies.txt")])
    print("ts_interop: C++ and TypeScript agree", flush=True)
    return 0


def check_cli(codegen: str, schema: str, tmp: Path) -> None:
    """--lang: cpp by default and explicitly, ts, a bad value refused with the choices; names
    TypeScript cannot declare refused with one line each."""
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    expected = {
        "default": ["all_types.cpp", "all_types.hpp", "all_types_client.hpp", "all_types_server.hpp"],
        "cpp": ["all_types.cpp", "all_types.hpp", "all_types_client.hpp", "all_types_server.hpp"],
        "ts": ["all_types.ts", "client.ts", "ember.ts"],
    }
    for lang, files in expected.items():
        out = tmp / lang
        run([codegen, schema, "--out-dir", str(out)] + ([] if lang == "default" else ["--lang", lang]))
        if sorted(p.name for p in out.iterdir()) != files:
            print(f"ts_interop: --lang {lang} wrote {sorted(p.name for p in out.iterdir())}, "
                  f"expected {files}", flush=True)
            sys.exit(1)
    if (tmp / "default" / "all_types.hpp").read_bytes() != (tmp / "cpp" / "all_types.hpp").read_bytes():
        print("ts_interop: --lang cpp and the default differ", flush=True)
        sys.exit(1)
    r = subprocess.run([codegen, schema, "--out-dir", str(tmp / "bad"), "--lang", "java"],
                       capture_output=True, text=True)
    if r.returncode != 2 or "invalid choice: 'java' (choose from 'cpp', 'ts', 'cs', 'proto')" not in r.stderr:
        print(f"ts_interop: --lang java: status {r.returncode}, {r.stderr!r}", flush=True)
        sys.exit(1)
    bad = tmp / "names.toml"
    bad.write_text('[schema]\nname = "names"\n\n'
                   '[[struct]]\nname = "number"\nfields = []\n\n'
                   '[[enum]]\nname = "commands"\nvalues = { a = 0 }\n\n'
                   '[[struct]]\nname = "fine"\nfields = [ { tag = 1, name = "x", type = "commands" } ]\n')
    r = subprocess.run([codegen, str(bad), "--out-dir", str(tmp / "names"), "--lang", "ts"],
                       capture_output=True, text=True)
    want = [f"{bad}:5: struct 'number': 'number' is a JavaScript reserved word, a TypeScript "
            "type or a name the generated module exports; rename it for --lang ts",
            f"{bad}:9: enum 'commands': 'commands' is a JavaScript reserved word, a TypeScript "
            "type or a name the generated module exports; rename it for --lang ts"]
    if r.returncode != 1 or r.stderr.splitlines() != want:
        print(f"ts_interop: names TypeScript cannot declare: status {r.returncode}, "
              f"{r.stderr!r}, expected {want}", flush=True)
        sys.exit(1)
    r = subprocess.run([codegen, str(bad), "--out-dir", str(tmp / "names-cpp")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"ts_interop: the same schema in C++: status {r.returncode}, {r.stderr!r}", flush=True)
        sys.exit(1)
    print("ts_interop: --lang cpp (default), ts, a bad value and names TypeScript cannot declare: "
          "as documented", flush=True)


NODE_SHIM = """\
declare module "node:fs" {
  export function readFileSync(path: string): Uint8Array;
  export function readFileSync(path: string, encoding: "utf8"): string;
  export function writeFileSync(path: string, data: Uint8Array | string): void;
}
declare module "node:util" {
  export function isDeepStrictEqual(a: unknown, b: unknown): boolean;
}
declare const process: { argv: string[]; env: Record<string, string | undefined>; exit(code: number): never };
"""

if __name__ == "__main__":
    sys.exit(main())
