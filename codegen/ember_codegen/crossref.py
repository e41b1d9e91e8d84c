"""The checks across items, once each is sound on its own: names that the generated C++
would declare twice in one scope, ids used twice, struct cycles; and resolving field types."""

from __future__ import annotations

from .checks import at
from .items import MsgDraft
from .model import Enum, Field, Message
from .rules import MAX_MESSAGE_ID, MAX_STRUCT_NESTING
from .source import key_pattern
from .tables import Tables
from .types import CONTAINERS, TypeProblem, parse_type


class CrossChecks(Tables):
    # --- types

    def resolve(self, draft: MsgDraft, enums: dict[str, Enum], structs: set[str]) -> Message:
        fields = []
        for f in draft.fields:
            try:
                t = parse_type(f.spelling, enums, structs)
            except TypeProblem as p:
                self.error(f.line, f"field '{draft.name}.{f.name}'", str(p))
                continue
            fields.append(Field(f.tag, f.name, t, f.doc, f.secret, f.line, f.deprecated))
        return Message(draft.name, draft.origin, fields, draft.doc, draft.line,
                       draft.reserved_tags, draft.reserved_names, draft.push_id, draft.push_name)

    def order_structs(self, structs: list[Message]) -> list[Message]:
        """Structs with the ones they contain by value first (the others are declared at the
        top of the header). A struct may contain itself only through list<...> (std::vector
        accepts an incomplete element type). Walks without recursion: a long chain of structs
        must not exhaust Python's stack."""
        by_name = {s.name: s for s in structs}
        ordered: list[Message] = []
        height: dict[str, int] = {}  # structs in the longest by-value chain from here
        reported: set[str] = set()
        for s in structs:
            if s.name in height:
                continue
            # (struct, its by-value dependencies, next to look at); `path` is the stack's fields
            stack = [(s.name, _by_value(by_name[s.name]), 0)]
            path: list[tuple[str, Field]] = []
            on_stack = {s.name}
            while stack:
                name, deps, i = stack[-1]
                if i == len(deps):
                    stack.pop()
                    on_stack.discard(name)
                    if path:
                        path.pop()
                    height[name] = 1 + max((height.get(d, 0) for d, _ in deps), default=0)
                    ordered.append(by_name[name])
                    continue
                stack[-1] = (name, deps, i + 1)
                dep, f = deps[i]
                if dep in on_stack:
                    self.report_cycle(by_name[dep], path + [(name, f)], reported)
                elif dep not in height:
                    path.append((name, f))
                    on_stack.add(dep)
                    stack.append((dep, _by_value(by_name[dep]), 0))
        self.fail_if_errors()
        for s in structs:
            if height[s.name] > MAX_STRUCT_NESTING:
                self.error(s.line, f"struct '{s.name}'",
                           f"nests structs {height[s.name]} deep: ember's decoders refuse more "
                           f"than {MAX_STRUCT_NESTING} (ember::codec::max_depth); flatten it "
                           "or break the chain with a list<...>")
        return ordered

    def report_cycle(self, s: Message, path: list[tuple[str, Field]], reported: set[str]):
        """Reports struct `s`, which contains itself by value through the fields of `path`."""
        if s.name in reported:
            return
        reported.add(s.name)
        start = next(i for i, (n, _) in enumerate(path) if n == s.name)
        via = ", ".join(f"'{n}.{fl.name}'" for n, fl in path[start:])
        self.error(s.line, f"struct '{s.name}'",
                   f"contains itself through {via}; only list<...> may refer back to a "
                   "containing struct")

    # --- cross checks

    def check_names(self) -> None:
        # Names of the id enum and cmd:: descriptors; client_stub and call_stub methods.
        served = [c for c, _, _ in self.commands + self.calls]
        ids = [(c.line, c.name, f"{c.kind} '{c.name}'", True) for c in served]
        ids += [(p.line, p.name, f"push '{p.name}'", True) for p, _ in self.pushes]
        ids += [(p.line, "on_" + p.name, f"push '{p.name}'", False) for p, _ in self.pushes]
        duplicates = self.unique(ids)
        # C++ type names in the schema's namespace (a command already reported as a duplicate
        # would only repeat the problem through its request and reply names).
        types: list[tuple[int, str, str, bool]] = []  # (line, C++ name, description, plain)
        for e in self.enums:
            types.append((e.line, e.name, f"enum '{e.name}'", True))
        for s in self.structs:
            types.append((s.line, s.name, f"struct '{s.name}'", True))
        for _, d, _ in self.tables:
            types.append((d.line, d.name, d.desc, True))
            types.append((d.line, d.name + "_table", d.desc, False))
        for cmd, req, rep in self.commands + self.calls:
            desc = f"{cmd.kind} '{cmd.name}'"
            if (cmd.line, desc) in duplicates:
                continue
            types.append((cmd.line, req.name, desc, False))
            types.append((cmd.line, rep.name, desc, False))
        for p, _ in self.pushes:
            types.append((p.line, p.name, f"push '{p.name}'", True))
        for server in dict.fromkeys(c.server for c in served):
            line = min(c.line for c in served if c.server == server)
            types.append((line, server + "_handler", f"server '{server}'", False))
        self.unique(types)

    def unique(self, entries: list[tuple[int, str, str, bool]]) -> set[tuple[int, str]]:
        """Reports names used twice; returns the (line, description) of each item reported."""
        reported: set[tuple[int, str]] = set()
        seen: dict[str, tuple[int, str]] = {}
        for line, name, desc, plain in sorted(entries, key=lambda e: e[0]):
            if name in seen:
                oline, odesc = seen[name]
                if plain:
                    self.error(line, desc, f"name already used by {odesc}{at(oline)}")
                else:
                    self.error(line, desc, f"generated name '{name}' already used by "
                                           f"{odesc}{at(oline)}")
                reported.add((line, desc))
            else:
                seen[name] = (line, desc)
        return reported

    def check_ids(self) -> None:
        entries = [(c.line, c.id, f"{c.kind} '{c.name}'", c.kind, i)
                   for served in (self.commands, self.calls)
                   for i, (c, _, _) in enumerate(served)]
        entries += [(p.line, p.id, f"push '{p.name}'", "push", i)
                    for i, (p, _) in enumerate(self.pushes)]
        seen: dict[int, tuple[int, str]] = {}
        for line, mid, desc, kind, i in sorted(entries, key=lambda e: e[0]):
            line = self.src.locate(kind, i, key_pattern("id", mid)) or line
            if not 1 <= mid <= MAX_MESSAGE_ID:
                self.error(line, desc, f"id {mid} is out of range 1..{MAX_MESSAGE_ID}")
            elif mid in self.reserved_ids:
                self.error(line, desc, f"id {mid} is reserved")
            elif mid in seen:
                oline, odesc = seen[mid]
                self.error(line, desc, f"id {mid} already used by {odesc}{at(oline)}")
            else:
                seen[mid] = (line, desc)




def _by_value(s: Message) -> list[tuple[str, Field]]:
    """The structs that `s` holds by value (also in optional<...> and map<...>), each with the
    field that holds it: C++ needs them complete before `s`."""
    out = []
    for f in s.fields:
        t = f.type
        if t.kind == "list":
            continue
        if t.kind in CONTAINERS:
            t = t.elem
        if t.kind == "struct":
            out.append((t.ref, f))
    return out
