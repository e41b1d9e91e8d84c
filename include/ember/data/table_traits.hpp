// ember: what ember-codegen says about a [[table]] (the `NAME_table` traits of a generated
// header), and the concept the data layer checks them against. No ODBC or memcached here:
// generated headers include it.
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ember::data {

/// The SQL dialects ember generates statements for; indexes the traits' `sql` arrays.
enum class dialect : std::uint8_t { sqlite = 0, postgresql = 1 };

inline constexpr std::string_view to_string(dialect d) noexcept {
  return d == dialect::sqlite ? "sqlite" : "postgresql";
}

/// The statements of one table in one dialect. Every value is a bound `?` parameter; the
/// columns are the table's in SQL order (key first) followed by `ember_version`.
struct table_sql {
  std::string_view create;   ///< CREATE TABLE IF NOT EXISTS, with every column
  std::string_view select;   ///< one row by key: the columns, then ember_version
  std::string_view upsert;   ///< insert, or update only when the stored version is older
  std::string_view remove;   ///< delete by key when the stored version is not newer
  std::string_view max_key;  ///< SELECT MAX(key), to seed generated keys
  /// `upsert` is upsert_head + "(?, ...)" + upsert_tail: write-back puts many rows' tuples
  /// between them, as one statement parses once for all of them.
  std::string_view upsert_head;
  std::string_view upsert_tail;
};

/// A column, and the migration that adds it to a table created before it existed.
struct column_sql {
  std::string_view name;
  std::array<std::string_view, 2> add;  ///< ALTER TABLE ... ADD COLUMN, per dialect
};

/// A secondary lookup's statements, per dialect.
struct lookup_sql {
  std::array<std::string_view, 2> select;  ///< the keys of the rows with a column value
  std::array<std::string_view, 2> index;   ///< CREATE INDEX IF NOT EXISTS
};

/// The generated description of a table (see `NAME_table` in a generated header).
template <class T>
concept table_traits = requires(const typename T::row& r, typename T::row& w) {
  typename T::key_type;
  { T::name } -> std::convertible_to<std::string_view>;
  { T::generated_key } -> std::convertible_to<bool>;
  { T::flush_interval } -> std::convertible_to<std::chrono::milliseconds>;
  { T::flush_batch } -> std::convertible_to<std::size_t>;
  { T::key_of(r) } -> std::convertible_to<typename T::key_type>;
  T::set_key(w, typename T::key_type{});
  T::sql[0];
  T::columns[0];
};

}  // namespace ember::data
