"""Tests of `ember-codegen --check-compat OLD NEW`: every class of breaking change is reported with
its place in both versions, and every compatible change passes.

    test_compat.py --codegen-dir DIR --launcher PATH [unittest options]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import support

ARGS = argparse.Namespace()

# The old schema; each test edits one thing in a copy. Line numbers below refer to this text
# (an item's line is the line of its name).
OLD = """\
[schema]
name = "game"

[reserved]
ids = [190]

[[enum]]
name = "color"
values = { red = 0, green = 1, blue = 2 }

[[struct]]
name = "item"
fields = [
  { tag = 1, name = "id", type = "u32" },
  { tag = 2, name = "name", type = "string" },
  { tag = 3, name = "count", type = "i32" },
  { tag = 4, name = "color", type = "color" },
]

[[command]]
id = 101
name = "login"
server = "game"
request = [ { tag = 1, name = "user", type = "string" } ]
reply = [ { tag = 1, name = "user_id", type = "u64" } ]

[[command]]
id = 102
name = "buy"
server = "game"
request = [ { tag = 1, name = "item", type = "u32" }, { tag = 2, name = "count", type = "u16" } ]
reply = [ { tag = 1, name = "bag", type = "list<item>" } ]

[[call]]
id = 150
name = "grant"
server = "game"
request = [ { tag = 1, name = "user", type = "u64" } ]
reply = []

[[push]]
id = 201
name = "tick"
fields = [ { tag = 1, name = "round", type = "u32" } ]

[[error]]
code = 1001
name = "banned"
message = "banned"

[[table]]
name = "player"
key = "id"
columns = [ { tag = 1, name = "id", type = "i64" }, { tag = 2, name = "gold", type = "i64" } ]
"""


def run_check(old: str, new: str) -> tuple[int, list[str], str, str]:
    """Runs the check in this process on two texts: (exit code, stderr lines, old path, new path)."""
    from ember_codegen.cli import main

    with tempfile.TemporaryDirectory() as d:
        old_path, new_path = str(Path(d) / "old.toml"), str(Path(d) / "new.toml")
        Path(old_path).write_text(old, encoding="utf-8")
        Path(new_path).write_text(new, encoding="utf-8")
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(["--check-compat", old_path, new_path])
    lines = [line for line in err.getvalue().splitlines() if not line.startswith("ember-codegen:")]
    return code, lines, old_path, new_path


def edit(old: str, new: str, count: int = 1) -> str:
    assert old in OLD, old
    return OLD.replace(old, new, count)


class Breaking(unittest.TestCase):
    def breaks(self, text: str, *expected: str) -> None:
        code, lines, old_path, new_path = run_check(OLD, text)
        self.assertEqual(code, 1, "a breaking change must fail the check")
        got = [line.replace(old_path, "OLD").replace(new_path, "NEW") for line in lines]
        self.assertEqual(got, list(expected))

    def test_a_field_type_changed_names_both_lines(self):
        self.breaks(edit('name = "count", type = "i32"', 'name = "count", type = "u32"'),
                    "NEW:16: field 'item.count': type changed from i32 to u32 (was OLD:16)")

    def test_a_narrowed_integer_breaks(self):
        self.breaks(edit('{ tag = 1, name = "id", type = "u32" }', '{ tag = 1, name = "id", type = "u16" }'),
                    "NEW:14: field 'item.id': narrowed from u32 to u16 (older writers send values "
                    "that no longer fit) (was OLD:14)")

    def test_a_field_tag_changed(self):
        self.breaks(edit('{ tag = 2, name = "name", type = "string" }', '{ tag = 5, name = "name", type = "string" }'),
                    "NEW:15: field 'item.name': tag changed from 2 to 5 (was OLD:15)")

    def test_a_tag_reused_by_another_field(self):
        self.breaks(edit('{ tag = 4, name = "color", type = "color" }', '{ tag = 4, name = "hue", type = "color" }'),
                    "NEW:17: field 'item.hue': tag 4 was field 'color': renamed (JSON peers use "
                    "names) or reused with another meaning (was OLD:17)")

    def test_a_field_removed_without_reserving_its_tag(self):
        self.breaks(edit('  { tag = 3, name = "count", type = "i32" },\n', ''),
                    "NEW:12: struct 'item': field 'count' (tag 3) removed without adding 3 to "
                    "reserved_tags (a later field could reuse it with another meaning) (was OLD:16)")

    def test_a_command_id_changed(self):
        self.breaks(edit('id = 102', 'id = 112'),
                    "NEW:29: command 'buy': id changed from 102 to 112 (was OLD:29)")

    def test_a_command_removed_without_reserving_its_id(self):
        text = edit('''[[command]]
id = 102
name = "buy"
server = "game"
request = [ { tag = 1, name = "item", type = "u32" }, { tag = 2, name = "count", type = "u16" } ]
reply = [ { tag = 1, name = "bag", type = "list<item>" } ]
''', '')
        self.breaks(text, "OLD:29: command 'buy': removed without adding id 102 to [reserved] ids")

    def test_a_command_id_reused_by_another_command(self):
        self.breaks(edit('name = "buy"', 'name = "purchase"'),
                    "NEW:29: command 'purchase': id 102 was command 'buy' (older clients would call "
                    "the wrong thing) (was OLD:29)")

    def test_a_command_moved_to_another_server_or_made_a_call(self):
        self.breaks(edit('id = 101\nname = "login"\nserver = "game"', 'id = 101\nname = "login"\nserver = "gate"'),
                    "NEW:22: command 'login': moved from server 'game' to 'gate' (was OLD:22)")

    def test_a_request_field_type_changed(self):
        self.breaks(edit('{ tag = 1, name = "item", type = "u32" }', '{ tag = 1, name = "item", type = "string" }'),
                    "NEW:31: field 'buy_request.item': type changed from u32 to string (was OLD:31)")

    def test_an_enum_value_renumbered_and_its_number_reused(self):
        self.breaks(edit('values = { red = 0, green = 1, blue = 2 }', 'values = { red = 0, green = 2 }'),
                    "NEW:9: enum 'color': value 'green' renumbered from 1 to 2 (was OLD:9)",
                    "NEW:9: enum 'color': value 2 was 'blue', is now 'green' (JSON peers send names) (was OLD:9)")

    def test_an_enum_value_removed(self):
        self.breaks(edit('values = { red = 0, green = 1, blue = 2 }', 'values = { red = 0, green = 1 }'),
                    "NEW:8: enum 'color': value 'blue' (2) removed (older peers may still send it) (was OLD:9)")

    def test_a_push_renamed_on_the_wire(self):
        self.breaks(edit('name = "tick"', 'name = "tock"'),
                    "NEW:43: push 'tock': id 201 was push 'tick' (renamed on the wire or reused) (was OLD:43)")

    def test_an_error_code_changed(self):
        self.breaks(edit('code = 1001', 'code = 1002'),
                    "NEW:48: error 'banned': code changed from 1001 to 1002 (was OLD:48)")

    def test_a_table_column_changed_incompatibly(self):
        self.breaks(edit('{ tag = 2, name = "gold", type = "i64" }', '{ tag = 2, name = "gold", type = "string" }'),
                    "NEW:54: field 'player.gold': type changed from i64 to string (was OLD:54)")


class Compatible(unittest.TestCase):
    def passes(self, text: str) -> None:
        code, lines, _, _ = run_check(OLD, text)
        self.assertEqual((code, lines), (0, []))

    def test_the_same_schema_is_compatible(self):
        self.passes(OLD)

    def test_adding_a_field_a_command_a_push_and_an_enum_value_is_compatible(self):
        text = edit('{ tag = 4, name = "color", type = "color" },',
                    '{ tag = 4, name = "color", type = "color" },\n  { tag = 5, name = "rare", type = "bool" },')
        text = text.replace('values = { red = 0, green = 1, blue = 2 }', 'values = { red = 0, green = 1, blue = 2, gold = 3 }')
        text += '\n[[command]]\nid = 103\nname = "sell"\nserver = "game"\nrequest = []\nreply = []\n'
        self.passes(text)

    def test_widening_an_integer_and_making_a_field_optional_is_compatible(self):
        text = edit('{ tag = 2, name = "count", type = "u16" }', '{ tag = 2, name = "count", type = "u32" }')
        text = text.replace('{ tag = 2, name = "name", type = "string" }', '{ tag = 2, name = "name", type = "optional<string>" }')
        self.passes(text)

    def test_removing_a_field_whose_tag_and_name_are_reserved_is_compatible(self):
        text = edit('name = "item"\nfields = [', 'name = "item"\nreserved_tags = [3]\nreserved_names = ["count"]\nfields = [')
        text = text.replace('  { tag = 3, name = "count", type = "i32" },\n', '')
        self.passes(text)

    def test_deprecating_a_field_a_command_a_call_and_a_push_is_compatible(self):
        text = edit('{ tag = 3, name = "count", type = "i32" }',
                    '{ tag = 3, name = "count", type = "i32", deprecated = "use amount" }')
        text = text.replace('id = 102\nname = "buy"\n', 'id = 102\nname = "buy"\ndeprecated = true\n')
        text = text.replace('id = 150\nname = "grant"\n', 'id = 150\nname = "grant"\ndeprecated = true\n')
        text = text.replace('id = 201\nname = "tick"\n', 'id = 201\nname = "tick"\ndeprecated = "gone"\n')
        self.assertEqual(text.count("deprecated"), 4)
        self.passes(text)

    def test_removing_a_command_whose_id_is_reserved_is_compatible(self):
        text = edit('ids = [190]', 'ids = [190, 102]')
        text = text.replace('''[[command]]
id = 102
name = "buy"
server = "game"
request = [ { tag = 1, name = "item", type = "u32" }, { tag = 2, name = "count", type = "u16" } ]
reply = [ { tag = 1, name = "bag", type = "list<item>" } ]
''', '')
        self.passes(text)


class CommandLine(unittest.TestCase):
    def test_the_launcher_exits_1_and_names_the_count(self):
        with tempfile.TemporaryDirectory() as d:
            old, new = Path(d) / "old.toml", Path(d) / "new.toml"
            old.write_text(OLD)
            new.write_text(edit('id = 102', 'id = 112'))
            r = subprocess.run([ARGS.launcher, "--check-compat", str(old), str(new)],
                               capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("1 breaking change from", r.stderr)

    def test_generation_with_a_baseline_refuses_a_breaking_schema_and_writes_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            old, new, out = Path(d) / "old.toml", Path(d) / "new.toml", Path(d) / "out"
            old.write_text(OLD)
            new.write_text(edit('code = 1001', 'code = 1002'))
            r = subprocess.run([ARGS.launcher, str(new), "--out-dir", str(out),
                                "--compat-baseline", str(old)], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("error 'banned': code changed from 1001 to 1002", r.stderr)
            self.assertFalse(out.exists() and any(out.iterdir()))
            new.write_text(OLD)
            r = subprocess.run([ARGS.launcher, str(new), "--out-dir", str(out),
                                "--compat-baseline", str(old)], capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stderr), (0, ""))


if __name__ == "__main__":
    sys.exit(support.main(ARGS, {"--launcher": "the built ember-codegen"}))
