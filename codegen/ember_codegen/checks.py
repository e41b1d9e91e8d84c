"""Reporting and the small checks every item of a schema goes through: its keys, the TOML
types of their values, its name.

Every problem becomes one message `FILE:LINE: WHAT 'NAME': PROBLEM` (schemas/README.md lists
them); all problems of a schema are reported together, sorted by line.
"""

from __future__ import annotations

import re

from .names import ident_problem, scope_problem, text_problem
from .source import SourceMap, key_pattern


#: Keys whose string values are prose that the generated code carries (comments, strings).
TEXT_KEYS = ("doc", "message", "deprecated")


class SchemaError(Exception):
    """The schema is invalid; `messages` holds one line per problem."""

    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


def at(line: int) -> str:
    """" (line N)": where the other item of a clash is."""
    return f" (line {line})" if line else ""


class Checks:
    """The state every pass shares (the text's positions, the problems found) and the checks
    of single values."""

    def __init__(self, path: str, text: str, data: dict):
        self.path = path
        self.src = SourceMap(text)
        self.data = data
        self.errors: list[tuple[int, str]] = []
        self.schema_name = ""  # set by the [schema] pass, the first

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
            "flag_or_text": isinstance(v, (bool, str)),
        }[kind]
        if good and isinstance(v, str) and key in TEXT_KEYS:
            problem = text_problem(v)
            if problem:
                self.error(line, what, f"'{key}' {problem}")
                return False
        if not good:
            words = {
                "int": "an integer", "str": "a string", "bool": "true or false",
                "table": "a table", "array": "an array", "int_list": "an array of integers",
                "str_list": "an array of strings", "tables": "an array of tables",
                "flag_or_text": "true, false or a string (the reason)",
            }
            self.error(line, what, f"'{key}' must be {words[kind]}")
        return good

    def check_ident(self, name: str, what: str, line: int, *, generated_ok: bool = False,
                    label: str = "", scope: str = "", owner: str = "") -> bool:
        """Checks that `name` can be a C++ identifier of the generated code; `label` says
        which name of the item it is when it is not the item's own (e.g. "server name").
        With `scope` (the kind of item: "field", "command", ...), also that it does not clash
        with what the generated code declares where it declares the item (names.scope_problem;
        `owner` is the command's server or the lookup's table)."""
        problem = ident_problem(name, label, generated_ok=generated_ok)
        if problem is None and scope:
            problem = scope_problem(name, scope, self.schema_name, owner)
        if problem:
            self.error(line, what, problem)
        return problem is None

    def deprecation(self, t: dict, what: str, line: int) -> str | None:
        """The `deprecated` key of an item: None when absent or false, else the reason ("" for
        `true`); reports a value of the wrong type."""
        if not self.check_type(t, "deprecated", "flag_or_text", what, line):
            return None
        v = t.get("deprecated", False)
        if v is True:
            return ""
        return v or None

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

    def reserved_of(self, t: dict, prefix: str, what: str, line: int) -> tuple[list, list]:
        tags = names = []
        if self.check_type(t, prefix + "reserved_tags", "int_list", what, line):
            tags = t.get(prefix + "reserved_tags", [])
        if self.check_type(t, prefix + "reserved_names", "str_list", what, line):
            names = t.get(prefix + "reserved_names", [])
        return tags, names

