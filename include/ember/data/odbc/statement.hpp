// ember: `odbc::statement`, a prepared statement: its parameters bound for one execution, a
// query's cursor, or parameter-array batches.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ember/data/odbc/batch.hpp"
#include "ember/data/odbc/cursor.hpp"
#include "ember/data/odbc/detail/handle.hpp"
#include "ember/data/odbc/value.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::data::odbc {

class connection;
namespace detail {
struct single_binding;
}  // namespace detail

/// A prepared statement, owned (and cached by its SQL text) by its connection. Placeholders are
/// `?`; values are bound, never spliced into the SQL.
class statement {
 public:
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  /// Runs the statement with `args` bound to its placeholders; returns the rows affected
  /// (SQLRowCount: -1 when not applicable), e.g. 0 or 1 for `UPDATE ... WHERE version < ?`.
  template <bindable... Args>
  std::int64_t execute(const Args&... args) {
    const std::array<value, sizeof...(Args)> p{value(args)...};
    return execute(std::span<const value>(p));
  }
  /// Runs the statement with `p` bound to its placeholders; returns the rows affected.
  std::int64_t execute(std::span<const value> p);

  /// Runs a query with `args` bound; read its rows from the cursor.
  template <bindable... Args>
  cursor query(const Args&... args) {
    const std::array<value, sizeof...(Args)> p{value(args)...};
    return query(std::span<const value>(p));
  }
  /// Runs a query with `p` bound; read its rows from the cursor.
  cursor query(std::span<const value> p);

  /// Runs the statement once per row of `rows` (each row holds one value per placeholder; a
  /// column's non-NULL values must all have the same type), binding column-wise parameter
  /// arrays so a whole batch costs one call (psqlODBC pipelines it in sub-batches). Runs in its
  /// own transaction unless the connection is in one: all rows or none. Throws batch_error.
  /// With row_counts::per_row, drivers that only report a total (libsqlite3odbc) run the rows
  /// one by one in the same transaction instead.
  batch_result execute_batch(std::span<const params> rows, row_counts counts = row_counts::total);

  /// The SQL text it was prepared from.
  const std::string& sql() const noexcept { return sql_; }
  /// How many `?` placeholders it has.
  std::size_t parameter_count() const noexcept { return parameters_; }

 private:
  friend class connection;
  friend class cursor;
  statement(connection& c, std::string sql);

  void bind(std::span<const value> p, detail::single_binding& b);
  // Binds and executes; a failure comes back classified instead of thrown.
  std::optional<detail::failure> try_run(std::span<const value> p, std::string_view what, detail::sql_return& rc);
  detail::sql_return run(std::span<const value> p, std::string_view what);
  void close_cursor() noexcept;
  std::size_t check_width(std::span<const value> p) const;
  batch_result batch_arrays(std::span<const params> rows, row_counts counts);
  batch_result batch_chunk(std::span<const params> rows, std::size_t offset, row_counts counts);
  batch_result batch_rows(std::span<const params> rows, row_counts counts);
  bool arrays_supported(std::size_t n);
  // After a failed batch: throws batch_error naming the rows the driver flagged (`status` is
  // the SQL_ATTR_PARAM_STATUS_PTR array, `processed` the rows it processed).
  [[noreturn]] void batch_failed(std::span<const unsigned short> status, std::size_t processed,
                                 std::size_t offset, const std::string& what);
  // The rows affected by an executed batch of `n` rows (SQLRowCount, then SQLMoreResults).
  batch_result batch_counts(detail::sql_return rc, std::span<const unsigned short> status,
                            std::size_t processed, std::size_t offset, row_counts counts,
                            const std::string& what);

  connection* conn_;
  detail::handle<detail::handle_stmt> stmt_;
  std::string sql_;
  std::size_t parameters_ = 0;
  std::uint64_t generation_ = 0;  // bumped whenever a cursor's result set ends
  bool cursor_open_ = false;
};

/// One ODBC connection (not thread-safe; blocking). Opened by the constructor: for SQLite it

}  // namespace ember::data::odbc

// cursor, statement and connection are one unit (friends of each other), defined in that order
// whichever is included first; connection.hpp, the last, brings the bodies of all three.
#include "ember/data/odbc/connection.hpp"
