"""Field types: the scalar spellings and parsing a type such as `map<string, list<u32>>`."""

from __future__ import annotations

import re

from .model import Enum, Type

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

_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[<>,])")


#: The deepest `<...>` a type spelling may have. Valid types nest one container (`list<T>`);
#: deeper ones are refused with a reason, and past this the spelling is not even parsed.
MAX_TYPE_NESTING = 4


class TypeProblem(Exception):
    pass


def _shown(spelling: str) -> str:
    """A type spelling as messages quote it: at most 60 characters."""
    return spelling if len(spelling) <= 60 else spelling[:57] + "..."


def parse_type(spelling: str, enums: dict[str, Enum], structs: set[str]) -> Type:
    """Parses a type spelling such as `map<string, list<u32>>` (which it refuses)."""
    tokens = []
    pos = 0
    text = spelling.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise TypeProblem(f"invalid type '{_shown(spelling)}'")
        tokens.append(m.group(1))
        pos = m.end()
    if not tokens:
        raise TypeProblem("empty type")
    depth = deepest = 0
    for tok in tokens:
        depth += {"<": 1, ">": -1}.get(tok, 0)
        deepest = max(deepest, depth)
    if deepest > MAX_TYPE_NESTING:
        raise TypeProblem(f"type '{_shown(spelling)}' nests <...> deeper than "
                          f"{MAX_TYPE_NESTING} levels: a field has at most one container; wrap "
                          "the inner one in a struct")
    t, rest = _parse(tokens, spelling, enums, structs)
    if rest:
        raise TypeProblem(f"invalid type '{_shown(spelling)}'")
    return t


def _parse(tokens: list[str], spelling: str, enums, structs) -> tuple[Type, list[str]]:
    if not tokens or not re.match(r"[A-Za-z_]", tokens[0]):
        raise TypeProblem(f"invalid type '{_shown(spelling)}'")
    head, rest = tokens[0], tokens[1:]
    if head in CONTAINERS:
        if not rest or rest[0] != "<":
            raise TypeProblem(f"invalid type '{_shown(spelling)}': {head} needs <...>")
        rest = rest[1:]
        if head == "map":
            if not rest or rest[0] != "string" or len(rest) < 2 or rest[1] != ",":
                raise TypeProblem(f"invalid type '{_shown(spelling)}': map keys must be string, as in "
                                  "map<string, T>")
            rest = rest[2:]
        elem, rest = _parse(rest, spelling, enums, structs)
        if not rest or rest[0] != ">":
            raise TypeProblem(f"invalid type '{_shown(spelling)}'")
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
            raise TypeProblem(f"type '{_shown(spelling)}': an optional optional is not supported")
        if head == "optional":
            raise TypeProblem(f"type '{_shown(spelling)}': an optional {inner} is not supported; an "
                              f"empty {inner} is already absent on the wire")
        plural = {"list": "lists", "map": "maps", "optional": "optionals"}[inner]
        raise TypeProblem(f"type '{_shown(spelling)}': a {head} of {plural} is not supported; wrap it in "
                          "a struct")
    if head == "list":
        return Type("list", f"list<{elem.spelling}>", f"std::vector<{elem.cpp}>", elem)
    if head == "map":
        return Type("map", f"map<string,{elem.spelling}>",
                    f"std::map<std::string, {elem.cpp}>", elem)
    return Type("optional", f"optional<{elem.spelling}>", f"std::optional<{elem.cpp}>", elem)

