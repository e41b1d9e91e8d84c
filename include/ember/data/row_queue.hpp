// ember: the transactions of one process that want the same row take turns here, in arrival
// order, instead of each polling the row's lock in memcached. With many writers of one row
// (a guild's bank, a popular player's wallet) the polling kept memcached busy while the
// holder tried to commit. Only an optimisation: the lock in the cache entry is still what
// keeps writers of other processes out (transaction.hpp).
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "ember/separate_compilation.hpp"

namespace ember::data {

class row_queue {
 public:
  /// Waits until no other transaction of this process holds `row`, then holds it. Used from
  /// the store's io thread only.
  asio::awaitable<void> acquire(const std::string& row);
  /// Hands `row` to the next waiter, if any.
  void release(const std::string& row);
  /// Rows held now (tests).
  std::size_t held() const noexcept { return rows_.size(); }

 private:
  struct waiter {
    explicit waiter(const asio::any_io_executor& ex) : wake(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer wake;
    bool granted = false;
  };
  std::unordered_map<std::string, std::deque<std::shared_ptr<waiter>>> rows_;
};

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/row_queue.hpp"
#endif
