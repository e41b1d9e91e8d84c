"""Tests of ember-codegen's schema validation: every error message, exactly.

Each schemas/test/bad_*.toml states what it tests and, on `# expect:` lines, the messages the
generator must print (`{file}` stands for the path it was given). One test per file is
generated below; a few more check the command line around them.

    test_errors.py --codegen-dir DIR --schemas DIR --launcher PATH [unittest options]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import support
from support import run_generator

ARGS = argparse.Namespace()


def expected_messages(path: Path) -> list[str]:
    return [line[len("# expect: "):].replace("{file}", str(path))
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith("# expect: ")]


class BadSchemas(unittest.TestCase):
    """One test per bad schema; added by `add_bad_schema_tests`."""

    def check(self, path: Path) -> None:
        expected = expected_messages(path)
        self.assertTrue(expected, f"{path} has no '# expect:' line")
        with tempfile.TemporaryDirectory() as out:
            code, err = run_generator(str(path), "--out-dir", out)
            self.assertEqual(code, 1)
            self.assertEqual(err.splitlines(), expected)
            self.assertEqual(list(Path(out).iterdir()), [], "nothing may be written")


def add_bad_schema_tests() -> None:
    for path in sorted(Path(ARGS.schemas).glob("bad_*.toml")):
        name = "test_" + path.stem

        def test(self, path=path):
            self.check(path)

        test.__doc__ = path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
        setattr(BadSchemas, name, test)


class CommandLine(unittest.TestCase):
    def test_valid_schemas_generate_four_files_and_print_nothing(self):
        for schema, name in ((Path(ARGS.schemas) / "all_types.toml", "all_types"),
                             (Path(ARGS.schemas).parent.parent / "examples/chat/chat.toml", "chat")):
            with tempfile.TemporaryDirectory() as out:
                code, err = run_generator(str(schema), "--out-dir", out)
                self.assertEqual((code, err), (0, ""))
                self.assertEqual(sorted(p.name for p in Path(out).iterdir()),
                                 sorted([f"{name}.hpp", f"{name}.cpp", f"{name}_server.hpp",
                                         f"{name}_client.hpp"]))

    def test_the_launcher_exits_1_with_the_messages_on_stderr(self):
        bad = Path(ARGS.schemas) / "bad_duplicate_command_id.toml"
        with tempfile.TemporaryDirectory() as out:
            r = subprocess.run([ARGS.launcher, str(bad), "--out-dir", out],
                               capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr.splitlines(), expected_messages(bad))

    def test_a_missing_schema_file_is_reported(self):
        with tempfile.TemporaryDirectory() as out:
            code, err = run_generator(str(Path(out) / "nope.toml"), "--out-dir", out)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"nope\.toml: cannot read the schema: ")

    def test_the_depfile_names_the_schema_every_template_and_every_module(self):
        schema = Path(ARGS.schemas) / "all_types.toml"
        with tempfile.TemporaryDirectory() as out:
            dep = Path(out) / "all_types.d"
            code, _ = run_generator(str(schema), "--out-dir", out, "--depfile", str(dep))
            self.assertEqual(code, 0)
            targets, deps = dep.read_text().split(": ", 1)
        self.assertEqual(targets.split()[0], str(Path(out) / "all_types.hpp"))
        self.assertEqual(len(targets.split()), 4)
        deps = deps.split()
        self.assertIn(str(schema.resolve()), deps)
        codegen = Path(ARGS.codegen_dir)
        for p in list((codegen / "templates").glob("*.j2")) + \
                list((codegen / "ember_codegen").glob("*.py")):
            self.assertIn(str(p.resolve()), deps)

    def test_the_generator_version_matches_version_hpp(self):
        import ember_codegen

        header = (Path(ARGS.codegen_dir).parent / "include/ember/version.hpp").read_text()
        version = re.search(r'#define EMBER_VERSION_STRING "([^"]+)"', header).group(1)
        abi = int(re.search(r"#define EMBER_CODEGEN_ABI (\d+)", header).group(1))
        self.assertEqual(ember_codegen.__version__, version)
        self.assertEqual(ember_codegen.CODEGEN_ABI, abi)


class SchemaHash(unittest.TestCase):
    BASE = """
[schema]
name = "h"
[[struct]]
name = "p"
doc = "{doc}"
fields = [ {{ tag = 1, name = "x", type = "i32" }}, {{ tag = {tag}, name = "y", type = "i32" }} ]
"""

    def hash_of(self, text: str) -> int:
        from ember_codegen import frontend

        return frontend.parse(text, "h.toml").hash

    def test_deprecating_a_field_does_not_change_the_hash(self):
        base = self.BASE.format(doc="one", tag=2)
        deprecated = base.replace('name = "y", type = "i32" }', 'name = "y", type = "i32", deprecated = true }')
        self.assertNotEqual(base, deprecated)
        self.assertEqual(self.hash_of(base), self.hash_of(deprecated))

    def test_docs_do_not_change_the_hash_but_tags_do(self):
        base = self.hash_of(self.BASE.format(doc="one", tag=2))
        self.assertEqual(base, self.hash_of(self.BASE.format(doc="two", tag=2)))
        self.assertNotEqual(base, self.hash_of(self.BASE.format(doc="one", tag=3)))


if __name__ == "__main__":
    sys.exit(support.main(ARGS, {"--schemas": "schemas/test/ of the source tree",
                                 "--launcher": "the built ember-codegen"}, add_bad_schema_tests))
