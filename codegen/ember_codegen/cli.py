"""The command line of ember-codegen.

    ember-codegen SCHEMA.toml --out-dir DIR [--depfile FILE]

writes DIR/NAME.hpp, NAME.cpp, NAME_server.hpp and NAME_client.hpp (NAME is the schema's
[schema] name). On an invalid schema it prints one line per problem on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__, backend, frontend


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ember-codegen",
        description="Generate C++ messages, codecs, handler interfaces and client stubs from "
                    "an ember schema.")
    p.add_argument("schema", help="the schema file (TOML)")
    p.add_argument("--out-dir", required=True, help="directory for the generated files")
    p.add_argument("--depfile", help="write a Makefile-style depfile (for Meson/Ninja) naming "
                                     "the schema, every template and every generator module")
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        schema = frontend.load(args.schema)
    except frontend.SchemaError as e:
        for line in e.messages:
            print(line, file=sys.stderr)
        return 1
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
            Path(args.depfile).write_text(
                " ".join(_escape(o) for o in outputs) + ": " +
                " ".join(_escape(d) for d in deps) + "\n", encoding="utf-8")
    except OSError as e:
        print(f"ember-codegen: {e}", file=sys.stderr)
        return 1
    return 0
