// ember: table-driven codecs. ember-codegen describes each message of a schema as a constexpr
// table of its fields, and the functions here encode and decode any message by walking its
// table: a schema of hundreds of messages compiles into data plus one copy of this code,
// instead of four functions per message.
//
// Only generated NAME.cpp files include this header (it brings simdjson, through
// `json_reader.hpp`). A generated table reads
//
//   constexpr codec::field point_fields[] = {
//       {1, "x", codec::i32, offsetof(point, x)},
//       {2, "y", codec::i32, offsetof(point, y)},
//   };
//   constexpr codec::message point_table = {"point", point_fields, codec::unrolled<point_fields>};
//
// with `codec` this namespace. Messages that hold strings, lists or maps are not
// standard-layout, for which C++ calls offsetof "conditionally-supported": GCC and Clang
// support it for classes without virtual bases (generated messages have no bases at all), and
// the generated file silences their -Winvalid-offsetof, as protobuf's generated code does.
// An offset, rather than a function that takes each member's address, is what makes a small
// message as fast as hand-written code.
//
// A field's type points to the operations of its C++ type (`field_ops`): templates, which a
// table instantiates for the types it uses only, so a schema without floats compiles no float
// formatting. The operations behave exactly as PROTOCOL.md, "Body encodings" says.
//
// The walkers' loop calls each field's operation through a pointer, a fixed cost per field
// that shows on small messages. So a message of up to 16 fields also gets unrolled encoders
// (`unrolled`): one function per sequence of field types, which calls each type's operation
// directly. Messages with the same types of fields share it, so a schema of a thousand small
// requests and replies instantiates a handful. Decoding keeps the loop: it looks fields up by
// tag anyway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "ember/codec/binary.hpp"
#include "ember/codec/codec.hpp"
#include "ember/codec/json_reader.hpp"
#include "ember/codec/json_writer.hpp"
#include "ember/error.hpp"

namespace ember::codec::table {

struct field;
struct message;
struct enumeration;

/// What the codecs do with a field of one C++ type (one set per shape and element type, such
/// as `std::vector<std::uint32_t>`). `p` is the address of the field in its message.
struct field_ops {
  /// Appends the field (nothing when it holds its default and is not optional).
  void (*encode_binary)(binary_writer& w, const field& f, const void* p);
  /// Reads one occurrence of the field, of wire type `wt`, into `p`.
  std::error_code (*decode_binary)(binary_reader& r, wire_type wt, const field& f, void* p);
  /// Appends `"name":value` (nothing for an absent optional).
  void (*encode_json)(json_writer& w, const field& f, const void* p);
  /// Reads the field's value `v` (not null) of a message at `depth` into `p`.
  std::error_code (*decode_json)(json::element v, const field& f, void* p, int depth);
};

/// The type of a field: its operations and, for the schema's structs and enums, their tables.
struct type {
  const field_ops* ops;
  const message* nested = nullptr;     ///< a struct's table
  const enumeration* names = nullptr;  ///< an enum's table
};

/// A field of a message: its tag, its name (the JSON key), its type, where it is in its
/// message (`offsetof`), and whether logs hide its value.
struct field {
  std::uint32_t tag;
  std::string_view name;
  type t;
  std::size_t offset;
  bool secret = false;
};

/// Encoders of a message that call each field's operation directly, in place of the walkers'
/// loop of calls through pointers (`unrolled`); null when the message has none.
struct encoders {
  void (*binary)(binary_writer& w, const void* msg, const field* fields) = nullptr;
  void (*json)(json_writer& w, const void* msg, const field* fields) = nullptr;
};

/// A message (a struct, a request, a reply or a push): its name, its fields in ascending
/// tag order and, for most messages, its unrolled encoders (`unrolled<fields>`).
struct message {
  std::string_view name;
  std::span<const field> fields;
  encoders unrolled = {};
};

/// A value of an enum: its number and its schema (JSON) name.
struct enum_value {
  std::int32_t value;
  std::string_view name;
};

/// An enum of the schema: its values in ascending order of number.
struct enumeration {
  std::string_view name;
  std::span<const enum_value> values;
};

/// Marks a field whose value logs hide: `{2, "password", codec::string, codec::secret}`.
inline constexpr bool secret = true;

/// The name of value `v` of `e`, or "" when `e` does not name it.
inline std::string_view name_of(const enumeration& e, std::int32_t v) noexcept {
  if (e.values.empty()) return {};
  // Most enums number their values 0, 1, 2 ...: try where `v` is in that case first.
  const auto i = static_cast<std::uint64_t>(std::int64_t{v} - e.values[0].value);
  if (i < e.values.size() && e.values[i].value == v) return e.values[i].name;
  std::size_t lo = 0;
  std::size_t hi = e.values.size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (e.values[mid].value < v) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < e.values.size() && e.values[lo].value == v ? e.values[lo].name : std::string_view();
}

/// Sets `out` to the value of `e` named `name`; false when no value has that name.
inline bool value_of(const enumeration& e, std::string_view name, std::int32_t& out) noexcept {
  for (const enum_value& x : e.values) {
    if (x.name == name) {
      out = x.value;
      return true;
    }
  }
  return false;
}

// --- the walkers

/// Appends the binary encoding of the message at `msg` that `m` describes.
inline void encode_binary(binary_writer& w, const void* msg, const message& m);
/// Decodes a binary message into `msg`; fields the input lacks keep their values.
inline std::error_code decode_binary(binary_reader& r, void* msg, const message& m);
/// Appends the JSON encoding of the message at `msg`.
inline void encode_json(json_writer& w, const void* msg, const message& m);
/// Decodes a JSON body, which must be an object, into `msg`.
inline std::error_code decode_json(json_text in, void* msg, const message& m);

namespace detail {

/// Reads a struct at `depth` from `v` into `msg`.
inline std::error_code read_message(json::element v, int depth, void* msg, const message& m);

/// The address of field `f` of the message at `msg`.
inline const void* at(const void* msg, const field& f) noexcept {
  return static_cast<const char*>(msg) + f.offset;
}
inline void* at(void* msg, const field& f) noexcept { return static_cast<char*>(msg) + f.offset; }

/// The int32 of an enum field (memcpy: the enum field functions below serve every enum of the
/// schema, whose types they cannot name).
inline std::int32_t load_enum(const void* p) noexcept {
  std::int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store_enum(void* p, std::int32_t v) noexcept { std::memcpy(p, &v, sizeof v); }

/// Writes the key of field `f`; false when the value is hidden (a redacting writer has
/// written "***" for a secret field), true when the caller writes it.
EMBER_CODEC_ALWAYS_INLINE inline bool json_key(json_writer& w, const field& f) {
  w.key(f.name);
  if (f.secret && w.redacting()) {
    w.value_redacted();
    return false;
  }
  return true;
}

/// Writes an enum value: its name, or its number when `e` does not name it.
inline void write_enum(json_writer& w, std::int32_t v, const enumeration& e) {
  const std::string_view name = name_of(e, v);
  if (name.empty()) {
    w.value_sint(v);
  } else {
    w.value_string(name);
  }
}

/// Reads an enum value: a name `e` defines (else `value_out_of_range`) or a number.
inline std::error_code read_enum(json::element v, std::int32_t& out, const enumeration& e) {
  switch (v.type()) {
    case json::element_type::STRING:
      if (!value_of(e, v.get_string().value_unsafe(), out)) return errc::value_out_of_range;
      return {};
    case json::element_type::INT64:
    case json::element_type::UINT64:
    case json::element_type::DOUBLE:
      return json::get_int(v, out);
    default:
      return errc::wrong_wire_type;
  }
}

// --- one value of type T: a builtin, one of the schema's enums or structs

/// Writes `v` as field `tag`, even when it holds the default (optionals, list elements, map
/// values).
template <class T>
void put_value(binary_writer& w, std::uint32_t tag, const T& v, const type& t) {
  if constexpr (std::is_same_v<T, bool>) {
    w.put_bool(tag, v);
  } else if constexpr (std::is_same_v<T, float>) {
    w.put_f32(tag, v);
  } else if constexpr (std::is_same_v<T, double>) {
    w.put_f64(tag, v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    w.put_string(tag, v);
  } else if constexpr (std::is_same_v<T, std::vector<std::byte>>) {
    w.put_bytes(tag, v);
  } else if constexpr (std::is_enum_v<T>) {
    w.put_enum_value(tag, static_cast<std::int32_t>(v));
  } else if constexpr (std::is_class_v<T>) {
    const binary_writer::nested_mark mark = w.begin_nested(tag);
    table::encode_binary(w, &v, *t.nested);
    w.end_nested(mark, /*omit_empty=*/false);
  } else if constexpr (std::is_signed_v<T>) {
    w.put_sint(tag, v);
  } else {
    w.put_uint(tag, v);
  }
}

/// Reads a value of wire type `wt` into `v`; a struct is merged into what `v` holds.
template <class T>
std::error_code get_value(binary_reader& r, wire_type wt, T& v, const type& t) {
  if constexpr (std::is_same_v<T, bool>) {
    return r.get_bool(wt, v);
  } else if constexpr (std::is_same_v<T, float>) {
    return r.get_f32(wt, v);
  } else if constexpr (std::is_same_v<T, double>) {
    return r.get_f64(wt, v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return r.get_string(wt, v);
  } else if constexpr (std::is_same_v<T, std::vector<std::byte>>) {
    return r.get_bytes(wt, v);
  } else if constexpr (std::is_enum_v<T>) {
    return r.get_enum(wt, v);
  } else if constexpr (std::is_class_v<T>) {
    binary_reader sub;
    if (auto ec = r.enter(wt, sub)) return ec;
    return table::decode_binary(sub, &v, *t.nested);
  } else if constexpr (std::is_signed_v<T>) {
    return r.get_sint(wt, v);
  } else {
    return r.get_uint(wt, v);
  }
}

/// Writes `v` as a JSON value: enums by name (or number when the schema does not name them),
/// structs as objects.
template <class T>
void write_value(json_writer& w, const T& v, const type& t) {
  if constexpr (std::is_same_v<T, bool>) {
    w.value_bool(v);
  } else if constexpr (std::is_same_v<T, float>) {
    w.value_f32(v);
  } else if constexpr (std::is_same_v<T, double>) {
    w.value_f64(v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    w.value_string(v);
  } else if constexpr (std::is_same_v<T, std::vector<std::byte>>) {
    w.value_bytes(v);
  } else if constexpr (std::is_enum_v<T>) {
    write_enum(w, static_cast<std::int32_t>(v), *t.names);
  } else if constexpr (std::is_class_v<T>) {
    table::encode_json(w, &v, *t.nested);
  } else if constexpr (std::is_signed_v<T>) {
    w.value_sint(v);
  } else {
    w.value_uint(v);
  }
}

/// Reads JSON value `v` (of a field of a message at `depth`) into `out`. An enum is a name
/// the schema defines (else `value_out_of_range`) or a number; a struct, one level deeper, is
/// merged into what `out` holds.
template <class T>
std::error_code read_value(json::element v, T& out, const type& t, int depth) {
  if constexpr (std::is_same_v<T, bool>) {
    return json::get_bool(v, out);
  } else if constexpr (std::is_same_v<T, float>) {
    return json::get_f32(v, out);
  } else if constexpr (std::is_same_v<T, double>) {
    return json::get_f64(v, out);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return json::get_string(v, out);
  } else if constexpr (std::is_same_v<T, std::vector<std::byte>>) {
    return json::get_bytes(v, out);
  } else if constexpr (std::is_enum_v<T>) {
    std::int32_t x = 0;
    if (auto ec = read_enum(v, x, *t.names)) return ec;
    out = static_cast<T>(x);
    return {};
  } else if constexpr (std::is_class_v<T>) {
    return read_message(v, depth + 1, &out, *t.nested);
  } else {
    return json::get_int(v, out);
  }
}

// --- the operations of each shape

/// A field of builtin type T, left out (binary) at its default: 0, false, empty, +0.0.
template <class T>
struct single {
  static void encode_binary(binary_writer& w, const field& f, const void* p) {
    const T& v = *static_cast<const T*>(p);
    if constexpr (std::is_same_v<T, bool>) {
      w.field_bool(f.tag, v);
    } else if constexpr (std::is_same_v<T, float>) {
      w.field_f32(f.tag, v);
    } else if constexpr (std::is_same_v<T, double>) {
      w.field_f64(f.tag, v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      w.field_string(f.tag, v);
    } else if constexpr (std::is_same_v<T, std::vector<std::byte>>) {
      w.field_bytes(f.tag, v);
    } else if constexpr (std::is_signed_v<T>) {
      w.field_sint(f.tag, v);
    } else {
      w.field_uint(f.tag, v);
    }
  }
  static std::error_code decode_binary(binary_reader& r, wire_type wt, const field& f, void* p) {
    return get_value(r, wt, *static_cast<T*>(p), f.t);
  }
  static void encode_json(json_writer& w, const field& f, const void* p) {
    if (json_key(w, f)) write_value(w, *static_cast<const T*>(p), f.t);
  }
  static std::error_code decode_json(json::element v, const field& f, void* p, int depth) {
    return read_value(v, *static_cast<T*>(p), f.t, depth);
  }
};

/// A field of one of the schema's enums (all enums: their values are int32), left out
/// (binary) at the value 0.
struct single_enum {
  static void encode_binary(binary_writer& w, const field& f, const void* p) {
    if (const std::int32_t v = load_enum(p); v != 0) w.put_enum_value(f.tag, v);
  }
  static std::error_code decode_binary(binary_reader& r, wire_type wt, const field&, void* p) {
    std::int32_t v = 0;
    if (auto ec = r.get_enum_value(wt, v)) return ec;
    store_enum(p, v);
    return {};
  }
  static void encode_json(json_writer& w, const field& f, const void* p) {
    if (json_key(w, f)) write_enum(w, load_enum(p), *f.t.names);
  }
  static std::error_code decode_json(json::element v, const field& f, void* p, int) {
    std::int32_t x = 0;
    if (auto ec = read_enum(v, x, *f.t.names)) return ec;
    store_enum(p, x);
    return {};
  }
};

/// A field of one of the schema's structs (any struct: its table says what it holds), left
/// out (binary) when its own encoding is empty. A struct that arrives twice is merged.
struct single_struct {
  static void encode_binary(binary_writer& w, const field& f, const void* p) {
    const binary_writer::nested_mark mark = w.begin_nested(f.tag);
    table::encode_binary(w, p, *f.t.nested);
    w.end_nested(mark, /*omit_empty=*/true);
  }
  static std::error_code decode_binary(binary_reader& r, wire_type wt, const field& f, void* p) {
    binary_reader sub;
    if (auto ec = r.enter(wt, sub)) return ec;
    return table::decode_binary(sub, p, *f.t.nested);
  }
  static void encode_json(json_writer& w, const field& f, const void* p) {
    if (json_key(w, f)) table::encode_json(w, p, *f.t.nested);
  }
  static std::error_code decode_json(json::element v, const field& f, void* p, int depth) {
    return read_message(v, depth + 1, p, *f.t.nested);
  }
};

/// An `optional<T>`: written whenever present, even at its default.
template <class T>
struct optional {
  static void encode_binary(binary_writer& w, const field& f, const void* p) {
    if (const auto& o = *static_cast<const std::optional<T>*>(p)) put_value(w, f.tag, *o, f.t);
  }
  static std::error_code decode_binary(binary_reader& r, wire_type wt, const field& f, void* p) {
    auto& o = *static_cast<std::optional<T>*>(p);
    return get_value(r, wt, o ? *o : o.emplace(), f.t);
  }
  static void encode_json(json_writer& w, const field& f, const void* p) {
    const auto& o = *static_cast<const std::optional<T>*>(p);
    if (o && json_key(w, f)) write_value(w, *o, f.t);
  }
  static std::error_code decode_json(json::element v, const field& f, void* p, int depth) {
    return read_value(v, static_cast<std::optional<T>*>(p)->emplace(), f.t, depth);
  }
};

/// A `list<T>`: numbers, bools and enums packed, strings, bytes and structs one field per
/// element; readers take both forms of numbers.
template <class T>
struct list {
  static void encode_binary(binary_writer& w, const field& f, const void* p) {
    const auto& v = *static_cast<const std::vector<T>*>(p);
    if constexpr (std::is_same_v<T, bool>) {
      w.packed_bool(f.tag, v);
    } else if constexpr (std::is_same_v<T, float>) {
      w.packed_f32(f.tag, v);
    } else if constexpr (std::is_same_v<T, double>) {
      w.packed_f64(f.tag, v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      w.repeated_string(f.tag, v);
    } else if constexpr (std::is_same_v<T, std::vector<std::byte>>) {
      w.repeated_bytes(f.tag, v);
    } else if constexpr (std::is_enum_v<T>) {
      w.packed_enum(f.tag, v);
    } else if constexpr (std::is_class_v<T>) {
      for (const T& x : v) put_value(w, f.tag, x, f.t);
    } else if constexpr (std::is_signed_v<T>) {
      w.packed_sint(f.tag, v);
    } else {
      w.packed_uint(f.tag, v);
    }
  }
  static std::error_code decode_binary(binary_reader& r, wire_type wt, const field& f, void* p) {
    auto& v = *static_cast<std::vector<T>*>(p);
    if constexpr (std::is_same_v<T, bool>) {
      return r.get_packed_bool(wt, v);
    } else if constexpr (std::is_same_v<T, float>) {
      return r.get_packed_f32(wt, v);
    } else if constexpr (std::is_same_v<T, double>) {
      return r.get_packed_f64(wt, v);
    } else if constexpr (std::is_enum_v<T>) {
      return r.get_packed_enum(wt, v);
    } else if constexpr (std::is_class_v<T>) {
      return get_value(r, wt, v.emplace_back(), f.t);
    } else if constexpr (std::is_signed_v<T>) {
      return r.get_packed_sint(wt, v);
    } else {
      return r.get_packed_uint(wt, v);
    }
  }
  static void encode_json(json_writer& w, const field& f, const void* p) {
    if (!json_key(w, f)) return;
    w.begin_array();
    for (const auto& x : *static_cast<const std::vector<T>*>(p)) write_value<T>(w, x, f.t);
    w.end_array();
  }
  /// An array; null elements are refused.
  static std::error_code decode_json(json::element v, const field& f, void* p, int depth) {
    if (v.type() != json::element_type::ARRAY) return errc::wrong_wire_type;
    auto& out = *static_cast<std::vector<T>*>(p);
    // Named, not iterated as a temporary: the result object must outlive the loop.
    const simdjson::dom::array array = v.get_array().value_unsafe();
    for (json::element e : array) {
      if constexpr (std::is_same_v<T, bool>) {
        bool x = false;
        if (auto ec = read_value(e, x, f.t, depth)) return ec;
        out.push_back(x);
      } else {
        if (auto ec = read_value(e, out.emplace_back(), f.t, depth)) return ec;
      }
    }
    return {};
  }
};

/// A `map<string, T>`: binary entries {1: key, 2: value} in key order, both always written; a
/// JSON object. A missing key or value is the default; a repeated key replaces.
template <class T>
struct map {
  static void encode_binary(binary_writer& w, const field& f, const void* p) {
    for (const auto& [key, value] : *static_cast<const std::map<std::string, T>*>(p)) {
      const binary_writer::nested_mark entry = w.begin_nested(f.tag);
      w.put_string(1, key);
      put_value(w, 2, value, f.t);
      w.end_nested(entry, /*omit_empty=*/false);
    }
  }
  static std::error_code decode_binary(binary_reader& r, wire_type wt, const field& f, void* p) {
    binary_reader e;
    if (auto ec = r.open(wt, e)) return ec;
    std::string key;
    T value{};
    while (!e.at_end()) {
      std::uint32_t tag = 0;
      wire_type ewt{};
      if (auto ec = e.read_key(tag, ewt)) return ec;
      std::error_code ec;
      if (tag == 1) {
        ec = e.get_string(ewt, key);
      } else if (tag == 2) {
        ec = get_value(e, ewt, value, f.t);
      } else {
        ec = e.skip(ewt);
      }
      if (ec) return ec;
    }
    static_cast<std::map<std::string, T>*>(p)->insert_or_assign(std::move(key), std::move(value));
    return {};
  }
  static void encode_json(json_writer& w, const field& f, const void* p) {
    if (!json_key(w, f)) return;
    w.begin_object();
    for (const auto& [key, value] : *static_cast<const std::map<std::string, T>*>(p)) {
      w.key_string(key);
      write_value(w, value, f.t);
    }
    w.end_object();
  }
  static std::error_code decode_json(json::element v, const field& f, void* p, int depth) {
    if (v.type() != json::element_type::OBJECT) return errc::wrong_wire_type;
    auto& out = *static_cast<std::map<std::string, T>*>(p);
    const simdjson::dom::object object = v.get_object().value_unsafe();
    for (auto entry : object) {
      T x{};
      if (auto ec = read_value(entry.value, x, f.t, depth)) return ec;
      out.insert_or_assign(std::string(entry.key), std::move(x));
    }
    return {};
  }
};

/// The operations of `Ops` (one of the structs above) as a `field_ops`.
template <class Ops>
inline constexpr field_ops ops_of = {&Ops::encode_binary, &Ops::decode_binary,
                                     &Ops::encode_json, &Ops::decode_json};

/// The index of the field with tag `tag`, or `fields.size()`; `last` is the index of the
/// field read before (writers send fields in tag order).
inline std::size_t find_tag(std::span<const field> fields, std::uint32_t tag,
                            std::size_t last) noexcept {
  const std::size_t n = fields.size();
  // The field after the one read last, or the same again (a list's elements).
  if (last + 1 < n && fields[last + 1].tag == tag) return last + 1;
  if (last < n && fields[last].tag == tag) return last;
  // Tags are mostly 1, 2, 3 ...: field `tag - 1` (after the default fields a writer skipped).
  if (tag - 1 < n && fields[tag - 1].tag == tag) return tag - 1;
  std::size_t lo = 0;
  std::size_t hi = n;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (fields[mid].tag < tag) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < n && fields[lo].tag == tag ? lo : n;
}

/// Whether two names are equal: names up to 16 bytes compared by two overlapping loads from
/// each, without a call (`==` here called `compare` and then `memcmp`).
EMBER_CODEC_ALWAYS_INLINE inline bool same_name(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const auto ends_equal = [&]<std::size_t k>(std::integral_constant<std::size_t, k>) {
    char a0[k], a1[k], b0[k], b1[k];
    std::memcpy(a0, a.data(), k);
    std::memcpy(a1, a.data() + n - k, k);
    std::memcpy(b0, b.data(), k);
    std::memcpy(b1, b.data() + n - k, k);
    return std::memcmp(a0, b0, k) == 0 && std::memcmp(a1, b1, k) == 0;
  };
  if (n > 16) return std::memcmp(a.data(), b.data(), n) == 0;
  if (n >= 8) return ends_equal(std::integral_constant<std::size_t, 8>{});
  if (n >= 4) return ends_equal(std::integral_constant<std::size_t, 4>{});
  if (n >= 2) return ends_equal(std::integral_constant<std::size_t, 2>{});
  return n == 0 || a[0] == b[0];
}

/// The index of the field of `m` named `key`, or `m.fields.size()`; `hint` as for `find_tag`.
inline std::size_t find_name(const message& m, std::string_view key, std::size_t hint) noexcept {
  const std::size_t n = m.fields.size();
  if (hint < n && same_name(m.fields[hint].name, key)) return hint;
  for (std::size_t i = 0; i < n; ++i) {
    if (same_name(m.fields[i].name, key)) return i;
  }
  return n;
}

/// Reads a struct at `depth`: checks the depth limit and that `v` is an object, then reads
/// every key of a field whose value is not null; unknown keys are ignored.
inline std::error_code read_message(json::element v, int depth, void* msg, const message& m) {
  if (depth > max_depth) return errc::nesting_too_deep;
  if (v.type() != json::element_type::OBJECT) return errc::wrong_wire_type;
  if (m.fields.empty()) return {};
  const simdjson::dom::object object = v.get_object().value_unsafe();
  std::size_t next = 0;
  for (auto entry : object) {
    if (entry.value.is_null()) continue;
    const std::size_t i = find_name(m, entry.key, next);
    if (i == m.fields.size()) continue;
    next = i + 1;
    const field& f = m.fields[i];
    if (auto ec = f.t.ops->decode_json(entry.value, f, at(msg, f), depth)) return ec;
  }
  return {};
}

}  // namespace detail

// --- the types of fields, as tables spell them

/// A builtin type: `codec::u32` is `builtin<std::uint32_t>`.
template <class T>
struct builtin {
  /// As the type of a field: T itself.
  constexpr operator type() const noexcept { return {&detail::ops_of<detail::single<T>>}; }
};

inline constexpr builtin<bool> boolean{};
inline constexpr builtin<std::int8_t> i8{};
inline constexpr builtin<std::int16_t> i16{};
inline constexpr builtin<std::int32_t> i32{};
inline constexpr builtin<std::int64_t> i64{};
inline constexpr builtin<std::uint8_t> u8{};
inline constexpr builtin<std::uint16_t> u16{};
inline constexpr builtin<std::uint32_t> u32{};
inline constexpr builtin<std::uint64_t> u64{};
inline constexpr builtin<float> f32{};
inline constexpr builtin<double> f64{};
inline constexpr builtin<std::string> string{};
inline constexpr builtin<std::vector<std::byte>> bytes{};

/// `optional<T>`, `list<T>` and `map<string, T>` of a builtin type.
template <class T>
constexpr type optional(builtin<T>) noexcept {
  return {&detail::ops_of<detail::optional<T>>};
}
template <class T>
constexpr type list(builtin<T>) noexcept {
  return {&detail::ops_of<detail::list<T>>};
}
template <class T>
constexpr type map(builtin<T>) noexcept {
  return {&detail::ops_of<detail::map<T>>};
}

/// A field of one of the schema's enums, and of one of its structs.
constexpr type enum_of(const enumeration& e) noexcept {
  return {&detail::ops_of<detail::single_enum>, nullptr, &e};
}
constexpr type struct_of(const message& m) noexcept {
  return {&detail::ops_of<detail::single_struct>, &m};
}

/// `optional<E>`, `list<E>` and `map<string, E>` of the schema's enum E (C++ type `T`)...
template <class T>
constexpr type optional_of(const enumeration& e) noexcept {
  return {&detail::ops_of<detail::optional<T>>, nullptr, &e};
}
template <class T>
constexpr type list_of(const enumeration& e) noexcept {
  return {&detail::ops_of<detail::list<T>>, nullptr, &e};
}
template <class T>
constexpr type map_of(const enumeration& e) noexcept {
  return {&detail::ops_of<detail::map<T>>, nullptr, &e};
}
/// ... and of the schema's struct S (C++ type `T`).
template <class T>
constexpr type optional_of(const message& m) noexcept {
  return {&detail::ops_of<detail::optional<T>>, &m};
}
template <class T>
constexpr type list_of(const message& m) noexcept {
  return {&detail::ops_of<detail::list<T>>, &m};
}
template <class T>
constexpr type map_of(const message& m) noexcept {
  return {&detail::ops_of<detail::map<T>>, &m};
}

// --- the walkers

namespace detail {
/// The loops of `encode_binary` and `encode_json`, out of line so that the unrolled encoders'
/// callers do not pay for setting them up.
EMBER_CODEC_NOINLINE inline void walk_binary(binary_writer& w, const void* msg, const message& m) {
  for (const field& f : m.fields) f.t.ops->encode_binary(w, f, detail::at(msg, f));
}
EMBER_CODEC_NOINLINE inline void walk_json(json_writer& w, const void* msg, const message& m) {
  w.begin_object();
  for (const field& f : m.fields) f.t.ops->encode_json(w, f, detail::at(msg, f));
  w.end_object();
}
}  // namespace detail

inline void encode_binary(binary_writer& w, const void* msg, const message& m) {
  if (m.unrolled.binary) return m.unrolled.binary(w, msg, m.fields.data());
  detail::walk_binary(w, msg, m);
}

inline std::error_code decode_binary(binary_reader& r, void* msg, const message& m) {
  const std::span<const field> fields = m.fields;
  std::size_t last = static_cast<std::size_t>(-1);  // none yet: the first is `last + 1`
  while (!r.at_end()) {
    std::uint32_t tag = 0;
    wire_type wt{};
    if (auto ec = r.read_key(tag, wt)) return ec;
    const std::size_t i = detail::find_tag(fields, tag, last);
    if (i == fields.size()) {
      if (auto ec = r.skip(wt)) return ec;
      continue;
    }
    if (auto ec = fields[i].t.ops->decode_binary(r, wt, fields[i], detail::at(msg, fields[i])))
      return ec;
    last = i;
  }
  return {};
}

inline void encode_json(json_writer& w, const void* msg, const message& m) {
  if (m.unrolled.json) return m.unrolled.json(w, msg, m.fields.data());
  detail::walk_json(w, msg, m);
}

inline std::error_code decode_json(json_text in, void* msg, const message& m) {
  json::element root;
  if (auto ec = json::parse_object(in, root)) return ec;
  return detail::read_message(root, 0, msg, m);
}

// --- unrolled encoders

/// Messages of more fields than this walk their table in a loop: the unrolled encoders of a
/// wide message would be much code for one message type.
inline constexpr std::size_t max_unrolled_fields = 16;

namespace detail {

/// The encoders of messages whose fields have the types of `Ops`, in that order: one direct
/// call to each field's operation, which the compiler inlines. Tags, names and offsets still
/// come from the table, so all messages with the same types of fields share one instantiation
/// (a schema's requests and replies have few different ones).
template <const field_ops*... Ops>
struct unrolled_walker {
  static void encode_binary(binary_writer& w, const void* msg, const field* f) {
    ((Ops->encode_binary(w, *f, at(msg, *f)), ++f), ...);
  }
  static void encode_json(json_writer& w, const void* msg, const field* f) {
    w.begin_object();
    ((Ops->encode_json(w, *f, at(msg, *f)), ++f), ...);
    w.end_object();
  }
};

template <const auto& Fields, bool = (std::size(Fields) <= max_unrolled_fields),
          class = std::make_index_sequence<std::size(Fields)>>
struct unrolled_of {
  static constexpr encoders value = {};
};
template <const auto& Fields, std::size_t... I>
struct unrolled_of<Fields, true, std::index_sequence<I...>> {
  using walker = unrolled_walker<Fields[I].t.ops...>;
  static constexpr encoders value = {&walker::encode_binary, &walker::encode_json};
};

}  // namespace detail

/// The unrolled encoders of the message whose fields are `Fields` (its table's array), or
/// none for a message of more than `max_unrolled_fields` fields:
///
///   constexpr codec::message point_table = {"point", point_fields, codec::unrolled<point_fields>};
template <const auto& Fields>
inline constexpr encoders unrolled = detail::unrolled_of<Fields>::value;

}  // namespace ember::codec::table
