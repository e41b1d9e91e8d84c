// ember: `odbc::cursor`, the rows of a query read one column at a time into C++ types.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ember/data/error.hpp"
#include "ember/data/odbc/detail/handle.hpp"
#include "ember/data/odbc/value.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::data::odbc {

class statement;

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
concept fetchable = std::same_as<T, bool> || std::integral<T> || std::floating_point<T> ||
    std::same_as<T, std::string> || std::same_as<T, bytes>;

}  // namespace detail

/// Rows of a query, read one at a time: `while (cur.next()) cur.get<std::int64_t>(0)`. Columns
/// are numbered from 0; read each column of a row at most once (libsqlite3odbc cannot re-read
/// one). Valid until its statement runs again or its connection closes.
class cursor {
 public:
  cursor(cursor&& o) noexcept;
  cursor& operator=(cursor&&) = delete;
  cursor(const cursor&) = delete;
  ~cursor();

  /// Moves to the next row; false after the last one (and from then on).
  bool next();
  /// Number of columns of the result.
  std::size_t columns() const noexcept { return read_.size(); }
  /// Name of column `col` (0-based).
  std::string column_name(std::size_t col) const;

  /// Column `col` of the current row as T: std::int64_t (or another integer type, range
  /// checked), double, bool, std::string (UTF-8 text), bytes, or std::optional of one of them.
  /// NULL read into a non-optional T throws data_error (database) naming the column.
  template <class T>
  T get(std::size_t col) {
    if constexpr (detail::is_optional<T>::value) {
      static_assert(detail::fetchable<typename T::value_type>, "cursor::get: unsupported column type");
      typename T::value_type out{};
      if (!read(col, out)) return std::nullopt;
      return T(std::move(out));
    } else {
      static_assert(detail::fetchable<T>, "cursor::get: unsupported column type");
      T out{};
      if (!read(col, out)) null_into_non_optional(col);
      return out;
    }
  }

 private:
  friend class statement;
  cursor(statement& s, std::uint64_t generation, std::size_t columns);

  detail::sql_handle handle() const noexcept;
  void claim(std::size_t col);
  [[noreturn]] void null_into_non_optional(std::size_t col) const;
  [[noreturn]] void out_of_range(std::size_t col, std::string_view type) const;
  [[noreturn]] void fail(std::string_view what) const;

  template <class T>
  bool read(std::size_t col, T& out) {
    claim(col);
    if constexpr (std::is_same_v<T, std::string>) {
      return read_text(col, out);
    } else if constexpr (std::is_same_v<T, bytes>) {
      return read_bytes(col, out);
    } else if constexpr (std::is_same_v<T, bool>) {
      return read_bit(col, out);
    } else if constexpr (std::floating_point<T>) {
      double d = 0;
      const bool got = read_double(col, d);
      out = static_cast<T>(d);
      return got;
    } else {
      std::int64_t i = 0;
      const bool got = read_integer(col, i);
      if (got && !std::in_range<T>(i)) out_of_range(col, "the requested integer type");
      out = static_cast<T>(i);
      return got;
    }
  }
  // Column `col` of the current row as ODBC reads it into one C type; false if it is NULL.
  bool read_bit(std::size_t col, bool& out);
  bool read_double(std::size_t col, double& out);
  bool read_integer(std::size_t col, std::int64_t& out);
  bool read_text(std::size_t col, std::string& out);
  bool read_bytes(std::size_t col, bytes& out);
  // Column `col` read as one fixed-size C type `c_type` into `out`; false if it is NULL.
  template <class T>
  bool read_fixed(std::size_t col, detail::sql_smallint c_type, T& out);
  // A column of any length, read in chunks as C type `c_type` (text or binary): `terminator`
  // is the bytes the driver adds to each chunk (1 for text, 0 for binary).
  template <class Buffer>
  bool read_chunked(std::size_t col, detail::sql_smallint c_type, std::size_t terminator, Buffer& out);

  statement* stmt_;
  std::uint64_t generation_;
  std::vector<bool> read_;  // columns already read in the current row
  bool done_ = false;       // next() returned false
};


}  // namespace ember::data::odbc

// cursor, statement and connection are one unit (friends of each other), defined in that order
// whichever is included first; connection.hpp, the last, brings the bodies of all three.
#include "ember/data/odbc/statement.hpp"
