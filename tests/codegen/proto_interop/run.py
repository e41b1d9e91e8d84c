"""ember's binary bodies read by protoc through `ember-codegen --lang proto` (tests/codegen/meson.build).

    run.py --codegen EMBER_CODEGEN --schema all_types.toml --interop INTEROP_EXE
           --dir tests/codegen/proto_interop --work BUILD_DIR/proto_interop --source-root ROOT
           [--update]

1. generates the .proto of every schema of the repository and has protoc compile each;
2. runs `interop write` (the C++ program of tests/codegen/ts_interop: C++ encodes the 24 cases
   of all_types.toml, every type, limits, NaN, a newer writer's fields);
3. decodes each binary body with `protoc --decode=all_types.MESSAGE all_types.proto` and compares
   the text with DIR/expected/CASE.txt (reviewed by hand; --update rewrites them; none for
   `long`, 3000 points), and encodes
   that text again with `protoc --encode`: the same bytes as C++'s (protobuf and ember write
   fields in tag order, packed lists, maps in key order for these, defaults left out).

Needs protoc (Debian: protobuf-compiler; tools/install-deps.sh installs it).
"""

from __future__ import annotations

import argparse
import functools
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
import runner  # noqa: E402  (tests/support/runner.py)

run = functools.partial(runner.run, "proto_interop", quiet=True)

# the message each case of interop.cpp is
CASES = {
    "everything_default": "everything", "scalars_max": "scalars", "scalars_min": "scalars",
    "floats_and_escapes": "scalars", "negative_zero": "scalars",
    **{f"floats_{i}": "scalars" for i in range(1, 7)},
    "lists_full": "lists", "maps_full": "maps", "optionals_zero": "optionals",
    "optionals_set": "optionals", "nan_and_infinities": "everything", "tree_deep": "tree",
    "everything_full": "everything", "echo_request": "echo_request", "event": "event",
    "stats_request": "stats_request", "stats_reply": "stats_reply", "long": "everything",
    # an older reader: protoc shows the newer writer's fields as unknown (tag: value)
    "item_newer_read_as_v1": "item_v1",
}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--codegen", required=True)
    p.add_argument("--schema", required=True)
    p.add_argument("--interop", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--source-root", required=True)
    p.add_argument("--update", action="store_true")
    args = p.parse_args()
    protoc = shutil.which("protoc")
    if protoc is None:
        print("proto_interop: protoc is needed (Debian: apt-get install protobuf-compiler; "
              "tools/install-deps.sh installs it)", flush=True)
        return 1
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    gen, data = work / "gen", work / "data"
    data.mkdir(parents=True)

    root = Path(args.source_root)
    schemas = [Path(args.schema)] + sorted(
        list(root.glob("examples/*/*.toml")) + list(root.glob("schemas/ember/*.toml")) +
        list(root.glob("schemas/internal/*.toml")) + list(root.glob("tests/codegen/accepted/*.toml")))
    for i, schema in enumerate(schemas):
        out = gen if i == 0 else work / "every" / f"{i}-{schema.stem}"
        run([args.codegen, str(schema), "--out-dir", str(out), "--lang", "proto",
             "--modules-dir", str(root / "schemas" / "ember")])
        for proto in out.glob("*.proto"):
            run([protoc, f"--proto_path={out}", f"--descriptor_set_out={out / 'set.pb'}", proto.name])
    print(f"proto_interop: protoc compiles the .proto of {len(schemas)} schemas", flush=True)

    check_names(args.codegen, protoc, work / "names")

    run([args.interop, "write", str(data)])
    listed = (data / "cases.txt").read_text().split()
    if sorted(listed) != sorted(CASES):
        print(f"proto_interop: interop.cpp's cases changed: {listed}; update CASES", flush=True)
        return 1
    expected_dir = Path(args.dir) / "expected"
    failures = 0
    for case, message in CASES.items():
        body = (data / f"{case}.bin").read_bytes()
        cmd = [protoc, f"--proto_path={gen}", f"--decode=all_types.{message}", "all_types.proto"]
        text = run(cmd, input=body).stdout
        golden = expected_dir / f"{case}.txt"
        if case == "long":
            pass  # 3000 points: no text kept; encoded again below like the others
        elif args.update:
            expected_dir.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(text)
        elif not golden.exists() or golden.read_bytes() != text:
            print(f"FAIL {case}: protoc decodes C++'s body to\n{text.decode(errors='replace')[:2000]}\n"
                  f"which differs from {golden}", flush=True)
            failures += 1
            continue
        if case == "item_newer_read_as_v1":
            continue  # unknown fields have no text protoc can encode
        again = run([protoc, f"--proto_path={gen}", f"--encode=all_types.{message}",
                     "all_types.proto"], input=text).stdout
        if again != body:
            print(f"FAIL {case}: protoc encodes the text to other bytes than C++'s\n"
                  f"   C++:    {body[:200].hex(' ')}\n   protoc: {again[:200].hex(' ')}", flush=True)
            failures += 1
    print(f"proto_interop: {len(CASES) - failures}/{len(CASES)} C++ bodies decoded by protoc to "
          f"the expected text, and encoded again by protoc to the same bytes", flush=True)
    return 1 if failures else 0


def check_names(codegen: str, protoc: str, tmp: Path) -> None:
    """Enum value names two enums share get their enum's name (protobuf scopes them like C++);
    a tag in protobuf's reserved range is refused with file and line."""
    tmp.mkdir(parents=True)
    schema = tmp / "e.toml"
    text = ('[schema]\nname = "e"\n\n[[enum]]\nname = "a"\nvalues = { none = 0, x = 1 }\n\n'
            '[[enum]]\nname = "b"\nvalues = { none = 0, y = -1 }\n\n[[enum]]\nname = "c"\n'
            'values = { zero = 0 }\n\n[[struct]]\nname = "s"\nfields = [ { tag = 1, name = "p", '
            'type = "a" }, { tag = TAG, name = "q", type = "b" }, { tag = 4, name = "r", type = "c" } ]\n')
    schema.write_text(text.replace("TAG", "19500"))
    r = subprocess.run([codegen, str(schema), "--out-dir", str(tmp / "bad"), "--lang", "proto"],
                       capture_output=True, text=True)
    want = [f"{schema}:18: field 'q' of 's': tag 19500 is in protobuf's reserved range "
            "19000..19999; --lang proto cannot describe it"]
    if r.returncode != 1 or r.stderr.splitlines() != want:
        print(f"proto_interop: a reserved tag: status {r.returncode}, {r.stderr!r}, expected {want}",
              flush=True)
        sys.exit(1)
    schema.write_text(text.replace("TAG", "3"))
    run([codegen, str(schema), "--out-dir", str(tmp / "ok"), "--lang", "proto"])
    proto = (tmp / "ok" / "e.proto").read_text()
    for line in ("  a_none = 0;", "  a_x = 1;", "  b_none = 0;", "  b_y = -1;", "  zero = 0;"):
        if line not in proto.splitlines():
            print(f"proto_interop: {line.strip()!r} is not in\n{proto}", flush=True)
            sys.exit(1)
    run([protoc, f"--proto_path={tmp / 'ok'}", "--descriptor_set_out=/dev/null", "e.proto"])
    print("proto_interop: shared enum value names prefixed, a reserved tag refused", flush=True)


if __name__ == "__main__":
    sys.exit(main())
