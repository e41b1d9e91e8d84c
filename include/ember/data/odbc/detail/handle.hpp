// ember: ODBC handles owned by the wrappers (freed when destroyed), the ODBC types the public
// headers name without <sql.h>, and a failed call as the wrappers classify it.
#pragma once

#include <string>
#include <utility>

#include "ember/data/error.hpp"
#include "ember/separate_compilation.hpp"

namespace ember::data::odbc {

namespace detail {

// The ODBC types this header names, without <sql.h> (unixODBC's; detail/impl/sql.hpp checks them).
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

}  // namespace detail

}  // namespace ember::data::odbc

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/odbc/detail/impl/handle.hpp"
#endif
