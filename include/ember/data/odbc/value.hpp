// ember: the values bound to ODBC parameters — `value` (NULL, integer, double, text, bytes or
// a boolean), the `bindable` concept and `params`, the parameters of one execution.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "ember/data/table_traits.hpp"

namespace ember::data::odbc {

/// The SQL dialect of a connection, detected from the driver (SQLGetInfo SQL_DBMS_NAME), for
/// code that generates dialect-specific SQL (upserts, types, RETURNING).
using data::dialect;  // table_traits.hpp: generated SQL is indexed by it


/// Binary data (BLOB / BYTEA).
using bytes = std::vector<std::byte>;

namespace detail {
template <class T>
concept integer = std::integral<T> && !std::same_as<T, bool>;
}  // namespace detail

/// SQL NULL as a parameter value.
struct null_t {
  friend bool operator==(null_t, null_t) = default;
};
/// SQL NULL as a parameter value: `stmt.execute(id, odbc::null)`.
inline constexpr null_t null{};

// g++ 12 at -O2 warns that moving a value holding an integer may read the bytes alternative
// uninitialized (a false positive of std::variant's move); the special members are defined in
// the class, so the pragma covers them wherever they are inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
/// A parameter value: NULL, a 64-bit integer, a double, text (UTF-8), bytes or a boolean.
/// Converts implicitly from the matching C++ types and from `std::optional` of them, so that
/// `stmt.execute(42, "name", std::optional<double>{})` binds three parameters.
class value {
 public:
  using storage = std::variant<null_t, std::int64_t, double, std::string, bytes, bool>;

  value() noexcept = default;
  value(null_t) noexcept {}
  value(std::nullopt_t) noexcept {}
  value(std::nullptr_t) noexcept {}
  value(bool b) noexcept : v_(b) {}
  template <detail::integer I>
  value(I i) : v_(narrow(i)) {}
  template <std::floating_point F>
  value(F f) noexcept : v_(static_cast<double>(f)) {}
  value(std::string s) noexcept : v_(std::move(s)) {}
  value(std::string_view s) : v_(std::string(s)) {}
  value(const char* s) : v_(std::string(s)) {}
  value(bytes b) noexcept : v_(std::move(b)) {}
  value(std::span<const std::byte> b) : v_(bytes(b.begin(), b.end())) {}
  template <class T>
  value(const std::optional<T>& o) {
    if (o.has_value()) v_ = value(*o).v_;
  }

  bool is_null() const noexcept { return std::holds_alternative<null_t>(v_); }
  const storage& get() const noexcept { return v_; }
  friend bool operator==(const value&, const value&) = default;

 private:
  template <class I>
  static std::int64_t narrow(I i) {
    if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(std::int64_t)) {
      if (i > static_cast<I>(std::numeric_limits<std::int64_t>::max()))
        throw std::out_of_range("ember::data::odbc::value: unsigned value does not fit in a 64-bit integer");
    }
    return static_cast<std::int64_t>(i);
  }

  storage v_;
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// A C++ type that binds as a parameter (converts to `value`).
template <class T>
concept bindable = std::convertible_to<const T&, value>;

/// The parameters of one execution, in placeholder order.
using params = std::vector<value>;

}  // namespace ember::data::odbc
