// ember: bodies of the owned ODBC handles (ember/data/odbc/detail/handle.hpp).
#pragma once

#include "ember/data/odbc/detail/handle.hpp"
#include "ember/data/odbc/detail/impl/sql.hpp"

namespace ember::data::odbc {

namespace detail {

EMBER_DECL bool allocate_handle(sql_smallint type, sql_handle parent, sql_handle& out) noexcept {
  return ok(SQLAllocHandle(type, parent, &out));
}

EMBER_DECL void free_handle(sql_smallint type, sql_handle h) noexcept { SQLFreeHandle(type, h); }

}  // namespace detail

}  // namespace ember::data::odbc
