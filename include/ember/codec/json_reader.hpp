// ember: reading JSON bodies with simdjson's DOM parser. The generated .cpp files include
// this header; user code only needs it to decode `error_body` from JSON, because simdjson's
// single header costs about two seconds of compile time per file.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <simdjson.h>

#include "ember/codec/binary.hpp"
#include "ember/codec/codec.hpp"
#include "ember/codec/text.hpp"
#include "ember/error.hpp"

namespace ember::codec::json {

using element = simdjson::dom::element;
using element_type = simdjson::dom::element_type;

/// One parser per thread, reused so its buffers are allocated once and grow to the largest
/// body seen (bounded by the frame size limit).
inline simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

/// Parses a whole body. Invalid JSON (including invalid UTF-8) is `malformed_body`; arrays
/// and objects nested beyond simdjson's depth limit are `nesting_too_deep`. `root` is valid
/// until this thread parses again.
EMBER_CODEC_NOINLINE inline std::error_code parse(json_text in, element& root) {
  auto result = thread_parser().parse(in.text.data(), in.text.size());
  if (result.error() != simdjson::SUCCESS) {
    return result.error() == simdjson::DEPTH_ERROR ? errc::nesting_too_deep
                                                   : errc::malformed_body;
  }
  root = result.value_unsafe();
  return {};
}

/// Parses a whole body that must be an object (every message is one): `malformed_body` if
/// it is anything else.
EMBER_CODEC_NOINLINE inline std::error_code parse_object(json_text in, element& root) {
  if (auto ec = parse(in, root)) return ec;
  if (root.type() != element_type::OBJECT) return errc::malformed_body;
  return {};
}

/// The signature of every value reader below (and of the generated ones for enums and
/// structs): reads `v` into `out`; `depth` is how many structs deep `out` is.
template <class T>
using reader = std::error_code (*)(element v, T& out, int depth);

namespace detail {
template <class I>
std::error_code fit(std::int64_t v, I& out) noexcept {
  if constexpr (std::is_signed_v<I>) {
    if (v < std::numeric_limits<I>::min() || v > std::numeric_limits<I>::max()) {
      return errc::value_out_of_range;
    }
  } else {
    if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<I>::max()) {
      return errc::value_out_of_range;
    }
  }
  out = static_cast<I>(v);
  return {};
}
template <class I>
std::error_code fit(std::uint64_t v, I& out) noexcept {
  if (v > static_cast<std::uint64_t>(std::numeric_limits<I>::max())) {
    return errc::value_out_of_range;
  }
  out = static_cast<I>(v);
  return {};
}
}  // namespace detail

/// An integer field: a JSON integer, a number with an integral value (1e3), or a string of
/// decimal digits ("9007199254740993", for readers whose numbers are doubles). null is not
/// accepted here; the generated code treats a null field as absent before calling this.
template <class I>
EMBER_CODEC_NOINLINE std::error_code get_int(element v, I& out, int /*depth*/ = 0) {
  static_assert(std::is_integral_v<I> && !std::is_same_v<I, bool>);
  switch (v.type()) {
    case element_type::INT64:
      return detail::fit(v.get_int64().value_unsafe(), out);
    case element_type::UINT64:
      return detail::fit(v.get_uint64().value_unsafe(), out);
    case element_type::DOUBLE: {
      const double d = v.get_double().value_unsafe();
      if (!std::isfinite(d) || d != std::trunc(d)) return errc::value_out_of_range;
      if (d >= 0) {
        if (d >= 0x1p64) return errc::value_out_of_range;
        return detail::fit(static_cast<std::uint64_t>(d), out);
      }
      if (d < -0x1p63) return errc::value_out_of_range;
      return detail::fit(static_cast<std::int64_t>(d), out);
    }
    case element_type::STRING: {
      const std::string_view s = v.get_string().value_unsafe();
      const char* end = s.data() + s.size();
      std::conditional_t<std::is_signed_v<I>, std::int64_t, std::uint64_t> x = 0;
      const auto [ptr, ec] = std::from_chars(s.data(), end, x);
      if (ec == std::errc::result_out_of_range) return errc::value_out_of_range;
      if (ec != std::errc() || ptr != end) return errc::malformed_body;
      return detail::fit(x, out);
    }
    default:
      return errc::wrong_wire_type;
  }
}

/// A float field: a JSON number, or "NaN", "Infinity", "-Infinity", or a numeric string.
EMBER_CODEC_NOINLINE inline std::error_code get_f64(element v, double& out, int /*depth*/ = 0) {
  switch (v.type()) {
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      out = v.get_double().value_unsafe();
      return {};
    case element_type::STRING: {
      const std::string_view s = v.get_string().value_unsafe();
      if (s == "NaN") {
        out = std::numeric_limits<double>::quiet_NaN();
      } else if (s == "Infinity") {
        out = std::numeric_limits<double>::infinity();
      } else if (s == "-Infinity") {
        out = -std::numeric_limits<double>::infinity();
      } else {
        const char* end = s.data() + s.size();
        const auto [ptr, ec] = std::from_chars(s.data(), end, out);
        if (ec == std::errc::result_out_of_range) return errc::value_out_of_range;
        if (ec != std::errc() || ptr != end) return errc::malformed_body;
        if (!std::isfinite(out)) return errc::malformed_body;
      }
      return {};
    }
    default:
      return errc::wrong_wire_type;
  }
}

/// As `get_f64`; a finite value that does not round to a finite float is
/// `value_out_of_range`.
EMBER_CODEC_NOINLINE inline std::error_code get_f32(element v, float& out, int /*depth*/ = 0) {
  double d = 0;
  if (auto ec = get_f64(v, d)) return ec;
  constexpr double max = std::numeric_limits<float>::max();
  if (std::isfinite(d) && std::fabs(d) > max) {
    // Decimal text of FLT_MAX (3.4028235e38) reads as a double slightly above it; values
    // below the midpoint to 2^128 still round to FLT_MAX.
    if (std::fabs(d) >= 0x1.ffffffp127) return errc::value_out_of_range;
    out = d > 0 ? std::numeric_limits<float>::max() : std::numeric_limits<float>::lowest();
    return {};
  }
  out = static_cast<float>(d);
  return {};
}

EMBER_CODEC_NOINLINE inline std::error_code get_bool(element v, bool& out, int /*depth*/ = 0) {
  if (v.type() != element_type::BOOL) return errc::wrong_wire_type;
  out = v.get_bool().value_unsafe();
  return {};
}

EMBER_CODEC_NOINLINE inline std::error_code get_string(element v, std::string& out,
                                                       int /*depth*/ = 0) {
  if (v.type() != element_type::STRING) return errc::wrong_wire_type;
  out.assign(v.get_string().value_unsafe());
  return {};
}

/// Bytes are a base64 string (padding optional).
EMBER_CODEC_NOINLINE inline std::error_code get_bytes(element v, std::vector<std::byte>& out,
                                                      int /*depth*/ = 0) {
  if (v.type() != element_type::STRING) return errc::wrong_wire_type;
  if (!base64_decode(v.get_string().value_unsafe(), out)) return errc::malformed_body;
  return {};
}

/// An enum: its name, or (for values this schema does not name) its number.
/// `from_string(name, out)` is the generated lookup; an unknown name is `value_out_of_range`.
template <class E>
EMBER_CODEC_NOINLINE std::error_code get_enum(element v, E& out,
                                              bool (*from_string)(std::string_view, E&)) {
  if (v.type() == element_type::STRING) {
    if (!from_string(v.get_string().value_unsafe(), out)) return errc::value_out_of_range;
    return {};
  }
  if (v.type() == element_type::INT64 || v.type() == element_type::UINT64 ||
      v.type() == element_type::DOUBLE) {
    std::int32_t n = 0;
    if (auto ec = get_int(v, n)) return ec;
    out = static_cast<E>(n);
    return {};
  }
  return errc::wrong_wire_type;
}

/// A list: a JSON array whose elements `read_one` reads, at `depth` (null elements are
/// refused by it).
template <class T>
EMBER_CODEC_NOINLINE std::error_code get_list(element v, std::vector<T>& out, int depth,
                                              std::type_identity_t<reader<T>> read_one) {
  if (v.type() != element_type::ARRAY) return errc::wrong_wire_type;
  // Named, not iterated as a temporary: the result object must outlive the loop.
  const simdjson::dom::array array = v.get_array().value_unsafe();
  for (element e : array) {
    if constexpr (std::is_same_v<T, bool>) {
      bool x = false;
      if (auto ec = read_one(e, x, depth)) return ec;
      out.push_back(x);
    } else {
      if (auto ec = read_one(e, out.emplace_back(), depth)) return ec;
    }
  }
  return {};
}

/// A map<string, T>: a JSON object whose values `read_one` reads, at `depth`; a repeated key
/// replaces the earlier value.
template <class Map>
EMBER_CODEC_NOINLINE std::error_code get_map(
    element v, Map& out, int depth,
    std::type_identity_t<reader<typename Map::mapped_type>> read_one) {
  if (v.type() != element_type::OBJECT) return errc::wrong_wire_type;
  const simdjson::dom::object object = v.get_object().value_unsafe();
  for (auto field : object) {
    typename Map::mapped_type x{};
    if (auto ec = read_one(field.value, x, depth)) return ec;
    out.insert_or_assign(std::string(field.key), std::move(x));
  }
  return {};
}

/// Reads one field of the message at `msg` (a generated function per message): unknown
/// keys are ignored by returning success.
using field_reader = std::error_code (*)(void* msg, std::string_view key, element value,
                                         int depth);

/// Reads a struct at `depth`: checks the depth limit and that `v` is an object, then passes
/// each key whose value is not null to `read_field` (none when it is null: no fields).
EMBER_CODEC_NOINLINE inline std::error_code read_object(element v, int depth, void* msg,
                                                        field_reader read_field) {
  if (depth > max_depth) return errc::nesting_too_deep;
  if (v.type() != element_type::OBJECT) return errc::wrong_wire_type;
  if (read_field == nullptr) return {};
  const simdjson::dom::object object = v.get_object().value_unsafe();
  for (auto field : object) {
    if (field.value.is_null()) continue;
    if (auto ec = read_field(msg, field.key, field.value, depth)) return ec;
  }
  return {};
}

}  // namespace ember::codec::json

namespace ember::codec::detail {

/// JSON decoding of `error_body`, found by `decode_json(json_text, error_body&)`.
template <>
struct json_support<json_text> {
  static std::error_code decode_error_body(json_text in, error_body& m) {
    json::element root;
    if (auto ec = json::parse(in, root)) return ec;
    if (root.type() != json::element_type::OBJECT) return errc::malformed_body;
    const simdjson::dom::object object = root.get_object().value_unsafe();
    for (auto field : object) {
      if (field.value.is_null()) continue;
      std::error_code ec;
      if (field.key == "status") {
        ec = json::get_int(field.value, m.status);
      } else if (field.key == "message") {
        ec = json::get_string(field.value, m.message);
      }
      if (ec) return ec;
    }
    return {};
  }
};

}  // namespace ember::codec::detail
