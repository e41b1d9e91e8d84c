"""The schema compatibility check: which changes from an older schema to a newer one would break
peers built from the older one (schemas/README.md, "Compatibility rules").

    ember-codegen --check-compat OLD.toml NEW.toml

prints one line per breaking change, naming the place in both files
(`NEW.toml:LINE: WHAT: PROBLEM (OLD.toml:LINE)`), and exits 1 when there is any; a compatible
change prints a one-line summary and exits 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Command, Enum, Message, Schema, Type

#: Integer kinds that may widen, in order of width (schema spellings).
_WIDENING = {
    "uint": ["u8", "u16", "u32", "u64"],
    "sint": ["i8", "i16", "i32", "i64"],
}


@dataclass
class Change:
    """One breaking change: where it is in the new schema (or the old one, for removals)."""

    line: int
    what: str
    problem: str
    old_line: int = 0
    in_old: bool = False  # the place is in the old schema (something removed)


def _type_problem(old: Type, new: Type) -> str | None:
    """Why a field's type change breaks older peers, or None when it does not."""
    if old.spelling == new.spelling:
        return None
    # optional<T> <-> T: presence is the only difference on the wire
    if old.kind == "optional" and old.elem is not None:
        return _type_problem(old.elem, new)
    if new.kind == "optional" and new.elem is not None:
        return _type_problem(old, new.elem)
    if old.kind == new.kind and old.kind in _WIDENING:
        order = _WIDENING[old.kind]
        if old.spelling in order and new.spelling in order:
            if order.index(new.spelling) > order.index(old.spelling):
                return None  # widened within its signedness
            return f"narrowed from {old.spelling} to {new.spelling} (older writers send values that no longer fit)"
    if old.kind == new.kind and old.kind in ("list", "map") and old.elem and new.elem:
        inner = _type_problem(old.elem, new.elem)
        return None if inner is None else f"type changed from {old.spelling} to {new.spelling}: {inner}"
    return f"type changed from {old.spelling} to {new.spelling}"


class _Checker:
    def __init__(self, old: Schema, new: Schema):
        self.old, self.new = old, new
        self.changes: list[Change] = []

    def add(self, line: int, what: str, problem: str, old_line: int = 0, in_old: bool = False):
        self.changes.append(Change(line, what, problem, old_line, in_old))

    # --- messages

    def message(self, what: str, old: Message, new: Message) -> None:
        new_by_tag = {f.tag: f for f in new.fields}
        new_by_name = {f.name: f for f in new.fields}
        for f in old.fields:
            label = f"field '{old.name}.{f.name}'" if old.name == new.name else f"field '{new.name}.{f.name}'"
            g = new_by_tag.get(f.tag)
            if g is None:
                moved = new_by_name.get(f.name)
                if moved is not None:
                    self.add(moved.line, label, f"tag changed from {f.tag} to {moved.tag}", f.line)
                elif f.tag not in new.reserved_tags:
                    self.add(new.line, f"{what} '{new.name}'",
                             f"field '{f.name}' (tag {f.tag}) removed without adding {f.tag} to "
                             f"reserved_tags (a later field could reuse it with another meaning)",
                             f.line)
                elif f.name not in new.reserved_names:
                    self.add(new.line, f"{what} '{new.name}'",
                             f"field '{f.name}' removed without adding '{f.name}' to reserved_names "
                             f"(JSON peers use names)", f.line)
                continue
            if g.name != f.name:
                self.add(g.line, f"field '{new.name}.{g.name}'",
                         f"tag {f.tag} was field '{f.name}': renamed (JSON peers use names) or "
                         f"reused with another meaning", f.line)
                continue
            problem = _type_problem(f.type, g.type)
            if problem:
                self.add(g.line, label, problem, f.line)

    # --- enums

    def enum(self, old: Enum, new: Enum) -> None:
        what = f"enum '{new.name}'"
        new_by_name = {v.name: v for v in new.values}
        new_by_value = {v.value: v for v in new.values}
        for v in old.values:
            w = new_by_name.get(v.name)
            if w is None:
                other = new_by_value.get(v.value)
                if other is not None:
                    self.add(other.line, what, f"value {v.value} was '{v.name}', is now '{other.name}' "
                             f"(JSON peers send names)", v.line)
                else:
                    self.add(new.line, what, f"value '{v.name}' ({v.value}) removed (older peers may "
                             f"still send it)", v.line)
            elif w.value != v.value:
                self.add(w.line, what, f"value '{v.name}' renumbered from {v.value} to {w.value}", v.line)

    # --- commands, calls, pushes, errors

    def matched(self, olds: list, news: list, key: str, label: str, reserved: set[int],
                reserve_words: str, reuse_words: str) -> list[tuple]:
        """Compares items by name, then by number (`key`: "id" or "code"): an old item whose
        name is gone is either reused (its number taken by another: reported with
        `reuse_words`) or must be retired in `reserved` (reported with `reserve_words`).
        Returns the (old, new) pairs that kept their name, for the caller's own checks."""
        by_name = {x.name: x for x in news}
        by_number = {getattr(x, key): x for x in news}
        kept = []
        for old in olds:
            new = by_name.get(old.name)
            if new is not None:
                kept.append((old, new))
                continue
            number = getattr(old, key)
            reuse = by_number.get(number)
            if reuse is not None:
                self.add(reuse.line, f"{label(reuse)} '{reuse.name}'",
                         f"{key} {number} was {label(old)} '{old.name}' ({reuse_words})", old.line)
            elif number not in reserved:
                self.add(0, f"{label(old)} '{old.name}'",
                         f"removed without adding {key} {number} to [reserved] {reserve_words}",
                         old.line, in_old=True)
        return kept

    def commands(self) -> None:
        for c, d in self.matched(self.old.served, self.new.served, "id", lambda x: x.kind,
                                 self.new.reserved_ids, "ids",
                                 "older clients would call the wrong thing"):
            self.command(c, d)

    def command(self, c: Command, d: Command) -> None:
        what = f"{d.kind} '{d.name}'"
        if c.id != d.id:
            self.add(d.line, what, f"id changed from {c.id} to {d.id}", c.line)
        if c.internal != d.internal:
            self.add(d.line, what, f"was a {c.kind}, is now a {d.kind} "
                     f"({'clients could no longer send it' if d.internal else 'servers lose a call'})", c.line)
        if c.server != d.server:
            self.add(d.line, what, f"moved from server '{c.server}' to '{d.server}'", c.line)
        self.message(f"{d.kind} request of", c.request, d.request)
        self.message(f"{d.kind} reply of", c.reply, d.reply)

    def pushes(self) -> None:
        for p, q in self.matched(self.old.pushes, self.new.pushes, "id", lambda x: "push",
                                 self.new.reserved_ids, "ids",
                                 "renamed on the wire or reused"):
            if q.id != p.id:
                self.add(q.line, f"push '{q.name}'", f"id changed from {p.id} to {q.id}", p.line)
            self.message("push", p.message, q.message)

    def errors(self) -> None:
        for e, f in self.matched(self.old.errors, self.new.errors, "code", lambda x: "error",
                                 self.new.reserved_codes, "error_codes",
                                 "older clients would misread it"):
            if f.code != e.code:
                self.add(f.line, f"error '{f.name}'", f"code changed from {e.code} to {f.code}", e.line)

    def structs_and_tables(self) -> None:
        new_structs = {m.name: m for m in self.new.structs}
        for m in self.old.structs:
            if m.origin == "row":
                continue  # compared with its table
            n = new_structs.get(m.name)
            if n is not None:
                self.message("struct", m, n)
        new_tables = {t.name: t for t in self.new.tables}
        for t in self.old.tables:
            u = new_tables.get(t.name)
            if u is None:
                continue  # the database keeps the table; no peer reads it through this schema
            what = f"table '{u.name}'"
            if t.key.name != u.key.name:
                self.add(u.line, what, f"key changed from '{t.key.name}' to '{u.key.name}' "
                         f"(cached rows and the database are keyed by the old one)", t.line)
            elif _type_problem(t.key.type, u.key.type):
                self.add(u.key.line, what, f"key type changed from {t.key.type.spelling} to "
                         f"{u.key.type.spelling}", t.key.line)
            self.message("table", t.row, u.row)
        new_enums = {e.name: e for e in self.new.enums}
        for e in self.old.enums:
            if e.name in new_enums:
                self.enum(e, new_enums[e.name])

    def run(self) -> list[Change]:
        self.commands()
        self.pushes()
        self.errors()
        self.structs_and_tables()
        return self.changes


def check(old: Schema, new: Schema) -> list[Change]:
    """Every change from `old` to `new` that breaks peers built from `old`."""
    return _Checker(old, new).run()


def report(old_path: str, new_path: str, changes: list[Change]) -> list[str]:
    """One line per change: the place in the new schema (the old one for what was removed), the
    item, the problem, and the place in the other version."""
    lines = []
    for c in sorted(changes, key=lambda c: (c.in_old, c.line, c.what)):
        here = f"{old_path}:{c.old_line}" if c.in_old else (f"{new_path}:{c.line}" if c.line else new_path)
        there = "" if c.in_old else (f" (was {old_path}:{c.old_line})" if c.old_line else "")
        lines.append(f"{here}: {c.what}: {c.problem}{there}")
    return lines
