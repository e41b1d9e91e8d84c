"""[[table]]s: their keys and columns (`table_tables`, before types are resolved) and the
checks that need the column types (`table_model`)."""

from __future__ import annotations

from .checks import at
from .items import Items, MsgDraft
from .model import Field, Lookup, Message, Table
from .rules import COLUMN_TYPES, FLUSH_BATCH, FLUSH_INTERVAL_MS, KEY_TYPES, RUNTIME_COLUMNS
from .source import key_pattern


#: PostgreSQL's longest identifier (NAMEDATALEN - 1), in bytes.
SQL_NAME_MAX = 63


class Tables(Items):
    def table_tables(self) -> None:
        """[[table]]s: checks the keys and columns; the rest needs resolved types
        (`table_model`)."""
        for i, t in enumerate(self.items("table")):
            name, what, line = self.named("table", i, t)
            allowed = ("name", "doc", "key", "generated_key", "columns", "lookups",
                       "flush_interval_ms", "flush_batch", "reserved_tags", "reserved_names")
            self.check_keys(t, allowed, ("name", "key", "columns"), what, line,
                            self.key_line("table", i))
            if not all([self.check_type(t, "name", "str", what, line),
                        self.check_type(t, "doc", "str", what, line),
                        self.check_type(t, "key", "str", what, line),
                        self.check_type(t, "generated_key", "bool", what, line),
                        self.check_type(t, "columns", "tables", what, line),
                        self.check_type(t, "lookups", "tables", what, line),
                        self.check_type(t, "flush_interval_ms", "int", what, line),
                        self.check_type(t, "flush_batch", "int", what, line)]) or name is None:
                continue
            self.check_ident(name, what, line, scope="type")
            if name in self.reserved_names:
                self.error(line, what, "name is reserved")
            rtags, rnames = self.reserved_of(t, "", what, line)
            fields = self.fields(t.get("columns", []), "table", i, "columns", name, rtags,
                                 rnames)
            for f in fields:
                if f.name in RUNTIME_COLUMNS:
                    self.error(f.line, f"column '{name}.{f.name}'",
                               "is a column ember adds to every table")
            self.tables.append((t, MsgDraft(name, "row", what, fields, t.get("doc", ""), line,
                                             rtags, rnames), i))

    def table_model(self, t: dict, row: Message, index: int) -> Table | None:
        """The table of a row whose column types are resolved, or None after reporting."""
        name, what, line = self.named("table", index, t)
        ok = True
        for f in row.fields:
            base = f.type.elem if f.type.kind == "optional" else f.type
            if base.kind == "enum" or base.spelling in COLUMN_TYPES:
                continue
            self.error(f.line, f"column '{name}.{f.name}'",
                       f"type '{f.type.spelling}' cannot be a column: use one of "
                       f"{', '.join(COLUMN_TYPES)}, an enum, or optional<...> of one")
            ok = False
        by_name = {f.name: f for f in row.fields}
        key_name = t.get("key")
        kline = self.src.locate("table", index, key_pattern("key", key_name)) or line
        key = by_name.get(key_name)
        if key is None:
            self.error(kline, what, f"key '{key_name}' is not one of its columns")
            return None
        if key.type.spelling not in KEY_TYPES:
            self.error(kline, what, f"key '{key_name}' has type '{key.type.spelling}': a key "
                                    f"must be one of {', '.join(KEY_TYPES)}")
            ok = False
        generated = t.get("generated_key", False)
        if generated and key.type.spelling != "i64":
            gline = self.src.locate("table", index, key_pattern("generated_key")) or line
            self.error(gline, what, "generated_key needs a key of type i64")
            ok = False
        lookups, lookups_ok = self.lookups(t, index, by_name, key, line)
        ok = ok and lookups_ok
        interval = t.get("flush_interval_ms", FLUSH_INTERVAL_MS)
        batch = t.get("flush_batch", FLUSH_BATCH)
        if not 10 <= interval <= 3_600_000:
            self.error(self.src.locate("table", index, key_pattern("flush_interval_ms")) or line,
                       what, f"flush_interval_ms {interval} is out of range 10..3600000")
            ok = False
        if not 1 <= batch <= 100_000:
            self.error(self.src.locate("table", index, key_pattern("flush_batch")) or line,
                       what, f"flush_batch {batch} is out of range 1..100000")
            ok = False
        if not ok:
            return None
        return Table(name, row, key, generated, lookups, interval, batch, t.get("doc", ""), line)

    def lookups(self, t: dict, index: int, by_name: dict[str, Field], key: Field,
                line: int) -> tuple[list[Lookup], bool]:
        """The lookups of the index-th table and whether all were sound."""
        name = t["name"]
        ok = True
        lookups: list[Lookup] = []
        lbase = self.src.locate("table", index, key_pattern("lookups")) or line
        for n, lk in enumerate(t.get("lookups", [])):
            lname, col = lk.get("name"), lk.get("column")
            lwhat = f"lookup '{name}.{lname}'" if isinstance(lname, str) else \
                f"lookup #{n + 1} of '{name}'"
            lline = (self.src.locate("table", index, key_pattern("lookups"),
                                     key_pattern("name", lname)) if isinstance(lname, str)
                     else 0) or lbase
            if not self.check_keys(lk, ("name", "column"), ("name", "column"), lwhat, lline):
                ok = False
                continue
            if not (self.check_type(lk, "name", "str", lwhat, lline)
                    and self.check_type(lk, "column", "str", lwhat, lline)):
                ok = False
                continue
            if not self.check_ident(lname, lwhat, lline, scope="lookup", owner=name):
                ok = False
                continue
            field = by_name.get(col)
            if field is None:
                self.error(lline, lwhat, f"column '{col}' is not a column of '{name}'")
                ok = False
            elif field is key:
                self.error(lline, lwhat, f"column '{col}' is the key: use get()")
                ok = False
            elif field.type.spelling not in KEY_TYPES:
                self.error(lline, lwhat, f"column '{col}' has type '{field.type.spelling}': "
                                         f"lookups need one of {', '.join(KEY_TYPES)}")
                ok = False
            elif any(x.name == lname for x in lookups) or lname in by_name:
                self.error(lline, lwhat, "name already used in this table")
                ok = False
            else:
                lookups.append(Lookup(lname, field, lline))
        return lookups, ok

    def check_sql_names(self, tables: list[Table | None]) -> None:
        """The names the database sees: tables and lookup indexes (`TABLE_LOOKUP`) share one
        namespace in SQLite and PostgreSQL, where SQLite ignores case, reserves `sqlite_...`,
        and PostgreSQL cuts names after 63 bytes."""
        seen: dict[str, str] = {}
        for t in tables:
            if t is None:
                continue
            objects = [(t.line, t.name, f"table '{t.name}'", "table")]
            objects += [(lk.line, f"{t.name}_{lk.name}", f"lookup '{t.name}.{lk.name}'", "index")
                        for lk in t.lookups]
            for line, sql, what, noun in objects:
                if sql.lower().startswith("sqlite_"):
                    self.error(line, what, f"{noun} name '{sql}': SQLite reserves names starting "
                                           "with 'sqlite_'; rename it")
                elif len(sql.encode()) > SQL_NAME_MAX:
                    self.error(line, what, f"{noun} name '{sql}' is longer than {SQL_NAME_MAX} "
                                           "bytes, where PostgreSQL cuts names; shorten it")
                elif sql.lower() in seen:
                    self.error(line, what, f"{noun} name '{sql}' is also the database name of "
                                           f"{seen[sql.lower()]}; rename one of them")
                else:
                    seen[sql.lower()] = f"{what}{at(line) if noun == 'table' else ''}"
