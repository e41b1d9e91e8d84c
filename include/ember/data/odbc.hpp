// ember: blocking ODBC wrappers for the data layer — a connection, prepared statements whose
// parameters are always bound (never spliced into SQL), typed cursors, and parameter-array
// batches for write-back. Every call blocks and nothing here is thread-safe: use a connection on
// one thread at a time, in practice on a worker of `ember::data::database`.
//
// Deployment notes (both drivers as packaged by Debian 12):
// - psqlODBC logs every connection to a file in /tmp because Debian's /etc/odbcinst.ini sets
//   `CommLog=1`, and the connection string cannot turn that off. Point `ODBCSYSINI` at a
//   directory holding a copy of odbcinst.ini with `CommLog=0`, before the first ODBC call.
// - psqlODBC: put `Protocol=7.4-1` in the connection string. The default 7.4-2 wraps every
//   statement in a savepoint so that a failed statement rolls back alone, which ember never
//   needs (its transactions roll back as a whole on any error). Measured: 52k vs 28k rows/s
//   with raw two-column arrays on a loaded machine, 75k vs 72k with ember's five-column batches
//   on a quiet one.
// - psqlODBC sends parameter arrays in sub-batches of `BatchSize` rows (default 100). When a row
//   fails, `batch_error::failed_rows()` is that row on a statement's first batch, and the whole
//   sub-batch holding it on later batches (measured, psqlODBC 13.02).
// - SQLite (libsqlite3odbc 0.9998): see `connect_options::sqlite_busy_timeout`. It reports
//   constraint violations as HY000 with SQLite's code 19; they are reported here as `constraint`
//   with SQLSTATE 23000. It reads REAL values through SQLite's text form, with 15 significant
//   digits: a double is stored exactly but may read back different in its last digits (once:
//   the rounded value reads back as itself).
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "ember/data/error.hpp"
#include "ember/data/table_traits.hpp"
#include "ember/separate_compilation.hpp"

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

/// Whether `execute_batch` reports rows affected per parameter row or only in total.
enum class row_counts {
  total,    ///< only `batch_result::rows_affected`
  per_row,  ///< also `batch_result::per_row` (on drivers that only report a total, rows run one by one)
};

/// The outcome of `statement::execute_batch`.
struct batch_result {
  std::int64_t rows_affected = 0;     ///< rows inserted, updated or deleted by the whole batch
  std::vector<std::int64_t> per_row;  ///< rows affected by each parameter row, with row_counts::per_row
};

/// A batch failed (nothing of it is kept when it ran in its own transaction). Which rows failed
/// is known when the driver tells: libsqlite3odbc names the row; psqlODBC names the row or flags
/// the whole sub-batch holding it (see the notes at the top). Empty when unknown.
class batch_error : public data_error {
 public:
  batch_error(data_errc code, const std::string& message, std::string sqlstate,
              std::vector<std::size_t> failed_rows);
  /// Indexes (into the rows passed to execute_batch) the driver flagged as failed, ascending.
  const std::vector<std::size_t>& failed_rows() const noexcept { return failed_rows_; }

 private:
  std::vector<std::size_t> failed_rows_;
};

/// How a connection is opened.
struct connect_options {
  /// How long to wait for the server when connecting (SQL_ATTR_LOGIN_TIMEOUT).
  std::chrono::seconds login_timeout{10};
  /// SQLite only: how long a statement waits for another connection's (or process's) lock
  /// before failing with "database is locked". libsqlite3odbc installs its own busy handler and
  /// re-installs it on every statement, so `PRAGMA busy_timeout` has no lasting effect (measured:
  /// PRAGMA busy_timeout=400 still waited the driver's default 100 s). The driver's `Timeout=`
  /// connection attribute (ms) is what works, so the connection is opened with `Timeout=` added
  /// unless the connection string sets it. The driver may wait up to about twice this long
  /// (it retries both preparing and stepping; Timeout=300 failed after ~640 ms).
  std::chrono::milliseconds sqlite_busy_timeout{5000};
};

class connection;
class statement;

namespace detail {

// The ODBC types this header names, without <sql.h> (unixODBC's; impl/odbc.hpp checks them).
using sql_handle = void*;     // SQLHANDLE
using sql_smallint = short;   // SQLSMALLINT
using sql_return = short;     // SQLRETURN
inline constexpr sql_smallint handle_env = 1, handle_dbc = 2, handle_stmt = 3;  // SQL_HANDLE_*

/// SQLAllocHandle; false when ODBC refuses.
EMBER_DECL bool allocate_handle(sql_smallint type, sql_handle parent, sql_handle& out) noexcept;
/// SQLFreeHandle.
EMBER_DECL void free_handle(sql_smallint type, sql_handle h) noexcept;

/// An ODBC handle of one type, freed when destroyed.
template <sql_smallint Type>
class handle {
 public:
  handle() = default;
  handle(handle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  handle& operator=(handle&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  ~handle() { reset(); }

  /// Allocates a new handle under `parent`; false when ODBC refuses.
  bool allocate(sql_handle parent) noexcept {
    reset();
    return allocate_handle(Type, parent, h_);
  }
  void reset() noexcept {
    if (h_ != nullptr) free_handle(Type, std::exchange(h_, nullptr));
  }
  sql_handle get() const noexcept { return h_; }

 private:
  sql_handle h_ = nullptr;
};

/// A failed ODBC call, classified.
struct failure {
  data_errc code = data_errc::database;
  std::string sqlstate;
  std::string message;
};

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

  statement* stmt_;
  std::uint64_t generation_;
  std::vector<bool> read_;  // columns already read in the current row
  bool done_ = false;       // next() returned false
};

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

  // The buffers bound for one execution (defined with the bodies: they hold ODBC types).
  struct single_binding;
  // Indexes of the alternatives of value::storage.
  enum kind : std::size_t { null_kind, integer_kind, double_kind, text_kind, bytes_kind, bool_kind };
  static_assert(std::is_same_v<std::variant_alternative_t<text_kind, value::storage>, std::string> &&
                std::is_same_v<std::variant_alternative_t<bool_kind, value::storage>, bool>);
  // One parameter's column of a batch (defined with the bodies).
  struct column_buffer;

  void bind(std::span<const value> p, single_binding& b);
  // Binds and executes; a failure comes back classified instead of thrown.
  std::optional<detail::failure> try_run(std::span<const value> p, std::string_view what, detail::sql_return& rc);
  detail::sql_return run(std::span<const value> p, std::string_view what);
  void close_cursor() noexcept;
  std::size_t check_width(std::span<const value> p) const;
  batch_result batch_arrays(std::span<const params> rows, row_counts counts);
  batch_result batch_chunk(std::span<const params> rows, std::size_t offset, row_counts counts);
  batch_result batch_rows(std::span<const params> rows, row_counts counts);
  bool arrays_supported(std::size_t n);

  connection* conn_;
  detail::handle<detail::handle_stmt> stmt_;
  std::string sql_;
  std::size_t parameters_ = 0;
  std::uint64_t generation_ = 0;  // bumped whenever a cursor's result set ends
  bool cursor_open_ = false;
};

/// One ODBC connection (not thread-safe; blocking). Opened by the constructor: for SQLite it
/// also sets `PRAGMA journal_mode=WAL`, `PRAGMA synchronous=NORMAL` and a busy timeout so that
/// several processes can share one database file.
class connection {
 public:
  /// Connects with an ODBC connection string, e.g. `Driver=SQLite3;Database=/var/game.db;` or
  /// `Driver={PostgreSQL Unicode};Server=...;Port=5432;Database=game;Uid=game;Pwd=...;Protocol=7.4-1;`.
  /// Throws data_error: connection_lost when the server cannot be reached (SQLSTATE 08xxx),
  /// database for anything else (unknown driver, bad attributes); the message names the
  /// connection string with its password masked.
  explicit connection(std::string_view connection_string, connect_options options = {});
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  /// Rolls back an open transaction and disconnects.
  ~connection();

  /// The dialect of the database it talks to.
  odbc::dialect dialect() const noexcept { return dialect_; }
  /// True after a communication failure (SQLSTATE class 08, a server shutdown, or the driver
  /// reporting the connection dead): the connection is useless and must be replaced.
  bool broken() const noexcept { return broken_; }
  /// True between begin() and commit()/rollback().
  bool in_transaction() const noexcept { return in_transaction_; }

  /// Runs SQL without parameters (DDL, PRAGMA, SET) without preparing or caching it; returns
  /// the rows affected (-1 when not applicable). Anything with values goes through prepare().
  std::int64_t execute(std::string_view sql);

  /// The prepared statement for `sql`, prepared on first use and cached by its text for the
  /// connection's lifetime (so keep SQL texts fixed and bind the values). The reference stays
  /// valid as long as the connection.
  statement& prepare(std::string_view sql);

  /// Starts a transaction (autocommit off). Throws std::logic_error if one is open.
  void begin();
  /// Commits the transaction and returns to autocommit. If the commit fails the transaction
  /// is still open: roll it back (database::transaction does).
  void commit();
  /// Rolls the transaction back and returns to autocommit. On failure the connection is
  /// marked broken (its state is unknown) and data_error is thrown.
  void rollback();

 private:
  friend class statement;
  friend class cursor;

  void connect(const std::string& cs);
  void set_autocommit(bool on, std::string_view what);
  void close() noexcept;
  /// Reads and classifies the diagnostics of `h` after a failed call; marks the connection
  /// broken when they say it is.
  detail::failure diagnose(detail::sql_smallint type, detail::sql_handle h, std::string_view what);
  [[noreturn]] void raise(detail::sql_smallint type, detail::sql_handle h, std::string_view what);

  struct text_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  std::string masked_;
  std::chrono::seconds login_timeout_;
  detail::handle<detail::handle_env> env_;
  detail::handle<detail::handle_dbc> dbc_;
  bool connected_ = false;
  odbc::dialect dialect_ = odbc::dialect::sqlite;
  bool broken_ = false;
  bool in_transaction_ = false;
  bool batch_row_counts_ = false;  // SQL_PARAM_ARRAY_ROW_COUNTS == SQL_PARC_BATCH
  std::optional<bool> arrays_;     // parameter arrays work (probed on the first batch)
  detail::handle<detail::handle_stmt> direct_;
  std::unordered_map<std::string, std::unique_ptr<statement>, text_hash, std::equal_to<>> statements_;
};

}  // namespace ember::data::odbc

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/odbc.hpp"
#endif
