"""Front end of ember-codegen: reads a schema file, validates it and builds the model.

Every problem becomes one message `FILE:LINE: WHAT 'NAME': PROBLEM` (schemas/README.md lists
them); all problems of a schema are reported together, sorted by line.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field as dc_field
from pathlib import Path

from .model import (Command, Enum, EnumValue, ErrorCode, Field, Lookup, Message, Push, Schema,
                    Table, Type)
from .source import SourceMap, key_pattern

MAX_ID = 65535
# Ids 65280 and up are ember's own messages between servers (ember/cluster/route_wire.hpp).
MAX_MESSAGE_ID = 65279
MAX_TAG = (1 << 29) - 1
MIN_ERROR_CODE = 1000
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

#: Scalar type spellings: (C++ type, codec kind).
SCALARS = {
    "bool": ("bool", "bool"),
    "i8": ("std::int8_t", "sint"),
    "i16": ("std::int16_t", "sint"),
    "i32": ("std::int32_t", "sint"),
    "i64": ("std::int64_t", "sint"),
    "u8": ("std::uint8_t", "uint"),
    "u16": ("std::uint16_t", "uint"),
    "u32": ("std::uint32_t", "uint"),
    "u64": ("std::uint64_t", "uint"),
    "f32": ("float", "f32"),
    "f64": ("double", "f64"),
    "string": ("std::string", "string"),
    "bytes": ("std::vector<std::byte>", "bytes"),
}
CONTAINERS = ("list", "map", "optional")

CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
extern false float for friend goto if import inline int long module mutable namespace new
noexcept not not_eq nullptr operator or or_eq private protected public register
reinterpret_cast requires return short signed sizeof static static_assert static_cast struct
switch template this thread_local throw true try typedef typeid typename union unsigned using
virtual void volatile wchar_t while xor xor_eq
""".split())

#: Macros of the C and C++ libraries: as names they would be replaced by the preprocessor.
C_MACROS = frozenset("assert errno EOF NULL stdin stdout stderr offsetof setjmp".split())

#: Names the generated code defines in the schema's namespace (or needs to refer to).
GENERATED_NAMES = frozenset("""
cmd id error schema_hash fail to_string from_string error_message client_stub register_commands
call_stub command_list command_info encode_binary decode_binary encode_json decode_json read_json
write_json std ember fmt asio simdjson detail
""".split()) | frozenset(SCALARS) | frozenset(CONTAINERS)

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[<>,])")

TOP_KEYS = ("schema", "reserved", "enum", "struct", "table", "command", "call", "push", "error",
            "firefly")

#: Column types of a [[table]] (SQL types in backend.SQL_TYPES); optional<T> makes it nullable.
#: u64 does not fit SQL's signed BIGINT, containers and structs have no column type.
COLUMN_TYPES = ("bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "f32", "f64", "string",
                "bytes")
KEY_TYPES = ("i32", "i64", "u32", "string")
#: Write-back defaults: flush every second, at most 1,000 rows per transaction.
FLUSH_INTERVAL_MS, FLUSH_BATCH = 1000, 1000
#: Column names the runtime adds to every table.
RUNTIME_COLUMNS = ("ember_version",)


class SchemaError(Exception):
    """The schema is invalid; `messages` holds one line per problem."""

    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


def load(path: str) -> Schema:
    """Reads, validates and models the schema at `path` (as given: messages repeat it)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SchemaError([f"{path}: cannot read the schema: {e}"]) from None
    return parse(text, path)


def parse(text: str, path: str) -> Schema:
    """Validates and models the schema `text`; `path` names it in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column \d+\)$", msg)
        line = m.group(1) if m else "1"
        msg = msg[: m.start()].rstrip() if m else msg
        raise SchemaError([f"{path}:{line}: invalid TOML: {msg}"]) from None
    return _Builder(path, text, data).build()


# --- drafts: what the first pass collects before types are resolved


@dataclass
class _FieldDraft:
    tag: int
    name: str
    spelling: str
    doc: str
    secret: bool
    line: int


@dataclass
class _MsgDraft:
    name: str
    origin: str
    desc: str  # how messages name it: "struct 'x'", "command 'login' request"
    fields: list[_FieldDraft]
    doc: str
    line: int
    reserved_tags: list[int] = dc_field(default_factory=list)
    reserved_names: list[str] = dc_field(default_factory=list)
    push_id: int | None = None
    push_name: str | None = None


class _Builder:
    def __init__(self, path: str, text: str, data: dict):
        self.path = path
        self.src = SourceMap(text)
        self.data = data
        self.errors: list[tuple[int, str]] = []
        self.reserved_ids: set[int] = set()
        self.reserved_names: set[str] = set()
        self.reserved_codes: set[int] = set()
        self.enums: list[Enum] = []
        self.structs: list[_MsgDraft] = []
        self.commands: list[tuple[Command, _MsgDraft, _MsgDraft]] = []
        self.calls: list[tuple[Command, _MsgDraft, _MsgDraft]] = []
        self.pushes: list[tuple[Push, _MsgDraft]] = []
        self.errors_defs: list[ErrorCode] = []
        self.tables: list[tuple[dict, _MsgDraft, int]] = []  # (raw table, row draft, index)

    # --- reporting

    def error(self, line: int, what: str, problem: str) -> None:
        self.errors.append((line, f"{self.path}:{line}: {what}: {problem}" if line
                            else f"{self.path}: {what}: {problem}"))

    def fail_if_errors(self) -> None:
        if self.errors:
            ordered = sorted(self.errors, key=lambda e: e[0])
            raise SchemaError([msg for _, msg in ordered])

    # --- small checks

    def check_keys(self, table: dict, allowed: tuple[str, ...], required: tuple[str, ...],
                   what: str, line: int, key_line=None) -> bool:
        ok = True
        for k in required:
            if k not in table:
                self.error(line, what, f"missing key '{k}'")
                ok = False
        for k in table:
            if k not in allowed:
                at = key_line(k) if key_line else line
                self.error(at or line, what, f"unknown key '{k}'")
                ok = False
        return ok

    def check_type(self, table: dict, key: str, kind: str, what: str, line: int) -> bool:
        """Checks the TOML type of `table[key]` (when present)."""
        if key not in table:
            return True
        v = table[key]
        good = {
            "int": isinstance(v, int) and not isinstance(v, bool),
            "str": isinstance(v, str),
            "bool": isinstance(v, bool),
            "table": isinstance(v, dict),
            "array": isinstance(v, list),
            "int_list": isinstance(v, list) and all(
                isinstance(x, int) and not isinstance(x, bool) for x in v),
            "str_list": isinstance(v, list) and all(isinstance(x, str) for x in v),
            "tables": isinstance(v, list) and all(isinstance(x, dict) for x in v),
        }[kind]
        if not good:
            words = {
                "int": "an integer", "str": "a string", "bool": "true or false",
                "table": "a table", "array": "an array", "int_list": "an array of integers",
                "str_list": "an array of strings", "tables": "an array of tables",
            }
            self.error(line, what, f"'{key}' must be {words[kind]}")
        return good

    def check_ident(self, name: str, what: str, line: int, *, generated_ok: bool = False,
                    label: str = "") -> bool:
        """Checks that `name` can be a C++ identifier of the generated code; `label` says
        which name of the item it is when it is not the item's own (e.g. "server name")."""
        quoted = f"{label} '{name}'" if label else f"'{name}'"
        if not _IDENT.match(name) or "__" in name or name.endswith("_"):
            self.error(line, what, f"invalid {quoted if label else 'name'}: use "
                                   "letters, digits and '_', starting with a letter, without "
                                   "'__' or a trailing '_'")
            return False
        if name in CPP_KEYWORDS:
            self.error(line, what, f"{quoted} is a C++ keyword")
            return False
        if name in C_MACROS:
            self.error(line, what, f"{quoted} is a macro of the C library")
            return False
        if not generated_ok and name in GENERATED_NAMES:
            self.error(line, what, f"{quoted} is a name the generated code uses")
            return False
        return True

    # --- the passes

    def build(self) -> Schema:
        d = self.data
        for k in d:
            if k not in TOP_KEYS:
                line = self.src.find(r"^\s*\[*\s*" + re.escape(k) + r"\b") or 0
                self.error(line, "schema", f"unknown top-level key '{k}'")
        name, doc = self.schema_table()
        self.reserved_table()
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
        self.check_names()
        self.check_ids()
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
                        reserved_codes=set(self.reserved_codes))
        schema.hash = schema_hash(schema)
        return schema

    def all_drafts(self) -> list[_MsgDraft]:
        out = [d for _, d, _ in self.tables] + list(self.structs)
        for _, req, rep in self.commands + self.calls:
            out += [req, rep]
        out += [m for _, m in self.pushes]
        return out

    def schema_table(self) -> tuple[str, str]:
        t = self.data.get("schema")
        sec = self.src.section("schema")
        line = sec[0] if sec else 0
        if t is None:
            self.error(0, "schema", "missing table [schema] (its name is the C++ namespace)")
            return "", ""
        if not isinstance(t, dict):
            self.error(line, "schema", "'schema' must be a table")
            return "", ""
        name = t.get("name")
        what = f"schema '{name}'" if isinstance(name, str) else "schema"
        self.check_keys(t, ("name", "doc"), ("name",), what, line)
        self.check_type(t, "name", "str", what, line)
        self.check_type(t, "doc", "str", what, line)
        if isinstance(name, str):
            line = self.src.locate("schema", None, key_pattern("name", name)) or line
            self.check_ident(name, what, line)
            return name, t.get("doc", "") if isinstance(t.get("doc", ""), str) else ""
        return "", ""

    def reserved_table(self) -> None:
        t = self.data.get("reserved")
        if t is None:
            return
        sec = self.src.section("reserved")
        line = sec[0] if sec else (self.src.find(key_pattern("reserved")) or 0)
        what = "reserved"
        if not isinstance(t, dict):
            self.error(line, what, "'reserved' must be a table")
            return
        self.check_keys(t, ("ids", "names", "error_codes"), (), what, line)
        if self.check_type(t, "ids", "int_list", what, line):
            self.reserved_ids = set(t.get("ids", []))
        if self.check_type(t, "names", "str_list", what, line):
            self.reserved_names = set(t.get("names", []))
        if self.check_type(t, "error_codes", "int_list", what, line):
            self.reserved_codes = set(t.get("error_codes", []))

    def items(self, key: str) -> list:
        """The array-of-tables `key`, or [] after reporting that it is not one."""
        v = self.data.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            line = self.src.find(r"^\s*\[*\s*" + re.escape(key) + r"\b") or 0
            self.error(line, "schema", f"'{key}' must be an array of tables ([[{key}]])")
            return []
        return v

    def named(self, kind: str, index: int, t: dict) -> tuple[str | None, str, int]:
        """(name, description, line) of the index-th `[[kind]]`."""
        name = t.get("name")
        if isinstance(name, str):
            line = self.src.locate(kind, index, key_pattern("name", name))
            return name, f"{kind} '{name}'", line
        return None, f"{kind} #{index + 1}", self.src.locate(kind, index)

    def key_line(self, kind: str, index: int):
        return lambda k: self.src.locate(kind, index, key_pattern(k))

    def enum_tables(self) -> None:
        for i, t in enumerate(self.items("enum")):
            name, what, line = self.named("enum", i, t)
            self.check_keys(t, ("name", "values", "doc"), ("name", "values"), what, line,
                            self.key_line("enum", i))
            if not (self.check_type(t, "name", "str", what, line)
                    and self.check_type(t, "doc", "str", what, line)
                    and self.check_type(t, "values", "table", what, line)) or name is None:
                continue
            self.check_ident(name, what, line)
            raw = t.get("values", {})
            values = []
            seen: dict[int, str] = {}
            for vname, v in raw.items():
                vline = self.src.locate("enum", i, key_pattern("values"),
                                        key_pattern(vname) if _IDENT.match(vname) else "")
                if not isinstance(v, int) or isinstance(v, bool):
                    self.error(vline, what, f"value '{vname}' must be an integer")
                    continue
                if not _IDENT.match(vname) or "__" in vname or vname.endswith("_"):
                    self.error(vline, what, f"invalid value name '{vname}': use letters, digits "
                                            "and '_', starting with a letter, without '__' or a "
                                            "trailing '_'")
                    continue
                if not INT32_MIN <= v <= INT32_MAX:
                    self.error(vline, what, f"value '{vname}' = {v} is out of range for int32")
                    continue
                if v in seen:
                    self.error(vline, what, f"value '{vname}' = {v} already used by "
                                            f"'{seen[v]}'")
                    continue
                seen[v] = vname
                cpp = vname + "_" if vname in CPP_KEYWORDS or vname in C_MACROS else vname
                values.append(EnumValue(vname, cpp, v, vline))
            if not raw:
                self.error(line, what, "has no values")
            elif 0 not in seen and len(values) == len(raw):
                self.error(line, what, "needs a value 0 (the default of its fields)")
            self.enums.append(Enum(name, values, t.get("doc", ""), line))

    def fields(self, raw, kind: str, index: int, list_key: str, msg: str,
               reserved_tags: list[int], reserved_names: list[str]) -> list[_FieldDraft]:
        """Checks the field tables of message `msg`, declared under `list_key`."""
        out: list[_FieldDraft] = []
        tags: dict[int, _FieldDraft] = {}
        names: dict[str, _FieldDraft] = {}
        base = self.src.locate(kind, index, key_pattern(list_key))
        occurrences: dict[str, int] = {}
        for n, f in enumerate(raw):
            name = f.get("name")
            if isinstance(name, str):
                what = f"field '{msg}.{name}'"
                # the k-th field of this name is on the k-th line that names it
                k = occurrences[name] = occurrences.get(name, 0) + 1
                line = self.src.locate(kind, index, key_pattern(list_key),
                                       *[key_pattern("name", name)] * k)
            else:
                what = f"field #{n + 1} of '{msg}'"
                line = base
            if not self.check_keys(f, ("tag", "name", "type", "doc", "secret"),
                                   ("tag", "name", "type"), what, line):
                continue
            if not all([self.check_type(f, "tag", "int", what, line),
                        self.check_type(f, "name", "str", what, line),
                        self.check_type(f, "type", "str", what, line),
                        self.check_type(f, "doc", "str", what, line),
                        self.check_type(f, "secret", "bool", what, line)]):
                continue
            if not self.check_ident(name, what, line, generated_ok=True):
                continue
            tag = f["tag"]
            if not 1 <= tag <= MAX_TAG:
                self.error(line, what, f"tag {tag} is out of range 1..{MAX_TAG}")
                continue
            if tag in reserved_tags:
                self.error(line, what, f"tag {tag} is reserved")
                continue
            if name in reserved_names:
                self.error(line, what, "name is reserved")
                continue
            if name == msg:
                # C++ forbids a data member named like its class once the class has a
                # constructor, as generated messages do.
                self.error(line, what, "a field cannot have the name of its message")
                continue
            if kind == "push" and name in ("push_id", "push_name"):
                self.error(line, what, f"'{name}' is a name the generated code uses")
                continue
            if tag in tags:
                other = tags[tag]
                self.error(line, what, f"tag {tag} already used by field '{msg}.{other.name}'"
                                       f"{_at(other.line)}")
                continue
            if name in names:
                self.error(line, what, f"name already used by field '{msg}.{name}'"
                                       f"{_at(names[name].line)}")
                continue
            d = _FieldDraft(tag, name, f["type"], f.get("doc", ""), f.get("secret", False), line)
            tags[tag] = names[name] = d
            out.append(d)
        return out

    def reserved_of(self, t: dict, prefix: str, what: str, line: int) -> tuple[list, list]:
        tags = names = []
        if self.check_type(t, prefix + "reserved_tags", "int_list", what, line):
            tags = t.get(prefix + "reserved_tags", [])
        if self.check_type(t, prefix + "reserved_names", "str_list", what, line):
            names = t.get(prefix + "reserved_names", [])
        return tags, names

    def struct_tables(self) -> None:
        for i, t in enumerate(self.items("struct")):
            name, what, line = self.named("struct", i, t)
            allowed = ("name", "fields", "doc", "reserved_tags", "reserved_names")
            self.check_keys(t, allowed, ("name", "fields"), what, line, self.key_line("struct", i))
            if not (self.check_type(t, "name", "str", what, line)
                    and self.check_type(t, "doc", "str", what, line)
                    and self.check_type(t, "fields", "tables", what, line)) or name is None:
                continue
            self.check_ident(name, what, line)
            if name in self.reserved_names:
                self.error(line, what, "name is reserved")
            rtags, rnames = self.reserved_of(t, "", what, line)
            fields = self.fields(t.get("fields", []), "struct", i, "fields", name, rtags, rnames)
            self.structs.append(_MsgDraft(name, "struct", what, fields, t.get("doc", ""), line,
                                          rtags, rnames))

    def table_tables(self) -> None:
        """[[table]]s: checks the keys and columns; the rest needs resolved types
        (`table_model`)."""
        for i, t in enumerate(self.items("table")):
            name, what, line = self.named("table", i, t)
            allowed = ("name", "doc", "key", "generated_key", "columns", "lookups",
                       "flush_interval_ms", "flush_batch", "reserved_tags", "reserved_names")
            self.check_keys(t, allowed, ("name", "key", "columns"), what, line,
                            self.key_line("table", i))
            if not all([self.check_type(t, "name", "str", what, line),
                        self.check_type(t, "doc", "str", what, line),
                        self.check_type(t, "key", "str", what, line),
                        self.check_type(t, "generated_key", "bool", what, line),
                        self.check_type(t, "columns", "tables", what, line),
                        self.check_type(t, "lookups", "tables", what, line),
                        self.check_type(t, "flush_interval_ms", "int", what, line),
                        self.check_type(t, "flush_batch", "int", what, line)]) or name is None:
                continue
            self.check_ident(name, what, line)
            if name in self.reserved_names:
                self.error(line, what, "name is reserved")
            rtags, rnames = self.reserved_of(t, "", what, line)
            fields = self.fields(t.get("columns", []), "table", i, "columns", name, rtags,
                                 rnames)
            for f in fields:
                if f.name in RUNTIME_COLUMNS:
                    self.error(f.line, f"column '{name}.{f.name}'",
                               "is a column ember adds to every table")
            self.tables.append((t, _MsgDraft(name, "row", what, fields, t.get("doc", ""), line,
                                             rtags, rnames), i))

    def table_model(self, t: dict, row: Message, index: int) -> Table | None:
        """The table of a row whose column types are resolved, or None after reporting."""
        name, what, line = self.named("table", index, t)
        ok = True
        for f in row.fields:
            base = f.type.elem if f.type.kind == "optional" else f.type
            if base.kind == "enum" or base.spelling in COLUMN_TYPES:
                continue
            self.error(f.line, f"column '{name}.{f.name}'",
                       f"type '{f.type.spelling}' cannot be a column: use one of "
                       f"{', '.join(COLUMN_TYPES)}, an enum, or optional<...> of one")
            ok = False
        by_name = {f.name: f for f in row.fields}
        key_name = t.get("key")
        kline = self.src.locate("table", index, key_pattern("key", key_name)) or line
        key = by_name.get(key_name)
        if key is None:
            self.error(kline, what, f"key '{key_name}' is not one of its columns")
            return None
        if key.type.spelling not in KEY_TYPES:
            self.error(kline, what, f"key '{key_name}' has type '{key.type.spelling}': a key "
                                    f"must be one of {', '.join(KEY_TYPES)}")
            ok = False
        generated = t.get("generated_key", False)
        if generated and key.type.spelling != "i64":
            gline = self.src.locate("table", index, key_pattern("generated_key")) or line
            self.error(gline, what, "generated_key needs a key of type i64")
            ok = False
        lookups = []
        lbase = self.src.locate("table", index, key_pattern("lookups")) or line
        for n, lk in enumerate(t.get("lookups", [])):
            lname, col = lk.get("name"), lk.get("column")
            lwhat = f"lookup '{name}.{lname}'" if isinstance(lname, str) else \
                f"lookup #{n + 1} of '{name}'"
            lline = (self.src.locate("table", index, key_pattern("lookups"),
                                     key_pattern("name", lname)) if isinstance(lname, str)
                     else 0) or lbase
            if not self.check_keys(lk, ("name", "column"), ("name", "column"), lwhat, lline):
                ok = False
                continue
            if not (self.check_type(lk, "name", "str", lwhat, lline)
                    and self.check_type(lk, "column", "str", lwhat, lline)):
                ok = False
                continue
            if not self.check_ident(lname, lwhat, lline):
                ok = False
                continue
            field = by_name.get(col)
            if field is None:
                self.error(lline, lwhat, f"column '{col}' is not a column of '{name}'")
                ok = False
            elif field is key:
                self.error(lline, lwhat, f"column '{col}' is the key: use get()")
                ok = False
            elif field.type.spelling not in KEY_TYPES:
                self.error(lline, lwhat, f"column '{col}' has type '{field.type.spelling}': "
                                         f"lookups need one of {', '.join(KEY_TYPES)}")
                ok = False
            elif any(x.name == lname for x in lookups) or lname in by_name:
                self.error(lline, lwhat, "name already used in this table")
                ok = False
            else:
                lookups.append(Lookup(lname, field, lline))
        interval = t.get("flush_interval_ms", FLUSH_INTERVAL_MS)
        batch = t.get("flush_batch", FLUSH_BATCH)
        if not 10 <= interval <= 3_600_000:
            self.error(self.src.locate("table", index, key_pattern("flush_interval_ms")) or line,
                       what, f"flush_interval_ms {interval} is out of range 10..3600000")
            ok = False
        if not 1 <= batch <= 100_000:
            self.error(self.src.locate("table", index, key_pattern("flush_batch")) or line,
                       what, f"flush_batch {batch} is out of range 1..100000")
            ok = False
        if not ok:
            return None
        return Table(name, row, key, generated, lookups, interval, batch, t.get("doc", ""), line)

    def served_tables(self, kind: str) -> list[tuple[Command, _MsgDraft, _MsgDraft]]:
        """The [[command]]s (kind "command") or [[call]]s ("call"): the same keys, except
        that calls have no `ordered` (a server's calls to another always overlap)."""
        out = []
        for i, t in enumerate(self.items(kind)):
            name, what, line = self.named(kind, i, t)
            allowed = ("id", "name", "server", "request", "reply", "doc",
                       "request_reserved_tags", "request_reserved_names",
                       "reply_reserved_tags", "reply_reserved_names")
            if kind == "command":
                allowed += ("ordered",)
            self.check_keys(t, allowed, ("id", "name", "server", "request", "reply"), what, line,
                            self.key_line(kind, i))
            if not all([self.check_type(t, "id", "int", what, line),
                        self.check_type(t, "name", "str", what, line),
                        self.check_type(t, "server", "str", what, line),
                        kind == "call" or self.check_type(t, "ordered", "bool", what, line),
                        self.check_type(t, "doc", "str", what, line),
                        self.check_type(t, "request", "tables", what, line),
                        self.check_type(t, "reply", "tables", what, line)]) or name is None:
                continue
            self.check_ident(name, what, line)
            if name in self.reserved_names:
                self.error(line, what, "name is reserved")
            cid = t.get("id")
            server = t.get("server")
            if server is not None:
                sline = self.src.locate(kind, i, key_pattern("server", server)) or line
                self.check_ident(server, what, sline, label="server name")
            if cid is None or server is None or "request" not in t or "reply" not in t:
                continue
            drafts = []
            for part in ("request", "reply"):
                rtags, rnames = self.reserved_of(t, part + "_", what, line)
                fields = self.fields(t[part], kind, i, part, f"{name}_{part}", rtags, rnames)
                drafts.append(_MsgDraft(f"{name}_{part}", part, f"{what} {part}", fields,
                                        "", line, rtags, rnames))
            internal = kind == "call"
            ordered = not internal and t.get("ordered", True)
            cmd = Command(cid, name, server, ordered, None, None, t.get("doc", ""), line,
                          internal)
            out.append((cmd, drafts[0], drafts[1]))
        return out

    def push_tables(self) -> None:
        for i, t in enumerate(self.items("push")):
            name, what, line = self.named("push", i, t)
            allowed = ("id", "name", "fields", "doc", "reserved_tags", "reserved_names")
            self.check_keys(t, allowed, ("id", "name", "fields"), what, line,
                            self.key_line("push", i))
            if not all([self.check_type(t, "id", "int", what, line),
                        self.check_type(t, "name", "str", what, line),
                        self.check_type(t, "doc", "str", what, line),
                        self.check_type(t, "fields", "tables", what, line)]) or name is None:
                continue
            self.check_ident(name, what, line)
            if name in self.reserved_names:
                self.error(line, what, "name is reserved")
            if "id" not in t or "fields" not in t:
                continue
            rtags, rnames = self.reserved_of(t, "", what, line)
            fields = self.fields(t["fields"], "push", i, "fields", name, rtags, rnames)
            msg = _MsgDraft(name, "push", what, fields, t.get("doc", ""), line, rtags, rnames,
                            push_id=t["id"], push_name=name)
            self.pushes.append((Push(t["id"], name, None, t.get("doc", ""), line), msg))

    def error_tables(self) -> None:
        for i, t in enumerate(self.items("error")):
            name, what, line = self.named("error", i, t)
            self.check_keys(t, ("code", "name", "message", "doc"), ("code", "name", "message"),
                            what, line, self.key_line("error", i))
            if not all([self.check_type(t, "code", "int", what, line),
                        self.check_type(t, "name", "str", what, line),
                        self.check_type(t, "message", "str", what, line),
                        self.check_type(t, "doc", "str", what, line)]) or name is None:
                continue
            self.check_ident(name, what, line, generated_ok=True)
            if "code" not in t or "message" not in t:
                continue
            code = t["code"]
            cline = self.src.locate("error", i, key_pattern("code", code)) or line
            if not MIN_ERROR_CODE <= code <= MAX_ID:
                self.error(cline, what, f"code {code} is out of range {MIN_ERROR_CODE}..{MAX_ID}")
                continue
            if code in self.reserved_codes:
                self.error(cline, what, f"code {code} is reserved")
                continue
            if name in self.reserved_names:
                self.error(line, what, "name is reserved")
                continue
            clash = next((e for e in self.errors_defs if e.code == code), None)
            if clash:
                self.error(cline, what, f"code {code} already used by error '{clash.name}'"
                                        f"{_at(clash.line)}")
                continue
            clash = next((e for e in self.errors_defs if e.name == name), None)
            if clash:
                self.error(line, what, f"name already used by error '{name}'{_at(clash.line)}")
                continue
            self.errors_defs.append(ErrorCode(code, name, t["message"], t.get("doc", ""), line))

    def firefly_table(self, messages: dict[str, Message]) -> Message | None:
        t = self.data.get("firefly")
        if t is None:
            return None
        sec = self.src.section("firefly")
        line = sec[0] if sec else (self.src.find(key_pattern("firefly")) or 0)
        if not isinstance(t, dict):
            self.error(line, "firefly", "'firefly' must be a table")
            return None
        if not self.check_keys(t, ("error_reply",), (), "firefly", line):
            return None
        if not self.check_type(t, "error_reply", "str", "firefly", line) or "error_reply" not in t:
            return None
        name = t["error_reply"]
        line = self.src.locate("firefly", None, key_pattern("error_reply")) or line
        what = f"firefly error_reply '{name}'"
        msg = messages.get(name)
        if msg is None or msg.origin != "struct":
            self.error(line, what, "no [[struct]] has this name")
            return None
        by_name = {f.name: f for f in msg.fields}
        code, message = by_name.get("code"), by_name.get("message")
        if code is None or code.type.kind not in ("uint", "sint"):
            self.error(line, what, "needs a field 'code' of an integer type")
            return None
        if message is None or message.type.kind != "string":
            self.error(line, what, "needs a field 'message' of type string")
            return None
        return msg

    # --- types

    def resolve(self, draft: _MsgDraft, enums: dict[str, Enum], structs: set[str]) -> Message:
        fields = []
        for f in draft.fields:
            try:
                t = parse_type(f.spelling, enums, structs)
            except TypeProblem as p:
                self.error(f.line, f"field '{draft.name}.{f.name}'", str(p))
                continue
            fields.append(Field(f.tag, f.name, t, f.doc, f.secret, f.line))
        return Message(draft.name, draft.origin, fields, draft.doc, draft.line,
                       draft.reserved_tags, draft.reserved_names, draft.push_id, draft.push_name)

    def order_structs(self, structs: list[Message]) -> list[Message]:
        """Structs with the ones they contain first. A struct may contain itself only through
        list<...> (std::vector accepts an incomplete element type)."""
        by_name = {s.name: s for s in structs}

        def deps(s: Message, through_lists: bool) -> list[tuple[str, Field]]:
            out = []
            for f in s.fields:
                t = f.type
                if t.kind == "list" and not through_lists:
                    continue
                if t.kind in CONTAINERS:
                    t = t.elem
                if t.kind == "struct":
                    out.append((t.ref, f))
            return out

        # Cycles that do not pass through a list cannot be laid out in C++.
        state: dict[str, int] = {}
        reported = set()

        def visit(name: str, path: list[tuple[str, Field]]) -> None:
            state[name] = 1
            for dep, f in deps(by_name[name], False):
                if state.get(dep) == 1:
                    start = next(i for i, (n, _) in enumerate(path + [(name, f)]) if n == dep)
                    cycle = (path + [(name, f)])[start:]
                    if dep not in reported:
                        reported.add(dep)
                        via = ", ".join(f"'{n}.{fl.name}'" for n, fl in cycle)
                        s = by_name[dep]
                        self.error(s.line, f"struct '{dep}'",
                                   f"contains itself through {via}; only list<...> may refer "
                                   "back to a containing struct")
                elif state.get(dep) is None:
                    visit(dep, path + [(name, f)])
            state[name] = 2

        for s in structs:
            if state.get(s.name) is None:
                visit(s.name, [])
        self.fail_if_errors()

        ordered: list[Message] = []
        done: set[str] = set()
        active: set[str] = set()

        def emit(name: str) -> None:
            if name in done or name in active:
                return
            active.add(name)
            for dep, _ in deps(by_name[name], True):
                emit(dep)
            active.discard(name)
            done.add(name)
            ordered.append(by_name[name])

        for s in structs:
            emit(s.name)
        return ordered

    # --- cross checks

    def check_names(self) -> None:
        # Names of the id enum and cmd:: descriptors; client_stub and call_stub methods.
        served = [c for c, _, _ in self.commands + self.calls]
        ids = [(c.line, c.name, f"{c.kind} '{c.name}'", True) for c in served]
        ids += [(p.line, p.name, f"push '{p.name}'", True) for p, _ in self.pushes]
        ids += [(p.line, "on_" + p.name, f"push '{p.name}'", False) for p, _ in self.pushes]
        duplicates = self.unique(ids)
        # C++ type names in the schema's namespace (a command already reported as a duplicate
        # would only repeat the problem through its request and reply names).
        types: list[tuple[int, str, str, bool]] = []  # (line, C++ name, description, plain)
        for e in self.enums:
            types.append((e.line, e.name, f"enum '{e.name}'", True))
        for s in self.structs:
            types.append((s.line, s.name, f"struct '{s.name}'", True))
        for _, d, _ in self.tables:
            types.append((d.line, d.name, d.desc, True))
            types.append((d.line, d.name + "_table", d.desc, False))
        for cmd, req, rep in self.commands + self.calls:
            desc = f"{cmd.kind} '{cmd.name}'"
            if (cmd.line, desc) in duplicates:
                continue
            types.append((cmd.line, req.name, desc, False))
            types.append((cmd.line, rep.name, desc, False))
        for p, _ in self.pushes:
            types.append((p.line, p.name, f"push '{p.name}'", True))
        for server in dict.fromkeys(c.server for c in served):
            line = min(c.line for c in served if c.server == server)
            types.append((line, server + "_handler", f"server '{server}'", False))
        self.unique(types)

    def unique(self, entries: list[tuple[int, str, str, bool]]) -> set[tuple[int, str]]:
        """Reports names used twice; returns the (line, description) of each item reported."""
        reported: set[tuple[int, str]] = set()
        seen: dict[str, tuple[int, str]] = {}
        for line, name, desc, plain in sorted(entries, key=lambda e: e[0]):
            if name in seen:
                oline, odesc = seen[name]
                if plain:
                    self.error(line, desc, f"name already used by {odesc}{_at(oline)}")
                else:
                    self.error(line, desc, f"generated name '{name}' already used by "
                                           f"{odesc}{_at(oline)}")
                reported.add((line, desc))
            else:
                seen[name] = (line, desc)
        return reported

    def check_ids(self) -> None:
        entries = [(c.line, c.id, f"{c.kind} '{c.name}'", c.kind, i)
                   for served in (self.commands, self.calls)
                   for i, (c, _, _) in enumerate(served)]
        entries += [(p.line, p.id, f"push '{p.name}'", "push", i)
                    for i, (p, _) in enumerate(self.pushes)]
        seen: dict[int, tuple[int, str]] = {}
        for line, mid, desc, kind, i in sorted(entries, key=lambda e: e[0]):
            line = self.src.locate(kind, i, key_pattern("id", mid)) or line
            if not 1 <= mid <= MAX_MESSAGE_ID:
                self.error(line, desc, f"id {mid} is out of range 1..{MAX_MESSAGE_ID}")
            elif mid in self.reserved_ids:
                self.error(line, desc, f"id {mid} is reserved")
            elif mid in seen:
                oline, odesc = seen[mid]
                self.error(line, desc, f"id {mid} already used by {odesc}{_at(oline)}")
            else:
                seen[mid] = (line, desc)


def _at(line: int) -> str:
    return f" (line {line})" if line else ""


class TypeProblem(Exception):
    pass


def parse_type(spelling: str, enums: dict[str, Enum], structs: set[str]) -> Type:
    """Parses a type spelling such as `map<string, list<u32>>` (which it refuses)."""
    tokens = []
    pos = 0
    text = spelling.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise TypeProblem(f"invalid type '{spelling}'")
        tokens.append(m.group(1))
        pos = m.end()
    if not tokens:
        raise TypeProblem("empty type")
    t, rest = _parse(tokens, spelling, enums, structs)
    if rest:
        raise TypeProblem(f"invalid type '{spelling}'")
    return t


def _parse(tokens: list[str], spelling: str, enums, structs) -> tuple[Type, list[str]]:
    if not tokens or not re.match(r"[A-Za-z_]", tokens[0]):
        raise TypeProblem(f"invalid type '{spelling}'")
    head, rest = tokens[0], tokens[1:]
    if head in CONTAINERS:
        if not rest or rest[0] != "<":
            raise TypeProblem(f"invalid type '{spelling}': {head} needs <...>")
        rest = rest[1:]
        if head == "map":
            if not rest or rest[0] != "string" or len(rest) < 2 or rest[1] != ",":
                raise TypeProblem(f"invalid type '{spelling}': map keys must be string, as in "
                                  "map<string, T>")
            rest = rest[2:]
        elem, rest = _parse(rest, spelling, enums, structs)
        if not rest or rest[0] != ">":
            raise TypeProblem(f"invalid type '{spelling}'")
        rest = rest[1:]
        return _container(head, elem, spelling), rest
    if head in SCALARS:
        cpp, kind = SCALARS[head]
        return Type(kind, head, cpp), rest
    if head in enums:
        return Type("enum", head, head, ref=head), rest
    if head in structs:
        return Type("struct", head, head, ref=head), rest
    raise TypeProblem(f"unknown type '{head}'")


_NOUN = {"list": "list", "map": "map", "optional": "optional"}


def _container(head: str, elem: Type, spelling: str) -> Type:
    if elem.kind in CONTAINERS:
        inner = elem.kind
        if head == "optional" and inner == "optional":
            raise TypeProblem(f"type '{spelling}': an optional optional is not supported")
        if head == "optional":
            raise TypeProblem(f"type '{spelling}': an optional {inner} is not supported; an "
                              f"empty {inner} is already absent on the wire")
        plural = {"list": "lists", "map": "maps", "optional": "optionals"}[inner]
        raise TypeProblem(f"type '{spelling}': a {head} of {plural} is not supported; wrap it in "
                          "a struct")
    if head == "list":
        return Type("list", f"list<{elem.spelling}>", f"std::vector<{elem.cpp}>", elem)
    if head == "map":
        return Type("map", f"map<string,{elem.spelling}>",
                    f"std::map<std::string, {elem.cpp}>", elem)
    return Type("optional", f"optional<{elem.spelling}>", f"std::optional<{elem.cpp}>", elem)


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
    }
    digest = hashlib.sha256(json.dumps(norm, sort_keys=True, separators=(",", ":"))
                            .encode()).digest()
    return int.from_bytes(digest[:8], "big")
