// ember: bodies of `odbc::cursor` (ember/data/odbc/cursor.hpp): fetching rows and reading
// columns.
#pragma once

#include "ember/data/odbc/cursor.hpp"

#include <algorithm>
#include <stdexcept>

#include "ember/data/odbc/detail/impl/diagnostics.hpp"
#include "ember/data/odbc/detail/impl/sql.hpp"

namespace ember::data::odbc {

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

template <class T>
bool cursor::read_fixed(std::size_t col, detail::sql_smallint c_type, T& out) {
  SQLLEN ind = 0;
  if (!detail::ok(SQLGetData(handle(), static_cast<SQLUSMALLINT>(col + 1), c_type, &out, 0, &ind)))
    fail("reading");
  return ind != SQL_NULL_DATA;
}

EMBER_DECL bool cursor::read_bit(std::size_t col, bool& out) {
  unsigned char bit = 0;
  const bool got = read_fixed(col, SQL_C_BIT, bit);
  out = bit != 0;
  return got;
}

EMBER_DECL bool cursor::read_double(std::size_t col, double& out) {
  out = 0;
  return read_fixed(col, SQL_C_DOUBLE, out);
}

EMBER_DECL bool cursor::read_integer(std::size_t col, std::int64_t& out) {
  SQLBIGINT i = 0;
  const bool got = read_fixed(col, SQL_C_SBIGINT, i);
  out = i;
  return got;
}

template <class Buffer>
bool cursor::read_chunked(std::size_t col, detail::sql_smallint c_type, std::size_t terminator, Buffer& out) {
  const auto num = static_cast<SQLUSMALLINT>(col + 1);
  out.clear();
  std::size_t have = 0, chunk = 256;  // chunk: buffer bytes offered, the terminator included
  for (;;) {
    out.resize(have + chunk);
    SQLLEN ind = 0;
    const SQLRETURN rc = SQLGetData(handle(), num, c_type, out.data() + have, static_cast<SQLLEN>(chunk), &ind);
    if (rc == SQL_NO_DATA) break;
    if (!detail::ok(rc)) fail("reading");
    if (ind == SQL_NULL_DATA) {
      out.clear();
      return false;
    }
    // ind is what remained before this call (or SQL_NO_TOTAL); it fit if it and the
    // terminator did.
    if (ind != SQL_NO_TOTAL && static_cast<std::size_t>(ind) + terminator <= chunk) {
      have += static_cast<std::size_t>(ind);
      break;
    }
    have += chunk - terminator;
    chunk = ind == SQL_NO_TOTAL ? chunk * 2 : static_cast<std::size_t>(ind) - (chunk - terminator) + terminator;
  }
  out.resize(have);
  return true;
}

EMBER_DECL bool cursor::read_text(std::size_t col, std::string& out) { return read_chunked(col, SQL_C_CHAR, 1, out); }

EMBER_DECL bool cursor::read_bytes(std::size_t col, bytes& out) { return read_chunked(col, SQL_C_BINARY, 0, out); }

}  // namespace ember::data::odbc
