"""The accepted tricky schemas of tests/codegen/accepted/ generate C++ that compiles without
warnings and means what the schemas say.

    compile_accepted.py --codegen EMBER_CODEGEN --accepted DIR --include INCLUDE_DIR --cxx CXX
                        --main accepted_main.cpp --deprecated-use deprecated_use.cpp
                        --pkg-config='fmt ...' --link='-lhttp_parser ...'

1. Generates every schema of DIR.
2. Builds accepted_main.cpp (which includes every generated header and source) with header-only
   ember and -Wall -Wextra -Wpedantic -Werror, runs it, and compares what it prints (a message
   as JSON, enum names, error messages) with the schemas.
3. Compiles deprecated_use.cpp, which uses what deprecated.toml deprecates: every use must warn,
   with the schema's reason.
Exits 1 with the compiler's words on any failure.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

WARNINGS = ["-Wall", "-Wextra", "-Wpedantic"]


def compiler(args, out: Path, *extra: str) -> list[str]:
    return [args.cxx, "-std=c++20", "-DASIO_NO_DEPRECATED", "-I", args.include, "-I", str(out),
            *extra]


def libraries(args) -> list[str]:
    """What header-only ember links: meson.build's ember_header_only_requires (pkg-config
    modules) and ember_header_only_libs, which the test passes."""
    r = subprocess.run(["pkg-config", "--cflags", "--libs", *args.pkg_config.split()],
                       capture_output=True, text=True, check=True)
    return shlex.split(r.stdout) + args.link.split()


def generate(args, out: Path) -> list[Path]:
    schemas = sorted(Path(args.accepted).glob("*.toml"))
    if not schemas:
        raise SystemExit(f"no schemas in {args.accepted}")
    for schema in schemas:
        r = subprocess.run([args.codegen, str(schema), "--out-dir", str(out)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{schema} was refused:\n{r.stderr}")
    return schemas


def check_main(args, out: Path, schemas: dict[str, dict]) -> list[str]:
    """Builds and runs accepted_main.cpp; the problems found."""
    exe = out / "accepted_main"
    cmd = compiler(args, out, *WARNINGS, "-Werror", args.main, "-o", str(exe), *libraries(args))
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return [f"{' '.join(cmd)}\nfailed:\n{r.stderr[-6000:]}"]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        return [f"accepted_main exited {run.returncode}: {run.stderr}"]
    message, enums, errors = run.stdout.split("\n", 2)
    problems = []
    fields = json.loads(message)
    if fields.get("error") != "default" or fields.get("codec") != "EOF" or \
            fields.get("string") != "s" or "M" not in fields:
        problems.append(f"tricky::fields_of printed as {message}")
    if enums != "linux tricky class":
        problems.append(f"tricky::codec values named {enums!r}, not 'linux tricky class'")
    want = [e["message"] for e in schemas["tricky_text"]["error"]]
    got = errors.split("\x1e")[:-1]
    if got != want:
        problems.append(f"prose's error messages are {got!r}, the schema's {want!r}")
    return problems


def check_deprecated(args, out: Path) -> list[str]:
    """Compiles deprecated_use.cpp: each use of a deprecated item must warn."""
    cmd = compiler(args, out, *WARNINGS, "-fsyntax-only", args.deprecated_use)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return [f"{' '.join(cmd)}\nfailed:\n{r.stderr[-6000:]}"]
    source = Path(args.deprecated_use).read_text(encoding="utf-8").splitlines()
    marked = {n for n, line in enumerate(source, start=1) if "// warns:" in line}
    text = r.stderr.replace("\u2018", "'").replace("\u2019", "'")
    warned = {int(m.group(1)) for m in re.finditer(
        r"deprecated_use\.cpp:(\d+):\d+: warning: .* is deprecated.*\[-Wdeprecated-declarations\]",
        text)}
    problems = [f"deprecated_use.cpp:{n}: no deprecation warning" for n in sorted(marked - warned)]
    for reason in ("use nick", 'use "login" (id 2)', "ticks are gone"):
        if f"is deprecated: {reason}" not in text:
            problems.append(f"no warning gives the schema's reason {reason!r}")
    if problems or not marked:
        return problems + [text[-6000:]]
    return []


def main() -> int:
    p = argparse.ArgumentParser()
    for opt in ("--codegen", "--accepted", "--include", "--cxx", "--main", "--deprecated-use",
                "--pkg-config", "--link"):
        p.add_argument(opt, required=True)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        paths = generate(args, out)
        schemas = {s.stem: tomllib.loads(s.read_text(encoding="utf-8")) for s in paths}
        problems = check_main(args, out, schemas) + check_deprecated(args, out)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{len(paths)} accepted schemas: compiled without warnings, meant what they say; "
              "deprecated uses warned")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
