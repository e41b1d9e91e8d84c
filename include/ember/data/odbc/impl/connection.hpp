// ember: bodies of `odbc::connection` (ember/data/odbc/connection.hpp): connecting, classifying
// failures, transactions and the statement cache.
#pragma once

#include "ember/data/odbc/connection.hpp"

#include <cctype>
#include <cstdint>
#include <mutex>
#include <stdexcept>

#include "ember/data/odbc/detail/impl/connection_string.hpp"
#include "ember/data/odbc/detail/impl/diagnostics.hpp"
#include "ember/data/odbc/detail/impl/sql.hpp"

namespace ember::data::odbc {

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
  SQLRETURN rc = SQL_ERROR;
  {
    // One connect at a time in the process: psqlODBC's SQLDriverConnect calls setlocale(),
    // which is not thread-safe, and two pool workers connecting at once made it read a locale
    // name the other had freed (found by AddressSanitizer). Connects are rare (pool start,
    // a replaced connection), so the wait costs nothing that matters.
    static std::mutex connecting;
    const std::lock_guard<std::mutex> one_at_a_time(connecting);
    rc = SQLDriverConnect(dbc_.get(), nullptr, reinterpret_cast<SQLCHAR*>(const_cast<char*>(cs.c_str())),
                          SQL_NTS, nullptr, 0, nullptr, SQL_DRIVER_NOPROMPT);
  }
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

}  // namespace ember::data::odbc
