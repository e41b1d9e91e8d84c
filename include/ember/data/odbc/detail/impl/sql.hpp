// ember: <sql.h> and <sqlext.h> for the bodies of the ODBC wrappers (only they include it), with
// checks that the types the public headers name without it match.
#pragma once

#include <sql.h>
#include <sqlext.h>
// unixODBC's sqltypes.h makes BOOL a macro (`int`), which breaks any header included later
// that names something BOOL (simdjson's element_type::BOOL). Nothing here uses it.
#ifdef BOOL
#undef BOOL
#endif

#include <type_traits>

#include "ember/data/odbc/detail/handle.hpp"

namespace ember::data::odbc {

static_assert(std::is_same_v<detail::sql_handle, SQLHANDLE> && std::is_same_v<detail::sql_smallint, SQLSMALLINT> &&
                  std::is_same_v<detail::sql_return, SQLRETURN>,
              "odbc.hpp names ODBC's types without <sql.h>: they must match");
static_assert(detail::handle_env == SQL_HANDLE_ENV && detail::handle_dbc == SQL_HANDLE_DBC &&
              detail::handle_stmt == SQL_HANDLE_STMT);
static_assert(std::is_same_v<SQLUSMALLINT, unsigned short>, "statement.hpp names SQLUSMALLINT unsigned short");

namespace detail {

inline bool ok(SQLRETURN rc) noexcept { return rc == SQL_SUCCESS || rc == SQL_SUCCESS_WITH_INFO; }

}  // namespace detail

}  // namespace ember::data::odbc
