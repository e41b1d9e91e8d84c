// ember: reading config.json's values for the validation of ember/app/impl/config.hpp — the
// failure it throws at the first problem, an object's members checked against its known keys
// (with Firefly's names hinted), and typed values with their ranges.
#pragma once

#include "ember/app/config.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "ember/app/detail/json_path.hpp"

namespace ember::app::detail {

/// The first problem found in a config; `parse_config` turns it into a `config_error`.
struct config_failure {
  json_path path;
  std::string message;
  std::size_t occurrence = 0;  ///< which of repeated keys `path` means (duplicate keys)
  std::size_t line = 0;        ///< set when known without walking `path` (invalid JSON)
};

[[noreturn]] inline void fail(json_path path, std::string message, std::size_t occurrence = 0) {
  throw config_failure{std::move(path), std::move(message), occurrence, 0};
}

/// An unknown key that Firefly's config.json has, and what to write in ember instead.
struct key_hint {
  std::string_view key;
  std::string_view text;
};

inline std::string join(std::span<const std::string_view> words) {
  std::string out;
  for (auto w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

/// Edit distance counting a swap of neighbours as one edit ("netprot" is one from "netport").
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

inline std::string unknown_key_message(std::string_view key,
                                       std::span<const std::string_view> known,
                                       std::span<const key_hint> hints) {
  std::string note;
  for (const auto& h : hints) {
    if (h.key == key) note = h.text;
  }
  if (note.empty()) {
    // Suggest the closest known key when it is close enough to be a typo.
    const std::size_t limit = key.size() >= 6 ? 2 : 1;
    std::size_t best = limit + 1;
    for (auto k : known) {
      const std::size_t d = edit_distance(key, k);
      if (d < best) {
        best = d;
        note = fmt::format("did you mean '{}'?", k);
      }
    }
  }
  return note.empty() ? fmt::format("unknown key; expected one of: {}", join(known))
                      : fmt::format("unknown key ({}); expected one of: {}", note, join(known));
}

/// The largest `max_frame` and `max_write_queue` a config may set: 1 GiB. More is a typo, not
/// a bound.
inline constexpr std::int64_t max_frame_limit = std::int64_t{1} << 30;
/// Counts and durations in milliseconds fit a signed 32-bit integer.
inline constexpr std::int64_t max_count = std::numeric_limits<std::int32_t>::max();

using element = simdjson::dom::element;
using element_type = simdjson::dom::element_type;

/// "a string", "an object", ... for "expected X, got Y".
inline std::string_view describe(element v) {
  switch (v.type()) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

// `value_unsafe()` returns a reference into the temporary `simdjson_result`: copy the object
// or array out before iterating, or the range-for loop reads a dead temporary. (g++ 12 at -O2
// reports such a loop as -Wdangling-pointer inside simdjson.h; that warning is a real bug.)
inline simdjson::dom::object object_of(element v) { return v.get_object().value_unsafe(); }
inline simdjson::dom::array array_of(element v) { return v.get_array().value_unsafe(); }

/// The members of one JSON object, checked against the keys it may have: an unknown key or a
/// key given twice stops here, in file order.
class members {
 public:
  /// `known` empty: any key is accepted (the names in `servers`).
  members(element v, json_path path, std::span<const std::string_view> known,
          std::span<const key_hint> hints = {})
      : path_(std::move(path)) {
    if (v.type() != element_type::OBJECT) {
      fail(path_, fmt::format("expected an object, got {}", describe(v)));
    }
    for (auto field : object_of(v)) {
      const std::string_view key = field.key;
      for (const auto& e : entries_) {
        if (e.first == key) fail(path_.key(key), "duplicate key; each key may appear once", 1);
      }
      if (!known.empty() && std::find(known.begin(), known.end(), key) == known.end()) {
        fail(path_.key(key), unknown_key_message(key, known, hints));
      }
      entries_.emplace_back(key, field.value);
    }
  }

  std::optional<element> get(std::string_view key) const {
    for (const auto& e : entries_) {
      if (e.first == key) return e.second;
    }
    return std::nullopt;
  }

  /// The value of `key`, which must be present: `what` says what was expected there.
  element required(std::string_view key, std::string_view what) const {
    auto v = get(key);
    if (!v) fail(at(key), fmt::format("missing; expected {}", what));
    return *v;
  }

  json_path at(std::string_view key) const { return path_.key(key); }
  const json_path& path() const noexcept { return path_; }
  const std::vector<std::pair<std::string_view, element>>& entries() const noexcept {
    return entries_;
  }
  bool empty() const noexcept { return entries_.empty(); }

 private:
  json_path path_;
  std::vector<std::pair<std::string_view, element>> entries_;
};

inline std::string read_string(element v, const json_path& p) {
  if (v.type() != element_type::STRING) {
    fail(p, fmt::format("expected a string, got {}", describe(v)));
  }
  return std::string(v.get_string().value_unsafe());
}

/// A string that must not be empty; `what` describes it ("a module path").
inline std::string read_text(element v, const json_path& p, std::string_view what) {
  if (v.type() != element_type::STRING) {
    fail(p, fmt::format("expected {}, got {}", what, describe(v)));
  }
  std::string s(v.get_string().value_unsafe());
  if (s.empty()) fail(p, fmt::format("expected {}, got an empty string", what));
  return s;
}

inline bool read_bool(element v, const json_path& p) {
  if (v.type() != element_type::BOOL) {
    fail(p, fmt::format("expected true or false, got {}", describe(v)));
  }
  return v.get_bool().value_unsafe();
}

/// A whole number in [lo, hi]; `what` describes the range ("a port number 1..65535").
/// A number written with a fraction or exponent counts when its value is whole (1e3).
inline std::int64_t read_whole(element v, const json_path& p, std::int64_t lo, std::int64_t hi,
                               std::string_view what) {
  switch (v.type()) {
    case element_type::INT64: {
      const std::int64_t x = v.get_int64().value_unsafe();
      if (x < lo || x > hi) fail(p, fmt::format("expected {}, got {}", what, x));
      return x;
    }
    case element_type::UINT64:  // only numbers above INT64_MAX are UINT64
      fail(p, fmt::format("expected {}, got {}", what, v.get_uint64().value_unsafe()));
    case element_type::DOUBLE: {
      const double d = v.get_double().value_unsafe();
      if (!(d == std::floor(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
        fail(p, fmt::format("expected {}, got {}", what, d));
      }
      return static_cast<std::int64_t>(d);
    }
    default: fail(p, fmt::format("expected a number, got {}", describe(v)));
  }
}

inline std::uint16_t read_port(element v, const json_path& p) {
  return static_cast<std::uint16_t>(read_whole(v, p, 1, 65535, "a port number 1..65535"));
}

inline std::chrono::milliseconds read_ms(element v, const json_path& p) {
  return std::chrono::milliseconds(
      read_whole(v, p, 1, max_count, "a whole number of milliseconds 1..2147483647"));
}

/// Any finite number not below `lo`.
inline double read_number(element v, const json_path& p, double lo, std::string_view what) {
  double d = 0;
  switch (v.type()) {
    case element_type::INT64: d = static_cast<double>(v.get_int64().value_unsafe()); break;
    case element_type::UINT64: d = static_cast<double>(v.get_uint64().value_unsafe()); break;
    case element_type::DOUBLE: d = v.get_double().value_unsafe(); break;
    default: fail(p, fmt::format("expected a number, got {}", describe(v)));
  }
  if (!std::isfinite(d) || d < lo) fail(p, fmt::format("expected {}, got {}", what, d));
  return d;
}

/// One of a few names, e.g. "native" or "firefly".
template <class E>
E read_choice(element v, const json_path& p,
              std::initializer_list<std::pair<std::string_view, E>> choices) {
  std::string expected;
  std::size_t i = 0;
  for (const auto& c : choices) {
    if (i > 0) expected += i + 1 == choices.size() ? " or " : ", ";
    expected += fmt::format("\"{}\"", c.first);
    ++i;
  }
  if (v.type() != element_type::STRING) {
    fail(p, fmt::format("expected {}, got {}", expected, describe(v)));
  }
  const std::string_view s = v.get_string().value_unsafe();
  for (const auto& c : choices) {
    if (c.first == s) return c.second;
  }
  fail(p, fmt::format("expected {}, got {:?}", expected, s));
}

}  // namespace ember::app::detail
