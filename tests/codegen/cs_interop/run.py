"""The cross-language golden test of the C# codecs (tests/codegen/meson.build).

    run.py --codegen EMBER_CODEGEN --schema all_types.toml --interop INTEROP_EXE
           --dir tests/codegen/cs_interop --bad-bodies tests/codegen/ts_interop/bad_bodies.txt
           --work BUILD_DIR/cs_interop --source-root ROOT

1. checks `--lang cs` on the command line (the files it writes, names C# cannot declare);
2. generates all_types.cs (and the runtime Ember.cs, EmberClient.cs) with `ember-codegen
   --lang cs`, and the C# of every other schema of the repository, and compiles each with
   Mono's mcs as C# 7.2 with warnings as errors (what Unity's compiler takes);
3. runs `interop write` (the C++ program of tests/codegen/ts_interop: C++ encodes every case,
   binary and JSON), `mono interop.exe` (C# encodes the same messages to the same bytes,
   decodes C++'s and re-encodes them, writes its own and 1000 random ones) and `interop check`
   with EMBER_INTEROP_PEER=cs (C++ decodes C#'s and compares field by field); both sides
   decode every body of bad_bodies.txt and must report the same error, or the same message;
4. differential fuzzing: C# damages the C++ bodies at random (EMBER_CS_SEED) and decodes them,
   C++ decodes the same bodies: the same verdict for each, the same message for those that
   still decode, and nothing but a CodecException thrown in C#.

Mono must be installed (Debian: mono-devel; tools/install-deps.sh installs it); without it the
test says so and fails.
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

run = functools.partial(runner.run, "cs_interop")

MCS_FLAGS = ["-langversion:7.2", "-warnaserror+", "-warn:4", "-nologo", "-r:System.Numerics"]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--codegen", required=True)
    p.add_argument("--schema", required=True)
    p.add_argument("--interop", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--bad-bodies", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--source-root", required=True)
    args = p.parse_args()

    work = Path(args.work)
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    if mcs is None or mono is None:
        print("cs_interop: Mono's mcs and mono are needed (Debian: apt-get install mono-devel; "
              "tools/install-deps.sh installs it)", flush=True)
        return 1
    check_cli(args.codegen, args.schema, work / "cli")

    gen, data = work / "gen", work / "data"
    for d in (gen, data):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    run([args.codegen, args.schema, "--out-dir", str(gen), "--lang", "cs"])
    exe = work / "interop.exe"
    run([mcs, *MCS_FLAGS, f"-out:{exe}", *sorted(str(f) for f in gen.glob("*.cs")),
         str(Path(args.dir) / "interop.cs")])

    # every schema of the repository (examples, gameplay modules, the cluster's, the tricky ones
    # of tests/codegen/accepted, names that are C# keywords) generates C# that compiles without
    # a warning
    root = Path(args.source_root)
    others = sorted(list(root.glob("examples/*/*.toml")) + list(root.glob("schemas/ember/*.toml")) +
                    list(root.glob("schemas/internal/*.toml")) +
                    list(root.glob("tests/codegen/accepted/*.toml"))) + \
        [Path(args.dir) / "csharp_keywords.toml"]
    every = work / "every"
    shutil.rmtree(every, ignore_errors=True)
    for i, schema in enumerate(others):
        out = every / f"{i}-{schema.stem}"
        run([args.codegen, str(schema), "--out-dir", str(out), "--lang", "cs",
             "--modules-dir", str(root / "schemas" / "ember")])
        run([mcs, *MCS_FLAGS, "-target:library", f"-out:{out / 'schema.dll'}",
             *sorted(str(f) for f in out.glob("*.cs"))])
    print(f"cs_interop: the C# of {len(others) + 1} schemas compiles with mcs -langversion:7.2 "
          f"-warnaserror+", flush=True)

    env = dict(os.environ, EMBER_INTEROP_PEER="cs")
    run([args.interop, "write", str(data), args.bad_bodies])
    run([mono, "--debug", str(exe), str(data), args.bad_bodies])
    run([args.interop, "check", str(data), args.bad_bodies], env=env)
    print("cs_interop: C++ and C# agree", flush=True)

    # differential fuzzing: C# damages C++'s bodies at random and decodes them; C++ must reach
    # the same verdict on each, and make the same message of those that still decode
    run([mono, "--debug", str(exe), "mutants", str(data)])
    mutants = work / "mutants"
    shutil.rmtree(mutants, ignore_errors=True)
    mutants.mkdir()
    run([args.interop, "write", str(mutants), str(data / "mutants.txt")])
    # split on \n only: the JSON of a string may hold U+2028, which splitlines() splits on
    cpp_again = (mutants / "accepted.txt").read_bytes().split(b"\n")
    cs_again = (data / "mutants.cs.txt").read_bytes().split(b"\n")
    differ = [i for i, (a, b) in enumerate(zip(cpp_again, cs_again)) if a != b]
    if len(cpp_again) != len(cs_again) or differ:
        i = differ[0] if differ else min(len(cpp_again), len(cs_again))
        print(f"cs_interop: a damaged body that decodes becomes another message in C++ and C# "
              f"(the {i + 1}th of {len(cs_again)}):\n   C++: {cpp_again[i] if i < len(cpp_again) else '-'}"
              f"\n   C#:  {cs_again[i] if i < len(cs_again) else '-'}", flush=True)
        return 1
    run([args.interop, "check", str(data), str(data / "mutants.txt")], env=env)
    print(f"cs_interop: C++ and C# agree on every damaged body (verdicts; the {len(cs_again) - 1} "
          f"that decode, the same messages)", flush=True)
    return 0


def check_cli(codegen: str, schema: str, tmp: Path) -> None:
    """--lang cs writes NAME.cs and the runtime; names C# cannot declare are refused with one
    line each (file:line: what and why)."""
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    out = tmp / "cs"
    run([codegen, schema, "--out-dir", str(out), "--lang", "cs"])
    files = sorted(p.name for p in out.iterdir())
    if files != ["Ember.cs", "EmberClient.cs", "all_types.cs"]:
        print(f"cs_interop: --lang cs wrote {files}", flush=True)
        sys.exit(1)
    bad = tmp / "names.toml"
    bad.write_text('[schema]\nname = "names"\n\n'
                   '[[struct]]\nname = "Client"\nfields = []\n\n'
                   '[[struct]]\nname = "fine"\nfields = [ { tag = 1, name = "x", type = "u8" },\n'
                   '  { tag = 2, name = "ToString", type = "u8" } ]\n')
    r = subprocess.run([codegen, str(bad), "--out-dir", str(tmp / "names"), "--lang", "cs"],
                       capture_output=True, text=True)
    want = [f"{bad}:5: struct 'Client': 'Client' is a name the generated C# declares or uses; "
            "rename it for --lang cs",
            f"{bad}:11: field 'ToString' of 'fine': C# cannot name a member like its class or "
            "like object's members; rename it for --lang cs"]
    if r.returncode != 1 or r.stderr.splitlines() != want:
        print(f"cs_interop: names C# cannot declare: status {r.returncode}, {r.stderr!r}, "
              f"expected {want}", flush=True)
        sys.exit(1)
    print("cs_interop: --lang cs writes NAME.cs, Ember.cs, EmberClient.cs; names C# cannot "
          "declare are refused", flush=True)


if __name__ == "__main__":
    sys.exit(main())
