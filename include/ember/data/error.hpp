// ember: errors of the data layer (database, memcached, table caches).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include "ember/separate_compilation.hpp"

namespace ember::data {

/// What went wrong in the data layer; carried by `data_error`.
enum class data_errc {
  database,           ///< the database driver reported an error (see sqlstate and message)
  constraint,         ///< a row violates a constraint (SQLSTATE class 23)
  connection_lost,    ///< the database connection broke (SQLSTATE class 08); it is replaced
  cache_unavailable,  ///< memcached did not answer (down, unreachable, timed out)
  cache_error,        ///< memcached refused an operation (e.g. value too large, out of memory)
  contention,         ///< a compare-and-swap update lost every one of its retries
  not_found,          ///< the row to change does not exist
  journal,            ///< the journal could not be written or read
  /// memcached restarted and another writer has not yet written back what it acknowledged
  /// before: the row cannot be loaded safely yet (retry; restart_fence.hpp)
  writers_behind,
};

/// The kind's name for messages, e.g. "memcached unavailable".
EMBER_DECL const char* to_string(data_errc e) noexcept;

/// A failure of the data layer. `what()` is a full sentence for logs: the kind, the driver's or
/// server's message, and the SQLSTATE when a database reported it.
class data_error : public std::runtime_error {
 public:
  data_error(data_errc code, const std::string& message, std::string sqlstate = {});
  data_errc code() const noexcept { return code_; }
  /// The five-character SQLSTATE for database errors, else empty.
  const std::string& sqlstate() const noexcept { return sqlstate_; }

 private:
  data_errc code_;
  std::string sqlstate_;
};

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/error.hpp"
#endif
