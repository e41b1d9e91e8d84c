// ember: `odbc::connection`, one ODBC connection: opening it, transactions, and the cache of
// its prepared statements.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ember/data/odbc/detail/handle.hpp"
#include "ember/data/odbc/statement.hpp"
#include "ember/data/odbc/value.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::data::odbc {

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

// cursor, statement and connection are one unit (friends of each other), defined in that order
// whichever is included first; this header, the last, brings the bodies of all three.
#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/odbc/impl/connection.hpp"
#include "ember/data/odbc/impl/cursor.hpp"
#include "ember/data/odbc/impl/statement.hpp"
#include "ember/data/odbc/impl/statement_batch.hpp"
#endif
