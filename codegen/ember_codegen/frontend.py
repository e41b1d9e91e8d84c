"""Front end of ember-codegen: reads a schema file, validates it and builds the model.

The passes are split by purpose: checks.py (reporting, keys, value types, names), items.py
(the tables that need no resolved types), tables.py ([[table]]s), crossref.py (checks across
items, type resolution); names.py, types.py and rules.py hold what they check against, and
source.py finds lines. Every problem becomes one message `FILE:LINE: WHAT 'NAME': PROBLEM` (schemas/README.md lists
them); all problems of a schema are reported together, sorted by line.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .checks import SchemaError
from .blocks import Blocks, module_schema
from .crossref import CrossChecks
from .items import MsgDraft
from .model import Command, Enum, ErrorCode, Message, Push, Schema
from .reading import read_toml
from .rules import TOP_KEYS

__all__ = ["SchemaError", "load", "parse", "schema_hash"]


def load(path: str) -> Schema:
    """Reads, validates and models the schema at `path` (as given: messages repeat it)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SchemaError([f"{path}: cannot read the schema: {e}"]) from None
    return parse(text, path)


def parse(text: str, path: str) -> Schema:
    """Validates and models the schema `text`; `path` names it in messages."""
    return _Builder(path, text, read_toml(text, path)).build()


class _Builder(CrossChecks, Blocks):
    """Runs the passes of items.py, tables.py and crossref.py over a parsed schema."""

    def __init__(self, path: str, text: str, data: dict):
        super().__init__(path, text, data)
        self.reserved_ids: set[int] = set()
        self.reserved_names: set[str] = set()
        self.reserved_codes: set[int] = set()
        self.enums: list[Enum] = []
        self.structs: list[MsgDraft] = []
        self.commands: list[tuple[Command, MsgDraft, MsgDraft]] = []
        self.calls: list[tuple[Command, MsgDraft, MsgDraft]] = []
        self.pushes: list[tuple[Push, MsgDraft]] = []
        self.errors_defs: list[ErrorCode] = []
        self.tables: list[tuple[dict, MsgDraft, int]] = []  # (raw table, row draft, index)

    # --- the passes

    def build(self) -> Schema:
        d = self.data
        for k in d:
            if k not in TOP_KEYS:
                line = self.src.find(r"^\s*\[*\s*" + re.escape(k) + r"\b") or 0
                self.error(line, "schema", f"unknown top-level key '{k}'")
        name, doc = self.schema_table()
        self.reserved_table()
        self.module_table()
        self.enum_tables()
        self.struct_tables()
        self.table_tables()
        self.commands = self.served_tables("command")
        self.calls = self.served_tables("call")
        self.push_tables()
        self.error_tables()

        # Items with problems were left out above, so the checks below see only sound ones
        # and every problem of the schema is reported in one run.
        enums = {e.name: e for e in self.enums}
        struct_names = {s.name for s in self.structs} | {d.name for _, d, _ in self.tables}
        messages: dict[str, Message] = {}
        for draft in self.all_drafts():
            messages[draft.name] = self.resolve(draft, enums, struct_names)
        tables = [self.table_model(raw, messages[d.name], i) for raw, d, i in self.tables]
        self.check_sql_names(tables)
        self.check_names()
        self.check_ids()
        self.check_blocks(self.numbered())
        imported = self.load_imports()
        self.fail_if_errors()
        rows = [messages[d.name] for _, d, _ in self.tables]
        structs = rows + self.order_structs([messages[s.name] for s in self.structs])
        error_reply = self.firefly_table(messages)
        self.fail_if_errors()

        commands, calls = [], []
        for served, out in ((self.commands, commands), (self.calls, calls)):
            for cmd, req, rep in served:
                cmd.request, cmd.reply = messages[req.name], messages[rep.name]
                out.append(cmd)
        pushes = []
        for push, msg in self.pushes:
            push.message = messages[msg.name]
            pushes.append(push)
        schema = Schema(name=name, source=Path(self.path).name, doc=doc, enums=self.enums,
                        structs=structs, commands=commands, calls=calls, pushes=pushes,
                        errors=self.errors_defs, error_reply=error_reply, hash=0,
                        tables=[t for t in tables if t is not None],
                        reserved_ids=set(self.reserved_ids), reserved_names=set(self.reserved_names),
                        reserved_codes=set(self.reserved_codes),
                        module_block=self.module_block, imports=imported)
        schema.hash = schema_hash(schema)
        return schema

    def numbered(self) -> list[tuple[int, int, str, str]]:
        """(line, number, item, kind) of every id and error code, for the module blocks."""
        out = [(c.line, c.id, f"{c.kind} '{c.name}'", "id") for c, _, _ in self.commands + self.calls]
        out += [(p.line, p.id, f"push '{p.name}'", "id") for p, _ in self.pushes]
        out += [(e.line, e.code, f"error '{e.name}'", "code") for e in self.errors_defs]
        return out

    def load_imports(self) -> list[Schema]:
        """The imported module schemas, parsed (a problem in one is reported as it is)."""
        out = []
        for name, line in self.imports:
            try:
                out.append(load(str(module_schema(name))))
            except SchemaError as e:
                self.error(line, "schema", f"imported module '{name}' is invalid:\n" + "\n".join(e.messages))
        return out

    def all_drafts(self) -> list[MsgDraft]:
        out = [d for _, d, _ in self.tables] + list(self.structs)
        for _, req, rep in self.commands + self.calls:
            out += [req, rep]
        out += [m for _, m in self.pushes]
        return out



def schema_hash(s: Schema) -> int:
    """A stable 64-bit hash of what the wire and the generated interfaces depend on: names,
    ids, tags, types, enum values, servers, error codes, which ids are calls. Docs, messages
    of errors and field order do not count."""

    def msg(m: Message) -> list:
        return [m.name, [[f.tag, f.name, f.type.spelling] for f in m.fields_by_tag]]

    norm = {
        "schema": s.name,
        "enums": sorted([e.name, sorted([v.name, v.value] for v in e.values)] for e in s.enums),
        "structs": sorted(msg(m) for m in s.structs),
        "commands": sorted([c.id, c.name, c.server, c.ordered, msg(c.request), msg(c.reply)]
                           for c in s.commands),
        "pushes": sorted([p.id, msg(p.message)] for p in s.pushes),
        # only when there are calls: schemas without them keep the hash they had before
        **({"calls": sorted([c.id, c.name, c.server, msg(c.request), msg(c.reply)]
                            for c in s.calls)} if s.calls else {}),
        # only when there are tables, for the same reason
        **({"tables": sorted([t.name, t.key.name, t.generated_key, msg(t.row),
                              sorted([lk.name, lk.column.name] for lk in t.lookups)]
                             for t in s.tables)} if s.tables else {}),
        "errors": sorted([e.code, e.name] for e in s.errors),
        "error_reply": s.error_reply.name if s.error_reply else None,
        # only with imports: an imported module's wire is part of what the game's servers speak
        **({"imports": sorted([m.name, m.hash] for m in s.imports)} if s.imports else {}),
    }
    digest = hashlib.sha256(json.dumps(norm, sort_keys=True, separators=(",", ":"))
                            .encode()).digest()
    return int.from_bytes(digest[:8], "big")
