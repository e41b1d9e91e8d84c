"""Reading a schema's TOML: syntax errors in the user's words, with FILE:LINE:COL, and a limit
on nesting (tomllib recurses once per level and would crash with a RecursionError).
"""

from __future__ import annotations

import re
import tomllib

from .checks import SchemaError

#: The deepest nesting of arrays and inline tables a schema may have. A schema needs 2 (a field
#: list of inline tables); the limit leaves room and keeps the parser far from Python's stack.
MAX_NESTING = 16

_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")
_KEY_TUPLE = re.compile(r"\((?:'[^']*'(?:, )?)+,?\)")

#: tomllib's wording (a regex on its message) -> plain words and what to do.
_PLAIN = (
    (r"Expected '=' after a key in a key/value pair",
     "expected '=' after the key: each line is `key = value`, a [table] or an [[array]] header"),
    (r"Invalid statement",
     "this line is not `key = value`, a [table] or an [[array]] header"),
    (r"Cannot declare (.*) twice", r"table [\1] is declared twice: merge the two"),
    (r"Cannot redefine namespace (.*)", r"table [\1] is declared twice: merge the two"),
    (r"Cannot mutate immutable namespace (.*)",
     r"'\1' was written as an inline table or array and cannot be added to here"),
    (r"Cannot overwrite a value", "this key already has a value: give each key once"),
    (r"Duplicate inline table key '(.*)'", r"key '\1' is given twice in one inline table"),
    (r"Unclosed array", "an array is not closed: add the missing ']'"),
    (r"Unclosed inline table",
     "an inline table is not closed: add the missing '}' (an inline table is one line)"),
    (r"Unterminated string", "a string is not closed: add the missing quote"),
    (r"Illegal character '\\n'",
     "a line break inside a one-line string: close the string, or use \"\"\"...\"\"\" for text "
     "of several lines"),
    (r"Illegal character (.*)", r"the character \1 is not allowed here"),
    (r"Found invalid character (.*)", r"the character \1 is not allowed here"),
    (r"Expected newline or end of document after a statement",
     "unexpected text after the value: write one `key = value` per line"),
    (r"Invalid value",
     "invalid value: strings need quotes (\"...\"), arrays [...], tables { ... }"),
    (r"Invalid initial character for a key part",
     "invalid key: use letters, digits, '_' and '-', or quote the key"),
    (r"Expected '\]' at the end of a table declaration",
     "a table header needs its closing ']'"),
    (r"Expected '\]\]' at the end of an array declaration",
     "an array-of-tables header needs its closing ']]'"),
    (r"Unescaped '\\\\' in a string",
     "a backslash in a string starts an escape: write '\\\\' for a backslash"),
    (r"Invalid hex value|Escaped character is not a Unicode scalar value",
     "invalid \\u or \\U escape in a string"),
    (r"Invalid date or datetime", "invalid date or time"),
    (r"Expected (.*)", r"expected \1"),
)


def plain_words(message: str) -> str:
    """tomllib's message in the words of a schema's author: keys as `a.b`, not tuples."""
    message = _KEY_TUPLE.sub(lambda m: ".".join(re.findall(r"'([^']*)'", m.group(0))), message)
    for pattern, words in _PLAIN:
        m = re.fullmatch(pattern, message)
        if m:
            return m.expand(words)
    return message[:1].lower() + message[1:]


def _too_deep(text: str) -> tuple[int, int] | None:
    """(line, column) where arrays and inline tables nest deeper than MAX_NESTING, or None.
    Skips strings and comments, so brackets inside them do not count."""
    depth, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if ch in "\"'":
            triple = text.startswith(ch * 3, i)
            close = ch * 3 if triple else ch
            j = i + len(close)
            while j < n and not text.startswith(close, j):
                if ch == '"' and text[j] == "\\":
                    j += 1
                elif not triple and text[j] == "\n":
                    break
                j += 1
            i = j + len(close)
            continue
        if ch in "[{":
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, i) + 1
                return line, i - (text.rfind("\n", 0, i) + 1) + 1
        elif ch in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return None


def read_toml(text: str, path: str) -> dict:
    """The TOML `text` as data; a syntax error raises SchemaError with one message
    `PATH:LINE:COL: invalid TOML: ...`."""
    deep = _too_deep(text)
    if deep:
        line, col = deep
        raise SchemaError([f"{path}:{line}:{col}: invalid TOML: arrays and inline tables nest "
                           f"deeper than {MAX_NESTING} levels: a schema needs 2 (a list of "
                           f"fields); flatten it"])
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = _POSITION.search(msg)
        if m and m.group(1):
            where = f"{m.group(1)}:{m.group(2)}"
        else:
            lines = text.splitlines() or [""]
            where = f"{len(lines)}:{len(lines[-1]) + 1}"
        msg = msg[: m.start()] if m else msg
        raise SchemaError([f"{path}:{where}: invalid TOML: {plain_words(msg)}"]) from None
    except RecursionError:
        # Deep nesting that the scan above did not see (dotted keys, say): refuse it cleanly.
        raise SchemaError([f"{path}: invalid TOML: nested too deeply to read; flatten it"]) \
            from None
