"""Builds a test program against a schema's generated C# client, for run.py and retry.py:
`ember-codegen --lang cs` into WORK/gen, then Mono's mcs as C# 7.2 with warnings as errors."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Optional


def build(name: str, run: Callable, codegen: str, schema: str, test: str, work: Path,
          exe_name: str) -> Optional[tuple[str, Path]]:
    """Returns (mono, the program), or None after saying what is missing."""
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    if mcs is None or mono is None:
        print(f"{name}: Mono's mcs and mono are needed (Debian: apt-get install mono-devel; "
              "tools/install-deps.sh installs it)", flush=True)
        return None
    shutil.rmtree(work, ignore_errors=True)
    gen = work / "gen"
    gen.mkdir(parents=True)
    run([codegen, schema, "--out-dir", str(gen), "--lang", "cs"])
    exe = work / exe_name
    run([mcs, "-langversion:7.2", "-warnaserror+", "-nologo", "-r:System.Numerics",
         "-r:System.Net.Http", f"-out:{exe}", *sorted(str(f) for f in gen.glob("*.cs")), test])
    return mono, exe
