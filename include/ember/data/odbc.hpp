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

#include <sql.h>
#include <sqlext.h>
// unixODBC's sqltypes.h makes BOOL a macro (`int`), which breaks any header included later
// that names something BOOL (simdjson's element_type::BOOL). Nothing here uses it.
#ifdef BOOL
#undef BOOL
#endif

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
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
              std::vector<std::size_t> failed_rows)
      : data_error(code, message, std::move(sqlstate)), failed_rows_(std::move(failed_rows)) {}
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

inline bool ok(SQLRETURN rc) noexcept { return rc == SQL_SUCCESS || rc == SQL_SUCCESS_WITH_INFO; }

/// An ODBC handle of one type, freed when destroyed.
template <SQLSMALLINT Type>
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
  bool allocate(SQLHANDLE parent) noexcept {
    reset();
    return ok(SQLAllocHandle(Type, parent, &h_));
  }
  void reset() noexcept {
    if (h_ != nullptr) SQLFreeHandle(Type, std::exchange(h_, nullptr));
  }
  SQLHANDLE get() const noexcept { return h_; }

 private:
  SQLHANDLE h_ = nullptr;
};

/// One diagnostic record (SQLGetDiagRec).
struct diag_record {
  std::string sqlstate;
  SQLINTEGER native = 0;
  std::string message;
};

inline std::vector<diag_record> diagnostics(SQLSMALLINT type, SQLHANDLE h) {
  std::vector<diag_record> out;
  if (h == nullptr) return out;
  for (SQLSMALLINT i = 1; i < 64; ++i) {
    SQLCHAR state[6] = {};
    diag_record rec;
    SQLSMALLINT len = 0;
    std::string text(1024, '\0');
    SQLRETURN rc = SQLGetDiagRec(type, h, i, state, &rec.native, reinterpret_cast<SQLCHAR*>(text.data()),
                                 static_cast<SQLSMALLINT>(text.size()), &len);
    if (rc == SQL_SUCCESS_WITH_INFO && static_cast<std::size_t>(len) >= text.size()) {
      text.assign(static_cast<std::size_t>(len) + 1, '\0');
      rc = SQLGetDiagRec(type, h, i, state, &rec.native, reinterpret_cast<SQLCHAR*>(text.data()),
                         static_cast<SQLSMALLINT>(text.size()), &len);
    }
    if (!ok(rc)) break;
    text.resize(std::min(static_cast<std::size_t>(std::max<SQLSMALLINT>(len, 0)), text.size() - 1));
    // Drivers end lines with "\n" or ";\n"; one line reads better in a log.
    for (auto& c : text)
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    while (!text.empty() && (text.back() == ' ' || text.back() == ';')) text.pop_back();
    rec.sqlstate.assign(reinterpret_cast<const char*>(state),
                        strnlen(reinterpret_cast<const char*>(state), 5));
    rec.message = std::move(text);
    out.push_back(std::move(rec));
  }
  return out;
}

/// The value of `key` in an ODBC connection string (case-insensitive key), if present.
inline std::optional<std::string> attribute(std::string_view cs, std::string_view key) {
  auto lower = [](std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
  };
  const std::string want = lower(key);
  std::size_t at = 0;
  while (at < cs.size()) {
    const auto eq = cs.find('=', at);
    if (eq == std::string_view::npos) break;
    std::string_view k = cs.substr(at, eq - at);
    while (!k.empty() && k.front() == ' ') k.remove_prefix(1);
    while (!k.empty() && k.back() == ' ') k.remove_suffix(1);
    std::size_t end = eq + 1;
    if (end < cs.size() && cs[end] == '{') {  // {braced values may hold ';'}
      const auto close = cs.find('}', end);
      end = close == std::string_view::npos ? cs.size() : close + 1;
    }
    end = std::min(cs.find(';', end), cs.size());
    if (lower(k) == want) return std::string(cs.substr(eq + 1, end - eq - 1));
    at = end + 1;
  }
  return std::nullopt;
}

/// The connection string with passwords masked, for error messages.
inline std::string masked(std::string_view cs) {
  std::string out;
  std::size_t at = 0;
  while (at < cs.size()) {
    auto end = std::min(cs.find(';', at), cs.size());
    std::string_view part = cs.substr(at, end - at);
    const auto eq = part.find('=');
    std::string key(part.substr(0, eq == std::string_view::npos ? part.size() : eq));
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (eq != std::string_view::npos && (key == "pwd" || key == "password"))
      out.append(part.substr(0, eq)).append("=***");
    else
      out.append(part);
    if (end < cs.size()) out.push_back(';');
    at = end + 1;
  }
  return out;
}

/// A failed ODBC call, classified.
struct failure {
  data_errc code = data_errc::database;
  std::string sqlstate;
  std::string message;
};

/// SQL text for error messages: one line, at most ~160 characters.
inline std::string excerpt(std::string_view sql) {
  std::string s(sql.substr(0, 160));
  for (auto& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (sql.size() > 160) s += "...";
  return s;
}

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
  cursor(cursor&& o) noexcept
      : stmt_(std::exchange(o.stmt_, nullptr)),
        generation_(o.generation_),
        read_(std::move(o.read_)),
        done_(o.done_) {}
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
  cursor(statement& s, std::uint64_t generation, std::size_t columns)
      : stmt_(&s), generation_(generation), read_(columns, false) {}

  SQLHANDLE handle() const noexcept;
  void claim(std::size_t col);
  [[noreturn]] void null_into_non_optional(std::size_t col) const;
  [[noreturn]] void out_of_range(std::size_t col, std::string_view type) const;
  [[noreturn]] void fail(std::string_view what) const;

  template <class T>
  bool read(std::size_t col, T& out);
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

  // The buffers bound for one execution; they must outlive SQLExecute.
  struct single_binding {
    std::vector<SQLLEN> indicators;
    std::vector<unsigned char> bits;
  };
  // Indexes of the alternatives of value::storage.
  enum kind : std::size_t { null_kind, integer_kind, double_kind, text_kind, bytes_kind, bool_kind };
  static_assert(std::is_same_v<std::variant_alternative_t<text_kind, value::storage>, std::string> &&
                std::is_same_v<std::variant_alternative_t<bool_kind, value::storage>, bool>);
  struct column_buffer {
    std::size_t kind = null_kind;  // the kind of the column's non-NULL values
    std::size_t width = 1;         // bytes per element for text and bytes
    std::vector<std::byte> data;
    std::vector<SQLLEN> indicators;
  };

  void bind(std::span<const value> p, single_binding& b);
  // Binds and executes; a failure comes back classified instead of thrown.
  std::optional<detail::failure> try_run(std::span<const value> p, std::string_view what, SQLRETURN& rc);
  SQLRETURN run(std::span<const value> p, std::string_view what);
  void close_cursor() noexcept;
  std::size_t check_width(std::span<const value> p) const;
  batch_result batch_arrays(std::span<const params> rows, row_counts counts);
  batch_result batch_chunk(std::span<const params> rows, std::size_t offset, row_counts counts);
  batch_result batch_rows(std::span<const params> rows, row_counts counts);
  bool arrays_supported(std::size_t n);

  connection* conn_;
  detail::handle<SQL_HANDLE_STMT> stmt_;
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
  ~connection() { close(); }

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
  detail::failure diagnose(SQLSMALLINT type, SQLHANDLE h, std::string_view what);
  [[noreturn]] void raise(SQLSMALLINT type, SQLHANDLE h, std::string_view what) {
    auto f = diagnose(type, h, what);
    throw data_error(f.code, f.message, std::move(f.sqlstate));
  }

  struct text_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  std::string masked_;
  std::chrono::seconds login_timeout_;
  detail::handle<SQL_HANDLE_ENV> env_;
  detail::handle<SQL_HANDLE_DBC> dbc_;
  bool connected_ = false;
  odbc::dialect dialect_ = odbc::dialect::sqlite;
  bool broken_ = false;
  bool in_transaction_ = false;
  bool batch_row_counts_ = false;  // SQL_PARAM_ARRAY_ROW_COUNTS == SQL_PARC_BATCH
  std::optional<bool> arrays_;     // parameter arrays work (probed on the first batch)
  detail::handle<SQL_HANDLE_STMT> direct_;
  std::unordered_map<std::string, std::unique_ptr<statement>, text_hash, std::equal_to<>> statements_;
};

// ---------------------------------------------------------------------------------------------
// connection

inline connection::connection(std::string_view connection_string, connect_options options)
    : masked_(detail::masked(connection_string)), login_timeout_(options.login_timeout) {
  std::string cs(connection_string);
  try {
    connect(cs);
    if (dialect_ == odbc::dialect::sqlite && !detail::attribute(cs, "Timeout")) {
      // The busy timeout must be a connection attribute (see connect_options): reconnect with
      // it. Opening SQLite costs well under a millisecond.
      close();
      if (!cs.empty() && cs.back() != ';') cs += ';';
      cs += "Timeout=" + std::to_string(options.sqlite_busy_timeout.count()) + ';';
      connect(cs);
    }
    if (dialect_ == odbc::dialect::sqlite) {
      // WAL lets readers run beside one writer (other processes included); NORMAL syncs at
      // checkpoints rather than at every commit, which is safe in WAL mode (a power cut may
      // lose the last commits, never corrupt the file).
      execute("PRAGMA journal_mode=WAL");
      execute("PRAGMA synchronous=NORMAL");
    }
  } catch (...) {
    close();
    throw;
  }
}

inline void connection::connect(const std::string& cs) {
  broken_ = false;
  const std::string what = "cannot connect to \"" + masked_ + "\"";
  if (!env_.allocate(SQL_NULL_HANDLE))
    throw data_error(data_errc::database, what + ": cannot allocate an ODBC environment");
  SQLSetEnvAttr(env_.get(), SQL_ATTR_ODBC_VERSION,
                reinterpret_cast<SQLPOINTER>(static_cast<std::uintptr_t>(SQL_OV_ODBC3)), 0);
  if (!dbc_.allocate(env_.get())) raise(SQL_HANDLE_ENV, env_.get(), what);
  SQLSetConnectAttr(dbc_.get(), SQL_ATTR_LOGIN_TIMEOUT,
                    reinterpret_cast<SQLPOINTER>(static_cast<std::uintptr_t>(login_timeout_.count())), 0);
  SQLRETURN rc =
      SQLDriverConnect(dbc_.get(), nullptr, reinterpret_cast<SQLCHAR*>(const_cast<char*>(cs.c_str())),
                       SQL_NTS, nullptr, 0, nullptr, SQL_DRIVER_NOPROMPT);
  if (!detail::ok(rc)) {
    auto f = diagnose(SQL_HANDLE_DBC, dbc_.get(), what);
    broken_ = false;  // nothing to replace: it never connected
    dbc_.reset();
    env_.reset();
    throw data_error(f.code, f.message, std::move(f.sqlstate));
  }
  connected_ = true;

  char name[128] = {};
  SQLSMALLINT len = 0;
  if (!detail::ok(SQLGetInfo(dbc_.get(), SQL_DBMS_NAME, name, sizeof name, &len)))
    raise(SQL_HANDLE_DBC, dbc_.get(), what);
  std::string dbms(name);
  for (auto& c : dbms) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (dbms.find("sqlite") != std::string::npos) {
    dialect_ = odbc::dialect::sqlite;
  } else if (dbms.find("postgres") != std::string::npos) {
    dialect_ = odbc::dialect::postgresql;
  } else {
    close();
    throw data_error(data_errc::database, what + ": unsupported DBMS \"" + std::string(name) +
                                              "\" (ember speaks SQLite and PostgreSQL)");
  }
  SQLUINTEGER parc = 0;
  SQLGetInfo(dbc_.get(), SQL_PARAM_ARRAY_ROW_COUNTS, &parc, sizeof parc, nullptr);
  batch_row_counts_ = parc == SQL_PARC_BATCH;
  if (!direct_.allocate(dbc_.get())) raise(SQL_HANDLE_DBC, dbc_.get(), what);
}

inline void connection::close() noexcept {
  statements_.clear();
  direct_.reset();
  if (connected_) {
    if (in_transaction_) SQLEndTran(SQL_HANDLE_DBC, dbc_.get(), SQL_ROLLBACK);
    SQLDisconnect(dbc_.get());
    connected_ = false;
  }
  in_transaction_ = false;
  arrays_.reset();
  dbc_.reset();
  env_.reset();
}

inline detail::failure connection::diagnose(SQLSMALLINT type, SQLHANDLE h, std::string_view what) {
  const auto recs = detail::diagnostics(type, h);
  detail::failure f{data_errc::database, recs.empty() ? std::string() : recs.front().sqlstate,
                    std::string(what)};
  bool lost = false, constraint = false;
  for (const auto& r : recs) {
    const std::string_view cls = std::string_view(r.sqlstate).substr(0, 2);
    // 57P01-03: the server is shutting down or restarting (psqlODBC reports 57P01 first, then
    // 08S01 "the connection lost" on later calls).
    if (!lost && (cls == "08" || r.sqlstate == "57P01" || r.sqlstate == "57P02" || r.sqlstate == "57P03")) {
      lost = true;
      f.sqlstate = r.sqlstate;
    } else if (!lost && !constraint && cls == "23") {
      constraint = true;
      f.sqlstate = r.sqlstate;
    } else if (!lost && !constraint && dialect_ == odbc::dialect::sqlite && connected_ &&
               (r.native & 0xff) == 19) {
      // libsqlite3odbc reports SQLITE_CONSTRAINT (19) as HY000; say what it is.
      constraint = true;
      f.sqlstate = "23000";
    }
  }
  if (!lost && connected_ && type != SQL_HANDLE_ENV) {
    SQLUINTEGER dead = SQL_CD_FALSE;
    if (detail::ok(SQLGetConnectAttr(dbc_.get(), SQL_ATTR_CONNECTION_DEAD, &dead, 0, nullptr)) &&
        dead == SQL_CD_TRUE)
      lost = true;
  }
  if (lost) {
    f.code = data_errc::connection_lost;
    if (connected_) broken_ = true;
  } else if (constraint) {
    f.code = data_errc::constraint;
  }
  f.message += ": ";
  if (recs.empty()) f.message += "the driver gave no diagnostics";
  for (std::size_t i = 0; i < recs.size(); ++i) {
    if (i) f.message += "; ";
    if (recs.size() > 1) f.message += "[" + recs[i].sqlstate + "] ";
    f.message += recs[i].message;
  }
  return f;
}

inline std::int64_t connection::execute(std::string_view sql) {
  const std::string text(sql);
  SQLRETURN rc =
      SQLExecDirect(direct_.get(), reinterpret_cast<SQLCHAR*>(const_cast<char*>(text.c_str())), SQL_NTS);
  if (!detail::ok(rc) && rc != SQL_NO_DATA) {
    auto f = diagnose(SQL_HANDLE_STMT, direct_.get(), "executing \"" + detail::excerpt(sql) + "\"");
    SQLFreeStmt(direct_.get(), SQL_CLOSE);
    throw data_error(f.code, f.message, std::move(f.sqlstate));
  }
  SQLLEN rows = 0;  // SQL_NO_DATA: a searched UPDATE/DELETE hit no row
  if (rc != SQL_NO_DATA) SQLRowCount(direct_.get(), &rows);
  SQLFreeStmt(direct_.get(), SQL_CLOSE);
  return static_cast<std::int64_t>(rows);
}

inline statement& connection::prepare(std::string_view sql) {
  if (auto it = statements_.find(sql); it != statements_.end()) return *it->second;
  std::unique_ptr<statement> s(new statement(*this, std::string(sql)));
  auto& ref = *s;
  statements_.emplace(std::string(sql), std::move(s));
  return ref;
}

inline void connection::set_autocommit(bool on, std::string_view what) {
  const auto mode = static_cast<std::uintptr_t>(on ? SQL_AUTOCOMMIT_ON : SQL_AUTOCOMMIT_OFF);
  if (!detail::ok(SQLSetConnectAttr(dbc_.get(), SQL_ATTR_AUTOCOMMIT, reinterpret_cast<SQLPOINTER>(mode),
                                    SQL_IS_UINTEGER)))
    raise(SQL_HANDLE_DBC, dbc_.get(), what);
}

inline void connection::begin() {
  if (in_transaction_)
    throw std::logic_error("ember::data::odbc::connection::begin: a transaction is already open");
  set_autocommit(false, "beginning a transaction");
  in_transaction_ = true;
}

inline void connection::commit() {
  if (!in_transaction_)
    throw std::logic_error("ember::data::odbc::connection::commit: no transaction is open");
  if (!detail::ok(SQLEndTran(SQL_HANDLE_DBC, dbc_.get(), SQL_COMMIT))) {
    // The caller rolls back (database::transaction does), which returns to autocommit.
    raise(SQL_HANDLE_DBC, dbc_.get(), "committing");
  }
  in_transaction_ = false;
  set_autocommit(true, "returning to autocommit after a commit");
}

inline void connection::rollback() {
  if (!in_transaction_)
    throw std::logic_error("ember::data::odbc::connection::rollback: no transaction is open");
  in_transaction_ = false;
  for (auto& [sql, s] : statements_) s->close_cursor();
  const bool rolled = detail::ok(SQLEndTran(SQL_HANDLE_DBC, dbc_.get(), SQL_ROLLBACK));
  if (!rolled) {
    auto f = diagnose(SQL_HANDLE_DBC, dbc_.get(), "rolling back");
    broken_ = true;  // a transaction that may still be open: never reuse this connection
    throw data_error(f.code, f.message, std::move(f.sqlstate));
  }
  try {
    set_autocommit(true, "returning to autocommit after a rollback");
  } catch (...) {
    broken_ = true;
    throw;
  }
}

// ---------------------------------------------------------------------------------------------
// statement

inline statement::statement(connection& c, std::string sql) : conn_(&c), sql_(std::move(sql)) {
  const std::string what = "preparing \"" + detail::excerpt(sql_) + "\"";
  if (!stmt_.allocate(c.dbc_.get())) c.raise(SQL_HANDLE_DBC, c.dbc_.get(), what);
  if (!detail::ok(SQLPrepare(stmt_.get(), reinterpret_cast<SQLCHAR*>(sql_.data()),
                             static_cast<SQLINTEGER>(sql_.size()))))
    c.raise(SQL_HANDLE_STMT, stmt_.get(), what);
  SQLSMALLINT n = 0;
  if (!detail::ok(SQLNumParams(stmt_.get(), &n))) c.raise(SQL_HANDLE_STMT, stmt_.get(), what);
  parameters_ = static_cast<std::size_t>(std::max<SQLSMALLINT>(n, 0));
}

inline void statement::close_cursor() noexcept {
  if (!cursor_open_) return;
  SQLFreeStmt(stmt_.get(), SQL_CLOSE);
  cursor_open_ = false;
  ++generation_;
}

inline std::size_t statement::check_width(std::span<const value> p) const {
  if (p.size() != parameters_)
    throw std::invalid_argument("ember::data::odbc: \"" + detail::excerpt(sql_) + "\" takes " +
                                std::to_string(parameters_) + " parameters, " + std::to_string(p.size()) +
                                " given");
  return p.size();
}

inline void statement::bind(std::span<const value> p, single_binding& b) {
  static char empty[1] = {};
  b.indicators.assign(p.size(), 0);
  b.bits.assign(p.size(), 0);
  SQLFreeStmt(stmt_.get(), SQL_RESET_PARAMS);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto col = static_cast<SQLUSMALLINT>(i + 1);
    SQLLEN& ind = b.indicators[i];
    SQLRETURN rc = std::visit(
        [&](const auto& v) -> SQLRETURN {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, null_t>) {
            // A NULL bound as VARCHAR goes into a column of any type with both drivers (tested:
            // BIGINT, DOUBLE PRECISION, TEXT, BYTEA, BOOLEAN), and the same statement then takes
            // typed values in that place.
            ind = SQL_NULL_DATA;
            return SQLBindParameter(stmt_.get(), col, SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR, 1, 0, empty,
                                    0, &ind);
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            return SQLBindParameter(stmt_.get(), col, SQL_PARAM_INPUT, SQL_C_SBIGINT, SQL_BIGINT, 0, 0,
                                    const_cast<std::int64_t*>(&v), 0, &ind);
          } else if constexpr (std::is_same_v<T, double>) {
            return SQLBindParameter(stmt_.get(), col, SQL_PARAM_INPUT, SQL_C_DOUBLE, SQL_DOUBLE, 0, 0,
                                    const_cast<double*>(&v), 0, &ind);
          } else if constexpr (std::is_same_v<T, bool>) {
            b.bits[i] = v ? 1 : 0;
            return SQLBindParameter(stmt_.get(), col, SQL_PARAM_INPUT, SQL_C_BIT, SQL_BIT, 0, 0, &b.bits[i],
                                    0, &ind);
          } else if constexpr (std::is_same_v<T, std::string>) {
            ind = static_cast<SQLLEN>(v.size());
            return SQLBindParameter(stmt_.get(), col, SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR,
                                    std::max<SQLULEN>(v.size(), 1), 0,
                                    v.empty() ? empty : const_cast<char*>(v.data()), ind, &ind);
          } else {
            // VARBINARY, not LONGVARBINARY: psqlODBC maps the latter to large objects, not bytea.
            ind = static_cast<SQLLEN>(v.size());
            return SQLBindParameter(stmt_.get(), col, SQL_PARAM_INPUT, SQL_C_BINARY, SQL_VARBINARY,
                                    std::max<SQLULEN>(v.size(), 1), 0,
                                    v.empty() ? static_cast<void*>(empty) : const_cast<std::byte*>(v.data()),
                                    ind, &ind);
          }
        },
        p[i].get());
    if (!detail::ok(rc))
      conn_->raise(SQL_HANDLE_STMT, stmt_.get(),
                   "binding parameter " + std::to_string(i + 1) + " of \"" + detail::excerpt(sql_) + "\"");
  }
}

inline std::optional<detail::failure> statement::try_run(std::span<const value> p, std::string_view what,
                                                         SQLRETURN& rc) {
  check_width(p);
  close_cursor();
  single_binding b;
  bind(p, b);
  rc = SQLExecute(stmt_.get());
  if (detail::ok(rc) || rc == SQL_NO_DATA) return std::nullopt;
  auto f =
      conn_->diagnose(SQL_HANDLE_STMT, stmt_.get(), std::string(what) + " \"" + detail::excerpt(sql_) + "\"");
  SQLFreeStmt(stmt_.get(), SQL_CLOSE);
  return f;
}

inline SQLRETURN statement::run(std::span<const value> p, std::string_view what) {
  SQLRETURN rc = SQL_SUCCESS;
  if (auto f = try_run(p, what, rc)) throw data_error(f->code, f->message, std::move(f->sqlstate));
  return rc;
}

inline std::int64_t statement::execute(std::span<const value> p) {
  const SQLRETURN rc = run(p, "executing");
  SQLLEN rows = 0;
  if (rc != SQL_NO_DATA) SQLRowCount(stmt_.get(), &rows);  // SQL_NO_DATA: a searched UPDATE/DELETE hit no row
  SQLFreeStmt(stmt_.get(), SQL_CLOSE);
  return static_cast<std::int64_t>(rows);
}

inline cursor statement::query(std::span<const value> p) {
  run(p, "querying");
  SQLSMALLINT n = 0;
  if (!detail::ok(SQLNumResultCols(stmt_.get(), &n)))
    conn_->raise(SQL_HANDLE_STMT, stmt_.get(), "describing \"" + detail::excerpt(sql_) + "\"");
  cursor_open_ = true;
  return cursor(*this, generation_, static_cast<std::size_t>(std::max<SQLSMALLINT>(n, 0)));
}

inline batch_result statement::execute_batch(std::span<const params> rows, row_counts counts) {
  for (const auto& r : rows) check_width(r);
  if (rows.empty()) return {};
  const bool own = !conn_->in_transaction();
  if (own) conn_->begin();
  try {
    batch_result r;
    if (parameters_ == 0 || rows.size() == 1 ||
        (counts == row_counts::per_row && !conn_->batch_row_counts_) ||
        !arrays_supported(std::min<std::size_t>(rows.size(), 1000)))
      r = batch_rows(rows, counts);
    else
      r = batch_arrays(rows, counts);
    if (own) conn_->commit();
    return r;
  } catch (...) {
    if (own && conn_->in_transaction()) {
      try {
        conn_->rollback();
      } catch (...) {  // broken_ is set; the batch's own error is the one to report
      }
    }
    throw;
  }
}

inline bool statement::arrays_supported(std::size_t n) {
  if (conn_->arrays_) return *conn_->arrays_;
  // A driver without parameter arrays refuses SQL_ATTR_PARAMSET_SIZE (HYC00) or lowers it to 1
  // (01S02). Both drivers used here take them; the row-by-row path is the fallback.
  SQLULEN got = 0;
  const SQLRETURN rc = SQLSetStmtAttr(stmt_.get(), SQL_ATTR_PARAMSET_SIZE,
                                      reinterpret_cast<SQLPOINTER>(static_cast<std::uintptr_t>(n)), 0);
  const bool ok = detail::ok(rc) &&
                  detail::ok(SQLGetStmtAttr(stmt_.get(), SQL_ATTR_PARAMSET_SIZE, &got, 0, nullptr)) &&
                  got == n;
  SQLSetStmtAttr(stmt_.get(), SQL_ATTR_PARAMSET_SIZE, reinterpret_cast<SQLPOINTER>(std::uintptr_t{1}), 0);
  conn_->arrays_ = ok;
  return ok;
}

inline batch_result statement::batch_rows(std::span<const params> rows, row_counts counts) {
  batch_result r;
  if (counts == row_counts::per_row) r.per_row.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SQLRETURN rc = SQL_SUCCESS;
    if (auto f = try_run(rows[i], "executing", rc))
      throw batch_error(f->code, f->message + " (batch row " + std::to_string(i) + ")",
                        std::move(f->sqlstate), {i});
    SQLLEN n = 0;
    if (rc != SQL_NO_DATA) SQLRowCount(stmt_.get(), &n);
    SQLFreeStmt(stmt_.get(), SQL_CLOSE);
    r.rows_affected += std::max<std::int64_t>(n, 0);
    if (counts == row_counts::per_row) r.per_row.push_back(n);
  }
  return r;
}

inline batch_result statement::batch_arrays(std::span<const params> rows, row_counts counts) {
  // Chunks of at most 1,000 rows and ~8 MB of bound buffers (text and bytes are bound at the
  // width of their longest value).
  constexpr std::size_t max_rows = 1000, max_bytes = std::size_t{8} << 20;
  batch_result total;
  std::vector<std::size_t> widths(parameters_);
  std::size_t begin = 0;
  while (begin < rows.size()) {
    std::fill(widths.begin(), widths.end(), 8);
    std::size_t end = begin;
    while (end < rows.size() && end - begin < max_rows) {
      std::size_t row_bytes = 0;
      for (std::size_t c = 0; c < parameters_; ++c) {
        std::size_t w = 8;
        if (auto* s = std::get_if<std::string>(&rows[end][c].get())) w = s->size() + 1;
        if (auto* b = std::get_if<bytes>(&rows[end][c].get())) w = b->size();
        row_bytes += std::max(widths[c], w);
      }
      if (end > begin && row_bytes * (end - begin + 1) > max_bytes) break;
      for (std::size_t c = 0; c < parameters_; ++c) {
        if (auto* s = std::get_if<std::string>(&rows[end][c].get()))
          widths[c] = std::max(widths[c], s->size() + 1);
        if (auto* b = std::get_if<bytes>(&rows[end][c].get())) widths[c] = std::max(widths[c], b->size());
      }
      ++end;
    }
    auto part = batch_chunk(rows.subspan(begin, end - begin), begin, counts);
    total.rows_affected += part.rows_affected;
    total.per_row.insert(total.per_row.end(), part.per_row.begin(), part.per_row.end());
    begin = end;
  }
  return total;
}

inline batch_result statement::batch_chunk(std::span<const params> rows, std::size_t offset,
                                           row_counts counts) {
  const std::size_t n = rows.size();
  close_cursor();
  // Column-wise buffers: one array per parameter, one element per row.
  std::vector<column_buffer> cols(parameters_);
  for (std::size_t c = 0; c < parameters_; ++c) {
    auto& col = cols[c];
    for (std::size_t r = 0; r < n; ++r) {
      const auto& v = rows[r][c].get();
      if (v.index() == null_kind) continue;
      if (col.kind == null_kind) col.kind = v.index();
      if (v.index() != col.kind)
        throw std::invalid_argument("ember::data::odbc: batch column " + std::to_string(c + 1) + " of \"" +
                                    detail::excerpt(sql_) + "\" mixes value types (row " +
                                    std::to_string(offset + r) + ")");
      if (auto* s = std::get_if<std::string>(&v)) col.width = std::max(col.width, s->size() + 1);
      if (auto* b = std::get_if<bytes>(&v)) col.width = std::max(col.width, b->size());
    }
    const std::size_t elem = col.kind == integer_kind || col.kind == double_kind ? 8
                             : col.kind == bool_kind                             ? 1
                                                                                 : col.width;
    col.width = elem;
    col.data.assign(elem * n, std::byte{0});
    col.indicators.assign(n, SQL_NULL_DATA);
    for (std::size_t r = 0; r < n; ++r) {
      std::byte* at = col.data.data() + r * elem;
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, bool>) {
              *at = std::byte{static_cast<unsigned char>(v ? 1 : 0)};
              col.indicators[r] = 0;
            } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
              std::memcpy(at, &v, sizeof v);
              col.indicators[r] = 0;
            } else if constexpr (!std::is_same_v<T, null_t>) {
              if (!v.empty()) std::memcpy(at, v.data(), v.size());
              col.indicators[r] = static_cast<SQLLEN>(v.size());
            }
          },
          rows[r][c].get());
    }
  }

  std::vector<SQLUSMALLINT> status(n, SQL_PARAM_UNUSED);
  SQLULEN processed = 0;
  const SQLHSTMT h = stmt_.get();
  // Back to single-row execution whatever happens: the driver must keep no pointer into these
  // buffers once they are gone.
  struct restore {
    SQLHSTMT h;
    ~restore() {
      SQLFreeStmt(h, SQL_CLOSE);
      SQLSetStmtAttr(h, SQL_ATTR_PARAMSET_SIZE, reinterpret_cast<SQLPOINTER>(std::uintptr_t{1}), 0);
      SQLSetStmtAttr(h, SQL_ATTR_PARAM_STATUS_PTR, nullptr, 0);
      SQLSetStmtAttr(h, SQL_ATTR_PARAMS_PROCESSED_PTR, nullptr, 0);
      SQLFreeStmt(h, SQL_RESET_PARAMS);
    }
  } guard{h};
  const std::string what =
      "executing a batch of " + std::to_string(n) + " rows of \"" + detail::excerpt(sql_) + "\"";
  SQLFreeStmt(h, SQL_RESET_PARAMS);
  if (!detail::ok(SQLSetStmtAttr(h, SQL_ATTR_PARAM_BIND_TYPE,
                                 reinterpret_cast<SQLPOINTER>(std::uintptr_t{SQL_PARAM_BIND_BY_COLUMN}),
                                 0)) ||
      !detail::ok(SQLSetStmtAttr(h, SQL_ATTR_PARAMSET_SIZE,
                                 reinterpret_cast<SQLPOINTER>(static_cast<std::uintptr_t>(n)), 0)) ||
      !detail::ok(SQLSetStmtAttr(h, SQL_ATTR_PARAM_STATUS_PTR, status.data(), 0)) ||
      !detail::ok(SQLSetStmtAttr(h, SQL_ATTR_PARAMS_PROCESSED_PTR, &processed, 0)))
    conn_->raise(SQL_HANDLE_STMT, h, what);
  for (std::size_t c = 0; c < parameters_; ++c) {
    auto& col = cols[c];
    const auto num = static_cast<SQLUSMALLINT>(c + 1);
    const auto width = static_cast<SQLLEN>(col.width);
    SQLRETURN rc = SQL_ERROR;
    switch (col.kind) {
      case null_kind:  // all NULL: bound as text
      case text_kind:
        rc = SQLBindParameter(h, num, SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR,
                              std::max<SQLULEN>(col.width - 1, 1), 0, col.data.data(), width,
                              col.indicators.data());
        break;
      case integer_kind:
        rc = SQLBindParameter(h, num, SQL_PARAM_INPUT, SQL_C_SBIGINT, SQL_BIGINT, 0, 0, col.data.data(), 0,
                              col.indicators.data());
        break;
      case double_kind:
        rc = SQLBindParameter(h, num, SQL_PARAM_INPUT, SQL_C_DOUBLE, SQL_DOUBLE, 0, 0, col.data.data(), 0,
                              col.indicators.data());
        break;
      case bytes_kind:
        rc = SQLBindParameter(h, num, SQL_PARAM_INPUT, SQL_C_BINARY, SQL_VARBINARY,
                              std::max<SQLULEN>(col.width, 1), 0, col.data.data(), width,
                              col.indicators.data());
        break;
      case bool_kind:
        rc = SQLBindParameter(h, num, SQL_PARAM_INPUT, SQL_C_BIT, SQL_BIT, 0, 0, col.data.data(), 1,
                              col.indicators.data());
        break;
    }
    if (!detail::ok(rc)) conn_->raise(SQL_HANDLE_STMT, h, what);
  }

  auto fail = [&]() {
    auto f = conn_->diagnose(SQL_HANDLE_STMT, h, what);
    std::vector<std::size_t> failed;
    for (std::size_t r = 0; r < n; ++r)
      if (status[r] == SQL_PARAM_ERROR) failed.push_back(offset + r);
    // libsqlite3odbc leaves the status array alone and stops at the failing row: the rows
    // processed before it are exactly its index.
    if (failed.empty() && conn_->dialect_ == odbc::dialect::sqlite && processed < n)
      failed.push_back(offset + processed);
    if (failed.size() == 1)
      f.message += " (batch row " + std::to_string(failed.front()) + ")";
    else if (!failed.empty())
      f.message += " (the driver flagged batch rows " + std::to_string(failed.front()) + ".." +
                   std::to_string(failed.back()) + ")";
    throw batch_error(f.code, f.message, std::move(f.sqlstate), std::move(failed));
  };
  const SQLRETURN rc = SQLExecute(h);
  if ((!detail::ok(rc) && rc != SQL_NO_DATA) ||
      std::find(status.begin(), status.end(), SQLUSMALLINT{SQL_PARAM_ERROR}) != status.end())
    fail();

  batch_result out;
  SQLLEN count = 0;
  if (rc != SQL_NO_DATA) SQLRowCount(h, &count);
  if (!conn_->batch_row_counts_) {
    out.rows_affected = std::max<std::int64_t>(count, 0);
    return out;
  }
  // psqlODBC reports one result per parameter row (SQL_PARC_BATCH): the first now, the others
  // through SQLMoreResults.
  if (counts == row_counts::per_row) out.per_row.assign(n, 0);
  for (std::size_t r = 0;; ++r) {
    if (r < n && counts == row_counts::per_row) out.per_row[r] = count;
    out.rows_affected += std::max<std::int64_t>(count, 0);
    const SQLRETURN more = SQLMoreResults(h);
    if (more == SQL_NO_DATA) break;
    if (!detail::ok(more)) fail();
    count = 0;
    SQLRowCount(h, &count);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// cursor

inline SQLHANDLE cursor::handle() const noexcept { return stmt_->stmt_.get(); }

inline cursor::~cursor() {
  if (stmt_ && stmt_->generation_ == generation_) stmt_->close_cursor();
}

inline bool cursor::next() {
  if (done_) return false;
  if (!stmt_ || stmt_->generation_ != generation_)
    throw std::logic_error("ember::data::odbc::cursor: used after its rows ended or its statement ran again");
  const SQLRETURN rc = SQLFetch(handle());
  if (rc == SQL_NO_DATA) {
    stmt_->close_cursor();  // ends SQLite's read transaction now, not when the cursor goes
    done_ = true;
    return false;
  }
  if (!detail::ok(rc)) fail("fetching from");
  std::fill(read_.begin(), read_.end(), false);
  return true;
}

inline std::string cursor::column_name(std::size_t col) const {
  if (!stmt_ || col >= read_.size())
    throw std::out_of_range("ember::data::odbc::cursor: no column " + std::to_string(col));
  char name[256] = {};
  SQLSMALLINT len = 0;
  if (!detail::ok(SQLColAttribute(handle(), static_cast<SQLUSMALLINT>(col + 1), SQL_DESC_NAME, name,
                                  sizeof name, &len, nullptr)))
    return "#" + std::to_string(col);
  return name;
}

inline void cursor::claim(std::size_t col) {
  if (!stmt_ || stmt_->generation_ != generation_)
    throw std::logic_error("ember::data::odbc::cursor: read after its rows ended or its statement ran again");
  if (col >= read_.size())
    throw std::out_of_range("ember::data::odbc::cursor: no column " + std::to_string(col) +
                            " (the result has " + std::to_string(read_.size()) + ")");
  if (read_[col])
    throw std::logic_error("ember::data::odbc::cursor: column " + std::to_string(col) +
                           " read twice in one row");
  read_[col] = true;
}

inline void cursor::null_into_non_optional(std::size_t col) const {
  throw data_error(data_errc::database, "column '" + column_name(col) + "' (" + std::to_string(col) +
                                            ") of \"" + detail::excerpt(stmt_->sql_) +
                                            "\" is NULL; read it as std::optional");
}

inline void cursor::out_of_range(std::size_t col, std::string_view type) const {
  throw data_error(data_errc::database, "column '" + column_name(col) + "' (" + std::to_string(col) +
                                            ") of \"" + detail::excerpt(stmt_->sql_) + "\" does not fit in " +
                                            std::string(type));
}

inline void cursor::fail(std::string_view what) const {
  stmt_->conn_->raise(SQL_HANDLE_STMT, handle(),
                      std::string(what) + " \"" + detail::excerpt(stmt_->sql_) + "\"");
}

template <class T>
bool cursor::read(std::size_t col, T& out) {
  claim(col);
  if constexpr (std::is_same_v<T, std::string>) {
    return read_text(col, out);
  } else if constexpr (std::is_same_v<T, bytes>) {
    return read_bytes(col, out);
  } else {
    const auto num = static_cast<SQLUSMALLINT>(col + 1);
    SQLLEN ind = 0;
    if constexpr (std::is_same_v<T, bool>) {
      unsigned char bit = 0;
      if (!detail::ok(SQLGetData(handle(), num, SQL_C_BIT, &bit, 0, &ind))) fail("reading");
      out = bit != 0;
    } else if constexpr (std::floating_point<T>) {
      double d = 0;
      if (!detail::ok(SQLGetData(handle(), num, SQL_C_DOUBLE, &d, 0, &ind))) fail("reading");
      out = static_cast<T>(d);
    } else {
      SQLBIGINT i = 0;
      if (!detail::ok(SQLGetData(handle(), num, SQL_C_SBIGINT, &i, 0, &ind))) fail("reading");
      if (ind != SQL_NULL_DATA && !std::in_range<T>(i)) out_of_range(col, "the requested integer type");
      out = static_cast<T>(i);
    }
    return ind != SQL_NULL_DATA;
  }
}

inline bool cursor::read_text(std::size_t col, std::string& out) {
  const auto num = static_cast<SQLUSMALLINT>(col + 1);
  out.clear();
  std::size_t have = 0, chunk = 256;  // chunk: buffer bytes offered, the terminator included
  for (;;) {
    out.resize(have + chunk);
    SQLLEN ind = 0;
    const SQLRETURN rc =
        SQLGetData(handle(), num, SQL_C_CHAR, out.data() + have, static_cast<SQLLEN>(chunk), &ind);
    if (rc == SQL_NO_DATA) break;
    if (!detail::ok(rc)) fail("reading");
    if (ind == SQL_NULL_DATA) {
      out.clear();
      return false;
    }
    // ind is what remained before this call (or SQL_NO_TOTAL); it fit if ind < chunk.
    if (ind != SQL_NO_TOTAL && static_cast<std::size_t>(ind) < chunk) {
      have += static_cast<std::size_t>(ind);
      break;
    }
    have += chunk - 1;
    chunk = ind == SQL_NO_TOTAL ? chunk * 2 : static_cast<std::size_t>(ind) - (chunk - 1) + 1;
  }
  out.resize(have);
  return true;
}

inline bool cursor::read_bytes(std::size_t col, bytes& out) {
  const auto num = static_cast<SQLUSMALLINT>(col + 1);
  out.clear();
  std::size_t have = 0, chunk = 256;
  for (;;) {
    out.resize(have + chunk);
    SQLLEN ind = 0;
    const SQLRETURN rc =
        SQLGetData(handle(), num, SQL_C_BINARY, out.data() + have, static_cast<SQLLEN>(chunk), &ind);
    if (rc == SQL_NO_DATA) break;
    if (!detail::ok(rc)) fail("reading");
    if (ind == SQL_NULL_DATA) {
      out.clear();
      return false;
    }
    if (ind != SQL_NO_TOTAL && static_cast<std::size_t>(ind) <= chunk) {
      have += static_cast<std::size_t>(ind);
      break;
    }
    have += chunk;
    chunk = ind == SQL_NO_TOTAL ? chunk * 2 : static_cast<std::size_t>(ind) - chunk;
  }
  out.resize(have);
  return true;
}

}  // namespace ember::data::odbc
