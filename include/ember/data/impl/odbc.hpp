// ember: bodies of the ODBC wrappers (ember/data/odbc.hpp); <sql.h> and <sqlext.h> are
// included here only.
#pragma once

#include "ember/data/odbc.hpp"

#include <sql.h>
#include <sqlext.h>
// unixODBC's sqltypes.h makes BOOL a macro (`int`), which breaks any header included later
// that names something BOOL (simdjson's element_type::BOOL). Nothing here uses it.
#ifdef BOOL
#undef BOOL
#endif

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

namespace ember::data::odbc {

static_assert(std::is_same_v<detail::sql_handle, SQLHANDLE> && std::is_same_v<detail::sql_smallint, SQLSMALLINT> &&
                  std::is_same_v<detail::sql_return, SQLRETURN>,
              "odbc.hpp names ODBC's types without <sql.h>: they must match");
static_assert(detail::handle_env == SQL_HANDLE_ENV && detail::handle_dbc == SQL_HANDLE_DBC &&
              detail::handle_stmt == SQL_HANDLE_STMT);

EMBER_DECL batch_error::batch_error(data_errc code, const std::string& message, std::string sqlstate,
                                    std::vector<std::size_t> failed_rows)
    : data_error(code, message, std::move(sqlstate)), failed_rows_(std::move(failed_rows)) {}

namespace detail {

inline bool ok(SQLRETURN rc) noexcept { return rc == SQL_SUCCESS || rc == SQL_SUCCESS_WITH_INFO; }

EMBER_DECL bool allocate_handle(sql_smallint type, sql_handle parent, sql_handle& out) noexcept {
  return ok(SQLAllocHandle(type, parent, &out));
}

EMBER_DECL void free_handle(sql_smallint type, sql_handle h) noexcept { SQLFreeHandle(type, h); }

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

/// SQL text for error messages: one line, at most ~160 characters.
inline std::string excerpt(std::string_view sql) {
  std::string s(sql.substr(0, 160));
  for (auto& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (sql.size() > 160) s += "...";
  return s;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// statement's buffers

// The buffers bound for one execution; they must outlive SQLExecute.
struct statement::single_binding {
  std::vector<SQLLEN> indicators;
  std::vector<unsigned char> bits;
};

struct statement::column_buffer {
  std::size_t kind = null_kind;  // the kind of the column's non-NULL values
  std::size_t width = 1;         // bytes per element for text and bytes
  std::vector<std::byte> data;
  std::vector<SQLLEN> indicators;
};

// ---------------------------------------------------------------------------------------------
// connection

EMBER_DECL connection::connection(std::string_view connection_string, connect_options options)
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

EMBER_DECL connection::~connection() { close(); }

EMBER_DECL void connection::connect(const std::string& cs) {
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

EMBER_DECL void connection::close() noexcept {
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

EMBER_DECL void connection::raise(SQLSMALLINT type, SQLHANDLE h, std::string_view what) {
  auto f = diagnose(type, h, what);
  throw data_error(f.code, f.message, std::move(f.sqlstate));
}

EMBER_DECL detail::failure connection::diagnose(SQLSMALLINT type, SQLHANDLE h, std::string_view what) {
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

EMBER_DECL std::int64_t connection::execute(std::string_view sql) {
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

EMBER_DECL statement& connection::prepare(std::string_view sql) {
  if (auto it = statements_.find(sql); it != statements_.end()) return *it->second;
  std::unique_ptr<statement> s(new statement(*this, std::string(sql)));
  auto& ref = *s;
  statements_.emplace(std::string(sql), std::move(s));
  return ref;
}

EMBER_DECL void connection::set_autocommit(bool on, std::string_view what) {
  const auto mode = static_cast<std::uintptr_t>(on ? SQL_AUTOCOMMIT_ON : SQL_AUTOCOMMIT_OFF);
  if (!detail::ok(SQLSetConnectAttr(dbc_.get(), SQL_ATTR_AUTOCOMMIT, reinterpret_cast<SQLPOINTER>(mode),
                                    SQL_IS_UINTEGER)))
    raise(SQL_HANDLE_DBC, dbc_.get(), what);
}

EMBER_DECL void connection::begin() {
  if (in_transaction_)
    throw std::logic_error("ember::data::odbc::connection::begin: a transaction is already open");
  set_autocommit(false, "beginning a transaction");
  in_transaction_ = true;
}

EMBER_DECL void connection::commit() {
  if (!in_transaction_)
    throw std::logic_error("ember::data::odbc::connection::commit: no transaction is open");
  if (!detail::ok(SQLEndTran(SQL_HANDLE_DBC, dbc_.get(), SQL_COMMIT))) {
    // The caller rolls back (database::transaction does), which returns to autocommit.
    raise(SQL_HANDLE_DBC, dbc_.get(), "committing");
  }
  in_transaction_ = false;
  set_autocommit(true, "returning to autocommit after a commit");
}

EMBER_DECL void connection::rollback() {
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

EMBER_DECL statement::statement(connection& c, std::string sql) : conn_(&c), sql_(std::move(sql)) {
  const std::string what = "preparing \"" + detail::excerpt(sql_) + "\"";
  if (!stmt_.allocate(c.dbc_.get())) c.raise(SQL_HANDLE_DBC, c.dbc_.get(), what);
  if (!detail::ok(SQLPrepare(stmt_.get(), reinterpret_cast<SQLCHAR*>(sql_.data()),
                             static_cast<SQLINTEGER>(sql_.size()))))
    c.raise(SQL_HANDLE_STMT, stmt_.get(), what);
  SQLSMALLINT n = 0;
  if (!detail::ok(SQLNumParams(stmt_.get(), &n))) c.raise(SQL_HANDLE_STMT, stmt_.get(), what);
  parameters_ = static_cast<std::size_t>(std::max<SQLSMALLINT>(n, 0));
}

EMBER_DECL void statement::close_cursor() noexcept {
  if (!cursor_open_) return;
  SQLFreeStmt(stmt_.get(), SQL_CLOSE);
  cursor_open_ = false;
  ++generation_;
}

EMBER_DECL std::size_t statement::check_width(std::span<const value> p) const {
  if (p.size() != parameters_)
    throw std::invalid_argument("ember::data::odbc: \"" + detail::excerpt(sql_) + "\" takes " +
                                std::to_string(parameters_) + " parameters, " + std::to_string(p.size()) +
                                " given");
  return p.size();
}

EMBER_DECL void statement::bind(std::span<const value> p, single_binding& b) {
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

EMBER_DECL std::optional<detail::failure> statement::try_run(std::span<const value> p, std::string_view what,
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

EMBER_DECL SQLRETURN statement::run(std::span<const value> p, std::string_view what) {
  SQLRETURN rc = SQL_SUCCESS;
  if (auto f = try_run(p, what, rc)) throw data_error(f->code, f->message, std::move(f->sqlstate));
  return rc;
}

EMBER_DECL std::int64_t statement::execute(std::span<const value> p) {
  const SQLRETURN rc = run(p, "executing");
  SQLLEN rows = 0;
  if (rc != SQL_NO_DATA) SQLRowCount(stmt_.get(), &rows);  // SQL_NO_DATA: a searched UPDATE/DELETE hit no row
  SQLFreeStmt(stmt_.get(), SQL_CLOSE);
  return static_cast<std::int64_t>(rows);
}

EMBER_DECL cursor statement::query(std::span<const value> p) {
  run(p, "querying");
  SQLSMALLINT n = 0;
  if (!detail::ok(SQLNumResultCols(stmt_.get(), &n)))
    conn_->raise(SQL_HANDLE_STMT, stmt_.get(), "describing \"" + detail::excerpt(sql_) + "\"");
  cursor_open_ = true;
  return cursor(*this, generation_, static_cast<std::size_t>(std::max<SQLSMALLINT>(n, 0)));
}

EMBER_DECL batch_result statement::execute_batch(std::span<const params> rows, row_counts counts) {
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

EMBER_DECL bool statement::arrays_supported(std::size_t n) {
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

EMBER_DECL batch_result statement::batch_rows(std::span<const params> rows, row_counts counts) {
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

EMBER_DECL batch_result statement::batch_arrays(std::span<const params> rows, row_counts counts) {
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

EMBER_DECL batch_result statement::batch_chunk(std::span<const params> rows, std::size_t offset,
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

EMBER_DECL cursor::cursor(cursor&& o) noexcept
    : stmt_(std::exchange(o.stmt_, nullptr)),
      generation_(o.generation_),
      read_(std::move(o.read_)),
      done_(o.done_) {}

EMBER_DECL cursor::cursor(statement& s, std::uint64_t generation, std::size_t columns)
    : stmt_(&s), generation_(generation), read_(columns, false) {}

EMBER_DECL SQLHANDLE cursor::handle() const noexcept { return stmt_->stmt_.get(); }

EMBER_DECL cursor::~cursor() {
  if (stmt_ && stmt_->generation_ == generation_) stmt_->close_cursor();
}

EMBER_DECL bool cursor::next() {
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

EMBER_DECL std::string cursor::column_name(std::size_t col) const {
  if (!stmt_ || col >= read_.size())
    throw std::out_of_range("ember::data::odbc::cursor: no column " + std::to_string(col));
  char name[256] = {};
  SQLSMALLINT len = 0;
  if (!detail::ok(SQLColAttribute(handle(), static_cast<SQLUSMALLINT>(col + 1), SQL_DESC_NAME, name,
                                  sizeof name, &len, nullptr)))
    return "#" + std::to_string(col);
  return name;
}

EMBER_DECL void cursor::claim(std::size_t col) {
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

EMBER_DECL void cursor::null_into_non_optional(std::size_t col) const {
  throw data_error(data_errc::database, "column '" + column_name(col) + "' (" + std::to_string(col) +
                                            ") of \"" + detail::excerpt(stmt_->sql_) +
                                            "\" is NULL; read it as std::optional");
}

EMBER_DECL void cursor::out_of_range(std::size_t col, std::string_view type) const {
  throw data_error(data_errc::database, "column '" + column_name(col) + "' (" + std::to_string(col) +
                                            ") of \"" + detail::excerpt(stmt_->sql_) + "\" does not fit in " +
                                            std::string(type));
}

EMBER_DECL void cursor::fail(std::string_view what) const {
  stmt_->conn_->raise(SQL_HANDLE_STMT, handle(),
                      std::string(what) + " \"" + detail::excerpt(stmt_->sql_) + "\"");
}

EMBER_DECL bool cursor::read_bit(std::size_t col, bool& out) {
  const auto num = static_cast<SQLUSMALLINT>(col + 1);
  SQLLEN ind = 0;
  unsigned char bit = 0;
  if (!detail::ok(SQLGetData(handle(), num, SQL_C_BIT, &bit, 0, &ind))) fail("reading");
  out = bit != 0;
  return ind != SQL_NULL_DATA;
}

EMBER_DECL bool cursor::read_double(std::size_t col, double& out) {
  const auto num = static_cast<SQLUSMALLINT>(col + 1);
  SQLLEN ind = 0;
  double d = 0;
  if (!detail::ok(SQLGetData(handle(), num, SQL_C_DOUBLE, &d, 0, &ind))) fail("reading");
  out = d;
  return ind != SQL_NULL_DATA;
}

EMBER_DECL bool cursor::read_integer(std::size_t col, std::int64_t& out) {
  const auto num = static_cast<SQLUSMALLINT>(col + 1);
  SQLLEN ind = 0;
  SQLBIGINT i = 0;
  if (!detail::ok(SQLGetData(handle(), num, SQL_C_SBIGINT, &i, 0, &ind))) fail("reading");
  out = i;
  return ind != SQL_NULL_DATA;
}

EMBER_DECL bool cursor::read_text(std::size_t col, std::string& out) {
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

EMBER_DECL bool cursor::read_bytes(std::size_t col, bytes& out) {
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
