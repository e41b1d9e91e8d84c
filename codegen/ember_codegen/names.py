"""Names and texts of a schema: what may become a C++ identifier, a comment or a string.

`ident_problem` says why a name cannot be an identifier of the generated code; the rest of
the scope rules (what each generated scope defines) are in `crossref.py`.
"""

from __future__ import annotations

import re

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

#: Macros of the C and C++ libraries: as names they would be replaced by the preprocessor.
C_MACROS = frozenset("assert errno EOF NULL stdin stdout stderr offsetof setjmp".split())

#: Names the generated code defines in the schema's namespace (or needs to refer to).
GENERATED_NAMES = frozenset("""
cmd id error schema_hash fail to_string from_string error_message client_stub register_commands
call_stub command_list command_info encode_binary decode_binary encode_json decode_json read_json
write_json std ember fmt asio simdjson detail
""".split()) | frozenset(SCALARS) | frozenset(CONTAINERS)


IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def ident_problem(name: str, label: str = "", *, generated_ok: bool = False) -> str | None:
    """Why `name` cannot be an identifier of the generated code, or None. `label` says which
    name of the item it is when it is not the item's own (e.g. "server name"). Names starting with `_` or holding `__`
    are reserved to the C++ implementation; a trailing `_` is how the generated code spells
    its own parameters and members."""
    quoted = f"{label} '{name}'" if label else f"'{name}'"
    if not IDENT.match(name) or "__" in name or name.endswith("_"):
        return (f"invalid {quoted if label else 'name'}: use letters, digits and '_', starting with a letter, "
                "without '__' or a trailing '_'")
    if name in CPP_KEYWORDS:
        return f"{quoted} is a C++ keyword"
    if name in C_MACROS:
        return f"{quoted} is a macro of the C library"
    if not generated_ok and name in GENERATED_NAMES:
        return f"{quoted} is a name the generated code uses"
    return None
