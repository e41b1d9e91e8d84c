// ember: bodies of `odbc::statement` (ember/data/odbc/statement.hpp) for one execution:
// preparing, binding, executing and querying.
#pragma once

#include "ember/data/odbc/statement.hpp"

#include <algorithm>
#include <stdexcept>

#include "ember/data/odbc/detail/impl/binding.hpp"
#include "ember/data/odbc/detail/impl/diagnostics.hpp"
#include "ember/data/odbc/detail/impl/sql.hpp"

namespace ember::data::odbc {

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

EMBER_DECL void statement::bind(std::span<const value> p, detail::single_binding& b) {
  b.indicators.assign(p.size(), 0);
  b.bits.assign(p.size(), 0);
  SQLFreeStmt(stmt_.get(), SQL_RESET_PARAMS);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (!detail::ok(detail::bind_parameter(stmt_.get(), i + 1, detail::single_parameter(p[i], i, b))))
      conn_->raise(SQL_HANDLE_STMT, stmt_.get(),
                   "binding parameter " + std::to_string(i + 1) + " of \"" + detail::excerpt(sql_) + "\"");
  }
}

EMBER_DECL std::optional<detail::failure> statement::try_run(std::span<const value> p, std::string_view what,
                                                         SQLRETURN& rc) {
  check_width(p);
  close_cursor();
  detail::single_binding b;
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

}  // namespace ember::data::odbc
