"""C# back end of ember-codegen (`--lang cs`): NAME.cs (enums, message classes, command, push
and error ids, a typed client) and a copy of the runtime it uses, Ember.cs and EmberClient.cs
(codegen/runtime/cs/: the binary and JSON codecs, byte for byte as ember's C++ ones, and the
client over TCP or WebSocket).

Unity's profile: .NET Standard 2.1, C# 7.2 (Mono's mcs), nothing beyond the base library.
Messages are classes with public fields named as in the schema (so JSON keys, C++ and C# agree
and Unity's serializer sees them); each field has a field type object of the runtime that reads
and writes it (`Types.List(Types.Struct<point>())`), as the C++ codec walks its tables.
Generated members the schema cannot name contain `__` (schema names may not), so no field,
parameter or helper of the generated code can collide with a schema's name.
"""

from __future__ import annotations

from pathlib import Path

from . import backend
from .model import Schema, Type

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime" / "cs"
RUNTIME_FILES = ("Ember.cs", "EmberClient.cs")

#: C#'s keywords: a schema name that is one is written with `@` (`@default`).
CS_KEYWORDS = frozenset("""
    abstract as base bool break byte case catch char checked class const continue decimal default
    delegate do double else enum event explicit extern false finally fixed float for foreach goto
    if implicit in int interface internal is lock long namespace new null object operator out
    override params private protected public readonly ref return sbyte sealed short sizeof
    stackalloc static string struct switch this throw true try typeof uint ulong unchecked unsafe
    ushort using virtual void volatile while
""".split())

#: Names a top-level type of the generated namespace may not take: the generated classes, and
#: the namespaces the generated code names (`global::` is used, but a type named `System` would
#: still hide the namespace from users' code in this namespace).
CS_TYPE_RESERVED = frozenset("Commands Pushes Errors Schema Client Ember System".split())

#: Member names a field may not take: object's members (a field `ToString` would hide it).
CS_MEMBER_RESERVED = frozenset("Equals GetHashCode GetType ToString MemberwiseClone Finalize "
                               "ReferenceEquals".split())

#: Names a command or push may not take in the client class: ClientBase's members.
CS_CLIENT_RESERVED = frozenset("""
    ConnectTcp ConnectWebSocket Close Dispose DropConnection SessionId Resumed Connected NewRequestId
    Call Send OnPush PushReceived Disconnected Resumes Options Equals GetHashCode GetType ToString
    MemberwiseClone Finalize ReferenceEquals
""".split())

SCALARS = {"bool": "bool", "i8": "sbyte", "i16": "short", "i32": "int", "i64": "long",
           "u8": "byte", "u16": "ushort", "u32": "uint", "u64": "ulong", "f32": "float",
           "f64": "double", "string": "string", "bytes": "byte[]"}
FIELD_TYPES = {"bool": "Bool", "i8": "I8", "i16": "I16", "i32": "I32", "i64": "I64", "u8": "U8",
               "u16": "U16", "u32": "U32", "u64": "U64", "f32": "F32", "f64": "F64",
               "string": "String", "bytes": "Bytes"}

_namespace = ""  # set by render(): the schema's namespace, for global:: names


def ident(name: str) -> str:
    """A schema name as a C# identifier."""
    return "@" + name if name in CS_KEYWORDS else name


def qualified(name: str) -> str:
    return f"global::{ident(_namespace)}.{ident(name)}"


def _is_value(t: Type) -> bool:
    return t.kind not in ("struct", "list", "map") and t.spelling not in ("string", "bytes")


def cs_type(t: Type) -> str:
    """The C# type of a field."""
    if t.kind in ("enum", "struct"):
        return qualified(t.ref)
    if t.kind == "list":
        return f"global::System.Collections.Generic.List<{cs_type(t.elem)}>"
    if t.kind == "map":
        return f"global::System.Collections.Generic.Dictionary<string, {cs_type(t.elem)}>"
    if t.kind == "optional":
        inner = cs_type(t.elem)
        return inner + "?" if _is_value(t.elem) else inner
    return SCALARS[t.spelling]


def field_type(t: Type) -> str:
    """The runtime's field type object of a field type."""
    if t.kind == "list":
        return f"global::Ember.Types.List({field_type(t.elem)})"
    if t.kind == "map":
        return f"global::Ember.Types.Map({field_type(t.elem)})"
    if t.kind == "optional":
        how = "Optional" if _is_value(t.elem) else "OptionalRef"
        return f"global::Ember.Types.{how}({field_type(t.elem)})"
    if t.kind == "enum":
        return f"global::{ident(_namespace)}.enums__.{ident(t.ref)}"
    if t.kind == "struct":
        return f"global::Ember.Types.Struct<{qualified(t.ref)}>()"
    return f"global::Ember.Types.{FIELD_TYPES[t.spelling]}"


def initializer(t: Type) -> str:
    """` = value` for a field whose C# default is not the schema's, or ""."""
    if t.kind == "optional":
        return ""
    if t.spelling == "string":
        return ' = ""'
    if t.spelling == "bytes":
        return " = global::System.Array.Empty<byte>()"
    if t.kind in ("struct", "list", "map"):
        return f" = new {cs_type(t)}()"
    return ""


def cs_string(text: str) -> str:
    """A C# string literal (every character outside printable ASCII escaped)."""
    out = ['"']
    for ch in str(text):
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif 0x20 <= c < 0x7f:
            out.append(ch)
        elif c <= 0xffff:
            out.append(f"\\u{c:04x}")
        else:
            out.append(f"\\U{c:08x}")
    out.append('"')
    return "".join(out)


def xml_doc(text: str, indent: str = "") -> str:
    """A `/// <summary>` comment, or ""."""
    lines = backend.doc_lines(text) if text else []
    if not lines:
        return ""
    esc = [line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
           .replace("\u2028", " ").replace("\u2029", " ") for line in lines]
    body = "".join(f"{indent}/// {line}\n" if line else f"{indent}///\n" for line in esc)
    return f"{indent}/// <summary>\n{body}{indent}/// </summary>\n"


def line_comment(text: str) -> str:
    return str(text).replace("\u2028", " ").replace("\u2029", " ").replace("\r", " ").replace("\n", " ")


def problems(schema: Schema, path: str) -> list[str]:
    """Why this schema has no C# file (names C# cannot declare), one line each, or []."""
    out = []

    def where(line: int) -> str:
        return f"{path}:{line}" if line else path

    items = [("enum", e.name, e.line) for e in schema.enums] + \
        [("struct" if m.origin == "struct" else m.origin, m.name, m.line) for m in schema.messages]
    for what, name, line in sorted(items, key=lambda x: x[2]):
        if name in CS_TYPE_RESERVED or name == schema.name:
            out.append(f"{where(line)}: {what} '{name}': '{name}' is a name the generated C# "
                       f"declares or uses; rename it for --lang cs")
    for m in schema.messages:
        for f in m.fields_by_tag:
            if f.name == m.name or f.name in CS_MEMBER_RESERVED:
                out.append(f"{where(f.line)}: field '{f.name}' of '{m.name}': C# cannot name a "
                           f"member like its class or like object's members; rename it for --lang cs")
    for c in schema.commands:
        if c.name in CS_CLIENT_RESERVED or c.name == "Client":
            out.append(f"{where(c.line)}: command '{c.name}': a name of the C# client class; "
                       f"rename it for --lang cs")
    for p in schema.pushes:
        if p.name in CS_CLIENT_RESERVED or p.name == "Client":
            out.append(f"{where(p.line)}: push '{p.name}': a name of the C# client class; "
                       f"rename it for --lang cs")
    return out


def render(schema: Schema) -> tuple[dict[str, str], list[str]]:
    """({file name: text}, [files read]) of the C# output."""
    global _namespace
    _namespace = schema.name
    env, loader = backend.environment()
    env.filters["cs_type"] = cs_type
    env.filters["cs_field_type"] = field_type
    env.filters["cs_init"] = initializer
    env.filters["cs_string"] = cs_string
    env.filters["cs_ident"] = ident
    env.filters["cs_q"] = qualified
    env.filters["xml_doc"] = xml_doc
    env.filters["line_comment"] = line_comment
    messages = [m for m in schema.messages
                if not any(m in (c.request, c.reply) for c in schema.calls)]
    text = env.get_template("cs/schema.cs.j2").render(
        schema=schema, messages=messages, hash_hex=f"0x{schema.hash:016x}UL")
    files = {f"{schema.name}.cs": backend._tidy(text)}
    for name in RUNTIME_FILES:
        files[name] = (RUNTIME_DIR / name).read_text(encoding="utf-8")
    return files, sorted(loader.used | {str(RUNTIME_DIR / n) for n in RUNTIME_FILES})
