"""The passes over the schema's tables that need no resolved types: [schema], [reserved],
[[enum]], [[struct]], [[command]], [[call]], [[push]], [[error]] and the fields of their
messages. Each collects drafts (`MsgDraft`) or finished model items, leaving out items with
problems so that later checks see only sound ones."""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field

from .checks import Checks, at
from .model import Command, Enum, EnumValue, ErrorCode, Message, Push
from .names import CPP_KEYWORDS, C_MACROS, IDENT
from .rules import INT32_MAX, INT32_MIN, MAX_ID, MAX_TAG, MIN_ERROR_CODE
from .source import key_pattern


# --- drafts: what the first pass collects before types are resolved


@dataclass
class FieldDraft:
    tag: int
    name: str
    spelling: str
    doc: str
    secret: bool
    line: int
    deprecated: str | None = None


@dataclass
class MsgDraft:
    name: str
    origin: str
    desc: str  # how messages name it: "struct 'x'", "command 'login' request"
    fields: list[FieldDraft]
    doc: str
    line: int
    reserved_tags: list[int] = dc_field(default_factory=list)
    reserved_names: list[str] = dc_field(default_factory=list)
    push_id: int | None = None
    push_name: str | None = None



class Items(Checks):
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
        self.check_keys(t, ("name", "doc", "imports"), ("name",), what, line)
        self.imports_key(t)
        self.check_type(t, "name", "str", what, line)
        self.check_type(t, "doc", "str", what, line)
        if isinstance(name, str):
            line = self.src.locate("schema", None, key_pattern("name", name)) or line
            if self.check_ident(name, what, line, scope="schema"):
                self.schema_name = name
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

    def enum_tables(self) -> None:
        for i, t in enumerate(self.items("enum")):
            name, what, line = self.named("enum", i, t)
            self.check_keys(t, ("name", "values", "doc"), ("name", "values"), what, line,
                            self.key_line("enum", i))
            if not (self.check_type(t, "name", "str", what, line)
                    and self.check_type(t, "doc", "str", what, line)
                    and self.check_type(t, "values", "table", what, line)) or name is None:
                continue
            self.check_ident(name, what, line, scope="type")
            raw = t.get("values", {})
            values = []
            seen: dict[int, str] = {}
            for vname, v in raw.items():
                vline = self.src.locate("enum", i, key_pattern("values"),
                                        key_pattern(vname) if IDENT.match(vname) else "")
                if not isinstance(v, int) or isinstance(v, bool):
                    self.error(vline, what, f"value '{vname}' must be an integer")
                    continue
                if not IDENT.match(vname) or "__" in vname or vname.endswith("_"):
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
               reserved_tags: list[int], reserved_names: list[str]) -> list[FieldDraft]:
        """Checks the field tables of message `msg`, declared under `list_key`."""
        out: list[FieldDraft] = []
        tags: dict[int, FieldDraft] = {}
        names: dict[str, FieldDraft] = {}
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
            if not self.check_keys(f, ("tag", "name", "type", "doc", "secret", "deprecated"),
                                   ("tag", "name", "type"), what, line):
                continue
            if not all([self.check_type(f, "tag", "int", what, line),
                        self.check_type(f, "name", "str", what, line),
                        self.check_type(f, "type", "str", what, line),
                        self.check_type(f, "doc", "str", what, line),
                        self.check_type(f, "secret", "bool", what, line)]):
                continue
            if not self.check_ident(name, what, line, generated_ok=True, scope="field"):
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
                                       f"{at(other.line)}")
                continue
            if name in names:
                self.error(line, what, f"name already used by field '{msg}.{name}'"
                                       f"{at(names[name].line)}")
                continue
            d = FieldDraft(tag, name, f["type"], f.get("doc", ""), f.get("secret", False), line,
                           self.deprecation(f, what, line))
            tags[tag] = names[name] = d
            out.append(d)
        return out

    def struct_tables(self) -> None:
        for i, t in enumerate(self.items("struct")):
            name, what, line = self.named("struct", i, t)
            allowed = ("name", "fields", "doc", "reserved_tags", "reserved_names")
            self.check_keys(t, allowed, ("name", "fields"), what, line, self.key_line("struct", i))
            if not (self.check_type(t, "name", "str", what, line)
                    and self.check_type(t, "doc", "str", what, line)
                    and self.check_type(t, "fields", "tables", what, line)) or name is None:
                continue
            self.check_ident(name, what, line, scope="type")
            if name in self.reserved_names:
                self.error(line, what, "name is reserved")
            rtags, rnames = self.reserved_of(t, "", what, line)
            fields = self.fields(t.get("fields", []), "struct", i, "fields", name, rtags, rnames)
            self.structs.append(MsgDraft(name, "struct", what, fields, t.get("doc", ""), line,
                                          rtags, rnames))

    def served_tables(self, kind: str) -> list[tuple[Command, MsgDraft, MsgDraft]]:
        """The [[command]]s (kind "command") or [[call]]s ("call"): the same keys, except
        that calls have no `ordered` (a server's calls to another always overlap)."""
        out = []
        for i, t in enumerate(self.items(kind)):
            name, what, line = self.named(kind, i, t)
            allowed = ("id", "name", "server", "request", "reply", "doc",
                       "request_reserved_tags", "request_reserved_names",
                       "reply_reserved_tags", "reply_reserved_names", "deprecated")
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
            self.check_ident(name, what, line, scope=kind, owner=t.get("server") or "")
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
                drafts.append(MsgDraft(f"{name}_{part}", part, f"{what} {part}", fields,
                                        "", line, rtags, rnames))
            internal = kind == "call"
            ordered = not internal and t.get("ordered", True)
            cmd = Command(cid, name, server, ordered, None, None, t.get("doc", ""), line,
                          internal, self.deprecation(t, what, line))
            out.append((cmd, drafts[0], drafts[1]))
        return out

    def push_tables(self) -> None:
        for i, t in enumerate(self.items("push")):
            name, what, line = self.named("push", i, t)
            allowed = ("id", "name", "fields", "doc", "reserved_tags", "reserved_names",
                       "deprecated")
            self.check_keys(t, allowed, ("id", "name", "fields"), what, line,
                            self.key_line("push", i))
            if not all([self.check_type(t, "id", "int", what, line),
                        self.check_type(t, "name", "str", what, line),
                        self.check_type(t, "doc", "str", what, line),
                        self.check_type(t, "fields", "tables", what, line)]) or name is None:
                continue
            self.check_ident(name, what, line, scope="push")
            if name in self.reserved_names:
                self.error(line, what, "name is reserved")
            if "id" not in t or "fields" not in t:
                continue
            rtags, rnames = self.reserved_of(t, "", what, line)
            fields = self.fields(t["fields"], "push", i, "fields", name, rtags, rnames)
            msg = MsgDraft(name, "push", what, fields, t.get("doc", ""), line, rtags, rnames,
                            push_id=t["id"], push_name=name)
            self.pushes.append((Push(t["id"], name, None, t.get("doc", ""), line,
                                     self.deprecation(t, what, line)), msg))

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
                                        f"{at(clash.line)}")
                continue
            clash = next((e for e in self.errors_defs if e.name == name), None)
            if clash:
                self.error(line, what, f"name already used by error '{name}'{at(clash.line)}")
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

