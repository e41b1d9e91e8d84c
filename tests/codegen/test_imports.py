"""Tests of gameplay modules in schemas (codegen/ember_codegen/blocks.py): a module's
`[module] block`, a game's `[schema] imports`, and the refusals that name both places.

Each test writes its own module folder and passes it with --modules-dir, so the tests do not
depend on the modules ember ships; the last test checks those: every shipped module schema is
valid, its block is its own, and the blocks do not overlap.

    test_imports.py --codegen-dir DIR --modules SCHEMAS_EMBER_DIR [unittest options]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import unittest
from pathlib import Path

import support
from support import run_generator

ARGS = argparse.Namespace()

WALLET = """\
[schema]
name = "ember_wallet"

[module]
block = [60500, 60599]

[[command]]
id = 60500
name = "balance"
server = "wallet"
request = []
reply = [ { tag = 1, name = "gold", type = "i64" } ]

[[error]]
code = 60501
name = "insufficient_funds"
message = "not enough"
"""

GAME = """\
[schema]
name = "mygame"
imports = ["wallet"]

[[command]]
id = {id}
name = "login"
server = "game"
request = []
reply = []

[[error]]
code = {code}
name = "banned"
message = "banned"
"""


class Imports(unittest.TestCase):
    def generate(self, game: str, wallet: str = WALLET) -> tuple[int, str, Path, Path]:
        tmp = Path(tempfile.mkdtemp())
        (tmp / "modules").mkdir()
        (tmp / "modules" / "wallet.toml").write_text(wallet, encoding="utf-8")
        (tmp / "game.toml").write_text(game, encoding="utf-8")
        code, err = run_generator(str(tmp / "game.toml"), "--out-dir", str(tmp / "out"),
                                  "--modules-dir", str(tmp / "modules"))
        return code, err, tmp / "game.toml", tmp / "out"

    def test_an_imported_module_s_commands_join_the_game_s_command_list(self):
        code, err, _, out = self.generate(GAME.format(id=101, code=1001))
        self.assertEqual((code, err), (0, ""))
        header = (out / "mygame.hpp").read_text(encoding="utf-8")
        self.assertIn('{101, "login", "game", true, false},', header)
        self.assertIn('{60500, "balance", "wallet", true, false},', header)
        self.assertIn("std::array<ember::command_info, 2> command_list", header)

    def test_a_game_id_in_a_module_s_block_is_refused_naming_both_places(self):
        code, err, game, _ = self.generate(GAME.format(id=60550, code=1001))
        self.assertEqual(code, 1)
        self.assertEqual(err.splitlines(), [
            f"{game}:7: command 'login': id 60550 is in the block of ember's module 'wallet' "
            f"(ember/wallet.toml:5: 60500..60599); pick one outside it"])

    def test_a_game_error_code_in_a_module_s_block_is_refused_too(self):
        code, err, game, _ = self.generate(GAME.format(id=101, code=60599))
        self.assertEqual(code, 1)
        self.assertIn("error 'banned': code 60599 is in the block of ember's module 'wallet'", err)

    def test_a_block_binds_a_game_that_does_not_import_the_module(self):
        game = GAME.format(id=60500, code=1001).replace('imports = ["wallet"]\n', "")
        code, err, _, _ = self.generate(game)
        self.assertEqual(code, 1)
        self.assertIn("id 60500 is in the block of ember's module 'wallet'", err)

    def test_an_unknown_module_is_refused_with_the_list_of_modules(self):
        code, err, game, _ = self.generate(GAME.format(id=101, code=1001).replace('"wallet"', '"walet"'))
        self.assertEqual(code, 1)
        self.assertEqual(err.splitlines(), [
            f"{game}:3: schema: imports an unknown module 'walet'; ember's modules are: wallet"])

    def test_a_module_s_ids_and_codes_stay_in_its_block(self):
        wallet = WALLET.replace("code = 60501", "code = 1501")
        code, err, _, _ = self.generate(GAME.format(id=101, code=1001), wallet)
        self.assertEqual(code, 1)
        self.assertIn("imported module 'wallet' is invalid", err)
        self.assertIn("error 'insufficient_funds': code 1501 is outside the module's block 60500..60599", err)

    def test_a_block_must_lie_in_the_modules_range(self):
        code, err, _, _ = self.generate(GAME.format(id=101, code=1001),
                                        WALLET.replace("block = [60500, 60599]", "block = [100, 199]"))
        self.assertEqual(code, 1)
        self.assertIn("block must be [FIRST, LAST] within 60000..65279", err)

    def test_the_modules_ember_ships_are_valid_and_their_blocks_do_not_overlap(self):
        blocks = []
        for path in sorted(Path(ARGS.modules).glob("*.toml")):
            with tempfile.TemporaryDirectory() as out:
                code, err = run_generator(str(path), "--out-dir", out)
            self.assertEqual((code, err), (0, ""), path.name)
            text = path.read_text(encoding="utf-8")
            self.assertIn(f'name = "ember_{path.stem}"', text, path.name)
            first, last = map(int, re.search(r"block = \[(\d+), (\d+)\]", text).groups())
            blocks.append((first, last, path.name))
        blocks.sort()
        for (_, last, a), (first, _, b) in zip(blocks, blocks[1:]):
            self.assertLess(last, first, f"{a} and {b} overlap")


if __name__ == "__main__":
    sys.exit(support.main(ARGS, {"--modules": "schemas/ember/ of the source tree"}))
