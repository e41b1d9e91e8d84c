"""Finds the line of a schema item in the TOML text, for error messages.

tomllib reports no positions, so lines come from scanning the text: the n-th `[[command]]`
header starts the n-th command, and inside it `id = 101` or `name = "login"` is looked up.
This is exact for schemas written like examples/chat/chat.toml (array-of-tables headers,
one inline table per field) and approximate for other layouts (then the nearest header's
line, or none).
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\]\]?\s*(#.*)?$")


class SourceMap:
    def __init__(self, text: str):
        self.lines = text.splitlines()
        # (line number, is_array, dotted name)
        self.headers: list[tuple[int, bool, str]] = []
        for i, line in enumerate(self.lines, start=1):
            m = _HEADER.match(line)
            if m:
                self.headers.append((i, m.group(1) == "[[", m.group(2)))

    def section(self, kind: str, index: int | None = None) -> tuple[int, int] | None:
        """Lines (first, last) of `[[kind]]` number `index` (0-based), or of `[kind]` when
        index is None; sub-tables such as `[[kind.fields]]` belong to it."""
        count = -1
        for pos, (line, is_array, name) in enumerate(self.headers):
            if name != kind or is_array != (index is not None):
                continue
            count += 1
            if index is not None and count != index:
                continue
            end = len(self.lines)
            for later, _, later_name in self.headers[pos + 1:]:
                if not later_name.startswith(kind + "."):
                    end = later - 1
                    break
            return line, end
        return None

    def find(self, pattern: str, first: int = 1, last: int | None = None) -> int | None:
        """The first line in [first, last] matching the regex `pattern`."""
        rx = re.compile(pattern)
        last = len(self.lines) if last is None else last
        for i in range(max(first, 1), min(last, len(self.lines)) + 1):
            if rx.search(_strip_comment(self.lines[i - 1])):
                return i
        return None

    def locate(self, kind: str, index: int | None, *patterns: str) -> int:
        """The line of an item: inside its section, the line matching the first pattern;
        searching on from there for each following one (from the next line when a pattern
        repeats the one before). Falls back to the last line found,
        the section's header, or a match anywhere in the file; 0 when nothing matches."""
        sec = self.section(kind, index)
        if sec is None:
            if patterns:
                found = self.find(patterns[0])
                return found or 0
            return 0
        first, last = sec
        line = first
        previous = None
        for pat in patterns:
            # a repeated pattern means the next occurrence; another may be on the same line
            found = self.find(pat, line + 1 if pat == previous else line, last)
            if found is None:
                break
            line = found
            previous = pat
        return line


def _strip_comment(line: str) -> str:
    """The line without a trailing comment (a '#' outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def key_pattern(key: str, value: object | None = None) -> str:
    """A regex for `key = value` (value as TOML spells it) or just `key =`."""
    k = r"(?<![A-Za-z0-9_])" + re.escape(key) + r"\s*="
    if value is None:
        return k
    if isinstance(value, str):
        v = "[\"']" + re.escape(value) + "[\"']"
    elif isinstance(value, bool):
        v = "true" if value else "false"
    else:
        v = re.escape(str(value)) + r"(?![0-9])"
    return k + r"\s*" + v
