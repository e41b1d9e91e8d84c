"""Names and texts of a schema: what may become a C++ identifier, a comment or a string.

`ident_problem` says why a name cannot be an identifier of the generated code at all,
`scope_problem` why it would clash where the generated code declares it, `text_problem` why a
doc or message cannot be written into it.
"""

from __future__ import annotations

import re

from . import c_names
from .types import CONTAINERS, SCALARS

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

#: Macros of the C and C++ libraries and of the headers the generated code includes: as names
#: they would be replaced by the preprocessor.
C_MACROS = frozenset("assert errno EOF NULL stdin stdout stderr offsetof setjmp".split()) | \
    c_names.MACROS

#: Names the generated code defines in the schema's namespace (or needs to refer to).
GENERATED_NAMES = frozenset("""
cmd id error schema_hash fail to_string from_string error_message client_stub register_commands
call_stub command_list command_info encode_binary decode_binary encode_json decode_json read_json
write_json std ember fmt asio simdjson detail
""".split()) | frozenset(SCALARS) | frozenset(CONTAINERS)

IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def ident_problem(name: str, label: str = "", *, generated_ok: bool = False) -> str | None:
    """Why `name` cannot be an identifier of the generated code, or None. `label` says which
    name of the item it is when it is not the item's own (e.g. "server name"). Names starting
    with `_` or holding `__` are reserved to the C++ implementation; a trailing `_` is how the
    generated code spells its own parameters and members."""
    quoted = f"{label} '{name}'" if label else f"'{name}'"
    if not IDENT.match(name) or "__" in name or name.endswith("_"):
        return (f"invalid {quoted if label else 'name'}: use letters, digits and '_', starting "
                "with a letter, without '__' or a trailing '_'")
    if name in CPP_KEYWORDS:
        return f"{quoted} is a C++ keyword"
    if name in C_MACROS:
        return (f"{quoted} is a macro of the C library or of a header the generated code "
                "includes; rename it")
    if not generated_ok and name in GENERATED_NAMES:
        return f"{quoted} is a name the generated code uses"
    return None


#: Members of every `cmd::NAME` descriptor: a command or call of that name would be a class
#: with a member of its own name.
CMD_MEMBERS = ("id", "name", "server", "ordered", "internal", "request", "reply")
#: Members of a push's struct.
PUSH_MEMBERS = ("push_id", "push_name")
#: Members of a table's `NAME_table` and of its lookups' structs, where lookups are declared.
TABLE_MEMBERS = ("row", "key_type", "name", "generated_key", "flush_interval", "flush_batch",
                 "key_of", "set_key", "for_each_column", "sql", "columns", "lookups",
                 "value_type", "of")


def scope_problem(name: str, kind: str, schema: str, owner: str = "") -> str | None:
    """Why `name`, the name of a `kind` of item ("schema", "field", "command", "call", "push",
    "lookup", "type"), would clash in the scope the generated code declares it in, or None. `schema` is
    the schema's name (its namespace); `owner` the command's server or the lookup's table."""
    if kind == "schema":
        if name in c_names.GLOBALS:
            return (f"'{name}' is declared in the global namespace by a header the generated "
                    "code includes (the C library, POSIX or a library ember uses), where the "
                    "schema's namespace would go; rename the schema")
        return None
    if name == schema and kind != "server":
        return (f"'{name}' is the schema's name: inside it the generated code could not name "
                f"the namespace '{schema}'; rename one of them")
    if kind == "field" and name == "std":
        return "'std' would hide namespace std in the generated struct; rename the field"
    if kind in ("command", "call") and name in CMD_MEMBERS:
        return (f"'{name}' is a member of every generated descriptor (cmd::{name}::{name}); "
                f"rename the {kind}")
    if kind == "command" and name == "Cmd":
        return "'Cmd' is the template parameter of client_stub's methods; rename the command"
    if kind == "call" and name == "Target":
        return "'Target' is the template parameter of call_stub; rename the call"
    if kind in ("command", "call") and name == owner + "_handler":
        return f"'{name}' is the class of its server's handler; rename the {kind}"
    if kind == "push" and name in PUSH_MEMBERS:
        return f"'{name}' is a member of every generated push struct; rename the push"
    if kind == "lookup" and (name in TABLE_MEMBERS or name == owner + "_table"):
        return (f"'{name}' is a member the generated '{owner}_table' (or its lookups) defines; "
                "rename the lookup")
    return None


#: Characters a doc or message may not hold: controls other than tab and line feed (a lone
#: carriage return ends a line for the compiler but not for a reader), and the bidirectional
#: controls that make code read differently from how it compiles (g++ warns of them).
_BAD_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                        "\u202a-\u202e\u2066-\u2069]")


def text_problem(text: str) -> str | None:
    """Why `text` (a doc, an error message or a deprecation reason) cannot be written into the
    generated C++ as it stands, or None. Docs become `///` comments, one per line: a line that
    ends with a backslash (or the trigraph `??/`) would continue the comment onto the next
    line of code. Quotes, `*/` and the like are harmless there and escaped in strings."""
    m = _BAD_CHARS.search(text)
    if m:
        return (f"holds the control character U+{ord(m.group(0)):04X}: write it out in words "
                "or remove it")
    for line in text.splitlines():
        stripped = line.rstrip()
        if stripped.endswith("\\") or stripped.endswith("??/"):
            return ("has a line ending with a backslash, which would continue the generated "
                    "// comment onto the next line of code: end the line with another character")
    return None
