// ember: generated rows to and from ODBC — columns become bound parameters and typed fetches,
// in the order of the table's traits; and the small schema queries a table needs at start-up.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ember/data/odbc.hpp"
#include "ember/data/table_traits.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::data {

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
}  // namespace detail

/// A column value as a bound parameter (enums as their int32, small integers widened).
template <class V>
odbc::value to_value(const V& v) {
  if constexpr (detail::is_optional<V>::value) {
    return v ? to_value(*v) : odbc::value{};
  } else if constexpr (std::is_same_v<V, bool>) {
    return odbc::value{static_cast<std::int64_t>(v)};  // a small integer column (see codegen)
  } else if constexpr (std::is_enum_v<V>) {
    return odbc::value{static_cast<std::int64_t>(static_cast<std::int32_t>(v))};
  } else if constexpr (std::is_integral_v<V>) {
    return odbc::value{static_cast<std::int64_t>(v)};
  } else if constexpr (std::is_floating_point_v<V>) {
    return odbc::value{static_cast<double>(v)};
  } else {
    return odbc::value{v};  // std::string, bytes
  }
}

/// Sets an integer-like column from the int64 the driver returned.
template <class V>
void from_column_value(std::int64_t v, V& out) {
  if constexpr (std::is_same_v<V, bool>) {
    out = v != 0;
  } else if constexpr (std::is_enum_v<V>) {
    out = static_cast<V>(static_cast<std::int32_t>(v));
  } else {
    out = static_cast<V>(v);
  }
}

/// Reads column `col` of the cursor's current row into `out`, converting as `to_value` did.
template <class V>
void from_column(odbc::cursor& cur, std::size_t col, V& out) {
  if constexpr (detail::is_optional<V>::value) {
    using inner = typename V::value_type;
    if constexpr (std::is_same_v<inner, bool> || std::is_enum_v<inner> || std::is_integral_v<inner>) {
      const auto v = cur.get<std::optional<std::int64_t>>(col);
      if (!v) out.reset();
      else from_column_value(*v, out.emplace());
    } else if constexpr (std::is_floating_point_v<inner>) {
      const auto v = cur.get<std::optional<double>>(col);
      if (!v) out.reset();
      else out = static_cast<inner>(*v);
    } else {
      out = cur.get<V>(col);
    }
  } else if constexpr (std::is_same_v<V, bool> || std::is_enum_v<V> || std::is_integral_v<V>) {
    from_column_value(cur.get<std::int64_t>(col), out);
  } else if constexpr (std::is_floating_point_v<V>) {
    out = static_cast<V>(cur.get<double>(col));
  } else {
    out = cur.get<V>(col);
  }
}

/// The bound parameters of `T::sql[].upsert`: the columns, then the version.
template <table_traits T>
std::vector<odbc::value> row_values(const typename T::row& r, std::uint64_t version) {
  std::vector<odbc::value> out;
  out.reserve(T::columns.size() + 1);
  T::for_each_column(r, [&](const auto& v) { out.push_back(to_value(v)); });
  out.push_back(odbc::value{static_cast<std::int64_t>(version)});
  return out;
}

/// The row and version of the cursor's current row of `T::sql[].select`.
template <table_traits T>
std::pair<typename T::row, std::uint64_t> read_row(odbc::cursor& cur) {
  std::pair<typename T::row, std::uint64_t> out{};
  std::size_t col = 0;
  T::for_each_column(out.first, [&](auto& v) { from_column(cur, col++, v); });
  out.second = static_cast<std::uint64_t>(cur.get<std::int64_t>(col));
  return out;
}

/// The names of the columns table `name` has in the database now (empty if it does not exist).
EMBER_DECL std::set<std::string> existing_columns(odbc::connection& c, dialect d, std::string_view name);

/// The table of generated-key blocks: one row per table, the next key not yet handed out.
EMBER_DECL void create_key_table(odbc::connection& c);

/// Holds, while it lives, the turn of this connection to change the schema. PostgreSQL answers
/// two sessions that create one table at once (`CREATE TABLE IF NOT EXISTS`, as every process
/// of a fresh cluster does) with a unique violation on its catalogue (23505): they take turns
/// under a session-level advisory lock, which PostgreSQL also drops with a lost connection.
/// SQLite serialises writers itself: nothing to take.
class schema_turn {
 public:
  EMBER_DECL schema_turn(odbc::connection& c, dialect d);
  EMBER_DECL ~schema_turn();
  schema_turn(const schema_turn&) = delete;
  schema_turn& operator=(const schema_turn&) = delete;

 private:
  odbc::connection* held_;
};

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/row_io.hpp"
#endif
