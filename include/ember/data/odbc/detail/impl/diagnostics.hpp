// ember: what an ODBC failure says — the diagnostic records of a handle, and SQL text cut to an
// excerpt for error messages.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ember/data/odbc/detail/impl/sql.hpp"

namespace ember::data::odbc {

namespace detail {

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

/// SQL text for error messages: one line, at most ~160 characters.
inline std::string excerpt(std::string_view sql) {
  std::string s(sql.substr(0, 160));
  for (auto& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (sql.size() > 160) s += "...";
  return s;
}

}  // namespace detail

}  // namespace ember::data::odbc
