"""Back end of ember-codegen: renders a validated model into C++ through Jinja2 templates.

Templates live in ../templates; `macros.j2` holds the snippets they share. Filters are
registered explicitly in `environment()`; every template file read is recorded, so the
command line can write a depfile.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from . import CODEGEN_ABI, __version__
from .model import Enum, Field, Message, Schema, Type

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

#: (template, output name pattern) for every generated file, in the order they are written.
OUTPUTS = (
    ("header.hpp.j2", "{name}.hpp"),
    ("source.cpp.j2", "{name}.cpp"),
    ("server.hpp.j2", "{name}_server.hpp"),
    ("client.hpp.j2", "{name}_client.hpp"),
)


class _TrackingLoader(jinja2.FileSystemLoader):
    """A file loader that remembers which files it read."""

    def __init__(self, path: Path):
        super().__init__(str(path))
        self.used: set[str] = set()

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        self.used.add(filename)
        return source, filename, uptodate


def doc_lines(text: str) -> list[str]:
    """A doc string as lines (without trailing blanks); empty lines stay empty."""
    lines = [line.rstrip() for line in str(text).strip().splitlines()]
    return lines


def comment_line(text: str) -> str:
    """`text` on one line, for a `//` comment that ends the line: its lines joined by spaces
    (the front end refuses texts whose lines end with a backslash)."""
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def deprecated_attr(item) -> str:
    """`[[deprecated("reason")]] ` (or `[[deprecated]] `) for a deprecated field, command, call
    or push; "" for others."""
    reason = getattr(item, "deprecated", None)
    if reason is None:
        return ""
    return f"[[deprecated({cpp_string(reason)})]] " if reason else "[[deprecated]] "


def push_of(msg: Message, schema: Schema):
    """The push whose message is `msg`, or None."""
    return next((p for p in schema.pushes if p.message is msg), None)


def cpp_string(text: str) -> str:
    """A C++ string literal for `text` (UTF-8 kept, quotes, backslashes, controls and the
    second `?` of `??` escaped)."""
    out = []
    for i, ch in enumerate(text):
        if ch in "\"\\":
            out.append("\\" + ch)
        elif ch == "?" and i and text[i - 1] == "?":
            out.append("\\?")  # no `??x` trigraph sequence, not even one g++ warns of
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def hex64(value: int) -> str:
    return f"0x{value:016x}ULL"


def qualified(t: Type, schema: Schema) -> str:
    """The C++ type of `t`, with the schema's own types qualified by its namespace (a member
    may then share its name with a type)."""
    if t.kind in ("enum", "struct"):
        return f"{schema.name}::{t.ref}"
    if t.kind == "list":
        return f"std::vector<{qualified(t.elem, schema)}>"
    if t.kind == "map":
        return f"std::map<std::string, {qualified(t.elem, schema)}>"
    if t.kind == "optional":
        return f"std::optional<{qualified(t.elem, schema)}>"
    return t.cpp


def default_init(f: Field, schema: Schema) -> str:
    """The default member initializer of a field: the value that is not encoded."""
    t = f.type
    if t.kind == "bool":
        return " = false"
    if t.kind in ("sint", "uint"):
        return " = 0"
    if t.kind == "f32":
        return " = 0.0f"
    if t.kind == "f64":
        return " = 0.0"
    if t.kind == "enum":
        enum: Enum = next(e for e in schema.enums if e.name == t.ref)
        return f" = {schema.name}::{t.ref}::{enum.zero.cpp_name}"
    return ""


def param_default(f: Field, schema: Schema) -> str:
    """The default argument of a field's constructor parameter: its default value."""
    init = default_init(f, schema)
    return init if init else " = {}"


#: The constants of ember::codec::table that name the scalar types in a table.
TABLE_SCALARS = {"bool": "boolean"}


def table_type(t: Type, schema: Schema) -> str:
    """The type of a field as a table of the table-driven codec spells it (within the
    schema's `detail` namespace, where `codec` is ember::codec::table): `codec::u32`,
    `codec::struct_of(point_table)`, `codec::list(codec::string)`,
    `codec::map_of<chat::room_info>(room_info_table)`."""
    if t.kind in ("list", "map", "optional"):
        e = t.elem
        if e.kind in ("enum", "struct"):
            return f"codec::{t.kind}_of<{schema.name}::{e.ref}>({e.ref}_table)"
        return f"codec::{t.kind}({table_type(e, schema)})"
    if t.kind == "enum":
        return f"codec::enum_of({t.ref}_table)"
    if t.kind == "struct":
        return f"codec::struct_of({t.ref}_table)"
    return "codec::" + TABLE_SCALARS.get(t.spelling, t.spelling)


def message_doc(msg: Message, schema: Schema) -> str:
    """The doc line of a message without its own `doc`."""
    if msg.origin in ("request", "reply"):
        c = next(c for c in schema.served if msg in (c.request, c.reply))
        return f"The {msg.origin} of {c.kind} `{c.name}` (id {c.id})."
    if msg.origin == "push":
        return f"Push `{msg.name}` (id {msg.push_id}), sent by the server."
    if msg.origin == "row":
        return f"A row of table `{msg.name}` (its columns; `{msg.name}_table` describes the table)."
    return f"Struct `{msg.name}` of the schema."


#: Dialects in the order of ember::data::dialect: index 0 SQLite, 1 PostgreSQL.
DIALECTS = ("sqlite", "postgresql")

#: Column type spelling -> (SQLite type, PostgreSQL type). Booleans are small integers in both,
#: so that every driver binds them the same way; enums are their int32 values.
SQL_TYPES = {
    "bool": ("INTEGER", "SMALLINT"),
    "i8": ("INTEGER", "SMALLINT"),
    "i16": ("INTEGER", "SMALLINT"),
    "i32": ("INTEGER", "INTEGER"),
    "u8": ("INTEGER", "SMALLINT"),
    "u16": ("INTEGER", "INTEGER"),
    "u32": ("INTEGER", "BIGINT"),
    "i64": ("INTEGER", "BIGINT"),
    "f32": ("REAL", "REAL"),
    "f64": ("REAL", "DOUBLE PRECISION"),
    "string": ("TEXT", "TEXT"),
    "bytes": ("BLOB", "BYTEA"),
}
SQL_ZERO = {"string": ("''", "''"), "bytes": ("X''", "'\\x'::bytea"), "f32": ("0.0", "0.0"),
            "f64": ("0.0", "0.0")}


def q(name: str) -> str:
    """A quoted SQL identifier: keeps its case and may be a reserved word (`user`, `order`)."""
    return f'"{name}"'


def column_ddl(f: Field, dialect: str) -> str:
    """`name TYPE NOT NULL DEFAULT zero` (or nullable for optional<T>): a column added later
    to a table that has rows gets the field's default, as a cached row of the old shape does."""
    d = DIALECTS.index(dialect)
    t = f.type.elem if f.type.kind == "optional" else f.type
    spelling = "i32" if t.kind == "enum" else t.spelling
    sql = SQL_TYPES[spelling][d]
    if f.type.kind == "optional":
        return f"{q(f.name)} {sql}"
    zero = SQL_ZERO.get(spelling, ("0", "0"))[d]
    return f"{q(f.name)} {sql} NOT NULL DEFAULT {zero}"


def table_sql(table, dialect: str) -> dict[str, str]:
    """The statements of `table` in `dialect`; every value is bound as a `?` parameter."""
    cols = [q(c.name) for c in table.columns] + ["ember_version"]
    key, name = q(table.key.name), q(table.name)
    params = ", ".join("?" for _ in cols)
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    ddl = ", ".join([column_ddl(c, dialect) for c in table.columns] +
                    ["ember_version BIGINT NOT NULL DEFAULT 0", f"PRIMARY KEY ({key})"])
    head = f"INSERT INTO {name} ({', '.join(cols)}) VALUES "
    # A newer version replaces an older one, never the reverse, whoever flushes first.
    tail = (f" ON CONFLICT ({key}) DO UPDATE SET {sets} "
            f"WHERE {name}.ember_version < excluded.ember_version")
    return {
        "create": f"CREATE TABLE IF NOT EXISTS {name} ({ddl})",
        "select": f"SELECT {', '.join(cols)} FROM {name} WHERE {key} = ?",
        "upsert": f"{head}({params}){tail}",
        # write-back repeats the row's `(?, ...)` between these: many rows per statement
        "upsert_head": head,
        "upsert_tail": tail,
        "remove": f"DELETE FROM {name} WHERE {key} = ? AND ember_version <= ?",
        "max_key": f"SELECT MAX({key}) FROM {name}",
    }


def add_column_sql(table, f: Field, dialect: str) -> str:
    """The migration that adds column `f` to an existing `table`."""
    return f"ALTER TABLE {q(table.name)} ADD COLUMN {column_ddl(f, dialect)}"


def lookup_sql(table, lookup, dialect: str) -> dict[str, str]:
    return {
        "select": f"SELECT {q(table.key.name)} FROM {q(table.name)} "
                  f"WHERE {q(lookup.column.name)} = ?",
        "index": f"CREATE INDEX IF NOT EXISTS {q(table.name + '_' + lookup.name)} "
                 f"ON {q(table.name)} ({q(lookup.column.name)})",
    }


def environment() -> tuple[jinja2.Environment, _TrackingLoader]:
    loader = _TrackingLoader(TEMPLATE_DIR)
    env = jinja2.Environment(
        loader=loader,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["doc_lines"] = doc_lines
    env.filters["cpp_string"] = cpp_string
    env.filters["comment_line"] = comment_line
    env.filters["deprecated_attr"] = deprecated_attr
    env.filters["push_of"] = push_of
    env.filters["hex64"] = hex64
    env.filters["qualified"] = qualified
    env.filters["default_init"] = default_init
    env.filters["message_doc"] = message_doc
    env.filters["table_type"] = table_type
    env.filters["param_default"] = param_default
    env.globals["dialects"] = DIALECTS
    env.globals["table_sql"] = table_sql
    env.globals["add_column_sql"] = add_column_sql
    env.globals["lookup_sql"] = lookup_sql
    env.globals["version"] = __version__
    env.globals["abi"] = CODEGEN_ABI
    return env, loader


def render(schema: Schema) -> tuple[dict[str, str], list[str]]:
    """Renders every output: ({file name: text}, [template files read])."""
    env, loader = environment()
    files = {}
    for template, pattern in OUTPUTS:
        text = env.get_template(template).render(schema=schema)
        files[pattern.format(name=schema.name)] = _tidy(text)
    return files, sorted(loader.used)


def _tidy(text: str) -> str:
    """Drops trailing blanks and runs of blank lines that template conditionals leave."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"
