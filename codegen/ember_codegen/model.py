"""The validated model of a schema, as the front end builds it and the back end reads it."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Kinds of values that lists pack into one length-delimited field (numbers, bools, enums).
PACKED_KINDS = frozenset({"bool", "sint", "uint", "f32", "f64", "enum"})


@dataclass(frozen=True)
class Type:
    """A field type.

    `kind` is the codec kind: bool, sint (zigzag varint), uint (varint), f32, f64, string,
    bytes, enum, struct; or a container: list, map (string keys), optional.
    """

    kind: str
    spelling: str  # normalised schema spelling: "u32", "list<room_info>", "map<string,u32>"
    cpp: str  # the C++ type
    elem: Type | None = None  # element of list / value of map / payload of optional
    ref: str | None = None  # the enum or struct name, for kind enum / struct

    @property
    def packed(self) -> bool:
        """True for a list whose elements are packed."""
        return self.kind == "list" and self.elem is not None and self.elem.kind in PACKED_KINDS


@dataclass
class Field:
    tag: int
    name: str
    type: Type
    doc: str = ""
    secret: bool = False
    line: int = 0
    #: None, or why the field is deprecated ("" without a reason): `[[deprecated]]` in C++
    deprecated: str | None = None


@dataclass
class EnumValue:
    name: str  # schema (and JSON) name
    cpp_name: str  # C++ enumerator: the name, with '_' appended to C++ keywords
    value: int
    line: int = 0


@dataclass
class Enum:
    name: str
    values: list[EnumValue]
    doc: str = ""
    line: int = 0

    @property
    def zero(self) -> EnumValue:
        """The value 0, every field's default (the front end requires it)."""
        return next(v for v in self.values if v.value == 0)


@dataclass
class Message:
    """A struct on the wire: a [[struct]], a command's request or reply, or a [[push]]."""

    name: str
    origin: str  # "struct", "request", "reply", "push"
    fields: list[Field]
    doc: str = ""
    line: int = 0
    reserved_tags: list[int] = field(default_factory=list)
    reserved_names: list[str] = field(default_factory=list)
    push_id: int | None = None
    push_name: str | None = None

    @property
    def fields_by_tag(self) -> list[Field]:
        """Fields in tag order: the order they are encoded in."""
        return sorted(self.fields, key=lambda f: f.tag)


@dataclass
class Command:
    """A [[command]] (from clients) or, with `internal`, a [[call]] (from other servers only;
    calls always overlap, so `ordered` is false)."""

    id: int
    name: str
    server: str
    ordered: bool
    request: Message
    reply: Message
    doc: str = ""
    line: int = 0
    internal: bool = False
    deprecated: str | None = None  # as Field.deprecated

    @property
    def kind(self) -> str:
        """How docs and messages name it: "command" or "call"."""
        return "call" if self.internal else "command"


@dataclass
class Push:
    id: int
    name: str
    message: Message
    doc: str = ""
    line: int = 0
    deprecated: str | None = None  # as Field.deprecated


@dataclass
class ErrorCode:
    code: int
    name: str
    message: str
    doc: str = ""
    line: int = 0


@dataclass
class Lookup:
    """A secondary lookup of a [[table]]: every row whose `column` has a given value."""

    name: str
    column: Field
    line: int = 0


@dataclass
class Table:
    """A [[table]]: rows cached in memcached and written back to the database. `row` is the
    row struct (a message of origin "row": its codec is the cache format)."""

    name: str
    row: Message
    key: Field
    generated_key: bool
    lookups: list[Lookup]
    flush_interval_ms: int
    flush_batch: int
    doc: str = ""
    line: int = 0

    @property
    def columns(self) -> list[Field]:
        """Columns in SQL order: the key first, then the others in tag order."""
        return [self.key] + [f for f in self.row.fields_by_tag if f is not self.key]


@dataclass
class Schema:
    name: str
    source: str  # file name of the schema, for banners
    doc: str
    enums: list[Enum]
    structs: list[Message]  # [[struct]]s and [[table]] rows, dependencies first
    commands: list[Command]  # [[command]]s: what clients may send
    calls: list[Command]  # [[call]]s: what only servers may send
    pushes: list[Push]
    errors: list[ErrorCode]
    error_reply: Message | None
    hash: int
    tables: list[Table] = field(default_factory=list)
    # what [reserved] retires: command, call and push ids, their names, error codes
    reserved_ids: set[int] = field(default_factory=set)
    reserved_names: set[str] = field(default_factory=set)
    reserved_codes: set[int] = field(default_factory=set)
    #: a module's [module] block; a game's imported modules (their commands join command_list)
    module_block: tuple[int, int] | None = None
    imports: list["Schema"] = field(default_factory=list)

    @property
    def messages(self) -> list[Message]:
        """Every message in the order the header defines them."""
        out = list(self.structs)
        for c in self.served:
            out += [c.request, c.reply]
        out += [p.message for p in self.pushes]
        return out

    @property
    def has_deprecated(self) -> bool:
        """Whether anything is `[[deprecated]]`: the generated files then silence the warning
        around their own uses of it."""
        return any(c.deprecated is not None for c in self.served) or \
            any(p.deprecated is not None for p in self.pushes) or \
            any(f.deprecated is not None for m in self.messages for f in m.fields)

    @property
    def served(self) -> list[Command]:
        """Commands, then calls: everything a server handles, in the order descriptors and
        handler methods are generated."""
        return self.commands + self.calls

    @property
    def servers(self) -> list[str]:
        """Server types that handle commands or calls, in order of first mention."""
        seen: list[str] = []
        for c in self.served:
            if c.server not in seen:
                seen.append(c.server)
        return seen

    def commands_of(self, server: str) -> list[Command]:
        """The commands and calls that server type `server` handles."""
        return [c for c in self.served if c.server == server]

    @property
    def served_by_id(self) -> list[Command]:
        """Commands and calls in id order, with those of the imported modules (the generated
        `command_list`: a gateway routes a module's commands to where config.json puts the
        module, named by its server)."""
        return sorted(self.served + [c for m in self.imports for c in m.served],
                      key=lambda c: c.id)

    @property
    def ids(self) -> list[tuple[str, int]]:
        """Command, call and push ids, ascending."""
        return sorted([(c.name, c.id) for c in self.served] +
                      [(p.name, p.id) for p in self.pushes], key=lambda x: x[1])
