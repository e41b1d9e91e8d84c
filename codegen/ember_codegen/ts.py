"""TypeScript back end of ember-codegen (`--lang ts`): NAME.ts (interfaces, enums, command and
push ids, and a codec per message) and a copy of the runtime it imports, ember.ts
(codegen/runtime/ts/ember.ts: the binary and JSON codecs, byte for byte as ember's C++ ones).

Enums are plain objects (`export const color = { none: 0, ... } as const`) with a type of the
same name, not `const enum`s: an object is a real value at run time (the JSON codec needs the
names), works under `isolatedModules` and with any bundler or a browser loading the module as
it is, and takes value names that are words of JavaScript (`default`) as property names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from . import backend
from .model import Schema, Type

RUNTIME = Path(__file__).resolve().parent.parent / "runtime" / "ts" / "ember.ts"
#: The client runtime (WebSocket sessions) the generated `Client` class extends.
CLIENT_RUNTIME = RUNTIME.with_name("client.ts")

#: Names a top-level declaration of the generated module may not take: JavaScript's reserved
#: words, TypeScript's built-in type names, and what the module itself exports.
TS_RESERVED = frozenset("""
    arguments await break case catch class const continue debugger default delete do else enum
    eval export extends false finally for function if implements import in instanceof interface
    let new null package private protected public return static super switch this throw true
    try typeof var void while with yield
    any bigint boolean never number object string symbol undefined unknown type declare
    namespace module abstract as asserts infer is keyof readonly require global
    commands pushes errors schema_hash Client
""".split())

#: Members of the client runtime's EmberClient that a generated Client inherits: a command
#: method or push handler may not take their names.
CLIENT_MEMBERS = frozenset("""
    constructor connect close call onPush onResumed onClosed onError sessionId connected resumes
    socket newRequestId __proto__
""".split())


def push_handler(name: str) -> str:
    """The Client method that hears push `name`: `chat_message` -> `onChatMessage`."""
    return "on" + "".join(part[:1].upper() + part[1:] for part in name.split("_"))

SCALARS = {"bool": "boolean", "f32": "number", "f64": "number", "string": "string",
           "bytes": "$e.Bytes", "i64": "bigint", "u64": "bigint"}


def ts_type(t: Type) -> str:
    """The TypeScript type of a field (optional<T> is `T` on a property marked `?`)."""
    if t.kind in ("enum", "struct"):
        return t.ref
    if t.kind == "list":
        inner = ts_type(t.elem)
        return f"{inner}[]"
    if t.kind == "map":
        return f"$e.StrMap<{ts_type(t.elem)}>"
    if t.kind == "optional":
        return ts_type(t.elem)
    return SCALARS.get(t.spelling, "number")


def table_type(t: Type) -> str:
    """The runtime's description of a field type: `$e.u32`, `$e.list($e.structOf($tree))`."""
    if t.kind in ("list", "map", "optional"):
        return f"$e.{t.kind}({table_type(t.elem)})"
    if t.kind == "enum":
        return f"$e.enumOf(${t.ref})"
    if t.kind == "struct":
        return f"$e.structOf({t.ref}.info)"
    return f"$e.{t.spelling}"


def js_string(text: str) -> str:
    """A JavaScript string literal (JSON's escaping; U+2028/9 are escaped by ensure_ascii)."""
    return json.dumps(text, ensure_ascii=True)


def line_comment(text: str) -> str:
    """`text` made safe for a `//` comment: JavaScript ends a line comment at U+2028 and U+2029
    too (the front end already refuses other line breaks inside a line)."""
    return str(text).replace("\u2028", " ").replace("\u2029", " ").replace("\r", " ").replace("\n", " ")


def doc_comment(text: str, indent: str = "") -> str:
    """A /** ... */ comment, or "" (a `*/` in the text is broken up)."""
    lines = [line.replace("*/", "*\\/") for line in backend.doc_lines(text)] if text else []
    if not lines:
        return ""
    if len(lines) == 1:
        return f"{indent}/** {lines[0]} */\n"
    body = "".join(f"{indent} *{' ' + line if line else ''}\n" for line in lines)
    return f"{indent}/**\n{body}{indent} */\n"


def problems(schema: Schema, path: str) -> list[str]:
    """Why this schema has no TypeScript module (names TypeScript cannot declare), one line
    each as the front end writes them (`path:LINE: WHAT 'NAME': ...`), or []."""
    out = []
    items = [("enum", e.name, e.line) for e in schema.enums] + \
        [("struct" if m.origin == "struct" else m.origin, m.name, m.line) for m in schema.messages]
    for what, name, line in sorted(items, key=lambda x: x[2]):
        if name in TS_RESERVED:
            where = f"{path}:{line}" if line else path
            out.append(f"{where}: {what} '{name}': '{name}' is a JavaScript reserved word, a "
                       f"TypeScript type or a name the generated module exports; rename it "
                       f"for --lang ts")
    methods = {}  # the generated Client's method names
    for what, name, line, method in sorted(
            [("command", c.name, c.line, c.name) for c in schema.commands] +
            [("push", p.name, p.line, push_handler(p.name)) for p in schema.pushes],
            key=lambda x: x[2] or 0):
        where = f"{path}:{line}" if line else path
        if method in CLIENT_MEMBERS:
            out.append(f"{where}: {what} '{name}': the generated Client's method '{method}' would "
                       f"hide the client runtime's; rename it for --lang ts")
        elif method in methods:
            out.append(f"{where}: {what} '{name}': the generated Client's method '{method}' is "
                       f"also the method of {methods[method]}; rename one for --lang ts")
        methods.setdefault(method, f"{what} '{name}'")
    return out


def render(schema: Schema) -> tuple[dict[str, str], list[str]]:
    """({file name: text}, [files read]) of the TypeScript output."""
    env, loader = backend.environment()
    env.filters["ts_type"] = ts_type
    env.filters["ts_table_type"] = table_type
    env.filters["js_string"] = js_string
    env.filters["doc_comment"] = doc_comment
    env.filters["line_comment"] = line_comment
    env.filters["push_handler"] = push_handler
    messages = [m for m in schema.messages
                if not any(m in (c.request, c.reply) for c in schema.calls)]
    used = set()  # enums some field refers to: the others need no table (noUnusedLocals)
    for m in messages:
        for f in m.fields:
            t = f.type.elem if f.type.elem is not None else f.type
            if t.kind == "enum":
                used.add(t.ref)
    text = env.get_template("ts/schema.ts.j2").render(
        schema=schema, messages=messages, used_enums=used, hash_hex=f"0x{schema.hash:016x}")
    files = {f"{schema.name}.ts": backend._tidy(text),
             "ember.ts": RUNTIME.read_text(encoding="utf-8"),
             "client.ts": CLIENT_RUNTIME.read_text(encoding="utf-8")}
    return files, sorted(loader.used | {str(RUNTIME), str(CLIENT_RUNTIME)})


#: An npm package's name (npm's rules: lower case, URL-safe, optionally @scope/name, ≤ 214).
NPM_NAME = re.compile(r"^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$")


def npm_package(schema: Schema, name: str, version: str) -> dict[str, str]:
    """package.json and tsconfig.json beside the generated sources, so the output directory is
    an npm package: `npm run build` (tsc) writes dist/ with JavaScript and declarations, and
    a game's web project depends on it (`"chat-client": "file:../net/chat"`, or a registry) and
    imports `Client` from it. ES modules only: what browsers and bundlers load."""
    main = schema.name
    package = {
        "name": name,
        "version": version,
        "description": f"Client of the ember schema {schema.name} (generated by ember-codegen --lang ts)",
        "type": "module",
        "main": f"./dist/{main}.js",
        "types": f"./dist/{main}.d.ts",
        "exports": {
            ".": {"types": f"./dist/{main}.d.ts", "default": f"./dist/{main}.js"},
            "./ember": {"types": "./dist/ember.d.ts", "default": "./dist/ember.js"},
            "./client": {"types": "./dist/client.d.ts", "default": "./dist/client.js"},
        },
        "files": ["dist", "*.ts", "tsconfig.json"],
        "sideEffects": False,
        "scripts": {"build": "tsc -p ."},
        "devDependencies": {"typescript": "^5"},
    }
    tsconfig = {
        "compilerOptions": {
            "target": "ES2020", "module": "ES2020", "moduleResolution": "node",
            "lib": ["ES2020", "DOM"], "strict": True, "declaration": True,
            "outDir": "dist", "rootDir": ".", "skipLibCheck": True,
        },
        "files": [f"{main}.ts", "ember.ts", "client.ts"],
    }
    return {"package.json": json.dumps(package, indent=2) + "\n",
            "tsconfig.json": json.dumps(tsconfig, indent=2) + "\n"}
