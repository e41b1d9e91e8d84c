// ember: errors of the data layer (database, memcached, table caches).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "ember/separate_compilation.hpp"

namespace ember::data {

/// What went wrong in the data layer: `std::error_code` values of `data_category()`, carried by
/// `data_error`. The transient ones (memcached or the database unreachable for a moment,
/// contention, writers behind) compare equal to `std::errc::resource_unavailable_try_again`:
/// a request that fails with one is answered "unavailable, retry" rather than "internal error";
/// they are raised only when nothing of the change was stored. `outcome_unknown` says a part was.
enum class data_errc {
  database = 1,       ///< the database driver reported an error (see sqlstate and message)
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
  /// A change failed after part of it was made durable — stored into memcached and the
  /// journal, or committed to the database — or was sent to memcached, which did not answer:
  /// it may have been applied, and is written back if it was. Compares equal to
  /// `ember::outcome_unknown_condition()`; a request that fails with it is answered "outcome
  /// unknown" (repeat it only with its operation id).
  outcome_unknown,
};

/// The kind's name for messages, e.g. "memcached unavailable".
EMBER_DECL const char* to_string(data_errc e) noexcept;

/// The category of `data_errc` ("ember.data").
EMBER_DECL const std::error_category& data_category() noexcept;
/// Makes `data_errc` values usable as `std::error_code`.
inline std::error_code make_error_code(data_errc e) noexcept {
  return {static_cast<int>(e), data_category()};
}

/// A failure of the data layer, thrown by its coroutines (as Asio's `use_awaitable` throws
/// `std::system_error`): `code()` is a `data_errc`; `what()` is a full sentence for logs: the
/// kind, the SQLSTATE when a database reported it, and the driver's or server's message.
class data_error : public std::system_error {
 public:
  data_error(data_errc code, const std::string& message, std::string sqlstate = {});
  const char* what() const noexcept override { return what_.c_str(); }
  /// The five-character SQLSTATE for database errors, else empty.
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  /// The message without the kind: what the driver or server said, and where.
  std::string_view detail() const noexcept { return std::string_view(what_).substr(detail_at_); }

 private:
  std::string sqlstate_;
  std::string what_;
  std::size_t detail_at_;  // where the message starts in what_
};

}  // namespace ember::data

template <>
struct std::is_error_code_enum<ember::data::data_errc> : std::true_type {};

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/error.hpp"
#endif
