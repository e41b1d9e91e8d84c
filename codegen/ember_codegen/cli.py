"""The command line of ember-codegen.

    ember-codegen SCHEMA.toml --out-dir DIR [--lang cpp|ts|cs|proto] [--depfile FILE]
                  [--compat-baseline OLD.toml]
    ember-codegen --check-compat OLD.toml NEW.toml

The first writes DIR/NAME.hpp, NAME.cpp, NAME_server.hpp and NAME_client.hpp (NAME is the
schema's [schema] name); with --lang ts DIR/NAME.ts and the runtime it imports, ember.ts
(codecs) and client.ts (the WebSocket client); with --lang cs DIR/NAME.cs, Ember.cs and
EmberClient.cs; with --lang proto DIR/NAME.proto.
On an invalid schema it prints one line per problem on stderr and exits 1; with
--compat-baseline it also refuses (exit 1) a schema that breaks peers built from the older one. The second only compares two versions of a schema (compat.py) and exits 1 when the
newer one breaks peers of the older one.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from . import __version__, backend, compat, cs, frontend, proto, ts
from . import blocks


#: The back ends other than C++: each has problems(schema, path) and render(schema).
LANGS = {"ts": ts, "cs": cs, "proto": proto}


def _npm_package(parser: argparse.ArgumentParser, args) -> tuple[str, str]:
    """(name, version) of --npm-package NAME[@VERSION]; a bad one stops with what it takes."""
    text = args.npm_package
    at = text.rfind("@")
    name, version = (text[:at], text[at + 1:]) if at > 0 else (text, "0.1.0")
    if args.lang != "ts" or len(name) > 214 or not ts.NPM_NAME.match(name) or \
            not re.fullmatch(r"\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?", version):
        parser.error(f"--npm-package {text}: takes --lang ts, an npm name (lower case: chat-client, "
                     "@game/chat-client) and optionally @VERSION, a semantic version (1.2.3)")
    return name, version


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ember-codegen",
        description="Generate C++ messages, codecs, handler interfaces and client stubs from "
                    "an ember schema.")
    p.add_argument("schema", nargs="?", help="the schema file (TOML)")
    p.add_argument("--out-dir", help="directory for the generated files")
    p.add_argument("--lang", choices=("cpp", "ts", "cs", "proto"), default="cpp",
                   help="the language to generate: cpp (default: NAME.hpp, NAME.cpp, "
                        "NAME_server.hpp, NAME_client.hpp), ts (NAME.ts and the runtime it "
                        "imports, ember.ts and client.ts), cs (NAME.cs and the runtime it uses, Ember.cs and "
                        "EmberClient.cs) or proto (NAME.proto: the binary bodies for protoc)")
    p.add_argument("--npm-package", metavar="NAME[@VERSION]",
                   help="with --lang ts: also write package.json and tsconfig.json, so the output "
                        "directory is an npm package of that name (version 0.1.0 unless given)")
    p.add_argument("--check-compat", nargs=2, metavar=("OLD", "NEW"),
                   help="list every change from OLD to NEW that breaks peers built from OLD; "
                        "exit 1 if there is any")
    p.add_argument("--compat-baseline", metavar="OLD",
                   help="refuse to generate when SCHEMA breaks peers built from OLD (a released "
                        "version of the schema)")
    p.add_argument("--depfile", help="write a Makefile-style depfile (for Meson/Ninja) naming "
                                     "the schema, every template and every generator module")
    p.add_argument("--modules-dir", metavar="DIR",
                   help="where the gameplay module schemas a schema imports are "
                        "(default: ember's schemas/ember)")
    p.add_argument("--version", action="version", version=f"ember-codegen {__version__}")
    return p


def _generator_sources() -> list[str]:
    """The generator's own Python files: a change to any of them changes the output."""
    pkg = Path(__file__).resolve().parent
    launcher = [m.__file__ for m in (sys.modules.get("__main__"),)
                if m is not None and getattr(m, "__file__", None)]
    return sorted({str(p) for p in pkg.glob("*.py")} | {str(Path(x).resolve()) for x in launcher})


def _escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace(" ", "\\ ").replace("#", "\\#").replace("$", "$$")


def _load(path: str):
    """The schema at `path`, or None after printing its problems."""
    try:
        return frontend.load(path)
    except frontend.SchemaError as e:
        for line in e.messages:
            print(line, file=sys.stderr)
        return None


def _breaks(old_path: str, new_path: str, new) -> bool:
    """Prints the breaking changes from `old_path` to `new`; true if there are any."""
    old = _load(old_path)
    if old is None or new is None:
        return True
    changes = compat.check(old, new)
    for line in compat.report(old_path, new_path, changes):
        print(line, file=sys.stderr)
    if changes:
        print(f"ember-codegen: {len(changes)} breaking change{'s' if len(changes) != 1 else ''} "
              f"from {old_path} to {new_path}: retire what you remove with [reserved], "
              f"reserved_tags and reserved_names, and add rather than change "
              f"(schemas/README.md, \"Compatibility rules\")", file=sys.stderr)
    return bool(changes)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.modules_dir:
        blocks.modules_dir = Path(args.modules_dir)
    if args.check_compat:
        if args.schema or args.out_dir:
            parser.error("--check-compat OLD NEW takes no other schema and no --out-dir")
        old_path, new_path = args.check_compat
        new = _load(new_path)
        if _breaks(old_path, new_path, new):
            return 1
        print(f"{new_path}: compatible with {old_path}")
        return 0
    if not args.schema or not args.out_dir:
        parser.error("give SCHEMA.toml and --out-dir DIR (or --check-compat OLD NEW)")
    npm = _npm_package(parser, args) if args.npm_package else None
    schema = _load(args.schema)
    if schema is None:
        return 1
    if args.compat_baseline and _breaks(args.compat_baseline, args.schema, schema):
        return 1
    if args.lang in LANGS:
        refused = LANGS[args.lang].problems(schema, args.schema)
        for line in refused:
            print(line, file=sys.stderr)
        if refused:
            return 1
        files, templates = LANGS[args.lang].render(schema)
        if args.npm_package:
            files.update(ts.npm_package(schema, *npm))
    else:
        files, templates = backend.render(schema)
    out_dir = Path(args.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        outputs = []
        for name, text in files.items():
            path = out_dir / name
            path.write_text(text, encoding="utf-8")
            outputs.append(str(path))
        if args.depfile:
            deps = [str(Path(args.schema).resolve())] + templates + _generator_sources()
            if args.compat_baseline:
                deps.append(str(Path(args.compat_baseline).resolve()))
            # a game's ids are checked against every module's block, its list holds imports'
            deps += sorted(str(p.resolve()) for p in blocks.modules_dir.glob("*.toml"))
            Path(args.depfile).write_text(
                " ".join(_escape(o) for o in outputs) + ": " +
                " ".join(_escape(d) for d in deps) + "\n", encoding="utf-8")
    except OSError as e:
        print(f"ember-codegen: {e}", file=sys.stderr)
        return 1
    return 0
