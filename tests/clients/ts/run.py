"""The generated TypeScript client against the chat example (tests/clients/ts/meson.build).

    run.py node|browser|retry --codegen EMBER_CODEGEN --chat-server CHAT_SERVER
           [--retry-server RETRY_SERVER] --source-root ROOT --dir tests/clients/ts --work BUILD_DIR/...

1. generates chat.ts (and the runtimes ember.ts and client.ts) with `ember-codegen --lang ts`;
2. installs typescript, ws and puppeteer-core from npm into WORK/node (`npm ci`, the versions
   of package-lock.json; once, while the lock file is unchanged);
3. compiles them with `tsc --strict` and the strictest flags;
4. runs node_test.mjs (node: the client in Node 20 over npm's ws) or browser_test.mjs
   (browser: examples/chat/web/ in Debian's chromium, headless, with puppeteer-core; its
   screenshot's path is printed), or (retry) generates tests/cluster/route_test.toml's client
   instead and runs retry_test.mjs against tests/clients/retry_server: retried calls carry one
   request id, and the game's reply cache makes them run once; and with `--pair`, a session
   follows a draining server's `moved` push to the other.

Node, npm and (browser) /usr/bin/chromium must be installed (tools/install-deps.sh installs
them); without them the test says so and fails.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
import runner  # noqa: E402  (tests/support/runner.py)

run = functools.partial(runner.run, "clients_ts")

STRICT = ["--strict", "--noUncheckedIndexedAccess", "--noImplicitOverride", "--isolatedModules",
          "--verbatimModuleSyntax", "--exactOptionalPropertyTypes", "--noImplicitReturns",
          "--noFallthroughCasesInSwitch", "--noUnusedLocals", "--noUnusedParameters",
          "--noPropertyAccessFromIndexSignature",
          "--target", "es2020", "--module", "nodenext", "--moduleResolution", "nodenext"]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("part", choices=("node", "browser", "retry"))
    p.add_argument("--codegen", required=True)
    p.add_argument("--chat-server", required=True)
    p.add_argument("--retry-server")
    p.add_argument("--source-root", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args()

    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        print("clients_ts: node and npm are needed (Debian: apt-get install nodejs npm; "
              "tools/install-deps.sh installs them)", flush=True)
        return 1
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if args.part == "browser" and not os.access(chromium, os.X_OK):
        print(f"clients_ts: {chromium} is needed (Debian: apt-get install chromium; "
              "tools/install-deps.sh installs it)", flush=True)
        return 1

    src, work, root = Path(args.dir), Path(args.work), Path(args.source_root)
    if args.part == "node":
        check_names(args.codegen, work / "names")
    gen, out = work / "gen", work / "out"
    for d in (gen, out):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    schema = root / "tests" / "cluster" / "route_test.toml" if args.part == "retry" \
        else root / "examples" / "chat" / "chat.toml"
    run([args.codegen, str(schema), "--out-dir", str(gen), "--lang", "ts"])

    # npm packages: installed once per lock file (the registry is the only network needed)
    node_dir = work / "node"
    lock = (src / "package-lock.json").read_bytes()
    if not (node_dir / "node_modules").is_dir() or (node_dir / "package-lock.json").read_bytes() != lock:
        shutil.rmtree(node_dir, ignore_errors=True)
        node_dir.mkdir(parents=True)
        for f in ("package.json", "package-lock.json"):
            shutil.copy(src / f, node_dir / f)
        run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=node_dir, timeout=300)
    for f in ("common.mjs", "node_test.mjs", "browser_test.mjs", "retry_test.mjs"):
        shutil.copy(src / f, node_dir / f)

    (work / "package.json").write_text('{"type": "module"}\n')
    (gen / "package.json").write_text('{"type": "module"}\n')
    run([node, str(node_dir / "node_modules" / "typescript" / "bin" / "tsc"), *STRICT,
         "--outDir", str(out), *sorted(str(f) for f in gen.glob("*.ts"))])
    (out / "package.json").write_text('{"type": "module"}\n')
    print(f"clients_ts: the generated {schema.stem} client compiles with tsc --strict", flush=True)

    if args.part == "retry":
        run([node, str(node_dir / "retry_test.mjs"), args.retry_server, str(out)], timeout=200)
    elif args.part == "node":
        check_npm_package(args.codegen, root, node, npm, node_dir, work / "npm")
        run([node, str(node_dir / "node_test.mjs"), args.chat_server, str(out)], timeout=120)
    else:
        run([node, str(node_dir / "browser_test.mjs"), args.chat_server, str(out),
             str(root / "examples" / "chat" / "web"), str(work)], timeout=180)
    return 0


def check_npm_package(codegen: str, root: Path, node: str, npm: str, node_dir: Path, work: Path) -> None:
    """--npm-package: the output directory is an npm package a game's project installs and
    imports by name, types included (through package.json's exports), as a web game would."""
    shutil.rmtree(work, ignore_errors=True)
    pkg, game = work / "chat-client", work / "game"
    game.mkdir(parents=True)
    run([codegen, str(root / "examples" / "chat" / "chat.toml"), "--out-dir", str(pkg), "--lang", "ts",
         "--npm-package", "@example/chat-client@1.0.0"])
    tsc = str(node_dir / "node_modules" / "typescript" / "bin" / "tsc")
    run([node, tsc, "-p", str(pkg)])  # what `npm run build` runs
    (game / "package.json").write_text(
        '{"name": "game", "private": true, "type": "module",\n'
        ' "dependencies": {"@example/chat-client": "file:../chat-client"}}\n')
    run([npm, "install", "--offline", "--no-audit", "--no-fund", "--silent"], cwd=game, timeout=120)
    (game / "main.ts").write_text(
        'import { Client, commands, login_request } from "@example/chat-client";\n'
        'const request: login_request = { user: "ann", password: "secret" };\n'
        '// binary: field 1 "ann", field 2 "secret" (PROTOCOL.md section 8)\n'
        'const bytes = Array.from(login_request.encode(request)).join(",");\n'
        'if (bytes !== "10,3,97,110,110,18,6,115,101,99,114,101,116" || commands.login.id !== 101 ||\n'
        '    typeof Client.prototype.login !== "function")\n'
        '  throw new Error(`the package does not export the chat client: ${bytes}`);\n'
        'console.log("the game imports the client by its package name");\n')
    run([node, tsc, "--strict", "--target", "ES2020", "--module", "node16", "--moduleResolution", "node16",
         "--skipLibCheck", "--outDir", str(game / "dist"), str(game / "main.ts")])
    (game / "dist" / "package.json").write_text('{"type": "module"}\n')
    run([node, str(game / "dist" / "main.js")], cwd=game)
    print("clients_ts: --npm-package makes a package a game installs and imports by name", flush=True)


NAMES = """\
[schema]
name = "names"

[[command]]
id = 101
name = "connect"
server = "x"
request = []
reply = []

[[command]]
id = 102
name = "onHello"
server = "x"
request = []
reply = []

[[push]]
id = 201
name = "hello"
fields = []

[[push]]
id = 202
name = "resumed"
fields = []
"""


def check_names(codegen: str, tmp: Path) -> None:
    """Commands and pushes whose Client methods would hide the runtime's or each other are
    refused, one line each."""
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    schema = tmp / "names.toml"
    schema.write_text(NAMES)
    r = subprocess.run([codegen, str(schema), "--out-dir", str(tmp / "out"), "--lang", "ts"],
                       capture_output=True, text=True)
    want = [f"{schema}:6: command 'connect': the generated Client's method 'connect' would hide "
            "the client runtime's; rename it for --lang ts",
            f"{schema}:20: push 'hello': the generated Client's method 'onHello' is also the "
            "method of command 'onHello'; rename one for --lang ts",
            f"{schema}:25: push 'resumed': the generated Client's method 'onResumed' would hide "
            "the client runtime's; rename it for --lang ts"]
    if r.returncode != 1 or r.stderr.splitlines() != want:
        print(f"clients_ts: names that collide: status {r.returncode}, {r.stderr!r}", flush=True)
        sys.exit(1)
    print("clients_ts: Client method names that collide are refused", flush=True)


if __name__ == "__main__":
    sys.exit(main())
