// ember: what keeps an acknowledged change from being lost when memcached restarts while
// another process holds it unwritten.
//
// A change is acknowledged once it is in memcached and in its process's journal; it reaches
// the database later. If memcached restarts meanwhile, the cached row is gone and the
// database holds an older one: a process that loaded that older row and changed it would
// build on a lost version. So:
//
// - Every memcached server holds a sentinel, `ember:epoch`, whose value is the time (Unix
//   ms) it was first seen missing. A restart empties the server and the sentinel with it;
//   whoever notices first sets a new one.
// - Every writer (a store) publishes in the database table `ember_writers` a truthful mark,
//   `clean_before`: every change it acknowledged before that time is in the database. It
//   publishes after write-back and, having written back everything at once, as soon as it
//   sees a server's epoch change (checked every sync tick, 100 ms by default).
// - Before a process loads a row from the database on a miss (a row it has not changed
//   itself), it reads the epoch of the row's server; until every other writer's mark has
//   reached that epoch, it waits (up to `fence_timeout`, then `writers_behind`). Once an
//   epoch has passed, later misses cost one memcached round trip for the sentinel.
// - Eviction would lose rows the same way, without a sentinel to tell: the store refuses a
//   memcached that evicts (it must run with `-M -o slab_automove=0`) unless told otherwise.
//
// A writer that died with unwritten changes (kill -9) blocks loads from a restarted memcached
// until it runs again and its journal is written back: waiting is safe, loading is not. A
// writer retired for good is removed from `ember_writers` by hand (the error names it).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/separate_compilation.hpp"

namespace ember::data {

class database;
class memcache;
class memcache_conn;
namespace odbc {
class connection;
}  // namespace odbc

/// The restart sentinels of a memcached cluster and the writers' marks in the database.
class restart_fence {
 public:
  static constexpr std::string_view sentinel = "ember:epoch";

  restart_fence(memcache& cache, database& db, std::string writer, std::chrono::milliseconds timeout);

  const std::string& writer() const noexcept { return writer_; }
  /// How many `pass`es had to wait for other writers to write back.
  std::uint64_t waits() const noexcept { return waits_; }

  /// Refuses a memcached server that may evict (unless `allowed`): eviction loses cached
  /// changes without a trace.
  asio::awaitable<void> check_no_eviction(bool allowed);

  /// Creates `ember_writers` and registers this writer with mark 0 (nothing known yet).
  asio::awaitable<void> open();

  /// Publishes `clean_before` (a truthful mark; any order of publications is safe).
  asio::awaitable<void> publish(std::uint64_t clean_before);

  /// This writer stops with nothing unwritten: it no longer holds back anyone.
  asio::awaitable<void> retire();

  /// Reads every server's epoch (setting those missing); true if one changed since the last
  /// call, i.e. a server restarted and this writer must write back everything now.
  asio::awaitable<bool> epochs_changed();

  /// Before row `mkey` (a memcached key) is loaded from the database: returns the epoch of its
  /// server once every other writer has written back what it acknowledged before that epoch.
  asio::awaitable<std::string> pass(std::string mkey);

  /// Returns once every other writer has written back what it acknowledged before `since`
  /// (Unix ms): a process that takes over another's rows (a leaderboard's board after its
  /// owner died) reads the database only then. A writer killed with unwritten changes holds
  /// this until it runs again and its journal is written back; after the timeout,
  /// `writers_behind`, its message starting with `why`.
  asio::awaitable<void> caught_up(std::uint64_t since, std::string why);

  /// After a loaded row was added to memcached: false if the row's server restarted since
  /// `pass` (the row may be stale and must be dropped and loaded again).
  asio::awaitable<bool> still(std::string mkey, std::string epoch);

 private:
  // Waits until no other writer's mark is below `since` (see `caught_up`).
  asio::awaitable<void> wait_for_writers(std::uint64_t since, std::string why);
  static void upsert(odbc::connection& c, const std::string& writer, std::uint64_t clean_before);

  // The epoch of the server holding `group`, set to now if it has none (a fresh server).
  static std::string epoch_on(memcache_conn& c, std::string_view group);

  memcache& cache_;
  database& db_;
  std::string writer_;
  std::chrono::milliseconds timeout_;
  std::set<std::string> passed_;   // epochs whose writers have caught up
  std::vector<std::string> seen_;  // each server's epoch at the last check
  std::optional<std::uint64_t> published_;
  std::uint64_t waits_ = 0;
};

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/restart_fence.hpp"
#endif
