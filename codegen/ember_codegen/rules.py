"""The schema's fixed rules: number ranges, the top-level tables, table column types.

The front end's modules share them; schemas/README.md states each.
"""

MAX_ID = 65535
# Ids 65280 and up are ember's own messages between servers (ember/cluster/route_wire.hpp).
MAX_MESSAGE_ID = 65279
MAX_TAG = (1 << 29) - 1
MIN_ERROR_CODE = 1000
#: Ids and error codes of ember's gameplay modules: each module has a block in it (blocks.py).
MODULE_RANGE = (60000, 65279)
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
#: Structs held by value may nest this deep: ember::codec::max_depth, past which decoders refuse.
MAX_STRUCT_NESTING = 64

TOP_KEYS = ("schema", "reserved", "enum", "struct", "table", "command", "call", "push", "error",
            "firefly", "module")

#: Column types of a [[table]] (SQL types in backend.SQL_TYPES); optional<T> makes it nullable.
#: u64 does not fit SQL's signed BIGINT, containers and structs have no column type.
COLUMN_TYPES = ("bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "f32", "f64", "string",
                "bytes")
KEY_TYPES = ("i32", "i64", "u32", "string")
#: Write-back defaults: flush every second, at most 1,000 rows per transaction.
FLUSH_INTERVAL_MS, FLUSH_BATCH = 1000, 1000
#: Column names the runtime adds to every table.
RUNTIME_COLUMNS = ("ember_version",)

