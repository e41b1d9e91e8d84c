"""ember's gameplay modules in a schema: a module's own `[module]` block of ids, and the
modules a game imports (`[schema] imports = ["wallet"]`).

A module schema (schemas/ember/NAME.toml, installed with ember) declares
`[module] block = [FIRST, LAST]`: its command, call and push ids and its error codes all lie in
that block, and the blocks of all modules lie in MODULE_RANGE. A game's ids and error codes
stay out of every module's block, imported or not, so importing one later never renumbers the
game; a clash names both places.
"""

from __future__ import annotations

import re
from pathlib import Path

from .rules import MODULE_RANGE
from .source import key_pattern

#: Where module schemas are: schemas/ember/ beside the codegen folder, in the source tree
#: (codegen/ember_codegen/) as installed (share/ember/codegen/ember_codegen/).
MODULE_DIR = Path(__file__).resolve().parents[2] / "schemas" / "ember"
#: The folder in use: MODULE_DIR unless `ember-codegen --modules-dir` says otherwise.
modules_dir = MODULE_DIR

_BLOCK = re.compile(r"^\s*block\s*=\s*\[\s*(\d+)\s*,\s*(\d+)\s*\]", re.M)


def module_schema(name: str) -> Path:
    return modules_dir / f"{name}.toml"


def module_blocks() -> dict[str, tuple[int, int, str]]:
    """Every module's block: name -> (first, last, "ember/FILE:LINE"), read without parsing
    the whole schema (a game's generation must not fail on a module it does not import)."""
    out = {}
    for path in sorted(modules_dir.glob("*.toml")) if modules_dir.is_dir() else []:
        text = path.read_text(encoding="utf-8")
        m = _BLOCK.search(text)
        if m:
            line = text.count("\n", 0, m.start()) + 1
            out[path.stem] = (int(m.group(1)), int(m.group(2)), f"ember/{path.name}:{line}")
    return out


class Blocks:
    """The passes of [module] and `imports` (mixed into the front end's builder)."""

    module_block: tuple[int, int] | None = None
    imports: list[tuple[str, int]] = []  # (module name, line)

    def module_table(self) -> None:
        t = self.data.get("module")
        if t is None:
            return
        sec = self.src.section("module")
        line = sec[0] if sec else 0
        what = "module"
        if not isinstance(t, dict):
            self.error(line, what, "'module' must be a table")
            return
        self.check_keys(t, ("block",), ("block",), what, line)
        if not self.check_type(t, "block", "int_list", what, line):
            return
        block = t.get("block", [])
        lo, hi = MODULE_RANGE
        if len(block) != 2 or not lo <= block[0] <= block[1] <= hi:
            self.error(line, what, f"block must be [FIRST, LAST] within {lo}..{hi}")
            return
        self.module_block = (block[0], block[1])

    def imports_key(self, schema: dict) -> None:
        """`[schema] imports`: module names, each a file of MODULE_DIR."""
        raw = schema.get("imports")
        if raw is None:
            return
        line = self.src.locate("schema", None, key_pattern("imports")) or 0
        if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
            self.error(line, "schema", "'imports' must be an array of module names")
            return
        known = module_blocks()
        self.imports = []
        for name in raw:
            if name not in known:
                have = ", ".join(sorted(known)) or "none"
                self.error(line, "schema", f"imports an unknown module '{name}'; ember's "
                                           f"modules are: {have}")
            elif name in [n for n, _ in self.imports]:
                self.error(line, "schema", f"imports module '{name}' twice")
            else:
                self.imports.append((name, line))

    def check_blocks(self, numbered: list[tuple[int, int, str, str]]) -> None:
        """`numbered`: (line, number, item, "id" or "code") of every id and error code."""
        if self.module_block:
            first, last = self.module_block
            for line, n, what, kind in numbered:
                if not first <= n <= last:
                    self.error(line, what, f"{kind} {n} is outside the module's block "
                                           f"{first}..{last}")
            return
        blocks = module_blocks()
        for line, n, what, kind in numbered:
            for name, (first, last, where) in blocks.items():
                if first <= n <= last:
                    self.error(line, what, f"{kind} {n} is in the block of ember's module "
                                           f"'{name}' ({where}: {first}..{last}); pick "
                                           f"one outside it")
